//! omnidesk-aws-e2e: the Lambda functions end to end on the real AWS SDK against moto, driven
//! with the event shapes Lambda delivers (API Gateway v2 HTTP events, SQS batches through the
//! `omnidesk-lambda` batch driver, WebSocket `$connect` events), with local fakes for the
//! Telegram Bot API, the `@connections` Management API and (moto has none) Amazon Translate.
//!
//! [`Stack`] wires every function's handler on the AWS adapters, with a [`Counter`] on each SDK
//! client so the `aws-cost` bench can count (and price) every request. [`Stack::poll`] does what
//! the Lambda SQS event source mapping does: receive up to 10 messages, hand them to the
//! function as an `SqsEvent`, delete the ones not reported failed.
//!
//! Translation is off unless the stack is started with [`StackOptions::translation`]: then the
//! router queues customers' messages in a language an agent does not read, the agent API holds
//! replies to customers in another language, and [`Function::Translator`] consumes the
//! translate queue, as a deployment with `OMNIDESK_TRANSLATOR` set does.
//!
//! Test-only crate: depends on the function crates and adapters, nothing depends on it.
//! Everything listens on 127.0.0.1; clients use static dummy credentials and a loopback
//! endpoint, never the credential chain or the instance metadata service.

pub mod connections;
pub mod counter;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_config::SdkConfig;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use axum::body::Body as AxumBody;
use axum::http::StatusCode;
use omnidesk_agent_api::{ApiAi, ApiDeps, ApiTranslation, Auth};
use omnidesk_agent_ws::WsDeps;
use omnidesk_ai_worker::{AiConfig, AiDeps, Assist, KbCache};
use omnidesk_aws::{
    AmazonTranslator, ApiGatewayPush, BedrockLlm, DynamoStore, S3BlobStore, S3RawMail,
    SES_MAX_INBOUND_BYTES, SesMailer, SqsQueue, aws_sdk_translate,
};
use omnidesk_core::{
    BotConfig, BotMode, BotStore, Clock, IdGen, MailStore, Mailbox, Mailer, OutgoingMail,
    ProviderError, QueueName, Secret, SentMail, SystemClock, UuidV7Ids, WebStore, Website,
};
use omnidesk_domain::{Agent, BotId, WebsiteId};
use omnidesk_email_inbound::ses::{InboundBucket, SesError};
use omnidesk_email_inbound::{EmailDeps, EmailSettings, Ingested};
use omnidesk_lambda::run_sqs_batch;
use omnidesk_lambda::{CoalescingPush, SqsSettle};
use omnidesk_media::MediaDeps;
use omnidesk_providers::ProviderSetting;
use omnidesk_providers::fakes::{FakeAmazonTranslate, FakeBedrock};
use omnidesk_router::{AiGate, AiMode, RouterDeps, RouterSettings};
use omnidesk_sender::{EmailOut, RateLimiter, SenderDeps};
use omnidesk_telegram::TeloxideTelegram;
use omnidesk_telegram::fake::FakeTelegram;
use omnidesk_telegram_webhook::WebhookDeps;
use omnidesk_translator::{TranslationConfig, TranslationService, TranslatorDeps};
use omnidesk_web_chat::{VisitorKeys, WebChatDeps, WebChatSettings};
use parking_lot::Mutex;
use serde_json::Value;
use tower::ServiceExt;

pub use connections::ConnectionsFake;
pub use counter::{Counter, Tally};

/// The variable naming the moto endpoint (`http://127.0.0.1:<port>`).
pub use omnidesk_aws::testing::ENDPOINT_VAR;

/// The bot every scenario uses.
pub const BOT_ID: i64 = 123_456;
/// Its token (the fake accepts any).
pub const BOT_TOKEN: &str = "123456:AAF-fake-token-for-e2e-tests_0001";
/// Its webhook secret.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret_0123456789";
/// The agent-token signing key (what the SSM parameter holds in the cold-start bench).
pub const JWT_KEY: &str = "e2e-jwt-signing-key-0123456789abcdef";

/// The webhook's event: a Lambda function URL request (payload format 2.0, route `$default`).
const WEBHOOK_EVENT: &str = include_str!("../tests/fixtures/function_url_telegram_webhook.json");
/// The agent API's event: an API Gateway HTTP API request (payload format 2.0).
const API_EVENT: &str = include_str!("../tests/fixtures/apigw_v2_agent_api.json");
const WS_CONNECT_EVENT: &str = include_str!("../tests/fixtures/apigw_websocket_connect.json");
const WS_MESSAGE_EVENT: &str = include_str!("../tests/fixtures/apigw_websocket_message.json");
const WS_DISCONNECT_EVENT: &str = include_str!("../tests/fixtures/apigw_websocket_disconnect.json");
/// The widget API's event: an API Gateway HTTP API request (route `ANY /web/v1/{proxy+}`, a
/// browser's cross-origin call with `Origin`).
const WEB_EVENT: &str = include_str!("../tests/fixtures/apigw_v2_web_chat.json");
/// The SES Lambda action's event (the SES developer guide's example, our addresses).
const SES_EVENT: &str =
    include_str!("../../../functions/email-inbound/tests/fixtures/ses/lambda_action_event.json");
/// The mail domain of the e-mail scenarios (an SES domain identity on moto).
pub const MAIL_DOMAIN: &str = "support.example.com";
/// Their mailbox.
pub const MAILBOX: &str = "help@support.example.com";
/// The origin of the website every web scenario uses.
pub const WEB_ORIGIN: &str = "https://shop.example.com";

/// The moto endpoint from [`ENDPOINT_VAR`], or `None` when unset. Refuses anything but an
/// `http://` loopback URL, so nothing here can reach real AWS.
pub fn moto_endpoint() -> anyhow::Result<Option<String>> {
    omnidesk_aws::testing::endpoint_from_env().map_err(anyhow::Error::msg)
}

/// SDK config for a local endpoint (`omnidesk_aws::testing::moto_sdk_config`): static dummy
/// credentials, us-east-1, nothing but `endpoint`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    omnidesk_aws::testing::moto_sdk_config(endpoint).await
}

/// Lambda invocations of one function and their measured handler time.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Invocations {
    pub count: u64,
    pub total: Duration,
    /// Billed duration: each invocation rounded up to the millisecond.
    pub billed_ms: u64,
}

/// The Lambda functions of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    TelegramWebhook,
    Router,
    AgentApi,
    AgentWs,
    Sender,
    WebChat,
    Media,
    EmailInbound,
    Translator,
    AiWorker,
}

