// @vitest-environment happy-dom
// Changing an agent's teams: the agents page's editor (a checkbox per team, the PATCH it sends,
// the server's refusals on the row, the hint when there are no teams), and the `agent.updated`
// push every dashboard hears after it — another agent's record replaced where agents are held;
// my own teams changed: me replaced, the conversations I may no longer read gone at once and
// the list read again, with no sign-out and no reload, and a notice saying why (the open
// conversation closed, its draft kept; the teams I was put in). The agents page reads its list
// again on a click on its nav entry. `fetch` is stubbed; nothing leaves the test.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { AccountMenu } from '../src/account-view';
import { AgentsView, teamOptions } from '../src/agents-view';
import { ConversationPane } from '../src/app';
import { Controller } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { forgetUnreadable, mayRead, visibleList } from '../src/state';
import { Toasts, teamsNoticeText } from '../src/notify-view';
import { TeamsView } from '../src/teams-view';
import type { Agent, ConversationView } from '../src/types';
import { useDom } from './dom';
import { conv, person } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const zh = (key: Key, vars?: Record<string, string>) => translate('zh', key, vars);
const ANN = person('ag_ann', 'Ann Agent', 'admin');
const BOB = person('ag_bob', 'Bob Agent', 'agent', { teams: ['support'] });
const CY = person('ag_cy', 'Cy Agent', 'agent', { teams: [] });
const TEAMS = [
  { name: 'vip', timezone: 'UTC', hours: '', answer_within_secs: 60, max_hops: 3, open_now: true, agents: [] },
  { name: 'support', timezone: 'UTC', hours: '', answer_within_secs: 60, max_hops: 3, open_now: true, agents: ['ag_bob'] },
  { name: 'billing', timezone: 'UTC', hours: '', answer_within_secs: 60, max_hops: 3, open_now: true, agents: [] },
];

const { root, tid, tids, flush, click, fill } = useDom();

type Call = { method: string; url: string; body: unknown };
type Answer = { status?: number; body?: unknown } | Error | null;
/** `fetch` answering with `answer(call)`; an Error is a request that never reached the server, null a 404 without a route. */
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const r = answer(c) ?? { status: 404, body: { error: { code: 'no_route', message: 'no route' } } };
    if (r instanceof Error) throw r;
    return new Response(JSON.stringify(r.body ?? null), { status: r.status ?? 200 });
  });
  return calls;
}
const said = (calls: Call[]) => calls.map((c) => `${c.method} ${c.url}`);

function controller(me: Agent, onLoggedOut: (code: string) => void = () => {}) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: me }, { onLoggedOut });
  ctrl.agents = [ANN, BOB, CY];
  return ctrl;
}
function mount(node: () => preact.JSX.Element, ctrl: Controller) {
  const again = () => act(() => render(node(), root()));
  again();
  ctrl.subscribe(again);
}
/** A pushed frame, as the socket hands it to the controller. */
const push = (ctrl: Controller, ev: unknown) => act(() => (ctrl as unknown as { onEvent: (e: unknown) => void }).onEvent(ev));
const page = (items: ConversationView[]) => ({ items, next_cursor: null });

