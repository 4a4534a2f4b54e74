//! The translation service: glossary, span protection, cache, daily quotas, fallback order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::{
    CachedTranslation, Clock, Glossary, ProviderError, TranslateRequest, TranslationStore,
    Translator, UsageOutcome,
};
use omnidesk_domain::{ConversationId, LanguageTag, Timestamp};
use omnidesk_language::{Protected, ProtectedSpan, Terms, protect_with, restore};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::lru::Lru;

/// How the service caches and rations.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// How long a translation stays cached (default 30 days).
    pub cache_ttl: Duration,
    /// Characters a provider may translate per UTC day, by provider name; a provider not
    /// listed is unlimited (its usage is still counted).
    pub daily_limits: HashMap<String, u64>,
    /// Translations kept in this process (default 10 000); 0 turns the in-process cache off.
    pub memory_cache_entries: usize,
    /// How long the glossary read from the store is trusted before it is read again
    /// (default 60 s), so a cache hit costs no store read.
    pub glossary_refresh: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(30 * 24 * 3600),
            daily_limits: HashMap::new(),
            memory_cache_entries: 10_000,
            glossary_refresh: Duration::from_secs(60),
        }
    }
}

/// A translation, or the finding that none is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translated {
    /// The translated text, with every protected span restored.
    Text {
        text: String,
        /// The provider that translated it (also on a cache hit).
        provider: String,
        /// The source language, as the provider detected it or the caller gave it.
        detected_source: Option<LanguageTag>,
        /// Whether it came from the cache (no provider call, no quota counted).
        cached: bool,
    },
    /// The text is already in the target language (as the caller or the provider says).
    SameLanguage { detected: LanguageTag },
}

/// Why no translation came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateFailure {
    /// A provider (or the store) was unavailable and none succeeded: retry later.
    #[error("translation unavailable: {reason}")]
    Unavailable { reason: String },
    /// Every provider has reached its daily limit: retry tomorrow (UTC).
    #[error("daily translation limit reached for {}", providers.join(", "))]
    QuotaReached { providers: Vec<String> },
    /// Every provider refused the text: retrying cannot help.
    #[error("translation refused: {reason}")]
    Refused { reason: String },
    /// Providers dropped, repeated or invented placeholders, so their translations cannot
    /// be trusted: show the original. `provider` is the first that did.
    #[error("{provider} mangled the protected spans")]
    Corrupted { provider: String },
    /// No provider is configured.
    #[error("no translation provider is configured")]
    NoProvider,
}

impl TranslateFailure {
    /// Whether asking again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::QuotaReached { .. })
    }
}

/// A provider's use of its daily limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderQuota {
    pub provider: String,
    /// Characters counted today (UTC).
    pub used_today: u64,
    /// The daily limit; `None` for unlimited.
    pub limit: Option<u64>,
    /// Whether today's count has reached the limit.
    pub reached: bool,
}

/// The glossary and its terms prepared for matching.
struct Prepared {
    glossary: Glossary,
    terms: Terms,
}

impl Prepared {
    fn new(glossary: Glossary) -> Arc<Self> {
        let terms: Vec<&str> = glossary.entries.iter().map(|e| e.term.as_str()).collect();
        let terms = Terms::new(&terms);
        Arc::new(Self { glossary, terms })
    }
}

struct Remembered {
    entry: CachedTranslation,
    expires_at: Timestamp,
}

/// Translates texts through an ordered list of providers, remembering what it translated.
///
/// Protected spans (URLs, e-mails, handles, ids, code, glossary terms) never reach a
/// provider; the cache is keyed by the protected text, so `order #1024` and `order #2048`
/// share one translation.
pub struct TranslationService {
    providers: Vec<Arc<dyn Translator>>,
    store: Arc<dyn TranslationStore>,
    clock: Arc<dyn Clock>,
    settings: ServiceSettings,
    memory: Mutex<Lru<Remembered>>,
    glossary: Mutex<Option<(Arc<Prepared>, Timestamp)>>,
}

impl std::fmt::Debug for TranslationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranslationService")
            .field("providers", &self.providers())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one provider did with a text it was not cached for.
enum Attempt {
    QuotaReached,
    Transient(String),
    Permanent(String),
    Corrupted,
}

impl TranslationService {
    /// A service trying `providers` in order.
    pub fn new(
        providers: Vec<Arc<dyn Translator>>,
        store: Arc<dyn TranslationStore>,
        clock: Arc<dyn Clock>,
        settings: ServiceSettings,
    ) -> Self {
        Self {
            memory: Mutex::new(Lru::new(settings.memory_cache_entries)),
            providers,
            store,
            clock,
            settings,
            glossary: Mutex::new(None),
        }
    }

    /// Whether any provider is configured.
    pub fn is_enabled(&self) -> bool {
        !self.providers.is_empty()
    }

