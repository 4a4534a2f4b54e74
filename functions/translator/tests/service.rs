//! The translation service against fake providers and an in-memory store.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use omnidesk_core::testing::ManualClock;
use omnidesk_core::{Glossary, GlossaryEntry, TranslationStore, Translator};
use omnidesk_domain::{LanguageTag, Timestamp};
use omnidesk_translator::{
    ProviderQuota, ServiceSettings, TranslateFailure, Translated, TranslationService,
};
use support::{FakeTranslator, MemoryTranslations};

fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap()
}

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T10:00:00Z").unwrap()
}

struct World {
    store: Arc<MemoryTranslations>,
    clock: Arc<ManualClock>,
    service: TranslationService,
}

fn world(providers: &[&Arc<FakeTranslator>], settings: ServiceSettings) -> World {
    let store = MemoryTranslations::new();
    let clock = Arc::new(ManualClock::new(start()));
    let providers: Vec<Arc<dyn Translator>> = providers
        .iter()
        .map(|p| Arc::clone(p) as Arc<dyn Translator>)
        .collect();
    let service = TranslationService::new(providers, store.clone(), clock.clone(), settings);
    World {
        store,
        clock,
        service,
    }
}

fn limits(pairs: &[(&str, u64)]) -> ServiceSettings {
    ServiceSettings {
        daily_limits: pairs
            .iter()
            .map(|(p, l)| ((*p).to_owned(), *l))
            .collect::<HashMap<_, _>>(),
        ..ServiceSettings::default()
    }
}

async fn to_ru(w: &World, text: &str) -> Result<Translated, TranslateFailure> {
    w.service.translate(text, None, &tag("ru")).await
}

fn text_of(t: &Translated) -> (&str, &str, bool) {
    match t {
        Translated::Text {
            text,
            provider,
            cached,
            ..
        } => (text, provider, *cached),
        other => panic!("expected a text, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cache_hit_makes_no_call_and_counts_no_quota() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    let first = to_ru(&w, "hello there").await.unwrap();
    assert_eq!(text_of(&first), ("<ru>hello there", "deepl", false));
    let second = to_ru(&w, "  hello   there ").await.unwrap();
    assert_eq!(text_of(&second), ("<ru>hello there", "deepl", true));
    assert_eq!(deepl.calls(), 1);
    assert_eq!(w.store.cache_reads(), 1, "the memory hit reads no store");
    let quota = w.service.quota_state().await;
    assert_eq!(quota[0].used_today, 11);
}

#[tokio::test]
async fn the_store_cache_serves_when_the_memory_cache_is_off() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(
        &[&deepl],
        ServiceSettings {
            memory_cache_entries: 0,
            ..ServiceSettings::default()
        },
    );
    to_ru(&w, "hello").await.unwrap();
    let again = to_ru(&w, "hello").await.unwrap();
    assert_eq!(text_of(&again), ("<ru>hello", "deepl", true));
    assert_eq!(deepl.calls(), 1);
    assert_eq!(w.store.cache_reads(), 2);
}

#[tokio::test]
async fn the_memory_cache_evicts_the_least_recently_used() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(
        &[&deepl],
        ServiceSettings {
            memory_cache_entries: 2,
            ..ServiceSettings::default()
        },
    );
    for t in ["one", "two", "one", "three"] {
        to_ru(&w, t).await.unwrap();
    }
    assert_eq!((deepl.calls(), w.store.cache_reads()), (3, 3));
    // "one" was used after "two", so "two" went.
    to_ru(&w, "one").await.unwrap();
    assert_eq!(w.store.cache_reads(), 3);
    let two = to_ru(&w, "two").await.unwrap();
    assert_eq!(text_of(&two), ("<ru>two", "deepl", true));
    assert_eq!((deepl.calls(), w.store.cache_reads()), (3, 4));
}

#[tokio::test]
async fn an_expired_translation_is_asked_for_again() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(
        &[&deepl],
        ServiceSettings {
            cache_ttl: Duration::from_secs(3600),
            ..ServiceSettings::default()
        },
    );
    to_ru(&w, "hello").await.unwrap();
    w.clock.advance(Duration::from_secs(3599));
    assert!(text_of(&to_ru(&w, "hello").await.unwrap()).2);
    w.clock.advance(Duration::from_secs(1));
    assert!(!text_of(&to_ru(&w, "hello").await.unwrap()).2);
    assert_eq!(deepl.calls(), 2);
}

