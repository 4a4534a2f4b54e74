//! Conformance suite of the store ports. Every store adapter runs [`run_all`] (or the
//! capability functions it implements). Each function panics with a message naming the
//! violated guarantee.
//!
//! Every run uses fresh ids, keys and e-mails, so the suite can run repeatedly against one
//! shared table without a reset; list assertions only look at the suite's own records (or at
//! relative order), so other data in the table does not disturb them.
//!
//! The suite writes records stamped with wall-clock time ([`SystemClock`]), so the store under
//! test must use a clock close to wall-clock time (connections older than 2 h are not listed).
//!
//! Ports outside the [`Store`] bundle have their own functions: [`web`],
//! [`visitor_connections`], [`mail`], [`translation`] (with
//! [`translation_on_an_empty_store`]), [`ai_store`] (with [`ai_store_on_an_empty_store`]) and
//! [`routing_store`] (with [`routing_store_on_an_empty_store`]).

mod ai;
mod erasure;
mod routing;
mod translation;

pub use ai::{
    ai_store, ai_store_on_an_empty_store, ai_store_on_an_empty_store_on_moto, ai_store_on_moto,
};
pub use erasure::erasure;
pub use routing::{
    routing_store, routing_store_on_an_empty_store, routing_store_on_an_empty_store_on_moto,
    routing_store_on_moto,
};
pub use translation::{
    translation, translation_on_an_empty_store, translation_on_an_empty_store_on_moto,
    translation_on_moto,
};

use std::collections::{BTreeSet, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use omnidesk_domain::{
    ACTIVITY_STEP_MS, Agent, AgentId, AgentStatus, Author, BotId, Channel, ChannelRef, Contact,
    ContactId, Conversation, ConversationId, ConversationKey, ConversationStatus, Delivery,
    DeliveryStatus, Direction, EmailAddress, Identity, Message, MessageId, PasswordHash, Tag,
    Timestamp, activity_minute,
};
use uuid::Uuid;

use crate::{
    AgentStore, AppendOutcome, BotConfig, BotMode, BotStore, Clock, Connection, ConnectionId,
    ConnectionStore, ContactStore, ConversationFilter, DeadLetter, DeadLetterStore, MessageStore,
    Page, PageRequest, Secret, Store, StoreError, StoreResult, StoredToken, SystemClock, TokenKind,
    VisitorConnection, VisitorConnectionStore, WebStore, Website,
};

/// Upper bound of pages walked through one list (a shared table may hold a lot).
const MAX_PAGES: usize = 10_000;

/// Every store capability.
pub async fn run_all(store: &dyn Store) {
    contacts(store).await;
    conversations(store).await;
    messages(store).await;
    source_key_under_another_id(store).await;
    message_content(store).await;
    agents(store).await;
    bots(store).await;
    dead_letters(store).await;
    audit(store).await;
    connections(store).await;
    conversation_keys(store).await;
    moved_identities(store).await;
}

// ---------------------------------------------------------------------------------------------
// helpers

fn now() -> Timestamp {
    SystemClock.now()
}

fn fresh() -> String {
    Uuid::now_v7().simple().to_string()
}

fn web_identity() -> Identity {
    Identity::WebVisitor {
        visitor_id: format!("suite-{}", fresh()),
    }
}

fn email_identity() -> Identity {
    Identity::Email {
        address: fresh_email(),
        verified: false,
    }
}

fn fresh_email() -> EmailAddress {
    EmailAddress::parse(&format!("suite-{}@example.com", fresh()))
        .unwrap_or_else(|e| panic!("suite bug: {e}"))
}

fn new_contact(identity: Identity) -> Contact {
    Contact::new(
        ContactId::from_uuid(Uuid::now_v7()),
        "Suite Contact".to_owned(),
        identity,
        now(),
    )
}

fn new_conversation(contact: ContactId, activity: Timestamp) -> Conversation {
    let key = ConversationKey::parse(&format!("suite:{}", fresh()))
        .unwrap_or_else(|e| panic!("suite bug: {e}"));
    let mut c = Conversation::new(
        ConversationId::from_uuid(Uuid::now_v7()),
        key,
        contact,
        Channel::Web,
        activity,
    );
    c.last_activity_at = activity;
    c
}

fn new_agent(status: AgentStatus) -> Agent {
    Agent {
        id: AgentId::from_uuid(Uuid::now_v7()),
        email: fresh_email(),
        name: "Suite Agent".to_owned(),
        password_hash: PasswordHash::from_phc(format!("$argon2id$v=19$suite${}", fresh())),
        teams: BTreeSet::from(["support".to_owned()]),
        skills: BTreeSet::from(["billing".to_owned()]),
        languages: BTreeSet::new(),
        language: None,
        status,
        chosen_status: None,
        capacity: Agent::DEFAULT_CAPACITY,
        role: omnidesk_domain::Role::Agent,
        disabled: false,
        totp: false,
        totp_secret: None,
        created_at: now(),
    }
}

fn inbound_message(conversation: ConversationId, text: &str) -> Message {
    let at = now();
    Message {
        id: MessageId::from_uuid(Uuid::now_v7()),
        conversation_id: conversation,
        direction: Direction::Inbound,
        author: Author::Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
        },
        channel: Channel::Telegram,
        text: text.to_owned(),
        language: None,
        translations: Vec::new(),
        translation: None,
        attachments: Vec::new(),
        channel_ref: None,
        delivery: Delivery::received(at),
        event: None,
        source_key: None,
        created_at: at,
        edited_at: None,
        edit_history: Vec::new(),
        reply_to: None,
        forwarded_from: None,
        album: None,
        buttons: Vec::new(),
        revision: 0,
        internal: false,
    }
}

/// A message from an external event at `at`: its id derived from the event (`at`, a fixed
/// sequence number and `source_key`), as ingest derives it.
fn sourced_message(
    conversation: ConversationId,
    text: &str,
    source_key: &str,
    at: Timestamp,
) -> Message {
    let mut m = inbound_message(conversation, text);
    m.id = MessageId::derived(at, 7, source_key);
    m.source_key = Some(source_key.to_owned());
    m.created_at = at;
    m.delivery = Delivery::received(at);
    m
}

fn random_bot_id() -> BotId {
    // A positive id in Telegram's range that no real bot of the table is likely to have.
    let n = (Uuid::now_v7().as_u128() as u64 & 0x0000_ffff_ffff_ffff) | (1 << 48);
    BotId::parse(&n.to_string()).unwrap_or_else(|e| panic!("suite bug: {e}"))
}

#[track_caller]
fn ok<T>(what: &str, r: StoreResult<T>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: unexpected error: {e}"))
}

#[track_caller]
fn expect_conflict<T: Debug>(what: &str, r: StoreResult<T>) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected StoreError::Conflict, got {other:?}"),
    }
}

#[track_caller]
fn expect_not_found<T: Debug>(what: &str, r: StoreResult<T>) {
    match r {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{what}: expected StoreError::NotFound, got {other:?}"),
    }
}

/// Walks every page of a list with `limit`, checking each page's size and that no item is
/// returned twice (by `id`).
async fn walk<T, K, F, Fut>(what: &str, limit: usize, id: impl Fn(&T) -> K, mut fetch: F) -> Vec<T>
where
    K: std::hash::Hash + Eq + Debug,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = ok(what, fetch(PageRequest { limit, cursor }).await);
        assert!(
            page.items.len() <= limit,
            "{what}: a page of limit {limit} returned {} items",
            page.items.len()
        );
        for item in page.items {
            let k = id(&item);
            assert!(
                seen.insert(k),
                "{what}: an item was returned twice: {:?}",
                id(&item)
            );
            all.push(item);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("{what}: more than {MAX_PAGES} pages: the cursor does not advance");
}

