//! E-mail: the SMTP listener, the SMTP relay mailer (against that listener) and the outbox.

mod listener;
mod mailers;

use std::time::Duration;

use async_trait::async_trait;
use omnidesk_local::smtp::{self, Envelope, MailSink, SmtpConfig, Verdict};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A sink that accepts the `known` recipients (all when empty), answers `unknown` for the
/// others and `on_deliver` for messages, and keeps what it was given.
struct Recorder {
    known: Vec<String>,
    unknown: Verdict,
    on_deliver: Verdict,
    delivered: Mutex<Vec<Envelope>>,
}

impl Recorder {
    fn accepting(known: &[&str]) -> Self {
        Self {
            known: known.iter().map(|s| (*s).to_owned()).collect(),
            unknown: Verdict::Reject("No such mailbox here".to_owned()),
            on_deliver: Verdict::Accept,
            delivered: Mutex::new(Vec::new()),
        }
    }

    fn delivered(&self) -> Vec<Envelope> {
        self.delivered.lock().clone()
    }
}

#[async_trait]
impl MailSink for Recorder {
    async fn recipient(&self, rcpt: &str) -> Verdict {
        if self.known.is_empty() || self.known.iter().any(|k| k.eq_ignore_ascii_case(rcpt)) {
            Verdict::Accept
        } else {
            self.unknown.clone()
        }
    }

    async fn deliver(&self, envelope: Envelope) -> Verdict {
        if self.on_deliver == Verdict::Accept {
            self.delivered.lock().push(envelope);
        }
        self.on_deliver.clone()
    }
}

fn config() -> SmtpConfig {
    SmtpConfig {
        hostname: "mx.test".to_owned(),
        max_message_bytes: 1024 * 1024,
        idle_timeout: Duration::from_secs(10),
        ..SmtpConfig::default()
    }
}

/// Runs one session over an in-memory pipe: writes `script` (then closes the client's side)
/// while reading every reply; bounded by a timeout.
async fn talk(config: &SmtpConfig, sink: &dyn MailSink, script: &[u8]) -> String {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (mut rd, mut wr) = tokio::io::split(client);
    let session = smtp::session(server, "127.0.0.1:1".to_owned(), config, sink);
    let write = async {
        let _ = wr.write_all(script).await;
        let _ = wr.shutdown().await;
    };
    let read = async {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let (result, (), out) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(session, write, read)
    })
    .await
    .expect("the session ends");
    result.expect("the session ends without an I/O error");
    String::from_utf8(out).expect("replies are UTF-8")
}

/// The codes of the final reply lines (`250 …`, not `250-…`).
fn codes(replies: &str) -> Vec<u16> {
    replies
        .split("\r\n")
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| l[..3].parse().expect("a reply code"))
        .collect()
}
