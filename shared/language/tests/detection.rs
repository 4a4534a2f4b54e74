//! Behaviour of the detector, the stripping and the conversation stickiness.

mod support;

use omnidesk_language::{Detection, Detector, Method, settle, strip_non_linguistic};

fn team() -> Detector {
    Detector::new(&[
        "en", "zh", "ru", "ar", "es", "pt", "de", "fr", "ja", "ko", "uk", "tr",
    ])
    .expect("allowlist")
}

fn lang(d: &Detection) -> Option<&str> {
    d.language.as_deref()
}

#[test]
fn unknown_code_is_an_error_naming_it() {
    let err = Detector::new(&["en", "xx"]).unwrap_err();
    assert!(err.contains("\"xx\""), "{err}");
    assert!(Detector::new(&[]).is_err());
}

#[test]
fn allowed_lists_the_configured_codes_once() {
    let d = Detector::new(&["EN", "ru", "en"]).unwrap();
    assert_eq!(d.allowed(), ["en", "ru"]);
}

#[test]
fn urls_emails_handles_and_order_ids_are_stripped() {
    let s = strip_non_linguistic(
        "see https://shop.example.com/o?id=1 or www.x.org, mail a.b@c.de, @bob #sale #1024 A-5521 12.50 shop.example.com `let x = 1;` 🙂 ok",
    );
    assert_eq!(s, "see or mail ok");
}

#[test]
fn a_message_of_only_ids_and_emoji_is_empty() {
    let d = team().detect("#1024 A-5521 🙂👍 https://t.me/x", Some("en"));
    assert_eq!(d.method, Method::Empty);
    assert_eq!(d.language, None);
    assert_eq!(d.letters, 0);
}

#[test]
fn digits_inside_chinese_and_japanese_sentences_do_not_drop_the_sentence() {
    let d = team().detect("2002年的台湾，各金融机构都准备好了", None);
    assert_eq!(lang(&d), Some("zh"));
    let d = team().detect("クロノたちが13年ぶりに再会！", None);
    assert_eq!(lang(&d), Some("ja"));
}

#[test]
fn kana_decides_japanese_even_with_kanji() {
    let d = team().detect("注文はまだ届いていません", None);
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("ja"), Method::Script, true)
    );
}

#[test]
fn hangul_decides_korean() {
    let d = team().detect("주문이 아직 안 왔어요", None);
    assert_eq!((lang(&d), d.method), (Some("ko"), Method::Script));
}

#[test]
fn han_only_is_chinese_and_unsure_when_short_and_japanese_is_allowed() {
    let d = team().detect("我的订单还没有到，请帮我查一下", None);
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("zh"), Method::Script, true)
    );
    let short = team().detect("东京", None);
    assert_eq!((lang(&short), short.reliable), (Some("zh"), false));
    let only_ja = Detector::new(&["en", "ja"]).unwrap().detect("東京駅", None);
    assert_eq!(lang(&only_ja), Some("ja"));
}

#[test]
fn a_japanese_hint_settles_short_kanji_only_text() {
    let d = team().detect("東京駅", Some("ja"));
    assert_eq!((lang(&d), d.method), (Some("ja"), Method::Hint));
}

#[test]
fn single_script_languages_are_decided_by_script() {
    let d = Detector::new(&["en", "ar", "el", "he", "th", "hi"]).unwrap();
    for (text, code) in [
        ("مرحبا، أين طلبي؟", "ar"),
        ("Γεια σας, πού είναι η παραγγελία μου;", "el"),
        ("שלום, איפה ההזמנה שלי?", "he"),
        ("สวัสดีครับ คำสั่งซื้อของฉันอยู่ที่ไหน", "th"),
        ("नमस्ते, मेरा ऑर्डर कहाँ है?", "hi"),
    ] {
        let r = d.detect(text, None);
        assert_eq!((lang(&r), r.method), (Some(code), Method::Script), "{text}");
    }
}

#[test]
fn a_script_no_allowed_language_writes_gives_no_language() {
    let d = Detector::new(&["en", "ru"])
        .unwrap()
        .detect("주문이 아직 안 왔어요", Some("en"));
    assert_eq!(d.language, None);
}

#[test]
fn ukrainian_letters_decide_ukrainian() {
    let d = team().detect("Дякую, їжа", None);
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("uk"), Method::Script, true)
    );
}

#[test]
fn russian_letters_decide_russian() {
    let d = team().detect("Вы где?", None);
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("ru"), Method::Script, true)
    );
    let d = team().detect("Всё", None);
    assert_eq!(lang(&d), Some("ru"));
}

#[test]
fn undecided_cyrillic_defaults_to_russian() {
    let d = team().detect("привет", None);
    assert_eq!((lang(&d), d.reliable), (Some("ru"), false));
}

#[test]
fn cyrillic_is_only_ever_an_allowed_language() {
    let d = Detector::new(&["en", "uk"])
        .unwrap()
        .detect("Вы где?", None);
    assert_eq!(lang(&d), Some("uk"));
}

