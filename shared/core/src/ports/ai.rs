//! The AI: the model port ([`Llm`]), and the store of what the AI knows and did (the FAQ,
//! the log of its calls for review and cost).

use async_trait::async_trait;
use omnidesk_domain::{ConversationId, LanguageTag, MessageId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// A provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Timeout, 429 or 5xx: retrying can help.
    #[error("provider unavailable: {0}")]
    Transient(String),
    /// Bad request, bad credentials, content refused: retrying cannot help.
    #[error("provider refused: {0}")]
    Permanent(String),
}

/// Who says a chat message to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One message of an LLM prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Assistant,
            content: content.into(),
        }
    }
}

/// An LLM completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    /// Ask for a JSON object as the answer (OpenAI `response_format: json_object`; other
    /// providers get the instruction in the prompt only).
    pub json: bool,
    /// Sampling temperature; `None` = the provider's default.
    pub temperature: Option<f32>,
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input: u32,
    pub output: u32,
}

impl TokenUsage {
    pub fn total(self) -> u64 {
        u64::from(self.input) + u64::from(self.output)
    }
}

/// An LLM answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatResponse {
    pub text: String,
    /// Normalised across providers: `stop`, `length`, `content_filter`, or the provider's
    /// own word for anything else.
    pub finish_reason: String,
    pub usage: TokenUsage,
}

/// A large language model (OpenAI-compatible endpoint or Bedrock Converse).
///
/// Guarantees: bounded by a timeout (a timeout is `Transient`); 429, 5xx and the provider's
/// throttling/"not ready" errors are `Transient`, other refusals `Permanent`; a key never
/// appears in an error.
#[async_trait]
pub trait Llm: Send + Sync {
    /// The provider's name: `openai`, `bedrock`.
    fn name(&self) -> &str;
    /// The model asked for (what the call log records).
    fn model(&self) -> &str;
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;
}

/// One entry of the knowledge base: the ways customers ask, and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqEntry {
    /// Stable id (`faq_…`), chosen by whoever creates the entry: non-empty, at most 1,024
    /// bytes (DynamoDB's limit of a sort key).
    pub id: String,
    /// Question variants, at least one.
    pub questions: Vec<String>,
    pub answer: String,
    /// The language of the questions and the answer; `None`: any.
    #[serde(default)]
    pub language: Option<LanguageTag>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub updated_at: Timestamp,
}

fn yes() -> bool {
    true
}

/// The whole knowledge base at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faq {
    /// Changes with every change of any entry (caches compare it).
    pub version: u64,
    /// Every entry, enabled or not, by id.
    pub entries: Vec<FaqEntry>,
}

/// One call of the AI, kept for review (admins read prompts and answers) and cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiCall {
    /// Unique and time-ordered (a UUIDv7).
    pub id: String,
    pub conversation_id: ConversationId,
    /// The customer's message answered, when there is one.
    #[serde(default)]
    pub message_id: Option<MessageId>,
    pub at: Timestamp,
    /// `answer`, `summary`, `suggestion`.
    pub kind: String,
    /// `openai`, `bedrock`, `kb`.
    pub provider: String,
    #[serde(default)]
    pub model: String,
    /// What was asked (the rendered prompt, or the knowledge-base query).
    pub prompt: String,
    /// What came back (the raw answer).
    pub answer: String,
    /// What was done: `reply`, `handoff: <reason>`, `dropped: <why>`, `note`, `failed: <why>`.
    pub outcome: String,
    #[serde(default)]
    pub usage: TokenUsage,
    /// Estimated cost in millionths of a US dollar (the configured per-token prices).
    #[serde(default)]
    pub cost_micros: u64,
    #[serde(default)]
    pub latency_ms: u64,
}

/// What the AI knows and did.
///
/// Guarantees (checked by `testing::store_suite::ai_store`):
/// - `faq` returns every stored entry, ordered by id, and the FAQ's version; a store that
///   never stored an entry returns [`Faq::default`] (version 0).
/// - The version is a counter: every `put_faq_entries` of at least one entry and every
///   `delete_faq_entry` that removed an entry increases it by exactly one, atomically
///   (concurrent changes each get their own version, none is lost); nothing else changes it
///   (reads, an empty put, a delete of an unknown id). So a cached index is rebuilt when, and
///   only when, the FAQ changed.
/// - `faq` never returns entries older than the version it returns (adapters that cannot
///   read both at once read the version first and change it after the entries); entries of a
///   change in progress may show before its version does.
/// - `faq_version` is that version without the entries.
/// - A put with an existing id replaces the entry; of one id given twice in one put, the last
///   entry is stored. A put of many entries is one version step, but only the SQLite and
///   memory adapters store the lot atomically: on DynamoDB a put that fails part way may have
///   stored some entries (and still steps the version when it did).
/// - `record_ai_call` of a call with the same `id` and `at` as a recorded one replaces it
///   (a retried job records a call once). Calls are kept at least 90 days after their `at`;
///   the DynamoDB adapter lets them expire after that.
/// - `ai_calls` lists newest first (by `at`, then `id`), at most `limit` (0 lists nothing).
#[async_trait]
pub trait AiStore: Send + Sync {
    /// Every entry and the version.
    async fn faq(&self) -> StoreResult<Faq>;
    /// The version only (a cheap check before rebuilding an index).
    async fn faq_version(&self) -> StoreResult<u64>;
    /// Adds or replaces entries (one version step for the lot, none for an empty slice);
    /// returns the version after the put.
    async fn put_faq_entries(&self, entries: &[FaqEntry]) -> StoreResult<u64>;
    /// Deletes an entry; returns whether it existed (and so whether the version stepped).
    async fn delete_faq_entry(&self, id: &str) -> StoreResult<bool>;
    /// Records a call (again: replaces it).
    async fn record_ai_call(&self, call: &AiCall) -> StoreResult<()>;
    /// The newest calls (of one conversation when given), newest first, at most `limit`.
    async fn ai_calls(
        &self,
        conversation: Option<ConversationId>,
        limit: usize,
    ) -> StoreResult<Vec<AiCall>>;
}
