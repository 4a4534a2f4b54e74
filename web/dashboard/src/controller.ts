// The dashboard's brain: holds the state, talks to the API and the WebSocket, resyncs after a
// reconnect and drives the outbox. The view (app.tsx) only renders it and calls its methods.

import { Api, ApiError, NetworkError, type AgentPatch, type Session, type SignedIn } from './api';
import { socketUrl, ticketSocketUrl, type RuntimeConfig } from './config';
import { Outbox, clientIdOf, type Pending } from './outbox';
import { DEFAULT_LIMITS, needLinks, parseLimits, type Limits } from './attachments';
import {
  appendListPage, applyEvent, conversationsOfContact, emptyState, eraseContact, flattenEvents, forgetUnreadable, newlyAssignedToMe, openingTab, prependOlder, putContact,
  rememberName, resyncHasGap, resyncList, setTimeline, tabQuery, teamsNotIn, upsertConversation, upsertMessage, visibleList, type State, type Tab,
} from './state';
import { forgetDrafts, loadDraft } from './drafts';
import { erasedIds, parseErasure } from './erasure';
import { addNotification, loadNotifications, markRead, parseNotification, saveNotifications, type HeldNotification } from './notifications';
import { upsertCanned } from './canned';
import { contactName, contactsNamedIn } from './channels';
import { parseTranslationSetup } from './translation';
import { parseAiSetup } from './ai';
import { passwordError, type Said } from './account';
import { parseTotpSetup, totpError, totpStateOf, type TotpSetup } from './totp';
import { may, roleOf, type Permission } from './roles';
import type { Agent, AgentNotification, AgentStatus, AiSetup, Bot, CannedResponse, ConversationView, ErasureCounts, HistorySummary, Message, Page, Priority, ServerEvent, Suggestion, TranslationPreview, TranslationSetup } from './types';
import { LiveSocket, type LinkStatus } from './ws';

export type { Session } from './api';

export interface ControllerHooks {
  /** The session was refused and could not be renewed (`session_ended`, `no_session`…). */
  onLoggedOut: (code: string) => void;
  /** A conversation was just assigned to me (for the opt-in notification). */
  onAssignedToMe?: (conversationId: string, name: string) => void;
  /** A notification for me arrived (an @mention), with the conversation's contact name when known. */
  onNotification?: (n: AgentNotification, contactName: string | null) => void;
}

/** What an AI action came to: its value, or why not (`missing`: the server has no such endpoint). */
export type AiResult<T> = { ok: true; value: T } | { ok: false; missing: boolean; reason: string };

/** The main views: the conversations, the knowledge base (FAQ editor and AI review), saved replies, reports, routing rules, teams, agents (admins). */
export type View = 'conversations' | 'knowledge' | 'canned' | 'reports' | 'rules' | 'teams' | 'agents';
const VIEWS: View[] = ['conversations', 'knowledge', 'canned', 'reports', 'rules', 'teams', 'agents'];
/** The views a role may not open (their nav entry is not shown). */
const VIEW_NEEDS: Partial<Record<View, Permission>> = { reports: 'reports', agents: 'manageAgents' };

/** What the outcome of a change to an agent came to: the agent as it is now, or the refusal (`last_admin`…). */
export type AgentChange = { ok: true; agent: Agent } | { ok: false; code: string; message: string };

/** What a small action came to: null when done, else the reason to show next to it. */
export type Outcome = string | null;

/** What starting the two-factor setup came to: the key to add to the app, or what the form says. */
export type TotpStart = { ok: true; setup: TotpSetup } | { ok: false; said: Said };

/** What an export or an erasure came to: its value, or the refusal (`status` null: the server was not reached). */
export type ContactDataResult<T> = { ok: true; value: T } | { ok: false; status: number | null; code: string; message: string };

/**
 * The open conversation was erased: shown in its place until another one opens. `counts`: what
 * the server erased, when this agent erased it (null: a push, or an answer without them).
 */
export interface ErasedNotice {
  conversationId: string | null;
  counts: ErasureCounts | null;
  mine: boolean;
}

/**
 * What an admin's change of my teams did to my screen, for the notice that says why: without it
 * the open conversation vanished with no word. The view puts it into words.
 */
export interface TeamsNotice {
  id: string;
  /** My teams now. */
  teams: string[];
  /** The teams I was just put in: their waiting conversations are in Unassigned now. */
  added: string[];
  /** The open conversation, closed: its contact's name, its team, and whether a draft of it is kept. */
  closed: { name: string; team: string | null; draft: boolean } | null;
  /** How many other conversations left my lists. */
  gone: number;
}

function refusal(e: unknown): { ok: false; status: number | null; code: string; message: string } {
  if (e instanceof ApiError) return { ok: false, status: e.status, code: e.code, message: e.message };
  return { ok: false, status: null, code: 'network', message: e instanceof Error ? e.message : String(e) };
}

const OPEN_KEY = 'omnidesk.open';
const VIEW_KEY = 'omnidesk.view';
const TAB_KEY = 'omnidesk.tab';

