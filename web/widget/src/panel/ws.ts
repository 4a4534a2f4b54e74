// The visitor's live connection: a single-use ticket (POST /ws-ticket) per connect, because a
// browser cannot set headers on a WebSocket and the token must not ride in a URL; a ping every
// 25 s; a link silent for 10 s after a ping counts as dead; reconnect with exponential backoff
// and a new ticket each time. After every `hello` the owner re-reads what it may have missed.

import { backoff } from './outbox';
import type { ServerEvent } from './types';

export type LinkState = 'connecting' | 'open' | 'reconnecting';

export interface SocketLike {
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface LiveOptions {
  ticket: () => Promise<string>;
  url: (ticket: string) => string;
  create?: (url: string) => SocketLike;
  onEvent: (ev: ServerEvent) => void;
  onState: (s: LinkState) => void;
  /** After `hello`: `reconnected` is false on the first connection. */
  onReady: (reconnected: boolean) => void;
  pingMs?: number;
  deadMs?: number;
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

export class Live {
  private sock: SocketLike | null = null;
  private stopped = true;
  private attempt = 0;
  private ready = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private deadTimer: ReturnType<typeof setTimeout> | null = null;
  private gen = 0;

  constructor(private readonly o: LiveOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.teardown();
  }

  /** Reconnect now (the browser is online again, or the session changed). */
  restart(): void {
    if (this.stopped) return;
    this.teardown();
    this.attempt = 0;
    void this.connect();
  }

  /** Skip the backoff wait if one is pending. */
  nudge(): void {
    if (this.stopped || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  private teardown(): void {
    this.gen++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.retryTimer = this.pingTimer = this.deadTimer = null;
    const s = this.sock;
    this.sock = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
  }

  private async connect(): Promise<void> {
    this.o.onState(this.ready > 0 ? 'reconnecting' : 'connecting');
    const gen = this.gen;
    let ticket: string;
    try {
      ticket = await this.o.ticket();
    } catch {
      if (gen === this.gen) this.schedule();
      return;
    }
    if (this.stopped || this.sock || gen !== this.gen) return;
    let s: SocketLike;
    try {
      const url = this.o.url(ticket);
      s = this.o.create ? this.o.create(url) : (new WebSocket(url) as unknown as SocketLike);
    } catch {
      return this.schedule();
    }
    this.sock = s;
    let helloSeen = false;
    s.onmessage = (ev) => {
      if (this.deadTimer) clearTimeout(this.deadTimer);
      this.deadTimer = null;
      let data: ServerEvent;
      try {
        data = JSON.parse(String(ev.data)) as ServerEvent;
      } catch {
        return;
      }
      const hello = (e: ServerEvent): boolean => e?.type === 'hello' || (e?.type === 'batch' && e.events.some(hello));
      if (!helloSeen && hello(data)) {
        helloSeen = true;
        this.attempt = 0;
        this.o.onState('open');
        this.o.onReady(this.ready++ > 0);
      }
      this.o.onEvent(data);
    };
    s.onopen = () => {
      // API Gateway cannot push `hello` at connect: ask for it (the local server sends it
      // unasked too; a second one changes nothing).
      try {
        s.send(JSON.stringify({ action: 'hello' }));
      } catch {
        /* onclose follows */
      }
      this.pingTimer = setInterval(() => this.ping(), this.o.pingMs ?? 25_000);
    };
    s.onclose = () => {
      if (this.sock !== s) return;
      this.teardown();
      this.schedule();
    };
    s.onerror = () => {
      /* onclose follows */
    };
  }

  private ping(): void {
    const s = this.sock;
    if (!s) return;
    try {
      s.send(JSON.stringify({ action: 'ping' }));
    } catch {
      /* onclose follows */
    }
    if (!this.deadTimer) {
      this.deadTimer = setTimeout(() => {
        if (this.sock !== s) return;
        this.teardown();
        this.schedule();
      }, this.o.deadMs ?? 10_000);
    }
  }

  private schedule(): void {
    if (this.stopped || this.retryTimer) return;
    this.o.onState(this.ready > 0 || this.attempt > 0 ? 'reconnecting' : 'connecting');
    const wait = backoff(++this.attempt, this.o.baseMs ?? 500, this.o.maxMs ?? 15_000, this.o.random ?? Math.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, wait);
  }
}
