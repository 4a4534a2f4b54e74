//! Samples shipped by the `lingua-*-language-model` crates (1,000 single words, word pairs
//! and sentences per language), read from their `*_TESTDATA_DIRECTORY` constants. The data
//! stays in those dev-dependencies; nothing is copied into this repository.

use include_dir::Dir;

pub const LANGUAGES: &[(&str, Dir<'static>)] = &[
    (
        "en",
        lingua_english_language_model::ENGLISH_TESTDATA_DIRECTORY,
    ),
    (
        "zh",
        lingua_chinese_language_model::CHINESE_TESTDATA_DIRECTORY,
    ),
    (
        "ru",
        lingua_russian_language_model::RUSSIAN_TESTDATA_DIRECTORY,
    ),
    (
        "ar",
        lingua_arabic_language_model::ARABIC_TESTDATA_DIRECTORY,
    ),
    (
        "es",
        lingua_spanish_language_model::SPANISH_TESTDATA_DIRECTORY,
    ),
    (
        "pt",
        lingua_portuguese_language_model::PORTUGUESE_TESTDATA_DIRECTORY,
    ),
    (
        "de",
        lingua_german_language_model::GERMAN_TESTDATA_DIRECTORY,
    ),
    (
        "fr",
        lingua_french_language_model::FRENCH_TESTDATA_DIRECTORY,
    ),
    (
        "ja",
        lingua_japanese_language_model::JAPANESE_TESTDATA_DIRECTORY,
    ),
    (
        "ko",
        lingua_korean_language_model::KOREAN_TESTDATA_DIRECTORY,
    ),
    (
        "uk",
        lingua_ukrainian_language_model::UKRAINIAN_TESTDATA_DIRECTORY,
    ),
    (
        "tr",
        lingua_turkish_language_model::TURKISH_TESTDATA_DIRECTORY,
    ),
];

pub const CLASSES: &[(&str, &str)] = &[
    ("single words", "single-words.txt"),
    ("word pairs", "word-pairs.txt"),
    ("sentences", "sentences.txt"),
];

/// The allowlist the samples are judged against.
pub fn allowlist() -> Vec<&'static str> {
    LANGUAGES.iter().map(|(c, _)| *c).collect()
}

/// Non-empty lines of one class file of one language.
pub fn samples(dir: &Dir<'static>, file: &str) -> Vec<&'static str> {
    dir.get_file(file)
        .and_then(|f| f.contents_utf8())
        .unwrap_or_else(|| panic!("{file} missing from lingua test data"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}
