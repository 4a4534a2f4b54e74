//! [`SqliteQueue`]: durable queues with SQS semantics in the SQLite database file.
//!
//! One row per message in `queue_messages`. Only the *head* of a FIFO group (its oldest
//! message) can ever be visible: later messages of the group are stored with
//! `visible_at = BLOCKED` and the next one is promoted (its `visible_at` set to its own
//! `not_before`) when the head is acked or dead-lettered. A head in flight has `visible_at` =
//! its visibility deadline, so the whole group waits for it, and the deadline is in the file,
//! so an unacked message comes back after a restart. `receive` is then one range scan of the
//! index `(queue, visible_at, seq)`, whatever the number of groups or the backlog per group.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use omnidesk_core::{
    Clock, DeadLettered, OutgoingMessage, Queue, QueueError, QueueName, Received, SendOutcome,
};
use omnidesk_domain::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokio::sync::Notify;

use crate::SqliteStore;
use crate::db::{Db, DbUnavailable, OpenError, SqliteOptions};

/// `visible_at` of a message waiting behind the head of its group.
const BLOCKED: i64 = i64::MAX;
/// SQS limits.
const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_ID_CHARS: usize = 128;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Expired dedupe ids are pruned every this many sends.
const PRUNE_EVERY: u64 = 1024;

/// Options of [`SqliteQueue`].
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Deliveries without an ack after which a message is dead-lettered (SQS `maxReceiveCount`).
    pub max_receives: u32,
    /// How long a deduplication id is remembered (at least 5 minutes, SQS's window).
    pub dedupe_window: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            max_receives: 5,
            dedupe_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

struct Inner {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
    options: QueueOptions,
    notifiers: [Arc<Notify>; QueueName::ALL.len()],
    sends: AtomicU64,
}

/// Durable queues (inbound, outbound, timers) in the SQLite file, with the guarantees of the
/// [`Queue`] port. Cheap to clone; clones share connections and notifiers.
#[derive(Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

impl SqliteQueue {
    /// Its database (for [`crate::SqliteStore::settle_with`]).
    pub(crate) fn db(&self) -> Arc<Db> {
        self.inner.db.clone()
    }
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("db", &self.inner.db)
            .field("options", &self.inner.options)
            .finish()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

// By value so it reads `.map_err(q_err)`.
#[allow(clippy::needless_pass_by_value)]
fn q_err(e: rusqlite::Error) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl From<DbUnavailable> for QueueError {
    fn from(e: DbUnavailable) -> Self {
        QueueError::Unavailable(e.0)
    }
}

fn stale(receipt: &str) -> QueueError {
    QueueError::StaleReceipt(format!("receipt {receipt} is unknown or expired"))
}

/// Receipts are `<seq>:<receive count>`: unique per delivery (seq is never reused).
fn receipt_seq(receipt: &str) -> Result<i64, QueueError> {
    receipt
        .split_once(':')
        .and_then(|(seq, _)| seq.parse().ok())
        .ok_or_else(|| stale(receipt))
}

fn validate(m: &OutgoingMessage) -> Result<(), QueueError> {
    if m.body.len() > MAX_BODY_BYTES {
        return Err(QueueError::Refused(format!(
            "body of {} bytes exceeds {MAX_BODY_BYTES}",
            m.body.len()
        )));
    }
    for (what, v) in [("group", &m.group), ("deduplication id", &m.dedupe_id)] {
        if let Some(v) = v
            && (v.is_empty() || v.chars().count() > MAX_ID_CHARS)
        {
            return Err(QueueError::Refused(format!(
                "{what} must have 1 to {MAX_ID_CHARS} characters"
            )));
        }
    }
    Ok(())
}

impl SqliteQueue {
    /// Queues in the same database as `store`, sharing its connections (one writer for the
    /// whole file) and its clock.
    pub fn new(store: &SqliteStore, options: QueueOptions) -> Self {
        Self::from_db(Arc::clone(&store.db), Arc::clone(&store.clock), options)
    }

    /// Opens (creating and migrating if needed) the database file at `path` with its own
    /// connections. Two writers on one file wait for each other, so give the queues a file of
    /// their own (the embedded runtime does: a webhook's enqueue then never waits behind the
    /// router's store writes) or share the store's with [`SqliteQueue::new`].
    pub fn open(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: QueueOptions,
    ) -> Result<Self, OpenError> {
        Self::open_with(path, clock, options, SqliteOptions::default())
    }

