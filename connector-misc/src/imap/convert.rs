//! Messages to documents: mail-parser reads the MIME tree (charsets, transfer encodings,
//! nested multiparts); the body is `text/plain` as paragraphs or, for an HTML-only message,
//! the HTML as Markdown through core's converter; each attachment is a document of its own
//! under the size cap. The message's document is written by core's Markdown writer.

use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use connector_core::pages::Outcome;
use connector_core::text::html_to_markdown;
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Access, Document, ErrorKind, Failure};
use mail_parser::{Address, HeaderValue, Message, MessagePart, MimeHeaders, PartType};
use url::Url;

use super::SOURCE;
use super::model::{Listed, PartFacts, attachment_doc_id, is_attachment, normalise_message_id};

/// Where the messages come from: the same for every message of a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// The login, for the `imap://` URL.
    pub(crate) login: &'a str,
    /// The owner's address: access and owners.
    pub(crate) owner: &'a str,
    pub(crate) mailbox: &'a str,
    pub(crate) uid_validity: u32,
    pub(crate) attachment_cap: u64,
    /// The `link` template (`web_link`), none for the `imap://` URL.
    pub(crate) web_link: Option<&'a str>,
    /// The mailbox's `imap://` URL up to the UID (`...;UIDVALIDITY=7/;UID=`), made on first
    /// use: a message's URL is then one parse of it with the UID appended.
    pub(crate) imap_base: OnceLock<Option<String>>,
}

/// What a URL path segment or query value keeps unescaped: RFC 3986 unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What RFC 5092's `enc-mailbox` keeps: unreserved characters and the hierarchy separators a
/// mailbox path has (`/`, and `:`/`@`/`&`/`=` which `bchar` allows).
const ENC_MAILBOX: &percent_encoding::AsciiSet = &COMPONENT
    .remove(b'/')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=');

impl Place<'_> {
    /// The message's RFC 5092 IMAP URL
    /// (`imap://user@host:port/Archive/2025;UIDVALIDITY=7/;UID=3`), which mail clients open;
    /// the mailbox keeps its hierarchy separator `/` (RFC 5092 `enc-mailbox`).
    pub(crate) fn imap_url(&self, uid: u32) -> Option<Url> {
        let base = self
            .imap_base
            .get_or_init(|| {
                let mut url = Url::parse(&format!("imap://{}:{}/", self.host, self.port)).ok()?;
                url.set_username(self.login).ok()?;
                let mailbox = percent_encoding::utf8_percent_encode(self.mailbox, ENC_MAILBOX);
                Some(format!(
                    "{}/{mailbox};UIDVALIDITY={}/;UID=",
                    url.as_str().trim_end_matches('/'),
                    self.uid_validity
                ))
            })
            .as_deref()?;
        let mut text = String::with_capacity(base.len() + 10);
        text.push_str(base);
        let _ = write!(text, "{uid}");
        Url::parse(&text).ok()
    }

    /// The document's link: `web_link` filled in for the message, else its `imap://` URL.
    fn link(&self, uid: u32, message_id: Option<&str>) -> Option<Url> {
        self.web_url(uid, message_id).or_else(|| self.imap_url(uid))
    }

    /// `web_link` filled in for the message; none without a template, or when it needs the
    /// `Message-ID` the message lacks.
    fn web_url(&self, uid: u32, message_id: Option<&str>) -> Option<Url> {
        self.web_link.and_then(|template| {
            let bare = message_id.map(|m| m.trim_start_matches('<').trim_end_matches('>'));
            if template.contains("{message_id}") && bare.is_none() {
                return None;
            }
            let enc = |s: &str| percent_encoding::utf8_percent_encode(s, COMPONENT).to_string();
            let filled = template
                .replace("{message_id}", &enc(bare.unwrap_or_default()))
                .replace("{mailbox}", &enc(self.mailbox))
                .replace("{uid_validity}", &self.uid_validity.to_string())
                .replace("{uid}", &uid.to_string());
            Url::parse(&filled).ok()
        })
    }

    fn access(&self) -> Access {
        Access::restricted(vec![self.owner.trim().to_lowercase()], Vec::new())
    }
}

/// The version token of a message: IMAP messages never change, so mailbox, UIDVALIDITY and
/// UID name one version (a re-delivered or moved copy is fetched again).
pub(crate) fn version(place: &Place<'_>, uid: u32) -> String {
    format!("{}:{}:{uid}", place.mailbox, place.uid_validity)
}

