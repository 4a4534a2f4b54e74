//! [`SqliteStore`]: every store port on one SQLite file.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use omnidesk_core::{
    AgentStore, AppendOutcome, AuditEntry, AuditStore, BotConfig, BotStore, Clock, Connection,
    ConnectionId, ConnectionStore, ContactStore, ConversationFilter, ConversationStore, DeadLetter,
    DeadLetterStore, MessageStore, Page, PageRequest, StoreError, StoreResult, StoredToken,
    TokenKind, WebStore, Website,
};
use omnidesk_domain::{
    Agent, AgentId, BotId, ChannelRef, Contact, ContactId, Conversation, ConversationId,
    ConversationKey, Delivery, EmailAddress, Identity, IdentityKey, Message, MessageContent,
    MessageId, Timestamp, WebsiteId,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::{Db, DbUnavailable, OpenError, SqliteOptions};

/// How long a WebSocket connection is listed (API Gateway's maximum connection duration).
const CONNECTION_TTL_MS: i64 = 2 * 60 * 60 * 1000;
/// How long an ingest dead letter is kept at least.
const DEAD_LETTER_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Every store port (contacts, conversations, messages, agents, bots, dead letters,
/// connections) on one SQLite database file. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) db: Arc<Db>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Other databases whose write-ahead logs an erasure truncates too (the queues' file: its
    /// jobs carried the messages).
    pub(crate) companions: Arc<parking_lot::Mutex<Vec<Arc<Db>>>>,
    /// Seals bot tokens, webhook secrets and identity secrets at rest; `None`: stored plain.
    pub(crate) sealing: Option<Arc<omnidesk_core::sealing::Sealing>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("db", &self.db).finish()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database file at `path` with the default
    /// [`SqliteOptions`].
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        Self::open_with(path, clock, SqliteOptions::default())
    }

    /// Opens the database file at `path` with explicit options.
    pub fn open_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: SqliteOptions,
    ) -> Result<Self, OpenError> {
        Ok(Self {
            db: Db::open(path, options)?,
            clock,
            companions: Arc::default(),
            sealing: None,
        })
    }

    /// A private in-memory database (for tests; nothing is persisted). Share it with a queue
    /// through [`crate::SqliteQueue::new`].
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        Ok(Self {
            db: Db::open_in_memory(SqliteOptions::default())?,
            clock,
            companions: Arc::default(),
            sealing: None,
        })
    }

    /// Seals secrets at rest under `sealing` (bots' tokens and webhook secrets, websites'
    /// identity secrets); a plain value stored before reads as it is.
    #[must_use]
    pub fn with_sealing(mut self, sealing: Arc<omnidesk_core::sealing::Sealing>) -> Self {
        self.sealing = Some(sealing);
        self
    }

    /// Seals the secrets of bots and websites stored plain by a build before sealing: one write
    /// for each such record (and the write-ahead log truncated after), none when every secret
    /// is sealed already. Returns how many records it sealed.
    pub async fn seal_plain_secrets(&self) -> StoreResult<usize> {
        use omnidesk_core::sealing::is_sealed;
        if self.sealing.is_none() {
            return Ok(0);
        }
        let (bots, websites) = self
            .db
            .read_async(|conn| {
                let rows = |sql: &str| -> StoreResult<Vec<String>> {
                    let mut stmt = conn.prepare(sql).map_err(sql_err)?;
                    let rows = stmt.query_map([], |r| r.get(0)).map_err(sql_err)?;
                    rows.map(|r| r.map_err(sql_err)).collect()
                };
                let bots = rows("SELECT json FROM bots")?
                    .iter()
                    .map(|j| from_json::<BotConfig>("bot", j))
                    .collect::<StoreResult<Vec<_>>>()?;
                let websites = rows("SELECT json FROM websites")?
                    .iter()
                    .map(|j| from_json::<Website>("website", j))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok::<_, StoreError>((bots, websites))
            })
            .await?;
        let mut sealed = 0;
        for bot in bots
            .into_iter()
            .filter(|b| !(is_sealed(&b.token) && is_sealed(&b.webhook_secret)))
        {
            self.put_bot(&bot).await?;
            sealed += 1;
        }
        for site in websites
            .into_iter()
            .filter(|w| w.identity_secret.as_ref().is_some_and(|s| !is_sealed(s)))
        {
            omnidesk_core::WebStore::put_website(self, &site).await?;
            sealed += 1;
        }
        if sealed > 0 {
            // The plain values' old pages are still in the write-ahead log.
            omnidesk_core::ErasureStore::settle(self).await?;
        }
        Ok(sealed)
    }

    /// Makes an erasure also truncate `queue`'s write-ahead log (the queue's own file keeps
    /// copies of the jobs it carried there until the log is overwritten).
    pub fn settle_with(&self, queue: &crate::SqliteQueue) {
        self.companions.lock().push(queue.db());
    }

    /// The database file (`None` for an in-memory database).
    pub fn database_path(&self) -> Option<&Path> {
        self.db.path()
    }

    /// The clock this store reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }
}

