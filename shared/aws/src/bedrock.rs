//! [`BedrockLlm`]: the [`Llm`] port on Amazon Bedrock Runtime `Converse`.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, StopReason, SystemContentBlock,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::timeout::TimeoutConfig;
use omnidesk_core::{ChatRequest, ChatResponse, ChatRole, Llm, ProviderError, TokenUsage};

use crate::sdk::CONNECT_TIMEOUT;

/// The name [`Llm::name`] returns.
const NAME: &str = "bedrock";

/// What Bedrock is told when a conversation opens with the assistant: `Converse` requires a
/// first `user` message.
pub const CONVERSATION_START: &str = "(start of the conversation)";

/// Error codes after which a retry can help.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ModelTimeoutException",
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "InternalServerException",
    "InternalFailure",
];

/// Error codes of a signature or credentials AWS refused.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// The [`Llm`] on Amazon Bedrock `Converse` (`POST /model/{modelId}/converse`), one model
/// id or inference profile (`anthropic.claude-3-haiku-20240307-v1:0`,
/// `us.anthropic.claude-3-5-haiku-20241022-v1:0`, or an ARN).
///
/// The request: every System message becomes a `system` block, in order; User and Assistant
/// messages become `messages`, consecutive ones of the same role joined with a blank line
/// (`Converse` wants the roles to alternate), after a [`CONVERSATION_START`] user message
/// when the assistant speaks first (`Converse` wants a user message first); blank messages
/// are left out (`Converse` refuses blank text). `inferenceConfig` carries `maxTokens` and
/// the temperature when set. [`ChatRequest::json`] adds nothing: `Converse` has no JSON
/// mode, so the prompt must ask for JSON.
///
/// The answer: the text blocks of the output message, concatenated; `stopReason`
/// `end_turn`/`stop_sequence` → `stop`, `max_tokens` → `length`,
/// `guardrail_intervened`/`content_filtered` → `content_filter`, others as Bedrock words
/// them; usage from `usage.inputTokens`/`outputTokens` (0 when absent). An answer without
/// text is `Permanent` "empty answer".
///
/// Errors: `ThrottlingException`, `ModelTimeoutException`, `ModelNotReadyException`,
/// `ServiceUnavailableException`, `InternalServerException`, other 429 and 5xx, timeouts and
/// transport failures are `Transient`; `AccessDeniedException`, `ValidationException`,
/// `ResourceNotFoundException`, `ModelErrorException`, refused credentials and other 4xx are
/// `Permanent`. The whole call, retries included, is bounded by the timeout given to
/// [`BedrockLlm::from_conf`]. Messages carry the SDK's error text, never credentials.
///
/// IAM: `bedrock:InvokeModel` on the foundation model (and on the inference profile when the
/// id is one), and model access granted in the Bedrock console.
#[derive(Debug, Clone)]
pub struct BedrockLlm {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
}

impl BedrockLlm {
    /// An LLM on `client` (its timeouts are the client's) asking `model_id`.
    pub fn new(client: aws_sdk_bedrockruntime::Client, model_id: String) -> Self {
        Self { client, model_id }
    }

    /// An LLM asking `model_id` with a client built from `sdk`, every call bounded by
    /// `timeout`.
    pub fn from_conf(sdk: &SdkConfig, model_id: String, timeout: Duration) -> Self {
        Self::new(
            aws_sdk_bedrockruntime::Client::from_conf(Self::client_config(sdk, timeout).build()),
            model_id,
        )
    }

    /// The client configuration [`BedrockLlm::from_conf`] uses: the call, retries included,
    /// bounded by `timeout`.
    pub fn client_config(
        sdk: &SdkConfig,
        timeout: Duration,
    ) -> aws_sdk_bedrockruntime::config::Builder {
        aws_sdk_bedrockruntime::config::Builder::from(sdk).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                .operation_attempt_timeout(timeout)
                .operation_timeout(timeout)
                .build(),
        )
    }

    /// The client.
    pub fn client(&self) -> &aws_sdk_bedrockruntime::Client {
        &self.client
    }
}

