//! The extractive summary the bot sends when a conversation moves to another channel: what was
//! synced (order and ticket numbers, the topic) and the last answer, with no LLM.

use crate::{Author, Channel, ConversationStatus, Direction, Message};

/// Words that never make a topic.
const STOPWORDS: &[&str] = &[
    "about", "after", "again", "already", "also", "because", "before", "could", "does", "doesn't",
    "from", "have", "hello", "help", "here", "just", "know", "like", "need", "please", "should",
    "still", "thank", "thanks", "that", "there", "their", "them", "they", "this", "want", "what",
    "when", "where", "which", "while", "with", "would", "your",
];

/// Words that name what a number refers to ("order #1024", "ticket 88").
const REFERENCE_WORDS: &[&str] = &[
    "order",
    "ticket",
    "invoice",
    "case",
    "booking",
    "reservation",
    "account",
    "parcel",
    "shipment",
    "tracking",
    "request",
];

/// The bot's first message on the new channel. `messages` are the conversation's so far,
/// oldest first; `agent_name` names the author of the last agent answer.
///
/// "We've synced your conversation from the website (order #1024, tracking, 2 files). Last
/// answer from Ann: “…”. Just tell us what you need."
pub fn handoff_summary(from: Channel, messages: &[Message], agent_name: Option<&str>) -> String {
    let from = match from {
        Channel::Web => "the website",
        Channel::Email => "e-mail",
        Channel::Telegram => "Telegram",
    };
    let customer: Vec<&str> = messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound && !m.text.trim().is_empty())
        .map(|m| m.text.as_str())
        .collect();
    let mut facts = references(&customer);
    if let Some(topic) = customer.first().and_then(|first| topic(first, &facts)) {
        facts.push(topic);
    }
    // Files (photos, documents, voice notes…) came along with the history: say how many.
    let files = messages
        .iter()
        .filter(|m| m.event.is_none())
        .flat_map(|m| &m.attachments)
        .filter(|a| a.kind.has_bytes())
        .count();
    match files {
        0 => {}
        1 => facts.push("1 file".to_owned()),
        n => facts.push(format!("{n} files")),
    }
    let mut out = format!("We've synced your conversation from {from}");
    if !facts.is_empty() {
        out.push_str(&format!(" ({})", facts.join(", ")));
    }
    out.push('.');
    let last_answer = messages.iter().rev().find(|m| {
        matches!(m.author, Author::Agent { .. } | Author::Ai) && !m.preview_text().trim().is_empty()
    });
    if let Some(answer) = last_answer {
        let who = agent_name.unwrap_or("our team");
        out.push_str(&format!(
            " Last answer from {who}: “{}”.",
            clip(answer.preview_text().trim(), 160)
        ));
    }
    out.push_str(" Just tell us what you need.");
    out
}

