//! Property tests of the update parser on arbitrary JSON: it never panics, every object with
//! a numeric `update_id` is an update (so it is acked and deduplicated, never a poison
//! message), and a kind it does not know is kept as `unknown`.

use omnidesk_domain::UpdateId;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{kinds::FIXTURES, parse};

/// Any JSON value, a few levels deep, with keys that Telegram uses (so the parser's structs
/// are exercised, not only skipped).
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("message_id".to_owned()),
        Just("chat".to_owned()),
        Just("from".to_owned()),
        Just("id".to_owned()),
        Just("type".to_owned()),
        Just("text".to_owned()),
        Just("caption".to_owned()),
        Just("photo".to_owned()),
        Just("document".to_owned()),
        Just("sticker".to_owned()),
        Just("location".to_owned()),
        Just("venue".to_owned()),
        Just("poll".to_owned()),
        Just("reply_to_message".to_owned()),
        Just("forward_origin".to_owned()),
        Just("new_chat_members".to_owned()),
        Just("entities".to_owned()),
        Just("reply_markup".to_owned()),
        Just("inline_keyboard".to_owned()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const KNOWN: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "my_chat_member",
    "chat_member",
    "poll",
];

/// Replaces the value at one path of `v` (chosen by `pick`) with `with`.
fn mutate(v: &mut Value, pick: usize, with: Value) {
    let n = match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if n == 0 || pick.is_multiple_of(4) {
        *v = with;
        return;
    }
    let child = match v {
        Value::Object(m) => m.values_mut().nth(pick % n),
        Value::Array(a) => a.get_mut(pick % n),
        _ => None,
    };
    if let Some(child) = child {
        mutate(child, pick / n.max(2), with);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_bytes(&body);
    }

    #[test]
    fn any_object_with_a_numeric_update_id_is_an_update(
        update_id in any::<u32>(),
        kind in prop_oneof![prop::sample::select(KNOWN.to_vec()).prop_map(str::to_owned), "[a-z_]{1,20}"],
        payload in json_value(),
    ) {
        let body = json!({ "update_id": update_id, kind.clone(): payload });
        let parsed = parse(&body.to_string());
        prop_assert!(parsed.is_ok(), "{body}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.update_id, UpdateId(update_id));
        let expected = if KNOWN.contains(&kind.as_str()) || is_bot_api_kind(&kind) {
            kind.as_str()
        } else {
            "unknown"
        };
        prop_assert_eq!(parsed.kind.as_str(), expected);
        // Whatever it made of it, routing it does not panic either.
        let _ = parsed.to_message(Some("omnidesk_test_bot"));
    }

    #[test]
    fn a_damaged_real_update_is_still_an_update(
        which in 0..FIXTURES.len(),
        pick in any::<usize>(),
        with in json_value(),
    ) {
        let (name, raw) = FIXTURES[which];
        let mut v: Value = serde_json::from_str(raw).unwrap();
        let update_id = v["update_id"].clone();
        let kind = v
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
            .unwrap_or_default();
        mutate(&mut v, pick, with);
        // The parser's promise is about bodies that still are updates.
        if v.get("update_id") == Some(&update_id) {
            let parsed = parse(&v.to_string());
            prop_assert!(parsed.is_ok(), "{name}: {v}");
            let parsed = parsed.unwrap();
            if v.get(&kind).is_some() {
                prop_assert_eq!(parsed.kind.as_str(), kind.as_str());
            }
            let _ = parsed.to_message(Some("omnidesk_test_bot"));
        } else {
            let _ = parse(&v.to_string());
        }
    }
}

fn parse_bytes(
    body: &[u8],
) -> Result<omnidesk_domain::TelegramInbound, omnidesk_telegram::UpdateParseError> {
    omnidesk_telegram::parse_update(
        omnidesk_domain::BotId::parse("7000000001").unwrap(),
        body,
        omnidesk_domain::Timestamp::from_millis(0),
    )
}

/// Kinds of the Bot API that the strategy's random names may hit by chance.
fn is_bot_api_kind(kind: &str) -> bool {
    [
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll_answer",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "edited_channel_post",
    ]
    .contains(&kind)
}
