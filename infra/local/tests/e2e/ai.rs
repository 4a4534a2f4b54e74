//! The AI end to end, on the running server: it answers first from the FAQ or a model with
//! the whole cross-channel context, and hands over cleanly — each handover a named scenario.
//! The model is a fake OpenAI-compatible server on loopback that records every prompt; the
//! customer writes from the fake Telegram (and the website widget's API).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use omnidesk_core::BotMode;
use omnidesk_providers::fakes::FakeChat;
use serde_json::{Value, json};

use crate::harness::{Harness, SECRET, bot_id, private_update};

const WAIT: Duration = Duration::from_secs(15);

/// A server whose AI is `mode` (`kb`, or `openai` on `chat`), detecting en and ru.
async fn start(mode: &str, chat: Option<&FakeChat>, timeout_secs: u64) -> Harness {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("OMNIDESK_AI", mode.to_owned()),
        ("OMNIDESK_AI_TIMEOUT_SECS", timeout_secs.to_string()),
    ]);
    if let Some(c) = chat {
        vars.insert("OPENAI_BASE_URL", c.url());
    }
    let ai = omnidesk_ai_worker::AiConfig::from_lookup(|n| vars.get(n).cloned()).unwrap();
    Harness::start_configured(BotMode::Webhook, move |c| {
        c.router.detector = Some(omnidesk_language::Detector::new(&["en", "ru"]).unwrap());
        c.router.ai_mode = ai.mode;
        c.ai = ai;
    })
    .await
}

/// Adds a FAQ entry through the CLI's code path.
async fn faq(h: &Harness, questions: &[&str], answer: &str) {
    let target = omnidesk::admin::Target::local(&h.config).unwrap();
    let questions: Vec<String> = questions.iter().map(|q| (*q).to_owned()).collect();
    omnidesk::admin::faq_add(&target, &questions, answer, Some("en"))
        .await
        .unwrap();
}

/// Whether `v` holds the number `n` anywhere.
fn holds_number(v: &Value, n: i64) -> bool {
    match v {
        Value::Number(x) => x.as_i64() == Some(n),
        Value::String(x) => x == &n.to_string(),
        Value::Array(a) => a.iter().any(|x| holds_number(x, n)),
        Value::Object(o) => o.values().any(|x| holds_number(x, n)),
        _ => false,
    }
}