/// Asserts that `mine` appear in `listed` exactly once each, in the order of `mine`.
#[track_caller]
fn assert_in_order<K: PartialEq + Debug>(what: &str, listed: &[K], mine: &[K]) {
    let positions: Vec<usize> = mine
        .iter()
        .map(|m| {
            let hits: Vec<usize> = listed
                .iter()
                .enumerate()
                .filter(|(_, l)| *l == m)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                hits.len(),
                1,
                "{what}: {m:?} should be listed exactly once, found {} times",
                hits.len()
            );
            hits[0]
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{what}: wrong order; expected {mine:?}, positions in the list {positions:?}"
    );
}

/// Polls every future to completion concurrently on the current task.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}

// ---------------------------------------------------------------------------------------------
// contacts

/// Identity uniqueness, atomic create, optimistic `update_contact`, `add_identity`.
pub async fn contacts(store: &dyn ContactStore) {
    // Create with two identities; both lead to the contact.
    let web = web_identity();
    let email = email_identity();
    let mut contact = new_contact(web.clone());
    contact.identities.push(email.clone());
    ok("create_contact", store.create_contact(&contact).await);
    let read = ok("get_contact", store.get_contact(contact.id).await);
    assert_eq!(
        read.as_ref(),
        Some(&contact),
        "get_contact returns the created contact"
    );
    for identity in [&web, &email] {
        assert_eq!(
            ok(
                "contact_id_by_identity",
                store.contact_id_by_identity(&identity.key()).await
            ),
            Some(contact.id),
            "contact_id_by_identity({}) leads to the contact that claimed it",
            identity.key()
        );
    }
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&web_identity().key()).await
        ),
        None,
        "an unclaimed identity leads nowhere"
    );
    expect_conflict(
        "create_contact with an existing id",
        store.create_contact(&contact).await,
    );

    // A second contact claiming a taken identity creates nothing, not even its free identity.
    let free = web_identity();
    let mut intruder = new_contact(free.clone());
    intruder.identities.push(email.clone());
    expect_conflict(
        "create_contact with an identity another contact holds",
        store.create_contact(&intruder).await,
    );
    assert_eq!(
        ok("get_contact", store.get_contact(intruder.id).await),
        None,
        "a contact whose create failed on a claimed identity must not exist"
    );
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&free.key()).await
        ),
        None,
        "a failed create_contact must not claim its other identities"
    );
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&email.key()).await
        ),
        Some(contact.id),
        "a failed create_contact must not move the claimed identity"
    );

    // Optimistic update on updated_at.
    let read_at = contact.updated_at;
    let mut edited = contact.clone();
    edited.display_name = "Renamed".to_owned();
    edited
        .tags
        .insert(Tag::parse("vip").unwrap_or_else(|e| panic!("suite bug: {e}")));
    edited
        .attributes
        .insert("plan".to_owned(), "gold".to_owned());
    edited.updated_at = read_at.plus_millis(1);
    ok(
        "update_contact",
        store.update_contact(&edited, read_at).await,
    );
    let read = ok("get_contact", store.get_contact(contact.id).await)
        .unwrap_or_else(|| panic!("get_contact after update_contact returned None"));
    assert_eq!(
        read.display_name, "Renamed",
        "update_contact stores the profile"
    );
    assert_eq!(read.tags, edited.tags, "update_contact stores the tags");
    assert_eq!(
        read.attributes, edited.attributes,
        "update_contact stores the attributes"
    );
    assert_eq!(
        read.updated_at, edited.updated_at,
        "update_contact stores updated_at"
    );

    let mut stale = contact.clone();
    stale.display_name = "Lost update".to_owned();
    stale.updated_at = read_at.plus_millis(2);
    expect_conflict(
        "update_contact with a stale expected_updated_at",
        store.update_contact(&stale, read_at).await,
    );
    let read = ok("get_contact", store.get_contact(contact.id).await)
        .unwrap_or_else(|| panic!("get_contact returned None"));
    assert_eq!(
        read.display_name, "Renamed",
        "a conflicting update must change nothing"
    );

    let ghost = new_contact(web_identity());
    expect_not_found(
        "update_contact of a missing contact",
        store.update_contact(&ghost, ghost.updated_at).await,
    );

    // add_identity: claims, is idempotent for the holder, conflicts for others.
    let phone = Identity::Phone {
        e164: format!("+1555{:010}", Uuid::now_v7().as_u128() % 10_000_000_000),
    };
    ok("add_identity", store.add_identity(contact.id, &phone).await);
    ok(
        "add_identity of an identity the contact holds (idempotent)",
        store.add_identity(contact.id, &phone).await,
    );
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&phone.key()).await
        ),
        Some(contact.id),
        "add_identity claims the identity"
    );
    let read = ok("get_contact", store.get_contact(contact.id).await)
        .unwrap_or_else(|| panic!("get_contact returned None"));
    assert_eq!(
        read.identities
            .iter()
            .filter(|i| i.key() == phone.key())
            .count(),
        1,
        "add_identity lists the identity on the contact exactly once, got {:?}",
        read.identities
    );

    let other = new_contact(web_identity());
    ok("create_contact", store.create_contact(&other).await);
    expect_conflict(
        "add_identity of an identity another contact holds",
        store.add_identity(other.id, &phone).await,
    );
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&phone.key()).await
        ),
        Some(contact.id),
        "a conflicting add_identity must not move the identity"
    );
}

// ---------------------------------------------------------------------------------------------
// conversations

/// Key uniqueness, optimistic versions, list order, filters, pagination, `count_assigned`.
/// Needs contacts too, hence the whole store.
pub async fn conversations(store: &dyn Store) {
    let contact = new_contact(web_identity());
    ok("create_contact", store.create_contact(&contact).await);
    let base = now();

    // Create, read back by id and by key.
    let conv = new_conversation(contact.id, base);
    ok(
        "create_conversation",
        store.create_conversation(&conv).await,
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(conv.id).await).as_ref(),
        Some(&conv),
        "get_conversation returns the created conversation"
    );
    assert_eq!(
        ok(
            "conversation_by_key",
            store.conversation_by_key(&conv.key).await
        )
        .as_ref(),
        Some(&conv),
        "conversation_by_key returns the conversation that owns the key"
    );
    let unknown_key = ConversationKey::parse(&format!("suite:{}", fresh()))
        .unwrap_or_else(|e| panic!("suite bug: {e}"));
    assert_eq!(
        ok(
            "conversation_by_key",
            store.conversation_by_key(&unknown_key).await
        ),
        None,
        "conversation_by_key of a free key"
    );
    assert_eq!(
        ok(
            "get_conversation",
            store
                .get_conversation(ConversationId::from_uuid(Uuid::now_v7()))
                .await
        ),
        None,
        "get_conversation of a missing id"
    );

    // The key is unique.
    let mut twin = new_conversation(contact.id, base);
    twin.key = conv.key.clone();
    expect_conflict(
        "create_conversation with a taken key",
        store.create_conversation(&twin).await,
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(twin.id).await),
        None,
        "a conversation whose key was taken must not exist"
    );
    let mut versioned = new_conversation(contact.id, base);
    versioned.version = 3;
    assert!(
        store.create_conversation(&versioned).await.is_err(),
        "create_conversation must refuse a version other than 0"
    );

    // Optimistic versions.
    let mut edit = conv.clone();
    edit.hand_off();
    edit.unread_count = 2;
    let stored = ok(
        "update_conversation",
        store.update_conversation(&edit).await,
    );
    assert_eq!(stored.version, 1, "update_conversation stores version + 1");
    assert_eq!(
        stored.status,
        ConversationStatus::Queued,
        "update_conversation stores the status"
    );
    assert_eq!(
        stored.unread_count, 2,
        "update_conversation stores the fields"
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(conv.id).await).as_ref(),
        Some(&stored),
        "get_conversation returns what update_conversation returned"
    );
    let mut stale = conv.clone();
    stale.unread_count = 9;
    expect_conflict(
        "update_conversation with a stale version",
        store.update_conversation(&stale).await,
    );
    assert_eq!(
        ok("get_conversation", store.get_conversation(conv.id).await).map(|c| c.unread_count),
        Some(2),
        "a conflicting update_conversation must change nothing"
    );
    let stored2 = ok(
        "update_conversation",
        store.update_conversation(&stored).await,
    );
    assert_eq!(stored2.version, 2, "versions keep counting");
    let ghost = new_conversation(contact.id, base);
    assert!(
        matches!(
            store.update_conversation(&ghost).await,
            Err(StoreError::NotFound(_) | StoreError::Conflict(_))
        ),
        "update_conversation of a missing conversation must fail with NotFound or Conflict"
    );

    conversation_lists(store, &contact, base).await;
}

