//! The SES side of e-mail ingest: the Lambda action of an SES receipt rule.
//!
//! SES runs the rule's S3 action first (the raw MIME goes to the inbound bucket under
//! `inbound/<SES message id>`), then invokes the function asynchronously (`InvocationType:
//! Event`) with the mail's metadata and the receipt's verdicts, never the body. The event's
//! `receipt.action` describes the Lambda action itself, so it carries no bucket or key: the
//! object is found as AWS's own example function finds it, at the S3 action's prefix plus
//! `mail.messageId` (awsdocs/amazon-ses-developer-guide,
//! `receiving-email-action-lambda-example-functions.md`). An action that does name a bucket and
//! key (an S3 notification relayed by hand) is read there.
//!
//! Outcomes of one record:
//! - read and ingested (queued, kept for an operator, or — addressed to none of our mailboxes —
//!   kept too, so a mailbox added later can import it again): `Ok`;
//! - the object is missing or over the cap: nothing a retry changes; recorded as unprocessable
//!   (source `ses:<bucket>/<key>`, the SES id, sender and subject in the reason) and `Ok`;
//! - S3, DynamoDB or SQS failed (or refused, e.g. a missing grant): `Err`, so Lambda retries
//!   the asynchronous invocation twice and then hands the event to the function's dead-letter
//!   queue; the raw mail stays in the bucket until its lifecycle rule expires it.

use async_trait::async_trait;
use omnidesk_aws::{RawMailError, S3RawMail};
use omnidesk_core::UnprocessableMail;
use omnidesk_lambda::aws_lambda_events::event::ses::{
    SimpleEmailEvent, SimpleEmailService, SimpleEmailVerdict,
};

use crate::{EmailDeps, IngestError, Ingested, RawMail, Verdicts, ingest, keep};

/// The key prefix of the receipt rule's S3 action (`template.yaml`, `ObjectKeyPrefix`).
pub const SES_OBJECT_PREFIX: &str = "inbound/";

/// Reads the raw mail SES stored ([`S3RawMail`] on AWS; tests pass a fake).
#[async_trait]
pub trait RawMailReader: Send + Sync {
    /// The bytes of `bucket`/`key`.
    async fn read(&self, bucket: &str, key: &str) -> Result<Vec<u8>, RawMailError>;
}

#[async_trait]
impl RawMailReader for S3RawMail {
    async fn read(&self, bucket: &str, key: &str) -> Result<Vec<u8>, RawMailError> {
        S3RawMail::read(self, bucket, key).await
    }
}

/// Where the receipt rule's S3 action stores raw mail: `INBOUND_MAIL_BUCKET` and
/// [`SES_OBJECT_PREFIX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundBucket {
    pub bucket: String,
    pub prefix: String,
}

impl InboundBucket {
    /// The bucket with the template's prefix.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: SES_OBJECT_PREFIX.to_owned(),
        }
    }
}

/// One SES record could not be handled; a retry of the invocation can help (or an operator
/// fixes a grant and redrives the dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum SesError {
    /// Reading the raw mail from S3 failed.
    #[error("SES mail {ses_id}: {source}")]
    Read {
        ses_id: String,
        #[source]
        source: RawMailError,
    },
    /// The store, blob store or queue failed.
    #[error("SES mail {ses_id}: {source}")]
    Ingest {
        ses_id: String,
        #[source]
        source: IngestError,
    },
    /// The record names no object and has no SES message id to find it by.
    #[error("an SES record without mail.messageId and without an S3 location")]
    NoLocation,
}

/// The verdict's status (`PASS`, `FAIL`, `GRAY`, …), `None` when absent.
fn status(v: &SimpleEmailVerdict) -> Option<String> {
    v.status.clone().filter(|s| !s.trim().is_empty())
}

