//! Storage format to a tree: the fragment read with quick-xml (prefixes declared, HTML5
//! entities resolved) into [`Node`]s, and the users and included pages a tree refers to,
//! collected for lookup before rendering.

use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::escape::resolve_html5_entity;
use quick_xml::events::{BytesStart, Event};

/// Nesting deeper than this is refused: real pages stay far below it, and the renderer is
/// recursive.
const MAX_DEPTH: usize = 200;

/// One node of a parsed storage-format body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// An element with its qualified name (`ac:structured-macro`) and attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    pub(super) name: String,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) children: Vec<Node>,
}

impl Element {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub(super) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The macro parameter `name` (`ac:parameter ac:name="language"`), as text.
    pub(super) fn param(&self, name: &str) -> Option<String> {
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
    read(storage, false)
}

/// Parses a storage-format fragment that [`parse`] refuses, as a browser reads broken HTML:
/// a stray `&` is text, an end tag closes the elements opened since its own start tag (and
/// is ignored when none matches), elements still open at the end are closed there, and
/// nesting past the depth limit is flattened into its ancestor (its text kept). What the
/// XML reader itself cannot get past (a malformed tag) is still an error.
pub(crate) fn parse_lenient(storage: &str) -> Result<Vec<Node>, StorageError> {
    read(storage, true)
}

fn read(storage: &str, lenient: bool) -> Result<Vec<Node>, StorageError> {
    const OPEN: &str = r#"<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier" xmlns:at="http://atlassian.com/template">"#;
    let wrapped = format!("{OPEN}{storage}</root>");
    let mut reader = Reader::from_str(&wrapped);
    if lenient {
        let config = reader.config_mut();
        config.allow_dangling_amp = true;
        config.allow_unmatched_ends = true;
        config.check_end_names = false;
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    // Lenient: start tags past the depth limit, whose end tags are dropped with them.
    let mut flattened = 0usize;
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
                    if !lenient {
                        return Err(StorageError::TooDeep);
                    }
                    flattened += 1;
                } else {
                    stack.push(element(&start));
                }
            }
            Event::Empty(start) => push(&mut stack, &mut top, Node::Element(element(&start))),
            Event::End(end) if lenient => {
                if flattened > 0 {
                    flattened -= 1;
                    continue;
                }
                let name = end.name();
                let name: &str = name.into_inner();
                // The nearest open element of that name, and everything opened since.
                if let Some(at) = stack.iter().rposition(|e| e.name == name) {
                    while stack.len() > at {
                        close(&mut stack, &mut top);
                    }
                }
            }
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
        if !lenient {
            return Err(malformed(&reader, "unclosed element".to_owned()));
        }
        while !stack.is_empty() {
            close(&mut stack, &mut top);
        }
    }
    // Unwrap the synthetic root (leniently, whatever ended up beside it too).
    let mut nodes = Vec::new();
    for node in top {
        match node {
            Node::Element(root) if root.name == "root" => nodes.extend(root.children),
            other => nodes.push(other),
        }
    }
    Ok(nodes)
}

/// Closes the innermost open element into its parent.
fn close(stack: &mut Vec<Element>, top: &mut Vec<Node>) {
    if let Some(done) = stack.pop() {
        push(stack, top, Node::Element(done));
    }
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

/// Text content without any rendering (code bodies, parameters).
pub(super) fn raw_text(nodes: &[Node]) -> String {
    let mut s = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => s.push_str(t),
            Node::Element(e) => s.push_str(&raw_text(&e.children)),
        }
    }
    s
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

pub(super) fn user_ref(e: &Element) -> Option<UserRef> {
    let non_empty = |k: &str| e.attr(k).filter(|v| !v.is_empty()).map(str::to_owned);
    non_empty("ri:account-id")
        .map(UserRef::AccountId)
        .or_else(|| non_empty("ri:userkey").map(UserRef::Key))
        .or_else(|| non_empty("ri:username").map(UserRef::Username))
}

pub(super) fn page_ref(e: &Element, default_space: &str) -> Option<PageRef> {
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
pub(super) fn include_target(e: &Element, default_space: &str) -> Option<PageRef> {
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
