//! AWS Lambda entry point of the widget API (`/web/v1/…` and `/web/openapi.json` on the HTTP
//! API): the same axum router as `omnidesk serve`, on DynamoDB and the inbound SQS queue.
//!
//! The visitor-token key derives from the agents' JWT secret, read from SSM Parameter Store by
//! the first request, not at cold start; if that read fails the request gets a 503 JSON error
//! and the next one tries again.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lambda_http::tower::ServiceExt;
use lambda_http::{Request, service_fn};
use omnidesk_core::usecases::{FileSettings, LAMBDA_MAX_UPLOAD_BYTES};
use omnidesk_lambda::{Config, ConfigError, OnFirstUse, adapters, init_tracing};
use omnidesk_web_chat::{WebChatDeps, router};

// One thread: Lambda hands an environment one invocation at a time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Arc::new(Config::from_env()?);
    // Read once at cold start (`OMNIDESK_MAX_UPLOAD_BYTES`, `OMNIDESK_FILE_LINK_TTL_SECS`).
    let files = FileSettings::from_lookup(|k| std::env::var(k).ok(), LAMBDA_MAX_UPLOAD_BYTES)?;
    let aws = Arc::new(adapters(&config).await);
    let app: Arc<OnFirstUse<Router>> = Arc::default();
    lambda_http::run(service_fn(move |request: Request| {
        let (config, aws, app) = (config.clone(), aws.clone(), app.clone());
        async move {
            let app = app
                .get_or_try_init(|| async {
                    let mut deps = WebChatDeps::from_lambda(&aws, &config).await?;
                    deps.settings.files = files;
                    Ok::<_, ConfigError>(router(deps))
                })
                .await;
            let response: Response = match app {
                Ok(app) => match app.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the widget API");
                    let body = r#"{"error":{"code":"unavailable","message":"temporarily unavailable; retry"}}"#;
                    (StatusCode::SERVICE_UNAVAILABLE, [("content-type", "application/json")], body)
                        .into_response()
                }
            };
            Ok::<_, lambda_http::Error>(response)
        }
    }))
    .await
}
