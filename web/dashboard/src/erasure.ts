// A contact's personal data (GDPR): the export (right of access: `GET /contacts/{id}/export`, a
// JSON archive saved as a file) and the erasure (right of erasure: `DELETE /contacts/{id}`, for
// good, on every channel), both for admins. The rules the view follows, pure: unit-tested in
// test/erasure.test.ts. The state side (`contact.erased`) is `eraseContact` in state.ts.

import type { Key } from './i18n';
import type { ErasureCounts } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** What to type to confirm an erasure when the contact has no name. */
export const ERASE_WORD = 'ERASE';

/** Spaces folded (runs become one, none at the ends) and one Unicode form, so only the characters count. */
function folded(s: string): string {
  return s.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** What the admin types to confirm erasing a contact: their display name, or ERASE when it is empty. */
export function erasePhrase(displayName: string | null | undefined): string {
  return folded(displayName ?? '') || ERASE_WORD;
}

/**
 * Whether `typed` confirms erasing the contact named `displayName`: the phrase exactly (case
 * counts), spaces at the ends or doubled aside.
 */
export function eraseConfirmed(typed: string, displayName: string | null | undefined): boolean {
  return folded(typed) === erasePhrase(displayName);
}

/** The file a contact's export is saved as (when the answer names none). */
export function contactExportName(contactId: string): string {
  return `contact-${contactId}.json`;
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null);
const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

function erasedOf(raw: unknown): Record<string, unknown> | null {
  const e = raw && typeof raw === 'object' ? (raw as { erased?: unknown }).erased : undefined;
  return e && typeof e === 'object' ? (e as Record<string, unknown>) : null;
}

/**
 * The counts of a `DELETE /contacts/{id}` answer (`{"erased":{contact, conversations, messages,
 * files, …}}`), or null when it carries none (the contact is erased all the same).
 */
export function parseErasure(raw: unknown, contactId: string): ErasureCounts | null {
  const o = erasedOf(raw);
  if (!o) return null;
  const [conversations, messages, files] = [count(o.conversations), count(o.messages), count(o.files)];
  if (conversations === null || messages === null || files === null) return null;
  return { contact: typeof o.contact === 'string' && o.contact ? o.contact : contactId, conversations, messages, files };
}

/**
 * What else an erasure's answer names: the erased conversations (`conversation_ids`) and the
 * contacts merged into the erased one (`merged_contacts`), erased with it. Empty when not said.
 */
export function erasedIds(raw: unknown): { conversations: string[]; contacts: string[] } {
  const o = erasedOf(raw);
  return { conversations: ids(o?.conversation_ids), contacts: ids(o?.merged_contacts) };
}

/** "3 conversations", "1 message", "0 files". */
function counted(t: T, n: number, one: Key, many: Key): string {
  return t(n === 1 ? one : many, { a: String(n) });
}

/** The confirmation after an erasure: "Contact erased: 3 conversations, 41 messages and 2 files." */
export function erasureText(t: T, counts: ErasureCounts | null): string {
  if (!counts) return t('erase_doneBare');
  return t('erase_done', {
    a: counted(t, counts.conversations, 'n_conversation', 'n_conversations'),
    b: counted(t, counts.messages, 'n_message', 'n_messages'),
    c: counted(t, counts.files, 'n_file', 'n_files'),
  });
}

/** A refused export or erasure: the contact gone (404), else the server's `message` after what failed. */
export function contactDataError(t: T, action: 'export' | 'erase', status: number | null, message: string): string {
  if (status === 404) return t('contactGone');
  return t(action === 'export' ? 'export_failed' : 'erase_failed', { a: message });
}
