//! The typed configuration, read once at start-up from the environment (and `.env`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use omnidesk_core::Secret;
use omnidesk_core::usecases::{DEFAULT_MAX_UPLOAD_BYTES, FileSettings};
use omnidesk_router::RouterSettings;

/// Every variable `omnidesk serve` reads, with its default. Listed in the README.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "OMNIDESK_LISTEN",
        "127.0.0.1:8080",
        "address the HTTP/WebSocket server listens on",
    ),
    (
        "OMNIDESK_DATA_DIR",
        "./omnidesk-data",
        "directory of the SQLite databases (store, queues), the attachment files (`files/`) \
         and the generated JWT key",
    ),
    (
        "TELEGRAM_API_URL",
        "https://api.telegram.org",
        "Telegram Bot API base URL (a local Bot API server or a test fake)",
    ),
    (
        "OMNIDESK_JWT_SECRET",
        "(generated into <data dir>/jwt-secret)",
        "HMAC key for agent tokens, at least 32 characters",
    ),
    (
        "OMNIDESK_SECRETS_KEY",
        "(generated into <data dir>/secrets-key)",
        "the key bot tokens, webhook secrets and websites' identity secrets are sealed with in \
         the store (AES-256-GCM), at least 32 characters; keep it apart from backups of the data",
    ),
    (
        "OMNIDESK_TOKEN_TTL_SECS",
        "900",
        "lifetime of an agent's access token (15 min; the dashboard renews it with its refresh \
         cookie)",
    ),
    (
        "OMNIDESK_SESSION_TTL_SECS",
        "604800",
        "how long an agent stays signed in unused (7 days; at most 30 days from the sign-in)",
    ),
    (
        "OMNIDESK_SQLITE_SYNC",
        "normal",
        "`normal` survives a process crash; `full` also survives power loss (slower)",
    ),
    (
        "OMNIDESK_WORKERS",
        "32",
        "messages each queue worker processes concurrently (distinct conversations)",
    ),
    (
        "OMNIDESK_WS_PING_SECS",
        "30",
        "WebSocket heartbeat: server ping interval; a socket silent for 3 intervals is closed",
    ),
    (
        "OMNIDESK_POLL_TIMEOUT_SECS",
        "25",
        "long-poll timeout of `getUpdates` for bots in polling mode",
    ),
    (
        "OMNIDESK_DASHBOARD_DIR",
        "web/dashboard/dist",
        "static files served at `/` (the agent dashboard), if present",
    ),
    (
        "OMNIDESK_WIDGET_DIR",
        "web/widget/dist",
        "the website widget's built files, served at `/widget.js` and `/widget/…`",
    ),
    (
        "OMNIDESK_BOT_GREETING",
        "(built in)",
        "the bot's answer to /start",
    ),
    (
        "OMNIDESK_BOT_HELP",
        "(built in)",
        "the bot's answer to /help",
    ),
    (
        "OMNIDESK_REASSIGN_AFTER_SECS",
        "300",
        "an automatically assigned conversation without an agent reply for this long goes to \
         another agent (back to the queue if its agent is offline); 0 = never; at most 900",
    ),
    (
        "OMNIDESK_MAX_UPLOAD_BYTES",
        "20971520",
        "the largest file an agent or a visitor may upload (20 MB); a channel's own limit \
         applies on top (Telegram: 50 MB)",
    ),
    (
        "OMNIDESK_FILE_LINK_TTL_SECS",
        "1800",
        "how long a signed download link to a file stays valid",
    ),
    (
        "OMNIDESK_SMTP_LISTEN",
        "(off)",
        "address of the inbound SMTP listener (e.g. `127.0.0.1:2525`): mail to a configured \
         mailbox (`omnidesk mailbox add`) becomes a conversation; no TLS or AUTH of its own, \
         so put it behind your MX or relay",
    ),
    (
        "OMNIDESK_SMTP_HOSTNAME",
        "localhost",
        "the name the SMTP listener greets with",
    ),
    (
        "OMNIDESK_MAX_EMAIL_BYTES",
        "26214400",
        "the largest inbound e-mail (25 MB); larger mail is refused with a polite SMTP reply, \
         or kept for an operator when imported",
    ),
    (
        "OMNIDESK_OUTBOX_DIR",
        "<data dir>/outbox",
        "where agent replies by e-mail are written as `.eml` files when no relay is set",
    ),
    (
        "OMNIDESK_SMTP_RELAY",
        "(none: outbox folder)",
        "send e-mail through this relay: `smtp://[user:pass@]host[:port]`, \
         `smtp+starttls://…` or `smtps://…`",
    ),
    (
        "OMNIDESK_EMAIL_ACK",
        "(built in)",
        "the acknowledgement mailed when an e-mail opens a ticket",
    ),
    (
        "OMNIDESK_EMAIL_LINK_TTL_SECS",
        "604800",
        "how long the \"Continue on Telegram\" link in an acknowledgement stays valid (7 days)",
    ),
    (
        "OMNIDESK_AUTO_MAIL_PER_HOUR",
        "5",
        "automatic mails (acknowledgements) to one address per hour, at most",
    ),
    (
        "OMNIDESK_RETENTION_DAYS",
        "(none: kept until deleted)",
        "messages and files older than this many days are deleted by a daily sweep (a \
         conversation with no activity since, whole); contacts stay",
    ),
    (
        "OMNIDESK_LANGUAGES",
        "(the agents' languages, plus en)",
        "comma-separated ISO 639-1 languages the team serves: every inbound message's language \
         is detected among them (the channel's hint is only a prior)",
    ),
    (
        "OMNIDESK_TRANSLATOR",
        "unset (detection only)",
        "translation providers in fallback order: deepl, google, amazon, openai",
    ),
    ("DEEPL_AUTH_KEY", "unset", "DeepL API key"),
    (
        "DEEPL_API_URL",
        "api-free.deepl.com for :fx keys, else api.deepl.com",
        "DeepL endpoint",
    ),
    (
        "GOOGLE_TRANSLATE_KEY",
        "unset",
        "Google Cloud Translation v2 API key",
    ),
    (
        "GOOGLE_TRANSLATE_URL",
        "https://translation.googleapis.com",
        "Google Cloud Translation endpoint",
    ),
    (
        "OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "OpenAI-compatible endpoint that translates",
    ),
    ("OPENAI_API_KEY", "unset", "its key"),
    (
        "OMNIDESK_TRANSLATE_MODEL",
        "gpt-4o-mini",
        "the model that translates",
    ),
    (
        "OMNIDESK_TRANSLATE_TIMEOUT_SECS",
        "8",
        "longest wait for one provider call",
    ),
    (
        "OMNIDESK_TRANSLATE_WAIT_SECS",
        "10",
        "how long a reply waits for its translation before the agent decides",
    ),
    (
        "OMNIDESK_TRANSLATE_CACHE_TTL_SECS",
        "2592000",
        "how long a translation is reused",
    ),
    (
        "OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT",
        "100",
        "percentage of contacts offered \"Continue on Telegram\" (widget, e-mail acknowledgement)",
    ),
    (
        "OMNIDESK_TRANSLATE_ROLLOUT",
        "100",
        "percentage of contacts whose replies are translated automatically (stable per contact)",
    ),
    (
        "OMNIDESK_TRANSLATE_DAILY_CHARS",
        "unlimited",
        "characters per UTC day per provider (deepl=500000,google=1000000)",
    ),
    (
        "OMNIDESK_AI",
        "kb",
        "what answers first: kb (the FAQ, offline), openai, bedrock, or off",
    ),
    (
        "OMNIDESK_AI_MODEL",
        "gpt-4o-mini (bedrock: anthropic.claude-3-haiku-20240307-v1:0)",
        "the model that answers",
    ),
    (
        "OMNIDESK_AI_TIMEOUT_SECS",
        "8",
        "a model slower than this hands over to a person",
    ),
    (
        "OMNIDESK_AI_HISTORY",
        "12",
        "the last messages (across channels) the AI reads in full",
    ),
    (
        "OMNIDESK_AI_MAX_TURNS",
        "5",
        "AI answers in a conversation before it hands over anyway",
    ),
    (
        "OMNIDESK_AI_CONVERSATION_TOKENS",
        "20000",
        "model tokens one conversation may use",
    ),
    (
        "OMNIDESK_AI_DAILY_TOKENS",
        "unlimited",
        "model tokens per UTC day for the deployment",
    ),
    (
        "OMNIDESK_AI_PRICE_INPUT",
        "0.15",
        "US dollars per million input tokens (the cost recorded per answer)",
    ),
    (
        "OMNIDESK_AI_PRICE_OUTPUT",
        "0.60",
        "US dollars per million output tokens",
    ),
    (
        "OMNIDESK_AI_OFF",
        "unset",
        "bot ids and website ids (comma-separated) whose conversations the AI never answers",
    ),
    (
        "OMNIDESK_HUMAN_ACK",
        "A member of our team will answer here shortly.",
        "what the customer is told when a person takes over",
    ),
    (
        "OMNIDESK_QUEUE_POSITION_TEXT",
        "You are number {position} in the queue.",
        "added to it while they wait in the queue",
    ),
    ("RUST_LOG", "info", "log filter (tracing-subscriber syntax)"),
];

