// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS, type Limits } from '../src/attachments';
import { AttachButton, TrayView, filesFromPaste, hasFiles, limitText, useTray, type Tray } from '../src/composer';
import { Controller } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { conv, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const MB = 1024 * 1024;
let root: HTMLElement;
beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
  vi.useRealTimers();
});

/** A clipboard / drag payload as the browser hands it over. */
function transfer(files: File[], extraTypes: string[] = []) {
  return {
    types: [...extraTypes, ...(files.length ? ['Files'] : [])],
    files,
    items: files.map((f) => ({ kind: 'file', type: f.type, getAsFile: () => f })),
  } as unknown as DataTransfer;
}

function sized(name: string, size: number, type = 'application/octet-stream'): File {
  const f = new File(['x'], name, { type });
  Object.defineProperty(f, 'size', { value: size });
  return f;
}

let tray: Tray;
function Harness({ limits, channel }: { limits: Limits; channel: string }) {
  tray = useTray(limits, channel, 'Telegram', t);
  return (
    <>
      <TrayView tray={tray} t={t} />
      <AttachButton t={t} disabled={false} onFiles={tray.add} hint={limitText(limits, channel, 'Telegram', t)} />
    </>
  );
}
const mount = (limits: Limits = DEFAULT_LIMITS, channel = 'telegram') => act(() => render(<Harness limits={limits} channel={channel} />, root));
const names = () => Array.from(root.querySelectorAll('[data-testid="tray-file"]')).map((e) => e.getAttribute('data-name'));

describe('the limit before any upload', () => {
  it('reads "Up to 50 MB per file on Telegram · 10 files"', () => {
    expect(limitText(DEFAULT_LIMITS, 'telegram', 'Telegram', t)).toBe('Up to 50 MB per file on Telegram · 10 files');
    expect(limitText({ maxFiles: 3, channels: { web: { maxBytes: 20 * MB } } }, 'web', 'Website', t)).toBe('Up to 20 MB per file on Website · 3 files');
  });
});

describe('pasting', () => {
  it('a screenshot from the clipboard becomes screenshot-<time>.png with the same bytes', async () => {
    const shot = new File([new Uint8Array([137, 80, 78, 71, 1, 2, 3])], 'image.png', { type: 'image/png' });
    const [f] = filesFromPaste(transfer([shot]), new Date(2026, 4, 6, 7, 8, 9));
    expect(f.name).toBe('screenshot-20260506-070809.png');
    expect(f.type).toBe('image/png');
    expect(new Uint8Array(await f.arrayBuffer())).toEqual(new Uint8Array([137, 80, 78, 71, 1, 2, 3]));
  });

  it('plain text on the clipboard brings no files', () => {
    expect(filesFromPaste({ types: ['text/plain'], files: [], items: [{ kind: 'string', type: 'text/plain', getAsFile: () => null }] } as unknown as DataTransfer)).toEqual([]);
    expect(filesFromPaste(null)).toEqual([]);
  });

  it('a drag with files is recognised; a drag of text is not', () => {
    expect(hasFiles(transfer([new File(['x'], 'a.txt')]))).toBe(true);
    expect(hasFiles(transfer([], ['text/plain']))).toBe(false);
  });
});

describe('the tray', () => {
  it('lists picked files with size and a preview for images, and removes one', () => {
    const url = vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:preview-1');
    const revoke = vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => {});
    mount();
    const input = root.querySelector('[data-testid="file-input"]') as HTMLInputElement;
    expect(input.multiple).toBe(true);
    act(() => tray.add([new File(['%PDF-1'], 'a.pdf', { type: 'application/pdf' }), new File(['png'], 'b.png', { type: 'image/png' })]));
    expect(names()).toEqual(['a.pdf', 'b.png']);
    expect(root.querySelector('[data-name="b.png"] img')!.getAttribute('src')).toBe('blob:preview-1');
    expect(root.querySelector('[data-name="a.pdf"] img')).toBeNull();
    expect(root.querySelector('[data-name="a.pdf"]')!.textContent).toContain('6 B');
    act(() => (root.querySelector('[data-name="b.png"] [data-testid="tray-remove"]') as HTMLElement).click());
    expect(names()).toEqual(['a.pdf']);
    expect(revoke).toHaveBeenCalledWith('blob:preview-1');
    url.mockRestore();
    revoke.mockRestore();
  });

  it('refuses a file over the channel limit before any upload, with the reason', () => {
    mount();
    act(() => tray.add([sized('huge.iso', 60 * MB), sized('ok.zip', 1 * MB)]));
    expect(names()).toEqual(['ok.zip']);
    expect(root.querySelector('[data-testid="tray-error"]')!.textContent).toBe('“huge.iso” is 60 MB: over the 50 MB limit on Telegram.');
  });

  it('refuses files past the count limit', () => {
    mount({ maxFiles: 2, channels: { telegram: { maxBytes: 50 * MB } } });
    act(() => tray.add([sized('1', 1), sized('2', 1)]));
    act(() => tray.add([sized('3', 1)]));
    expect(names()).toEqual(['1', '2']);
    expect(root.querySelector('[data-testid="tray-error"]')!.textContent).toBe('At most 2 files per message.');
  });

  it('the picker adds what was chosen', () => {
    mount();
    const input = root.querySelector('[data-testid="file-input"]') as HTMLInputElement;
    Object.defineProperty(input, 'files', { value: [new File(['x'], 'picked.txt', { type: 'text/plain' })], configurable: true });
    act(() => void input.dispatchEvent(new Event('change')));
    expect(names()).toEqual(['picked.txt']);
  });
});

