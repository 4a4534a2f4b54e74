//! Regenerates `ngrams/*.tsv` from lingua's language models (Apache-2.0, © Peter M. Stahl):
//! the most probable 1- to 3-grams per language with their log probabilities, a few tens of
//! kilobytes in place of lingua's megabytes.
//! Run: `cargo run --release -p omnidesk-language --example distill-ngrams`

use std::fmt::Write as _;

use fst::Streamer as _;
use include_dir::Dir;

const KEEP: [usize; 3] = [200, 2000, 8000];

const MODELS: &[(&str, Dir<'static>)] = &[
    (
        "en",
        lingua_english_language_model::ENGLISH_MODELS_DIRECTORY,
    ),
    (
        "es",
        lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY,
    ),
    (
        "pt",
        lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY,
    ),
    ("de", lingua_german_language_model::GERMAN_MODELS_DIRECTORY),
    ("fr", lingua_french_language_model::FRENCH_MODELS_DIRECTORY),
    (
        "tr",
        lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY,
    ),
    (
        "ru",
        lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY,
    ),
    (
        "uk",
        lingua_ukrainian_language_model::UKRAINIAN_MODELS_DIRECTORY,
    ),
];

fn main() {
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ngrams");
    for (code, dir) in MODELS {
        let bytes = dir.get_file("ngrams.fst").expect("ngrams.fst").contents();
        let map = fst::Map::new(bytes).expect("fst");
        let mut by_len: [Vec<(String, f64)>; 3] = Default::default();
        let mut stream = map.stream();
        while let Some((k, v)) = stream.next() {
            let Ok(s) = std::str::from_utf8(k) else {
                continue;
            };
            let n = s.chars().count();
            if (1..=3).contains(&n) {
                by_len[n - 1].push((s.to_owned(), f64::from_bits(v)));
            }
        }
        let mut text = String::new();
        for (i, v) in by_len.iter_mut().enumerate() {
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.truncate(KEEP[i]);
            v.sort_by(|a, b| a.0.cmp(&b.0));
            for (g, p) in v.iter() {
                let lp = if *p > 0.0 { p.ln() } else { *p };
                writeln!(text, "{g}\t{lp:.2}").unwrap();
            }
        }
        std::fs::write(format!("{out_dir}/{code}.tsv"), text).expect("write");
        println!(
            "{code}: {:?}",
            by_len.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}
