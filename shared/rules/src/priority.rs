//! A stand-in for `omnidesk_domain::Priority`, which is being added to the domain crate; when it
//! lands, delete this file and `pub use omnidesk_domain::Priority` in `lib.rs` instead (the
//! parser only calls `Priority::parse(..).map_err(|e| e.to_string())`, which fits both).

use std::fmt;

use serde::{Deserialize, Serialize};

/// How urgently a conversation should be answered; `Low < Normal < High < Urgent`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// A name that is not a priority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority `{0}`: expected low, normal, high or urgent")]
pub struct UnknownPriority(pub String);

impl Priority {
    /// All priorities, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, UnknownPriority> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPriority(s.to_owned()))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_from_low_to_urgent_and_round_trip_their_names() {
        assert!(Priority::Low < Priority::Normal);
        assert!(Priority::High < Priority::Urgent);
        assert_eq!(Priority::default(), Priority::Normal);
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Ok(p));
        }
        assert!(Priority::parse("critical").is_err());
    }
}
