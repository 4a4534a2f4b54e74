// The rules behind the agent tools: opening tab, presence, `/` and `@` pickers, saved replies,
// mentions, notifications, labels / snooze / rating, and the reports' formatting.
import { describe, expect, it } from 'vitest';
import { cannedProblems, fillPlaceholders, filterCanned, normalShortcut, upsertCanned } from '../src/canned';
import { matchAgents, mentionHandle, mentionSegments, mentionWords, mentionedAgents } from '../src/mentions';
import { addNotification, loadNotifications, markRead, parseNotification, saveNotifications, unreadCount } from '../src/notifications';
import { insertAt, pickerKey, triggerAt } from '../src/picker';
import { defaultRange, formatCsat, formatDuration, reportFileName, reportProblem, reportQuery } from '../src/reports';
import { effectiveStatus, openingTab } from '../src/state';
import { addLabel, customSnooze, isPressing, labelsOf, localInputValue, priorityOf, snoozePresets, snoozedUntil, stars, toMs } from '../src/triage';
import type { Agent, AgentNotification, CannedResponse } from '../src/types';
import { MemoryStorage } from './fixtures';

describe('the tab the list opens on', () => {
  it('Mine when the agent has any assigned conversation, else Unassigned', () => {
    expect(openingTab(null, true)).toBe('mine');
    expect(openingTab(null, false)).toBe('unassigned');
  });
  it('a tab picked in this session stays; anything else is ignored', () => {
    expect(openingTab('all', false)).toBe('all');
    expect(openingTab('mine', false)).toBe('mine');
    expect(openingTab('bogus', true)).toBe('mine');
    expect(openingTab('', false)).toBe('unassigned');
  });
});

describe('effective status', () => {
  it('a chosen busy or offline wins; otherwise the server status (online while connected)', () => {
    expect(effectiveStatus({ status: 'online', chosen_status: 'busy' })).toBe('busy');
    expect(effectiveStatus({ status: 'online', chosen_status: 'offline' })).toBe('offline');
    expect(effectiveStatus({ status: 'online', chosen_status: null })).toBe('online');
    expect(effectiveStatus({ status: 'offline' })).toBe('offline');
    expect(effectiveStatus({ status: 'online', chosen_status: 'online' })).toBe('online');
  });
});

describe('the / and @ triggers', () => {
  it('/ at the start or after whitespace, with the word typed after it', () => {
    expect(triggerAt('/', 1, '/')).toEqual({ start: 0, end: 1, query: '' });
    expect(triggerAt('/tha', 4, '/')).toEqual({ start: 0, end: 4, query: 'tha' });
    expect(triggerAt('Hi /ref', 7, '/')).toEqual({ start: 3, end: 7, query: 'ref' });
    expect(triggerAt('Hi\n/ref', 7, '/')).toEqual({ start: 3, end: 7, query: 'ref' });
  });
  it('not inside a word, a URL or a path, nor after a space following the word', () => {
    expect(triggerAt('and/or', 6, '/')).toBeNull();
    expect(triggerAt('http://x', 8, '/')).toBeNull();
    expect(triggerAt('/thanks ', 8, '/')).toBeNull();
    expect(triggerAt('/a/b', 4, '/')).toBeNull();
    expect(triggerAt('', 0, '/')).toBeNull();
  });
  it('the caret decides: text after it does not count', () => {
    expect(triggerAt('/re more', 3, '/')).toEqual({ start: 0, end: 3, query: 're' });
  });
  it('@ with letters of any script, dots and dashes; not in an e-mail address', () => {
    expect(triggerAt('ping @bo', 8, '@')).toEqual({ start: 5, end: 8, query: 'bo' });
    expect(triggerAt('@анна', 5, '@')).toEqual({ start: 0, end: 5, query: 'анна' });
    expect(triggerAt('mail bob@x', 10, '@')).toBeNull();
  });
  it('a pick replaces the trigger and moves the caret after it; a mention gets a space', () => {
    expect(insertAt('Hi /tha!', { start: 3, end: 7, query: 'tha' }, 'Thanks')).toEqual({ value: 'Hi Thanks!', caret: 9 });
    expect(insertAt('cc @b', { start: 3, end: 5, query: 'b' }, '@bob', true)).toEqual({ value: 'cc @bob ', caret: 8 });
    expect(insertAt('cc @b please', { start: 3, end: 5, query: 'b' }, '@bob', true)).toEqual({ value: 'cc @bob please', caret: 7 });
  });
});

