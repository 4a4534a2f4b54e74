//! [`DynamoStore`]: every store port on one DynamoDB table, following the access-pattern
//! table in the `omnidesk-core` crate docs.
//!
//! Items keep their domain record as a JSON string attribute `data`, plus the key, index and
//! condition attributes. Fields that single-item updates change without a read live in their own
//! attributes and override `data` when read: a contact's `identities`, a message's `delivery`
//! and `channelRef`, an agent's `pwhash` and `email`, a bot's `pollOffset`.

mod ai;
mod erasure;
mod item;
mod mail;
mod routing;
mod translation;
mod web;

pub use routing::MAX_RULES_SOURCE_BYTES;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType, Select,
    TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, Update,
};
use omnidesk_core::{
    AgentStore, AppendOutcome, AuditEntry, AuditStore, BotConfig, BotStore, Clock, Connection,
    ConnectionId, ConnectionStore, ContactStore, ConversationFilter, ConversationStore, DeadLetter,
    DeadLetterStore, MessageStore, Page, PageRequest, StoreError, StoreResult,
};
use omnidesk_domain::{
    Agent, AgentId, BotId, ChannelRef, Contact, ContactId, Conversation, ConversationId,
    ConversationKey, ConversationStatus, Delivery, EmailAddress, Identity, IdentityKey, Message,
    MessageContent, MessageId, Timestamp,
};

use item::{
    Failure, Item, classify, classify_transact, decode_cursor, encode_cursor, get_s, json_attr, n,
    opt_i64, padded, s, to_json,
};

/// Page size when a request asks for 0.
const DEFAULT_LIMIT: usize = 50;
/// Dead letters are kept at least this long.
const DEAD_LETTER_TTL_SECS: i64 = 30 * 24 * 60 * 60;
/// API Gateway's maximum WebSocket connection duration.
const CONNECTION_TTL_MS: i64 = 2 * 60 * 60 * 1000;
/// Retries of `add_identity` when a concurrent writer changed the contact's identities.
const IDENTITY_RETRIES: usize = 5;

/// The table's generic key attributes.
const PK: &str = "PK";
const SK: &str = "SK";

/// A source key claimed by a message whose id is not derived from it is remembered this long.
const SOURCE_KEY_TTL_SECS: i64 = 7 * 24 * 60 * 60;

/// The sort attribute of the list indexes: a conversation's `list_rank` (activity minute, id).
const RANK: &str = "rank";

/// The overloaded GSIs: (index name, partition attribute, sort attribute, non-key attributes
/// projected besides the keys). Projections are as small as the queries allow, so that a
/// conversation update that changes neither an index key nor a projected attribute (a message
/// within the same activity minute) writes no index at all; list pages read the items they
/// need from the table by key. Only two indexes follow activity, because a message that moves
/// its conversation into a new minute re-keys each of them (a delete and a put):
/// - GSI1 `STATUS#<status>`: the lists by status; all conversations are its partitions merged;
/// - GSI2 `ASSIGNEE#<agent>`/`UNASSIGNED`: an agent's conversations, filtered by status;
/// - GSI3 `CONTACT#<contact>`, sorted by `PK` (`CONV#<UUIDv7>`, creation order): a contact's
///   few conversations, ordered by activity after they are read.
const GSIS: [(&str, &str, &str, &[&str]); 3] = [
    ("GSI1", "GSI1PK", RANK, &[]),
    // Filtered by status (an agent's assigned conversations).
    ("GSI2", "GSI2PK", RANK, &["status"]),
    ("GSI3", "GSI3PK", PK, &[]),
];

/// The GSI partition attribute holding `CONTACT#<contact id>` of a conversation (GSI3).
const CONTACT_PK_ATTR: &str = GSIS[2].1;

/// Positive lookups of write-once mappings cached per process (identity → contact, routing key
/// → conversation): these items are never changed or deleted once written.
const MAPPING_CACHE_CAP: usize = 10_000;
/// Keys per `BatchGetItem` call (the API's limit).
const BATCH_GET_MAX: usize = 100;
/// Rounds of retrying a `BatchGetItem`'s unprocessed keys before giving up (transient).
const BATCH_GET_ROUNDS: usize = 8;

/// `GSI2PK` of conversations without an assignee (the `assignee: Some(None)` filter).
const UNASSIGNED: &str = "ASSIGNEE#none";

/// Every store port on one DynamoDB table (see the crate docs of `omnidesk-core` for the
/// access pattern of each method).
///
/// Reads of items with a `ttl` attribute skip expired ones (`ttl <= now`), because DynamoDB
/// deletes expired items lazily (moto never does). Two kinds of item decide otherwise (see
/// `translation`): a cached translation is compared with the caller's `now` by its own
/// `expiresAt`, and a usage counter reads as it counts, whatever its `ttl`.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// Cached write-once mappings: `IDENT#…` / `CKEY#…` partition key → the id it names.
    mappings: Arc<parking_lot::Mutex<std::collections::HashMap<String, String>>>,
    /// Seals bot tokens, webhook secrets and identity secrets at rest; `None`: stored plain.
    sealing: Option<Arc<omnidesk_core::sealing::Sealing>>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Where a paged query reads.
struct QuerySpec {
    /// `None` = the base table.
    index: Option<usize>,
    pk: String,
    /// `begins_with` on the sort key.
    sk_prefix: Option<String>,
    /// Only sort keys below this one (a merged list's cursor).
    sk_before: Option<String>,
    forward: bool,
    /// A filter over non-key attributes: (expression, names, values).
    filter: Option<Filter>,
    /// A strongly consistent read (base table only).
    consistent: bool,
}

struct Filter {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>,
}

impl QuerySpec {
    fn table(pk: String, sk_prefix: Option<String>, forward: bool) -> Self {
        Self {
            index: None,
            pk,
            sk_prefix,
            sk_before: None,
            forward,
            filter: None,
            consistent: false,
        }
    }

    fn gsi(index: usize, pk: String) -> Self {
        Self {
            index: Some(index),
            pk,
            sk_prefix: None,
            sk_before: None,
            forward: false,
            filter: None,
            consistent: false,
        }
    }

    fn filtered(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Reads strongly consistently (a base-table query only: GSIs cannot).
    fn consistent(mut self) -> Self {
        self.consistent = self.index.is_none();
        self
    }

    fn key_attrs(&self) -> Vec<&'static str> {
        let mut attrs = vec![PK, SK];
        if let Some(i) = self.index {
            for attr in [GSIS[i].1, GSIS[i].2] {
                if !attrs.contains(&attr) {
                    attrs.push(attr);
                }
            }
        }
        attrs
    }
}

fn ttl_filter(now: Timestamp) -> Filter {
    Filter {
        expression: "#ttl > :now".to_owned(),
        names: vec![("#ttl".to_owned(), "ttl".to_owned())],
        values: vec![(":now".to_owned(), n(now.secs()))],
    }
}

fn status_filter(status: ConversationStatus) -> Filter {
    Filter {
        expression: "#status = :status".to_owned(),
        names: vec![("#status".to_owned(), "status".to_owned())],
        values: vec![(":status".to_owned(), s(status.as_str()))],
    }
}

