//! The [`RoutingStore`] part of the store suite: teams, the versioned routing rules and canned
//! responses.
//!
//! Like the rest of the suite it uses fresh team names and shortcuts on every run, so it can
//! run repeatedly against one store or one shared table; list assertions only look at the
//! suite's own records. The rules are one record per store, like the glossary: the suite reads
//! whatever version is stored and checks the versions its own puts produce, so nothing else
//! may put rules while it runs. [`routing_store_on_an_empty_store`] additionally checks what a
//! store that never stored rules returns.

use omnidesk_domain::{AgentId, Team, TeamName, Timestamp};
use uuid::Uuid;

use super::{assert_in_order, expect_conflict, fresh, join_all, now, ok};
use crate::{CannedResponse, RoutingStore, StoreError, StoredRules};

/// Editors putting rules over the same version at once.
const RACERS: usize = 8;
/// Bytes of the big rules source: far more than a page of anything, below what every adapter
/// can store in one record (DynamoDB refuses an item over 400 KB).
const BIG_SOURCE: usize = 200 * 1024;

/// Every guarantee of [`RoutingStore`]: teams are upserted by name, read back field by field,
/// listed by name and deleted once; rules are stored only over the current version, as
/// version + 1 and exactly as given (a 200 KB source of any text), and `rules_version` agrees;
/// of 8 editors putting over one version exactly one wins and the others get
/// `Conflict`; canned responses are upserted by shortcut, listed by shortcut and deleted once.
pub async fn routing_store(store: &dyn RoutingStore) {
    teams(store).await;
    rules(store).await;
    big_rules(store).await;
    racing_rules(store, true).await;
    canned(store).await;
}

/// [`routing_store`] for a DynamoDB store on moto, whose server applies concurrent writes of
/// one item without a lock (DynamoDB checks a condition and writes atomically): of the racing
/// editors at least one wins there, every other one gets `Conflict`, and the rules stored are
/// one winner's at the next version — but two may both see their condition pass.
pub async fn routing_store_on_moto(store: &dyn RoutingStore) {
    teams(store).await;
    rules(store).await;
    big_rules(store).await;
    racing_rules(store, false).await;
    canned(store).await;
}

/// [`routing_store`] on a store that never stored rules: `get_rules` is `None`,
/// `rules_version` 0, and the first put (over version 0) stores version 1.
pub async fn routing_store_on_an_empty_store(store: &dyn RoutingStore) {
    on_an_empty_store(store, true).await;
}

/// [`routing_store_on_an_empty_store`] with [`routing_store_on_moto`]'s concurrent check.
pub async fn routing_store_on_an_empty_store_on_moto(store: &dyn RoutingStore) {
    on_an_empty_store(store, false).await;
}

async fn on_an_empty_store(store: &dyn RoutingStore, atomic: bool) {
    assert_eq!(
        read_rules(store).await,
        None,
        "a store without rules returns none"
    );
    assert_eq!(version(store).await, 0, "and their version is 0");
    expect_conflict(
        "put_rules over version 1 on a store without rules",
        store.put_rules(&rules_text("ahead"), 1).await,
    );
    assert_eq!(
        (read_rules(store).await, version(store).await),
        (None, 0),
        "a conflicting put stores nothing"
    );
    let first = put(store, &rules_text("first"), 0).await;
    assert_eq!(
        first.version, 1,
        "the first put, over version 0, is version 1"
    );
    assert_eq!(read_rules(store).await, Some(first));
    if atomic {
        routing_store(store).await;
    } else {
        routing_store_on_moto(store).await;
    }
}

// ---------------------------------------------------------------------------------------------
// teams

/// A team name unique to this run: `prefix` (at most 14 characters) and 16 random hex digits.
fn team_name(prefix: &str) -> TeamName {
    let name = format!("{prefix}{}", &fresh()[16..]);
    TeamName::parse(&name).unwrap_or_else(|e| panic!("suite bug: {name}: {e}"))
}

fn ms_ago(ms: i64) -> Timestamp {
    Timestamp::from_millis(now().millis() - ms)
}

async fn get_team(store: &dyn RoutingStore, name: &TeamName) -> Option<Team> {
    ok("get_team", store.get_team(name).await)
}

async fn list_teams(store: &dyn RoutingStore) -> Vec<Team> {
    ok("list_teams", store.list_teams().await)
}

