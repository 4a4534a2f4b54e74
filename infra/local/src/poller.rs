//! Long polling (`getUpdates`) for bots without a public URL. Each polled update goes through
//! the webhook's own ingest path (same parsing, dedupe and durable enqueue); the offset is
//! stored only after the batch is enqueued, so a crash re-reads rather than loses updates.

use std::time::Duration;

use omnidesk_core::{BotConfig, TelegramApi, TelegramError};
use omnidesk_telegram_webhook::{WebhookDeps, ingest};
use std::sync::Arc;

/// Polls one bot forever (the task is aborted on shutdown).
pub async fn run(
    deps: WebhookDeps,
    telegram: Arc<dyn TelegramApi>,
    bot: BotConfig,
    timeout: Duration,
) {
    if let Err(e) = telegram.delete_webhook(&bot.token).await {
        tracing::warn!(bot = %bot.id, error = %e, "could not remove the webhook before polling");
    }
    let mut offset = bot.poll_offset;
    let mut failures = 0u32;
    loop {
        match poll_once(&deps, telegram.as_ref(), &bot, offset, timeout).await {
            Ok(next) => {
                failures = 0;
                if next != offset
                    && let Some(next) = next
                {
                    if let Err(e) = deps.bots.set_poll_offset(bot.id, next).await {
                        tracing::warn!(bot = %bot.id, error = %e, "could not store the poll offset");
                    }
                    offset = Some(next);
                }
            }
            Err(PollError::Telegram(TelegramError::RetryAfter(d))) => tokio::time::sleep(d).await,
            Err(e) => {
                failures += 1;
                let wait = Duration::from_secs(u64::from(failures.min(30)));
                tracing::warn!(bot = %bot.id, error = %e, ?wait, "polling failed");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error("{0}")]
    Ingest(String),
}

#[derive(serde::Deserialize)]
struct UpdateIdOnly {
    update_id: i64,
}

/// One `getUpdates` round; returns the next offset.
async fn poll_once(
    deps: &WebhookDeps,
    telegram: &dyn TelegramApi,
    bot: &BotConfig,
    offset: Option<i64>,
    timeout: Duration,
) -> Result<Option<i64>, PollError> {
    let updates = telegram.get_updates(&bot.token, offset, timeout).await?;
    let mut next = offset;
    for raw in updates {
        ingest(deps, bot.id, raw.as_bytes())
            .await
            .map_err(|e| PollError::Ingest(e.to_string()))?;
        if let Ok(u) = serde_json::from_str::<UpdateIdOnly>(&raw) {
            next = Some(next.map_or(u.update_id + 1, |n| n.max(u.update_id + 1)));
        }
    }
    Ok(next)
}
