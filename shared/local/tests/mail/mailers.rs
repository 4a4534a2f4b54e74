//! The outbound mailers: the SMTP relay against our own listener on 127.0.0.1, the outbox.

use std::sync::Arc;

use omnidesk_core::{Mailer, OutgoingMail, ProviderError};
use omnidesk_domain::EmailAddress;
use omnidesk_local::smtp::{self, Verdict};
use omnidesk_local::{OutboxMailer, SmtpRelayMailer};

use super::{Recorder, config};

fn mail() -> OutgoingMail {
    OutgoingMail {
        from: EmailAddress::parse("support@shop.test").unwrap(),
        to: vec![EmailAddress::parse("ann@customer.test").unwrap()],
        message_id: "reply.42@shop.test".to_owned(),
        raw: b"From: Support <support@shop.test>\r\nTo: ann@customer.test\r\n\
Message-ID: <reply.42@shop.test>\r\nSubject: Re: Order 1042\r\n\r\nHello Ann,\r\n\
.this line starts with a dot\r\n.\r\n\r\n-- \r\nSupport\r\n"
            .to_vec(),
    }
}

/// Our listener on 127.0.0.1:0 with `sink`; returns the port (the server stops with the test).
async fn listen(sink: Arc<Recorder>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(smtp::serve(
        listener,
        config(),
        sink,
        std::future::pending::<()>(),
    ));
    port
}

#[tokio::test]
async fn the_relay_mailer_delivers_the_exact_bytes_and_envelope() {
    let sink = Arc::new(Recorder::accepting(&["ann@customer.test"]));
    let port = listen(Arc::clone(&sink)).await;
    let mailer = SmtpRelayMailer::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
    let mail = mail();
    let sent = mailer.send(&mail).await.expect("sent");
    assert_eq!(sent.message_id, "reply.42@shop.test");
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].mail_from, "support@shop.test");
    assert_eq!(delivered[0].rcpt_to, ["ann@customer.test"]);
    assert!(
        delivered[0].raw == mail.raw,
        "the relay received other bytes"
    );
}

#[tokio::test]
async fn the_relays_4xx_is_transient_and_5xx_permanent_with_its_text() {
    let cases = [
        (
            Recorder {
                on_deliver: Verdict::TryLater("Queue full".to_owned()),
                ..Recorder::accepting(&[])
            },
            true,
            "Queue full",
        ),
        (
            Recorder {
                on_deliver: Verdict::Reject("Content refused".to_owned()),
                ..Recorder::accepting(&[])
            },
            false,
            "Content refused",
        ),
        (
            Recorder::accepting(&["someone@else.test"]),
            false,
            "No such mailbox here",
        ),
        (
            Recorder {
                unknown: Verdict::TryLater("Greylisted".to_owned()),
                ..Recorder::accepting(&["someone@else.test"])
            },
            true,
            "Greylisted",
        ),
    ];
    for (sink, transient, text) in cases {
        let port = listen(Arc::new(sink)).await;
        let mailer = SmtpRelayMailer::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
        match mailer.send(&mail()).await {
            Err(ProviderError::Transient(why)) if transient => assert!(why.contains(text), "{why}"),
            Err(ProviderError::Permanent(why)) if !transient => {
                assert!(why.contains(text), "{why}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_relay_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpRelayMailer::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
    assert!(matches!(
        mailer.send(&mail()).await,
        Err(ProviderError::Transient(_))
    ));
}

#[tokio::test]
async fn credentials_never_appear_in_errors_or_debug_output() {
    let sink = Arc::new(Recorder::accepting(&[]));
    let port = listen(Arc::clone(&sink)).await;
    let mailer =
        SmtpRelayMailer::from_url(&format!("smtp://relay-user:hunter2@127.0.0.1:{port}")).unwrap();
    assert!(!format!("{mailer:?}").contains("hunter2"));
    // Our listener offers no AUTH: the relay cannot be used as configured.
    let err = mailer.send(&mail()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Permanent(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn the_outbox_keeps_each_mail_as_an_owner_only_eml_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data").join("outbox");
    let outbox = OutboxMailer::new(&dir);
    let mut mail = mail();
    mail.message_id = "../odd id/42@shop.test".to_owned();
    let sent = outbox.send(&mail).await.unwrap();
    assert_eq!(sent.message_id, mail.message_id);
    let path = std::path::PathBuf::from(sent.location.expect("a location"));
    assert_eq!(path.parent(), Some(dir.as_path()), "stays in the outbox");
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let (stamp, rest) = name.split_at(15);
    assert!(
        stamp.len() == 15
            && stamp.as_bytes()[8] == b'T'
            && stamp
                .chars()
                .enumerate()
                .all(|(i, c)| i == 8 || c.is_ascii_digit()),
        "{name}"
    );
    assert_eq!(rest, "-_odd_id_42@shop.test.eml");
    assert_eq!(std::fs::read(&path).unwrap(), mail.raw);

    outbox.send(&self::mail()).await.unwrap();
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "no temporary files are left: {files:?}");
    assert!(files.iter().all(|f| f.ends_with(".eml")));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
    }
}
