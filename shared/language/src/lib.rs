//! Language detection for inbound customer messages, built to hold on short chat text.
//!
//! The decision runs in this order: strip what is not language (URLs, e-mail addresses,
//! @handles, #hashtags, numbers and order ids, emoji, code in backticks); decide by script
//! where the script decides (kana → ja, Hangul → ko, Han → zh, Arabic, Greek, Hebrew, Thai,
//! Devanagari); narrow Cyrillic and Latin text to the allowed languages whose alphabet holds
//! every letter used (і ї є ґ → uk, ы э ъ ё → ru, ñ → es, ğ ş ı → tr, …); then weigh
//! character 1–3-gram log likelihoods distilled from lingua's models (en, es, pt, de, fr, tr,
//! ru, uk; ~100 kB each) with common function words. Other allowed languages of those scripts
//! fall back to `whatlang` statistics restricted to the candidates.
//! A statistical answer is trusted only on enough letters; otherwise the result is
//! [`Method::Unsure`] with the best guess, and a channel hint may settle it when the hint is
//! allowed and fits the text's script. [`settle`] keeps one language per conversation.
//!
//! [`protect()`] and [`restore`] keep the same non-linguistic spans (and glossary terms) out of a
//! machine translator's reach with numbered placeholders.
//!
//! Only the configured allowlist is ever returned. The crate is pure computation: it must
//! not depend on any I/O, runtime or other omnidesk crate, so every Lambda can link it.

mod alphabet;
mod ngram;
pub mod protect;
mod tokens;
mod words;

use alphabet::Family;
pub use protect::{Protected, ProtectedSpan, RestoreError, Terms, protect, protect_with, restore};
use whatlang::Lang;

/// Fewest letters on which a statistical detection may be called reliable.
pub const MIN_RELIABLE_LETTERS: usize = 12;
/// Fewest letters for one reliable message to switch a conversation's language at once.
pub const STRONG_LETTERS: usize = 40;

/// Least `whatlang` confidence for another Cyrillic language to overrule the Russian default
/// when no letter decides.
const CYRILLIC_LEAN: f64 = 0.2;

/// How a [`Detection`] was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The writing system (or letters only one allowed language uses) decided.
    Script,
    /// Trigram statistics and common words decided, on enough letters to trust.
    Statistics,
    /// The text was unsure or too short; the channel's hint, which fits its script, decided.
    Hint,
    /// The text was too short or ambiguous; `language` is only the best guess (if any).
    Unsure,
    /// No letters were left after stripping non-linguistic spans.
    Empty,
}

/// The outcome of [`Detector::detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// ISO 639-1 code, always one of the allowlist; `None` when nothing allowed fits.
    pub language: Option<String>,
    /// Whether the text itself is clear enough to act on (never true for a hint).
    pub reliable: bool,
    /// Letters left after stripping non-linguistic spans.
    pub letters: usize,
    pub method: Method,
}

/// One supported language: ISO 639-1 code, `whatlang` language, writing system.
#[derive(Debug, Clone, Copy)]
struct Spec {
    code: &'static str,
    lang: Lang,
    family: Family,
}

const SUPPORTED: &[(&str, Lang)] = &[
    ("en", Lang::Eng),
    ("es", Lang::Spa),
    ("pt", Lang::Por),
    ("de", Lang::Deu),
    ("fr", Lang::Fra),
    ("it", Lang::Ita),
    ("nl", Lang::Nld),
    ("tr", Lang::Tur),
    ("pl", Lang::Pol),
    ("ro", Lang::Ron),
    ("cs", Lang::Ces),
    ("sv", Lang::Swe),
    ("da", Lang::Dan),
    ("nb", Lang::Nob),
    ("fi", Lang::Fin),
    ("hu", Lang::Hun),
    ("id", Lang::Ind),
    ("vi", Lang::Vie),
    ("ru", Lang::Rus),
    ("uk", Lang::Ukr),
    ("be", Lang::Bel),
    ("bg", Lang::Bul),
    ("sr", Lang::Srp),
    ("mk", Lang::Mkd),
    ("zh", Lang::Cmn),
    ("ja", Lang::Jpn),
    ("ko", Lang::Kor),
    ("ar", Lang::Ara),
    ("fa", Lang::Pes),
    ("ur", Lang::Urd),
    ("he", Lang::Heb),
    ("el", Lang::Ell),
    ("th", Lang::Tha),
    ("hi", Lang::Hin),
];

