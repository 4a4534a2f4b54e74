//! Raw Telegram update → domain [`TelegramInbound`].

use omnidesk_domain::{
    Attachment, AttachmentKind, BotId, ChatKind, TelegramChatId, TelegramInbound, TelegramSender,
    TelegramUserId, Timestamp, UpdateId,
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The body is not a Telegram update at all (a poison input to keep for an operator).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateParseError {
    /// Not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    /// A JSON object without a numeric `update_id`.
    #[error("the body has no numeric update_id")]
    NoUpdateId,
}

/// Update kinds of the Bot API (the key next to `update_id`). Anything else is `unknown`.
const KNOWN_KINDS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// Maps one raw update (a webhook body or one `getUpdates` item) to the domain.
///
/// `Err` only when the body is not a Telegram update at all (not a JSON object, or no numeric
/// `update_id`). Every update with an `update_id` is `Ok`, so it is acked and deduplicated like
/// any other: kinds the router does not handle keep their `kind` (`edited_message`,
/// `callback_query`, `my_chat_member`, … or `unknown`) with no text, and carry the chat and
/// sender when the update has them (the chat orders the inbound queue). A `message` whose
/// payload has an unexpected shape is kept the same way rather than rejected.
///
/// The update is read with small tolerant structs rather than teloxide's `Update`, which
/// fails a whole message when one field it models changes shape in a newer Bot API.
pub fn parse_update(
    bot_id: BotId,
    body: &[u8],
    received_at: Timestamp,
) -> Result<TelegramInbound, UpdateParseError> {
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| UpdateParseError::NotJson(e.to_string()))?;
    let update_id = object
        .get("update_id")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(UpdateParseError::NoUpdateId)?;
    let (kind, payload) = object
        .iter()
        .find(|(k, _)| KNOWN_KINDS.contains(&k.as_str()))
        .map_or(("unknown", None), |(k, v)| (k.as_str(), Some(v)));

    let mut inbound = TelegramInbound {
        bot_id,
        update_id: UpdateId(update_id),
        kind: kind.to_owned(),
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
    };
    let Some(payload) = payload else {
        return Ok(inbound);
    };
    match kind {
        "message" | "channel_post" | "business_message" => {
            match WireMessage::deserialize(payload) {
                Ok(m) => fill_message(&mut inbound, m, true, received_at),
                Err(e) => {
                    tracing::warn!(update_id, kind, error = %e, "unexpected message shape; kept without content");
                }
            }
        }
        "edited_message" | "edited_channel_post" | "edited_business_message" => {
            if let Ok(m) = WireMessage::deserialize(payload) {
                fill_message(&mut inbound, m, false, received_at);
            }
        }
        "callback_query" => {
            if let Ok(q) = WireCallbackQuery::deserialize(payload) {
                inbound.from = Some(q.from.into());
                if let Some(m) = q.message {
                    set_chat(&mut inbound, &m.chat);
                    inbound.message_id = Some(m.message_id);
                }
            }
        }
        "my_chat_member" | "chat_member" | "chat_join_request" => {
            if let Ok(c) = WireChatEvent::deserialize(payload) {
                set_chat(&mut inbound, &c.chat);
                inbound.from = Some(c.from.into());
                inbound.sent_at = Some(Timestamp::from_millis(c.date.saturating_mul(1000)));
            }
        }
        _ => {}
    }
    Ok(inbound)
}

fn set_chat(inbound: &mut TelegramInbound, chat: &WireChat) {
    inbound.chat_id = Some(TelegramChatId(chat.id));
    inbound.chat_kind = match chat.kind.as_str() {
        "private" => Some(ChatKind::Private),
        "group" => Some(ChatKind::Group),
        "supergroup" => Some(ChatKind::Supergroup),
        "channel" => Some(ChatKind::Channel),
        _ => None,
    };
    inbound.chat_title = chat.title.clone();
}

