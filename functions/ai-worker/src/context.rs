//! The context the AI answers with — where the customer came from, the summary of what went
//! before, the last messages across every channel, who the customer is, the FAQ entries that
//! match — and the prompt made of it.

use omnidesk_core::{ChatMessage, ChatRequest};
use omnidesk_domain::{
    Author, Channel, Contact, Conversation, Direction, Message, SystemEvent, Timestamp,
};

/// One message of the recent history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub who: &'static str,
    pub channel: Channel,
    pub text: String,
    pub at: Timestamp,
}

/// A channel the customer used before the current one, and when they left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub channel: Channel,
    pub left_at: Option<Timestamp>,
}

/// Everything the AI is given about a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub current: Option<Channel>,
    pub previous: Vec<Previous>,
    pub summary: Option<String>,
    /// The last messages in full, oldest first (the latest message last).
    pub recent: Vec<Line>,
    /// Earlier messages not yet folded into the summary, oldest first.
    pub unsummarised: Vec<Message>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Vec<(String, String)>,
    /// Retrieved FAQ entries: (question, answer).
    pub faq: Vec<(String, String)>,
    pub latest: String,
}

/// Whether a stored message is part of what was said (not a timeline event, not a note).
pub fn is_said(m: &Message) -> bool {
    m.event.is_none() && !m.internal && !m.preview_text().trim().is_empty()
}

/// Whether `m` came after what the conversation's summary holds.
fn after_summary(conversation: &Conversation, m: &Message) -> bool {
    conversation
        .summary
        .as_ref()
        .is_none_or(|s| m.created_at > s.through)
}

/// What was said in `newest_first` (messages as the store lists them) that the summary does
/// not hold yet, oldest first: what the next fold takes in.
pub fn unsummarised(conversation: &Conversation, newest_first: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = newest_first
        .into_iter()
        .filter(|m| is_said(m) && after_summary(conversation, m))
        .collect();
    out.reverse();
    out
}

fn who(m: &Message) -> &'static str {
    match (&m.author, m.direction) {
        (Author::Contact { .. }, _) | (_, Direction::Inbound) => "customer",
        (Author::Agent { .. }, _) => "agent",
        (Author::Ai, _) => "ai",
        (Author::Bot, _) => "bot",
        (Author::System, _) => "system",
    }
}

