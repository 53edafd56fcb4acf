//! Atlassian Document Format (Jira Cloud, REST v3) → Markdown.
//!
//! Covers what issue descriptions and comments hold: paragraphs, headings, bullet, ordered and
//! task lists, code blocks, block quotes, panels, expands, rules, tables, text marks (strong,
//! em, code, strike, links), mentions, emoji, dates, statuses, cards and media (named, since
//! their bytes are attachments). Unknown nodes give their text. Nesting deeper than
//! [`MAX_DEPTH`] is flattened to text, so a hostile document cannot exhaust the stack.

use serde_json::Value;

/// Nesting depth past which nodes are rendered as plain text.
const MAX_DEPTH: usize = 48;

/// An ADF document (or any ADF node) as Markdown.
pub(crate) fn to_markdown(doc: &Value) -> String {
    let out = match doc.get("type").and_then(Value::as_str) {
        Some("doc") | None => blocks(children(doc), 0, "\n\n"),
        Some(_) => block(doc, 0),
    };
    out.trim().to_owned()
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

fn blocks(nodes: &[Value], depth: usize, sep: &str) -> String {
    nodes
        .iter()
        .map(|n| block(n, depth + 1))
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

fn prefix_lines(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let p = if i == 0 { first } else { rest };
        if line.is_empty() {
            out.push_str(p.trim_end());
        } else {
            out.push_str(p);
            out.push_str(line);
        }
    }
    if out.is_empty() {
        out.push_str(first.trim_end());
    }
    out
}

fn block(node: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return plain_text(node);
    }
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "paragraph" => inlines(children(node), depth),
        "heading" => {
            let level = attr(node, "level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            format!(
                "{} {}",
                "#".repeat(level as usize),
                inlines(children(node), depth)
            )
        }
        "bulletList" | "taskList" | "decisionList" => list(node, depth, None),
        "orderedList" => {
            let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
            list(node, depth, Some(start))
        }
        "listItem" | "decisionItem" => blocks(children(node), depth, "\n"),
        "taskItem" => {
            let done = attr_str(node, "state") == Some("DONE");
            format!(
                "[{}] {}",
                if done { "x" } else { " " },
                inlines(children(node), depth)
            )
        }
        "codeBlock" => {
            let lang = attr_str(node, "language").unwrap_or("");
            let code: String = children(node)
                .iter()
                .filter_map(|t| t.get("text").and_then(Value::as_str))
                .collect();
            let fence = if code.contains("```") { "~~~~" } else { "```" };
            format!("{fence}{lang}\n{}\n{fence}", code.trim_end_matches('\n'))
        }
        "blockquote" => prefix_lines(&blocks(children(node), depth, "\n\n"), "> ", "> "),
        "panel" => {
            let title = match attr_str(node, "panelType").unwrap_or("info") {
                "note" => "Note",
                "warning" => "Warning",
                "success" => "Success",
                "error" => "Error",
                "tip" => "Tip",
                _ => "Info",
            };
            let body = blocks(children(node), depth, "\n\n");
            prefix_lines(&format!("**{title}:** {body}"), "> ", "> ")
        }
        "expand" | "nestedExpand" => {
            let body = blocks(children(node), depth, "\n\n");
            match attr_str(node, "title").filter(|t| !t.is_empty()) {
                Some(t) => format!("**{t}**\n\n{body}"),
                None => body,
            }
        }
        "rule" => "---".to_owned(),
        "table" => table(node, depth),
        "mediaSingle" | "mediaGroup" => blocks(children(node), depth, "\n"),
        "media" => media(node),
        "blockCard" | "embedCard" => attr_str(node, "url")
            .map(|u| format!("<{u}>"))
            .unwrap_or_default(),
        _ if node.get("text").is_some() => inline(node, depth),
        _ => {
            // Unknown block: keep whatever it holds, as blocks or inline.
            let kids = children(node);
            if kids.iter().all(|k| k.get("text").is_some() || is_inline(k)) {
                inlines(kids, depth)
            } else {
                blocks(kids, depth, "\n\n")
            }
        }
    }
}

