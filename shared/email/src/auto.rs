//! Classifying automatic mail and reading delivery status notifications.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::{Automatic, Bounce, normalize_message_id};

const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "maildaemon",
    "postmaster",
    "no-reply",
    "noreply",
    "do-not-reply",
    "donotreply",
    "do_not_reply",
    "no_reply",
    "bounce",
    "bounces",
];

fn header_text(msg: &Message<'_>, name: &str) -> Option<String> {
    let raw = msg.header_raw(name)?;
    let v = raw
        .split(['\r', '\n'])
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// The first reason this message is automatic, in the order of [`Automatic`]'s variants.
pub fn classify(msg: &Message<'_>, from: Option<&str>) -> Option<Automatic> {
    if let Some(v) = header_text(msg, "Auto-Submitted") {
        let value = v
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if value != "no" && !value.is_empty() {
            return Some(Automatic::AutoSubmitted(value));
        }
    }
    if let Some(v) = header_text(msg, "Precedence") {
        let value = v.to_ascii_lowercase();
        if matches!(value.as_str(), "bulk" | "list" | "junk") {
            return Some(Automatic::Precedence(value));
        }
    }
    if msg.header_raw("X-Auto-Response-Suppress").is_some() {
        return Some(Automatic::AutoResponseSuppress);
    }
    if msg.header_raw("List-Id").is_some() || msg.header_raw("List-Unsubscribe").is_some() {
        return Some(Automatic::MailingList);
    }
    if is_report(msg) {
        return Some(Automatic::DeliveryReport);
    }
    let from = from?;
    let local = from.rsplit_once('@').map_or(from, |(l, _)| l);
    let daemon = DAEMON_LOCAL_PARTS.iter().any(|d| {
        local == *d || local.starts_with(&format!("{d}-")) || local.starts_with(&format!("{d}+"))
    });
    daemon.then(|| Automatic::DaemonSender(from.to_owned()))
}

fn is_report(msg: &Message<'_>) -> bool {
    msg.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    })
}

fn part_type(part: &mail_parser::MessagePart<'_>) -> String {
    part.content_type().map_or_else(String::new, |ct| {
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase()
    })
}

/// A DSN (`multipart/report; report-type=delivery-status`), or an unstructured bounce from a
/// mailer daemon whose subject says so.
pub fn bounce(msg: &Message<'_>, from: Option<&str>, subject: &str) -> Option<Bounce> {
    let status_part = msg.parts.iter().find(|p| {
        matches!(
            part_type(p).as_str(),
            "message/delivery-status" | "message/global-delivery-status"
        )
    });
    let report_type = msg
        .root_part()
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let original_message_id = original_message_id(msg);
    if let Some(part) = status_part.filter(|_| {
        is_report(msg)
            && report_type
                .as_deref()
                .is_none_or(|t| t.contains("delivery-status"))
    }) {
        let text = String::from_utf8_lossy(part.contents());
        let mut b = parse_delivery_status(&text);
        b.original_message_id = original_message_id;
        return Some(b);
    }
    // Unstructured bounces: a daemon sender and a bounce-like subject.
    let from = from?;
    let local = from.rsplit_once('@').map_or(from, |(l, _)| l);
    let s = subject.to_ascii_lowercase();
    let bouncy = [
        "undeliver",
        "returned mail",
        "delivery status notification",
        "failure notice",
        "delivery failure",
        "mail delivery failed",
        "non remis",
        "unzustellbar",
    ];
    if !matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon")
        || !bouncy.iter().any(|w| s.contains(w))
    {
        return None;
    }
    let body = msg.body_text(0).unwrap_or_default();
    let status = find_status_code(&body);
    let recipients = msg
        .parts
        .iter()
        .find_map(|p| match &p.body {
            PartType::Message(m) => Some(
                m.to()
                    .map(|a| {
                        a.iter()
                            .filter_map(|a| a.address())
                            .map(|a| a.trim().to_lowercase())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    Some(Bounce {
        recipients,
        permanent: status.as_deref().is_none_or(|s| s.starts_with('5')),
        status,
        diagnostic: None,
        original_message_id,
    })
}

/// The Message-ID of the returned message (message/rfc822 or text/rfc822-headers part).
fn original_message_id(msg: &Message<'_>) -> Option<String> {
    msg.parts.iter().skip(1).find_map(|p| match &p.body {
        PartType::Message(m) => m.message_id().and_then(normalize_message_id),
        _ if matches!(
            part_type(p).as_str(),
            "text/rfc822-headers" | "message/rfc822-headers" | "message/global-headers"
        ) =>
        {
            let mut headers = p.contents().to_vec();
            headers.extend_from_slice(b"\r\n\r\n");
            MessageParser::default()
                .parse_headers(&headers[..])
                .and_then(|m| m.message_id().and_then(normalize_message_id))
        }
        _ => None,
    })
}

fn find_status_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find_map(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            (parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && (1..=3).contains(&parts[1].len())
                && (1..=3).contains(&parts[2].len())
                && parts[1..]
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_digit())))
            .then(|| w.to_owned())
        })
}

/// Parses the fields of a message/delivery-status body (RFC 3464).
fn parse_delivery_status(text: &str) -> Bounce {
    // Unfold continuation lines, then read "Name: value" fields in order.
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let typed = |v: &str| {
        v.split_once(';')
            .map_or(v, |(_, rest)| rest)
            .trim()
            .to_owned()
    };
    let mut recipients: Vec<String> = Vec::new();
    let mut status = None;
    let mut diagnostic = None;
    let mut failed = false;
    for (name, value) in &fields {
        match name.as_str() {
            "final-recipient" | "original-recipient" => {
                let a = typed(value).trim_matches(['<', '>']).trim().to_lowercase();
                if !a.is_empty() && !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
            "status" if status.is_none() => {
                status = value.split_whitespace().next().map(str::to_owned);
            }
            "diagnostic-code" if diagnostic.is_none() => diagnostic = Some(typed(value)),
            "action" => failed |= value.trim().eq_ignore_ascii_case("failed"),
            _ => {}
        }
    }
    Bounce {
        recipients,
        permanent: failed || status.as_deref().is_some_and(|s| s.starts_with('5')),
        status,
        diagnostic: diagnostic.filter(|d| !d.is_empty()),
        original_message_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_status_fields_are_read() {
        let b = parse_delivery_status(
            "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; <Bob@Example.com>\nAction: failed\nStatus: 5.1.1 (bad)\nDiagnostic-Code: smtp; 550 5.1.1 user\n  unknown\n",
        );
        assert_eq!(b.recipients, vec!["bob@example.com"]);
        assert_eq!(b.status.as_deref(), Some("5.1.1"));
        assert_eq!(b.diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
        assert!(b.permanent);
    }

    #[test]
    fn delayed_is_not_permanent() {
        let b =
            parse_delivery_status("Final-Recipient: rfc822; a@b\nAction: delayed\nStatus: 4.4.7\n");
        assert!(!b.permanent);
    }

    #[test]
    fn status_codes_are_found_in_prose() {
        assert_eq!(
            find_status_code("said: 550 5.1.1 <x@y>: Recipient").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(find_status_code("version 1.2.3"), None);
    }
}
