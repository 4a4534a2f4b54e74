//! [`Config`]: what every omnidesk Lambda reads from its environment, once, at cold start.

use std::time::Duration;

use omnidesk_aws::{AwsSettings, QueuePair, QueueUrls};

/// Every variable [`Config::from_env`] reads: name, default (`required` when none), meaning.
/// `template.yaml` sets them for every function, except the `AWS_*` ones Lambda sets itself.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    ("AWS_REGION", "required", "the region (set by Lambda)"),
    (
        "AWS_ACCESS_KEY_ID",
        "(set by Lambda)",
        "with AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN: the execution role's credentials, \
         used as static credentials (without them: the SDK's default chain)",
    ),
    (
        "AWS_ENDPOINT_URL",
        "(unset)",
        "one endpoint for every AWS service (an emulator such as moto)",
    ),
    ("TABLE_NAME", "required", "the DynamoDB table"),
    (
        "INBOUND_QUEUE_URL",
        "required",
        "inbound FIFO queue (ingest -> router)",
    ),
    ("INBOUND_DLQ_URL", "required", "its dead-letter queue"),
    (
        "OUTBOUND_QUEUE_URL",
        "required",
        "outbound FIFO queue (router / agent API -> sender)",
    ),
    ("OUTBOUND_DLQ_URL", "required", "its dead-letter queue"),
    (
        "TIMERS_QUEUE_URL",
        "required",
        "timers standard queue (delayed jobs)",
    ),
    ("TIMERS_DLQ_URL", "required", "its dead-letter queue"),
    (
        "MEDIA_QUEUE_URL",
        "required",
        "media standard queue (router -> media: fetch channel files into S3)",
    ),
    ("MEDIA_DLQ_URL", "required", "its dead-letter queue"),
    (
        "TRANSLATE_QUEUE_URL",
        "required",
        "translate FIFO queue (router, agent-api → translator)",
    ),
    ("TRANSLATE_DLQ_URL", "required", "its dead-letter queue"),
    (
        "AI_QUEUE_URL",
        "required",
        "AI FIFO queue (router, agent-api → ai-worker)",
    ),
    ("AI_DLQ_URL", "required", "its dead-letter queue"),
    (
        "FILES_BUCKET",
        "required",
        "the private S3 bucket of attachment bytes (content-addressed keys, presigned links)",
    ),
    (
        "WEBSOCKET_API_ENDPOINT",
        "required",
        "https://{api}.execute-api.{region}.amazonaws.com/{stage}: where pushes are posted",
    ),
    (
        "JWT_SECRET_PARAM",
        "required",
        "name of the SSM SecureString parameter holding the agent-token signing key",
    ),
    (
        "SECRETS_KEY_PARAM",
        "unset: secrets stored plain",
        "name of the SSM SecureString parameter holding the key bot tokens, webhook secrets and \
         identity secrets are sealed with in the table (read on first use)",
    ),
    (
        "TELEGRAM_API_URL",
        "https://api.telegram.org",
        "Telegram Bot API base URL",
    ),
    (
        "OMNIDESK_TOKEN_TTL_SECS",
        "900",
        "lifetime of an agent's access token (15 min; the dashboard renews it with its refresh \
         cookie)",
    ),
    (
        "OMNIDESK_SESSION_TTL_SECS",
        "604800",
        "how long an agent stays signed in unused (7 days; at most 30 days from the sign-in)",
    ),
    (
        "OMNIDESK_BOT_GREETING",
        "(built in)",
        "the bot's answer to /start",
    ),
    (
        "OMNIDESK_BOT_HELP",
        "(built in)",
        "the bot's answer to /help",
    ),
    (
        "MAIL_DOMAIN",
        "(unset)",
        "the domain of the e-mail channel (template parameter MailDomain); set: the sender \
         delivers e-mail replies through SESv2 from that domain's identity; unset: no e-mail",
    ),
    (
        "INBOUND_MAIL_BUCKET",
        "(unset; required by email-inbound)",
        "the bucket the SES receipt rule stores raw inbound mail in (under inbound/)",
    ),
    (
        "OMNIDESK_REASSIGN_AFTER_SECS",
        "300",
        "an automatically assigned conversation without an agent reply for this long goes to \
         another agent (back to the queue if its agent is offline); 0 = never; at most 900",
    ),
];

