// A conversation's labels, priority, snooze and rating: the checks and times behind the header's
// controls (tested in test/triage.test.ts).

import type { ConversationView, Priority, Time } from './types';

export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent'];
export const MAX_LABELS = 20;
const LABEL = /^[\p{L}\p{N}_:-]{1,32}$/u;

export function priorityOf(c: Pick<ConversationView, 'priority'>): Priority {
  return c.priority && PRIORITIES.includes(c.priority) ? c.priority : 'normal';
}

/** High and urgent conversations carry a badge in the list. */
export function isPressing(c: Pick<ConversationView, 'priority'>): boolean {
  const p = priorityOf(c);
  return p === 'high' || p === 'urgent';
}

export function labelsOf(c: Pick<ConversationView, 'labels'>): string[] {
  return Array.isArray(c.labels) ? c.labels : [];
}

export type LabelProblem = 'label_bad' | 'label_tooMany';

/** The labels with `raw` added (lowercased), or why not; unchanged when it is there already. */
export function addLabel(labels: readonly string[], raw: string): { labels: string[] } | { problem: LabelProblem } {
  const label = raw.trim().toLowerCase();
  if (!LABEL.test(label)) return { problem: 'label_bad' };
  if (labels.includes(label)) return { labels: [...labels] };
  if (labels.length >= MAX_LABELS) return { problem: 'label_tooMany' };
  return { labels: [...labels, label] };
}

/** Milliseconds since the epoch of an API time (RFC 3339 or milliseconds); null when absent or unreadable. */
export function toMs(t: Time | null | undefined): number | null {
  if (t === null || t === undefined || t === '') return null;
  const ms = typeof t === 'number' ? t : /^\d+$/.test(t) ? Number(t) : Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

/** Until when the conversation is snoozed, if that is still ahead. */
export function snoozedUntil(c: Pick<ConversationView, 'snoozed_until'>, now: number): number | null {
  const ms = toMs(c.snoozed_until);
  return ms !== null && ms > now ? ms : null;
}

export const MAX_SNOOZE_MS = 90 * 24 * 3600_000;

/** The snooze menu's times, in the agent's local time: in an hour, tomorrow 9:00, next Monday 9:00. */
export function snoozePresets(now: Date): { hour: number; tomorrow: number; nextWeek: number } {
  const at9 = (days: number) => {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, 9, 0, 0, 0);
    return d.getTime();
  };
  const toMonday = ((8 - now.getDay()) % 7) || 7; // Sunday → 1, Monday → 7, Saturday → 2
  return { hour: now.getTime() + 3600_000, tomorrow: at9(1), nextWeek: at9(toMonday) };
}

export type SnoozeProblem = 'snooze_bad' | 'snooze_past' | 'snooze_far';

/** A custom time from a `datetime-local` input (local time), checked as the API checks it. */
export function customSnooze(value: string, now: number): { until: number } | { problem: SnoozeProblem } {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return { problem: 'snooze_bad' };
  const until = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]).getTime();
  if (!Number.isFinite(until)) return { problem: 'snooze_bad' };
  if (until <= now) return { problem: 'snooze_past' };
  if (until - now > MAX_SNOOZE_MS) return { problem: 'snooze_far' };
  return { until };
}

/** A `datetime-local` value (local time) for `ms`. */
export function localInputValue(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "★★★★☆" for a score of 4 (clamped to 1–5). */
export function stars(score: number): string {
  const n = Math.min(5, Math.max(1, Math.round(score)));
  return '★'.repeat(n) + '☆'.repeat(5 - n);
}
