//! [`DeeplTranslator`]: DeepL API v2 `/v2/translate`.

use std::time::Duration;

use async_trait::async_trait;
use omnidesk_core::{ProviderError, TranslateRequest, TranslationResult, Translator};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::codes::{deepl_source, deepl_target, parse_detected};
use crate::http::{DEFAULT_TIMEOUT, Http, error_summary, parse_body, status_error};

/// DeepL's endpoint for Pro keys.
pub const DEEPL_PRO_URL: &str = "https://api.deepl.com";
/// DeepL's endpoint for Free keys (they end in `:fx`).
pub const DEEPL_FREE_URL: &str = "https://api-free.deepl.com";
/// The largest request body DeepL accepts: 128 KiB.
pub const DEEPL_MAX_BODY_BYTES: usize = 128 * 1024;

/// DeepL's name in [`TranslationResult::provider`].
const NAME: &str = "deepl";

/// How to reach DeepL.
#[derive(Debug, Clone)]
pub struct DeeplSettings {
    /// `DEEPL_AUTH_KEY`.
    pub auth_key: SecretString,
    /// `DEEPL_API_URL`, without `/v2/translate`.
    pub base_url: String,
    pub timeout: Duration,
}

impl DeeplSettings {
    /// The settings of `auth_key` on its plan's endpoint ([`DEEPL_FREE_URL`] for a key ending
    /// in `:fx`, else [`DEEPL_PRO_URL`]) with the default timeout.
    pub fn new(auth_key: impl Into<String>) -> Self {
        let auth_key: String = auth_key.into();
        let base_url = if auth_key.trim_end().ends_with(":fx") {
            DEEPL_FREE_URL
        } else {
            DEEPL_PRO_URL
        };
        Self {
            auth_key: SecretString::from(auth_key),
            base_url: base_url.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// With another endpoint (a proxy, a fake).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// With another call timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The [`Translator`] on DeepL: `POST {base}/v2/translate` with
/// `Authorization: DeepL-Auth-Key <key>` and a JSON body
/// `{"text":[…],"target_lang":"RU","source_lang"?:"EN"}`.
///
/// Errors: a request body over [`DEEPL_MAX_BODY_BYTES`] is `Permanent` before any call; 456
/// (the plan's character quota is used up) is `Permanent` "quota exceeded"; 401/403 are
/// `Permanent` "credentials refused"; timeouts, connection failures, 429 and 5xx are
/// `Transient`.
#[derive(Debug, Clone)]
pub struct DeeplTranslator {
    url: String,
    auth_key: SecretString,
    http: Http,
}

#[derive(Serialize)]
struct Body<'a> {
    text: [&'a str; 1],
    target_lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_lang: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
struct Translation {
    text: String,
    #[serde(default)]
    detected_source_language: Option<String>,
}

impl DeeplTranslator {
    pub fn new(settings: DeeplSettings) -> Self {
        Self {
            url: format!("{}/v2/translate", settings.base_url.trim_end_matches('/')),
            auth_key: settings.auth_key,
            http: Http::new(NAME, settings.timeout),
        }
    }

    /// The URL calls go to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Translator for DeeplTranslator {
    fn name(&self) -> &str {
        NAME
    }

    #[tracing::instrument(skip_all, fields(provider = NAME, target = %request.target, chars = request.text.chars().count()))]
    async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<TranslationResult, ProviderError> {
        let body = serde_json::to_vec(&Body {
            text: [&request.text],
            target_lang: deepl_target(&request.target),
            source_lang: request.source.as_ref().map(deepl_source),
        })
        .map_err(|e| ProviderError::Permanent(format!("{NAME}: cannot encode the request: {e}")))?;
        if body.len() > DEEPL_MAX_BODY_BYTES {
            return Err(ProviderError::Permanent(format!(
                "{NAME}: the request is {} bytes, over DeepL's limit of {DEEPL_MAX_BODY_BYTES}",
                body.len()
            )));
        }
        let auth = format!("DeepL-Auth-Key {}", self.auth_key.expose_secret());
        let (status, answer) = self
            .http
            .post_json(&self.url, &[("authorization", auth)], body)
            .await?;
        if status.as_u16() == 456 {
            return Err(ProviderError::Permanent(format!(
                "{NAME}: quota exceeded (HTTP 456: {})",
                error_summary(&answer)
            )));
        }
        if !status.is_success() {
            return Err(status_error(NAME, status, &answer));
        }
        let answer: Answer = parse_body(NAME, &answer)?;
        let Some(first) = answer.translations.into_iter().next() else {
            return Err(ProviderError::Transient(format!(
                "{NAME}: unexpected answer: `translations` is empty"
            )));
        };
        let detected = first
            .detected_source_language
            .as_deref()
            .and_then(parse_detected);
        Ok(TranslationResult {
            text: first.text,
            detected_source: detected.or_else(|| request.source.clone()),
            provider: NAME.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_keys_go_to_the_free_endpoint() {
        assert_eq!(
            DeeplTranslator::new(DeeplSettings::new("abc:fx")).url(),
            "https://api-free.deepl.com/v2/translate"
        );
        assert_eq!(
            DeeplTranslator::new(DeeplSettings::new("abc")).url(),
            "https://api.deepl.com/v2/translate"
        );
        assert_eq!(
            DeeplTranslator::new(DeeplSettings::new("abc").with_base_url("http://127.0.0.1:9/"))
                .url(),
            "http://127.0.0.1:9/v2/translate"
        );
    }

    #[test]
    fn settings_never_show_the_key() {
        let s = DeeplSettings::new("very-secret-key:fx");
        assert!(!format!("{s:?}").contains("very-secret-key"));
        assert!(!format!("{:?}", DeeplTranslator::new(s)).contains("very-secret-key"));
    }
}
