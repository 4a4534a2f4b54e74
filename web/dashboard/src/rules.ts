// The routing rules editor's logic: reading `GET /rules`, line / column ↔ textarea offsets, the
// server's refusals (422 `invalid_rules` with its line and column, 409 `version_conflict`), and
// the editor's state: what is in force, the agent's text, whether it is saved, and the agent's
// copy kept aside when they load the rules someone else saved meanwhile.

import { ApiError, NetworkError } from './api';
import type { RuleRef, RulesDoc, RulesFormat } from './types';

export const RULES_FORMATS: readonly RulesFormat[] = ['toml', 'yaml'];

const isFormat = (f: unknown): f is RulesFormat => f === 'toml' || f === 'yaml';

/** The rules in force as `GET` / `PUT /rules` answer them, or null when the answer is not that. */
export function parseRulesDoc(raw: unknown): RulesDoc | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  const version = typeof r.version === 'number' && Number.isFinite(r.version) ? r.version : null;
  if (version === null) return null;
  const rules: RuleRef[] = Array.isArray(r.rules)
    ? r.rules.flatMap((x, i) => {
        if (!x || typeof x !== 'object') return [];
        const { name, line } = x as { name?: unknown; line?: unknown };
        if (typeof line !== 'number' || !Number.isFinite(line) || line < 1) return [];
        return [{ name: typeof name === 'string' && name.trim() ? name : `rule ${i + 1}`, line: Math.floor(line) }];
      })
    : [];
  const doc: RulesDoc = {
    source: typeof r.source === 'string' ? r.source : '',
    format: isFormat(r.format) ? r.format : 'toml',
    version,
    rules,
  };
  if (typeof r.updated_at === 'string' || typeof r.updated_at === 'number') doc.updated_at = r.updated_at;
  return doc;
}

/** How many lines `text` has (an empty text has one). */
export function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The offsets of 1-based `line` (clamped to the text's lines): `start`, and `end` before its newline. */
export function lineBounds(text: string, line: number): { line: number; start: number; end: number } {
  const want = Math.max(1, Math.floor(Number.isFinite(line) ? line : 1));
  let start = 0;
  let n = 1;
  while (n < want) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break;
    start = nl + 1;
    n++;
  }
  const nl = text.indexOf('\n', start);
  let end = nl === -1 ? text.length : nl;
  if (end > start && text[end - 1] === '\r') end--;
  return { line: n, start, end };
}

/**
 * The textarea offset (UTF-16) of 1-based `line` and `column`. The column counts characters
 * (code points, as the server does), a tab as one; none (or < 1) is the line's start, and one
 * past the line's end is its end. A line past the last is the last line.
 */
export function offsetAt(text: string, line: number, column?: number | null): number {
  const { start, end } = lineBounds(text, line);
  if (column === null || column === undefined || !Number.isFinite(column) || column <= 1) return start;
  let off = start;
  for (let c = 1; c < Math.floor(column) && off < end; c++) {
    const code = text.charCodeAt(off);
    off += code >= 0xd800 && code <= 0xdbff && off + 1 < end ? 2 : 1;
  }
  return off;
}

/** The 1-based line of a textarea offset. */
export function lineAt(text: string, offset: number): number {
  const to = Math.max(0, Math.min(text.length, offset));
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Why a save (or a read) failed, as the editor shows it. */
export type RulesFailure =
  /** 422 `invalid_rules`: the server refused the text; the rules in force did not change. */
  | { kind: 'invalid'; message: string; line: number | null; column: number | null }
  /** 409 `version_conflict`: someone saved since the agent read them. */
  | { kind: 'conflict'; message: string }
  /** The server has no rules endpoint (404 without `not_found`, 405, 501). */
  | { kind: 'missing' }
  | { kind: 'other'; message: string };

const positive = (v: unknown): number | null => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 1 ? Math.floor(n) : null;
};

/** Reads an API error: the line and column of `invalid_rules` from its fields, else from "line 12, column 5: …". */
export function rulesFailure(e: unknown): RulesFailure {
  if (e instanceof ApiError) {
    if (e.status === 422 || e.code === 'invalid_rules') {
      const said = /\bline (\d+)(?:,? column (\d+))?/i.exec(e.message);
      const line = positive(e.detail.line) ?? positive(said?.[1]);
      const column = positive(e.detail.column) ?? (line !== null && said && positive(said[1]) === line ? positive(said[2]) : null);
      return { kind: 'invalid', message: e.message, line, column };
    }
    if (e.status === 409 || e.code === 'version_conflict') return { kind: 'conflict', message: e.message };
    if ((e.status === 404 && e.code !== 'not_found') || e.status === 405 || e.status === 501) return { kind: 'missing' };
    return { kind: 'other', message: e.message };
  }
  if (e instanceof NetworkError) return { kind: 'other', message: e.message };
  return { kind: 'other', message: e instanceof Error ? e.message : String(e) };
}

