//! Messages and attachments to documents, in the shape the IMAP source gives mail: the
//! subject as a heading, `From:`/`To:`/`Cc:`/`Date:` lines, then the body (an HTML body as
//! Markdown through core's converter, a text body as paragraphs, nothing in it read as
//! Markdown), written by core's Markdown writer.

use connector_core::text::html_to_markdown;
use connector_core::text::markdown::MarkdownOut;
use connector_core::{Access, Document, ErrorKind, Failure, MetaKey};

use super::SOURCE;
use super::model::{Attachment, DateTimeTimeZone, Meeting, Message, Recipient};
use crate::graph::ItemBody;

/// The prefix of every document id.
pub(crate) const ID_PREFIX: &str = "outlook:";

/// What separates a message's id from its attachment's in an attachment's document id.
const ATTACHMENT_SEP: &str = "/attachments/";

/// The document id of message `message` of the mailbox of user `user` (object id):
/// `outlook:{user}:{message}` (an immutable id, kept through moves between folders).
pub(crate) fn message_doc_id(user: &str, message: &str) -> String {
    format!("{ID_PREFIX}{user}:{message}")
}

/// The document id of attachment `attachment` of the message whose document id is `message`.
pub(crate) fn attachment_doc_id(message: &str, attachment: &str) -> String {
    format!("{message}{ATTACHMENT_SEP}{attachment}")
}

/// The user and message of a message's or an attachment's document id.
pub(crate) fn parse_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix(ID_PREFIX)?;
    let rest = rest.split_once(ATTACHMENT_SEP).map_or(rest, |(m, _)| m);
    rest.split_once(':')
        .filter(|(u, m)| !u.is_empty() && !m.is_empty())
}

/// The mailbox and folder a message is read from.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    /// The user's object id.
    pub(crate) user: &'a str,
    /// The mailbox's address: owner and access.
    pub(crate) owner: &'a str,
    /// Who may read it: the owner by `mail` and by user principal name.
    pub(crate) readers: &'a [String],
    /// The folder's path by display name (`Inbox/Projects`).
    pub(crate) folder: &'a str,
}

impl Place<'_> {
    /// Who may read a message of this mailbox: its owner, by `mail` and by user principal
    /// name (a host may know the person by either). Not delegates nor the members of a shared
    /// mailbox: Graph does not show mailbox permissions (a shared mailbox's messages are
    /// granted to its own address, which nobody signs in as). Not the recipients: their copies
    /// are other messages in their own mailboxes (read as their own documents when those are
    /// in scope), and this copy (with the owner's drafts, moves and categories) is readable in
    /// Exchange by the owner and the owner's delegates only; recipients include external
    /// addresses, distribution lists and Bcc that name no identity a host knows.
    fn access(&self) -> Access {
        Access::restricted(self.readers.to_vec(), Vec::new())
    }
}

/// The recipients as shown, as the JSON array their metadata is (built as it, not as a
/// `Vec<String>` turned into one), and their header line (`a, b`).
fn joined(recipients: &[Recipient]) -> (Vec<serde_json::Value>, String) {
    let mut shown = Vec::with_capacity(recipients.len());
    let mut line = String::new();
    for r in recipients.iter().filter_map(Recipient::shown) {
        if !shown.is_empty() {
            line.push_str(", ");
        }
        line.push_str(&r);
        shown.push(serde_json::Value::String(r));
    }
    (shown, line)
}

/// The subject, or `(no subject)`.
fn subject(message: &Message) -> String {
    message
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("(no subject)")
        .to_owned()
}

