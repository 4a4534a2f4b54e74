//! The [`TranslationStore`] part of the store suite: the cache, the daily usage with its
//! limit, and the versioned glossary.
//!
//! Like the rest of the suite it uses fresh keys and providers on every run, so it can run
//! repeatedly against one shared table. The glossary is one record per store: the suite reads
//! whatever version is stored and writes the next ones. [`translation_on_an_empty_store`]
//! additionally checks what a store that never stored a glossary returns.

use std::collections::BTreeMap;

use omnidesk_domain::{LanguageTag, Timestamp};

use super::{expect_conflict, fresh, join_all, now, ok};
use crate::{CachedTranslation, Glossary, GlossaryEntry, TranslationStore, UsageOutcome};

const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Every guarantee of [`TranslationStore`] that holds on shared data: a cached entry is
/// returned until its `expires_at` and never from then on, a put replaces the entry and its
/// expiry, usage is counted exactly up to the limit and never past it (also by concurrent
/// callers), days and providers are counted apart, and a glossary is stored only as the next
/// version.
pub async fn translation(store: &dyn TranslationStore) {
    cache(store).await;
    usage(store).await;
    concurrent_usage(store, true).await;
    glossary(store).await;
}

/// [`translation`] for a DynamoDB store on moto: moto's server applies one item's `UpdateItem`
/// calls from its threads without a lock (DynamoDB serialises them), so two concurrent adds
/// can read the same count there and lose an add. The concurrent check then asserts what still
/// holds — every add answers, at least as many fit, a race overshoots by at most one add per
/// caller, and the next add is refused — instead of an exact count.
pub async fn translation_on_moto(store: &dyn TranslationStore) {
    cache(store).await;
    usage(store).await;
    concurrent_usage(store, false).await;
    glossary(store).await;
}

/// [`translation`] on a store that has never stored a glossary: it must return
/// [`Glossary::default`] (version 0, no entries), and the first glossary stored is version 1.
pub async fn translation_on_an_empty_store(store: &dyn TranslationStore) {
    on_an_empty_store(store, true).await;
}

/// [`translation_on_an_empty_store`] with [`translation_on_moto`]'s concurrent check.
pub async fn translation_on_an_empty_store_on_moto(store: &dyn TranslationStore) {
    on_an_empty_store(store, false).await;
}

async fn on_an_empty_store(store: &dyn TranslationStore, atomic: bool) {
    assert_eq!(
        ok("glossary", store.glossary().await),
        Glossary::default(),
        "a store without a glossary returns the default one (version 0, empty)"
    );
    if atomic {
        translation(store).await;
    } else {
        translation_on_moto(store).await;
    }
    assert!(
        ok("glossary", store.glossary().await).version >= 1,
        "the suite stored a glossary"
    );
}

fn lang(tag: &str) -> LanguageTag {
    LanguageTag::parse(tag).unwrap_or_else(|e| panic!("suite bug: {e}"))
}

/// The UTC day of `at`, as callers name days (`2026-12-01`).
fn day_of(at: Timestamp) -> String {
    at.to_rfc3339()[..10].to_owned()
}

// ---------------------------------------------------------------------------------------------
// cache

async fn cached(
    store: &dyn TranslationStore,
    key: &str,
    at: Timestamp,
) -> Option<CachedTranslation> {
    ok(
        "cached_translation",
        store.cached_translation(key, at).await,
    )
}

async fn put(store: &dyn TranslationStore, key: &str, entry: &CachedTranslation, until: Timestamp) {
    ok(
        "cache_translation",
        store.cache_translation(key, entry, until).await,
    );
}

