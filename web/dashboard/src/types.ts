// JSON shapes of the agent API (shared/domain, shared/core/src/events.rs). Timestamps are RFC 3339.

export type Channel = 'telegram' | 'email' | 'web';
export type ConversationStatus = 'bot' | 'queued' | 'assigned' | 'resolved';
export type AgentStatus = 'online' | 'busy' | 'offline';
/**
 * What an agent may do (highest first): admin: settings, rules, the FAQ, agents; supervisor:
 * every conversation, the reports, reassigning, merging and saved replies; agent: their teams'
 * conversations, the common queue and their own.
 */
export type Role = 'admin' | 'supervisor' | 'agent';
export type DeliveryStatus = 'sending' | 'sent' | 'failed' | 'received';

export interface Agent {
  id: string;
  email: string;
  name: string;
  status: AgentStatus;
  capacity?: number;
  /** Every language the agent reads (their own among them). */
  languages?: string[];
  /** The agent's own language; unset: the first of `languages`, else English. */
  language?: string | null;
  /**
   * What the agent chose (`PUT /agents/me/status`); absent: their status follows the dashboard
   * (online while one is connected). `status` is then the effective one.
   */
  chosen_status?: AgentStatus | null;
  teams?: string[];
  skills?: string[];
  /** Absent: a server without roles (everyone may do everything). */
  role?: Role;
  /** Present (true) only for a disabled agent: they cannot sign in and take no conversations. */
  disabled?: boolean;
  /** Two-factor sign-in (TOTP) is on; absent: a server without it. */
  totp?: boolean;
  created_at?: Time;
}

/** A time as the API sends it: RFC 3339 (a `Timestamp`), or milliseconds since the epoch. */
export type Time = string | number;

export type Priority = 'low' | 'normal' | 'high' | 'urgent';

/** The customer's rating after a resolve. */
export interface Csat {
  /** 1 (bad) to 5 (great). */
  score: number;
  comment?: string | null;
  at?: Time;
}

export type Identity =
  | { kind: 'telegram'; bot_id: number | string; user_id: number; username?: string | null }
  | { kind: 'email'; address: string; verified: boolean }
  | { kind: 'web_visitor'; visitor_id: string }
  | { kind: 'phone'; e164: string };

export interface Contact {
  id: string;
  display_name: string;
  language?: string | null;
  tags: string[];
  attributes: Record<string, string>;
  identities: Identity[];
  channels_seen: Channel[];
  unreachable?: { channel: Channel; reason: string; since: string }[];
  history_summary?: string | null;
  /** Set when this contact was merged into another one: it is only a pointer now. */
  merged_into?: string | null;
  created_at: string;
  updated_at: string;
}

export interface LastMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  author_kind: string;
  channel: Channel;
  text: string;
  created_at: string;
}

export interface ConversationView {
  id: string;
  status: ConversationStatus;
  assignee_id: string | null;
  /** Where the customer writes now: where replies go. */
  channel: Channel;
  channel_path: Channel[];
  /** The channels the conversation moved through, oldest first (the same as `channel_path`). */
  channels?: Channel[];
  contact: Contact;
  /** The customer's language: detected from their messages, or as an agent set it (`PUT …/language`). */
  language?: string | null;
  last_message: LastMessage | null;
  last_activity_at: string;
  last_inbound_at: string | null;
  unread_count: number;
  /** Until when the customer has read the conversation (a widget's read receipt). */
  customer_read_at?: string | null;
  created_at: string;
  /** What happened earlier in the conversation, kept up to date by the server (absent: none yet). */
  summary?: HistorySummary | null;
  /** AI answers since the conversation last came to the bot (absent: none). */
  ai_turns?: number;
  /** The team whose queue it is in (absent: the default queue). */
  team?: string | null;
  /** The skill an agent needs to take it. */
  skill?: string | null;
  /** Absent: normal. */
  priority?: Priority | null;
  queued_at?: Time | null;
  first_response_at?: Time | null;
  resolved_at?: Time | null;
  hops?: number;
  /** Labels agents put on it (absent: none). */
  labels?: string[];
  /** Snoozed until then (absent: not snoozed). */
  snoozed_until?: Time | null;
  csat?: Csat | null;
  version: number;
}

