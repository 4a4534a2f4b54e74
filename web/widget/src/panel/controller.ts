// The panel's state and every action on it, without DOM (unit-tested with a fake fetch and a
// fake WebSocket). The view (ui.ts) subscribes and renders.

import { outboxKey, stateKey, readState, type SiteUser, type StoredState } from '../common';
import { Api, ApiError } from './api';
import { Outbox, backoff, type Pending, type SendResult } from './outbox';
import { countUnread, fromAgent, hasGap, mergeMessages, needsLinks, newestAgentAt } from './state';
import type { MessagePage, ServerEvent, Session, SessionCreated, TelegramLink, UploadedFile, WebButton, WebMessage, Website } from './types';
import { Live, type LinkState, type SocketLike } from './ws';

export type Phase = 'starting' | 'ready' | 'unavailable' | 'refused';

export interface ViewState {
  phase: Phase;
  link: LinkState | 'offline';
  website: Website | null;
  session: Session | null;
  messages: WebMessage[];
  pending: readonly Pending[];
  hasOlder: boolean;
  loadingOlder: boolean;
  open: boolean;
  unread: number;
  telegram: { busy: boolean; link: TelegramLink | null; error: boolean };
  /** Show the optional pre-chat form. */
  prechat: boolean;
  /** The newest announcement for screen readers (seq changes on every new one). */
  announce: { seq: number; name: string; text: string };
  /** Files picked for the next message: uploading, uploaded (an id) or refused (an i18n key). */
  uploads: Upload[];
}

export interface Upload {
  key: number;
  name: string;
  size: number;
  type: string;
  state: 'uploading' | 'done' | 'failed';
  id?: string;
  /** Why it failed: an i18n key (`fileTooBig`, `fileType`, `uploadFailed`). */
  error?: 'fileTooBig' | 'fileType' | 'uploadFailed';
}

export interface ControllerEnv {
  /** The widget API's origin. */
  base: string;
  /** The visitor WebSocket URL (default: `base` as ws(s) + `/ws`). */
  wsUrl?: string;
  websiteId: string;
  storage: Storage | null;
  fetch?: typeof fetch;
  createSocket?: (url: string) => SocketLike;
  /** navigator.onLine */
  online?: () => boolean;
  /** The page is visible (document.visibilityState). */
  visible?: () => boolean;
  random?: () => number;
  pageSize?: number;
  /** The site's signed-in user: proven once per start, before the session is read. */
  user?: SiteUser | null;
}

export const MAX_TEXT = 4096;
/** The website channel's upload limits (the server checks them too: 413). */
export const MAX_FILE_MB = 20;
export const MAX_FILES = 10;

const retryable = (e: unknown): boolean => !(e instanceof ApiError) || e.status === 408 || e.status === 429 || e.status >= 500;

export class Controller {
  state: ViewState;
  readonly api: Api;
  readonly outbox: Outbox;
  readonly live: Live;
  private readonly listeners = new Set<() => void>();
  private readonly pageSize: number;
  private cursor: string | null = null;
  private pagesLoaded = false;
  private stored: StoredState;
  private lastRead: string | null = null;
  private startTimer: ReturnType<typeof setTimeout> | null = null;
  private startAttempt = 0;
  private starting: Promise<void> | null = null;
  private destroyed = false;

  constructor(private readonly env: ControllerEnv) {
    this.pageSize = env.pageSize ?? 30;
    this.stored = readState(env.storage, env.websiteId);
    this.api = new Api({
      base: env.base,
      wsUrl: env.wsUrl,
      websiteId: env.websiteId,
      storage: env.storage,
      fetch: env.fetch,
      onSession: (s, replaced) => this.onSession(s, replaced),
    });
    this.outbox = new Outbox({
      storage: env.storage,
      key: outboxKey(env.websiteId),
      send: (p) => this.post(p),
      onSent: (_p, m) => this.addMessages([m], false),
      onChange: () => this.set({ pending: this.outbox.all() }),
      random: env.random,
    });
    this.live = new Live({
      ticket: async () => (await this.api.call<{ ticket: string }>('POST', '/ws-ticket')).ticket,
      url: (ticket) => this.api.wsUrl(ticket),
      create: env.createSocket,
      onEvent: (ev) => this.onEvent(ev),
      onState: (link) => this.set({ link: this.isOnline() ? link : 'offline' }),
      onReady: (reconnected) => void this.onReady(reconnected),
      random: env.random,
    });
    this.state = {
      phase: 'starting',
      link: 'connecting',
      website: null,
      session: null,
      messages: [],
      pending: this.outbox.all(),
      hasOlder: false,
      loadingOlder: false,
      open: false,
      unread: this.stored.unread ?? 0,
      telegram: { busy: false, link: null, error: false },
      prechat: false,
      announce: { seq: 0, name: '', text: '' },
      uploads: [],
    };
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<ViewState>): void {
    this.state = { ...this.state, ...patch };
    this.state.prechat = this.wantsPrechat();
    for (const fn of this.listeners) fn();
  }

