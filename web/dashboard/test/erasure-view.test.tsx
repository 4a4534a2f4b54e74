// @vitest-environment happy-dom
// A contact's personal data on screen and in the controller: Export data and Erase contact… in
// the profile (admins; disabled below, saying who may), the export saved as contact-<id>.json,
// the erase dialog (what goes for good, the name to type, Escape / Cancel / a press outside),
// an erasure done (gone from the lists at once, drafts and queued replies forgotten, the counts
// said) or refused (the server's words, nothing removed), and the `contact.erased` push.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { Profile } from '../src/app';
import { Controller } from '../src/controller';
import { ErasedPane, EraseDialog } from '../src/erasure-view';
import { translate, type Key } from '../src/i18n';
import { visibleList } from '../src/state';
import type { Agent, ConversationView } from '../src/types';
import { useDom } from './dom';
import { conv, msg, person } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const ANN = person('ag_ann', 'Ann Admin', 'admin');
const SUE = person('ag_sue', 'Sue Supervisor', 'supervisor');
const BOB = person('ag_bob', 'Bob Agent', 'agent');

const CORA = { ...conv('x').contact, id: 'ct_cora', display_name: 'Cora Chen' };
const cora = (id: string, patch: Partial<ConversationView> = {}) => conv(id, { contact: CORA, assignee_id: ANN.id, ...patch });
const other = conv('cv_d1', { contact: { ...CORA, id: 'ct_dan', display_name: 'Dan' }, assignee_id: ANN.id });

const { root, $, tid, flush, click, fill } = useDom();
const button = (id: string) => tid(id) as HTMLButtonElement;

type Call = { method: string; url: string; auth?: string };
function stubFetch(answer: (c: Call) => Response | null) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, auth: (init.headers as Record<string, string>)?.Authorization };
    calls.push(c);
    return answer(c) ?? json({ error: { code: 'no_route', message: 'no route' } }, 404);
  });
  return calls;
}
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const said = (calls: Call[]) => calls.map((c) => `${c.method} ${c.url}`);

/** A controller holding Cora's two conversations (cv_c1 open) and Dan's, with drafts and a queued reply. */
function controller(me: Agent = ANN) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: me }, { onLoggedOut: () => {} });
  ctrl.agents = [ANN, SUE, BOB];
  for (const c of [cora('cv_c1'), cora('cv_c2', { status: 'resolved' }), other]) ctrl.state.conversations[c.id] = c;
  ctrl.state.messages.cv_c1 = [msg('m1', 'cv_c1', { text: 'my address is 1 Main St' })];
  ctrl.openId = 'cv_c1';
  sessionStorage.setItem('omnidesk.open', 'cv_c1');
  localStorage.setItem('omnidesk.draft.cv_c1', 'Dear Cora');
  localStorage.setItem('omnidesk.draft.note.cv_c1', 'VIP');
  localStorage.setItem('omnidesk.draft.cv_d1', 'Dear Dan');
  ctrl.outbox.enqueue('cv_c2', 'queued for Cora');
  ctrl.outbox.enqueue('cv_d1', 'queued for Dan');
  return ctrl;
}
function mountProfile(ctrl: Controller, id = 'cv_c1') {
  const again = () => act(() => render(ctrl.state.conversations[id] ? <Profile ctrl={ctrl} conv={ctrl.state.conversations[id]} t={t} /> : <ErasedPane ctrl={ctrl} t={t} />, root()));
  again();
  ctrl.subscribe(again);
}
const onEvent = (ctrl: Controller, ev: unknown) => act(() => (ctrl as unknown as { onEvent: (e: unknown) => void }).onEvent(ev));

describe('who is offered Export data and Erase contact…', () => {
  it('an admin: both, in the profile under Personal data', () => {
    mountProfile(controller(ANN));
    expect(tid('contact-data')!.querySelector('h4')!.textContent).toBe('Personal data');
    expect(button('contact-export').textContent).toBe('Export data');
    expect(button('contact-export').disabled).toBe(false);
    expect(button('contact-erase').textContent).toBe('Erase contact…');
    expect(button('contact-erase').disabled).toBe(false);
    expect(button('contact-erase').getAttribute('aria-haspopup')).toBe('dialog');
  });

  it('a supervisor or an agent: both disabled, the tooltip saying only an admin may', () => {
    for (const me of [SUE, BOB]) {
      mountProfile(controller(me));
      expect(button('contact-export').disabled).toBe(true);
      expect(button('contact-export').title).toBe("Only an admin may export a contact's data.");
      expect(button('contact-export').getAttribute('aria-description')).toBe("Only an admin may export a contact's data.");
      expect(button('contact-erase').disabled).toBe(true);
      expect(button('contact-erase').title).toBe('Only an admin may erase a contact.');
      render(null, root());
    }
  });
});

