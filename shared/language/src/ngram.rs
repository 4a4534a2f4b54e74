//! Character 1- to 3-gram log probabilities per language, distilled from lingua's models
//! (Apache-2.0, © Peter M. Stahl) by `examples/distill-ngrams.rs`: the most probable n-grams
//! only, about 100 kB per language. Trigram probabilities are conditional on their first two
//! letters, as in lingua.

use std::collections::HashMap;
use std::sync::OnceLock;

struct Table {
    grams: HashMap<&'static str, f32>,
    /// Log probability of an n-gram the table lacks, per length.
    floor: [f32; 3],
}

fn source(code: &str) -> Option<&'static str> {
    Some(match code {
        "en" => include_str!("../ngrams/en.tsv"),
        "es" => include_str!("../ngrams/es.tsv"),
        "pt" => include_str!("../ngrams/pt.tsv"),
        "de" => include_str!("../ngrams/de.tsv"),
        "fr" => include_str!("../ngrams/fr.tsv"),
        "tr" => include_str!("../ngrams/tr.tsv"),
        "ru" => include_str!("../ngrams/ru.tsv"),
        "uk" => include_str!("../ngrams/uk.tsv"),
        _ => return None,
    })
}

const CODES: [&str; 8] = ["en", "es", "pt", "de", "fr", "tr", "ru", "uk"];

fn parse(text: &'static str) -> Table {
    let mut grams = HashMap::with_capacity(10_000);
    let mut floor = [0.0_f32; 3];
    for line in text.lines() {
        let Some((g, lp)) = line.split_once('\t') else {
            continue;
        };
        let Ok(lp) = lp.parse::<f32>() else { continue };
        let n = g.chars().count().clamp(1, 3);
        floor[n - 1] = floor[n - 1].min(lp);
        grams.insert(g, lp);
    }
    for f in &mut floor {
        *f -= 1.0;
    }
    Table { grams, floor }
}

fn table(code: &str) -> Option<&'static Table> {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    let i = CODES.iter().position(|c| *c == code)?;
    let tables = TABLES.get_or_init(|| {
        CODES
            .iter()
            .map(|c| parse(source(c).unwrap_or("")))
            .collect()
    });
    tables.get(i)
}

/// Whether a distilled table exists for `code`.
pub(crate) fn has(code: &str) -> bool {
    source(code).is_some()
}

/// Log likelihood of the letters of `lower` (lowercased) under `code`'s n-grams.
pub(crate) fn log_likelihood(code: &str, lower: &str) -> f64 {
    let Some(t) = table(code) else {
        return f64::NEG_INFINITY;
    };
    let mut sum = 0.0_f64;
    for word in lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(i, _)| i)
            .chain([word.len()])
            .collect();
        let chars = bounds.len() - 1;
        for n in 1..=3.min(chars) {
            for start in 0..=chars - n {
                let g = &word[bounds[start]..bounds[start + n]];
                sum += f64::from(t.grams.get(g).copied().unwrap_or(t.floor[n - 1]));
            }
        }
    }
    sum
}
