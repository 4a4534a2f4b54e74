//! [`SqsQueue`]: the [`Queue`] port on SQS. Inbound and outbound are FIFO queues
//! (`MessageGroupId` = group, `MessageDeduplicationId` = dedupe id), timers a standard queue
//! with `DelaySeconds`; each has a dead-letter queue attached by a redrive policy
//! (`maxReceiveCount` 5).
//!
//! Differences from the port's wording, both forced by SQS:
//! - **Duplicates are not reported.** SQS accepts a deduplicated send with a success (moto even
//!   returns a fresh message id), so `send` returns `Enqueued` for a duplicate too; nothing is
//!   added, which is what callers rely on.
//! - **`dead_letter` needs a receipt this process received** (the adapter remembers the last
//!   deliveries it handed out, since SQS cannot look a message up by receipt). Lambda handlers,
//!   whose messages come from the event source mapping, call
//!   [`SqsQueue::dead_letter_received`] with the message instead.
//!
//! `dead_letters` peeks the dead-letter queue: it receives everything (up to
//! [`PEEK_MAX`] messages) with a short visibility timeout, then makes it visible again. A
//! concurrent peek can therefore miss messages. Messages the adapter dead-lettered carry their
//! reason, original id, group, receive count and time as message attributes; messages SQS
//! moved by redrive have none and are listed with the reason "max receives exceeded", their SQS message id
//! and group, and an approximate receive count (the dead-letter queue's count, which SQS
//! carries over and each peek increments, minus this peek).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
    MessageSystemAttributeName, QueueAttributeName,
};
use omnidesk_core::{
    Clock, DeadLettered, OutgoingMessage, Queue, QueueError, QueueName, Received, SendOutcome,
    SystemClock,
};
use omnidesk_domain::Timestamp;
use parking_lot::Mutex;

/// Receives before SQS (or this adapter) moves a message to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 5;
/// At most this many dead-letter messages are looked at by one `dead_letters` call.
pub const PEEK_MAX: usize = 1000;
/// How long `dead_letters` hides the messages it is reading.
const PEEK_VISIBILITY_SECS: i32 = 20;
/// SQS's longest `DelaySeconds`.
const MAX_DELAY_SECS: u64 = 900;
/// SQS's longest visibility timeout.
const MAX_VISIBILITY_SECS: u64 = 43_200;
/// How many delivered messages the adapter remembers for `dead_letter`.
const REMEMBERED_RECEIPTS: usize = 10_000;
/// Dead-letter queues keep messages for SQS's maximum, 14 days.
const DLQ_RETENTION_SECS: &str = "1209600";

/// The reason of messages SQS moved to the dead-letter queue by redrive.
pub const MAX_RECEIVES_REASON: &str = "max receives exceeded";

const ATTR_REASON: &str = "omnidesk-reason";
const ATTR_ID: &str = "omnidesk-id";
const ATTR_GROUP: &str = "omnidesk-group";
const ATTR_RECEIVE_COUNT: &str = "omnidesk-receive-count";
const ATTR_AT: &str = "omnidesk-at";

/// A queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePair {
    pub url: String,
    pub dead_letter_url: String,
}

/// The URLs of the pipeline's queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub inbound: QueuePair,
    pub outbound: QueuePair,
    pub timers: QueuePair,
    pub media: QueuePair,
    pub translate: QueuePair,
    pub ai: QueuePair,
}

impl QueueUrls {
    /// The pair of `queue`.
    pub fn get(&self, queue: QueueName) -> &QueuePair {
        match queue {
            QueueName::Inbound => &self.inbound,
            QueueName::Outbound => &self.outbound,
            QueueName::Timers => &self.timers,
            QueueName::Media => &self.media,
            QueueName::Translate => &self.translate,
            QueueName::Ai => &self.ai,
        }
    }
}

/// Deliveries handed out by this process, by receipt (bounded, oldest forgotten first).
#[derive(Default)]
struct Remembered {
    by_receipt: HashMap<String, (QueueName, Received)>,
    order: VecDeque<String>,
}

impl Remembered {
    fn insert(&mut self, queue: QueueName, received: &Received) {
        if self
            .by_receipt
            .insert(received.receipt.clone(), (queue, received.clone()))
            .is_none()
        {
            self.order.push_back(received.receipt.clone());
        }
        while self.order.len() > REMEMBERED_RECEIPTS {
            if let Some(old) = self.order.pop_front() {
                self.by_receipt.remove(&old);
            }
        }
    }

