//! The SQLite database file shared by the store and the queue: connections, pragmas, schema.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `PRAGMA synchronous = NORMAL` (default). In WAL mode a committed transaction survives a
    /// crash or `kill -9` of the process; the last commits before an OS crash or a power loss
    /// can be rolled back (the database itself stays consistent).
    #[default]
    Normal,
    /// `PRAGMA synchronous = FULL`: every commit is fsynced to the WAL, so it also survives a
    /// power loss, at the cost of one fsync per write transaction.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Options of the SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability (see [`Synchronous`]).
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock held by another connection or process before
    /// the operation fails as `Unavailable`.
    pub busy_timeout: Duration,
    /// Read connections kept open (WAL lets them read while the writer writes).
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            readers: 4,
        }
    }
}

/// The database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused to open or migrate the file.
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The file could not be created or made owner-only.
    #[error("cannot create {path} readable by its owner only: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the SQLite writer thread for {path}: {source}")]
    Thread {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer omnidesk.
    #[error("the database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// The current schema version (`PRAGMA user_version`): the last migration's.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Schema version 1. Tables of the store, then of the queue (see the crate docs).
const SCHEMA_V1: &str = r#"
CREATE TABLE contacts (
    id            TEXT PRIMARY KEY NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    json          TEXT NOT NULL
);
CREATE TABLE identities (
    key        TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE
);
CREATE INDEX identities_contact ON identities(contact_id);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY NOT NULL,
    key              TEXT NOT NULL UNIQUE,
    contact_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    assignee_id      TEXT,
    last_activity_ms INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    json             TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_status ON conversations(status, last_activity_ms, id);
CREATE INDEX conversations_assignee ON conversations(assignee_id, last_activity_ms, id);
CREATE INDEX conversations_activity ON conversations(last_activity_ms, id);
-- A contact has few conversations: sorted after the lookup, and untouched by activity.
CREATE INDEX conversations_contact ON conversations(contact_id);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    source_key      TEXT UNIQUE,
    json            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;

CREATE TABLE agents (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    json          TEXT NOT NULL
);
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE bots (
    id   INTEGER PRIMARY KEY NOT NULL,
    json TEXT NOT NULL
);

CREATE TABLE ingest_dead_letters (
    received_at_ms INTEGER NOT NULL,
    id             TEXT NOT NULL,
    json           TEXT NOT NULL,
    PRIMARY KEY (received_at_ms, id)
);

CREATE TABLE connections (
    id              TEXT PRIMARY KEY NOT NULL,
    agent_id        TEXT NOT NULL,
    connected_at_ms INTEGER NOT NULL,
    json            TEXT NOT NULL
);
CREATE INDEX connections_age ON connections(connected_at_ms);

CREATE TABLE queue_messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    grp           TEXT,
    body          TEXT NOT NULL,
    not_before    INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    sent_at       INTEGER NOT NULL
);
CREATE INDEX queue_messages_visible ON queue_messages(queue, visible_at, seq);
CREATE INDEX queue_messages_group ON queue_messages(queue, grp, seq) WHERE grp IS NOT NULL;

CREATE TABLE queue_dedupe (
    queue      TEXT NOT NULL,
    dedupe_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedupe_id)
) WITHOUT ROWID;
CREATE INDEX queue_dedupe_expiry ON queue_dedupe(expires_at);

CREATE TABLE queue_dead_letters (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    id            TEXT NOT NULL,
    grp           TEXT,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    at_ms         INTEGER NOT NULL
);
CREATE INDEX queue_dead_letters_recent ON queue_dead_letters(queue, at_ms, seq);
"#;

/// Schema version 2: conversation lists are ordered by the minute of the last activity, then
/// id (`Conversation::list_rank`). The minute is a stored column, written by the store (from
/// `omnidesk_domain::activity_minute`) and filled here for existing rows (floor division, as
/// `div_euclid`); the list indexes move from `last_activity_ms` to it.
const MIGRATION_V2: &str = r#"
ALTER TABLE conversations ADD COLUMN activity_minute INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET activity_minute = CASE
    WHEN last_activity_ms >= 0 THEN last_activity_ms / 60000
    ELSE -((59999 - last_activity_ms) / 60000)
