import { describe, expect, it } from 'vitest';
import { contactName, contactsNamedIn, conversationChannels, identityRows, mergeCandidates, mergeErrorKey, pathLabel, plainAttributes, seenBy } from '../src/channels';
import { channelLabel, translate } from '../src/i18n';
import { applyEvent, emptyState, upsertConversation } from '../src/state';
import type { Contact, ContactWithConversations } from '../src/types';
import { conv, ME, msg } from './fixtures';

const en = (c: string) => channelLabel('en', c);

function contact(id: string, patch: Partial<Contact> = {}): Contact {
  return {
    id,
    display_name: `Contact ${id}`,
    tags: [],
    attributes: {},
    identities: [],
    channels_seen: [],
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...patch,
  };
}

describe('channel path', () => {
  it('a web conversation continued on Telegram reads "Website → Telegram"', () => {
    const c = conv('cv_1', { channel: 'telegram', channel_path: ['web', 'telegram'], channels: ['web', 'telegram'] });
    expect(pathLabel(conversationChannels(c), en)).toBe('Website → Telegram');
  });

  it('a single channel shows just its name', () => {
    expect(pathLabel(conversationChannels(conv('cv_1', { channel: 'email', channel_path: ['email'], channels: ['email'] })), en)).toBe('E-mail');
  });

  it('prefers `channels`, falls back to `channel_path`, then to `channel`', () => {
    expect(conversationChannels(conv('cv_1', { channels: ['web', 'telegram'], channel_path: ['telegram'] }))).toEqual(['web', 'telegram']);
    expect(conversationChannels(conv('cv_1', { channels: undefined, channel_path: ['email', 'web'] }))).toEqual(['email', 'web']);
    expect(conversationChannels(conv('cv_1', { channels: [], channel_path: [], channel: 'web' }))).toEqual(['web']);
  });

  it('repeats in a row are folded; going back is kept (unlinked: Website → Telegram → Website)', () => {
    expect(conversationChannels(conv('cv_1', { channels: ['web', 'web', 'telegram', 'web'] }))).toEqual(['web', 'telegram', 'web']);
    expect(pathLabel(['web', 'telegram', 'web'], en)).toBe('Website → Telegram → Website');
  });

  it('labels follow the UI language; an unknown channel is shown as sent', () => {
    expect(pathLabel(['web', 'telegram'], (c) => channelLabel('zh', c))).toBe('网站 → Telegram');
    expect(channelLabel('en', 'whatsapp')).toBe('whatsapp');
    expect(translate('en', 'replyGoesTo', { a: 'Telegram' })).toBe('Reply goes to Telegram');
  });

  it('translate fills every placeholder once, never re-reading a value', () => {
    expect(translate('en', 'mergeConfirm', { a: 'Bo {b}', b: 'Vera' })).toBe(
      'Merge Bo {b} into Vera? The identities and conversations of Bo {b} move to Vera.',
    );
  });
});

