import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_LIMITS, checkFiles, coords, duration, fileHref, humanSize, isFetching, mapUrl, needLinks, parseLimits, pastedName, replyForm, wantsLink,
} from '../src/attachments';
import { Api, ApiError } from '../src/api';
import { FILES_LOST, Outbox, type Pending } from '../src/outbox';
import { mergeMessages, isNewer, keepLinks } from '../src/state';
import type { Attachment } from '../src/types';
import { MemoryStorage, msg } from './fixtures';

const MB = 1024 * 1024;
const img = (patch: Partial<Attachment> = {}): Attachment => ({ kind: 'image', reference: 'tg-file:AAA', mime_type: 'image/jpeg', ...patch });

describe('what the cards say', () => {
  it('sizes read in binary units, one decimal below ten', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1536)).toBe('1.5 KB');
    expect(humanSize(248_123)).toBe('242 KB');
    expect(humanSize(50 * MB)).toBe('50 MB');
    expect(humanSize(null)).toBe('');
    expect(humanSize(-1)).toBe('');
  });

  it('durations read as m:ss or h:mm:ss', () => {
    expect(duration(7)).toBe('0:07');
    expect(duration(723)).toBe('12:03');
    expect(duration(3723)).toBe('1:02:03');
    expect(duration(undefined)).toBe('');
  });

  it('a place links to OpenStreetMap and reads as coordinates', () => {
    expect(mapUrl(52.52, 13.405)).toBe('https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000#map=17/52.520000/13.405000');
    expect(coords(-33.8688, 151.2093)).toBe('-33.868800, 151.209300');
  });
});

describe('file links', () => {
  it('a path on the API is resolved against its base; absolute http(s) links stay', () => {
    expect(fileHref('/files/ab?exp=1&sig=x', '')).toBe('/files/ab?exp=1&sig=x');
    expect(fileHref('/files/ab?exp=1&sig=x', 'https://api.example.com')).toBe('https://api.example.com/files/ab?exp=1&sig=x');
    expect(fileHref('https://cdn.example.com/f/1', '')).toBe('https://cdn.example.com/f/1');
  });

  it('anything else is never followed', () => {
    for (const bad of ['javascript:alert(1)', 'data:text/html,<script>x</script>', '//evil.example/f', '/\\evil.example', 'tg-file:AAA', '', null, undefined]) {
      expect(fileHref(bad, '')).toBeNull();
    }
  });

  it('a stored file without a link wants one; a file with a note or a link does not', () => {
    expect(wantsLink(img({ blob: 'sha256/1' }))).toBe(true);
    expect(wantsLink(img({ blob: 'sha256/1', url: '/files/1' }))).toBe(false);
    expect(wantsLink(img())).toBe(false); // not stored yet: nothing to ask for
    expect(wantsLink({ kind: 'location', reference: 'location', blob: 'x' })).toBe(false);
    expect(isFetching(img())).toBe(true);
    expect(isFetching(img({ note: 'Not downloaded: over 20 MB' }))).toBe(false);
    const m1 = msg('m1', 'cv', { attachments: [img({ blob: 'b' })] });
    const m2 = msg('m2', 'cv', { attachments: [img({ blob: 'b', url: '/files/b' })] });
    expect(needLinks([m1, m2]).map((m) => m.id)).toEqual(['m1']);
  });
});