async fn cache(store: &dyn TranslationStore) {
    let t0 = now();
    let key = format!("suite:{}:ru>en:Привет", fresh());
    assert_eq!(
        cached(store, &key, t0).await,
        None,
        "a key never cached is a miss"
    );

    let first = CachedTranslation {
        text: "Привет, ⟦1⟧! 你好 🎉 \"quoted\"\nsecond line\t\\".to_owned(),
        detected_source: Some(lang("ru")),
        provider: "deepl".to_owned(),
    };
    let expires = t0.plus_millis(HOUR_MS);
    put(store, &key, &first, expires).await;
    assert_eq!(
        cached(store, &key, t0).await.as_ref(),
        Some(&first),
        "a cached entry is returned as it was stored (unicode, quotes, newlines)"
    );
    assert_eq!(
        cached(store, &key, expires.plus_millis(-1)).await.as_ref(),
        Some(&first),
        "a cached entry is returned until its expires_at"
    );
    assert_eq!(
        cached(store, &key, expires).await,
        None,
        "a cached entry is gone at its expires_at"
    );
    assert_eq!(
        cached(store, &key, expires.plus_millis(DAY_MS)).await,
        None,
        "a cached entry is gone after its expires_at"
    );
    let mut prefix = key.clone();
    prefix.pop();
    for other in [format!("{key}x"), prefix] {
        assert_eq!(
            cached(store, &other, t0).await,
            None,
            "only the exact key hits (`{other}` is another key)"
        );
    }

    // A put replaces the entry and its expiry, later or earlier.
    let second = CachedTranslation {
        text: "Hello, ⟦1⟧!".to_owned(),
        detected_source: None,
        provider: "openai".to_owned(),
    };
    put(store, &key, &second, t0.plus_millis(2 * HOUR_MS)).await;
    assert_eq!(
        cached(store, &key, t0).await.as_ref(),
        Some(&second),
        "cache_translation replaces the entry"
    );
    assert_eq!(
        cached(store, &key, expires).await.as_ref(),
        Some(&second),
        "cache_translation replaces the expiry with a later one"
    );
    let soon = t0.plus_millis(1_000);
    put(store, &key, &second, soon).await;
    assert_eq!(
        cached(store, &key, soon.plus_millis(-1)).await.as_ref(),
        Some(&second),
        "an entry is returned until its replaced expiry"
    );
    assert_eq!(
        cached(store, &key, soon).await,
        None,
        "cache_translation replaces the expiry with an earlier one"
    );

    // An entry cached with an expiry already past is never returned.
    let stale = format!("suite:{}:stale", fresh());
    put(store, &stale, &first, t0.plus_millis(-1)).await;
    assert_eq!(
        cached(store, &stale, t0).await,
        None,
        "an entry whose expires_at has passed is never returned"
    );

    // Keys longer than any key a backend takes as it is are still exact.
    let long = format!("suite:{}:{}", fresh(), "я".repeat(2_000));
    let empty = CachedTranslation {
        text: String::new(),
        detected_source: Some(lang("zh-Hans")),
        provider: "google".to_owned(),
    };
    put(store, &long, &empty, expires).await;
    assert_eq!(
        cached(store, &long, t0).await.as_ref(),
        Some(&empty),
        "a long key hits, and an empty text round-trips"
    );
    let sibling = format!("{}ю", &long[..long.len() - "я".len()]);
    assert_eq!(
        cached(store, &sibling, t0).await,
        None,
        "a long key that differs in its last character is another key"
    );
}

// ---------------------------------------------------------------------------------------------
// usage

async fn add(
    store: &dyn TranslationStore,
    provider: &str,
    day: &str,
    chars: u64,
    limit: u64,
) -> UsageOutcome {
    ok(
        "add_usage",
        store.add_usage(provider, day, chars, limit).await,
    )
}

async fn used(store: &dyn TranslationStore, provider: &str, day: &str) -> u64 {
    ok("usage", store.usage(provider, day).await)
}

