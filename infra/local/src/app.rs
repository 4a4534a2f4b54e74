//! Wires every function onto the embedded adapters in one process: SQLite store and queues,
//! the in-process WebSocket hub, the Telegram client, the queue workers and the pollers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::serve::ListenerExt;
use omnidesk_agent_api::{ApiDeps, Auth};
use omnidesk_agent_ws::WsDeps;
use omnidesk_core::Push;
use omnidesk_core::{
    BotMode, BotStore, Clock, IdGen, QueueName, Secret, SystemClock, TelegramApi, UuidV7Ids,
};
use omnidesk_local::{
    FolderBlobStore, Hub, QueueOptions, SqliteOptions, SqliteQueue, SqliteStore, Synchronous,
};
use omnidesk_media::MediaDeps;
use omnidesk_router::RouterDeps;
use omnidesk_sender::{RateLimiter, SenderDeps};
use omnidesk_telegram::TeloxideTelegram;
use omnidesk_telegram_webhook::WebhookDeps;
use omnidesk_web_chat::{VisitorKeys, WebChatDeps, WebChatSettings};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::ws::WsState;
use crate::{poller, worker};

/// Downloads at once, at most: each holds up to 20 MB in memory.
const MEDIA_WORKERS: usize = 8;

/// The adapters of one data directory, shared by the server and the admin commands.
#[derive(Clone)]
pub struct Adapters {
    pub store: SqliteStore,
    pub queue: SqliteQueue,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub telegram: Arc<dyn TelegramApi>,
    /// Attachment bytes, in `<data dir>/files`, with links signed by the server secret.
    pub blobs: Arc<FolderBlobStore>,
}

