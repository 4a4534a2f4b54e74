// The routing rules editor's logic and the teams page's formatting.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, ApiError, NetworkError } from '../src/api';
import {
  afterFailure, afterSave, discard, dropCopy, edit, hasUnsaved, isDirty, lineAt, lineBounds, lineCount, loadTheirs, offsetAt, openEditor, parseRulesDoc, rulesFailure,
  saveRequest, setFormat, useCopy,
} from '../src/rules';
import { answerWithinText, hoursText, memberNames, nextOpenText, parseTeams } from '../src/teams';
import type { Agent, RulesDoc } from '../src/types';

afterEach(() => {
  vi.unstubAllGlobals();
});

const doc = (patch: Partial<RulesDoc> = {}): RulesDoc => ({ source: '[[rules]]\nname = "a"\nthen.faq = true\n', format: 'toml', version: 2, rules: [{ name: 'a', line: 1 }], ...patch });

describe('line and column to a textarea offset', () => {
  const text = 'ab\ncde\n\nfghi';
  it('counts lines', () => {
    expect(lineCount('')).toBe(1);
    expect(lineCount('a')).toBe(1);
    expect(lineCount('a\n')).toBe(2);
    expect(lineCount(text)).toBe(4);
  });
  it('finds a line start and end (1-based, clamped)', () => {
    expect(lineBounds(text, 1)).toEqual({ line: 1, start: 0, end: 2 });
    expect(lineBounds(text, 2)).toEqual({ line: 2, start: 3, end: 6 });
    expect(lineBounds(text, 3)).toEqual({ line: 3, start: 7, end: 7 });
    expect(lineBounds(text, 4)).toEqual({ line: 4, start: 8, end: 12 });
    expect(lineBounds(text, 99)).toEqual({ line: 4, start: 8, end: 12 });
    expect(lineBounds(text, 0)).toEqual({ line: 1, start: 0, end: 2 });
    expect(lineBounds('a\r\nb', 1)).toEqual({ line: 1, start: 0, end: 1 });
  });
  it('puts the caret at the column (1-based), at the line start without one', () => {
    expect(offsetAt(text, 2)).toBe(3);
    expect(offsetAt(text, 2, null)).toBe(3);
    expect(offsetAt(text, 2, 1)).toBe(3);
    expect(offsetAt(text, 2, 3)).toBe(5);
    expect(text.slice(offsetAt(text, 4, 2))).toBe('ghi');
    // One past the end is the end; further is clamped to it.
    expect(offsetAt(text, 2, 4)).toBe(6);
    expect(offsetAt(text, 2, 40)).toBe(6);
    expect(offsetAt(text, 3, 5)).toBe(7);
    // A line past the last: the last line.
    expect(offsetAt(text, 9, 2)).toBe(9);
    expect(offsetAt('', 3, 3)).toBe(0);
  });
  it('counts a column in characters: an emoji is one, a tab is one', () => {
    const s = 'x = "😀é"\n\tkey';
    expect(s.slice(offsetAt(s, 1, 7))).toBe('é"\n\tkey');
    expect(s.slice(offsetAt(s, 2, 2))).toBe('key');
  });
  it('finds the line of an offset', () => {
    expect(lineAt(text, 0)).toBe(1);
    expect(lineAt(text, 2)).toBe(1);
    expect(lineAt(text, 3)).toBe(2);
    expect(lineAt(text, 8)).toBe(4);
    expect(lineAt(text, 1000)).toBe(4);
    expect(lineAt(text, offsetAt(text, 3))).toBe(3);
  });
});

