//! A parsed body to Markdown: blocks and inline content, lists, tables (tables inside cells
//! kept readable), links, mentions and images, through core's Markdown writer. Macros are in
//! [`super::macros`].

use std::sync::Arc;

use connector_core::text::markdown::{Block, Inline, List, ListItem, MarkdownWriter, Table};

use super::macros::{adf_content, adf_extension, jira, macro_block};
use super::parse::{Element, Node, PageRef, UserRef, page_ref, raw_text, user_ref};

/// Answers the lookups rendering needs; every answer comes from a cache filled beforehand.
pub(crate) trait Resolver {
    /// The display name of a user.
    fn user(&self, user: &UserRef) -> Option<String>;
    /// The parsed body of an included page (and its space key).
    fn include(&self, page: &PageRef) -> Option<Arc<Vec<Node>>>;
    /// The web URL of a page.
    fn page_url(&self, page: &PageRef) -> Option<String>;
    /// Whether the included `page` may be inlined into a page of the space `includer_space`;
    /// when not, the include is written as a link (with `include_permissions`, a page its
    /// includer's readers may not all read must not be copied into their document).
    fn may_inline(&self, _page: &PageRef, _includer_space: &str) -> bool {
        true
    }
    /// The URL of the attachment `filename` of the page with content id `page_id`; `None`
    /// where it cannot be formed (the attachment is then named without a link).
    fn attachment_url(&self, _page_id: &str, _filename: &str) -> Option<String> {
        None
    }
    /// The base URL of the Jira site whose issues a `jira` macro of Cloud's own Jira ("System
    /// Jira") shows: the Cloud site itself (`https://acme.atlassian.net`). `None` where it is
    /// not known (Server/DC, whose macros name an application link the API does not resolve);
    /// the macro is then written without a link.
    fn jira_site(&self) -> Option<String> {
        None
    }
}

/// The page a body belongs to, for what the body names relative to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    /// The key of the page's space: the default for links and includes that name none.
    pub(crate) space: &'a str,
    /// The page's content id, which the URLs of its attachments need.
    pub(crate) page_id: Option<&'a str>,
}

pub(super) struct Ctx<'a> {
    pub(super) resolver: &'a dyn Resolver,
    pub(super) space: String,
    /// The content id of the page whose body is rendered; `None` inside an included page.
    pub(super) page_id: Option<String>,
    /// The pages being included, to stop include cycles.
    pub(super) including: Vec<PageRef>,
    /// How many table cells the content being rendered sits in.
    pub(super) cell_depth: usize,
}

/// Renders a parsed body as Markdown; `space` is the key of the page's space (the default for
/// links and includes that name none). Attachments are named without links: see
/// [`render_for`].
pub(crate) fn render(nodes: &[Node], space: &str, resolver: &dyn Resolver) -> String {
    render_for(
        nodes,
        Owner {
            space,
            page_id: None,
        },
        resolver,
    )
}

/// Renders a parsed body of the page `owner` as Markdown.
pub(crate) fn render_for(nodes: &[Node], owner: Owner<'_>, resolver: &dyn Resolver) -> String {
    let mut ctx = Ctx {
        resolver,
        space: owner.space.to_owned(),
        page_id: owner.page_id.map(str::to_owned),
        including: Vec::new(),
        cell_depth: 0,
    };
    let blocks = blocks(nodes, &mut ctx);
    // Storage format is XHTML: whitespace in text reads as HTML reads it.
    MarkdownWriter::new()
        .collapse_whitespace(true)
        .render(&blocks)
}

const BLOCKS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
    "hr",
    "div",
    "section",
    "ac:task-list",
    "ac:layout",
    "ac:layout-section",
    "ac:layout-cell",
    "ac:rich-text-body",
    "ac:adf-extension",
    "li",
    "tr",
    "dl",
];

const INLINE_MACROS: &[&str] = &["status", "jira", "jiraissues", "anchor"];

fn is_block(node: &Node) -> bool {
    match node {
        Node::Element(e) if e.name == "ac:structured-macro" || e.name == "ac:macro" => {
            !INLINE_MACROS.contains(&e.attr("ac:name").unwrap_or(""))
        }
        Node::Element(e) => BLOCKS.contains(&e.name.as_str()),
        Node::Text(_) => false,
    }
}

