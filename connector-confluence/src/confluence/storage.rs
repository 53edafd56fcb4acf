//! Confluence storage format (XHTML with `ac:` and `ri:` elements) to Markdown.
//!
//! Storage format is a fragment with several roots, undeclared `ac:`/`ri:` prefixes and HTML
//! entities (`&nbsp;`, `&rsquo;`) that XML does not define. It is wrapped in one root that
//! declares the prefixes and read with quick-xml, resolving HTML5 entities. The fragment is
//! parsed into a small tree first, so that user mentions and `include` macros can be collected
//! and resolved (with network lookups, cached per run) before the Markdown is written, through
//! core's Markdown writer (which escapes the text and owns lists, tables and fences).

use std::collections::HashSet;
use std::sync::Arc;

use connector_core::text::markdown::{Block, Inline, List, ListItem, MarkdownWriter, Table};

use quick_xml::Reader;
use quick_xml::escape::resolve_html5_entity;
use quick_xml::events::{BytesStart, Event};

/// Nesting deeper than this is refused: real pages stay far below it, and the renderer is
/// recursive.
const MAX_DEPTH: usize = 200;

/// `include` macros inside included pages are followed this many levels deep.
const MAX_INCLUDE_DEPTH: usize = 3;

/// One node of a parsed storage-format body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// An element with its qualified name (`ac:structured-macro`) and attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The macro parameter `name` (`ac:parameter ac:name="language"`), as text.
    fn param(&self, name: &str) -> Option<String> {
        self.elements()
            .find(|e| e.name == "ac:parameter" && e.attr("ac:name").unwrap_or("") == name)
            .map(|e| raw_text(&e.children).trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("the storage format is not well-formed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("the storage format nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
}

/// Parses a storage-format fragment.
pub(crate) fn parse(storage: &str) -> Result<Vec<Node>, StorageError> {
    const OPEN: &str = r#"<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier" xmlns:at="http://atlassian.com/template">"#;
    let wrapped = format!("{OPEN}{storage}</root>");
    let mut reader = Reader::from_str(&wrapped);
    let mut stack: Vec<Element> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    let malformed = |reader: &Reader<&[u8]>, message: String| StorageError::Malformed {
        position: reader.buffer_position().saturating_sub(OPEN.len() as u64),
        message,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(StorageError::TooDeep);
                }
                stack.push(element(&start));
            }
            Event::Empty(start) => push(&mut stack, &mut top, Node::Element(element(&start))),
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(malformed(&reader, "unexpected end tag".to_owned()));
                };
                push(&mut stack, &mut top, Node::Element(done));
            }
            Event::Text(text) => push_text(&mut stack, &mut top, &text.xml10_content()),
            Event::CData(data) => push_text(&mut stack, &mut top, &data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_html5_entity(&reference) {
                        Some(s) => s.to_owned(),
                        // An unknown entity is kept as written rather than failing the page.
                        None => format!("&{};", &*reference),
                    },
                    Err(_) => String::new(),
                };
                push_text(&mut stack, &mut top, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed(&reader, "unclosed element".to_owned()));
    }
    // Unwrap the synthetic root.
    Ok(match top.pop() {
        Some(Node::Element(root)) if root.name == "root" => root.children,
        Some(other) => vec![other],
        None => Vec::new(),
    })
}

fn element(start: &BytesStart<'_>) -> Element {
    let attrs = start
        .attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let key = a.key.as_ref().to_owned();
            let value = a
                .normalized_value_with(quick_xml::XmlVersion::Implicit1_0, 8, resolve_html5_entity)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string());
            (key, value)
        })
        .collect();
    Element {
        name: start.name().as_ref().to_owned(),
        attrs,
        children: Vec::new(),
    }
}

fn push(stack: &mut [Element], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => top.push(node),
    }
}

fn push_text(stack: &mut [Element], top: &mut Vec<Node>, text: &str) {
    if text.is_empty() {
        return;
    }
    let children = match stack.last_mut() {
        Some(parent) => &mut parent.children,
        None => top,
    };
    if let Some(Node::Text(prev)) = children.last_mut() {
        prev.push_str(text);
    } else {
        children.push(Node::Text(text.to_owned()));
    }
}

