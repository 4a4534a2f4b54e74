import { describe, expect, it } from 'vitest';
import { countUnread, hasGap, mergeMessages, needsLinks, newestAgentAt, timeline } from '../src/panel/state';
import type { Pending } from '../src/panel/outbox';
import { msg } from './fake';

describe('file links', () => {
  const blob = 'a'.repeat(64);
  it('a push (no link) does not lose the link a page gave; a push alone asks for the page', () => {
    const page = msg({ id: 'p', delivery: { status: 'sent', updated_at: 1 }, attachments: [{ kind: 'image', blob, file_name: 'box.png', url: '/files/x?sig=1' }] });
    const push = msg({ id: 'p', delivery: { status: 'sent', updated_at: 2 }, attachments: [{ kind: 'image', blob, file_name: 'box.png' }] });
    expect(needsLinks(push)).toBe(true);
    const [kept] = mergeMessages([page], [push]);
    expect(kept.delivery?.updated_at).toBe(2);
    expect(kept.attachments?.[0].url).toBe('/files/x?sig=1');
    expect(needsLinks(kept)).toBe(false);
    // Not stored yet (no blob): nothing to read.
    expect(needsLinks(msg({ id: 'q', attachments: [{ kind: 'image', file_name: 'x.png' }] }))).toBe(false);
  });
});

describe('mergeMessages', () => {
  it('keeps one entry per id, sorted by time, from pages, answers and events in any order', () => {
    const a = msg({ id: 'a', created_at: 1 });
    const b = msg({ id: 'b', created_at: 2 });
    const c = msg({ id: 'c', created_at: 3 });
    const merged = mergeMessages(mergeMessages([c], [a, b]), [b, c, a]);
    expect(merged.map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('keeps the newest delivery state: a late event never rolls back', () => {
    const sending = msg({ id: 'a', delivery: { status: 'sending', updated_at: 5 } });
    const sent = msg({ id: 'a', delivery: { status: 'sent', updated_at: 9 } });
    expect(mergeMessages([sent], [sending])[0].delivery.status).toBe('sent');
    expect(mergeMessages([sending], [sent])[0].delivery.status).toBe('sent');
  });

  it('dedups by client_id: the same message under a second id is shown once', () => {
    const one = msg({ id: 'm1', client_id: 'w-1', direction: 'inbound', delivery: { status: 'received', updated_at: 1 } });
    const again = msg({ id: 'm1b', client_id: 'w-1', direction: 'inbound', delivery: { status: 'received', updated_at: 2 } });
    const merged = mergeMessages([one], [again]);
    expect(merged).toHaveLength(1);
    expect(merged[0].id).toBe('m1b');
  });

  it('accepts RFC 3339 timestamps as well as ms and sorts them together', () => {
    const a = msg({ id: 'a', created_at: '2026-01-01T10:00:00.000Z' as unknown as number });
    const b = msg({ id: 'b', created_at: Date.parse('2026-01-01T09:00:00Z') });
    const merged = mergeMessages([], [a, b]);
    expect(merged.map((m) => m.id)).toEqual(['b', 'a']);
    expect(merged[1].created_at).toBe(Date.parse('2026-01-01T10:00:00Z'));
  });

  it('ignores garbage', () => {
    expect(mergeMessages([], [null as never, { foo: 1 } as never])).toEqual([]);
  });
});

describe('timeline', () => {
  const pending = (client_id: string, text = client_id): Pending => ({ client_id, text, created_at: 0, state: 'queued', attempts: 0 });
  it('shows outbox items until the server echoes their client_id', () => {
    const stored = msg({ id: 'm1', client_id: 'w-1', direction: 'inbound' });
    const items = timeline([stored], [pending('w-1'), pending('w-2')]);
    expect(items.map((i) => (i.kind === 'message' ? i.message.id : i.pending.client_id))).toEqual(['m1', 'w-2']);
  });
});

describe('unread', () => {
  const list = [
    msg({ id: 'v', direction: 'inbound', author: { kind: 'contact' }, created_at: 10 }),
    msg({ id: 'a1', created_at: 11 }),
    msg({ id: 's', author: { kind: 'system' }, created_at: 12 }),
    msg({ id: 'b', author: { kind: 'bot' }, created_at: 13 }),
    msg({ id: 'a2', created_at: 14 }),
  ];
  it('counts agent, bot and AI messages newer than the last seen one, not the visitor’s nor system notes', () => {
    expect(countUnread(list, 0)).toBe(3);
    expect(countUnread(list, 11)).toBe(2);
    expect(countUnread(list, 14)).toBe(0);
    expect(newestAgentAt(list)).toBe(14);
  });
});

describe('hasGap', () => {
  it('is true when the newest page shares nothing with what is shown', () => {
    const shown = [msg({ id: 'a' }), msg({ id: 'b' })];
    expect(hasGap(shown, [msg({ id: 'b' }), msg({ id: 'c' })])).toBe(false);
    expect(hasGap(shown, [msg({ id: 'x' }), msg({ id: 'y' })])).toBe(true);
    expect(hasGap([], [msg({ id: 'x' })])).toBe(false);
  });
});