/// Default of `OMNIDESK_WORKERS`: a step mostly waits on SQLite commits, so many run at once.
pub const DEFAULT_WORKERS: usize = 128;

/// `omnidesk serve` configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub telegram_api_url: String,
    pub jwt_secret: Option<Secret>,
    /// `OMNIDESK_SECRETS_KEY`: seals secrets at rest; `None`: generated into the data dir.
    pub secrets_key: Option<Secret>,
    pub token_ttl: Duration,
    /// `OMNIDESK_SESSION_TTL_SECS`: how long an agent stays signed in unused (refresh cookie).
    pub session_ttl: Duration,
    pub sqlite_full_sync: bool,
    pub workers: usize,
    pub ws_ping: Duration,
    /// `OMNIDESK_AWAY_AFTER_SECS`: an agent goes offline this long after their last dashboard
    /// closed.
    pub away_after: Duration,
    /// `OMNIDESK_AUDIT_RETENTION_DAYS`: how long the audit log keeps an entry.
    pub audit_retention: Duration,
    /// `OMNIDESK_RULES`: the routing rules file (default `<data dir>/rules.toml`, then
    /// `rules.yaml`, if present), loaded at start.
    pub rules: Option<PathBuf>,
    pub poll_timeout: Duration,
    pub dashboard_dir: PathBuf,
    pub widget_dir: PathBuf,
    /// `OMNIDESK_BOT_GREETING`, `OMNIDESK_BOT_HELP`, `OMNIDESK_REASSIGN_AFTER_SECS`.
    pub router: RouterSettings,
    /// `OMNIDESK_MAX_UPLOAD_BYTES`, `OMNIDESK_FILE_LINK_TTL_SECS`.
    pub files: FileSettings,
    /// `OMNIDESK_SMTP_LISTEN`: the inbound SMTP listener, off when unset.
    pub smtp_listen: Option<SocketAddr>,
    /// `OMNIDESK_SMTP_HOSTNAME`.
    pub smtp_hostname: String,
    /// `OMNIDESK_OUTBOX_DIR`; `None`: `<data dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    /// `OMNIDESK_SMTP_RELAY`.
    pub smtp_relay: Option<Secret>,
    /// `OMNIDESK_MAX_EMAIL_BYTES`.
    pub email: omnidesk_email_inbound::EmailSettings,
    /// `OMNIDESK_TRANSLATOR` and its providers' variables, the cache, quotas and waits.
    pub translation: omnidesk_translator::TranslationConfig,
    /// `OMNIDESK_AI` and its variables.
    pub ai: omnidesk_ai_worker::AiConfig,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
    }
}