/// A mentioned user, as storage format names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum UserRef {
    /// Cloud: `ri:account-id`.
    AccountId(String),
    /// Server/DC: `ri:userkey`.
    Key(String),
    /// Older Server: `ri:username`.
    Username(String),
}

/// A page named by space key and title (`ri:page`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageRef {
    pub(crate) space: String,
    pub(crate) title: String,
}

/// What a body refers to that needs a lookup before it can be rendered.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    pub(crate) users: HashSet<UserRef>,
    pub(crate) includes: HashSet<PageRef>,
}

fn user_ref(e: &Element) -> Option<UserRef> {
    let non_empty = |k: &str| e.attr(k).filter(|v| !v.is_empty()).map(str::to_owned);
    non_empty("ri:account-id")
        .map(UserRef::AccountId)
        .or_else(|| non_empty("ri:userkey").map(UserRef::Key))
        .or_else(|| non_empty("ri:username").map(UserRef::Username))
}

fn page_ref(e: &Element, default_space: &str) -> Option<PageRef> {
    let title = e.attr("ri:content-title").filter(|t| !t.is_empty())?;
    let space = e
        .attr("ri:space-key")
        .filter(|s| !s.is_empty())
        .unwrap_or(default_space);
    Some(PageRef {
        space: space.to_owned(),
        title: title.to_owned(),
    })
}

fn is_include(e: &Element) -> bool {
    e.name == "ac:structured-macro"
        && matches!(e.attr("ac:name"), Some("include" | "excerpt-include"))
}

/// The page an `include`/`excerpt-include` macro names.
fn include_target(e: &Element, default_space: &str) -> Option<PageRef> {
    let link = e
        .elements()
        .filter(|p| p.name == "ac:parameter")
        .find_map(|p| p.child("ac:link"))?;
    page_ref(link.child("ri:page")?, default_space)
}

/// Collects the users and included pages `nodes` refer to.
pub(crate) fn collect_refs(nodes: &[Node], default_space: &str, out: &mut Refs) {
    for node in nodes {
        let Node::Element(e) = node else { continue };
        if e.name == "ri:user"
            && let Some(user) = user_ref(e)
        {
            out.users.insert(user);
        }
        if is_include(e)
            && let Some(page) = include_target(e, default_space)
        {
            out.includes.insert(page);
        }
        collect_refs(&e.children, default_space, out);
    }
}