/** The summary of a conversation's earlier history (`summary` of a conversation). */
export interface HistorySummary {
  text: string;
  /** The newest message folded in: later messages are not in it. */
  through: string;
  updated_at: string;
  /** Written by an LLM; `false`: extractive, built without one. */
  generated: boolean;
}

/** A conversation as `GET /contacts/{id}` lists it (no embedded contact). */
export interface ConversationSummary {
  id: string;
  status: ConversationStatus;
  channel: Channel;
  channel_path: Channel[];
  channels?: Channel[];
  contact_id?: string;
  last_message: LastMessage | null;
  last_activity_at: string;
  created_at: string;
}

export interface ContactWithConversations extends Contact {
  conversations: ConversationSummary[];
}

/** `DELETE /contacts/{id}`: what was erased for good (`{"erased": …}`). */
export interface ErasureCounts {
  contact: string;
  conversations: number;
  messages: number;
  files: number;
  /** The erased conversations (absent from an older answer: those held of the contact are). */
  conversation_ids?: string[];
  /** The contacts that had been merged into it, erased with it. */
  merged_contacts?: string[];
}

export type Author =
  | { kind: 'contact'; id: string }
  | { kind: 'agent'; id: string }
  | { kind: 'bot' }
  | { kind: 'ai' }
  | { kind: 'system' };

export type AttachmentKind = 'image' | 'file' | 'audio' | 'voice' | 'video' | 'sticker' | 'location' | 'contact' | 'poll' | 'dice';

/**
 * A file or structured item on a message (shared/domain/src/attachment.rs). `url` is a signed,
 * short-lived link the HTTP API adds once the bytes are stored (possibly relative, e.g.
 * `/files/<key>?exp=…&sig=…`); WebSocket events carry `blob` but never `url`.
 */
export interface Attachment {
  kind: AttachmentKind | string;
  reference: string;
  file_name?: string | null;
  mime_type?: string | null;
  size_bytes?: number | null;
  blob?: string | null;
  url?: string | null;
  /** Why the bytes are not available ("Not downloaded: over Telegram's 20 MB limit…"). */
  note?: string | null;
  width?: number | null;
  height?: number | null;
  duration_secs?: number | null;
  emoji?: string | null;
  latitude?: number | null;
  longitude?: number | null;
  /** A venue's name, a contact's name, a poll's question. */
  title?: string | null;
  address?: string | null;
  phone?: string | null;
  options?: string[] | null;
  value?: number | null;
}

export interface PreviousText {
  text: string;
  replaced_at: string;
}

export type SystemEvent =
  | { event: 'assigned'; agent: string; by: string | null }
  | { event: 'transferred'; from: string; to: string; by: string | null }
  | { event: 'unassigned'; agent: string; by: string | null }
  | { event: 'resolved'; by: string | null }
  | { event: 'reopened' }
  | { event: 'channel_switched'; path: { from: Channel; to: Channel } }
  | { event: 'contact_unreachable'; channel: Channel; reason: string }
  | { event: 'channel_unlinked'; channel: Channel }
  | { event: 'contacts_merged'; from: string; into: string; by: string | null }
  | { event: 'notice'; text: string }
  /** The bot or the AI handed the conversation to people, and why. */
  | { event: 'handed_over'; reason: string }
  /** An agent gave the conversation back to the bot and the AI. */
  | { event: 'handed_back'; by: string | null };

/** An e-mail's headers as the dashboard needs them (`channel_ref` of kind `email`). */
export interface EmailRef {
  kind: 'email';
  message_id: string;
  /** The subject line, decoded; ours carry "Re: … [#TAG]" once sent. */
  subject?: string | null;
  /** The customer's address: the sender of an inbound mail, the recipient of ours. */
  customer?: string | null;
  /** Our mailbox that received or sent it. */
  mailbox?: string | null;
  references?: string[];
  /** The quoted history and signature below the new text (`text` is only the new part). */
  quoted?: string | null;
  /** Blob key of the sanitised HTML body: `GET …/messages/{id}/html` serves it. */
  html?: string | null;
  raw?: string | null;
  /** Why the mail is automatic (an out-of-office reply, a list mail, a delivery report). */
  automatic?: string | null;
}

