// @vitest-environment happy-dom
// Roles on screen: what an agent or a supervisor is not offered (disabled with a tooltip naming
// who may, or not shown), a 403 that still happens showing the server's words, the agents page
// (role change, disable / enable, each confirmed; 409 last_admin), the account menu (role badge,
// sign out, change password) and the sign-in page's messages.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { AccountMenu, ChangePassword } from '../src/account-view';
import { AgentsView } from '../src/agents-view';
import { ConversationPane, Login, MergeContact } from '../src/app';
import { CannedManager } from '../src/canned-view';
import { Controller, type ControllerHooks } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { FaqEditor, KnowledgeBase } from '../src/knowledge-view';
import { RulesView } from '../src/rules-view';
import type { Agent } from '../src/types';
import { useDom } from './dom';
import { conv, person } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const ANN = person('ag_ann', 'Ann Agent', 'admin');
const SUE = person('ag_sue', 'Sue Supervisor', 'supervisor');
const BOB = person('ag_bob', 'Bob Agent', 'agent', { teams: ['support'] });

const { root, tid, tids, flush, click, fill } = useDom();
async function choose(el: HTMLElement | null, value: string) {
  expect(el).not.toBeNull();
  await act(async () => {
    (el as HTMLSelectElement).value = value;
    el!.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

type Call = { method: string; url: string; body: unknown; auth?: string };
type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | null;
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, auth: (init.headers as Record<string, string>)?.Authorization };
    calls.push(c);
    const r = answer(c) ?? { status: 404, body: { error: { code: 'no_route', message: 'no route' } } };
    return new Response(r.status === 204 ? null : JSON.stringify(r.body ?? null), { status: r.status ?? 200, headers: r.headers });
  });
  return calls;
}
/** Everything in localStorage and sessionStorage, as one string. */
function stored(): string {
  const all: string[] = [];
  for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all.push(`${s.key(i)}=${s.getItem(s.key(i)!)}`);
  return all.join('\n');
}
const forbidden = (message: string) => ({ status: 403, body: { error: { code: 'forbidden', message } } });

function controller(me: Agent, hooks: Partial<ControllerHooks> = {}) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: me }, { onLoggedOut: () => {}, ...hooks });
  ctrl.agents = [ANN, SUE, BOB];
  return ctrl;
}
function mount(node: () => preact.JSX.Element, ctrl: Controller) {
  const again = () => act(() => render(node(), root()));
  again();
  ctrl.subscribe(again);
}

