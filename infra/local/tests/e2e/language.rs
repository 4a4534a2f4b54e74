//! Languages without a translator: every inbound message gets the language its text is in.

use std::time::Duration;

use omnidesk_core::BotMode;

use crate::harness::{Harness, SECRET, private_update};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn every_inbound_message_gets_its_detected_language_without_a_translator() {
    let h = Harness::start_configured(BotMode::Webhook, |c| {
        c.router.detector = Some(omnidesk_language::Detector::new(&["en", "ru", "zh"]).unwrap());
    })
    .await;
    // A Russian text from a Telegram app set to English: the text wins.
    let update = private_update(
        21,
        7070,
        "Добрый день! Где мой заказ номер 5521? Жду уже неделю.",
    );
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    let conv = h
        .eventually("/api/v1/conversations", WAIT, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await["items"][0]
        .clone();
    assert_eq!(conv["language"], "ru");
    let id = conv["id"].as_str().unwrap();
    let page = h.get(&format!("/api/v1/conversations/{id}/messages")).await;
    let m = &page["items"][0];
    assert_eq!(m["language"], "ru", "{m}");
}
