//! Item plumbing: attribute helpers, opaque cursors, and the SDK error classification.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use omnidesk_core::{StoreError, StoreResult};

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(v.into().to_string())
}

/// A string attribute, or `Corrupt` naming it.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks the string attribute `{name}`"
        ))),
    }
}

/// An optional integer attribute (`Corrupt` when present but not an integer).
pub(crate) fn opt_i64(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("attribute `{name}` is not an integer: {v}"))),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute `{name}` is not a number"
        ))),
        None => Ok(None),
    }
}

/// Decodes the JSON of a string attribute.
pub(crate) fn json_attr<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> StoreResult<T> {
    let raw = get_s(item, name)?;
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Corrupt(format!("attribute `{name}` is not valid JSON: {e}")))
}

/// Encodes a value as JSON (domain types always encode).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a record: {e}")))
}

/// DynamoDB's size of an item: attribute name bytes plus value bytes (numbers ≈ digits / 2 + 1),
/// the basis of its billing (one write unit per started KB).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn item_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v)).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            AttributeValue::Ss(l) => l.iter().map(String::len).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// A zero-padded, lexically sortable rendering of a non-negative number.
pub(crate) fn padded(v: i64) -> String {
    format!("{:020}", v.max(0))
}

// ---------------------------------------------------------------------------------------------
// cursors

/// Encodes the key attributes (all strings) of the last returned item as an opaque cursor:
/// hex of a small JSON object.
pub(crate) fn encode_cursor(item: &Item, key_attrs: &[&str]) -> StoreResult<String> {
    let mut map = BTreeMap::new();
    for attr in key_attrs {
        map.insert((*attr).to_owned(), get_s(item, attr)?.to_owned());
    }
    let json = to_json(&map)?;
    Ok(json.bytes().map(|b| format!("{b:02x}")).collect())
}

/// Decodes a cursor into an `ExclusiveStartKey`; only `key_attrs` are accepted.
pub(crate) fn decode_cursor(cursor: &str, key_attrs: &[&str]) -> StoreResult<Item> {
    let bad = || StoreError::Corrupt("invalid page cursor".to_owned());
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if map.len() != key_attrs.len() || !key_attrs.iter().all(|a| map.contains_key(*a)) {
        return Err(bad());
    }
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

// ---------------------------------------------------------------------------------------------
// errors

/// How a DynamoDB call failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// `ConditionalCheckFailedException`.
    ConditionFailed,
    /// `TransactionCanceledException` with the per-item reason codes (`None` = that item was
    /// fine); empty when the service did not report them.
    Canceled(Vec<Option<String>>),
    /// Anything else, already mapped to a store error.
    Other(StoreError),
}

impl Failure {
    /// Treats every failure as a store error, with `what` naming the operation.
    pub(crate) fn into_store(self, what: &str) -> StoreError {
        match self {
            Failure::ConditionFailed => StoreError::Conflict(format!("{what}: condition failed")),
            Failure::Canceled(_) => StoreError::Conflict(format!("{what}: transaction canceled")),
            Failure::Other(e) => e,
        }
    }

    /// Whether item `index` of a canceled transaction failed its condition.
    pub(crate) fn item_failed(&self, index: usize) -> Option<bool> {
        match self {
            Failure::Canceled(reasons) if !reasons.is_empty() => Some(
                reasons
                    .get(index)
                    .and_then(Option::as_deref)
                    .is_some_and(|c| c == "ConditionalCheckFailed"),
            ),
            _ => None,
        }
    }
}

/// Classifies an SDK error. Throttling, 5xx and transport failures are `Unavailable`;
/// rejected requests (validation) are `Corrupt`, since retrying cannot help.
pub(crate) fn classify<E, R>(what: &str, err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    match code.as_deref() {
        Some("ConditionalCheckFailedException") => Failure::ConditionFailed,
        Some("TransactionCanceledException") => Failure::Canceled(Vec::new()),
        Some("ValidationException" | "SerializationException") => {
            Failure::Other(StoreError::Corrupt(format!(
                "{what}: rejected by DynamoDB: {}",
                DisplayErrorContext(&err)
            )))
        }
        _ => Failure::Other(StoreError::Unavailable(format!(
            "{what}: {}",
            DisplayErrorContext(&err)
        ))),
    }
}

/// [`classify`] for `TransactWriteItems`, keeping the cancellation reasons.
pub(crate) fn classify_transact<R: std::fmt::Debug>(
    what: &str,
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Failure {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
        return Failure::Canceled(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        );
    }
    classify(what, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_the_key_attributes() {
        let item: Item = [
            ("PK".to_owned(), s("CONV#1")),
            ("SK".to_owned(), s("MSG#x")),
            ("data".to_owned(), s("{}")),
        ]
        .into_iter()
        .collect();
        let cursor = encode_cursor(&item, &["PK", "SK"]).unwrap();
        let key = decode_cursor(&cursor, &["PK", "SK"]).unwrap();
        assert_eq!(key.len(), 2);
        assert_eq!(key.get("SK"), Some(&s("MSG#x")));
    }

    #[test]
    fn a_tampered_cursor_is_corrupt() {
        assert!(matches!(
            decode_cursor("zz", &["PK", "SK"]),
            Err(StoreError::Corrupt(_))
        ));
        let other =
            encode_cursor(&[("PK".to_owned(), s("a"))].into_iter().collect(), &["PK"]).unwrap();
        assert!(decode_cursor(&other, &["PK", "SK"]).is_err());
    }

    #[test]
    fn padded_numbers_sort_like_numbers() {
        assert!(padded(9) < padded(10));
        assert!(padded(1_700_000_000_000) < padded(1_800_000_000_000));
    }
}