/// The bot's first message on Telegram when an e-mail ticket continues there: the subject,
/// what the customer asked (the first lines of their newest mail's new text, never the quoted
/// history), how many files came along, and where the ticket stands.
///
/// "Your e-mail “Refund for order #1024” is here now. You wrote: “The parcel arrived
/// damaged…”. 2 files. Status: with Ann. Just reply here."
pub fn email_summary(
    messages: &[Message],
    status: ConversationStatus,
    agent_name: Option<&str>,
) -> String {
    let inbound: Vec<&Message> = messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound && m.event.is_none() && !m.is_automatic())
        .collect();
    let subject = inbound.iter().find_map(|m| {
        m.email_ref()
            .and_then(|e| e.subject.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    let mut out = match subject {
        Some(s) => format!("Your e-mail “{}” is here now.", clip(&s, 120)),
        None => "Your e-mail is here now.".to_owned(),
    };
    if let Some(asked) = inbound
        .iter()
        .rev()
        .map(|m| first_lines(&m.text, 3))
        .find(|t| !t.is_empty())
    {
        out.push_str(&format!(" You wrote: “{}”.", clip(&asked, 240)));
    }
    let files = inbound
        .iter()
        .flat_map(|m| &m.attachments)
        .filter(|a| a.kind.has_bytes())
        .count();
    match files {
        0 => {}
        1 => out.push_str(" 1 file."),
        n => out.push_str(&format!(" {n} files.")),
    }
    let status = match (status, agent_name) {
        (ConversationStatus::Assigned, Some(name)) => format!("with {name}"),
        (ConversationStatus::Assigned, None) => "with our team".to_owned(),
        (ConversationStatus::Resolved, _) => "resolved".to_owned(),
        _ => "waiting for our team".to_owned(),
    };
    out.push_str(&format!(" Status: {status}. Just reply here."));
    out
}

/// The longest extractive summary kept on a conversation, in characters.
pub const HISTORY_SUMMARY_MAX_CHARS: usize = 900;

/// The conversation's history summary without an LLM, folded incrementally: `previous` (the
/// stored summary) followed by what `messages` (the ones not yet in it, oldest first) add —
/// the order and ticket numbers, what the customer asked first, and the last answer given.
/// Kept under [`HISTORY_SUMMARY_MAX_CHARS`] by dropping the oldest sentences.
///
/// "Customer asked about delivery (order #1024). Answer: “It is out for delivery today.”"
pub fn extractive_summary(previous: Option<&str>, messages: &[Message]) -> String {
    let said: Vec<&Message> = messages
        .iter()
        .filter(|m| m.event.is_none() && !m.internal && !m.preview_text().trim().is_empty())
        .collect();
    let customer: Vec<&str> = said
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.text.as_str())
        .collect();
    let mut parts: Vec<String> = previous
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| vec![p.to_owned()])
        .unwrap_or_default();
    let facts = references(&customer);
    if let Some(first) = customer.first() {
        let mut line = format!("Customer asked: “{}”", clip(first.trim(), 140));
        if !facts.is_empty() {
            line.push_str(&format!(" ({})", facts.join(", ")));
        }
        line.push('.');
        parts.push(line);
    }
    // The last real answer (an agent's or the AI's) says more than the bot's notices.
    let answered = |bot: bool| {
        said.iter().rev().find(move |m| match m.author {
            Author::Agent { .. } | Author::Ai => true,
            Author::Bot => bot,
            _ => false,
        })
    };
    if let Some(answer) = answered(false).or_else(|| answered(true)) {
        let who = match answer.author {
            Author::Agent { .. } => "Agent",
            Author::Ai => "AI",
            _ => "Bot",
        };
        parts.push(format!(
            "{who} answered: “{}”.",
            clip(answer.preview_text().trim(), 200)
        ));
    }
    let mut out = parts.join(" ");
    while out.chars().count() > HISTORY_SUMMARY_MAX_CHARS {
        // Drop the oldest sentence (up to the first ". ").
        match out.find(". ") {
            Some(i) => out = out[i + 2..].to_owned(),
            None => {
                out = clip(&out, HISTORY_SUMMARY_MAX_CHARS);
                break;
            }
        }
    }
    out
}

/// The first `n` non-empty lines of `text`, joined by spaces.
fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Order and ticket numbers: `#1024` (with the word before it when it names a thing), or a
/// reference word followed by a number (`ticket 88`). In order of first mention, no repeats.
fn references(texts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in texts {
        let words: Vec<&str> = text.split_whitespace().collect();
        for (i, raw) in words.iter().enumerate() {
            let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '#');
            let prev = i.checked_sub(1).map(|p| {
                words[p]
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            });
            let named = prev
                .as_deref()
                .filter(|p| REFERENCE_WORDS.contains(p))
                .map(str::to_owned);
            let found = if let Some(num) = word.strip_prefix('#').filter(|n| is_reference(n)) {
                Some(match named {
                    Some(what) => format!("{what} #{num}"),
                    None => format!("#{num}"),
                })
            } else if is_reference(word) && word.chars().any(|c| c.is_ascii_digit()) {
                named.map(|what| format!("{what} {word}"))
            } else {
                None
            };
            if let Some(f) = found
                && !out.contains(&f)
                && out.len() < 3
            {
                out.push(f);
            }
        }
    }
    out
}

/// 3–20 characters of digits (and letters, e.g. `A-1024`), with at least 3 digits.
fn is_reference(s: &str) -> bool {
    (3..=20).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.chars().filter(char::is_ascii_digit).count() >= 3
}

