//! Outlook's wire types as Microsoft Graph sends them (`message`, `mailFolder`, `attachment`,
//! `user`), with the `$select` lists that keep its answers to what a sync reads.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use crate::graph::ItemBody;
use crate::graph::users::DirectoryUser;

/// The fields of a message a sync reads: `$select` of every delta round and refetch.
pub(crate) const MESSAGE_FIELDS: &str = "id,subject,body,from,sender,toRecipients,ccRecipients,bccRecipients,receivedDateTime,sentDateTime,lastModifiedDateTime,conversationId,internetMessageId,webLink,parentFolderId,hasAttachments,importance,categories,isDraft";

/// The fields of a mail folder.
pub(crate) const FOLDER_FIELDS: &str = "id,displayName,parentFolderId,childFolderCount";

/// The fields of an attachment listed before any download (no `contentBytes`): enough to
/// check its size and kind.
pub(crate) const ATTACHMENT_FIELDS: &str = "id,name,contentType,size,isInline,lastModifiedDateTime";

/// The fields of a user.
pub(crate) const USER_FIELDS: &str = "id,mail,userPrincipalName,displayName";

/// What every mail request asks for: ids that survive a move between folders
/// (`ImmutableId`; without it a moved message gets a new id and would become a new document).
/// Bodies come as stored (HTML stays HTML, turned into Markdown here).
pub(crate) const PREFER: &str = "IdType=\"ImmutableId\"";

/// Messages per delta page asked for (Graph's default for messages is 10).
pub(crate) const PAGE_SIZE: u32 = 50;

/// A user as `GET users` or `GET users/{id}` shows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) mail: Option<String>,
    #[serde(default)]
    pub(crate) user_principal_name: Option<String>,
}

impl User {
    /// `user` from the listing of every user, when it has a `mail` address (a user without
    /// one has no Exchange mailbox).
    pub(crate) fn with_mail(user: DirectoryUser) -> Option<Self> {
        user.mail
            .as_deref()
            .is_some_and(|m| !m.trim().is_empty())
            .then_some(Self {
                id: user.id,
                mail: user.mail,
                user_principal_name: user.user_principal_name,
            })
    }

    /// The addresses the mailbox's owner is known by, lower case, without repeats: `mail` and
    /// the user principal name (they differ where the sign-in name is not the mail address:
    /// `ada@contoso.onmicrosoft.com` and `ada.lovelace@contoso.com`).
    pub(crate) fn readers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in [self.mail.as_deref(), self.user_principal_name.as_deref()]
            .into_iter()
            .flatten()
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
        {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            out.push(self.address());
        }
        out
    }

    /// The mailbox's address: `mail`, else the user principal name, lower case.
    pub(crate) fn address(&self) -> String {
        self.mail
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .or(self.user_principal_name.as_deref())
            .unwrap_or(&self.id)
            .trim()
            .to_lowercase()
    }
}

/// A mail folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MailFolder {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) child_folder_count: u32,
}

/// A recipient: `{"emailAddress": {"name": "…", "address": "…"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Recipient {
    #[serde(default)]
    pub(crate) email_address: EmailAddress,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EmailAddress {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) address: Option<String>,
}

impl Recipient {
    /// `Name <address>`, or the address alone, or the name alone.
    pub(crate) fn shown(&self) -> Option<String> {
        let e = &self.email_address;
        let name = e.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let address = e
            .address
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        match (name, address) {
            (Some(n), Some(a)) if !n.eq_ignore_ascii_case(a) => Some([n, " <", a, ">"].concat()),
            (_, Some(a)) => Some(a.to_owned()),
            (Some(n), None) => Some(n.to_owned()),
            (None, None) => None,
        }
    }
}

/// A message as a delta page or `GET messages/{id}` shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<ItemBody>,
    #[serde(default)]
    pub(crate) from: Option<Recipient>,
    #[serde(default)]
    pub(crate) sender: Option<Recipient>,
    #[serde(default)]
    pub(crate) to_recipients: Vec<Recipient>,
    #[serde(default)]
    pub(crate) cc_recipients: Vec<Recipient>,
    #[serde(default)]
    pub(crate) bcc_recipients: Vec<Recipient>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) received_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) sent_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) conversation_id: Option<String>,
    #[serde(default)]
    pub(crate) internet_message_id: Option<String>,
    #[serde(default)]
    pub(crate) web_link: Option<Url>,
    #[serde(default)]
    pub(crate) parent_folder_id: Option<String>,
    #[serde(default)]
    pub(crate) has_attachments: bool,
    #[serde(default)]
    pub(crate) importance: Option<String>,
    #[serde(default)]
    pub(crate) categories: Vec<String>,
    #[serde(default)]
    pub(crate) is_draft: bool,
    /// Set on a delta page for a message deleted or moved out of the folder.
    #[serde(rename = "@removed", default)]
    pub(crate) removed: Option<serde_json::Value>,
    /// The derived type: `#microsoft.graph.eventMessageRequest` and the other
    /// `eventMessage*` types are meeting requests, cancellations and responses.
    #[serde(rename = "@odata.type", default)]
    pub(crate) odata_type: Option<String>,
    /// A meeting message's meeting, read by `GET messages/{id}` (a delta round cannot
    /// `$select` a derived type's properties).
    #[serde(skip)]
    pub(crate) meeting: Option<Box<Meeting>>,
}

