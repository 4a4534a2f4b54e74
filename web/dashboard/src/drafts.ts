// Drafts per conversation in localStorage: they survive a reload, an expired session and a
// re-login (they hold only what the agent typed, never the token).

import type { KeyValue } from './outbox';

const PREFIX = 'omnidesk.draft.';

export function loadDraft(storage: KeyValue, conversationId: string): string {
  return storage.getItem(PREFIX + conversationId) ?? '';
}

export function saveDraft(storage: KeyValue, conversationId: string, text: string): void {
  if (text) storage.setItem(PREFIX + conversationId, text);
  else storage.removeItem(PREFIX + conversationId);
}

/** Forgets both drafts of a conversation (the reply's and the private note's `note.<id>`): it was erased. */
export function forgetDrafts(storage: KeyValue, conversationId: string): void {
  storage.removeItem(PREFIX + conversationId);
  storage.removeItem(`${PREFIX}note.${conversationId}`);
}
