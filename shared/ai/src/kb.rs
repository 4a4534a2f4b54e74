//! The offline knowledge-base answerer: BM25 over the FAQ's question variants, aggregated per
//! entry, answering only when the best entry is both good enough and clearly ahead.
//!
//! # Scores
//!
//! A score is BM25 (Lucene's idf, `ln(1 + (N − df + ½)/(df + ½))`) of the query against one
//! indexed question, divided by the sum of the idf of the query's distinct terms (a term the
//! knowledge base has never seen counts with the idf of a term in no document). So a score is
//! roughly *the share of the query's information found in that question*: 1.0 when every query
//! word occurs once in a question of average length, 0 when none does; it can exceed 1 a
//! little for short questions or repeated words. Because both sides scale with idf, the same
//! threshold works for a knowledge base of 20 entries or 20,000.
//!
//! Entries are ranked by an aggregate of their questions' scores ([`KbSettings::aggregation`];
//! by default the best plus twice the mean of the next three, so an entry several of whose
//! questions match outranks one lucky question). The knowledge base answers when the best
//! entry's *best question* scores at least [`KbSettings::threshold`] — a bar that means the
//! same for an entry with two questions or two hundred — and the entry's aggregate leads the
//! runner-up's by at least [`KbSettings::margin`] (with no runner-up, the lead is the whole
//! aggregate).

use std::collections::HashMap;
use std::fmt;

use omnidesk_core::ports::FaqEntry;

use crate::text::{fold_char, is_unspaced, is_word_char};

/// How the scores of an entry's question variants make the entry's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    /// The best variant's score.
    Max,
    /// The best variant's score plus `weight` times the mean of the next `n` variants' scores
    /// (missing variants count 0; `n` is at most 3), not divided: corroborating variants add
    /// to the best one, and an entry with one matching variant keeps its best score.
    MaxWithBonus { n: usize, weight: f64 },
}

/// The knobs of the answerer. [`Default`] holds the measured defaults (the `kb_bench` example
/// measures them on Banking77 and CLINC150): k1 0.9, b 0.75, entries ranked by
/// `max + 2 · mean(next 3 variants)`, an answer when the best question scores at least 0.5 and
/// its entry leads the runner-up by at least 0.2, stemming and stop words on.
#[derive(Debug, Clone, PartialEq)]
pub struct KbSettings {
    /// BM25 term-frequency saturation.
    pub k1: f64,
    /// BM25 length normalisation (0: none, 1: full).
    pub b: f64,
    /// The least score (see the module docs) the best entry's best question needs for an
    /// answer.
    pub threshold: f64,
    /// The least lead of the best entry's (aggregated) score over the runner-up's for an
    /// answer.
    pub margin: f64,
    /// How variant scores make an entry score.
    pub aggregation: Aggregation,
    /// Also index each entry's answer text as one more variant.
    pub index_answers: bool,
    /// Light English stemming (plural `-s/-es/-ies`, `-ing`, `-ed`, final `-e`).
    pub stemming: bool,
    /// Drop a small list of English function words.
    pub stop_words: bool,
}

impl Default for KbSettings {
    fn default() -> Self {
        Self {
            k1: 0.9,
            b: 0.75,
            threshold: 0.5,
            margin: 0.2,
            aggregation: Aggregation::MaxWithBonus { n: 3, weight: 2.0 },
            index_answers: false,
            stemming: true,
            stop_words: true,
        }
    }
}

/// Why the knowledge base did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMatchReason {
    /// Nothing to compare: the knowledge base has no enabled entry (for the language), or the
    /// query has no words.
    Empty,
    /// The best entry's score is under [`KbSettings::threshold`].
    BelowThreshold,
    /// The best entry does not lead the runner-up by [`KbSettings::margin`].
    Ambiguous,
}

/// What [`KnowledgeBase::answer`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum KbOutcome {
    /// One entry answers the query: its score cleared the threshold and led the runner-up by
    /// the margin.
    Answer {
        entry_id: String,
        answer: String,
        /// The best question's score (what the threshold compares).
        score: f64,
        /// The entry's lead over the runner-up (what the margin compares).
        margin: f64,
        /// The question variant that scored best.
        matched_question: String,
    },
    /// No answer; hand the question on (to a model or a person).
    NoMatch {
        /// The best entry's best question's score (0 when there is none).
        best_score: f64,
        reason: NoMatchReason,
    },
}