async fn teams(store: &dyn RoutingStore) {
    // Every field set, none at its default.
    let full = Team {
        name: team_name("suite-b-"),
        timezone: "Europe/Berlin".to_owned(),
        hours: "mon-fri 09:00-18:00; sat 10:00-14:00".to_owned(),
        holidays: vec!["2026-12-25".to_owned(), "2027-01-01".to_owned()],
        answer_within_secs: 95,
        max_hops: 7,
        busy_prompt: Some("Все заняты — мы ответим «скоро» 🙏\n\"quoted\"\t\\".to_owned()),
        out_of_office: Some("Closed until {next}. 我们明天回复".to_owned()),
        created_at: ms_ago(86_400_000),
        updated_at: ms_ago(1_234),
    };
    // Every optional field at its default; a non-ASCII name (letters of any script are allowed).
    let plain = Team::new(team_name("поддержка-"), now());
    let first = Team::new(team_name("suite-a-"), ms_ago(10));
    assert!(
        first.name < full.name && full.name < plain.name,
        "suite bug: names sort a < b < поддержка"
    );
    let mine = [first.name.clone(), full.name.clone(), plain.name.clone()];

    // Put out of order.
    for team in [&plain, &full, &first] {
        ok("put_team", store.put_team(team).await);
    }
    assert_eq!(
        get_team(store, &full.name).await.as_ref(),
        Some(&full),
        "a team with every field set is read back exactly"
    );
    assert_eq!(
        get_team(store, &plain.name).await.as_ref(),
        Some(&plain),
        "a team with the defaults and a non-ASCII name is read back exactly"
    );
    assert_eq!(
        get_team(store, &team_name("suite-none-")).await,
        None,
        "an unknown team is None"
    );

    let listed = list_teams(store).await;
    assert!(
        listed.windows(2).all(|w| w[0].name < w[1].name),
        "list_teams is ordered by name, each team once"
    );
    let names: Vec<TeamName> = listed.iter().map(|t| t.name.clone()).collect();
    assert_in_order("list_teams", &names, &mine);
    for team in [&first, &full, &plain] {
        assert!(
            listed.contains(team),
            "list_teams returns each team as stored ({})",
            team.name
        );
    }

    // A put with an existing name replaces the team.
    let changed = Team {
        timezone: "Asia/Tokyo".to_owned(),
        hours: String::new(),
        holidays: Vec::new(),
        busy_prompt: None,
        out_of_office: None,
        answer_within_secs: 30,
        max_hops: 1,
        updated_at: now(),
        ..full.clone()
    };
    ok("put_team", store.put_team(&changed).await);
    assert_eq!(
        get_team(store, &full.name).await.as_ref(),
        Some(&changed),
        "put_team with an existing name replaces the team (fields cleared too)"
    );
    let listed = list_teams(store).await;
    assert_eq!(
        listed.iter().filter(|t| t.name == full.name).count(),
        1,
        "a replaced team is listed once"
    );
    assert!(listed.contains(&changed), "as replaced");

    // Delete: true once, then false; the others stay.
    assert!(
        ok("delete_team", store.delete_team(&full.name).await),
        "deleting a team returns true"
    );
    assert_eq!(
        get_team(store, &full.name).await,
        None,
        "a deleted team is gone"
    );
    assert!(
        !ok("delete_team", store.delete_team(&full.name).await),
        "deleting it again returns false"
    );
    assert!(
        !ok(
            "delete_team",
            store.delete_team(&team_name("suite-none-")).await
        ),
        "deleting an unknown team returns false"
    );
    let listed = list_teams(store).await;
    assert!(
        !listed.iter().any(|t| t.name == full.name),
        "a deleted team is not listed"
    );
    let names: Vec<TeamName> = listed.iter().map(|t| t.name.clone()).collect();
    assert_in_order(
        "list_teams after a delete",
        &names,
        &[first.name.clone(), plain.name.clone()],
    );

    // A deleted name can be used again.
    ok("put_team", store.put_team(&full).await);
    assert_eq!(
        get_team(store, &full.name).await.as_ref(),
        Some(&full),
        "a deleted team's name can be put again"
    );
    for team in [&first, &full, &plain] {
        assert!(ok("delete_team", store.delete_team(&team.name).await));
    }
}

// ---------------------------------------------------------------------------------------------
// rules

/// Rules whose source names `tag` (so each put is told apart); the version is ignored by a put.
fn rules_text(tag: &str) -> StoredRules {
    StoredRules {
        source: format!(
            "# rules of the suite run {}, {tag}\n[[rule]]\nwhen = \"language == 'ru'\"\nteam = \"поддержка\"\n",
            fresh()
        ),
        format: "toml".to_owned(),
        version: 0,
        updated_at: now(),
        updated_by: Some(AgentId::from_uuid(Uuid::now_v7())),
    }
}

async fn read_rules(store: &dyn RoutingStore) -> Option<StoredRules> {
    ok("get_rules", store.get_rules().await)
}

