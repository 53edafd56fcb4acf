//! Wire → [`Document`]: a page's block tree as Markdown through core's writer (front matter,
//! title, blocks), a database row's properties as front matter, and a file block's file as a
//! document of its own.

use connector_core::Document;
use connector_core::text::markdown::{self, Block as Md, Inline, List, ListItem, Table};
use serde_json::{Map, Value, json};
use url::Url;

use super::SOURCE;
use super::config::compact_id;
use super::model::{Block, Page, RichText, plain, runs_of};
use serde::Deserialize;

/// A block with its children (read when `has_children`), and for a `child_database` block the
/// database's rows.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) block: Block,
    pub(crate) children: Vec<Node>,
    pub(crate) rows: Vec<Page>,
    /// Its children (or a database's rows) could not be read, such as a synced block whose
    /// original is not shared with the integration: the text says so in their place.
    pub(crate) unreadable: bool,
}

/// What stands in for children the integration may not read.
fn unreadable(b: &Block) -> Md {
    let text = match b.kind.as_str() {
        "synced_block" => "(Synced content not shared with the integration.)",
        "child_database" => {
            "(The rows of this database cannot be read: its data source is not shared with the integration.)"
        }
        _ => "(Content not shared with the integration.)",
    };
    Md::paragraph(vec![Inline::text(text)])
}

/// The web page of a Notion page, database or block (`https://www.notion.so/{id}`).
pub(crate) fn notion_url(id: &str) -> String {
    format!(
        "https://www.notion.so/{}",
        compact_id(id).unwrap_or_else(|| id.to_owned())
    )
}

/// The link of a block inside its page: the page's URL with the block's anchor.
pub(crate) fn block_url(page_url: &str, block_id: &str) -> String {
    let anchor = compact_id(block_id).unwrap_or_else(|| block_id.to_owned());
    format!("{page_url}#{anchor}")
}

/// Rich text as inlines: styles, links, mentions (users as `@name`, pages and databases as
/// links to them, dates as text) and equations (as code).
pub(crate) fn inlines(runs: Vec<RichText>) -> Vec<Inline> {
    runs.into_iter().filter_map(inline).collect()
}

fn inline(run: RichText) -> Option<Inline> {
    if run.plain_text.is_empty() && run.equation.is_none() {
        return None;
    }
    if run.kind == "equation" {
        let expr = run
            .equation
            .as_ref()
            .map_or(run.plain_text.as_str(), |e| e.expression.as_str());
        return Some(Inline::code(expr));
    }
    let target = match (run.kind.as_str(), &run.mention) {
        ("mention", Some(m)) => mention_target(m).or(run.href),
        _ => run.href,
    };
    let mut out = if run.annotations.code {
        Inline::code(run.plain_text)
    } else {
        Inline::text(run.plain_text)
    };
    if run.annotations.strikethrough {
        out = Inline::strikethrough(vec![out]);
    }
    if run.annotations.italic {
        out = Inline::emphasis(vec![out]);
    }
    if run.annotations.bold {
        out = Inline::strong(vec![out]);
    }
    Some(match target {
        Some(url) => Inline::link(vec![out], url),
        None => out,
    })
}

