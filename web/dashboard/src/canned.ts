// Saved replies ("canned responses"): the filter behind `/` in the composer, the placeholders
// filled in when one is inserted, and the checks the API makes (shortcut and text).

import type { CannedResponse } from './types';

export const SHORTCUT = /^[a-z0-9_-]{1,32}$/;
export const MAX_TEXT = 4000;

/** Saved replies for `/query`: shortcuts starting with it first, then containing it, then texts containing it (2+ letters typed). */
export function filterCanned(items: readonly CannedResponse[], query: string, limit = 8): CannedResponse[] {
  const q = query.toLowerCase();
  const rank = (c: CannedResponse) => {
    const s = c.shortcut.toLowerCase();
    if (s.startsWith(q)) return 0;
    if (s.includes(q)) return 1;
    if (q.length >= 2 && c.text.toLowerCase().includes(q)) return 2;
    return -1;
  };
  return items
    .map((c) => [rank(c), c] as const)
    .filter(([r]) => r >= 0)
    .sort((a, b) => a[0] - b[0] || (a[1].shortcut < b[1].shortcut ? -1 : a[1].shortcut > b[1].shortcut ? 1 : 0))
    .slice(0, limit)
    .map(([, c]) => c);
}

export interface Placeholders {
  customer_name: string;
  agent_name: string;
}

/** `{customer_name}` and `{agent_name}` filled in (every occurrence, one pass); other braces stay. */
export function fillPlaceholders(text: string, vars: Placeholders): string {
  return text.replace(/\{(customer_name|agent_name)\}/g, (_, k: keyof Placeholders) => vars[k]);
}

export type CannedProblem = 'canned_badShortcut' | 'canned_needText' | 'canned_longText';

/** What is wrong with a saved reply before it goes to the server (shortcut lowercased first). */
export function cannedProblems(shortcut: string, text: string): CannedProblem[] {
  const out: CannedProblem[] = [];
  if (!SHORTCUT.test(normalShortcut(shortcut))) out.push('canned_badShortcut');
  if (!text.trim()) out.push('canned_needText');
  else if ([...text].length > MAX_TEXT) out.push('canned_longText');
  return out;
}

export function normalShortcut(raw: string): string {
  return raw.trim().replace(/^\//, '').toLowerCase();
}

/** The list with `item` in place (or added), ordered by shortcut as the API orders it. */
export function upsertCanned(list: readonly CannedResponse[], item: CannedResponse): CannedResponse[] {
  return [...list.filter((c) => c.shortcut !== item.shortcut), item].sort((a, b) => (a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0));
}
