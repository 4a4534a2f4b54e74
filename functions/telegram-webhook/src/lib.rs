//! telegram-webhook: `POST /telegram/{bot_id}/webhook`, the fast front door for Telegram.
//!
//! It verifies `X-Telegram-Bot-Api-Secret-Token` in constant time, parses the update, enqueues
//! it durably on the inbound queue (deduplicated by bot + `update_id`) and only then answers
//! 200. It never calls an LLM, a translator or Telegram inline.
//!
//! | input | answer | stored |
//! |---|---|---|
//! | unknown bot id | 404 | nothing |
//! | missing or wrong secret | 401 | nothing |
//! | body over 1 MiB | 413 | nothing |
//! | not a Telegram update (not JSON, no `update_id`) | 200 | raw body in the dead-letter store, so Telegram does not retry a poison update forever |
//! | an update (any kind, unknown kinds included) | 200 after the enqueue | one inbound job; a redelivery of the same `update_id` adds nothing |
//! | a button press (`callback_query`) | 200 after the enqueue, with `{"method":"answerCallbackQuery",…}` as the body | as any update; Telegram makes the call, so the user's spinner stops with no request of ours |
//! | enqueue (or dead-letter write) failed | 503 | nothing, so Telegram retries |
//!
//! [`ingest`] and [`ingest_update`] are the same path without HTTP, used by the local
//! long-polling loop (which answers button presses itself: `getUpdates` has no reply body).
//!
//! Answering in the webhook reply is the Bot API's "making requests when getting updates":
//! no extra round trip, no new I/O on the ack path; its result is not reported, which is fine
//! for an answer that only stops a spinner.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use omnidesk_core::{
    BotConfig, BotStore, Clock, DeadLetter, DeadLetterStore, IdGen, OutgoingMessage, Queue,
    QueueName, SendOutcome,
};
use omnidesk_domain::{BotId, ChatKind, InboundEvent};
use parking_lot::RwLock;
use subtle::ConstantTimeEq;

/// Header Telegram puts the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Largest accepted webhook body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a bot's configuration is cached (saves a store read per update).
const BOT_CACHE_TTL: Duration = Duration::from_secs(30);

/// What the webhook needs.
#[derive(Clone)]
pub struct WebhookDeps {
    pub bots: Arc<dyn BotStore>,
    pub queue: Arc<dyn Queue>,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    cache: Arc<RwLock<HashMap<BotId, (BotConfig, Instant)>>>,
}

impl WebhookDeps {
    /// Wires the webhook's ports.
    pub fn new(
        bots: Arc<dyn BotStore>,
        queue: Arc<dyn Queue>,
        dead_letters: Arc<dyn DeadLetterStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        Self {
            bots,
            queue,
            dead_letters,
            clock,
            ids,
            cache: Arc::default(),
        }
    }

    async fn bot(&self, id: BotId) -> Result<Option<BotConfig>, omnidesk_core::StoreError> {
        if let Some((bot, at)) = self.cache.read().get(&id)
            && at.elapsed() < BOT_CACHE_TTL
        {
            return Ok(Some(bot.clone()));
        }
        let bot = self.bots.get_bot(id).await?;
        if let Some(b) = &bot {
            self.cache.write().insert(id, (b.clone(), Instant::now()));
        }
        Ok(bot)
    }
}

/// What became of one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Enqueued for the router.
    Enqueued,
    /// The same bot + `update_id` was enqueued before; dropped.
    Duplicate,
    /// Not a Telegram update; kept in the dead-letter store with this id.
    DeadLettered(String),
    /// A valid update with nothing to route (an edit, a bot, group chatter not addressing
    /// the bot): acknowledged, not enqueued.
    Ignored,
}

/// What became of one update, and the button press to answer when it was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub outcome: IngestOutcome,
    /// The `callback_query` id of a button press (answer it with `answerCallbackQuery`).
    pub callback_query_id: Option<String>,
}

/// Ingest failed in a way that retrying can fix (the queue or store is unavailable).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IngestError(String);

/// Parses and enqueues one raw update for `bot` (no authentication: the caller did it).
pub async fn ingest(
    deps: &WebhookDeps,
    bot: BotId,
    body: &[u8],
) -> Result<IngestOutcome, IngestError> {
    Ok(ingest_update(deps, bot, body).await?.outcome)
}

