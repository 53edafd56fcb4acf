//! Blocks written straight into a caller's buffer, without building the block tree: the same
//! text as the tree's renderer, for the few blocks record-shaped documents are made of.

use super::block::{self, Kind, Renderer};
use super::escape::{is_plain_destination, longest_run};
use super::inline::{self, Break, Context, InlineWriter};
use super::{Block, MarkdownWriter};

/// Appends Markdown blocks to a `String` as they come, with no [`Block`] tree in between:
/// headings, paragraphs and bullet items of plain text are escaped and written in place. The
/// text is byte for byte what [`MarkdownWriter::render_into`] writes for the blocks each call
/// stands for (a test holds the two together):
///
/// | call | block |
/// | --- | --- |
/// | [`heading(level, t)`](Self::heading) | `Block::heading(level, vec![Inline::text(t)])` |
/// | [`paragraph(t)`](Self::paragraph) | `Block::paragraph(vec![Inline::text(t)])` |
/// | [`plain_text(t)`](Self::plain_text) | the blocks of `Block::plain_text(t)` |
/// | [`autolink(url)`](Self::autolink) | `Block::paragraph(vec![Inline::autolink(url)])` |
/// | [`labelled_lines(f)`](Self::labelled_lines) | `Block::labelled_lines(f)` |
/// | [`code(language, c)`](Self::code) | `Block::code(language, c)` |
/// | [`markdown(md)`](Self::markdown) | `Block::Markdown(md)` |
/// | [`bullet(t)`](Self::bullet) | an item `ListItem::new(vec![Block::paragraph(vec![Inline::text(t)])])` |
/// | [`link_bullet(t, url)`](Self::link_bullet) | an item whose paragraph is `Inline::link(vec![Inline::text(t)], url)` |
/// | [`block(b)`](Self::block) | `b` |
///
/// Bullets in a row are the items of one bullet list (`Block::List(List::bullet(..))`); any
/// other call, or [`end_list`](Self::end_list), ends it. Blocks are separated by a blank line;
/// what `out` held before (front matter, say) is kept and not separated from the first block,
/// as with `render_into`.
///
/// ```
/// use connector_core::text::markdown::{MarkdownOut, front_matter_into};
/// use serde_json::json;
///
/// let mut text = String::with_capacity(256);
/// front_matter_into(&mut text, [("id", &json!(7))]);
/// let mut md = MarkdownOut::new(&mut text);
/// md.heading(1, "Q3 *plan*");
/// md.heading(2, "Owners");
/// md.bullet("Ada");
/// md.bullet("1. Grace");
/// md.heading(2, "Notes");
/// md.plain_text("first line\nsecond line\n\n# not a heading");
/// assert_eq!(
///     text,
///     "---\nid: 7\n---\n\n# Q3 \\*plan\\*\n\n## Owners\n\n- Ada\n- 1\\. Grace\n\n## Notes\n\n\
///      first line\nsecond line\n\n\\# not a heading",
/// );
/// ```
#[derive(Debug)]
pub struct MarkdownOut<'a> {
    out: &'a mut String,
    collapse: bool,
    /// The kind of the last block written by this writer (none yet: no separator before the
    /// next).
    before: Option<Kind>,
    /// The marker of the bullet list the next [`bullet`](Self::bullet) continues.
    list: Option<&'static str>,
}

impl<'a> MarkdownOut<'a> {
    /// A writer appending to `out`, with the default [`MarkdownWriter`]'s options.
    pub fn new(out: &'a mut String) -> Self {
        MarkdownWriter::new().out(out)
    }

    /// A heading of `level` (clamped to 1–6) whose text is `text`; left out when nothing
    /// visible is in it.
    pub fn heading(&mut self, level: u8, text: &str) {
        self.heading_checked(level, text, is_plain_heading(text));
    }

