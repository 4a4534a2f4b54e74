//! Words: the text of a message is lower-cased and cut into words once per evaluation; keyword
//! words are numbered at parse time ([`Vocabulary`]), so a keyword check is a bit test (one
//! word) or a short scan of numbers (a phrase), never a string search per rule.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Calls `f` with each lower-cased word of `text`: a run of letters and digits, or a single
/// character of a script written without spaces, or a single emoji.
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::with_capacity(32);
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            if !b.is_ascii_alphanumeric() {
                i += 1;
                if !word.is_empty() {
                    f(&word);
                    word.clear();
                }
                continue;
            }
            // A run of ASCII letters and digits, taken whole.
            let start = i;
            let mut upper = false;
            while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_alphanumeric()) {
                upper |= b.is_ascii_uppercase();
                i += 1;
            }
            let run = text.get(start..i).unwrap_or_default();
            let word_goes_on = bytes.get(i).is_some_and(|b| !b.is_ascii());
            if word.is_empty() && !upper && !word_goes_on {
                f(run);
            } else {
                let from = word.len();
                word.push_str(run);
                word[from..].make_ascii_lowercase();
                if !word_goes_on {
                    f(&word);
                    word.clear();
                }
            }
            continue;
        }
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        i += c.len_utf8();
        if let Some(lower) = cyrillic_lowercase(c) {
            word.push(lower);
        } else if is_single_char_word(c) {
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            word.extend(c.to_lowercase());
            f(&word);
            word.clear();
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            f(&word);
            word.clear();
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

/// Russian, Ukrainian, Belarusian and Serbian letters lower-cased without the general Unicode
/// tables (messages in them are common here); `None` for any other character.
fn cyrillic_lowercase(c: char) -> Option<char> {
    let shift = match c {
        '\u{0410}'..='\u{042F}' => 0x20, // А–Я
        '\u{0400}'..='\u{040F}' => 0x50, // Ѐ–Џ (Ё, Є, І, Ї, Ў, Ђ, …)
        '\u{0430}'..='\u{045F}' => 0,    // а–я, ѐ–џ
        _ => return None,
    };
    char::from_u32(c as u32 + shift)
}

/// The words of `text`, lower-cased (for keywords, at parse time).
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_owned()));
    out
}

/// Scripts written without spaces between words (one character is taken as one word, so a
/// keyword matches as a substring within them), and emoji.
fn is_single_char_word(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x3134F  // CJK extensions B–G
        | 0x2600..=0x27BF    // miscellaneous symbols, dingbats
        | 0x1F000..=0x1FAFF  // emoji
    )
}

/// FNV-1a for the vocabulary's hash map: its keys are fixed by the rule file, so a message's
/// words cannot make lookups degrade, and it is faster than SipHash on short words.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Every word that appears in some keyword of a rule set, numbered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vocabulary {
    ids: HashMap<Box<str>, u32, BuildHasherDefault<Fnv>>,
    /// The longest word, in bytes: a longer word of a message is not looked up.
    longest: usize,
    /// Each word's length in bytes, by number.
    lengths: Vec<usize>,
}

/// A word of the message that is in no keyword.
const UNKNOWN: u32 = u32::MAX;

impl Vocabulary {
    /// The numbers of a keyword's words, adding new words.
    pub fn add(&mut self, words: &[String]) -> Box<[u32]> {
        words
            .iter()
            .map(|w| {
                self.longest = self.longest.max(w.len());
                let next = u32::try_from(self.ids.len()).unwrap_or(UNKNOWN - 1);
                *self.ids.entry(w.as_str().into()).or_insert_with(|| {
                    self.lengths.push(w.len());
                    next
                })
            })
            .collect()
    }

    /// How many words there are (numbers run from 0 to this).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The length in bytes of word `id` (longer words are rarer: keywords are found by their
    /// longest word).
    pub fn length(&self, id: u32) -> usize {
        self.lengths.get(id as usize).copied().unwrap_or(0)
    }

    /// A message's words as numbers, with the set of known words present.
    pub fn message(&self, text: &str) -> MessageWords {
        let mut ids = Vec::with_capacity((text.len() / 4).clamp(8, 1024));
        let mut present = vec![0u64; self.ids.len().div_ceil(64)];
        for_each_word(text, |w| {
            let id = if w.len() > self.longest {
                UNKNOWN
            } else {
                self.ids.get(w).copied().unwrap_or(UNKNOWN)
            };
            if id != UNKNOWN
                && let Some(slot) = present.get_mut((id / 64) as usize)
            {
                *slot |= 1 << (id % 64);
            }
            ids.push(id);
        });
        MessageWords { ids, present }
    }
}