impl Adapters {
    /// Opens (creating if needed) the database in the configured data directory.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        // Owner-only (0700, files 0600): it holds every conversation, the customers' files
        // and the bot tokens. What an older build created wider is narrowed.
        omnidesk_local::private_fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        match omnidesk_local::private_fs::tighten(&config.data_dir) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                narrowed = n,
                dir = %config.data_dir.display(),
                "files of the data directory were readable by others: now owner-only"
            ),
            Err(e) => anyhow::bail!(
                "cannot make the data directory {} owner-only: {e}",
                config.data_dir.display()
            ),
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let path = config.database_path();
        let options = SqliteOptions {
            synchronous: if config.sqlite_full_sync {
                Synchronous::Full
            } else {
                Synchronous::Normal
            },
            ..SqliteOptions::default()
        };
        let secrets_key = match &config.secrets_key {
            Some(k) => k.clone(),
            None => load_or_create_secret(&config.data_dir.join("secrets-key"))?,
        };
        let store =
            SqliteStore::open_with(&path, clock.clone(), options.clone())?.with_sealing(Arc::new(
                omnidesk_core::sealing::Sealing::with_key(secrets_key.expose().as_bytes()),
            ));
        // The queues get their own file and writer: a webhook's durable enqueue (what Telegram
        // waits for) never queues behind the router's store writes.
        let queue = SqliteQueue::open_with(
            &config.queue_database_path(),
            clock.clone(),
            QueueOptions::default(),
            options,
        )?;
        store.settle_with(&queue);
        let telegram: Arc<dyn TelegramApi> =
            Arc::new(TeloxideTelegram::new(&config.telegram_api_url).context("TELEGRAM_API_URL")?);
        let blobs = FolderBlobStore::open(
            config.data_dir.join("files"),
            Self::secret(config)?.expose().as_bytes(),
        )
        .with_context(|| format!("cannot open {}", config.data_dir.join("files").display()))?;
        Ok(Self {
            store,
            queue,
            clock,
            ids: Arc::new(UuidV7Ids),
            telegram,
            blobs: Arc::new(blobs),
        })
    }

    /// The server secret: the configured key, or one generated once into the data dir.
    fn secret(config: &Config) -> anyhow::Result<Secret> {
        Ok(match &config.jwt_secret {
            Some(s) => s.clone(),
            None => load_or_create_secret(&config.data_dir.join("jwt-secret"))?,
        })
    }

    /// The widget API's dependencies on these adapters; visitors' sockets live in `hub`.
    pub fn web_chat_deps(&self, config: &Config, hub: &Hub) -> anyhow::Result<WebChatDeps> {
        let store = Arc::new(self.store.clone());
        Ok(WebChatDeps {
            web: store.clone(),
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            bots: store,
            visitors: Arc::new(hub.clone()),
            queue: Arc::new(self.queue.clone()),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            keys: VisitorKeys::derive(Self::secret(config)?.expose().as_bytes()),
            settings: WebChatSettings {
                files: config.files,
                telegram_rollout: config.router.telegram_handoff_rollout,
                ..WebChatSettings::default()
            },
            blobs: self.blobs.clone(),
        })
    }

    /// The e-mail ingest's dependencies on these adapters.
    pub fn email_deps(&self, config: &Config) -> omnidesk_email_inbound::EmailDeps {
        omnidesk_email_inbound::EmailDeps {
            mail: Arc::new(self.store.clone()),
            blobs: self.blobs.clone(),
            queue: Arc::new(self.queue.clone()),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            settings: config.email.clone(),
        }
    }

    /// The mailer of outgoing e-mail: the relay when one is set, else the outbox folder.
    pub fn mailer(&self, config: &Config) -> anyhow::Result<Arc<dyn omnidesk_core::Mailer>> {
        Ok(match &config.smtp_relay {
            Some(url) => Arc::new(
                omnidesk_local::SmtpRelayMailer::from_url(url.expose())
                    .map_err(|e| anyhow::anyhow!("OMNIDESK_SMTP_RELAY: {e}"))?,
            ),
            None => Arc::new(omnidesk_local::OutboxMailer::new(config.outbox_path())),
        })
    }

    /// The agent-token signer: the configured key, or one generated once into the data dir.
    pub fn auth(&self, config: &Config) -> anyhow::Result<Auth> {
        let secret = Self::secret(config)?;
        Ok(Auth::with_clock(
            secret.expose().as_bytes(),
            config.token_ttl,
            self.clock.clone(),
        )
        .with_session_ttl(config.session_ttl))
    }

    /// The agent API's dependencies on these adapters (files: the default limits; `start`
    /// sets the configured ones).
    pub fn api_deps(&self, auth: Arc<Auth>, push: Arc<dyn Push>) -> ApiDeps {
        let store = Arc::new(self.store.clone());
        ApiDeps {
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            connections: store.clone(),
            push,
            queue: Arc::new(self.queue.clone()),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            auth,
            blobs: self.blobs.clone(),
            files: omnidesk_agent_api::FileSettings::default(),
            translation: None,
            ai: None,
            routing: store.clone(),
            bots: store.clone(),
            tickets: store.clone(),
            erasure: store.clone(),
            mailer: None,
            audit: omnidesk_agent_api::AuditLog {
                store: store.clone(),
                keep: omnidesk_agent_api::DEFAULT_AUDIT_RETENTION,
            },
            on_routing_change: None,
        }
    }
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Secret> {
    if let Ok(s) = std::fs::read_to_string(path)
        && s.trim().len() >= 32
    {
        return Ok(Secret::new(s.trim()));
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    omnidesk_local::private_fs::write_atomic(path, secret.as_bytes(), true)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Secret::new(secret))
}

/// A running server.
pub struct App {
    pub addr: SocketAddr,
    /// Where the SMTP listener accepts mail, when one runs.
    pub smtp_addr: Option<SocketAddr>,
    pub adapters: Adapters,
    tasks: JoinSet<()>,
}

impl App {
    /// Stops the server and its workers.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the server stops (it does not, unless a task fails).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        if let Some(res) = self.tasks.join_next().await {
            res.context("a server task failed")?;
        }
        Ok(())
    }
}

