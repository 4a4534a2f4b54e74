//! [`FakeChat`]: a scripted OpenAI-compatible `POST /v1/chat/completions`, and
//! [`FakeScript`], the answers it and [`super::FakeBedrock`] give.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::openai::{content_of, error, scripted};
use super::{FakeControls, Server, fake_common, json, started};

/// The default responder's answer: what the AI answers when it cannot help.
pub const DEFAULT_FAKE_REPLY: &str = r#"{"action":"handoff","reason":"no scripted answer"}"#;

type Responder = Arc<dyn Fn(&Value) -> String + Send + Sync>;

/// One scripted answer: the text (`None`: no content at all) and the wire stop reason
/// (`None`: the protocol's normal end, `stop` or `end_turn`).
#[derive(Debug, Clone)]
struct Reply {
    text: Option<String>,
    finish: Option<String>,
}

struct ScriptState {
    replies: VecDeque<Reply>,
    responder: Responder,
    report_usage: bool,
}

impl Default for ScriptState {
    fn default() -> Self {
        Self {
            replies: VecDeque::new(),
            responder: Arc::new(|_| DEFAULT_FAKE_REPLY.to_owned()),
            report_usage: true,
        }
    }
}

/// What a fake model answers: scripted replies first (FIFO), then whatever the responder
/// makes of the request body (by default [`DEFAULT_FAKE_REPLY`]). Cloning gives another
/// handle on the same script. [`FakeChat`] and [`super::FakeBedrock`] deref to their
/// [`FakeControls`] and expose these methods directly too.
#[derive(Clone, Default)]
pub struct FakeScript {
    state: Arc<Mutex<ScriptState>>,
}

impl std::fmt::Debug for FakeScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeScript")
            .field("pending", &self.state.lock().replies.len())
            .finish_non_exhaustive()
    }
}

/// An answer the fake gives: the text (`None`: the model said nothing), the wire stop
/// reason, and whether to report token usage.
pub(super) struct Answer {
    pub(super) text: Option<String>,
    pub(super) finish: Option<String>,
    pub(super) report_usage: bool,
}

impl FakeScript {
    /// Queues the next answer's text, ending normally.
    pub fn push_reply(&self, text: impl Into<String>) {
        self.push(Some(text.into()), None);
    }

    /// Queues the next answer with the protocol's own stop word: `length` or
    /// `content_filter` for chat completions, `max_tokens`, `guardrail_intervened`,
    /// `content_filtered`, `stop_sequence` for Bedrock.
    pub fn push_reply_with(&self, text: impl Into<String>, finish_reason: &str) {
        self.push(Some(text.into()), Some(finish_reason.to_owned()));
    }

    /// Queues an answer without any content (`"content": null`; Bedrock: no content block).
    pub fn push_empty_reply(&self) {
        self.push(None, None);
    }

    fn push(&self, text: Option<String>, finish: Option<String>) {
        self.state.lock().replies.push_back(Reply { text, finish });
    }

    /// Scripted answers not given yet.
    pub fn pending_replies(&self) -> usize {
        self.state.lock().replies.len()
    }

    /// What to answer once the script is empty, from the request body as JSON.
    pub fn set_responder(&self, responder: impl Fn(&Value) -> String + Send + Sync + 'static) {
        self.state.lock().responder = Arc::new(responder);
    }

    /// Whether answers carry token usage (on by default; a token is a whitespace-separated
    /// word here).
    pub fn set_report_usage(&self, report: bool) {
        self.state.lock().report_usage = report;
    }

    /// Forgets the queued answers and restores the default responder and usage.
    pub fn reset_script(&self) {
        *self.state.lock() = ScriptState::default();
    }

    /// The next answer to `body`.
    pub(super) fn next(&self, body: &Value) -> Answer {
        let (reply, responder, report_usage) = {
            let mut state = self.state.lock();
            let reply = state.replies.pop_front();
            (reply, state.responder.clone(), state.report_usage)
        };
        let reply = reply.unwrap_or_else(|| Reply {
            text: Some(responder(body)),
            finish: None,
        });
        Answer {
            text: reply.text,
            finish: reply.finish,
            report_usage,
        }
    }
}

