// The live connection: WebSocket with heartbeat, reconnect with backoff, and a status the
// header shows. Timers and the socket are injectable, so the rules are unit-tested.

import type { ServerEvent } from './types';

export type LinkStatus = 'connecting' | 'open' | 'reconnecting' | 'offline';

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

export interface LiveSocketOptions {
  /**
   * The URL to connect to (with a fresh single-use ticket, or the token), or null when logged
   * out; may be asked for asynchronously (a ticket is fetched for each attempt).
   */
  url: () => string | null | Promise<string | null>;
  create?: (url: string) => SocketLike;
  timers?: Timers;
  random?: () => number;
  pingMs?: number;
  /** No frame at all for this long after a ping: the link is dead. */
  pongTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  onEvent: (ev: ServerEvent) => void;
  onStatus: (s: LinkStatus) => void;
  /** After `hello`: the first connect, or a reconnect (the caller re-fetches what it missed). */
  onReady: (reconnected: boolean) => void;
  /** A connect attempt ended before `hello` (e.g. the token expired: 401 at the upgrade). */
  onFailedAttempt?: (attempt: number) => void;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id as ReturnType<typeof setInterval>),
};

/** Backoff before reconnect attempt `n` (0-based): exponential, capped, with jitter (50–100 %). */
export function backoffDelay(n: number, baseMs: number, maxMs: number, random: () => number): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(n, 20));
  return Math.round(full * (0.5 + random() / 2));
}

export class LiveSocket {
  private socket: SocketLike | null = null;
  private stopped = true;
  private attempt = 0;
  private everReady = false;
  private ready = false;
  private pingTimer: unknown = null;
  private deadTimer: unknown = null;
  private retryTimer: unknown = null;
  private readonly o: Required<Omit<LiveSocketOptions, 'onFailedAttempt'>> & Pick<LiveSocketOptions, 'onFailedAttempt'>;
  status: LinkStatus = 'offline';

  constructor(opts: LiveSocketOptions) {
    this.o = {
      create: (url) => new WebSocket(url) as unknown as SocketLike,
      timers: defaultTimers,
      random: Math.random,
      pingMs: 20_000,
      pongTimeoutMs: 10_000,
      backoffBaseMs: 500,
      backoffMaxMs: 10_000,
      ...opts,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      s.close();
    }
    this.everReady = false;
    this.ready = false;
    this.setStatus('offline');
  }

  /** Reconnects now (e.g. the browser says it is online again), skipping the backoff wait. */
  reconnectNow(): void {
    if (this.stopped || this.ready) return;
    if (this.retryTimer !== null) {
      this.o.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
  }

  private setStatus(s: LinkStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.o.onStatus(s);
  }

  private clearTimers(): void {
    const t = this.o.timers;
    if (this.pingTimer !== null) t.clearInterval(this.pingTimer);
    if (this.deadTimer !== null) t.clearTimeout(this.deadTimer);
    if (this.retryTimer !== null) t.clearTimeout(this.retryTimer);
    this.pingTimer = this.deadTimer = this.retryTimer = null;
  }

  private connect(): void {
    const url = this.o.url();
    if (url instanceof Promise) {
      this.setStatus(this.everReady ? 'reconnecting' : 'connecting');
      url.then(
        (u) => {
          if (!this.stopped) this.open(u);
        },
        () => {
          if (!this.stopped) this.scheduleRetry();
        },
      );
      return;
    }
    this.open(url);
  }

  private open(url: string | null): void {
    if (url === null) {
      this.stop();
      return;
    }
    this.setStatus(this.everReady ? 'reconnecting' : 'connecting');
    let s: SocketLike;
    try {
      s = this.o.create(url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = s;
    this.ready = false;
    // API Gateway cannot push `hello` at connect: ask for it (the local server sends it anyway;
    // a second `hello` on a ready socket is ignored).
    s.onopen = () => {
      try {
        s.send('{"action":"hello"}');
      } catch {
        /* onclose follows */
      }
    };
    s.onmessage = (ev) => this.onFrame(ev.data);
    s.onclose = () => this.onClosed(s);
    s.onerror = () => {
      /* onclose follows */
    };
  }

  private onFrame(data: unknown): void {
    this.armDeadline(); // any frame proves the link is alive
    if (typeof data !== 'string') return;
    let ev: ServerEvent;
    try {
      ev = JSON.parse(data) as ServerEvent;
    } catch {
      return;
    }
    this.dispatch(ev);
  }

  /** One event; a `batch` frame's events one by one, in order (they may include `hello`). */
  private dispatch(ev: ServerEvent): void {
    if (ev === null || typeof ev !== 'object') return;
    if (ev.type === 'batch') {
      for (const inner of Array.isArray(ev.events) ? ev.events : []) this.dispatch(inner);
      return;
    }
    if (ev.type === 'hello') {
      if (this.ready) return;
      const reconnected = this.everReady;
      this.everReady = true;
      this.ready = true;
      this.attempt = 0;
      this.startHeartbeat();
      this.setStatus('open');
      this.o.onReady(reconnected);
      return;
    }
    if (ev.type === 'pong') return;
    this.o.onEvent(ev);
  }

  private startHeartbeat(): void {
    const t = this.o.timers;
    if (this.pingTimer !== null) t.clearInterval(this.pingTimer);
    this.pingTimer = t.setInterval(() => {
      const s = this.socket;
      if (!s || s.readyState !== 1) return;
      try {
        s.send(JSON.stringify({ action: 'ping' }));
      } catch {
        /* onclose follows */
      }
      this.armDeadline(this.o.pongTimeoutMs);
    }, this.o.pingMs);
    this.armDeadline();
  }

  /**
   * Closes the link when nothing at all arrives in time: `pongTimeoutMs` after a ping, or
   * ping + timeout after the last frame.
   */
  private armDeadline(ms: number = this.o.pingMs + this.o.pongTimeoutMs): void {
    const t = this.o.timers;
    if (this.deadTimer !== null) t.clearTimeout(this.deadTimer);
    if (!this.ready) {
      this.deadTimer = null;
      return;
    }
    this.deadTimer = t.setTimeout(() => {
      const s = this.socket;
      if (s) this.onClosed(s);
    }, ms);
  }

  private onClosed(s: SocketLike): void {
    if (s !== this.socket) return;
    s.onclose = s.onmessage = s.onerror = s.onopen = null;
    try {
      s.close();
    } catch {
      /* already closed */
    }
    this.socket = null;
    const wasReady = this.ready;
    this.ready = false;
    this.clearTimers();
    if (this.stopped) return;
    if (!wasReady) this.o.onFailedAttempt?.(this.attempt);
    if (this.stopped) return; // the callback may have logged out
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.setStatus(this.everReady ? 'reconnecting' : 'connecting');
    const delay = backoffDelay(this.attempt, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.random);
    this.attempt += 1;
    this.retryTimer = this.o.timers.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}
