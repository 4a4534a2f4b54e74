use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use omnidesk_domain::{BotId, Button, TELEGRAM_TEXT_LIMIT, TelegramChatId};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{
    BotIdentity, OutgoingFile, Secret, TelegramApi, TelegramError, TelegramFile, WebhookInfo,
};

/// One send call that succeeded (`sendMessage`, a file upload, or one item of an album).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentTelegram {
    /// The bot token it was sent with.
    pub token: String,
    pub chat: TelegramChatId,
    /// The text, or the caption of a file (empty when it had none).
    pub text: String,
    /// The `message_id` returned.
    pub message_id: i32,
    /// `sendMessage`, `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio`, `sendVideo` or
    /// `sendMediaGroup`.
    pub method: &'static str,
    /// The uploaded file, for file methods.
    pub file: Option<OutgoingFile>,
    /// The inline keyboard sent with a text.
    pub buttons: Vec<Button>,
}

/// The webhook of one bot, as `setWebhook` left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookState {
    pub url: String,
    pub secret: Secret,
    pub drop_pending: bool,
}

/// The Telegram Bot API in memory, for unit tests of the sender, the poller and the admin
/// commands: records sent messages, plays scripted failures per chat, serves queued raw
/// updates to `getUpdates` (honouring `offset` like Telegram) and keeps webhook state per token.
#[derive(Default)]
pub struct MemoryTelegram {
    inner: Mutex<Inner>,
    updates_arrived: Notify,
}

#[derive(Default)]
struct Inner {
    sent: Vec<SentTelegram>,
    next_message_id: HashMap<TelegramChatId, i32>,
    /// Scripted results of the next `sendMessage` calls per chat.
    failures: HashMap<TelegramChatId, VecDeque<TelegramError>>,
    /// Scripted results of the next calls other than `sendMessage`.
    call_failures: VecDeque<TelegramError>,
    /// Raw updates per token, with their `update_id` when it could be read.
    updates: HashMap<String, Vec<(Option<i64>, String)>>,
    webhooks: HashMap<String, WebhookState>,
    usernames: HashMap<BotId, String>,
    /// Files `getFile` and the download serve, by `file_id`.
    files: HashMap<String, Vec<u8>>,
    /// `answerCallbackQuery` calls: (query id, text).
    answered: Vec<(String, Option<String>)>,
}

impl MemoryTelegram {
    /// No bots, no messages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, in call order.
    pub fn sent(&self) -> Vec<SentTelegram> {
        self.inner.lock().sent.clone()
    }

    /// Texts sent to `chat`, in call order.
    pub fn sent_to(&self, chat: TelegramChatId) -> Vec<String> {
        self.inner
            .lock()
            .sent
            .iter()
            .filter(|s| s.chat == chat)
            .map(|s| s.text.clone())
            .collect()
    }

    /// The next `sendMessage` to `chat` fails with `error` (queued: call several times to
    /// script several failures).
    pub fn fail_next(&self, chat: TelegramChatId, error: TelegramError) {
        self.inner
            .lock()
            .failures
            .entry(chat)
            .or_default()
            .push_back(error);
    }

    /// The next call other than `sendMessage` (`getUpdates`, `setWebhook`, …) fails with `error`.
    pub fn fail_next_call(&self, error: TelegramError) {
        self.inner.lock().call_failures.push_back(error);
    }

