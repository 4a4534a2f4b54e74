// Pure state handling: merging server events and fetched pages into what the screen shows.
// No I/O here, so every rule is unit-tested (test/state.test.ts).

import type { Agent, AgentStatus, ContactWithConversations, ConversationSummary, ConversationView, Message, Page, ServerEvent } from './types';

export type Tab = 'mine' | 'unassigned' | 'all' | 'resolved';
export const TABS: Tab[] = ['mine', 'unassigned', 'all', 'resolved'];

/**
 * The tab the list opens on after a sign-in or a first load: the one the agent picked during this
 * browser tab's session, else where the work is — Mine when any conversation is assigned to them,
 * else Unassigned (not an empty Mine while a customer waits in the queue).
 */
export function openingTab(saved: string | null, mineHasAny: boolean): Tab {
  if (saved && (TABS as string[]).includes(saved)) return saved as Tab;
  return mineHasAny ? 'mine' : 'unassigned';
}

/**
 * The status the agent is in: busy or offline when they chose it, else what the server says
 * (`presence`; online while a dashboard is connected).
 */
export function effectiveStatus(a: Pick<Agent, 'status' | 'chosen_status'>): AgentStatus {
  if (a.chosen_status === 'busy' || a.chosen_status === 'offline') return a.chosen_status;
  return a.status;
}

export interface ListCursor {
  /** `next_cursor` of the last page loaded; null when the end was reached. */
  next: string | null;
  loaded: boolean;
}

export interface State {
  me: string | null;
  conversations: Record<string, ConversationView>;
  /** Timelines of the conversations opened so far, chronological. */
  messages: Record<string, Message[]>;
  /** Older messages exist before the first one loaded. */
  olderCursor: Record<string, string | null>;
  cursors: Record<Tab, ListCursor>;
  contacts: Record<string, ContactWithConversations>;
  /** Names of every contact seen, by id (also merged ones: timeline events name them). */
  names: Record<string, string>;
  /**
   * Conversations and contacts erased (`contact.erased`, or an erasure made here): never taken
   * again, so a list page or a reply read before the erasure cannot bring them back.
   */
  erasedConversations: Record<string, true>;
  erasedContacts: Record<string, true>;
}

export function emptyState(me: string | null = null): State {
  const cursors = {} as Record<Tab, ListCursor>;
  for (const t of TABS) cursors[t] = { next: null, loaded: false };
  return { me, conversations: {}, messages: {}, olderCursor: {}, cursors, contacts: {}, names: {}, erasedConversations: {}, erasedContacts: {} };
}

/** The list query of a tab (`GET /api/v1/conversations?…`). */
export function tabQuery(tab: Tab): Record<string, string> {
  switch (tab) {
    case 'mine':
      return { assignee: 'me', status: 'assigned' };
    case 'unassigned':
      return { assignee: 'none', status: 'queued' };
    case 'resolved':
      return { status: 'resolved' };
    case 'all':
      return {};
  }
}

export function matchesTab(c: ConversationView, tab: Tab, me: string | null): boolean {
  switch (tab) {
    case 'mine':
      return c.status === 'assigned' && c.assignee_id !== null && c.assignee_id === me;
    case 'unassigned':
      return c.status === 'queued' && c.assignee_id === null;
    case 'resolved':
      return c.status === 'resolved';
    case 'all':
      return true;
  }
}

/**
 * Newest activity first (exact `last_activity_at`), then id descending. Not quite the server's
 * list order: the server ranks by the minute of the last activity, then id descending, so within
 * one minute its pages follow the id, not the exact time.
 */