/// The fake's token count: whitespace-separated words.
pub(super) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// `push_reply`, `push_reply_with`, `push_empty_reply`, `set_responder`, `set_report_usage`
/// and `script()` of a fake with a `script` field.
macro_rules! script_common {
    ($fake:ident) => {
        impl $fake {
            /// Another handle on this fake's script.
            pub fn script(&self) -> $crate::fakes::FakeScript {
                self.script.clone()
            }

            /// See [`FakeScript::push_reply`](crate::fakes::FakeScript::push_reply).
            pub fn push_reply(&self, text: impl Into<String>) {
                self.script.push_reply(text);
            }

            /// See [`FakeScript::push_reply_with`](crate::fakes::FakeScript::push_reply_with).
            pub fn push_reply_with(&self, text: impl Into<String>, finish_reason: &str) {
                self.script.push_reply_with(text, finish_reason);
            }

            /// See [`FakeScript::push_empty_reply`](crate::fakes::FakeScript::push_empty_reply).
            pub fn push_empty_reply(&self) {
                self.script.push_empty_reply();
            }

            /// See [`FakeScript::set_responder`](crate::fakes::FakeScript::set_responder).
            pub fn set_responder(
                &self,
                responder: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static,
            ) {
                self.script.set_responder(responder);
            }

            /// See [`FakeScript::set_report_usage`](crate::fakes::FakeScript::set_report_usage).
            pub fn set_report_usage(&self, report: bool) {
                self.script.set_report_usage(report);
            }
        }
    };
}
pub(super) use script_common;

/// A key for [`FakeChat::start_with_key`].
pub const FAKE_CHAT_KEY: &str = "sk-fake-chat-key";

struct Shared {
    key: Option<String>,
    controls: FakeControls,
    script: FakeScript,
    reject_response_format: AtomicBool,
    next_id: AtomicU64,
}

/// A fake OpenAI-compatible chat-completions server (`POST /v1/chat/completions`) whose
/// model answers from a [`FakeScript`]. Unlike [`super::FakeOpenAi`] (which translates), it
/// is for the AI's tests: it records every request body ([`FakeControls::requests`]) so a
/// test can assert what the prompt held, and answers what the test scripted.
///
/// It checks what OpenAI checks: `Authorization: Bearer <key>` when started with a key (401
/// with OpenAI's body, which echoes a masked wrong key); `model` and a non-empty `messages`
/// array of `{role, content}`; no `stream: true`; `max_tokens` a positive integer and
/// `temperature` within 0–2 when given; `response_format` of type `text`, `json_object` or
/// `json_schema`, and for `json_object` the word "JSON" somewhere in the messages (400
/// `invalid_request_error` otherwise). [`FakeChat::set_reject_response_format`] makes it a
/// server that refuses `response_format` altogether.
///
/// The answer is a `chat.completion` with the scripted content and `finish_reason`, and
/// `usage` counting whitespace-separated words (unless turned off). Failures and delays come
/// from [`FakeControls`]: `fail_next(n, 429)` answers OpenAI's rate-limit body, 500 and 503
/// its server errors, 401 its bad-key body.
pub struct FakeChat {
    server: Server,
    controls: FakeControls,
    script: FakeScript,
    shared: Arc<Shared>,
}

fake_common!(FakeChat, "/v1");
script_common!(FakeChat);

impl FakeChat {
    /// Starts a fake that needs no key (like Ollama).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        started("chat", Self::try_start(None).await)
    }

    /// Starts a fake that requires `Authorization: Bearer <key>`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with_key(key: &str) -> Self {
        started("chat", Self::try_start(Some(key)).await)
    }

    /// Starts a fake, requiring `key` when given.
    pub async fn try_start(key: Option<&str>) -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let script = FakeScript::default();
        let shared = Arc::new(Shared {
            key: key.map(str::to_owned),
            controls: controls.clone(),
            script: script.clone(),
            reject_response_format: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(shared.clone());
        Ok(Self {
            server: Server::start("chat", app).await?,
            controls,
            script,
            shared,
        })
    }

    /// Refuses every request carrying `response_format` with OpenAI's 400 "Invalid parameter:
    /// 'response_format' … is not supported with this model." (an older model or server).
    pub fn set_reject_response_format(&self, reject: bool) {
        self.shared
            .reject_response_format
            .store(reject, Ordering::Relaxed);
    }
}

fn invalid(message: &str, param: Option<&str>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": {
            "message": message, "type": "invalid_request_error", "param": param, "code": null
        } }),
    )
}

fn bad(message: &str, param: Option<&str>) -> Box<Response> {
    Box::new(invalid(message, param))
}

/// A key as OpenAI's 401 message shows it: its start and its last four characters.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