impl From<DbUnavailable> for StoreError {
    fn from(e: DbUnavailable) -> Self {
        StoreError::Unavailable(e.0)
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// Runs one `INSERT`. A constraint violation (a taken primary key or unique column) is
/// `Conflict(taken())`, so the caller names what was taken; other errors map by [`sql_err`].
fn insert_new(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    taken: impl FnOnce() -> String,
) -> StoreResult<()> {
    match conn.prepare_cached(sql).and_then(|mut s| s.execute(params)) {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) => Err(StoreError::Conflict(taken())),
        Err(e) => Err(sql_err(e)),
    }
}

/// Maps a SQLite error: constraint = `Conflict`, undecodable data = `Corrupt`, the rest
/// (busy, locked, I/O, full disk) = `Unavailable`.
pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(e.to_string())
        }
        Some(_) => StoreError::Unavailable(e.to_string()),
        None => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
            other => StoreError::Unavailable(other.to_string()),
        },
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Limit for a page query: one more row than asked, to know whether there is a next page.
pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    i64::try_from(page.limit.max(1)).unwrap_or(i64::MAX - 1) + 1
}

/// Cuts the extra row and builds the next cursor from the last item kept.
pub(crate) fn paginate<T>(mut rows: Vec<(T, String)>, page: &PageRequest) -> Page<T> {
    let limit = page.limit.max(1);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|(_, c)| c.clone())
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(t, _)| t).collect(),
        next_cursor,
    }
}