    /// [`heading`](Self::heading) of text whose check, `plain`, is [`is_plain_heading`]'s
    /// answer for it, made once for text written many times (a table's column names, in
    /// every row's document).
    pub(crate) fn heading_checked(&mut self, level: u8, text: &str, plain: bool) {
        self.list = None;
        let mark = self.out.len();
        self.separate();
        let level = usize::from(level.clamp(1, 6));
        self.out.push_str(&"###### "[6 - level..]);
        let body = self.out.len();
        if plain {
            // A column name, a subject: nothing to escape, written as the writer would.
            self.out.push_str(text);
        } else {
            inline::write_into(self.out, Context::Heading, self.collapse, |w| w.text(text));
        }
        self.written(mark, body, Kind::Heading);
    }

    /// A paragraph of `text` (a line break in it is a soft break); left out when nothing
    /// visible is in it.
    pub fn paragraph(&mut self, text: &str) {
        if inline::is_plain_line(text, Context::Paragraph) {
            // Nothing to escape: written as the inline writer would (as `plain_text` does).
            self.plain_paragraph(text);
            return;
        }
        self.inline_paragraph(|w| w.text(text));
    }

    /// Plain text as paragraphs, as [`Block::plain_text`] reads it: blank lines separate
    /// paragraphs, other line breaks are soft breaks.
    pub fn plain_text(&mut self, text: &str) {
        self.list = None;
        if inline::is_plain_line(text, Context::Paragraph) {
            // One line of words (a row's text column, a description; a plain line holds no
            // line break): one paragraph with nothing to escape, written as the writer would,
            // without it.
            self.plain_paragraph(text);
            return;
        }
        let mut group: Option<(usize, usize)> = None;
        for line in text.lines() {
            // `lines` hands out slices of `text`: where this one starts in it.
            let start = line.as_ptr() as usize - text.as_ptr() as usize;
            if line.trim().is_empty() {
                if let Some((from, to)) = group.take() {
                    self.paragraph_lines(&text[from..to]);
                }
                continue;
            }
            let from = group.map_or(start, |(from, _)| from);
            group = Some((from, start + line.len()));
        }
        if let Some((from, to)) = group {
            self.paragraph_lines(&text[from..to]);
        }
    }

    /// A paragraph whose only content is `url` shown as itself.
    pub fn autolink(&mut self, url: &str) {
        self.inline_paragraph(|w| w.autolink(url));
    }

    /// Labelled lines in one paragraph: what [`Block::labelled_lines`] writes.
    pub fn labelled_lines(&mut self, fields: &[(&str, &str)]) {
        self.labelled_lines_of(fields);
    }

    /// [`labelled_lines`](Self::labelled_lines) of pairs held as any text (borrowed or owned
    /// values side by side), without a slice of `&str` pairs made for the call.
    pub fn labelled_lines_of<L: AsRef<str>, V: AsRef<str>>(&mut self, fields: &[(L, V)]) {
        self.labelled_lines_checked(fields, false);
    }

    /// [`labelled_lines_of`](Self::labelled_lines_of) where `labels_plain` says every label
    /// passed [`is_plain_label`], checked once for labels written many times (a table's
    /// columns, in every row's document); `false` checks them here.
    pub(crate) fn labelled_lines_checked<L: AsRef<str>, V: AsRef<str>>(
        &mut self,
        fields: &[(L, V)],
        labels_plain: bool,
    ) {
        let plain = !fields.is_empty()
            && fields.iter().all(|(label, value)| {
                let value = value.as_ref();
                (labels_plain || inline::is_plain_label(label.as_ref()))
                    && (value.is_empty() || inline::is_plain_value(value))
            });
        if plain {
            // Most header lines (names, addresses, dates, ids) need no escaping: written as
            // the inline writer would write them (held to its per-character path by
            // `plain_labelled_lines_are_written_as_per_character`), without it.
            self.list = None;
            self.separate();
            for (i, (label, value)) in fields.iter().enumerate() {
                if i > 0 {
                    self.out.push_str("  \n");
                }
                self.out.push_str("**");
                self.out.push_str(label.as_ref());
                self.out.push_str("**");
                let value = value.as_ref();
                if !value.is_empty() {
                    self.out.push(' ');
                    self.out.push_str(value);
                }
            }
            self.before = Some(Kind::Paragraph);
            return;
        }
        self.inline_paragraph(|w| {
            for (i, (label, value)) in fields.iter().enumerate() {
                if i > 0 {
                    w.line_break(Break::Hard);
                }
                w.strong_text(label.as_ref());
                w.text(" ");
                w.text(value.as_ref());
            }
        });
    }