/// One retrieved entry, for a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entry_id: String,
    /// The question variant that scored best.
    pub question: String,
    pub answer: String,
    /// The entry's aggregate score (what ranks entries; see the module docs).
    pub score: f64,
    /// The best question's own score (what the threshold compares; equal to `score` with
    /// [`Aggregation::Max`]).
    pub question_score: f64,
}

struct Entry {
    id: String,
    answer: String,
    questions: Vec<String>,
    /// The primary language subtag, lower-case; `None`: any language.
    language: Option<String>,
}

#[derive(Clone, Copy)]
struct Doc {
    entry: u32,
    /// Index into the entry's questions; `u32::MAX`: the answer text.
    variant: u32,
    /// `k1 · (1 − b + b · len / avglen)`, BM25's per-document denominator term.
    norm: f32,
}

#[derive(Clone, Copy)]
struct Posting {
    doc: u32,
    tf: f32,
}

/// An immutable index of the enabled FAQ entries.
///
/// Guarantees: `Send + Sync` and read-only after [`build`](Self::build), so one `Arc` serves
/// every thread; answers are deterministic (ties go to the entry listed first); a query costs
/// time proportional to the postings of its words (well under a millisecond for 15,000
/// questions).
pub struct KnowledgeBase {
    settings: KbSettings,
    entries: Vec<Entry>,
    docs: Vec<Doc>,
    terms: HashMap<Box<str>, u32>,
    /// Postings of term `t`: `postings[offsets[t]..offsets[t + 1]]`.
    offsets: Vec<u32>,
    postings: Vec<Posting>,
    idf: Vec<f32>,
    /// The idf of a term in no document.
    idf_unknown: f64,
}

impl fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("entries", &self.entries.len())
            .field("documents", &self.docs.len())
            .field("terms", &self.terms.len())
            .field("settings", &self.settings)
            .finish()
    }
}

impl KnowledgeBase {
    /// Indexes the enabled entries with the default settings.
    pub fn build(entries: &[FaqEntry]) -> Self {
        Self::build_with(entries, KbSettings::default())
    }

    /// Indexes the enabled entries: each question variant (and, with
    /// [`KbSettings::index_answers`], the answer) is a document pointing at its entry.
    pub fn build_with(entries: &[FaqEntry], settings: KbSettings) -> Self {
        let mut kept = Vec::new();
        let mut docs = Vec::new();
        let mut terms: HashMap<Box<str>, u32> = HashMap::new();
        let mut per_term: Vec<Vec<Posting>> = Vec::new();
        let mut lengths = Vec::new();
        let mut counts: Vec<(u32, u32)> = Vec::new();
        let mut tokens = Tokens::new(&settings);
        for e in entries.iter().filter(|e| e.enabled) {
            let entry = u32::try_from(kept.len()).expect("fewer than 4 billion entries");
            let answer = settings.index_answers.then_some(e.answer.as_str());
            let texts = e.questions.iter().map(String::as_str).chain(answer);
            for (variant, text) in texts.enumerate() {
                counts.clear();
                tokens.each(text, |tok| {
                    let next = u32::try_from(terms.len()).expect("fewer than 4 billion terms");
                    let t = *terms.entry(tok.into()).or_insert(next);
                    if t == next {
                        per_term.push(Vec::new());
                    }
                    match counts.iter_mut().find(|(term, _)| *term == t) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((t, 1)),
                    }
                });
                if counts.is_empty() {
                    continue;
                }
                let doc = u32::try_from(docs.len()).expect("fewer than 4 billion documents");
                for &(t, n) in &counts {
                    per_term[t as usize].push(Posting { doc, tf: n as f32 });
                }
                lengths.push(counts.iter().map(|&(_, n)| n).sum::<u32>());
                let variant = if variant < e.questions.len() {
                    u32::try_from(variant).expect("fewer than 4 billion questions")
                } else {
                    u32::MAX
                };
                docs.push(Doc {
                    entry,
                    variant,
                    norm: 0.0,
                });
            }
            kept.push(Entry {
                id: e.id.clone(),
                answer: e.answer.clone(),
                questions: e.questions.clone(),
                language: e
                    .language
                    .as_ref()
                    .map(|l| l.primary().to_ascii_lowercase()),
            });
        }
        let n = docs.len() as f64;
        let avg = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / n.max(1.0);
        for (d, &len) in docs.iter_mut().zip(&lengths) {
            let rel = if avg > 0.0 { f64::from(len) / avg } else { 1.0 };
            d.norm = (settings.k1 * (1.0 - settings.b + settings.b * rel)) as f32;
        }
        let idf_of = |df: f64| (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        let mut offsets = Vec::with_capacity(per_term.len() + 1);
        let mut postings = Vec::with_capacity(per_term.iter().map(Vec::len).sum());
        let mut idf = Vec::with_capacity(per_term.len());
        offsets.push(0);
        for list in per_term {
            idf.push(idf_of(list.len() as f64) as f32);
            postings.extend(list);
            offsets.push(u32::try_from(postings.len()).expect("fewer than 4 billion postings"));
        }
        Self {
            idf_unknown: idf_of(0.0),
            settings,
            entries: kept,
            docs,
            terms,
            offsets,
            postings,
            idf,
        }
    }

