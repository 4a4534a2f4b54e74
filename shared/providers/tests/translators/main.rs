//! The HTTP translators against the local fakes of their services (feature `fakes`), the
//! fakes' own protocol checks, and the configuration; `llm`: the OpenAI-compatible LLM
//! against the scripted chat fake (in this binary so the crate keeps one test binary).

mod amazon_fake;
mod deepl;
mod google;
mod llm;
mod openai;
mod settings;

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use omnidesk_core::{ProviderError, TranslateRequest, TranslationResult};
use omnidesk_domain::LanguageTag;

/// The customer's question and the agent's answer used throughout, with their placeholders.
pub const RU_QUESTION: &str = "Здравствуйте! Где мой заказ ⟦1⟧?";
pub const EN_QUESTION: &str = "Hello! Where is my order ⟦1⟧?";
pub const EN_ANSWER: &str = "Your order ⟦1⟧ has been shipped, track it at ⟦2⟧";
pub const RU_ANSWER: &str = "Ваш заказ ⟦1⟧ отправлен, отслеживайте его по ссылке ⟦2⟧";

/// A timeout far below the fakes' delay in the timeout tests.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(200);
pub const LONG_DELAY: Duration = Duration::from_millis(1500);

pub fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn request(text: &str, source: Option<&str>, target: &str) -> TranslateRequest {
    TranslateRequest {
        text: text.to_owned(),
        source: source.map(tag),
        target: tag(target),
    }
}

#[track_caller]
pub fn ok(result: Result<TranslationResult, ProviderError>) -> TranslationResult {
    result.unwrap_or_else(|e| panic!("expected a translation, got {e}"))
}

#[track_caller]
pub fn transient(result: Result<TranslationResult, ProviderError>, needle: &str) -> String {
    match result {
        Err(ProviderError::Transient(m)) if m.contains(needle) => m,
        other => panic!("expected Transient containing {needle:?}, got {other:?}"),
    }
}

#[track_caller]
pub fn permanent(result: Result<TranslationResult, ProviderError>, needle: &str) -> String {
    match result {
        Err(ProviderError::Permanent(m)) if m.contains(needle) => m,
        other => panic!("expected Permanent containing {needle:?}, got {other:?}"),
    }
}

/// A server that answers every POST with 200 and an HTML page (a captive proxy).
pub async fn garbage_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().fallback(post(|| async { "<html>Please log in</html>" }));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

/// A loopback URL where nothing listens.
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}