describe('upload limits', () => {
  it('reads the documented shape', () => {
    const l = parseLimits({ max_files: 5, channels: { telegram: { max_bytes: 52428800, photo_max_bytes: 10485760 }, web: { max_bytes: 20971520 } } });
    expect(l.maxFiles).toBe(5);
    expect(l.channels.telegram).toEqual({ maxBytes: 50 * MB, photoMaxBytes: 10 * MB });
    expect(l.channels.web).toEqual({ maxBytes: 20 * MB });
  });

  it('keeps the defaults for anything missing or malformed', () => {
    expect(parseLimits(null)).toEqual(DEFAULT_LIMITS);
    expect(parseLimits('<html>')).toEqual(DEFAULT_LIMITS);
    const l = parseLimits({ max_files: -3, channels: { telegram: { max_bytes: 'lots' }, email: 1000, web: null } });
    expect(l.maxFiles).toBe(10);
    expect(l.channels.telegram.maxBytes).toBe(50 * MB);
    expect(l.channels.email.maxBytes).toBe(1000);
    expect(l.channels.web.maxBytes).toBe(20 * MB);
  });

  it('reads the agent API\'s own shape (max_file_bytes), so the dashboard never offers more than the server takes', () => {
    const l = parseLimits({
      max_file_bytes: 20971520, max_files: 10, max_text_chars: 4096, file_link_ttl_secs: 1800,
      channels: {
        telegram: { max_file_bytes: 20971520, max_files: 10, photo_max_bytes: 10485760 },
        web: { max_file_bytes: 20971520, max_files: 10 },
        email: { max_file_bytes: 20971520, max_files: 10 },
      },
    });
    expect(l.channels.telegram).toEqual({ maxBytes: 20971520, photoMaxBytes: 10485760 });
    expect(l.channels.web.maxBytes).toBe(20971520);
    expect(l.maxFiles).toBe(10);
  });

  it('a top-level max_bytes applies to every channel', () => {
    expect(parseLimits({ max_bytes: 1024 }).channels.telegram.maxBytes).toBe(1024);
  });

  it('refuses a file over the channel limit and files past the count, keeping the rest', () => {
    const f = (name: string, size: number) => ({ name, size, type: 'application/pdf' });
    const limits = { maxFiles: 3, channels: { telegram: { maxBytes: 10 * MB } } };
    const held = [f('a.pdf', 1)];
    const { accepted, refused } = checkFiles(held, [f('b.pdf', 2), f('huge.iso', 11 * MB), f('c.pdf', 3), f('d.pdf', 4)], limits, 'telegram');
    expect(accepted.map((x) => x.name)).toEqual(['b.pdf', 'c.pdf']);
    expect(refused).toEqual([
      { code: 'too_large', name: 'huge.iso', size: 11 * MB, max: 10 * MB },
      { code: 'too_many', max: 3 },
    ]);
  });

  it('an unknown channel gets 20 MB', () => {
    const { refused } = checkFiles([], [{ name: 'x', size: 21 * MB, type: '' }], DEFAULT_LIMITS, 'sms');
    expect(refused[0]).toMatchObject({ code: 'too_large', max: 20 * MB });
  });
});

describe('pasted screenshots', () => {
  const at = new Date(2026, 0, 2, 10, 11, 12);
  it('a clipboard image without a real name becomes screenshot-<time>', () => {
    expect(pastedName({ name: 'image.png', size: 1, type: 'image/png' }, at)).toBe('screenshot-20260102-101112.png');
    expect(pastedName({ name: '', size: 1, type: 'image/jpeg' }, at)).toBe('screenshot-20260102-101112.jpg');
  });
  it('a copied file keeps its name', () => {
    expect(pastedName({ name: 'invoice.pdf', size: 1, type: 'application/pdf' }, at)).toBe('invoice.pdf');
  });
});

describe('the multipart body of a reply with files', () => {
  it('has text, the client id (idempotency key) and one file part per file', async () => {
    const a = new File([new Uint8Array([137, 80, 78, 71])], 'shot.png', { type: 'image/png' });
    const b = new File(['%PDF'], 'invoice.pdf', { type: 'application/pdf' });
    const form = replyForm('see attached', 'd-123-abc', [a, b]);
    expect(form.get('text')).toBe('see attached');
    expect(form.get('client_id')).toBe('d-123-abc');
    const files = form.getAll('file') as File[];
    expect(files.map((f) => [f.name, f.type, f.size])).toEqual([['shot.png', 'image/png', 4], ['invoice.pdf', 'application/pdf', 4]]);
    expect(new Uint8Array(await files[0].arrayBuffer())).toEqual(new Uint8Array([137, 80, 78, 71]));
  });
});

