//! [`S3RawMail`]: reads the raw MIME of an inbound mail that an SES receipt rule's S3 action
//! stored, refusing one over a size cap before its body is read.

use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use omnidesk_core::ProviderError;

use crate::S3BlobStore;

/// The largest mail SES receives (its receiving limit, headers and attachments included,
/// after encoding): the default cap.
pub const SES_MAX_INBOUND_BYTES: u64 = 40 * 1024 * 1024;

/// Why a raw mail was not read.
#[derive(Debug, thiserror::Error)]
pub enum RawMailError {
    /// No such object (already expired by the bucket's lifecycle rule, or a wrong key).
    #[error("raw mail s3://{bucket}/{key} does not exist")]
    NotFound { bucket: String, key: String },
    /// The object is larger than the cap; its body was not read.
    #[error("raw mail s3://{bucket}/{key} is {size} bytes, over the {cap}-byte cap")]
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        cap: u64,
    },
    /// S3 failed (`Transient`: retry; `Permanent`: access denied, no bucket).
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl RawMailError {
    /// Whether a retry can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, RawMailError::Provider(ProviderError::Transient(_)))
    }
}

/// Reads raw inbound mails from S3 by bucket and key (the object an SES receipt rule's S3
/// action wrote: `<prefix><SES message id>`).
///
/// One `GetObject`: its `Content-Length` is checked before the body is read, and a body that
/// turns out longer than it said is cut off at the cap too, so at most `cap` bytes are ever
/// held. IAM: `s3:GetObject` on the objects (plus `kms:Decrypt` for SSE-KMS).
#[derive(Debug, Clone)]
pub struct S3RawMail {
    client: aws_sdk_s3::Client,
    max_bytes: u64,
}

impl S3RawMail {
    /// A reader on `client` refusing mails over `max_bytes`.
    pub fn new(client: aws_sdk_s3::Client, max_bytes: u64) -> Self {
        Self { client, max_bytes }
    }

    /// A reader with a client built from `sdk` as [`S3BlobStore::from_conf`] builds it (a 30 s
    /// attempt budget; path-style addressing with an endpoint override).
    pub fn from_conf(sdk: &SdkConfig, max_bytes: u64) -> Self {
        Self::new(
            aws_sdk_s3::Client::from_conf(S3BlobStore::client_config(sdk).build()),
            max_bytes,
        )
    }

    /// The cap in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The bytes of `s3://bucket/key`.
    pub async fn read(&self, bucket: &str, key: &str) -> Result<Vec<u8>, RawMailError> {
        let too_large = |size: u64| RawMailError::TooLarge {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size,
            cap: self.max_bytes,
        };
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetObjectError::is_no_such_key) =>
            {
                return Err(RawMailError::NotFound {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                });
            }
            Err(e) => return Err(classify(&e).into()),
        };
        let declared = out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        if declared > self.max_bytes {
            // Dropping the unread body closes the connection: nothing more is downloaded.
            return Err(too_large(declared));
        }
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ProviderError::Transient(format!("S3 GetObject s3://{bucket}/{key} body: {e}"))
            })?;
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

fn classify(err: &SdkError<GetObjectError, HttpResponse>) -> ProviderError {
    let text = format!("S3 GetObject: {}", DisplayErrorContext(err));
    match err.raw_response().map(|r| r.status().as_u16()) {
        Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
            ProviderError::Permanent(text)
        }
        _ => ProviderError::Transient(text),
    }
}
