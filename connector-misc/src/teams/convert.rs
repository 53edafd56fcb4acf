//! A thread (a root message and its replies) as one Markdown document.
//!
//! Teams' HTML bodies go through core's HTML → Markdown after the Teams-only tags are
//! rewritten: a mention (`<at id="0">Jane Smith</at>`) becomes `@Jane Smith`, an emoji its
//! character, an inline image held by Teams (`…/hostedContents/{id}/$value`, readable with
//! the app's token only) a link named `image`, and the `<attachment id>` placeholder nothing
//! (the attachment is named and linked under its message).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Access, Document};

use super::SOURCE;
use super::model::{Attachment, ChatMessage};

/// A channel as the documents of its threads need it.
#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    pub(crate) team_id: String,
    pub(crate) team_name: String,
    pub(crate) channel_id: String,
    pub(crate) channel_name: String,
    /// `standard`, `private` or `shared`.
    pub(crate) membership: String,
    /// Who may read it; `None` without `include_permissions`.
    pub(crate) access: Option<Access>,
    /// Member user id → e-mail address, to name authors as owners.
    pub(crate) emails: Arc<HashMap<String, String>>,
}

impl ChannelInfo {
    /// A hash of who may read the channel, part of every version token.
    pub(crate) fn access_hash(&self) -> String {
        self.access.as_ref().map_or_else(String::new, |a| {
            connector_core::ids::hash128(&format!(
                "{}|{}|{}",
                a.emails.join(","),
                a.groups.join(","),
                a.public
            ))
        })
    }

    /// The channel's document id, every thread's `parent_id`.
    pub(crate) fn id(&self) -> String {
        format!("{}__{}", self.team_id, self.channel_id)
    }
}

/// RAGFlow's document id of a thread: `{team}__{channel}__{root message}` (a message id is
/// unique only within its channel).
pub(crate) fn thread_id(team: &str, channel: &str, root: &str) -> String {
    format!("{team}__{channel}__{root}")
}

/// The version token of a thread as listed: every message's id, `etag` and times (an edit,
/// a new or deleted reply move it) and the channel's access.
pub(crate) fn thread_version(
    channel: &ChannelInfo,
    root: &ChatMessage,
    replies: &[ChatMessage],
) -> String {
    let mut token = String::new();
    for m in std::iter::once(root).chain(replies) {
        let _ = write!(
            token,
            "{}:{}:{}:{};",
            m.id,
            m.etag.as_deref().unwrap_or_default(),
            m.last_modified_date_time
                .map(|t| t.timestamp_millis())
                .unwrap_or_default(),
            m.deleted_date_time
                .map(|t| t.timestamp_millis())
                .unwrap_or_default(),
        );
    }
    format!(
        "{}|{}",
        connector_core::ids::hash128(&token),
        channel.access_hash()
    )
}

/// The latest time of a thread: of any of its messages (deleted and system ones included),
/// created, modified or deleted.
pub(crate) fn thread_latest(root: &ChatMessage, replies: &[ChatMessage]) -> Option<DateTime<Utc>> {
    std::iter::once(root)
        .chain(replies)
        .filter_map(ChatMessage::latest)
        .max()
}

/// Every time of a thread (each message's creation, modification and deletion): a window
/// takes the thread when one of them is in it.
pub(crate) fn thread_times(root: &ChatMessage, replies: &[ChatMessage]) -> Vec<DateTime<Utc>> {
    std::iter::once(root)
        .chain(replies)
        .flat_map(|m| {
            [
                m.created_date_time,
                m.last_modified_date_time,
                m.deleted_date_time,
            ]
        })
        .flatten()
        .collect()
}