describe('the rules as the API answers them', () => {
  it('reads GET /rules', () => {
    expect(parseRulesDoc({ source: 'x', format: 'yaml', version: 3, updated_at: 1700000000000, rules: [{ name: 'VIP', line: 4 }] })).toEqual({
      source: 'x', format: 'yaml', version: 3, updated_at: 1700000000000, rules: [{ name: 'VIP', line: 4 }],
    });
  });
  it('none stored: version 0 and an empty source', () => {
    expect(parseRulesDoc({ source: '', format: 'toml', version: 0, rules: [] })).toEqual({ source: '', format: 'toml', version: 0, rules: [] });
    expect(parseRulesDoc({ version: 0 })).toEqual({ source: '', format: 'toml', version: 0, rules: [] });
  });
  it('names an unnamed rule by its place and drops entries without a line', () => {
    const d = parseRulesDoc({ source: '', format: 'json', version: 1, rules: [{ line: 2 }, { name: 'x' }, null, { name: ' ', line: 9 }] });
    expect(d?.format).toBe('toml');
    expect(d?.rules).toEqual([{ name: 'rule 1', line: 2 }, { name: 'rule 4', line: 9 }]);
  });
  it('is null for anything else', () => {
    expect(parseRulesDoc(null)).toBeNull();
    expect(parseRulesDoc('rules')).toBeNull();
    expect(parseRulesDoc({ source: 'x' })).toBeNull();
  });
});

describe('a refused save', () => {
  it('422 invalid_rules: the line and column from the error fields', () => {
    const e = new ApiError(422, 'invalid_rules', 'line 12, column 5: unknown key `chanel`', { code: 'invalid_rules', line: 12, column: 5 });
    expect(rulesFailure(e)).toEqual({ kind: 'invalid', message: 'line 12, column 5: unknown key `chanel`', line: 12, column: 5 });
  });
  it('409 invalid_rules (what the server answers) is read the same way', () => {
    const e = new ApiError(409, 'invalid_rules', 'line 3, column 6: unknown key', { code: 'invalid_rules', line: 3, column: 6 });
    expect(rulesFailure(e)).toMatchObject({ kind: 'invalid', line: 3, column: 6 });
  });
  it('422 without the fields: read from the message; a line alone has no column', () => {
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'line 3, column 7: bad'))).toMatchObject({ line: 3, column: 7 });
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'line 4: a bad regex'))).toMatchObject({ line: 4, column: null });
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'the file is empty'))).toMatchObject({ kind: 'invalid', line: null, column: null });
    // A field given without its column: the message's column when it speaks of the same line.
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'line 6, column 2: x', { line: 6 }))).toMatchObject({ line: 6, column: 2 });
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'line 6, column 2: x', { line: 8 }))).toMatchObject({ line: 8, column: null });
    expect(rulesFailure(new ApiError(422, 'invalid_rules', 'x', { line: '0', column: -1 }))).toMatchObject({ line: null, column: null });
  });
  it('reads the body the server sends (through the API client)', async () => {
    const body = { error: { code: 'invalid_rules', message: 'line 3, column 1: unknown key `keywordz` in `when`', line: 3, column: 1 } };
    const seen: { method?: string; body?: unknown }[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      seen.push({ method: init.method, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify(body), { status: 422 });
    });
    const api = new Api({ apiBase: '', wsUrl: '' }, () => {});
    const e = await api.putRules('src', 'yaml', 7).catch((x: unknown) => x);
    expect(seen).toEqual([{ method: 'PUT', body: { source: 'src', format: 'yaml', version: 7 } }]);
    expect(e).toBeInstanceOf(ApiError);
    expect(rulesFailure(e)).toEqual({ kind: 'invalid', message: body.error.message, line: 3, column: 1 });
  });
  it('409 is a conflict, a missing route is missing, the rest says why', () => {
    expect(rulesFailure(new ApiError(409, 'version_conflict', 'rules are at version 4, not 3'))).toEqual({ kind: 'conflict', message: 'rules are at version 4, not 3' });
    expect(rulesFailure(new ApiError(404, 'http_404', 'Not Found'))).toEqual({ kind: 'missing' });
    expect(rulesFailure(new ApiError(405, 'http_405', 'x'))).toEqual({ kind: 'missing' });
    expect(rulesFailure(new ApiError(404, 'not_found', 'gone'))).toEqual({ kind: 'other', message: 'gone' });
    expect(rulesFailure(new ApiError(500, 'internal', 'boom'))).toEqual({ kind: 'other', message: 'boom' });
    expect(rulesFailure(new NetworkError('offline'))).toEqual({ kind: 'other', message: 'offline' });
  });
});

