use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        ///
        /// Rendered as a prefix plus a UUIDv7 (time-ordered, so ids sort by creation time).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The textual prefix that marks this kind of id.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps an id produced by an id generator.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the textual form (`<prefix>_<uuid simple>`).
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(|| ParseError::new($what, format!("must start with `{}_`", $prefix)))?;
                if rest.len() != 32 {
                    return Err(ParseError::new($what, "wrong length"));
                }
                Uuid::try_parse(rest)
                    .map(Self)
                    .map_err(|_| ParseError::new($what, "not a valid id"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// One person across every channel.
    ContactId, "ct", "contact id");
id_type!(
    /// One conversation (a thread of messages with a contact).
    ConversationId, "cv", "conversation id");
id_type!(
    /// One message in a conversation.
    MessageId, "msg", "message id");
id_type!(
    /// One human agent.
    AgentId, "ag", "agent id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = ConversationId::from_uuid(Uuid::now_v7());
        let text = id.to_string();
        assert!(text.starts_with("cv_"));
        assert_eq!(ConversationId::parse(&text).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
    }

    #[test]
    fn ids_of_another_kind_or_garbage_are_rejected() {
        let id = ContactId::from_uuid(Uuid::now_v7()).to_string();
        assert!(ConversationId::parse(&id).is_err());
        assert!(ConversationId::parse("cv_xyz").is_err());
        assert!(ConversationId::parse("").is_err());
        assert!(ConversationId::parse("cv_0000000000000000000000000000000g").is_err());
    }
}
