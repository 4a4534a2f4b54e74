import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outboxKey, type LoaderContext } from '../src/common';
import { Controller, MAX_FILES } from '../src/panel/controller';
import { translator } from '../src/panel/i18n';
import { describe as describeAttachment, fileUrl, mountPanel, renderAttachments, renderItem } from '../src/panel/ui';
import { FakeServer, FakeSocket, MemStorage, flush, msg } from './fake';

const t = translator('en');
const png = (name = 'shot.png', bytes = [137, 80, 78, 71, 13, 10]) => new File([new Uint8Array(bytes)], name, { type: 'image/png' });
function big(name: string, size: number, type = 'application/pdf') {
  const f = new File(['x'], name, { type });
  Object.defineProperty(f, 'size', { value: size });
  return f;
}

function setup(server = new FakeServer()) {
  const storage = new MemStorage();
  const c = new Controller({
    base: 'http://chat.test',
    websiteId: 'ws_1',
    storage: storage as unknown as Storage,
    fetch: server.fetch as typeof fetch,
    createSocket: (url) => new FakeSocket(url),
    random: () => 0,
  });
  return { c, server, storage };
}

beforeEach(() => {
  FakeSocket.all = [];
});
afterEach(() => {
  document.body.replaceChildren();
  localStorage.clear();
});

describe('links to files', () => {
  it('a path on the API is resolved against the API base (data-api or the script origin)', () => {
    expect(fileUrl('/files/k?exp=1&sig=s', 'https://chat.shop.example')).toBe('https://chat.shop.example/files/k?exp=1&sig=s');
    expect(fileUrl('https://cdn.example/f', 'https://chat.shop.example')).toBe('https://cdn.example/f');
  });
  it('anything else is never followed', () => {
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', '//evil.example/f', '/\\evil.example', 'files/k', '', null]) expect(fileUrl(bad, 'https://a.example')).toBeNull();
  });
});

describe('attachments in the transcript', () => {
  it('an image shows inline and opens in a new tab; a file is a download link with its size; the rest one line each', () => {
    const el = renderAttachments(
      [
        { kind: 'image', file_name: 'photo.png', url: '/files/a?sig=1' },
        { kind: 'file', file_name: 'invoice.pdf', size_bytes: 248_123, url: '/files/b?sig=1' },
        { kind: 'location', latitude: 52.52, longitude: 13.405, title: 'Cafe' },
        { kind: 'contact', title: 'Max', phone: '+49 30 1' },
        { kind: 'poll', title: 'Which colour?' },
        { kind: 'voice', duration_secs: 7 },
      ],
      t,
      'https://chat.test',
    )!;
    const img = el.querySelector('a.od-img img')!;
    expect(img.getAttribute('src')).toBe('https://chat.test/files/a?sig=1');
    const imgLink = el.querySelector('a.od-img')!;
    expect(imgLink.getAttribute('target')).toBe('_blank');
    expect(imgLink.getAttribute('rel')).toBe('noopener noreferrer');
    const file = el.querySelector('[data-omnidesk-attachment=file]')!;
    expect(file.getAttribute('href')).toBe('https://chat.test/files/b?sig=1');
    expect(file.getAttribute('download')).toBe('invoice.pdf');
    expect(file.getAttribute('target')).toBeNull();
    expect(file.textContent).toContain('invoice.pdf');
    expect(file.textContent).toContain('243 KB');
    expect(el.querySelector('[data-omnidesk-attachment=location]')!.textContent).toBe('Location: Cafe 52.520000, 13.405000');
    expect(el.querySelector('[data-omnidesk-attachment=contact]')!.textContent).toBe('Contact: Max +49 30 1');
    expect(el.querySelector('[data-omnidesk-attachment=poll]')!.textContent).toBe('Poll: Which colour?');
    expect(el.querySelector('[data-omnidesk-attachment=voice]')!.textContent).toBe('Voice message');
  });

  it('one-line descriptions for dice and stickers', () => {
    expect(describeAttachment({ kind: 'dice', emoji: 'D', value: 5 }, t)).toBe('D 5');
    expect(describeAttachment({ kind: 'sticker', emoji: ':)' }, t)).toBe('Sticker: :)');
    expect(describeAttachment({ kind: 'hologram' }, t)).toBe('File');
  });

  it('markup in a file name stays text; a javascript: link is not followed', () => {
    const XSS = '<img src=x onerror="window.__xss=1">';
    const el = renderAttachments([{ kind: 'file', file_name: XSS, url: 'javascript:alert(1)' }, { kind: 'image', file_name: XSS, url: 'data:image/png,x' }], t, 'https://chat.test')!;
    expect(el.querySelector('img,a')).toBeNull();
    expect(el.textContent).toContain(XSS);
  });

  it('a message of files only has no empty bubble', () => {
    const el = renderItem({ kind: 'message', message: msg({ id: 'm1', text: '', attachments: [{ kind: 'image', url: '/files/a' }] }) }, t, 'en', { retry() {}, discard() {} }, 'http://chat.test');
    expect(el.querySelector('.od-bubble')).toBeNull();
    expect(el.querySelector('img')!.getAttribute('src')).toBe('http://chat.test/files/a');
  });
});

