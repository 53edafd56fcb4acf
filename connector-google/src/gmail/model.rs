//! Gmail v1 wire types, with the API's own field names.

use serde::Deserialize;

/// `users.threads.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThreadList {
    #[serde(default)]
    pub(crate) threads: Vec<ThreadRef>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// A thread as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThreadRef {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) history_id: Option<String>,
}

/// `users.threads.get?format=full`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Thread {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) history_id: Option<String>,
    #[serde(default)]
    pub(crate) messages: Vec<Message>,
}

/// A message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) label_ids: Vec<String>,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    pub(crate) internal_date: Option<String>,
    #[serde(default)]
    pub(crate) payload: Option<Part>,
    /// The whole RFC 822 message, base64url (format `raw`).
    #[serde(default)]
    pub(crate) raw: Option<String>,
}

/// A MIME part (`payload`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    #[serde(default)]
    pub(crate) part_id: Option<String>,
    #[serde(default)]
    pub(crate) mime_type: String,
    #[serde(default)]
    pub(crate) filename: String,
    #[serde(default)]
    pub(crate) headers: Vec<Header>,
    #[serde(default)]
    pub(crate) body: Option<Body>,
    #[serde(default)]
    pub(crate) parts: Vec<Part>,
}

/// A header.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// A part body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Body {
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) data: Option<String>,
    #[serde(default)]
    pub(crate) attachment_id: Option<String>,
}

/// `users.messages.attachments.get`.
#[derive(Deserialize)]
pub(crate) struct AttachmentBody {
    #[serde(default)]
    pub(crate) data: String,
}

/// `users.getProfile`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub(crate) email_address: String,
    /// The mailbox's current history record: where a history feed started now begins.
    #[serde(default)]
    pub(crate) history_id: Option<String>,
}

/// `users.history.list`: the changes after `startHistoryId`, oldest first; `historyId` is the
/// mailbox's current record, where the next feed starts once the last page is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryList {
    #[serde(default)]
    pub(crate) history: Vec<History>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
    #[serde(default)]
    pub(crate) history_id: Option<String>,
}

/// One history record: the messages it added, deleted or relabelled.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct History {
    #[serde(default)]
    pub(crate) messages_added: Vec<HistoryMessage>,
    #[serde(default)]
    pub(crate) messages_deleted: Vec<HistoryMessage>,
    #[serde(default)]
    pub(crate) labels_added: Vec<HistoryMessage>,
    #[serde(default)]
    pub(crate) labels_removed: Vec<HistoryMessage>,
}

impl History {
    /// The threads this record touches, in its order.
    pub(crate) fn thread_ids(&self) -> impl Iterator<Item = &str> {
        self.messages_added
            .iter()
            .chain(&self.messages_deleted)
            .chain(&self.labels_added)
            .chain(&self.labels_removed)
            .filter_map(|m| m.message.thread_id.as_deref())
    }
}

/// A message of a history record (`{"message": {...}}`); Gmail fills `id` and `threadId`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryMessage {
    pub(crate) message: MessageRef,
}

/// A message as a history record names it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageRef {
    #[serde(default)]
    pub(crate) thread_id: Option<String>,
}

impl Part {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}
