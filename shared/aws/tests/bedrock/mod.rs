//! [`BedrockLlm`] through the real `aws-sdk-bedrockruntime` against the local fake
//! (`omnidesk_providers::fakes::FakeBedrock`; moto has no Bedrock Runtime). The SDK speaks
//! REST-JSON `Converse` to it and signs with SigV4; it never leaves 127.0.0.1: static dummy
//! credentials, a fixed region and an explicit loopback endpoint (`moto_sdk_config` asserts
//! it), so neither a credential chain nor the instance-metadata service is consulted. SDK
//! retries are off so each scripted failure is seen once.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use omnidesk_aws::aws_config::retry::RetryConfig;
use omnidesk_aws::testing::moto_sdk_config;
use omnidesk_aws::{BedrockLlm, CONVERSATION_START, aws_sdk_bedrockruntime};
use omnidesk_core::{ChatMessage, ChatRequest, ChatResponse, Llm, ProviderError, TokenUsage};
use omnidesk_providers::fakes::FakeBedrock;
use serde_json::json;

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const REPLY: &str = r#"{"action":"answer","text":"Your order ships tomorrow."}"#;

async fn bedrock(fake: &FakeBedrock, model_id: &str, timeout: Duration) -> BedrockLlm {
    let sdk = moto_sdk_config(&fake.url()).await;
    let config = BedrockLlm::client_config(&sdk, timeout)
        .retry_config(RetryConfig::disabled())
        .build();
    BedrockLlm::new(
        aws_sdk_bedrockruntime::Client::from_conf(config),
        model_id.to_owned(),
    )
}

fn request(messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest {
        messages,
        max_tokens: 256,
        json: true,
        temperature: Some(0.5),
    }
}

fn hello() -> ChatRequest {
    request(vec![
        ChatMessage::system("You are a support assistant."),
        ChatMessage::user("Where is my order?"),
    ])
}

#[track_caller]
fn answer(result: Result<ChatResponse, ProviderError>) -> ChatResponse {
    result.unwrap_or_else(|e| panic!("expected an answer, got {e}"))
}

#[track_caller]
fn transient<T: Debug>(result: Result<T, ProviderError>, needle: &str) {
    match result {
        Err(ProviderError::Transient(m)) if m.contains(needle) => {}
        other => panic!("expected Transient containing {needle:?}, got {other:?}"),
    }
}

#[track_caller]
fn permanent<T: Debug>(result: Result<T, ProviderError>, needle: &str) {
    match result {
        Err(ProviderError::Permanent(m)) if m.contains(needle) => {}
        other => panic!("expected Permanent containing {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn bedrock_answers_with_text_and_usage_over_the_sdk() {
    let fake = FakeBedrock::start().await;
    fake.push_reply(REPLY);
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    let out = answer(llm.complete(&hello()).await);
    assert_eq!(out.text, REPLY);
    assert_eq!(out.finish_reason, "stop");
    // The fake counts whitespace-separated words: 5 + 4 in, 4 out.
    assert_eq!(
        out.usage,
        TokenUsage {
            input: 9,
            output: 4
        }
    );
    assert_eq!((llm.name(), llm.model()), ("bedrock", HAIKU));
    // The SDK puts the model id in one path segment, its `:` percent-encoded.
    assert_eq!(fake.model_ids(), vec![HAIKU.to_owned()]);
    assert_eq!(
        fake.paths(),
        vec!["/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse".to_owned()]
    );
}

#[tokio::test]
async fn bedrock_an_inference_profile_arn_stays_one_path_segment() {
    let fake = FakeBedrock::start().await;
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/\
               us.anthropic.claude-3-5-haiku-20241022-v1:0";
    let llm = bedrock(&fake, arn, Duration::from_secs(5)).await;
    answer(llm.complete(&hello()).await);
    assert_eq!(fake.model_ids(), vec![arn.to_owned()]);
    assert_eq!(
        fake.paths(),
        vec![
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F\
             us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
                .to_owned()
        ]
    );
}

#[tokio::test]
async fn bedrock_sends_system_blocks_and_merges_same_role_turns() {
    let fake = FakeBedrock::start().await;
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    let out = answer(
        llm.complete(&request(vec![
            ChatMessage::system("You are a support assistant."),
            ChatMessage::assistant("Hi! How can I help?"),
            ChatMessage::user("Where is my order?"),
            ChatMessage::user("It is 12345."),
            ChatMessage::system("Answer with a JSON object."),
        ]))
        .await,
    );
    // Nothing scripted: the default responder hands off.
    assert_eq!(
        out.text,
        r#"{"action":"handoff","reason":"no scripted answer"}"#
    );
    let body = fake.last_request().unwrap();
    assert_eq!(
        body["system"],
        json!([{"text": "You are a support assistant."}, {"text": "Answer with a JSON object."}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"text": CONVERSATION_START}]},
            {"role": "assistant", "content": [{"text": "Hi! How can I help?"}]},
            {"role": "user", "content": [{"text": "Where is my order?\n\nIt is 12345."}]},
        ])
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 256);
    assert!((body["inferenceConfig"]["temperature"].as_f64().unwrap() - 0.5).abs() < 1e-6);
}

