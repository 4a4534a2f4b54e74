use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ParseError, Timestamp};

/// A team's name, its id: 1–32 characters of lowercase letters, digits, `-` and `_`
/// (`support`, `vip`, `billing-ru`). Parsing lowercases it, so `VIP` and `vip` are one team.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TeamName(String);

impl TeamName {
    /// Parses and normalises a team name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_lowercase();
        if s.is_empty() || s.chars().count() > 32 {
            return Err(ParseError::new("team name", "must have 1 to 32 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(ParseError::new(
                "team name",
                "only letters, digits, `-` and `_` are allowed",
            ));
        }
        Ok(Self(s))
    }
    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TeamName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team of agents with its own queue: when it works, how long an offered conversation may
/// wait for an answer before it moves on, and what the customer is told meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub name: TeamName,
    /// IANA time zone of `hours` and `holidays` (`Europe/Berlin`).
    #[serde(default = "Team::default_timezone")]
    pub timezone: String,
    /// Opening hours (`mon-fri 09:00-18:00; sat 10:00-14:00`); empty: always open.
    #[serde(default)]
    pub hours: String,
    /// Closed days (`YYYY-MM-DD` in `timezone`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
    /// Seconds an offered or assigned conversation may go unanswered before it moves to the
    /// next eligible agent.
    #[serde(default = "Team::default_answer_within")]
    pub answer_within_secs: u32,
    /// Moves to the next agent, at most; then the customer gets `busy_prompt`.
    #[serde(default = "Team::default_max_hops")]
    pub max_hops: u32,
    /// Sent to the customer after `max_hops` unanswered moves; `None`: the deployment's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_prompt: Option<String>,
    /// Sent once per conversation outside the hours (`{next}` is the next opening time);
    /// `None`: the deployment's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_office: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Team {
    /// Default of [`Team::answer_within_secs`].
    pub const ANSWER_WITHIN_SECS: u32 = 60;
    /// Default of [`Team::max_hops`].
    pub const MAX_HOPS: u32 = 3;

    /// A team open around the clock in UTC, with the default timeout and hops.
    pub fn new(name: TeamName, now: Timestamp) -> Self {
        Self {
            name,
            timezone: Self::default_timezone(),
            hours: String::new(),
            holidays: Vec::new(),
            answer_within_secs: Self::ANSWER_WITHIN_SECS,
            max_hops: Self::MAX_HOPS,
            busy_prompt: None,
            out_of_office: None,
            created_at: now,
            updated_at: now,
        }
    }
    fn default_timezone() -> String {
        "UTC".to_owned()
    }
    fn default_answer_within() -> u32 {
        Self::ANSWER_WITHIN_SECS
    }
    fn default_max_hops() -> u32 {
        Self::MAX_HOPS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_name_is_lowercased_and_checked() {
        assert_eq!(TeamName::parse(" VIP ").unwrap().as_str(), "vip");
        assert_eq!(
            TeamName::parse("billing-ru").unwrap().as_str(),
            "billing-ru"
        );
        assert!(TeamName::parse("").is_err());
        assert!(TeamName::parse("a b").is_err());
        assert!(TeamName::parse(&"x".repeat(33)).is_err());
    }

    #[test]
    fn a_stored_team_without_the_newer_fields_reads_with_defaults() {
        let t: Team =
            serde_json::from_str(r#"{"name":"support","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(t.timezone, "UTC");
        assert_eq!(t.answer_within_secs, 60);
        assert_eq!(t.max_hops, 3);
    }
}
