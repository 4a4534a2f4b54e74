//! In-memory adapters for every port and the conformance suites every adapter must pass.
//!
//! Adapters: [`MemoryStore`] (every store trait), [`MemoryQueue`], [`MemoryPush`],
//! [`MemoryTelegram`], plus [`ManualClock`] and [`SeqIds`] to drive time and ids in tests.
//!
//! Suites (plain `async fn`s that panic with a clear message on a violation, like
//! `object_store::integration`): [`store_suite`], [`queue_suite`], [`push_suite`],
//! [`blob_suite`] (with [`MemoryBlobStore`]). They use
//! fresh random ids, keys and e-mails on every run, so they can run repeatedly against one
//! shared table or queue without a reset.

pub mod blob_suite;
mod clock;
mod memory_blob;
mod memory_mailer;
mod memory_push;
mod memory_queue;
mod memory_store;
mod memory_telegram;
pub mod push_suite;
pub mod queue_suite;
pub mod store_suite;

pub use clock::{ManualClock, SeqIds};
pub use memory_blob::MemoryBlobStore;
pub use memory_mailer::MemoryMailer;
pub use memory_push::MemoryPush;
pub use memory_queue::MemoryQueue;
pub use memory_store::MemoryStore;
pub use memory_telegram::{MemoryTelegram, SentTelegram, WebhookState};
