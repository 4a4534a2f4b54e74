use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    AgentId, BotId, Channel, ContactId, ConversationId, LanguageTag, Message, ParseError,
    SystemEvent, TelegramChatId, TelegramUserId, Timestamp,
};

/// Where a conversation lives on its channel: the routing key that finds it again and orders
/// its queue messages (it is the FIFO group key).
///
/// - Telegram private chat: `tg:<bot>:<chat>`
/// - Telegram group, per user who addresses the bot: `tg:<bot>:<chat>:<user>`
/// - Website widget, per visitor: `web:<website>:<visitor>`
///
/// A conversation owns one key per channel it lives on ([`Conversation::keys`]); each leads
/// to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationKey(String);

impl ConversationKey {
    /// A private chat with a bot.
    pub fn telegram_private(bot: BotId, chat: TelegramChatId) -> Self {
        Self(format!("tg:{bot}:{chat}"))
    }
    /// One user's thread inside a group where the bot is a member.
    pub fn telegram_group(bot: BotId, chat: TelegramChatId, user: TelegramUserId) -> Self {
        Self(format!("tg:{bot}:{chat}:{user}"))
    }
    /// A visitor's chat on a website.
    pub fn web(website: crate::WebsiteId, visitor: crate::VisitorId) -> Self {
        Self(format!("web:{website}:{visitor}"))
    }
    /// An e-mail thread: `thread` is its token (the `<token>` of its `reply+<token>@` address,
    /// lowercase letters and digits).
    pub fn email(thread: &str) -> Self {
        Self(format!("email:{thread}"))
    }
    /// The thread token of an e-mail key.
    pub fn email_thread(&self) -> Option<&str> {
        self.0.strip_prefix("email:")
    }
    /// The channel of the key (from its prefix); `None` for a prefix this build does not know.
    pub fn channel(&self) -> Option<Channel> {
        match self.0.split(':').next()? {
            "tg" => Some(Channel::Telegram),
            "web" => Some(Channel::Web),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
    /// The website and visitor of a web key.
    pub fn web_visitor(&self) -> Option<(crate::WebsiteId, crate::VisitorId)> {
        let mut parts = self.0.split(':');
        if parts.next()? != "web" {
            return None;
        }
        let website = crate::WebsiteId::parse(parts.next()?).ok()?;
        let visitor = crate::VisitorId::parse(parts.next()?).ok()?;
        Some((website, visitor))
    }
    /// Parses a stored key (`<channel prefix>:<parts>`), at most 128 characters (SQS group id limit).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 128 || !s.contains(':') || !s.is_ascii() {
            return Err(ParseError::new(
                "conversation key",
                "expected `<channel>:<id>`, ≤128 ASCII characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The Telegram bot and chat of a Telegram key.
    pub fn telegram_chat(&self) -> Option<(BotId, TelegramChatId)> {
        let mut parts = self.0.split(':');
        if parts.next()? != "tg" {
            return None;
        }
        let bot = BotId::parse(parts.next()?).ok()?;
        let chat = parts.next()?.parse().ok()?;
        Some((bot, TelegramChatId(chat)))
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `bot → queued → assigned → resolved`; a new inbound message reopens a resolved one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// The bot (or AI) is answering; no human needed yet.
    Bot,
    /// Waiting for a human agent.
    Queued,
    /// A human agent has it; bot and AI stay silent.
    Assigned,
    /// Closed; reopened by the next inbound message.
    Resolved,
}

impl ConversationStatus {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Resolved => "resolved",
        }
    }
    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "bot" => Ok(Self::Bot),
            "queued" => Ok(Self::Queued),
            "assigned" => Ok(Self::Assigned),
            "resolved" => Ok(Self::Resolved),
            _ => Err(ParseError::new(
                "conversation status",
                "must be bot, queued, assigned or resolved",
            )),
        }
    }
    /// All statuses.
    pub const ALL: [Self; 4] = [Self::Bot, Self::Queued, Self::Assigned, Self::Resolved];
}

/// How urgent a conversation is: the queue offers higher priorities first (a VIP's
/// conversation before others that waited longer).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            "high" => Ok(Self::High),
            "urgent" => Ok(Self::Urgent),
            _ => Err(ParseError::new(
                "priority",
                "must be low, normal, high or urgent",
            )),
        }
    }
    /// Whether it is the default (left out of JSON).
    pub fn is_normal(&self) -> bool {
        *self == Self::Normal
    }
    /// All priorities, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];
}

