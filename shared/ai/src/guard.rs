//! The post-check of a model's reply before it reaches a customer (guardrails).
//!
//! A reply is refused when it is empty, longer than [`MAX_REPLY_CHARS`], or when it makes a
//! promise only a person may make:
//!
//! - money: a refund, compensation or money back next to a commitment ("you will get a
//!   refund", "I've issued a refund", "le reembolsaremos", "мы вернём деньги", "已为您退款");
//! - time: a delivery date or time ("will arrive tomorrow", "by Friday", "on 12 March",
//!   "within 2 days") next to a delivery word or a commitment;
//! - action: something done or to be done by the assistant or the team ("I have cancelled your
//!   order", "I will call you", "they will fix it", "he cancelado", "я отменил заказ").
//!
//! A promise whose words (the matched span: "will refund", "12 march") already occur in
//! `context` may be repeated: pass as context only what the business said — the FAQ answer,
//! agents' messages — never the customer's own words. A negation just before a promise ("I
//! cannot promise a refund") is not a promise. The lists are data (see [`Rule`]'s tables), in
//! the pattern syntax of [`crate::person`].

use std::sync::OnceLock;

use crate::text::{Pattern, Span, Words, all_matches, near, patterns};

/// The longest reply accepted, in characters.
pub const MAX_REPLY_CHARS: usize = 2000;

/// Why a reply may not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reply refused: {reason}")]
pub struct Refusal {
    /// What the reply did wrong, in English, for the log and the reviewing agent.
    pub reason: String,
}

/// A kind of promise: a match of `a` at most `gap` words before (or, unless `ordered`, after) a
/// match of `b`; or any match of `alone`.
struct Rule {
    reason: &'static str,
    a: Vec<Pattern>,
    b: Vec<Pattern>,
    gap: usize,
    ordered: bool,
    alone: Vec<Pattern>,
    /// The `b` part alone in the context allows the promise (a date the business gave).
    b_in_context_suffices: bool,
}

const REFUND_TOPIC: &[&str] = &[
    "refund*|reimburs*|compensat*|chargeback",
    "money back",
    "return|give|send your|the money",
    "возврат*|компенсац*|возмещ*|возмест*",
    "верн* деньги|средства",
    "reembols*|devoluc*|devolv*|compensac*|indemniz*|estorn*|ressarc*",
    "rembours*|dedommag*|indemnis*",
    "erstatt*|ruckerstatt*|entschadig*|gutschrift*",
    "geld zuruck",
    "~退款",
    "~退钱",
    "~赔偿",
    "~补偿",
];

const COMMITMENT: &[&str] = &[
    "will|ll|shall|going|guarantee*|promise*|definitely|certainly|eligible|entitled|qualify|approved|issued|processed|initiated|have|ve|has",
    "будет|будут|оформ*|получите|гарант*|одобр*|сделал*|сделан*",
    "sera|seran|serao|vamos|voy|vou|he|hemos|ha|recibira*|recebera*|garantiz*|aprobad*|aprovad*",
    "ai|avons|allons|vais|recevrez|garanti*|approuve*",
    "werde|werden|wird|wurde|habe|haben|erhalten|bekommen|garantier*|genehmigt",
];

const REFUND_ALONE: &[&str] = &[
    "reembolsaremos|reembolsare|devolveremos|compensaremos|estornaremos|ressarciremos",
    "rembourserons|rembourserai|remboursera|dedommagerons",
    "erstatten wir|erstatte ich",
    "вернем|верну|вернут|компенсируем|возместим",
    "~会退款",
    "~将退款",
    "~已退款",
    "~已经退款",
    "~给您退款",
    "~为您退款",
    "~退款已",
    "~会赔偿",
    "~将赔偿",
    "~会补偿",
];

