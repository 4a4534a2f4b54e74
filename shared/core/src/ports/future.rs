//! Ports that later capabilities implement (AI). They are
//! defined now so the pipeline's shape is fixed; adapters arrive with their issues
//! (`omnidesk-email`, `omnidesk-providers`, `omnidesk-aws`).

use async_trait::async_trait;

/// A provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Timeout, 429 or 5xx: retrying can help.
    #[error("provider unavailable: {0}")]
    Transient(String),
    /// Bad request, bad credentials, content refused: retrying cannot help.
    #[error("provider refused: {0}")]
    Permanent(String),
}

/// Who says a chat message to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One message of an LLM prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

/// An LLM completion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
}

/// An LLM answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatResponse {
    pub text: String,
    /// `stop`, `length`, `content_filter`, …
    pub finish_reason: String,
}

/// A large language model (OpenAI-compatible endpoint or Bedrock Converse).
/// Guarantee: bounded by a timeout; a timeout is `Transient`.
#[async_trait]
pub trait Llm: Send + Sync {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;
}
