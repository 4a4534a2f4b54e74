//! [`SesMailer`]: the [`Mailer`] port on SESv2 `SendEmail` with raw content.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::timeout::TimeoutConfig;
use omnidesk_core::{Mailer, OutgoingMail, ProviderError, SentMail};

use crate::sdk::CONNECT_TIMEOUT;

/// Longest a single `SendEmail` attempt may take: a raw mail with attachments is megabytes
/// (SES takes up to 40 MB), which the shared 5 s attempt budget of DynamoDB and SQS would cut
/// off.
pub const SES_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The domain of the `Message-ID` SES gives a mail sent in `region`:
/// `email.amazonses.com` in us-east-1, `<region>.amazonses.com` elsewhere.
///
/// AWS documents only that "if you provide a Message-ID header, Amazon SES overrides the
/// header with its own value" (<https://docs.aws.amazon.com/ses/latest/dg/header-fields.html>)
/// and that the API returns that value's id (`SendEmail` response `MessageId`); the domain is
/// not documented. What recipients see, per raw headers quoted in public bug reports: the
/// regional form `<id>@<region>.amazonses.com` (e.g. `eu-west-1`, `us-west-2`:
/// drewblas/aws-ses#68, Mnexa-AI/e2a#498, odoo/odoo#280971) and the historical
/// `<id>@email.amazonses.com`, which us-east-1, SES's first region, still uses. AWS does not
/// guarantee the format: [`SesMailer::with_message_id_domain`] overrides it.
pub fn ses_message_id_domain(region: &str) -> String {
    match region {
        "us-east-1" | "" => "email.amazonses.com".to_owned(),
        other => format!("{other}.amazonses.com"),
    }
}

/// Sends composed mails through SESv2 `SendEmail` (`Content.Raw`: the bytes as composed,
/// `FromEmailAddress` and `Destination.ToAddresses` from the envelope, an optional
/// configuration set).
///
/// SES replaces the mail's `Message-ID` with its own; [`SentMail::message_id`] is that one
/// (`<MessageId>@<domain>`, see [`ses_message_id_domain`]), so a reply's `In-Reply-To` leads
/// back to the conversation. Our own id stays in the mail only if the composer also put it in
/// `References` (SES leaves that header alone).
///
/// Errors: throttling (`TooManyRequestsException`, `LimitExceededException`, 429), 5xx,
/// timeouts and transport failures are [`ProviderError::Transient`]; `MessageRejected`,
/// `MailFromDomainNotVerifiedException`, `AccountSuspendedException`,
/// `SendingPausedException`, `BadRequestException`, `NotFoundException` (an unknown
/// configuration set) and other 4xx are [`ProviderError::Permanent`], with a reason an
/// operator can act on.
///
/// IAM: `ses:SendEmail` (the action of SESv2 `SendEmail`, whatever the content) on the sending
/// identity, and on the configuration set if one is used; `template.yaml` also grants
/// `ses:SendRawEmail`, as AWS CDK's `grantSendEmail` does.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    configuration_set: Option<String>,
    message_id_domain: String,
}

impl SesMailer {
    /// A mailer on `client`; the `Message-ID` domain follows the client's region.
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        Self {
            client,
            configuration_set: None,
            message_id_domain: ses_message_id_domain(&region),
        }
    }

    /// A mailer with a client built from `sdk`: an attempt may take [`SES_ATTEMPT_TIMEOUT`].
    pub fn from_conf(sdk: &SdkConfig) -> Self {
        Self::new(aws_sdk_sesv2::Client::from_conf(
            Self::client_config(sdk).build(),
        ))
    }

    /// The SESv2 client configuration [`SesMailer::from_conf`] uses.
    pub fn client_config(sdk: &SdkConfig) -> aws_sdk_sesv2::config::Builder {
        aws_sdk_sesv2::config::Builder::from(sdk).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(SES_ATTEMPT_TIMEOUT)
                .build(),
        )
    }

    /// Sends with this configuration set (event publishing, dedicated IPs); `None` or an
    /// empty name sends without one.
    #[must_use]
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name.filter(|n| !n.trim().is_empty());
        self
    }

    /// Overrides the domain of the returned `Message-ID` (see [`ses_message_id_domain`]).
    #[must_use]
    pub fn with_message_id_domain(mut self, domain: impl Into<String>) -> Self {
        self.message_id_domain = domain.into();
        self
    }

    /// The domain of the returned `Message-ID`s.
    pub fn message_id_domain(&self) -> &str {
        &self.message_id_domain
    }

    /// The client (tests create identities through it).
    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }
}