/// The failure of a message that could not be read, named by its id and UID.
pub(crate) fn message_failure(
    place: &Place<'_>,
    listed: &Listed,
    kind: ErrorKind,
    why: &str,
) -> Failure {
    Failure::new(
        Some(listed.id.clone()),
        kind,
        format!(
            "message {} (UID {} of mailbox {:?}): {why}",
            listed.id, listed.uid, place.mailbox
        ),
    )
}

/// The outcomes of one fetched message: its document and its attachments' (or their
/// failures), or the message's failure when it is not a mail message at all.
pub(crate) fn message_outcomes(place: &Place<'_>, listed: &Listed, raw: &[u8]) -> Vec<Outcome> {
    let parser = mail_parser::MessageParser::default();
    let Some(message) = parser
        .parse(raw)
        .filter(|m| !m.root_part().headers.is_empty())
    else {
        return vec![
            message_failure(
                place,
                listed,
                ErrorKind::InvalidData,
                "not an RFC 5322 message (no header field could be read)",
            )
            .into(),
        ];
    };
    let mut leaves = Vec::new();
    walk(&message, 0, "", true, &mut leaves);
    // One source of attachment ids: the server's BODYSTRUCTURE, which prune and the
    // fingerprint skip go by too, so a MIME tree the two parsers read differently (a missing
    // closing boundary, parts without Content-Type, TNEF, a server rewriting the structure)
    // never makes prune delete what the load wrote. A part the server lists that mail-parser
    // does not find is a failure under that id; one only mail-parser sees is left out. A
    // message listed without BODYSTRUCTURE goes by mail-parser alone.
    let attachments: Vec<(String, Option<&MessagePart<'_>>)> = if listed.structured {
        for (section, _, is_attachment) in &leaves {
            if *is_attachment && !listed.attachment_sections.contains(section) {
                tracing::debug!(
                    connector = SOURCE,
                    mailbox = place.mailbox,
                    uid = listed.uid,
                    section = section.as_str(),
                    "an attachment the server's BODYSTRUCTURE does not list: left out"
                );
            }
        }
        listed
            .attachment_sections
            .iter()
            .map(|section| {
                let part = leaves
                    .iter()
                    .find(|(s, _, _)| s == section)
                    .map(|(_, p, _)| *p);
                (section.clone(), part)
            })
            .collect()
    } else {
        leaves
            .into_iter()
            .filter(|(_, _, is_attachment)| *is_attachment)
            .map(|(section, part, _)| (section, Some(part)))
            .collect()
    };
    let mut out = Vec::with_capacity(1 + attachments.len());
    out.push(message_document(place, listed, &message, attachments.len()).into());
    for (section, part) in attachments {
        out.push(match part {
            Some(part) => attachment_outcome(place, listed, &section, part),
            None => {
                let id = attachment_doc_id(&listed.id, &section);
                Failure::new(
                    Some(id.clone()),
                    ErrorKind::InvalidData,
                    format!(
                        "attachment {id} (part {section} of message UID {} of mailbox {:?}): the \
                         server lists the part, but it cannot be found in the message as sent",
                        listed.uid, place.mailbox
                    ),
                )
                .into()
            }
        });
    }
    out
}

/// The leaf parts with their IMAP section numbers, each with whether it is an attachment by
/// the rule [`super::model`] applies to `BODYSTRUCTURE`.
fn walk<'m>(
    message: &'m Message<'m>,
    index: u32,
    prefix: &str,
    root: bool,
    out: &mut Vec<(String, &'m MessagePart<'m>, bool)>,
) {
    let Some(part) = usize::try_from(index)
        .ok()
        .and_then(|i| message.parts.get(i))
    else {
        return;
    };
    if let PartType::Multipart(children) = &part.body {
        for (i, child) in children.iter().enumerate() {
            let section = if prefix.is_empty() {
                (i + 1).to_string()
            } else {
                format!("{prefix}.{}", i + 1)
            };
            walk(message, *child, &section, false, out);
        }
        return;
    }
    let ct = part.content_type();
    let facts = PartFacts {
        ctype: ct.map_or("text", |c| c.ctype()),
        subtype: ct.and_then(|c| c.subtype()).unwrap_or("plain"),
        disposition: part.content_disposition().map(|d| d.ctype()),
        has_name: part.attachment_name().is_some_and(|n| !n.trim().is_empty()),
        has_content_id: part.content_id().is_some_and(|i| !i.trim().is_empty()),
    };
    out.push((
        if root {
            "1".to_owned()
        } else {
            prefix.to_owned()
        },
        part,
        is_attachment(&facts),
    ));
}

/// `Name <address>, ...` of an address header.
fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    let Some(a) = a else {
        return Vec::new();
    };
    a.iter()
        .filter_map(|x| {
            let address = x.address()?;
            Some(match x.name() {
                Some(name) if !name.trim().is_empty() => format!("{} <{address}>", name.trim()),
                _ => address.to_owned(),
            })
        })
        .collect()
}

