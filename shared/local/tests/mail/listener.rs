//! The SMTP listener: a real client (lettre) over TCP, scripted sessions, property tests.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use omnidesk_local::smtp::{self, SmtpConfig, Verdict};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Recorder, codes, config, talk};

/// `serve` on 127.0.0.1:0; returns the port, the shutdown trigger and the server task.
async fn start(
    config: SmtpConfig,
    sink: Arc<Recorder>,
) -> (
    u16,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smtp::serve(listener, config, sink, async {
        let _ = stopped.await;
    }));
    (port, stop, server)
}

fn client(port: u16) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

#[tokio::test]
async fn lettre_sends_mail_with_attachments_and_the_sink_receives_its_exact_bytes() {
    let sink = Arc::new(Recorder::accepting(&["support@shop.test"]));
    let (port, stop, server) = start(config(), Arc::clone(&sink)).await;

    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let message = Message::builder()
        .from("Ann <ann@customer.test>".parse().unwrap())
        .to("support@shop.test".parse().unwrap())
        .subject("Order 1042: two photos")
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(
                    "Hello,\r\n.a line that starts with a dot\r\n..and two\r\n.\r\nbye".to_owned(),
                ))
                .singlepart(
                    Attachment::new("photo.jpg".to_owned())
                        .body(binary, ContentType::parse("image/jpeg").unwrap()),
                )
                .singlepart(
                    Attachment::new("notes.txt".to_owned())
                        .body("é ü 日本\r\n".to_owned(), ContentType::TEXT_PLAIN),
                ),
        )
        .unwrap();
    let formatted = message.formatted();
    client(port).send(message).await.expect("accepted");

    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    let got = &delivered[0];
    assert_eq!(got.mail_from, "ann@customer.test");
    assert_eq!(got.rcpt_to, ["support@shop.test"]);
    // SMTP content always ends with a line end: lettre sends CRLF "." CRLF after the message,
    // and that first CRLF ends its last line.
    let mut expected = formatted;
    expected.extend_from_slice(b"\r\n");
    assert!(
        got.raw == expected,
        "the sink received other bytes than sent"
    );
    assert!(got.peer.starts_with("127.0.0.1:"));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("serve stops on shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_unknown_recipient_is_refused_with_550_and_nothing_is_delivered() {
    let sink = Arc::new(Recorder::accepting(&["support@shop.test"]));
    let (port, stop, _server) = start(config(), Arc::clone(&sink)).await;
    let message = Message::builder()
        .from("ann@customer.test".parse().unwrap())
        .to("nobody@shop.test".parse().unwrap())
        .body("hi".to_owned())
        .unwrap();
    let err = client(port).send(message).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(u16::from), Some(550));
    assert!(err.to_string().contains("No such mailbox here"), "{err}");
    assert!(sink.delivered().is_empty());
    let _ = stop.send(());
}

#[tokio::test]
async fn a_declared_size_over_the_limit_is_refused_politely() {
    let sink = Recorder::accepting(&[]);
    let config = SmtpConfig {
        max_message_bytes: 10 * 1024 * 1024,
        ..config()
    };
    let replies = talk(
        &config,
        &sink,
        b"EHLO client.test\r\nMAIL FROM:<a@b.test> SIZE=20000000\r\nMAIL FROM:<a@b.test> SIZE=2000\r\nQUIT\r\n",
    )
    .await;
    assert!(replies.contains("250-SIZE 10485760\r\n"), "{replies}");
    assert!(
        replies.contains(
            "552 5.3.4 Your message is larger than we accept (10 MB). Please send smaller \
             attachments or share a link.\r\n"
        ),
        "{replies}"
    );
    assert_eq!(codes(&replies), [220, 250, 552, 250, 221]);
}

