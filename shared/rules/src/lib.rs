//! Routing rules (pure: no I/O, no async): one rule file per deployment, in TOML or YAML, is
//! validated as a whole into a [`RuleSet`] — an error names the line (and column when known)
//! and refuses the file — and the router asks [`RuleSet::evaluate`] for every inbound customer
//! message which rule applies: rules are tried in order and the first whose conditions all hold
//! wins. [`hours`] reads teams' business hours; [`bucket`] gives each contact a stable
//! percentage bucket for rollouts.
//!
//! Depends on `omnidesk-domain` only among the internal crates; it must not depend on the store,
//! the queues, the AWS SDK or tokio.
//!
//! # The file
//!
//! ```toml
//! [[rules]]
//! name = "Refunds"                      # optional; "rule N" (1-based) when absent
//! [rules.when]                          # every condition present must hold; none = always
//! channel = ["telegram", "web"]         # one value or a list wherever a list is accepted
//! keywords = ["refund", "money back"]   # any of them, whole words, case-insensitive
//! [rules.then]                          # at least one action
//! team = "billing"
//! skill = "billing"
//! ```
//!
//! Conditions: `channel`, `source` (a bot id, a website id or a mailbox, case-insensitive),
//! `command` (`/refund`, also `/refund@SomeBot args`), `keywords`, `regex`, `language` (by
//! primary subtag), `tags` (all of them), `any_tags` (one of them), `attributes` (string
//! equality), `status`, `hours` (`open`/`closed`, of `hours_of` or else of `then.team` or else
//! the caller's default), `rollout` (percent of contacts, by [`bucket`]). Actions: `reply`
//! (text or per-language table), `buttons`, `faq`, `ai`, `tags`, `priority`, `team`, `skill`,
//! `assign`, `handoff`, `resolve`. The YAML form is `rules:` as a list of `{name, when, then}`.
//!
//! Keywords match whole words: the text is lower-cased and cut into words (runs of Unicode
//! letters and digits) once per message, and a keyword of several words matches those words
//! consecutively. So `refund` matches "Refund please" and "REFUND!" but not "refunded", and
//! `money back` matches "money, back" but not "money is back". Scripts written without spaces
//! (Chinese, Japanese kana, Thai, Lao, Khmer, Burmese) and emoji count one character as one
//! word, so `退款` matches inside "我要退款". Inflected forms are other words: list `оператор`
//! and `оператора` both if both should match.
//!
//! Regexes run against the text as it is (use `(?i)` for case), are compiled once at parse time
//! with a size limit ([`REGEX_SIZE_LIMIT`]), and run only on messages that hold one of their
//! literal prefixes. A Unicode `` on text with non-ASCII letters makes the regex crate use a
//! slower engine; `(?-u:)` (ASCII word boundary) avoids that where ASCII words are meant.
//!
//! # Cost
//!
//! `examples/rules_bench.rs` measures evaluation over 200 rules; the message is lower-cased and
//! cut into words once, rules are selected by the keyword words the message has, and each
//! rule's conditions are a compact list of checks, cheapest first.

pub mod hours;
mod node;
mod parse;
mod rollout;
mod rules;
mod screen;
mod text;

use std::fmt;
use std::path::Path;

pub use omnidesk_domain::Priority;
pub use rollout::{bucket, in_rollout, parse_percent};
pub use rules::{Actions, ButtonSpec, Conditions, HoursCondition, Input, LocalText, Rule, RuleSet};

/// The largest rule file accepted, in bytes (1 MiB).
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The most rules one file may hold.
pub const MAX_RULES: usize = 1000;
/// The compiled-size limit of one `regex` condition, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The syntax of a rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Toml,
    Yaml,
}

/// A name that is not a rule-file format (`toml`, `yaml` or `yml`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule file format `{0}`: expected toml, yaml or yml")]
pub struct UnknownFormat(pub String);

impl Format {
    /// The format named by a file's extension (`.toml`, `.yaml`, `.yml`, any case).
    pub fn from_path(path: &Path) -> Result<Self, UnknownFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        Self::parse(ext)
    }

    /// Parses `toml`, `yaml` or `yml` (any case).
    pub fn parse(name: &str) -> Result<Self, UnknownFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "toml" => Ok(Self::Toml),
            "yaml" | "yml" => Ok(Self::Yaml),
            _ => Err(UnknownFormat(name.to_owned())),
        }
    }

    /// The lowercase name (`toml`, `yaml`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toml => "toml",
            Self::Yaml => "yaml",
        }
    }
}

