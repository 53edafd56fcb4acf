//! Atlassian Document Format (Jira Cloud, REST v3) → Markdown.
//!
//! Covers what issue descriptions and comments hold: paragraphs, headings, bullet, ordered and
//! task lists, code blocks, block quotes, panels, expands, rules, tables, text marks (strong,
//! em, code, strike, links), mentions, emoji, dates, statuses, cards and media (named by the
//! file name of the attachment they show, since their bytes are attachments: an ADF media
//! node's `attrs.id` is a Media Services file id, which Jira gives for each attachment as
//! `mediaApiFileId`; else by `alt`). Unknown nodes give their text. Nesting deeper than
//! [`MAX_DEPTH`] is flattened to text, so a hostile document cannot exhaust the stack. The
//! Markdown is written by core's writer, which escapes the text.

use std::collections::HashMap;

use connector_core::text::markdown::{self, Block, Inline, List, ListItem, Table};
use serde_json::Value;

/// Nesting depth past which nodes are rendered as plain text.
const MAX_DEPTH: usize = 48;

/// The file names of an issue's attachments by their Media Services file id
/// (`mediaApiFileId`), which is what an ADF `media` node's `attrs.id` holds.
pub(crate) type MediaNames = HashMap<String, String>;

/// An ADF document (or any ADF node) as Markdown; `media` names the files media nodes show.
pub(crate) fn to_markdown(doc: &Value, media: &MediaNames) -> String {
    let r = Render { media };
    let blocks = match doc.get("type").and_then(Value::as_str) {
        Some("doc") | None => r.blocks(children(doc), 0),
        Some(_) => r.block(doc, 0),
    };
    markdown::render(&blocks)
}

/// The files an ADF document shows: each media node's `id` (a Media Services file id) and
/// `alt` (usually the file name). Iterative, so depth cannot overflow the stack.
pub(crate) fn media_refs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![doc];
    while let Some(n) = stack.pop() {
        if matches!(kind(n), "media" | "mediaInline") {
            for name in ["id", "alt"] {
                if let Some(v) = attr_str(n, name).filter(|v| !v.trim().is_empty()) {
                    out.push(v.to_owned());
                }
            }
        }
        stack.extend(children(n));
    }
    out
}

/// The Media Services file ids an ADF document's media nodes show (`media`, `mediaInline`;
/// not external images, which have a URL instead). Iterative, as [`media_refs`].
pub(crate) fn media_file_ids(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![doc];
    while let Some(n) = stack.pop() {
        if matches!(kind(n), "media" | "mediaInline")
            && attr_str(n, "type") != Some("external")
            && let Some(id) = attr_str(n, "id").map(str::trim).filter(|id| !id.is_empty())
        {
            out.push(id.to_owned());
        }
        stack.extend(children(n));
    }
    out
}

/// What rendering needs beside the document.
struct Render<'a> {
    media: &'a MediaNames,
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

fn attr_str<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    attr(node, name).and_then(Value::as_str)
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

