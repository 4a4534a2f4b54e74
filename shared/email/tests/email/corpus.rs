//! Real-world messages (and a few crafted ones, see `fixtures/SOURCES.md`) through `parse`.

use omnidesk_email::{Automatic, ParsedEmail, parse};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
        .as_slice()
    };
}

pub(crate) const ALL: &[&[u8]] = &[
    fixture!("talon/outlook.eml"),
    fixture!("talon/gmail.eml"),
    fixture!("talon/apple_mail.eml"),
    fixture!("talon/thunderbird.eml"),
    fixture!("talon/android.eml"),
    fixture!("sisimai/lhost-postfix-01.eml"),
    fixture!("sisimai/lhost-postfix-03.eml"),
    fixture!("sisimai/lhost-gmail-01.eml"),
    fixture!("sisimai/rfc3834-01.eml"),
    fixture!("sisimai/rfc3834-02.eml"),
    fixture!("mail-parser/legacy-002-html-only-latin1-qp.eml"),
    fixture!("mail-parser/thirdparty-016-html-embedded-image.eml"),
    fixture!("mail-parser/malformed-003-nested-same-boundary.eml"),
    fixture!("mail-parser/malformed-018-trailing-plist.eml"),
    fixture!("crafted/windows-1251-qp-outlook-reply.eml"),
    fixture!("crafted/gb2312-base64-alternative.eml"),
    fixture!("crafted/shift-jis-8bit-split-encoded-word-subject.eml"),
];

fn parsed(raw: &[u8]) -> ParsedEmail {
    parse(raw).expect("fixture parses")
}

fn from(p: &ParsedEmail) -> (&str, Option<&str>) {
    let f = p.from.as_ref().expect("has a From");
    (f.address.as_str(), f.name.as_deref())
}

#[test]
fn every_fixture_parses() {
    for raw in ALL {
        parse(raw).expect("parses");
    }
}

#[test]
fn outlook_reply_loses_the_original_message_block() {
    let p = parsed(fixture!("talon/outlook.eml"));
    assert_eq!(p.subject, "Test");
    assert_eq!(from(&p), ("me@example.com", None));
    assert_eq!(p.text, "Hello");
    assert!(
        p.quoted
            .unwrap()
            .starts_with("From: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\nSent:")
    );
    let html = p.html.unwrap();
    assert!(
        !html.contains("<style") && !html.contains("font-family"),
        "styles are sanitised away"
    );
    assert!(p.attachments.is_empty());
    assert_eq!(p.automatic, None);
}

#[test]
fn gmail_reply_is_split_at_on_wrote() {
    let p = parsed(fixture!("talon/gmail.eml"));
    assert_eq!(p.subject, "Re: Test");
    assert_eq!(from(&p), ("xxx@gmail.com", Some("Megan One")));
    assert_eq!(
        p.message_id.as_deref(),
        Some("CAKsfaBW4hj0Gek6TwbR3erng4P1y0CZzJ0d=pXtCNnYnbe7PLg@mail.gmail.com")
    );
    assert_eq!(p.text, "Hello");
    assert_eq!(
        p.quoted.as_deref(),
        Some("On Mon, Apr 2, 2012 at 6:26 PM, Megan One <xxx@gmail.com> wrote:\n> Hi")
    );
    assert_eq!(p.date_millis, Some(1_333_383_712_000));
    assert!(p.html.unwrap().starts_with("Hello<br><br>"));
}

#[test]
fn apple_mail_reply_is_split() {
    let p = parsed(fixture!("talon/apple_mail.eml"));
    assert_eq!(from(&p), ("xxx@gmail.com", Some("xxx")));
    assert_eq!(p.to[0].address, "bob@example.com");
    assert_eq!(p.text, "Hello");
    assert_eq!(
        p.quoted.as_deref(),
        Some("On Apr 3, 2012, at 4:19 PM, bob wrote:\n> Hi")
    );
    assert_eq!(p.html, None);
}

#[test]
fn thunderbird_bottom_post_keeps_the_text_after_the_quote() {
    let p = parsed(fixture!("talon/thunderbird.eml"));
    assert_eq!(from(&p), ("bob@xxx.mailgun.org", Some("bob")));
    assert_eq!(p.text, "Hello");
    assert_eq!(
        p.quoted.as_deref(),
        Some("On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi")
    );
}

#[test]
fn android_base64_reply_with_a_russian_header_is_split() {
    let p = parsed(fixture!("talon/android.eml"));
    assert_eq!(from(&p), ("bob@example.com", Some("Sergey Obykhov")));
    assert_eq!(p.text, "Hello");
    assert!(p.quoted.unwrap().contains("написал:"));
}

