//! Where a text carries no language: code in backticks, URLs and bare domains, e-mail
//! addresses, @handles, #hashtags, numbers and order ids.
//!
//! One classifier serves detection, which drops these spans ([`crate::strip_non_linguistic`]),
//! and translation, which keeps them out of the provider's reach ([`crate::protect()`]), so the
//! two never disagree on what a URL or an order id is.

use std::ops::Range;

use crate::alphabet::{Family, family_of};

/// Code in backticks, as byte ranges including the backticks.
///
/// As in CommonMark, a run of n backticks opens a span closed by the next run of exactly n;
/// an unclosed fence (three or more) runs to the end of the text; an unclosed shorter run is
/// a literal backtick.
pub(crate) fn code_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    // Backtick runs as (start, end).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    // The index of the next run of the same length, found from the end in one pass.
    let mut next_same = vec![None; runs.len()];
    let mut last_of_len = std::collections::HashMap::new();
    for (k, &(s, e)) in runs.iter().enumerate().rev() {
        next_same[k] = last_of_len.insert(e - s, k);
    }
    let mut spans = Vec::new();
    let mut k = 0;
    while k < runs.len() {
        let (start, end) = runs[k];
        match next_same[k] {
            Some(close) => {
                spans.push(start..runs[close].1);
                k = close + 1;
            }
            None if end - start >= 3 => {
                spans.push(start..bytes.len());
                break;
            }
            None => k += 1,
        }
    }
    spans
}

/// The ranges of `0..len` outside `spans` (sorted, disjoint), empty ones left out.
pub(crate) fn between(len: usize, spans: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    let mut from = 0;
    for s in spans {
        if s.start > from {
            out.push(from..s.start);
        }
        from = s.end;
    }
    if len > from {
        out.push(from..len);
    }
    out
}

/// One run of a whitespace-separated word that [`words`] classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The run, as a byte range of the text.
    pub(crate) run: Range<usize>,
    /// The part of the run that carries no language, without the punctuation around it
    /// (`https://x.io/a` of `(https://x.io/a).`); `None` for language.
    pub(crate) non_linguistic: Option<Range<usize>>,
}

/// The words of `text` (which holds no code), each classified.
///
/// A word is split at whitespace; a word of a script written without spaces (Chinese,
/// Japanese, Korean, Thai) is further split into runs of that script and runs of anything
/// else, so `注文A-5521です` yields the order id alone. Runs of those scripts are language.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                runs(text, s, i, &mut out);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// Splits the word `text[from..to]` into runs and classifies them.
fn runs(text: &str, from: usize, to: usize, out: &mut Vec<Word>) {
    let word = &text[from..to];
    if !word.chars().any(is_spaceless) {
        out.push(classify(text, from..to));
        return;
    }
    let mut run_start = from;
    let mut run_spaceless = None;
    for (i, c) in word.char_indices() {
        let s = is_spaceless(c);
        if run_spaceless.is_some_and(|r| r != s) {
            out.push(run(text, run_start..from + i, run_spaceless == Some(true)));
            run_start = from + i;
        }
        run_spaceless = Some(s);
    }
    out.push(run(text, run_start..to, run_spaceless == Some(true)));
}

fn run(text: &str, range: Range<usize>, spaceless: bool) -> Word {
    if spaceless {
        Word {
            run: range,
            non_linguistic: None,
        }
    } else {
        classify(text, range)
    }
}

fn classify(text: &str, run: Range<usize>) -> Word {
    let core = core(&text[run.clone()]);
    let non_linguistic = (!core.is_empty() && is_non_linguistic(&text[run.start..][core.clone()]))
        .then(|| run.start + core.start..run.start + core.end);
    Word {
        run,
        non_linguistic,
    }
}