/// Creates a conversation through the store and brings it to `status`/`assignee` with updates.
async fn seed_conversation(
    store: &dyn Store,
    contact: ContactId,
    activity: Timestamp,
    status: ConversationStatus,
    assignee: Option<AgentId>,
) -> Conversation {
    seed(store, new_conversation(contact, activity), status, assignee).await
}

/// Stores `c` and brings it to `status`/`assignee` with an update.
async fn seed(
    store: &dyn Store,
    mut c: Conversation,
    status: ConversationStatus,
    assignee: Option<AgentId>,
) -> Conversation {
    ok("create_conversation", store.create_conversation(&c).await);
    c.status = status;
    c.assignee_id = assignee;
    ok("update_conversation", store.update_conversation(&c).await)
}

/// `minutes` minutes and `ms` milliseconds after the start of the minute of `base`.
fn at(base: Timestamp, minutes: i64, ms: i64) -> Timestamp {
    Timestamp::from_millis((activity_minute(base) + minutes) * ACTIVITY_STEP_MS + ms)
}

/// `n` fresh conversation ids in ascending order.
fn ascending_ids(n: usize) -> Vec<ConversationId> {
    let mut ids: Vec<ConversationId> = (0..n)
        .map(|_| ConversationId::from_uuid(Uuid::now_v7()))
        .collect();
    ids.sort();
    ids
}

async fn conversation_lists(store: &dyn Store, contact: &Contact, base: Timestamp) {
    let agent = AgentId::from_uuid(Uuid::now_v7());
    // Five conversations of `agent`, ids ascending, at (minute, ms into it) after `base`:
    // 1 and 2 share minute 4, and 2 (the higher id) has the earlier activity: 2 comes first.
    // 3 and 4 are 1 ms apart across a minute boundary, 4 with the higher id: 3 comes first.
    let plan = [
        (5, 10, ConversationStatus::Assigned),
        (4, 50_000, ConversationStatus::Resolved),
        (4, 10_000, ConversationStatus::Assigned),
        (3, 0, ConversationStatus::Resolved),
        (2, ACTIVITY_STEP_MS - 1, ConversationStatus::Assigned),
    ];
    let mut mine = Vec::new();
    for (id, (minute, ms, status)) in ascending_ids(plan.len()).into_iter().zip(plan) {
        let mut c = new_conversation(contact.id, at(base, minute, ms));
        c.id = id;
        mine.push(seed(store, c, status, Some(agent)).await);
    }
    let mut expected = mine.clone();
    expected.sort_by_key(|c| std::cmp::Reverse(c.list_rank()));
    let expected_ids: Vec<ConversationId> = expected.iter().map(|c| c.id).collect();
    assert_eq!(
        expected_ids,
        [mine[0].id, mine[2].id, mine[1].id, mine[3].id, mine[4].id],
        "suite bug: list_rank does not order the plan as this suite expects"
    );

    // Assignee filter isolates the suite's items: exact contents, in order, over 2-item pages.
    let filter = ConversationFilter {
        status: None,
        assignee: Some(Some(agent)),
    };
    let listed = walk(
        "list_conversations(assignee)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await;
    let listed_ids: Vec<ConversationId> = listed.iter().map(|c| c.id).collect();
    assert_eq!(
        listed_ids, expected_ids,
        "list_conversations(assignee) must return exactly the agent's conversations by \
         list_rank descending: minute of last activity, then id (within one minute the higher \
         id first even with the earlier activity; a later minute first even by 1 ms)"
    );
    assert_eq!(
        listed.iter().find(|c| c.id == mine[0].id),
        Some(&mine[0]),
        "listed conversations carry every field"
    );

    // Status + assignee.
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Resolved),
        assignee: Some(Some(agent)),
    };
    let listed = walk(
        "list_conversations(status, assignee)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await;
    let resolved: Vec<ConversationId> = expected
        .iter()
        .filter(|c| c.status == ConversationStatus::Resolved)
        .map(|c| c.id)
        .collect();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        resolved,
        "list_conversations(resolved, assignee) must return exactly the agent's resolved ones"
    );

    // Status only (shared with other data): ours in relative order, nothing of another status.
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Assigned),
        assignee: None,
    };
    let listed = walk(
        "list_conversations(status)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await;
    assert!(
        listed
            .iter()
            .all(|c| c.status == ConversationStatus::Assigned),
        "list_conversations(assigned) returned a conversation of another status"
    );
    assert_sorted("list_conversations(status)", &listed);
    let assigned: Vec<ConversationId> = expected
        .iter()
        .filter(|c| c.status == ConversationStatus::Assigned)
        .map(|c| c.id)
        .collect();
    let listed_ids: Vec<ConversationId> = listed.iter().map(|c| c.id).collect();
    assert_in_order("list_conversations(assigned)", &listed_ids, &assigned);
    for c in expected
        .iter()
        .filter(|c| c.status != ConversationStatus::Assigned)
    {
        assert!(
            !listed_ids.contains(&c.id),
            "list_conversations(assigned) listed a resolved conversation"
        );
    }

    // Unassigned: two queued conversations without an agent.
    let unassigned = [
        seed_conversation(
            store,
            contact.id,
            at(base, 3, 30_000),
            ConversationStatus::Queued,
            None,
        )
        .await,
        seed_conversation(
            store,
            contact.id,
            at(base, 6, 0),
            ConversationStatus::Queued,
            None,
        )
        .await,
    ];
    let filter = ConversationFilter {
        status: None,
        assignee: Some(None),
    };
    let listed = walk(
        "list_conversations(unassigned)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await;
    assert!(
        listed.iter().all(|c| c.assignee_id.is_none()),
        "list_conversations(unassigned) returned an assigned conversation"
    );
    assert_sorted("list_conversations(unassigned)", &listed);
    let listed_ids: Vec<ConversationId> = listed.iter().map(|c| c.id).collect();
    assert_in_order(
        "list_conversations(unassigned)",
        &listed_ids,
        &[unassigned[1].id, unassigned[0].id],
    );
    assert!(
        !mine.iter().any(|c| listed_ids.contains(&c.id)),
        "list_conversations(unassigned) listed an assigned conversation"
    );

    // Everything.
    let listed = walk(
        "list_conversations(all)",
        2,
        |c: &Conversation| c.id,
        |p| async move {
            store
                .list_conversations(&ConversationFilter::default(), &p)
                .await
        },
    )
    .await;
    assert_sorted("list_conversations(all)", &listed);
    let mut all_mine: Vec<&Conversation> = mine.iter().chain(unassigned.iter()).collect();
    all_mine.sort_by_key(|c| std::cmp::Reverse(c.list_rank()));
    let all_ids: Vec<ConversationId> = all_mine.iter().map(|c| c.id).collect();
    assert_in_order(
        "list_conversations(all)",
        &listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        &all_ids,
    );

    // Of one contact (isolated): the 7 above plus the 2 conversations of `conversations`.
    let other = new_contact(web_identity());
    ok("create_contact", store.create_contact(&other).await);
    let theirs = [
        seed_conversation(
            store,
            other.id,
            at(base, 1, 0),
            ConversationStatus::Bot,
            None,
        )
        .await,
        seed_conversation(
            store,
            other.id,
            at(base, 9, 0),
            ConversationStatus::Bot,
            None,
        )
        .await,
        seed_conversation(
            store,
            other.id,
            at(base, 5, 0),
            ConversationStatus::Bot,
            None,
        )
        .await,
    ];
    let listed = walk(
        "list_conversations_of_contact",
        2,
        |c: &Conversation| c.id,
        |p| {
            let id = other.id;
            async move { store.list_conversations_of_contact(id, &p).await }
        },
    )
    .await;
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![theirs[1].id, theirs[2].id, theirs[0].id],
        "list_conversations_of_contact returns exactly the contact's conversations, newest first"
    );

    // count_assigned, and list membership follows updates.
    assert_eq!(
        ok("count_assigned", store.count_assigned(agent).await),
        3,
        "count_assigned counts the agent's assigned (not resolved) conversations"
    );
    assert_eq!(
        ok(
            "count_assigned",
            store
                .count_assigned(AgentId::from_uuid(Uuid::now_v7()))
                .await
        ),
        0,
        "count_assigned of an agent without conversations"
    );
    let mut resolve = mine[0].clone();
    resolve.status = ConversationStatus::Resolved;
    let resolved_now = ok(
        "update_conversation",
        store.update_conversation(&resolve).await,
    );
    assert_eq!(
        ok("count_assigned", store.count_assigned(agent).await),
        2,
        "count_assigned follows update_conversation"
    );
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Assigned),
        assignee: Some(Some(agent)),
    };
    let listed = walk(
        "list_conversations(status, assignee)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await;
    assert!(
        !listed.iter().any(|c| c.id == resolved_now.id),
        "a conversation resolved by update_conversation is still listed as assigned"
    );
    assert_eq!(
        listed.len(),
        2,
        "the agent has 2 assigned conversations left"
    );

    // Activity later within the same minute does not move a conversation past a higher id.
    bump_activity(store, mine[1].id, at(base, 4, ACTIVITY_STEP_MS - 1)).await;
    assert_eq!(
        ids_assigned_to(store, agent).await,
        [mine[0].id, mine[2].id, mine[1].id, mine[3].id, mine[4].id],
        "new activity within the same minute must leave the order unchanged"
    );

    // Activity in a later minute moves the conversation in the order.
    bump_activity(store, mine[4].id, at(base, 10, 0)).await;
    let filter = ConversationFilter {
        status: None,
        assignee: Some(Some(agent)),
    };
    let page = ok(
        "list_conversations",
        store
            .list_conversations(&filter, &PageRequest::first(1))
            .await,
    );
    assert_eq!(
        page.items.first().map(|c| c.id),
        Some(mine[4].id),
        "after new activity in a later minute the conversation comes first"
    );
}

