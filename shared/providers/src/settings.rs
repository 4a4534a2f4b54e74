//! Which translators to use, in which order, read once from the environment.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::Translator;

use crate::http::{DEFAULT_TIMEOUT, check_base_url};
use crate::{
    DeeplSettings, DeeplTranslator, GoogleSettings, GoogleTranslator, OpenAiSettings,
    OpenAiTranslator,
};

/// The variables [`ProviderSettings::from_lookup`] reads.
pub const PROVIDER_VARIABLES: &[(&str, &str)] = &[
    (
        "OMNIDESK_TRANSLATOR",
        "fallback order of the translators, comma-separated: deepl, google, amazon, openai \
         (unset or empty: no machine translation)",
    ),
    (
        "OMNIDESK_TRANSLATE_TIMEOUT_SECS",
        "bound of one translation call, seconds (default 8)",
    ),
    ("DEEPL_AUTH_KEY", "DeepL API key (required for deepl)"),
    (
        "DEEPL_API_URL",
        "optional DeepL endpoint (default https://api-free.deepl.com for keys ending in :fx, \
         else https://api.deepl.com)",
    ),
    (
        "GOOGLE_TRANSLATE_KEY",
        "Google Cloud Translation API key (required for google)",
    ),
    (
        "GOOGLE_TRANSLATE_URL",
        "optional Google endpoint (default https://translation.googleapis.com)",
    ),
    (
        "OPENAI_BASE_URL",
        "OpenAI-compatible endpoint up to /v1 (default https://api.openai.com/v1)",
    ),
    (
        "OPENAI_API_KEY",
        "bearer key (required for api.openai.com; optional for Ollama or a local vLLM)",
    ),
    (
        "OMNIDESK_TRANSLATE_MODEL",
        "model of the openai translator (default gpt-4o-mini)",
    ),
];

/// One translator of the fallback order.
#[derive(Debug, Clone)]
pub enum ProviderSetting {
    Deepl(DeeplSettings),
    Google(GoogleSettings),
    /// Amazon Translate: region and credentials come from the AWS SDK configuration, so the
    /// caller builds it (`omnidesk_aws::AmazonTranslator`) with this timeout.
    Amazon {
        timeout: Duration,
    },
    OpenAi(OpenAiSettings),
}

impl ProviderSetting {
    /// The provider's name: `deepl`, `google`, `amazon`, `openai`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Deepl(_) => "deepl",
            Self::Google(_) => "google",
            Self::Amazon { .. } => "amazon",
            Self::OpenAi(_) => "openai",
        }
    }
}

/// The translators to try, first to last.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub providers: Vec<ProviderSetting>,
}

impl ProviderSettings {
    /// Reads [`PROVIDER_VARIABLES`] through `lookup` (blank values count as unset). Only the
    /// variables of the listed providers are read; the error names the variable at fault.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let names: Vec<String> = get("OMNIDESK_TRANSLATOR")
            .unwrap_or_default()
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(Self::default());
        }
        let timeout = match get("OMNIDESK_TRANSLATE_TIMEOUT_SECS") {
            None => DEFAULT_TIMEOUT,
            Some(v) => {
                parse_timeout(&v).map_err(|e| format!("OMNIDESK_TRANSLATE_TIMEOUT_SECS: {e}"))?
            }
        };
        let url = |name: &str| -> Result<Option<String>, String> {
            match get(name) {
                None => Ok(None),
                Some(url) => {
                    check_base_url(&url).map_err(|e| format!("{name}: {e}"))?;
                    Ok(Some(url))
                }
            }
        };
        for (i, name) in names.iter().enumerate() {
            if !["deepl", "google", "amazon", "openai"].contains(&name.as_str()) {
                return Err(format!(
                    "OMNIDESK_TRANSLATOR: unknown provider `{name}` (expected deepl, google, \
                     amazon or openai)"
                ));
            }
            if names[..i].contains(name) {
                return Err(format!("OMNIDESK_TRANSLATOR: `{name}` is listed twice"));
            }
        }
        let mut providers = Vec::with_capacity(names.len());
        for name in &names {
            let setting = match name.as_str() {
                "deepl" => {
                    let key = get("DEEPL_AUTH_KEY")
                        .ok_or("DEEPL_AUTH_KEY is required when OMNIDESK_TRANSLATOR lists deepl")?;
                    let mut s = DeeplSettings::new(key).with_timeout(timeout);
                    if let Some(url) = url("DEEPL_API_URL")? {
                        s = s.with_base_url(url);
                    }
                    ProviderSetting::Deepl(s)
                }
                "google" => {
                    let key = get("GOOGLE_TRANSLATE_KEY").ok_or(
                        "GOOGLE_TRANSLATE_KEY is required when OMNIDESK_TRANSLATOR lists google",
                    )?;
                    let mut s = GoogleSettings::new(key).with_timeout(timeout);
                    if let Some(url) = url("GOOGLE_TRANSLATE_URL")? {
                        s = s.with_base_url(url);
                    }
                    ProviderSetting::Google(s)
                }
                "amazon" => ProviderSetting::Amazon { timeout },
                "openai" => {
                    let base = url("OPENAI_BASE_URL")?;
                    let key = get("OPENAI_API_KEY");
                    if base.is_none() && key.is_none() {
                        return Err("OPENAI_API_KEY is required for api.openai.com (set \
                                    OPENAI_BASE_URL for a local server without keys)"
                            .to_owned());
                    }
                    let mut s = OpenAiSettings::new(key).with_timeout(timeout);
                    if let Some(base) = base {
                        s = s.with_base_url(base);
                    }
                    if let Some(model) = get("OMNIDESK_TRANSLATE_MODEL") {
                        s = s.with_model(model);
                    }
                    ProviderSetting::OpenAi(s)
                }
                _ => unreachable!("checked above"),
            };
            providers.push(setting);
        }
        Ok(Self { providers })
    }

    /// [`ProviderSettings::from_lookup`] on the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// [`ProviderSettings::from_lookup`]'s fallback order.
pub fn provider_settings_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderSetting>, String> {
    ProviderSettings::from_lookup(lookup).map(|s| s.providers)
}

/// The translator of an HTTP provider; `None` for [`ProviderSetting::Amazon`], which needs the
/// AWS SDK configuration (`omnidesk_aws::AmazonTranslator::from_conf`).
pub fn build_http_translator(setting: &ProviderSetting) -> Option<Arc<dyn Translator>> {
    match setting {
        ProviderSetting::Deepl(s) => Some(Arc::new(DeeplTranslator::new(s.clone()))),
        ProviderSetting::Google(s) => Some(Arc::new(GoogleTranslator::new(s.clone()))),
        ProviderSetting::OpenAi(s) => Some(Arc::new(OpenAiTranslator::new(s.clone()))),
        ProviderSetting::Amazon { .. } => None,
    }
}

/// Seconds, whole or decimal, above 0 and at most 300.
fn parse_timeout(v: &str) -> Result<Duration, String> {
    let secs: f64 = v
        .parse()
        .map_err(|_| format!("`{v}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 300.0) {
        return Err(format!("`{v}` must be above 0 and at most 300 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}