async fn version(store: &dyn RoutingStore) -> u64 {
    ok("rules_version", store.rules_version().await)
}

async fn put(store: &dyn RoutingStore, rules: &StoredRules, expected: u64) -> StoredRules {
    ok("put_rules", store.put_rules(rules, expected).await)
}

/// The stored rules, checked to be consistent with `rules_version` (0 exactly when none).
async fn checked_rules(store: &dyn RoutingStore) -> Option<StoredRules> {
    let rules = read_rules(store).await;
    assert_eq!(
        version(store).await,
        rules.as_ref().map_or(0, |r| r.version),
        "rules_version is the stored rules' version (0: none)"
    );
    assert_ne!(
        rules.as_ref().map(|r| r.version),
        Some(0),
        "version 0 is never stored"
    );
    rules
}

/// What a put over `expected` must store: the rules as given, at `expected + 1`.
fn as_stored(rules: &StoredRules, expected: u64) -> StoredRules {
    StoredRules {
        version: expected + 1,
        ..rules.clone()
    }
}

async fn rules(store: &dyn RoutingStore) {
    let before = checked_rules(store).await;
    let v0 = before.as_ref().map_or(0, |r| r.version);

    // Over a version ahead of the stored one, and (when there is one) below it.
    expect_conflict(
        "put_rules over a version not stored yet",
        store.put_rules(&rules_text("ahead"), v0 + 1).await,
    );
    if v0 > 0 {
        expect_conflict(
            "put_rules over an older version",
            store.put_rules(&rules_text("stale"), v0 - 1).await,
        );
    }
    assert_eq!(
        checked_rules(store).await,
        before,
        "a conflicting put_rules changes nothing"
    );

    // Over the current version: stored as given, at the next version. The version passed in
    // is not what is stored.
    let given = StoredRules {
        version: 12_345,
        ..rules_text("first edit")
    };
    let stored = put(store, &given, v0).await;
    assert_eq!(
        stored,
        as_stored(&given, v0),
        "put_rules returns the rules as stored: as given, at the expected version + 1"
    );
    assert_eq!(
        checked_rules(store).await.as_ref(),
        Some(&stored),
        "get_rules returns the put rules exactly (source, format, updated_at, updated_by)"
    );
    for _ in 0..2 {
        assert_eq!(
            version(store).await,
            v0 + 1,
            "reads do not change the version"
        );
    }

    // A second editor who read `v0` too loses, and changes nothing.
    expect_conflict(
        "put_rules over the version another editor just replaced",
        store.put_rules(&rules_text("lost"), v0).await,
    );
    assert_eq!(
        checked_rules(store).await.as_ref(),
        Some(&stored),
        "the stale editor's rules were not stored"
    );

    // Over the new current version: one more step. YAML, loaded from the file (no editor).
    let from_file = StoredRules {
        source: "rules:\n  - when: \"vip\"\n    team: vip\n".to_owned(),
        format: "yaml".to_owned(),
        version: 0,
        updated_at: ms_ago(5),
        updated_by: None,
    };
    let second = put(store, &from_file, v0 + 1).await;
    assert_eq!(
        second,
        as_stored(&from_file, v0 + 1),
        "each put steps the version by one"
    );
    assert_eq!(
        checked_rules(store).await.as_ref(),
        Some(&second),
        "rules without an editor and in YAML round-trip"
    );

    // An empty source is rules too.
    let empty = StoredRules {
        source: String::new(),
        ..rules_text("empty")
    };
    let third = put(store, &empty, v0 + 2).await;
    assert_eq!(
        checked_rules(store).await,
        Some(third),
        "an empty source is stored as it is"
    );
}

/// A [`BIG_SOURCE`]-byte source of every kind of text (non-ASCII, newlines, quotes, tabs,
/// backslashes, control characters) round-trips exactly.
async fn big_rules(store: &dyn RoutingStore) {
    let line = "# «Правило» №1 — 中文 🎉 \"q\" 'a' \\n\t\r\u{1}\n[[rule]] when = \"x\"\n";
    let mut source = format!("# big rules {}\n", fresh());
    while source.len() < BIG_SOURCE {
        source.push_str(line);
    }
    let v = version(store).await;
    let big = StoredRules {
        source,
        ..rules_text("big")
    };
    let stored = put(store, &big, v).await;
    assert_eq!(stored, as_stored(&big, v));
    let read = checked_rules(store).await;
    assert!(
        read.as_ref() == Some(&stored),
        "a {} KB source with non-ASCII text and newlines is read back exactly (read {} bytes)",
        big.source.len() / 1024,
        read.map_or(0, |r| r.source.len())
    );
}