impl Function {
    pub const ALL: [Function; 10] = [
        Function::TelegramWebhook,
        Function::Router,
        Function::AgentApi,
        Function::AgentWs,
        Function::Sender,
        Function::WebChat,
        Function::Media,
        Function::EmailInbound,
        Function::Translator,
        Function::AiWorker,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::TelegramWebhook => "telegram-webhook",
            Function::Router => "router",
            Function::AgentApi => "agent-api",
            Function::AgentWs => "agent-ws",
            Function::Sender => "sender",
            Function::WebChat => "web-chat",
            Function::Media => "media",
            Function::EmailInbound => "email-inbound",
            Function::Translator => "translator",
            Function::AiWorker => "ai-worker",
        }
    }
}

/// Lambda invocations per function.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LambdaMeter {
    pub by_function: std::collections::BTreeMap<Function, Invocations>,
    /// HTTP API requests (webhook + agent API).
    pub http_requests: u64,
}

impl LambdaMeter {
    fn record(&mut self, f: Function, d: Duration) {
        let e = self.by_function.entry(f).or_default();
        e.count += 1;
        e.total += d;
        e.billed_ms += d.as_micros().div_ceil(1000) as u64;
    }

    /// `self + other` (two measured phases as one).
    pub fn plus(&self, other: &LambdaMeter) -> LambdaMeter {
        let mut by_function = self.by_function.clone();
        for (f, e) in &other.by_function {
            let i = by_function.entry(*f).or_default();
            i.count += e.count;
            i.total += e.total;
            i.billed_ms += e.billed_ms;
        }
        LambdaMeter {
            by_function,
            http_requests: self.http_requests + other.http_requests,
        }
    }

    /// `self - earlier`.
    pub fn since(&self, earlier: &LambdaMeter) -> LambdaMeter {
        let mut by_function = self.by_function.clone();
        for (f, e) in &earlier.by_function {
            if let Some(i) = by_function.get_mut(f) {
                i.count -= e.count;
                i.total -= e.total;
                i.billed_ms -= e.billed_ms;
            }
        }
        LambdaMeter {
            by_function,
            http_requests: self.http_requests - earlier.http_requests,
        }
    }
}

/// What one event-source-mapping poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Poll {
    /// Records handed to the function.
    pub received: usize,
    /// Records the function reported failed (left on the queue).
    pub failed: Vec<String>,
}

/// Translation in a stack: the variables a deployment sets for it (`OMNIDESK_TRANSLATOR`,
/// `OMNIDESK_LANGUAGES`, `OMNIDESK_TRANSLATE_*`), read by the router, the agent API and the
/// translator as their main.rs read them. Amazon Translate is the local
/// [`FakeAmazonTranslate`] (the client signs with the dummy credentials, on loopback).
#[derive(Debug, Clone, Default)]
pub struct Translation {
    vars: BTreeMap<String, String>,
}

impl Translation {
    /// Amazon Translate for a team serving `languages` (`OMNIDESK_LANGUAGES`, e.g. `en,ru`:
    /// the detector's allowlist).
    pub fn amazon(languages: &str) -> Self {
        Self::default()
            .var("OMNIDESK_TRANSLATOR", "amazon")
            .var("OMNIDESK_LANGUAGES", languages)
    }

    /// Sets one more variable (e.g. `OMNIDESK_TRANSLATE_WAIT_SECS`).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// How a [`Stack`] starts.
#[derive(Clone)]
pub struct StackOptions {
    /// The clock of every function (a bench's simulated time).
    pub clock: Arc<dyn Clock>,
    /// `Some`: translation on, as [`Translation`] configures it; `None` (the default): off.
    pub translation: Option<Translation>,
    /// `Some`: the AI on (the ai-worker function and the agent API's AI routes), as
    /// [`AiOptions`] configures it; `None` (the default): no AI function in the stack.
    pub ai: Option<AiOptions>,
}

/// The AI in a stack: the variables a deployment sets (`OMNIDESK_AI`, `OMNIDESK_AI_*`), read
/// by the router, the agent API and the ai-worker as their main.rs read them. Bedrock is the
/// local [`FakeBedrock`] (signed requests, on loopback), the OpenAI-compatible endpoint a
/// [`omnidesk_providers::fakes::FakeChat`] the test starts.
#[derive(Debug, Clone, Default)]
pub struct AiOptions {
    vars: BTreeMap<String, String>,
}

impl AiOptions {
    /// `OMNIDESK_AI=mode` (`kb`, `bedrock`, `openai`).
    pub fn mode(mode: &str) -> Self {
        Self::default().var("OMNIDESK_AI", mode)
    }

    /// Sets one more variable (e.g. `OPENAI_BASE_URL`).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            translation: None,
            ai: None,
        }
    }
}

/// Every function of the pipeline wired on the AWS adapters against moto, plus the fakes.
pub struct Stack {
    pub endpoint: String,
    pub counter: Counter,
    pub sqs: aws_sdk_sqs::Client,
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
    pub telegram: FakeTelegram,
    pub connections: ConnectionsFake,
    pub auth: Arc<Auth>,
    pub webhook: WebhookDeps,
    pub router: RouterDeps,
    /// The router's batch-scoped push (as in its main.rs).
    pub router_pushes: Arc<CoalescingPush>,
    pub sender: SenderDeps,
    /// The sender's batch-scoped push (as in its main.rs).
    pub sender_pushes: Arc<CoalescingPush>,
    pub api: ApiDeps,
    pub ws: WsDeps,
    /// The widget API (the web-chat function) and, inside `ws`, the visitors' sockets.
    pub web: WebChatDeps,
    /// The website of the web scenarios (origin [`WEB_ORIGIN`]).
    pub website: Website,
    /// The files bucket (a fresh one per stack), as the functions' `aws.blobs`.
    pub blobs: Arc<S3BlobStore>,
    /// The media function (Telegram files into the bucket).
    pub media: MediaDeps,
    /// The media function's batch-scoped push (as in its main.rs).
    pub media_pushes: Arc<CoalescingPush>,
    /// The email-inbound function (as in its main.rs) and where SES stores raw mail.
    pub email: EmailDeps,
    pub raw_mail: S3RawMail,
    pub inbound_mail: InboundBucket,
    /// The S3 client (counted), for putting what SES would store.
    pub s3: aws_sdk_s3::Client,
    /// The SESv2 client the sender's `SesMailer` uses (counted).
    pub ses: aws_sdk_sesv2::Client,
    /// Every mail the sender handed to SES, as composed.
    pub mails: RecordingMailer,
    /// The translator function (as in its main.rs), when translation is on.
    pub translator: Option<Arc<TranslatorDeps>>,
    /// The translator's batch-scoped push (as in its main.rs).
    pub translator_pushes: Arc<CoalescingPush>,
    /// The Amazon Translate the stack's translate clients call, when a provider is `amazon`:
    /// its controls script failures and delays and show what it received.
    pub amazon_translate: Option<FakeAmazonTranslate>,
    /// The ai-worker function (as in its main.rs), when the AI is on.
    pub ai_worker: Option<Arc<omnidesk_ai_worker::AiDeps>>,
    /// The ai-worker's batch-scoped push (as in its main.rs).
    pub ai_pushes: Arc<CoalescingPush>,
    /// The Bedrock Runtime the stack's Bedrock clients call, when `OMNIDESK_AI=bedrock`.
    pub bedrock: Option<FakeBedrock>,
    meter: Mutex<LambdaMeter>,
}

