use serde::{Deserialize, Serialize};

use crate::{
    Attachment, BotId, Channel, ChannelRef, ConversationKey, Identity, LanguageTag, Quote,
    TelegramChatId, TelegramUserId, Timestamp, UpdateId,
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

/// A Telegram update, normalised: messages and their edits (text or caption, attachments,
/// reply quote, forward origin, album, service notices), button presses (`callback_query`).
/// Kinds the router does not handle (member changes, reactions, …) are kept with `kind` set
/// and `text` empty rather than rejected. Every field but the first three has a default: this
/// is also a queue body of older builds.
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
    /// When Telegram says the message was sent (for an edit: when the original was sent).
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    /// An `edited_message`: when it was edited (`edit_date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// The album (`media_group_id`) the message is part of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// The message this one replies to, quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    /// Who the message was forwarded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<String>,
    /// A service message (a member joined, the title changed, a payment) in words; `None`
    /// for service messages nobody needs to see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// A `callback_query`: its id (to answer it), the pressed button's `callback_data` and
    /// its label (found in the keyboard of the message the button was on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_query_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_label: Option<String>,
}

impl TelegramInbound {
    /// An update of `kind` with nothing else known yet.
    pub fn new(bot_id: BotId, update_id: UpdateId, kind: impl Into<String>) -> Self {
        Self {
            bot_id,
            update_id,
            kind: kind.into(),
            chat_id: None,
            chat_kind: None,
            chat_title: None,
            from: None,
            message_id: None,
            text: None,
            attachments: Vec::new(),
            mentions: Vec::new(),
            reply_to_user: None,
            sent_at: None,
            edited_at: None,
            album: None,
            reply_to: None,
            forwarded_from: None,
            notice: None,
            callback_query_id: None,
            callback_data: None,
            callback_label: None,
        }
    }

    /// The stable id of the message on Telegram, the same for the message and its edits:
    /// `tg:<bot>:<chat>:<message_id>`.
    pub fn message_key(&self) -> Option<String> {
        Some(format!(
            "tg:{}:{}:{}",
            self.bot_id, self.chat_id?, self.message_id?
        ))
    }

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

/// A command the built-in bot answers (a channel's adapter recognises them; the router answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotCommand {
    /// Greeting (Telegram `/start`).
    Start,
    /// How to use the chat (Telegram `/help`).
    Help,
    /// Link an e-mail address after proving it (Telegram `/bind <address>`, then
    /// `/bind <code>`); the argument is in [`ChannelMessage::bind`].
    Bind,
}

/// A "continue on another channel" token presented by the customer (Telegram
/// `/start <token>`). The router redeems it: the identity joins the token's contact and the
/// conversation gains this channel's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Handoff {
    /// Presented where only the customer reads (a private chat): redeemable.
    Token { token: String },
    /// Presented in a shared chat (a group): refused, since anyone there could have sent it.
    SharedChat,
}

/// A customer's message, channel-neutral: what every ingest function produces and the one
/// router path consumes. Channel specifics (chat kinds, mentions, commands) were settled by the
/// channel's adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMessage {
    /// The routing key of the chat on its channel; its prefix names the channel.
    pub key: ConversationKey,
    /// Who wrote, as the channel proves it.
    pub identity: Identity,
    /// The name to give a new contact.
    pub display_name: String,
    /// The customer's language as the channel hints it (Telegram client language).
    #[serde(default)]
    pub language: Option<LanguageTag>,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Where the message is on its channel.
    #[serde(default)]
    pub channel_ref: Option<ChannelRef>,
    /// The idempotency key of the source event (stored once per key).
    pub source_key: String,
    /// The event's own time and order, when the channel gives them: the message id is then
    /// derived from the event, so a redelivery maps to the same stored message.
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    #[serde(default)]
    pub sequence: u32,
    /// A bot command, when the adapter recognised one.
    #[serde(default)]
    pub command: Option<BotCommand>,
    /// A continue-on-this-channel token, when the message carried one.
    #[serde(default)]
    pub handoff: Option<Handoff>,
    /// The id to give the conversation if this message starts one (an ingest function that
    /// answers with the conversation id picks it; otherwise the router does).
    #[serde(default)]
    pub new_conversation_id: Option<crate::ConversationId>,
    /// The message's own stable id on its channel (`tg:<bot>:<chat>:<message_id>`), the same
    /// for the message and its later edits: the stored message id is derived from it (with
    /// `sent_at` and `sequence`) when present, from `source_key` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<String>,
    /// Set when this event is an edit of the message `message_key` (made at this time): the
    /// stored message's text and attachments are replaced and the old text kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// The channel's album id (Telegram `media_group_id`): messages of one album are stored
    /// as one message with several attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// The message this one replies to, quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<crate::Quote>,
    /// Who the customer forwarded this message from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<String>,
    /// The `data` of the button the customer pressed (a Telegram `callback_query`); `text` is
    /// then the button's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// Not something the customer wrote but something that happened in their chat (a member
    /// joined, the title changed): shown as a timeline event with this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The channel asks for an acknowledgement when this message opens a conversation (an
    /// e-mail ticket: "we got it", with a link to continue on Telegram).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledge: bool,
    /// The Telegram bot the customer may continue on (an e-mail mailbox's bot): the
    /// acknowledgement carries a `t.me/<bot>?start=<token>` link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on: Option<BotId>,
    /// Why nothing automatic may answer this message (it is itself automatic: an
    /// auto-reply, a bulk or list mail, a delivery report); `None` for a person's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_auto_reply: Option<String>,
    /// The channel reports that the contact cannot be reached on it any more (a bounce), and
    /// why: the router marks them unreachable there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    /// The argument of a [`BotCommand::Bind`]: an address to send a code to, or the code.
    /// A code is a secret: the message's `text` then shows it masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
}