/// The run without the punctuation that opens or closes a sentence or a quote around it;
/// a closing bracket stays when the run opened it (`wiki/Foo_(bar)`).
fn core(run: &str) -> Range<usize> {
    let start = run.len() - run.trim_start_matches(is_leading_punctuation).len();
    let mut end = run.len();
    while let Some(c) = run[start..end].chars().next_back() {
        let inner = &run[start..end - c.len_utf8()];
        let trim = match c {
            ')' => inner.matches('(').count() < inner.matches(')').count() + 1,
            ']' => inner.matches('[').count() < inner.matches(']').count() + 1,
            _ => is_trailing_punctuation(c),
        };
        if !trim {
            break;
        }
        end -= c.len_utf8();
    }
    start..end
}

fn is_leading_punctuation(c: char) -> bool {
    matches!(
        c,
        '(' | '['
            | '{'
            | '<'
            | '"'
            | '\''
            | '¿'
            | '¡'
            | '«'
            | '‹'
            | '“'
            | '„'
            | '‘'
            | '‚'
            | '*'
            | '_'
            | '~'
            | ','
            | ';'
            | ':'
    )
}

fn is_trailing_punctuation(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '}'
            | '>'
            | '"'
            | '\''
            | '»'
            | '›'
            | '”'
            | '’'
            | '…'
            | '*'
            | '_'
            | '~'
    )
}

/// Characters of scripts written without spaces, and the CJK punctuation between them.
/// Full-width digits and Latin letters (`１３`, `ＡＢＣ`) are not: they are numbers and ids.
fn is_spaceless(c: char) -> bool {
    matches!(
        family_of(c),
        Family::Han | Family::Kana | Family::Hangul | Family::Thai
    ) || matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}')
}

/// Whether a run (without surrounding punctuation, without characters of scripts written
/// without spaces) carries no language.
fn is_non_linguistic(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    if token.contains('@') || token.starts_with('#') {
        return true;
    }
    if token.chars().any(char::is_numeric) {
        return true;
    }
    // Bare domains such as shop.example.com/orders.
    let trimmed = token.trim_end_matches(|c: char| c.is_ascii_punctuation());
    if let Some((head, tld)) = trimmed.rsplit_once('.') {
        let tld = tld.split('/').next().unwrap_or_default();
        if !head.is_empty()
            && head
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && (2..=6).contains(&tld.len())
            && tld.chars().all(|c| c.is_ascii_lowercase())
        {
            return true;
        }
    }
    false
}

/// Whether `c` belongs to a script written without spaces (so a glossary term next to it
/// still counts as a whole word).
pub(crate) fn is_spaceless_letter(c: char) -> bool {
    matches!(
        family_of(c),
        Family::Han | Family::Kana | Family::Hangul | Family::Thai
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        words(text)
            .into_iter()
            .filter_map(|w| w.non_linguistic.map(|r| &text[r]))
            .collect()
    }

    #[test]
    fn code_spans_follow_commonmark() {
        let t = "a `x` b ``y`z`` c ```\nfn main() {}\n``` d";
        let spans: Vec<&str> = code_spans(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(spans, ["`x`", "``y`z``", "```\nfn main() {}\n```"]);
        assert!(code_spans("it`s fine").is_empty());
        let t = "see ```\nlet x = 1;";
        assert_eq!(
            code_spans(t),
            vec![Range {
                start: 4,
                end: t.len()
            }]
        );
    }

    #[test]
    fn punctuation_around_a_span_stays_outside() {
        assert_eq!(found("see https://x.io/a."), ["https://x.io/a"]);
        assert_eq!(found("(https://x.io/a)"), ["https://x.io/a"]);
        assert_eq!(
            found("https://en.wikipedia.org/wiki/Foo_(bar)"),
            ["https://en.wikipedia.org/wiki/Foo_(bar)"]
        );
        assert_eq!(found("«#1024»,"), ["#1024"]);
        assert_eq!(found("<a.b@c.de>"), ["a.b@c.de"]);
        assert_eq!(found("..."), Vec::<&str>::new());
    }

    #[test]
    fn ids_inside_spaceless_scripts_are_found_alone() {
        assert_eq!(found("注文A-5521です"), ["A-5521"]);
        assert_eq!(found("2002年的台湾，各金融机构"), ["2002"]);
        assert_eq!(found("見てhttps://x.io/a。"), ["https://x.io/a"]);
        assert_eq!(found("１３年"), ["１３"]);
    }
}