/// [`ingest`], also telling the button press to answer.
pub async fn ingest_update(
    deps: &WebhookDeps,
    bot: BotId,
    body: &[u8],
) -> Result<Ingested, IngestError> {
    let now = deps.clock.now();
    let inbound = match omnidesk_telegram::parse_update(bot, body, now) {
        Ok(inbound) => inbound,
        Err(e) => {
            let dead = DeadLetter {
                id: deps.ids.uuid().simple().to_string(),
                source: format!("telegram:{bot}"),
                reason: e.to_string(),
                body: String::from_utf8_lossy(body).into_owned(),
                received_at: now,
            };
            tracing::warn!(bot = %bot, dead_letter = %dead.id, reason = %dead.reason, "webhook body is not a Telegram update");
            deps.dead_letters
                .record_dead_letter(&dead)
                .await
                .map_err(|e| IngestError(format!("could not keep the rejected body: {e}")))?;
            return Ok(Ingested {
                outcome: IngestOutcome::DeadLettered(dead.id),
                callback_query_id: None,
            });
        }
    };
    let ingested = |outcome| Ingested {
        outcome,
        callback_query_id: inbound.callback_query_id.clone(),
    };
    // Telegram specifics end here: what the router gets is channel-neutral. Group chatter
    // that does not address the bot needs the bot's username (cached) to tell.
    let username = match inbound.chat_kind {
        Some(ChatKind::Group | ChatKind::Supergroup) => deps
            .bot(bot)
            .await
            .map_err(|e| IngestError(format!("could not read the bot: {e}")))?
            .and_then(|b| b.username),
        _ => None,
    };
    let Some(message) = inbound.to_message(username.as_deref()) else {
        tracing::debug!(kind = %inbound.kind, "update not routed");
        return Ok(ingested(IngestOutcome::Ignored));
    };
    let event = InboundEvent::message(message, now);
    let body = serde_json::to_string(&event).map_err(|e| IngestError(e.to_string()))?;
    let message = OutgoingMessage::fifo(event.group_key(), event.source_key(), body);
    match deps.queue.send(QueueName::Inbound, message).await {
        Ok(SendOutcome::Enqueued) => Ok(ingested(IngestOutcome::Enqueued)),
        Ok(SendOutcome::Duplicate) => Ok(ingested(IngestOutcome::Duplicate)),
        Err(e) => Err(IngestError(format!("could not enqueue the update: {e}"))),
    }
}

/// The result of one webhook request, transport-free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    pub status: StatusCode,
    pub body: Cow<'static, str>,
}

impl IntoResponse for WebhookReply {
    fn into_response(self) -> Response {
        (
            self.status,
            [("content-type", "application/json")],
            self.body,
        )
            .into_response()
    }
}

const OK: WebhookReply = WebhookReply {
    status: StatusCode::OK,
    body: Cow::Borrowed(r#"{"ok":true}"#),
};

impl WebhookReply {
    fn error(status: StatusCode, body: &'static str) -> Self {
        Self {
            status,
            body: Cow::Borrowed(body),
        }
    }

    /// 200 with a Bot API call for Telegram to make: `answerCallbackQuery` for `id`.
    fn answer_callback(id: &str) -> Self {
        let call = serde_json::json!({
            "method": "answerCallbackQuery",
            "callback_query_id": id,
        });
        Self {
            status: StatusCode::OK,
            body: Cow::Owned(call.to_string()),
        }
    }
}

/// Handles one webhook request: `bot_id` from the path, the secret header, the raw body.
#[tracing::instrument(skip_all, fields(bot_id = %bot_id))]
pub async fn handle(
    deps: &WebhookDeps,
    bot_id: &str,
    secret: Option<&[u8]>,
    body: &[u8],
) -> WebhookReply {
    let Ok(bot_id) = BotId::parse(bot_id) else {
        return WebhookReply::error(
            StatusCode::NOT_FOUND,
            r#"{"ok":false,"error":"unknown bot"}"#,
        );
    };
    let bot = match deps.bot(bot_id).await {
        Ok(Some(bot)) => bot,
        Ok(None) => {
            return WebhookReply::error(
                StatusCode::NOT_FOUND,
                r#"{"ok":false,"error":"unknown bot"}"#,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "bot lookup failed");
            return WebhookReply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"ok":false,"error":"unavailable"}"#,
            );
        }
    };
    let expected = bot.webhook_secret.expose().as_bytes();
    let authorised = secret.is_some_and(|given| bool::from(given.ct_eq(expected)));
    if !authorised {
        tracing::warn!("webhook secret missing or wrong");
        return WebhookReply::error(
            StatusCode::UNAUTHORIZED,
            r#"{"ok":false,"error":"bad secret token"}"#,
        );
    }
    match ingest_update(deps, bot_id, body).await {
        // Answered by Telegram itself from this reply, whatever became of the press.
        Ok(Ingested {
            callback_query_id: Some(id),
            ..
        }) => WebhookReply::answer_callback(&id),
        Ok(Ingested { .. }) => OK,
        Err(e) => {
            tracing::error!(error = %e, "update not accepted; Telegram will retry");
            WebhookReply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"ok":false,"error":"unavailable, retry"}"#,
            )
        }
    }
}

async fn webhook(
    State(deps): State<WebhookDeps>,
    Path(bot_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> WebhookReply {
    let secret = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    handle(&deps, &bot_id, secret, &body).await
}

/// The webhook as an axum router (`lambda_http::run` on AWS, `axum::serve` locally).
pub fn router(deps: WebhookDeps) -> Router {
    Router::new()
        .route("/telegram/{bot_id}/webhook", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(deps)
}
