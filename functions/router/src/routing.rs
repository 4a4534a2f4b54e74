//! The router's view of the deployment's routing: its rules and teams (read from the store
//! at most every [`RoutingCache::TTL`] with a version check, so evaluating them costs no store
//! read per message), what a matching rule asks for, and the teams' hours.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnidesk_core::{JobError, RoutingStore, StoreError, StoredRules};
use omnidesk_domain::{
    AgentId, Button, ChannelMessage, Contact, Conversation, ConversationStatus, LanguageTag,
    Priority, Tag, Team, Timestamp,
};
use omnidesk_rules::hours::Schedule;
use omnidesk_rules::{Format, Input, Known, RuleSet};

use crate::RouterDeps;

/// A team as routing uses it: its record and its parsed hours.
#[derive(Debug, Clone)]
pub struct TeamRoute {
    pub team: Team,
    pub schedule: Schedule,
}

/// The rules and teams in force.
#[derive(Debug)]
pub struct Routing {
    pub rules: Arc<RuleSet>,
    /// The stored rules' version the rules were parsed from (0: none stored).
    pub rules_version: u64,
    pub teams: BTreeMap<String, TeamRoute>,
}

impl Routing {
    fn empty() -> Self {
        Self {
            rules: Arc::new(RuleSet::empty()),
            rules_version: 0,
            teams: BTreeMap::new(),
        }
    }

    /// The team a conversation's queue belongs to: its own, else the deployment's default.
    pub fn team_of<'a>(&'a self, c: &Conversation, default: Option<&str>) -> Option<&'a TeamRoute> {
        c.team
            .as_deref()
            .or(default)
            .and_then(|t| self.teams.get(&t.to_lowercase()))
    }

    /// Whether `team` (`None`: the default team, if any) is open at `at`; a team nobody
    /// defined is always open.
    pub fn is_open(&self, team: Option<&str>, default: Option<&str>, at: Timestamp) -> bool {
        team.or(default)
            .and_then(|t| self.teams.get(&t.to_lowercase()))
            .is_none_or(|t| t.schedule.is_open(at))
    }
}

/// The routing in force, re-read at most every [`Self::TTL`] per process.
#[derive(Debug, Clone, Default)]
pub struct RoutingCache(Arc<Mutex<Option<RoutingRead>>>);

/// When the routing was read, and what was read.
type RoutingRead = (Instant, Arc<Routing>);

impl RoutingCache {
    /// How long a read is reused: a rule or team change takes effect within it.
    pub const TTL: Duration = Duration::from_secs(10);

    /// The routing, from the cache or the store. Rules that fail to parse (stored by an older
    /// build, or edited around the API) are logged and the previous ones stay in force.
    pub async fn get(&self, store: &dyn RoutingStore) -> Result<Arc<Routing>, StoreError> {
        let cached = self.0.lock().ok().and_then(|g| g.clone());
        if let Some((at, routing)) = &cached
            && at.elapsed() < Self::TTL
        {
            return Ok(routing.clone());
        }
        let previous = cached.map(|(_, r)| r);
        let version = store.rules_version().await?;
        let teams = load_teams(store.list_teams().await?);
        let (rules, rules_version) = match &previous {
            Some(p) if p.rules_version == version => (p.rules.clone(), version),
            _ if version == 0 => (Arc::new(RuleSet::empty()), 0),
            _ => match store.get_rules().await? {
                Some(stored) => match parse_stored(&stored, &teams) {
                    Ok(set) => (Arc::new(set), stored.version),
                    Err(e) => {
                        tracing::error!(version = stored.version, error = %e, "stored routing rules do not parse; the previous ones stay in force");
                        match &previous {
                            Some(p) => (p.rules.clone(), p.rules_version),
                            None => (Arc::new(RuleSet::empty()), 0),
                        }
                    }
                },
                None => (Arc::new(RuleSet::empty()), 0),
            },
        };
        let routing = Arc::new(Routing {
            rules,
            rules_version,
            teams,
        });
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((Instant::now(), routing.clone()));
        }
        Ok(routing)
    }

    /// Forgets what was read (the local runtime calls it after an edit through the API, so
    /// the change takes effect at once there).
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = None;
        }
    }

    /// The routing as last read, without a store read (empty before the first).
    pub fn current(&self) -> Arc<Routing> {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|(_, r)| r.clone()))
            .unwrap_or_else(|| Arc::new(Routing::empty()))
    }
}

/// Parses stored rules against the teams that exist.
pub fn parse_stored(
    stored: &StoredRules,
    teams: &BTreeMap<String, TeamRoute>,
) -> Result<RuleSet, omnidesk_rules::RulesError> {
    let format = Format::parse(&stored.format).unwrap_or(Format::Toml);
    let names: Vec<String> = teams.keys().cloned().collect();
    RuleSet::parse(&stored.source, format, &Known::teams(&names))
}