/// The ids in a `References` or `In-Reply-To` header, normalised.
fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => normalise_message_id(t).into_iter().collect(),
        HeaderValue::TextList(list) => list
            .iter()
            .filter_map(|t| normalise_message_id(t))
            .collect(),
        _ => Vec::new(),
    }
}

/// The body as blocks, appended to `blocks`: every `text/plain` body part as paragraphs
/// (nothing read as Markdown), or, when the message has only HTML, the HTML as Markdown.
fn body_into(message: &Message<'_>, blocks: &mut Vec<Block>) {
    let mut plain = Vec::new();
    let mut html = Vec::new();
    for id in &message.text_body {
        if let Some(part) = message.part(*id) {
            match &part.body {
                PartType::Text(t) => plain.push(t.as_ref()),
                PartType::Html(h) => html.push(h.as_ref()),
                _ => {}
            }
        }
    }
    if plain.is_empty() {
        for id in &message.html_body {
            if let Some(PartType::Html(h)) = message.part(*id).map(|p| &p.body) {
                html.push(h.as_ref());
            }
        }
        html.dedup();
        blocks.extend(html.iter().map(|h| Block::Markdown(html_to_markdown(h))));
    } else {
        blocks.extend(plain.iter().flat_map(|t| Block::plain_text(t)));
    }
}

fn header_date(message: &Message<'_>) -> Option<DateTime<Utc>> {
    message
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0))
}

