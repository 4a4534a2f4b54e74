import { describe, expect, it } from 'vitest';
import { Outbox, clientIdOf, newClientId, type Pending, type SendResult } from '../src/outbox';
import { MemoryStorage, msg } from './fixtures';

function server() {
  const received: Pending[] = [];
  let up = true;
  let loseAnswers = false;
  const stored = new Map<string, string>(); // clientId -> message id (the server's idempotency)
  const send = async (p: Pending): Promise<SendResult> => {
    if (!up) return { ok: false, retry: true };
    if (!stored.has(p.clientId)) {
      stored.set(p.clientId, `m${stored.size + 1}`);
      received.push(p);
    }
    if (loseAnswers) throw new TypeError('Failed to fetch');
    return { ok: true, message: msg(stored.get(p.clientId)!, p.conversationId, { text: p.text }) };
  };
  return {
    send,
    received,
    setUp: (v: boolean) => (up = v),
    setLoseAnswers: (v: boolean) => (loseAnswers = v),
  };
}

describe('queued sends', () => {
  it('a reply written while the connection is down waits and is sent once after reconnect', async () => {
    const srv = server();
    const sent: string[] = [];
    const box = new Outbox(new MemoryStorage(), 'k', srv.send, (_p, m) => sent.push(m.id));
    srv.setUp(false);
    box.enqueue('cv_1', 'first');
    box.enqueue('cv_1', 'second');
    await box.flush();
    expect(srv.received).toEqual([]);
    expect(box.all().map((p) => p.state)).toEqual(['queued', 'queued']);
    srv.setUp(true);
    await box.flush();
    expect(srv.received.map((p) => p.text)).toEqual(['first', 'second']);
    expect(sent).toEqual(['m1', 'm2']);
    expect(box.all()).toEqual([]);
  });

  it('a flush with nothing queued does not hold up the next one', async () => {
    const srv = server();
    const box = new Outbox(new MemoryStorage(), 'k', srv.send);
    await box.flush();
    box.enqueue('cv_1', 'after an empty flush');
    await box.flush();
    expect(srv.received.map((p) => p.text)).toEqual(['after an empty flush']);
  });

  it('concurrent flushes (reconnect + timer) share one run and never send twice', async () => {
    const srv = server();
    const box = new Outbox(new MemoryStorage(), 'k', srv.send);
    box.enqueue('cv_1', 'hello');
    await Promise.all([box.flush(), box.flush(), box.flush()]);
    expect(srv.received.map((p) => p.text)).toEqual(['hello']);
  });

  it('a lost answer is retried with the same client id, which the server stores only once', async () => {
    const srv = server();
    const box = new Outbox(new MemoryStorage(), 'k', srv.send);
    const p = box.enqueue('cv_1', 'hello');
    srv.setLoseAnswers(true);
    await box.flush();
    expect(box.all()[0]).toMatchObject({ clientId: p.clientId, state: 'queued' });
    srv.setLoseAnswers(false);
    await box.flush();
    expect(srv.received.length).toBe(1);
    expect(box.all()).toEqual([]);
  });

  it('queued replies survive a reload, and one cut off mid-send is sent again under its id', async () => {
    const storage = new MemoryStorage();
    const first = new Outbox(storage, 'k', () => new Promise<SendResult>(() => {})); // never answers
    first.enqueue('cv_1', 'survives');
    void first.flush();
    await new Promise((r) => setTimeout(r, 0));
    expect(first.all()[0].state).toBe('sending');
    const srv = server();
    const second = new Outbox(storage, 'k', srv.send);
    expect(second.all().map((p) => [p.text, p.state])).toEqual([['survives', 'queued']]);
    await second.flush();
    expect(srv.received.map((p) => p.clientId)).toEqual([first.all()[0].clientId]);
  });

  it('a refused reply is shown as failed with the reason and can be retried', async () => {
    let refuse = true;
    const box = new Outbox(new MemoryStorage(), 'k', async (p) =>
      refuse ? { ok: false, retry: false, reason: 'reopen it first' } : { ok: true, message: msg('m1', p.conversationId) },
    );
    const p = box.enqueue('cv_1', 'x');
    box.enqueue('cv_1', 'y');
    await box.flush();
    expect(box.all().map((q) => [q.text, q.state, q.error])).toEqual([
      ['x', 'failed', 'reopen it first'],
      ['y', 'failed', 'reopen it first'],
    ]);
    refuse = false;
    box.retry(p.clientId);
    await box.flush();
    expect(box.all().map((q) => q.text)).toEqual(['y']);
  });

  it('a reply the server already has (seen in an event) is dropped from the queue', () => {
    const box = new Outbox(new MemoryStorage(), 'k', async () => ({ ok: false, retry: true }));
    const p = box.enqueue('cv_1', 'x');
    const echoed = msg('m1', 'cv_1', { source_key: `agent-reply:ag_me:${p.clientId}` });
    box.confirm([clientIdOf(echoed)!]);
    expect(box.all()).toEqual([]);
  });

  it('the replies to erased conversations are forgotten, queued or failed, in storage too; the rest stay', async () => {
    const storage = new MemoryStorage();
    const box = new Outbox(storage, 'k', async () => ({ ok: false, retry: false, reason: 'refused' }));
    box.enqueue('cv_gone', 'x');
    await box.flush(); // failed
    box.enqueue('cv_gone', 'y', undefined, [new File(['b'], 'b.txt')]);
    const kept = box.enqueue('cv_1', 'z');
    let saved = 0;
    box.subscribe(() => saved++);
    expect(box.forget(['cv_gone'])).toHaveLength(2);
    expect(box.all().map((p) => p.clientId)).toEqual([kept.clientId]);
    expect(JSON.parse(storage.getItem('k')!).map((p: { text: string }) => p.text)).toEqual(['z']);
    expect(saved).toBe(1);
    expect(box.forget(['cv_gone', 'cv_other'])).toEqual([]);
    expect(saved).toBe(1); // nothing held: nothing saved
  });

  it('client ids fit the server’s rule (1–64 of A-Za-z0-9_-) and differ', () => {
    const a = newClientId();
    const b = newClientId();
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(a).not.toBe(b);
  });
});