#[tokio::test]
async fn bedrock_throttling_and_outages_are_transient() {
    let fake = FakeBedrock::start().await;
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    for status in [429, 503, 500, 408] {
        fake.fail_next(1, status);
    }
    transient(llm.complete(&hello()).await, "ThrottlingException");
    transient(llm.complete(&hello()).await, "ServiceUnavailableException");
    transient(llm.complete(&hello()).await, "InternalServerException");
    transient(llm.complete(&hello()).await, "ModelTimeoutException");
    answer(llm.complete(&hello()).await);
    assert_eq!(fake.calls(), 5);
}

#[tokio::test]
async fn bedrock_access_denied_and_bad_requests_are_permanent() {
    let fake = FakeBedrock::start().await;
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    for status in [403, 404, 424] {
        fake.fail_next(1, status);
    }
    permanent(llm.complete(&hello()).await, "bedrock:InvokeModel");
    permanent(llm.complete(&hello()).await, "ResourceNotFoundException");
    permanent(llm.complete(&hello()).await, "ModelErrorException");
    // The fake's own validation: Bedrock's temperature is 0–1.
    let mut hot = hello();
    hot.temperature = Some(1.5);
    permanent(llm.complete(&hot).await, "ValidationException");
}

#[tokio::test]
async fn bedrock_slower_than_the_timeout_is_transient_within_the_timeout() {
    let fake = FakeBedrock::start().await;
    fake.set_delay(Duration::from_millis(1500));
    let llm = bedrock(&fake, HAIKU, Duration::from_millis(300)).await;
    let started = Instant::now();
    transient(llm.complete(&hello()).await, "no answer within the timeout");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[tokio::test]
async fn bedrock_stop_reasons_are_normalised() {
    let fake = FakeBedrock::start().await;
    fake.push_reply_with(r#"{"action":"answer","text":"Your ord"#, "max_tokens");
    fake.push_reply_with("I can't help with that.", "guardrail_intervened");
    fake.push_reply_with("Done", "stop_sequence");
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    assert_eq!(answer(llm.complete(&hello()).await).finish_reason, "length");
    assert_eq!(
        answer(llm.complete(&hello()).await).finish_reason,
        "content_filter"
    );
    assert_eq!(answer(llm.complete(&hello()).await).finish_reason, "stop");
}

#[tokio::test]
async fn bedrock_an_answer_without_text_is_permanent_and_missing_usage_is_zero() {
    let fake = FakeBedrock::start().await;
    let llm = bedrock(&fake, HAIKU, Duration::from_secs(5)).await;
    fake.push_empty_reply();
    permanent(llm.complete(&hello()).await, "empty answer");
    fake.set_report_usage(false);
    assert_eq!(
        answer(llm.complete(&hello()).await).usage,
        TokenUsage::default()
    );
}

#[tokio::test]
async fn the_bedrock_fake_refuses_unsigned_and_wrongly_scoped_requests() {
    let fake = FakeBedrock::start().await;
    let url = format!("{}/model/{}/converse", fake.url(), "m");
    let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}).to_string();
    let http = reqwest::Client::new();
    let unsigned = http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .split(':')
            .next(),
        Some("MissingAuthenticationTokenException")
    );
    let wrong_service = http
        .post(&url)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/translate/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .header("x-amz-date", "20260101T000000Z")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_service.status(), 403);
    let text = wrong_service.text().await.unwrap();
    assert!(
        text.contains("scoped to correct service: 'bedrock'"),
        "{text}"
    );
    assert!(fake.last_request().is_some());
}