describe('what a role is offered', () => {
  it('the views: an agent has no reports and no agents page, a supervisor reports, an admin both', () => {
    const views = (me: Agent) => (['reports', 'agents', 'rules', 'canned'] as const).filter((v) => controller(me).mayView(v));
    expect(views(BOB)).toEqual(['rules', 'canned']);
    expect(views(SUE)).toEqual(['reports', 'rules', 'canned']);
    expect(views(ANN)).toEqual(['reports', 'agents', 'rules', 'canned']);
    const ctrl = controller(BOB);
    expect(ctrl.showView('reports')).toBe(false);
    expect(ctrl.view).toBe('conversations');
  });

  it('a view kept from before a sign-in as an agent opens on the conversations instead', () => {
    sessionStorage.setItem('omnidesk.view', 'agents');
    expect(controller(BOB).view).toBe('conversations');
    expect(controller(ANN).view).toBe('agents');
  });

  it('an agent: Transfer disabled with who may as its tooltip; a supervisor may transfer', () => {
    for (const [me, allowed] of [[BOB, false], [SUE, true]] as const) {
      const ctrl = controller(me);
      const c = conv('c1', { assignee_id: me.id });
      ctrl.state.conversations.c1 = c;
      ctrl.state.messages.c1 = [];
      act(() => render(<ConversationPane ctrl={ctrl} conv={c} t={t} agentName={(id) => id ?? '?'} composerRef={{ current: null }} />, root()));
      const transfer = tid('transfer') as HTMLSelectElement;
      expect(transfer.disabled).toBe(!allowed);
      expect(transfer.getAttribute('title')).toBe(allowed ? null : 'Only a supervisor or an admin may give a conversation to someone else.');
      render(null, root());
    }
  });

  it('a disabled agent is not offered as a transfer target', () => {
    const ctrl = controller(ANN);
    ctrl.agents = [ANN, BOB, { ...SUE, disabled: true }];
    const c = conv('c1', { assignee_id: ANN.id });
    ctrl.state.conversations.c1 = c;
    ctrl.state.messages.c1 = [];
    act(() => render(<ConversationPane ctrl={ctrl} conv={c} t={t} agentName={(id) => id ?? '?'} composerRef={{ current: null }} />, root()));
    expect(Array.from((tid('transfer') as HTMLSelectElement).options).map((o) => o.textContent)).toEqual(['Transfer to…', 'Bob Agent (Online)']);
  });

  it('an agent: "Merge with another contact…" disabled, saying who may', () => {
    const ctrl = controller(BOB);
    act(() => render(<MergeContact ctrl={ctrl} contact={conv('c1').contact} t={t} />, root()));
    const b = tid('merge-contact') as HTMLButtonElement;
    expect(b.disabled).toBe(true);
    expect(b.title).toBe('Only a supervisor or an admin may merge contacts.');
  });

  it('an agent reads the saved replies but may not add, edit or delete them', async () => {
    stubFetch((c) => (c.url === '/api/v1/canned' ? { body: [{ shortcut: 'hi', text: 'Hello!' }] } : null));
    const ctrl = controller(BOB);
    mount(() => <CannedManager ctrl={ctrl} t={t} />, ctrl);
    await flush();
    expect(tids('canned-entry')).toHaveLength(1);
    const add = tid('canned-add') as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    expect(add.title).toBe('Only a supervisor or an admin may change saved replies.');
    expect(tid('canned-read-only')!.textContent).toBe('Read-only. Only a supervisor or an admin may change saved replies.');
    expect(tid('canned-edit')).toBeNull();
    expect(tid('canned-delete')).toBeNull();
  });

  it('a supervisor reads the FAQ but may not change it; the AI review is theirs', async () => {
    stubFetch((c) => (c.url === '/api/v1/faq' ? { body: { version: 1, entries: [{ id: 'f1', questions: ['Where?'], answer: 'Here.', language: null, enabled: true, updated_at: '2026-01-01T00:00:00Z' }] } } : null));
    const ctrl = controller(SUE);
    mount(() => <FaqEditor ctrl={ctrl} t={t} />, ctrl);
    await flush();
    expect(tids('faq-entry')).toHaveLength(1);
    expect((tid('faq-add') as HTMLButtonElement).disabled).toBe(true);
    expect((tid('faq-add') as HTMLButtonElement).title).toBe('Only an admin may change the FAQ.');
    expect(tid('faq-edit')).toBeNull();
    expect(tid('faq-toggle')).toBeNull();
    render(null, root());
    act(() => render(<KnowledgeBase ctrl={ctrl} t={t} />, root()));
    expect((tid('kb-tab-calls') as HTMLButtonElement).disabled).toBe(false);
  });

  it("an agent may not open the AI review of every call", () => {
    stubFetch(() => ({ body: { version: 1, entries: [] } }));
    const ctrl = controller(BOB);
    act(() => render(<KnowledgeBase ctrl={ctrl} t={t} />, root()));
    const tab = tid('kb-tab-calls') as HTMLButtonElement;
    expect(tab.disabled).toBe(true);
    expect(tab.title).toBe("Only a supervisor or an admin may review the AI's calls.");
  });

  it('the routing rules for a supervisor: read-only text and the rules by name, no editor', async () => {
    const source = '[[rules]]\nname = "VIP"\nthen.team = "vip"\n';
    stubFetch((c) => (c.url === '/api/v1/rules' ? { body: { source, format: 'toml', version: 3, rules: [{ name: 'VIP', line: 1 }] } } : null));
    const ctrl = controller(SUE);
    act(() => render(<RulesView ctrl={ctrl} t={t} />, root()));
    await flush();
    expect(tid('rules')!.getAttribute('data-read-only')).toBe('true');
    expect(tid('rules-source')).toBeNull();
    expect(tid('rules-save')).toBeNull();
    expect(tid('rules-read-only')!.textContent).toBe('Read-only. Only an admin may change the routing rules.');
    expect(Array.from(tid('rules-text')!.querySelectorAll('li')).map((l) => l.textContent)).toEqual(['[[rules]]', 'name = "VIP"', 'then.team = "vip"']);
    expect(tid('rules-rule')!.getAttribute('data-name')).toBe('VIP');
  });

  it('an admin gets the editor', async () => {
    stubFetch((c) => (c.url === '/api/v1/rules' ? { body: { source: '', format: 'toml', version: 0, rules: [] } } : null));
    act(() => render(<RulesView ctrl={controller(ANN)} t={t} />, root()));
    await flush();
    expect(tid('rules-source')).not.toBeNull();
  });

  it('a 403 that still happens shows the server\'s words, not a generic error', async () => {
    stubFetch((c) => (c.url.endsWith('/assign') ? forbidden('only a supervisor or an admin may assign a conversation to someone else') : null));
    const ctrl = controller(BOB);
    await ctrl.transfer('c1', SUE.id);
    expect(ctrl.error).toBe('only a supervisor or an admin may assign a conversation to someone else');
  });
});