#[tokio::test]
async fn a_message_growing_beyond_the_limit_is_read_to_its_end_and_refused_then_the_session_goes_on()
 {
    let sink = Recorder::accepting(&[]);
    let config = SmtpConfig {
        max_message_bytes: 1000,
        ..config()
    };
    let mut script =
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\n".to_vec();
    for _ in 0..200 {
        script.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    script.extend_from_slice(
        b".\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n",
    );
    let replies = talk(&config, &sink, &script).await;
    assert_eq!(
        codes(&replies),
        [220, 250, 250, 250, 354, 552, 250, 250, 354, 250, 221]
    );
    assert!(replies.contains("552 5.3.4 Your message is larger than we accept (1000 bytes)."));
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].raw, b"small\r\n");
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let sink = Recorder::accepting(&["a@shop.test", "b@shop.test"]);
    let replies = talk(
        &config(),
        &sink,
        b"EHLO c.test\r\nMAIL FROM:<x@y.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<a@shop.test>\r\n\
RCPT TO:<zz@shop.test>\r\nRCPT TO:<B@shop.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n\
RSET\r\nNOOP\r\nVRFY a\r\nHELP\r\nEXPN list\r\nFOO bar\r\nQUIT\r\nNOOP\r\n",
    )
    .await;
    assert_eq!(
        codes(&replies),
        [
            220, 250, 250, 250, 550, 250, 354, 250, 250, 250, 252, 214, 502, 500, 221
        ]
    );
    for ext in ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"] {
        assert!(
            replies.contains(&format!("250-{ext}\r\n"))
                || replies.contains(&format!("250 {ext}\r\n"))
        );
    }
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].rcpt_to, ["a@shop.test", "B@shop.test"]);
    assert_eq!(delivered[0].raw, b"Subject: hi\r\n\r\n.dot\r\n");
    assert_eq!(delivered[0].helo, "c.test");
}

#[tokio::test]
async fn commands_out_of_sequence_get_503_and_overlong_lines_500() {
    let sink = Recorder::accepting(&[]);
    let mut script = b"MAIL FROM:<a@b.test>\r\nHELO c\r\nRCPT TO:<s@shop.test>\r\nDATA\r\n\
MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nDATA\r\nRSET\r\nMAIL TO:<x@y.z>\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<>\r\n"
        .to_vec();
    script.extend(std::iter::repeat_n(b'A', 10_000));
    script.extend_from_slice(b"\r\nNOOP\r\n\xff\xfe\r\nQUIT\r\n");
    let replies = talk(&config(), &sink, &script).await;
    assert_eq!(
        codes(&replies),
        [
            220, 503, 250, 503, 503, 250, 503, 503, 250, 501, 250, 501, 500, 250, 500, 221
        ]
    );
    assert!(replies.contains("500 5.5.2 Line too long"));
}

#[tokio::test]
async fn recipients_beyond_the_limit_get_452() {
    let sink = Recorder::accepting(&[]);
    let config = SmtpConfig {
        max_recipients: 2,
        ..config()
    };
    let replies = talk(
        &config,
        &sink,
        b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@s.test>\r\nRCPT TO:<b@s.test>\r\nRCPT TO:<c@s.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert_eq!(
        codes(&replies),
        [220, 250, 250, 250, 250, 452, 354, 250, 221]
    );
    assert_eq!(sink.delivered()[0].rcpt_to, ["a@s.test", "b@s.test"]);
    assert_eq!(
        sink.delivered()[0].mail_from,
        "",
        "a bounce has the null sender"
    );
}

#[tokio::test]
async fn an_idle_client_is_disconnected_with_421() {
    let sink = Recorder::accepting(&[]);
    let config = SmtpConfig {
        idle_timeout: Duration::from_millis(200),
        ..config()
    };
    let (mut client, server) = tokio::io::duplex(4096);
    let session = smtp::session(server, "peer".to_owned(), &config, &sink);
    let talk = async {
        client.write_all(b"EHLO c\r\n").await.unwrap();
        // Keep the connection open without a word.
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    };
    let (result, replies) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(session, talk)
    })
    .await
    .unwrap();
    result.unwrap();
    assert_eq!(codes(&replies), [220, 250, 421]);
    assert!(replies.contains("421 4.4.2 mx.test"));
}