#[test]
fn latin_letters_only_one_allowed_language_writes_narrow_the_choice() {
    let d = team().detect("señor", None);
    assert_eq!(lang(&d), Some("es"));
    let d = team().detect("teşekkürler", None);
    assert_eq!(lang(&d), Some("tr"));
}

#[test]
fn a_long_clear_sentence_is_reliable_statistics() {
    let d = team().detect(
        "Hello, I ordered a blue jacket last week and it still has not arrived. Can you check?",
        None,
    );
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("en"), Method::Statistics, true)
    );
    let d = team().detect(
        "Hola, hice un pedido la semana pasada y todavía no ha llegado. ¿Pueden revisarlo?",
        None,
    );
    assert_eq!((lang(&d), d.reliable), (Some("es"), true));
}

#[test]
fn a_short_latin_message_is_unsure_without_a_hint() {
    let d = team().detect("ok thanks", None);
    assert!(!d.reliable);
    assert_eq!(d.method, Method::Unsure);
    assert!(d.language.is_some());
}

#[test]
fn the_hint_settles_an_unsure_message_that_fits_its_script() {
    let d = team().detect("ok", Some("pt-BR"));
    assert_eq!(
        (lang(&d), d.method, d.reliable),
        (Some("pt"), Method::Hint, false)
    );
}

#[test]
fn a_hint_outside_the_allowlist_is_ignored() {
    let d = team().detect("ok", Some("it"));
    assert_ne!(d.method, Method::Hint);
}

#[test]
fn a_clear_russian_text_beats_an_english_hint() {
    let d = team().detect("Здравствуйте, мой заказ до сих пор не пришёл", Some("en"));
    assert_eq!((lang(&d), d.reliable), (Some("ru"), true));
    // Even a short Russian message: the English hint does not fit Cyrillic.
    let d = team().detect("привет", Some("en"));
    assert_eq!(lang(&d), Some("ru"));
    assert_ne!(d.method, Method::Hint);
}

#[test]
fn a_clear_english_text_beats_a_german_hint() {
    let d = team().detect(
        "Hello, I ordered a blue jacket last week and it still has not arrived.",
        Some("de"),
    );
    assert_eq!((lang(&d), d.method), (Some("en"), Method::Statistics));
}

fn det(language: &str, reliable: bool, letters: usize) -> Detection {
    Detection {
        language: Some(language.to_owned()),
        reliable,
        letters,
        method: if reliable {
            Method::Statistics
        } else {
            Method::Unsure
        },
    }
}

fn own(pair: (Option<&str>, Option<&str>)) -> (Option<String>, Option<String>) {
    (pair.0.map(str::to_owned), pair.1.map(str::to_owned))
}

#[test]
fn a_new_conversation_takes_the_first_guess() {
    assert_eq!(
        settle(None, None, &det("es", false, 5)),
        own((Some("es"), None))
    );
}

#[test]
fn one_short_reliable_message_only_makes_a_language_pending() {
    assert_eq!(
        settle(Some("en"), None, &det("de", true, 20)),
        own((Some("en"), Some("de")))
    );
}

#[test]
fn two_consecutive_reliable_detections_switch_the_language() {
    assert_eq!(
        settle(Some("en"), Some("de"), &det("de", true, 20)),
        own((Some("de"), None))
    );
}

#[test]
fn a_message_in_the_current_language_clears_the_pending_one() {
    assert_eq!(
        settle(Some("en"), Some("de"), &det("en", true, 20)),
        own((Some("en"), None))
    );
    assert_eq!(
        settle(Some("en"), Some("de"), &det("fr", true, 20)),
        own((Some("en"), Some("fr")))
    );
}

#[test]
fn one_long_reliable_message_switches_at_once() {
    assert_eq!(
        settle(Some("en"), None, &det("ru", true, 45)),
        own((Some("ru"), None))
    );
}

#[test]
fn unreliable_or_hinted_detections_never_switch() {
    assert_eq!(
        settle(Some("en"), Some("de"), &det("de", false, 60)),
        own((Some("en"), Some("de")))
    );
    let hinted = Detection {
        language: Some("fr".to_owned()),
        reliable: false,
        letters: 2,
        method: Method::Hint,
    };
    assert_eq!(settle(Some("en"), None, &hinted), own((Some("en"), None)));
    let empty = team().detect("👍", None);
    assert_eq!(settle(Some("en"), None, &empty), own((Some("en"), None)));
}

#[test]
fn a_latin_language_without_ngram_tables_falls_back_to_whatlang() {
    let d = Detector::new(&["en", "it"]).unwrap().detect(
        "Buongiorno, il mio ordine non è ancora arrivato, potete controllare per favore?",
        None,
    );
    assert_eq!((lang(&d), d.reliable), (Some("it"), true));
}