/// The configuration of an omnidesk Lambda. Holds no secret of ours (see
/// [`crate::load_jwt_secret`]); the execution role's keys in [`Config::aws`] never show in
/// `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_ENDPOINT_URL`: what [`omnidesk_aws::sdk_config`] builds the SDK clients from.
    pub aws: AwsSettings,
    /// `TABLE_NAME`.
    pub table_name: String,
    /// `{INBOUND,OUTBOUND,TIMERS,MEDIA}_{QUEUE,DLQ}_URL`.
    pub queues: QueueUrls,
    /// `WEBSOCKET_API_ENDPOINT`, without a trailing `/`.
    pub websocket_api_endpoint: String,
    /// `JWT_SECRET_PARAM`: the SSM parameter name.
    pub jwt_secret_param: String,
    /// `SECRETS_KEY_PARAM`: the SSM parameter of the key secrets are sealed with at rest;
    /// `None`: stored plain.
    pub secrets_key_param: Option<String>,
    /// `FILES_BUCKET`: the bucket of attachment bytes.
    pub files_bucket: String,
    /// `TELEGRAM_API_URL`.
    pub telegram_api_url: String,
    /// `OMNIDESK_TOKEN_TTL_SECS`.
    pub token_ttl: Duration,
    /// `OMNIDESK_SESSION_TTL_SECS`: how long a refresh token lives unused.
    pub session_ttl: Duration,
    /// `MAIL_DOMAIN`: set when the e-mail channel is on.
    pub mail_domain: Option<String>,
    /// `INBOUND_MAIL_BUCKET`: read by the email-inbound function only (see
    /// [`Config::inbound_mail_bucket`]).
    pub inbound_mail_bucket: Option<String>,
}

/// A variable is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
    /// The JWT signing key could not be read from SSM Parameter Store.
    #[error("cannot read the SSM parameter {name} (JWT_SECRET_PARAM): {reason}")]
    Secret { name: String, reason: String },
}

