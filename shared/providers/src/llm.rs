//! [`OpenAiLlm`]: the [`Llm`] port on an OpenAI-compatible `/chat/completions` endpoint
//! (OpenAI, vLLM, Ollama, LiteLLM, …).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use omnidesk_core::{ChatRequest, ChatResponse, ChatRole, Llm, ProviderError, TokenUsage};
use secrecy::SecretString;
use serde::Serialize;

use crate::http::{Http, parse_body};
use crate::openai::{Answer, Message, bearer_header, chat_completions_url, refused};

/// The bound of one completion when the settings name none: a model writing a few hundred
/// tokens takes seconds, far more than a translation.
pub const LLM_DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The name [`Llm::name`] returns.
const NAME: &str = "openai";

/// How to reach an OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiLlmSettings {
    /// The base up to and including `/v1` (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1`); calls go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The bearer key; `None` sends no `Authorization` (Ollama, a local vLLM).
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Bounds a whole [`Llm::complete`] call, its one retry included.
    pub timeout: Duration,
}

impl OpenAiLlmSettings {
    /// `model` at `base_url`, with `api_key` when given and [`LLM_DEFAULT_TIMEOUT`].
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: api_key.map(SecretString::from),
            model: model.into(),
            timeout: LLM_DEFAULT_TIMEOUT,
        }
    }

    /// With another call timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The [`Llm`] on an OpenAI-compatible endpoint: `POST {base}/chat/completions` with
/// `Authorization: Bearer <key>` (none without a key) and
/// `{"model","messages":[{role,content}…],"max_tokens","temperature"?,"stream":false,
/// "response_format"?:{"type":"json_object"}}`.
///
/// The answer is `choices[0].message.content`; `finish_reason` is passed on as it comes
/// (`stop`, `length`, `content_filter`, or the server's own word), a missing one as `stop`;
/// `usage.prompt_tokens`/`completion_tokens` become the [`TokenUsage`] (0 when the server
/// counts nothing).
///
/// JSON mode: with [`ChatRequest::json`] the body asks for `response_format: json_object`
/// (OpenAI then requires the word "JSON" somewhere in the messages). Some servers and models
/// refuse the parameter: a 400 whose body mentions `response_format` is retried once without
/// it, within the same timeout, and later calls of this client no longer send it (the prompt
/// still asks for JSON, so the answer usually is JSON anyway; the caller parses it).
///
/// Errors: timeouts, connection failures, 408, 429 and 5xx are `Transient`; 401/403
/// ("credentials refused"), other 4xx, a `null` content ("empty answer") and a refusal are
/// `Permanent`. The key, and the masked echo of it that OpenAI's 401 body carries, never
/// appear in an error.
#[derive(Debug)]
pub struct OpenAiLlm {
    url: String,
    api_key: Option<SecretString>,
    model: String,
    timeout: Duration,
    http: Http,
    /// The server refused `response_format` once: JSON mode is asked in the prompt only.
    no_response_format: AtomicBool,
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

fn role(role: ChatRole) -> &'static str {
    match role {
        ChatRole::System => "system",
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
    }
}

/// A 400 saying the server does not take `response_format` (OpenAI: "Invalid parameter:
/// 'response_format' of type 'json_object' is not supported with this model.", with
/// `"param": "response_format"`; vLLM and others name the field in the message). OpenAI's
/// "'messages' must contain the word 'json' … to use 'response_format'" is the prompt's
/// fault, not the server's: no retry for it.
fn refuses_response_format(status: reqwest::StatusCode, body: &[u8]) -> bool {
    if status != reqwest::StatusCode::BAD_REQUEST {
        return false;
    }
    let text = String::from_utf8_lossy(body);
    if text.contains("must contain the word 'json'") {
        return false;
    }
    let param = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["param"].as_str().map(str::to_owned));
    match param {
        Some(param) => param.starts_with("response_format"),
        None => text.contains("response_format"),
    }
}