/// Why a rule file was refused, with the place in it: the offending key or value where it can
/// be told, else the rule. Safe to show to the admin who wrote the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {message}", ColumnSuffix(*.column))]
pub struct RulesError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters, when known.
    pub column: Option<usize>,
    pub message: String,
}

impl RulesError {
    pub(crate) fn new(line: usize, column: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Renders `, column N` when the column is known.
struct ColumnSuffix(Option<usize>);

impl fmt::Display for ColumnSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(column) => write!(f, ", column {column}"),
            None => Ok(()),
        }
    }
}

/// What the caller knows exists, to refuse a rule that names a team or an agent that does
/// not. `None` leaves that kind of name unchecked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// Team names (`then.team`, `when.hours_of`), compared exactly.
    pub teams: Option<&'a [String]>,
    /// Agents' login e-mails (`then.assign`), compared case-insensitively.
    pub agents: Option<&'a [String]>,
}

impl<'a> Known<'a> {
    /// Checks nothing.
    pub const NOTHING: Known<'static> = Known {
        teams: None,
        agents: None,
    };

    /// Checks the team names against the deployment's `teams` (what every runtime that stores
    /// or loads rules knows; `then.assign` is checked by the store of agents, not here).
    pub fn teams(teams: &'a [String]) -> Self {
        Known {
            teams: Some(teams),
            agents: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_names_and_extensions() {
        assert_eq!(Format::parse("TOML"), Ok(Format::Toml));
        assert_eq!(Format::parse("yml"), Ok(Format::Yaml));
        assert_eq!(
            Format::from_path(Path::new("/etc/rules.YAML")),
            Ok(Format::Yaml)
        );
        assert_eq!(Format::from_path(Path::new("rules.toml")), Ok(Format::Toml));
        assert!(Format::from_path(Path::new("rules.json")).is_err());
        assert!(Format::from_path(Path::new("rules")).is_err());
        assert_eq!(Format::Yaml.as_str(), "yaml");
    }

    mod example_files {
        use std::collections::{BTreeMap, BTreeSet};

        use omnidesk_domain::{
            Channel, ContactId, ConversationStatus, LanguageTag, Tag, Timestamp,
        };
        use uuid::Uuid;

        use crate::hours::Schedule;
        use crate::{Format, Input, Known, RuleSet, bucket};

        const TOML: &str = include_str!("../examples/rules.toml");
        const YAML: &str = include_str!("../examples/rules.yaml");

        fn parse(source: &str, format: Format) -> RuleSet {
            let teams: Vec<String> = ["support", "vip", "billing", "ru"]
                .map(str::to_owned)
                .to_vec();
            let agents: Vec<String> = Vec::new();
            let known = Known {
                teams: Some(&teams),
                agents: Some(&agents),
            };
            RuleSet::parse(source, format, &known).unwrap_or_else(|e| panic!("{format:?}: {e}"))
        }

        #[test]
        fn both_example_files_parse_into_the_same_rules() {
            let (toml, yaml) = (parse(TOML, Format::Toml), parse(YAML, Format::Yaml));
            assert_eq!(toml.len(), 9);
            assert_eq!(toml.len(), yaml.len());
            for (t, y) in toml.iter().zip(&yaml) {
                assert_eq!(t.name, y.name);
                assert_eq!(t.when, y.when, "{}", t.name);
                assert_eq!(t.then, y.then, "{}", t.name);
            }
            assert_eq!(
                toml.teams(),
                BTreeSet::from(["billing", "ru", "support", "vip"])
            );
        }

        #[test]
        fn both_example_files_route_messages_the_same_way() {
            let (toml, yaml) = (parse(TOML, Format::Toml), parse(YAML, Format::Yaml));
            // Support works Monday to Friday, 09:00–18:00 in Berlin.
            let support = Schedule::parse("mon-fri 09:00-18:00", "Europe/Berlin", &[]).unwrap();
            let monday_noon = Timestamp::parse_rfc3339("2026-03-02T12:00:00+01:00").unwrap();
            let sunday = Timestamp::parse_rfc3339("2026-03-08T12:00:00+01:00").unwrap();
            let in_pilot = (1..)
                .map(|n| ContactId::from_uuid(Uuid::from_u128(n)))
                .find(|c| bucket(*c) < 10)
                .unwrap();
            let out_of_pilot = (1..)
                .map(|n| ContactId::from_uuid(Uuid::from_u128(n)))
                .find(|c| bucket(*c) >= 10)
                .unwrap();
            let vip: BTreeSet<Tag> = BTreeSet::from([Tag::parse("gold").unwrap()]);
            let none: BTreeSet<Tag> = BTreeSet::new();
            let attributes = BTreeMap::new();
            let ru = LanguageTag::parse("ru-RU").unwrap();
            let en = LanguageTag::parse("en").unwrap();
            #[allow(clippy::type_complexity)]
            let cases: Vec<(
                &str,
                Channel,
                Option<&str>,
                &LanguageTag,
                &BTreeSet<Tag>,
                ContactId,
                Timestamp,
                Option<&str>,
            )> = vec![
                (
                    "/start",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    Some("Greeting"),
                ),
                (
                    "/start@AcmeShopBot ref42",
                    Channel::Telegram,
                    None,
                    &ru,
                    &vip,
                    in_pilot,
                    sunday,
                    Some("Greeting"),
                ),
                (
                    "Can I talk to a live agent?",
                    Channel::Web,
                    None,
                    &en,
                    &vip,
                    out_of_pilot,
                    monday_noon,
                    Some("Asks for a person"),
                ),
                (
                    "позовите оператора",
                    Channel::Telegram,
                    None,
                    &ru,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    Some("Russian speakers"),
                ),
                (
                    "Позовите оператор",
                    Channel::Telegram,
                    None,
                    &ru,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    Some("Asks for a person"),
                ),
                (
                    "I want a refund",
                    Channel::Telegram,
                    None,
                    &en,
                    &vip,
                    out_of_pilot,
                    monday_noon,
                    Some("VIP customers"),
                ),
                (
                    "Invoice question",
                    Channel::Email,
                    Some("Billing@Acme.example"),
                    &en,
                    &none,
                    out_of_pilot,
                    sunday,
                    Some("Billing mailbox"),
                ),
                (
                    "I want a refund",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    sunday,
                    Some("Refunds"),
                ),
                (
                    "Хочу вернуть деньги",
                    Channel::Web,
                    None,
                    &ru,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    Some("Refunds"),
                ),
                (
                    "it was refunded twice",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    None,
                ),
                (
                    "Where is ORDER #123456?",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    sunday,
                    Some("Order numbers"),
                ),
                (
                    "hello?",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    sunday,
                    Some("After hours"),
                ),
                (
                    "hello?",
                    Channel::Email,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    sunday,
                    None,
                ),
                (
                    "привет",
                    Channel::Telegram,
                    None,
                    &ru,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    Some("Russian speakers"),
                ),
                (
                    "hello?",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    in_pilot,
                    monday_noon,
                    Some("AI pilot"),
                ),
                (
                    "hello?",
                    Channel::Telegram,
                    None,
                    &en,
                    &none,
                    out_of_pilot,
                    monday_noon,
                    None,
                ),
            ];
            for (text, channel, source, language, tags, contact, now, expect) in cases {
                let hours = |team: Option<&str>| team == Some("support") && support.is_open(now);
                let input = Input {
                    channel,
                    source,
                    text,
                    language: Some(language),
                    tags,
                    attributes: &attributes,
                    status: ConversationStatus::Bot,
                    contact,
                    now,
                    hours: &hours,
                };
                let got_toml = toml.evaluate(&input).map(|r| r.name.as_str());
                let got_yaml = yaml.evaluate(&input).map(|r| r.name.as_str());
                assert_eq!(got_toml, expect, "TOML: {text:?}");
                assert_eq!(got_yaml, expect, "YAML: {text:?}");
            }
        }
    }

    #[test]
    fn an_error_shows_its_line_and_column_when_known() {
        let e = RulesError::new(12, Some(5), "unknown team \"vip\"");
        assert_eq!(e.to_string(), "line 12, column 5: unknown team \"vip\"");
        let e = RulesError::new(3, None, "a rule needs an action");
        assert_eq!(e.to_string(), "line 3: a rule needs an action");
    }
}