fn limit_of(page: &PageRequest) -> usize {
    if page.limit == 0 {
        DEFAULT_LIMIT
    } else {
        page.limit
    }
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("cannot build a DynamoDB request: {e}"))
}

// ---------------------------------------------------------------------------------------------
// keys

fn contact_key(id: ContactId) -> (String, String) {
    (format!("CONTACT#{id}"), "PROFILE".to_owned())
}
fn ident_key(key: &IdentityKey) -> (String, String) {
    (format!("IDENT#{key}"), "IDENT".to_owned())
}
fn conv_key(id: ConversationId) -> (String, String) {
    (format!("CONV#{id}"), "META".to_owned())
}
fn ckey_key(key: &ConversationKey) -> (String, String) {
    (format!("CKEY#{key}"), "CKEY".to_owned())
}
fn msg_key(conversation: ConversationId, id: MessageId) -> (String, String) {
    (format!("CONV#{conversation}"), format!("MSG#{id}"))
}
fn src_key(source: &str) -> (String, String) {
    (format!("SRC#{source}"), "SRC".to_owned())
}
fn agent_key(id: AgentId) -> (String, String) {
    ("AGENTS".to_owned(), format!("AGENT#{id}"))
}
fn email_key(email: &EmailAddress) -> (String, String) {
    (format!("AEMAIL#{email}"), "AEMAIL".to_owned())
}
fn counter_key(name: &str) -> (String, String) {
    (format!("COUNTER#{name}"), "COUNTER".to_owned())
}
fn bot_key(id: BotId) -> (String, String) {
    // Zero-padded so that the string order of SK is the numeric order of ids.
    ("BOTS".to_owned(), format!("BOT#{:0>20}", id.to_string()))
}
fn conn_key(id: &ConnectionId) -> (String, String) {
    ("CONNS".to_owned(), format!("CONN#{id}"))
}

/// The `rank` of a conversation: `list_rank` rendered so that descending string order is the
/// list order (activity minute, then id).
fn rank_of(c: &Conversation) -> String {
    let (minute, id) = c.list_rank();
    // 12 digits cover minutes until the year 1.9 million.
    format!("{:012}#{id}", minute.max(0))
}

