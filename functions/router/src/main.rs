//! AWS Lambda entry point of the router: consumes the inbound FIFO queue and the timers queue
//! (an SQS event source mapping each, with `ReportBatchItemFailures`) through the shared batch
//! driver.

use std::sync::Arc;

use omnidesk_core::QueueName;
use omnidesk_lambda::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{CoalescingPush, Config, SqsSettle, adapters, init_tracing};
use omnidesk_router::{AiGate, AiMode, RouterDeps, RouterSettings, handle_sqs_batch};

// One thread: Lambda hands an environment one invocation at a time, and at 128 MB it has a
// fraction of a vCPU, so a multi-thread scheduler would only add threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    let mut settings = RouterSettings::from_lookup(|name| std::env::var(name).ok())?;
    // Pushes of one batch go out together at its end: one WebSocket message per connection.
    // Visitors' sockets too: their frames are packed per connection, and a gone one is removed
    // from the visitor connections.
    let pushes = Arc::new(
        CoalescingPush::new(aws.push.clone(), aws.store.clone()).with_visitors(aws.store.clone()),
    );
    if settings.detector.is_none() {
        // OMNIDESK_LANGUAGES unset: the agents' languages plus English, read once per cold
        // start (a new agent's languages count from the next one).
        use omnidesk_core::AgentStore;
        settings.serve_languages(&aws.store.list_agents().await?);
    }
    // The AI answers conversations with the bot (OMNIDESK_AI, default `kb`: once there is a
    // FAQ).
    if settings.ai_mode != AiMode::Off {
        settings.ai = Some(AiGate::new(aws.store.clone(), settings.ai_mode));
    }
    let deps = Arc::new(RouterDeps::on_aws(&aws, pushes.clone(), settings));
    let inbound = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Inbound));
    let timers = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Timers));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (deps, inbound, timers, pushes) = (
            deps.clone(),
            inbound.clone(),
            timers.clone(),
            pushes.clone(),
        );
        async move {
            let response: SqsBatchResponse =
                handle_sqs_batch(&deps, &inbound, &timers, &pushes, event.payload).await;
            Ok::<_, Error>(response)
        }
    }))
    .await
}