    /// Queues a raw update (the JSON text Telegram would send) for `getUpdates` with `token`.
    pub fn push_update(&self, token: &str, raw: impl Into<String>) {
        let raw = raw.into();
        let id = serde_json::from_str::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| v.get("update_id").and_then(serde_json::Value::as_i64));
        self.inner
            .lock()
            .updates
            .entry(token.to_owned())
            .or_default()
            .push((id, raw));
        self.updates_arrived.notify_waiters();
    }

    /// Serves `bytes` as the file `file_id` (to `getFile` and the download).
    pub fn put_file(&self, file_id: impl Into<String>, bytes: Vec<u8>) {
        self.inner.lock().files.insert(file_id.into(), bytes);
    }

    /// The callback queries answered so far: (query id, notification text).
    pub fn answered(&self) -> Vec<(String, Option<String>)> {
        self.inner.lock().answered.clone()
    }

    /// Records a sent message or file and returns its new `message_id`, unless a failure was
    /// scripted for `chat`.
    fn record(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
        method: &'static str,
        file: Option<OutgoingFile>,
        buttons: &[Button],
    ) -> Result<i32, TelegramError> {
        let mut inner = self.inner.lock();
        if let Some(e) = inner.failures.get_mut(&chat).and_then(VecDeque::pop_front) {
            return Err(e);
        }
        let id = inner.next_message_id.entry(chat).or_insert(0);
        *id += 1;
        let message_id = *id;
        inner.sent.push(SentTelegram {
            token: token.expose().to_owned(),
            chat,
            text: text.to_owned(),
            message_id,
            method,
            file,
            buttons: buttons.to_vec(),
        });
        Ok(message_id)
    }

    /// The webhook set for `token`, if any.
    pub fn webhook(&self, token: &str) -> Option<WebhookState> {
        self.inner.lock().webhooks.get(token).cloned()
    }

    /// The username `getMe` reports for `bot` (default `bot<id>`).
    pub fn set_username(&self, bot: BotId, username: impl Into<String>) {
        self.inner.lock().usernames.insert(bot, username.into());
    }

    fn scripted_call_failure(&self) -> Result<(), TelegramError> {
        match self.inner.lock().call_failures.pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Confirms updates before `offset` and returns the rest (up to 100, like Telegram).
    fn take_updates(&self, token: &str, offset: Option<i64>) -> Vec<String> {
        let mut inner = self.inner.lock();
        let Some(queue) = inner.updates.get_mut(token) else {
            return Vec::new();
        };
        if let Some(offset) = offset {
            queue.retain(|(id, _)| id.is_none_or(|id| id >= offset));
        }
        let out: Vec<String> = queue.iter().take(100).map(|(_, raw)| raw.clone()).collect();
        // An update without a readable id can never be confirmed by an offset: serve it once.
        let served = out.len();
        let mut i = 0;
        queue.retain(|(id, _)| {
            i += 1;
            !(i <= served && id.is_none())
        });
        out
    }
}

fn bot_of(token: &Secret) -> Result<BotId, TelegramError> {
    BotId::from_token(token.expose())
        .map_err(|_| TelegramError::BadToken("Unauthorized".to_owned()))
}

#[async_trait]
impl TelegramApi for MemoryTelegram {
    async fn send_message(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
    ) -> Result<i32, TelegramError> {
        self.send_buttons(token, chat, text, &[]).await
    }

    async fn send_buttons(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
        buttons: &[Button],
    ) -> Result<i32, TelegramError> {
        bot_of(token)?;
        if text.trim().is_empty() {
            return Err(TelegramError::Rejected(
                "Bad Request: message text is empty".to_owned(),
            ));
        }
        if text.encode_utf16().count() > TELEGRAM_TEXT_LIMIT {
            return Err(TelegramError::Rejected(
                "Bad Request: message is too long".to_owned(),
            ));
        }
        self.record(token, chat, text, "sendMessage", None, buttons)
    }

    async fn send_file(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        file: &OutgoingFile,
        caption: Option<&str>,
    ) -> Result<i32, TelegramError> {
        bot_of(token)?;
        if file.bytes.is_empty() {
            return Err(TelegramError::Rejected(
                "Bad Request: file must be non-empty".to_owned(),
            ));
        }
        let (method, _) = file.method();
        self.record(
            token,
            chat,
            caption.unwrap_or(""),
            method,
            Some(file.clone()),
            &[],
        )
    }

