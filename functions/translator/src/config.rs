//! The deployment's translation settings, read the same way by both runtimes, and the
//! service built from them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::{Clock, TranslationStore, Translator};
use omnidesk_providers::ProviderSetting;

use crate::service::{ServiceSettings, TranslationService};
use crate::worker::WorkerSettings;

/// `OMNIDESK_TRANSLATOR` and the variables of its providers, the cache, quotas and waits.
#[derive(Debug, Clone, Default)]
pub struct TranslationConfig {
    /// The providers in fallback order; empty = detection only.
    pub providers: Vec<ProviderSetting>,
    pub service: ServiceSettings,
    pub worker: WorkerSettings,
    /// `OMNIDESK_TRANSLATE_ROLLOUT`: the percentage of contacts (by their stable rollout
    /// bucket) whose agents' replies are translated automatically; `None`: everyone.
    pub reply_rollout: Option<u8>,
}

impl TranslationConfig {
    /// Reads the variables through `lookup`; an error names the variable and what is wrong.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let providers = omnidesk_providers::provider_settings_from(&lookup)?;
        let mut service = ServiceSettings::default();
        if let Some(v) = get("OMNIDESK_TRANSLATE_CACHE_TTL_SECS") {
            let secs: u64 = v.trim().parse().map_err(|_| {
                format!("OMNIDESK_TRANSLATE_CACHE_TTL_SECS: expected whole seconds, got {v:?}")
            })?;
            service.cache_ttl = Duration::from_secs(secs);
        }
        if let Some(v) = get("OMNIDESK_TRANSLATE_DAILY_CHARS") {
            service.daily_limits = parse_daily_limits(&v, &providers)?;
        }
        let worker = WorkerSettings::from_lookup(&lookup)?;
        let reply_rollout = match get("OMNIDESK_TRANSLATE_ROLLOUT") {
            Some(v) => Some(omnidesk_rules::parse_percent(
                "OMNIDESK_TRANSLATE_ROLLOUT",
                &v,
            )?),
            None => None,
        };
        Ok(Self {
            providers,
            service,
            worker,
            reply_rollout,
        })
    }

    /// The percentage of contacts whose replies are translated automatically (100 unless
    /// `OMNIDESK_TRANSLATE_ROLLOUT` says less).
    pub fn reply_rollout(&self) -> u8 {
        self.reply_rollout.unwrap_or(100)
    }

    /// Whether any provider is configured.
    pub fn enabled(&self) -> bool {
        !self.providers.is_empty()
    }

    /// Whether Amazon Translate is among the providers (the runtime then needs an AWS SDK
    /// configuration for [`TranslationConfig::service`]).
    pub fn uses_amazon(&self) -> bool {
        self.providers
            .iter()
            .any(|p| matches!(p, ProviderSetting::Amazon { .. }))
    }

    /// The service over the configured providers (Amazon Translate on `sdk`'s region and
    /// credentials, skipped without one); `None` when nothing is configured.
    pub fn service(
        &self,
        store: Arc<dyn TranslationStore>,
        clock: Arc<dyn Clock>,
        sdk: Option<&omnidesk_aws::aws_config::SdkConfig>,
    ) -> Option<Arc<TranslationService>> {
        if self.providers.is_empty() {
            return None;
        }
        let chain: Vec<Arc<dyn Translator>> = self
            .providers
            .iter()
            .filter_map(|p| match p {
                ProviderSetting::Amazon { timeout } => sdk.map(|sdk| {
                    Arc::new(omnidesk_aws::AmazonTranslator::from_conf(sdk, *timeout))
                        as Arc<dyn Translator>
                }),
                other => omnidesk_providers::build_http_translator(other),
            })
            .collect();
        Some(Arc::new(TranslationService::new(
            chain,
            store,
            clock,
            self.service.clone(),
        )))
    }
}

/// `deepl=500000,google=1000000`, or one number for every configured provider.
fn parse_daily_limits(
    raw: &str,
    providers: &[ProviderSetting],
) -> Result<HashMap<String, u64>, String> {
    let name = "OMNIDESK_TRANSLATE_DAILY_CHARS";
    let number = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("{name}: expected a whole number of characters, got {v:?}"))
    };
    if !raw.contains('=') {
        let n = number(raw)?;
        return Ok(providers.iter().map(|p| (p.name().to_owned(), n)).collect());
    }
    let mut out = HashMap::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((provider, n)) = part.split_once('=') else {
            return Err(format!(
                "{name}: expected provider=characters pairs, got {part:?}"
            ));
        };
        let provider = provider.trim();
        if !["deepl", "google", "amazon", "openai"].contains(&provider) {
            return Err(format!(
                "{name}: unknown provider {provider:?} (deepl, google, amazon, openai)"
            ));
        }
        out.insert(provider.to_owned(), number(n)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<TranslationConfig, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TranslationConfig::from_lookup(|n| vars.get(n).cloned())
    }

    #[test]
    fn nothing_set_is_detection_only() {
        let c = config(&[]).unwrap();
        assert!(!c.enabled());
        assert_eq!(c.worker.reply_wait, Duration::from_secs(10));
    }

    #[test]
    fn daily_limits_per_provider_or_for_all() {
        let c = config(&[
            ("OMNIDESK_TRANSLATOR", "deepl,amazon"),
            ("DEEPL_AUTH_KEY", "k:fx"),
            ("OMNIDESK_TRANSLATE_DAILY_CHARS", "deepl=500000"),
        ])
        .unwrap();
        assert_eq!(c.service.daily_limits.get("deepl"), Some(&500_000));
        assert_eq!(c.service.daily_limits.get("amazon"), None);
        let c = config(&[
            ("OMNIDESK_TRANSLATOR", "deepl,amazon"),
            ("DEEPL_AUTH_KEY", "k:fx"),
            ("OMNIDESK_TRANSLATE_DAILY_CHARS", "1000"),
        ])
        .unwrap();
        assert_eq!(c.service.daily_limits.get("amazon"), Some(&1000));
        let e = config(&[
            ("OMNIDESK_TRANSLATOR", "amazon"),
            ("OMNIDESK_TRANSLATE_DAILY_CHARS", "bing=5"),
        ])
        .unwrap_err();
        assert!(e.contains("OMNIDESK_TRANSLATE_DAILY_CHARS"), "{e}");
        let e = config(&[("OMNIDESK_TRANSLATE_WAIT_SECS", "0")]).unwrap_err();
        assert!(e.contains("OMNIDESK_TRANSLATE_WAIT_SECS"), "{e}");
    }
}
