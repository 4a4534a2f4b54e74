//! AWS Lambda entry point of the translator: consumes the translate FIFO queue (SQS event
//! source mapping with `ReportBatchItemFailures`) through the shared batch driver.

use std::sync::Arc;

use omnidesk_core::QueueName;
use omnidesk_lambda::lambda_runtime::Error;
use omnidesk_lambda::{CoalescingPush, Config, SqsSettle, adapters, init_tracing, serve_queue};
use omnidesk_translator::{TranslationConfig, TranslatorDeps, handle_body};

// One thread: Lambda hands an environment one invocation at a time; provider calls wait on
// the network, not the CPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let translation = TranslationConfig::from_lookup(|n| std::env::var(n).ok())?;
    let aws = adapters(&config).await;
    let Some(service) = translation.service(aws.store.clone(), aws.clock.clone(), Some(&aws.sdk))
    else {
        return Err(
            "OMNIDESK_TRANSLATOR is empty: the translator function has nothing to do".into(),
        );
    };
    // The batch's `message.updated` pushes go out together at its end.
    let pushes = Arc::new(CoalescingPush::new(aws.push.clone(), aws.store.clone()));
    let deps = Arc::new(TranslatorDeps {
        messages: aws.store.clone(),
        agents: aws.store.clone(),
        connections: pushes.clone(),
        conversations: aws.store.clone(),
        push: pushes.clone(),
        queue: aws.queue.clone(),
        clock: aws.clock.clone(),
        service,
        settings: translation.worker.clone(),
    });
    let settle = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Translate));
    serve_queue(settle, pushes, true, move |body, receive_count| {
        let deps = deps.clone();
        async move { handle_body(&deps, &body, receive_count).await }
    })
    .await
}