/// [`RACERS`] editors put rules over the same version at once: exactly one wins (`atomic`), or
/// at least one (`!atomic`: moto); the others get `Conflict`, and a winner's rules are stored
/// at the next version.
async fn racing_rules(store: &dyn RoutingStore, atomic: bool) {
    let v = version(store).await;
    let racers: Vec<StoredRules> = (0..RACERS)
        .map(|i| rules_text(&format!("racer {i}")))
        .collect();
    let results = join_all(racers.iter().map(|r| store.put_rules(r, v)).collect()).await;
    let mut winners = Vec::new();
    for (result, given) in results.into_iter().zip(&racers) {
        match result {
            Ok(stored) => {
                assert_eq!(
                    stored,
                    as_stored(given, v),
                    "a winning racer gets its rules back at the next version"
                );
                winners.push(stored);
            }
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("a losing racer gets Conflict, not {e:?}"),
        }
    }
    if atomic {
        assert_eq!(
            winners.len(),
            1,
            "of {RACERS} puts over version {v} exactly one is stored"
        );
    } else {
        assert!(
            !winners.is_empty(),
            "of {RACERS} puts over version {v} at least one is stored"
        );
    }
    let read = checked_rules(store).await;
    assert!(
        read.as_ref().is_some_and(|r| winners.contains(r)),
        "the stored rules are a winner's, at version {}",
        v + 1
    );
}

// ---------------------------------------------------------------------------------------------
// canned responses

async fn list_canned(store: &dyn RoutingStore) -> Vec<CannedResponse> {
    ok("list_canned", store.list_canned().await)
}

async fn canned(store: &dyn RoutingStore) {
    let run = &fresh()[16..];
    let response = |suffix: &str, text: &str| CannedResponse {
        shortcut: format!("s{run}{suffix}"),
        text: text.to_owned(),
        updated_at: now(),
        updated_by: None,
    };
    // `-` sorts before digits, digits before `_` and letters.
    let hello = CannedResponse {
        updated_by: Some(AgentId::from_uuid(Uuid::now_v7())),
        ..response(
            "-hi",
            "Здравствуйте, {customer_name}! Меня зовут {agent_name}. 👋\n\"Чем помочь?\"",
        )
    };
    let refund = response("1refund", "");
    let thanks = response("_thanks", "谢谢 — thanks!\t\\");
    let mine = [
        hello.shortcut.clone(),
        refund.shortcut.clone(),
        thanks.shortcut.clone(),
    ];
    for c in [&thanks, &hello, &refund] {
        ok("put_canned", store.put_canned(c).await);
    }
    let listed = list_canned(store).await;
    assert!(
        listed.windows(2).all(|w| w[0].shortcut < w[1].shortcut),
        "list_canned is ordered by shortcut, each once"
    );
    let shortcuts: Vec<String> = listed.iter().map(|c| c.shortcut.clone()).collect();
    assert_in_order("list_canned", &shortcuts, &mine);
    for c in [&hello, &refund, &thanks] {
        assert!(
            listed.contains(c),
            "list_canned returns each response as stored (unicode, empty text, editor \
             Some/None): {}",
            c.shortcut
        );
    }

    // A put with an existing shortcut replaces it.
    let edited = CannedResponse {
        text: "Добрый день, {customer_name}!".to_owned(),
        updated_at: now(),
        updated_by: None,
        ..hello.clone()
    };
    ok("put_canned", store.put_canned(&edited).await);
    let listed = list_canned(store).await;
    let of_hello: Vec<&CannedResponse> = listed
        .iter()
        .filter(|c| c.shortcut == hello.shortcut)
        .collect();
    assert_eq!(
        of_hello,
        [&edited],
        "put_canned with an existing shortcut replaces the response"
    );

    assert!(
        ok("delete_canned", store.delete_canned(&refund.shortcut).await),
        "deleting a canned response returns true"
    );
    assert!(
        !ok("delete_canned", store.delete_canned(&refund.shortcut).await),
        "deleting it again returns false"
    );
    assert!(
        !ok(
            "delete_canned",
            store.delete_canned(&format!("s{run}missing")).await
        ),
        "deleting an unknown shortcut returns false"
    );
    let listed = list_canned(store).await;
    assert!(
        !listed.iter().any(|c| c.shortcut == refund.shortcut),
        "a deleted response is not listed"
    );
    let shortcuts: Vec<String> = listed.iter().map(|c| c.shortcut.clone()).collect();
    assert_in_order(
        "list_canned after a delete",
        &shortcuts,
        &[hello.shortcut.clone(), thanks.shortcut.clone()],
    );
    for c in [&hello, &thanks] {
        assert!(ok("delete_canned", store.delete_canned(&c.shortcut).await));
    }
}