/// A customer's rating of how a resolved conversation went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csat {
    /// 1 (bad) to 5 (great).
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: Timestamp,
}

impl Csat {
    /// A rating from a pressed button's data (`csat:1` … `csat:5`).
    pub fn score_of_choice(choice: &str) -> Option<u8> {
        let n: u8 = choice.strip_prefix("csat:")?.parse().ok()?;
        (1..=5).contains(&n).then_some(n)
    }
    /// A rating written as a reply (`5`, ` 4 `, `3/5`, `★★★★`), for channels without buttons.
    pub fn score_of_text(text: &str) -> Option<u8> {
        let t = text.trim();
        let stars = t.chars().filter(|c| *c == '★' || *c == '⭐').count();
        if stars > 0
            && t.chars()
                .all(|c| c == '★' || c == '⭐' || c.is_whitespace() || c == '\u{fe0f}')
        {
            return u8::try_from(stars).ok().filter(|n| (1..=5).contains(n));
        }
        let t = t.strip_suffix("/5").unwrap_or(t).trim();
        let n: u8 = t.parse().ok()?;
        (1..=5).contains(&n).then_some(n)
    }
}

/// The preview of the newest message, kept on the conversation for list views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    pub id: crate::MessageId,
    pub direction: crate::Direction,
    pub author_kind: String,
    pub channel: Channel,
    /// At most [`LastMessage::PREVIEW_BYTES`] bytes of UTF-8, cut at a character boundary.
    pub text: String,
    pub created_at: Timestamp,
}

impl LastMessage {
    /// Length of the preview in UTF-8 bytes: 200 Latin characters, 100 Cyrillic, 66 CJK — more
    /// than a list line shows, and small enough that the conversation record stays within one
    /// billed KB on DynamoDB.
    pub const PREVIEW_BYTES: usize = 200;

    /// The preview of `m`.
    pub fn of(m: &Message) -> Self {
        Self {
            id: m.id,
            direction: m.direction,
            author_kind: m.author.kind().to_owned(),
            channel: m.channel,
            text: preview(&m.preview_text(), Self::PREVIEW_BYTES).to_owned(),
            created_at: m.created_at,
        }
    }
}

/// The longest prefix of `text` with at most `max` bytes that ends at a character boundary.
fn preview(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What a transition did, for the timeline and for pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: ConversationStatus,
    pub to: ConversationStatus,
    /// The system event to record in the timeline, if any.
    pub event: Option<SystemEvent>,
}

/// A rejected transition, safe to show to an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a conversation that is {status}")]
pub struct TransitionError {
    pub action: &'static str,
    pub status: &'static str,
}