describe('the agents page (admins)', () => {
  function agentsPage(answer: (c: Call) => Answer) {
    const calls = stubFetch((c) => (c.method === 'GET' && c.url === '/api/v1/agents' ? { body: { items: [BOB, ANN, { ...SUE, disabled: true }] } } : answer(c)));
    const ctrl = controller(ANN);
    mount(() => <AgentsView ctrl={ctrl} t={t} />, ctrl);
    return { calls, ctrl };
  }
  const row = (email: string) => root().querySelector(`[data-testid="agent-row"][data-email="${email}"]`) as HTMLElement;
  const inRow = (email: string, id: string) => row(email).querySelector(`[data-testid="${id}"]`) as HTMLElement;

  it('lists every agent: name, e-mail, role, status, teams and access; enabled first', async () => {
    agentsPage(() => null);
    await flush();
    const rows = tids('agent-row');
    expect(rows.map((r) => r.getAttribute('data-email'))).toEqual(['ann@example.com', 'bob@example.com', 'sue@example.com']);
    expect(rows[0].querySelector('th')!.textContent).toBe('Ann Agent (you)');
    expect((inRow('bob@example.com', 'agent-role') as HTMLSelectElement).value).toBe('agent');
    expect(row('bob@example.com').querySelector('[data-col="teams"]')!.textContent).toBe('support');
    expect(row('bob@example.com').querySelector('[data-col="status"]')!.textContent).toContain('Online');
    expect(inRow('sue@example.com', 'agent-access').textContent).toBe('Disabled');
    expect(inRow('sue@example.com', 'agent-enable')).not.toBeNull();
    expect(inRow('bob@example.com', 'agent-disable')).not.toBeNull();
  });

  it('a role change asks first (Cancel sends nothing), then PATCHes the role and says the agent was signed out', async () => {
    const { calls, ctrl } = agentsPage((c) => (c.method === 'PATCH' ? { body: { ...BOB, role: 'supervisor' } } : null));
    await flush();
    await choose(inRow('bob@example.com', 'agent-role'), 'supervisor');
    expect(tid('agent-question')!.textContent).toBe('Make Bob Agent a supervisor? They are signed out at once and sign in again with the new role.');
    await click(tid('agent-confirm-cancel'));
    expect((inRow('bob@example.com', 'agent-role') as HTMLSelectElement).value).toBe('agent');
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);

    await choose(inRow('bob@example.com', 'agent-role'), 'supervisor');
    await click(tid('agent-confirm-do'));
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([['/api/v1/agents/ag_bob', { role: 'supervisor' }]]);
    expect(tid('agent-done')!.textContent).toBe('✓ Bob Agent is now a supervisor and was signed out.');
    expect(ctrl.agents.find((a) => a.id === BOB.id)!.role).toBe('supervisor');
    expect((inRow('bob@example.com', 'agent-role') as HTMLSelectElement).value).toBe('supervisor');
  });

  it('409 last_admin: the server\'s message on the row, the role as it was', async () => {
    agentsPage((c) => (c.method === 'PATCH' ? { status: 409, body: { error: { code: 'last_admin', message: 'this is the last admin: make someone else an admin first' } } } : null));
    await flush();
    await choose(inRow('ann@example.com', 'agent-role'), 'agent');
    expect(tid('agent-confirm')!.textContent).toContain('This is you: you will be signed out too.');
    await click(tid('agent-confirm-do'));
    expect(tid('agent-error')!.textContent).toBe('This is the last admin: make someone else an admin first');
    expect(tid('agent-error')!.getAttribute('role')).toBe('alert');
    expect((inRow('ann@example.com', 'agent-role') as HTMLSelectElement).value).toBe('admin');
  });

  it('disable and enable, each after a confirmation', async () => {
    const { calls } = agentsPage((c) => {
      if (c.method !== 'PATCH') return null;
      const who = c.url.endsWith('ag_bob') ? BOB : SUE;
      const { disabled: _, ...rest } = who as Agent;
      return { body: (c.body as { disabled: boolean }).disabled ? { ...rest, disabled: true, status: 'offline' } : rest };
    });
    await flush();
    await click(inRow('bob@example.com', 'agent-disable'));
    expect(tid('agent-question')!.textContent).toBe('Disable Bob Agent? They are signed out at once, cannot sign in, and their waiting conversations go to others.');
    expect(tid('agent-confirm-do')!.className).toBe('danger');
    await click(tid('agent-confirm-do'));
    expect(inRow('bob@example.com', 'agent-access').textContent).toBe('Disabled');
    expect(tid('agent-done')!.textContent).toBe('✓ Bob Agent is disabled and was signed out.');

    await click(inRow('sue@example.com', 'agent-enable'));
    expect(tid('agent-question')!.textContent).toBe('Enable Sue Supervisor? They can sign in again.');
    await click(tid('agent-confirm-do'));
    expect(inRow('sue@example.com', 'agent-access').textContent).toBe('Active');
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/agents/ag_bob', { disabled: true }],
      ['/api/v1/agents/ag_sue', { disabled: false }],
    ]);
  });

  it('a refused read says why', async () => {
    stubFetch(() => forbidden('nope'));
    const ctrl = controller(ANN);
    ctrl.agents = [];
    mount(() => <AgentsView ctrl={ctrl} t={t} />, ctrl);
    await flush();
    expect(tid('agents-error')!.textContent).toBe('Could not load the agents: nope');
  });
});

