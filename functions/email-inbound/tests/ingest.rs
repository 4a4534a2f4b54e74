//! Ingest on the in-memory adapters: what a mail becomes, which thread it joins, and that
//! nothing is ever dropped (kept for an operator instead).

use std::sync::Arc;

use omnidesk_core::testing::{MemoryBlobStore, MemoryQueue, MemoryStore};
use omnidesk_core::{MailStore, Mailbox, PageRequest, QueueName, UuidV7Ids};
use omnidesk_domain::{BotId, ChannelRef, EmailAddress, InboundEvent, InboundSource, Timestamp};
use omnidesk_email_inbound::{
    EmailDeps, EmailSettings, Ingested, RawMail, Verdicts, ingest, reimport,
};

struct World {
    deps: EmailDeps,
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
}

async fn world(max_bytes: usize) -> World {
    let store = Arc::new(MemoryStore::default());
    store
        .put_mailbox(&Mailbox {
            address: EmailAddress::parse("support@example.com").unwrap(),
            name: Some("Support".into()),
            bot_id: Some(BotId::parse("77").unwrap()),
            created_at: Timestamp::from_millis(0),
        })
        .await
        .unwrap();
    let queue = Arc::new(MemoryQueue::new());
    let deps = EmailDeps {
        mail: store.clone(),
        blobs: Arc::new(MemoryBlobStore::new()),
        queue: queue.clone(),
        clock: Arc::new(omnidesk_core::SystemClock),
        ids: Arc::new(UuidV7Ids),
        settings: EmailSettings { max_bytes },
    };
    World { deps, store, queue }
}

