//! Conformance suite of the [`Queue`] port (SQS semantics). Every queue adapter runs
//! [`run_all`] (or the property functions). Each function panics with a message naming the
//! violated guarantee.
//!
//! Real waiting with whole-second durations (SQS visibility timeouts and delays are whole
//! seconds): the whole suite takes about 8 s. Expects the adapter's default max receives (5).
//!
//! Every test uses its own group (a fresh UUID) or body marker and drains what it sent, so the
//! suite can run against shared queues: messages of others that a receive returns are made
//! visible again at once (`retry_later` with 0) and otherwise left alone.

use std::time::Duration;

use tokio::time::{Instant, sleep};
use uuid::Uuid;

use crate::{OutgoingMessage, Queue, QueueName, Received, SendOutcome};

/// Visibility for receives that are acked right away.
const LONG: Duration = Duration::from_secs(30);
/// The shortest visibility / delay SQS supports.
const ONE_SECOND: Duration = Duration::from_secs(1);
/// Waiting past a one-second visibility or delay.
const PAST_ONE_SECOND: Duration = Duration::from_millis(1400);
/// How long to wait for a message that should arrive.
const PATIENCE: Duration = Duration::from_secs(3);
/// How long to look for a message that must not arrive.
const ABSENCE: Duration = Duration::from_millis(400);

/// What an adapter's backend can report, for the one property that depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCaps {
    /// Whether `send` tells a deduplicated send apart by returning `Duplicate`. SQS accepts a
    /// deduplicated send with a plain success, so the SQS adapter returns `Enqueued`; with
    /// `false` the suite accepts `Enqueued` for the duplicate and still checks that nothing was
    /// added.
    pub reports_duplicates: bool,
}

impl QueueCaps {
    /// Every guarantee as the port states it (memory and SQLite queues).
    pub const STRICT: Self = Self {
        reports_duplicates: true,
    };
}

/// Every queue property, strictly.
pub async fn run_all(queue: &dyn Queue) {
    run_all_with(queue, QueueCaps::STRICT).await;
}

/// Every queue property, relaxed where `caps` says the backend cannot report something.
pub async fn run_all_with(queue: &dyn Queue, caps: QueueCaps) {
    fifo_order(queue).await;
    in_flight_blocks_its_group_only(queue).await;
    dedupe_with(queue, caps).await;
    delay(queue).await;
    visibility_timeout(queue).await;
    ack_is_final(queue).await;
    retry_later_keeps_order(queue).await;
    dead_letter_with_reason(queue).await;
    max_receives(queue).await;
    standard_queue(queue).await;
}

// ---------------------------------------------------------------------------------------------
// helpers

fn fresh() -> String {
    Uuid::now_v7().simple().to_string()
}

fn group() -> String {
    format!("suite-{}", fresh())
}

fn body(marker: &str, n: u32) -> String {
    format!(r#"{{"suite":"{marker}","n":{n}}}"#)
}

/// The `n` of a suite body.
fn n_of(r: &Received) -> u32 {
    serde_json::from_str::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("n").and_then(serde_json::Value::as_u64))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("a suite message came back with another body: {}", r.body))
}

async fn send_fifo(queue: &dyn Queue, group: &str, n: u32) {
    let outcome = queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo(group, fresh(), body(group, n)),
        )
        .await
        .unwrap_or_else(|e| panic!("send to a FIFO queue failed: {e}"));
    assert_eq!(outcome, SendOutcome::Enqueued, "a new message is Enqueued");
}

