//! Box Notes (`.boxnote` files) to Markdown.
//!
//! A Box Note downloads as JSON. Notes written since Box's 2022 editor hold a ProseMirror
//! document under `doc` (`{"doc": {"type": "doc", "content": [...]}}`): nodes `paragraph`,
//! `heading` (`attrs.level`), `bullet_list`, `ordered_list` (`attrs.order`), `check_list` /
//! `check_list_item` (`attrs.checked`), `list_item`, `blockquote`, `code_block`,
//! `horizontal_rule`, `table` / `table_row` / `table_cell` / `table_header`, `hard_break`,
//! `image` and `text` with marks (`strong`, `em`, `strikethrough`, `code`, `link` with
//! `attrs.href`). Older notes hold Etherpad's attributed text: the plain text is
//! `atext.text`. A node of another type gives its text, so nothing written is lost.

use connector_core::text::markdown::{self, Block, Inline, List, ListItem, Table};
use serde_json::Value;

/// The note's text as Markdown; `None` when the JSON is neither kind of note.
pub(crate) fn to_markdown(data: &[u8]) -> Option<String> {
    let note: Value = serde_json::from_slice(data).ok()?;
    if let Some(doc) = note.get("doc").filter(|d| d.is_object()) {
        return Some(markdown::render(&blocks(children(doc))));
    }
    let text = note.get("atext")?.get("text")?.as_str()?;
    Some(markdown::render(&Block::plain_text(text.trim_end())))
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

fn blocks(nodes: &[Value]) -> Vec<Block> {
    nodes.iter().flat_map(block).collect()
}

fn block(node: &Value) -> Vec<Block> {
    match kind(node) {
        "paragraph" => vec![Block::paragraph(inlines(children(node)))],
        "heading" => {
            let level = attr(node, "level").and_then(Value::as_u64).unwrap_or(1);
            vec![Block::heading(
                u8::try_from(level).unwrap_or(6),
                inlines(children(node)),
            )]
        }
        "bullet_list" => vec![Block::List(List::bullet(items(node)))],
        "ordered_list" => {
            let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
            vec![Block::List(List::ordered(start, items(node)))]
        }
        "check_list" => vec![Block::List(List::bullet(
            children(node)
                .iter()
                .map(|item| {
                    let done = attr(item, "checked").and_then(Value::as_bool) == Some(true);
                    ListItem::task(done, blocks(children(item)))
                })
                .collect::<Vec<_>>(),
        ))],
        "blockquote" | "call_out_box" => vec![Block::quote(blocks(children(node)))],
        "code_block" => vec![Block::code(None, plain(children(node)))],
        "horizontal_rule" => vec![Block::Rule],
        "table" => table(node).into_iter().collect(),
        "text" | "hard_break" | "image" => {
            vec![Block::paragraph(inlines(std::slice::from_ref(node)))]
        }
        // Another container: its blocks, or its text when it holds inlines.
        _ if children(node).iter().any(|c| kind(c) == "text") => {
            vec![Block::paragraph(inlines(children(node)))]
        }
        _ => blocks(children(node)),
    }
}

fn items(list: &Value) -> Vec<ListItem> {
    children(list)
        .iter()
        .map(|item| ListItem::new(blocks(children(item))))
        .collect()
}

fn table(node: &Value) -> Option<Block> {
    let mut rows: Vec<Vec<Vec<Block>>> = children(node)
        .iter()
        .map(|row| {
            children(row)
                .iter()
                .map(|cell| blocks(children(cell)))
                .collect()
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let header = rows.remove(0);
    Some(Block::Table(Table::new(header, rows)))
}

/// The text of inline nodes, without marks (a code block's).
fn plain(nodes: &[Value]) -> String {
    nodes
        .iter()
        .map(|n| match kind(n) {
            "hard_break" => "\n".to_owned(),
            _ => n
                .get("text")
                .and_then(Value::as_str)
                .map_or_else(|| plain(children(n)), str::to_owned),
        })
        .collect()
}

fn inlines(nodes: &[Value]) -> Vec<Inline> {
    nodes.iter().map(inline).collect()
}

fn inline(node: &Value) -> Inline {
    match kind(node) {
        "hard_break" => Inline::LineBreak,
        "image" => Inline::image(
            attr(node, "alt")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            attr(node, "src")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        "text" => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or_default();
            let marks = node
                .get("marks")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if marks.iter().any(|m| kind(m) == "code") {
                return Inline::code(text);
            }
            let mut out = Inline::text(text);
            for mark in marks {
                out = match kind(mark) {
                    "strong" => Inline::strong(vec![out]),
                    "em" => Inline::emphasis(vec![out]),
                    "strikethrough" => Inline::strikethrough(vec![out]),
                    "link" => match attr(mark, "href").and_then(Value::as_str) {
                        Some(href) => Inline::link(vec![out], href),
                        None => out,
                    },
                    _ => out,
                };
            }
            out
        }
        _ => Inline::text(plain(children(node))),
    }
}

#[cfg(test)]
mod tests {
    use super::to_markdown;
    use serde_json::json;

    #[test]
    fn a_prosemirror_note_becomes_markdown() {
        let note = json!({"version": 1, "schema_version": 1, "doc": {"type": "doc", "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Plan"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Read "},
                {"type": "text", "text": "this", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " and "},
                {"type": "text", "text": "that", "marks": [{"type": "link", "attrs": {"href": "https://example.com"}}]}]},
            {"type": "bullet_list", "content": [
                {"type": "list_item", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
                {"type": "list_item", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}]},
            {"type": "check_list", "content": [
                {"type": "check_list_item", "attrs": {"checked": true}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "done"}]}]}]},
            {"type": "code_block", "content": [{"type": "text", "text": "let x = 1;"}]}
        ]}});
        let md = to_markdown(note.to_string().as_bytes()).unwrap();
        assert_eq!(
            md,
            "## Plan\n\nRead **this** and [that](https://example.com)\n\n- one\n- two\n\n* [x] done\n\n```\nlet x = 1;\n```"
        );
    }

    #[test]
    fn an_etherpad_note_gives_its_text_and_other_json_nothing() {
        let note = json!({"len": 12, "atext": {"text": "Hello *world*\n", "attribs": "*0+c|1+1"}, "pool": {}});
        assert_eq!(
            to_markdown(note.to_string().as_bytes()).as_deref(),
            Some("Hello \\*world\\*")
        );
        assert_eq!(to_markdown(b"{\"a\": 1}"), None);
        assert_eq!(to_markdown(b"not json"), None);
    }
}
