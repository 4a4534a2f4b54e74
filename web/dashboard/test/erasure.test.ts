// A contact's personal data, the pure side: the state after `contact.erased` (and what can no
// longer bring an erased conversation back), the rule that enables the erase button, the API
// helpers (`GET /contacts/{id}/export`, `DELETE /contacts/{id}`) and what the view says.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, ApiError } from '../src/api';
import { ERASE_WORD, contactDataError, contactExportName, erasePhrase, eraseConfirmed, erasedIds, erasureText, parseErasure } from '../src/erasure';
import { translate, type Key } from '../src/i18n';
import {
  appendListPage, applyEvent, conversationsOfContact, emptyState, eraseContact, newlyAssignedToMe, prependOlder, putContact, rememberName, resyncList,
  setTimeline, visibleList, type State,
} from '../src/state';
import type { ContactWithConversations, ConversationView, ServerEvent } from '../src/types';
import { conv, ME, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const zh = (key: Key, vars?: Record<string, string>) => translate('zh', key, vars);

/** Cora (ct_cora) with two conversations (one queued, one resolved), and Dan with one. */
const CORA = conv('cv_c1').contact;
const cora = (id: string, patch: Partial<ConversationView> = {}) =>
  conv(id, { contact: { ...CORA, id: 'ct_cora', display_name: 'Cora Chen' }, ...patch });
const dan = (id: string, patch: Partial<ConversationView> = {}) => conv(id, { contact: { ...CORA, id: 'ct_dan', display_name: 'Dan' }, ...patch });

function profile(c: ConversationView, ids: string[]): ContactWithConversations {
  return {
    ...c.contact,
    conversations: ids.map((id) => ({ id, status: 'resolved', channel: 'telegram', channel_path: ['telegram'], last_message: null, last_activity_at: c.last_activity_at, created_at: c.created_at })),
  };
}

function held(): State {
  let s = emptyState(ME);
  s = appendListPage(s, 'all', {
    items: [cora('cv_c1', { status: 'queued', assignee_id: null }), cora('cv_c2', { status: 'resolved' }), dan('cv_d1')],
    next_cursor: null,
  });
  s = setTimeline(s, 'cv_c1', { items: [msg('m1', 'cv_c1'), msg('m2', 'cv_c1', { created_at: '2026-01-01T10:01:00.000Z' })], next_cursor: 'older' }, true);
  s = setTimeline(s, 'cv_d1', { items: [msg('m3', 'cv_d1')], next_cursor: null }, true);
  s = putContact(s, profile(cora('cv_c1'), ['cv_c1', 'cv_c2', 'cv_c3']));
  s = putContact(s, profile(dan('cv_d1'), ['cv_d1']));
  return s;
}
const erased: ServerEvent = { type: 'contact.erased', contact_id: 'ct_cora', conversation_ids: ['cv_c1', 'cv_c2', 'cv_c3'] };

describe('contact.erased in the state', () => {
  it("drops the contact's conversations from every tab, with their timelines, and the contact from the profiles and names", () => {
    const before = held();
    expect(visibleList(before, 'all').map((c) => c.id)).toEqual(['cv_d1', 'cv_c2', 'cv_c1']);
    const s = applyEvent(before, erased);
    for (const tab of ['mine', 'unassigned', 'all', 'resolved'] as const) {
      expect(visibleList(s, tab).some((c) => c.contact.id === 'ct_cora')).toBe(false);
    }
    expect(Object.keys(s.conversations)).toEqual(['cv_d1']);
    expect(Object.keys(s.messages)).toEqual(['cv_d1']);
    expect('cv_c1' in s.olderCursor).toBe(false);
    expect(Object.keys(s.contacts)).toEqual(['ct_dan']);
    expect(s.names.ct_cora).toBeUndefined();
    expect(s.names.ct_dan).toBe('Dan');
    // Dan's conversation is untouched (the very same objects).
    expect(s.conversations.cv_d1).toBe(before.conversations.cv_d1);
    expect(s.messages.cv_d1).toBe(before.messages.cv_d1);
  });

  it('also drops a conversation of that contact held here that the event does not name', () => {
    const s = applyEvent(held(), { type: 'contact.erased', contact_id: 'ct_cora', conversation_ids: ['cv_c1'] });
    expect(Object.keys(s.conversations)).toEqual(['cv_d1']);
    expect(s.erasedConversations).toMatchObject({ cv_c1: true, cv_c2: true, cv_c3: true });
  });

  it('the conversations of a contact: listed with it, or in its profile', () => {
    expect(conversationsOfContact(held(), 'ct_cora').sort()).toEqual(['cv_c1', 'cv_c2', 'cv_c3']);
    expect(conversationsOfContact(held(), 'ct_nobody')).toEqual([]);
  });

  it('an erased conversation never comes back: a late push, a list page, a timeline page, a profile read before', () => {
    let s = applyEvent(held(), erased);
    const late = cora('cv_c1', { version: 9, status: 'assigned', assignee_id: ME });
    expect(newlyAssignedToMe(s, { type: 'conversation.updated', conversation: late })).toBeNull();
    s = applyEvent(s, { type: 'conversation.updated', conversation: late });
    s = applyEvent(s, { type: 'message.created', conversation_id: 'cv_c2', message: msg('m9', 'cv_c2'), conversation: cora('cv_c2', { version: 5 }) });
    // A new conversation of the erased contact (read before the erasure) is not taken either.
    s = appendListPage(s, 'all', { items: [cora('cv_c4')], next_cursor: null });
    s = resyncList(s, 'mine', { items: [late, dan('cv_d1')], next_cursor: null }, null);
    s = setTimeline(s, 'cv_c1', { items: [msg('m1', 'cv_c1')], next_cursor: null }, true);
    s = prependOlder(s, 'cv_c1', { items: [msg('m0', 'cv_c1')], next_cursor: null });
    s = putContact(s, profile(cora('cv_c1'), ['cv_c1']));
    s = rememberName(s, { id: 'ct_cora', display_name: 'Cora Chen' });
    s = applyEvent(s, { type: 'contact.updated', contact: { ...late.contact, updated_at: '2027-01-01T00:00:00.000Z' } });
    expect(Object.keys(s.conversations)).toEqual(['cv_d1']);
    expect(Object.keys(s.messages)).toEqual(['cv_d1']);
    expect(Object.keys(s.contacts)).toEqual(['ct_dan']);
    expect(s.names.ct_cora).toBeUndefined();
  });

  it("removes the erased conversations from any other profile's list too", () => {
    let s = held();
    // A profile read while a conversation was still listed under another contact (a merge).
    s = putContact(s, profile(dan('cv_d1'), ['cv_d1', 'cv_c2']));
    s = eraseContact(s, 'ct_cora', ['cv_c2']);
    expect(s.contacts.ct_dan.conversations.map((x) => x.id)).toEqual(['cv_d1']);
  });

  it('a contact merged into the erased one (a pointer held here) goes with it', () => {
    let s = held();
    s = putContact(s, { ...profile(cora('cv_c1'), []), id: 'ct_old', display_name: 'C. Chen', merged_into: 'ct_cora' });
    expect(s.names.ct_old).toBe('C. Chen');
    s = applyEvent(s, erased);
    expect(Object.keys(s.contacts)).toEqual(['ct_dan']);
    expect(s.names.ct_old).toBeUndefined();
    expect(s.erasedContacts).toEqual({ ct_cora: true, ct_old: true });
  });

  it('works inside a batch, and a second time changes nothing (the same state)', () => {
    const s = applyEvent(held(), { type: 'batch', events: [erased] });
    expect(Object.keys(s.conversations)).toEqual(['cv_d1']);
    expect(applyEvent(s, erased)).toBe(s);
    expect(eraseContact(s, 'ct_cora', [])).toBe(s);
  });

  it('an erasure of a contact not held still remembers it (a page on its way cannot bring it in)', () => {
    let s = applyEvent(emptyState(ME), { type: 'contact.erased', contact_id: 'ct_x', conversation_ids: ['cv_x'] });
    expect(s.conversations).toEqual({});
    s = appendListPage(s, 'all', { items: [conv('cv_x'), conv('cv_y', { contact: { ...CORA, id: 'ct_x' } }), conv('cv_z')], next_cursor: null });
    expect(Object.keys(s.conversations)).toEqual(['cv_z']);
  });

  it('a malformed event (no conversation list) still erases what is held of the contact', () => {
    const s = applyEvent(held(), { type: 'contact.erased', contact_id: 'ct_cora' } as unknown as ServerEvent);
    expect(Object.keys(s.conversations)).toEqual(['cv_d1']);
  });
});

describe('the erase button enables once the phrase is typed', () => {
  it("the phrase is the contact's name; ERASE when it has none", () => {
    expect(erasePhrase('Cora Chen')).toBe('Cora Chen');
    expect(erasePhrase('  Cora   Chen ')).toBe('Cora Chen');
    expect(erasePhrase('')).toBe(ERASE_WORD);
    expect(erasePhrase('   ')).toBe('ERASE');
    expect(erasePhrase(null)).toBe('ERASE');
    expect(erasePhrase(undefined)).toBe('ERASE');
  });

  it('exactly the name, case included; spaces at the ends or doubled do not matter', () => {
    expect(eraseConfirmed('', 'Cora Chen')).toBe(false);
    expect(eraseConfirmed('Cora', 'Cora Chen')).toBe(false);
    expect(eraseConfirmed('cora chen', 'Cora Chen')).toBe(false);
    expect(eraseConfirmed('Cora Chen!', 'Cora Chen')).toBe(false);
    expect(eraseConfirmed('Cora Chen', 'Cora Chen')).toBe(true);
    expect(eraseConfirmed('  Cora  Chen ', 'Cora Chen')).toBe(true);
    expect(eraseConfirmed('ERASE', 'Cora Chen')).toBe(false);
  });

  it('a contact without a name: ERASE, in capitals', () => {
    expect(eraseConfirmed('ERASE', '')).toBe(true);
    expect(eraseConfirmed(' ERASE ', '  ')).toBe(true);
    expect(eraseConfirmed('erase', '')).toBe(false);
    expect(eraseConfirmed('', '')).toBe(false);
  });

  it('the same name in another Unicode form matches; other scripts work', () => {
    expect(eraseConfirmed('Zoe\u0301', 'Zoé')).toBe(true);
    expect(eraseConfirmed('李伟', '李伟')).toBe(true);
    expect(eraseConfirmed('李', '李伟')).toBe(false);
  });
});

type Call = { method: string; url: string; headers: Record<string, string> };
function stubFetch(answer: (c: Call) => Response) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, headers: { ...(init.headers as Record<string, string>) } };
    calls.push(c);
    return answer(c);
  });
  return calls;
}
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
function api() {
  const onUnauthorized = vi.fn();
  const a = new Api({ apiBase: '', wsUrl: '' }, onUnauthorized);
  a.token = 'tok';
  return a;
}
const ARCHIVE = { format: 'omnidesk-contact-export/1', exported_at: '2026-03-01T10:00:00Z', contact: { id: 'ct_cora' }, conversations: [], files: [] };