/// Fills the message fields; `content` false keeps only who/where/when (edits). A message
/// without a `date` is dated `received_at`.
fn fill_message(
    inbound: &mut TelegramInbound,
    m: WireMessage,
    content: bool,
    received_at: Timestamp,
) {
    set_chat(inbound, &m.chat);
    inbound.from = m.from.map(Into::into);
    inbound.message_id = Some(m.message_id);
    inbound.sent_at = Some(if m.date > 0 {
        Timestamp::from_millis(m.date.saturating_mul(1000))
    } else {
        received_at
    });
    inbound.reply_to_user = m
        .reply_to_message
        .and_then(|r| r.from)
        .map(|u| TelegramUserId(u.id));
    if !content {
        return;
    }
    let (text, entities) = match (m.text, m.caption) {
        (Some(text), _) => (Some(text), m.entities),
        (None, Some(caption)) => (Some(caption), m.caption_entities),
        (None, None) => (None, Vec::new()),
    };
    if let Some(text) = &text {
        inbound.mentions = mentions(text, &entities);
    }
    inbound.text = text;

    let file = |kind, f: WireFile| Attachment {
        file_name: f.file_name,
        mime_type: f.mime_type,
        size_bytes: f.file_size,
        ..Attachment::new(kind, format!("tg-file:{}", f.file_id))
    };
    let mut attachments = Vec::new();
    if let Some(largest) = m
        .photo
        .into_iter()
        .enumerate()
        .max_by_key(|(i, p)| (u64::from(p.width) * u64::from(p.height), p.file_size, *i))
        .map(|(_, p)| p)
    {
        attachments.push(Attachment {
            mime_type: Some("image/jpeg".to_owned()),
            size_bytes: largest.file_size,
            ..Attachment::new(
                AttachmentKind::Image,
                format!("tg-file:{}", largest.file_id),
            )
        });
    }
    if let Some(f) = m.document {
        attachments.push(file(AttachmentKind::File, f));
    }
    for f in [m.voice, m.audio].into_iter().flatten() {
        attachments.push(file(AttachmentKind::Audio, f));
    }
    for f in [m.video, m.video_note].into_iter().flatten() {
        attachments.push(file(AttachmentKind::Video, f));
    }
    if let Some(f) = m.sticker {
        attachments.push(file(AttachmentKind::Sticker, f));
    }
    inbound.attachments = attachments;
}

/// The `@username`s of `mention` entities (offsets are in UTF-16 code units), without `@`.
fn mentions(text: &str, entities: &[WireEntity]) -> Vec<String> {
    let units: Vec<u16> = text.encode_utf16().collect();
    entities
        .iter()
        .filter(|e| e.kind == "mention")
        .filter_map(|e| {
            let slice = units.get(e.offset..e.offset.checked_add(e.length)?)?;
            let s = String::from_utf16(slice).ok()?;
            let name = s.strip_prefix('@').unwrap_or(&s);
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

#[derive(Deserialize)]
struct WireMessage {
    message_id: i32,
    #[serde(default)]
    date: i64,
    chat: WireChat,
    #[serde(default)]
    from: Option<WireUser>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    entities: Vec<WireEntity>,
    #[serde(default)]
    caption_entities: Vec<WireEntity>,
    #[serde(default)]
    photo: Vec<WirePhotoSize>,
    #[serde(default)]
    document: Option<WireFile>,
    #[serde(default)]
    voice: Option<WireFile>,
    #[serde(default)]
    audio: Option<WireFile>,
    #[serde(default)]
    video: Option<WireFile>,
    #[serde(default)]
    video_note: Option<WireFile>,
    #[serde(default)]
    sticker: Option<WireFile>,
    #[serde(default)]
    reply_to_message: Option<Box<WireReply>>,
}

#[derive(Deserialize)]
struct WireReply {
    #[serde(default)]
    from: Option<WireUserId>,
}

#[derive(Deserialize)]
struct WireUserId {
    id: u64,
}

#[derive(Deserialize)]
struct WireChat {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WireUser {
    id: u64,
    #[serde(default)]
    is_bot: bool,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    language_code: Option<String>,
}

impl From<WireUser> for TelegramSender {
    fn from(u: WireUser) -> Self {
        Self {
            user_id: TelegramUserId(u.id),
            is_bot: u.is_bot,
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            language_code: u.language_code,
        }
    }
}

#[derive(Deserialize)]
struct WireEntity {
    #[serde(rename = "type")]
    kind: String,
    offset: usize,
    length: usize,
}

#[derive(Deserialize)]
struct WirePhotoSize {
    file_id: String,
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct WireFile {
    file_id: String,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct WireCallbackQuery {
    from: WireUser,
    #[serde(default)]
    message: Option<WireMessageHead>,
}

#[derive(Deserialize)]
struct WireMessageHead {
    message_id: i32,
    chat: WireChat,
}

#[derive(Deserialize)]
struct WireChatEvent {
    chat: WireChat,
    from: WireUser,
    #[serde(default)]
    date: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_offsets_count_utf16_units() {
        let text = "😀 hi @shop_bot and @ann";
        let entities = vec![
            WireEntity {
                kind: "mention".into(),
                offset: 6,
                length: 9,
            },
            WireEntity {
                kind: "mention".into(),
                offset: 20,
                length: 4,
            },
            WireEntity {
                kind: "bold".into(),
                offset: 0,
                length: 2,
            },
            WireEntity {
                kind: "mention".into(),
                offset: 90,
                length: 4,
            },
        ];
        assert_eq!(mentions(text, &entities), vec!["shop_bot", "ann"]);
    }
}