/// `listener` with Nagle's algorithm off on every accepted socket (`TCP_NODELAY`). A WebSocket
/// push is one small write; with Nagle, a push written while the previous one still waits for
/// its ACK is held until the client's delayed ACK (up to 40 ms on Linux). Measured with
/// `omnidesk bench`, that hold was the whole 15-40 ms tail of inbound -> agent WebSocket
/// latency (p50 0.66 ms instead of 0.8-12 ms, p99 3 ms instead of 26-37 ms at 500/s).
pub fn without_nagle(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    fn no_delay(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted socket");
        }
    }
    listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}

/// The rules file to load at start: `OMNIDESK_RULES`, else `rules.toml` or `rules.yaml` in the
/// data directory when there is one.
pub fn rules_file(config: &Config) -> Option<std::path::PathBuf> {
    if let Some(path) = &config.rules {
        return Some(path.clone());
    }
    ["rules.toml", "rules.yaml", "rules.yml"]
        .iter()
        .map(|name| config.data_dir.join(name))
        .find(|p| p.is_file())
}

/// Loads the rules file (when there is one) into the store, where every worker reads it. A
/// file with an error is refused with the line named, and the rules stored before stay in
/// force: a typo in an edit never leaves the desk without routing. A named file
/// (`OMNIDESK_RULES`) that does not exist is an error.
async fn load_rules_file(
    config: &Config,
    store: &omnidesk_local::SqliteStore,
    clock: &dyn omnidesk_core::Clock,
) -> anyhow::Result<()> {
    let Some(path) = rules_file(config) else {
        return Ok(());
    };
    if !path.is_file() {
        anyhow::bail!("OMNIDESK_RULES={}: no such file", path.display());
    }
    let (source, format) = crate::admin::read_rules_file(&path).context("OMNIDESK_RULES")?;
    let set = match crate::admin::check_rules(store, &source, format).await? {
        Ok(set) => set,
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "routing rules NOT loaded; the rules in force stay");
            eprintln!(
                "omnidesk: {}: {e}\nomnidesk: the routing rules were not loaded; the rules in force stay",
                path.display()
            );
            return Ok(());
        }
    };
    let (version, changed) = crate::admin::store_rules(store, clock, source, format).await?;
    if changed {
        tracing::info!(file = %path.display(), rules = set.len(), version, "routing rules loaded");
    } else {
        tracing::info!(file = %path.display(), rules = set.len(), "routing rules unchanged");
    }
    Ok(())
}