    /// The settings the index was built with.
    pub fn settings(&self) -> &KbSettings {
        &self.settings
    }

    /// How many enabled entries are indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no enabled entry is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many documents (question variants, plus answers when indexed) are indexed.
    pub fn documents(&self) -> usize {
        self.docs.len()
    }

    /// Answers `query` from one entry, or says why not. With `language` (a tag such as `ru` or
    /// `pt-BR`), entries of another language are left out; entries without a language always
    /// take part.
    pub fn answer(&self, query: &str, language: Option<&str>) -> KbOutcome {
        let ranked = self.rank(query, language, 2);
        let Some((best, rest)) = ranked.split_first() else {
            return KbOutcome::NoMatch {
                best_score: 0.0,
                reason: NoMatchReason::Empty,
            };
        };
        let margin = best.score - rest.first().map_or(0.0, |r| r.score);
        if best.question_score < self.settings.threshold {
            return KbOutcome::NoMatch {
                best_score: best.question_score,
                reason: NoMatchReason::BelowThreshold,
            };
        }
        if margin < self.settings.margin {
            return KbOutcome::NoMatch {
                best_score: best.question_score,
                reason: NoMatchReason::Ambiguous,
            };
        }
        let entry = &self.entries[best.entry as usize];
        KbOutcome::Answer {
            entry_id: entry.id.clone(),
            answer: entry.answer.clone(),
            score: best.question_score,
            margin,
            matched_question: self.text_of(best.doc).to_owned(),
        }
    }

