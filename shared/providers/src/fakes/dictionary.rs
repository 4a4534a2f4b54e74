//! The fakes' deterministic "translation": whole phrases and words of a small support-chat
//! dictionary for English ↔ Russian, Spanish, German and Chinese (other pairs through
//! English). Longest phrases win; words it does not know and `⟦n⟧` placeholders are kept as
//! they are; the case of a phrase's first letter follows the source.

/// The languages of [`ENTRIES`], in column order.
const LANGS: [&str; 5] = ["en", "ru", "es", "de", "zh"];

/// One phrase per language (`""`: none). Matching is case-insensitive; the output keeps the
/// case written here (German nouns), capitalised where the source was. Where two entries
/// share a translation, the earlier one is the way back.
const ENTRIES: &[[&str; 5]] = &[
    ["hello", "здравствуйте", "hola", "hallo", "你好"],
    ["hi", "привет", "hola", "hallo", "嗨"],
    [
        "good morning",
        "доброе утро",
        "buenos días",
        "guten Morgen",
        "早上好",
    ],
    [
        "good afternoon",
        "добрый день",
        "buenas tardes",
        "guten Tag",
        "下午好",
    ],
    [
        "good evening",
        "добрый вечер",
        "buenas noches",
        "guten Abend",
        "晚上好",
    ],
    ["goodbye", "до свидания", "adiós", "auf Wiedersehen", "再见"],
    [
        "where is my order",
        "где мой заказ",
        "dónde está mi pedido",
        "wo ist meine Bestellung",
        "我的订单在哪里",
    ],
    [
        "where is my package",
        "где моя посылка",
        "dónde está mi paquete",
        "wo ist mein Paket",
        "我的包裹在哪里",
    ],
    [
        "your order",
        "ваш заказ",
        "su pedido",
        "Ihre Bestellung",
        "您的订单",
    ],
    [
        "my order",
        "мой заказ",
        "mi pedido",
        "meine Bestellung",
        "我的订单",
    ],
    ["order", "заказ", "pedido", "Bestellung", "订单"],
    [
        "has been shipped",
        "отправлен",
        "ha sido enviado",
        "wurde versandt",
        "已发货",
    ],
    [
        "track it at",
        "отслеживайте его по ссылке",
        "sígalo en",
        "verfolgen Sie sie unter",
        "请在此跟踪",
    ],
    [
        "when will it arrive",
        "когда он прибудет",
        "cuándo llegará",
        "wann kommt es an",
        "什么时候到",
    ],
    [
        "i need help",
        "мне нужна помощь",
        "necesito ayuda",
        "ich brauche Hilfe",
        "我需要帮助",
    ],
    [
        "how can i help you",
        "чем я могу вам помочь",
        "cómo puedo ayudarle",
        "wie kann ich Ihnen helfen",
        "有什么可以帮您",
    ],
    [
        "thank you very much",
        "большое спасибо",
        "muchas gracias",
        "vielen Dank",
        "非常感谢",
    ],
    ["thank you", "спасибо", "gracias", "danke", "谢谢"],
    ["thanks", "спасибо", "gracias", "danke", "谢谢"],
    ["please", "пожалуйста", "por favor", "bitte", "请"],
    ["tomorrow", "завтра", "mañana", "morgen", "明天"],
    ["today", "сегодня", "hoy", "heute", "今天"],
    ["delivery", "доставка", "entrega", "Lieferung", "配送"],
    ["payment", "оплата", "pago", "Zahlung", "付款"],
    [
        "refund",
        "возврат денег",
        "reembolso",
        "Rückerstattung",
        "退款",
    ],
    ["sorry", "извините", "lo siento", "Entschuldigung", "抱歉"],
    ["help", "помощь", "ayuda", "Hilfe", "帮助"],
    ["yes", "да", "sí", "ja", "是"],
    ["no", "нет", "no", "nein", "不"],
    ["where", "где", "dónde", "wo", "哪里"],
    ["when", "когда", "cuándo", "wann", "什么时候"],
    ["and", "и", "y", "und", "和"],
];

/// What the fake made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTranslation {
    pub text: String,
    /// The source language (primary subtag, lower case): the one given, else detected.
    pub source: String,
}