describe('picker keys', () => {
  it('arrows move around the list, Enter and Tab pick, Esc closes', () => {
    expect(pickerKey('ArrowDown', 0, 3)).toEqual({ kind: 'move', index: 1 });
    expect(pickerKey('ArrowDown', 2, 3)).toEqual({ kind: 'move', index: 0 });
    expect(pickerKey('ArrowUp', 0, 3)).toEqual({ kind: 'move', index: 2 });
    expect(pickerKey('Enter', 1, 3)).toEqual({ kind: 'pick', index: 1 });
    expect(pickerKey('Tab', 5, 3)).toEqual({ kind: 'pick', index: 2 });
    expect(pickerKey('Escape', 0, 3)).toEqual({ kind: 'close' });
    expect(pickerKey('a', 0, 3)).toBeNull();
  });
  it('with nothing matching, Enter is the composer\'s (it sends) and Esc still closes', () => {
    expect(pickerKey('Enter', 0, 0)).toBeNull();
    expect(pickerKey('ArrowDown', 0, 0)).toBeNull();
    expect(pickerKey('Escape', 0, 0)).toEqual({ kind: 'close' });
  });
});

const canned = (shortcut: string, text: string): CannedResponse => ({ shortcut, text, updated_at: '2026-01-01T00:00:00Z' });
const CANNED = [canned('refund', 'Your refund is on its way, {customer_name}.'), canned('thanks', 'Thanks, {customer_name}! — {agent_name}'), canned('hours', 'We answer 9–18. Thanks for waiting.'), canned('sorry-thanks', 'Sorry!')];

describe('saved replies', () => {
  it('filter: shortcut prefix first, then shortcut containing it, then the text', () => {
    expect(filterCanned(CANNED, 'tha').map((c) => c.shortcut)).toEqual(['thanks', 'sorry-thanks', 'hours']);
    expect(filterCanned(CANNED, 'REF').map((c) => c.shortcut)).toEqual(['refund']);
    expect(filterCanned(CANNED, '').map((c) => c.shortcut)).toEqual(['hours', 'refund', 'sorry-thanks', 'thanks']);
    expect(filterCanned(CANNED, 'zzz')).toEqual([]);
    expect(filterCanned(CANNED, 'w').map((c) => c.shortcut)).toEqual([]); // one letter: shortcuts only
    expect(filterCanned(CANNED, '', 2)).toHaveLength(2);
  });
  it('placeholders filled in everywhere, in one pass; other braces kept', () => {
    const vars = { customer_name: 'Cora {agent_name}', agent_name: 'Ann Agent' };
    expect(fillPlaceholders('Hi {customer_name}, {agent_name} here. {customer_name}? {order}', vars)).toBe('Hi Cora {agent_name}, Ann Agent here. Cora {agent_name}? {order}');
  });
  it('checks as the API does: shortcut 1–32 of a-z0-9_- (lowercased, a leading / dropped), text 1–4000', () => {
    expect(cannedProblems('Thanks', 'x')).toEqual([]);
    expect(cannedProblems('/thanks', 'x')).toEqual([]);
    expect(normalShortcut(' /Thanks ')).toBe('thanks');
    expect(cannedProblems('a b', 'x')).toEqual(['canned_badShortcut']);
    expect(cannedProblems('x'.repeat(33), ' ')).toEqual(['canned_badShortcut', 'canned_needText']);
    expect(cannedProblems('ok', 'y'.repeat(4001))).toEqual(['canned_longText']);
  });
  it('a saved one replaces its namesake and the list stays ordered', () => {
    expect(upsertCanned(CANNED, canned('apology', 'x')).map((c) => c.shortcut)).toEqual(['apology', 'hours', 'refund', 'sorry-thanks', 'thanks']);
    expect(upsertCanned(CANNED, canned('thanks', 'new')).find((c) => c.shortcut === 'thanks')!.text).toBe('new');
  });
});

const agent = (id: string, name: string, email: string): Agent => ({ id, name, email, status: 'online' });
const AGENTS = [agent('ag_ann', 'Ann Agent', 'ann@example.com'), agent('ag_bob', 'Bob Agent', 'bob@example.com'), agent('ag_li', 'Li Wei', 'wei.li@example.com')];