const TIME: &[&str] = &[
    "tomorrow|today|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    "next week|month",
    "within|in 1|2|3|4|5|6|7|8|9|10|12|14|24|30|48|72|one|two|three|four|five|seven|ten|a|an|few business|working|hour|hours|day|days|week|weeks",
    "*1*|*2*|*3*|*4*|*5*|*6*|*7*|*8*|*9*|*0* jan*|feb*|mar|march|apr*|may|jun*|jul*|aug*|sep*|oct*|nov*|dec*",
    "jan*|feb*|mar|march|apr*|may|jun*|jul*|aug*|sep*|oct*|nov*|dec* *1*|*2*|*3*|*4*|*5*|*6*|*7*|*8*|*9*|*0*",
    "*1*|*2*|*3*|*4*|*5*|*6*|*7*|*8*|*9*|*0* business|working day|days",
    "*1*|*2*|*3*|*4*|*5*|*6*|*7*|*8*|*9* am|pm",
    "завтра|сегодня|послезавтра|понедельник*|вторник*|сред*|четверг*|пятниц*|суббот*|воскресен*",
    "в течение",
    "manana|hoy|lunes|martes|miercoles|jueves|viernes|sabado|domingo|amanha|hoje|segunda|terca|quarta|quinta|sexta",
    "demain|aujourd|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche",
    "morgen|heute|ubermorgen|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag",
    "~明天",
    "~今天",
    "~后天",
    "~天内",
    "~星期",
    "~周一",
    "~周二",
    "~周三",
    "~周四",
    "~周五",
    "~周末",
];

const DELIVERY_OR_COMMITMENT: &[&str] = &[
    "deliver*|arriv*|ship*|dispatch*|courier|parcel|package|order|reach|receive|get|will|ll|shall|guarantee*",
    "достав*|прибуд*|придет|придёт|получите|отправ*|будет|посылк*|заказ*",
    "entrega*|llegar*|llega|enviar*|envio|chegar*|chega|pedido|paquete|encomenda|recibira*|recebera*",
    "livr*|arriver*|arrivera|colis|commande|expedi*|recevrez",
    "liefer*|ankommen|kommt|versand*|paket|bestellung|zugestellt|erhalten",
    "~送达",
    "~到达",
    "~发货",
    "~送到",
    "~到货",
    "~收到",
];

const ACTOR_DONE: &[&str] = &[
    "i|we have|ve|just|already|now|personally",
    "i|we",
    "has|have been",
    "я|мы",
    "he|hemos|ya",
    "j|nous ai|avons",
    "ich|wir habe|haben",
];

const DONE: &[&str] = &[
    "cancelled|canceled|refunded|issued|processed|changed|updated|escalated|reset|credited|reversed|blocked|unblocked|fixed|resolved|replaced|reshipped|waived|removed|deleted|rebooked|rescheduled|expedited|upgraded|compensated|reimbursed|arranged|approved|raised",
    "отменил*|отменен*|оформил*|изменил*|поменял*|вернул*|передал*|исправил*|заблокировал*|разблокировал*|обновил*|перенес*|эскалир*",
    "cancelado|reembolsado|cambiado|modificado|procesado|emitido|escalado|actualizado|bloqueado|corregido|cancelada|reembolsada",
    "annule|annulee|rembourse|remboursee|modifie|change|traite|escalade|corrige|bloque|transmis",
    "storniert|erstattet|geandert|aktualisiert|bearbeitet|eskaliert|zuruckerstattet|gekundigt|gesperrt|behoben",
];

const ACTOR_FUTURE: &[&str] = &[
    "will|ll|shall|going",
    "я|мы",
    "voy|vamos",
    "vais|allons",
    "werde|werden|wird",
];

const FUTURE: &[&str] = &[
    "call|phone|ring|email|cancel|refund|change|update|escalate|process|arrange|fix|resolve|contact|replace|credit|issue|compensate|reimburse|reverse|expedite|reship|rebook|reschedule|waive|sort",
    "отменю|отменим|оформлю|оформим|изменю|изменим|перезвон*|позвон*|исправ*|верну|вернем",
    "cancelar|reembolsar|cambiar|llamar*|procesar|solucionar|arreglar",
    "annuler|rembourser|appeler|rappeler|modifier|changer|regler",
    "anrufen|stornieren|erstatten|andern|zuruckrufen|beheben",
];