describe('who reads a conversation (as the server decides)', () => {
  const queued = (team: string | null, patch: Partial<ConversationView> = {}) => conv('c', { status: 'queued', assignee_id: null, team, ...patch });

  it('an agent: their teams (ignoring ASCII case), the common queue and their own; a supervisor or an admin everything', () => {
    expect(mayRead(BOB, queued('support'))).toBe(true);
    expect(mayRead(BOB, queued('Support'))).toBe(true);
    expect(mayRead(BOB, queued('vip'))).toBe(false);
    expect(mayRead(BOB, queued(null))).toBe(true);
    expect(mayRead(BOB, queued('vip', { status: 'assigned', assignee_id: BOB.id }))).toBe(true);
    expect(mayRead({ ...BOB, role: 'supervisor' }, queued('vip'))).toBe(true);
    expect(mayRead(ANN, queued('vip'))).toBe(true);
    // A server without roles narrows nothing.
    expect(mayRead({ id: 'x', teams: [] }, queued('vip'))).toBe(true);
  });

  it('forgets the conversations no longer readable, with their timelines; unchanged when all are', () => {
    const ctrl = controller(BOB);
    const s = ctrl.state;
    s.conversations = { v: { ...queued('vip'), id: 'v' }, s: { ...queued('support'), id: 's' }, n: { ...queued(null), id: 'n' } };
    s.messages = { v: [], s: [] };
    const after = forgetUnreadable(s, BOB);
    expect(Object.keys(after.conversations).sort()).toEqual(['n', 's']);
    expect(Object.keys(after.messages)).toEqual(['s']);
    expect(forgetUnreadable(after, BOB)).toBe(after);
  });

  it("the editor offers every team and any the agent is in that no longer exists, by name", () => {
    expect(teamOptions(['vip', 'billing'], ['support', 'vip'])).toEqual(['billing', 'support', 'vip']);
    expect(teamOptions([], [])).toEqual([]);
  });
});

describe('agent.updated', () => {
  it("another agent's teams: the agents held (agents page, transfer picker, @mentions) follow, with their presence kept; nothing is read", async () => {
    const calls = stubFetch(() => null);
    const ctrl = controller(ANN);
    ctrl.agents = [ANN, { ...BOB, status: 'busy' }, CY];
    const before = ctrl.agentChanges;
    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: ['support', 'vip'], status: 'offline' } });
    const bob = ctrl.agents.find((a) => a.id === BOB.id)!;
    expect(bob.teams).toEqual(['support', 'vip']);
    expect(bob.status).toBe('busy'); // the presence events are newer than the record
    expect(ctrl.agentChanges).toBe(before + 1);
    expect(ctrl.me).toEqual(ANN);
    await flush();
    expect(calls).toEqual([]);
  });

  it('inside a batch frame too, and an agent not held yet is added', () => {
    stubFetch(() => null);
    const ctrl = controller(ANN);
    const dee = person('ag_dee', 'Dee New', 'agent', { teams: ['vip'] });
    push(ctrl, { type: 'batch', events: [{ type: 'agent.updated', agent: { ...CY, teams: ['billing'] } }, { type: 'agent.updated', agent: dee }] });
    expect(ctrl.agents.find((a) => a.id === CY.id)!.teams).toEqual(['billing']);
    expect(ctrl.agents.find((a) => a.id === 'ag_dee')).toEqual(dee);
  });

  it('an event without an agent is ignored', () => {
    const ctrl = controller(ANN);
    push(ctrl, { type: 'agent.updated' });
    push(ctrl, { type: 'agent.updated', agent: null });
    expect(ctrl.agents).toEqual([ANN, BOB, CY]);
  });

  it('me, out of support and into vip: me follows (the account menu too), support\'s conversations leave at once, and the tab shown is read again', async () => {
    const vipWaiting = conv('cv_vip', { status: 'queued', assignee_id: null, team: 'vip', last_activity_at: '2026-01-01T11:00:00.000Z' });
    let lists = 0;
    const calls = stubFetch((c) => {
      if (c.url.startsWith('/api/v1/conversations?')) {
        lists++;
        return { body: page([vipWaiting]) };
      }
      return null;
    });
    const loggedOut = vi.fn();
    const ctrl = controller(BOB, loggedOut);
    await ctrl.selectTab('unassigned');
    lists = 0;
    calls.length = 0;
    // Held: a support conversation waiting (open), one of the common queue, one of support assigned to me.
    const supportWaiting = conv('cv_sup', { status: 'queued', assignee_id: null, team: 'support' });
    const common = conv('cv_common', { status: 'queued', assignee_id: null, team: null });
    const mine = conv('cv_mine', { status: 'assigned', assignee_id: BOB.id, team: 'support' });
    ctrl.state = { ...ctrl.state, conversations: { cv_sup: supportWaiting, cv_common: common, cv_mine: mine } };
    ctrl.openId = 'cv_sup';
    sessionStorage.setItem('omnidesk.open', 'cv_sup');
    mount(() => <AccountMenu ctrl={ctrl} t={t} onSignOut={() => {}} signingOut={false} />, ctrl);
    await click(tid('account'));
    expect(tid('account-teams')!.textContent).toBe('Teams: support');

    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: ['vip'] } });
    // At once, before any answer: me, and support's waiting conversation gone (the open one closes).
    expect(ctrl.me.teams).toEqual(['vip']);
    expect(ctrl.agents.find((a) => a.id === BOB.id)!.teams).toEqual(['vip']);
    expect(ctrl.state.conversations.cv_sup).toBeUndefined();
    expect(ctrl.openId).toBeNull();
    expect(sessionStorage.getItem('omnidesk.open')).toBeNull();
    expect(ctrl.state.conversations.cv_mine).toBeDefined(); // mine stays mine
    expect(tid('account-teams')!.textContent).toBe('Teams: vip');
    await flush();
    expect(said(calls)).toEqual(['GET /api/v1/conversations?assignee=none&status=queued&limit=25']);
    expect(visibleList(ctrl.state, 'unassigned').map((c) => c.id)).toEqual(['cv_vip']);
    expect(lists).toBe(1);
    expect(loggedOut).not.toHaveBeenCalled();
    expect(ctrl.api.token).toBe('tok');
  });

  it('me, in a batch after a push of a team I leave: the push does not bring that conversation back', async () => {
    stubFetch((c) => (c.url.startsWith('/api/v1/conversations?') ? { body: page([]) } : null));
    const ctrl = controller(BOB);
    push(ctrl, {
      type: 'batch',
      events: [
        { type: 'conversation.updated', conversation: conv('cv_sup', { status: 'queued', assignee_id: null, team: 'support' }) },
        { type: 'agent.updated', agent: { ...BOB, teams: [] } },
      ],
    });
    expect(ctrl.state.conversations.cv_sup).toBeUndefined();
    await flush();
    expect(ctrl.state.conversations.cv_sup).toBeUndefined();
  });

  it('me, with the same teams (another field changed): me follows, nothing is read again', async () => {
    const calls = stubFetch(() => null);
    const ctrl = controller(BOB);
    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: ['support'], name: 'Bob Renamed' } });
    expect(ctrl.me.name).toBe('Bob Renamed');
    await flush();
    expect(calls).toEqual([]);
  });

  it('the teams page reads the teams again: their members may have changed', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/teams' ? { body: TEAMS } : c.url === '/api/v1/agents' ? { body: { items: [ANN, BOB, CY] } } : null));
    const ctrl = controller(ANN);
    mount(() => <TeamsView ctrl={ctrl} t={t} />, ctrl);
    await flush();
    expect(calls.filter((c) => c.url === '/api/v1/teams')).toHaveLength(1);
    push(ctrl, { type: 'agent.updated', agent: { ...CY, teams: ['vip'] } });
    await flush();
    expect(calls.filter((c) => c.url === '/api/v1/teams')).toHaveLength(2);
    expect(tid('teams-cli')!.textContent).toContain('admins put agents in them on the Agents page');
  });
});