    /// [`SqliteQueue::open`] with explicit database options (e.g. `Synchronous::Full`).
    pub fn open_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: QueueOptions,
        db: SqliteOptions,
    ) -> Result<Self, OpenError> {
        Ok(Self::from_db(Db::open(path, db)?, clock, options))
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory(clock: Arc<dyn Clock>, options: QueueOptions) -> Result<Self, OpenError> {
        Ok(Self::from_db(
            Db::open_in_memory(SqliteOptions::default())?,
            clock,
            options,
        ))
    }

    fn from_db(db: Arc<Db>, clock: Arc<dyn Clock>, options: QueueOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                options,
                notifiers: std::array::from_fn(|_| Arc::new(Notify::new())),
                sends: AtomicU64::new(0),
            }),
        }
    }

    /// The database file (`None` in memory).
    pub fn database_path(&self) -> Option<&Path> {
        self.inner.db.path()
    }

    /// Signalled (`notify_one`) whenever a message of `queue` may have become receivable
    /// through this handle (send, ack or dead-letter unblocking a group, retry without delay).
    /// Messages that become visible by the passing of time are not signalled: see
    /// [`SqliteQueue::wait_for_work`].
    pub fn notifier(&self, queue: QueueName) -> Arc<Notify> {
        Arc::clone(&self.inner.notifiers[Self::slot(queue)])
    }

    /// Waits until `queue` may have work: a notification, the moment the next delayed or
    /// in-flight message becomes visible, or `max_wait`, whichever comes first. Returns at
    /// once if a message is visible now. Local workers call this between empty receives
    /// instead of polling.
    pub async fn wait_for_work(&self, queue: QueueName, max_wait: Duration) {
        let notified = self.notifier(queue);
        let notified = notified.notified();
        let wait = match self.next_visible_in(queue).await {
            Ok(Some(d)) => d.min(max_wait),
            Ok(None) => max_wait,
            Err(_) => max_wait.min(Duration::from_secs(1)),
        };
        if wait.is_zero() {
            return;
        }
        let _ = tokio::time::timeout(wait, notified).await;
    }

    /// How long until the next message of `queue` becomes visible (`Some(0)` = one is visible
    /// now; `None` = nothing is waiting except messages blocked behind their group's head).
    pub async fn next_visible_in(&self, queue: QueueName) -> Result<Option<Duration>, QueueError> {
        let q = queue.as_str();
        let next: Option<i64> = self
            .inner
            .db
            .read_async(move |conn| {
                conn.prepare_cached(
                    "SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1 || '' AND visible_at < ?2",
                )
                .and_then(|mut s| s.query_row(params![q, BLOCKED], |r| r.get(0)))
                .map_err(q_err)
            })
            .await?;
        let now = self.now_ms();
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0))))
    }

    fn slot(queue: QueueName) -> usize {
        match queue {
            QueueName::Inbound => 0,
            QueueName::Outbound => 1,
            QueueName::Timers => 2,
            QueueName::Media => 3,
            QueueName::Translate => 4,
            QueueName::Ai => 5,
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().millis()
    }

    fn notify(&self, queue: QueueName) {
        self.inner.notifiers[Self::slot(queue)].notify_one();
    }

    /// Runs `f` as one atomic, durable write job.
    async fn write_tx<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<T, QueueError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.db.write_async(f).await
    }
}

/// Makes the oldest message of group `?2` of queue `?1` visible if it is blocked (`?3`).
pub(crate) const PROMOTE_SQL: &str = "UPDATE queue_messages SET visible_at = not_before \
     WHERE seq = (SELECT MIN(seq) FROM queue_messages WHERE queue = ?1 || '' AND grp = ?2 || '') \
     AND visible_at = ?3";

/// Makes the oldest message of `group` (now its head) visible at its own `not_before`.
/// Returns whether one was waiting.
fn promote_next(tx: &rusqlite::Connection, queue: &str, group: &str) -> Result<bool, QueueError> {
    let n = tx
        .prepare_cached(PROMOTE_SQL)
        .and_then(|mut s| s.execute(params![queue, group, BLOCKED]))
        .map_err(q_err)?;
    Ok(n > 0)
}

/// The oldest visible messages of a queue (`?1` queue, `?2` now). `?1 || ''` and the literal
/// limit keep SQLite (built with STAT4) from re-preparing the statement at every call.
pub(crate) fn receive_sql(limit: i64) -> String {
    format!(
        "SELECT seq, grp, body, receive_count FROM queue_messages \
         WHERE queue = ?1 || '' AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT {limit}"
    )
}

