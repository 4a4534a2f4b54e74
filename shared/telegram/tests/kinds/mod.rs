//! Every kind of message a customer can send, as a real-shaped update, through `parse_update`
//! and `TelegramInbound::to_message`: what the agent will see.

use omnidesk_domain::{
    AttachmentKind, ChannelMessage, Degrees, Quote, TelegramChatId, TelegramInbound,
    TelegramUserId, Timestamp,
};

use super::parse;

/// The fixtures of this module, by kind.
pub const FIXTURES: &[(&str, &str)] = &[
    ("photo", include_str!("../fixtures/telegram/photo.json")),
    ("audio", include_str!("../fixtures/telegram/audio.json")),
    ("voice", include_str!("../fixtures/telegram/voice.json")),
    ("video", include_str!("../fixtures/telegram/video.json")),
    (
        "video_note",
        include_str!("../fixtures/telegram/video_note.json"),
    ),
    ("sticker", include_str!("../fixtures/telegram/sticker.json")),
    (
        "sticker_animated",
        include_str!("../fixtures/telegram/sticker_animated.json"),
    ),
    (
        "animation",
        include_str!("../fixtures/telegram/animation.json"),
    ),
    (
        "location",
        include_str!("../fixtures/telegram/location.json"),
    ),
    ("venue", include_str!("../fixtures/telegram/venue.json")),
    ("contact", include_str!("../fixtures/telegram/contact.json")),
    ("poll", include_str!("../fixtures/telegram/poll.json")),
    ("dice", include_str!("../fixtures/telegram/dice.json")),
    ("caption", include_str!("../fixtures/telegram/caption.json")),
    ("reply", include_str!("../fixtures/telegram/reply.json")),
    (
        "reply_to_photo",
        include_str!("../fixtures/telegram/reply_to_photo.json"),
    ),
    ("forward", include_str!("../fixtures/telegram/forward.json")),
    (
        "forward_hidden_user",
        include_str!("../fixtures/telegram/forward_hidden_user.json"),
    ),
    (
        "forward_channel",
        include_str!("../fixtures/telegram/forward_channel.json"),
    ),
    ("album_1", include_str!("../fixtures/telegram/album_1.json")),
    ("album_2", include_str!("../fixtures/telegram/album_2.json")),
    ("album_3", include_str!("../fixtures/telegram/album_3.json")),
    (
        "edited_message",
        include_str!("../fixtures/telegram/edited_message.json"),
    ),
    (
        "edited_caption",
        include_str!("../fixtures/telegram/edited_caption.json"),
    ),
    (
        "callback_query",
        include_str!("../fixtures/telegram/callback_query.json"),
    ),
    (
        "callback_query_human",
        include_str!("../fixtures/telegram/callback_query_human.json"),
    ),
    (
        "new_chat_members",
        include_str!("../fixtures/telegram/new_chat_members.json"),
    ),
    (
        "left_chat_member",
        include_str!("../fixtures/telegram/left_chat_member.json"),
    ),
    (
        "new_chat_title",
        include_str!("../fixtures/telegram/new_chat_title.json"),
    ),
    (
        "new_chat_photo",
        include_str!("../fixtures/telegram/new_chat_photo.json"),
    ),
    (
        "pinned_message",
        include_str!("../fixtures/telegram/pinned_message.json"),
    ),
    (
        "group_chat_created",
        include_str!("../fixtures/telegram/group_chat_created.json"),
    ),
    (
        "migrate_to_chat_id",
        include_str!("../fixtures/telegram/migrate_to_chat_id.json"),
    ),
    (
        "successful_payment",
        include_str!("../fixtures/telegram/successful_payment.json"),
    ),
    ("game", include_str!("../fixtures/telegram/game.json")),
    (
        "document",
        include_str!("../fixtures/telegram/document.json"),
    ),
];

