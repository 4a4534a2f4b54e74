//! The e-mail arm of the sender: an outgoing message of an e-mail conversation becomes a reply
//! to the customer's newest mail, threaded (`In-Reply-To`, `References`, `Re:` subject with
//! the ticket tag, a `reply+<token>@` Reply-To), with a plain-text and an HTML part and the
//! message's files, sent by the configured [`Mailer`]. The Message-ID the recipient sees (SES
//! replaces ours) and ours both lead back to the conversation, so the customer's answer
//! threads. A bot's message (an acknowledgement) is marked `Auto-Submitted: auto-replied`.

use std::sync::Arc;

use omnidesk_core::{
    JobError, JobOutcome, MailStore, Mailer, OutgoingMail, PageRequest, ProviderError,
};
use omnidesk_domain::{
    Author, Channel, ChannelRef, Conversation, Delivery, DeliveryStatus, Direction, EmailAddress,
    EmailRef, Identity, Message,
};
use omnidesk_email::{Address, Draft, OutFile};

use crate::{MAX_ATTEMPTS, SenderDeps, fail, record_delivery, save_still_sending};

/// The e-mail side of the sender.
#[derive(Clone)]
pub struct EmailOut {
    pub mailer: Arc<dyn Mailer>,
    /// Mailboxes (the From of a reply) and thread references (our Message-IDs are linked so
    /// replies thread).
    pub mail: Arc<dyn MailStore>,
}

/// Files larger than this in total do not go by e-mail (providers refuse 25 MB and more
/// after encoding grows them by a third).
pub const MAX_EMAIL_FILES_BYTES: u64 = 18 * 1024 * 1024;

/// How many `References` a reply carries at most (the newest ones).
const MAX_REFERENCES: usize = 20;