fn message_document(
    place: &Place<'_>,
    listed: &Listed,
    message: &Message<'_>,
    attachments: usize,
) -> Document {
    let subject = message
        .subject()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("(no subject)")
        .to_owned();
    let from = addresses(message.from());
    let to = addresses(message.to());
    let cc = addresses(message.cc());
    let date = header_date(message);
    let references = id_list(message.references());
    let in_reply_to = id_list(message.in_reply_to()).into_iter().next();
    // The thread's root: the first of References, else the parent, else this message.
    let thread_id = references
        .first()
        .cloned()
        .or_else(|| in_reply_to.clone())
        .or_else(|| listed.message_id.clone());

    let date_text = date.map(|d| d.to_rfc3339());
    let (from_text, to_text, cc_text) = (from.join(", "), to.join(", "), cc.join(", "));
    let fields: Vec<(&str, &str)> = [
        ("From:", from_text.as_str()),
        ("To:", to_text.as_str()),
        ("Cc:", cc_text.as_str()),
        ("Date:", date_text.as_deref().unwrap_or_default()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let mut blocks = Vec::with_capacity(16);
    blocks.push(Block::heading(1, vec![Inline::text(subject.as_str())]));
    if !fields.is_empty() {
        blocks.push(Block::labelled_lines(&fields));
    }
    body_into(message, &mut blocks);
    // One buffer, about the size of the body's text parts (escaping adds a little).
    let body_len: usize = message
        .text_body
        .iter()
        .filter_map(|id| message.part(*id))
        .map(MessagePart::len)
        .sum();
    let mut text = String::with_capacity(body_len + body_len / 16 + 256);
    markdown::render_into(&mut text, &blocks);
    text.push('\n');

    let mut doc = Document::text_with_version(
        listed.id.clone(),
        SOURCE,
        subject.clone(),
        text,
        &version(place, listed.uid),
    )
    .with_owners(vec![place.owner.to_owned()])
    .with_access(place.access())
    .with_metadata("mailbox", place.mailbox.to_owned())
    .with_metadata("uid", listed.uid)
    .with_metadata("uid_validity", place.uid_validity)
    .with_metadata("subject", subject)
    .with_metadata("from", from)
    .with_metadata("to", to)
    .with_metadata("cc", cc)
    .with_metadata("attachment_count", attachments);
    if let Some(m) = &listed.message_id {
        doc = doc.with_metadata("message_id", m.clone());
    }
    if let Some(t) = thread_id {
        doc = doc.with_metadata("thread_id", t);
    }
    if let Some(p) = in_reply_to {
        doc = doc.with_metadata("in_reply_to", p);
    }
    if !references.is_empty() {
        doc = doc.with_metadata("references", references);
    }
    if let Some(d) = date_text {
        doc = doc.with_metadata("date", d);
    }
    if let Some(at) = listed.arrived.or(date) {
        doc = doc.with_updated_at(at);
    }
    if let Some(size) = listed.size {
        doc = doc.with_metadata("size", size);
    }
    // The imap:// URL once per message: metadata, and the link when no web link applies.
    let imap_url = place.imap_url(listed.uid);
    if let Some(url) = &imap_url {
        doc = doc.with_metadata("imap_url", url.to_string());
    }
    if let Some(link) = place
        .web_url(listed.uid, listed.message_id.as_deref())
        .or(imap_url)
    {
        doc = doc.with_link(link);
    }
    doc
}

fn attachment_outcome(
    place: &Place<'_>,
    listed: &Listed,
    section: &str,
    part: &MessagePart<'_>,
) -> Outcome {
    let id = attachment_doc_id(&listed.id, section);
    let is_message = matches!(part.body, PartType::Message(_));
    let name = part
        .attachment_name()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let ext = if is_message { "eml" } else { "bin" };
            format!("attachment-{section}.{ext}")
        });
    let data = part.contents();
    let size = data.len() as u64;
    if size > place.attachment_cap {
        return Failure::new(
            Some(id.clone()),
            ErrorKind::InvalidData,
            format!(
                "attachment {id} ({name:?}, part {section} of message UID {} of mailbox {:?}) is {size} bytes, over `attachment_size_limit` ({})",
                listed.uid, place.mailbox, place.attachment_cap
            ),
        )
        .into();
    }
    let mime = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{sub}", c.ctype()),
            None => c.ctype().to_owned(),
        })
        .map(|m| m.to_ascii_lowercase())
        .filter(|m| m.contains('/') && !m.starts_with("application/octet-stream"))
        .or_else(|| {
            mime_guess::from_path(&name)
                .first()
                .map(|m| m.essence_str().to_owned())
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8);
    let mut doc = Document::bytes(id, SOURCE, name, data.to_vec(), mime, ext)
        .with_version(&version(place, listed.uid))
        .with_parent_id(listed.id.clone())
        .with_owners(vec![place.owner.to_owned()])
        .with_access(place.access())
        .with_metadata("mailbox", place.mailbox.to_owned())
        .with_metadata("uid", listed.uid)
        .with_metadata("section", section.to_owned());
    if let Some(m) = &listed.message_id {
        doc = doc.with_metadata("message_id", m.clone());
    }
    if let Some(at) = listed.arrived {
        doc = doc.with_updated_at(at);
    }
    if let Some(link) = place.link(listed.uid, listed.message_id.as_deref()) {
        doc = doc.with_link(link);
    }
    doc.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(mailbox: &'a str, web_link: Option<&'a str>) -> Place<'a> {
        Place {
            host: "imap.example.com",
            port: 993,
            login: "me@example.com",
            owner: "me@example.com",
            mailbox,
            uid_validity: 7,
            attachment_cap: 1,
            web_link,
            imap_base: OnceLock::new(),
        }
    }

    #[test]
    fn imap_urls_keep_the_hierarchy_separator() {
        let url = place("Archive/2025 Q1", None).imap_url(3).expect("url");
        assert_eq!(
            url.as_str(),
            "imap://me%40example.com@imap.example.com:993/Archive/2025%20Q1;UIDVALIDITY=7/;UID=3"
        );
        let url = place("Entwürfe", None).imap_url(3).expect("url");
        assert!(
            url.as_str().contains("/Entw%C3%BCrfe;UIDVALIDITY=7/"),
            "{url}"
        );
    }

    #[test]
    fn web_links_fill_the_template_or_fall_back() {
        let gmail = "https://mail.google.com/mail/u/0/#search/rfc822msgid%3A{message_id}";
        let p = place("INBOX", Some(gmail));
        assert_eq!(
            p.link(3, Some("<a+b@mail.example.com>"))
                .expect("link")
                .as_str(),
            "https://mail.google.com/mail/u/0/#search/rfc822msgid%3Aa%2Bb%40mail.example.com"
        );
        // No Message-ID for the template: the imap:// URL.
        assert_eq!(p.link(3, None).expect("link").scheme(), "imap");
        let webmail = place(
            "Archive/2025",
            Some("https://mail.example.com/?_mbox={mailbox}&_uid={uid}"),
        );
        assert_eq!(
            webmail.link(9, None).expect("link").as_str(),
            "https://mail.example.com/?_mbox=Archive%2F2025&_uid=9"
        );
    }

    #[test]
    fn gmail_links_by_default_for_gmail_only() {
        use super::super::config::ImapConfig;
        let gmail = ImapConfig::new("imap.gmail.com", "me@gmail.com", "pw".into());
        assert!(
            gmail
                .web_link_template()
                .is_some_and(|t| t.starts_with("https://mail.google.com/"))
        );
        let other = ImapConfig::new("imap.example.com", "me@example.com", "pw".into());
        assert_eq!(other.web_link_template(), None);
    }
}
