//! "The customer asks for a person", recognised from keyword tables before any model call.
//!
//! A message asks for a person when
//!
//! 1. it holds an explicit request phrase ([`STRONG`]: "real person", "live agent", "转人工",
//!    "живой человек"), or
//! 2. a request verb ([`VERBS`]: talk, speak, connect, позовите, hablar, parler, 联系…) stands at
//!    most [`VERB_GAP`] words from a person word ([`PERSONS`]), either order, or
//! 3. it is short (at most [`SHORT_WORDS`] words) and holds a person word,
//!
//! and, for 2 and 3, no phrase of [`NOT_A_REQUEST`] ("human resources", "agent id", "become an
//! agent") occurs. Matching folds case and diacritics. The tables are data: add a language by
//! adding lines (the pattern syntax is that of the crate's `text::Pattern`: words in a row, `|`
//! for alternatives, `word*` for a prefix, `*word*` for a part of a word, `~text` for a
//! substring in scripts without spaces).

use std::sync::OnceLock;

use crate::text::{Pattern, Words, all_matches, near, patterns};

/// The most words a message may have to count as "essentially a request for a person" when it
/// only holds a person word.
pub const SHORT_WORDS: usize = 8;

/// The most words between a request verb and a person word.
pub const VERB_GAP: usize = 3;

/// Explicit requests for a person: enough on their own, at any length.
pub const STRONG: &[&str] = &[
    // English
    "real|actual|live|human person|human|agent|operator|representative|being",
    "human being",
    "talk|speak|chat to|with a|an|the|some human|person|agent|operator|representative",
    "talk|speak|chat to|with someone|somebody|anyone|anybody",
    "transfer|connect|put me to|with|through a|an human|person|agent|operator|representative",
    "customer service|support representative|agent",
    "live chat|support",
    // Russian
    "жив* человек*|оператор*",
    "позов* оператор*|человек*|менеджер*|специалист*|сотрудник*",
    "позвать оператор*|человек*|менеджер*|специалист*|сотрудник*",
    "соедин* с оператор*|человек*|менеджер*|специалист*|сотрудник*",
    "переключ* на оператор*|человек*|менеджер*|специалист*|сотрудник*",
    "с живым человеком",
    // Ukrainian
    "жив* людин*",
    "поклич* оператор*|людин*|менеджер*|консультант*|фахівц*|працівник*",
    "єднайте з оператор*|людин*|менеджер*|консультант*|фахівц*|працівник*",
    // Chinese
    "~转人工",
    "~人工客服",
    "~人工服务",
    "~找人工",
    "~真人客服",
    "~接人工",
    // Japanese
    "~オペレーターと話",
    "~オペレーターに繋",
    "~オペレーターにつな",
    "~担当者と話",
    "~担当者に繋",
    "~担当者につな",
    "~人間と話",
    "~人と話したい",
    // Korean
    "~상담원 연결",
    "~상담원과 통화",
    "~상담원이랑",
    "~사람과 대화",
    "~사람이랑 대화",
    "~사람과 통화",
    // Spanish / Portuguese / Italian / French / German / Dutch / Polish / Turkish / Indonesian
    "persona real",
    "agente humano",
    "pessoa real",
    "atendente humano",
    "persona reale|vera",
    "operatore umano",
    "vraie personne",
    "personne reelle",
    "conseiller humain",
    "echte|echten person|mensch*",
    "echte|echt persoon|mens",
    "prawdziw* czlowiek*|osob*|konsultant*",
    "zyw* czlowiek*",
    "canli destek|temsilci*",
    "gercek insan*|kisi*",
    "musteri temsilci*",
    "manusia asli",
    "orang sungguhan",
    "bicara|berbicara dengan manusia|orang|petugas|agen|cs",
];

/// Words for a person who can help.
pub const PERSONS: &[&str] = &[
    // English
    "human|humans|person|someone|somebody|operator|agent|representative|rep|staff|manager|supervisor|people",
    "customer service|support|care",
    "support team|staff|agent",
    // Russian / Ukrainian
    "оператор*|человек*|менеджер*|специалист*|сотрудник*|консультант*|людин*|фахівц*|фахівець|працівник*",
    "кто нибудь",
    "хто небудь",
    // Chinese / Japanese / Korean
    "~人工",
    "~客服",
    "~真人",
    "~オペレーター",
    "~人間",
    "~担当者",
    "~상담원",
    "~상담사",
    "~사람",
    // Spanish / Portuguese / Italian
    "agente*|humano*|persona|personas|operador*|alguien|asesor*|representante*",
    "atendente*|pessoa*|alguem|atendimento",
    "operatore|operatori|umano|umani|qualcuno",
    // French / German / Dutch
    "humain*|conseiller*|agent*|operateur*|quelqu",
    "une personne",
    "mensch*|mitarbeiter*|berater*|jemand*|kundenservice|kundendienst|ansprechpartner*",
    "medewerker*|mens|persoon|iemand|klantenservice",
    // Polish / Turkish / Indonesian / Hindi
    "konsultant*|czlowiek*|pracownik*|ktos|kims",
    "temsilci*|insan|insanla|insanin|operatore|yetkili*",
    "manusia|orang|petugas|agen|cs",
    "इंसान*|एजेंट|व्यक्ति|कर्मचारी",
    "ग्राहक सेवा",
    // Arabic
    "*موظف*",
    "*انسان*",
    "*شخص*",
    "*ممثل*",
    "خدمة العملاء",
];

