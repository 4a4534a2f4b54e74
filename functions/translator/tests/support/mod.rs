//! A tiny in-memory `TranslationStore` and scriptable `Translator`s, for the tests and the
//! cache benchmark (the real in-memory adapter lives with the other store adapters).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use omnidesk_core::{
    CachedTranslation, Glossary, ProviderError, StoreError, StoreResult, TranslateRequest,
    TranslationResult, TranslationStore, Translator, UsageOutcome,
};
use omnidesk_domain::{ConversationId, Timestamp};
use parking_lot::Mutex;

/// What translation remembers, in a few maps; each kind of call can be made to fail and
/// cache reads are counted.
#[derive(Default)]
pub struct MemoryTranslations {
    cache: Mutex<HashMap<String, (CachedTranslation, Timestamp)>>,
    usage: Mutex<HashMap<(String, String), u64>>,
    glossary: Mutex<Glossary>,
    links: Mutex<Vec<(ConversationId, String)>>,
    pub cache_reads: AtomicUsize,
    pub glossary_reads: AtomicUsize,
    pub fail_cache: AtomicBool,
    pub fail_usage: AtomicBool,
    pub fail_glossary: AtomicBool,
}

impl MemoryTranslations {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn cache_reads(&self) -> usize {
        self.cache_reads.load(Ordering::SeqCst)
    }

    pub fn glossary_reads(&self) -> usize {
        self.glossary_reads.load(Ordering::SeqCst)
    }

    pub fn cached_entries(&self) -> usize {
        self.cache.lock().len()
    }

    /// The cache keys linked to `conversation`, in the order linked.
    pub fn links_of(&self, conversation: ConversationId) -> Vec<String> {
        self.links
            .lock()
            .iter()
            .filter(|(c, _)| *c == conversation)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Whether `key` is cached (expired or not).
    pub fn is_cached(&self, key: &str) -> bool {
        self.cache.lock().contains_key(key)
    }

    fn down(flag: &AtomicBool) -> StoreResult<()> {
        if flag.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("store down".to_owned()));
        }
        Ok(())
    }
}

#[async_trait]
impl TranslationStore for MemoryTranslations {
    async fn cached_translation(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<CachedTranslation>> {
        self.cache_reads.fetch_add(1, Ordering::SeqCst);
        Self::down(&self.fail_cache)?;
        Ok(self
            .cache
            .lock()
            .get(key)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(entry, _)| entry.clone()))
    }

    async fn cache_translation(
        &self,
        key: &str,
        entry: &CachedTranslation,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        Self::down(&self.fail_cache)?;
        self.cache
            .lock()
            .insert(key.to_owned(), (entry.clone(), expires_at));
        Ok(())
    }

    async fn link_cached_translations(
        &self,
        conversation: ConversationId,
        keys: &[String],
        _expires_at: Timestamp,
    ) -> StoreResult<()> {
        Self::down(&self.fail_cache)?;
        self.links
            .lock()
            .extend(keys.iter().map(|k| (conversation, k.clone())));
        Ok(())
    }

    async fn add_usage(
        &self,
        provider: &str,
        day: &str,
        chars: u64,
        limit: u64,
    ) -> StoreResult<UsageOutcome> {
        Self::down(&self.fail_usage)?;
        let mut usage = self.usage.lock();
        let used = usage
            .entry((provider.to_owned(), day.to_owned()))
            .or_default();
        if used.saturating_add(chars) > limit {
            return Ok(UsageOutcome::LimitReached(*used));
        }
        *used += chars;
        Ok(UsageOutcome::Counted(*used))
    }

    async fn usage(&self, provider: &str, day: &str) -> StoreResult<u64> {
        Self::down(&self.fail_usage)?;
        Ok(self
            .usage
            .lock()
            .get(&(provider.to_owned(), day.to_owned()))
            .copied()
            .unwrap_or_default())
    }

    async fn glossary(&self) -> StoreResult<Glossary> {
        self.glossary_reads.fetch_add(1, Ordering::SeqCst);
        Self::down(&self.fail_glossary)?;
        Ok(self.glossary.lock().clone())
    }

    async fn put_glossary(&self, glossary: &Glossary) -> StoreResult<()> {
        let mut stored = self.glossary.lock();
        if glossary.version != stored.version + 1 {
            return Err(StoreError::Conflict(format!(
                "glossary version {} after {}",
                glossary.version, stored.version
            )));
        }
        *stored = glossary.clone();
        Ok(())
    }
}

type Answer = dyn Fn(&TranslateRequest) -> Result<TranslationResult, ProviderError> + Send + Sync;

/// A translator answering with a closure, counting its calls and keeping the requests.
pub struct FakeTranslator {
    name: String,
    answer: Box<Answer>,
    calls: AtomicUsize,
    pub requests: Mutex<Vec<TranslateRequest>>,
}

impl FakeTranslator {
    pub fn new(
        name: &str,
        answer: impl Fn(&TranslateRequest) -> Result<String, ProviderError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::detecting(name, None, answer)
    }

    /// One that also says which source language it detected.
    pub fn detecting(
        name: &str,
        detected: Option<&str>,
        answer: impl Fn(&TranslateRequest) -> Result<String, ProviderError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        let provider = name.to_owned();
        let detected = detected.map(|d| omnidesk_domain::LanguageTag::parse(d).unwrap());
        Arc::new(Self {
            name: name.to_owned(),
            answer: Box::new(move |r| {
                Ok(TranslationResult {
                    text: answer(r)?,
                    detected_source: detected.clone().or_else(|| r.source.clone()),
                    provider: provider.clone(),
                })
            }),
            calls: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        })
    }

    /// "Translates" by tagging the text with the target: `<ru>text`.
    pub fn tagging(name: &str) -> Arc<Self> {
        Self::new(name, |r| Ok(format!("<{}>{}", r.target, r.text)))
    }

    pub fn transient(name: &str) -> Arc<Self> {
        Self::new(name, |_| Err(ProviderError::Transient("503".to_owned())))
    }

    pub fn permanent(name: &str) -> Arc<Self> {
        Self::new(name, |_| Err(ProviderError::Permanent("400".to_owned())))
    }

    /// Drops the first placeholder.
    pub fn dropping(name: &str) -> Arc<Self> {
        Self::new(name, |r| {
            Ok(format!("<{}>{}", r.target, r.text.replace("⟦1⟧", "")))
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn last_text(&self) -> Option<String> {
        self.requests.lock().last().map(|r| r.text.clone())
    }
}

#[async_trait]
impl Translator for FakeTranslator {
    fn name(&self) -> &str {
        &self.name
    }

    async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<TranslationResult, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().push(request.clone());
        (self.answer)(request)
    }
}
