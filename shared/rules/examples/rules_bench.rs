//! Evaluation cost: 200 realistic rules (keywords, phrases, regexes, tags, language, channel,
//! source, command, hours, rollout), the only rule that can match last, 200,000 messages of
//! varied text (half reach the last rule and match it, half match nothing).
//!
//! `cargo run --release -p omnidesk-rules --example rules_bench`
//!
//! Time is taken per batch of 100 evaluations, so `Instant` costs little next to what is
//! measured; p50 and p99 are of the batches' per-message means.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use omnidesk_domain::{Channel, ContactId, ConversationStatus, LanguageTag, Tag, Timestamp};
use omnidesk_rules::hours::Schedule;
use omnidesk_rules::{Format, Input, Known, RuleSet};

const RULES: usize = 200;
const MESSAGES: usize = 200_000;
const BATCH: usize = 100;
const DISTINCT_MESSAGES: usize = 4_000;

/// Words customers write.
const TEXT_WORDS: &[&str] = &[
    "hello",
    "hi",
    "i",
    "want",
    "my",
    "order",
    "is",
    "late",
    "please",
    "help",
    "the",
    "app",
    "crashes",
    "when",
    "login",
    "password",
    "reset",
    "how",
    "to",
    "pay",
    "card",
    "declined",
    "thanks",
    "where",
    "delivery",
    "price",
    "plan",
    "upgrade",
    "cancel",
    "subscription",
    "ticket",
    "account",
    "email",
    "phone",
    "money",
    "back",
    "a",
    "can",
    "you",
    "check",
    "привет",
    "заказ",
    "помогите",
    "оплата",
    "не",
    "работает",
    "где",
    "мой",
    "доставка",
    "спасибо",
];

/// Words rules look for; no message has them, so only the last rule can match (phrases start
/// with a word messages do have, so their first word is found and the rest checked).
const RULE_WORDS: &[&str] = &[
    "refund",
    "chargeback",
    "invoice",
    "warranty",
    "broken",
    "damaged",
    "missing",
    "complaint",
    "lawyer",
    "fraud",
    "stolen",
    "urgent",
    "discount",
    "coupon",
    "voucher",
    "shipping",
    "tracking",
    "return",
    "exchange",
    "возврат",
    "жалоба",
    "срочно",
    "скидка",
    "refunded",
];

