// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../src/api';
import { ConversationPane } from '../src/app';
import { conversationChannels, pathLabel } from '../src/channels';
import { Controller } from '../src/controller';
import { EMAIL_CSP, cleanSubject, emailHeads, emailRef, emailSrcdoc, replyAddress } from '../src/email';
import { EmailAutomatic, EmailExtras, FormattedEmail } from '../src/email-view';
import { CHANNEL_ICON, channelLabel, translate, type Key } from '../src/i18n';
import type { ConversationView, Message } from '../src/types';
import { BOB_QUOTED, conv, emailIn, emailOut, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
let root: HTMLElement;
beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});
const $ = (sel: string) => root.querySelector(sel) as HTMLElement | null;
const $$ = (sel: string) => Array.from(root.querySelectorAll(sel)) as HTMLElement[];
const flush = () => act(async () => void (await new Promise((r) => setTimeout(r, 0))));

describe('e-mail subject and address lines', () => {
  it('a subject loses its reply / forward prefixes and our ticket tag', () => {
    expect(cleanSubject('Re: Refund for order #1024 [#K7Q2]')).toBe('Refund for order #1024');
    expect(cleanSubject('RE: re:Fwd: AW:  Refund   for order #1024')).toBe('Refund for order #1024');
    expect(cleanSubject('Re[2]: [#K7Q2] Refund')).toBe('Refund');
    expect(cleanSubject('Receipt for order #1024')).toBe('Receipt for order #1024'); // "Re" inside a word stays
    expect(cleanSubject('[urgent] Refund')).toBe('[urgent] Refund'); // only our "#" tags go
  });

  it('the subject heads the first mail and wherever it changes, not on "Re:" replies', () => {
    const messages: Message[] = [
      emailIn('m1', 'cv'),
      emailOut('m2', 'cv'),
      emailIn('m3', 'cv', { subject: 'RE: refund for order #1024 [#K7Q2]' }),
      msg('m4', 'cv', { channel: 'telegram' }),
      emailIn('m5', 'cv', { subject: 'Re: New address for order #1024' }),
      emailIn('m6', 'cv', { subject: null }),
    ];
    const heads = emailHeads(messages);
    expect(heads.get('m1')).toEqual({ subject: 'Refund for order #1024', address: 'bob@customer.org', direction: 'from' });
    expect(heads.has('m2')).toBe(false);
    expect(heads.has('m3')).toBe(false);
    expect(heads.has('m4')).toBe(false);
    expect(heads.get('m5')).toEqual({ subject: 'New address for order #1024' });
    expect(heads.has('m6')).toBe(false);
  });

  it('the address shows again when the customer writes from another one; ours says "to"', () => {
    const heads = emailHeads([emailOut('m1', 'cv'), emailIn('m2', 'cv'), emailIn('m3', 'cv', { customer: 'bob@home.example' })]);
    expect(heads.get('m1')).toEqual({ subject: 'Refund for order #1024', address: 'bob@customer.org', direction: 'to' });
    expect(heads.has('m2')).toBe(false);
    expect(heads.get('m3')).toEqual({ address: 'bob@home.example', direction: 'from' });
  });

  it('only an e-mail channel_ref counts', () => {
    expect(emailRef(emailIn('m1', 'cv'))?.customer).toBe('bob@customer.org');
    expect(emailRef(msg('m2', 'cv', { channel_ref: { kind: 'telegram', bot_id: 1, chat_id: 2, message_ids: [3] } }))).toBeNull();
    expect(emailRef(msg('m3', 'cv'))).toBeNull();
  });
});

describe('where an e-mail reply goes', () => {
  it("the newest inbound mail's address, else the contact's e-mail identity, verified first", () => {
    const messages = [emailIn('m1', 'cv'), emailIn('m2', 'cv', { customer: 'bob@home.example' }), emailOut('m3', 'cv', {})];
    expect(replyAddress(messages)).toBe('bob@home.example');
    const contact = { identities: [{ kind: 'email' as const, address: 'old@x.org', verified: false }, { kind: 'email' as const, address: 'bob@x.org', verified: true }] };
    expect(replyAddress([msg('m1', 'cv')], contact)).toBe('bob@x.org');
    expect(replyAddress([], { identities: [] })).toBeNull();
  });
});

