//! Admin commands: agents, bots, webhooks, dead letters. They work on the same database as a
//! running server (SQLite WAL allows both at once), or, with `OMNIDESK_AWS_TABLE` (`--aws-table`)
//! set, on the DynamoDB table of an AWS deployment (`agent add|list`, `bot add|list`,
//! `telegram set-webhook|webhook-info`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use omnidesk_agent_api::ApiDeps;
use omnidesk_core::{
    AgentStore, BotConfig, BotMode, BotStore, Clock, DeadLetterStore, DeadLettered,
    OutgoingMessage, PageRequest, Queue, QueueError, QueueName, Received, Secret, SendOutcome,
    SystemClock, TelegramApi, UuidV7Ids,
};
use omnidesk_domain::{Agent, BotId};

use crate::app::Adapters;
use crate::config::Config;

/// The variable (and `--aws-table` flag) that points the admin commands at a DynamoDB table.
pub const AWS_TABLE_VAR: &str = "OMNIDESK_AWS_TABLE";

/// Where the admin commands read and write: the local SQLite store, or an AWS deployment's
/// DynamoDB table.
pub struct Target {
    agents: Arc<dyn AgentStore>,
    bots: Arc<dyn BotStore>,
    web: Arc<dyn omnidesk_core::WebStore>,
    mail: Arc<dyn omnidesk_core::MailStore>,
    translations: Arc<dyn omnidesk_core::TranslationStore>,
    ai: Arc<dyn omnidesk_core::AiStore>,
    routing: Arc<dyn omnidesk_core::RoutingStore>,
    api: ApiDeps,
    telegram: Arc<dyn TelegramApi>,
    clock: Arc<dyn Clock>,
    /// Where it is, for messages.
    pub description: String,
}

impl Target {
    /// The local data directory's store.
    pub fn local(config: &Config) -> anyhow::Result<Self> {
        let adapters = Adapters::open(config)?;
        let auth = Arc::new(adapters.auth(config)?);
        // Nobody is connected to a hub of this command: the creation is pushed to no one.
        let api = adapters.api_deps(auth, Arc::new(omnidesk_local::Hub::new()));
        let store = Arc::new(adapters.store.clone());
        Ok(Self {
            agents: store.clone(),
            bots: store.clone(),
            web: store.clone(),
            mail: store.clone(),
            translations: store.clone(),
            ai: store.clone(),
            routing: store,
            api,
            telegram: adapters.telegram.clone(),
            clock: adapters.clock.clone(),
            description: format!("SQLite in {}", config.data_dir.display()),
        })
    }

    /// The DynamoDB table `table`, with the credentials and region of the environment
    /// (`omnidesk_aws::sdk_config`: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` as static keys
    /// when set, else the SDK's default chain — AWS_PROFILE, SSO, …; `AWS_REGION`;
    /// `AWS_ENDPOINT_URL` for an emulator). Agents created here get argon2 password hashes like
    /// local ones; no token is signed, so the deployment's JWT key is not needed.
    pub async fn aws(config: &Config, table: &str) -> anyhow::Result<Self> {
        let sdk = omnidesk_aws::sdk_config(&omnidesk_aws::AwsSettings::from_env()).await;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Bots' and websites' secrets are sealed with the deployment's key, as its functions
        // read them (the stack's SecretsKeyParameterName).
        let secrets_key = std::env::var("OMNIDESK_AWS_SECRETS_KEY_PARAM")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "/omnidesk/secrets-key".to_owned());
        let store = Arc::new(
            omnidesk_aws::DynamoStore::new(
                omnidesk_aws::aws_sdk_dynamodb::Client::new(&sdk),
                table,
                clock.clone(),
            )
            .with_sealing(omnidesk_aws::ssm_sealing(&sdk, secrets_key)),
        );
        // Only hashes passwords: the key never signs a token here.
        let hashing_only = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let api = ApiDeps {
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            connections: store.clone(),
            push: Arc::new(omnidesk_local::Hub::new()),
            queue: Arc::new(NoQueue),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
            auth: Arc::new(omnidesk_agent_api::Auth::with_clock(
                hashing_only.as_bytes(),
                Duration::from_secs(60),
                clock.clone(),
            )),
            // Creating agents touches no file.
            blobs: Arc::new(omnidesk_core::usecases::BlobsNotConfigured),
            files: omnidesk_agent_api::FileSettings::default(),
            translation: None,
            ai: None,
            // Creating agents touches no team or canned response.
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
        };
        let telegram: Arc<dyn TelegramApi> = Arc::new(
            omnidesk_telegram::TeloxideTelegram::new(&config.telegram_api_url)
                .context("TELEGRAM_API_URL")?,
        );
        Ok(Self {
            agents: store.clone(),
            bots: store.clone(),
            web: store.clone(),
            mail: store.clone(),
            translations: store.clone(),
            ai: store.clone(),
            routing: store,
            api,
            telegram,
            clock,
            description: format!("DynamoDB table {table}"),
        })
    }

    /// [`Target::aws`] when `aws_table` is set, else [`Target::local`].
    pub async fn select(config: &Config, aws_table: Option<&str>) -> anyhow::Result<Self> {
        match aws_table.map(str::trim).filter(|t| !t.is_empty()) {
            Some(table) => Self::aws(config, table).await,
            None => Self::local(config),
        }
    }
}