export function byActivity(a: ConversationView, b: ConversationView): number {
  if (a.last_activity_at !== b.last_activity_at) return a.last_activity_at < b.last_activity_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function visibleList(s: State, tab: Tab): ConversationView[] {
  return Object.values(s.conversations)
    .filter((c) => matchesTab(c, tab, s.me))
    .sort(byActivity);
}

export function unreadTotal(s: State, tab: Tab): number {
  return visibleList(s, tab).reduce((n, c) => n + (c.unread_count || 0), 0);
}

/** Whether a conversation (or its contact) was erased: nothing of it is taken again. */
export function isErased(s: State, conversationId: string, contactId?: string): boolean {
  return !!s.erasedConversations?.[conversationId] || (contactId !== undefined && !!s.erasedContacts?.[contactId]);
}

/**
 * Whether `me` may read `c`, as the server decides (shared/core `assign::may_read`): a supervisor
 * or an admin every conversation; an agent those of their teams (names compared ignoring ASCII
 * case), those of no team (the common queue) and any assigned to them. A server without roles
 * (no role on me) narrows nothing.
 */
export function mayRead(me: Pick<Agent, 'id' | 'role' | 'teams'>, c: Pick<ConversationView, 'team' | 'assignee_id'>): boolean {
  if (me.role !== 'agent') return true;
  if (!c.team || c.assignee_id === me.id) return true;
  const team = asciiLower(c.team);
  return (me.teams ?? []).some((t) => asciiLower(t) === team);
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * The teams of `teams` that `others` does not have, names compared ignoring ASCII case as the
 * server compares them: `teamsNotIn(now, before)` are the teams I was just put in.
 */
export function teamsNotIn(teams: readonly string[] | undefined, others: readonly string[] | undefined): string[] {
  const held = new Set((others ?? []).map(asciiLower));
  return [...new Set(teams ?? [])].filter((t) => !held.has(asciiLower(t)));
}

/**
 * Drops the conversations `me` may no longer read (after my teams changed): the server pushes
 * nothing more about them, so held ones would linger in the lists, stale. Their timelines go
 * too; unchanged when every one is still readable.
 */
export function forgetUnreadable(s: State, me: Pick<Agent, 'id' | 'role' | 'teams'>): State {
  const gone = Object.values(s.conversations).filter((c) => !mayRead(me, c)).map((c) => c.id);
  if (gone.length === 0) return s;
  const conversations = { ...s.conversations };
  const messages = { ...s.messages };
  const olderCursor = { ...s.olderCursor };
  for (const id of gone) {
    delete conversations[id];
    delete messages[id];
    delete olderCursor[id];
  }
  return { ...s, conversations, messages, olderCursor };
}

/** Stores a conversation unless what we hold is newer (a higher version) or it was erased. */
export function upsertConversation(s: State, c: ConversationView): State {
  if (isErased(s, c.id, c.contact?.id)) return s;
  const old = s.conversations[c.id];
  if (old && old.version > c.version) return s;
  return { ...s, conversations: { ...s.conversations, [c.id]: c }, contacts: syncContacts(s.contacts, c), names: named(s.names, c.contact) };
}

function named(names: Record<string, string> | undefined, c: { id: string; display_name: string } | undefined): Record<string, string> {
  const held = names ?? {};
  if (!c || held[c.id] === c.display_name) return held;
  return { ...held, [c.id]: c.display_name };
}

/** Stores a fetched contact with its conversations (`GET /contacts/{id}`). */
export function putContact(s: State, c: ContactWithConversations): State {
  if (s.erasedContacts?.[c.id]) return s;
  return { ...s, contacts: { ...s.contacts, [c.id]: c }, names: named(s.names, c) };
}

/** Remembers a contact's name (one fetched only to name it, e.g. a merged contact). */
export function rememberName(s: State, c: { id: string; display_name: string }): State {
  if (s.erasedContacts?.[c.id]) return s;
  const names = named(s.names, c);
  return names === s.names ? s : { ...s, names };
}

function summaryOf(c: ConversationView): ConversationSummary {
  const { id, status, channel, channel_path, channels, last_message, last_activity_at, created_at } = c;
  return { id, status, channel, channel_path, channels, contact_id: c.contact.id, last_message, last_activity_at, created_at };
}

/**
 * Keeps the fetched contacts (profiles, with their conversation lists) in line with a newer
 * conversation: it may have moved to another contact (a merge), and it carries its contact as
 * it is now (taken when newer than the one held).
 */
export function syncContacts(contacts: Record<string, ContactWithConversations>, c: ConversationView): Record<string, ContactWithConversations> {
  let next = contacts;
  for (const [id, held] of Object.entries(contacts)) {
    const list = held.conversations ?? [];
    const listed = list.some((x) => x.id === c.id);
    if (id === c.contact.id) {
      const summary = summaryOf(c);
      const conversations = listed ? list.map((x) => (x.id === c.id ? { ...x, ...summary } : x)) : [summary, ...list];
      const base = c.contact.updated_at > held.updated_at ? { ...held, ...c.contact } : held;
      next = { ...next, [id]: { ...base, conversations } };
    } else if (listed) {
      next = { ...next, [id]: { ...held, conversations: list.filter((x) => x.id !== c.id) } };
    }
  }
  return next;
}

/** Appends a page of a tab's list (pagination on scroll). */
export function appendListPage(s: State, tab: Tab, page: Page<ConversationView>): State {
  let next = s;
  for (const c of page.items) next = upsertConversation(next, c);
  return { ...next, cursors: { ...next.cursors, [tab]: { next: page.next_cursor, loaded: true } } };
}

/**
 * The server's list order (`Conversation::list_rank`): the minute of the last activity, then id,
 * both descending. Pages are cut in this order, so deciding whether a held conversation falls
 * inside a page must use it, not the exact time.
 */
export function byListRank(a: ConversationView, b: ConversationView): number {
  const minute = (c: ConversationView) => Math.floor(Date.parse(c.last_activity_at) / 60000);
  const [ma, mb] = [minute(a), minute(b)];
  if (ma !== mb) return ma < mb ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Replaces what we know of a tab's first page after a reconnect: conversations we hold that
 * match the tab and fall inside the page's range but are missing from it changed while we were
 * away (taken by someone else, resolved…), so they are dropped — the open one is kept, it is
 * re-read on its own. Then the page is merged (a higher version still wins: an event may have
 * arrived while the page was on its way).
 */
/**
 * Replaces what a tab shows by a fresh first page. `fresh`: conversations a push changed after
 * the page was requested; the page (read before) may not have them or have them older, so they
 * stay as pushed. Without it, a conversation created while the list was being read vanished
 * until the next reload.
 */
export function resyncList(
  s: State,
  tab: Tab,
  page: Page<ConversationView>,
  keepId: string | null,
  fresh: ReadonlySet<string> = new Set(),
): State {
  const inPage = new Set(page.items.map((c) => c.id));
  const oldest = page.items.length ? page.items[page.items.length - 1] : null;
  const conversations = { ...s.conversations };
  for (const c of Object.values(s.conversations)) {
    if (c.id === keepId || fresh.has(c.id) || inPage.has(c.id) || !matchesTab(c, tab, s.me)) continue;
    const inRange = page.next_cursor === null || (oldest !== null && byListRank(c, oldest) <= 0);
    if (inRange) delete conversations[c.id];
  }
  let next: State = { ...s, conversations };
  for (const c of page.items) if (!fresh.has(c.id)) next = upsertConversation(next, c);
  return { ...next, cursors: { ...next.cursors, [tab]: { next: page.next_cursor, loaded: true } } };
}

function rank(m: Message): number {
  return m.delivery.status === 'sending' ? 0 : 1;
}

/**
 * Whether `incoming` should replace `held` (same id): newer content (a higher `revision`: an
 * edit, an album's next photo, a fetched file) wins, then the newer delivery state.
 */
export function isNewer(incoming: Message, held: Message): boolean {
  const [ri, rh] = [incoming.revision ?? 0, held.revision ?? 0];
  if (ri !== rh) return ri > rh;
  if (incoming.delivery.updated_at !== held.delivery.updated_at) {
    return incoming.delivery.updated_at > held.delivery.updated_at;
  }
  return rank(incoming) >= rank(held);
}

function chronological(a: Message, b: Message): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * `incoming` with the file links of `held` kept where it has none for the same stored file:
 * WebSocket events carry no links, and a page fetched earlier had them.
 */
export function keepLinks(incoming: Message, held: Message): Message {
  if (!incoming.attachments?.length || !held.attachments?.some((a) => a.url)) return incoming;
  let changed = false;
  const attachments = incoming.attachments.map((a) => {
    if (a.url) return a;
    const old = held.attachments.find((h) => h.url && h.reference === a.reference && h.kind === a.kind && (a.blob ?? h.blob) === h.blob);
    if (!old) return a;
    changed = true;
    return { ...a, url: old.url, blob: a.blob ?? old.blob };
  });
  return changed ? { ...incoming, attachments } : incoming;
}

/** Merges messages into a timeline by id: never doubled, newest content and delivery state kept, sorted. */
export function mergeMessages(list: Message[], incoming: Message[]): Message[] {
  const byId = new Map(list.map((m) => [m.id, m] as const));
  let changed = false;
  for (const m of incoming) {
    const held = byId.get(m.id);
    if (!held || isNewer(m, held)) {
      byId.set(m.id, held ? keepLinks(m, held) : m);
      changed = true;
    }
  }
  if (!changed) return list;
  return [...byId.values()].sort(chronological);
}

/** Stores the newest page of a timeline (first open or resync). */
export function setTimeline(s: State, conversationId: string, page: Page<Message>, first: boolean): State {
  if (isErased(s, conversationId)) return s;
  const held = s.messages[conversationId] ?? [];
  const merged = mergeMessages(held, page.items);
  const olderCursor = first || !(conversationId in s.olderCursor)
    ? { ...s.olderCursor, [conversationId]: page.next_cursor }
    : s.olderCursor;
  return { ...s, messages: { ...s.messages, [conversationId]: merged }, olderCursor };
}

/** Prepends an older page (scrolling up). */
export function prependOlder(s: State, conversationId: string, page: Page<Message>): State {
  if (isErased(s, conversationId)) return s;
  const held = s.messages[conversationId] ?? [];
  return {
    ...s,
    messages: { ...s.messages, [conversationId]: mergeMessages(held, page.items) },
    olderCursor: { ...s.olderCursor, [conversationId]: page.next_cursor },
  };
}

/** After a resync page: did we miss more than one page (no overlap with what we hold)? */
export function resyncHasGap(held: Message[], page: Page<Message>): boolean {
  if (held.length === 0 || page.next_cursor === null || page.items.length === 0) return false;
  const ids = new Set(held.map((m) => m.id));
  return !page.items.some((m) => ids.has(m.id));
}

export function upsertMessage(s: State, m: Message): State {
  const held = s.messages[m.conversation_id];
  if (!held) return s; // not opened: the list shows its preview from the conversation view
  const merged = mergeMessages(held, [m]);
  if (merged === held) return s;
  return { ...s, messages: { ...s.messages, [m.conversation_id]: merged } };
}

/** The events of a frame in order: a `batch` unpacked (also nested ones), anything else alone. */
export function flattenEvents(ev: ServerEvent): ServerEvent[] {
  if (ev.type !== 'batch') return [ev];
  return (Array.isArray(ev.events) ? ev.events : []).flatMap(flattenEvents);
}

/** The conversation an event brings, if any (`conversation.updated`, or a `message.created` carrying it). */
export function conversationOf(ev: ServerEvent): ConversationView | null {
  if (ev.type === 'conversation.updated') return ev.conversation;
  if (ev.type === 'message.created') return ev.conversation ?? null;
  return null;
}

/** Applies one WebSocket event (a `batch`: each of its events, in order). */
export function applyEvent(s: State, ev: ServerEvent): State {
  switch (ev.type) {
    case 'batch':
      return flattenEvents(ev).reduce(applyEvent, s);
    case 'conversation.updated':
      return upsertConversation(s, ev.conversation);
    case 'message.created': {
      // The message, then the list entry exactly as a conversation.updated would update it.
      const next = upsertMessage(s, ev.message);
      return ev.conversation ? upsertConversation(next, ev.conversation) : next;
    }
    case 'message.updated':
      return upsertMessage(s, ev.message);
    case 'contact.updated': {
      // A merge sends the kept contact (more identities) and the merged one (`merged_into`);
      // the moved conversations follow as conversation.updated with their new contact.
      if (s.erasedContacts?.[ev.contact.id]) return s;
      const conversations = { ...s.conversations };
      let touched = false;
      for (const c of Object.values(s.conversations)) {
        if (c.contact.id === ev.contact.id && c.contact.updated_at <= ev.contact.updated_at) {
          conversations[c.id] = { ...c, contact: ev.contact };
          touched = true;
        }
      }
      const stale = s.contacts[ev.contact.id];
      const held = stale && stale.updated_at <= ev.contact.updated_at ? stale : undefined;
      const contacts = held ? { ...s.contacts, [ev.contact.id]: { ...held, ...ev.contact } } : s.contacts;
      const names = named(s.names, ev.contact);
      return touched || held || names !== s.names ? { ...s, conversations, contacts, names } : s;
    }
    case 'contact.erased':
      return eraseContact(s, ev.contact_id, Array.isArray(ev.conversation_ids) ? ev.conversation_ids : []);
    default:
      return s;
  }
}

/**
 * The conversations of a contact held here: those listed with it (their contact is it) and those
 * its fetched profile lists.
 */
export function conversationsOfContact(s: State, contactId: string): string[] {
  const ids = new Set<string>();
  for (const c of Object.values(s.conversations)) if (c.contact.id === contactId) ids.add(c.id);
  for (const x of s.contacts[contactId]?.conversations ?? []) ids.add(x.id);
  return [...ids];
}

/**
 * Forgets an erased contact and their conversations (`contact.erased`, or an erasure made
 * here): the conversations `conversationIds` names and any other held of that contact leave
 * every list with their timelines; the contact, and the contacts held that were merged into it
 * (erased with it), leave the profiles and the names; all are remembered as erased so nothing
 * read before brings them back. Unchanged when nothing was held.
 */
export function eraseContact(s: State, contactId: string, conversationIds: readonly string[]): State {
  const people = new Set([contactId, ...Object.values(s.contacts).filter((c) => c.merged_into === contactId).map((c) => c.id)]);
  const gone = new Set(conversationIds.filter((id) => typeof id === 'string'));
  for (const id of people) for (const c of conversationsOfContact(s, id)) gone.add(c);
  const known = [...people].every((id) => s.erasedContacts?.[id]) && [...gone].every((id) => s.erasedConversations?.[id]);
  if (known) return s;
  const conversations = { ...s.conversations };
  const messages = { ...s.messages };
  const olderCursor = { ...s.olderCursor };
  const erasedConversations = { ...s.erasedConversations };
  for (const id of gone) {
    delete conversations[id];
    delete messages[id];
    delete olderCursor[id];
    erasedConversations[id] = true;
  }
  const contacts: Record<string, ContactWithConversations> = {};
  for (const [id, held] of Object.entries(s.contacts)) {
    if (people.has(id)) continue;
    const list = held.conversations ?? [];
    contacts[id] = list.some((x) => gone.has(x.id)) ? { ...held, conversations: list.filter((x) => !gone.has(x.id)) } : held;
  }
  const names = { ...s.names };
  const erasedContacts = { ...s.erasedContacts };
  for (const id of people) {
    delete names[id];
    erasedContacts[id] = true;
  }
  return { ...s, conversations, messages, olderCursor, contacts, names, erasedConversations, erasedContacts };
}

/**
 * A conversation newly assigned to me by this event (for the opt-in notification): a
 * `conversation.updated`, or a `message.created` carrying the conversation. Call it per event
 * of a batch (`flattenEvents`), before applying that event.
 */
export function newlyAssignedToMe(s: State, ev: ServerEvent): ConversationView | null {
  const c = conversationOf(ev);
  if (c === null || s.me === null || isErased(s, c.id, c.contact?.id)) return null;
  if (c.status !== 'assigned' || c.assignee_id !== s.me) return null;
  const old = s.conversations[c.id];
  if (old && old.version >= c.version) return null;
  if (old && old.status === 'assigned' && old.assignee_id === s.me) return null;
  return c;
}

/** Milliseconds the customer has been waiting: since their last message, if it is the last one. */
export function waitingMs(c: ConversationView, now: number): number | null {
  if (c.status === 'resolved' || !c.last_inbound_at) return null;
  if (c.last_message && c.last_message.direction !== 'inbound') return null;
  return Math.max(0, now - Date.parse(c.last_inbound_at));
}
