//! Small use cases shared by several functions.

use std::collections::HashMap;

use omnidesk_domain::{AgentId, Contact, Conversation, ConversationId, Role};

use crate::{
    Connection, ConnectionStore, ContactStore, ConversationStore, ConversationView, Push,
    PushOutcome, ServerEvent, StoreError, StoreResult,
};

/// Pushes `event` to every connected agent who may read what it is about. Gone connections
/// are removed (not an error); a failed push to one connection is logged and does not stop the
/// others. Returns how many connections received it.
///
/// Supervisors and admins get every event; an agent only those of conversations they may read
/// ([`crate::assign::may_read`]): a batch is narrowed to its events they may read, and nothing
/// is sent when none is left. An event that does not carry its conversation's team and
/// assignee (`message.updated`) costs one read of the conversation, only when an agent is
/// connected.
///
/// Lists the connections on every call; a Lambda that pushes many events per invocation wraps
/// its store and push in `omnidesk_lambda::CoalescingPush`, which lists once per batch and
/// buffers the frames.
pub async fn push_to_agents(
    connections: &dyn ConnectionStore,
    conversations: &dyn ConversationStore,
    push: &dyn Push,
    event: &ServerEvent,
) -> StoreResult<usize> {
    push_to_connections(connections, Some(conversations), push, None, event).await
}

/// Pushes `event` to the connections of one agent only (a notification meant for them). Gone
/// connections are removed and failed pushes logged, as in [`push_to_agents`]. Returns how many
/// connections received it (0 when the agent has none open).
pub async fn push_to_agent(
    connections: &dyn ConnectionStore,
    push: &dyn Push,
    agent: omnidesk_domain::AgentId,
    event: &ServerEvent,
) -> StoreResult<usize> {
    push_to_connections(connections, None, push, Some(agent), event).await
}

/// [`push_to_agents`], to one agent's connections when `only` names them (a notification
/// meant for them: not narrowed).
async fn push_to_connections(
    connections: &dyn ConnectionStore,
    conversations: Option<&dyn ConversationStore>,
    push: &dyn Push,
    only: Option<omnidesk_domain::AgentId>,
    event: &ServerEvent,
) -> StoreResult<usize> {
    let frame = event.to_json();
    let mut delivered = 0;
    let mut scopes = Scopes::default();
    for conn in connections.list_connections().await? {
        if only.is_some_and(|agent| conn.agent_id != agent) {
            continue;
        }
        let narrowed;
        let frame = match conversations {
            Some(store) if restricted(&conn) => {
                match narrow(event, &conn, store, &mut scopes).await? {
                    Narrowed::All => frame.as_str(),
                    Narrowed::Nothing => continue,
                    Narrowed::Some(events) => {
                        narrowed = ServerEvent::Batch { events }.to_json();
                        narrowed.as_str()
                    }
                }
            }
            _ => frame.as_str(),
        };
        match push.post(&conn.id, frame).await {
            Ok(PushOutcome::Delivered) => delivered += 1,
            Ok(PushOutcome::Gone) => {
                tracing::debug!(connection = %conn.id, "removing gone connection");
                connections.remove_connection(&conn.id).await?;
            }
            Err(e) => tracing::warn!(connection = %conn.id, error = %e, "push failed"),
        }
    }
    Ok(delivered)
}

/// Tells every open connection of `agent` what the agent may now read (after a team change):
/// the next push is narrowed by the new teams, on both runtimes, without a reconnect. Returns
/// how many connections there were.
pub async fn update_viewers_of(
    connections: &dyn ConnectionStore,
    agent: &omnidesk_domain::Agent,
) -> StoreResult<usize> {
    let mut updated = 0;
    for mut conn in connections.list_connections().await? {
        if conn.agent_id == agent.id {
            conn.viewer = Some(crate::Viewer::of(agent));
            connections.add_connection(&conn).await?;
            updated += 1;
        }
    }
    Ok(updated)
}