/// The conversation of Telegram chat `chat` (its contact's Telegram identity), once there is
/// one.
async fn conversation_of(h: &Harness, chat: i64) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let list = h.get("/api/v1/conversations?status=all").await;
        if let Some(c) = list["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|c| holds_number(&c["contact"]["identities"], chat))
        }) {
            return c.clone();
        }
        assert!(Instant::now() < deadline, "no conversation in time: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The messages of `conversation`, oldest first, once `pred` holds for them.
async fn messages_when(h: &Harness, id: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = h
            .get(&format!("/api/v1/conversations/{id}/messages?limit=100"))
            .await;
        let mut items = page["items"].as_array().cloned().unwrap_or_default();
        items.reverse();
        if pred(&items) {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "messages never became as expected: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_ai(m: &Value) -> bool {
    m["author"]["kind"] == "ai"
}

fn handed_over(m: &Value) -> Option<&str> {
    (m["event"]["event"] == "handed_over").then(|| m["event"]["reason"].as_str().unwrap_or(""))
}

/// Texts the fake Telegram sent to `chat`.
fn sent_to(h: &Harness, chat: i64) -> Vec<String> {
    h.fake
        .sent()
        .into_iter()
        .filter(|m| m.chat_id == chat)
        .map(|m| m.text)
        .collect()
}

async fn telegram_gets(h: &Harness, chat: i64, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(t) = sent_to(h, chat).into_iter().find(|t| t.contains(needle)) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "Telegram chat {chat} never got {needle:?}: {:?}",
            sent_to(h, chat)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn say(h: &Harness, update_id: u64, chat: i64, text: &str) {
    assert_eq!(
        h.webhook(&private_update(update_id, chat, text), Some(SECRET))
            .await,
        200
    );
}

fn reply(text: &str) -> String {
    json!({"action": "reply", "text": text}).to_string()
}

/// The system and user contents of a recorded chat-completions request.
fn prompt_of(request: &Value) -> (String, String) {
    let msgs = request["messages"].as_array().cloned().unwrap_or_default();
    let get = |role: &str| {
        msgs.iter()
            .filter(|m| m["role"] == role)
            .map(|m| m["content"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    (get("system"), get("user"))
}

#[tokio::test]
async fn the_knowledge_base_answers_a_matching_question_and_hands_over_one_it_cannot() {
    let h = start("kb", None, 8).await;
    faq(
        &h,
        &["How long does delivery take?", "When will my order arrive?"],
        "Delivery takes 2-3 working days.",
    )
    .await;
    // The router notices the FAQ within its gate's cache time; a fresh server has not looked.
    say(&h, 1, 501, "how long does delivery take").await;
    let text = telegram_gets(&h, 501, "Delivery takes 2-3 working days.").await;
    assert_eq!(
        text, "🤖 AI assistant: Delivery takes 2-3 working days.",
        "labelled as the AI's"
    );
    let c = conversation_of(&h, 501).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let msgs = messages_when(&h, &id, |m| m.iter().any(by_ai)).await;
    let answer = msgs.iter().find(|m| by_ai(m)).unwrap();
    assert_eq!(answer["author"], json!({"kind": "ai"}));
    let view = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(view["status"], "bot", "the AI keeps it: {view}");
    assert_eq!(view["ai_turns"], 1);

    // Low retrieval score: handed over, the customer told a person is coming, never a guess.
    say(&h, 2, 501, "my parcel arrived broken and the box was wet").await;
    let msgs = messages_when(&h, &id, |m| m.iter().any(|m| handed_over(m).is_some())).await;
    let reason = msgs.iter().find_map(handed_over).unwrap();
    assert_eq!(reason, "no answer in the knowledge base");
    telegram_gets(&h, 501, "A member of our team will answer here shortly.").await;
    let view = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        view["status"], "assigned",
        "the online agent has it: {view}"
    );
    assert!(
        view["summary"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("Customer asked"),
        "the agent's card: {view}"
    );
    assert_eq!(
        sent_to(&h, 501)
            .iter()
            .filter(|t| t.contains("Delivery takes"))
            .count(),
        1,
        "no guess for the second question"
    );
    // The call log shows both decisions.
    let calls = h
        .get(&format!("/api/v1/ai/calls?conversation_id={id}"))
        .await;
    let outcomes: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"reply"), "{calls}");
    assert!(
        outcomes.contains(&"handoff: no answer in the knowledge base"),
        "{calls}"
    );
}

#[tokio::test]
async fn an_explicit_ask_for_a_person_in_five_languages_makes_no_model_call() {
    let chat = FakeChat::start().await;
    chat.set_responder(|_| reply("I can help with that."));
    let h = start("openai", Some(&chat), 8).await;
    for (i, text) in [
        "human please",
        "оператор",
        "转人工",
        "quiero hablar con un agente",
        "Ich möchte mit einem Mitarbeiter sprechen",
    ]
    .into_iter()
    .enumerate()
    {
        let chat_id = 600 + i as i64;
        say(&h, 10 + i as u64, chat_id, text).await;
        telegram_gets(&h, chat_id, "A member of our team").await;
        let c = conversation_of(&h, chat_id).await;
        let msgs = messages_when(&h, c["id"].as_str().unwrap(), |m| {
            m.iter().any(|m| handed_over(m).is_some())
        })
        .await;
        assert_eq!(
            msgs.iter().find_map(handed_over),
            Some("the customer asked for a person"),
            "{text}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chat.calls(), 0, "recognised before any model call");
}

#[tokio::test]
async fn the_models_handoff_decision_and_a_timeout_both_hand_over_with_their_reason() {
    let chat = FakeChat::start().await;
    chat.set_responder(|req| {
        let (_, user) = prompt_of(req);
        if user.contains("refund") {
            json!({"action": "handoff", "reason": "the customer wants a refund"}).to_string()
        } else {
            json!({"action": "reply", "text": "Noted."}).to_string()
        }
    });
    let h = start("openai", Some(&chat), 1).await;
    say(&h, 20, 701, "I want a refund for my last order").await;
    let c = conversation_of(&h, 701).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let msgs = messages_when(&h, &id, |m| m.iter().any(|m| handed_over(m).is_some())).await;
    assert_eq!(
        msgs.iter().find_map(handed_over),
        Some("the customer wants a refund")
    );
    telegram_gets(&h, 701, "A member of our team").await;

    // Provider timeout (1 s here): handed over, the reason says so.
    chat.set_delay(Duration::from_secs(3));
    say(&h, 21, 702, "what are your opening hours?").await;
    let c = conversation_of(&h, 702).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let msgs = messages_when(&h, &id, |m| m.iter().any(|m| handed_over(m).is_some())).await;
    let reason = msgs.iter().find_map(handed_over).unwrap();
    assert!(reason.starts_with("the AI provider failed"), "{reason}");
    assert!(!msgs.iter().any(by_ai), "nothing said by the AI");
}

#[tokio::test]
async fn a_person_who_takes_the_conversation_while_the_ai_writes_stops_its_answer() {
    let chat = FakeChat::start().await;
    chat.set_responder(|_| reply("You can follow your order in your account."));
    chat.set_delay(Duration::from_millis(1500));
    let h = start("openai", Some(&chat), 8).await;
    let me = h.get("/api/v1/agents/me").await;
    say(&h, 30, 801, "where is my order?").await;
    let c = conversation_of(&h, 801).await;
    let id = c["id"].as_str().unwrap().to_owned();
    // While the model is writing, the agent takes it.
    let deadline = Instant::now() + WAIT;
    while chat.calls() == 0 {
        assert!(Instant::now() < deadline, "the model was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/assign"),
            json!({"agent_id": me["id"]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let msgs = messages_when(&h, &id, |m| m.iter().any(by_ai)).await;
    let note = msgs.iter().find(|m| by_ai(m)).unwrap();
    assert_eq!(note["internal"], true, "kept as an internal note: {note}");
    assert_eq!(note["text"], "You can follow your order in your account.");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !sent_to(&h, 801)
            .iter()
            .any(|t| t.contains("ships tomorrow")),
        "never sent: {:?}",
        sent_to(&h, 801)
    );
}

#[tokio::test]
async fn after_a_human_reply_the_ai_is_silent_and_after_resolve_it_answers_again() {
    let chat = FakeChat::start().await;
    chat.set_responder(|req| {
        let (_, user) = prompt_of(req);
        if user.contains("Latest message: I need a person to check my invoice") {
            json!({"action": "handoff", "reason": "invoice check"}).to_string()
        } else {
            reply("Happy to help.")
        }
    });
    let h = start("openai", Some(&chat), 8).await;
    say(&h, 40, 901, "I need a person to check my invoice").await;
    let c = conversation_of(&h, 901).await;
    let id = c["id"].as_str().unwrap().to_owned();
    messages_when(&h, &id, |m| m.iter().any(|m| handed_over(m).is_some())).await;
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "I am looking at it now."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let calls_before = chat.calls();
    for (i, text) in ["thanks", "it is invoice 5512", "is it fine?"]
        .iter()
        .enumerate()
    {
        say(&h, 41 + i as u64, 901, text).await;
    }
    messages_when(&h, &id, |m| {
        m.iter().filter(|m| m["direction"] == "inbound").count() == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chat.calls(), calls_before, "the AI stays silent");
    let msgs = messages_when(&h, &id, |_| true).await;
    assert!(!msgs.iter().any(by_ai), "no AI message: {msgs:#?}");

    // Resolved, then a new message: the AI answers again, no handover loop.
    let res = h
        .post(&format!("/api/v1/conversations/{id}/resolve"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    say(&h, 50, 901, "one more question about delivery").await;
    telegram_gets(&h, 901, "Happy to help.").await;
    let view = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(view["status"], "bot", "{view}");
    let msgs = messages_when(&h, &id, |m| m.iter().any(by_ai)).await;
    assert_eq!(
        msgs.iter().filter(|m| handed_over(m).is_some()).count(),
        1,
        "only the first handover"
    );
}

#[tokio::test]
async fn a_web_chat_continued_on_telegram_reaches_the_model_with_its_channels_summary_and_history()
{
    let chat = FakeChat::start().await;
    chat.set_responder(|req| {
        let (system, user) = prompt_of(req);
        if system.contains("running summary") {
            "Customer asked where order #1024 is; the agent said it is out for delivery.".to_owned()
        } else if user.contains("Latest message: Hello, where is my order #1024?") {
            json!({"action": "handoff", "reason": "needs an order lookup"}).to_string()
        } else if system.contains("(ru)") {
            reply("Заказ #1024 уже передан в доставку, курьер свяжется с вами.")
        } else {
            reply("Your order #1024 is out for delivery.")
        }
    });
    let h = start("openai", Some(&chat), 8).await;
    let origin = "https://shop.example.com";
    let visitor = h.web_visitor(origin, Some(&bot_id().to_string())).await;
    let res = h
        .http
        .post(format!("{}/web/v1/messages", h.base))
        .header("origin", origin)
        .bearer_auth(&visitor)
        .json(&json!({"text": "Hello, where is my order #1024?", "client_id": "c1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let list = h
        .eventually("/api/v1/conversations?status=all", WAIT, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    messages_when(&h, &id, |m| m.iter().any(|m| handed_over(m).is_some())).await;
    // The agent answers on the website and gives the conversation back to the AI.
    let res = h
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Order #1024 is out for delivery."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = h
        .post(&format!("/api/v1/conversations/{id}/hand-back"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let view: Value = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(view["status"], "bot");
    assert!(view["summary"]["text"].as_str().is_some(), "{view}");

    // The customer continues on Telegram with the website's single-use link.
    let link: Value = h
        .http
        .post(format!("{}/web/v1/channels/telegram", h.base))
        .header("origin", origin)
        .bearer_auth(&visitor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    let token = url.split("start=").nth(1).unwrap();
    say(&h, 60, 1001, &format!("/start {token}")).await;
    telegram_gets(&h, 1001, "").await;
    say(&h, 61, 1001, "Когда он приедет? Я жду уже три дня.").await;
    let text = telegram_gets(&h, 1001, "Заказ #1024").await;
    assert!(text.contains("передан в доставку"), "{text}");

    let asked = chat
        .requests()
        .into_iter()
        .rev()
        .find(|r| prompt_of(r).1.contains("Когда он приедет"))
        .expect("the model was asked about the Telegram message");
    let (system, user) = prompt_of(&asked);
    assert!(user.contains("Current channel: Telegram"), "{user}");
    assert!(user.contains("Previous channels: web (Website"), "{user}");
    assert!(
        user.contains("Summary of earlier history: Customer asked where order #1024 is"),
        "{user}"
    );
    assert!(
        user.contains("customer: Hello, where is my order #1024?"),
        "{user}"
    );
    assert!(
        user.contains("agent: Order #1024 is out for delivery."),
        "{user}"
    );
    assert!(user.contains("Latest message: Когда он приедет?"), "{user}");
    assert!(
        system.contains("(ru)"),
        "answer in the customer's language: {system}"
    );
    assert_eq!(asked["response_format"]["type"], "json_object");
    let msgs = messages_when(&h, &id, |m| m.iter().any(by_ai)).await;
    let answer = msgs.iter().find(|m| by_ai(m)).unwrap();
    assert_eq!(answer["channel"], "telegram");
}

#[tokio::test]
async fn a_bot_with_the_ai_switched_off_goes_straight_to_people() {
    let ai = omnidesk_ai_worker::AiConfig::from_lookup(|_| None).unwrap();
    let h = Harness::start_configured(BotMode::Webhook, move |c| {
        c.router.ai_off = [bot_id().to_string()].into();
        c.ai = ai;
    })
    .await;
    faq(
        &h,
        &["How long does delivery take?"],
        "Delivery takes 2-3 working days.",
    )
    .await;
    say(&h, 70, 1101, "how long does delivery take").await;
    let c = conversation_of(&h, 1101).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let view = h
        .eventually(&format!("/api/v1/conversations/{id}"), WAIT, |v| {
            v["status"] == "assigned"
        })
        .await;
    assert_eq!(view["ai_turns"], 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !sent_to(&h, 1101)
            .iter()
            .any(|t| t.contains("Delivery takes")),
        "the AI is off for this bot"
    );
    let calls = h.get("/api/v1/ai/calls").await;
    assert_eq!(calls["calls"], json!([]), "no AI call");
}