describe('the notice of my teams changed', () => {
  const BOB2 = { ...BOB, teams: ['support', 'billing'] };
  const named = (id: string, name: string, patch: Partial<ConversationView>) => {
    const c = conv(id, patch);
    return { ...c, contact: { ...c.contact, display_name: name } };
  };
  const supportWaiting = () => named('cv_sup', 'Ann', { status: 'queued', assignee_id: null, team: 'support' });
  const notices = () => tids('teams-notice').map((n) => Array.from(n.querySelectorAll('strong, .toast-text')).map((x) => x.textContent));
  /** Lets `ms` pass on the faked clock (the notices' timers are faked), the fetches answering meanwhile. */
  const pass = (ms: number) =>
    act(async () => {
      await vi.advanceTimersByTimeAsync(ms);
    });
  const settle = () => pass(0);
  /** A controller of `me` on Unassigned, holding `held` with `open` open, the toasts on screen. */
  async function desk(me: Agent, held: ConversationView[], open: string | null, list: ConversationView[] = []) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const calls = stubFetch((c) => (c.url.startsWith('/api/v1/conversations?') ? { body: page(list) } : null));
    const ctrl = controller(me);
    ctrl.tab = 'unassigned';
    ctrl.state = { ...ctrl.state, conversations: Object.fromEntries(held.map((c) => [c.id, c])) };
    ctrl.openId = open;
    mount(() => <Toasts ctrl={ctrl} t={t} />, ctrl);
    return { ctrl, calls };
  }

  it('taken out of a team while its conversation is open: it closes, and the notice names my teams now, the contact and the team; it stays until dismissed', async () => {
    const other = conv('cv_sup2', { status: 'queued', assignee_id: null, team: 'support' });
    const { ctrl } = await desk(BOB2, [supportWaiting(), other], 'cv_sup');
    push(ctrl, { type: 'agent.updated', agent: { ...BOB2, teams: ['billing'] } });
    await settle();
    expect(ctrl.openId).toBeNull();
    expect(notices()).toEqual([
      [
        'Your teams changed (now: billing).',
        'The conversation with Ann is in team support, which you are no longer in, so it was closed.',
        'One more left your lists.',
      ],
    ]);
    await pass(60_000);
    expect(tids('teams-notice')).toHaveLength(1);
    const close = tid('teams-notice')!.querySelector('.toast-close') as HTMLElement;
    expect(close.getAttribute('aria-label')).toBe('Dismiss');
    await act(async () => close.click());
    expect(tids('teams-notice')).toHaveLength(0);
    expect(ctrl.teamNotices).toEqual([]);
  });

  it('taken out of my only team with nothing open: how many conversations left my lists', async () => {
    const { ctrl } = await desk(BOB, [supportWaiting(), conv('cv_sup2', { status: 'queued', assignee_id: null, team: 'support' })], null);
    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: [] } });
    await settle();
    expect(notices()).toEqual([['Your teams changed (now: no team).', '2 conversations of teams you are no longer in left your lists.']]);
  });

  it("added to a team: the notice names it and says its waiting conversations are in Unassigned; it goes after 15 s", async () => {
    const vipWaiting = conv('cv_vip', { status: 'queued', assignee_id: null, team: 'vip' });
    const { ctrl } = await desk(BOB, [], null, [vipWaiting]);
    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: ['support', 'vip'] } });
    await settle();
    expect(visibleList(ctrl.state, 'unassigned').map((c) => c.id)).toEqual(['cv_vip']);
    expect(notices()).toEqual([['You were added to team vip: its waiting conversations are now in Unassigned.']]);
    await pass(14_000);
    expect(tids('teams-notice')).toHaveLength(1);
    await pass(1_000);
    expect(tids('teams-notice')).toHaveLength(0);
  });

  it('moved from one team to two others while its conversation is open: both halves, teams named', () => {
    const text = teamsNoticeText({ id: 'n', teams: ['billing', 'vip'], added: ['billing', 'vip'], closed: { name: 'Ann', team: 'support', draft: false }, gone: 3 }, t);
    expect(text).toEqual([
      'Your teams changed (now: billing, vip).',
      'The conversation with Ann is in team support, which you are no longer in, so it was closed.',
      '3 more left your lists.',
      'You were added to teams billing, vip: their waiting conversations are now in Unassigned.',
    ]);
    expect(teamsNoticeText({ id: 'n', teams: [], added: [], closed: null, gone: 1 }, t)).toEqual([
      'Your teams changed (now: no team).',
      'A conversation of a team you are no longer in left your lists.',
    ]);
  });

  it("another agent's change of teams, even one that would close my conversation were it mine: no notice, nothing closes", async () => {
    const { ctrl, calls } = await desk(BOB, [supportWaiting()], 'cv_sup');
    push(ctrl, { type: 'agent.updated', agent: { ...CY, teams: ['support', 'vip'] } });
    push(ctrl, { type: 'agent.updated', agent: { ...person('ag_dee', 'Dee', 'agent'), teams: [] } });
    await settle();
    expect(ctrl.openId).toBe('cv_sup');
    expect(ctrl.teamNotices).toEqual([]);
    expect(tids('teams-notice')).toHaveLength(0);
    expect(calls).toEqual([]);
  });

  it('a change of mine that shows nothing (out of a team I held nothing of), or of a supervisor: no notice', async () => {
    const { ctrl } = await desk(BOB2, [conv('cv_common', { status: 'queued', assignee_id: null, team: null })], 'cv_common');
    push(ctrl, { type: 'agent.updated', agent: { ...BOB2, teams: ['billing'] } });
    await settle();
    expect(ctrl.openId).toBe('cv_common');
    expect(ctrl.teamNotices).toEqual([]);
    const sup = { ...BOB, role: 'supervisor' as const };
    const other = await desk(sup, [], null);
    push(other.ctrl, { type: 'agent.updated', agent: { ...sup, teams: ['support', 'vip'] } });
    await settle();
    expect(other.ctrl.teamNotices).toEqual([]);
  });

  it('the draft typed in the closed conversation is kept, said so, and back in the composer when the conversation opens again', async () => {
    stubFetch((c) => {
      if (c.url.startsWith('/api/v1/conversations?')) return { body: page([supportWaiting()]) };
      if (c.url === '/api/v1/conversations/cv_sup') return { body: supportWaiting() };
      if (c.url.startsWith('/api/v1/conversations/cv_sup/messages')) return { body: page([]) };
      return null;
    });
    const ctrl = controller(BOB);
    ctrl.tab = 'unassigned';
    ctrl.state = { ...ctrl.state, conversations: { cv_sup: supportWaiting() } };
    ctrl.openId = 'cv_sup';
    const composerRef = { current: null as HTMLTextAreaElement | null };
    mount(() => {
      const open = ctrl.openId ? ctrl.state.conversations[ctrl.openId] : undefined;
      return (
        <div>
          {open ? <ConversationPane key={open.id} ctrl={ctrl} conv={open} t={t} agentName={(id) => id ?? '?'} composerRef={composerRef} /> : <p data-testid="no-pane" />}
          <Toasts ctrl={ctrl} t={t} />
        </div>
      );
    }, ctrl);
    await fill(tid('composer'), 'Half a reply about your refund');
    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: [] } });
    await flush();
    expect(tid('no-pane')).not.toBeNull();
    expect(tid('composer')).toBeNull();
    expect(tids('teams-notice')[0].textContent).toContain('Your unsent draft is kept.');
    expect(localStorage.getItem('omnidesk.draft.cv_sup')).toBe('Half a reply about your refund');

    push(ctrl, { type: 'agent.updated', agent: { ...BOB, teams: ['support'] } });
    await flush();
    await ctrl.open('cv_sup');
    await flush();
    expect((tid('composer') as HTMLTextAreaElement).value).toBe('Half a reply about your refund');
  });

  it('every new string is in Chinese too', () => {
    const keys: Key[] = [
      'teams_noticeChanged', 'teams_noticeNoTeam', 'teams_noticeClosed', 'teams_noticeDraft', 'teams_noticeGone1', 'teams_noticeGone',
      'teams_noticeGoneMore1', 'teams_noticeGoneMore', 'teams_noticeAdded', 'teams_noticeAddedMany',
    ];
    for (const k of keys) expect(zh(k, { a: 'A', b: 'B' })).not.toBe(t(k, { a: 'A', b: 'B' }));
    expect(teamsNoticeText({ id: 'n', teams: ['vip'], added: ['vip'], closed: null, gone: 0 }, zh)).toEqual(['你已被加入团队 vip：其等待中的会话现在在“未分配”中。']);
  });
});

