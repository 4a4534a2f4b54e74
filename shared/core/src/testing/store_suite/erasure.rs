//! [`ErasureStore`]: what an erasure or the retention sweep deletes is gone from every other
//! port, what belongs to others stays, and every call can run again.

use std::collections::BTreeSet;

use omnidesk_domain::{
    Attachment, AttachmentKind, ChannelRef, ConversationKey, EmailRef, Identity, MessageId,
};
use uuid::Uuid;

use super::{
    email_identity, fresh, inbound_message, new_contact, new_conversation, now, ok,
    sourced_message, web_identity,
};
use crate::{
    AiStore, AppendOutcome, CachedTranslation, PageRequest, Store, StoredToken, TokenKind,
    TranslationStore, WebStore, blob_key,
};

fn file(key: &str) -> Attachment {
    let mut a = Attachment::new(AttachmentKind::File, format!("suite-file:{}", fresh()));
    a.blob = Some(key.to_owned());
    a.file_name = Some("passport.pdf".to_owned());
    a
}

/// A fresh blob key (what a stored file's bytes hash to).
fn fresh_key() -> String {
    blob_key(fresh().as_bytes())
}

/// Erasure and retention deletes, on a store that has the AI call log, tokens and the
/// translation cache too.
pub async fn erasure(
    store: &dyn Store,
    ai: &dyn AiStore,
    web: &dyn WebStore,
    translations: &dyn TranslationStore,
) {
    let base = now();
    // Contact A: a web and an e-mail identity, one conversation on two keys.
    let a = new_contact(web_identity());
    ok("create_contact", store.create_contact(&a).await);
    let a_mail = email_identity();
    ok("add_identity", store.add_identity(a.id, &a_mail).await);
    let a = ok("get_contact", store.get_contact(a.id).await).expect("contact A");
    let mut c1 = new_conversation(a.id, base);
    ok("create_conversation", store.create_conversation(&c1).await);
    let second_key = ConversationKey::parse(&format!("suite:{}", fresh())).expect("key");
    ok(
        "claim_conversation_key",
        store.claim_conversation_key(c1.id, &second_key).await,
    );
    c1.add_key(second_key.clone());
    let c1 = ok("update_conversation", store.update_conversation(&c1).await);

    // Its messages: a file only A sent, a file B sent too, an e-mail with raw and HTML, two
    // old ones (one with a source claim under another id), a recent one.
    let (own, shared, raw, html) = (fresh_key(), fresh_key(), fresh_key(), fresh_key());
    let mut with_files = inbound_message(c1.id, "my passport and the invoice");
    with_files.attachments = vec![file(&own), file(&shared)];
    let mut mail = inbound_message(c1.id, "a mail");
    let mut r = EmailRef::new(format!("{}@suite.example", fresh()));
    r.raw = Some(raw.clone());
    r.html = Some(html.clone());
    mail.channel_ref = Some(ChannelRef::Email(Box::new(r)));
    let old_at = base.plus_millis(-40 * 24 * 3_600_000);
    let old_source = format!("suite:{}", fresh());
    let old = sourced_message(c1.id, "an old message", &old_source, old_at);
    let claimed_source = format!("suite:{}", fresh());
    let mut claimed = inbound_message(c1.id, "an old message under a random id");
    // Its id is not derived from its source key: the store claims the key separately.
    claimed.id = MessageId::derived(old_at.plus_millis(5), 1, "another source");
    claimed.created_at = old_at.plus_millis(5);
    claimed.source_key = Some(claimed_source.clone());
    for m in [&with_files, &mail, &old, &claimed] {
        assert_eq!(
            ok("append_message", store.append_message(m).await),
            AppendOutcome::Inserted
        );
    }
    let call = crate::AiCall {
        id: Uuid::now_v7().to_string(),
        conversation_id: c1.id,
        message_id: Some(with_files.id),
        at: base,
        kind: "answer".to_owned(),
        provider: "openai".to_owned(),
        model: "suite".to_owned(),
        prompt: "the customer's passport".to_owned(),
        answer: "ok".to_owned(),
        outcome: "reply".to_owned(),
        usage: crate::TokenUsage::default(),
        cost_micros: 0,
        latency_ms: 1,
    };
    ok("record_ai_call", ai.record_ai_call(&call).await);

    // Contact B shares one file's bytes.
    let b = new_contact(web_identity());
    ok("create_contact", store.create_contact(&b).await);
    let c2 = new_conversation(b.id, base);
    ok("create_conversation", store.create_conversation(&c2).await);
    let mut b_file = inbound_message(c2.id, "the same file");
    b_file.attachments = vec![file(&shared)];
    ok("append_message", store.append_message(&b_file).await);

    // Files in use.
    let keys: BTreeSet<String> = [&own, &shared, &raw, &html].into_iter().cloned().collect();
    let only_c1 = BTreeSet::from([c1.id]);
    assert_eq!(
        ok(
            "blobs_in_use",
            store.blobs_in_use(&keys, &only_c1, &BTreeSet::new()).await
        ),
        BTreeSet::from([shared.clone()]),
        "blobs_in_use: only the file another conversation holds is in use"
    );
    let c1_messages = BTreeSet::from([with_files.id, mail.id]);
    assert_eq!(
        ok(
            "blobs_in_use",
            store
                .blobs_in_use(&keys, &BTreeSet::new(), &c1_messages)
                .await
        ),
        BTreeSet::from([shared.clone()]),
        "blobs_in_use: the messages excluded do not hold their files"
    );
    assert_eq!(
        ok(
            "blobs_in_use",
            store
                .blobs_in_use(&keys, &BTreeSet::new(), &BTreeSet::new())
                .await
        ),
        keys,
        "blobs_in_use: every file a stored message names is in use"
    );

    // Retention: the old messages, oldest first, then gone.
    let cutoff = base.plus_millis(-30 * 24 * 3_600_000);
    let before = ok(
        "messages_before",
        store.messages_before(c1.id, cutoff, 10).await,
    );
    let ids: Vec<MessageId> = before.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        vec![old.id, claimed.id],
        "messages_before returns the messages created before the cutoff, oldest first, and only them"
    );
    assert_eq!(
        ok(
            "messages_before",
            store.messages_before(c1.id, cutoff, 1).await
        )
        .len(),
        1,
        "messages_before returns at most `limit`"
    );
    ok("erase_messages", store.erase_messages(c1.id, &ids).await);
    ok(
        "erase_messages again",
        store.erase_messages(c1.id, &ids).await,
    );
    for id in &ids {
        assert_eq!(
            ok("get_message", store.get_message(c1.id, *id).await),
            None,
            "erase_messages deletes the message"
        );
    }
    assert!(
        ok(
            "messages_before",
            store.messages_before(c1.id, cutoff, 10).await
        )
        .is_empty(),
        "nothing is older than the cutoff after erase_messages"
    );
    let mut again = inbound_message(c1.id, "a source key erased is free again");
    again.source_key = Some(claimed_source);
    assert_eq!(
        ok("append_message", store.append_message(&again).await),
        AppendOutcome::Inserted,
        "erase_messages releases the message's source claim"
    );

    // Tokens in flight: those of the owners named go, others stay.
    let token = |kind: TokenKind, owner: &str| StoredToken {
        kind,
        hash: format!("suite-{}", fresh()),
        owner: owner.to_owned(),
        payload: "{\"address\":\"a@example.com\"}".to_owned(),
        expires_at: now().plus_millis(600_000),
    };
    let c1_owner = format!("conversation:{}", c1.id);
    let a_owner = format!("suite-owner-{}", fresh());
    let other_owner = format!("suite-owner-{}", fresh());
    let gone = [
        token(TokenKind::Handoff, &c1_owner),
        token(TokenKind::BindCode, &a_owner),
    ];
    let kept = token(TokenKind::Handoff, &other_owner);
    for t in gone.iter().chain([&kept]) {
        ok("put_token", web.put_token(t).await);
    }
    ok(
        "erase_tokens_of",
        store
            .erase_tokens_of(&[c1_owner.clone(), a_owner.clone()])
            .await,
    );
    ok(
        "erase_tokens_of again",
        store.erase_tokens_of(&[c1_owner, a_owner]).await,
    );
    for t in &gone {
        assert_eq!(
            ok("take_token", web.take_token(t.kind, &t.hash, now()).await),
            None,
            "erase_tokens_of deletes the tokens its owners hold"
        );
    }
    assert_eq!(
        ok(
            "take_token",
            web.take_token(kept.kind, &kept.hash, now()).await
        )
        .map(|t| t.owner),
        Some(other_owner),
        "another owner's token stays"
    );

    // Rejected webhook bodies naming the customer go (white space in the body ignored); one
    // naming someone else stays.
    let user: u64 = u64::from(Uuid::new_v4().as_u128() as u32) + 1_000_000_000;
    let dead = |body: String| crate::DeadLetter {
        id: format!("suite-dl-{}", fresh()),
        source: "telegram:1".to_owned(),
        reason: "unknown update".to_owned(),
        body,
        received_at: now(),
    };
    let naming = dead(format!(
        "{{\"update_id\": 1, \"business_message\": {{\"from\": {{\"id\": {user}, \"first_name\": \"A\"}}}}}}"
    ));
    let other = dead(format!(
        "{{\"update_id\":2,\"business_message\":{{\"message_id\":{user},\"from\":{{\"id\":{}}}}}}}",
        user + 1
    ));
    for d in [&naming, &other] {
        ok("record_dead_letter", store.record_dead_letter(d).await);
    }
    let needles = [format!("\"id\":{user}")];
    assert_eq!(
        ok(
            "erase_dead_letters_naming",
            store.erase_dead_letters_naming(&needles).await
        ),
        1,
        "erase_dead_letters_naming deletes the one body naming the customer"
    );
    let listed = ok(
        "list_dead_letters",
        store.list_dead_letters(&PageRequest::first(1000)).await,
    );
    let ids: Vec<&str> = listed.items.iter().map(|d| d.id.as_str()).collect();
    assert!(!ids.contains(&naming.id.as_str()), "the named one is gone");
    assert!(ids.contains(&other.id.as_str()), "another customer's stays");

    // Cached translations: those linked to the conversation go with it, others stay.
    let cached = |text: &str| CachedTranslation {
        text: text.to_owned(),
        detected_source: None,
        provider: "suite".to_owned(),
    };
    let until = now().plus_millis(3_600_000);
    let (linked, linked_too, unlinked) = (
        format!("suite-tx-{}", fresh()),
        format!("suite-tx-{}", fresh()),
        format!("suite-tx-{}", fresh()),
    );
    for key in [&linked, &linked_too, &unlinked] {
        ok(
            "cache_translation",
            translations
                .cache_translation(key, &cached("мой паспорт"), until)
                .await,
        );
    }
    ok(
        "link_cached_translations",
        translations
            .link_cached_translations(c1.id, std::slice::from_ref(&linked), until)
            .await,
    );
    ok(
        "link_cached_translations again, with another",
        translations
            .link_cached_translations(c1.id, &[linked.clone(), linked_too.clone()], until)
            .await,
    );

    // A whole conversation.
    ok("erase_conversation", store.erase_conversation(&c1).await);
    ok(
        "erase_conversation again",
        store.erase_conversation(&c1).await,
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(c1.id).await),
        None,
        "erase_conversation deletes the record"
    );
    for key in [&c1.key, &second_key] {
        assert_eq!(
            ok("conversation_by_key", store.conversation_by_key(key).await).map(|c| c.id),
            None,
            "erase_conversation frees each routing key"
        );
    }
    let page = ok(
        "list_messages",
        store.list_messages(c1.id, &PageRequest::first(50)).await,
    );
    assert!(
        page.items.is_empty(),
        "erase_conversation deletes every message"
    );
    assert!(
        ok("ai_calls", ai.ai_calls(Some(c1.id), 50).await).is_empty(),
        "erase_conversation deletes its AI calls"
    );
    assert!(
        !ok("ai_calls", ai.ai_calls(None, 10_000).await)
            .iter()
            .any(|c| c.conversation_id == c1.id),
        "erase_conversation deletes its AI calls from the list of all calls"
    );
    for key in [&linked, &linked_too] {
        assert_eq!(
            ok(
                "cached_translation",
                translations.cached_translation(key, now()).await
            ),
            None,
            "erase_conversation deletes the cached translations linked to it"
        );
    }
    assert!(
        ok(
            "cached_translation",
            translations.cached_translation(&unlinked, now()).await
        )
        .is_some(),
        "a cached translation of no erased conversation stays"
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(c2.id).await).map(|c| c.id),
        Some(c2.id),
        "another contact's conversation stays"
    );
    assert_eq!(
        ok(
            "blobs_in_use",
            store
                .blobs_in_use(&keys, &BTreeSet::new(), &BTreeSet::new())
                .await
        ),
        BTreeSet::from([shared.clone()]),
        "after the erasure only the other conversation's file is in use"
    );

    // The contact; an identity that moved on to B stays B's.
    let b_mail = email_identity();
    ok("add_identity", store.add_identity(b.id, &b_mail).await);
    let mut stale_a = a.clone();
    stale_a.identities.push(b_mail.clone());
    ok("erase_contact", store.erase_contact(&stale_a).await);
    ok("erase_contact again", store.erase_contact(&stale_a).await);
    assert_eq!(
        ok("get_contact", store.get_contact(a.id).await).map(|c| c.id),
        None,
        "erase_contact deletes the profile"
    );
    for identity in &a.identities {
        assert_eq!(
            ok(
                "contact_id_by_identity",
                store.contact_id_by_identity(&identity.key()).await
            ),
            None,
            "erase_contact frees each identity"
        );
    }
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&b_mail.key()).await
        ),
        Some(b.id),
        "erase_contact leaves an identity that leads to another contact"
    );

    // What was erased can begin again: the person writes anew.
    let reborn = new_contact(match &a_mail {
        Identity::Email { address, .. } => Identity::Email {
            address: address.clone(),
            verified: false,
        },
        other => other.clone(),
    });
    ok("create_contact", store.create_contact(&reborn).await);
    let mut fresh_conversation = new_conversation(reborn.id, now());
    fresh_conversation.key = c1.key.clone();
    ok(
        "create_conversation",
        store.create_conversation(&fresh_conversation).await,
    );
    assert_eq!(
        ok(
            "conversation_by_key",
            store.conversation_by_key(&c1.key).await
        )
        .map(|c| c.id),
        Some(fresh_conversation.id),
        "an erased conversation's key leads to the new conversation"
    );
}