#[tokio::test]
async fn a_transient_failure_falls_back_to_the_next_provider() {
    let (deepl, google) = (
        FakeTranslator::transient("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], ServiceSettings::default());
    let out = to_ru(&w, "hello").await.unwrap();
    assert_eq!(text_of(&out), ("<ru>hello", "google", false));
    // The second provider's cached translation is found without asking the first again.
    let again = to_ru(&w, "hello").await.unwrap();
    assert_eq!(text_of(&again), ("<ru>hello", "google", true));
    assert_eq!((deepl.calls(), google.calls()), (1, 1));
}

#[tokio::test]
async fn a_permanent_failure_falls_back_to_the_next_provider() {
    let (deepl, google) = (
        FakeTranslator::permanent("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], ServiceSettings::default());
    assert_eq!(text_of(&to_ru(&w, "hello").await.unwrap()).1, "google");
}

#[tokio::test]
async fn a_provider_over_its_daily_limit_is_skipped_uncalled() {
    let (deepl, google) = (
        FakeTranslator::tagging("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], limits(&[("deepl", 10)]));
    assert_eq!(text_of(&to_ru(&w, "hello").await.unwrap()).1, "deepl");
    assert_eq!(text_of(&to_ru(&w, "world!").await.unwrap()).1, "google");
    assert_eq!((deepl.calls(), google.calls()), (1, 1));
}

#[tokio::test]
async fn quota_is_counted_in_characters_and_runs_out_clearly() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], limits(&[("deepl", 20)]));
    // 10 characters, 19 bytes.
    to_ru(&w, "привет мир").await.unwrap();
    assert_eq!(
        w.service.quota_state().await,
        [ProviderQuota {
            provider: "deepl".to_owned(),
            used_today: 10,
            limit: Some(20),
            reached: false,
        }]
    );
    to_ru(&w, "пока, мир!").await.unwrap();
    assert!(w.service.quota_state().await[0].reached);
    let out = to_ru(&w, "ещё").await;
    assert_eq!(
        out,
        Err(TranslateFailure::QuotaReached {
            providers: vec!["deepl".to_owned()]
        })
    );
    assert!(out.unwrap_err().is_transient());
    assert_eq!(deepl.calls(), 2);
    // A new UTC day starts from zero.
    w.clock.advance(Duration::from_secs(14 * 3600));
    assert!(to_ru(&w, "ещё").await.is_ok());
}

#[tokio::test]
async fn every_provider_over_its_limit_is_quota_reached() {
    let (deepl, google) = (
        FakeTranslator::tagging("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], limits(&[("deepl", 3), ("google", 3)]));
    assert_eq!(
        to_ru(&w, "hello").await,
        Err(TranslateFailure::QuotaReached {
            providers: vec!["deepl".to_owned(), "google".to_owned()]
        })
    );
    assert_eq!((deepl.calls(), google.calls()), (0, 0));
}

#[tokio::test]
async fn the_failure_says_why_no_provider_translated() {
    type Case<'a> = (&'a [Arc<FakeTranslator>], fn(&TranslateFailure) -> bool);
    let cases: [Case<'_>; 4] = [
        (
            &[
                FakeTranslator::transient("deepl"),
                FakeTranslator::permanent("google"),
            ],
            |f| matches!(f, TranslateFailure::Unavailable { reason } if reason.contains("deepl: 503")),
        ),
        (
            &[
                FakeTranslator::permanent("deepl"),
                FakeTranslator::permanent("google"),
            ],
            |f| matches!(f, TranslateFailure::Refused { reason } if reason == "deepl: 400; google: 400"),
        ),
        (
            &[
                FakeTranslator::dropping("deepl"),
                FakeTranslator::permanent("google"),
            ],
            |f| {
                *f == TranslateFailure::Corrupted {
                    provider: "deepl".to_owned(),
                }
            },
        ),
        (
            &[
                FakeTranslator::dropping("deepl"),
                FakeTranslator::transient("google"),
            ],
            |f| matches!(f, TranslateFailure::Unavailable { .. }),
        ),
    ];
    for (providers, expected) in cases {
        let refs: Vec<&Arc<FakeTranslator>> = providers.iter().collect();
        let w = world(&refs, ServiceSettings::default());
        let failure = to_ru(&w, "order #1024").await.unwrap_err();
        assert!(expected(&failure), "{failure:?}");
    }
    let w = world(&[], ServiceSettings::default());
    assert!(!w.service.is_enabled());
    assert_eq!(to_ru(&w, "hi").await, Err(TranslateFailure::NoProvider));
}

#[tokio::test]
async fn a_dropped_placeholder_falls_back_and_all_dropping_is_corrupted() {
    let (deepl, google) = (
        FakeTranslator::dropping("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], ServiceSettings::default());
    let out = to_ru(&w, "where is #1024").await.unwrap();
    assert_eq!(text_of(&out), ("<ru>where is #1024", "google", false));

    let openai = FakeTranslator::dropping("openai");
    let w = world(&[&deepl, &openai], ServiceSettings::default());
    assert_eq!(
        to_ru(&w, "where is #1024").await,
        Err(TranslateFailure::Corrupted {
            provider: "deepl".to_owned()
        })
    );
    assert_eq!(
        w.store.cached_entries(),
        0,
        "a mangled translation is not cached"
    );
}

#[tokio::test]
async fn a_duplicated_placeholder_falls_back() {
    let llm = FakeTranslator::new("openai", |r| Ok(format!("{} {}", r.text, r.text)));
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&llm, &deepl], ServiceSettings::default());
    assert_eq!(text_of(&to_ru(&w, "see #1").await.unwrap()).1, "deepl");
}

#[tokio::test]
async fn glossary_terms_get_their_fixed_translation_or_stay_as_written() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    w.store
        .put_glossary(&Glossary {
            version: 1,
            entries: vec![
                GlossaryEntry {
                    term: "Omnidesk".to_owned(),
                    translations: BTreeMap::from([("ru".to_owned(), "Омнидеск".to_owned())]),
                },
                GlossaryEntry {
                    term: "Acme Pro".to_owned(),
                    translations: BTreeMap::new(),
                },
            ],
        })
        .await
        .unwrap();
    let out = to_ru(&w, "I use omnidesk with ACME pro").await.unwrap();
    assert_eq!(deepl.last_text().unwrap(), "I use ⟦1⟧ with ⟦2⟧");
    assert_eq!(text_of(&out).0, "<ru>I use Омнидеск with ACME pro");
    let de = w
        .service
        .translate("I use omnidesk", None, &tag("de"))
        .await
        .unwrap();
    assert_eq!(text_of(&de).0, "<de>I use omnidesk");
}

#[tokio::test]
async fn the_glossary_is_read_once_a_minute_and_a_new_version_is_a_new_cache() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    for _ in 0..3 {
        to_ru(&w, "hello").await.unwrap();
    }
    assert_eq!(w.store.glossary_reads(), 1);
    w.store
        .put_glossary(&Glossary {
            version: 1,
            entries: vec![],
        })
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(60));
    to_ru(&w, "hello").await.unwrap();
    assert_eq!((w.store.glossary_reads(), deepl.calls()), (2, 2));
}

#[tokio::test]
async fn urls_and_order_numbers_survive_and_share_one_translation() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    let out = to_ru(
        &w,
        "Where is order #1024? See https://shop.example.com/o/1024.",
    )
    .await
    .unwrap();
    assert_eq!(deepl.last_text().unwrap(), "Where is order ⟦1⟧? See ⟦2⟧.");
    assert_eq!(
        text_of(&out).0,
        "<ru>Where is order #1024? See https://shop.example.com/o/1024."
    );
    let other = to_ru(&w, "Where is order A-5521? See https://x.io/b.")
        .await
        .unwrap();
    assert_eq!(
        text_of(&other),
        (
            "<ru>Where is order A-5521? See https://x.io/b.",
            "deepl",
            true
        )
    );
    assert_eq!(deepl.calls(), 1);
}