describe('the agents page, its nav entry clicked while it is open', () => {
  it('reads the agents again: one added meanwhile shows up', async () => {
    const dee = person('ag_dee', 'Dee New', 'agent', { teams: [] });
    let agents = [ANN, BOB, CY];
    const calls = stubFetch((c) => (c.url === '/api/v1/agents' ? { body: { items: agents } } : c.url === '/api/v1/teams' ? { body: TEAMS } : null));
    const ctrl = controller(ANN);
    expect(ctrl.showView('agents')).toBe(true);
    mount(() => <AgentsView ctrl={ctrl} t={t} />, ctrl);
    await flush();
    expect(tids('agent-row')).toHaveLength(3);
    agents = [ANN, BOB, CY, dee];
    // What the nav entry's click calls: the view it is already on.
    await act(async () => void ctrl.showView('agents'));
    await flush();
    expect(calls.filter((c) => c.url === '/api/v1/agents')).toHaveLength(2);
    expect(root().querySelector('[data-testid="agent-row"][data-email="dee@example.com"]')).not.toBeNull();
    // Another view and back: read once on opening, as before.
    ctrl.showView('teams');
    ctrl.showView('agents');
    expect(ctrl.viewAgain).toBe(1);
  });
});

describe("the agents page's teams editor", () => {
  const row = (email: string) => root().querySelector(`[data-testid="agent-row"][data-email="${email}"]`) as HTMLElement;
  const inRow = (email: string, id: string) => row(email).querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  const options = () => tids('agent-team-option') as HTMLInputElement[];
  async function tick(team: string) {
    const box = options().find((o) => o.getAttribute('data-team') === team)!;
    await act(async () => box.click());
  }
  function agentsPage(teams: Answer, patch: (c: Call) => Answer = () => null) {
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/v1/agents') return { body: { items: [ANN, BOB, CY] } };
      if (c.method === 'GET' && c.url === '/api/v1/teams') return teams;
      return c.method === 'PATCH' ? patch(c) : null;
    });
    const ctrl = controller(ANN);
    mount(() => <AgentsView ctrl={ctrl} t={t} />, ctrl);
    return { calls, ctrl };
  }

  it('a checkbox per team, those of the agent ticked; Save sends exactly the ticked teams; the row shows them', async () => {
    const { calls, ctrl } = agentsPage({ body: TEAMS }, (c) => ({ body: { ...BOB, teams: (c.body as { teams: string[] }).teams } }));
    await flush();
    expect(inRow('bob@example.com', 'agent-teams')!.textContent).toBe('support');
    expect(tid('agents-cli')!.textContent).toContain('A change of teams applies at once and signs nobody out.');
    const edit = inRow('bob@example.com', 'agent-teams-edit')!;
    expect(edit.textContent).toBe('Change…');
    expect(edit.getAttribute('aria-label')).toBe('Teams of Bob Agent');
    await click(edit);
    expect(edit.getAttribute('aria-expanded')).toBe('true');
    const editor = tid('agent-teams-editor')!;
    expect(editor.getAttribute('aria-label')).toBe('Teams of Bob Agent');
    expect(editor.closest('[data-testid="agent-extra"]')!.getAttribute('data-id')).toBe(BOB.id);
    expect(options().map((o) => [o.getAttribute('data-team'), o.checked])).toEqual([
      ['billing', false],
      ['support', true],
      ['vip', false],
    ]);
    expect(tid('agent-teams-editor')!.textContent).toContain('Applies at once; they stay signed in.');

    await tick('vip');
    await tick('support');
    await tick('billing');
    await click(tid('agent-teams-save'));
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([['/api/v1/agents/ag_bob', { teams: ['billing', 'vip'] }]]);
    expect(tid('agent-teams-editor')).toBeNull();
    expect(tid('agent-done')!.textContent).toBe('✓ Bob Agent is now in: billing, vip.');
    expect(inRow('bob@example.com', 'agent-teams')!.textContent).toBe('billing, vip');
    expect(ctrl.agents.find((a) => a.id === BOB.id)!.teams).toEqual(['billing', 'vip']);
  });

  it('none ticked: PATCH teams [] and the row says no team', async () => {
    const { calls } = agentsPage({ body: TEAMS }, (c) => ({ body: { ...BOB, teams: (c.body as { teams: string[] }).teams } }));
    await flush();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    await tick('support');
    await click(tid('agent-teams-save'));
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([{ teams: [] }]);
    expect(tid('agent-done')!.textContent).toBe('✓ Bob Agent is now in no team.');
    expect(inRow('bob@example.com', 'agent-teams')!.textContent).toBe('—');
  });

  it('Cancel sends nothing and closes the editor; opening it again starts from the agent\'s teams', async () => {
    const { calls } = agentsPage({ body: TEAMS });
    await flush();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    await tick('vip');
    await click(tid('agent-teams-cancel'));
    expect(tid('agent-teams-editor')).toBeNull();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    expect(options().filter((o) => o.checked).map((o) => o.getAttribute('data-team'))).toEqual(['support']);
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);
  });

  it("409 unknown_team: the server's message on the row, the editor kept open with the ticks", async () => {
    agentsPage({ body: TEAMS }, () => ({ status: 409, body: { error: { code: 'unknown_team', message: 'there is no team "vip"; create it first' } } }));
    await flush();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    await tick('vip');
    await click(tid('agent-teams-save'));
    const error = tid('agent-error')!;
    expect(error.textContent).toBe('There is no team "vip"; create it first');
    expect(error.getAttribute('role')).toBe('alert');
    expect(options().filter((o) => o.checked).map((o) => o.getAttribute('data-team'))).toEqual(['support', 'vip']);
    expect(inRow('bob@example.com', 'agent-teams')!.textContent).toBe('support');
  });

  it('403 and an unreachable server: said on the row', async () => {
    let answer: Answer = { status: 403, body: { error: { code: 'forbidden', message: 'only an admin may change an agent' } } };
    agentsPage({ body: TEAMS }, () => answer);
    await flush();
    await click(inRow('cy@example.com', 'agent-teams-edit'));
    await tick('vip');
    await click(tid('agent-teams-save'));
    expect(tid('agent-error')!.textContent).toBe('Only an admin may change an agent');
    answer = new TypeError('Failed to fetch');
    await click(tid('agent-teams-save'));
    expect(tid('agent-error')!.textContent).toMatch(/^Could not change Cy Agent: /);
  });

  it('no teams yet: the editor says how to add one, and offers no Save', async () => {
    agentsPage({ body: [] });
    await flush();
    await click(inRow('cy@example.com', 'agent-teams-edit'));
    expect(tid('agent-teams-none')!.textContent).toBe('No teams yet. Add one with the CLI (the Teams page lists them): omnidesk team add --name support');
    expect(tid('agent-teams-save')).toBeNull();
    await click(tid('agent-teams-cancel'));
    expect(tid('agent-teams-editor')).toBeNull();
  });

  it('a team the agent is in that no longer exists shows ticked, marked', async () => {
    agentsPage({ body: TEAMS.filter((x) => x.name !== 'support') });
    await flush();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    const support = options().find((o) => o.getAttribute('data-team') === 'support')!;
    expect(support.checked).toBe(true);
    expect(support.closest('label')!.textContent).toBe(' support (no longer a team)');
  });

  it('a server without teams (no GET /teams): no editor', async () => {
    agentsPage(null);
    await flush();
    expect(tids('agent-row')).toHaveLength(3);
    expect(tids('agent-teams-edit')).toHaveLength(0);
  });

  it('the teams editor and a role confirmation never show together', async () => {
    agentsPage({ body: TEAMS });
    await flush();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    await act(async () => {
      const select = inRow('bob@example.com', 'agent-role') as HTMLSelectElement;
      select.value = 'supervisor';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(tid('agent-confirm')).not.toBeNull();
    expect(tid('agent-teams-editor')).toBeNull();
    await click(inRow('bob@example.com', 'agent-teams-edit'));
    expect(tid('agent-confirm')).toBeNull();
    expect(tid('agent-teams-editor')).not.toBeNull();
  });

  it('every new string is in Chinese too', () => {
    const keys: Key[] = ['ag_teamsEdit', 'ag_teamsOf', 'ag_teamsSave', 'ag_teamsHint', 'ag_teamsNoneYet', 'ag_teamGone', 'ag_teamsDone', 'ag_teamsNone', 'account_teams', 'account_noTeam'];
    for (const k of keys) expect(zh(k, { a: 'A', b: 'B' })).not.toBe(t(k, { a: 'A', b: 'B' }));
  });
});