/// Forgets every connection of `agent` (after a role change or disabling: what they were
/// allowed to be told is no longer what they may read); their dashboards reconnect, and the
/// connect checks them again. Returns how many there were.
pub async fn forget_connections_of(
    connections: &dyn ConnectionStore,
    agent: AgentId,
) -> StoreResult<usize> {
    let mut forgotten = 0;
    for conn in connections.list_connections().await? {
        if conn.agent_id == agent {
            connections.remove_connection(&conn.id).await?;
            forgotten += 1;
        }
    }
    Ok(forgotten)
}

/// Whether a connection is told only about the conversations its agent may read.
fn restricted(conn: &Connection) -> bool {
    conn.viewer
        .as_ref()
        .is_some_and(|v| v.role < Role::Supervisor)
}

/// The team and assignee of conversations read for one push (`None`: it does not exist).
type Scopes = HashMap<ConversationId, Option<(Option<String>, Option<AgentId>)>>;

/// What of an event a restricted connection gets.
enum Narrowed {
    All,
    Nothing,
    /// The events of a batch it may read.
    Some(Vec<ServerEvent>),
}

/// The part of `event` the agent of `conn` may read.
async fn narrow(
    event: &ServerEvent,
    conn: &Connection,
    store: &dyn ConversationStore,
    scopes: &mut Scopes,
) -> StoreResult<Narrowed> {
    let ServerEvent::Batch { events } = event else {
        return Ok(if readable(event, conn, store, scopes).await? {
            Narrowed::All
        } else {
            Narrowed::Nothing
        });
    };
    let mut kept = Vec::with_capacity(events.len());
    for e in events {
        if readable(e, conn, store, scopes).await? {
            kept.push(e.clone());
        }
    }
    Ok(match kept.len() {
        0 => Narrowed::Nothing,
        n if n == events.len() => Narrowed::All,
        _ => Narrowed::Some(kept),
    })
}

/// Whether the agent of `conn` may read what one (non-batch) event is about.
async fn readable(
    event: &ServerEvent,
    conn: &Connection,
    store: &dyn ConversationStore,
    scopes: &mut Scopes,
) -> StoreResult<bool> {
    let Some(viewer) = &conn.viewer else {
        return Ok(true);
    };
    let reads = |team: Option<&str>, assignee: Option<AgentId>| {
        crate::assign::viewer_reads(viewer, conn.agent_id, team, assignee)
    };
    let id = match event {
        ServerEvent::ConversationUpdated { conversation }
        | ServerEvent::MessageCreated {
            conversation: Some(conversation),
            ..
        } => {
            return Ok(reads(
                conversation.team.as_deref(),
                conversation.assignee_id,
            ));
        }
        ServerEvent::MessageCreated {
            conversation_id, ..
        }
        | ServerEvent::MessageUpdated {
            conversation_id, ..
        } => *conversation_id,
        ServerEvent::Batch { .. } => return Ok(false),
        // Presence, contact changes, notifications (already addressed), pings.
        _ => return Ok(true),
    };
    if let std::collections::hash_map::Entry::Vacant(slot) = scopes.entry(id) {
        let scope = store
            .get_conversation(id)
            .await?
            .map(|c| (c.team, c.assignee_id));
        slot.insert(scope);
    }
    Ok(match scopes.get(&id) {
        Some(Some((team, assignee))) => reads(team.as_deref(), *assignee),
        _ => false,
    })
}

/// Pushes several events of one change to every connected agent as ONE frame: each
/// `conversation.updated` is folded into the `message.created` it follows
/// ([`ServerEvent::fold_conversation_updates`]), and what remains goes out as the event itself or
/// a `batch`. Connections are listed once. Same error handling as [`push_to_agents`]; nothing is
/// pushed (and nothing listed) for no events.
///
/// May be called many times per Lambda invocation: under a coalescing push
/// (`omnidesk_lambda::CoalescingPush`) the listing is cached and the frames are buffered.
pub async fn push_events_to_agents(
    connections: &dyn ConnectionStore,
    conversations: &dyn ConversationStore,
    push: &dyn Push,
    events: Vec<ServerEvent>,
) -> StoreResult<usize> {
    match ServerEvent::batch(ServerEvent::fold_conversation_updates(events)) {
        Some(event) => push_to_agents(connections, conversations, push, &event).await,
        None => Ok(0),
    }
}

