//! Jira wiki markup (Server/Data Center, REST v2) → Markdown.
//!
//! Block level: `h1.`–`h6.`, `bq.`, `{code[:lang]}`, `{noformat}`, `*`/`#` lists (nested,
//! mixed), `||header||` and `|cell|` tables, `----`; lines of one paragraph are kept apart by
//! line breaks, as Jira shows them. Containers, opened and closed by the same tag anywhere on a
//! line (`{quote}one line{quote}` too), nested: `{quote}`, `{panel[:title=…]}` and the
//! admonitions `{info}`, `{note}`, `{warning}`, `{tip}` (with an optional `:title=…`), which
//! become block quotes led by their kind, as ADF panels do. Inline: `*bold*`, `_italic_`,
//! `-strike-`, `+inserted+`, `{{monospace}}`, `[text|url]`, `[url]`, `[~user]`, `!image!`,
//! `{color}` (dropped), `\X` (a literal `X`) and `\\` (a line break). Anything else passes
//! through as text, escaped by core's Markdown writer.

mod inline;

use connector_core::text::markdown::{self, Block, Inline, List, ListItem, Table};

pub(crate) use inline::attachment_refs;
use inline::inline;

/// Wiki markup as Markdown.
pub(crate) fn to_markdown(src: &str) -> String {
    markdown::render(&parse(src))
}

/// A wiki macro that holds blocks and is closed by its own tag: `{quote}…{quote}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Quote,
    Panel,
    Info,
    Note,
    Warning,
    Tip,
}

impl Container {
    const ALL: [Self; 6] = [
        Self::Quote,
        Self::Panel,
        Self::Info,
        Self::Note,
        Self::Warning,
        Self::Tip,
    ];

    fn tag(self) -> &'static str {
        match self {
            Self::Quote => "quote",
            Self::Panel => "panel",
            Self::Info => "info",
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Tip => "tip",
        }
    }

    /// What an admonition is called in front of its text, as the ADF panels are.
    fn label(self) -> Option<&'static str> {
        match self {
            Self::Quote | Self::Panel => None,
            Self::Info => Some("Info:"),
            Self::Note => Some("Note:"),
            Self::Warning => Some("Warning:"),
            Self::Tip => Some("Tip:"),
        }
    }

    /// The container's blocks as one block quote: a panel's title leads in bold; an
    /// admonition's kind (and title) leads too, in the first paragraph when it has no title.
    fn into_block(self, title: Option<String>, mut blocks: Vec<Block>) -> Block {
        let heading = match (self.label(), title) {
            (Some(label), Some(title)) => Some(format!("{label} {title}")),
            (None, Some(title)) => Some(title),
            (Some(label), None) => {
                let label = Inline::strong(vec![Inline::text(label)]);
                match blocks.first_mut() {
                    Some(Block::Paragraph(first)) => {
                        first.splice(0..0, [label, Inline::text(" ")]);
                    }
                    _ => blocks.insert(0, Block::paragraph(vec![label])),
                }
                None
            }
            (None, None) => None,
        };
        if let Some(heading) = heading {
            blocks.insert(0, Block::paragraph(vec![Inline::strong(inline(&heading))]));
        }
        Block::quote(blocks)
    }
}

/// An open container and what it holds so far.
struct Open {
    kind: Container,
    title: Option<String>,
    blocks: Vec<Block>,
}

/// The blocks of a wiki text, as they are built line by line.
#[derive(Default)]
struct Builder {
    out: Vec<Block>,
    /// The open containers, outermost first.
    open: Vec<Open>,
    /// The lines of the open paragraph.
    paragraph: Vec<Inline>,
    /// The open lists, outermost first: whether ordered, and the items so far.
    lists: Vec<(bool, Vec<ListItem>)>,
    table: Option<Table>,
}

impl Builder {
    /// Where a finished block goes: the innermost open container, or the document.
    fn push(&mut self, block: Block) {
        match self.open.last_mut() {
            Some(open) => open.blocks.push(block),
            None => self.out.push(block),
        }
    }

    fn end_paragraph(&mut self) {
        if !self.paragraph.is_empty() {
            let lines = std::mem::take(&mut self.paragraph);
            self.push(Block::Paragraph(lines));
        }
    }

