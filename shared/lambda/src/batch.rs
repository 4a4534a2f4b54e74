//! [`run_sqs_batch`]: the one SQS batch driver of every queue-consuming Lambda.
//!
//! One worker step per record, each in its own span; the result is a partial batch response
//! (the event source mapping must have `FunctionResponseTypes: [ReportBatchItemFailures]`).
//!
//! | step result | what the driver does | reported |
//! |---|---|---|
//! | `Ok(Done)` | nothing (Lambda deletes the message) | success |
//! | `Ok(RetryAfter(d))` | `ChangeMessageVisibility(d)` | failed |
//! | `Err(Transient)` | `ChangeMessageVisibility(retry_backoff(receive_count))`; after `maxReceiveCount` (5) receives SQS's redrive moves it to the DLQ | failed |
//! | `Err(Permanent(reason))` | sent to the DLQ with `reason` and deleted at once (not retried) | success |
//!
//! **FIFO group rule** (Lambda's documented contract for FIFO with partial batch responses):
//! records of one message group run in order; at the first record of a group that does not
//! succeed, the group stops and its remaining records are reported failed too, unprocessed
//! (and are hidden for the same delay as the failed one, so the group resumes together).
//! Other groups are independent and run concurrently. On a standard queue every record is
//! independent.
//!
//! A `RetryAfter` or transient failure counts as a receive: a message retried five times goes to
//! the DLQ. Visibility changes are best effort: when one fails, the message simply comes back
//! after the queue's visibility timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use omnidesk_aws::SqsQueue;
use omnidesk_core::{JobError, JobOutcome, Queue, QueueError, QueueName, Received, retry_backoff};
use tracing::Instrument;

/// What the driver needs from the queue a batch came from.
#[async_trait]
pub trait Settle: Send + Sync {
    /// Hides `message` for `delay` from now (`ChangeMessageVisibility`).
    async fn retry_after(&self, message: &Received, delay: Duration) -> Result<(), QueueError>;
    /// Sends `message` to the dead-letter queue with `reason` and deletes it from its queue.
    async fn dead_letter(&self, message: &Received, reason: &str) -> Result<(), QueueError>;
}

/// [`Settle`] on an [`SqsQueue`] (needs `sqs:ChangeMessageVisibility` and `sqs:DeleteMessage`
/// on the queue, `sqs:SendMessage` on its dead-letter queue).
#[derive(Debug, Clone)]
pub struct SqsSettle {
    queue: Arc<SqsQueue>,
    name: QueueName,
}

impl SqsSettle {
    /// Settles messages of `name` on `queue`.
    pub fn new(queue: Arc<SqsQueue>, name: QueueName) -> Self {
        Self { queue, name }
    }

    /// Whether a record's `eventSourceARN` (`arn:aws:sqs:{region}:{account}:{name}`) is this
    /// queue: the queue name is the ARN's last part and its URL's last path segment.
    pub fn is_source_of(&self, event_source_arn: &str) -> bool {
        let url = &self.queue.urls().get(self.name).url;
        let name = url.rsplit('/').next().unwrap_or_default();
        !name.is_empty() && event_source_arn.rsplit(':').next() == Some(name)
    }
}

#[async_trait]
impl Settle for SqsSettle {
    async fn retry_after(&self, message: &Received, delay: Duration) -> Result<(), QueueError> {
        self.queue
            .retry_later(self.name, &message.receipt, delay)
            .await
    }

    async fn dead_letter(&self, message: &Received, reason: &str) -> Result<(), QueueError> {
        self.queue
            .dead_letter_received(self.name, message, reason)
            .await
    }
}

/// The delivery of one SQS record: `None` when it has no message id or receipt handle.
/// The group is the `MessageGroupId` attribute, the receive count `ApproximateReceiveCount`
/// (1 when absent).
pub fn received_of(record: &SqsMessage) -> Option<Received> {
    Some(Received {
        id: record.message_id.clone()?,
        receipt: record.receipt_handle.clone()?,
        body: record.body.clone().unwrap_or_default(),
        group: record.attributes.get("MessageGroupId").cloned(),
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
    })
}

/// The records of one group (or one record), in batch order, with their batch index.
type Lane = Vec<(usize, Received)>;

/// How one record ended.
enum Verdict {
    Settled,
    /// Report failed; `Some(delay)`: it is hidden for `delay`.
    Failed(Option<Duration>),
}

