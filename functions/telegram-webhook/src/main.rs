//! AWS Lambda entry point of the Telegram webhook (`POST /telegram/{bot_id}/webhook` on the
//! function URL): the same axum router as the local server, on DynamoDB and SQS.

use omnidesk_lambda::{Config, adapters, init_tracing};
use omnidesk_telegram_webhook::{WebhookDeps, router};

// One thread: Lambda hands an environment one invocation at a time, and at 128 MB it has a
// fraction of a vCPU, so a multi-thread scheduler would only add threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    let deps = WebhookDeps::new(
        aws.store.clone(),
        aws.queue.clone(),
        aws.store.clone(),
        aws.clock.clone(),
        aws.ids.clone(),
    );
    lambda_http::run(router(deps)).await
}
