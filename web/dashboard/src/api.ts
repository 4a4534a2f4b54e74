// The agent HTTP API client. A 401 calls `onUnauthorized` (the app goes back to the login
// screen, keeping drafts and queued replies).

import type { RuntimeConfig } from './config';
import type { Agent, AgentStatus, ContactWithConversations, Contact, ConversationView, Message, Page } from './types';
import type { SendResult } from './outbox';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request that never reached the server (network down, server restarting). */
export class NetworkError extends Error {}

export class Api {
  token: string | null = null;

  constructor(
    private readonly cfg: RuntimeConfig,
    private readonly onUnauthorized: (code: string) => void,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.cfg.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : 'network error');
    }
    const text = await res.text().catch(() => '');
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
      const code = err?.code ?? `http_${res.status}`;
      if (res.status === 401 && path !== '/api/v1/auth/login') this.onUnauthorized(code);
      throw new ApiError(res.status, code, err?.message ?? res.statusText);
    }
    return json as T;
  }

  login(email: string, password: string) {
    return this.call<{ token: string; expires_at: string; agent: Agent }>('POST', '/api/v1/auth/login', { email, password });
  }
  me() {
    return this.call<Agent>('GET', '/api/v1/agents/me');
  }
  agents() {
    return this.call<{ items: Agent[] }>('GET', '/api/v1/agents');
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
  patchContact(id: string, patch: { tags?: string[]; attributes?: Record<string, string> }) {
    return this.call<Contact>('PATCH', `/api/v1/contacts/${encodeURIComponent(id)}`, patch);
  }

  /** Sends one queued reply, classifying the outcome for the outbox. */
  async sendReply(conversationId: string, text: string, clientId: string): Promise<SendResult> {
    try {
      return { ok: true, message: await this.reply(conversationId, text, clientId) };
    } catch (e) {
      if (e instanceof NetworkError) return { ok: false, retry: true };
      if (e instanceof ApiError && (e.status >= 500 || e.status === 401 || e.status === 429)) {
        return { ok: false, retry: true };
      }
      return { ok: false, retry: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }
}