const ACTION_ALONE: &[&str] = &[
    "llamare|llamaremos|cancelare|cancelaremos",
    "cancelei|reembolsei|alterei|mudei|processei|ligarei|ligaremos",
    "vou|vamos ligar|cancelar|reembolsar|alterar",
    "foi cancelado|cancelada|reembolsado|reembolsada|alterado|alterada",
    "appellerai|appellerons|rappellerai|rappellerons|annulerai|annulerons",
    "рассмотрим и вернем",
    "заказ отменен",
    "адрес изменен",
    "~已为您",
    "~已帮您",
    "~已经为您",
    "~已经帮您",
    "~我已经取消",
    "~已取消",
    "~已经取消",
    "~已修改",
    "~已更改",
    "~会给您打电话",
    "~给您回电",
];

const NEGATION: &[&str] = &[
    "not|cannot|can|t|unable|no|never|don|won|isn|aren",
    "не|нельзя|невозможно",
    "no|nunca|nao",
    "ne|pas|jamais",
    "nicht|kein|keine|keinen",
    "~不",
    "~无法",
    "~没有",
];

struct Tables {
    rules: Vec<Rule>,
    negation: Vec<Pattern>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        rules: vec![
            Rule {
                reason: "promises a refund or compensation",
                a: patterns(COMMITMENT),
                b: patterns(REFUND_TOPIC),
                gap: 4,
                ordered: false,
                alone: patterns(REFUND_ALONE),
                b_in_context_suffices: false,
            },
            Rule {
                reason: "promises a delivery date or time",
                a: patterns(DELIVERY_OR_COMMITMENT),
                b: patterns(TIME),
                gap: 6,
                ordered: false,
                alone: Vec::new(),
                b_in_context_suffices: true,
            },
            Rule {
                reason: "claims an action the assistant cannot take",
                a: patterns(ACTOR_DONE),
                b: patterns(DONE),
                gap: 4,
                ordered: true,
                alone: patterns(ACTION_ALONE),
                b_in_context_suffices: false,
            },
            Rule {
                reason: "promises an action the assistant cannot take",
                a: patterns(ACTOR_FUTURE),
                b: patterns(FUTURE),
                gap: 3,
                ordered: true,
                alone: Vec::new(),
                b_in_context_suffices: false,
            },
        ],
        negation: patterns(NEGATION),
    })
}

/// Checks a model's `reply` before it is sent; `context` holds what the business already said
/// (the FAQ answer, agents' messages), whose promises may be repeated.
///
/// Guarantees: `Ok` only for a non-blank reply of at most [`MAX_REPLY_CHARS`] characters that
/// makes no refund, delivery-time or action promise absent from `context` (see the module docs
/// for what counts).
pub fn check_reply(reply: &str, context: &str) -> Result<(), Refusal> {
    let refuse = |reason: String| Err(Refusal { reason });
    if reply.trim().is_empty() {
        return refuse("empty reply".to_owned());
    }
    let chars = reply.chars().count();
    if chars > MAX_REPLY_CHARS {
        return refuse(format!(
            "reply too long ({chars} characters, at most {MAX_REPLY_CHARS})"
        ));
    }
    let t = tables();
    let context = Words::new(context);
    for sentence in sentences(reply) {
        let words = Words::new(sentence);
        if words.words.is_empty() {
            continue;
        }
        let negations = all_matches(&t.negation, &words);
        for rule in &t.rules {
            let mut found: Vec<(Span, Option<Span>)> = all_matches(&rule.alone, &words)
                .into_iter()
                .map(|m| (m, None))
                .collect();
            let a = all_matches(&rule.a, &words);
            if !a.is_empty() {
                for m in all_matches(&rule.b, &words) {
                    if let Some(span) = near(&a, &[m], rule.gap, rule.ordered) {
                        found.push((span, Some(m)));
                    }
                }
            }
            for ((start, end), b) in found {
                // "cannot promise", "will not refund": a negation in or just before the match.
                let negated = negations
                    .iter()
                    .any(|&(s, e)| (s >= start && e <= end) || (e <= start && start - e <= 1));
                let span = words.span(start, end);
                let said = context.contains_phrase(span)
                    || (rule.b_in_context_suffices
                        && b.is_some_and(|(s, e)| context.contains_phrase(words.span(s, e))));
                if !negated && !said {
                    return refuse(format!("{}: “{span}”", rule.reason));
                }
            }
        }
    }
    Ok(())
}