END;
DROP INDEX conversations_status;
DROP INDEX conversations_assignee;
DROP INDEX conversations_activity;
CREATE INDEX conversations_status ON conversations(status, activity_minute, id);
CREATE INDEX conversations_assignee ON conversations(assignee_id, activity_minute, id);
CREATE INDEX conversations_activity ON conversations(activity_minute, id);
"#;

/// Schema version 3: one conversation, several routing keys (a web chat continued on Telegram
/// owns both keys). Keys move to their own table (every existing key is copied); the
/// conversations table is rebuilt without its `UNIQUE` key column (the first key stays there
/// for reference, but a key released by one conversation may later start another). Websites
/// and single-use tokens (stored hashed) of the widget channel.
const MIGRATION_V3: &str = r#"
CREATE TABLE conversation_keys (
    key             TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversation_keys_conversation ON conversation_keys(conversation_id);
INSERT INTO conversation_keys (key, conversation_id) SELECT key, id FROM conversations;
CREATE TABLE conversations_v3 (
    id               TEXT PRIMARY KEY NOT NULL,
    key              TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    assignee_id      TEXT,
    last_activity_ms INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    json             TEXT NOT NULL,
    activity_minute  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO conversations_v3 (id, key, contact_id, status, assignee_id, last_activity_ms,
    version, json, activity_minute)
    SELECT id, key, contact_id, status, assignee_id, last_activity_ms, version, json,
    activity_minute FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_v3 RENAME TO conversations;
CREATE INDEX conversations_status ON conversations(status, activity_minute, id);
CREATE INDEX conversations_assignee ON conversations(assignee_id, activity_minute, id);
CREATE INDEX conversations_activity ON conversations(activity_minute, id);
CREATE INDEX conversations_contact ON conversations(contact_id);
CREATE TABLE websites (
    id   TEXT PRIMARY KEY NOT NULL,
    json TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE tokens (
    kind          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    owner         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    json          TEXT NOT NULL,
    PRIMARY KEY (kind, hash)
) WITHOUT ROWID;
CREATE INDEX tokens_owner ON tokens(kind, owner);
CREATE INDEX tokens_expiry ON tokens(expires_at_ms);
"#;

/// Schema version 4: the e-mail channel. Mailboxes by address; thread references (a
/// Message-ID or subject tag → an e-mail conversation key, first writer wins); raw mails that
/// could not be processed, listed newest first by `(received_at_ms, id)`.
const MIGRATION_V4: &str = r#"
CREATE TABLE mailboxes (
    address TEXT PRIMARY KEY NOT NULL,
    json    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE thread_refs (
    reference        TEXT PRIMARY KEY NOT NULL,
    conversation_key TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE unprocessable_mail (
    id             TEXT PRIMARY KEY NOT NULL,
    blob           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    source         TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX unprocessable_mail_recent ON unprocessable_mail(received_at_ms, id);
"#;

/// Schema version 5: what machine translation remembers. Cached translations by key, with
/// their expiry in milliseconds (indexed, so expired rows are pruned a few at a time by the
/// writes); each provider's characters per UTC day; and `settings`, one versioned JSON record
/// per name, where the glossary lives (name `glossary`).
///
/// The cache is an ordinary rowid table, not `WITHOUT ROWID` like the small mapping tables:
/// a translation is often larger than the few hundred bytes below which SQLite advises
/// keeping rows inside the key's B-tree.
const MIGRATION_V5: &str = r#"
CREATE TABLE translation_cache (
    key        TEXT PRIMARY KEY NOT NULL,
    json       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX translation_cache_expiry ON translation_cache(expires_at);
CREATE TABLE translation_usage (
    provider TEXT NOT NULL,
    day      TEXT NOT NULL,
    chars    INTEGER NOT NULL,
    PRIMARY KEY (provider, day)
) WITHOUT ROWID;
CREATE TABLE settings (
    name    TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    json    TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Schema version 6: what the AI knows and did. FAQ entries by id (their version is the row
/// `faq` of `settings`, stepped in the same transaction as the entries); AI calls by id, listed
/// newest first per conversation through `(conversation_id, at_ms, id)` and of all
/// conversations through `(at_ms, id)` (which also finds the old calls to prune).
///
/// Both are rowid tables: an entry's answer and a call's prompt are often kilobytes.
const MIGRATION_V6: &str = r#"
CREATE TABLE faq_entries (
    id         TEXT PRIMARY KEY NOT NULL,
    json       TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE ai_calls (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    json            TEXT NOT NULL
);
CREATE INDEX ai_calls_conversation ON ai_calls(conversation_id, at_ms, id);
CREATE INDEX ai_calls_recent ON ai_calls(at_ms, id);
"#;

/// Schema version 7: what routing reads besides conversations. Teams by name; the deployment's
/// routing rules, one row (`id` is always 1) with their version, stored only over the version
/// read (a conditional write in the writer's `BEGIN IMMEDIATE` transaction); canned
/// responses by shortcut.
///
/// All three are rowid tables: a team carries its prompts, a canned response is often a
/// paragraph, and a rules source can be hundreds of kilobytes.
const MIGRATION_V7: &str = r#"
CREATE TABLE teams (
    name TEXT PRIMARY KEY NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE routing_rules (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 1),
    json    TEXT NOT NULL
);
CREATE TABLE canned_responses (
    shortcut TEXT PRIMARY KEY NOT NULL,
    json     TEXT NOT NULL
);
"#;

/// Schema version 8: counters that end with a window (failed sign-ins per minute, hour,
/// day) carry when they may be forgotten; each such write deletes up to 32 expired ones.
const MIGRATION_V8: &str = r#"
ALTER TABLE counters ADD COLUMN expires_at_ms INTEGER;
CREATE INDEX counters_expiry ON counters(expires_at_ms) WHERE expires_at_ms IS NOT NULL;
"#;

/// Schema version 9: the audit log (append-only; each record deletes up to 32 entries past
/// their `keep_until_ms`).
const MIGRATION_V9: &str = r#"
CREATE TABLE audit_log (
    at_ms         INTEGER NOT NULL,
    id            TEXT NOT NULL,
    keep_until_ms INTEGER NOT NULL,
    json          TEXT NOT NULL,
    PRIMARY KEY (at_ms, id)
);
CREATE INDEX audit_log_expiry ON audit_log(keep_until_ms);
"#;

/// Schema version 10: an agent's TOTP secret (sealed), kept beside the record like the
/// password hash (the record is what the API shows).
const MIGRATION_V10: &str = r#"
ALTER TABLE agents ADD COLUMN totp_secret TEXT;
"#;

/// Schema version 11: which cached translations hold text of which conversation, so erasing a
/// conversation deletes them (pruned like the cache, by their expiry).
const MIGRATION_V11: &str = r#"
CREATE TABLE translation_links (
    conversation_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, key)
) WITHOUT ROWID;
CREATE INDEX translation_links_expiry ON translation_links(expires_at);
"#;

/// Migrations in order: `(version reached, SQL)`. A database at version `v` runs every
/// migration above `v`, each in its own transaction with the version bump.
const MIGRATIONS: [(i64, &str); 11] = [
    (1, SCHEMA_V1),
    (2, MIGRATION_V2),
    (3, MIGRATION_V3),
    (4, MIGRATION_V4),
    (5, MIGRATION_V5),
    (6, MIGRATION_V6),
    (7, MIGRATION_V7),
    (8, MIGRATION_V8),
    (9, MIGRATION_V9),
    (10, MIGRATION_V10),
    (11, MIGRATION_V11),
];

/// The database cannot serve a call (writer stopped, commit failed, task lost). The message
/// is for logs; callers map it to their port's "unavailable, retry" error.
#[derive(Debug)]
pub(crate) struct DbUnavailable(pub(crate) String);

/// Runs after the batch a job belongs to has committed (`None`) or failed (`Some(reason)`).
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;
/// A write job: runs on the writer thread inside the batch transaction (or is told why it
/// cannot run) and returns what to do once the batch is committed.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> Completion + Send>;

/// Write jobs committed together at most (group commit).
const MAX_BATCH: usize = 256;

/// One SQLite database.
///
/// Writes go to one writer thread that owns the write connection and commits *groups* of
/// jobs: it takes every job waiting in its channel (up to [`MAX_BATCH`]), runs each inside its
/// own savepoint of one `BEGIN IMMEDIATE` transaction (a failing job rolls back only itself),
/// commits once, and only then answers the callers. A WAL commit writes every page it
/// touched, so sharing one commit between concurrent callers is what makes thousands of small
/// writes per second possible. A caller hears "done" only after its write is durable.
///
/// Reads use a small pool of read connections, run inline on the caller's thread (WAL readers
/// never wait for the writer). In-memory databases have no readers (each `:memory:` connection would be a
/// different database): their reads are jobs of the writer thread too.
pub(crate) struct Db {
    path: Option<PathBuf>,
    options: SqliteOptions,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Dropping it stops the checkpointer thread.
    stop_checkpointer: Option<std::sync::mpsc::Sender<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish the queued jobs and close the file.
        self.jobs.take();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
        self.stop_checkpointer.take();
        if let Some(handle) = self.checkpointer.take() {
            let _ = handle.join();
        }
    }
}

const STATEMENT_CACHE: usize = 128;

impl Db {
    /// Opens (creating if needed) and migrates the database file at `path`.
    pub(crate) fn open(path: &Path, options: SqliteOptions) -> Result<Arc<Self>, OpenError> {
        let err = |source| OpenError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        // Owner-only before SQLite first writes it (its `-wal` and `-shm` files take the
        // database file's mode): it holds every conversation.
        crate::private_fs::ensure_file(path).map_err(|source| OpenError::File {
            path: path.display().to_string(),
            source,
        })?;
        let writer = Connection::open(path).map_err(err)?;
        configure(&writer, &options, true).map_err(err)?;
        migrate(&writer, &path.display().to_string())?;
        let mut readers = Vec::with_capacity(options.readers);
        for _ in 0..options.readers {
            readers.push(open_reader(path, &options).map_err(err)?);
        }
        Self::start(Some(path.to_path_buf()), options, writer, readers)
    }

    /// A private in-memory database (tests).
    pub(crate) fn open_in_memory(options: SqliteOptions) -> Result<Arc<Self>, OpenError> {
        let err = |source| OpenError::Sqlite {
            path: ":memory:".to_owned(),
            source,
        };
        let writer = Connection::open_in_memory().map_err(err)?;
        configure(&writer, &options, false).map_err(err)?;
        migrate(&writer, ":memory:")?;
        Self::start(None, options, writer, Vec::new())
    }

    fn start(
        path: Option<PathBuf>,
        options: SqliteOptions,
        writer: Connection,
        readers: Vec<Connection>,
    ) -> Result<Arc<Self>, OpenError> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let name = path
            .as_deref()
            .map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string());
        let thread_err = |source| OpenError::Thread {
            path: name.clone(),
            source,
        };
        let handle = std::thread::Builder::new()
            .name("omnidesk-sqlite-writer".to_owned())
            .spawn(move || writer_loop(&writer, &rx))
            .map_err(thread_err)?;
        let (stop_checkpointer, checkpointer) = match &path {
            Some(p) => {
                let conn = Connection::open(p)
                    .and_then(|c| configure(&c, &options, false).map(|()| c))
                    .map_err(|source| OpenError::Sqlite {
                        path: name.clone(),
                        source,
                    })?;
                let (stop, stopped) = std::sync::mpsc::channel::<()>();
                let handle = std::thread::Builder::new()
                    .name("omnidesk-sqlite-checkpoint".to_owned())
                    .spawn(move || checkpoint_loop(&conn, &stopped))
                    .map_err(thread_err)?;
                (Some(stop), Some(handle))
            }
            None => (None, None),
        };
        Ok(Arc::new(Self {
            path,
            options,
            jobs: Some(jobs),
            writer: Some(handle),
            stop_checkpointer,
            checkpointer,
            readers: Mutex::new(readers),
        }))
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` on a read connection (blocking). Reads see every committed write.
    fn read_blocking<T>(&self, path: &Path, f: impl FnOnce(&Connection) -> T) -> Result<T, String> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => open_reader(path, &self.options).map_err(|e| e.to_string())?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock();
        if pool.len() < self.options.readers.max(1) {
            pool.push(conn);
        }
        Ok(out)
    }

    /// Runs `f` as one write job: atomically (in its own savepoint; an `Err` rolls back what it
    /// wrote) and durably (the answer comes after the commit).
    pub(crate) async fn write_async<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbUnavailable> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: Result<&Connection, &str>| -> Completion {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, f),
                Err(why) => Err(E::from(DbUnavailable(why.to_owned()))),
            };
            Box::new(move |commit_failed: Option<&str>| {
                let result = match (result, commit_failed) {
                    (Ok(_), Some(why)) => {
                        Err(E::from(DbUnavailable(format!("commit failed: {why}"))))
                    }
                    (result, _) => result,
                };
                let _ = reply.send(result);
            })
        });
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            return Err(E::from(DbUnavailable(
                "the writer thread stopped".to_owned(),
            )));
        }
        answer.await.unwrap_or_else(|_| {
            Err(E::from(DbUnavailable(
                "the writer thread stopped".to_owned(),
            )))
        })
    }

    /// Runs `f` on a pooled reader (or on the writer thread for an in-memory database).
    pub(crate) async fn read_async<T, E, F>(self: &Arc<Self>, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbUnavailable> + Send + 'static,
    {
        if self.path.is_none() {
            return self.write_async(f).await;
        }
        // WAL readers never wait for the writer and a point read takes microseconds: running it
        // on the async worker is cheaper than two thread hand-offs through `spawn_blocking`
        // (measured: the hand-offs dominated the router's profile). The pool holds at most
        // `readers` connections; with more concurrent readers than that, extra ones are opened.
        let path = self.path.clone().unwrap_or_default();
        self.read_blocking(&path, f)
            .map_err(|e| E::from(DbUnavailable(format!("cannot open a reader: {e}"))))?
    }
}

impl Db {
    /// Copies the whole write-ahead log into the database file and truncates the log to
    /// zero bytes, so that no old copy of a deleted page stays in it (after an erasure). Waits
    /// for readers of older snapshots for a few seconds; a no-op in memory.
    pub(crate) async fn truncate_wal(&self) -> Result<(), String> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let options = self.options.clone();
        tokio::task::spawn_blocking(move || -> rusqlite::Result<()> {
            let conn = Connection::open(&path)?;
            configure(&conn, &options, false)?;
            for attempt in 0..20 {
                let busy: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(());
                }
                tracing::debug!(attempt, "WAL truncation waits for readers");
                std::thread::sleep(Duration::from_millis(100));
            }
            tracing::warn!("the WAL could not be truncated: readers kept it busy");
            Ok(())
        })
        .await
        .map_err(|e| format!("WAL truncation task: {e}"))?
        .map_err(|e| format!("WAL truncation: {e}"))
    }
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL pages after which the writer itself checkpoints (a backstop: normally the
/// checkpointer thread keeps the WAL well below this).
const WAL_BACKSTOP_PAGES: i64 = 10_000;

/// The checkpointer thread: passive checkpoints off the writer's path until stopped, so the
/// writer never stalls copying the WAL back into the database file.
fn checkpoint_loop(conn: &Connection, stop: &std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY)
    {
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => {}
            Ok(_) => tracing::debug!("passive WAL checkpoint was busy"),
            Err(e) => tracing::debug!(error = %e, "passive WAL checkpoint failed"),
        }
    }
}

/// The writer thread: group commit until every sender is gone.
fn writer_loop(conn: &Connection, jobs: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = e.to_string();
            tracing::warn!(error = %why, "SQLite writer cannot begin a transaction");
            first(Err(&why))(Some(&why));
            continue;
        }
        let mut completions = vec![first(Ok(conn))];
        // A job whose error made SQLite roll back the whole transaction ends the batch.
        while completions.len() < MAX_BATCH && !conn.is_autocommit() {
            match jobs.try_recv() {
                Ok(job) => completions.push(job(Ok(conn))),
                Err(_) => break,
            }
        }
        let committed = if conn.is_autocommit() {
            Err("the transaction was rolled back by an error".to_owned())
        } else {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                e.to_string()
            })
        };
        if let Err(why) = &committed {
            tracing::warn!(error = %why, jobs = completions.len(), "SQLite batch not committed");
        }
        let failed = committed.err();
        for done in completions {
            done(failed.as_deref());
        }
    }
}

/// Runs `f` inside a savepoint: released on `Ok`, rolled back on `Err` or panic.
fn in_savepoint<T, E, F>(conn: &Connection, f: F) -> Result<T, E>
where
    F: FnOnce(&Connection) -> Result<T, E>,
    E: From<DbUnavailable>,
{
    let exec = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    if let Err(e) = exec("SAVEPOINT job") {
        return Err(E::from(DbUnavailable(e.to_string())));
    }
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    let out = match out {
        Ok(out) => out,
        Err(_) => Err(E::from(DbUnavailable("a write job panicked".to_owned()))),
    };
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (I/O error, full disk…).
        return out.and_then(|_| {
            Err(E::from(DbUnavailable(
                "the transaction was rolled back".to_owned(),
            )))
        });
    }
    let end = if out.is_ok() {
        exec("RELEASE job")
    } else {
        exec("ROLLBACK TO job").and_then(|_| exec("RELEASE job"))
    };
    match end {
        Ok(_) => out,
        Err(e) => out.and_then(|_| Err(E::from(DbUnavailable(e.to_string())))),
    }
}

fn open_reader(path: &Path, options: &SqliteOptions) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn, options, false)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn configure(conn: &Connection, options: &SqliteOptions, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    if writer {
        // Persistent in the file; returns the resulting mode (`memory` for in-memory).
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.pragma_update(None, "cache_size", -16_000)?;
        // Deleted rows are overwritten with zeros, on their pages and on freed ones: an
        // erased customer's text is not left readable in the file.
        conn.pragma_update(None, "secure_delete", true)?;
    }
    conn.pragma_update(None, "synchronous", options.synchronous.pragma())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

pub(crate) fn migrate(conn: &Connection, path: &str) -> Result<(), OpenError> {
    let err = |source| OpenError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (target, sql) in MIGRATIONS {
        if version < target {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {target};\nCOMMIT;"
            ))
            .map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                err(e)
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(db: &Db, path: &Path, name: &str) -> String {
        db.read_blocking(path, |c| {
            c.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .unwrap()
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
    }

    #[test]
    fn opening_twice_keeps_wal_mode_the_schema_and_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(pragma(&db, &path, "journal_mode"), "wal");
        drop(db);
        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            pragma(&db, &path, "user_version"),
            SCHEMA_VERSION.to_string()
        );
        assert_eq!(pragma(&db, &path, "foreign_keys"), "1");
        assert_eq!(pragma(&db, &path, "synchronous"), "1", "NORMAL by default");
    }

    #[test]
    fn full_synchronous_is_selectable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let options = SqliteOptions {
            synchronous: Synchronous::Full,
            ..SqliteOptions::default()
        };
        let db = Db::open(&path, options).unwrap();
        assert_eq!(pragma(&db, &path, "synchronous"), "2");
    }

    #[test]
    fn a_version_1_file_is_migrated_to_minute_ordered_conversation_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(&format!("{SCHEMA_V1}\nPRAGMA user_version = 1;"))
            .unwrap();
        for (id, ms) in [
            ("cv_a", 1_700_000_059_999_i64),
            ("cv_b", -1),
            ("cv_c", -60_001),
        ] {
            old.execute(
                "INSERT INTO conversations (id, key, contact_id, status, assignee_id, \
                 last_activity_ms, version, json) VALUES (?1, ?1, 'ct', 'bot', NULL, ?2, 0, '{}')",
                rusqlite::params![id, ms],
            )
            .unwrap();
        }
        drop(old);

        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            pragma(&db, &path, "user_version"),
            SCHEMA_VERSION.to_string()
        );
        // Version 3: every existing key leads to its conversation from the keys table.
        let keys: Vec<(String, String)> = db
            .read_blocking(&path, |c| {
                let mut s = c
                    .prepare("SELECT key, conversation_id FROM conversation_keys ORDER BY key")
                    .unwrap();
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            })
            .unwrap();
        assert_eq!(
            keys,
            ["cv_a", "cv_b", "cv_c"].map(|k| (k.to_owned(), k.to_owned())),
            "existing keys are copied to the keys table"
        );
        let minutes: Vec<(String, i64)> = db
            .read_blocking(&path, |c| {
                let mut s = c
                    .prepare("SELECT id, activity_minute FROM conversations ORDER BY id")
                    .unwrap();
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            })
            .unwrap();
        let expected = |id: &str, ms: i64| {
            (
                id.to_owned(),
                omnidesk_domain::activity_minute(omnidesk_domain::Timestamp::from_millis(ms)),
            )
        };
        assert_eq!(
            minutes,
            vec![
                expected("cv_a", 1_700_000_059_999),
                expected("cv_b", -1),
                expected("cv_c", -60_001)
            ],
            "existing rows get the minute of their last activity, floored like the domain's"
        );
        let indexed: Vec<String> = db
            .read_blocking(&path, |c| {
                let mut s = c
                    .prepare(
                        "SELECT name FROM pragma_index_info('conversations_activity') ORDER BY seqno",
                    )
                    .unwrap();
                s.query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            })
            .unwrap();
        assert_eq!(indexed, ["activity_minute", "id"]);
    }

    #[test]
    fn a_version_4_file_gains_the_translation_tables_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..4] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 4; \
             INSERT INTO mailboxes (address, json) VALUES ('a@example.com', '{}');",
        )
        .unwrap();
        drop(old);

        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            pragma(&db, &path, "user_version"),
            SCHEMA_VERSION.to_string()
        );
        let (mailboxes, tables): (i64, Vec<String>) = db
            .read_blocking(&path, |c| {
                let mailboxes = c
                    .query_row("SELECT count(*) FROM mailboxes", [], |r| r.get(0))
                    .unwrap();
                let mut s = c
                    .prepare(
                        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN \
                         ('translation_cache', 'translation_usage', 'settings') ORDER BY name",
                    )
                    .unwrap();
                let tables = s
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                (mailboxes, tables)
            })
            .unwrap();
        assert_eq!(mailboxes, 1, "existing data stays");
        assert_eq!(
            tables,
            ["settings", "translation_cache", "translation_usage"]
        );
    }

    #[test]
    fn a_version_5_file_gains_the_ai_tables_and_keeps_its_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..5] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 5; \
             INSERT INTO settings (name, version, json) VALUES ('glossary', 3, '{}');",
        )
        .unwrap();
        drop(old);

        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            pragma(&db, &path, "user_version"),
            SCHEMA_VERSION.to_string()
        );
        let (glossary, names): (i64, Vec<String>) = db
            .read_blocking(&path, |c| {
                let glossary = c
                    .query_row(
                        "SELECT version FROM settings WHERE name = 'glossary'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                let mut s = c
                    .prepare(
                        "SELECT name FROM sqlite_schema WHERE name IN ('faq_entries', \
                         'ai_calls', 'ai_calls_conversation', 'ai_calls_recent') ORDER BY name",
                    )
                    .unwrap();
                let names = s
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                (glossary, names)
            })
            .unwrap();
        assert_eq!(glossary, 3, "existing settings stay");
        assert_eq!(
            names,
            [
                "ai_calls",
                "ai_calls_conversation",
                "ai_calls_recent",
                "faq_entries"
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_on_a_migrated_version_5_file_passes_the_ai_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..5] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch("PRAGMA user_version = 5;").unwrap();
        drop(old);
        let store =
            crate::SqliteStore::open(&path, std::sync::Arc::new(omnidesk_core::SystemClock))
                .unwrap();
        omnidesk_core::testing::store_suite::ai_store_on_an_empty_store(&store).await;
    }

    #[test]
    fn a_version_6_file_gains_the_routing_tables_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..6] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 6; \
             INSERT INTO settings (name, version, json) VALUES ('faq', 4, '{}'); \
             INSERT INTO faq_entries (id, json, updated_ms) VALUES ('faq_a', '{}', 0);",
        )
        .unwrap();
        drop(old);

        let db = Db::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            pragma(&db, &path, "user_version"),
            SCHEMA_VERSION.to_string()
        );
        let (kept, names): ((i64, i64), Vec<String>) = db
            .read_blocking(&path, |c| {
                let kept = c
                    .query_row(
                        "SELECT (SELECT version FROM settings WHERE name = 'faq'), \
                         (SELECT count(*) FROM faq_entries)",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                let mut s = c
                    .prepare(
                        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN \
                         ('teams', 'routing_rules', 'canned_responses') ORDER BY name",
                    )
                    .unwrap();
                let names = s
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                (kept, names)
            })
            .unwrap();
        assert_eq!(kept, (4, 1), "existing data stays");
        assert_eq!(names, ["canned_responses", "routing_rules", "teams"]);
    }

    #[test]
    fn the_rules_table_holds_one_row_and_never_version_0() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn, ":memory:").unwrap();
        assert!(
            conn.execute(
                "INSERT INTO routing_rules (id, version, json) VALUES (2, 1, '{}')",
                []
            )
            .is_err(),
            "a second row is refused"
        );
        assert!(
            conn.execute(
                "INSERT INTO routing_rules (id, version, json) VALUES (1, 0, '{}')",
                []
            )
            .is_err(),
            "version 0 is never stored"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_on_a_migrated_version_6_file_passes_the_routing_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..6] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch("PRAGMA user_version = 6;").unwrap();
        drop(old);
        let store =
            crate::SqliteStore::open(&path, std::sync::Arc::new(omnidesk_core::SystemClock))
                .unwrap();
        omnidesk_core::testing::store_suite::routing_store_on_an_empty_store(&store).await;
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(
            Db::open(&path, SqliteOptions::default()),
            Err(OpenError::SchemaTooNew { found: 99, .. })
        ));
    }
}

#[cfg(test)]
mod statement_cache_tests {
    use super::*;

    /// SQLite built with STAT4 re-prepares a statement whose plan depends on a bound value
    /// each time that value is bound again; the hot statements must not depend on theirs.
    #[test]
    fn hot_statements_are_not_prepared_again_when_rebound() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA_V1).unwrap();
        let statements = [
            ("receive", crate::queue::receive_sql(10), 2),
            ("promote", crate::queue::PROMOTE_SQL.to_owned(), 3),
        ];
        for (name, sql, n) in statements {
            let mut stmt = c.prepare(&sql).unwrap();
            for round in 0..3i64 {
                let args: Vec<rusqlite::types::Value> = (0..n)
                    .map(|i| rusqlite::types::Value::Integer(round * 100 + i))
                    .collect();
                let mut rows = stmt.query(rusqlite::params_from_iter(args)).unwrap();
                while let Ok(Some(_)) = rows.next() {}
            }
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{name} was prepared again"
            );
        }
    }
}
