import type { ConversationView, Message } from '../src/types';

export const ME = 'ag_me';
export const OTHER = 'ag_other';

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
