// Pure state rules, unit-tested: merging messages from pages, POST answers and socket events;
// what the timeline shows; unread counting.

import type { Pending } from './outbox';
import type { WebMessage } from './types';

/** ms since the epoch from a number or an RFC 3339 string (the domain serialises either way). */
export function toMs(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    return Number.isNaN(n) ? 0 : n;
  }
  return 0;
}

const stamp = (m: WebMessage): number => toMs(m.delivery?.updated_at);

/** created_at as ms, whatever the wire form. */
const normalise = (m: WebMessage): WebMessage => (typeof m.created_at === 'number' ? m : { ...m, created_at: toMs(m.created_at) });

/** The newer of two versions of one message: a late or repeated event never rolls back. */
export function newer(a: WebMessage, b: WebMessage): WebMessage {
  const [keep, other] = stamp(b) >= stamp(a) ? [b, a] : [a, b];
  return withLinks(keep, other);
}

/** Pushed messages carry no file links: keep the ones a page already gave for the same file. */
function withLinks(keep: WebMessage, other: WebMessage): WebMessage {
  const atts = keep.attachments;
  if (!atts?.some((x) => !x.url)) return keep;
  const links = new Map((other.attachments ?? []).filter((x) => x.url).map((x) => [x.blob ?? x.file_name, x.url]));
  return { ...keep, attachments: atts.map((x) => (x.url ? x : { ...x, url: links.get(x.blob ?? x.file_name) ?? x.url })) };
}

/** A file is stored but its link is not known yet (it came in a push): the page must be read again. */
export function needsLinks(m: WebMessage): boolean {
  return !!m.attachments?.some((x) => x.blob && !x.url);
}

export function byTime(a: WebMessage, b: WebMessage): number {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Merge `incoming` into `list` (sorted oldest first). One entry per id; a message with the
 * client id of one already shown under another id replaces it (the same message stored once).
 */
export function mergeMessages(list: readonly WebMessage[], incoming: readonly WebMessage[]): WebMessage[] {
  if (incoming.length === 0) return list as WebMessage[];
  const byId = new Map<string, WebMessage>();
  const byClient = new Map<string, string>();
  const put = (raw: WebMessage): void => {
    if (!raw || typeof raw.id !== 'string') return;
    const m = normalise(raw);
    const other = m.client_id ? byClient.get(m.client_id) : undefined;
    if (other !== undefined && other !== m.id) {
      const old = byId.get(other)!;
      byId.delete(other);
      const keep = newer(old, m);
      byId.set(keep.id, keep);
      if (m.client_id) byClient.set(m.client_id, keep.id);
      return;
    }
    const prev = byId.get(m.id);
    const keep = prev ? newer(prev, m) : m;
    byId.set(m.id, keep);
    if (keep.client_id) byClient.set(keep.client_id, keep.id);
  };
  list.forEach(put);
  incoming.forEach(put);
  return [...byId.values()].sort(byTime);
}

/** `chosen`: the data of the button the visitor pressed under this message (its buttons are then spent). */
export type Item = { kind: 'message'; message: WebMessage; chosen?: string } | { kind: 'pending'; pending: Pending };

/**
 * The button the visitor pressed under `messages[i]`: one still in the outbox that answers it,
 * else a later message of theirs saying a button's label (how a press reads after a reload).
 */
export function chosenAt(messages: readonly WebMessage[], i: number, pending: readonly Pending[]): string | undefined {
  const m = messages[i];
  if (!m.buttons?.length) return undefined;
  const queued = pending.find((p) => p.answers === m.id && p.choice);
  if (queued) return queued.choice;
  for (const later of messages.slice(i + 1)) {
    if (later.direction !== 'inbound') continue;
    const b = m.buttons.find((x) => x.text === later.text);
    if (b) return b.data;
  }
  return undefined;
}

/** The timeline: stored messages, then messages still in the outbox that the server has not echoed. */
export function timeline(messages: readonly WebMessage[], pending: readonly Pending[]): Item[] {
  const known = new Set(messages.map((m) => m.client_id).filter(Boolean));
  const items: Item[] = messages.map((message, i) => {
    const chosen = chosenAt(messages, i, pending);
    return chosen === undefined ? { kind: 'message', message } : { kind: 'message', message, chosen };
  });
  for (const p of pending) if (!known.has(p.client_id)) items.push({ kind: 'pending', pending: p });
  return items;
}

/** Written by an agent, the bot or the AI (not by the visitor, not a timeline note). */
export const fromAgent = (m: WebMessage): boolean => m.direction === 'outbound' && m.author?.kind !== 'system';

/** Messages from the other side newer than what the visitor has seen. */
export function countUnread(messages: readonly WebMessage[], seenAt: number): number {
  return messages.filter((m) => fromAgent(m) && m.created_at > seenAt).length;
}

/** created_at of the newest message from the other side (0 when there is none). */
export function newestAgentAt(messages: readonly WebMessage[]): number {
  let at = 0;
  for (const m of messages) if (fromAgent(m) && m.created_at > at) at = m.created_at;
  return at;
}

/** True when the first page after a reconnect shares no message with what is shown (a gap). */
export function hasGap(shown: readonly WebMessage[], page: readonly WebMessage[]): boolean {
  if (shown.length === 0 || page.length === 0) return false;
  const ids = new Set(shown.map((m) => m.id));
  return !page.some((m) => ids.has(m.id));
}

export function validEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
}
