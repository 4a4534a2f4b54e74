// @mentions in private notes: the agents offered after `@`, the handle inserted (the e-mail's
// local part), and which agents a note's text names, as the server reads it (`@word`, the word
// an agent's local part or the first word of their name, in any case).

import type { Agent } from './types';

/** What `@` inserts for an agent: their e-mail's local part, lowercased. */
export function mentionHandle(a: Pick<Agent, 'email' | 'name'>): string {
  const local = a.email.split('@')[0] ?? '';
  return (local || a.name.split(/\s+/)[0] || '').toLowerCase();
}

function firstName(a: Pick<Agent, 'name'>): string {
  return (a.name.trim().split(/\s+/)[0] ?? '').toLowerCase();
}

/** Agents for `@query`: handle or a word of the name starting with it; `exclude` (the author) left out. */
export function matchAgents(agents: readonly Agent[], query: string, exclude: string | null, limit = 6): Agent[] {
  const q = query.toLowerCase();
  return agents
    .filter((a) => a.id !== exclude)
    .filter((a) => !q || mentionHandle(a).startsWith(q) || a.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)))
    .slice(0, limit);
}

const MENTION = /(^|[^\p{L}\p{N}_@.])@([\p{L}\p{N}._-]+)/gu;

/** The `@word`s of a text, lowercased, without trailing dots ("@bob." is bob). */
export function mentionWords(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(MENTION)) {
    const w = m[2].replace(/[.]+$/, '').toLowerCase();
    if (w && !out.includes(w)) out.push(w);
  }
  return out;
}

/** The agents a note names (each once, in the order of their first mention). */
export function mentionedAgents(text: string, agents: readonly Agent[]): Agent[] {
  const out: Agent[] = [];
  for (const w of mentionWords(text)) {
    const a = agents.find((x) => mentionHandle(x) === w || (x.email.split('@')[0] ?? '').toLowerCase() === w || firstName(x) === w);
    if (a && !out.includes(a)) out.push(a);
  }
  return out;
}

/** A note's text in pieces, the `@mentions` of known agents marked (for highlighting; still text). */
export function mentionSegments(text: string, agents: readonly Agent[]): { text: string; mention: boolean }[] {
  const out: { text: string; mention: boolean }[] = [];
  let at = 0;
  for (const m of text.matchAll(MENTION)) {
    const word = m[2].replace(/[.]+$/, '');
    if (mentionedAgents(`@${word}`, agents).length === 0) continue;
    const start = (m.index ?? 0) + m[1].length;
    if (start > at) out.push({ text: text.slice(at, start), mention: false });
    out.push({ text: `@${word}`, mention: true });
    at = start + 1 + word.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), mention: false });
  return out;
}