fn is_inline(node: &Value) -> bool {
    matches!(
        node.get("type").and_then(Value::as_str),
        Some(
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
    )
}

fn list(node: &Value, depth: usize, ordered: Option<u64>) -> String {
    let mut out = Vec::new();
    for (i, item) in children(node).iter().enumerate() {
        let marker = match ordered {
            Some(start) => format!("{}. ", start + i as u64),
            None => "- ".to_owned(),
        };
        let indent = " ".repeat(marker.len());
        out.push(prefix_lines(&block(item, depth + 1), &marker, &indent));
    }
    out.join("\n")
}

fn media(node: &Value) -> String {
    let name = attr_str(node, "alt")
        .filter(|a| !a.is_empty())
        .or_else(|| attr_str(node, "id"))
        .unwrap_or("file");
    format!("[attachment: {name}]")
}

fn cell_text(cell: &Value, depth: usize) -> String {
    blocks(children(cell), depth, " ")
        .replace('\n', " ")
        .replace('|', "\\|")
        .trim()
        .to_owned()
}

fn table(node: &Value, depth: usize) -> String {
    let rows: Vec<Vec<String>> = children(node)
        .iter()
        .map(|row| {
            children(row)
                .iter()
                .map(|c| cell_text(c, depth + 1))
                .collect()
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let line = |cells: &[String]| {
        let mut padded: Vec<&str> = cells.iter().map(String::as_str).collect();
        padded.resize(width, "");
        format!("| {} |", padded.join(" | "))
    };
    let mut out = Vec::with_capacity(rows.len() + 1);
    out.push(line(&rows[0]));
    out.push(format!("|{}", " --- |".repeat(width)));
    for row in &rows[1..] {
        out.push(line(row));
    }
    out.join("\n")
}

fn inlines(nodes: &[Value], depth: usize) -> String {
    nodes.iter().map(|n| inline(n, depth + 1)).collect()
}

fn inline(node: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return plain_text(node);
    }
    match node.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => marked_text(node),
        "hardBreak" => "\n".to_owned(),
        "mention" => {
            let name = attr_str(node, "text")
                .or_else(|| attr_str(node, "id"))
                .unwrap_or("someone");
            if name.starts_with('@') {
                name.to_owned()
            } else {
                format!("@{name}")
            }
        }
        "emoji" => attr_str(node, "text")
            .or_else(|| attr_str(node, "shortName"))
            .unwrap_or("")
            .to_owned(),
        "inlineCard" => attr_str(node, "url")
            .map(|u| format!("<{u}>"))
            .unwrap_or_default(),
        "date" => attr(node, "timestamp")
            .and_then(|t| {
                t.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or_else(|| t.as_i64())
            })
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        "status" => attr_str(node, "text")
            .map(|t| format!("[{t}]"))
            .unwrap_or_default(),
        "mediaInline" => media(node),
        "placeholder" => String::new(),
        _ => match node.get("text").and_then(Value::as_str) {
            Some(t) => t.to_owned(),
            None => inlines(children(node), depth),
        },
    }
}

fn marked_text(node: &Value) -> String {
    let text = node.get("text").and_then(Value::as_str).unwrap_or("");
    if text.is_empty() {
        return String::new();
    }
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let has = |m: &str| {
        marks
            .iter()
            .any(|x| x.get("type").and_then(Value::as_str) == Some(m))
    };
    // Markdown emphasis must hug the text: keep surrounding spaces outside the markers.
    let core = text.trim();
    let (lead, trail) = if core.is_empty() {
        (text, "")
    } else {
        let start = text.len() - text.trim_start().len();
        let end = start + core.len();
        (&text[..start], &text[end..])
    };
    if core.is_empty() {
        return lead.to_owned();
    }
    let mut s = if has("code") {
        let fence = if core.contains('`') { "``" } else { "`" };
        format!("{fence}{core}{fence}")
    } else {
        let mut s = core.to_owned();
        if has("em") {
            s = format!("*{s}*");
        }
        if has("strong") {
            s = format!("**{s}**");
        }
        if has("strike") {
            s = format!("~~{s}~~");
        }
        s
    };
    if let Some(href) = marks
        .iter()
        .find(|m| m.get("type").and_then(Value::as_str) == Some("link"))
        .and_then(|m| attr_str(m, "href"))
    {
        s = format!("[{s}]({href})");
    }
    format!("{lead}{s}{trail}")
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
        assert!(to_markdown(&doc).contains("bottom"));
    }

    #[test]
    fn marks_hug_the_text() {
        let doc = json!({"type": "doc", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "a "},
            {"type": "text", "text": "bold ", "marks": [{"type": "strong"}]},
            {"type": "text", "text": "end"}
        ]}]});
        assert_eq!(to_markdown(&doc), "a **bold** end");
    }
}