/// What identifiers are called (`invoice #1234-ab`); messages have "ticket", "order" and
/// "account", never with such a number.
const ID_WORDS: &[&str] = &[
    "invoice",
    "ticket",
    "order",
    "tracking",
    "case",
    "booking",
    "reservation",
    "policy",
    "claim",
    "contract",
    "shipment",
    "parcel",
    "receipt",
    "account",
    "member",
    "customer",
    "serial",
    "imei",
    "iban",
    "заказ",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, so every run measures the same messages.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn rules_file(rng: &mut Rng, regexes: bool) -> String {
    let mut file = String::new();
    for i in 0..RULES - 1 {
        let w1 = rng.pick(RULE_WORDS);
        let w2 = rng.pick(RULE_WORDS);
        let w3 = rng.pick(TEXT_WORDS);
        // A phrase whose first word customers do write, and a word they do not.
        let keywords = format!("[\"{w1}\", \"{w3} {w2} now\", \"x{i}{w2}\"]");
        let when = match i % 10 {
            0 => format!("channel = \"email\"\nkeywords = {keywords}"),
            1 => format!("source = \"bot{i}\"\nkeywords = {keywords}"),
            2 if regexes => {
                let id = ID_WORDS[(i / 10) % ID_WORDS.len()];
                format!("regex = '(?i)\\b{id}\\s*#?\\d{{4,}}-[a-z]{{2}}\\b'")
            }
            3 if regexes => format!("regex = '(?i){w1}\\s+(?:id|no)\\.?\\s*\\d{{6,}}'"),
            2 | 3 => format!("keywords = {keywords}"),
            4 => format!("tags = [\"vip\", \"t{i}\"]\nkeywords = {keywords}"),
            5 => format!("language = [\"de\", \"fr\"]\nkeywords = {keywords}"),
            6 => format!("hours = \"closed\"\nhours_of = \"support\"\nkeywords = {keywords}"),
            7 => format!("rollout = 10\nkeywords = {keywords}"),
            8 => format!("command = \"cmd{i}\""),
            _ => format!("any_tags = [\"gold\", \"t{i}\"]\nkeywords = {keywords}"),
        };
        let then = match i % 4 {
            0 => "team = \"support\"\nskill = \"billing\"",
            1 => "reply = { en = \"We are on it\", ru = \"Уже занимаемся\" }\nai = true",
            2 => "team = \"vip\"\npriority = \"high\"",
            _ => "faq = true",
        };
        let _ = write!(
            file,
            "[[rules]]\nname = \"rule {i}\"\n[rules.when]\n{when}\n[rules.then]\n{then}\n\n"
        );
    }
    file.push_str("[[rules]]\nname = \"last\"\n[rules.when]\nkeywords = [\"needle\"]\nchannel = [\"telegram\", \"web\"]\n[rules.then]\nhandoff = true\n");
    file
}

struct Message {
    text: String,
    channel: Channel,
    language: LanguageTag,
    tags: BTreeSet<Tag>,
    contact: ContactId,
}

fn messages(rng: &mut Rng) -> Vec<Message> {
    let languages = [
        LanguageTag::parse("en").expect("a language tag"),
        LanguageTag::parse("ru-RU").expect("a language tag"),
    ];
    (0..DISTINCT_MESSAGES)
        .map(|m| {
            let words = 4 + rng.below(30);
            let mut text = String::new();
            for w in 0..words {
                if w > 0 {
                    text.push(if rng.below(8) == 0 { ',' } else { ' ' });
                    text.push(' ');
                }
                match rng.below(40) {
                    0 => {
                        let _ = write!(text, "#{}", 10_000 + rng.below(90_000));
                    }
                    1 => text.push_str("Ticket"),
                    _ => text.push_str(rng.pick(TEXT_WORDS)),
                }
            }
            if m % 2 == 0 {
                text.push_str(" needle?");
            } else {
                text.push('?');
            }
            let mut tags = BTreeSet::new();
            if rng.below(4) == 0 {
                tags.extend(Tag::parse("vip"));
            }
            Message {
                text,
                channel: if rng.below(3) == 0 {
                    Channel::Web
                } else {
                    Channel::Telegram
                },
                language: languages[rng.below(2)].clone(),
                tags,
                contact: ContactId::from_uuid(uuid_from(rng.next(), rng.next())),
            }
        })
        .collect()
}

fn uuid_from(high: u64, low: u64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(high, low)
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let messages = messages(&mut rng);
    let mean_chars = messages
        .iter()
        .map(|m| m.text.chars().count())
        .sum::<usize>()
        / messages.len();
    println!(
        "{RULES} rules, the only one that can match last; {MESSAGES} messages ({DISTINCT_MESSAGES} distinct, {mean_chars} characters on average, half match the last rule)"
    );
    for (label, regexes) in [
        (
            "keywords, phrases, tags, language, channel, source, command, hours, rollout, 40 regexes",
            true,
        ),
        ("the same with keywords instead of the 40 regexes", false),
    ] {
        let file = rules_file(&mut Rng(0x2545_F491_4F6C_DD1D), regexes);
        let started = Instant::now();
        let rules = match RuleSet::parse(&file, Format::Toml, &Known::NOTHING) {
            Ok(rules) => rules,
            Err(e) => panic!("the generated rules do not parse: {e}"),
        };
        let parse_ms = started.elapsed().as_secs_f64() * 1e3;
        println!("\n{label} (parsed in {parse_ms:.1} ms)");
        measure(&rules, &messages);
    }
}

fn measure(rules: &RuleSet, messages: &[Message]) {
    let support = Schedule::parse("mon-fri 09:00-18:00; sat 10:00-14:00", "Europe/Berlin", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let now =
        Timestamp::parse_rfc3339("2026-03-07T16:00:00+01:00").unwrap_or_else(|e| panic!("{e}"));
    let hours = |team: Option<&str>| match team {
        Some("support") => support.is_open(now),
        _ => true,
    };
    let attributes = BTreeMap::from([("plan".to_owned(), "free".to_owned())]);
    let source = "123456789";

    let evaluate = |m: &Message| {
        let input = Input {
            channel: m.channel,
            source: Some(source),
            text: &m.text,
            language: Some(&m.language),
            tags: &m.tags,
            attributes: &attributes,
            status: ConversationStatus::Bot,
            contact: m.contact,
            now,
            hours: &hours,
        };
        rules.evaluate(black_box(&input)).map(|r| r.index)
    };

    // Warm up (regex caches, branch predictors).
    for m in messages.iter().take(2_000) {
        black_box(evaluate(m));
    }

    let mut batch_means_us = Vec::with_capacity(MESSAGES / BATCH);
    let mut matched_last = 0usize;
    let mut matched_other = 0usize;
    let total = Instant::now();
    for batch in 0..MESSAGES / BATCH {
        let start = Instant::now();
        for k in 0..BATCH {
            let m = &messages[(batch * BATCH + k) % messages.len()];
            match black_box(evaluate(m)) {
                Some(i) if i == RULES - 1 => matched_last += 1,
                Some(_) => matched_other += 1,
                None => {}
            }
        }
        batch_means_us.push(start.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    let total_s = total.elapsed().as_secs_f64();
    batch_means_us.sort_by(f64::total_cmp);
    let pct = |p: f64| batch_means_us[((batch_means_us.len() - 1) as f64 * p).round() as usize];
    let mean_us = total_s * 1e6 / MESSAGES as f64;
    println!(
        "  matched the last rule: {matched_last}; another rule: {matched_other}; none: {}",
        MESSAGES - matched_last - matched_other
    );
    println!(
        "  per message: mean {mean_us:.2} µs, p50 {:.2} µs, p99 {:.2} µs (batches of {BATCH}); slowest batch {:.2} µs",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}
