use serde::{Deserialize, Serialize};

use crate::{
    AgentId, Attachment, BotId, Channel, ChannelPath, ContactId, ConversationId, EmailAddress,
    LanguageTag, MessageId, TelegramChatId, Timestamp,
};

/// Whether the customer sent the message or it goes out to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Author {
    Contact { id: ContactId },
    Agent { id: AgentId },
    Bot,
    Ai,
    System,
}

impl Author {
    /// `contact`, `agent`, `bot`, `ai` or `system`.
    pub fn kind(&self) -> &'static str {
        match self {
            Author::Contact { .. } => "contact",
            Author::Agent { .. } => "agent",
            Author::Bot => "bot",
            Author::Ai => "ai",
            Author::System => "system",
        }
    }
    /// Whether this is a timeline event rather than something a person or bot said.
    pub fn is_system(&self) -> bool {
        matches!(self, Author::System)
    }
}

/// A text translated into another language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    pub language: LanguageTag,
    pub text: String,
    /// Which provider produced it ("deepl", "amazon-translate", …).
    pub provider: String,
}

/// Where a message's translation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TranslationStatus {
    /// A translation job is queued or running. Outbound: the reply waits for it (at most the
    /// deployment's wait) before it is sent.
    Pending {
        /// Outbound: the customer's language the reply is translated into.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<LanguageTag>,
    },
    /// Translated: `translations` holds the texts. Outbound: `target`'s translation is what
    /// the customer received.
    Done {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<LanguageTag>,
    },
    /// No translation needed (the readers read the source language, or the provider saw the
    /// text is already in the target language).
    NotNeeded,
    /// The translation failed. Inbound: the original is shown with this marker while
    /// `retrying`. Outbound: the reply is held until the agent decides (send the original, or
    /// retry) unless `retrying`.
    Failed {
        reason: String,
        #[serde(default)]
        retrying: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<LanguageTag>,
    },
    /// The agent chose to send the original text untranslated.
    SentOriginal,
}

impl TranslationStatus {
    /// Whether an outbound reply in this state is held back from the sender.
    pub fn holds_reply(&self) -> bool {
        matches!(
            self,
            TranslationStatus::Pending { .. } | TranslationStatus::Failed { .. }
        )
    }
}

/// Where the message is on its channel, to reply, thread or edit it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelRef {
    /// Telegram message ids (several when a long text was split).
    Telegram {
        bot_id: BotId,
        chat_id: TelegramChatId,
        message_ids: Vec<i32>,
    },
    /// An e-mail (boxed: it is much larger than the other references).
    Email(Box<EmailRef>),
    /// A widget message id.
    Web { id: String },
}

/// Where an e-mail is: its `Message-ID` (without angle brackets) and what threading and the
/// dashboard need of its headers. Outgoing: the id the mail provider reported (SES replaces
/// ours), with ours in `references`' last place when it differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRef {
    pub message_id: String,
    /// The subject line, decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The customer's address: the sender of an inbound mail, the recipient of ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<EmailAddress>,
    /// Our mailbox that received it or sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<EmailAddress>,
    /// `References` (oldest first) and `In-Reply-To`, without angle brackets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Quoted history and signature below the new text: kept, folded in the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<String>,
    /// Blob key of the sanitised HTML body, when the mail had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Blob key of the raw message as received (or sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Why the mail is automatic (an auto-reply, a list mail, a delivery report), when it
    /// is: nothing automatic answers it, and summaries skip it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<String>,
}

impl EmailRef {
    /// A reference to the mail `message_id`, nothing else known.
    pub fn new(message_id: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            subject: None,
            customer: None,
            mailbox: None,
            references: Vec::new(),
            quoted: None,
            html: None,
            raw: None,
            automatic: None,
        }
    }
}

/// Where an outgoing message is on its way; inbound messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Queued for the sender.
    Sending,
    /// Accepted by the channel.
    Sent,
    /// Will not be delivered; see the reason.
    Failed,
    /// An inbound message, stored.
    Received,
}