describe('the account menu', () => {
  it('shows my name with my role, and what the role may do', async () => {
    const ctrl = controller(SUE);
    mount(() => <AccountMenu ctrl={ctrl} t={t} onSignOut={() => {}} signingOut={false} />, ctrl);
    expect(tid('account')!.textContent).toContain('Sue Supervisor');
    expect(tid('role-badge')!.textContent).toBe('Supervisor');
    expect(tid('account')!.getAttribute('aria-label')).toBe('Your account: Sue Supervisor (Supervisor)');
    await click(tid('account'));
    expect(tid('account-email')!.textContent).toBe('sue@example.com');
    expect(tid('account-role')!.textContent).toContain('reassigns conversations');
  });

  it('no badge from a server without roles', () => {
    const ctrl = controller({ id: 'ag_x', email: 'x@example.com', name: 'X', status: 'online' });
    act(() => render(<AccountMenu ctrl={ctrl} t={t} onSignOut={() => {}} signingOut={false} />, root()));
    expect(tid('role-badge')).toBeNull();
  });

  it('sign out calls POST /auth/logout; the dashboard stops first, so no 401 hook runs', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/logout' ? { status: 204 } : null));
    const onLoggedOut = vi.fn();
    const ctrl = controller(ANN, { onLoggedOut });
    await ctrl.logout();
    expect(calls.map((c) => `${c.method} ${c.url} ${c.auth}`)).toEqual(['POST /api/v1/auth/logout Bearer tok']);
    expect(ctrl.api.token).toBeNull();
    expect(onLoggedOut).not.toHaveBeenCalled();
  });

  it('signs out here even when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const ctrl = controller(ANN);
    await ctrl.logout();
    expect(ctrl.api.token).toBeNull();
  });

  it('the sign-out button is in the menu', async () => {
    const onSignOut = vi.fn();
    const ctrl = controller(ANN);
    mount(() => <AccountMenu ctrl={ctrl} t={t} onSignOut={onSignOut} signingOut={false} />, ctrl);
    await click(tid('account'));
    await click(tid('logout'));
    expect(onSignOut).toHaveBeenCalledOnce();
  });
});