/** Where the message is on its channel; kinds this build does not use are kept as they come. */
export type ChannelRef = EmailRef | { kind: 'telegram' | 'web' | string; [key: string]: unknown };

/** A Telegram bot of the deployment (`GET /api/v1/bots`): which one a message came through. */
export interface Bot {
  id: string;
  username?: string;
}

/** A text of a message in another language (shared/domain `Translation`). */
export interface Translation {
  language: string;
  text: string;
  provider: string;
}

export type TranslationState = 'pending' | 'done' | 'not_needed' | 'failed' | 'sent_original';

/**
 * Where a message's translation stands (shared/domain `TranslationStatus`). Outbound, `target`
 * is the customer's language: once `done`, the customer received `translations[target]`; while
 * `pending` or `failed` the reply is held (a failure not `retrying` waits for the agent).
 * A state this build does not know is kept as it comes and shown as nothing.
 */
export interface MessageTranslation {
  state: TranslationState | (string & {});
  target?: string | null;
  reason?: string | null;
  retrying?: boolean;
}

export interface Message {
  id: string;
  conversation_id: string;
  direction: 'inbound' | 'outbound';
  author: Author;
  channel: Channel;
  text: string;
  /** The detected language of `text` (a BCP 47 tag such as `ru` or `zh-Hans`). */
  language?: string | null;
  translations: Translation[];
  /** Absent: the deployment translates nothing, or the message predates translation. */
  translation?: MessageTranslation | null;
  attachments: Attachment[];
  delivery: { status: DeliveryStatus; reason?: string; attempts: number; updated_at: string };
  event?: SystemEvent;
  source_key?: string;
  created_at: string;
  /** When the customer last edited it; `edit_history` holds the texts before, oldest first. */
  edited_at?: string | null;
  edit_history?: PreviousText[];
  reply_to?: { text: string; author?: string | null } | null;
  forwarded_from?: string | null;
  /** The channel's album id: an album is one message with several attachments. */
  album?: string | null;
  buttons?: { text: string; data: string }[];
  /** Content changes after storing (edits, album parts, fetched files): higher is newer. */
  revision?: number;
  channel_ref?: ChannelRef | null;
  /** An internal note: shown to agents, never sent to the customer. */
  internal?: boolean;
}

export type ServerEvent =
  | { type: 'hello'; agent_id: string; connection_id: string }
  /** `conversation`: the conversation after the message (instead of a separate conversation.updated). */
  | { type: 'message.created'; conversation_id: string; message: Message; conversation?: ConversationView }
  | { type: 'message.updated'; conversation_id: string; message: Message }
  | { type: 'conversation.updated'; conversation: ConversationView }
  | { type: 'contact.updated'; contact: Contact }
  /** A contact was erased (GDPR): their conversations are gone for good, on every channel. */
  | { type: 'contact.erased'; contact_id: string; conversation_ids: string[] }
  | { type: 'presence'; agent_id: string; status: AgentStatus; chosen_status?: AgentStatus | null }
  /**
   * An admin changed an agent (`PATCH /agents/{id}`: teams, role, access): the agent as it is now.
   * For me, a team change also changes which conversations the server lets me read and pushes.
   */
  | { type: 'agent.updated'; agent: Agent }
  /** Something for this agent only (an @mention in a private note). */
  | { type: 'notification'; notification: AgentNotification }
  | { type: 'pong' }
  | { type: 'error'; message: string }
  /** Several events in one WebSocket message, applied in order. */
  | { type: 'batch'; events: ServerEvent[] };