describe('the API helpers', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('export: GET /contacts/{id}/export with the bearer token (never in the URL), as a Blob named as the answer says', async () => {
    const calls = stubFetch(() => json(ARCHIVE, 200, { 'content-disposition': 'attachment; filename="contact-ct_cora.json"' }));
    const { blob, filename } = await api().exportContact('ct_cora');
    expect(calls).toEqual([{ method: 'GET', url: '/api/v1/contacts/ct_cora/export', headers: { Authorization: 'Bearer tok' } }]);
    expect(filename).toBe('contact-ct_cora.json');
    expect(JSON.parse(await blob.text())).toEqual(ARCHIVE);
  });

  it('export: named contact-<id>.json when the answer names no file; the id is escaped in the path', async () => {
    const calls = stubFetch(() => json(ARCHIVE));
    expect((await api().exportContact('ct_a/b')).filename).toBe('contact-ct_a/b.json');
    expect(calls[0].url).toBe('/api/v1/contacts/ct_a%2Fb/export');
    expect(contactExportName('ct_1')).toBe('contact-ct_1.json');
  });

  it("export refused (403): an ApiError with the server's code and message", async () => {
    stubFetch(() => json({ error: { code: 'forbidden', message: 'only an admin may export a contact' } }, 403));
    const e = await api().exportContact('ct_cora').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.message]).toEqual([403, 'forbidden', 'only an admin may export a contact']);
  });

  it('a flat error body (`{"error":"forbidden","message":…}`) gives the code and the message too', async () => {
    stubFetch(() => json({ error: 'forbidden', message: 'only an admin may export a contact' }, 403));
    const e = await api().exportContact('ct_cora').catch((x) => x);
    expect([e.status, e.code, e.message]).toEqual([403, 'forbidden', 'only an admin may export a contact']);
  });

  it('erase: DELETE /contacts/{id} with the bearer token; the counts read from the answer', async () => {
    const calls = stubFetch(() => json({ erased: { contact: 'ct_cora', conversations: 2, messages: 41, files: 3 } }));
    const answer = await api().eraseContact('ct_cora');
    expect(calls.map((c) => `${c.method} ${c.url} ${c.headers.Authorization}`)).toEqual(['DELETE /api/v1/contacts/ct_cora Bearer tok']);
    expect(parseErasure(answer, 'ct_cora')).toEqual({ contact: 'ct_cora', conversations: 2, messages: 41, files: 3 });
  });

  it('erase of an unknown contact: a 404 ApiError', async () => {
    stubFetch(() => json({ error: 'not_found' }, 404));
    const e = await api().eraseContact('ct_gone').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(404);
    expect(contactDataError(t, 'erase', e.status, e.message)).toBe('This contact no longer exists: it was erased or merged meanwhile.');
  });

  it('the conversations and merged contacts an answer names (none when not said)', () => {
    const answer = { erased: { contact: 'ct_cora', merged_contacts: ['ct_old'], conversations: 2, conversation_ids: ['cv_1', 'cv_2', 7], messages: 5, files: 0 } };
    expect(erasedIds(answer)).toEqual({ conversations: ['cv_1', 'cv_2'], contacts: ['ct_old'] });
    expect(parseErasure(answer, 'ct_cora')).toEqual({ contact: 'ct_cora', conversations: 2, messages: 5, files: 0 });
    expect(erasedIds({ erased: { conversations: 1 } })).toEqual({ conversations: [], contacts: [] });
    expect(erasedIds(null)).toEqual({ conversations: [], contacts: [] });
  });

  it('an answer without counts is still an erasure, said without them', () => {
    expect(parseErasure(null, 'ct_1')).toBeNull();
    expect(parseErasure({}, 'ct_1')).toBeNull();
    expect(parseErasure({ erased: { contact: 'ct_1', conversations: '2', messages: 1, files: 0 } }, 'ct_1')).toBeNull();
    expect(parseErasure({ erased: { conversations: 0, messages: 0, files: 0 } }, 'ct_1')).toEqual({ contact: 'ct_1', conversations: 0, messages: 0, files: 0 });
  });
});