    /// Closes the lists deeper than `depth`; each goes into the last item of the one above.
    fn end_lists_below(&mut self, depth: usize) {
        while self.lists.len() > depth {
            let Some((ordered, items)) = self.lists.pop() else {
                break;
            };
            let list = Block::List(if ordered {
                List::ordered(1, items)
            } else {
                List::bullet(items)
            });
            match self.lists.last_mut() {
                Some((_, parent)) => match parent.last_mut() {
                    Some(item) => item.blocks.push(list),
                    None => parent.push(ListItem::new(vec![list])),
                },
                None => self.push(list),
            }
        }
    }

    fn end_table(&mut self) {
        if let Some(table) = self.table.take() {
            self.push(Block::Table(table));
        }
    }

    fn end_all(&mut self) {
        self.end_paragraph();
        self.end_lists_below(0);
        self.end_table();
    }

    /// A block of its own (heading, rule, code): ends whatever is open.
    fn block(&mut self, block: Block) {
        self.end_all();
        self.push(block);
    }

    fn line(&mut self, text: &str) {
        self.end_lists_below(0);
        self.end_table();
        if !self.paragraph.is_empty() {
            self.paragraph.push(Inline::LineBreak);
        }
        self.paragraph.extend(inline(text));
    }

    fn list_item(&mut self, markers: &str, text: &str) {
        self.end_paragraph();
        self.end_table();
        let kinds: Vec<bool> = markers.chars().map(|c| c == '#').collect();
        // Levels that continue: the same kind of list at each level above the item's own.
        let same = self
            .lists
            .iter()
            .zip(&kinds)
            .take_while(|((ordered, _), kind)| ordered == *kind)
            .count();
        self.end_lists_below(same.min(kinds.len()));
        while self.lists.len() < kinds.len() {
            let kind = kinds[self.lists.len()];
            self.lists.push((kind, Vec::new()));
        }
        if let Some((_, items)) = self.lists.last_mut() {
            items.push(ListItem::new(vec![Block::paragraph(inline(text))]));
        }
    }

    fn table_row(&mut self, line: &str) {
        self.end_paragraph();
        self.end_lists_below(0);
        let header = line.starts_with("||");
        let cells: Vec<Vec<Block>> = table_cells(line)
            .iter()
            .map(|c| vec![Block::paragraph(inline(c.trim()))])
            .collect();
        match &mut self.table {
            Some(table) => table.rows.push(cells),
            // Markdown tables need a header row: a table without one gets an empty one.
            None if header => self.table = Some(Table::new(cells, Vec::new())),
            None => self.table = Some(Table::new(Vec::new(), vec![cells])),
        }
    }

    /// A container tag: closes the innermost open container of its kind (and any opened
    /// inside it and left open), or opens one. A tag with parameters always opens.
    fn container(&mut self, kind: Container, params: Option<&str>) {
        self.end_all();
        let open_at = params
            .is_none()
            .then(|| self.open.iter().rposition(|o| o.kind == kind))
            .flatten();
        match open_at {
            Some(at) => {
                while self.open.len() > at {
                    self.close_innermost();
                }
            }
            None => self.open.push(Open {
                kind,
                title: params.and_then(title_param),
                blocks: Vec::new(),
            }),
        }
    }

    fn close_innermost(&mut self) {
        if let Some(open) = self.open.pop() {
            let block = open.kind.into_block(open.title, open.blocks);
            self.push(block);
        }
    }

    /// One line (or the part of one between container tags) that is not preformatted.
    fn text(&mut self, trimmed: &str) {
        if trimmed.is_empty() {
            self.end_all();
        } else if let Some((level, text)) = heading(trimmed) {
            self.block(Block::heading(level as u8, inline(text)));
        } else if let Some(text) = trimmed.strip_prefix("bq. ") {
            self.block(Block::quote(vec![Block::paragraph(inline(text))]));
        } else if trimmed.chars().all(|c| c == '-') && trimmed.len() >= 4 {
            self.block(Block::Rule);
        } else if let Some((markers, text)) = list_item(trimmed) {
            self.list_item(markers, text);
        } else if trimmed.starts_with('|') {
            self.table_row(trimmed);
        } else {
            self.line(trimmed);
        }
    }

