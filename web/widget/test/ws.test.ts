import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Live, type LinkState } from '../src/panel/ws';
import { FakeSocket } from './fake';

describe('Live (visitor WebSocket)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  function make() {
    let n = 0;
    const states: LinkState[] = [];
    const ready: boolean[] = [];
    const events: string[] = [];
    const live = new Live({
      ticket: async () => `t${++n}`,
      url: (t) => `ws://x/ws?ticket=${t}`,
      create: (u) => new FakeSocket(u),
      onEvent: (e) => events.push(e.type),
      onState: (s) => states.push(s),
      onReady: (r) => ready.push(r),
      random: () => 1,
    });
    return { live, states, ready, events };
  }
  const hello = (s: FakeSocket) => {
    s.open();
    s.frame({ type: 'hello', visitor_id: 'v' });
  };

  it('connects with a fresh single-use ticket each time and reports ready/reconnected', async () => {
    const { live, ready, states } = make();
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    hello(FakeSocket.all[0]);
    expect(FakeSocket.all[0].url).toBe('ws://x/ws?ticket=t1');
    expect(ready).toEqual([false]);
    FakeSocket.all[0].drop();
    expect(states[states.length - 1]).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(500);
    hello(FakeSocket.all[1]);
    expect(FakeSocket.all[1].url).toBe('ws://x/ws?ticket=t2');
    expect(ready).toEqual([false, true]);
    expect(states[states.length - 1]).toBe('open');
    live.stop();
  });

  it('pings every 25 s and treats 10 s of silence after a ping as a dead link', async () => {
    const { live } = make();
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    const s = FakeSocket.all[0];
    hello(s);
    await vi.advanceTimersByTimeAsync(25_000);
    // `hello` is asked for on open (API Gateway cannot push it at connect), then the pings.
    expect(s.sent).toEqual(['{"action":"hello"}', '{"action":"ping"}']);
    s.frame({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(s.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(15_000); // second ping, no answer
    await vi.advanceTimersByTimeAsync(10_000);
    expect(s.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSocket.all).toHaveLength(2);
    live.stop();
  });

  it('backs off exponentially while the ticket cannot be had, and applies batch frames as events', async () => {
    let fail = 3;
    const made: string[] = [];
    const events: string[] = [];
    const live = new Live({
      ticket: async () => {
        if (fail-- > 0) throw new Error('down');
        return 'ok';
      },
      url: (t) => t,
      create: (u) => (made.push(u), new FakeSocket(u)),
      onEvent: (e) => events.push(e.type),
      onState: () => {},
      onReady: () => {},
      random: () => 1,
    });
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(500);
    await vi.advanceTimersByTimeAsync(1000);
    expect(made).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(made).toEqual(['ok']);
    FakeSocket.all[FakeSocket.all.length - 1]!.frame({ type: 'batch', events: [{ type: 'hello' }, { type: 'pong' }] });
    expect(events).toEqual(['batch']);
    live.stop();
  });
});