impl Config {
    /// Reads `.env` (if present) and the environment; names any malformed variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let _ = dotenvy::dotenv();
        let listen = parse_var("OMNIDESK_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let telegram_api_url =
            var("TELEGRAM_API_URL").unwrap_or_else(|| "https://api.telegram.org".to_owned());
        reqwest::Url::parse(&telegram_api_url)
            .with_context(|| format!("TELEGRAM_API_URL={telegram_api_url:?} is not a URL"))?;
        let jwt_secret = var("OMNIDESK_JWT_SECRET").map(Secret::new);
        if let Some(s) = &jwt_secret
            && s.expose().len() < 32
        {
            bail!("OMNIDESK_JWT_SECRET must have at least 32 characters");
        }
        let secrets_key = var("OMNIDESK_SECRETS_KEY").map(Secret::new);
        if let Some(s) = &secrets_key
            && s.expose().len() < 32
        {
            bail!("OMNIDESK_SECRETS_KEY must have at least 32 characters");
        }
        let sync = var("OMNIDESK_SQLITE_SYNC").unwrap_or_else(|| "normal".to_owned());
        let sqlite_full_sync = match sync.as_str() {
            "normal" => false,
            "full" => true,
            other => bail!("OMNIDESK_SQLITE_SYNC={other:?} must be `normal` or `full`"),
        };
        let workers: usize = parse_var("OMNIDESK_WORKERS", DEFAULT_WORKERS)?;
        if workers == 0 {
            bail!("OMNIDESK_WORKERS must be at least 1");
        }
        Ok(Self {
            listen,
            data_dir: PathBuf::from(
                var("OMNIDESK_DATA_DIR").unwrap_or_else(|| "./omnidesk-data".to_owned()),
            ),
            telegram_api_url,
            jwt_secret,
            secrets_key,
            token_ttl: Duration::from_secs(parse_var("OMNIDESK_TOKEN_TTL_SECS", 900)?),
            session_ttl: Duration::from_secs(parse_var("OMNIDESK_SESSION_TTL_SECS", 604_800)?),
            sqlite_full_sync,
            workers,
            ws_ping: Duration::from_secs(parse_var::<u64>("OMNIDESK_WS_PING_SECS", 30)?.max(1)),
            away_after: omnidesk_agent_ws::Presence::away_after_from(
                var("OMNIDESK_AWAY_AFTER_SECS").as_deref(),
            )
            .map_err(|e| anyhow::anyhow!(e))?,
            audit_retention: omnidesk_agent_api::audit_retention_from(
                var("OMNIDESK_AUDIT_RETENTION_DAYS").as_deref(),
            )
            .map_err(|e| anyhow::anyhow!(e))?,
            rules: var("OMNIDESK_RULES").map(PathBuf::from),
            poll_timeout: Duration::from_secs(parse_var("OMNIDESK_POLL_TIMEOUT_SECS", 25)?),
            dashboard_dir: PathBuf::from(
                var("OMNIDESK_DASHBOARD_DIR").unwrap_or_else(|| "web/dashboard/dist".to_owned()),
            ),
            widget_dir: PathBuf::from(
                var("OMNIDESK_WIDGET_DIR").unwrap_or_else(|| "web/widget/dist".to_owned()),
            ),
            router: RouterSettings::from_lookup(var).map_err(anyhow::Error::msg)?,
            files: FileSettings::from_lookup(var, DEFAULT_MAX_UPLOAD_BYTES)
                .map_err(anyhow::Error::msg)?,
            smtp_listen: var("OMNIDESK_SMTP_LISTEN")
                .map(|v| {
                    v.trim().parse().map_err(|e| {
                        anyhow::anyhow!("OMNIDESK_SMTP_LISTEN={v:?} is not host:port: {e}")
                    })
                })
                .transpose()?,
            smtp_hostname: var("OMNIDESK_SMTP_HOSTNAME").unwrap_or_else(|| "localhost".to_owned()),
            outbox_dir: var("OMNIDESK_OUTBOX_DIR").map(PathBuf::from),
            smtp_relay: var("OMNIDESK_SMTP_RELAY").map(Secret::new),
            email: omnidesk_email_inbound::EmailSettings::from_lookup(var)
                .map_err(anyhow::Error::msg)?,
            translation: omnidesk_translator::TranslationConfig::from_lookup(var)
                .map_err(anyhow::Error::msg)?,
            ai: omnidesk_ai_worker::AiConfig::from_lookup(var).map_err(anyhow::Error::msg)?,
        })
    }