/// Ids of every conversation assigned to `agent`, in list order (2-item pages).
async fn ids_assigned_to(store: &dyn Store, agent: AgentId) -> Vec<ConversationId> {
    let filter = ConversationFilter {
        status: None,
        assignee: Some(Some(agent)),
    };
    walk(
        "list_conversations(assignee)",
        2,
        |c: &Conversation| c.id,
        |p| {
            let f = filter.clone();
            async move { store.list_conversations(&f, &p).await }
        },
    )
    .await
    .iter()
    .map(|c| c.id)
    .collect()
}

/// Sets a stored conversation's `last_activity_at` through `update_conversation`.
async fn bump_activity(store: &dyn Store, id: ConversationId, activity: Timestamp) {
    let mut c = ok("get_conversation", store.get_conversation(id).await)
        .unwrap_or_else(|| panic!("get_conversation({id}) returned None"));
    c.last_activity_at = activity;
    ok("update_conversation", store.update_conversation(&c).await);
}

#[track_caller]
fn assert_sorted(what: &str, listed: &[Conversation]) {
    for w in listed.windows(2) {
        assert!(
            w[0].list_rank() > w[1].list_rank(),
            "{what}: not ordered by list_rank (minute of last activity, then id), descending: \
             {} ({}) before {} ({})",
            w[0].id,
            w[0].last_activity_at,
            w[1].id,
            w[1].last_activity_at
        );
    }
}

// ---------------------------------------------------------------------------------------------
// messages

/// Id uniqueness, `source_key` idempotency, `update_delivery`, newest-first pages.
pub async fn messages(store: &dyn MessageStore) {
    let conversation = ConversationId::from_uuid(Uuid::now_v7());
    let mut appended = Vec::new();
    for i in 0..5 {
        let m = inbound_message(conversation, &format!("message {i}"));
        assert_eq!(
            ok("append_message", store.append_message(&m).await),
            AppendOutcome::Inserted,
            "append_message of a new message"
        );
        appended.push(m);
    }
    assert_eq!(
        ok(
            "get_message",
            store.get_message(conversation, appended[2].id).await
        )
        .as_ref(),
        Some(&appended[2]),
        "get_message returns the appended message"
    );
    assert_eq!(
        ok(
            "get_message",
            store
                .get_message(conversation, MessageId::from_uuid(Uuid::now_v7()))
                .await
        ),
        None,
        "get_message of a missing id"
    );
    expect_conflict(
        "append_message with an id stored already",
        store.append_message(&appended[0]).await,
    );

    // Newest first, 2 per page.
    let listed = walk(
        "list_messages",
        2,
        |m: &Message| m.id,
        |p| async move { store.list_messages(conversation, &p).await },
    )
    .await;
    let expected: Vec<Message> = appended.iter().rev().cloned().collect();
    assert_eq!(
        listed, expected,
        "list_messages returns every message, newest first"
    );
    let other = ok(
        "list_messages",
        store
            .list_messages(
                ConversationId::from_uuid(Uuid::now_v7()),
                &PageRequest::first(10),
            )
            .await,
    );
    assert!(
        other.items.is_empty(),
        "another conversation has no messages"
    );
    assert_eq!(other.next_cursor, None, "an empty list has no next page");

    // source_key idempotency: the same event twice has the same derived id.
    let key = format!("suite:{}", fresh());
    let event_at = now();
    let first = sourced_message(conversation, "first delivery", &key, event_at);
    assert_eq!(
        ok("append_message", store.append_message(&first).await),
        AppendOutcome::Inserted,
        "append_message with a new source_key"
    );
    let again = sourced_message(conversation, "redelivered", &key, event_at);
    assert_eq!(again.id, first.id, "suite bug: derived ids differ");
    assert_eq!(
        ok("append_message", store.append_message(&again).await),
        AppendOutcome::Duplicate(first.id),
        "a second append of the same derived id and source_key returns Duplicate(id)"
    );
    assert_eq!(
        ok(
            "get_message",
            store.get_message(conversation, first.id).await
        )
        .map(|m| m.text),
        Some("first delivery".to_owned()),
        "a duplicate must not overwrite the stored message"
    );
    let mut other_source = first.clone();
    other_source.source_key = Some(format!("suite:{}", fresh()));
    expect_conflict(
        "append_message of a stored id with another source_key",
        store.append_message(&other_source).await,
    );
    let mut no_source = first.clone();
    no_source.source_key = None;
    expect_conflict(
        "append_message of a stored id without its source_key",
        store.append_message(&no_source).await,
    );
    let count = walk(
        "list_messages",
        50,
        |m: &Message| m.id,
        |p| async move { store.list_messages(conversation, &p).await },
    )
    .await
    .len();
    assert_eq!(
        count, 6,
        "a duplicate or conflicting append must add no message to the list"
    );

    // update_delivery.
    let target = &appended[1];
    let sent_at = now();
    let delivery = Delivery {
        status: DeliveryStatus::Sent,
        reason: None,
        attempts: 1,
        updated_at: sent_at,
    };
    let reference = ChannelRef::Telegram {
        bot_id: random_bot_id(),
        chat_id: omnidesk_domain::TelegramChatId(42),
        message_ids: vec![7, 8],
    };
    let updated = ok(
        "update_delivery",
        store
            .update_delivery(conversation, target.id, &delivery, Some(&reference))
            .await,
    );
    let mut expected = target.clone();
    expected.delivery = delivery.clone();
    expected.channel_ref = Some(reference.clone());
    assert_eq!(
        updated, expected,
        "update_delivery returns the updated message"
    );
    assert_eq!(
        ok(
            "get_message",
            store.get_message(conversation, target.id).await
        )
        .as_ref(),
        Some(&expected),
        "update_delivery stores the delivery and the channel reference"
    );
    let failed = Delivery {
        status: DeliveryStatus::Failed,
        reason: Some("blocked by the user".to_owned()),
        attempts: 2,
        updated_at: sent_at.plus_millis(1),
    };
    let updated = ok(
        "update_delivery",
        store
            .update_delivery(conversation, target.id, &failed, None)
            .await,
    );
    assert_eq!(
        updated.delivery, failed,
        "update_delivery replaces the delivery"
    );
    assert_eq!(
        updated.channel_ref,
        Some(reference),
        "update_delivery without a channel reference keeps the stored one"
    );
    expect_not_found(
        "update_delivery of a missing message",
        store
            .update_delivery(
                conversation,
                MessageId::from_uuid(Uuid::now_v7()),
                &delivery,
                None,
            )
            .await,
    );
}

