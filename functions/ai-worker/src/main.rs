//! AWS Lambda entry point of the ai-worker: consumes the AI FIFO queue (SQS event source
//! mapping with `ReportBatchItemFailures`) through the shared batch driver.

use std::sync::Arc;

use omnidesk_ai_worker::{AiConfig, AiDeps, Assist, handle_body};
use omnidesk_core::QueueName;
use omnidesk_lambda::lambda_runtime::Error;
use omnidesk_lambda::{CoalescingPush, Config, SqsSettle, adapters, init_tracing, serve_queue};
use omnidesk_router::{RouterDeps, RouterSettings};

// One thread: Lambda hands an environment one invocation at a time; model calls wait on the
// network, not the CPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let ai = AiConfig::from_lookup(|n| std::env::var(n).ok())?;
    let settings = RouterSettings::from_lookup(|n| std::env::var(n).ok())?;
    let aws = adapters(&config).await;
    let pushes = Arc::new(
        CoalescingPush::new(aws.push.clone(), aws.store.clone()).with_visitors(aws.store.clone()),
    );
    let deps = Arc::new(AiDeps {
        assist: Arc::new(Assist::on_aws(&aws, &ai)?),
        router: RouterDeps::on_aws(&aws, pushes.clone(), settings),
    });
    let settle = Arc::new(SqsSettle::new(aws.queue.clone(), QueueName::Ai));
    serve_queue(settle, pushes, true, move |body, _receive_count| {
        let deps = deps.clone();
        async move { handle_body(&deps, &body).await }
    })
    .await
}
