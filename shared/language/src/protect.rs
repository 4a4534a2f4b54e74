//! Spans a machine translation must not change, kept out of the provider's reach.
//!
//! [`protect`] replaces each such span — code in backticks, URLs and bare domains, e-mail
//! addresses, @handles, #hashtags, numbers and order ids (the spans language detection
//! ignores), and glossary terms — with a numbered placeholder `⟦1⟧`, `⟦2⟧`, …; [`restore`]
//! puts them back into the provider's translation and notices a placeholder the provider
//! dropped, repeated or invented.
//!
//! Providers do not always return a placeholder byte for byte. [`restore`] also accepts
//! whitespace inside the brackets (`⟦ 1 ⟧`, Google), the CJK white brackets `〚1〛` and
//! doubled ASCII or full-width brackets (`[[1]]`, `［［1］］`) that LLMs write when they
//! "fix" an unusual character, and full-width, Arabic-Indic and Devanagari digits
//! (`⟦１⟧`, `⟦١⟧`) that localising providers write. A text that already contains something
//! of that shape has it protected too, so a restore never mistakes it for a placeholder.

use std::ops::Range;

use crate::tokens;

/// A text with its protected spans replaced by placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// The text to translate.
    pub text: String,
    /// The spans, in order of appearance: `spans[0]` is `⟦1⟧`.
    pub spans: Vec<ProtectedSpan>,
}

/// One protected span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedSpan {
    /// Its placeholder in [`Protected::text`] (`⟦3⟧`).
    pub placeholder: String,
    /// The text it replaced, as written.
    pub original: String,
    /// For a glossary term, its index in the `terms` given to [`protect`].
    pub term: Option<usize>,
}

/// Why a translation cannot be restored: the provider mangled a placeholder, so the
/// translation must not be used as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// A placeholder is missing from the translation.
    Dropped { placeholder: String },
    /// A placeholder appears more than once.
    Duplicated { placeholder: String },
    /// A placeholder that [`protect`] never issued, as found in the translation.
    Unknown { placeholder: String },
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dropped { placeholder } => write!(f, "placeholder {placeholder} was dropped"),
            Self::Duplicated { placeholder } => {
                write!(f, "placeholder {placeholder} appears more than once")
            }
            Self::Unknown { placeholder } => {
                write!(f, "placeholder {placeholder} was never issued")
            }
        }
    }
}

impl std::error::Error for RestoreError {}

/// The placeholder of the `n`th span (1-based): `⟦n⟧`.
pub fn placeholder(n: usize) -> String {
    format!("⟦{n}⟧")
}

/// Glossary terms prepared for matching: build once, protect many texts with
/// [`protect_with`].
#[derive(Debug, Clone, Default)]
pub struct Terms {
    /// Sorted by first letter (lower case), then longest first, then index.
    list: Vec<Term>,
}

#[derive(Debug, Clone)]
struct Term {
    index: usize,
    text: String,
    first: char,
}

impl Terms {
    /// Prepares `terms`; a span's [`ProtectedSpan::term`] is an index into this slice.
    /// Empty terms are ignored.
    pub fn new<S: AsRef<str>>(terms: &[S]) -> Self {
        let mut list: Vec<(Term, usize)> = terms
            .iter()
            .map(|t| t.as_ref().trim())
            .enumerate()
            .filter_map(|(index, t)| {
                let term = Term {
                    index,
                    text: t.to_owned(),
                    first: fold_first(t.chars().next()?),
                };
                Some((term, t.chars().count()))
            })
            .collect();
        list.sort_by_key(|(t, len)| (t.first, std::cmp::Reverse(*len), t.index));
        Self {
            list: list.into_iter().map(|(t, _)| t).collect(),
        }
    }

    /// The terms starting with `first` (lower case), longest first.
    fn starting_with(&self, first: char) -> &[Term] {
        let from = self.list.partition_point(|t| t.first < first);
        let len = self.list[from..].partition_point(|t| t.first == first);
        &self.list[from..from + len]
    }
}

