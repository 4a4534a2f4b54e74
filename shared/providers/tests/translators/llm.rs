//! [`OpenAiLlm`] against [`FakeChat`], the scripted OpenAI-compatible server.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use omnidesk_core::{ChatMessage, ChatRequest, ChatResponse, Llm, ProviderError, TokenUsage};
use omnidesk_providers::fakes::{DEFAULT_FAKE_REPLY, FAKE_CHAT_KEY, FakeChat};
use omnidesk_providers::{OpenAiLlm, OpenAiLlmSettings};
use serde_json::json;

use crate::{LONG_DELAY, SHORT_TIMEOUT};

const SYSTEM: &str = "You are the support assistant of a shop. Answer with a JSON object \
                      {\"action\":\"answer\"|\"handoff\",\"text\":…}.";
const REPLY: &str = r#"{"action":"answer","text":"Your order ships tomorrow."}"#;

fn llm(fake: &FakeChat, key: Option<&str>) -> OpenAiLlm {
    OpenAiLlm::new(OpenAiLlmSettings::new(
        fake.url(),
        key.map(str::to_owned),
        "gpt-4o-mini",
    ))
}

fn conversation(json: bool) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(SYSTEM),
            ChatMessage::user("Hello, where is my order 12345?"),
            ChatMessage::assistant("Let me check."),
            ChatMessage::user("Thanks"),
        ],
        max_tokens: 300,
        json,
        temperature: Some(0.2),
    }
}

#[track_caller]
fn answer(result: Result<ChatResponse, ProviderError>) -> ChatResponse {
    result.unwrap_or_else(|e| panic!("expected an answer, got {e}"))
}

#[track_caller]
fn transient<T: Debug>(result: Result<T, ProviderError>, needle: &str) -> String {
    match result {
        Err(ProviderError::Transient(m)) if m.contains(needle) => m,
        other => panic!("expected Transient containing {needle:?}, got {other:?}"),
    }
}

#[track_caller]
fn permanent<T: Debug>(result: Result<T, ProviderError>, needle: &str) -> String {
    match result {
        Err(ProviderError::Permanent(m)) if m.contains(needle) => m,
        other => panic!("expected Permanent containing {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn llm_json_mode_sends_response_format_and_the_messages_in_order() {
    let fake = FakeChat::start_with_key(FAKE_CHAT_KEY).await;
    fake.push_reply(REPLY);
    let llm = llm(&fake, Some(FAKE_CHAT_KEY));
    let out = answer(llm.complete(&conversation(true)).await);
    assert_eq!(out.text, REPLY);
    assert_eq!(out.finish_reason, "stop");
    assert_eq!((llm.name(), llm.model()), ("openai", "gpt-4o-mini"));
    let body = fake.last_request().unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["stream"], false);
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Hello, where is my order 12345?"},
            {"role": "assistant", "content": "Let me check."},
            {"role": "user", "content": "Thanks"},
        ])
    );
}

#[tokio::test]
async fn llm_without_json_mode_or_temperature_sends_neither() {
    let fake = FakeChat::start().await;
    let mut request = conversation(false);
    request.temperature = None;
    let out = answer(llm(&fake, None).complete(&request).await);
    // Nothing scripted: the default responder hands off.
    assert_eq!(out.text, DEFAULT_FAKE_REPLY);
    let body = fake.last_request().unwrap();
    assert!(body.get("response_format").is_none(), "{body}");
    assert!(body.get("temperature").is_none(), "{body}");
}

#[tokio::test]
async fn llm_usage_is_read_and_missing_usage_counts_zero() {
    let fake = FakeChat::start().await;
    fake.push_reply("one two three");
    let request = ChatRequest {
        messages: vec![
            ChatMessage::system("be brief"),
            ChatMessage::user("hi there you"),
        ],
        max_tokens: 10,
        json: false,
        temperature: None,
    };
    let out = answer(llm(&fake, None).complete(&request).await);
    // The fake counts whitespace-separated words.
    assert_eq!(
        out.usage,
        TokenUsage {
            input: 5,
            output: 3
        }
    );
    fake.set_report_usage(false);
    let out = answer(llm(&fake, None).complete(&request).await);
    assert_eq!(out.usage, TokenUsage::default());
}