/// The blocks of a container whose children mix inline content and blocks: each run of inline
/// content is a paragraph.
pub(super) fn blocks(nodes: &[Node], ctx: &mut Ctx<'_>) -> Vec<Block> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for node in nodes {
        if is_block(node) {
            if !run.is_empty() {
                out.push(Block::Paragraph(std::mem::take(&mut run)));
            }
            if let Node::Element(e) = node {
                block(e, ctx, &mut out);
            }
        } else {
            inline(node, ctx, &mut run);
        }
    }
    if !run.is_empty() {
        out.push(Block::Paragraph(run));
    }
    out
}

fn block(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Block>) {
    match e.name.as_str() {
        "p" => out.extend(blocks(&e.children, ctx)),
        h @ ("h1" | "h2" | "h3" | "h4" | "h5" | "h6") => {
            let level = h.as_bytes()[1] - b'0';
            out.push(Block::heading(level, inlines(&e.children, ctx)));
        }
        "ul" | "ol" => out.push(Block::List(list(e, e.name == "ol", ctx))),
        "ac:task-list" => out.push(Block::List(task_list(e, ctx))),
        "table" => {
            let table = table(e, ctx);
            out.push(Block::Table(if ctx.cell_depth > 0 {
                one_line_cells(table)
            } else {
                table
            }));
        }
        "ac:adf-extension" => adf_extension(e, ctx, out),
        "blockquote" => out.push(Block::quote(blocks(&e.children, ctx))),
        "pre" => out.push(Block::code(None, raw_text(&e.children))),
        "hr" => out.push(Block::Rule),
        "ac:structured-macro" | "ac:macro" => macro_block(e, ctx, out),
        _ => out.extend(blocks(&e.children, ctx)),
    }
}

/// A bold line of its own (a code title, a panel's or an expand's title).
pub(super) fn title(text: String) -> Block {
    Block::paragraph(vec![Inline::strong(vec![Inline::Text(text)])])
}

fn list(e: &Element, ordered: bool, ctx: &mut Ctx<'_>) -> List {
    let mut items: Vec<ListItem> = Vec::new();
    for item in e.elements() {
        match item.name.as_str() {
            "li" => items.push(ListItem::new(blocks(&item.children, ctx))),
            // A list nested directly in a list (invalid but common) belongs to the item before.
            "ul" | "ol" => {
                let nested = Block::List(list(item, item.name == "ol", ctx));
                match items.last_mut() {
                    Some(last) => last.blocks.push(nested),
                    None => items.push(ListItem::new(vec![nested])),
                }
            }
            _ => {}
        }
    }
    if ordered {
        List::ordered(1, items)
    } else {
        List::bullet(items)
    }
}

fn task_list(e: &Element, ctx: &mut Ctx<'_>) -> List {
    let mut items = Vec::new();
    for task in e.elements().filter(|t| t.name == "ac:task") {
        let done = task
            .child("ac:task-status")
            .is_some_and(|s| raw_text(&s.children).trim() == "complete");
        let body = task
            .child("ac:task-body")
            .map(|b| blocks(&b.children, ctx))
            .unwrap_or_default();
        items.push(ListItem::task(done, body));
    }
    List::bullet(items)
}

/// The first row is the header (Markdown tables need one; Confluence's first row is one in
/// practice).
fn table(e: &Element, ctx: &mut Ctx<'_>) -> Table {
    let mut rows: Vec<Vec<Vec<Block>>> = Vec::new();
    collect_rows(e, ctx, &mut rows);
    let header = if rows.is_empty() {
        Vec::new()
    } else {
        rows.remove(0)
    };
    Table::new(header, rows)
}

fn collect_rows(e: &Element, ctx: &mut Ctx<'_>, rows: &mut Vec<Vec<Vec<Block>>>) {
    for child in e.elements() {
        match child.name.as_str() {
            "tr" => {
                ctx.cell_depth += 1;
                let cells = child
                    .elements()
                    .filter(|c| c.name == "td" || c.name == "th")
                    .map(|c| blocks(&c.children, ctx))
                    .collect();
                ctx.cell_depth -= 1;
                rows.push(cells);
            }
            "thead" | "tbody" | "tfoot" => collect_rows(child, ctx, rows),
            _ => {}
        }
    }
}

