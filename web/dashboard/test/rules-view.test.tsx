// @vitest-environment happy-dom
// The routing rules editor and the teams page on screen: the refusal's line and caret, the
// conflict and "Load theirs", the leave guard, the teams table.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { Controller } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { offsetAt } from '../src/rules';
import { RulesView } from '../src/rules-view';
import { TeamsView } from '../src/teams-view';
import type { Agent, RulesDoc } from '../src/types';
import { useDom } from './dom';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const ANN: Agent = { id: 'ag_me', email: 'ann@example.com', name: 'Ann Agent', status: 'online' };
const BOB: Agent = { id: 'ag_bob', email: 'bob@example.com', name: 'Bob Agent', status: 'online' };

// The tests wait for what they expect with `vi.waitFor`; a click does not wait by itself.
const { root, $, $$, tid, tids, click } = useDom({ flushAfterClick: false });

type Call = { method: string; url: string; body: unknown };
type Answer = { status?: number; body?: unknown } | null;
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const r = answer(c) ?? { status: 404, body: { error: { code: 'no_route', message: 'no route' } } };
    return new Response(JSON.stringify(r.body ?? null), { status: r.status ?? 200 });
  });
  return calls;
}

function controller() {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: ANN }, { onLoggedOut: () => {} });
  ctrl.agents = [ANN, BOB];
  return ctrl;
}

const V2: RulesDoc = {
  source: '[[rules]]\nname = "VIP"\nwhen.any_tags = ["vip"]\nthen.team = "vip"\n',
  format: 'toml',
  version: 2,
  updated_at: 1767225600000,
  rules: [{ name: 'VIP', line: 1 }],
};
const BAD = '[[rules]]\nname = "Wombat"\nwhen.keywordz = ["wombat"]\nthen.reply = "Hi"\n';
const GOOD = '[[rules]]\nname = "Wombat"\nwhen.keywords = ["wombat"]\nthen.reply = "Hi"\n';