fn spec(code: &str) -> Option<Spec> {
    SUPPORTED
        .iter()
        .find(|(c, _)| *c == code)
        .map(|&(code, lang)| Spec {
            code,
            lang,
            family: alphabet::family_of_code(code),
        })
}

/// The ISO 639-1 codes [`Detector::new`] accepts.
pub fn supported_codes() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().map(|(c, _)| *c)
}

/// A language detector restricted to the languages a team configures.
#[derive(Debug, Clone)]
pub struct Detector {
    codes: Vec<String>,
    specs: Vec<Spec>,
}

impl Detector {
    /// Builds a detector for ISO 639-1 codes such as `"en"`, `"zh"`, `"ru"` (case-insensitive,
    /// duplicates ignored). An empty list or an unknown code is an error naming it.
    pub fn new(allow: &[&str]) -> Result<Self, String> {
        let mut specs: Vec<Spec> = Vec::new();
        for raw in allow {
            let code = raw.trim().to_ascii_lowercase();
            let Some(s) = spec(&code) else {
                return Err(format!(
                    "unknown or unsupported language code {raw:?} (expected ISO 639-1, one of: {})",
                    supported_codes().collect::<Vec<_>>().join(", ")
                ));
            };
            if !specs.iter().any(|x| x.code == s.code) {
                specs.push(s);
            }
        }
        if specs.is_empty() {
            return Err("the language allowlist is empty".to_owned());
        }
        let codes = specs.iter().map(|s| s.code.to_owned()).collect();
        Ok(Self { codes, specs })
    }

    /// The allowed ISO 639-1 codes, in configuration order.
    pub fn allowed(&self) -> &[String] {
        &self.codes
    }

    fn allows(&self, code: &str) -> bool {
        self.specs.iter().any(|s| s.code == code)
    }

    /// Detects the language of one message. `hint` is the channel's language (Telegram
    /// `language_code`, browser language, `Content-Language`; a region such as `pt-BR` is
    /// ignored): a prior that decides only when the text is unsure, the hint is allowed and
    /// the text's script fits it. A clear text always beats the hint.
    pub fn detect(&self, text: &str, hint: Option<&str>) -> Detection {
        let stripped = strip_non_linguistic(text);
        let counts = alphabet::count(&stripped);
        let letters = counts.total();
        if letters == 0 {
            return Detection {
                language: None,
                reliable: false,
                letters,
                method: Method::Empty,
            };
        }
        let family = counts.main_family();
        let (language, reliable, method) = self.decide(&stripped, &counts, family);
        if !reliable && let Some(h) = hint.and_then(|h| self.fitting_hint(h, family)) {
            return Detection {
                language: Some(h.to_owned()),
                reliable: false,
                letters,
                method: Method::Hint,
            };
        }
        Detection {
            language: language.map(str::to_owned),
            reliable,
            letters,
            method,
        }
    }