describe('Export data', () => {
  it('fetches the archive with the bearer token and saves it through a blob URL as contact-<id>.json, then revokes the URL', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const calls = stubFetch((c) => (c.url.endsWith('/export') ? json({ format: 'omnidesk-contact-export/1' }, 200, { 'content-disposition': 'attachment; filename="contact-ct_cora.json"' }) : null));
    const created: Blob[] = [];
    const revokeObjectURL = vi.fn();
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: vi.fn((b: Blob) => (created.push(b), 'blob:contact')), revokeObjectURL }));
    const clicked: { href: string; download: string }[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.href, download: this.download });
    });
    mountProfile(controller());
    await act(async () => button('contact-export').click());
    await act(async () => {
      await vi.waitFor(() => expect(clicked).toHaveLength(1));
    });
    expect(said(calls)).toEqual(['GET /api/v1/contacts/ct_cora/export']);
    expect(calls[0].auth).toBe('Bearer tok');
    expect(clicked[0]).toEqual({ href: 'blob:contact', download: 'contact-ct_cora.json' });
    expect(JSON.parse(await created[0].text())).toEqual({ format: 'omnidesk-contact-export/1' });
    expect(document.querySelector('a[download]')).toBeNull(); // the link is gone again
    expect(revokeObjectURL).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(revokeObjectURL).toHaveBeenCalledWith('blob:contact');
    vi.useRealTimers();
    expect(button('contact-export').disabled).toBe(false);
    expect(tid('contact-export-error')).toBeNull();
  });

  it("a refusal shows the server's message, and nothing is saved", async () => {
    stubFetch(() => json({ error: { code: 'forbidden', message: 'only an admin may export a contact' } }, 403));
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    mountProfile(controller());
    await click(tid('contact-export'));
    await vi.waitFor(() => expect(tid('contact-export-error')).not.toBeNull());
    expect(tid('contact-export-error')!.textContent).toBe('Could not export the data: only an admin may export a contact');
    expect(tid('contact-export-error')!.getAttribute('role')).toBe('alert');
    expect(clicked).not.toHaveBeenCalled();
  });
});

