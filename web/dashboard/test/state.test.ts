import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../src/types';
import {
  applyEvent, emptyState, flattenEvents, mergeMessages, newlyAssignedToMe, resyncHasGap, resyncList, setTimeline, unreadTotal,
  visibleList, waitingMs, appendListPage,
} from '../src/state';
import { conv, ME, msg, OTHER } from './fixtures';

describe('event merge', () => {
  it('a conversation.updated for an unknown conversation makes it appear in the matching tabs', () => {
    let s = emptyState(ME);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_1', { status: 'queued', assignee_id: null }) });
    expect(visibleList(s, 'unassigned').map((c) => c.id)).toEqual(['cv_1']);
    expect(visibleList(s, 'all').map((c) => c.id)).toEqual(['cv_1']);
    expect(visibleList(s, 'mine')).toEqual([]);
  });

  it('an older version arriving late never overwrites a newer one', () => {
    let s = emptyState(ME);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_1', { version: 5, status: 'resolved' }) });
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_1', { version: 4, status: 'assigned' }) });
    expect(s.conversations.cv_1.status).toBe('resolved');
    expect(visibleList(s, 'resolved').map((c) => c.id)).toEqual(['cv_1']);
  });

  it('a conversation taken by another agent leaves Mine and lists sort by latest activity', () => {
    let s = emptyState(ME);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_a', { last_activity_at: '2026-01-01T10:00:00.000Z' }) });
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_b', { last_activity_at: '2026-01-01T11:00:00.000Z' }) });
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_b', 'cv_a']);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_a', { last_activity_at: '2026-01-01T12:00:00.000Z', version: 2 }) });
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_a', 'cv_b']);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_a', { assignee_id: OTHER, version: 3 }) });
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_b']);
  });

  it('unread counts of a tab add up the conversations in it', () => {
    let s = emptyState(ME);
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_a', { unread_count: 2 }) });
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_b', { unread_count: 3, assignee_id: OTHER }) });
    expect(unreadTotal(s, 'mine')).toBe(2);
    expect(unreadTotal(s, 'all')).toBe(5);
  });

  it('messages of an open conversation merge by id and are never doubled', () => {
    let s = setTimeline(emptyState(ME), 'cv_1', { items: [msg('m1', 'cv_1')], next_cursor: null }, true);
    const m2 = msg('m2', 'cv_1', { created_at: '2026-01-01T10:01:00.000Z' });
    s = applyEvent(s, { type: 'message.created', conversation_id: 'cv_1', message: m2 });
    s = applyEvent(s, { type: 'message.created', conversation_id: 'cv_1', message: m2 });
    expect(s.messages.cv_1.map((m) => m.id)).toEqual(['m1', 'm2']);
  });

  it('a message.updated moves delivery forward and a stale snapshot does not move it back', () => {
    const sending = msg('m1', 'cv_1', {
      direction: 'outbound',
      author: { kind: 'agent', id: ME },
      delivery: { status: 'sending', attempts: 0, updated_at: '2026-01-01T10:00:00.000Z' },
    });
    const sent = { ...sending, delivery: { status: 'sent' as const, attempts: 1, updated_at: '2026-01-01T10:00:01.000Z' } };
    let s = setTimeline(emptyState(ME), 'cv_1', { items: [sending], next_cursor: null }, true);
    s = applyEvent(s, { type: 'message.updated', conversation_id: 'cv_1', message: sent });
    expect(s.messages.cv_1[0].delivery.status).toBe('sent');
    s = setTimeline(s, 'cv_1', { items: [sending], next_cursor: null }, false);
    expect(s.messages.cv_1[0].delivery.status).toBe('sent');
    const failed = { ...sending, delivery: { status: 'failed' as const, reason: 'blocked by the user', attempts: 2, updated_at: '2026-01-01T10:00:05.000Z' } };
    s = applyEvent(s, { type: 'message.updated', conversation_id: 'cv_1', message: failed });
    expect(s.messages.cv_1[0].delivery).toMatchObject({ status: 'failed', reason: 'blocked by the user' });
  });

  it('messages of conversations not opened are ignored (the list shows the preview)', () => {
    const s = emptyState(ME);
    expect(applyEvent(s, { type: 'message.created', conversation_id: 'cv_x', message: msg('m1', 'cv_x') })).toBe(s);
  });

  it('timelines are chronological whatever order messages arrive in', () => {
    const a = msg('m1', 'c', { created_at: '2026-01-01T10:00:00.000Z' });
    const b = msg('m2', 'c', { created_at: '2026-01-01T10:00:01.000Z' });
    const c = msg('m3', 'c', { created_at: '2026-01-01T10:00:02.000Z' });
    expect(mergeMessages([c], [b, a]).map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
  });

  it('a contact.updated refreshes the contact inside every conversation of theirs', () => {
    let s = applyEvent(emptyState(ME), { type: 'conversation.updated', conversation: conv('cv_1') });
    const contact = { ...s.conversations.cv_1.contact, tags: ['vip'] };
    s = applyEvent(s, { type: 'contact.updated', contact });
    expect(s.conversations.cv_1.contact.tags).toEqual(['vip']);
  });

  it('notifies only when a conversation becomes mine, not on later updates of it', () => {
    let s = emptyState(ME);
    const queued = conv('cv_1', { status: 'queued', assignee_id: null, version: 1 });
    s = applyEvent(s, { type: 'conversation.updated', conversation: queued });
    const mine = { type: 'conversation.updated' as const, conversation: conv('cv_1', { version: 2 }) };
    expect(newlyAssignedToMe(s, mine)?.id).toBe('cv_1');
    s = applyEvent(s, mine);
    const again = { type: 'conversation.updated' as const, conversation: conv('cv_1', { version: 3, unread_count: 1 }) };
    expect(newlyAssignedToMe(s, again)).toBeNull();
  });

  it('a message.created carrying the conversation updates the list entry exactly like a conversation.updated', () => {
    const view = conv('cv_1', {
      status: 'queued',
      assignee_id: null,
      unread_count: 2,
      version: 4,
      last_message: { id: 'm2', direction: 'inbound', author_kind: 'contact', channel: 'telegram', text: 'text m2', created_at: '2026-01-01T10:01:00.000Z' },
    });
    const m2 = msg('m2', 'cv_1', { created_at: '2026-01-01T10:01:00.000Z' });
    const viaMessage = applyEvent(emptyState(ME), { type: 'message.created', conversation_id: 'cv_1', message: m2, conversation: view });
    const viaUpdate = applyEvent(emptyState(ME), { type: 'conversation.updated', conversation: view });
    expect(viaMessage.conversations).toEqual(viaUpdate.conversations);
    expect(visibleList(viaMessage, 'unassigned').map((c) => c.id)).toEqual(['cv_1']);
    expect(unreadTotal(viaMessage, 'all')).toBe(2);
    // An open timeline gets the message too; an older view never overwrites a newer one.
    let s = setTimeline(viaMessage, 'cv_1', { items: [msg('m1', 'cv_1')], next_cursor: null }, true);
    const m3 = msg('m3', 'cv_1', { created_at: '2026-01-01T10:02:00.000Z' });
    s = applyEvent(s, { type: 'message.created', conversation_id: 'cv_1', message: m3, conversation: conv('cv_1', { version: 3, status: 'resolved' }) });
    expect(s.messages.cv_1.map((m) => m.id)).toEqual(['m1', 'm3']);
    expect(s.conversations.cv_1.status).toBe('queued');
  });

  it('a message.created carrying a conversation newly mine notifies, once', () => {
    let s = applyEvent(emptyState(ME), { type: 'conversation.updated', conversation: conv('cv_1', { status: 'queued', assignee_id: null, version: 1 }) });
    const assigned = {
      type: 'message.created' as const,
      conversation_id: 'cv_1',
      message: msg('m_sys', 'cv_1', { author: { kind: 'system' } }),
      conversation: conv('cv_1', { version: 2 }),
    };
    expect(newlyAssignedToMe(s, assigned)?.id).toBe('cv_1');
    s = applyEvent(s, assigned);
    expect(newlyAssignedToMe(s, assigned)).toBeNull();
    expect(newlyAssignedToMe(s, { type: 'message.created', conversation_id: 'cv_1', message: msg('m4', 'cv_1') })).toBeNull();
  });

  it('a batch applies each of its events in order, nested batches too', () => {
    let s = setTimeline(emptyState(ME), 'cv_1', { items: [], next_cursor: null }, true);
    const m1 = msg('m1', 'cv_1');
    const sent = msg('m2', 'cv_1', {
      direction: 'outbound',
      created_at: '2026-01-01T10:00:01.000Z',
      delivery: { status: 'sending', attempts: 0, updated_at: '2026-01-01T10:00:01.000Z' },
    });
    const batch: ServerEvent = {
      type: 'batch',
      events: [
        { type: 'message.created', conversation_id: 'cv_1', message: m1 },
        { type: 'message.created', conversation_id: 'cv_1', message: sent, conversation: conv('cv_1', { version: 2 }) },
        {
          type: 'batch',
          events: [
            { type: 'message.updated', conversation_id: 'cv_1', message: { ...sent, delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:00:02.000Z' } } },
            { type: 'conversation.updated', conversation: conv('cv_2', { status: 'queued', assignee_id: null }) },
          ],
        },
      ],
    };
    s = applyEvent(s, batch);
    expect(s.messages.cv_1.map((m) => [m.id, m.delivery.status])).toEqual([['m1', 'received'], ['m2', 'sent']]);
    expect(s.conversations.cv_1.version).toBe(2);
    expect(visibleList(s, 'unassigned').map((c) => c.id)).toEqual(['cv_2']);
    expect(flattenEvents(batch).map((e) => e.type)).toEqual(['message.created', 'message.created', 'message.updated', 'conversation.updated']);
    expect(applyEvent(s, { type: 'batch', events: [] })).toBe(s);
  });

  it('waiting time counts from the customer’s last message while it is unanswered', () => {
    const now = Date.parse('2026-01-01T10:05:00.000Z');
    const waiting = conv('c', {
      last_inbound_at: '2026-01-01T10:00:00.000Z',
      last_message: { id: 'm', direction: 'inbound', author_kind: 'contact', channel: 'telegram', text: 'hi', created_at: '2026-01-01T10:00:00.000Z' },
    });
    expect(waitingMs(waiting, now)).toBe(5 * 60_000);
    const answered = { ...waiting, last_message: { ...waiting.last_message!, direction: 'outbound' as const } };
    expect(waitingMs(answered, now)).toBeNull();
  });
});

describe('reconnect resync', () => {
  it('drops conversations that left the tab while we were away and adds the new ones', () => {
    let s = emptyState(ME);
    s = appendListPage(s, 'mine', { items: [conv('cv_a'), conv('cv_b', { last_activity_at: '2026-01-01T09:00:00.000Z' })], next_cursor: null });
    // Meanwhile cv_b was taken by someone else and cv_c was assigned to me.
    const page = { items: [conv('cv_c', { last_activity_at: '2026-01-01T11:00:00.000Z' }), conv('cv_a')], next_cursor: null };
    s = resyncList(s, 'mine', page, null);
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_c', 'cv_a']);
  });

  it('keeps a conversation pushed while the page was being read, as pushed', () => {
    let s = emptyState(ME);
    s = appendListPage(s, 'mine', { items: [conv('cv_a')], next_cursor: null });
    // cv_new arrives by push after the list was requested; the page (read before) lacks it,
    // and holds an older cv_a than the one pushed meanwhile.
    const pushedA = conv('cv_a', { last_activity_at: '2026-01-01T12:00:00.000Z' });
    s = { ...s, conversations: { ...s.conversations, cv_new: conv('cv_new', { last_activity_at: '2026-01-01T11:00:00.000Z' }), cv_a: pushedA } };
    const page = { items: [conv('cv_a')], next_cursor: null };
    s = resyncList(s, 'mine', page, null, new Set(['cv_new', 'cv_a']));
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_a', 'cv_new']);
    expect(s.conversations.cv_a.last_activity_at).toBe('2026-01-01T12:00:00.000Z');
    // Without the pushes to keep, the page is the truth.
    s = resyncList(s, 'mine', page, null);
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_a']);
  });

  it('keeps conversations older than the first page and the open one', () => {
    let s = emptyState(ME);
    s = appendListPage(s, 'mine', {
      items: [conv('cv_new', { last_activity_at: '2026-01-01T12:00:00.000Z' }), conv('cv_old', { last_activity_at: '2026-01-01T08:00:00.000Z' }), conv('cv_open', { last_activity_at: '2026-01-01T11:00:00.000Z' })],
      next_cursor: null,
    });
    const page = { items: [conv('cv_new', { last_activity_at: '2026-01-01T12:00:00.000Z' })], next_cursor: 'more' };
    s = resyncList(s, 'mine', page, 'cv_open');
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_new', 'cv_open', 'cv_old']);
    expect(s.cursors.mine.next).toBe('more');
  });

  it('judges what a page covers in the server order (activity minute, then id), not by exact time', () => {
    let s = emptyState(ME);
    // Same minute as the page's last item, a lower id, later activity: after it in the server order.
    const held = conv('cv_a', { last_activity_at: '2026-01-01T10:00:50.000Z' });
    s = appendListPage(s, 'mine', { items: [held], next_cursor: null });
    const page = { items: [conv('cv_b', { last_activity_at: '2026-01-01T10:00:10.000Z' })], next_cursor: 'more' };
    s = resyncList(s, 'mine', page, null);
    expect(visibleList(s, 'mine').map((c) => c.id)).toEqual(['cv_a', 'cv_b']);
  });

  it('an event newer than the resync page survives the page', () => {
    let s = applyEvent(emptyState(ME), { type: 'conversation.updated', conversation: conv('cv_a', { version: 7, unread_count: 3 }) });
    s = resyncList(s, 'mine', { items: [conv('cv_a', { version: 6, unread_count: 2 })], next_cursor: null }, null);
    expect(s.conversations.cv_a.unread_count).toBe(3);
  });

  it('messages sent while we were away are merged into the open timeline', () => {
    let s = setTimeline(emptyState(ME), 'cv_1', { items: [msg('m1', 'cv_1')], next_cursor: 'older' }, true);
    const missed = [msg('m1', 'cv_1'), msg('m2', 'cv_1', { created_at: '2026-01-01T10:02:00.000Z' }), msg('m3', 'cv_1', { created_at: '2026-01-01T10:03:00.000Z' })];
    s = setTimeline(s, 'cv_1', { items: missed, next_cursor: 'x' }, false);
    expect(s.messages.cv_1.map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
    expect(s.olderCursor.cv_1).toBe('older');
  });

  it('detects a gap when more than a page was missed', () => {
    const held = [msg('m1', 'c')];
    expect(resyncHasGap(held, { items: [msg('m9', 'c')], next_cursor: 'c1' })).toBe(true);
    expect(resyncHasGap(held, { items: [msg('m1', 'c'), msg('m9', 'c')], next_cursor: 'c1' })).toBe(false);
    expect(resyncHasGap(held, { items: [msg('m9', 'c')], next_cursor: null })).toBe(false);
  });
});