/// Replaces every span that must not change with a placeholder.
///
/// `terms` are glossary terms, matched case-insensitively as whole words (a term next to a
/// Chinese, Japanese, Korean or Thai letter counts as whole), the longest first where two
/// start at the same place. A term may cover a number or an id (`iPhone 15`), but never
/// part of one (`omnidesk` in `https://omnidesk.io`). Empty terms are ignored. To protect
/// many texts with one glossary, prepare it once with [`Terms::new`] and use
/// [`protect_with`].
pub fn protect(text: &str, terms: &[&str]) -> Protected {
    protect_with(text, &Terms::new(terms))
}

/// [`protect`] with prepared terms.
pub fn protect_with(text: &str, terms: &Terms) -> Protected {
    let mut spans: Vec<(Range<usize>, Option<usize>)> = Vec::new();
    let code = tokens::code_spans(text);
    for gap in tokens::between(text.len(), &code) {
        let shaped = placeholder_shapes(text, gap.clone());
        let relative: Vec<Range<usize>> = shaped
            .iter()
            .map(|r| r.start - gap.start..r.end - gap.start)
            .collect();
        for free in tokens::between(gap.len(), &relative) {
            let free = gap.start + free.start..gap.start + free.end;
            free_spans(text, free, terms, &mut spans);
        }
        spans.extend(shaped.into_iter().map(|r| (r, None)));
    }
    spans.extend(code.into_iter().map(|r| (r, None)));
    spans.sort_by_key(|(r, _)| r.start);

    let mut out = Protected {
        text: String::with_capacity(text.len()),
        spans: Vec::with_capacity(spans.len()),
    };
    let mut from = 0;
    for (n, (range, term)) in spans.into_iter().enumerate() {
        let placeholder = placeholder(n + 1);
        out.text.push_str(&text[from..range.start]);
        out.text.push_str(&placeholder);
        out.spans.push(ProtectedSpan {
            placeholder,
            original: text[range.clone()].to_owned(),
            term,
        });
        from = range.end;
    }
    out.text.push_str(&text[from..]);
    out
}

/// Adds the glossary terms and the non-linguistic words of `text[range]` (which holds no
/// code and nothing shaped like a placeholder) to `spans`.
fn free_spans(
    text: &str,
    range: Range<usize>,
    terms: &Terms,
    spans: &mut Vec<(Range<usize>, Option<usize>)>,
) {
    let words: Vec<Range<usize>> = tokens::words(&text[range.clone()])
        .into_iter()
        .filter_map(|w| w.non_linguistic)
        .map(|r| range.start + r.start..range.start + r.end)
        .collect();
    let mut matched: Vec<Range<usize>> = Vec::new();
    if !terms.list.is_empty() {
        let mut i = range.start;
        let mut before = text[..i].chars().next_back();
        while let Some(c) = text[i..range.end].chars().next() {
            // Only where a word may start, only terms starting with this letter.
            let found = before.is_none_or(|b| boundary(b, c)).then(|| {
                terms.starting_with(fold_first(c)).iter().find_map(|term| {
                    let end = match_term(text, i, range.end, &term.text)?;
                    words
                        .iter()
                        .all(|w| w.end <= i || w.start >= end || (w.start >= i && w.end <= end))
                        .then_some((end, term.index))
                })
            });
            if let Some((end, index)) = found.flatten() {
                spans.push((i..end, Some(index)));
                matched.push(i..end);
                before = text[..end].chars().next_back();
                i = end;
            } else {
                before = Some(c);
                i += c.len_utf8();
            }
        }
    }
    spans.extend(
        words
            .into_iter()
            .filter(|w| !matched.iter().any(|m| m.start <= w.start && w.end <= m.end))
            .map(|w| (w, None)),
    );
}

