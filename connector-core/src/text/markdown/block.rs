//! Blocks: separation, container prefixes (quotes, list items), fences, tables.
//!
//! Each block is written to a string of its own; a container writes its children and prefixes
//! their lines (`> `, a list item's indentation). Blocks are separated by a blank line, except
//! inside a list item, where a block that can follow the one before it on the next line does
//! so, which keeps lists tight (`- item` / `  - nested`).

use super::escape::longest_run;
use super::inline::{self, Context};
use super::{Block, Inline, List, Table};

/// Containers nested deeper than this are written as their plain text (the writer is
/// recursive; converters bound their own nesting far below this).
const MAX_DEPTH: usize = 64;

/// The largest start number CommonMark allows for an ordered list (nine digits).
const MAX_START: u64 = 999_999_999;

/// What a written block was, for the separator before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Paragraph,
    Heading,
    Code,
    Rule,
    /// A list: whether ordered, which marker it used, and whether its first item can
    /// interrupt a paragraph (not empty; an ordered one starting at 1).
    List {
        ordered: bool,
        alternate: bool,
        interrupts: bool,
    },
    /// Quotes, tables, raw Markdown: what follows them on the next line could be read as
    /// part of them.
    Open,
}

pub(super) struct Renderer {
    pub(super) collapse: bool,
}

impl Renderer {
    pub(super) fn document(&self, blocks: &[Block]) -> String {
        self.blocks(blocks, false, 0)
    }

    /// [`document`](Self::document), appended to `out`.
    pub(super) fn document_into(&self, out: &mut String, blocks: &[Block]) {
        self.blocks_into(out, blocks, false, 0);
    }

    /// `blocks` one after the other; `tight` inside a list item.
    fn blocks(&self, blocks: &[Block], tight: bool, depth: usize) -> String {
        let mut out = String::new();
        self.blocks_into(&mut out, blocks, tight, depth);
        out
    }

    /// [`blocks`](Self::blocks), appended to `out`.
    fn blocks_into(&self, out: &mut String, blocks: &[Block], tight: bool, depth: usize) {
        let mut before: Option<Kind> = None;
        for block in blocks {
            let alternate = alternates(before, block);
            let Some((text, kind)) = self.block(block, alternate, depth) else {
                continue;
            };
            if let Some(before) = before {
                out.push_str(if tight && follows_directly(before, kind) {
                    "\n"
                } else {
                    "\n\n"
                });
            }
            if out.is_empty() && out.capacity() < text.len() {
                // The first block of an empty buffer: its own string, not a copy of it; but a
                // buffer presized by the caller keeps its room (taking the block's string
                // would drop it, and every later block would grow the small one again).
                *out = text;
            } else {
                out.push_str(&text);
            }
            before = Some(kind);
        }
    }

    pub(super) fn block(
        &self,
        block: &Block,
        alternate: bool,
        depth: usize,
    ) -> Option<(String, Kind)> {
        if depth > MAX_DEPTH && matches!(block, Block::Quote(_) | Block::List(_) | Block::Table(_))
        {
            let mut text = String::new();
            plain_text(std::slice::from_ref(block), &mut text);
            let content = [Inline::Text(text)];
            return self.block(&Block::Paragraph(content.to_vec()), false, depth);
        }
        let written = match block {
            Block::Paragraph(content) => {
                (self.inline(content, Context::Paragraph), Kind::Paragraph)
            }
            Block::Heading { level, content } => {
                let text = self.inline(content, Context::Heading);
                if text.is_empty() {
                    return None;
                }
                let level = usize::from((*level).clamp(1, 6));
                let mut heading = String::with_capacity(level + 1 + text.len());
                heading.push_str(&"###### "[6 - level..]);
                heading.push_str(&text);
                (heading, Kind::Heading)
            }
            Block::CodeBlock { language, code } => (fence(language.as_deref(), code), Kind::Code),
            Block::Quote(blocks) => {
                let inner = self.blocks(blocks, false, depth + 1);
                (prefix_lines(&inner, "> ", "> "), Kind::Open)
            }
            Block::List(list) => return self.list(list, alternate, depth),
            Block::Table(table) => (self.table(table, depth), Kind::Open),
            Block::Rule => ("---".to_owned(), Kind::Rule),
            Block::Markdown(markdown) if markdown.trim().is_empty() => return None,
            Block::Markdown(markdown) => {
                // Copied once: line endings are rewritten only where there are CRLFs.
                let unified = if markdown.contains("\r\n") {
                    std::borrow::Cow::Owned(markdown.replace("\r\n", "\n"))
                } else {
                    std::borrow::Cow::Borrowed(markdown.as_str())
                };
                (
                    unified.trim_matches(['\n', '\r']).trim_end().to_owned(),
                    Kind::Open,
                )
            }
        };
        (!written.0.is_empty()).then_some(written)
    }

