//! Routing's store port on the table: teams, the deployment's routing rules and canned
//! responses.
//!
//! Items:
//! - `TEAM` / `<name>`: a team (`data`). `list_teams` reads the partition with one strongly
//!   consistent `Query`, page after page: SK order is name order (UTF-8 bytes, as Rust orders
//!   the names).
//! - `RULES` / `RULES`: the rules. `version` is their version and what a put's condition
//!   compares (`attribute_not_exists(PK)` over version 0, `version = :expected` over any
//!   other), so of two editors of one version exactly one wins: DynamoDB checks a condition
//!   and writes one item atomically. The source is its own string attribute `source` and
//!   `data` is the JSON of the rest (with an empty source): a source in JSON would be escaped
//!   (a quote or a newline takes two bytes, a control character six), and its size would no
//!   longer be what [`MAX_RULES_SOURCE_BYTES`] bounds. `rules_version` reads only `version`
//!   (`ProjectionExpression`), so the check a router makes before re-reading the rules costs
//!   one read unit however long the source is.
//! - `CANNED` / `<shortcut>`: a canned response (`data`), listed like the teams.
//!
//! Reads are strongly consistent: an edit through the API is what the next route reads.

use async_trait::async_trait;
use omnidesk_core::{CannedResponse, RoutingStore, StoreError, StoreResult, StoredRules};
use omnidesk_domain::{Team, TeamName};

use super::item::{Failure, Item, classify, get_s, json_attr, n, opt_i64, s, to_json};
use super::{DynamoStore, QuerySpec, base_item};

/// The longest rules source stored, in bytes (of UTF-8). A DynamoDB item holds at most 400 KB
/// with its attribute names; the rest of the rules item (keys, version, the JSON of the other
/// fields) takes well under 1 KB, and the margin keeps the limit a round number far from it.
pub const MAX_RULES_SOURCE_BYTES: usize = 350 * 1024;

const TEAMS_PK: &str = "TEAM";
const CANNED_PK: &str = "CANNED";

fn team_key(name: &TeamName) -> (String, String) {
    (TEAMS_PK.to_owned(), name.as_str().to_owned())
}

fn rules_key() -> (String, String) {
    ("RULES".to_owned(), "RULES".to_owned())
}

fn canned_key(shortcut: &str) -> (String, String) {
    (CANNED_PK.to_owned(), shortcut.to_owned())
}

fn version_of(item: &Item) -> StoreResult<u64> {
    let version = opt_i64(item, "version")?
        .ok_or_else(|| StoreError::Corrupt("the rules item lacks `version`".to_owned()))?;
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("the rules version is negative: {version}")))
}

/// The rules item of `rules` at `version`.
fn rules_item(rules: &StoredRules, version: u64) -> StoreResult<Item> {
    let rest = StoredRules {
        source: String::new(),
        version,
        ..rules.clone()
    };
    let mut item = base_item(rules_key(), "rules");
    item.insert("data".to_owned(), s(to_json(&rest)?));
    item.insert("source".to_owned(), s(rules.source.clone()));
    item.insert("version".to_owned(), n(version));
    Ok(item)
}

fn rules_of(item: &Item) -> StoreResult<StoredRules> {
    let rest: StoredRules = json_attr(item, "data")?;
    Ok(StoredRules {
        source: get_s(item, "source")?.to_owned(),
        version: version_of(item)?,
        ..rest
    })
}

impl DynamoStore {
    /// `DeleteItem` of `key`; whether there was an item.
    async fn delete_existed(&self, key: (String, String), what: &str) -> StoreResult<bool> {
        self.delete_returning(key, None, what)
            .await
            .map(|old| old.is_some())
            .map_err(|e| e.into_store(what))
    }

    /// The `data` of every item of partition `pk`, in SK order: one strongly consistent
    /// `Query`, every page.
    async fn list_partition<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        let spec = QuerySpec::table(pk.to_owned(), None, true).consistent();
        self.query_all(&spec, what)
            .await?
            .iter()
            .map(|item| json_attr(item, "data"))
            .collect()
    }
}

#[async_trait]
impl RoutingStore for DynamoStore {
    async fn put_team(&self, team: &Team) -> StoreResult<()> {
        let mut item = base_item(team_key(&team.name), "team");
        item.insert("data".to_owned(), s(to_json(team)?));
        self.put_plain(item, "put_team").await
    }