/// The `system` blocks and the alternating `messages` of a request (see [`BedrockLlm`]).
fn conversation(
    request: &ChatRequest,
) -> Result<(Vec<SystemContentBlock>, Vec<Message>), ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<(ConversationRole, String)> = Vec::new();
    for message in &request.messages {
        if message.content.trim().is_empty() {
            continue;
        }
        let role = match message.role {
            ChatRole::System => {
                system.push(SystemContentBlock::Text(message.content.clone()));
                continue;
            }
            ChatRole::User => ConversationRole::User,
            ChatRole::Assistant => ConversationRole::Assistant,
        };
        match turns.last_mut() {
            Some((last, text)) if *last == role => {
                text.push_str("\n\n");
                text.push_str(&message.content);
            }
            None if role == ConversationRole::Assistant => {
                turns.push((ConversationRole::User, CONVERSATION_START.to_owned()));
                turns.push((role, message.content.clone()));
            }
            _ => turns.push((role, message.content.clone())),
        }
    }
    if turns.is_empty() {
        return Err(ProviderError::Permanent(format!(
            "{NAME}: the request has no user or assistant message (Converse needs one)"
        )));
    }
    let messages = turns
        .into_iter()
        .map(|(role, text)| {
            Message::builder()
                .role(role)
                .content(ContentBlock::Text(text))
                .build()
                .map_err(|e| {
                    ProviderError::Permanent(format!("{NAME}: cannot build a message: {e}"))
                })
        })
        .collect::<Result<_, _>>()?;
    Ok((system, messages))
}

/// The normalised finish reason of a stop reason.
fn finish_reason(stop: &StopReason) -> String {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence => "stop".to_owned(),
        StopReason::MaxTokens => "length".to_owned(),
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => {
            "content_filter".to_owned()
        }
        other => other.as_str().to_owned(),
    }
}

fn tokens(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn response(out: &ConverseOutput) -> Result<ChatResponse, ProviderError> {
    let finish_reason = finish_reason(out.stop_reason());
    let texts: Vec<&str> = out
        .output()
        .and_then(|o| o.as_message().ok())
        .map(|m| {
            m.content()
                .iter()
                .filter_map(|block| block.as_text().ok().map(String::as_str))
                .collect()
        })
        .unwrap_or_default();
    if texts.is_empty() {
        return Err(ProviderError::Permanent(format!(
            "{NAME}: empty answer (no text, stop reason `{}`)",
            out.stop_reason().as_str()
        )));
    }
    let usage = out
        .usage()
        .map_or_else(TokenUsage::default, |u| TokenUsage {
            input: tokens(u.input_tokens()),
            output: tokens(u.output_tokens()),
        });
    Ok(ChatResponse {
        text: texts.concat(),
        finish_reason,
        usage,
    })
}

#[async_trait]
impl Llm for BedrockLlm {
    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model_id
    }

    #[tracing::instrument(skip_all, fields(provider = NAME, model = %self.model_id, messages = request.messages.len()))]
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (system, messages) = conversation(request)?;
        let config = InferenceConfiguration::builder()
            .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
            .set_temperature(request.temperature)
            .build();
        let out = self
            .client
            .converse()
            .model_id(&self.model_id)
            .set_system((!system.is_empty()).then_some(system))
            .set_messages(Some(messages))
            .inference_config(config)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let answer = response(&out)?;
        tracing::debug!(
            finish_reason = answer.finish_reason,
            input = answer.usage.input,
            output = answer.usage.output,
            "completed"
        );
        Ok(answer)
    }
}