/// Content updates (edits, album parts, fetched files) are checked against the revision they
/// were made from, keep delivery and channel reference, and survive a later delivery update.
pub async fn message_content(store: &dyn MessageStore) {
    let conversation = ConversationId::from_uuid(Uuid::now_v7());
    let original = inbound_message(conversation, "first text");
    store.append_message(&original).await.unwrap();

    let mut content = original.next_content();
    content.text = "edited text".to_owned();
    content.edited_at = Some(now());
    content.edit_history.push(omnidesk_domain::PreviousText {
        text: "first text".to_owned(),
        replaced_at: now(),
    });
    let mut photo =
        omnidesk_domain::Attachment::new(omnidesk_domain::AttachmentKind::Image, "tg-file:abc");
    photo.blob = Some("0".repeat(64));
    content.attachments.push(photo);
    let updated = store
        .update_content(conversation, original.id, &content)
        .await
        .expect("update_content at the current revision");
    assert_eq!(updated.revision, 1);
    assert_eq!(updated.text, "edited text");
    assert_eq!(updated.delivery, original.delivery, "delivery is untouched");
    let read = store
        .get_message(conversation, original.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, updated, "get_message reads the updated content");

    // A writer that read revision 0 lost the race: Conflict, nothing changed.
    let mut stale = original.next_content();
    stale.text = "stale".to_owned();
    match store
        .update_content(conversation, original.id, &stale)
        .await
    {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a stale content update must be Conflict, got {other:?}"),
    }

    // A delivery update afterwards keeps the content.
    let delivered = store
        .update_delivery(conversation, original.id, &original.delivery, None)
        .await
        .unwrap();
    assert_eq!(delivered.text, "edited text");
    assert_eq!(delivered.attachments, content.attachments);
    let listed = store
        .list_messages(conversation, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        listed.items[0].revision, 1,
        "list_messages reads the content"
    );
    assert_eq!(listed.items[0].text, "edited text");

    expect_not_found(
        "update_content of a missing message",
        store
            .update_content(
                conversation,
                MessageId::from_uuid(Uuid::now_v7()),
                &original.next_content(),
            )
            .await,
    );
}

