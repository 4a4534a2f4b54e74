// E-mail in the timeline, as pure functions (unit-tested in test/email.test.tsx): the subject
// line shown where a thread starts or changes, the customer's address, whom a reply goes to,
// and the document a formatted e-mail is shown as inside a sandboxed frame.

import type { Contact, EmailRef, Message } from './types';

/** The e-mail reference of a message, or null (another channel, or an older server). */
export function emailRef(m: Pick<Message, 'channel_ref'>): EmailRef | null {
  const r = m.channel_ref;
  return r && r.kind === 'email' ? (r as EmailRef) : null;
}

const PREFIX = /^\s*(?:re|fwd?|aw|wg|sv|vs|antw|r)\s*(?:\[\d+\])?\s*[:：]\s*/i;
const TAG = /\s*\[#[^\]\s]+\]\s*/g;

/**
 * A subject without its reply / forward prefixes ("Re:", "RE[2]:", "Fwd:", "AW:") and our
 * ticket tag ("[#TAG]"), spaces folded: "Re: Re: Refund [#A1B2]" is "Refund".
 */
export function cleanSubject(subject: string): string {
  let s = subject.replace(TAG, ' ').replace(/\s+/g, ' ').trim();
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(PREFIX, '').trim();
  }
  return s;
}

/** What an e-mail shows above its text: the subject line and the customer's address. */
export interface EmailHead {
  /** The subject (cleaned), on the first mail with one and wherever it changes. */
  subject?: string;
  /** The customer's address, on the first mail and wherever it changes. */
  address?: string;
  /** `from` for a mail the customer sent, `to` for ours. */
  direction?: 'from' | 'to';
}

/**
 * The head line of each e-mail in a timeline (oldest first), by message id. A subject that
 * only gains "Re:" or a tag is no change; nor is a case change.
 */
export function emailHeads(messages: readonly Message[]): Map<string, EmailHead> {
  const heads = new Map<string, EmailHead>();
  let lastSubject: string | null = null;
  let lastAddress: string | null = null;
  for (const m of messages) {
    const r = emailRef(m);
    if (!r) continue;
    const head: EmailHead = {};
    const subject = r.subject ? cleanSubject(r.subject) : '';
    if (subject && subject.toLowerCase() !== lastSubject) {
      head.subject = subject;
      lastSubject = subject.toLowerCase();
    }
    const address = r.customer?.trim();
    if (address && address.toLowerCase() !== lastAddress) {
      head.address = address;
      head.direction = m.direction === 'outbound' ? 'to' : 'from';
      lastAddress = address.toLowerCase();
    }
    if (head.subject || head.address) heads.set(m.id, head);
  }
  return heads;
}

/**
 * Where an e-mail reply goes: the customer's address on their newest mail here, else the
 * contact's e-mail identity (verified first), else null.
 */
export function replyAddress(messages: readonly Message[], contact?: Pick<Contact, 'identities'>): string | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    const address = m.direction === 'inbound' ? emailRef(m)?.customer?.trim() : '';
    if (address) return address;
  }
  const emails = (contact?.identities ?? []).filter((x) => x.kind === 'email') as { address: string; verified: boolean }[];
  return (emails.find((x) => x.verified) ?? emails[0])?.address ?? null;
}

/**
 * The CSP every formatted e-mail is shown under: nothing is fetched (pictures only as
 * `data:`), no script, no form; styles inline only.
 */
export const EMAIL_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/** The frame's own defaults (the mail's styles come after and win): readable, never wider than the frame. */
const EMAIL_BASE_STYLE = 'body{font:14px/1.5 system-ui,sans-serif;color:#1f2328;margin:16px;overflow-wrap:anywhere}img{max-width:100%;height:auto}';

/**
 * The `srcdoc` of a formatted e-mail: the CSP first, so it governs everything after it;
 * links aimed at a new window (which the empty sandbox refuses) so a click never loads a
 * remote page in the frame; then default styles, then the mail.
 */
export function emailSrcdoc(html: string): string {
  return `<meta http-equiv="Content-Security-Policy" content="${EMAIL_CSP}"><base target="_blank"><style>${EMAIL_BASE_STYLE}</style>${html}`;
}
