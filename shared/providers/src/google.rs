//! [`GoogleTranslator`]: Google Cloud Translation – Basic (v2) with an API key.

use std::time::Duration;

use async_trait::async_trait;
use omnidesk_core::{ProviderError, TranslateRequest, TranslationResult, Translator};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::codes::{google_code, parse_detected};
use crate::http::{DEFAULT_TIMEOUT, Http, error_summary, parse_body, status_error};

/// Google's endpoint.
pub const GOOGLE_TRANSLATE_URL: &str = "https://translation.googleapis.com";
/// The longest text sent in one request, in code points. Google recommends at most 5,000 and
/// refuses much longer requests with 400 ("Text too long"); 30,000 is the per-request limit
/// documented for the v3 API, assumed here for v2 [unconfirmed].
pub const GOOGLE_MAX_CHARS: usize = 30_000;

/// Google's name in [`TranslationResult::provider`].
const NAME: &str = "google";

/// How to reach Google Cloud Translation.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// `GOOGLE_TRANSLATE_KEY`: an API key restricted to the Cloud Translation API.
    pub api_key: SecretString,
    /// `GOOGLE_TRANSLATE_URL`, without `/language/translate/v2`.
    pub base_url: String,
    pub timeout: Duration,
}

impl GoogleSettings {
    /// The settings of `api_key` on [`GOOGLE_TRANSLATE_URL`] with the default timeout.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            base_url: GOOGLE_TRANSLATE_URL.to_owned(),
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

/// The [`Translator`] on Google Cloud Translation – Basic:
/// `POST {base}/language/translate/v2?key=<key>` with
/// `{"q":["…"],"target":"ru","source"?:"en","format":"text"}`.
///
/// Errors: a text over [`GOOGLE_MAX_CHARS`] is `Permanent` before any call; 401/403 and a 400
/// "API key not valid" are `Permanent` "credentials refused"; timeouts, connection failures,
/// 429 and 5xx are `Transient`. The key is in the URL, so no error shows the URL.
#[derive(Debug, Clone)]
pub struct GoogleTranslator {
    url: String,
    api_key: SecretString,
    http: Http,
}

#[derive(Serialize)]
struct Body<'a> {
    q: [&'a str; 1],
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    format: &'static str,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Translation {
    translated_text: String,
    #[serde(default)]
    detected_source_language: Option<String>,
}

impl GoogleTranslator {
    pub fn new(settings: GoogleSettings) -> Self {
        Self {
            url: format!(
                "{}/language/translate/v2",
                settings.base_url.trim_end_matches('/')
            ),
            api_key: settings.api_key,
            http: Http::new(NAME, settings.timeout),
        }
    }

    /// The URL calls go to (without the key).
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Translator for GoogleTranslator {
    fn name(&self) -> &str {
        NAME
    }

    #[tracing::instrument(skip_all, fields(provider = NAME, target = %request.target, chars = request.text.chars().count()))]
    async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<TranslationResult, ProviderError> {
        let chars = request.text.chars().count();
        if chars > GOOGLE_MAX_CHARS {
            return Err(ProviderError::Permanent(format!(
                "{NAME}: the text has {chars} characters, over the limit of {GOOGLE_MAX_CHARS}"
            )));
        }
        let body = serde_json::to_vec(&Body {
            q: [&request.text],
            target: google_code(&request.target),
            source: request.source.as_ref().map(google_code),
            format: "text",
        })
        .map_err(|e| ProviderError::Permanent(format!("{NAME}: cannot encode the request: {e}")))?;
        let mut url = reqwest::Url::parse(&self.url)
            .map_err(|e| ProviderError::Permanent(format!("{NAME}: bad base URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("key", self.api_key.expose_secret());
        let (status, answer) = self.http.post_json(url.as_str(), &[], body).await?;
        if status.as_u16() == 400 && String::from_utf8_lossy(&answer).contains("API key not valid")
        {
            return Err(ProviderError::Permanent(format!(
                "{NAME}: credentials refused (HTTP 400: {})",
                error_summary(&answer)
            )));
        }
        if !status.is_success() {
            return Err(status_error(NAME, status, &answer));
        }
        let answer: Answer = parse_body(NAME, &answer)?;
        let Some(first) = answer.data.translations.into_iter().next() else {
            return Err(ProviderError::Transient(format!(
                "{NAME}: unexpected answer: `data.translations` is empty"
            )));
        };
        let detected = first
            .detected_source_language
            .as_deref()
            .and_then(parse_detected);
        Ok(TranslationResult {
            text: first.translated_text,
            detected_source: detected.or_else(|| request.source.clone()),
            provider: NAME.to_owned(),
        })
    }
}
