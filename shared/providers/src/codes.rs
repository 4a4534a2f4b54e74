//! How each provider spells a language: our [`LanguageTag`]s (`en`, `pt-BR`, `zh-Hant`) to
//! DeepL's and Google's codes, and to the English names an LLM prompt uses.

use omnidesk_domain::LanguageTag;

/// The subtags after the primary language (`Hant`, `TW` in `zh-Hant-TW`).
fn subtags(tag: &LanguageTag) -> impl Iterator<Item = &str> {
    tag.as_str().split('-').skip(1)
}

fn has_subtag(tag: &LanguageTag, wanted: &[&str]) -> bool {
    subtags(tag).any(|s| wanted.contains(&s))
}

/// Chinese written in traditional characters: `zh-Hant`, or a region that writes them.
fn is_traditional_chinese(tag: &LanguageTag) -> bool {
    tag.primary() == "zh" && has_subtag(tag, &["Hant", "TW", "HK", "MO"])
}

/// DeepL's `target_lang`: `EN-US` (`EN-GB` for `en-GB`), `PT-BR` (`PT-PT` for `pt-PT`),
/// `ZH-HANS` (`ZH-HANT` for traditional Chinese), `NB` for Norwegian, else the upper-cased
/// primary subtag (`RU`, `DE`). DeepL refuses the bare `EN` and `PT` as targets.
pub fn deepl_target(tag: &LanguageTag) -> String {
    match tag.primary() {
        "en" if has_subtag(tag, &["GB"]) => "EN-GB".to_owned(),
        "en" => "EN-US".to_owned(),
        "pt" if has_subtag(tag, &["PT"]) => "PT-PT".to_owned(),
        "pt" => "PT-BR".to_owned(),
        "zh" if is_traditional_chinese(tag) => "ZH-HANT".to_owned(),
        "zh" => "ZH-HANS".to_owned(),
        "no" | "nn" => "NB".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// DeepL's `source_lang`: the upper-cased primary subtag (`EN`, `PT`, `ZH`); DeepL has no
/// regional source variants.
pub fn deepl_source(tag: &LanguageTag) -> String {
    match tag.primary() {
        "no" | "nn" => "NB".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// Google Cloud Translation's code (source and target): `zh-CN` / `zh-TW` for Chinese,
/// `pt-PT` for European Portuguese (`pt` is Brazilian), `he` for Hebrew, else the primary
/// subtag.
pub fn google_code(tag: &LanguageTag) -> String {
    match tag.primary() {
        "zh" if is_traditional_chinese(tag) => "zh-TW".to_owned(),
        "zh" => "zh-CN".to_owned(),
        "pt" if has_subtag(tag, &["PT"]) => "pt-PT".to_owned(),
        "iw" => "he".to_owned(),
        other => other.to_owned(),
    }
}

/// English names of the languages a prompt is likely to name, by primary subtag.
const NAMES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("az", "Azerbaijani"),
    ("be", "Belarusian"),
    ("bg", "Bulgarian"),
    ("bn", "Bengali"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("hu", "Hungarian"),
    ("hy", "Armenian"),
    ("id", "Indonesian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ka", "Georgian"),
    ("kk", "Kazakh"),
    ("ko", "Korean"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("ms", "Malay"),
    ("nb", "Norwegian"),
    ("nl", "Dutch"),
    ("no", "Norwegian"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("sr", "Serbian"),
    ("sv", "Swedish"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("zh", "Chinese"),
];

/// The English name of a language for an LLM prompt (`Russian`, `Brazilian Portuguese`,
/// `Traditional Chinese`); `None` for a language not in the list.
pub fn english_name(tag: &LanguageTag) -> Option<String> {
    let name = NAMES
        .iter()
        .find(|(code, _)| *code == tag.primary())
        .map(|(_, name)| *name)?;
    Some(match tag.primary() {
        "zh" if is_traditional_chinese(tag) => "Traditional Chinese".to_owned(),
        "zh" => "Simplified Chinese".to_owned(),
        "pt" if has_subtag(tag, &["BR"]) => "Brazilian Portuguese".to_owned(),
        "pt" if has_subtag(tag, &["PT"]) => "European Portuguese".to_owned(),
        "en" if has_subtag(tag, &["GB"]) => "British English".to_owned(),
        _ => name.to_owned(),
    })
}

/// The primary subtag of an English language name (`Russian` → `ru`), the inverse of
/// [`english_name`] for the names in the list.
pub fn code_of_english_name(name: &str) -> Option<&'static str> {
    let last = name.split_whitespace().last()?;
    NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(last))
        .map(|(code, _)| *code)
}

/// A provider's language code as a tag: `EN` → `en`, `zh-CN` → `zh-CN`, `ZH-HANS` →
/// `zh-Hans`. `None` for an empty or unparsable code (`auto`, `und`, …).
pub fn parse_detected(code: &str) -> Option<LanguageTag> {
    let code = code.trim();
    if code.is_empty() || code.eq_ignore_ascii_case("auto") || code.eq_ignore_ascii_case("und") {
        return None;
    }
    LanguageTag::parse(&code.to_ascii_lowercase()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> LanguageTag {
        LanguageTag::parse(s).unwrap()
    }

    #[test]
    fn deepl_targets_name_the_variant_and_sources_do_not() {
        let cases = [
            ("en", "EN-US", "EN"),
            ("en-GB", "EN-GB", "EN"),
            ("en-US", "EN-US", "EN"),
            ("pt", "PT-BR", "PT"),
            ("pt-PT", "PT-PT", "PT"),
            ("pt-BR", "PT-BR", "PT"),
            ("zh", "ZH-HANS", "ZH"),
            ("zh-Hant", "ZH-HANT", "ZH"),
            ("zh-TW", "ZH-HANT", "ZH"),
            ("zh-CN", "ZH-HANS", "ZH"),
            ("ru", "RU", "RU"),
            ("de-AT", "DE", "DE"),
            ("no", "NB", "NB"),
        ];
        for (t, target, source) in cases {
            assert_eq!(deepl_target(&tag(t)), target, "{t}");
            assert_eq!(deepl_source(&tag(t)), source, "{t}");
        }
    }

    #[test]
    fn google_codes_distinguish_chinese_scripts_and_european_portuguese() {
        let cases = [
            ("zh", "zh-CN"),
            ("zh-Hans", "zh-CN"),
            ("zh-Hant", "zh-TW"),
            ("zh-HK", "zh-TW"),
            ("pt", "pt"),
            ("pt-BR", "pt"),
            ("pt-PT", "pt-PT"),
            ("en-GB", "en"),
            ("ru", "ru"),
        ];
        for (t, code) in cases {
            assert_eq!(google_code(&tag(t)), code, "{t}");
        }
    }

    #[test]
    fn names_round_trip_and_detected_codes_parse_lower_case() {
        assert_eq!(english_name(&tag("ru")).as_deref(), Some("Russian"));
        assert_eq!(
            english_name(&tag("zh-TW")).as_deref(),
            Some("Traditional Chinese")
        );
        assert_eq!(english_name(&tag("xx")), None);
        assert_eq!(code_of_english_name("Traditional Chinese"), Some("zh"));
        assert_eq!(code_of_english_name("german"), Some("de"));
        assert_eq!(parse_detected("EN").unwrap().as_str(), "en");
        assert_eq!(parse_detected("zh-CN").unwrap().as_str(), "zh-CN");
        assert_eq!(parse_detected("ZH-HANS").unwrap().as_str(), "zh-Hans");
        assert_eq!(parse_detected(""), None);
        assert_eq!(parse_detected("auto"), None);
    }
}
