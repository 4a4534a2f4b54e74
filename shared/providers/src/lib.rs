//! omnidesk-providers: the HTTP machine-translation providers behind the
//! [`omnidesk_core::Translator`] port, and the HTTP LLM behind [`omnidesk_core::Llm`].
//!
//! - [`DeeplTranslator`]: DeepL API v2 (`/v2/translate`, `DeepL-Auth-Key`).
//! - [`GoogleTranslator`]: Google Cloud Translation – Basic v2 with an API key.
//! - [`OpenAiTranslator`]: an LLM behind an OpenAI-compatible `/chat/completions` endpoint
//!   (OpenAI, vLLM, Ollama).
//! - [`OpenAiLlm`]: the [`omnidesk_core::Llm`] port on an OpenAI-compatible
//!   `/chat/completions` endpoint (JSON mode, token usage). Bedrock lives in `omnidesk-aws`.
//! - [`ProviderSettings`]: the fallback order and each provider's settings, read once from
//!   the variables in [`PROVIDER_VARIABLES`]; [`build_http_translator`] builds one.
//!   Amazon Translate lives in `omnidesk-aws` (it needs the AWS SDK configuration).
//!
//! Texts arrive with protected spans replaced by placeholders (`⟦1⟧`, `⟦2⟧`, …); providers
//! pass them through, and checking that they came back is the caller's job. Every call is
//! bounded by a timeout; timeouts, connection failures, 429 and 5xx are
//! [`ProviderError::Transient`](omnidesk_core::ProviderError), other refusals `Permanent`.
//!
//! Feature `fakes`: [`fakes`], local servers speaking each provider's real protocol
//! (Amazon Translate's included) with a deterministic phrase dictionary, and scripted
//! chat-completions and Bedrock Converse servers, for tests here and in other crates.
//!
//! Depends on `omnidesk-core`/`omnidesk-domain` and reqwest (rustls, bundled roots) only; no
//! AWS SDK, no Lambda runtime.

pub mod codes;
mod deepl;
#[cfg(feature = "fakes")]
pub mod fakes;
mod google;
mod http;
mod llm;
mod openai;
mod settings;

pub use deepl::{
    DEEPL_FREE_URL, DEEPL_MAX_BODY_BYTES, DEEPL_PRO_URL, DeeplSettings, DeeplTranslator,
};
pub use google::{GOOGLE_MAX_CHARS, GOOGLE_TRANSLATE_URL, GoogleSettings, GoogleTranslator};
pub use http::{CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use llm::{LLM_DEFAULT_TIMEOUT, OpenAiLlm, OpenAiLlmSettings};
pub use openai::{
    DEFAULT_MODEL, OPENAI_MAX_CHARS, OPENAI_URL, OpenAiSettings, OpenAiTranslator, system_prompt,
};
pub use settings::{
    PROVIDER_VARIABLES, ProviderSetting, ProviderSettings, build_http_translator,
    provider_settings_from,
};