#[test]
fn html_only_latin1_quoted_printable_becomes_text() {
    let p = parsed(fixture!("mail-parser/legacy-002-html-only-latin1-qp.eml"));
    assert_eq!(p.subject, "Die Hasen und die Frösche");
    assert_eq!(p.to[0].name.as_deref(), Some("Heinz Müller"));
    assert!(p.text.starts_with("Die Hasen und die Frösche\n\nDie Hasen klagten einst über ihre mißliche Lage; \"wir leben\""), "{}", p.text);
    assert_eq!(p.quoted, None);
    let html = p.html.unwrap();
    assert!(html.contains("Frösche") && !html.contains("<font"));
}

#[test]
fn inline_image_is_an_inline_attachment_and_its_cid_survives_sanitising() {
    let p = parsed(fixture!(
        "mail-parser/thirdparty-016-html-embedded-image.eml"
    ));
    assert_eq!(p.text, "Search for höhö");
    assert_eq!(p.content_language.as_deref(), Some("en-GB"));
    assert_eq!(p.attachments.len(), 1);
    let a = &p.attachments[0];
    assert_eq!(a.file_name.as_deref(), Some("kigaaldcbanejcbi.png"));
    assert_eq!(a.content_type, "image/png");
    assert!(a.inline);
    assert_eq!(
        a.content_id.as_deref(),
        Some("part1.8C5E6A81.D0C1B91A@example.com")
    );
    assert!(a.bytes.starts_with(b"\x89PNG"));
    assert!(
        p.html
            .unwrap()
            .contains("src=\"cid:part1.8C5E6A81.D0C1B91A@example.com\"")
    );
}

#[test]
fn windows_1251_outlook_reply_decodes_and_threads() {
    let p = parsed(fixture!("crafted/windows-1251-qp-outlook-reply.eml"));
    assert_eq!(p.subject, "Re: Заказ");
    assert_eq!(from(&p), ("ivan@example.ru", Some("Иван Петров")));
    assert_eq!(p.text, "Здравствуйте!\nЗаказ №123 не пришёл.");
    assert!(p.quoted.unwrap().starts_with("-----Original Message-----"));
    assert_eq!(p.in_reply_to, vec!["out-1@example.com"]);
    assert_eq!(p.references, vec!["out-0@example.com", "out-1@example.com"]);
    assert_eq!(p.content_language.as_deref(), Some("ru"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn gb2312_base64_alternative_prefers_the_plain_text() {
    let p = parsed(fixture!("crafted/gb2312-base64-alternative.eml"));
    assert_eq!(p.subject, "订单问题");
    assert_eq!(from(&p), ("wang@example.cn", Some("王先生")));
    assert_eq!(p.text, "您好，\n我的订单还没有到。\n\n谢谢");
    assert_eq!(
        p.html.as_deref(),
        Some("<div>您好，<br>我的订单还没有到。</div><div>谢谢</div>")
    );
}

#[test]
fn shift_jis_body_and_a_character_split_across_encoded_words() {
    let p = parsed(fixture!(
        "crafted/shift-jis-8bit-split-encoded-word-subject.eml"
    ));
    assert_eq!(p.subject, "お問い合わせ");
    assert_eq!(from(&p), ("tanaka@example.jp", Some("田中")));
    assert_eq!(p.text, "ありがとうございます。");
    assert!(p.quoted.unwrap().contains("ご注文を受け付けました。"));
}

#[test]
fn out_of_office_with_auto_submitted_is_automatic() {
    let p = parsed(fixture!("sisimai/rfc3834-01.eml"));
    assert_eq!(p.subject, "Away until May 5");
    assert_eq!(
        p.automatic,
        Some(Automatic::AutoSubmitted("auto-replied".into()))
    );
    assert_eq!(
        p.automatic.unwrap().reason(),
        "Auto-Submitted: auto-replied"
    );
    assert_eq!(p.bounce, None);
}

#[test]
fn exchange_automatic_reply_is_automatic() {
    let p = parsed(fixture!("sisimai/rfc3834-02.eml"));
    assert_eq!(p.subject, "Automatic reply: Nyaan");
    assert_eq!(from(&p), ("nekonyaan@example.org", Some("Neko, Nyaan")));
    assert_eq!(
        p.text,
        "I'm out of the office Friday. For pressing news matters, Nyaan."
    );
    assert_eq!(p.automatic, Some(Automatic::AutoResponseSuppress));
}

#[test]
fn postfix_dsn_is_a_permanent_bounce() {
    let p = parsed(fixture!("sisimai/lhost-postfix-01.eml"));
    assert_eq!(
        from(&p),
        (
            "mailer-daemon@p351355.pool.example.ne.jp",
            Some("Mail Delivery System")
        )
    );
    assert_eq!(
        p.automatic,
        Some(Automatic::AutoSubmitted("auto-replied".into()))
    );
    let b = p.bounce.unwrap();
    assert_eq!(
        b.recipients,
        vec!["r@p351355.pool.example.ne.jp", "kijitora@example.org"]
    );
    assert_eq!(b.status.as_deref(), Some("5.1.1"));
    assert!(b.permanent);
    assert!(b.diagnostic.unwrap().ends_with("No such user"));
    assert!(
        p.attachments.is_empty(),
        "the status part is not an attachment, the returned message is empty"
    );
}

#[test]
fn dsn_names_the_returned_message() {
    let p = parsed(fixture!("sisimai/lhost-postfix-03.eml"));
    let b = p.bounce.unwrap();
    assert_eq!(b.recipients, vec!["kijitora@example.net"]);
    assert_eq!(b.status.as_deref(), Some("5.0.0"));
    assert_eq!(
        b.original_message_id.as_deref(),
        Some("20140701000000.000000000000@e1.example.ne.jp")
    );
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].content_type, "message/rfc822");
}

#[test]
fn gmail_unstructured_bounce_is_recognised() {
    let p = parsed(fixture!("sisimai/lhost-gmail-01.eml"));
    assert_eq!(p.subject, "Delivery Status Notification (Failure)");
    assert_eq!(
        p.automatic,
        Some(Automatic::DaemonSender(
            "mailer-daemon@googlemail.com".into()
        ))
    );
    let b = p.bounce.unwrap();
    assert_eq!(b.status.as_deref(), Some("5.1.1"));
    assert!(b.permanent);
}

#[test]
fn malformed_messages_parse_best_effort() {
    let p = parsed(fixture!("mail-parser/malformed-018-trailing-plist.eml"));
    assert_eq!(p.subject, "");
    assert_eq!(p.from, None);
    assert_eq!(p.text, "Best");
    assert!(p.quoted.unwrap().starts_with("Enviado desde mi BlackBerry"));
    let p = parsed(fixture!(
        "mail-parser/malformed-003-nested-same-boundary.eml"
    ));
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].bytes, b"body\n");
}