/// A thread as one document: the root (unless deleted) and its replies oldest first, each
/// under its author and time; `None` when nothing of it is left to show (a deleted root
/// without live replies, a system event).
pub(crate) fn thread_document(
    channel: &ChannelInfo,
    root: &ChatMessage,
    replies: &[ChatMessage],
    version: &str,
) -> Option<Document> {
    let mut replies: Vec<&ChatMessage> = replies.iter().collect();
    replies.sort_by(|a, b| {
        (a.created_date_time, a.id.as_str()).cmp(&(b.created_date_time, b.id.as_str()))
    });
    let shown: Vec<&ChatMessage> = std::iter::once(root)
        .chain(replies.iter().copied())
        .filter(|m| m.is_shown())
        .collect();
    let first = *shown.first()?;
    if !root.is_message() {
        return None;
    }
    let subject = root
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !root.is_deleted());

    let mut parts: Vec<String> = Vec::new();
    if let Some(subject) = subject {
        parts.push(markdown::render(&[Block::heading(
            2,
            vec![Inline::text(subject)],
        )]));
    }
    if root.is_deleted() {
        parts.push(markdown::render(&[Block::paragraph(vec![
            Inline::emphasis(vec![Inline::text(
                "The first message of this thread was deleted.",
            )]),
        ])]));
    }
    // The first shown message's body also gives the title: converted once.
    let mut first_body = String::new();
    for (n, m) in shown.iter().enumerate() {
        let body = body_markdown(m);
        parts.push(message_markdown(m, &body));
        if n == 0 {
            first_body = body;
        }
    }
    let text = parts.join("\n\n");

    let first_text = plain_snippet(&first_body, 60);
    let title = match subject {
        Some(s) => s.to_owned(),
        None if first_text.is_empty() => {
            format!("{}: message from {}", channel.channel_name, first.author())
        }
        None => format!("{}: {first_text}", channel.channel_name),
    };
    let id = thread_id(&channel.team_id, &channel.channel_id, &root.id);
    let author = first.author();
    let owner = first
        .author_id()
        .and_then(|u| channel.emails.get(u).cloned())
        .unwrap_or_else(|| author.clone());
    let mut doc = Document::text_with_version(id, SOURCE, title, text, version)
        .with_parent_id(channel.id())
        .with_owners(vec![owner])
        .with_metadata("team", channel.team_name.clone())
        .with_metadata("team_id", channel.team_id.clone())
        .with_metadata("channel", channel.channel_name.clone())
        .with_metadata("channel_id", channel.channel_id.clone())
        .with_metadata("channel_type", channel.membership.clone())
        .with_metadata("message_id", root.id.clone())
        .with_metadata(
            "replies",
            shown.len().saturating_sub(usize::from(!root.is_deleted())),
        )
        .with_metadata("author", author);
    let latest = std::iter::once(root)
        .chain(replies.iter().copied())
        .filter_map(ChatMessage::latest)
        .max();
    if let Some(t) = latest {
        doc = doc.with_updated_at(t);
    }
    if let Some(t) = root.created_date_time {
        doc = doc.with_metadata("created_at", connector_core::time::rfc3339_secs(&t));
    }
    if let Some(s) = subject {
        doc = doc.with_metadata("subject", s.to_owned());
    }
    let mut mentioned: Vec<String> = Vec::new();
    for name in shown
        .iter()
        .flat_map(|m| &m.mentions)
        .filter_map(|m| m.mention_text.as_deref())
    {
        if !mentioned.iter().any(|n| n == name) {
            mentioned.push(name.to_owned());
        }
    }
    if !mentioned.is_empty() {
        doc = doc.with_metadata("mentions", mentioned);
    }
    if let Some(i) = root.importance.as_deref().filter(|i| *i != "normal") {
        doc = doc.with_metadata("importance", i.to_owned());
    }
    if let Some(link) = root.web_url.clone() {
        doc = doc.with_link(link);
    }
    if let Some(access) = channel.access.clone() {
        doc = doc.with_access(access);
    }
    Some(doc)
}