/// The end of `term` matched at `text[at..limit]`, case-insensitively and as a whole word;
/// a whitespace run in the term matches any whitespace run.
fn match_term(text: &str, at: usize, limit: usize, term: &str) -> Option<usize> {
    let first = term.chars().next()?;
    if let Some(before) = text[..at].chars().next_back()
        && !boundary(before, first)
    {
        return None;
    }
    let hay = &text[at..limit];
    let mut h = hay.char_indices().peekable();
    let mut t = term.chars().peekable();
    let mut last = first;
    while let Some(tc) = t.next() {
        last = tc;
        if tc.is_whitespace() {
            while t.next_if(|c| c.is_whitespace()).is_some() {}
            h.next_if(|(_, c)| c.is_whitespace())?;
            while h.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            continue;
        }
        let (_, hc) = h.next()?;
        if hc != tc && !hc.to_lowercase().eq(tc.to_lowercase()) {
            return None;
        }
    }
    let end = at + h.peek().map_or(hay.len(), |(i, _)| *i);
    if let Some(after) = text[end..].chars().next()
        && !boundary(last, after)
    {
        return None;
    }
    Some(end)
}

/// The first character of `c` in lower case: equal for two characters that match
/// case-insensitively.
fn fold_first(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Whether a whole word may end between `a` and `b`.
fn boundary(a: char, b: char) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    !(word(a) && word(b)) || tokens::is_spaceless_letter(a) || tokens::is_spaceless_letter(b)
}