describe('what the view says', () => {
  it('the confirmation counts, singular and plural, in both languages', () => {
    expect(erasureText(t, { contact: 'c', conversations: 3, messages: 41, files: 2 })).toBe('Contact erased: 3 conversations, 41 messages and 2 files.');
    expect(erasureText(t, { contact: 'c', conversations: 1, messages: 1, files: 0 })).toBe('Contact erased: 1 conversation, 1 message and 0 files.');
    expect(erasureText(t, null)).toBe('Contact erased.');
    expect(erasureText(zh, { contact: 'c', conversations: 3, messages: 41, files: 1 })).toBe('联系人已删除：3 个会话、41 条消息、1 个文件。');
  });

  it("a refusal: the server's message after what failed; a contact that is gone, plainly", () => {
    expect(contactDataError(t, 'export', 403, 'only an admin may export a contact')).toBe('Could not export the data: only an admin may export a contact');
    expect(contactDataError(t, 'erase', 403, 'only an admin may erase a contact')).toBe('Nothing was erased: only an admin may erase a contact');
    expect(contactDataError(t, 'erase', null, 'Failed to fetch')).toBe('Nothing was erased: Failed to fetch');
    expect(contactDataError(t, 'export', 404, 'contact not found')).toBe(t('contactGone'));
  });

  it('every new string exists in Chinese too, and differs from the English', () => {
    const keys: Key[] = ['contactData', 'export_action', 'erase_action', 'erase_title', 'erase_what', 'erase_audit', 'erase_type', 'erase_do', 'erase_done', 'conversationErased', 'deny_exportContact', 'deny_eraseContact'];
    for (const k of keys) expect(zh(k)).not.toBe(t(k));
    expect(zh('erase_type', { a: 'ERASE' })).toContain('ERASE');
  });
});
