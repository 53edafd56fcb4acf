//! The Markdown writer: a small tree of blocks and inlines, written out as CommonMark with the
//! GitHub extensions connectors' hosts expect (tables, strikethrough, task items).
//!
//! A converter builds [`Block`]s and [`Inline`]s from its source format and hands them to
//! [`render`] (or a configured [`MarkdownWriter`]). Everything Markdown itself demands is done
//! here, once:
//!
//! - **Text stays text.** [`Inline::Text`] is escaped so that it renders as exactly what it
//!   says: `*`, `_`, `~`, `` ` ``, `\`, `<tag`, `&entity;`, link brackets, and at the start of a
//!   line `#`, `>`, `-`, `+`, `1.`, `|`, `=` lose their meaning. Escaping is minimal: a
//!   character is escaped only where Markdown could read it as syntax, so `snake_case`, `a * b`,
//!   `C#` or `[DONE]` come out as they are. Autolinks (`<https://…>`, `<a@b.example>`) are left
//!   alone: they render as the link they spell.
//! - **Emphasis hugs its text.** Whitespace at the edges of [`Inline::Strong`],
//!   [`Inline::Emphasis`], [`Inline::Strikethrough`] and link text moves outside the markers
//!   (`**a **b` would not render); empty spans vanish; a span nested in one of its own kind is
//!   written once; where CommonMark's flanking rules would leave the markers literal (`**(a)**b`,
//!   or CJK punctuation followed by text), the span is written as plain text instead.
//! - **Code survives backticks.** Fences and code spans are longer than any backtick run in
//!   their content.
//! - **Tables stay tables.** Pipes in cells are escaped; cells holding several blocks or line
//!   breaks are joined with `<br>`.
//! - **Blocks nest.** Lists (bullet, ordered from any start, task items) and block quotes nest
//!   to any depth; blocks are separated by a blank line, and list items stay tight where
//!   Markdown allows it. Two lists in a row get different markers so they stay two lists.
//!
//! ```
//! use connector_core::text::markdown::{self, Block, Inline, List, ListItem};
//!
//! let doc = vec![
//!     Block::heading(1, vec![Inline::text("Release *notes*")]),
//!     Block::paragraph(vec![
//!         Inline::text("Run "),
//!         Inline::code("make `all`"),
//!         Inline::text(" then see "),
//!         Inline::link(vec![Inline::text("the [docs]")], "https://example.com/a_(b)"),
//!         Inline::text("."),
//!     ]),
//!     Block::List(List::bullet(vec![
//!         ListItem::new(vec![Block::paragraph(vec![Inline::strong(vec![Inline::text("fast ")])])]),
//!         ListItem::task(true, vec![Block::paragraph(vec![Inline::text("1. not a list")])]),
//!     ])),
//! ];
//! assert_eq!(
//!     markdown::render(&doc),
//!     "# Release \\*notes\\*\n\n\
//!      Run `` make `all` `` then see [the \\[docs\\]](https://example.com/a_(b)).\n\n\
//!      - **fast**\n\
//!      - [x] 1\\. not a list",
//! );
//! ```

mod block;
mod escape;
mod inline;
mod out;
#[cfg(test)]
mod tests;

pub use out::MarkdownOut;
pub(crate) use out::{is_plain_heading, is_plain_label};

/// A block of a Markdown document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Block {
    /// A paragraph. One with no visible content is left out.
    Paragraph(Vec<Inline>),
    /// An ATX heading (`#` to `######`); the level is clamped to 1–6 and line breaks in the
    /// content become spaces. One with no visible content is left out.
    Heading {
        /// 1 (`#`) to 6 (`######`).
        level: u8,
        /// The heading text.
        content: Vec<Inline>,
    },
    /// A bullet, ordered or task list.
    List(List),
    /// A table (GitHub Flavored Markdown).
    Table(Table),
    /// A fenced code block; the code is written verbatim, without its leading and trailing
    /// line breaks.
    CodeBlock {
        /// The info string (`rust`, `sql`); its first line only.
        language: Option<String>,
        /// The code.
        code: String,
    },
    /// A block quote of other blocks.
    Quote(Vec<Block>),
    /// A thematic break (`---`).
    Rule,
    /// Markdown that is already Markdown (the output of another converter, such as
    /// [`html_to_markdown`](super::html_to_markdown)), written as it is; only container
    /// prefixes are added to its lines.
    Markdown(String),
}