pub(crate) async fn send_email(
    deps: &SenderDeps,
    message: &Message,
    conversation: &Conversation,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let Some(out) = &deps.email else {
        fail(
            deps,
            message,
            None,
            "e-mail is not set up on this deployment".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    let contact = deps.contacts.get_contact(conversation.contact_id).await?;
    if let Some(u) = contact
        .as_ref()
        .and_then(|c| c.unreachable_on(Channel::Email))
    {
        fail(
            deps,
            message,
            None,
            format!(
                "not sent: the contact's e-mail address is undeliverable ({})",
                u.reason
            ),
        )
        .await?;
        return Ok(JobOutcome::Done);
    }
    let recent = deps
        .messages
        .list_messages(conversation.id, &PageRequest::first(50))
        .await?
        .items;
    // The newest mail of the customer: what this replies to.
    let last = recent
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .find_map(Message::email_ref);
    let first_subject = recent.iter().rev().find_map(|m| {
        m.email_ref()
            .and_then(|e| e.subject.clone())
            .filter(|s| !s.trim().is_empty())
    });
    let (in_reply_to, mut references, customer, mailbox) = match last {
        Some(e) => (
            Some(e.message_id.clone()),
            e.references.clone(),
            e.customer.clone(),
            e.mailbox.clone(),
        ),
        None => (None, Vec::new(), None, None),
    };
    let customer = customer.or_else(|| {
        contact
            .as_ref()
            .and_then(|c| email_of(&c.identities).cloned())
    });
    let Some(customer) = customer else {
        fail(
            deps,
            message,
            None,
            "the contact has no e-mail address".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    let Some(mailbox) = mailbox_or_first(out, mailbox.as_ref()).await? else {
        fail(
            deps,
            message,
            None,
            "no mailbox is set up to send from (omnidesk mailbox add)".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    let Some(thread) = conversation
        .key_on(Channel::Email)
        .and_then(|k| k.email_thread())
        .map(str::to_owned)
    else {
        fail(
            deps,
            message,
            None,
            "the conversation has no e-mail thread".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    if let Some(id) = &in_reply_to
        && !references.contains(id)
    {
        references.push(id.clone());
    }
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }

    // Files: read from blob storage, within what mail carries.
    let mut files = Vec::new();
    let mut total = 0u64;
    for a in &message.attachments {
        let Some(key) = &a.blob else { continue };
        let blob = match deps.blobs.get(key).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                fail(
                    deps,
                    message,
                    None,
                    format!(
                        "the file {} is gone from storage",
                        a.file_name.as_deref().unwrap_or("file")
                    ),
                )
                .await?;
                return Ok(JobOutcome::Done);
            }
            Err(e) => return retry_or_fail(deps, message, receive_count, e.to_string()).await,
        };
        total += blob.bytes.len() as u64;
        if total > MAX_EMAIL_FILES_BYTES {
            fail(
                deps,
                message,
                None,
                format!(
                    "the files are too large for e-mail together (more than {}); send a link instead",
                    omnidesk_domain::human_size(MAX_EMAIL_FILES_BYTES)
                ),
            )
            .await?;
            return Ok(JobOutcome::Done);
        }
        files.push(OutFile {
            file_name: a.file_name.clone().unwrap_or_else(|| "file".to_owned()),
            content_type: a
                .mime_type
                .clone()
                .unwrap_or_else(|| blob.content_type.clone()),
            bytes: blob.bytes,
        });
    }

    let team = mailbox.name.clone().unwrap_or_else(|| "Support".to_owned());
    let from_name = match message.author {
        Author::Agent { id } => match deps.agents.get_agent(id).await? {
            Some(agent) => format!("{} ({team})", agent.name),
            None => team.clone(),
        },
        _ => team.clone(),
    };
    let tag = omnidesk_email::subject_tag(&thread);
    let base = first_subject.unwrap_or_default();
    let mut subject = omnidesk_email::reply_subject(&base);
    if omnidesk_email::find_subject_tag(&subject).is_none() {
        subject = format!("{subject} {tag}");
    }
    let automatic = matches!(message.author, Author::Bot | Author::Ai);
    let draft = Draft {
        from: Address {
            address: mailbox.address.as_str().to_owned(),
            name: Some(from_name),
        },
        reply_to: Some(omnidesk_email::reply_address(
            mailbox.address.as_str(),
            &thread,
        )),
        to: Address {
            address: customer.as_str().to_owned(),
            name: contact
                .as_ref()
                .map(|c| c.display_name.clone())
                .filter(|n| !n.contains('@')),
        },
        subject: subject.clone(),
        in_reply_to: in_reply_to.clone(),
        references: references.clone(),
        text: message.text.clone(),
        html: None,
        attachments: files,
        auto_submitted: automatic.then(|| "auto-replied".to_owned()),
        message_id_domain: mailbox.domain().to_owned(),
        unique: message.id.to_string(),
        date_millis: deps.clock.now().millis(),
        extra_headers: Vec::new(),
    };
    let (mail, our_id) = outgoing(&draft, &mailbox, &customer);
    let attempts = message.delivery.attempts.saturating_add(1);
    match out.mailer.send(&mail).await {
        Ok(sent) => {
            // Both ids lead here: the one the customer's client will quote, and ours (a
            // provider that kept it, a copy that went another way).
            let key = omnidesk_domain::ConversationKey::email(&thread);
            for id in [&sent.message_id, &our_id] {
                out.mail
                    .link_thread(&omnidesk_email::message_id_ref(id), &key)
                    .await?;
            }
            if sent.message_id != our_id {
                references.push(our_id);
            }
            tracing::info!(location = ?sent.location, "e-mail sent");
            let delivery = Delivery {
                status: DeliveryStatus::Sent,
                reason: None,
                attempts,
                updated_at: deps.clock.now(),
            };
            let channel_ref = ChannelRef::Email(Box::new(EmailRef {
                subject: Some(subject),
                customer: Some(customer),
                mailbox: Some(mailbox.address),
                references,
                ..EmailRef::new(sent.message_id)
            }));
            record_delivery(deps, message, &delivery, Some(&channel_ref)).await?;
            Ok(JobOutcome::Done)
        }
        Err(ProviderError::Permanent(e)) => {
            tracing::warn!(error = %e, "the mail provider refused the message");
            fail(
                deps,
                message,
                None,
                format!("the mail server refused it: {e}"),
            )
            .await?;
            Ok(JobOutcome::Done)
        }
        Err(ProviderError::Transient(e)) => retry_or_fail(deps, message, receive_count, e).await,
    }
}

/// A transient failure: retried with backoff, failed for good after [`MAX_ATTEMPTS`].
async fn retry_or_fail(
    deps: &SenderDeps,
    message: &Message,
    receive_count: u32,
    error: String,
) -> Result<JobOutcome, JobError> {
    let attempts = message.delivery.attempts.saturating_add(1);
    if receive_count >= MAX_ATTEMPTS {
        fail(
            deps,
            message,
            None,
            format!("gave up after {receive_count} attempts: {error}"),
        )
        .await?;
        return Ok(JobOutcome::Done);
    }
    save_still_sending(
        deps,
        message,
        attempts,
        None,
        Some(format!("mail server unavailable, retrying: {error}")),
    )
    .await?;
    Err(JobError::Transient(format!(
        "mail server unavailable: {error}"
    )))
}

/// The customer's address on an e-mail identity, if the contact has one.
pub fn email_of(identities: &[Identity]) -> Option<&EmailAddress> {
    identities.iter().find_map(|i| match i {
        Identity::Email { address, .. } => Some(address),
        _ => None,
    })
}

/// Sends a mail that belongs to no conversation (a `/bind` code): from its mailbox (the first
/// one when unset), automatic, not threaded. Nothing records it but the log; a transient
/// failure is retried by the queue, a permanent one logged and dropped (the customer asks
/// for a new code).
pub(crate) async fn send_system_mail(
    deps: &SenderDeps,
    mail: &omnidesk_core::SystemMail,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let Some(out) = &deps.email else {
        tracing::warn!("a system mail without e-mail set up; dropped");
        return Ok(JobOutcome::Done);
    };
    let Some(mailbox) = mailbox_or_first(out, mail.from.as_ref()).await? else {
        tracing::warn!("a system mail but no mailbox to send it from; dropped");
        return Ok(JobOutcome::Done);
    };
    let draft = Draft {
        from: Address {
            address: mailbox.address.as_str().to_owned(),
            name: Some(mailbox.name.clone().unwrap_or_else(|| "Support".to_owned())),
        },
        reply_to: None,
        to: Address {
            address: mail.to.as_str().to_owned(),
            name: None,
        },
        subject: mail.subject.clone(),
        in_reply_to: None,
        references: Vec::new(),
        text: mail.text.clone(),
        html: None,
        attachments: Vec::new(),
        auto_submitted: Some("auto-generated".to_owned()),
        message_id_domain: mailbox.domain().to_owned(),
        unique: mail.id.clone(),
        date_millis: deps.clock.now().millis(),
        extra_headers: Vec::new(),
    };
    let (outgoing, _) = outgoing(&draft, &mailbox, &mail.to);
    match out.mailer.send(&outgoing).await {
        Ok(sent) => {
            tracing::info!(location = ?sent.location, "system mail sent");
            Ok(JobOutcome::Done)
        }
        Err(ProviderError::Permanent(e)) => {
            tracing::warn!(error = %e, "system mail refused; dropped");
            Ok(JobOutcome::Done)
        }
        Err(ProviderError::Transient(e)) if receive_count < MAX_ATTEMPTS => {
            Err(JobError::Transient(format!("mail server unavailable: {e}")))
        }
        Err(ProviderError::Transient(e)) => {
            tracing::warn!(error = %e, "system mail given up");
            Ok(JobOutcome::Done)
        }
    }
}

/// The mailbox `address` names, or the first one when it names none (or one removed since).
async fn mailbox_or_first(
    out: &EmailOut,
    address: Option<&EmailAddress>,
) -> Result<Option<omnidesk_core::Mailbox>, JobError> {
    if let Some(a) = address
        && let Some(m) = out.mail.get_mailbox(a).await?
    {
        return Ok(Some(m));
    }
    Ok(out.mail.list_mailboxes().await?.into_iter().next())
}

/// The composed `draft` as a mail from `mailbox` to `to`, and its Message-ID.
fn outgoing(
    draft: &Draft,
    mailbox: &omnidesk_core::Mailbox,
    to: &EmailAddress,
) -> (OutgoingMail, String) {
    let composed = omnidesk_email::compose(draft);
    let id = composed.message_id.clone();
    (
        OutgoingMail {
            from: mailbox.address.clone(),
            to: vec![to.clone()],
            message_id: composed.message_id,
            raw: composed.raw,
        },
        id,
    )
}