export class Controller {
  state: State;
  tab: Tab;
  openId: string | null;
  link: LinkStatus = 'offline';
  me: Agent;
  agents: Agent[] = [];
  /** The deployment's Telegram bots (several: each Telegram message names its bot). */
  bots: Bot[] = [];
  /**
   * Counts presence events: a read of agents that began before one must not put back the
   * status that event replaced (a login's "offline" read after the connect's "online" push).
   */
  private presenceSeq = 0;
  /** Counts `agent.updated` events: the teams page reads its members again when it changes. */
  agentChanges = 0;
  /** Counts pushed events; `touched` holds, per conversation, the count of its last one. */
  private eventSeq = 0;
  private touched = new Map<string, number>();
  error: string | null = null;
  /** The open conversation was erased (its contact's data): what the pane shows instead; null otherwise. */
  erased: ErasedNotice | null = null;
  loadingList = false;
  /** Upload limits per channel (defaults until `GET /api/v1/limits` answers). */
  limits: Limits = DEFAULT_LIMITS;
  /** Upload progress of replies with files being sent, 0..1, by client id. */
  progress: Record<string, number> = {};
  /** The deployment's translation setup; null until `GET /api/v1/translation` answers (or when it does not exist). */
  translation: TranslationSetup | null = null;
  private translationReadAt = 0;
  /** The deployment's AI; null until `GET /api/v1/ai` answers, and for good on a server without it. */
  ai: AiSetup | null = null;
  view: View = 'conversations';
  /** The AI review shows the calls of this conversation only (null: all). */
  callsFor: string | null = null;
  /** Saved replies (`GET /canned`), cached for the session; null until read. */
  canned: CannedResponse[] | null = null;
  /** The server has no saved replies (404 without `not_found`): `/` offers nothing. */
  cannedMissing = false;
  /** Why the saved replies could not be read (none held yet). */
  cannedError: string | null = null;
  private cannedReadAt = 0;
  /** My notifications (@mentions), newest first; the bell counts the unread ones. */
  notifications: HeldNotification[] = [];
  /** Notifications shown as toasts right now. */
  toasts: AgentNotification[] = [];
  private toastTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Notices of my teams changed, newest first (shown with the toasts). */
  teamNotices: TeamsNotice[] = [];
  private noticeSeq = 0;
  /**
   * Counts clicks on the nav entry of the view already shown: that page reads its data again (on
   * the agents page, an agent added with the CLI meanwhile shows up).
   */
  viewAgain = 0;
  /** No tab was picked in this session: the first list read decides (Mine if it holds any, else Unassigned). */
  private choosingTab = false;
  /**
   * The tab was chosen for the agent, not picked: until they pick one it follows the work (a
   * conversation assigned to me while the list shows Unassigned brings the list to Mine).
   */
  private autoTab = false;
  readonly api: Api;
  readonly outbox: Outbox;
  private readonly socket: LiveSocket;
  private listeners = new Set<() => void>();
  /** Asked before the view changes or the agent logs out (unsaved rules); false keeps them where they are. */
  private leaveGuards = new Set<() => boolean>();
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly cfg: RuntimeConfig,
    session: Session,
    private readonly hooks: ControllerHooks,
  ) {
    this.me = session.agent;
    this.state = emptyState(session.agent.id);
    const savedTab = sessionStorage.getItem(TAB_KEY);
    this.tab = openingTab(savedTab, true);
    this.choosingTab = this.tab !== savedTab;
    this.autoTab = this.choosingTab;
    this.openId = sessionStorage.getItem(OPEN_KEY);
    const savedView = sessionStorage.getItem(VIEW_KEY) as View | null;
    this.view = savedView && VIEWS.includes(savedView) && this.mayView(savedView) ? savedView : 'conversations';
    this.notifications = loadNotifications(localStorage, session.agent.id);
    this.api = new Api(cfg, (code) => this.loggedOut(code));
    this.api.adopt(session);
    this.outbox = new Outbox(
      localStorage,
      `omnidesk.outbox.${session.agent.id}`,
      (p, files) => this.sendPending(p, files),
      (_p, m) => this.set(upsertMessage(this.state, m)),
    );
    this.outbox.subscribe(() => this.emit());
    this.socket = new LiveSocket({
      url: () => this.socketUrl(),
      onEvent: (ev) => this.onEvent(ev),
      onStatus: (s) => {
        this.link = s;
        this.emit();
      },
      onReady: (reconnected) => void this.onReady(reconnected),
      onFailedAttempt: () => void this.checkToken(),
    });
  }

  /** Prefix of the API's paths (file links may be paths on it). */
  get apiBase(): string {
    return this.cfg.apiBase;
  }

  private async sendPending(p: Pending, files: File[]) {
    if (!files.length) return this.api.sendReply(p.conversationId, p.text, p.clientId);
    let last = 0;
    const onProgress = (sent: number, total: number) => {
      const f = total > 0 ? sent / total : 0;
      if (f - last < 0.02 && f < 1) return; // a render per 2 %, not per chunk
      last = f;
      this.progress = { ...this.progress, [p.clientId]: f };
      this.emit();
    };
    try {
      return await this.api.sendReply(p.conversationId, p.text, p.clientId, files, onProgress);
    } finally {
      const { [p.clientId]: _done, ...rest } = this.progress;
      this.progress = rest;
    }
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  private set(s: State): void {
    if (s === this.state) return;
    this.state = s;
    this.emit();
  }

  start(): void {
    this.api.startRenewing();
    this.socket.start();
    if (this.choosingTab) void this.chooseTab();
    else void this.loadTab(this.tab, true);
    void this.loadAgents();
    void this.loadBots();
    void this.loadLimits();
    void this.loadTranslation();
    void this.loadAi();
    if (this.openId) void this.open(this.openId);
    window.addEventListener('online', this.onBrowserOnline);
  }

  stop(): void {
    this.stopped = true;
    this.api.stopRenewing();
    this.socket.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.linkTimer) clearTimeout(this.linkTimer);
    for (const t of this.toastTimers.values()) clearTimeout(t);
    this.toastTimers.clear();
    window.removeEventListener('online', this.onBrowserOnline);
  }

  private onBrowserOnline = () => this.socket.reconnectNow();

  private loggedOut(code: string): void {
    if (this.stopped) return;
    this.stop();
    this.api.forget();
    this.hooks.onLoggedOut(code);
  }

  /** A socket attempt failed before `hello`: find out whether the token is the reason. */
  private async checkToken(): Promise<void> {
    try {
      await this.api.me();
    } catch {
      /* a 401 logs out through the API hook; a network error just waits for the next attempt */
    }
  }

  private async guard<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      const v = await p;
      return v;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return undefined;
      if (e instanceof NetworkError) return undefined; // the socket shows the connection state
      this.error = e instanceof Error ? e.message : String(e);
      this.emit();
      return undefined;
    }
  }

  clearError(): void {
    this.error = null;
    this.emit();
  }

  private async onReady(reconnected: boolean): Promise<void> {
    // Also on the first connect: nothing between the first list fetch and `hello` is missed.
    void reconnected;
    void this.loadAi(); // a restarted server may have another AI setup
    void this.refreshMe(); // connected: online unless I chose otherwise
    await this.resync();
    void this.outbox.flush().then(() => this.scheduleOutboxRetry());
  }

  /** After a reconnect: re-read the list, the open conversation and its timeline. */
  async resync(): Promise<void> {
    const tab = this.tab;
    const since = this.eventSeq;
    const page = await this.guard(this.api.conversations(tabQuery(tab), null));
    if (page) this.set(resyncList(this.state, tab, page, this.openId, this.touchedSince(since)));
    if (this.openId) await this.refreshOpen(this.openId, false);
  }

  private scheduleOutboxRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (!this.outbox.all().some((p) => p.state === 'queued')) return;
    this.retryTimer = setTimeout(() => {
      if (this.link === 'open') void this.outbox.flush().then(() => this.scheduleOutboxRetry());
    }, 3000);
  }

  /**
   * Where the socket connects: with a fresh single-use ticket, so the token never sits in a URL
   * (proxies and access logs keep URLs). A server without tickets (404) gets the token; a 401
   * signs out as any other.
   */
  private async socketUrl(): Promise<string | null> {
    const token = this.api.token;
    if (!token) return null;
    try {
      const { ticket } = await this.api.wsTicket();
      return ticketSocketUrl(this.cfg, ticket);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return socketUrl(this.cfg, token);
      throw e;
    }
  }

  /** The conversations a push changed after event `since` (a list read then may miss them). */
  private touchedSince(since: number): Set<string> {
    const out = new Set<string>();
    for (const [id, n] of this.touched) if (n > since) out.add(id);
    return out;
  }

  private onEvent(frame: ServerEvent): void {
    // A batch (LiveSocket unpacks them already; kept safe here): each event in order, one render.
    let s = this.state;
    const confirmed: string[] = [];
    const erasedNow: string[] = [];
    let mineNow = false;
    /** Applied after the frame's conversations: a change of my teams prunes the state they are set in. */
    const agentsNow: Agent[] = [];
    for (const ev of flattenEvents(frame)) {
      if (ev.type === 'presence') {
        this.onPresence(ev.agent_id, ev.status, ev.chosen_status);
        continue;
      }
      if (ev.type === 'notification') {
        const n = parseNotification(ev.notification);
        if (n) void this.onNotification(n);
        continue;
      }
      if (ev.type === 'agent.updated') {
        if (ev.agent && typeof ev.agent === 'object' && typeof ev.agent.id === 'string') agentsNow.push(ev.agent);
        continue;
      }
      const assigned = newlyAssignedToMe(s, ev);
      if (assigned) this.hooks.onAssignedToMe?.(assigned.id, assigned.contact.display_name);
      if (assigned) mineNow = true;
      if (ev.type === 'contact.erased') {
        // Also the conversations held of that contact that the event does not name.
        erasedNow.push(...(Array.isArray(ev.conversation_ids) ? ev.conversation_ids : []), ...conversationsOfContact(s, ev.contact_id));
      }
      s = applyEvent(s, ev);
      const touchedId = conversationOf(ev);
      if (touchedId) this.touched.set(touchedId, ++this.eventSeq);
      if (ev.type === 'message.created' || ev.type === 'message.updated') {
        const id = clientIdOf(ev.message);
        if (id) confirmed.push(id);
      }
    }
    if (erasedNow.length) this.forgetErased(erasedNow, null);
    this.set(s);
    if (erasedNow.length) this.emit();
    for (const a of agentsNow) this.onAgentUpdated(a);
    if (mineNow && this.autoTab && !this.choosingTab && this.tab === 'unassigned') {
      // The list was opened on Unassigned for me: work of mine now is where it goes.
      this.tab = 'mine';
      this.emit();
      void this.loadTab('mine', true);
    }
    if (confirmed.length) this.outbox.confirm(confirmed);
    this.fetchMissingLinks();
    if (this.openId && flattenEvents(frame).some((ev) => ev.type === 'message.created' && ev.message.event?.event === 'contacts_merged')) {
      void this.nameContacts(this.openId);
    }
  }

  async loadLimits(): Promise<void> {
    try {
      this.limits = parseLimits(await this.api.limits());
      this.emit();
    } catch {
      /* not offered by this server: the defaults stand */
    }
  }

  /**
   * Reads the translation setup (whether translation is on, each provider's daily quota). The
   * quota moves during the day, so opening a conversation reads it again, at most once a minute.
   * A server without the endpoint leaves it null: nothing about translation is shown.
   */
  async loadTranslation(now: number = Date.now()): Promise<void> {
    if (this.translationReadAt && now - this.translationReadAt < 60_000) return;
    this.translationReadAt = now;
    try {
      this.translation = parseTranslationSetup(await this.api.translationSetup());
      this.emit();
    } catch {
      /* not offered by this server, or offline: keep what we know */
    }
  }

  /** Reads the AI setup; a server without it (404) leaves it null: nothing AI is offered. */
  async loadAi(): Promise<void> {
    try {
      this.ai = parseAiSetup(await this.api.aiSetup());
    } catch (e) {
      if (e instanceof NetworkError) return; // offline for a moment: keep what we know
      this.ai = null;
    }
    if (this.ai === null && this.view === 'knowledge') this.view = 'conversations';
    this.emit();
  }

  /** Registers a check made before leaving the view (it may ask the agent); returns its removal. */
  guardLeaving(fn: () => boolean): () => void {
    this.leaveGuards.add(fn);
    return () => void this.leaveGuards.delete(fn);
  }

  /** Whether the current view may be left (every guard agrees). */
  mayLeave(): boolean {
    for (const g of this.leaveGuards) if (!g()) return false;
    return true;
  }

  /** Whether the signed-in agent's role may take the action (a server without roles: everything). */
  may(p: Permission): boolean {
    return may(roleOf(this.me), p);
  }

  /** Whether the signed-in agent's role may open the view. */
  mayView(view: View): boolean {
    const need = VIEW_NEEDS[view];
    return need === undefined || this.may(need);
  }

  /** Shows one of the main views; false when the current one asked to stay (unsaved edits kept) or the role may not open it. */
  showView(view: View): boolean {
    if (!this.mayView(view)) return false;
    if (view !== this.view && !this.mayLeave()) return false;
    if (view === this.view) this.viewAgain++;
    this.view = view;
    sessionStorage.setItem(VIEW_KEY, view);
    this.emit();
    return true;
  }

  /** The AI review of one conversation (null: of all). */
  showCalls(conversationId: string | null): void {
    this.callsFor = conversationId;
    this.showView('knowledge');
  }

  /** Opens a conversation from elsewhere (the AI review): back to the conversations, on the All tab. */
  async openFromElsewhere(id: string): Promise<void> {
    if (!this.showView('conversations')) return;
    if (this.tab !== 'all') void this.selectTab('all');
    await this.open(id);
  }

  private async aiCall<T>(p: Promise<T>): Promise<AiResult<T>> {
    try {
      return { ok: true, value: await p };
    } catch (e) {
      // No such route (an older server): 404 without the API's `not_found` code, 405 or 501.
      const missing = e instanceof ApiError && ((e.status === 404 && e.code !== 'not_found') || e.status === 405 || e.status === 501);
      return { ok: false, missing, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Brings the conversation's summary up to date; the summary card shows the answer. */
  async summarise(id: string): Promise<AiResult<HistorySummary | null>> {
    const r = await this.aiCall(this.api.summarise(id));
    if (!r.ok) return r;
    const summary = r.value && typeof r.value === 'object' ? r.value.summary ?? null : null;
    const held = this.state.conversations[id];
    if (held && summary) this.set(upsertConversation(this.state, { ...held, summary }));
    return { ok: true, value: summary };
  }

  /** A reply suggestion (the view puts it in the composer; nothing is sent). */
  async suggest(id: string): Promise<AiResult<Suggestion>> {
    const r = await this.aiCall(this.api.suggestReply(id));
    if (!r.ok) return r;
    const v = r.value && typeof r.value === 'object' ? r.value : { text: null };
    return { ok: true, value: { text: typeof v.text === 'string' && v.text.trim() ? v.text : null, source: v.source, reason: v.reason } };
  }

  /** Gives the conversation back to the bot and the AI. */
  async handBack(id: string): Promise<AiResult<ConversationView>> {
    const r = await this.aiCall(this.api.handBack(id));
    if (r.ok && r.value && typeof r.value === 'object' && 'id' in r.value) this.set(upsertConversation(this.state, r.value));
    return r;
  }

  private linkTimer: ReturnType<typeof setTimeout> | null = null;
  private linkFetching = false;
  /** `<message id>:<revision>` already refetched for links: a server that gives none is not asked in a loop. */
  private linkAsked = new Set<string>();
  private lastLinkRefresh: Record<string, number> = {};

  /**
   * The open conversation holds stored files without links (WebSocket events carry none):
   * read its newest page again, shortly, once per message revision.
   */
  private fetchMissingLinks(): void {
    const id = this.openId;
    if (!id || this.linkTimer) return;
    const keys = needLinks(this.state.messages[id] ?? []).map((m) => `${m.id}:${m.revision ?? 0}`).filter((k) => !this.linkAsked.has(k));
    if (keys.length === 0) return;
    this.linkTimer = setTimeout(() => {
      this.linkTimer = null;
      for (const k of keys) this.linkAsked.add(k);
      void this.rereadNewest(id);
    }, 250);
  }

  /** An image failed to load (its signed link expired): fresh links, at most every 10 s. */
  refreshLinks(conversationId: string, now: number = Date.now()): void {
    if (now - (this.lastLinkRefresh[conversationId] ?? 0) < 10_000) return;
    this.lastLinkRefresh[conversationId] = now;
    void this.rereadNewest(conversationId);
  }

  private async rereadNewest(id: string): Promise<void> {
    if (this.linkFetching) return;
    this.linkFetching = true;
    try {
      const page = await this.guard(this.api.messages(id, null));
      if (page) this.set(setTimeline(this.state, id, page, false));
    } finally {
      this.linkFetching = false;
    }
  }

  /** The Telegram bots, to name the one each message came through (an older server: none). */
  async loadBots(): Promise<void> {
    try {
      const r = await this.api.bots();
      if (r && Array.isArray(r.items)) {
        this.bots = r.items;
        this.emit();
      }
    } catch {
      /* no bots route (an older server) or offline: messages just show their channel */
    }
  }

  async loadAgents(): Promise<void> {
    const seq = this.presenceSeq;
    const r = await this.guard(this.api.agents());
    if (r) this.takeAgents(r.items, seq);
  }

  /** Reads the agents again (the agents page); null when done, else why not. */
  async refreshAgents(): Promise<Outcome> {
    const seq = this.presenceSeq;
    try {
      const r = await this.api.agents();
      this.takeAgents(Array.isArray(r?.items) ? r.items : [], seq);
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  private takeAgents(items: Agent[], seq: number): void {
    this.agents = seq === this.presenceSeq ? items : items.map((a) => keepPresence(a, this.agents.find((x) => x.id === a.id)));
    const me = this.agents.find((a) => a.id === this.me.id);
    if (me) this.me = me;
    this.leaveForbiddenView();
    this.emit();
  }

  /**
   * Opens the list where the work is (no tab picked in this session): Mine when it holds any
   * conversation, else Unassigned. Mine's first page is read to decide and kept.
   */
  async chooseTab(): Promise<void> {
    this.loadingList = true;
    this.emit();
    let page: Page<ConversationView> | undefined;
    try {
      page = await this.guard(this.api.conversations(tabQuery('mine'), null));
      if (page) this.set(resyncList(this.state, 'mine', page, this.openId));
    } finally {
      this.loadingList = false;
    }
    if (!this.choosingTab) return this.emit(); // the agent picked a tab meanwhile
    this.choosingTab = false;
    if (!page) return this.emit(); // unknown (offline): Mine, as before
    // Also one assigned to me by an event while the page was on its way.
    this.tab = openingTab(null, visibleList(this.state, 'mine').length > 0);
    this.emit();
    if (this.tab !== 'mine') await this.loadTab(this.tab, true);
  }

  async selectTab(tab: Tab): Promise<void> {
    this.choosingTab = false;
    this.autoTab = false;
    this.tab = tab;
    sessionStorage.setItem(TAB_KEY, tab);
    this.emit();
    await this.loadTab(tab, true);
  }

  /** First page (fresh) or the next page of a tab. */
  async loadTab(tab: Tab, first: boolean): Promise<void> {
    const cursor = this.state.cursors[tab];
    if (!first && (!cursor.loaded || cursor.next === null)) return;
    if (this.loadingList) return;
    this.loadingList = true;
    this.emit();
    try {
      const since = this.eventSeq;
      const page = await this.guard(this.api.conversations(tabQuery(tab), first ? null : cursor.next));
      if (page) this.set(first ? resyncList(this.state, tab, page, this.openId, this.touchedSince(since)) : appendListPage(this.state, tab, page));
    } finally {
      this.loadingList = false;
      this.emit();
    }
  }

  async open(id: string): Promise<void> {
    this.openId = id;
    this.erased = null;
    sessionStorage.setItem(OPEN_KEY, id);
    this.setNotifications(markRead(this.notifications, { conversationId: id }));
    this.emit();
    void this.loadTranslation();
    await this.refreshOpen(id, true);
  }

  close(): void {
    this.openId = null;
    this.erased = null;
    sessionStorage.removeItem(OPEN_KEY);
    this.emit();
  }

  /**
   * Forgets what this dashboard keeps of erased conversations outside the state (the caller
   * applies `eraseContact` to it): their drafts, queued replies, @mentions, and the open one,
   * which gives way to the notice. Renders nothing by itself.
   */
  private forgetErased(ids: readonly string[], counts: ErasureCounts | null, mine = false): void {
    const gone = new Set(ids);
    for (const id of gone) {
      forgetDrafts(localStorage, id);
      this.touched.delete(id);
      delete this.lastLinkRefresh[id];
    }
    for (const clientId of this.outbox.forget(gone)) {
      const { [clientId]: _gone, ...rest } = this.progress;
      this.progress = rest;
    }
    const mentions = this.notifications.filter((n) => !gone.has(n.conversation_id));
    if (mentions.length !== this.notifications.length) this.setNotifications(mentions);
    for (const n of this.toasts) if (gone.has(n.conversation_id)) this.dismissToast(n.id);
    if (this.callsFor && gone.has(this.callsFor)) this.callsFor = null;
    const openGone = this.openId !== null && gone.has(this.openId);
    if (openGone || mine) this.erased = { conversationId: openGone ? this.openId : null, counts, mine };
    if (openGone) {
      this.openId = null;
      sessionStorage.removeItem(OPEN_KEY);
    }
  }

  /** Hides the erased notice (back to the list on a phone). */
  dismissErased(): void {
    if (!this.erased) return;
    this.erased = null;
    this.emit();
  }

  private async refreshOpen(id: string, first: boolean): Promise<void> {
    const c = await this.guard(this.api.conversation(id));
    if (!c) return;
    this.set(upsertConversation(this.state, c));
    const held = this.state.messages[id] ?? [];
    const newest = await this.guard(this.api.messages(id, null));
    if (!newest) return;
    this.set(setTimeline(this.state, id, newest, first || held.length === 0));
    let page: Page<Message> = newest;
    // Missed more than a page: keep reading older pages until we meet what we hold.
    for (let i = 0; i < 20 && resyncHasGap(held, page); i++) {
      const older: Page<Message> | undefined = await this.guard(this.api.messages(id, page.next_cursor));
      if (!older) break;
      this.set(setTimeline(this.state, id, older, false));
      page = older;
    }
    const ids = (this.state.messages[id] ?? []).map(clientIdOf).filter((x): x is string => x !== null);
    this.outbox.confirm(ids);
    const contact = await this.guard(this.api.contact(c.contact.id));
    if (contact) this.set(putContact(this.state, contact));
    void this.nameContacts(id);
  }

  private nameRequests = new Set<string>();

  /** Looks up the contacts a timeline's merge events name that we know no name of (once each). */
  async nameContacts(conversationId: string): Promise<void> {
    const ids = contactsNamedIn(this.state.messages[conversationId] ?? []).filter(
      (id) => !this.nameRequests.has(id) && contactName(id, Object.values(this.state.conversations), this.state.contacts, this.state.names) === null,
    );
    for (const id of ids) {
      this.nameRequests.add(id);
      const c = await this.guard(this.api.contact(id));
      if (c) this.set(rememberName(this.state, c));
    }
  }

  async loadOlder(): Promise<void> {
    const id = this.openId;
    if (!id) return;
    const cursor = this.state.olderCursor[id];
    if (!cursor) return;
    const page = await this.guard(this.api.messages(id, cursor));
    if (page) this.set(prependOlder(this.state, id, page));
  }

  /** Queues a reply (text, files or both) and sends it now if the connection is up. */
  send(conversationId: string, text: string, files: File[] = []): Pending | null {
    const trimmed = text.trim();
    if (!trimmed && files.length === 0) return null;
    const p = this.outbox.enqueue(conversationId, trimmed, undefined, files);
    if (this.link === 'open') void this.outbox.flush().then(() => this.scheduleOutboxRetry());
    return p;
  }

  retrySend(clientId: string): void {
    this.outbox.retry(clientId);
    if (this.link === 'open') void this.outbox.flush();
  }

  private async transition(p: Promise<import('./types').ConversationView>): Promise<void> {
    const c = await this.guard(p);
    if (c) this.set(upsertConversation(this.state, c));
  }

  assignToMe(id: string) {
    return this.transition(this.api.assign(id, null));
  }
  transfer(id: string, agentId: string) {
    return this.transition(this.api.assign(id, agentId));
  }
  resolve(id: string) {
    return this.transition(this.api.resolve(id));
  }
  reopen(id: string) {
    return this.transition(this.api.reopen(id));
  }

  /**
   * Sets my status: busy or offline is my choice; online clears it (then I am online while a
   * dashboard is connected).
   */
  async setStatus(status: AgentStatus): Promise<void> {
    const a = await this.guard(this.api.setStatus(status));
    if (a && typeof a === 'object' && a.id) {
      // A server that does not say: online cleared the choice, anything else is it.
      const chosen_status = 'chosen_status' in a ? a.chosen_status : status === 'online' ? null : status;
      this.me = { ...a, chosen_status };
      this.agents = this.agents.map((x) => (x.id === a.id ? this.me : x));
      this.emit();
    }
  }

  /** Re-reads me (after connecting: the server counts me online now unless I chose otherwise). */
  async refreshMe(): Promise<void> {
    const seq = this.presenceSeq;
    try {
      const a = await this.api.me();
      if (a && typeof a === 'object' && a.id === this.me.id) {
        const read = { ...a, chosen_status: a.chosen_status ?? null }; // absent: no choice stands
        this.me = seq === this.presenceSeq ? read : keepPresence(read, this.me);
        this.leaveForbiddenView();
        this.emit();
      }
    } catch {
      /* a 401 logs out; offline: keep what we know */
    }
  }

  /** A `presence` event: an agent's status changed (mine too: the header's control follows). */
  private onPresence(agentId: string, status: AgentStatus, chosen?: AgentStatus | null): void {
    // Online means no busy/offline choice stands (it was cleared, maybe in another tab).
    const choice = chosen !== undefined ? chosen : status === 'online' ? null : undefined;
    const patch = (a: Agent): Agent => ({ ...a, status, ...(choice !== undefined ? { chosen_status: choice } : {}) });
    this.presenceSeq++;
    if (agentId === this.me.id) this.me = patch(this.me);
    this.agents = this.agents.map((a) => (a.id === agentId ? patch(a) : a));
    this.emit();
  }

  /**
   * An `agent.updated` event (an admin changed an agent): the agent replaces the one held, with
   * the presence held (the presence events are newer than the record's). When it is me and my
   * teams or role changed, what the server lets me read changed with them: the lists follow at
   * once, without a reload or a new sign-in.
   */
  private onAgentUpdated(agent: Agent): void {
    const held = this.agents.find((a) => a.id === agent.id);
    const next = held ? keepPresence({ ...held, ...agent }, held) : agent;
    this.agents = held ? this.agents.map((a) => (a.id === agent.id ? next : a)) : [...this.agents, next];
    this.agentChanges++;
    if (agent.id !== this.me.id) return this.emit();
    const before = this.me;
    this.me = keepPresence({ ...this.me, ...agent }, this.me);
    this.leaveForbiddenView();
    this.emit();
    if (before.role !== this.me.role || !sameTeams(before.teams, this.me.teams)) void this.rereadForMyTeams(before);
  }

  /**
   * My teams changed: the conversations I may no longer read leave the lists now (the server
   * pushes nothing more about them; the open one closes), and the list shown is read again, so
   * a conversation of a team I joined appears in Unassigned and All without a reload. A notice
   * says what changed (a change of role signs me out instead, so only teams get one).
   */
  private async rereadForMyTeams(before: Agent): Promise<void> {
    const s = forgetUnreadable(this.state, this.me);
    const open = this.openId ? this.state.conversations[this.openId] : undefined;
    const closed = open && !s.conversations[open.id] ? open : null;
    if (closed) {
      // Its drafts stay: they are the agent's typing, and open again with it if they get it back.
      this.openId = null;
      sessionStorage.removeItem(OPEN_KEY);
    }
    const gone = Object.keys(this.state.conversations).length - Object.keys(s.conversations).length - (closed ? 1 : 0);
    this.set(s);
    if (!sameTeams(before.teams, this.me.teams)) this.noticeTeams(before, closed, gone);
    const tab = this.tab;
    const since = this.eventSeq;
    const page = await this.guard(this.api.conversations(tabQuery(tab), null));
    if (page) this.set(resyncList(this.state, tab, page, this.openId, this.touchedSince(since)));
  }

  /**
   * Tells me what my new teams changed on my screen: the open conversation closed, conversations
   * gone from my lists, teams whose queue I now see. A change that shows nothing (taken out of a
   * team I held nothing of) says nothing, nor one for a supervisor or an admin, who read every
   * team anyway. A notice that closed my conversation stays until dismissed, so an agent back at
   * the desk still learns why it is gone; the others go after 15 s, as a mention's toast does.
   */
  private noticeTeams(before: Agent, closed: ConversationView | null, gone: number): void {
    if (this.me.role !== 'agent') return;
    const added = teamsNotIn(this.me.teams, before.teams);
    if (!closed && gone === 0 && added.length === 0) return;
    const draft = closed !== null && (loadDraft(localStorage, closed.id) !== '' || loadDraft(localStorage, `note.${closed.id}`) !== '');
    const n: TeamsNotice = {
      id: `teams.${++this.noticeSeq}`,
      teams: [...(this.me.teams ?? [])],
      added,
      closed: closed ? { name: closed.contact.display_name, team: closed.team ?? null, draft } : null,
      gone,
    };
    for (const old of this.teamNotices.slice(2)) this.dismissNotice(old.id);
    this.teamNotices = [n, ...this.teamNotices];
    if (!closed) this.toastTimers.set(n.id, setTimeout(() => this.dismissNotice(n.id), 15_000));
    this.emit();
  }

  dismissNotice(id: string): void {
    const t = this.toastTimers.get(id);
    if (t) clearTimeout(t);
    this.toastTimers.delete(id);
    const next = this.teamNotices.filter((x) => x.id !== id);
    if (next.length === this.teamNotices.length) return;
    this.teamNotices = next;
    this.emit();
  }

  /** Back to the conversations when my role (read again) may not open the view shown. */
  private leaveForbiddenView(): void {
    if (this.mayView(this.view)) return;
    this.view = 'conversations';
    sessionStorage.setItem(VIEW_KEY, this.view);
  }

  // ---------- my account, the agents (admins) ----------

  /**
   * Signs out on every device (`POST /auth/logout`, which also clears the refresh cookie): this
   * dashboard stops first, so the answer is awaited without the 401 hook. Offline, this tab is
   * signed out all the same, but the cookie stays until it expires or the next sign-out.
   */
  async logout(): Promise<void> {
    this.stop();
    try {
      await this.api.logout();
    } catch {
      /* offline, or the session had ended already: signed out here anyway */
    }
    this.api.forget();
  }

  /**
   * Changes my password. Every other session ends; the answer's token replaces this one in memory
   * (the server set the new refresh cookie with it, so a reload stays signed in). Null when done,
   * else what the form says.
   */
  async changePassword(current: string, next: string, now: number = Date.now()): Promise<Said | null> {
    let r: SignedIn;
    try {
      r = await this.api.changePassword(current, next);
    } catch (e) {
      return passwordError(e, now);
    }
    if (!r || typeof r.token !== 'string') return null; // changed; an answer without a token keeps this one
    this.api.adopt(this.api.sessionOf(r));
    if (r.agent && typeof r.agent === 'object' && r.agent.id === this.me.id) this.me = keepPresence(r.agent, this.me);
    this.emit();
    return null;
  }

  /**
   * Starts setting up two-factor sign-in (the password asked again): the key to add to an
   * authenticator app and its `otpauth://` link, or what the form says (a wrong password…).
   * Nothing is in force until `confirmTotp`.
   */
  async startTotp(password: string, now: number = Date.now()): Promise<TotpStart> {
    let answer: unknown;
    try {
      answer = await this.api.totpSetup(password);
    } catch (e) {
      return { ok: false, said: totpError(e, now) };
    }
    const setup = parseTotpSetup(answer);
    return setup ? { ok: true, setup } : { ok: false, said: { kind: 'text', key: 'totp_noSecret' } };
  }

  /** Turns two-factor sign-in on with a code of the key just set up. Null when on (me says so), else what the form says. */
  async confirmTotp(code: string, now: number = Date.now()): Promise<Said | null> {
    let answer: unknown;
    try {
      answer = await this.api.totpConfirm(code);
    } catch (e) {
      return totpError(e, now);
    }
    this.setMyTotp(totpStateOf(answer, true));
    return null;
  }

  /** Turns two-factor sign-in off (the password and a current code). Null when off, else what the form says. */
  async disableTotp(password: string, code: string, now: number = Date.now()): Promise<Said | null> {
    let answer: unknown;
    try {
      answer = await this.api.totpDisable(password, code);
    } catch (e) {
      return totpError(e, now);
    }
    this.setMyTotp(totpStateOf(answer, false));
    return null;
  }

  /** Me with two-factor sign-in on or off (a reload reads it again from the refresh answer). */
  private setMyTotp(on: boolean): void {
    this.me = { ...this.me, totp: on };
    this.agents = this.agents.map((a) => (a.id === this.me.id ? { ...a, totp: on } : a));
    this.emit();
  }

  /**
   * Changes an agent's role, access or teams (admins); the answer replaces the agent held (and
   * me, when it is me). Every dashboard, this one too, then hears `agent.updated`.
   */
  async patchAgent(id: string, patch: AgentPatch): Promise<AgentChange> {
    let a: Agent;
    try {
      a = await this.api.patchAgent(id, patch);
    } catch (e) {
      if (e instanceof ApiError) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'network', message: e instanceof Error ? e.message : String(e) };
    }
    const held = this.agents.find((x) => x.id === id);
    const agent: Agent = a && typeof a === 'object' && a.id === id ? a : { ...(held as Agent), ...patch };
    this.agents = held ? this.agents.map((x) => (x.id === id ? agent : x)) : [...this.agents, agent];
    if (id === this.me.id) this.me = keepPresence({ ...this.me, ...agent }, this.me);
    this.emit();
    return { ok: true, agent };
  }

  // ---------- notifications (@mentions) ----------

  private setNotifications(list: HeldNotification[]): void {
    if (list === this.notifications) return;
    this.notifications = list;
    saveNotifications(localStorage, this.me.id, list);
    this.emit();
  }

  /** A notification for me: kept for the bell, shown as a toast, and handed to the desktop hook. */
  private async onNotification(n: AgentNotification): Promise<void> {
    const next = addNotification(this.notifications, n);
    if (next === this.notifications) return; // delivered twice
    this.setNotifications(next);
    this.toasts = [n, ...this.toasts.filter((x) => x.id !== n.id)].slice(0, 3);
    this.toastTimers.set(n.id, setTimeout(() => this.dismissToast(n.id), 10_000));
    this.emit();
    if (!this.state.conversations[n.conversation_id]) {
      const c = await this.guard(this.api.conversation(n.conversation_id));
      if (c) this.set(upsertConversation(this.state, c));
    }
    this.hooks.onNotification?.(n, this.state.conversations[n.conversation_id]?.contact.display_name ?? null);
  }

  dismissToast(id: string): void {
    const t = this.toastTimers.get(id);
    if (t) clearTimeout(t);
    this.toastTimers.delete(id);
    const next = this.toasts.filter((x) => x.id !== id);
    if (next.length === this.toasts.length) return;
    this.toasts = next;
    this.emit();
  }

  /** Opens a notification's conversation (from the bell, a toast or the desktop notification). */
  async openNotification(id: string): Promise<void> {
    const n = this.notifications.find((x) => x.id === id) ?? this.toasts.find((x) => x.id === id);
    if (!n) return this.dismissToast(id);
    if (this.view !== 'conversations' && !this.showView('conversations')) return;
    this.dismissToast(id);
    this.setNotifications(markRead(this.notifications, { id }));
    await this.open(n.conversation_id);
  }

  markAllNotificationsRead(): void {
    this.setNotifications(markRead(this.notifications));
  }

  // ---------- saved replies ----------

  /**
   * Reads the saved replies (cached for the session). Opening the `/` picker or the management
   * view asks again, at most every 10 s unless `force`.
   */
  async loadCanned(force = false, now: number = Date.now()): Promise<void> {
    if (this.cannedMissing || (!force && now - this.cannedReadAt < 10_000)) return;
    this.cannedReadAt = now;
    try {
      const list = await this.api.canned();
      this.canned = Array.isArray(list) ? list.filter((c) => c && typeof c.shortcut === 'string' && typeof c.text === 'string') : [];
    } catch (e) {
      if (e instanceof ApiError && ((e.status === 404 && e.code !== 'not_found') || e.status === 405 || e.status === 501)) this.cannedMissing = true;
      else if (e instanceof NetworkError || this.canned !== null) return; // offline, or read before: keep the cache
      else this.cannedError = e instanceof Error ? e.message : String(e);
      this.emit();
      return;
    }
    this.cannedError = null;
    this.emit();
  }

  /** Saves a reply under `shortcut` (a renamed one is deleted under `old` after). Null when done, else the reason. */
  async saveCanned(shortcut: string, text: string, old?: string): Promise<Outcome> {
    try {
      const saved = await this.api.putCanned(shortcut, text);
      const item: CannedResponse = saved && typeof saved === 'object' && typeof saved.shortcut === 'string' ? saved : { shortcut, text };
      let list = upsertCanned(this.canned ?? [], item);
      if (old && old !== item.shortcut) {
        await this.api.deleteCanned(old).catch(() => {});
        list = list.filter((c) => c.shortcut !== old);
      }
      this.canned = list;
      this.emit();
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  async deleteCanned(shortcut: string): Promise<Outcome> {
    try {
      await this.api.deleteCanned(shortcut);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) return e instanceof Error ? e.message : String(e);
    }
    this.canned = (this.canned ?? []).filter((c) => c.shortcut !== shortcut);
    this.emit();
    return null;
  }

  // ---------- notes, labels, priority, snooze, read ----------

  /** Adds a private note; resolves to the agents it notified, or the reason it failed. */
  async addNote(conversationId: string, text: string): Promise<{ ok: true; mentioned: string[] } | { ok: false; reason: string }> {
    const trimmed = text.trim();
    if (!trimmed) return { ok: false, reason: '' };
    try {
      const r = await this.api.addNote(conversationId, trimmed);
      // `{message, mentioned}`; a bare message is taken too.
      const m = r && typeof r === 'object' && 'message' in r ? r.message : (r as unknown as Message);
      if (m && typeof m === 'object' && 'id' in m) this.set(upsertMessage(this.state, m));
      return { ok: true, mentioned: Array.isArray(r?.mentioned) ? r.mentioned : [] };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  private async change(p: Promise<ConversationView>): Promise<Outcome> {
    try {
      const c = await p;
      if (c && typeof c === 'object' && 'id' in c) this.set(upsertConversation(this.state, c));
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  setLabels(id: string, labels: string[]): Promise<Outcome> {
    return this.change(this.api.setLabels(id, labels));
  }
  setPriority(id: string, priority: Priority): Promise<Outcome> {
    return this.change(this.api.setPriority(id, priority));
  }
  snooze(id: string, until: number): Promise<Outcome> {
    return this.change(this.api.snooze(id, Math.round(until)));
  }
  unsnooze(id: string): Promise<Outcome> {
    return this.change(this.api.unsnooze(id));
  }
  markRead(id: string): Promise<Outcome> {
    return this.change(this.api.markRead(id));
  }

  /** Overrides the customer's language of a conversation; the answer (the conversation) replaces the one held. */
  async setConversationLanguage(id: string, language: string): Promise<void> {
    const c = await this.guard(this.api.setConversationLanguage(id, language));
    if (c) this.set(upsertConversation(this.state, c));
  }

  /** A translation preview of a draft (the composer cancels a stale one through `signal`). */
  previewTranslation(conversationId: string, text: string, signal?: AbortSignal): Promise<TranslationPreview> {
    return this.api.translationPreview(conversationId, text, signal);
  }

  /** Sends a reply held for its translation untranslated. Resolves to null when done, else the reason. */
  sendOriginal(conversationId: string, messageId: string): Promise<string | null> {
    return this.messageAction(this.api.sendOriginal(conversationId, messageId));
  }

  /** Asks for a held reply's translation again. Resolves to null when done, else the reason. */
  retryTranslation(conversationId: string, messageId: string): Promise<string | null> {
    return this.messageAction(this.api.retryTranslation(conversationId, messageId));
  }

  private async messageAction(p: Promise<Message>): Promise<string | null> {
    try {
      const m = await p;
      if (m && typeof m === 'object' && 'id' in m) this.set(upsertMessage(this.state, m));
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /**
   * Saves the agent's own language and the others they read (`reads`, without the own one).
   * Resolves to null when saved (the timeline re-renders for the new languages), else the reason.
   */
  async saveLanguages(language: string, reads: string[]): Promise<string | null> {
    let agent: Agent;
    try {
      agent = await this.api.setMyLanguages(language, reads);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    // The answer is the agent; a server answering something else has still saved what was sent.
    const me: Agent = agent && typeof agent === 'object' && agent.id === this.me.id ? agent : { ...this.me, language, languages: [language, ...reads] };
    this.me = me;
    this.agents = this.agents.map((a) => (a.id === me.id ? me : a));
    this.emit();
    return null;
  }

  async setTags(contactId: string, tags: string[]): Promise<void> {
    const c = await this.guard(this.api.patchContact(contactId, { tags }));
    if (c) this.set(applyEvent(this.state, { type: 'contact.updated', contact: c }));
  }

  /**
   * Merges contact `from` into `into` (the open conversation's contact). Resolves to null when
   * done, or to the refusal (`code`, e.g. `not_found`, `same_contact`, `already_merged`, and the
   * server's message) for the view to show next to the action.
   */
  async mergeContacts(into: string, from: string): Promise<{ code: string; message: string } | null> {
    let merged;
    try {
      merged = await this.api.mergeContacts(into, from);
    } catch (e) {
      if (e instanceof ApiError) return { code: e.code, message: e.message };
      return { code: 'network', message: e instanceof Error ? e.message : String(e) };
    }
    if (merged && typeof merged === 'object' && 'id' in merged) {
      this.set(applyEvent(this.state, { type: 'contact.updated', contact: merged }));
    }
    // The moved conversations also come as conversation.updated; re-read the ones held now so
    // the list does not wait for the socket, and the profile re-reads its conversations.
    const moved = Object.values(this.state.conversations).filter((c) => c.contact.id === from);
    for (const c of moved) {
      const fresh = await this.guard(this.api.conversation(c.id));
      if (fresh) this.set(upsertConversation(this.state, fresh));
    }
    const full = await this.guard(this.api.contact(into));
    if (full) this.set(putContact(this.state, full));
    return null;
  }

  /**
   * Everything stored about a contact as a file (admins): the archive and its name, for the view
   * to save; or the refusal (the server's message).
   */
  async exportContact(contactId: string): Promise<ContactDataResult<{ blob: Blob; filename: string }>> {
    try {
      return { ok: true, value: await this.api.exportContact(contactId) };
    } catch (e) {
      return refusal(e);
    }
  }

  /**
   * Erases a contact for good (admins). Done: their conversations leave every list here at once
   * (the `contact.erased` push every agent gets changes nothing more), with their drafts and
   * queued replies, and the open one, theirs, gives way to a notice with what was erased.
   * Refused: nothing is removed, and the refusal is for the view to show.
   */
  async eraseContact(contactId: string): Promise<ContactDataResult<ErasureCounts | null>> {
    let answer: unknown;
    try {
      answer = await this.api.eraseContact(contactId);
    } catch (e) {
      return refusal(e);
    }
    const counts = parseErasure(answer, contactId);
    const named = erasedIds(answer);
    // The conversations the answer names, and any held here of the contact or of those merged into it.
    const contacts = [contactId, ...named.contacts];
    const ids = [...new Set([...named.conversations, ...contacts.flatMap((id) => conversationsOfContact(this.state, id))])];
    this.forgetErased(ids, counts, true);
    let s = eraseContact(this.state, contactId, ids);
    for (const merged of named.contacts) s = eraseContact(s, merged, []);
    this.state = s;
    this.emit();
    return { ok: true, value: counts };
  }

  /** Moves the selection through the current tab's list (keyboard shortcuts). */
  step(delta: number, list: { id: string }[]): void {
    if (list.length === 0) return;
    const i = list.findIndex((c) => c.id === this.openId);
    const next = i < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + delta));
    void this.open(list[next].id);
  }
}

/** Whether two team lists hold the same teams (in any order). */
function sameTeams(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = [...new Set(a ?? [])].sort();
  const y = [...new Set(b ?? [])].sort();
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

/** `read`, with the status of `held` when a presence event came after the read began. */
function keepPresence(read: Agent, held: Agent | undefined): Agent {
  return held ? { ...read, status: held.status, chosen_status: held.chosen_status } : read;
}

/** The conversation an event is about, if any. */
function conversationOf(ev: ServerEvent): string | null {
  switch (ev.type) {
    case 'message.created':
    case 'message.updated':
      return ev.conversation_id;
    case 'conversation.updated':
      return ev.conversation.id;
    default:
      return null;
  }
}
