//! What routing reads besides conversations and agents: teams, the deployment's rules, and
//! the canned responses agents insert.

use async_trait::async_trait;
use omnidesk_domain::{AgentId, Team, TeamName, Timestamp};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// The deployment's routing rules as stored: the text operators wrote (so an edit through the
/// API shows what the file said, comments included), its format and a version that steps with
/// every put. Every runtime parses the same text, so every Lambda routes by the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRules {
    pub source: String,
    /// `toml` or `yaml`.
    pub format: String,
    /// 1 for the first put; 0 means "no rules stored" and is never stored.
    pub version: u64,
    pub updated_at: Timestamp,
    /// Who put them through the API; `None`: loaded from the rules file at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<AgentId>,
}

/// A text an agent inserts by its `/shortcut`, with placeholders (`{customer_name}`,
/// `{agent_name}`) filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    /// 1–32 characters of lowercase letters, digits, `-` and `_`, without the slash; the id.
    pub shortcut: String,
    pub text: String,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<AgentId>,
}

/// Teams, rules and canned responses.
///
/// Guarantees:
/// - `put_team` upserts by name; `list_teams` is ordered by name; `delete_team` returns whether
///   it existed.
/// - `rules_version` is the stored rules' version (0 when none): one small read, what a router
///   checks before it re-reads and re-parses the rules.
/// - `put_rules` stores the rules with version `expected_version + 1` and returns them as
///   stored, only if the stored version is `expected_version` now (0: none stored); otherwise
///   `Conflict` and nothing changes (two editors never overwrite each other unseen).
/// - `put_canned` upserts by shortcut; `list_canned` is ordered by shortcut; `delete_canned`
///   returns whether it existed.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// Creates or replaces a team.
    async fn put_team(&self, team: &Team) -> StoreResult<()>;
    /// One team.
    async fn get_team(&self, name: &TeamName) -> StoreResult<Option<Team>>;
    /// Every team, by name.
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
    /// Deletes a team; returns whether it existed.
    async fn delete_team(&self, name: &TeamName) -> StoreResult<bool>;
    /// The stored rules, if any.
    async fn get_rules(&self) -> StoreResult<Option<StoredRules>>;
    /// The stored rules' version (0: none).
    async fn rules_version(&self) -> StoreResult<u64>;
    /// Stores rules over version `expected_version` (see the trait's guarantees).
    async fn put_rules(
        &self,
        rules: &StoredRules,
        expected_version: u64,
    ) -> StoreResult<StoredRules>;
    /// Creates or replaces a canned response.
    async fn put_canned(&self, canned: &CannedResponse) -> StoreResult<()>;
    /// Every canned response, by shortcut.
    async fn list_canned(&self) -> StoreResult<Vec<CannedResponse>>;
    /// Deletes a canned response; returns whether it existed.
    async fn delete_canned(&self, shortcut: &str) -> StoreResult<bool>;
}
