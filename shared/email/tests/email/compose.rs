//! Composed replies re-parse to what was composed.

use omnidesk_email::{Address, Draft, OutFile, compose, parse};
use proptest::prelude::*;

fn draft() -> Draft {
    Draft {
        from: Address {
            address: "support@example.com".into(),
            name: Some("Anna (ACME Support)".into()),
        },
        reply_to: Some("reply+abcdefghijklmnopqrstuvwxyz@example.com".into()),
        to: Address {
            address: "customer@example.org".into(),
            name: Some("Jörg Müller".into()),
        },
        subject: "Re: Your order [#ABCDEFGH]".into(),
        in_reply_to: Some("their-1@example.org".into()),
        references: vec!["ours-0@example.com".into(), "their-1@example.org".into()],
        text: "Hello Jörg,\n\nyour parcel is on its way: https://track.example/1?a=b&c=d\n\nAnna"
            .into(),
        html: None,
        attachments: vec![OutFile {
            file_name: "Rechnung März.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4\n\x00\xff".to_vec(),
        }],
        auto_submitted: None,
        message_id_domain: "example.com".into(),
        unique: "0190d1b4-7c9e-7e2a-9f00-1234567890ab".into(),
        date_millis: 1_712_052_000_000,
        extra_headers: vec![("X-Omnidesk-Conversation".into(), "c-1".into())],
    }
}

#[test]
fn a_reply_composes_with_threading_headers_and_reparses() {
    let c = compose(&draft());
    assert_eq!(
        c.message_id,
        "0190d1b4-7c9e-7e2a-9f00-1234567890ab@example.com"
    );
    let raw = String::from_utf8(c.raw.clone()).unwrap();
    assert!(raw.contains("\r\nIn-Reply-To: <their-1@example.org>\r\n"));
    assert!(raw.contains("\r\nReferences: <ours-0@example.com>\r\n <their-1@example.org>\r\n"));
    assert!(raw.starts_with("Date: Tue, 02 Apr 2024 10:00:00 +0000\r\n"));
    assert!(raw.contains("\r\nX-Omnidesk-Conversation: c-1\r\n"));
    assert!(!raw.contains("Auto-Submitted"));
    assert!(raw.split("\r\n").all(|l| l.len() <= 998), "{raw}");
    assert!(!raw.replace("\r\n", "").contains('\n'), "{raw}");

    let p = parse(&c.raw).unwrap();
    assert_eq!(p.message_id.as_deref(), Some(c.message_id.as_str()));
    assert_eq!(p.subject, "Re: Your order [#ABCDEFGH]");
    assert_eq!(
        p.from.as_ref().unwrap().name.as_deref(),
        Some("Anna (ACME Support)")
    );
    assert_eq!(p.to[0].name.as_deref(), Some("Jörg Müller"));
    assert_eq!(
        p.reply_to.unwrap().address,
        "reply+abcdefghijklmnopqrstuvwxyz@example.com"
    );
    assert_eq!(p.in_reply_to, vec!["their-1@example.org"]);
    assert_eq!(
        p.references,
        vec!["ours-0@example.com", "their-1@example.org"]
    );
    assert_eq!(p.text, draft().text);
    assert_eq!(p.date_millis, Some(1_712_052_000_000));
    let html = p.html.unwrap();
    assert!(
        html.contains("<a href=\"https://track.example/1?a=b&amp;c=d\""),
        "{html}"
    );
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(
        p.attachments[0].file_name.as_deref(),
        Some("Rechnung März.pdf")
    );
    assert_eq!(p.attachments[0].content_type, "application/pdf");
    assert_eq!(p.attachments[0].bytes, b"%PDF-1.4\n\x00\xff");
    assert_eq!(p.automatic, None);
    // Deterministic.
    assert_eq!(compose(&draft()), c);
}