/// The first word of the first customer message that says what it is about: five letters or
/// more, not a stopword, not already part of a reference.
fn topic(text: &str, references: &[String]) -> Option<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .find(|w| {
            w.chars().count() >= 5
                && w.chars().all(char::is_alphabetic)
                && !STOPWORDS.contains(&w.as_str())
                && !references
                    .iter()
                    .any(|r| r.split(' ').next() == Some(w.as_str()))
        })
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars - 1).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentId, ChannelRef, ContactId, ConversationId, MessageId, Timestamp};
    use uuid::Uuid;

    fn msg(author: &Author, text: &str) -> Message {
        let mut m = Message::outbound(
            MessageId::from_uuid(Uuid::now_v7()),
            ConversationId::from_uuid(Uuid::nil()),
            author.clone(),
            Channel::Web,
            text.to_owned(),
            Timestamp::from_millis(1),
        );
        if matches!(author, Author::Contact { .. }) {
            m.direction = Direction::Inbound;
        }
        m
    }

    #[test]
    fn the_summary_names_the_order_the_topic_and_the_last_answer() {
        let contact = Author::Contact {
            id: ContactId::from_uuid(Uuid::nil()),
        };
        let agent = Author::Agent {
            id: AgentId::from_uuid(Uuid::nil()),
        };
        let messages = vec![
            msg(&contact, "Order #1024 has no tracking update"),
            msg(&agent, "I've asked the warehouse, you'll have it today."),
            msg(&contact, "Thanks! Also ticket 88123 please"),
        ];
        assert_eq!(
            handoff_summary(Channel::Web, &messages, Some("Ann")),
            "We've synced your conversation from the website (order #1024, ticket 88123, \
             tracking). Last answer from Ann: “I've asked the warehouse, you'll have it \
             today.”. Just tell us what you need."
        );
    }

    #[test]
    fn the_email_summary_has_the_subject_the_new_text_the_files_and_the_status() {
        use crate::{Attachment, AttachmentKind};
        let contact = Author::Contact {
            id: ContactId::from_uuid(Uuid::nil()),
        };
        let mut mail = msg(
            &contact,
            "The parcel arrived damaged.\n\nCan you refund it?\nThanks\nAnn",
        );
        mail.channel = Channel::Email;
        mail.channel_ref = Some(ChannelRef::Email(Box::new(crate::EmailRef {
            subject: Some("Refund for order #1024".into()),
            quoted: Some("> old text".into()),
            ..crate::EmailRef::new("a@b")
        })));
        mail.attachments = vec![
            Attachment::new(AttachmentKind::Image, "upload"),
            Attachment::new(AttachmentKind::File, "upload"),
        ];
        assert_eq!(
            email_summary(&[mail.clone()], ConversationStatus::Assigned, Some("Ann")),
            "Your e-mail “Refund for order #1024” is here now. You wrote: “The parcel arrived \
             damaged. Can you refund it? Thanks”. 2 files. Status: with Ann. Just reply here."
        );
        mail.channel_ref = None;
        mail.attachments.clear();
        assert_eq!(
            email_summary(&[mail], ConversationStatus::Queued, None),
            "Your e-mail is here now. You wrote: “The parcel arrived damaged. Can you refund \
             it? Thanks”. Status: waiting for our team. Just reply here."
        );
    }

    #[test]
    fn an_empty_conversation_still_gets_a_clear_sentence() {
        assert_eq!(
            handoff_summary(Channel::Web, &[], None),
            "We've synced your conversation from the website. Just tell us what you need."
        );
    }

    #[test]
    fn the_history_summary_keeps_the_facts_and_the_last_real_answer() {
        let customer = Author::Contact {
            id: ContactId::from_uuid(Uuid::nil()),
        };
        let msgs = vec![
            msg(&customer, "Where is my order #1024?"),
            msg(&Author::Ai, "It left our warehouse on Monday."),
            msg(
                &Author::Bot,
                "A member of our team will answer here shortly.",
            ),
        ];
        let s = extractive_summary(Some("Earlier: a question about returns."), &msgs);
        assert_eq!(
            s,
            "Earlier: a question about returns. Customer asked: “Where is my order #1024?” \
             (order #1024). AI answered: “It left our warehouse on Monday.”."
        );
        let long = "x".repeat(2000);
        let s = extractive_summary(Some(&long), &msgs);
        assert!(
            s.chars().count() <= HISTORY_SUMMARY_MAX_CHARS,
            "{}",
            s.len()
        );
    }

    #[test]
    fn the_summary_counts_the_files_that_came_along() {
        use crate::{Attachment, AttachmentKind};
        let contact = Author::Contact {
            id: ContactId::from_uuid(Uuid::nil()),
        };
        let mut photo = msg(&contact, "");
        photo.attachments = vec![
            Attachment::new(AttachmentKind::Image, "upload"),
            Attachment::new(AttachmentKind::File, "upload"),
        ];
        let mut place = msg(&contact, "Here is my order 55512");
        place.attachments = vec![Attachment::location(1.0, 2.0)];
        assert_eq!(
            handoff_summary(Channel::Web, &[photo.clone(), place], None),
            "We've synced your conversation from the website (order 55512, 2 files). Just tell \
             us what you need."
        );
        photo.attachments.truncate(1);
        assert_eq!(
            handoff_summary(Channel::Web, &[photo], None),
            "We've synced your conversation from the website (1 file). Just tell us what you \
             need."
        );
    }
}
