use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use omnidesk_domain::{
    Agent, AgentId, BotId, ChannelRef, Contact, ContactId, Conversation, ConversationId,
    ConversationKey, ConversationStatus, Delivery, EmailAddress, Identity, IdentityKey, Message,
    MessageContent, MessageId, Timestamp,
};
use parking_lot::Mutex;

use crate::{
    AgentStore, AppendOutcome, AuditEntry, AuditStore, BotConfig, BotStore, Clock, Connection,
    ConnectionId, ConnectionStore, ContactStore, ConversationFilter, ConversationStore, DeadLetter,
    DeadLetterStore, MessageStore, Page, PageRequest, StoreError, StoreResult, StoredToken,
    SystemClock, TokenKind, VisitorConnection, VisitorConnectionStore, WebStore, Website,
};

/// How long a WebSocket connection is listed (API Gateway's maximum connection duration).
const CONNECTION_TTL_MS: i64 = 2 * 60 * 60 * 1000;
/// Page size used when a request asks for 0 items.
const DEFAULT_LIMIT: usize = 50;

/// Every store trait in memory, with the guarantees stated on the ports. One mutex guards
/// everything, so each call is atomic.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    contacts: HashMap<ContactId, Contact>,
    identities: HashMap<IdentityKey, ContactId>,
    conversations: HashMap<ConversationId, Conversation>,
    conversation_keys: HashMap<ConversationKey, ConversationId>,
    messages: BTreeMap<(ConversationId, MessageId), Message>,
    source_keys: HashMap<String, MessageId>,
    agents: BTreeMap<AgentId, Agent>,
    agent_emails: HashMap<EmailAddress, AgentId>,
    counters: HashMap<String, u64>,
    bots: BTreeMap<BotId, BotConfig>,
    dead_letters: Vec<DeadLetter>,
    audit: Vec<(AuditEntry, Timestamp)>,
    connections: BTreeMap<ConnectionId, Connection>,
    websites: BTreeMap<omnidesk_domain::WebsiteId, Website>,
    tokens: HashMap<(TokenKind, String), StoredToken>,
    visitor_connections: BTreeMap<ConnectionId, VisitorConnection>,
    mailboxes: BTreeMap<EmailAddress, crate::Mailbox>,
    thread_refs: HashMap<String, ConversationKey>,
    unprocessable: Vec<crate::UnprocessableMail>,
    translations: HashMap<String, (crate::CachedTranslation, Timestamp)>,
    translation_links: HashMap<ConversationId, BTreeSet<String>>,
    translation_usage: HashMap<(String, String), u64>,
    glossary: crate::Glossary,
    faq: BTreeMap<String, crate::FaqEntry>,
    faq_version: u64,
    ai_calls: HashMap<String, crate::AiCall>,
    teams: BTreeMap<omnidesk_domain::TeamName, omnidesk_domain::Team>,
    rules: Option<crate::StoredRules>,
    canned: BTreeMap<String, crate::CannedResponse>,
}

impl MemoryStore {
    /// An empty store; `clock` decides which connections are too old to be listed.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }
}