async fn usage(store: &dyn TranslationStore) {
    let provider = format!("suite-{}", fresh());
    let other = format!("{provider}-other");
    let today = day_of(now());
    let tomorrow = day_of(now().plus_millis(DAY_MS));
    assert_eq!(
        used(store, &provider, &today).await,
        0,
        "a provider without usage has used 0"
    );

    assert_eq!(
        add(store, &provider, &today, 300, 500).await,
        UsageOutcome::Counted(300),
        "the first use of a day is counted"
    );
    assert_eq!(
        add(store, &provider, &today, 200, 500).await,
        UsageOutcome::Counted(500),
        "reaching the limit exactly is allowed"
    );
    assert_eq!(
        add(store, &provider, &today, 1, 500).await,
        UsageOutcome::LimitReached(500),
        "one over the limit is refused with the current total"
    );
    assert_eq!(
        used(store, &provider, &today).await,
        500,
        "a refused add counts nothing"
    );
    assert_eq!(
        add(store, &provider, &today, 0, 500).await,
        UsageOutcome::Counted(500),
        "adding nothing at the limit does not pass it"
    );
    assert_eq!(
        add(store, &provider, &today, 1, 100).await,
        UsageOutcome::LimitReached(500),
        "a limit below the current total refuses and counts nothing"
    );
    assert_eq!(
        add(store, &provider, &today, 1, 1_000).await,
        UsageOutcome::Counted(501),
        "the limit is the caller's: a higher one allows more"
    );
    assert_eq!(used(store, &provider, &today).await, 501);

    // Days and providers are counted apart.
    assert_eq!(
        used(store, &provider, &tomorrow).await,
        0,
        "another day starts at 0"
    );
    assert_eq!(
        used(store, &other, &today).await,
        0,
        "another provider starts at 0"
    );
    assert_eq!(
        add(store, &provider, &tomorrow, 600, 500).await,
        UsageOutcome::LimitReached(0),
        "a single add over the limit is refused on a fresh day"
    );
    assert_eq!(
        used(store, &provider, &tomorrow).await,
        0,
        "and counts nothing"
    );
    assert_eq!(
        add(store, &provider, &tomorrow, 40, 500).await,
        UsageOutcome::Counted(40),
        "another day has its own count"
    );
    assert_eq!(
        add(store, &other, &today, 7, 10).await,
        UsageOutcome::Counted(7),
        "another provider has its own count"
    );
    assert_eq!(used(store, &provider, &today).await, 501);
    assert_eq!(used(store, &provider, &tomorrow).await, 40);
    assert_eq!(used(store, &other, &today).await, 7);

    // No limit to speak of: the largest one is a limit like any other.
    let unlimited = format!("{provider}-unlimited");
    assert_eq!(
        add(store, &unlimited, &today, 1_000_000, u64::MAX).await,
        UsageOutcome::Counted(1_000_000),
        "u64::MAX as the limit counts"
    );
    assert_eq!(
        add(store, &unlimited, &today, 1, u64::MAX).await,
        UsageOutcome::Counted(1_000_001)
    );
}

/// 20 callers × 5 adds of 7 characters with a limit of 500: 71 adds fit (497), every other one
/// is refused, and the count is never passed nor lost.
async fn concurrent_usage(store: &dyn TranslationStore, atomic: bool) {
    const CALLERS: usize = 20;
    const ADDS: usize = 5;
    const CHARS: u64 = 7;
    const LIMIT: u64 = 500;
    let provider = format!("suite-{}", fresh());
    let day = day_of(now());
    let outcomes: Vec<UsageOutcome> = join_all(
        (0..CALLERS)
            .map(|_| {
                let (provider, day) = (provider.clone(), day.clone());
                async move {
                    let mut mine = Vec::with_capacity(ADDS);
                    for _ in 0..ADDS {
                        mine.push(add(store, &provider, &day, CHARS, LIMIT).await);
                    }
                    mine
                }
            })
            .collect(),
    )
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(outcomes.len(), CALLERS * ADDS);

    let fit = LIMIT / CHARS;
    let mut totals: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            UsageOutcome::Counted(total) => Some(*total),
            UsageOutcome::LimitReached(_) => None,
        })
        .collect();
    totals.sort_unstable();
    if !atomic {
        // moto can lose an add between its read and its write, and a lost add lets a later
        // one pass its condition: a CI run counted 434 twice and ended at 504. What still
        // holds there is that every add answers, at least as many fit as the limit allows,
        // and a race can overshoot by at most one add per concurrent caller; the exact
        // one-at-a-time count is asserted on the stores that serialise (memory, SQLite), and
        // the sequential limit on moto by `usage`.
        let slack = LIMIT + CHARS * CALLERS as u64;
        assert!(
            totals.len() as u64 >= fit && totals.iter().all(|t| *t <= slack),
            "concurrent adds answer, at least {fit} fit and a race overshoots by at most one \
             add per caller: {totals:?}"
        );
        assert!(used(store, &provider, &day).await <= slack);
        assert!(
            matches!(
                add(store, &provider, &day, CHARS, LIMIT).await,
                UsageOutcome::LimitReached(_)
            ),
            "once the concurrent adds are done, the next add is refused"
        );
        return;
    }
    let expected: Vec<u64> = (1..=fit).map(|i| i * CHARS).collect();
    assert_eq!(
        totals, expected,
        "concurrent adds are counted one at a time: each counted add sees its own new total, \
         and exactly as many fit as the limit allows"
    );
    for o in &outcomes {
        if let UsageOutcome::LimitReached(current) = o {
            assert_eq!(
                *current,
                fit * CHARS,
                "a refused add reports the total it would have passed the limit from"
            );
        }
    }
    assert_eq!(
        used(store, &provider, &day).await,
        fit * CHARS,
        "concurrent adds never pass the limit and are summed exactly"
    );
}

