//! Buckets of channel messages and threads as Markdown documents.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use connector_core::pages::Outcome;
use connector_core::text::markdown::{self, Block, Inline, List, ListItem};
use connector_core::{Access, Document, ErrorKind, Failure};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{Channel, Message, User};
use super::snowflake::{Buckets, time_of};

/// A readable channel in scope, as its documents need it.
#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    pub(crate) guild_id: String,
    pub(crate) guild_name: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) has_messages: bool,
    pub(crate) has_threads: bool,
    /// The newest message's id as the channel listing tells it (may be stale or missing).
    pub(crate) last_message_id: Option<u64>,
    pub(crate) access: Access,
    /// The server's role and channel names, for mentions.
    pub(crate) names: Arc<Names>,
}

/// A server's role and channel (and thread) names by id: the text of a message names them
/// by id only (`<@&id>`, `<#id>`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub(crate) roles: HashMap<String, String>,
    pub(crate) channels: HashMap<String, String>,
}

/// A message's text with its mentions written as people read them: `<@id>` and `<@!id>` as
/// `@name` (from the message's `mentions`), `<@&id>` as `@role`, `<#id>` as `#channel`,
/// custom emoji `<:name:id>` as `:name:`, `<t:unix:style>` as a UTC time. One that cannot
/// be resolved is kept as written.
pub(crate) fn resolve_mentions(text: &str, mentions: &[User], names: &Names) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            rest = &rest[open..];
            break;
        };
        let inner = &after[..close];
        match mention(inner, mentions, names) {
            Some(shown) => out.push_str(&shown),
            None => {
                out.push('<');
                out.push_str(inner);
                out.push('>');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn mention(inner: &str, mentions: &[User], names: &Names) -> Option<String> {
    let snowflake = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(role) = inner.strip_prefix("@&") {
        return snowflake(role)
            .then(|| names.roles.get(role))
            .flatten()
            .map(|n| format!("@{n}"));
    }
    if let Some(user) = inner.strip_prefix('@') {
        let user = user.strip_prefix('!').unwrap_or(user);
        return snowflake(user)
            .then(|| mentions.iter().find(|u| u.id == user))
            .flatten()
            .map(|u| format!("@{}", u.shown_name()));
    }
    if let Some(channel) = inner.strip_prefix('#') {
        return snowflake(channel)
            .then(|| names.channels.get(channel))
            .flatten()
            .map(|n| format!("#{n}"));
    }
    if let Some(stamp) = inner.strip_prefix("t:") {
        let secs = stamp.split(':').next()?.parse::<i64>().ok()?;
        return DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    }
    let emoji = inner
        .strip_prefix("a:")
        .or_else(|| inner.strip_prefix(':'))?;
    let (name, id) = emoji.split_once(':')?;
    (snowflake(id) && !name.is_empty()).then(|| format!(":{name}:"))
}

impl ChannelInfo {
    /// The id of the channel itself: the parent of its documents.
    pub(crate) fn doc_id(&self) -> String {
        format!("discord:{}:{}", self.guild_id, self.id)
    }

    fn access_hash(&self) -> String {
        let a = &self.access;
        connector_core::ids::hash128(&format!("{}|{}", a.groups.join(","), a.public))
    }
}

/// The messages of one bucket of a channel, oldest first, as listed.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) start: DateTime<Utc>,
    pub(crate) messages: Vec<(u64, Value)>,
}

/// The document id of the bucket of `hours` starting at `start` in a channel:
/// `discord:{guild}:{channel}:{YYYYMMDDTHHMMZ}:{hours}h`. It depends on the clock alone,
/// never on where a run started or how pages fell.
pub(crate) fn bucket_id(guild: &str, channel: &str, start: DateTime<Utc>, hours: i64) -> String {
    format!(
        "discord:{guild}:{channel}:{}:{hours}h",
        start.format("%Y%m%dT%H%MZ")
    )
}

/// The document id of a thread: `discord:{guild}:{thread}`.
pub(crate) fn thread_id(guild: &str, thread: &str) -> String {
    format!("discord:{guild}:{thread}")
}

/// A thread's first message when the thread was started from a channel message: it holds
/// that message in `referenced_message`.
const THREAD_STARTER_MESSAGE: u8 = 21;
/// A reply: the message it answers is in `referenced_message`.
const REPLY: u8 = 19;

/// Whether a listed message is something a person said: a default message (`type` 0), a
/// reply (19), a slash or context-menu command's answer (20, 23), a thread's starter (21,
/// which brings the message the thread was started from into the thread's document); joins,
/// pins, boosts and thread notices are not. One whose type cannot be read is kept, so that
/// its bucket reports it.
pub(crate) fn said(value: &Value) -> bool {
    value
        .get("type")
        .and_then(Value::as_u64)
        .is_none_or(|t| matches!(t, 0 | 19 | 20 | 21 | 23))
}

fn link(guild: &str, channel: &str, message: Option<&str>) -> Option<Url> {
    let mut url = format!("https://discord.com/channels/{guild}/{channel}");
    if let Some(m) = message {
        url.push('/');
        url.push_str(m);
    }
    Url::parse(&url).ok()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The messages, parsed; the first that cannot be read names itself in the error.
fn parse(messages: &[(u64, Value)]) -> Result<Vec<Message>, String> {
    messages
        .iter()
        .map(|(id, v)| {
            Message::deserialize(v).map_err(|e| format!("message {id} cannot be read: {e}"))
        })
        .collect()
}

/// The blocks of one message: who and when, what was said (Discord's Markdown, kept as it
/// is), attachments as links, embeds as quotes, a thread it started.
fn message_blocks(m: &Message, names: &Names, out: &mut Vec<Block>) {
    if m.kind == THREAD_STARTER_MESSAGE {
        // The thread's question lives in its channel; without it the thread's replies
        // answer nothing. A deleted starter leaves nothing to show.
        if let Some(started_from) = m.referenced_message.as_deref() {
            let mut started_from = started_from.clone();
            started_from.thread = None;
            message_blocks(&started_from, names, out);
        }
        return;
    }
    let mut head = vec![
        Inline::strong(vec![Inline::text(m.author.shown_name())]),
        Inline::text(format!(" · {}", stamp(m.timestamp))),
    ];
    if let Some(edited) = m.edited_timestamp {
        head.push(Inline::text(format!(" · edited {}", stamp(edited))));
    }
    if m.kind == REPLY
        && let Some(to) = m.referenced_message.as_deref()
    {
        // Whom it answers: a reply's text often makes sense only next to the question.
        head.push(Inline::text(format!(
            " · replying to {} ({})",
            to.author.shown_name(),
            stamp(to.timestamp)
        )));
    }
    out.push(Block::paragraph(head));
    if !m.content.trim().is_empty() {
        out.push(Block::Markdown(resolve_mentions(
            m.content.trim(),
            &m.mentions,
            names,
        )));
    }
    if !m.attachments.is_empty() {
        let items: Vec<ListItem> = m
            .attachments
            .iter()
            .map(|a| {
                ListItem::new(vec![Block::paragraph(vec![
                    Inline::link(vec![Inline::text(a.filename.clone())], a.url.clone()),
                    Inline::text(format!(" ({} bytes)", a.size)),
                ])])
            })
            .collect();
        out.push(Block::List(List::bullet(items)));
    }
    for e in &m.embeds {
        let mut quote = Vec::new();
        if let Some(title) = e.title.as_deref().filter(|t| !t.trim().is_empty()) {
            let title = vec![Inline::text(title.trim())];
            quote.push(Block::paragraph(match &e.url {
                Some(url) => vec![Inline::strong(vec![Inline::link(title, url.clone())])],
                None => vec![Inline::strong(title)],
            }));
        }
        if let Some(text) = e.description.as_deref().filter(|t| !t.trim().is_empty()) {
            quote.push(Block::Markdown(resolve_mentions(
                text.trim(),
                &m.mentions,
                names,
            )));
        }
        let fields: Vec<ListItem> = e
            .fields
            .iter()
            .filter(|f| !f.name.trim().is_empty() || !f.value.trim().is_empty())
            .map(|f| {
                ListItem::new(vec![
                    Block::paragraph(vec![Inline::strong(vec![Inline::text(f.name.trim())])]),
                    Block::Markdown(resolve_mentions(f.value.trim(), &m.mentions, names)),
                ])
            })
            .collect();
        if !fields.is_empty() {
            quote.push(Block::List(List::bullet(fields)));
        }
        if !quote.is_empty() {
            out.push(Block::quote(quote));
        }
    }
    if let Some(t) = &m.thread {
        out.push(Block::paragraph(vec![Inline::emphasis(vec![
            Inline::text(format!(
                "Started the thread {}",
                t.name.as_deref().unwrap_or(&t.id)
            )),
        ])]));
    }
}

/// Authors in order of first message, by user name.
fn authors(messages: &[Message]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in messages {
        if !out.contains(&m.author.username) {
            out.push(m.author.username.clone());
        }
    }
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every message id with its edit time, read from the listing without parsing the
/// messages: an edit changes it although it does not move the id.
fn messages_token(messages: &[(u64, Value)]) -> String {
    let mut token = String::with_capacity(messages.len() * 48);
    for (id, v) in messages {
        token.push_str(&id.to_string());
        token.push('@');
        token.push_str(
            v.get("edited_timestamp")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        token.push(',');
    }
    token
}

/// The version token of a bucket: its messages (ids and edit times) and the channel's access.
pub(crate) fn bucket_version(channel: &ChannelInfo, bucket: &Bucket) -> String {
    format!(
        "{}:{}:{}",
        bucket.messages.len(),
        connector_core::ids::hash128(&messages_token(&bucket.messages)),
        channel.access_hash()
    )
}

/// The document of a bucket of a channel's messages, or its failure when a message cannot be
/// read.
pub(crate) fn bucket_outcome(channel: &ChannelInfo, bucket: &Bucket, buckets: Buckets) -> Outcome {
    let id = bucket_id(
        &channel.guild_id,
        &channel.id,
        bucket.start,
        buckets.span_hours(),
    );
    let end = buckets.end_of(bucket.start);
    let messages = match parse(&bucket.messages) {
        Ok(m) => m,
        Err(e) => {
            let mut failure = Failure::new(
                Some(id.clone()),
                ErrorKind::InvalidData,
                format!("{id} (#{} from {}): {e}", channel.name, stamp(bucket.start)),
            );
            if let Some(l) = link(&channel.guild_id, &channel.id, None) {
                failure = failure.with_link(l);
            }
            return failure.into();
        }
    };
    let span = if buckets.span_hours() == 24 {
        bucket.start.format("%Y-%m-%d").to_string()
    } else {
        format!("{} to {}", stamp(bucket.start), stamp(end))
    };
    let mut blocks = vec![
        Block::heading(1, vec![Inline::text(format!("#{} · {span}", channel.name))]),
        Block::paragraph(vec![Inline::text(format!(
            "Messages of #{} on {} from {} to {}",
            channel.name,
            channel.guild_name,
            stamp(bucket.start),
            stamp(end)
        ))]),
    ];
    for m in &messages {
        message_blocks(m, &channel.names, &mut blocks);
    }
    let text = markdown::render(&blocks);
    let updated = messages
        .iter()
        .map(Message::changed_at)
        .max()
        .unwrap_or(bucket.start);
    let first = messages.first().map(|m| m.id.as_str());
    let mut doc = Document::text_with_version(
        id,
        SOURCE,
        format!("#{} · {} · {span}", channel.name, channel.guild_name),
        text,
        &bucket_version(channel, bucket),
    )
    .with_updated_at(updated)
    .with_parent_id(channel.doc_id())
    .with_owners(authors(&messages))
    .with_access(channel.access.clone())
    .with_metadata("type", "channel")
    .with_metadata("guild_id", channel.guild_id.clone())
    .with_metadata("guild", channel.guild_name.clone())
    .with_metadata("channel_id", channel.id.clone())
    .with_metadata("channel", channel.name.clone())
    .with_metadata("bucket_start", rfc3339(bucket.start))
    .with_metadata("bucket_end", rfc3339(end))
    .with_metadata("message_count", messages.len())
    .with_metadata("authors", authors(&messages));
    if let (Some(f), Some(l)) = (first, messages.last()) {
        doc = doc
            .with_metadata("first_message_id", f)
            .with_metadata("last_message_id", l.id.clone());
    }
    match link(&channel.guild_id, &channel.id, first) {
        Some(url) => doc.with_link(url).into(),
        None => doc.into(),
    }
}

/// The version token of a thread: its name, archive state, messages (ids and edit times)
/// and the channel's access. Read from the listing, as a bucket's is: an edit inside a
/// thread moves neither its `last_message_id` nor its `message_count`.
pub(crate) fn thread_version(
    channel: &ChannelInfo,
    thread: &Channel,
    messages: &[(u64, Value)],
) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        thread.id,
        connector_core::ids::hash128(&format!(
            "{}|{}",
            thread.shown_name(),
            messages_token(messages)
        )),
        messages.len(),
        thread.thread_metadata.as_ref().is_some_and(|t| t.archived),
        channel.access_hash()
    )
}

/// The document of a thread with its messages, or its failure when a message cannot be
/// read.
pub(crate) fn thread_outcome(
    channel: &ChannelInfo,
    thread: &Channel,
    listed: &[(u64, Value)],
) -> Outcome {
    let id = thread_id(&channel.guild_id, &thread.id);
    let name = thread.shown_name().to_owned();
    let messages = match parse(listed) {
        Ok(m) => m,
        Err(e) => {
            let mut failure = Failure::new(
                Some(id.clone()),
                ErrorKind::InvalidData,
                format!("{id} (thread {name} in #{}): {e}", channel.name),
            );
            if let Some(l) = link(&channel.guild_id, &thread.id, None) {
                failure = failure.with_link(l);
            }
            return failure.into();
        }
    };
    let created = thread.id.parse::<u64>().map(time_of).ok();
    let mut blocks = vec![
        Block::heading(1, vec![Inline::text(name.clone())]),
        Block::paragraph(vec![Inline::text(format!(
            "Thread in #{} on {}",
            channel.name, channel.guild_name
        ))]),
    ];
    for m in &messages {
        message_blocks(m, &channel.names, &mut blocks);
    }
    let text = markdown::render(&blocks);
    let updated = messages.iter().map(Message::changed_at).max().or(created);
    let mut doc = Document::text_with_version(
        id,
        SOURCE,
        format!("{name} · #{} · {}", channel.name, channel.guild_name),
        text,
        &thread_version(channel, thread, listed),
    )
    .with_parent_id(channel.doc_id())
    .with_owners(authors(&messages))
    .with_access(channel.access.clone())
    .with_metadata("type", "thread")
    .with_metadata("guild_id", channel.guild_id.clone())
    .with_metadata("guild", channel.guild_name.clone())
    .with_metadata("channel_id", channel.id.clone())
    .with_metadata("channel", channel.name.clone())
    .with_metadata("thread_id", thread.id.clone())
    .with_metadata("message_count", messages.len())
    .with_metadata("authors", authors(&messages))
    .with_metadata(
        "archived",
        thread.thread_metadata.as_ref().is_some_and(|t| t.archived),
    );
    if let Some(t) = updated {
        doc = doc.with_updated_at(t);
    }
    if let Some(t) = created {
        doc = doc.with_metadata("created_at", rfc3339(t));
    }
    match link(&channel.guild_id, &thread.id, None) {
        Some(url) => doc.with_link(url).into(),
        None => doc.into(),
    }
}
