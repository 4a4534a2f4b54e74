//! AWS Lambda entry point of the WebSocket API (API Gateway WebSocket routes `$connect`,
//! `$disconnect`, `$default`) for agents and website visitors:
//! [`omnidesk_agent_ws::handle_websocket_event`] on DynamoDB.
//!
//! The token signing key is read from SSM Parameter Store by the first invocation, not at cold
//! start; if that read fails the invocation is answered 503 (the connection is refused) and the
//! next one tries again.

use std::sync::Arc;

use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use omnidesk_agent_api::Auth;
use omnidesk_agent_ws::{WsDeps, handle_websocket_event, websocket_reply};
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{Config, OnFirstUse, adapters, init_tracing, load_jwt_secret};
use omnidesk_web_chat::WebChatDeps;

// One thread: Lambda hands an environment one invocation at a time, and at 128 MB it has a
// fraction of a vCPU, so a multi-thread scheduler would only add threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Arc::new(Config::from_env()?);
    let away_after = omnidesk_agent_ws::Presence::away_after_from(
        std::env::var("OMNIDESK_AWAY_AFTER_SECS").ok().as_deref(),
    )?;
    let aws = Arc::new(adapters(&config).await);
    let deps: Arc<OnFirstUse<WsDeps>> = Arc::default();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let (config, aws, deps) = (config.clone(), aws.clone(), deps.clone());
            async move {
                let deps = deps
                    .get_or_try_init(|| async {
                        let secret = load_jwt_secret(&aws.sdk, &config).await?;
                        let auth = Auth::with_clock(
                            secret.expose().as_bytes(),
                            config.token_ttl,
                            aws.clock.clone(),
                        );
                        Ok::<_, omnidesk_lambda::ConfigError>(WsDeps {
                            connections: aws.store.clone(),
                            agents: aws.store.clone(),
                            tickets: aws.store.clone(),
                            auth: Arc::new(auth),
                            clock: aws.clock.clone(),
                            // Visitors' sockets (`?ticket=`), on the same table.
                            web: Some(WebChatDeps::on_aws(&aws, &secret)),
                            presence: Some(omnidesk_agent_ws::Presence {
                                queue: aws.queue.clone(),
                                away_after,
                            }),
                        })
                    })
                    .await;
                match deps {
                    Ok(deps) => Ok::<_, Error>(handle_websocket_event(deps, event.payload).await),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot build the WebSocket function");
                        Ok(websocket_reply(
                            503,
                            Some(
                                "service unavailable: the token signing key cannot be read"
                                    .to_owned(),
                            ),
                        ))
                    }
                }
            }
        },
    ))
    .await
}