    /// The providers' names, in fallback order.
    pub fn providers(&self) -> Vec<String> {
        self.providers.iter().map(|p| p.name().to_owned()).collect()
    }

    /// Each provider's usage of today (UTC). A usage the store cannot read shows as 0.
    pub async fn quota_state(&self) -> Vec<ProviderQuota> {
        let day = self.clock.now().utc_day();
        let mut out = Vec::with_capacity(self.providers.len());
        for p in &self.providers {
            let provider = p.name().to_owned();
            let used_today = match self.store.usage(&provider, &day).await {
                Ok(used) => used,
                Err(error) => {
                    tracing::warn!(%provider, %error, "translation usage not readable");
                    0
                }
            };
            let limit = self.settings.daily_limits.get(&provider).copied();
            out.push(ProviderQuota {
                reached: limit.is_some_and(|l| used_today >= l),
                provider,
                used_today,
                limit,
            });
        }
        out
    }

    /// Translates `text` into `target`; `source` is the known source language (`None` lets
    /// the provider detect it).
    ///
    /// A known source with the target's primary language is [`Translated::SameLanguage`]
    /// without any call. Otherwise the text is protected with the glossary, and each
    /// provider's cache key is looked up, in fallback order, in this process and then in the
    /// store; a hit calls no provider and counts no quota. On a miss the providers are asked
    /// in order: one whose daily limit the text (in characters of the protected text, which
    /// is what is sent) would pass is skipped, and a failure or a translation whose
    /// placeholders do not restore moves on to the next. The first good translation is
    /// cached (in its protected form, so texts differing only in protected spans share it)
    /// and returned. A store failure while reading or writing the cache is only logged.
    pub async fn translate(
        &self,
        text: &str,
        source: Option<&LanguageTag>,
        target: &LanguageTag,
    ) -> Result<Translated, TranslateFailure> {
        self.translate_for(text, source, target, None).await
    }