impl Block {
    /// A paragraph.
    pub fn paragraph(content: impl Into<Vec<Inline>>) -> Self {
        Self::Paragraph(content.into())
    }

    /// A heading of `level` (clamped to 1–6 when written).
    pub fn heading(level: u8, content: impl Into<Vec<Inline>>) -> Self {
        Self::Heading {
            level,
            content: content.into(),
        }
    }

    /// A fenced code block; an empty or blank `language` is none.
    pub fn code(language: Option<&str>, code: impl Into<String>) -> Self {
        Self::CodeBlock {
            language: language
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
            code: code.into(),
        }
    }

    /// A block quote.
    pub fn quote(blocks: impl Into<Vec<Block>>) -> Self {
        Self::Quote(blocks.into())
    }

    /// Labelled lines in one paragraph, one `**Label** value` per line (a mail's `From:`,
    /// `To:`, `Date:` header lines): labels bold, values as plain text (nothing in them is
    /// read as Markdown), in the order given.
    ///
    /// ```
    /// use connector_core::text::markdown::{Block, render};
    /// let block = Block::labelled_lines(&[("From:", "a@example.com"), ("Date:", "2025-03-01")]);
    /// assert_eq!(render(&[block]), "**From:** a@example.com  \n**Date:** 2025-03-01");
    /// ```
    pub fn labelled_lines(fields: &[(&str, &str)]) -> Self {
        let mut line = Vec::with_capacity(fields.len() * 3);
        for (label, value) in fields {
            if !line.is_empty() {
                line.push(Inline::LineBreak);
            }
            line.push(Inline::strong(vec![Inline::text(*label)]));
            line.push(Inline::Text(format!(" {value}")));
        }
        Self::Paragraph(line)
    }

    /// Plain text (a `text/plain` mail body, a macro's verbatim body) as paragraphs: blank
    /// lines separate paragraphs, other line breaks are kept as soft breaks, and nothing in it
    /// is read as Markdown.
    pub fn plain_text(text: &str) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut lines: Vec<Inline> = Vec::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                if !lines.is_empty() {
                    blocks.push(Block::Paragraph(std::mem::take(&mut lines)));
                }
                continue;
            }
            if !lines.is_empty() {
                lines.push(Inline::SoftBreak);
            }
            lines.push(Inline::text(line));
        }
        if !lines.is_empty() {
            blocks.push(Block::Paragraph(lines));
        }
        blocks
    }
}

/// Inline content of a paragraph, heading, table cell or link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inline {
    /// Text, escaped so that it renders as itself. A line break in it is a soft break (a
    /// space, with [`MarkdownWriter::collapse_whitespace`]).
    Text(String),
    /// Strong emphasis (`**…**`).
    Strong(Vec<Inline>),
    /// Emphasis (`*…*`).
    Emphasis(Vec<Inline>),
    /// Strikethrough (`~~…~~`).
    Strikethrough(Vec<Inline>),
    /// A code span, verbatim (line breaks become spaces, as Markdown reads them).
    Code(String),
    /// A link; one with no visible text shows its destination. A link inside a link's text
    /// is written as its text.
    Link {
        /// The link text.
        content: Vec<Inline>,
        /// The URL.
        destination: String,
    },
    /// An image; one without a source is written as its alt text.
    Image {
        /// The alternative text.
        alt: String,
        /// The URL of the image.
        source: String,
    },
    /// A URL shown as itself (`<https://…>`); one that cannot be an autolink is written as
    /// a link whose text is the URL.
    Autolink(String),
    /// A soft line break (a space when rendered; a new line in the Markdown text).
    SoftBreak,
    /// A hard line break (two spaces and a new line; `<br>` in a table cell).
    LineBreak,
}

impl Inline {
    /// Text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// Strong emphasis.
    pub fn strong(content: impl Into<Vec<Inline>>) -> Self {
        Self::Strong(content.into())
    }

    /// Emphasis.
    pub fn emphasis(content: impl Into<Vec<Inline>>) -> Self {
        Self::Emphasis(content.into())
    }

    /// Strikethrough.
    pub fn strikethrough(content: impl Into<Vec<Inline>>) -> Self {
        Self::Strikethrough(content.into())
    }

