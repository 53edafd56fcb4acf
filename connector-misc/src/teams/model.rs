//! Graph's wire types for Teams, with the API's own field names: teams, channels, members and
//! `chatMessage`s (learn.microsoft.com/graph/api/resources/chatmessage).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use crate::graph::ItemBody;

/// The fields of a team a sync reads.
pub(crate) const TEAM_FIELDS: &str = "id,displayName,description";

/// The fields of a channel a sync reads.
pub(crate) const CHANNEL_FIELDS: &str = "id,displayName,description,membershipType,webUrl";

/// A team as `GET /teams` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Team {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

impl Team {
    pub(crate) fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }
}

/// A channel as `GET /teams/{id}/channels` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Channel {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// `standard`, `private`, `shared` (or `unknownFutureValue`).
    #[serde(default)]
    pub(crate) membership_type: Option<String>,
}

impl Channel {
    pub(crate) fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Whether the team's members are the channel's (a standard channel), rather than the
    /// channel's own member list (private and shared channels).
    pub(crate) fn is_standard(&self) -> bool {
        matches!(self.membership_type.as_deref(), None | Some("standard"))
    }
}

/// A member of a team or channel (`aadUserConversationMember`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Member {
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
}

/// A channel message: a thread's root, or (with `replyToId`) one of its replies.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatMessage {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) reply_to_id: Option<String>,
    #[serde(default)]
    pub(crate) etag: Option<String>,
    /// `message`, `systemEventMessage`, `chatEvent`, `typing`, `unknownFutureValue`.
    #[serde(default)]
    pub(crate) message_type: Option<String>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) created_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_edited_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) deleted_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) importance: Option<String>,
    #[serde(default)]
    pub(crate) web_url: Option<Url>,
    #[serde(default)]
    pub(crate) from: Option<From>,
    #[serde(default)]
    pub(crate) body: Option<ItemBody>,
    #[serde(default)]
    pub(crate) attachments: Vec<Attachment>,
    #[serde(default)]
    pub(crate) mentions: Vec<Mention>,
    /// With `$expand=replies`: the first 1000 replies.
    #[serde(default)]
    pub(crate) replies: Vec<ChatMessage>,
    /// The rest of the replies, past the first 1000.
    #[serde(rename = "replies@odata.nextLink", default)]
    pub(crate) replies_next: Option<Url>,
}

/// Who sent a message: a user or an application (a bot, a connector).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct From {
    #[serde(default)]
    pub(crate) user: Option<Identity>,
    #[serde(default)]
    pub(crate) application: Option<Identity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Identity {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

/// `chatMessageAttachment`: a file (`reference`), a card, a quoted message
/// (`messageReference`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    #[serde(default)]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) content_url: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// A card's own JSON, as a string (Graph's `content`); `null` for a file.
    #[serde(default)]
    pub(crate) content: Option<String>,
}

/// `chatMessageMention`: `<at id="0">` in the body is the mention with `id` 0.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mention {
    #[serde(default)]
    pub(crate) mention_text: Option<String>,
}

/// The `id` of a message that is not a `chatMessage` otherwise, if it has a string one.
fn id_of(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_str::<Id>(json).ok()?.id
}

impl ChatMessage {
    /// A message of a page, read from its own JSON text (one pass, replies included);
    /// `Err((its id if readable, what is wrong))` when it is not a `chatMessage`.
    pub(crate) fn from_raw(
        raw: &serde_json::value::RawValue,
    ) -> std::result::Result<Self, (Option<String>, String)> {
        serde_json::from_str(raw.get()).map_err(|e| {
            (
                id_of(raw.get()),
                format!("Graph listed a channel message that cannot be read: {e}"),
            )
        })
    }

    /// [`from_raw`](Self::from_raw) for a message already parsed (a `$batch` member's body).
    pub(crate) fn from_value(
        value: serde_json::Value,
    ) -> std::result::Result<Self, (Option<String>, String)> {
        crate::graph::listed(value, "a channel message")
    }

    /// Whether people wrote it: a `message`, not a system event (a member added, a channel
    /// renamed), which Teams shows as a notice and which holds no text of its own.
    pub(crate) fn is_message(&self) -> bool {
        matches!(self.message_type.as_deref(), None | Some("message"))
    }