describe('identity list', () => {
  it('lists every identity: Telegram by username (else user id), e-mail with its verification, visitor, phone', () => {
    const rows = identityRows(
      contact('ct_1', {
        identities: [
          { kind: 'telegram', bot_id: 777, user_id: 6001, username: 'vera_k' },
          { kind: 'telegram', bot_id: 777, user_id: 6002 },
          { kind: 'email', address: 'vera@example.com', verified: true },
          { kind: 'email', address: 'old@example.com', verified: false },
          { kind: 'web_visitor', visitor_id: 'vis_1' },
          { kind: 'phone', e164: '+15550100' },
        ],
      }),
    );
    expect(rows).toEqual([
      { kind: 'telegram', value: '@vera_k', verified: null, source: 'identity' },
      { kind: 'telegram', value: '6002', verified: null, source: 'identity' },
      { kind: 'email', value: 'vera@example.com', verified: true, source: 'identity' },
      { kind: 'email', value: 'old@example.com', verified: false, source: 'identity' },
      { kind: 'web_visitor', value: 'vis_1', verified: null, source: 'identity' },
      { kind: 'phone', value: '+15550100', verified: null, source: 'identity' },
    ]);
  });

  it('adds the e-mail and phone the visitor typed as unverified, and leaves them out of the attributes', () => {
    const c = contact('ct_1', {
      identities: [{ kind: 'web_visitor', visitor_id: 'vis_1' }],
      attributes: { 'email (unverified)': 'vera@example.com', 'phone (unverified)': '+1 555 0100', plan: 'gold' },
    });
    expect(identityRows(c)).toEqual([
      { kind: 'web_visitor', value: 'vis_1', verified: null, source: 'identity' },
      { kind: 'email', value: 'vera@example.com', verified: false, source: 'attribute' },
      { kind: 'phone', value: '+1 555 0100', verified: false, source: 'attribute' },
    ]);
    expect(plainAttributes(c.attributes)).toEqual([['plan', 'gold']]);
  });

  it('an unverified claim already held as an identity is listed once (the identity)', () => {
    const c = contact('ct_1', {
      identities: [
        { kind: 'email', address: 'Vera@Example.com', verified: true },
        { kind: 'phone', e164: '+15550100' },
      ],
      attributes: { 'email (unverified)': 'vera@example.com', 'phone (unverified)': '+1 (555) 0100' },
    });
    expect(identityRows(c).map((r) => [r.kind, r.source])).toEqual([
      ['email', 'identity'],
      ['phone', 'identity'],
    ]);
  });

  it('an unknown identity kind is skipped, empty attributes are ignored', () => {
    const c = contact('ct_1', {
      identities: [{ kind: 'whatsapp', wa_id: '1' } as unknown as Contact['identities'][number]],
      attributes: { 'email (unverified)': '  ' },
    });
    expect(identityRows(c)).toEqual([]);
  });
});

