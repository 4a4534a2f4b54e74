use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AgentId, EmailAddress, LanguageTag, ParseError, Timestamp};

/// Whether an agent takes new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Takes new conversations up to capacity.
    Online,
    /// Signed in, keeps their conversations, takes no new ones.
    Busy,
    /// Takes nothing.
    Offline,
}

impl AgentStatus {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Online => "online",
            AgentStatus::Busy => "busy",
            AgentStatus::Offline => "offline",
        }
    }
    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "online" => Ok(Self::Online),
            "busy" => Ok(Self::Busy),
            "offline" => Ok(Self::Offline),
            _ => Err(ParseError::new(
                "agent status",
                "must be online, busy or offline",
            )),
        }
    }
}

/// What an agent may do. Ordered: each role may do everything of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Their teams' conversations and the unassigned queue of their teams.
    Agent,
    /// Every conversation, the reports; reassigns and merges.
    Supervisor,
    /// Everything: settings, bots, websites, mailboxes, rules, teams, agents.
    Admin,
}

impl Role {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "agent" => Ok(Self::Agent),
            "supervisor" => Ok(Self::Supervisor),
            "admin" => Ok(Self::Admin),
            _ => Err(ParseError::new(
                "role",
                "must be admin, supervisor or agent",
            )),
        }
    }
    /// The role of an agent stored before roles existed: every agent could do everything,
    /// and an upgrade takes nothing away (an admin narrows roles afterwards).
    pub fn before_roles() -> Self {
        Self::Admin
    }
}

/// A PHC-format password hash (argon2id). Never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the password hasher.
    pub fn from_phc(s: String) -> Self {
        Self(s)
    }
    /// The PHC string.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// A human agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub email: EmailAddress,
    pub name: String,
    #[serde(skip_serializing)]
    pub password_hash: PasswordHash,
    #[serde(default)]
    pub teams: BTreeSet<String>,
    #[serde(default)]
    pub skills: BTreeSet<String>,
    /// Every language the agent reads (their own language among them).
    #[serde(default)]
    pub languages: BTreeSet<LanguageTag>,
    /// The agent's own language: customers' messages are translated into it, and their
    /// replies are taken as written in it. Unset: the first of `languages`, else English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageTag>,
    /// What routing uses now: online while a dashboard is open (unless the agent chose
    /// otherwise), offline a while after the last one closed.
    pub status: AgentStatus,
    /// What the agent chose themselves (busy or offline stick across dashboard sessions);
    /// `None`: follow the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_status: Option<AgentStatus>,
    /// How many open (assigned, unresolved) conversations the agent takes at most.
    pub capacity: u32,
    /// What the agent may do.
    #[serde(default = "Role::before_roles")]
    pub role: Role,
    /// A disabled agent cannot sign in and takes no conversations.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Whether signing in takes a TOTP code too (the secret is confirmed).
    #[serde(default)]
    pub totp: bool,
    /// The TOTP shared secret (base32), set up or confirmed; never serialised (stores keep it
    /// apart from the record, sealed, as they keep the password hash).
    #[serde(skip_serializing, default)]
    pub totp_secret: Option<TotpSecret>,
    pub created_at: Timestamp,
}

/// A TOTP shared secret (RFC 4648 base32). Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TotpSecret(String);

impl TotpSecret {
    /// Wraps a base32 secret.
    pub fn new(base32: impl Into<String>) -> Self {
        Self(base32.into())
    }
    /// The secret, to compute or show a code.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl Agent {
    /// Default number of concurrent conversations per agent.
    pub const DEFAULT_CAPACITY: u32 = 10;

    /// The status while a dashboard of the agent is open: what they chose, else online.
    pub fn connected_status(&self) -> AgentStatus {
        match self.chosen_status {
            Some(AgentStatus::Busy) => AgentStatus::Busy,
            Some(AgentStatus::Offline) => AgentStatus::Offline,
            _ => AgentStatus::Online,
        }
    }

    /// Whether the agent is in `team` (by its normalised name).
    pub fn in_team(&self, team: &str) -> bool {
        self.teams.iter().any(|t| t.eq_ignore_ascii_case(team))
    }