/// Translates `text` from `source` (detected when `None`) into `target` (primary subtags,
/// any case). Same source and target: the text comes back unchanged.
pub fn translate(text: &str, source: Option<&str>, target: &str) -> FakeTranslation {
    let source = source
        .map(primary)
        .unwrap_or_else(|| detect(text).to_owned());
    let target = primary(target);
    let text = if source == target {
        text.to_owned()
    } else if source != "en" && target != "en" {
        let english = translate_pair(text, &source, "en");
        translate_pair(&english, "en", &target)
    } else {
        translate_pair(text, &source, &target)
    };
    FakeTranslation { text, source }
}

fn primary(code: &str) -> String {
    code.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The language of `text`: Cyrillic → `ru`, Han → `zh`, else the language whose dictionary
/// words it uses most (`es`, `de`), else `en`.
pub fn detect(text: &str) -> &'static str {
    if text.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')) {
        return "ru";
    }
    if text.chars().any(is_han) {
        return "zh";
    }
    let words: Vec<String> = tokenize(text)
        .iter()
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text.to_lowercase())
        .collect();
    let hits = |col: usize| {
        words
            .iter()
            .filter(|w| {
                ENTRIES
                    .iter()
                    .any(|e| e[col].split_whitespace().any(|p| p.to_lowercase() == **w))
            })
            .count()
    };
    let mut es = hits(2);
    let mut de = hits(3);
    if text.chars().any(|c| "ñ¿¡áéíóú".contains(c)) {
        es += 2;
    }
    if text.chars().any(|c| "äöüß".contains(c)) {
        de += 2;
    }
    let en = hits(0);
    if es > en && es >= de {
        "es"
    } else if de > en && de > es {
        "de"
    } else {
        "en"
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A run of letters and digits (not Han).
    Word,
    /// One Han character.
    Han,
    /// `⟦n⟧`.
    Placeholder,
    /// Whitespace and punctuation.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let kind = if c == '⟦' {
            let rest = &text[start + c.len_utf8()..];
            match rest.find('⟧') {
                Some(n) if n > 0 && rest[..n].chars().all(|d| d.is_ascii_digit()) => {
                    let end = start + c.len_utf8() + n + '⟧'.len_utf8();
                    while chars.peek().is_some_and(|(i, _)| *i < end) {
                        chars.next();
                    }
                    out.push(Token {
                        kind: Kind::Placeholder,
                        text: &text[start..end],
                    });
                    continue;
                }
                _ => Kind::Other,
            }
        } else if is_han(c) {
            Kind::Han
        } else if c.is_alphanumeric() {
            Kind::Word
        } else {
            Kind::Other
        };
        let mut end = start + c.len_utf8();
        if kind != Kind::Han {
            while let Some(&(i, next)) = chars.peek() {
                let same = match kind {
                    Kind::Word => {
                        (next.is_alphanumeric() && !is_han(next))
                            || (next == '\''
                                && text[i + 1..]
                                    .chars()
                                    .next()
                                    .is_some_and(char::is_alphanumeric))
                    }
                    _ => next != '⟦' && !next.is_alphanumeric(),
                };
                if !same {
                    break;
                }
                end = i + next.len_utf8();
                chars.next();
            }
        }
        out.push(Token {
            kind,
            text: &text[start..end],
        });
    }
    out
}

/// The phrases of language column `col`, as lower-case words (characters for Chinese),
/// longest first, each with its entry.
fn phrases(col: usize) -> Vec<(Vec<String>, usize)> {
    let mut out: Vec<(Vec<String>, usize)> = ENTRIES
        .iter()
        .enumerate()
        .filter(|(_, e)| !e[col].is_empty())
        .map(|(i, e)| {
            let words = if LANGS[col] == "zh" {
                e[col].chars().map(String::from).collect()
            } else {
                e[col].split_whitespace().map(str::to_lowercase).collect()
            };
            (words, i)
        })
        .collect();
    out.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
    out
}