    /// A configuration for tests and the benchmark: loopback, the given data dir and Telegram URL.
    pub fn for_test(data_dir: PathBuf, telegram_api_url: String) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            telegram_api_url,
            jwt_secret: None,
            secrets_key: None,
            token_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(604_800),
            sqlite_full_sync: false,
            workers: DEFAULT_WORKERS,
            ws_ping: Duration::from_secs(30),
            away_after: omnidesk_agent_ws::Presence::AWAY_AFTER,
            audit_retention: omnidesk_agent_api::DEFAULT_AUDIT_RETENTION,
            rules: None,
            poll_timeout: Duration::from_secs(1),
            dashboard_dir: PathBuf::from("web/dashboard/dist"),
            widget_dir: PathBuf::from("web/widget/dist"),
            router: RouterSettings::default(),
            files: FileSettings::default(),
            smtp_listen: None,
            smtp_hostname: "localhost".to_owned(),
            outbox_dir: None,
            smtp_relay: None,
            email: omnidesk_email_inbound::EmailSettings::default(),
            translation: omnidesk_translator::TranslationConfig::default(),
            // Tests turn the AI on themselves (the router's default settings leave it off).
            ai: omnidesk_ai_worker::AiConfig::from_lookup(|_| None)
                .expect("the default AI configuration is valid"),
        }
    }

    /// Where `.eml` files of outgoing mail go when no relay is set.
    pub fn outbox_path(&self) -> PathBuf {
        self.outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    /// The SQLite database file of the store.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("omnidesk.sqlite3")
    }

    /// The SQLite database file of the durable queues.
    pub fn queue_database_path(&self) -> PathBuf {
        self.data_dir.join("queues.sqlite3")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_variable_serve_reads_is_in_the_readme_configuration_table() {
        let readme = include_str!("../../../README.md");
        for (name, _, _) in super::VARIABLES {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README.md has no row for {name}"
            );
        }
    }
}
