// The /web/v1 wire types (see README.md, "Server contract").

export type Direction = 'inbound' | 'outbound';
export type AuthorKind = 'contact' | 'agent' | 'bot' | 'ai' | 'system';
export type DeliveryStatus = 'sending' | 'sent' | 'failed' | 'received';

export interface Delivery {
  status: DeliveryStatus;
  reason?: string;
  updated_at?: number | string;
}

export interface WebMessage {
  id: string;
  conversation_id: string;
  /** inbound = written by the visitor (on any channel); outbound = agent, bot, system. */
  direction: Direction;
  author: { kind: AuthorKind };
  author_name: string | null;
  channel: 'web' | 'telegram' | 'email' | string;
  text: string;
  delivery: Delivery;
  /** ms since the epoch (an RFC 3339 string is accepted and converted on merge). */
  created_at: number;
  client_id: string | null;
  event?: unknown;
  attachments?: WebAttachment[];
  /** Choices offered with the message: pressing one sends `data` as the message's `choice`, `text` as its text. */
  buttons?: WebButton[];
}

/** A reply button: `data` is what it means to the server (`human`, `csat:1`..`csat:5`, …). */
export interface WebButton {
  text: string;
  data: string;
}

/** A file or item on a message; `url` (maybe a path on the API) once the bytes are stored. */
export interface WebAttachment {
  kind: string;
  file_name?: string | null;
  mime_type?: string | null;
  size_bytes?: number | null;
  url?: string | null;
  /** Set once the bytes are stored; a push has it without `url`. */
  blob?: string | null;
  note?: string | null;
  duration_secs?: number | null;
  emoji?: string | null;
  latitude?: number | null;
  longitude?: number | null;
  title?: string | null;
  phone?: string | null;
  value?: number | null;
}

/** POST /web/v1/files → `{ file }`. */
export interface UploadedFile {
  id: string;
  kind: string;
  file_name: string;
  mime_type: string;
  size_bytes: number;
  url?: string;
}

export interface Website {
  id: string;
  name: string;
  telegram: boolean;
  prechat: boolean;
}

export interface Session {
  visitor_id: string;
  name: string | null;
  email: string | null;
  email_verified: boolean;
  conversation_id: string | null;
  channels: string[];
  telegram: { name: string; since: number } | null;
  website: Website;
}

export interface SessionCreated {
  visitor_token: string;
  expires_at: number | string;
  website: Website;
}

export interface MessagePage {
  items: WebMessage[];
  next_cursor: string | null;
}

export interface TelegramLink {
  url: string;
  expires_at: number;
}

export type ServerEvent =
  | { type: 'hello'; visitor_id: string }
  | { type: 'message.created'; conversation_id: string; message: WebMessage }
  | { type: 'message.updated'; conversation_id: string; message: WebMessage }
  | { type: 'session.updated'; session?: Session }
  | { type: 'pong' }
  | { type: 'error'; message: string }
  | { type: 'batch'; events: ServerEvent[] };