    /// The allowed code of a hint whose script fits `family`.
    fn fitting_hint(&self, hint: &str, family: Family) -> Option<&'static str> {
        let primary = hint
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let s = self.specs.iter().find(|s| s.code == primary)?;
        let fits = s.family == family
            || (s.code == "ja" && family == Family::Han)
            || (s.code == "zh" && family == Family::Kana);
        fits.then_some(s.code)
    }

    fn in_family(&self, family: Family) -> Vec<Spec> {
        self.specs
            .iter()
            .copied()
            .filter(|s| s.family == family)
            .collect()
    }

    fn decide(
        &self,
        text: &str,
        counts: &alphabet::Counts,
        family: Family,
    ) -> (Option<&'static str>, bool, Method) {
        let script = |code: &'static str| -> (Option<&'static str>, bool, Method) {
            if self.allows(code) {
                (Some(code), true, Method::Script)
            } else {
                (None, false, Method::Unsure)
            }
        };
        match family {
            Family::Kana => script("ja"),
            Family::Hangul => script("ko"),
            Family::Han => {
                // Han without kana: Chinese, unless only Japanese is allowed. Kanji-only
                // Japanese exists (単語, 東京駅), so with both allowed a short text is unsure.
                match (self.allows("zh"), self.allows("ja")) {
                    (true, false) => script("zh"),
                    (false, true) => script("ja"),
                    (true, true) => {
                        let reliable = counts.han >= 8;
                        let method = if reliable {
                            Method::Script
                        } else {
                            Method::Unsure
                        };
                        (Some("zh"), reliable, method)
                    }
                    (false, false) => (None, false, Method::Unsure),
                }
            }
            Family::Other => (None, false, Method::Unsure),
            _ => {
                let candidates = self.in_family(family);
                match candidates.as_slice() {
                    [] => (None, false, Method::Unsure),
                    [one] if !matches!(family, Family::Latin | Family::Cyrillic) => {
                        (Some(one.code), true, Method::Script)
                    }
                    _ => self.statistics(text, counts, family, &candidates),
                }
            }
        }
    }

    fn statistics(
        &self,
        text: &str,
        counts: &alphabet::Counts,
        family: Family,
        candidates: &[Spec],
    ) -> (Option<&'static str>, bool, Method) {
        let lower = text.to_lowercase();
        // Narrow to the languages whose alphabet holds every letter of the text.
        // Long Latin text may quote a foreign word (café, Müller): there a misfit only weighs.
        let letters = counts.total();
        let strict = family == Family::Cyrillic || letters < STRONG_LETTERS;
        let fitting: Vec<Spec> = if strict {
            candidates
                .iter()
                .copied()
                .filter(|s| alphabet::fits(s.code, &lower))
                .collect()
        } else {
            Vec::new()
        };
        let pool: &[Spec] = if fitting.is_empty() {
            candidates
        } else {
            &fitting
        };
        if let [one] = pool {
            // Letters only one allowed language writes decide (і ї є ґ → uk, ñ → es).
            let decisive = family == Family::Cyrillic || letters >= MIN_RELIABLE_LETTERS;
            let method = if decisive {
                Method::Script
            } else {
                Method::Unsure
            };
            return (Some(one.code), decisive, method);
        }
        if pool.iter().all(|s| ngram::has(s.code)) {
            return self.ngrams(&lower, letters, pool, strict);
        }
        let detector = whatlang::Detector::with_allowlist(pool.iter().map(|s| s.lang).collect());
        let info = detector.detect(&lower);
        let codes: Vec<&'static str> = pool.iter().map(|s| s.code).collect();
        let word_scores = words::score(&lower, &codes);
        let mut best: Option<(&'static str, f64)> = None;
        let mut second = 0.0_f64;
        for s in pool {
            let mut score = word_scores
                .iter()
                .find(|(c, _)| *c == s.code)
                .map_or(0.0, |(_, w)| *w);
            if !strict {
                score -= 0.3 * alphabet::misfits(s.code, &lower) as f64;
            }
            if let Some(i) = &info
                && i.lang() == s.lang
            {
                score += 0.75 + i.confidence();
            }
            match best {
                Some((_, b)) if score <= b => second = second.max(score),
                _ => {
                    if let Some((_, b)) = best {
                        second = second.max(b);
                    }
                    best = Some((s.code, score));
                }
            }
        }
        let Some((code, top)) = best else {
            return (None, false, Method::Unsure);
        };
        if top <= 0.0 {
            // Nothing speaks for any candidate: prefer ru among Cyrillic, else the first allowed.
            let fallback = pool
                .iter()
                .find(|s| s.code == "ru")
                .unwrap_or(&pool[0])
                .code;
            return (Some(fallback), false, Method::Unsure);
        }
        let whatlang_agrees = info
            .as_ref()
            .is_some_and(|i| i.is_reliable() && spec(code).is_some_and(|s| s.lang == i.lang()));
        let has_words = word_scores.iter().any(|(c, w)| *c == code && *w > 0.0);
        let whatlang_leans = info.as_ref().is_some_and(|i| {
            i.confidence() >= CYRILLIC_LEAN && spec(code).is_some_and(|s| s.lang == i.lang())
        });
        if family == Family::Cyrillic
            && code != "ru"
            && !whatlang_leans
            && !has_words
            && pool.iter().any(|s| s.code == "ru")
        {
            // Weak statistics do not overrule Russian, the default among Cyrillic languages.
            return (Some("ru"), false, Method::Unsure);
        }
        let reliable = letters >= MIN_RELIABLE_LETTERS && (whatlang_agrees || top - second >= 2.0);
        let method = if reliable {
            Method::Statistics
        } else {
            Method::Unsure
        };
        (Some(code), reliable, method)
    }
}

