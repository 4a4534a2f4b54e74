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
//! | `ContactStore::update_contact` | `UpdateItem` `CONTACT#id/PROFILE` `SET data, updatedAt`, condition `updatedAt = :read` (optimistic; the `identities` attribute is not touched) |
//! | `ContactStore::add_identity` | `GetItem` contact, then `TransactWriteItems`: Put `IDENT#key` `attribute_not_exists(PK) OR contact = :me` + Update contact `SET identities`, condition `identRev = :read` (re-read and retried when a concurrent claim changed the list) |
//! | `ConversationStore::create_conversation` | `TransactWriteItems`: Put `CONV#id/META` + Put `CKEY#key/CKEY` `attribute_not_exists(PK)` |
//! | `ConversationStore::get_conversation` | `GetItem` `CONV#id/META` |
//! | `ConversationStore::conversation_by_key` | `GetItem` `CKEY#key/CKEY` (holds a copy of the conversation id, then `GetItem` by id: two reads, one pattern each) |
//! | `ConversationStore::update_conversation` | `PutItem` `CONV#id/META`, condition `version = :read AND convKey = :key`; sets `GSI1..3` keys (GSI1 and GSI2 sort by `rank` = `<activity minute, zero-padded>#<id>`, i.e. [`omnidesk_domain::Conversation::list_rank`], so an update within the same minute, status and assignee leaves every index key unchanged; GSI3 sorts by `PK`, creation order, and never moves) |
//! | `ConversationStore::list_conversations` (status) | `Query` GSI1 `GSI1PK = STATUS#<s>`, `rank` = `<activity minute>#<id>`, descending |
//! | `ConversationStore::list_conversations` (assignee) | `Query` GSI2 `GSI2PK = ASSIGNEE#<agent>` (`ASSIGNEE#none` = unassigned), descending, status as filter |
//! | `ConversationStore::list_conversations` (all) | `Query` GSI1 per status (`rank < cursor`), merged by rank: no index of all conversations follows activity, and no single partition takes every write |
//! | `ConversationStore::list_conversations_of_contact` | `Query` GSI3 `GSI3PK = CONTACT#id` (all keys: a contact has few conversations), `BatchGetItem`, ordered by rank in memory |
//! | `ConversationStore::count_assigned` | `Query` GSI2 `GSI2PK = ASSIGNEE#<agent>`, filter `status = assigned`, `Select = COUNT` |
//! | `MessageStore::append_message` | `PutItem` `CONV#cid/MSG#<id>` `attribute_not_exists(PK)`, `ReturnValuesOnConditionCheckFailure = ALL_OLD`: a failed condition whose old item has the same `sourceKey` is `Duplicate(id)`, otherwise `Conflict` (a message with a source key has an id derived from it, `MessageId::derived`, so one conditional write dedupes) |
//! | `MessageStore::get_message` | `GetItem` `CONV#cid/MSG#<id>` (UUIDv7 ids sort by time) |
//! | `MessageStore::update_delivery` | `UpdateItem` `CONV#cid/MSG#<id>` `SET delivery[, channelRef]` (attributes that override the stored record) `attribute_exists(PK)`, `ReturnValues = ALL_NEW` |
//! | `MessageStore::list_messages` | `Query` `PK = CONV#cid`, `SK begins_with MSG#` (and `< MSG#cursor`), descending |
//! | `AgentStore::create_agent` | `TransactWriteItems`: Put `AGENTS/AGENT#id` + Put `AEMAIL#email/AEMAIL` `attribute_not_exists(PK)` |
//! | `AgentStore::get_agent` | `GetItem` `AGENTS/AGENT#id` |
//! | `AgentStore::agent_id_by_email` | `GetItem` `AEMAIL#email/AEMAIL` |
//! | `AgentStore::list_agents` | `Query` `PK = AGENTS` |
//! | `AgentStore::update_agent` | `UpdateItem` `AGENTS/AGENT#id` `SET data, pwhash`, condition `attribute_exists(PK)` (the `email` attribute stays) |
//! | `AgentStore::next_counter` | `UpdateItem` `COUNTER#name/COUNTER` `ADD n :1`, `ReturnValues = UPDATED_NEW` |
//! | `AgentStore::next_counter_until` | the same, `SET ttl = if_not_exists(ttl, :end)` (DynamoDB's TTL deletes it) |
//! | `AgentStore::counter` | `GetItem` `COUNTER#name/COUNTER` (consistent) |
//! | `BotStore::put_bot` | `PutItem` `BOTS/BOT#<id zero-padded to 20 digits>` (so SK order is id order) |
//! | `BotStore::get_bot` | `GetItem` `BOTS/BOT#id` |
//! | `BotStore::list_bots` | `Query` `PK = BOTS` |
//! | `BotStore::set_poll_offset` | `UpdateItem` `BOTS/BOT#id` `SET pollOffset`, condition `attribute_exists(PK)` |
//! | `DeadLetterStore::record_dead_letter` | `PutItem` `DEADLETTER/<ms, zero-padded>#<id>` with `ttl` (30 days) |
//! | `DeadLetterStore::list_dead_letters` | `Query` `PK = DEADLETTER`, descending, `ttl > now` filter |
//! | `ConnectionStore::add_connection` | `PutItem` `CONNS/CONN#id` with `ttl` = `connected_at` + 2 h (API Gateway's connection limit) |
//! | `ConnectionStore::remove_connection` | `DeleteItem` `CONNS/CONN#id` |
//! | `ConnectionStore::list_connections` | `Query` `PK = CONNS`, `ttl > now` filter |
//! | `WebStore::put_website` | `PutItem` `WEBSITES/WEBSITE#id` |
//! | `WebStore::get_website` | `GetItem` `WEBSITES/WEBSITE#id` |
//! | `WebStore::list_websites` | `Query` `PK = WEBSITES` (SK order = id order) |
//! | `WebStore::put_token` (owner = its own hash: a WebSocket ticket) | `PutItem` `TOKEN#<kind>#<hash>/TOKEN` with `ttl` = expiry (nothing to cancel) |
//! | `WebStore::put_token` (other owners: the handoff token) | `GetItem` `TOKOWNER#<kind>#<owner>/TOKOWNER` (the owner's current hash), then `TransactWriteItems`: Put the token, Put the pointer (`attribute_not_exists(PK)` or `hash = :read`), Delete the previous token — a cancelled token is never live next to its successor; a concurrent put re-reads |
//! | `WebStore::take_token` | `DeleteItem` `TOKEN#<kind>#<hash>/TOKEN` `attribute_exists(PK)`, `ReturnValues = ALL_OLD`: of concurrent redemptions one gets the item; returned only if `expires_at > now` |
//! | `VisitorConnectionStore::add_visitor_connection` | `PutItem` `VCONN#conn/VCONN` (the connection's visitor, `ReturnValues = ALL_OLD`), then `PutItem` `VISITOR#v/VCONN#conn`, both with `ttl` = connect + 2 h |
//! | `VisitorConnectionStore::remove_visitor_connection` | `DeleteItem` `VCONN#conn/VCONN` `ReturnValues = ALL_OLD`, then `DeleteItem` `VISITOR#v/VCONN#conn` (a pointer item, not a GSI: 2 writes a removal and no index write on every add) |
//! | `VisitorConnectionStore::visitor_connections` | `Query` `PK = VISITOR#v`, `SK begins_with VCONN#`, `ttl > now` filter |
//! | `MailStore::put_mailbox` | `PutItem` `MAILBOXES/MAILBOX#<address>` (addresses are lower-cased, so SK order = address order) |
//! | `MailStore::get_mailbox` | `GetItem` `MAILBOXES/MAILBOX#<address>` |
//! | `MailStore::list_mailboxes` | `Query` `PK = MAILBOXES`, `SK begins_with MAILBOX#`, ascending |
//! | `MailStore::link_thread` | `PutItem` `MREF#<reference>/MREF` (`sha256:<hex>` of a reference over 1024 bytes) `attribute_not_exists(PK)`, `ReturnValuesOnConditionCheckFailure = ALL_OLD`: a failed condition returns the key that was linked first (a `GetItem` only if the service leaves the old item out) |
//! | `MailStore::thread_of` | `GetItem` `MREF#<reference>/MREF` |
//! | `MailStore::record_unprocessable` | `PutItem` `UNPROC#<id>/UNPROC` (holds the list item's SK; `ReturnValues = ALL_OLD`, and an old SK that differs is deleted), then `PutItem` `UNPROCESSABLE/<received ms, zero-padded>#<id>` |
//! | `MailStore::list_unprocessable` | `Query` `PK = UNPROCESSABLE`, descending (newest first), opaque cursor of the last key |
//! | `MailStore::remove_unprocessable` | `DeleteItem` `UNPROC#<id>/UNPROC` `ReturnValues = ALL_OLD`, then `DeleteItem` `UNPROCESSABLE/<its SK>` (a pointer item, not a GSI or a filtered `Query`: 2 writes a removal, no index, no read of the other kept mails) |
//! | `TranslationStore::cached_translation` | `GetItem` `TXC#<key>/TXC` (`sha256:<hex>` of a key over 1024 bytes), returned only if `expiresAt > now` (the caller's `now`; the `ttl` only lets DynamoDB delete it eventually) |
//! | `TranslationStore::cache_translation` | `PutItem` `TXC#<key>/TXC` with `expiresAt` (ms) and `ttl` = `expiresAt` in seconds, rounded up |
//! | `TranslationStore::link_cached_translations` | `PutItem` `CONV#<conversation>/TXL#<key>` per key, with `ttl`; `ErasureStore::erase_conversation` finds them in the conversation's partition and deletes each `TXC#<key>` entry they name, then them |
//! | `TranslationStore::add_usage` | `UpdateItem` `TXU#<provider>/DAY#<day>` `ADD chars :n SET ttl` (3 days after the day), condition `attribute_not_exists(chars) OR chars <= :room` (`room = limit − n`; an `n` over the limit is refused without a write), `ReturnValues = ALL_NEW` → `Counted(total)`; a failed condition returns the current total (`ReturnValuesOnConditionCheckFailure = ALL_OLD`) → `LimitReached` |
//! | `TranslationStore::usage` | `GetItem` `TXU#<provider>/DAY#<day>` |
//! | `TranslationStore::glossary` | `GetItem` `GLOSSARY/GLOSSARY` (none = version 0, empty) |
//! | `TranslationStore::put_glossary` | `PutItem` `GLOSSARY/GLOSSARY`, condition `attribute_not_exists(PK)` for version 1, `version = :previous` after (`Conflict` otherwise) |
//! | `AiStore::faq_version` | `GetItem` `FAQVERSION/FAQVERSION` (none = version 0) |
//! | `AiStore::faq` | `GetItem` `FAQVERSION/FAQVERSION` first, then `Query` `PK = FAQ` strongly consistent, every page (SK = entry id, so id order) |
//! | `AiStore::put_faq_entries` | `BatchWriteItem` of `PutRequest`s `FAQ/<id>` (25 a call; unprocessed items retried with backoff; of one id twice, the last), then `UpdateItem` `FAQVERSION/FAQVERSION` `ADD version :1`, `ReturnValues = UPDATED_NEW` (also after a partly failed write); nothing for an empty put |
//! | `AiStore::delete_faq_entry` | `DeleteItem` `FAQ/<id>` `ReturnValues = ALL_OLD`; if there was an item, the `ADD version :1` above |
//! | `AiStore::record_ai_call` | `BatchWriteItem` of two `PutRequest`s: `AICALL/<at ms, zero-padded>#<id>` and `AICALL#<conversation>/<same SK>`, both with `ttl` = `at` + 90 days (a retry writes the same keys) |
//! | `AiStore::ai_calls` | `Query` `PK = AICALL` (all) or `PK = AICALL#<conversation>`, descending, strongly consistent, `ttl > now` filter, up to `limit` |
//! | `RoutingStore::put_team` | `PutItem` `TEAM/<name>` |
//! | `RoutingStore::get_team` | `GetItem` `TEAM/<name>` strongly consistent |
//! | `RoutingStore::list_teams` | `Query` `PK = TEAM` strongly consistent, every page (SK = name, so name order) |
//! | `RoutingStore::delete_team` | `DeleteItem` `TEAM/<name>` `ReturnValues = ALL_OLD` (whether it existed) |
//! | `RoutingStore::get_rules` | `GetItem` `RULES/RULES` strongly consistent (`source` is its own attribute, the other fields the JSON `data`, `version` a number) |
//! | `RoutingStore::rules_version` | `GetItem` `RULES/RULES` strongly consistent, `ProjectionExpression = version` (none = version 0) |
//! | `RoutingStore::put_rules` | `PutItem` `RULES/RULES` with `version = expected + 1`, condition `attribute_not_exists(PK)` over version 0, `version = :expected` over any other (`Conflict` otherwise); a source over 350 KB is refused before any request (an item holds 400 KB) |
//! | `RoutingStore::put_canned` | `PutItem` `CANNED/<shortcut>` |
//! | `RoutingStore::list_canned` | `Query` `PK = CANNED` strongly consistent, every page (shortcut order) |
//! | `RoutingStore::delete_canned` | `DeleteItem` `CANNED/<shortcut>` `ReturnValues = ALL_OLD` |
//!
//! Cursors are opaque strings: the adapter encodes the last key it returned
//! (on DynamoDB the hex of a JSON object of the last item's table and index keys, used as
//! `ExclusiveStartKey`; `(sort, id)` on SQLite).
//!
//! Items keep the domain record as a JSON string attribute `data`; fields that a single-item
//! update changes without reading live in their own attributes and override `data` on read
//! (contact `identities`, message `delivery`/`channelRef`, agent `pwhash`/`email`, bot
//! `pollOffset`). The routing rules' `source` lives outside `data` too: unescaped by JSON, its
//! size is what the item holds.

pub mod assign;
pub mod erasure;
pub mod events;
pub mod jobs;
pub mod ports;
pub mod sealing;
pub mod usecases;

#[cfg(feature = "test-util")]
pub mod testing;

pub use events::{
    ClientAction, ContactView, ConversationView, Notification, ServerEvent, VisitorEvent,
    WEB_SOURCE_PREFIX, WebAuthor, WebMessage,
};
pub use jobs::{
    AiJob, InboundJob, JobError, JobOutcome, MediaJob, OutboundBody, OutboundJob, QueueName,
    SECRET_LINK_MARK, SystemMail, TimerJob, TranslateJob, retry_backoff,
};
pub use ports::*;
