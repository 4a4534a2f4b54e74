//! End-to-end scenarios against the running server over real HTTP and WebSocket, with a fake
//! Telegram Bot API on loopback.

mod ai;
mod crash;
mod email;
mod erasure;
mod files;
mod harness;
mod language;
mod secrets;
mod security;
mod telegram_path;
mod translation;
