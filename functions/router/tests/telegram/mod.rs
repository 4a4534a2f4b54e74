//! Real-shaped Telegram updates of every kind, through the production parser
//! (`omnidesk_telegram::parse_update`, `TelegramInbound::to_message`) and the router: what
//! agents get to see.

use omnidesk_core::{ConnectionId, ConversationStore, MediaJob, QueueName};
use omnidesk_domain::{
    AgentStatus, AttachmentKind, Author, ChannelRef, ConversationStatus, Direction, InboundEvent,
    Message, SystemEvent, Timestamp,
};
use omnidesk_router::{HUMAN_CHOICE, handle, media_dedupe_id};

use super::{Setup, add_agent, all_conversations, bot, setup, timeline};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../../../shared/telegram/tests/fixtures/telegram/",
                $name,
                ".json"
            )),
        )
    };
}

/// Customer messages of every kind (private chat).
const MESSAGES: &[(&str, &str)] = &[
    fixture!("photo"),
    fixture!("photo_with_caption"),
    fixture!("document"),
    fixture!("audio"),
    fixture!("voice"),
    fixture!("video"),
    fixture!("video_note"),
    fixture!("sticker"),
    fixture!("sticker_animated"),
    fixture!("animation"),
    fixture!("location"),
    fixture!("venue"),
    fixture!("contact"),
    fixture!("poll"),
    fixture!("dice"),
    fixture!("caption"),
    fixture!("reply"),
    fixture!("reply_to_photo"),
    fixture!("forward"),
    fixture!("forward_hidden_user"),
    fixture!("forward_channel"),
];

