//! AWS Lambda entry point of the agent HTTP API (`/api/v1/…` on the HTTP API): the same axum
//! router as the local server, on DynamoDB, SQS and API Gateway pushes.
//!
//! The token signing key is read from SSM Parameter Store by the first request, not at cold
//! start; if that read fails the request gets a 503 JSON error and the next one tries again.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lambda_http::tower::ServiceExt;
use lambda_http::{Request, service_fn};
use omnidesk_agent_api::{ApiDeps, ApiError, Auth, ClientAddr, FileSettings, router};
use omnidesk_core::usecases::LAMBDA_MAX_UPLOAD_BYTES;
use omnidesk_lambda::{Config, ConfigError, OnFirstUse, adapters, init_tracing};

// One thread: Lambda hands an environment one invocation at a time, and at 128 MB it has a
// fraction of a vCPU, so a multi-thread scheduler would only add threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Arc::new(Config::from_env()?);
    // Read once at cold start (`OMNIDESK_MAX_UPLOAD_BYTES`, `OMNIDESK_FILE_LINK_TTL_SECS`).
    let files = FileSettings::from_lookup(|k| std::env::var(k).ok(), LAMBDA_MAX_UPLOAD_BYTES)?;
    let translation_config =
        omnidesk_translator::TranslationConfig::from_lookup(|k| std::env::var(k).ok())?;
    let router_settings = omnidesk_router::RouterSettings::from_lookup(|k| std::env::var(k).ok())?;
    let ai_config = omnidesk_ai_worker::AiConfig::from_lookup(|k| std::env::var(k).ok())?;
    let audit_retention = omnidesk_agent_api::audit_retention_from(
        std::env::var("OMNIDESK_AUDIT_RETENTION_DAYS")
            .ok()
            .as_deref(),
    )?;
    let aws = Arc::new(adapters(&config).await);
    // The FAQ editor, the call log and agent assist, with the ai-worker's model.
    let ai = Arc::new(omnidesk_agent_api::ApiAi {
        mode: ai_config.mode,
        assist: Arc::new(omnidesk_ai_worker::Assist::on_aws(&aws, &ai_config)?),
    });
    // The composer's preview and the replies' languages: the same providers, cache and
    // detector as the translator function.
    let translation = translation_config
        .service(aws.store.clone(), aws.clock.clone(), Some(&aws.sdk))
        .map(|service| {
            Arc::new(omnidesk_agent_api::ApiTranslation {
                service,
                detector: router_settings.detector.clone(),
                rollout: translation_config.reply_rollout(),
            })
        });
    let app: Arc<OnFirstUse<Router>> = Arc::default();
    let origin_secret: Option<Arc<str>> = std::env::var("CLOUDFRONT_ORIGIN_SECRET")
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(Arc::from);
    lambda_http::run(service_fn(move |request: Request| {
        let (config, aws, app, translation, ai, origin_secret) = (
            config.clone(),
            aws.clone(),
            app.clone(),
            translation.clone(),
            ai.clone(),
            origin_secret.clone(),
        );
        async move {
            let mut request = request;
            // Failed sign-ins are counted per client address too.
            if let Some(ip) = client_ip(&request, origin_secret.as_deref()) {
                request.extensions_mut().insert(ClientAddr(ip));
            }
            let app = app
                .get_or_try_init(|| async {
                    let auth = Auth::from_lambda(&aws, &config).await?;
                    Ok::<_, ConfigError>(router(ApiDeps {
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
                        // Files in the private bucket (FILES_BUCKET), reached by presigned links.
                        blobs: aws.blobs.clone(),
                        files,
                        translation: translation.clone(),
                        ai: Some(ai.clone()),
                        routing: aws.store.clone(),
                        bots: aws.store.clone(),
                        tickets: aws.store.clone(),
                        erasure: aws.store.clone(),
                        mailer: None,
                        audit: omnidesk_agent_api::AuditLog {
                            store: aws.store.clone(),
                            keep: audit_retention,
                        },
                        // Routers re-read the rules within RoutingCache::TTL.
                        on_routing_change: None,
                    }))
                })
                .await;
            let response: Response = match app {
                Ok(app) => match app.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the agent API");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the token signing key cannot be read; see the function's log",
                    )
                    .into_response()
                }
            };
            Ok::<_, lambda_http::Error>(response)
        }
    }))
    .await
}

/// The caller's address: through the dashboard's CloudFront distribution (its
/// `X-Omnidesk-Origin` carries `CLOUDFRONT_ORIGIN_SECRET`) the viewer's
/// `CloudFront-Viewer-Address`, else API Gateway's `requestContext.http.sourceIp` (which is a
/// CloudFront edge for proxied requests: counting those would lock every agent out together).
fn client_ip(request: &Request, origin_secret: Option<&str>) -> Option<std::net::IpAddr> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    if let Some(ip) = omnidesk_agent_api::cloudfront_viewer(request.headers(), origin_secret) {
        return Some(ip);
    }
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}
