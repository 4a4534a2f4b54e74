//! The embedded SMTP listener's sink: recipients are checked against the mailboxes, and a
//! complete message goes through the e-mail ingest (stored and queued, or kept for an
//! operator) before the client hears `250`.

use async_trait::async_trait;
use omnidesk_email_inbound::{EmailDeps, Ingested, RawMail, Verdicts, ingest, mailbox_for};
use omnidesk_local::smtp::{Envelope, MailSink, Verdict};

/// Delivers into [`ingest`].
pub struct IngestSink {
    pub deps: EmailDeps,
}

#[async_trait]
impl MailSink for IngestSink {
    async fn recipient(&self, rcpt: &str) -> Verdict {
        match mailbox_for(self.deps.mail.as_ref(), rcpt).await {
            Ok(Some(_)) => Verdict::Accept,
            Ok(None) => Verdict::Reject(format!("5.1.1 <{rcpt}>: no such mailbox here")),
            Err(e) => {
                tracing::warn!(error = %e, "mailbox lookup failed");
                Verdict::TryLater("4.3.0 temporary failure, please try again later".to_owned())
            }
        }
    }

    async fn deliver(&self, envelope: Envelope) -> Verdict {
        let raw = RawMail {
            bytes: &envelope.raw,
            recipients: envelope.rcpt_to.clone(),
            source: format!("smtp:{}", envelope.peer),
            verdicts: Verdicts::default(),
        };
        match ingest(&self.deps, raw).await {
            // Kept mail is stored too: the client is done with it either way.
            Ok(Ingested::Queued { .. } | Ingested::Kept { .. }) => Verdict::Accept,
            Ok(Ingested::NoMailbox) => {
                Verdict::Reject("5.1.1 none of the recipients is a mailbox here".to_owned())
            }
            Err(e) => {
                tracing::warn!(error = %e, "e-mail not stored; the client will retry");
                Verdict::TryLater("4.3.0 temporary failure, please try again later".to_owned())
            }
        }
    }
}