/// A [`Mailer`] that records each mail and passes it on (to `SesMailer` on moto).
#[derive(Clone)]
pub struct RecordingMailer {
    inner: Arc<dyn Mailer>,
    sent: Arc<Mutex<Vec<(OutgoingMail, SentMail)>>>,
}

impl RecordingMailer {
    /// Mails sent so far, with what the mailer answered.
    pub fn sent(&self) -> Vec<(OutgoingMail, SentMail)> {
        self.sent.lock().clone()
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError> {
        let sent = self.inner.send(mail).await?;
        self.sent.lock().push((mail.clone(), sent.clone()));
        Ok(sent)
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

impl Stack {
    /// Creates a fresh table and queues on moto at `endpoint`, starts the fakes, registers the
    /// bot, and wires every function.
    pub async fn start(endpoint: &str) -> anyhow::Result<Self> {
        Self::start_with(endpoint, StackOptions::default()).await
    }

    /// [`Stack::start`] with every function on `clock` (a bench's simulated time).
    pub async fn start_with_clock(endpoint: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::start_with(
            endpoint,
            StackOptions {
                clock,
                ..StackOptions::default()
            },
        )
        .await
    }

    /// [`Stack::start`] as `options` say (a clock, translation on).
    pub async fn start_with(endpoint: &str, options: StackOptions) -> anyhow::Result<Self> {
        let StackOptions {
            clock,
            translation,
            ai,
        } = options;
        let counter = Counter::default();
        let sdk = sdk_config(endpoint).await;
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let connections = ConnectionsFake::start().await?;
        let push = ApiGatewayPush::new(aws_sdk_apigatewaymanagement::Client::from_conf(
            aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
                .endpoint_url(connections.stage_url())
                .interceptor(counter.clone())
                .build(),
        ));
        let telegram = FakeTelegram::try_start()
            .await
            .context("starting the fake Telegram")?;
        let s3 = aws_sdk_s3::Client::from_conf(
            S3BlobStore::client_config(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let bucket = unique("omnidesk-e2e-files");
        S3BlobStore::create_bucket(&s3, &bucket)
            .await
            .with_context(|| format!("create_bucket {bucket}"))?;
        let blobs = Arc::new(S3BlobStore::new(s3.clone(), bucket));
        let inbound_bucket = unique("omnidesk-e2e-inbound-mail");
        S3BlobStore::create_bucket(&s3, &inbound_bucket)
            .await
            .with_context(|| format!("create_bucket {inbound_bucket}"))?;
        let raw_mail = S3RawMail::new(s3.clone(), SES_MAX_INBOUND_BYTES);
        let ses = aws_sdk_sesv2::Client::from_conf(
            SesMailer::client_config(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let mails = RecordingMailer {
            inner: Arc::new(SesMailer::new(ses.clone())),
            sent: Arc::default(),
        };

        let ids: Arc<dyn IdGen> = Arc::new(UuidV7Ids);
        let table = unique("omnidesk-e2e");
        DynamoStore::create_table(&dynamo, &table)
            .await
            .with_context(|| format!("create_table {table}"))?;
        let store = Arc::new(DynamoStore::new(dynamo, table, clock.clone()));
        let urls = SqsQueue::create_queues(&sqs, &unique("omnidesk-e2e"))
            .await
            .context("create_queues")?;
        let queue = Arc::new(SqsQueue::new(sqs.clone(), urls));
        let push: Arc<ApiGatewayPush> = Arc::new(push);
        let tg_client = TeloxideTelegram::new(&telegram.url())
            .map_err(|e| anyhow::anyhow!("telegram client: {e}"))?;
        let auth = Arc::new(Auth::new(JWT_KEY.as_bytes(), Duration::from_secs(3600)));

        store
            .put_bot(&BotConfig {
                id: BotId::parse(&BOT_ID.to_string())?,
                token: Secret::new(BOT_TOKEN),
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                username: Some(omnidesk_telegram::fake::FAKE_BOT_USERNAME.to_owned()),
                mode: BotMode::Webhook,
                poll_offset: None,
                created_at: clock.now(),
            })
            .await?;

        let webhook = WebhookDeps::new(
            store.clone(),
            queue.clone(),
            store.clone(),
            clock.clone(),
            ids.clone(),
        );
        // As in the router and sender main.rs: a batch's pushes go out together at its end,
        // visitors' included.
        let router_pushes =
            Arc::new(CoalescingPush::new(push.clone(), store.clone()).with_visitors(store.clone()));
        let sender_pushes =
            Arc::new(CoalescingPush::new(push.clone(), store.clone()).with_visitors(store.clone()));
        let media_pushes =
            Arc::new(CoalescingPush::new(push.clone(), store.clone()).with_visitors(store.clone()));
        // Translation, when on: the settings each function reads (router, agent API and
        // translator read the same variables), and one translation service per function, as
        // each Lambda builds its own (its own in-process cache).
        let translation_config = translation
            .as_ref()
            .map(|t| TranslationConfig::from_lookup(|n| t.lookup(n)))
            .transpose()
            .map_err(|e| anyhow::anyhow!("translation settings: {e}"))?;
        let mut router_settings = match (&translation, &ai) {
            (Some(t), _) => RouterSettings::from_lookup(|n| t.lookup(n))
                .map_err(|e| anyhow::anyhow!("router settings: {e}"))?,
            (None, Some(a)) => RouterSettings::from_lookup(|n| a.lookup(n))
                .map_err(|e| anyhow::anyhow!("router settings: {e}"))?,
            (None, None) => RouterSettings::default(),
        };
        // The AI, when on: as the router, agent API and ai-worker main.rs build it, with
        // Bedrock's client counted and sent to the fake.
        let ai_config = ai
            .as_ref()
            .map(|a| AiConfig::from_lookup(|n| a.lookup(n)))
            .transpose()
            .map_err(|e| anyhow::anyhow!("AI settings: {e}"))?;
        let bedrock = match &ai_config {
            Some(c) if c.mode == AiMode::Bedrock => Some(
                FakeBedrock::try_start()
                    .await
                    .context("starting the fake Bedrock")?,
            ),
            _ => None,
        };
        if let Some(c) = &ai_config {
            router_settings.ai_mode = c.mode;
            router_settings.ai = Some(AiGate::new(store.clone(), c.mode));
        }
        let assist = |config: &AiConfig| -> anyhow::Result<Arc<Assist>> {
            let llm: Option<Arc<dyn omnidesk_core::Llm>> = match (&bedrock, config.mode) {
                (Some(fake), AiMode::Bedrock) => Some(Arc::new(BedrockLlm::new(
                    omnidesk_aws::aws_sdk_bedrockruntime::Client::from_conf(
                        BedrockLlm::client_config(&sdk, config.settings.timeout)
                            .endpoint_url(fake.url())
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    config.model.clone(),
                ))),
                _ => config.llm(None).map_err(|e| anyhow::anyhow!(e))?,
            };
            Ok(Arc::new(Assist {
                conversations: store.clone(),
                messages: store.clone(),
                contacts: store.clone(),
                ai: store.clone(),
                usage: Some(store.clone()),
                llm,
                kb: KbCache::default(),
                clock: clock.clone(),
                ids: ids.clone(),
                settings: config.settings.clone(),
            }))
        };
        let amazon_translate = match &translation_config {
            Some(c) if c.uses_amazon() => Some(
                FakeAmazonTranslate::try_start()
                    .await
                    .context("starting the fake Amazon Translate")?,
            ),
            _ => None,
        };
        let translation_service = |config: &TranslationConfig| -> Option<Arc<TranslationService>> {
            if !config.enabled() {
                return None;
            }
            // As `TranslationConfig::service` builds it, with the Amazon client counted and
            // sent to the fake.
            let chain: Vec<Arc<dyn omnidesk_core::Translator>> = config
                .providers
                .iter()
                .filter_map(|p| match p {
                    ProviderSetting::Amazon { timeout } => {
                        let fake = amazon_translate.as_ref()?;
                        let client = aws_sdk_translate::Client::from_conf(
                            AmazonTranslator::client_config(&sdk, *timeout)
                                .endpoint_url(fake.url())
                                .interceptor(counter.clone())
                                .build(),
                        );
                        Some(Arc::new(AmazonTranslator::new(client))
                            as Arc<dyn omnidesk_core::Translator>)
                    }
                    other => omnidesk_providers::build_http_translator(other),
                })
                .collect();
            Some(Arc::new(TranslationService::new(
                chain,
                store.clone(),
                clock.clone(),
                config.service.clone(),
            )))
        };
        // As in the translator's main.rs: its batch's pushes go out together at its end.
        let translator_pushes = Arc::new(CoalescingPush::new(push.clone(), store.clone()));
        let translator = match &translation_config {
            Some(config) => {
                let service = translation_service(config)
                    .context("OMNIDESK_TRANSLATOR names no provider the stack can build")?;
                Some(Arc::new(TranslatorDeps {
                    messages: store.clone(),
                    agents: store.clone(),
                    connections: translator_pushes.clone(),
                    conversations: store.clone(),
                    push: translator_pushes.clone(),
                    queue: queue.clone(),
                    clock: clock.clone(),
                    service,
                    settings: config.worker.clone(),
                }))
            }
            None => None,
        };
        // As in the agent API's main.rs: the preview and the replies' languages, on the same
        // providers and detector.
        let api_translation = translation_config
            .as_ref()
            .and_then(translation_service)
            .map(|service| {
                Arc::new(ApiTranslation {
                    service,
                    detector: router_settings.detector.clone(),
                    rollout: 100,
                })
            });
        let router = RouterDeps {
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            bots: store.clone(),
            connections: router_pushes.clone(),
            routing: store.clone(),
            web: Some(store.clone()),
            visitors: Some(router_pushes.clone()),
            push: router_pushes.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            settings: router_settings,
            retention: None,
        };
        // As in the media function's main.rs.
        let media = MediaDeps {
            messages: store.clone(),
            conversations: store.clone(),
            bots: store.clone(),
            connections: media_pushes.clone(),
            agents: store.clone(),
            visitors: Some(media_pushes.clone()),
            push: media_pushes.clone(),
            telegram: Arc::new(
                TeloxideTelegram::new(&telegram.url())
                    .map_err(|e| anyhow::anyhow!("telegram client: {e}"))?,
            ),
            blobs: blobs.clone(),
        };
        let sender = SenderDeps {
            messages: store.clone(),
            conversations: store.clone(),
            contacts: store.clone(),
            bots: store.clone(),
            connections: sender_pushes.clone(),
            agents: store.clone(),
            visitors: Some(sender_pushes.clone()),
            push: sender_pushes.clone(),
            telegram: Arc::new(tg_client),
            blobs: blobs.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            limiter: Arc::new(RateLimiter::telegram()),
            // As the sender's main.rs wires it when MAIL_DOMAIN is set.
            email: Some(EmailOut {
                mailer: Arc::new(mails.clone()),
                mail: store.clone(),
            }),
        };
        let email = EmailDeps {
            mail: store.clone(),
            blobs: blobs.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            settings: EmailSettings::default(),
        };
        // As in the ai-worker's main.rs: its batch's pushes go out together at its end.
        let ai_pushes =
            Arc::new(CoalescingPush::new(push.clone(), store.clone()).with_visitors(store.clone()));
        let ai_worker = match &ai_config {
            Some(config) => Some(Arc::new(AiDeps {
                assist: assist(config)?,
                router: RouterDeps {
                    connections: ai_pushes.clone(),
                    routing: store.clone(),
                    visitors: Some(ai_pushes.clone()),
                    push: ai_pushes.clone(),
                    ..router.clone()
                },
            })),
            None => None,
        };
        let api_ai = match &ai_config {
            Some(config) => Some(Arc::new(ApiAi {
                mode: config.mode,
                assist: assist(config)?,
            })),
            None => None,
        };
        let api = ApiDeps {
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            connections: store.clone(),
            push: push.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            auth: auth.clone(),
            blobs: blobs.clone(),
            files: omnidesk_agent_api::FileSettings::default(),
            translation: api_translation,
            ai: api_ai,
            routing: store.clone(),
            bots: store.clone(),
            tickets: store.clone(),
            erasure: store.clone(),
            mailer: None,
            audit: omnidesk_agent_api::AuditLog {
                store: store.clone(),
                keep: omnidesk_agent_api::DEFAULT_AUDIT_RETENTION,
            },
            on_routing_change: None,
        };
        // As WebChatDeps::on_aws wires it in the web-chat and agent-ws main.rs.
        let web = WebChatDeps {
            web: store.clone(),
            contacts: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            agents: store.clone(),
            bots: store.clone(),
            visitors: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            keys: VisitorKeys::derive(JWT_KEY.as_bytes()),
            settings: WebChatSettings::default(),
            blobs: blobs.clone(),
        };
        let website = Website {
            id: WebsiteId::from_uuid(ids.uuid()),
            name: "Shop".to_owned(),
            origins: vec![WEB_ORIGIN.to_owned()],
            bot_id: None,
            identity_secret: None,
            prechat: false,
            created_at: clock.now(),
        };
        store.put_website(&website).await?;
        let ws = WsDeps {
            connections: store.clone(),
            agents: store.clone(),
            tickets: store.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
            presence: None,
            web: Some(web.clone()),
        };
        Ok(Self {
            endpoint: endpoint.to_owned(),
            counter,
            sqs,
            store,
            queue,
            telegram,
            connections,
            auth,
            webhook,
            router,
            router_pushes,
            sender,
            sender_pushes,
            api,
            ws,
            web,
            website,
            blobs,
            media,
            media_pushes,
            email,
            raw_mail,
            inbound_mail: InboundBucket::new(inbound_bucket),
            s3,
            ses,
            mails,
            translator,
            translator_pushes,
            amazon_translate,
            ai_worker,
            ai_pushes,
            bedrock,
            meter: Mutex::new(LambdaMeter::default()),
        })
    }

    /// Sets up the e-mail channel: the SES domain identity of [`MAIL_DOMAIN`] (moto refuses to
    /// send without one) and the mailbox [`MAILBOX`].
    pub async fn mail_domain(&self) -> anyhow::Result<()> {
        self.ses
            .create_email_identity()
            .email_identity(MAIL_DOMAIN)
            .send()
            .await
            .context("CreateEmailIdentity")?;
        self.store
            .put_mailbox(&Mailbox {
                address: omnidesk_domain::EmailAddress::parse(MAILBOX)?,
                name: Some("Example Support".to_owned()),
                bot_id: None,
                created_at: SystemClock.now(),
            })
            .await?;
        Ok(())
    }

    /// What the receipt rule's S3 action does: stores `raw` at `inbound/<ses_id>` in the
    /// inbound bucket.
    pub async fn ses_stores(&self, ses_id: &str, raw: &[u8]) -> anyhow::Result<()> {
        self.s3
            .put_object()
            .bucket(&self.inbound_mail.bucket)
            .key(format!("{}{ses_id}", self.inbound_mail.prefix))
            .body(raw.to_vec().into())
            .send()
            .await
            .context("PutObject (as SES)")?;
        Ok(())
    }

    /// One invocation of the email-inbound function by the receipt rule's Lambda action, as
    /// its main.rs runs it.
    pub async fn email_inbound(
        &self,
        event: aws_lambda_events::event::ses::SimpleEmailEvent,
    ) -> Result<Vec<Ingested>, SesError> {
        let started = Instant::now();
        let out = as_function(
            Function::EmailInbound,
            omnidesk_email_inbound::ses::handle_ses_event(
                &self.email,
                &self.raw_mail,
                &self.inbound_mail,
                event,
            ),
        )
        .await;
        self.record(Function::EmailInbound, started);
        out
    }

    /// Invocations and HTTP requests so far.
    pub fn meter(&self) -> LambdaMeter {
        self.meter.lock().clone()
    }

    fn record(&self, f: Function, started: Instant) {
        self.meter.lock().record(f, started.elapsed());
    }

    /// Creates an agent, sets them online through the agent API, and returns them with a token.
    pub async fn online_agent(&self, email: &str) -> anyhow::Result<(Agent, String)> {
        let agent = omnidesk_agent_api::create_agent(
            &self.api,
            email,
            "Eve Agent",
            "correct horse battery",
        )
        .await
        .map_err(|e| anyhow::anyhow!("create_agent: {e}"))?;
        let token = self.auth.issue(agent.id)?.token;
        let (status, body) = self
            .api_request(
                "PUT",
                "/api/v1/agents/me/status",
                Some(&token),
                Some(r#"{"status":"online"}"#),
            )
            .await?;
        if status != StatusCode::OK {
            bail!("set status answered {status}: {body}");
        }
        Ok((agent, token))
    }

    /// One Telegram webhook delivery: an API Gateway v2 HTTP event (the fixture with this
    /// path, secret and body), parsed by `lambda_http` and served by the webhook's router.
    pub async fn webhook_request(&self, secret: &str, update: &str) -> anyhow::Result<StatusCode> {
        let event = webhook_event(secret, update)?;
        let started = Instant::now();
        let request = lambda_http::request::from_str(&event.to_string())
            .map_err(|e| anyhow::anyhow!("API Gateway event: {e}"))?;
        let response = as_function(
            Function::TelegramWebhook,
            omnidesk_telegram_webhook::router(self.webhook.clone()).oneshot(request),
        )
        .await?;
        self.record(Function::TelegramWebhook, started);
        self.meter.lock().http_requests += 1;
        Ok(response.status())
    }

    /// One agent API request as an API Gateway v2 HTTP event through the agent API router.
    pub async fn api_request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let event = api_event(method, path, token, body)?;
        self.http_function(
            Function::AgentApi,
            omnidesk_agent_api::router(self.api.clone()),
            &event,
        )
        .await
    }

    /// An agent API request carrying `cookies` the way API Gateway v2 passes them (the event's
    /// `cookies` array, which `lambda_http` joins into one `Cookie` header): the status, the
    /// JSON body and the `Set-Cookie` values of the answer.
    pub async fn api_request_with_cookies(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        cookies: &[&str],
    ) -> anyhow::Result<(StatusCode, Value, Vec<String>)> {
        let mut event = api_event(method, path, None, body)?;
        if !cookies.is_empty() {
            event["cookies"] = Value::from(cookies.to_vec());
        }
        let started = Instant::now();
        let request = lambda_http::request::from_str(&event.to_string())
            .map_err(|e| anyhow::anyhow!("API Gateway event: {e}"))?;
        let response = as_function(
            Function::AgentApi,
            omnidesk_agent_api::router(self.api.clone()).oneshot(request),
        )
        .await?;
        let status = response.status();
        let set_cookies = response
            .headers()
            .get_all(axum::http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let bytes = axum::body::to_bytes(AxumBody::new(response.into_body()), 1 << 20).await?;
        self.record(Function::AgentApi, started);
        self.meter.lock().http_requests += 1;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            set_cookies,
        ))
    }

    /// An API Gateway v2 HTTP event through an HTTP function's router, as its main.rs serves
    /// it (`lambda_http`), counted as one HTTP API request of `function`.
    async fn http_function(
        &self,
        function: Function,
        router: axum::Router,
        event: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let started = Instant::now();
        let request = lambda_http::request::from_str(&event.to_string())
            .map_err(|e| anyhow::anyhow!("API Gateway event: {e}"))?;
        let response = as_function(function, router.oneshot(request)).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(AxumBody::new(response.into_body()), 1 << 20).await?;
        self.record(function, started);
        self.meter.lock().http_requests += 1;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, json))
    }

    /// An agent's reply through the agent API (`POST /api/v1/conversations/{id}/messages`).
    pub async fn agent_reply(
        &self,
        conversation_id: &str,
        token: &str,
        text: &str,
        client_id: &str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let body = serde_json::json!({"text": text, "client_id": client_id}).to_string();
        self.api_request(
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(token),
            Some(&body),
        )
        .await
    }

    /// An agent's reply with one file (`multipart/form-data`: `text`, `client_id`, `file`);
    /// the file is text so the event body stays a plain string, as API Gateway passes it.
    pub async fn agent_reply_with_file(
        &self,
        conversation_id: &str,
        token: &str,
        text: &str,
        client_id: &str,
        file: (&str, &str, &str),
    ) -> anyhow::Result<(StatusCode, Value)> {
        let (name, mime, content) = file;
        let boundary = "omnidesk-e2e-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{text}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n{client_id}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: {mime}\r\n\r\n{content}\r\n--{boundary}--\r\n"
        );
        let mut event = api_event(
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(token),
            Some(&body),
        )?;
        event["headers"]["content-type"] =
            Value::from(format!("multipart/form-data; boundary={boundary}"));
        self.http_function(
            Function::AgentApi,
            omnidesk_agent_api::router(self.api.clone()),
            &event,
        )
        .await
    }

    /// A WebSocket `$connect` event (token in the query string) for the agent-ws function.
    pub async fn ws_connect(
        &self,
        connection_id: &str,
        token: &str,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_value(ws_connect_event(connection_id, token)?)?;
        let started = Instant::now();
        let response = as_function(
            Function::AgentWs,
            omnidesk_agent_ws::handle_websocket_event(&self.ws, event),
        )
        .await;
        self.record(Function::AgentWs, started);
        Ok(response)
    }

    /// One widget API request as an API Gateway v2 HTTP event (route `ANY /web/v1/{proxy+}`,
    /// `Origin: https://shop.example.com` unless `origin` says otherwise) through the web-chat
    /// router, as its main.rs serves it.
    pub async fn web_request(
        &self,
        method: &str,
        path: &str,
        visitor_token: Option<&str>,
        body: Option<&str>,
        origin: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let event = web_event(method, path, visitor_token, body, origin)?;
        self.http_function(
            Function::WebChat,
            omnidesk_web_chat::router(self.web.clone()),
            &event,
        )
        .await
    }

    /// A WebSocket `$connect` event with a visitor's `?ticket=` for the agent-ws function.
    pub async fn ws_connect_visitor(
        &self,
        connection_id: &str,
        ticket: &str,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let mut event = ws_connect_event(connection_id, "")?;
        event["queryStringParameters"] = serde_json::json!({ "ticket": ticket });
        event["multiValueQueryStringParameters"] = serde_json::json!({ "ticket": [ticket] });
        self.ws_event(event).await
    }

    /// A `$default` frame (`MESSAGE` event) on `connection_id`.
    pub async fn ws_frame(
        &self,
        connection_id: &str,
        frame: &str,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let mut event: Value = serde_json::from_str(WS_MESSAGE_EVENT)?;
        event["requestContext"]["connectionId"] = Value::from(connection_id);
        event["body"] = Value::from(frame);
        self.ws_event(event).await
    }

    /// A `$disconnect` event of `connection_id`.
    pub async fn ws_disconnect(
        &self,
        connection_id: &str,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let mut event: Value = serde_json::from_str(WS_DISCONNECT_EVENT)?;
        event["requestContext"]["connectionId"] = Value::from(connection_id);
        self.ws_event(event).await
    }

    async fn ws_event(&self, event: Value) -> anyhow::Result<ApiGatewayProxyResponse> {
        let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event)?;
        let started = Instant::now();
        let response = as_function(
            Function::AgentWs,
            omnidesk_agent_ws::handle_websocket_event(&self.ws, event),
        )
        .await;
        self.record(Function::AgentWs, started);
        Ok(response)
    }

    /// What the SQS event source mapping does once: receive up to 10 messages of `queue`
    /// (FIFO queues give at most one in-flight batch per group), invoke the function with them
    /// as an `SqsEvent`, delete the records not reported failed (`DeleteMessageBatch`).
    pub async fn poll(&self, queue: QueueName) -> anyhow::Result<Poll> {
        self.poll_max(queue, 10).await
    }

    /// [`Stack::poll`] receiving at most `max` (1–10) messages: an invocation per message
    /// where messages arrive spread out in time (delayed timers).
    pub async fn poll_max(&self, queue: QueueName, max: i32) -> anyhow::Result<Poll> {
        // The event source mapping receives and deletes with the function's role.
        let function = match queue {
            QueueName::Inbound | QueueName::Timers => Function::Router,
            QueueName::Outbound => Function::Sender,
            QueueName::Media => Function::Media,
            QueueName::Translate if self.translator.is_none() => {
                bail!(
                    "the translate queue has no consumer: the stack was started without translation (StackOptions::translation)"
                )
            }
            QueueName::Translate => Function::Translator,
            QueueName::Ai if self.ai_worker.is_none() => {
                bail!(
                    "the AI queue has no consumer: the stack was started without the AI (StackOptions::ai)"
                )
            }
            QueueName::Ai => Function::AiWorker,
        };
        as_function(function, self.poll_as(queue, max, function)).await
    }

    async fn poll_as(
        &self,
        queue: QueueName,
        max: i32,
        function: Function,
    ) -> anyhow::Result<Poll> {
        let url = self.queue.urls().get(queue).url.clone();
        let out = self
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(30)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .context("ReceiveMessage")?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(Poll::default());
        }
        let event = sqs_event(&messages, &url);
        let received = event.records.len();
        let started = Instant::now();
        // The router consumes the inbound and the timers queue, as in template.yaml.
        let response = match function {
            Function::Router => self.router_batch(event).await,
            Function::Media => self.media_batch(event).await,
            Function::Translator => self.translator_batch(event).await?,
            Function::AiWorker => self.ai_batch(event).await?,
            _ => self.sender_batch(event).await,
        };
        self.record(function, started);
        let failed: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        let failed_set: HashSet<&str> = failed.iter().map(String::as_str).collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed_set.contains(m.message_id().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("DeleteMessageBatch")?;
        }
        Ok(Poll { received, failed })
    }

    /// Polls `queue` until a poll receives nothing (at most `max_polls` polls). Returns the
    /// number of records processed successfully.
    pub async fn drain(&self, queue: QueueName, max_polls: usize) -> anyhow::Result<usize> {
        self.drain_by(queue, 10, max_polls).await
    }

    /// [`Stack::drain`] receiving at most `batch` messages a poll ([`Stack::poll_max`]).
    pub async fn drain_by(
        &self,
        queue: QueueName,
        batch: i32,
        max_polls: usize,
    ) -> anyhow::Result<usize> {
        let mut done = 0;
        for _ in 0..max_polls {
            let poll = self.poll_max(queue, batch).await?;
            if poll.received == 0 {
                return Ok(done);
            }
            done += poll.received - poll.failed.len();
        }
        Ok(done)
    }

    /// The router Lambda's handler (`omnidesk_router::handle_sqs_batch`, as its main.rs runs
    /// it), for batches of the inbound or the timers queue.
    pub async fn router_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let inbound = SqsSettle::new(self.queue.clone(), QueueName::Inbound);
        let timers = SqsSettle::new(self.queue.clone(), QueueName::Timers);
        omnidesk_router::handle_sqs_batch(
            &self.router,
            &inbound,
            &timers,
            &self.router_pushes,
            event,
        )
        .await
    }

    /// The sender Lambda's handler (`omnidesk_sender::handle_sqs_batch`, as its main.rs runs it).
    pub async fn sender_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let settle = SqsSettle::new(self.queue.clone(), QueueName::Outbound);
        omnidesk_sender::handle_sqs_batch(&self.sender, &settle, &self.sender_pushes, event).await
    }
}

