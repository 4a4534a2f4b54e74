use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A point in time with millisecond precision (UTC). Serialised as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Seconds since the Unix epoch (for TTL attributes).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// This instant plus `ms` milliseconds.
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0 + ms)
    }
    /// Renders RFC 3339 with millisecond precision.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    /// The UTC day of this instant (`2026-12-01`), as daily counters name it.
    pub fn utc_day(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string()
    }
    /// Parses RFC 3339.
    pub fn parse_rfc3339(s: &str) -> Result<Self, ParseError> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| Self(d.timestamp_millis()))
            .map_err(|e| ParseError::new("timestamp", e.to_string()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// The channels a customer can write from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Telegram,
    Email,
    Web,
}

impl Channel {
    /// Stable lowercase name used in keys and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telegram => "telegram",
            Channel::Email => "email",
            Channel::Web => "web",
        }
    }
    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "telegram" => Ok(Self::Telegram),
            "email" => Ok(Self::Email),
            "web" => Ok(Self::Web),
            other => Err(ParseError::new(
                "channel",
                format!("unknown channel `{other}`"),
            )),
        }
    }
    /// The name people read ("Website", "Telegram", "E-mail").
    pub fn label(self) -> &'static str {
        match self {
            Channel::Telegram => "Telegram",
            Channel::Email => "E-mail",
            Channel::Web => "Website",
        }
    }
}

/// A move of one conversation from one channel to another ("web → telegram").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPath {
    pub from: Channel,
    pub to: Channel,
}

impl fmt::Display for ChannelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.from.as_str(), self.to.as_str())
    }
}

/// A Telegram bot, identified by the numeric part of its token before `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BotId(i64);

impl BotId {
    /// Parses the decimal bot id (as it appears in the webhook path).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 && !s.starts_with('+') => Ok(Self(n)),
            _ => Err(ParseError::new("bot id", "must be a positive integer")),
        }
    }
    /// Extracts the bot id from a bot token (`<id>:<secret>`).
    pub fn from_token(token: &str) -> Result<Self, ParseError> {
        let (id, secret) = token
            .split_once(':')
            .ok_or_else(|| ParseError::new("bot token", "expected `<bot id>:<secret>`"))?;
        if secret.len() < 20
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ParseError::new(
                "bot token",
                "the part after `:` is not a Telegram token",
            ));
        }
        Self::parse(id).map_err(|_| {
            ParseError::new(
                "bot token",
                "the part before `:` must be the numeric bot id",
            )
        })
    }
    /// The numeric value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for BotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Telegram chat (private chat id = user id; groups are negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TelegramChatId(pub i64);

impl fmt::Display for TelegramChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Telegram user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TelegramUserId(pub u64);

impl fmt::Display for TelegramUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Telegram `update_id`: unique per bot, used to drop redelivered updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpdateId(pub u32);

impl fmt::Display for UpdateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An e-mail address, lower-cased, with one `@`, a non-empty local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises (trim, lower-case) an address.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let err = |r: &str| ParseError::new("email address", r.to_owned());
        if s.len() > 254 {
            return Err(err("longer than 254 characters"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| err("missing `@`"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("the part before `@` must have 1 to 64 characters"));
        }
        if local.contains('@') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains a space, a control character or a second `@`"));
        }
        if !domain.contains('.')
            || domain.starts_with(['.', '-'])
            || domain.ends_with(['.', '-'])
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            return Err(err("the domain is not valid"));
        }
        Ok(Self(s.to_lowercase()))
    }
    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BCP 47 language tag restricted to `language[-Script][-REGION]`, normalised
/// (`en`, `zh-Hans`, `pt-BR`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LanguageTag(String);

impl LanguageTag {
    /// Parses and normalises a tag; `_` is accepted as separator (Telegram sends `pt-br`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let err = |r: &str| ParseError::new("language tag", r.to_owned());
        let mut parts = s.trim().split(['-', '_']);
        let lang = parts.next().unwrap_or_default();
        if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(err("must start with a 2 or 3 letter language code"));
        }
        let mut out = lang.to_ascii_lowercase();
        for p in parts {
            if p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()) {
                out.push('-');
                out.push_str(&p[..1].to_ascii_uppercase());
                out.push_str(&p[1..].to_ascii_lowercase());
            } else if (p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()))
                || (p.len() == 3 && p.chars().all(|c| c.is_ascii_digit()))
            {
                out.push('-');
                out.push_str(&p.to_ascii_uppercase());
            } else {
                return Err(err(
                    "only language, script and region subtags are supported",
                ));
            }
        }
        Ok(Self(out))
    }
    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The primary language subtag (`zh` for `zh-Hans`).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl<'de> Deserialize<'de> for LanguageTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A contact tag ("vip", "returning"): 1–32 characters of letters, digits, `-`, `_`, `:`;
/// stored lower-case so "VIP" and "vip" are one tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    /// Parses and normalises a tag.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 32 {
            return Err(ParseError::new("tag", "must have 1 to 32 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':'))
        {
            return Err(ParseError::new(
                "tag",
                "only letters, digits, `-`, `_` and `:` are allowed",
            ));
        }
        Ok(Self(s.to_lowercase()))
    }
    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_id_comes_from_the_token_prefix() {
        let id = BotId::from_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap();
        assert_eq!(id.get(), 123_456_789);
        assert!(BotId::from_token("abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").is_err());
        assert!(BotId::from_token("123").is_err());
        assert!(BotId::from_token("123:short").is_err());
        assert!(BotId::parse("-5").is_err());
        assert!(BotId::parse("0").is_err());
    }

    #[test]
    fn email_addresses_are_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "a b@example.com",
            "ann@ex..com",
            "ann@-x.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn language_tags_are_normalised() {
        assert_eq!(LanguageTag::parse("pt_br").unwrap().as_str(), "pt-BR");
        assert_eq!(LanguageTag::parse("ZH-hans").unwrap().as_str(), "zh-Hans");
        assert_eq!(LanguageTag::parse("zh-Hans").unwrap().primary(), "zh");
        for bad in ["", "e", "english", "en-x-private", "1a"] {
            assert!(LanguageTag::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_lowercase_and_bounded() {
        assert_eq!(Tag::parse("VIP").unwrap().as_str(), "vip");
        assert!(Tag::parse("").is_err());
        assert!(Tag::parse("has space").is_err());
        assert!(Tag::parse(&"x".repeat(33)).is_err());
    }

    #[test]
    fn timestamps_round_trip_rfc3339() {
        let t = Timestamp::from_millis(1_763_780_000_123);
        let s = t.to_rfc3339();
        assert!(s.ends_with(".123Z"), "{s}");
        assert_eq!(Timestamp::parse_rfc3339(&s).unwrap(), t);
    }
}