fn assignee_pk(assignee: Option<AgentId>) -> String {
    match assignee {
        Some(a) => format!("ASSIGNEE#{a}"),
        None => UNASSIGNED.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// records <-> items

fn base_item((pk, sk): (String, String), kind: &str) -> Item {
    [
        (PK.to_owned(), s(pk)),
        (SK.to_owned(), s(sk)),
        ("kind".to_owned(), s(kind)),
    ]
    .into_iter()
    .collect()
}

fn contact_item(contact: &Contact) -> StoreResult<Item> {
    let mut item = base_item(contact_key(contact.id), "contact");
    let mut profile = contact.clone();
    let identities = std::mem::take(&mut profile.identities);
    item.insert("data".to_owned(), s(to_json(&profile)?));
    item.insert("identities".to_owned(), s(to_json(&identities)?));
    item.insert("identRev".to_owned(), n(0));
    item.insert("updatedAt".to_owned(), n(contact.updated_at.millis()));
    Ok(item)
}

fn contact_of(item: &Item) -> StoreResult<Contact> {
    let mut contact: Contact = json_attr(item, "data")?;
    contact.identities = json_attr(item, "identities")?;
    Ok(contact)
}

fn conversation_item(c: &Conversation) -> StoreResult<Item> {
    // Slim on purpose: every update is billed per started KB of the whole item, so nothing is
    // stored twice: no `kind`, and `data` leaves out the id, status, version and contact id,
    // which the key and attributes carry (see `conversation_of`).
    let mut item = base_item(conv_key(c.id), "conversation");
    item.remove("kind");
    let mut data = serde_json::to_value(c)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a conversation: {e}")))?;
    if let Some(map) = data.as_object_mut() {
        for field in ["id", "status", "version", "contact_id"] {
            map.remove(field);
        }
    }
    item.insert("data".to_owned(), s(data.to_string()));
    item.insert("version".to_owned(), n(c.version));
    item.insert("status".to_owned(), s(c.status.as_str()));
    item.insert(RANK.to_owned(), s(rank_of(c)));
    let pks = [
        format!("STATUS#{}", c.status.as_str()),
        assignee_pk(c.assignee_id),
        format!("CONTACT#{}", c.contact_id),
    ];
    for ((_, pk_attr, _, _), pk) in GSIS.iter().zip(pks) {
        item.insert((*pk_attr).to_owned(), s(pk));
    }
    Ok(item)
}

fn conversation_of(item: &Item) -> StoreResult<Conversation> {
    let mut data: serde_json::Map<String, serde_json::Value> = json_attr(item, "data")?;
    let id = get_s(item, PK)?.strip_prefix("CONV#").unwrap_or_default();
    let version = opt_i64(item, "version")?.unwrap_or(0);
    data.insert("id".to_owned(), id.into());
    data.insert("status".to_owned(), get_s(item, "status")?.into());
    data.insert("version".to_owned(), version.into());
    let contact = get_s(item, CONTACT_PK_ATTR)?
        .strip_prefix("CONTACT#")
        .ok_or_else(|| StoreError::Corrupt(format!("{CONTACT_PK_ATTR} is not CONTACT#<id>")))?;
    data.insert("contact_id".to_owned(), contact.into());
    serde_json::from_value(serde_json::Value::Object(data))
        .map_err(|e| StoreError::Corrupt(format!("conversation record: {e}")))
}

fn message_of(item: &Item) -> StoreResult<Message> {
    let mut message: Message = json_attr(item, "data")?;
    if item.contains_key("delivery") {
        message.delivery = json_attr(item, "delivery")?;
    }
    if item.contains_key("channelRef") {
        message.channel_ref = Some(json_attr(item, "channelRef")?);
    }
    if item.contains_key("content") {
        message.set_content(json_attr(item, "content")?);
    }
    Ok(message)
}

fn agent_item(agent: &Agent, totp: Option<String>) -> StoreResult<Item> {
    let mut item = base_item(agent_key(agent.id), "agent");
    item.insert("data".to_owned(), s(to_json(agent)?));
    item.insert("pwhash".to_owned(), s(agent.password_hash.as_phc()));
    item.insert("email".to_owned(), s(agent.email.to_string()));
    if let Some(t) = totp {
        item.insert("totp".to_owned(), s(t));
    }
    Ok(item)
}

impl DynamoStore {
    /// The agent of `item`, its TOTP secret (the `totp` attribute) opened.
    async fn agent_with_totp(&self, item: &Item) -> StoreResult<Agent> {
        let mut agent = agent_of(item)?;
        let stored = match item.get("totp") {
            Some(_) => Some(get_s(item, "totp")?.to_owned()),
            None => None,
        };
        agent.totp_secret =
            omnidesk_core::sealing::totp_from_store(self.sealing.as_deref(), agent.id, stored)
                .await?;
        Ok(agent)
    }
}

fn agent_of(item: &Item) -> StoreResult<Agent> {
    let mut data: serde_json::Map<String, serde_json::Value> = json_attr(item, "data")?;
    data.insert(
        "password_hash".to_owned(),
        serde_json::Value::String(get_s(item, "pwhash")?.to_owned()),
    );
    data.insert(
        "email".to_owned(),
        serde_json::Value::String(get_s(item, "email")?.to_owned()),
    );
    serde_json::from_value(serde_json::Value::Object(data))
        .map_err(|e| StoreError::Corrupt(format!("agent record: {e}")))
}

fn bot_of(item: &Item) -> StoreResult<BotConfig> {
    let mut bot: BotConfig = json_attr(item, "data")?;
    if let Some(offset) = opt_i64(item, "pollOffset")? {
        bot.poll_offset = Some(offset);
    }
    Ok(bot)
}

fn parse_id<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, omnidesk_domain::ParseError>,
) -> StoreResult<T> {
    parse(raw).map_err(|e| StoreError::Corrupt(format!("stored id `{raw}`: {e}")))
}

/// Whether an item with a `ttl` attribute has expired (items without one never do).
fn expired(item: &Item, now: Timestamp) -> StoreResult<bool> {
    Ok(opt_i64(item, "ttl")?.is_some_and(|ttl| ttl <= now.secs()))
}

// ---------------------------------------------------------------------------------------------
// the store

impl DynamoStore {
    /// A store on `table_name`, reading time from `clock` (TTL filters and stamps).
    pub fn new(client: Client, table_name: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table_name.into(),
            clock,
            mappings: Arc::default(),
            sealing: None,
        }
    }

    /// Seals secrets at rest under `sealing` (bots' tokens and webhook secrets, websites'
    /// identity secrets); a plain value stored before reads as it is.
    #[must_use]
    pub fn with_sealing(mut self, sealing: Arc<omnidesk_core::sealing::Sealing>) -> Self {
        self.sealing = Some(sealing);
        self
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Creates the table: `PK`/`SK` strings, on-demand billing, `GSI1`..`GSI3` (string keys
    /// and projections as in `GSIS`), and TTL on the `ttl` attribute. Idempotent: an
    /// existing table is waited for and gets TTL enabled if it lacks it (its schema is not
    /// checked).
    pub async fn create_table(client: &Client, name: &str) -> StoreResult<()> {
        let key = |attr: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(kind)
                .build()
                .map_err(build_err)
        };
        let attr = |attr: &str| {
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(RANK)?);
        for (index, pk, sk, projected) in GSIS {
            let projection = if projected.is_empty() {
                Projection::builder().projection_type(ProjectionType::KeysOnly)
            } else {
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        projected.iter().map(|a| (*a).to_owned()).collect(),
                    ))
            };
            request = request
                .attribute_definitions(attr(pk)?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index)
                        .key_schema(key(pk, KeyType::Hash)?)
                        .key_schema(key(sk, KeyType::Range)?)
                        .projection(projection.build())
                        .build()
                        .map_err(build_err)?,
                );
        }
        if let Err(e) = request.send().await {
            // An existing table is fine: the call is idempotent for the admin command.
            if e.code() != Some("ResourceInUseException") {
                return Err(classify("CreateTable", &e).into_store("CreateTable"));
            }
        }
        client
            .wait_until_table_exists()
            .table_name(name)
            .wait(std::time::Duration::from_secs(120))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("table {name} did not become active: {e}"))
            })?;
        let ttl = client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTimeToLive", &e).into_store("DescribeTimeToLive"))?;
        let status = ttl
            .time_to_live_description
            .and_then(|d| d.time_to_live_status)
            .unwrap_or(TimeToLiveStatus::Disabled);
        if matches!(
            status,
            TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling
        ) {
            return Ok(());
        }
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", &e).into_store("UpdateTimeToLive"))?;
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The id a write-once mapping item names, from the process cache or a read of `key`'s
    /// `attr`; cached when found.
    async fn mapping(
        &self,
        key: (String, String),
        attr: &str,
        what: &str,
    ) -> StoreResult<Option<String>> {
        if let Some(hit) = self.mappings.lock().get(&key.0) {
            return Ok(Some(hit.clone()));
        }
        let pk = key.0.clone();
        let Some(item) = self.get(key, what).await? else {
            return Ok(None);
        };
        let value = get_s(&item, attr)?.to_owned();
        self.remember(pk, value.clone());
        Ok(Some(value))
    }

    /// Drops the cached mappings that name `id` (a contact or conversation that is gone).
    fn forget_mappings_to(&self, id: &str) {
        self.mappings.lock().retain(|_, v| v != id);
    }

    fn remember(&self, pk: String, value: String) {
        let mut cache = self.mappings.lock();
        if cache.len() >= MAPPING_CACHE_CAP {
            cache.clear();
        }
        cache.insert(pk, value);
    }

    /// The items at `keys`, strongly consistent, in the order of `keys`; missing ones skipped.
    async fn batch_get(&self, keys: Vec<(String, String)>, what: &str) -> StoreResult<Vec<Item>> {
        let mut found: std::collections::HashMap<(String, String), Item> =
            std::collections::HashMap::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<Item> = chunk.iter().map(|k| self.key(k.clone())).collect();
            for round in 0.. {
                if pending.is_empty() {
                    break;
                }
                if round == BATCH_GET_ROUNDS {
                    return Err(StoreError::Unavailable(format!(
                        "{what}: DynamoDB left {} keys unprocessed",
                        pending.len()
                    )));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(5))).await;
                }
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| classify(what, &e).into_store(what))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let key = (get_s(&item, PK)?.to_owned(), get_s(&item, SK)?.to_owned());
                    found.insert(key, item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        let now = self.now();
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(item) = found.remove(&key)
                && !expired(&item, now)?
            {
                items.push(item);
            }
        }
        Ok(items)
    }

    fn key(&self, (pk, sk): (String, String)) -> Item {
        [(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]
            .into_iter()
            .collect()
    }

    /// A strongly consistent `GetItem`; expired items read as missing.
    async fn get(&self, key: (String, String), what: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(what, &e).into_store(what))?;
        match out.item {
            Some(item) if !expired(&item, self.now())? => Ok(Some(item)),
            _ => Ok(None),
        }
    }

    fn put(&self, item: Item, condition: Option<&str>) -> StoreResult<Put> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_err)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, what: &str) -> Result<(), Failure> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_transact(what, &e))
    }

    /// One page of a query: at most `limit` items after the cursor, and the cursor of the next
    /// page only when another matching item exists.
    async fn query_page(
        &self,
        spec: &QuerySpec,
        page: &PageRequest,
        what: &str,
    ) -> StoreResult<Page<Item>> {
        let limit = limit_of(page);
        let key_attrs = spec.key_attrs();
        let mut start = match &page.cursor {
            Some(c) => Some(decode_cursor(c, &key_attrs)?),
            None => None,
        };
        let mut items: Vec<Item> = Vec::new();
        loop {
            let want = limit + 1 - items.len();
            let (batch, last) = self
                .query_once(spec, start.take(), Some(want), what)
                .await?;
            items.extend(batch);
            match last {
                Some(last) if items.len() <= limit => start = Some(last),
                _ => break,
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            match items.last() {
                Some(last) => Some(encode_cursor(last, &key_attrs)?),
                None => None,
            }
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Every item of a query.
    async fn query_all(&self, spec: &QuerySpec, what: &str) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (batch, last) = self.query_once(spec, start.take(), None, what).await?;
            items.extend(batch);
            match last {
                Some(last) => start = Some(last),
                None => return Ok(items),
            }
        }
    }

    async fn query_once(
        &self,
        spec: &QuerySpec,
        start: Option<Item>,
        limit: Option<usize>,
        what: &str,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let (pk_attr, sk_attr) = match spec.index {
            None => (PK, SK),
            Some(i) => (GSIS[i].1, GSIS[i].2),
        };
        let mut condition = "#pk = :pk".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(spec.index.map(|i| GSIS[i].0.to_owned()))
            .scan_index_forward(spec.forward)
            .set_consistent_read(spec.consistent.then_some(true))
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(spec.pk.clone()));
        if let Some(prefix) = &spec.sk_prefix {
            condition.push_str(" AND begins_with(#sk, :sk)");
            request = request
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":sk", s(prefix.clone()));
        }
        if let Some(before) = &spec.sk_before {
            condition.push_str(" AND #sk < :before");
            request = request
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":before", s(before.clone()));
        }
        if let Some(filter) = &spec.filter {
            request = request.filter_expression(filter.expression.clone());
            for (k, v) in &filter.names {
                request = request.expression_attribute_names(k, v);
            }
            for (k, v) in &filter.values {
                request = request.expression_attribute_values(k, v.clone());
            }
        }
        let out = request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(|e| classify(what, &e).into_store(what))?;
        let last = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), last))
    }
}

