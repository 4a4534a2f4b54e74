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
    pub status: AgentStatus,
    /// How many open (assigned, unresolved) conversations the agent takes at most.
    pub capacity: u32,
    pub created_at: Timestamp,
}

impl Agent {
    /// Default number of concurrent conversations per agent.
    pub const DEFAULT_CAPACITY: u32 = 10;

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