impl ChannelMessage {
    /// A plain text message: every optional field empty (set them with struct update syntax).
    pub fn new(
        key: ConversationKey,
        identity: Identity,
        display_name: impl Into<String>,
        text: impl Into<String>,
        source_key: impl Into<String>,
    ) -> Self {
        Self {
            key,
            identity,
            display_name: display_name.into(),
            language: None,
            text: text.into(),
            attachments: Vec::new(),
            channel_ref: None,
            source_key: source_key.into(),
            sent_at: None,
            sequence: 0,
            command: None,
            handoff: None,
            new_conversation_id: None,
            message_key: None,
            edited_at: None,
            album: None,
            reply_to: None,
            forwarded_from: None,
            choice: None,
            notice: None,
            acknowledge: false,
            continue_on: None,
            no_auto_reply: None,
            unreachable: None,
            bind: None,
        }
    }

    /// The key the stored message id is derived from: the channel's own message id when
    /// there is one (so an edit finds its message), the source event otherwise.
    pub fn id_source(&self) -> &str {
        self.message_key.as_deref().unwrap_or(&self.source_key)
    }

    /// The channel the message came from.
    pub fn channel(&self) -> Channel {
        self.key
            .channel()
            .or_else(|| self.identity.channel())
            .unwrap_or(Channel::Web)
    }
}