    /// A fenced code block of `code`, its info string `language`'s first line (an empty or
    /// blank one is none): what [`Block::code`] writes, without the copies its renderer makes.
    pub fn code(&mut self, language: Option<&str>, code: &str) {
        if code.contains('\r') {
            // Line endings rewritten: the tree's renderer, which copies.
            self.block(&Block::code(language, code));
            return;
        }
        self.list = None;
        let code = code.trim_matches('\n');
        let info = language
            .and_then(|l| l.trim().lines().next())
            .map_or("", str::trim);
        let marker = if info.contains('`') { '~' } else { '`' };
        let fence = (longest_run(code, marker) + 1).max(3);
        self.separate();
        self.out.extend(std::iter::repeat_n(marker, fence));
        self.out.push_str(info);
        self.out.push('\n');
        if !code.is_empty() {
            self.out.push_str(code);
            self.out.push('\n');
        }
        self.out.extend(std::iter::repeat_n(marker, fence));
        self.before = Some(Kind::Code);
    }

    /// Markdown that is Markdown already, written as it is (CRLFs as LFs, blank edges
    /// trimmed); left out when blank.
    pub fn markdown(&mut self, markdown: &str) {
        self.list = None;
        if markdown.trim().is_empty() {
            return;
        }
        self.separate();
        if markdown.contains("\r\n") {
            let unified = markdown.replace("\r\n", "\n");
            self.out
                .push_str(unified.trim_matches(['\n', '\r']).trim_end());
        } else {
            self.out
                .push_str(markdown.trim_matches(['\n', '\r']).trim_end());
        }
        self.before = Some(Kind::Open);
    }

    /// An item of plain text in the bullet list being written (a new list if the last call
    /// was not a bullet).
    pub fn bullet(&mut self, text: &str) {
        let plain = inline::is_plain_line(text, Context::Paragraph);
        // A plain line is the item's text as it is (an item's text is written as a
        // paragraph's).
        self.item(plain.then_some(&[text][..]), |w| w.text(text));
    }

    /// An item of the bullet list being written that links `text` to `destination`.
    pub fn link_bullet(&mut self, text: &str, destination: &str) {
        // A record's id or name linked to where it is: text with nothing to escape in a
        // link, a destination written as it is. The link is `[text](destination)` then, as
        // the inline writer would write it (held to it by
        // `plain_link_bullets_are_written_as_per_character`), without the writer.
        let plain = inline::is_plain_link_text(text) && is_plain_destination(destination);
        let parts = ["[", text, "](", destination, ")"];
        self.item(plain.then_some(&parts[..]), |w| {
            w.link_text(text, destination);
        });
    }

    /// Ends the bullet list being written: the next [`bullet`](Self::bullet) starts another
    /// (with the other marker, so that the two stay two lists).
    pub fn end_list(&mut self) {
        self.list = None;
    }

    /// Any block, written by the tree's renderer: for what the calls above do not cover.
    pub fn block(&mut self, block: &Block) {
        self.list = None;
        let alternate = block::alternates(self.before, block);
        let renderer = Renderer {
            collapse: self.collapse,
        };
        if let Some((text, kind)) = renderer.block(block, alternate, 0) {
            self.separate();
            self.out.push_str(&text);
            self.before = Some(kind);
        }
    }

    /// The separator before a block, if one was written before it.
    fn separate(&mut self) {
        if self.before.is_some() {
            self.out.push_str("\n\n");
        }
    }

