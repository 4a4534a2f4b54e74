//! [`FakeBedrock`]: Amazon Bedrock Runtime's `Converse` (REST-JSON), answering from a
//! [`FakeScript`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::chat::{FakeScript, script_common, words};
use super::{FakeControls, Server, fake_common, sigv4_problem, started};

/// The service name in a SigV4 credential scope for Bedrock Runtime.
const SIGNING_NAME: &str = "bedrock";

struct Shared {
    controls: FakeControls,
    script: FakeScript,
    /// `(model id as decoded, request path as sent)` of every `Converse` request.
    seen: Mutex<Vec<(String, String)>>,
    next_request_id: AtomicU64,
}

/// A fake Amazon Bedrock Runtime speaking `Converse` as `aws-sdk-bedrockruntime` does:
/// `POST /model/{modelId}/converse` (the model id percent-encoded as one path segment, e.g.
/// `anthropic.claude-3-haiku-20240307-v1%3A0`), JSON
/// `{messages:[{role,content:[{text}]}], system?:[{text}], inferenceConfig?:{maxTokens,
/// temperature}}`, answering
/// `{"output":{"message":{"role":"assistant","content":[{"text":…}]}},"stopReason":…,
/// "usage":{inputTokens,outputTokens,totalTokens},"metrics":{"latencyMs":…}}` from a
/// [`FakeScript`] (stop reason `end_turn` unless scripted; tokens are whitespace-separated
/// words).
///
/// Checks, as Bedrock does: a SigV4 `Authorization` header scoped to the `bedrock` service
/// and an `X-Amz-Date` (403 `MissingAuthenticationTokenException`,
/// `IncompleteSignatureException`, `InvalidSignatureException`; the signature itself is not
/// verified); then 400 `ValidationException` unless the conversation is non-empty, starts
/// with a `user` message, alternates `user`/`assistant`, has no blank text, and
/// `inferenceConfig.maxTokens` ≥ 1 and `temperature` within 0–1 when given.
///
/// Errors come as Bedrock sends them: the status, `x-amzn-errortype: <Code>:<namespace>` and
/// `{"message":…}`. Scripted failures ([`FakeControls::fail_next`]): 400
/// `ValidationException`, 403 `AccessDeniedException`, 404 `ResourceNotFoundException`, 408
/// `ModelTimeoutException`, 424 `ModelErrorException`, 429 `ThrottlingException`, 500
/// `InternalServerException`, 503 `ServiceUnavailableException`.
pub struct FakeBedrock {
    server: Server,
    controls: FakeControls,
    script: FakeScript,
    shared: Arc<Shared>,
}

fake_common!(FakeBedrock);
script_common!(FakeBedrock);