/// Places in `text[range]` shaped like a placeholder, as absolute byte ranges.
fn placeholder_shapes(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let rest = &text[i..range.end];
        if let Some((len, _)) = parse_placeholder(rest) {
            found.push(i..i + len);
            i += len;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

const OPENINGS: [&str; 4] = ["⟦", "〚", "[[", "［［"];
const CLOSINGS: [&str; 4] = ["⟧", "〛", "]]", "］］"];

/// A placeholder at the start of `s`: its length in bytes and its number (`None` when the
/// digits overflow).
fn parse_placeholder(s: &str) -> Option<(usize, Option<usize>)> {
    let open = OPENINGS.iter().find(|o| s.starts_with(**o))?;
    let mut i = open.len();
    i += leading_whitespace(&s[i..]);
    let mut number: Option<usize> = Some(0);
    let digits_start = i;
    for c in s[i..].chars() {
        let Some(d) = digit_value(c) else { break };
        number = number
            .and_then(|n| n.checked_mul(10))
            .and_then(|n| n.checked_add(d as usize));
        i += c.len_utf8();
    }
    if i == digits_start {
        return None;
    }
    i += leading_whitespace(&s[i..]);
    let close = CLOSINGS.iter().find(|c| s[i..].starts_with(**c))?;
    Some((i + close.len(), number))
}

fn leading_whitespace(s: &str) -> usize {
    s.len() - s.trim_start_matches(char::is_whitespace).len()
}

/// The value of a decimal digit: ASCII, full-width, Arabic-Indic, Extended Arabic-Indic
/// (Persian, Urdu) and Devanagari.
fn digit_value(c: char) -> Option<u32> {
    let zero = match c {
        '0'..='9' => '0',
        '０'..='９' => '０',
        '\u{0660}'..='\u{0669}' => '\u{0660}',
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}',
        '\u{0966}'..='\u{096F}' => '\u{0966}',
        _ => return None,
    };
    Some(c as u32 - zero as u32)
}

/// Puts every span of `protected` back into `translated` (the provider's translation of
/// `protected.text`), as `replacement` renders it (a glossary term may become its fixed
/// translation). A text without spans is returned untouched.
pub fn restore(
    translated: &str,
    protected: &Protected,
    replacement: impl Fn(&ProtectedSpan) -> String,
) -> Result<String, RestoreError> {
    if protected.spans.is_empty() {
        return Ok(translated.to_owned());
    }
    let mut seen = vec![false; protected.spans.len()];
    let mut out = String::with_capacity(translated.len() + protected.text.len());
    let mut from = 0;
    let mut i = 0;
    while i < translated.len() {
        let rest = &translated[i..];
        let Some((len, number)) = parse_placeholder(rest) else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let index = number
            .and_then(|n| n.checked_sub(1))
            .filter(|&n| n < seen.len());
        let Some(index) = index else {
            return Err(RestoreError::Unknown {
                placeholder: rest[..len].to_owned(),
            });
        };
        let span = &protected.spans[index];
        if std::mem::replace(&mut seen[index], true) {
            return Err(RestoreError::Duplicated {
                placeholder: span.placeholder.clone(),
            });
        }
        out.push_str(&translated[from..i]);
        out.push_str(&replacement(span));
        i += len;
        from = i;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(RestoreError::Dropped {
            placeholder: protected.spans[missing].placeholder.clone(),
        });
    }
    out.push_str(&translated[from..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn originals(p: &Protected) -> Vec<&str> {
        p.spans.iter().map(|s| s.original.as_str()).collect()
    }

    fn identity(s: &ProtectedSpan) -> String {
        s.original.clone()
    }

    #[test]
    fn urls_emails_handles_ids_and_code_become_placeholders() {
        let p = protect(
            "see https://shop.example.com/o?id=1 or www.x.org, mail a.b@c.de, @bob #sale \
             #1024 A-5521 ORD-2024-001 12.50 shop.example.com `let x = 1;` ok",
            &[],
        );
        assert_eq!(
            p.text,
            "see ⟦1⟧ or ⟦2⟧, mail ⟦3⟧, ⟦4⟧ ⟦5⟧ ⟦6⟧ ⟦7⟧ ⟦8⟧ ⟦9⟧ ⟦10⟧ ⟦11⟧ ok"
        );
        assert_eq!(
            originals(&p),
            [
                "https://shop.example.com/o?id=1",
                "www.x.org",
                "a.b@c.de",
                "@bob",
                "#sale",
                "#1024",
                "A-5521",
                "ORD-2024-001",
                "12.50",
                "shop.example.com",
                "`let x = 1;`",
            ]
        );
        assert_eq!(p.spans[10].placeholder, "⟦11⟧");
    }

    #[test]
    fn trailing_punctuation_stays_outside_the_span() {
        let p = protect("see https://x.io/a.", &[]);
        assert_eq!(p.text, "see ⟦1⟧.");
        assert_eq!(originals(&p), ["https://x.io/a"]);
    }

    #[test]
    fn a_fenced_block_is_one_span() {
        let p = protect("run this:\n```\nfn main() {}\n```\nthanks", &[]);
        assert_eq!(p.text, "run this:\n⟦1⟧\nthanks");
        assert_eq!(originals(&p), ["```\nfn main() {}\n```"]);
    }

    #[test]
    fn glossary_terms_match_whole_words_case_insensitively_longest_first() {
        let terms = ["Omnidesk", "Omnidesk Pro", "desk"];
        let p = protect("I love omnidesk  pro, not OMNIDESK or desktops.", &terms);
        assert_eq!(p.text, "I love ⟦1⟧, not ⟦2⟧ or desktops.");
        assert_eq!(originals(&p), ["omnidesk  pro", "OMNIDESK"]);
        assert_eq!((p.spans[0].term, p.spans[1].term), (Some(1), Some(0)));
    }

    #[test]
    fn a_term_may_cover_a_number_but_not_part_of_a_url() {
        let p = protect(
            "my iPhone 15 and https://omnidesk.io",
            &["iphone 15", "omnidesk"],
        );
        assert_eq!(p.text, "my ⟦1⟧ and ⟦2⟧");
        assert_eq!((p.spans[0].term, p.spans[1].term), (Some(0), None), "{p:?}");
    }

    #[test]
    fn terms_next_to_chinese_letters_are_whole_words() {
        let p = protect("我用Omnidesk工作", &["omnidesk"]);
        assert_eq!(p.text, "我用⟦1⟧工作");
    }

    #[test]
    fn ids_inside_japanese_are_protected_alone() {
        let p = protect("注文A-5521はまだです", &[]);
        assert_eq!(p.text, "注文⟦1⟧はまだです");
    }

    #[test]
    fn a_text_shaped_like_a_placeholder_is_protected_too() {
        let p = protect("literally ⟦1⟧ and [[ 2 ]] here", &[]);
        assert_eq!(p.text, "literally ⟦1⟧ and ⟦2⟧ here");
        assert_eq!(originals(&p), ["⟦1⟧", "[[ 2 ]]"]);
        assert_eq!(
            restore(&p.text, &p, identity).unwrap(),
            "literally ⟦1⟧ and [[ 2 ]] here"
        );
    }

    #[test]
    fn restore_puts_spans_back_and_applies_the_replacement() {
        let p = protect("Omnidesk order #1024", &["omnidesk"]);
        let out = restore("заказ ⟦2⟧ в ⟦1⟧", &p, |s| match s.term {
            Some(_) => "Омнидеск".to_owned(),
            None => s.original.clone(),
        });
        assert_eq!(out.unwrap(), "заказ #1024 в Омнидеск");
    }

    #[test]
    fn restore_tolerates_what_providers_do_to_brackets() {
        let p = protect("a 1 b 2 c 3 d 4 e 5", &[]);
        assert_eq!(p.text, "a ⟦1⟧ b ⟦2⟧ c ⟦3⟧ d ⟦4⟧ e ⟦5⟧");
        let out = restore("A ⟦ 1 ⟧ B 〚2〛 C [[3]] D ⟦４⟧ E ［［ ٥ ］］", &p, identity);
        assert_eq!(out.unwrap(), "A 1 B 2 C 3 D 4 E 5");
    }

    #[test]
    fn restore_reports_dropped_duplicated_and_unknown_placeholders() {
        let p = protect("see #1 and #2", &[]);
        assert_eq!(
            restore("voir ⟦1⟧", &p, identity),
            Err(RestoreError::Dropped {
                placeholder: "⟦2⟧".to_owned()
            })
        );
        assert_eq!(
            restore("⟦1⟧ ⟦2⟧ ⟦1⟧", &p, identity),
            Err(RestoreError::Duplicated {
                placeholder: "⟦1⟧".to_owned()
            })
        );
        assert_eq!(
            restore("⟦1⟧ ⟦2⟧ ⟦ 3 ⟧", &p, identity),
            Err(RestoreError::Unknown {
                placeholder: "⟦ 3 ⟧".to_owned()
            })
        );
        assert!(matches!(
            restore("⟦0⟧ ⟦1⟧ ⟦2⟧", &p, identity),
            Err(RestoreError::Unknown { .. })
        ));
        assert!(matches!(
            restore("⟦99999999999999999999999⟧", &p, identity),
            Err(RestoreError::Unknown { .. })
        ));
    }

    #[test]
    fn a_text_without_spans_passes_through_untouched() {
        let p = protect("hello there", &[]);
        assert!(p.spans.is_empty());
        assert_eq!(restore("salut ⟦7⟧", &p, identity).unwrap(), "salut ⟦7⟧");
    }

    /// Text built from the characters that make spans and placeholders, so the cases that
    /// matter come up often.
    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("⟦".to_owned()),
            Just("⟧".to_owned()),
            Just("〚".to_owned()),
            Just("〛".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("［".to_owned()),
            Just("］".to_owned()),
            Just("`".to_owned()),
            Just("```".to_owned()),
            Just("https://x.io/a".to_owned()),
            Just("www.".to_owned()),
            Just("@".to_owned()),
            Just("#".to_owned()),
            Just("omnidesk".to_owned()),
            Just("Pro".to_owned()),
            Just("注文".to_owned()),
            Just("１".to_owned()),
            Just("٣".to_owned()),
            "[0-9]{1,3}",
            "[ \t\n\u{3000}]{1,2}",
            "[a-zA-Z.,:;()/-]{1,4}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn restoring_the_untranslated_text_gives_the_original(t in tricky_text()) {
            let p = protect(&t, &["omnidesk", "omnidesk pro", "x"]);
            prop_assert_eq!(restore(&p.text, &p, identity), Ok(t));
        }

        #[test]
        fn restoring_arbitrary_text_gives_the_original(t in any::<String>()) {
            let p = protect(&t, &["a"]);
            prop_assert_eq!(restore(&p.text, &p, identity), Ok(t));
        }
    }
}
