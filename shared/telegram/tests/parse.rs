//! Integration tests: raw Telegram payloads through `parse_update`, and the HTTP client
//! against the fake Bot API server.

use omnidesk_domain::{
    AttachmentKind, BotId, ChatKind, TelegramChatId, TelegramUserId, Timestamp, UpdateId,
};
use omnidesk_telegram::{UpdateParseError, parse_update};

#[cfg(feature = "fake")]
mod client;
mod kinds;
mod props;

fn bot() -> BotId {
    BotId::parse("7000000001").unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_millis(1_763_780_999_000)
}

fn parse(body: &str) -> Result<omnidesk_domain::TelegramInbound, UpdateParseError> {
    parse_update(bot(), body.as_bytes(), now())
}

#[test]
fn a_private_text_message_maps_chat_sender_text_and_date() {
    let m = parse(include_str!("fixtures/telegram/private_text.json")).unwrap();
    assert_eq!(m.bot_id, bot());
    assert_eq!(m.update_id, UpdateId(912_345_678));
    assert_eq!(m.kind, "message");
    assert_eq!(m.chat_id, Some(TelegramChatId(5_123_456_789)));
    assert_eq!(m.chat_kind, Some(ChatKind::Private));
    assert_eq!(m.chat_title, None);
    let from = m.from.as_ref().unwrap();
    assert_eq!(from.user_id, TelegramUserId(5_123_456_789));
    assert!(!from.is_bot);
    assert_eq!(from.first_name, "Ana");
    assert_eq!(from.last_name.as_deref(), Some("Souza"));
    assert_eq!(from.username.as_deref(), Some("ana_souza"));
    assert_eq!(from.language_code.as_deref(), Some("pt-br"));
    assert_eq!(m.message_id, Some(1042));
    assert_eq!(
        m.text.as_deref(),
        Some("Olá! Meu pedido #4521 ainda não chegou 😕")
    );
    assert!(m.attachments.is_empty());
    assert!(m.mentions.is_empty());
    assert_eq!(m.reply_to_user, None);
    assert_eq!(m.sent_at, Some(Timestamp::from_millis(1_763_780_000_000)));
    assert!(m.addresses_bot(Some("omnidesk_test_bot")));
    assert_eq!(m.source_key(), "tg:7000000001:912345678");
}

#[test]
fn a_group_mention_yields_usernames_without_the_at_sign() {
    let m = parse(include_str!("fixtures/telegram/group_mention.json")).unwrap();
    assert_eq!(m.chat_kind, Some(ChatKind::Supergroup));
    assert_eq!(m.chat_id, Some(TelegramChatId(-1_001_987_654_321)));
    assert_eq!(m.chat_title.as_deref(), Some("Acme customers"));
    assert_eq!(m.mentions, vec!["omnidesk_test_bot", "carol"]);
    assert!(m.addresses_bot(Some("omnidesk_test_bot")));
    assert_eq!(
        m.conversation_key().unwrap().as_str(),
        "tg:7000000001:-1001987654321:6011223344"
    );
}

#[test]
fn a_group_reply_records_who_was_replied_to() {
    let m = parse(include_str!("fixtures/telegram/group_reply_to_bot.json")).unwrap();
    assert_eq!(m.reply_to_user, Some(TelegramUserId(7_000_000_001)));
    assert_eq!(m.text.as_deref(), Some("It's 4521"));
    assert!(m.addresses_bot(None));
}

#[test]
fn a_photo_keeps_its_caption_and_the_largest_size() {
    let m = parse(include_str!("fixtures/telegram/photo_with_caption.json")).unwrap();
    assert_eq!(m.text.as_deref(), Some("A caixa chegou amassada"));
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(a.reference, "tg-file:AgACAgIAAxkBAAIBQ2large");
    assert_eq!(a.size_bytes, Some(98_211));
}

#[test]
fn a_document_keeps_its_name_type_and_size() {
    let m = parse(include_str!("fixtures/telegram/document.json")).unwrap();
    assert_eq!(m.text, None);
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.kind, AttachmentKind::File);
    assert_eq!(a.reference, "tg-file:BQACAgIAAxkBAAIBRGdocument");
    assert_eq!(a.file_name.as_deref(), Some("invoice-4521.pdf"));
    assert_eq!(a.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(a.size_bytes, Some(183_422));
}

