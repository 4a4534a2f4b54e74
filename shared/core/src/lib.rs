//! omnidesk-core: the ports (traits) every adapter implements, the typed queue jobs, the
//! WebSocket event protocol, and the small use cases shared by several functions.
//!
//! Depends only on `omnidesk-domain`. AWS SDK, SQLite and teloxide types never appear here:
//! adapters (`omnidesk-aws`, `omnidesk-local`, `omnidesk-telegram`, …) implement these traits
//! and functions are written against them.
//!
//! With the `test-util` feature, [`testing`] provides an in-memory adapter for every port and
//! a conformance suite per port that every adapter must pass.
//!
//! # Store access patterns (one DynamoDB access pattern per store method)
//!
//! The store is one DynamoDB table with generic keys `PK`/`SK`, four overloaded GSIs and a
//! `ttl` attribute (epoch seconds; reads filter `ttl > now` because expiry is lazy). Every
//! method of the store ports maps to exactly one of these; the SQLite adapter implements the
//! same contract with tables and unique indexes.
//!
//! | port method | DynamoDB access pattern |
//! |---|---|
//! | `ContactStore::create_contact` | `TransactWriteItems`: Put `CONTACT#id/PROFILE` + Put `IDENT#key/IDENT` per identity, each `attribute_not_exists(PK)` (an identity claimed twice fails the whole write → `Conflict`) |
//! | `ContactStore::get_contact` | `GetItem` `CONTACT#id/PROFILE` |
//! | `ContactStore::contact_id_by_identity` | `GetItem` `IDENT#key/IDENT` |
//! | `ContactStore::update_contact` | `PutItem` `CONTACT#id/PROFILE`, condition `version = :read` (optimistic) |
//! | `ContactStore::add_identity` | `TransactWriteItems`: Put `IDENT#key` `attribute_not_exists(PK) OR contact = :me` + Update contact |
//! | `ConversationStore::create_conversation` | `TransactWriteItems`: Put `CONV#id/META` + Put `CKEY#key/CKEY` `attribute_not_exists(PK)` |
//! | `ConversationStore::get_conversation` | `GetItem` `CONV#id/META` |
//! | `ConversationStore::conversation_by_key` | `GetItem` `CKEY#key/CKEY` (holds a copy of the conversation id, then `GetItem` by id: two reads, one pattern each) |
//! | `ConversationStore::update_conversation` | `PutItem` `CONV#id/META`, condition `version = :read`; sets `GSI1..4` keys |
//! | `ConversationStore::list_conversations` (status) | `Query` GSI1 `GSI1PK = STATUS#<s>`, `GSI1SK` = `<activity ms>#<id>`, descending |
//! | `ConversationStore::list_conversations` (assignee) | `Query` GSI2 `GSI2PK = ASSIGNEE#<agent>`, descending, status as filter |
//! | `ConversationStore::list_conversations` (all) | `Query` GSI3 `GSI3PK = CONVS`, descending (sharded by a suffix when a tenant outgrows one partition) |
//! | `ConversationStore::list_conversations_of_contact` | `Query` GSI4 `GSI4PK = CONTACT#id`, descending |
//! | `ConversationStore::count_assigned` | `Query` GSI2 `GSI2PK = ASSIGNEE#<agent>`, filter `status = assigned`, `Select = COUNT` |
//! | `MessageStore::append_message` | `PutItem` `CONV#cid/MSG#<id>` `attribute_not_exists(PK)`; with a source key: `TransactWriteItems` + Put `SRC#key` `attribute_not_exists(PK)` (TTL 7 days) |
//! | `MessageStore::get_message` | `GetItem` `CONV#cid/MSG#<id>` (UUIDv7 ids sort by time) |
//! | `MessageStore::update_delivery` | `UpdateItem` `CONV#cid/MSG#<id>` `attribute_exists(PK)`, `ReturnValues = ALL_NEW` |
//! | `MessageStore::list_messages` | `Query` `PK = CONV#cid`, `SK begins_with MSG#` (and `< MSG#cursor`), descending |
//! | `AgentStore::create_agent` | `TransactWriteItems`: Put `AGENTS/AGENT#id` + Put `AEMAIL#email/AEMAIL` `attribute_not_exists(PK)` |
//! | `AgentStore::get_agent` | `GetItem` `AGENTS/AGENT#id` |
//! | `AgentStore::agent_id_by_email` | `GetItem` `AEMAIL#email/AEMAIL` |
//! | `AgentStore::list_agents` | `Query` `PK = AGENTS` |
//! | `AgentStore::update_agent` | `PutItem` `AGENTS/AGENT#id`, condition `attribute_exists(PK)` |
//! | `AgentStore::next_counter` | `UpdateItem` `COUNTER#name/COUNTER` `ADD n :1`, `ReturnValues = UPDATED_NEW` |
//! | `BotStore::put_bot` | `PutItem` `BOTS/BOT#id` |
//! | `BotStore::get_bot` | `GetItem` `BOTS/BOT#id` |
//! | `BotStore::list_bots` | `Query` `PK = BOTS` |
//! | `BotStore::set_poll_offset` | `UpdateItem` `BOTS/BOT#id` `SET poll_offset`, condition `attribute_exists(PK)` |
//! | `DeadLetterStore::record_dead_letter` | `PutItem` `DEADLETTER/<ms>#<id>` with `ttl` (30 days) |
//! | `DeadLetterStore::list_dead_letters` | `Query` `PK = DEADLETTER`, descending, `ttl > now` filter |
//! | `ConnectionStore::add_connection` | `PutItem` `CONNS/CONN#id` with `ttl` (2 h, API Gateway's connection limit) |
//! | `ConnectionStore::remove_connection` | `DeleteItem` `CONNS/CONN#id` |
//! | `ConnectionStore::list_connections` | `Query` `PK = CONNS`, `ttl > now` filter |
//!
//! Cursors are opaque strings: the adapter encodes the last key it returned
//! (`LastEvaluatedKey` on DynamoDB, `(sort, id)` on SQLite).

pub mod events;
pub mod jobs;
pub mod ports;
pub mod usecases;

#[cfg(feature = "test-util")]
pub mod testing;

pub use events::{ClientAction, ContactView, ConversationView, ServerEvent};
pub use jobs::{InboundJob, JobError, JobOutcome, OutboundJob, QueueName, TimerJob, retry_backoff};
pub use ports::*;