#[async_trait]
impl Mailer for SesMailer {
    #[tracing::instrument(skip_all, fields(to = mail.to.len(), bytes = mail.raw.len()))]
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError> {
        if mail.to.is_empty() {
            return Err(ProviderError::Permanent(
                "SES SendEmail: the mail has no recipient".to_owned(),
            ));
        }
        let destination = Destination::builder()
            .set_to_addresses(Some(mail.to.iter().map(|a| a.to_string()).collect()))
            .build();
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw.clone()))
            .build()
            .map_err(|e| ProviderError::Permanent(format!("SES raw message: {e}")))?;
        let out = self
            .client
            .send_email()
            .from_email_address(mail.from.as_str())
            .destination(destination)
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let message_id = match out.message_id().filter(|id| !id.is_empty()) {
            Some(id) => format!("{id}@{}", self.message_id_domain),
            None => {
                // Sent, but SES named no id: retrying would send it twice. Replies then fall
                // back to `References`, which still carries ours.
                tracing::warn!("SES SendEmail returned no MessageId; keeping the composed one");
                mail.message_id.clone()
            }
        };
        Ok(SentMail {
            message_id,
            location: None,
        })
    }
}

fn classify(err: &SdkError<SendEmailError, HttpResponse>) -> ProviderError {
    let detail = DisplayErrorContext(err);
    let permanent =
        |why: &str| ProviderError::Permanent(format!("SES SendEmail: {why} ({detail})"));
    let transient =
        |why: &str| ProviderError::Transient(format!("SES SendEmail: {why} ({detail})"));
    match err.as_service_error() {
        Some(SendEmailError::MessageRejected(_)) => permanent(
            "the message was rejected (an unverified sender, a recipient not verified while \
             the account is in the sandbox, or content SES refuses)",
        ),
        Some(SendEmailError::MailFromDomainNotVerifiedException(_)) => {
            permanent("the sending domain is not verified in SES")
        }
        Some(SendEmailError::AccountSuspendedException(_)) => {
            permanent("the account's sending is suspended")
        }
        Some(SendEmailError::SendingPausedException(_)) => {
            permanent("sending is paused for the account or the configuration set")
        }
        Some(SendEmailError::BadRequestException(_)) => permanent("the request is invalid"),
        Some(SendEmailError::NotFoundException(_)) => {
            permanent("the configuration set does not exist")
        }
        Some(SendEmailError::TooManyRequestsException(_)) => transient("throttled"),
        // The sending rate or the 24-hour quota: later sends can succeed.
        Some(SendEmailError::LimitExceededException(_)) => transient("a sending limit is exceeded"),
        Some(other) if other.code().is_some_and(|c| c.contains("Throttl")) => {
            transient("throttled")
        }
        _ => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(429) => transient("throttled"),
            Some(s) if (400..500).contains(&s) && s != 408 => permanent("refused"),
            Some(_) => transient("service error"),
            // Timeouts, connection failures.
            None => transient("no answer"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_domain_is_regional_except_in_us_east_1() {
        assert_eq!(ses_message_id_domain("us-east-1"), "email.amazonses.com");
        assert_eq!(
            ses_message_id_domain("eu-west-1"),
            "eu-west-1.amazonses.com"
        );
        assert_eq!(
            ses_message_id_domain("us-west-2"),
            "us-west-2.amazonses.com"
        );
    }
}