// ---------------------------------------------------------------------------------------------
// glossary

fn entry(term: &str, translations: &[(&str, &str)]) -> GlossaryEntry {
    GlossaryEntry {
        term: term.to_owned(),
        translations: translations
            .iter()
            .map(|(l, t)| ((*l).to_owned(), (*t).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn read_glossary(store: &dyn TranslationStore) -> Glossary {
    ok("glossary", store.glossary().await)
}

async fn glossary(store: &dyn TranslationStore) {
    let before = read_glossary(store).await;
    if before.version == 0 {
        assert_eq!(
            before,
            Glossary::default(),
            "version 0 is the glossary never stored: it has no entries"
        );
    }

    let next = Glossary {
        version: before.version + 1,
        entries: vec![
            entry("Omnidesk", &[("ru", "Омнидеск"), ("zh-Hans", "全渠道台")]),
            // Empty translations: the term is never translated.
            entry(&format!("Ünïcødé «{}» 🎉", fresh()), &[]),
        ],
    };
    expect_conflict(
        "put_glossary with the stored version (not the next one)",
        store
            .put_glossary(&Glossary {
                version: before.version,
                ..next.clone()
            })
            .await,
    );
    expect_conflict(
        "put_glossary skipping a version",
        store
            .put_glossary(&Glossary {
                version: before.version + 2,
                ..next.clone()
            })
            .await,
    );
    assert_eq!(
        read_glossary(store).await,
        before,
        "a conflicting put_glossary stores nothing"
    );

    ok("put_glossary", store.put_glossary(&next).await);
    assert_eq!(
        read_glossary(store).await,
        next,
        "put_glossary stores the next version as it is (unicode terms, empty translations)"
    );

    // A second editor who read `before` too loses, and changes nothing.
    let lost = Glossary {
        version: before.version + 1,
        entries: vec![entry("lost", &[("de", "verloren")])],
    };
    expect_conflict(
        "put_glossary with a version read before another editor's change",
        store.put_glossary(&lost).await,
    );
    assert_eq!(
        read_glossary(store).await,
        next,
        "the stale editor's glossary was not stored"
    );

    let emptied = Glossary {
        version: next.version + 1,
        entries: Vec::new(),
    };
    ok("put_glossary", store.put_glossary(&emptied).await);
    assert_eq!(
        read_glossary(store).await,
        emptied,
        "a glossary can be emptied by its next version"
    );

    // Two editors racing for the same next version: exactly one wins.
    let a = Glossary {
        version: emptied.version + 1,
        entries: vec![entry("alpha", &[("en", "alpha")])],
    };
    let b = Glossary {
        version: emptied.version + 1,
        entries: vec![entry("beta", &[("en", "beta")])],
    };
    let results = join_all(vec![store.put_glossary(&a), store.put_glossary(&b)]).await;
    let winners: Vec<&Glossary> = results
        .iter()
        .zip([&a, &b])
        .filter_map(|(r, g)| r.is_ok().then_some(g))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "of two puts of the same version exactly one is stored: {results:?}"
    );
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, crate::StoreError::Conflict(_)),
                "the losing put is a Conflict, got {e:?}"
            );
        }
    }
    assert_eq!(&read_glossary(store).await, winners[0]);
}