impl FakeBedrock {
    /// Starts the fake; give [`FakeBedrock::url`] to the SDK as its endpoint URL.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        started("Bedrock", Self::try_start().await)
    }

    /// Starts the fake.
    pub async fn try_start() -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let script = FakeScript::default();
        let shared = Arc::new(Shared {
            controls: controls.clone(),
            script: script.clone(),
            seen: Mutex::new(Vec::new()),
            next_request_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/model/{model_id}/converse", post(converse))
            .fallback(unknown)
            .with_state(shared.clone());
        Ok(Self {
            server: Server::start("Bedrock", app).await?,
            controls,
            script,
            shared,
        })
    }

    /// The model ids of the `Converse` requests received, decoded, in order.
    pub fn model_ids(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The request paths as sent, percent-encoding included
    /// (`/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse`).
    pub fn paths(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .iter()
            .map(|(_, path)| path.clone())
            .collect()
    }
}

/// A Bedrock error: status, code (`ThrottlingException`) and message.
type BedrockError = (StatusCode, &'static str, String);

fn respond(shared: &Shared, result: Result<Value, BedrockError>) -> Response {
    let request_id = format!(
        "fake-{:08}",
        shared.next_request_id.fetch_add(1, Ordering::Relaxed)
    );
    let (status, body, code) = match result {
        Ok(body) => (StatusCode::OK, body, None),
        Err((status, code, message)) => (status, json!({ "message": message }), Some(code)),
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    // Bedrock appends the namespace after a colon; the SDK strips it.
    if let Some(code) = code
        && let Ok(value) = HeaderValue::from_str(&format!(
            "{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        ))
    {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

fn scripted(status: StatusCode) -> BedrockError {
    let (code, message) = match status.as_u16() {
        403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        404 => (
            "ResourceNotFoundException",
            "The specified model ID is not found.",
        ),
        408 => (
            "ModelTimeoutException",
            "Model has timed out in processing the request. Try your request again.",
        ),
        424 => (
            "ModelErrorException",
            "The model returned an error while processing the request.",
        ),
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        503 => (
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        s if s >= 500 => (
            "InternalServerException",
            "The server encountered an internal error.",
        ),
        _ => ("ValidationException", "The request is not valid."),
    };
    (status, code, message.to_owned())
}

fn invalid(message: impl Into<String>) -> BedrockError {
    (
        StatusCode::BAD_REQUEST,
        "ValidationException",
        message.into(),
    )
}

/// The texts of a content or system block list; a blank text is a `ValidationException`
/// naming where it is.
fn texts(blocks: &Value, at: &str) -> Result<Vec<String>, BedrockError> {
    let Some(blocks) = blocks.as_array() else {
        return Err(invalid(format!("{at} must be a list of content blocks")));
    };
    let mut out = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        if let Some(text) = block.get("text").and_then(Value::as_str) {
            if text.trim().is_empty() {
                return Err(invalid(format!(
                    "The text field in the ContentBlock object at {at}.{i} is blank. Add text \
                     to the text field, and try again."
                )));
            }
            out.push(text.to_owned());
        }
    }
    Ok(out)
}

/// Checks a `Converse` body as Bedrock does; returns every text it holds (the input the
/// fake counts tokens of).
fn check_body(body: &Value) -> Result<Vec<String>, BedrockError> {
    let mut all = Vec::new();
    if let Some(system) = body.get("system") {
        all.extend(texts(system, "system")?);
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("A conversation must have at least one message."))?;
    let mut previous = None;
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if !matches!(role, "user" | "assistant") {
            return Err(invalid(format!(
                "1 validation error detected: Value '{role}' at 'messages.{}.member.role' failed \
                 to satisfy constraint: Member must satisfy enum value set: [user, assistant]",
                i + 1
            )));
        }
        if i == 0 && role != "user" {
            return Err(invalid(
                "A conversation must start with a user message. Try again with a conversation \
                 that starts with a user message.",
            ));
        }
        if previous == Some(role) {
            return Err(invalid(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again.",
            ));
        }
        previous = Some(role);
        let content = message.get("content").unwrap_or(&Value::Null);
        if content.as_array().is_none_or(Vec::is_empty) {
            return Err(invalid(format!(
                "The content field in the Message object at messages.{i} is empty. Add a \
                 ContentBlock object to the content field and try again."
            )));
        }
        all.extend(texts(content, &format!("messages.{i}.content"))?);
    }
    if let Some(config) = body.get("inferenceConfig") {
        if let Some(max) = config.get("maxTokens")
            && max.as_u64().is_none_or(|n| n < 1)
        {
            return Err(invalid(format!(
                "1 validation error detected: Value '{max}' at 'inferenceConfig.maxTokens' \
                 failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        if let Some(t) = config.get("temperature")
            && !t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t))
        {
            return Err(invalid(format!(
                "1 validation error detected: Value '{t}' at 'inferenceConfig.temperature' \
                 failed to satisfy constraint: Member must have value less than or equal to 1"
            )));
        }
    }
    Ok(all)
}

async fn converse(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    shared
        .seen
        .lock()
        .push((model_id.clone(), uri.path().to_owned()));
    let result = async {
        if let Some(status) = shared
            .controls
            .admit(parsed.clone().unwrap_or_default())
            .await
        {
            return Err(scripted(status));
        }
        if let Some((code, message)) = sigv4_problem(&headers, SIGNING_NAME, None) {
            return Err((StatusCode::FORBIDDEN, code, message));
        }
        if model_id.is_empty() {
            return Err(invalid("The provided model identifier is invalid."));
        }
        let body = parsed.ok_or_else(|| {
            invalid("Malformed input request, please reformat your input and try again.")
        })?;
        let input = check_body(&body)?;
        let answer = shared.script.next(&body);
        let input_tokens: u64 = input.iter().map(|t| words(t)).sum();
        let output_tokens = answer.text.as_deref().map_or(0, words);
        let content = match &answer.text {
            Some(text) => json!([{ "text": text }]),
            None => json!([]),
        };
        let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut out = json!({
            "output": { "message": { "role": "assistant", "content": content } },
            "stopReason": answer.finish.as_deref().unwrap_or("end_turn"),
            "metrics": { "latencyMs": latency },
        });
        if answer.report_usage {
            out["usage"] = json!({
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            });
        }
        Ok(out)
    }
    .await;
    respond(&shared, result)
}

async fn unknown(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    respond(
        &shared,
        Err((
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no operation at {}", uri.path()),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_must_start_with_the_user_and_alternate() {
        let m = |role: &str, text: &str| json!({"role": role, "content": [{"text": text}]});
        let ok = json!({"system": [{"text": "Be brief"}], "messages": [m("user", "hi"), m("assistant", "hello"), m("user", "bye now")]});
        assert_eq!(check_body(&ok).unwrap().len(), 4);
        let first = json!({"messages": [m("assistant", "hello")]});
        assert!(
            check_body(&first)
                .unwrap_err()
                .2
                .contains("start with a user")
        );
        let twice = json!({"messages": [m("user", "a"), m("user", "b")]});
        assert!(check_body(&twice).unwrap_err().2.contains("alternate"));
        let blank = json!({"messages": [m("user", " ")]});
        assert!(
            check_body(&blank)
                .unwrap_err()
                .2
                .contains("messages.0.content.0 is blank")
        );
        let max = json!({"messages": [m("user", "a")], "inferenceConfig": {"maxTokens": 0}});
        assert!(check_body(&max).unwrap_err().2.contains("maxTokens"));
    }
}
