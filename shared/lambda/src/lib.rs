//! omnidesk-lambda: the glue between the AWS Lambda runtime and the transport-free functions.
//!
//! - [`init_tracing`]: the runtime's default subscriber (level and JSON format come from the
//!   function's logging config in `template.yaml`).
//! - [`Config::from_env`]: the typed configuration every Lambda reads once at cold start; each
//!   error names the missing or malformed variable. No secret is an environment value: the JWT
//!   signing key is read from SSM Parameter Store ([`load_jwt_secret`]), bot tokens and webhook
//!   secrets live in the DynamoDB table (`BotStore`, written by the admin CLI).
//! - [`adapters`]: the AWS adapters (`omnidesk-aws`) over SDK clients built with
//!   `aws_config::load_from_env()`, so `AWS_ENDPOINT_URL` redirects them to an emulator.
//! - [`run_sqs_batch`]: the one SQS batch driver (partial batch responses, FIFO group rule,
//!   retry delays and immediate dead-lettering of permanent failures).
//!
//! Depends on `omnidesk-core`, `omnidesk-aws`, the Lambda runtime and the SDK; never on a
//! function crate (functions depend on it).

mod adapters;
mod batch;
mod config;

pub use adapters::{AwsAdapters, adapters, load_jwt_secret};
pub use batch::{Settle, SqsSettle, received_of, run_sqs_batch};
pub use config::{Config, ConfigError, VARIABLES};

pub use aws_lambda_events;
pub use lambda_runtime;

/// Installs the Lambda runtime's default tracing subscriber (`AWS_LAMBDA_LOG_LEVEL` /
/// `AWS_LAMBDA_LOG_FORMAT` from the function's logging config, or `RUST_LOG`).
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