describe('the controller with files', () => {
  function controller() {
    sessionStorage.clear();
    localStorage.clear();
    const c = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 't', agent: { id: 'ag_me', email: 'a@x', name: 'A', status: 'online' } }, { onLoggedOut: () => {} });
    c.link = 'open';
    return c;
  }

  it('sends text and files through the outbox with upload progress, then forgets the progress', async () => {
    const c = controller();
    let progress: ((s: number, t: number) => void) | undefined;
    let finish!: () => void;
    const sent: unknown[] = [];
    vi.spyOn(c.api, 'sendReply').mockImplementation(async (id, text, clientId, files, onProgress) => {
      sent.push([id, text, clientId, files?.map((f) => f.name)]);
      progress = onProgress;
      await new Promise<void>((r) => (finish = r));
      return { ok: true, message: msg('m1', id, { direction: 'outbound' }) };
    });
    const p = c.send('cv_1', '  here  ', [new File(['x'], 'a.png', { type: 'image/png' })])!;
    await vi.waitFor(() => expect(progress).toBeDefined());
    expect(sent).toEqual([['cv_1', 'here', p.clientId, ['a.png']]]);
    progress!(50, 100);
    expect(c.progress[p.clientId]).toBe(0.5);
    finish();
    await vi.waitFor(() => expect(c.outbox.all()).toEqual([]));
    expect(c.progress).toEqual({});
  });

  it('files alone (no text) are a reply; nothing at all is not', () => {
    const c = controller();
    vi.spyOn(c.api, 'sendReply').mockResolvedValue({ ok: false, retry: true });
    expect(c.send('cv_1', '   ')).toBeNull();
    expect(c.send('cv_1', '', [new File(['x'], 'a.txt')])).not.toBeNull();
  });

  it('an event bringing a stored file without a link re-reads the page once per revision', async () => {
    vi.useFakeTimers();
    const c = controller();
    c.openId = 'cv_1';
    const stored = msg('m1', 'cv_1', { attachments: [{ kind: 'image', reference: 'tg-file:A', blob: 'sha256/a' }], revision: 1 });
    const reads = vi.spyOn(c.api, 'messages').mockResolvedValue({ items: [{ ...stored, attachments: [{ ...stored.attachments[0], url: '/files/a?sig=1' }] }], next_cursor: null });
    (c as unknown as { state: typeof c.state }).state = { ...c.state, messages: { cv_1: [msg('m1', 'cv_1', { attachments: [{ kind: 'image', reference: 'tg-file:A' }] })] } };
    const onEvent = (c as unknown as { onEvent: (e: unknown) => void }).onEvent.bind(c);
    onEvent({ type: 'message.updated', conversation_id: 'cv_1', message: stored });
    onEvent({ type: 'message.updated', conversation_id: 'cv_1', message: stored });
    await vi.advanceTimersByTimeAsync(300);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(c.state.messages.cv_1[0].attachments[0].url).toBe('/files/a?sig=1');
    // The same revision again (say, a duplicate event): links kept, no new read.
    onEvent({ type: 'message.updated', conversation_id: 'cv_1', message: stored });
    await vi.advanceTimersByTimeAsync(300);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(c.state.messages.cv_1[0].attachments[0].url).toBe('/files/a?sig=1');
    void conv;
  });

  it('an expired link (image error) re-reads the page, at most every 10 s', async () => {
    const c = controller();
    const reads = vi.spyOn(c.api, 'messages').mockResolvedValue({ items: [], next_cursor: null });
    c.refreshLinks('cv_1', 100_000); // every broken image of the page reports at once
    c.refreshLinks('cv_1', 100_001);
    await vi.waitFor(() => expect(reads).toHaveBeenCalledTimes(1));
    c.refreshLinks('cv_1', 105_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(reads).toHaveBeenCalledTimes(1);
    c.refreshLinks('cv_1', 111_000);
    await vi.waitFor(() => expect(reads).toHaveBeenCalledTimes(2));
  });

  it('reads the limits, keeping the defaults when the server has none', async () => {
    const c = controller();
    vi.spyOn(c.api, 'limits').mockResolvedValueOnce({ max_files: 4, channels: { telegram: { max_bytes: 1000 } } });
    await c.loadLimits();
    expect(c.limits.maxFiles).toBe(4);
    expect(c.limits.channels.telegram.maxBytes).toBe(1000);
    const d = controller();
    vi.spyOn(d.api, 'limits').mockRejectedValueOnce(new Error('404'));
    await d.loadLimits();
    expect(d.limits).toEqual(DEFAULT_LIMITS);
  });
});