describe('the editor: dirty state, saves, the conflict', () => {
  it('is clean when opened, dirty when the text differs, clean when typed back', () => {
    const ed = openEditor(doc());
    expect(isDirty(ed)).toBe(false);
    expect(hasUnsaved(ed)).toBe(false);
    const typed = edit(ed, ed.text + '# x\n');
    expect(isDirty(typed)).toBe(true);
    expect(hasUnsaved(typed)).toBe(true);
    expect(isDirty(edit(typed, ed.text))).toBe(false);
    expect(hasUnsaved(null)).toBe(false);
  });
  it('a format change is an edit unless there is no text', () => {
    expect(isDirty(setFormat(openEditor(doc()), 'yaml'))).toBe(true);
    expect(isDirty(setFormat(openEditor(doc({ source: '', version: 0 })), 'yaml'))).toBe(false);
  });
  it('discard goes back to the rules in force', () => {
    const ed = discard(setFormat(edit(openEditor(doc()), 'x'), 'yaml'));
    expect(isDirty(ed)).toBe(false);
    expect(ed.format).toBe('toml');
  });
  it('saves over the version read; after the answer it is clean, shows the new version, and the failure is gone', () => {
    let ed = edit(openEditor(doc()), 'new');
    const sent = saveRequest(ed);
    expect(sent).toEqual({ source: 'new', format: 'toml', version: 2 });
    ed = afterFailure(ed, { kind: 'invalid', message: 'line 1: x', line: 1, column: null });
    expect(isDirty(ed)).toBe(true);
    expect(ed.text).toBe('new');
    ed = afterSave(ed, sent, doc({ source: 'new', version: 3, rules: [{ name: 'n', line: 1 }] }));
    expect(ed.saved).toBe(3);
    expect(ed.failure).toBeNull();
    expect(isDirty(ed)).toBe(false);
    expect(saveRequest(ed).version).toBe(3);
    expect(edit(ed, 'newer').saved).toBeNull();
  });
  it('text typed while the save was on its way stays (and is unsaved)', () => {
    const ed = edit(openEditor(doc()), 'one');
    const sent = saveRequest(ed);
    const after = afterSave(edit(ed, 'one two'), sent, doc({ source: 'one', version: 3 }));
    expect(after.text).toBe('one two');
    expect(after.doc.version).toBe(3);
    expect(isDirty(after)).toBe(true);
  });
  it('409: theirs loaded, mine kept as a copy; saving then goes over their version', () => {
    const mine = afterFailure(edit(openEditor(doc()), 'MINE'), { kind: 'conflict', message: 'version' });
    const theirs = doc({ source: 'THEIRS', format: 'yaml', version: 5 });
    const ed = loadTheirs(mine, theirs);
    expect(ed.text).toBe('THEIRS');
    expect(ed.format).toBe('yaml');
    expect(ed.failure).toBeNull();
    expect(ed.copy).toEqual({ text: 'MINE', format: 'toml' });
    expect(isDirty(ed)).toBe(false);
    expect(hasUnsaved(ed)).toBe(true); // the copy would be lost
    expect(saveRequest(ed).version).toBe(5);
    // Mine back in the editor, over version 5.
    const back = useCopy(ed);
    expect(back.text).toBe('MINE');
    expect(back.format).toBe('toml');
    expect(back.copy).toBeNull();
    expect(isDirty(back)).toBe(true);
    expect(saveRequest(back)).toEqual({ source: 'MINE', format: 'toml', version: 5 });
    const saved = afterSave(back, saveRequest(back), doc({ source: 'MINE', version: 6 }));
    expect(hasUnsaved(saved)).toBe(false);
    // Or the copy dropped.
    expect(hasUnsaved(dropCopy(ed))).toBe(false);
  });
  it('409 with nothing changed, or theirs equal to mine: no copy', () => {
    expect(loadTheirs(openEditor(doc()), doc({ version: 4 })).copy).toBeNull();
    expect(loadTheirs(edit(openEditor(doc()), 'same'), doc({ source: 'same', version: 4 })).copy).toBeNull();
  });
  it('a copy equal to what was saved is dropped', () => {
    const ed = loadTheirs(edit(openEditor(doc()), 'MINE'), doc({ source: 'THEIRS', version: 5 }));
    const edited = edit(ed, 'MINE');
    const after = afterSave(edited, saveRequest(edited), doc({ source: 'MINE', version: 6 }));
    expect(after.copy).toBeNull();
  });
});

