//! AWS Lambda entry point of e-mail ingest: the Lambda action of the SES receipt rule, invoked
//! asynchronously (a failed invocation is retried twice by Lambda, then dead-lettered). Reads
//! the raw mail from `INBOUND_MAIL_BUCKET` and queues it for the router on the inbound FIFO.

use std::sync::Arc;

use omnidesk_aws::{S3RawMail, SES_MAX_INBOUND_BYTES};
use omnidesk_email_inbound::ses::{InboundBucket, handle_ses_event};
use omnidesk_email_inbound::{EmailDeps, EmailSettings};
use omnidesk_lambda::aws_lambda_events::event::ses::SimpleEmailEvent;
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{Config, adapters, init_tracing};

// One thread: Lambda hands an environment one invocation at a time, and the work is waiting
// on S3, DynamoDB and SQS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let inbound = InboundBucket::new(config.inbound_mail_bucket()?);
    let settings = EmailSettings::from_lookup(|name| std::env::var(name).ok())?;
    let aws = adapters(&config).await;
    let deps = Arc::new(EmailDeps {
        mail: aws.store.clone(),
        blobs: aws.blobs.clone(),
        queue: aws.queue.clone(),
        clock: aws.clock.clone(),
        ids: aws.ids.clone(),
        settings,
    });
    // SES stores at most 40 MB; a mail over `OMNIDESK_MAX_EMAIL_BYTES` is still read, so that
    // ingest keeps a copy an operator can import again.
    let reader = Arc::new(S3RawMail::from_conf(&aws.sdk, SES_MAX_INBOUND_BYTES));
    let inbound = Arc::new(inbound);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SimpleEmailEvent>| {
        let (deps, reader, inbound) = (deps.clone(), reader.clone(), inbound.clone());
        async move {
            handle_ses_event(&deps, reader.as_ref(), &inbound, event.payload).await?;
            Ok::<_, Error>(())
        }
    }))
    .await
}
