//! Inline content: text escaped so that it renders as itself, emphasis that hugs its text, code
//! spans, links.
//!
//! Whether a character needs a backslash often depends on the character after it (`_` between
//! two letters is literal, `]` only matters before `(`), and that character may come from the
//! next text or from markup. So the writer streams: every character, literal or markup, goes
//! through [`InlineWriter::emit`], which first lets the pending [`Check`]s look at it and
//! insert a backslash where an earlier character turned out to need one. Whitespace, line
//! breaks and opening markers are held back until visible content follows, so that markers hug
//! their text and nothing dangles at the end of a line.
//!
//! Emphasis markers work only where CommonMark's flanking rules let them; a span whose markers
//! would not (`**(a)**b`) is recorded, and the content is written again with that span as plain
//! text (rare, so the second pass costs nothing in practice).

use super::Inline;
use super::escape::{
    Check, Next, Rule, Verdict, autolink_len, destination, is_autolink, is_punctuation, longest_run,
};

/// Nesting of inline spans beyond this is written as plain text (the writer is recursive).
const MAX_DEPTH: usize = 64;

/// Where inline content is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    /// A paragraph: lines may start block syntax, so line starts are escaped too.
    Paragraph,
    /// A heading: one line; breaks are spaces.
    Heading,
    /// A table cell: one line; hard breaks are `<br>`, pipes are escaped.
    Cell,
}

/// `content` written as Markdown for `context`; empty when nothing visible is in it.
pub(super) fn render(content: &[Inline], context: Context, collapse: bool) -> String {
    render_with(content, context, collapse, true)
}

/// [`render`] writing every character on its own (no bulk copies of plain text): what the
/// bulk path must match.
#[cfg(test)]
pub(super) fn render_per_char(content: &[Inline], context: Context, collapse: bool) -> String {
    render_with(content, context, collapse, false)
}

fn render_with(content: &[Inline], context: Context, collapse: bool, bulk: bool) -> String {
    let mut out = String::new();
    write_with(&mut out, context, collapse, bulk, |w| w.inlines(content, 0));
    out
}