fn fixture(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, raw)| *raw)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn inbound(name: &str) -> TelegramInbound {
    parse(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The routed message of a fixture (the bot's username is known, as in production).
fn routed(name: &str) -> ChannelMessage {
    inbound(name)
        .to_message(Some("omnidesk_test_bot"))
        .unwrap_or_else(|| panic!("{name} is not routed"))
}

/// The one attachment of a fixture's routed message.
fn only_attachment(name: &str) -> omnidesk_domain::Attachment {
    let m = routed(name);
    assert_eq!(m.attachments.len(), 1, "{name}: {:?}", m.attachments);
    m.attachments.into_iter().next().unwrap()
}

#[test]
fn every_message_fixture_is_routed_as_something_readable() {
    let silent = ["migrate_to_chat_id"];
    for (name, raw) in FIXTURES {
        let m = parse(raw).unwrap().to_message(Some("omnidesk_test_bot"));
        if silent.contains(name) {
            assert!(m.is_none(), "{name} should not reach agents");
            continue;
        }
        let m = m.unwrap_or_else(|| panic!("{name} is not routed"));
        let readable = !m.text.trim().is_empty()
            || m.attachments
                .iter()
                .any(|a| !a.describe().trim().is_empty());
        assert!(readable, "{name} would show as an empty message");
    }
}

#[test]
fn a_photo_is_its_largest_size_with_dimensions() {
    let m = routed("photo");
    assert_eq!(m.text, "");
    assert_eq!(
        m.message_key.as_deref(),
        Some("tg:7000000001:5123456789:1101")
    );
    assert_eq!(m.sequence, 1101);
    let a = only_attachment("photo");
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(
        a.reference,
        "tg-file:AgACAgIAAxkBAAIETWdQhmV0c2ZqAAHcYUqLarge"
    );
    assert_eq!((a.width, a.height), (Some(1080), Some(1080)));
    assert_eq!(a.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(a.size_bytes, Some(88_712));
    assert!(a.needs_fetch());
}

#[test]
fn a_document_keeps_name_type_and_size() {
    let a = only_attachment("document");
    assert_eq!(a.kind, AttachmentKind::File);
    assert_eq!(a.file_name.as_deref(), Some("invoice-4521.pdf"));
    assert_eq!(a.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(a.size_bytes, Some(183_422));
}

#[test]
fn audio_voice_video_and_video_notes_keep_their_duration() {
    let a = only_attachment("audio");
    assert_eq!(a.kind, AttachmentKind::Audio);
    assert_eq!(a.duration_secs, Some(214));
    assert_eq!(a.file_name.as_deref(), Some("hold-music.mp3"));
    assert_eq!(a.mime_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(a.size_bytes, Some(3_428_117));

    let v = only_attachment("voice");
    assert_eq!(v.kind, AttachmentKind::Voice);
    assert_eq!(v.duration_secs, Some(7));
    assert_eq!(v.mime_type.as_deref(), Some("audio/ogg"));
    assert_eq!(v.describe(), "Voice message 0:07");

    let v = only_attachment("video");
    assert_eq!(v.kind, AttachmentKind::Video);
    assert_eq!(
        (v.width, v.height, v.duration_secs),
        (Some(720), Some(1280), Some(29))
    );
    assert_eq!(v.file_name.as_deref(), Some("unboxing.mp4"));
    assert_eq!(v.size_bytes, Some(18_081_996));

    let n = only_attachment("video_note");
    assert_eq!(n.kind, AttachmentKind::Video);
    assert_eq!(
        (n.width, n.height, n.duration_secs),
        (Some(384), Some(384), Some(12))
    );
    assert_eq!(n.mime_type.as_deref(), Some("video/mp4"));
}

#[test]
fn a_file_over_the_download_limit_is_kept_as_a_reference_with_a_note() {
    let raw = fixture("video").replace(r#""file_size": 18081996"#, r#""file_size": 48081996"#);
    let m = parse(&raw).unwrap().to_message(None).unwrap();
    let v = &m.attachments[0];
    assert_eq!(v.size_bytes, Some(48_081_996));
    assert_eq!(v.file_name.as_deref(), Some("unboxing.mp4"));
    assert_eq!(
        v.note.as_deref(),
        Some(
            "Not downloaded: over Telegram's 20 MB limit for bots (45.9 MB). Open it in Telegram."
        )
    );
    assert!(!v.needs_fetch());
    // Within the limit: fetched.
    assert!(only_attachment("video").needs_fetch());
}

#[test]
fn an_animation_is_one_video_not_also_a_document() {
    let a = only_attachment("animation");
    assert_eq!(a.kind, AttachmentKind::Video);
    assert_eq!(a.duration_secs, Some(3));
    assert_eq!(a.mime_type.as_deref(), Some("video/mp4"));
}

#[test]
fn a_sticker_shows_its_emoji_and_its_file_as_the_preview() {
    let s = only_attachment("sticker");
    assert_eq!(s.kind, AttachmentKind::Sticker);
    assert_eq!(s.emoji.as_deref(), Some("😂"));
    assert_eq!(s.mime_type.as_deref(), Some("image/webp"));
    assert_eq!((s.width, s.height), (Some(512), Some(512)));
    assert_eq!(s.reference, "tg-file:CAACAgIAAxkBAAIEVGdQh25sticker");
    assert_eq!(s.describe(), "Sticker 😂");
    let animated = only_attachment("sticker_animated");
    assert_eq!(
        animated.mime_type.as_deref(),
        Some("application/x-tgsticker")
    );
}

#[test]
fn a_location_and_a_venue_carry_their_coordinates() {
    let m = routed("location");
    assert_eq!(m.text, "");
    let l = only_attachment("location");
    assert_eq!(l.kind, AttachmentKind::Location);
    assert_eq!(l.latitude, Some(Degrees(-23.561414)));
    assert_eq!(l.longitude, Some(Degrees(-46.655881)));
    assert!(l.describe().contains("-23.561414, -46.655881"));
    assert!(l.map_url().unwrap().contains("mlat=-23.561414"));
    assert!(!l.needs_fetch());

    let v = only_attachment("venue");
    assert_eq!(v.kind, AttachmentKind::Location);
    assert_eq!(v.title.as_deref(), Some("MASP"));
    assert_eq!(
        v.address.as_deref(),
        Some("Av. Paulista, 1578 - Bela Vista, São Paulo")
    );
    assert_eq!(v.latitude, Some(Degrees(-23.561414)));
    assert!(v.describe().starts_with("Location: MASP, Av. Paulista"));
}

#[test]
fn a_contact_a_poll_and_a_dice_read_without_any_file() {
    let c = only_attachment("contact");
    assert_eq!(c.kind, AttachmentKind::Contact);
    assert_eq!(c.title.as_deref(), Some("Carlos Lima"));
    assert_eq!(c.phone.as_deref(), Some("+5511987654321"));

    let p = only_attachment("poll");
    assert_eq!(p.kind, AttachmentKind::Poll);
    assert_eq!(
        p.title.as_deref(),
        Some("Which size should I exchange it for?")
    );
    assert_eq!(p.options, vec!["S", "M", "L"]);

    let d = only_attachment("dice");
    assert_eq!(d.kind, AttachmentKind::Dice);
    assert_eq!((d.emoji.as_deref(), d.value), (Some("🎲"), Some(5)));
    for a in [c, p, d] {
        assert!(!a.needs_fetch());
    }
}

#[test]
fn a_caption_is_the_text() {
    let m = routed("caption");
    assert_eq!(m.text, "Here is the receipt for order #4521");
    assert_eq!(m.attachments[0].file_name.as_deref(), Some("receipt.jpg"));
}

#[test]
fn a_reply_quotes_the_replied_message_shortened_with_its_author() {
    let i = inbound("reply");
    assert_eq!(i.reply_to_user, Some(TelegramUserId(7_000_000_001)));
    let q = routed("reply").reply_to.unwrap();
    assert_eq!(q.author.as_deref(), Some("Acme Support"));
    assert!(q.text.starts_with("Is your order number 4521?"));
    assert!(q.text.chars().count() <= 200, "{}", q.text);
    assert!(q.text.ends_with('…'));
    assert_eq!(
        routed("reply_to_photo").reply_to,
        Some(Quote {
            text: "Photo".into(),
            author: Some("Ana Souza".into())
        })
    );
}

#[test]
fn a_forward_says_whom_it_is_from() {
    assert_eq!(
        routed("forward").forwarded_from.as_deref(),
        Some("Maria Costa")
    );
    assert_eq!(
        routed("forward_hidden_user").forwarded_from.as_deref(),
        Some("João P.")
    );
    // Only the fields of older Bot API versions.
    assert_eq!(
        routed("forward_channel").forwarded_from.as_deref(),
        Some("Acme Deals")
    );
    assert_eq!(routed("photo").forwarded_from, None);
}

#[test]
fn the_parts_of_an_album_share_its_id_and_the_first_has_the_caption() {
    let parts: Vec<ChannelMessage> = ["album_1", "album_2", "album_3"]
        .iter()
        .map(|n| routed(n))
        .collect();
    for p in &parts {
        assert_eq!(p.album.as_deref(), Some("13845631934512345"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].kind, AttachmentKind::Image);
    }
    assert_eq!(parts[0].text, "Photos of the damage, order #4521");
    assert_eq!(parts[1].text, "");
    assert_ne!(parts[0].message_key, parts[1].message_key);
}

#[test]
fn an_edit_is_routed_with_the_key_and_date_of_the_message_it_edits() {
    let original = routed("caption");
    let edit = routed("edited_caption");
    assert_eq!(edit.message_key, original.message_key);
    assert_eq!(edit.sent_at, original.sent_at);
    assert_eq!(edit.sequence, original.sequence);
    assert_ne!(edit.source_key, original.source_key);
    assert_eq!(edit.text, "Here is the receipt for order #4522");
    assert_eq!(original.edited_at, None);
    assert_eq!(
        edit.edited_at,
        Some(Timestamp::from_millis(1_763_781_400_000))
    );
    assert_eq!(edit.attachments, original.attachments);
    // An edited command is not a command again.
    let mut start = inbound("edited_message");
    start.text = Some("/start".into());
    assert_eq!(start.to_message(None).unwrap().command, None);
}

#[test]
fn a_button_press_is_its_label_and_its_choice() {
    let i = inbound("callback_query");
    assert_eq!(i.callback_query_id.as_deref(), Some("4382bfdwdsb323b2d9"));
    assert_eq!(i.callback_data.as_deref(), Some("csat:yes"));
    assert_eq!(i.callback_label.as_deref(), Some("Yes"));
    let m = routed("callback_query");
    assert_eq!(m.text, "Yes");
    assert_eq!(m.choice.as_deref(), Some("csat:yes"));
    assert_eq!(m.key.as_str(), "tg:7000000001:5123456789");
    assert_eq!(m.command, None);
    let human = routed("callback_query_human");
    assert_eq!(human.text, "Talk to a person");
    assert_eq!(human.choice.as_deref(), Some("human"));
    // A press on an old message whose keyboard is gone: the data stands in for the label.
    let raw = fixture("callback_query").replace(r#""reply_markup""#, r#""x_markup""#);
    assert_eq!(
        parse(&raw).unwrap().to_message(None).unwrap().text,
        "csat:yes"
    );
}

#[test]
fn a_button_press_in_a_group_is_the_pressers() {
    let raw = fixture("callback_query").replace(
        r#""chat": { "id": 5123456789, "first_name": "Ana", "type": "private" }"#,
        r#""chat": { "id": -1001987654321, "title": "Acme customers", "type": "supergroup" }"#,
    );
    let i = parse(&raw).unwrap();
    assert_eq!(i.chat_id, Some(TelegramChatId(-1_001_987_654_321)));
    let m = i.to_message(Some("omnidesk_test_bot")).unwrap();
    assert_eq!(m.key.as_str(), "tg:7000000001:-1001987654321:5123456789");
}

#[test]
fn service_messages_become_notices_or_nothing() {
    let notice = |name: &str| routed(name).notice.unwrap();
    assert_eq!(
        notice("new_chat_members"),
        "Dana and Eli Moss joined the group"
    );
    assert_eq!(notice("left_chat_member"), "Dana left the group");
    assert_eq!(
        notice("new_chat_title"),
        "The group was renamed to \u{201c}Acme customers (EU)\u{201d}"
    );
    assert_eq!(notice("new_chat_photo"), "Bob changed the group photo");
    assert_eq!(
        notice("pinned_message"),
        "Bob pinned \u{201c}Opening hours: Mon–Fri 9–18\u{201d}"
    );
    assert_eq!(notice("group_chat_created"), "Bob created the group");
    assert_eq!(notice("successful_payment"), "Payment received: 12.50 EUR");
    assert_eq!(
        notice("game"),
        "Ana Souza started the game \u{201c}Lumberjack\u{201d}"
    );
    let m = routed("new_chat_members");
    assert_eq!(m.text, m.notice.clone().unwrap());
    assert!(m.attachments.is_empty());
    assert_eq!(m.key.as_str(), "tg:7000000001:-1001987654321:6011223344");
    assert!(routed("new_chat_photo").attachments.is_empty());
    let migrated = inbound("migrate_to_chat_id");
    assert_eq!(migrated.notice, None);
    assert!(migrated.to_message(None).is_none());
}
