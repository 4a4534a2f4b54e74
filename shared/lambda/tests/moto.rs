//! The Lambda glue on the wire, against a moto server: the batch driver settling real SQS
//! deliveries (dead letter with reason, visibility change) and the JWT key read from SSM.
//!
//! Reads `OMNIDESK_TEST_AWS_ENDPOINT` (a loopback moto URL); without it every test prints why
//! and passes. `infra/ci/moto-tests.sh` starts moto and runs them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use omnidesk_aws::aws_sdk_sqs::types::MessageSystemAttributeName;
use omnidesk_aws::testing::{moto_endpoint, moto_sdk_config};
use omnidesk_aws::{QueueUrls, SqsQueue, aws_sdk_sqs};
use omnidesk_core::{JobError, JobOutcome, OutgoingMessage, Queue, QueueName};
use omnidesk_lambda::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use omnidesk_lambda::{Config, ConfigError, SqsSettle, load_jwt_secret, run_sqs_batch};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

fn config(queues: &QueueUrls, jwt_param: &str) -> Config {
    let vars = HashMap::from([
        ("TABLE_NAME", "unused".to_owned()),
        ("INBOUND_QUEUE_URL", queues.inbound.url.clone()),
        ("INBOUND_DLQ_URL", queues.inbound.dead_letter_url.clone()),
        ("OUTBOUND_QUEUE_URL", queues.outbound.url.clone()),
        ("OUTBOUND_DLQ_URL", queues.outbound.dead_letter_url.clone()),
        ("TIMERS_QUEUE_URL", queues.timers.url.clone()),
        ("TIMERS_DLQ_URL", queues.timers.dead_letter_url.clone()),
        ("MEDIA_QUEUE_URL", queues.media.url.clone()),
        ("MEDIA_DLQ_URL", queues.media.dead_letter_url.clone()),
        ("TRANSLATE_QUEUE_URL", queues.translate.url.clone()),
        (
            "TRANSLATE_DLQ_URL",
            queues.translate.dead_letter_url.clone(),
        ),
        ("AI_QUEUE_URL", queues.ai.url.clone()),
        ("AI_DLQ_URL", queues.ai.dead_letter_url.clone()),
        (
            "WEBSOCKET_API_ENDPOINT",
            "http://127.0.0.1:9/prod".to_owned(),
        ),
        ("JWT_SECRET_PARAM", jwt_param.to_owned()),
        ("FILES_BUCKET", "unused".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]);
    Config::from_lookup(|name| vars.get(name).cloned()).expect("config")
}

/// Receives up to 10 messages of the inbound queue as the Lambda event source mapping would
/// hand them over.
async fn receive_event(client: &aws_sdk_sqs::Client, url: &str) -> SqsEvent {
    let out = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(60)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let mut event = SqsEvent::default();
    for m in out.messages.unwrap_or_default() {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.attributes = m
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect();
        event.records.push(record);
    }
    event
}

#[tokio::test]
async fn a_batch_on_sqs_dead_letters_permanent_failures_and_delays_the_failed_group() {
    let Some(endpoint) = moto_endpoint("batch_on_sqs") else {
        return;
    };
    let sdk = moto_sdk_config(&endpoint).await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let urls = SqsQueue::create_queues(&client, &unique("lambda-test"))
        .await
        .expect("queues");
    let queue = Arc::new(SqsQueue::new(client.clone(), urls.clone()));
    for (group, body) in [
        ("A", "permanent"),
        ("A", "ok-a"),
        ("B", "transient"),
        ("B", "ok-b"),
    ] {
        queue
            .send(
                QueueName::Inbound,
                OutgoingMessage::fifo(group, unique("d"), body.to_owned()),
            )
            .await
            .expect("send");
    }
    let event = receive_event(&client, &urls.inbound.url).await;
    assert_eq!(event.records.len(), 4, "moto hands out both groups");
    let ids: HashMap<String, String> = event
        .records
        .iter()
        .map(|r| {
            (
                r.body.clone().unwrap_or_default(),
                r.message_id.clone().unwrap_or_default(),
            )
        })
        .collect();

    let settle = SqsSettle::new(queue.clone(), QueueName::Inbound);
    let response = run_sqs_batch(event, true, &settle, |body, _| async move {
        match body.as_str() {
            "permanent" => Err(JobError::Permanent("not an inbound event".to_owned())),
            "transient" => Err(JobError::Transient("store unavailable".to_owned())),
            _ => Ok(JobOutcome::Done),
        }
    })
    .await;

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [ids["transient"].as_str(), ids["ok-b"].as_str()]);
    let dead = queue
        .dead_letters(QueueName::Inbound, 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "permanent");
    assert_eq!(dead[0].reason, "not an inbound event");
    assert_eq!(dead[0].group.as_deref(), Some("A"));
    // Group B was hidden for the first backoff (1 s), not the 60 s of the receive: it comes back.
    // (moto 5.2.5 may hand back the second message of a FIFO group alone once after a
    // visibility change, so the test collects a few receives instead of checking the order.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut back = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let again = receive_event(&client, &urls.inbound.url).await;
        for r in &again.records {
            back.insert(r.body.clone().unwrap_or_default());
            client
                .change_message_visibility()
                .queue_url(&urls.inbound.url)
                .set_receipt_handle(r.receipt_handle.clone())
                .visibility_timeout(0)
                .send()
                .await
                .expect("release");
        }
    }
    assert_eq!(
        back.into_iter().collect::<Vec<_>>(),
        ["ok-b".to_owned(), "transient".to_owned()]
    );
}

