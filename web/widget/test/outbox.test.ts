import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox, newClientId, type Pending, type SendResult } from '../src/panel/outbox';
import { MemStorage, msg } from './fake';

const ok = (p: Pending): SendResult => ({ ok: true, message: msg({ id: `m-${p.client_id}`, client_id: p.client_id, direction: 'inbound' }) });

describe('Outbox', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('generates URL-safe client ids the server accepts', () => {
    const id = newClientId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(newClientId()).not.toBe(id);
  });

  it('persists a message before sending it and removes it only when the POST returns', async () => {
    const storage = new MemStorage();
    let release!: (r: SendResult) => void;
    const box = new Outbox({ storage, key: 'k', send: () => new Promise((r) => (release = r)) });
    box.setEnabled(true);
    const p = box.add('hello');
    const saved = JSON.parse(storage.getItem('k')!);
    expect(saved[0]).toMatchObject({ client_id: p.client_id, text: 'hello', state: 'queued' });
    await vi.advanceTimersByTimeAsync(0);
    expect(JSON.parse(storage.getItem('k')!)[0]).toMatchObject({ client_id: p.client_id, state: 'sending' });
    release(ok(p));
    await vi.runAllTimersAsync();
    expect(JSON.parse(storage.getItem('k')!)).toEqual([]);
  });

  it('retries a lost answer with backoff and the same client_id; the server stores it once', async () => {
    const stored = new Map<string, string>();
    const seen: string[] = [];
    let failures = 2;
    const send = async (p: Pending): Promise<SendResult> => {
      seen.push(p.client_id);
      stored.set(p.client_id, p.text); // the server stored it…
      if (failures-- > 0) return { ok: false, retry: true }; // …but the answer was lost
      return ok(p);
    };
    const sent: string[] = [];
    const box = new Outbox({ storage: new MemStorage(), key: 'k', send, onSent: (p) => sent.push(p.client_id), random: () => 1 });
    box.setEnabled(true);
    const p = box.add('once');
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen).toEqual([p.client_id, p.client_id, p.client_id]);
    expect(stored.size).toBe(1);
    expect(sent).toEqual([p.client_id]);
    expect(box.all()).toEqual([]);
  });

  it('queues while offline (disabled) and sends each message once, in order, when back online', async () => {
    const order: string[] = [];
    const box = new Outbox({ storage: new MemStorage(), key: 'k', send: async (p) => (order.push(p.text), ok(p)) });
    box.add('one');
    box.add('two');
    await vi.runAllTimersAsync();
    expect(order).toEqual([]);
    expect(box.all().map((p) => p.state)).toEqual(['queued', 'queued']);
    box.setEnabled(true);
    box.kick();
    box.setEnabled(true);
    await vi.runAllTimersAsync();
    expect(order).toEqual(['one', 'two']);
  });

  it('survives a reload mid-send: the next page load resends with the same client_id', async () => {
    const storage = new MemStorage();
    const first = new Outbox({ storage, key: 'k', send: () => new Promise(() => {}) });
    first.setEnabled(true);
    const p = first.add('x');
    await vi.advanceTimersByTimeAsync(0);
    const ids: string[] = [];
    const second = new Outbox({ storage, key: 'k', send: async (q) => (ids.push(q.client_id), ok(q)) });
    expect(second.all()[0].state).toBe('queued');
    second.setEnabled(true);
    await vi.runAllTimersAsync();
    expect(ids).toEqual([p.client_id]);
  });

  it('marks a refused message failed, keeps sending the others, and Retry sends it again with its client_id', async () => {
    const ids: string[] = [];
    let refuse = true;
    const box = new Outbox({
      storage: new MemStorage(),
      key: 'k',
      send: async (p) => {
        ids.push(p.client_id);
        if (p.text === 'bad' && refuse) return { ok: false, retry: false, reason: 'invalid_text' };
        return ok(p);
      },
    });
    box.setEnabled(true);
    const bad = box.add('bad');
    box.add('good');
    await vi.runAllTimersAsync();
    expect(box.all()).toHaveLength(1);
    expect(box.all()[0]).toMatchObject({ state: 'failed', reason: 'invalid_text' });
    refuse = false;
    box.retry(bad.client_id);
    await vi.runAllTimersAsync();
    expect(box.all()).toEqual([]);
    expect(ids.filter((i) => i === bad.client_id)).toHaveLength(2);
  });

  it('gives up after maxAttempts on a flaky network (Retry shown), and the link coming back re-queues it', async () => {
    let up = false;
    const box = new Outbox({ storage: new MemStorage(), key: 'k', maxAttempts: 3, random: () => 1, send: async (p) => (up ? ok(p) : { ok: false, retry: true }) });
    box.setEnabled(true);
    box.add('m');
    await vi.runAllTimersAsync();
    expect(box.all()[0]).toMatchObject({ state: 'failed', attempts: 3 });
    up = true;
    box.kick();
    await vi.runAllTimersAsync();
    expect(box.all()).toEqual([]);
  });

  it('discards a failed message', async () => {
    const box = new Outbox({ storage: new MemStorage(), key: 'k', send: async () => ({ ok: false, retry: false, reason: 'x' }) });
    box.setEnabled(true);
    const p = box.add('m');
    await vi.runAllTimersAsync();
    box.discard(p.client_id);
    expect(box.all()).toEqual([]);
  });
});