/// The same source key under a *different* (not derived) id is also `Duplicate` with the
/// first id.
pub async fn source_key_under_another_id(store: &dyn MessageStore) {
    let conversation = ConversationId::from_uuid(Uuid::now_v7());
    let key = format!("suite:{}", fresh());
    let mut first = inbound_message(conversation, "first delivery");
    first.source_key = Some(key.clone());
    assert_eq!(
        ok("append_message", store.append_message(&first).await),
        AppendOutcome::Inserted,
        "append_message with a new source_key"
    );
    let mut again = inbound_message(conversation, "redelivered");
    again.source_key = Some(key);
    assert_ne!(again.id, first.id, "suite bug: the ids must differ");
    assert_eq!(
        ok("append_message", store.append_message(&again).await),
        AppendOutcome::Duplicate(first.id),
        "an append with a stored source_key under another id returns Duplicate with the first id"
    );
    assert_eq!(
        ok(
            "get_message",
            store.get_message(conversation, again.id).await
        ),
        None,
        "a duplicate source_key must store nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// agents

/// E-mail uniqueness, updates, ordering, `next_counter` atomicity.
pub async fn agents(store: &dyn AgentStore) {
    // The TOTP secret is kept with the agent (apart from the record the API shows).
    let mut two_factor = new_agent(AgentStatus::Offline);
    two_factor.totp = true;
    two_factor.totp_secret = Some(omnidesk_domain::TotpSecret::new(
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    ));
    ok("create_agent", store.create_agent(&two_factor).await);
    assert_eq!(
        ok("get_agent", store.get_agent(two_factor.id).await).as_ref(),
        Some(&two_factor),
        "get_agent returns the agent's TOTP secret"
    );
    two_factor.totp = false;
    two_factor.totp_secret = None;
    ok("update_agent", store.update_agent(&two_factor).await);
    assert_eq!(
        ok("get_agent", store.get_agent(two_factor.id).await).as_ref(),
        Some(&two_factor),
        "update_agent removes a TOTP secret"
    );
    two_factor.totp_secret = Some(omnidesk_domain::TotpSecret::new("MZXW6YTBOI"));
    ok("update_agent", store.update_agent(&two_factor).await);
    assert!(
        ok("list_agents", store.list_agents().await)
            .iter()
            .any(|a| a == &two_factor),
        "list_agents returns the TOTP secret set by update_agent"
    );
    let agent = new_agent(AgentStatus::Offline);
    ok("create_agent", store.create_agent(&agent).await);
    assert_eq!(
        ok("get_agent", store.get_agent(agent.id).await).as_ref(),
        Some(&agent),
        "get_agent returns the created agent (including its password hash)"
    );
    assert_eq!(
        ok(
            "agent_id_by_email",
            store.agent_id_by_email(&agent.email).await
        ),
        Some(agent.id),
        "agent_id_by_email finds the agent"
    );
    assert_eq!(
        ok(
            "agent_id_by_email",
            store.agent_id_by_email(&fresh_email()).await
        ),
        None,
        "agent_id_by_email of an unknown e-mail"
    );
    assert_eq!(
        ok(
            "get_agent",
            store.get_agent(AgentId::from_uuid(Uuid::now_v7())).await
        ),
        None,
        "get_agent of a missing id"
    );

    let mut twin = new_agent(AgentStatus::Online);
    twin.email = agent.email.clone();
    expect_conflict(
        "create_agent with a taken e-mail",
        store.create_agent(&twin).await,
    );
    assert_eq!(
        ok("get_agent", store.get_agent(twin.id).await),
        None,
        "an agent whose e-mail was taken must not exist"
    );

    let second = new_agent(AgentStatus::Online);
    ok("create_agent", store.create_agent(&second).await);
    let listed = ok("list_agents", store.list_agents().await);
    assert!(
        listed.windows(2).all(|w| w[0].id < w[1].id),
        "list_agents must be ordered by id"
    );
    let ids: Vec<AgentId> = listed.iter().map(|a| a.id).collect();
    assert_in_order("list_agents", &ids, &[agent.id, second.id]);

    let mut edit = agent.clone();
    edit.status = AgentStatus::Online;
    edit.capacity = 3;
    edit.name = "Renamed Agent".to_owned();
    ok("update_agent", store.update_agent(&edit).await);
    assert_eq!(
        ok("get_agent", store.get_agent(agent.id).await).as_ref(),
        Some(&edit),
        "update_agent replaces the agent"
    );
    expect_not_found(
        "update_agent of a missing agent",
        store.update_agent(&new_agent(AgentStatus::Online)).await,
    );

    // Counters.
    let name = format!("suite-{}", fresh());
    assert_eq!(
        ok("counter", store.counter(&name).await),
        0,
        "a counter never incremented reads 0"
    );
    for expected in 1..=3 {
        assert_eq!(
            ok("next_counter", store.next_counter(&name).await),
            expected,
            "next_counter counts 1, 2, 3, …"
        );
    }
    let other = format!("suite-{}", fresh());
    assert_eq!(
        ok("next_counter", store.next_counter(&other).await),
        1,
        "counters are independent per name"
    );
    assert_eq!(
        ok("counter", store.counter(&name).await),
        3,
        "counter reads the last value without changing it"
    );
    assert_eq!(ok("counter", store.counter(&name).await), 3);
    let windowed = format!("suite-window-{}", fresh());
    let ends = Timestamp::from_millis(i64::from(u32::MAX) * 1000);
    for expected in 1..=2 {
        assert_eq!(
            ok(
                "next_counter_until",
                store.next_counter_until(&windowed, ends).await
            ),
            expected,
            "a counter with an end counts like any other"
        );
    }
    assert_eq!(ok("counter", store.counter(&windowed).await), 2);
    let values: Vec<u64> = join_all((0..20).map(|_| store.next_counter(&name)).collect())
        .await
        .into_iter()
        .map(|r| ok("concurrent next_counter", r))
        .collect();
    let distinct: BTreeSet<u64> = values.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        20,
        "20 concurrent next_counter calls must return 20 distinct values, got {values:?}"
    );
    assert_eq!(
        distinct.into_iter().collect::<Vec<_>>(),
        (4..=23).collect::<Vec<u64>>(),
        "concurrent next_counter calls continue the sequence without gaps"
    );
}

// ---------------------------------------------------------------------------------------------
// bots

/// Upsert, ordering, `set_poll_offset`.
pub async fn bots(store: &dyn BotStore) {
    let id = random_bot_id();
    let bot = BotConfig {
        id,
        token: Secret::new(format!("{id}:AAH{}", fresh())),
        webhook_secret: Secret::new(fresh()),
        username: Some("suite_bot".to_owned()),
        mode: BotMode::Webhook,
        poll_offset: None,
        created_at: now(),
    };
    ok("put_bot", store.put_bot(&bot).await);
    assert_eq!(
        ok("get_bot", store.get_bot(id).await).as_ref(),
        Some(&bot),
        "get_bot returns the stored bot"
    );
    let mut replaced = bot.clone();
    replaced.mode = BotMode::Polling;
    replaced.username = None;
    ok("put_bot", store.put_bot(&replaced).await);
    assert_eq!(
        ok("get_bot", store.get_bot(id).await).as_ref(),
        Some(&replaced),
        "put_bot replaces a bot with the same id"
    );
    ok("set_poll_offset", store.set_poll_offset(id, 1234).await);
    assert_eq!(
        ok("get_bot", store.get_bot(id).await).and_then(|b| b.poll_offset),
        Some(1234),
        "set_poll_offset stores the offset"
    );
    let missing = random_bot_id();
    expect_not_found(
        "set_poll_offset of a missing bot",
        store.set_poll_offset(missing, 1).await,
    );
    assert_eq!(
        ok("get_bot", store.get_bot(missing).await),
        None,
        "set_poll_offset of a missing bot must not create it"
    );

    let second = BotConfig {
        id: random_bot_id(),
        ..bot.clone()
    };
    ok("put_bot", store.put_bot(&second).await);
    let listed = ok("list_bots", store.list_bots().await);
    assert!(
        listed.windows(2).all(|w| w[0].id < w[1].id),
        "list_bots must be ordered by id"
    );
    let mut mine = [id, second.id];
    mine.sort();
    assert_in_order(
        "list_bots",
        &listed.iter().map(|b| b.id).collect::<Vec<_>>(),
        &mine,
    );
    assert_eq!(
        listed.iter().filter(|b| b.id == id).count(),
        1,
        "an upserted bot is listed once"
    );
}

// ---------------------------------------------------------------------------------------------
// dead letters

/// Newest first, pages.
pub async fn dead_letters(store: &dyn DeadLetterStore) {
    let base = now();
    let marker = fresh();
    let mut recorded = Vec::new();
    for i in 0..3 {
        let d = DeadLetter {
            id: format!("suite-{}", fresh()),
            source: format!("suite:{marker}"),
            reason: format!("unparseable {i}"),
            body: format!("{{\"broken\": {i}"),
            received_at: base.plus_millis(i),
        };
        ok("record_dead_letter", store.record_dead_letter(&d).await);
        recorded.push(d);
    }
    let listed = walk(
        "list_dead_letters",
        2,
        |d: &DeadLetter| d.id.clone(),
        |p| async move { store.list_dead_letters(&p).await },
    )
    .await;
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].received_at >= w[1].received_at),
        "list_dead_letters must be newest first"
    );
    let mine: Vec<&DeadLetter> = listed
        .iter()
        .filter(|d| d.source == format!("suite:{marker}"))
        .collect();
    let expected: Vec<&DeadLetter> = recorded.iter().rev().collect();
    assert_eq!(
        mine, expected,
        "list_dead_letters returns every recorded dead letter once, newest first, unchanged"
    );
}

// ---------------------------------------------------------------------------------------------
// audit log

/// Newest first, pages; an entry past its `keep_until` is not listed.
pub async fn audit(store: &dyn crate::AuditStore) {
    let base = now();
    let marker = fresh();
    let mut recorded = Vec::new();
    for i in 0..3 {
        let e = crate::AuditEntry {
            id: format!("suite-{}", fresh()),
            at: base.plus_millis(i),
            actor: Some(AgentId::from_uuid(Uuid::now_v7())),
            action: "role_changed".to_owned(),
            target: Some(format!("suite:{marker}")),
            detail: Some(format!("agent → supervisor {i}")),
            address: None,
        };
        ok(
            "record_audit",
            store
                .record_audit(&e, base.plus_millis(24 * 3600 * 1000))
                .await,
        );
        recorded.push(e);
    }
    let gone = crate::AuditEntry {
        id: format!("suite-{}", fresh()),
        at: base.plus_millis(-10_000),
        actor: None,
        action: "signed_in".to_owned(),
        target: Some(format!("suite:{marker}")),
        detail: None,
        address: Some("203.0.113.9".to_owned()),
    };
    ok(
        "record_audit",
        store.record_audit(&gone, base.plus_millis(-5_000)).await,
    );
    let listed = walk(
        "list_audit",
        2,
        |e: &crate::AuditEntry| e.id.clone(),
        |p| async move { store.list_audit(&p).await },
    )
    .await;
    assert!(
        listed.windows(2).all(|w| w[0].at >= w[1].at),
        "list_audit must be newest first"
    );
    let mine: Vec<&crate::AuditEntry> = listed
        .iter()
        .filter(|e| e.target.as_deref() == Some(&format!("suite:{marker}")))
        .collect();
    let expected: Vec<&crate::AuditEntry> = recorded.iter().rev().collect();
    assert_eq!(
        mine, expected,
        "list_audit returns every kept entry once, newest first, unchanged, and not one past its keep_until"
    );
}

// ---------------------------------------------------------------------------------------------
// connections

