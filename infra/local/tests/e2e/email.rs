//! The e-mail channel end to end on the embedded runtime: mail over SMTP becomes a
//! conversation the agent sees; the acknowledgement and the agent's reply land in the outbox,
//! threaded; the customer's reply built from the outbox file threads back; an auto-reply gets
//! nothing back; the same mail twice is stored once; a bounce marks the address undeliverable;
//! `/start <token>` from the acknowledgement continues the ticket on Telegram with its summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use omnidesk_core::BotMode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::harness::{Harness, SECRET, bot_id, private_update};

const WAIT: Duration = Duration::from_secs(10);

/// Sends one message over SMTP the way a mail server does; returns the final reply line.
pub async fn smtp_send(addr: std::net::SocketAddr, from: &str, to: &str, raw: &str) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // Reads one (possibly multi-line) reply and returns its last line.
    async fn reply(
        lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    ) -> String {
        loop {
            let line = lines.next_line().await.unwrap().unwrap_or_default();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line;
            }
        }
    }
    assert!(reply(&mut lines).await.starts_with("220"));
    for (cmd, code) in [
        ("EHLO mx.customer.org".to_owned(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_owned(), "354"),
    ] {
        write
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .unwrap();
        let r = reply(&mut lines).await;
        assert!(r.starts_with(code), "{cmd} answered {r}");
    }
    let body = raw.replace("\r\n", "\n").replace('\n', "\r\n");
    let stuffed: String = body
        .split("\r\n")
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    write.write_all(stuffed.as_bytes()).await.unwrap();
    write.write_all(b"\r\n.\r\n").await.unwrap();
    let done = reply(&mut lines).await;
    write.write_all(b"QUIT\r\n").await.unwrap();
    done
}

/// The `.eml` files in the outbox, oldest first.
pub(crate) fn outbox(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let s = std::fs::read_to_string(&f).unwrap();
            (f, s)
        })
        .collect()
}