    /// Whether the agent has `skill` (case-insensitive).
    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s.eq_ignore_ascii_case(skill))
    }

    /// Whether the agent may be given one more conversation, holding `open` now.
    pub fn can_take(&self, open: u32) -> bool {
        self.status == AgentStatus::Online && open < self.capacity
    }

    /// The agent's own language (see [`Agent::language`]).
    pub fn primary_language(&self) -> LanguageTag {
        self.language
            .clone()
            .or_else(|| self.languages.iter().next().cloned())
            .unwrap_or_else(|| LanguageTag::parse("en").expect("valid tag"))
    }

    /// Whether the agent reads `language` (compared by primary subtag: `zh-Hans` reads `zh`).
    pub fn reads(&self, language: &LanguageTag) -> bool {
        self.primary_language().primary() == language.primary()
            || self
                .languages
                .iter()
                .any(|l| l.primary() == language.primary())
    }
}

/// The languages a customer's message in `language` is translated into so that every agent can
/// read it: the own language of each agent who does not read `language`, once per primary
/// subtag, in the agents' order. An unknown `language` (too little text to tell) asks for every
/// agent's own language: the provider then detects the source, and a translation into the
/// language it already is in is dropped.
pub fn translation_targets<'a>(
    language: Option<&LanguageTag>,
    agents: impl IntoIterator<Item = &'a Agent>,
) -> Vec<LanguageTag> {
    let mut out: Vec<LanguageTag> = Vec::new();
    for agent in agents {
        if language.is_some_and(|l| agent.reads(l)) {
            continue;
        }
        let own = agent.primary_language();
        if language.is_some_and(|l| l.primary() == own.primary())
            || out.iter().any(|t| t.primary() == own.primary())
        {
            continue;
        }
        out.push(own);
    }
    out
}

#[cfg(test)]
mod translation_tests {
    use super::*;

    fn agent(own: Option<&str>, reads: &[&str]) -> Agent {
        Agent {
            id: AgentId::from_uuid(uuid::Uuid::now_v7()),
            email: EmailAddress::parse("a@example.com").unwrap(),
            name: "A".to_owned(),
            password_hash: PasswordHash::from_phc("x".to_owned()),
            teams: Default::default(),
            skills: Default::default(),
            languages: reads
                .iter()
                .map(|l| LanguageTag::parse(l).unwrap())
                .collect(),
            language: own.map(|l| LanguageTag::parse(l).unwrap()),
            status: AgentStatus::Online,
            chosen_status: None,
            capacity: 10,
            role: crate::Role::Agent,
            disabled: false,
            totp: false,
            totp_secret: None,
            created_at: Timestamp::from_millis(0),
        }
    }
    fn tags(v: &[LanguageTag]) -> Vec<&str> {
        v.iter().map(LanguageTag::as_str).collect()
    }
    fn tag(s: &str) -> LanguageTag {
        LanguageTag::parse(s).unwrap()
    }

    #[test]
    fn a_message_is_translated_for_the_agents_who_do_not_read_it_only() {
        let team = [
            agent(Some("en"), &["en"]),
            agent(Some("zh-Hans"), &["zh-Hans", "en"]),
            agent(Some("en-GB"), &["en-GB", "ru"]),
        ];
        assert_eq!(
            tags(&translation_targets(Some(&tag("ru")), &team)),
            ["en", "zh-Hans"]
        );
        assert!(translation_targets(Some(&tag("en-US")), &team).is_empty());
        assert_eq!(tags(&translation_targets(Some(&tag("zh")), &team)), ["en"]);
        assert_eq!(tags(&translation_targets(None, &team)), ["en", "zh-Hans"]);
    }

    #[test]
    fn an_agent_without_languages_reads_english() {
        let a = agent(None, &[]);
        assert_eq!(a.primary_language().as_str(), "en");
        assert!(a.reads(&tag("en-US")));
        let b = agent(None, &["ru", "de"]);
        assert_eq!(b.primary_language().as_str(), "de");
        assert!(!b.reads(&tag("en")));
    }
}