fn classify(err: &SdkError<ConverseError, HttpResponse>) -> ProviderError {
    let detail = DisplayErrorContext(err);
    let permanent = |why: &str| ProviderError::Permanent(format!("{NAME}: {why} ({detail})"));
    let transient = |why: &str| ProviderError::Transient(format!("{NAME}: {why} ({detail})"));
    match err {
        SdkError::TimeoutError(_) => return transient("no answer within the timeout"),
        SdkError::DispatchFailure(_) => return transient("cannot reach Bedrock"),
        SdkError::ResponseError(_) => return transient("the answer could not be read"),
        SdkError::ConstructionFailure(_) => return permanent("the request cannot be built"),
        _ => {}
    }
    match err.code() {
        Some(code) if TRANSIENT_CODES.contains(&code) || code.contains("Throttl") => {
            transient(code)
        }
        Some("AccessDeniedException") => {
            permanent("access denied (the role needs bedrock:InvokeModel and access to the model)")
        }
        Some(code) if CREDENTIAL_CODES.contains(&code) => permanent("credentials refused"),
        Some(
            code @ ("ValidationException" | "ResourceNotFoundException" | "ModelErrorException"),
        ) => permanent(code),
        _ => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(408 | 429) => transient("throttled"),
            Some(401 | 403) => permanent("credentials refused"),
            Some(s) if (400..500).contains(&s) => permanent("refused"),
            Some(_) => transient("service error"),
            None => transient("no answer"),
        },
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::TokenUsage as BedrockUsage;
    use aws_smithy_types::error::ErrorMetadata;
    use omnidesk_core::ChatMessage;

    use super::*;

    fn request(messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            messages,
            max_tokens: 100,
            json: false,
            temperature: None,
        }
    }

    fn texts(messages: &[Message]) -> Vec<(String, String)> {
        messages
            .iter()
            .map(|m| {
                (
                    m.role().as_str().to_owned(),
                    m.content()[0].as_text().unwrap().clone(),
                )
            })
            .collect()
    }

    #[test]
    fn system_messages_become_blocks_and_the_roles_alternate_from_a_user_turn() {
        let (system, messages) = conversation(&request(vec![
            ChatMessage::system("Be brief."),
            ChatMessage::assistant("Hello! How can I help?"),
            ChatMessage::user("Where is my order?"),
            ChatMessage::user("It is late."),
            ChatMessage::system("Answer in JSON."),
            ChatMessage::assistant(" "),
        ]))
        .unwrap();
        assert_eq!(
            system,
            vec![
                SystemContentBlock::Text("Be brief.".into()),
                SystemContentBlock::Text("Answer in JSON.".into())
            ]
        );
        assert_eq!(
            texts(&messages),
            vec![
                ("user".into(), CONVERSATION_START.into()),
                ("assistant".into(), "Hello! How can I help?".into()),
                ("user".into(), "Where is my order?\n\nIt is late.".into()),
            ]
        );
        assert!(matches!(
            conversation(&request(vec![ChatMessage::system("only")])),
            Err(ProviderError::Permanent(_))
        ));
    }

    #[test]
    fn stop_reasons_are_normalised() {
        assert_eq!(finish_reason(&StopReason::EndTurn), "stop");
        assert_eq!(finish_reason(&StopReason::StopSequence), "stop");
        assert_eq!(finish_reason(&StopReason::MaxTokens), "length");
        assert_eq!(
            finish_reason(&StopReason::GuardrailIntervened),
            "content_filter"
        );
        assert_eq!(
            finish_reason(&StopReason::ContentFiltered),
            "content_filter"
        );
        assert_eq!(finish_reason(&StopReason::ToolUse), "tool_use");
        assert_eq!(
            finish_reason(&StopReason::from("something_new")),
            "something_new"
        );
    }

    #[test]
    fn an_answer_without_text_is_permanent_and_usage_is_read() {
        let out = ConverseOutput::builder()
            .stop_reason(StopReason::EndTurn)
            .output(aws_sdk_bedrockruntime::types::ConverseOutput::Message(
                Message::builder()
                    .role(ConversationRole::Assistant)
                    .content(ContentBlock::Text("Hi".into()))
                    .content(ContentBlock::Text(" there".into()))
                    .build()
                    .unwrap(),
            ))
            .usage(
                BedrockUsage::builder()
                    .input_tokens(12)
                    .output_tokens(3)
                    .total_tokens(15)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let answer = response(&out).unwrap();
        assert_eq!(answer.text, "Hi there");
        assert_eq!(
            answer.usage,
            TokenUsage {
                input: 12,
                output: 3
            }
        );
        let empty = ConverseOutput::builder()
            .stop_reason(StopReason::EndTurn)
            .build()
            .unwrap();
        assert!(
            matches!(response(&empty), Err(ProviderError::Permanent(m)) if m.contains("empty answer"))
        );
    }

    #[test]
    fn error_codes_say_whether_a_retry_can_help() {
        let service = |code: &str| {
            let err = ConverseError::generic(ErrorMetadata::builder().code(code).build());
            let raw = HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            );
            classify(&SdkError::service_error(err, raw))
        };
        for code in TRANSIENT_CODES {
            assert!(
                matches!(service(code), ProviderError::Transient(_)),
                "{code}"
            );
        }
        for code in [
            "AccessDeniedException",
            "ValidationException",
            "ResourceNotFoundException",
            "ModelErrorException",
            "UnrecognizedClientException",
            "SomethingNewException",
        ] {
            assert!(
                matches!(service(code), ProviderError::Permanent(_)),
                "{code}"
            );
        }
    }
}
