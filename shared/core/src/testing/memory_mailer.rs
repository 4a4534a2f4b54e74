use async_trait::async_trait;
use parking_lot::Mutex;

use crate::{Mailer, OutgoingMail, ProviderError, SentMail};

/// A [`Mailer`] that keeps what it was given. `fail_next` makes the next sends fail.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutgoingMail>>,
    failures: Mutex<Vec<ProviderError>>,
    /// When set, the provider's Message-ID replaces ours (as SES does): `<n>@<domain>`.
    pub replace_ids_with_domain: Option<String>,
}

impl MemoryMailer {
    /// Every mail sent so far, in order.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().clone()
    }

    /// The next send fails with `error` (queue several for several sends).
    pub fn fail_next(&self, error: ProviderError) {
        self.failures.lock().push(error);
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError> {
        {
            let mut failures = self.failures.lock();
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        let mut sent = self.sent.lock();
        sent.push(mail.clone());
        let message_id = match &self.replace_ids_with_domain {
            Some(domain) => format!("{:016x}@{domain}", sent.len()),
            None => mail.message_id.clone(),
        };
        Ok(SentMail {
            message_id,
            location: None,
        })
    }
}
