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
id_type!(
    /// One website that embeds the chat widget (configured by an admin).
    WebsiteId, "web", "website id");
id_type!(
    /// One browser visitor of a website's widget (the subject of a visitor token).
    VisitorId, "vis", "visitor id");

impl MessageId {
    /// The id of a message that comes from an external event, derived from the event alone, so
    /// a redelivered event gets the same id and a store can drop it with one conditional write.
    ///
    /// The layout is a UUIDv7: `at` (the event's own time, e.g. Telegram's `date`) in the time
    /// field, then `seq` (an order within that time, e.g. Telegram's per-chat `message_id`),
    /// then 42 bits of a hash of `source` (the event's source key). Ids therefore sort by
    /// `at`, then `seq`, like generated ids sort by creation time.
    ///
    /// `at` and `seq` must come from the event itself, never from the time it was received:
    /// every delivery of the event must derive the same id, because a store that sees an id
    /// derived from its source key ([`MessageId::derived_from`]) relies on the id alone to
    /// drop the redelivery.
    pub fn derived(at: crate::Timestamp, seq: u32, source: &str) -> Self {
        let hash = fnv1a(source);
        let millis = u64::try_from(at.millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        let seq = u64::from(seq);
        // rand_a (12 bits) and the top 20 bits of rand_b carry seq; 42 bits carry the hash.
        let rand_a = (seq >> 20) & 0x0FFF;
        let rand_b = ((seq & 0xF_FFFF) << 42) | (hash & 0x3FF_FFFF_FFFF);
        let high = (millis << 16) | (0x7 << 12) | rand_a;
        let low = (0b10 << 62) | rand_b;
        Self(Uuid::from_u64_pair(high, low))
    }

    /// The lowest id of the millisecond `at`: every id created before `at` sorts below it,
    /// every id created at or after it above (a key-range bound for "messages before").
    pub fn first_at(at: crate::Timestamp) -> Self {
        let millis = u64::try_from(at.millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        Self(Uuid::from_u64_pair(millis << 16, 0))
    }

    /// Whether this id carries the hash of `source` the way [`MessageId::derived`] puts it
    /// there (a random id does by chance once in 2^42).
    pub fn derived_from(&self, source: &str) -> bool {
        let (_, low) = self.0.as_u64_pair();
        low & 0x3FF_FFFF_FFFF == fnv1a(source) & 0x3FF_FFFF_FFFF
    }
}

/// FNV-1a: stable across builds and platforms (derived ids are stored).
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_at_bounds_the_ids_of_a_millisecond() {
        let at = crate::Timestamp::from_millis(1_700_000_000_123);
        let bound = MessageId::first_at(at);
        for id in [
            MessageId::derived(at, 0, "a"),
            MessageId::derived(at.plus_millis(1), 0, "b"),
        ] {
            assert!(bound < id && bound.to_string() < id.to_string());
        }
        let before = MessageId::derived(at.plus_millis(-1), u32::MAX, "c");
        assert!(before < bound && before.to_string() < bound.to_string());
    }

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
    fn derived_message_ids_repeat_for_the_same_event_and_sort_by_time_then_sequence() {
        let at = crate::Timestamp::from_millis(1_700_000_000_000);
        let a = MessageId::derived(at, 41, "tg:1:100");
        assert_eq!(a, MessageId::derived(at, 41, "tg:1:100"));
        assert_ne!(a, MessageId::derived(at, 41, "tg:1:101"));
        assert!(a < MessageId::derived(at, 42, "tg:1:99"));
        assert!(
            MessageId::derived(at, u32::MAX, "x") < MessageId::derived(at.plus_millis(1), 0, "x")
        );
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a.derived_from("tg:1:100"));
        assert!(!a.derived_from("tg:1:101"));
        assert!(!MessageId::from_uuid(Uuid::now_v7()).derived_from("tg:1:100"));
        assert_eq!(MessageId::parse(&a.to_string()).unwrap(), a);
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