describe('uploading', () => {
  it('a picked file is uploaded as multipart, then sent by id with the message; history shows it with its link', async () => {
    const { c, server } = setup();
    await c.start();
    c.attach([png()]);
    expect(c.state.uploads.map((u) => u.state)).toEqual(['uploading']);
    await flush();
    const [id, stored] = [...server.files.entries()][0];
    expect(stored.name).toBe('shot.png');
    expect([...stored.bytes]).toEqual([137, 80, 78, 71, 13, 10]);
    expect(c.state.uploads[0]).toMatchObject({ state: 'done', id });
    expect(c.send('')).toBe('ok');
    expect(c.state.uploads).toEqual([]);
    await flush();
    expect(server.posts[0]).toMatchObject({ text: '', attachments: [id] });
    expect(c.state.pending).toEqual([]);
    expect(c.state.messages[0].attachments![0]).toMatchObject({ kind: 'image', url: `/files/${id}?exp=1&sig=s` });
  });

  it('an upload after a reload still goes by id: the outbox keeps the ids', async () => {
    const server = new FakeServer();
    const { c, storage } = setup(server);
    await c.start();
    c.attach([png()]);
    await flush();
    server.down = true;
    c.send('with a picture');
    await flush();
    const saved = JSON.parse(storage.getItem(outboxKey('ws_1'))!);
    expect(saved[0].files[0].id).toMatch(/^fl_/);
  });

  it('a file over the limit is refused before any upload; the server refusing one shows why', async () => {
    const server = new FakeServer();
    server.maxFileBytes = 1000;
    const { c } = setup(server);
    await c.start();
    c.attach([big('huge.pdf', 21 * 1024 * 1024), new File([new Uint8Array(5000)], 'medium.pdf', { type: 'application/pdf' }), big('setup.exe', 10, 'application/x-msdownload')]);
    await flush();
    expect(c.state.uploads.map((u) => [u.name, u.state, u.error])).toEqual([
      ['huge.pdf', 'failed', 'fileTooBig'],
      ['medium.pdf', 'failed', 'fileTooBig'],
      ['setup.exe', 'failed', 'fileType'],
    ]);
    expect(server.files.size).toBe(0); // huge.pdf never left the page; the others were refused by the server
    expect(c.send('')).toBe('empty');
  });

  it('at most MAX_FILES per message', async () => {
    const { c } = setup();
    await c.start();
    expect(c.attach(Array.from({ length: MAX_FILES + 2 }, (_, i) => png(`${i}.png`)))).toBe('too_many');
    expect(c.state.uploads).toHaveLength(MAX_FILES);
  });

  it('sending waits for uploads to finish; a removed file is not sent', async () => {
    const { c, server } = setup();
    await c.start();
    c.attach([png('a.png'), png('b.png')]);
    expect(c.send('hi')).toBe('uploading');
    await flush();
    c.removeUpload(c.state.uploads[0].key);
    expect(c.send('hi')).toBe('ok');
    await flush();
    expect(server.posts[0].attachments).toHaveLength(1);
    expect(server.files.get(server.posts[0].attachments![0])!.name).toBe('b.png');
  });
});

