//! The model's structured decision: `{"action":"reply","text":…}` or
//! `{"action":"handoff","reason":…}` — never a magic string inside the text.

use serde::Deserialize;

/// What the model decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Reply(String),
    Handoff(String),
}

#[derive(Deserialize)]
struct Raw {
    action: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Parses the model's answer: the first JSON object in it (models sometimes wrap it in a
/// code fence). `Err` says why it is unusable (the worker then hands over).
pub fn parse(answer: &str) -> Result<Decision, String> {
    let start = answer
        .find('{')
        .ok_or_else(|| "the model's answer is not a JSON decision".to_owned())?;
    let end = answer
        .rfind('}')
        .filter(|e| *e > start)
        .ok_or_else(|| "the model's answer is not a JSON decision".to_owned())?;
    let raw: Raw = serde_json::from_str(&answer[start..=end])
        .map_err(|e| format!("the model's decision is malformed: {e}"))?;
    match raw.action.trim().to_ascii_lowercase().as_str() {
        "reply" | "answer" => match raw.text.map(|t| t.trim().to_owned()) {
            Some(t) if !t.is_empty() => Ok(Decision::Reply(t)),
            _ => Err("the model replied with an empty text".to_owned()),
        },
        "handoff" | "handover" | "hand_off" => Ok(Decision::Handoff(
            raw.reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "the AI asked for a person".to_owned()),
        )),
        other => Err(format!(
            "the model's decision has an unknown action {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_and_anything_else_is_refused() {
        assert_eq!(
            parse(r#"{"action":"reply","text":"It ships today."}"#),
            Ok(Decision::Reply("It ships today.".into()))
        );
        assert_eq!(
            parse("```json\n{\"action\":\"handoff\",\"reason\":\"wants a refund\"}\n```"),
            Ok(Decision::Handoff("wants a refund".into()))
        );
        assert_eq!(
            parse(r#"{"action":"handoff"}"#),
            Ok(Decision::Handoff("the AI asked for a person".into()))
        );
        for bad in [
            "Sure! It ships today.",
            r#"{"action":"reply","text":"  "}"#,
            r#"{"action":"dance"}"#,
            r#"{"action": "#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
