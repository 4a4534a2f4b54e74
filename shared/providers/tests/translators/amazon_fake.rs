//! The Amazon Translate fake in AWS JSON 1.1 (the SDK's RPC v2 CBOR is exercised by
//! `omnidesk-aws`'s tests through the real SDK).

use omnidesk_providers::fakes::{AMAZON_TARGET_PREFIX, FakeAmazonTranslate};
use serde_json::{Value, json};

use crate::*;

const SIGV4: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261202/us-east-1/translate/aws4_request, \
                     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc123";

async fn call(fake: &FakeAmazonTranslate, auth: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/", fake.url()))
        .header(
            "x-amz-target",
            format!("{AMAZON_TARGET_PREFIX}.TranslateText"),
        )
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-date", "20261202T080000Z")
        .body(body.to_string());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/x-amz-json-1.1"
    );
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn amazon_fake_translates_in_aws_json_1_1_and_detects_with_auto() {
    let fake = FakeAmazonTranslate::start().await;
    let (status, body) = call(
        &fake,
        Some(SIGV4),
        &json!({"Text": RU_QUESTION, "SourceLanguageCode": "auto", "TargetLanguageCode": "en"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"TranslatedText": EN_QUESTION, "SourceLanguageCode": "ru", "TargetLanguageCode": "en"})
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn amazon_fake_refuses_unsigned_oversized_and_unsupported_requests() {
    let fake = FakeAmazonTranslate::start().await;
    let ok_body = json!({"Text": "hello", "SourceLanguageCode": "en", "TargetLanguageCode": "ru"});
    let (status, body) = call(&fake, None, &ok_body).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("MissingAuthenticationTokenException"))
    );
    let wrong_service = SIGV4.replace("/translate/", "/comprehend/");
    let (status, body) = call(&fake, Some(&wrong_service), &ok_body).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException"))
    );
    let big = "é".repeat(5_001);
    let (status, body) = call(
        &fake,
        Some(SIGV4),
        &json!({"Text": big, "SourceLanguageCode": "auto", "TargetLanguageCode": "en"}),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("TextSizeLimitExceededException"))
    );
    let (status, body) = call(
        &fake,
        Some(SIGV4),
        &json!({"Text": "hello", "SourceLanguageCode": "en", "TargetLanguageCode": "zh-Hans"}),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnsupportedLanguagePairException"))
    );
    let (status, body) = call(&fake, Some(SIGV4), &json!({"Text": "hello"})).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    fake.require_access_key_id(Some("AKIDOTHER"));
    let (status, body) = call(&fake, Some(SIGV4), &ok_body).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnrecognizedClientException"))
    );
    fake.fail_next(1, 429);
    let (status, body) = call(&fake, Some(SIGV4), &ok_body).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (429, Some("TooManyRequestsException"))
    );
    assert_eq!(fake.calls(), 7);
}