// ---------------------------------------------------------------------------------------------
// contacts

#[async_trait]
impl ContactStore for DynamoStore {
    async fn create_contact(&self, contact: &Contact) -> StoreResult<()> {
        let mut keys: Vec<IdentityKey> = contact.identities.iter().map(Identity::key).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(StoreError::Conflict(
                "the contact lists one identity twice".to_owned(),
            ));
        }
        let cond = Some("attribute_not_exists(PK)");
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put(contact_item(contact)?, cond)?)
                .build(),
        ];
        for key in &keys {
            let mut ident = base_item(ident_key(key), "identity");
            ident.insert("contact".to_owned(), s(contact.id.to_string()));
            items.push(
                TransactWriteItem::builder()
                    .put(self.put(ident, cond)?)
                    .build(),
            );
        }
        self.transact(items, "create_contact")
            .await
            .map_err(|f| match f {
                Failure::Canceled(_) | Failure::ConditionFailed => StoreError::Conflict(format!(
                    "contact {} exists already or one of its identities is claimed",
                    contact.id
                )),
                Failure::Other(e) => e,
            })?;
        for key in &keys {
            self.remember(ident_key(key).0, contact.id.to_string());
        }
        Ok(())
    }

    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        let Some(item) = self.get(contact_key(id), "get_contact").await? else {
            // Erased by another process: an identity cached as leading here is read again.
            self.forget_mappings_to(&id.to_string());
            return Ok(None);
        };
        contact_of(&item).map(Some)
    }

    async fn contact_id_by_identity(&self, key: &IdentityKey) -> StoreResult<Option<ContactId>> {
        match self
            .mapping(ident_key(key), "contact", "contact_id_by_identity")
            .await?
        {
            Some(id) => Ok(Some(parse_id(&id, ContactId::parse)?)),
            None => Ok(None),
        }
    }

    async fn update_contact(
        &self,
        contact: &Contact,
        expected_updated_at: Timestamp,
    ) -> StoreResult<()> {
        let mut profile = contact.clone();
        profile.identities.clear();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(contact_key(contact.id))))
            .update_expression("SET #data = :data, updatedAt = :new")
            .condition_expression("attribute_exists(PK) AND updatedAt = :read")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(to_json(&profile)?))
            .expression_attribute_values(":new", n(contact.updated_at.millis()))
            .expression_attribute_values(":read", n(expected_updated_at.millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify("update_contact", &e) {
                Failure::ConditionFailed => {
                    if self
                        .get(contact_key(contact.id), "update_contact")
                        .await?
                        .is_some()
                    {
                        Err(StoreError::Conflict(format!(
                            "contact {} changed since it was read",
                            contact.id
                        )))
                    } else {
                        Err(StoreError::NotFound(format!("contact {}", contact.id)))
                    }
                }
                other => Err(other.into_store("update_contact")),
            },
        }
    }

    async fn add_identity(&self, contact: ContactId, identity: &Identity) -> StoreResult<()> {
        let key = identity.key();
        for _ in 0..IDENTITY_RETRIES {
            let item = self
                .get(contact_key(contact), "add_identity")
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("contact {contact}")))?;
            let rev = opt_i64(&item, "identRev")?.unwrap_or(0);
            let mut identities: Vec<Identity> = json_attr(&item, "identities")?;
            match identities.iter_mut().find(|i| i.key() == key) {
                Some(existing) => existing.clone_from(identity),
                None => identities.push(identity.clone()),
            }
            let mut ident = base_item(ident_key(&key), "identity");
            ident.insert("contact".to_owned(), s(contact.to_string()));
            let claim = Put::builder()
                .table_name(&self.table)
                .set_item(Some(ident))
                .condition_expression("attribute_not_exists(PK) OR contact = :me")
                .expression_attribute_values(":me", s(contact.to_string()))
                .build()
                .map_err(build_err)?;
            let list = Update::builder()
                .table_name(&self.table)
                .set_key(Some(self.key(contact_key(contact))))
                .update_expression("SET identities = :ids, identRev = :next")
                .condition_expression("identRev = :rev")
                .expression_attribute_values(":ids", s(to_json(&identities)?))
                .expression_attribute_values(":next", n(rev + 1))
                .expression_attribute_values(":rev", n(rev))
                .build()
                .map_err(build_err)?;
            let items = vec![
                TransactWriteItem::builder().put(claim).build(),
                TransactWriteItem::builder().update(list).build(),
            ];
            match self.transact(items, "add_identity").await {
                Ok(()) => return Ok(()),
                Err(Failure::Other(e)) => return Err(e),
                Err(f) => {
                    let claimed_elsewhere = match f.item_failed(0) {
                        Some(failed) => failed,
                        None => self
                            .contact_id_by_identity(&key)
                            .await?
                            .is_some_and(|holder| holder != contact),
                    };
                    if claimed_elsewhere {
                        return Err(StoreError::Conflict(format!(
                            "identity {key} belongs to another contact"
                        )));
                    }
                    // The identity list changed under us: read again.
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "add_identity: contact {contact} keeps changing"
        )))
    }

    async fn move_identity(
        &self,
        identity: &Identity,
        from: ContactId,
        to: ContactId,
    ) -> StoreResult<()> {
        let key = identity.key();
        for _ in 0..IDENTITY_RETRIES {
            let mut lists = Vec::new();
            for id in [from, to] {
                let item = self
                    .get(contact_key(id), "move_identity")
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
                let rev = opt_i64(&item, "identRev")?.unwrap_or(0);
                let mut identities: Vec<Identity> = json_attr(&item, "identities")?;
                identities.retain(|i| i.key() != key);
                if id == to {
                    identities.push(identity.clone());
                }
                lists.push((id, rev, identities));
            }
            match self.contact_id_by_identity(&key).await? {
                Some(holder) if holder == to => return Ok(()),
                Some(holder) if holder != from => {
                    return Err(StoreError::Conflict(format!(
                        "identity {key} belongs to a third contact"
                    )));
                }
                _ => {}
            }
            let mut ident = base_item(ident_key(&key), "identity");
            ident.insert("contact".to_owned(), s(to.to_string()));
            let claim = Put::builder()
                .table_name(&self.table)
                .set_item(Some(ident))
                .condition_expression("attribute_not_exists(PK) OR contact = :from")
                .expression_attribute_values(":from", s(from.to_string()))
                .build()
                .map_err(build_err)?;
            let mut items = vec![TransactWriteItem::builder().put(claim).build()];
            for (id, rev, identities) in lists {
                let list = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(self.key(contact_key(id))))
                    .update_expression("SET identities = :ids, identRev = :next")
                    .condition_expression("attribute_not_exists(identRev) OR identRev = :rev")
                    .expression_attribute_values(":ids", s(to_json(&identities)?))
                    .expression_attribute_values(":next", n(rev + 1))
                    .expression_attribute_values(":rev", n(rev))
                    .build()
                    .map_err(build_err)?;
                items.push(TransactWriteItem::builder().update(list).build());
            }
            match self.transact(items, "move_identity").await {
                Ok(()) => {
                    self.mappings.lock().remove(&ident_key(&key).0);
                    return Ok(());
                }
                Err(Failure::Other(e)) => return Err(e),
                // The holder or a list changed under us: read again.
                Err(_) => self.mappings.lock().remove(&ident_key(&key).0),
            };
        }
        Err(StoreError::Unavailable(format!(
            "move_identity: contacts {from} and {to} keep changing"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// conversations

/// The rank a merged or in-memory conversation list continues below (its cursor).
fn rank_cursor(page: &PageRequest) -> StoreResult<Option<String>> {
    match &page.cursor {
        Some(c) => Ok(Some(get_s(&decode_cursor(c, &[RANK])?, RANK)?.to_owned())),
        None => Ok(None),
    }
}

/// One page of a list ordered here rather than by an index: `ranked` (rank, entry) sorted by
/// rank descending and cut at `limit`, with the cursor of the next page when more exists
/// (entries beyond the page, or `more` left unread).
fn ranked_page<T>(
    mut ranked: Vec<(String, T)>,
    limit: usize,
    mut more: bool,
) -> StoreResult<(Vec<T>, Option<String>)> {
    ranked.sort_by(|a, b| b.0.cmp(&a.0));
    if ranked.len() > limit {
        more = true;
        ranked.truncate(limit);
    }
    let next_cursor = match ranked.last() {
        Some((last, _)) if more => {
            let item: Item = [(RANK.to_owned(), s(last))].into_iter().collect();
            Some(encode_cursor(&item, &[RANK])?)
        }
        _ => None,
    };
    Ok((ranked.into_iter().map(|(_, t)| t).collect(), next_cursor))
}

impl DynamoStore {
    /// Every conversation by rank: the status partitions of GSI1 merged (one query each per
    /// page, run together), so no index of all conversations has to follow activity.
    async fn all_conversations_page(&self, page: &PageRequest) -> StoreResult<Page<Conversation>> {
        const WHAT: &str = "list_conversations";
        let limit = limit_of(page);
        let before = rank_cursor(page)?;
        let specs = ConversationStatus::ALL.map(|status| {
            let mut spec = QuerySpec::gsi(0, format!("STATUS#{}", status.as_str()));
            spec.sk_before.clone_from(&before);
            spec
        });
        let first = PageRequest::first(limit);
        let parts = futures_util::future::try_join_all(
            specs.iter().map(|spec| self.query_page(spec, &first, WHAT)),
        )
        .await?;
        let more = parts.iter().any(|p| p.next_cursor.is_some());
        let ranked = parts
            .into_iter()
            .flat_map(|p| p.items)
            .map(|i| Ok((get_s(&i, RANK)?.to_owned(), i)))
            .collect::<StoreResult<Vec<(String, Item)>>>()?;
        let (entries, next_cursor) = ranked_page(ranked, limit, more)?;
        let items = self.conversations_at(entries.iter(), WHAT).await?;
        Ok(Page { items, next_cursor })
    }

    /// The conversations whose index entries (keys) are `entries`, read from the table in that
    /// order.
    async fn conversations_at(
        &self,
        entries: impl Iterator<Item = &Item>,
        what: &str,
    ) -> StoreResult<Vec<Conversation>> {
        let keys = entries
            .map(|i| Ok((get_s(i, PK)?.to_owned(), get_s(i, SK)?.to_owned())))
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_get(keys, what)
            .await?
            .iter()
            .map(conversation_of)
            .collect()
    }

    async fn conversations_page(
        &self,
        spec: &QuerySpec,
        page: &PageRequest,
        what: &str,
    ) -> StoreResult<Page<Conversation>> {
        // The indexes hold keys (and status): the records come from the table.
        let Page { items, next_cursor } = self.query_page(spec, page, what).await?;
        let items = self.conversations_at(items.iter(), what).await?;
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl ConversationStore for DynamoStore {
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        if conversation.version != 0 {
            return Err(StoreError::Conflict(format!(
                "a new conversation must have version 0, not {}",
                conversation.version
            )));
        }
        let cond = Some("attribute_not_exists(PK)");
        let mut ckey = base_item(ckey_key(&conversation.key), "conversation-key");
        ckey.insert("conv".to_owned(), s(conversation.id.to_string()));
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put(conversation_item(conversation)?, cond)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.put(ckey, cond)?)
                .build(),
        ];
        self.transact(items, "create_conversation")
            .await
            .map_err(|f| match f {
                Failure::Other(e) => e,
                _ => StoreError::Conflict(format!(
                    "conversation {} exists already or key {} is taken",
                    conversation.id, conversation.key
                )),
            })?;
        self.remember(ckey_key(&conversation.key).0, conversation.id.to_string());
        Ok(())
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.get(conv_key(id), "get_conversation")
            .await?
            .map(|item| conversation_of(&item))
            .transpose()
    }

    async fn conversation_by_key(
        &self,
        key: &ConversationKey,
    ) -> StoreResult<Option<Conversation>> {
        // A key can move to another conversation (a chat continued elsewhere): a cached
        // mapping is trusted only while the conversation it names still owns the key.
        for fresh in [false, true] {
            if fresh {
                self.mappings.lock().remove(&ckey_key(key).0);
            }
            let Some(id) = self
                .mapping(ckey_key(key), "conv", "conversation_by_key")
                .await?
            else {
                return Ok(None);
            };
            let id = parse_id(&id, ConversationId::parse)?;
            match self.get_conversation(id).await? {
                Some(c) if c.owns_key(key) => return Ok(Some(c)),
                found if fresh => return Ok(found),
                _ => {}
            }
        }
        Ok(None)
    }

    async fn claim_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<Option<ConversationId>> {
        if self
            .get(conv_key(conversation), "claim_conversation_key")
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("conversation {conversation}")));
        }
        let mut item = base_item(ckey_key(key), "conversation-key");
        item.insert("conv".to_owned(), s(conversation.to_string()));
        let old = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("PutItem", &e).into_store("claim_conversation_key"))?;
        self.remember(ckey_key(key).0, conversation.to_string());
        let previous = match old.attributes() {
            Some(item) => Some(parse_id(get_s(item, "conv")?, ConversationId::parse)?),
            None => None,
        };
        Ok(previous.filter(|p| *p != conversation))
    }

    async fn release_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<()> {
        let (pk, sk) = ckey_key(key);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk.clone()))
            .key("SK", s(sk))
            .condition_expression("conv = :c")
            .expression_attribute_values(":c", s(conversation.to_string()))
            .send()
            .await;
        self.mappings.lock().remove(&pk);
        match result.map_err(|e| classify("DeleteItem", &e)) {
            Ok(_) | Err(Failure::ConditionFailed) => Ok(()),
            Err(f) => Err(f.into_store("release_conversation_key")),
        }
    }

    async fn update_conversation(&self, conversation: &Conversation) -> StoreResult<Conversation> {
        let mut next = conversation.clone();
        next.version = conversation.version + 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(conversation_item(&next)?))
            .condition_expression("version = :read")
            .expression_attribute_values(":read", n(conversation.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(e) => match classify("update_conversation", &e) {
                Failure::ConditionFailed => match self.get_conversation(conversation.id).await? {
                    Some(stored) => Err(StoreError::Conflict(format!(
                        "conversation {} is at version {}, not {}",
                        conversation.id, stored.version, conversation.version
                    ))),
                    None => Err(StoreError::NotFound(format!(
                        "conversation {}",
                        conversation.id
                    ))),
                },
                other => Err(other.into_store("update_conversation")),
            },
        }
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let spec = match (filter.assignee, filter.status) {
            (Some(assignee), status) => {
                let spec = QuerySpec::gsi(1, assignee_pk(assignee));
                match status {
                    Some(s) => spec.filtered(status_filter(s)),
                    None => spec,
                }
            }
            (None, Some(status)) => QuerySpec::gsi(0, format!("STATUS#{}", status.as_str())),
            (None, None) => return self.all_conversations_page(page).await,
        };
        self.conversations_page(&spec, page, "list_conversations")
            .await
    }

    async fn list_conversations_of_contact(
        &self,
        contact: ContactId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        const WHAT: &str = "list_conversations_of_contact";
        // A contact has few conversations: all of them, ordered here.
        let spec = QuerySpec::gsi(2, format!("CONTACT#{contact}"));
        let entries = self.query_all(&spec, WHAT).await?;
        let before = rank_cursor(page)?;
        let ranked = self
            .conversations_at(entries.iter(), WHAT)
            .await?
            .into_iter()
            .map(|c| (rank_of(&c), c))
            .filter(|(rank, _)| before.as_ref().is_none_or(|b| rank < b))
            .collect();
        let (items, next_cursor) = ranked_page(ranked, limit_of(page), false)?;
        Ok(Page { items, next_cursor })
    }

    async fn count_assigned(&self, agent: AgentId) -> StoreResult<u32> {
        let mut total: i64 = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSIS[1].0)
                .key_condition_expression("#pk = :pk")
                .filter_expression("#status = :status")
                .expression_attribute_names("#pk", GSIS[1].1)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pk", s(assignee_pk(Some(agent))))
                .expression_attribute_values(":status", s(ConversationStatus::Assigned.as_str()))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("count_assigned", &e).into_store("count_assigned"))?;
            total += i64::from(out.count);
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(last) => start = Some(last),
                None => return Ok(u32::try_from(total).unwrap_or(u32::MAX)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// messages

#[async_trait]
impl MessageStore for DynamoStore {
    async fn append_message(&self, message: &Message) -> StoreResult<AppendOutcome> {
        let key = msg_key(message.conversation_id, message.id);
        let mut item = base_item(key.clone(), "message");
        item.insert("data".to_owned(), s(to_json(message)?));
        if let Some(source) = &message.source_key {
            item.insert("src".to_owned(), s(source.clone()));
            if !message.id.derived_from(source) {
                return self.append_with_source_claim(message, source, item).await;
            }
        }
        // One conditional write: an id derived from the event (`MessageId::derived`) makes a
        // redelivery hit the same key.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        let Err(e) = result else {
            return Ok(AppendOutcome::Inserted);
        };
        match classify("append_message", &e) {
            Failure::ConditionFailed => {
                let stored = self.get(key, "append_message").await?;
                let same_source = match (&message.source_key, &stored) {
                    (Some(source), Some(item)) => {
                        matches!(item.get("src"), Some(AttributeValue::S(s)) if s == source)
                    }
                    _ => false,
                };
                if same_source {
                    Ok(AppendOutcome::Duplicate(message.id))
                } else {
                    Err(StoreError::Conflict(format!(
                        "message {} exists already",
                        message.id
                    )))
                }
            }
            other => Err(other.into_store("append_message")),
        }
    }

    async fn get_message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> StoreResult<Option<Message>> {
        self.get(msg_key(conversation, id), "get_message")
            .await?
            .map(|item| message_of(&item))
            .transpose()
    }

    async fn update_delivery(
        &self,
        conversation: ConversationId,
        id: MessageId,
        delivery: &Delivery,
        channel_ref: Option<&ChannelRef>,
    ) -> StoreResult<Message> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(msg_key(conversation, id))))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":delivery", s(to_json(delivery)?))
            .return_values(ReturnValue::AllNew);
        request = match channel_ref {
            Some(r) => request
                .update_expression("SET delivery = :delivery, channelRef = :ref")
                .expression_attribute_values(":ref", s(to_json(r)?)),
            None => request.update_expression("SET delivery = :delivery"),
        };
        match request.send().await {
            Ok(out) => message_of(&out.attributes.unwrap_or_default()),
            Err(e) => match classify("update_delivery", &e) {
                Failure::ConditionFailed => Err(StoreError::NotFound(format!("message {id}"))),
                other => Err(other.into_store("update_delivery")),
            },
        }
    }

    /// The content is an attribute of its own beside the message's `data` (like `delivery`),
    /// with its revision as a number the write is conditioned on.
    async fn update_content(
        &self,
        conversation: ConversationId,
        id: MessageId,
        content: &MessageContent,
    ) -> StoreResult<Message> {
        let previous = content.revision.saturating_sub(1);
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(msg_key(conversation, id))))
            .update_expression("SET content = :content, revision = :next")
            .condition_expression(if previous == 0 {
                "attribute_exists(PK) AND attribute_not_exists(revision)"
            } else {
                "attribute_exists(PK) AND revision = :prev"
            })
            .expression_attribute_values(":content", s(to_json(content)?))
            .expression_attribute_values(":next", AttributeValue::N(content.revision.to_string()))
            .return_values(ReturnValue::AllNew);
        let request = if previous == 0 {
            request
        } else {
            request.expression_attribute_values(":prev", AttributeValue::N(previous.to_string()))
        };
        match request.send().await {
            Ok(out) => message_of(&out.attributes.unwrap_or_default()),
            Err(e) => match classify("update_content", &e) {
                Failure::ConditionFailed => match self.get_message(conversation, id).await? {
                    None => Err(StoreError::NotFound(format!("message {id}"))),
                    Some(m) => Err(StoreError::Conflict(format!(
                        "message {id} is at revision {}",
                        m.revision
                    ))),
                },
                other => Err(other.into_store("update_content")),
            },
        }
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let spec = QuerySpec::table(
            format!("CONV#{conversation}"),
            Some("MSG#".to_owned()),
            false,
        );
        let Page { items, next_cursor } = self.query_page(&spec, page, "list_messages").await?;
        let items = items
            .iter()
            .map(message_of)
            .collect::<StoreResult<Vec<Message>>>()?;
        Ok(Page { items, next_cursor })
    }
}