impl Stack {
    /// The media Lambda's handler (`omnidesk_media::handle_sqs_batch`, as its main.rs runs it).
    pub async fn media_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let settle = SqsSettle::new(self.queue.clone(), QueueName::Media);
        omnidesk_media::handle_sqs_batch(&self.media, &settle, &self.media_pushes, event).await
    }

    /// The translator Lambda's handler, as its main.rs runs it: the batch driver over
    /// `omnidesk_translator::handle_body`, pushes flushed at the end of the batch. Fails when
    /// the stack was started without translation.
    pub async fn translator_batch(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let deps = self
            .translator
            .as_ref()
            .context("the stack was started without translation")?;
        let settle = SqsSettle::new(self.queue.clone(), QueueName::Translate);
        Ok(
            self.translator_pushes
                .during(run_sqs_batch(
                    event,
                    true,
                    &settle,
                    |body, receive_count| {
                        let deps = deps.clone();
                        async move {
                            omnidesk_translator::handle_body(&deps, &body, receive_count).await
                        }
                    },
                ))
                .await,
        )
    }
}

impl Stack {
    /// One invocation of the ai-worker with `event` (as its main.rs runs it).
    pub async fn ai_batch(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let deps = self
            .ai_worker
            .as_ref()
            .context("the stack was started without the AI")?;
        let settle = SqsSettle::new(self.queue.clone(), QueueName::Ai);
        Ok(self
            .ai_pushes
            .during(run_sqs_batch(event, true, &settle, |body, _| {
                let deps = deps.clone();
                async move { omnidesk_ai_worker::handle_body(&deps, &body).await }
            }))
            .await)
    }
}