/// Upsert, remove (unknown is fine), 2 h expiry.
pub async fn connections(store: &dyn ConnectionStore) {
    let agent = AgentId::from_uuid(Uuid::now_v7());
    let conn = Connection {
        id: ConnectionId(format!("suite-{}", fresh())),
        agent_id: agent,
        connected_at: now(),
        viewer: None,
    };
    ok("add_connection", store.add_connection(&conn).await);
    let find = |list: &[Connection], id: &ConnectionId| -> Vec<Connection> {
        list.iter().filter(|c| &c.id == id).cloned().collect()
    };
    let listed = ok("list_connections", store.list_connections().await);
    assert_eq!(
        find(&listed, &conn.id),
        vec![conn.clone()],
        "list_connections lists an added connection"
    );

    let moved = Connection {
        agent_id: AgentId::from_uuid(Uuid::now_v7()),
        ..conn.clone()
    };
    ok("add_connection", store.add_connection(&moved).await);
    let listed = ok("list_connections", store.list_connections().await);
    assert_eq!(
        find(&listed, &conn.id),
        vec![moved.clone()],
        "add_connection upserts by id"
    );

    ok("remove_connection", store.remove_connection(&conn.id).await);
    let listed = ok("list_connections", store.list_connections().await);
    assert!(
        find(&listed, &conn.id).is_empty(),
        "a removed connection must not be listed"
    );
    ok(
        "remove_connection of an unknown id",
        store.remove_connection(&conn.id).await,
    );

    let old = Connection {
        id: ConnectionId(format!("suite-{}", fresh())),
        agent_id: agent,
        connected_at: now().plus_millis(-3 * 60 * 60 * 1000),
        viewer: None,
    };
    ok("add_connection", store.add_connection(&old).await);
    let listed = ok("list_connections", store.list_connections().await);
    assert!(
        find(&listed, &old.id).is_empty(),
        "a connection older than 2 hours must not be listed"
    );
    ok("remove_connection", store.remove_connection(&old.id).await);
}

/// A conversation owns one key per channel: a claimed key leads to it (taken from whoever had
/// it, who is named), a released one leads nowhere, and a released key can start a new
/// conversation.
pub async fn conversation_keys(store: &dyn Store) {
    let contact = new_contact(web_identity());
    ok("create_contact", store.create_contact(&contact).await);
    let web = new_conversation(contact.id, now());
    let tg = new_conversation(contact.id, now());
    ok("create_conversation", store.create_conversation(&web).await);
    ok("create_conversation", store.create_conversation(&tg).await);

    // The web conversation takes the other one's key.
    assert_eq!(
        ok(
            "claim_conversation_key",
            store.claim_conversation_key(web.id, &tg.key).await
        ),
        Some(tg.id),
        "claiming a held key names the conversation that held it"
    );
    let found = ok(
        "conversation_by_key",
        store.conversation_by_key(&tg.key).await,
    );
    assert_eq!(
        found.map(|c| c.id),
        Some(web.id),
        "the key leads to its new owner"
    );
    assert_eq!(
        ok(
            "claim_conversation_key",
            store.claim_conversation_key(web.id, &tg.key).await
        ),
        None,
        "claiming again is idempotent"
    );
    let extra = ConversationKey::parse(&format!("suite:{}", fresh()))
        .unwrap_or_else(|e| panic!("suite bug: {e}"));
    assert_eq!(
        ok(
            "claim_conversation_key",
            store.claim_conversation_key(web.id, &extra).await
        ),
        None,
        "a free key is claimed without a previous owner"
    );
    let by_extra = ok(
        "conversation_by_key",
        store.conversation_by_key(&extra).await,
    );
    assert_eq!(by_extra.map(|c| c.id), Some(web.id));
    // The original key of the web conversation still leads to it.
    let by_own = ok(
        "conversation_by_key",
        store.conversation_by_key(&web.key).await,
    );
    assert_eq!(by_own.map(|c| c.id), Some(web.id));

    // Releasing by a conversation that does not hold the key changes nothing.
    ok(
        "release_conversation_key",
        store.release_conversation_key(tg.id, &extra).await,
    );
    let still = ok(
        "conversation_by_key",
        store.conversation_by_key(&extra).await,
    );
    assert_eq!(still.map(|c| c.id), Some(web.id));
    // Released by its holder: leads nowhere, and may start a new conversation.
    ok(
        "release_conversation_key",
        store.release_conversation_key(web.id, &extra).await,
    );
    assert_eq!(
        ok(
            "conversation_by_key",
            store.conversation_by_key(&extra).await
        ),
        None,
        "a released key leads nowhere"
    );
    let mut again = new_conversation(contact.id, now());
    again.key = extra.clone();
    ok(
        "create_conversation",
        store.create_conversation(&again).await,
    );
    let reborn = ok(
        "conversation_by_key",
        store.conversation_by_key(&extra).await,
    );
    assert_eq!(reborn.map(|c| c.id), Some(again.id));

    // A key cannot be claimed for a conversation that does not exist.
    let ghost = ConversationId::from_uuid(Uuid::now_v7());
    match store.claim_conversation_key(ghost, &web.key).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("claim for a missing conversation: expected NotFound, got {other:?}"),
    }
}

/// Websites (upsert, read, list) and single-use tokens: redeemed at most once, never after
/// they expire, and a new token of an owner cancels their previous one.
pub async fn web(store: &dyn WebStore) {
    let site = Website {
        id: omnidesk_domain::WebsiteId::from_uuid(Uuid::now_v7()),
        name: "Suite shop".to_owned(),
        origins: vec!["https://shop.example.com".to_owned()],
        bot_id: None,
        identity_secret: Some(Secret::new("suite-secret-0123456789")),
        prechat: true,
        created_at: now(),
    };
    ok("put_website", store.put_website(&site).await);
    assert_eq!(
        ok("get_website", store.get_website(site.id).await).as_ref(),
        Some(&site)
    );
    let mut renamed = site.clone();
    renamed.name = "Renamed".to_owned();
    ok("put_website", store.put_website(&renamed).await);
    assert_eq!(
        ok("get_website", store.get_website(site.id).await).map(|w| w.name),
        Some("Renamed".to_owned()),
        "put_website replaces"
    );
    assert!(
        ok("list_websites", store.list_websites().await)
            .iter()
            .any(|w| w.id == site.id)
    );
    let missing = omnidesk_domain::WebsiteId::from_uuid(Uuid::now_v7());
    assert_eq!(ok("get_website", store.get_website(missing).await), None);

    let t0 = now();
    let owner = format!("suite-{}", fresh());
    let token = |hash: &str, expires: Timestamp| StoredToken {
        kind: TokenKind::Handoff,
        hash: hash.to_owned(),
        owner: owner.clone(),
        payload: "{\"x\":1}".to_owned(),
        expires_at: expires,
    };
    let first = format!("h1-{}", fresh());
    let second = format!("h2-{}", fresh());
    ok(
        "put_token",
        store
            .put_token(&token(&first, t0.plus_millis(600_000)))
            .await,
    );
    ok(
        "put_token",
        store
            .put_token(&token(&second, t0.plus_millis(600_000)))
            .await,
    );
    assert_eq!(
        ok(
            "take_token",
            store.take_token(TokenKind::Handoff, &first, t0).await
        ),
        None,
        "a new token of the same owner cancels the previous one"
    );
    assert_eq!(
        ok(
            "take_token",
            store.take_token(TokenKind::WsTicket, &second, t0).await
        ),
        None,
        "a token is redeemed only as its own kind"
    );
    let taken = ok(
        "take_token",
        store.take_token(TokenKind::Handoff, &second, t0).await,
    );
    assert_eq!(taken.map(|t| t.payload), Some("{\"x\":1}".to_owned()));
    assert_eq!(
        ok(
            "take_token",
            store.take_token(TokenKind::Handoff, &second, t0).await
        ),
        None,
        "a token is redeemed once"
    );
    let expiring = format!("h3-{}", fresh());
    ok(
        "put_token",
        store
            .put_token(&token(&expiring, t0.plus_millis(1_000)))
            .await,
    );
    assert_eq!(
        ok(
            "take_token",
            store
                .take_token(TokenKind::Handoff, &expiring, t0.plus_millis(1_000))
                .await
        ),
        None,
        "an expired token is never redeemed"
    );
}