/// One message: its author and time, its `body` (its [`body_markdown`]), the files attached
/// to it.
fn message_markdown(m: &ChatMessage, body: &str) -> String {
    let when = m
        .created_date_time
        .map(|t| connector_core::time::rfc3339_secs(&t))
        .unwrap_or_default();
    let mut head = vec![
        Inline::strong(vec![Inline::text(m.author())]),
        Inline::text(format!(" · {when}")),
    ];
    if m.last_edited_date_time.is_some() {
        head.push(Inline::text(" (edited)"));
    }
    let mut out = markdown::render(&[Block::paragraph(head)]);
    if !body.is_empty() {
        out.push_str("\n\n");
        out.push_str(body);
    }
    let files: Vec<Block> = m
        .attachments
        .iter()
        .flat_map(|a| attachment_block(a).into_iter().chain(card_blocks(a)))
        .collect();
    if !files.is_empty() {
        out.push_str("\n\n");
        out.push_str(&markdown::render(&files));
    }
    out
}

/// A file or card attached to a message, by name and link; a quoted message
/// (`messageReference`) is in the body already.
fn attachment_block(a: &Attachment) -> Option<Block> {
    let kind = a.content_type.as_deref().unwrap_or_default();
    if kind == "messageReference" {
        return None;
    }
    let name = a
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| a.content_url.clone())?;
    let label = if kind.starts_with("application/vnd.microsoft.card") {
        "Card: "
    } else {
        "Attached: "
    };
    let inline = match a.content_url.as_deref().filter(|u| u.starts_with("http")) {
        Some(url) => Inline::link(vec![Inline::text(name)], url.to_owned()),
        None => Inline::text(name),
    };
    Some(Block::paragraph(vec![Inline::text(label), inline]))
}

/// Most text taken out of one card: a bot's card far past this is rare, and it stays bounded.
const CARD_TEXT_MAX: usize = 32 * 1024;

/// The text of a card attached to a message (an adaptive card, a hero or thumbnail card, an
/// Office 365 connector card): a bot or a workflow often posts its whole message as one, with
/// an empty body. Its titles and texts as paragraphs, in the card's order; a fact as
/// `name: value`. Nothing for a file, or a card whose `content` is not JSON.
fn card_blocks(a: &Attachment) -> Vec<Block> {
    let kind = a.content_type.as_deref().unwrap_or_default();
    if !kind.starts_with("application/vnd.microsoft.card")
        && !kind.starts_with("application/vnd.microsoft.teams.card")
    {
        return Vec::new();
    }
    let Some(card) = a
        .content
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    else {
        return Vec::new();
    };
    let mut lines: Vec<String> = Vec::new();
    let mut size = 0;
    card_text(&card, &mut lines, &mut size, 0);
    lines
        .into_iter()
        .map(|l| Block::paragraph(vec![Inline::text(l)]))
        .collect()
}

