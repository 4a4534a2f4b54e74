import type { Agent, ConversationView, EmailRef, Message, Role } from '../src/types';

export const ME = 'ag_me';
export const OTHER = 'ag_other';

/** An agent, online, whose e-mail is the id without its `ag_` at example.com (`ag_ann`: ann@example.com). */
export function person(id: string, name: string, role: Role, patch: Partial<Agent> = {}): Agent {
  return { id, email: `${id.slice(3)}@example.com`, name, status: 'online', role, ...patch };
}

export function conv(id: string, patch: Partial<ConversationView> = {}): ConversationView {
  return {
    id,
    status: 'assigned',
    assignee_id: ME,
    channel: 'telegram',
    channel_path: ['telegram'],
    contact: {
      id: `ct_${id}`,
      display_name: `Contact ${id}`,
      tags: [],
      attributes: {},
      identities: [],
      channels_seen: ['telegram'],
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
    },
    last_message: null,
    last_activity_at: '2026-01-01T10:00:00.000Z',
    last_inbound_at: null,
    unread_count: 0,
    created_at: '2026-01-01T09:00:00.000Z',
    version: 1,
    ...patch,
  };
}

export function msg(id: string, conversationId: string, patch: Partial<Message> = {}): Message {
  return {
    id,
    conversation_id: conversationId,
    direction: 'inbound',
    author: { kind: 'contact', id: 'ct_1' },
    channel: 'telegram',
    text: `text ${id}`,
    translations: [],
    attachments: [],
    delivery: { status: 'received', attempts: 0, updated_at: '2026-01-01T10:00:00.000Z' },
    created_at: '2026-01-01T10:00:00.000Z',
    ...patch,
  };
}

/** The quoted history and signature of Bob's first mail, as the e-mail ingest folds it. */
export const BOB_QUOTED = "On Mon, 12 Jan 2026 at 09:14, Example Support <support@example.com> wrote:\n> Thanks for your order #1024.\n> It ships tomorrow.\n-- \nBob Miller\nCustomer Org";

/**
 * Bob's mail as `GET /conversations/{id}/messages` returns it: `text` is only the new part;
 * the subject, his address, the quote and the HTML body's blob are in `channel_ref`.
 */
export function emailIn(id: string, conversationId: string, ref: Partial<EmailRef> = {}, patch: Partial<Message> = {}): Message {
  return msg(id, conversationId, {
    channel: 'email',
    author: { kind: 'contact', id: 'ct_bob' },
    text: 'The parcel never arrived. Can I get a refund?',
    source_key: `email:${id}@customer.org`,
    channel_ref: {
      kind: 'email',
      message_id: `${id}@customer.org`,
      subject: 'Refund for order #1024',
      customer: 'bob@customer.org',
      mailbox: 'support@example.com',
      references: ['order-1024@example.com'],
      quoted: BOB_QUOTED,
      html: `emails/${id}.html`,
      raw: `emails/${id}.eml`,
      ...ref,
    },
    ...patch,
  });
}

/** Our e-mail reply once sent: "Re: … [#TAG]", to the customer's address, no quote of ours. */
export function emailOut(id: string, conversationId: string, patch: Partial<Message> = {}): Message {
  return msg(id, conversationId, {
    channel: 'email',
    direction: 'outbound',
    author: { kind: 'agent', id: ME },
    text: 'Sorry about that, a refund is on its way.',
    delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:05:00.000Z' },
    channel_ref: {
      kind: 'email',
      message_id: `${id}@example.com`,
      subject: 'Re: Refund for order #1024 [#K7Q2]',
      customer: 'bob@customer.org',
      mailbox: 'support@example.com',
      references: ['order-1024@example.com', 'm1@customer.org'],
    },
    ...patch,
  });
}

/** localStorage stand-in. */
export class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}
