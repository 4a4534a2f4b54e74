//! The local queue driver: receives batches from the embedded queue and runs one worker step
//! per message (the same step a Lambda runs per SQS record), acking, delaying or
//! dead-lettering each by its outcome.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::{JobError, JobOutcome, Queue, QueueName, Received, retry_backoff};
use tokio::sync::Notify;

/// How long a received message stays invisible while its step runs.
pub const VISIBILITY: Duration = Duration::from_secs(30);

/// Runs `step` on every message of `queue`, forever (the task is aborted on shutdown). Messages of different
/// groups run concurrently (up to `concurrency`); the queue never hands out two messages of one
/// group at once, so per-conversation order holds.
pub async fn run<F, Fut>(
    queue: Arc<dyn Queue>,
    name: QueueName,
    wake: Arc<Notify>,
    concurrency: usize,
    step: F,
) where
    F: Fn(Received) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<JobOutcome, JobError>> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    loop {
        let available = permits.available_permits();
        let batch = if available == 0 {
            Vec::new()
        } else {
            match queue.receive(name, available.min(64), VISIBILITY).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "receive failed");
                    Vec::new()
                }
            }
        };
        let got = batch.len();
        for msg in batch {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let queue = queue.clone();
            let step = step.clone();
            let wake = wake.clone();
            tokio::spawn(async move {
                let receipt = msg.receipt.clone();
                let receive_count = msg.receive_count;
                let id = msg.id.clone();
                let result = step(msg).await;
                let settled = match result {
                    Ok(JobOutcome::Done) => queue.ack(name, &receipt).await,
                    Ok(JobOutcome::RetryAfter(delay)) => {
                        queue.retry_later(name, &receipt, delay).await
                    }
                    Err(JobError::Transient(reason)) => {
                        tracing::warn!(queue = %name, message = %id, receive_count, %reason, "step failed; will retry");
                        queue
                            .retry_later(name, &receipt, retry_backoff(receive_count))
                            .await
                    }
                    Err(JobError::Permanent(reason)) => {
                        tracing::error!(queue = %name, message = %id, %reason, "step failed permanently; dead-lettered");
                        queue.dead_letter(name, &receipt, &reason).await
                    }
                };
                if let Err(e) = settled {
                    tracing::warn!(queue = %name, message = %id, error = %e, "could not settle message; it will be redelivered");
                }
                drop(permit);
                // The group of this message may now have a next message ready.
                wake.notify_one();
            });
        }
        if got == 0 {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
}
