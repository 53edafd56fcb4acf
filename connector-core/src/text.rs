//! Text shared by connectors: one Markdown writer, and HTML → Markdown.
//!
//! - [`markdown`] (always built): the one Markdown writer every converter writes through. A
//!   converter turns its source format (Confluence storage format, Atlassian Document Format,
//!   Jira wiki markup, a mail body) into a small tree of [`markdown::Block`]s and
//!   [`markdown::Inline`]s; the writer owns what Markdown itself demands: escaping of text,
//!   fences, tables, list indentation, block separation.
//! - [`html_to_markdown`] (feature `html`): the HTML that sources hand out (mail bodies,
//!   rich-text fields of REST APIs) as Markdown, keeping headings, lists, links, emphasis and
//!   paragraph breaks.

pub mod markdown;

#[cfg(feature = "html")]
mod html;

#[cfg(feature = "html")]
#[cfg_attr(docsrs, doc(cfg(feature = "html")))]
pub use html::{html_to_markdown, html_to_markdown_into};

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `text` as an error message or a log line shows a value that may be long (a response body,
/// a cursor, a JSON member): its first `max` characters, and a `…` when there were more.
///
/// A cut never falls inside a run of `*`, so a [`REDACTED`](crate::secret::REDACTED) mark is
/// kept whole: redact first ([`redact`](crate::secret::redact)), then clip, and no part of a
/// secret stays on either side of the cut.
///
/// ```
/// use connector_core::text::clip;
/// assert_eq!(clip("short", 8), "short");
/// assert_eq!(clip("a-signed-token", 8), "a-signed…");
/// assert_eq!(clip("ab***cd", 3), "ab***…");
/// ```
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    let Some((mut cut, _)) = text.char_indices().nth(max) else {
        return Cow::Borrowed(text);
    };
    while cut > 0 && text[..cut].ends_with('*') && text[cut..].starts_with('*') {
        cut += 1;
    }
    if cut == text.len() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("{}…", &text[..cut]))
}

/// `2025-03-01 10:05 UTC`: the minute a document shows beside a comment, a post or a reply
/// (chrono's `%Y-%m-%d %H:%M UTC`), appended to `out` without parsing a format string for
/// each of the thousands of comments a run writes.
///
/// ```
/// use connector_core::text::push_utc_minute;
/// let t: chrono::DateTime<chrono::Utc> = "2025-03-01T10:05:59Z".parse().unwrap();
/// let mut out = String::from("Ann, ");
/// push_utc_minute(&mut out, t);
/// assert_eq!(out, "Ann, 2025-03-01 10:05 UTC");
/// assert_eq!(out[5..], t.format("%Y-%m-%d %H:%M UTC").to_string());
/// ```
pub fn push_utc_minute(out: &mut String, t: DateTime<Utc>) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // chrono writes a sign and more digits: its own format, for the odd far date.
        use std::fmt::Write as _;
        let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M UTC"));
        return;
    }
    let digits = |out: &mut String, n: u32, width: u32| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
    };
    digits(out, year.unsigned_abs(), 4);
    out.push('-');
    digits(out, t.month(), 2);
    out.push('-');
    digits(out, t.day(), 2);
    out.push(' ');
    digits(out, t.hour(), 2);
    out.push(':');
    digits(out, t.minute(), 2);
    out.push_str(" UTC");
}

/// [`push_utc_minute`] as a string of its own.
pub fn utc_minute(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(20);
    push_utc_minute(&mut out, t);
    out
}