/// A message of a delta page as the page was read: with the page, in one pass (the usual
/// page), or as its JSON text, to be read on its own ([`Message::from_raw`]: a page with a
/// message that cannot be read is read message by message, so that one becomes a failure
/// naming it and the others are read).
// The message inline on purpose: nearly every page is read whole, and a box per message is
// what the one-pass read saves.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Listed {
    /// Read with its page.
    Read(Message),
    /// Its JSON text.
    Raw(Box<serde_json::value::RawValue>),
}

impl Listed {
    /// The message; `Err((its id if readable, what is wrong))` as [`Message::from_raw`].
    pub(crate) fn read(self) -> std::result::Result<Message, (Option<String>, String)> {
        match self {
            Self::Read(message) => Ok(message),
            Self::Raw(raw) => Message::from_raw(&raw),
        }
    }
}

/// What an `eventMessage` (`GET messages/{id}`) says of its meeting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meeting {
    /// `meetingRequest`, `meetingCancelled`, `meetingAccepted`, `meetingTenativelyAccepted`
    /// (sic), `meetingDeclined`, `none`.
    #[serde(default)]
    pub(crate) meeting_message_type: Option<String>,
    #[serde(default)]
    pub(crate) start_date_time: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) end_date_time: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) location: Option<Location>,
    #[serde(default)]
    pub(crate) is_all_day: Option<bool>,
}

/// Graph's `dateTimeTimeZone`: a local time and the zone it is in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateTimeTimeZone {
    #[serde(default)]
    pub(crate) date_time: String,
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
}

impl DateTimeTimeZone {
    /// `2026-03-02T10:00:00 UTC`: the time without Graph's seven decimal places, and its zone.
    pub(crate) fn shown(&self) -> String {
        let t = self.date_time.trim();
        let t = t.split_once('.').map_or(t, |(whole, _)| whole);
        match self
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty())
        {
            Some(zone) => format!("{t} {zone}"),
            None => t.to_owned(),
        }
    }
}

/// Graph's `location` (of a meeting).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

impl Message {
    /// Whether this is a meeting request, cancellation or response (`eventMessage` and the
    /// types derived from it).
    pub(crate) fn is_meeting_message(&self) -> bool {
        self.odata_type.as_deref().is_some_and(|t| {
            t.trim_start_matches('#')
                .starts_with("microsoft.graph.eventMessage")
        })
    }

    /// A message of a page, read from its JSON text (no `Value` tree between);
    /// `Err((its id if readable, what is wrong))` when it is not one.
    pub(crate) fn from_raw(
        raw: &serde_json::value::RawValue,
    ) -> std::result::Result<Self, (Option<String>, String)> {
        serde_json::from_str(raw.get()).map_err(|e| {
            /// The id alone, of a message that cannot be read whole.
            #[derive(Deserialize)]
            struct Id {
                #[serde(default)]
                id: Option<serde_json::Value>,
            }
            let id = serde_json::from_str::<Id>(raw.get())
                .ok()
                .and_then(|i| i.id)
                .and_then(|i| i.as_str().map(str::to_owned));
            (
                id,
                format!("Graph listed a message that cannot be read: {e}"),
            )
        })
    }

    /// The version token: a hash of what the document is made of (subject, body, people,
    /// dates, categories, importance, draft state, thread, link) and the folder, so a move
    /// delivers the document again with its new folder. Not the `changeKey`: Exchange gives a
    /// new one for every change, reading a message or flagging it too, and those change
    /// nothing the document shows; a mailbox's delta rounds are mostly such changes, and each
    /// would deliver (and a host embed) the message again.
    pub(crate) fn version(&self) -> String {
        let mut out = self.hash();
        out.push('|');
        out.push_str(self.parent_folder_id.as_deref().unwrap_or_default());
        out
    }

