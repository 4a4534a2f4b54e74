//! Raw Telegram update → domain [`TelegramInbound`].

use omnidesk_domain::{
    Attachment, AttachmentKind, BotId, ChatKind, TELEGRAM_DOWNLOAD_LIMIT, TELEGRAM_FILE_PREFIX,
    TelegramChatId, TelegramInbound, TelegramSender, TelegramUserId, Timestamp, UpdateId,
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
/// any other: kinds the router does not handle keep their `kind` (`my_chat_member`,
/// `message_reaction`, … or `unknown`) with no text, and carry the chat and sender when the
/// update has them (the chat orders the inbound queue). A `message` whose payload has an
/// unexpected shape is kept the same way rather than rejected.
///
/// Messages and edits (`edited_message` adds `edited_at`, keeping the original date): text or
/// caption; every kind of content as an [`Attachment`] (photo at its largest size, document,
/// audio, voice, video, video note, animation, sticker, location, venue, contact, poll, dice);
/// the quote of the message replied to; whom a forward is from; the album
/// (`media_group_id`); a service message as a short `notice` ("Ann joined the group"), or
/// nothing when nobody needs it. Button presses (`callback_query`): the query id, the data and
/// the pressed button's label.
///
/// The update is read with small tolerant structs rather than teloxide's `Update`, which
/// fails a whole message when one field it models changes shape in a newer Bot API; an item
/// of odd shape (a sticker, a poll) is dropped alone, never the message.
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

    let mut inbound = TelegramInbound::new(bot_id, UpdateId(update_id), kind);
    let Some(payload) = payload else {
        return Ok(inbound);
    };
    match kind {
        "message"
        | "channel_post"
        | "business_message"
        | "edited_message"
        | "edited_channel_post"
        | "edited_business_message" => match WireMessage::deserialize(payload) {
            Ok(m) => fill_message(&mut inbound, m, received_at),
            Err(e) => {
                tracing::warn!(update_id, kind, error = %e, "unexpected message shape; kept without content");
            }
        },
        "callback_query" => {
            if let Ok(q) = WireCallbackQuery::deserialize(payload) {
                fill_callback(&mut inbound, q);
            }
        }
        "my_chat_member" | "chat_member" | "chat_join_request" => {
            if let Ok(c) = WireChatEvent::deserialize(payload) {
                set_chat(&mut inbound, &c.chat);
                inbound.from = Some(c.from.into());
                inbound.sent_at = Some(seconds(c.date));
            }
        }
        _ => {}
    }
    Ok(inbound)
}

