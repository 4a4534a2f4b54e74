// The agent HTTP API client. A 401 calls `onUnauthorized` (the app goes back to the login
// screen, keeping drafts and queued replies).

import type { RuntimeConfig } from './config';
import type { Agent, AgentStatus, AiCall, Role, Bot, CannedResponse, Contact, ContactWithConversations, ConversationView, ErasureCounts, FaqEntry, FaqInput, HistorySummary, Message, Page, Priority, ReportSummary, RulesDoc, RulesFormat, Suggestion, Team, TranslationPreview } from './types';
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

export class Api {
  token: string | null = null;

  constructor(
    private readonly cfg: RuntimeConfig,
    private readonly onUnauthorized: (code: string) => void,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.cfg.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : 'network error');
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw this.failure(res.status, res.statusText, text, path, res.headers.get('retry-after'));
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return json as T;
  }

  /**
   * The error of a non-2xx answer (`{error: {code, message}}`, `{error: "code", message}`,
   * `{error: "message"}`, or the status alone).
   */
  private failure(status: number, statusText: string, text: string, path: string, retryAfter: string | null = null): ApiError {
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
    if (status === 401 && !typedSecretRefused(path, code)) this.onUnauthorized(code);
    const detail = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    return new ApiError(status, code, err?.message ?? (statusText || code), detail, retryAfterSecs(retryAfter));
  }

  /**
   * A multipart POST through XMLHttpRequest, the one browser API that reports upload progress.
   * Errors as `call` (ApiError with the server's code and message, NetworkError).
   */
  private upload<T>(path: string, form: FormData, onProgress?: Progress): Promise<T> {
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
        if (xhr.status < 200 || xhr.status >= 300) return reject(this.failure(xhr.status, xhr.statusText, text, path));
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
    return this.call<{ token: string; expires_at: string; agent: Agent }>('POST', '/api/v1/auth/login', totp === undefined ? { email, password } : { email, password, totp });
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
  /** Ends every session of the signed-in agent, on every device (204). */
  logout() {
    return this.call<null>('POST', '/api/v1/auth/logout');
  }
  /** Changes my password: a new token (every other session ends); 403 `wrong_password`, 400, 429. */
  changePassword(currentPassword: string, newPassword: string) {
    return this.call<{ token: string; expires_at: string; agent: Agent }>('PUT', '/api/v1/agents/me/password', { current_password: currentPassword, new_password: newPassword });
  }
  /** Changes an agent's role or access (admins); their sessions end. 409 `last_admin`. */
  patchAgent(id: string, patch: { role?: Role; disabled?: boolean }) {
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
  async download(path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.cfg.apiBase + path, { headers });
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : 'network error');
    }
    if (!res.ok) throw this.failure(res.status, res.statusText, await res.text().catch(() => ''), path);
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