fn check_key(key: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        None => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password \
             field (with blank username) if you're accessing the API from your browser and are \
             prompted for a username and password. You can obtain an API key from \
             https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
        ))),
        Some(given) if given != key => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            &format!(
                "Incorrect API key provided: {}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                masked(given)
            ),
            "invalid_request_error",
            Some("invalid_api_key"),
        ))),
        Some(_) => Ok(()),
    }
}

/// The request's problem, as OpenAI words it.
fn check_body(shared: &Shared, body: &Value) -> Result<(), Box<Response>> {
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad("you must provide a model parameter", None));
    }
    let roles = ["system", "developer", "user", "assistant", "tool"];
    let messages = body.get("messages").and_then(Value::as_array);
    if !messages.is_some_and(|m| {
        !m.is_empty()
            && m.iter().all(|m| {
                m.get("role")
                    .and_then(Value::as_str)
                    .is_some_and(|r| roles.contains(&r))
                    && content_of(m).is_some()
            })
    }) {
        return Err(bad(
            "'messages' must be a non-empty array of {role, content} objects",
            Some("messages"),
        ));
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "the fake does not stream: send \"stream\": false",
            Some("stream"),
        ));
    }
    if let Some(max) = body.get("max_tokens").filter(|v| !v.is_null())
        && max.as_u64().is_none_or(|n| n == 0)
    {
        return Err(bad(
            &format!(
                "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got {max} instead."
            ),
            Some("max_tokens"),
        ));
    }
    if let Some(t) = body.get("temperature").filter(|v| !v.is_null())
        && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
    {
        return Err(bad(
            &format!("Invalid 'temperature': expected a number between 0 and 2, got {t}."),
            Some("temperature"),
        ));
    }
    if let Some(format) = body.get("response_format").filter(|v| !v.is_null()) {
        let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
        if shared.reject_response_format.load(Ordering::Relaxed) {
            return Err(bad(
                &format!(
                    "Invalid parameter: 'response_format' of type '{kind}' is not supported \
                     with this model."
                ),
                Some("response_format"),
            ));
        }
        if !matches!(kind, "text" | "json_object" | "json_schema") {
            return Err(bad(
                &format!(
                    "Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'."
                ),
                Some("response_format.type"),
            ));
        }
        let mentions_json = messages
            .into_iter()
            .flatten()
            .any(|m| content_of(m).is_some_and(|c| c.to_ascii_lowercase().contains("json")));
        if kind == "json_object" && !mentions_json {
            return Err(bad(
                "'messages' must contain the word 'json' in some form, to use \
                 'response_format' of type 'json_object'.",
                Some("messages"),
            ));
        }
    }
    Ok(())
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(status) = shared
        .controls
        .admit(parsed.clone().unwrap_or_default())
        .await
    {
        return scripted(status);
    }
    if let Some(key) = &shared.key
        && let Err(refusal) = check_key(key, &headers)
    {
        return *refusal;
    }
    let Some(body) = parsed else {
        return invalid("We could not parse the JSON body of your request.", None);
    };
    if let Err(refusal) = check_body(&shared, &body) {
        return *refusal;
    }
    let answer = shared.script.next(&body);
    let prompt_tokens: u64 = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(content_of)
        .map(|c| words(&c))
        .sum();
    let completion_tokens = answer.text.as_deref().map_or(0, words);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut completion = json!({
        "id": format!("chatcmpl-fake{id:06}"),
        "object": "chat.completion",
        "created": created,
        "model": body["model"],
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": answer.text, "refusal": null },
            "logprobs": null,
            "finish_reason": answer.finish.as_deref().unwrap_or("stop"),
        }],
        "system_fingerprint": "fp_fake",
    });
    if answer.report_usage {
        completion["usage"] = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        });
    }
    json(StatusCode::OK, &completion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_key_is_echoed_masked_like_openai_does() {
        assert_eq!(masked("sk-wrong-key"), "sk-*****-key");
        assert_eq!(masked("short"), "*****");
    }

    #[test]
    fn the_script_answers_in_order_then_asks_the_responder() {
        let script = FakeScript::default();
        script.push_reply("one");
        script.push_reply_with("two", "length");
        let body = json!({"n": 3});
        let a = script.next(&body);
        assert_eq!((a.text.as_deref(), a.finish), (Some("one"), None));
        assert_eq!(script.next(&body).finish.as_deref(), Some("length"));
        assert_eq!(script.next(&body).text.as_deref(), Some(DEFAULT_FAKE_REPLY));
        script.set_responder(|b| format!("n={}", b["n"]));
        assert_eq!(script.next(&body).text.as_deref(), Some("n=3"));
        assert_eq!(words("  a b\nc "), 3);
    }
}