/// A thread with one contact, across its channel moves: it belongs to the contact, not to a
/// channel, and owns one routing key per channel it lives on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    /// The key it was created with.
    pub key: ConversationKey,
    /// Keys it gained later on other channels (a web chat continued on Telegram gains the
    /// Telegram chat's key), oldest first. Each leads to this conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ConversationKey>,
    /// Keys another conversation took over (its chat continued elsewhere): they no longer
    /// lead here, even the first one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_keys: Vec<ConversationKey>,
    pub contact_id: ContactId,
    /// The channel the customer is using now.
    pub channel: Channel,
    /// Every channel this conversation moved through, in order.
    pub channel_path: Vec<Channel>,
    pub status: ConversationStatus,
    pub assignee_id: Option<AgentId>,
    pub language: Option<LanguageTag>,
    /// A language seen once that would replace `language` if the next message confirms it
    /// (one short message never switches a conversation's language).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_pending: Option<LanguageTag>,
    pub last_message: Option<LastMessage>,
    /// Newest activity (any message); lists sort by it, newest first.
    pub last_activity_at: Timestamp,
    /// The customer's newest message, for "waiting since".
    pub last_inbound_at: Option<Timestamp>,
    /// Inbound messages since an agent last replied.
    pub unread_count: u32,
    /// An agent's newest reply: whether an assignment was answered (reassignment timers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<Timestamp>,
    /// Until when the customer has read the conversation (a widget's read receipt): agents
    /// see outgoing messages up to this time as seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_read_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// What happened before the messages the AI and the handover card show in full, kept up
    /// to date incrementally (earlier messages are folded in as they leave the window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<HistorySummary>,
    /// AI answers since the conversation last came to the bot (reopen, hand-back): the AI
    /// hands over after a configured number of them.
    #[serde(default, skip_serializing_if = "crate::is_zero")]
    pub ai_turns: u32,
    /// Tokens the AI spent on this conversation (its per-conversation budget).
    #[serde(default, skip_serializing_if = "crate::is_zero")]
    pub ai_tokens: u64,
    /// The team whose queue the conversation is in (a routing rule chose it); `None`: the
    /// deployment's default queue (every agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The skill an agent needs to take it (a routing rule asked for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// Higher priorities are offered first.
    #[serde(default, skip_serializing_if = "Priority::is_normal")]
    pub priority: Priority,
    /// When it last started waiting for an agent (queue order within a priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    /// An agent's first reply (reports: first response time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<Timestamp>,
    /// When it was last resolved (reports: resolution time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// The out-of-office message was sent (once per conversation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_office_sent: bool,
    /// Times an unanswered conversation moved on to the next agent since it was last queued.
    #[serde(default, skip_serializing_if = "crate::is_zero")]
    pub hops: u32,
    /// Labels agents put on the conversation.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub labels: std::collections::BTreeSet<crate::Tag>,
    /// Until when it is snoozed (hidden from the lists' open views; a timer reopens it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<Timestamp>,
    /// The customer's rating after resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<Csat>,
    /// When the customer was last asked to rate the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat_asked_at: Option<Timestamp>,
    /// Optimistic-concurrency version: every stored update must present the version it read.
    pub version: u64,
}

/// The summary of a conversation's earlier history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySummary {
    pub text: String,
    /// The newest message folded in (its creation time): later messages are not in it.
    pub through: Timestamp,
    pub updated_at: Timestamp,
    /// Written by an LLM (`false`: extractive, built without one).
    #[serde(default)]
    pub generated: bool,
}