    /// [`Self::translate`] of a text of `conversation`: the cache entry it used or made is
    /// linked to the conversation ([`TranslationStore::link_cached_translations`]), so erasing
    /// the conversation deletes it. `None`: a text of no conversation yet (a composer preview).
    #[tracing::instrument(skip_all, fields(target = %target))]
    pub async fn translate_for(
        &self,
        text: &str,
        source: Option<&LanguageTag>,
        target: &LanguageTag,
        conversation: Option<ConversationId>,
    ) -> Result<Translated, TranslateFailure> {
        if let Some(source) = source
            && source.primary() == target.primary()
        {
            return Ok(Translated::SameLanguage {
                detected: source.clone(),
            });
        }
        if self.providers.is_empty() {
            return Err(TranslateFailure::NoProvider);
        }
        let now = self.clock.now();
        let prepared = self.glossary(now).await?;
        let glossary = &prepared.glossary;
        let protected = protect_with(text, &prepared.terms);
        let keys: Vec<String> = self
            .providers
            .iter()
            .map(|p| cache_key(&protected.text, source, target, p.name(), glossary.version))
            .collect();
        let done = Finish {
            protected: &protected,
            glossary,
            source,
            target,
        };

        if let Some((key, hit)) = self.memory_hit(&keys, now)
            && let Some(out) = done.with(&hit, true)
        {
            self.link(conversation, &key, now).await;
            return Ok(out);
        }
        for key in &keys {
            match self.store.cached_translation(key, now).await {
                Ok(Some(hit)) => {
                    if let Some(out) = done.with(&hit, true) {
                        self.remember(key, hit, now);
                        self.link(conversation, key, now).await;
                        return Ok(out);
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "translation cache not readable"),
            }
        }

        let day = now.utc_day();
        let chars = protected.text.chars().count() as u64;
        let mut attempts: Vec<(&str, Attempt)> = Vec::with_capacity(self.providers.len());
        for (provider, key) in self.providers.iter().zip(&keys) {
            let name = provider.name();
            if let Some(attempt) = self.count_usage(name, &day, chars).await {
                attempts.push((name, attempt));
                continue;
            }
            let request = TranslateRequest {
                text: protected.text.clone(),
                source: source.cloned(),
                target: target.clone(),
            };
            let result = match provider.translate(&request).await {
                Ok(result) => result,
                Err(ProviderError::Transient(error)) => {
                    tracing::warn!(provider = name, %error, "translation provider unavailable");
                    attempts.push((name, Attempt::Transient(error)));
                    continue;
                }
                Err(ProviderError::Permanent(error)) => {
                    tracing::warn!(provider = name, %error, "translation provider refused");
                    attempts.push((name, Attempt::Permanent(error)));
                    continue;
                }
            };
            let entry = CachedTranslation {
                text: result.text,
                detected_source: result.detected_source,
                provider: name.to_owned(),
            };
            let Some(out) = done.with(&entry, false) else {
                attempts.push((name, Attempt::Corrupted));
                continue;
            };
            self.remember(key, entry.clone(), now);
            let expires_at = now.plus_millis(millis(self.settings.cache_ttl));
            if let Err(error) = self.store.cache_translation(key, &entry, expires_at).await {
                tracing::warn!(%error, "translation not cached");
            }
            self.link(conversation, key, now).await;
            return Ok(out);
        }
        Err(failure(&attempts))
    }

    /// Counts `chars` against `provider`'s daily limit; `Some` when it must be skipped.
    async fn count_usage(&self, provider: &str, day: &str, chars: u64) -> Option<Attempt> {
        let limit = self.settings.daily_limits.get(provider).copied();
        match self
            .store
            .add_usage(provider, day, chars, limit.unwrap_or(u64::MAX))
            .await
        {
            Ok(UsageOutcome::Counted(_)) => None,
            Ok(UsageOutcome::LimitReached(used)) => {
                tracing::info!(provider, used, ?limit, "daily translation limit reached");
                Some(Attempt::QuotaReached)
            }
            // Without a limit the count is only information: translate anyway.
            Err(error) if limit.is_none() => {
                tracing::warn!(provider, %error, "translation usage not counted");
                None
            }
            Err(error) => {
                tracing::warn!(provider, %error, "translation usage not counted; provider skipped");
                Some(Attempt::Transient(format!("usage not counted: {error}")))
            }
        }
    }

    /// The glossary, read from the store at most once per `glossary_refresh`. When the
    /// store fails, the last glossary read is used; without one, translation waits: a
    /// translation that ignores a never-translate term is worse than a late one.
    async fn glossary(&self, now: Timestamp) -> Result<Arc<Prepared>, TranslateFailure> {
        let known = self.glossary.lock().clone();
        if let Some((glossary, read_at)) = &known
            && now.millis().saturating_sub(read_at.millis())
                < millis(self.settings.glossary_refresh)
        {
            return Ok(glossary.clone());
        }
        match self.store.glossary().await {
            Ok(glossary) => {
                let glossary = Prepared::new(glossary);
                *self.glossary.lock() = Some((glossary.clone(), now));
                Ok(glossary)
            }
            Err(error) => {
                tracing::warn!(%error, "glossary not readable");
                match known {
                    Some((glossary, _)) => {
                        *self.glossary.lock() = Some((glossary.clone(), now));
                        Ok(glossary)
                    }
                    None => Err(TranslateFailure::Unavailable {
                        reason: format!("glossary not readable: {error}"),
                    }),
                }
            }
        }
    }

    /// Links the cache entry `key` to `conversation` (when the text is one's) until the
    /// cache keeps it; a failure is only logged (the entry then lives out its time).
    async fn link(&self, conversation: Option<ConversationId>, key: &str, now: Timestamp) {
        let Some(conversation) = conversation else {
            return;
        };
        let until = now.plus_millis(millis(self.settings.cache_ttl));
        if let Err(error) = self
            .store
            .link_cached_translations(conversation, &[key.to_owned()], until)
            .await
        {
            tracing::warn!(%error, %conversation, "cached translation not linked to its conversation");
        }
    }

    /// The first unexpired in-process entry among `keys`, with its key.
    fn memory_hit(&self, keys: &[String], now: Timestamp) -> Option<(String, CachedTranslation)> {
        if self.settings.memory_cache_entries == 0 {
            return None;
        }
        let mut memory = self.memory.lock();
        for key in keys {
            match memory.get(key) {
                Some(r) if r.expires_at > now => return Some((key.clone(), r.entry.clone())),
                Some(_) => memory.remove(key),
                None => {}
            }
        }
        None
    }

    fn remember(&self, key: &str, entry: CachedTranslation, now: Timestamp) {
        if self.settings.memory_cache_entries == 0 {
            return;
        }
        let expires_at = now.plus_millis(millis(self.settings.cache_ttl));
        self.memory
            .lock()
            .insert(key.to_owned(), Remembered { entry, expires_at });
    }
}

/// Turns a provider's (or the cache's) answer into the caller's.
struct Finish<'a> {
    protected: &'a Protected,
    glossary: &'a Glossary,
    source: Option<&'a LanguageTag>,
    target: &'a LanguageTag,
}

