//! A body that [`parse`](super::parse) refuses (not well-formed, or nested too deep), read
//! anyway so that the page is still indexed: first leniently, as a browser reads broken
//! HTML ([`parse_lenient`]), which keeps the structure and the macros; when even the XML
//! reader cannot get past it, as its text with the tags stripped. Both are linear and never
//! recurse on the input, so a hostile body cannot exhaust the stack.

use quick_xml::escape::resolve_html5_entity;

use super::parse::{Element, Node, parse_lenient, raw_text};

/// How a body was read in the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Leniently parsed: structure and macros kept.
    Lenient,
    /// Its text with the tags stripped.
    Text,
}

impl Fallback {
    /// A name for logs and metadata.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Lenient => "lenient",
            Self::Text => "text",
        }
    }
}

/// The body `storage` read by the first fallback that gives anything, and which one;
/// `None` when neither finds any content.
pub(crate) fn read_anyway(storage: &str) -> Option<(Vec<Node>, Fallback)> {
    if let Ok(nodes) = parse_lenient(storage)
        && has_content(&nodes)
    {
        return Some((nodes, Fallback::Lenient));
    }
    let nodes = stripped(storage);
    (!nodes.is_empty()).then_some((nodes, Fallback::Text))
}

/// Whether `nodes` hold any text, or an element that shows something without text (an
/// image, a macro, a link to a page or file, an emoticon).
fn has_content(nodes: &[Node]) -> bool {
    if !raw_text(nodes).trim().is_empty() {
        return true;
    }
    let mut stack: Vec<&Node> = nodes.iter().collect();
    while let Some(node) = stack.pop() {
        if let Node::Element(e) = node {
            if e.name.starts_with("ac:") || e.name.starts_with("ri:") || e.name == "img" {
                return true;
            }
            stack.extend(&e.children);
        }
    }
    false
}

/// Elements whose tags end a line of the stripped text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "ac:structured-macro",
    "ac:task",
    "ac:layout-section",
    "ac:layout-cell",
    "ac:plain-text-body",
    "ac:rich-text-body",
];

/// The text of `storage` with its tags dropped (a block's tag ends a line, a cell's is a
/// space), CDATA kept as written, comments dropped and entities resolved, as one paragraph
/// per line.
pub(crate) fn stripped(storage: &str) -> Vec<Node> {
    let mut text = String::with_capacity(storage.len());
    let mut rest = storage;
    while let Some(i) = rest.find(['<', '&']) {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            text.push_str(&after[..end]);
            rest = after.get(end + 3..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
        } else if let Some(after) = rest.strip_prefix('<') {
            // A tag starts with a name, `/`, `!` or `?`; anything else is a `<` of the text.
            if !after.starts_with(|c: char| c.is_ascii_alphabetic() || "/!?".contains(c)) {
                text.push('<');
                rest = after;
                continue;
            }
            let end = after.find('>').unwrap_or(after.len());
            let name = after[..end]
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if BLOCKS.contains(&name.as_str()) {
                text.push('\n');
            } else if matches!(name.as_str(), "td" | "th") {
                text.push(' ');
            }
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let (resolved, after) = entity(rest);
            text.push_str(&resolved);
            rest = after;
        }
    }
    text.push_str(rest);
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .map(|line| {
            Node::Element(Element {
                name: "p".to_owned(),
                attrs: Vec::new(),
                children: vec![Node::Text(line)],
            })
        })
        .collect()
}

/// The entity `rest` starts with (`&amp;`, `&#8217;`, `&#x2019;`, `&nbsp;`) resolved, and
/// what follows it; a `&` that starts none is itself.
fn entity(rest: &str) -> (String, &str) {
    let after = &rest[1..];
    let name = after
        .find(';')
        .filter(|&end| end > 0 && end <= 32)
        .map(|end| &after[..end]);
    let resolved = name.and_then(|name| match name.strip_prefix('#') {
        Some(number) => {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse().ok(),
            };
            code.and_then(char::from_u32).map(String::from)
        }
        None => resolve_html5_entity(name).map(str::to_owned),
    });
    match (resolved, name) {
        (Some(text), Some(name)) => (text, &after[name.len() + 1..]),
        _ => ("&".to_owned(), after),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests.

    use super::super::parse::parse;
    use super::*;

    fn text(nodes: &[Node]) -> Vec<String> {
        nodes
            .iter()
            .map(|n| match n {
                Node::Element(e) => raw_text(&e.children),
                Node::Text(t) => t.clone(),
            })
            .collect()
    }

    #[test]
    fn unclosed_and_crossed_tags_are_read_as_a_browser_would() {
        let body = "<p>open <b>never closed</p><p>next</p>";
        assert!(parse(body).is_err());
        let (nodes, how) = read_anyway(body).unwrap();
        assert_eq!(how, Fallback::Lenient);
        assert_eq!(text(&nodes), ["open never closed", "next"]);
        let (nodes, _) = read_anyway("<p>a &amp; b & c</p></div><p>d").unwrap();
        assert_eq!(text(&nodes), ["a & b & c", "d"]);
    }

    #[test]
    fn nesting_past_the_limit_is_flattened_with_its_text() {
        let body = format!(
            "{}deep{}<p>after</p>",
            "<div>".repeat(5000),
            "</div>".repeat(5000)
        );
        assert!(parse(&body).is_err());
        let (nodes, how) = read_anyway(&body).unwrap();
        assert_eq!(how, Fallback::Lenient);
        let all = raw_text(&nodes);
        assert!(all.contains("deep") && all.contains("after"), "{all}");
    }

    #[test]
    fn what_the_reader_cannot_pass_is_stripped_to_its_text() {
        let body = "<p class=\"x>Broken <b>attribute</b></p><p>Code: <ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[a < b && c]]></ac:plain-text-body></ac:structured-macro></p><p>&rsquo;&#8217;&#x2019; 1 < 2 &bogus; &</p>";
        assert!(parse(body).is_err());
        let nodes = stripped(body);
        let lines = text(&nodes);
        assert!(lines.contains(&"a < b && c".to_owned()), "{lines:?}");
        assert!(
            lines.contains(&"\u{2019}\u{2019}\u{2019} 1 < 2 &bogus; &".to_owned()),
            "{lines:?}"
        );
    }

    #[test]
    fn a_body_without_content_yields_nothing() {
        assert_eq!(read_anyway("<p> </p><b>"), None);
        assert_eq!(read_anyway("<!-- only a comment"), None);
    }
}