/// The part of an HTML body that the conversion renders: what follows the `<body>` start tag.
///
/// Outlook stores whole documents: a `<head>` with Word's style sheet (often several KiB, more
/// than the text), conditional comments (`<!--[if gte mso 9]><xml>…</xml><![endif]-->`) and
/// `<meta>` tags. Core's converter leaves `<head>`, `<style>` and `<script>` out of its output
/// but still parses them into its tree; cutting them here gives the same Markdown for less
/// work. The scan skips comments, `<style>`, `<script>`, `<title>` and `<textarea>` (where a
/// `<body` is text, not a tag); a body without a `<body>` tag (a fragment) is kept whole, and
/// so is everything after the tag (a parser puts content after `</body>` into the body too).
pub(crate) fn rendered_part(html: &str) -> &str {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(lt) = memchr_lt(html, i) {
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            // A comment ends at the first `-->` (`<!-->` and `<!--->` end at once).
            i = if rest.starts_with(b"<!-->") {
                lt + 5
            } else if rest.starts_with(b"<!--->") {
                lt + 6
            } else {
                match find(html, lt + 4, "-->") {
                    Some(end) => end + 3,
                    None => return html,
                }
            };
            continue;
        }
        if let Some(name) = RAW_TEXT.into_iter().find(|n| tag_named(rest, n)) {
            // Raw text up to the closing tag.
            let mut close = [0u8; 10];
            close[..2].copy_from_slice(b"</");
            close[2..2 + name.len()].copy_from_slice(name.as_bytes());
            let close = &close[..2 + name.len()];
            i = match find_ignore_case(html, lt + 1 + name.len(), close) {
                Some(end) => end + close.len(),
                None => return html,
            };
            continue;
        }
        if tag_named(rest, "body") {
            return match find(html, lt, ">") {
                Some(gt) => &html[gt + 1..],
                None => html,
            };
        }
        i = lt + 1;
    }
    html
}

/// The elements whose content is raw text, where a `<body` is no tag.
const RAW_TEXT: [&str; 4] = ["style", "script", "title", "textarea"];

/// The first `<` at or after `from` (`str::find` of a char searches with `memchr`).
fn memchr_lt(html: &str, from: usize) -> Option<usize> {
    html.get(from..)?.find('<').map(|p| p + from)
}

/// The first `needle` at or after `from`, by `str::find` (a vectorised search for short
/// needles, not a window by window compare: Word's head is several KiB of style sheet and
/// conditional comments). `from` is always just after ASCII markup.
fn find(html: &str, from: usize, needle: &str) -> Option<usize> {
    html.get(from..)?.find(needle).map(|p| p + from)
}

/// The first `needle` (which starts `</`) at or after `from`, any case: each `</` found by
/// [`find`], the rest compared in place.
fn find_ignore_case(html: &str, from: usize, needle: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let lt = find(html, at, "</")?;
        if html
            .as_bytes()
            .get(lt..lt + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(lt);
        }
        at = lt + 1;
    }
}

/// Whether `rest` (starting at a `<`) opens a tag named `name`: the name, any case, then
/// whitespace, `>` or `/`.
fn tag_named(rest: &[u8], name: &str) -> bool {
    rest.get(1..=name.len())
        .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        && rest
            .get(name.len() + 1)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
}

/// A meeting's time as a `When:` line shows it: `start – end`, `(all day)` after an all-day
/// one's.
fn meeting_time(m: &Meeting) -> String {
    let mut out = [m.start_date_time.as_ref(), m.end_date_time.as_ref()]
        .into_iter()
        .flatten()
        .map(DateTimeTimeZone::shown)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" – ");
    if m.is_all_day == Some(true) && !out.is_empty() {
        out.push_str(" (all day)");
    }
    out
}