pub(crate) async fn wait_outbox(dir: &Path, n: usize) -> Vec<(PathBuf, String)> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let files = outbox(dir);
        if files.len() >= n || std::time::Instant::now() > deadline {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A header's value in a raw message (first occurrence, unfolded).
pub(crate) fn header(raw: &str, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for line in raw.split("\r\n") {
        if line.is_empty() {
            break;
        }
        if let Some(v) = &mut out {
            if line.starts_with([' ', '\t']) {
                v.push_str(line);
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            out = Some(v.trim().to_owned());
        }
    }
    out
}

/// Bob's first mail to support@, accepted over SMTP.
async fn send_first_mail(smtp: std::net::SocketAddr) {
    let done = smtp_send(
        smtp,
        "bob@customer.org",
        "support@example.com",
        &first_mail(),
    )
    .await;
    assert!(done.starts_with("250"), "DATA answered {done}");
}

fn first_mail() -> String {
    "From: Bob Customer <bob@customer.org>\n\
     To: Example Support <support@example.com>\n\
     Subject: =?UTF-8?B?UmVmdW5kIGZvciBvcmRlciAjMTAyNCDigJQgZGFtYWdlZA==?=\n\
     Message-ID: <first-1024@customer.org>\n\
     Date: Wed, 02 Dec 2026 09:00:00 +0000\n\
     MIME-Version: 1.0\n\
     Content-Type: text/plain; charset=utf-8\n\
     \n\
     Hello,\n\
     \n\
     My parcel arrived damaged. Can I get a refund?\n\
     .hidden line starting with a dot\n\
     \n\
     Bob\n\
     -- \n\
     Bob Customer, Customer Org\n"
        .to_owned()
}

async fn conversations(h: &Harness) -> Vec<Value> {
    h.get("/api/v1/conversations").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn messages(h: &Harness, id: &str) -> Vec<Value> {
    h.get(&format!("/api/v1/conversations/{id}/messages?limit=100"))
        .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub(crate) async fn start() -> (Harness, std::net::SocketAddr, tempfile::TempDir) {
    start_configured(|_| {}).await
}

/// [`start`], offering "Continue on Telegram" to `percent` of contacts.
async fn start_with_handoff_rollout(
    percent: u8,
) -> (Harness, std::net::SocketAddr, tempfile::TempDir) {
    start_configured(move |c| c.router.telegram_handoff_rollout = percent).await
}

/// [`start`], with `more` configuration on top.
pub(crate) async fn start_configured(
    more: impl FnOnce(&mut omnidesk::config::Config),
) -> (Harness, std::net::SocketAddr, tempfile::TempDir) {
    let outbox_dir = tempfile::tempdir().unwrap();
    let dir = outbox_dir.path().to_path_buf();
    let h = Harness::start_configured(BotMode::Webhook, move |c| {
        c.smtp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.outbox_dir = Some(dir);
        c.router.telegram_handoff_rollout = 100;
        more(c);
    })
    .await;
    let target = omnidesk::admin::Target::local(&h.config).unwrap();
    omnidesk::admin::mailbox_add(
        &target,
        "support@example.com",
        Some("Example Support".to_owned()),
        Some(&bot_id().to_string()),
    )
    .await
    .unwrap();
    let smtp = h.app.as_ref().unwrap().smtp_addr.expect("SMTP listener");
    (h, smtp, outbox_dir)
}

#[tokio::test]
async fn outside_the_handoff_rollout_the_acknowledgement_offers_no_telegram_link() {
    let (h, smtp, outbox_dir) = start_with_handoff_rollout(0).await;
    send_first_mail(smtp).await;
    let files = wait_outbox(outbox_dir.path(), 1).await;
    assert_eq!(files.len(), 1, "the acknowledgement is still sent");
    assert!(
        !files[0].1.contains("t.me/") && !files[0].1.contains("Telegram"),
        "no Telegram offer at 0%: {}",
        files[0].1
    );
    drop(h);
}

#[tokio::test]
async fn an_email_ticket_is_answered_threaded_and_continues_on_telegram() {
    let (h, smtp, outbox_dir) = start().await;
    let mut ws = h.connect_ws().await;

    // 1. Mail over SMTP becomes a conversation the agent sees, live.
    send_first_mail(smtp).await;
    let created = ws
        .wait_for(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["channel"] == "email"
        })
        .await
        .expect("the agent sees the e-mail");
    let first = &created["message"];
    assert_eq!(
        first["text"],
        "Hello,\n\nMy parcel arrived damaged. Can I get a refund?\n.hidden line starting with a dot\n\nBob"
    );
    assert_eq!(
        first["channel_ref"]["message_id"],
        "first-1024@customer.org"
    );
    assert_eq!(
        first["channel_ref"]["subject"],
        "Refund for order #1024 — damaged"
    );
    assert!(
        first["channel_ref"]["quoted"]
            .as_str()
            .unwrap()
            .contains("Customer Org"),
        "the signature is folded, not lost"
    );
    let conversation_id = created["conversation_id"].as_str().unwrap().to_owned();
    let list = conversations(&h).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["channel"], "email");

    // 2. The acknowledgement: automatic, threaded, with a single-use t.me link.
    let files = wait_outbox(outbox_dir.path(), 1).await;
    assert_eq!(files.len(), 1, "one acknowledgement");
    let ack = &files[0].1;
    assert_eq!(
        header(ack, "To").unwrap(),
        "\"Bob Customer\" <bob@customer.org>"
    );
    assert_eq!(
        header(ack, "In-Reply-To").unwrap(),
        "<first-1024@customer.org>"
    );
    assert_eq!(header(ack, "Auto-Submitted").unwrap(), "auto-replied");
    // Sent encoded (it has an em dash); as the customer's mail client shows it:
    let shown = omnidesk_email::parse(ack.as_bytes()).unwrap().subject;
    assert!(
        shown.starts_with("Re: Refund for order #1024 — damaged [#"),
        "the subject with the ticket tag: {shown}"
    );
    let subject = header(ack, "Subject").unwrap();
    let reply_to = header(ack, "Reply-To").unwrap();
    assert!(reply_to.starts_with("<reply+"), "{reply_to}");
    let body = omnidesk_email::parse(ack.as_bytes()).unwrap();
    let body = format!("{}\n{}", body.text, body.quoted.unwrap_or_default());
    let link_at = body
        .find("https://t.me/shop_bot?start=")
        .expect("the acknowledgement offers Telegram");
    let token: String = body[link_at + "https://t.me/shop_bot?start=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 40, "token {token}");
    let stored = serde_json::to_string(&messages(&h, &conversation_id).await).unwrap();
    assert!(
        !stored.contains(&token) && stored.contains("single-use link, sent to the customer only"),
        "an agent never sees the link (clicking it would link their own Telegram)"
    );

    // 3. The agent's reply goes out by e-mail, threaded to the customer's mail.
    let res = h
        .post(
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            json!({"text": "Sorry about that, Bob! A refund is on its way."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let files = wait_outbox(outbox_dir.path(), 2).await;
    assert_eq!(files.len(), 2, "acknowledgement and reply");
    let reply = &files[1].1;
    assert_eq!(
        header(reply, "In-Reply-To").unwrap(),
        "<first-1024@customer.org>"
    );
    assert!(
        header(reply, "References")
            .unwrap()
            .contains("<first-1024@customer.org>")
    );
    assert_eq!(header(reply, "Auto-Submitted"), None, "a person's reply");
    assert!(header(reply, "From").unwrap().contains("Agent Ann"));
    let reply_id = header(reply, "Message-ID").unwrap();
    let sent = h
        .eventually(
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            WAIT,
            |v| {
                v["items"].as_array().is_some_and(|m| {
                    m.iter().any(|m| {
                        m["delivery"]["status"] == "sent" && m["author"]["kind"] == "agent"
                    })
                })
            },
        )
        .await;
    assert!(
        sent["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["author"]["kind"] == "agent" && m["delivery"]["status"] == "sent"),
        "the agent sees the reply as sent"
    );

    // 4. The customer answers that mail (built from the outbox file): same conversation.
    let answer = format!(
        "From: Bob Customer <bob@customer.org>\n\
         To: {reply_to}\n\
         Subject: Re: {subject}\n\
         Message-ID: <second-1024@customer.org>\n\
         In-Reply-To: {reply_id}\n\
         References: <first-1024@customer.org> {reply_id}\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Thanks, received it.\n\
         \n\
         On Wed, Dec 2, 2026 at 9:05 AM Agent Ann wrote:\n\
         > Sorry about that, Bob! A refund is on its way.\n"
    );
    let to = reply_to.trim_matches(['<', '>']);
    assert!(
        smtp_send(smtp, "bob@customer.org", to, &answer)
            .await
            .starts_with("250")
    );
    let ev = ws
        .wait_for(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["text"] == "Thanks, received it."
        })
        .await
        .expect("the answer arrives, quote folded");
    assert_eq!(ev["conversation_id"], conversation_id.as_str());
    assert_eq!(
        conversations(&h).await.len(),
        1,
        "threaded, not a new ticket"
    );

    // 5. The same mail again is stored once; an auto-reply gets nothing back.
    assert!(
        smtp_send(smtp, "bob@customer.org", to, &answer)
            .await
            .starts_with("250")
    );
    let ack_id = header(ack, "Message-ID").unwrap();
    let auto = format!(
        "From: Bob Customer <bob@customer.org>\n\
         To: support@example.com\n\
         Subject: Automatic reply: {subject}\n\
         Message-ID: <ooo-1@customer.org>\n\
         In-Reply-To: {ack_id}\n\
         Auto-Submitted: auto-replied\n\
         \n\
         I am away until Monday.\n"
    );
    assert!(
        smtp_send(smtp, "bob@customer.org", "support@example.com", &auto)
            .await
            .starts_with("250")
    );
    let ooo = ws
        .wait_for(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["text"] == "I am away until Monday."
        })
        .await
        .expect("the auto-reply is routed");
    assert_eq!(
        ooo["conversation_id"],
        conversation_id.as_str(),
        "threaded to the ack"
    );
    assert_eq!(
        ooo["message"]["channel_ref"]["automatic"],
        "Auto-Submitted: auto-replied"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        outbox(outbox_dir.path()).len(),
        2,
        "nothing automatic answered the auto-reply"
    );
    let in_thread = messages(&h, &conversation_id).await;
    assert_eq!(
        in_thread
            .iter()
            .filter(|m| m["text"] == "Thanks, received it.")
            .count(),
        1,
        "a redelivered mail is stored once"
    );

    // 6. `/start <token>` from the acknowledgement continues the ticket on Telegram.
    let status = h
        .webhook(
            &private_update(1, 4242, &format!("/start {token}")),
            Some(SECRET),
        )
        .await;
    assert_eq!(status, 200);
    let sent = h.fake.wait_for_sent(1, WAIT).await;
    let summary = &sent.last().expect("the bot answers on Telegram").text;
    assert!(
        summary.contains("Your e-mail “Refund for order #1024 — damaged” is here now")
            && summary.contains("You wrote: “Thanks, received it.”")
            && !summary.contains("Sorry about that"),
        "summary: {summary}"
    );
    let conv = h
        .eventually(
            &format!("/api/v1/conversations/{conversation_id}"),
            WAIT,
            |c| c["channel"] == "telegram",
        )
        .await;
    assert_eq!(conv["channel_path"], json!(["email", "telegram"]));
    // The link was single use.
    h.webhook(
        &private_update(2, 4343, &format!("/start {token}")),
        Some(SECRET),
    )
    .await;
    let sent = h.fake.wait_for_sent(2, WAIT).await;
    assert!(
        sent.last()
            .unwrap()
            .text
            .contains("expired or was already used")
    );

    // 7. Replies now go to Telegram.
    let before = h.fake.sent_count();
    h.post(
        &format!("/api/v1/conversations/{conversation_id}/messages"),
        json!({"text": "Here on Telegram now."}),
    )
    .await;
    let sent = h.fake.wait_for_sent(before + 1, WAIT).await;
    assert_eq!(sent.last().unwrap().text, "Here on Telegram now.");
    assert_eq!(sent.last().unwrap().chat_id, 4242);
    assert_eq!(outbox(outbox_dir.path()).len(), 2);
}

#[tokio::test]
async fn unknown_recipients_oversize_and_broken_mail_are_refused_or_kept_never_lost() {
    let (h, smtp, _outbox) = start().await;
    // Not one of our mailboxes: refused at RCPT.
    let stream = tokio::net::TcpStream::connect(smtp).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    lines.next_line().await.unwrap();
    write
        .write_all(b"HELO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<sales@example.com>\r\n")
        .await
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(lines.next_line().await.unwrap().unwrap());
    }
    assert!(answers[2].starts_with("550"), "{answers:?}");

    // Garbage after the headers still becomes something readable or is kept: never lost.
    let garbage = "From: \u{1}\u{2}\nContent-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n";
    assert!(
        smtp_send(smtp, "a@b.org", "support@example.com", garbage)
            .await
            .starts_with("250")
    );
    // An import of a file with nothing in it is kept for an operator.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let lines = omnidesk::admin::email_import(&h.config, &[empty.path().to_path_buf()])
        .await
        .unwrap();
    assert!(lines[0].contains("kept for an operator"), "{lines:?}");
    let failed = omnidesk::admin::email_failed(&h.config, 10).await.unwrap();
    assert!(failed.contains("unreadable"), "{failed}");
    let id = failed.split_whitespace().next().unwrap().to_owned();
    // Importing it again keeps it again (still empty), under its new reason.
    let again = omnidesk::admin::email_retry(&h.config, &id).await.unwrap();
    assert!(again.contains("kept for an operator"), "{again}");
}

#[tokio::test]
async fn bind_links_an_address_only_with_the_mailed_code() {
    let (h, smtp, outbox_dir) = start().await;
    // Bob wrote by e-mail first: a contact with an unverified address.
    assert!(
        smtp_send(
            smtp,
            "bob@customer.org",
            "support@example.com",
            &first_mail()
        )
        .await
        .starts_with("250")
    );
    wait_outbox(outbox_dir.path(), 1).await;
    let ticket = h
        .eventually("/api/v1/conversations", WAIT, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await["items"][0]
        .clone();
    let email_contact = ticket["contact"]["id"].as_str().unwrap().to_owned();

    // On Telegram, someone claims the address: a code goes to the mailbox, nothing is linked.
    h.webhook(
        &private_update(11, 5151, "/bind Bob@Customer.org"),
        Some(SECRET),
    )
    .await;
    let sent = h.fake.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0].text.contains("a 6-digit code is on its way"),
        "{}",
        sent[0].text
    );
    let files = wait_outbox(outbox_dir.path(), 2).await;
    let mail = &files
        .iter()
        .find(|(_, m)| header(m, "Auto-Submitted").as_deref() == Some("auto-generated"))
        .expect("the code mail")
        .1;
    assert_eq!(header(mail, "To").unwrap(), "<bob@customer.org>");
    assert_eq!(header(mail, "Auto-Submitted").unwrap(), "auto-generated");
    let code: String = omnidesk_email::parse(mail.as_bytes())
        .unwrap()
        .subject
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "the code is in the subject");
    let tg = telegram_contact(&h)
        .await
        .expect("the Telegram chat has a contact");
    assert!(
        !tg["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "email"),
        "an unproven claim links nothing"
    );

    // A wrong code binds nothing; the timeline never shows a code.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    h.webhook(
        &private_update(12, 5151, &format!("/bind {wrong}")),
        Some(SECRET),
    )
    .await;
    let sent = h.fake.wait_for_sent(2, WAIT).await;
    assert!(
        sent[1].text.contains("wrong or has expired"),
        "{}",
        sent[1].text
    );

    // The right one binds: the verified address joins the chat's contact, and the e-mail
    // contact merges into it.
    h.webhook(
        &private_update(13, 5151, &format!("/bind {code}")),
        Some(SECRET),
    )
    .await;
    let sent = h.fake.wait_for_sent(3, WAIT).await;
    assert!(
        sent[2].text.starts_with("Done: bob@customer.org is linked"),
        "{}",
        sent[2].text
    );
    let tg = telegram_contact(&h).await.unwrap();
    assert!(
        tg["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "email"
                && i["address"] == "bob@customer.org"
                && i["verified"] == true),
        "{tg}"
    );
    let ticket = h
        .eventually(
            &format!("/api/v1/conversations/{}", ticket["id"].as_str().unwrap()),
            WAIT,
            |c| c["contact"]["id"] == tg["id"],
        )
        .await;
    assert_eq!(
        ticket["contact"]["id"], tg["id"],
        "the e-mail ticket is the same person's now"
    );
    assert_ne!(tg["id"].as_str().unwrap(), email_contact);
    let timeline = messages(&h, ticket["id"].as_str().unwrap()).await;
    let all = serde_json::to_string(&timeline).unwrap();
    assert!(
        !all.contains(&code),
        "the code is never stored in a timeline"
    );
    // Used: the same code again does nothing.
    h.webhook(
        &private_update(14, 5151, &format!("/bind {code}")),
        Some(SECRET),
    )
    .await;
    let sent = h.fake.wait_for_sent(4, WAIT).await;
    assert!(sent[3].text.contains("wrong or has expired"));

    // Bob already chats with the bot now: a new e-mail ticket offers Telegram there, and the
    // acknowledgement mail carries no link.
    let before = outbox(outbox_dir.path()).len();
    let new_ticket = first_mail()
        .replace("first-1024@customer.org", "second-ticket@customer.org")
        .replace(
            "=?UTF-8?B?UmVmdW5kIGZvciBvcmRlciAjMTAyNCDigJQgZGFtYWdlZA==?=",
            "New question",
        );
    assert!(
        smtp_send(smtp, "bob@customer.org", "support@example.com", &new_ticket)
            .await
            .starts_with("250")
    );
    let sent = h.fake.wait_for_sent(5, WAIT).await;
    let offer = &sent[4];
    assert_eq!(offer.chat_id, 5151);
    assert!(
        offer.text.contains("\u{201c}New question\u{201d}")
            && offer.text.contains("https://t.me/shop_bot?start="),
        "{}",
        offer.text
    );
    let files = wait_outbox(outbox_dir.path(), before + 1).await;
    let ack = omnidesk_email::parse(files.last().unwrap().1.as_bytes()).unwrap();
    assert!(!ack.text.contains("t.me"), "{}", ack.text);
}

/// The contact of the (first) Telegram conversation.
async fn telegram_contact(h: &Harness) -> Option<Value> {
    conversations(h)
        .await
        .iter()
        .find(|c| c["channel"] == "telegram")
        .map(|c| c["contact"].clone())
}

#[tokio::test]
async fn a_bounce_marks_the_address_undeliverable_and_the_agent_sees_why() {
    let (h, smtp, outbox_dir) = start().await;
    assert!(
        smtp_send(
            smtp,
            "bob@customer.org",
            "support@example.com",
            &first_mail()
        )
        .await
        .starts_with("250")
    );
    let files = wait_outbox(outbox_dir.path(), 1).await;
    let ack_id = header(&files[0].1, "Message-ID").unwrap();
    let id = h
        .eventually("/api/v1/conversations", WAIT, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The customer's server returns our acknowledgement (RFC 3464 delivery report).
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.org>\n\
         To: support@example.com\n\
         Subject: Undelivered Mail Returned to Sender\n\
         Message-ID: <dsn-1@mx.customer.org>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n\
         \n\
         --b1\n\
         Content-Type: text/plain\n\
         \n\
         Your message could not be delivered.\n\
         --b1\n\
         Content-Type: message/delivery-status\n\
         \n\
         Reporting-MTA: dns; mx.customer.org\n\
         \n\
         Final-Recipient: rfc822; bob@customer.org\n\
         Action: failed\n\
         Status: 5.1.1\n\
         Diagnostic-Code: smtp; 550 5.1.1 <bob@customer.org>: Recipient address rejected: User unknown\n\
         --b1\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         From: support@example.com\n\
         To: bob@customer.org\n\
         Message-ID: {ack_id}\n\
         Subject: Re: Refund\n\
         --b1--\n"
    );
    assert!(
        smtp_send(smtp, "", "support@example.com", &dsn)
            .await
            .starts_with("250")
    );
    let timeline = h
        .eventually(&format!("/api/v1/conversations/{id}/messages"), WAIT, |v| {
            v["items"].as_array().is_some_and(|m| {
                m.iter()
                    .any(|m| m["event"]["event"] == "contact_unreachable")
            })
        })
        .await;
    let event = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["event"]["event"] == "contact_unreachable")
        .expect("the bounce is in the timeline")
        .clone();
    assert_eq!(event["event"]["channel"], "email");
    let reason = event["event"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("bob@customer.org")
            && reason.contains("5.1.1")
            && reason.contains("User unknown"),
        "{reason}"
    );
    let conv = h.get(&format!("/api/v1/conversations/{id}")).await;
    assert!(
        conv["contact"]["unreachable"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u["channel"] == "email")),
        "{conv}"
    );
    assert_eq!(
        conversations(&h).await.len(),
        1,
        "the report opened no ticket"
    );
    // The next reply fails at once with the reason, and nothing is mailed.
    h.post(
        &format!("/api/v1/conversations/{id}/messages"),
        json!({"text": "Are you there?"}),
    )
    .await;
    let failed = h
        .eventually(&format!("/api/v1/conversations/{id}/messages"), WAIT, |v| {
            v["items"].as_array().is_some_and(|m| {
                m.iter()
                    .any(|m| m["text"] == "Are you there?" && m["delivery"]["status"] == "failed")
            })
        })
        .await;
    let reply = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "Are you there?")
        .unwrap()
        .clone();
    assert!(
        reply["delivery"]["reason"]
            .as_str()
            .unwrap()
            .contains("undeliverable"),
        "{reply}"
    );
    assert_eq!(outbox(outbox_dir.path()).len(), 1);
}