/// Runs `fut` as `function`: its AWS requests are attributed to it ([`counter::CALLER`]).
async fn as_function<F: std::future::Future>(function: Function, fut: F) -> F::Output {
    counter::CALLER.scope(function.name(), fut).await
}

/// The SES Lambda action's event for a mail SES stored as `ses_id`, from `from`, to `to` (our
/// mailbox), with `subject` (the fixture with these values).
pub fn ses_event(
    ses_id: &str,
    from: &str,
    to: &str,
    subject: &str,
) -> anyhow::Result<aws_lambda_events::event::ses::SimpleEmailEvent> {
    let mut event: Value = serde_json::from_str(SES_EVENT)?;
    let ses = &mut event["Records"][0]["ses"];
    ses["mail"]["messageId"] = Value::from(ses_id);
    ses["mail"]["destination"] = serde_json::json!([to]);
    ses["mail"]["commonHeaders"]["from"] = serde_json::json!([from]);
    ses["mail"]["commonHeaders"]["to"] = serde_json::json!([to]);
    ses["mail"]["commonHeaders"]["subject"] = Value::from(subject);
    ses["receipt"]["recipients"] = serde_json::json!([to]);
    Ok(serde_json::from_value(event)?)
}

/// The function URL event of a Telegram webhook delivery (the fixture with this secret and
/// body).
pub fn webhook_event(secret: &str, update: &str) -> anyhow::Result<Value> {
    let mut event: Value = serde_json::from_str(WEBHOOK_EVENT)?;
    let path = format!("/telegram/{BOT_ID}/webhook");
    event["rawPath"] = Value::from(path.clone());
    event["requestContext"]["http"]["path"] = Value::from(path);
    event["headers"]["x-telegram-bot-api-secret-token"] = Value::from(secret);
    event["headers"]["content-length"] = Value::from(update.len().to_string());
    event["body"] = Value::from(update);
    Ok(event)
}