/// The receipt's verdicts.
pub fn verdicts_of(ses: &SimpleEmailService) -> Verdicts {
    let r = &ses.receipt;
    Verdicts {
        spam: status(&r.spam_verdict),
        virus: status(&r.virus_verdict),
        spf: status(&r.spf_verdict),
        dkim: status(&r.dkim_verdict),
        dmarc: status(&r.dmarc_verdict),
    }
}

/// Where the raw bytes of `ses` are: the action's own bucket and key when it names them,
/// else `inbound`'s bucket, prefix and `mail.messageId`.
pub fn location_of(ses: &SimpleEmailService, inbound: &InboundBucket) -> Option<(String, String)> {
    let action = &ses.receipt.action;
    match (&action.bucket_name, &action.object_key) {
        (Some(b), Some(k)) if !b.is_empty() && !k.is_empty() => Some((b.clone(), k.clone())),
        _ => ses
            .mail
            .message_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .map(|id| {
                (
                    inbound.bucket.clone(),
                    format!("{}{}", inbound.prefix, id.trim()),
                )
            }),
    }
}

/// Handles one invocation of the receipt rule's Lambda action: every record is read from S3
/// and ingested; the first failure a retry can help with is returned after all records were
/// tried (ingest is idempotent per Message-ID, so a retried record is queued once).
#[tracing::instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_ses_event(
    deps: &EmailDeps,
    reader: &dyn RawMailReader,
    inbound: &InboundBucket,
    event: SimpleEmailEvent,
) -> Result<Vec<Ingested>, SesError> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    let mut first_error = None;
    for record in event.records {
        match handle_record(deps, reader, inbound, &record.ses).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                tracing::error!(error = %e, "SES mail not ingested; the invocation will be retried");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(outcomes),
    }
}

#[tracing::instrument(skip_all, fields(ses_id = ses.mail.message_id.as_deref().unwrap_or("-")))]
async fn handle_record(
    deps: &EmailDeps,
    reader: &dyn RawMailReader,
    inbound: &InboundBucket,
    ses: &SimpleEmailService,
) -> Result<Ingested, SesError> {
    let ses_id = ses.mail.message_id.clone().unwrap_or_default();
    let (bucket, key) = location_of(ses, inbound).ok_or(SesError::NoLocation)?;
    let source = format!("ses:{bucket}/{key}");
    let ingest_err = |source: IngestError| SesError::Ingest {
        ses_id: ses_id.clone(),
        source,
    };
    let bytes = match reader.read(&bucket, &key).await {
        Ok(bytes) => bytes,
        Err(e @ (RawMailError::NotFound { .. } | RawMailError::TooLarge { .. })) => {
            let size = match &e {
                RawMailError::TooLarge { size, .. } => *size,
                _ => 0,
            };
            return keep_unread(deps, ses, &ses_id, source, size, e.to_string())
                .await
                .map_err(ingest_err);
        }
        Err(source) => return Err(SesError::Read { ses_id, source }),
    };
    let raw = RawMail {
        bytes: &bytes,
        recipients: ses.receipt.recipients.clone(),
        source,
        verdicts: verdicts_of(ses),
    };
    match ingest(deps, raw.clone()).await.map_err(ingest_err)? {
        Ingested::NoMailbox => {
            let reason = format!(
                "addressed to none of our mailboxes ({})",
                raw.recipients.join(", ")
            );
            keep(deps, &raw, reason).await.map_err(ingest_err)
        }
        outcome => Ok(outcome),
    }
}