/// Delivery state of a message, with the reason of a failure an agent can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Send attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    pub updated_at: Timestamp,
}

impl Delivery {
    /// Delivery of a stored inbound message.
    pub fn received(at: Timestamp) -> Self {
        Self {
            status: DeliveryStatus::Received,
            reason: None,
            attempts: 0,
            updated_at: at,
        }
    }
    /// A new outgoing message waiting for the sender.
    pub fn sending(at: Timestamp) -> Self {
        Self {
            status: DeliveryStatus::Sending,
            reason: None,
            attempts: 0,
            updated_at: at,
        }
    }
}

/// Events shown in the timeline between messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    Assigned {
        agent: AgentId,
        by: Option<AgentId>,
    },
    Transferred {
        from: AgentId,
        to: AgentId,
        by: Option<AgentId>,
    },
    Unassigned {
        agent: AgentId,
        by: Option<AgentId>,
    },
    Resolved {
        by: Option<AgentId>,
    },
    Reopened,
    /// The customer moved, e.g. "Website → Telegram".
    ChannelSwitched {
        path: ChannelPath,
    },
    /// The contact cannot be reached on a channel any more.
    ContactUnreachable {
        channel: Channel,
        reason: String,
    },
    /// The customer undid a channel link (e.g. "Continue on Telegram"): replies no longer go
    /// there.
    ChannelUnlinked {
        channel: Channel,
    },
    /// Two contacts proved to be one person: `from` was merged into `into` (by an agent, or
    /// automatically on proof such as a redeemed "continue on Telegram" link).
    ContactsMerged {
        from: crate::ContactId,
        into: crate::ContactId,
        #[serde(default)]
        by: Option<AgentId>,
    },
    /// Something that happened in the customer's chat that is not a message (a member joined,
    /// the group was renamed, a payment went through), in the channel's words.
    Notice {
        text: String,
    },
    /// The bot or the AI handed the conversation to people, and why (the customer asked for
    /// a person, no answer in the knowledge base, the model's decision, a provider failure…).
    HandedOver {
        reason: String,
    },
    /// An agent gave the conversation back to the bot and the AI.
    HandedBack {
        #[serde(default)]
        by: Option<AgentId>,
    },
}

impl SystemEvent {
    /// One line for people; agent ids are resolved to names by the dashboard.
    pub fn describe(&self) -> String {
        match self {
            SystemEvent::Assigned { .. } => "Assigned".to_owned(),
            SystemEvent::Transferred { .. } => "Transferred".to_owned(),
            SystemEvent::Unassigned { .. } => "Returned to the queue".to_owned(),
            SystemEvent::Resolved { .. } => "Resolved".to_owned(),
            SystemEvent::Reopened => "Reopened".to_owned(),
            SystemEvent::ChannelSwitched { path } => {
                format!("{} → {}", path.from.label(), path.to.label())
            }
            SystemEvent::ContactUnreachable { channel, reason } => {
                format!("Unreachable on {}: {reason}", channel.label())
            }
            SystemEvent::ChannelUnlinked { channel } => {
                format!("{} unlinked by the customer", channel.label())
            }
            SystemEvent::ContactsMerged { by: None, .. } => {
                "Contacts merged (the same person proved it)".to_owned()
            }
            SystemEvent::ContactsMerged { by: Some(_), .. } => {
                "Contacts merged by an agent".to_owned()
            }
            SystemEvent::Notice { text } => text.clone(),
            SystemEvent::HandedOver { reason } => format!("Handed to a person: {reason}"),
            SystemEvent::HandedBack { .. } => "Handed back to the AI".to_owned(),
        }
    }
}

