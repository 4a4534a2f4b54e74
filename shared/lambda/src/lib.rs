//! omnidesk-lambda: the glue between the AWS Lambda runtime and the transport-free functions.
//!
//! - [`init_tracing`]: the runtime's default subscriber (level and JSON format come from the
//!   function's logging config in `template.yaml`).
//! - [`Config::from_env`]: the typed configuration every Lambda reads once at cold start; each
//!   error names the missing or malformed variable. No secret is an environment value: the JWT
//!   signing key is read from SSM Parameter Store ([`load_jwt_secret`]), bot tokens and webhook
//!   secrets live in the DynamoDB table (`BotStore`, written by the admin CLI).
//! - [`adapters`]: the AWS adapters (`omnidesk-aws`) over SDK clients built by
//!   `omnidesk_aws::sdk_config` from [`Config::aws`] (static role credentials, no provider
//!   chain, HTTPS set up on first use); `AWS_ENDPOINT_URL` redirects them to an emulator.
//! - [`OnFirstUse`]: dependencies that need a network call (the JWT key from SSM) are built by
//!   the first invocation, not at cold start; a failure answers that invocation, not a crash.
//! - [`run_sqs_batch`]: the one SQS batch driver (partial batch responses, FIFO group rule,
//!   retry delays and immediate dead-lettering of permanent failures).
//! - [`CoalescingPush`]: wraps the push and the connection store so that one invocation lists
//!   the connections once and posts one (packed, ≤ 32 KB) WebSocket message per connection.
//!
//! Depends on `omnidesk-core`, `omnidesk-aws`, the Lambda runtime and the SDK; never on a
//! function crate (functions depend on it).

mod adapters;
mod batch;
mod coalesce;
mod config;

pub use adapters::{AwsAdapters, OnFirstUse, adapters, load_jwt_secret};
pub use batch::{Settle, SqsSettle, received_of, run_sqs_batch, serve_queue};
pub use coalesce::{BILLING_UNIT_BYTES, CoalescingPush, FlushReport, pack};
pub use config::{Config, ConfigError, VARIABLES};

pub use aws_lambda_events;
pub use lambda_runtime;

/// Installs the Lambda runtime's default tracing subscriber (`AWS_LAMBDA_LOG_LEVEL` /
/// `AWS_LAMBDA_LOG_FORMAT` from the function's logging config, or `RUST_LOG`).
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