    /// The `k` best entries for `query` in any language, best first, scored as for
    /// [`answer`](Self::answer) (entries no query word occurs in are left out).
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.search_in(query, None, k)
    }

    /// [`search`](Self::search) restricted to `language` as for [`answer`](Self::answer).
    pub fn search_in(&self, query: &str, language: Option<&str>, k: usize) -> Vec<Hit> {
        self.rank(query, language, k)
            .into_iter()
            .map(|r| {
                let entry = &self.entries[r.entry as usize];
                Hit {
                    entry_id: entry.id.clone(),
                    question: self.text_of(r.doc).to_owned(),
                    answer: entry.answer.clone(),
                    score: r.score,
                    question_score: r.question_score,
                }
            })
            .collect()
    }

    fn text_of(&self, doc: u32) -> &str {
        let d = self.docs[doc as usize];
        let entry = &self.entries[d.entry as usize];
        match entry.questions.get(d.variant as usize) {
            Some(q) => q,
            None => &entry.answer,
        }
    }

    fn rank(&self, query: &str, language: Option<&str>, k: usize) -> Vec<Ranked> {
        if self.docs.is_empty() || k == 0 {
            return Vec::new();
        }
        let mut query_terms: Vec<u32> = Vec::new();
        let mut weight = 0.0;
        let mut unknown: Vec<String> = Vec::new();
        Tokens::new(&self.settings).each(query, |tok| match self.terms.get(tok) {
            Some(&t) if !query_terms.contains(&t) => {
                query_terms.push(t);
                weight += f64::from(self.idf[t as usize]);
            }
            Some(_) => {}
            None if !unknown.iter().any(|u| u == tok) => {
                unknown.push(tok.to_owned());
                weight += self.idf_unknown;
            }
            None => {}
        });
        if weight <= 0.0 {
            return Vec::new();
        }
        let k1 = self.settings.k1 as f32;
        let mut scores = vec![0f32; self.docs.len()];
        let mut touched: Vec<u32> = Vec::new();
        for &t in &query_terms {
            let idf = self.idf[t as usize];
            let range = self.offsets[t as usize] as usize..self.offsets[t as usize + 1] as usize;
            for p in &self.postings[range] {
                let s = &mut scores[p.doc as usize];
                if *s == 0.0 {
                    touched.push(p.doc);
                }
                let norm = self.docs[p.doc as usize].norm;
                *s += idf * p.tf * (k1 + 1.0) / (p.tf + norm);
            }
        }
        let language = language.map(primary_language);
        let allowed = |entry: &Entry| match (&language, &entry.language) {
            (Some(q), Some(e)) => q == e,
            _ => true,
        };
        let next = match self.settings.aggregation {
            Aggregation::Max => 0,
            Aggregation::MaxWithBonus { n, .. } => n.min(MAX_NEXT),
        };
        // Per entry: the best document and its best scores, best first.
        let mut acc = vec![Acc::default(); self.entries.len()];
        let mut entries: Vec<u32> = Vec::new();
        for &d in &touched {
            let doc = self.docs[d as usize];
            let a = &mut acc[doc.entry as usize];
            if a.len == 0 {
                if !allowed(&self.entries[doc.entry as usize]) {
                    continue;
                }
                entries.push(doc.entry);
            }
            let s = scores[d as usize];
            let len = a.len as usize;
            let pos = a.top[..len].partition_point(|&x| x >= s);
            if pos <= next {
                if pos == 0 {
                    a.doc = d;
                }
                let end = (len + 1).min(next + 1);
                a.top.copy_within(pos..end - 1, pos + 1);
                a.top[pos] = s;
                a.len = end as u8;
            }
        }
        let mut ranked: Vec<Ranked> = entries
            .into_iter()
            .map(|entry| {
                let a = &acc[entry as usize];
                let raw = match self.settings.aggregation {
                    Aggregation::Max => f64::from(a.top[0]),
                    Aggregation::MaxWithBonus { weight, .. } => {
                        let rest: f64 =
                            a.top[1..a.len as usize].iter().map(|&x| f64::from(x)).sum();
                        f64::from(a.top[0]) + weight * rest / next.max(1) as f64
                    }
                };
                Ranked {
                    entry,
                    doc: a.doc,
                    score: raw / weight,
                    question_score: f64::from(a.top[0]) / weight,
                }
            })
            .collect();
        let order = |a: &Ranked, b: &Ranked| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.entry.cmp(&b.entry))
        };
        if ranked.len() > k {
            ranked.select_nth_unstable_by(k - 1, order);
            ranked.truncate(k);
        }
        ranked.sort_unstable_by(order);
        ranked
    }
}

/// The most further variants [`Aggregation::MaxWithBonus`] looks at.
const MAX_NEXT: usize = 3;

#[derive(Clone, Copy, Default)]
struct Acc {
    doc: u32,
    len: u8,
    top: [f32; MAX_NEXT + 1],
}

struct Ranked {
    entry: u32,
    doc: u32,
    score: f64,
    question_score: f64,
}

