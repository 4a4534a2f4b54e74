//! [`AmazonTranslator`]: the [`Translator`] port on Amazon Translate `TranslateText`.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_translate::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_translate::operation::translate_text::TranslateTextError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::timeout::TimeoutConfig;
use omnidesk_core::{ProviderError, TranslateRequest, TranslationResult, Translator};
use omnidesk_domain::LanguageTag;

use crate::sdk::CONNECT_TIMEOUT;

/// The largest `Text` Amazon Translate accepts, in UTF-8 bytes.
pub const AMAZON_TRANSLATE_MAX_BYTES: usize = 10_000;

/// The name in [`TranslationResult::provider`].
const NAME: &str = "amazon";

/// Error codes of a signature or credentials AWS refused.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "AccessDeniedException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// Amazon Translate's code for a language (source or target): `zh` / `zh-TW` (traditional
/// script or a region that writes it), `pt` / `pt-PT`, `fr-CA`, `es-MX`, `fa-AF`, `no` for
/// Norwegian, `tl` for Filipino, else the primary subtag.
pub fn amazon_language_code(tag: &LanguageTag) -> String {
    let has = |wanted: &[&str]| tag.as_str().split('-').skip(1).any(|s| wanted.contains(&s));
    match tag.primary() {
        "zh" if has(&["Hant", "TW", "HK", "MO"]) => "zh-TW".to_owned(),
        "pt" if has(&["PT"]) => "pt-PT".to_owned(),
        "fr" if has(&["CA"]) => "fr-CA".to_owned(),
        "es" if has(&["MX"]) => "es-MX".to_owned(),
        "fa" if has(&["AF"]) => "fa-AF".to_owned(),
        "nb" | "nn" | "no" => "no".to_owned(),
        "fil" => "tl".to_owned(),
        "iw" => "he".to_owned(),
        other => other.to_owned(),
    }
}

/// Translates with Amazon Translate `TranslateText`: `SourceLanguageCode` from the request
/// (`auto` without one: Amazon Comprehend detects it, in regions that have Comprehend),
/// `TargetLanguageCode` per [`amazon_language_code`]; `detected_source` is the response's
/// `SourceLanguageCode`.
///
/// The whole call, retries included, is bounded by the timeout given to
/// [`AmazonTranslator::from_conf`] (default 8 s, `OMNIDESK_TRANSLATE_TIMEOUT_SECS`).
///
/// Errors: a text over [`AMAZON_TRANSLATE_MAX_BYTES`] is `Permanent` before any call;
/// throttling (`TooManyRequestsException`, 429), `ServiceUnavailableException`,
/// `InternalServerException`, other 5xx, timeouts and transport failures are `Transient`;
/// unsupported pairs, low-confidence detection, invalid requests, refused credentials and
/// other 4xx are `Permanent`.
///
/// IAM: `translate:TranslateText`, and `comprehend:DetectDominantLanguage` for `auto`.
#[derive(Debug, Clone)]
pub struct AmazonTranslator {
    client: aws_sdk_translate::Client,
}

impl AmazonTranslator {
    /// A translator on `client` (its timeouts are the client's).
    pub fn new(client: aws_sdk_translate::Client) -> Self {
        Self { client }
    }

    /// A translator with a client built from `sdk`, every call bounded by `timeout`.
    pub fn from_conf(sdk: &SdkConfig, timeout: Duration) -> Self {
        Self::new(aws_sdk_translate::Client::from_conf(
            Self::client_config(sdk, timeout).build(),
        ))
    }

    /// The client configuration [`AmazonTranslator::from_conf`] uses: the call, retries
    /// included, bounded by `timeout`.
    pub fn client_config(sdk: &SdkConfig, timeout: Duration) -> aws_sdk_translate::config::Builder {
        aws_sdk_translate::config::Builder::from(sdk).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                .operation_attempt_timeout(timeout)
                .operation_timeout(timeout)
                .build(),
        )
    }

    /// The client.
    pub fn client(&self) -> &aws_sdk_translate::Client {
        &self.client
    }
}

