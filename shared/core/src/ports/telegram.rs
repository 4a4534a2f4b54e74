use std::time::Duration;

use async_trait::async_trait;
use omnidesk_domain::{AttachmentKind, BotId, Button, TelegramChatId};

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

/// Where a file can be downloaded (`getFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramFile {
    /// Path for `<api>/file/bot<token>/<file_path>`; `None` when Telegram will not serve it.
    pub file_path: Option<String>,
    pub file_size: Option<u64>,
}

/// A file to upload to a chat (multipart: Telegram never fetches from our host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingFile {
    /// Picks the method: image → `sendPhoto`, voice → `sendVoice`, audio → `sendAudio`,
    /// video → `sendVideo`, anything else → `sendDocument`.
    pub kind: AttachmentKind,
    pub file_name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl OutgoingFile {
    /// The Bot API method that uploads it alone, and the multipart field its bytes go in.
    pub fn method(&self) -> (&'static str, &'static str) {
        match self.kind {
            AttachmentKind::Image => ("sendPhoto", "photo"),
            AttachmentKind::Voice => ("sendVoice", "voice"),
            AttachmentKind::Audio => ("sendAudio", "audio"),
            AttachmentKind::Video => ("sendVideo", "video"),
            _ => ("sendDocument", "document"),
        }
    }
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

    /// `sendMessage` with an inline keyboard: one button per row, each answering its `data`
    /// as a `callback_query`.
    async fn send_buttons(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
        buttons: &[Button],
    ) -> Result<i32, TelegramError>;

    /// Uploads one file with an optional caption (≤ 1024 characters), by the method its kind
    /// picks (see [`OutgoingFile::kind`]). Returns the new `message_id`.
    async fn send_file(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        file: &OutgoingFile,
        caption: Option<&str>,
    ) -> Result<i32, TelegramError>;

    /// `sendMediaGroup`: 2–10 files shown as one album (photos and videos together, or
    /// documents, or audio), uploaded in one multipart request; the caption goes on the first.
    /// Returns the `message_id` of each.
    async fn send_media_group(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        files: &[OutgoingFile],
        caption: Option<&str>,
    ) -> Result<Vec<i32>, TelegramError>;

    /// `getFile`.
    async fn get_file(&self, token: &Secret, file_id: &str) -> Result<TelegramFile, TelegramError>;

    /// Downloads `<api>/file/bot<token>/<file_path>`; more than `max_bytes` is `Rejected`
    /// without reading the rest.
    async fn download_file(
        &self,
        token: &Secret,
        file_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, TelegramError>;

    /// `answerCallbackQuery`: stops the spinner on the button the user pressed, with an
    /// optional short notification.
    async fn answer_callback_query(
        &self,
        token: &Secret,
        callback_query_id: &str,
        text: Option<&str>,
    ) -> Result<(), TelegramError>;

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
