//! omnidesk: the embedded single-process runtime. Every function (webhook, router, sender,
//! agent API, agent WebSocket) runs in one process on the local adapters (SQLite store and
//! durable queues in one database file, in-process WebSocket hub), plus the admin commands
//! and the benchmark.

pub mod admin;
pub mod app;
pub mod bench;
pub mod config;
pub mod faq;
pub mod headers;
pub mod poller;
pub mod smtp_sink;
pub mod static_files;
pub mod worker;
pub mod ws;
