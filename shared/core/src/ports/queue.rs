use std::time::Duration;

use async_trait::async_trait;
use omnidesk_domain::Timestamp;

use crate::QueueName;

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// FIFO group key (≤ 128 chars). Messages of one group are delivered in send order and
    /// one batch at a time; `None` on queues without ordering (timers).
    pub group: Option<String>,
    /// Deduplication id (≤ 128 chars): a second send with an id accepted within the
    /// deduplication window is accepted and dropped.
    pub dedupe_id: Option<String>,
    /// JSON body (≤ 256 KB).
    pub body: String,
    /// Delivery delay (≤ 15 minutes, SQS's `DelaySeconds` limit; longer delays are clamped).
    pub delay: Duration,
}

impl OutgoingMessage {
    /// A message for a FIFO group, deduplicated by `dedupe_id`.
    pub fn fifo(group: impl Into<String>, dedupe_id: impl Into<String>, body: String) -> Self {
        Self {
            group: Some(group.into()),
            dedupe_id: Some(dedupe_id.into()),
            body,
            delay: Duration::ZERO,
        }
    }
    /// A delayed message without ordering.
    pub fn delayed(body: String, delay: Duration) -> Self {
        Self {
            group: None,
            dedupe_id: None,
            body,
            delay,
        }
    }
}

/// The result of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Durably stored: survives a crash of this process from now on.
    Enqueued,
    /// A message with the same deduplication id was already accepted; nothing was added.
    Duplicate,
}

/// A delivered message, invisible to other receivers until acked, retried or its visibility
/// timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Stable id of the message across deliveries.
    pub id: String,
    /// Handle for `ack`/`retry_later`/`dead_letter` of this delivery only.
    pub receipt: String,
    pub body: String,
    pub group: Option<String>,
    /// 1 on first delivery, incremented on every redelivery.
    pub receive_count: u32,
}

/// A message moved to the queue's dead-letter store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLettered {
    pub id: String,
    pub body: String,
    pub group: Option<String>,
    pub receive_count: u32,
    /// Why it was dead-lettered ("max receives exceeded", or the handler's reason).
    pub reason: String,
    pub at: Timestamp,
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue is unreachable or throttled: retrying can help. A webhook answers 5xx.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The receipt is unknown or expired (the message was redelivered to someone else).
    #[error("stale receipt: {0}")]
    StaleReceipt(String),
    /// The message was refused (too large, bad group id): retrying cannot help.
    #[error("message refused: {0}")]
    Refused(String),
}

/// Durable queues with SQS semantics (FIFO queues for inbound/outbound, a standard queue for
/// timers), so the same handlers run on SQS and on the embedded queue.
///
/// Guarantees every adapter must keep (checked by `testing::queue_suite`):
/// - **Durable**: `send` returns `Enqueued` only after the message survives a crash of the
///   process; an acked message never comes back; a delivered, unacked message comes back after
///   its visibility timeout (also after a crash).
/// - **FIFO per group**: messages of one group are delivered in send order; while a message of
///   a group is in flight (delivered, not yet acked or timed out) no later message of that group
///   is delivered. Different groups are independent.
/// - **Deduplication**: a send whose `dedupe_id` was accepted in the last 5 minutes (at least)
///   returns `Duplicate` and adds nothing.
/// - **Delay**: a message is not delivered before its delay has passed.
/// - **Max receives**: a message received `max_receives` times (5 by default) without an ack is
///   moved to the dead-letter store instead of being delivered again; `dead_letter` moves it at
///   once with a reason (a permanent failure is not retried).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues one message.
    async fn send(
        &self,
        queue: QueueName,
        message: OutgoingMessage,
    ) -> Result<SendOutcome, QueueError>;

    /// Receives up to `max` visible messages, hiding each for `visibility`. Returns an empty
    /// vector when nothing is visible (it does not wait).
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError>;

    /// Deletes a processed message.
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;

    /// Makes a delivered message visible again after `delay` (0 = now). Its group stays
    /// blocked until then, so order is kept.
    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError>;

    /// Moves a delivered message to the dead-letter store with `reason`.
    async fn dead_letter(
        &self,
        queue: QueueName,
        receipt: &str,
        reason: &str,
    ) -> Result<(), QueueError>;

    /// The newest dead-lettered messages of `queue`, newest first.
    async fn dead_letters(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<Vec<DeadLettered>, QueueError>;
}