/// Loads the contact of `conversation` and joins them into the view agents see.
pub async fn conversation_view(
    contacts: &dyn ContactStore,
    conversation: &Conversation,
) -> StoreResult<ConversationView> {
    let contact: Contact = contacts
        .get_contact(conversation.contact_id)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(format!("conversation {} has no contact", conversation.id))
        })?;
    Ok(ConversationView::new(conversation, contact))
}

/// The display name of a message's author as visitors see it: the agent's name for agents.
pub async fn author_name(
    agents: &dyn crate::AgentStore,
    message: &omnidesk_domain::Message,
) -> StoreResult<Option<String>> {
    Ok(match message.author {
        omnidesk_domain::Author::Agent { id } => agents.get_agent(id).await?.map(|a| a.name),
        _ => None,
    })
}

/// Pushes what agents were told about `conversation` to the website visitors whose chat it
/// is (its web keys), where their widget is open: messages in the visitor's view
/// ([`crate::WebMessage`]), and `session.updated` when `session_changed`. Best effort, like
/// every push: the visitor's widget re-reads on reconnect. Returns how many connections got it.
pub async fn push_to_visitor(
    visitors: &dyn crate::VisitorConnectionStore,
    agents: &dyn crate::AgentStore,
    push: &dyn Push,
    conversation: &Conversation,
    events: &[ServerEvent],
    session_changed: bool,
) -> StoreResult<usize> {
    // Every browser the chat lives in (a proven user may have several).
    let mut connections = Vec::new();
    for (_, visitor) in conversation.all_keys().filter_map(|k| k.web_visitor()) {
        connections.extend(visitors.visitor_connections(visitor).await?);
    }
    if connections.is_empty() {
        return Ok(0);
    }
    let mut frames = Vec::new();
    for event in events {
        let (created, message) = match event {
            ServerEvent::MessageCreated { message, .. } => (true, message),
            ServerEvent::MessageUpdated { message, .. } => (false, message),
            _ => continue,
        };
        if message.conversation_id != conversation.id {
            continue;
        }
        let name = author_name(agents, message).await?;
        let Some(view) = crate::WebMessage::of(message, name) else {
            continue;
        };
        frames.push(if created {
            crate::VisitorEvent::MessageCreated {
                conversation_id: conversation.id,
                message: view,
            }
        } else {
            crate::VisitorEvent::MessageUpdated {
                conversation_id: conversation.id,
                message: view,
            }
        });
    }
    if session_changed {
        frames.push(crate::VisitorEvent::SessionUpdated);
    }
    let frame = match frames.len() {
        0 => return Ok(0),
        1 => frames.remove(0),
        _ => crate::VisitorEvent::Batch { events: frames },
    }
    .to_json();
    let mut delivered = 0;
    for conn in connections {
        match push.post(&conn, &frame).await {
            Ok(PushOutcome::Delivered) => delivered += 1,
            Ok(PushOutcome::Gone) => visitors.remove_visitor_connection(&conn).await?,
            Err(e) => tracing::warn!(connection = %conn, error = %e, "push to visitor failed"),
        }
    }
    Ok(delivered)
}

/// Why two contacts could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("a contact cannot be merged into itself")]
    SameContact,
    #[error("contact {0} was merged already")]
    AlreadyMerged(omnidesk_domain::ContactId),
    #[error("contact {0} not found")]
    NotFound(omnidesk_domain::ContactId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a merge changed, for the pushes.
#[derive(Debug)]
pub struct Merged {
    /// The contact that remains, with every identity.
    pub contact: Contact,
    /// The conversations that moved, as stored now.
    pub conversations: Vec<Conversation>,
    /// The timeline events added (one per moved conversation).
    pub events: Vec<omnidesk_domain::Message>,
}

/// What [`merge_contacts`] works with.
#[derive(Clone, Copy)]
pub struct MergePorts<'a> {
    pub contacts: &'a dyn ContactStore,
    pub conversations: &'a dyn crate::ConversationStore,
    pub messages: &'a dyn crate::MessageStore,
    pub ids: &'a dyn crate::IdGen,
    pub clock: &'a dyn crate::Clock,
}

