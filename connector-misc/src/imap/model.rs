//! What a listing `UID FETCH` tells of a message before its body is read, document ids, and
//! which MIME parts are attachments (one rule for `BODYSTRUCTURE` and for parsed messages).

use async_imap::imap_proto::{AttributeValue, BodyStructure};
use chrono::{DateTime, Utc};

/// The items of a listing fetch: enough for ids, windows, size caps and attachment ids.
pub(crate) const LISTING_ITEMS: &str = "(UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)";

/// The items of a listing fetch of a single message whose `BODYSTRUCTURE` the server cannot
/// send (or sends malformed): its attachment ids then come from the parsed body only.
pub(crate) const LEAN_LISTING_ITEMS: &str = "(UID RFC822.SIZE INTERNALDATE ENVELOPE)";

/// The items of a body fetch (`PEEK`: reading sets no `\Seen`).
pub(crate) const BODY_ITEMS: &str = "(UID BODY.PEEK[])";

/// The listing items and the body in one fetch, for a run whose fingerprint lookup remembers
/// nothing (every body is read anyway): one round trip per page instead of two, and the same
/// `ENVELOPE` and `BODYSTRUCTURE` the listing goes by, so ids and attachment ids do not depend
/// on which path read a message.
///
/// `ENVELOPE` stays although the body holds the `Message-ID` header too: its `message-id` is
/// the server's reading of the header, and servers read it differently (dovecot gives the raw
/// value of the *last* `Message-ID` field; others the first, or a cleaned value), so an id
/// taken from the body could differ from the one prune's listing and incremental runs take
/// from `ENVELOPE`, and the document would be deleted and written again. On dovecot it costs
/// about a sixth of the fetch's time (measured with the bench's 4 KiB messages).
pub(crate) const FOLDED_ITEMS: &str =
    "(UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[])";

/// One message as listed.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) uid: u32,
    pub(crate) size: Option<u64>,
    /// `INTERNALDATE`: when the message arrived in the mailbox.
    pub(crate) arrived: Option<DateTime<Utc>>,
    /// The message's document id.
    pub(crate) id: String,
    /// `Message-ID`, normalised (`<a@b>`), when it has one.
    pub(crate) message_id: Option<String>,
    /// Attachment parts by IMAP section number (`2`, `1.3`), as `BODYSTRUCTURE` shows them.
    pub(crate) attachment_sections: Vec<String>,
    /// Whether the listing had `BODYSTRUCTURE`: then `attachment_sections` is what the load
    /// and prune both go by; else (a lean listing) the parsed message's parts.
    pub(crate) structured: bool,
}

impl Listed {
    /// The message of a listing fetch response in `mailbox` (of UIDVALIDITY `validity`).
    pub(crate) fn from_fetch(
        mailbox: &str,
        validity: u32,
        attrs: &[AttributeValue<'_>],
    ) -> Option<Self> {
        let mut uid = None;
        let mut size = None;
        let mut arrived = None;
        let mut message_id = None;
        let mut attachment_sections = Vec::new();
        let mut structured = false;
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => uid = Some(*u),
                AttributeValue::Rfc822Size(n) => size = Some(u64::from(*n)),
                AttributeValue::InternalDate(d) => arrived = internal_date(d),
                AttributeValue::Envelope(e) => {
                    message_id = e
                        .message_id
                        .as_deref()
                        .and_then(|raw| normalise_message_id(&String::from_utf8_lossy(raw)));
                }
                AttributeValue::BodyStructure(structure) => {
                    structured = true;
                    structure_attachments(structure, "", true, &mut attachment_sections);
                }
                _ => {}
            }
        }
        let uid = uid?;
        let id = message_doc_id(mailbox, validity, uid, message_id.as_deref());
        Some(Self {
            uid,
            size,
            arrived,
            id,
            message_id,
            attachment_sections,
            structured,
        })
    }

    /// Gives it the id of a second message with the same `Message-ID` in its mailbox
    /// ([`duplicate_doc_id`]).
    pub(crate) fn make_duplicate(&mut self, mailbox: &str, validity: u32) {
        if let Some(m) = &self.message_id {
            self.id = duplicate_doc_id(mailbox, validity, self.uid, m);
        }
    }

    /// The ids of its attachment documents.
    pub(crate) fn attachment_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.attachment_sections
            .iter()
            .map(|s| attachment_doc_id(&self.id, s))
    }
}

/// An `INTERNALDATE` (`05-Mar-2025 14:03:09 +0100`). The form servers send, a two-digit day
/// and an English month, is read by hand; any other (a space-padded day, say) goes through
/// chrono's parser, which reads it the same way, only slower.
pub(crate) fn internal_date(d: &str) -> Option<DateTime<Utc>> {
    internal_date_fixed(d).or_else(|| {
        DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
            .ok()
            .map(|d| d.with_timezone(&Utc))
    })
}

