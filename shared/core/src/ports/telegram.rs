use std::time::Duration;

use async_trait::async_trait;
use omnidesk_domain::{BotId, TelegramChatId};

use crate::Secret;

/// What the Bot API says about the bot itself (`getMe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: BotId,
    pub username: Option<String>,
}

/// `getWebhookInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookInfo {
    pub url: String,
    pub pending_update_count: u32,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
}

/// A Bot API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// 429 Too Many Requests: wait `retry_after`, then retry.
    #[error("rate limited by Telegram, retry after {0:?}")]
    RetryAfter(Duration),
    /// 403: the bot was blocked, the user is deactivated, the bot was kicked, or it can't
    /// initiate a conversation. The contact is unreachable on this chat; do not retry.
    #[error("{0}")]
    Unreachable(String),
    /// 400 and similar: the request itself is wrong (chat not found, text too long). Do not retry.
    #[error("{0}")]
    Rejected(String),
    /// 401: the bot token is wrong or revoked.
    #[error("the bot token was rejected: {0}")]
    BadToken(String),
    /// Network error, timeout or 5xx: retrying can help.
    #[error("Telegram unavailable: {0}")]
    Transient(String),
}

impl TelegramError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RetryAfter(_) | Self::Transient(_))
    }
}

/// The Telegram Bot API, per bot (the token is passed on each call; one client serves many
/// bots).
///
/// Guarantees: errors are classified as above (so the sender knows whether to retry, wait or
/// mark the contact unreachable); no call is retried inside the adapter (the queue retries);
/// `get_updates` returns each update as its raw JSON text, so polled updates go through the
/// exact parsing path of webhook bodies.
#[async_trait]
pub trait TelegramApi: Send + Sync {
    /// `sendMessage` with plain text (≤ 4096 UTF-16 units; the caller splits). Returns the
    /// new `message_id`.
    async fn send_message(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
    ) -> Result<i32, TelegramError>;

    /// `getUpdates` with `offset` and long-poll `timeout`; raw JSON of each update.
    async fn get_updates(
        &self,
        token: &Secret,
        offset: Option<i64>,
        timeout: Duration,
    ) -> Result<Vec<String>, TelegramError>;

    /// `setWebhook` with a `secret_token`; `url` empty removes the webhook.
    async fn set_webhook(
        &self,
        token: &Secret,
        url: &str,
        secret: &Secret,
        drop_pending: bool,
    ) -> Result<(), TelegramError>;

    /// `deleteWebhook`.
    async fn delete_webhook(&self, token: &Secret) -> Result<(), TelegramError>;

    /// `getWebhookInfo`.
    async fn webhook_info(&self, token: &Secret) -> Result<WebhookInfo, TelegramError>;

    /// `getMe`.
    async fn get_me(&self, token: &Secret) -> Result<BotIdentity, TelegramError>;
}
