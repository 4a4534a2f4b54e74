//! [`adapters`]: the AWS adapters of one Lambda, built once at cold start — cheaply: the SDK
//! config is assembled from the environment without the provider chain and the HTTPS client
//! is set up by the first request ([`omnidesk_aws::sdk_config`]).

use std::sync::Arc;

use omnidesk_aws::aws_config::SdkConfig;
use omnidesk_aws::{ApiGatewayPush, DynamoStore, S3BlobStore, SqsQueue};
use omnidesk_core::{Clock, IdGen, Secret, SystemClock, UuidV7Ids};

use crate::config::{Config, ConfigError};

/// The AWS adapters every function is wired from. Cheap to clone (clients are shared).
#[derive(Clone)]
pub struct AwsAdapters {
    /// The shared SDK configuration (region, credentials, endpoint overrides).
    pub sdk: SdkConfig,
    /// Every store port, on the `TABLE_NAME` table.
    pub store: Arc<DynamoStore>,
    /// The queue port on the three queues and their dead-letter queues.
    pub queue: Arc<SqsQueue>,
    /// The push port on `WEBSOCKET_API_ENDPOINT`.
    pub push: Arc<ApiGatewayPush>,
    /// Attachment bytes in the `FILES_BUCKET` bucket (SSE-S3, presigned links).
    pub blobs: Arc<S3BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for AwsAdapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsAdapters")
            .field("store", &self.store.table_name())
            .field("queue", &self.queue)
            .field("files_bucket", &self.blobs.bucket())
            .finish_non_exhaustive()
    }
}

/// Builds the SDK clients ([`omnidesk_aws::sdk_config`] of [`Config::aws`]: the Lambda role's
/// static credentials and region, `AWS_ENDPOINT_URL` to redirect to an emulator) and the
/// adapters on them. Makes no network call, reads no file, does no TLS setup.
pub async fn adapters(config: &Config) -> AwsAdapters {
    let sdk = omnidesk_aws::sdk_config(&config.aws).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut store = DynamoStore::new(
        omnidesk_aws::aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.clone(),
        clock.clone(),
    );
    if let Some(name) = config.secrets_key_param.clone() {
        store = store.with_sealing(omnidesk_aws::ssm_sealing(&sdk, name));
    }
    let queue = SqsQueue::new(
        omnidesk_aws::aws_sdk_sqs::Client::new(&sdk),
        config.queues.clone(),
    );
    let push = ApiGatewayPush::from_conf(&sdk, &config.websocket_api_endpoint);
    let blobs = S3BlobStore::from_conf(&sdk, config.files_bucket.clone());
    AwsAdapters {
        sdk,
        store: Arc::new(store),
        queue: Arc::new(queue),
        push: Arc::new(push),
        blobs: Arc::new(blobs),
        clock,
        ids: Arc::new(UuidV7Ids),
    }
}

/// Reads the agent-token signing key: the SecureString parameter `JWT_SECRET_PARAM`, decrypted
/// (`ssm:GetParameter` + the KMS key's decrypt). The key must be at least 32 characters.
/// Functions call it through [`OnFirstUse`], on their first invocation, not at cold start.
pub async fn load_jwt_secret(sdk: &SdkConfig, config: &Config) -> Result<Secret, ConfigError> {
    let name = &config.jwt_secret_param;
    omnidesk_aws::secure_key(&aws_sdk_ssm::Client::new(sdk), name)
        .await
        .map(Secret::new)
        .map_err(|reason| ConfigError::Secret {
            name: name.clone(),
            reason,
        })
}

/// A function's dependencies that need a network call to build (the JWT signing key from SSM):
/// built by the first invocation that asks for them, then cached. A failed build is not
/// cached: that invocation gets the error (the function answers it with a clear 5xx), the next
/// one tries again — no crash loop, no cold start spent waiting on SSM.
pub struct OnFirstUse<T> {
    cell: tokio::sync::OnceCell<T>,
}

impl<T> Default for OnFirstUse<T> {
    fn default() -> Self {
        Self {
            cell: tokio::sync::OnceCell::new(),
        }
    }
}

impl<T> std::fmt::Debug for OnFirstUse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse")
            .field("initialized", &self.cell.initialized())
            .finish()
    }
}

impl<T> OnFirstUse<T> {
    /// The cached value, or the result of `init` (cached when `Ok`). Concurrent first callers
    /// wait for one `init`.
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.cell.get_or_try_init(init).await
    }

    /// Whether a value has been built.
    pub fn is_initialized(&self) -> bool {
        self.cell.initialized()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_failed_first_use_is_not_cached_and_a_success_is_built_once() {
        let deps: OnFirstUse<String> = OnFirstUse::default();
        let calls = AtomicUsize::new(0);
        let init = |fail: bool| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if fail {
                    Err("ssm unavailable")
                } else {
                    Ok("deps".to_owned())
                }
            }
        };
        assert_eq!(
            deps.get_or_try_init(|| init(true)).await,
            Err("ssm unavailable")
        );
        assert!(!deps.is_initialized());
        assert_eq!(
            deps.get_or_try_init(|| init(false))
                .await
                .map(String::as_str),
            Ok("deps")
        );
        assert_eq!(
            deps.get_or_try_init(|| init(true))
                .await
                .map(String::as_str),
            Ok("deps")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
