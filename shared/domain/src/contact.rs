use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{BotId, Channel, ContactId, EmailAddress, LanguageTag, Tag, TelegramUserId, Timestamp};

/// One way to reach a contact on one channel.
///
/// Identities are claimed by at most one contact (the store enforces it with a conditional
/// write on [`IdentityKey`]). A binding is made only from proof (a message from that Telegram
/// user, a code sent to that e-mail box), never from an unverified claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    /// A Telegram user, as seen by one bot (Telegram ids are global, but chats are per bot).
    Telegram {
        bot_id: BotId,
        user_id: TelegramUserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
    },
    /// An e-mail address; `verified` once the person proved they read that mailbox.
    Email {
        address: EmailAddress,
        verified: bool,
    },
    /// A browser visitor of the website widget (an opaque id the widget keeps).
    WebVisitor { visitor_id: String },
    /// A signed-in user of a website, as the website proved it (its user id signed with the
    /// website's identity secret): the same person across browsers and devices.
    SiteUser {
        website_id: crate::WebsiteId,
        user_id: String,
    },
    /// A phone number in E.164 form.
    Phone { e164: String },
}

impl Identity {
    /// The uniqueness key of this identity (independent of display details such as username).
    pub fn key(&self) -> IdentityKey {
        IdentityKey(match self {
            Identity::Telegram {
                bot_id, user_id, ..
            } => format!("tg:{bot_id}:{user_id}"),
            Identity::Email { address, .. } => format!("email:{address}"),
            Identity::WebVisitor { visitor_id } => format!("web:{visitor_id}"),
            Identity::SiteUser {
                website_id,
                user_id,
            } => format!("site:{website_id}:{user_id}"),
            Identity::Phone { e164 } => format!("phone:{e164}"),
        })
    }

    /// The channel this identity belongs to (phones have none yet).
    pub fn channel(&self) -> Option<Channel> {
        match self {
            Identity::Telegram { .. } => Some(Channel::Telegram),
            Identity::Email { .. } => Some(Channel::Email),
            Identity::WebVisitor { .. } | Identity::SiteUser { .. } => Some(Channel::Web),
            Identity::Phone { .. } => None,
        }
    }
}

/// The unique key of an [`Identity`], e.g. `tg:123:456` or `email:ann@example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityKey(String);

impl IdentityKey {
    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Rebuilds a key read back from storage.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a contact cannot be reached on a channel any more (e.g. they blocked the bot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub channel: Channel,
    pub reason: String,
    pub since: Timestamp,
}

/// The name of a website visitor who has not said theirs (a better name replaces it as soon
/// as one is known, e.g. their Telegram name when they continue there).
pub const WEB_VISITOR_NAME: &str = "Website visitor";

/// One person across channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub display_name: String,
    #[serde(default)]
    pub language: Option<LanguageTag>,
    #[serde(default)]
    pub tags: BTreeSet<Tag>,
    /// Business attributes (plan, order id, …) set by the business or agents.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// Channels this contact has written from, in first-seen order.
    #[serde(default)]
    pub channels_seen: Vec<Channel>,
    /// Channels on which the contact can no longer be reached, and why.
    #[serde(default)]
    pub unreachable: Vec<Unreachable>,
    /// A short summary of earlier history (filled by the AI issue).
    #[serde(default)]
    pub history_summary: Option<String>,
    /// Set when this contact was merged into another (proof that they are one person): its
    /// identities and conversations moved there, and this record stays as a pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<crate::ContactId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Contact {
    /// A new contact known through one identity.
    pub fn new(id: ContactId, display_name: String, identity: Identity, now: Timestamp) -> Self {
        let channels_seen = identity.channel().into_iter().collect();
        Self {
            id,
            display_name,
            language: None,
            tags: BTreeSet::new(),
            attributes: BTreeMap::new(),
            identities: vec![identity],
            channels_seen,
            unreachable: Vec::new(),
            history_summary: None,
            merged_into: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Records that the contact wrote from `channel`; returns true if it is new for them.
    pub fn saw_channel(&mut self, channel: Channel) -> bool {
        if self.channels_seen.contains(&channel) {
            false
        } else {
            self.channels_seen.push(channel);
            true
        }
    }

    /// Marks the contact unreachable on `channel` (replacing an older reason).
    pub fn mark_unreachable(&mut self, channel: Channel, reason: String, now: Timestamp) {
        self.unreachable.retain(|u| u.channel != channel);
        self.unreachable.push(Unreachable {
            channel,
            reason,
            since: now,
        });
        self.updated_at = now;
    }

    /// A new message from the contact on `channel` proves they are reachable again.
    pub fn mark_reachable(&mut self, channel: Channel) -> bool {
        let before = self.unreachable.len();
        self.unreachable.retain(|u| u.channel != channel);
        before != self.unreachable.len()
    }

    /// Why the contact is unreachable on `channel`, if they are.
    pub fn unreachable_on(&self, channel: Channel) -> Option<&Unreachable> {
        self.unreachable.iter().find(|u| u.channel == channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tg() -> Identity {
        Identity::Telegram {
            bot_id: BotId::parse("42").unwrap(),
            user_id: TelegramUserId(7),
            username: Some("ann".into()),
        }
    }

    #[test]
    fn identity_key_ignores_display_details() {
        let mut other = tg();
        if let Identity::Telegram { username, .. } = &mut other {
            *username = None;
        }
        assert_eq!(tg().key(), other.key());
        assert_eq!(tg().key().as_str(), "tg:42:7");
    }

    #[test]
    fn unreachable_is_replaced_and_cleared_per_channel() {
        let now = Timestamp::from_millis(1);
        let mut c = Contact::new(
            ContactId::from_uuid(uuid::Uuid::now_v7()),
            "Ann".into(),
            tg(),
            now,
        );
        c.mark_unreachable(Channel::Telegram, "blocked".into(), now);
        c.mark_unreachable(Channel::Telegram, "deactivated".into(), now);
        assert_eq!(c.unreachable.len(), 1);
        assert_eq!(
            c.unreachable_on(Channel::Telegram).unwrap().reason,
            "deactivated"
        );
        assert!(c.mark_reachable(Channel::Telegram));
        assert!(c.unreachable_on(Channel::Telegram).is_none());
    }
}
