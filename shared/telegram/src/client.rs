//! The Bot API client: one HTTP connection pool for every bot, errors classified for the
//! sender.

use std::time::Duration;

use async_trait::async_trait;
use omnidesk_core::{
    BotIdentity, OutgoingFile, Secret, TelegramApi, TelegramError, TelegramFile, WebhookInfo,
};
use omnidesk_domain::{AttachmentKind, BotId, Button, TelegramChatId};
use serde::de::{DeserializeOwned, IgnoredAny, IntoDeserializer};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use teloxide_core::ApiError;

/// The official Bot API endpoint.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// Budget of one ordinary Bot API call (a long poll gets its poll timeout on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientInitError {
    /// The base URL is not an absolute `http(s)` URL.
    #[error("invalid Telegram API URL `{0}`: expected an absolute http(s) URL")]
    InvalidUrl(String),
    /// The HTTP client (TLS backend) could not start.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The Telegram Bot API over HTTP (`POST <api url>/bot<token>/<method>` with JSON bodies).
///
/// One instance serves every bot: the token is taken per call and the connection pool is
/// shared. Nothing is retried here (the queue retries). Errors are classified from the HTTP
/// status, the Bot API `error_code`, its `parameters.retry_after` and teloxide-core's catalogue
/// of Bot API error descriptions ([`teloxide_core::ApiError`]):
///
/// | Telegram says | [`TelegramError`] |
/// |---|---|
/// | 429 / `retry_after` | `RetryAfter` |
/// | 403, `Forbidden: …`, bot blocked/kicked, user deactivated, can't initiate conversation | `Unreachable(description)` |
/// | 401, invalid token | `BadToken(description)` |
/// | other 4xx (`Bad Request: chat not found`, `message is too long`, …) | `Rejected(description)` |
/// | 5xx, network error, timeout, unreadable body | `Transient` |
///
/// The raw HTTP layer is used rather than teloxide's `Requester` so that the status code is
/// kept, each call has its own timeout (long polls included), `getUpdates` items stay raw
/// JSON, and a 5xx is reported at once (teloxide sleeps 10 s before reading one).
#[derive(Debug, Clone)]
pub struct TeloxideTelegram {
    base: String,
    client: reqwest::Client,
}

