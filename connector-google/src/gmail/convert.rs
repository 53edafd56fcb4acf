//! Gmail threads to documents: every message's body from its MIME tree (nested multipart,
//! base64url, charsets through mail-parser's decoders; `text/plain` preferred and kept as
//! text, HTML turned into Markdown otherwise), and the attachments. The thread's document is
//! written by core's Markdown writer.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use connector_core::text::html_to_markdown;
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Access, Document};
use url::Url;

use super::SOURCE;
use super::model::{Message, Part, Thread};

/// base64url with or without padding, as Gmail sends it.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes Gmail's base64url (tolerating the standard alphabet some proxies produce).
pub(crate) fn decode_b64(data: &str) -> Result<Vec<u8>, String> {
    let clean: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    B64URL
        .decode(clean.replace('+', "-").replace('/', "_"))
        .map_err(|e| format!("body is not base64url: {e}"))
}

/// The thread's document id, scoped by mailbox.
pub(crate) fn thread_id(user: &str, thread: &str) -> String {
    format!("gmail:{user}:{thread}")
}

/// An attachment's document id: by message and part (Gmail's attachment ids change between
/// fetches, part ids do not).
pub(crate) fn attachment_id(user: &str, thread: &str, message: &str, part: &str) -> String {
    format!("gmail:{user}:{thread}:{message}:{part}")
}

/// The Gmail web link of a thread.
pub(crate) fn thread_link(user: &str, thread: &str) -> Option<Url> {
    Url::parse(&format!(
        "https://mail.google.com/mail/u/{user}/#all/{thread}"
    ))
    .ok()
}

/// The version token of a thread: its history id changes with every message and label change.
/// `:m` marks documents that carry their mailbox as `access` (earlier ones did not), so a
/// reconciling run delivers that once.
pub(crate) fn version(thread: &str, history_id: Option<&str>) -> String {
    format!("{thread}:{}:m", history_id.unwrap_or(""))
}

/// Who reads a document of `user`'s mailbox: that user.
///
/// The same message delivered to several users of the domain is a document per mailbox
/// (ids are scoped by mailbox, as RAGFlow's and Onyx's are by thread), each readable by its
/// mailbox's owner, rather than one document whose access unites the mailboxes: a thread is
/// not the same thread in two mailboxes (each holds its own messages, labels and drafts), and
/// telling which mailboxes hold a message would cost one search per message and mailbox
/// (`rfc822msgid:`).
fn mailbox_access(user: &str) -> Access {
    Access::restricted(vec![user.trim().to_lowercase()], Vec::new())
}

/// Whether a message is left out: a draft (unsent; only its author reads it, and a reply
/// being written is not part of the conversation) or a chat (Hangouts history kept in Gmail),
/// neither of which RAGFlow's or Onyx's Gmail connectors mean to index as mail.
pub(crate) fn left_out(m: &Message) -> bool {
    m.label_ids.iter().any(|l| l == "DRAFT" || l == "CHAT")
}

fn charset(part: &Part) -> Option<String> {
    let ct = part.header("Content-Type")?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Bytes in `charset` as text (mail-parser's decoders; UTF-8 when unknown).
fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    let decoder = charset
        .filter(|c| !c.eq_ignore_ascii_case("utf-8") && !c.eq_ignore_ascii_case("us-ascii"))
        .and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()));
    match decoder {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The leaves of a MIME tree, sorted into plain text, HTML and attachments.
#[derive(Default)]
struct Leaves<'a> {
    plain: Vec<String>,
    html: Vec<String>,
    attachments: Vec<&'a Part>,
}

fn walk<'a>(part: &'a Part, out: &mut Leaves<'a>) -> Result<(), String> {
    if !part.parts.is_empty() {
        for p in &part.parts {
            walk(p, out)?;
        }
        return Ok(());
    }
    if !part.filename.is_empty() {
        out.attachments.push(part);
        return Ok(());
    }
    let mime = part.mime_type.to_ascii_lowercase();
    if mime != "text/plain" && mime != "text/html" {
        return Ok(());
    }
    let Some(data) = part.body.as_ref().and_then(|b| b.data.as_deref()) else {
        return Ok(());
    };
    let bytes = decode_b64(data)?;
    let text = decode_text(&bytes, charset(part).as_deref());
    if mime == "text/plain" {
        out.plain.push(text);
    } else {
        out.html.push(text);
    }
    Ok(())
}

/// Whether a part with a file name is an inline image of the body rather than an attachment:
/// it has a `Content-ID` and is not marked `attachment`, or an HTML body shows it
/// (`<img src="cid:...">`). Signature logos and pasted screenshots are such parts; as
/// documents of their own they would be junk.
fn is_inline(part: &Part, html: &[String]) -> bool {
    let Some(cid) = part
        .header("Content-ID")
        .or_else(|| part.header("X-Attachment-Id"))
    else {
        return false;
    };
    let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
    if cid.is_empty() {
        return false;
    }
    let disposition = part
        .header("Content-Disposition")
        .unwrap_or_default()
        .trim_start()
        .to_ascii_lowercase();
    let referenced = html.iter().any(|h| h.contains(&format!("cid:{cid}")));
    referenced || !disposition.starts_with("attachment")
}

/// One message as read: headers, body, attachments.
pub(crate) struct Read<'a> {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) cc: String,
    pub(crate) subject: String,
    pub(crate) date: Option<DateTime<Utc>>,
    /// The body: plain text as paragraphs (nothing in it read as Markdown), or the HTML
    /// body's Markdown.
    pub(crate) body: Vec<Block>,
    pub(crate) attachments: Vec<&'a Part>,
}