/// A message's words as vocabulary numbers.
#[derive(Debug)]
pub(crate) struct MessageWords {
    ids: Vec<u32>,
    present: Vec<u64>,
}

impl MessageWords {
    /// The numbers of the vocabulary's words that the message has, each once.
    pub fn present(&self) -> impl Iterator<Item = u32> + '_ {
        self.present.iter().enumerate().flat_map(|(i, &slot)| {
            let base = u32::try_from(i * 64).unwrap_or(u32::MAX);
            Bits(slot).map(move |bit| base + bit)
        })
    }

    fn has(&self, id: u32) -> bool {
        self.present
            .get((id / 64) as usize)
            .is_some_and(|slot| slot & (1 << (id % 64)) != 0)
    }

    /// Whether the keyword's words occur consecutively.
    pub fn contains(&self, keyword: &[u32]) -> bool {
        match keyword {
            [] => false,
            [one] => self.has(*one),
            _ => {
                keyword.iter().all(|id| self.has(*id))
                    && self.ids.windows(keyword.len()).any(|w| w == keyword)
            }
        }
    }
}

/// The set bits of a word, lowest first.
pub(crate) struct Bits(pub u64);

impl Iterator for Bits {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_runs_of_letters_and_digits() {
        assert_eq!(
            words("Refund, please! Order #12345 — ВОЗВРАТ денег"),
            ["refund", "please", "order", "12345", "возврат", "денег"]
        );
        assert_eq!(words("don't"), ["don", "t"]);
        assert_eq!(
            words("Café au LAIT, naïve"),
            ["café", "au", "lait", "naïve"]
        );
        assert_eq!(words("x1Ж2y"), ["x1ж2y"]);
        assert_eq!(words("abc"), ["abc"]);
        assert!(words("!!! ... ---").is_empty());
    }

    /// The plain definition the fast tokeniser must agree with.
    fn reference_words(text: &str) -> Vec<String> {
        let (mut out, mut word) = (Vec::new(), String::new());
        for c in text.chars() {
            if is_single_char_word(c) || !c.is_alphanumeric() {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if is_single_char_word(c) {
                    out.push(c.to_lowercase().collect());
                }
            } else {
                word.extend(c.to_lowercase());
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    }

    #[test]
    fn the_fast_tokeniser_agrees_with_the_plain_definition() {
        let pool = [
            "a", "Z", "9", " ", "ж", "Ё", "Ґ", "!", "é", "É", "退", "👍", "-", "İ", "ß", "Σ", "\n",
            "x", "\u{0301}",
        ];
        let mut state: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pool[(state % pool.len() as u64) as usize]);
            }
            assert_eq!(words(&text), reference_words(&text), "{text:?}");
        }
    }

    #[test]
    fn cyrillic_is_lowered_like_unicode_does() {
        for c in '\u{0400}'..='\u{045F}' {
            let unicode: String = c.to_lowercase().collect();
            assert_eq!(
                cyrillic_lowercase(c).map(String::from),
                Some(unicode),
                "{c}"
            );
            assert!(c.is_alphanumeric(), "{c}");
        }
        assert_eq!(words("ЁЛКА Їжак ҐАНОК"), ["ёлка", "їжак", "ґанок"]);
    }

    #[test]
    fn spaceless_scripts_and_emoji_are_one_word_per_character() {
        assert_eq!(words("我要退款"), ["我", "要", "退", "款"]);
        assert_eq!(words("ok👍🏽!"), ["ok", "👍", "🏽"]);
    }

    #[test]
    fn a_phrase_matches_consecutive_words_only() {
        let mut vocab = Vocabulary::default();
        let phrase = vocab.add(&words("money back"));
        let single = vocab.add(&words("refund"));
        assert!(vocab.message("I want my Money, back!").contains(&phrase));
        assert!(!vocab.message("money is back").contains(&phrase));
        assert!(!vocab.message("back money").contains(&phrase));
        assert!(vocab.message("REFUND").contains(&single));
        assert!(!vocab.message("refunded").contains(&single));
    }
}
