// An in-memory /web/v1 server behind a fake fetch, and a fake WebSocket, for the unit tests.
import type { SocketLike } from '../src/panel/ws';
import type { Session, WebMessage } from '../src/panel/types';

export class MemStorage {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

export function msg(p: Partial<WebMessage> & { id: string }): WebMessage {
  return {
    conversation_id: 'cv_1',
    direction: 'outbound',
    author: { kind: 'agent' },
    author_name: 'Ann',
    channel: 'web',
    text: p.id,
    delivery: { status: 'sent', updated_at: 1 },
    created_at: 1000,
    client_id: null,
    ...p,
  };
}

export class FakeServer {
  tokens = new Map<string, string>(); // token → visitor
  visitors = new Map<string, { conv: string | null; name: string | null; email: string | null }>();
  messages: WebMessage[] = [];
  posts: { text: string; client_id?: string; token: string; attachments?: string[]; choice?: string }[] = [];
  /** Files received by POST /files (multipart), by id. */
  files = new Map<string, { name: string; type: string; size: number; bytes: Uint8Array; token: string }>();
  maxFileBytes = 20 * 1024 * 1024;
  calls: string[] = [];
  identified: Record<string, unknown>[] = [];
  down = false;
  /** Store the message but lose the answer (as a network error) this many times. */
  loseAnswers = 0;
  refuseOrigin = false;
  seq = 0;
  now = 10_000;

  website = { id: 'ws_1', name: 'Shop', telegram: true, prechat: false };

  session(visitor: string): Session {
    const v = this.visitors.get(visitor)!;
    return {
      visitor_id: visitor,
      name: v.name,
      email: v.email,
      email_verified: false,
      conversation_id: v.conv,
      channels: ['web'],
      telegram: null,
      website: this.website,
    };
  }

  expireAll() {
    this.tokens.clear();
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const method = init.method ?? 'GET';
    const path = url.pathname.replace(/^\/web\/v1/, '');
    this.calls.push(`${method} ${path}`);
    if (this.down) throw new TypeError('Failed to fetch');
    const json = (status: number, body?: unknown) =>
      new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const auth = (init.headers as Record<string, string>)?.authorization?.replace(/^Bearer /, '') ?? null;
    const form = init.body instanceof FormData ? init.body : null;
    const body = form ? undefined : init.body ? JSON.parse(String(init.body)) : undefined;
    if (method === 'POST' && path === '/sessions') {
      if (this.refuseOrigin) return json(403, { error: { code: 'origin_not_allowed', message: 'no' } });
      let visitor = auth ? this.tokens.get(auth) : undefined;
      if (auth && !visitor) return json(401, { error: { code: 'token_expired', message: 'expired' } });
      if (!visitor) {
        visitor = `vi_${++this.seq}`;
        this.visitors.set(visitor, { conv: null, name: null, email: null });
      }
      const token = `tok_${++this.seq}`;
      this.tokens.set(token, visitor);
      return json(201, { visitor_token: token, expires_at: 0, website: this.website });
    }
    const visitor = auth ? this.tokens.get(auth) : undefined;
    if (!visitor) return json(401, { error: { code: 'unauthorized', message: 'no' } });
    const v = this.visitors.get(visitor)!;
    if (method === 'GET' && path === '/session') return json(200, this.session(visitor));
    if (method === 'POST' && path === '/files') {
      const f = form?.get('file');
      if (!(f instanceof File) || form!.getAll('file').length !== 1) return json(400, { error: { code: 'bad_request', message: 'one file part' } });
      if (f.size > this.maxFileBytes) return json(413, { error: { code: 'file_too_large', message: 'too large' } });
      if (f.type === 'application/x-msdownload') return json(415, { error: { code: 'unsupported_media_type', message: 'no' } });
      const id = `fl_${++this.seq}`;
      this.files.set(id, { name: f.name, type: f.type, size: f.size, bytes: new Uint8Array(await f.arrayBuffer()), token: auth! });
      const kind = f.type.startsWith('image/') ? 'image' : 'file';
      return json(201, { file: { id, kind, file_name: f.name, mime_type: f.type, size_bytes: f.size, url: `/files/${id}?exp=1&sig=s` } });
    }
    if (method === 'POST' && path === '/messages') {
      const text = String(body.text ?? '').trim();
      const ids: string[] = Array.isArray(body.attachments) ? body.attachments : [];
      if (ids.some((id) => !this.files.has(id))) return json(400, { error: { code: 'unknown_file', message: 'file' } });
      if ((!text && !ids.length) || text.length > 4096) return json(400, { error: { code: 'invalid_text', message: 'text' } });
      // As the server: only a button of a recent message from the other side is a choice.
      if (body.choice !== undefined) {
        const recent = this.messages.filter((m) => m.conversation_id === v.conv && m.direction === 'outbound').slice(-20);
        if (!recent.some((m) => m.buttons?.some((b) => b.data === body.choice))) return json(400, { error: { code: 'unknown_choice', message: 'choice' } });
      }
      this.posts.push({ ...body, token: auth! });
      let m = this.messages.find((x) => x.client_id && x.client_id === body.client_id);
      if (!m) {
        if (!v.conv) v.conv = `cv_${visitor}`;
        const attachments = ids.map((id) => {
          const f = this.files.get(id)!;
          return { kind: f.type.startsWith('image/') ? 'image' : 'file', file_name: f.name, mime_type: f.type, size_bytes: f.size, url: `/files/${id}?exp=1&sig=s` };
        });
        m = msg({ id: `m_${++this.seq}`, conversation_id: v.conv, direction: 'inbound', author: { kind: 'contact' }, author_name: null, text, client_id: body.client_id ?? null, created_at: this.now++, delivery: { status: 'received', updated_at: 1 }, attachments });
        this.messages.push(m);
      }
      if (this.loseAnswers > 0) {
        this.loseAnswers--;
        throw new TypeError('connection reset');
      }
      return json(201, m);
    }
    if (method === 'GET' && path === '/messages') {
      const limit = Number(url.searchParams.get('limit') ?? 30);
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const mine = this.messages.filter((m) => m.conversation_id === v.conv).sort((a, b) => b.created_at - a.created_at);
      const items = mine.slice(cursor, cursor + limit);
      return json(200, { items, next_cursor: cursor + limit < mine.length ? String(cursor + limit) : null });
    }
    if (method === 'POST' && path === '/read') return new Response(null, { status: 204 });
    if (method === 'POST' && path === '/ws-ticket') return json(201, { ticket: `tk_${++this.seq}` });
    if (method === 'POST' && path === '/identify') {
      this.identified.push(body);
      if (body.name) v.name = body.name;
      if (body.email) v.email = body.email;
      return json(200, this.session(visitor));
    }
    if (method === 'POST' && path === '/channels/telegram') {
      if (!this.website.telegram) return json(409, { error: { code: 'no_telegram', message: 'no bot' } });
      return json(201, { url: 'https://t.me/shop_bot?start=abc', expires_at: 0 });
    }
    return json(404, { error: { code: 'not_found', message: path } });
  };
}

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  sent: string[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  frame(o: unknown) {
    this.onmessage?.({ data: JSON.stringify(o) });
  }
  drop() {
    this.onclose?.({});
  }
}

export const flush = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};
