//! AWS Lambda entry point of the media worker: consumes the media standard queue (SQS event
//! source mapping with `ReportBatchItemFailures`) through the shared batch driver, fetching
//! Telegram files into the `FILES_BUCKET` bucket.

use std::sync::Arc;

use omnidesk_core::QueueName;
use omnidesk_lambda::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{CoalescingPush, Config, SqsSettle, adapters, init_tracing};
use omnidesk_media::{MediaDeps, handle_sqs_batch};
use omnidesk_telegram::TeloxideTelegram;

// One thread: Lambda hands an environment one invocation at a time; downloads and uploads
// wait on the network, not the CPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    // The batch's `message.updated` pushes go out together at its end, visitors' included.
    let pushes = Arc::new(
        CoalescingPush::new(aws.push.clone(), aws.store.clone()).with_visitors(aws.store.clone()),
    );
    let deps = Arc::new(MediaDeps {
        messages: aws.store.clone(),
        conversations: aws.store.clone(),
        bots: aws.store.clone(),
        connections: pushes.clone(),
        agents: aws.store.clone(),
        visitors: Some(pushes.clone()),
        push: pushes.clone(),
        telegram: Arc::new(TeloxideTelegram::new(&config.telegram_api_url)?),
        blobs: aws.blobs.clone(),
    });
    let settle = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Media));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (deps, settle, pushes) = (deps.clone(), settle.clone(), pushes.clone());
        async move {
            let response: SqsBatchResponse =
                handle_sqs_batch(&deps, &settle, &pushes, event.payload).await;
            Ok::<_, Error>(response)
        }
    }))
    .await
}