describe('formatted e-mail document', () => {
  it('starts with the CSP that fetches nothing and runs nothing, then the mail', () => {
    const doc = emailSrcdoc('<p>Hi <b>Bob</b></p>');
    expect(doc.startsWith(`<meta http-equiv="Content-Security-Policy" content="${EMAIL_CSP}">`)).toBe(true);
    expect(EMAIL_CSP).toBe("default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    expect(doc.endsWith('<p>Hi <b>Bob</b></p>')).toBe(true);
  });
});

describe('automatic mail', () => {
  it('says so, with the reason, and nothing for a person\'s mail', () => {
    act(() => render(<EmailAutomatic m={emailIn('m1', 'cv', { automatic: 'Auto-Submitted: auto-replied' })} t={t} />, root));
    const badge = $('[data-testid="email-automatic"]')!;
    expect(badge.textContent).toBe('Automatic reply: nothing automatic answers it · Auto-Submitted: auto-replied');
    act(() => render(<EmailAutomatic m={emailIn('m2', 'cv')} t={t} />, root));
    expect(root.innerHTML).toBe('');
  });
});

describe('e-mail extras under the text', () => {
  const load = vi.fn(async (_id: string) => '<p>Hello <b>bold</b></p><script>parent.__owned=1</script>');
  const show = (m: Message) => act(() => render(<EmailExtras m={m} t={t} loadHtml={load} />, root));

  it('the quote is folded; the toggle shows and hides it as preformatted text', () => {
    show(emailIn('m1', 'cv'));
    const toggle = $('[data-testid="quoted-toggle"]')!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(toggle.textContent).toBe('••• Show quoted text');
    expect($('[data-testid="quoted-text"]')).toBeNull();
    act(() => toggle.click());
    const pre = $('[data-testid="quoted-text"]')!;
    expect(pre.tagName).toBe('PRE');
    expect(pre.textContent).toBe(BOB_QUOTED);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(toggle.textContent).toBe('••• Hide quoted text');
    act(() => toggle.click());
    expect($('[data-testid="quoted-text"]')).toBeNull();
  });

  it('markup in the quote is text', () => {
    show(emailIn('m1', 'cv', { quoted: '> <img src=x onerror="window.__x=1">' }));
    act(() => $('[data-testid="quoted-toggle"]')!.click());
    expect($('[data-testid="quoted-text"]')!.textContent).toBe('> <img src=x onerror="window.__x=1">');
    expect($('img')).toBeNull();
  });

  it('nothing for a mail without quote or HTML, nor for other channels', () => {
    show(emailIn('m1', 'cv', { quoted: '  ', html: null }));
    expect(root.innerHTML).toBe('');
    show(msg('m2', 'cv'));
    expect(root.innerHTML).toBe('');
  });

  it('"View formatted e-mail" only when there is an HTML body; it opens the mail in an empty sandbox', async () => {
    show(emailIn('m1', 'cv', { html: null }));
    expect($('[data-testid="email-formatted"]')).toBeNull();
    show(emailIn('m2', 'cv'));
    act(() => $('[data-testid="email-formatted"]')!.click());
    expect(load).toHaveBeenCalledWith('m2');
    expect($('[data-testid="email-dialog"]')!.getAttribute('role')).toBe('dialog');
    expect($('[data-testid="email-html-loading"]')).not.toBeNull();
    await flush();
    const frame = $('[data-testid="email-frame"]') as HTMLIFrameElement;
    expect(frame.tagName).toBe('IFRAME');
    expect(frame.getAttribute('sandbox')).toBe('');
    expect(frame.getAttribute('srcdoc')).toBe(emailSrcdoc('<p>Hello <b>bold</b></p><script>parent.__owned=1</script>'));
    expect($('[data-testid="email-dialog"]')!.getAttribute('aria-label')).toBe('Refund for order #1024');
    // Nothing of it is in the page itself.
    expect(root.querySelector('b, script')).toBeNull();
  });

  it('Esc, × or a click beside the sheet closes it', async () => {
    show(emailIn('m1', 'cv'));
    act(() => $('[data-testid="email-formatted"]')!.click());
    await flush();
    act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect($('[data-testid="email-dialog"]')).toBeNull();
    act(() => $('[data-testid="email-formatted"]')!.click());
    act(() => $('[data-testid="email-dialog-close"]')!.click());
    expect($('[data-testid="email-dialog"]')).toBeNull();
    act(() => $('[data-testid="email-formatted"]')!.click());
    act(() => $('[data-testid="email-dialog"]')!.click());
    expect($('[data-testid="email-dialog"]')).toBeNull();
  });

  it('a failure says so clearly: none on the server (404), or the reason', async () => {
    act(() => render(<FormattedEmail title="x" t={t} onClose={() => {}} load={() => Promise.reject(new ApiError(404, 'not_found', 'HTML body not found'))} />, root));
    await flush();
    expect($('[data-testid="email-html-error"]')!.textContent).toBe('This e-mail has no formatted version.');
    expect($('iframe')).toBeNull();
    act(() => render(null, root));
    act(() => render(<FormattedEmail title="x" t={t} onClose={() => {}} load={() => Promise.reject(new ApiError(503, 'unavailable', 'file storage is unavailable; try again'))} />, root));
    await flush();
    expect($('[data-testid="email-html-error"]')!.textContent).toBe('Could not load the formatted e-mail: file storage is unavailable; try again');
  });
});

describe('an e-mail conversation in the pane', () => {
  function pane(c: ConversationView, messages: Message[]) {
    localStorage.clear();
    const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 't', agent: { id: 'ag_me', email: 'a@x', name: 'A', status: 'online' } }, { onLoggedOut: () => {} });
    ctrl.state.conversations[c.id] = c;
    ctrl.state.messages[c.id] = messages;
    act(() => render(<ConversationPane ctrl={ctrl} conv={c} t={t} agentName={(id) => (id === 'ag_me' ? 'you' : id ?? '?')} composerRef={{ current: null }} />, root));
    return ctrl;
  }
  const emailConv = (patch: Partial<ConversationView> = {}) => conv('cv', { channel: 'email', channel_path: ['email'], ...patch });

  it('the first mail has the subject, the address and the new text; the reply with "Re:" has no subject line', () => {
    pane(emailConv(), [emailIn('m1', 'cv'), emailOut('m2', 'cv')]);
    const [first, reply] = $$('[data-testid="message"]');
    expect(first.querySelector('[data-testid="email-subject"]')!.textContent).toBe('Refund for order #1024');
    expect(first.querySelector('[data-testid="email-address"]')!.textContent).toBe('<bob@customer.org>');
    expect(first.querySelector('[data-testid="message-text"]')!.textContent).toBe('The parcel never arrived. Can I get a refund?');
    expect(first.querySelector('[data-testid="quoted-text"]')).toBeNull();
    expect(first.querySelector('.chan-badge')!.getAttribute('data-channel')).toBe('email');
    expect(reply.querySelector('[data-testid="email-subject"]')).toBeNull();
    expect(reply.querySelector('[data-testid="email-address"]')).toBeNull();
  });

  it('the header shows the customer\'s detected language (a select to override it), "Language?" when none is known', () => {
    pane(emailConv({ language: 'ru' }), [emailIn('m1', 'cv')]);
    const badge = $('[data-testid="conversation-language"]') as HTMLSelectElement;
    expect(badge.value).toBe('ru');
    expect(badge.getAttribute('data-language')).toBe('ru');
    expect(badge.selectedOptions[0].textContent).toBe('Russian (ru)');
    pane(emailConv({ language: null }), [emailIn('m1', 'cv')]);
    const none = $('[data-testid="conversation-language"]') as HTMLSelectElement;
    expect(none.value).toBe('');
    expect(none.getAttribute('data-language')).toBeNull();
    expect(none.selectedOptions[0].textContent).toBe('Language?');
  });

  it('the composer says "Replying by e-mail to" the newest inbound address', () => {
    pane(emailConv(), [emailIn('m1', 'cv'), emailIn('m2', 'cv', { customer: 'bob@home.example' }), emailOut('m3', 'cv')]);
    expect($('[data-testid="email-reply-to"]')!.textContent).toBe('Replying by e-mail to bob@home.example');
    expect($('[data-testid="reply-target"]')!.getAttribute('data-channel')).toBe('email');
  });

  it('a Telegram conversation keeps "Reply goes to Telegram"', () => {
    pane(conv('cv'), [msg('m1', 'cv')]);
    expect($('[data-testid="email-reply-to"]')).toBeNull();
    expect($('[data-testid="reply-target"]')!.textContent).toContain('Reply goes to Telegram');
  });

  it('outbound e-mail shows sending, sent, and failed with the reason, like Telegram', () => {
    const out = (id: string, delivery: Message['delivery']) => emailOut(id, 'cv', { delivery });
    pane(emailConv(), [
      out('m1', { status: 'sending', attempts: 0, updated_at: '2026-01-01T10:00:00Z' }),
      out('m2', { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:00:00Z' }),
      out('m3', { status: 'failed', reason: 'relay refused: 550 5.1.1 mailbox unavailable', attempts: 3, updated_at: '2026-01-01T10:00:00Z' }),
    ]);
    expect($$('[data-testid="delivery"]').map((d) => d.textContent)).toEqual(['sending', 'sent', 'failed: relay refused: 550 5.1.1 mailbox unavailable']);
  });

  it('a bounce reads "Unreachable by e-mail: …" in the timeline and warns above the composer', () => {
    const since = '2026-01-01T10:06:00.000Z';
    const reason = 'e-mail to bob@customer.org bounced (5.1.1): user unknown';
    const c = emailConv();
    c.contact.unreachable = [{ channel: 'email', reason, since }];
    pane(c, [
      emailIn('m1', 'cv'),
      msg('m2', 'cv', { channel: 'email', author: { kind: 'system' }, text: '', event: { event: 'contact_unreachable', channel: 'email', reason } }),
    ]);
    const ev = $('[data-testid="system-event"]')!;
    expect(ev.getAttribute('data-event')).toBe('contact_unreachable');
    expect(ev.textContent).toContain(`Unreachable by e-mail: ${reason}`);
    expect($('[data-testid="unreachable"]')!.textContent).toContain(reason);
  });
});

describe('the e-mail channel in labels', () => {
  it('has its name, icon and place in a path ("E-mail → Telegram")', () => {
    expect(channelLabel('en', 'email')).toBe('E-mail');
    expect(channelLabel('zh', 'email')).toBe('邮件');
    expect(CHANNEL_ICON.email).toBe('✉');
    const path = conversationChannels({ channel: 'telegram', channel_path: ['email', 'telegram'] });
    expect(pathLabel(path, (c) => channelLabel('en', c))).toBe('E-mail → Telegram');
  });
});
