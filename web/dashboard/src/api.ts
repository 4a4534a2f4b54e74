// The agent HTTP API client. The access token lives in memory only and for minutes; the
// refresh token is an HttpOnly cookie the page never sees. A request the session refuses (a 401
// such as `token_expired`) is sent once more after one refresh; when the refresh is refused too,
// `onUnauthorized` is called (the app goes back to the sign-in page, keeping drafts and queued
// replies). The token is also renewed ahead of its expiry, so an idle dashboard meets no 401.

import type { RuntimeConfig } from './config';
import { toMs } from './triage';
import type { Agent, AgentStatus, AiCall, Role, Bot, CannedResponse, Contact, ContactWithConversations, ConversationView, ErasureCounts, FaqEntry, FaqInput, HistorySummary, Message, Page, Priority, ReportSummary, RulesDoc, RulesFormat, Suggestion, Team, Time, TranslationPreview } from './types';
import type { SendResult } from './outbox';
import { replyForm } from './attachments';
import { contactExportName } from './erasure';

/** Upload progress: bytes sent so far of `total`. */
export type Progress = (sent: number, total: number) => void;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The rest of the error object (`line`, `column` of an `invalid_rules`). */
    readonly detail: Readonly<Record<string, unknown>> = {},
    /** Seconds to wait from `Retry-After` (a 429 `too_many_attempts`); null when not sent or not readable. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

/** `Retry-After` in whole seconds (at least 1), or null: absent, an HTTP date, or not a number. */
export function retryAfterSecs(header: string | null | undefined): number | null {
  if (!header || !/^\s*\d+\s*$/.test(header)) return null;
  return Math.max(1, parseInt(header, 10));
}

/** A request that never reached the server (network down, server restarting). */
export class NetworkError extends Error {}

/** The two-factor sign-in endpoints of the signed-in agent (`/agents/me/totp`, `…/confirm`, `…/disable`). */
const TOTP_PATH = '/api/v1/agents/me/totp';
/** A 401 of the two-factor endpoints with one of these codes refuses the password or code typed, not the session. */
const TYPED_REFUSALS = new Set(['bad_credentials', 'invalid_credentials', 'wrong_password', 'bad_totp', 'invalid_code']);

/**
 * Whether a 401 of `path` refuses what was typed (a sign-in; a wrong password or code in the
 * two-factor forms) rather than the session: such a 401 never signs the dashboard out.
 */
export function typedSecretRefused(path: string, code: string): boolean {
  if (path === '/api/v1/auth/login') return true;
  return (path === TOTP_PATH || path.startsWith(`${TOTP_PATH}/`)) && TYPED_REFUSALS.has(code);
}

/** The answer of a sign-in, a refresh and a password change (the refresh token is in the cookie). */
export interface SignedIn {
  token: string;
  expires_at?: Time;
  refresh_expires_at?: Time;
  agent: Agent;
}

/** The body of `PATCH /agents/{id}`: only the fields given change; `teams` is all of the agent's teams (`[]`: none). */
export interface AgentPatch {
  role?: Role;
  disabled?: boolean;
  teams?: string[];
}

/** A signed-in session as the dashboard holds it: in memory only. */
export interface Session {
  token: string;
  agent: Agent;
  /** When `token` expires, on this machine's clock (ms since the epoch); null or absent: not said. */
  expiresAt?: number | null;
}

const LOGIN_PATH = '/api/v1/auth/login';
const REFRESH_PATH = '/api/v1/auth/refresh';
const LOGOUT_PATH = '/api/v1/auth/logout';
const PASSWORD_PATH = '/api/v1/agents/me/password';
/**
 * The answers that set or clear the refresh cookie. They are sent with `credentials: 'include'`:
 * without it a browser ignores the cookie of an API on another origin (`apiBase`).
 */
const COOKIE_PATHS = new Set([LOGIN_PATH, REFRESH_PATH, LOGOUT_PATH, PASSWORD_PATH]);