    fn inline(&self, content: &[Inline], context: Context) -> String {
        inline::render(content, context, self.collapse)
    }

    fn list(&self, list: &List, alternate: bool, depth: usize) -> Option<(String, Kind)> {
        if list.items.is_empty() {
            return None;
        }
        let start = list.start.map(|s| s.min(MAX_START));
        let mut out = String::new();
        let mut first_empty = false;
        for (i, item) in list.items.iter().enumerate() {
            let marker = match start {
                Some(start) => {
                    let n = start.saturating_add(i as u64).min(MAX_START);
                    format!("{n}{}", if alternate { ')' } else { '.' })
                }
                None => (if alternate { "*" } else { "-" }).to_owned(),
            };
            let mut content = self.blocks(&item.blocks, true, depth + 1);
            if let Some(done) = item.task {
                let task = if done { "[x]" } else { "[ ]" };
                // The box goes on the line of a paragraph; before anything else, on its own.
                content = match item.blocks.iter().find(|b| !is_blank(b)) {
                    Some(Block::Paragraph(_)) => format!("{task} {content}"),
                    _ if content.is_empty() => task.to_owned(),
                    _ => format!("{task}\n{content}"),
                };
            }
            if i == 0 {
                first_empty = content.is_empty();
            }
            if i > 0 {
                out.push('\n');
            }
            let indent = " ".repeat(marker.len() + 1);
            out.push_str(&prefix_lines(&content, &format!("{marker} "), &indent));
        }
        let kind = Kind::List {
            ordered: start.is_some(),
            alternate,
            interrupts: !first_empty && start.is_none_or(|s| s == 1),
        };
        Some((out, kind))
    }

    fn table(&self, table: &Table, depth: usize) -> String {
        let width = table
            .rows
            .iter()
            .map(Vec::len)
            .chain([table.header.len()])
            .max()
            .unwrap_or(0);
        if width == 0 {
            return String::new();
        }
        let mut out = String::new();
        let row = |cells: &[Vec<Block>], out: &mut String| {
            out.push('|');
            for i in 0..width {
                let cell = cells
                    .get(i)
                    .map(|c| self.cell(c, depth + 1))
                    .unwrap_or_default();
                out.push(' ');
                out.push_str(&cell);
                out.push_str(" |");
            }
        };
        row(&table.header, &mut out);
        out.push_str("\n|");
        out.push_str(&" --- |".repeat(width));
        for cells in &table.rows {
            out.push('\n');
            row(cells, &mut out);
        }
        out
    }

    /// A cell's blocks on one line, joined by `<br>`.
    fn cell(&self, blocks: &[Block], depth: usize) -> String {
        let parts: Vec<String> = blocks
            .iter()
            .map(|b| self.cell_block(b, depth))
            .filter(|s| !s.is_empty())
            .collect();
        parts.join("<br>")
    }