impl Conversation {
    /// A new conversation, answered by the bot first.
    pub fn new(
        id: ConversationId,
        key: ConversationKey,
        contact_id: ContactId,
        channel: Channel,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            key,
            keys: Vec::new(),
            released_keys: Vec::new(),
            contact_id,
            channel,
            channel_path: vec![channel],
            status: ConversationStatus::Bot,
            assignee_id: None,
            language: None,
            language_pending: None,
            last_message: None,
            last_activity_at: now,
            last_inbound_at: None,
            unread_count: 0,
            last_reply_at: None,
            customer_read_at: None,
            created_at: now,
            summary: None,
            ai_turns: 0,
            ai_tokens: 0,
            team: None,
            skill: None,
            priority: Priority::Normal,
            queued_at: None,
            first_response_at: None,
            resolved_at: None,
            out_of_office_sent: false,
            hops: 0,
            labels: Default::default(),
            snoozed_until: None,
            csat: None,
            csat_asked_at: None,
            version: 0,
        }
    }

    /// Every routing key that leads to the conversation, the first one first.
    pub fn all_keys(&self) -> impl Iterator<Item = &ConversationKey> {
        std::iter::once(&self.key)
            .chain(self.keys.iter())
            .filter(|k| !self.released_keys.contains(k))
    }

    /// Whether `key` leads to this conversation (a store's cached key lookup checks it).
    pub fn owns_key(&self, key: &ConversationKey) -> bool {
        self.all_keys().any(|k| k == key)
    }

    /// The newest key the conversation has on `channel`: where replies on it go.
    pub fn key_on(&self, channel: Channel) -> Option<&ConversationKey> {
        self.all_keys()
            .filter(|k| k.channel() == Some(channel))
            .last()
    }

    /// Adds a routing key (no-op when it has it); returns whether it was new.
    pub fn add_key(&mut self, key: ConversationKey) -> bool {
        if self.owns_key(&key) {
            return false;
        }
        self.released_keys.retain(|k| *k != key);
        if key != self.key && !self.keys.contains(&key) {
            self.keys.push(key);
        }
        true
    }

    /// Stops `key` leading here (undone link, or another conversation took it); returns
    /// whether it did.
    pub fn remove_key(&mut self, key: &ConversationKey) -> bool {
        if !self.owns_key(key) {
            return false;
        }
        if *key == self.key {
            self.released_keys.push(key.clone());
        } else {
            self.keys.retain(|k| k != key);
        }
        true
    }

    /// The customer has read everything up to `at`; returns whether that is news (receipts
    /// never move back).
    pub fn read_by_customer(&mut self, at: Timestamp) -> bool {
        if self.customer_read_at.is_some_and(|r| r >= at) {
            return false;
        }
        self.customer_read_at = Some(at);
        true
    }

    /// The rank lists order conversations by, descending: the minute of the last activity,
    /// then the id. Minutes rather than milliseconds, so that a store can keep an index in
    /// this order without re-keying it on every message (a chat's messages mostly fall within
    /// the same minute); clients order what they hold by the exact `last_activity_at`.
    pub fn list_rank(&self) -> (i64, ConversationId) {
        (activity_minute(self.last_activity_at), self.id)
    }

    /// Records a message in the summary fields (preview, activity, unread, waiting since).
    pub fn record_message(&mut self, m: &Message) {
        self.last_activity_at = self.last_activity_at.max(m.created_at);
        if m.author.is_system() {
            return;
        }
        self.last_message = Some(LastMessage::of(m));
        match (m.direction, &m.author) {
            (crate::Direction::Inbound, _) => {
                self.unread_count = self.unread_count.saturating_add(1);
                self.last_inbound_at = Some(m.created_at);
            }
            (crate::Direction::Outbound, crate::Author::Agent { .. }) if !m.internal => {
                self.unread_count = 0;
                self.first_response_at = self.first_response_at.or(Some(m.created_at));
                // `None` orders before any time: the newest reply wins.
                self.last_reply_at = self.last_reply_at.max(Some(m.created_at));
            }
            _ => {}
        }
    }

    /// The customer now writes from `channel`; returns the channel-path event when it changed.
    pub fn switch_channel(&mut self, channel: Channel) -> Option<SystemEvent> {
        if self.channel == channel {
            return None;
        }
        let from = self.channel;
        self.channel = channel;
        self.channel_path.push(channel);
        Some(SystemEvent::ChannelSwitched {
            path: crate::ChannelPath { from, to: channel },
        })
    }

    /// A new inbound message: a resolved conversation reopens (back to the queue, or to the
    /// bot when `bot_first`).
    pub fn on_inbound(&mut self, bot_first: bool) -> Option<StatusChange> {
        if self.status != ConversationStatus::Resolved {
            return None;
        }
        let from = self.status;
        self.status = if bot_first {
            ConversationStatus::Bot
        } else {
            ConversationStatus::Queued
        };
        self.assignee_id = None;
        self.ai_turns = 0;
        self.hops = 0;
        self.out_of_office_sent = false;
        self.snoozed_until = None;
        self.queued_at = (!bot_first).then_some(self.last_activity_at);
        Some(StatusChange {
            from,
            to: self.status,
            event: Some(SystemEvent::Reopened),
        })
    }

    /// The bot (or the AI) hands over to humans, saying why: the timeline's event.
    pub fn hand_over(&mut self, reason: impl Into<String>) -> Option<StatusChange> {
        let mut change = self.hand_off()?;
        change.event = Some(SystemEvent::HandedOver {
            reason: reason.into(),
        });
        Some(change)
    }

    /// An agent gives the conversation back to the bot and the AI (which answer again).
    pub fn hand_back(&mut self, by: Option<AgentId>) -> Result<StatusChange, TransitionError> {
        if matches!(
            self.status,
            ConversationStatus::Bot | ConversationStatus::Resolved
        ) {
            return Err(TransitionError {
                action: "hand back",
                status: self.status.as_str(),
            });
        }
        let from = self.status;
        self.status = ConversationStatus::Bot;
        self.assignee_id = None;
        self.ai_turns = 0;
        Ok(StatusChange {
            from,
            to: self.status,
            event: Some(SystemEvent::HandedBack { by }),
        })
    }

    /// The bot hands over to humans.
    pub fn hand_off(&mut self) -> Option<StatusChange> {
        if self.status != ConversationStatus::Bot {
            return None;
        }
        self.status = ConversationStatus::Queued;
        self.queued_at = Some(self.last_activity_at);
        self.hops = 0;
        Some(StatusChange {
            from: ConversationStatus::Bot,
            to: ConversationStatus::Queued,
            event: None,
        })
    }

    /// Gives the conversation to `agent` (assign, or transfer when someone else had it).
    pub fn assign(
        &mut self,
        agent: AgentId,
        by: Option<AgentId>,
    ) -> Result<StatusChange, TransitionError> {
        if self.status == ConversationStatus::Resolved {
            return Err(TransitionError {
                action: "assign",
                status: "resolved",
            });
        }
        let from = self.status;
        let event = match self.assignee_id {
            Some(prev) if prev == agent => None,
            Some(prev) => Some(SystemEvent::Transferred {
                from: prev,
                to: agent,
                by,
            }),
            None => Some(SystemEvent::Assigned { agent, by }),
        };
        self.assignee_id = Some(agent);
        self.status = ConversationStatus::Assigned;
        Ok(StatusChange {
            from,
            to: self.status,
            event,
        })
    }

    /// Takes the conversation away from its agent, back to the queue.
    pub fn unassign(&mut self, by: Option<AgentId>) -> Result<StatusChange, TransitionError> {
        if self.status != ConversationStatus::Assigned {
            return Err(TransitionError {
                action: "unassign",
                status: self.status.as_str(),
            });
        }
        let prev = self.assignee_id.take();
        self.status = ConversationStatus::Queued;
        self.queued_at = Some(self.last_activity_at);
        Ok(StatusChange {
            from: ConversationStatus::Assigned,
            to: ConversationStatus::Queued,
            event: prev.map(|agent| SystemEvent::Unassigned { agent, by }),
        })
    }

    /// Closes the conversation (at `self.last_activity_at` or later: see [`Self::resolve_at`]).
    pub fn resolve(&mut self, by: Option<AgentId>) -> Result<StatusChange, TransitionError> {
        let at = self.last_activity_at;
        self.resolve_at(by, at)
    }

    /// Closes the conversation at `at` (its resolution time for reports).
    pub fn resolve_at(
        &mut self,
        by: Option<AgentId>,
        at: Timestamp,
    ) -> Result<StatusChange, TransitionError> {
        if self.status == ConversationStatus::Resolved {
            return Err(TransitionError {
                action: "resolve",
                status: "resolved",
            });
        }
        let from = self.status;
        self.status = ConversationStatus::Resolved;
        self.unread_count = 0;
        self.resolved_at = Some(at);
        self.snoozed_until = None;
        self.queued_at = None;
        Ok(StatusChange {
            from,
            to: self.status,
            event: Some(SystemEvent::Resolved { by }),
        })
    }

    /// An agent reopens a resolved conversation; it stays with them.
    pub fn reopen(&mut self, by: AgentId) -> Result<StatusChange, TransitionError> {
        if self.status != ConversationStatus::Resolved {
            return Err(TransitionError {
                action: "reopen",
                status: self.status.as_str(),
            });
        }
        self.status = ConversationStatus::Assigned;
        self.assignee_id = Some(by);
        Ok(StatusChange {
            from: ConversationStatus::Resolved,
            to: self.status,
            event: Some(SystemEvent::Reopened),
        })
    }
}