impl DynamoStore {
    /// A message whose id is not derived from its source key: the key is claimed by a second
    /// item (`SRC#…`, kept `SOURCE_KEY_TTL_SECS`) in one transaction with the message.
    async fn append_with_source_claim(
        &self,
        message: &Message,
        source: &str,
        item: Item,
    ) -> StoreResult<AppendOutcome> {
        let now = self.now();
        let mut src = base_item(src_key(source), "source-key");
        src.insert("msg".to_owned(), s(message.id.to_string()));
        src.insert("conv".to_owned(), s(message.conversation_id.to_string()));
        src.insert("ttl".to_owned(), n(now.secs() + SOURCE_KEY_TTL_SECS));
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(src))
            .condition_expression("attribute_not_exists(PK) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now.secs()))
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().put(claim).build(),
            TransactWriteItem::builder()
                .put(self.put(item, Some("attribute_not_exists(PK)"))?)
                .build(),
        ];
        let exists = || StoreError::Conflict(format!("message {} exists already", message.id));
        match self.transact(items, "append_message").await {
            Ok(()) => Ok(AppendOutcome::Inserted),
            Err(Failure::Other(e)) => Err(e),
            Err(f) => {
                if f.item_failed(0) == Some(false) {
                    return Err(exists());
                }
                match self.get(src_key(source), "append_message").await? {
                    Some(first) => Ok(AppendOutcome::Duplicate(parse_id(
                        get_s(&first, "msg")?,
                        MessageId::parse,
                    )?)),
                    None => Err(exists()),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// agents

#[async_trait]
impl AgentStore for DynamoStore {
    async fn create_agent(&self, agent: &Agent) -> StoreResult<()> {
        let cond = Some("attribute_not_exists(PK)");
        let totp = omnidesk_core::sealing::totp_to_store(self.sealing.as_deref(), agent).await?;
        let mut login = base_item(email_key(&agent.email), "agent-email");
        login.insert("agent".to_owned(), s(agent.id.to_string()));
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put(agent_item(agent, totp)?, cond)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.put(login, cond)?)
                .build(),
        ];
        self.transact(items, "create_agent")
            .await
            .map_err(|f| match f {
                Failure::Other(e) => e,
                _ => StoreError::Conflict(format!(
                    "agent {} exists already or its e-mail is taken",
                    agent.id
                )),
            })
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        match self.get(agent_key(id), "get_agent").await? {
            Some(item) => Ok(Some(self.agent_with_totp(&item).await?)),
            None => Ok(None),
        }
    }

    async fn agent_id_by_email(&self, email: &EmailAddress) -> StoreResult<Option<AgentId>> {
        match self.get(email_key(email), "agent_id_by_email").await? {
            Some(item) => Ok(Some(parse_id(get_s(&item, "agent")?, AgentId::parse)?)),
            None => Ok(None),
        }
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let spec = QuerySpec::table("AGENTS".to_owned(), Some("AGENT#".to_owned()), true);
        let mut agents = Vec::new();
        for item in self.query_all(&spec, "list_agents").await? {
            agents.push(self.agent_with_totp(&item).await?);
        }
        Ok(agents)
    }

    async fn update_agent(&self, agent: &Agent) -> StoreResult<()> {
        // The e-mail attribute is not touched: it overrides `data` when read.
        let totp = omnidesk_core::sealing::totp_to_store(self.sealing.as_deref(), agent).await?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(agent_key(agent.id))))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_names("#totp", "totp")
            .expression_attribute_values(":data", s(to_json(agent)?))
            .expression_attribute_values(":hash", s(agent.password_hash.as_phc()));
        update = match totp {
            Some(t) => update
                .update_expression("SET #data = :data, pwhash = :hash, #totp = :totp")
                .expression_attribute_values(":totp", s(t)),
            None => update.update_expression("SET #data = :data, pwhash = :hash REMOVE #totp"),
        };
        let result = update.send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify("update_agent", &e) {
                Failure::ConditionFailed => {
                    Err(StoreError::NotFound(format!("agent {}", agent.id)))
                }
                other => Err(other.into_store("update_agent")),
            },
        }
    }

    async fn next_counter(&self, name: &str) -> StoreResult<u64> {
        self.add_to_counter(name, None).await
    }

    async fn next_counter_until(&self, name: &str, expires_at: Timestamp) -> StoreResult<u64> {
        self.add_to_counter(name, Some(expires_at)).await
    }

    async fn counter(&self, name: &str) -> StoreResult<u64> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(counter_key(name))))
            .projection_expression("#n")
            .expression_attribute_names("#n", "n")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("counter", &e).into_store("counter"))?;
        let value = match &out.item {
            Some(item) => opt_i64(item, "n")?.unwrap_or(0),
            None => 0,
        };
        u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("counter {name} is negative")))
    }
}