/// Reads a message from its MIME tree (`payload`) or, for format `raw`, by parsing the
/// RFC 822 text with mail-parser.
pub(crate) fn read_message(m: &Message) -> Result<Read<'_>, String> {
    let date = m
        .internal_date
        .as_deref()
        .and_then(|d| d.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    if let Some(raw) = &m.raw {
        let bytes = decode_b64(raw)?;
        let parsed = mail_parser::MessageParser::default()
            .parse(&bytes)
            .ok_or("the raw message is not RFC 822")?;
        let addrs = |a: Option<&mail_parser::Address<'_>>| {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
        };
        let body = match parsed.body_text(0) {
            Some(t) => Block::plain_text(&t),
            None => parsed
                .body_html(0)
                .map(|h| vec![Block::Markdown(html_to_markdown(&h))])
                .unwrap_or_default(),
        };
        return Ok(Read {
            from: addrs(parsed.from()),
            to: addrs(parsed.to()),
            cc: addrs(parsed.cc()),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            date,
            body,
            attachments: Vec::new(),
        });
    }
    let payload = m
        .payload
        .as_ref()
        .ok_or("the message has neither payload nor raw")?;
    let mut leaves = Leaves::default();
    walk(payload, &mut leaves)?;
    leaves
        .attachments
        .retain(|part| !is_inline(part, &leaves.html));
    let body = if !leaves.plain.is_empty() {
        leaves
            .plain
            .iter()
            .flat_map(|t| Block::plain_text(t))
            .collect()
    } else {
        leaves
            .html
            .iter()
            .map(|h| Block::Markdown(html_to_markdown(h)))
            .collect()
    };
    let h = |n: &str| payload.header(n).unwrap_or_default().to_owned();
    Ok(Read {
        from: h("From"),
        to: h("To"),
        cc: h("Cc"),
        subject: h("Subject"),
        date,
        body,
        attachments: leaves.attachments,
    })
}

/// The thread's document from its read messages (in thread order).
pub(crate) fn thread_document(user: &str, thread: &Thread, read: &[Read<'_>]) -> Document {
    let id = thread_id(user, &thread.id);
    let subject = read
        .iter()
        .map(|r| r.subject.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("(no subject)")
        .to_owned();
    let mut participants: Vec<String> = Vec::new();
    for r in read {
        for list in [&r.from, &r.to, &r.cc] {
            for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if !participants.iter().any(|x| x == p) {
                    participants.push(p.to_owned());
                }
            }
        }
    }
    let first = read.iter().filter_map(|r| r.date).min();
    let last = read.iter().filter_map(|r| r.date).max();
    let mut summary = vec![Inline::Text(format!(
        "Participants: {}",
        participants.join(", ")
    ))];
    if let (Some(f), Some(l)) = (first, last) {
        summary.push(Inline::LineBreak);
        summary.push(Inline::Text(format!(
            "Dates: {} to {}",
            f.to_rfc3339(),
            l.to_rfc3339()
        )));
    }
    let mut blocks = vec![
        Block::heading(1, vec![Inline::text(subject.as_str())]),
        Block::Paragraph(summary),
    ];
    for r in read {
        blocks.push(Block::Rule);
        // One header per line: `**From:** alice@…`.
        let date = r.date.map(|d| d.to_rfc3339()).unwrap_or_default();
        let headers: Vec<(&str, &str)> = [
            ("From:", r.from.as_str()),
            ("To:", r.to.as_str()),
            ("Cc:", r.cc.as_str()),
            ("Date:", date.as_str()),
        ]
        .into_iter()
        .filter(|(name, value)| !value.is_empty() || *name == "From:")
        .collect();
        blocks.push(Block::labelled_lines(&headers));
        blocks.extend(r.body.iter().cloned());
    }
    let text = markdown::render(&blocks) + "\n";
    let labels: Vec<String> = {
        let mut l: Vec<String> = thread
            .messages
            .iter()
            .flat_map(|m| m.label_ids.clone())
            .collect();
        l.sort();
        l.dedup();
        l
    };
    let mut doc = Document::text_with_version(
        id,
        SOURCE,
        subject,
        text,
        &version(&thread.id, thread.history_id.as_deref()),
    )
    .with_owners(vec![user.to_owned()])
    .with_access(mailbox_access(user))
    .with_metadata("user", user.to_owned())
    .with_metadata("thread_id", thread.id.clone())
    .with_metadata("message_count", thread.messages.len())
    .with_metadata("participants", participants)
    .with_metadata("labels", labels);
    if let Some(l) = last {
        doc = doc.with_updated_at(l);
    }
    if let Some(link) = thread_link(user, &thread.id) {
        doc = doc.with_link(link);
    }
    doc
}

/// An attachment's document.
pub(crate) fn attachment_document(
    user: &str,
    thread: &Thread,
    message: &Message,
    part: &Part,
    data: Vec<u8>,
    updated: Option<DateTime<Utc>>,
) -> Document {
    let part_id = part.part_id.as_deref().unwrap_or("0");
    let id = attachment_id(user, &thread.id, &message.id, part_id);
    let ext = part
        .filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8);
    let mime = if part.mime_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        part.mime_type.clone()
    };
    let mut doc = Document::bytes(id.clone(), SOURCE, part.filename.clone(), data, mime, ext)
        .with_version(&format!(
            "{id}:{}:m",
            part.body.as_ref().map_or(0, |b| b.size)
        ))
        .with_parent_id(thread_id(user, &thread.id))
        .with_owners(vec![user.to_owned()])
        .with_access(mailbox_access(user))
        .with_metadata("user", user.to_owned())
        .with_metadata("thread_id", thread.id.clone())
        .with_metadata("message_id", message.id.clone());
    if let Some(u) = updated {
        doc = doc.with_updated_at(u);
    }
    if let Some(link) = thread_link(user, &thread.id) {
        doc = doc.with_link(link);
    }
    doc
}
