//! AWS Lambda entry point of the agent HTTP API (`/api/v1/…` on the HTTP API): the same axum
//! router as the local server, on DynamoDB, SQS and API Gateway pushes. The token signing key
//! is read once from SSM Parameter Store.

use std::sync::Arc;

use omnidesk_agent_api::{ApiDeps, Auth, router};
use omnidesk_lambda::{Config, adapters, init_tracing, load_jwt_secret};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    let secret = load_jwt_secret(&aws.sdk, &config).await?;
    let auth = Auth::with_clock(
        secret.expose().as_bytes(),
        config.token_ttl,
        aws.clock.clone(),
    );
    let deps = ApiDeps {
        contacts: aws.store.clone(),
        conversations: aws.store.clone(),
        messages: aws.store.clone(),
        agents: aws.store.clone(),
        connections: aws.store.clone(),
        push: aws.push.clone(),
        queue: aws.queue.clone(),
        clock: aws.clock.clone(),
        ids: aws.ids.clone(),
        auth: Arc::new(auth),
    };
    lambda_http::run(router(deps)).await
}