function mount(ctrl = controller()) {
  act(() => render(<RulesView ctrl={ctrl} t={t} />, root()));
  return ctrl;
}
const source = () => tid('rules-source') as HTMLTextAreaElement;
function type(value: string) {
  act(() => {
    const el = source();
    el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

describe('rules editor', () => {
  it('shows the rules in force: version, format, the rules by name, the text with line numbers', async () => {
    stubFetch((c) => (c.url === '/api/v1/rules' ? { body: V2 } : null));
    mount();
    await vi.waitFor(() => expect(tid('rules-source')).not.toBeNull());
    expect(tid('rules-in-force')!.textContent).toContain('In force: version 2 · TOML · rules: 1');
    expect(source().value).toBe(V2.source);
    expect(tids('rules-ln').map((l) => l.textContent)).toEqual(['1', '2', '3', '4', '5']);
    expect((tid('rules-format') as HTMLSelectElement).value).toBe('toml');
    expect(tids('rules-rule').map((r) => [r.getAttribute('data-name'), r.getAttribute('data-line')])).toEqual([['VIP', '1']]);
    expect(tid('rules-dirty')).toBeNull();
    // The help lists every condition and action, and an example in the format shown.
    expect($$('[data-testid="rules-help-when"] dt').map((d) => d.textContent)).toEqual(['channel', 'source', 'command', 'keywords', 'regex', 'language', 'tags', 'any_tags', 'attributes', 'status', 'hours', 'hours_of', 'rollout']);
    expect($$('[data-testid="rules-help-then"] dt').map((d) => d.textContent)).toEqual(['reply', 'buttons', 'faq', 'ai', 'tags', 'priority', 'team', 'skill', 'assign', 'handoff', 'resolve']);
    expect(tid('rules-example')!.textContent).toContain('[[rules]]');
    act(() => {
      const sel = tid('rules-format') as HTMLSelectElement;
      sel.value = 'yaml';
      sel.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(tid('rules-example')!.textContent).toContain('rules:\n  - name:');
    expect(tid('rules-dirty')).not.toBeNull();
  });

  it('422: the message, the previous rules stay, line 3 marked and the caret at its column; then saved as version 3', async () => {
    let stored = V2;
    const calls = stubFetch((c) => {
      if (c.url !== '/api/v1/rules') return null;
      if (c.method === 'GET') return { body: stored };
      const b = c.body as { source: string; version: number };
      if (b.source.includes('keywordz')) {
        return { status: 422, body: { error: { code: 'invalid_rules', message: 'line 3, column 6: unknown key `keywordz` in `when`', line: 3, column: 6 } } };
      }
      stored = { source: b.source, format: 'toml', version: b.version + 1, rules: [{ name: 'Wombat', line: 1 }] };
      return { body: stored };
    });
    mount();
    await vi.waitFor(() => expect(tid('rules-source')).not.toBeNull());
    type(BAD);
    expect(tid('rules-dirty')).not.toBeNull();
    expect(tids('rules-ln')).toHaveLength(5);
    await click(tid('rules-save'));
    await vi.waitFor(() => expect(tid('rules-error')).not.toBeNull());
    expect(calls.filter((c) => c.method === 'PUT').map((c) => c.body)).toEqual([{ source: BAD, format: 'toml', version: 2 }]);
    expect(tid('rules-error-message')!.textContent).toBe('Not saved: line 3, column 6: unknown key `keywordz` in `when`');
    expect(tid('rules-kept')!.textContent).toBe('The previous rules (version 2) stay in force.');
    expect(tid('rules-error')!.getAttribute('data-line')).toBe('3');
    expect($('[data-testid="rules-ln"][data-error="true"]')!.getAttribute('data-line')).toBe('3');
    expect(tid('rules-band-error')!.getAttribute('data-line')).toBe('3');
    expect(tid('rules-band-error')!.style.top).toBe('48px');
    expect(document.activeElement).toBe(source());
    expect(source().selectionStart).toBe(offsetAt(BAD, 3, 6));
    expect(BAD.slice(source().selectionStart)).toMatch(/^keywordz/);
    expect(tid('rules-in-force')!.getAttribute('data-version')).toBe('2');
    expect(source().value).toBe(BAD);

    // Fixed: saved over version 2, version 3 in force, the list shows it.
    type(GOOD);
    await click(tid('rules-save'));
    await vi.waitFor(() => expect(tid('rules-saved')).not.toBeNull());
    expect(calls.filter((c) => c.method === 'PUT').at(-1)!.body).toEqual({ source: GOOD, format: 'toml', version: 2 });
    expect(tid('rules-saved')!.textContent).toContain('Saved: version 3 is in force.');
    expect(tid('rules-in-force')!.getAttribute('data-version')).toBe('3');
    expect(tid('rules-error')).toBeNull();
    expect(tid('rules-dirty')).toBeNull();
    expect($('[data-testid="rules-ln"][data-error="true"]')).toBeNull();
    expect(tids('rules-rule').map((r) => r.getAttribute('data-name'))).toEqual(['Wombat']);
  });

  it('a rule in the list takes the caret to its line', async () => {
    const doc: RulesDoc = { ...V2, source: 'a\nb\nc\n[[rules]]\nname = "X"\n', rules: [{ name: 'X', line: 4 }] };
    stubFetch((c) => (c.url === '/api/v1/rules' ? { body: doc } : null));
    mount();
    await vi.waitFor(() => expect(tid('rules-rule')).not.toBeNull());
    await click(tid('rules-rule'));
    expect(document.activeElement).toBe(source());
    expect(source().selectionStart).toBe(6);
    expect(tid('rules-band-jump')!.getAttribute('data-line')).toBe('4');
  });

  it('409: says someone saved; "Load theirs" shows theirs and keeps mine in a copy; mine can go back and be saved over theirs', async () => {
    let stored = V2;
    const calls = stubFetch((c) => {
      if (c.url !== '/api/v1/rules') return null;
      if (c.method === 'GET') return { body: stored };
      const b = c.body as { source: string; format: 'toml' | 'yaml'; version: number };
      if (b.version !== stored.version) return { status: 409, body: { error: { code: 'version_conflict', message: `rules are at version ${stored.version}, not ${b.version}` } } };
      stored = { source: b.source, format: b.format, version: b.version + 1, rules: [{ name: 'Mine', line: 1 }] };
      return { body: stored };
    });
    mount();
    await vi.waitFor(() => expect(tid('rules-source')).not.toBeNull());
    // Meanwhile someone else saves version 3.
    stored = { source: 'rules:\n  - name: Theirs\n    then: {faq: true}\n', format: 'yaml', version: 3, rules: [{ name: 'Theirs', line: 2 }] };
    type(GOOD);
    await click(tid('rules-save'));
    await vi.waitFor(() => expect(tid('rules-conflict')).not.toBeNull());
    expect(tid('rules-conflict')!.textContent).toContain('Someone else saved the rules meanwhile (you edited version 2)');
    expect(source().value).toBe(GOOD);
    await click(tid('rules-load-theirs'));
    await vi.waitFor(() => expect(tid('rules-copy')).not.toBeNull());
    expect(source().value).toBe(stored.source);
    expect((tid('rules-format') as HTMLSelectElement).value).toBe('yaml');
    expect((tid('rules-copy-text') as HTMLTextAreaElement).value).toBe(GOOD);
    expect(tid('rules-conflict')).toBeNull();
    expect(tid('rules-in-force')!.getAttribute('data-version')).toBe('3');
    expect(tids('rules-rule').map((r) => r.getAttribute('data-name'))).toEqual(['Theirs']);
    // Mine back, saved over version 3 knowingly.
    await click(tid('rules-use-copy'));
    expect(source().value).toBe(GOOD);
    expect((tid('rules-format') as HTMLSelectElement).value).toBe('toml');
    expect(tid('rules-copy')).toBeNull();
    await click(tid('rules-save'));
    await vi.waitFor(() => expect(tid('rules-saved')).not.toBeNull());
    expect(calls.filter((c) => c.method === 'PUT').at(-1)!.body).toEqual({ source: GOOD, format: 'toml', version: 3 });
    expect(tid('rules-in-force')!.getAttribute('data-version')).toBe('4');
  });

  it('warns before leaving with unsaved edits (the header, log out, unload)', async () => {
    stubFetch((c) => (c.url === '/api/v1/rules' ? { body: V2 } : null));
    const ctrl = controller();
    ctrl.showView('rules');
    mount(ctrl);
    await vi.waitFor(() => expect(tid('rules-source')).not.toBeNull());
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    // Nothing changed: no question.
    expect(ctrl.mayLeave()).toBe(true);
    expect(confirm).not.toHaveBeenCalled();
    type(V2.source + '# more\n');
    expect(ctrl.showView('teams')).toBe(false);
    expect(ctrl.view).toBe('rules');
    expect(confirm).toHaveBeenCalledWith('You have unsaved changes to the routing rules. Leave and lose them?');
    const unload = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(unload);
    expect(unload.defaultPrevented).toBe(true);
    confirm.mockReturnValue(true);
    expect(ctrl.showView('teams')).toBe(true);
    expect(ctrl.view).toBe('teams');
    // Once the editor is gone, nothing guards.
    act(() => render(null, root()));
    confirm.mockClear();
    expect(ctrl.showView('rules')).toBe(true);
    expect(confirm).not.toHaveBeenCalled();
  });

  it('a server without rules says so', async () => {
    stubFetch(() => null);
    mount();
    await vi.waitFor(() => expect(tid('rules-missing')).not.toBeNull());
    expect(tid('rules-missing')!.textContent).toBe('This server has no routing rules.');
  });
});

describe('teams page', () => {
  it('the table: hours or always, open dot, next opening, answer within, hops, members by name; the CLI named', async () => {
    const next = Date.UTC(2026, 0, 12, 8, 0);
    const calls = stubFetch((c) => {
      if (c.url === '/api/v1/teams') {
        return {
          body: [
            { name: 'support', timezone: 'UTC', hours: '', holidays: [], answer_within_secs: 60, max_hops: 3, open_now: true, agents: ['ag_me', 'ag_bob'] },
            { name: 'billing', timezone: 'Europe/Berlin', hours: 'mon-fri 09:00-18:00', holidays: ['2026-12-25'], answer_within_secs: 0, max_hops: 1, open_now: false, next_open: next, agents: ['ag_new'] },
          ],
        };
      }
      if (c.url === '/api/v1/agents') return { body: { items: [ANN, BOB, { id: 'ag_new', email: 'new@example.com', name: 'Nia New', status: 'offline' }] } };
      return null;
    });
    act(() => render(<TeamsView ctrl={controller()} t={t} />, root()));
    await vi.waitFor(() => expect(tids('team-row')).toHaveLength(2));
    expect(said(calls)).toEqual(['GET /api/v1/teams', 'GET /api/v1/agents']);
    const cell = (team: string, col: string) => $(`[data-testid="team-row"][data-name="${team}"] [data-col="${col}"]`)!;
    expect(tids('team-row').map((r) => r.getAttribute('data-name'))).toEqual(['billing', 'support']);
    expect(cell('support', 'hours').textContent).toBe('always');
    expect(cell('support', 'open').textContent).toContain('Open');
    expect(cell('support', 'open').querySelector('.open-dot.on')).not.toBeNull();
    expect(cell('support', 'next').textContent).toBe('—');
    expect(cell('support', 'answer').textContent).toBe('60 s');
    expect(cell('support', 'members').textContent).toBe('Ann Agent, Bob Agent');
    expect(cell('billing', 'timezone').textContent).toBe('Europe/Berlin');
    expect(cell('billing', 'hours').textContent).toBe('mon-fri 09:00-18:00');
    expect(cell('billing', 'hours').getAttribute('title')).toBe('Closed on 2026-12-25');
    expect(cell('billing', 'open').querySelector('.open-dot.off')).not.toBeNull();
    expect(cell('billing', 'open').textContent).toContain('Closed');
    expect(cell('billing', 'next').querySelector('time')!.getAttribute('datetime')).toBe(new Date(next).toISOString());
    expect(cell('billing', 'next').textContent).toBe(new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(next));
    expect(cell('billing', 'answer').textContent).toBe('never');
    expect(cell('billing', 'hops').textContent).toBe('1');
    expect(cell('billing', 'members').textContent).toBe('Nia New');
    expect(tid('teams-cli')!.textContent).toContain('omnidesk team add');
  });

  it('no teams, or no such route', async () => {
    stubFetch((c) => (c.url === '/api/v1/teams' ? { body: [] } : c.url === '/api/v1/agents' ? { body: { items: [] } } : null));
    act(() => render(<TeamsView ctrl={controller()} t={t} />, root()));
    await vi.waitFor(() => expect(tid('teams-none')).not.toBeNull());
    act(() => render(null, root()));
    stubFetch(() => null);
    act(() => render(<TeamsView ctrl={controller()} t={t} />, root()));
    await vi.waitFor(() => expect(tid('teams-missing')).not.toBeNull());
  });
});

const said = (calls: Call[]) => calls.map((c) => `${c.method} ${c.url}`);