#[tokio::test]
async fn llm_a_cut_off_answer_says_length() {
    let fake = FakeChat::start().await;
    fake.push_reply_with(r#"{"action":"answer","text":"Your ord"#, "length");
    fake.push_reply_with("", "content_filter");
    let llm = llm(&fake, None);
    let out = answer(llm.complete(&conversation(true)).await);
    assert_eq!(out.finish_reason, "length");
    assert_eq!(
        answer(llm.complete(&conversation(true)).await).finish_reason,
        "content_filter"
    );
}

#[tokio::test]
async fn llm_a_null_content_is_a_permanent_empty_answer() {
    let fake = FakeChat::start().await;
    fake.push_empty_reply();
    permanent(
        llm(&fake, None).complete(&conversation(true)).await,
        "empty answer",
    );
}

#[tokio::test]
async fn llm_without_a_key_sends_no_authorization_header() {
    let open = FakeChat::start().await;
    answer(llm(&open, None).complete(&conversation(false)).await);
    // A server that wants a key says whether the header was missing or wrong.
    let guarded = FakeChat::start_with_key(FAKE_CHAT_KEY).await;
    permanent(
        llm(&guarded, None).complete(&conversation(false)).await,
        "You didn't provide an API key",
    );
}

#[tokio::test]
async fn llm_a_wrong_key_is_permanent_and_never_shown() {
    let fake = FakeChat::start_with_key(FAKE_CHAT_KEY).await;
    let wrong = "sk-wrong-secret-key";
    let m = permanent(
        llm(&fake, Some(wrong)).complete(&conversation(false)).await,
        "credentials refused",
    );
    assert!(m.contains("invalid_api_key"), "{m}");
    // OpenAI's body echoes the key masked (`sk-****-key`): neither form may appear.
    assert!(!m.contains(wrong), "{m}");
    assert!(
        !m.contains("sk-") && !m.contains("-key.") && !m.contains('*'),
        "{m}"
    );
}

#[tokio::test]
async fn llm_rate_limits_and_server_errors_are_transient() {
    let fake = FakeChat::start().await;
    fake.fail_next(1, 429);
    fake.fail_next(1, 500);
    fake.fail_next(1, 503);
    fake.fail_next(1, 401);
    let llm = llm(&fake, None);
    transient(llm.complete(&conversation(false)).await, "HTTP 429");
    transient(llm.complete(&conversation(false)).await, "HTTP 500");
    transient(llm.complete(&conversation(false)).await, "HTTP 503");
    permanent(llm.complete(&conversation(false)).await, "HTTP 401");
    answer(llm.complete(&conversation(false)).await);
    assert_eq!(fake.calls(), 5);
}

#[tokio::test]
async fn llm_slower_than_the_timeout_is_transient_within_the_timeout() {
    let fake = FakeChat::start().await;
    fake.set_delay(LONG_DELAY);
    let llm =
        OpenAiLlm::new(OpenAiLlmSettings::new(fake.url(), None, "m").with_timeout(SHORT_TIMEOUT));
    let started = Instant::now();
    transient(llm.complete(&conversation(false)).await, "no answer within");
    let took = started.elapsed();
    assert!(
        took < SHORT_TIMEOUT + Duration::from_millis(500),
        "took {took:?}"
    );
}

#[tokio::test]
async fn llm_a_server_refusing_response_format_is_asked_again_without_it_and_not_again() {
    let fake = FakeChat::start().await;
    fake.set_reject_response_format(true);
    fake.push_reply(REPLY);
    fake.push_reply(REPLY);
    let llm = llm(&fake, None);
    assert_eq!(answer(llm.complete(&conversation(true)).await).text, REPLY);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["response_format"]["type"], "json_object");
    assert!(requests[1].get("response_format").is_none());
    assert_eq!(requests[0]["messages"], requests[1]["messages"]);
    // The client remembers: the next JSON call goes out without it at once.
    answer(llm.complete(&conversation(true)).await);
    assert_eq!(fake.calls(), 3);
    assert!(
        fake.last_request()
            .unwrap()
            .get("response_format")
            .is_none()
    );
}

#[tokio::test]
async fn llm_other_bad_requests_are_permanent_without_a_retry() {
    let fake = FakeChat::start().await;
    // OpenAI's own rule: JSON mode needs the word JSON in the messages.
    let request = ChatRequest {
        messages: vec![ChatMessage::user("hello")],
        max_tokens: 10,
        json: true,
        temperature: None,
    };
    permanent(
        llm(&fake, None).complete(&request).await,
        "must contain the word 'json'",
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn llm_the_responder_sees_the_prompt() {
    let fake = FakeChat::start().await;
    fake.set_responder(|body| {
        let last = body["messages"].as_array().and_then(|m| m.last()).cloned();
        format!("echo: {}", last.unwrap_or_default()["content"])
    });
    let out = answer(llm(&fake, None).complete(&conversation(false)).await);
    assert_eq!(out.text, "echo: \"Thanks\"");
}
