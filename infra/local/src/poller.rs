//! Long polling (`getUpdates`) for bots without a public URL. Each polled update goes through
//! the webhook's own ingest path (same parsing, dedupe and durable enqueue); the offset is
//! stored only after the batch is enqueued, so a crash re-reads rather than loses updates.
//! A button press is answered (`answerCallbackQuery`, so the user's spinner stops) after its
//! enqueue; the webhook does that in its reply instead, which polling has not.

use std::time::Duration;

use omnidesk_core::{BotConfig, TelegramApi, TelegramError};
use omnidesk_telegram_webhook::{WebhookDeps, ingest_update};
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
        let ingested = ingest_update(deps, bot.id, raw.as_bytes())
            .await
            .map_err(|e| PollError::Ingest(e.to_string()))?;
        if let Some(id) = &ingested.callback_query_id
            && let Err(e) = telegram.answer_callback_query(&bot.token, id, None).await
        {
            // Only a spinner that runs a little longer: the press itself is enqueued.
            tracing::warn!(bot = %bot.id, error = %e, "could not answer a button press");
        }
        if let Ok(u) = serde_json::from_str::<UpdateIdOnly>(&raw) {
            next = Some(next.map_or(u.update_id + 1, |n| n.max(u.update_id + 1)));
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use omnidesk_core::testing::{ManualClock, MemoryQueue, MemoryStore, MemoryTelegram};
    use omnidesk_core::{BotMode, Clock, QueueName, Secret, UuidV7Ids};
    use omnidesk_domain::{BotId, Timestamp};

    use super::*;

    const TOKEN: &str = "123456:AAtestTokenForTheFakeBotApi_abcdefgh";

    #[tokio::test]
    async fn a_polled_button_press_is_enqueued_then_answered() {
        let clock: Arc<dyn Clock> =
            Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let queue = Arc::new(MemoryQueue::new());
        let deps = WebhookDeps::new(
            store.clone(),
            queue.clone(),
            store,
            clock.clone(),
            Arc::new(UuidV7Ids),
        );
        let bot = BotConfig {
            id: BotId::from_token(TOKEN).unwrap(),
            token: Secret::new(TOKEN),
            webhook_secret: Secret::new("s"),
            username: None,
            mode: BotMode::Polling,
            poll_offset: None,
            created_at: clock.now(),
        };
        let telegram = MemoryTelegram::new();
        telegram.push_update(
            TOKEN,
            r#"{"update_id":40,"callback_query":{"id":"cb-1",
             "from":{"id":55,"is_bot":false,"first_name":"Ann"},
             "message":{"message_id":9,"date":1763780000,
               "chat":{"id":55,"type":"private","first_name":"Ann"},
               "reply_markup":{"inline_keyboard":[[{"text":"Talk to a person","callback_data":"human"}]]}},
             "chat_instance":"1","data":"human"}}"#,
        );
        telegram.push_update(
            TOKEN,
            r#"{"update_id":41,"message":{"message_id":10,"date":1763780001,
             "chat":{"id":55,"type":"private","first_name":"Ann"},
             "from":{"id":55,"is_bot":false,"first_name":"Ann"},"text":"hi"}}"#,
        );
        let next = poll_once(&deps, &telegram, &bot, None, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(next, Some(42));
        assert_eq!(queue.len(QueueName::Inbound), 2);
        assert_eq!(telegram.answered(), vec![("cb-1".to_owned(), None)]);
    }
}
