//! [`FakeOpenAi`]: an OpenAI-compatible `POST /chat/completions` that translates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use omnidesk_domain::LanguageTag;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{FakeControls, Server, fake_common, json, started, translate};
use crate::codes::code_of_english_name;

/// A key for [`FakeOpenAi::start_with_key`].
pub const FAKE_OPENAI_KEY: &str = "sk-fake-openai-key";

/// The context the fake pretends to have, in tokens (a token ≈ 4 bytes here).
const CONTEXT_TOKENS: usize = 128_000;

struct Shared {
    key: Option<String>,
    controls: FakeControls,
    finish_reason: Mutex<String>,
    next_id: AtomicU64,
}

/// A fake OpenAI-compatible chat-completions server (`/chat/completions` and
/// `/v1/chat/completions`). It checks `Authorization: Bearer <key>` when started with a key
/// (401 `invalid_api_key` otherwise), `model` and a non-empty `messages` array of
/// `{role, content}` (400 `invalid_request_error`), `stream` not set (400: the fake does not
/// stream), a prompt within a 128k-token context (400 `context_length_exceeded`).
///
/// It answers a `chat.completion` object (`id`, `object`, `created`, `model`,
/// `choices[{index, message{role, content}, finish_reason}]`, `usage`) whose content is the
/// last user message translated by the fake dictionary, into the language the system prompt
/// names (`into Russian (ru)`; the tag in parentheses wins, else the English name), from the
/// one after `from` when given; a prompt naming no language gets the user text back.
pub struct FakeOpenAi {
    server: Server,
    controls: FakeControls,
    shared: Arc<Shared>,
}

fake_common!(FakeOpenAi);

impl FakeOpenAi {
    /// Starts a fake that needs no key (like Ollama).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        started("OpenAI", Self::try_start(None).await)
    }

    /// Starts a fake that requires `Authorization: Bearer <key>`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with_key(key: &str) -> Self {
        started("OpenAI", Self::try_start(Some(key)).await)
    }

    /// Starts a fake, requiring `key` when given.
    pub async fn try_start(key: Option<&str>) -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let shared = Arc::new(Shared {
            key: key.map(str::to_owned),
            controls: controls.clone(),
            finish_reason: Mutex::new("stop".to_owned()),
            next_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/chat/completions", post(handle))
            .route("/v1/chat/completions", post(handle))
            .with_state(shared.clone());
        Ok(Self {
            server: Server::start("OpenAI", app).await?,
            controls,
            shared,
        })
    }

    /// The base URL a client appends `/chat/completions` to, with `/v1` (as
    /// `OPENAI_BASE_URL` is written for OpenAI and Ollama).
    pub fn base_url_v1(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The `finish_reason` of the next answers (`stop` by default; `length`,
    /// `content_filter`).
    pub fn set_finish_reason(&self, reason: &str) {
        *self.shared.finish_reason.lock() = reason.to_owned();
    }
}

/// An OpenAI error body `{"error":{message,type,param,code}}` with `status`.
pub(super) fn error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    json(
        status,
        &json!({ "error": { "message": message, "type": kind, "param": null, "code": code } }),
    )
}

/// The error OpenAI answers with `status` (for [`FakeControls::fail_next`]).
pub(super) fn scripted(status: StatusCode) -> Response {
    match status.as_u16() {
        401 => error(
            status,
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        429 => error(
            status,
            "Rate limit reached for requests. Please try again in 1s.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 => error(
            status,
            "The engine is currently overloaded, please try again later",
            "server_error",
            None,
        ),
        s if s >= 500 => error(
            status,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        _ => error(status, "Invalid request.", "invalid_request_error", None),
    }
}

/// The language after `marker` in a prompt: the tag in the parentheses that follow the name
/// (`into Russian (ru)`), else the English name (`into Russian`).
fn language_after(prompt: &str, marker: &str) -> Option<String> {
    let rest = &prompt[prompt.find(marker)? + marker.len()..];
    let clause = rest.split(['.', ',', ';', ':']).next().unwrap_or_default();
    if let Some(open) = clause.find('(')
        && let Some(close) = clause[open..].find(')')
        && let Ok(tag) = LanguageTag::parse(&clause[open + 1..open + close])
    {
        return Some(tag.as_str().to_owned());
    }
    let name: Vec<&str> = clause.split_whitespace().take(2).collect();
    name.iter()
        .rev()
        .find_map(|word| code_of_english_name(word))
        .map(str::to_owned)
}

/// The text of a message: `content` as a string or the parts array's `text`s.
pub(super) fn content_of(message: &Value) -> Option<String> {
    match message.get("content")? {
        Value::String(s) => Some(s.clone()),
        // The array form: [{"type":"text","text":…}, …].
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        ),
        _ => None,
    }
}

fn tokens(text: &str) -> usize {
    text.len().div_ceil(4)
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
    if let Some(key) = &shared.key {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match bearer {
            None => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "You didn't provide an API key. You need to provide your API key in an \
                     Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                );
            }
            Some(given) if given != key => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                );
            }
            Some(_) => {}
        }
    }
    let Some(body) = parsed else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let Some(model) = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    };
    let messages = match body.get("messages").and_then(Value::as_array) {
        Some(m)
            if !m.is_empty()
                && m.iter().all(|m| {
                    m.get("role").and_then(Value::as_str).is_some() && content_of(m).is_some()
                }) =>
        {
            m
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "'messages' must be a non-empty array of {role, content} objects",
                "invalid_request_error",
                None,
            );
        }
    };
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return error(
            StatusCode::BAD_REQUEST,
            "the fake does not stream: send \"stream\": false",
            "invalid_request_error",
            None,
        );
    }
    let role = |m: &Value| {
        m.get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let system: String = messages
        .iter()
        .filter(|m| matches!(role(m).as_str(), "system" | "developer"))
        .filter_map(content_of)
        .collect::<Vec<_>>()
        .join("\n");
    let user = messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .and_then(content_of)
        .unwrap_or_default();
    let prompt_tokens: usize = messages
        .iter()
        .filter_map(content_of)
        .map(|c| tokens(&c) + 4)
        .sum();
    if prompt_tokens > CONTEXT_TOKENS {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "This model's maximum context length is {CONTEXT_TOKENS} tokens. However, your \
                 messages resulted in {prompt_tokens} tokens."
            ),
            "invalid_request_error",
            Some("context_length_exceeded"),
        );
    }
    let content = match language_after(&system, " into ") {
        Some(target) => {
            let source = language_after(&system, " from ");
            shared
                .controls
                .finish(translate(&user, source.as_deref(), &target).text)
        }
        None => user,
    };
    let completion_tokens = tokens(&content);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json(
        StatusCode::OK,
        &json!({
            "id": format!("chatcmpl-fake{id:06}"),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content, "refusal": null },
                "logprobs": null,
                "finish_reason": *shared.finish_reason.lock(),
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_languages_are_found_by_tag_or_name() {
        let p = crate::system_prompt(
            Some(&LanguageTag::parse("en").unwrap()),
            &LanguageTag::parse("zh-TW").unwrap(),
        );
        assert_eq!(language_after(&p, " into ").as_deref(), Some("zh-TW"));
        assert_eq!(language_after(&p, " from ").as_deref(), Some("en"));
        assert_eq!(
            language_after("Translate into Russian.", " into ").as_deref(),
            Some("ru")
        );
        assert_eq!(language_after("Answer politely.", " into "), None);
    }
}