    fn get(&self, queue: QueueName, receipt: &str) -> Option<Received> {
        self.by_receipt
            .get(receipt)
            .filter(|(q, _)| *q == queue)
            .map(|(_, r)| r.clone())
    }

    fn forget(&mut self, receipt: &str) {
        // The order entry is dropped lazily when it reaches the front.
        self.by_receipt.remove(receipt);
    }
}

/// The [`Queue`] port on SQS (see the module docs for the two differences SQS forces).
pub struct SqsQueue {
    client: Client,
    urls: QueueUrls,
    clock: Box<dyn Clock>,
    remembered: Mutex<Remembered>,
}

impl std::fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsQueue")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

/// Rounds up to whole seconds, capped.
fn whole_secs(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

fn classify<E, R>(what: &str, err: &SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_owned();
    let text = format!("{what}: {}", DisplayErrorContext(&err));
    if code.contains("ReceiptHandleIsInvalid")
        || code.contains("InvalidReceiptHandle")
        || code.contains("MessageNotInflight")
    {
        QueueError::StaleReceipt(text)
    } else if code.contains("InvalidParameterValue")
        || code.contains("InvalidMessageContents")
        || code.contains("MissingParameter")
        || code.contains("UnsupportedOperation")
        || code.contains("InvalidAttribute")
        || code.contains("BatchRequestTooLong")
    {
        QueueError::Refused(text)
    } else {
        QueueError::Unavailable(text)
    }
}

fn string_attr(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Refused(format!("message attribute: {e}")))
}

fn number_attr(value: i64) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("Number")
        .string_value(value.to_string())
        .build()
        .map_err(|e| QueueError::Refused(format!("message attribute: {e}")))
}

fn system_attr<'a>(m: &'a Message, name: &MessageSystemAttributeName) -> Option<&'a str> {
    m.attributes().and_then(|a| a.get(name)).map(String::as_str)
}

fn user_attr<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(MessageAttributeValue::string_value)
}