/// Visitor connections: listed per visitor until removed.
pub async fn visitor_connections(store: &dyn VisitorConnectionStore) {
    let visitor = omnidesk_domain::VisitorId::from_uuid(Uuid::now_v7());
    let other = omnidesk_domain::VisitorId::from_uuid(Uuid::now_v7());
    let website = omnidesk_domain::WebsiteId::from_uuid(Uuid::now_v7());
    let conn = |id: &str, v| VisitorConnection {
        id: ConnectionId(format!("{id}-{}", fresh())),
        website_id: website,
        visitor_id: v,
        connected_at: now(),
    };
    let a = conn("a", visitor);
    let b = conn("b", visitor);
    let c = conn("c", other);
    for x in [&a, &b, &c] {
        ok(
            "add_visitor_connection",
            store.add_visitor_connection(x).await,
        );
    }
    let mut mine = ok(
        "visitor_connections",
        store.visitor_connections(visitor).await,
    );
    mine.sort();
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(mine, expected, "only the visitor's own connections");
    assert_eq!(
        ok("visitor_connection", store.visitor_connection(&a.id).await),
        Some(a.clone()),
        "a connection is found by its id"
    );
    ok(
        "remove_visitor_connection",
        store.remove_visitor_connection(&a.id).await,
    );
    ok(
        "remove_visitor_connection",
        store.remove_visitor_connection(&a.id).await,
    );
    assert_eq!(
        ok("visitor_connection", store.visitor_connection(&a.id).await),
        None,
        "a removed connection is not found by its id"
    );
    assert_eq!(
        ok(
            "visitor_connections",
            store.visitor_connections(visitor).await
        ),
        vec![b.id.clone()]
    );
}

/// A merge moves an identity between contacts atomically: the key leads to the new holder,
/// the lists of both follow, a repeat is a no-op, and a third contact's identity is refused.
pub async fn moved_identities(store: &dyn Store) {
    let web = web_identity();
    let tg = Identity::Telegram {
        bot_id: BotId::parse("4242").unwrap_or_else(|e| panic!("suite bug: {e}")),
        user_id: omnidesk_domain::TelegramUserId(rand_u64()),
        username: None,
    };
    let from = new_contact(tg.clone());
    let into = new_contact(web.clone());
    let third = new_contact(web_identity());
    for c in [&from, &into, &third] {
        ok("create_contact", store.create_contact(c).await);
    }
    ok(
        "move_identity",
        store.move_identity(&tg, from.id, into.id).await,
    );
    assert_eq!(
        ok(
            "contact_id_by_identity",
            store.contact_id_by_identity(&tg.key()).await
        ),
        Some(into.id),
        "the key leads to the new holder"
    );
    let into_now = ok("get_contact", store.get_contact(into.id).await)
        .unwrap_or_else(|| panic!("contact vanished"));
    let keys: Vec<_> = into_now.identities.iter().map(Identity::key).collect();
    assert_eq!(
        keys,
        vec![web.key(), tg.key()],
        "the identity joined the list"
    );
    let from_now = ok("get_contact", store.get_contact(from.id).await)
        .unwrap_or_else(|| panic!("contact vanished"));
    assert!(from_now.identities.is_empty(), "and left the other one");
    ok(
        "move_identity again",
        store.move_identity(&tg, from.id, into.id).await,
    );
    expect_conflict(
        "move a third contact's identity",
        store.move_identity(&tg, third.id, from.id).await,
    );
    let ghost = ContactId::from_uuid(Uuid::now_v7());
    match store.move_identity(&web, into.id, ghost).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("move to a missing contact: expected NotFound, got {other:?}"),
    }
}

fn rand_u64() -> u64 {
    u64::from(Uuid::now_v7().as_u128() as u32) + 1_000_000
}

/// [`crate::MailStore`]: mailboxes upsert, thread references are first-writer-wins,
/// unprocessable mail is listed newest first, paged, and removable.
pub async fn mail(store: &dyn crate::MailStore) {
    let run = Uuid::now_v7().simple().to_string();
    let address = EmailAddress::parse(&format!("support-{run}@suite.example.com")).unwrap();
    let mailbox = crate::Mailbox {
        address: address.clone(),
        name: Some("Suite Support".to_owned()),
        bot_id: Some(BotId::parse("4242").unwrap()),
        created_at: now(),
    };
    ok("put_mailbox", store.put_mailbox(&mailbox).await);
    assert_eq!(
        ok("get_mailbox", store.get_mailbox(&address).await).as_ref(),
        Some(&mailbox)
    );
    let renamed = crate::Mailbox {
        name: None,
        ..mailbox.clone()
    };
    ok("put_mailbox", store.put_mailbox(&renamed).await);
    assert_eq!(
        ok("get_mailbox", store.get_mailbox(&address).await),
        Some(renamed),
        "put_mailbox replaces"
    );
    let unknown = EmailAddress::parse(&format!("nobody-{run}@suite.example.com")).unwrap();
    assert_eq!(ok("get_mailbox", store.get_mailbox(&unknown).await), None);
    let listed = ok("list_mailboxes", store.list_mailboxes().await);
    assert!(listed.iter().any(|m| m.address == address), "listed");
    assert!(
        listed.windows(2).all(|w| w[0].address <= w[1].address),
        "list_mailboxes is ordered by address"
    );

    let reference = format!("mid:{run}");
    let first = ConversationKey::email(&format!("a{run}"));
    let second = ConversationKey::email(&format!("b{run}"));
    assert_eq!(ok("thread_of", store.thread_of(&reference).await), None);
    assert_eq!(
        ok("link_thread", store.link_thread(&reference, &first).await),
        first
    );
    assert_eq!(
        ok("link_thread", store.link_thread(&reference, &second).await),
        first,
        "a linked reference keeps leading where it led first"
    );
    assert_eq!(
        ok("link_thread", store.link_thread(&reference, &first).await),
        first,
        "linking again is idempotent"
    );
    assert_eq!(
        ok("thread_of", store.thread_of(&reference).await),
        Some(first)
    );

    let base = now().millis();
    let kept: Vec<crate::UnprocessableMail> = (0..3)
        .map(|i| crate::UnprocessableMail {
            id: format!("{run}-{i}"),
            blob: format!("{:064x}", i),
            size: 100 + i,
            reason: format!("broken {i}"),
            source: "suite".to_owned(),
            // Far in the future, so the suite's records are the newest in a shared table.
            received_at: Timestamp::from_millis(base + 10_000_000_000 + i as i64),
        })
        .collect();
    for m in &kept {
        ok("record_unprocessable", store.record_unprocessable(m).await);
    }
    let page = ok(
        "list_unprocessable",
        store.list_unprocessable(&PageRequest::first(2)).await,
    );
    assert_eq!(
        page.items,
        vec![kept[2].clone(), kept[1].clone()],
        "newest first"
    );
    let rest = ok(
        "list_unprocessable",
        store
            .list_unprocessable(&PageRequest {
                limit: 2,
                cursor: page.next_cursor.clone(),
            })
            .await,
    );
    assert_eq!(
        rest.items.first(),
        Some(&kept[0]),
        "the next page continues"
    );
    ok(
        "remove_unprocessable",
        store.remove_unprocessable(&kept[1].id).await,
    );
    ok(
        "remove_unprocessable",
        store.remove_unprocessable("no-such-mail").await,
    );
    let after = ok(
        "list_unprocessable",
        store.list_unprocessable(&PageRequest::first(3)).await,
    );
    assert!(
        after.items.iter().all(|m| m.id != kept[1].id),
        "a removed mail is not listed"
    );
    assert_eq!(after.items.first(), Some(&kept[2]));
    for m in [&kept[0], &kept[2]] {
        ok(
            "remove_unprocessable",
            store.remove_unprocessable(&m.id).await,
        );
    }
}