/// A table inside a table cell, each of its cells on one line. The Markdown writer writes such
/// a table's rows on lines of the outer cell joined by `<br>`, and also joins a cell's blocks
/// with `<br>`: an inner cell of two paragraphs or a list would read as more rows. So an inner
/// cell's blocks are joined with ` / ` instead, and its line breaks too.
fn one_line_cells(table: Table) -> Table {
    let one_line = |cells: Vec<Vec<Block>>| -> Vec<Vec<Block>> {
        cells
            .iter()
            .map(|cell| vec![Block::Paragraph(flatten(cell))])
            .collect()
    };
    Table::new(
        one_line(table.header),
        table.rows.into_iter().map(one_line).collect(),
    )
}

/// Separates what was on lines of its own, once flattened onto one line.
const SEPARATOR: &str = " / ";

/// `blocks` as inlines on one line.
fn flatten(blocks: &[Block]) -> Vec<Inline> {
    let mut out = Vec::new();
    for block in blocks {
        let part = match block {
            Block::Paragraph(content) | Block::Heading { content, .. } => {
                content.iter().map(without_breaks).collect()
            }
            Block::CodeBlock { code, .. } => {
                join(code.lines().map(|line| vec![Inline::code(line)]), SEPARATOR)
            }
            Block::Quote(inner) => flatten(inner),
            Block::List(list) => join(list.items.iter().map(|i| flatten(&i.blocks)), SEPARATOR),
            Block::Table(table) => join(
                std::iter::once(&table.header)
                    .chain(&table.rows)
                    .map(|row| join(row.iter().map(|cell| flatten(cell)), " | ")),
                SEPARATOR,
            ),
            Block::Markdown(markdown) => vec![Inline::text(markdown.as_str())],
            _ => Vec::new(),
        };
        append(&mut out, part, SEPARATOR);
    }
    out
}

/// The visible ones of `parts`, joined by `separator`.
fn join(parts: impl Iterator<Item = Vec<Inline>>, separator: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for part in parts {
        append(&mut out, part, separator);
    }
    out
}

/// Appends `part` to a line, after `separator` unless the line is empty; an invisible part
/// (a blank line, an empty cell) is left out.
fn append(line: &mut Vec<Inline>, part: Vec<Inline>, separator: &str) {
    if !part.iter().any(is_visible) {
        return;
    }
    if line.iter().any(is_visible) {
        line.push(Inline::text(separator));
    }
    line.extend(part);
}

fn is_visible(inline: &Inline) -> bool {
    match inline {
        Inline::Text(t) | Inline::Code(t) => !t.trim().is_empty(),
        Inline::SoftBreak | Inline::LineBreak => false,
        _ => true,
    }
}

/// `inline` with its line breaks as separators (one line of a cell).
fn without_breaks(inline: &Inline) -> Inline {
    let all = |content: &[Inline]| content.iter().map(without_breaks).collect::<Vec<_>>();
    match inline {
        Inline::LineBreak => Inline::text(SEPARATOR),
        Inline::SoftBreak => Inline::text(" "),
        Inline::Strong(c) => Inline::Strong(all(c)),
        Inline::Emphasis(c) => Inline::Emphasis(all(c)),
        Inline::Strikethrough(c) => Inline::Strikethrough(all(c)),
        Inline::Link {
            content,
            destination,
        } => Inline::link(all(content), destination.as_str()),
        other => other.clone(),
    }
}

fn inlines(nodes: &[Node], ctx: &mut Ctx<'_>) -> Vec<Inline> {
    let mut out = Vec::new();
    for n in nodes {
        inline(n, ctx, &mut out);
    }
    out
}

/// Text as the page shows it: a no-break space is a space.
pub(super) fn text(t: &str) -> Inline {
    Inline::Text(t.replace('\u{a0}', " "))
}

