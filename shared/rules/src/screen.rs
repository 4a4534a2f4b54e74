//! One pass over a message tells which of a rule set's regexes can match at all, so that a
//! message runs only those: 40 regexes cost one scan instead of 40 (each regex would run its
//! own literal search, and a Unicode `\b` on non-ASCII text sends it to a slow engine).
//!
//! Each regex's prefix literals — one of which every match must start with — are found with
//! `regex-syntax`'s extractor, as the regex crate finds its own prefilters; all of them go into
//! one Aho-Corasick automaton (ASCII case folded, so `(?i)ticket` is one literal, not 64). A
//! regex whose matches have no finite set of prefixes (`\d{5}…`, `.*x`) is always run.
//! Matching more candidates than needed is harmless; the screen never drops a regex that could
//! match.

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Up to this many bytes of literals the automaton is a DFA.
const DFA_LITERAL_BYTES: usize = 20_000;

#[derive(Debug, Clone, Default)]
pub(crate) struct Screen {
    automaton: Option<AhoCorasick>,
    /// For each literal of the automaton, the regex it belongs to.
    owner: Vec<usize>,
    /// The regexes that are always run (a bit set).
    always: Vec<u64>,
}

/// A bit set of regexes.
#[derive(Debug)]
pub(crate) struct Candidates(Vec<u64>);

impl Candidates {
    pub fn contains(&self, regex: usize) -> bool {
        self.0
            .get(regex / 64)
            .is_some_and(|word| word & (1 << (regex % 64)) != 0)
    }
}

fn insert(bits: &mut [u64], i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1 << (i % 64);
    }
}

impl Screen {
    /// The screen of these patterns (as compiled, with the regex crate's default flags).
    pub fn new<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Screen {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        let mut unscreened = Vec::new();
        let mut count = 0;
        for (i, pattern) in patterns.into_iter().enumerate() {
            count = i + 1;
            match prefixes(pattern) {
                Some(prefixes) => {
                    owner.extend(std::iter::repeat_n(i, prefixes.len()));
                    literals.extend(prefixes);
                }
                None => unscreened.push(i),
            }
        }
        let mut always = vec![0u64; count.div_ceil(64)];
        let automaton = if literals.is_empty() {
            None
        } else {
            // A DFA is the fastest for the overlapping search; past a size it is left to the
            // builder's choice (an NFA), to bound memory.
            let bytes: usize = literals.iter().map(Vec::len).sum();
            let kind = (bytes <= DFA_LITERAL_BYTES).then_some(AhoCorasickKind::DFA);
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(kind)
                .build(&literals)
                .ok()
        };
        if automaton.is_none() {
            unscreened = (0..count).collect();
        }
        for i in unscreened {
            insert(&mut always, i);
        }
        Screen {
            automaton,
            owner,
            always,
        }
    }

    /// The regexes that may match `text`.
    pub fn candidates(&self, text: &str) -> Candidates {
        let mut bits = self.always.clone();
        if let Some(automaton) = &self.automaton {
            for found in automaton.find_overlapping_iter(text) {
                if let Some(&regex) = self.owner.get(found.pattern().as_usize()) {
                    insert(&mut bits, regex);
                }
            }
        }
        Candidates(bits)
    }
}

/// The literals every match of `pattern` starts with, ASCII-lower-cased; `None` when there is
/// no such finite set (or it holds the empty string, which screens nothing).
fn prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut out: Vec<Vec<u8>> = literals
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    out.sort_unstable();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regex_is_a_candidate_only_where_one_of_its_prefixes_occurs() {
        let patterns = [
            r"(?i)\b(?:ticket|case)\s*#?\d{4}\b",
            r"(?i)order\s*#?\d{5,}",
            r"\d{5}",
            r"(?i)возврат",
        ];
        let screen = Screen::new(patterns);
        let c = screen.candidates("my TICKET 1234 please");
        assert!(c.contains(0));
        assert!(!c.contains(1));
        assert!(c.contains(2), "no prefix literals: always a candidate");
        assert!(!c.contains(3));
        let c = screen.candidates("Хочу ВОЗВРАТ, ORDER 12345");
        assert!(!c.contains(0));
        assert!(c.contains(1));
        assert!(c.contains(3));
    }

    #[test]
    fn overlapping_prefixes_of_different_regexes_are_all_found() {
        let screen = Screen::new(["tick", "ticket", "ket"]);
        let c = screen.candidates("a ticket");
        assert!(c.contains(0) && c.contains(1) && c.contains(2));
    }

    #[test]
    fn the_screen_agrees_with_the_regexes() {
        let patterns = [
            r"(?i)\bsubscription\s+cancel",
            r"(?i)(?:refund|возврат|退款)",
            r"(?i)\border\s*#?\d{5,}",
            r"^/start",
            r"(?i)k",
        ];
        let regexes: Vec<regex::Regex> = patterns
            .iter()
            .map(|p| regex::Regex::new(p).unwrap())
            .collect();
        let screen = Screen::new(patterns);
        for text in [
            "Subscription CANCEL now",
            "REFUND",
            "Возврат",
            "我要退款",
            "Order #123456",
            "/start",
            "\u{212A}elvin",
            "nothing here",
            "",
        ] {
            let c = screen.candidates(text);
            for (i, r) in regexes.iter().enumerate() {
                if r.is_match(text) {
                    assert!(
                        c.contains(i),
                        "{text:?} matches {} but was screened out",
                        patterns[i]
                    );
                }
            }
        }
    }
}