    fn cell_block(&self, block: &Block, depth: usize) -> String {
        if depth > MAX_DEPTH {
            let mut text = String::new();
            plain_text(std::slice::from_ref(block), &mut text);
            return self.inline(&[Inline::Text(text)], Context::Cell);
        }
        match block {
            Block::Paragraph(content) | Block::Heading { content, .. } => {
                self.inline(content, Context::Cell)
            }
            Block::CodeBlock { code, .. } => {
                let mut content = Vec::new();
                for line in code.trim_matches('\n').lines() {
                    if !content.is_empty() {
                        content.push(Inline::LineBreak);
                    }
                    content.push(Inline::Code(line.to_owned()));
                }
                self.inline(&content, Context::Cell)
            }
            Block::Quote(blocks) => self.cell(blocks, depth + 1),
            Block::List(list) => {
                let items: Vec<String> = list
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let marker = match list.start {
                            Some(s) => format!("{}.", s.saturating_add(i as u64)),
                            None => "-".to_owned(),
                        };
                        let task = match item.task {
                            Some(true) => " [x]",
                            Some(false) => " [ ]",
                            None => "",
                        };
                        format!("{marker}{task} {}", self.cell(&item.blocks, depth + 1))
                    })
                    .collect();
                items.join("<br>")
            }
            Block::Table(table) => {
                let rows: Vec<String> = std::iter::once(&table.header)
                    .chain(&table.rows)
                    .map(|cells| {
                        let cells: Vec<String> =
                            cells.iter().map(|c| self.cell(c, depth + 1)).collect();
                        cells.join(" \\| ")
                    })
                    .filter(|r| !r.trim().is_empty())
                    .collect();
                rows.join("<br>")
            }
            Block::Rule => String::new(),
            Block::Markdown(markdown) => markdown
                .trim()
                .replace("\r\n", "\n")
                .replace('|', "\\|")
                .replace('\n', "<br>"),
        }
    }
}

/// Whether `block`, written after a block of kind `before`, uses the other list marker: two
/// lists of the same kind in a row would merge.
pub(super) fn alternates(before: Option<Kind>, block: &Block) -> bool {
    match (before, block) {
        (
            Some(Kind::List {
                ordered, alternate, ..
            }),
            Block::List(list),
        ) if ordered == list.start.is_some() => !alternate,
        _ => false,
    }
}

/// Whether `next` may start on the line right after `before` inside a list item, without a
/// blank line (which would make the list loose) and without being read as part of it.
fn follows_directly(before: Kind, next: Kind) -> bool {
    let closed = matches!(before, Kind::Heading | Kind::Code | Kind::Rule);
    match next {
        // A paragraph would continue a paragraph; a rule under one would underline it.
        Kind::Paragraph | Kind::Rule => closed,
        Kind::Heading | Kind::Code => closed || before == Kind::Paragraph,
        Kind::List { interrupts, .. } => closed || (before == Kind::Paragraph && interrupts),
        Kind::Open => false,
    }
}

fn is_blank(block: &Block) -> bool {
    match block {
        Block::Paragraph(c) => c.is_empty(),
        _ => false,
    }
}

/// `text` with `first` before its first line and `rest` before the others; blank lines get
/// the prefix without trailing spaces.
fn prefix_lines(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    if text.is_empty() {
        out.push_str(first.trim_end());
        return out;
    }
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let prefix = if i == 0 { first } else { rest };
        if line.is_empty() {
            out.push_str(prefix.trim_end());
        } else {
            out.push_str(prefix);
            out.push_str(line);
        }
    }
    out
}

/// A fenced code block: backticks, one more than the longest run in the code (at least
/// three); tildes if the info string holds a backtick.
fn fence(language: Option<&str>, code: &str) -> String {
    let code = code.replace("\r\n", "\n").replace('\r', "\n");
    let code = code.trim_matches('\n');
    let info = language
        .and_then(|l| l.lines().next())
        .map(str::trim)
        .unwrap_or("");
    let marker = if info.contains('`') { '~' } else { '`' };
    let fence = marker
        .to_string()
        .repeat((longest_run(code, marker) + 1).max(3));
    if code.is_empty() {
        format!("{fence}{info}\n{fence}")
    } else {
        format!("{fence}{info}\n{code}\n{fence}")
    }
}

/// Every text of `blocks`, without markup.
fn plain_text(blocks: &[Block], out: &mut String) {
    let mut stack: Vec<&Block> = blocks.iter().rev().collect();
    while let Some(block) = stack.pop() {
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        match block {
            Block::Paragraph(c) | Block::Heading { content: c, .. } => inline::plain_text(c, out),
            Block::CodeBlock { code: t, .. } | Block::Markdown(t) => out.push_str(t),
            Block::Quote(b) => stack.extend(b.iter().rev()),
            Block::List(list) => {
                for item in list.items.iter().rev() {
                    stack.extend(item.blocks.iter().rev());
                }
            }
            Block::Table(table) => {
                for cells in std::iter::once(&table.header).chain(&table.rows).rev() {
                    for cell in cells.iter().rev() {
                        stack.extend(cell.iter().rev());
                    }
                }
            }
            Block::Rule => {}
        }
    }
}