impl Render<'_> {
    fn blocks(&self, nodes: &[Value], depth: usize) -> Vec<Block> {
        nodes
            .iter()
            .flat_map(|n| self.block(n, depth + 1))
            .collect()
    }

    fn block(&self, node: &Value, depth: usize) -> Vec<Block> {
        if depth > MAX_DEPTH {
            return paragraph(vec![Inline::Text(plain_text(node))]);
        }
        match kind(node) {
            "paragraph" => paragraph(self.inlines(children(node), depth)),
            "heading" => {
                let level = attr(node, "level")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 6);
                vec![Block::heading(
                    level as u8,
                    self.inlines(children(node), depth),
                )]
            }
            "bulletList" | "taskList" | "decisionList" => {
                vec![Block::List(self.list(node, depth, None))]
            }
            "orderedList" => {
                let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
                vec![Block::List(self.list(node, depth, Some(start)))]
            }
            "listItem" | "decisionItem" => self.blocks(children(node), depth),
            "taskItem" => paragraph(self.inlines(children(node), depth)),
            "codeBlock" => {
                let code: String = children(node)
                    .iter()
                    .filter_map(|t| t.get("text").and_then(Value::as_str))
                    .collect();
                vec![Block::code(attr_str(node, "language"), code)]
            }
            "blockquote" => vec![Block::quote(self.blocks(children(node), depth))],
            "panel" => {
                let title = match attr_str(node, "panelType").unwrap_or("info") {
                    "note" => "Note:",
                    "warning" => "Warning:",
                    "success" => "Success:",
                    "error" => "Error:",
                    "tip" => "Tip:",
                    _ => "Info:",
                };
                let mut body = self.blocks(children(node), depth);
                let label = Inline::strong(vec![Inline::text(title)]);
                // The label leads the first paragraph, or stands on its own before other blocks.
                match body.first_mut() {
                    Some(Block::Paragraph(first)) => {
                        first.splice(0..0, [label, Inline::text(" ")]);
                    }
                    _ => body.insert(0, Block::paragraph(vec![label])),
                }
                vec![Block::quote(body)]
            }
            "expand" | "nestedExpand" => {
                let mut out = Vec::new();
                if let Some(t) = attr_str(node, "title").filter(|t| !t.is_empty()) {
                    out.push(Block::paragraph(vec![Inline::strong(vec![Inline::text(
                        t,
                    )])]));
                }
                out.extend(self.blocks(children(node), depth));
                out
            }
            "rule" => vec![Block::Rule],
            "table" => vec![Block::Table(self.table(node, depth))],
            "mediaSingle" | "mediaGroup" => self.blocks(children(node), depth),
            "media" => paragraph(vec![self.media(node)]),
            "blockCard" | "embedCard" => attr_str(node, "url")
                .map(|u| paragraph(vec![Inline::autolink(u)]))
                .unwrap_or_default(),
            _ if node.get("text").is_some() => paragraph(vec![self.inline(node, depth)]),
            _ => {
                // Unknown block: keep whatever it holds, as blocks or inline.
                let kids = children(node);
                if kids.iter().all(|k| k.get("text").is_some() || is_inline(k)) {
                    paragraph(self.inlines(kids, depth))
                } else {
                    self.blocks(kids, depth)
                }
            }
        }
    }

    fn list(&self, node: &Value, depth: usize, start: Option<u64>) -> List {
        let mut items: Vec<ListItem> = Vec::new();
        for item in children(node) {
            let content = self.block(item, depth + 1);
            if is_list(item) {
                // A list directly in a list (a nested task list) belongs to the item before it.
                match items.last_mut() {
                    Some(last) => last.blocks.extend(content),
                    None => items.push(ListItem::new(content)),
                }
            } else if kind(item) == "taskItem" {
                items.push(ListItem::task(
                    attr_str(item, "state") == Some("DONE"),
                    content,
                ));
            } else {
                items.push(ListItem::new(content));
            }
        }
        match start {
            Some(start) => List::ordered(start, items),
            None => List::bullet(items),
        }
    }

    /// A media node: by the file name of the attachment Jira says it shows (its
    /// `mediaApiFileId` is the node's `id`), else by the node's `alt`, else as an attachment
    /// with no name (a Media Services UUID means nothing to a reader); an external image is
    /// an image of its URL.
    fn media(&self, node: &Value) -> Inline {
        let alt = attr_str(node, "alt").filter(|a| !a.trim().is_empty());
        if attr_str(node, "type") == Some("external")
            && let Some(url) = attr_str(node, "url")
        {
            return Inline::image(alt.unwrap_or(""), url);
        }
        let name = attr_str(node, "id")
            .and_then(|id| self.media.get(id))
            .map(String::as_str)
            .or(alt);
        match name {
            Some(name) => Inline::Text(format!("[attachment: {name}]")),
            None => Inline::text("[attachment]"),
        }
    }

    /// The first row is the header (Markdown tables need one; Jira's tables lead with one).
    fn table(&self, node: &Value, depth: usize) -> Table {
        let mut rows: Vec<Vec<Vec<Block>>> = children(node)
            .iter()
            .map(|row| {
                children(row)
                    .iter()
                    .map(|c| self.blocks(children(c), depth + 1))
                    .collect()
            })
            .collect();
        let header = if rows.is_empty() {
            Vec::new()
        } else {
            rows.remove(0)
        };
        Table::new(header, rows)
    }

    fn inlines(&self, nodes: &[Value], depth: usize) -> Vec<Inline> {
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            if depth < MAX_DEPTH && !is_inline(node) && node.get("text").is_none() {
                // An unknown inline: what it holds.
                out.extend(self.inlines(children(node), depth + 1));
            } else {
                out.push(self.inline(node, depth + 1));
            }
        }
        out
    }

    fn inline(&self, node: &Value, depth: usize) -> Inline {
        if depth > MAX_DEPTH {
            return Inline::Text(plain_text(node));
        }
        let text = |s: Option<&str>| Inline::text(s.unwrap_or(""));
        match kind(node) {
            "text" => marked_text(node),
            "hardBreak" => Inline::LineBreak,
            "mention" => {
                let name = attr_str(node, "text")
                    .or_else(|| attr_str(node, "id"))
                    .unwrap_or("someone");
                if name.starts_with('@') {
                    Inline::text(name)
                } else {
                    Inline::Text(format!("@{name}"))
                }
            }
            "emoji" => text(attr_str(node, "text").or_else(|| attr_str(node, "shortName"))),
            "inlineCard" => Inline::autolink(attr_str(node, "url").unwrap_or("")),
            "date" => Inline::Text(
                attr(node, "timestamp")
                    .and_then(|t| {
                        t.as_str()
                            .and_then(|s| s.parse::<i64>().ok())
                            .or_else(|| t.as_i64())
                    })
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ),
            "status" => Inline::Text(
                attr_str(node, "text")
                    .map(|t| format!("[{t}]"))
                    .unwrap_or_default(),
            ),
            "mediaInline" => self.media(node),
            "placeholder" => Inline::text(""),
            _ => match node.get("text").and_then(Value::as_str) {
                Some(t) => Inline::text(t),
                None => Inline::Text(plain_text(node)),
            },
        }
    }
}