#[test]
fn nothing_usable_is_a_failure() {
    assert!(parse(b"").is_err());
    assert!(parse(b" \r\n\r\n ").is_err());
    let e = parse(b"").unwrap_err();
    assert_eq!(e.to_string(), "unparseable e-mail: empty input");
}

/// A TNEF stream written from the format description (MS-OXTNEF): no TNEF sample with a licence
/// we could ship was found (tnefparse's samples are LGPL-3.0).
fn winmail_dat(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn attribute(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
        out.push(level);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let sum = data
            .iter()
            .fold(0u16, |acc, b| acc.wrapping_add(u16::from(*b)));
        out.extend_from_slice(&sum.to_le_bytes());
    }
    let mut out = 0x223E_9F78u32.to_le_bytes().to_vec();
    out.extend_from_slice(&0x0001u16.to_le_bytes());
    attribute(&mut out, 1, 0x0008_9006, &0x0001_0000u32.to_le_bytes()); // attTnefVersion
    attribute(&mut out, 1, 0x0007_9007, b"IPM.Microsoft Mail.Note\0"); // attMessageClass
    for (name, data) in files {
        attribute(
            &mut out,
            2,
            0x0006_9002,
            &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        attribute(&mut out, 2, 0x0001_8010, &[name.as_bytes(), b"\0"].concat());
        attribute(&mut out, 2, 0x0006_800F, data);
    }
    out
}

fn outlook_mail_with(winmail: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(winmail);
    format!(
        "From: Outlook User <user@example.com>\r\nTo: support@example.com\r\nSubject: Files\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
         Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn winmail_dat_is_replaced_by_its_files() {
    let pdf = b"%PDF-1.4 fake".to_vec();
    let p = parsed(&outlook_mail_with(&winmail_dat(&[
        ("report.pdf", &pdf),
        ("notes.txt", b"hello"),
    ])));
    assert_eq!(p.text, "See attached.");
    let names: Vec<_> = p
        .attachments
        .iter()
        .map(|a| {
            (
                a.file_name.as_deref(),
                a.content_type.as_str(),
                a.bytes.len(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (Some("report.pdf"), "application/pdf", pdf.len()),
            (Some("notes.txt"), "text/plain", 5)
        ]
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn unreadable_winmail_dat_is_kept_with_a_warning() {
    let mut broken = winmail_dat(&[("a.txt", b"x")]);
    broken.truncate(12);
    let p = parsed(&outlook_mail_with(&broken));
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].file_name.as_deref(), Some("winmail.dat"));
    assert!(
        p.warnings[0].starts_with("winmail.dat unreadable"),
        "{:?}",
        p.warnings
    );
}