describe('the erase dialog', () => {
  async function openDialog(ctrl = controller()) {
    mountProfile(ctrl);
    await click(tid('contact-erase'));
    return ctrl;
  }

  it('says what goes for good and enables Erase only once the name is typed exactly', async () => {
    stubFetch(() => null);
    await openDialog();
    const dialog = tid('erase-dialog')!;
    expect(dialog.getAttribute('role')).toBe('alertdialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect($(`#${dialog.getAttribute('aria-labelledby')}`)!.textContent).toBe('Erase Cora Chen?');
    const what = $(`#${dialog.getAttribute('aria-describedby')}`)!.textContent!;
    for (const part of ['for good, on every channel', 'identities', 'every conversation', 'every message', 'every file', 'cannot be undone', 'audit log keeps only that an erasure happened']) {
      expect(what).toContain(part);
    }
    const input = tid('erase-input') as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    expect(input.closest('label')!.textContent).toBe('Type Cora Chen to confirm');
    expect(tid('erase-phrase')!.textContent).toBe('Cora Chen');
    expect(button('erase-do').textContent).toBe('Erase for good');
    expect(button('erase-do').disabled).toBe(true);
    await fill(input, 'cora chen');
    expect(button('erase-do').disabled).toBe(true);
    await fill(input, 'Cora Che');
    expect(button('erase-do').disabled).toBe(true);
    await fill(input, 'Cora Chen ');
    expect(button('erase-do').disabled).toBe(false);
  });

  it('a contact without a name: ERASE to type', async () => {
    const ctrl = controller();
    for (const id of ['cv_c1', 'cv_c2']) ctrl.state.conversations[id] = { ...ctrl.state.conversations[id], contact: { ...CORA, display_name: '' } };
    await openDialog(ctrl);
    expect($('#erase-title')!.textContent).toBe('Erase this contact?');
    expect(tid('erase-input')!.closest('label')!.textContent).toBe('Type ERASE to confirm');
    await fill(tid('erase-input'), 'erase');
    expect(button('erase-do').disabled).toBe(true);
    await fill(tid('erase-input'), 'ERASE');
    expect(button('erase-do').disabled).toBe(false);
  });

  it('Escape, Cancel or a press outside it closes it, sending nothing; focus goes back to Erase contact…', async () => {
    const calls = stubFetch(() => null);
    await openDialog();
    await act(async () => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(tid('erase-dialog')).toBeNull();
    expect(document.activeElement).toBe(tid('contact-erase'));
    await click(tid('contact-erase'));
    await click(tid('erase-cancel'));
    expect(tid('erase-dialog')).toBeNull();
    await click(tid('contact-erase'));
    await act(async () => void tid('erase-input')!.dispatchEvent(new MouseEvent('mousedown', { bubbles: true })));
    expect(tid('erase-dialog')).not.toBeNull(); // inside it: stays
    await act(async () => void tid('erase-dialog')!.parentElement!.dispatchEvent(new MouseEvent('mousedown', { bubbles: true })));
    expect(tid('erase-dialog')).toBeNull();
    expect(calls).toEqual([]);
  });

  it('pressing Enter before the name is typed sends nothing', async () => {
    const calls = stubFetch(() => null);
    await openDialog();
    await fill(tid('erase-input'), 'Cora');
    await act(async () => void tid('erase-dialog')!.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })));
    await flush();
    expect(calls).toEqual([]);
  });

  it("refused: the server's message in the dialog, and nothing is removed", async () => {
    const calls = stubFetch(() => json({ error: { code: 'forbidden', message: 'only an admin may erase a contact' } }, 403));
    const ctrl = await openDialog();
    await fill(tid('erase-input'), 'Cora Chen');
    await click(tid('erase-do'));
    await vi.waitFor(() => expect(tid('erase-error')).not.toBeNull());
    expect(said(calls)).toEqual(['DELETE /api/v1/contacts/ct_cora']);
    expect(tid('erase-error')!.textContent).toBe('Nothing was erased: only an admin may erase a contact');
    expect(tid('erase-error')!.getAttribute('role')).toBe('alert');
    expect(tid('erase-dialog')).not.toBeNull();
    expect(button('erase-do').disabled).toBe(false); // may try again
    expect(Object.keys(ctrl.state.conversations).sort()).toEqual(['cv_c1', 'cv_c2', 'cv_d1']);
    expect(ctrl.openId).toBe('cv_c1');
    expect(ctrl.erased).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.cv_c1')).toBe('Dear Cora');
    expect(ctrl.outbox.all()).toHaveLength(2);
  });

  it('a 404: the contact is gone already', async () => {
    stubFetch(() => json({ error: 'not_found' }, 404));
    await openDialog();
    await fill(tid('erase-input'), 'Cora Chen');
    await click(tid('erase-do'));
    await vi.waitFor(() => expect(tid('erase-error')!.textContent).toBe('This contact no longer exists: it was erased or merged meanwhile.'));
  });

  it('done: the conversations leave the lists at once, drafts and queued replies are forgotten, and the counts are said', async () => {
    let answer!: (r: Response) => void;
    const calls = stubFetch(() => null);
    vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
      calls.push({ method: init.method ?? 'GET', url });
      return new Promise<Response>((r) => (answer = r));
    });
    const ctrl = controller();
    ctrl.state.contacts.ct_old = { ...CORA, id: 'ct_old', display_name: 'C. Chen', merged_into: 'ct_cora', conversations: [] };
    ctrl.state.names = { ct_old: 'C. Chen', ct_cora: 'Cora Chen', ct_dan: 'Dan' };
    await openDialog(ctrl);
    await fill(tid('erase-input'), 'Cora Chen');
    await click(tid('erase-do'));
    // Under way: the buttons wait, Escape does not close it.
    expect(button('erase-do').textContent).toBe('Erasing…');
    expect(button('erase-do').disabled).toBe(true);
    expect(button('erase-cancel').disabled).toBe(true);
    await act(async () => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(tid('erase-dialog')).not.toBeNull();
    // As the server answers: the counts, the conversations, and a contact merged into Cora earlier.
    await act(async () =>
      answer(json({ erased: { contact: 'ct_cora', merged_contacts: ['ct_old'], conversations: 2, conversation_ids: ['cv_c1', 'cv_c2'], messages: 41, files: 3 } })),
    );
    await flush();
    expect(said(calls)).toEqual(['DELETE /api/v1/contacts/ct_cora']);
    expect(Object.keys(ctrl.state.conversations)).toEqual(['cv_d1']);
    expect(visibleList(ctrl.state, 'all').map((c) => c.id)).toEqual(['cv_d1']);
    expect(ctrl.state.messages.cv_c1).toBeUndefined();
    expect(Object.keys(ctrl.state.contacts)).toEqual([]);
    expect(ctrl.state.names).toEqual({ ct_dan: 'Dan' });
    expect(ctrl.state.erasedContacts).toEqual({ ct_cora: true, ct_old: true });
    expect(ctrl.openId).toBeNull();
    expect(sessionStorage.getItem('omnidesk.open')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.cv_c1')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.note.cv_c1')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.cv_d1')).toBe('Dear Dan');
    expect(ctrl.outbox.all().map((p) => p.text)).toEqual(['queued for Dan']);
    expect(ctrl.erased).toEqual({ conversationId: 'cv_c1', counts: { contact: 'ct_cora', conversations: 2, messages: 41, files: 3 }, mine: true });
    // The pane: the notice and what was erased; no dialog, no profile.
    expect(tid('erase-dialog')).toBeNull();
    expect(tid('profile')).toBeNull();
    expect(tid('erased-notice')!.textContent).toBe('This conversation was erased.');
    expect(tid('erase-done')!.textContent).toBe('✓ Contact erased: 2 conversations, 41 messages and 3 files.');
    expect(tid('conversation-erased')!.getAttribute('role')).toBe('status');
    // The push that follows (to every agent, this one too) changes nothing more.
    onEvent(ctrl, { type: 'contact.erased', contact_id: 'ct_cora', conversation_ids: ['cv_c1', 'cv_c2'] });
    expect(ctrl.erased!.counts).not.toBeNull();
    expect(tid('erase-done')).not.toBeNull();
    // Opening another conversation leaves the notice.
    stubFetch(() => null);
    await act(async () => void ctrl.open('cv_d1'));
    expect(ctrl.erased).toBeNull();
  });
});