    fn finish(mut self) -> Vec<Block> {
        self.end_all();
        while !self.open.is_empty() {
            self.close_innermost();
        }
        self.out
    }
}

fn parse(src: &str) -> Vec<Block> {
    let src = src.replace("\r\n", "\n").replace('\r', "\n");
    let mut b = Builder::default();
    let mut lines = src.lines();
    while let Some(raw) = lines.next() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        // Preformatted blocks: everything up to the closing tag, raw.
        if let Some((tag, lang, rest)) = preformatted_open(trimmed) {
            let mut code = Vec::new();
            let close = format!("{{{tag}}}");
            let mut first = Some(rest.to_owned());
            loop {
                let current = match first.take() {
                    Some(r) => r,
                    None => match lines.next() {
                        Some(l) => l.to_owned(),
                        None => break,
                    },
                };
                if let Some(pos) = current.find(&close) {
                    let before = &current[..pos];
                    if !before.trim().is_empty() {
                        code.push(before.to_owned());
                    }
                    break;
                }
                code.push(current);
            }
            while code.first().is_some_and(|l| l.trim().is_empty()) {
                code.remove(0);
            }
            b.block(Block::code(Some(&lang), code.join("\n")));
            continue;
        }
        if trimmed.is_empty() {
            b.end_all();
            continue;
        }
        // Text between container tags: `{quote}one line{quote}`, `text{note}`.
        let mut rest = trimmed;
        while let Some((at, kind, params, len)) = next_container_tag(rest) {
            let before = rest[..at].trim();
            if !before.is_empty() {
                b.text(before);
            }
            b.container(kind, params);
            rest = rest[at + len..].trim_start();
        }
        if !rest.is_empty() {
            b.text(rest);
        }
    }
    b.finish()
}

/// `{code}`, `{code:java}`, `{code:title=A.java|language=java}`, `{noformat}`: the tag, the
/// language and what follows the opening tag on its line.
fn preformatted_open(line: &str) -> Option<(&'static str, String, &str)> {
    let (tag, rest) = if let Some(r) = line.strip_prefix("{code") {
        ("code", r)
    } else if let Some(r) = line.strip_prefix("{noformat") {
        ("noformat", r)
    } else {
        return None;
    };
    let end = rest.find('}')?;
    let params = &rest[..end];
    if !(params.is_empty() || params.starts_with(':')) {
        return None;
    }
    let mut lang = String::new();
    if tag == "code" {
        for p in params.trim_start_matches(':').split('|') {
            match p.split_once('=') {
                Some(("language" | "lang", l)) => lang = l.trim().to_owned(),
                Some(_) => {}
                None if !p.trim().is_empty() => lang = p.trim().to_owned(),
                None => {}
            }
        }
    }
    Some((tag, lang, &rest[end + 1..]))
}

/// The first container tag in `line`: where it starts, its kind, its parameters (after `:`)
/// and its length. `{{quote}}` is monospace, not a tag.
fn next_container_tag(line: &str) -> Option<(usize, Container, Option<&str>, usize)> {
    let mut from = 0;
    while let Some(offset) = line[from..].find('{') {
        let at = from + offset;
        from = at + 1;
        if line[..at].ends_with('{') {
            continue;
        }
        let inside = &line[at + 1..];
        let end = inside.find('}')?;
        let body = &inside[..end];
        let (name, params) = match body.split_once(':') {
            Some((name, params)) => (name, Some(params)),
            None => (body, None),
        };
        if let Some(kind) = Container::ALL.into_iter().find(|k| k.tag() == name) {
            return Some((at, kind, params, end + 2));
        }
    }
    None
}

/// `title=…` of a macro's `|`-separated parameters.
fn title_param(params: &str) -> Option<String> {
    params
        .split('|')
        .find_map(|p| p.trim().strip_prefix("title="))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() >= 3 && bytes[0] == b'h' && bytes[2] == b'.' {
        let level = (bytes[1] as char).to_digit(10)? as usize;
        if (1..=6).contains(&level) {
            return Some((level, line[3..].trim()));
        }
    }
    None
}

