// Notifications pushed to one agent (an @mention in a private note): read from the `notification`
// event, kept newest first (by id, never twice) with a read mark, and remembered per agent in
// localStorage so a reload keeps the bell's list.

import type { AgentNotification } from './types';
import type { KeyValue } from './outbox';

export interface HeldNotification extends AgentNotification {
  read: boolean;
}

export const MAX_NOTIFICATIONS = 50;

/** The notification of a `notification` event's payload, or null when it is not one. */
export function parseNotification(raw: unknown): AgentNotification | null {
  if (!raw || typeof raw !== 'object') return null;
  const n = raw as Record<string, unknown>;
  if (typeof n.id !== 'string' || typeof n.conversation_id !== 'string') return null;
  return {
    id: n.id,
    kind: typeof n.kind === 'string' ? n.kind : 'mention',
    conversation_id: n.conversation_id,
    message_id: typeof n.message_id === 'string' ? n.message_id : null,
    by: typeof n.by === 'string' ? n.by : '',
    by_name: typeof n.by_name === 'string' && n.by_name ? n.by_name : typeof n.by === 'string' ? n.by : '?',
    text: typeof n.text === 'string' ? n.text : '',
    at: typeof n.at === 'string' || typeof n.at === 'number' ? n.at : Date.now(),
  };
}

/** The list with `n` added first (unread); unchanged when it is held already. At most `MAX_NOTIFICATIONS`. */
export function addNotification(list: readonly HeldNotification[], n: AgentNotification): HeldNotification[] {
  if (list.some((x) => x.id === n.id)) return list as HeldNotification[];
  return [{ ...n, read: false }, ...list].slice(0, MAX_NOTIFICATIONS);
}

/** Marks read: one notification (`id`), those of a conversation, or all (no filter). */
export function markRead(list: readonly HeldNotification[], which: { id?: string; conversationId?: string } = {}): HeldNotification[] {
  let changed = false;
  const next = list.map((n) => {
    const hit = which.id !== undefined ? n.id === which.id : which.conversationId !== undefined ? n.conversation_id === which.conversationId : true;
    if (!hit || n.read) return n;
    changed = true;
    return { ...n, read: true };
  });
  return changed ? next : (list as HeldNotification[]);
}

export function unreadCount(list: readonly HeldNotification[]): number {
  return list.filter((n) => !n.read).length;
}

const key = (agentId: string) => `omnidesk.notifications.${agentId}`;

export function loadNotifications(storage: KeyValue, agentId: string): HeldNotification[] {
  try {
    const raw = JSON.parse(storage.getItem(key(agentId)) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((x) => {
      const n = parseNotification(x);
      return n ? [{ ...n, read: (x as { read?: unknown }).read === true }] : [];
    });
  } catch {
    return [];
  }
}

export function saveNotifications(storage: KeyValue, agentId: string, list: readonly HeldNotification[]): void {
  try {
    storage.setItem(key(agentId), JSON.stringify(list));
  } catch {
    /* storage full or off: the bell still works for this page */
  }
}