fn load_teams(teams: Vec<Team>) -> BTreeMap<String, TeamRoute> {
    teams
        .into_iter()
        .map(|team| {
            let schedule = Schedule::parse(&team.hours, &team.timezone, &team.holidays)
                .unwrap_or_else(|e| {
                    tracing::error!(team = %team.name, error = %e, "a team's hours do not parse; it counts as always open");
                    Schedule::always()
                });
            (team.name.as_str().to_owned(), TeamRoute { team, schedule })
        })
        .collect()
}

/// Where a message came in: the Telegram bot's id, the website's id, or the mailbox's address.
pub fn source_of(m: &ChannelMessage) -> Option<String> {
    if let Some((bot, _)) = m.key.telegram_chat() {
        return Some(bot.to_string());
    }
    if let Some((website, _)) = m.key.web_visitor() {
        return Some(website.to_string());
    }
    match &m.channel_ref {
        Some(omnidesk_domain::ChannelRef::Email(e)) => {
            e.mailbox.as_ref().map(|a| a.as_str().to_owned())
        }
        _ => None,
    }
}

/// What the matching rule asks of one message.
#[derive(Debug, Clone, Default)]
pub struct RuleOutcome {
    pub rule: String,
    pub reply: Option<(String, Vec<Button>)>,
    /// Hand to the AI (or, with `faq_only`, answer from the FAQ only).
    pub ai: bool,
    pub faq_only: bool,
    pub tags: Vec<Tag>,
    pub priority: Option<Priority>,
    pub team: Option<String>,
    pub skill: Option<String>,
    pub assign: Option<AgentId>,
    pub handoff: bool,
    pub resolve: bool,
}

impl RuleOutcome {
    /// Whether the rule decides who answers (otherwise the built-in bot decides, with the
    /// rule's tags, priority, team and skill applied).
    pub fn decides(&self) -> bool {
        self.reply.is_some()
            || self.ai
            || self.assign.is_some()
            || self.handoff
            || self.resolve
            || self.team.is_some()
    }
}

/// Evaluates the rules for a customer's message; `None` when none matches (or there are none).
#[allow(clippy::too_many_arguments)]
pub async fn evaluate(
    deps: &RouterDeps,
    routing: &Routing,
    m: &ChannelMessage,
    contact: &Contact,
    status: ConversationStatus,
    language: Option<&LanguageTag>,
    now: Timestamp,
) -> Result<Option<RuleOutcome>, JobError> {
    if routing.rules.is_empty() {
        return Ok(None);
    }
    let source = source_of(m);
    let default = deps.settings.default_team.as_deref();
    // In a block: the input (with its `dyn Fn`) is not `Send`, so it must not live across an
    // await.
    let rule = {
        let hours = |team: Option<&str>| routing.is_open(team, default, now);
        let input = Input {
            channel: m.channel(),
            source: source.as_deref(),
            text: &m.text,
            language,
            tags: &contact.tags,
            attributes: &contact.attributes,
            status,
            contact: contact.id,
            now,
            hours: &hours,
        };
        routing.rules.evaluate(&input)
    };
    let Some(rule) = rule else {
        return Ok(None);
    };
    let then = &rule.then;
    let assign = match &then.assign {
        Some(email) => match omnidesk_domain::EmailAddress::parse(email) {
            Ok(address) => deps.agents.agent_id_by_email(&address).await?,
            Err(_) => None,
        },
        None => None,
    };
    if then.assign.is_some() && assign.is_none() {
        tracing::warn!(rule = %rule.name, "a rule assigns to an agent who does not exist; routed as usual");
    }
    let reply = then.reply.as_ref().map(|text| {
        let buttons = then
            .buttons
            .iter()
            .map(|b| Button {
                text: b.text.pick(language).to_owned(),
                data: b.data.clone(),
            })
            .collect();
        (text.pick(language).to_owned(), buttons)
    });
    tracing::debug!(rule = %rule.name, "routing rule matched");
    Ok(Some(RuleOutcome {
        rule: rule.name.clone(),
        reply,
        ai: then.ai || then.faq,
        faq_only: then.faq,
        tags: then.tags.clone(),
        priority: then.priority,
        team: then.team.clone(),
        skill: then.skill.clone(),
        assign,
        handoff: then.handoff,
        resolve: then.resolve,
    }))
}

/// Fills `{next}` of an out-of-office text with the team's next opening.
pub fn out_of_office_text(template: &str, team: Option<&TeamRoute>, now: Timestamp) -> String {
    let next = team.map(|t| t.schedule.describe(now)).unwrap_or_default();
    if next.is_empty() {
        template
            .replace(" {next}", "")
            .replace("{next}", "")
            .trim()
            .to_owned()
    } else {
        template.replace("{next}", &next)
    }
}