describe('the contact.erased push', () => {
  it('closes the open conversation with a neutral notice and forgets the drafts, queued replies and mentions of the erased ones', async () => {
    const ctrl = controller(BOB);
    ctrl.notifications = [
      { id: 'n1', kind: 'mention', conversation_id: 'cv_c2', by: SUE.id, by_name: SUE.name, text: '@bob see Cora', at: 0, read: false },
      { id: 'n2', kind: 'mention', conversation_id: 'cv_d1', by: SUE.id, by_name: SUE.name, text: '@bob see Dan', at: 0, read: false },
    ];
    mountProfile(ctrl);
    expect(tid('profile')).not.toBeNull();
    onEvent(ctrl, { type: 'batch', events: [{ type: 'contact.erased', contact_id: 'ct_cora', conversation_ids: ['cv_c1', 'cv_c2'] }] });
    expect(Object.keys(ctrl.state.conversations)).toEqual(['cv_d1']);
    expect(ctrl.state.contacts.ct_cora).toBeUndefined();
    expect(ctrl.openId).toBeNull();
    expect(ctrl.erased).toEqual({ conversationId: 'cv_c1', counts: null, mine: false });
    expect(tid('erased-notice')!.textContent).toBe('This conversation was erased.');
    expect(tid('conversation-erased')!.textContent).toContain("An admin erased the customer's data");
    expect(tid('erase-done')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.cv_c1')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.note.cv_c1')).toBeNull();
    expect(localStorage.getItem('omnidesk.draft.cv_d1')).toBe('Dear Dan');
    expect(ctrl.outbox.all().map((p) => p.conversationId)).toEqual(['cv_d1']);
    expect(ctrl.notifications.map((n) => n.id)).toEqual(['n2']);
    // Back to the list (a phone): the notice goes.
    await click(tid('erased-back'));
    expect(ctrl.erased).toBeNull();
  });

  it('a conversation open elsewhere stays open; only the erased ones leave the list', () => {
    const ctrl = controller(BOB);
    ctrl.openId = 'cv_d1';
    onEvent(ctrl, { type: 'contact.erased', contact_id: 'ct_cora', conversation_ids: ['cv_c1', 'cv_c2'] });
    expect(ctrl.openId).toBe('cv_d1');
    expect(ctrl.erased).toBeNull();
    expect(Object.keys(ctrl.state.conversations)).toEqual(['cv_d1']);
    // A late update of an erased conversation does not bring it back.
    onEvent(ctrl, { type: 'conversation.updated', conversation: cora('cv_c1', { version: 7 }) });
    expect(Object.keys(ctrl.state.conversations)).toEqual(['cv_d1']);
  });
});

describe('EraseDialog on its own', () => {
  it('closes once erased', async () => {
    const onClose = vi.fn();
    const erase = vi.fn(async () => null);
    act(() => render(<EraseDialog name="Li Wei" t={t} erase={erase} onClose={onClose} />, root()));
    await fill(tid('erase-input'), 'Li Wei');
    await click(tid('erase-do'));
    expect(erase).toHaveBeenCalledTimes(1);
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
