//! [`Counter`]: an SDK interceptor that counts every AWS request the adapters make, by service
//! and operation, and estimates the DynamoDB capacity units and WebSocket messages they bill.
//!
//! Capacity estimates (stated, not measured by AWS):
//! - item size follows DynamoDB's rule (attribute name bytes + value bytes; numbers ≈ digits/2 + 1;
//!   maps/lists 3 bytes + contents), computed from the JSON on the wire;
//! - writes: `PutItem`/`DeleteItem` ⌈size/1 KB⌉, `UpdateItem` ⌈(key + new values)/1 KB⌉ (the
//!   stored item is not on the wire), at least 1; `TransactWriteItems` 2× per item; plus the
//!   index writes DynamoDB makes, found by comparing each put item's index entries (keys and
//!   projected attributes, see [`GSIS`]) with those of the last item put at the same key: a new
//!   or removed entry 1, a changed key 2 (delete + put), a changed projected attribute 1, an
//!   unchanged entry 0 (index entries here are far below 1 KB);
//! - reads: `GetItem` ⌈size/4 KB⌉ × (1 strongly consistent, 0.5 eventually), `Query` on the summed
//!   size of the returned items (at least one unit), `TransactGetItems` 2×;
//! - `PostToConnection`: one message per started 32 KB; SQS: one request per started 64 KB.
//!
//! IAM: each request is mapped to the actions AWS authorises it by ([`Tally::iam_actions`]),
//! with the bucket (S3) or queue (SQS) it names, per calling function.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use parking_lot::Mutex;
use serde_json::Value;

/// The omnidesk table's GSIs as `DynamoStore::create_table` and template.yaml define them:
/// (partition attribute, sort attribute, projected non-key attributes).
const GSIS: [(&str, &str, &[&str]); 3] = [
    ("GSI1PK", "rank", &[]),
    ("GSI2PK", "rank", &["status"]),
    ("GSI3PK", "PK", &[]),
];

tokio::task_local! {
    /// The function (its name, e.g. `router`) whose handler is running: requests made inside
    /// [`CALLER`]`.scope(…)` are attributed to it in [`Tally::iam_actions`].
    pub static CALLER: &'static str;
}

/// One index entry: its key and projected values, as wire JSON text.
type IndexEntry = Vec<String>;

/// What the counted requests add up to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Requests by `"Service:Operation"`.
    pub calls: BTreeMap<String, u64>,
    /// Estimated DynamoDB write request units.
    pub wru: f64,
    /// Estimated DynamoDB read request units.
    pub rru: f64,
    /// Estimated write units by `"Service:Operation"`.
    pub wru_by_op: BTreeMap<String, f64>,
    /// Estimated write units by `"Operation PK-prefix"` (e.g. `"PutItem CONV"`): which items
    /// the writes go to.
    pub wru_by_item: BTreeMap<String, f64>,
    /// Estimated read units by `"Service:Operation"`.
    pub rru_by_op: BTreeMap<String, f64>,
    /// DynamoDB single-item requests by `"Operation PK-prefix/SK-prefix"` (e.g.
    /// `"GetItem TXC/TXC"`, a translation-cache look-up): which items are read and written.
    pub dynamo_by_item: BTreeMap<String, u64>,
    /// Billed SQS requests (64 KB chunks).
    pub sqs_requests: u64,
    /// Billed WebSocket messages (32 KB chunks) posted to connections.
    pub ws_messages: u64,
    /// Bytes uploaded to S3 (`PutObject` payloads): what a month of storage is priced on.
    pub s3_bytes_put: u64,
    /// The IAM actions each function's requests need (`dynamodb:PutItem`, …), by function
    /// name; requests made outside a [`CALLER`] scope (test setup) are not listed.
    pub iam_actions: BTreeMap<String, BTreeSet<String>>,
    /// The S3 actions each function calls with their bucket (`s3:GetObject <bucket>`), by
    /// function name: which of the template's buckets a grant must name.
    pub s3_buckets: BTreeMap<String, BTreeSet<String>>,
    /// The SQS actions each function calls with their queue's name (`sqs:SendMessage
    /// <name>-translate.fifo`), by function name: which of the template's queues a grant must
    /// name.
    pub sqs_queues: BTreeMap<String, BTreeSet<String>>,
}

