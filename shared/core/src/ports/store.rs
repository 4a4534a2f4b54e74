//! The store, split by capability so each function asks only for what it uses (and its IAM
//! policy grants only that). The DynamoDB access pattern of every method is in the crate docs.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use omnidesk_domain::{
    Agent, AgentId, BotId, ChannelRef, Contact, ContactId, Conversation, ConversationId,
    ConversationKey, ConversationStatus, Delivery, EmailAddress, Identity, IdentityKey, Message,
    MessageContent, MessageId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::ConnectionId;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write failed: a uniqueness rule (identity, e-mail, conversation key) or a
    /// stale optimistic version. Re-read and decide; retrying the same write cannot help.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to update does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend is unreachable, throttled or busy: retrying can help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be decoded: retrying cannot help.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether retrying the same operation later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A page request: at most `limit` items after the opaque `cursor` of a previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
}

/// One page of items and the cursor of the next page (`None` at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A secret string (bot token, webhook secret). Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret value; call only where it is sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Contacts and the identities that lead to them.
///
/// Guarantees: an identity key belongs to at most one contact (a second claim is `Conflict`,
/// and creating a contact with a claimed identity creates nothing); updates are optimistic on
/// `updated_at` (the value read), so concurrent edits are detected, not lost.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Creates the contact and claims all its identities, atomically.
    async fn create_contact(&self, contact: &Contact) -> StoreResult<()>;
    /// The contact, if it exists.
    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>>;
    /// Who holds an identity.
    async fn contact_id_by_identity(&self, key: &IdentityKey) -> StoreResult<Option<ContactId>>;
    /// Replaces the contact's profile. `expected_updated_at` is the `updated_at` that was read:
    /// `Conflict` if it changed since; `NotFound` if there is no such contact. Identities are
    /// not changed by this call (use `add_identity`).
    async fn update_contact(
        &self,
        contact: &Contact,
        expected_updated_at: Timestamp,
    ) -> StoreResult<()>;
    /// Claims one more identity for the contact (idempotent for the same contact; `Conflict`
    /// if another contact holds it).
    async fn add_identity(&self, contact: ContactId, identity: &Identity) -> StoreResult<()>;
    /// Moves an identity from one contact to another, atomically (a merge): the key then leads
    /// to `to`, and the identity leaves `from`'s list for `to`'s. Idempotent once moved;
    /// `Conflict` if a third contact holds it; `NotFound` if either contact is missing.
    async fn move_identity(
        &self,
        identity: &Identity,
        from: ContactId,
        to: ContactId,
    ) -> StoreResult<()>;
}

/// Which conversations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// `None` = every status.
    pub status: Option<ConversationStatus>,
    /// `Some(Some(a))` = assigned to `a`; `Some(None)` = unassigned; `None` = anyone.
    pub assignee: Option<Option<AgentId>>,
}

/// Conversations.
///
/// Guarantees: at most one conversation per [`ConversationKey`] (`create_conversation` with a
/// taken key is `Conflict`); `update_conversation` is optimistic (it succeeds only if the stored
/// version equals `conversation.version`, and stores `version + 1`); lists are ordered by
/// [`Conversation::list_rank`] descending — the *minute* of `last_activity_at`
/// ([`omnidesk_domain::activity_minute`]), then id descending — and pages never repeat or skip
/// an item that did not change in between. Within one minute the order is the id's, not the
/// exact activity time: a store can then keep its list indexes in this order without
/// re-keying them on every message (clients that want the exact order sort what they hold).
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates a conversation (its `version` must be 0).
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<()>;
    /// The conversation, if it exists.
    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;
    /// The conversation that owns a routing key.
    async fn conversation_by_key(&self, key: &ConversationKey)
    -> StoreResult<Option<Conversation>>;
    /// Stores a changed conversation; returns it with the new version.
    async fn update_conversation(&self, conversation: &Conversation) -> StoreResult<Conversation>;
    /// Lists conversations matching `filter`, by [`Conversation::list_rank`] descending.
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>>;
    /// A contact's conversations, by [`Conversation::list_rank`] descending.
    async fn list_conversations_of_contact(
        &self,
        contact: ContactId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>>;
    /// Points `key` at `conversation` (a conversation continued on another channel gains that
    /// channel's key), taking it from whichever conversation held it; returns that one when it
    /// was another. Idempotent. The caller records the key on the conversation
    /// ([`Conversation::add_key`]) with an ordinary update.
    async fn claim_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<Option<ConversationId>>;
    /// Stops `key` leading to `conversation` (a no-op when it leads elsewhere or nowhere);
    /// the next message on it starts a new conversation.
    async fn release_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<()>;
    /// How many conversations are `assigned` to `agent` (for capacity).
    async fn count_assigned(&self, agent: AgentId) -> StoreResult<u32>;
}