    /// The hash of [`version`](Self::version): its parts (each person `name` U+001F
    /// `address`, people and categories joined by U+001E, times in RFC 3339) written into one
    /// buffer, hashed as length-prefixed parts with the body's content last.
    fn hash(&self) -> String {
        fn person(out: &mut String, r: &Recipient) {
            let e = &r.email_address;
            out.push_str(e.name.as_deref().unwrap_or_default());
            out.push('\u{1f}');
            out.push_str(e.address.as_deref().unwrap_or_default());
        }
        fn people(out: &mut String, r: &[Recipient]) {
            for (n, r) in r.iter().enumerate() {
                if n > 0 {
                    out.push('\u{1e}');
                }
                person(out, r);
            }
        }
        fn time(out: &mut String, t: Option<DateTime<Utc>>) {
            if let Some(t) = t {
                connector_core::time::push_rfc3339_offset(out, &t);
            }
        }
        let body = self.body.as_ref();
        let mut text = String::with_capacity(512);
        let mut ends = [0usize; 15];
        let mut part = 0;
        let mut end = |text: &String| {
            ends[part] = text.len();
            part += 1;
        };
        text.push_str(self.subject.as_deref().unwrap_or_default());
        end(&text);
        text.push_str(
            body.and_then(|b| b.content_type.as_deref())
                .unwrap_or_default(),
        );
        end(&text);
        if let Some(r) = &self.from {
            person(&mut text, r);
        }
        end(&text);
        if let Some(r) = &self.sender {
            person(&mut text, r);
        }
        end(&text);
        people(&mut text, &self.to_recipients);
        end(&text);
        people(&mut text, &self.cc_recipients);
        end(&text);
        people(&mut text, &self.bcc_recipients);
        end(&text);
        time(&mut text, self.received_date_time);
        end(&text);
        time(&mut text, self.sent_date_time);
        end(&text);
        for (n, c) in self.categories.iter().enumerate() {
            if n > 0 {
                text.push('\u{1e}');
            }
            text.push_str(c);
        }
        end(&text);
        text.push_str(self.importance.as_deref().unwrap_or_default());
        end(&text);
        text.push_str(if self.is_draft { "true" } else { "false" });
        end(&text);
        text.push_str(self.conversation_id.as_deref().unwrap_or_default());
        end(&text);
        text.push_str(self.internet_message_id.as_deref().unwrap_or_default());
        end(&text);
        text.push_str(self.web_link.as_ref().map(Url::as_str).unwrap_or_default());
        end(&text);
        let content = body.and_then(|b| b.content.as_deref()).unwrap_or_default();
        let bytes = text.as_bytes();
        let mut start = 0;
        connector_core::ids::hash128_parts(
            ends.iter()
                .map(|&e| {
                    let part = &bytes[start..e];
                    start = e;
                    part
                })
                .chain([content.as_bytes()]),
        )
    }

    /// The version of the message's document in the folder at `path` (by display name, as the
    /// `folder` metadata shows it): [`version`](Self::version) and the path, so renaming a
    /// folder (or one above it) delivers its messages again with their new `folder`, rather
    /// than leave the old path on every message that does not change.
    pub(crate) fn version_in(&self, path: &str) -> String {
        let mut out = self.version();
        out.push('|');
        out.push_str(path);
        out
    }
}

/// An attachment as listed (`GET messages/{id}/attachments?$select=…`); its `@odata.type` says
/// which kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    #[serde(rename = "@odata.type", default)]
    pub(crate) odata_type: String,
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) is_inline: bool,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_modified_date_time: Option<DateTime<Utc>>,
    /// A file attachment's bytes, base64; only in the answer that asks for the attachment
    /// itself.
    #[serde(default)]
    pub(crate) content_bytes: Option<String>,
}

/// What an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttachmentKind {
    /// A file: its bytes.
    File,
    /// An Outlook item (a message, event or contact): its MIME form by `/$value`.
    Item,
    /// A link to a file in OneDrive or SharePoint: no bytes here (those sources read it).
    Reference,
}

impl Attachment {
    pub(crate) fn kind(&self) -> AttachmentKind {
        match self.odata_type.as_str() {
            "#microsoft.graph.itemAttachment" => AttachmentKind::Item,
            "#microsoft.graph.referenceAttachment" => AttachmentKind::Reference,
            _ => AttachmentKind::File,
        }
    }