/// Inline content fed by `feed` (text, breaks, spans, as [`InlineWriter`]'s methods write
/// them), appended to `out` for `context`, as [`render`] would write the same content:
/// nothing is appended when nothing visible is in it. What `out` held before is left as it
/// is and not looked at (the content is written as if it started the output).
pub(super) fn write_into(
    out: &mut String,
    context: Context,
    collapse: bool,
    feed: impl FnMut(&mut InlineWriter<'_>),
) {
    write_with(out, context, collapse, true, feed);
}

fn write_with(
    out: &mut String,
    context: Context,
    collapse: bool,
    bulk: bool,
    mut feed: impl FnMut(&mut InlineWriter<'_>),
) {
    let base = out.len();
    let mut disabled: Vec<usize> = Vec::new();
    loop {
        let mut w = InlineWriter::new(context, collapse, &disabled, bulk, std::mem::take(out));
        feed(&mut w);
        w.finish();
        *out = w.out;
        if w.failed.is_empty() {
            return;
        }
        out.truncate(base);
        // Each pass disables at least one more span (a disabled span writes no markers, so it
        // cannot fail again): this ends.
        disabled.extend(w.failed);
        disabled.sort_unstable();
        disabled.dedup();
    }
}

/// Every text of `content`, without markup (for content nested too deep to write as such).
pub(super) fn plain_text(content: &[Inline], out: &mut String) {
    let mut stack: Vec<&Inline> = content.iter().rev().collect();
    while let Some(inline) = stack.pop() {
        match inline {
            Inline::Text(t) | Inline::Code(t) | Inline::Autolink(t) => out.push_str(t),
            Inline::Image { alt, .. } => out.push_str(alt),
            Inline::SoftBreak | Inline::LineBreak => out.push(' '),
            Inline::Strong(c)
            | Inline::Emphasis(c)
            | Inline::Strikethrough(c)
            | Inline::Link { content: c, .. } => stack.extend(c.iter().rev()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Strong,
    Emphasis,
    Strike,
    Link,
}

impl Style {
    fn opener(self) -> &'static str {
        match self {
            Style::Strong => "**",
            Style::Emphasis => "*",
            Style::Strike => "~~",
            Style::Link => "[",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Break {
    Soft,
    Hard,
}

/// Consecutive `*` or `~` markers written together: CommonMark judges them as one run.
#[derive(Debug, Clone)]
struct Run {
    marker: char,
    /// The character before the run; `None` at a line start.
    before: Option<char>,
    /// Where the run starts and ends in the output (its markers are one byte each).
    start: usize,
    end: usize,
    /// The markers in it, in order.
    members: Vec<Member>,
}

/// A span's marker in a [`Run`].
#[derive(Debug, Clone, Copy)]
struct Member {
    id: usize,
    opens: bool,
    /// For an opener: a span of the same character opened in an earlier run is still open,
    /// so that a run that could also close would close that one instead.
    enclosed: bool,
}

/// A span whose opener waits for the span's first visible content.
#[derive(Debug)]
struct Open {
    style: Style,
    id: usize,
}

/// A span whose closer waits for what comes next: a span of the same style opened right
/// after it continues it instead (`**a****b**` would not render).
#[derive(Debug)]
struct Close {
    style: Style,
    id: usize,
    /// A link's destination.
    dest: Option<String>,
}

/// The last code span written, so that one right after it joins it (two in a row would read
/// as one run of backticks).
#[derive(Debug, Clone)]
struct CodeSpan {
    start: usize,
    end: usize,
    code: String,
    /// The link that starts the paragraph whose label this span's last character, its first
    /// `]`, ends: a span joined to it must not start with `:` (`[`]:`](u)` is a definition).
    ends_label: Option<usize>,
}

pub(super) struct InlineWriter<'a> {
    /// The output; what is written starts at `base` (what comes before is someone else's).
    out: String,
    base: usize,
    context: Context,
    collapse: bool,
    /// Spans to write as plain text (their markers failed in an earlier pass).
    disabled: &'a [usize],
    /// Spans whose markers failed in this pass.
    failed: Vec<usize>,
    /// The id of the next span met (spans are numbered in document order, written or not).
    next_id: usize,
    /// Whitespace waiting for the next visible character (dropped at line edges).
    pending_space: String,
    /// A line break waiting for the next visible character (dropped at the end).
    pending_break: Option<Break>,
    /// On one line (heading, cell) a break is one space, whatever whitespace surrounds it.
    squeeze: bool,
    /// Openers waiting for the next visible character (dropped if their span stays empty).
    opens: Vec<Open>,
    /// The spans open now, outermost first.
    active: Vec<(Style, usize)>,
    /// Nothing visible written on this line yet.
    line_start: bool,
    /// The last character written on this line.
    prev: Option<char>,
    /// Digits written at the start of this line so far (`None` once anything else came).
    line_digits: Option<usize>,
    checks: Vec<Check>,
    run: Option<Run>,
    /// Closers waiting for the next visible character (or the end), innermost first.
    closes: Vec<Close>,
    /// The last code span, while nothing else was written after it.
    code: Option<CodeSpan>,
    /// Each written opener's run: its span, the run's length, whether it could also close.
    opener_runs: Vec<(usize, usize, bool)>,
    /// A `[` of text that starts the paragraph, until the first `]`: `[label]:` would be a
    /// link reference definition, and a `]` in a code span cannot be escaped.
    para_bracket: Option<usize>,
    /// A link that starts the paragraph, until the first `]` in it.
    para_link: Option<usize>,
    /// Plain text may be copied in bulk (off only to test that it changes nothing).
    bulk: bool,
    /// An empty buffer for the next [`Run`]'s members (a run's is emptied and kept here when
    /// it is judged, not freed).
    spare_members: Vec<Member>,
}

impl<'a> InlineWriter<'a> {
    fn new(
        context: Context,
        collapse: bool,
        disabled: &'a [usize],
        bulk: bool,
        out: String,
    ) -> Self {
        Self {
            base: out.len(),
            out,
            context,
            collapse,
            disabled,
            failed: Vec::new(),
            next_id: 0,
            pending_space: String::new(),
            pending_break: None,
            squeeze: false,
            opens: Vec::new(),
            active: Vec::new(),
            line_start: true,
            prev: None,
            line_digits: Some(0),
            checks: Vec::new(),
            run: None,
            closes: Vec::new(),
            code: None,
            opener_runs: Vec::new(),
            para_bracket: None,
            para_link: None,
            bulk,
            spare_members: Vec::new(),
        }
    }

    /// Nothing written yet (by this writer: the output may hold text before it).
    fn nothing_written(&self) -> bool {
        self.out.len() == self.base
    }

    pub(super) fn inlines(&mut self, content: &[Inline], depth: usize) {
        for inline in content {
            self.inline(inline, depth);
        }
    }

    fn inline(&mut self, inline: &Inline, depth: usize) {
        if depth > MAX_DEPTH {
            let mut text = String::new();
            plain_text(std::slice::from_ref(inline), &mut text);
            self.text(&text);
            return;
        }
        match inline {
            Inline::Text(text) => self.text(text),
            Inline::Strong(c) => self.span(Style::Strong, c, None, depth),
            Inline::Emphasis(c) => self.span(Style::Emphasis, c, None, depth),
            Inline::Strikethrough(c) => self.span(Style::Strike, c, None, depth),
            Inline::Link {
                content,
                destination,
            } => self.span(Style::Link, content, Some(destination), depth),
            Inline::Code(code) => self.code(code),
            Inline::Image { alt, source } => self.image(alt, source),
            Inline::Autolink(url) => self.autolink(url),
            Inline::SoftBreak => self.line_break(Break::Soft),
            Inline::LineBreak => self.line_break(Break::Hard),
        }
    }

    // --- Text -----------------------------------------------------------------------------

    pub(super) fn text(&mut self, text: &str) {
        let mut i = 0;
        while let Some(c) = text[i..].chars().next() {
            if self.settled() {
                // Most text is words and single spaces that need nothing: copied in bulk.
                let len = plain_run(&text.as_bytes()[i..]);
                if len > 0 {
                    let run = &text[i..i + len];
                    self.out.push_str(run);
                    self.prev = run.chars().next_back();
                    self.code = None;
                    i += len;
                    continue;
                }
            }
            let mut next = i + c.len_utf8();
            match c {
                // An autolink in text renders as the link it spells; escapes inside it would
                // show. Inside a link's text it would break the link: escaped there. In a cell
                // one that holds a `|` too, whose `\|` would show (see `keeps_autolink`).
                '<' if !self.in_link() => {
                    self.visible();
                    if let Some(len) = autolink_len(&text[i..])
                        && self.keeps_autolink(&text[i..i + len])
                    {
                        self.markup(&text[i..i + len]);
                        next = i + len;
                    } else {
                        self.literal(c);
                    }
                }
                '\r' | '\n' if self.collapse => self.space(' '),
                '\r' | '\n' => {
                    if c == '\r' && text[next..].starts_with('\n') {
                        next += 1;
                    }
                    self.line_break(Break::Soft);
                }
                ' ' | '\t' | '\x0C' if self.collapse => self.space(' '),
                ' ' | '\t' => self.space(c),
                '\0' => {
                    self.visible();
                    self.literal('\u{FFFD}');
                }
                _ => {
                    self.visible();
                    self.literal(c);
                }
            }
            i = next;
        }
    }

    /// Nothing waits and nothing looks ahead: a [`plain_run`] can be written as it is (it
    /// would pass [`Self::visible`] and [`Self::literal`] unchanged, one character after the
    /// other).
    fn settled(&self) -> bool {
        self.bulk
            && !self.line_start
            && self.line_digits.is_none()
            && !self.squeeze
            && self.pending_space.is_empty()
            && self.pending_break.is_none()
            && self.opens.is_empty()
            && self.closes.is_empty()
            && self.checks.is_empty()
            && self.run.is_none()
    }

    fn space(&mut self, c: char) {
        // Collapsing, a run of whitespace (across texts too) is the one space already held.
        let held = self.collapse && !self.pending_space.is_empty();
        if !self.squeeze && !held {
            self.pending_space.push(c);
        }
    }

    pub(super) fn line_break(&mut self, kind: Break) {
        match (self.context, kind) {
            (Context::Heading, _) | (Context::Cell, Break::Soft) => {
                self.pending_space.clear();
                self.pending_space.push(' ');
                self.squeeze = true;
            }
            _ => {
                // Two breaks in a row are one: a blank line would end the paragraph.
                if self.pending_break != Some(Break::Hard) {
                    self.pending_break = Some(kind);
                }
                self.pending_space.clear();
            }
        }
    }

    /// Writes what waits for visible content: a line break, whitespace, opening markers.
    fn visible(&mut self) {
        self.squeeze = false;
        self.flush_closes();
        // A break before anything visible is dropped: a paragraph cannot start with one.
        if let Some(kind) = self.pending_break.take()
            && !self.nothing_written()
        {
            self.pending_space.clear();
            if self.context == Context::Cell {
                self.markup("<br>");
            } else {
                self.end_line();
                self.out
                    .push_str(if kind == Break::Hard { "  \n" } else { "\n" });
                self.prev = None;
                self.line_digits = Some(0);
            }
            // Whitespace after a break is dropped, as at the start of any line.
            self.line_start = true;
        }
        // The buffers taken here are put back emptied (neither `emit`, `markup` nor
        // `delimiter` touches them): kept for the next line instead of freed and regrown.
        if !self.pending_space.is_empty() {
            let mut space = std::mem::take(&mut self.pending_space);
            if !self.line_start {
                for c in space.chars() {
                    self.emit(c);
                }
            }
            space.clear();
            self.pending_space = space;
        }
        if !self.opens.is_empty() {
            let mut opens = std::mem::take(&mut self.opens);
            for open in opens.drain(..) {
                match open.style {
                    Style::Link => {
                        if self.nothing_written() && self.context == Context::Paragraph {
                            self.para_link = Some(open.id);
                        }
                        self.markup("[");
                    }
                    style => self.delimiter(style.opener(), open.id, true),
                }
            }
            self.opens = opens;
        }
    }

    /// The end of a line or of the content: every pending check and run learns it.
    fn end_line(&mut self) {
        self.feed(Next::Eol);
        self.finish_run(None);
    }

    /// A character of text, escaped as its position requires.
    fn literal(&mut self, c: char) {
        let at_line_start = self.line_start && self.context == Context::Paragraph;
        let starts_paragraph = self.nothing_written() && self.context == Context::Paragraph;
        let digits = self.line_digits.take();
        let prev = self.prev;
        let at = self.emit_pos(c);
        // Brackets in a link's text always: the link's own `[`…`](` must pair.
        let mut escape = matches!(c, '[' | ']') && self.in_link();
        let mut rule = None;
        if at_line_start && !escape {
            match c {
                '>' | '|' | '*' | '~' | '`' => escape = true,
                '#' => rule = Some(Rule::LineHash { count: 1 }),
                '-' => rule = Some(Rule::LineDash { first: true }),
                '+' => rule = Some(Rule::ListMarker),
                '=' => rule = Some(Rule::LineEquals),
                ':' => rule = Some(Rule::LineColon { dash: false }),
                '[' => rule = Some(Rule::LineBracket),
                _ => {}
            }
        }
        if self.context == Context::Paragraph {
            match (digits, c) {
                (Some(n), '0'..='9') if n < 9 => self.line_digits = Some(n + 1),
                (Some(n), '.' | ')') if n > 0 => rule = Some(Rule::ListMarker),
                _ => {}
            }
        }
        if !escape && rule.is_none() {
            match c {
                '`' => escape = true,
                '\\' => rule = Some(Rule::Backslash),
                '*' | '~' => match prev {
                    Some(p) if p.is_whitespace() => rule = Some(Rule::Flanked),
                    _ => escape = true,
                },
                '_' => match prev {
                    Some(p) if p.is_alphanumeric() => rule = Some(Rule::Intraword),
                    _ => escape = true,
                },
                ']' => rule = Some(Rule::CloseBracket),
                '!' => rule = Some(Rule::Bang),
                '<' => {
                    rule = Some(Rule::Angle {
                        name: false,
                        local: false,
                    })
                }
                '&' => rule = Some(Rule::Ampersand { len: 0 }),
                _ => {}
            }
        }
        if c == ']' {
            // The first `]` ends a definition's label; `CloseBracket` sees what follows it.
            self.para_bracket = None;
        }
        if escape {
            self.out.insert(at, '\\');
        } else {
            if c == '[' && starts_paragraph {
                self.para_bracket = Some(at);
            }
            if let Some(rule) = rule {
                self.checks.push(Check { at, rule });
            }
        }
    }

    fn in_link(&self) -> bool {
        self.active.iter().any(|(s, _)| *s == Style::Link)
    }

    /// Writes `c` (after the checks and the run have seen it) and returns where it went.
    fn emit_pos(&mut self, c: char) -> usize {
        self.feed(Next::Char(c));
        self.finish_run(Some(c));
        let at = self.out.len();
        self.out.push(c);
        self.after_char(c);
        at
    }

    /// Writes whitespace or markup.
    fn emit(&mut self, c: char) {
        if c == ']' {
            self.bracket_in_markup();
        }
        self.emit_pos(c);
        self.line_digits = None;
    }

    /// A `]` that cannot be escaped (markup, code) ends a paragraph-starting `[`'s label: that
    /// `[` is escaped, and a link's label is not a definition's unless `:` follows.
    fn bracket_in_markup(&mut self) {
        if let Some(at) = self.para_bracket.take() {
            self.insert_backslash(at);
        }
        self.para_link = None;
    }

    fn after_char(&mut self, c: char) {
        self.prev = Some(c);
        if !(c == ' ' || c == '\t') {
            self.line_start = false;
        }
        self.code = None;
    }

    /// Markup other than emphasis delimiters.
    ///
    /// Character by character while a check is pending or a delimiter run is open (each
    /// character may decide them); once neither is, and no `]` is left (which `emit` treats
    /// on its own), the rest is appended at once: [`emit`](Self::emit) would only push each
    /// character and note it as the last. A link's destination is written this way, not a
    /// character at a time. Held to the per-character path with `bulk` off, as plain text is
    /// (`bulk_text_is_written_as_per_character`).
    fn markup(&mut self, s: &str) {
        let bulk_from = s.rfind(']').map_or(0, |at| at + 1);
        for (i, c) in s.char_indices() {
            if self.bulk && i >= bulk_from && self.checks.is_empty() && self.run.is_none() {
                self.markup_rest(&s[i..]);
                return;
            }
            self.emit(c);
        }
    }

    /// What [`emit`](Self::emit) of each character of `rest` (no `]` in it) does when no
    /// check is pending and no delimiter run is open: `feed` and `finish_run` have nothing
    /// to do, so the characters are pushed and the last one noted.
    fn markup_rest(&mut self, rest: &str) {
        let Some(last) = rest.chars().next_back() else {
            return;
        };
        self.out.push_str(rest);
        self.prev = Some(last);
        if rest.bytes().any(|b| b != b' ' && b != b'\t') {
            self.line_start = false;
        }
        self.code = None;
        self.line_digits = None;
    }

    fn delimiter(&mut self, marker: &str, id: usize, opens: bool) {
        let Some(first) = marker.chars().next() else {
            return;
        };
        let extends = self
            .run
            .as_ref()
            .is_some_and(|r| r.marker == first && r.end == self.out.len());
        if extends
            && opens
            && self
                .run
                .as_ref()
                .is_some_and(|r| r.members.iter().any(|m| !m.opens))
        {
            // An opener right after a closer of the same character makes one run that both
            // closes and opens, which CommonMark's "multiple of 3" rule may pair otherwise:
            // this span is written as plain text instead.
            self.failed.push(id);
        }
        if !extends {
            self.feed(Next::Char(first));
            self.finish_run(Some(first));
            self.run = Some(Run {
                marker: first,
                before: self.prev,
                start: self.out.len(),
                end: self.out.len(),
                members: std::mem::take(&mut self.spare_members),
            });
        }
        let enclosed = opens && {
            let in_run = |sid: usize| {
                self.run
                    .as_ref()
                    .is_some_and(|r| r.members.iter().any(|m| m.id == sid))
            };
            self.active.iter().any(|(style, sid)| {
                *sid != id && style.opener().starts_with(first) && !in_run(*sid)
            })
        };
        self.out.push_str(marker);
        self.after_char(first);
        self.line_digits = None;
        if let Some(run) = &mut self.run {
            run.end = self.out.len();
            run.members.push(Member {
                id,
                opens,
                enclosed,
            });
        }
    }

    /// Judges the finished run by the characters around it: an opener must be left-flanking,
    /// a closer right-flanking (CommonMark 6.2), or its span is written as plain text.
    fn finish_run(&mut self, next: Option<char>) {
        let Some(run) = self.run.take() else { return };
        let before_space = run.before.is_none_or(char::is_whitespace);
        let after_space = next.is_none_or(char::is_whitespace);
        let before_punct = run.before.is_some_and(is_punctuation);
        let after_punct = next.is_some_and(is_punctuation);
        let left = !after_space && (!after_punct || before_space || before_punct);
        let right = !before_space && (!before_punct || after_space || after_punct);
        let both = left && right;
        let length = run.end - run.start;
        let mut members = run.members;
        for member in members.drain(..) {
            let fails = if member.opens {
                self.opener_runs.push((member.id, length, both));
                !left || (both && member.enclosed)
            } else {
                // "Multiple of 3": a closer and an opener one of which could do both are not
                // paired if their runs' lengths add up to a multiple of 3 (unless both are).
                let threes = self
                    .opener_runs
                    .iter()
                    .rev()
                    .find(|(id, ..)| *id == member.id)
                    .is_some_and(|&(_, n, opener_both)| {
                        (both || opener_both)
                            && (n + length) % 3 == 0
                            && !(n % 3 == 0 && length % 3 == 0)
                    });
                !right || threes
            };
            if fails {
                self.failed.push(member.id);
            }
        }
        // Emptied, kept for the next run's members.
        self.spare_members = members;
    }

    /// Lets the pending checks see the next character; escapes where they decide so.
    fn feed(&mut self, next: Next) {
        if self.checks.is_empty() {
            return;
        }
        let mut i = 0;
        while i < self.checks.len() {
            match self.checks[i].rule.next(next) {
                Verdict::Undecided => i += 1,
                Verdict::Keep => {
                    self.checks.remove(i);
                }
                Verdict::Escape => {
                    let at = self.checks.remove(i).at;
                    self.insert_backslash(at);
                }
            }
        }
    }

    fn insert_backslash(&mut self, at: usize) {
        self.out.insert(at, '\\');
        for check in &mut self.checks {
            if check.at >= at {
                check.at += 1;
            }
        }
        if let Some(run) = &mut self.run
            && run.end > at
        {
            run.end += 1;
            if run.start >= at {
                run.start += 1;
            }
        }
        // A `[` escaped now is no longer a label's start.
        self.para_bracket = self
            .para_bracket
            .filter(|b| *b != at)
            .map(|b| b + usize::from(b > at));
        if let Some(code) = &mut self.code
            && code.end > at
        {
            code.end += 1;
            if code.start >= at {
                code.start += 1;
            }
        }
    }

    // --- Spans ----------------------------------------------------------------------------

    fn span(&mut self, style: Style, content: &[Inline], dest: Option<&str>, depth: usize) {
        self.span_with(style, dest, |w| w.inlines(content, depth + 1));
    }

    /// A link whose text is `text`: what [`Inline::link`] of one [`Inline::Text`] writes.
    pub(super) fn link_text(&mut self, text: &str, destination: &str) {
        self.span_with(Style::Link, Some(destination), |w| w.text(text));
    }

    /// Strong emphasis of `text`: what [`Inline::strong`] of one [`Inline::Text`] writes.
    pub(super) fn strong_text(&mut self, text: &str) {
        self.span_with(Style::Strong, None, |w| w.text(text));
    }

    /// A span of `style` whose content `content` writes.
    fn span_with(&mut self, style: Style, dest: Option<&str>, content: impl FnOnce(&mut Self)) {
        let id = self.next_id;
        self.next_id += 1;
        let nested = self.active.iter().any(|(s, _)| *s == style);
        if nested || self.disabled.binary_search(&id).is_ok() {
            // A link written as its text still holds no link.
            let link = style == Style::Link && !nested;
            if link {
                self.active.push((style, id));
            }
            content(self);
            if link {
                self.active.pop();
            }
            return;
        }
        // A span opened right where one of its style closed continues it: only whitespace,
        // a break or another opener in between would make them two.
        let resumes = style != Style::Link
            && self.pending_space.is_empty()
            && self.pending_break.is_none()
            && self.opens.is_empty()
            && self.closes.last().is_some_and(|c| c.style == style);
        let id = match self.closes.pop_if(|_| resumes) {
            Some(close) => close.id,
            None => {
                self.opens.push(Open { style, id });
                id
            }
        };
        self.active.push((style, id));
        content(self);
        self.active.pop();
        if let Some(pos) = self.opens.iter().position(|o| o.id == id) {
            // Nothing visible inside: no markers. A link still shows where it goes.
            self.opens.truncate(pos);
            if let Some(dest) = dest {
                self.autolink(dest);
            }
            return;
        }
        self.closes.push(Close {
            style,
            id,
            dest: dest.map(str::to_owned),
        });
    }

    /// Writes the closers that wait.
    fn flush_closes(&mut self) {
        // Called before every visible character: most have nothing to close, and taking the
        // empty list would still build and drop an iterator per character.
        if self.closes.is_empty() {
            return;
        }
        // Taken and put back emptied (`markup` and `delimiter` do not touch it): the buffer
        // is kept for the next closers.
        let mut closes = std::mem::take(&mut self.closes);
        for close in closes.drain(..) {
            match close.dest {
                Some(dest) => {
                    self.markup("](");
                    self.markup(&destination(&dest));
                    self.markup(")");
                }
                None => self.delimiter(close.style.opener(), close.id, false),
            }
        }
        self.closes = closes;
    }

    fn code(&mut self, code: &str) {
        if code.is_empty() {
            return;
        }
        self.visible();
        let mut joined = String::new();
        if let Some(last) = self.code.take_if(|c| c.end == self.out.len()) {
            // Two code spans in a row would read as one run of backticks: one span holds both.
            self.out.truncate(last.start);
            self.prev = self.out[self.base..]
                .chars()
                .next_back()
                .filter(|c| *c != '\n');
            if code.starts_with(':')
                && let Some(link) = last.ends_label
            {
                self.failed.push(link);
            }
            joined = last.code;
        }
        let code: String = joined
            .chars()
            .chain(code.chars())
            .map(|c| match c {
                '\r' | '\n' => ' ',
                '\0' => '\u{FFFD}',
                c => c,
            })
            .collect();
        let mut ends_label = None;
        if let Some(i) = code.find(']') {
            if code[i..].starts_with("]:")
                && let Some(link) = self.para_link
            {
                // `[`…`]:` at a paragraph's start is a link reference definition.
                self.failed.push(link);
            }
            if i + 1 == code.len() {
                // What follows the `]` is the next span's, if one joins this.
                ends_label = self.para_link;
            }
            self.bracket_in_markup();
        }
        let fence = "`".repeat(longest_run(&code, '`') + 1);
        let pad = code.starts_with('`')
            || code.ends_with('`')
            || (code.starts_with(' ') && code.ends_with(' ') && code.chars().any(|c| c != ' '));
        let pad = if pad { " " } else { "" };
        self.markup(&fence);
        // Measured from the end: writing the fence may have escaped a character before it.
        let start = self.out.len() - fence.len();
        self.out.push_str(pad);
        self.out.push_str(&code);
        self.out.push_str(pad);
        self.out.push_str(&fence);
        self.prev = Some('`');
        self.code = Some(CodeSpan {
            start,
            end: self.out.len(),
            code,
            ends_label,
        });
    }

    fn image(&mut self, alt: &str, source: &str) {
        if source.trim().is_empty() {
            self.text(alt);
            return;
        }
        self.visible();
        self.markup("![");
        // The alt text is written like a link's text: its brackets escaped.
        self.active.push((Style::Link, usize::MAX));
        let text: String = alt
            .chars()
            .map(|c| if c == '\n' { ' ' } else { c })
            .collect();
        for c in text.chars() {
            if c == ' ' || c == '\t' {
                self.emit(c);
            } else {
                self.literal(c);
            }
        }
        self.active.pop();
        self.markup("](");
        self.markup(&destination(source));
        self.markup(")");
    }

    pub(super) fn autolink(&mut self, url: &str) {
        let url = url.trim();
        if url.is_empty() {
            return;
        }
        if self.in_link() {
            // A link cannot hold a link: the URL is the text.
            self.text(url);
            return;
        }
        if is_autolink(url) && self.keeps_autolink(url) {
            self.visible();
            self.markup("<");
            self.markup(url);
            self.markup(">");
        } else {
            let id = self.next_id;
            self.next_id += 1;
            self.visible();
            self.markup("[");
            self.active.push((Style::Link, id));
            self.text(url);
            self.active.pop();
            self.markup("](");
            self.markup(&destination(url));
            self.markup(")");
        }
    }

    /// Whether `autolink`, written as it is, reads back as itself here. A cell's `|`s are all
    /// escaped when it ends (the row would split at them otherwise), and inside an autolink a
    /// backslash is literal: `<aa:\|>` would read as the URL `aa:\|`. There the text is
    /// written as text (its `<` escaped) or the link as a link (`\|` is an escape in a link's
    /// text and destination).
    fn keeps_autolink(&self, autolink: &str) -> bool {
        self.context != Context::Cell || !autolink.contains('|')
    }

    // --- The end ----------------------------------------------------------------------------

    fn finish(&mut self) {
        self.flush_closes();
        self.pending_break = None;
        self.pending_space.clear();
        self.opens.clear();
        self.end_line();
        match self.context {
            Context::Heading => {
                // A heading's trailing `#`s after a space are a closing sequence, not text.
                let written = &self.out[self.base..];
                let body = written.trim_end_matches('#');
                if body.len() < written.len() && (body.is_empty() || body.ends_with([' ', '\t'])) {
                    let at = self.base + body.len();
                    self.out.insert(at, '\\');
                }
            }
            Context::Cell => {
                if self.out[self.base..].contains('|') {
                    let cell = self.out[self.base..].replace('|', "\\|");
                    self.out.truncate(self.base);
                    self.out.push_str(&cell);
                }
            }
            Context::Paragraph => {}
        }
    }
}

/// Bytes of text that [`InlineWriter::literal`] never escapes nor checks once a line has
/// started (its digits done): letters, digits, every non-ASCII character, and the punctuation
/// that matters only at a line start (`#`, `-`, `+`, `=`, `:`, `>`, `|`) or after a line
/// start's digits (`.`, `)`).
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c >= 0x80
            || c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'"' | b'#'
                    | b'$'
                    | b'%'
                    | b'\''
                    | b'('
                    | b')'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'^'
                    | b'{'
                    | b'|'
                    | b'}'
            );
        b += 1;
    }
    t
};

/// The length of the longest start of `text` made of [`PLAIN`] bytes, single spaces each
/// followed by one, and single `_`s between two ASCII letters or digits (`snake_case` words:
/// literal within a word, their check kept by the letter after them), so that nothing in it
/// is escaped, held back or collapsed. It ends on a character boundary: every byte of a
/// multi-byte character is plain, and what ends the run is ASCII or the end.
///
/// Blocks of [`WIDE`] bytes, then one of [`BLOCK`], that hold only plain bytes and spaces
/// followed by one are passed over whole ([`plain_block`], which the compiler turns into
/// vector compares: a row's 253-byte body 1.0k instructions in blocks of 16 against the byte
/// loop's 2.1k, and about 10% less again in blocks of 32, whose loop and look-up of the byte
/// after are paid half as often), then a byte at a time through the [`PLAIN`] table from the
/// block that is not. A word-at-a-time scan (SWAR on `u64`s) was tried before and cost more
/// than the byte loop on x86-64 (every 64-bit mask is a `movabs`, and prose has a space every
/// few bytes). Held to an independent spelling of the rule by `plain_run_is_the_byte_loop`.
pub(super) fn plain_run(text: &[u8]) -> usize {
    let mut n = 0;
    // The run ends at the first byte that is neither plain, nor a space before a plain byte,
    // nor a `_` inside a word: a block with none of the first two is all in the run (a `_`
    // is left to the byte loop). The wide blocks first, then one narrow one (which a text of
    // 17 to 32 bytes, or the rest of a longer one, still passes over whole).
    while let Some(block) = text.get(n..n + WIDE + 1) {
        if !plain_block::<WIDE>(block) {
            break;
        }
        n += WIDE;
    }
    if let Some(block) = text.get(n..n + BLOCK + 1)
        && plain_block::<BLOCK>(block)
    {
        n += BLOCK;
    }
    // Past the last whole block (none failed): the block ending one byte before the end,
    // which starts inside the blocks passed, then that last byte, which ends the run if plain
    // (a space there has no byte after it). Else byte by byte from `n`.
    if let Some(tail) = text.len().checked_sub(BLOCK + 1)
        && tail < n
        && plain_block::<BLOCK>(&text[tail..])
        && text.last().is_some_and(|&b| PLAIN[usize::from(b)])
    {
        return text.len();
    }
    while let Some(&b) = text.get(n) {
        if PLAIN[usize::from(b)] {
            n += 1;
        } else if (b == b' ' && text.get(n + 1).is_some_and(|&b| PLAIN[usize::from(b)]))
            || (b == b'_'
                && n > 0
                && text.get(n - 1).is_some_and(u8::is_ascii_alphanumeric)
                && text.get(n + 1).is_some_and(u8::is_ascii_alphanumeric))
        {
            // A single space before a plain byte, or a `_` inside a word: taken with the
            // byte after it.
            n += 2;
        } else {
            break;
        }
    }
    n
}

/// The bytes [`plain_block`] checks at once at the end of a run: one SSE2 register.
const BLOCK: usize = 16;

/// The bytes [`plain_block`] checks at once before that: two SSE2 registers.
const WIDE: usize = 32;

/// Whether `c` is not [`PLAIN`], spelled as compares rather than a table look-up so that
/// [`plain_block`]'s loop becomes vector compares.
#[inline(always)]
fn not_plain(c: u8) -> bool {
    (c <= b'!')
        | (c == b'&')
        | (c == b'*')
        | (c == b'<')
        | (b'['..=b']').contains(&c)
        | (c == b'_')
        | (c == b'`')
        | (b'~'..=0x7f).contains(&c)
}

/// Whether each of the first `N` bytes of `block` (which holds one byte more: the one after
/// them) is plain or a space followed by a plain byte, checked as: every byte of the
/// block [plain](PLAIN) or a space, no two spaces in a row, and the byte after the block
/// plain or a space (not a space after a space). That is stricter than the rule only where the
/// byte after the block is neither (the block is then left to the byte loop), and needs no
/// second check of the bytes one place on: the compares of one register, one test and a
/// table look-up.
#[inline]
fn plain_block<const N: usize>(block: &[u8]) -> bool {
    let (Some(bytes), Some(next)) = (
        block.first_chunk::<N>(),
        block.get(1..).and_then(<[u8]>::first_chunk::<N>),
    ) else {
        return false;
    };
    let mut stop = false;
    for (&c, &d) in bytes.iter().zip(next) {
        stop |= (not_plain(c) & (c != b' ')) | ((c == b' ') & (d == b' '));
    }
    let after = next[N - 1];
    !stop && (PLAIN[usize::from(after)] || after == b' ')
}

/// Whether `text` is written as it is, unescaped, by [`InlineWriter::text`] once a line has
/// started with visible markup before it (no check pending, no run open): [`PLAIN`] bytes and
/// single spaces between them, with no space first.
pub(super) fn is_plain_text(text: &str) -> bool {
    !text.starts_with(' ') && plain_run(text.as_bytes()) == text.len()
}

/// Whether `text`, alone in a paragraph or a heading (one line, nothing before it on the line),
/// is written as it is by [`InlineWriter::text`]: an ASCII letter first (neither escaped nor
/// checked at a line start, and no start of a list number), then a [plain](plain_run) rest,
/// which the writer copies in bulk once that letter is written. A heading's text must not end
/// with `#` either (a closing sequence). Held to the per-character path by
/// `plain_lines_are_written_as_per_character`.
pub(super) fn is_plain_line(text: &str, context: Context) -> bool {
    let bytes = text.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && plain_run(rest) == rest.len()
                && !(context == Context::Heading && bytes.last() == Some(&b'#'))
        }
        None => false,
    }
}

/// Whether `text`, the whole text of a link that starts a paragraph or a list item (after its
/// `[`), is written as it is by [`InlineWriter::text`]: an ASCII [`PLAIN`] byte first (which
/// no rule looks at once the `[` is written, nor escapes in a link), then a
/// [plain](plain_run) rest, which the writer copies in bulk once that byte is written. Held to
/// the per-character path by `plain_link_bullets_are_written_as_per_character`.
pub(super) fn is_plain_link_text(text: &str) -> bool {
    match text.as_bytes().split_first() {
        Some((&first, rest)) => {
            first.is_ascii() && PLAIN[usize::from(first)] && plain_run(rest) == rest.len()
        }
        None => false,
    }
}

/// Whether `value` is written as it is by [`InlineWriter::text`] after a label's closing `**`
/// and a space: [plain](is_plain_text) runs, each followed by an autolink (`<ada@example.com>`,
/// `<https://…>`) or a space and one (the writer copies an autolink as markup, unescaped).
pub(super) fn is_plain_value(value: &str) -> bool {
    if value.starts_with(' ') {
        return false;
    }
    let mut rest = value;
    loop {
        rest = &rest[plain_run(rest.as_bytes())..];
        if rest.is_empty() {
            return true;
        }
        let link = rest.strip_prefix(' ').unwrap_or(rest);
        match autolink_len(link) {
            Some(len) => rest = &link[len..],
            None => return false,
        }
    }
}

/// Whether `label` is written as it is, unescaped, as the whole text of strong emphasis that
/// starts a line and is followed by a space or the line's end: [plain](is_plain_text), not
/// empty, and its first and last characters ASCII (so neither whitespace, Unicode
/// whitespace nor Unicode punctuation keeps the `**` around it from opening and closing).
pub(super) fn is_plain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => first.is_ascii() && last.is_ascii() && is_plain_text(label),
        _ => false,
    }
}