impl Detector {
    /// Distilled n-gram likelihoods plus common words, for pools the n-gram tables cover.
    fn ngrams(
        &self,
        lower: &str,
        letters: usize,
        pool: &[Spec],
        strict: bool,
    ) -> (Option<&'static str>, bool, Method) {
        let codes: Vec<&'static str> = pool.iter().map(|s| s.code).collect();
        let word_scores = words::score(lower, &codes);
        let mut ranked: Vec<(&'static str, f64)> = pool
            .iter()
            .zip(&word_scores)
            .map(|(s, (_, w))| {
                let mut score = ngram::log_likelihood(s.code, lower) + WORD_WEIGHT * w;
                if !strict {
                    score -= 3.0 * alphabet::misfits(s.code, lower) as f64;
                }
                (s.code, score)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (code, top) = ranked[0];
        let margin = ranked.get(1).map_or(f64::INFINITY, |(_, s)| top - s);
        let reliable = letters >= MIN_RELIABLE_LETTERS && margin >= RELIABLE_MARGIN;
        let method = if reliable {
            Method::Statistics
        } else {
            Method::Unsure
        };
        (Some(code), reliable, method)
    }
}

/// Log-likelihood bonus per common function word.
const WORD_WEIGHT: f64 = 2.0;
/// Least log-likelihood lead (nats) of the best language for a reliable detection.
const RELIABLE_MARGIN: f64 = 6.0;

/// Removes spans that carry no language: URLs and bare domains, e-mail addresses, @handles,
/// #hashtags, numbers and order ids (`#1024`, `A-5521`), code in backticks, emoji and other
/// symbols. Words are re-joined with single spaces.
pub fn strip_non_linguistic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for gap in tokens::between(text.len(), &tokens::code_spans(text)) {
        let gap = &text[gap];
        for word in tokens::words(gap) {
            if word.non_linguistic.is_some() {
                continue;
            }
            let mut kept = String::with_capacity(word.run.len());
            for c in gap[word.run].chars() {
                if c.is_alphabetic() || c.is_ascii_punctuation() || is_word_mark(c) {
                    kept.push(c);
                } else {
                    kept.push(' ');
                }
            }
            for w in kept.split_whitespace() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            }
        }
    }
    out
}

/// Combining marks, apostrophes and CJK punctuation that belong to words.
fn is_word_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{2019}' | '\u{3000}'..='\u{303F}' | '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '\u{0E31}'..='\u{0E4E}' | '\u{0900}'..='\u{0903}' | '\u{093A}'..='\u{094F}' | '\u{064B}'..='\u{065F}')
}

/// The conversation's language after one message: `(language, pending)`, where `pending` is
/// a language seen once reliably and waiting for confirmation.
///
/// A conversation without a language takes the detection's (even an unsure guess or a hint).
/// It changes only on strong evidence: one reliable message of at least
/// [`STRONG_LETTERS`] letters, or two consecutive reliable detections of the same other
/// language. Unreliable detections change nothing; a reliable message in the current
/// language clears `pending`.
pub fn settle(
    current: Option<&str>,
    pending: Option<&str>,
    detection: &Detection,
) -> (Option<String>, Option<String>) {
    let keep = || (current.map(str::to_owned), pending.map(str::to_owned));
    let Some(lang) = detection.language.as_deref() else {
        return keep();
    };
    let Some(cur) = current else {
        return (Some(lang.to_owned()), None);
    };
    if !detection.reliable {
        return keep();
    }
    if lang == cur {
        return (Some(cur.to_owned()), None);
    }
    if detection.letters >= STRONG_LETTERS || pending == Some(lang) {
        return (Some(lang.to_owned()), None);
    }
    (Some(cur.to_owned()), Some(lang.to_owned()))
}