/// Whether `append_message` stored something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored.
    Inserted,
    /// A message with the same `source_key` exists already (its id: the same as the one
    /// appended when the id was derived from the source); nothing was stored.
    Duplicate(MessageId),
}

/// Messages of conversations.
///
/// Guarantees: a message id is stored once; lists are ordered by id (creation time)
/// descending.
///
/// Source keys: a message with a `source_key` (it comes from an external event) is stored at
/// most once per key: a second append with the same key returns `Duplicate` with the first
/// message's id and stores nothing, so redelivered events are harmless. An id that exists
/// otherwise (another or no source key) is `Conflict`.
///
/// Callers that can should derive the id from the event ([`MessageId::derived`]): a
/// redelivery then has the same id, and a store can drop it with one conditional write on the
/// id (DynamoDB does; a message whose id is not derived from its key costs it a second item).
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a new message.
    async fn append_message(&self, message: &Message) -> StoreResult<AppendOutcome>;
    /// One message.
    async fn get_message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> StoreResult<Option<Message>>;
    /// Sets the delivery state (and the channel reference once sent); returns the updated
    /// message. `NotFound` if it does not exist.
    async fn update_delivery(
        &self,
        conversation: ConversationId,
        id: MessageId,
        delivery: &Delivery,
        channel_ref: Option<&ChannelRef>,
    ) -> StoreResult<Message>;
    /// Replaces what the message says (text, attachments, edits) if it is still at revision
    /// `content.revision - 1`; returns the updated message. `NotFound` if it does not exist,
    /// `Conflict` if someone else changed it meanwhile (re-read and re-apply). Delivery and
    /// channel reference are untouched.
    async fn update_content(
        &self,
        conversation: ConversationId,
        id: MessageId,
        content: &MessageContent,
    ) -> StoreResult<Message>;
    /// A conversation's messages, newest first; the cursor pages towards older ones.
    async fn list_messages(
        &self,
        conversation: ConversationId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;
}

/// Agents, their logins and shared counters.
///
/// Guarantees: an e-mail belongs to at most one agent (`Conflict`); `next_counter` is atomic
/// and strictly increasing per name, across processes; `counter` reads the last value
/// `next_counter` returned (or a later one).
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Creates an agent.
    async fn create_agent(&self, agent: &Agent) -> StoreResult<()>;
    /// One agent.
    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    /// The agent who logs in with `email`.
    async fn agent_id_by_email(&self, email: &EmailAddress) -> StoreResult<Option<AgentId>>;
    /// Every agent, ordered by id.
    async fn list_agents(&self) -> StoreResult<Vec<Agent>>;
    /// Replaces an agent (`NotFound` if missing). The e-mail cannot change here.
    async fn update_agent(&self, agent: &Agent) -> StoreResult<()>;
    /// Atomically increments the counter `name` and returns the new value (1 first).
    async fn next_counter(&self, name: &str) -> StoreResult<u64>;
    /// The counter `name`'s value, without changing it (0 for a counter never incremented).
    async fn counter(&self, name: &str) -> StoreResult<u64>;
    /// [`Self::next_counter`] of a counter needed only until `expires_at` (a window's count,
    /// whose name carries the window): the store may forget it after that.
    async fn next_counter_until(&self, name: &str, expires_at: Timestamp) -> StoreResult<u64> {
        let _ = expires_at;
        self.next_counter(name).await
    }
}