  private isOnline(): boolean {
    return this.env.online ? this.env.online() : true;
  }

  private persist(patch: Partial<StoredState>): void {
    this.stored = { ...this.stored, ...patch };
    try {
      this.env.storage?.setItem(stateKey(this.env.websiteId), JSON.stringify(this.stored));
    } catch {
      /* memory only */
    }
  }

  private wantsPrechat(): boolean {
    const s = this.state;
    return (
      !!s.website?.prechat &&
      !this.stored.prechat &&
      !!s.session &&
      !s.session.conversation_id &&
      !s.session.name &&
      !s.session.email &&
      s.messages.length === 0 &&
      s.pending.length === 0
    );
  }

  // ---------- session ----------

  /** Create or refresh the session, read it and the first page, connect. Retries by itself. */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    if (this.state.phase === 'ready') return Promise.resolve();
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    this.set({ phase: 'starting' });
    this.starting = (async () => {
      try {
        await this.api.session();
        if (this.env.user) {
          // A refused signature leaves the visitor anonymous (the site's problem, not theirs).
          await this.api.call<Session>('POST', '/identify', this.env.user).catch(() => undefined);
        }
        await this.loadSession();
        this.startAttempt = 0;
        this.set({ phase: 'ready' });
        this.outbox.setEnabled(this.isOnline());
        this.live.start();
      } catch (e) {
        if (this.destroyed) return;
        if (retryable(e)) {
          this.set({ phase: 'unavailable' });
          const wait = backoff(++this.startAttempt, 2000, 60_000, this.env.random ?? Math.random);
          this.startTimer = setTimeout(() => {
            this.startTimer = null;
            void this.start();
          }, wait);
        } else {
          this.set({ phase: 'refused' });
        }
      }
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private onSession(s: SessionCreated, replaced: boolean): void {
    const patch: Partial<ViewState> = { website: s.website };
    if (replaced) {
      // The old token was refused: a new visitor who cannot see the old conversation.
      this.cursor = null;
      this.pagesLoaded = false;
      this.lastRead = null;
      this.persist({ conv: null, seen: 0, unread: 0, prechat: false });
      Object.assign(patch, { session: null, messages: [], hasOlder: false, unread: 0 });
      if (this.state.phase === 'ready') {
        setTimeout(() => {
          void this.loadSession()
            .then(() => this.live.restart())
            .catch(() => {});
        }, 0);
      }
    }
    this.set(patch);
  }

  private async loadSession(): Promise<void> {
    const session = await this.api.call<Session>('GET', '/session');
    this.setSession(session);
    if (session.conversation_id && !this.pagesLoaded) await this.firstPage();
  }

  private setSession(session: Session): void {
    const patch: Partial<ViewState> = { session, website: session.website ?? this.state.website };
    if (session.telegram) patch.telegram = { busy: false, link: null, error: false };
    this.persist({ conv: session.conversation_id });
    this.set(patch);
  }

  // ---------- messages ----------

  private async page(cursor: string | null): Promise<MessagePage> {
    const q = `?limit=${this.pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    return this.api.call<MessagePage>('GET', `/messages${q}`);
  }

  private async firstPage(): Promise<void> {
    const p = await this.page(null);
    this.pagesLoaded = true;
    this.cursor = p.next_cursor;
    this.set({ hasOlder: !!p.next_cursor });
    this.addMessages(p.items, false);
  }

  /** Scrolled to the top: the next older page. */
  async loadOlder(): Promise<void> {
    if (!this.state.hasOlder || this.state.loadingOlder || !this.cursor) return;
    this.set({ loadingOlder: true });
    try {
      const p = await this.page(this.cursor);
      this.cursor = p.next_cursor;
      this.set({ hasOlder: !!p.next_cursor, loadingOlder: false });
      this.addMessages(p.items, false);
    } catch {
      this.set({ loadingOlder: false });
    }
  }

  /** After a reconnect: re-read the newest page(s) and merge by id; follow the cursor while no page overlaps what is shown. */
  async resync(): Promise<void> {
    if (!this.state.session?.conversation_id) return;
    if (!this.pagesLoaded) return this.firstPage();
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++) {
      const p = await this.page(cursor);
      const gap = hasGap(this.state.messages, p.items);
      this.addMessages(p.items, false);
      if (!gap || !p.next_cursor) break;
      cursor = p.next_cursor;
    }
  }

  private addMessages(list: WebMessage[], live: boolean): void {
    if (list.length === 0) return;
    const known = new Set(this.state.messages.map((m) => m.id));
    const messages = mergeMessages(this.state.messages, list);
    const patch: Partial<ViewState> = { messages };
    const conv = list[list.length - 1].conversation_id;
    if (this.state.session && !this.state.session.conversation_id && conv) {
      patch.session = { ...this.state.session, conversation_id: conv };
      this.pagesLoaded = true; // nothing older than the conversation's first message
      this.persist({ conv });
    }
    if (live) {
      const fresh = list.filter((m) => fromAgent(m) && !known.has(m.id));
      const last = fresh[fresh.length - 1];
      if (last) patch.announce = { seq: this.state.announce.seq + 1, name: last.author_name ?? '', text: last.text };
    }
    this.set(patch);
    this.updateUnread();
  }

  private updateUnread(): void {
    const s = this.state;
    if (s.open && (this.env.visible ? this.env.visible() : true)) {
      this.markSeen();
      return;
    }
    const unread = countUnread(s.messages, this.stored.seen ?? 0);
    if (unread !== s.unread) this.set({ unread });
    if (unread !== this.stored.unread) this.persist({ unread });
  }

  /** The visitor sees the panel: everything shown is read. */
  markSeen(): void {
    const newest = newestAgentAt(this.state.messages);
    if (newest > (this.stored.seen ?? 0) || this.stored.unread) this.persist({ seen: Math.max(newest, this.stored.seen ?? 0), unread: 0 });
    if (this.state.unread !== 0) this.set({ unread: 0 });
    const last = [...this.state.messages].reverse().find(fromAgent);
    if (last && last.id !== this.lastRead && this.state.phase === 'ready') {
      this.lastRead = last.id;
      this.api.call('POST', '/read', { message_id: last.id }).catch(() => {
        this.lastRead = null;
      });
    }
  }

  // ---------- socket ----------

  onEvent(ev: ServerEvent): void {
    if (!ev || typeof ev !== 'object') return;
    switch (ev.type) {
      case 'batch':
        for (const e of ev.events ?? []) this.onEvent(e);
        break;
      case 'message.created':
      case 'message.updated':
        if (ev.message) {
          this.addMessages([ev.message], ev.type === 'message.created');
          const shown = this.state.messages.find((m) => m.id === ev.message!.id);
          if (shown && needsLinks(shown)) void this.resync().catch(() => {});
        }
        break;
      case 'session.updated':
        // With the session, or a bare signal to read it again.
        if (ev.session) this.setSession(ev.session);
        else this.api.call<Session>('GET', '/session').then((s) => this.setSession(s), () => {});
        break;
      default:
        break;
    }
  }

  private async onReady(reconnected: boolean): Promise<void> {
    this.outbox.setEnabled(this.isOnline());
    this.outbox.kick();
    try {
      if (reconnected) this.setSession(await this.api.call<Session>('GET', '/session'));
      await this.resync();
    } catch {
      /* the next reconnect tries again */
    }
  }

  /** window 'online' / 'offline'. */
  setOnline(online: boolean): void {
    if (online) {
      void (this.starting ?? Promise.resolve()).finally(() => {
        if (this.state.phase === 'unavailable') void this.start();
      });
      this.outbox.setEnabled(this.state.phase === 'ready');
      this.outbox.kick();
      this.live.nudge();
      if (this.state.link === 'offline') this.set({ link: 'reconnecting' });
    } else {
      this.outbox.setEnabled(false);
      this.set({ link: 'offline' });
    }
  }

  // ---------- actions ----------

  open(): void {
    this.set({ open: true });
    this.markSeen();
    if (this.state.phase === 'unavailable' && !this.starting) void this.start();
  }

  close(): void {
    this.set({ open: false });
  }

  private upSeq = 0;

  /**
   * Files picked, dropped or pasted: each is uploaded now (POST /files) and sent by id with the
   * next message. Too large: refused here; past MAX_FILES: 'too_many' (the rest are dropped).
   */
  attach(files: File[]): 'ok' | 'too_many' {
    let result: 'ok' | 'too_many' = 'ok';
    const uploads = [...this.state.uploads];
    for (const f of files) {
      if (uploads.filter((u) => u.state !== 'failed').length >= MAX_FILES) {
        result = 'too_many';
        break;
      }
      const u: Upload = { key: ++this.upSeq, name: f.name || 'file', size: f.size, type: f.type, state: 'uploading' };
      if (f.size > MAX_FILE_MB * 1024 * 1024) Object.assign(u, { state: 'failed', error: 'fileTooBig' });
      else void this.upload(u.key, f);
      uploads.push(u);
    }
    this.set({ uploads });
    return result;
  }

  private async upload(key: number, f: File): Promise<void> {
    const form = new FormData();
    form.append('file', f, f.name || 'file');
    let patch: Partial<Upload>;
    try {
      const r = await this.api.call<{ file: UploadedFile }>('POST', '/files', form);
      patch = { state: 'done', id: r.file.id };
    } catch (e) {
      const s = e instanceof ApiError ? e.status : 0;
      patch = { state: 'failed', error: s === 413 ? 'fileTooBig' : s === 415 ? 'fileType' : 'uploadFailed' };
    }
    this.set({ uploads: this.state.uploads.map((u) => (u.key === key ? { ...u, ...patch } : u)) });
  }

  removeUpload(key: number): void {
    this.set({ uploads: this.state.uploads.filter((u) => u.key !== key) });
  }

  /** Queue a message with the uploaded files; 'empty' / 'too_long' / 'uploading' when it cannot be sent. */
  send(text: string): 'ok' | 'empty' | 'too_long' | 'uploading' {
    const t = text.trim();
    const ups = this.state.uploads;
    const done = ups.filter((u) => u.state === 'done' && u.id);
    if (!t && !done.length) return 'empty';
    if ([...t].length > MAX_TEXT) return 'too_long';
    if (ups.some((u) => u.state === 'uploading')) return 'uploading';
    this.outbox.add(t, Date.now(), done.map((u) => ({ id: u.id!, name: u.name, size: u.size })));
    this.set({ uploads: ups.filter((u) => u.state === 'failed') });
    if (this.state.phase === 'unavailable' && !this.starting) void this.start();
    return 'ok';
  }

  /**
   * The visitor pressed a button under message `answers`: its label is sent as the message and
   * its data as `choice` (as a Telegram button press). Once per message: its buttons are spent.
   */
  choose(answers: string, b: WebButton): boolean {
    if (this.state.pending.some((p) => p.answers === answers)) return false;
    this.outbox.add(b.text, Date.now(), [], { data: b.data, answers });
    if (this.state.phase === 'unavailable' && !this.starting) void this.start();
    return true;
  }

  private async post(p: Pending): Promise<SendResult> {
    try {
      const body: Record<string, unknown> = { text: p.text, client_id: p.client_id };
      if (p.files?.length) body.attachments = p.files.map((f) => f.id);
      if (p.choice) body.choice = p.choice;
      const message = await this.api.call<WebMessage>('POST', '/messages', body);
      return { ok: true, message };
    } catch (e) {
      if (retryable(e)) return { ok: false, retry: true };
      return { ok: false, retry: false, reason: (e as ApiError).code };
    }
  }

  retry(clientId: string): void {
    this.outbox.retry(clientId);
  }

  discard(clientId: string): void {
    this.outbox.discard(clientId);
  }

  /** The pre-chat form: both fields optional; nothing filled in = skip. */
  async identify(name: string, email: string): Promise<boolean> {
    const body: Record<string, string> = {};
    if (name.trim()) body.name = name.trim();
    if (email.trim()) body.email = email.trim();
    if (Object.keys(body).length > 0) {
      try {
        this.setSession(await this.api.call<Session>('POST', '/identify', body));
      } catch {
        return false;
      }
    }
    this.skipPrechat();
    return true;
  }

  skipPrechat(): void {
    this.persist({ prechat: true });
    this.set({});
  }

  async continueOnTelegram(): Promise<void> {
    if (this.state.telegram.busy) return;
    this.set({ telegram: { busy: true, link: null, error: false } });
    try {
      const link = await this.api.call<TelegramLink>('POST', '/channels/telegram');
      if (!link || typeof link.url !== 'string' || !/^https:\/\//i.test(link.url)) throw new Error('bad url');
      this.set({ telegram: { busy: false, link, error: false } });
    } catch (e) {
      const patch: Partial<ViewState> = { telegram: { busy: false, link: null, error: true } };
      if (e instanceof ApiError && e.code === 'no_telegram' && this.state.website) patch.website = { ...this.state.website, telegram: false };
      this.set(patch);
    }
  }

  async undoTelegram(): Promise<void> {
    try {
      this.setSession(await this.api.call<Session>('DELETE', '/channels/telegram'));
    } catch {
      this.set({ telegram: { busy: false, link: null, error: true } });
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.live.stop();
    this.outbox.setEnabled(false);
    if (this.startTimer) clearTimeout(this.startTimer);
  }
}