impl Merged {
    /// What agents are told: each timeline event, each moved conversation with its new
    /// contact, and the merged contact.
    pub fn server_events(&self) -> Vec<ServerEvent> {
        let mut events: Vec<ServerEvent> = self
            .events
            .iter()
            .map(|m| ServerEvent::MessageCreated {
                conversation_id: m.conversation_id,
                message: m.clone(),
                conversation: None,
            })
            .collect();
        for c in &self.conversations {
            events.push(ServerEvent::ConversationUpdated {
                conversation: Box::new(ConversationView::new(c, self.contact.clone())),
            });
        }
        events.push(ServerEvent::ContactUpdated {
            contact: Box::new(self.contact.clone()),
        });
        events
    }
}

/// Merges contact `from` into `into`: every identity and conversation of `from` moves to
/// `into` (channels seen, tags and attributes `into` lacks come along), `from` stays as a
/// pointer (`merged_into`), and each moved conversation's timeline says so. Safe to repeat
/// after a failure half-way: every step is idempotent.
pub async fn merge_contacts(
    ports: MergePorts<'_>,
    from: omnidesk_domain::ContactId,
    into: omnidesk_domain::ContactId,
    by: Option<omnidesk_domain::AgentId>,
) -> Result<Merged, MergeError> {
    let MergePorts {
        contacts,
        conversations,
        messages,
        ids,
        clock,
    } = ports;
    if from == into {
        return Err(MergeError::SameContact);
    }
    let loser = contacts
        .get_contact(from)
        .await?
        .ok_or(MergeError::NotFound(from))?;
    let winner = contacts
        .get_contact(into)
        .await?
        .ok_or(MergeError::NotFound(into))?;
    if let Some(target) = winner.merged_into {
        return Err(MergeError::AlreadyMerged(target));
    }
    if loser.merged_into.is_some_and(|t| t != into) {
        return Err(MergeError::AlreadyMerged(from));
    }
    // 1. Identities (each move is atomic; a repeat finds it moved).
    for identity in &loser.identities {
        contacts.move_identity(identity, from, into).await?;
    }
    // 2. Conversations.
    let mut moved = Vec::new();
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = conversations
            .list_conversations_of_contact(
                from,
                &crate::PageRequest {
                    limit: 100,
                    cursor: cursor.take(),
                },
            )
            .await?;
        for c in page.items {
            let mut stored = c;
            for _ in 0..8 {
                if stored.contact_id != from {
                    break;
                }
                let mut next = stored.clone();
                next.contact_id = into;
                let event = omnidesk_domain::Message::system(
                    ids.message_id(),
                    next.id,
                    next.channel,
                    omnidesk_domain::SystemEvent::ContactsMerged { from, into, by },
                    clock.now(),
                );
                next.record_message(&event);
                match conversations.update_conversation(&next).await {
                    Ok(saved) => {
                        messages.append_message(&event).await?;
                        events.push(event);
                        moved.push(saved);
                        break;
                    }
                    Err(StoreError::Conflict(_)) => {
                        match conversations.get_conversation(stored.id).await? {
                            Some(fresh) => stored = fresh,
                            None => break,
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // 3. The profile: what the loser knew that the winner lacks; the loser becomes a pointer.
    let mut winner_now = winner;
    let mut loser_now = loser;
    for _ in 0..8 {
        let read = winner_now.updated_at;
        let mut w = winner_now.clone();
        for ch in &loser_now.channels_seen {
            w.saw_channel(*ch);
        }
        w.tags.extend(loser_now.tags.iter().cloned());
        for (k, v) in &loser_now.attributes {
            w.attributes.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if w.language.is_none() {
            w.language = loser_now.language.clone();
        }
        w.updated_at = clock.now().max(read.plus_millis(1));
        match contacts.update_contact(&w, read).await {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) => {
                winner_now = contacts
                    .get_contact(into)
                    .await?
                    .ok_or(MergeError::NotFound(into))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    for _ in 0..8 {
        let read = loser_now.updated_at;
        let mut l = loser_now.clone();
        l.merged_into = Some(into);
        l.updated_at = clock.now().max(read.plus_millis(1));
        match contacts.update_contact(&l, read).await {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) => {
                loser_now = contacts
                    .get_contact(from)
                    .await?
                    .ok_or(MergeError::NotFound(from))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let contact = contacts
        .get_contact(into)
        .await?
        .ok_or(MergeError::NotFound(into))?;
    Ok(Merged {
        contact,
        conversations: moved,
        events,
    })
}

// ---------------------------------------------------------------------------------------------
// Attachments: signed links, upload limits, files from browsers

/// At most this many files ride on one message (Telegram's album size).
pub const MAX_FILES_PER_MESSAGE: usize = 10;

/// What a deployment allows for files that browsers upload, and how long download links live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSettings {
    /// The largest file accepted from an agent or a visitor, before any channel's own limit.
    pub max_upload_bytes: u64,
    /// How long a signed download link stays valid.
    pub link_ttl: std::time::Duration,
}

/// The default [`FileSettings::max_upload_bytes`]: 20 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// The default upload limit on AWS Lambda: a synchronous invocation takes at most 6 MB, and
/// API Gateway hands binary bodies over base64-encoded (a third larger), so a form much above
/// 4 MB never reaches the function.
pub const LAMBDA_MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024;

/// The largest attachment sent by e-mail (what common mail servers accept).
pub const EMAIL_ATTACHMENT_LIMIT: u64 = 25 * 1024 * 1024;

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            link_ttl: crate::DEFAULT_LINK_TTL,
        }
    }
}

impl FileSettings {
    /// Reads `OMNIDESK_MAX_UPLOAD_BYTES` (default `default_max`) and
    /// `OMNIDESK_FILE_LINK_TTL_SECS` (default 1800) through `lookup` (the environment, at
    /// start-up); the error names the malformed variable.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_max: u64,
    ) -> Result<Self, String> {
        let read = |name: &str, default: u64| -> Result<u64, String> {
            match lookup(name).map(|v| v.trim().to_owned()) {
                None => Ok(default),
                Some(v) if v.is_empty() => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name} must be a whole number above 0, not {v:?}")),
                },
            }
        };
        Ok(Self {
            max_upload_bytes: read("OMNIDESK_MAX_UPLOAD_BYTES", default_max)?,
            link_ttl: std::time::Duration::from_secs(read(
                "OMNIDESK_FILE_LINK_TTL_SECS",
                crate::DEFAULT_LINK_TTL.as_secs(),
            )?),
        })
    }

    /// The largest file that can go out on `channel`: the deployment's limit, or the
    /// channel's own when that is lower (Telegram uploads: 50 MB; e-mail: 25 MB).
    pub fn upload_limit(&self, channel: omnidesk_domain::Channel) -> u64 {
        use omnidesk_domain::Channel;
        let channel_limit = match channel {
            Channel::Telegram => omnidesk_domain::TELEGRAM_UPLOAD_LIMIT,
            Channel::Email => EMAIL_ATTACHMENT_LIMIT,
            Channel::Web => u64::MAX,
        };
        self.max_upload_bytes.min(channel_limit)
    }
}

/// Sets `url` on every attachment of `message` whose bytes are in blob storage: a signed,
/// short-lived link (valid from `now` for `ttl`) under the attachment's file name and type
/// (`application/octet-stream` when it has none; the store decides inline or download from
/// it). A link that cannot be made leaves `url` unset and is logged: the message is still
/// shown, its file is not.
pub async fn sign_attachments(
    blobs: &dyn crate::BlobStore,
    message: &mut omnidesk_domain::Message,
    now: omnidesk_domain::Timestamp,
    ttl: std::time::Duration,
) {
    sign_links(blobs, &mut message.attachments, now, ttl).await;
}

/// [`sign_attachments`] on a list of attachments (a visitor's view of a message).
pub async fn sign_links(
    blobs: &dyn crate::BlobStore,
    attachments: &mut [omnidesk_domain::Attachment],
    now: omnidesk_domain::Timestamp,
    ttl: std::time::Duration,
) {
    for a in attachments {
        let Some(key) = a.blob.as_deref() else {
            continue;
        };
        let link = crate::LinkRequest {
            key,
            file_name: a.file_name.as_deref(),
            content_type: a.mime_type.as_deref().unwrap_or("application/octet-stream"),
            now,
            ttl,
        };
        match blobs.signed_url(&link).await {
            Ok(url) => a.url = Some(url),
            Err(e) => {
                tracing::warn!(error = %e, "cannot sign an attachment link");
                a.url = None;
            }
        }
    }
}

/// [`sign_attachments`] on every message of a list.
pub async fn sign_all_attachments(
    blobs: &dyn crate::BlobStore,
    messages: &mut [omnidesk_domain::Message],
    now: omnidesk_domain::Timestamp,
    ttl: std::time::Duration,
) {
    for m in messages {
        sign_attachments(blobs, m, now, ttl).await;
    }
}

/// The type of an uploaded file: the part's `Content-Type` when it is a plausible
/// `type/subtype`, else guessed from the file name's extension, else
/// `application/octet-stream`. Never a reason to show the file inline: `safe_inline` decides
/// that from a short list.
pub fn upload_mime_type(declared: Option<&str>, file_name: &str) -> String {
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| {
            let mut parts = d.split('/');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| {
                    !p.is_empty()
                        && p.len() <= 100
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
                })
            };
            ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
        })
        .filter(|d| d != "application/octet-stream");
    if let Some(d) = declared {
        return d;
    }
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
    .to_owned()
}

