import { describe, expect, it } from 'vitest';
import { LiveSocket, backoffDelay, type SocketLike, type Timers, type LinkStatus } from '../src/ws';
import { resolveConfig, socketUrl } from '../src/config';

class FakeTimers implements Timers {
  now = 0;
  private seq = 0;
  private tasks = new Map<number, { at: number; fn: () => void; every?: number }>();
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.tasks.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(id: unknown) {
    this.tasks.delete(id as number);
  }
  setInterval(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.tasks.set(id, { at: this.now + ms, fn, every: ms });
    return id;
  }
  clearInterval(id: unknown) {
    this.tasks.delete(id as number);
  }
  advance(ms: number) {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void; every?: number }] | null = null;
      for (const e of this.tasks) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      const [id, t] = next;
      this.now = t.at;
      if (t.every) t.at += t.every;
      else this.tasks.delete(id);
      t.fn();
    }
    this.now = end;
  }
}

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
  }
  hello() {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify({ type: 'hello', agent_id: 'ag_me', connection_id: 'c1' }) });
  }
  frame(o: unknown) {
    this.onmessage?.({ data: JSON.stringify(o) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
}

function setup(url: () => string | null | Promise<string | null> = () => 'ws://h/ws?token=t') {
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  const statuses: LinkStatus[] = [];
  const ready: boolean[] = [];
  const events: unknown[] = [];
  const failed: number[] = [];
  const live = new LiveSocket({
    url,
    create: (u) => {
      const s = new FakeSocket(u);
      sockets.push(s);
      return s;
    },
    timers,
    random: () => 1,
    onEvent: (e) => events.push(e),
    onStatus: (s) => statuses.push(s),
    onReady: (r) => ready.push(r),
    onFailedAttempt: (n) => failed.push(n),
  });
  return { timers, sockets, statuses, ready, events, failed, live };
}

describe('live socket', () => {
  it('connects with a URL fetched for each attempt (a fresh single-use ticket), and retries when the fetch fails', async () => {
    let n = 0;
    const t = setup(() => {
      n += 1;
      return n === 1 ? Promise.reject(new Error('offline')) : Promise.resolve(`ws://h/ws?agent_ticket=t${n}`);
    });
    t.live.start();
    await Promise.resolve();
    await Promise.resolve();
    expect(t.sockets.length).toBe(0); // the first ticket could not be fetched: a retry is scheduled
    t.timers.advance(60_000);
    await Promise.resolve();
    await Promise.resolve();
    expect(t.sockets.map((s) => s.url)).toEqual(['ws://h/ws?agent_ticket=t2']);
    t.sockets[0].hello();
    t.sockets[0].drop();
    t.timers.advance(60_000);
    await Promise.resolve();
    await Promise.resolve();
    expect(t.sockets.map((s) => s.url)).toEqual(['ws://h/ws?agent_ticket=t2', 'ws://h/ws?agent_ticket=t3']);
  });

  it('asks for hello once the socket opens (API Gateway cannot push it) and ignores a second one', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].onopen?.({});
    expect(t.sockets[0].sent).toEqual(['{"action":"hello"}']);
    t.sockets[0].hello();
    t.sockets[0].hello(); // the local server sends one at connect and answers the request too
    expect(t.ready).toEqual([false]);
    expect(t.statuses).toEqual(['connecting', 'open']);
  });

  it('sends {"action":"ping"} every 20 s and stays open while pongs come back', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].hello();
    expect(t.statuses).toEqual(['connecting', 'open']);
    for (let i = 0; i < 3; i++) {
      t.timers.advance(20_000);
      t.sockets[0].frame({ type: 'pong' });
    }
    expect(t.sockets[0].sent).toEqual(Array(3).fill('{"action":"ping"}'));
    expect(t.sockets.length).toBe(1);
    expect(t.events).toEqual([]); // pongs are not app events
  });

  it('a batch frame delivers each of its events in order, and a hello or pong inside it works as alone', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].frame({
      type: 'batch',
      events: [{ type: 'hello', agent_id: 'ag_me', connection_id: 'c1' }, { type: 'presence', agent_id: 'a', status: 'online' }],
    });
    expect(t.ready).toEqual([false]);
    const created = { type: 'message.created', conversation_id: 'cv_1', message: { id: 'm1' } };
    t.sockets[0].frame({
      type: 'batch',
      events: [created, { type: 'pong' }, { type: 'batch', events: [{ type: 'message.updated', conversation_id: 'cv_1', message: { id: 'm1' } }] }],
    });
    expect(t.events.map((e) => (e as { type: string }).type)).toEqual(['presence', 'message.created', 'message.updated']);
    expect(t.events[1]).toEqual(created);
  });

  it('a silent link is closed after ping + timeout and reconnected, reporting a reconnect', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].hello();
    t.timers.advance(30_000); // ping at 20 s, no answer until 30 s
    expect(t.live.status).toBe('reconnecting');
    t.timers.advance(500);
    expect(t.sockets.length).toBe(2);
    t.sockets[1].hello();
    expect(t.ready).toEqual([false, true]);
    expect(t.statuses.at(-1)).toBe('open');
  });

  it('reconnects with growing backoff up to the cap, and resets it after hello', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].hello();
    t.sockets[0].drop();
    const times: number[] = [];
    let last = t.timers.now;
    for (let i = 0; i < 7; i++) {
      const before = t.sockets.length;
      while (t.sockets.length === before) t.timers.advance(100);
      times.push(t.timers.now - last);
      last = t.timers.now;
      t.sockets.at(-1)!.drop();
    }
    expect(times).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect(t.failed).toEqual([1, 2, 3, 4, 5, 6, 7]);
    while (t.sockets.length === 8) t.timers.advance(100);
    t.sockets.at(-1)!.hello();
    t.sockets.at(-1)!.drop();
    const before = t.sockets.length;
    t.timers.advance(500);
    expect(t.sockets.length).toBe(before + 1);
  });

  it('passes server events on and stops cleanly', () => {
    const t = setup();
    t.live.start();
    t.sockets[0].hello();
    t.sockets[0].frame({ type: 'presence', agent_id: 'x', status: 'busy' });
    expect(t.events).toEqual([{ type: 'presence', agent_id: 'x', status: 'busy' }]);
    t.live.stop();
    t.timers.advance(60_000);
    expect(t.sockets.length).toBe(1);
    expect(t.live.status).toBe('offline');
  });

  it('backoff has jitter between half and all of the step', () => {
    expect(backoffDelay(3, 500, 10_000, () => 0)).toBe(2000);
    expect(backoffDelay(3, 500, 10_000, () => 1)).toBe(4000);
  });
});

describe('runtime config', () => {
  it('defaults to the same origin when config.json is absent or empty', () => {
    expect(resolveConfig(null, { protocol: 'https:', host: 'desk.example.com' })).toEqual({ apiBase: '', wsUrl: 'wss://desk.example.com/ws' });
    expect(resolveConfig({}, { protocol: 'http:', host: '127.0.0.1:8080' })).toEqual({ apiBase: '', wsUrl: 'ws://127.0.0.1:8080/ws' });
  });
  it('takes the API base and WebSocket URL from config.json and adds the token to the URL', () => {
    const cfg = resolveConfig({ apiBase: 'https://api.example.com/', wsUrl: 'wss://ws.example.com/prod' }, { protocol: 'https:', host: 'x' });
    expect(cfg).toEqual({ apiBase: 'https://api.example.com', wsUrl: 'wss://ws.example.com/prod' });
    expect(socketUrl(cfg, 'a.b+c')).toBe('wss://ws.example.com/prod?token=a.b%2Bc');
  });
});