#[tokio::test]
async fn the_same_language_is_not_translated() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    let out = w
        .service
        .translate("colour", Some(&tag("en-GB")), &tag("en"))
        .await;
    assert_eq!(
        out,
        Ok(Translated::SameLanguage {
            detected: tag("en-GB")
        })
    );
    assert_eq!(deepl.calls(), 0);
}

#[tokio::test]
async fn a_provider_detecting_the_target_language_means_same_language() {
    let deepl = FakeTranslator::detecting("deepl", Some("ru"), |r| Ok(r.text.clone()));
    let w = world(&[&deepl], ServiceSettings::default());
    for _ in 0..2 {
        assert_eq!(
            to_ru(&w, "привет").await,
            Ok(Translated::SameLanguage {
                detected: tag("ru")
            })
        );
    }
    assert_eq!(deepl.calls(), 1, "the finding is cached too");
}

#[tokio::test]
async fn the_detected_source_is_reported() {
    let deepl = FakeTranslator::detecting("deepl", Some("de"), |_| Ok("привет".to_owned()));
    let w = world(&[&deepl], ServiceSettings::default());
    match to_ru(&w, "hallo").await.unwrap() {
        Translated::Text {
            detected_source, ..
        } => assert_eq!(detected_source, Some(tag("de"))),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failing_cache_does_not_fail_the_translation() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    w.store.fail_cache.store(true, Ordering::SeqCst);
    assert_eq!(text_of(&to_ru(&w, "hello").await.unwrap()).0, "<ru>hello");
}

#[tokio::test]
async fn a_usage_that_cannot_be_counted_skips_a_limited_provider() {
    let (deepl, google) = (
        FakeTranslator::tagging("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], limits(&[("deepl", 1000)]));
    w.store.fail_usage.store(true, Ordering::SeqCst);
    // google is unlimited: its count is information only.
    assert_eq!(text_of(&to_ru(&w, "hello").await.unwrap()).1, "google");
    assert_eq!(deepl.calls(), 0);

    let w = world(&[&deepl], limits(&[("deepl", 1000)]));
    w.store.fail_usage.store(true, Ordering::SeqCst);
    assert!(matches!(
        to_ru(&w, "hello").await,
        Err(TranslateFailure::Unavailable { .. })
    ));
}

#[tokio::test]
async fn an_unreadable_glossary_waits_unless_one_was_read_before() {
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    w.store.fail_glossary.store(true, Ordering::SeqCst);
    assert!(matches!(
        to_ru(&w, "hello").await,
        Err(TranslateFailure::Unavailable { .. })
    ));
    w.store.fail_glossary.store(false, Ordering::SeqCst);
    to_ru(&w, "hello").await.unwrap();
    w.store.fail_glossary.store(true, Ordering::SeqCst);
    w.clock.advance(Duration::from_secs(120));
    assert!(to_ru(&w, "hello").await.is_ok());
}

#[tokio::test]
async fn providers_are_listed_in_fallback_order() {
    let (deepl, google) = (
        FakeTranslator::tagging("deepl"),
        FakeTranslator::tagging("google"),
    );
    let w = world(&[&deepl, &google], ServiceSettings::default());
    assert!(w.service.is_enabled());
    assert_eq!(w.service.providers(), ["deepl", "google"]);
}

#[tokio::test]
async fn a_conversation_s_text_links_the_cache_entry_it_made_or_used_a_preview_links_none() {
    use omnidesk_core::{IdGen, UuidV7Ids};
    let deepl = FakeTranslator::tagging("deepl");
    let w = world(&[&deepl], ServiceSettings::default());
    let (one, two) = (UuidV7Ids.conversation_id(), UuidV7Ids.conversation_id());
    // A preview (no conversation yet) caches but links nothing.
    w.service
        .translate("my passport number is 123", None, &tag("ru"))
        .await
        .unwrap();
    assert!(w.store.links_of(one).is_empty());
    // Conversation one's message: the entry it used (a hit, from this process) is linked.
    let out = w
        .service
        .translate_for("my passport number is 123", None, &tag("ru"), Some(one))
        .await
        .unwrap();
    assert!(text_of(&out).2, "a cache hit");
    let linked = w.store.links_of(one);
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert!(
        w.store.is_cached(&linked[0]),
        "the link names the cached entry"
    );
    // Conversation two's new text: the entry made is linked to two only.
    w.service
        .translate_for("call me at home", None, &tag("ru"), Some(two))
        .await
        .unwrap();
    let of_two = w.store.links_of(two);
    assert_eq!(of_two.len(), 1);
    assert_ne!(of_two, linked);
    assert_eq!(w.store.links_of(one), linked);
}
