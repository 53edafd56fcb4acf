//! Slack Web API wire types, with Slack's own field names (docs.slack.dev/reference/methods).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// What every Web API answer carries: `ok`, and on failure `error` (`invalid_auth`,
/// `not_in_channel`, `ratelimited`, …) with `needed` for `missing_scope`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub(crate) ok: Option<bool>,
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) needed: Option<String>,
}

/// `response_metadata` of a cursor-paged method.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub(crate) next_cursor: Option<String>,
}

impl Meta {
    /// The cursor of the next page; Slack sends `""` after the last one.
    pub(crate) fn next(self) -> Option<String> {
        self.next_cursor.filter(|c| !c.is_empty())
    }
}

/// `auth.test`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AuthTest {
    /// The workspace's web address, `https://acme.slack.com/`.
    #[serde(default)]
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) team_id: String,
    /// An org-wide install on Enterprise Grid: `conversations.list` then needs a `team_id`,
    /// one workspace of the organisation at a time (`auth.teams.list`).
    #[serde(default)]
    pub(crate) is_enterprise_install: bool,
}

/// A page of `auth.teams.list`: the workspaces an org-wide install reaches.
#[derive(Debug, Deserialize)]
pub(crate) struct TeamsPage {
    #[serde(default)]
    pub(crate) teams: Vec<Team>,
    #[serde(default)]
    pub(crate) response_metadata: Meta,
}

/// A workspace of `auth.teams.list`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Team {
    pub(crate) id: String,
}

/// A conversation of `conversations.list` / `conversations.info`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Channel {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) is_private: bool,
    #[serde(default)]
    pub(crate) is_member: bool,
    /// Shared with another organisation (Slack Connect): members from outside the
    /// workspace read it too.
    #[serde(default)]
    pub(crate) is_ext_shared: bool,
    /// The Enterprise Grid workspaces the channel is shared into.
    #[serde(default)]
    pub(crate) shared_team_ids: Vec<String>,
    /// The workspace the channel was listed in (`context_team_id`), on Enterprise Grid.
    #[serde(default)]
    pub(crate) context_team_id: Option<String>,
}

/// A page of `conversations.list`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelsPage {
    #[serde(default)]
    pub(crate) channels: Vec<Channel>,
    #[serde(default)]
    pub(crate) response_metadata: Meta,
}

/// A listed message: read, or the JSON of one that does not read with why (a failure of
/// its thread, while the page goes on).
pub(crate) type Listed = std::result::Result<Message, (Value, serde_json::Error)>;

/// A page of `conversations.history` or `conversations.replies`: its messages and the cursor
/// of the next page.
pub(crate) type MessagesPage = (Vec<Listed>, Option<String>);

/// A page of messages read at once, every message typed (the common case).
#[derive(Deserialize)]
struct TypedMessages {
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    response_metadata: Meta,
}

/// A page of messages of which one at least does not read: JSON first, then each message.
#[derive(Deserialize)]
struct RawMessages {
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    response_metadata: Meta,
}

/// Reads a `conversations.history` / `conversations.replies` body: typed in one pass, and
/// only when that fails, message by message, so one malformed message is a failure of its
/// thread, not of the page.
///
/// # Errors
/// A body that is not a page of messages at all.
pub(crate) fn read_messages(body: &[u8]) -> serde_json::Result<MessagesPage> {
    if let Ok(page) = serde_json::from_slice::<TypedMessages>(body) {
        return Ok((
            page.messages.into_iter().map(Ok).collect(),
            page.response_metadata.next(),
        ));
    }
    let page: RawMessages = serde_json::from_slice(body)?;
    let messages = page
        .messages
        .into_iter()
        .map(|v| match Message::deserialize(&v) {
            Ok(m) => Ok(m),
            Err(e) => Err((v, e)),
        })
        .collect();
    Ok((messages, page.response_metadata.next()))
}

/// A page of `conversations.members`.
#[derive(Debug, Deserialize)]
pub(crate) struct MembersPage {
    #[serde(default)]
    pub(crate) members: Vec<String>,
    #[serde(default)]
    pub(crate) response_metadata: Meta,
}

/// `users.info`.
#[derive(Debug, Deserialize)]
pub(crate) struct UserInfo {
    pub(crate) user: User,
}

/// A member of the workspace.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) real_name: Option<String>,
    #[serde(default)]
    pub(crate) profile: Profile,
}

impl User {
    /// The name people see: the display name, else the real name, else the handle (else
    /// the id), borrowed.
    pub(crate) fn shown(&self) -> &str {
        [
            self.profile.display_name.as_deref(),
            self.profile.real_name.as_deref(),
            self.real_name.as_deref(),
            Some(self.name.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(self.id.as_str())
    }
}

/// A user's `profile`; `email` needs the `users:read.email` scope.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Profile {
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) real_name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
}

/// One message of a channel or thread.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub(crate) ts: String,
    #[serde(default)]
    pub(crate) thread_ts: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) subtype: Option<String>,
    #[serde(default)]
    pub(crate) bot_id: Option<String>,
    #[serde(default)]
    pub(crate) app_id: Option<String>,
    #[serde(default)]
    pub(crate) bot_profile: Option<BotProfile>,
    #[serde(default)]
    pub(crate) reply_count: Option<u64>,
    #[serde(default)]
    pub(crate) latest_reply: Option<String>,
    #[serde(default)]
    pub(crate) edited: Option<Edited>,
    #[serde(default)]
    pub(crate) files: Vec<File>,
    /// Legacy attachments: where bots and integrations (alerts, CI, issue trackers) put
    /// what they say, often with an empty `text`.
    #[serde(default)]
    pub(crate) attachments: Vec<Attachment>,
}