/// How a bot receives updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotMode {
    /// Telegram posts to `/telegram/<bot id>/webhook`.
    Webhook,
    /// The local runtime long-polls `getUpdates` (no public URL needed).
    Polling,
}

/// A Telegram bot the system serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotConfig {
    pub id: BotId,
    pub token: Secret,
    /// Expected `X-Telegram-Bot-Api-Secret-Token` (1–256 chars of `A-Za-z0-9_-`).
    pub webhook_secret: Secret,
    pub username: Option<String>,
    pub mode: BotMode,
    /// Next `getUpdates` offset in polling mode.
    pub poll_offset: Option<i64>,
    pub created_at: Timestamp,
}

/// Bots.
///
/// Guarantees: `put_bot` upserts by id; `set_poll_offset` only moves an existing bot's offset.
#[async_trait]
pub trait BotStore: Send + Sync {
    /// Creates or replaces a bot.
    async fn put_bot(&self, bot: &BotConfig) -> StoreResult<()>;
    /// One bot.
    async fn get_bot(&self, id: BotId) -> StoreResult<Option<BotConfig>>;
    /// Every bot, ordered by id.
    async fn list_bots(&self) -> StoreResult<Vec<BotConfig>>;
    /// Records the next `getUpdates` offset (`NotFound` if the bot is gone).
    async fn set_poll_offset(&self, id: BotId, offset: i64) -> StoreResult<()>;
}

/// One line of the audit log: who did what to what, and when. It names people by id only (an
/// erased contact's line says that a contact was erased, not who).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: Timestamp,
    /// The agent who did it; `None`: the server's own command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<AgentId>,
    /// What was done: `signed_in`, `signed_out`, `password_changed`, `role_changed`,
    /// `agent_disabled`, `agent_enabled`, `contacts_merged`, `rules_changed`, ….
    pub action: String,
    /// What it was done to (an agent or contact id, `rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// More of it, without personal data (`agent → supervisor`, `version 4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The client address of a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The audit log: append-only (no port method changes or removes an entry).
///
/// Guarantees: an entry is listed until its `keep_until` and dropped by the store after;
/// listing is newest first (by `at`, then id).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entry`, kept until `keep_until`.
    async fn record_audit(&self, entry: &AuditEntry, keep_until: Timestamp) -> StoreResult<()>;
    /// The entries still kept, newest first.
    async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>>;
}

/// An ingest input that could not be parsed, kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    /// Where it came from, e.g. `telegram:<bot id>`.
    pub source: String,
    /// Why it was rejected.
    pub reason: String,
    /// The raw body (lossy UTF-8).
    pub body: String,
    pub received_at: Timestamp,
}

/// Whether a dead letter's `body` names any of `needles` (white space in the body ignored, so
/// `"id": 5` and `"id":5` are the same): what [`ErasureStore::erase_dead_letters_naming`] deletes.
pub fn body_names_any(body: &str, needles: &[String]) -> bool {
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    needles
        .iter()
        .any(|n| !n.is_empty() && compact.contains(n.as_str()))
}

/// Poison inputs of ingest functions.
///
/// Guarantees: records are kept at least 30 days; listing is newest first.
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Keeps a rejected input.
    async fn record_dead_letter(&self, dead_letter: &DeadLetter) -> StoreResult<()>;
    /// The newest rejected inputs.
    async fn list_dead_letters(&self, page: &PageRequest) -> StoreResult<Page<DeadLetter>>;
}