    async fn get_team(&self, name: &TeamName) -> StoreResult<Option<Team>> {
        self.get_data(team_key(name), "get_team").await
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.list_partition(TEAMS_PK, "list_teams").await
    }

    async fn delete_team(&self, name: &TeamName) -> StoreResult<bool> {
        self.delete_existed(team_key(name), "delete_team").await
    }

    async fn get_rules(&self) -> StoreResult<Option<StoredRules>> {
        self.get_raw(rules_key(), "get_rules")
            .await?
            .map(|item| rules_of(&item))
            .transpose()
    }

    async fn rules_version(&self) -> StoreResult<u64> {
        const WHAT: &str = "rules_version";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(rules_key())))
            .projection_expression("#version")
            .expression_attribute_names("#version", "version")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(WHAT, &e).into_store(WHAT))?;
        out.item.as_ref().map_or(Ok(0), version_of)
    }

    async fn put_rules(
        &self,
        rules: &StoredRules,
        expected_version: u64,
    ) -> StoreResult<StoredRules> {
        const WHAT: &str = "put_rules";
        if rules.source.len() > MAX_RULES_SOURCE_BYTES {
            return Err(StoreError::Corrupt(format!(
                "{WHAT}: the rules source has {} bytes; at most {MAX_RULES_SOURCE_BYTES} fit in a \
                 DynamoDB item",
                rules.source.len()
            )));
        }
        let conflict = || {
            StoreError::Conflict(format!(
                "{WHAT}: the rules are not at version {expected_version}"
            ))
        };
        let Some(version) = expected_version.checked_add(1) else {
            return Err(conflict());
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(rules_item(rules, version)?));
        request = if expected_version == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected_version))
        };
        match request.send().await {
            Ok(_) => Ok(StoredRules {
                version,
                ..rules.clone()
            }),
            Err(e) => match classify(WHAT, &e) {
                Failure::ConditionFailed => Err(conflict()),
                other => Err(other.into_store(WHAT)),
            },
        }
    }

    async fn put_canned(&self, canned: &CannedResponse) -> StoreResult<()> {
        let mut item = base_item(canned_key(&canned.shortcut), "canned");
        item.insert("data".to_owned(), s(to_json(canned)?));
        self.put_plain(item, "put_canned").await
    }

    async fn list_canned(&self) -> StoreResult<Vec<CannedResponse>> {
        self.list_partition(CANNED_PK, "list_canned").await
    }

    async fn delete_canned(&self, shortcut: &str) -> StoreResult<bool> {
        self.delete_existed(canned_key(shortcut), "delete_canned")
            .await
    }
}

#[cfg(test)]
mod tests {
    use omnidesk_domain::{AgentId, Timestamp};

    use super::super::item::item_size;
    use super::*;

    fn rules(source: String) -> StoredRules {
        StoredRules {
            source,
            format: "yaml".to_owned(),
            version: 0,
            updated_at: Timestamp::from_millis(1_700_000_000_000),
            updated_by: Some(AgentId::from_uuid(uuid::Uuid::now_v7())),
        }
    }

    #[test]
    fn a_rules_item_round_trips_with_the_source_outside_the_json() {
        let given = rules("a: \"b\"\n\u{1}\\".to_owned());
        let item = rules_item(&given, 7).unwrap();
        assert_eq!(item.get("source"), Some(&s(given.source.clone())));
        assert!(!get_s(&item, "data").unwrap().contains("a: "));
        assert_eq!(
            rules_of(&item).unwrap(),
            StoredRules {
                version: 7,
                ..given
            }
        );
    }

    #[test]
    fn the_longest_source_of_the_worst_text_fits_in_an_item() {
        // Quotes and control characters would double or sextuple in JSON; outside it they
        // count once.
        let source = "\"\u{1}".repeat(MAX_RULES_SOURCE_BYTES / 2);
        let item = rules_item(&rules(source), u64::MAX).unwrap();
        assert!(item_size(&item) < 400 * 1024, "{}", item_size(&item));
    }

    #[test]
    fn teams_and_canned_responses_are_keyed_by_their_id_in_their_own_partition() {
        let name = TeamName::parse("Billing-RU").unwrap();
        assert_eq!(
            team_key(&name),
            ("TEAM".to_owned(), "billing-ru".to_owned())
        );
        assert_eq!(canned_key("hi"), ("CANNED".to_owned(), "hi".to_owned()));
        assert_ne!(team_key(&name).0, rules_key().0);
    }
}