#[test]
fn auto_replies_are_marked_and_recognised() {
    let mut d = draft();
    d.auto_submitted = Some("auto-replied".into());
    d.attachments.clear();
    let c = compose(&d);
    let raw = String::from_utf8(c.raw.clone()).unwrap();
    assert!(raw.contains("\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"));
    assert!(raw.contains("Content-Type: multipart/alternative"));
    assert!(!raw.contains("multipart/mixed"));
    let p = parse(&c.raw).unwrap();
    assert_eq!(
        p.automatic.unwrap().reason(),
        "Auto-Submitted: auto-replied"
    );
}

#[test]
fn header_injection_is_impossible() {
    let mut d = draft();
    d.subject = "Hi\r\nBcc: victim@example.net".into();
    d.to.name = Some("Eve\r\nBcc: victim@example.net".into());
    d.to.address = "customer@example.org\r\nBcc: victim@example.net".into();
    d.in_reply_to = Some("x@y>\r\nBcc: victim@example.net".into());
    d.extra_headers = vec![
        ("X-Evil\r\nBcc".into(), "v".into()),
        ("X-Ok".into(), "a\r\nBcc: victim@example.net".into()),
    ];
    let raw = String::from_utf8(compose(&d).raw).unwrap();
    assert!(!raw.contains("\r\nBcc:"), "{raw}");
    let p = parse(raw.as_bytes()).unwrap();
    assert_eq!(p.subject, "HiBcc: victim@example.net");
    assert_eq!(p.cc, vec![]);
}

fn words() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9éüßжд中文áç]{1,8}", 1..12).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn composed_mail_reparses_to_the_same_content(
        subject in "[ -~\u{a0}-\u{2ff}\u{400}-\u{45f}\u{4e00}-\u{4e80}\u{1f600}-\u{1f640}\r\n\t]{0,120}",
        name in "[ -~\u{a0}-\u{2ff}\u{4e00}-\u{4e80}\r\n]{0,40}",
        file_name in "[a-zA-Z0-9 ._\u{e0}-\u{ff}\u{4e00}-\u{4e80}\r\n]{1,40}",
        lines in prop::collection::vec(words(), 1..8),
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        refs in prop::collection::vec("[a-z0-9.]{1,12}@[a-z]{1,8}\\.example", 0..4),
    ) {
        let mut d = draft();
        d.subject = subject.clone();
        d.to.name = Some(name.clone());
        d.text = lines.join("\n");
        d.in_reply_to = refs.last().cloned();
        d.references = refs.clone();
        d.attachments = vec![OutFile { file_name: file_name.clone(), content_type: "application/octet-stream".into(), bytes: bytes.clone() }];
        let c = compose(&d);
        let p = parse(&c.raw).unwrap();
        let clean = |s: &str| s.replace(['\r', '\n'], "").replace('\t', " ").trim().to_owned();
        prop_assert_eq!(&p.subject, &clean(&subject));
        let expected_name = clean(&name);
        prop_assert_eq!(p.to[0].name.clone().unwrap_or_default(), expected_name.trim_matches(['"', '\'']).split_whitespace().collect::<Vec<_>>().join(" "));
        prop_assert_eq!(&p.text, &d.text);
        prop_assert_eq!(p.message_id.as_deref(), Some(c.message_id.as_str()));
        prop_assert_eq!(&p.in_reply_to, &refs.last().cloned().into_iter().collect::<Vec<_>>());
        let mut unique_refs: Vec<String> = Vec::new();
        for r in &refs { if !unique_refs.contains(r) { unique_refs.push(r.clone()); } }
        prop_assert_eq!(&p.references, &unique_refs);
        prop_assert_eq!(p.attachments.len(), 1);
        let expected_file = clean(&file_name);
        let expected_file = if expected_file.is_empty() { "attachment".to_owned() } else { expected_file };
        prop_assert_eq!(p.attachments[0].file_name.as_deref(), Some(expected_file.as_str()));
        prop_assert_eq!(&p.attachments[0].bytes, &bytes);
    }
}