// ---------------------------------------------------------------------------------------------
// bots

#[async_trait]
impl BotStore for DynamoStore {
    async fn put_bot(&self, bot: &BotConfig) -> StoreResult<()> {
        let bot = omnidesk_core::sealing::bot_to_store(self.sealing.as_deref(), bot).await?;
        let mut item = base_item(bot_key(bot.id), "bot");
        item.insert("data".to_owned(), s(to_json(&bot)?));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("put_bot", &e).into_store("put_bot"))
    }

    async fn get_bot(&self, id: BotId) -> StoreResult<Option<BotConfig>> {
        match self.get(bot_key(id), "get_bot").await? {
            Some(item) => Ok(Some(
                omnidesk_core::sealing::bot_from_store(self.sealing.as_deref(), bot_of(&item)?)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    async fn list_bots(&self) -> StoreResult<Vec<BotConfig>> {
        let spec = QuerySpec::table("BOTS".to_owned(), Some("BOT#".to_owned()), true);
        let mut bots = Vec::new();
        for item in self.query_all(&spec, "list_bots").await? {
            bots.push(
                omnidesk_core::sealing::bot_from_store(self.sealing.as_deref(), bot_of(&item)?)
                    .await?,
            );
        }
        Ok(bots)
    }

    async fn set_poll_offset(&self, id: BotId, offset: i64) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(bot_key(id))))
            .update_expression("SET pollOffset = :offset")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":offset", n(offset))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify("set_poll_offset", &e) {
                Failure::ConditionFailed => Err(StoreError::NotFound(format!("bot {id}"))),
                other => Err(other.into_store("set_poll_offset")),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// dead letters and connections

#[async_trait]
impl DeadLetterStore for DynamoStore {
    async fn record_dead_letter(&self, dead_letter: &DeadLetter) -> StoreResult<()> {
        let ttl = self.now().secs() + DEAD_LETTER_TTL_SECS;
        self.put_log_item(
            ("DEADLETTER", "dead-letter", "record_dead_letter"),
            dead_letter.received_at,
            &dead_letter.id,
            to_json(dead_letter)?,
            ttl,
        )
        .await
    }

    async fn list_dead_letters(&self, page: &PageRequest) -> StoreResult<Page<DeadLetter>> {
        self.list_log("DEADLETTER", page, "list_dead_letters").await
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn record_audit(&self, entry: &AuditEntry, keep_until: Timestamp) -> StoreResult<()> {
        self.put_log_item(
            ("AUDIT", "audit", "record_audit"),
            entry.at,
            &entry.id,
            to_json(entry)?,
            keep_until.secs(),
        )
        .await
    }

    async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
        self.list_log("AUDIT", page, "list_audit").await
    }
}

impl DynamoStore {
    /// `next_counter` (`expires_at`: `None`) and `next_counter_until`, whose counter also gets
    /// a `ttl` (DynamoDB's TTL deletes it, within days, once its window is over).
    async fn add_to_counter(&self, name: &str, expires_at: Option<Timestamp>) -> StoreResult<u64> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(counter_key(name))))
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        update = match expires_at {
            None => update.update_expression("ADD #n :one"),
            Some(end) => update
                .update_expression("ADD #n :one SET #ttl = if_not_exists(#ttl, :ttl)")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n(end.secs())),
        };
        let out = update
            .send()
            .await
            .map_err(|e| classify("next_counter", &e).into_store("next_counter"))?;
        let value = opt_i64(&out.attributes.unwrap_or_default(), "n")?
            .ok_or_else(|| StoreError::Corrupt(format!("counter {name} returned no value")))?;
        u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("counter {name} is negative")))
    }
}

