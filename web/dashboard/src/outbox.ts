// Replies waiting to be sent. Every reply goes through here: it is stored (localStorage) before
// anything is sent, sent in order when the connection is up, and carries a client id the
// server uses as an idempotency key, so a retry after a lost answer is never sent twice.
// Files ride along in memory only (localStorage cannot hold them): a reply with files that a
// reload cut short shows as failed ("attach them again"), never as sent without its files.

import type { Message } from './types';

export type PendingState = 'queued' | 'sending' | 'failed';

export interface Pending {
  clientId: string;
  conversationId: string;
  text: string;
  createdAt: string;
  state: PendingState;
  error?: string;
  /** The files sent with it (name, size, type); their bytes are held by the outbox in memory. */
  files?: FileMeta[];
}

export interface FileMeta {
  name: string;
  size: number;
  type: string;
}

/** `Pending.error` of a reply whose files were lost with a reload. */
export const FILES_LOST = 'files_lost';

/** What sending one reply can end with. */
export type SendResult =
  | { ok: true; message: Message }
  | { ok: false; retry: true } // network down or 5xx: keep it queued
  | { ok: false; retry: false; reason: string }; // refused (4xx): show it as failed

export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function newClientId(now: number = Date.now(), random: () => number = Math.random): string {
  const rand = Array.from({ length: 12 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)]).join('');
  return `d-${now.toString(36)}-${rand}`;
}

export class Outbox {
  private items: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private listeners = new Set<() => void>();
  private blobs = new Map<string, File[]>();

  constructor(
    private readonly storage: KeyValue,
    private readonly key: string,
    private readonly send: (p: Pending, files: File[]) => Promise<SendResult>,
    private readonly onSent: (p: Pending, m: Message) => void = () => {},
  ) {
    try {
      const raw = storage.getItem(key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      if (Array.isArray(parsed)) {
        // A send cut short by a reload is retried: the client id makes that safe.
        this.items = (parsed as Pending[]).map((p) =>
          p.files?.length
            ? { ...p, state: 'failed', error: FILES_LOST }
            : p.state === 'sending'
              ? { ...p, state: 'queued' }
              : p,
        );
      }
    } catch {
      this.items = [];
    }
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  all(): Pending[] {
    return this.items;
  }

  of(conversationId: string): Pending[] {
    return this.items.filter((p) => p.conversationId === conversationId);
  }

  private save(): void {
    this.storage.setItem(this.key, JSON.stringify(this.items));
    for (const fn of this.listeners) fn();
  }

  private update(clientId: string, patch: Partial<Pending>): void {
    this.items = this.items.map((p) => (p.clientId === clientId ? { ...p, ...patch } : p));
    this.save();
  }

  enqueue(conversationId: string, text: string, clientId: string = newClientId(), files: File[] = []): Pending {
    const p: Pending = { clientId, conversationId, text, createdAt: new Date().toISOString(), state: 'queued' };
    if (files.length) {
      p.files = files.map((f) => ({ name: f.name, size: f.size, type: f.type }));
      this.blobs.set(clientId, files);
    }
    this.items = [...this.items, p];
    this.save();
    return p;
  }

  /** Puts a failed reply back in the queue. */
  retry(clientId: string): void {
    const p = this.items.find((x) => x.clientId === clientId);
    if (p?.files?.length && !this.blobs.has(clientId)) return; // nothing to send the files from
    this.update(clientId, { state: 'queued', error: undefined });
  }

  /** The files of a queued reply, while this page holds them. */
  filesOf(clientId: string): File[] | undefined {
    return this.blobs.get(clientId);
  }

  discard(clientId: string): void {
    this.blobs.delete(clientId);
    this.items = this.items.filter((p) => p.clientId !== clientId);
    this.save();
  }

  /**
   * Forgets every reply to these conversations, queued, sending or failed (they were erased:
   * nothing is sent to them any more). The client ids forgotten.
   */
  forget(conversationIds: Iterable<string>): string[] {
    const gone = new Set(conversationIds);
    const dropped = this.items.filter((p) => gone.has(p.conversationId)).map((p) => p.clientId);
    if (dropped.length === 0) return dropped;
    for (const id of dropped) this.blobs.delete(id);
    this.items = this.items.filter((p) => !gone.has(p.conversationId));
    this.save();
    return dropped;
  }

  /** Forgets replies the server already has (seen through an event or a resync). */
  confirm(clientIds: Iterable<string>): void {
    const seen = new Set(clientIds);
    const before = this.items.length;
    for (const id of seen) this.blobs.delete(id);
    this.items = this.items.filter((p) => !seen.has(p.clientId));
    if (this.items.length !== before) this.save();
  }

  /**
   * Sends queued replies in order, one at a time. Concurrent calls share one run, so nothing is
   * sent twice. Stops at the first reply that must wait (connection down), keeping it and the
   * rest queued for the next flush.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    // `run` is read only after the first await, by which time it is assigned.
    let run: Promise<void> | null = null;
    run = (async () => {
      await Promise.resolve(); // `this.flushing` is set before the run can finish
      try {
        for (;;) {
          const next = this.items.find((p) => p.state === 'queued');
          if (!next) return;
          this.update(next.clientId, { state: 'sending' });
          let result: SendResult;
          try {
            result = await this.send(next, this.blobs.get(next.clientId) ?? []);
          } catch {
            result = { ok: false, retry: true };
          }
          if (!this.items.some((p) => p.clientId === next.clientId)) continue; // confirmed meanwhile
          if (result.ok) {
            this.blobs.delete(next.clientId);
            this.items = this.items.filter((p) => p.clientId !== next.clientId);
            this.save();
            this.onSent(next, result.message);
          } else if (result.retry) {
            this.update(next.clientId, { state: 'queued' });
            return;
          } else {
            this.update(next.clientId, { state: 'failed', error: result.reason });
          }
        }
      } finally {
        if (this.flushing === run) this.flushing = null;
      }
    })();
    this.flushing = run;
    return run;
  }
}

/** The client id of a reply, from the `source_key` the server stores (`agent-reply:<agent>:<id>`). */
export function clientIdOf(m: Message): string | null {
  const key = m.source_key;
  if (!key || !key.startsWith('agent-reply:')) return null;
  const i = key.lastIndexOf(':');
  return i > 0 ? key.slice(i + 1) : null;
}