/// The admin commands enqueue nothing; a queue that refuses everything.
struct NoQueue;

#[async_trait]
impl Queue for NoQueue {
    async fn send(&self, queue: QueueName, _: OutgoingMessage) -> Result<SendOutcome, QueueError> {
        Err(refused(queue))
    }
    async fn receive(
        &self,
        queue: QueueName,
        _: usize,
        _: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        Err(refused(queue))
    }
    async fn ack(&self, queue: QueueName, _: &str) -> Result<(), QueueError> {
        Err(refused(queue))
    }
    async fn retry_later(&self, queue: QueueName, _: &str, _: Duration) -> Result<(), QueueError> {
        Err(refused(queue))
    }
    async fn dead_letter(&self, queue: QueueName, _: &str, _: &str) -> Result<(), QueueError> {
        Err(refused(queue))
    }
    async fn dead_letters(
        &self,
        queue: QueueName,
        _: usize,
    ) -> Result<Vec<DeadLettered>, QueueError> {
        Err(refused(queue))
    }
}

fn refused(queue: QueueName) -> QueueError {
    QueueError::Refused(format!("the admin command has no {queue} queue"))
}

/// `omnidesk agent add`.
pub async fn agent_add(
    config: &Config,
    email: &str,
    name: &str,
    password: &str,
    capacity: Option<u32>,
) -> anyhow::Result<Agent> {
    agent_add_to(&Target::local(config)?, email, name, password, capacity).await
}

/// `omnidesk agent add` on `target`.
pub async fn agent_add_to(
    target: &Target,
    email: &str,
    name: &str,
    password: &str,
    capacity: Option<u32>,
) -> anyhow::Result<Agent> {
    agent_add_with(target, email, name, password, capacity, &[], &[], None).await
}

/// `omnidesk agent add … [--team N] [--skills a,b] [--role R]` on `target`: the teams must
/// exist (a typo creates nothing). Without a role the deployment's first agent is an admin,
/// later ones agents.
#[allow(clippy::too_many_arguments)]
pub async fn agent_add_with(
    target: &Target,
    email: &str,
    name: &str,
    password: &str,
    capacity: Option<u32>,
    teams: &[String],
    skills: &[String],
    role: Option<omnidesk_domain::Role>,
) -> anyhow::Result<Agent> {
    let mut names = std::collections::BTreeSet::new();
    for team in teams.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let name = omnidesk_domain::TeamName::parse(team)
            .map_err(|e| anyhow::anyhow!("team {team:?}: {e}"))?;
        if target.routing.get_team(&name).await?.is_none() {
            bail!(
                "there is no team {name:?}; create it first with `omnidesk team add --name {name}`"
            );
        }
        names.insert(name.as_str().to_owned());
    }
    let skills: std::collections::BTreeSet<String> = skills
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let mut agent =
        omnidesk_agent_api::create_agent_as(&target.api, email, name, password, role).await?;
    if capacity.is_some() || !names.is_empty() || !skills.is_empty() {
        if let Some(capacity) = capacity {
            agent.capacity = capacity;
        }
        agent.teams = names;
        agent.skills = skills;
        target.agents.update_agent(&agent).await?;
    }
    Ok(agent)
}