/// Receives until a batch holds at least one message `is_mine` (or `patience` runs out) and
/// returns those; other messages are made visible again at once.
async fn next_mine(
    queue: &dyn Queue,
    name: QueueName,
    max: usize,
    visibility: Duration,
    patience: Duration,
    is_mine: &dyn Fn(&Received) -> bool,
) -> Vec<Received> {
    let until = Instant::now() + patience;
    loop {
        let batch = queue
            .receive(name, max, visibility)
            .await
            .unwrap_or_else(|e| panic!("receive from {name} failed: {e}"));
        let mut mine = Vec::new();
        for r in batch {
            if is_mine(&r) {
                mine.push(r);
            } else {
                let _ = queue.retry_later(name, &r.receipt, Duration::ZERO).await;
            }
        }
        if !mine.is_empty() || Instant::now() >= until {
            return mine;
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn in_group(g: &str) -> impl Fn(&Received) -> bool + '_ {
    move |r| r.group.as_deref() == Some(g)
}

/// Receives one message of group `g` (max 1 per receive).
async fn one_of_group(queue: &dyn Queue, g: &str, visibility: Duration, what: &str) -> Received {
    let mut got = next_mine(
        queue,
        QueueName::Inbound,
        1,
        visibility,
        PATIENCE,
        &in_group(g),
    )
    .await;
    assert_eq!(
        got.len(),
        1,
        "{what}: expected one message of the group, got {got:?}"
    );
    got.remove(0)
}

async fn assert_none_of_group(queue: &dyn Queue, g: &str, what: &str) {
    let got = next_mine(queue, QueueName::Inbound, 10, LONG, ABSENCE, &in_group(g)).await;
    assert!(got.is_empty(), "{what}: got {got:?}");
}

async fn ack(queue: &dyn Queue, name: QueueName, r: &Received) {
    queue
        .ack(name, &r.receipt)
        .await
        .unwrap_or_else(|e| panic!("ack of a fresh receipt failed: {e}"));
}

/// Receives and acks every message of group `g` until `count` arrived; their `n`s in order.
async fn drain_group(queue: &dyn Queue, g: &str, count: usize) -> Vec<u32> {
    let mut ns = Vec::new();
    while ns.len() < count {
        let got = next_mine(queue, QueueName::Inbound, 10, LONG, PATIENCE, &in_group(g)).await;
        assert!(
            !got.is_empty(),
            "only {} of {count} messages of a group arrived: {ns:?}",
            ns.len()
        );
        for r in got {
            ns.push(n_of(&r));
            ack(queue, QueueName::Inbound, &r).await;
        }
    }
    ns
}

// ---------------------------------------------------------------------------------------------
// properties

/// Messages of one group arrive in send order.
pub async fn fifo_order(queue: &dyn Queue) {
    let g = group();
    for n in 0..3 {
        send_fifo(queue, &g, n).await;
    }
    let ns = drain_group(queue, &g, 3).await;
    assert_eq!(
        ns,
        vec![0, 1, 2],
        "messages of one group must arrive in send order"
    );
    assert_none_of_group(queue, &g, "acked messages must not come back").await;
}

/// A message in flight blocks later messages of its group; other groups flow.
pub async fn in_flight_blocks_its_group_only(queue: &dyn Queue) {
    let (g1, g2) = (group(), group());
    send_fifo(queue, &g1, 0).await;
    send_fifo(queue, &g1, 1).await;
    send_fifo(queue, &g2, 0).await;

    // Take the head of both groups, one message per receive, acking nothing.
    let mut head1 = None;
    let mut head2 = None;
    let until = Instant::now() + PATIENCE;
    while head1.is_none() || head2.is_none() {
        assert!(
            Instant::now() < until,
            "the heads of two groups did not both arrive while one was in flight"
        );
        let is_mine = |r: &Received| {
            r.group.as_deref() == Some(g1.as_str()) || r.group.as_deref() == Some(g2.as_str())
        };
        for r in next_mine(queue, QueueName::Inbound, 1, LONG, PATIENCE, &is_mine).await {
            if r.group.as_deref() == Some(g1.as_str()) {
                assert!(
                    head1.is_none() && n_of(&r) == 0,
                    "a later message of a group was delivered while its head was in flight"
                );
                head1 = Some(r);
            } else {
                head2 = Some(r);
            }
        }
    }
    assert_none_of_group(
        queue,
        &g1,
        "no message of a group may be delivered while an earlier one is in flight",
    )
    .await;

    if let Some(r) = &head1 {
        ack(queue, QueueName::Inbound, r).await;
    }
    let next = one_of_group(queue, &g1, LONG, "after the ack the group flows again").await;
    assert_eq!(n_of(&next), 1, "the group continues in send order");
    ack(queue, QueueName::Inbound, &next).await;
    if let Some(r) = &head2 {
        ack(queue, QueueName::Inbound, r).await;
    }
}

/// A second send with the same dedupe id is `Duplicate` and adds nothing.
pub async fn dedupe(queue: &dyn Queue) {
    dedupe_with(queue, QueueCaps::STRICT).await;
}

/// [`dedupe`]; without `caps.reports_duplicates` the duplicate may also be `Enqueued`.
pub async fn dedupe_with(queue: &dyn Queue, caps: QueueCaps) {
    let g = group();
    let dedupe_id = fresh();
    let first = queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo(&g, &dedupe_id, body(&g, 0)),
        )
        .await
        .unwrap_or_else(|e| panic!("send failed: {e}"));
    assert_eq!(first, SendOutcome::Enqueued, "the first send is Enqueued");
    let second = queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo(&g, &dedupe_id, body(&g, 1)),
        )
        .await
        .unwrap_or_else(|e| panic!("send of a duplicate failed: {e}"));
    if caps.reports_duplicates {
        assert_eq!(
            second,
            SendOutcome::Duplicate,
            "a send with a dedupe id accepted moments ago must be Duplicate"
        );
    }
    let ns = drain_group(queue, &g, 1).await;
    assert_eq!(ns, vec![0], "the first message is delivered");
    assert_none_of_group(queue, &g, "a duplicate send must add nothing").await;
}