describe('the panel with files', () => {
  async function mounted() {
    const host = document.createElement('div');
    document.body.appendChild(host);
    const shadow = host.attachShadow({ mode: 'open' });
    const root = document.createElement('div');
    const launcher = document.createElement('button');
    root.appendChild(launcher);
    shadow.appendChild(root);
    const ctx: LoaderContext = { base: 'http://chat.test', api: 'http://api.chat.test', ws: 'ws://chat.test/ws', websiteId: 'ws_1', lang: 'en', shadow, root, launcher, setBadge: () => {}, background: false, user: null };
    const server = new FakeServer();
    const c = new Controller({ base: ctx.api, websiteId: 'ws_1', storage: new MemStorage() as unknown as Storage, fetch: server.fetch as typeof fetch, createSocket: (u) => new FakeSocket(u) });
    const handle = mountPanel(ctx, c, translator('en'));
    await c.start();
    await flush();
    handle.open();
    return { shadow, c, server };
  }

  it('paperclip + picker: a chip with the name, then the message shows the picture from the API origin', async () => {
    const { shadow, server } = await mounted();
    const clip = shadow.querySelector('[data-omnidesk-attach]') as HTMLButtonElement;
    expect(clip.getAttribute('aria-label')).toBe('Attach a file');
    const input = shadow.querySelector('[data-omnidesk-file-input]') as HTMLInputElement;
    expect(input.multiple).toBe(true);
    Object.defineProperty(input, 'files', { value: [png('box.png')], configurable: true });
    input.dispatchEvent(new Event('change'));
    const chip = shadow.querySelector('[data-omnidesk-upload]')!;
    expect(chip.textContent).toContain('box.png');
    await flush();
    expect(shadow.querySelector('[data-omnidesk-upload]')!.getAttribute('data-omnidesk-upload')).toBe('done');
    (shadow.querySelector('form.od-compose') as HTMLFormElement).dispatchEvent(new Event('submit', { cancelable: true }));
    await flush();
    expect(server.posts).toHaveLength(1);
    expect(shadow.querySelector('[data-omnidesk-upload]')).toBeNull();
    const img = shadow.querySelector('[data-omnidesk-message][data-direction=inbound] img')!;
    expect(img.getAttribute('src')).toMatch(/^http:\/\/api\.chat\.test\/files\/fl_/);
  });

  it('a pasted image and a dropped file are attached; the remove button takes one away', async () => {
    const { shadow, c } = await mounted();
    const composer = shadow.querySelector('[data-omnidesk-composer]') as HTMLTextAreaElement;
    const paste = new Event('paste', { bubbles: true, cancelable: true }) as ClipboardEvent;
    Object.defineProperty(paste, 'clipboardData', { value: { files: [png('image.png')], types: ['Files'] } });
    composer.dispatchEvent(paste);
    expect(paste.defaultPrevented).toBe(true);
    const panel = shadow.querySelector('[data-omnidesk-panel]')!;
    const drop = new Event('drop', { bubbles: true, cancelable: true }) as DragEvent;
    Object.defineProperty(drop, 'dataTransfer', { value: { files: [big('doc.pdf', 10)], types: ['Files'] } });
    panel.dispatchEvent(drop);
    // Text pasted from an office app with a picture of itself: the text goes in, no file.
    const textPaste = new Event('paste', { bubbles: true, cancelable: true }) as ClipboardEvent;
    Object.defineProperty(textPaste, 'clipboardData', { value: { files: [png('rendering.png')], types: ['text/plain', 'Files'] } });
    composer.dispatchEvent(textPaste);
    expect(textPaste.defaultPrevented).toBe(false);
    expect(c.state.uploads.map((u) => u.name)).toEqual(['image.png', 'doc.pdf']);
    await flush();
    (shadow.querySelector('[data-omnidesk-upload] button') as HTMLButtonElement).click();
    expect(c.state.uploads.map((u) => u.name)).toEqual(['doc.pdf']);
  });

  it('a refused file shows its reason in the chip', async () => {
    const { shadow, c } = await mounted();
    c.attach([big('huge.pdf', 21 * 1024 * 1024)]);
    await flush();
    const chip = shadow.querySelector('[data-omnidesk-upload=failed]')!;
    expect(chip.textContent).toContain('Too large (up to 20 MB)');
  });
});