/// The document of a message whose version (in its folder) is `version`, under the document
/// id `id` ([`message_doc_id`] of the place's user and the message). The message is taken:
/// its id, folder, thread, link and categories move into the document rather than being
/// copied (a full run builds one document per message).
pub(crate) fn message_document(
    place: &Place<'_>,
    id: String,
    message: Message,
    version: &str,
) -> Document {
    let title = subject(&message);
    let from = message
        .from
        .as_ref()
        .or(message.sender.as_ref())
        .and_then(Recipient::shown);
    let (to, to_text) = joined(&message.to_recipients);
    let (cc, cc_text) = joined(&message.cc_recipients);
    let (bcc, _) = joined(&message.bcc_recipients);
    let date = message.received_date_time.or(message.sent_date_time);
    let date_text = date
        .map(|d| connector_core::time::rfc3339_offset(&d))
        .unwrap_or_default();
    // A meeting message's meeting: when and where (Graph's local times, with their zone).
    let meeting = message.meeting.as_deref();
    let when = meeting.map(meeting_time).unwrap_or_default();
    let place_text = meeting
        .and_then(|m| m.location.as_ref())
        .and_then(|l| l.display_name.as_deref())
        .map(str::trim)
        .unwrap_or_default();
    // The header's lines that have a value, moved to the front (no list made for them).
    let mut fields = [
        ("From:", from.as_deref().unwrap_or_default()),
        ("To:", to_text.as_str()),
        ("Cc:", cc_text.as_str()),
        ("Date:", date_text.as_str()),
        ("When:", when.as_str()),
        ("Where:", place_text),
    ];
    let mut shown = 0;
    for n in 0..fields.len() {
        if !fields[n].1.is_empty() {
            fields.swap(shown, n);
            shown += 1;
        }
    }
    let body = message.body.as_ref();
    let content = body.and_then(|b| b.content.as_deref()).unwrap_or_default();
    let html = body.is_some_and(ItemBody::is_html);
    let body_type = if html { "html" } else { "text" };
    // One buffer for the whole text, sized for the header and a body about as long as its
    // source, written in place (no block tree).
    let mut text = String::with_capacity(256 + title.len() + content.len());
    let mut md = MarkdownOut::new(&mut text);
    md.heading(1, &title);
    if shown > 0 {
        md.labelled_lines(&fields[..shown]);
    }
    if html {
        md.markdown(&html_to_markdown(rendered_part(content)));
    } else {
        md.plain_text(content);
    }
    text.push('\n');

    // What is left of the message moves into the document.
    let Message {
        id: message_id,
        parent_folder_id,
        internet_message_id,
        categories,
        conversation_id,
        web_link,
        importance,
        sent_date_time,
        last_modified_date_time,
        has_attachments,
        is_draft,
        ..
    } = message;
    // The metadata in key order, made into its map at once (a bulk build of sorted entries,
    // not a search and insert per key).
    let mut metadata: Vec<(&'static str, serde_json::Value)> = Vec::with_capacity(24);
    let mut meta = |key: &'static str, value: serde_json::Value| metadata.push((key, value));
    if !bcc.is_empty() {
        meta("bcc", bcc.into());
    }
    meta("body_type", body_type.into());
    if !categories.is_empty() {
        meta("categories", categories.into());
    }
    meta("cc", cc.into());
    if let Some(c) = &conversation_id {
        meta("conversation_id", c.as_str().into());
    }
    if date.is_some() {
        // The header's `Date:`, written once.
        meta("date", date_text.into());
    }
    if is_draft {
        meta("draft", true.into());
    }
    // The text is Markdown whatever the body was; `body_type` says what Graph sent.
    meta("extension", "md".into());
    meta("folder", place.folder.into());
    if let Some(folder) = parent_folder_id {
        meta("folder_id", folder.into());
    }
    if let Some(from) = from {
        meta("from", from.into());
    }
    meta("has_attachments", has_attachments.into());
    if let Some(i) = importance.filter(|i| i != "normal") {
        meta("importance", i.into());
    }
    if let Some(m) = internet_message_id {
        meta("internet_message_id", m.into());
    }
    meta("mailbox", place.owner.into());
    if let Some(m) = meeting {
        if let Some(end) = &m.end_date_time {
            meta("meeting_end", end.shown().into());
        }
        if !place_text.is_empty() {
            meta("meeting_location", place_text.into());
        }
        if let Some(t) = m.meeting_message_type.as_deref().filter(|t| *t != "none") {
            meta("meeting_message_type", t.into());
        }
        if let Some(start) = &m.start_date_time {
            meta("meeting_start", start.shown().into());
        }
    }
    meta("message_id", message_id.into());
    if let Some(d) = sent_date_time {
        meta("sent_at", connector_core::time::rfc3339_offset(&d).into());
    }
    meta("subject", title.as_str().into());
    meta("to", to.into());

    let mut doc = Document::text_with_version(id, SOURCE, title, text, version)
        .with_owners(vec![place.owner.to_owned()])
        .with_access(place.access());
    doc.metadata = metadata
        .into_iter()
        .map(|(k, v)| (MetaKey::new_static(k), v))
        .collect();
    if let Some(c) = conversation_id {
        doc = doc.with_parent_id(c);
    }
    if let Some(t) = last_modified_date_time {
        doc = doc.with_updated_at(t);
    }
    if let Some(link) = web_link {
        doc = doc.with_link(link);
    }
    doc
}

/// The failure of an S/MIME encrypted (or opaque-signed) message's content, `smime.p7m`:
/// PKCS #7 that only a recipient's private key opens. Not downloaded; `Unsupported`, which no
/// later run repairs.
pub(crate) fn encrypted(place: &Place<'_>, message: &Message, attachment: &Attachment) -> Failure {
    let id = attachment_doc_id(&message_doc_id(place.user, &message.id), &attachment.id);
    let failure = Failure::new(
        Some(id),
        ErrorKind::Unsupported,
        format!(
            "message {:?} in {}/{} is S/MIME encrypted or opaque-signed ({:?}): its content opens only with a recipient's private key and is not read",
            subject(message),
            place.owner,
            place.folder,
            attachment.shown_name(),
        ),
    );
    match message.web_link.clone() {
        Some(link) => failure.with_link(link),
        None => failure,
    }
}

/// The failure of an attachment over `max_file_size`, named by its id and name.
pub(crate) fn oversize(
    place: &Place<'_>,
    message: &Message,
    attachment: &Attachment,
    max: u64,
) -> Failure {
    let id = attachment_doc_id(&message_doc_id(place.user, &message.id), &attachment.id);
    let failure = Failure::new(
        Some(id),
        ErrorKind::Unsupported,
        format!(
            "attachment {:?} of message {:?} in {}/{} is {} bytes, larger than max_file_size ({max} bytes); raise max_file_size to read it",
            attachment.shown_name(),
            subject(message),
            place.owner,
            place.folder,
            attachment.size
        ),
    );
    match message.web_link.clone() {
        Some(link) => failure.with_link(link),
        None => failure,
    }
}

/// The document of an attachment's bytes.
pub(crate) fn attachment_document(
    place: &Place<'_>,
    message: &Message,
    attachment: &Attachment,
    data: Vec<u8>,
) -> Document {
    let parent = message_doc_id(place.user, &message.id);
    let id = attachment_doc_id(&parent, &attachment.id);
    let name = attachment.shown_name();
    let mut doc = crate::files::file_document_lenient(id, SOURCE, &name, data)
        .with_size(attachment.size)
        .with_version(&attachment.version_in(place.folder))
        .with_parent_id(parent)
        .with_owners(vec![place.owner.to_owned()])
        .with_access(place.access())
        .with_metadata("mailbox", place.owner.to_owned())
        .with_metadata("folder", place.folder.to_owned())
        .with_metadata("message_id", message.id.clone())
        .with_metadata("attachment_id", attachment.id.clone())
        .with_metadata("subject", subject(message));
    if let Some(mime) = attachment.content_type.as_deref().filter(|m| !m.is_empty()) {
        doc = doc.with_metadata("mime_type", mime.to_owned());
    }
    if let Some(c) = &message.conversation_id {
        doc = doc.with_metadata("conversation_id", c.clone());
    }
    if let Some(t) = attachment
        .last_modified_date_time
        .or(message.last_modified_date_time)
    {
        doc = doc.with_updated_at(t);
    }
    if let Some(link) = message.web_link.clone() {
        doc = doc.with_link(link);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::text::markdown::{self, Block, Inline};

    #[test]
    fn ids_round_trip() {
        let m = message_doc_id("u-1", "AAkALg-_AAA=");
        assert_eq!(m, "outlook:u-1:AAkALg-_AAA=");
        assert_eq!(parse_id(&m), Some(("u-1", "AAkALg-_AAA=")));
        let a = attachment_doc_id(&m, "AAMkAtt=");
        assert_eq!(parse_id(&a), Some(("u-1", "AAkALg-_AAA=")));
        assert_eq!(parse_id("onedrive:b!1:x"), None);
        assert_eq!(parse_id("outlook:nothing"), None);
    }

    /// An Outlook desktop body as Exchange stores it: Word's head, conditional comments.
    const OUTLOOK_HTML: &str = concat!(
        "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head>",
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">",
        "<meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\">",
        "<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}</style><![endif]-->",
        "<style><!-- @font-face {font-family:\"Cambria Math\";} p.MsoNormal {margin:0cm;} ",
        "/* <body> in a style sheet */ --></style>",
        "<!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]-->",
        "<title>x <body> y</title></head>",
        "<body lang=\"EN-US\" link=\"#0563C1\" style=\"word-wrap:break-word\">",
        "<div class=\"WordSection1\"><p class=\"MsoNormal\">Hello <b>team</b>,<o:p></o:p></p>",
        "<!--[if !supportLists]--><p>one</p><!--[endif]-->",
        "<p class=\"MsoNormal\">See the <a href=\"https://contoso.com/r\">report</a>.<o:p></o:p></p>",
        "</div></body></html>",
    );

    #[test]
    fn the_head_of_an_outlook_body_is_cut_before_the_conversion_with_the_same_markdown() {
        let part = rendered_part(OUTLOOK_HTML);
        assert!(part.starts_with("<div class=\"WordSection1\">"), "{part}");
        assert_eq!(html_to_markdown(part), html_to_markdown(OUTLOOK_HTML));
        // Fragments and bodies whose scan cannot finish are kept whole.
        for whole in [
            "<p>a <b>b</b></p>",
            "<html><head><style>p{}</style></head>no body tag",
            "<!-- unclosed <body> comment",
            "<style>never closed <body>",
            "<bodyguard>x</bodyguard>",
        ] {
            assert_eq!(rendered_part(whole), whole);
        }
        assert_eq!(rendered_part("<!--><body>a"), "a");
        assert_eq!(rendered_part("<BODY\n class=x>a</BODY>"), "a</BODY>");
    }

    #[test]
    fn a_text_body_is_kept_as_paragraphs() {
        let message: Message = serde_json::from_value(serde_json::json!({
            "id": "m1", "subject": "  ", "body": {"contentType": "text", "content": "*not* emphasis\n\nline two"},
            "sender": {"emailAddress": {"address": "ada@contoso.com"}}
        }))
        .unwrap_or_default();
        let place = Place {
            user: "u1",
            owner: "bob@contoso.com",
            readers: &[
                "bob@contoso.com".to_owned(),
                "bob@contoso.onmicrosoft.com".to_owned(),
            ],
            folder: "Inbox",
        };
        let version = message.version_in(place.folder);
        let doc = message_document(
            &place,
            message_doc_id(place.user, &message.id),
            message,
            &version,
        );
        assert_eq!(
            doc.content.as_text().unwrap_or_default(),
            markdown::render(
                &[
                    vec![
                        Block::heading(1, vec![Inline::text("(no subject)")]),
                        Block::labelled_lines(&[("From:", "ada@contoso.com")]),
                    ],
                    Block::plain_text("*not* emphasis\n\nline two"),
                ]
                .concat()
            ) + "\n"
        );
        assert_eq!(doc.title, "(no subject)");
        let text = doc.content.as_text().unwrap_or_default();
        assert!(text.contains("\\*not\\* emphasis"), "{text}");
        assert!(text.contains("**From:** ada@contoso.com"), "{text}");
        assert_eq!(doc.metadata["body_type"], "text");
        assert_eq!(
            doc.access.map(|a| a.emails),
            Some(vec![
                "bob@contoso.com".to_owned(),
                "bob@contoso.onmicrosoft.com".to_owned()
            ])
        );
    }
}
