//! Confluence storage format (XHTML with `ac:` and `ri:` elements) to Markdown.
//!
//! Storage format is a fragment with several roots, undeclared `ac:`/`ri:` prefixes and HTML
//! entities (`&nbsp;`, `&rsquo;`) that XML does not define. It is wrapped in one root that
//! declares the prefixes and read with quick-xml, resolving HTML5 entities. The fragment is
//! parsed into a small tree first, so that user mentions and `include` macros can be collected
//! and resolved (with network lookups, cached per run) before the Markdown is written.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

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
}

struct Ctx<'a> {
    resolver: &'a dyn Resolver,
    space: String,
    /// The pages being included, to stop include cycles.
    including: Vec<PageRef>,
}

/// Renders a parsed body as Markdown; `space` is the key of the page's space (the default for
/// links and includes that name none).
pub(crate) fn render(nodes: &[Node], space: &str, resolver: &dyn Resolver) -> String {
    let mut ctx = Ctx {
        resolver,
        space: space.to_owned(),
        including: Vec::new(),
    };
    let blocks = blocks(nodes, &mut ctx);
    let mut out = blocks.join("\n\n");
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out.trim().to_owned()
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

const INLINE_MACROS: &[&str] = &["status", "jira", "anchor"];

fn is_block(node: &Node) -> bool {
    match node {
        Node::Element(e) if e.name == "ac:structured-macro" || e.name == "ac:macro" => {
            !INLINE_MACROS.contains(&e.attr("ac:name").unwrap_or(""))
        }
        Node::Element(e) => BLOCKS.contains(&e.name.as_str()),
        Node::Text(_) => false,
    }
}

/// The blocks of a container whose children mix inline content and blocks.
fn blocks(nodes: &[Node], ctx: &mut Ctx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for node in nodes {
        if is_block(node) {
            flush(&mut run, &mut out);
            if let Node::Element(e) = node {
                block(e, ctx, &mut out);
            }
        } else {
            inline(node, ctx, &mut run);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn flush(run: &mut String, out: &mut Vec<String>) {
    let text = tidy_inline(run);
    if !text.is_empty() {
        out.push(text);
    }
    run.clear();
}

/// Collapses runs of spaces left by adjacent inline nodes and trims each line.
fn tidy_inline(s: &str) -> String {
    s.split('\n')
        .map(|line| {
            line.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn block(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
    match e.name.as_str() {
        "p" => out.extend(blocks(&e.children, ctx)),
        h @ ("h1" | "h2" | "h3" | "h4" | "h5" | "h6") => {
            let level = usize::from(h.as_bytes()[1] - b'0');
            let text = inline_text(&e.children, ctx).replace('\n', " ");
            if !text.is_empty() {
                out.push(format!("{} {text}", "#".repeat(level)));
            }
        }
        "ul" | "ol" => out.push(list(e, e.name == "ol", ctx)),
        "ac:task-list" => out.push(task_list(e, ctx)),
        "table" => out.push(table(e, ctx)),
        "blockquote" => out.push(quote(&blocks(&e.children, ctx).join("\n\n"))),
        "pre" => out.push(fence(None, &raw_text(&e.children))),
        "hr" => out.push("---".to_owned()),
        "ac:structured-macro" | "ac:macro" => macro_block(e, ctx, out),
        _ => out.extend(blocks(&e.children, ctx)),
    }
}

fn macro_block(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
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
            if let Some(title) = e.param("title") {
                out.push(format!("**{title}**"));
            }
            out.push(fence(lang.as_deref(), &text));
        }
        "info" | "note" | "warning" | "tip" | "panel" | "success" | "error" => {
            let label = match name {
                "info" => Some("Info"),
                "note" => Some("Note"),
                "warning" => Some("Warning"),
                "tip" => Some("Tip"),
                "success" => Some("Success"),
                "error" => Some("Error"),
                _ => None,
            };
            let heading = match (label, e.param("title")) {
                (Some(l), Some(t)) => Some(format!("**{l}: {t}**")),
                (Some(l), None) => Some(format!("**{l}**")),
                (None, Some(t)) => Some(format!("**{t}**")),
                (None, None) => None,
            };
            let mut inner: Vec<String> = heading.into_iter().collect();
            inner.extend(body(ctx));
            out.push(quote(&inner.join("\n\n")));
        }
        "expand" => {
            out.push(format!(
                "**{}**",
                e.param("title").unwrap_or_else(|| "Details".to_owned())
            ));
            out.extend(body(ctx));
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
            ctx.including.push(page);
            out.extend(blocks(nodes, ctx));
            ctx.including.pop();
            ctx.space = outer_space;
        }
        // Navigation and listing macros carry no content of the page itself.
        "toc" | "children" | "pagetree" | "recently-updated" | "contentbylabel" | "attachments"
        | "livesearch" | "anchor" => {}
        _ => {
            if e.child("ac:rich-text-body").is_some() {
                out.extend(body(ctx));
            } else if let Some(text) = e.child("ac:plain-text-body") {
                let text = raw_text(&text.children);
                if !text.trim().is_empty() {
                    out.push(text.trim().to_owned());
                }
            }
        }
    }
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

fn quote(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_owned()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fence(lang: Option<&str>, code: &str) -> String {
    let code = code.trim_matches('\n');
    let mut ticks = "```".to_owned();
    while code.contains(&ticks) {
        ticks.push('`');
    }
    format!("{ticks}{}\n{code}\n{ticks}", lang.unwrap_or(""))
}

fn list(e: &Element, ordered: bool, ctx: &mut Ctx<'_>) -> String {
    let mut lines = Vec::new();
    let mut n = 0;
    for item in e.elements() {
        if item.name != "li" {
            // A list nested directly in a list (invalid but common) joins the previous item.
            if item.name == "ul" || item.name == "ol" {
                let nested = list(item, item.name == "ol", ctx);
                lines.extend(nested.lines().map(|l| format!("  {l}")));
            }
            continue;
        }
        n += 1;
        let marker = if ordered {
            format!("{n}. ")
        } else {
            "- ".to_owned()
        };
        let content = blocks(&item.children, ctx).join("\n");
        lines.push(indent_item(&marker, &content));
    }
    lines.join("\n")
}

fn indent_item(marker: &str, content: &str) -> String {
    let pad = " ".repeat(marker.len());
    let mut out = String::new();
    for (i, line) in content.lines().enumerate() {
        if i == 0 {
            let _ = write!(out, "{marker}{line}");
        } else if line.is_empty() {
            out.push('\n');
        } else {
            let _ = write!(out, "\n{pad}{line}");
        }
    }
    if out.is_empty() {
        marker.trim_end().to_owned()
    } else {
        out
    }
}

fn task_list(e: &Element, ctx: &mut Ctx<'_>) -> String {
    let mut lines = Vec::new();
    for task in e.elements().filter(|t| t.name == "ac:task") {
        let done = task
            .child("ac:task-status")
            .is_some_and(|s| raw_text(&s.children).trim() == "complete");
        let body = task
            .child("ac:task-body")
            .map(|b| blocks(&b.children, ctx).join("\n"))
            .unwrap_or_default();
        lines.push(indent_item(if done { "- [x] " } else { "- [ ] " }, &body));
    }
    lines.join("\n")
}

fn table(e: &Element, ctx: &mut Ctx<'_>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    collect_rows(e, ctx, &mut rows);
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for c in 0..width {
            let _ = write!(out, " {} |", row.get(c).map_or("", String::as_str));
        }
        if i == 0 {
            out.push_str("\n|");
            out.push_str(&" --- |".repeat(width));
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

fn collect_rows(e: &Element, ctx: &mut Ctx<'_>, rows: &mut Vec<Vec<String>>) {
    for child in e.elements() {
        match child.name.as_str() {
            "tr" => {
                let cells = child
                    .elements()
                    .filter(|c| c.name == "td" || c.name == "th")
                    .map(|c| {
                        blocks(&c.children, ctx)
                            .join(" ")
                            .replace('\n', " ")
                            .replace('|', "\\|")
                    })
                    .collect();
                rows.push(cells);
            }
            "thead" | "tbody" | "tfoot" => collect_rows(child, ctx, rows),
            _ => {}
        }
    }
}

fn inline_text(nodes: &[Node], ctx: &mut Ctx<'_>) -> String {
    let mut s = String::new();
    for n in nodes {
        inline(n, ctx, &mut s);
    }
    tidy_inline(&s)
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

fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out.replace('\u{a0}', " ")
}

fn wrap(out: &mut String, mark: &str, inner: &str) {
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        out.push_str(inner);
        return;
    }
    // Keep the spaces around the marks outside them, or Markdown will not see emphasis.
    if inner.starts_with(' ') {
        out.push(' ');
    }
    let _ = write!(out, "{mark}{trimmed}{mark}");
    if inner.ends_with(' ') {
        out.push(' ');
    }
}

fn inline(node: &Node, ctx: &mut Ctx<'_>, out: &mut String) {
    let e = match node {
        Node::Text(t) => {
            out.push_str(&collapse(t));
            return;
        }
        Node::Element(e) => e,
    };
    let children = |ctx: &mut Ctx<'_>| {
        let mut s = String::new();
        for n in &e.children {
            inline(n, ctx, &mut s);
        }
        s
    };
    match e.name.as_str() {
        "strong" | "b" => wrap(out, "**", &children(ctx)),
        "em" | "i" => wrap(out, "*", &children(ctx)),
        "s" | "del" | "strike" => wrap(out, "~~", &children(ctx)),
        "code" => wrap(out, "`", &collapse(&raw_text(&e.children))),
        "br" => out.push('\n'),
        "a" => {
            let text = children(ctx);
            match e.attr("href") {
                Some(href) if !href.is_empty() && text.trim() != href => {
                    let _ = write!(out, "[{}]({href})", text.trim());
                }
                _ => out.push_str(&text),
            }
        }
        "img" => out.push_str(e.attr("alt").or(e.attr("title")).unwrap_or("")),
        "ac:link" => link(e, ctx, out),
        "ac:image" => out.push_str(&image_alt(e)),
        "ac:emoticon" => {
            let text = e
                .attr("ac:emoji-fallback")
                .map(str::to_owned)
                .or_else(|| e.attr("ac:name").map(|n| format!(":{n}:")))
                .unwrap_or_default();
            out.push_str(&text);
        }
        "time" => out.push_str(e.attr("datetime").unwrap_or("")),
        "ac:placeholder" | "ac:parameter" => {}
        "ac:structured-macro" | "ac:macro" => match e.attr("ac:name").unwrap_or("") {
            "status" => {
                if let Some(title) = e.param("title") {
                    let _ = write!(out, "[{title}]");
                }
            }
            "jira" => out.push_str(&e.param("key").unwrap_or_default()),
            _ => {}
        },
        _ => out.push_str(&children(ctx)),
    }
}

fn link_body(e: &Element, ctx: &mut Ctx<'_>) -> Option<String> {
    let text = if let Some(plain) = e.child("ac:plain-text-link-body") {
        raw_text(&plain.children)
    } else if let Some(rich) = e.child("ac:link-body") {
        inline_text(&rich.children, ctx)
    } else {
        return None;
    };
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

fn link(e: &Element, ctx: &mut Ctx<'_>, out: &mut String) {
    let body = link_body(e, ctx);
    if let Some(user) = e.child("ri:user") {
        let name = user_ref(user)
            .and_then(|u| ctx.resolver.user(&u))
            .or(body)
            .unwrap_or_else(|| "unknown user".to_owned());
        let _ = write!(out, "@{name}");
    } else if let Some(page) = e.child("ri:page") {
        let target = page_ref(page, &ctx.space);
        let label = body
            .or_else(|| target.as_ref().map(|t| t.title.clone()))
            .unwrap_or_default();
        match target.and_then(|t| ctx.resolver.page_url(&t)) {
            Some(url) => {
                let _ = write!(out, "[{label}]({url})");
            }
            None => out.push_str(&label),
        }
    } else if let Some(url) = e.child("ri:url").and_then(|u| u.attr("ri:value")) {
        let label = body.unwrap_or_else(|| url.to_owned());
        let _ = write!(out, "[{label}]({url})");
    } else if let Some(att) = e.child("ri:attachment") {
        out.push_str(&body.unwrap_or_else(|| att.attr("ri:filename").unwrap_or("").to_owned()));
    } else if let Some(post) = e.child("ri:blog-post") {
        out.push_str(
            &body.unwrap_or_else(|| post.attr("ri:content-title").unwrap_or("").to_owned()),
        );
    } else if let Some(space) = e.child("ri:space") {
        out.push_str(&body.unwrap_or_else(|| space.attr("ri:space-key").unwrap_or("").to_owned()));
    } else {
        out.push_str(
            &body
                .or_else(|| e.attr("ac:anchor").map(str::to_owned))
                .unwrap_or_default(),
        );
    }
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