/// One of a message's `attachments`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Attachment {
    #[serde(default)]
    pub(crate) pretext: Option<String>,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) title_link: Option<String>,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) fallback: Option<String>,
}

impl Message {
    /// What the message says: its `text`, else (a bot's message with attachments alone) its
    /// attachments' text, one per line. Link previews that Slack adds to a person's message
    /// (also attachments) are left out: they repeat the linked page, not the message.
    pub(crate) fn body(&self) -> std::borrow::Cow<'_, str> {
        if !self.text.trim().is_empty() || self.attachments.is_empty() {
            return std::borrow::Cow::Borrowed(&self.text);
        }
        let mut lines: Vec<String> = Vec::new();
        for a in &self.attachments {
            let nonempty = |p: &Option<String>| p.clone().filter(|p| !p.trim().is_empty());
            // A linked title as `mrkdwn`'s `<url|text>`, which the writer makes a link.
            let title = nonempty(&a.title).map(|t| match nonempty(&a.title_link) {
                Some(link) => format!("<{link}|{t}>"),
                None => t,
            });
            let parts: Vec<String> = [nonempty(&a.pretext), title, nonempty(&a.text)]
                .into_iter()
                .flatten()
                .collect();
            if parts.is_empty() {
                lines.extend(nonempty(&a.fallback));
            } else {
                lines.extend(parts);
            }
        }
        std::borrow::Cow::Owned(lines.join("\n"))
    }
}

/// `bot_profile` of a bot's message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BotProfile {
    #[serde(default)]
    pub(crate) name: String,
}

/// `edited` of an edited message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Edited {
    pub(crate) ts: String,
}

/// A file shared in a message (named and linked; its bytes are not read).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct File {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) permalink: Option<String>,
}

/// Message subtypes RAGFlow leaves out (`_DISALLOWED_MSG_SUBTYPES`): joins, leaves, archive
/// notices, pins, renames and the like say nothing a search should find.
pub(crate) const NOISE_SUBTYPES: &[&str] = &[
    "channel_join",
    "channel_leave",
    "channel_archive",
    "channel_unarchive",
    "pinned_item",
    "unpinned_item",
    "ekm_access_denied",
    "channel_posting_permissions",
    "group_join",
    "group_leave",
    "group_archive",
    "group_unarchive",
    "channel_name",
    // A deleted parent that still has replies: "This message was deleted." (the replies stay).
    "tombstone",
];

impl Message {
    /// Whether RAGFlow's filter keeps it: no bot or app message (`bot_id`/`app_id`), no
    /// noise subtype.
    pub(crate) fn is_noise(&self, keep_bots: bool) -> bool {
        if !keep_bots && (self.bot_id.is_some() || self.app_id.is_some()) {
            return true;
        }
        self.subtype
            .as_deref()
            .is_some_and(|s| NOISE_SUBTYPES.contains(&s))
    }

    /// The thread this message belongs to: its `thread_ts`, else its own `ts`.
    pub(crate) fn thread(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }

    /// A reply shown in the channel too (`thread_broadcast`, or any message whose
    /// `thread_ts` is another message's).
    pub(crate) fn is_reply(&self) -> bool {
        self.thread_ts.as_deref().is_some_and(|t| t != self.ts)
    }

    /// The latest activity the listing shows: the newest of its own `ts`, its `latest_reply`
    /// and its last edit (`edited.ts`).
    pub(crate) fn activity(&self) -> Option<DateTime<Utc>> {
        let own = parse_ts(&self.ts)?;
        Some(
            [
                self.latest_reply.as_deref(),
                self.edited.as_ref().map(|e| e.ts.as_str()),
            ]
            .into_iter()
            .flatten()
            .filter_map(parse_ts)
            .fold(own, DateTime::max),
        )
    }
}

/// A Slack timestamp (`"1512085950.000216"`: seconds and microseconds) as a time.
pub(crate) fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: i64 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The fraction's digits padded with zeros to nine, read without a string.
    let digits = frac.as_bytes();
    let nanos = (0..9).fold(0u32, |n, i| {
        n * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'))
    });
    DateTime::from_timestamp(secs, nanos)
}

/// A time as a Slack timestamp, to the microsecond (what `oldest` and `latest` take).
pub(crate) fn to_ts(t: DateTime<Utc>) -> String {
    format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_ts("1512085950.000216");
        assert_eq!(t.map(to_ts).as_deref(), Some("1512085950.000216"));
        assert_eq!(
            parse_ts("1512085950").map(to_ts).as_deref(),
            Some("1512085950.000000")
        );
        assert!(parse_ts("abc").is_none());
        assert!(parse_ts("1.2x").is_none());
    }

    #[test]
    fn a_bots_attachments_are_its_body_and_link_previews_are_not() {
        let bot: Message = serde_json::from_value(serde_json::json!({
            "type": "message", "subtype": "bot_message", "ts": "1.000001", "bot_id": "B1",
            "text": "",
            "attachments": [
                {"fallback": "[Alert] disk full", "title": "Disk full on db-1",
                 "title_link": "https://alerts.test/1", "text": "92% used on /var", "color": "danger"},
                {"fallback": "Runbook: https://wiki.test/disk"}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            bot.body(),
            "<https://alerts.test/1|Disk full on db-1>\n92% used on /var\nRunbook: https://wiki.test/disk"
        );
        let person: Message = serde_json::from_value(serde_json::json!({
            "type": "message", "ts": "1.000002", "user": "U1",
            "text": "see <https://example.com>",
            "attachments": [{"from_url": "https://example.com", "title": "Example Domain",
                "text": "This domain is for use in examples", "fallback": "Example Domain"}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(person.body(), "see <https://example.com>");
    }
}