/// The attachment of a file a browser uploaded into blob storage under `blob` (reference
/// `upload`): kind from its type ([`omnidesk_domain::kind_of_mime`]), the cleaned name.
pub fn uploaded_attachment(
    file_name: &str,
    mime_type: &str,
    size_bytes: u64,
    blob: String,
) -> omnidesk_domain::Attachment {
    let mut a =
        omnidesk_domain::Attachment::new(omnidesk_domain::kind_of_mime(mime_type), "upload");
    a.file_name = Some(omnidesk_domain::clean_file_name(file_name));
    a.mime_type = Some(mime_type.to_owned());
    a.size_bytes = Some(size_bytes);
    a.blob = Some(blob);
    a
}

pub use omnidesk_domain::human_size;

/// Blob storage for a deployment that has none wired yet: every call fails with a clear,
/// permanent reason (an upload answers 503, a send fails with the reason, a link is left out).
#[derive(Debug, Clone, Copy, Default)]
pub struct BlobsNotConfigured;

#[async_trait::async_trait]
impl crate::BlobStore for BlobsNotConfigured {
    async fn put(&self, _: &str, _: Vec<u8>) -> Result<String, crate::ProviderError> {
        Err(not_configured())
    }
    async fn get(&self, _: &str) -> Result<Option<crate::Blob>, crate::ProviderError> {
        Err(not_configured())
    }
    async fn signed_url(&self, _: &crate::LinkRequest<'_>) -> Result<String, crate::ProviderError> {
        Err(not_configured())
    }
    /// Nothing was ever stored: there is nothing to delete.
    async fn delete(&self, _: &str) -> Result<(), crate::ProviderError> {
        Ok(())
    }
}