/// A WebSocket connection of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub agent_id: AgentId,
    pub connected_at: Timestamp,
    /// What the agent may read, as of the connect (a role change ends the connection; a team
    /// change applies at the next connect). `None` (a connection from before roles): every
    /// conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<Viewer>,
}

/// Whose conversations a connection may be told about: the agent's role and teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub role: omnidesk_domain::Role,
    #[serde(default)]
    pub teams: std::collections::BTreeSet<String>,
}

impl Viewer {
    /// The agent's role and teams.
    pub fn of(agent: &Agent) -> Self {
        Self {
            role: agent.role,
            teams: agent.teams.clone(),
        }
    }
}

/// Live WebSocket connections (so any function can push to agents).
///
/// Guarantees: `add` upserts by id; `remove` of an unknown id is not an error; a connection that
/// cannot be live any more is not listed. Stored adapters (DynamoDB, SQLite) drop records older
/// than 2 hours, API Gateway's maximum connection age; the in-process hub lists exactly its open
/// sockets.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Registers a connection.
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()>;
    /// Forgets a connection.
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()>;
    /// Every live connection.
    async fn list_connections(&self) -> StoreResult<Vec<Connection>>;
}

/// Deleting a customer's data for good: an erasure on request (the right to erasure) and the
/// retention timer.
///
/// Guarantees: every call is idempotent (what is gone already is no error), so an erasure
/// stopped half-way is finished by running it again; nothing deleted here is readable through
/// any other port afterwards.
#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Deletes a conversation for good: its record, the routing keys that lead to it, every
    /// message (with its source-key claim), the AI calls recorded for it, and the cached
    /// translations linked to it (`TranslationStore::link_cached_translations`).
    async fn erase_conversation(&self, conversation: &Conversation) -> StoreResult<()>;
    /// Up to `limit` of a conversation's messages created before `before`, oldest first (what
    /// retention deletes next).
    async fn messages_before(
        &self,
        conversation: ConversationId,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Deletes these messages of a conversation (with their source-key claims).
    async fn erase_messages(
        &self,
        conversation: ConversationId,
        ids: &[MessageId],
    ) -> StoreResult<()>;
    /// Deletes a contact's profile and the identity claims that lead to it (not a claim that
    /// leads to another contact).
    async fn erase_contact(&self, contact: &Contact) -> StoreResult<()>;
    /// Deletes the single-use tokens (continue-on-another-channel links, `/bind` codes) these
    /// owners hold: their payloads name the customer.
    async fn erase_tokens_of(&self, owners: &[String]) -> StoreResult<()>;
    /// Deletes the ingest dead letters (rejected webhook bodies, kept for an operator) whose
    /// body names any of `needles`, compared with the body's white space removed; returns how
    /// many went.
    async fn erase_dead_letters_naming(&self, needles: &[String]) -> StoreResult<usize>;
    /// Of the blob `keys`, those a stored message names, other than the messages of the
    /// conversations `except` and the messages `except_messages`: files are stored by content,
    /// so the same bytes sent in another conversation share one blob, which must stay.
    async fn blobs_in_use(
        &self,
        keys: &BTreeSet<String>,
        except: &BTreeSet<ConversationId>,
        except_messages: &BTreeSet<MessageId>,
    ) -> StoreResult<BTreeSet<String>>;
    /// Makes the deletions final on disk, where a store keeps old copies of what it deleted
    /// (SQLite's write-ahead log): called once at the end of an erasure or a sweep.
    async fn settle(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Every store capability, for adapters that implement them all and for wiring.
pub trait Store:
    ContactStore
    + ConversationStore
    + MessageStore
    + AgentStore
    + BotStore
    + DeadLetterStore
    + ConnectionStore
    + AuditStore
    + ErasureStore
{
}

impl<T> Store for T where
    T: ContactStore
        + ConversationStore
        + MessageStore
        + AgentStore
        + BotStore
        + DeadLetterStore
        + ConnectionStore
        + AuditStore
        + ErasureStore
{
}