fn receive_count_of(m: &Message) -> u32 {
    system_attr(m, &MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

impl SqsQueue {
    /// A queue adapter over existing queues.
    pub fn new(client: Client, urls: QueueUrls) -> Self {
        Self {
            client,
            urls,
            clock: Box::new(SystemClock),
            remembered: Mutex::new(Remembered::default()),
        }
    }

    /// The queue URLs.
    pub fn urls(&self) -> &QueueUrls {
        &self.urls
    }

    /// Creates (or finds: `CreateQueue` is idempotent for equal attributes) the pipeline's
    /// queues named `<prefix>-inbound.fifo`, `<prefix>-outbound.fifo`, `<prefix>-timers`, each
    /// with a `-dlq` dead-letter queue and a redrive policy of [`MAX_RECEIVES`].
    pub async fn create_queues(client: &Client, prefix: &str) -> Result<QueueUrls, QueueError> {
        Ok(QueueUrls {
            inbound: Self::create_pair(client, &format!("{prefix}-inbound"), true).await?,
            outbound: Self::create_pair(client, &format!("{prefix}-outbound"), true).await?,
            timers: Self::create_pair(client, &format!("{prefix}-timers"), false).await?,
            media: Self::create_pair(client, &format!("{prefix}-media"), false).await?,
            translate: Self::create_pair(client, &format!("{prefix}-translate"), true).await?,
            ai: Self::create_pair(client, &format!("{prefix}-ai"), true).await?,
        })
    }

    async fn create_pair(client: &Client, base: &str, fifo: bool) -> Result<QueuePair, QueueError> {
        let suffix = if fifo { ".fifo" } else { "" };
        let mut dlq = client
            .create_queue()
            .queue_name(format!("{base}-dlq{suffix}"))
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECS,
            );
        if fifo {
            dlq = dlq.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let dead_letter_url = dlq
            .send()
            .await
            .map_err(|e| classify("CreateQueue", &e))?
            .queue_url
            .ok_or_else(|| QueueError::Unavailable("CreateQueue returned no URL".to_owned()))?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| classify("GetQueueAttributes", &e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| {
                QueueError::Unavailable("the dead-letter queue has no ARN".to_owned())
            })?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": MAX_RECEIVES.to_string(),
        })
        .to_string();
        let mut main = client
            .create_queue()
            .queue_name(format!("{base}{suffix}"))
            .attributes(QueueAttributeName::RedrivePolicy, redrive);
        if fifo {
            main = main
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
        }
        let url = main
            .send()
            .await
            .map_err(|e| classify("CreateQueue", &e))?
            .queue_url
            .ok_or_else(|| QueueError::Unavailable("CreateQueue returned no URL".to_owned()))?;
        Ok(QueuePair {
            url,
            dead_letter_url,
        })
    }

    /// Moves `message` (a delivery of `queue`, e.g. from a Lambda SQS event) to the
    /// dead-letter queue with `reason`, then deletes it from `queue`.
    pub async fn dead_letter_received(
        &self,
        queue: QueueName,
        message: &Received,
        reason: &str,
    ) -> Result<(), QueueError> {
        let pair = self.urls.get(queue);
        let mut send = self
            .client
            .send_message()
            .queue_url(&pair.dead_letter_url)
            .message_body(&message.body)
            .message_attributes(ATTR_REASON, string_attr(reason)?)
            .message_attributes(ATTR_ID, string_attr(&message.id)?)
            .message_attributes(
                ATTR_RECEIVE_COUNT,
                number_attr(i64::from(message.receive_count))?,
            )
            .message_attributes(ATTR_AT, number_attr(self.clock.now().millis())?);
        if let Some(group) = &message.group {
            send = send.message_attributes(ATTR_GROUP, string_attr(group)?);
        }
        if queue.is_fifo() {
            // One group per dead letter, so peeking is never blocked by a group in flight.
            send = send
                .message_group_id(format!("dl-{}", message.id))
                .message_deduplication_id(format!("dl-{}", message.id));
        }
        send.send()
            .await
            .map_err(|e| classify("SendMessage to the dead-letter queue", &e))?;
        self.client
            .delete_message()
            .queue_url(&pair.url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(|e| classify("DeleteMessage", &e))?;
        self.remembered.lock().forget(&message.receipt);
        Ok(())
    }

    fn received_of(&self, m: &Message) -> Option<Received> {
        Some(Received {
            id: m.message_id()?.to_owned(),
            receipt: m.receipt_handle()?.to_owned(),
            body: m.body().unwrap_or_default().to_owned(),
            group: system_attr(m, &MessageSystemAttributeName::MessageGroupId).map(str::to_owned),
            receive_count: receive_count_of(m),
        })
    }

    fn dead_lettered_of(m: &Message) -> Option<DeadLettered> {
        let own = user_attr(m, ATTR_ID).is_some();
        let id = user_attr(m, ATTR_ID).or(m.message_id())?.to_owned();
        let group = if own {
            user_attr(m, ATTR_GROUP).map(str::to_owned)
        } else {
            system_attr(m, &MessageSystemAttributeName::MessageGroupId).map(str::to_owned)
        };
        let receive_count = match user_attr(m, ATTR_RECEIVE_COUNT).and_then(|c| c.parse().ok()) {
            Some(c) => c,
            // Moved by redrive: the count carries over, and this peek added one.
            None => receive_count_of(m).saturating_sub(1).max(1),
        };
        let at = user_attr(m, ATTR_AT)
            .or_else(|| system_attr(m, &MessageSystemAttributeName::SentTimestamp))
            .and_then(|t| t.parse().ok())
            .map(Timestamp::from_millis)
            .unwrap_or_else(|| Timestamp::from_millis(0));
        Some(DeadLettered {
            id,
            body: m.body().unwrap_or_default().to_owned(),
            group,
            receive_count,
            reason: user_attr(m, ATTR_REASON)
                .unwrap_or(MAX_RECEIVES_REASON)
                .to_owned(),
            at,
        })
    }

    /// Makes peeked messages visible again.
    async fn release(&self, url: &str, receipts: &[String]) -> Result<(), QueueError> {
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|e| QueueError::Refused(format!("batch entry: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify("ChangeMessageVisibilityBatch", &e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(
        &self,
        queue: QueueName,
        message: OutgoingMessage,
    ) -> Result<SendOutcome, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.urls.get(queue).url)
            .message_body(message.body);
        if queue.is_fifo() {
            if !message.delay.is_zero() {
                return Err(QueueError::Refused(format!(
                    "the {queue} queue is FIFO: SQS has no per-message delay there"
                )));
            }
            let group = message.group.ok_or_else(|| {
                QueueError::Refused(format!("the {queue} queue is FIFO: a group is required"))
            })?;
            let dedupe = message
                .dedupe_id
                .unwrap_or_else(|| uuid_like(&self.clock.now()));
            request = request
                .message_group_id(group)
                .message_deduplication_id(dedupe);
        } else {
            request = request.delay_seconds(whole_secs(message.delay, MAX_DELAY_SECS));
        }
        request
            .send()
            .await
            .map_err(|e| classify("SendMessage", &e))?;
        // SQS answers a deduplicated send with success too: see the module docs.
        Ok(SendOutcome::Enqueued)
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.urls.get(queue).url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .visibility_timeout(whole_secs(visibility, MAX_VISIBILITY_SECS))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|e| classify("ReceiveMessage", &e))?;
        let mut delivered = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let Some(received) = self.received_of(&m) else {
                continue;
            };
            if received.receive_count > MAX_RECEIVES {
                // SQS's redrive normally moves it first; this covers queues without one.
                self.dead_letter_received(queue, &received, MAX_RECEIVES_REASON)
                    .await?;
                continue;
            }
            self.remembered.lock().insert(queue, &received);
            delivered.push(received);
        }
        Ok(delivered)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.urls.get(queue).url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| classify("DeleteMessage", &e))?;
        self.remembered.lock().forget(receipt);
        Ok(())
    }

    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.urls.get(queue).url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs(delay, MAX_VISIBILITY_SECS))
            .send()
            .await
            .map_err(|e| classify("ChangeMessageVisibility", &e))?;
        Ok(())
    }

    async fn dead_letter(
        &self,
        queue: QueueName,
        receipt: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        let received = self.remembered.lock().get(queue, receipt).ok_or_else(|| {
            QueueError::StaleReceipt(
                "dead_letter: the receipt was not received by this process".to_owned(),
            )
        })?;
        self.dead_letter_received(queue, &received, reason).await
    }

    async fn dead_letters(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<Vec<DeadLettered>, QueueError> {
        let url = &self.urls.get(queue).dead_letter_url;
        let mut found: Vec<DeadLettered> = Vec::new();
        let mut receipts = Vec::new();
        let mut result = Ok(());
        while receipts.len() < PEEK_MAX {
            let out = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(PEEK_VISIBILITY_SECS)
                // A short poll of a standard queue samples only some servers and can come back
                // empty while messages exist; a 1 s long poll asks them all.
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await;
            let messages = match out {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    result = Err(classify("ReceiveMessage from the dead-letter queue", &e));
                    break;
                }
            };
            if messages.is_empty() {
                break;
            }
            for m in &messages {
                if let Some(receipt) = m.receipt_handle() {
                    receipts.push(receipt.to_owned());
                }
                if let Some(d) = Self::dead_lettered_of(m) {
                    found.push(d);
                }
            }
        }
        self.release(url, &receipts).await?;
        result?;
        found.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
        let mut seen = std::collections::HashSet::new();
        found.retain(|d| seen.insert(d.id.clone()));
        found.truncate(limit);
        Ok(found)
    }
}

/// A unique deduplication id for a FIFO send that did not name one.
fn uuid_like(now: &Timestamp) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "auto-{}-{}-{}",
        now.millis(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds_and_are_capped() {
        assert_eq!(whole_secs(Duration::ZERO, 900), 0);
        assert_eq!(whole_secs(Duration::from_millis(1), 900), 1);
        assert_eq!(whole_secs(Duration::from_secs(2), 900), 2);
        assert_eq!(whole_secs(Duration::from_secs(3600), 900), 900);
    }

    #[test]
    fn remembered_receipts_are_bounded_and_scoped_to_their_queue() {
        let mut r = Remembered::default();
        for i in 0..(REMEMBERED_RECEIPTS + 5) {
            r.insert(
                QueueName::Inbound,
                &Received {
                    id: format!("m{i}"),
                    receipt: format!("r{i}"),
                    body: String::new(),
                    group: None,
                    receive_count: 1,
                },
            );
        }
        assert!(r.get(QueueName::Inbound, "r0").is_none());
        assert!(r.get(QueueName::Inbound, "r10").is_some());
        assert!(r.get(QueueName::Outbound, "r10").is_none());
        r.forget("r10");
        assert!(r.get(QueueName::Inbound, "r10").is_none());
    }
}