/// Milliseconds per step of [`Conversation::list_rank`].
pub const ACTIVITY_STEP_MS: i64 = 60_000;

/// The minute (since the epoch) of an activity time: the first part of
/// [`Conversation::list_rank`].
pub fn activity_minute(at: Timestamp) -> i64 {
    at.millis().div_euclid(ACTIVITY_STEP_MS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_preview_is_cut_by_bytes_at_a_character_boundary() {
        assert_eq!(super::preview("hello", 200), "hello");
        assert_eq!(super::preview(&"x".repeat(300), 200).len(), 200);
        // 'ж' is 2 bytes, '日' 3: never half a character.
        assert_eq!(super::preview(&"ж".repeat(150), 200).chars().count(), 100);
        assert_eq!(super::preview(&"日".repeat(100), 200).chars().count(), 66);
    }

    use super::*;
    use uuid::Uuid;

    #[test]
    fn an_attachment_only_message_previews_as_what_it_carries() {
        let mut m = crate::Message::outbound(
            crate::MessageId::from_uuid(Uuid::now_v7()),
            ConversationId::from_uuid(Uuid::now_v7()),
            crate::Author::Bot,
            Channel::Telegram,
            String::new(),
            Timestamp::from_millis(1),
        );
        m.attachments = vec![crate::Attachment::location(52.52, 13.405)];
        assert_eq!(LastMessage::of(&m).text, "Location 52.520000, 13.405000");
    }

    fn conv() -> Conversation {
        Conversation::new(
            ConversationId::from_uuid(Uuid::now_v7()),
            ConversationKey::telegram_private(BotId::parse("1").unwrap(), TelegramChatId(5)),
            ContactId::from_uuid(Uuid::now_v7()),
            Channel::Telegram,
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn status_machine_walks_bot_queued_assigned_resolved_and_reopens() {
        let a = AgentId::from_uuid(Uuid::now_v7());
        let b = AgentId::from_uuid(Uuid::now_v7());
        let mut c = conv();
        assert_eq!(c.status, ConversationStatus::Bot);
        assert!(c.hand_off().is_some());
        assert!(c.hand_off().is_none());
        let ch = c.assign(a, None).unwrap();
        assert_eq!(ch.event, Some(SystemEvent::Assigned { agent: a, by: None }));
        let ch = c.assign(b, Some(a)).unwrap();
        assert_eq!(
            ch.event,
            Some(SystemEvent::Transferred {
                from: a,
                to: b,
                by: Some(a)
            })
        );
        c.resolve(Some(b)).unwrap();
        assert!(c.resolve(Some(b)).is_err());
        assert!(c.assign(a, None).is_err());
        let ch = c.on_inbound(false).unwrap();
        assert_eq!(ch.to, ConversationStatus::Queued);
        assert_eq!(c.assignee_id, None);
        assert!(c.on_inbound(false).is_none());
    }

    #[test]
    fn key_round_trips_the_telegram_chat() {
        let k = ConversationKey::telegram_group(
            BotId::parse("9").unwrap(),
            TelegramChatId(-100),
            TelegramUserId(3),
        );
        assert_eq!(k.as_str(), "tg:9:-100:3");
        assert_eq!(
            k.telegram_chat(),
            Some((BotId::parse("9").unwrap(), TelegramChatId(-100)))
        );
        assert!(ConversationKey::parse("nocolon").is_err());
    }

    #[test]
    fn a_conversation_owns_one_key_per_channel_and_replies_use_the_newest() {
        let mut c = conv();
        let website = crate::WebsiteId::from_uuid(Uuid::now_v7());
        let visitor = crate::VisitorId::from_uuid(Uuid::now_v7());
        let web = ConversationKey::web(website, visitor);
        assert_eq!(web.channel(), Some(Channel::Web));
        assert_eq!(web.web_visitor(), Some((website, visitor)));
        assert_eq!(ConversationKey::parse(web.as_str()).unwrap(), web);
        assert!(c.add_key(web.clone()));
        assert!(!c.add_key(web.clone()));
        assert!(!c.add_key(c.key.clone()));
        assert_eq!(c.key_on(Channel::Web), Some(&web));
        assert_eq!(c.key_on(Channel::Telegram), Some(&c.key.clone()));
        assert_eq!(c.key_on(Channel::Email), None);
        assert!(c.remove_key(&web));
        assert_eq!(c.key_on(Channel::Web), None);
        // The first key can be taken over too, and given back.
        let first = c.key.clone();
        assert!(c.remove_key(&first));
        assert!(!c.owns_key(&first));
        assert_eq!(c.key_on(Channel::Telegram), None);
        assert!(c.add_key(first.clone()));
        assert!(c.owns_key(&first));
        assert!(c.keys.is_empty());
        // Stored conversations written before keys existed read with none.
        let mut json = serde_json::to_value(&c).unwrap();
        json.as_object_mut().unwrap().remove("keys");
        let old: Conversation = serde_json::from_value(json).unwrap();
        assert!(old.keys.is_empty());
    }

    #[test]
    fn a_read_receipt_never_moves_back() {
        let mut c = conv();
        assert!(c.read_by_customer(Timestamp::from_millis(10)));
        assert!(!c.read_by_customer(Timestamp::from_millis(5)));
        assert!(!c.read_by_customer(Timestamp::from_millis(10)));
        assert_eq!(c.customer_read_at, Some(Timestamp::from_millis(10)));
    }

    #[test]
    fn channel_switch_is_recorded_once() {
        let mut c = conv();
        assert!(c.switch_channel(Channel::Telegram).is_none());
        let ev = c.switch_channel(Channel::Web).unwrap();
        assert_eq!(ev.describe(), "Telegram → Website");
        assert_eq!(c.channel_path, vec![Channel::Telegram, Channel::Web]);
    }

    #[test]
    fn an_agent_reply_is_recorded_and_resets_unread_while_customer_messages_are_not() {
        let mut c = conv();
        let agent = AgentId::from_uuid(Uuid::now_v7());
        let at = Timestamp::from_millis;
        let mut inbound = crate::Message::outbound(
            crate::MessageId::from_uuid(Uuid::now_v7()),
            c.id,
            crate::Author::Contact { id: c.contact_id },
            Channel::Telegram,
            "hi".to_owned(),
            at(1_000),
        );
        inbound.direction = crate::Direction::Inbound;
        c.record_message(&inbound);
        assert_eq!((c.unread_count, c.last_reply_at), (1, None));
        let reply = crate::Message::outbound(
            crate::MessageId::from_uuid(Uuid::now_v7()),
            c.id,
            crate::Author::Agent { id: agent },
            Channel::Telegram,
            "hello".to_owned(),
            at(2_000),
        );
        c.record_message(&reply);
        assert_eq!((c.unread_count, c.last_reply_at), (0, Some(at(2_000))));
        // A reply recorded late (an older message) never moves the time back.
        let mut older = reply.clone();
        older.created_at = at(1_500);
        c.record_message(&older);
        assert_eq!(c.last_reply_at, Some(at(2_000)));
        // Stored conversations written before the field existed read as "never answered".
        let mut json = serde_json::to_value(&c).unwrap();
        json.as_object_mut().unwrap().remove("last_reply_at");
        let old: Conversation = serde_json::from_value(json).unwrap();
        assert_eq!(old.last_reply_at, None);
    }
}

#[cfg(test)]
mod csat_tests {
    use super::Csat;

    #[test]
    fn a_rating_is_read_from_a_button_or_a_short_reply() {
        assert_eq!(Csat::score_of_choice("csat:5"), Some(5));
        assert_eq!(Csat::score_of_choice("csat:0"), None);
        assert_eq!(Csat::score_of_choice("human"), None);
        assert_eq!(Csat::score_of_text(" 4 "), Some(4));
        assert_eq!(Csat::score_of_text("3/5"), Some(3));
        assert_eq!(Csat::score_of_text("★★★★"), Some(4));
        assert_eq!(Csat::score_of_text("⭐️⭐️"), Some(2));
        assert_eq!(Csat::score_of_text("6"), None);
        assert_eq!(
            Csat::score_of_text("5 stars but the order is missing"),
            None
        );
    }
}