/// The texts of a card's JSON (see [`card_blocks`]), depth first in the card's order.
fn card_text(value: &serde_json::Value, out: &mut Vec<String>, size: &mut usize, depth: u32) {
    use serde_json::Value;
    // The keys whose string value people read, in every card kind Teams shows.
    const TEXT_KEYS: [&str; 8] = [
        "title",
        "subtitle",
        "text",
        "summary",
        "activityTitle",
        "activitySubtitle",
        "activityText",
        "fallbackText",
    ];
    if depth > 32 || *size > CARD_TEXT_MAX {
        return;
    }
    fn push(s: &str, out: &mut Vec<String>, size: &mut usize) {
        let s = s.trim();
        if !s.is_empty() && *size <= CARD_TEXT_MAX {
            *size += s.len();
            out.push(s.to_owned());
        }
    }
    match value {
        Value::Array(items) => {
            for v in items {
                card_text(v, out, size, depth + 1);
            }
        }
        Value::Object(map) => {
            // A fact (adaptive `FactSet`: title/value; connector card: name/value).
            if let Some(Value::String(v)) = map.get("value") {
                let name = map.get("title").or_else(|| map.get("name"));
                if let Some(Value::String(n)) = name {
                    push(&format!("{}: {v}", n.trim()), out, size);
                    return;
                }
            }
            let fallback = map.contains_key("body") || map.contains_key("sections");
            for (key, v) in map {
                match v {
                    Value::String(s) if TEXT_KEYS.contains(&key.as_str()) => {
                        // A card's fallback text repeats what its body says.
                        if key == "fallbackText" && fallback {
                            continue;
                        }
                        push(s, out, size);
                    }
                    Value::Array(_) | Value::Object(_) => card_text(v, out, size, depth + 1),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A message's body as Markdown: HTML through core's converter (Teams' tags rewritten
/// first), text escaped as text.
pub(crate) fn body_markdown(m: &ChatMessage) -> String {
    let Some(body) = m.body.as_ref() else {
        return String::new();
    };
    let content = body.content.as_deref().unwrap_or_default();
    if body.is_html() {
        let html = rewrite_teams_tags(content);
        let html = divs_as_paragraphs(&html).unwrap_or(html);
        connector_core::text::html_to_markdown(&html)
            .trim()
            .to_owned()
    } else {
        markdown::render(&Block::plain_text(content.trim()))
    }
}

/// Teams' own tags as HTML the converter understands (see the module docs).
pub(crate) fn rewrite_teams_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find('>') else {
            out.push_str(tail);
            return out;
        };
        let tag = &tail[..=end];
        rest = &tail[end + 1..];
        // The tag's name as written (ASCII letters, digits and `/`), compared without case
        // and without a copy: a body has a dozen tags or more.
        let len = tag.as_bytes()[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'/')
            .count();
        let name = &tag[1..=len];
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("at") {
            out.push('@');
        } else if is("emoji") {
            out.push_str(&attribute(tag, "alt").unwrap_or_default());
        } else if is("img") {
            let src = attribute(tag, "src").unwrap_or_default();
            let emoji = attribute(tag, "itemtype").is_some_and(|t| t.contains("Emoji"));
            if emoji {
                out.push_str(&attribute(tag, "alt").unwrap_or_default());
            } else if src.contains("/hostedContents/") {
                let _ = write!(out, "<a href=\"{src}\">image</a>");
            } else {
                out.push_str(tag);
            }
        } else if ![
            "/at",
            "attachment",
            "/attachment",
            "/emoji",
            "systemeventmessage",
            "span",
            "/span",
        ]
        .into_iter()
        .any(is)
        {
            // Any other tag is kept; those named are dropped.
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    out
}

/// `html` with each run of inline content between `div` boundaries as a paragraph (what the
/// converter makes of `div`s, in the shape its fast path takes); `None` for a body with any
/// tag but `div`, `p`, `br`, `b`, `strong`, `i`, `em` and `a`, or a paragraph in a paragraph.
fn divs_as_paragraphs(html: &str) -> Option<String> {
    const SIMPLE: [&str; 8] = ["div", "p", "br", "b", "strong", "i", "em", "a"];
    let mut out = String::with_capacity(html.len() + 16);
    let mut rest = html;
    // A paragraph this function opened; inside a paragraph of the body's own.
    let (mut auto, mut real) = (false, false);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = rest.find('>')?;
            let tag = &rest[..=end];
            let closing = after.starts_with('/');
            // The name's leading letters and digits, matched without case and without a copy.
            let bare = after.trim_start_matches('/');
            let len = bare.bytes().take_while(u8::is_ascii_alphanumeric).count();
            let name = &bare[..len];
            let simple = SIMPLE.into_iter().find(|s| name.eq_ignore_ascii_case(s))?;
            match (simple, closing) {
                ("div", _) => {
                    if auto {
                        close(&mut out);
                        auto = false;
                    }
                }
                ("p", false) => {
                    if real {
                        return None;
                    }
                    if auto {
                        close(&mut out);
                        auto = false;
                    }
                    real = true;
                    out.push_str(tag);
                }
                ("p", true) => {
                    real = false;
                    out.push_str(tag);
                }
                _ => {
                    if !real && !auto {
                        out.push_str("<p>");
                        auto = true;
                    }
                    out.push_str(tag);
                }
            }
            rest = &rest[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            if !real && !auto && !text.trim().is_empty() {
                out.push_str("<p>");
                auto = true;
                out.push_str(text.trim_start_matches(|c: char| c.is_ascii_whitespace()));
            } else if real || auto {
                // Whitespace between blocks leaves no trace in the converter's output either.
                out.push_str(text);
            }
            rest = &rest[end..];
        }
    }
    if auto {
        close(&mut out);
    }
    Some(out)
}

/// Ends a paragraph [`divs_as_paragraphs`] opened, without the whitespace the converter
/// would drop at a block's end.
fn close(out: &mut String) {
    let kept = out
        .trim_end_matches(|c: char| c.is_ascii_whitespace())
        .len();
    out.truncate(kept);
    out.push_str("</p>");
}

/// The value of attribute `name` of a start tag, as written (entities left for the HTML
/// parser).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let start = from + pos;
        from = start + name.len();
        let before = lower[..start].chars().last();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let after = lower[from..].trim_start();
        let Some(after) = after.strip_prefix('=') else {
            continue;
        };
        let after = after.trim_start();
        let offset = tag.len() - after.len();
        let quote = after.chars().next()?;
        return if quote == '"' || quote == '\'' {
            let value = &tag[offset + 1..];
            value.find(quote).map(|e| value[..e].to_owned())
        } else {
            let value = &tag[offset..];
            let e = value
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(value.len());
            Some(value[..e].to_owned())
        };
    }
    None
}

/// The first words of Markdown `text` as plain text, at most `max` characters.
fn plain_snippet(text: &str, max: usize) -> String {
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '`' | '#' | '>' | '\\' | '[' | ']'))
        .collect();
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if out.chars().count() + w.chars().count() + 1 > max {
            if out.is_empty() {
                out = w.chars().take(max).collect();
            }
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_give_their_text() {
        let adaptive = Attachment {
            content_type: Some("application/vnd.microsoft.card.adaptive".into()),
            content_url: None,
            name: None,
            content: Some(
                serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [
                    {"type": "TextBlock", "text": "Build **failed**", "weight": "bolder"},
                    {"type": "FactSet", "facts": [{"title": "Branch", "value": "main"}]},
                    {"type": "ColumnSet", "columns": [{"type": "Column", "items": [
                        {"type": "TextBlock", "text": "See the log"}]}]},
                    {"type": "Image", "url": "https://x/i.png"}],
                 "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://x"}],
                 "fallbackText": "Build failed"})
                .to_string(),
            ),
        };
        let text = markdown::render(&card_blocks(&adaptive));
        for part in [
            "Build \\*\\*failed\\*\\*",
            "Branch: main",
            "See the log",
            "Open",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(
            !text.contains("https://x") && !text.contains("Build failed\n"),
            "{text}"
        );
        let connector = Attachment {
            content_type: Some("application/vnd.microsoft.teams.card.o365connector".into()),
            content: Some(
                r#"{"title":"Incident 42","sections":[{"activityTitle":"Disk full","facts":[{"name":"Host","value":"db1"}]}]}"#.into(),
            ),
            ..Attachment::default()
        };
        let text = markdown::render(&card_blocks(&connector));
        assert!(
            text.contains("Incident 42")
                && text.contains("Disk full")
                && text.contains("Host: db1"),
            "{text}"
        );
        let file = Attachment {
            content_type: Some("reference".into()),
            content: Some("{\"text\": \"x\"}".into()),
            ..Attachment::default()
        };
        assert!(card_blocks(&file).is_empty());
        let broken = Attachment {
            content_type: Some("application/vnd.microsoft.card.hero".into()),
            content: Some("not json".into()),
            ..Attachment::default()
        };
        assert!(card_blocks(&broken).is_empty());
    }

    #[test]
    fn teams_tags_become_html_the_converter_reads() {
        let html = r#"<p>Hi <at id="0">Jane Smith</at> <emoji id="1f600" alt="😀" title="Grinning"></emoji></p><attachment id="abc"></attachment><img src="https://graph.microsoft.com/v1.0/teams/t/channels/c/messages/1/hostedContents/aWQ=/$value" width="10"><img alt="🙂" itemtype="http://schema.skype.com/Emoji" src="https://x/e.png">"#;
        let out = rewrite_teams_tags(html);
        assert_eq!(
            out,
            r#"<p>Hi @Jane Smith 😀</p><a href="https://graph.microsoft.com/v1.0/teams/t/channels/c/messages/1/hostedContents/aWQ=/$value">image</a>🙂"#
        );
        assert_eq!(rewrite_teams_tags("a < b"), "a < b");
    }

    #[test]
    fn divs_as_paragraphs_give_the_converters_markdown() {
        for html in [
            "<div><p>Status <b>x</b> and <a href=\"https://a/b\">spec</a>.</p></div>",
            "<div><div>Line one</div><div>Line <i>two</i></div></div>",
            "<div>a<br>b</div><div>&nbsp;</div><div>c</div>",
            "<div>lead <p>para</p> tail</div>",
            "plain <b>bold</b>",
        ] {
            let flat = divs_as_paragraphs(html).unwrap();
            assert_eq!(
                connector_core::text::html_to_markdown(&flat),
                connector_core::text::html_to_markdown(html),
                "{html} as {flat}"
            );
        }
        assert!(divs_as_paragraphs("<div><ul><li>a</li></ul></div>").is_none());
        assert!(divs_as_paragraphs("<p>a<p>b</p></p>").is_none());
    }

    /// The tag rewriting and the paragraph flattening as they were before they stopped
    /// copying each tag's name (session 43): the reference their output must equal.
    mod before {
        pub(super) fn rewrite_teams_tags(html: &str) -> String {
            use std::fmt::Write as _;
            let mut out = String::with_capacity(html.len());
            let mut rest = html;
            while let Some(at) = rest.find('<') {
                out.push_str(&rest[..at]);
                let tail = &rest[at..];
                let Some(end) = tail.find('>') else {
                    out.push_str(tail);
                    return out;
                };
                let tag = &tail[..=end];
                rest = &tail[end + 1..];
                let name: String = tag[1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                    .collect::<String>()
                    .to_ascii_lowercase();
                match name.as_str() {
                    "at" => out.push('@'),
                    "/at" | "attachment" | "/attachment" | "/emoji" | "systemeventmessage"
                    | "span" | "/span" => {}
                    "emoji" => out.push_str(&super::attribute(tag, "alt").unwrap_or_default()),
                    "img" => {
                        let src = super::attribute(tag, "src").unwrap_or_default();
                        let emoji =
                            super::attribute(tag, "itemtype").is_some_and(|t| t.contains("Emoji"));
                        if emoji {
                            out.push_str(&super::attribute(tag, "alt").unwrap_or_default());
                        } else if src.contains("/hostedContents/") {
                            let _ = write!(out, "<a href=\"{src}\">image</a>");
                        } else {
                            out.push_str(tag);
                        }
                    }
                    _ => out.push_str(tag),
                }
            }
            out.push_str(rest);
            out
        }

        pub(super) fn divs_as_paragraphs(html: &str) -> Option<String> {
            const SIMPLE: [&str; 8] = ["div", "p", "br", "b", "strong", "i", "em", "a"];
            let mut out = String::with_capacity(html.len() + 16);
            let mut rest = html;
            let (mut auto, mut real) = (false, false);
            while !rest.is_empty() {
                if let Some(after) = rest.strip_prefix('<') {
                    let end = rest.find('>')?;
                    let tag = &rest[..=end];
                    let closing = after.starts_with('/');
                    let name = after
                        .trim_start_matches('/')
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if !SIMPLE.contains(&name.as_str()) {
                        return None;
                    }
                    match (name.as_str(), closing) {
                        ("div", _) => {
                            if auto {
                                super::close(&mut out);
                                auto = false;
                            }
                        }
                        ("p", false) => {
                            if real {
                                return None;
                            }
                            if auto {
                                super::close(&mut out);
                                auto = false;
                            }
                            real = true;
                            out.push_str(tag);
                        }
                        ("p", true) => {
                            real = false;
                            out.push_str(tag);
                        }
                        _ => {
                            if !real && !auto {
                                out.push_str("<p>");
                                auto = true;
                            }
                            out.push_str(tag);
                        }
                    }
                    rest = &rest[end + 1..];
                } else {
                    let end = rest.find('<').unwrap_or(rest.len());
                    let text = &rest[..end];
                    if !real && !auto && !text.trim().is_empty() {
                        out.push_str("<p>");
                        auto = true;
                        out.push_str(text.trim_start_matches(|c: char| c.is_ascii_whitespace()));
                    } else if real || auto {
                        out.push_str(text);
                    }
                    rest = &rest[end..];
                }
            }
            if auto {
                super::close(&mut out);
            }
            Some(out)
        }
    }

    /// Bodies made of Teams' tags and the converter's (any case, attributes, broken ones,
    /// text and non-ASCII around them) come out of the tag rewriting and the paragraph
    /// flattening exactly as they did when each tag's name was copied and lowercased.
    #[test]
    fn tags_are_rewritten_as_before_without_copying_their_names() {
        const PIECES: [&str; 54] = [
            "<at id=\"0\">",
            "</at>",
            "<AT id=0>",
            "</At>",
            "<at>",
            "<emoji id=\"1f680_rocket\" alt=\"🚀\" title=\"Rocket\">",
            "</emoji>",
            "<Emoji alt='x'>",
            "<attachment id=\"153fa47d\">",
            "</attachment>",
            "<span class=\"x\">",
            "</SPAN>",
            "<systemEventMessage/>",
            "<img src=\"https://graph.microsoft.com/v1.0/teams/t/messages/1/hostedContents/aWQ=/$value\" alt=\"image\">",
            "<img itemtype=\"http://schema.skype.com/Emoji\" alt=\"😀\" src=\"https://x/e.png\">",
            "<IMG src=\"https://x/y.png\">",
            "<div>",
            "</div>",
            "<DIV class=\"x\">",
            "<p>",
            "</p>",
            "<P>",
            "</P >",
            "<br>",
            "<br/>",
            "<BR />",
            "<b>",
            "</b>",
            "<strong>",
            "</STRONG>",
            "<i>",
            "</i>",
            "<em>",
            "</Em>",
            "<a href=\"https://x/a?b=1&amp;c=2\">",
            "</a>",
            "<ul>",
            "<li>",
            "</li>",
            "<h1>",
            "<table>",
            "<//div>",
            "<div2>",
            "<é>",
            "< p>",
            "<",
            ">",
            "text",
            "  spaced  ",
            "\n",
            "Ünïcödé",
            "&amp;",
            "a < b",
            "x>y",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = next() % 14;
            let html: String = (0..len)
                .map(|_| PIECES[usize::try_from(next() % 54).unwrap_or_default()])
                .collect();
            let rewritten = rewrite_teams_tags(&html);
            assert_eq!(rewritten, before::rewrite_teams_tags(&html), "{html}");
            assert_eq!(
                divs_as_paragraphs(&rewritten),
                before::divs_as_paragraphs(&rewritten),
                "{rewritten}"
            );
            assert_eq!(
                divs_as_paragraphs(&html),
                before::divs_as_paragraphs(&html),
                "{html}"
            );
        }
    }

    #[test]
    fn snippets_stop_at_a_word() {
        assert_eq!(
            plain_snippet("**Ship** the `v2` release today", 14),
            "Ship the v2…"
        );
        assert_eq!(plain_snippet("", 10), "");
    }
}