/// A delayed message (standard queue) is invisible before its delay and visible after.
pub async fn delay(queue: &dyn Queue) {
    let marker = fresh();
    let is_mine = |r: &Received| r.body.contains(marker.as_str());
    let sent_at = Instant::now();
    queue
        .send(
            QueueName::Timers,
            OutgoingMessage::delayed(body(&marker, 0), ONE_SECOND),
        )
        .await
        .unwrap_or_else(|e| panic!("send of a delayed message failed: {e}"));
    let early = next_mine(
        queue,
        QueueName::Timers,
        10,
        LONG,
        Duration::from_millis(300),
        &is_mine,
    )
    .await;
    assert!(
        early.is_empty() || sent_at.elapsed() >= ONE_SECOND,
        "a message with a 1 s delay was delivered after {:?}",
        sent_at.elapsed()
    );
    sleep(PAST_ONE_SECOND.saturating_sub(sent_at.elapsed())).await;
    let got = next_mine(queue, QueueName::Timers, 10, LONG, PATIENCE, &is_mine).await;
    assert_eq!(
        got.len(),
        1,
        "a delayed message must arrive after its delay: {got:?}"
    );
    assert_eq!(
        got[0].receive_count, 1,
        "first delivery has receive_count 1"
    );
    ack(queue, QueueName::Timers, &got[0]).await;
}

/// An unacked message comes back after its visibility timeout with `receive_count` 2.
pub async fn visibility_timeout(queue: &dyn Queue) {
    let g = group();
    send_fifo(queue, &g, 0).await;
    let first = one_of_group(queue, &g, ONE_SECOND, "first delivery").await;
    let received_at = Instant::now();
    assert_eq!(first.receive_count, 1, "first delivery has receive_count 1");
    assert_eq!(
        first.group.as_deref(),
        Some(g.as_str()),
        "delivery carries its group"
    );
    let again = next_mine(
        queue,
        QueueName::Inbound,
        10,
        LONG,
        Duration::from_millis(300),
        &in_group(&g),
    )
    .await;
    assert!(
        again.is_empty() || received_at.elapsed() >= ONE_SECOND,
        "a message came back before its visibility timeout"
    );
    sleep(PAST_ONE_SECOND.saturating_sub(received_at.elapsed())).await;
    let second = one_of_group(queue, &g, LONG, "redelivery after the visibility timeout").await;
    assert_eq!(second.id, first.id, "the redelivered message keeps its id");
    assert_eq!(
        second.body, first.body,
        "the redelivered message keeps its body"
    );
    assert_eq!(second.receive_count, 2, "a redelivery has receive_count 2");
    ack(queue, QueueName::Inbound, &second).await;
}

/// An acked message never comes back.
pub async fn ack_is_final(queue: &dyn Queue) {
    let g = group();
    send_fifo(queue, &g, 0).await;
    let r = one_of_group(queue, &g, ONE_SECOND, "delivery").await;
    ack(queue, QueueName::Inbound, &r).await;
    sleep(PAST_ONE_SECOND).await;
    assert_none_of_group(
        queue,
        &g,
        "an acked message came back after its visibility timeout",
    )
    .await;
}

/// `retry_later` makes the message visible again after the delay and keeps its group's order.
pub async fn retry_later_keeps_order(queue: &dyn Queue) {
    let g = group();
    send_fifo(queue, &g, 0).await;
    send_fifo(queue, &g, 1).await;
    let first = one_of_group(queue, &g, LONG, "first delivery").await;
    assert_eq!(n_of(&first), 0, "the group starts with its first message");
    queue
        .retry_later(QueueName::Inbound, &first.receipt, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("retry_later failed: {e}"));
    let second = one_of_group(queue, &g, LONG, "retry_later(0) makes it visible now").await;
    assert_eq!(
        (second.id.as_str(), second.receive_count),
        (first.id.as_str(), 2),
        "after retry_later(0) the same message comes first again, with receive_count 2"
    );
    queue
        .retry_later(QueueName::Inbound, &second.receipt, ONE_SECOND)
        .await
        .unwrap_or_else(|e| panic!("retry_later failed: {e}"));
    let retried_at = Instant::now();
    let early = next_mine(
        queue,
        QueueName::Inbound,
        10,
        LONG,
        Duration::from_millis(300),
        &in_group(&g),
    )
    .await;
    assert!(
        early.is_empty() || retried_at.elapsed() >= ONE_SECOND,
        "during a retry_later delay the group must stay blocked, got {early:?}"
    );
    sleep(PAST_ONE_SECOND.saturating_sub(retried_at.elapsed())).await;
    let third = one_of_group(queue, &g, LONG, "after the retry delay").await;
    assert_eq!(
        (third.id.as_str(), third.receive_count),
        (first.id.as_str(), 3),
        "after the retry delay the same message comes back, with receive_count 3"
    );
    ack(queue, QueueName::Inbound, &third).await;
    let ns = drain_group(queue, &g, 1).await;
    assert_eq!(ns, vec![1], "then the group continues");
}