/// Records a mail whose bytes could not be read (missing, or over the cap): what the event
/// says about it, so an operator knows what was lost or where it still is.
async fn keep_unread(
    deps: &EmailDeps,
    ses: &SimpleEmailService,
    ses_id: &str,
    source: String,
    size: u64,
    why: String,
) -> Result<Ingested, IngestError> {
    let headers = &ses.mail.common_headers;
    let reason = format!(
        "not read: {why} (SES id {ses_id}; from {}; subject {:?})",
        headers.from.join(", "),
        headers.subject.as_deref().unwrap_or("")
    );
    // One id per SES mail: a retried invocation records it once.
    let id = if ses_id.is_empty() {
        deps.ids.uuid().simple().to_string()
    } else {
        format!("ses-{ses_id}")
    };
    deps.mail
        .record_unprocessable(&UnprocessableMail {
            id: id.clone(),
            blob: String::new(),
            size,
            reason: reason.clone(),
            source,
            received_at: deps.clock.now(),
        })
        .await?;
    tracing::warn!(%id, %reason, "SES mail kept for an operator without its bytes");
    Ok(Ingested::Kept { id, reason })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use omnidesk_core::testing::{ManualClock, MemoryBlobStore, MemoryQueue, MemoryStore, SeqIds};
    use omnidesk_core::{MailStore, Mailbox, PageRequest, ProviderError, QueueName};
    use omnidesk_domain::{EmailAddress, Timestamp};

    use super::*;
    use crate::EmailSettings;

    const EVENT: &str = include_str!("../tests/fixtures/ses/lambda_action_event.json");

    struct FakeBucket(HashMap<String, Result<Vec<u8>, &'static str>>);

    #[async_trait]
    impl RawMailReader for FakeBucket {
        async fn read(&self, bucket: &str, key: &str) -> Result<Vec<u8>, RawMailError> {
            match self.0.get(&format!("{bucket}/{key}")) {
                None => Err(RawMailError::NotFound {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }),
                Some(Ok(b)) => Ok(b.clone()),
                Some(Err("large")) => Err(RawMailError::TooLarge {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    size: 50_000_000,
                    cap: 41_943_040,
                }),
                Some(Err(e)) => Err(RawMailError::Provider(ProviderError::Transient(
                    (*e).to_owned(),
                ))),
            }
        }
    }

    fn event() -> SimpleEmailEvent {
        serde_json::from_str(EVENT).expect("the SES fixture parses")
    }

    const KEY: &str = "mail-bucket/inbound/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01";

    fn raw() -> Vec<u8> {
        b"From: Ann <ann@example.org>\r\nTo: support@example.com\r\nSubject: Where is my order?\r\n\
          Message-ID: <order-42@example.org>\r\nDate: Tue, 06 Dec 2016 02:40:08 +0000\r\n\r\nHello.\r\n"
            .to_vec()
    }

    async fn deps() -> (EmailDeps, Arc<MemoryStore>, Arc<MemoryQueue>) {
        let store = Arc::new(MemoryStore::default());
        store
            .put_mailbox(&Mailbox {
                address: EmailAddress::parse("support@example.com").expect("address"),
                name: None,
                bot_id: None,
                created_at: Timestamp::from_millis(1_700_000_000_000),
            })
            .await
            .expect("mailbox");
        let queue = Arc::new(MemoryQueue::default());
        let deps = EmailDeps {
            mail: store.clone(),
            blobs: Arc::new(MemoryBlobStore::default()),
            queue: queue.clone(),
            clock: Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000))),
            ids: Arc::new(SeqIds::new()),
            settings: EmailSettings::default(),
        };
        (deps, store, queue)
    }

    async fn kept(store: &MemoryStore) -> Vec<UnprocessableMail> {
        store
            .list_unprocessable(&PageRequest {
                limit: 10,
                cursor: None,
            })
            .await
            .expect("list")
            .items
    }

    #[test]
    fn the_verdicts_and_the_object_come_from_the_receipt() {
        let event = event();
        let ses = &event.records[0].ses;
        let v = verdicts_of(ses);
        assert_eq!(v.spam.as_deref(), Some("PASS"));
        assert_eq!(v.virus.as_deref(), Some("PASS"));
        assert_eq!(v.dmarc.as_deref(), Some("GRAY"));
        let inbound = InboundBucket::new("mail-bucket");
        assert_eq!(
            location_of(ses, &inbound),
            Some((
                "mail-bucket".to_owned(),
                "inbound/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01".to_owned()
            )),
            "the Lambda action names no object: the S3 action's prefix + mail.messageId"
        );
        let mut named = ses.clone();
        named.receipt.action.bucket_name = Some("other".to_owned());
        named.receipt.action.object_key = Some("k/1".to_owned());
        assert_eq!(
            location_of(&named, &inbound),
            Some(("other".to_owned(), "k/1".to_owned()))
        );
    }

    #[tokio::test]
    async fn a_stored_mail_is_read_from_the_bucket_and_queued_for_the_router() {
        let (deps, _, queue) = deps().await;
        let bucket = FakeBucket(HashMap::from([(KEY.to_owned(), Ok(raw()))]));
        let out = handle_ses_event(&deps, &bucket, &InboundBucket::new("mail-bucket"), event())
            .await
            .expect("handled");
        assert!(
            matches!(
                out.as_slice(),
                [Ingested::Queued {
                    new_thread: true,
                    ..
                }]
            ),
            "{out:?}"
        );
        assert_eq!(queue.pending(QueueName::Inbound).len(), 1);
    }

    #[tokio::test]
    async fn a_missing_or_oversized_object_is_recorded_once_and_not_retried() {
        let (deps, store, queue) = deps().await;
        let empty = FakeBucket(HashMap::new());
        for _ in 0..2 {
            let out = handle_ses_event(&deps, &empty, &InboundBucket::new("mail-bucket"), event())
                .await
                .expect("permanent: not an error");
            assert!(matches!(out.as_slice(), [Ingested::Kept { .. }]), "{out:?}");
        }
        let large = FakeBucket(HashMap::from([(KEY.to_owned(), Err("large"))]));
        handle_ses_event(&deps, &large, &InboundBucket::new("mail-bucket"), event())
            .await
            .expect("permanent: not an error");
        let kept = kept(&store).await;
        assert_eq!(kept.len(), 1, "one record per SES mail: {kept:?}");
        assert_eq!(kept[0].source, format!("ses:{KEY}"));
        assert_eq!(kept[0].size, 50_000_000);
        assert!(kept[0].reason.contains("over the"), "{}", kept[0].reason);
        assert!(
            kept[0].reason.contains("Test Subject"),
            "{}",
            kept[0].reason
        );
        assert!(queue.pending(QueueName::Inbound).is_empty());
    }

    #[tokio::test]
    async fn an_unavailable_bucket_fails_the_invocation_so_lambda_retries_it() {
        let (deps, store, _) = deps().await;
        let down = FakeBucket(HashMap::from([(KEY.to_owned(), Err("503 Slow Down"))]));
        let err = handle_ses_event(&deps, &down, &InboundBucket::new("mail-bucket"), event())
            .await
            .expect_err("transient");
        assert!(matches!(err, SesError::Read { .. }), "{err}");
        assert!(kept(&store).await.is_empty());
    }

    #[tokio::test]
    async fn mail_to_none_of_our_mailboxes_is_kept_with_its_bytes() {
        let (deps, store, queue) = deps().await;
        let bucket = FakeBucket(HashMap::from([(KEY.to_owned(), Ok(raw()))]));
        let mut event = event();
        event.records[0].ses.receipt.recipients = vec!["sales@example.com".to_owned()];
        let out = handle_ses_event(&deps, &bucket, &InboundBucket::new("mail-bucket"), event)
            .await
            .expect("handled");
        assert!(matches!(out.as_slice(), [Ingested::Kept { .. }]), "{out:?}");
        let kept = kept(&store).await;
        assert!(!kept[0].blob.is_empty(), "its bytes are in blob storage");
        assert!(kept[0].reason.contains("sales@example.com"));
        assert!(queue.pending(QueueName::Inbound).is_empty());
    }
}
