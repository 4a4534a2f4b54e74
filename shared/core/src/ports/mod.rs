//! The ports. Each trait states its guarantees; the conformance suites in
//! [`crate::testing`] check them against every adapter.

mod ai;
mod blob;
mod clock;
mod mail;
mod push;
mod queue;
mod routing;
mod store;
mod telegram;
mod translate;
mod web;

pub use ai::{
    AiCall, AiStore, ChatMessage, ChatRequest, ChatResponse, ChatRole, Faq, FaqEntry, Llm,
    ProviderError, TokenUsage,
};
pub use blob::{
    Blob, BlobStore, DEFAULT_LINK_TTL, LinkRequest, blob_key, content_disposition, is_blob_key,
    percent_encode,
};
pub use clock::{Clock, IdGen, SystemClock, UuidV7Ids};
pub use mail::{MailStore, Mailbox, Mailer, OutgoingMail, SentMail, UnprocessableMail};
pub use push::{ConnectionId, MAX_PUSH_BYTES, Push, PushError, PushOutcome, check_push_size};
pub use queue::{DeadLettered, OutgoingMessage, Queue, QueueError, Received, SendOutcome};
pub use routing::{CannedResponse, RoutingStore, StoredRules};
pub use store::{
    AgentStore, AppendOutcome, AuditEntry, AuditStore, BotConfig, BotMode, BotStore, Connection,
    ConnectionStore, ContactStore, ConversationFilter, ConversationStore, DeadLetter,
    DeadLetterStore, ErasureStore, MessageStore, Page, PageRequest, Secret, Store, StoreError,
    StoreResult, Viewer, body_names_any,
};
pub use telegram::{
    BotIdentity, OutgoingFile, TelegramApi, TelegramError, TelegramFile, WebhookInfo,
};
pub use translate::{
    CachedTranslation, Glossary, GlossaryEntry, TranslateRequest, TranslationResult,
    TranslationStore, Translator, UsageOutcome,
};
pub use web::{
    HandoffGrant, StoredToken, TokenKind, VisitorConnection, VisitorConnectionStore, WebStore,
    Website, random_bytes, random_token, token_hash,
};