    async fn send_media_group(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        files: &[OutgoingFile],
        caption: Option<&str>,
    ) -> Result<Vec<i32>, TelegramError> {
        bot_of(token)?;
        if !(2..=10).contains(&files.len()) {
            return Err(TelegramError::Rejected(
                "Bad Request: wrong number of media in the album".to_owned(),
            ));
        }
        let mut ids = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let text = if i == 0 { caption.unwrap_or("") } else { "" };
            ids.push(self.record(token, chat, text, "sendMediaGroup", Some(f.clone()), &[])?);
        }
        Ok(ids)
    }

    async fn get_file(&self, token: &Secret, file_id: &str) -> Result<TelegramFile, TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        match self.inner.lock().files.get(file_id) {
            Some(bytes) => Ok(TelegramFile {
                file_path: Some(format!("files/{file_id}")),
                file_size: Some(bytes.len() as u64),
            }),
            None => Err(TelegramError::Rejected(
                "Bad Request: invalid file_id".to_owned(),
            )),
        }
    }

    async fn download_file(
        &self,
        token: &Secret,
        file_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        let id = file_path.strip_prefix("files/").unwrap_or(file_path);
        match self.inner.lock().files.get(id) {
            Some(bytes) if bytes.len() as u64 > max_bytes => Err(TelegramError::Rejected(format!(
                "the file is larger than {max_bytes} bytes"
            ))),
            Some(bytes) => Ok(bytes.clone()),
            None => Err(TelegramError::Rejected("Not Found".to_owned())),
        }
    }

    async fn answer_callback_query(
        &self,
        token: &Secret,
        callback_query_id: &str,
        text: Option<&str>,
    ) -> Result<(), TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        self.inner
            .lock()
            .answered
            .push((callback_query_id.to_owned(), text.map(str::to_owned)));
        Ok(())
    }

    async fn get_updates(
        &self,
        token: &Secret,
        offset: Option<i64>,
        timeout: Duration,
    ) -> Result<Vec<String>, TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        if self.webhook(token.expose()).is_some() {
            return Err(TelegramError::Rejected(
                "Conflict: can't use getUpdates method while webhook is active".to_owned(),
            ));
        }
        let notified = self.updates_arrived.notified();
        let updates = self.take_updates(token.expose(), offset);
        if !updates.is_empty() || timeout.is_zero() {
            return Ok(updates);
        }
        // Long poll: wait for an update or the timeout.
        let _ = tokio::time::timeout(timeout, notified).await;
        Ok(self.take_updates(token.expose(), offset))
    }

    async fn set_webhook(
        &self,
        token: &Secret,
        url: &str,
        secret: &Secret,
        drop_pending: bool,
    ) -> Result<(), TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        let mut inner = self.inner.lock();
        if drop_pending {
            inner.updates.remove(token.expose());
        }
        if url.is_empty() {
            inner.webhooks.remove(token.expose());
        } else {
            inner.webhooks.insert(
                token.expose().to_owned(),
                WebhookState {
                    url: url.to_owned(),
                    secret: secret.clone(),
                    drop_pending,
                },
            );
        }
        Ok(())
    }

    async fn delete_webhook(&self, token: &Secret) -> Result<(), TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        self.inner.lock().webhooks.remove(token.expose());
        Ok(())
    }

    async fn webhook_info(&self, token: &Secret) -> Result<WebhookInfo, TelegramError> {
        bot_of(token)?;
        self.scripted_call_failure()?;
        let inner = self.inner.lock();
        let pending = inner.updates.get(token.expose()).map_or(0, Vec::len);
        Ok(WebhookInfo {
            url: inner
                .webhooks
                .get(token.expose())
                .map(|w| w.url.clone())
                .unwrap_or_default(),
            pending_update_count: u32::try_from(pending).unwrap_or(u32::MAX),
            last_error_date: None,
            last_error_message: None,
        })
    }

    async fn get_me(&self, token: &Secret) -> Result<BotIdentity, TelegramError> {
        let id = bot_of(token)?;
        self.scripted_call_failure()?;
        let username = self
            .inner
            .lock()
            .usernames
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("bot{id}"));
        Ok(BotIdentity {
            id,
            username: Some(username),
        })
    }
}
