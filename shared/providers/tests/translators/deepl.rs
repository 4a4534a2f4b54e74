use std::time::Instant;

use omnidesk_core::Translator;
use omnidesk_providers::fakes::{FAKE_DEEPL_KEY, FakeDeepl};
use omnidesk_providers::{DEEPL_MAX_BODY_BYTES, DeeplSettings, DeeplTranslator};
use serde_json::json;

use crate::*;

fn deepl(fake: &FakeDeepl) -> DeeplTranslator {
    DeeplTranslator::new(DeeplSettings::new(FAKE_DEEPL_KEY).with_base_url(fake.url()))
}

#[tokio::test]
async fn deepl_translates_with_the_given_source_and_sends_deepl_codes() {
    let fake = FakeDeepl::start().await;
    let t = deepl(&fake);
    let out = ok(t.translate(&request(EN_QUESTION, Some("en"), "ru")).await);
    assert_eq!(out.text, RU_QUESTION);
    assert_eq!(out.detected_source, Some(tag("en")));
    assert_eq!(out.provider, "deepl");
    assert_eq!(t.name(), "deepl");
    assert_eq!(
        fake.last_request(),
        Some(json!({"text": [EN_QUESTION], "target_lang": "RU", "source_lang": "EN"}))
    );
}

#[tokio::test]
async fn deepl_detects_the_source_and_answers_into_american_english() {
    let fake = FakeDeepl::start().await;
    let out = ok(deepl(&fake)
        .translate(&request(RU_QUESTION, None, "en"))
        .await);
    assert_eq!(out.text, EN_QUESTION);
    assert_eq!(out.detected_source, Some(tag("ru")));
    assert_eq!(
        fake.last_request(),
        Some(json!({"text": [RU_QUESTION], "target_lang": "EN-US"}))
    );
}

#[tokio::test]
async fn deepl_keeps_the_url_and_order_number_placeholders() {
    let fake = FakeDeepl::start().await;
    let out = ok(deepl(&fake)
        .translate(&request(EN_ANSWER, None, "ru"))
        .await);
    assert_eq!(out.text, RU_ANSWER);
}

#[tokio::test]
async fn deepl_accepts_every_regional_target_we_send() {
    let fake = FakeDeepl::start().await;
    let t = deepl(&fake);
    for (target, code) in [
        ("en-GB", "EN-GB"),
        ("pt", "PT-BR"),
        ("pt-PT", "PT-PT"),
        ("zh", "ZH-HANS"),
        ("zh-Hant", "ZH-HANT"),
        ("de", "DE"),
    ] {
        ok(t.translate(&request("Thank you", Some("en"), target)).await);
        assert_eq!(
            fake.last_request().unwrap()["target_lang"],
            code,
            "{target}"
        );
    }
    let out = ok(t
        .translate(&request("Thank you", Some("en-US"), "de"))
        .await);
    assert_eq!(out.text, "Danke");
    assert_eq!(fake.last_request().unwrap()["source_lang"], "EN");
}

#[tokio::test]
async fn deepl_wrong_key_is_permanent_credentials_refused() {
    let fake = FakeDeepl::start().await;
    let t = DeeplTranslator::new(DeeplSettings::new("other-key:fx").with_base_url(fake.url()));
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "credentials refused",
    );
    // A Pro key on a Free account's endpoint: DeepL says which endpoint to use.
    let t = DeeplTranslator::new(DeeplSettings::new("pro-key").with_base_url(fake.url()));
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "Wrong endpoint",
    );
}

#[tokio::test]
async fn deepl_rate_limits_and_outages_are_transient_and_quota_is_permanent() {
    let fake = FakeDeepl::start().await;
    let t = deepl(&fake);
    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    fake.fail_next(1, 456);
    transient(t.translate(&request("hello", None, "ru")).await, "HTTP 429");
    transient(t.translate(&request("hello", None, "ru")).await, "HTTP 503");
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "quota exceeded",
    );
    ok(t.translate(&request("hello", None, "ru")).await);
    assert_eq!(fake.calls(), 4);
}

#[tokio::test]
async fn deepl_slower_than_the_timeout_is_transient() {
    let fake = FakeDeepl::start().await;
    fake.set_delay(LONG_DELAY);
    let t = DeeplTranslator::new(
        DeeplSettings::new(FAKE_DEEPL_KEY)
            .with_base_url(fake.url())
            .with_timeout(SHORT_TIMEOUT),
    );
    let started = Instant::now();
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "no answer within",
    );
    assert!(started.elapsed() < LONG_DELAY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn deepl_over_128_kib_is_permanent_without_a_call() {
    let fake = FakeDeepl::start().await;
    let text = "a".repeat(DEEPL_MAX_BODY_BYTES);
    permanent(
        deepl(&fake).translate(&request(&text, None, "ru")).await,
        "over DeepL's limit",
    );
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn deepl_garbled_answers_and_refused_connections_are_transient() {
    let (url, _server) = garbage_server().await;
    let t = DeeplTranslator::new(DeeplSettings::new("k").with_base_url(url));
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "unexpected answer",
    );
    let t = DeeplTranslator::new(DeeplSettings::new("k").with_base_url(closed_url().await));
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "cannot connect",
    );
}

#[tokio::test]
async fn deepl_fake_checks_the_request_like_deepl() {
    let fake = FakeDeepl::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/translate", fake.url());
    let auth = format!("DeepL-Auth-Key {FAKE_DEEPL_KEY}");
    let send = |body: serde_json::Value| {
        http.post(&url)
            .header("authorization", &auth)
            .json(&body)
            .send()
    };
    let r = send(json!({"text": ["hello"], "target_lang": "EN"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("deprecated"));
    let r = send(json!({"text": [], "target_lang": "RU"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = send(json!({"text": ["hello"], "target_lang": "RU", "source_lang": "EN-US"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "a".repeat(130 * 1024);
    let r = send(json!({"text": [big], "target_lang": "RU"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = http
        .post(&url)
        .json(&json!({"text": ["hello"], "target_lang": "RU"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    fake.set_drop_placeholders(true);
    let r = send(json!({"text": [EN_ANSWER, "hello"], "target_lang": "RU"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"translations": [
            {"detected_source_language": "EN", "text": "Ваш заказ отправлен, отслеживайте его по ссылке"},
            {"detected_source_language": "EN", "text": "здравствуйте"},
        ]})
    );
    assert_eq!(fake.calls(), 6);
}
