import { beforeEach, describe, expect, it } from 'vitest';
import { tokenKey, stateKey } from '../src/common';
import { Controller } from '../src/panel/controller';
import { FakeServer, FakeSocket, MemStorage, flush, msg } from './fake';

function setup(server = new FakeServer(), storage = new MemStorage(), online = { v: true }) {
  const c = new Controller({
    base: 'http://chat.test',
    websiteId: 'ws_1',
    storage: storage as unknown as Storage,
    fetch: server.fetch as typeof fetch,
    createSocket: (url) => new FakeSocket(url),
    online: () => online.v,
    random: () => 0,
    pageSize: 3,
  });
  return { c, server, storage, online };
}

const lastSocket = () => FakeSocket.all[FakeSocket.all.length - 1];
async function connect() {
  await flush();
  const s = lastSocket();
  s.open();
  s.frame({ type: 'hello', visitor_id: 'x' });
  await flush();
  return s;
}

beforeEach(() => {
  FakeSocket.all = [];
});

describe('Controller', () => {
  it('creates a session, stores the token (not in any URL) and opens the socket with a ticket', async () => {
    const { c, storage } = setup();
    await c.start();
    expect(c.state.phase).toBe('ready');
    expect(c.state.website?.name).toBe('Shop');
    const token = storage.getItem(tokenKey('ws_1'));
    expect(token).toMatch(/^tok_/);
    await flush();
    expect(lastSocket().url).toMatch(/^ws:\/\/chat\.test\/ws\?ticket=tk_/);
    expect(lastSocket().url).not.toContain(token!);
  });

  it("proves the site's signed-in user from the tag before reading the session", async () => {
    const server = new FakeServer();
    const c = new Controller({
      base: 'http://chat.test',
      websiteId: 'ws_1',
      storage: new MemStorage() as unknown as Storage,
      fetch: server.fetch as typeof fetch,
      createSocket: (url) => new FakeSocket(url),
      online: () => true,
      random: () => 0,
      user: { user_id: 'u-42', user_hash: 'ab12' },
    });
    await c.start();
    expect(c.state.phase).toBe('ready');
    expect(server.identified).toEqual([{ user_id: 'u-42', user_hash: 'ab12' }]);
    const identify = server.calls.findIndex((x) => x.includes('/identify'));
    const session = server.calls.findIndex((x) => x.includes('GET') && x.includes('/session'));
    expect(identify).toBeGreaterThanOrEqual(0);
    expect(identify).toBeLessThan(session);
  });

  it('refreshes a held token for the same visitor', async () => {
    const { c, server, storage } = setup();
    await c.start();
    const first = c.state.session!.visitor_id;
    const second = setup(server, storage);
    await second.c.start();
    expect(second.c.state.session!.visitor_id).toBe(first);
    void c;
  });

  it('sends a message once and shows it; the conversation id is remembered for the loader', async () => {
    const { c, server, storage } = setup();
    await c.start();
    expect(c.send('  Order #1024 has no tracking update  ')).toBe('ok');
    await flush();
    expect(server.posts).toHaveLength(1);
    expect(server.posts[0].text).toBe('Order #1024 has no tracking update');
    expect(c.state.messages.map((m) => m.text)).toEqual(['Order #1024 has no tracking update']);
    expect(c.state.pending).toEqual([]);
    expect(JSON.parse(storage.getItem(stateKey('ws_1'))!).conv).toMatch(/^cv_/);
  });

  it('rejects empty and over-long texts', async () => {
    const { c } = setup();
    expect(c.send('   ')).toBe('empty');
    expect(c.send('x'.repeat(4097))).toBe('too_long');
    expect(c.send('x'.repeat(4096))).toBe('ok');
  });

  it('a lost POST answer is retried with the same client_id and stored once', async () => {
    const { c, server } = setup();
    await c.start();
    server.loseAnswers = 1;
    c.send('hello');
    await flush();
    await new Promise((r) => setTimeout(r, 700)); // backoff (random 0 → half of 1 s)
    await flush();
    expect(server.posts).toHaveLength(2);
    expect(server.posts[0].client_id).toBe(server.posts[1].client_id);
    expect(server.messages).toHaveLength(1);
    expect(c.state.messages).toHaveLength(1);
    expect(c.state.pending).toEqual([]);
  });

  it('401: drops the token, creates a new session and re-sends what was queued', async () => {
    const { c, server, storage } = setup();
    await c.start();
    const oldToken = storage.getItem(tokenKey('ws_1'));
    server.expireAll();
    c.send('after expiry');
    await flush(20);
    const newToken = storage.getItem(tokenKey('ws_1'));
    expect(newToken).not.toBe(oldToken);
    expect(server.posts.map((p) => p.token)).toEqual([newToken]);
    expect(c.state.messages.map((m) => m.text)).toEqual(['after expiry']);
    expect(c.state.pending).toEqual([]);
  });

  it('queues while offline and sends each message once when back online', async () => {
    const { c, server, online } = setup();
    await c.start();
    online.v = false;
    c.setOnline(false);
    c.send('one');
    c.send('two');
    await flush();
    expect(server.posts).toHaveLength(0);
    expect(c.state.pending.map((p) => p.state)).toEqual(['queued', 'queued']);
    online.v = true;
    c.setOnline(true);
    await flush(20);
    c.setOnline(true);
    await flush(20);
    expect(server.posts.map((p) => p.text)).toEqual(['one', 'two']);
    expect(c.state.messages.map((m) => m.text)).toEqual(['one', 'two']);
  });

  it('counts unread agent messages while closed, clears them on open and marks them read', async () => {
    const { c, server, storage } = setup();
    await c.start();
    c.send('hi');
    await flush();
    const s = await connect();
    const conv = c.state.session!.conversation_id!;
    s.frame({ type: 'message.created', conversation_id: conv, message: msg({ id: 'a1', conversation_id: conv, created_at: 20_000 }) });
    s.frame({
      type: 'batch',
      events: [
        { type: 'message.created', conversation_id: conv, message: msg({ id: 'a2', conversation_id: conv, created_at: 20_001, author: { kind: 'bot' }, author_name: null }) },
        { type: 'message.created', conversation_id: conv, message: msg({ id: 'n', conversation_id: conv, created_at: 20_002, author: { kind: 'system' } }) },
        { type: 'message.updated', conversation_id: conv, message: msg({ id: 'a1', conversation_id: conv, created_at: 20_000, delivery: { status: 'sent', updated_at: 5 } }) },
      ],
    });
    expect(c.state.unread).toBe(2);
    expect(JSON.parse(storage.getItem(stateKey('ws_1'))!).unread).toBe(2);
    expect(c.state.announce.name).toBe('');
    c.open();
    expect(c.state.unread).toBe(0);
    await flush();
    expect(server.calls).toContain('POST /read');
    s.frame({ type: 'message.created', conversation_id: conv, message: msg({ id: 'a3', conversation_id: conv, created_at: 20_005 }) });
    expect(c.state.unread).toBe(0);
    expect(c.state.announce.text).toBe('a3');
    c.close();
    s.frame({ type: 'message.created', conversation_id: conv, message: msg({ id: 'a4', conversation_id: conv, created_at: 20_006 }) });
    expect(c.state.unread).toBe(1);
  });

  it('resyncs after a reconnect: re-reads the newest page with a new ticket and merges by id', async () => {
    const { c, server } = setup();
    await c.start();
    c.send('hi');
    await flush();
    const s1 = await connect();
    const conv = c.state.session!.conversation_id!;
    s1.drop();
    server.messages.push(msg({ id: 'missed', conversation_id: conv, created_at: 50_000 }));
    await new Promise((r) => setTimeout(r, 300));
    const s2 = await connect();
    expect(s2).not.toBe(s1);
    expect(s2.url).not.toBe(s1.url);
    expect(c.state.messages.map((m) => m.id)).toContain('missed');
    expect(new Set(c.state.messages.map((m) => m.id)).size).toBe(c.state.messages.length);
  });

  it('pages older history on demand (newest first from the server)', async () => {
    const server = new FakeServer();
    const { c } = setup(server);
    await c.start();
    c.send('first');
    await flush();
    const conv = c.state.session!.conversation_id!;
    for (let i = 0; i < 7; i++) server.messages.push(msg({ id: `h${i}`, conversation_id: conv, created_at: 30_000 + i }));
    // a fresh page load of the same visitor
    const storage = new MemStorage();
    storage.setItem(tokenKey('ws_1'), [...server.tokens.keys()][0]);
    const reload = setup(server, storage);
    await reload.c.start();
    expect(reload.c.state.messages.map((m) => m.id)).toEqual(['h4', 'h5', 'h6']);
    expect(reload.c.state.hasOlder).toBe(true);
    await reload.c.loadOlder();
    await reload.c.loadOlder();
    await reload.c.loadOlder();
    expect(reload.c.state.messages).toHaveLength(8);
    expect(reload.c.state.messages[0].text).toBe('first');
    expect(reload.c.state.hasOlder).toBe(false);
  });

  it('an origin that is not allowed gets no session: refused, no crash, nothing sent', async () => {
    const server = new FakeServer();
    server.refuseOrigin = true;
    const { c } = setup(server);
    await c.start();
    expect(c.state.phase).toBe('refused');
    expect(server.posts).toHaveLength(0);
  });

  it('an unreachable server (or a CORS refusal) shows unavailable and keeps the message queued', async () => {
    const server = new FakeServer();
    server.down = true;
    const { c } = setup(server);
    await c.start();
    expect(c.state.phase).toBe('unavailable');
    c.send('waiting');
    expect(c.state.pending).toHaveLength(1);
    server.down = false;
    c.setOnline(true);
    await flush(30);
    expect(c.state.phase).toBe('ready');
    await flush(30);
    expect(server.posts.map((p) => p.text)).toEqual(['waiting']);
    c.destroy();
  });

  it('Continue on Telegram: link with an https URL; 409 no_telegram hides the button', async () => {
    const server = new FakeServer();
    const { c } = setup(server);
    await c.start();
    await c.continueOnTelegram();
    expect(c.state.telegram.link?.url).toBe('https://t.me/shop_bot?start=abc');
    server.website.telegram = false;
    await c.continueOnTelegram();
    expect(c.state.telegram.error).toBe(true);
    expect(c.state.website?.telegram).toBe(false);
  });

  it('session.updated with telegram shows the continued state', async () => {
    const { c } = setup();
    await c.start();
    const s = await connect();
    s.frame({ type: 'session.updated', session: { ...c.state.session!, telegram: { name: 'Ann T', since: 1 }, channels: ['web', 'telegram'] } });
    expect(c.state.session?.telegram?.name).toBe('Ann T');
  });

  it('a bare session.updated (no session in it) re-reads GET /session', async () => {
    const { c, server } = setup();
    await c.start();
    const s = await connect();
    const before = server.calls.filter((x) => x === 'GET /session').length;
    s.frame({ type: 'session.updated' });
    await flush();
    expect(server.calls.filter((x) => x === 'GET /session').length).toBe(before + 1);
  });

  it('shows the optional pre-chat form only before the first message, and skipping it sticks', async () => {
    const server = new FakeServer();
    server.website.prechat = true;
    const { c, storage } = setup(server);
    await c.start();
    expect(c.state.prechat).toBe(true);
    expect(await c.identify('Ann', 'ann@example.com')).toBe(true);
    expect(c.state.prechat).toBe(false);
    expect(c.state.session?.email).toBe('ann@example.com');
    const other = setup(server, new MemStorage());
    await other.c.start();
    expect(other.c.state.prechat).toBe(true);
    other.c.skipPrechat();
    expect(other.c.state.prechat).toBe(false);
    void storage;
  });

});
