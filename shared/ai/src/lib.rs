//! The AI's pure parts (no I/O): the offline knowledge-base answerer ([`kb`]), recognising a
//! request for a person before any model call ([`person`]), and the post-check of a model's
//! reply ([`guard`]).
//!
//! Depends on `omnidesk-core`'s port types only; no network, storage or model client here.

pub mod guard;
pub mod kb;
pub mod person;
mod text;

pub use guard::{Refusal, check_reply};
pub use kb::{Hit, KbOutcome, KbSettings, KnowledgeBase, NoMatchReason};
pub use person::asks_for_person;
