//! What a cache hit costs: through the in-process LRU, and through the store alone (LRU off)
//! with the tests' in-memory store, on a chat-sized text with a URL, an order id and a
//! 50-term glossary. Run in release:
//!
//! ```sh
//! cargo run --release -p omnidesk-translator --example cache-bench [iterations]
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use omnidesk_core::{Glossary, GlossaryEntry, SystemClock, TranslationStore, Translator};
use omnidesk_domain::LanguageTag;
use omnidesk_language::{Terms, protect_with};
use omnidesk_translator::{ServiceSettings, Translated, TranslationService, cache_key};
use support::{FakeTranslator, MemoryTranslations};

const TEXT: &str = "Hi! I ordered the Omnidesk Pro plan yesterday (order #1024) but the invoice \
                    at https://shop.example.com/invoices/1024 still says Basic. Can you fix it?";

fn glossary() -> Glossary {
    let mut entries: Vec<GlossaryEntry> = (0..48)
        .map(|i| GlossaryEntry {
            term: format!("Product{i} Suite"),
            translations: Default::default(),
        })
        .collect();
    entries.push(GlossaryEntry {
        term: "Omnidesk Pro".to_owned(),
        translations: [("ru".to_owned(), "Омнидеск Про".to_owned())].into(),
    });
    entries.push(GlossaryEntry {
        term: "Basic".to_owned(),
        translations: Default::default(),
    });
    Glossary {
        version: 1,
        entries,
    }
}

async fn service(memory_cache_entries: usize) -> (TranslationService, Arc<FakeTranslator>) {
    let store = MemoryTranslations::new();
    store.put_glossary(&glossary()).await.expect("glossary");
    let deepl = FakeTranslator::tagging("deepl");
    let google = FakeTranslator::tagging("google");
    let providers: Vec<Arc<dyn Translator>> = vec![deepl.clone(), google];
    let settings = ServiceSettings {
        memory_cache_entries,
        ..ServiceSettings::default()
    };
    let service = TranslationService::new(providers, store, Arc::new(SystemClock), settings);
    (service, deepl)
}

async fn hits(service: &TranslationService, target: &LanguageTag, n: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        let out = service.translate(TEXT, None, target).await;
        assert!(matches!(out, Ok(Translated::Text { cached: true, .. })));
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let target = LanguageTag::parse("ru").expect("tag");
    runtime.block_on(async {
        for (label, entries) in [("memory LRU hit", 10_000), ("store-only hit (LRU off)", 0)] {
            let (service, deepl) = service(entries).await;
            service.translate(TEXT, None, &target).await.expect("first");
            let mean = hits(&service, &target, n).await;
            assert_eq!(deepl.calls(), 1);
            println!("{label:<26} {mean:>7.2} µs/call over {n} calls");
        }
    });

    let g = glossary();
    let names: Vec<&str> = g.entries.iter().map(|e| e.term.as_str()).collect();
    let terms = Terms::new(&names);
    let started = Instant::now();
    let mut spans = 0;
    for _ in 0..n {
        spans += std::hint::black_box(protect_with(std::hint::black_box(TEXT), &terms))
            .spans
            .len();
    }
    let protect_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    // Initials spread over the alphabet, as product names are.
    let big: Vec<String> = (0..1000u32)
        .map(|i| format!("{}erm{i} Name", char::from(b'a' + (i % 26) as u8)))
        .collect();
    let big = Terms::new(&big);
    let started = Instant::now();
    for _ in 0..n / 10 {
        std::hint::black_box(protect_with(std::hint::black_box(TEXT), &big));
    }
    let big_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n / 10);
    let protected = protect_with(TEXT, &terms);
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(cache_key(
            std::hint::black_box(&protected.text),
            None,
            &target,
            "deepl",
            1,
        ));
    }
    let key_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "of which: protect ({} spans, {} terms) {protect_us:.2} µs, one cache key {key_us:.2} µs",
        spans / n as usize,
        names.len()
    );
    println!("protect with a 1000-term glossary: {big_us:.2} µs");
}