impl Finish<'_> {
    /// `None` when the answer's placeholders do not restore.
    fn with(&self, entry: &CachedTranslation, cached: bool) -> Option<Translated> {
        if let Some(detected) = &entry.detected_source
            && detected.primary() == self.target.primary()
        {
            return Some(Translated::SameLanguage {
                detected: detected.clone(),
            });
        }
        match restore(&entry.text, self.protected, |span| self.render(span)) {
            Ok(text) => Some(Translated::Text {
                text,
                provider: entry.provider.clone(),
                detected_source: entry.detected_source.clone().or(self.source.cloned()),
                cached,
            }),
            Err(error) => {
                tracing::warn!(provider = %entry.provider, %error, cached, "translation does not restore");
                None
            }
        }
    }

    /// A glossary term becomes its fixed translation for the target (the full tag, then
    /// its primary language), or stays as written; any other span stays as written.
    fn render(&self, span: &ProtectedSpan) -> String {
        span.term
            .and_then(|i| self.glossary.entries.get(i))
            .and_then(|e| {
                e.translations
                    .get(self.target.as_str())
                    .or_else(|| e.translations.get(self.target.primary()))
            })
            .unwrap_or(&span.original)
            .clone()
    }
}

/// The failure that says best why no provider translated.
fn failure(attempts: &[(&str, Attempt)]) -> TranslateFailure {
    if attempts
        .iter()
        .all(|(_, a)| matches!(a, Attempt::QuotaReached))
    {
        return TranslateFailure::QuotaReached {
            providers: attempts.iter().map(|(p, _)| (*p).to_owned()).collect(),
        };
    }
    let reasons = |pick: fn(&Attempt) -> Option<&str>| -> String {
        attempts
            .iter()
            // Providers name themselves in their errors ("deepl: HTTP 503 …"): not twice.
            .filter_map(|(p, a)| {
                pick(a).map(|r| {
                    if r.starts_with(&format!("{p}:")) {
                        r.to_owned()
                    } else {
                        format!("{p}: {r}")
                    }
                })
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if attempts
        .iter()
        .any(|(_, a)| matches!(a, Attempt::Transient(_)))
    {
        return TranslateFailure::Unavailable {
            reason: reasons(|a| match a {
                Attempt::Transient(r) => Some(r),
                _ => None,
            }),
        };
    }
    if let Some((provider, _)) = attempts
        .iter()
        .find(|(_, a)| matches!(a, Attempt::Corrupted))
    {
        return TranslateFailure::Corrupted {
            provider: (*provider).to_owned(),
        };
    }
    TranslateFailure::Refused {
        reason: reasons(|a| match a {
            Attempt::Permanent(r) => Some(r),
            Attempt::QuotaReached => Some("daily limit reached"),
            _ => None,
        }),
    }
}

/// The cache key of a translation: the SHA-256 (hex) of the protected text (trimmed, each
/// whitespace run collapsed to a space, or to one or two line breaks where it breaks lines),
/// the source language (`auto` when detected), the target, the provider and the glossary
/// version.
pub fn cache_key(
    protected_text: &str,
    source: Option<&LanguageTag>,
    target: &LanguageTag,
    provider: &str,
    glossary_version: u64,
) -> String {
    let text = normalise(protected_text);
    let mut hash = Sha256::new();
    for part in [
        text.as_str(),
        source.map_or("auto", LanguageTag::as_str),
        target.as_str(),
        provider,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.update(glossary_version.to_le_bytes());
    let digest = hash.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Trims and collapses whitespace runs, keeping whether a run broke a line or a paragraph.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Option<usize> = None;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            let breaks = usize::from(c == '\n');
            run = Some(run.unwrap_or(0) + breaks);
            continue;
        }
        if let Some(breaks) = run.take() {
            out.push_str(match breaks {
                0 => " ",
                1 => "\n",
                _ => "\n\n",
            });
        }
        out.push(c);
    }
    out
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> LanguageTag {
        LanguageTag::parse(s).unwrap()
    }

    #[test]
    fn whitespace_runs_collapse_but_line_breaks_stay_distinct() {
        assert_eq!(normalise("  a \t b\r\n c\n\n\n d  "), "a b\nc\n\nd");
    }

    #[test]
    fn the_cache_key_covers_every_part() {
        let (en, ru) = (tag("en"), tag("ru"));
        let k = cache_key("hello  world ", None, &ru, "deepl", 1);
        assert_eq!(k.len(), 64);
        assert_eq!(k, cache_key(" hello world", None, &ru, "deepl", 1));
        for other in [
            cache_key("hello world", Some(&en), &ru, "deepl", 1),
            cache_key("hello world", None, &tag("ru-RU"), "deepl", 1),
            cache_key("hello world", None, &ru, "google", 1),
            cache_key("hello world", None, &ru, "deepl", 2),
            cache_key("hello\nworld", None, &ru, "deepl", 1),
        ] {
            assert_ne!(k, other);
        }
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(Timestamp::from_millis(0).utc_day(), "1970-01-01");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-01T23:59:59.999+00:00")
                .unwrap()
                .utc_day(),
            "2026-12-01"
        );
    }
}