fn raw(name: &str) -> &'static str {
    const OTHERS: &[(&str, &str)] = &[
        fixture!("private_text"),
        fixture!("group_mention"),
        fixture!("album_1"),
        fixture!("album_2"),
        fixture!("album_3"),
        fixture!("edited_caption"),
        fixture!("callback_query"),
        fixture!("callback_query_human"),
        fixture!("new_chat_members"),
        fixture!("new_chat_title"),
        fixture!("successful_payment"),
    ];
    MESSAGES
        .iter()
        .chain(OTHERS)
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The inbound event the webhook would enqueue for a fixture (received a second after its
/// date), or `None` when it is not routed.
fn event(name: &str) -> Option<InboundEvent> {
    let received = Timestamp::from_millis(1_763_790_000_000);
    let inbound = omnidesk_telegram::parse_update(bot(), raw(name).as_bytes(), received)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let m = inbound.to_message(Some("omnidesk_test_bot"))?;
    Some(InboundEvent::message(m, received))
}

async fn feed(s: &Setup, name: &str) {
    let ev = event(name).unwrap_or_else(|| panic!("{name} is not routed"));
    handle(&s.deps, &ev).await.unwrap();
}

/// The customer's messages of the only conversation, oldest first.
async fn inbound_messages(s: &Setup) -> Vec<Message> {
    let convs = all_conversations(s).await;
    assert_eq!(convs.len(), 1);
    let mut msgs: Vec<Message> = timeline(s, convs[0].id)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .collect();
    msgs.reverse();
    msgs
}

fn media_jobs(s: &Setup) -> Vec<MediaJob> {
    s.queue
        .pending(QueueName::Media)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

fn frames_of(s: &Setup, kind: &str) -> Vec<serde_json::Value> {
    s.push
        .frames(&ConnectionId("c1".to_owned()))
        .iter()
        .map(|f| serde_json::from_str::<serde_json::Value>(f).unwrap())
        .flat_map(|v| match v["type"].as_str() {
            Some("batch") => v["events"].as_array().cloned().unwrap_or_default(),
            _ => vec![v],
        })
        .filter(|v| v["type"] == kind)
        .collect()
}

#[tokio::test]
async fn every_kind_a_customer_sends_is_stored_as_something_readable() {
    for (name, _) in MESSAGES {
        let s = setup().await;
        feed(&s, name).await;
        let msgs = inbound_messages(&s).await;
        assert_eq!(msgs.len(), 1, "{name}");
        let m = &msgs[0];
        assert!(!m.preview_text().trim().is_empty(), "{name} reads as empty");
        let conv = &all_conversations(&s).await[0];
        let preview = &conv.last_message.as_ref().unwrap().text;
        assert!(!preview.trim().is_empty(), "{name}: empty preview");
        // The contract of a message's attachments.
        let json = serde_json::to_value(m).unwrap();
        for a in json["attachments"].as_array().unwrap() {
            for field in ["kind", "file_name", "mime_type", "size_bytes"] {
                assert!(a.get(field).is_some(), "{name}: attachment without {field}");
            }
        }
        let fetch = m.attachments.iter().any(|a| a.needs_fetch());
        assert_eq!(!media_jobs(&s).is_empty(), fetch, "{name}: media job");
    }
}

#[tokio::test]
async fn a_location_reads_without_a_map_and_quotes_and_forwards_are_kept() {
    let s = setup().await;
    feed(&s, "location").await;
    let m = &inbound_messages(&s).await[0];
    assert!(m.preview_text().contains("-23.561414, -46.655881"));
    let conv = &all_conversations(&s).await[0];
    assert!(
        conv.last_message
            .as_ref()
            .unwrap()
            .text
            .contains("-23.561414")
    );
    assert!(media_jobs(&s).is_empty());

    feed(&s, "reply").await;
    feed(&s, "forward").await;
    let msgs = inbound_messages(&s).await;
    let quote = msgs[1].reply_to.as_ref().unwrap();
    assert_eq!(quote.author.as_deref(), Some("Acme Support"));
    assert!(quote.text.starts_with("Is your order number 4521?"));
    assert_eq!(msgs[2].forwarded_from.as_deref(), Some("Maria Costa"));
}

#[tokio::test]
async fn a_file_is_queued_for_fetching_once_per_revision() {
    let s = setup().await;
    feed(&s, "document").await;
    let m = inbound_messages(&s).await.remove(0);
    assert_eq!(
        media_jobs(&s),
        vec![MediaJob {
            conversation_id: m.conversation_id,
            message_id: m.id,
        }]
    );
    assert_eq!(media_dedupe_id(&m), format!("media:{}:0", m.id));
    // Redelivered: stored once, queued once.
    feed(&s, "document").await;
    assert_eq!(inbound_messages(&s).await.len(), 1);
    assert_eq!(media_jobs(&s).len(), 1);
}

#[tokio::test]
async fn an_album_of_three_photos_is_one_message_with_three_attachments() {
    let s = setup().await;
    add_agent(&s, "ann@example.com", AgentStatus::Online).await;
    for part in ["album_1", "album_2", "album_3"] {
        feed(&s, part).await;
    }
    let msgs = inbound_messages(&s).await;
    assert_eq!(msgs.len(), 1);
    let album = &msgs[0];
    assert_eq!(album.attachments.len(), 3);
    assert!(
        album
            .attachments
            .iter()
            .all(|a| a.kind == AttachmentKind::Image)
    );
    assert_eq!(album.text, "Photos of the damage, order #4521");
    assert_eq!(album.album.as_deref(), Some("13845631934512345"));
    assert_eq!(album.revision, 2);
    let Some(ChannelRef::Telegram { message_ids, .. }) = &album.channel_ref else {
        panic!("a Telegram message")
    };
    assert_eq!(message_ids, &vec![1120, 1121, 1122]);
    assert_eq!(all_conversations(&s).await[0].unread_count, 1);
    assert_eq!(frames_of(&s, "message.updated").len(), 2);
    // The new files of each revision are queued.
    assert_eq!(media_jobs(&s).len(), 3);

    // A redelivered part adds nothing.
    feed(&s, "album_2").await;
    let again = &inbound_messages(&s).await[0];
    assert_eq!(again.attachments.len(), 3);
    assert_eq!(again.revision, 2);
}

#[tokio::test]
async fn an_edit_changes_the_text_and_keeps_the_previous_one() {
    let s = setup().await;
    add_agent(&s, "ann@example.com", AgentStatus::Online).await;
    feed(&s, "caption").await;
    feed(&s, "edited_caption").await;
    let msgs = inbound_messages(&s).await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.text, "Here is the receipt for order #4522");
    assert_eq!(m.edited_at, Some(Timestamp::from_millis(1_763_781_400_000)));
    assert_eq!(m.edit_history.len(), 1);
    assert_eq!(
        m.edit_history[0].text,
        "Here is the receipt for order #4521"
    );
    assert_eq!(m.attachments.len(), 1);
    let updated = frames_of(&s, "message.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0]["message"]["text"],
        "Here is the receipt for order #4522"
    );
    // The conversation's preview follows.
    let conv = &all_conversations(&s).await[0];
    assert_eq!(
        conv.last_message.as_ref().unwrap().text,
        "Here is the receipt for order #4522"
    );

    // Redelivered: the history is not added twice.
    feed(&s, "edited_caption").await;
    let m = &inbound_messages(&s).await[0];
    assert_eq!(m.edit_history.len(), 1);
    assert_eq!(frames_of(&s, "message.updated").len(), 1);
}

#[tokio::test]
async fn an_edit_of_a_message_never_seen_is_stored_as_an_edited_message() {
    let s = setup().await;
    feed(&s, "edited_caption").await;
    let msgs = inbound_messages(&s).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].text, "Here is the receipt for order #4522");
    assert!(msgs[0].edited_at.is_some());
    assert!(msgs[0].edit_history.is_empty());
    // The original arriving after all is the same message.
    feed(&s, "caption").await;
    assert_eq!(inbound_messages(&s).await.len(), 1);
}