/// Answers the lookups rendering needs; every answer comes from a cache filled beforehand.
pub(crate) trait Resolver {
    /// The display name of a user.
    fn user(&self, user: &UserRef) -> Option<String>;
    /// The parsed body of an included page (and its space key).
    fn include(&self, page: &PageRef) -> Option<Arc<Vec<Node>>>;
    /// The web URL of a page.
    fn page_url(&self, page: &PageRef) -> Option<String>;
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

struct Ctx<'a> {
    resolver: &'a dyn Resolver,
    space: String,
    /// The content id of the page whose body is rendered; `None` inside an included page.
    page_id: Option<String>,
    /// The pages being included, to stop include cycles.
    including: Vec<PageRef>,
    /// How many table cells the content being rendered sits in.
    cell_depth: usize,
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
fn blocks(nodes: &[Node], ctx: &mut Ctx<'_>) -> Vec<Block> {
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
fn title(text: String) -> Block {
    Block::paragraph(vec![Inline::strong(vec![Inline::Text(text)])])
}

fn macro_block(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Block>) {
    let name = e.attr("ac:name").unwrap_or("");
    let body = |ctx: &mut Ctx<'_>| {
        e.child("ac:rich-text-body")
            .map(|b| blocks(&b.children, ctx))
            .unwrap_or_default()
    };
    match name {
        "code" | "noformat" => {
            let text = e
                .child("ac:plain-text-body")
                .map(|b| raw_text(&b.children))
                .unwrap_or_default();
            let lang = e.param("language").filter(|_| name == "code");
            if let Some(t) = e.param("title") {
                out.push(title(t));
            }
            out.push(Block::code(lang.as_deref(), text));
        }
        "info" | "note" | "warning" | "tip" | "panel" | "success" | "error" => {
            let heading = match (panel_label(name), e.param("title")) {
                (Some(l), Some(t)) => Some(format!("{l}: {t}")),
                (Some(l), None) => Some(l.to_owned()),
                (None, Some(t)) => Some(t),
                (None, None) => None,
            };
            let mut inner: Vec<Block> = heading.into_iter().map(title).collect();
            inner.extend(body(ctx));
            out.push(Block::quote(inner));
        }
        "expand" => {
            out.push(title(
                e.param("title").unwrap_or_else(|| "Details".to_owned()),
            ));
            out.extend(body(ctx));
        }
        n if FILE_MACROS.contains(&n) => {
            if let Some(file) = shown_file(e, ctx) {
                let mut line = vec![Inline::text("Attachment: ")];
                line.extend(file);
                out.push(Block::Paragraph(line));
            }
        }
        "include" | "excerpt-include" => {
            let Some(page) = include_target(e, &ctx.space) else {
                return;
            };
            if ctx.including.len() >= MAX_INCLUDE_DEPTH || ctx.including.contains(&page) {
                return;
            }
            let Some(nodes) = ctx.resolver.include(&page) else {
                return;
            };
            let nodes: &[Node] = if name == "excerpt-include" {
                match find_macro(&nodes, "excerpt") {
                    Some(excerpt) => excerpt
                        .child("ac:rich-text-body")
                        .map_or(&[][..], |b| b.children.as_slice()),
                    None => &[],
                }
            } else {
                &nodes
            };
            let outer_space = std::mem::replace(&mut ctx.space, page.space.clone());
            // The included page's attachments are its own, and its id is not known here.
            let outer_id = ctx.page_id.take();
            ctx.including.push(page);
            out.extend(blocks(nodes, ctx));
            ctx.including.pop();
            ctx.space = outer_space;
            ctx.page_id = outer_id;
        }
        // Navigation, listing and report macros carry no content of the page itself (and the
        // pages or spaces their parameters name are not what they show).
        "toc"
        | "children"
        | "pagetree"
        | "recently-updated"
        | "contentbylabel"
        | "attachments"
        | "livesearch"
        | "anchor"
        | "contributors"
        | "contributors-summary"
        | "tasks-report-macro"
        | "detailssummary"
        | "content-report-table"
        | "blog-posts"
        | "create-from-template"
        | "listlabels"
        | "related-labels"
        | "popular-labels"
        | "page-index"
        | "change-history"
        | "gallery" => {}
        _ => {
            if e.child("ac:rich-text-body").is_some() {
                out.extend(body(ctx));
            } else if let Some(text) = e.child("ac:plain-text-body") {
                // A verbatim body: its lines kept, nothing in it read as Markdown.
                out.extend(Block::plain_text(&raw_text(&text.children)));
            } else {
                // A macro without a body that shows something it names (a user's profile, an
                // embedded URL, a file): what it names is the readable part.
                let named = named_resources(e, ctx);
                if !named.is_empty() {
                    out.push(Block::Paragraph(named));
                }
            }
        }
    }
}

/// The heading of a panel macro or Cloud panel of this kind; `None` for a plain or custom
/// panel.
fn panel_label(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "info" => "Info",
        "note" => "Note",
        "warning" => "Warning",
        "tip" => "Tip",
        "success" => "Success",
        "error" => "Error",
        _ => return None,
    })
}

/// Macros that show one attached file (a preview, a player); the file is in the `name`
/// parameter, as an `ri:attachment` (or, in older bodies, as its file name).
const FILE_MACROS: &[&str] = &[
    "view-file",
    "viewfile",
    "view-pdf",
    "viewpdf",
    "viewdoc",
    "viewxls",
    "viewppt",
    "multimedia",
    "office-word",
    "office-excel",
    "office-powerpoint",
];

/// The parameters of a macro (`ac:default-parameter` is the unnamed one of older bodies).
fn params(e: &Element) -> impl Iterator<Item = &Element> {
    e.elements()
        .filter(|p| p.name == "ac:parameter" || p.name == "ac:default-parameter")
}

/// The file a file macro shows, linked where its URL can be formed.
fn shown_file(e: &Element, ctx: &Ctx<'_>) -> Option<Vec<Inline>> {
    if let Some(att) = params(e).find_map(|p| p.child("ri:attachment")) {
        return Some(attachment(att, None, ctx));
    }
    let file = e.param("name")?;
    let url = ctx
        .page_id
        .as_deref()
        .and_then(|id| ctx.resolver.attachment_url(id, &file));
    Some(linked(vec![text(&file)], url))
}