impl TelegramInbound {
    /// The channel-neutral message of this update, or `None` when there is nothing to route:
    /// another update kind, a bot, a channel post, group chatter that does not address the bot
    /// (`bot_username` decides mentions), or a service message nobody needs to see.
    ///
    /// - `message` and `edited_message` (with `edited_at`): `message_key` is
    ///   `tg:<bot>:<chat>:<message_id>`, `sent_at` the original date and `sequence` the message
    ///   id, so an edit derives the id of the message it edits.
    /// - `callback_query`: `text` is the pressed button's label, `choice` its data; in a group
    ///   the conversation is the presser's (a press on the bot's message addresses the bot).
    /// - A service message: `notice` (and `text`) say what happened, for the timeline.
    pub fn to_message(&self, bot_username: Option<&str>) -> Option<ChannelMessage> {
        let (from, key, chat) = (self.from.as_ref()?, self.conversation_key()?, self.chat_id?);
        if from.is_bot {
            return None;
        }
        let private = self.chat_kind == Some(ChatKind::Private);
        let base = |text: String| ChannelMessage {
            language: from
                .language_code
                .as_deref()
                .and_then(|l| LanguageTag::parse(l).ok()),
            ..ChannelMessage::new(
                key.clone(),
                Identity::Telegram {
                    bot_id: self.bot_id,
                    user_id: from.user_id,
                    username: from.username.clone(),
                },
                from.display_name(),
                text,
                self.source_key(),
            )
        };
        let edited = match self.kind.as_str() {
            "message" => false,
            "edited_message" => true,
            "callback_query" => {
                // A game's button carries no data: nothing to route.
                let data = self.callback_data.clone()?;
                let label = self
                    .callback_label
                    .clone()
                    .filter(|l| !l.trim().is_empty())
                    .unwrap_or_else(|| data.clone());
                return Some(ChannelMessage {
                    choice: Some(data),
                    ..base(label)
                });
            }
            _ => return None,
        };
        let located = |m: ChannelMessage| ChannelMessage {
            channel_ref: Some(ChannelRef::Telegram {
                bot_id: self.bot_id,
                chat_id: chat,
                message_ids: self.message_id.into_iter().collect(),
            }),
            sent_at: self.sent_at,
            sequence: self
                .message_id
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0),
            message_key: self.message_key(),
            ..m
        };
        if let Some(notice) = &self.notice {
            // Not addressed to anyone: the router shows it where the chat has a conversation.
            return (!edited).then(|| {
                located(ChannelMessage {
                    notice: Some(notice.clone()),
                    ..base(notice.clone())
                })
            });
        }
        let mut text = self.text.clone().unwrap_or_default();
        if text.trim().is_empty() && self.attachments.is_empty() {
            // A service message nobody needs, or content this build cannot read: never an
            // empty message in front of an agent.
            return None;
        }
        if !self.addresses_bot(bot_username) {
            return None;
        }
        let (command, payload) = telegram_command(&text);
        let payload = payload.map(str::to_owned);
        let payload = payload.as_deref();
        let handoff = match (command, payload) {
            (Some(BotCommand::Start), Some(token)) if private => Some(Handoff::Token {
                token: token.to_owned(),
            }),
            (Some(BotCommand::Start), Some(_)) => Some(Handoff::SharedChat),
            _ => None,
        };
        if handoff.is_some() {
            // The token is a secret (even once used): it is not kept in the timeline.
            text = "/start".to_owned();
        }
        let bind = match (command, payload) {
            (Some(BotCommand::Bind), Some(arg)) if private => {
                if arg.contains('@') {
                    text = format!("/bind {arg}");
                } else {
                    // A code proves the address: never kept where others read.
                    text = "/bind ••••••".to_owned();
                }
                Some(arg.to_owned())
            }
            _ => None,
        };
        let message = located(ChannelMessage {
            attachments: self.attachments.clone(),
            // Commands are answered in private chats only (a group's commands are for
            // people), and only when sent, not when edited.
            command: command.filter(|_| private && !edited),
            handoff: handoff.filter(|_| !edited),
            bind: bind.filter(|_| !edited),
            edited_at: if edited {
                self.edited_at.or(self.sent_at)
            } else {
                None
            },
            album: self.album.clone(),
            reply_to: self.reply_to.clone(),
            forwarded_from: self.forwarded_from.clone(),
            ..base(text)
        });
        // A message arrives in exactly one update, so its own key is as good an idempotency
        // key as the update's, and one key for both lets the store drop a redelivery on the
        // derived id alone (DynamoDB then writes no separate claim item). An edit keeps the
        // update's key: it is another event about the same message.
        Some(match (&message.message_key, edited) {
            (Some(k), false) => ChannelMessage {
                source_key: k.clone(),
                ..message
            },
            _ => message,
        })
    }
}

/// `/start`, `/start <payload>`, `/help`, `/bind <argument>`, also addressed as
/// `/help@botname`.
fn telegram_command(text: &str) -> (Option<BotCommand>, Option<&str>) {
    let mut words = text.split_whitespace();
    let Some(word) = words.next() else {
        return (None, None);
    };
    let command = match word.split('@').next() {
        Some("/start") => Some(BotCommand::Start),
        Some("/help") => Some(BotCommand::Help),
        Some("/bind") => Some(BotCommand::Bind),
        _ => None,
    };
    (command, command.and(words.next()))
}

/// Where an inbound event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum InboundSource {
    /// A channel-neutral message (every ingest function enqueues these).
    Message(ChannelMessage),
    /// A raw Telegram update, as queued by builds before the neutral pipeline; the router
    /// normalises it with [`TelegramInbound::to_message`].
    Telegram(TelegramInbound),
    /// The customer read their chat up to a message (a widget's read receipt).
    Read(ReadReceipt),
}

/// A read receipt: the customer of the chat `key` has read everything up to `up_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    pub key: ConversationKey,
    pub up_to: crate::MessageId,
    /// When that message was created (receipts compare times, not ids).
    pub up_to_at: Timestamp,
}

