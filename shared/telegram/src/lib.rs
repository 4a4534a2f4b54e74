//! omnidesk-telegram: the Telegram Bot API adapter.
//!
//! - [`TeloxideTelegram`] implements the [`omnidesk_core::TelegramApi`] port over HTTP, with
//!   Bot API errors classified precisely (retry after, unreachable contact, rejected request,
//!   bad token, transient) so the sender knows whether to wait, retry or give up.
//! - [`parse_update`] maps a raw webhook body (or one raw `getUpdates` item) to the domain
//!   [`omnidesk_domain::TelegramInbound`]; only bodies that are not Telegram updates at all are
//!   errors, so an update kind nobody handles yet never becomes a poison message.
//! - With the `fake` feature, [`fake::FakeTelegram`] is a local HTTP server speaking the real
//!   Bot API wire protocol, for tests and `omnidesk bench`.
//!
//! Depends on `omnidesk-domain` and `omnidesk-core` only; teloxide and reqwest types never
//! leave this crate. Bot tokens are never logged (they are part of every request URL, so
//! transport errors are reported without their URL).

mod client;
mod parse;

#[cfg(feature = "fake")]
pub mod fake;

pub use client::{ClientInitError, TELEGRAM_API_URL, TeloxideTelegram};
pub use parse::{UpdateParseError, parse_update};
