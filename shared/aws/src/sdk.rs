//! [`sdk_config`]: the one place an [`SdkConfig`] is built — for the Lambdas, the admin CLI
//! (`omnidesk … --aws-table`) and the moto tests.
//!
//! With [`AwsCredentials::Static`] the config is assembled by hand: no profile file is read,
//! no credential chain runs, the instance-metadata service is never asked. The HTTP client is
//! [`LazyHttpClient`]: the TLS setup (root certificates, crypto provider) happens on the first
//! request, not when the SDK clients are built, so a Lambda's cold start does not pay for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::timeout::TimeoutConfig;

/// Where the SDK's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsCredentials {
    /// Fixed keys: a Lambda's execution-role credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), or dummy keys for an emulator.
    /// `Debug` never shows the secret.
    Static(Credentials),
    /// The SDK's default chain (profiles, SSO, web identity, container, instance metadata):
    /// for the admin CLI on a workstation when no keys are in the environment.
    DefaultChain,
}

/// Region, credentials and endpoint override of the SDK clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `AWS_REGION` (else `AWS_DEFAULT_REGION`). `None` only with
    /// [`AwsCredentials::DefaultChain`], which then also looks in the profile.
    pub region: Option<String>,
    pub credentials: AwsCredentials,
    /// `AWS_ENDPOINT_URL`: every client talks to this endpoint instead of AWS (an emulator).
    pub endpoint_url: Option<String>,
}

/// The variables [`AwsSettings::from_lookup`] reads (all set by Lambda itself, except
/// `AWS_ENDPOINT_URL`).
pub const AWS_VARIABLES: &[(&str, &str)] = &[
    (
        "AWS_REGION",
        "the region (Lambda sets it); else AWS_DEFAULT_REGION",
    ),
    ("AWS_ACCESS_KEY_ID", "static credentials (Lambda sets them)"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "static credentials (Lambda sets them)",
    ),
    (
        "AWS_SESSION_TOKEN",
        "optional session token (Lambda sets it)",
    ),
    (
        "AWS_ENDPOINT_URL",
        "optional: one endpoint for every service (an emulator such as moto)",
    ),
];

impl AwsSettings {
    /// Static credentials for `region`, no endpoint override.
    pub fn static_keys(
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            region: Some(region.into()),
            credentials: AwsCredentials::Static(Credentials::new(
                access_key_id,
                secret_access_key,
                session_token,
                None,
                "omnidesk-environment",
            )),
            endpoint_url: None,
        }
    }

    /// Reads [`AWS_VARIABLES`] through `lookup` (blank values count as unset). Both keys set:
    /// [`AwsCredentials::Static`]; otherwise [`AwsCredentials::DefaultChain`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => AwsCredentials::Static(Credentials::new(
                id,
                secret,
                get("AWS_SESSION_TOKEN"),
                None,
                "omnidesk-environment",
            )),
            _ => AwsCredentials::DefaultChain,
        };
        Self {
            region,
            credentials,
            endpoint_url: get("AWS_ENDPOINT_URL"),
        }
    }

    /// [`AwsSettings::from_lookup`] on the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// With every client sent to `endpoint_url`.
    #[must_use]
    pub fn with_endpoint_url(mut self, endpoint_url: impl Into<String>) -> Self {
        self.endpoint_url = Some(endpoint_url.into());
        self
    }
}

/// Connection timeout of every AWS call (the SDK's own default for current behaviour versions).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Longest a single attempt of an AWS call may take before it is retried (the SDK sets none):
/// DynamoDB and SQS answer in milliseconds, and the longest poll here waits 1 s, so an attempt
/// this slow is a stalled connection, not a slow answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// Builds the shared SDK configuration. With [`AwsCredentials::Static`] nothing is awaited and
/// nothing is read from disk or the network; [`AwsCredentials::DefaultChain`] runs the SDK's
/// loader (profile files, region chain). Either way the HTTP client is a [`LazyHttpClient`].
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let http = SharedHttpClient::new(LazyHttpClient::default());
    match &settings.credentials {
        AwsCredentials::Static(credentials) => {
            let mut builder = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
                .timeout_config(timeouts())
                .http_client(http);
            builder.set_region(settings.region.clone().map(Region::new));
            builder.set_endpoint_url(settings.endpoint_url.clone());
            builder.build()
        }
        AwsCredentials::DefaultChain => {
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .timeout_config(timeouts())
                .http_client(http);
            if let Some(region) = &settings.region {
                loader = loader.region(Region::new(region.clone()));
            }
            if let Some(url) = &settings.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            loader.load().await
        }
    }
}