/// The API Gateway v2 HTTP event of an agent API request (route `ANY /api/{proxy+}`).
pub fn api_event(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<Value> {
    let mut event: Value = serde_json::from_str(API_EVENT)?;
    let route = format!("{method} /api/{{proxy+}}");
    event["routeKey"] = Value::from(route.clone());
    event["requestContext"]["routeKey"] = Value::from(route);
    event["rawPath"] = Value::from(path);
    event["requestContext"]["http"]["path"] = Value::from(path);
    event["requestContext"]["http"]["method"] = Value::from(method);
    event["pathParameters"] = serde_json::json!({ "proxy": path.trim_start_matches("/api/") });
    let headers = event["headers"]
        .as_object_mut()
        .context("fixture headers")?;
    headers.remove("x-telegram-bot-api-secret-token");
    if let Some(t) = token {
        headers.insert(
            "authorization".to_owned(),
            Value::from(format!("Bearer {t}")),
        );
    }
    headers.insert(
        "content-length".to_owned(),
        Value::from(body.map_or(0, str::len).to_string()),
    );
    match body {
        Some(b) => event["body"] = Value::from(b),
        None => {
            event.as_object_mut().context("fixture")?.remove("body");
        }
    }
    Ok(event)
}

/// The API Gateway v2 HTTP event of a widget API request (route `ANY /web/v1/{proxy+}`).
pub fn web_event(
    method: &str,
    path: &str,
    visitor_token: Option<&str>,
    body: Option<&str>,
    origin: Option<&str>,
) -> anyhow::Result<Value> {
    let mut event: Value = serde_json::from_str(WEB_EVENT)?;
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    event["rawPath"] = Value::from(raw_path);
    event["rawQueryString"] = Value::from(query);
    event["requestContext"]["http"]["path"] = Value::from(raw_path);
    event["requestContext"]["http"]["method"] = Value::from(method);
    event["pathParameters"] =
        serde_json::json!({ "proxy": raw_path.trim_start_matches("/web/v1/") });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    let headers = event["headers"]
        .as_object_mut()
        .context("fixture headers")?;
    match origin {
        Some(o) => headers.insert("origin".to_owned(), Value::from(o)),
        None => headers.remove("origin"),
    };
    if let Some(t) = visitor_token {
        headers.insert(
            "authorization".to_owned(),
            Value::from(format!("Bearer {t}")),
        );
    }
    headers.insert(
        "content-length".to_owned(),
        Value::from(body.map_or(0, str::len).to_string()),
    );
    match body {
        Some(b) => event["body"] = Value::from(b),
        None => {
            event.as_object_mut().context("fixture")?.remove("body");
        }
    }
    Ok(event)
}

/// The API Gateway WebSocket `$connect` event with `?token=`.
pub fn ws_connect_event(connection_id: &str, token: &str) -> anyhow::Result<Value> {
    let mut event: Value = serde_json::from_str(WS_CONNECT_EVENT)?;
    event["queryStringParameters"]["token"] = Value::from(token);
    event["multiValueQueryStringParameters"]["token"] = serde_json::json!([token]);
    event["requestContext"]["connectionId"] = Value::from(connection_id);
    Ok(event)
}

/// SQS messages as the Lambda event source mapping hands them to a function.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_url: &str) -> SqsEvent {
    let arn = queue_arn(queue_url);
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id.clone();
            r.receipt_handle = m.receipt_handle.clone();
            r.body = m.body.clone();
            r.md5_of_body = m.md5_of_body.clone();
            r.attributes = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            r.event_source = Some("aws:sqs".to_owned());
            r.event_source_arn = Some(arn.clone());
            r.aws_region = Some("us-east-1".to_owned());
            r
        })
        .collect();
    event
}