/// Builds the HTTP application and starts the workers and pollers.
pub async fn start(config: &Config) -> anyhow::Result<App> {
    let adapters = Adapters::open(config)?;
    let auth = Arc::new(adapters.auth(config)?);
    let store = Arc::new(adapters.store.clone());
    let sealed = adapters.store.seal_plain_secrets().await?;
    if sealed > 0 {
        tracing::info!(
            records = sealed,
            "secrets stored plain by an older build are sealed now"
        );
    }
    let queue = Arc::new(adapters.queue.clone());
    let hub = Hub::new();
    let push = Arc::new(hub.clone());
    // Local connections live in the hub, next to their sockets (no store read per push).
    let connections = Arc::new(hub.clone());
    let clock = adapters.clock.clone();
    let ids = adapters.ids.clone();
    let telegram = adapters.telegram.clone();

    let webhook = WebhookDeps::new(
        store.clone(),
        queue.clone(),
        store.clone(),
        clock.clone(),
        ids.clone(),
    );
    let mut router_settings = config.router.clone();
    {
        use omnidesk_core::AgentStore;
        router_settings.serve_languages(&store.list_agents().await?);
    }
    load_rules_file(config, store.as_ref(), adapters.clock.as_ref()).await?;
    // Translation: the providers in their order, over the SQLite cache and quota counters.
    router_settings.translate = config.translation.enabled();
    let sdk = if config.translation.uses_amazon() {
        // Boxed: the SDK's loader is a large future, and `start`'s callers hold this one.
        Some(
            Box::pin(omnidesk_aws::aws_config::load_defaults(
                omnidesk_aws::aws_config::BehaviorVersion::latest(),
            ))
            .await,
        )
    } else {
        None
    };
    let translation = config
        .translation
        .service(store.clone(), clock.clone(), sdk.as_ref());
    if let Some(t) = &translation {
        tracing::info!(providers = ?t.providers(), "translating with");
    } else {
        tracing::info!("no translator configured (OMNIDESK_TRANSLATOR): language detection only");
    }
    // The AI: the model (none: the knowledge base over the FAQ) and what it thinks with.
    if router_settings.ai_mode != omnidesk_router::AiMode::Off {
        router_settings.ai = Some(omnidesk_router::AiGate::new(
            store.clone(),
            router_settings.ai_mode,
        ));
    }
    let ai_sdk = if config.ai.mode == omnidesk_router::AiMode::Bedrock {
        match &sdk {
            Some(s) => Some(s.clone()),
            None => Some(
                Box::pin(omnidesk_aws::aws_config::load_defaults(
                    omnidesk_aws::aws_config::BehaviorVersion::latest(),
                ))
                .await,
            ),
        }
    } else {
        None
    };
    let assist = Arc::new(omnidesk_ai_worker::Assist {
        conversations: store.clone(),
        messages: store.clone(),
        contacts: store.clone(),
        ai: store.clone(),
        usage: Some(store.clone()),
        llm: config.ai.llm(ai_sdk.as_ref()).map_err(anyhow::Error::msg)?,
        kb: omnidesk_ai_worker::KbCache::default(),
        clock: clock.clone(),
        ids: ids.clone(),
        settings: config.ai.settings.clone(),
    });
    tracing::info!(
        ai = router_settings.ai_mode.as_str(),
        "answering first with"
    );
    let router_deps = RouterDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        bots: store.clone(),
        connections: connections.clone(),
        routing: store.clone(),
        web: Some(store.clone()),
        visitors: Some(Arc::new(hub.clone())),
        push: push.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        settings: router_settings,
        retention: Some(omnidesk_router::RetentionPorts {
            erasure: store.clone(),
            blobs: adapters.blobs.clone(),
        }),
    };
    let router_settings_detector = router_deps.settings.detector.clone();
    let sender_deps = SenderDeps {
        messages: store.clone(),
        conversations: store.clone(),
        contacts: store.clone(),
        bots: store.clone(),
        connections: connections.clone(),
        agents: store.clone(),
        visitors: Some(Arc::new(hub.clone())),
        push: push.clone(),
        telegram: telegram.clone(),
        blobs: adapters.blobs.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        limiter: Arc::new(RateLimiter::telegram()),
        email: Some(omnidesk_sender::EmailOut {
            mailer: adapters.mailer(config)?,
            mail: store.clone(),
        }),
    };
    let mut api = adapters.api_deps(auth.clone(), push.clone());
    api.connections = connections.clone();
    api.files = config.files;
    api.audit.keep = config.audit_retention;
    // An edit of the rules through the API takes effect at once in this process.
    let routing_cache = router_deps.settings.routing.clone();
    api.on_routing_change = Some(Arc::new(move || routing_cache.invalidate()));
    api.translation = translation.clone().map(|service| {
        Arc::new(omnidesk_agent_api::ApiTranslation {
            service,
            detector: router_settings_detector.clone(),
            rollout: config.translation.reply_rollout(),
        })
    });
    // The outbox folder keeps every mail sent: an erasure deletes the contact's there too (a
    // relay keeps nothing here).
    api.mailer = Some(adapters.mailer(config)?);
    api.ai = Some(Arc::new(omnidesk_agent_api::ApiAi {
        mode: router_deps.settings.ai_mode,
        assist: assist.clone(),
    }));
    let ws_state = WsState {
        deps: WsDeps {
            connections: connections.clone(),
            agents: store.clone(),
            tickets: store.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
            // Visitors' sockets are served by `ws.rs` itself (with `web` below).
            web: None,
            presence: Some(omnidesk_agent_ws::Presence {
                queue: queue.clone(),
                away_after: config.away_after,
            }),
        },
        web: adapters.web_chat_deps(config, &hub)?,
        hub: hub.clone(),
        ids: ids.clone(),
        ping: config.ws_ping,
    };

    let app =
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/ws", get(crate::ws::upgrade).with_state(ws_state.clone()))
            .merge(omnidesk_telegram_webhook::router(webhook.clone()))
            .merge(omnidesk_agent_api::router(api))
            .merge(omnidesk_web_chat::router(ws_state.web.clone()))
            .merge(crate::static_files::widget_routes(&config.widget_dir))
            .merge(crate::static_files::files_routes(
                adapters.blobs.clone(),
                clock.clone(),
            ))
            .fallback_service(crate::static_files::service(&config.dashboard_dir))
            .layer(axum::middleware::from_fn(crate::headers::security_headers))
            // The peer's address, for the agent API's sign-in throttling.
            .layer(axum::middleware::map_request(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                 mut request: axum::extract::Request| async move {
                    request
                        .extensions_mut()
                        .insert(omnidesk_agent_api::ClientAddr(peer.ip()));
                    request
                },
            ));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (OMNIDESK_LISTEN)", config.listen))?;
    let addr = listener.local_addr()?;
    let listener = without_nagle(listener);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });

    let inbound_wake = adapters.queue.notifier(QueueName::Inbound);
    let ai_deps = Arc::new(omnidesk_ai_worker::AiDeps {
        assist,
        router: router_deps.clone(),
    });
    if let Some(keep) = router_deps.settings.retention {
        tasks.spawn(retention_clock(queue.clone(), keep));
    }
    let deps = Arc::new(router_deps);
    let timer_deps = deps.clone();
    tasks.spawn(worker::run(
        queue.clone(),
        QueueName::Inbound,
        inbound_wake,
        config.workers,
        move |msg| {
            let deps = deps.clone();
            async move { omnidesk_router::handle_body(&deps, &msg.body).await }
        },
    ));
    // Timers (reassignment of unanswered conversations) run in the router, as on AWS.
    let timers_wake = adapters.queue.notifier(QueueName::Timers);
    tasks.spawn(worker::run(
        queue.clone(),
        QueueName::Timers,
        timers_wake,
        config.workers,
        move |msg| {
            let deps = timer_deps.clone();
            async move { omnidesk_router::handle_timer_body(&deps, &msg.body).await }
        },
    ));
    let outbound_wake = adapters.queue.notifier(QueueName::Outbound);
    let deps = Arc::new(sender_deps);
    tasks.spawn(worker::run(
        queue.clone(),
        QueueName::Outbound,
        outbound_wake,
        config.workers,
        move |msg| {
            let deps = deps.clone();
            async move { omnidesk_sender::handle_body(&deps, &msg.body, msg.receive_count).await }
        },
    ));

    // Telegram files are fetched into `<data dir>/files` by the media worker, as on AWS.
    let media_wake = adapters.queue.notifier(QueueName::Media);
    let deps = Arc::new(MediaDeps {
        messages: store.clone(),
        conversations: store.clone(),
        bots: store.clone(),
        connections: connections.clone(),
        agents: store.clone(),
        visitors: Some(Arc::new(hub.clone())),
        push: push.clone(),
        telegram: telegram.clone(),
        blobs: adapters.blobs.clone(),
    });
    tasks.spawn(worker::run(
        queue.clone(),
        QueueName::Media,
        media_wake,
        config.workers.min(MEDIA_WORKERS),
        move |msg| {
            let deps = deps.clone();
            async move { omnidesk_media::handle_body(&deps, &msg.body, msg.receive_count).await }
        },
    ));

    // The translator: customers' messages into the agents' languages, replies into the
    // customer's (then on to the sender).
    if let Some(service) = translation {
        let translate_wake = adapters.queue.notifier(QueueName::Translate);
        let deps = Arc::new(omnidesk_translator::TranslatorDeps {
            messages: store.clone(),
            agents: store.clone(),
            connections: connections.clone(),
            conversations: store.clone(),
            push: push.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            service,
            settings: config.translation.worker.clone(),
        });
        tasks.spawn(worker::run(
            queue.clone(),
            QueueName::Translate,
            translate_wake,
            config.workers,
            move |msg| {
                let deps = deps.clone();
                async move {
                    omnidesk_translator::handle_body(&deps, &msg.body, msg.receive_count).await
                }
            },
        ));
    }

    // The AI answers (or hands over) conversations with the bot, as the ai-worker on AWS.
    let ai_wake = adapters.queue.notifier(QueueName::Ai);
    tasks.spawn(worker::run(
        queue.clone(),
        QueueName::Ai,
        ai_wake,
        config.workers,
        move |msg| {
            let deps = ai_deps.clone();
            async move { omnidesk_ai_worker::handle_body(&deps, &msg.body).await }
        },
    ));

    // Inbound e-mail: an SMTP listener when configured (imports work without it).
    let mut smtp_addr = None;
    if let Some(listen) = config.smtp_listen {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (OMNIDESK_SMTP_LISTEN)"))?;
        smtp_addr = Some(listener.local_addr()?);
        let smtp = omnidesk_local::smtp::SmtpConfig {
            hostname: config.smtp_hostname.clone(),
            max_message_bytes: config.email.max_bytes,
            ..omnidesk_local::smtp::SmtpConfig::default()
        };
        let sink = Arc::new(crate::smtp_sink::IngestSink {
            deps: adapters.email_deps(config),
        });
        tasks.spawn(async move {
            if let Err(e) =
                omnidesk_local::smtp::serve(listener, smtp, sink, std::future::pending()).await
            {
                tracing::error!(error = %e, "SMTP listener stopped");
            }
        });
        tracing::info!(addr = %smtp_addr.unwrap_or(listen), "SMTP listener is accepting mail");
    }

    for bot in store.list_bots().await? {
        if bot.mode == BotMode::Polling {
            tracing::info!(bot = %bot.id, "polling getUpdates");
            tasks.spawn(poller::run(
                webhook.clone(),
                telegram.clone(),
                bot,
                config.poll_timeout,
            ));
        }
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "omnidesk is listening");
    Ok(App {
        addr,
        smtp_addr,
        adapters,
        tasks,
    })
}

/// Starts the retention sweep a minute after start and then daily, as the AWS schedule does:
/// a timer job on the durable timers queue, run by the router (a sweep longer than one job
/// goes on in the next).
async fn retention_clock(queue: Arc<dyn omnidesk_core::Queue>, keep: std::time::Duration) {
    tracing::info!(
        days = keep.as_secs() / 86_400,
        "messages and files are kept for"
    );
    let mut wait = std::time::Duration::from_secs(60);
    loop {
        tokio::time::sleep(wait).await;
        wait = std::time::Duration::from_secs(24 * 3600);
        let job = omnidesk_core::TimerJob::Retention {
            cutoff: None,
            cursor: None,
        };
        if let Err(error) = queue
            .send(
                QueueName::Timers,
                job.to_queue_message(std::time::Duration::ZERO),
            )
            .await
        {
            tracing::warn!(%error, "the retention sweep was not started; trying again tomorrow");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_send_small_writes_without_waiting_for_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = axum::serve::Listener::accept(&mut listener).await;
        assert!(
            accepted.nodelay().unwrap(),
            "TCP_NODELAY is set on the accepted socket"
        );
    }
}