fn not_configured() -> crate::ProviderError {
    crate::ProviderError::Permanent("file storage is not configured in this deployment".to_owned())
}

/// Marks a contact unreachable on `channel` for `reason` (a blocked bot, a bounced address),
/// re-reading on a concurrent change. Returns the contact as stored when this changed it;
/// `None` when it was already marked for that reason or is gone (so a redelivery is a no-op).
pub async fn mark_unreachable(
    contacts: &dyn ContactStore,
    clock: &dyn crate::Clock,
    contact_id: omnidesk_domain::ContactId,
    channel: omnidesk_domain::Channel,
    reason: &str,
) -> StoreResult<Option<Contact>> {
    for _ in 0..8 {
        let Some(mut contact) = contacts.get_contact(contact_id).await? else {
            tracing::warn!(%contact_id, "unreachable contact not found");
            return Ok(None);
        };
        if contact
            .unreachable_on(channel)
            .is_some_and(|u| u.reason == reason)
        {
            return Ok(None);
        }
        let read = contact.updated_at;
        let now = clock.now().max(read);
        contact.mark_unreachable(channel, reason.to_owned(), now);
        match contacts.update_contact(&contact, read).await {
            Ok(()) => return Ok(Some(contact)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "contact {contact_id} kept changing while marking it unreachable"
    )))
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn declared_types_win_unless_they_say_nothing() {
        assert_eq!(upload_mime_type(Some("image/png"), "a.bin"), "image/png");
        assert_eq!(
            upload_mime_type(Some("Text/HTML; charset=utf-8"), "a"),
            "text/html"
        );
        assert_eq!(
            upload_mime_type(Some("application/octet-stream"), "a.PDF"),
            "application/pdf"
        );
        assert_eq!(upload_mime_type(None, "voice.ogg"), "audio/ogg");
        assert_eq!(
            upload_mime_type(Some("bad type"), "x"),
            "application/octet-stream"
        );
    }

    #[test]
    fn channel_limits_cap_the_deployments() {
        use omnidesk_domain::Channel;
        let s = FileSettings {
            max_upload_bytes: 100 * 1024 * 1024,
            ..FileSettings::default()
        };
        assert_eq!(s.upload_limit(Channel::Telegram), 50 * 1024 * 1024);
        assert_eq!(s.upload_limit(Channel::Web), 100 * 1024 * 1024);
        assert_eq!(
            FileSettings::default().upload_limit(Channel::Telegram),
            20 * 1024 * 1024
        );
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        let env = |k: &str| (k == "OMNIDESK_FILE_LINK_TTL_SECS").then(|| "60".to_owned());
        let s = FileSettings::from_lookup(env, 5).unwrap();
        assert_eq!((s.max_upload_bytes, s.link_ttl.as_secs()), (5, 60));
        assert!(FileSettings::from_lookup(|_| Some("x".to_owned()), 5).is_err());
    }
}

