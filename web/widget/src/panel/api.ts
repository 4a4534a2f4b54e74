// The /web/v1 client. Cross-origin, no cookies; the visitor token rides in the Authorization
// header and lives in localStorage under `omnidesk:<website id>` (never in a URL). A 401 on any
// call drops the token, creates a new session and repeats the call once.

import { tokenKey } from '../common';
import type { SessionCreated } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The request never got an HTTP answer (offline, DNS, CORS refusal, timeout). */
export class NetworkError extends Error {}

export interface ApiOptions {
  base: string;
  /** The visitor WebSocket URL; default `base` as ws(s) + `/ws`. */
  wsUrl?: string;
  websiteId: string;
  storage: { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void } | null;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** A session was created or refreshed; `replaced` when an old token was refused (new visitor). */
  onSession?: (s: SessionCreated, replaced: boolean) => void;
}

export class Api {
  private memToken: string | null = null;
  private creating: Promise<SessionCreated> | null = null;
  private readonly f: typeof fetch;

  constructor(private readonly o: ApiOptions) {
    this.f = o.fetch ?? ((...a) => fetch(...a));
  }

  token(): string | null {
    try {
      return this.o.storage?.getItem(tokenKey(this.o.websiteId)) ?? this.memToken;
    } catch {
      return this.memToken;
    }
  }

  private setToken(t: string | null): void {
    this.memToken = t;
    try {
      if (t) this.o.storage?.setItem(tokenKey(this.o.websiteId), t);
      else this.o.storage?.removeItem(tokenKey(this.o.websiteId));
    } catch {
      /* memory only */
    }
  }

  private async raw(method: string, path: string, body: unknown, token: string | null): Promise<Response> {
    const form = typeof FormData === 'function' && body instanceof FormData;
    const headers: Record<string, string> = {};
    if (body !== undefined && !form) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const t = ctl ? setTimeout(() => ctl.abort(), form ? 120_000 : this.o.timeoutMs ?? 15_000) : null;
    try {
      return await this.f(`${this.o.base}/web/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : form ? (body as FormData) : JSON.stringify(body),
        credentials: 'omit',
        mode: 'cors',
        cache: 'no-store',
        signal: ctl?.signal,
      });
    } catch (e) {
      throw new NetworkError(String(e));
    } finally {
      if (t) clearTimeout(t);
    }
  }

  private static async fail(r: Response): Promise<ApiError> {
    let code = `http_${r.status}`;
    let message = r.statusText || code;
    try {
      const j = (await r.json()) as { error?: { code?: string; message?: string } };
      if (j?.error?.code) code = j.error.code;
      if (j?.error?.message) message = j.error.message;
    } catch {
      /* not JSON */
    }
    return new ApiError(r.status, code, message);
  }

  /**
   * POST /sessions: refreshes the held token (same visitor, sliding expiry) or creates a new
   * visitor. Concurrent callers share one request.
   */
  session(replacing = false): Promise<SessionCreated> {
    if (this.creating) return this.creating;
    this.creating = (async () => {
      const held = this.token();
      let r = await this.raw('POST', '/sessions', { website_id: this.o.websiteId }, held);
      let replaced = replacing;
      if (r.status === 401 && held) {
        this.setToken(null);
        replaced = true;
        r = await this.raw('POST', '/sessions', { website_id: this.o.websiteId }, null);
      }
      if (!r.ok) throw await Api.fail(r);
      const s = (await r.json()) as SessionCreated;
      this.setToken(s.visitor_token);
      this.o.onSession?.(s, replaced);
      return s;
    })().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  /** A call with the token (a FormData body goes as multipart); creates a session first when none is held; 401 → new session, once. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let token = this.token();
    if (!token) token = (await this.session()).visitor_token;
    let r = await this.raw(method, path, body, token);
    if (r.status === 401) {
      if (this.token() === token) this.setToken(null); // not already replaced by a concurrent call
      const again = this.token() ?? (await this.session(true)).visitor_token;
      r = await this.raw(method, path, body, again);
    }
    if (!r.ok) throw await Api.fail(r);
    if (r.status === 204) return undefined as T;
    const text = await r.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  wsUrl(ticket: string): string {
    const url = this.o.wsUrl ?? `${this.o.base.replace(/^http/, 'ws')}/ws`;
    return `${url}${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
  }
}