/// The SDK's default HTTPS client (hyper, rustls on ring, proxy from the environment), built
/// on the first request instead of when an SDK client is constructed. The SDK's own default
/// loads the root certificates and builds a TLS config for every client at construction
/// (`validate_base_client_config`); this one does it once, when a request needs it, and shares
/// the connectors of every client built from the same [`SdkConfig`].
#[derive(Debug, Default, Clone)]
pub struct LazyHttpClient {
    inner: Arc<OnceLock<SharedHttpClient>>,
}

impl LazyHttpClient {
    fn client(&self) -> &SharedHttpClient {
        self.inner.get_or_init(|| {
            aws_smithy_http_client::Builder::new().build_with_connector_fn(
                |settings, components| {
                    let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ));
                    conn.set_connector_settings(settings.cloned());
                    if let Some(components) = components {
                        conn.set_sleep_impl(components.sleep_impl());
                    }
                    conn.set_proxy_config(Some(ProxyConfig::from_env()));
                    conn.build()
                },
            )
        })
    }

    /// Whether the underlying client has been built (by a first request).
    pub fn is_initialized(&self) -> bool {
        self.inner.get().is_some()
    }
}

impl HttpClient for LazyHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        // Deliberately nothing: the default client builds its TLS connector here.
        Ok(())
    }
}

/// Helpers for tests against a local emulator (moto) or fake: feature `test-util`.
#[cfg(feature = "test-util")]
pub mod testing {
    use aws_config::SdkConfig;

    use super::{AwsSettings, sdk_config};

    /// The variable naming the moto endpoint (`http://127.0.0.1:<port>`).
    pub const ENDPOINT_VAR: &str = "OMNIDESK_TEST_AWS_ENDPOINT";

    /// The region every test uses.
    pub const TEST_REGION: &str = "us-east-1";

    /// `url` is an `http://` URL on 127.0.0.1 or localhost.
    pub fn is_loopback(url: &str) -> bool {
        let host = url
            .strip_prefix("http://")
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or_default();
        matches!(host, "127.0.0.1" | "localhost")
    }

    /// Set to `1` (as `./run-tests` does), a missing [`ENDPOINT_VAR`] fails the AWS tests
    /// instead of skipping them: a test run that should cover AWS cannot pass without it.
    pub const REQUIRE_VAR: &str = "OMNIDESK_REQUIRE_AWS_TESTS";

    /// The moto endpoint from [`ENDPOINT_VAR`]: `Ok(None)` when unset, `Err` (naming the
    /// variable) when it is not an `http://` loopback URL, so nothing can reach real AWS, or
    /// when it is unset although [`REQUIRE_VAR`] is `1`.
    pub fn endpoint_from_env() -> Result<Option<String>, String> {
        endpoint_from_lookup(|name| std::env::var(name).ok())
    }

    /// [`endpoint_from_env`] reading variables through `lookup`.
    pub fn endpoint_from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, String> {
        match lookup(ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
            None if lookup(REQUIRE_VAR).as_deref() == Some("1") => Err(format!(
                "{ENDPOINT_VAR} is not set, and {REQUIRE_VAR}=1 requires the AWS tests: start \
                 moto first (./run-tests or infra/ci/moto-tests.sh do)"
            )),
            None => Ok(None),
            Some(url) if is_loopback(&url) => Ok(Some(url)),
            Some(url) => Err(format!(
                "{ENDPOINT_VAR} must be an http:// loopback URL (127.0.0.1), got {url}"
            )),
        }
    }