/// Runs `step(body, receive_count)` on every record of `event` and returns the records to
/// report as failed (see the module docs for the rules). `fifo`: the event comes from a FIFO
/// queue (apply the group rule). Never fails as a whole: every record is accounted for.
pub async fn run_sqs_batch<F, Fut>(
    event: SqsEvent,
    fifo: bool,
    settle: &dyn Settle,
    step: F,
) -> SqsBatchResponse
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = Result<JobOutcome, JobError>>,
{
    let mut failed: Vec<(usize, String)> = Vec::new();
    // Lanes: the records of one group, in order (FIFO), or one record each.
    let mut lanes: Vec<(Option<String>, Lane)> = Vec::new();
    for (index, record) in event.records.iter().enumerate() {
        let Some(message) = received_of(record) else {
            match &record.message_id {
                // Without a receipt it cannot be settled: let it come back.
                Some(id) => {
                    tracing::error!(message_id = %id, "SQS record without a receipt handle");
                    failed.push((index, id.clone()));
                }
                None => tracing::error!("SQS record without a message id; cannot be reported"),
            }
            continue;
        };
        let lane = if fifo && message.group.is_some() {
            lanes.iter_mut().find(|(g, _)| *g == message.group)
        } else {
            None
        };
        match lane {
            Some((_, records)) => records.push((index, message)),
            None => lanes.push((message.group.clone(), vec![(index, message)])),
        }
    }
    let step = &step;
    let results = futures_util::future::join_all(
        lanes
            .into_iter()
            .map(|(_, lane)| run_lane(lane, settle, step)),
    )
    .await;
    failed.extend(results.into_iter().flatten());
    failed.sort_by_key(|(index, _)| *index);
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|(_, id)| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Runs the records of one lane in order; stops at the first that does not succeed.
async fn run_lane<F, Fut>(lane: Lane, settle: &dyn Settle, step: &F) -> Vec<(usize, String)>
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = Result<JobOutcome, JobError>>,
{
    let mut failed = Vec::new();
    let mut records = lane.into_iter();
    while let Some((index, message)) = records.next() {
        let span = tracing::info_span!(
            "sqs_message",
            message_id = %message.id,
            group = message.group.as_deref().unwrap_or(""),
            receive_count = message.receive_count,
        );
        let verdict = run_one(&message, settle, step).instrument(span).await;
        let Verdict::Failed(delay) = verdict else {
            continue;
        };
        failed.push((index, message.id));
        // The rest of the group waits, unprocessed, so its order holds.
        for (index, rest) in records.by_ref() {
            if let Some(delay) = delay
                && let Err(e) = settle.retry_after(&rest, delay).await
            {
                tracing::warn!(message_id = %rest.id, error = %e, "could not delay a waiting message");
            }
            failed.push((index, rest.id));
        }
    }
    failed
}

async fn run_one<F, Fut>(message: &Received, settle: &dyn Settle, step: &F) -> Verdict
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = Result<JobOutcome, JobError>>,
{
    let delay = match step(message.body.clone(), message.receive_count).await {
        Ok(JobOutcome::Done) => return Verdict::Settled,
        Ok(JobOutcome::RetryAfter(delay)) => {
            tracing::info!(delay_ms = delay.as_millis(), "retry requested");
            delay
        }
        Err(JobError::Transient(reason)) => {
            tracing::warn!(%reason, "step failed; will retry");
            retry_backoff(message.receive_count)
        }
        Err(JobError::Permanent(reason)) => {
            tracing::error!(%reason, "step failed permanently; dead-lettering");
            return match settle.dead_letter(message, &reason).await {
                Ok(()) => Verdict::Settled,
                Err(e) => {
                    tracing::warn!(error = %e, "could not dead-letter; it will be redelivered");
                    Verdict::Failed(None)
                }
            };
        }
    };
    if let Err(e) = settle.retry_after(message, delay).await {
        tracing::warn!(error = %e, "could not change the visibility; it comes back after the visibility timeout");
    }
    Verdict::Failed(Some(delay))
}

/// Runs a Lambda function that consumes one SQS queue (an event source mapping with
/// `ReportBatchItemFailures`): each invocation's batch goes through [`run_sqs_batch`] (`fifo`:
/// in order per message group) with `step`, and the pushes of the batch, coalesced by
/// `pushes`, go out together at its end.
pub async fn serve_queue<F, Fut>(
    settle: Arc<SqsSettle>,
    pushes: Arc<crate::CoalescingPush>,
    fifo: bool,
    step: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(String, u32) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<JobOutcome, JobError>> + Send,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let (settle, pushes, step) = (settle.clone(), pushes.clone(), step.clone());
            async move {
                let response: SqsBatchResponse = pushes
                    .during(run_sqs_batch(event.payload, fifo, settle.as_ref(), step))
                    .await;
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use parking_lot::Mutex;

    use super::*;

    /// Records what the driver asked of the queue.
    #[derive(Default)]
    struct Recorder {
        delayed: Mutex<Vec<(String, Duration)>>,
        dead: Mutex<Vec<(String, String)>>,
        refuse_dead_letters: bool,
    }

    #[async_trait]
    impl Settle for Recorder {
        async fn retry_after(&self, m: &Received, delay: Duration) -> Result<(), QueueError> {
            self.delayed.lock().push((m.id.clone(), delay));
            Ok(())
        }
        async fn dead_letter(&self, m: &Received, reason: &str) -> Result<(), QueueError> {
            if self.refuse_dead_letters {
                return Err(QueueError::Unavailable("down".to_owned()));
            }
            self.dead.lock().push((m.id.clone(), reason.to_owned()));
            Ok(())
        }
    }

    fn record(id: &str, group: Option<&str>, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.receipt_handle = Some(format!("rh-{id}"));
        m.body = Some(body.to_owned());
        m.attributes = HashMap::from([("ApproximateReceiveCount".to_owned(), "2".to_owned())]);
        if let Some(g) = group {
            m.attributes
                .insert("MessageGroupId".to_owned(), g.to_owned());
        }
        m
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    fn failed_ids(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    /// A step driven by the body: "ok", "retry", "transient", "permanent".
    async fn scripted(body: String, seen: &Mutex<Vec<String>>) -> Result<JobOutcome, JobError> {
        seen.lock().push(body.clone());
        match body.split(':').next().unwrap_or_default() {
            "retry" => Ok(JobOutcome::RetryAfter(Duration::from_secs(7))),
            "transient" => Err(JobError::Transient("store down".to_owned())),
            "permanent" => Err(JobError::Permanent("not a job".to_owned())),
            _ => Ok(JobOutcome::Done),
        }
    }

    #[tokio::test]
    async fn a_fifo_failure_fails_the_rest_of_its_group_and_no_other_group() {
        let settle = Recorder::default();
        let seen = Mutex::new(Vec::new());
        let batch = event(vec![
            record("a1", Some("A"), "ok:a1"),
            record("b1", Some("B"), "ok:b1"),
            record("a2", Some("A"), "transient:a2"),
            record("b2", Some("B"), "ok:b2"),
            record("a3", Some("A"), "ok:a3"),
            record("a4", Some("A"), "ok:a4"),
        ]);
        let response = run_sqs_batch(batch, true, &settle, |body, _| scripted(body, &seen)).await;

        assert_eq!(failed_ids(&response), ["a2", "a3", "a4"]);
        let seen = seen.into_inner();
        assert!(
            !seen.iter().any(|b| b.ends_with("a3") || b.ends_with("a4")),
            "{seen:?}"
        );
        assert!(seen.contains(&"ok:b2".to_owned()));
        // Receive count 2: backoff 2 s, for the failed one and the ones waiting behind it.
        let delayed = settle.delayed.into_inner();
        assert_eq!(
            delayed,
            [
                ("a2".to_owned(), Duration::from_secs(2)),
                ("a3".to_owned(), Duration::from_secs(2)),
                ("a4".to_owned(), Duration::from_secs(2)),
            ]
        );
    }

    #[tokio::test]
    async fn a_standard_queue_failure_fails_only_that_message() {
        let settle = Recorder::default();
        let seen = Mutex::new(Vec::new());
        let batch = event(vec![
            record("t1", None, "transient:t1"),
            record("t2", None, "ok:t2"),
            record("t3", None, "ok:t3"),
        ]);
        let response = run_sqs_batch(batch, false, &settle, |body, _| scripted(body, &seen)).await;
        assert_eq!(failed_ids(&response), ["t1"]);
        assert_eq!(seen.into_inner().len(), 3);
    }

    #[tokio::test]
    async fn a_permanent_failure_is_dead_lettered_with_its_reason_and_reported_as_success() {
        let settle = Recorder::default();
        let seen = Mutex::new(Vec::new());
        let batch = event(vec![
            record("p1", Some("A"), "permanent:p1"),
            record("p2", Some("A"), "ok:p2"),
        ]);
        let response = run_sqs_batch(batch, true, &settle, |body, _| scripted(body, &seen)).await;
        assert!(failed_ids(&response).is_empty());
        assert_eq!(
            settle.dead.into_inner(),
            [("p1".to_owned(), "not a job".to_owned())]
        );
        // The group goes on after a dead-lettered message.
        assert_eq!(seen.into_inner(), ["permanent:p1", "ok:p2"]);
    }

    #[tokio::test]
    async fn a_permanent_failure_that_cannot_be_dead_lettered_is_reported_failed() {
        let settle = Recorder {
            refuse_dead_letters: true,
            ..Recorder::default()
        };
        let seen = Mutex::new(Vec::new());
        let batch = event(vec![
            record("p1", Some("A"), "permanent:p1"),
            record("p2", Some("A"), "ok:p2"),
        ]);
        let response = run_sqs_batch(batch, true, &settle, |body, _| scripted(body, &seen)).await;
        assert_eq!(failed_ids(&response), ["p1", "p2"]);
        assert!(settle.delayed.into_inner().is_empty());
    }

    #[tokio::test]
    async fn a_transient_failure_is_reported_failed_and_delayed_by_the_backoff() {
        let settle = Recorder::default();
        let batch = event(vec![record("x", Some("A"), "transient:x")]);
        let response = run_sqs_batch(batch, true, &settle, |body, _| async move {
            scripted(body, &Mutex::new(Vec::new())).await
        })
        .await;
        assert_eq!(failed_ids(&response), ["x"]);
        assert_eq!(
            settle.delayed.into_inner(),
            [("x".to_owned(), Duration::from_secs(2))]
        );
        assert!(settle.dead.into_inner().is_empty());
    }

    #[tokio::test]
    async fn retry_after_changes_the_visibility_to_the_requested_delay() {
        let settle = Recorder::default();
        let seen = Mutex::new(Vec::new());
        let batch = event(vec![
            record("r1", Some("A"), "retry:r1"),
            record("r2", Some("A"), "ok:r2"),
        ]);
        let response = run_sqs_batch(batch, true, &settle, |body, _| scripted(body, &seen)).await;
        assert_eq!(failed_ids(&response), ["r1", "r2"]);
        assert_eq!(
            settle.delayed.into_inner(),
            [
                ("r1".to_owned(), Duration::from_secs(7)),
                ("r2".to_owned(), Duration::from_secs(7)),
            ]
        );
    }

    #[tokio::test]
    async fn the_step_gets_the_body_and_the_receive_count() {
        let settle = Recorder::default();
        let got = Mutex::new(Vec::new());
        let batch = event(vec![record("m", None, "ok:m")]);
        let response = run_sqs_batch(batch, false, &settle, |body, count| {
            got.lock().push((body, count));
            async { Ok(JobOutcome::Done) }
        })
        .await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(got.into_inner(), [("ok:m".to_owned(), 2)]);
    }

    #[test]
    fn a_record_is_read_from_the_lambda_sqs_event_json() {
        let json = r#"{"Records":[{"messageId":"059f36b4","receiptHandle":"AQEB","body":"{}",
            "attributes":{"ApproximateReceiveCount":"3","MessageGroupId":"tg:1:42",
            "MessageDeduplicationId":"d"},"messageAttributes":{},"md5OfBody":"x",
            "eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:1:q.fifo",
            "awsRegion":"us-east-1"}]}"#;
        let event: SqsEvent = serde_json::from_str(json).expect("valid SQS event");
        let received = received_of(&event.records[0]).expect("complete record");
        assert_eq!(received.id, "059f36b4");
        assert_eq!(received.receipt, "AQEB");
        assert_eq!(received.group.as_deref(), Some("tg:1:42"));
        assert_eq!(received.receive_count, 3);
    }

    #[test]
    fn a_record_is_matched_to_its_queue_by_the_queue_name_in_its_source_arn() {
        use omnidesk_aws::aws_sdk_sqs;
        let pair = |name: &str| omnidesk_aws::QueuePair {
            url: format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"),
            dead_letter_url: format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{name}-dlq"),
        };
        let urls = omnidesk_aws::QueueUrls {
            inbound: pair("desk-inbound.fifo"),
            outbound: pair("desk-outbound.fifo"),
            timers: pair("desk-timers"),
            media: pair("desk-media"),
            translate: pair("desk-translate.fifo"),
            ai: pair("desk-ai.fifo"),
        };
        // Never called: the client only has to exist.
        let client = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
                .build(),
        );
        let queue = Arc::new(SqsQueue::new(client, urls));
        let timers = SqsSettle::new(queue.clone(), QueueName::Timers);
        let inbound = SqsSettle::new(queue, QueueName::Inbound);
        let arn = |name: &str| format!("arn:aws:sqs:eu-west-1:123456789012:{name}");
        assert!(timers.is_source_of(&arn("desk-timers")));
        assert!(!timers.is_source_of(&arn("desk-timers-dlq")));
        assert!(!timers.is_source_of(&arn("desk-inbound.fifo")));
        assert!(inbound.is_source_of(&arn("desk-inbound.fifo")));
        assert!(!inbound.is_source_of("desk-inbound"));
        assert!(!inbound.is_source_of(""));
    }
}