    /// The name shown: Graph's, else one from the id's tail.
    pub(crate) fn shown_name(&self) -> String {
        let ext = if self.kind() == AttachmentKind::Item {
            ".eml"
        } else {
            ""
        };
        match self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            // An attached message is named by its subject: give it the extension of the
            // bytes `$value` answers with.
            Some(n) if !ext.is_empty() && !n.to_ascii_lowercase().ends_with(ext) => {
                format!("{n}{ext}")
            }
            Some(n) => n.to_owned(),
            None => format!("attachment{ext}"),
        }
    }

    /// Whether this is a picture shown in the body (an inline image, `cid:` in the HTML): not
    /// a document. Other inline parts are: Apple Mail sends attached files (a PDF) with
    /// `Content-Disposition: inline`, which Exchange lists as `isInline`.
    pub(crate) fn is_inline_picture(&self) -> bool {
        self.is_inline
            && self
                .content_type
                .as_deref()
                .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("image/"))
    }

    /// Whether this is an S/MIME encrypted (or opaque-signed) message's content
    /// (`smime.p7m`, `application/pkcs7-mime`): PKCS #7 that cannot be read here.
    pub(crate) fn is_smime_content(&self) -> bool {
        let t = self
            .content_type
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        t.starts_with("application/pkcs7-mime")
            || t.starts_with("application/x-pkcs7-mime")
            || self
                .name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("smime.p7m"))
    }

    /// Whether this is an S/MIME signature (`smime.p7s`, `application/pkcs7-signature`): the
    /// proof of a signed message's sender, not content of its own.
    pub(crate) fn is_signature(&self) -> bool {
        let t = self
            .content_type
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(
            t.as_str(),
            "application/pkcs7-signature" | "application/x-pkcs7-signature"
        ) || self
            .name
            .as_deref()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("smime.p7s"))
    }

    /// The version token: attachments do not change in place, so id, size and time name one.
    pub(crate) fn version(&self) -> String {
        format!(
            "{}|{}|{}",
            self.id,
            self.size,
            self.last_modified_date_time
                .map(|t| t.timestamp())
                .unwrap_or_default()
        )
    }

    /// The version of the attachment's document under a message in the folder at `path`:
    /// its `folder` metadata is that path, so a move or a rename delivers it again.
    pub(crate) fn version_in(&self, path: &str) -> String {
        format!("{}|{path}", self.version())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn from_json(
        value: serde_json::Value,
    ) -> std::result::Result<Message, (Option<String>, String)> {
        Message::from_raw(&serde_json::value::to_raw_value(&value).unwrap())
    }

    #[test]
    fn a_message_of_graphs_wire_format_is_read() {
        let m = from_json(serde_json::json!({
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": "W/\"CQAAABYAAAB\"",
            "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AAA==",
            "subject": "Q3 plan", "changeKey": "CQAAABYAAAB",
            "body": {"contentType": "html", "content": "<p>Hi</p>"},
            "from": {"emailAddress": {"name": "Ada Lovelace", "address": "ada@contoso.com"}},
            "toRecipients": [{"emailAddress": {"name": "bob@contoso.com", "address": "bob@contoso.com"}}],
            "ccRecipients": [], "hasAttachments": true,
            "lastModifiedDateTime": "2026-03-01T00:05:00Z",
            "parentFolderId": "AQMkInbox", "conversationId": "AAQkConv",
            "webLink": "https://outlook.office365.com/owa/?ItemID=AAk&exvsurl=1&viewmodel=ReadMessageItem"
        }))
        .unwrap();
        assert!(m.body.as_ref().unwrap().is_html());
        assert_eq!(
            m.from.as_ref().unwrap().shown().unwrap(),
            "Ada Lovelace <ada@contoso.com>"
        );
        assert_eq!(m.to_recipients[0].shown().unwrap(), "bob@contoso.com");
        assert!(m.version().ends_with("|AQMkInbox"), "{}", m.version());
        // Read or flagged: a new modification time (and change key, not read), the same version.
        let mut read = m.clone();
        read.last_modified_date_time = None;
        assert_eq!(read.version(), m.version());
        let mut categorised = m.clone();
        categorised.categories.push("Red".into());
        assert_ne!(categorised.version(), m.version());
        let mut edited = m.clone();
        edited.body = Some(ItemBody {
            content_type: Some("html".into()),
            content: Some("<p>Hi!</p>".into()),
        });
        assert_ne!(edited.version(), m.version());
        let removed =
            from_json(serde_json::json!({"id": "AAk2", "@removed": {"reason": "deleted"}}))
                .unwrap();
        assert!(removed.removed.is_some());
        let (id, _) = from_json(serde_json::json!({"id": "AAk3", "toRecipients": 7})).unwrap_err();
        assert_eq!(id.as_deref(), Some("AAk3"));
    }

    /// The version as it was first written (strings joined, then hashed): the one written
    /// into a single buffer must give the same tokens, or every stored message would be
    /// delivered again.
    fn version_as_first_written(m: &Message) -> String {
        let people = |r: &[Recipient]| {
            r.iter()
                .map(|r| {
                    let e = &r.email_address;
                    format!(
                        "{}\u{1f}{}",
                        e.name.as_deref().unwrap_or_default(),
                        e.address.as_deref().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\u{1e}")
        };
        let one = |r: Option<&Recipient>| people(r.map(std::slice::from_ref).unwrap_or_default());
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let body = m.body.as_ref();
        let parts = [
            m.subject.clone().unwrap_or_default(),
            body.and_then(|b| b.content_type.clone())
                .unwrap_or_default(),
            one(m.from.as_ref()),
            one(m.sender.as_ref()),
            people(&m.to_recipients),
            people(&m.cc_recipients),
            people(&m.bcc_recipients),
            time(m.received_date_time),
            time(m.sent_date_time),
            m.categories.join("\u{1e}"),
            m.importance.clone().unwrap_or_default(),
            m.is_draft.to_string(),
            m.conversation_id.clone().unwrap_or_default(),
            m.internet_message_id.clone().unwrap_or_default(),
            m.web_link.as_ref().map(Url::to_string).unwrap_or_default(),
        ];
        let content = body.and_then(|b| b.content.as_deref()).unwrap_or_default();
        let hash = connector_core::ids::hash128_parts(
            parts
                .iter()
                .map(|p| p.as_bytes())
                .chain([content.as_bytes()]),
        );
        format!(
            "{hash}|{}",
            m.parent_folder_id.as_deref().unwrap_or_default()
        )
    }

    #[test]
    fn versions_are_those_written_before() {
        let full: Message = serde_json::from_value(serde_json::json!({
            "id": "AAk1", "subject": "Q3 plan",
            "body": {"contentType": "html", "content": "<p>Hi</p>"},
            "from": {"emailAddress": {"name": "Ada Lovelace", "address": "ada@contoso.com"}},
            "sender": {"emailAddress": {"address": "ada@contoso.com"}},
            "toRecipients": [{"emailAddress": {"name": "Bob", "address": "bob@contoso.com"}},
                             {"emailAddress": {"name": "Cy"}}],
            "ccRecipients": [{"emailAddress": {"address": "dee@contoso.com"}}],
            "bccRecipients": [{"emailAddress": {}}],
            "receivedDateTime": "2026-03-01T10:00:00Z", "sentDateTime": "2026-03-01T09:59:58.5Z",
            "categories": ["Red", "Blue"], "importance": "high", "isDraft": true,
            "conversationId": "AAQkConv", "internetMessageId": "<1@contoso.com>",
            "parentFolderId": "AQMkInbox",
            "webLink": "https://outlook.office365.com/owa/?ItemID=AAk&exvsurl=1"
        }))
        .unwrap();
        let bare = Message {
            id: "AAk2".into(),
            ..Message::default()
        };
        for m in [&full, &bare] {
            assert_eq!(m.version(), version_as_first_written(m));
            assert_eq!(
                m.version_in("Inbox/x"),
                format!("{}|Inbox/x", version_as_first_written(m))
            );
        }
    }

    #[test]
    fn attachments_know_their_kind_and_name() {
        let a: Attachment = serde_json::from_value(serde_json::json!({
            "@odata.type": "#microsoft.graph.itemAttachment", "id": "AAMk=", "name": "Fwd: minutes",
            "contentType": null, "size": 2048, "isInline": false}))
        .unwrap();
        assert_eq!(a.kind(), AttachmentKind::Item);
        assert_eq!(a.shown_name(), "Fwd: minutes.eml");
        let r: Attachment = serde_json::from_value(serde_json::json!({
            "@odata.type": "#microsoft.graph.referenceAttachment", "id": "R=", "name": "Plan.docx"}))
        .unwrap();
        assert_eq!(r.kind(), AttachmentKind::Reference);
        let sig: Attachment = serde_json::from_value(serde_json::json!({
            "@odata.type": "#microsoft.graph.fileAttachment", "id": "S=", "name": "smime.p7s",
            "contentType": "application/pkcs7-signature", "size": 5120, "isInline": false}))
        .unwrap();
        assert!(sig.is_signature() && !sig.is_inline_picture());
        let inline_pdf: Attachment = serde_json::from_value(serde_json::json!({
            "@odata.type": "#microsoft.graph.fileAttachment", "id": "P=", "name": "scan.pdf",
            "contentType": "application/pdf", "size": 5120, "isInline": true}))
        .unwrap();
        assert!(!inline_pdf.is_signature() && !inline_pdf.is_inline_picture());
        assert_eq!(r.shown_name(), "Plan.docx");
    }
}