fn primary_language(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// English function words the index ignores (after folding, before stemming).
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did",
    "i", "me", "my", "mine", "you", "your", "we", "our", "us", "it", "its", "this", "that",
    "these", "those", "to", "of", "in", "on", "at", "for", "with", "and", "or", "but", "so", "as",
    "by", "from", "there", "here", "please", "hi", "hello", "hey", "can", "could", "would",
    "should", "will", "shall", "may", "might", "s", "t", "m", "d", "ll", "re", "ve", "im", "just",
    "some", "any", "about", "also", "yes", "ok", "okay", "thanks", "thank",
];

/// The tokeniser: folded words split on non-word characters; unspaced scripts as character
/// bigrams; numbers kept.
struct Tokens {
    stemming: bool,
    stop_words: bool,
    folded: String,
    word: String,
    run: Vec<char>,
}

impl Tokens {
    fn new(settings: &KbSettings) -> Self {
        Self {
            stemming: settings.stemming,
            stop_words: settings.stop_words,
            folded: String::new(),
            word: String::new(),
            run: Vec::new(),
        }
    }

    /// Calls `f` with each token of `text`.
    fn each(&mut self, text: &str, mut f: impl FnMut(&str)) {
        self.folded.clear();
        for c in text.chars() {
            fold_char(c, &mut self.folded);
        }
        let folded = std::mem::take(&mut self.folded);
        for c in folded.chars() {
            if is_unspaced(c) {
                self.flush_word(&mut f);
                self.run.push(c);
            } else if is_word_char(c) {
                self.flush_run(&mut f);
                self.word.push(c);
            } else {
                self.flush_word(&mut f);
                self.flush_run(&mut f);
            }
        }
        self.flush_word(&mut f);
        self.flush_run(&mut f);
        self.folded = folded;
    }

    fn flush_word(&mut self, f: &mut impl FnMut(&str)) {
        if self.word.is_empty() {
            return;
        }
        if !(self.stop_words && STOP_WORDS.contains(&self.word.as_str())) {
            if self.stemming {
                f(stem(&self.word));
            } else {
                f(&self.word);
            }
        }
        self.word.clear();
    }

    fn flush_run(&mut self, f: &mut impl FnMut(&str)) {
        let mut buf = [0u8; 8];
        match self.run.len() {
            0 => {}
            1 => f(self.run[0].encode_utf8(&mut buf)),
            _ => {
                for pair in self.run.windows(2) {
                    let mut s = String::with_capacity(8);
                    s.push(pair[0]);
                    s.push(pair[1]);
                    f(&s);
                }
            }
        }
        self.run.clear();
    }
}

/// Light English stemming of an ASCII word; other words are returned as they are.
fn stem(word: &str) -> &str {
    // Irregular outcomes (`-ies` → `-y`) would need an allocation; instead, both `-ies` and
    // `-y` map onto the stem without the `y`/`ies` (`charges`/`charge` → `charg`).
    if word.len() <= 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word;
    }
    let mut w = word;
    if let Some(s) = w.strip_suffix("ies").filter(|s| s.len() >= 2) {
        w = s;
    } else if let Some(s) = w.strip_suffix("ied").filter(|s| s.len() >= 2) {
        w = s;
    } else if w.ends_with("sses") {
        w = &w[..w.len() - 2];
    } else if let Some(s) = w
        .strip_suffix("es")
        .filter(|s| ["s", "x", "z", "ch", "sh"].iter().any(|e| s.ends_with(e)))
    {
        w = s;
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w = &w[..w.len() - 1];
    } else if let Some(s) = w
        .strip_suffix("ing")
        .filter(|s| s.len() >= 3 && has_vowel(s))
    {
        w = undouble(s);
    } else if let Some(s) = w
        .strip_suffix("ed")
        .filter(|s| s.len() >= 3 && has_vowel(s) && !s.ends_with('e'))
    {
        w = undouble(s);
    }
    if w.len() > 3 {
        if let Some(s) = w.strip_suffix('e') {
            w = s;
        } else if let Some(s) = w.strip_suffix('y') {
            w = s;
        }
    }
    w
}

fn has_vowel(s: &str) -> bool {
    s.bytes().any(|b| b"aeiouy".contains(&b))
}

