//! [`AmazonTranslator`] through the real `aws-sdk-translate` against the local fake
//! (`omnidesk_providers::fakes::FakeAmazonTranslate`; moto has no Translate). The SDK speaks
//! Smithy RPC v2 CBOR to it, signs with SigV4, and never leaves 127.0.0.1: static dummy
//! credentials, a fixed region and an explicit endpoint, so no credential chain or instance
//! metadata is consulted. SDK retries are off so each scripted failure is seen once.

use std::time::{Duration, Instant};

use omnidesk_aws::aws_config::retry::RetryConfig;
use omnidesk_aws::testing::moto_sdk_config;
use omnidesk_aws::{AMAZON_TRANSLATE_MAX_BYTES, AmazonTranslator, aws_sdk_translate};
use omnidesk_core::{ProviderError, TranslateRequest, TranslationResult, Translator};
use omnidesk_domain::LanguageTag;
use omnidesk_providers::fakes::FakeAmazonTranslate;
use serde_json::json;

const RU_QUESTION: &str = "Здравствуйте! Где мой заказ ⟦1⟧?";
const EN_QUESTION: &str = "Hello! Where is my order ⟦1⟧?";
const EN_ANSWER: &str = "Your order ⟦1⟧ has been shipped, track it at ⟦2⟧";
const RU_ANSWER: &str = "Ваш заказ ⟦1⟧ отправлен, отслеживайте его по ссылке ⟦2⟧";

async fn translator(fake: &FakeAmazonTranslate, timeout: Duration) -> AmazonTranslator {
    let sdk = moto_sdk_config(&fake.url()).await;
    let config = AmazonTranslator::client_config(&sdk, timeout)
        .retry_config(RetryConfig::disabled())
        .build();
    AmazonTranslator::new(aws_sdk_translate::Client::from_conf(config))
}

fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn request(text: &str, source: Option<&str>, target: &str) -> TranslateRequest {
    TranslateRequest {
        text: text.to_owned(),
        source: source.map(tag),
        target: tag(target),
    }
}

#[track_caller]
fn ok(result: Result<TranslationResult, ProviderError>) -> TranslationResult {
    result.unwrap_or_else(|e| panic!("expected a translation, got {e}"))
}

#[track_caller]
fn transient(result: Result<TranslationResult, ProviderError>, needle: &str) {
    match result {
        Err(ProviderError::Transient(m)) if m.contains(needle) => {}
        other => panic!("expected Transient containing {needle:?}, got {other:?}"),
    }
}

#[track_caller]
fn permanent(result: Result<TranslationResult, ProviderError>, needle: &str) {
    match result {
        Err(ProviderError::Permanent(m)) if m.contains(needle) => {}
        other => panic!("expected Permanent containing {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn amazon_translates_with_the_given_source_over_the_sdk() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    let out = ok(t
        .translate(&request(EN_QUESTION, Some("en-US"), "ru"))
        .await);
    assert_eq!(out.text, RU_QUESTION);
    assert_eq!(out.detected_source, Some(tag("en")));
    assert_eq!(out.provider, "amazon");
    assert_eq!(t.name(), "amazon");
    assert_eq!(
        fake.last_request(),
        Some(json!({"Text": EN_QUESTION, "SourceLanguageCode": "en", "TargetLanguageCode": "ru"}))
    );
}

#[tokio::test]
async fn amazon_detects_the_source_with_auto() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    let out = ok(t.translate(&request(RU_QUESTION, None, "en")).await);
    assert_eq!(out.text, EN_QUESTION);
    assert_eq!(out.detected_source, Some(tag("ru")));
    assert_eq!(fake.last_request().unwrap()["SourceLanguageCode"], "auto");
    ok(t.translate(&request(EN_QUESTION, None, "zh-Hant")).await);
    assert_eq!(fake.last_request().unwrap()["TargetLanguageCode"], "zh-TW");
}

#[tokio::test]
async fn amazon_keeps_the_url_and_order_number_placeholders() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    assert_eq!(
        ok(t.translate(&request(EN_ANSWER, None, "ru")).await).text,
        RU_ANSWER
    );
}

#[tokio::test]
async fn amazon_refused_credentials_are_permanent() {
    let fake = FakeAmazonTranslate::start().await;
    fake.require_access_key_id(Some("AKIDSOMEONEELSE"));
    let t = translator(&fake, Duration::from_secs(5)).await;
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "credentials refused",
    );
    fake.require_access_key_id(None);
    fake.fail_next(1, 403);
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "credentials refused",
    );
}

#[tokio::test]
async fn amazon_throttling_and_outages_are_transient() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    fake.fail_next(1, 500);
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "throttled",
    );
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "unavailable",
    );
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "internal error",
    );
    ok(t.translate(&request("hello", None, "ru")).await);
    assert_eq!(fake.calls(), 4);
}

#[tokio::test]
async fn amazon_slower_than_the_timeout_is_transient() {
    let fake = FakeAmazonTranslate::start().await;
    fake.set_delay(Duration::from_millis(1500));
    let t = translator(&fake, Duration::from_millis(300)).await;
    let started = Instant::now();
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "no answer within the timeout",
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn amazon_over_ten_thousand_bytes_is_permanent_without_a_call() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    // 5,001 two-byte characters: under 10,000 characters, over 10,000 bytes.
    let text = "é".repeat(AMAZON_TRANSLATE_MAX_BYTES / 2 + 1);
    permanent(
        t.translate(&request(&text, None, "en")).await,
        "over Amazon Translate's limit",
    );
    assert_eq!(fake.calls(), 0);
    let text = "é".repeat(AMAZON_TRANSLATE_MAX_BYTES / 2);
    ok(t.translate(&request(&text, None, "en")).await);
}

#[tokio::test]
async fn amazon_unsupported_pairs_are_permanent() {
    let fake = FakeAmazonTranslate::start().await;
    let t = translator(&fake, Duration::from_secs(5)).await;
    permanent(
        t.translate(&request("hello", Some("en"), "tlh")).await,
        "not supported",
    );
}