#[tokio::test]
async fn files_come_in_as_attachments_and_an_agents_file_goes_out_with_the_reply() {
    let (h, smtp, outbox_dir) = start().await;
    let with_file = "From: Bob <bob@customer.org>\n\
                     To: support@example.com\n\
                     Subject: Invoice\n\
                     Message-ID: <inv-1@customer.org>\n\
                     MIME-Version: 1.0\n\
                     Content-Type: multipart/mixed; boundary=\"m\"\n\
                     \n\
                     --m\n\
                     Content-Type: text/plain; charset=utf-8\n\
                     \n\
                     The invoice is attached.\n\
                     --m\n\
                     Content-Type: application/pdf; name=\"invoice-1024.pdf\"\n\
                     Content-Disposition: attachment; filename=\"invoice-1024.pdf\"\n\
                     Content-Transfer-Encoding: base64\n\
                     \n\
                     JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==\n\
                     --m--\n";
    assert!(
        smtp_send(smtp, "bob@customer.org", "support@example.com", with_file)
            .await
            .starts_with("250")
    );
    wait_outbox(outbox_dir.path(), 1).await;
    let id = h
        .eventually("/api/v1/conversations", WAIT, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inbound = messages(&h, &id).await;
    let file = &inbound[0]["attachments"][0];
    assert_eq!(file["file_name"], "invoice-1024.pdf");
    assert_eq!(file["mime_type"], "application/pdf");
    let url = file["url"].as_str().expect("a signed link");
    let url = if url.starts_with('/') {
        format!("{}{url}", h.base)
    } else {
        url.to_owned()
    };
    let got = h.http.get(url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.unwrap().starts_with(b"%PDF-1.4"));

    // The agent answers with a file: it leaves as an attachment of the threaded reply.
    let form = reqwest::multipart::Form::new()
        .text("text", "Here is the corrected one.")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"corrected,1024\n".to_vec())
                .file_name("corrected.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let res = h
        .http
        .post(format!("{}/api/v1/conversations/{id}/messages", h.base))
        .bearer_auth(&h.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let files = wait_outbox(outbox_dir.path(), 2).await;
    let reply = files
        .iter()
        .map(|(_, raw)| omnidesk_email::parse(raw.as_bytes()).unwrap())
        .find(|m| m.text.contains("corrected one"))
        .expect("the reply mail");
    assert_eq!(reply.in_reply_to, vec!["inv-1@customer.org".to_owned()]);
    assert_eq!(reply.attachments.len(), 1);
    assert_eq!(
        reply.attachments[0].file_name.as_deref(),
        Some("corrected.csv")
    );
    assert_eq!(reply.attachments[0].bytes, b"corrected,1024\n");
}
