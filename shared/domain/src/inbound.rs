use serde::{Deserialize, Serialize};

use crate::{
    Attachment, BotId, ConversationKey, TelegramChatId, TelegramUserId, Timestamp, UpdateId,
};

/// The kind of Telegram chat an update came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Private,
    Group,
    Supergroup,
    Channel,
}

/// The Telegram user who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramSender {
    pub user_id: TelegramUserId,
    pub is_bot: bool,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// IETF tag of the user's Telegram client language, as Telegram sends it.
    #[serde(default)]
    pub language_code: Option<String>,
}

impl TelegramSender {
    /// "First Last", or the username, or the numeric id.
    pub fn display_name(&self) -> String {
        let mut name = self.first_name.trim().to_owned();
        if let Some(last) = self
            .last_name
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(last);
        }
        if name.is_empty() {
            name = self
                .username
                .clone()
                .map(|u| format!("@{u}"))
                .unwrap_or_else(|| format!("Telegram user {}", self.user_id));
        }
        name
    }
}

/// A Telegram update, normalised. Kinds the router does not handle yet (edits, callbacks,
/// member changes, …) are kept with `kind` set and `text` empty rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramInbound {
    pub bot_id: BotId,
    pub update_id: UpdateId,
    /// `message`, `edited_message`, `callback_query`, `my_chat_member`, … or `unknown`.
    pub kind: String,
    #[serde(default)]
    pub chat_id: Option<TelegramChatId>,
    #[serde(default)]
    pub chat_kind: Option<ChatKind>,
    #[serde(default)]
    pub chat_title: Option<String>,
    #[serde(default)]
    pub from: Option<TelegramSender>,
    #[serde(default)]
    pub message_id: Option<i32>,
    /// Text or caption.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// `@usernames` mentioned in the text (without `@`).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// The sender of the message this one replies to, if it is a reply.
    #[serde(default)]
    pub reply_to_user: Option<TelegramUserId>,
    /// When Telegram says the message was sent.
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
}

impl TelegramInbound {
    /// The idempotency key of the update: `tg:<bot>:<update_id>`.
    pub fn source_key(&self) -> String {
        format!("tg:{}:{}", self.bot_id, self.update_id)
    }

    /// Whether a group message addresses the bot (mentions it, replies to it, or is a
    /// command to it). Private-chat messages always do.
    pub fn addresses_bot(&self, bot_username: Option<&str>) -> bool {
        match self.chat_kind {
            Some(ChatKind::Private) => true,
            Some(ChatKind::Group | ChatKind::Supergroup) => {
                let replied = self
                    .reply_to_user
                    .is_some_and(|u| u.0 as i64 == self.bot_id.get());
                let mentioned = bot_username.is_some_and(|name| {
                    self.mentions.iter().any(|m| m.eq_ignore_ascii_case(name))
                        || self.text.as_deref().is_some_and(|t| {
                            t.split_whitespace()
                                .next()
                                .and_then(|w| w.split_once('@'))
                                .is_some_and(|(cmd, at)| {
                                    cmd.starts_with('/') && at.eq_ignore_ascii_case(name)
                                })
                        })
                });
                replied || mentioned
            }
            _ => false,
        }
    }

    /// The conversation this message belongs to: per private chat, or per group and user.
    pub fn conversation_key(&self) -> Option<ConversationKey> {
        let chat = self.chat_id?;
        match self.chat_kind? {
            ChatKind::Private => Some(ConversationKey::telegram_private(self.bot_id, chat)),
            ChatKind::Group | ChatKind::Supergroup => Some(ConversationKey::telegram_group(
                self.bot_id,
                chat,
                self.from.as_ref()?.user_id,
            )),
            ChatKind::Channel => None,
        }
    }
}

/// Where an inbound event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum InboundSource {
    Telegram(TelegramInbound),
}

/// Something a customer did on a channel, verified and normalised by an ingest function,
/// waiting in the inbound queue for the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub source: InboundSource,
    pub received_at: Timestamp,
}

impl InboundEvent {
    /// The idempotency key of the source event (queue deduplication id, message source key).
    pub fn source_key(&self) -> String {
        match &self.source {
            InboundSource::Telegram(t) => t.source_key(),
        }
    }

    /// The FIFO group: events of one chat are processed in order; others in parallel.
    pub fn group_key(&self) -> String {
        match &self.source {
            InboundSource::Telegram(t) => match t.chat_id {
                Some(chat) => format!("tg:{}:{}", t.bot_id, chat),
                None => format!("tg:{}:nochat", t.bot_id),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_msg(text: &str) -> TelegramInbound {
        TelegramInbound {
            bot_id: BotId::parse("77").unwrap(),
            update_id: UpdateId(1),
            kind: "message".into(),
            chat_id: Some(TelegramChatId(-100)),
            chat_kind: Some(ChatKind::Supergroup),
            chat_title: Some("Group".into()),
            from: Some(TelegramSender {
                user_id: TelegramUserId(5),
                is_bot: false,
                first_name: "Ann".into(),
                last_name: None,
                username: None,
                language_code: None,
            }),
            message_id: Some(3),
            text: Some(text.into()),
            attachments: vec![],
            mentions: vec![],
            reply_to_user: None,
            sent_at: None,
        }
    }

    #[test]
    fn group_messages_address_the_bot_only_by_mention_reply_or_command() {
        assert!(!group_msg("hello all").addresses_bot(Some("shop_bot")));
        let mut m = group_msg("@Shop_Bot help");
        m.mentions = vec!["Shop_Bot".into()];
        assert!(m.addresses_bot(Some("shop_bot")));
        assert!(group_msg("/help@shop_bot").addresses_bot(Some("shop_bot")));
        let mut r = group_msg("thanks");
        r.reply_to_user = Some(TelegramUserId(77));
        assert!(r.addresses_bot(None));
    }

    #[test]
    fn group_conversations_are_per_group_and_user() {
        assert_eq!(
            group_msg("x").conversation_key().unwrap().as_str(),
            "tg:77:-100:5"
        );
        assert_eq!(group_msg("x").source_key(), "tg:77:1");
    }
}