impl DynamoStore {
    /// Puts a record of a time-ordered log: partition `pk`, sort key `<ms, zero-padded>#<id>`,
    /// the record's JSON in `data`, dropped by DynamoDB's TTL at `ttl_secs`.
    async fn put_log_item(
        &self,
        (pk, kind, op): (&str, &str, &'static str),
        at: Timestamp,
        id: &str,
        data: String,
        ttl_secs: i64,
    ) -> StoreResult<()> {
        let sk = format!("{}#{id}", padded(at.millis()));
        let mut item = base_item((pk.to_owned(), sk), kind);
        item.insert("data".to_owned(), s(data));
        item.insert("ttl".to_owned(), n(ttl_secs));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(op, &e).into_store(op))
    }

    /// A page of the time-ordered log `pk`, newest first, without expired records.
    async fn list_log<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        page: &PageRequest,
        op: &'static str,
    ) -> StoreResult<Page<T>> {
        let spec = QuerySpec::table(pk.to_owned(), None, false).filtered(ttl_filter(self.now()));
        let Page { items, next_cursor } = self.query_page(&spec, page, op).await?;
        let items = items
            .iter()
            .map(|i| json_attr(i, "data"))
            .collect::<StoreResult<Vec<T>>>()?;
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        let mut item = base_item(conn_key(&connection.id), "connection");
        item.insert("data".to_owned(), s(to_json(connection)?));
        let expires = connection.connected_at.plus_millis(CONNECTION_TTL_MS);
        item.insert("ttl".to_owned(), n(expires.secs()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("add_connection", &e).into_store("add_connection"))
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(conn_key(id))))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("remove_connection", &e).into_store("remove_connection"))
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let now = self.now();
        let spec = QuerySpec::table("CONNS".to_owned(), Some("CONN#".to_owned()), true)
            .filtered(ttl_filter(now));
        let mut live = Vec::new();
        for item in self.query_all(&spec, "list_connections").await? {
            let connection: Connection = json_attr(&item, "data")?;
            if connection.connected_at.plus_millis(CONNECTION_TTL_MS) > now {
                live.push(connection);
            }
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_conversation(preview: &str) -> Conversation {
        use omnidesk_domain::{Author, Channel, Direction, Message};
        let now = Timestamp::from_millis(1_790_000_000_000);
        let id = |n: u128| uuid::Uuid::from_u128(n);
        let mut c = Conversation::new(
            ConversationId::from_uuid(id(1)),
            ConversationKey::parse("tg:1234567890:9876543210").unwrap(),
            ContactId::from_uuid(id(2)),
            Channel::Telegram,
            now,
        );
        c.assignee_id = Some(AgentId::from_uuid(id(3)));
        c.status = ConversationStatus::Assigned;
        c.language = Some(omnidesk_domain::LanguageTag::parse("pt-BR").unwrap());
        let mut m = Message::outbound(
            MessageId::from_uuid(id(4)),
            c.id,
            Author::Contact { id: c.contact_id },
            Channel::Telegram,
            preview.to_owned(),
            now,
        );
        m.direction = Direction::Inbound;
        c.record_message(&m);
        c.last_reply_at = Some(now);
        c.version = 123_456;
        c
    }

    #[test]
    fn a_conversation_item_with_a_full_preview_is_billed_as_one_write_unit() {
        // The longest previews, in scripts of 1 to 4 bytes a character.
        let max = omnidesk_domain::LastMessage::PREVIEW_BYTES;
        for preview in [
            "x".repeat(max + 50),
            "ж".repeat(max),
            "日".repeat(max),
            "🙂".repeat(max),
        ] {
            let item = conversation_item(&busy_conversation(&preview)).unwrap();
            let size = item::item_size(&item);
            assert!(size <= 1024, "{size} bytes: more than one write unit");
        }
    }

    #[test]
    fn bot_sort_keys_follow_numeric_order() {
        let small = BotId::parse("99").unwrap();
        let big = BotId::parse("1000").unwrap();
        assert!(bot_key(small).1 < bot_key(big).1);
    }

    #[test]
    fn an_item_with_a_past_ttl_is_expired_and_one_without_ttl_is_not() {
        let now = Timestamp::from_millis(10_000_000);
        let mut item = base_item(("CONNS".to_owned(), "CONN#x".to_owned()), "connection");
        assert!(!expired(&item, now).unwrap());
        item.insert("ttl".to_owned(), n(now.secs()));
        assert!(expired(&item, now).unwrap());
        item.insert("ttl".to_owned(), n(now.secs() + 1));
        assert!(!expired(&item, now).unwrap());
    }
}
