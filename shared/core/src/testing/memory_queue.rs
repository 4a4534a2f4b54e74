use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::{
    Clock, DeadLettered, OutgoingMessage, Queue, QueueError, QueueName, Received, SendOutcome,
    SystemClock,
};

/// SQS's longest delivery delay.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// SQS's message size limit.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// SQS's group and deduplication id limit.
const MAX_ID_CHARS: usize = 128;

/// The queues in memory, with SQS semantics: FIFO per group with in-flight blocking
/// (`Inbound`, `Outbound`), a standard queue (`Timers`), deduplication, delays, visibility
/// timeouts, max receives and a dead-letter list per queue.
///
/// Time comes from a [`Clock`] (the system clock by default; give a
/// [`ManualClock`](super::ManualClock) to [`MemoryQueue::with_clock`] to skip delays in unit
/// tests). Not durable across processes, of course.
pub struct MemoryQueue {
    clock: Arc<dyn Clock>,
    max_receives: u32,
    dedupe_window: Duration,
    queues: Mutex<HashMap<QueueName, State>>,
}

#[derive(Default)]
struct State {
    next_seq: u64,
    /// In send order.
    messages: Vec<Stored>,
    /// Dedupe id → when it was accepted (ms).
    dedupe: HashMap<String, i64>,
    /// Oldest first.
    dead: Vec<DeadLettered>,
}

struct Stored {
    id: String,
    body: String,
    group: Option<String>,
    /// Not delivered before this instant (ms): delay, visibility timeout or retry delay.
    visible_at: i64,
    receive_count: u32,
    /// The receipt of the current delivery.
    receipt: Option<String>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl MemoryQueue {
    /// Empty queues on the system clock, max receives 5, dedupe window 5 minutes.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Empty queues on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            max_receives: 5,
            dedupe_window: Duration::from_secs(5 * 60),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Dead-letters a message on its receive after the `n`-th (default 5).
    #[must_use]
    pub fn with_max_receives(mut self, n: u32) -> Self {
        self.max_receives = n.max(1);
        self
    }

    /// Bodies of every message still in `queue` (waiting, delayed or in flight), in send order.
    pub fn pending(&self, queue: QueueName) -> Vec<String> {
        self.queues
            .lock()
            .get(&queue)
            .map(|s| s.messages.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// How many messages are still in `queue`.
    pub fn len(&self, queue: QueueName) -> usize {
        self.queues
            .lock()
            .get(&queue)
            .map_or(0, |s| s.messages.len())
    }

    /// Whether `queue` holds no message.
    pub fn is_empty(&self, queue: QueueName) -> bool {
        self.len(queue) == 0
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Runs `f` on the message delivered with `receipt`; removes it when `f` returns true.
    fn with_receipt<T>(
        &self,
        queue: QueueName,
        receipt: &str,
        f: impl FnOnce(&mut State, usize) -> T,
    ) -> Result<T, QueueError> {
        let mut queues = self.queues.lock();
        let state = queues.entry(queue).or_default();
        let idx = state
            .messages
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| {
                QueueError::StaleReceipt(format!("no message of {queue} holds this receipt"))
            })?;
        Ok(f(state, idx))
    }
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(
        &self,
        queue: QueueName,
        message: OutgoingMessage,
    ) -> Result<SendOutcome, QueueError> {
        if message.body.len() > MAX_BODY_BYTES {
            return Err(QueueError::Refused(format!(
                "body of {} bytes exceeds 256 KB",
                message.body.len()
            )));
        }
        if queue.is_fifo() && message.group.is_none() {
            return Err(QueueError::Refused(format!(
                "{queue} is a FIFO queue: a message needs a group"
            )));
        }
        for id in [&message.group, &message.dedupe_id].into_iter().flatten() {
            if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
                return Err(QueueError::Refused(
                    "group and dedupe ids must have 1 to 128 characters".to_owned(),
                ));
            }
        }
        let now = self.now_ms();
        let window = ms(self.dedupe_window);
        let mut queues = self.queues.lock();
        let state = queues.entry(queue).or_default();
        state.dedupe.retain(|_, at| *at + window > now);
        if let Some(d) = &message.dedupe_id {
            if state.dedupe.contains_key(d) {
                return Ok(SendOutcome::Duplicate);
            }
            state.dedupe.insert(d.clone(), now);
        }
        state.next_seq += 1;
        state.messages.push(Stored {
            id: format!("{}-{}", state.next_seq, Uuid::now_v7().simple()),
            body: message.body,
            group: message.group,
            visible_at: now + ms(message.delay.min(MAX_DELAY)),
            receive_count: 0,
            receipt: None,
        });
        Ok(SendOutcome::Enqueued)
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let now = self.now_ms();
        let mut queues = self.queues.lock();
        let state = queues.entry(queue).or_default();
        let mut out = Vec::new();
        // Groups whose oldest remaining message is not deliverable now.
        let mut blocked: HashSet<String> = HashSet::new();
        let mut i = 0;
        while i < state.messages.len() && out.len() < max {
            let m = &mut state.messages[i];
            let group = if queue.is_fifo() {
                m.group.clone()
            } else {
                None
            };
            if let Some(g) = &group
                && blocked.contains(g)
            {
                i += 1;
                continue;
            }
            if m.visible_at > now {
                if let Some(g) = group {
                    blocked.insert(g);
                }
                i += 1;
                continue;
            }
            if m.receive_count >= self.max_receives {
                let m = state.messages.remove(i);
                state.dead.push(DeadLettered {
                    id: m.id,
                    body: m.body,
                    group: m.group,
                    receive_count: m.receive_count,
                    reason: "max receives exceeded".to_owned(),
                    at: self.clock.now(),
                });
                continue;
            }
            m.receive_count += 1;
            m.visible_at = now + ms(visibility);
            let receipt = Uuid::now_v7().simple().to_string();
            m.receipt = Some(receipt.clone());
            out.push(Received {
                id: m.id.clone(),
                receipt,
                body: m.body.clone(),
                group: m.group.clone(),
                receive_count: m.receive_count,
            });
            i += 1;
        }
        Ok(out)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.with_receipt(queue, receipt, |state, idx| {
            state.messages.remove(idx);
        })
    }

    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let visible_at = self.now_ms() + ms(delay.min(MAX_DELAY));
        self.with_receipt(queue, receipt, |state, idx| {
            let m = &mut state.messages[idx];
            m.visible_at = visible_at;
            m.receipt = None;
        })
    }

    async fn dead_letter(
        &self,
        queue: QueueName,
        receipt: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        let at = self.clock.now();
        self.with_receipt(queue, receipt, |state, idx| {
            let m = state.messages.remove(idx);
            state.dead.push(DeadLettered {
                id: m.id,
                body: m.body,
                group: m.group,
                receive_count: m.receive_count,
                reason: reason.to_owned(),
                at,
            });
        })
    }

    async fn dead_letters(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<Vec<DeadLettered>, QueueError> {
        Ok(self
            .queues
            .lock()
            .get(&queue)
            .map(|s| s.dead.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}
