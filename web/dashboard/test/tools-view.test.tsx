// @vitest-environment happy-dom
// The agent tools on screen and in the controller: opening tab, presence, `/` saved replies,
// notes with @mentions, notifications, labels / priority / snooze / read, rating, team, reports.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { ConversationList, ConversationPane, MyStatus, ViaBot } from '../src/app';
import { CannedManager } from '../src/canned-view';
import { Controller, type ControllerHooks } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { Bell, Toasts } from '../src/notify-view';
import { Reports } from '../src/reports-view';
import { ConversationTools } from '../src/triage-view';
import type { Agent, AgentNotification, CannedResponse, ConversationView, Message, ReportSummary } from '../src/types';
import { useDom } from './dom';
import { conv, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const ANN: Agent = { id: 'ag_me', email: 'ann@example.com', name: 'Ann Agent', status: 'online' };
const BOB: Agent = { id: 'ag_bob', email: 'bob@example.com', name: 'Bob Agent', status: 'online' };
const LI: Agent = { id: 'ag_li', email: 'wei.li@example.com', name: 'Li Wei', status: 'busy' };

// The tests wait for what they expect with `vi.waitFor`; a click does not wait by itself.
const { root, $, tid, tids, click } = useDom({ flushAfterClick: false });

type Call = { method: string; url: string; body: unknown; headers: Record<string, string> };
type Answer = { status?: number; body?: unknown; raw?: Response } | null;
/** `fetch` answering from `answer` (JSON, 200 unless it says; null: 404); every call is recorded. */
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, headers: { ...(init.headers as Record<string, string>) } };
    calls.push(c);
    const r = answer(c) ?? { status: 404, body: { error: { code: 'no_route', message: 'no route' } } };
    if (r.raw) return r.raw;
    return new Response(r.status === 204 ? null : JSON.stringify(r.body ?? null), { status: r.status ?? 200 });
  });
  return calls;
}
const said = (calls: Call[]) => calls.map((c) => `${c.method} ${c.url}`);

function controller(hooks: Partial<ControllerHooks> = {}, me: Agent = ANN) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: me }, { onLoggedOut: () => {}, ...hooks });
  ctrl.agents = [ANN, BOB, LI];
  return ctrl;
}
const onEvent = (ctrl: Controller, ev: unknown) => (ctrl as unknown as { onEvent: (e: unknown) => void }).onEvent(ev);

