//! Admin commands: agents, bots, webhooks, dead letters. They work on the same database as a
//! running server (SQLite WAL allows both at once).

use anyhow::{Context, bail};
use omnidesk_core::{
    AgentStore, BotConfig, BotMode, BotStore, DeadLetterStore, PageRequest, Queue, QueueName,
    Secret,
};
use omnidesk_domain::{Agent, BotId};

use crate::app::Adapters;
use crate::config::Config;

/// `omnidesk agent add`.
pub async fn agent_add(
    config: &Config,
    email: &str,
    name: &str,
    password: &str,
    capacity: Option<u32>,
) -> anyhow::Result<Agent> {
    let adapters = Adapters::open(config)?;
    let auth = std::sync::Arc::new(adapters.auth(config)?);
    // Nobody is connected to a hub of this command: the creation is pushed to no one.
    let deps = adapters.api_deps(auth, std::sync::Arc::new(omnidesk_local::Hub::new()));
    let mut agent = omnidesk_agent_api::create_agent(&deps, email, name, password).await?;
    if let Some(capacity) = capacity {
        agent.capacity = capacity;
        adapters.store.update_agent(&agent).await?;
    }
    Ok(agent)
}

/// `omnidesk agent list`.
pub async fn agent_list(config: &Config) -> anyhow::Result<Vec<Agent>> {
    Ok(Adapters::open(config)?.store.list_agents().await?)
}

/// Telegram's rule for `secret_token`: 1–256 characters of `A-Za-z0-9_-`.
pub fn check_webhook_secret(secret: &str) -> anyhow::Result<()> {
    if secret.is_empty()
        || secret.len() > 256
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        bail!("the webhook secret must have 1 to 256 characters of A-Z, a-z, 0-9, _ and -");
    }
    Ok(())
}

/// `omnidesk bot add`: stores the bot; asks Telegram for its username unless `verify` is off.
pub async fn bot_add(
    config: &Config,
    token: &str,
    webhook_secret: &str,
    polling: bool,
    verify: bool,
) -> anyhow::Result<BotConfig> {
    let id = BotId::from_token(token).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_webhook_secret(webhook_secret)?;
    let adapters = Adapters::open(config)?;
    let token = Secret::new(token);
    let username = if verify {
        let me = adapters.telegram.get_me(&token).await.with_context(|| {
            format!(
                "Telegram rejected the token (getMe at {}); use --no-verify to skip",
                config.telegram_api_url
            )
        })?;
        if me.id != id {
            bail!("the token belongs to bot {}, not {}", me.id, id);
        }
        me.username
    } else {
        None
    };
    let existing = adapters.store.get_bot(id).await?;
    let bot = BotConfig {
        id,
        token,
        webhook_secret: Secret::new(webhook_secret),
        username,
        mode: if polling {
            BotMode::Polling
        } else {
            BotMode::Webhook
        },
        poll_offset: existing.as_ref().and_then(|b| b.poll_offset),
        created_at: existing.map_or_else(|| adapters.clock.now(), |b| b.created_at),
    };
    adapters.store.put_bot(&bot).await?;
    Ok(bot)
}

async fn bot(adapters: &Adapters, id: &str) -> anyhow::Result<BotConfig> {
    let id = BotId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    adapters
        .store
        .get_bot(id)
        .await?
        .with_context(|| format!("no bot {id}; add it with `omnidesk bot add`"))
}

/// The webhook URL for a public base URL (`https://host` → `https://host/telegram/<id>/webhook`).
pub fn webhook_url(base: &str, bot: BotId) -> String {
    if base.contains("/telegram/") {
        base.to_owned()
    } else {
        format!("{}/telegram/{bot}/webhook", base.trim_end_matches('/'))
    }
}

/// `omnidesk telegram set-webhook`.
pub async fn set_webhook(
    config: &Config,
    bot_id: &str,
    base_url: &str,
    drop_pending: bool,
) -> anyhow::Result<String> {
    let adapters = Adapters::open(config)?;
    let bot = bot(&adapters, bot_id).await?;
    let url = webhook_url(base_url, bot.id);
    if !url.starts_with("https://") {
        bail!("Telegram only delivers webhooks to https:// URLs (got {url})");
    }
    adapters
        .telegram
        .set_webhook(&bot.token, &url, &bot.webhook_secret, drop_pending)
        .await?;
    if bot.mode == BotMode::Polling {
        let mut b = bot;
        b.mode = BotMode::Webhook;
        adapters.store.put_bot(&b).await?;
    }
    Ok(url)
}

/// `omnidesk telegram webhook-info`.
pub async fn webhook_info(
    config: &Config,
    bot_id: &str,
) -> anyhow::Result<omnidesk_core::WebhookInfo> {
    let adapters = Adapters::open(config)?;
    let bot = bot(&adapters, bot_id).await?;
    Ok(adapters.telegram.webhook_info(&bot.token).await?)
}

/// `omnidesk dead-letters`: rejected webhook bodies and dead-lettered queue messages.
pub async fn dead_letters(config: &Config, limit: usize) -> anyhow::Result<String> {
    let adapters = Adapters::open(config)?;
    let mut out = String::new();
    let page = adapters
        .store
        .list_dead_letters(&PageRequest::first(limit))
        .await?;
    out.push_str(&format!("rejected inputs ({}):\n", page.items.len()));
    for d in page.items {
        out.push_str(&format!(
            "  {}  {}  {}  reason: {}\n    body: {}\n",
            d.received_at, d.id, d.source, d.reason, d.body
        ));
    }
    for q in QueueName::ALL {
        let items = adapters.queue.dead_letters(q, limit).await?;
        out.push_str(&format!("dead-lettered {} jobs ({}):\n", q, items.len()));
        for d in items {
            out.push_str(&format!(
                "  {}  {}  after {} receives  reason: {}\n    body: {}\n",
                d.at, d.id, d.receive_count, d.reason, d.body
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_built_from_a_base() {
        let bot = BotId::parse("123").unwrap();
        assert_eq!(
            webhook_url("https://x.example/", bot),
            "https://x.example/telegram/123/webhook"
        );
        assert_eq!(
            webhook_url("https://x.example/telegram/123/webhook", bot),
            "https://x.example/telegram/123/webhook"
        );
    }

    #[test]
    fn webhook_secrets_follow_telegram_rules() {
        assert!(check_webhook_secret("abc_DEF-123").is_ok());
        assert!(check_webhook_secret("").is_err());
        assert!(check_webhook_secret("has space").is_err());
        assert!(check_webhook_secret(&"a".repeat(257)).is_err());
    }
}
