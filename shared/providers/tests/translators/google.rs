use std::time::Instant;

use omnidesk_core::Translator;
use omnidesk_providers::fakes::{FAKE_GOOGLE_KEY, FakeGoogle};
use omnidesk_providers::{GOOGLE_MAX_CHARS, GoogleSettings, GoogleTranslator};
use serde_json::json;

use crate::*;

fn google(fake: &FakeGoogle) -> GoogleTranslator {
    GoogleTranslator::new(GoogleSettings::new(FAKE_GOOGLE_KEY).with_base_url(fake.url()))
}

#[tokio::test]
async fn google_translates_with_the_given_source() {
    let fake = FakeGoogle::start().await;
    let t = google(&fake);
    let out = ok(t.translate(&request(EN_QUESTION, Some("en"), "ru")).await);
    assert_eq!(out.text, RU_QUESTION);
    // Google names no detected language when told the source: the given one stands.
    assert_eq!(out.detected_source, Some(tag("en")));
    assert_eq!(out.provider, "google");
    assert_eq!(t.name(), "google");
    assert_eq!(
        fake.last_request(),
        Some(json!({"q": [EN_QUESTION], "target": "ru", "source": "en", "format": "text"}))
    );
}

#[tokio::test]
async fn google_detects_the_source_including_chinese() {
    let fake = FakeGoogle::start().await;
    let t = google(&fake);
    let out = ok(t.translate(&request(RU_QUESTION, None, "en")).await);
    assert_eq!(out.text, EN_QUESTION);
    assert_eq!(out.detected_source, Some(tag("ru")));
    let out = ok(t
        .translate(&request("你好！我的订单在哪里⟦1⟧？", None, "en"))
        .await);
    assert_eq!(out.text, EN_QUESTION);
    assert_eq!(out.detected_source, Some(tag("zh-CN")));
    let out = ok(t.translate(&request(EN_QUESTION, None, "zh-Hant")).await);
    assert_eq!(out.text, "你好！我的订单在哪里 ⟦1⟧？");
    assert_eq!(fake.last_request().unwrap()["target"], "zh-TW");
}

#[tokio::test]
async fn google_keeps_the_url_and_order_number_placeholders() {
    let fake = FakeGoogle::start().await;
    let out = ok(google(&fake)
        .translate(&request(EN_ANSWER, None, "ru"))
        .await);
    assert_eq!(out.text, RU_ANSWER);
}

#[tokio::test]
async fn google_invalid_key_is_permanent_credentials_refused_and_never_shown() {
    let fake = FakeGoogle::start().await;
    let t =
        GoogleTranslator::new(GoogleSettings::new("wrong-secret-key").with_base_url(fake.url()));
    let m = permanent(
        t.translate(&request("hello", None, "ru")).await,
        "credentials refused",
    );
    assert!(!m.contains("wrong-secret-key"), "{m}");
    fake.fail_next(1, 403);
    permanent(
        google(&fake).translate(&request("hello", None, "ru")).await,
        "credentials refused",
    );
}

#[tokio::test]
async fn google_rate_limits_and_outages_are_transient() {
    let fake = FakeGoogle::start().await;
    let t = google(&fake);
    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    let m = transient(t.translate(&request("hello", None, "ru")).await, "HTTP 429");
    assert!(m.contains("RESOURCE_EXHAUSTED"), "{m}");
    transient(t.translate(&request("hello", None, "ru")).await, "HTTP 503");
    ok(t.translate(&request("hello", None, "ru")).await);
}

#[tokio::test]
async fn google_slower_than_the_timeout_is_transient_and_hides_the_key() {
    let fake = FakeGoogle::start().await;
    fake.set_delay(LONG_DELAY);
    let t = GoogleTranslator::new(
        GoogleSettings::new(FAKE_GOOGLE_KEY)
            .with_base_url(fake.url())
            .with_timeout(SHORT_TIMEOUT),
    );
    let started = Instant::now();
    let m = transient(
        t.translate(&request("hello", None, "ru")).await,
        "no answer within",
    );
    assert!(started.elapsed() < LONG_DELAY, "{:?}", started.elapsed());
    assert!(!m.contains(FAKE_GOOGLE_KEY), "{m}");
    let t = GoogleTranslator::new(
        GoogleSettings::new(FAKE_GOOGLE_KEY).with_base_url(closed_url().await),
    );
    let m = transient(
        t.translate(&request("hello", None, "ru")).await,
        "cannot connect",
    );
    assert!(!m.contains(FAKE_GOOGLE_KEY), "{m}");
}

#[tokio::test]
async fn google_over_the_character_limit_is_permanent_without_a_call() {
    let fake = FakeGoogle::start().await;
    let text = "я".repeat(GOOGLE_MAX_CHARS + 1);
    permanent(
        google(&fake).translate(&request(&text, None, "en")).await,
        "over the limit",
    );
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn google_garbled_answers_are_transient() {
    let (url, _server) = garbage_server().await;
    let t = GoogleTranslator::new(GoogleSettings::new("k").with_base_url(url));
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "unexpected answer",
    );
}

#[tokio::test]
async fn google_fake_checks_the_request_like_google() {
    let fake = FakeGoogle::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/language/translate/v2", fake.url());
    let with_key = format!("{url}?key={FAKE_GOOGLE_KEY}");
    let r = http
        .post(&url)
        .json(&json!({"q": "hi", "target": "ru"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    let r = http
        .post(&with_key)
        .json(&json!({"q": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let many: Vec<String> = (0..129).map(|i| format!("hello {i}")).collect();
    let r = http
        .post(&with_key)
        .json(&json!({"q": many, "target": "ru"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Too many text segments"));
    // A single string works too, and `source` suppresses detection.
    let r = http
        .post(&with_key)
        .json(&json!({"q": "thank you", "target": "es", "source": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"data": {"translations": [{"translatedText": "gracias"}]}})
    );
}