function pane(c: ConversationView, messages: Message[] = [], ctrl = controller()) {
  ctrl.state.conversations[c.id] = c;
  ctrl.state.messages[c.id] = messages;
  const composerRef = { current: null as HTMLTextAreaElement | null };
  const again = () =>
    act(() => render(<ConversationPane ctrl={ctrl} conv={ctrl.state.conversations[c.id]} t={t} agentName={(id) => ctrl.agents.find((a) => a.id === id)?.name ?? id ?? '?'} composerRef={composerRef} />, root()));
  again();
  ctrl.subscribe(again);
  return ctrl;
}
const composer = () => tid('composer') as HTMLTextAreaElement;
/** Types `value` into the composer with the caret at its end (as the browser's input event does). */
function type(value: string) {
  const el = composer();
  act(() => {
    el.value = value;
    el.setSelectionRange(value.length, value.length);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
function key(k: string, extra: KeyboardEventInit = {}) {
  const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra });
  act(() => void composer().dispatchEvent(ev));
  return ev;
}

const page = (items: ConversationView[]) => ({ items, next_cursor: null });

describe('the tab the list opens on', () => {
  it('after a sign-in with nothing assigned: Unassigned (Mine read first, to decide)', async () => {
    const calls = stubFetch((c) => (c.url.includes('assignee=me') ? { body: page([]) } : c.url.includes('assignee=none') ? { body: page([conv('q1', { status: 'queued', assignee_id: null })]) } : null));
    const ctrl = controller();
    expect(ctrl.tab).toBe('mine');
    await ctrl.chooseTab();
    expect(ctrl.tab).toBe('unassigned');
    expect(said(calls)).toEqual([
      'GET /api/v1/conversations?assignee=me&status=assigned&limit=25',
      'GET /api/v1/conversations?assignee=none&status=queued&limit=25',
    ]);
    expect(ctrl.state.conversations.q1).toBeDefined();
    expect(sessionStorage.getItem('omnidesk.tab')).toBeNull(); // chosen, not picked: the next sign-in chooses again
  });

  it('Mine when it holds a conversation (one request)', async () => {
    const calls = stubFetch(() => ({ body: page([conv('m1')]) }));
    const ctrl = controller();
    await ctrl.chooseTab();
    expect(ctrl.tab).toBe('mine');
    expect(calls).toHaveLength(1);
  });

  it('a tab picked earlier in this session is kept, and picking one while choosing wins', async () => {
    sessionStorage.setItem('omnidesk.tab', 'all');
    expect(controller().tab).toBe('all');
    sessionStorage.clear();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    stubFetch((c) => (c.url.includes('assignee=me') ? null : { body: page([]) }));
    const ctrl = controller();
    vi.spyOn(ctrl.api, 'conversations').mockImplementationOnce(async () => {
      await gate;
      return page([]);
    });
    const choosing = ctrl.chooseTab();
    const picked = ctrl.selectTab('resolved');
    release();
    await choosing;
    await picked;
    expect(ctrl.tab).toBe('resolved');
  });

  it('until the agent picks a tab, it follows the work: a conversation assigned to me brings the list from Unassigned to Mine', async () => {
    stubFetch((c) => (c.url.includes('assignee=me') ? { body: page([]) } : { body: page([]) }));
    const ctrl = controller();
    await ctrl.chooseTab();
    expect(ctrl.tab).toBe('unassigned');
    onEvent(ctrl, { type: 'conversation.updated', conversation: conv('new1', { status: 'assigned', assignee_id: 'ag_me' }) });
    expect(ctrl.tab).toBe('mine');
    expect(sessionStorage.getItem('omnidesk.tab')).toBeNull();
  });

  it('a tab the agent picked stays put when work arrives', async () => {
    stubFetch(() => ({ body: page([]) }));
    const ctrl = controller();
    await ctrl.chooseTab();
    await ctrl.selectTab('unassigned');
    onEvent(ctrl, { type: 'conversation.updated', conversation: conv('new1', { status: 'assigned', assignee_id: 'ag_me' }) });
    expect(ctrl.tab).toBe('unassigned');
    expect(sessionStorage.getItem('omnidesk.tab')).toBe('unassigned');
  });

  it('a sign-in forgets the tab of the last session (the App clears it), an open conversation is kept', async () => {
    sessionStorage.setItem('omnidesk.open', 'cv_9');
    const ctrl = controller();
    expect(ctrl.openId).toBe('cv_9');
    expect(ctrl.tab).toBe('mine');
  });
});

describe('the bot a message came through', () => {
  const telegram = (bot: string) => msg('m1', 'cv_1', { channel_ref: { kind: 'telegram', bot_id: Number(bot), chat_id: 77, message_ids: [1] } });
  const BOTS = [{ id: '4242', username: 'shop_bot' }, { id: '5151' }];
  it('is named on Telegram messages when the deployment has several bots', () => {
    act(() => render(<ViaBot m={telegram('4242')} bots={BOTS} t={t} />, root()));
    expect(tid('via-bot')!.textContent).toBe('via @shop_bot');
    expect(tid('via-bot')!.getAttribute('data-bot')).toBe('4242');
    // A bot without a username: its id.
    act(() => render(<ViaBot m={telegram('5151')} bots={BOTS} t={t} />, root()));
    expect(tid('via-bot')!.textContent).toBe('via 5151');
  });
  it('is not shown with one bot, or on other channels', () => {
    act(() => render(<ViaBot m={telegram('4242')} bots={BOTS.slice(0, 1)} t={t} />, root()));
    expect(tid('via-bot')).toBeNull();
    act(() => render(<ViaBot m={msg('m2', 'cv_1', { channel: 'web', channel_ref: { kind: 'web', id: 'w1' } })} bots={BOTS} t={t} />, root()));
    expect(tid('via-bot')).toBeNull();
  });
});

describe('presence', () => {
  const status = () => tid('my-status') as HTMLSelectElement;
  it('shows Online once the server says so for me, and my choice while it stands', () => {
    const ctrl = controller({}, { ...ANN, status: 'offline' });
    const draw = () => act(() => render(<MyStatus ctrl={ctrl} t={t} />, root()));
    ctrl.subscribe(draw);
    draw();
    expect(status().value).toBe('offline');
    onEvent(ctrl, { type: 'presence', agent_id: 'ag_me', status: 'online' });
    expect(status().value).toBe('online');
    expect(status().getAttribute('data-chosen')).toBe('false');
    onEvent(ctrl, { type: 'presence', agent_id: 'ag_bob', status: 'offline' });
    expect(ctrl.agents.find((a) => a.id === 'ag_bob')!.status).toBe('offline');
    expect(status().value).toBe('online');
    ctrl.me = { ...ctrl.me, chosen_status: 'busy' };
    onEvent(ctrl, { type: 'presence', agent_id: 'ag_me', status: 'busy' });
    expect(status().value).toBe('busy');
    expect(status().getAttribute('data-chosen')).toBe('true');
    // Cleared elsewhere (another tab chose Online): the server says online, so no choice stands.
    onEvent(ctrl, { type: 'presence', agent_id: 'ag_me', status: 'online' });
    expect(status().value).toBe('online');
    expect(status().getAttribute('data-chosen')).toBe('false');
  });

  it('after connecting, me is read again: online, and no choice when the server sends none', async () => {
    stubFetch(() => ({ body: { ...ANN, status: 'online' } }));
    const ctrl = controller({}, { ...ANN, status: 'offline', chosen_status: 'busy' });
    await ctrl.refreshMe();
    expect(ctrl.me.status).toBe('online');
    expect(ctrl.me.chosen_status).toBeNull();
  });

  it('a read of me or the agents that began before a presence event does not undo it', async () => {
    // The login race: the connect's "online" push lands while GET /agents/me (read before it,
    // still "offline") is on its way; the push wins, the read's other fields are kept.
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    vi.stubGlobal('fetch', async (url: string) => {
      await gate;
      const stale = { ...ANN, name: 'Ann Renamed', status: 'offline' };
      const body = url.endsWith('/agents/me') ? stale : { items: [stale, { ...BOB, status: 'offline' }] };
      return new Response(JSON.stringify(body), { status: 200 });
    });
    const ctrl = controller({}, { ...ANN, status: 'offline' });
    const me = ctrl.refreshMe();
    const all = ctrl.loadAgents();
    onEvent(ctrl, { type: 'presence', agent_id: 'ag_me', status: 'online' });
    release();
    await Promise.all([me, all]);
    expect(ctrl.me.status).toBe('online');
    expect(ctrl.me.name).toBe('Ann Renamed');
    expect(ctrl.agents.find((a) => a.id === 'ag_me')!.status).toBe('online');
    // With no event in between, a read is taken as it is.
    await ctrl.loadAgents();
    expect(ctrl.agents.find((a) => a.id === 'ag_bob')!.status).toBe('offline');
  });

  it('choosing Online clears the choice on the server (PUT status online)', async () => {
    const calls = stubFetch((c) => ({ body: { ...ANN, status: (c.body as { status: string }).status } }));
    const ctrl = controller({}, { ...ANN, status: 'busy', chosen_status: 'busy' });
    await ctrl.setStatus('online');
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([['PUT', '/api/v1/agents/me/status', { status: 'online' }]]);
    expect(ctrl.me.chosen_status).toBeNull();
    expect(ctrl.me.status).toBe('online');
    await ctrl.setStatus('busy');
    expect(ctrl.me.chosen_status).toBe('busy');
  });
});

const CANNED: CannedResponse[] = [
  { shortcut: 'refund', text: 'Your refund is on its way, {customer_name}.' },
  { shortcut: 'thanks', text: 'Thanks for waiting, {customer_name}! {agent_name} here.' },
  { shortcut: 'thanks-bye', text: 'Thanks, bye.' },
];

describe('saved replies in the composer', () => {
  function setup(draft = '') {
    const calls = stubFetch((c) => (c.url === '/api/v1/canned' ? { body: CANNED } : null));
    if (draft) localStorage.setItem('omnidesk.draft.cv', draft);
    const ctrl = pane(conv('cv', { contact: { ...conv('cv').contact, display_name: 'Cora' } }));
    return { ctrl, calls };
  }

  it('/ opens the list, read from the server and filtered as the agent types', async () => {
    const { calls } = setup();
    type('/');
    await vi.waitFor(() => expect(tids('canned-option')).toHaveLength(3));
    expect(said(calls)).toEqual(['GET /api/v1/canned']);
    type('/tha');
    expect(tids('canned-option').map((o) => o.getAttribute('data-key'))).toEqual(['thanks', 'thanks-bye']);
    expect(tids('canned-option')[0].textContent).toBe('/thanksThanks for waiting, Cora! Ann Agent here.');
    expect(composer().getAttribute('aria-activedescendant')).toBe('picker-cv-0');
    type('/tha ');
    expect(tid('canned-picker')).toBeNull();
  });

  it('arrows move, Enter inserts with the placeholders filled in, and does not send', async () => {
    const { ctrl } = setup();
    const send = vi.spyOn(ctrl, 'send');
    type('/');
    await vi.waitFor(() => expect(tids('canned-option')).toHaveLength(3));
    type('/tha');
    key('ArrowDown');
    expect(tids('canned-option')[1].getAttribute('aria-selected')).toBe('true');
    key('ArrowDown');
    expect(tids('canned-option')[0].getAttribute('aria-selected')).toBe('true');
    const ev = key('Enter');
    expect(ev.defaultPrevented).toBe(true);
    expect(composer().value).toBe('Thanks for waiting, Cora! Ann Agent here.');
    expect(tid('canned-picker')).toBeNull();
    expect(send).not.toHaveBeenCalled();
    expect(localStorage.getItem('omnidesk.draft.cv')).toBe('Thanks for waiting, Cora! Ann Agent here.');
    key('Enter');
    expect(send).toHaveBeenCalledWith('cv', 'Thanks for waiting, Cora! Ann Agent here.', []);
  });

  it('Tab or a click inserts; after a space mid-text the rest is kept', async () => {
    setup();
    type('/');
    await vi.waitFor(() => expect(tids('canned-option')).toHaveLength(3));
    type('Hello. /ref');
    key('Tab');
    expect(composer().value).toBe('Hello. Your refund is on its way, Cora.');
    type('Hi /t');
    await click(tids('canned-option')[1]);
    expect(composer().value).toBe('Hi Thanks, bye.');
  });

  it('Esc closes the list and keeps the text and the focus; typing on opens it again', async () => {
    setup();
    type('/');
    await vi.waitFor(() => expect(tids('canned-option')).toHaveLength(3));
    composer().focus();
    const ev = key('Escape');
    expect(ev.defaultPrevented).toBe(true);
    expect(tid('canned-picker')).toBeNull();
    expect(composer().value).toBe('/');
    expect(document.activeElement).toBe(composer());
    type('/r');
    expect(tids('canned-option').map((o) => o.getAttribute('data-key'))).toEqual(['refund']);
  });

  it('nothing matching: says so, and Enter sends as usual', async () => {
    const { ctrl } = setup();
    const send = vi.spyOn(ctrl, 'send');
    type('/');
    await vi.waitFor(() => expect(tids('canned-option')).toHaveLength(3));
    type('/zzz');
    expect(tid('canned-empty')!.textContent).toBe('No canned response matches /zzz');
    key('Enter');
    expect(send).toHaveBeenCalledWith('cv', '/zzz', []);
  });

  it('a server without saved replies: / is plain text', async () => {
    stubFetch(() => null);
    const ctrl = pane(conv('cv'));
    type('/');
    await vi.waitFor(() => expect(ctrl.cannedMissing).toBe(true));
    expect(tid('canned-picker')).toBeNull();
  });

  it('the cache is read again when the list opens, at most every 10 s', async () => {
    const calls = stubFetch(() => ({ body: CANNED }));
    const ctrl = controller();
    await ctrl.loadCanned(false, 100_000);
    await ctrl.loadCanned(false, 105_000);
    await ctrl.loadCanned(false, 111_000);
    await ctrl.loadCanned(true, 111_001);
    expect(calls).toHaveLength(3);
  });
});

describe('private notes with @mentions', () => {
  const stored = (text: string): Message =>
    msg('n1', 'cv', { direction: 'outbound', author: { kind: 'agent', id: 'ag_me' }, internal: true, text, delivery: { status: 'sent', attempts: 0, updated_at: '2026-01-01T10:00:00Z' } });

  it('Note mode: @ offers the other agents, Enter inserts @localpart, Enter again posts the note (never the outbox)', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/conversations/cv/notes' ? { status: 201, body: { message: stored((c.body as { text: string }).text), mentioned: ['ag_bob'] } } : null));
    const ctrl = pane(conv('cv'));
    await click(tid('mode-note'));
    expect(tid('mode-note')!.getAttribute('aria-pressed')).toBe('true');
    expect(composer().getAttribute('data-mode')).toBe('note');
    expect(composer().placeholder).toContain('Private note');
    expect(tid('note-hint')!.textContent).toBe('Private note: never sent to the customer');
    expect(tid('send')!.textContent).toBe('Add note');
    type('Please check @');
    expect(tids('mention-option').map((o) => o.textContent)).toEqual(['@bobBob Agent', '@wei.liLi Wei']);
    type('Please check @b');
    key('Enter');
    expect(composer().value).toBe('Please check @bob ');
    type('Please check @bob the refund');
    expect(tid('will-notify')!.textContent).toBe(' · Notifies Bob Agent');
    key('Enter');
    await vi.waitFor(() => expect(tid('note-status')?.textContent).toBe('Note added · Bob Agent notified'));
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([['POST', '/api/v1/conversations/cv/notes', { text: 'Please check @bob the refund' }]]);
    expect(ctrl.outbox.all()).toEqual([]);
    expect(composer().value).toBe('');
    const note = $('[data-testid="message"][data-note="private"]')!;
    expect(note.querySelector('[data-testid="internal-note"]')!.textContent!.trim()).toBe('Private note');
    expect(note.querySelector('mark.mention')!.textContent).toBe('@bob');
  });

  it('the note has its own draft; Reply keeps the reply draft', async () => {
    stubFetch(() => null);
    localStorage.setItem('omnidesk.draft.cv', 'to the customer');
    pane(conv('cv'));
    await click(tid('mode-note'));
    expect(composer().value).toBe('');
    type('internal');
    expect(localStorage.getItem('omnidesk.draft.note.cv')).toBe('internal');
    await click(tid('mode-reply'));
    expect(composer().value).toBe('to the customer');
  });

  it('a failed note keeps the text and says why', async () => {
    stubFetch(() => ({ status: 403, body: { error: { code: 'forbidden', message: 'not allowed' } } }));
    pane(conv('cv'));
    await click(tid('mode-note'));
    type('secret');
    key('Enter');
    await vi.waitFor(() => expect(tid('note-status')?.textContent).toBe('Could not add the note: not allowed'));
    expect(composer().value).toBe('secret');
  });

  it('a note can be added to a resolved conversation; a reply cannot', async () => {
    stubFetch(() => null);
    pane(conv('cv', { status: 'resolved' }));
    expect(composer().disabled).toBe(true);
    await click(tid('mode-note'));
    expect(composer().disabled).toBe(false);
  });

  it("in the timeline a private note is never a reply: its own look, author, no delivery state", () => {
    pane(conv('cv'), [stored('@bob can you look? @nobody'), msg('r1', 'cv', { direction: 'outbound', author: { kind: 'agent', id: 'ag_me' }, text: 'A reply', delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:00:00Z' }, created_at: '2026-01-01T10:01:00Z' })]);
    const [note, reply] = tids('message');
    expect(note.classList.contains('private-note')).toBe(true);
    expect(note.getAttribute('data-internal')).toBe('true');
    expect(note.querySelector('.author')!.textContent).toBe('Ann Agent');
    expect(note.querySelector('[data-testid="delivery"]')).toBeNull();
    expect(note.querySelectorAll('mark.mention')).toHaveLength(1);
    expect(note.querySelector('[data-testid="message-text"]')!.textContent).toBe('@bob can you look? @nobody');
    expect(reply.classList.contains('private-note')).toBe(false);
    expect(reply.querySelector('[data-testid="internal-note"]')).toBeNull();
  });
});

const notice = (id: string, patch: Partial<AgentNotification> = {}): AgentNotification => ({
  id, kind: 'mention', conversation_id: 'cv', message_id: 'n1', by: 'ag_ann', by_name: 'Anna', text: '@bob please check', at: '2026-01-01T10:00:00Z', ...patch,
});

describe('notifications', () => {
  function mount(ctrl: Controller) {
    const draw = () => act(() => render(<><Bell ctrl={ctrl} t={t} /><Toasts ctrl={ctrl} t={t} /></>, root()));
    ctrl.subscribe(draw);
    draw();
  }

  it('a mention shows a toast and counts on the bell; the desktop hook gets it with the contact', async () => {
    stubFetch(() => null);
    const hook = vi.fn();
    const ctrl = controller({ onNotification: hook }, BOB);
    ctrl.state.conversations.cv = conv('cv', { contact: { ...conv('cv').contact, display_name: 'Cora' } });
    mount(ctrl);
    onEvent(ctrl, { type: 'notification', notification: notice('x1') });
    await vi.waitFor(() => expect(hook).toHaveBeenCalledTimes(1));
    expect(hook.mock.calls[0][1]).toBe('Cora');
    expect(tid('toast')!.textContent).toContain('Anna mentioned you in Cora');
    expect(tid('bell-count')!.textContent).toBe('1');
    expect(tid('bell')!.getAttribute('aria-label')).toBe('Notifications: 1 unread');
    onEvent(ctrl, { type: 'notification', notification: notice('x1') }); // delivered twice
    expect(tids('toast')).toHaveLength(1);
    expect(tid('bell-count')!.textContent).toBe('1');
    expect(JSON.parse(localStorage.getItem('omnidesk.notifications.ag_bob')!)).toHaveLength(1);
  });

  it('a click on the toast opens the conversation and marks it read', async () => {
    stubFetch(() => null);
    const ctrl = controller({}, BOB);
    ctrl.state.conversations.cv = conv('cv');
    const open = vi.spyOn(ctrl, 'open').mockResolvedValue();
    ctrl.showView('reports');
    mount(ctrl);
    onEvent(ctrl, { type: 'notification', notification: notice('x1') });
    await click($('[data-testid="toast"] .toast-open'));
    expect(open).toHaveBeenCalledWith('cv');
    expect(ctrl.view).toBe('conversations');
    expect(tid('toast')).toBeNull();
    expect(tid('bell-count')).toBeNull();
  });

  it('the bell lists them; one opens its conversation; Mark all read', async () => {
    stubFetch(() => null);
    const ctrl = controller({}, BOB);
    ctrl.state.conversations.cv = conv('cv');
    ctrl.state.conversations.cv2 = conv('cv2', { contact: { ...conv('cv2').contact, display_name: 'Dan' } });
    const open = vi.spyOn(ctrl, 'open').mockResolvedValue();
    mount(ctrl);
    onEvent(ctrl, { type: 'notification', notification: notice('x1') });
    onEvent(ctrl, { type: 'notification', notification: notice('x2', { conversation_id: 'cv2', by_name: 'Li' }) });
    expect(tid('bell-count')!.textContent).toBe('2');
    await click(tid('bell'));
    expect(tids('notification').map((n) => n.querySelector('.notif-title')!.textContent)).toEqual(['Li mentioned you in Dan', 'Anna mentioned you in Contact cv']);
    await click(tids('notification')[1].querySelector('button'));
    expect(open).toHaveBeenCalledWith('cv');
    expect(tid('bell-count')!.textContent).toBe('1');
    await click(tid('bell'));
    await click(tid('bell-read-all'));
    expect(tid('bell-count')).toBeNull();
  });

  it('a conversation not held is read to name it', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/conversations/cv9' ? { body: conv('cv9', { contact: { ...conv('cv9').contact, display_name: 'Eve' } }) } : null));
    const hook = vi.fn();
    const ctrl = controller({ onNotification: hook }, BOB);
    mount(ctrl);
    onEvent(ctrl, { type: 'notification', notification: notice('x3', { conversation_id: 'cv9' }) });
    await vi.waitFor(() => expect(hook).toHaveBeenCalled());
    expect(said(calls)).toEqual(['GET /api/v1/conversations/cv9']);
    expect(hook.mock.calls[0][1]).toBe('Eve');
    expect(tid('toast')!.textContent).toContain('Anna mentioned you in Eve');
  });

  it('opening the conversation marks its notifications read; toasts go after 10 s', async () => {
    vi.useFakeTimers();
    try {
      stubFetch(() => null);
      const ctrl = controller({}, BOB);
      ctrl.state.conversations.cv = conv('cv');
      onEvent(ctrl, { type: 'notification', notification: notice('x1') });
      expect(ctrl.toasts).toHaveLength(1);
      vi.advanceTimersByTime(9000);
      expect(ctrl.toasts).toHaveLength(1);
      vi.advanceTimersByTime(1001);
      expect(ctrl.toasts).toHaveLength(0);
      expect(ctrl.notifications[0].read).toBe(false);
      void ctrl.open('cv');
      expect(ctrl.notifications[0].read).toBe(true);
      ctrl.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('labels, priority, snooze, read, rating, team', () => {
  function tools(c: ConversationView, answer: (call: Call) => Partial<ConversationView> = () => ({})) {
    const calls = stubFetch((call) => ({ body: { ...c, ...answer(call), version: c.version + 1 } }));
    const ctrl = controller();
    ctrl.state.conversations[c.id] = c;
    const draw = () => act(() => render(<ConversationTools ctrl={ctrl} conv={ctrl.state.conversations[c.id]} t={t} />, root()));
    ctrl.subscribe(draw);
    draw();
    return { calls, ctrl };
  }

  it('labels: chips, add (lowercased) and remove with PUT labels', async () => {
    const { calls } = tools(conv('cv', { labels: ['bug'] }), (c) => ({ labels: (c.body as { labels: string[] }).labels }));
    expect(tids('label').map((l) => l.getAttribute('data-label'))).toEqual(['bug']);
    const input = tid('label-input') as HTMLInputElement;
    act(() => {
      input.value = 'Refund';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => void input.form!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })));
    await vi.waitFor(() => expect(tids('label')).toHaveLength(2));
    await click($('[data-label="bug"] button'));
    await vi.waitFor(() => expect(tids('label').map((l) => l.getAttribute('data-label'))).toEqual(['refund']));
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['PUT', '/api/v1/conversations/cv/labels', { labels: ['bug', 'refund'] }],
      ['PUT', '/api/v1/conversations/cv/labels', { labels: ['refund'] }],
    ]);
    expect($('[data-label="refund"] button')!.getAttribute('aria-label')).toBe('Remove label refund');
  });

  it('a bad label is refused before any request', async () => {
    const { calls } = tools(conv('cv'));
    const input = tid('label-input') as HTMLInputElement;
    act(() => {
      input.value = 'two words';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => void input.form!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })));
    expect(tid('label-error')!.textContent).toBe('A label is 1–32 letters, digits, -, _ or :');
    expect(calls).toEqual([]);
  });

  it('priority: PUT priority', async () => {
    const { calls } = tools(conv('cv'), (c) => ({ priority: (c.body as { priority: 'urgent' }).priority }));
    const select = tid('priority') as HTMLSelectElement;
    expect(select.value).toBe('normal');
    act(() => {
      select.value = 'urgent';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await vi.waitFor(() => expect((tid('priority') as HTMLSelectElement).value).toBe('urgent'));
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([['PUT', '/api/v1/conversations/cv/priority', { priority: 'urgent' }]]);
  });

  it('snooze for an hour (POST snooze, milliseconds); then "Snoozed until …" and Unsnooze (DELETE)', async () => {
    const before = Date.now();
    const { calls } = tools(conv('cv'), (c) => ({ snoozed_until: c.method === 'POST' ? new Date((c.body as { until: number }).until).toISOString() : null }));
    await click(tid('snooze'));
    expect(tid('snooze')!.getAttribute('aria-expanded')).toBe('true');
    expect(document.activeElement).toBe(tid('snooze-hour'));
    await click(tid('snooze-hour'));
    await vi.waitFor(() => expect(tid('snoozed')).not.toBeNull());
    const until = (calls[0].body as { until: number }).until;
    expect(calls[0].method + ' ' + calls[0].url).toBe('POST /api/v1/conversations/cv/snooze');
    expect(until - before).toBeGreaterThanOrEqual(3600_000 - 5);
    expect(until - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(tid('snoozed')!.textContent).toContain('Snoozed until');
    expect(tid('snooze')).toBeNull();
    await click(tid('unsnooze'));
    await vi.waitFor(() => expect(tid('snoozed')).toBeNull());
    expect(calls[1].method + ' ' + calls[1].url).toBe('DELETE /api/v1/conversations/cv/snooze');
  });

  it('the snooze menu: Esc closes it (focus back on the button); a past custom time is refused', async () => {
    const { calls } = tools(conv('cv'));
    await click(tid('snooze'));
    act(() => void tid('snooze-menu')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(tid('snooze-menu')).toBeNull();
    expect(document.activeElement).toBe(tid('snooze'));
    await click(tid('snooze'));
    const input = tid('snooze-custom-input') as HTMLInputElement;
    act(() => {
      input.value = '2001-01-01T09:00';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await click(tid('snooze-custom'));
    expect(tid('snooze-error')!.textContent).toBe('That time has passed');
    expect(calls).toEqual([]);
  });

  it('Mark as read (POST read) shows while there is something unread', async () => {
    const { calls } = tools(conv('cv', { unread_count: 3 }), () => ({ unread_count: 0 }));
    await click(tid('mark-read'));
    await vi.waitFor(() => expect(tid('mark-read')).toBeNull());
    expect(said(calls)).toEqual(['POST /api/v1/conversations/cv/read']);
  });

  it("the customer's rating: stars and comment; team and needed skill", () => {
    tools(conv('cv', { status: 'resolved', csat: { score: 4, comment: 'Quick and kind', at: '2026-01-01T11:00:00Z' }, team: 'billing', skill: 'ru' }));
    expect(tid('csat')!.getAttribute('data-score')).toBe('4');
    expect($('[data-testid="csat"] .stars')!.textContent).toBe('★★★★☆');
    expect($('[data-testid="csat"] .stars')!.getAttribute('aria-label')).toBe('Customer rating: Rated 4 of 5');
    expect(tid('csat-comment')!.textContent).toBe('Quick and kind');
    expect(tid('team-info')!.textContent).toBe('Team billing · needs ru');
    expect(tid('snooze')).toBeNull(); // resolved: nothing to snooze
  });

  it('nothing set: no rating, no team line', () => {
    tools(conv('cv'));
    expect(tid('csat')).toBeNull();
    expect(tid('team-info')).toBeNull();
    expect(tid('mark-read')).toBeNull();
  });

  it('the pane shows the row under its header', () => {
    stubFetch(() => null);
    pane(conv('cv', { team: 'vip' }));
    expect(tid('team-info')!.textContent).toBe('Team vip');
  });

  it('the list: priority badge for high and urgent, two labels and +N, snoozed mark; order unchanged', () => {
    const ctrl = controller();
    const now = Date.parse('2026-01-01T10:00:00Z');
    const list = [
      conv('a', { priority: 'urgent', labels: ['refund', 'bug', 'vip'] }),
      conv('b', { priority: 'low', snoozed_until: '2026-01-02T09:00:00Z' }),
      conv('c', { priority: 'high' }),
    ];
    act(() => render(<ConversationList ctrl={ctrl} list={list} t={t} now={now} />, root()));
    const [a, b, c] = tids('conversation-item');
    expect(tids('conversation-item').map((x) => x.getAttribute('data-id'))).toEqual(['a', 'b', 'c']);
    expect(a.querySelector('[data-testid="priority-badge"]')!.textContent).toBe('Urgent');
    expect(Array.from(a.querySelectorAll('[data-testid="list-label"]')).map((x) => x.textContent)).toEqual(['refund', 'bug']);
    expect(a.querySelector('.more')!.textContent).toBe('+1');
    expect(b.querySelector('[data-testid="priority-badge"]')).toBeNull();
    expect(b.querySelector('[data-testid="list-snoozed"]')).not.toBeNull();
    expect(c.querySelector('[data-testid="priority-badge"]')!.getAttribute('data-priority')).toBe('high');
  });
});

const row = (key: string, label: string, patch: Partial<ReportSummary['totals']> = {}) => ({
  key, label, conversations: 10, resolved: 8, first_response_avg_secs: 252, first_response_p50_secs: 60, resolution_avg_secs: 3900, resolution_p50_secs: null, csat_avg: 4.5, csat_count: 4, ...patch,
});
const SUMMARY: ReportSummary = { from: 0, to: 1, group_by: 'agent', totals: row('total', 'Total', { conversations: 12 }), groups: [row('ag_me', 'Ann Agent'), row('ag_bob', 'Bob Agent', { conversations: 2, csat_avg: null, csat_count: 0 })] };

describe('reports', () => {
  const now = () => new Date(Date.UTC(2026, 2, 4, 12));
  it('the last 7 days by agent: a row per group, human durations, a totals row', async () => {
    const calls = stubFetch(() => ({ body: SUMMARY }));
    const ctrl = controller();
    act(() => render(<Reports ctrl={ctrl} t={t} now={now} />, root()));
    await vi.waitFor(() => expect(tids('report-row')).toHaveLength(2));
    expect(said(calls)).toEqual(['GET /api/v1/reports/summary?from=2026-02-26&to=2026-03-04&group_by=agent']);
    expect((tid('report-from') as HTMLInputElement).value).toBe('2026-02-26');
    const [ann, bob] = tids('report-row');
    const cell = (r: HTMLElement, col: string) => r.querySelector(`[data-col="${col}"]`)!.textContent;
    expect(ann.querySelector('th')!.textContent).toBe('Ann Agent');
    expect(cell(ann, 'first_response_avg')).toBe('4m 12s');
    expect(cell(ann, 'first_response_p50')).toBe('1m');
    expect(cell(ann, 'resolution_avg')).toBe('1h 5m');
    expect(cell(ann, 'resolution_p50')).toBe('—');
    expect(cell(ann, 'csat_avg')).toBe('4.5');
    expect(cell(bob, 'csat_avg')).toBe('—');
    expect(cell(tid('report-total')!, 'conversations')).toBe('12');
    expect(tid('report-total')!.querySelector('th')!.textContent).toBe('Total');
  });

  it('by rollout bucket with its percent', async () => {
    const calls = stubFetch(() => ({ body: { ...SUMMARY, group_by: 'bucket', groups: [row('in', 'in'), row('out', 'out')] } }));
    act(() => render(<Reports ctrl={controller()} t={t} now={now} />, root()));
    await vi.waitFor(() => expect(tids('report-row')).toHaveLength(2));
    const group = tid('report-group') as HTMLSelectElement;
    act(() => {
      group.value = 'bucket';
      group.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const rollout = tid('report-rollout') as HTMLInputElement;
    act(() => {
      rollout.value = '25';
      rollout.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await click(tid('report-show'));
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].url).toBe('/api/v1/reports/summary?from=2026-02-26&to=2026-03-04&group_by=bucket&rollout=25');
  });

  it('Download CSV: fetched with the bearer token (never in the URL) and saved through a blob URL', async () => {
    const csv = 'key,label\ntotal,Total\n';
    const calls = stubFetch((c) =>
      c.url.includes('format=csv')
        ? { raw: new Response(csv, { headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="report-2026-02-26-2026-03-04-agent.csv"' } }) }
        : { body: SUMMARY },
    );
    const created: Blob[] = [];
    const createObjectURL = vi.fn((b: Blob) => (created.push(b), 'blob:report'));
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const clicked: { href: string; download: string }[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.href, download: this.download });
    });
    act(() => render(<Reports ctrl={controller()} t={t} now={now} />, root()));
    await vi.waitFor(() => expect(tids('report-row')).toHaveLength(2));
    await click(tid('report-csv'));
    await vi.waitFor(() => expect(clicked).toHaveLength(1));
    const get = calls.find((c) => c.url.includes('format=csv'))!;
    expect(get.url).toBe('/api/v1/reports/summary?from=2026-02-26&to=2026-03-04&group_by=agent&format=csv');
    expect(get.url).not.toContain('tok');
    expect(get.headers.Authorization).toBe('Bearer tok');
    expect(clicked[0]).toEqual({ href: 'blob:report', download: 'report-2026-02-26-2026-03-04-agent.csv' });
    expect(await created[0].text()).toBe(csv);
  });

  it('a reversed range is refused before asking; a failure is said', async () => {
    stubFetch(() => ({ status: 400, body: { error: { code: 'invalid_range', message: 'from is after to' } } }));
    act(() => render(<Reports ctrl={controller()} t={t} now={now} />, root()));
    await vi.waitFor(() => expect(tid('report-error')!.textContent).toBe('Could not load the report: from is after to'));
    const from = tid('report-from') as HTMLInputElement;
    act(() => {
      from.value = '2026-03-09';
      from.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(tid('report-problem')!.textContent).toBe('Pick a valid range (from is not after to)');
    expect((tid('report-show') as HTMLButtonElement).disabled).toBe(true);
    expect((tid('report-csv') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('managing saved replies', () => {
  function mount(answer: (c: Call) => Answer = () => null) {
    let list = [...CANNED];
    const calls = stubFetch((c) => {
      const a = answer(c);
      if (a) return a;
      if (c.method === 'GET') return { body: list };
      const name = decodeURIComponent(c.url.split('/').pop()!);
      if (c.method === 'PUT') return { body: { shortcut: name, text: (c.body as { text: string }).text, updated_by: 'ag_me' } };
      list = list.filter((x) => x.shortcut !== name);
      return { status: 204 };
    });
    const ctrl = controller();
    const draw = () => act(() => render(<CannedManager ctrl={ctrl} t={t} />, root()));
    ctrl.subscribe(draw);
    draw();
    return { calls, ctrl };
  }
  const fill = (id: string, value: string) =>
    act(() => {
      const el = tid(id) as HTMLInputElement;
      el.value = value;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });

  it('lists them (read again on opening), adds one', async () => {
    const { calls } = mount();
    await vi.waitFor(() => expect(tids('canned-entry')).toHaveLength(3));
    await click(tid('canned-add'));
    fill('canned-shortcut', '/Hello');
    fill('canned-text', 'Hi {customer_name}!');
    await click(tid('canned-save'));
    await vi.waitFor(() => expect(tid('canned-form')).toBeNull());
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['GET', '/api/v1/canned', undefined],
      ['PUT', '/api/v1/canned/hello', { text: 'Hi {customer_name}!' }],
    ]);
    expect(tids('canned-entry').map((e) => e.getAttribute('data-shortcut'))).toEqual(['hello', 'refund', 'thanks', 'thanks-bye']);
    expect($('[data-shortcut="hello"]')!.textContent).toContain('updated by Ann Agent');
  });

  it('edits one; a renamed shortcut is saved anew and the old one deleted', async () => {
    const { calls } = mount();
    await vi.waitFor(() => expect(tids('canned-entry')).toHaveLength(3));
    await click($('[data-shortcut="refund"] [data-testid="canned-edit"]'));
    expect((tid('canned-text') as HTMLTextAreaElement).value).toBe(CANNED[0].text);
    fill('canned-shortcut', 'refund-sent');
    await click(tid('canned-save'));
    await vi.waitFor(() => expect(tid('canned-form')).toBeNull());
    expect(said(calls).slice(1)).toEqual(['PUT /api/v1/canned/refund-sent', 'DELETE /api/v1/canned/refund']);
    expect(tids('canned-entry').map((e) => e.getAttribute('data-shortcut'))).toEqual(['refund-sent', 'thanks', 'thanks-bye']);
  });

  it('deletes after a confirmation', async () => {
    const { calls } = mount();
    await vi.waitFor(() => expect(tids('canned-entry')).toHaveLength(3));
    await click($('[data-shortcut="thanks"] [data-testid="canned-delete"]'));
    expect(said(calls)).toEqual(['GET /api/v1/canned']);
    await click(tid('canned-delete-confirm'));
    await vi.waitFor(() => expect(tids('canned-entry')).toHaveLength(2));
    expect(said(calls)[1]).toBe('DELETE /api/v1/canned/thanks');
  });

  it("checks before saving, and shows the server's refusal", async () => {
    const { calls } = mount((c) => (c.method === 'PUT' ? { status: 400, body: { error: { code: 'invalid_text', message: 'text is too long' } } } : null));
    await vi.waitFor(() => expect(tids('canned-entry')).toHaveLength(3));
    await click(tid('canned-add'));
    fill('canned-shortcut', 'a b');
    await click(tid('canned-save'));
    expect(tids('canned-problems')[0].textContent).toContain('Shortcut: 1–32 of a–z, 0–9, _ and -');
    expect(tids('canned-problems')[0].textContent).toContain('The text is empty');
    expect(calls).toHaveLength(1);
    fill('canned-shortcut', 'ok');
    fill('canned-text', 'fine');
    await click(tid('canned-save'));
    await vi.waitFor(() => expect(tid('canned-error')!.textContent).toBe('Could not save: text is too long'));
  });
});