/// Where a mention points: a page or database (its Notion URL), a link preview or link
/// mention (its URL); users and dates point nowhere.
fn mention_target(m: &Value) -> Option<String> {
    let kind = m.get("type")?.as_str()?;
    let inner = m.get(kind)?;
    match kind {
        "page" | "database" => inner.get("id")?.as_str().map(notion_url),
        "link_preview" => inner.get("url")?.as_str().map(str::to_owned),
        "link_mention" => inner.get("href")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Which list a block continues: consecutive items of one kind are one list.
#[derive(PartialEq, Eq, Clone, Copy)]
enum ListKind {
    Bullet,
    Numbered,
    Toggle,
}

/// The blocks of a page (or a block's children) as Markdown blocks.
pub(crate) fn blocks(nodes: &[Node], page_url: &str) -> Vec<Md> {
    let mut out = Vec::new();
    let mut list: Option<(ListKind, Vec<ListItem>)> = None;
    let flush = |list: &mut Option<(ListKind, Vec<ListItem>)>, out: &mut Vec<Md>| {
        if let Some((kind, items)) = list.take() {
            out.push(Md::List(match kind {
                ListKind::Numbered => List::ordered(1, items),
                _ => List::bullet(items),
            }));
        }
    };
    for node in nodes {
        let b = &node.block;
        if b.archived || b.in_trash {
            continue;
        }
        let item = match b.kind.as_str() {
            "bulleted_list_item" => Some((ListKind::Bullet, None)),
            "to_do" => Some((
                ListKind::Bullet,
                Some(b.body().get("checked").and_then(Value::as_bool) == Some(true)),
            )),
            "numbered_list_item" => Some((ListKind::Numbered, None)),
            "toggle" => Some((ListKind::Toggle, None)),
            _ => None,
        };
        if let Some((kind, task)) = item {
            let mut content = vec![Md::paragraph(inlines(b.runs("rich_text")))];
            content.extend(blocks(&node.children, page_url));
            if node.unreadable {
                content.push(unreadable(b));
            }
            let entry = match task {
                Some(done) => ListItem::task(done, content),
                None => ListItem::new(content),
            };
            match &mut list {
                Some((k, items)) if *k == kind => items.push(entry),
                _ => {
                    flush(&mut list, &mut out);
                    list = Some((kind, vec![entry]));
                }
            }
            continue;
        }
        flush(&mut list, &mut out);
        block(node, page_url, &mut out);
        if node.unreadable {
            out.push(unreadable(b));
        }
    }
    flush(&mut list, &mut out);
    out
}

/// One block that is not a list item, appended to `out`.
fn block(node: &Node, page_url: &str, out: &mut Vec<Md>) {
    let b = &node.block;
    let children = || blocks(&node.children, page_url);
    let caption = || inlines(b.runs("caption"));
    match b.kind.as_str() {
        "paragraph" => {
            out.push(Md::paragraph(inlines(b.runs("rich_text"))));
            out.extend(children());
        }
        "heading_1" | "heading_2" | "heading_3" => {
            let level = b.kind.as_bytes().last().map_or(1, |c| c - b'0');
            // Below the page title's `#`.
            out.push(Md::heading(level + 1, inlines(b.runs("rich_text"))));
            out.extend(children());
        }
        "code" => {
            let language = b
                .body()
                .get("language")
                .and_then(Value::as_str)
                .filter(|l| *l != "plain text");
            out.push(Md::code(language, plain(&b.runs("rich_text"))));
            out.push(Md::paragraph(caption()));
        }
        "quote" => {
            let mut inner = vec![Md::paragraph(inlines(b.runs("rich_text")))];
            inner.extend(children());
            out.push(Md::quote(inner));
        }
        "callout" => {
            let mut line = Vec::new();
            if let Some(emoji) = b
                .body()
                .get("icon")
                .and_then(|i| i.get("emoji"))
                .and_then(Value::as_str)
            {
                line.push(Inline::text(format!("{emoji} ")));
            }
            line.extend(inlines(b.runs("rich_text")));
            let mut inner = vec![Md::paragraph(line)];
            inner.extend(children());
            out.push(Md::quote(inner));
        }
        "equation" => {
            let expr = b
                .body()
                .get("expression")
                .and_then(Value::as_str)
                .unwrap_or_default();
            out.push(Md::code(Some("math"), expr));
        }
        "divider" => out.push(Md::Rule),
        "table" => out.push(table(node)),
        "child_page" => {
            let title = b
                .body()
                .get("title")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or("Untitled");
            out.push(Md::paragraph(vec![Inline::link(
                vec![Inline::text(title)],
                notion_url(&b.id),
            )]));
        }
        "child_database" => {
            let title = b
                .body()
                .get("title")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or("Untitled database");
            out.push(Md::paragraph(vec![Inline::link(
                vec![Inline::text(title)],
                notion_url(&b.id),
            )]));
            // Its rows are documents of their own, not a table (nor a count) here: adding or
            // editing a row does not move this page's `last_edited_time`, so either would go
            // stale. The rows are still queried, for the walk to those the search missed.
            if !node.unreadable {
                out.push(Md::paragraph(vec![Inline::text(
                    "(A database: its rows are documents of their own.)",
                )]));
            }
        }
        "link_to_page" => {
            let body = b.body();
            let target = body
                .get("type")
                .and_then(Value::as_str)
                .and_then(|k| body.get(k))
                .and_then(Value::as_str);
            if let Some(id) = target {
                out.push(Md::paragraph(vec![Inline::link(
                    vec![Inline::text("Linked page")],
                    notion_url(id),
                )]));
            }
        }
        "bookmark" | "embed" | "link_preview" => {
            if let Some(url) = b.body().get("url").and_then(Value::as_str) {
                let text = caption();
                let text = if text.is_empty() {
                    vec![Inline::text(url)]
                } else {
                    text
                };
                out.push(Md::paragraph(vec![Inline::link(text, url)]));
            }
        }
        kind if b.is_file() => {
            let name = b.file_name();
            // Notion's own file URLs expire within the hour: the text links the block, which
            // stays; an external file links where it is.
            let target = match b.file_url() {
                Some((url, false)) => url,
                _ => block_url(page_url, &b.id),
            };
            let mut line = vec![
                Inline::text(format!("{}: ", capitalised(kind))),
                Inline::link(vec![Inline::text(name)], target),
            ];
            let caption = caption();
            if !caption.is_empty() {
                line.push(Inline::text(" — "));
                line.extend(caption);
            }
            out.push(Md::paragraph(line));
        }
        // Containers whose children are the content.
        "synced_block" | "column_list" | "column" | "template" => out.extend(children()),
        // Navigation and what the API does not show.
        "table_of_contents" | "breadcrumb" | "unsupported" | "ai_block" => {}
        _ => {
            out.push(Md::paragraph(inlines(b.runs("rich_text"))));
            out.extend(children());
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A table block: its `table_row` children, the first as the header when
/// `has_column_header`.
fn table(node: &Node) -> Md {
    let mut rows: Vec<Vec<Vec<Md>>> = node
        .children
        .iter()
        .filter(|n| n.block.kind == "table_row")
        .map(|n| {
            n.block
                .body()
                .get("cells")
                .and_then(Value::as_array)
                .map(|cells| {
                    cells
                        .iter()
                        .map(|cell| vec![Md::paragraph(inlines(runs_of(cell)))])
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let header_row = node
        .block
        .body()
        .get("has_column_header")
        .and_then(Value::as_bool)
        == Some(true);
    let header = if header_row && !rows.is_empty() {
        rows.remove(0)
    } else {
        Vec::new()
    };
    Md::Table(Table::new(header, rows))
}

/// A property's value as JSON (the front matter's and the metadata's): text as a string,
/// numbers, checkboxes as booleans, selects by name, multi-selects and people as lists, dates
/// as `start` or `start/end`, formulas and rollups by their result.
pub(crate) fn property_value(p: &Value) -> Value {
    let Some(kind) = p.get("type").and_then(Value::as_str) else {
        return Value::Null;
    };
    let v = p.get(kind).unwrap_or(&Value::Null);
    let name = |v: &Value| v.get("name").cloned().unwrap_or(Value::Null);
    let runs = |v: &Value| {
        Vec::<RichText>::deserialize(v)
            .map(|r| Value::String(plain(&r)))
            .unwrap_or(Value::Null)
    };
    match kind {
        "title" | "rich_text" => runs(v),
        "number" | "checkbox" | "url" | "email" | "phone_number" | "created_time"
        | "last_edited_time" | "string" | "boolean" => v.clone(),
        "select" | "status" => name(v),
        "multi_select" => Value::Array(
            v.as_array()
                .map(|a| a.iter().map(name).collect())
                .unwrap_or_default(),
        ),
        "date" => match (
            v.get("start").and_then(Value::as_str),
            v.get("end").and_then(Value::as_str),
        ) {
            (Some(s), Some(e)) => json!(format!("{s}/{e}")),
            (Some(s), None) => json!(s),
            _ => Value::Null,
        },
        "people" => Value::Array(
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|u| {
                            u.get("name")
                                .or_else(|| u.get("id"))
                                .cloned()
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "created_by" | "last_edited_by" => v
            .get("name")
            .or_else(|| v.get("id"))
            .cloned()
            .unwrap_or_default(),
        "files" => Value::Array(
            v.as_array()
                .map(|a| a.iter().map(name).collect())
                .unwrap_or_default(),
        ),
        "relation" => Value::Array(
            v.as_array()
                .map(|a| a.iter().filter_map(|r| r.get("id").cloned()).collect())
                .unwrap_or_default(),
        ),
        "formula" => property_value(v),
        "rollup" => match v.get("type").and_then(Value::as_str) {
            Some("array") => Value::Array(
                v.get("array")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(property_value).collect())
                    .unwrap_or_default(),
            ),
            _ => property_value(v),
        },
        "unique_id" => match (v.get("prefix").and_then(Value::as_str), v.get("number")) {
            (Some(prefix), Some(n)) => json!(format!("{prefix}-{n}")),
            (None, Some(n)) => n.clone(),
            _ => Value::Null,
        },
        "verification" => v.get("state").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The document of a page: front matter (title, url, times, and a database row's properties),
/// the title as `#`, the blocks.
pub(crate) fn page_document(page: &Page, nodes: &[Node], version: Option<&str>) -> Document {
    let title = page.title();
    let shown_title = if title.is_empty() {
        "Untitled".to_owned()
    } else {
        title
    };
    let url = page.url.clone().unwrap_or_else(|| notion_url(&page.id));
    let time = |t: chrono::DateTime<chrono::Utc>| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let mut fields: Vec<(String, Value)> = vec![
        ("title".to_owned(), json!(shown_title)),
        ("url".to_owned(), json!(url)),
        ("created_time".to_owned(), time(page.created_time)),
        ("last_edited_time".to_owned(), time(page.last_edited_time)),
    ];
    let mut properties = Map::new();
    if page.is_row() {
        for (name, p) in &page.properties {
            if p.get("type").and_then(Value::as_str) == Some("title") {
                continue;
            }
            let value = property_value(p);
            properties.insert(name.clone(), value.clone());
            // A property named like a field above keeps both.
            let key = if fields.iter().any(|(k, _)| k == name) {
                format!("property {name}")
            } else {
                name.clone()
            };
            fields.push((key, value));
        }
    }
    let mut body = vec![Md::heading(1, vec![Inline::text(shown_title.clone())])];
    body.extend(blocks(nodes, &url));
    // Front matter and body in one buffer, sized for a typical page.
    let mut text = String::with_capacity(2048);
    markdown::front_matter_into(&mut text, fields.iter().map(|(k, v)| (k.as_str(), v)));
    markdown::render_into(&mut text, &body);

    let mut doc = Document::text(page.id.clone(), SOURCE, shown_title, text)
        .with_updated_at(page.last_edited_time)
        .with_metadata("object", page.object.clone())
        .with_metadata("created_time", time(page.created_time))
        .with_metadata("parent_type", page.parent.kind.clone());
    if let Ok(link) = Url::parse(&url) {
        doc = doc.with_link(link);
    }
    if let Some((_, parent)) = page.parent.target() {
        doc = doc.with_parent_id(parent.to_owned());
        if page.is_row() {
            doc = doc.with_metadata("database_id", parent.to_owned());
            if let Some(ds) = &page.parent.data_source_id {
                doc = doc.with_metadata("data_source_id", ds.clone());
            }
        }
    }
    if !properties.is_empty() {
        doc = doc.with_metadata("properties", Value::Object(properties));
    }
    if let Some(by) = &page.created_by {
        doc = doc
            .with_metadata("created_by", by.id.clone())
            .with_owners(vec![by.name.clone().unwrap_or_else(|| by.id.clone())]);
    }
    if let Some(by) = &page.last_edited_by {
        doc = doc.with_metadata("last_edited_by", by.id.clone());
    }
    match version {
        Some(token) => doc.with_version(token),
        None => doc.with_fields_fingerprint(),
    }
}

/// The document of a file block's file: its bytes (text files as text), named by the block's
/// name, linked to the block in its page.
pub(crate) fn file_document(page: &Page, block: &Block, data: Vec<u8>) -> Document {
    let name = block.file_name();
    let size = data.len() as u64;
    let page_url = page.url.clone().unwrap_or_else(|| notion_url(&page.id));
    let mut doc = crate::files::file_document_lenient(block.id.clone(), SOURCE, &name, data)
        .with_size(size)
        .with_updated_at(block.last_edited_time.unwrap_or(page.last_edited_time))
        .with_parent_id(page.id.clone())
        .with_metadata("page_id", page.id.clone())
        .with_metadata("block_type", block.kind.clone())
        .with_metadata(
            "hosted_by",
            if block.file_url().is_some_and(|(_, own)| own) {
                "notion"
            } else {
                "external"
            },
        );
    let caption = plain(&block.runs("caption"));
    if !caption.is_empty() {
        doc = doc.with_metadata("caption", caption);
    }
    if let Ok(link) = Url::parse(&block_url(&page_url, &block.id)) {
        doc = doc.with_link(link);
    }
    doc
}
