// Channels and identities as the dashboard shows them: a conversation's channel path, the
// identity list of a profile (proven identities and the visitor's unverified word), and the
// contacts an agent can merge by hand. Pure functions, unit-tested in test/channels.test.ts.

import type { Channel, Contact, ConversationView, Identity, Message } from './types';

/**
 * The channels a conversation moved through, oldest first: `channels`, else `channel_path`
 * (older servers), else just `channel`. Repeats in a row are folded ("web, web" is one stay).
 */
export function conversationChannels(c: Pick<ConversationView, 'channel' | 'channel_path' | 'channels'>): Channel[] {
  const raw = c.channels?.length ? c.channels : c.channel_path?.length ? c.channel_path : [c.channel];
  const out: Channel[] = [];
  for (const ch of raw) if (out[out.length - 1] !== ch) out.push(ch);
  return out;
}

/** "Website → Telegram" (one channel: just its name). */
export function pathLabel(channels: readonly string[], label: (channel: string) => string): string {
  return channels.map(label).join(' → ');
}

/** The contact attributes where the widget keeps what a visitor typed, unverified. */
export const UNVERIFIED_ATTRIBUTES: Record<string, 'email' | 'phone'> = {
  'email (unverified)': 'email',
  'phone (unverified)': 'phone',
};

export interface IdentityRow {
  kind: Identity['kind'];
  /** What identifies them: `@username` (or the user id), the address, the visitor id, the number. */
  value: string;
  /** true/false where it means something (e-mail, the visitor's word); null for proven channel ids. */
  verified: boolean | null;
  /** An identity of the contact, or an attribute the visitor typed (never proof). */
  source: 'identity' | 'attribute';
}

function identityRow(i: Identity): IdentityRow | null {
  switch (i.kind) {
    case 'telegram':
      return { kind: 'telegram', value: i.username ? `@${i.username}` : String(i.user_id), verified: null, source: 'identity' };
    case 'email':
      return { kind: 'email', value: i.address, verified: !!i.verified, source: 'identity' };
    case 'web_visitor':
      return { kind: 'web_visitor', value: i.visitor_id, verified: null, source: 'identity' };
    case 'phone':
      return { kind: 'phone', value: i.e164, verified: null, source: 'identity' };
    default:
      return null; // a kind this build does not know: not shown rather than shown wrong
  }
}

const digits = (s: string) => s.replace(/[^\d+]/g, '');

/**
 * Every identity of a contact, then the e-mail and phone the visitor typed into the widget
 * (unverified attributes), unless the same address / number is already an identity.
 */
export function identityRows(c: Pick<Contact, 'identities' | 'attributes'>): IdentityRow[] {
  const rows = (c.identities ?? []).map(identityRow).filter((r): r is IdentityRow => r !== null);
  for (const [key, kind] of Object.entries(UNVERIFIED_ATTRIBUTES)) {
    const value = c.attributes?.[key]?.trim();
    if (!value) continue;
    const known = rows.some((r) =>
      r.kind === kind && (kind === 'email' ? r.value.toLowerCase() === value.toLowerCase() : digits(r.value) === digits(value)),
    );
    if (!known) rows.push({ kind, value, verified: false, source: 'attribute' });
  }
  return rows;
}

/** The attributes to list as plain attributes (the unverified e-mail / phone are shown as identities). */
export function plainAttributes(attributes: Record<string, string> | undefined): [string, string][] {
  return Object.entries(attributes ?? {}).filter(([k]) => !(k in UNVERIFIED_ATTRIBUTES));
}

/**
 * The contacts an agent can merge into `currentId`: those of the conversations loaded, once
 * each, not the current one, not already merged, whose name (or an identity) contains
 * `filter` (case-insensitive); sorted by name.
 */
export function mergeCandidates(conversations: Iterable<ConversationView>, currentId: string, filter: string): Contact[] {
  const q = filter.trim().toLowerCase();
  const byId = new Map<string, Contact>();
  for (const c of conversations) {
    const contact = c.contact;
    if (!contact || contact.id === currentId || contact.merged_into) continue;
    const held = byId.get(contact.id);
    if (!held || held.updated_at < contact.updated_at) byId.set(contact.id, contact);
  }
  const matches = (c: Contact) =>
    !q || c.display_name.toLowerCase().includes(q) || identityRows(c).some((r) => r.value.toLowerCase().includes(q));
  return [...byId.values()].filter(matches).sort((a, b) => a.display_name.localeCompare(b.display_name) || (a.id < b.id ? -1 : 1));
}

/** The i18n key of a merge refusal (`error.code` of the 4xx), or null for any other failure. */
export function mergeErrorKey(code: string): 'mergeErr_not_found' | 'mergeErr_same_contact' | 'mergeErr_already_merged' | null {
  switch (code) {
    case 'not_found':
      return 'mergeErr_not_found';
    case 'same_contact':
      return 'mergeErr_same_contact';
    case 'already_merged':
      return 'mergeErr_already_merged';
    default:
      return null;
  }
}

/** A contact's name by id, from what the dashboard holds (fetched contacts, conversations, names seen). */
export function contactName(
  id: string,
  conversations: Iterable<ConversationView>,
  contacts: Record<string, Contact>,
  names: Record<string, string> = {},
): string | null {
  if (contacts[id]) return contacts[id].display_name;
  for (const c of conversations) if (c.contact?.id === id) return c.contact.display_name;
  return names[id] ?? null;
}

/** The contacts a timeline's merge events name (to look up the ones not known yet). */
export function contactsNamedIn(messages: Iterable<{ event?: { event: string; from?: unknown; into?: unknown } }>): string[] {
  const ids = new Set<string>();
  for (const m of messages) {
    if (m.event?.event !== 'contacts_merged') continue;
    for (const id of [m.event.from, m.event.into]) if (typeof id === 'string') ids.add(id);
  }
  return [...ids];
}

/** A sent message the customer has read (their widget's receipt is at or after it). */
export function seenBy(m: Pick<Message, 'direction' | 'delivery' | 'created_at'>, readAt: string | null): boolean {
  return m.direction === 'outbound' && m.delivery.status === 'sent' && !!readAt && Date.parse(readAt) >= Date.parse(m.created_at);
}