impl Default for MemoryStore {
    /// An empty store on the system clock.
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

fn limit_of(page: &PageRequest) -> usize {
    if page.limit == 0 {
        DEFAULT_LIMIT
    } else {
        page.limit
    }
}

/// Takes one page of `sorted` items, each with its sort key; the cursor is the key of the last
/// item returned and the next page starts strictly after it.
fn paginate<T: Clone>(
    sorted: Vec<(String, T)>,
    page: &PageRequest,
    after: impl Fn(&str, &str) -> bool,
) -> Page<T> {
    let limit = limit_of(page);
    let mut rest = sorted
        .into_iter()
        .filter(|(key, _)| page.cursor.as_deref().is_none_or(|c| after(key, c)));
    let mut items = Vec::new();
    let mut last_key = None;
    for (key, item) in rest.by_ref().take(limit) {
        items.push(item);
        last_key = Some(key);
    }
    let next_cursor = if rest.next().is_some() {
        last_key
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A keyset cursor: `(sort value, id text)`, descending.
type ActivityKey = (i64, String);

fn parse_activity_cursor(cursor: &str) -> Option<ActivityKey> {
    let (ms, id) = cursor.split_once(':')?;
    Some((ms.parse().ok()?, id.to_owned()))
}

fn activity_cursor(ms: i64, id: &str) -> String {
    format!("{ms}:{id}")
}

/// Whether `key` (a cursor string) sorts after `cursor` in descending (sort value, id) order.
fn after_desc(key: &str, cursor: &str) -> bool {
    match (parse_activity_cursor(key), parse_activity_cursor(cursor)) {
        (Some(k), Some(c)) => k < c,
        _ => false,
    }
}

fn check_cursor(page: &PageRequest) -> StoreResult<()> {
    match &page.cursor {
        Some(c) if parse_activity_cursor(c).is_none() => {
            Err(StoreError::Corrupt(format!("invalid page cursor `{c}`")))
        }
        _ => Ok(()),
    }
}

/// Conversations sorted by [`Conversation::list_rank`] descending (minute of the last
/// activity, then id), keyed by their cursor `<minute>:<id>`. Ids render as
/// `cv_<uuid simple>`, whose text order is the id order.
fn conversation_page<'a>(
    matching: impl Iterator<Item = &'a Conversation>,
    page: &PageRequest,
) -> StoreResult<Page<Conversation>> {
    check_cursor(page)?;
    let mut sorted: Vec<_> = matching
        .map(|c| {
            let (minute, id) = c.list_rank();
            (activity_cursor(minute, &id.to_string()), c.clone())
        })
        .collect();
    sorted.sort_by_key(|(_, c)| std::cmp::Reverse(c.list_rank()));
    Ok(paginate(sorted, page, after_desc))
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn create_contact(&self, contact: &Contact) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if inner.contacts.contains_key(&contact.id) {
            return Err(StoreError::Conflict(format!(
                "contact {} exists already",
                contact.id
            )));
        }
        let mut keys: Vec<IdentityKey> = contact.identities.iter().map(Identity::key).collect();
        for key in &keys {
            if inner.identities.contains_key(key) {
                return Err(StoreError::Conflict(format!("identity {key} is claimed")));
            }
        }
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(StoreError::Conflict(
                "the contact lists one identity twice".to_owned(),
            ));
        }
        for key in keys {
            inner.identities.insert(key, contact.id);
        }
        inner.contacts.insert(contact.id, contact.clone());
        Ok(())
    }

    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        Ok(self.inner.lock().contacts.get(&id).cloned())
    }

    async fn contact_id_by_identity(&self, key: &IdentityKey) -> StoreResult<Option<ContactId>> {
        Ok(self.inner.lock().identities.get(key).copied())
    }

    async fn update_contact(
        &self,
        contact: &Contact,
        expected_updated_at: Timestamp,
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let stored = inner
            .contacts
            .get_mut(&contact.id)
            .ok_or_else(|| StoreError::NotFound(format!("contact {}", contact.id)))?;
        if stored.updated_at != expected_updated_at {
            return Err(StoreError::Conflict(format!(
                "contact {} changed since it was read",
                contact.id
            )));
        }
        let identities = std::mem::take(&mut stored.identities);
        *stored = contact.clone();
        stored.identities = identities;
        Ok(())
    }

    async fn add_identity(&self, contact: ContactId, identity: &Identity) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let key = identity.key();
        if let Some(holder) = inner.identities.get(&key)
            && *holder != contact
        {
            return Err(StoreError::Conflict(format!(
                "identity {key} belongs to another contact"
            )));
        }
        let stored = inner
            .contacts
            .get_mut(&contact)
            .ok_or_else(|| StoreError::NotFound(format!("contact {contact}")))?;
        match stored.identities.iter_mut().find(|i| i.key() == key) {
            Some(existing) => *existing = identity.clone(),
            None => stored.identities.push(identity.clone()),
        }
        inner.identities.insert(key, contact);
        Ok(())
    }

    async fn move_identity(
        &self,
        identity: &Identity,
        from: ContactId,
        to: ContactId,
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let key = identity.key();
        for id in [from, to] {
            if !inner.contacts.contains_key(&id) {
                return Err(StoreError::NotFound(format!("contact {id}")));
            }
        }
        match inner.identities.get(&key) {
            Some(holder) if *holder == to => return Ok(()),
            Some(holder) if *holder != from => {
                return Err(StoreError::Conflict(format!(
                    "identity {key} belongs to a third contact"
                )));
            }
            _ => {}
        }
        if let Some(c) = inner.contacts.get_mut(&from) {
            c.identities.retain(|i| i.key() != key);
        }
        if let Some(c) = inner.contacts.get_mut(&to) {
            c.identities.retain(|i| i.key() != key);
            c.identities.push(identity.clone());
        }
        inner.identities.insert(key, to);
        Ok(())
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if conversation.version != 0 {
            return Err(StoreError::Conflict(format!(
                "a new conversation must have version 0, not {}",
                conversation.version
            )));
        }
        if inner.conversations.contains_key(&conversation.id) {
            return Err(StoreError::Conflict(format!(
                "conversation {} exists already",
                conversation.id
            )));
        }
        if inner.conversation_keys.contains_key(&conversation.key) {
            return Err(StoreError::Conflict(format!(
                "conversation key {} is taken",
                conversation.key
            )));
        }
        inner
            .conversation_keys
            .insert(conversation.key.clone(), conversation.id);
        inner
            .conversations
            .insert(conversation.id, conversation.clone());
        Ok(())
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        Ok(self.inner.lock().conversations.get(&id).cloned())
    }

    async fn conversation_by_key(
        &self,
        key: &ConversationKey,
    ) -> StoreResult<Option<Conversation>> {
        let inner = self.inner.lock();
        Ok(inner
            .conversation_keys
            .get(key)
            .and_then(|id| inner.conversations.get(id))
            .cloned())
    }

    async fn update_conversation(&self, conversation: &Conversation) -> StoreResult<Conversation> {
        let mut inner = self.inner.lock();
        let stored = inner
            .conversations
            .get_mut(&conversation.id)
            .ok_or_else(|| StoreError::NotFound(format!("conversation {}", conversation.id)))?;
        if stored.version != conversation.version {
            return Err(StoreError::Conflict(format!(
                "conversation {} is at version {}, not {}",
                conversation.id, stored.version, conversation.version
            )));
        }
        let key = stored.key.clone();
        *stored = conversation.clone();
        // The routing key never changes (it is claimed at creation).
        stored.key = key;
        stored.version = conversation.version + 1;
        Ok(stored.clone())
    }

    async fn claim_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<Option<ConversationId>> {
        let mut inner = self.inner.lock();
        if !inner.conversations.contains_key(&conversation) {
            return Err(StoreError::NotFound(format!("conversation {conversation}")));
        }
        let previous = inner.conversation_keys.insert(key.clone(), conversation);
        Ok(previous.filter(|p| *p != conversation))
    }

    async fn release_conversation_key(
        &self,
        conversation: ConversationId,
        key: &ConversationKey,
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if inner.conversation_keys.get(key) == Some(&conversation) {
            inner.conversation_keys.remove(key);
        }
        Ok(())
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let inner = self.inner.lock();
        conversation_page(
            inner.conversations.values().filter(|c| {
                filter.status.is_none_or(|s| s == c.status)
                    && filter.assignee.is_none_or(|a| a == c.assignee_id)
            }),
            page,
        )
    }

    async fn list_conversations_of_contact(
        &self,
        contact: ContactId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let inner = self.inner.lock();
        conversation_page(
            inner
                .conversations
                .values()
                .filter(|c| c.contact_id == contact),
            page,
        )
    }

    async fn count_assigned(&self, agent: AgentId) -> StoreResult<u32> {
        let inner = self.inner.lock();
        let n = inner
            .conversations
            .values()
            .filter(|c| c.status == ConversationStatus::Assigned && c.assignee_id == Some(agent))
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append_message(&self, message: &Message) -> StoreResult<AppendOutcome> {
        let mut inner = self.inner.lock();
        if let Some(key) = &message.source_key
            && let Some(first) = inner.source_keys.get(key)
        {
            return Ok(AppendOutcome::Duplicate(*first));
        }
        let k = (message.conversation_id, message.id);
        if inner.messages.contains_key(&k) {
            return Err(StoreError::Conflict(format!(
                "message {} exists already",
                message.id
            )));
        }
        if let Some(key) = &message.source_key {
            inner.source_keys.insert(key.clone(), message.id);
        }
        inner.messages.insert(k, message.clone());
        Ok(AppendOutcome::Inserted)
    }

    async fn get_message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> StoreResult<Option<Message>> {
        Ok(self.inner.lock().messages.get(&(conversation, id)).cloned())
    }

    async fn update_delivery(
        &self,
        conversation: ConversationId,
        id: MessageId,
        delivery: &Delivery,
        channel_ref: Option<&ChannelRef>,
    ) -> StoreResult<Message> {
        let mut inner = self.inner.lock();
        let stored = inner
            .messages
            .get_mut(&(conversation, id))
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        stored.delivery = delivery.clone();
        if let Some(r) = channel_ref {
            stored.channel_ref = Some(r.clone());
        }
        Ok(stored.clone())
    }

    async fn update_content(
        &self,
        conversation: ConversationId,
        id: MessageId,
        content: &MessageContent,
    ) -> StoreResult<Message> {
        let mut inner = self.inner.lock();
        let stored = inner
            .messages
            .get_mut(&(conversation, id))
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        if stored.revision.saturating_add(1) != content.revision {
            return Err(StoreError::Conflict(format!(
                "message {id} is at revision {}",
                stored.revision
            )));
        }
        stored.set_content(content.clone());
        Ok(stored.clone())
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let cursor = match &page.cursor {
            Some(c) => Some(
                MessageId::parse(c)
                    .map_err(|_| StoreError::Corrupt(format!("invalid page cursor `{c}`")))?,
            ),
            None => None,
        };
        let inner = self.inner.lock();
        let limit = limit_of(page);
        let mut older = inner
            .messages
            .range((conversation, MessageId::from_uuid(uuid::Uuid::nil()))..)
            .take_while(|((c, _), _)| *c == conversation)
            .filter(|((_, id), _)| cursor.is_none_or(|cur| *id < cur))
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .into_iter()
            .rev();
        let items: Vec<Message> = older.by_ref().take(limit).cloned().collect();
        let next_cursor = match (older.next(), items.last()) {
            (Some(_), Some(last)) => Some(last.id.to_string()),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl AgentStore for MemoryStore {
    async fn create_agent(&self, agent: &Agent) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if inner.agents.contains_key(&agent.id) {
            return Err(StoreError::Conflict(format!(
                "agent {} exists already",
                agent.id
            )));
        }
        if inner.agent_emails.contains_key(&agent.email) {
            return Err(StoreError::Conflict(format!(
                "e-mail {} belongs to another agent",
                agent.email
            )));
        }
        inner.agent_emails.insert(agent.email.clone(), agent.id);
        inner.agents.insert(agent.id, agent.clone());
        Ok(())
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        Ok(self.inner.lock().agents.get(&id).cloned())
    }

    async fn agent_id_by_email(&self, email: &EmailAddress) -> StoreResult<Option<AgentId>> {
        Ok(self.inner.lock().agent_emails.get(email).copied())
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        Ok(self.inner.lock().agents.values().cloned().collect())
    }

    async fn update_agent(&self, agent: &Agent) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let stored = inner
            .agents
            .get_mut(&agent.id)
            .ok_or_else(|| StoreError::NotFound(format!("agent {}", agent.id)))?;
        let email = stored.email.clone();
        *stored = agent.clone();
        stored.email = email;
        Ok(())
    }

    async fn next_counter(&self, name: &str) -> StoreResult<u64> {
        let mut inner = self.inner.lock();
        let n = inner.counters.entry(name.to_owned()).or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn counter(&self, name: &str) -> StoreResult<u64> {
        Ok(self.inner.lock().counters.get(name).copied().unwrap_or(0))
    }
}

#[async_trait]
impl BotStore for MemoryStore {
    async fn put_bot(&self, bot: &BotConfig) -> StoreResult<()> {
        self.inner.lock().bots.insert(bot.id, bot.clone());
        Ok(())
    }

    async fn get_bot(&self, id: BotId) -> StoreResult<Option<BotConfig>> {
        Ok(self.inner.lock().bots.get(&id).cloned())
    }

    async fn list_bots(&self) -> StoreResult<Vec<BotConfig>> {
        Ok(self.inner.lock().bots.values().cloned().collect())
    }

    async fn set_poll_offset(&self, id: BotId, offset: i64) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let bot = inner
            .bots
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound(format!("bot {id}")))?;
        bot.poll_offset = Some(offset);
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for MemoryStore {
    async fn record_dead_letter(&self, dead_letter: &DeadLetter) -> StoreResult<()> {
        self.inner.lock().dead_letters.push(dead_letter.clone());
        Ok(())
    }

    async fn list_dead_letters(&self, page: &PageRequest) -> StoreResult<Page<DeadLetter>> {
        check_cursor(page)?;
        let inner = self.inner.lock();
        let mut sorted: Vec<_> = inner
            .dead_letters
            .iter()
            .map(|d| (activity_cursor(d.received_at.millis(), &d.id), d.clone()))
            .collect();
        sorted.sort_by(|(_, a), (_, b)| (b.received_at, &b.id).cmp(&(a.received_at, &a.id)));
        Ok(paginate(sorted, page, after_desc))
    }
}

#[async_trait]
impl crate::ErasureStore for MemoryStore {
    async fn erase_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        let id = conversation.id;
        let mut inner = self.inner.lock();
        let stored = inner.conversations.remove(&id);
        inner.conversation_keys.retain(|_, c| *c != id);
        let gone: Vec<(ConversationId, MessageId)> = inner
            .messages
            .range(
                (id, MessageId::from_uuid(uuid::Uuid::nil()))
                    ..=(id, MessageId::from_uuid(uuid::Uuid::max())),
            )
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(m) = inner.messages.remove(&k)
                && let Some(source) = m.source_key
            {
                inner.source_keys.remove(&source);
            }
        }
        inner.ai_calls.retain(|_, c| c.conversation_id != id);
        for key in inner.translation_links.remove(&id).unwrap_or_default() {
            inner.translations.remove(&key);
        }
        drop(stored);
        Ok(())
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let inner = self.inner.lock();
        Ok(inner
            .messages
            .range(
                (conversation, MessageId::from_uuid(uuid::Uuid::nil()))
                    ..=(conversation, MessageId::from_uuid(uuid::Uuid::max())),
            )
            .map(|(_, m)| m)
            .filter(|m| m.created_at < before)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn erase_messages(
        &self,
        conversation: ConversationId,
        ids: &[MessageId],
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        for id in ids {
            if let Some(m) = inner.messages.remove(&(conversation, *id))
                && let Some(source) = &m.source_key
            {
                inner.source_keys.remove(source);
            }
        }
        Ok(())
    }

    async fn erase_dead_letters_naming(&self, needles: &[String]) -> StoreResult<usize> {
        let mut inner = self.inner.lock();
        let before = inner.dead_letters.len();
        inner
            .dead_letters
            .retain(|d| !crate::body_names_any(&d.body, needles));
        Ok(before - inner.dead_letters.len())
    }

    async fn erase_tokens_of(&self, owners: &[String]) -> StoreResult<()> {
        self.inner
            .lock()
            .tokens
            .retain(|_, t| !owners.contains(&t.owner));
        Ok(())
    }

    async fn erase_contact(&self, contact: &Contact) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        inner.contacts.remove(&contact.id);
        inner.identities.retain(|_, c| *c != contact.id);
        Ok(())
    }

    async fn blobs_in_use(
        &self,
        keys: &std::collections::BTreeSet<String>,
        except: &std::collections::BTreeSet<ConversationId>,
        except_messages: &std::collections::BTreeSet<MessageId>,
    ) -> StoreResult<std::collections::BTreeSet<String>> {
        let inner = self.inner.lock();
        Ok(inner
            .messages
            .values()
            .filter(|m| !except.contains(&m.conversation_id) && !except_messages.contains(&m.id))
            .flat_map(Message::blob_keys)
            .filter(|k| keys.contains(k))
            .collect())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn record_audit(&self, entry: &AuditEntry, keep_until: Timestamp) -> StoreResult<()> {
        self.inner.lock().audit.push((entry.clone(), keep_until));
        Ok(())
    }

    async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
        check_cursor(page)?;
        let now = self.clock.now();
        let inner = self.inner.lock();
        let mut sorted: Vec<_> = inner
            .audit
            .iter()
            .filter(|(_, keep)| *keep > now)
            .map(|(e, _)| (activity_cursor(e.at.millis(), &e.id), e.clone()))
            .collect();
        sorted.sort_by(|(_, a), (_, b)| (b.at, &b.id).cmp(&(a.at, &a.id)));
        Ok(paginate(sorted, page, after_desc))
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        self.inner
            .lock()
            .connections
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.inner.lock().connections.remove(id);
        Ok(())
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let now = self.clock.now().millis();
        Ok(self
            .inner
            .lock()
            .connections
            .values()
            .filter(|c| c.connected_at.millis() + CONNECTION_TTL_MS > now)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl WebStore for MemoryStore {
    async fn put_website(&self, website: &Website) -> StoreResult<()> {
        self.inner
            .lock()
            .websites
            .insert(website.id, website.clone());
        Ok(())
    }

    async fn get_website(&self, id: omnidesk_domain::WebsiteId) -> StoreResult<Option<Website>> {
        Ok(self.inner.lock().websites.get(&id).cloned())
    }

    async fn list_websites(&self) -> StoreResult<Vec<Website>> {
        Ok(self.inner.lock().websites.values().cloned().collect())
    }

    async fn put_token(&self, token: &StoredToken) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        inner
            .tokens
            .retain(|_, t| !(t.kind == token.kind && t.owner == token.owner));
        inner
            .tokens
            .insert((token.kind, token.hash.clone()), token.clone());
        Ok(())
    }

    async fn take_token(
        &self,
        kind: TokenKind,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<StoredToken>> {
        let taken = self.inner.lock().tokens.remove(&(kind, hash.to_owned()));
        Ok(taken.filter(|t| t.expires_at > now))
    }
}

#[async_trait]
impl crate::MailStore for MemoryStore {
    async fn put_mailbox(&self, mailbox: &crate::Mailbox) -> StoreResult<()> {
        self.inner
            .lock()
            .mailboxes
            .insert(mailbox.address.clone(), mailbox.clone());
        Ok(())
    }

    async fn get_mailbox(&self, address: &EmailAddress) -> StoreResult<Option<crate::Mailbox>> {
        Ok(self.inner.lock().mailboxes.get(address).cloned())
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<crate::Mailbox>> {
        Ok(self.inner.lock().mailboxes.values().cloned().collect())
    }

    async fn link_thread(
        &self,
        reference: &str,
        key: &ConversationKey,
    ) -> StoreResult<ConversationKey> {
        Ok(self
            .inner
            .lock()
            .thread_refs
            .entry(reference.to_owned())
            .or_insert_with(|| key.clone())
            .clone())
    }

    async fn thread_of(&self, reference: &str) -> StoreResult<Option<ConversationKey>> {
        Ok(self.inner.lock().thread_refs.get(reference).cloned())
    }

    async fn record_unprocessable(&self, mail: &crate::UnprocessableMail) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        inner.unprocessable.retain(|m| m.id != mail.id);
        inner.unprocessable.push(mail.clone());
        Ok(())
    }

    async fn list_unprocessable(
        &self,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::UnprocessableMail>> {
        let mut all = self.inner.lock().unprocessable.clone();
        all.sort_by(|a, b| (b.received_at, &b.id).cmp(&(a.received_at, &a.id)));
        let start = page
            .cursor
            .as_deref()
            .and_then(|c| all.iter().position(|m| m.id == c).map(|i| i + 1))
            .unwrap_or(0);
        let items: Vec<_> = all.into_iter().skip(start).take(page.limit).collect();
        let next_cursor = (items.len() == page.limit)
            .then(|| items.last().map(|m| m.id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    async fn remove_unprocessable(&self, id: &str) -> StoreResult<()> {
        self.inner.lock().unprocessable.retain(|m| m.id != id);
        Ok(())
    }
}

#[async_trait]
impl crate::TranslationStore for MemoryStore {
    async fn cached_translation(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<crate::CachedTranslation>> {
        Ok(self
            .inner
            .lock()
            .translations
            .get(key)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(entry, _)| entry.clone()))
    }

    async fn cache_translation(
        &self,
        key: &str,
        entry: &crate::CachedTranslation,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.inner
            .lock()
            .translations
            .insert(key.to_owned(), (entry.clone(), expires_at));
        Ok(())
    }

    async fn link_cached_translations(
        &self,
        conversation: ConversationId,
        keys: &[String],
        _expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.inner
            .lock()
            .translation_links
            .entry(conversation)
            .or_default()
            .extend(keys.iter().cloned());
        Ok(())
    }

    async fn add_usage(
        &self,
        provider: &str,
        day: &str,
        chars: u64,
        limit: u64,
    ) -> StoreResult<crate::UsageOutcome> {
        let mut inner = self.inner.lock();
        let used = inner
            .translation_usage
            .entry((provider.to_owned(), day.to_owned()))
            .or_insert(0);
        Ok(match used.checked_add(chars) {
            Some(total) if total <= limit => {
                *used = total;
                crate::UsageOutcome::Counted(total)
            }
            _ => crate::UsageOutcome::LimitReached(*used),
        })
    }

    async fn usage(&self, provider: &str, day: &str) -> StoreResult<u64> {
        Ok(self
            .inner
            .lock()
            .translation_usage
            .get(&(provider.to_owned(), day.to_owned()))
            .copied()
            .unwrap_or(0))
    }

    async fn glossary(&self) -> StoreResult<crate::Glossary> {
        Ok(self.inner.lock().glossary.clone())
    }

    async fn put_glossary(&self, glossary: &crate::Glossary) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let stored = inner.glossary.version;
        if stored.checked_add(1) != Some(glossary.version) {
            return Err(StoreError::Conflict(format!(
                "glossary version {} is not the next after the stored {stored}",
                glossary.version
            )));
        }
        inner.glossary = glossary.clone();
        Ok(())
    }
}

#[async_trait]
impl crate::AiStore for MemoryStore {
    async fn faq(&self) -> StoreResult<crate::Faq> {
        let inner = self.inner.lock();
        Ok(crate::Faq {
            version: inner.faq_version,
            entries: inner.faq.values().cloned().collect(),
        })
    }

    async fn faq_version(&self) -> StoreResult<u64> {
        Ok(self.inner.lock().faq_version)
    }

    async fn put_faq_entries(&self, entries: &[crate::FaqEntry]) -> StoreResult<u64> {
        let mut inner = self.inner.lock();
        if !entries.is_empty() {
            for entry in entries {
                inner.faq.insert(entry.id.clone(), entry.clone());
            }
            inner.faq_version += 1;
        }
        Ok(inner.faq_version)
    }

    async fn delete_faq_entry(&self, id: &str) -> StoreResult<bool> {
        let mut inner = self.inner.lock();
        let existed = inner.faq.remove(id).is_some();
        if existed {
            inner.faq_version += 1;
        }
        Ok(existed)
    }

    async fn record_ai_call(&self, call: &crate::AiCall) -> StoreResult<()> {
        self.inner
            .lock()
            .ai_calls
            .insert(call.id.clone(), call.clone());
        Ok(())
    }

    async fn ai_calls(
        &self,
        conversation: Option<ConversationId>,
        limit: usize,
    ) -> StoreResult<Vec<crate::AiCall>> {
        let inner = self.inner.lock();
        let mut calls: Vec<&crate::AiCall> = inner
            .ai_calls
            .values()
            .filter(|c| conversation.is_none_or(|id| c.conversation_id == id))
            .collect();
        calls.sort_by(|x, y| (y.at, &y.id).cmp(&(x.at, &x.id)));
        Ok(calls.into_iter().take(limit).cloned().collect())
    }
}

#[async_trait]
impl VisitorConnectionStore for MemoryStore {
    async fn add_visitor_connection(&self, connection: &VisitorConnection) -> StoreResult<()> {
        self.inner
            .lock()
            .visitor_connections
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn remove_visitor_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.inner.lock().visitor_connections.remove(id);
        Ok(())
    }

    async fn visitor_connections(
        &self,
        visitor: omnidesk_domain::VisitorId,
    ) -> StoreResult<Vec<ConnectionId>> {
        let cutoff = self.clock.now().millis() - CONNECTION_TTL_MS;
        Ok(self
            .inner
            .lock()
            .visitor_connections
            .values()
            .filter(|c| c.visitor_id == visitor && c.connected_at.millis() > cutoff)
            .map(|c| c.id.clone())
            .collect())
    }

    async fn visitor_connection(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<VisitorConnection>> {
        let cutoff = self.clock.now().millis() - CONNECTION_TTL_MS;
        Ok(self
            .inner
            .lock()
            .visitor_connections
            .get(id)
            .filter(|c| c.connected_at.millis() > cutoff)
            .cloned())
    }
}

#[async_trait]
impl crate::RoutingStore for MemoryStore {
    async fn put_team(&self, team: &omnidesk_domain::Team) -> StoreResult<()> {
        self.inner
            .lock()
            .teams
            .insert(team.name.clone(), team.clone());
        Ok(())
    }
    async fn get_team(
        &self,
        name: &omnidesk_domain::TeamName,
    ) -> StoreResult<Option<omnidesk_domain::Team>> {
        Ok(self.inner.lock().teams.get(name).cloned())
    }
    async fn list_teams(&self) -> StoreResult<Vec<omnidesk_domain::Team>> {
        Ok(self.inner.lock().teams.values().cloned().collect())
    }
    async fn delete_team(&self, name: &omnidesk_domain::TeamName) -> StoreResult<bool> {
        Ok(self.inner.lock().teams.remove(name).is_some())
    }
    async fn get_rules(&self) -> StoreResult<Option<crate::StoredRules>> {
        Ok(self.inner.lock().rules.clone())
    }
    async fn rules_version(&self) -> StoreResult<u64> {
        Ok(self.inner.lock().rules.as_ref().map_or(0, |r| r.version))
    }
    async fn put_rules(
        &self,
        rules: &crate::StoredRules,
        expected_version: u64,
    ) -> StoreResult<crate::StoredRules> {
        let mut inner = self.inner.lock();
        let current = inner.rules.as_ref().map_or(0, |r| r.version);
        if current != expected_version {
            return Err(StoreError::Conflict(format!(
                "rules are at version {current}, not {expected_version}"
            )));
        }
        let stored = crate::StoredRules {
            version: current + 1,
            ..rules.clone()
        };
        inner.rules = Some(stored.clone());
        Ok(stored)
    }
    async fn put_canned(&self, canned: &crate::CannedResponse) -> StoreResult<()> {
        self.inner
            .lock()
            .canned
            .insert(canned.shortcut.clone(), canned.clone());
        Ok(())
    }
    async fn list_canned(&self) -> StoreResult<Vec<crate::CannedResponse>> {
        Ok(self.inner.lock().canned.values().cloned().collect())
    }
    async fn delete_canned(&self, shortcut: &str) -> StoreResult<bool> {
        Ok(self.inner.lock().canned.remove(shortcut).is_some())
    }
}