/// One message of a conversation (or a system event in its timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    #[serde(default)]
    pub language: Option<LanguageTag>,
    #[serde(default)]
    pub translations: Vec<Translation>,
    /// Where the translation stands (absent: the deployment translates nothing, or the
    /// message predates translation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<TranslationStatus>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub channel_ref: Option<ChannelRef>,
    pub delivery: Delivery,
    /// Set for timeline events (`author` is then `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<SystemEvent>,
    /// The source event this message came from (`tg:<bot>:<update_id>`), unique: storing the
    /// same source twice is a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    pub created_at: Timestamp,
    /// When the customer last edited the message on their channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// The texts the message had before its edits, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edit_history: Vec<PreviousText>,
    /// The message this one replies to, quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    /// Who the customer forwarded this message from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<String>,
    /// The channel's album id: the messages of one album (Telegram `media_group_id`) are one
    /// message with several attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// Choices offered with an outgoing message (a Telegram inline keyboard, widget buttons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// How many times the content was changed after the message was stored (edits, album
    /// parts, fetched files): the version [`MessageContent`] updates are checked against.
    #[serde(default, skip_serializing_if = "crate::is_zero")]
    pub revision: u32,
    /// An internal note: shown to agents, never sent to the customer (e.g. an AI answer
    /// dropped because a person took the conversation while it was written).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// The part of a stored message that changes after it was stored: an edit on the channel, the
/// next photo of an album, a file fetched into blob storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContent {
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub edited_at: Option<Timestamp>,
    pub edit_history: Vec<PreviousText>,
    /// The revision this content becomes; the stored message must be at `revision - 1`.
    pub revision: u32,
    #[serde(default)]
    pub translations: Vec<Translation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<TranslationStatus>,
}

/// A text a message had before an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousText {
    pub text: String,
    /// Until when it was the text.
    pub replaced_at: Timestamp,
}

/// The message a customer replied to, as they saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Its text (or a description of its attachment), shortened.
    pub text: String,
    /// Who wrote it, as the channel names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// A choice offered to the customer: a button showing `text` that answers `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    /// What the choice means to the router (at most 64 bytes: Telegram's `callback_data`).
    pub data: String,
}