#[async_trait]
impl Translator for AmazonTranslator {
    fn name(&self) -> &str {
        NAME
    }

    #[tracing::instrument(skip_all, fields(provider = NAME, target = %request.target, bytes = request.text.len()))]
    async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<TranslationResult, ProviderError> {
        if request.text.len() > AMAZON_TRANSLATE_MAX_BYTES {
            return Err(ProviderError::Permanent(format!(
                "{NAME}: the text is {} bytes, over Amazon Translate's limit of \
                 {AMAZON_TRANSLATE_MAX_BYTES}",
                request.text.len()
            )));
        }
        let source = request
            .source
            .as_ref()
            .map_or_else(|| "auto".to_owned(), amazon_language_code);
        let out = self
            .client
            .translate_text()
            .text(&request.text)
            .source_language_code(source)
            .target_language_code(amazon_language_code(&request.target))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let detected = LanguageTag::parse(&out.source_language_code().to_ascii_lowercase()).ok();
        Ok(TranslationResult {
            text: out.translated_text().to_owned(),
            detected_source: detected.or_else(|| request.source.clone()),
            provider: NAME.to_owned(),
        })
    }
}

fn classify(err: &SdkError<TranslateTextError, HttpResponse>) -> ProviderError {
    let detail = DisplayErrorContext(err);
    let permanent = |why: &str| ProviderError::Permanent(format!("{NAME}: {why} ({detail})"));
    let transient = |why: &str| ProviderError::Transient(format!("{NAME}: {why} ({detail})"));
    match err.as_service_error() {
        Some(TranslateTextError::TooManyRequestsException(_)) => transient("throttled"),
        Some(TranslateTextError::ServiceUnavailableException(_)) => {
            transient("the service is unavailable")
        }
        Some(TranslateTextError::InternalServerException(_)) => transient("internal error"),
        Some(TranslateTextError::TextSizeLimitExceededException(_)) => {
            permanent("the text is over the size limit")
        }
        Some(TranslateTextError::UnsupportedLanguagePairException(_)) => {
            permanent("the language pair is not supported")
        }
        Some(TranslateTextError::DetectedLanguageLowConfidenceException(_)) => {
            permanent("the source language could not be detected with confidence")
        }
        Some(TranslateTextError::InvalidRequestException(_)) => permanent("the request is invalid"),
        Some(TranslateTextError::ResourceNotFoundException(_)) => {
            permanent("a terminology or resource does not exist")
        }
        Some(other) if other.code().is_some_and(|c| c.contains("Throttl")) => {
            transient("throttled")
        }
        Some(other) if other.code().is_some_and(|c| CREDENTIAL_CODES.contains(&c)) => {
            permanent("credentials refused")
        }
        _ => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(429) => transient("throttled"),
            Some(401 | 403) => permanent("credentials refused"),
            Some(s) if (400..500).contains(&s) && s != 408 => permanent("refused"),
            Some(_) => transient("service error"),
            None if matches!(err, SdkError::TimeoutError(_)) => {
                transient("no answer within the timeout")
            }
            // Connection failures, a response that could not be read.
            None => transient("no answer"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_codes_keep_the_variants_amazon_has() {
        let code = |s: &str| amazon_language_code(&LanguageTag::parse(s).unwrap());
        assert_eq!(code("zh"), "zh");
        assert_eq!(code("zh-Hans"), "zh");
        assert_eq!(code("zh-Hant"), "zh-TW");
        assert_eq!(code("zh-HK"), "zh-TW");
        assert_eq!(code("pt-BR"), "pt");
        assert_eq!(code("pt-PT"), "pt-PT");
        assert_eq!(code("fr-CA"), "fr-CA");
        assert_eq!(code("es-MX"), "es-MX");
        assert_eq!(code("es-ES"), "es");
        assert_eq!(code("en-GB"), "en");
        assert_eq!(code("nb"), "no");
        assert_eq!(code("ru"), "ru");
    }
}