/// Something a customer did on a channel, verified and normalised by an ingest function,
/// waiting in the inbound queue for the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub source: InboundSource,
    pub received_at: Timestamp,
}

impl InboundEvent {
    /// A neutral message received now.
    pub fn message(message: ChannelMessage, received_at: Timestamp) -> Self {
        Self {
            source: InboundSource::Message(message),
            received_at,
        }
    }

    /// The idempotency key of the source event (queue deduplication id, message source key).
    pub fn source_key(&self) -> String {
        match &self.source {
            InboundSource::Message(m) => m.source_key.clone(),
            InboundSource::Telegram(t) => t.source_key(),
            InboundSource::Read(r) => format!("read:{}:{}", r.key, r.up_to),
        }
    }

    /// The FIFO group: events of one chat are processed in order; others in parallel.
    pub fn group_key(&self) -> String {
        match &self.source {
            InboundSource::Message(m) => m.key.as_str().to_owned(),
            InboundSource::Read(r) => r.key.as_str().to_owned(),
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
            ..TelegramInbound::new(BotId::parse("77").unwrap(), UpdateId(1), "message")
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

    fn private_msg(text: &str) -> TelegramInbound {
        let mut m = group_msg(text);
        m.chat_id = Some(TelegramChatId(5));
        m.chat_kind = Some(ChatKind::Private);
        m
    }

    #[test]
    fn a_private_start_with_a_payload_is_a_handoff_and_the_token_is_not_kept() {
        let m = private_msg("/start abcDEF_123-x").to_message(None).unwrap();
        assert_eq!(m.command, Some(BotCommand::Start));
        assert_eq!(
            m.handoff,
            Some(Handoff::Token {
                token: "abcDEF_123-x".into()
            })
        );
        assert_eq!(m.text, "/start");
        assert_eq!(m.channel(), Channel::Telegram);
        assert_eq!(m.key.as_str(), "tg:77:5");
        assert_eq!(
            m.source_key, "tg:77:5:3",
            "a message is keyed by itself, not its update"
        );
        let plain = private_msg("/help").to_message(None).unwrap();
        assert_eq!(
            (plain.command, plain.handoff),
            (Some(BotCommand::Help), None)
        );
        assert_eq!(private_msg("hello").to_message(None).unwrap().command, None);
    }

    #[test]
    fn a_group_start_with_a_token_is_refused_and_group_chatter_is_not_routed() {
        let m = group_msg("/start@shop_bot tok")
            .to_message(Some("shop_bot"))
            .unwrap();
        assert_eq!(m.handoff, Some(Handoff::SharedChat));
        assert_eq!(m.command, None);
        assert!(
            group_msg("hello all")
                .to_message(Some("shop_bot"))
                .is_none()
        );
        let mut edit = group_msg("x");
        edit.kind = "edited_message".into();
        assert!(edit.to_message(Some("shop_bot")).is_none());
    }

    #[test]
    fn a_private_edit_is_routed_with_the_key_of_the_message_it_edits() {
        let mut edit = private_msg("/start tok");
        edit.kind = "edited_message".into();
        edit.edited_at = Some(Timestamp::from_millis(5_000));
        edit.sent_at = Some(Timestamp::from_millis(1_000));
        let m = edit.to_message(None).unwrap();
        assert_eq!(m.message_key.as_deref(), Some("tg:77:5:3"));
        assert_eq!(m.edited_at, Some(Timestamp::from_millis(5_000)));
        assert_eq!((m.command, &m.handoff), (None, &None));
        assert_eq!(m.text, "/start");
        assert_eq!(m.id_source(), "tg:77:5:3");
    }

    #[test]
    fn a_legacy_queue_body_without_the_new_fields_still_reads() {
        let old = r#"{"bot_id":77,"update_id":1,"kind":"message","chat_id":5,
            "chat_kind":"private","text":"hi"}"#;
        let t: TelegramInbound = serde_json::from_str(old).unwrap();
        assert_eq!((t.album, t.notice, t.callback_data), (None, None, None));
    }

    #[test]
    fn a_neutral_event_round_trips_through_the_queue_body() {
        let m = private_msg("hi").to_message(None).unwrap();
        let ev = InboundEvent::message(m, Timestamp::from_millis(9));
        let body = serde_json::to_string(&ev).unwrap();
        assert_eq!(serde_json::from_str::<InboundEvent>(&body).unwrap(), ev);
        assert_eq!(ev.group_key(), "tg:77:5");
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
