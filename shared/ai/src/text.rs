//! Text helpers shared by the modules: case and diacritics folding, the classes of characters,
//! and a tiny phrase-pattern language for the keyword tables of [`crate::person`] and
//! [`crate::guard`].

/// Lower-cases `c` and strips its diacritics, pushing the result onto `out`.
///
/// Latin letters lose their accents (`é` → `e`, `ß` → `ss`, `ı` → `i`, `ł` → `l`), `ё` becomes
/// `е`, Arabic alef variants become a bare alef and Arabic vowel marks are dropped. Combining
/// marks (U+0300–U+036F) are dropped too, so decomposed input folds like precomposed input.
pub(crate) fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for l in c.to_lowercase() {
        match l {
            '\u{300}'..='\u{36f}' | '\u{64b}'..='\u{652}' | '\u{670}' => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            _ => out.push(base_letter(l)),
        }
    }
}

/// Folds a whole text (see [`fold_char`]).
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn base_letter(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ё' => 'е',
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        'ى' => 'ي',
        _ => c,
    }
}

/// Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar): the
/// knowledge base indexes them as character bigrams.
pub(crate) fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff      // hiragana, katakana (with the prolonged sound mark)
        | 0x31f0..=0x31ff    // katakana extensions
        | 0x3400..=0x4dbf    // CJK extension A
        | 0x4e00..=0x9fff    // CJK unified ideographs
        | 0xf900..=0xfaff    // CJK compatibility ideographs
        | 0x20000..=0x2ffff  // CJK extensions B–F
        | 0x0e00..=0x0eff    // Thai, Lao
        | 0x1000..=0x109f    // Myanmar
        | 0x1780..=0x17ff) // Khmer
}

/// A character that belongs to a word: letters and digits, and the combining marks of the
/// Indic and Southeast-Asian scripts (a Hindi vowel sign must not split a word).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || is_unspaced(c)
        || matches!(c as u32, 0x0900..=0x0dff | 0x0591..=0x05c7 | 0x0610..=0x061a)
}

/// A folded text split into words: `text` is the words joined by single spaces, `words` their
/// byte ranges in it.
#[derive(Debug)]
pub(crate) struct Words {
    pub(crate) text: String,
    pub(crate) words: Vec<(usize, usize)>,
}

impl Words {
    /// Folds `raw` and splits it on everything that is not a word character.
    pub(crate) fn new(raw: &str) -> Self {
        let mut text = String::with_capacity(raw.len() + 2);
        let mut words = Vec::new();
        let mut start = None;
        let mut folded = String::new();
        for c in raw.chars() {
            folded.clear();
            fold_char(c, &mut folded);
            for f in folded.chars() {
                if is_word_char(f) {
                    if start.is_none() {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        start = Some(text.len());
                    }
                    text.push(f);
                } else if let Some(s) = start.take() {
                    words.push((s, text.len()));
                }
            }
        }
        if let Some(s) = start {
            words.push((s, text.len()));
        }
        Self { text, words }
    }

    pub(crate) fn word(&self, i: usize) -> &str {
        let (s, e) = self.words[i];
        &self.text[s..e]
    }

    /// The text of words `start..end`.
    pub(crate) fn span(&self, start: usize, end: usize) -> &str {
        &self.text[self.words[start].0..self.words[end - 1].1]
    }

    /// How long the message is, in words; a run of an unspaced script counts one word per two
    /// characters.
    pub(crate) fn length(&self) -> usize {
        (0..self.words.len())
            .map(|i| {
                let w = self.word(i);
                let unspaced = w.chars().filter(|&c| is_unspaced(c)).count();
                if unspaced == 0 {
                    1
                } else {
                    unspaced.div_ceil(2) + usize::from(unspaced < w.chars().count())
                }
            })
            .sum()
    }

    /// The index of the word holding byte `at`.
    fn word_at(&self, at: usize) -> usize {
        self.words.partition_point(|&(_, e)| e <= at)
    }

    /// Whether `phrase` (already folded words joined by single spaces) occurs on word
    /// boundaries.
    pub(crate) fn contains_phrase(&self, phrase: &str) -> bool {
        let phrase = phrase.trim();
        if phrase.is_empty() {
            return false;
        }
        self.text.match_indices(phrase).any(|(i, _)| {
            let before = self.text[..i].chars().next_back();
            let after = self.text[i + phrase.len()..].chars().next();
            before.is_none_or(|c| c == ' ') && after.is_none_or(|c| c == ' ')
        })
    }
}

/// A range of word indexes `start..end` of a [`Words`].
pub(crate) type Span = (usize, usize);

/// One word of a [`Pattern`].
#[derive(Debug, Clone)]
pub(crate) enum WordPat {
    Exact(String),
    Prefix(String),
    Contains(String),
}

impl WordPat {
    fn matches(&self, word: &str) -> bool {
        match self {
            Self::Exact(p) => word == p,
            Self::Prefix(p) => word.starts_with(p.as_str()),
            Self::Contains(p) => word.contains(p.as_str()),
        }
    }
}