    /// After a block whose content starts at `body`: kept as a `kind` if it has any, else
    /// taken back to `mark` (separator and prefix with it).
    fn written(&mut self, mark: usize, body: usize, kind: Kind) {
        if self.out.len() == body {
            self.out.truncate(mark);
        } else {
            self.before = Some(kind);
        }
    }

    fn inline_paragraph(&mut self, feed: impl FnMut(&mut InlineWriter<'_>)) {
        self.list = None;
        let mark = self.out.len();
        self.separate();
        let body = self.out.len();
        inline::write_into(self.out, Context::Paragraph, self.collapse, feed);
        self.written(mark, body, Kind::Paragraph);
    }

    /// A paragraph of lines joined by soft breaks (each line's text on its own, as
    /// [`Block::plain_text`] builds it).
    fn paragraph_lines(&mut self, lines: &str) {
        self.inline_paragraph(|w| {
            for (i, line) in lines.lines().enumerate() {
                if i > 0 {
                    w.line_break(Break::Soft);
                }
                w.text(line);
            }
        });
    }

    /// A paragraph of `text`, a [plain line](inline::is_plain_line): written as it is.
    fn plain_paragraph(&mut self, text: &str) {
        self.list = None;
        self.separate();
        self.out.push_str(text);
        self.before = Some(Kind::Paragraph);
    }

    /// An item of the bullet list: its text `plain`, the parts of text the inline writer
    /// would write for it as they are, when the caller knows them (one line, not empty), else
    /// what `feed` writes through the inline writer.
    fn item(&mut self, plain: Option<&[&str]>, feed: impl FnMut(&mut InlineWriter<'_>)) {
        let marker = match self.list {
            Some(marker) => {
                self.out.push('\n');
                marker
            }
            None => {
                let alternate = matches!(
                    self.before,
                    Some(Kind::List {
                        ordered: false,
                        alternate: false,
                        ..
                    })
                );
                let marker = if alternate { "*" } else { "-" };
                self.separate();
                // Whether the first item is empty matters only inside a list item (where
                // these lists are not written): taken as not.
                self.before = Some(Kind::List {
                    ordered: false,
                    alternate,
                    interrupts: true,
                });
                self.list = Some(marker);
                marker
            }
        };
        self.out.push_str(marker);
        self.out.push(' ');
        if let Some(parts) = plain {
            // One line of visible text: no empty item, no lines to indent.
            for part in parts {
                self.out.push_str(part);
            }
            return;
        }
        let body = self.out.len();
        inline::write_into(self.out, Context::Paragraph, self.collapse, feed);
        if self.out.len() == body {
            // An empty item is its marker alone.
            self.out.pop();
        } else if self.out[body..].contains('\n') {
            // Lines after the first are indented under the item's text (blank ones stay
            // empty).
            let content = self.out.split_off(body);
            for (i, line) in content.split('\n').enumerate() {
                if i > 0 {
                    self.out.push('\n');
                    if !line.is_empty() {
                        self.out.push_str("  ");
                    }
                }
                self.out.push_str(line);
            }
        }
    }
}

/// Whether [`MarkdownOut::heading`] writes `text` as it is (nothing in it to escape): the
/// check [`MarkdownOut::heading_checked`] takes made once.
pub(crate) fn is_plain_heading(text: &str) -> bool {
    inline::is_plain_line(text, Context::Heading)
}

/// Whether [`MarkdownOut::labelled_lines_of`] writes `label` as it is between its `**`: the
/// check [`MarkdownOut::labelled_lines_checked`] takes made once.
pub(crate) fn is_plain_label(label: &str) -> bool {
    inline::is_plain_label(label)
}

impl MarkdownWriter {
    /// A [`MarkdownOut`] with this writer's options, appending to `out`.
    pub fn out<'a>(&self, out: &'a mut String) -> MarkdownOut<'a> {
        MarkdownOut {
            out,
            collapse: self.collapse_whitespace,
            before: None,
            list: None,
        }
    }
}