/// The end of [`update_message_content`].
#[derive(Debug)]
pub enum ContentUpdate {
    /// Stored: the message as it now is.
    Updated(omnidesk_domain::Message),
    /// `change` declined the message as it was (last read): nothing was written.
    Declined(omnidesk_domain::Message),
    /// The message does not exist (any more).
    Gone,
    /// Someone else kept changing it through every attempt.
    Busy,
}

/// Applies `change` to `message`'s next content and stores it, re-reading and re-applying on
/// a revision conflict, up to `attempts` writes. `change` sees the message as last read and
/// returns `false` to decline it (nothing is written).
pub async fn update_message_content(
    messages: &dyn crate::MessageStore,
    message: omnidesk_domain::Message,
    attempts: usize,
    mut change: impl FnMut(&omnidesk_domain::Message, &mut omnidesk_domain::MessageContent) -> bool,
) -> StoreResult<ContentUpdate> {
    let mut current = message;
    for _ in 0..attempts {
        let mut content = current.next_content();
        if !change(&current, &mut content) {
            return Ok(ContentUpdate::Declined(current));
        }
        match messages
            .update_content(current.conversation_id, current.id, &content)
            .await
        {
            Ok(updated) => return Ok(ContentUpdate::Updated(updated)),
            Err(StoreError::Conflict(_)) => {
                match messages
                    .get_message(current.conversation_id, current.id)
                    .await?
                {
                    Some(fresh) => current = fresh,
                    None => return Ok(ContentUpdate::Gone),
                }
            }
            Err(StoreError::NotFound(_)) => return Ok(ContentUpdate::Gone),
            Err(e) => return Err(e),
        }
    }
    Ok(ContentUpdate::Busy)
}