/** `GET /api/v1/translation`: whether this deployment translates, and each provider's daily use. */
export interface TranslationSetup {
  enabled: boolean;
  providers: string[];
  quota: { provider: string; used_today: number; limit: number | null; reached: boolean }[];
}

/** `POST …/translation-preview`: what the customer would receive for a draft. */
export type TranslationPreview =
  | { needed: false; language: string | null }
  | { needed: true; language: string; text: string; provider: string }
  | { needed: true; language: string; error: string };

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** `GET /api/v1/ai`: how this deployment's AI answers (`off`: not at all). */
export interface AiSetup {
  provider: 'kb' | 'openai' | 'bedrock' | 'off' | string;
  model: string | null;
  faq_entries: number;
}

/** `POST …/assist/suggestion`: a reply the agent may use (`text` null: none, and why). */
export interface Suggestion {
  text: string | null;
  source?: string;
  reason?: string;
}

/** One entry of the knowledge base (`GET /api/v1/faq`). */
export interface FaqEntry {
  id: string;
  questions: string[];
  answer: string;
  language: string | null;
  enabled: boolean;
  updated_at: string;
}

/** The body of `POST /faq` and `PUT /faq/{id}`. */
export interface FaqInput {
  questions: string[];
  answer: string;
  language?: string | null;
  enabled?: boolean;
}

/** One call to the AI (`GET /api/v1/ai/calls`). */
export interface AiCall {
  id: string;
  conversation_id: string | null;
  message_id: string | null;
  at: string;
  kind: string;
  provider: string;
  model: string | null;
  prompt: string;
  answer: string;
  outcome: string;
  usage: { input: number; output: number } | null;
  cost_micros: number | null;
  latency_ms: number | null;
}

/** A notice pushed to one agent (`notification` event): an @mention in a private note. */
export interface AgentNotification {
  id: string;
  kind: 'mention' | (string & {});
  conversation_id: string;
  message_id?: string | null;
  /** The agent who caused it. */
  by: string;
  by_name: string;
  text: string;
  at: Time;
}

/** A saved reply (`GET /api/v1/canned`); `{customer_name}` and `{agent_name}` are filled in when inserted. */
export interface CannedResponse {
  shortcut: string;
  text: string;
  updated_at?: Time;
  updated_by?: string | null;
}

export type ReportGroup = 'agent' | 'team' | 'channel' | 'language' | 'bucket';

/** One row of `GET /api/v1/reports/summary`. Durations in seconds; null: nothing to measure. */
export interface ReportRow {
  key: string;
  label: string;
  conversations: number;
  resolved: number;
  first_response_avg_secs: number | null;
  first_response_p50_secs: number | null;
  resolution_avg_secs: number | null;
  resolution_p50_secs: number | null;
  csat_avg: number | null;
  csat_count: number;
}

export interface ReportSummary {
  from: Time;
  to: Time;
  group_by: ReportGroup | string;
  totals: ReportRow;
  groups: ReportRow[];
}

export type RulesFormat = 'toml' | 'yaml';

/** A rule of the file in force: its name ("rule N" when it has none) and the 1-based line it starts on. */
export interface RuleRef {
  name: string;
  line: number;
}

/** `GET /api/v1/rules` (and a successful `PUT`): the routing rules in force. Version 0: none stored. */
export interface RulesDoc {
  source: string;
  format: RulesFormat;
  version: number;
  updated_at?: Time;
  rules: RuleRef[];
}

/** One team of `GET /api/v1/teams` (managed with `omnidesk team add`). */
export interface Team {
  name: string;
  /** IANA time zone of `hours` and `holidays`. */
  timezone: string;
  /** Opening hours (`mon-fri 09:00-18:00; sat 10:00-14:00`); empty: always open. */
  hours: string;
  holidays?: string[];
  /** Seconds a conversation may go unanswered before it moves to the next agent (0: never). */
  answer_within_secs: number;
  max_hops: number;
  busy_prompt?: string;
  out_of_office?: string;
  open_now: boolean;
  /** When it opens next (milliseconds since the epoch), while closed. */
  next_open?: Time;
  /** Agent ids. */
  agents: string[];
}