fn mail(extra_headers: &str, body: &str) -> String {
    format!(
        "From: Bob <bob@customer.org>\r\nTo: support@example.com\r\nSubject: Help\r\n\
         {extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

async fn put(w: &World, raw: &str) -> Ingested {
    put_with(w, raw, Verdicts::default()).await
}

async fn put_with(w: &World, raw: &str, verdicts: Verdicts) -> Ingested {
    ingest(
        &w.deps,
        RawMail {
            bytes: raw.as_bytes(),
            recipients: Vec::new(),
            source: "test".into(),
            verdicts,
        },
    )
    .await
    .unwrap()
}

/// The queued events, oldest first.
fn queued(w: &World) -> Vec<omnidesk_domain::ChannelMessage> {
    w.queue
        .pending(QueueName::Inbound)
        .iter()
        .map(
            |b| match serde_json::from_str::<InboundEvent>(b).unwrap().source {
                InboundSource::Message(m) => m,
                other => panic!("not a message: {other:?}"),
            },
        )
        .collect()
}

fn key_of(outcome: &Ingested) -> omnidesk_domain::ConversationKey {
    match outcome {
        Ingested::Queued { key, .. } => key.clone(),
        other => panic!("not queued: {other:?}"),
    }
}

#[tokio::test]
async fn a_new_mail_opens_a_thread_asks_for_an_acknowledgement_and_offers_the_bot() {
    let w = world(1 << 20).await;
    let out = put(&w, &mail("Message-ID: <a1@customer.org>\r\n", "Hi there")).await;
    assert!(matches!(
        out,
        Ingested::Queued {
            new_thread: true,
            ..
        }
    ));
    let m = &queued(&w)[0];
    assert_eq!(m.text, "Hi there");
    assert!(m.acknowledge);
    assert_eq!(m.continue_on, Some(BotId::parse("77").unwrap()));
    assert_eq!(m.no_auto_reply, None);
    assert_eq!(
        m.source_key,
        format!(
            "email:{}",
            omnidesk_email::message_id_ref("a1@customer.org")
        )
    );
    let Some(ChannelRef::Email(e)) = &m.channel_ref else {
        panic!("an e-mail reference")
    };
    assert_eq!(e.message_id, "a1@customer.org");
    assert_eq!(e.customer.as_ref().unwrap().as_str(), "bob@customer.org");
    assert!(e.raw.is_some(), "the raw message is kept");
}

#[tokio::test]
async fn replies_thread_by_reply_address_references_and_subject_tag_in_that_order() {
    let w = world(1 << 20).await;
    let first = key_of(&put(&w, &mail("Message-ID: <t1@customer.org>\r\n", "one")).await);
    let thread = first.email_thread().unwrap().to_owned();
    // By References (a client that dropped the reply+ address).
    let by_refs = put(
        &w,
        &mail(
            "Message-ID: <t2@customer.org>\r\nReferences: <unknown@x> <t1@customer.org>\r\n",
            "two",
        ),
    )
    .await;
    assert_eq!(key_of(&by_refs), first);
    // By the subject tag alone.
    let tag = omnidesk_email::subject_tag(&thread);
    let by_tag = put(
        &w,
        &format!(
            "From: bob@customer.org\r\nTo: support@example.com\r\nSubject: Re: Help {tag}\r\n\
             Message-ID: <t3@customer.org>\r\n\r\nthree\r\n"
        ),
    )
    .await;
    assert_eq!(key_of(&by_tag), first);
    // By the reply+ address (the envelope's recipient), even with no headers to go by.
    let to = omnidesk_email::reply_address("support@example.com", &thread);
    let by_address = ingest(
        &w.deps,
        RawMail {
            bytes:
                b"From: bob@customer.org\r\nSubject: x\r\nMessage-ID: <t4@c.org>\r\n\r\nfour\r\n",
            recipients: vec![to],
            source: "test".into(),
            verdicts: Verdicts::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(key_of(&by_address), first);
    assert!(
        queued(&w).iter().skip(1).all(|m| !m.acknowledge),
        "replies are not acknowledged"
    );
    // Something else entirely is a new thread.
    let other = put(&w, &mail("Message-ID: <o1@customer.org>\r\n", "new")).await;
    assert_ne!(key_of(&other), first);
}

#[tokio::test]
async fn the_same_mail_twice_keeps_its_thread_and_its_source_key() {
    let w = world(1 << 20).await;
    let raw = mail("Message-ID: <dup@customer.org>\r\n", "once");
    let a = key_of(&put(&w, &raw).await);
    let b = key_of(&put(&w, &raw).await);
    assert_eq!(a, b);
    // One queued event: the queue's deduplication id is the source key (the router also
    // stores a message once per source key, for a redelivery the queue no longer dedupes).
    assert_eq!(queued(&w).len(), 1);
    // Without a Message-ID the bytes stand in.
    let bare = "From: bob@customer.org\r\nTo: support@example.com\r\n\r\nno id\r\n";
    let c = key_of(&put(&w, bare).await);
    let d = key_of(&put(&w, bare).await);
    assert_eq!(c, d);
}

#[tokio::test]
async fn automatic_mail_is_routed_but_marked_so_nothing_automatic_answers_it() {
    let w = world(1 << 20).await;
    for (headers, from) in [
        ("Auto-Submitted: auto-replied\r\n", "bob@customer.org"),
        ("Precedence: bulk\r\n", "bob@customer.org"),
        ("List-Id: <news.customer.org>\r\n", "bob@customer.org"),
        ("", "no-reply@customer.org"),
        ("", "alerts@example.com"),
    ] {
        let raw = format!(
            "From: {from}\r\nTo: support@example.com\r\nSubject: s\r\n{headers}\r\nbody\r\n"
        );
        put(&w, &raw).await;
        let m = queued(&w).pop().unwrap();
        assert!(m.no_auto_reply.is_some(), "{headers}{from}: {m:?}");
        assert!(!m.acknowledge || m.no_auto_reply.is_some());
    }
}

#[tokio::test]
async fn quarantined_oversize_unreadable_and_misaddressed_mail_is_never_lost() {
    let w = world(4096).await;
    let virus = put_with(
        &w,
        &mail("", "x"),
        Verdicts {
            virus: Some("FAIL".into()),
            ..Verdicts::default()
        },
    )
    .await;
    assert!(matches!(&virus, Ingested::Kept { reason, .. } if reason.contains("virus")));
    let spam = put_with(
        &w,
        &mail("", "x"),
        Verdicts {
            spam: Some("FAIL".into()),
            dkim: Some("PASS".into()),
            ..Verdicts::default()
        },
    )
    .await;
    assert!(matches!(&spam, Ingested::Kept { reason, .. } if reason.contains("spam")));
    let big = put(&w, &mail("", &"a".repeat(5000))).await;
    assert!(matches!(&big, Ingested::Kept { reason, .. } if reason.contains("larger than")));
    // The sender is told, politely and automatically; an automatic sender is not.
    let refusals = w.queue.pending(QueueName::Outbound);
    assert_eq!(refusals.len(), 1);
    let omnidesk_core::OutboundBody::Mail(refusal) = serde_json::from_str(&refusals[0]).unwrap()
    else {
        panic!("a system mail")
    };
    assert_eq!(refusal.to.as_str(), "bob@customer.org");
    assert!(
        refusal.text.contains("larger than we can accept"),
        "{}",
        refusal.text
    );
    put(
        &w,
        &mail("Auto-Submitted: auto-generated\r\n", &"b".repeat(5000)),
    )
    .await;
    assert_eq!(w.queue.pending(QueueName::Outbound).len(), 1);
    let empty = put(&w, "").await;
    assert!(matches!(&empty, Ingested::Kept { reason, .. } if reason.contains("unreadable")));
    assert!(queued(&w).is_empty(), "nothing kept is routed");
    let kept = w
        .store
        .list_unprocessable(&PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(kept.len(), 5);
    assert!(kept.iter().all(|k| !k.blob.is_empty()));
    // Not ours: said so, not kept.
    let stranger = put(
        &w,
        "From: a@b.org\r\nTo: sales@elsewhere.org\r\nMessage-ID: <s@b.org>\r\n\r\nhi\r\n",
    )
    .await;
    assert_eq!(stranger, Ingested::NoMailbox);
    // A quarantine judged wrong is imported again, without the verdicts.
    let Ingested::Kept { id, .. } = virus else {
        unreachable!()
    };
    let again = reimport(&w.deps, &id).await.unwrap().unwrap();
    assert!(matches!(again, Ingested::Queued { .. }));
    assert_eq!(queued(&w).len(), 1);
    assert!(
        reimport(&w.deps, &id).await.unwrap().is_none(),
        "forgotten once imported"
    );
}

#[tokio::test]
async fn a_permanent_bounce_threads_to_our_mail_and_reports_the_contact_unreachable() {
    let w = world(1 << 20).await;
    let ours = omnidesk_domain::ConversationKey::email("abcdefghijklmnopqrstuvwxyz");
    w.store
        .link_thread(&omnidesk_email::message_id_ref("ours-1@example.com"), &ours)
        .await
        .unwrap();
    let dsn = "From: MAILER-DAEMON@mx.customer.org\r\nTo: support@example.com\r\n\
               Subject: Undelivered\r\nMIME-Version: 1.0\r\n\
               Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
               --b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
               --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n\
               Final-Recipient: rfc822; bob@customer.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
               Diagnostic-Code: smtp; 550 User unknown\r\n\
               --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
               Message-ID: <ours-1@example.com>\r\n--b--\r\n";
    let out = put(&w, dsn).await;
    assert_eq!(key_of(&out), ours);
    let m = queued(&w).pop().unwrap();
    let reason = m.unreachable.expect("unreachable");
    assert!(
        reason.contains("bob@customer.org") && reason.contains("5.1.1"),
        "{reason}"
    );
    assert!(m.notice.is_some() && m.no_auto_reply.is_some());
}