#[tokio::test]
async fn a_message_cut_off_by_the_client_never_reaches_the_sink() {
    let sink = Recorder::accepting(&[]);
    talk(
        &config(),
        &sink,
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nSubject: half\r\n\r\nand then",
    )
    .await;
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn a_bare_lf_dot_does_not_end_the_message_so_nothing_can_be_smuggled() {
    let sink = Recorder::accepting(&[]);
    let replies = talk(
        &config(),
        &sink,
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nline\n.\r\n\
MAIL FROM:<evil@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nbare\n.\n\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert_eq!(codes(&replies), [220, 250, 250, 250, 354, 250, 221]);
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1, "one message, not two");
    assert_eq!(
        delivered[0].raw,
        b"line\n\r\nMAIL FROM:<evil@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nbare\n\n\r\n"
    );
}

#[tokio::test]
async fn the_sinks_verdict_on_a_message_is_the_reply() {
    for (verdict, reply) in [
        (
            Verdict::TryLater("Disk busy".to_owned()),
            "451 4.3.0 Disk busy",
        ),
        (
            Verdict::Reject("Refused\r\n250 injected".to_owned()),
            "554 5.6.0 Refused  250 injected",
        ),
    ] {
        let sink = Recorder {
            on_deliver: verdict,
            ..Recorder::accepting(&[])
        };
        let replies = talk(
            &config(),
            &sink,
            b"HELO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert!(replies.contains(&format!("{reply}\r\n")), "{replies}");
    }
}

#[tokio::test]
async fn a_client_that_keeps_sending_junk_is_disconnected() {
    let sink = Recorder::accepting(&[]);
    let script = b"JUNK\r\n".repeat(100);
    let replies = talk(&config(), &sink, &script).await;
    let codes = codes(&replies);
    assert_eq!(codes.last(), Some(&421));
    assert!(codes.len() < 30, "{}", codes.len());
}

// ---------------------------------------------------------------------------------------------
// properties

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::sample::select(vec![
            &b"EHLO x\r\n"[..],
            b"HELO x\n",
            b"MAIL FROM:<a@b.c> SIZE=10\r\n",
            b"RCPT TO:<s@d.e>\r\n",
            b"DATA\r\n",
            b".\r\n",
            b"\r\n.\r\n",
            b"\n.\n",
            b"..\r\n",
            b"RSET\r\n",
            b"\r",
            b"\n",
            b".",
        ])
        .prop_map(<[u8]>::to_vec),
    ]
}

/// A message body: lines of any bytes but CR and LF, often starting with dots, ended by CRLF
/// (or now and then a bare LF), the last one by CRLF.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        prop::sample::select(vec![&b""[..], b".", b"..", b". "]),
        prop::collection::vec(
            any::<u8>().prop_filter("no line end", |b| *b != b'\r' && *b != b'\n'),
            0..40,
        ),
        prop::bool::weighted(0.85),
    );
    prop::collection::vec(line, 0..12).prop_map(|lines| {
        let n = lines.len();
        let mut out = Vec::new();
        for (i, (prefix, text, crlf)) in lines.into_iter().enumerate() {
            out.extend_from_slice(prefix);
            out.extend_from_slice(&text);
            out.extend_from_slice(if crlf || i + 1 == n { b"\r\n" } else { b"\n" });
        }
        out
    })
}

/// Dot-stuffing as a client does it: a dot at the start of any line is doubled.
fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_session_nor_deliver_more_than_the_limit(
        chunks in prop::collection::vec(chunk(), 0..40)
    ) {
        let sink = Recorder::accepting(&[]);
        let config = SmtpConfig { max_message_bytes: 200, ..config() };
        let script = chunks.concat();
        let replies = runtime().block_on(talk(&config, &sink, &script));
        prop_assert!(replies.starts_with("220 mx.test"));
        for envelope in sink.delivered() {
            prop_assert!(envelope.raw.len() <= 200);
            prop_assert!(!envelope.rcpt_to.is_empty());
            prop_assert!(envelope.raw.is_empty() || envelope.raw.ends_with(b"\n"));
        }
    }

    #[test]
    fn scripted_messages_reach_the_sink_exactly_as_written(
        bodies in prop::collection::vec(body(), 1..5)
    ) {
        let sink = Recorder::accepting(&[]);
        let mut script = b"EHLO client.test\r\n".to_vec();
        for body in &bodies {
            script.extend_from_slice(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<s@shop.test>\r\nDATA\r\n");
            script.extend_from_slice(&stuff(body));
            script.extend_from_slice(b".\r\n");
        }
        script.extend_from_slice(b"QUIT\r\n");
        let replies = runtime().block_on(talk(&config(), &sink, &script));
        let got: Vec<Vec<u8>> = sink.delivered().into_iter().map(|e| e.raw).collect();
        prop_assert_eq!(got, bodies, "replies: {}", replies);
    }
}