impl Message {
    /// The blob keys this message names: its files, and an e-mail's sanitised HTML and raw
    /// message (what an erasure or retention deletes with it).
    pub fn blob_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .attachments
            .iter()
            .filter_map(|a| a.blob.clone())
            .collect();
        if let Some(mail) = self.email_ref() {
            keys.extend(mail.html.iter().chain(mail.raw.iter()).cloned());
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// The e-mail this message is, if it is one.
    pub fn email_ref(&self) -> Option<&EmailRef> {
        match &self.channel_ref {
            Some(ChannelRef::Email(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether the customer's channel marked this message automatic (an out-of-office reply).
    pub fn is_automatic(&self) -> bool {
        self.email_ref().is_some_and(|e| e.automatic.is_some())
    }

    /// The content as it is, as the next revision: change it and store it with
    /// `MessageStore::update_content`.
    pub fn next_content(&self) -> MessageContent {
        MessageContent {
            text: self.text.clone(),
            attachments: self.attachments.clone(),
            edited_at: self.edited_at,
            edit_history: self.edit_history.clone(),
            revision: self.revision.saturating_add(1),
            translations: self.translations.clone(),
            translation: self.translation.clone(),
        }
    }

    /// Applies stored content.
    pub fn set_content(&mut self, content: MessageContent) {
        self.text = content.text;
        self.attachments = content.attachments;
        self.edited_at = content.edited_at;
        self.edit_history = content.edit_history;
        self.revision = content.revision;
        self.translations = content.translations;
        self.translation = content.translation;
    }

    /// The text the customer receives: for a reply translated into the customer's language,
    /// that translation; otherwise the text as written.
    pub fn outgoing_text(&self) -> &str {
        if let Some(TranslationStatus::Done {
            target: Some(target),
        }) = &self.translation
            && let Some(t) = self.translations.iter().find(|t| &t.language == target)
        {
            return &t.text;
        }
        &self.text
    }

    /// Whether this is a reply held back from the customer until it is translated (or the
    /// agent decides after the translation failed).
    pub fn is_held_for_translation(&self) -> bool {
        self.direction == Direction::Outbound
            && self
                .translation
                .as_ref()
                .is_some_and(TranslationStatus::holds_reply)
    }

    /// The translation into `language` (or into a language with the same primary subtag).
    pub fn translation_into(&self, language: &LanguageTag) -> Option<&Translation> {
        self.translations
            .iter()
            .find(|t| &t.language == language)
            .or_else(|| {
                self.translations
                    .iter()
                    .find(|t| t.language.primary() == language.primary())
            })
    }

    /// The text for places that show one line (previews, summaries): the text, or what the
    /// attachments are.
    pub fn preview_text(&self) -> String {
        if !self.text.trim().is_empty() || self.attachments.is_empty() {
            return self.text.clone();
        }
        self.attachments
            .iter()
            .map(Attachment::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Message {
    /// A timeline event in `conversation`.
    pub fn system(
        id: MessageId,
        conversation: ConversationId,
        channel: Channel,
        event: SystemEvent,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            conversation_id: conversation,
            direction: Direction::Outbound,
            author: Author::System,
            channel,
            text: event.describe(),
            language: None,
            translations: Vec::new(),
            translation: None,
            attachments: Vec::new(),
            channel_ref: None,
            delivery: Delivery {
                status: DeliveryStatus::Sent,
                reason: None,
                attempts: 0,
                updated_at: now,
            },
            event: Some(event),
            source_key: None,
            created_at: now,
            edited_at: None,
            edit_history: Vec::new(),
            reply_to: None,
            forwarded_from: None,
            album: None,
            buttons: Vec::new(),
            revision: 0,
            internal: false,
        }
    }

    /// An outgoing text (agent, bot or AI) waiting for the sender.
    pub fn outbound(
        id: MessageId,
        conversation: ConversationId,
        author: Author,
        channel: Channel,
        text: String,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            conversation_id: conversation,
            direction: Direction::Outbound,
            author,
            channel,
            text,
            language: None,
            translations: Vec::new(),
            translation: None,
            attachments: Vec::new(),
            channel_ref: None,
            delivery: Delivery::sending(now),
            event: None,
            source_key: None,
            created_at: now,
            edited_at: None,
            edit_history: Vec::new(),
            reply_to: None,
            forwarded_from: None,
            album: None,
            buttons: Vec::new(),
            revision: 0,
            internal: false,
        }
    }
}

/// Telegram's `sendMessage` limit, in UTF-16 code units (how Telegram counts characters).
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Splits a text into parts of at most `limit` UTF-16 code units, preferring to cut after a
/// newline, then after a space; never inside a character. Empty input gives no parts.
pub fn split_for_telegram(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(2);
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut units = 0;
        let mut hard = rest.len();
        for (i, c) in rest.char_indices() {
            if units + c.len_utf16() > limit {
                hard = i;
                break;
            }
            units += c.len_utf16();
        }
        if hard == rest.len() {
            parts.push(rest.to_owned());
            break;
        }
        let window = &rest[..hard];
        let cut = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .map(|i| i + 1)
            .filter(|&i| i > hard / 2)
            .unwrap_or(hard);
        parts.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_for_telegram("hello", 4096), vec!["hello"]);
        assert!(split_for_telegram("", 4096).is_empty());
    }

    #[test]
    fn long_text_splits_at_spaces_and_keeps_every_character() {
        let text = "word ".repeat(2000);
        let parts = split_for_telegram(&text, TELEGRAM_TEXT_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(
            parts
                .iter()
                .all(|p| p.encode_utf16().count() <= TELEGRAM_TEXT_LIMIT)
        );
        assert!(parts[0].ends_with(' '));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn astral_characters_count_as_two_units_and_are_never_cut() {
        let text = "😀".repeat(3000); // 6000 UTF-16 units, no spaces
        let parts = split_for_telegram(&text, TELEGRAM_TEXT_LIMIT);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].encode_utf16().count(), 4096);
        assert_eq!(parts.concat(), text);
    }
}