/// Builds the context from the conversation, its contact and its messages (newest first, as
/// the store lists them): the last `history` messages said, within `history_tokens` (about 4
/// characters a token; the latest message always counts), and the earlier ones newer than the
/// stored summary as `unsummarised`. `answered` is the customer's message being answered (the
/// newest inbound one when `None`).
pub fn build(
    conversation: &Conversation,
    contact: Option<&Contact>,
    answered: Option<&Message>,
    newest_first: &[Message],
    history: usize,
    history_tokens: usize,
) -> Context {
    let mut oldest_first: Vec<&Message> = newest_first.iter().collect();
    oldest_first.reverse();
    // The channel path, with when each switch happened (from the timeline's events).
    let mut previous = Vec::new();
    let switches: Vec<(Channel, Timestamp)> = oldest_first
        .iter()
        .filter_map(|m| match &m.event {
            Some(SystemEvent::ChannelSwitched { path }) => Some((path.from, m.created_at)),
            _ => None,
        })
        .collect();
    let path = &conversation.channel_path;
    for (i, channel) in path.iter().enumerate().take(path.len().saturating_sub(1)) {
        // The i-th switch left path[i]; the events may be fewer when the history is long.
        let left_at = switches
            .iter()
            .filter(|(from, _)| from == channel)
            .nth(path[..i].iter().filter(|c| *c == channel).count())
            .map(|(_, at)| *at);
        previous.push(Previous {
            channel: *channel,
            left_at,
        });
    }
    let mut said: Vec<&Message> = oldest_first.into_iter().filter(|m| is_said(m)).collect();
    // In the order they were received (a channel's own dates can lag behind ours).
    said.sort_by_key(|m| m.created_at);
    let mut budget = history_tokens.saturating_mul(4);
    let mut start = said.len();
    while start > 0 && said.len() - start < history {
        let len = said[start - 1].preview_text().chars().count();
        if len > budget && start != said.len() {
            break;
        }
        budget = budget.saturating_sub(len);
        start -= 1;
    }
    let unsummarised = said[..start]
        .iter()
        .filter(|m| after_summary(conversation, m))
        .map(|m| (*m).clone())
        .collect();
    let recent: Vec<Line> = said[start..]
        .iter()
        .map(|m| Line {
            who: who(m),
            channel: m.channel,
            text: m.preview_text(),
            at: m.created_at,
        })
        .collect();
    let latest = match answered {
        Some(m) => m.preview_text(),
        None => said
            .iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound)
            .map(|m| m.preview_text())
            .unwrap_or_default(),
    };
    Context {
        current: Some(conversation.channel),
        previous,
        summary: conversation.summary.as_ref().map(|s| s.text.clone()),
        recent,
        unsummarised,
        name: contact.map(|c| c.display_name.clone()),
        // The language of the message answered first: a customer who switches language is
        // answered in the one they write now.
        language: answered
            .and_then(|m| m.language.as_ref())
            .or(conversation.language.as_ref())
            .or(contact.and_then(|c| c.language.as_ref()))
            .map(|l| l.as_str().to_owned()),
        tags: contact
            .map(|c| c.tags.iter().map(|t| t.as_str().to_owned()).collect())
            .unwrap_or_default(),
        attributes: contact
            .map(|c| {
                c.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        faq: Vec::new(),
        latest,
    }
}

fn time(at: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.millis())
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The context as the model reads it (also what an agent reviews in the call log).
pub fn render(ctx: &Context) -> String {
    let mut out = String::new();
    if let Some(c) = ctx.current {
        out.push_str(&format!("Current channel: {}\n", c.label()));
    }
    if !ctx.previous.is_empty() {
        let list: Vec<String> = ctx
            .previous
            .iter()
            .map(|p| match p.left_at {
                Some(at) => format!(
                    "{} ({}, left {})",
                    p.channel.as_str(),
                    p.channel.label(),
                    time(at)
                ),
                None => format!("{} ({})", p.channel.as_str(), p.channel.label()),
            })
            .collect();
        out.push_str(&format!("Previous channels: {}\n", list.join(", ")));
    }
    let mut profile = Vec::new();
    if let Some(n) = &ctx.name {
        profile.push(format!("name: {n}"));
    }
    if let Some(l) = &ctx.language {
        profile.push(format!("language: {l}"));
    }
    if !ctx.tags.is_empty() {
        profile.push(format!("tags: {}", ctx.tags.join(", ")));
    }
    for (k, v) in &ctx.attributes {
        profile.push(format!("{k}: {v}"));
    }
    if !profile.is_empty() {
        out.push_str(&format!("Customer: {}\n", profile.join("; ")));
    }
    if let Some(s) = &ctx.summary {
        out.push_str(&format!("Summary of earlier history: {s}\n"));
    }
    if !ctx.faq.is_empty() {
        out.push_str("FAQ entries that may apply:\n");
        for (q, a) in &ctx.faq {
            out.push_str(&format!("- Q: {q}\n  A: {a}\n"));
        }
    }
    if !ctx.recent.is_empty() {
        out.push_str("Recent messages (oldest first):\n");
        for l in &ctx.recent {
            out.push_str(&format!(
                "[{} {}] {}: {}\n",
                l.channel.as_str(),
                time(l.at),
                l.who,
                l.text.trim()
            ));
        }
    }
    out.push_str(&format!("Latest message: {}\n", ctx.latest.trim()));
    out
}

/// The instructions of an answer: the structured decision, the guardrails, the language.
fn answer_rules(language: Option<&str>) -> String {
    let language = match language {
        Some(l) => format!("the customer's language ({l})"),
        None => "the language of the customer's latest message".to_owned(),
    };
    format!(
        "You are the first-line customer-service assistant of this company. Answer the \
         customer's latest message using ONLY facts from the conversation, its summary, the \
         customer's profile and the FAQ entries given. Never promise refunds, compensation, \
         delivery dates or times, or actions you cannot take (cancelling, changing, calling, \
         escalating); never invent facts. When you cannot answer from what is given, when the \
         customer needs an action or a decision by a person, or when they are upset, hand \
         over. Write in {language}, briefly and politely.\n\
         Answer with one JSON object and nothing else: \
         {{\"action\":\"reply\",\"text\":\"<your answer to the customer>\"}} or \
         {{\"action\":\"handoff\",\"reason\":\"<why a person is needed, for the agent>\"}}."
    )
}

/// The request that asks the model to answer (or hand over).
pub fn answer_request(ctx: &Context, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(answer_rules(ctx.language.as_deref())),
            ChatMessage::user(render(ctx)),
        ],
        max_tokens,
        json: true,
        temperature: Some(0.2),
    }
}

/// The request that asks the model for a reply an agent may send (agent assist).
pub fn suggestion_request(ctx: &Context, max_tokens: u32) -> ChatRequest {
    let mut req = answer_request(ctx, max_tokens);
    req.messages[0].content.push_str(
        "\nAn agent will read your answer and may edit it before sending it: write it as \
         the agent's reply.",
    );
    req
}