describe('change password', () => {
  function dialog(submit: (current: string, next: string) => Promise<unknown>) {
    const onClose = vi.fn();
    const sent = vi.fn(submit);
    act(() => render(<ChangePassword t={t} submit={sent as never} onClose={onClose} />, root()));
    return { sent, onClose };
  }
  async function fillForm(current: string, next: string, confirm: string) {
    await fill(tid('pw-current'), current);
    await fill(tid('pw-new'), next);
    await fill(tid('pw-confirm'), confirm);
  }
  const problems = () => tids('password-problems').flatMap((ul) => Array.from(ul.querySelectorAll('li')).map((li) => li.textContent));

  it('checks the form before sending: too short, not the same twice', async () => {
    const { sent } = dialog(async () => null);
    await fillForm('old password', 'short', 'shorT');
    await click(tid('password-save'));
    expect(problems()).toEqual(['The new password needs at least 8 characters.', 'The two new passwords differ.']);
    expect(tid('pw-new')!.getAttribute('aria-invalid')).toBe('true');
    expect(sent).not.toHaveBeenCalled();
  });

  it('through the controller: the new token replaces the old one in memory only (the server set the new cookie) and the dialog says done', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/agents/me/password' ? { body: { token: 'tok2', expires_at: '2026-01-02T00:00:00Z', agent: ANN } } : null));
    const ctrl = controller(ANN);
    const { onClose } = dialog((a, b) => ctrl.changePassword(a, b));
    await fillForm('correct horse battery', 'a much longer secret', 'a much longer secret');
    await click(tid('password-save'));
    expect(calls.map((c) => [c.method, c.url, c.body, c.auth])).toEqual([
      ['PUT', '/api/v1/agents/me/password', { current_password: 'correct horse battery', new_password: 'a much longer secret' }, 'Bearer tok'],
    ]);
    expect(ctrl.api.token).toBe('tok2');
    expect(stored()).not.toContain('tok2'); // no Web Storage holds a token
    expect(tid('password-done')!.textContent).toBe('✓ Password changed. Your other sessions were signed out.');
    await click(tid('password-close'));
    expect(onClose).toHaveBeenCalled();
  });

  it("the server's refusals: a wrong current password, a common new one", async () => {
    let answer: Answer = { status: 403, body: { error: { code: 'wrong_password', message: 'current_password: that is not your current password' } } };
    stubFetch(() => answer);
    const ctrl = controller(ANN);
    dialog((a, b) => ctrl.changePassword(a, b));
    await fillForm('not it at all', 'a much longer secret', 'a much longer secret');
    await click(tid('password-save'));
    expect(tid('password-error')!.textContent).toBe('That is not your current password.');
    expect(tid('pw-current')!.getAttribute('aria-invalid')).toBe('true');
    expect(ctrl.api.token).toBe('tok');

    answer = { status: 400, body: { error: { code: 'invalid_input', message: 'new_password: is one of the most common passwords; choose another' } } };
    await fill(tid('pw-current'), 'correct horse battery');
    expect(tid('password-error')).toBeNull(); // typing again clears the refusal
    await click(tid('password-save'));
    expect(tid('password-error')!.textContent).toBe('The new password is one of the most common passwords; choose another.');
  });

  it('locked: the wait counts down', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    stubFetch(() => ({ status: 429, headers: { 'Retry-After': '30' }, body: { error: { code: 'too_many_attempts', message: 'too many failed sign-ins; try again in 30 seconds' } } }));
    const ctrl = controller(ANN);
    dialog((a, b) => ctrl.changePassword(a, b));
    await fillForm('guess', 'a much longer secret', 'a much longer secret');
    await click(tid('password-save'));
    expect(tid('password-error')!.textContent).toBe('Too many failed sign-ins; try again in 30 seconds.');
    await act(async () => void vi.advanceTimersByTime(10_000));
    expect(tid('password-error')!.textContent).toBe('Too many failed sign-ins; try again in 20 seconds.');
  });
});