describe('merge', () => {
  const cv = (id: string, ct: Contact) => conv(id, { contact: ct });

  it('candidates: the contacts of loaded conversations, once, not the current one, not merged ones, filtered by name', () => {
    const vera = contact('ct_v', { display_name: 'Vera' });
    const bo = contact('ct_b', { display_name: 'Bo', identities: [{ kind: 'telegram', bot_id: 1, user_id: 5002, username: 'bo_tg' }] });
    const ann = contact('ct_a', { display_name: 'Ann' });
    const gone = contact('ct_g', { display_name: 'Bob (old)', merged_into: 'ct_b' });
    const list = [cv('cv_1', vera), cv('cv_2', bo), cv('cv_3', bo), cv('cv_4', ann), cv('cv_5', gone)];
    expect(mergeCandidates(list, 'ct_v', '').map((c) => c.id)).toEqual(['ct_a', 'ct_b']);
    expect(mergeCandidates(list, 'ct_v', ' bo ').map((c) => c.id)).toEqual(['ct_b']);
    expect(mergeCandidates(list, 'ct_v', 'BO_TG').map((c) => c.id)).toEqual(['ct_b']);
    expect(mergeCandidates(list, 'ct_v', 'nobody')).toEqual([]);
  });

  it('4xx codes map to clear messages', () => {
    expect(mergeErrorKey('not_found')).toBe('mergeErr_not_found');
    expect(mergeErrorKey('same_contact')).toBe('mergeErr_same_contact');
    expect(mergeErrorKey('already_merged')).toBe('mergeErr_already_merged');
    expect(mergeErrorKey('http_500')).toBeNull();
    expect(translate('en', 'mergeErr_already_merged')).toMatch(/already been merged/);
  });

  it('contact.updated with merged_into turns the merged contact into a pointer where it is shown', () => {
    let s = emptyState(ME);
    const bo = contact('ct_b', { display_name: 'Bo' });
    s = upsertConversation(s, cv('cv_2', bo));
    s = applyEvent(s, { type: 'contact.updated', contact: { ...bo, merged_into: 'ct_v', updated_at: '2026-01-02T00:00:00.000Z' } });
    expect(s.conversations.cv_2.contact.merged_into).toBe('ct_v');
  });

  it('conversation.updated moving a conversation to the kept contact updates both profiles and the list', () => {
    let s = emptyState(ME);
    const vera = contact('ct_v', { display_name: 'Vera', identities: [{ kind: 'web_visitor', visitor_id: 'vis_1' }] });
    const bo = contact('ct_b', { display_name: 'Bo', identities: [{ kind: 'telegram', bot_id: 1, user_id: 5002 }] });
    s = upsertConversation(s, cv('cv_1', vera));
    s = upsertConversation(s, cv('cv_2', bo));
    const profile = (c: Contact, ids: string[]): ContactWithConversations => ({
      ...c,
      conversations: ids.map((id) => ({ ...s.conversations[id], contact_id: c.id })),
    });
    s = { ...s, contacts: { ct_v: profile(vera, ['cv_1']), ct_b: profile(bo, ['cv_2']) } };

    // The server: contact.updated (kept contact with both identities), then the moved conversation.
    const merged = { ...vera, identities: [...vera.identities, ...bo.identities], updated_at: '2026-01-02T00:00:00.000Z' };
    s = applyEvent(s, { type: 'batch', events: [
      { type: 'contact.updated', contact: merged },
      { type: 'contact.updated', contact: { ...bo, merged_into: 'ct_v', updated_at: '2026-01-02T00:00:00.000Z' } },
      { type: 'conversation.updated', conversation: conv('cv_2', { contact: merged, version: 2 }) },
    ] });

    expect(s.conversations.cv_2.contact.id).toBe('ct_v');
    expect(s.conversations.cv_1.contact.identities).toHaveLength(2);
    expect(s.contacts.ct_v.identities).toHaveLength(2);
    expect(s.contacts.ct_v.conversations.map((c) => c.id).sort()).toEqual(['cv_1', 'cv_2']);
    expect(s.contacts.ct_b.conversations).toEqual([]);
    expect(s.contacts.ct_b.merged_into).toBe('ct_v');
    // Nothing left to merge with: Bo is gone from the candidates.
    expect(mergeCandidates(Object.values(s.conversations), 'ct_v', '')).toEqual([]);
    expect(contactName('ct_v', Object.values(s.conversations), s.contacts)).toBe('Vera');
    // Bo is in no conversation any more, but the timeline event can still name him.
    expect(contactName('ct_b', [], {}, s.names)).toBe('Bo');
  });

  it('the merge events of a timeline name the contacts to look up', () => {
    const ev = msg('m1', 'cv_2', { author: { kind: 'system' }, event: { event: 'contacts_merged', from: 'ct_b', into: 'ct_v', by: null } });
    expect(contactsNamedIn([msg('m0', 'cv_2'), ev, ev])).toEqual(['ct_b', 'ct_v']);
  });

  it('a late, older contact.updated does not roll a profile back', () => {
    let s = emptyState(ME);
    const v2 = contact('ct_v', { display_name: 'Vera', tags: ['vip'], updated_at: '2026-01-03T00:00:00.000Z' });
    s = upsertConversation(s, cv('cv_1', v2));
    s = { ...s, contacts: { ct_v: { ...v2, conversations: [] } } };
    s = applyEvent(s, { type: 'contact.updated', contact: { ...v2, tags: [], updated_at: '2026-01-02T00:00:00.000Z' } });
    expect(s.conversations.cv_1.contact.tags).toEqual(['vip']);
    expect(s.contacts.ct_v.tags).toEqual(['vip']);
  });

  it('an older conversation version does not move it back', () => {
    let s = emptyState(ME);
    const vera = contact('ct_v');
    const bo = contact('ct_b');
    s = upsertConversation(s, cv('cv_2', vera));
    s = { ...s, conversations: { cv_2: { ...s.conversations.cv_2, version: 3 } } };
    s = applyEvent(s, { type: 'conversation.updated', conversation: conv('cv_2', { contact: bo, version: 2 }) });
    expect(s.conversations.cv_2.contact.id).toBe('ct_v');
  });
});

describe('read receipts', () => {
  const sent = { direction: 'outbound' as const, delivery: { status: 'sent' as const, attempts: 1, updated_at: '2026-12-01T10:00:01Z' }, created_at: '2026-12-01T10:00:00Z' };
  it('a sent message at or before the receipt is seen; later ones, inbound and unsent ones are not', () => {
    expect(seenBy(sent, '2026-12-01T10:00:00Z')).toBe(true);
    expect(seenBy(sent, '2026-12-01T09:59:59Z')).toBe(false);
    expect(seenBy(sent, null)).toBe(false);
    expect(seenBy({ ...sent, direction: 'inbound' }, '2026-12-01T11:00:00Z')).toBe(false);
    expect(seenBy({ ...sent, delivery: { ...sent.delivery, status: 'sending' } }, '2026-12-01T11:00:00Z')).toBe(false);
  });
});
