//! Machine translation's store port on the table: cached translations, each provider's daily
//! usage, and the glossary.
//!
//! Items:
//! - `TXC#<key>` / `TXC`: a cached translation (`data`), its expiry in milliseconds
//!   (`expiresAt`) and `ttl` = that expiry in epoch seconds, rounded up. A key longer than
//!   [`MAX_KEY_IN_PK`] bytes is keyed by `sha256:<hex>` of it instead (a partition key holds
//!   at most 2048 bytes). Read with one strongly consistent `GetItem` and returned only while
//!   `expiresAt > now`: DynamoDB deletes expired items up to days late, and the caller's `now`
//!   decides, not the table's.
//! - `TXU#<provider>` / `DAY#<day>`: the characters a provider used on a UTC day (`chars`),
//!   counted by one `UpdateItem` `ADD chars :n` on the condition
//!   `attribute_not_exists(chars) OR chars <= :room`, where `room = limit − n` is the highest
//!   total the count may have *before* the add (computed here, so the expression never sums
//!   past the limit; an `n` alone over the limit is refused without a write). DynamoDB
//!   serialises writes of one item, so concurrent adds from any number of processes never pass
//!   the limit. `ReturnValues = ALL_NEW` gives the new total (`UPDATED_NEW` may leave out a
//!   `chars` that an add of 0 did not change); a failed condition returns the current one
//!   (`ReturnValuesOnConditionCheckFailure = ALL_OLD`). The provider is in the
//!   partition key and the day in the sort key, so no provider name or day can make two
//!   counters share an item. `ttl` = [`USAGE_KEEP_SECS`] after the end of the day (or after
//!   the write, whichever is later); reads do not filter on it, so `usage` always agrees with
//!   what `add_usage` counts from.
//! - `GLOSSARY` / `GLOSSARY`: the glossary (`data`, `version`), put on the condition
//!   `attribute_not_exists(PK)` for version 1 and `version = :previous` after that, so of two
//!   editors of one version exactly one wins.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use omnidesk_core::{
    CachedTranslation, Glossary, StoreError, StoreResult, TranslationStore, UsageOutcome, blob_key,
};
use omnidesk_domain::Timestamp;

use super::item::{Failure, Item, classify, json_attr, n, opt_i64, s, to_json};
use super::web::ttl_secs;
use super::{DynamoStore, base_item};

/// Longest cache key used in a partition key as it is; longer ones are hashed.
pub(crate) const MAX_KEY_IN_PK: usize = 1024;
/// How long a day's usage item is kept after the day ends.
pub(crate) const USAGE_KEEP_SECS: i64 = 3 * 24 * 60 * 60;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn cache_key(key: &str) -> (String, String) {
    let pk = if key.len() > MAX_KEY_IN_PK {
        format!("TXC#sha256:{}", blob_key(key.as_bytes()))
    } else {
        format!("TXC#{key}")
    };
    (pk, "TXC".to_owned())
}

/// The link of a cached entry to a conversation whose text it holds: an item of the
/// conversation's partition, deleted with it (and the entry it names) by an erasure.
pub(super) fn link_key(
    conversation: omnidesk_domain::ConversationId,
    key: &str,
) -> (String, String) {
    (
        format!("CONV#{conversation}"),
        format!("{LINK_PREFIX}{key}"),
    )
}

/// The sort-key prefix of [`link_key`].
pub(super) const LINK_PREFIX: &str = "TXL#";

/// The item of the cached entry a [`link_key`] sort key names.
pub(super) fn linked_cache_key(link_sk: &str) -> Option<(String, String)> {
    link_sk.strip_prefix(LINK_PREFIX).map(cache_key)
}

fn usage_key(provider: &str, day: &str) -> (String, String) {
    (format!("TXU#{provider}"), format!("DAY#{day}"))
}

fn glossary_key() -> (String, String) {
    ("GLOSSARY".to_owned(), "GLOSSARY".to_owned())
}

/// The `ttl` of a usage item written at `now`: [`USAGE_KEEP_SECS`] after the end of `day`
/// (`2026-12-01`, UTC), or after `now` when that is later or the day is not a date.
fn usage_ttl(day: &str, now: Timestamp) -> i64 {
    let day_end = Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z"))
        .map(|start| start.plus_millis(DAY_MS).secs())
        .unwrap_or(i64::MIN);
    day_end.max(now.secs()) + USAGE_KEEP_SECS
}

fn chars_of(item: &Item) -> StoreResult<u64> {
    let chars = opt_i64(item, "chars")?
        .ok_or_else(|| StoreError::Corrupt("a usage item lacks `chars`".to_owned()))?;
    u64::try_from(chars)
        .map_err(|_| StoreError::Corrupt(format!("translation usage is negative: {chars}")))
}