describe('mentions', () => {
  it('the handle is the e-mail local part', () => {
    expect(mentionHandle(AGENTS[2])).toBe('wei.li');
  });
  it('agents for @query by handle or a word of the name, without the author', () => {
    expect(matchAgents(AGENTS, 'b', 'ag_ann').map((a) => a.id)).toEqual(['ag_bob']);
    expect(matchAgents(AGENTS, 'li', 'ag_ann').map((a) => a.id)).toEqual(['ag_li']);
    expect(matchAgents(AGENTS, 'AG', null).map((a) => a.id)).toEqual(['ag_ann', 'ag_bob']);
    expect(matchAgents(AGENTS, '', 'ag_ann').map((a) => a.id)).toEqual(['ag_bob', 'ag_li']);
  });
  it('parses @words as the server does: local part or first name, any case, trailing dot dropped', () => {
    expect(mentionWords('@Bob please, cc @wei.li. and @bob again; mail bob@example.com')).toEqual(['bob', 'wei.li']);
    expect(mentionedAgents('@BOB and @Li and @nobody', AGENTS).map((a) => a.id)).toEqual(['ag_bob', 'ag_li']);
    expect(mentionedAgents('@ann', AGENTS).map((a) => a.id)).toEqual(['ag_ann']);
  });
  it('segments mark only known agents', () => {
    expect(mentionSegments('Hi @bob, see @nobody.', AGENTS)).toEqual([
      { text: 'Hi ', mention: false },
      { text: '@bob', mention: true },
      { text: ', see @nobody.', mention: false },
    ]);
  });
});

const notice = (id: string, patch: Partial<AgentNotification> = {}): AgentNotification => ({
  id, kind: 'mention', conversation_id: 'cv_1', message_id: 'm1', by: 'ag_ann', by_name: 'Anna', text: '@bob look', at: '2026-01-01T10:00:00Z', ...patch,
});

describe('notifications', () => {
  it('parses the event payload, refusing what is not one', () => {
    expect(parseNotification(notice('n1'))).toEqual(notice('n1'));
    expect(parseNotification({ id: 'n1' })).toBeNull();
    expect(parseNotification(null)).toBeNull();
    expect(parseNotification({ id: 'n2', conversation_id: 'cv', by: 'ag_x', at: 5 })).toMatchObject({ by_name: 'ag_x', text: '', kind: 'mention', at: 5 });
  });
  it('newest first, never twice, unread until read', () => {
    let list = addNotification([], notice('n1'));
    list = addNotification(list, notice('n2', { conversation_id: 'cv_2' }));
    const same = addNotification(list, notice('n1'));
    expect(same).toBe(list);
    expect(list.map((n) => n.id)).toEqual(['n2', 'n1']);
    expect(unreadCount(list)).toBe(2);
    list = markRead(list, { conversationId: 'cv_2' });
    expect(unreadCount(list)).toBe(1);
    expect(markRead(list, { id: 'n2' })).toBe(list); // already read: unchanged
    expect(unreadCount(markRead(list))).toBe(0);
  });
  it('kept per agent in storage; garbage reads as none', () => {
    const s = new MemoryStorage();
    saveNotifications(s, 'ag_bob', markRead(addNotification([], notice('n1')), { id: 'n1' }));
    expect(loadNotifications(s, 'ag_bob')).toEqual([{ ...notice('n1'), read: true }]);
    expect(loadNotifications(s, 'ag_ann')).toEqual([]);
    s.setItem('omnidesk.notifications.ag_x', '{nope');
    expect(loadNotifications(s, 'ag_x')).toEqual([]);
  });
});