    /// A code span.
    pub fn code(code: impl Into<String>) -> Self {
        Self::Code(code.into())
    }

    /// A link.
    pub fn link(content: impl Into<Vec<Inline>>, destination: impl Into<String>) -> Self {
        Self::Link {
            content: content.into(),
            destination: destination.into(),
        }
    }

    /// An image.
    pub fn image(alt: impl Into<String>, source: impl Into<String>) -> Self {
        Self::Image {
            alt: alt.into(),
            source: source.into(),
        }
    }

    /// A URL shown as itself.
    pub fn autolink(url: impl Into<String>) -> Self {
        Self::Autolink(url.into())
    }
}

impl From<&str> for Inline {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<String> for Inline {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// A bullet or ordered list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct List {
    /// The number of the first item of an ordered list; `None` for a bullet list.
    pub start: Option<u64>,
    /// The items.
    pub items: Vec<ListItem>,
}

impl List {
    /// A bullet list.
    pub fn bullet(items: impl Into<Vec<ListItem>>) -> Self {
        Self {
            start: None,
            items: items.into(),
        }
    }

    /// An ordered list numbered from `start` (at most 999,999,999, as CommonMark allows).
    pub fn ordered(start: u64, items: impl Into<Vec<ListItem>>) -> Self {
        Self {
            start: Some(start),
            items: items.into(),
        }
    }
}

/// One item of a [`List`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListItem {
    /// `Some(done)` for a task item (`[x]` / `[ ]`).
    pub task: Option<bool>,
    /// The item's blocks (usually a paragraph, maybe a nested list).
    pub blocks: Vec<Block>,
}

impl ListItem {
    /// An item.
    pub fn new(blocks: impl Into<Vec<Block>>) -> Self {
        Self {
            task: None,
            blocks: blocks.into(),
        }
    }

    /// A task item, done or not.
    pub fn task(done: bool, blocks: impl Into<Vec<Block>>) -> Self {
        Self {
            task: Some(done),
            blocks: blocks.into(),
        }
    }
}

/// A table: a header row and body rows of cells, each cell a list of blocks.
///
/// Rows shorter than the widest are padded with empty cells. Markdown tables need a header
/// row: an empty `header` is written as a row of empty cells. A cell's blocks are written on
/// one line, joined by `<br>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Table {
    /// The header row's cells.
    pub header: Vec<Vec<Block>>,
    /// The body rows.
    pub rows: Vec<Vec<Vec<Block>>>,
}

impl Table {
    /// A table.
    pub fn new(header: Vec<Vec<Block>>, rows: Vec<Vec<Vec<Block>>>) -> Self {
        Self { header, rows }
    }
}

/// Writes [`Block`]s as Markdown; [`render`] is the writer with default options.
///
/// ```
/// use connector_core::text::markdown::{Block, Inline, MarkdownWriter};
///
/// // HTML-like sources: runs of whitespace are one space, line breaks in text are spaces.
/// let writer = MarkdownWriter::new().collapse_whitespace(true);
/// let blocks = [Block::paragraph(vec![
///     Inline::text("a \n "),
///     Inline::strong(vec![Inline::text("  b ")]),
///     Inline::text(" c"),
/// ])];
/// assert_eq!(writer.render(&blocks), "a **b** c");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkdownWriter {
    collapse_whitespace: bool,
}

impl MarkdownWriter {
    /// A writer that keeps text as it is (whitespace inside a line included).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether [`Inline::Text`] is read the way HTML reads text: any run of ASCII whitespace,
    /// line breaks included, is one space (within a text and across neighbouring ones).
    /// Explicit [`Inline::SoftBreak`] and [`Inline::LineBreak`] still break lines.
    #[must_use]
    pub fn collapse_whitespace(mut self, collapse: bool) -> Self {
        self.collapse_whitespace = collapse;
        self
    }

    /// The blocks as Markdown: separated by blank lines, with no leading or trailing blank
    /// line.
    pub fn render(&self, blocks: &[Block]) -> String {
        block::Renderer {
            collapse: self.collapse_whitespace,
        }
        .document(blocks)
    }

    /// [`render`](Self::render), appended to `out` (after front matter, say): the same text
    /// as `out.push_str(&writer.render(blocks))`, without building it apart first.
    pub fn render_into(&self, out: &mut String, blocks: &[Block]) {
        block::Renderer {
            collapse: self.collapse_whitespace,
        }
        .document_into(out, blocks);
    }
}