/// Splits into clauses (sentence ends and commas), so a commitment in one clause is not paired
/// with a date or a negation in another.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split([
        '.', '!', '?', '\n', ';', ',', '。', '！', '？', '；', '，', '、',
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_replies_are_allowed() {
        for (reply, context) in [
            ("Our opening hours are 9:00–18:00, Monday to Friday.", ""),
            (
                "Refunds are possible within 30 days of delivery. An agent will review your request.",
                "FAQ: Refunds are possible within 30 days of delivery.",
            ),
            (
                "You can request a refund in the app under Orders → Return.",
                "",
            ),
            (
                "I cannot promise a refund, but a colleague will look at your case.",
                "",
            ),
            (
                "Your parcel is out for delivery on 12 March.",
                "Agent: the parcel is out for delivery on 12 March",
            ),
            (
                "Orders arrive within 3 business days.",
                "Orders arrive within 3 business days of payment.",
            ),
            (
                "We will refund the delivery fee if the parcel is late.",
                "FAQ: We will refund the delivery fee if the parcel is late.",
            ),
            (
                "To reset your password, use “Forgot password” on the sign-in page.",
                "",
            ),
            ("I'll pass your question to a colleague who can help.", ""),
            ("Чтобы сменить пароль, нажмите «Забыли пароль».", ""),
            ("Puede solicitar la devolución desde la aplicación.", ""),
            ("您可以在应用中查看订单状态。", ""),
        ] {
            assert_eq!(check_reply(reply, context), Ok(()), "{reply}");
        }
    }

    #[test]
    fn promises_and_bad_replies_are_refused() {
        for reply in [
            "",
            "   ",
            "You will get a full refund.",
            "I've issued a refund to your card.",
            "Don't worry, we'll give you your money back.",
            "You are eligible for compensation of 20 euros.",
            "Your order will arrive tomorrow.",
            "The parcel will be delivered by Friday.",
            "It arrives on 12 March.",
            "You'll receive it within 2 days.",
            "I have cancelled your order.",
            "I've changed your address to the new one.",
            "I will call you this afternoon.",
            "I've escalated this and they will fix it.",
            "Your order has been cancelled.",
            "Мы вернём вам деньги.",
            "Я отменил ваш заказ.",
            "Возврат будет оформлен сегодня.",
            "Le reembolsaremos el importe.",
            "He cancelado su pedido.",
            "Ich habe Ihre Bestellung storniert.",
            "Sie erhalten eine Erstattung.",
            "Nous vous rembourserons demain.",
            "J'ai annulé votre commande.",
            "Vou cancelar o seu pedido.",
            "O valor foi reembolsado.",
            "我们已为您退款。",
            "您的包裹明天送达。",
        ] {
            assert!(check_reply(reply, "").is_err(), "{reply:?}");
        }
        let long = "a".repeat(MAX_REPLY_CHARS + 1);
        assert!(check_reply(&long, "").is_err());
        assert_eq!(check_reply(&"a ".repeat(MAX_REPLY_CHARS / 2), ""), Ok(()));
    }

    #[test]
    fn a_refusal_names_the_promise() {
        let err = check_reply("Your order will arrive tomorrow.", "").unwrap_err();
        assert!(err.reason.contains("delivery"), "{}", err.reason);
        assert!(err.reason.contains("tomorrow"), "{}", err.reason);
    }
}
