//! [`adapters`]: the AWS adapters of one Lambda, built once at cold start.

use std::sync::Arc;

use omnidesk_aws::aws_config::{self, SdkConfig};
use omnidesk_aws::{ApiGatewayPush, DynamoStore, SqsQueue};
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
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for AwsAdapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsAdapters")
            .field("store", &self.store.table_name())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Builds the SDK clients (`aws_config::load_from_env()`: the Lambda role's credentials and
/// region; `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` redirect to an emulator) and the
/// adapters on them. Makes no network call.
pub async fn adapters(config: &Config) -> AwsAdapters {
    let sdk = aws_config::load_from_env().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = DynamoStore::new(
        omnidesk_aws::aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.clone(),
        clock.clone(),
    );
    let queue = SqsQueue::new(
        omnidesk_aws::aws_sdk_sqs::Client::new(&sdk),
        config.queues.clone(),
    );
    let push = ApiGatewayPush::from_conf(&sdk, &config.websocket_api_endpoint);
    AwsAdapters {
        sdk,
        store: Arc::new(store),
        queue: Arc::new(queue),
        push: Arc::new(push),
        clock,
        ids: Arc::new(UuidV7Ids),
    }
}

/// Reads the agent-token signing key: the SecureString parameter `JWT_SECRET_PARAM`, decrypted
/// (`ssm:GetParameter` + the KMS key's decrypt). The key must be at least 32 characters.
pub async fn load_jwt_secret(sdk: &SdkConfig, config: &Config) -> Result<Secret, ConfigError> {
    let name = &config.jwt_secret_param;
    let fail = |reason: String| ConfigError::Secret {
        name: name.clone(),
        reason,
    };
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| fail(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
    let value = out
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| fail("the parameter has no value".to_owned()))?;
    let value = value.trim();
    if value.len() < 32 {
        return Err(fail("the key must be at least 32 characters".to_owned()));
    }
    Ok(Secret::new(value))
}