/// The blocks as Markdown, with the default [`MarkdownWriter`].
pub fn render(blocks: &[Block]) -> String {
    MarkdownWriter::new().render(blocks)
}

/// [`render`], appended to `out`: a document's front matter and body in one buffer, with no
/// copy of the body.
///
/// ```
/// use connector_core::text::markdown::{Block, Inline, front_matter_into, render_into};
/// use serde_json::json;
/// let mut text = String::with_capacity(256);
/// front_matter_into(&mut text, [("id", &json!(7))]);
/// render_into(&mut text, &[Block::heading(1, vec![Inline::text("Title")])]);
/// assert_eq!(text, "---\nid: 7\n---\n\n# Title");
/// ```
pub fn render_into(out: &mut String, blocks: &[Block]) {
    MarkdownWriter::new().render_into(out, blocks);
}

/// YAML front matter (`---` lines around `key: value` lines, then a blank line) for the fields
/// a document's header shows, in the order given. Values are written as JSON, which YAML reads
/// as the same scalars, lists and maps; a key that is not a plain word (spaces inside are
/// fine) or that YAML reads as something else (`true`, `no`) is written as a JSON string, so a Notion property named `Due: soon` or `#` stays
/// one key. No fields: an empty string.
///
/// ```
/// use connector_core::text::markdown::front_matter;
/// use serde_json::json;
/// let fm = front_matter([("title", &json!("Q3 plan")), ("Due: soon", &json!(["a", 1]))]);
/// assert_eq!(fm, "---\ntitle: \"Q3 plan\"\n\"Due: soon\": [\"a\",1]\n---\n\n");
/// ```
pub fn front_matter<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
) -> String {
    let mut out = String::new();
    front_matter_into(&mut out, fields);
    out
}

/// Words YAML reads as other things than strings (`true`, `no`, `null`), in any case.
const YAML_WORDS: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];

/// The longest of [`YAML_WORDS`]: a longer key is none of them.
const YAML_WORD_LEN: usize = 5;

/// Bytes of a plain front-matter key: ASCII letters, digits, `_`, space and `-`.
const KEY_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b' ' | b'-');
        b += 1;
    }
    t
};

/// Whether [`front_matter`] writes `key` as it is rather than as a JSON string: a letter or
/// `_` first, then letters, digits, `_`, spaces and `-`, no space last, and not a word YAML
/// reads as something else. An ASCII key (most are: field names) is checked a byte at a time
/// through a table, the word list only for keys short enough to be one; any other by its
/// characters. Held to the rule as first written by `front_matter_keys_are_plain_by_the_rule`.
fn is_plain_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if key.is_ascii() {
        return (first.is_ascii_alphabetic() || first == b'_')
            && bytes.last() != Some(&b' ')
            && bytes.iter().all(|&b| KEY_BYTES[usize::from(b)])
            && (bytes.len() > YAML_WORD_LEN
                || !YAML_WORDS.iter().any(|w| w.eq_ignore_ascii_case(key)));
    }
    key.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && !key.ends_with(' ')
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ' ' || c == '-')
        && !YAML_WORDS.iter().any(|w| w.eq_ignore_ascii_case(key))
}

/// [`front_matter`], appended to `out`: the Markdown body can follow in the same buffer
/// ([`render_into`]). Nothing is appended for no fields.
pub fn front_matter_into<'a>(
    out: &mut String,
    fields: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
) {
    // The JSON is written as bytes, straight into the buffer.
    let mut bytes = std::mem::take(out).into_bytes();
    let start = bytes.len();
    for (key, value) in fields {
        if bytes.len() == start {
            bytes.extend_from_slice(b"---\n");
        }
        if is_plain_key(key) {
            bytes.extend_from_slice(key.as_bytes());
        } else {
            crate::jsonw::write_str(&mut bytes, key);
        }
        bytes.extend_from_slice(b": ");
        let before = bytes.len();
        if crate::jsonw::write_value(&mut bytes, value).is_err() {
            bytes.truncate(before);
            bytes.extend_from_slice(b"null");
        }
        bytes.push(b'\n');
    }
    if bytes.len() > start {
        bytes.extend_from_slice(b"---\n\n");
    }
    // Only UTF-8 was appended to UTF-8.
    *out = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}