/** XMLHttpRequest stand-in: records what was sent; the test answers. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  statusText = '';
  responseText = '';
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  send(body: unknown) {
    this.body = body;
  }
  answer(status: number, body: unknown, statusText = '') {
    this.status = status;
    this.statusText = statusText;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.onload?.();
  }
}

describe('sending a reply with files', () => {
  afterEach(() => vi.unstubAllGlobals());
  const api = (onUnauthorized: (code: string) => void = () => {}) => {
    const a = new Api({ apiBase: 'https://api.example.com', wsUrl: 'wss://x/ws' }, onUnauthorized);
    a.token = 'tok';
    return a;
  };
  const file = new File([new Uint8Array(2048)], 'shot.png', { type: 'image/png' });

  it('posts multipart to the messages endpoint with the token, reports progress, and returns the message', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const progress: number[] = [];
    const p = api().sendReply('cv 1', 'hello', 'd-1', [file], (sent, total) => progress.push(sent / total));
    const x = FakeXhr.last!;
    expect(x.method).toBe('POST');
    expect(x.url).toBe('https://api.example.com/api/v1/conversations/cv%201/messages');
    expect(x.headers.Authorization).toBe('Bearer tok');
    expect(x.headers['Content-Type']).toBeUndefined(); // the browser sets the multipart boundary
    const form = x.body as FormData;
    expect(form.get('client_id')).toBe('d-1');
    expect((form.get('file') as File).name).toBe('shot.png');
    x.upload.onprogress!({ loaded: 1024, total: 2048, lengthComputable: true });
    x.upload.onprogress!({ loaded: 2048, total: 2048, lengthComputable: true });
    x.answer(201, msg('m1', 'cv 1', { direction: 'outbound', attachments: [img({ url: '/files/x' })] }));
    const r = await p;
    expect(r.ok && r.message.id).toBe('m1');
    expect(progress).toEqual([0.5, 1]);
  });

  it("a refusal (413 file_too_large) fails with the server's reason, not retried", async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const p = api().sendReply('cv', '', 'd-2', [file]);
    FakeXhr.last!.answer(413, { error: { code: 'file_too_large', message: 'shot.png is over the 50 MB limit of Telegram' } });
    expect(await p).toEqual({ ok: false, retry: false, reason: 'shot.png is over the 50 MB limit of Telegram' });
  });

  it('a 413 from a proxy (not JSON) still fails with a reason', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const p = api().sendReply('cv', '', 'd-3', [file]);
    FakeXhr.last!.answer(413, '<html>too big</html>', 'Payload Too Large');
    expect(await p).toEqual({ ok: false, retry: false, reason: 'Payload Too Large' });
  });

  it('a network error or a 5xx keeps it queued; a 401 logs out', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const p1 = api().sendReply('cv', '', 'd-4', [file]);
    FakeXhr.last!.onerror!();
    expect(await p1).toEqual({ ok: false, retry: true });
    const p2 = api().sendReply('cv', '', 'd-5', [file]);
    FakeXhr.last!.answer(503, { error: { code: 'unavailable', message: 'later' } });
    expect(await p2).toEqual({ ok: false, retry: true });
    // A 401 renews the token first; a refresh refused too signs out.
    const refreshes: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      refreshes.push(url);
      return new Response(JSON.stringify({ error: { code: 'no_session', message: 'sign in' } }), { status: 401 });
    });
    const out: string[] = [];
    const p3 = api((c: string) => void out.push(c)).sendReply('cv', '', 'd-6', [file]);
    FakeXhr.last!.answer(401, { error: { code: 'token_expired', message: 'expired' } });
    expect(await p3).toEqual({ ok: false, retry: true });
    expect(refreshes).toEqual(['https://api.example.com/api/v1/auth/refresh']);
    expect(out).toEqual(['token_expired']);
  });

  it('a 401 token_expired: the token is renewed and the files go once more, with the new token', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ token: 'tok2', expires_at: '2030-01-01T00:00:00Z', agent: { id: 'ag_me' } }), { status: 200 }));
    const out: string[] = [];
    const a = api((c: string) => void out.push(c));
    const p = a.sendReply('cv', 'hi', 'd-7', [file]);
    const first = FakeXhr.last!;
    expect(first.headers.Authorization).toBe('Bearer tok');
    first.answer(401, { error: { code: 'token_expired', message: 'expired' } });
    await vi.waitFor(() => expect(FakeXhr.last).not.toBe(first));
    const second = FakeXhr.last!;
    expect(second.headers.Authorization).toBe('Bearer tok2');
    expect((second.body as FormData).get('client_id')).toBe('d-7');
    second.answer(201, msg('m7', 'cv', { direction: 'outbound' }));
    const r = await p;
    expect(r.ok && r.message.id).toBe('m7');
    expect(out).toEqual([]);
    expect(a.token).toBe('tok2');
  });

  it('a reply without files still goes as JSON', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify(msg('m2', 'cv')), { status: 201 });
    });
    const r = await api().sendReply('cv', 'hi', 'd-7');
    expect(r.ok).toBe(true);
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ text: 'hi', client_id: 'd-7' });
  });

  it('the ApiError of a JSON refusal carries code and message', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ error: { code: 'bad_request', message: 'nope' } }), { status: 400 }));
    await expect(api().limits()).rejects.toMatchObject({ status: 400, code: 'bad_request', message: 'nope' });
    await expect(api().limits()).rejects.toBeInstanceOf(ApiError);
  });
});

describe('files in the outbox', () => {
  it('are handed to send with their reply and forgotten once sent', async () => {
    const got: [Pending, File[]][] = [];
    const box = new Outbox(new MemoryStorage(), 'k', async (p, files) => {
      got.push([p, files]);
      return { ok: true, message: msg('m1', p.conversationId) };
    });
    const f = new File(['x'], 'a.txt', { type: 'text/plain' });
    const p = box.enqueue('cv', '', undefined, [f]);
    expect(p.files).toEqual([{ name: 'a.txt', size: 1, type: 'text/plain' }]);
    await box.flush();
    expect(got[0][1]).toEqual([f]);
    expect(box.filesOf(p.clientId)).toBeUndefined();
  });

  it('a reply whose files a reload lost shows failed and cannot be retried without them', () => {
    const storage = new MemoryStorage();
    const box = new Outbox(storage, 'k', async () => ({ ok: false, retry: true }));
    box.enqueue('cv', 'with file', 'd-1', [new File(['x'], 'a.txt')]);
    box.enqueue('cv', 'text only', 'd-2');
    const again = new Outbox(storage, 'k', async () => ({ ok: false, retry: true }));
    expect(again.all().map((p) => [p.clientId, p.state, p.error])).toEqual([
      ['d-1', 'failed', FILES_LOST],
      ['d-2', 'queued', undefined],
    ]);
    again.retry('d-1');
    expect(again.all()[0].state).toBe('failed');
  });

  it('a refused upload shows failed with the reason, like a refused text', async () => {
    const box = new Outbox(new MemoryStorage(), 'k', async () => ({ ok: false, retry: false, reason: 'over the 50 MB limit' }));
    box.enqueue('cv', '', 'd-1', [new File(['x'], 'a.bin')]);
    await box.flush();
    expect(box.all()[0]).toMatchObject({ state: 'failed', error: 'over the 50 MB limit' });
  });
});

describe('content updates in the timeline', () => {
  it('a higher revision wins even with the same delivery time (an edit, a fetched file)', () => {
    const a = msg('m1', 'cv', { text: 'v1' });
    const b = msg('m1', 'cv', { text: 'v2', revision: 1 });
    expect(isNewer(b, a)).toBe(true);
    expect(isNewer(a, b)).toBe(false);
    expect(mergeMessages([b], [a])[0].text).toBe('v2');
  });

  it('an event without links keeps the links a page brought for the same stored file', () => {
    const withUrl = msg('m1', 'cv', { attachments: [img({ blob: 'b1', url: '/files/b1?sig=1' })] });
    const fromWs = msg('m1', 'cv', { attachments: [img({ blob: 'b1' })] });
    expect(keepLinks(fromWs, withUrl).attachments[0].url).toBe('/files/b1?sig=1');
    expect(mergeMessages([withUrl], [fromWs])[0].attachments[0].url).toBe('/files/b1?sig=1');
    // Another file under the same reference (a different blob) is not given the old link.
    const other = msg('m1', 'cv', { attachments: [img({ blob: 'b2' })] });
    expect(keepLinks(other, withUrl).attachments[0].url).toBeUndefined();
  });
});