#[async_trait]
impl TranslationStore for DynamoStore {
    async fn cached_translation(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<CachedTranslation>> {
        let Some(item) = self.get_raw(cache_key(key), "cached_translation").await? else {
            return Ok(None);
        };
        let expires_at = opt_i64(&item, "expiresAt")?.ok_or_else(|| {
            StoreError::Corrupt("a cached translation lacks `expiresAt`".to_owned())
        })?;
        if expires_at <= now.millis() {
            return Ok(None);
        }
        json_attr(&item, "data").map(Some)
    }

    async fn cache_translation(
        &self,
        key: &str,
        entry: &CachedTranslation,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let mut item = base_item(cache_key(key), "translation");
        item.insert("data".to_owned(), s(to_json(entry)?));
        item.insert("expiresAt".to_owned(), n(expires_at.millis()));
        item.insert("ttl".to_owned(), n(ttl_secs(expires_at)));
        self.put_plain(item, "cache_translation").await
    }

    async fn link_cached_translations(
        &self,
        conversation: omnidesk_domain::ConversationId,
        keys: &[String],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        for key in keys {
            let mut item = base_item(link_key(conversation, key), "translation_link");
            item.insert("ttl".to_owned(), n(ttl_secs(expires_at)));
            self.put_plain(item, "link_cached_translations").await?;
        }
        Ok(())
    }

    async fn add_usage(
        &self,
        provider: &str,
        day: &str,
        chars: u64,
        limit: u64,
    ) -> StoreResult<UsageOutcome> {
        let Some(room) = limit.checked_sub(chars) else {
            // Alone over the limit: nothing can be counted, and nothing is written.
            return Ok(UsageOutcome::LimitReached(self.usage(provider, day).await?));
        };
        let key = usage_key(provider, day);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key.clone())))
            .update_expression("ADD #chars :n SET #ttl = :ttl, #kind = :kind")
            .condition_expression("attribute_not_exists(#chars) OR #chars <= :room")
            .expression_attribute_names("#chars", "chars")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":n", n(chars))
            .expression_attribute_values(":room", n(room))
            .expression_attribute_values(":ttl", n(usage_ttl(day, self.now())))
            .expression_attribute_values(":kind", s("translation-usage"))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(out) => {
                return chars_of(&out.attributes.unwrap_or_default()).map(UsageOutcome::Counted);
            }
            Err(e) => e,
        };
        if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
            && let Some(old) = failed.item()
        {
            return chars_of(old).map(UsageOutcome::LimitReached);
        }
        match classify("add_usage", &e) {
            // The service did not return the item that failed the condition (emulators may
            // not): read it. It can only have grown since, which is still over the limit.
            Failure::ConditionFailed => {
                Ok(UsageOutcome::LimitReached(self.usage(provider, day).await?))
            }
            other => Err(other.into_store("add_usage")),
        }
    }

    async fn usage(&self, provider: &str, day: &str) -> StoreResult<u64> {
        match self.get_raw(usage_key(provider, day), "usage").await? {
            Some(item) => chars_of(&item),
            None => Ok(0),
        }
    }

    async fn glossary(&self) -> StoreResult<Glossary> {
        match self.get_raw(glossary_key(), "glossary").await? {
            Some(item) => json_attr(&item, "data"),
            None => Ok(Glossary::default()),
        }
    }

    async fn put_glossary(&self, glossary: &Glossary) -> StoreResult<()> {
        let conflict = || {
            StoreError::Conflict(format!(
                "glossary version {} is not the next after the stored one",
                glossary.version
            ))
        };
        let Some(previous) = glossary.version.checked_sub(1) else {
            // Version 0 is the glossary never stored: no put can be its successor.
            return Err(conflict());
        };
        let mut item = base_item(glossary_key(), "glossary");
        item.insert("data".to_owned(), s(to_json(glossary)?));
        item.insert("version".to_owned(), n(glossary.version));
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        request = if previous == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("#version = :previous")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":previous", n(previous))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => match classify("put_glossary", &e) {
                Failure::ConditionFailed => Err(conflict()),
                other => Err(other.into_store("put_glossary")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cache_key_is_hashed_into_a_bounded_key_and_a_short_one_is_kept() {
        assert_eq!(cache_key("deepl:ru>en:abc").0, "TXC#deepl:ru>en:abc");
        let long = "я".repeat(1_000);
        let (pk, _) = cache_key(&long);
        assert!(pk.len() < 100, "{pk}");
        assert_ne!(pk, cache_key(&"я".repeat(1_001)).0);
    }

    #[test]
    fn usage_is_keyed_by_provider_then_day_so_no_two_counters_share_an_item() {
        assert_eq!(
            usage_key("deepl", "2026-12-01"),
            ("TXU#deepl".to_owned(), "DAY#2026-12-01".to_owned())
        );
        assert_ne!(usage_key("a#DAY", "x"), usage_key("a", "DAY#x"));
    }

    #[test]
    fn a_usage_item_is_kept_days_after_its_day_and_after_its_last_write() {
        let day_start = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        let during = day_start.plus_millis(3_600_000);
        assert_eq!(
            usage_ttl("2026-12-01", during),
            day_start.plus_millis(DAY_MS).secs() + USAGE_KEEP_SECS
        );
        let long_after = day_start.plus_millis(30 * DAY_MS);
        assert_eq!(
            usage_ttl("2026-12-01", long_after),
            long_after.secs() + USAGE_KEEP_SECS,
            "a write for a past day is not expired at once"
        );
        assert_eq!(
            usage_ttl("not a day", during),
            during.secs() + USAGE_KEEP_SECS
        );
    }
}