/// A phrase pattern of a keyword table, written as data:
///
/// - `talk|speak to a human`: words in a row; `|` separates alternatives for one word;
/// - `оператор*`: a word starting with `оператор` (inflections); `*موظف*`: a word containing it;
/// - `~转人工`: a substring anywhere (for scripts without spaces).
///
/// Patterns are folded like the text, so they may be written with accents and capitals.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Words(Vec<Vec<WordPat>>),
    Substring(String),
}

impl Pattern {
    pub(crate) fn parse(source: &str) -> Self {
        if let Some(sub) = source.strip_prefix('~') {
            return Self::Substring(fold(sub));
        }
        let folded = fold(source);
        let words = folded
            .split_whitespace()
            .map(|w| {
                w.split('|')
                    .map(|alt| {
                        let (lead, rest) = match alt.strip_prefix('*') {
                            Some(r) => (true, r),
                            None => (false, alt),
                        };
                        match (lead, rest.strip_suffix('*')) {
                            (true, Some(core)) => WordPat::Contains(core.to_owned()),
                            (true, None) => WordPat::Contains(rest.to_owned()),
                            (false, Some(core)) => WordPat::Prefix(core.to_owned()),
                            (false, None) => WordPat::Exact(rest.to_owned()),
                        }
                    })
                    .collect()
            })
            .collect();
        Self::Words(words)
    }

    /// Every match as a range of word indexes `start..end`.
    pub(crate) fn matches(&self, words: &Words) -> Vec<(usize, usize)> {
        match self {
            Self::Substring(s) if s.is_empty() => Vec::new(),
            Self::Substring(s) => words
                .text
                .match_indices(s.as_str())
                .map(|(i, m)| (words.word_at(i), words.word_at(i + m.len() - 1) + 1))
                .collect(),
            Self::Words(pats) if pats.is_empty() => Vec::new(),
            Self::Words(pats) => {
                let n = words.words.len();
                (0..n.saturating_sub(pats.len() - 1))
                    .filter(|&i| {
                        pats.iter().enumerate().all(|(j, alts)| {
                            let w = words.word(i + j);
                            alts.iter().any(|a| a.matches(w))
                        })
                    })
                    .map(|i| (i, i + pats.len()))
                    .collect()
            }
        }
    }
}

/// Parses a table of pattern sources.
pub(crate) fn patterns(sources: &[&str]) -> Vec<Pattern> {
    sources.iter().map(|s| Pattern::parse(s)).collect()
}

/// Every match of any of `patterns`.
pub(crate) fn all_matches(patterns: &[Pattern], words: &Words) -> Vec<(usize, usize)> {
    patterns.iter().flat_map(|p| p.matches(words)).collect()
}

/// The first pair of a match of `a` and a match of `b` at most `gap` words apart (`b` after
/// `a`, or either order when `ordered` is false), or overlapping (two substrings of one run of
/// an unspaced script), as the word range covering both.
pub(crate) fn near(
    a: &[(usize, usize)],
    b: &[(usize, usize)],
    gap: usize,
    ordered: bool,
) -> Option<(usize, usize)> {
    a.iter().find_map(|&(s1, e1)| {
        b.iter().find_map(|&(s2, e2)| {
            let forward = s2 >= e1 && s2 - e1 <= gap;
            let backward = !ordered && s1 >= e2 && s1 - e2 <= gap;
            // Both in one word: two substrings of a run of an unspaced script.
            let overlap = s1 < e2 && s2 < e1;
            (forward || backward || overlap).then(|| (s1.min(s2), e1.max(e2)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_strips_case_and_diacritics() {
        assert_eq!(
            fold("Opérateur ÄÖÜ ß Ёлка Çağrı"),
            "operateur aou ss елка cagri"
        );
        assert_eq!(fold("e\u{301}"), "e");
        assert_eq!(fold("إنسان"), "انسان");
    }

    #[test]
    fn words_split_on_punctuation_and_keep_unspaced_runs() {
        let w = Words::new("Talk to a HUMAN, please! 转人工");
        assert_eq!(w.text, "talk to a human please 转人工");
        assert_eq!(w.words.len(), 6);
        assert_eq!(w.length(), 7);
    }

    #[test]
    fn patterns_match_words_prefixes_and_substrings() {
        let w = Words::new("Позовите оператора, пожалуйста");
        assert_eq!(Pattern::parse("позов* оператор*").matches(&w), vec![(0, 2)]);
        assert!(Pattern::parse("оператор").matches(&w).is_empty());
        let w = Words::new("I want to talk to a real human");
        assert_eq!(
            Pattern::parse("talk|speak to a|an").matches(&w),
            vec![(3, 6)]
        );
        let w = Words::new("我要转人工");
        assert_eq!(Pattern::parse("~转人工").matches(&w), vec![(0, 1)]);
        let w = Words::new("أريد التحدث مع موظف");
        assert_eq!(Pattern::parse("*تحدث*").matches(&w), vec![(1, 2)]);
    }

    #[test]
    fn phrases_match_on_word_boundaries_only() {
        let w = Words::new("Delivery on 12 March.");
        assert!(w.contains_phrase("12 march"));
        assert!(!w.contains_phrase("2 march"));
    }
}