    /// For a test: the moto endpoint, or `None` after printing why `test` is skipped (run
    /// `infra/ci/moto-tests.sh`). Panics when the variable is not a loopback URL.
    pub fn moto_endpoint(test: &str) -> Option<String> {
        match endpoint_from_env() {
            Ok(Some(url)) => Some(url),
            Ok(None) => {
                eprintln!(
                    "{test}: skipped, {ENDPOINT_VAR} is not set (run infra/ci/moto-tests.sh to \
                     start moto and run the tests that need AWS on the wire)"
                );
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// The settings of a test client: static dummy credentials, [`TEST_REGION`], every
    /// service at `endpoint`.
    pub fn settings(endpoint: &str) -> AwsSettings {
        AwsSettings::static_keys(TEST_REGION, "test", "test", None).with_endpoint_url(endpoint)
    }

    /// [`sdk_config`] of [`settings`]: no credential chain, no instance metadata, nothing but
    /// `endpoint`. Panics unless `endpoint` is a loopback `http://` URL.
    pub async fn moto_sdk_config(endpoint: &str) -> SdkConfig {
        assert!(
            is_loopback(endpoint),
            "test endpoints must be http:// loopback URLs, got {endpoint}"
        );
        sdk_config(&settings(endpoint)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials;

    use super::*;

    fn lookup(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| (*v).to_owned())
    }

    #[test]
    fn the_lambda_environment_gives_static_credentials_region_and_endpoint() {
        let s = AwsSettings::from_lookup(lookup(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret-key"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        let AwsCredentials::Static(c) = &s.credentials else {
            panic!("static credentials expected")
        };
        assert_eq!(c.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(c.session_token(), Some("session"));
        assert!(
            !format!("{s:?}").contains("very-secret-key"),
            "Debug must redact the secret"
        );
    }

    #[test]
    fn without_keys_the_default_chain_is_used_and_the_default_region_is_a_fallback() {
        let s = AwsSettings::from_lookup(lookup(&[
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "  "),
        ]));
        assert_eq!(s.region.as_deref(), Some("us-east-2"));
        assert_eq!(s.credentials, AwsCredentials::DefaultChain);
        assert_eq!(s.endpoint_url, None);
    }

    #[tokio::test]
    async fn a_static_config_carries_region_endpoint_and_keys_and_builds_no_http_client_yet() {
        let settings = AwsSettings::static_keys("eu-central-1", "id", "secret", None)
            .with_endpoint_url("http://127.0.0.1:9");
        let sdk = sdk_config(&settings).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:9"));
        let creds = sdk
            .credentials_provider()
            .expect("a credentials provider")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(creds.access_key_id(), "id");
        assert_eq!(creds.secret_access_key(), "secret");
        // A stalled connection ends the attempt (and is retried) instead of hanging the call.
        let timeouts = sdk.timeout_config().expect("timeouts");
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));

        // Building clients does not build the HTTP client (no TLS setup at construction).
        let lazy = LazyHttpClient::default();
        let sdk = sdk.into_builder().http_client(lazy.clone()).build();
        let _dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let _sqs = aws_sdk_sqs::Client::new(&sdk);
        assert!(!lazy.is_initialized());
    }

    #[tokio::test]
    async fn the_first_request_builds_the_http_client_once_for_every_client() {
        // Nothing listens there any more: the requests fail fast, after connecting.
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        let lazy = LazyHttpClient::default();
        let sdk = sdk_config(
            &AwsSettings::static_keys("us-east-1", "id", "secret", None)
                .with_endpoint_url(format!("http://{addr}")),
        )
        .await
        .into_builder()
        .http_client(lazy.clone())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        assert!(!lazy.is_initialized());
        assert!(dynamo.list_tables().send().await.is_err());
        assert!(lazy.is_initialized());
        assert!(sqs.list_queues().send().await.is_err());
    }

    #[test]
    fn aws_tests_skip_without_moto_unless_they_are_required_and_never_leave_loopback() {
        use super::testing::endpoint_from_lookup;
        let moto = "http://127.0.0.1:5000";
        assert_eq!(endpoint_from_lookup(lookup(&[])), Ok(None));
        assert_eq!(
            endpoint_from_lookup(lookup(&[("OMNIDESK_TEST_AWS_ENDPOINT", moto)])),
            Ok(Some(moto.to_owned()))
        );
        let required = endpoint_from_lookup(lookup(&[("OMNIDESK_REQUIRE_AWS_TESTS", "1")]));
        assert!(
            required
                .as_ref()
                .is_err_and(|e| e.contains("OMNIDESK_TEST_AWS_ENDPOINT")),
            "{required:?}"
        );
        let remote = endpoint_from_lookup(lookup(&[(
            "OMNIDESK_TEST_AWS_ENDPOINT",
            "https://dynamodb.us-east-1.amazonaws.com",
        )]));
        assert!(remote.is_err(), "{remote:?}");
    }
}