describe('teams formatting', () => {
  const agents: Agent[] = [
    { id: 'ag_1', email: 'zoe@example.com', name: 'Zoe', status: 'online' },
    { id: 'ag_2', email: 'al@example.com', name: 'Al', status: 'offline' },
  ];
  it('reads GET /teams (a list, or items), by name, with defaults', () => {
    const raw = [
      { name: 'vip', timezone: 'Europe/Berlin', hours: 'mon-fri 09:00-18:00', holidays: ['2026-12-25'], answer_within_secs: 45, max_hops: 2, open_now: false, next_open: 1767254400000, agents: ['ag_1'] },
      { name: 'billing', open_now: true, agents: ['ag_2', 7] },
      { timezone: 'UTC' },
    ];
    const teams = parseTeams(raw);
    expect(teams.map((t) => t.name)).toEqual(['billing', 'vip']);
    expect(teams[0]).toEqual({ name: 'billing', timezone: 'UTC', hours: '', holidays: [], answer_within_secs: 60, max_hops: 3, open_now: true, agents: ['ag_2'] });
    expect(teams[1].next_open).toBe(1767254400000);
    expect(parseTeams({ items: raw }).length).toBe(2);
    expect(parseTeams({ teams: raw }).length).toBe(2);
    expect(parseTeams(null)).toEqual([]);
  });
  it('hours: as written, "always" when empty', () => {
    expect(hoursText('mon-fri 09:00-18:00', 'always')).toBe('mon-fri 09:00-18:00');
    expect(hoursText('  ', 'always')).toBe('always');
  });
  it('the next opening in the locale (only while closed)', () => {
    const at = Date.UTC(2026, 0, 12, 9, 30); // a Monday
    const s = nextOpenText({ open_now: false, next_open: at }, 'en-GB', 'UTC');
    expect(s).toBe(new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }).format(at));
    expect(s).toContain('Mon');
    expect(s).toContain('09:30');
    expect(nextOpenText({ open_now: false, next_open: at }, 'en-GB', 'Asia/Tokyo')).toContain('18:30');
    expect(nextOpenText({ open_now: false, next_open: String(at) }, 'en-GB', 'UTC')).toBe(s);
    expect(nextOpenText({ open_now: true, next_open: at }, 'en-GB', 'UTC')).toBeNull();
    expect(nextOpenText({ open_now: false }, 'en-GB', 'UTC')).toBeNull();
  });
  it('answer within: seconds, never for 0', () => {
    expect(answerWithinText(60, 'never')).toBe('60 s');
    expect(answerWithinText(0, 'never')).toBe('never');
  });
  it('members by name, alphabetically; an unknown id as itself', () => {
    expect(memberNames(['ag_1', 'ag_2', 'ag_9', 'ag_1'], agents)).toEqual(['ag_9', 'Al', 'Zoe']);
    expect(memberNames([], agents)).toEqual([]);
  });
});