/// The end (inclusive) of `words` matched from token `at`, if they match there: words in
/// Latin or Cyrillic script separated by whitespace only, Han characters adjacent.
fn match_at(tokens: &[Token<'_>], at: usize, words: &[String]) -> Option<usize> {
    let mut pos = at;
    for (k, word) in words.iter().enumerate() {
        let t = tokens.get(pos)?;
        if !matches!(t.kind, Kind::Word | Kind::Han) || t.text.to_lowercase() != *word {
            return None;
        }
        if k + 1 < words.len() {
            let next = tokens.get(pos + 1)?;
            pos = match next.kind {
                Kind::Han if t.kind == Kind::Han => pos + 1,
                Kind::Other if next.text.chars().all(char::is_whitespace) => pos + 2,
                _ => return None,
            };
        }
    }
    Some(pos)
}

/// One piece of the output.
struct Piece {
    text: String,
    /// A word or placeholder (not punctuation or whitespace).
    wordlike: bool,
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn translate_pair(text: &str, source: &str, target: &str) -> String {
    let (Some(from), Some(to)) = (
        LANGS.iter().position(|l| *l == source),
        LANGS.iter().position(|l| *l == target),
    ) else {
        return text.to_owned();
    };
    let tokens = tokenize(text);
    let phrases = phrases(from);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut sentence_start = true;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t.kind {
            Kind::Placeholder => {
                pieces.push(Piece {
                    text: t.text.to_owned(),
                    wordlike: true,
                });
                sentence_start = false;
                i += 1;
            }
            Kind::Other => {
                if t.text.chars().any(|c| ".!?。！？".contains(c)) {
                    sentence_start = true;
                }
                pieces.push(Piece {
                    text: t.text.to_owned(),
                    wordlike: false,
                });
                i += 1;
            }
            Kind::Word | Kind::Han => {
                let found = phrases.iter().find_map(|(words, entry)| {
                    match_at(&tokens, i, words).map(|end| (end, *entry))
                });
                let (text, end) = match found {
                    Some((end, entry)) => {
                        let translated = ENTRIES[entry][to];
                        let upper = t.text.chars().next().is_some_and(char::is_uppercase)
                            || (t.kind == Kind::Han && sentence_start);
                        let text = if upper && target != "zh" {
                            capitalize(translated)
                        } else {
                            translated.to_owned()
                        };
                        (text, end)
                    }
                    None => (t.text.to_owned(), i),
                };
                pieces.push(Piece {
                    text,
                    wordlike: true,
                });
                sentence_start = false;
                i = end + 1;
            }
        }
    }
    join(pieces, source, target)
}

/// Joins the pieces, fixing punctuation and spacing where the script changes: Chinese has
/// full-width punctuation and no spaces between words.
fn join(mut pieces: Vec<Piece>, source: &str, target: &str) -> String {
    const FULL: [(char, char); 8] = [
        ('，', ','),
        ('。', '.'),
        ('！', '!'),
        ('？', '?'),
        ('：', ':'),
        ('；', ';'),
        ('（', '('),
        ('）', ')'),
    ];
    let ends_han = |s: &str| s.chars().last().is_some_and(is_han);
    let starts_han = |s: &str| s.chars().next().is_some_and(is_han);
    if source == "es" && target != "es" {
        for p in pieces.iter_mut().filter(|p| !p.wordlike) {
            p.text = p.text.replace(['¿', '¡'], "");
        }
    }
    if source == "zh" && target != "zh" {
        let mut out = String::new();
        for (i, p) in pieces.iter().enumerate() {
            if p.wordlike {
                if i > 0 && pieces[i - 1].wordlike {
                    out.push(' ');
                }
                out.push_str(&p.text);
            } else {
                let mut text: String = p
                    .text
                    .chars()
                    .map(|c| FULL.iter().find(|(f, _)| *f == c).map_or(c, |(_, a)| *a))
                    .collect();
                let next_is_word = pieces.get(i + 1).is_some_and(|n| n.wordlike);
                if next_is_word
                    && !text.ends_with(char::is_whitespace)
                    && text.ends_with([',', '.', '!', '?', ':', ';', ')'])
                {
                    text.push(' ');
                }
                out.push_str(&text);
            }
        }
        return out;
    }
    if target == "zh" && source != "zh" {
        let mut out = String::new();
        for (i, p) in pieces.iter().enumerate() {
            if p.wordlike {
                out.push_str(&p.text);
                continue;
            }
            let prev_han = i > 0 && ends_han(&pieces[i - 1].text);
            let next_han = pieces.get(i + 1).is_some_and(|n| starts_han(&n.text));
            let has_punct = p.text.chars().any(|c| FULL.iter().any(|(_, a)| *a == c));
            if has_punct {
                // Full-width punctuation carries its own spacing.
                let text: String = p
                    .text
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .map(|c| FULL.iter().find(|(_, a)| *a == c).map_or(c, |(f, _)| *f))
                    .collect();
                out.push_str(&text);
            } else if !(p.text.chars().all(char::is_whitespace) && prev_han && next_han) {
                // (Chinese words are not separated by spaces.)
                out.push_str(&p.text);
            }
        }
        return out;
    }
    pieces.into_iter().map(|p| p.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(text: &str, source: Option<&str>, target: &str) -> (String, String) {
        let t = translate(text, source, target);
        (t.text, t.source)
    }

    #[test]
    fn russian_and_english_support_sentences_translate_both_ways() {
        assert_eq!(
            tr("Здравствуйте! Где мой заказ ⟦1⟧?", None, "en"),
            ("Hello! Where is my order ⟦1⟧?".to_owned(), "ru".to_owned())
        );
        assert_eq!(
            tr("Hello! Where is my order ⟦1⟧?", Some("en"), "ru").0,
            "Здравствуйте! Где мой заказ ⟦1⟧?"
        );
        assert_eq!(
            tr(
                "Your order ⟦1⟧ has been shipped, track it at ⟦2⟧",
                None,
                "ru"
            ),
            (
                "Ваш заказ ⟦1⟧ отправлен, отслеживайте его по ссылке ⟦2⟧".to_owned(),
                "en".to_owned()
            )
        );
        assert_eq!(
            tr(
                "Ваш заказ ⟦1⟧ отправлен, отслеживайте его по ссылке ⟦2⟧",
                None,
                "en"
            )
            .0,
            "Your order ⟦1⟧ has been shipped, track it at ⟦2⟧"
        );
    }

    #[test]
    fn spanish_german_and_chinese_are_detected_and_translated() {
        assert_eq!(
            tr("¡Hola! ¿Dónde está mi pedido ⟦1⟧?", None, "en"),
            ("Hello! Where is my order ⟦1⟧?".to_owned(), "es".to_owned())
        );
        assert_eq!(
            tr("Hallo! Wo ist meine Bestellung ⟦1⟧?", None, "en"),
            ("Hello! Where is my order ⟦1⟧?".to_owned(), "de".to_owned())
        );
        assert_eq!(
            tr("Hello! Where is my order ⟦1⟧?", None, "zh").0,
            "你好！我的订单在哪里 ⟦1⟧？"
        );
        assert_eq!(
            tr("你好！我的订单在哪里⟦1⟧？", None, "en"),
            ("Hello! Where is my order ⟦1⟧?".to_owned(), "zh".to_owned())
        );
        assert_eq!(
            tr("Your order ⟦1⟧ has been shipped, thank you", None, "de").0,
            "Ihre Bestellung ⟦1⟧ wurde versandt, danke"
        );
    }

    #[test]
    fn pairs_without_english_go_through_english() {
        assert_eq!(
            tr("Здравствуйте! Где мой заказ ⟦1⟧?", None, "es").0,
            "Hola! Dónde está mi pedido ⟦1⟧?"
        );
    }

    #[test]
    fn unknown_words_placeholders_and_same_language_are_kept() {
        assert_eq!(
            tr("Hello Zyxel ⟦12⟧ tomorrow", None, "ru").0,
            "Здравствуйте Zyxel ⟦12⟧ завтра"
        );
        assert_eq!(
            tr("Thank you, ⟦1⟧!", None, "en"),
            ("Thank you, ⟦1⟧!".to_owned(), "en".to_owned())
        );
        assert_eq!(tr("Bonjour ⟦1⟧", Some("fr"), "ru").0, "Bonjour ⟦1⟧");
        // A broken placeholder is just punctuation and digits.
        assert_eq!(tr("⟦x⟧ hello", None, "ru").0, "⟦x⟧ здравствуйте");
    }
}
