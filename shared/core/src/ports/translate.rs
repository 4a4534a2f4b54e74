//! Machine translation: the provider port, and the store of what translation remembers
//! (cache, daily usage, glossary).

use async_trait::async_trait;
use omnidesk_domain::{LanguageTag, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ProviderError, StoreResult};

/// One text to translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateRequest {
    /// The text, with protected spans already replaced by placeholders (`⟦1⟧`, `⟦2⟧`, …) that
    /// the provider must keep as they are.
    pub text: String,
    /// The source language; `None` asks the provider to detect it.
    pub source: Option<LanguageTag>,
    pub target: LanguageTag,
}

/// A provider's translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationResult {
    pub text: String,
    /// The source language the provider detected (or was given), when it says.
    pub detected_source: Option<LanguageTag>,
    /// The provider's name: `deepl`, `google`, `amazon`, `openai`.
    pub provider: String,
}

/// A machine translator (DeepL, Google Cloud Translation v2, Amazon Translate, or an
/// OpenAI-compatible LLM).
///
/// Guarantees: bounded by a timeout (a timeout is `Transient`); a text over the provider's
/// request limit is `Permanent` before any call; 429 and 5xx are `Transient`, other 4xx
/// `Permanent`.
#[async_trait]
pub trait Translator: Send + Sync {
    /// The provider's name, as it appears in [`TranslationResult::provider`].
    fn name(&self) -> &str;
    /// Translates one text.
    async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<TranslationResult, ProviderError>;
}

/// A remembered translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedTranslation {
    pub text: String,
    #[serde(default)]
    pub detected_source: Option<LanguageTag>,
    pub provider: String,
}

/// How a term of the glossary is translated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlossaryEntry {
    /// The term as customers and agents write it (matched case-insensitively, whole words).
    pub term: String,
    /// Fixed translations per target language (`{"ru": "Омнидеск"}`); a language without one
    /// keeps the term as written. Empty = never translated.
    #[serde(default)]
    pub translations: std::collections::BTreeMap<String, String>,
}

/// The deployment's glossary. `version` changes with every change, so cached translations
/// made with an older glossary are not reused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Glossary {
    pub version: u64,
    #[serde(default)]
    pub entries: Vec<GlossaryEntry>,
}

/// The answer of [`TranslationStore::add_usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOutcome {
    /// Counted; the provider has used this many characters today.
    Counted(u64),
    /// Counting would pass the limit: nothing was counted; this many were used.
    LimitReached(u64),
}

/// What translation remembers.
///
/// Guarantees (checked by `testing::store_suite::translation`): a cached entry is returned
/// until `expires_at` and never after; `put` replaces; `add_usage` is atomic across processes
/// and never lets a provider's count for a day pass `limit`; `put_glossary` stores a glossary
/// only if its version is the stored version + 1 (`Conflict` otherwise), so two editors cannot
/// lose each other's change.
#[async_trait]
pub trait TranslationStore: Send + Sync {
    /// The cached translation under `key`, unless expired at `now`.
    async fn cached_translation(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<CachedTranslation>>;
    /// Caches a translation until `expires_at`.
    async fn cache_translation(
        &self,
        key: &str,
        entry: &CachedTranslation,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Records that the cached entries `keys` hold text of `conversation` (until `expires_at`):
    /// erasing the conversation ([`crate::ErasureStore::erase_conversation`]) deletes them, so
    /// an erased customer's words do not live on in the cache. Entries are shared by content;
    /// another conversation that needs one again translates it again.
    async fn link_cached_translations(
        &self,
        conversation: omnidesk_domain::ConversationId,
        keys: &[String],
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Adds `chars` to `provider`'s usage of `day` (`2026-12-01`, UTC) unless that passes
    /// `limit`.
    async fn add_usage(
        &self,
        provider: &str,
        day: &str,
        chars: u64,
        limit: u64,
    ) -> StoreResult<UsageOutcome>;
    /// `provider`'s usage of `day`.
    async fn usage(&self, provider: &str, day: &str) -> StoreResult<u64>;
    /// The glossary (empty, version 0, when none was stored).
    async fn glossary(&self) -> StoreResult<Glossary>;
    /// Replaces the glossary (see the guarantees).
    async fn put_glossary(&self, glossary: &Glossary) -> StoreResult<()>;
}