/**
 * The Web Lock under which the tabs of this browser refresh one at a time: they share the cookie,
 * and each refresh token works once, so two tabs refreshing with the same one would leave one of
 * them (and, as a refused refresh clears the cookie, maybe both) signed out.
 */
export const REFRESH_LOCK = 'omnidesk-refresh';
/** When a tab of this browser last refreshed and which (`<ms>:<tab>`, localStorage; not a secret). */
export const REFRESHED_KEY = 'omnidesk.refreshedAt';
/** This page's name in `REFRESHED_KEY`. */
const TAB = Math.random().toString(36).slice(2);
/**
 * A refresh refused with `no_session` right after another tab refreshed (the cookie it sent was
 * rotated meanwhile) tries once more after this pause, with the cookie the other tab got.
 */
export const RACE_PAUSE_MS = 500;
/** How recent another tab's refresh must be to explain a `no_session`. */
const RACE_WINDOW_MS = 5_000;
/** The soonest a renewal ahead of expiry runs: a very short or already past expiry does not spin. */
export const MIN_RENEW_MS = 5_000;
/** Offline or the server failing: the renewal ahead of expiry tries again after this long. */
export const RENEW_RETRY_MS = 10_000;

/** When to renew a token that expires in `leftMs`: at 80 % of that, but not sooner than 5 s. */
export function renewDelay(leftMs: number): number {
  return Math.max(MIN_RENEW_MS, Math.floor(leftMs * 0.8));
}

/**
 * Whether a failed refresh settles it: the server refused (4xx: no session, ended, too old, a
 * server without refresh), so the agent signs in again. Offline, 429 and 5xx may pass.
 */
function refusedForGood(e: unknown): e is ApiError {
  return e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429;
}

/** Whether another tab of this browser refreshed within the last few seconds. */
function otherTabRefreshedLately(): boolean {
  const [at, tab] = (storage()?.getItem(REFRESHED_KEY) ?? '').split(':');
  const ms = Number(at);
  return tab !== undefined && tab !== TAB && Number.isFinite(ms) && Math.abs(Date.now() - ms) < RACE_WINDOW_MS;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage blocked
  }
}

export class Api {
  /** The access token: in memory only. */
  token: string | null = null;
  /** When `token` expires, on this machine's clock (ms); null: not known (no renewal ahead). */
  private expiresAt: number | null = null;
  /** The server's clock minus this machine's (from `Date` headers): a wrong clock here must not matter. */
  private skewMs = 0;
  /** The refresh in flight: every caller refused meanwhile waits for this one. */
  private renewing: Promise<Session> | null = null;
  /** Whether to renew ahead of expiry (between the controller's start and stop). */
  private ahead = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by `forget`: a refresh answered after the sign-out is not taken. */
  private era = 0;

  constructor(
    private readonly cfg: RuntimeConfig,
    private readonly onUnauthorized: (code: string) => void,
  ) {}

  /** The session of a sign-in, refresh or password change answer, its expiry on this machine's clock. */
  sessionOf(s: SignedIn): Session {
    const expires = toMs(s.expires_at);
    return { token: s.token, agent: s.agent, expiresAt: expires === null ? null : expires - this.skewMs };
  }

  /** Holds `s`'s token (and plans its renewal, when renewing ahead). */
  adopt(s: Pick<Session, 'token' | 'expiresAt'>): void {
    this.token = s.token;
    this.expiresAt = s.expiresAt ?? null;
    this.plan();
  }

  /** Drops the token and stops renewing (signed out). */
  forget(): void {
    this.era++;
    this.token = null;
    this.expiresAt = null;
    this.stopRenewing();
  }

  /** Renews the token shortly before it expires, until `stopRenewing`. */
  startRenewing(): void {
    this.ahead = true;
    this.plan();
  }

