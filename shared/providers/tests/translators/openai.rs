use std::time::Instant;

use omnidesk_core::Translator;
use omnidesk_providers::fakes::{FAKE_OPENAI_KEY, FakeOpenAi};
use omnidesk_providers::{OpenAiSettings, OpenAiTranslator};
use serde_json::json;

use crate::*;

fn openai(fake: &FakeOpenAi, key: Option<&str>) -> OpenAiTranslator {
    OpenAiTranslator::new(
        OpenAiSettings::new(key.map(str::to_owned)).with_base_url(fake.base_url_v1()),
    )
}

#[tokio::test]
async fn openai_translates_with_the_given_source_in_one_system_and_one_user_message() {
    let fake = FakeOpenAi::start_with_key(FAKE_OPENAI_KEY).await;
    let t = openai(&fake, Some(FAKE_OPENAI_KEY));
    let out = ok(t.translate(&request(EN_QUESTION, Some("en"), "ru")).await);
    assert_eq!(out.text, RU_QUESTION);
    assert_eq!(out.detected_source, Some(tag("en")));
    assert_eq!(out.provider, "openai");
    assert_eq!(t.name(), "openai");
    let body = fake.last_request().unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["messages"][0]["role"], "system");
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        prompt.contains("into Russian (ru) from English (en)"),
        "{prompt}"
    );
    assert!(prompt.contains("⟦1⟧"), "{prompt}");
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": EN_QUESTION})
    );
}

#[tokio::test]
async fn openai_without_a_source_lets_the_model_read_it_and_reports_none() {
    let fake = FakeOpenAi::start().await;
    let t = OpenAiTranslator::new(
        OpenAiSettings::new(None)
            .with_base_url(fake.url())
            .with_model("llama3.1:8b"),
    );
    let out = ok(t.translate(&request(RU_QUESTION, None, "en")).await);
    assert_eq!(out.text, EN_QUESTION);
    assert_eq!(out.detected_source, None);
    let body = fake.last_request().unwrap();
    assert_eq!(body["model"], "llama3.1:8b");
    assert!(
        !body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains(" from ")
    );
}

#[tokio::test]
async fn openai_keeps_the_url_and_order_number_placeholders() {
    let fake = FakeOpenAi::start().await;
    let out = ok(openai(&fake, None)
        .translate(&request(EN_ANSWER, None, "ru"))
        .await);
    assert_eq!(out.text, RU_ANSWER);
}

#[tokio::test]
async fn openai_wrong_or_missing_key_is_permanent_credentials_refused() {
    let fake = FakeOpenAi::start_with_key(FAKE_OPENAI_KEY).await;
    permanent(
        openai(&fake, Some("sk-wrong"))
            .translate(&request("hello", None, "ru"))
            .await,
        "credentials refused",
    );
    // No key configured: no Authorization header is sent at all.
    let m = permanent(
        openai(&fake, None)
            .translate(&request("hello", None, "ru"))
            .await,
        "credentials refused",
    );
    assert!(m.contains("didn't provide an API key"), "{m}");
}

#[tokio::test]
async fn openai_rate_limits_and_outages_are_transient() {
    let fake = FakeOpenAi::start().await;
    let t = openai(&fake, None);
    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "rate_limit_exceeded",
    );
    transient(t.translate(&request("hello", None, "ru")).await, "HTTP 503");
    ok(t.translate(&request("hello", None, "ru")).await);
}

#[tokio::test]
async fn openai_cut_off_or_filtered_answers_are_permanent() {
    let fake = FakeOpenAi::start().await;
    let t = openai(&fake, None);
    fake.set_finish_reason("length");
    permanent(t.translate(&request("hello", None, "ru")).await, "cut off");
    fake.set_finish_reason("content_filter");
    permanent(
        t.translate(&request("hello", None, "ru")).await,
        "content filter",
    );
    fake.set_finish_reason("tool_calls");
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "tool_calls",
    );
}

#[tokio::test]
async fn openai_slower_than_the_timeout_is_transient() {
    let fake = FakeOpenAi::start().await;
    fake.set_delay(LONG_DELAY);
    let t = OpenAiTranslator::new(
        OpenAiSettings::new(None)
            .with_base_url(fake.base_url_v1())
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
async fn openai_over_the_text_limit_is_permanent_without_a_call() {
    let fake = FakeOpenAi::start().await;
    let t = OpenAiTranslator::new(
        OpenAiSettings::new(None)
            .with_base_url(fake.base_url_v1())
            .with_max_chars(100),
    );
    permanent(
        t.translate(&request(&"word ".repeat(21), None, "ru")).await,
        "over the limit of 100",
    );
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn openai_garbled_answers_are_transient() {
    let (url, _server) = garbage_server().await;
    let t = OpenAiTranslator::new(OpenAiSettings::new(None).with_base_url(url));
    transient(
        t.translate(&request("hello", None, "ru")).await,
        "unexpected answer",
    );
}

#[tokio::test]
async fn openai_fake_answers_a_realistic_chat_completion() {
    let fake = FakeOpenAi::start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/chat/completions", fake.url()))
        .json(&json!({"model": "m", "messages": [
            {"role": "system", "content": "Translate into German."},
            {"role": "user", "content": "Thank you ⟦1⟧"},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(body["model"], "m");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(
        body["choices"][0]["message"],
        json!({"role": "assistant", "content": "Danke ⟦1⟧", "refusal": null})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        )
    );
    for bad in [
        json!({"messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "m", "messages": []}),
    ] {
        let r = http
            .post(format!("{}/v1/chat/completions", fake.url()))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
}