fn tokens(n: Option<u64>) -> u32 {
    n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

impl OpenAiLlm {
    pub fn new(settings: OpenAiLlmSettings) -> Self {
        Self {
            url: chat_completions_url(&settings.base_url),
            api_key: settings.api_key,
            model: settings.model,
            timeout: settings.timeout,
            http: Http::new(NAME, settings.timeout),
            no_response_format: AtomicBool::new(false),
        }
    }

    /// The URL calls go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn body(&self, request: &ChatRequest, json: bool) -> Result<Vec<u8>, ProviderError> {
        serde_json::to_vec(&Body {
            model: &self.model,
            messages: request
                .messages
                .iter()
                .map(|m| Message {
                    role: role(m.role),
                    content: &m.content,
                })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stream: false,
            response_format: json.then_some(ResponseFormat {
                kind: "json_object",
            }),
        })
        .map_err(|e| ProviderError::Permanent(format!("{NAME}: cannot encode the request: {e}")))
    }
}

#[async_trait]
impl Llm for OpenAiLlm {
    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model
    }

    #[tracing::instrument(skip_all, fields(provider = NAME, model = %self.model, messages = request.messages.len(), json = request.json))]
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let started = Instant::now();
        let headers = bearer_header(self.api_key.as_ref());
        let mut json = request.json && !self.no_response_format.load(Ordering::Relaxed);
        let (mut status, mut answer) = self
            .http
            .post_json(&self.url, &headers, self.body(request, json)?)
            .await?;
        if json && refuses_response_format(status, &answer) {
            tracing::info!(
                "the server refuses response_format: asking for JSON in the prompt only"
            );
            self.no_response_format.store(true, Ordering::Relaxed);
            json = false;
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(ProviderError::Transient(format!(
                    "{NAME}: no answer within {:?}",
                    self.timeout
                )));
            }
            (status, answer) = self
                .http
                .post_json_within(&self.url, &headers, self.body(request, json)?, left)
                .await?;
        }
        if !status.is_success() {
            return Err(refused(NAME, status, &answer, self.api_key.as_ref()));
        }
        let answer: Answer = parse_body(NAME, &answer)?;
        let usage = answer
            .usage
            .as_ref()
            .map_or_else(TokenUsage::default, |u| TokenUsage {
                input: tokens(u.prompt_tokens),
                output: tokens(u.completion_tokens),
            });
        let choice = answer.first_choice(NAME)?;
        let finish_reason = choice.finish_reason.unwrap_or_else(|| "stop".to_owned());
        let Some(text) = choice.message.content else {
            return Err(ProviderError::Permanent(match choice.message.refusal {
                Some(refusal) => format!(
                    "{NAME}: the model refused: {}",
                    crate::http::excerpt(refusal.as_bytes())
                ),
                None => {
                    format!("{NAME}: empty answer (no content, finish_reason `{finish_reason}`)")
                }
            }));
        };
        tracing::debug!(
            finish_reason,
            input = usage.input,
            output = usage.output,
            "completed"
        );
        Ok(ChatResponse {
            text,
            finish_reason,
            usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_base_plus_chat_completions() {
        let llm = OpenAiLlm::new(OpenAiLlmSettings::new(
            "http://127.0.0.1:11434/v1/",
            None,
            "llama3.1:8b",
        ));
        assert_eq!(llm.url(), "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(llm.model(), "llama3.1:8b");
        assert_eq!(llm.name(), "openai");
    }

    #[test]
    fn only_a_400_naming_response_format_is_a_refusal_of_json_mode() {
        let body = br#"{"error":{"message":"Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.","type":"invalid_request_error","param":"response_format","code":null}}"#;
        assert!(refuses_response_format(
            reqwest::StatusCode::BAD_REQUEST,
            body
        ));
        assert!(!refuses_response_format(
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            body
        ));
        assert!(!refuses_response_format(
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"error":{"message":"max_tokens is too large"}}"#
        ));
        assert!(!refuses_response_format(
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"error":{"message":"'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.","param":"messages"}}"#
        ));
        assert!(refuses_response_format(
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"object":"error","message":"response_format is not supported","code":400}"#
        ));
    }
}