export interface RulesCopy {
  text: string;
  format: RulesFormat;
}

export interface RulesEditor {
  /** The rules in force as last read or saved here. */
  doc: RulesDoc;
  /** The agent's text and its format. */
  text: string;
  format: RulesFormat;
  /** Why the last save failed (kept until the next save or load). */
  failure: RulesFailure | null;
  /** The version the last save here put in force (null once edited again). */
  saved: number | null;
  /** The agent's unsaved text, kept aside when they loaded the rules someone else saved. */
  copy: RulesCopy | null;
}

export function openEditor(doc: RulesDoc): RulesEditor {
  return { doc, text: doc.source, format: doc.format, failure: null, saved: null, copy: null };
}

export function edit(ed: RulesEditor, text: string): RulesEditor {
  return text === ed.text ? ed : { ...ed, text, saved: null };
}

export function setFormat(ed: RulesEditor, format: RulesFormat): RulesEditor {
  return format === ed.format ? ed : { ...ed, format, saved: null };
}

/** The text or format differs from the rules in force. */
export function isDirty(ed: RulesEditor): boolean {
  return ed.text !== ed.doc.source || (ed.format !== ed.doc.format && ed.text.trim() !== '');
}

/** Anything that leaving would lose: the edits, or a copy that differs from the rules in force. */
export function hasUnsaved(ed: RulesEditor | null): boolean {
  if (!ed) return false;
  return isDirty(ed) || (ed.copy !== null && ed.copy.text !== ed.doc.source && ed.copy.text !== ed.text);
}

export interface RulesRequest {
  source: string;
  format: RulesFormat;
  version: number;
}

/** The body of `PUT /rules`: the text over the version in force as read here. */
export function saveRequest(ed: RulesEditor): RulesRequest {
  return { source: ed.text, format: ed.format, version: ed.doc.version };
}

/**
 * After `PUT /rules` answered `doc`: it is in force. Text typed while the request was on its way
 * stays; otherwise the editor shows the source as stored.
 */
export function afterSave(ed: RulesEditor, sent: RulesRequest, doc: RulesDoc): RulesEditor {
  const unchanged = ed.text === sent.source && ed.format === sent.format;
  const copy = ed.copy && ed.copy.text !== doc.source ? ed.copy : null;
  return { doc, text: unchanged ? doc.source : ed.text, format: unchanged ? doc.format : ed.format, failure: null, saved: doc.version, copy };
}

export function afterFailure(ed: RulesEditor, failure: RulesFailure): RulesEditor {
  return { ...ed, failure, saved: null };
}

/**
 * After a conflict, the rules someone else saved (`theirs`, read again) go into the editor and
 * become the version saved over; the agent's own text is kept aside as the copy (unless it was
 * theirs already, or nothing was changed).
 */
export function loadTheirs(ed: RulesEditor, theirs: RulesDoc): RulesEditor {
  const mine: RulesCopy | null = isDirty(ed) && ed.text !== theirs.source ? { text: ed.text, format: ed.format } : ed.copy;
  return { doc: theirs, text: theirs.source, format: theirs.format, failure: null, saved: null, copy: mine };
}

/** The copy back into the editor (over the version now in force: saving replaces theirs knowingly). */
export function useCopy(ed: RulesEditor): RulesEditor {
  if (!ed.copy) return ed;
  return { ...ed, text: ed.copy.text, format: ed.copy.format, copy: null, saved: null };
}

export function dropCopy(ed: RulesEditor): RulesEditor {
  return ed.copy ? { ...ed, copy: null } : ed;
}

/** Back to the rules in force. */
export function discard(ed: RulesEditor): RulesEditor {
  return { ...ed, text: ed.doc.source, format: ed.doc.format, failure: null, saved: null };
}

export const WHEN_KEYS = ['channel', 'source', 'command', 'keywords', 'regex', 'language', 'tags', 'any_tags', 'attributes', 'status', 'hours', 'hours_of', 'rollout'] as const;
export const THEN_KEYS = ['reply', 'buttons', 'faq', 'ai', 'tags', 'priority', 'team', 'skill', 'assign', 'handoff', 'resolve'] as const;

export const EXAMPLE: Record<RulesFormat, string> = {
  toml: `[[rules]]
name = "Refunds"
[rules.when]
keywords = ["refund", "money back"]
[rules.then]
team = "billing"
reply = "We'll look into your refund."`,
  yaml: `rules:
  - name: Refunds
    when:
      keywords: [refund, money back]
    then:
      team: billing
      reply: We'll look into your refund.`,
};