/// `arn:aws:sqs:us-east-1:<account>:<name>` from a queue URL `http://host/<account>/<name>`.
fn queue_arn(url: &str) -> String {
    let mut parts = url.rsplit('/');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or("123456789012");
    format!("arn:aws:sqs:us-east-1:{account}:{name}")
}

/// A Telegram private-chat text message update (from a user whose app is in English).
pub fn text_update(update_id: i64, user_id: i64, message_id: i64, text: &str) -> String {
    text_update_in(update_id, user_id, message_id, text, Some("en"))
}

/// [`text_update`] from a user whose app is in `language_code` (`None`: Telegram sent none,
/// as it may).
pub fn text_update_in(
    update_id: i64,
    user_id: i64,
    message_id: i64,
    text: &str,
    language_code: Option<&str>,
) -> String {
    let mut from = serde_json::json!({"id": user_id, "is_bot": false, "first_name": "Ann", "last_name": "Lee"});
    if let Some(code) = language_code {
        from["language_code"] = Value::from(code);
    }
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": from,
            "chat": {"id": user_id, "type": "private", "first_name": "Ann", "last_name": "Lee"},
            "date": 1_795_319_400,
            "text": text
        }
    })
    .to_string()
}

/// A Telegram private-chat photo update (two sizes; the larger is `file_id`, `size` bytes).
pub fn photo_update(
    update_id: i64,
    user_id: i64,
    message_id: i64,
    file_id: &str,
    size: u64,
) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {"id": user_id, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "chat": {"id": user_id, "type": "private", "first_name": "Ann"},
            "date": 1_795_319_400,
            "photo": [
                {"file_id": format!("{file_id}-thumb"), "file_unique_id": format!("{file_id}-t"), "width": 90, "height": 67, "file_size": 1500},
                {"file_id": file_id, "file_unique_id": format!("{file_id}-u"), "width": 1280, "height": 960, "file_size": size}
            ],
            "caption": "the parcel arrived like this"
        }
    })
    .to_string()
}