/// The request that folds messages into the running summary.
pub fn summary_request(previous: Option<&str>, messages: &[Message]) -> ChatRequest {
    let mut text = String::new();
    if let Some(p) = previous {
        text.push_str(&format!("Summary so far: {p}\n"));
    }
    text.push_str("New messages (oldest first):\n");
    for m in messages.iter().filter(|m| is_said(m)) {
        text.push_str(&format!(
            "[{}] {}: {}\n",
            m.channel.as_str(),
            who(m),
            m.preview_text().trim()
        ));
    }
    ChatRequest {
        messages: vec![
            ChatMessage::system(
                "You keep the running summary of a customer-service conversation for the \
                 agents and the assistant. Update the summary with the new messages: what the \
                 customer wants, order or ticket numbers, what was answered or promised, and \
                 what is still open. At most 80 words, plain text, in English, no preamble.",
            ),
            ChatMessage::user(text),
        ],
        max_tokens: 200,
        json: false,
        temperature: Some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnidesk_domain::{ContactId, ConversationId, ConversationKey, MessageId};

    fn conv() -> Conversation {
        let mut c = Conversation::new(
            ConversationId::from_uuid(uuid::Uuid::now_v7()),
            ConversationKey::email("t1"),
            ContactId::from_uuid(uuid::Uuid::now_v7()),
            Channel::Web,
            Timestamp::from_millis(0),
        );
        c.switch_channel(Channel::Telegram);
        c
    }

    fn said(c: &Conversation, who: &Author, channel: Channel, text: &str, at: i64) -> Message {
        let mut m = Message::outbound(
            MessageId::from_uuid(uuid::Uuid::now_v7()),
            c.id,
            who.clone(),
            channel,
            text.to_owned(),
            Timestamp::from_millis(at),
        );
        if matches!(who, Author::Contact { .. }) {
            m.direction = Direction::Inbound;
        }
        m
    }

    #[test]
    fn the_prompt_names_the_channels_the_summary_and_the_earlier_messages() {
        let mut c = conv();
        let customer = Author::Contact { id: c.contact_id };
        let mut msgs = vec![
            said(&c, &customer, Channel::Web, "Where is order #1024?", 1_000),
            said(
                &c,
                &Author::Agent {
                    id: omnidesk_domain::AgentId::from_uuid(uuid::Uuid::now_v7()),
                },
                Channel::Web,
                "It is out for delivery.",
                2_000,
            ),
            Message::system(
                MessageId::from_uuid(uuid::Uuid::now_v7()),
                c.id,
                Channel::Telegram,
                SystemEvent::ChannelSwitched {
                    path: omnidesk_domain::ChannelPath {
                        from: Channel::Web,
                        to: Channel::Telegram,
                    },
                },
                Timestamp::from_millis(3_000),
            ),
            said(
                &c,
                &customer,
                Channel::Telegram,
                "when will it arrive?",
                4_000,
            ),
        ];
        c.summary = Some(omnidesk_domain::HistorySummary {
            text: "order #1024 is out for delivery".to_owned(),
            through: Timestamp::from_millis(500),
            updated_at: Timestamp::from_millis(500),
            generated: true,
        });
        msgs.reverse();
        let ctx = build(&c, None, None, &msgs, 12, 1500);
        let text = render(&ctx);
        assert!(text.contains("Current channel: Telegram"), "{text}");
        assert!(
            text.contains("Previous channels: web (Website, left 1970-01-01 00:00 UTC)"),
            "{text}"
        );
        assert!(
            text.contains("Summary of earlier history: order #1024"),
            "{text}"
        );
        assert!(text.contains("] customer: Where is order #1024?"), "{text}");
        assert!(text.contains("] agent: It is out for delivery."), "{text}");
        assert!(
            text.contains("Latest message: when will it arrive?"),
            "{text}"
        );
        assert!(ctx.unsummarised.is_empty());
    }

    #[test]
    fn messages_beyond_the_window_are_left_to_the_summary() {
        let c = conv();
        let customer = Author::Contact { id: c.contact_id };
        let mut msgs: Vec<Message> = (0..20)
            .map(|i| said(&c, &customer, Channel::Web, &format!("message {i}"), i * 10))
            .collect();
        msgs.reverse();
        let ctx = build(&c, None, None, &msgs, 12, 1500);
        assert_eq!(ctx.recent.len(), 12);
        assert_eq!(ctx.recent[0].text, "message 8");
        assert_eq!(ctx.unsummarised.len(), 8);
        // A token budget of 10 tokens (40 characters) keeps 4 messages of 9–10 characters.
        let ctx = build(&c, None, None, &msgs, 12, 10);
        assert_eq!(ctx.recent.len(), 4, "{:?}", ctx.recent);
    }
}