/// The users, pages, URLs and files a macro's parameters name, comma-separated.
fn named_resources(e: &Element, ctx: &mut Ctx<'_>) -> Vec<Inline> {
    fn walk(nodes: &[Node], found: &mut Vec<Vec<Inline>>, ctx: &mut Ctx<'_>) {
        for node in nodes {
            let Node::Element(e) = node else { continue };
            let mut one = Vec::new();
            match e.name.as_str() {
                "ri:user" => mention(e, None, ctx, &mut one),
                "ri:page" => page_link(e, None, ctx, &mut one),
                "ri:attachment" => one = attachment(e, None, ctx),
                "ri:url" => {
                    if let Some(url) = e.attr("ri:value").filter(|u| !u.trim().is_empty()) {
                        one.push(Inline::autolink(url.trim()));
                    }
                }
                _ => walk(&e.children, found, ctx),
            }
            if !one.is_empty() {
                found.push(one);
            }
        }
    }
    let mut found = Vec::new();
    for p in params(e) {
        walk(&p.children, &mut found, ctx);
    }
    let mut out = Vec::new();
    for (i, one) in found.into_iter().enumerate() {
        if i > 0 {
            out.push(Inline::text(", "));
        }
        out.extend(one);
    }
    out
}

/// Cloud's editor writes its own nodes (panels of the new editor, decision lists) as an
/// `ac:adf-extension`: the node, with attributes and content, and a fallback that repeats the
/// content as HTML for readers that do not know the node. The content is written once: the
/// node's, or the fallback where the node has none (an app's extension); attributes are
/// settings, never text.
fn adf_extension(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Block>) {
    let node = e.child("ac:adf-node");
    if let Some(rendered) = node.and_then(|n| adf_node(n, ctx)) {
        out.extend(rendered);
        return;
    }
    let fallback = e
        .child("ac:adf-fallback")
        .or_else(|| node.and_then(|n| n.child("ac:adf-fallback")));
    if let Some(fallback) = fallback {
        out.extend(blocks(&fallback.children, ctx));
    }
}

/// The value of the ADF attribute `key` of an `ac:adf-node`.
fn adf_attr(node: &Element, key: &str) -> Option<String> {
    node.elements()
        .find(|a| a.name == "ac:adf-attribute" && a.attr("key") == Some(key))
        .map(|a| raw_text(&a.children).trim().to_owned())
}

/// The content of an `ac:adf-node` or `ac:adf-fallback` unless it shows nothing.
fn adf_content<'a>(node: &'a Element, name: &str) -> Option<&'a [Node]> {
    node.child(name)
        .map(|c| c.children.as_slice())
        .filter(|c| !is_blank(c))
}

/// An ADF node as blocks; `None` when the node has no content of its own to show.
fn adf_node(node: &Element, ctx: &mut Ctx<'_>) -> Option<Vec<Block>> {
    match node.attr("type") {
        Some("panel") => {
            let content = adf_content(node, "ac:adf-content")?;
            let kind = adf_attr(node, "panel-type").unwrap_or_default();
            let mut inner: Vec<Block> = panel_label(&kind)
                .map(|l| title(l.to_owned()))
                .into_iter()
                .collect();
            inner.extend(blocks(content, ctx));
            Some(vec![Block::quote(inner)])
        }
        Some("decision-list") => {
            let items: Vec<ListItem> = node
                .elements()
                .filter(|i| i.name == "ac:adf-node" && i.attr("type") == Some("decision-item"))
                .filter_map(|i| decision(i, ctx))
                .collect();
            (!items.is_empty()).then(|| vec![Block::List(List::bullet(items))])
        }
        _ => Some(blocks(adf_content(node, "ac:adf-content")?, ctx)),
    }
}

/// One decision, led by its state (a decision list records what was decided and what is
/// still open); an empty one (a placeholder the author left) is left out.
fn decision(item: &Element, ctx: &mut Ctx<'_>) -> Option<ListItem> {
    let content = adf_content(item, "ac:adf-content")?;
    let state = adf_attr(item, "state").unwrap_or_default();
    let label = if state.eq_ignore_ascii_case("DECIDED") {
        "Decided:"
    } else if state.eq_ignore_ascii_case("UNDECIDED") {
        "Undecided:"
    } else {
        "Decision:"
    };
    let label = Inline::strong(vec![Inline::text(label)]);
    let mut body = blocks(content, ctx);
    match body.first_mut() {
        Some(Block::Paragraph(first)) => {
            first.splice(0..0, [label, Inline::text(" ")]);
        }
        _ => body.insert(0, Block::paragraph(vec![label])),
    }
    Some(ListItem::new(body))
}