fn seconds(unix: i64) -> Timestamp {
    Timestamp::from_millis(unix.saturating_mul(1000))
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

/// A button press: who pressed it, where, its data and the label of the pressed button.
fn fill_callback(inbound: &mut TelegramInbound, q: WireCallbackQuery) {
    inbound.from = Some(q.from.into());
    inbound.callback_query_id = Some(q.id);
    if let Some(m) = q.message.and_then(|m| WireMessageHead::deserialize(m).ok()) {
        set_chat(inbound, &m.chat);
        inbound.message_id = Some(m.message_id);
        inbound.callback_label = q.data.as_deref().and_then(|data| {
            m.reply_markup?
                .inline_keyboard
                .into_iter()
                .flatten()
                .find(|b| b.callback_data.as_deref() == Some(data))
                .map(|b| b.text)
        });
    }
    inbound.callback_data = q.data;
}

/// Fills who/where/when and the content. A message without a `date` is dated `received_at`;
/// an edit keeps the original `date` and adds `edit_date`.
fn fill_message(inbound: &mut TelegramInbound, mut m: WireMessage, received_at: Timestamp) {
    set_chat(inbound, &m.chat);
    let from = m.from.take().map(TelegramSender::from);
    inbound.message_id = Some(m.message_id);
    inbound.sent_at = Some(if m.date > 0 {
        seconds(m.date)
    } else {
        received_at
    });
    if inbound.kind.starts_with("edited_") {
        inbound.edited_at = Some(m.edit_date.filter(|d| *d > 0).map_or(received_at, seconds));
    }
    inbound.album = m.media_group_id.clone().filter(|g| !g.is_empty());
    inbound.reply_to_user = m
        .reply_to_message
        .as_ref()
        .and_then(|r| WireReplyFrom::deserialize(r).ok())
        .and_then(|r| r.from)
        .map(|u| TelegramUserId(u.id));
    inbound.reply_to = quote(
        m.reply_to_message.as_ref(),
        m.external_reply.as_ref(),
        m.quote.as_ref(),
    );
    inbound.forwarded_from = forward_origin(&m);
    inbound.notice = notice(&m.service, from.as_ref());
    inbound.from = from;

    let (text, entities) = match (m.content.text.clone(), m.content.caption.clone()) {
        (Some(text), _) => (Some(text), m.entities),
        (None, Some(caption)) => (Some(caption), m.caption_entities),
        (None, None) => (None, Vec::new()),
    };
    if let Some(text) = &text {
        inbound.mentions = mentions(text, &entities);
    }
    inbound.text = text.or_else(|| m.content.placeholder());
    inbound.attachments = m.content.attachments();
}

/// How long a quoted reply may be, in characters.
const QUOTE_CHARS: usize = 200;

/// The quote of the message replied to: the part the customer selected (`quote`), or its
/// text, caption or attachment, shortened; with its author's name.
fn quote(
    reply: Option<&Value>,
    external: Option<&Value>,
    selected: Option<&WireTextQuote>,
) -> Option<omnidesk_domain::Quote> {
    let (content, author) = if let Some(reply) = reply {
        let content = WireContent::deserialize(reply).ok();
        let head = WireReplyFrom::deserialize(reply).ok();
        let author = head.and_then(|h| match (h.from, h.sender_chat) {
            (Some(u), _) => Some(TelegramSender::from(u).display_name()),
            (None, Some(c)) => c.title,
            _ => None,
        });
        (content, author)
    } else if let Some(external) = external {
        let content = WireContent::deserialize(external).ok();
        let author = external
            .get("origin")
            .and_then(|o| WireOrigin::deserialize(o).ok())
            .and_then(WireOrigin::name);
        (content, author)
    } else {
        return None;
    };
    let text = selected
        .map(|q| q.text.clone())
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            let c = content.as_ref()?;
            c.text
                .clone()
                .or_else(|| c.caption.clone())
                .filter(|t| !t.trim().is_empty())
                .or_else(|| {
                    let described: Vec<String> =
                        c.attachments().iter().map(Attachment::describe).collect();
                    (!described.is_empty()).then(|| described.join(", "))
                })
                .or_else(|| c.placeholder())
        })
        .unwrap_or_else(|| "Message".to_owned());
    Some(omnidesk_domain::Quote {
        text: shorten(&text, QUOTE_CHARS),
        author,
    })
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Who a forwarded message comes from: `forward_origin` (Bot API 7.0), or the older
/// `forward_from` / `forward_sender_name` / `forward_from_chat` fields.
fn forward_origin(m: &WireMessage) -> Option<String> {
    if let Some(name) = m
        .forward_origin
        .as_ref()
        .and_then(|o| WireOrigin::deserialize(o).ok())
        .and_then(WireOrigin::name)
    {
        return Some(name);
    }
    if let Some(u) = m
        .forward_from
        .as_ref()
        .and_then(|u| WireUser::deserialize(u).ok())
    {
        return Some(TelegramSender::from(u).display_name());
    }
    if let Some(name) = m.forward_sender_name.clone().filter(|n| !n.is_empty()) {
        return Some(name);
    }
    m.forward_from_chat
        .as_ref()
        .and_then(|c| c.get("title"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What a service message says, for the timeline; `None` for the ones nobody needs (a
/// migration, an auto-delete timer, a video chat) and for ordinary messages.
fn notice(s: &WireService, from: Option<&TelegramSender>) -> Option<String> {
    let actor = from.map_or_else(|| "Someone".to_owned(), TelegramSender::display_name);
    let names = |users: &[Value]| -> Vec<String> {
        users
            .iter()
            .filter_map(|u| WireUser::deserialize(u).ok())
            .map(|u| TelegramSender::from(u).display_name())
            .collect()
    };
    let joined = names(&s.new_chat_members);
    if !joined.is_empty() {
        return Some(format!("{} joined the group", and_list(&joined)));
    }
    if let Some(left) = s.left_chat_member.as_ref() {
        let left = names(std::slice::from_ref(left));
        return Some(format!(
            "{} left the group",
            left.first().map_or("Someone", String::as_str)
        ));
    }
    if let Some(title) = &s.new_chat_title {
        return Some(format!("The group was renamed to \u{201c}{title}\u{201d}"));
    }
    if !s.new_chat_photo.is_empty() {
        return Some(format!("{actor} changed the group photo"));
    }
    if s.delete_chat_photo {
        return Some(format!("{actor} removed the group photo"));
    }
    if s.group_chat_created || s.supergroup_chat_created {
        return Some(format!("{actor} created the group"));
    }
    if let Some(pinned) = &s.pinned_message {
        let what = WireContent::deserialize(pinned).ok().and_then(|c| {
            c.text
                .clone()
                .or_else(|| c.caption.clone())
                .filter(|t| !t.trim().is_empty())
                .or_else(|| c.attachments().first().map(Attachment::describe))
        });
        return Some(match what {
            Some(t) => format!("{actor} pinned \u{201c}{}\u{201d}", shorten(&t, 80)),
            None => format!("{actor} pinned a message"),
        });
    }
    if let Some(p) = &s.successful_payment {
        return Some(format!(
            "Payment received: {}",
            money(p.total_amount, &p.currency)
        ));
    }
    if let Some(game) = &s.game {
        return Some(format!(
            "{actor} started the game \u{201c}{}\u{201d}",
            game.title
        ));
    }
    if let Some(topic) = &s.forum_topic_created {
        return Some(format!("Topic \u{201c}{}\u{201d} was created", topic.name));
    }
    None
}

/// "Ann", "Ann and Bob", "Ann, Bob and Carl".
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// An amount in the currency's smallest units, as people write it: `1250 EUR` → `12.50 EUR`.
fn money(amount: i64, currency: &str) -> String {
    // Currencies without minor units (Telegram's currencies.json), and Telegram Stars.
    const WHOLE: &[&str] = &[
        "CLP", "ISK", "JPY", "KRW", "PYG", "UGX", "VND", "XAF", "XOF", "XTR",
    ];
    if WHOLE.contains(&currency) {
        return format!("{amount} {currency}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
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
    edit_date: Option<i64>,
    #[serde(default)]
    media_group_id: Option<String>,
    #[serde(default)]
    entities: Vec<WireEntity>,
    #[serde(default)]
    caption_entities: Vec<WireEntity>,
    /// Read on its own (tolerantly): a reply of an odd shape must not cost the message.
    #[serde(default)]
    reply_to_message: Option<Value>,
    #[serde(default)]
    external_reply: Option<Value>,
    #[serde(default)]
    quote: Option<WireTextQuote>,
    #[serde(default)]
    forward_origin: Option<Value>,
    #[serde(default)]
    forward_from: Option<Value>,
    #[serde(default)]
    forward_sender_name: Option<String>,
    #[serde(default)]
    forward_from_chat: Option<Value>,
    #[serde(flatten)]
    content: WireContent,
    #[serde(flatten)]
    service: WireService,
}

/// What a message shows: caption, files, places, cards, polls, dice. Every field is read
/// tolerantly (an odd shape drops that item, not the message).
#[derive(Deserialize, Default)]
struct WireContent {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    photo: Option<Vec<WirePhotoSize>>,
    #[serde(default, deserialize_with = "lenient")]
    document: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    animation: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    audio: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    voice: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    video: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    video_note: Option<WireFile>,
    #[serde(default, deserialize_with = "lenient")]
    sticker: Option<WireSticker>,
    #[serde(default, deserialize_with = "lenient")]
    location: Option<WireLocation>,
    #[serde(default, deserialize_with = "lenient")]
    venue: Option<WireVenue>,
    #[serde(default, deserialize_with = "lenient")]
    contact: Option<WireContact>,
    #[serde(default, deserialize_with = "lenient")]
    poll: Option<WirePoll>,
    #[serde(default, deserialize_with = "lenient")]
    dice: Option<WireDice>,
    #[serde(default)]
    story: Option<Value>,
    #[serde(default)]
    paid_media: Option<Value>,
    #[serde(default)]
    invoice: Option<Value>,
    #[serde(default)]
    giveaway: Option<Value>,
}

/// `Some` when the value has the expected shape, `None` otherwise (never an error).
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(T::deserialize(v).ok())
}

impl WireContent {
    /// The attachments, in the order Telegram shows them.
    fn attachments(&self) -> Vec<Attachment> {
        let file = |kind, f: &WireFile| Attachment {
            file_name: f.file_name.clone(),
            mime_type: f.mime_type.clone(),
            size_bytes: f.file_size,
            width: f.width.or(f.length),
            height: f.height.or(f.length),
            duration_secs: f.duration,
            ..Attachment::new(kind, format!("{TELEGRAM_FILE_PREFIX}{}", f.file_id))
        };
        let mut out = Vec::new();
        if let Some(largest) = self
            .photo
            .iter()
            .flatten()
            .enumerate()
            .max_by_key(|(i, p)| (u64::from(p.width) * u64::from(p.height), p.file_size, *i))
        {
            let p = largest.1;
            out.push(Attachment {
                mime_type: Some("image/jpeg".to_owned()),
                size_bytes: p.file_size,
                width: Some(p.width).filter(|w| *w > 0),
                height: Some(p.height).filter(|h| *h > 0),
                ..Attachment::new(
                    AttachmentKind::Image,
                    format!("{TELEGRAM_FILE_PREFIX}{}", p.file_id),
                )
            });
        }
        // An animation also comes as a `document` (for old clients): shown once.
        match (&self.animation, &self.document) {
            (Some(a), _) => out.push(Attachment {
                mime_type: a.mime_type.clone().or_else(|| Some("video/mp4".to_owned())),
                ..file(AttachmentKind::Video, a)
            }),
            (None, Some(d)) => out.push(file(AttachmentKind::File, d)),
            (None, None) => {}
        }
        if let Some(a) = &self.audio {
            let mut att = file(AttachmentKind::Audio, a);
            if att.file_name.is_none() {
                let named = [a.performer.as_deref(), a.title.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" – ");
                att.file_name = (!named.is_empty()).then_some(named);
            }
            out.push(att);
        }
        if let Some(v) = &self.voice {
            out.push(Attachment {
                mime_type: v.mime_type.clone().or_else(|| Some("audio/ogg".to_owned())),
                ..file(AttachmentKind::Voice, v)
            });
        }
        if let Some(v) = &self.video {
            out.push(file(AttachmentKind::Video, v));
        }
        if let Some(v) = &self.video_note {
            out.push(Attachment {
                mime_type: Some("video/mp4".to_owned()),
                ..file(AttachmentKind::Video, v)
            });
        }
        if let Some(s) = &self.sticker {
            let mime = if s.is_animated {
                "application/x-tgsticker"
            } else if s.is_video {
                "video/webm"
            } else {
                "image/webp"
            };
            out.push(Attachment {
                mime_type: Some(mime.to_owned()),
                size_bytes: s.file_size,
                width: s.width,
                height: s.height,
                emoji: s.emoji.clone(),
                ..Attachment::new(
                    AttachmentKind::Sticker,
                    format!("{TELEGRAM_FILE_PREFIX}{}", s.file_id),
                )
            });
        }
        // A venue also comes with its `location`: shown once, with its name and address.
        match (&self.venue, &self.location) {
            (Some(v), _) => out.push(Attachment {
                title: Some(v.title.clone()).filter(|t| !t.is_empty()),
                address: Some(v.address.clone()).filter(|a| !a.is_empty()),
                ..Attachment::location(v.location.latitude, v.location.longitude)
            }),
            (None, Some(l)) => out.push(Attachment::location(l.latitude, l.longitude)),
            (None, None) => {}
        }
        if let Some(c) = &self.contact {
            let name = [Some(c.first_name.as_str()), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Attachment {
                title: (!name.is_empty()).then_some(name),
                phone: Some(c.phone_number.clone()).filter(|p| !p.is_empty()),
                ..Attachment::new(AttachmentKind::Contact, "contact")
            });
        }
        if let Some(p) = &self.poll {
            out.push(Attachment {
                title: Some(p.question.clone()),
                options: p.options.iter().map(|o| o.text.clone()).collect(),
                ..Attachment::new(AttachmentKind::Poll, "poll")
            });
        }
        if let Some(d) = &self.dice {
            out.push(Attachment {
                emoji: Some(d.emoji.clone()).filter(|e| !e.is_empty()),
                value: Some(d.value),
                ..Attachment::new(AttachmentKind::Dice, "dice")
            });
        }
        // Bots cannot download these: kept as a reference (name, size) with a note, and never
        // queued for fetching.
        for a in &mut out {
            if a.size_bytes.is_some_and(|n| n > TELEGRAM_DOWNLOAD_LIMIT) {
                a.note = Some(omnidesk_domain::too_large_note(a.size_bytes));
            }
        }
        out
    }

    /// A line for content this adapter does not model (a story, an invoice): never empty.
    fn placeholder(&self) -> Option<String> {
        [
            (self.story.is_some(), "Shared a story"),
            (self.paid_media.is_some(), "Paid media"),
            (self.invoice.is_some(), "An invoice"),
            (self.giveaway.is_some(), "A giveaway"),
        ]
        .into_iter()
        .find(|(present, _)| *present)
        .map(|(_, text)| text.to_owned())
    }
}

/// Service-message fields (read tolerantly).
#[derive(Deserialize, Default)]
struct WireService {
    #[serde(default, deserialize_with = "lenient_vec")]
    new_chat_members: Vec<Value>,
    #[serde(default)]
    left_chat_member: Option<Value>,
    #[serde(default, deserialize_with = "lenient")]
    new_chat_title: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    new_chat_photo: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_bool")]
    delete_chat_photo: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    group_chat_created: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    supergroup_chat_created: bool,
    #[serde(default)]
    pinned_message: Option<Value>,
    #[serde(default, deserialize_with = "lenient")]
    successful_payment: Option<WirePayment>,
    #[serde(default, deserialize_with = "lenient")]
    game: Option<WireGame>,
    #[serde(default, deserialize_with = "lenient")]
    forum_topic_created: Option<WireTopic>,
}

fn lenient_vec<'de, D>(d: D) -> Result<Vec<Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

fn lenient_bool<'de, D>(d: D) -> Result<bool, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Value::deserialize(d)?.as_bool().unwrap_or(false))
}

/// Who wrote the message replied to.
#[derive(Deserialize)]
struct WireReplyFrom {
    #[serde(default, deserialize_with = "lenient")]
    from: Option<WireUser>,
    #[serde(default, deserialize_with = "lenient")]
    sender_chat: Option<WireChatTitle>,
}

#[derive(Deserialize)]
struct WireTextQuote {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct WireChatTitle {
    #[serde(default)]
    title: Option<String>,
}

/// `forward_origin` and `external_reply.origin` (MessageOrigin).
#[derive(Deserialize)]
struct WireOrigin {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default, deserialize_with = "lenient")]
    sender_user: Option<WireUser>,
    #[serde(default)]
    sender_user_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    sender_chat: Option<WireChatTitle>,
    #[serde(default, deserialize_with = "lenient")]
    chat: Option<WireChatTitle>,
    #[serde(default)]
    author_signature: Option<String>,
}

impl WireOrigin {
    fn name(self) -> Option<String> {
        let chat = |c: Option<WireChatTitle>| c.and_then(|c| c.title).filter(|t| !t.is_empty());
        let name = match self.kind.as_str() {
            "user" => self
                .sender_user
                .map(|u| TelegramSender::from(u).display_name()),
            "hidden_user" => self.sender_user_name.filter(|n| !n.is_empty()),
            "chat" => chat(self.sender_chat),
            "channel" => chat(self.chat),
            _ => None,
        }?;
        Some(match self.author_signature.filter(|s| !s.is_empty()) {
            Some(signature) => format!("{name} ({signature})"),
            None => name,
        })
    }
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

/// A document, audio, voice, video, video note or animation.
#[derive(Deserialize)]
struct WireFile {
    file_id: String,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    /// A video note's side.
    #[serde(default)]
    length: Option<u32>,
    #[serde(default)]
    duration: Option<u32>,
    #[serde(default)]
    performer: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WireSticker {
    file_id: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    emoji: Option<String>,
    #[serde(default)]
    is_animated: bool,
    #[serde(default)]
    is_video: bool,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct WireLocation {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
struct WireVenue {
    location: WireLocation,
    #[serde(default)]
    title: String,
    #[serde(default)]
    address: String,
}

#[derive(Deserialize)]
struct WireContact {
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct WirePoll {
    #[serde(default)]
    question: String,
    #[serde(default)]
    options: Vec<WirePollOption>,
}

#[derive(Deserialize)]
struct WirePollOption {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct WireDice {
    #[serde(default)]
    emoji: String,
    #[serde(default)]
    value: u32,
}

#[derive(Deserialize)]
struct WirePayment {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    total_amount: i64,
}

#[derive(Deserialize)]
struct WireGame {
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct WireTopic {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct WireCallbackQuery {
    id: String,
    from: WireUser,
    /// The message the button was on (an `InaccessibleMessage` when too old: `date` 0).
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct WireMessageHead {
    message_id: i32,
    chat: WireChat,
    #[serde(default, deserialize_with = "lenient")]
    reply_markup: Option<WireMarkup>,
}

#[derive(Deserialize)]
struct WireMarkup {
    #[serde(default)]
    inline_keyboard: Vec<Vec<WireButton>>,
}

#[derive(Deserialize)]
struct WireButton {
    #[serde(default)]
    text: String,
    #[serde(default)]
    callback_data: Option<String>,
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
