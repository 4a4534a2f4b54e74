//! omnidesk-aws: the AWS adapters of the `omnidesk-core` ports, on the real AWS SDK.
//!
//! - [`DynamoStore`]: every store port on one DynamoDB table, the website and e-mail channels',
//!   machine translation's, the AI's and routing's included (`WebStore`,
//!   `VisitorConnectionStore`, `MailStore`, `TranslationStore`, `AiStore`, `RoutingStore`; the
//!   access patterns are listed in the `omnidesk-core` crate docs; a rules source over
//!   [`MAX_RULES_SOURCE_BYTES`] does not fit in an item and is refused);
//!   [`DynamoStore::create_table`] creates that table.
//! - [`SqsQueue`]: the queue port on SQS (FIFO inbound/outbound, standard timers, a
//!   dead-letter queue each); [`SqsQueue::create_queues`] creates them.
//! - [`ApiGatewayPush`]: the push port on the API Gateway Management API.
//! - [`S3BlobStore`]: the blob port on a private S3 bucket (content-addressed keys, SSE,
//!   presigned download links that force the type and the disposition).
//! - [`SesMailer`]: the mailer port on SESv2 `SendEmail` (raw content); the returned
//!   `Message-ID` is the one SES gave the mail.
//! - [`S3RawMail`]: reads the raw MIME an SES receipt rule stored in S3, with a size cap.
//! - [`AmazonTranslator`]: the translator port on Amazon Translate `TranslateText` (the HTTP
//!   translators are in `omnidesk-providers`, whose fakes also serve Amazon's protocol).
//! - [`BedrockLlm`]: the LLM port on Bedrock Runtime `Converse` (the OpenAI-compatible one is
//!   in `omnidesk-providers`, whose `FakeBedrock` speaks Converse for the tests).
//!
//! - [`sdk_config`]: the one builder of the shared `SdkConfig` (Lambdas, admin CLI, tests):
//!   static credentials and region from [`AwsSettings`] without the default provider chain,
//!   `AWS_ENDPOINT_URL` to redirect to an emulator, and a [`LazyHttpClient`] whose TLS setup
//!   waits for the first request. Feature `test-util`: [`testing`] (moto endpoint, dummy keys).
//!
//! Depends on `omnidesk-core`/`omnidesk-domain` and the AWS SDK only; no Lambda runtime types.
//! Clients are built by the caller from [`sdk_config`], so the adapters have no test hooks.
//! The conformance suites run against moto and a local `@connections` fake:
//! `infra/ci/moto-tests.sh`.

mod bedrock;
mod dynamo;
mod push;
mod raw_mail;
mod s3;
mod sdk;
mod ses;
mod sqs;
mod ssm;
mod translate;

pub use bedrock::{BedrockLlm, CONVERSATION_START};
pub use dynamo::{DynamoStore, MAX_RULES_SOURCE_BYTES};
pub use push::ApiGatewayPush;
pub use raw_mail::{RawMailError, S3RawMail, SES_MAX_INBOUND_BYTES};
pub use s3::{Encryption, MAX_PRESIGN_TTL, S3_ATTEMPT_TIMEOUT, S3BlobStore};
#[cfg(feature = "test-util")]
pub use sdk::testing;
pub use sdk::{AWS_VARIABLES, AwsCredentials, AwsSettings, LazyHttpClient, sdk_config};
pub use ses::{SES_ATTEMPT_TIMEOUT, SesMailer, ses_message_id_domain};
pub use sqs::{MAX_RECEIVES, MAX_RECEIVES_REASON, PEEK_MAX, QueuePair, QueueUrls, SqsQueue};
pub use ssm::{secure_key, ssm_sealing};
pub use translate::{AMAZON_TRANSLATE_MAX_BYTES, AmazonTranslator, amazon_language_code};

pub use aws_config;
pub use aws_sdk_apigatewaymanagement;
pub use aws_sdk_bedrockruntime;
pub use aws_sdk_dynamodb;
pub use aws_sdk_s3;
pub use aws_sdk_sesv2;
pub use aws_sdk_sqs;
pub use aws_sdk_translate;