/// A `(milliseconds, id)` keyset cursor, rendered `<ms>.<id>`.
pub(crate) fn encode_cursor(ms: i64, id: &str) -> String {
    format!("{ms}.{id}")
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> StoreResult<Option<(i64, String)>> {
    let Some(c) = cursor else { return Ok(None) };
    let (ms, id) = c
        .split_once('.')
        .ok_or_else(|| StoreError::Corrupt("invalid page cursor".to_owned()))?;
    let ms = ms
        .parse::<i64>()
        .map_err(|_| StoreError::Corrupt("invalid page cursor".to_owned()))?;
    Ok(Some((ms, id.to_owned())))
}

// ---------------------------------------------------------------------------------------------
// Contacts

#[async_trait]
impl ContactStore for SqliteStore {
    async fn create_contact(&self, contact: &Contact) -> StoreResult<()> {
        let contact = contact.clone();
        self.db
            .write_async(move |conn| {
                let tx = conn;
                let json = to_json(&contact)?;
                let id = contact.id.to_string();
                insert_new(
                    tx,
                    "INSERT INTO contacts (id, updated_at_ms, json) VALUES (?1, ?2, ?3)",
                    params![id, contact.updated_at.millis(), json],
                    || format!("contact {id} exists"),
                )?;
                for identity in &contact.identities {
                    claim_identity(tx, &id, &identity.key())?;
                }
                Ok(())
            })
            .await
    }

    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM contacts WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json("contact", &j)).transpose()
            })
            .await
    }

    async fn contact_id_by_identity(&self, key: &IdentityKey) -> StoreResult<Option<ContactId>> {
        let key = key.as_str().to_owned();
        self.db
            .read_async(move |conn| {
                let id: Option<String> = conn
                    .prepare_cached("SELECT contact_id FROM identities WHERE key = ?1")
                    .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                id.map(|i| ContactId::parse(&i).map_err(|e| StoreError::Corrupt(e.to_string())))
                    .transpose()
            })
            .await
    }

    async fn update_contact(
        &self,
        contact: &Contact,
        expected_updated_at: Timestamp,
    ) -> StoreResult<()> {
        let mut contact = contact.clone();
        self.db
            .write_async(move |conn| {
                let tx = conn;
                let id = contact.id.to_string();
                let stored = read_contact_row(tx, &id)?
                    .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
                if stored.0 != expected_updated_at.millis() {
                    return Err(StoreError::Conflict(format!(
                        "contact {id} changed since it was read"
                    )));
                }
                // Identities belong to `add_identity`: keep the stored ones.
                let stored: Contact = from_json("contact", &stored.1)?;
                contact.identities = stored.identities;
                let json = to_json(&contact)?;
                tx.prepare_cached(
                    "UPDATE contacts SET updated_at_ms = ?2, json = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, contact.updated_at.millis(), json]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn add_identity(&self, contact: ContactId, identity: &Identity) -> StoreResult<()> {
        let identity = identity.clone();
        self.db
            .write_async(move |conn| {
                let tx = conn;
                let id = contact.to_string();
                let (_, json) = read_contact_row(tx, &id)?
                    .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
                let key = identity.key();
                claim_identity(tx, &id, &key)?;
                let mut stored: Contact = from_json("contact", &json)?;
                match stored.identities.iter_mut().find(|i| i.key() == key) {
                    Some(existing) if *existing == identity => return Ok(()),
                    Some(existing) => *existing = identity,
                    None => stored.identities.push(identity),
                }
                let json = to_json(&stored)?;
                tx.prepare_cached("UPDATE contacts SET json = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, json]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn move_identity(
        &self,
        identity: &Identity,
        from: ContactId,
        to: ContactId,
    ) -> StoreResult<()> {
        let identity = identity.clone();
        self.db
            .write_async(move |conn| {
                let (from, to) = (from.to_string(), to.to_string());
                let key = identity.key();
                for id in [&from, &to] {
                    if read_contact_row(conn, id)?.is_none() {
                        return Err(StoreError::NotFound(format!("contact {id}")));
                    }
                }
                let holder: Option<String> = conn
                    .prepare_cached("SELECT contact_id FROM identities WHERE key = ?1")
                    .and_then(|mut s| s.query_row([key.as_str()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                match holder.as_deref() {
                    Some(h) if h == to => return Ok(()),
                    Some(h) if h != from => {
                        return Err(StoreError::Conflict(format!(
                            "identity {key} belongs to a third contact"
                        )));
                    }
                    _ => {}
                }
                conn.prepare_cached(
                    "INSERT INTO identities (key, contact_id) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET contact_id = excluded.contact_id",
                )
                .and_then(|mut s| s.execute(params![key.as_str(), to]))
                .map_err(sql_err)?;
                edit_identities(conn, &from, |ids| ids.retain(|i| i.key() != key))?;
                edit_identities(conn, &to, |ids| {
                    ids.retain(|i| i.key() != key);
                    ids.push(identity.clone());
                })
            })
            .await
    }
}

/// Replaces the identity list of the contact row `id` through `edit`.
fn edit_identities(
    conn: &rusqlite::Connection,
    id: &str,
    edit: impl FnOnce(&mut Vec<Identity>),
) -> StoreResult<()> {
    let (_, json) =
        read_contact_row(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
    let mut stored: Contact = from_json("contact", &json)?;
    edit(&mut stored.identities);
    let json = to_json(&stored)?;
    conn.prepare_cached("UPDATE contacts SET json = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, json]))
        .map_err(sql_err)?;
    Ok(())
}

/// `(updated_at_ms, json)` of a contact.
fn read_contact_row(conn: &rusqlite::Connection, id: &str) -> StoreResult<Option<(i64, String)>> {
    conn.prepare_cached("SELECT updated_at_ms, json FROM contacts WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(sql_err)
}

/// Claims `key` for contact `id`: fine if it is free or already theirs, `Conflict` otherwise.
fn claim_identity(conn: &rusqlite::Connection, id: &str, key: &IdentityKey) -> StoreResult<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO identities (key, contact_id) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![key.as_str(), id]))
        .map_err(sql_err)?;
    if inserted == 1 {
        return Ok(());
    }
    let holder: Option<String> = conn
        .prepare_cached("SELECT contact_id FROM identities WHERE key = ?1")
        .and_then(|mut s| s.query_row([key.as_str()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    if holder.as_deref() == Some(id) {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "identity {key} belongs to another contact"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Conversations

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        if conversation.version != 0 {
            return Err(StoreError::Conflict(format!(
                "a new conversation has version 0, not {}",
                conversation.version
            )));
        }
        let c = conversation.clone();
        self.db
            .write_async(move |conn| {
                let json = to_json(&c)?;
                let version = version_to_sql(c.version).map_err(sql_err)?;
                insert_new(
                    conn,
                    "INSERT INTO conversation_keys (key, conversation_id) VALUES (?1, ?2)",
                    params![c.key.as_str(), c.id.to_string()],
                    || format!("conversation key {} is taken", c.key),
                )?;
                insert_new(
                    conn,
                    "INSERT INTO conversations (id, key, contact_id, status, assignee_id, \
                     last_activity_ms, activity_minute, version, json) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        c.id.to_string(),
                        c.key.as_str(),
                        c.contact_id.to_string(),
                        c.status.as_str(),
                        c.assignee_id.map(|a| a.to_string()),
                        c.last_activity_at.millis(),
                        c.list_rank().0,
                        version,
                        json
                    ],
                    || format!("conversation {} or key {} exists", c.id, c.key),
                )
            })
            .await
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM conversations WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json("conversation", &j)).transpose()
            })
            .await
    }

    async fn conversation_by_key(
        &self,
        key: &ConversationKey,
    ) -> StoreResult<Option<Conversation>> {
        let key = key.as_str().to_owned();
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached(
                        "SELECT c.json FROM conversation_keys k \
                         JOIN conversations c ON c.id = k.conversation_id WHERE k.key = ?1",
                    )
                    .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json("conversation", &j)).transpose()
            })
            .await
    }

    async fn update_conversation(&self, conversation: &Conversation) -> StoreResult<Conversation> {
        let mut c = conversation.clone();
        self.db
            .write_async(move |conn| {
                let expected = version_to_sql(c.version).map_err(sql_err)?;
                c.version += 1;
                let json = to_json(&c)?;
                let id = c.id.to_string();
                let res = conn
                    .prepare_cached(
                        "UPDATE conversations SET key = ?3, contact_id = ?4, status = ?5, \
                         assignee_id = ?6, last_activity_ms = ?7, activity_minute = ?8, \
                         version = ?9, json = ?10 WHERE id = ?1 AND version = ?2",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            id,
                            expected,
                            c.key.as_str(),
                            c.contact_id.to_string(),
                            c.status.as_str(),
                            c.assignee_id.map(|a| a.to_string()),
                            c.last_activity_at.millis(),
                            c.list_rank().0,
                            version_to_sql(c.version)?,
                            json
                        ])
                    });
                match res {
                    Ok(1) => Ok(c),
                    Ok(_) => {
                        let exists = conn
                            .prepare_cached("SELECT 1 FROM conversations WHERE id = ?1")
                            .and_then(|mut s| s.exists([&id]))
                            .map_err(sql_err)?;
                        if exists {
                            Err(StoreError::Conflict(format!(
                                "conversation {id} changed since version {expected}"
                            )))
                        } else {
                            Err(StoreError::NotFound(format!("conversation {id}")))
                        }
                    }
                    Err(e) if is_constraint(&e) => Err(StoreError::Conflict(format!(
                        "conversation key {} is taken",
                        c.key
                    ))),
                    Err(e) => Err(sql_err(e)),
                }
            })
            .await
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let filter = filter.clone();
        let page = page.clone();
        self.db
            .read_async(move |conn| {
                let cursor = decode_cursor(page.cursor.as_deref())?;
                list_conversation_rows(conn, filtered_conversations(&filter), cursor, &page)
            })
            .await
    }

    async fn list_conversations_of_contact(
        &self,
        contact: ContactId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let page = page.clone();
        self.db
            .read_async(move |conn| {
                let cursor = decode_cursor(page.cursor.as_deref())?;
                list_conversation_rows(conn, conversations_of(contact), cursor, &page)
            })
            .await
    }

    async fn claim_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<Option<ConversationId>> {
        let key = key.as_str().to_owned();
        self.db
            .write_async(move |conn| {
                let id = conversation.to_string();
                let exists = conn
                    .prepare_cached("SELECT 1 FROM conversations WHERE id = ?1")
                    .and_then(|mut s| s.exists([&id]))
                    .map_err(sql_err)?;
                if !exists {
                    return Err(StoreError::NotFound(format!("conversation {id}")));
                }
                let previous: Option<String> = conn
                    .prepare_cached("SELECT conversation_id FROM conversation_keys WHERE key = ?1")
                    .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                conn.prepare_cached(
                    "INSERT INTO conversation_keys (key, conversation_id) VALUES (?1, ?2) \
                     ON CONFLICT(key) DO UPDATE SET conversation_id = excluded.conversation_id",
                )
                .and_then(|mut s| s.execute(params![key, id]))
                .map_err(sql_err)?;
                previous
                    .filter(|p| *p != id)
                    .map(|p| {
                        ConversationId::parse(&p).map_err(|e| StoreError::Corrupt(e.to_string()))
                    })
                    .transpose()
            })
            .await
    }

    async fn release_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<()> {
        let key = key.as_str().to_owned();
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM conversation_keys WHERE key = ?1 AND conversation_id = ?2",
                )
                .and_then(|mut s| s.execute(params![key, conversation.to_string()]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn count_assigned(&self, agent: AgentId) -> StoreResult<u32> {
        self.db
            .read_async(move |conn| {
                let n: i64 = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM conversations \
                         WHERE assignee_id = ?1 AND status = 'assigned'",
                    )
                    .and_then(|mut s| s.query_row([agent.to_string()], |r| r.get(0)))
                    .map_err(sql_err)?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            })
            .await
    }
}

fn version_to_sql(v: u64) -> rusqlite::Result<i64> {
    i64::try_from(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// A query built with its arguments, numbered as they are added.
///
/// Text compared for equality is written `?N || ''`, and limits are literals: SQLite (built
/// with STAT4) otherwise re-prepares a cached statement each time such a parameter is bound
/// to a new value when the plan also orders by the index; `?N || ''` still uses the index.
struct Query {
    sql: String,
    args: Vec<rusqlite::types::Value>,
}

impl Query {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }
    /// Binds a value and returns its placeholder.
    fn arg(&mut self, v: impl Into<rusqlite::types::Value>) -> String {
        self.args.push(v.into());
        format!("?{}", self.args.len())
    }
    /// ` AND <column> = <text value>`.
    fn and_eq(&mut self, column: &str, value: String) {
        let p = self.arg(value);
        self.sql.push_str(&format!(" AND {column} = {p} || ''"));
    }
    /// ` AND (<sort column>, <id column>) < (sort, id)`, for keyset pages in descending
    /// order. A row value, so the index seeks to the exact `(sort, id)` rather than to the
    /// start of the sort value (many conversations share an activity minute).
    fn and_before(&mut self, sort_col: &str, id_col: &str, cursor: Option<(i64, String)>) {
        if let Some((sort, id)) = cursor {
            let (ps, pi) = (self.arg(sort), self.arg(id));
            self.sql
                .push_str(&format!(" AND ({sort_col}, {id_col}) < ({ps}, {pi})"));
        }
    }
    /// ` ORDER BY … LIMIT <one more than the page>`.
    fn order_limit(&mut self, order: &str, page: &PageRequest) {
        self.sql
            .push_str(&format!(" ORDER BY {order} LIMIT {}", fetch_limit(page)));
    }
}

/// The start of a conversation listing; filters follow as ` AND …`.
const CONVERSATION_LIST: &str = "SELECT json, activity_minute, id FROM conversations WHERE 1 = 1";

/// The conversations matching `filter` (order and page to be added).
fn filtered_conversations(filter: &ConversationFilter) -> Query {
    let mut q = Query::new(CONVERSATION_LIST);
    if let Some(status) = filter.status {
        q.and_eq("status", status.as_str().to_owned());
    }
    match filter.assignee {
        Some(Some(a)) => q.and_eq("assignee_id", a.to_string()),
        Some(None) => q.sql.push_str(" AND assignee_id IS NULL"),
        None => {}
    }
    q
}

/// A contact's conversations (order and page to be added).
fn conversations_of(contact: ContactId) -> Query {
    let mut q = Query::new(CONVERSATION_LIST);
    q.and_eq("contact_id", contact.to_string());
    q
}

/// Runs a conversation listing whose filters are in `q`: appends the keyset condition, the
/// order (`Conversation::list_rank` descending: the minute column, then id, both in every
/// list index) and the limit. The cursor is `<minute>.<id>`.
fn list_conversation_rows(
    conn: &rusqlite::Connection,
    mut q: Query,
    cursor: Option<(i64, String)>,
    page: &PageRequest,
) -> StoreResult<Page<Conversation>> {
    order_conversations(&mut q, cursor, page);
    let mut stmt = conn.prepare_cached(&q.sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(q.args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (json, minute, id) = row.map_err(sql_err)?;
        let c: Conversation = from_json("conversation", &json)?;
        out.push((c, encode_cursor(minute, &id)));
    }
    Ok(paginate(out, page))
}

fn order_conversations(q: &mut Query, cursor: Option<(i64, String)>, page: &PageRequest) {
    q.and_before("activity_minute", "id", cursor);
    q.order_limit("activity_minute DESC, id DESC", page);
}

// ---------------------------------------------------------------------------------------------
// Messages

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append_message(&self, message: &Message) -> StoreResult<AppendOutcome> {
        let m = message.clone();
        self.db
            .write_async(move |conn| {
                let json = to_json(&m)?;
                let res = insert_new(
                    conn,
                    "INSERT INTO messages (conversation_id, id, source_key, json) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        m.conversation_id.to_string(),
                        m.id.to_string(),
                        m.source_key.as_deref(),
                        json
                    ],
                    || format!("message {} exists", m.id),
                );
                match res {
                    Ok(()) => Ok(AppendOutcome::Inserted),
                    Err(StoreError::Conflict(why)) => {
                        // The same event again (same derived id), or its source key under
                        // another id: either way the unique source key finds the first.
                        if let Some(source_key) = &m.source_key {
                            let first: Option<String> = conn
                                .prepare_cached("SELECT id FROM messages WHERE source_key = ?1")
                                .and_then(|mut s| {
                                    s.query_row([source_key], |r| r.get(0)).optional()
                                })
                                .map_err(sql_err)?;
                            if let Some(first) = first {
                                let id = MessageId::parse(&first)
                                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                                return Ok(AppendOutcome::Duplicate(id));
                            }
                        }
                        Err(StoreError::Conflict(why))
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn get_message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> StoreResult<Option<Message>> {
        self.db
            .read_async(move |conn| {
                read_message(conn, &conversation.to_string(), &id.to_string())?
                    .map(|j| from_json("message", &j))
                    .transpose()
            })
            .await
    }

    async fn update_delivery(
        &self,
        conversation: ConversationId,
        id: MessageId,
        delivery: &Delivery,
        channel_ref: Option<&ChannelRef>,
    ) -> StoreResult<Message> {
        let delivery = delivery.clone();
        let channel_ref = channel_ref.cloned();
        self.db
            .write_async(move |tx| {
                rewrite_message(tx, conversation, id, |m| {
                    m.delivery = delivery;
                    if let Some(r) = channel_ref {
                        m.channel_ref = Some(r);
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn update_content(
        &self,
        conversation: ConversationId,
        id: MessageId,
        content: &MessageContent,
    ) -> StoreResult<Message> {
        let content = content.clone();
        self.db
            .write_async(move |tx| {
                rewrite_message(tx, conversation, id, |m| {
                    if m.revision.saturating_add(1) != content.revision {
                        return Err(StoreError::Conflict(format!(
                            "message {id} is at revision {}",
                            m.revision
                        )));
                    }
                    m.set_content(content);
                    Ok(())
                })
            })
            .await
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let page = page.clone();
        self.db
            .read_async(move |conn| {
                let mut q = Query::new("SELECT json, id FROM messages WHERE 1 = 1");
                q.and_eq("conversation_id", conversation.to_string());
                if let Some(cursor) = &page.cursor {
                    let p = q.arg(cursor.clone());
                    q.sql.push_str(&format!(" AND id < {p}"));
                }
                q.order_limit("id DESC", &page);
                let mut stmt = conn.prepare_cached(&q.sql).map_err(sql_err)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(q.args), |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (json, id) = row.map_err(sql_err)?;
                    out.push((from_json::<Message>("message", &json)?, id));
                }
                Ok(paginate(out, &page))
            })
            .await
    }
}

/// Reads a message, lets `change` change it (or refuse), writes it back: `NotFound` if it
/// does not exist. Runs inside the caller's write transaction.
fn rewrite_message(
    tx: &rusqlite::Connection,
    conversation: ConversationId,
    id: MessageId,
    change: impl FnOnce(&mut Message) -> StoreResult<()>,
) -> StoreResult<Message> {
    let (cid, mid) = (conversation.to_string(), id.to_string());
    let json = read_message(tx, &cid, &mid)?
        .ok_or_else(|| StoreError::NotFound(format!("message {mid}")))?;
    let mut m: Message = from_json("message", &json)?;
    change(&mut m)?;
    let json = to_json(&m)?;
    tx.prepare_cached("UPDATE messages SET json = ?3 WHERE conversation_id = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![cid, mid, json]))
        .map_err(sql_err)?;
    Ok(m)
}

fn read_message(conn: &rusqlite::Connection, cid: &str, mid: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT json FROM messages WHERE conversation_id = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row([cid, mid], |r| r.get(0)).optional())
        .map_err(sql_err)
}

// ---------------------------------------------------------------------------------------------
// Agents

impl SqliteStore {
    /// `agent` with its TOTP secret as stored in its own column (opened).
    async fn with_totp(&self, mut agent: Agent, stored: Option<String>) -> StoreResult<Agent> {
        agent.totp_secret =
            omnidesk_core::sealing::totp_from_store(self.sealing.as_deref(), agent.id, stored)
                .await?;
        Ok(agent)
    }
}

/// Agents are stored without their password hash in the JSON (`Agent` never serialises it);
/// the hash has its own column and is put back on read.
fn decode_agent(json: &str, password_hash: String) -> StoreResult<Agent> {
    let mut v: serde_json::Value = from_json("agent", json)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| StoreError::Corrupt("agent: not an object".to_owned()))?;
    obj.insert(
        "password_hash".to_owned(),
        serde_json::Value::String(password_hash),
    );
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("agent: {e}")))
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(&self, agent: &Agent) -> StoreResult<()> {
        let a = agent.clone();
        let totp = omnidesk_core::sealing::totp_to_store(self.sealing.as_deref(), agent).await?;
        self.db
            .write_async(move |conn| {
                let json = to_json(&a)?;
                insert_new(
                    conn,
                    "INSERT INTO agents (id, email, password_hash, json, totp_secret) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        a.id.to_string(),
                        a.email.as_str(),
                        a.password_hash.as_phc(),
                        json,
                        totp
                    ],
                    || format!("agent {} or e-mail {} exists", a.id, a.email),
                )
            })
            .await
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        let row = self
            .db
            .read_async(move |conn| {
                let row: Option<(String, String, Option<String>)> = conn
                    .prepare_cached(
                        "SELECT json, password_hash, totp_secret FROM agents WHERE id = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                            .optional()
                    })
                    .map_err(sql_err)?;
                row.map(|(j, h, t)| decode_agent(&j, h).map(|a| (a, t)))
                    .transpose()
            })
            .await?;
        match row {
            Some((agent, totp)) => Ok(Some(self.with_totp(agent, totp).await?)),
            None => Ok(None),
        }
    }

    async fn agent_id_by_email(&self, email: &EmailAddress) -> StoreResult<Option<AgentId>> {
        let email = email.as_str().to_owned();
        self.db
            .read_async(move |conn| {
                let id: Option<String> = conn
                    .prepare_cached("SELECT id FROM agents WHERE email = ?1")
                    .and_then(|mut s| s.query_row([email], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                id.map(|i| AgentId::parse(&i).map_err(|e| StoreError::Corrupt(e.to_string())))
                    .transpose()
            })
            .await
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let rows = self
            .db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT json, password_hash, totp_secret FROM agents ORDER BY id",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    })
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (j, h, t) = row.map_err(sql_err)?;
                    out.push((decode_agent(&j, h)?, t));
                }
                Ok::<_, StoreError>(out)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (agent, totp) in rows {
            out.push(self.with_totp(agent, totp).await?);
        }
        Ok(out)
    }

    async fn update_agent(&self, agent: &Agent) -> StoreResult<()> {
        let mut a = agent.clone();
        let totp = omnidesk_core::sealing::totp_to_store(self.sealing.as_deref(), agent).await?;
        self.db
            .write_async(move |conn| {
                let tx = conn;
                let id = a.id.to_string();
                let email: Option<String> = tx
                    .prepare_cached("SELECT email FROM agents WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&id], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                let email = email.ok_or_else(|| StoreError::NotFound(format!("agent {id}")))?;
                // The e-mail (the login) cannot change here: keep the stored one.
                a.email =
                    EmailAddress::parse(&email).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let json = to_json(&a)?;
                tx.prepare_cached(
                    "UPDATE agents SET password_hash = ?2, json = ?3, totp_secret = ?4 \
                     WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, a.password_hash.as_phc(), json, totp]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn next_counter(&self, name: &str) -> StoreResult<u64> {
        self.add_to_counter(name, None).await
    }

    async fn next_counter_until(&self, name: &str, expires_at: Timestamp) -> StoreResult<u64> {
        self.add_to_counter(name, Some(expires_at)).await
    }

    async fn counter(&self, name: &str) -> StoreResult<u64> {
        let name = name.to_owned();
        self.db
            .read_async(move |conn| {
                let v: Option<i64> = conn
                    .prepare_cached("SELECT value FROM counters WHERE name = ?1")
                    .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                u64::try_from(v.unwrap_or(0)).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Bots

#[async_trait]
impl BotStore for SqliteStore {
    async fn put_bot(&self, bot: &BotConfig) -> StoreResult<()> {
        let bot = omnidesk_core::sealing::bot_to_store(self.sealing.as_deref(), bot).await?;
        self.db
            .write_async(move |conn| {
                let json = to_json(&bot)?;
                conn.prepare_cached(
                    "INSERT INTO bots (id, json) VALUES (?1, ?2) \
                     ON CONFLICT (id) DO UPDATE SET json = excluded.json",
                )
                .and_then(|mut s| s.execute(params![bot.id.get(), json]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn get_bot(&self, id: BotId) -> StoreResult<Option<BotConfig>> {
        let found = self
            .db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM bots WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.get()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json::<BotConfig>("bot", &j)).transpose()
            })
            .await?;
        match found {
            Some(bot) => Ok(Some(
                omnidesk_core::sealing::bot_from_store(self.sealing.as_deref(), bot).await?,
            )),
            None => Ok(None),
        }
    }

    async fn list_bots(&self) -> StoreResult<Vec<BotConfig>> {
        let stored: Vec<BotConfig> = self
            .db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT json FROM bots ORDER BY id")
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(from_json("bot", &row.map_err(sql_err)?)?);
                }
                Ok::<_, StoreError>(out)
            })
            .await?;
        let mut out = Vec::with_capacity(stored.len());
        for bot in stored {
            out.push(omnidesk_core::sealing::bot_from_store(self.sealing.as_deref(), bot).await?);
        }
        Ok(out)
    }

    async fn set_poll_offset(&self, id: BotId, offset: i64) -> StoreResult<()> {
        self.db
            .write_async(move |conn| {
                let tx = conn;
                let json: Option<String> = tx
                    .prepare_cached("SELECT json FROM bots WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.get()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                let json = json.ok_or_else(|| StoreError::NotFound(format!("bot {id}")))?;
                let mut bot: BotConfig = from_json("bot", &json)?;
                bot.poll_offset = Some(offset);
                let json = to_json(&bot)?;
                tx.prepare_cached("UPDATE bots SET json = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id.get(), json]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest dead letters

#[async_trait]
impl DeadLetterStore for SqliteStore {
    async fn record_dead_letter(&self, dead_letter: &DeadLetter) -> StoreResult<()> {
        let d = dead_letter.clone();
        let horizon = self.now_ms() - DEAD_LETTER_TTL_MS;
        self.db
            .write_async(move |conn| {
                let json = to_json(&d)?;
                conn.prepare_cached(
                    "INSERT INTO ingest_dead_letters (received_at_ms, id, json) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (received_at_ms, id) DO UPDATE SET json = excluded.json",
                )
                .and_then(|mut s| s.execute(params![d.received_at.millis(), d.id, json]))
                .map_err(sql_err)?;
                // Lazy expiry, like DynamoDB's TTL.
                conn.prepare_cached("DELETE FROM ingest_dead_letters WHERE received_at_ms < ?1")
                    .and_then(|mut s| s.execute([horizon]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn list_dead_letters(&self, page: &PageRequest) -> StoreResult<Page<DeadLetter>> {
        let page = page.clone();
        let horizon = self.now_ms() - DEAD_LETTER_TTL_MS;
        self.db
            .read_async(move |conn| {
                let cursor = decode_cursor(page.cursor.as_deref())?;
                let mut q = Query::new("SELECT json, received_at_ms, id FROM ingest_dead_letters");
                let p = q.arg(horizon);
                q.sql.push_str(&format!(" WHERE received_at_ms >= {p}"));
                q.and_before("received_at_ms", "id", cursor);
                q.order_limit("received_at_ms DESC, id DESC", &page);
                newest_first::<DeadLetter>(conn, &q, "dead letter", &page)
            })
            .await
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, entry: &AuditEntry, keep_until: Timestamp) -> StoreResult<()> {
        let e = entry.clone();
        let now = self.now_ms();
        self.db
            .write_async(move |conn| {
                let json = to_json(&e)?;
                conn.prepare_cached(
                    "INSERT INTO audit_log (at_ms, id, keep_until_ms, json) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute(params![e.at.millis(), e.id, keep_until.millis(), json])
                })
                .map_err(sql_err)?;
                conn.prepare_cached(
                    "DELETE FROM audit_log WHERE (at_ms, id) IN (SELECT at_ms, id FROM audit_log \
                     WHERE keep_until_ms <= ?1 LIMIT 32)",
                )
                .and_then(|mut s| s.execute([now]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
        let page = page.clone();
        let now = self.now_ms();
        self.db
            .read_async(move |conn| {
                let cursor = decode_cursor(page.cursor.as_deref())?;
                let mut q = Query::new("SELECT json, at_ms, id FROM audit_log");
                let p = q.arg(now);
                q.sql.push_str(&format!(" WHERE keep_until_ms > {p}"));
                q.and_before("at_ms", "id", cursor);
                q.order_limit("at_ms DESC, id DESC", &page);
                newest_first::<AuditEntry>(conn, &q, "audit entry", &page)
            })
            .await
    }
}

impl SqliteStore {
    /// `next_counter` (`expires_at`: `None`) and `next_counter_until`: one upsert; a counter
    /// with an end also deletes up to 32 ended ones (plain counters never end).
    async fn add_to_counter(&self, name: &str, expires_at: Option<Timestamp>) -> StoreResult<u64> {
        let name = name.to_owned();
        let now = self.clock.now().millis();
        self.db
            .write_async(move |conn| {
                if expires_at.is_some() {
                    conn.prepare_cached(
                        "DELETE FROM counters WHERE name IN (SELECT name FROM counters \
                         WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1 LIMIT 32)",
                    )
                    .and_then(|mut s| s.execute([now]))
                    .map_err(sql_err)?;
                }
                let v: i64 = conn
                    .prepare_cached(
                        "INSERT INTO counters (name, value, expires_at_ms) VALUES (?1, 1, ?2) \
                         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![name, expires_at.map(Timestamp::millis)], |r| {
                            r.get(0)
                        })
                    })
                    .map_err(sql_err)?;
                u64::try_from(v).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .await
    }
}

/// Runs a keyset query of `(json, ms, id)` rows, newest first, into a page.
fn newest_first<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    q: &Query,
    what: &str,
    page: &PageRequest,
) -> StoreResult<Page<T>> {
    let mut stmt = conn.prepare_cached(&q.sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(q.args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (json, ms, id) = row.map_err(sql_err)?;
        out.push((from_json::<T>(what, &json)?, encode_cursor(ms, &id)));
    }
    Ok(paginate(out, page))
}

// ---------------------------------------------------------------------------------------------
// Connections

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        let c = connection.clone();
        let horizon = self.now_ms() - CONNECTION_TTL_MS;
        self.db
            .write_async(move |conn| {
                let json = to_json(&c)?;
                conn.prepare_cached(
                    "INSERT INTO connections (id, agent_id, connected_at_ms, json) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
                     agent_id = excluded.agent_id, connected_at_ms = excluded.connected_at_ms, \
                     json = excluded.json",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        c.id.0,
                        c.agent_id.to_string(),
                        c.connected_at.millis(),
                        json
                    ])
                })
                .map_err(sql_err)?;
                conn.prepare_cached("DELETE FROM connections WHERE connected_at_ms < ?1")
                    .and_then(|mut s| s.execute([horizon]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        let id = id.0.clone();
        self.db
            .write_async(move |conn| {
                conn.prepare_cached("DELETE FROM connections WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let horizon = self.now_ms() - CONNECTION_TTL_MS;
        self.db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT json FROM connections WHERE connected_at_ms >= ?1 ORDER BY id",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([horizon], |r| r.get::<_, String>(0))
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(from_json("connection", &row.map_err(sql_err)?)?);
                }
                Ok(out)
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Websites and single-use tokens

#[async_trait]
impl WebStore for SqliteStore {
    async fn put_website(&self, website: &Website) -> StoreResult<()> {
        let w = omnidesk_core::sealing::website_to_store(self.sealing.as_deref(), website).await?;
        self.db
            .write_async(move |conn| {
                let json = to_json(&w)?;
                conn.prepare_cached(
                    "INSERT INTO websites (id, json) VALUES (?1, ?2) \
                     ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                )
                .and_then(|mut s| s.execute(params![w.id.to_string(), json]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn get_website(&self, id: WebsiteId) -> StoreResult<Option<Website>> {
        let found = self
            .db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM websites WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json::<Website>("website", &j))
                    .transpose()
            })
            .await?;
        match found {
            Some(w) => Ok(Some(
                omnidesk_core::sealing::website_from_store(self.sealing.as_deref(), w).await?,
            )),
            None => Ok(None),
        }
    }

    async fn list_websites(&self) -> StoreResult<Vec<Website>> {
        let stored: Vec<Website> = self
            .db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT json FROM websites ORDER BY id")
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(sql_err)?;
                rows.map(|j| from_json("website", &j.map_err(sql_err)?))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .await?;
        let mut out = Vec::with_capacity(stored.len());
        for w in stored {
            out.push(omnidesk_core::sealing::website_from_store(self.sealing.as_deref(), w).await?);
        }
        Ok(out)
    }

    async fn put_token(&self, token: &StoredToken) -> StoreResult<()> {
        let t = token.clone();
        self.db
            .write_async(move |conn| {
                let json = to_json(&t)?;
                let kind = t.kind.as_str();
                conn.prepare_cached(
                    "DELETE FROM tokens WHERE (kind = ?1 AND owner = ?2) OR expires_at_ms <= ?3",
                )
                .and_then(|mut s| {
                    s.execute(params![kind, t.owner, t.expires_at.millis() - 86_400_000])
                })
                .map_err(sql_err)?;
                insert_new(
                    conn,
                    "INSERT INTO tokens (kind, hash, owner, expires_at_ms, json) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![kind, t.hash, t.owner, t.expires_at.millis(), json],
                    || "token exists".to_owned(),
                )
            })
            .await
    }

    async fn take_token(
        &self,
        kind: TokenKind,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<StoredToken>> {
        let hash = hash.to_owned();
        self.db
            .write_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached(
                        "DELETE FROM tokens WHERE kind = ?1 AND hash = ?2 RETURNING json",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![kind.as_str(), hash], |r| r.get(0))
                            .optional()
                    })
                    .map_err(sql_err)?;
                let token: Option<StoredToken> =
                    json.map(|j| from_json("token", &j)).transpose()?;
                Ok(token.filter(|t| t.expires_at > now))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use omnidesk_core::ConversationFilter;
    use omnidesk_domain::{AgentId, ContactId, ConversationStatus};
    use uuid::Uuid;

    use super::*;

    fn plan(conn: &rusqlite::Connection, q: Query) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql))
            .unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(q.args), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn conversation_lists_are_read_in_index_order_without_sorting() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate(&conn, ":memory:").unwrap();
        let agent = Some(AgentId::from_uuid(Uuid::now_v7()));
        let filters = [
            (None, None),
            (Some(ConversationStatus::Queued), None),
            (None, Some(agent)),
            (None, Some(None)),
            (Some(ConversationStatus::Assigned), Some(agent)),
        ];
        let page = PageRequest::first(20);
        for (status, assignee) in filters {
            let filter = ConversationFilter { status, assignee };
            for cursor in [None, Some((29_000_000, "cv_x".to_owned()))] {
                let mut q = filtered_conversations(&filter);
                order_conversations(&mut q, cursor.clone(), &page);
                let plan = plan(&conn, q);
                assert!(
                    plan.contains("USING INDEX conversations_") && !plan.contains("TEMP B-TREE"),
                    "{filter:?} with cursor {cursor:?} is not index-driven: {plan}"
                );
                if cursor.is_some() {
                    assert!(
                        plan.contains("(activity_minute,id)<(?,?)"),
                        "{filter:?}: the cursor does not seek in the index: {plan}"
                    );
                }
            }
        }
        // A contact has few conversations: looked up by the contact index, then sorted.
        let mut q = conversations_of(ContactId::from_uuid(Uuid::now_v7()));
        order_conversations(&mut q, None, &page);
        assert!(plan(&conn, q).contains("USING INDEX conversations_contact"));
    }

    #[test]
    fn a_cursor_of_another_shape_is_corrupt() {
        assert!(matches!(
            decode_cursor(Some("not-a-cursor")),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            decode_cursor(Some("-3.cv_1")).unwrap(),
            Some((-3, "cv_1".to_owned()))
        );
    }
}
