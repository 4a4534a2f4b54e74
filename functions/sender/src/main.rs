//! AWS Lambda entry point of the sender: consumes the outbound FIFO queue (SQS event source
//! mapping with `ReportBatchItemFailures`) through the shared batch driver.

use std::sync::Arc;

use omnidesk_aws::SesMailer;
use omnidesk_core::QueueName;
use omnidesk_lambda::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{CoalescingPush, Config, SqsSettle, adapters, init_tracing};
use omnidesk_sender::{EmailOut, RateLimiter, SenderDeps, handle_sqs_batch};
use omnidesk_telegram::TeloxideTelegram;

// One thread: Lambda hands an environment one invocation at a time, and at 128 MB it has a
// fraction of a vCPU, so a multi-thread scheduler would only add threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    // Pushes of one batch go out together at its end: one WebSocket message per connection.
    // Visitors' sockets too: their frames are packed per connection, and a gone one is removed
    // from the visitor connections.
    let pushes = Arc::new(
        CoalescingPush::new(aws.push.clone(), aws.store.clone()).with_visitors(aws.store.clone()),
    );
    let deps = Arc::new(SenderDeps {
        messages: aws.store.clone(),
        conversations: aws.store.clone(),
        contacts: aws.store.clone(),
        bots: aws.store.clone(),
        connections: pushes.clone(),
        agents: aws.store.clone(),
        // Replies also reach the visitor's open widgets.
        visitors: Some(pushes.clone()),
        push: pushes.clone(),
        telegram: Arc::new(TeloxideTelegram::new(&config.telegram_api_url)?),
        // Agents' files are read from the private bucket and uploaded to Telegram.
        blobs: aws.blobs.clone(),
        clock: aws.clock.clone(),
        ids: aws.ids.clone(),
        limiter: Arc::new(RateLimiter::telegram()),
        // E-mail replies go through SESv2 when the stack has a mail domain (its identity is
        // the only one the role may send from); without one they are marked failed.
        email: config.mail_domain.as_ref().map(|_| EmailOut {
            mailer: Arc::new(SesMailer::from_conf(&aws.sdk)),
            mail: aws.store.clone(),
        }),
    });
    let settle = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Outbound));
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