#[tokio::test]
async fn the_greeting_offers_a_person_and_choosing_one_queues_the_conversation() {
    let s = setup().await;
    let mut start = event("private_text").unwrap();
    let omnidesk_domain::InboundSource::Message(m) = &mut start.source else {
        panic!("a neutral message")
    };
    m.text = "/start".to_owned();
    m.command = Some(omnidesk_domain::BotCommand::Start);
    handle(&s.deps, &start).await.unwrap();
    let conv = all_conversations(&s).await.remove(0);
    assert_eq!(conv.status, ConversationStatus::Bot);
    let greeting = timeline(&s, conv.id)
        .await
        .into_iter()
        .find(|m| m.author == Author::Bot)
        .unwrap();
    assert_eq!(greeting.buttons.len(), 1);
    assert_eq!(greeting.buttons[0].text, "Talk to a person");
    assert_eq!(greeting.buttons[0].data, HUMAN_CHOICE);

    // The customer presses it (the webhook answered the callback already).
    feed(&s, "callback_query_human").await;
    let conv = s.store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(conv.status, ConversationStatus::Queued);
    let msgs = timeline(&s, conv.id).await;
    let choice = msgs
        .iter()
        .find(|m| m.direction == Direction::Inbound && m.text == "Talk to a person");
    assert!(choice.is_some());
    let ack = msgs
        .iter()
        .filter(|m| m.author == Author::Bot)
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>();
    // Nobody online: the customer waits in the queue and is told their place.
    assert!(
        ack.contains(
            &"A member of our team will answer here shortly. You are number 1 in the queue."
        ),
        "{ack:?}"
    );
    // The timeline says why the bot handed over.
    assert!(
        msgs.iter().any(|m| matches!(
            &m.event,
            Some(omnidesk_domain::SystemEvent::HandedOver { reason })
                if reason == "the customer asked for a person"
        )),
        "{msgs:?}"
    );
}

#[tokio::test]
async fn another_choice_reaches_the_router_as_the_buttons_label() {
    let s = setup().await;
    feed(&s, "callback_query").await;
    let msgs = inbound_messages(&s).await;
    assert_eq!(msgs[0].text, "Yes");
}

#[tokio::test]
async fn a_service_message_is_a_timeline_event_and_assigns_nobody() {
    let s = setup().await;
    // Bob asked the bot in the group; nobody is online, so it waits in the queue.
    feed(&s, "group_mention").await;
    add_agent(&s, "ann@example.com", AgentStatus::Online).await;
    let before = all_conversations(&s).await.remove(0);
    assert_eq!(before.status, ConversationStatus::Queued);

    feed(&s, "new_chat_members").await;
    feed(&s, "new_chat_title").await;
    let after = s.store.get_conversation(before.id).await.unwrap().unwrap();
    assert_eq!(after.status, ConversationStatus::Queued);
    assert_eq!(after.assignee_id, None);
    assert_eq!(after.unread_count, before.unread_count);
    let msgs = timeline(&s, before.id).await;
    let notices: Vec<&str> = msgs
        .iter()
        .filter_map(|m| match &m.event {
            Some(SystemEvent::Notice { text }) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notices,
        vec![
            "The group was renamed to \u{201c}Acme customers (EU)\u{201d}",
            "Dana and Eli Moss joined the group"
        ]
    );
    assert_eq!(
        msgs.iter()
            .filter(|m| m.direction == Direction::Inbound)
            .count(),
        1
    );
    assert!(
        msgs.iter()
            .all(|m| !matches!(m.event, Some(SystemEvent::Assigned { .. })))
    );
    // Redelivered: one event.
    feed(&s, "new_chat_title").await;
    assert_eq!(timeline(&s, before.id).await.len(), msgs.len());
}

#[tokio::test]
async fn a_notice_for_a_chat_without_a_conversation_is_dropped() {
    let s = setup().await;
    feed(&s, "successful_payment").await;
    assert!(all_conversations(&s).await.is_empty());
}