fn inline(node: &Node, ctx: &mut Ctx<'_>, out: &mut Vec<Inline>) {
    let e = match node {
        Node::Text(t) => {
            out.push(text(t));
            return;
        }
        Node::Element(e) => e,
    };
    match e.name.as_str() {
        "strong" | "b" => out.push(Inline::Strong(inlines(&e.children, ctx))),
        "em" | "i" => out.push(Inline::Emphasis(inlines(&e.children, ctx))),
        "s" | "del" | "strike" => out.push(Inline::Strikethrough(inlines(&e.children, ctx))),
        "code" => {
            // Spaces at the edges stay outside the code span, as the page shows them.
            let raw = raw_text(&e.children);
            let edge = |c: Option<char>| c.is_some_and(|c| c.is_whitespace() && c != '\u{a0}');
            if edge(raw.chars().next()) {
                out.push(Inline::text(" "));
            }
            out.push(Inline::Code(collapse(&raw)));
            if edge(raw.chars().next_back()) {
                out.push(Inline::text(" "));
            }
        }
        "br" => out.push(Inline::LineBreak),
        "a" => {
            let content = inlines(&e.children, ctx);
            match e.attr("href") {
                Some(href) if !href.is_empty() && raw_text(&e.children).trim() != href => {
                    out.push(Inline::link(content, href));
                }
                _ => out.extend(content),
            }
        }
        "img" => out.push(text(e.attr("alt").or(e.attr("title")).unwrap_or(""))),
        "ac:link" => link(e, ctx, out),
        "ac:image" => {
            let alt = image_alt(e);
            let caption = e
                .child("ac:caption")
                .map(|c| inlines(&c.children, ctx))
                .filter(|c| c.iter().any(is_visible));
            match caption {
                Some(caption) => {
                    if !alt.is_empty() {
                        out.push(text(&alt));
                        out.push(Inline::text(" — "));
                    }
                    out.extend(caption);
                }
                None => out.push(text(&alt)),
            }
        }
        "ac:adf-extension" => {
            // As a block (see `adf_extension`), the content once and no attribute.
            let content = e
                .child("ac:adf-node")
                .and_then(|n| adf_content(n, "ac:adf-content"))
                .or_else(|| adf_content(e, "ac:adf-fallback"));
            if let Some(content) = content {
                out.extend(inlines(content, ctx));
            }
        }
        "ac:emoticon" => {
            let t = e
                .attr("ac:emoji-fallback")
                .map(str::to_owned)
                .or_else(|| e.attr("ac:name").map(|n| format!(":{n}:")))
                .unwrap_or_default();
            out.push(Inline::Text(t));
        }
        "time" => out.push(text(e.attr("datetime").unwrap_or(""))),
        "ac:placeholder" | "ac:parameter" | "ac:adf-attribute" => {}
        "ac:structured-macro" | "ac:macro" => match e.attr("ac:name").unwrap_or("") {
            "status" => {
                if let Some(title) = e.param("title") {
                    out.push(Inline::Text(format!("[{title}]")));
                }
            }
            "jira" | "jiraissues" => jira(e, ctx, out),
            _ => {}
        },
        _ => out.extend(inlines(&e.children, ctx)),
    }
}

/// Runs of whitespace as one space (code spans, whose text the writer keeps as it is).
pub(super) fn collapse(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() && c != '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\u{a0}', " ")
}

/// A link's text: its plain-text body, or its rich body; `None` when there is no visible text.
fn link_body(e: &Element, ctx: &mut Ctx<'_>) -> Option<Vec<Inline>> {
    if let Some(plain) = e.child("ac:plain-text-link-body") {
        let body = raw_text(&plain.children);
        let body = body.trim();
        return (!body.is_empty()).then(|| vec![text(body)]);
    }
    let rich = e.child("ac:link-body")?;
    (!raw_text(&rich.children).trim().is_empty()).then(|| inlines(&rich.children, ctx))
}

