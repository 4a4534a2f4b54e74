// The AI in the dashboard, the pure parts: the deployment's AI setup, where a suggestion goes in
// the composer, the knowledge base form's rules, filtering and paging its list, the call log's
// figures. No I/O here (test/ai.test.ts); the views are in ai-view.tsx and knowledge-view.tsx.

import type { AiSetup, ConversationView, FaqEntry, FaqInput } from './types';

/** `GET /api/v1/ai` read defensively: null when the answer is not the shape we know. */
export function parseAiSetup(raw: unknown): AiSetup | null {
  if (!raw || typeof raw !== 'object') return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.provider !== 'string' || !o.provider) return null;
  return {
    provider: o.provider,
    model: typeof o.model === 'string' && o.model ? o.model : null,
    faq_entries: typeof o.faq_entries === 'number' && Number.isFinite(o.faq_entries) ? o.faq_entries : 0,
  };
}

/** Whether the AI answers at all (a setup read, its provider not `off`). */
export function aiOn(setup: AiSetup | null): boolean {
  return setup !== null && setup.provider !== 'off';
}

/** The draft after a suggestion: the suggestion alone for an empty draft, else after a blank line. */
export function withSuggestion(draft: string, suggestion: string): string {
  const s = suggestion.trim();
  if (!s) return draft;
  if (!draft.trim()) return s;
  return `${draft.replace(/\s+$/, '')}\n\n${s}`;
}

/** Hand back to the AI: only a conversation with people now (queued or assigned). */
export function canHandBack(c: Pick<ConversationView, 'status'>): boolean {
  return c.status === 'queued' || c.status === 'assigned';
}

/** The question variants of the form's text area: one per line, trimmed, blank and repeated lines dropped. */
export function questionLines(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const q = line.trim();
    const key = q.toLowerCase();
    if (!q || seen.has(key)) continue;
    seen.add(key);
    out.push(q);
  }
  return out;
}

export interface FaqForm {
  questions: string;
  answer: string;
  language: string;
  enabled: boolean;
}

export type FaqProblem = 'faq_needQuestion' | 'faq_needAnswer' | 'faq_badLanguage';

export const EMPTY_FORM: FaqForm = { questions: '', answer: '', language: '', enabled: true };

export function formOf(e: FaqEntry): FaqForm {
  return { questions: e.questions.join('\n'), answer: e.answer, language: e.language ?? '', enabled: e.enabled };
}

/** What is wrong with the form (the i18n keys of the messages), empty when it can be saved. */
export function faqProblems(f: FaqForm): FaqProblem[] {
  const out: FaqProblem[] = [];
  if (questionLines(f.questions).length === 0) out.push('faq_needQuestion');
  if (!f.answer.trim()) out.push('faq_needAnswer');
  const lang = f.language.trim();
  if (lang && !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(lang)) out.push('faq_badLanguage');
  return out;
}

/** The body to send for a valid form. */
export function faqInput(f: FaqForm): FaqInput {
  const lang = f.language.trim();
  return { questions: questionLines(f.questions), answer: f.answer.trim(), language: lang ? lang : null, enabled: f.enabled };
}

/** Entries whose questions, answer or language contain every word of `query` (any case). */
export function filterFaq(entries: readonly FaqEntry[], query: string): FaqEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return entries.slice();
  return entries.filter((e) => {
    const hay = `${e.questions.join('\n')}\n${e.answer}\n${e.language ?? ''}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Newest first, then id: the list order. */
export function byUpdated(a: FaqEntry, b: FaqEntry): number {
  if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The list after one entry was saved (replaced by id, or added). */
export function upsertEntry(entries: readonly FaqEntry[], e: FaqEntry): FaqEntry[] {
  const i = entries.findIndex((x) => x.id === e.id);
  if (i < 0) return [e, ...entries];
  const next = entries.slice();
  next[i] = e;
  return next;
}

/** Page `page` (0-based) of `size` items, with the page count; an out-of-range page is clamped. */
export function pageOf<T>(items: readonly T[], page: number, size: number): { items: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  return { items: items.slice(p * size, p * size + size), page: p, pages };
}

/** "$0.0123" from micro-dollars; "—" when unknown. */
export function formatCost(micros: number | null | undefined): string {
  if (typeof micros !== 'number' || !Number.isFinite(micros)) return '—';
  return `$${(micros / 1_000_000).toFixed(4)}`;
}

/** "1200 ms" or "1.2 s"; "—" when unknown. */
export function formatLatency(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "120 → 45" tokens in and out; "—" when unknown. */
export function formatTokens(usage: { input: number; output: number } | null | undefined): string {
  if (!usage) return '—';
  return `${usage.input} → ${usage.output}`;
}