fn undouble(s: &str) -> &str {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 2 && b[n - 1] == b[n - 2] && !b"aeiouslz".contains(&b[n - 1]) {
        &s[..n - 1]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use omnidesk_domain::{LanguageTag, Timestamp};

    use super::*;

    fn entry(id: &str, questions: &[&str], answer: &str, language: Option<&str>) -> FaqEntry {
        FaqEntry {
            id: id.to_owned(),
            questions: questions.iter().map(|q| (*q).to_owned()).collect(),
            answer: answer.to_owned(),
            language: language.map(|l| LanguageTag::parse(l).expect("a tag")),
            enabled: true,
            updated_at: Timestamp::from_millis(0),
        }
    }

    fn shop() -> Vec<FaqEntry> {
        vec![
            entry(
                "faq_delivery",
                &[
                    "How long does delivery take?",
                    "When will my order arrive?",
                    "What are the shipping times?",
                ],
                "Orders arrive in 3–5 working days.",
                Some("en"),
            ),
            entry(
                "faq_refund",
                &[
                    "What is your refund policy?",
                    "Can I get my money back?",
                    "How do refunds work?",
                ],
                "Refunds are possible within 30 days of delivery.",
                Some("en"),
            ),
            entry(
                "faq_hours",
                &["What are your opening hours?", "When are you open?"],
                "We are open 9:00–18:00, Monday to Friday.",
                Some("en"),
            ),
            entry(
                "faq_password",
                &[
                    "How do I reset my password?",
                    "I forgot my password",
                    "Can't log in, password not working",
                ],
                "Use “Forgot password” on the sign-in page.",
                Some("en"),
            ),
            entry(
                "faq_payment",
                &[
                    "Which payment methods do you accept?",
                    "Can I pay with PayPal?",
                ],
                "Cards, PayPal and bank transfer.",
                Some("en"),
            ),
            entry(
                "faq_cancel",
                &["How do I cancel my order?", "Cancel an order I placed"],
                "Orders can be cancelled until they ship.",
                Some("en"),
            ),
            entry(
                "faq_address",
                &[
                    "How do I change my delivery address?",
                    "Update shipping address",
                ],
                "Change it in your account until the order ships.",
                Some("en"),
            ),
            entry(
                "faq_warranty",
                &[
                    "Is there a warranty?",
                    "How long is the guarantee on products?",
                ],
                "Two years on every product.",
                None,
            ),
            entry(
                "faq_delivery_ru",
                &["Сколько идёт доставка?", "Когда придёт мой заказ?"],
                "Доставка занимает 3–5 рабочих дней.",
                Some("ru"),
            ),
            entry(
                "faq_refund_zh",
                &["怎么退款？", "可以退货退款吗？"],
                "收货后30天内可以退款。",
                Some("zh"),
            ),
        ]
    }

    fn answered(outcome: &KbOutcome) -> Option<&str> {
        match outcome {
            KbOutcome::Answer { entry_id, .. } => Some(entry_id),
            KbOutcome::NoMatch { .. } => None,
        }
    }

    #[test]
    fn a_paraphrase_gets_the_right_entry() {
        let kb = KnowledgeBase::build(&shop());
        for (query, id) in [
            ("how long will delivery of my order take", "faq_delivery"),
            ("I want my money back", "faq_refund"),
            ("when do you open?", "faq_hours"),
            ("forgot password, how to reset it?", "faq_password"),
            ("can I pay using paypal", "faq_payment"),
            ("I need to cancel the order", "faq_cancel"),
            ("changing the shipping address", "faq_address"),
            ("сколько дней доставка?", "faq_delivery_ru"),
            ("可以退款吗", "faq_refund_zh"),
        ] {
            assert_eq!(answered(&kb.answer(query, None)), Some(id), "{query}");
        }
    }

    #[test]
    fn an_unrelated_question_is_no_match() {
        let kb = KnowledgeBase::build(&shop());
        for query in [
            "What's the weather like in Paris?",
            "Do you sell garden furniture made of teak?",
            "!!!",
            "",
        ] {
            assert!(
                matches!(kb.answer(query, None), KbOutcome::NoMatch { .. }),
                "{query}"
            );
        }
        assert_eq!(
            kb.answer("", None),
            KbOutcome::NoMatch {
                best_score: 0.0,
                reason: NoMatchReason::Empty
            }
        );
    }

    #[test]
    fn two_near_identical_entries_are_ambiguous() {
        let mut entries = shop();
        entries.push(entry(
            "faq_refund_copy",
            &["What is your refund policy?", "How do refunds work?"],
            "See the refund page.",
            Some("en"),
        ));
        let kb = KnowledgeBase::build(&entries);
        assert!(matches!(
            kb.answer("what is the refund policy", None),
            KbOutcome::NoMatch {
                reason: NoMatchReason::Ambiguous,
                ..
            }
        ));
    }

    #[test]
    fn disabled_entries_are_ignored() {
        let mut entries = shop();
        for e in &mut entries {
            e.enabled = e.id != "faq_hours";
        }
        let kb = KnowledgeBase::build(&entries);
        assert_eq!(kb.len(), 9);
        assert_eq!(
            answered(&kb.answer("what are your opening hours", None)),
            None
        );
        assert!(
            kb.search("opening hours", 10)
                .iter()
                .all(|h| h.entry_id != "faq_hours")
        );
    }

    #[test]
    fn the_query_language_filters_entries_of_other_languages() {
        let mut entries = shop();
        entries.push(entry(
            "faq_delivery_es",
            &["¿Cuánto tarda el envío?"],
            "De 3 a 5 días.",
            Some("es"),
        ));
        entries.push(entry(
            "faq_delivery_pt",
            &["Quanto tarda o envio?"],
            "De 3 a 5 dias.",
            Some("pt"),
        ));
        let kb = KnowledgeBase::build(&entries);
        assert_eq!(
            answered(&kb.answer("cuanto tarda el envio", Some("es-MX"))),
            Some("faq_delivery_es")
        );
        assert_eq!(
            answered(&kb.answer("quanto tarda o envio", Some("pt-BR"))),
            Some("faq_delivery_pt")
        );
        // An entry without a language answers in every language.
        assert_eq!(
            answered(&kb.answer("warranty?", Some("de"))),
            Some("faq_warranty")
        );
        assert_eq!(answered(&kb.answer("refund policy", Some("ru"))), None);
    }

    #[test]
    fn an_empty_knowledge_base_is_no_match_empty() {
        let kb = KnowledgeBase::build(&[]);
        assert!(kb.is_empty());
        assert_eq!(
            kb.answer("refund policy", None),
            KbOutcome::NoMatch {
                best_score: 0.0,
                reason: NoMatchReason::Empty
            }
        );
        assert!(kb.search("refund", 3).is_empty());
    }

    #[test]
    fn search_ranks_entries_best_first_with_their_best_question() {
        let kb = KnowledgeBase::build(&shop());
        let hits = kb.search("when does my order arrive", 3);
        assert_eq!(hits[0].entry_id, "faq_delivery");
        assert_eq!(hits[0].question, "When will my order arrive?");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(hits.len() <= 3);
    }

    #[test]
    fn an_exact_question_scores_about_one() {
        let kb = KnowledgeBase::build(&shop());
        let KbOutcome::Answer { score, .. } = kb.answer("How do I reset my password?", None) else {
            panic!("no answer");
        };
        assert!((0.8..1.5).contains(&score), "{score}");
    }

    #[test]
    fn stemming_joins_plurals_and_verb_forms() {
        for (a, b) in [
            ("charges", "charge"),
            ("charged", "charging"),
            ("transferred", "transfer"),
            ("topping", "top"),
            ("applies", "apply"),
            ("boxes", "box"),
            ("cards", "card"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("address"), "address");
    }

    #[test]
    fn unspaced_scripts_are_bigrams() {
        let mut out = Vec::new();
        Tokens::new(&KbSettings::default())
            .each("我想退款 iPhone 15", |t| out.push(t.to_owned()));
        assert_eq!(out, ["我想", "想退", "退款", "iphon", "15"]);
    }

    #[test]
    fn the_knowledge_base_is_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<KnowledgeBase>();
    }
}