/// Whether `nodes` show nothing: blank text and no element but line breaks.
fn is_blank(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        Node::Element(e) => e.name == "br",
    })
}

fn find_macro<'a>(nodes: &'a [Node], name: &str) -> Option<&'a Element> {
    nodes.iter().find_map(|n| match n {
        Node::Element(e) if e.name == "ac:structured-macro" && e.attr("ac:name") == Some(name) => {
            Some(e)
        }
        Node::Element(e) => find_macro(&e.children, name),
        Node::Text(_) => None,
    })
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

/// Text content without any rendering (code bodies, parameters).
fn raw_text(nodes: &[Node]) -> String {
    let mut s = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => s.push_str(t),
            Node::Element(e) => s.push_str(&raw_text(&e.children)),
        }
    }
    s
}

/// Text as the page shows it: a no-break space is a space.
fn text(t: &str) -> Inline {
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
fn collapse(text: &str) -> String {
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

fn linked(content: Vec<Inline>, url: Option<String>) -> Vec<Inline> {
    match url {
        Some(url) => vec![Inline::link(content, url)],
        None => content,
    }
}

fn or_text(body: Option<Vec<Inline>>, fallback: &str) -> Vec<Inline> {
    body.unwrap_or_else(|| vec![text(fallback)])
}

/// A user (`ri:user`) as `@name`.
fn mention(user: &Element, body: Option<Vec<Inline>>, ctx: &Ctx<'_>, out: &mut Vec<Inline>) {
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
fn page_link(page: &Element, body: Option<Vec<Inline>>, ctx: &Ctx<'_>, out: &mut Vec<Inline>) {
    let target = page_ref(page, &ctx.space);
    let label = or_text(body, target.as_ref().map_or("", |t| t.title.as_str()));
    let url = target.and_then(|t| ctx.resolver.page_url(&t));
    out.extend(linked(label, url));
}

/// An attachment (`ri:attachment`), linked where its URL can be formed: an attachment of this
/// page, or of a page named by content id (`ri:content-entity`, Cloud). One of a page named
/// by title has no known id, so no link.
fn attachment(att: &Element, body: Option<Vec<Inline>>, ctx: &Ctx<'_>) -> Vec<Inline> {
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

/// The `jira` macro: one issue (`key`), or the issues (or their count) a JQL query finds.
/// Cloud's own Jira is the server "System Jira" (or none named), on the site itself; another
/// server is an application link whose URL the body does not give, so it gets no link.
fn jira(e: &Element, ctx: &Ctx<'_>, out: &mut Vec<Inline>) {
    let own = e
        .param("server")
        .is_none_or(|s| s.eq_ignore_ascii_case("system jira"));
    let site = own
        .then(|| ctx.resolver.jira_site())
        .flatten()
        .map(|s| s.trim_end_matches('/').to_owned());
    if let Some(key) = e.param("key") {
        let url = site
            .filter(|_| is_issue_key(&key))
            .map(|s| format!("{s}/browse/{key}"));
        out.extend(linked(vec![Inline::Text(key)], url));
        return;
    }
    if let Some(jql) = e.param("jqlQuery").map(|q| collapse(&q)) {
        let count = e
            .param("count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"));
        out.push(Inline::text(if count {
            "Jira issue count: "
        } else {
            "Jira issues: "
        }));
        let url = site.and_then(|s| {
            let mut url = url::Url::parse(&format!("{s}/issues/")).ok()?;
            url.query_pairs_mut().append_pair("jql", &jql);
            Some(url.to_string())
        });
        out.extend(linked(vec![Inline::Code(jql)], url));
        return;
    }
    // The old `jiraissues` macro names a search by its URL, which may carry a login
    // (`os_username`, `os_password`): those are dropped.
    if let Some(mut url) = e.param("url").and_then(|u| url::Url::parse(&u).ok()) {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.starts_with("os_"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        out.push(Inline::text("Jira issues: "));
        out.push(Inline::autolink(url.to_string()));
    }
}

/// `PROJ-123`: a project key (a letter, then letters, digits or `_`) and a number.
fn is_issue_key(key: &str) -> bool {
    let Some((project, number)) = key.rsplit_once('-') else {
        return false;
    };
    project
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
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

    use super::*;

    const ADA: &str = "557058:1a2b3c4d-0000-4000-8000-000000000001";
    const SITE: &str = "https://acme.atlassian.net";

    /// A Cloud site's lookups; `links` off is a site where no URL can be formed.
    struct Site {
        links: bool,
    }

    impl Resolver for Site {
        fn user(&self, user: &UserRef) -> Option<String> {
            (*user == UserRef::AccountId(ADA.to_owned())).then(|| "Ada Lovelace".to_owned())
        }
        fn include(&self, _: &PageRef) -> Option<Arc<Vec<Node>>> {
            None
        }
        fn page_url(&self, page: &PageRef) -> Option<String> {
            self.links
                .then(|| format!("{SITE}/wiki/display/{}/{}", page.space, page.title))
        }
        fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
            self.links.then(|| {
                let file = filename.replace(' ', "%20");
                format!("{SITE}/wiki/download/attachments/{page_id}/{file}")
            })
        }
        fn jira_site(&self) -> Option<String> {
            self.links.then(|| SITE.to_owned())
        }
    }

    /// `storage` rendered as the body of page 1234 in space ENG.
    fn md(storage: &str, links: bool) -> String {
        let nodes = parse(storage).unwrap();
        let owner = Owner {
            space: "ENG",
            page_id: Some("1234"),
        };
        render_for(&nodes, owner, &Site { links })
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/storage/", $name))
        };
    }

    #[test]
    fn adf_panels_render_their_content_once_without_attributes() {
        assert_eq!(
            md(fixture!("cloud_adf_panel.xml"), true),
            "Before the panels.\n\n\
             > **Note**\n>\n> Hello\n\n\
             > Launch checklist:\n>\n> - tag the **release**\n\n\
             > **Error**\n>\n> Never run this on production.\n\n\
             Rendered by an app.\n\n\
             After the panels."
        );
    }

    #[test]
    fn adf_decision_lists_are_lists_with_their_state() {
        assert_eq!(
            md(fixture!("cloud_adf_decisions.xml"), true),
            "## Decisions\n\n\
             - **Decided:** We ship on 2026-04-01 with **Postgres 17**\n\
             - **Undecided:** Who owns the migration\n\n\
             Next steps follow."
        );
    }

    #[test]
    fn adf_without_content_of_its_own_shows_the_fallback_inline_too() {
        let panel = r#"<h3>Status <ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note</ac:adf-attribute><ac:adf-content><p>green</p></ac:adf-content></ac:adf-node><ac:adf-fallback><p>green</p></ac:adf-fallback></ac:adf-extension></h3>"#;
        assert_eq!(md(panel, true), "### Status green");
        // Only the fallback, inside the node (some writers put it there).
        let inside = r#"<ac:adf-extension><ac:adf-node type="decision-list"><ac:adf-attribute key="local-id">x</ac:adf-attribute><ac:adf-fallback><ul class="decision-list"><li>Use Rust</li></ul></ac:adf-fallback></ac:adf-node></ac:adf-extension>"#;
        assert_eq!(md(inside, true), "- Use Rust");
    }

    #[test]
    fn jira_macros_show_the_issue_or_the_query_linked_on_cloud() {
        assert_eq!(
            md(fixture!("cloud_jira_macros.xml"), true),
            "Tracked in [ENG-42](https://acme.atlassian.net/browse/ENG-42).\n\n\
             Jira issues: [`project = ENG AND status = \"In Progress\" ORDER BY priority DESC`]\
             (https://acme.atlassian.net/issues/?jql=project+%3D+ENG+AND+status+%3D+%22In+Progress%22+ORDER+BY+priority+DESC)\n\n\
             Open bugs: Jira issue count: [`project = ENG AND type = Bug AND resolution = Unresolved`]\
             (https://acme.atlassian.net/issues/?jql=project+%3D+ENG+AND+type+%3D+Bug+AND+resolution+%3D+Unresolved)\n\n\
             Partner: OPS-7"
        );
    }

    #[test]
    fn jira_macros_without_a_known_site_show_the_issue_or_the_query() {
        assert_eq!(
            md(fixture!("cloud_jira_macros.xml"), false),
            "Tracked in ENG-42.\n\n\
             Jira issues: `project = ENG AND status = \"In Progress\" ORDER BY priority DESC`\n\n\
             Open bugs: Jira issue count: `project = ENG AND type = Bug AND resolution = Unresolved`\n\n\
             Partner: OPS-7"
        );
        // Server's old `jiraissues` macro names a search URL, which may carry a login.
        let old = r#"<ac:structured-macro ac:name="jiraissues"><ac:parameter ac:name="url">https://jira.example.com/sr/jira.issueviews:searchrequest-xml/temp/SearchRequest.xml?jqlQuery=project+%3D+OPS&amp;os_username=bot&amp;os_password=hunter2&amp;tempMax=100</ac:parameter></ac:structured-macro>"#;
        let text = md(old, true);
        assert_eq!(
            text,
            "Jira issues: <https://jira.example.com/sr/jira.issueviews:searchrequest-xml/temp/SearchRequest.xml?jqlQuery=project+%3D+OPS&tempMax=100>"
        );
    }

    #[test]
    fn file_macros_name_their_attachment_linked_where_possible() {
        assert_eq!(
            md(fixture!("server_view_file.xml"), true),
            "Templates for each audience:\n\n\
             | For researchers | For engineers |\n\
             | --- | --- |\n\
             | Attachment: [research template.docx](https://acme.atlassian.net/wiki/download/attachments/1234/research%20template.docx) \
             | Attachment: [Engineering Handbook.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/Engineering%20Handbook.pdf) |\n\n\
             Attachment: [demo.mp4](https://acme.atlassian.net/wiki/download/attachments/1234/demo.mp4)\n\n\
             Attachment: budget.xlsx\n\n\
             The spec is [spec v2.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/spec%20v2.pdf)."
        );
        assert_eq!(
            md(fixture!("server_view_file.xml"), false),
            "Templates for each audience:\n\n\
             | For researchers | For engineers |\n\
             | --- | --- |\n\
             | Attachment: research template.docx | Attachment: Engineering Handbook.pdf |\n\n\
             Attachment: demo.mp4\n\n\
             Attachment: budget.xlsx\n\n\
             The spec is spec v2.pdf."
        );
    }

    #[test]
    fn an_included_pages_attachments_are_not_linked_to_this_page() {
        struct Including;
        impl Resolver for Including {
            fn user(&self, _: &UserRef) -> Option<String> {
                None
            }
            fn include(&self, _: &PageRef) -> Option<Arc<Vec<Node>>> {
                let body = r#"<ac:structured-macro ac:name="view-file"><ac:parameter ac:name="name"><ri:attachment ri:filename="shared.pdf" /></ac:parameter></ac:structured-macro>"#;
                Some(Arc::new(parse(body).unwrap()))
            }
            fn page_url(&self, _: &PageRef) -> Option<String> {
                None
            }
            fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
                Some(format!(
                    "{SITE}/wiki/download/attachments/{page_id}/{filename}"
                ))
            }
        }
        let body = r#"<ac:structured-macro ac:name="include"><ac:parameter ac:name=""><ac:link><ri:page ri:content-title="Shared" /></ac:link></ac:parameter></ac:structured-macro><p><ac:link><ri:attachment ri:filename="own.pdf" /></ac:link> and <ac:link><ri:attachment ri:filename="cloud.pdf"><ri:content-entity ri:content-id="777" /></ri:attachment></ac:link></p>"#;
        let owner = Owner {
            space: "ENG",
            page_id: Some("1234"),
        };
        assert_eq!(
            render_for(&parse(body).unwrap(), owner, &Including),
            "Attachment: shared.pdf\n\n\
             [own.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/own.pdf) and \
             [cloud.pdf](https://acme.atlassian.net/wiki/download/attachments/777/cloud.pdf)"
        );
    }

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

    #[test]
    fn common_macros_render_readably() {
        assert_eq!(
            md(fixture!("common_macros.xml"), true),
            "## Owners\n\n\
             Owner: @Ada Lovelace [On track] :check_mark:\n\n\
             @Ada Lovelace\n\n\
             - [x] Write the runbook\n\
             - [ ] Review with @Ada Lovelace by 2026-05-04\n\n\
             **Rollback**\n\n\
             Redeploy the previous tag.\n\n\
             <https://www.youtube.com/watch?v=abc123>"
        );
    }
}