impl Config {
    /// Reads the process environment (see [`VARIABLES`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map; nothing calls `set_var`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let url = |name: &'static str| -> Result<String, ConfigError> {
            let value = required(name)?;
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value.trim().trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::Malformed {
                    name,
                    reason: "expected an http(s) URL".to_owned(),
                })
            }
        };
        let pair = |queue: &'static str, dlq: &'static str| -> Result<QueuePair, ConfigError> {
            Ok(QueuePair {
                url: url(queue)?,
                dead_letter_url: url(dlq)?,
            })
        };
        let queues = QueueUrls {
            inbound: pair("INBOUND_QUEUE_URL", "INBOUND_DLQ_URL")?,
            outbound: pair("OUTBOUND_QUEUE_URL", "OUTBOUND_DLQ_URL")?,
            timers: pair("TIMERS_QUEUE_URL", "TIMERS_DLQ_URL")?,
            media: pair("MEDIA_QUEUE_URL", "MEDIA_DLQ_URL")?,
            translate: pair("TRANSLATE_QUEUE_URL", "TRANSLATE_DLQ_URL")?,
            ai: pair("AI_QUEUE_URL", "AI_DLQ_URL")?,
        };
        for (name, q) in [
            ("INBOUND_QUEUE_URL", &queues.inbound),
            ("OUTBOUND_QUEUE_URL", &queues.outbound),
            ("TRANSLATE_QUEUE_URL", &queues.translate),
            ("AI_QUEUE_URL", &queues.ai),
        ] {
            if !q.url.ends_with(".fifo") || !q.dead_letter_url.ends_with(".fifo") {
                return Err(ConfigError::Malformed {
                    name,
                    reason: "the queue and its dead-letter queue must be FIFO (.fifo)".to_owned(),
                });
            }
        }
        let secs = |name: &'static str, default: u64| match get(name) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
                _ => Err(ConfigError::Malformed {
                    name,
                    reason: "expected a positive number of seconds".to_owned(),
                }),
            },
        };
        let token_ttl = secs("OMNIDESK_TOKEN_TTL_SECS", 900)?;
        let session_ttl = secs("OMNIDESK_SESSION_TTL_SECS", 604_800)?;
        let telegram_api_url = if get("TELEGRAM_API_URL").is_some() {
            url("TELEGRAM_API_URL")?
        } else {
            "https://api.telegram.org".to_owned()
        };
        let aws = AwsSettings::from_lookup(&lookup);
        if aws.region.is_none() {
            return Err(ConfigError::Missing("AWS_REGION"));
        }
        if let Some(endpoint) = &aws.endpoint_url
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            return Err(ConfigError::Malformed {
                name: "AWS_ENDPOINT_URL",
                reason: "expected an http(s) URL".to_owned(),
            });
        }
        Ok(Self {
            aws,
            table_name: required("TABLE_NAME")?.trim().to_owned(),
            queues,
            websocket_api_endpoint: url("WEBSOCKET_API_ENDPOINT")?,
            jwt_secret_param: required("JWT_SECRET_PARAM")?.trim().to_owned(),
            secrets_key_param: get("SECRETS_KEY_PARAM").map(|v| v.trim().to_owned()),
            files_bucket: required("FILES_BUCKET")?.trim().to_owned(),
            telegram_api_url,
            token_ttl,
            session_ttl,
            mail_domain: get("MAIL_DOMAIN").map(|v| v.trim().to_ascii_lowercase()),
            inbound_mail_bucket: get("INBOUND_MAIL_BUCKET").map(|v| v.trim().to_owned()),
        })
    }

    /// `INBOUND_MAIL_BUCKET`, for the function that cannot run without it.
    pub fn inbound_mail_bucket(&self) -> Result<&str, ConfigError> {
        self.inbound_mail_bucket
            .as_deref()
            .ok_or(ConfigError::Missing("INBOUND_MAIL_BUCKET"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use omnidesk_aws::AwsCredentials;

    use super::*;

    fn full() -> HashMap<&'static str, String> {
        let q = "https://sqs.us-east-1.amazonaws.com/123456789012/omnidesk";
        HashMap::from([
            ("TABLE_NAME", "omnidesk".to_owned()),
            ("INBOUND_QUEUE_URL", format!("{q}-inbound.fifo")),
            ("INBOUND_DLQ_URL", format!("{q}-inbound-dlq.fifo")),
            ("OUTBOUND_QUEUE_URL", format!("{q}-outbound.fifo")),
            ("OUTBOUND_DLQ_URL", format!("{q}-outbound-dlq.fifo")),
            ("TIMERS_QUEUE_URL", format!("{q}-timers")),
            ("TIMERS_DLQ_URL", format!("{q}-timers-dlq")),
            ("MEDIA_QUEUE_URL", format!("{q}-media")),
            ("MEDIA_DLQ_URL", format!("{q}-media-dlq")),
            ("TRANSLATE_QUEUE_URL", format!("{q}-translate.fifo")),
            ("TRANSLATE_DLQ_URL", format!("{q}-translate-dlq.fifo")),
            ("AI_QUEUE_URL", format!("{q}-ai.fifo")),
            ("AI_DLQ_URL", format!("{q}-ai-dlq.fifo")),
            (
                "WEBSOCKET_API_ENDPOINT",
                "https://abc.execute-api.us-east-1.amazonaws.com/prod/".to_owned(),
            ),
            ("JWT_SECRET_PARAM", "/omnidesk/jwt-secret".to_owned()),
            ("FILES_BUCKET", "omnidesk-files-123456789012".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "role-secret-key".to_owned()),
            ("AWS_SESSION_TOKEN", "role-session".to_owned()),
        ])
    }

    fn read(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_complete_environment_is_read_with_defaults() {
        let config = read(&full()).expect("valid config");
        assert_eq!(config.table_name, "omnidesk");
        assert_eq!(
            config.websocket_api_endpoint,
            "https://abc.execute-api.us-east-1.amazonaws.com/prod"
        );
        assert!(config.queues.timers.dead_letter_url.ends_with("timers-dlq"));
        assert_eq!(config.telegram_api_url, "https://api.telegram.org");
        assert_eq!(config.token_ttl, Duration::from_secs(900));
        assert_eq!(config.session_ttl, Duration::from_secs(604_800));
        assert_eq!(config.aws.region.as_deref(), Some("us-east-1"));
        assert_eq!(config.aws.endpoint_url, None);
        assert!(matches!(config.aws.credentials, AwsCredentials::Static(_)));
        assert!(!format!("{config:?}").contains("role-secret-key"));
        assert_eq!(config.mail_domain, None, "no e-mail channel by default");
        assert_eq!(
            config.inbound_mail_bucket(),
            Err(ConfigError::Missing("INBOUND_MAIL_BUCKET"))
        );
    }

    #[test]
    fn the_e_mail_channel_variables_are_read_when_set() {
        let mut vars = full();
        vars.insert("MAIL_DOMAIN", " Support.Example.com ".to_owned());
        vars.insert("INBOUND_MAIL_BUCKET", "omnidesk-inbound-mail".to_owned());
        let config = read(&vars).expect("valid config");
        assert_eq!(config.mail_domain.as_deref(), Some("support.example.com"));
        assert_eq!(config.inbound_mail_bucket(), Ok("omnidesk-inbound-mail"));
        vars.insert("MAIL_DOMAIN", "  ".to_owned());
        assert_eq!(read(&vars).expect("valid config").mail_domain, None);
    }

    #[test]
    fn the_endpoint_override_is_read_and_checked() {
        let mut vars = full();
        vars.insert("AWS_ENDPOINT_URL", "http://127.0.0.1:5000".to_owned());
        let config = read(&vars).expect("valid config");
        assert_eq!(
            config.aws.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        vars.insert("AWS_ENDPOINT_URL", "localhost:5000".to_owned());
        let err = read(&vars).expect_err("not a url");
        assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "{err}");
    }

    #[test]
    fn every_required_variable_is_named_when_missing() {
        for (name, default, _) in VARIABLES {
            if *default != "required" {
                continue;
            }
            let mut vars = full();
            vars.remove(name);
            assert_eq!(read(&vars), Err(ConfigError::Missing(name)), "{name}");
        }
    }

    #[test]
    fn malformed_variables_are_named() {
        let mut vars = full();
        vars.insert("OMNIDESK_TOKEN_TTL_SECS", "soon".to_owned());
        let err = read(&vars).expect_err("malformed ttl");
        assert!(err.to_string().contains("OMNIDESK_TOKEN_TTL_SECS"), "{err}");

        let mut vars = full();
        vars.insert("WEBSOCKET_API_ENDPOINT", "abc.execute-api".to_owned());
        let err = read(&vars).expect_err("not a url");
        assert!(err.to_string().contains("WEBSOCKET_API_ENDPOINT"), "{err}");

        let mut vars = full();
        vars.insert("OUTBOUND_QUEUE_URL", "https://sqs/q-outbound".to_owned());
        let err = read(&vars).expect_err("not fifo");
        assert!(err.to_string().contains("OUTBOUND_QUEUE_URL"), "{err}");
    }

    #[test]
    fn every_variable_a_function_reads_is_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for (name, _, _) in VARIABLES {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not name {name}"
            );
        }
    }
}
