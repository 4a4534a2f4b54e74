//! Translation end to end: a customer's message reaches an agent who does not read its
//! language translated, with the original; the agent's reply reaches the customer in their
//! language; a message in a language the agent reads costs no provider call; a failing
//! provider shows a marker and loses nothing. The provider is a fake DeepL on loopback that
//! checks requests as DeepL does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use omnidesk_core::BotMode;
use omnidesk_providers::fakes::{FAKE_DEEPL_KEY, FakeDeepl};
use serde_json::{Value, json};

use crate::harness::{Harness, SECRET, private_update};

const WAIT: Duration = Duration::from_secs(15);

/// A server translating with `deepl`, detecting among en, ru and zh.
async fn start(deepl: &FakeDeepl, reply_wait: Option<Duration>) -> Harness {
    start_with(deepl, reply_wait, &[]).await
}

/// [`start`] with more translation variables.
async fn start_with(
    deepl: &FakeDeepl,
    reply_wait: Option<Duration>,
    more: &[(&'static str, &str)],
) -> Harness {
    Harness::start_configured(BotMode::Webhook, translating(deepl, reply_wait, more)).await
}

/// The configuration of a server translating with `deepl` (and `more` variables), detecting
/// among en, ru and zh.
pub(crate) fn translating(
    deepl: &FakeDeepl,
    reply_wait: Option<Duration>,
    more: &[(&'static str, &str)],
) -> impl FnOnce(&mut omnidesk::config::Config) + use<> {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("OMNIDESK_TRANSLATOR", "deepl".to_owned()),
        ("DEEPL_AUTH_KEY", FAKE_DEEPL_KEY.to_owned()),
        ("DEEPL_API_URL", deepl.url()),
    ]);
    vars.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut translation =
        omnidesk_translator::TranslationConfig::from_lookup(|n| vars.get(n).cloned()).unwrap();
    if let Some(wait) = reply_wait {
        translation.worker.reply_wait = wait;
    }
    move |c| {
        c.router.detector = Some(omnidesk_language::Detector::new(&["en", "ru", "zh"]).unwrap());
        c.translation = translation;
    }
}

/// The first conversation, once there is one.
async fn first_conversation(h: &Harness) -> Value {
    h.eventually("/api/v1/conversations", WAIT, |v| {
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await["items"][0]
        .clone()
}

/// The newest message of `conversation` for which `pred` holds, once there is one.
async fn newest_message(h: &Harness, conversation: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let page = h
        .eventually(
            &format!("/api/v1/conversations/{conversation}/messages"),
            WAIT,
            |v| v["items"].as_array().is_some_and(|i| i.iter().any(&pred)),
        )
        .await;
    page["items"]
        .as_array()
        .and_then(|i| i.iter().find(|m| pred(m)))
        .cloned()
        .unwrap_or_else(|| panic!("no such message in time: {page}"))
}

/// The agent replies `text` in `conversation`; the API accepts it.
async fn send_reply(h: &Harness, conversation: &str, text: &str) {
    let res = h
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"text": text}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

async fn wait_for_telegram_text(h: &Harness, needle: &str) -> Option<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(m) = h.fake.sent().into_iter().find(|m| m.text.contains(needle)) {
            return Some(m.text);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_russian_customer_and_an_english_agent_read_each_other() {
    let deepl = FakeDeepl::start().await;
    let h = start(&deepl, None).await;

    let update = private_update(31, 8080, "Здравствуйте! Где мой заказ 5521?");
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    let conv = first_conversation(&h).await;
    assert_eq!(conv["language"], "ru");
    let id = conv["id"].as_str().unwrap().to_owned();
    let inbound = newest_message(&h, &id, |m| m["translation"]["state"] == "done").await;
    assert_eq!(
        inbound["text"], "Здравствуйте! Где мой заказ 5521?",
        "the original is kept"
    );
    assert_eq!(inbound["language"], "ru");
    let view = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        view["contact"]["language"], "ru",
        "the profile follows what the customer writes: {view}"
    );
    assert_eq!(
        inbound["translations"],
        json!([{"language": "en", "text": "Hello! Where is my order 5521?", "provider": "deepl"}]),
        "the order number went through the provider untouched: {inbound}"
    );
    let asked = deepl.controls().last_request().expect("DeepL was asked");
    assert_eq!(asked["target_lang"], "EN-US");
    assert!(
        !asked["text"][0].as_str().unwrap().contains("5521"),
        "the order number is protected from the provider: {asked}"
    );

    // The agent sees what the customer will receive before sending.
    let reply = "Your order 5521 has been shipped, track it at https://shop.example.com/t/5521";
    let preview: Value = h
        .post(
            &format!("/api/v1/conversations/{id}/translation-preview"),
            json!({"text": reply}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["needed"], true, "{preview}");
    assert_eq!(preview["language"], "ru");
    let russian =
        "Ваш заказ 5521 отправлен, отслеживайте его по ссылке https://shop.example.com/t/5521";
    assert_eq!(preview["text"], russian);
    let calls_after_preview = deepl.controls().calls();

    send_reply(&h, &id, reply).await;
    let sent = wait_for_telegram_text(&h, "Ваш заказ")
        .await
        .expect("the reply reached Telegram in Russian");
    assert_eq!(
        sent, russian,
        "the URL and the order number arrive unchanged"
    );
    assert_eq!(
        deepl.controls().calls(),
        calls_after_preview,
        "the previewed text came from the cache"
    );
    let outbound = newest_message(&h, &id, |m| {
        m["author"]["kind"] == "agent" && m["delivery"]["status"] == "sent"
    })
    .await;
    assert_eq!(outbound["text"], reply, "the agent's own text is kept");
    assert_eq!(outbound["translation"]["state"], "done");
    assert_eq!(outbound["translation"]["target"], "ru");
    assert_eq!(
        outbound["translations"],
        json!([{"language": "ru", "text": russian, "provider": "deepl"}])
    );
}

#[tokio::test]
async fn outside_the_translation_rollout_the_reply_goes_as_written_and_the_agent_still_reads() {
    // 0%: no contact is in the rollout of automatic reply translation.
    let deepl = FakeDeepl::start().await;
    let h = start_with(&deepl, None, &[("OMNIDESK_TRANSLATE_ROLLOUT", "0")]).await;
    let update = private_update(32, 8081, "Здравствуйте! Где мой заказ 7710?");
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    let id = first_conversation(&h).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The agent's side is not part of the rollout: the customer's message is translated.
    newest_message(&h, &id, |m| m["translation"]["state"] == "done").await;
    let calls = deepl.controls().calls();

    let reply = "Your order has been shipped.";
    send_reply(&h, &id, reply).await;
    let sent = wait_for_telegram_text(&h, "shipped")
        .await
        .expect("the reply reached Telegram");
    assert_eq!(
        sent, reply,
        "outside the rollout the reply goes as the agent wrote it"
    );
    let outbound = newest_message(&h, &id, |m| m["author"]["kind"] == "agent").await;
    assert!(outbound["translation"].is_null(), "{outbound}");
    assert_eq!(
        deepl.controls().calls(),
        calls,
        "no provider call for the reply"
    );
}

#[tokio::test]
async fn a_chinese_visitor_reaches_a_chinese_reading_agent_without_a_provider_call() {
    let deepl = FakeDeepl::start().await;
    let h = start(&deepl, None).await;
    let res = h
        .put(
            "/api/v1/agents/me/languages",
            json!({"language": "zh-Hans", "reads": ["en"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["language"], "zh-Hans");

    let origin = "https://shop.example.com";
    let visitor = h.web_visitor(origin, None).await;
    let visitor = visitor.as_str();
    let res = h
        .http
        .post(format!("{}/web/v1/messages", h.base))
        .header("origin", origin)
        .bearer_auth(visitor)
        .json(&json!({"text": "你好，我的订单什么时候发货？我已经等了一个星期了。", "client_id": "c1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let conv = first_conversation(&h).await;
    assert_eq!(conv["language"], "zh");
    let id = conv["id"].as_str().unwrap();
    let m = newest_message(&h, id, |m| m["direction"] == "inbound").await;
    assert_eq!(m["language"], "zh");
    assert_eq!(m["translations"], json!([]));
    assert!(m["translation"].is_null(), "nothing to translate: {m}");
    // Give a stray job time to show itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deepl.controls().calls(), 0, "no provider call");
}

#[tokio::test]
async fn a_failing_provider_shows_a_marker_loses_nothing_and_the_agent_decides() {
    let deepl = FakeDeepl::start().await;
    let h = start(&deepl, Some(Duration::from_secs(2))).await;
    deepl.controls().fail_next(1000, 503);

    let update = private_update(41, 9090, "Здравствуйте! Где мой заказ 7777?");
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    let conv = first_conversation(&h).await;
    let id = conv["id"].as_str().unwrap().to_owned();
    let inbound = newest_message(&h, &id, |m| m["translation"]["state"] == "failed").await;
    assert_eq!(inbound["translation"]["retrying"], true, "{inbound}");
    assert!(
        inbound["translation"]["reason"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{inbound}"
    );
    assert_eq!(
        inbound["text"], "Здравствуйте! Где мой заказ 7777?",
        "nothing lost"
    );

    // A reply waits for its translation, then is held for the agent.
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Your order 7777 has been shipped"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["translation"]["state"], "pending");
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    let held = newest_message(&h, &id, |m| {
        m["id"] == reply_id.as_str()
            && m["translation"]["state"] == "failed"
            && m["translation"]["retrying"] == false
    })
    .await;
    assert_eq!(
        held["delivery"]["status"], "sending",
        "held, not sent: {held}"
    );
    assert!(
        h.fake.sent().iter().all(|m| !m.text.contains("7777")),
        "nothing reached the customer untranslated behind the agent's back"
    );

    // The agent sends the original.
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/messages/{reply_id}/send-original"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let sent = wait_for_telegram_text(&h, "7777")
        .await
        .expect("the original reached Telegram");
    assert_eq!(sent, "Your order 7777 has been shipped");
    let decided = newest_message(&h, &id, |m| {
        m["id"] == reply_id.as_str() && m["delivery"]["status"] == "sent"
    })
    .await;
    assert_eq!(
        decided["translation"]["state"], "sent_original",
        "{decided}"
    );
    let again = h
        .post(
            &format!("/api/v1/conversations/{id}/messages/{reply_id}/send-original"),
            json!({}),
        )
        .await;
    assert_eq!(again.status(), 409, "a decided reply is not sent twice");

    // The customer's message stays untranslated after its tries, with the reason; once the
    // provider is back the agent asks again.
    let failed = newest_message(&h, &id, |m| {
        m["direction"] == "inbound"
            && m["translation"]["state"] == "failed"
            && m["translation"]["retrying"] == false
    })
    .await;
    deepl.controls().reset();
    let inbound_id = failed["id"].as_str().unwrap();
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/messages/{inbound_id}/retry-translation"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let m = newest_message(&h, &id, |m| {
        m["direction"] == "inbound" && m["translation"]["state"] == "done"
    })
    .await;
    assert_eq!(
        m["translations"][0]["text"], "Hello! Where is my order 7777?",
        "{m}"
    );
}

#[tokio::test]
async fn the_glossary_fixes_a_terms_translation_and_a_change_is_not_served_from_the_old_cache() {
    let deepl = FakeDeepl::start().await;
    let h = start(&deepl, None).await;
    let target = omnidesk::admin::Target::local(&h.config).unwrap();
    let bad =
        omnidesk::admin::glossary_set(&target, r#"[{"term": "x", "translations": {"??": "y"}}]"#)
            .await
            .unwrap_err();
    assert!(bad.to_string().contains("language"), "{bad}");
    let g = omnidesk::admin::glossary_set(
        &target,
        r#"[{"term": "заказ", "translations": {"en": "purchase"}}]"#,
    )
    .await
    .unwrap();
    assert_eq!(g.version, 1);

    let update = private_update(51, 6060, "Здравствуйте! Где мой заказ 5521?");
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    let conv = first_conversation(&h).await;
    let id = conv["id"].as_str().unwrap();
    let m = newest_message(&h, id, |m| m["translation"]["state"] == "done").await;
    let text = m["translations"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("purchase 5521"),
        "the glossary's translation: {text}"
    );
    let asked = deepl.controls().last_request().unwrap();
    assert!(
        !asked["text"][0].as_str().unwrap().contains("заказ"),
        "the term never reaches the provider: {asked}"
    );
}