fn list_item(line: &str) -> Option<(&str, &str)> {
    let end = line.find(|c: char| !matches!(c, '*' | '#' | '-'))?;
    let markers = &line[..end];
    if markers.is_empty() || !line[end..].starts_with(' ') {
        return None;
    }
    // `-` is a list marker only alone (`- item`); `--` is an em dash, `----` a rule.
    if markers.contains('-') && markers != "-" {
        return None;
    }
    Some((markers, line[end..].trim()))
}

/// The cells of a `||a||b||` or `|a|b|` row; a `|` inside `[...]` or `{{...}}` is not a
/// separator.
fn table_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut brackets = 0usize;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | '{' => {
                brackets += 1;
                current.push(c);
            }
            ']' | '}' => {
                brackets = brackets.saturating_sub(1);
                current.push(c);
            }
            '|' if brackets == 0 => {
                if chars.peek() == Some(&'|') {
                    chars.next();
                }
                cells.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    cells.push(current);
    // The row starts and ends with a separator: drop the empty ends.
    if cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of inline markup, as Markdown.
    fn md(text: &str) -> String {
        markdown::render(&[Block::paragraph(inline(text))])
    }

    #[test]
    fn inline_marks() {
        assert_eq!(md("a *bold* and _it_ x"), "a **bold** and *it* x");
        // Not markup in wiki, so not markup in Markdown either.
        assert_eq!(
            md("snake_case_name and 2*3*4"),
            "snake_case_name and 2\\*3\\*4"
        );
        assert_eq!(md("a - b -gone- c"), "a - b ~~gone~~ c");
        assert_eq!(md("[Docs|https://x.io/a]"), "[Docs](https://x.io/a)");
        assert_eq!(md("[~jdoe] see {{cfg.yml}}"), "@jdoe see `cfg.yml`");
        assert_eq!(md("unclosed *bold"), "unclosed \\*bold");
    }

    #[test]
    fn blocks() {
        let src = "h2. Title\nline one\nline two\n\n# a\n## b\n#* c\n* d\n||h||x||\n|1|{{a|b}}|\n{quote}\nquoted *text*\n* in quote\n{quote}\n----";
        assert_eq!(
            to_markdown(src),
            "## Title\n\nline one  \nline two\n\n1. a\n   1. b\n\n   - c\n\n- d\n\n\
             | h | x |\n| --- | --- |\n| 1 | `a\\|b` |\n\n> quoted **text**\n>\n> - in quote\n\n---"
        );
    }

    #[test]
    fn containers_anywhere_on_a_line_and_nested() {
        assert_eq!(
            to_markdown("before {quote}inside{quote} after\nnext"),
            "before\n\n> inside\n\nafter  \nnext"
        );
        // A note inside a panel; the panel's close also closes what it left open.
        assert_eq!(
            to_markdown("{panel}\n{note}careful\n{panel}\nout"),
            "> > **Note:** careful\n\nout"
        );
        // Monospace that names a macro is monospace.
        assert_eq!(to_markdown("use {{quote}} here"), "use `quote` here");
        // An unclosed container holds the rest, as Jira shows it.
        assert_eq!(
            to_markdown("{warning}\nmind the gap"),
            "> **Warning:** mind the gap"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(md("\\*x\\*"), "\\*x\\*");
        // (A star between spaces needs no escape in Markdown.)
        assert_eq!(md("*bold \\* star*"), "**bold * star**");
        assert_eq!(md("a\\\\b"), "a  \nb");
        // A backslash before anything else is a backslash.
        assert_eq!(md("C:\\temp"), "C:\\temp");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "*",
            "**",
            "_",
            "[",
            "]",
            "!",
            "!!",
            "{{",
            "}}",
            "{",
            "|",
            "||",
            "h7. x",
            "h1.",
            "?",
            "??",
            "{code",
            "{code}",
            "[|]",
            "-",
            "- ",
            "*_*_",
            "{quote}",
            "{panel:title=x}",
            "## deep first",
            "#*#*#* mixed",
            "{info",
            "{info:",
            "{note:title=}",
            "{tip}{tip}{tip}",
            "\\",
            "\\\\",
            "{quote}{panel}{quote}",
        ] {
            let _ = to_markdown(s);
            let _ = inline(s);
        }
    }
}