#[cfg(test)]
mod plain_tests {
    use super::*;

    /// `not_plain`'s compares name the bytes the `PLAIN` table does not: every byte value.
    #[test]
    fn not_plain_is_the_table_negated() {
        for b in 0..=255u8 {
            assert_eq!(not_plain(b), !PLAIN[usize::from(b)], "{b:#04x}");
        }
    }

    /// A block passes only when every byte is plain or a space before a plain byte, and
    /// always then unless the byte after it is neither plain nor a space: each byte value at
    /// each place of a plain block and of one with a space last, and the byte after it, in
    /// blocks of both sizes.
    #[test]
    fn plain_blocks_hold_only_the_run() {
        blocks_hold_only_the_run::<BLOCK>();
        blocks_hold_only_the_run::<WIDE>();
    }

    fn blocks_hold_only_the_run<const N: usize>() {
        // Words and single spaces, the byte after the block a letter; then the same with a
        // space last in the block.
        let plain: Vec<u8> = b"body text of a row "
            .iter()
            .copied()
            .cycle()
            .take(N + 1)
            .collect();
        let mut spaced = plain.clone();
        spaced[N - 2] = b'x';
        spaced[N - 1] = b' ';
        spaced[N] = b'o';
        for base in [plain, spaced] {
            assert!(
                plain_block::<N>(&base),
                "{:?}",
                String::from_utf8_lossy(&base)
            );
            for at in 0..=N {
                for b in 0..=255u8 {
                    let mut block = base.clone();
                    block[at] = b;
                    let want = (0..N).all(|i| {
                        PLAIN[usize::from(block[i])]
                            || (block[i] == b' ' && PLAIN[usize::from(block[i + 1])])
                    });
                    let after = block[N];
                    if PLAIN[usize::from(after)] || after == b' ' {
                        assert_eq!(plain_block::<N>(&block), want, "{b:#04x} at {at}");
                    } else {
                        assert!(!plain_block::<N>(&block), "{b:#04x} at {at}");
                    }
                }
            }
            assert!(!plain_block::<N>(&base[..N]));
        }
    }
}
