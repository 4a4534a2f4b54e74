//! [`S3BlobStore`]: the blob port on a private S3 bucket, with presigned download links.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::timeout::TimeoutConfig;
use omnidesk_core::{Blob, BlobStore, LinkRequest, ProviderError, blob_key, is_blob_key};

use crate::sdk::CONNECT_TIMEOUT;

/// Longest a single attempt of an S3 call may take: a 20 MB upload from a Lambda at 128 MB can
/// take seconds, which the shared 5 s attempt budget of DynamoDB and SQS would cut off.
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// S3's limit for a presigned URL's lifetime (SigV4: one week).
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How objects are encrypted at rest (the `x-amz-server-side-encryption` header of every
/// `PutObject`, on top of the bucket's default encryption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`): keys managed by S3, no KMS calls, no extra permission.
    S3Managed,
    /// SSE-KMS (`aws:kms`) with this key id or ARN (`None`: the account's `aws/s3` key). The
    /// writer then also needs `kms:GenerateDataKey`, every reader `kms:Decrypt`, and each
    /// request costs a KMS call unless the bucket has an S3 Bucket Key.
    Kms(Option<String>),
}

/// Attachment bytes in a private S3 bucket.
///
/// - Keys are [`blob_key`]s (SHA-256 hex of the bytes), so the same file is one object. `put`
///   always uploads, with no `HeadObject` first: rewriting identical bytes under the same key
///   changes nothing a reader can see, costs the one `PutObject` a check would only sometimes
///   save, needs no `s3:GetObject` grant on the writer (`HeadObject` is authorised by it), and
///   refreshes the object's age for an expiration lifecycle rule (a file sent again is not
///   expired under the newer message).
/// - Every object is written with server-side encryption ([`Encryption`]) and its content type.
/// - `signed_url` is a presigned `GetObject` valid for the link's `ttl` from its `now`, with
///   `response-content-type` and `response-content-disposition` (from
///   [`omnidesk_core::content_disposition`]: `attachment` for HTML, SVG and everything not a
///   plain image, audio or video) in the signed query, so neither can be altered. The URL is on
///   the bucket's own origin (`*.s3.*.amazonaws.com`), never ours: script in an uploaded file
///   cannot run with our cookies or reach our API, whatever the browser does with it. S3 cannot
///   add `X-Content-Type-Options: nosniff` to a presigned response; that is why the disposition
///   and the type are forced instead (a deployment that serves files through CloudFront can add
///   it with a response headers policy, see the README).
/// - Presigning signs with the function's role: the signer must hold `s3:GetObject` on the
///   bucket, and a link dies with the role's session (hours) even if its `ttl` is longer.
///
/// Errors: throttling, timeouts and 5xx are [`ProviderError::Transient`]; access denied, a
/// missing bucket and other 4xx are [`ProviderError::Permanent`].
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    encryption: Encryption,
}

impl S3BlobStore {
    /// A store on `bucket` through `client`, with SSE-S3.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            encryption: Encryption::S3Managed,
        }
    }

    /// A store on `bucket` with a client built from `sdk`: an S3 attempt may take
    /// [`S3_ATTEMPT_TIMEOUT`], and with an endpoint override (an emulator such as moto) requests
    /// use path-style addressing (`http://host/bucket/key`).
    pub fn from_conf(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(
            aws_sdk_s3::Client::from_conf(Self::client_config(sdk).build()),
            bucket,
        )
    }

    /// The S3 client configuration [`S3BlobStore::from_conf`] uses (tests add interceptors).
    pub fn client_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(S3_ATTEMPT_TIMEOUT)
                    .build(),
            )
    }

    /// With objects encrypted by `encryption` instead of SSE-S3.
    #[must_use]
    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 client (tests list the bucket through it).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// Creates `bucket` as `template.yaml` declares it, for tests and emulators: public access
    /// blocked, default encryption SSE-S3. An existing bucket of ours is fine.
    pub async fn create_bucket(
        client: &aws_sdk_s3::Client,
        bucket: &str,
    ) -> Result<(), ProviderError> {
        let mut create = client.create_bucket().bucket(bucket);
        let region = client.config().region().map(|r| r.as_ref().to_owned());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(classify("CreateBucket", &e)),
        }
        client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("PutPublicAccessBlock", &e))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| ProviderError::Permanent(format!("encryption rule: {e}")))?,
            )
            .build();
        client
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| ProviderError::Permanent(format!("encryption config: {e}")))?,
            )
            .send()
            .await
            .map_err(|e| classify("PutBucketEncryption", &e))?;
        Ok(())
    }
}

fn classify<E>(what: &str, err: &SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = format!("S3 {what}: {}", DisplayErrorContext(err));
    let status = match err {
        SdkError::ServiceError(_) => err.raw_response().map(|r| r.status().as_u16()),
        _ => None,
    };
    let code = err.code().unwrap_or_default();
    match status {
        Some(s) if (400..500).contains(&s) && s != 408 && s != 429 && !code.contains("Slow") => {
            ProviderError::Permanent(text)
        }
        _ => ProviderError::Transient(text),
    }
}

fn not_a_key(key: &str) -> ProviderError {
    ProviderError::Permanent(format!("`{key}` is not a blob key"))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, content_type: &str, bytes: Vec<u8>) -> Result<String, ProviderError> {
        let key = blob_key(&bytes);
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .body(ByteStream::from(bytes));
        put = match &self.encryption {
            Encryption::S3Managed => put.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms(key_id) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone()),
        };
        put.send().await.map_err(|e| classify("PutObject", &e))?;
        Ok(key)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, ProviderError> {
        if !is_blob_key(key) {
            return Ok(None);
        }
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(classify("GetObject", &e)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| ProviderError::Transient(format!("S3 GetObject body: {e}")))?
            .into_bytes()
            .to_vec();
        Ok(Some(Blob {
            content_type,
            bytes,
        }))
    }

    async fn signed_url(&self, link: &LinkRequest<'_>) -> Result<String, ProviderError> {
        if !is_blob_key(link.key) {
            return Err(not_a_key(link.key));
        }
        if link.ttl.is_zero() || link.ttl > MAX_PRESIGN_TTL {
            return Err(ProviderError::Permanent(format!(
                "a presigned link lives 1 s to 7 days, not {:?}",
                link.ttl
            )));
        }
        let start =
            UNIX_EPOCH + Duration::from_millis(u64::try_from(link.now.millis()).unwrap_or(0));
        let presigning = PresigningConfig::builder()
            .start_time(start)
            .expires_in(link.ttl)
            .build()
            .map_err(|e| ProviderError::Permanent(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(link.key)
            .response_content_type(link.content_type)
            .response_content_disposition(link.disposition())
            .presigned(presigning)
            .await
            .map_err(|e| classify("presign GetObject", &e))?;
        Ok(request.uri().to_owned())
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        if !is_blob_key(key) {
            return Ok(());
        }
        // S3 answers 204 whether or not the key existed.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", &e))?;
        Ok(())
    }
}