#[tokio::test]
async fn the_jwt_key_is_read_from_an_ssm_secure_string() {
    let Some(endpoint) = moto_endpoint("jwt_from_ssm") else {
        return;
    };
    let sdk = moto_sdk_config(&endpoint).await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let urls = SqsQueue::create_queues(&client, &unique("lambda-ssm"))
        .await
        .expect("queues");
    let name = format!("/{}/jwt-secret", unique("omnidesk"));
    let key = "k".repeat(48);
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&name)
        .value(&key)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");

    let secret = load_jwt_secret(&sdk, &config(&urls, &name))
        .await
        .expect("secret");
    assert_eq!(secret.expose(), key);

    let missing = load_jwt_secret(&sdk, &config(&urls, "/omnidesk/nope"))
        .await
        .expect_err("no such parameter");
    assert!(matches!(missing, ConfigError::Secret { ref name, .. } if name == "/omnidesk/nope"));
    assert!(
        missing.to_string().contains("JWT_SECRET_PARAM"),
        "{missing}"
    );
}

#[tokio::test]
async fn bot_and_website_secrets_are_sealed_in_the_table_with_the_ssm_key() {
    use omnidesk_core::{BotConfig, BotMode, BotStore, Secret, WebStore, Website};
    let Some(endpoint) = moto_endpoint("secrets_sealed_in_dynamo") else {
        return;
    };
    let sdk = moto_sdk_config(&endpoint).await;
    let urls = SqsQueue::create_queues(&aws_sdk_sqs::Client::new(&sdk), &unique("lambda-seal"))
        .await
        .expect("queues");
    let table = unique("seal");
    let dynamo = omnidesk_aws::aws_sdk_dynamodb::Client::new(&sdk);
    omnidesk_aws::DynamoStore::create_table(&dynamo, &table)
        .await
        .expect("table");
    let param = format!("/{}/secrets-key", unique("omnidesk"));
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&param)
        .value("s".repeat(48))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    let settings = omnidesk_aws::testing::settings(&endpoint);
    let mut config = config(&urls, "/omnidesk/unused");
    config.aws = settings;
    config.table_name = table.clone();
    config.secrets_key_param = Some(param.clone());
    let aws = omnidesk_lambda::adapters(&config).await;

    const TOKEN: &str = "7301234567:AAsealedInDynamoNeverPlain_abc";
    let bot = BotConfig {
        id: omnidesk_domain::BotId::from_token(TOKEN).unwrap(),
        token: Secret::new(TOKEN),
        webhook_secret: Secret::new("dynamo-webhook-secret-plain-never"),
        username: Some("shop_bot".to_owned()),
        mode: BotMode::Webhook,
        poll_offset: None,
        created_at: omnidesk_domain::Timestamp::from_millis(1_790_000_000_000),
    };
    aws.store.put_bot(&bot).await.expect("put_bot");
    let site = Website {
        id: omnidesk_domain::WebsiteId::from_uuid(uuid::Uuid::now_v7()),
        name: "Shop".to_owned(),
        origins: vec!["https://shop.example.com".to_owned()],
        bot_id: Some(bot.id),
        identity_secret: Some(Secret::new("dynamo-identity-secret-plain-never")),
        prechat: false,
        created_at: bot.created_at,
    };
    aws.store.put_website(&site).await.expect("put_website");

    // The items as DynamoDB holds them: nothing of the secrets in plain text.
    let items = dynamo
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let raw = format!("{items:?}");
    assert!(raw.contains("sealed:v1:"), "{raw}");
    for plain in [
        "AAsealedInDynamoNeverPlain_abc",
        "dynamo-webhook-secret-plain-never",
        "dynamo-identity-secret-plain-never",
    ] {
        assert!(!raw.contains(plain), "{plain} is in the table");
    }
    // Read back opened, by this process and by another with the same key.
    assert_eq!(aws.store.get_bot(bot.id).await.unwrap(), Some(bot.clone()));
    let other = omnidesk_lambda::adapters(&config).await;
    assert_eq!(other.store.list_bots().await.unwrap(), vec![bot.clone()]);
    assert_eq!(
        other.store.get_website(site.id).await.unwrap(),
        Some(site.clone())
    );
    // Without the key (another deployment's parameter) a sealed bot is refused, never
    // read as its sealed text.
    let mut wrong = config.clone();
    wrong.secrets_key_param = Some("/omnidesk/no-such-parameter".to_owned());
    let without = omnidesk_lambda::adapters(&wrong).await;
    let e = without.store.get_bot(bot.id).await.expect_err("no key");
    assert!(e.to_string().contains("secrets key"), "{e}");
    assert!(!e.to_string().contains("AAsealed"), "{e}");
}