impl TeloxideTelegram {
    /// A client for the Bot API at `api_url` (e.g. [`TELEGRAM_API_URL`], a local Bot API server,
    /// or a fake in tests).
    pub fn new(api_url: &str) -> Result<Self, ClientInitError> {
        let url = reqwest::Url::parse(api_url)
            .map_err(|_| ClientInitError::InvalidUrl(api_url.to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(ClientInitError::InvalidUrl(api_url.to_owned()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientInitError::Http(e.to_string()))?;
        Ok(Self {
            base: api_url.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// A client for the official endpoint.
    pub fn official() -> Result<Self, ClientInitError> {
        Self::new(TELEGRAM_API_URL)
    }

    /// The base URL calls go to.
    pub fn api_url(&self) -> &str {
        &self.base
    }

    async fn call<P: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        token: &Secret,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<R, TelegramError> {
        let request = self.method_url(token, method).json(params).timeout(timeout);
        Self::exchange(method, request).await
    }

    /// A multipart call (file uploads), with the upload budget.
    async fn call_multipart<R: DeserializeOwned>(
        &self,
        token: &Secret,
        method: &str,
        form: reqwest::multipart::Form,
    ) -> Result<R, TelegramError> {
        let request = self
            .method_url(token, method)
            .multipart(form)
            .timeout(UPLOAD_TIMEOUT);
        Self::exchange(method, request).await
    }

    fn method_url(&self, token: &Secret, method: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/bot{}/{}", self.base, token.expose(), method))
    }

    /// Sends a Bot API request and decodes its answer (errors classified, URL never logged).
    async fn exchange<R: DeserializeOwned>(
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<R, TelegramError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(method, &e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(method, &e))?;
        let result = decode_response(status, &body);
        if let Err(e) = &result {
            tracing::debug!(method, status, error = %e, "Bot API call failed");
        }
        result
    }
}

/// Budget of one upload (up to 50 MB).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Budget of one download (up to 20 MB).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The `InputMedia` type of a file in an album.
fn media_type(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Image => "photo",
        AttachmentKind::Video => "video",
        AttachmentKind::Audio | AttachmentKind::Voice => "audio",
        _ => "document",
    }
}

fn file_part(file: &OutgoingFile) -> Result<reqwest::multipart::Part, TelegramError> {
    reqwest::multipart::Part::bytes(file.bytes.clone())
        .file_name(file.file_name.clone())
        .mime_str(&file.mime_type)
        .or_else(|_| {
            reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name(file.file_name.clone())
                .mime_str("application/octet-stream")
        })
        .map_err(|e| TelegramError::Rejected(format!("cannot attach {}: {e}", file.file_name)))
}

/// Choices as an inline keyboard: one button per row, or one row when every label is short
/// (a rating's 1–5 stars, yes/no) and they fit a phone's width.
fn inline_keyboard(buttons: &[Button]) -> serde_json::Value {
    let button = |b: &Button| json!({ "text": b.text, "callback_data": b.data });
    let short = buttons.len() <= 5 && buttons.iter().all(|b| b.text.chars().count() <= 5);
    let rows: Vec<serde_json::Value> = if short {
        vec![serde_json::Value::Array(
            buttons.iter().map(button).collect(),
        )]
    } else {
        buttons.iter().map(|b| json!([button(b)])).collect()
    };
    json!({ "inline_keyboard": rows })
}

/// A transport error, without its URL (which holds the token).
fn transport_error(method: &str, e: &reqwest::Error) -> TelegramError {
    use std::error::Error as _;
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        TelegramError::Transient(format!("{method}: {what}"))
    } else {
        TelegramError::Transient(format!("{method}: {what}: {detail}"))
    }
}

#[derive(Deserialize)]
struct Envelope<R> {
    ok: bool,
    result: Option<R>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    ok: bool,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

#[derive(Deserialize)]
struct ResponseParameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

/// Decodes a Bot API response body (`{"ok":true,"result":…}` or `{"ok":false,…}`).
fn decode_response<R: DeserializeOwned>(status: u16, body: &[u8]) -> Result<R, TelegramError> {
    if (200..300).contains(&status)
        && let Ok(Envelope {
            ok: true,
            result: Some(result),
        }) = serde_json::from_slice::<Envelope<R>>(body)
    {
        return Ok(result);
    }
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(err) if !err.ok => {
            let params = err.parameters.unwrap_or(ResponseParameters {
                retry_after: None,
                migrate_to_chat_id: None,
            });
            Err(classify(
                status,
                err.error_code,
                err.description.as_deref().unwrap_or(""),
                params.retry_after,
                params.migrate_to_chat_id,
            ))
        }
        Ok(_) if status >= 500 => Err(TelegramError::Transient(format!("HTTP {status}"))),
        Ok(_) => Err(TelegramError::Transient(format!(
            "HTTP {status}: the result has an unexpected shape"
        ))),
        Err(_) if (400..500).contains(&status) && status != 429 && status != 408 => Err(
            TelegramError::Rejected(format!("HTTP {status} without a Bot API body")),
        ),
        Err(_) => Err(TelegramError::Transient(format!(
            "HTTP {status}: the body is not a Bot API response"
        ))),
    }
}

/// Classifies a Bot API error.
fn classify(
    status: u16,
    error_code: Option<i64>,
    description: &str,
    retry_after: Option<u64>,
    migrate_to: Option<i64>,
) -> TelegramError {
    let code = error_code.unwrap_or(i64::from(status));
    if let Some(secs) = retry_after {
        return TelegramError::RetryAfter(Duration::from_secs(secs));
    }
    if code == 429 {
        let secs = description
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        return TelegramError::RetryAfter(Duration::from_secs(secs));
    }
    let description = if description.is_empty() {
        format!("error {code}")
    } else {
        description.to_owned()
    };
    if let Some(chat) = migrate_to {
        return TelegramError::Rejected(format!(
            "{description} (the group is now the supergroup {chat})"
        ));
    }
    let known: Result<ApiError, serde::de::value::Error> =
        ApiError::deserialize(description.as_str().into_deserializer());
    match known {
        Ok(
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation,
        ) => return TelegramError::Unreachable(description),
        Ok(ApiError::InvalidToken) => return TelegramError::BadToken(description),
        _ => {}
    }
    if code == 403 || description.starts_with("Forbidden:") {
        TelegramError::Unreachable(description)
    } else if code == 401 {
        TelegramError::BadToken(description)
    } else if code >= 500 || code == 408 {
        TelegramError::Transient(description)
    } else {
        TelegramError::Rejected(description)
    }
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i32,
}

#[derive(Deserialize)]
struct Me {
    id: i64,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct WireWebhookInfo {
    #[serde(default)]
    url: String,
    #[serde(default)]
    pending_update_count: u32,
    #[serde(default)]
    last_error_date: Option<i64>,
    #[serde(default)]
    last_error_message: Option<String>,
}

#[async_trait]
impl TelegramApi for TeloxideTelegram {
    async fn send_message(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
    ) -> Result<i32, TelegramError> {
        let params = json!({ "chat_id": chat.0, "text": text });
        let sent: SentMessage = self
            .call(token, "sendMessage", &params, REQUEST_TIMEOUT)
            .await?;
        Ok(sent.message_id)
    }

    async fn send_buttons(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        text: &str,
        buttons: &[Button],
    ) -> Result<i32, TelegramError> {
        let mut params = json!({ "chat_id": chat.0, "text": text });
        if !buttons.is_empty() {
            params["reply_markup"] = inline_keyboard(buttons);
        }
        let sent: SentMessage = self
            .call(token, "sendMessage", &params, REQUEST_TIMEOUT)
            .await?;
        Ok(sent.message_id)
    }

    async fn send_file(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        file: &OutgoingFile,
        caption: Option<&str>,
    ) -> Result<i32, TelegramError> {
        let (method, field) = file.method();
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat.0.to_string())
            .part(field, file_part(file)?);
        if let Some(c) = caption.filter(|c| !c.trim().is_empty()) {
            form = form.text("caption", c.to_owned());
        }
        let sent: SentMessage = self.call_multipart(token, method, form).await?;
        Ok(sent.message_id)
    }

    async fn send_media_group(
        &self,
        token: &Secret,
        chat: TelegramChatId,
        files: &[OutgoingFile],
        caption: Option<&str>,
    ) -> Result<Vec<i32>, TelegramError> {
        let mut form = reqwest::multipart::Form::new().text("chat_id", chat.0.to_string());
        let mut media = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let name = format!("file{i}");
            let mut item =
                json!({ "type": media_type(f.kind), "media": format!("attach://{name}") });
            if i == 0
                && let Some(c) = caption.filter(|c| !c.trim().is_empty())
            {
                item["caption"] = json!(c);
            }
            media.push(item);
            form = form.part(name, file_part(f)?);
        }
        form = form.text("media", serde_json::Value::Array(media).to_string());
        let sent: Vec<SentMessage> = self.call_multipart(token, "sendMediaGroup", form).await?;
        Ok(sent.into_iter().map(|m| m.message_id).collect())
    }

    async fn get_file(&self, token: &Secret, file_id: &str) -> Result<TelegramFile, TelegramError> {
        #[derive(Deserialize)]
        struct WireFile {
            #[serde(default)]
            file_path: Option<String>,
            #[serde(default)]
            file_size: Option<u64>,
        }
        let f: WireFile = self
            .call(
                token,
                "getFile",
                &json!({ "file_id": file_id }),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(TelegramFile {
            file_path: f.file_path,
            file_size: f.file_size,
        })
    }

    async fn download_file(
        &self,
        token: &Secret,
        file_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, TelegramError> {
        let url = format!(
            "{}/file/bot{}/{}",
            self.base,
            token.expose(),
            file_path.trim_start_matches('/')
        );
        let mut response = self
            .client
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error("download", &e))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.bytes().await.unwrap_or_default();
            return match decode_response::<IgnoredAny>(status, &body) {
                Err(e) => Err(e),
                Ok(_) => Err(TelegramError::Transient(format!("download: HTTP {status}"))),
            };
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(TelegramError::Rejected(format!(
                "the file is larger than {max_bytes} bytes"
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error("download", &e))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(TelegramError::Rejected(format!(
                    "the file is larger than {max_bytes} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn answer_callback_query(
        &self,
        token: &Secret,
        callback_query_id: &str,
        text: Option<&str>,
    ) -> Result<(), TelegramError> {
        let mut params = json!({ "callback_query_id": callback_query_id });
        if let Some(t) = text {
            params["text"] = json!(t);
        }
        let _: bool = self
            .call(token, "answerCallbackQuery", &params, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    async fn get_updates(
        &self,
        token: &Secret,
        offset: Option<i64>,
        timeout: Duration,
    ) -> Result<Vec<String>, TelegramError> {
        let mut params = serde_json::Map::new();
        if let Some(offset) = offset {
            params.insert("offset".to_owned(), json!(offset));
        }
        params.insert("timeout".to_owned(), json!(timeout.as_secs()));
        let updates: Vec<Box<RawValue>> = self
            .call(token, "getUpdates", &params, REQUEST_TIMEOUT + timeout)
            .await?;
        Ok(updates.into_iter().map(|u| u.get().to_owned()).collect())
    }

    async fn set_webhook(
        &self,
        token: &Secret,
        url: &str,
        secret: &Secret,
        drop_pending: bool,
    ) -> Result<(), TelegramError> {
        let mut params = serde_json::Map::new();
        params.insert("url".to_owned(), json!(url));
        if !secret.expose().is_empty() {
            params.insert("secret_token".to_owned(), json!(secret.expose()));
        }
        params.insert("drop_pending_updates".to_owned(), json!(drop_pending));
        let _: IgnoredAny = self
            .call(token, "setWebhook", &params, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    async fn delete_webhook(&self, token: &Secret) -> Result<(), TelegramError> {
        let _: IgnoredAny = self
            .call(token, "deleteWebhook", &json!({}), REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    async fn webhook_info(&self, token: &Secret) -> Result<WebhookInfo, TelegramError> {
        let info: WireWebhookInfo = self
            .call(token, "getWebhookInfo", &json!({}), REQUEST_TIMEOUT)
            .await?;
        Ok(WebhookInfo {
            url: info.url,
            pending_update_count: info.pending_update_count,
            last_error_date: info.last_error_date,
            last_error_message: info.last_error_message,
        })
    }

    async fn get_me(&self, token: &Secret) -> Result<BotIdentity, TelegramError> {
        let me: Me = self
            .call(token, "getMe", &json!({}), REQUEST_TIMEOUT)
            .await?;
        let id = BotId::parse(&me.id.to_string())
            .map_err(|e| TelegramError::Transient(format!("getMe: {e}")))?;
        Ok(BotIdentity {
            id,
            username: me.username,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> Result<i32, TelegramError> {
        decode_response::<SentMessage>(status, body.as_bytes()).map(|m| m.message_id)
    }

    #[test]
    fn a_successful_response_yields_its_result() {
        assert_eq!(
            decode(200, r#"{"ok":true,"result":{"message_id":7,"date":1}}"#),
            Ok(7)
        );
    }

    #[test]
    fn errors_are_classified_by_code_parameters_and_description() {
        assert_eq!(
            decode(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#
            ),
            Err(TelegramError::RetryAfter(Duration::from_secs(5)))
        );
        assert_eq!(
            decode(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 9"}"#
            ),
            Err(TelegramError::RetryAfter(Duration::from_secs(9)))
        );
        for blocked in [
            "Forbidden: bot was blocked by the user",
            "Forbidden: user is deactivated",
            "Forbidden: bot was kicked from the supergroup chat",
            "Forbidden: bot can't initiate conversation with a user",
        ] {
            let body = format!(r#"{{"ok":false,"error_code":403,"description":"{blocked}"}}"#);
            assert_eq!(
                decode(403, &body),
                Err(TelegramError::Unreachable(blocked.to_owned()))
            );
        }
        assert_eq!(
            decode(
                400,
                r#"{"ok":false,"error_code":400,"description":"Unauthorized: bot can't initiate conversation with a user"}"#
            ),
            Err(TelegramError::Unreachable(
                "Unauthorized: bot can't initiate conversation with a user".to_owned()
            ))
        );
        assert_eq!(
            decode(
                401,
                r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#
            ),
            Err(TelegramError::BadToken("Unauthorized".to_owned()))
        );
        assert_eq!(
            decode(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#
            ),
            Err(TelegramError::Rejected(
                "Bad Request: chat not found".to_owned()
            ))
        );
        assert!(matches!(
            decode(
                502,
                r#"{"ok":false,"error_code":502,"description":"Bad Gateway"}"#
            ),
            Err(TelegramError::Transient(_))
        ));
        assert!(matches!(
            decode(502, "<html>bad gateway</html>"),
            Err(TelegramError::Transient(_))
        ));
        assert!(matches!(
            decode(200, "not json"),
            Err(TelegramError::Transient(_))
        ));
    }

    #[test]
    fn the_client_refuses_a_base_url_that_is_not_http() {
        assert!(TeloxideTelegram::new("ftp://example.com").is_err());
        assert!(TeloxideTelegram::new("not a url").is_err());
        assert_eq!(
            TeloxideTelegram::new("http://127.0.0.1:9/")
                .map(|t| t.api_url().to_owned())
                .ok(),
            Some("http://127.0.0.1:9".to_owned())
        );
    }
}
