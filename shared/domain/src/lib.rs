//! omnidesk-domain: the pure model of omnidesk — contacts and their identities, conversations
//! and their status machine, messages, agents, inbound events and channel-path events.
//!
//! Everything here is plain data and rules: no async, no I/O, no AWS SDK, no teloxide. Values
//! that arrive from the outside world are parsed into newtypes (`EmailAddress`, `LanguageTag`,
//! `BotId`, …) once, at the edge, so the rest of the system never handles a raw string that
//! might be invalid.

mod agent;
mod attachment;
mod contact;
mod conversation;
mod error;
mod ids;
mod inbound;
mod message;
mod summary;
mod team;
mod values;

pub use agent::{Agent, AgentStatus, PasswordHash, Role, TotpSecret, translation_targets};
pub use attachment::{
    Attachment, AttachmentKind, Degrees, TELEGRAM_DOWNLOAD_LIMIT, TELEGRAM_FILE_PREFIX,
    TELEGRAM_PHOTO_LIMIT, TELEGRAM_UPLOAD_LIMIT, clean_file_name, human_size, kind_of_mime,
    safe_inline, too_large_note,
};
pub use contact::{Contact, Identity, IdentityKey, Unreachable, WEB_VISITOR_NAME};
pub use conversation::{
    ACTIVITY_STEP_MS, Conversation, ConversationKey, ConversationStatus, Csat, HistorySummary,
    LastMessage, Priority, StatusChange, TransitionError, activity_minute,
};
pub use error::ParseError;
pub use ids::{AgentId, ContactId, ConversationId, MessageId, VisitorId, WebsiteId};
pub use inbound::{
    BotCommand, ChannelMessage, ChatKind, Handoff, InboundEvent, InboundSource, ReadReceipt,
    TelegramInbound, TelegramSender,
};
pub use message::{
    Author, Button, ChannelRef, Delivery, DeliveryStatus, Direction, EmailRef, Message,
    MessageContent, PreviousText, Quote, SystemEvent, TELEGRAM_TEXT_LIMIT, Translation,
    TranslationStatus, split_for_telegram,
};
pub use summary::{HISTORY_SUMMARY_MAX_CHARS, email_summary, extractive_summary, handoff_summary};
pub use team::{Team, TeamName};
pub use values::{
    BotId, Channel, ChannelPath, EmailAddress, LanguageTag, Tag, TelegramChatId, TelegramUserId,
    Timestamp, UpdateId,
};

/// Whether a counter is zero (fields that are left out of JSON when they are).
pub(crate) fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}