/// [`internal_date`] of exactly `dd-Mon-yyyy hh:mm:ss +hhmm`; `None` for anything else.
fn internal_date_fixed(d: &str) -> Option<DateTime<Utc>> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = d.as_bytes();
    if b.len() != 26 || b[2] != b'-' || b[6] != b'-' || b[11] != b' ' || b[14] != b':' {
        return None;
    }
    if b[17] != b':' || b[20] != b' ' || !matches!(b[21], b'+' | b'-') {
        return None;
    }
    let num = |at: usize, len: usize| -> Option<u32> {
        b[at..at + len].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let month = MONTHS.iter().position(|m| m[..] == b[3..6])?;
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(num(7, 4)?).ok()?,
        u32::try_from(month + 1).ok()?,
        num(0, 2)?,
    )?;
    let time = date.and_hms_opt(num(12, 2)?, num(15, 2)?, num(18, 2)?)?;
    let (zh, zm) = (num(22, 2)?, num(24, 2)?);
    if zm > 59 {
        return None;
    }
    let offset = i32::try_from(zh * 3600 + zm * 60).ok()?;
    let offset = if b[21] == b'-' { -offset } else { offset };
    let zone = chrono::FixedOffset::east_opt(offset)?;
    Some(time.and_local_timezone(zone).single()?.with_timezone(&Utc))
}

/// `Message-ID` as `<local@domain>`: trimmed, folded whitespace and comments' spaces removed,
/// angle brackets added when missing; `None` when nothing is left.
pub(crate) fn normalise_message_id(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let bare = compact.trim_start_matches('<').trim_end_matches('>');
    (!bare.is_empty()).then(|| format!("<{bare}>"))
}

/// A message's document id: `{mailbox}:{Message-ID}` (the same message in two mailboxes is
/// two documents, each with the mailbox's access), or, for a message without one,
/// `{mailbox}:uid:{hash}` over mailbox, UIDVALIDITY and UID, stable as long as the mailbox
/// keeps its UIDs.
///
/// ```
/// use connector_misc::imap::message_doc_id;
/// assert_eq!(message_doc_id("INBOX", 7, 3, Some("<a@example.com>")), "INBOX:<a@example.com>");
/// assert!(message_doc_id("INBOX", 7, 3, None).starts_with("INBOX:uid:"));
/// ```
pub fn message_doc_id(
    mailbox: &str,
    uid_validity: u32,
    uid: u32,
    message_id: Option<&str>,
) -> String {
    match message_id {
        Some(m) => format!("{mailbox}:{m}"),
        None => format!(
            "{mailbox}:uid:{}",
            connector_core::ids::hash128_concat(&[
                mailbox,
                &uid_validity.to_string(),
                &uid.to_string()
            ])
        ),
    }
}

/// The id of a message whose `Message-ID` a message with a lower UID in the same mailbox
/// already has (a list copy and a direct copy, a resent mail, a mailer that reuses ids):
/// `{mailbox}:{Message-ID}:uid:{hash of mailbox, UIDVALIDITY, UID}`, so neither overwrites
/// the other and each keeps its id on every run while the mailbox keeps its UIDs.
pub(crate) fn duplicate_doc_id(
    mailbox: &str,
    uid_validity: u32,
    uid: u32,
    message_id: &str,
) -> String {
    format!(
        "{mailbox}:{message_id}:uid:{}",
        connector_core::ids::hash128_concat(&[
            mailbox,
            &uid_validity.to_string(),
            &uid.to_string()
        ])
    )
}

/// The UID and the whole message of a body fetch response (none for `BODY[] NIL`).
pub(crate) fn body_of(attrs: &[AttributeValue<'_>]) -> Option<(u32, Vec<u8>)> {
    let uid = attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    })?;
    let body = attrs.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: None,
            data: Some(d),
            ..
        } => Some(d.to_vec()),
        _ => None,
    })?;
    Some((uid, body))
}

/// An attachment's document id: its message's id and its IMAP section number.
pub(crate) fn attachment_doc_id(message: &str, section: &str) -> String {
    format!("{message}/{section}")
}

/// What decides whether a MIME part is an attachment.
pub(crate) struct PartFacts<'a> {
    pub(crate) ctype: &'a str,
    pub(crate) subtype: &'a str,
    pub(crate) disposition: Option<&'a str>,
    pub(crate) has_name: bool,
    pub(crate) has_content_id: bool,
}

