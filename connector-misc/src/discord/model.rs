//! Discord's wire types (REST API v10), with the API's own field names. Snowflakes are
//! strings on the wire; permissions are decimal strings of a bit set.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// The bot's application (`GET /applications/@me`): its flags say which privileged
/// intents it has.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Application {
    /// `flags`: `GATEWAY_MESSAGE_CONTENT` (1 << 18), `GATEWAY_MESSAGE_CONTENT_LIMITED`
    /// (1 << 19) among them.
    #[serde(default)]
    pub(crate) flags: u64,
}

impl Application {
    /// Whether Discord returns other users' message text to this bot (the Message Content
    /// intent, granted or, under 100 servers, switched on).
    pub(crate) fn has_message_content(&self) -> bool {
        self.flags & ((1 << 18) | (1 << 19)) != 0
    }
}

/// A user (`GET /users/@me`, a message's `author`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) global_name: Option<String>,
}

impl User {
    /// The name people see: the display name, else the user name.
    pub(crate) fn shown_name(&self) -> &str {
        self.global_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.username)
    }
}

/// A server the bot is in (`GET /users/@me/guilds`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PartialGuild {
    pub(crate) id: String,
}

/// A server (`GET /guilds/{id}`): its roles are in it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Guild {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) owner_id: Option<String>,
    #[serde(default)]
    pub(crate) roles: Vec<Role>,
}

/// A role: its permissions apply server-wide, before channel overwrites.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Role {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(deserialize_with = "bits")]
    pub(crate) permissions: u64,
}

/// A member (`GET /guilds/{id}/members/{user}`): the bot's roles.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Member {
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

/// A channel overwrite: `type` 0 a role, 1 a member.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Overwrite {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: u8,
    #[serde(deserialize_with = "bits")]
    pub(crate) allow: u64,
    #[serde(deserialize_with = "bits")]
    pub(crate) deny: u64,
}

/// A thread's `thread_metadata`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ThreadMetadata {
    #[serde(default)]
    pub(crate) archived: bool,
    pub(crate) archive_timestamp: DateTime<Utc>,
}

/// A channel or a thread (`GET /guilds/{id}/channels`, the thread listings,
/// `GET /channels/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Channel {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: u8,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) parent_id: Option<String>,
    #[serde(default)]
    pub(crate) last_message_id: Option<String>,
    #[serde(default)]
    pub(crate) permission_overwrites: Vec<Overwrite>,
    #[serde(default)]
    pub(crate) thread_metadata: Option<ThreadMetadata>,
}

/// Channel types read: text, announcement, forum, media, the text chat of voice and stage
/// channels; and public and announcement threads.
pub(crate) mod kind {
    pub(crate) const TEXT: u8 = 0;
    pub(crate) const VOICE: u8 = 2;
    pub(crate) const STAGE: u8 = 13;
    pub(crate) const ANNOUNCEMENT: u8 = 5;
    pub(crate) const ANNOUNCEMENT_THREAD: u8 = 10;
    pub(crate) const PUBLIC_THREAD: u8 = 11;
    pub(crate) const FORUM: u8 = 15;
    pub(crate) const MEDIA: u8 = 16;
}

impl Channel {
    /// Whether it holds messages of its own (text and announcement channels, and the text
    /// chat every voice and stage channel has).
    pub(crate) fn has_messages(&self) -> bool {
        matches!(
            self.kind,
            kind::TEXT | kind::ANNOUNCEMENT | kind::VOICE | kind::STAGE
        )
    }

    /// Whether it holds threads (text, announcement, forum and media channels).
    pub(crate) fn has_threads(&self) -> bool {
        matches!(
            self.kind,
            kind::TEXT | kind::ANNOUNCEMENT | kind::FORUM | kind::MEDIA
        )
    }

    /// Whether it is a voice or stage channel (its text chat is read).
    pub(crate) fn is_voice(&self) -> bool {
        matches!(self.kind, kind::VOICE | kind::STAGE)
    }

    /// Whether it is a thread anyone who sees its channel may read.
    pub(crate) fn is_public_thread(&self) -> bool {
        matches!(self.kind, kind::PUBLIC_THREAD | kind::ANNOUNCEMENT_THREAD)
    }

    pub(crate) fn shown_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// `GET /guilds/{id}/threads/active` and `GET /channels/{id}/threads/archived/public`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ThreadList {
    pub(crate) threads: Vec<Channel>,
    #[serde(default)]
    pub(crate) has_more: bool,
}

/// An attachment of a message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attachment {
    pub(crate) filename: String,
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) size: u64,
}

/// An embed of a message (links, bot posts): its title and text are kept.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Embed {
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    /// Name and value pairs (a bot's notices: "Status", "Assignee", ...).
    #[serde(default)]
    pub(crate) fields: Vec<EmbedField>,
}

/// A field of an embed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EmbedField {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) value: String,
}

/// The thread a message started.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StartedThread {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A message (`GET /channels/{id}/messages`); its `type` is read from the listing
/// ([`said`](super::convert::said)).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub(crate) id: String,
    /// `type`: 0 default, 19 reply, 21 a thread's starter (the message the thread was
    /// started from, in `referenced_message`), ...
    #[serde(rename = "type", default)]
    pub(crate) kind: u8,
    /// The message a reply or a thread's starter refers to (sent for types 19, 21, 23; null
    /// when it was deleted).
    #[serde(default)]
    pub(crate) referenced_message: Option<Box<Message>>,
    pub(crate) author: User,
    #[serde(default)]
    pub(crate) content: String,
    pub(crate) timestamp: DateTime<Utc>,
    #[serde(default)]
    pub(crate) edited_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) attachments: Vec<Attachment>,
    #[serde(default)]
    pub(crate) embeds: Vec<Embed>,
    #[serde(default)]
    pub(crate) thread: Option<StartedThread>,
    /// The users its text mentions (`<@id>`), with their names.
    #[serde(default)]
    pub(crate) mentions: Vec<User>,
}

impl Message {
    /// When it last changed.
    pub(crate) fn changed_at(&self) -> DateTime<Utc> {
        self.edited_timestamp.unwrap_or(self.timestamp)
    }
}

/// Discord's error body: `{"message": "Missing Access", "code": 50001}`; a 429's carries
/// `retry_after` (seconds) and `global`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) code: u64,
}

/// A permission bit set as Discord writes it: a decimal string (numbers accepted too).
fn bits<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}