    /// Whether it is deleted (Teams keeps a deleted root while it has replies).
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted_date_time.is_some()
    }

    /// Whether it counts as a part of its thread's document: a live message people wrote.
    pub(crate) fn is_shown(&self) -> bool {
        self.is_message() && !self.is_deleted()
    }

    /// Its latest time: created, last modified or deleted.
    pub(crate) fn latest(&self) -> Option<DateTime<Utc>> {
        [
            self.created_date_time,
            self.last_modified_date_time,
            self.deleted_date_time,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// The sender's name: the user's, else the application's.
    pub(crate) fn author(&self) -> String {
        let from = self.from.as_ref();
        from.and_then(|f| f.user.as_ref())
            .or_else(|| from.and_then(|f| f.application.as_ref()))
            .and_then(|i| i.display_name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Unknown".to_owned())
    }

    /// The sending user's object id.
    pub(crate) fn author_id(&self) -> Option<&str> {
        self.from.as_ref()?.user.as_ref()?.id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_message_of_graphs_wire_format_is_read() {
        let m: ChatMessage = serde_json::from_str(
            r##"{"@odata.type": "#microsoft.graph.chatMessage", "id": "1616965872395", "replyToId": null,
                "etag": "1616965872395", "messageType": "message",
                "createdDateTime": "2021-03-28T21:11:12.395Z", "lastModifiedDateTime": "2021-03-28T21:11:12.395Z",
                "lastEditedDateTime": null, "deletedDateTime": null, "subject": null, "summary": null,
                "chatId": null, "importance": "normal", "locale": "en-us",
                "webUrl": "https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1616965872395?groupId=g",
                "policyViolation": null, "eventDetail": null,
                "from": {"application": null, "device": null, "user": {"id": "8ea0", "displayName": "Robin Kline", "userIdentityType": "aadUser"}},
                "body": {"contentType": "html", "content": "Hello World <at id=\"0\">Jane Smith</at>"},
                "channelIdentity": {"teamId": "t", "channelId": "19:abc@thread.tacv2"},
                "attachments": [], "mentions": [{"id": 0, "mentionText": "Jane Smith",
                    "mentioned": {"user": {"id": "ef1c", "displayName": "Jane Smith", "userIdentityType": "aadUser"}}}],
                "reactions": [],
                "replies@odata.context": "x", "replies": []}"##,
        )
        .unwrap();
        assert!(m.is_shown());
        assert_eq!(m.author(), "Robin Kline");
        assert_eq!(m.mentions[0].mention_text.as_deref(), Some("Jane Smith"));
        let system: ChatMessage = serde_json::from_str(
            r#"{"id": "1", "messageType": "systemEventMessage", "from": null,
                "body": {"contentType": "html", "content": "<systemEventMessage/>"}}"#,
        )
        .unwrap();
        assert!(!system.is_message());
        assert_eq!(system.author(), "Unknown");
    }

    /// Graph's times with any fraction (none, 1 to 7 digits) or an offset read as chrono
    /// reads them, and a time that is not one fails the message naming what it expected.
    #[test]
    fn message_times_read_every_form_graph_sends() {
        for text in [
            "2021-03-28T21:11:12Z",
            "2021-03-28T21:11:12.3Z",
            "2021-03-28T21:11:12.395Z",
            "2021-03-28T21:11:12.3950000Z",
            "2021-03-28T21:11:12.1234567Z",
            "2021-03-28T22:11:12.395+01:00",
            "2021-03-28T21:11:12-00:00",
        ] {
            let m: ChatMessage = serde_json::from_str(&format!(
                r#"{{"id": "1", "createdDateTime": "{text}", "lastModifiedDateTime": "{text}",
                    "lastEditedDateTime": null, "deletedDateTime": "{text}"}}"#
            ))
            .unwrap();
            let chrono = text.parse::<DateTime<chrono::FixedOffset>>().unwrap();
            let expected = Some(chrono.with_timezone(&Utc));
            assert_eq!(m.created_date_time, expected, "{text}");
            assert_eq!(m.last_modified_date_time, expected, "{text}");
            assert_eq!(m.deleted_date_time, expected, "{text}");
            assert_eq!(m.last_edited_date_time, None);
        }
        let bad = serde_json::from_str::<ChatMessage>(
            r#"{"id": "1", "createdDateTime": "2021-02-30T21:11:12.395Z"}"#,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("out of range"), "{bad}");
    }
}