impl Stack {
    /// The media jobs of every stored message whose files still wait to be fetched.
    pub async fn pending_media_jobs(&self) -> anyhow::Result<Vec<omnidesk_core::MediaJob>> {
        use omnidesk_core::{ConversationFilter, ConversationStore, MessageStore, PageRequest};
        let conversations = self
            .store
            .list_conversations(&ConversationFilter::default(), &PageRequest::first(100))
            .await?;
        let mut jobs = Vec::new();
        for c in &conversations.items {
            let page = self
                .store
                .list_messages(c.id, &PageRequest::first(100))
                .await?;
            jobs.extend(
                page.items
                    .iter()
                    .filter(|m| m.attachments.iter().any(|a| a.needs_fetch()))
                    .map(|m| omnidesk_core::MediaJob {
                        conversation_id: m.conversation_id,
                        message_id: m.id,
                    }),
            );
        }
        Ok(jobs)
    }

    /// Queues `jobs` on the media queue as the router does after storing their messages (sent
    /// as the router: the `sqs:SendMessage` is the router's).
    pub async fn enqueue_media(&self, jobs: &[omnidesk_core::MediaJob]) -> anyhow::Result<()> {
        use omnidesk_core::{OutgoingMessage, Queue};
        for job in jobs {
            let body = serde_json::to_string(job)?;
            as_function(
                Function::Router,
                self.queue.send(
                    QueueName::Media,
                    OutgoingMessage::delayed(body, Duration::ZERO),
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// Runs the media function until every stored file is fetched: drains the media queue
    /// (jobs the router queued), queues the jobs of messages still waiting (for a router that
    /// does not queue them itself), drains again. Returns the jobs processed and how many of
    /// them were queued here.
    pub async fn run_media(&self) -> anyhow::Result<(usize, usize)> {
        let mut done = self.drain(QueueName::Media, 20).await?;
        let pending = self.pending_media_jobs().await?;
        if !pending.is_empty() {
            self.enqueue_media(&pending).await?;
            done += self.drain(QueueName::Media, 20).await?;
        }
        Ok((done, pending.len()))
    }
}
