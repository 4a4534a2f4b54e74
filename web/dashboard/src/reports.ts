// The reports page's rules: the default range, the query, human durations, and saving the CSV
// (fetched with the bearer token, since the token is never put in a URL, and saved through a
// blob URL).

import type { ReportGroup } from './types';

export const GROUPS: ReportGroup[] = ['agent', 'team', 'channel', 'language', 'bucket'];

/** "—" for nothing; else "45s", "4m 12s", "1h 5m", "2d 3h". */
export function formatDuration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return '—';
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** "4.6" (one decimal), "—" for none. */
export function formatCsat(avg: number | null | undefined): string {
  return avg === null || avg === undefined || !Number.isFinite(avg) ? '—' : avg.toFixed(1);
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** The last 7 days, today included, as UTC dates (the API reads a `to` date as the end of that day, UTC). */
export function defaultRange(now: Date): { from: string; to: string } {
  const from = new Date(now.getTime() - 6 * 86_400_000);
  return { from: day(from), to: day(now) };
}

export interface ReportParams {
  from: string;
  to: string;
  groupBy: ReportGroup;
  /** Percent of contacts in the rollout bucket (group by bucket only). */
  rollout: number;
}

/** Why the range or the rollout cannot be asked for, or null. */
export function reportProblem(p: ReportParams): 'report_badRange' | 'report_badRollout' | null {
  const ok = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && Number.isFinite(Date.parse(s));
  if (!ok(p.from) || !ok(p.to) || p.from > p.to) return 'report_badRange';
  if (p.groupBy === 'bucket' && !(Number.isFinite(p.rollout) && p.rollout >= 0 && p.rollout <= 100)) return 'report_badRollout';
  return null;
}

/** The query of `GET /reports/summary` (with `format=csv` for the download). */
export function reportQuery(p: ReportParams, csv = false): Record<string, string> {
  const q: Record<string, string> = { from: p.from, to: p.to, group_by: p.groupBy };
  if (p.groupBy === 'bucket') q.rollout = String(Math.round(p.rollout));
  if (csv) q.format = 'csv';
  return q;
}

export function reportFileName(p: ReportParams): string {
  return `report-${p.from}-${p.to}-${p.groupBy}.csv`;
}

/** Saves `blob` as `filename` through a temporary blob URL and a `download` link. */
export function saveBlob(blob: Blob, filename: string, doc: Document = document): void {
  const url = URL.createObjectURL(blob);
  const a = doc.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.style.display = 'none';
  doc.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