describe('labels, priority, snooze, rating', () => {
  it('labels are lowercased tags, at most 20, no doubles', () => {
    expect(addLabel([], ' Refund ')).toEqual({ labels: ['refund'] });
    expect(addLabel(['refund'], 'REFUND')).toEqual({ labels: ['refund'] });
    expect(addLabel([], 'vip:gold')).toEqual({ labels: ['vip:gold'] });
    expect(addLabel([], 'two words')).toEqual({ problem: 'label_bad' });
    expect(addLabel([], 'x'.repeat(33))).toEqual({ problem: 'label_bad' });
    expect(addLabel(Array.from({ length: 20 }, (_, i) => `l${i}`), 'more')).toEqual({ problem: 'label_tooMany' });
    expect(labelsOf({})).toEqual([]);
  });
  it('priority: absent is normal; high and urgent are pressing', () => {
    expect(priorityOf({})).toBe('normal');
    expect(priorityOf({ priority: 'urgent' })).toBe('urgent');
    expect(isPressing({ priority: 'high' })).toBe(true);
    expect(isPressing({ priority: 'low' })).toBe(false);
  });
  it('times: RFC 3339 or milliseconds', () => {
    expect(toMs('2026-01-01T00:00:00.000Z')).toBe(Date.UTC(2026, 0, 1));
    expect(toMs(1767225600000)).toBe(1767225600000);
    expect(toMs('1767225600000')).toBe(1767225600000);
    expect(toMs(null)).toBeNull();
    expect(toMs('soon')).toBeNull();
    expect(snoozedUntil({ snoozed_until: 2000 }, 1000)).toBe(2000);
    expect(snoozedUntil({ snoozed_until: 500 }, 1000)).toBeNull();
    expect(snoozedUntil({}, 1000)).toBeNull();
  });
  it('snooze presets: an hour, tomorrow 9:00, next Monday 9:00 (local time)', () => {
    const wed = new Date(2026, 2, 4, 15, 30); // Wednesday
    const p = snoozePresets(wed);
    expect(p.hour).toBe(wed.getTime() + 3600_000);
    expect(new Date(p.tomorrow)).toEqual(new Date(2026, 2, 5, 9, 0));
    expect(new Date(p.nextWeek)).toEqual(new Date(2026, 2, 9, 9, 0));
    expect(new Date(snoozePresets(new Date(2026, 2, 9, 8, 0)).nextWeek)).toEqual(new Date(2026, 2, 16, 9, 0)); // a Monday: the next one
    expect(new Date(snoozePresets(new Date(2026, 2, 8, 23, 0)).nextWeek)).toEqual(new Date(2026, 2, 9, 9, 0)); // Sunday night
    expect(new Date(snoozePresets(new Date(2026, 2, 31, 20, 0)).tomorrow)).toEqual(new Date(2026, 3, 1, 9, 0)); // month end
  });
  it('a custom time is local, in the future and within 90 days', () => {
    const now = new Date(2026, 2, 4, 15, 30).getTime();
    expect(customSnooze('2026-03-05T08:15', now)).toEqual({ until: new Date(2026, 2, 5, 8, 15).getTime() });
    expect(customSnooze('2026-03-04T15:00', now)).toEqual({ problem: 'snooze_past' });
    expect(customSnooze('2026-07-04T15:00', now)).toEqual({ problem: 'snooze_far' });
    expect(customSnooze('', now)).toEqual({ problem: 'snooze_bad' });
    expect(localInputValue(new Date(2026, 2, 5, 8, 5).getTime())).toBe('2026-03-05T08:05');
  });
  it('stars for a score', () => {
    expect(stars(4)).toBe('★★★★☆');
    expect(stars(9)).toBe('★★★★★');
    expect(stars(0)).toBe('★☆☆☆☆');
  });
});

describe('reports', () => {
  it('human durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45.4)).toBe('45s');
    expect(formatDuration(252)).toBe('4m 12s');
    expect(formatDuration(240)).toBe('4m');
    expect(formatDuration(3900)).toBe('1h 5m');
    expect(formatDuration(7200)).toBe('2h');
    expect(formatDuration(183600)).toBe('2d 3h');
    expect(formatDuration(-1)).toBe('—');
    expect(formatCsat(4.567)).toBe('4.6');
    expect(formatCsat(null)).toBe('—');
  });
  it('the last 7 days, today included, as UTC dates', () => {
    expect(defaultRange(new Date(Date.UTC(2026, 2, 4, 23, 59)))).toEqual({ from: '2026-02-26', to: '2026-03-04' });
  });
  it('the query: rollout only when grouping by bucket, format=csv for the download', () => {
    const p = { from: '2026-03-01', to: '2026-03-07', groupBy: 'agent' as const, rollout: 10 };
    expect(reportQuery(p)).toEqual({ from: '2026-03-01', to: '2026-03-07', group_by: 'agent' });
    expect(reportQuery({ ...p, groupBy: 'bucket', rollout: 25 }, true)).toEqual({ from: '2026-03-01', to: '2026-03-07', group_by: 'bucket', rollout: '25', format: 'csv' });
    expect(reportFileName(p)).toBe('report-2026-03-01-2026-03-07-agent.csv');
  });
  it('refuses a reversed range and a rollout outside 0–100', () => {
    const p = { from: '2026-03-01', to: '2026-03-07', groupBy: 'bucket' as const, rollout: 10 };
    expect(reportProblem(p)).toBeNull();
    expect(reportProblem({ ...p, from: '2026-03-08' })).toBe('report_badRange');
    expect(reportProblem({ ...p, to: '' })).toBe('report_badRange');
    expect(reportProblem({ ...p, rollout: 101 })).toBe('report_badRollout');
    expect(reportProblem({ ...p, groupBy: 'agent', rollout: 101 })).toBeNull();
  });
});