describe('the sign-in page', () => {
  function login(ended: string | null = null) {
    const onLogin = vi.fn();
    act(() => render(<Login cfg={{ apiBase: '', wsUrl: '' }} t={t} lang="en" setLang={() => {}} ended={ended} onLogin={onLogin} />, root()));
    return onLogin;
  }
  async function signIn(email: string, password: string) {
    await fill(tid('email'), email);
    await fill(tid('password'), password);
    await act(async () => void tid('login-form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })));
    await flush();
  }

  it('after a session ended, it says why: "Your session ended — sign in again"', () => {
    login('session_ended');
    expect(tid('session-expired')!.textContent).toMatch(/^Your session ended — sign in again\./);
    expect(tid('session-expired')!.getAttribute('data-code')).toBe('session_ended');
  });

  it('after signing out: signed out on every device', () => {
    login('signed_out');
    expect(tid('signed-out')!.textContent).toBe('You signed out on every device.');
  });

  it('too many failed sign-ins: the lock and its wait, clearly', async () => {
    stubFetch(() => ({ status: 429, headers: { 'Retry-After': '45' }, body: { error: { code: 'too_many_attempts', message: 'too many failed sign-ins; try again in 45 seconds' } } }));
    const onLogin = login();
    await signIn('temp@example.com', 'wrong');
    const err = tid('login-error')!;
    expect(err.getAttribute('data-kind')).toBe('locked');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toMatch(/Too many failed sign-ins; try again in 4[45] seconds\./);
    expect(onLogin).not.toHaveBeenCalled();
  });

  it('a disabled account; wrong credentials', async () => {
    let answer: Answer = { status: 403, body: { error: { code: 'account_disabled', message: 'this account is disabled; ask an admin' } } };
    stubFetch(() => answer);
    login('session_ended');
    await signIn('bob@example.com', 'correct horse battery');
    expect(tid('login-error')!.textContent).toBe('This account is disabled. Ask an admin to enable it.');
    expect(tid('session-expired')).toBeNull(); // the refusal replaces the earlier notice
    answer = { status: 401, body: { error: { code: 'invalid_credentials', message: 'wrong e-mail or password' } } };
    await signIn('bob@example.com', 'nope');
    expect(tid('login-error')!.textContent).toBe('Wrong e-mail or password.');
  });

  it('signs in', async () => {
    stubFetch(() => ({ body: { token: 'tok', expires_at: '2026-01-02T00:00:00Z', agent: BOB } }));
    const onLogin = login();
    await signIn('bob@example.com', 'correct horse battery');
    expect(onLogin).toHaveBeenCalledWith({ token: 'tok', agent: BOB, expiresAt: Date.parse('2026-01-02T00:00:00Z') });
    expect(stored()).not.toContain('tok');
  });
});
