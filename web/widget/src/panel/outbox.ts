// Messages the visitor wrote that the server has not confirmed yet. Each one gets a client id
// once, is written to localStorage before anything is sent, and stays there until the POST
// answers; a retry (after a lost answer, a reload, a reconnect, a new session) reuses the same
// client id, so the server stores it once. One POST at a time, in order; network errors and
// 5xx retry with exponential backoff, a refusal (4xx) marks the message failed.

import type { WebMessage } from './types';

export type PendingState = 'queued' | 'sending' | 'failed';

export interface Pending {
  client_id: string;
  text: string;
  created_at: number;
  state: PendingState;
  attempts: number;
  /** Set when the server refused it (400 …): retrying as-is won't help by itself. */
  reason?: string;
  /** Files uploaded already (POST /files), sent by id with the message. */
  files?: SentFile[];
  /** A pressed button: its data (sent as `choice`; `text` is its label) and the message it answers. */
  choice?: string;
  answers?: string;
}

export interface SentFile {
  id: string;
  name: string;
  size: number;
}

export type SendResult =
  | { ok: true; message: WebMessage }
  | { ok: false; retry: true }
  | { ok: false; retry: false; reason: string };

export interface KV {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface OutboxOptions {
  storage: KV | null;
  key: string;
  send: (p: Pending) => Promise<SendResult>;
  onSent?: (p: Pending, m: WebMessage) => void;
  onChange?: () => void;
  /** Automatic attempts before a message shows as failed (with Retry). */
  maxAttempts?: number;
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

export function newClientId(): string {
  const bytes = new Uint8Array(12);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (const b of bytes) s += abc[b & 63];
  return `w-${Date.now().toString(36)}-${s}`;
}

export function backoff(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20));
  return Math.round(full * (0.5 + random() / 2));
}

export class Outbox {
  private items: Pending[] = [];
  private enabled = false;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly o: OutboxOptions) {
    try {
      const raw = o.storage?.getItem(o.key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      if (Array.isArray(parsed)) {
        // A send cut short by a reload is sent again: the client id makes that safe.
        this.items = (parsed as Pending[])
          .filter((p) => p && typeof p.client_id === 'string' && typeof p.text === 'string')
          .map((p) => ({ ...p, attempts: p.attempts || 0, state: p.state === 'sending' ? 'queued' : p.state }));
      }
    } catch {
      this.items = [];
    }
  }

  all(): readonly Pending[] {
    return this.items;
  }

  add(text: string, now: number = Date.now(), files: SentFile[] = [], choice?: { data: string; answers: string }): Pending {
    const p: Pending = { client_id: newClientId(), text, created_at: now, state: 'queued', attempts: 0 };
    if (files.length) p.files = files;
    if (choice) Object.assign(p, { choice: choice.data, answers: choice.answers });
    this.items = [...this.items, p];
    this.save(); // persisted before the first attempt
    void this.flush();
    return p;
  }

  retry(clientId: string): void {
    this.patch(clientId, { state: 'queued', attempts: 0, reason: undefined });
    this.kick();
  }

  discard(clientId: string): void {
    this.items = this.items.filter((p) => p.client_id !== clientId || p.state === 'sending');
    this.save();
  }

  /** Sending is allowed (a session exists). */
  setEnabled(on: boolean): void {
    this.enabled = on;
    if (on) void this.flush();
  }

  /** The link came back: retry now what waits for its backoff or gave up on the network. */
  kick(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    let changed = false;
    this.items = this.items.map((p) => {
      if (p.state === 'failed' && p.reason === undefined) {
        changed = true;
        return { ...p, state: 'queued', attempts: 0 };
      }
      return p;
    });
    if (changed) this.save();
    void this.flush();
  }

  /** Send everything queued, one at a time, in order. Resolves when nothing more can be sent now. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        void this.flush();
      }
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.enabled && this.timer === null) {
      const p = this.items.find((i) => i.state === 'queued');
      if (!p) break;
      this.patch(p.client_id, { state: 'sending' });
      let r: SendResult;
      try {
        r = await this.o.send(p);
      } catch {
        r = { ok: false, retry: true };
      }
      if (r.ok) {
        this.items = this.items.filter((i) => i.client_id !== p.client_id);
        this.save();
        this.o.onSent?.(p, r.message);
        continue;
      }
      if (!r.retry) {
        this.patch(p.client_id, { state: 'failed', reason: r.reason });
        continue;
      }
      const attempts = p.attempts + 1;
      if (attempts >= (this.o.maxAttempts ?? 6)) {
        this.patch(p.client_id, { state: 'failed', attempts });
        continue;
      }
      this.patch(p.client_id, { state: 'queued', attempts });
      const wait = backoff(attempts, this.o.baseMs ?? 1000, this.o.maxMs ?? 30_000, this.o.random ?? Math.random);
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, wait);
    }
  }

  private patch(clientId: string, patch: Partial<Pending>): void {
    this.items = this.items.map((p) => (p.client_id === clientId ? { ...p, ...patch } : p));
    this.save();
  }

  private save(): void {
    try {
      this.o.storage?.setItem(this.o.key, JSON.stringify(this.items));
    } catch {
      /* storage full or blocked: keep it in memory */
    }
    this.o.onChange?.();
  }
}