  stopRenewing(): void {
    this.ahead = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private plan(delay?: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.ahead || !this.token || this.expiresAt === null) return;
    this.timer = setTimeout(() => void this.renewAhead(), delay ?? renewDelay(this.expiresAt - Date.now()));
  }

  /** The renewal ahead of expiry: a refusal signs out; offline, it tries again a little later. */
  private async renewAhead(): Promise<void> {
    this.timer = null;
    try {
      await this.refresh();
    } catch (e) {
      if (refusedForGood(e)) this.onUnauthorized(e.code);
      else this.plan(RENEW_RETRY_MS);
    }
  }

  /**
   * Trades the refresh cookie for a new access token (and a new cookie): `POST /auth/refresh`.
   * Callers at the same time share one request, and the tabs of the browser take turns (Web
   * Locks, where the browser has them). Throws ApiError 401 `no_session` (no cookie, or used or
   * expired), `session_ended` (signed out, password or role changed, disabled) or
   * `session_too_old`, 403 `cross_site`, or NetworkError. Never calls `onUnauthorized` itself.
   */
  refresh(): Promise<Session> {
    if (!this.renewing) this.renewing = this.exchange().finally(() => (this.renewing = null));
    return this.renewing;
  }

  private async exchange(): Promise<Session> {
    const era = this.era;
    const held = this.token !== null;
    const run = async (): Promise<SignedIn> => {
      try {
        return await this.postRefresh();
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'no_session')) throw e;
        // Another tab may have sent the same refresh token at the same time (a browser without
        // Web Locks) and got the new cookie: once more, with that one. A tab that held a session
        // waits for the other tab's answer, which may still be on its way; a tab that held none
        // only when another tab refreshed just now.
        if (held || otherTabRefreshedLately()) await pause(RACE_PAUSE_MS);
        if (!otherTabRefreshedLately()) throw e;
        return this.postRefresh();
      }
    };
    const locks = typeof navigator !== 'undefined' ? (navigator as { locks?: LockManager }).locks : undefined;
    const answer = locks ? await locks.request(REFRESH_LOCK, run) : await run();
    const session = this.sessionOf(answer);
    if (era === this.era) this.adopt(session);
    return session;
  }

  private async postRefresh(): Promise<SignedIn> {
    const answer = await this.send<SignedIn | null>('POST', REFRESH_PATH);
    if (!answer || typeof answer.token !== 'string' || !answer.agent) throw new ApiError(502, 'bad_answer', 'the refresh answer holds no token');
    storage()?.setItem(REFRESHED_KEY, `${Date.now()}:${TAB}`);
    return answer;
  }

  /** Whether `e` is the session refusing a request of `path` (not a refused password or code). */
  private sessionRefused(path: string, e: unknown): e is ApiError {
    return e instanceof ApiError && e.status === 401 && path !== REFRESH_PATH && path !== LOGOUT_PATH && !typedSecretRefused(path, e.code);
  }

  /**
   * Runs `attempt`; when the session refuses it, renews the token (one refresh for every caller
   * refused meanwhile; none when it was renewed since this was sent) and runs it once more. A
   * refresh refused for good calls `onUnauthorized` with the most telling code: the refresh's,
   * or the request's when the refresh only says there is no session (`no_session`).
   */
  private async withSession<T>(path: string, attempt: () => Promise<T>): Promise<T> {
    const sent = this.token;
    try {
      return await attempt();
    } catch (e) {
      if (!this.sessionRefused(path, e)) throw e;
      if (this.token === sent) {
        try {
          await this.refresh();
        } catch (r) {
          if (!refusedForGood(r)) throw r;
          this.onUnauthorized(r.status === 401 && r.code !== 'no_session' ? r.code : e.code);
          throw e;
        }
      }
      try {
        return await attempt();
      } catch (again) {
        if (this.sessionRefused(path, again)) this.onUnauthorized(again.code);
        throw again;
      }
    }
  }

  private call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.withSession(path, () => this.send<T>(method, path, body, signal));
  }

  /** One request, as it goes: its JSON, or the ApiError / NetworkError (nothing renewed here). */
  private async send<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // A refresh goes by its cookie alone: the token it replaces may be expired, and is not needed.
    if (this.token && path !== REFRESH_PATH) headers.Authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal };
    if (COOKIE_PATHS.has(path)) init.credentials = 'include';
    let res: Response;
    try {
      res = await fetch(this.cfg.apiBase + path, init);
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : 'network error');
    }
    this.noteClock(res.headers.get('date'));
    const text = await res.text().catch(() => '');
    if (!res.ok) throw this.failure(res.status, res.statusText, text, res.headers.get('retry-after'));
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return json as T;
  }

  /** The server's clock from a `Date` header (not readable across origins unless exposed: then none). */
  private noteClock(date: string | null | undefined): void {
    const at = date ? Date.parse(date) : NaN;
    if (Number.isFinite(at)) this.skewMs = at - Date.now();
  }

  /**
   * The error of a non-2xx answer (`{error: {code, message}}`, `{error: "code", message}`,
   * `{error: "message"}`, or the status alone).
   */
  private failure(status: number, statusText: string, text: string, retryAfter: string | null = null): ApiError {
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    const raw = (json as { error?: { code?: string; message?: string } | string } | null)?.error;
    const flat = (json as { message?: unknown } | null)?.message;
    const err =
      typeof raw === 'string'
        ? typeof flat === 'string' && flat
          ? { code: raw, message: flat }
          : { message: raw, code: undefined }
        : raw;
    const code = err?.code ?? `http_${status}`;
    const detail = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    return new ApiError(status, code, err?.message ?? (statusText || code), detail, retryAfterSecs(retryAfter));
  }

  /**
   * A multipart POST through XMLHttpRequest, the one browser API that reports upload progress.
   * Errors and renewal as `call` (ApiError with the server's code and message, NetworkError).
   */
  private upload<T>(path: string, form: FormData, onProgress?: Progress): Promise<T> {
    return this.withSession(path, () => this.sendForm<T>(path, form, onProgress));
  }

  private sendForm<T>(path: string, form: FormData, onProgress?: Progress): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', this.cfg.apiBase + path);
      xhr.setRequestHeader('Accept', 'application/json');
      if (this.token) xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      if (onProgress && xhr.upload) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
      xhr.onerror = () => reject(new NetworkError('network error'));
      xhr.ontimeout = () => reject(new NetworkError('timeout'));
      xhr.onabort = () => reject(new NetworkError('aborted'));
      xhr.onload = () => {
        const text = typeof xhr.responseText === 'string' ? xhr.responseText : '';
        this.noteClock(xhr.getResponseHeader?.('date'));
        if (xhr.status < 200 || xhr.status >= 300) return reject(this.failure(xhr.status, xhr.statusText, text));
        try {
          resolve((text ? JSON.parse(text) : null) as T);
        } catch {
          reject(new ApiError(xhr.status, 'bad_json', 'the server answered something that is not JSON'));
        }
      };
      xhr.send(form);
    });
  }

  /**
   * Signs in. `totp`: the code of the authenticator app, for an account with two-factor sign-in
   * on (without it such an account is refused with 401 `totp_required`; a wrong or reused code:
   * 401 `bad_totp`).
   */
  login(email: string, password: string, totp?: string) {
    return this.call<SignedIn>('POST', LOGIN_PATH, totp === undefined ? { email, password } : { email, password, totp });
  }
  /**
   * Starts setting up two-factor sign-in: a new key, not in force until confirmed.
   * `{secret, otpauth_url}` (read with `parseTotpSetup`); 401 `bad_credentials` for a wrong password.
   */
  totpSetup(password: string) {
    return this.call<unknown>('POST', TOTP_PATH, { password });
  }
  /** Turns two-factor sign-in on with a code of the key set up: `{totp: true}`; 400 `invalid_code`. */
  totpConfirm(code: string) {
    return this.call<{ totp?: boolean } | null>('POST', `${TOTP_PATH}/confirm`, { code });
  }
  /** Turns two-factor sign-in off: `{totp: false}`; 401 `bad_credentials`, 400 `invalid_code`. */
  totpDisable(password: string, code: string) {
    return this.call<{ totp?: boolean } | null>('POST', `${TOTP_PATH}/disable`, { password, code });
  }
  /** A single-use WebSocket ticket (60 s) to connect with instead of the token. */
  wsTicket() {
    return this.call<{ ticket: string; expires_at: string }>('POST', '/api/v1/auth/ws-ticket');
  }
  /**
   * Ends every session of the signed-in agent, on every device (204), and clears this browser's
   * refresh cookie. Sent with the token, or with the cookie alone once the token has expired (the
   * server takes either): never renewed first.
   */
  logout() {
    return this.send<null>('POST', LOGOUT_PATH);
  }
  /** Changes my password: a new token and refresh cookie (every other session ends); 403 `wrong_password`, 400, 429. */
  changePassword(currentPassword: string, newPassword: string) {
    return this.call<SignedIn>('PUT', PASSWORD_PATH, { current_password: currentPassword, new_password: newPassword });
  }
  /**
   * Changes an agent's role, access or teams (admins). A role or access change ends their
   * sessions; a team change does not. 409 `last_admin`, 409 `unknown_team`.
   */
  patchAgent(id: string, patch: AgentPatch) {
    return this.call<Agent>('PATCH', `/api/v1/agents/${encodeURIComponent(id)}`, patch);
  }
  me() {
    return this.call<Agent>('GET', '/api/v1/agents/me');
  }
  agents() {
    return this.call<{ items: Agent[] }>('GET', '/api/v1/agents');
  }
  /** The deployment's Telegram bots (`GET /bots`). */
  bots() {
    return this.call<{ items: Bot[] }>('GET', '/api/v1/bots');
  }
  setStatus(status: AgentStatus) {
    return this.call<Agent>('PUT', '/api/v1/agents/me/status', { status });
  }
  conversations(query: Record<string, string>, cursor: string | null, limit = 25) {
    const q = new URLSearchParams({ ...query, limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    return this.call<Page<ConversationView>>('GET', `/api/v1/conversations?${q}`);
  }
  conversation(id: string) {
    return this.call<ConversationView>('GET', `/api/v1/conversations/${encodeURIComponent(id)}`);
  }
  messages(id: string, cursor: string | null, limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    return this.call<Page<Message>>('GET', `/api/v1/conversations/${encodeURIComponent(id)}/messages?${q}`);
  }
  reply(id: string, text: string, clientId: string) {
    return this.call<Message>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/messages`, { text, client_id: clientId });
  }
  /** A reply with files (multipart): `text` may be empty. */
  replyWithFiles(id: string, text: string, clientId: string, files: readonly File[], onProgress?: Progress) {
    return this.upload<Message>(`/api/v1/conversations/${encodeURIComponent(id)}/messages`, replyForm(text, clientId, files), onProgress);
  }
  /** Upload limits per channel (`GET /api/v1/limits`; read with `parseLimits`). */
  limits() {
    return this.call<unknown>('GET', '/api/v1/limits');
  }
  /** The sanitised HTML body of an e-mail (404 `not_found` when it has none). */
  emailHtml(id: string, messageId: string) {
    return this.call<{ html: string }>('GET', `/api/v1/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/html`);
  }
  assign(id: string, agentId: string | null) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/assign`, { agent_id: agentId });
  }
  resolve(id: string) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/resolve`);
  }
  reopen(id: string) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/reopen`);
  }
  contact(id: string) {
    return this.call<ContactWithConversations>('GET', `/api/v1/contacts/${encodeURIComponent(id)}`);
  }
  /** Merges contact `from` into `into` (`from` stays as a pointer, `merged_into`). */
  mergeContacts(into: string, from: string) {
    return this.call<Contact | ContactWithConversations>('POST', `/api/v1/contacts/${encodeURIComponent(into)}/merge`, { from });
  }
  /** The deployment's translation setup (`enabled`, providers, daily quota); read with `parseTranslationSetup`. */
  translationSetup() {
    return this.call<unknown>('GET', '/api/v1/translation');
  }
  /** Sets the signed-in agent's own language and the others they read. */
  setMyLanguages(language: string, reads: string[]) {
    return this.call<Agent>('PUT', '/api/v1/agents/me/languages', { language, reads });
  }
  /** Overrides the customer's language of a conversation (replies are translated into it). */
  setConversationLanguage(id: string, language: string) {
    return this.call<ConversationView>('PUT', `/api/v1/conversations/${encodeURIComponent(id)}/language`, { language });
  }
  /** What the customer would receive for `text`; `signal` cancels a preview gone stale. */
  translationPreview(id: string, text: string, signal?: AbortSignal) {
    return this.call<TranslationPreview>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/translation-preview`, { text }, signal);
  }
  /** Sends a reply held for its translation as written (untranslated). */
  sendOriginal(id: string, messageId: string) {
    return this.call<Message>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/send-original`);
  }
  /** Translates a held reply again. */
  retryTranslation(id: string, messageId: string) {
    return this.call<Message>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/retry-translation`);
  }
  /** The deployment's AI (`GET /api/v1/ai`; 404 on a server without it). */
  aiSetup() {
    return this.call<unknown>('GET', '/api/v1/ai');
  }
  /** Brings the conversation's summary up to date now. */
  summarise(id: string) {
    return this.call<{ summary: HistorySummary | null }>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/assist/summary`);
  }
  /** A reply suggestion for the agent (never sent by itself). */
  suggestReply(id: string) {
    return this.call<Suggestion>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/assist/suggestion`);
  }
  /** Gives a conversation back to the bot and the AI. */
  handBack(id: string) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/hand-back`);
  }
  faqList() {
    return this.call<{ version: number; entries: FaqEntry[] }>('GET', '/api/v1/faq');
  }
  faqCreate(entry: FaqInput) {
    return this.call<FaqEntry>('POST', '/api/v1/faq', entry);
  }
  faqUpdate(id: string, entry: FaqInput) {
    return this.call<FaqEntry>('PUT', `/api/v1/faq/${encodeURIComponent(id)}`, entry);
  }
  faqDelete(id: string) {
    return this.call<null>('DELETE', `/api/v1/faq/${encodeURIComponent(id)}`);
  }
  /** The AI's calls, newest first; of one conversation when `conversationId` is given. */
  aiCalls(limit = 50, conversationId?: string) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (conversationId) q.set('conversation_id', conversationId);
    return this.call<{ calls: AiCall[] }>('GET', `/api/v1/ai/calls?${q}`);
  }
  /** Saved replies, ordered by shortcut. */
  canned() {
    return this.call<CannedResponse[]>('GET', '/api/v1/canned');
  }
  putCanned(shortcut: string, text: string) {
    return this.call<CannedResponse>('PUT', `/api/v1/canned/${encodeURIComponent(shortcut)}`, { text });
  }
  deleteCanned(shortcut: string) {
    return this.call<null>('DELETE', `/api/v1/canned/${encodeURIComponent(shortcut)}`);
  }
  /** A private note (never sent to the customer); `mentioned`: the agents it notified. */
  addNote(id: string, text: string) {
    return this.call<{ message: Message; mentioned?: string[] }>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/notes`, { text });
  }
  setLabels(id: string, labels: string[]) {
    return this.call<ConversationView>('PUT', `/api/v1/conversations/${encodeURIComponent(id)}/labels`, { labels });
  }
  setPriority(id: string, priority: Priority) {
    return this.call<ConversationView>('PUT', `/api/v1/conversations/${encodeURIComponent(id)}/priority`, { priority });
  }
  /** Snoozes until `until` (milliseconds since the epoch). */
  snooze(id: string, until: number) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/snooze`, { until });
  }
  unsnooze(id: string) {
    return this.call<ConversationView>('DELETE', `/api/v1/conversations/${encodeURIComponent(id)}/snooze`);
  }
  markRead(id: string) {
    return this.call<ConversationView>('POST', `/api/v1/conversations/${encodeURIComponent(id)}/read`);
  }
  /** `GET /reports/summary?…` (`query` from `reportQuery`). */
  report(query: Record<string, string>) {
    return this.call<ReportSummary>('GET', `/api/v1/reports/summary?${new URLSearchParams(query)}`);
  }
  /** The routing rules in force (`GET /rules`; read with `parseRulesDoc`). */
  rules() {
    return this.call<unknown>('GET', '/api/v1/rules');
  }
  /** Checks and stores the rules over `version` (the one read): 422 `invalid_rules`, 409 `version_conflict`. */
  putRules(source: string, format: RulesFormat, version: number) {
    return this.call<RulesDoc>('PUT', '/api/v1/rules', { source, format, version });
  }
  /** The teams (`GET /teams`; read with `parseTeams`). */
  teams() {
    return this.call<unknown>('GET', '/api/v1/teams');
  }

  /**
   * A file the API serves to agents (a report as CSV): fetched with the bearer token (it is never
   * put in a URL), as a Blob and the name its `Content-Disposition` gives (else `fallbackName`).
   */
  download(path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
    return this.withSession(path, () => this.fetchFile(path, fallbackName));
  }

  private async fetchFile(path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.cfg.apiBase + path, { headers });
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : 'network error');
    }
    this.noteClock(res.headers.get('date'));
    if (!res.ok) throw this.failure(res.status, res.statusText, await res.text().catch(() => ''));
    const disposition = res.headers.get('content-disposition') ?? '';
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    let filename = fallbackName;
    if (named) {
      try {
        filename = decodeURIComponent(named[1]);
      } catch {
        filename = named[1];
      }
    }
    return { blob: await res.blob(), filename };
  }
  patchContact(id: string, patch: { tags?: string[]; attributes?: Record<string, string> }) {
    return this.call<Contact>('PATCH', `/api/v1/contacts/${encodeURIComponent(id)}`, patch);
  }
  /**
   * Everything stored about a contact as a JSON archive (admins; right of access): the file as
   * `download` gives it, named `contact-<id>.json` unless the answer names it.
   */
  exportContact(id: string) {
    return this.download(`/api/v1/contacts/${encodeURIComponent(id)}/export`, contactExportName(id));
  }
  /**
   * Erases a contact for good (admins; right of erasure): the contact, their identities, every
   * conversation, message and file. `{"erased": {contact, conversations, messages, files}}`;
   * 404 for an unknown contact. Read the answer with `parseErasure`.
   */
  eraseContact(id: string) {
    return this.call<{ erased?: ErasureCounts } | null>('DELETE', `/api/v1/contacts/${encodeURIComponent(id)}`);
  }

  /** Sends one queued reply, classifying the outcome for the outbox. */
  async sendReply(conversationId: string, text: string, clientId: string, files: readonly File[] = [], onProgress?: Progress): Promise<SendResult> {
    try {
      const message = files.length
        ? await this.replyWithFiles(conversationId, text, clientId, files, onProgress)
        : await this.reply(conversationId, text, clientId);
      return { ok: true, message };
    } catch (e) {
      if (e instanceof NetworkError) return { ok: false, retry: true };
      if (e instanceof ApiError && (e.status >= 500 || e.status === 401 || e.status === 429)) {
        return { ok: false, retry: true };
      }
      return { ok: false, retry: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }
}