/// Whether a leaf part is an attachment document: a forwarded message, a part marked
/// `attachment`, or a named part that is no inline image of the body (no `Content-ID`).
/// Unnamed text is the body; an inline image with a `Content-ID` belongs to the HTML body.
pub(crate) fn is_attachment(p: &PartFacts<'_>) -> bool {
    if p.ctype.eq_ignore_ascii_case("multipart") {
        return false;
    }
    if p.ctype.eq_ignore_ascii_case("message") && p.subtype.eq_ignore_ascii_case("rfc822") {
        return true;
    }
    match p.disposition {
        Some(d) if d.eq_ignore_ascii_case("attachment") => true,
        _ => p.has_name && !p.has_content_id,
    }
}

/// Whether a parameter list names a file (`filename`, `name`, RFC 2231 `filename*`...).
fn names_file(
    params: &Option<Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)>>,
) -> bool {
    params.as_ref().is_some_and(|ps| {
        ps.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            (k.starts_with("filename") || k.starts_with("name")) && !v.trim().is_empty()
        })
    })
}

/// The attachment sections of a `BODYSTRUCTURE`, numbered as IMAP numbers parts.
fn structure_attachments(s: &BodyStructure<'_>, prefix: &str, root: bool, out: &mut Vec<String>) {
    let section = |n: usize| {
        if prefix.is_empty() {
            n.to_string()
        } else {
            format!("{prefix}.{n}")
        }
    };
    match s {
        BodyStructure::Multipart { bodies, .. } => {
            for (i, body) in bodies.iter().enumerate() {
                structure_attachments(body, &section(i + 1), false, out);
            }
        }
        BodyStructure::Basic { common, other, .. }
        | BodyStructure::Text { common, other, .. }
        | BodyStructure::Message { common, other, .. } => {
            let facts = PartFacts {
                ctype: &common.ty.ty,
                subtype: &common.ty.subtype,
                disposition: common.disposition.as_ref().map(|d| d.ty.as_ref()),
                has_name: names_file(&common.ty.params)
                    || common
                        .disposition
                        .as_ref()
                        .is_some_and(|d| names_file(&d.params)),
                has_content_id: other.id.as_deref().is_some_and(|i| !i.trim().is_empty()),
            };
            if is_attachment(&facts) {
                // A single-part message's body is its part 1.
                out.push(if root {
                    "1".to_owned()
                } else {
                    prefix.to_owned()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_normalised() {
        assert_eq!(normalise_message_id(" <a@b> ").as_deref(), Some("<a@b>"));
        assert_eq!(normalise_message_id("a@b").as_deref(), Some("<a@b>"));
        assert_eq!(normalise_message_id("<a@\r\n b>").as_deref(), Some("<a@b>"));
        assert_eq!(normalise_message_id(" <> "), None);
    }

    #[test]
    fn internal_dates_read_by_hand_as_chrono_reads_them() {
        let chrono_reads = |d: &str| {
            DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
                .ok()
                .map(|d| d.with_timezone(&Utc))
        };
        for d in [
            "05-Mar-2025 14:03:09 +0100",
            "31-Dec-1999 23:59:59 -0830",
            "29-Feb-2024 00:00:00 +0000",
            "01-Jan-2026 12:30:00 +1400",
            "17-Jul-1996 02:44:25 -0700",
        ] {
            assert!(internal_date_fixed(d).is_some(), "{d}");
            assert_eq!(internal_date_fixed(d), chrono_reads(d), "{d}");
        }
        // Not the fixed form: left to chrono, which reads what it can.
        for d in [
            " 5-Mar-2025 14:03:09 +0100",
            "05-mar-2025 14:03:09 +0100",
            "30-Feb-2025 14:03:09 +0100",
            "05-Mar-2025 24:03:09 +0100",
            "05-Mar-2025 14:03:09 +0160",
            "05-Mar-2025 14:03:09",
            "",
        ] {
            assert_eq!(internal_date_fixed(d), None, "{d}");
            assert_eq!(internal_date(d), chrono_reads(d), "{d}");
        }
    }

    #[test]
    fn fallback_ids_are_stable_and_distinct() {
        let a = message_doc_id("INBOX", 1, 2, None);
        assert_eq!(a, message_doc_id("INBOX", 1, 2, None));
        assert_ne!(a, message_doc_id("INBOX", 2, 2, None));
        assert_ne!(a, message_doc_id("Archive", 1, 2, None));
    }

    #[test]
    fn attachment_rule() {
        let part = |ctype, disposition, has_name, has_content_id| PartFacts {
            ctype,
            subtype: "x",
            disposition,
            has_name,
            has_content_id,
        };
        assert!(is_attachment(&part(
            "application",
            Some("attachment"),
            false,
            false
        )));
        assert!(is_attachment(&part("application", None, true, false)));
        assert!(!is_attachment(&part("image", Some("inline"), true, true)));
        assert!(!is_attachment(&part("text", None, false, false)));
        assert!(!is_attachment(&part(
            "multipart",
            Some("attachment"),
            true,
            false
        )));
    }
}