/// `dead_letter` moves the message at once with its reason and unblocks the group.
pub async fn dead_letter_with_reason(queue: &dyn Queue) {
    let g = group();
    send_fifo(queue, &g, 0).await;
    send_fifo(queue, &g, 1).await;
    let r = one_of_group(queue, &g, LONG, "delivery").await;
    let reason = format!("suite: malformed body {}", fresh());
    queue
        .dead_letter(QueueName::Inbound, &r.receipt, &reason)
        .await
        .unwrap_or_else(|e| panic!("dead_letter failed: {e}"));
    let dead = queue
        .dead_letters(QueueName::Inbound, 100)
        .await
        .unwrap_or_else(|e| panic!("dead_letters failed: {e}"));
    let entry = dead
        .iter()
        .find(|d| d.id == r.id)
        .unwrap_or_else(|| panic!("a dead-lettered message must be listed by dead_letters"));
    assert_eq!(entry.reason, reason, "dead_letters shows the reason");
    assert_eq!(entry.body, r.body, "dead_letters keeps the body");
    assert_eq!(entry.group, r.group, "dead_letters keeps the group");
    assert_eq!(
        entry.receive_count, 1,
        "dead_letters keeps the receive count"
    );
    assert!(
        dead.windows(2).all(|w| w[0].at >= w[1].at),
        "dead_letters must be newest first"
    );
    let ns = drain_group(queue, &g, 1).await;
    assert_eq!(ns, vec![1], "a dead-lettered message unblocks its group");
}

/// After 5 receives without an ack the message is dead-lettered, not delivered a 6th time.
pub async fn max_receives(queue: &dyn Queue) {
    let g = group();
    send_fifo(queue, &g, 0).await;
    send_fifo(queue, &g, 1).await;
    let mut id = String::new();
    for count in 1..=5 {
        let r = one_of_group(queue, &g, LONG, "delivery before max receives").await;
        assert_eq!(
            (n_of(&r), r.receive_count),
            (0, count),
            "the failing head is redelivered with a growing receive_count"
        );
        id.clone_from(&r.id);
        queue
            .retry_later(QueueName::Inbound, &r.receipt, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("retry_later failed: {e}"));
    }
    let next = one_of_group(queue, &g, LONG, "after max receives the group continues").await;
    assert_eq!(
        n_of(&next),
        1,
        "a message received 5 times must be dead-lettered, not delivered a 6th time"
    );
    ack(queue, QueueName::Inbound, &next).await;
    let dead = queue
        .dead_letters(QueueName::Inbound, 100)
        .await
        .unwrap_or_else(|e| panic!("dead_letters failed: {e}"));
    let entry = dead
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("a message over max receives must be listed by dead_letters"));
    assert!(
        entry.receive_count >= 5,
        "dead letter keeps its receive count"
    );
    assert!(!entry.reason.is_empty(), "dead letter has a reason");
}

/// The standard queue (`Timers`) works without groups.
pub async fn standard_queue(queue: &dyn Queue) {
    let marker = fresh();
    let is_mine = |r: &Received| r.body.contains(marker.as_str());
    for n in 0..2 {
        let outcome = queue
            .send(
                QueueName::Timers,
                OutgoingMessage::delayed(body(&marker, n), Duration::ZERO),
            )
            .await
            .unwrap_or_else(|e| panic!("send to the standard queue failed: {e}"));
        assert_eq!(outcome, SendOutcome::Enqueued, "a new message is Enqueued");
    }
    let mut ns = Vec::new();
    while ns.len() < 2 {
        let got = next_mine(queue, QueueName::Timers, 10, LONG, PATIENCE, &is_mine).await;
        assert!(
            !got.is_empty(),
            "messages of the standard queue must arrive"
        );
        for r in got {
            assert_eq!(r.group, None, "standard queue messages have no group");
            assert_eq!(r.receive_count, 1, "first delivery has receive_count 1");
            ns.push(n_of(&r));
            ack(queue, QueueName::Timers, &r).await;
        }
    }
    ns.sort_unstable();
    assert_eq!(
        ns,
        vec![0, 1],
        "each message of the standard queue arrives once"
    );
    let again = next_mine(queue, QueueName::Timers, 10, LONG, ABSENCE, &is_mine).await;
    assert!(
        again.is_empty(),
        "acked standard messages must not come back"
    );
}