#[test]
fn an_edit_keeps_the_original_date_and_adds_the_edit_date() {
    let m = parse(include_str!("fixtures/telegram/edited_message.json")).unwrap();
    assert_eq!(m.kind, "edited_message");
    assert_eq!(m.update_id, UpdateId(912_345_683));
    assert_eq!(
        m.text.as_deref(),
        Some("Olá! Meu pedido #4521 ainda não chegou")
    );
    assert_eq!(m.chat_id, Some(TelegramChatId(5_123_456_789)));
    assert_eq!(m.message_id, Some(1042));
    assert_eq!(m.sent_at, Some(Timestamp::from_millis(1_763_780_000_000)));
    assert_eq!(m.edited_at, Some(Timestamp::from_millis(1_763_780_400_000)));
}

#[test]
fn a_callback_query_is_kept_with_its_sender_and_chat() {
    let m = parse(include_str!("fixtures/telegram/callback_query.json")).unwrap();
    assert_eq!(m.kind, "callback_query");
    assert_eq!(m.text, None);
    assert_eq!(
        m.from.as_ref().map(|f| f.user_id),
        Some(TelegramUserId(5_123_456_789))
    );
    assert_eq!(m.chat_id, Some(TelegramChatId(5_123_456_789)));
}

#[test]
fn a_member_change_is_kept_with_its_chat() {
    let m = parse(include_str!("fixtures/telegram/my_chat_member.json")).unwrap();
    assert_eq!(m.kind, "my_chat_member");
    assert_eq!(m.text, None);
    assert_eq!(m.chat_kind, Some(ChatKind::Private));
    assert_eq!(m.sent_at, Some(Timestamp::from_millis(1_763_780_600_000)));
}

#[test]
fn an_unknown_update_kind_is_not_a_poison_update() {
    let m = parse(include_str!("fixtures/telegram/unknown_kind.json")).unwrap();
    assert_eq!(m.kind, "unknown");
    assert_eq!(m.update_id, UpdateId(912_345_686));
    assert_eq!(m.text, None);
    assert_eq!(m.chat_id, None);
}

#[test]
fn a_message_of_unexpected_shape_is_kept_without_content() {
    let m = parse(r#"{"update_id":5,"message":{"message_id":"not a number","chat":7}}"#).unwrap();
    assert_eq!(m.kind, "message");
    assert_eq!(m.update_id, UpdateId(5));
    assert_eq!(m.text, None);
}

#[test]
fn bodies_that_are_not_updates_are_errors() {
    assert_eq!(
        parse(include_str!("fixtures/telegram/not_an_update.json")),
        Err(UpdateParseError::NoUpdateId)
    );
    assert!(matches!(
        parse("this is not json"),
        Err(UpdateParseError::NotJson(_))
    ));
    assert!(matches!(parse("[1,2]"), Err(UpdateParseError::NotJson(_))));
    assert_eq!(
        parse(r#"{"update_id":"12"}"#),
        Err(UpdateParseError::NoUpdateId)
    );
}

#[test]
fn a_raw_update_round_trips_through_teloxide_too() {
    // The fixtures are real Bot API payloads: teloxide-core parses them from the raw text.
    for (_, raw) in kinds::FIXTURES.iter().chain([
        &(
            "private_text",
            include_str!("fixtures/telegram/private_text.json"),
        ),
        &(
            "photo_with_caption",
            include_str!("fixtures/telegram/photo_with_caption.json"),
        ),
        &(
            "callback_query",
            include_str!("fixtures/telegram/callback_query.json"),
        ),
        &(
            "my_chat_member",
            include_str!("fixtures/telegram/my_chat_member.json"),
        ),
    ]) {
        let update: teloxide_core::types::Update = serde_json::from_str(raw).unwrap();
        assert!(
            !matches!(update.kind, teloxide_core::types::UpdateKind::Error(_)),
            "{raw}"
        );
    }
}