struct Row {
    seq: i64,
    group: Option<String>,
    body: String,
    receive_count: i64,
}

/// Moves a message to `queue_dead_letters` and unblocks its group. Returns whether a next
/// message of the group was promoted.
fn move_to_dead_letters(
    tx: &rusqlite::Connection,
    queue: &str,
    row: &Row,
    reason: &str,
    now: i64,
) -> Result<bool, QueueError> {
    tx.prepare_cached(
        "INSERT INTO queue_dead_letters (queue, id, grp, body, receive_count, reason, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            queue,
            row.seq.to_string(),
            row.group,
            row.body,
            row.receive_count,
            reason,
            now
        ])
    })
    .map_err(q_err)?;
    tx.prepare_cached("DELETE FROM queue_messages WHERE seq = ?1")
        .and_then(|mut s| s.execute([row.seq]))
        .map_err(q_err)?;
    match &row.group {
        Some(g) => promote_next(tx, queue, g),
        None => Ok(false),
    }
}

/// The in-flight message of this delivery: `StaleReceipt` if the receipt is not current.
fn delivered(tx: &rusqlite::Connection, queue: &str, receipt: &str) -> Result<Row, QueueError> {
    let seq = receipt_seq(receipt)?;
    let row: Option<(Row, Option<String>)> = tx
        .prepare_cached(
            "SELECT grp, body, receive_count, receipt FROM queue_messages \
             WHERE seq = ?1 AND queue = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![seq, queue], |r| {
                Ok((
                    Row {
                        seq,
                        group: r.get(0)?,
                        body: r.get(1)?,
                        receive_count: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            })
            .optional()
        })
        .map_err(q_err)?;
    match row {
        Some((row, Some(current))) if current == receipt => Ok(row),
        _ => Err(stale(receipt)),
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(
        &self,
        queue: QueueName,
        message: OutgoingMessage,
    ) -> Result<SendOutcome, QueueError> {
        validate(&message)?;
        let now = self.now_ms();
        let not_before = now + ms(message.delay.min(MAX_DELAY));
        let dedupe_until = now.saturating_add(ms(self.inner.options.dedupe_window));
        let prune = self
            .inner
            .sends
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY);
        let q = queue.as_str();
        let outcome = self
            .inner
            .db
            .write_async(move |conn| {
                let tx = conn;
                if prune {
                    tx.prepare_cached("DELETE FROM queue_dedupe WHERE expires_at <= ?1")
                        .and_then(|mut s| s.execute([now]))
                        .map_err(q_err)?;
                }
                if let Some(d) = &message.dedupe_id {
                    let accepted = tx
                        .prepare_cached(
                            "INSERT INTO queue_dedupe (queue, dedupe_id, expires_at) \
                             VALUES (?1, ?2, ?3) ON CONFLICT (queue, dedupe_id) \
                             DO UPDATE SET expires_at = excluded.expires_at \
                             WHERE queue_dedupe.expires_at <= ?4",
                        )
                        .and_then(|mut s| s.execute(params![q, d, dedupe_until, now]))
                        .map_err(q_err)?;
                    if accepted == 0 {
                        return Ok::<_, QueueError>(SendOutcome::Duplicate);
                    }
                }
                let blocked = match &message.group {
                    Some(g) => tx
                        .prepare_cached(
                            "SELECT 1 FROM queue_messages WHERE queue = ?1 AND grp = ?2 LIMIT 1",
                        )
                        .and_then(|mut s| s.exists(params![q, g]))
                        .map_err(q_err)?,
                    None => false,
                };
                let visible_at = if blocked { BLOCKED } else { not_before };
                tx.prepare_cached(
                    "INSERT INTO queue_messages (queue, grp, body, not_before, visible_at, sent_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        q,
                        message.group,
                        message.body,
                        not_before,
                        visible_at,
                        now
                    ])
                })
                .map_err(q_err)?;
                Ok(SendOutcome::Enqueued)
            })
            .await?;
        if outcome == SendOutcome::Enqueued {
            self.notify(queue);
        }
        Ok(outcome)
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let hidden_until = now.saturating_add(ms(visibility));
        let max_receives = i64::from(self.inner.options.max_receives.max(1));
        let q = queue.as_str();
        let (out, promoted) = self
            .write_tx(move |tx| {
                let mut out: Vec<Received> = Vec::new();
                let mut taken: HashSet<i64> = HashSet::new();
                let mut promoted = false;
                loop {
                    let want = i64::try_from(max - out.len()).unwrap_or(i64::MAX);
                    let rows: Vec<Row> = {
                        let mut stmt = tx.prepare_cached(&receive_sql(want)).map_err(q_err)?;
                        let rows = stmt
                            .query_map(params![q, now], |r| {
                                Ok(Row {
                                    seq: r.get(0)?,
                                    group: r.get(1)?,
                                    body: r.get(2)?,
                                    receive_count: r.get(3)?,
                                })
                            })
                            .map_err(q_err)?;
                        rows.collect::<Result<_, _>>().map_err(q_err)?
                    };
                    let mut dead_lettered = false;
                    for row in rows {
                        if !taken.insert(row.seq) {
                            continue;
                        }
                        if row.receive_count >= max_receives {
                            promoted |=
                                move_to_dead_letters(tx, q, &row, "max receives exceeded", now)?;
                            dead_lettered = true;
                            continue;
                        }
                        let count = row.receive_count + 1;
                        let receipt = format!("{}:{count}", row.seq);
                        tx.prepare_cached(
                            "UPDATE queue_messages SET receive_count = ?2, receipt = ?3, \
                             visible_at = ?4 WHERE seq = ?1",
                        )
                        .and_then(|mut s| s.execute(params![row.seq, count, receipt, hidden_until]))
                        .map_err(q_err)?;
                        out.push(Received {
                            id: row.seq.to_string(),
                            receipt,
                            body: row.body,
                            group: row.group,
                            receive_count: u32::try_from(count).unwrap_or(u32::MAX),
                        });
                    }
                    // Dead-lettering may have unblocked groups: look again.
                    if !dead_lettered || out.len() >= max {
                        break;
                    }
                }
                Ok((out, promoted))
            })
            .await?;
        if promoted && out.len() >= max {
            self.notify(queue);
        }
        Ok(out)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let q = queue.as_str();
        let receipt = receipt.to_owned();
        let promoted = self
            .write_tx(move |tx| {
                let row = delivered(tx, q, &receipt)?;
                tx.prepare_cached("DELETE FROM queue_messages WHERE seq = ?1")
                    .and_then(|mut s| s.execute([row.seq]))
                    .map_err(q_err)?;
                match &row.group {
                    Some(g) => promote_next(tx, q, g),
                    None => Ok(false),
                }
            })
            .await?;
        if promoted {
            self.notify(queue);
        }
        Ok(())
    }

    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let q = queue.as_str();
        let receipt = receipt.to_owned();
        let visible_at = self.now_ms().saturating_add(ms(delay.min(MAX_DELAY * 48)));
        self.write_tx(move |tx| {
            let row = delivered(tx, q, &receipt)?;
            tx.prepare_cached("UPDATE queue_messages SET visible_at = ?2 WHERE seq = ?1")
                .and_then(|mut s| s.execute(params![row.seq, visible_at]))
                .map_err(q_err)?;
            Ok(())
        })
        .await?;
        if delay.is_zero() {
            self.notify(queue);
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        queue: QueueName,
        receipt: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        let q = queue.as_str();
        let receipt = receipt.to_owned();
        let reason = reason.to_owned();
        let now = self.now_ms();
        let promoted = self
            .write_tx(move |tx| {
                let row = delivered(tx, q, &receipt)?;
                move_to_dead_letters(tx, q, &row, &reason, now)
            })
            .await?;
        if promoted {
            self.notify(queue);
        }
        Ok(())
    }

    async fn dead_letters(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<Vec<DeadLettered>, QueueError> {
        let q = queue.as_str();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.inner
            .db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT id, grp, body, receive_count, reason, at_ms FROM queue_dead_letters \
                         WHERE queue = ?1 || '' ORDER BY at_ms DESC, seq DESC LIMIT {limit}"
                    ))
                    .map_err(q_err)?;
                let rows = stmt
                    .query_map(params![q], |r| {
                        Ok(DeadLettered {
                            id: r.get(0)?,
                            group: r.get(1)?,
                            body: r.get(2)?,
                            receive_count: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
                            reason: r.get(4)?,
                            at: Timestamp::from_millis(r.get(5)?),
                        })
                    })
                    .map_err(q_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(q_err)
            })
            .await
    }
}