/// Words asking to be put in touch.
pub const VERBS: &[&str] = &[
    // Base forms only ("I talked to an agent yesterday" is a story, not a request), and no
    // "want"/"need" ("I want to know whether a person can collect my order").
    "talk|speak|chat|connect|transfer|reach|contact",
    // Russian / Ukrainian
    "позов*|позва*|соедин*|переключ*|свяж*|связаться|поговор*|говорить|поклич*|єднайте|говорити",
    // Spanish / Portuguese / Italian
    "hablar|comunicar*|pasar*|contactar",
    "falar|conversar|transferir|chamar",
    "parlare|passare|passarmi|contattare",
    // French / German / Dutch
    "parler|joindre|contacter|passer",
    "sprechen|reden|verbinden|verbinde*",
    "spreken|praten|doorverbinden|verbinden",
    // Polish / Turkish / Indonesian / Hindi
    "rozmawiac|porozmawiac|polacz*|mowic",
    "bagla*|gorus*|konus*",
    "bicara|berbicara|hubungkan|sambungkan|ngobrol",
    "बात",
    // Arabic
    "*تحدث*",
    "*تكلم*",
    "*اكلم*",
];

/// Phrases that use a person word for something else.
pub const NOT_A_REQUEST: &[&str] = &[
    "human resources|rights|error|nature|body",
    "agent id|number|code|name|fee|fees|commission|program|programme|account|portal",
    "travel|estate|insurance|booking|sales|shipping|customs agent|agents",
    "become|becoming|be an|a agent|operator|representative",
    "in person",
    "person who|that",
    "i m|am a person|human",
    "people who|that",
    "customer service hours|number|email|address",
    "support ticket|article|page",
    "отдел кадров",
    "recursos humanos",
    "ressources humaines",
    "risorse umane",
    "derechos humanos",
];

struct Tables {
    strong: Vec<Pattern>,
    persons: Vec<Pattern>,
    verbs: Vec<Pattern>,
    not_a_request: Vec<Pattern>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        strong: patterns(STRONG),
        persons: patterns(PERSONS),
        verbs: patterns(VERBS),
        not_a_request: patterns(NOT_A_REQUEST),
    })
}

/// Whether `text` asks to talk to a person (see the module docs for the rule). Precision comes
/// first: a longer question that merely mentions an agent or a human is not a request.
pub fn asks_for_person(text: &str) -> bool {
    let t = tables();
    let words = Words::new(text);
    if words.words.is_empty() {
        return false;
    }
    if !all_matches(&t.strong, &words).is_empty() {
        return true;
    }
    let persons = all_matches(&t.persons, &words);
    if persons.is_empty() || !all_matches(&t.not_a_request, &words).is_empty() {
        return false;
    }
    if words.length() <= SHORT_WORDS {
        return true;
    }
    let verbs = all_matches(&t.verbs, &words);
    near(&verbs, &persons, VERB_GAP, false).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_person_are_recognised_in_many_languages() {
        for text in [
            // English
            "human",
            "Agent please!!",
            "I want to talk to a human",
            "can I speak with an operator? I've been waiting for ages and the app keeps crashing",
            "Real person please",
            "representative",
            "connect me to customer service",
            "this bot is useless, I've asked three times already, let me talk to someone who can actually help",
            // Russian
            "Оператор",
            "позовите оператора",
            "Соедините с оператором, пожалуйста",
            "хочу поговорить с живым человеком",
            "нужен менеджер",
            // Ukrainian
            "покличте оператора",
            "з'єднайте з оператором будь ласка",
            // Chinese
            "转人工",
            "人工客服",
            "我要找客服",
            "你好，我的订单一直没有到，能不能帮我转人工处理一下",
            // Spanish
            "Quiero hablar con un agente",
            "hablar con alguien por favor",
            "HUMANO",
            // Portuguese
            "quero falar com um atendente",
            "falar com alguém",
            // German
            "Ich möchte mit einem Mitarbeiter sprechen",
            "echte Person bitte",
            // French
            "Je veux parler à un conseiller",
            "un humain svp",
            "opérateur",
            // Italian
            "vorrei parlare con un operatore",
            // Turkish
            "canlı destek",
            "müşteri temsilcisi ile görüşmek istiyorum",
            // Arabic
            "أريد التحدث مع موظف",
            "خدمة العملاء",
            // Japanese
            "オペレーターと話したい",
            "担当者",
            // Korean
            "상담원 연결해 주세요",
            // Polish, Dutch, Indonesian, Hindi
            "chcę rozmawiać z konsultantem",
            "ik wil een medewerker spreken",
            "saya mau bicara dengan petugas",
            "मुझे किसी इंसान से बात करनी है",
        ] {
            assert!(asks_for_person(text), "{text}");
        }
    }

    #[test]
    fn questions_that_merely_mention_a_person_word_are_not_requests() {
        for text in [
            "how do I become an agent of your company?",
            "the human resources department sent me a letter about my account",
            "I'm a person who loves your product, where is my order?",
            "my agent id is wrong",
            "what is the agent commission on international transfers these days?",
            "where is my order?",
            "I talked to an agent yesterday and she said my refund was approved, when will it arrive?",
            "Is there a fee when a person sends me money from abroad with a card?",
            "how many people can share one family account and what does it cost per month?",
            "can I pick up my order in person at your store in Berlin?",
            "¿Cuánto tarda el envío a Madrid si pago con tarjeta de crédito hoy?",
            "Мой заказ пришёл поврежденным, что делать, если коробка была порвана?",
            "我的包裹什么时候到",
            "",
            "🙂",
        ] {
            assert!(!asks_for_person(text), "{text}");
        }
    }
}