fn link(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Inline>) {
    let body = link_body(e, ctx);
    if let Some(user) = e.child("ri:user") {
        mention(user, body, ctx, out);
    } else if let Some(page) = e.child("ri:page") {
        page_link(page, body, ctx, out);
    } else if let Some(url) = e.child("ri:url").and_then(|u| u.attr("ri:value")) {
        out.push(Inline::link(or_text(body, url), url));
    } else if let Some(att) = e.child("ri:attachment") {
        out.extend(attachment(att, body, ctx));
    } else if let Some(post) = e.child("ri:blog-post") {
        out.extend(or_text(body, post.attr("ri:content-title").unwrap_or("")));
    } else if let Some(space) = e.child("ri:space") {
        out.extend(or_text(body, space.attr("ri:space-key").unwrap_or("")));
    } else {
        out.extend(or_text(body, e.attr("ac:anchor").unwrap_or("")));
    }
}

pub(super) fn linked(content: Vec<Inline>, url: Option<String>) -> Vec<Inline> {
    match url {
        Some(url) => vec![Inline::link(content, url)],
        None => content,
    }
}

fn or_text(body: Option<Vec<Inline>>, fallback: &str) -> Vec<Inline> {
    body.unwrap_or_else(|| vec![text(fallback)])
}

/// A user (`ri:user`) as `@name`.
pub(super) fn mention(
    user: &Element,
    body: Option<Vec<Inline>>,
    ctx: &Ctx<'_>,
    out: &mut Vec<Inline>,
) {
    let name = user_ref(user).and_then(|u| ctx.resolver.user(&u));
    match (name, body) {
        (Some(name), _) => out.push(Inline::Text(format!("@{name}"))),
        (None, Some(body)) => {
            out.push(Inline::text("@"));
            out.extend(body);
        }
        (None, None) => out.push(Inline::text("@unknown user")),
    }
}

/// A page (`ri:page`), linked where its URL is known.
pub(super) fn page_link(
    page: &Element,
    body: Option<Vec<Inline>>,
    ctx: &Ctx<'_>,
    out: &mut Vec<Inline>,
) {
    let target = page_ref(page, &ctx.space);
    let label = or_text(body, target.as_ref().map_or("", |t| t.title.as_str()));
    let url = target.and_then(|t| ctx.resolver.page_url(&t));
    out.extend(linked(label, url));
}

/// An attachment (`ri:attachment`), linked where its URL can be formed: an attachment of this
/// page, or of a page named by content id (`ri:content-entity`, Cloud). One of a page named
/// by title has no known id, so no link.
pub(super) fn attachment(att: &Element, body: Option<Vec<Inline>>, ctx: &Ctx<'_>) -> Vec<Inline> {
    let file = att.attr("ri:filename").unwrap_or("");
    let label = or_text(body, file);
    let owner = match att.elements().next() {
        None => ctx.page_id.as_deref(),
        Some(c) if c.name == "ri:content-entity" => c.attr("ri:content-id"),
        Some(_) => None,
    };
    let url = owner
        .filter(|id| !id.is_empty() && !file.is_empty())
        .and_then(|id| ctx.resolver.attachment_url(id, file));
    linked(label, url)
}

fn image_alt(e: &Element) -> String {
    let named = e
        .attr("ac:alt")
        .or(e.attr("ac:title"))
        .filter(|a| !a.is_empty());
    if let Some(alt) = named {
        return alt.to_owned();
    }
    if let Some(file) = e.child("ri:attachment").and_then(|a| a.attr("ri:filename")) {
        return file.to_owned();
    }
    e.child("ri:url")
        .and_then(|u| u.attr("ri:value"))
        .and_then(|v| v.rsplit('/').next())
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests.

    use super::super::test_site::md;

    #[test]
    fn image_captions_are_kept() {
        assert_eq!(
            md(fixture!("cloud_image_caption.xml"), true),
            "architecture.png — Figure 1: the **ingest** path\n\n\
             Inline build.svg — build status badge.\n\n\
             plain.png"
        );
    }

    #[test]
    fn code_blocks_and_tables_inside_cells_stay_readable() {
        assert_eq!(
            md(fixture!("nested_tables.xml"), true),
            "| **Service** | **Start** | **Settings** |\n\
             | --- | --- | --- |\n\
             | ingest \
             | `if [ -n \"$TOKEN\" ]; then`<br>`  ingest --all \\| tee log`<br>`fi` \
             | Defaults:<br>Key \\| Value<br>timeout \\| 30 s<br>retries \\| 2 / on 5xx only<br>hosts \\| a.example / b.example |"
        );
    }
}