impl Tally {
    /// Requests of one service.
    pub fn service_calls(&self, service: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| k.split(':').next() == Some(service))
            .map(|(_, v)| v)
            .sum()
    }

    /// `self + other` (two measured phases as one).
    pub fn plus(&self, other: &Tally) -> Tally {
        fn sum<V: Copy + Default + std::ops::AddAssign>(
            a: &BTreeMap<String, V>,
            b: &BTreeMap<String, V>,
        ) -> BTreeMap<String, V> {
            let mut out = a.clone();
            for (k, v) in b {
                *out.entry(k.clone()).or_default() += *v;
            }
            out
        }
        Tally {
            calls: sum(&self.calls, &other.calls),
            wru: self.wru + other.wru,
            rru: self.rru + other.rru,
            wru_by_op: sum(&self.wru_by_op, &other.wru_by_op),
            wru_by_item: sum(&self.wru_by_item, &other.wru_by_item),
            rru_by_op: sum(&self.rru_by_op, &other.rru_by_op),
            dynamo_by_item: sum(&self.dynamo_by_item, &other.dynamo_by_item),
            sqs_requests: self.sqs_requests + other.sqs_requests,
            ws_messages: self.ws_messages + other.ws_messages,
            s3_bytes_put: self.s3_bytes_put + other.s3_bytes_put,
            iam_actions: self.iam_actions.clone(),
            s3_buckets: self.s3_buckets.clone(),
            sqs_queues: self.sqs_queues.clone(),
        }
    }

    /// `self - earlier`.
    pub fn since(&self, earlier: &Tally) -> Tally {
        let mut calls = self.calls.clone();
        for (k, v) in &earlier.calls {
            if let Some(c) = calls.get_mut(k) {
                *c = c.saturating_sub(*v);
            }
        }
        calls.retain(|_, v| *v > 0);
        let mut dynamo_by_item = self.dynamo_by_item.clone();
        for (k, v) in &earlier.dynamo_by_item {
            if let Some(c) = dynamo_by_item.get_mut(k) {
                *c = c.saturating_sub(*v);
            }
        }
        dynamo_by_item.retain(|_, v| *v > 0);
        let diff = |now: &BTreeMap<String, f64>, then: &BTreeMap<String, f64>| {
            now.iter()
                .map(|(k, v)| (k.clone(), v - then.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v > 0.0)
                .collect()
        };
        Tally {
            calls,
            wru_by_op: diff(&self.wru_by_op, &earlier.wru_by_op),
            wru_by_item: diff(&self.wru_by_item, &earlier.wru_by_item),
            rru_by_op: diff(&self.rru_by_op, &earlier.rru_by_op),
            dynamo_by_item,
            wru: self.wru - earlier.wru,
            rru: self.rru - earlier.rru,
            sqs_requests: self.sqs_requests.saturating_sub(earlier.sqs_requests),
            ws_messages: self.ws_messages.saturating_sub(earlier.ws_messages),
            s3_bytes_put: self.s3_bytes_put.saturating_sub(earlier.s3_bytes_put),
            iam_actions: self.iam_actions.clone(),
            s3_buckets: self.s3_buckets.clone(),
            sqs_queues: self.sqs_queues.clone(),
        }
    }

    /// Requests of one DynamoDB operation on items whose partition key starts with `prefix`
    /// (`"GetItem"`, `"TXC"`: translation-cache look-ups).
    pub fn item_requests(&self, op: &str, prefix: &str) -> u64 {
        self.dynamo_by_item
            .iter()
            .filter(|(k, _)| {
                k.split_once(' ')
                    .is_some_and(|(o, item)| o == op && item.split('/').next() == Some(prefix))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// Counts requests; clones share one tally. Add it to a client's config with `.interceptor()`.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    tally: Arc<Mutex<Tally>>,
    /// The index entries of every item put so far, by base key.
    indexes: Arc<Mutex<std::collections::HashMap<String, Vec<Option<IndexEntry>>>>>,
}

impl Counter {
    /// A copy of the tally so far.
    pub fn snapshot(&self) -> Tally {
        self.tally.lock().clone()
    }
}

/// The read units' basis, carried from the request to the response of one call.
#[derive(Debug, Clone)]
struct PendingRead {
    op: String,
    consistent: bool,
}

impl Storable for PendingRead {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "omnidesk-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (service, op) = (meta.service().to_owned(), meta.name().to_owned());
        let body = context.request().body().bytes().unwrap_or_default();
        // Only DynamoDB and SQS bodies are read (units, a transaction's actions, the queue);
        // others are sized.
        let json: Value = if service == "DynamoDB" || service == "SQS" {
            serde_json::from_slice(body).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let mut tally = self.tally.lock();
        *tally.calls.entry(format!("{service}:{op}")).or_default() += 1;
        if let Ok(caller) = CALLER.try_with(|c| *c) {
            let mut actions = iam_actions(&service, &op, &json);
            if service == "Translate" && detects_source(body) {
                // `SourceLanguageCode: auto`: Translate calls Amazon Comprehend with the
                // caller's permissions (the Translate developer guide's identity policy).
                actions.push("comprehend:DetectDominantLanguage".to_owned());
            }
            tally
                .iam_actions
                .entry(caller.to_owned())
                .or_default()
                .extend(actions);
            if service == "SQS"
                && let Some(queue) = json["QueueUrl"].as_str()
            {
                let name = queue.rsplit('/').next().unwrap_or(queue);
                let entries = tally.sqs_queues.entry(caller.to_owned()).or_default();
                for action in iam_actions(&service, &op, &json) {
                    entries.insert(format!("{action} {name}"));
                }
            }
            if service == "S3"
                && let Some(bucket) = path_style_bucket(context.request().uri())
            {
                let entries = tally.s3_buckets.entry(caller.to_owned()).or_default();
                for action in iam_actions(&service, &op, &json) {
                    entries.insert(format!("{action} {bucket}"));
                }
            }
        }
        match service.as_str() {
            "DynamoDB" => {
                let w = write_units(&op, &json) + self.index_writes(&op, &json);
                if matches!(
                    op.as_str(),
                    "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem"
                ) {
                    *tally
                        .dynamo_by_item
                        .entry(format!("{op} {}", item_kinds(&op, &json)))
                        .or_default() += 1;
                }
                if w > 0.0 {
                    *tally
                        .wru_by_item
                        .entry(format!("{op} {}", item_kinds(&op, &json)))
                        .or_default() += w;
                }
                tally.wru += w;
                if w > 0.0 {
                    *tally
                        .wru_by_op
                        .entry(format!("{service}:{op}"))
                        .or_default() += w;
                }
                if matches!(
                    op.as_str(),
                    "GetItem" | "Query" | "TransactGetItems" | "BatchGetItem"
                ) {
                    let consistent = json.get("ConsistentRead") == Some(&Value::Bool(true))
                        || op == "TransactGetItems";
                    drop(tally);
                    cfg.interceptor_state()
                        .store_put(PendingRead { op, consistent });
                }
            }
            "SQS" => tally.sqs_requests += chunks(body.len(), 64 * 1024),
            _ if op == "PostToConnection" => tally.ws_messages += chunks(body.len(), 32 * 1024),
            "S3" if op == "PutObject" => {
                let headers = context.request().headers();
                let length = headers
                    .get("x-amz-decoded-content-length")
                    .or_else(|| headers.get("content-length"))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(body.len() as u64);
                tally.s3_bytes_put += length;
            }
            _ => {}
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<PendingRead>().cloned() else {
            return Ok(());
        };
        let body = context.response().body().bytes().unwrap_or_default();
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let r = read_units(&pending.op, pending.consistent, &json);
        let mut tally = self.tally.lock();
        tally.rru += r;
        *tally
            .rru_by_op
            .entry(format!("DynamoDB:{}", pending.op))
            .or_default() += r;
        Ok(())
    }
}

impl Counter {
    /// Index write units of one request, updating the remembered entries.
    fn index_writes(&self, op: &str, body: &Value) -> f64 {
        let mut indexes = self.indexes.lock();
        let mut apply = |kind: &str, b: &Value| -> f64 {
            match kind {
                "Put" | "PutItem" => {
                    let item = &b["Item"];
                    let new = index_entries(item);
                    let old = indexes.insert(base_key(item), new.clone());
                    index_diff(old.as_deref(), &new)
                }
                "Delete" | "DeleteItem" => match indexes.remove(&base_key(&b["Key"])) {
                    Some(old) => index_diff(Some(&old), &[None, None, None]),
                    None => 0.0,
                },
                _ => 0.0,
            }
        };
        match op {
            "PutItem" | "DeleteItem" => apply(op, body),
            "TransactWriteItems" => transact_actions(body).map(|(kind, b)| apply(kind, b)).sum(),
            _ => 0.0,
        }
    }
}

/// The IAM actions one request needs: a transaction is authorised per contained action, the
/// batch and single SQS calls share an action, every `@connections` call is `ManageConnections`.
fn iam_actions(service: &str, op: &str, body: &Value) -> Vec<String> {
    match (service, op) {
        ("DynamoDB", "TransactWriteItems") => transact_actions(body)
            .map(|(kind, _)| match kind.as_str() {
                "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
                other => format!("dynamodb:{other}Item"),
            })
            .collect(),
        ("DynamoDB", "TransactGetItems") => vec!["dynamodb:GetItem".to_owned()],
        ("DynamoDB", op) => vec![format!("dynamodb:{op}")],
        ("SQS", op) => vec![format!("sqs:{}", op.trim_end_matches("Batch"))],
        ("SSM", op) => vec![format!("ssm:{op}")],
        // SESv2 SendEmail is authorised by ses:SendEmail, whatever its content.
        ("SESv2", op) => vec![format!("ses:{op}")],
        ("Translate", op) => vec![format!("translate:{op}")],
        // Converse is authorised by bedrock:InvokeModel.
        ("BedrockRuntime" | "Bedrock Runtime", "Converse") => {
            vec!["bedrock:InvokeModel".to_owned()]
        }
        ("ApiGatewayManagementApi", _) => vec!["execute-api:ManageConnections".to_owned()],
        // HeadObject is authorised by s3:GetObject, ListObjectsV2 by s3:ListBucket.
        ("S3", "HeadObject") => vec!["s3:GetObject".to_owned()],
        ("S3", "ListObjectsV2") => vec!["s3:ListBucket".to_owned()],
        ("S3", op) => vec![format!("s3:{op}")],
        (service, op) => vec![format!("{service}:{op}")],
    }
}

/// Whether a `TranslateText` body asks Translate to detect the source language
/// (`SourceLanguageCode: auto`), in Smithy RPC v2 CBOR (a text key of 18 bytes, `0x72`, then a
/// text value of 4, `0x64`) or AWS JSON 1.1.
fn detects_source(body: &[u8]) -> bool {
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    contains(b"\x72SourceLanguageCode\x64auto") || contains(b"\"SourceLanguageCode\":\"auto\"")
}

/// The bucket of a path-style S3 URI (`http://127.0.0.1:5000/<bucket>/<key>`).
fn path_style_bucket(uri: &str) -> Option<String> {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path = rest.split_once('/')?.1;
    let bucket = path.split(['/', '?']).next()?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

/// The actions of a `TransactWriteItems` body: (`Put`/`Update`/`Delete`/`ConditionCheck`, its
/// body).
fn transact_actions(body: &Value) -> impl Iterator<Item = (&String, &Value)> {
    body["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_object()?.iter().next())
}

/// The partition-key prefixes (`CONV`, `IDENT`, …) a write request touches, joined by `+`.
fn item_kinds(op: &str, body: &Value) -> String {
    let prefix = |b: &Value| {
        let key = b
            .get("Item")
            .or_else(|| b.get("Key"))
            .unwrap_or(&Value::Null);
        let pk = key["PK"]["S"].as_str().unwrap_or("?");
        let sk = key["SK"]["S"].as_str().unwrap_or("?");
        let p = pk.split('#').next().unwrap_or(pk);
        let s = sk.split('#').next().unwrap_or(sk);
        format!("{p}/{s}")
    };
    match op {
        "TransactWriteItems" => transact_actions(body)
            .map(|(_, b)| prefix(b))
            .collect::<Vec<_>>()
            .join("+"),
        _ => prefix(body),
    }
}

fn base_key(item: &Value) -> String {
    format!("{}|{}", item["PK"], item["SK"])
}

/// The entry an item has in each GSI (`None` when it lacks the index's keys).
fn index_entries(item: &Value) -> Vec<Option<IndexEntry>> {
    GSIS.iter()
        .map(|(pk, sk, projected)| {
            let (p, s) = (item.get(*pk)?, item.get(*sk)?);
            let mut entry = vec![p.to_string(), s.to_string()];
            entry.extend(projected.iter().map(|a| item[*a].to_string()));
            Some(entry)
        })
        .collect()
}

/// Write units of moving each index from `old` entries to `new` ones.
fn index_diff(old: Option<&[Option<IndexEntry>]>, new: &[Option<IndexEntry>]) -> f64 {
    new.iter()
        .enumerate()
        .map(|(i, new)| match (old.and_then(|o| o[i].as_ref()), new) {
            (None, None) => 0.0,
            (None, Some(_)) | (Some(_), None) => 1.0,
            (Some(o), Some(n)) if o[..2] != n[..2] => 2.0,
            (Some(o), Some(n)) if o != n => 1.0,
            _ => 0.0,
        })
        .sum()
}

fn chunks(len: usize, size: usize) -> u64 {
    (len.div_ceil(size)).max(1) as u64
}

/// DynamoDB's size of one attribute value in the wire JSON (`{"S": …}`, `{"N": …}`, …).
fn value_size(v: &Value) -> usize {
    let Some((ty, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (ty.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("B", Value::String(s)) => s.len() * 3 / 4,
        ("N", Value::String(s)) => s.trim_start_matches('-').len().div_ceil(2) + 1,
        ("BOOL" | "NULL", _) => 1,
        ("M", Value::Object(m)) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v))
                .sum::<usize>()
        }
        ("L", Value::Array(a)) => 3 + a.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        ("SS" | "NS" | "BS", Value::Array(a)) => {
            a.iter().map(|s| s.as_str().map_or(0, str::len)).sum()
        }
        _ => 0,
    }
}

/// DynamoDB's size of an item (`{"attr": {"S": …}, …}`).
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map_or(0, |m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
}

fn kb_units(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// Units of one write action (`Put`/`Update`/`Delete`/`ConditionCheck` body).
fn action_units(kind: &str, body: &Value) -> f64 {
    match kind {
        "Put" | "PutItem" => {
            let item = &body["Item"];
            kb_units(item_size(item), 1024)
        }
        "Update" | "UpdateItem" => {
            let values = body.get("ExpressionAttributeValues").map_or(0, item_size);
            kb_units(item_size(&body["Key"]) + values, 1024)
        }
        "Delete" | "DeleteItem" | "ConditionCheck" => 1.0,
        _ => 0.0,
    }
}

fn write_units(op: &str, body: &Value) -> f64 {
    match op {
        "PutItem" | "UpdateItem" | "DeleteItem" => action_units(op, body),
        "TransactWriteItems" => transact_actions(body)
            .map(|(kind, b)| 2.0 * action_units(kind, b))
            .sum(),
        "BatchWriteItem" => body["RequestItems"].as_object().map_or(0.0, |tables| {
            tables
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .map(|r| match r.get("PutRequest") {
                    Some(p) => action_units("Put", p),
                    None => 1.0,
                })
                .sum()
        }),
        _ => 0.0,
    }
}

fn read_units(op: &str, consistent: bool, response: &Value) -> f64 {
    let factor = if consistent { 1.0 } else { 0.5 };
    match op {
        "GetItem" => factor * kb_units(item_size(&response["Item"]), 4096),
        "Query" => {
            let bytes: usize = response["Items"]
                .as_array()
                .map_or(0, |items| items.iter().map(item_size).sum());
            factor * kb_units(bytes, 4096)
        }
        "TransactGetItems" => response["Responses"].as_array().map_or(0.0, |r| {
            r.iter()
                .map(|i| 2.0 * kb_units(item_size(&i["Item"]), 4096))
                .sum()
        }),
        "BatchGetItem" => response["Responses"].as_object().map_or(0.0, |t| {
            t.values()
                .filter_map(Value::as_array)
                .flatten()
                .map(|i| factor * kb_units(item_size(i), 4096))
                .sum()
        }),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn item_size_counts_names_and_values_like_dynamodb() {
        let item = json!({"PK": {"S": "CONV#1"}, "n": {"N": "12345"}, "ok": {"BOOL": true}});
        assert_eq!(item_size(&item), 2 + 6 + 1 + 4 + 2 + 1);
    }

    #[test]
    fn a_transactional_put_of_two_small_items_costs_four_write_units() {
        let body = json!({"TransactItems": [
            {"Put": {"Item": {"PK": {"S": "a"}}}},
            {"Put": {"Item": {"PK": {"S": "b"}}}}
        ]});
        assert_eq!(write_units("TransactWriteItems", &body), 4.0);
    }

    #[test]
    fn index_writes_follow_what_changed_in_the_index_entries() {
        let counter = Counter::default();
        let put = |gsi2: &str, rank: &str, status: &str| {
            json!({"Item": {"PK": {"S": "CONV#1"}, "SK": {"S": "META"}, "GSI1PK": {"S": "x"},
                "GSI2PK": {"S": gsi2}, "rank": {"S": rank}, "status": {"S": status},
                "data": {"S": "{}"}}})
        };
        // New: one entry in each of the two indexes whose keys the item has.
        assert_eq!(
            counter.index_writes("PutItem", &put("a", "1", "queued")),
            2.0
        );
        // Same keys and projected attributes (only `data` changed): no index write.
        assert_eq!(
            counter.index_writes("PutItem", &put("a", "1", "queued")),
            0.0
        );
        // The projected status changed in GSI2 only.
        assert_eq!(
            counter.index_writes("PutItem", &put("a", "1", "assigned")),
            1.0
        );
        // GSI2's key changed (delete + put); GSI1 unchanged.
        assert_eq!(
            counter.index_writes("PutItem", &put("b", "1", "assigned")),
            2.0
        );
        // The shared sort key changed: both indexes re-keyed.
        assert_eq!(
            counter.index_writes("PutItem", &put("b", "2", "assigned")),
            4.0
        );
        let delete = json!({"Key": {"PK": {"S": "CONV#1"}, "SK": {"S": "META"}}});
        assert_eq!(counter.index_writes("DeleteItem", &delete), 2.0);
    }

    #[test]
    fn a_translate_request_with_source_auto_is_told_apart_in_cbor_and_json() {
        let cbor =
            b"\xbf\x64Text\x62hi\x72SourceLanguageCode\x64auto\x72TargetLanguageCode\x62en\xff";
        assert!(detects_source(cbor));
        let given =
            b"\xbf\x64Text\x62hi\x72SourceLanguageCode\x62ru\x72TargetLanguageCode\x62en\xff";
        assert!(!detects_source(given));
        assert!(detects_source(
            br#"{"Text":"hi","SourceLanguageCode":"auto","TargetLanguageCode":"en"}"#
        ));
    }

    #[test]
    fn an_eventually_consistent_small_read_costs_half_a_unit() {
        let resp = json!({"Item": {"PK": {"S": "a"}}});
        assert_eq!(read_units("GetItem", false, &resp), 0.5);
        assert_eq!(read_units("GetItem", true, &resp), 1.0);
    }
}
