//! omnidesk-local: the embedded adapters of the self-hosted mode — every store port and the
//! durable queues in one SQLite file, the in-process WebSocket hub, and e-mail: an inbound
//! SMTP listener ([`smtp`]) and the outbound mailers ([`OutboxMailer`], [`SmtpRelayMailer`]).
//!
//! Depends on `omnidesk-core` (the ports) and `omnidesk-domain` only; never on the AWS SDK,
//! teloxide or a function crate. Nothing here is a mock: it is a durable single-node backend.
//!
//! # The database file
//!
//! [`SqliteStore`] and [`SqliteQueue`] share one SQLite database, opened in WAL mode with
//! `foreign_keys = ON`, a busy timeout, and `synchronous = NORMAL` by default: a committed
//! write survives a crash or `kill -9` of the process. Surviving an OS crash or a power loss
//! needs [`Synchronous::Full`] (one fsync per commit), selected through [`SqliteOptions`].
//! One writer thread owns the write connection and commits *groups* of writes: every call
//! waiting when a transaction starts becomes one savepoint of it (a failing call rolls back
//! only itself), and each caller is answered after the shared commit. A WAL commit writes
//! every page it touched, so sharing commits between concurrent callers is what sustains
//! thousands of small writes per second. A small pool of read connections reads concurrently
//! on `tokio::task::spawn_blocking`; a checkpointer thread copies the WAL back into the file
//! off the writer's path. Statements are cached (`prepare_cached`). The schema is created and
//! migrated on open (`PRAGMA user_version`).
//!
//! Domain records are stored as JSON in a `json` column next to the columns that are indexed
//! or compared. The store mirrors the DynamoDB access patterns of `omnidesk_core` (each
//! port method is one statement or one short transaction):
//!
//! | table | columns (key / indexed) | port |
//! |---|---|---|
//! | `contacts` | `id` PK, `updated_at_ms` (optimistic check) | `ContactStore` |
//! | `identities` | `key` PK (one contact per identity), `contact_id` → `contacts` | `ContactStore::{create_contact, add_identity, contact_id_by_identity}` |
//! | `conversations` | `id` PK, `key` UNIQUE, `contact_id`, `status`, `assignee_id`, `last_activity_ms`, `activity_minute` (`Conversation::list_rank`, schema v2), `version`; indexes `(status, activity_minute, id)`, `(assignee, activity_minute, id)`, `(activity_minute, id)`, `(contact)` | `ConversationStore` (lists by keyset on `(activity_minute, id)` descending) |
//! | `messages` | `(conversation_id, id)` PK — the id is a UUIDv7, so id order is time order; `source_key` UNIQUE (nullable) | `MessageStore` |
//! | `agents` | `id` PK, `email` UNIQUE, `password_hash` (kept out of the JSON, which never holds it) | `AgentStore` |
//! | `counters` | `name` PK, `value` (upsert `+ 1 RETURNING`), `expires_at_ms` (schema v8: a windowed counter's end; each such write deletes up to 32 ended ones) | `AgentStore::{next_counter, next_counter_until, counter}` |
//! | `bots` | `id` PK | `BotStore` |
//! | `ingest_dead_letters` | `(received_at_ms, id)` PK, pruned after 30 days | `DeadLetterStore` |
//! | `connections` | `id` PK, `connected_at_ms` (not listed and pruned after 2 hours) | `ConnectionStore` |
//! | `mailboxes` | `address` PK | `MailStore::{put_mailbox, get_mailbox, list_mailboxes}` |
//! | `thread_refs` | `reference` PK → `conversation_key` (`INSERT … ON CONFLICT DO NOTHING`, then read: first writer wins) | `MailStore::{link_thread, thread_of}` |
//! | `unprocessable_mail` | `id` PK, index `(received_at_ms, id)` | `MailStore::{record_unprocessable, list_unprocessable, remove_unprocessable}` (newest first) |
//! | `translation_cache` | `key` PK, `json`, `expires_at` (ms; read only while `> now`; indexed, and each write deletes up to 32 expired rows) | `TranslationStore::{cached_translation, cache_translation}` |
//! | `translation_links` | `(conversation_id, key)` PK, `expires_at` (indexed; each write deletes up to 32 expired rows): which cached translations hold a conversation's text; erasing the conversation deletes them from `translation_cache` | `TranslationStore::link_cached_translations`, `ErasureStore::erase_conversation` |
//! | `translation_usage` | `(provider, day)` PK, `chars` (upsert `DO UPDATE … WHERE chars <= limit − n RETURNING chars`: never past the limit) | `TranslationStore::{add_usage, usage}` |
//! | `settings` | `name` PK, `version`, `json`; the glossary is the row `glossary` (stored only as the next version); the FAQ's version is the row `faq` (`version + 1` in the transaction of each change) | `TranslationStore::{glossary, put_glossary}`, `AiStore::faq_version` |
//! | `faq_entries` | `id` PK, `json`, `updated_ms`; a put is one transaction with the version step (schema v6) | `AiStore::{faq, put_faq_entries, delete_faq_entry}` |
//! | `ai_calls` | `id` PK (upsert), `conversation_id`, `at_ms`, `json`; indexes `(conversation_id, at_ms, id)`, `(at_ms, id)`; each record deletes up to 32 calls older than 90 days | `AiStore::{record_ai_call, ai_calls}` (newest first) |
//! | `teams` | `name` PK, `json` (upsert) | `RoutingStore::{put_team, get_team, list_teams, delete_team}` (by name) |
//! | `routing_rules` | one row `id = 1`: `version`, `json`; put by a conditional `INSERT … ON CONFLICT DO NOTHING` (over version 0) or `UPDATE … WHERE version = expected` (schema v7) | `RoutingStore::{get_rules, rules_version, put_rules}` |
//! | `canned_responses` | `shortcut` PK, `json` (upsert) | `RoutingStore::{put_canned, list_canned, delete_canned}` (by shortcut) |
//! | `queue_messages` | `seq` AUTOINCREMENT PK, `queue`, `grp`, `visible_at`, `not_before`, `receive_count`, `receipt`; indexes `(queue, visible_at, seq)` and `(queue, grp, seq)` | `Queue::{send, receive, ack, retry_later}` |
//! | `queue_dedupe` | `(queue, dedupe_id)` PK, `expires_at` (24 h window, pruned lazily) | `Queue::send` deduplication |
//! | `queue_dead_letters` | `seq` PK, `queue`, `reason`, `at_ms` | `Queue::{dead_letter, dead_letters}`, max receives |
//!
//! Page cursors are opaque strings (`<sort value>.<id>` of the last item returned).
//!
//! # The queue
//!
//! [`SqliteQueue`] keeps every guarantee of the `Queue` port: durable sends, visibility
//! deadlines stored in the file (an unacked message comes back after its timeout, also after a
//! restart), FIFO per group with in-flight blocking, a 24-hour deduplication window, delays,
//! and dead-lettering after [`QueueOptions::max_receives`]. Time comes from the injected
//! `Clock`. [`SqliteQueue::wait_for_work`] lets local workers sleep until a send or a
//! deadline instead of polling.
//!
//! # The hub
//!
//! [`Hub`] implements `Push` for WebSocket connections served by this process: each socket
//! registers and gets a bounded channel of frames; a post never does I/O.
//!
//! # E-mail
//!
//! [`smtp::serve`] receives mail on a loopback or private port behind the deployment's MX or
//! relay (no TLS or AUTH of its own) and hands complete messages to a [`smtp::MailSink`],
//! answering `250` only once the sink stored them. [`OutboxMailer`] writes outgoing mail as
//! `.eml` files; [`SmtpRelayMailer`] sends it through a relay (`smtp://`, `smtp+starttls://`,
//! `smtps://`).

mod ai_store;
mod blob;
mod db;
mod erasure_store;
mod hub;
mod mail_store;
mod mailer;
pub mod private_fs;
mod queue;
mod routing_store;
pub mod smtp;
mod store;
mod translation_store;

pub use blob::{FILES_PATH, FolderBlobStore, LinkError, SignedLink};
pub use db::{OpenError, SqliteOptions, Synchronous};
pub use hub::{HUB_BUFFER, Hub};
pub use mailer::{OutboxMailer, RELAY_TIMEOUT, RelayUrlError, SmtpRelayMailer};
pub use queue::{QueueOptions, SqliteQueue};
pub use store::SqliteStore;