fn paragraph(content: Vec<Inline>) -> Vec<Block> {
    vec![Block::Paragraph(content)]
}

fn is_inline(node: &Value) -> bool {
    matches!(
        kind(node),
        "text"
            | "hardBreak"
            | "mention"
            | "emoji"
            | "inlineCard"
            | "date"
            | "status"
            | "placeholder"
            | "mediaInline"
    )
}

fn is_list(node: &Value) -> bool {
    matches!(
        kind(node),
        "bulletList" | "orderedList" | "taskList" | "decisionList"
    )
}

fn marked_text(node: &Value) -> Inline {
    let text = node.get("text").and_then(Value::as_str).unwrap_or("");
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let has = |m: &str| marks.iter().any(|x| kind(x) == m);
    // The writer moves whitespace at the edges of a span outside its markers.
    let mut s = if has("code") {
        Inline::code(text)
    } else {
        let mut s = Inline::text(text);
        if has("em") {
            s = Inline::emphasis(vec![s]);
        }
        if has("strong") {
            s = Inline::strong(vec![s]);
        }
        if has("strike") {
            s = Inline::strikethrough(vec![s]);
        }
        s
    };
    if let Some(href) = marks
        .iter()
        .find(|m| kind(m) == "link")
        .and_then(|m| attr_str(m, "href"))
    {
        s = Inline::link(vec![s], href);
    }
    s
}

/// Every text of a node, with no formatting.
fn plain_text(node: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![node];
    // Iterative, so depth cannot overflow the stack.
    while let Some(n) = stack.pop() {
        if let Some(t) = n.get("text").and_then(Value::as_str) {
            out.push_str(t);
            out.push(' ');
        }
        for child in children(n).iter().rev() {
            stack.push(child);
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut node = json!({"type": "text", "text": "bottom"});
        // serde_json refuses documents nested deeper than 128 levels; stay just below.
        for _ in 0..120 {
            node = json!({"type": "blockquote", "content": [node]});
        }
        let doc = json!({"type": "doc", "version": 1, "content": [node]});
        assert!(to_markdown(&doc, &MediaNames::new()).contains("bottom"));
    }

    #[test]
    fn media_by_attachment_then_alt_then_unnamed() {
        let node = |attrs: serde_json::Value| {
            json!({"type": "doc", "content": [{"type": "mediaSingle", "content": [
                {"type": "media", "attrs": attrs}
            ]}]})
        };
        let names: MediaNames = [("f-1".to_owned(), "a.png".to_owned())].into();
        let md = |attrs| to_markdown(&node(attrs), &names);
        assert_eq!(
            md(json!({"id": "f-1", "type": "file", "alt": "x"})),
            "[attachment: a.png]"
        );
        assert_eq!(
            md(json!({"id": "f-2", "type": "file", "alt": "b.pdf"})),
            "[attachment: b.pdf]"
        );
        assert_eq!(
            md(json!({"id": "f-2", "type": "file", "alt": " "})),
            "[attachment]"
        );
        assert_eq!(
            md(json!({"type": "external", "url": "https://x.io/i.png", "alt": "chart"})),
            "![chart](https://x.io/i.png)"
        );
    }

    #[test]
    fn marks_hug_the_text() {
        let doc = json!({"type": "doc", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "a "},
            {"type": "text", "text": "bold ", "marks": [{"type": "strong"}]},
            {"type": "text", "text": "end"}
        ]}]});
        assert_eq!(to_markdown(&doc, &MediaNames::new()), "a **bold** end");
    }

    #[test]
    fn text_is_escaped_and_breaks_are_hard() {
        let doc = json!({"type": "doc", "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "# 2*3*4 is not a heading"},
                {"type": "hardBreak"},
                {"type": "text", "text": "1. nor a list"}
            ]},
            {"type": "codeBlock", "content": [{"type": "text", "text": "a ``` b"}]},
            {"type": "panel", "attrs": {"panelType": "note"}, "content": [
                {"type": "bulletList", "content": [
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "point"}]}]}
                ]}
            ]}
        ]});
        assert_eq!(
            to_markdown(&doc, &MediaNames::new()),
            "\\# 2\\*3\\*4 is not a heading  \n1\\. nor a list\n\n````\na ``` b\n````\n\n\
             > **Note:**\n>\n> - point"
        );
    }
}
