//! Writing systems and per-language alphabets.

/// A writing system as far as language decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Latin,
    Cyrillic,
    Arabic,
    Greek,
    Hebrew,
    Thai,
    Devanagari,
    Han,
    Kana,
    Hangul,
    Other,
}

pub(crate) fn family_of(c: char) -> Family {
    match c as u32 {
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F | 0x3005 => Family::Kana,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Family::Hangul,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => Family::Han,
        0x0400..=0x052F => Family::Cyrillic,
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Family::Arabic
        }
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Family::Greek,
        0x0590..=0x05FF => Family::Hebrew,
        0x0E00..=0x0E7F => Family::Thai,
        0x0900..=0x097F => Family::Devanagari,
        0x0041..=0x024F | 0x1E00..=0x1EFF => Family::Latin,
        _ => Family::Other,
    }
}

pub(crate) fn family_of_code(code: &str) -> Family {
    match code {
        "ru" | "uk" | "be" | "bg" | "sr" | "mk" => Family::Cyrillic,
        "zh" => Family::Han,
        "ja" => Family::Kana,
        "ko" => Family::Hangul,
        "ar" | "fa" | "ur" => Family::Arabic,
        "he" => Family::Hebrew,
        "el" => Family::Greek,
        "th" => Family::Thai,
        "hi" => Family::Devanagari,
        _ => Family::Latin,
    }
}

/// Letters counted per writing system.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) latin: usize,
    pub(crate) cyrillic: usize,
    pub(crate) arabic: usize,
    pub(crate) greek: usize,
    pub(crate) hebrew: usize,
    pub(crate) thai: usize,
    pub(crate) devanagari: usize,
    pub(crate) han: usize,
    pub(crate) kana: usize,
    pub(crate) hangul: usize,
    pub(crate) other: usize,
}

impl Counts {
    pub(crate) fn total(&self) -> usize {
        self.latin
            + self.cyrillic
            + self.arabic
            + self.greek
            + self.hebrew
            + self.thai
            + self.devanagari
            + self.han
            + self.kana
            + self.hangul
            + self.other
    }

    /// The writing system that carries the text: CJK characters weigh double (one carries
    /// about a word), and any kana beside Han makes it Japanese.
    pub(crate) fn main_family(&self) -> Family {
        let weighted = [
            (Family::Kana, self.kana * 2),
            (Family::Hangul, self.hangul * 2),
            (Family::Han, self.han * 2),
            (Family::Cyrillic, self.cyrillic),
            (Family::Arabic, self.arabic),
            (Family::Greek, self.greek),
            (Family::Hebrew, self.hebrew),
            (Family::Thai, self.thai),
            (Family::Devanagari, self.devanagari),
            (Family::Latin, self.latin),
            (Family::Other, self.other),
        ];
        let mut best = (Family::Other, 0);
        for (f, n) in weighted {
            if n > best.1 {
                best = (f, n);
            }
        }
        if best.0 == Family::Han && self.kana > 0 {
            Family::Kana
        } else {
            best.0
        }
    }
}

pub(crate) fn count(text: &str) -> Counts {
    let mut c = Counts::default();
    for ch in text.chars().filter(|c| c.is_alphabetic()) {
        let slot = match family_of(ch) {
            Family::Latin => &mut c.latin,
            Family::Cyrillic => &mut c.cyrillic,
            Family::Arabic => &mut c.arabic,
            Family::Greek => &mut c.greek,
            Family::Hebrew => &mut c.hebrew,
            Family::Thai => &mut c.thai,
            Family::Devanagari => &mut c.devanagari,
            Family::Han => &mut c.han,
            Family::Kana => &mut c.kana,
            Family::Hangul => &mut c.hangul,
            Family::Other => &mut c.other,
        };
        *slot += 1;
    }
    c
}

/// Letters beyond a–z (Latin) or а–я (Cyrillic) that a language writes, and base letters it
/// does not write.
fn alphabet(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "en" | "id" => ("", ""),
        "es" => ("áéíóúüñ", ""),
        "pt" => ("áâãàçéêíóôõúü", ""),
        "de" => ("äöüß", ""),
        "fr" => ("àâæçéèêëîïôœùûüÿ", ""),
        "it" => ("àèéìíîòóù", ""),
        "nl" => ("áéíóúàèëïöüĳ", ""),
        "tr" => ("çğıöşüâîû", "qwx"),
        "pl" => ("ąćęłńóśźż", ""),
        "ro" => ("ăâîșşțţ", ""),
        "cs" => ("áčďéěíňóřšťúůýž", ""),
        "sv" => ("åäöé", ""),
        "da" | "nb" => ("æøåéóòô", ""),
        "fi" => ("äöåšž", ""),
        "hu" => ("áéíóöőúüű", ""),
        "ru" => ("ё", ""),
        "uk" => ("іїєґ", "ыэъё"),
        "be" => ("іўё", "ищъ"),
        "bg" => ("", "ыэё"),
        "sr" => ("ђјљњћџ", "щъыьэюяёй"),
        "mk" => ("ѓѕјљњќџ", "щъыьэюяёй"),
        _ => return None,
    })
}

/// Whether every Latin or Cyrillic letter of `lower` (lowercased text) belongs to the
/// language's alphabet. Languages without a listed alphabet fit everything.
pub(crate) fn fits(code: &str, lower: &str) -> bool {
    misfits(code, lower) == 0
}

/// Letters of the language's script in `lower` that its alphabet lacks.
pub(crate) fn misfits(code: &str, lower: &str) -> usize {
    let Some((extra, missing)) = alphabet(code) else {
        return 0;
    };
    let family = family_of_code(code);
    lower
        .chars()
        .filter(|&c| c.is_alphabetic() && family_of(c) == family)
        .filter(|&c| {
            let base = match family {
                Family::Cyrillic => ('а'..='я').contains(&c),
                _ => c.is_ascii_lowercase(),
            };
            let ok = (base && !missing.contains(c)) || extra.contains(c);
            !ok
        })
        .count()
}
