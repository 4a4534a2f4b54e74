// The teams page's logic: reading `GET /teams` and formatting a row (hours, the next opening in
// the browser's locale, the answer timeout, the members' names).

import { toMs } from './triage';
import type { Agent, Team } from './types';

const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback);

/** The teams of `GET /teams` (a list, or `{items}` / `{teams}`), ordered by name; entries without a name are dropped. */
export function parseTeams(raw: unknown): Team[] {
  const list = Array.isArray(raw)
    ? raw
    : raw && typeof raw === 'object'
      ? ((raw as { items?: unknown; teams?: unknown }).items ?? (raw as { teams?: unknown }).teams)
      : null;
  if (!Array.isArray(list)) return [];
  return list
    .flatMap((x): Team[] => {
      if (!x || typeof x !== 'object') return [];
      const r = x as Record<string, unknown>;
      if (typeof r.name !== 'string' || !r.name) return [];
      const team: Team = {
        name: r.name,
        timezone: typeof r.timezone === 'string' && r.timezone ? r.timezone : 'UTC',
        hours: typeof r.hours === 'string' ? r.hours : '',
        holidays: Array.isArray(r.holidays) ? r.holidays.filter((h): h is string => typeof h === 'string') : [],
        answer_within_secs: num(r.answer_within_secs, 60),
        max_hops: num(r.max_hops, 3),
        open_now: r.open_now === true,
        agents: Array.isArray(r.agents) ? r.agents.filter((a): a is string => typeof a === 'string') : [],
      };
      if (typeof r.next_open === 'number' || typeof r.next_open === 'string') team.next_open = r.next_open;
      if (typeof r.busy_prompt === 'string') team.busy_prompt = r.busy_prompt;
      if (typeof r.out_of_office === 'string') team.out_of_office = r.out_of_office;
      return [team];
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The opening hours as written, or `always` when there are none. */
export function hoursText(hours: string, always: string): string {
  return hours.trim() || always;
}

/**
 * When a closed team opens next, in the browser's locale and time zone ("Mon, 12 Jan, 09:00");
 * null when it is open or the server gave no time. `locale` / `timeZone` are for tests.
 */
export function nextOpenText(team: Pick<Team, 'open_now' | 'next_open'>, locale?: string | string[], timeZone?: string): string | null {
  if (team.open_now) return null;
  const ms = toMs(team.next_open);
  if (ms === null) return null;
  return new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone }).format(new Date(ms));
}

/** "45 s", or `never` for 0 (the conversation never moves on). */
export function answerWithinText(secs: number, never: string): string {
  return secs > 0 ? `${secs} s` : never;
}

/** The members' names by id, in alphabetical order; an id with no known agent shows as the id. */
export function memberNames(ids: readonly string[], agents: readonly Agent[]): string[] {
  const byId = new Map(agents.map((a) => [a.id, a.name || a.email || a.id]));
  return [...new Set(ids)].map((id) => byId.get(id) ?? id).sort((a, b) => a.localeCompare(b));
}