/// The agent who signs in with `email` (the `--email` of an admin command).
async fn agent_by_email(target: &Target, email: &str) -> anyhow::Result<Agent> {
    let address = omnidesk_domain::EmailAddress::parse(email)
        .map_err(|e| anyhow::anyhow!("--email {email:?}: {e}"))?;
    let Some(id) = target.agents.agent_id_by_email(&address).await? else {
        bail!("there is no agent {address}");
    };
    target
        .agents
        .get_agent(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no agent {address}"))
}

/// `omnidesk agent role --email E --role R`: changes an agent's role and ends their sessions
/// (the way back in when the last admin's account is lost, run by someone with the server).
pub async fn agent_set_role(
    target: &Target,
    email: &str,
    role: omnidesk_domain::Role,
) -> anyhow::Result<Agent> {
    let mut agent = agent_by_email(target, email).await?;
    let id = agent.id;
    let before = agent.role;
    agent.role = role;
    target.agents.update_agent(&agent).await?;
    omnidesk_agent_api::end_sessions(target.agents.as_ref(), id).await?;
    if before != role {
        let change = format!("{} → {}", before.as_str(), role.as_str());
        omnidesk_agent_api::record_audit(
            &target.api,
            omnidesk_agent_api::AuditEvent::by(None, "role_changed")
                .on(&id)
                .detail(change),
        )
        .await;
    }
    Ok(agent)
}

/// `omnidesk agent totp-reset`: turns off an agent's two-factor sign-in (a lost phone; the
/// way back in when no admin can sign in). Their sessions end.
pub async fn agent_reset_totp(target: &Target, email: &str) -> anyhow::Result<Agent> {
    let mut agent = agent_by_email(target, email).await?;
    let id = agent.id;
    agent.totp = false;
    agent.totp_secret = None;
    target.agents.update_agent(&agent).await?;
    omnidesk_agent_api::end_sessions(target.agents.as_ref(), id).await?;
    omnidesk_agent_api::record_audit(
        &target.api,
        omnidesk_agent_api::AuditEvent::by(None, "totp_reset").on(&id),
    )
    .await;
    Ok(agent)
}

/// What `omnidesk team add` sets (unset fields keep a team's values, or the defaults).
#[derive(Debug, Default, Clone)]
pub struct TeamSpec {
    pub name: String,
    pub timezone: Option<String>,
    pub hours: Option<String>,
    pub holidays: Option<Vec<String>>,
    pub answer_within_secs: Option<u32>,
    pub max_hops: Option<u32>,
    pub busy_prompt: Option<String>,
    pub out_of_office: Option<String>,
}

/// `omnidesk team add`: creates the team, or changes the given fields of an existing one.
/// The zone, hours and holidays are checked first: nothing is stored when one is wrong.
/// Returns the team and whether it existed.
pub async fn team_add(
    target: &Target,
    spec: TeamSpec,
) -> anyhow::Result<(omnidesk_domain::Team, bool)> {
    let name = omnidesk_domain::TeamName::parse(&spec.name)
        .map_err(|e| anyhow::anyhow!("--name {:?}: {e}", spec.name))?;
    let now = target.clock.now();
    let existing = target.routing.get_team(&name).await?;
    let existed = existing.is_some();
    let mut team = existing.unwrap_or_else(|| omnidesk_domain::Team::new(name, now));
    if let Some(tz) = spec.timezone {
        team.timezone = tz.trim().to_owned();
    }
    if let Some(hours) = spec.hours {
        team.hours = hours.trim().to_owned();
    }
    if let Some(holidays) = spec.holidays {
        team.holidays = holidays
            .into_iter()
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect();
    }
    if let Some(secs) = spec.answer_within_secs {
        team.answer_within_secs = secs;
    }
    if let Some(hops) = spec.max_hops {
        team.max_hops = hops;
    }
    if let Some(t) = spec.busy_prompt {
        team.busy_prompt = Some(t).filter(|t| !t.trim().is_empty());
    }
    if let Some(t) = spec.out_of_office {
        team.out_of_office = Some(t).filter(|t| !t.trim().is_empty());
    }
    check_team(&team)?;
    team.updated_at = now;
    target.routing.put_team(&team).await?;
    Ok((team, existed))
}

/// Whether a team's zone, hours, holidays and timeout can be used.
pub fn check_team(team: &omnidesk_domain::Team) -> anyhow::Result<()> {
    omnidesk_rules::hours::Schedule::parse(&team.hours, &team.timezone, &team.holidays)
        .map_err(|e| anyhow::anyhow!("team {}: {e}", team.name))?;
    if team.answer_within_secs > 24 * 3600 {
        bail!(
            "team {}: --answer-within is at most 86400 seconds, got {}",
            team.name,
            team.answer_within_secs
        );
    }
    Ok(())
}

/// `omnidesk team list`: every team with its members' e-mails.
pub async fn team_list(
    target: &Target,
) -> anyhow::Result<Vec<(omnidesk_domain::Team, Vec<String>)>> {
    let agents = target.agents.list_agents().await?;
    Ok(target
        .routing
        .list_teams()
        .await?
        .into_iter()
        .map(|t| {
            let members = agents
                .iter()
                .filter(|a| a.in_team(t.name.as_str()))
                .map(|a| a.email.as_str().to_owned())
                .collect();
            (t, members)
        })
        .collect())
}

/// `omnidesk team delete`: whether it existed.
pub async fn team_delete(target: &Target, name: &str) -> anyhow::Result<bool> {
    let name = omnidesk_domain::TeamName::parse(name)
        .map_err(|e| anyhow::anyhow!("--name {name:?}: {e}"))?;
    Ok(target.routing.delete_team(&name).await?)
}

/// Reads a rules file: its text and its format (by the extension).
pub fn read_rules_file(path: &std::path::Path) -> anyhow::Result<(String, omnidesk_rules::Format)> {
    let format = omnidesk_rules::Format::from_path(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((source, format))
}

/// Checks rules against the teams that exist: the rule set, or the error naming the line.
pub async fn check_rules(
    routing: &dyn omnidesk_core::RoutingStore,
    source: &str,
    format: omnidesk_rules::Format,
) -> anyhow::Result<Result<omnidesk_rules::RuleSet, omnidesk_rules::RulesError>> {
    let teams: Vec<String> = routing
        .list_teams()
        .await?
        .into_iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    Ok(omnidesk_rules::RuleSet::parse(
        source,
        format,
        &omnidesk_rules::Known::teams(&teams),
    ))
}

/// Makes checked rules the rules in force unless they are already; returns the stored version
/// and whether it changed.
pub async fn store_rules(
    routing: &dyn omnidesk_core::RoutingStore,
    clock: &dyn Clock,
    source: String,
    format: omnidesk_rules::Format,
) -> anyhow::Result<(u64, bool)> {
    let current = routing.get_rules().await?;
    if let Some(c) = &current
        && c.source == source
        && c.format == format.as_str()
    {
        return Ok((c.version, false));
    }
    let expected = current.map_or(0, |c| c.version);
    let stored = routing
        .put_rules(
            &omnidesk_core::StoredRules {
                source,
                format: format.as_str().to_owned(),
                version: expected + 1,
                updated_at: clock.now(),
                updated_by: None,
            },
            expected,
        )
        .await?;
    Ok((stored.version, true))
}

/// Reads and checks a rules file against the teams of `target`: the rule set, or the error
/// naming the line.
pub async fn rules_check(
    target: &Target,
    path: &std::path::Path,
) -> anyhow::Result<(omnidesk_rules::RuleSet, String, omnidesk_rules::Format)> {
    let (source, format) = read_rules_file(path)?;
    let set = check_rules(target.routing.as_ref(), &source, format)
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((set, source, format))
}

/// The rules in force.
pub async fn rules_show(target: &Target) -> anyhow::Result<Option<omnidesk_core::StoredRules>> {
    Ok(target.routing.get_rules().await?)
}

/// Stores a rules file's text when it parses and differs from what is stored; returns the
/// stored version and whether it changed. With an error nothing is stored: the rules in force
/// stay.
pub async fn rules_load(target: &Target, path: &std::path::Path) -> anyhow::Result<(u64, bool)> {
    let (_, source, format) = rules_check(target, path).await?;
    store_rules(
        target.routing.as_ref(),
        target.clock.as_ref(),
        source,
        format,
    )
    .await
}

/// Languages given to `agent add --language/--reads`: ISO 639-1 codes the detector knows.
pub fn parse_languages(codes: &[String]) -> anyhow::Result<Vec<omnidesk_domain::LanguageTag>> {
    let known: std::collections::BTreeSet<&str> = omnidesk_language::supported_codes().collect();
    codes
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| {
            let tag = omnidesk_domain::LanguageTag::parse(c)
                .map_err(|e| anyhow::anyhow!("language {c:?}: {e}"))?;
            let base = tag
                .as_str()
                .split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !known.contains(base.as_str()) {
                bail!(
                    "language {c:?}: not one the detector knows ({})",
                    omnidesk_language::supported_codes()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(tag)
        })
        .collect()
}

/// Sets the agent's own language (`primary`, unchanged when `None`) and every language they
/// read (their own included).
pub async fn agent_set_languages(
    target: &Target,
    mut agent: Agent,
    primary: Option<omnidesk_domain::LanguageTag>,
    languages: Vec<omnidesk_domain::LanguageTag>,
) -> anyhow::Result<Agent> {
    if primary.is_some() {
        agent.language = primary;
    }
    agent.languages = languages.into_iter().collect();
    target.agents.update_agent(&agent).await?;
    Ok(agent)
}

/// `omnidesk agent list`.
pub async fn agent_list(config: &Config) -> anyhow::Result<Vec<Agent>> {
    agent_list_of(&Target::local(config)?).await
}

/// `omnidesk agent list` on `target`.
pub async fn agent_list_of(target: &Target) -> anyhow::Result<Vec<Agent>> {
    Ok(target.agents.list_agents().await?)
}

/// `omnidesk bot list` on `target`.
pub async fn bot_list_of(target: &Target) -> anyhow::Result<Vec<BotConfig>> {
    Ok(target.bots.list_bots().await?)
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
    let target = Target::local(config)?;
    bot_add_to(&target, config, token, webhook_secret, polling, verify).await
}

/// `omnidesk bot add` on `target`.
pub async fn bot_add_to(
    target: &Target,
    config: &Config,
    token: &str,
    webhook_secret: &str,
    polling: bool,
    verify: bool,
) -> anyhow::Result<BotConfig> {
    let id = BotId::from_token(token).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_webhook_secret(webhook_secret)?;
    let token = Secret::new(token);
    let username = if verify {
        let me = target.telegram.get_me(&token).await.with_context(|| {
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
    let existing = target.bots.get_bot(id).await?;
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
        created_at: existing.map_or_else(|| target.clock.now(), |b| b.created_at),
    };
    target.bots.put_bot(&bot).await?;
    Ok(bot)
}

async fn bot(target: &Target, id: &str) -> anyhow::Result<BotConfig> {
    let id = BotId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    target.bots.get_bot(id).await?.with_context(|| {
        format!(
            "no bot {id} in {}; add it with `omnidesk bot add`",
            target.description
        )
    })
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
    set_webhook_on(&Target::local(config)?, bot_id, base_url, drop_pending).await
}

/// `omnidesk telegram set-webhook` for a bot stored in `target`.
pub async fn set_webhook_on(
    target: &Target,
    bot_id: &str,
    base_url: &str,
    drop_pending: bool,
) -> anyhow::Result<String> {
    let bot = bot(target, bot_id).await?;
    let url = webhook_url(base_url, bot.id);
    if !url.starts_with("https://") {
        bail!("Telegram only delivers webhooks to https:// URLs (got {url})");
    }
    target
        .telegram
        .set_webhook(&bot.token, &url, &bot.webhook_secret, drop_pending)
        .await?;
    if bot.mode == BotMode::Polling {
        let mut b = bot;
        b.mode = BotMode::Webhook;
        target.bots.put_bot(&b).await?;
    }
    Ok(url)
}

/// `omnidesk telegram webhook-info`.
pub async fn webhook_info(
    config: &Config,
    bot_id: &str,
) -> anyhow::Result<omnidesk_core::WebhookInfo> {
    webhook_info_of(&Target::local(config)?, bot_id).await
}

/// `omnidesk telegram webhook-info` for a bot stored in `target`.
pub async fn webhook_info_of(
    target: &Target,
    bot_id: &str,
) -> anyhow::Result<omnidesk_core::WebhookInfo> {
    let bot = bot(target, bot_id).await?;
    Ok(target.telegram.webhook_info(&bot.token).await?)
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

/// Adds a website (`omnidesk website add`): origins are checked to be `scheme://host[:port]`,
/// the bot to exist.
pub async fn website_add(
    target: &Target,
    name: &str,
    origins: &[String],
    bot: Option<&str>,
    identity_secret: Option<String>,
    prechat: bool,
) -> anyhow::Result<omnidesk_core::Website> {
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("--name must not be empty");
    }
    let mut clean = Vec::new();
    for o in origins {
        let o = o.trim().trim_end_matches('/');
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .ok_or_else(|| anyhow::anyhow!("--origin {o}: expected http(s)://host[:port]"))?;
        if rest.is_empty() || rest.contains('/') || rest.contains('?') || rest.contains('#') {
            anyhow::bail!("--origin {o}: an origin is scheme://host[:port], with no path");
        }
        clean.push(o.to_ascii_lowercase());
    }
    let bot_id = match bot {
        Some(b) => {
            let id =
                omnidesk_domain::BotId::parse(b).map_err(|e| anyhow::anyhow!("--bot {b}: {e}"))?;
            match target.bots.get_bot(id).await? {
                None => anyhow::bail!("--bot {b}: no such bot (add it with `omnidesk bot add`)"),
                Some(bot) if bot.username.is_none() => anyhow::bail!(
                    "--bot {b}: its username is unknown, and a t.me link needs it; add the bot \
                     again without --no-verify so that getMe can fetch it"
                ),
                Some(_) => {}
            }
            Some(id)
        }
        None => None,
    };
    if identity_secret.as_deref().is_some_and(|s| s.len() < 16) {
        anyhow::bail!("--identity-secret: at least 16 characters");
    }
    let website = omnidesk_core::Website {
        id: omnidesk_domain::WebsiteId::from_uuid(uuid::Uuid::now_v7()),
        name: name.to_owned(),
        origins: clean,
        bot_id,
        identity_secret: identity_secret.map(omnidesk_core::Secret::new),
        prechat,
        created_at: target.clock.now(),
    };
    target.web.put_website(&website).await?;
    Ok(website)
}

/// `omnidesk website list` on `target`.
pub async fn website_list(target: &Target) -> anyhow::Result<Vec<omnidesk_core::Website>> {
    Ok(target.web.list_websites().await?)
}

/// Adds (or updates) a mailbox (`omnidesk mailbox add`): mail to `address` (and to
/// `reply+<token>@` its domain) becomes conversations; `bot` is offered to continue on.
pub async fn mailbox_add(
    target: &Target,
    address: &str,
    name: Option<String>,
    bot: Option<&str>,
) -> anyhow::Result<omnidesk_core::Mailbox> {
    let address = omnidesk_domain::EmailAddress::parse(address)
        .map_err(|e| anyhow::anyhow!("--address {address}: {e}"))?;
    if address.as_str().starts_with("reply+") {
        bail!("--address {address}: `reply+…@` addresses are the threads' own; pick another");
    }
    let bot_id = match bot {
        Some(b) => {
            let id = BotId::parse(b).map_err(|e| anyhow::anyhow!("--bot {b}: {e}"))?;
            match target.bots.get_bot(id).await? {
                None => bail!("--bot {b}: no such bot (add it with `omnidesk bot add`)"),
                Some(bot) if bot.username.is_none() => bail!(
                    "--bot {b}: its username is unknown, and a t.me link needs it; add the bot \
                     again without --no-verify so that getMe can fetch it"
                ),
                Some(_) => Some(id),
            }
        }
        None => None,
    };
    let created_at = match target.mail.get_mailbox(&address).await? {
        Some(m) => m.created_at,
        None => target.clock.now(),
    };
    let mailbox = omnidesk_core::Mailbox {
        address,
        name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        bot_id,
        created_at,
    };
    target.mail.put_mailbox(&mailbox).await?;
    Ok(mailbox)
}

/// `omnidesk mailbox list`.
pub async fn mailbox_list(target: &Target) -> anyhow::Result<Vec<omnidesk_core::Mailbox>> {
    Ok(target.mail.list_mailboxes().await?)
}

/// The raw messages `paths` name: files as they are, and every file of a maildir's `new/`
/// and `cur/` (or of a plain directory), in name order.
pub fn mail_files(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let parts: Vec<std::path::PathBuf> = if p.join("cur").is_dir() || p.join("new").is_dir()
            {
                vec![p.join("new"), p.join("cur")]
            } else {
                vec![p.clone()]
            };
            for dir in parts.into_iter().filter(|d| d.is_dir()) {
                let mut files: Vec<_> = std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot read {}", dir.display()))?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.is_file())
                    .collect();
                files.sort();
                out.extend(files);
            }
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
}

/// `omnidesk email import FILE…`: each raw message (or maildir) into the local system, as if
/// it had arrived by SMTP; `omnidesk serve` (running or started later) routes them. Returns one
/// line per message.
pub async fn email_import(
    config: &Config,
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Vec<String>> {
    let adapters = Adapters::open(config)?;
    let deps = adapters.email_deps(config);
    let mut lines = Vec::new();
    for file in mail_files(paths)? {
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let outcome = omnidesk_email_inbound::ingest(
            &deps,
            omnidesk_email_inbound::RawMail {
                bytes: &bytes,
                recipients: Vec::new(),
                source: format!("import:{}", file.display()),
                verdicts: omnidesk_email_inbound::Verdicts::default(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        lines.push(format!("{}: {}", file.display(), describe(&outcome)));
    }
    Ok(lines)
}

/// One line for an ingest outcome.
pub fn describe(outcome: &omnidesk_email_inbound::Ingested) -> String {
    use omnidesk_email_inbound::Ingested;
    match outcome {
        Ingested::Queued {
            key,
            new_thread: true,
        } => format!("queued as a new ticket ({key})"),
        Ingested::Queued { key, .. } => format!("queued in its thread ({key})"),
        Ingested::Kept { id, reason } => {
            format!("kept for an operator as {id}: {reason} (`omnidesk email failed`)")
        }
        Ingested::NoMailbox => {
            "not addressed to any mailbox (add one with `omnidesk mailbox add`)".to_owned()
        }
    }
}

/// `omnidesk email failed`: the kept (unprocessable, quarantined, too large) messages.
pub async fn email_failed(config: &Config, limit: usize) -> anyhow::Result<String> {
    use omnidesk_core::MailStore;
    let adapters = Adapters::open(config)?;
    let page = adapters
        .store
        .list_unprocessable(&PageRequest::first(limit))
        .await?;
    if page.items.is_empty() {
        return Ok("no kept e-mail\n".to_owned());
    }
    let mut out = String::new();
    for m in page.items {
        out.push_str(&format!(
            "{}  {}  {:>9}  {}  {}\n",
            m.id,
            chrono::DateTime::from_timestamp_millis(m.received_at.millis())
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            omnidesk_domain::human_size(m.size),
            m.source,
            m.reason
        ));
    }
    out.push_str("import one again with `omnidesk email retry <id>`\n");
    Ok(out)
}

/// `omnidesk email retry ID`: imports a kept message again.
pub async fn email_retry(config: &Config, id: &str) -> anyhow::Result<String> {
    let adapters = Adapters::open(config)?;
    let deps = adapters.email_deps(config);
    match omnidesk_email_inbound::reimport(&deps, id).await? {
        Some(outcome) => Ok(describe(&outcome)),
        None => bail!("no kept e-mail {id} (see `omnidesk email failed`)"),
    }
}

/// `omnidesk faq add`.
pub async fn faq_add(
    target: &Target,
    questions: &[String],
    answer: &str,
    language: Option<&str>,
) -> anyhow::Result<omnidesk_core::FaqEntry> {
    let entry = omnidesk_agent_api::faq_entry(
        omnidesk_agent_api::new_faq_id(),
        questions,
        answer,
        language,
        true,
        target.clock.now(),
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    target
        .ai
        .put_faq_entries(std::slice::from_ref(&entry))
        .await?;
    Ok(entry)
}

/// `omnidesk faq import`: returns (entries written, question variants read).
pub async fn faq_import(target: &Target, text: &str, json: bool) -> anyhow::Result<(usize, usize)> {
    let rows = if json {
        crate::faq::json_rows(text)?
    } else {
        crate::faq::csv_rows(text)?
    };
    crate::faq::import(target.ai.as_ref(), rows, target.clock.now()).await
}

/// `omnidesk faq list`.
pub async fn faq_list(target: &Target) -> anyhow::Result<Vec<omnidesk_core::FaqEntry>> {
    Ok(target.ai.faq().await?.entries)
}

/// `omnidesk faq delete`.
pub async fn faq_delete(target: &Target, id: &str) -> anyhow::Result<bool> {
    Ok(target.ai.delete_faq_entry(id).await?)
}

/// `omnidesk glossary set`: replaces the glossary with the entries of `json` (the next
/// version, so translations cached with the old one are not reused).
pub async fn glossary_set(target: &Target, json: &str) -> anyhow::Result<omnidesk_core::Glossary> {
    let entries: Vec<omnidesk_core::GlossaryEntry> = serde_json::from_str(json).context(
        "the glossary file must be a JSON list of {\"term\": …, \"translations\": {\"ru\": …}}",
    )?;
    for e in &entries {
        if e.term.trim().is_empty() {
            bail!("a glossary term must not be empty");
        }
        for lang in e.translations.keys() {
            omnidesk_domain::LanguageTag::parse(lang)
                .map_err(|err| anyhow::anyhow!("term {:?}: language {lang:?}: {err}", e.term))?;
        }
    }
    let current = target.translations.glossary().await?;
    let next = omnidesk_core::Glossary {
        version: current.version + 1,
        entries,
    };
    target.translations.put_glossary(&next).await?;
    Ok(next)
}

/// `omnidesk glossary show`.
pub async fn glossary_show(target: &Target) -> anyhow::Result<omnidesk_core::Glossary> {
    Ok(target.translations.glossary().await?)
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
    fn maildirs_import_new_then_cur_and_plain_files_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        for (sub, name) in [("new", "2.eml"), ("new", "1.eml"), ("cur", "0.eml")] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
            std::fs::write(maildir.join(sub).join(name), "x").unwrap();
        }
        std::fs::create_dir_all(maildir.join("tmp")).unwrap();
        std::fs::write(maildir.join("tmp").join("partial"), "x").unwrap();
        let single = dir.path().join("one.eml");
        std::fs::write(&single, "x").unwrap();
        let files = mail_files(&[single.clone(), maildir.clone()]).unwrap();
        assert_eq!(
            files,
            vec![
                single,
                maildir.join("new").join("1.eml"),
                maildir.join("new").join("2.eml"),
                maildir.join("cur").join("0.eml"),
            ],
            "tmp/ (being delivered) is skipped"
        );
        assert!(mail_files(&[dir.path().join("missing")]).is_err());
    }

    #[test]
    fn webhook_secrets_follow_telegram_rules() {
        assert!(check_webhook_secret("abc_DEF-123").is_ok());
        assert!(check_webhook_secret("").is_err());
        assert!(check_webhook_secret("has space").is_err());
        assert!(check_webhook_secret(&"a".repeat(257)).is_err());
    }
}
