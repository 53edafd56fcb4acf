//! The fast path of [`html_to_markdown`](super::html_to_markdown): the shapes of rich-text
//! fields, mail and chat bodies (paragraphs and `div`s, line breaks, bold, italics, links,
//! `span`/`font`/`u`, Teams' `at` and Word's `o:p`, images, `h1`-`h6`, rules, quotes, `ul`
//! and `ol` lists, inline `code` of text, and comments, after a document start of `<html>`, a
//! `<head>` of metadata and `<body>`, before a closing `</body></html>`), tokenized by a byte
//! scan (or html5ever's tokenizer) and converted without building a DOM.
//!
//! htmd parses every input as a whole document (`html`, `head`, `body`, reference-counted nodes)
//! and walks it; for a rich-text field of two short paragraphs that costs about 3 µs, most of a
//! REST item's conversion, and for a 1.3 KiB mail body about 20 µs. Tokenizing alone costs a
//! fifth of that.
//!
//! The output must be byte for byte what htmd gives, so that which path ran never shows. This
//! path therefore only accepts input whose tree and rendering it can reproduce exactly and gives
//! up (`None`) on anything else: any other tag (tables, `pre`, ...), an `ol` with `start`, a
//! doctype other than `<!DOCTYPE html>`, a parse error, tags that do not nest cleanly or blocks inside
//! inline elements (the tree builder would repair or move them), text that htmd would escape,
//! adjacent emphasis or inline elements of one kind (htmd merges them), a link without `href`
//! or with a `title`, a math `span`, an element inside `code` (htmd renders it preformatted).
//! Property tests hold it to htmd's output on generated fragments, documents and tag soup.
//!
//! Inline `code` (blogs and feeds use it a lot) is a code span as htmd writes it: the text as
//! it is (entities decoded, nothing escaped, inner whitespace kept), trimmed, between fences of
//! the backtick run length it lacks (see [`close_code`]).
//!
//! Tables and `pre` stay with htmd. The tree builder rewrites tables as it parses
//! them (an implied `tbody`, text and other elements moved out of a table ahead of it,
//! "foster parenting", cells and rows closed by the next one), and htmd's table handler pads
//! every column to its widest cell and writes a cell's newlines as spaces and `|` as
//! `&#124;`; the tree builder drops a newline right after `<pre>`, htmd keeps its whitespace
//! and fences a code block with one more backtick than the longest run in it (at least 3). Reproducing those exactly,
//! with property-test generators to hold them to htmd, was more than session 42 had time for
//! (its pass cut this path's fixed costs instead: see the html bench's header).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Markdown for `html` when it is a simple fragment, else `None` (convert it with htmd).
#[cfg(test)]
pub(super) fn convert(html: &str) -> Option<String> {
    let mut out = String::new();
    convert_into(html, &mut out).then_some(out)
}

/// [`convert`] appended to `out`: whether `html` is a simple fragment, its Markdown after
/// what `out` held; else `false` and `out` as it was (convert it with htmd). Rendered in
/// place, so that a caller that gathers parts (a REST item's content fields) makes no
/// `String` per part and copies nothing.
pub(super) fn convert_into(html: &str, out: &mut String) -> bool {
    // Read as the tokenizer reads its input: CR LF and CR as LF (most mail has CR LF line
    // ends), no byte order mark. A NUL anywhere is not this path's (the tokenizer rewrites
    // it). One search finds both in the usual input, which has neither, and what follows
    // relies on it: the stream has no NUL nor CR.
    let html = match memchr::memchr2(b'\0', b'\r', html.as_bytes()) {
        None => Cow::Borrowed(html.strip_prefix('\u{feff}').unwrap_or(html)),
        Some(i) if html.as_bytes()[i] == b'\0' => return false,
        Some(_) => {
            let stream = super::scan::input_stream(html);
            if memchr::memchr(b'\0', stream.as_bytes()).is_some() {
                return false;
            }
            stream
        }
    };
    let html = without_document_end(&html);
    let Some(html) = without_document_start(html) else {
        return false;
    };
    let top = out.len();
    if render(html, out).is_none() {
        return false;
    }
    // What htmd's document, `html` and `body` levels and its final trim leave of the body
    // (`trim_matches('\n')`, `trim_end_matches` of document whitespace, `trim_matches('\n')`
    // again), cut in place: the leading newlines, and the trailing whitespace up to them.
    let bytes = &out.as_bytes()[top..];
    let start = bytes.iter().take_while(|&&b| b == b'\n').count();
    let end = start
        + bytes[start..]
            .iter()
            .rposition(|&b| !matches!(b, b'\t' | b'\n' | b'\r' | b' '))
            .map_or(0, |last| last + 1);
    out.truncate(top + end);
    if start > 0 {
        out.drain(top..top + start);
    }
    true
}

/// `html` without a closing `</body>` and `</html>` (and the whitespace after either), as the
/// rest of a mail body cut after its `<body>` ends. They close nothing the tree builder has
/// not closed in a fragment this path takes, and whitespace after them goes to the end of the
/// body, where htmd trims it.
fn without_document_end(html: &str) -> &str {
    // The usual fragment ends in neither tag, nor in whitespace: its last two bytes tell.
    if let [.., before, last] = html.as_bytes()
        && !matches!(last, b'\t' | b'\n' | b'\r' | b' ')
        && !(*last == b'>' && matches!(before | 0x20, b'l' | b'y'))
    {
        return html;
    }
    let mut rest = html;
    for tag in ["</html>", "</body>"] {
        let trimmed = rest.trim_end_matches(is_document_whitespace);
        let cut = trimmed.len().saturating_sub(tag.len());
        if trimmed.is_char_boundary(cut) && trimmed[cut..].eq_ignore_ascii_case(tag) {
            rest = &trimmed[..cut];
        }
    }
    rest
}

/// `html` after a document's start: a `<!DOCTYPE html>`, `<html>`, a `<head>` of `meta`,
/// `link`, `base`, `title` and `style` elements, `<body>`, and comments and whitespace between
/// them, as mail bodies begin. htmd leaves all of it out (the head is skipped, comments are
/// not rendered, whitespace between these tags leaves no text in the body), so the rest
/// renders as the fragment it is. A fragment without them is taken as it is; `None` where
/// the start has anything else before the body (a tag this scan does not know there, an
/// unusual comment, raw text left open), for htmd to read. `html` has no NUL ([`convert`]
/// checked).
fn without_document_start(html: &str) -> Option<&str> {
    let bytes = html.as_bytes();
    // The usual fragment starts with a tag that is none of these (`html`, `head`, `body`):
    // nothing to skip.
    if bytes.first() == Some(&b'<')
        && bytes
            .get(1)
            .is_some_and(|&b| b.is_ascii_alphabetic() && !matches!(b | 0x20, b'b' | b'h'))
    {
        return Some(html);
    }
    #[derive(PartialEq, PartialOrd)]
    enum Stage {
        Initial,
        BeforeHead,
        InHead,
        AfterHead,
    }
    let mut stage = Stage::Initial;
    let mut skipped = false;
    let mut at = 0;
    loop {
        while bytes
            .get(at)
            .is_some_and(|&b| matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' '))
        {
            at += 1;
        }
        let rest = &bytes[at..];
        if rest.first() != Some(&b'<') {
            break;
        }
        if rest.starts_with(b"<!--") {
            at = super::scan::comment(html, at)?.1;
            continue;
        }
        if stage == Stage::Initial
            && !skipped
            && rest.len() >= 15
            && rest[..15].eq_ignore_ascii_case(b"<!doctype html>")
        {
            at += 15;
            skipped = true;
            continue;
        }
        let end = rest.get(1) == Some(&b'/');
        let name_start = at + 1 + usize::from(end);
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let name = &bytes[name_start..name_start + name_len];
        // A name that goes on (`<html-x>`) is another element.
        if !bytes
            .get(name_start + name_len)
            .is_some_and(|&b| matches!(b, b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>'))
        {
            break;
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let kind = if end {
            TagKind::EndTag
        } else {
            TagKind::StartTag
        };
        let next_stage = match stage {
            Stage::Initial if !end && is("html") => Stage::BeforeHead,
            Stage::Initial | Stage::BeforeHead if !end && is("head") => Stage::InHead,
            Stage::InHead if end && is("head") => Stage::AfterHead,
            Stage::InHead if !end && (is("meta") || is("link") || is("base")) => Stage::InHead,
            Stage::InHead if !end && (is("title") || is("style")) => {
                let (_, after) = super::scan::tag(html, name_start, kind)?;
                // Raw text up to the element's end tag: `</name` and a space, `/` or `>`.
                let mut from = after;
                let close = loop {
                    let lt = from + memchr::memchr(b'<', &bytes[from..])?;
                    let tail = &bytes[lt + 1..];
                    if tail.first() == Some(&b'/')
                        && tail.len() > name_len + 1
                        && tail[1..=name_len].eq_ignore_ascii_case(name)
                        && matches!(
                            tail[name_len + 1],
                            b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>'
                        )
                    {
                        break lt;
                    }
                    from = lt + 1;
                };
                at = super::scan::tag(html, close + 2, TagKind::EndTag)?.1;
                continue;
            }
            _ if !end && is("body") => {
                let (_, after) = super::scan::tag(html, name_start, kind)?;
                return Some(&html[after..]);
            }
            _ => break,
        };
        at = super::scan::tag(html, name_start, kind)?.1;
        stage = next_stage;
        skipped = true;
    }
    if !skipped {
        return Some(html);
    }
    Some(&html[at..])
}

/// A byte of the tag names [`kind_of`] knows: letters, digits and the colon of Word's `o:p`
/// (the tokenizer reads a name up to whitespace, `/` or `>`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b':'
}

/// A byte scan that rejects most inputs this path cannot take before any tokenizing: every `<`
/// that opens a tag must name a tag [`kind_of`] knows, and none may open a declaration. It
/// only ever rejects; what it lets through is still checked token by token.
fn only_known_tags(html: &str) -> bool {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'<', &html.as_bytes()[from..]) {
        from += i + 1;
        let after = &html.as_bytes()[from..];
        if after.first() == Some(&b'?')
            || (after.first() == Some(&b'!') && !after.starts_with(b"!--"))
        {
            return false;
        }
        let name = after.strip_prefix(b"/").unwrap_or(after);
        let len = name.iter().take_while(|&&b| is_name_byte(b)).count();
        if name.first().is_some_and(u8::is_ascii_alphabetic) && kind_of(&name[..len]).is_none() {
            return false;
        }
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
enum Kind {
    P,
    Div,
    Br,
    /// `b` and `strong` render alike, as do `i` and `em`, but `</b>` does not close a
    /// `<strong>` (the tree builder ignores it).
    B,
    Strong,
    I,
    Em,
    A,
    /// `span`: its children inline, leading and trailing newlines trimmed (htmd's span path).
    Span,
    /// `font`, `u` and Teams' `at`: no handler in htmd, their children inline as they are.
    Font,
    U,
    At,
    /// Word's `<o:p>` (html5ever's tag name `o:p`, an ordinary element): no handler in htmd
    /// either, its children inline.
    OfficeP,
    Img,
    Hr,
    /// `h1` to `h6`.
    H(u8),
    Blockquote,
    /// `ul` and `ol` (without `start`), and their `li` items.
    Ul,
    Ol,
    Li,
    /// Inline `code` (outside `pre`), of text only: htmd's inline code, a code span.
    Code,
}

impl Kind {
    /// htmd's block elements (it trims spaces before them and leading spaces after them).
    fn is_block(self) -> bool {
        matches!(
            self,
            Kind::P
                | Kind::Div
                | Kind::Hr
                | Kind::H(_)
                | Kind::Blockquote
                | Kind::Ul
                | Kind::Ol
                | Kind::Li
        )
    }

    /// Blocks the tree builder lets other blocks nest in as written (a `ul` takes nothing but
    /// items, which [`render_tokens`] checks apart).
    fn is_container(self) -> bool {
        matches!(
            self,
            Kind::Div | Kind::Blockquote | Kind::Li | Kind::Ul | Kind::Ol
        )
    }

    /// A list: it holds items only.
    fn is_list(self) -> bool {
        matches!(self, Kind::Ul | Kind::Ol)
    }

    /// Elements without content or end tag.
    fn is_void(self) -> bool {
        matches!(self, Kind::Br | Kind::Img | Kind::Hr)
    }
}

/// The kind of a tag by its name (any case); `None` for the tags this path does not take.
/// Names of one and two bytes (most tags of a rich-text field) by their lower-case bytes in
/// one `match`; longer ones by comparison.
fn kind_of(name: &[u8]) -> Option<Kind> {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    Some(match *name {
        [a] => match a.to_ascii_lowercase() {
            b'p' => Kind::P,
            b'b' => Kind::B,
            b'i' => Kind::I,
            b'a' => Kind::A,
            b'u' => Kind::U,
            _ => return None,
        },
        [a, b] => match (a.to_ascii_lowercase(), b.to_ascii_lowercase()) {
            (b'b', b'r') => Kind::Br,
            (b'e', b'm') => Kind::Em,
            (b'a', b't') => Kind::At,
            (b'h', b'r') => Kind::Hr,
            (b'u', b'l') => Kind::Ul,
            (b'o', b'l') => Kind::Ol,
            (b'l', b'i') => Kind::Li,
            (b'h', level @ b'1'..=b'6') => Kind::H(level - b'0'),
            _ => return None,
        },
        _ => match name.len() {
            3 if is("div") => Kind::Div,
            3 if is("o:p") => Kind::OfficeP,
            3 if is("img") => Kind::Img,
            4 if is("span") => Kind::Span,
            4 if is("font") => Kind::Font,
            4 if is("code") => Kind::Code,
            6 if is("strong") => Kind::Strong,
            10 if is("blockquote") => Kind::Blockquote,
            _ => return None,
        },
    })
}

#[cfg_attr(test, derive(Debug, PartialEq))]
enum Tok<'a> {
    /// A start tag; the `href` for a link, the Markdown for an image (`None`: no source).
    Start(Kind, Option<Cow<'a, str>>),
    End(Kind),
    /// Consecutive character tokens, joined as the tree builder joins them into one text node;
    /// borrowed from the input where the byte scan found them.
    Text(Cow<'a, str>),
    /// A comment: nothing in htmd's output, but it parts the text around it into two nodes.
    Comment,
}

/// The start token for a tag of `kind` with these attributes (each name once, the first kept;
/// any case; values decoded), or `None` where this path does not take it: a link without
/// `href` or with a `title`, a `span` htmd renders as math.
fn start_token<'n, 'a>(
    kind: Kind,
    attrs: impl Iterator<Item = (&'n str, Cow<'a, str>)>,
) -> Option<Tok<'a>> {
    match kind {
        Kind::A => {
            let mut href = None;
            for (name, value) in attrs {
                if name.eq_ignore_ascii_case("href") {
                    href = Some(value);
                } else if name.eq_ignore_ascii_case("title") {
                    return None;
                }
            }
            Some(Tok::Start(kind, Some(href?)))
        }
        Kind::Img => Some(Tok::Start(kind, img_markdown(attrs).map(Cow::Owned))),
        Kind::Span => {
            for (name, value) in attrs {
                if name.eq_ignore_ascii_case("class") && value.starts_with("math") {
                    return None;
                }
            }
            Some(Tok::Start(kind, None))
        }
        // htmd numbers from `start`; this path from 1 only.
        Kind::Ol => {
            for (name, _) in attrs {
                if name.eq_ignore_ascii_case("start") {
                    return None;
                }
            }
            Some(Tok::Start(kind, None))
        }
        _ => Some(Tok::Start(kind, None)),
    }
}

/// htmd's image handler: `![alt](src "title")`, or nothing without a source.
fn img_markdown<'n, 'a>(attrs: impl Iterator<Item = (&'n str, Cow<'a, str>)>) -> Option<String> {
    let (mut link, mut alt, mut title) = (None, None, None);
    for (name, value) in attrs {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("href") || is("src") {
            link = Some(value);
        } else if is("alt") {
            alt = Some(value);
        } else if is("title") {
            title = Some(value);
        }
    }
    let link = link?;
    let lines = |text: &str| {
        text.lines()
            .map(|line| {
                line.trim_matches(is_document_whitespace)
                    .replace('"', "\\\"")
            })
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let link = link.replace('(', "\\(").replace(')', "\\)");
    let (open, close) = if link.contains(' ') {
        ("<", ">")
    } else {
        ("", "")
    };
    let mut md = [
        "![",
        &alt.as_deref().map(lines).unwrap_or_default(),
        "](",
        open,
        &link,
        close,
    ]
    .concat();
    if let Some(title) = title {
        md.push_str(" \"");
        md.push_str(&lines(&title));
        md.push('"');
    }
    md.push(')');
    Some(md)
}

/// Whether the tree builder takes a tag of `kind` as written: `</br>` is a `<br>` to it, `<b/>`
/// an open `<b>`, `</img>` nothing.
fn as_written(kind: Kind, end: bool, self_closing: bool) -> bool {
    !((self_closing && !kind.is_void()) || (end && kind.is_void()))
}

/// Collects tokens until the first one this path does not handle.
#[derive(Default)]
struct Collect {
    tokens: RefCell<Vec<Tok<'static>>>,
    refused: Cell<bool>,
    /// Set while `Tokenizer::end` runs, when the tokenizer cannot be stopped.
    ending: Cell<bool>,
}

impl Collect {
    fn accept(&self, token: Token) -> bool {
        let mut tokens = self.tokens.borrow_mut();
        match token {
            Token::CharacterTokens(text) => {
                match tokens.last_mut() {
                    Some(Tok::Text(t)) => t.to_mut().push_str(&text),
                    _ => tokens.push(Tok::Text(Cow::Owned(String::from(&*text)))),
                }
                true
            }
            Token::EOFToken => true,
            Token::CommentToken(_) => {
                tokens.push(Tok::Comment);
                true
            }
            Token::TagToken(tag) => {
                let Some(kind) = kind_of(tag.name.as_bytes()) else {
                    return false;
                };
                let end = tag.kind == TagKind::EndTag;
                if !as_written(kind, end, tag.self_closing) {
                    return false;
                }
                if end {
                    tokens.push(Tok::End(kind));
                    return true;
                }
                let attrs = tag
                    .attrs
                    .iter()
                    .map(|a| (&*a.name.local, Cow::Owned(String::from(&*a.value))));
                match start_token(kind, attrs) {
                    Some(token) => {
                        tokens.push(token);
                        true
                    }
                    None => false,
                }
            }
            // Doctypes, NUL characters and parse errors.
            _ => false,
        }
    }
}

impl TokenSink for Collect {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let is_tag = matches!(token, Token::TagToken(_));
        if !self.refused.get() && !self.accept(token) {
            self.refused.set(true);
        }
        if self.refused.get() && is_tag && !self.ending.get() {
            // "A script blocks the tokenizer": the one way a sink can stop it mid-input, so a
            // refused input costs no more tokenizing. html5ever allows it after a tag only (it
            // asserts `Continue` for every other token) and never while it ends the input.
            TokenSinkResult::Script(())
        } else {
            TokenSinkResult::Continue
        }
    }
}

/// Why [`scan_stream`] stopped before the end of its input.
#[cfg_attr(test, derive(Debug))]
enum Stop {
    /// The byte scan cannot tokenize the input exactly: html5ever's tokenizer decides.
    Scan,
    /// The sink refused a token (the renderer: the tree builder would repair something, or
    /// htmd would escape or merge something): htmd converts the input.
    Refused,
}

/// What the tokenizers hand their tokens to, in order: the renderer, or (in tests) a list.
trait Sink<'a> {
    /// A text token, lent for the call (it may be decoded into a buffer the scan reuses);
    /// `None` refuses it.
    fn text(&mut self, text: &str) -> Option<()>;
    /// Any other token; `None` refuses it.
    fn token(&mut self, token: Tok<'a>) -> Option<()>;
}

/// [`scan_stream`] of any input: where it has a NUL or CR (which the tokenizer rewrites
/// wherever they are, inside tags too: `<i\n\0>` is an `<i>` with a parse error to html5ever,
/// an attribute to the tag scanner) it stops with [`Stop::Scan`].
#[cfg(test)]
fn scan_plain<'a>(html: &'a str, sink: &mut impl Sink<'a>) -> Result<(), Stop> {
    if memchr::memchr2(b'\0', b'\r', html.as_bytes()).is_some() {
        return Err(Stop::Scan);
    }
    scan_stream(html, sink)
}

/// The tokens of well-formed fragments without html5ever's tokenizer, handed to `sink` as
/// they are found: tags, comments and character references read by [`scan`](super::scan)'s
/// scanners, from text without NUL or CR (the tokenizer's input stream, which [`convert`]
/// makes and checks). html5ever's tokenizer
/// costs most of a simple fragment's conversion (its buffer queue, tendrils and state machine
/// for two paragraphs); the usual rich-text field of an API is tokenized here in a fraction of
/// that. Where the scan cannot read the input exactly it stops with [`Stop::Scan`] and
/// html5ever decides as before; the tokens are the ones [`Collect`] would build from
/// html5ever's (a test holds the two to each other). Text is found with one `memchr2` pass
/// for its end and character references (a `>` in text is text to the tokenizer too: `a -> b`
/// in code), and handed to the sink borrowed from the input, or decoded (as each reference is
/// found) into one buffer reused for every text. (A table-driven pass that also checked the
/// text for htmd, in place of the search and [`is_plain_text`], cost more on the REST and
/// Outlook bodies.)
fn scan_stream<'a>(html: &'a str, sink: &mut impl Sink<'a>) -> Result<(), Stop> {
    let bytes = html.as_bytes();
    let mut decoded = String::new();
    let mut at = 0;
    while at < bytes.len() {
        // The text up to the next `<` (or the end), its character references decoded as
        // they are found (into `decoded`; the text is borrowed from the input without any).
        // Between two tags there is none, and no search.
        let mut references = false;
        let lt = if bytes[at] == b'<' {
            at
        } else {
            let mut from = at;
            loop {
                let Some(i) = memchr::memchr2(b'<', b'&', &bytes[from..]) else {
                    if references {
                        decoded.push_str(&html[from..]);
                    }
                    break bytes.len();
                };
                let found = from + i;
                match bytes[found] {
                    b'<' => {
                        if references {
                            decoded.push_str(&html[from..found]);
                        }
                        break found;
                    }
                    _ => {
                        if !references {
                            decoded.clear();
                            references = true;
                        }
                        decoded.push_str(&html[from..found]);
                        from =
                            super::scan::char_ref(html, found, &mut decoded).ok_or(Stop::Scan)?;
                    }
                }
            }
        };
        if lt > at {
            let text = if references {
                decoded.as_str()
            } else {
                &html[at..lt]
            };
            sink.text(text).ok_or(Stop::Refused)?;
        }
        if lt == bytes.len() {
            break;
        }
        if bytes[lt..].starts_with(b"<!--") {
            let (_, next) = super::scan::comment(html, lt).ok_or(Stop::Scan)?;
            sink.token(Tok::Comment).ok_or(Stop::Refused)?;
            at = next;
            continue;
        }
        let tag_start = lt + 1;
        let end = bytes.get(tag_start) == Some(&b'/');
        let name_start = tag_start + usize::from(end);
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            return Err(Stop::Scan);
        }
        // Tags written `<p>`, `</p>`, `<o:p>` or `<br/>` need no tag scanner.
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|&&b| is_name_byte(b))
            .count();
        let name_end = name_start + name_len;
        let plain = match bytes.get(name_end) {
            Some(b'>') => Some((false, name_end + 1)),
            Some(b'/') if !end && bytes.get(name_end + 1) == Some(&b'>') => {
                Some((true, name_end + 2))
            }
            _ => None,
        };
        if let Some((self_closing, next)) = plain
            && let Some(kind) = kind_of(&bytes[name_start..name_end])
        {
            // What `Collect` refuses of html5ever's token for the tag: refused here too.
            if !as_written(kind, end, self_closing) {
                return Err(Stop::Refused);
            }
            let token = if end {
                Tok::End(kind)
            } else {
                start_token(kind, std::iter::empty::<(&str, Cow<'_, str>)>())
                    .ok_or(Stop::Refused)?
            };
            sink.token(token).ok_or(Stop::Refused)?;
            at = next;
            continue;
        }
        let tag_kind = if end {
            TagKind::EndTag
        } else {
            TagKind::StartTag
        };
        // The name as the tag scanner reads it: up to a space, `/` or `>`.
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|&&b| !matches!(b, b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>'))
            .count();
        let kind = kind_of(&bytes[name_start..name_start + name_len]).ok_or(Stop::Scan)?;
        // Attributes read in place: a link's `href` (the first one) borrowed from the input
        // unless it has character references; those of an image or `span` kept to look at;
        // the rest only checked.
        let mut href: Option<(&str, bool)> = None;
        let mut titled = false;
        let mut kept: Vec<(&str, &str, bool)> = Vec::new();
        let (_, self_closing, next) =
            super::scan::tag_with(html, name_start, tag_kind, |name, value, references| {
                match kind {
                    Kind::A if name.eq_ignore_ascii_case("href") => {
                        href.get_or_insert((value, references));
                    }
                    Kind::A if name.eq_ignore_ascii_case("title") => titled = true,
                    Kind::Img | Kind::Span | Kind::Ol
                        if kept.iter().all(|(n, _, _)| !n.eq_ignore_ascii_case(name)) =>
                    {
                        kept.push((name, value, references));
                    }
                    _ => {}
                }
                Some(())
            })
            .ok_or(Stop::Scan)?;
        if !as_written(kind, end, self_closing) {
            return Err(Stop::Refused);
        }
        let token = if end {
            Tok::End(kind)
        } else if kind == Kind::A {
            if titled {
                return Err(Stop::Refused);
            }
            let (href, references) = href.ok_or(Stop::Refused)?;
            Tok::Start(
                kind,
                Some(decoded_value(href, references).ok_or(Stop::Scan)?),
            )
        } else {
            let mut attrs = Vec::with_capacity(kept.len());
            for (name, value, references) in kept {
                attrs.push((name, decoded_value(value, references).ok_or(Stop::Scan)?));
            }
            start_token(kind, attrs.into_iter()).ok_or(Stop::Refused)?
        };
        sink.token(token).ok_or(Stop::Refused)?;
        at = next;
    }
    Ok(())
}

/// An attribute value with its character references decoded (borrowed when it has none: no
/// `&`, as the tag scanner found); `None` where [`scan`](super::scan) refuses one.
fn decoded_value(raw: &str, references: bool) -> Option<Cow<'_, str>> {
    if references {
        let mut value = String::with_capacity(raw.len());
        super::scan::decode(raw, &mut value)?;
        Some(Cow::Owned(value))
    } else {
        Some(Cow::Borrowed(raw))
    }
}

fn tokenize_html5ever(html: &str) -> Option<Vec<Tok<'static>>> {
    let sink = Collect {
        tokens: RefCell::new(Vec::with_capacity(16)),
        ..Collect::default()
    };
    // The input is the tokenizer's input stream already ([`convert`] dropped a byte order
    // mark at its start): another one after it is text.
    let opts = TokenizerOpts {
        discard_bom: false,
        ..TokenizerOpts::default()
    };
    let tokenizer = Tokenizer::new(sink, opts);
    let input = BufferQueue::default();
    input.push_back(html.into());
    let _ = tokenizer.feed(&input);
    if tokenizer.sink.refused.get() {
        return None;
    }
    tokenizer.sink.ending.set(true);
    tokenizer.end();
    if tokenizer.sink.refused.get() {
        return None;
    }
    Some(tokenizer.sink.tokens.take())
}

/// The Markdown of `html` (without its document start and end) rendered from the byte scan's
/// tokens as they come, or else from html5ever's, appended to `out`; `None` (and `out` as it
/// was) where either is refused.
fn render(html: &str, out: &mut String) -> Option<()> {
    let top = out.len();
    // The Markdown of the usual fragment is no longer than its HTML (a caller sizes `out`
    // for that).
    out.reserve(html.len());
    let mut renderer = Renderer::new(std::mem::take(out));
    let scanned = scan_stream(html, &mut renderer);
    let refused = match scanned {
        Ok(()) => return renderer.finish(out),
        Err(Stop::Refused) => true,
        // A cheap scan first: most inputs html5ever's tokenizer would be run on for nothing
        // have a tag this path does not know.
        Err(Stop::Scan) => !only_known_tags(html),
    };
    *out = renderer.into_out();
    out.truncate(top);
    if refused {
        return None;
    }
    let tokens = tokenize_html5ever(html)?;
    let mut renderer = Renderer::new(std::mem::take(out));
    for token in tokens {
        let rendered = match token {
            Tok::Text(text) => renderer.text(&text),
            token => renderer.token(token),
        };
        if rendered.is_none() {
            *out = renderer.into_out();
            out.truncate(top);
            return None;
        }
    }
    renderer.finish(out)
}

/// An element open while [`Renderer`] renders its children (a link's `href` and an `ol`'s
/// items are kept apart, in [`Renderer`]: this stays small and needs no drop).
#[derive(Clone, Copy)]
struct Open {
    kind: Kind,
    /// Where its own rendering starts in the output.
    head: usize,
    /// Where its children's rendering starts in the output: after `head` and what
    /// [`Renderer::start`] wrote ahead of them.
    at: usize,
    /// Whether leading spaces of the next child are trimmed (htmd's `walk_children`: at the
    /// start of a block and after a block).
    trim_leading: bool,
}

thread_local! {
    /// A [`Renderer`]'s stack of open elements, kept for the next one on this thread: the
    /// usual field or body is converted without allocating one (its capacity stays).
    static OPEN: Cell<Vec<Open>> = const { Cell::new(Vec::new()) };
}

/// The Markdown htmd gives for the tree html5ever would build from the tokens it is given, or
/// `None` where the tree builder would repair or restructure anything.
///
/// The tree is not built: each element's children are rendered in place at the end of one
/// buffer as their tokens come (htmd renders each element's children into a string of its
/// own), and when the element ends they are trimmed and wrapped there, and cut as
/// [`append_normalized`] would cut them when appended to what its parent rendered before it.
struct Renderer<'a> {
    /// What was there before the rendering, then the rendering (from `top`).
    out: String,
    /// Where the rendering starts in `out`: the top level's start.
    top: usize,
    open: Vec<Open>,
    /// The `href` of the open link (links do not nest).
    href: Option<Cow<'a, str>>,
    /// The items of each open `ol` (the innermost last) as htmd's item handler gives them,
    /// numbered when the list ends (the width of the numbers depends on how many there are).
    lists: Vec<Vec<String>>,
    /// The top level: whether it has a child yet, whether the last was a block, and the
    /// leading-space trim of its next child.
    top_children: bool,
    top_block: bool,
    top_trim: bool,
    /// Whether the token before ended emphasis (htmd merges two in a row).
    after_emphasis: bool,
    /// The inline element that ended just before (htmd merges two alike in a row).
    ended: Option<Kind>,
}

impl<'a> Renderer<'a> {
    /// A renderer that appends to `out` (what it holds stays as it is).
    fn new(out: String) -> Self {
        // (A thread past its thread-local storage's end allocates one.)
        let mut open = OPEN.try_with(Cell::take).unwrap_or_default();
        open.clear();
        Renderer {
            top: out.len(),
            out,
            open,
            href: None,
            lists: Vec::new(),
            top_children: false,
            top_block: false,
            top_trim: true,
            after_emphasis: false,
            ended: None,
        }
    }

    /// The rendering put back in `out`, or `None` (and `out` as it was) with an element left
    /// open at the end: the tree builder closes it, not ours to guess.
    fn finish(self, out: &mut String) -> Option<()> {
        let complete = self.open.is_empty();
        let top = self.top;
        *out = self.into_out();
        if !complete {
            out.truncate(top);
        }
        complete.then_some(())
    }

    /// The buffer, with what was rendered so far.
    fn into_out(mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// The parent's rendering start and its leading-space trim for a child that renders; at
    /// the top level, the child is a block or not.
    fn parent(&mut self, block: bool) -> (usize, &mut bool) {
        match self.open.last_mut() {
            Some(parent) => (parent.at, &mut parent.trim_leading),
            None => {
                self.top_children = true;
                self.top_block = block;
                (self.top, &mut self.top_trim)
            }
        }
    }

    fn start(&mut self, kind: Kind, href: Option<Cow<'a, str>>) -> Option<()> {
        // A `code` holds text only here: htmd renders elements inside it as preformatted
        // (its text unescaped, spaces kept), which this path does not reproduce.
        if self.open.last().is_some_and(|o| o.kind == Kind::Code) {
            return None;
        }
        if matches!(kind, Kind::Br | Kind::Img) {
            if self.open.last().is_some_and(|o| o.kind.is_list()) {
                return None;
            }
            let before = self.out.len();
            let (base, _) = self.parent(false);
            match (kind, href) {
                (Kind::Br, _) => append_normalized(&mut self.out, base, "  \n"),
                (_, Some(markdown)) => append_normalized(&mut self.out, base, &markdown),
                (_, None) => {}
            }
            if self.out.len() > before {
                *self.parent(false).1 = false;
            }
            return Some(());
        }
        let open = &self.open;
        // A block inside anything but a `div` or `blockquote` is closed or moved by the tree
        // builder; a link in a link is closed; htmd merges adjacent emphasis and adjacent
        // inline elements of one kind. A list holds items only, and an item goes straight in
        // a list.
        let in_list = open.last().is_some_and(|o| o.kind.is_list());
        let outer = if kind == Kind::Li {
            if !in_list {
                return None;
            }
            &open[..open.len() - 1]
        } else {
            if in_list {
                return None;
            }
            &open[..]
        };
        if (kind.is_block() && outer.iter().any(|o| !o.kind.is_container()))
            || (kind == Kind::A && open.iter().any(|o| o.kind == Kind::A))
            || (self.after_emphasis && matches!(kind, Kind::B | Kind::Strong | Kind::I | Kind::Em))
            || self.ended == Some(kind)
        {
            return None;
        }
        let is_block = kind.is_block();
        if is_block {
            // Trailing spaces of what the parent rendered so far go before a block.
            let base = open.last().map_or(self.top, |o| o.at);
            let spaces = self.out.as_bytes()[base..]
                .iter()
                .rev()
                .take_while(|&&b| b == b' ')
                .count();
            if spaces > 0 {
                self.out.truncate(self.out.len() - spaces);
            }
        }
        if kind == Kind::Hr {
            let (base, _) = self.parent(true);
            append_normalized(&mut self.out, base, "\n\n* * *\n\n");
            *self.parent(true).1 = true;
        } else {
            // What the element's rendering starts with, written now so that its children
            // are not moved to make room for it when it ends: a paragraph's newlines (as
            // many as what the parent rendered before it leaves room for: nothing before
            // the paragraph changes while it is open), a link's `[`, emphasis markers.
            let head = self.out.len();
            match kind {
                Kind::P | Kind::Div => {
                    let base = self.open.last().map_or(self.top, |o| o.at);
                    let newlines = if head == base {
                        2
                    } else {
                        2 - trailing_newlines(&self.out[base..]).min(2)
                    };
                    self.out.push_str(&"\n\n"[..newlines]);
                }
                Kind::A => self.out.push('['),
                Kind::B | Kind::Strong => self.out.push_str("**"),
                Kind::I | Kind::Em => self.out.push('*'),
                _ => {}
            }
            match kind {
                // A link in a link was refused above.
                Kind::A => self.href = href,
                Kind::Ol => self.lists.push(Vec::new()),
                _ => {}
            }
            self.open.push(Open {
                kind,
                head,
                at: self.out.len(),
                trim_leading: is_block,
            });
        }
        Some(())
    }

    fn end(&mut self, kind: Kind) -> Option<()> {
        let element = self.open.pop()?;
        if element.kind != kind {
            return None;
        }
        let is_block = kind.is_block();
        let in_item = self.open.last().is_some_and(|o| o.kind == Kind::Li);
        let out = &mut self.out;
        if kind == Kind::Li
            && let Some(list) = self.open.last()
            && list.kind == Kind::Ol
        {
            // Kept apart until the list ends.
            self.lists
                .last_mut()?
                .push(ordered_item(&out[element.at..]));
            out.truncate(element.at);
            self.after_emphasis = false;
            self.ended = None;
            return Some(());
        }
        let base = self.open.last().map_or(self.top, |o| o.at);
        let (head, at) = (element.head, element.at);
        match kind {
            Kind::Li => close_item(out, base, at),
            Kind::Ul => close_list(out, base, at, in_item),
            Kind::Ol => {
                let list = numbered(&self.lists.pop()?);
                out.truncate(at);
                out.push_str(&list);
                close_list(out, base, at, in_item);
            }
            Kind::P | Kind::Div => close_block(out, base, head, at),
            Kind::H(level) => close_heading(out, base, at, level),
            Kind::Blockquote => close_blockquote(out, base, at),
            Kind::B | Kind::Strong => close_emphasis(out, base, head, at),
            Kind::I | Kind::Em => close_emphasis(out, base, head, at),
            Kind::A => close_link(out, at, &self.href.take()?),
            Kind::Span => {
                // htmd's span path trims the newlines around its children.
                let content = &out[at..];
                let kept = content.trim_end_matches('\n').len();
                out.truncate(at + kept);
                let lead = out.len() - at - out[at..].trim_start_matches('\n').len();
                out.replace_range(at..at + lead, "");
                normalize_appended(out, base, at);
            }
            Kind::Font | Kind::U | Kind::At | Kind::OfficeP => {
                normalize_appended(out, base, at);
            }
            // A code span starts with a backtick: [`normalize_appended`] would cut nothing.
            Kind::Code => close_code(out, at)?,
            Kind::Br | Kind::Img | Kind::Hr => return None,
        }
        let rendered = self.out.len() > head;
        let (_, trim_leading) = self.parent(is_block);
        if rendered {
            *trim_leading = is_block;
        }
        self.after_emphasis = matches!(kind, Kind::B | Kind::Strong | Kind::I | Kind::Em);
        self.ended = Some(kind).filter(|k| !k.is_block() && *k != Kind::A);
        Some(())
    }
}

impl Drop for Renderer<'_> {
    /// The stack of open elements goes back for the next renderer on this thread.
    fn drop(&mut self) {
        let open = std::mem::take(&mut self.open);
        let _ = OPEN.try_with(|kept| kept.set(open));
    }
}

impl<'a> Sink<'a> for Renderer<'a> {
    fn text(&mut self, text: &str) -> Option<()> {
        self.after_emphasis = false;
        self.ended = None;
        if self.open.last().is_some_and(|o| o.kind == Kind::Code) {
            // htmd walks a `code`'s children as preformatted: its text as it is, nothing
            // escaped, whitespace neither compressed nor trimmed ([`close_code`] trims the
            // whole).
            self.out.push_str(text);
            return Some(());
        }
        // The tree builder drops whitespace before the document's first content.
        let text = if !self.top_children && self.open.is_empty() {
            text.trim_start_matches(|c: char| c.is_ascii_whitespace())
        } else {
            text
        };
        let text = match self.open.last() {
            // Whitespace between list items: trimmed after each item's block.
            Some(list) if list.kind.is_list() => {
                return text.bytes().all(|b| b.is_ascii_whitespace()).then_some(());
            }
            // Whitespace after a paragraph leaves no trace in htmd's output.
            None if text.is_empty()
                || (self.top_block && text.bytes().all(|b| b.is_ascii_whitespace())) =>
            {
                return Some(());
            }
            _ => compressed_text(text)?,
        };
        let (base, _) = self.parent(false);
        let trim =
            *self.parent(false).1 || (text.starts_with(' ') && self.out[base..].ends_with(' '));
        let text = if trim {
            text.trim_start_matches(' ')
        } else {
            &text
        };
        self.out.push_str(text);
        if !text.is_empty() {
            *self.parent(false).1 = false;
        }
        Some(())
    }

    fn token(&mut self, token: Tok<'a>) -> Option<()> {
        match token {
            // Nothing in the output; the tokens around it stay apart.
            Tok::Comment => Some(()),
            Tok::Text(text) => self.text(&text),
            Tok::Start(kind, attr) => {
                self.start(kind, attr)?;
                self.after_emphasis = false;
                self.ended = None;
                Some(())
            }
            Tok::End(kind) => self.end(kind),
        }
    }
}

/// A text node as htmd writes it when it needs no escaping (else `None`): runs of whitespace
/// as one space.
fn compressed_text(text: &str) -> Option<Cow<'_, str>> {
    if is_plain_text(text) {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    // htmd's `escape_if_needed`, which runs first, and any `<` (its HTML escape).
    if bytes
        .first()
        .is_some_and(|b| matches!(b, b'=' | b'~' | b'>' | b'-' | b'+' | b'#' | b'0'..=b'9'))
        || bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'*' | b'_' | b'`' | b'[' | b']' | b'<'))
    {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    Some(Cow::Owned(out))
}

/// Text that htmd copies as it is (its `is_plain_text`): nothing to escape, no whitespace to
/// compress.
fn is_plain_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes
        .first()
        .is_some_and(|b| matches!(b, b'=' | b'~' | b'>' | b'-' | b'+' | b'#' | b'0'..=b'9'))
    {
        return false;
    }
    // One table look-up a byte: a space after a space, or any other class than ordinary
    // bytes and spaces, is not plain. Eight bytes at a time, one test each (the classes of a
    // chunk or-ed), then the rest.
    let mut before = 0;
    let mut flagged = |chunk: &[u8]| {
        let mut bad = 0;
        for &byte in chunk {
            let class = TEXT_CLASS[usize::from(byte)];
            bad |= class & (NOT_PLAIN | before);
            before = class;
        }
        bad != 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if flagged(chunk) {
            return false;
        }
    }
    !flagged(chunks.remainder())
}

/// [`TEXT_CLASS`] of a space.
const SPACE: u8 = 1;
/// [`TEXT_CLASS`] of a byte htmd escapes (`\ * _ ` [ ] <`) or whitespace it compresses.
const NOT_PLAIN: u8 = 2;
/// The class of each byte for [`is_plain_text`]: [`SPACE`], [`NOT_PLAIN`] or 0.
static TEXT_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b' ' as usize] = SPACE;
    let not_plain = [
        b'\\', b'*', b'_', b'`', b'[', b']', b'<', b'\t', b'\n', b'\r', 0x0B, 0x0C,
    ];
    let mut i = 0;
    while i < not_plain.len() {
        table[not_plain[i] as usize] = NOT_PLAIN;
        i += 1;
    }
    table
};

fn is_document_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ')
}

/// htmd's `p` handler (its block handler renders a `div` the same) on the children rendered
/// at `out[at..]`, appended to `out[base..head]`; `out[head..at]` holds the newlines the
/// paragraph starts with (what normalizing `"\n\n"` after `out[base..head]` leaves of them).
fn close_block(out: &mut String, base: usize, head: usize, at: usize) {
    // The children without their leading and trailing newlines: `out[at + lead..end]`.
    let content = &out.as_bytes()[at..];
    let lead = leading_newlines(content);
    let end = at + lead + content[lead..].len() - trailing_newlines(&out[at + lead..]);
    if end == at + lead {
        out.truncate(head);
        append_normalized(out, base, "\n\n\n\n");
        return;
    }
    // `"\n\n" + inner + "\n\n"`, of which only the leading newlines take part in the
    // normalisation (`inner` starts with none).
    out.truncate(end);
    if lead > 0 {
        out.drain(at..at + lead);
    }
    out.push_str("\n\n");
}

/// How many newlines `bytes` starts with.
fn leading_newlines(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|&&b| b == b'\n').count()
}

/// htmd's `li` handler (in a `ul`) on the children rendered at `out[at..]`.
fn close_item(out: &mut String, base: usize, at: usize) {
    let content = out[at..].trim_start_matches(is_document_whitespace);
    let mut item = String::with_capacity(content.len() + 16);
    item.push_str("\n*   ");
    // htmd's `indent_text_except_first_line`: line ends trimmed, later lines indented.
    for (i, line) in content.lines().enumerate() {
        let line = line.trim_end_matches(is_document_whitespace);
        if i > 0 {
            item.push('\n');
            if !line.is_empty() {
                item.push_str("    ");
            }
        }
        item.push_str(line);
    }
    out.truncate(at);
    append_normalized(out, base, &item);
}

/// htmd's item handler for an item of an `ol` on its children `content`: `\n`, the content
/// without its leading whitespace, `\n` (the list adds the number).
fn ordered_item(content: &str) -> String {
    let content = content.trim_start_matches(is_document_whitespace);
    let mut item = String::with_capacity(content.len() + 2);
    item.push('\n');
    item.push_str(content);
    item.push('\n');
    item
}

/// htmd's `ol` content (`get_ol_content`, numbering from 1): each item numbered, its number
/// padded to the widest one's, its later lines indented past it, the items joined by
/// `join_blocks`.
fn numbered(items: &[String]) -> String {
    // htmd's `digits`, float and all, so that the padding is the same for every count.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    fn digits(n: usize) -> usize {
        if n == 0 {
            return 1;
        }
        ((n + 1) as f32).log10().ceil() as usize
    }
    // `ol_number_spacing`: htmd's default, 2.
    const SPACING: usize = 2;
    let highest = items.len();
    let mut joined = String::with_capacity(items.iter().map(|i| i.len() + 8).sum());
    for (n, item) in items.iter().enumerate() {
        let index = (n + 1).to_string();
        let spacing = SPACING + digits(highest) - index.len();
        let content = item.trim_start_matches('\n');
        let mut marked = String::with_capacity(content.len() + 8);
        marked.push('\n');
        marked.push_str(&index);
        marked.push('.');
        marked.extend(std::iter::repeat_n(' ', spacing));
        indent_except_first_line(&mut marked, content, index.len() + 1 + spacing);
        join_block(&mut joined, &marked);
    }
    joined
}

/// htmd's `indent_text_except_first_line` (line ends trimmed), appended to `out`.
fn indent_except_first_line(out: &mut String, text: &str, indent: usize) {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches(is_document_whitespace);
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.extend(std::iter::repeat_n(' ', indent));
            }
        }
        out.push_str(line);
    }
}

/// One step of htmd's `join_blocks`: `content` after `result`, the newlines between them
/// the larger of their counts on either side, at most two.
fn join_block(result: &mut String, content: &str) {
    if content.is_empty() {
        return;
    }
    let left = result.trim_end_matches('\n').len();
    let right = content.trim_start_matches('\n');
    let newlines = (result.len() - left)
        .max(content.len() - right.len())
        .min(2);
    result.truncate(left);
    result.push_str(&"\n\n"[..newlines]);
    result.push_str(right);
}

/// htmd's list handler (a `ul`) on the items rendered at `out[at..]`: nothing when they are
/// empty, one newline around it in an item, two elsewhere.
fn close_list(out: &mut String, base: usize, at: usize, in_item: bool) {
    let items = out[at..].trim_matches('\n');
    if items.is_empty() {
        out.truncate(at);
        return;
    }
    let around = if in_item { "\n" } else { "\n\n" };
    let list = [around, items, around].concat();
    out.truncate(at);
    append_normalized(out, base, &list);
}

/// htmd's heading handler on the children rendered at `out[at..]`.
fn close_heading(out: &mut String, base: usize, at: usize, level: u8) {
    let content = out[at..]
        .trim_matches(is_document_whitespace)
        .trim_matches('\n');
    let hashes = &"######"[..usize::from(level)];
    let heading = ["\n\n", hashes, " ", content, "\n\n"].concat();
    out.truncate(at);
    append_normalized(out, base, &heading);
}

/// htmd's blockquote handler on the children rendered at `out[at..]`.
fn close_blockquote(out: &mut String, base: usize, at: usize) {
    let content = out[at..]
        .trim_start_matches('\n')
        .trim_end_matches(is_document_whitespace);
    let mut quote = String::with_capacity(content.len() + 16);
    quote.push_str("\n\n");
    for (i, line) in content.lines().enumerate() {
        if i > 0 {
            quote.push('\n');
        }
        quote.push_str("> ");
        quote.push_str(line);
    }
    quote.push_str("\n\n");
    out.truncate(at);
    append_normalized(out, base, &quote);
}

/// htmd's emphasis on the children rendered at `out[at..]`, the opening marker at
/// `out[head..at]`: markers around the content, its surrounding whitespace kept outside;
/// nothing when empty.
fn close_emphasis(out: &mut String, base: usize, head: usize, at: usize) {
    let marker = if at - head == 2 { "**" } else { "*" };
    // The usual content starts and ends with an ASCII character that is not whitespace
    // (`char::is_whitespace`, which `trim_start` and `trim_end` cut): the marker goes at the
    // end as it is.
    let bytes = &out.as_bytes()[at..];
    let not_space = |b: &u8| b.is_ascii() && !matches!(b, b' ' | 0x09..=0x0D);
    if bytes.first().is_some_and(not_space) && bytes.last().is_some_and(not_space) {
        out.push_str(marker);
        normalize_appended(out, base, head);
        return;
    }
    let content = &out[at..];
    let start = content.trim_start();
    let inner = start.trim_end();
    if inner.is_empty() {
        out.truncate(head);
        return;
    }
    let lead = content.len() - start.len();
    let inner_end = at + lead + inner.len();
    out.insert_str(inner_end, marker);
    if lead > 0 {
        // Leading whitespace goes before the opening marker.
        let space: String = out.drain(at..at + lead).collect();
        out.insert_str(head, &space);
    }
    normalize_appended(out, base, head);
}

/// htmd's inline code handler (`handle_inline_code`, code outside `pre`) on the text rendered
/// at `out[at..]`, in place: the text without its surrounding document whitespace, between
/// backtick fences one longer than the longest run of backticks in it where it starts or ends
/// with one (then a space inside each fence too), else as long as the shortest run length it
/// lacks. `None` (left to htmd) in the one case the run lengths are not all below 128: the
/// text has runs of every length from 1 to 127.
fn close_code(out: &mut String, at: usize) -> Option<()> {
    let content = &out[at..];
    let lead = content.len() - content.trim_start_matches(is_document_whitespace).len();
    let end = at
        + content
            .trim_end_matches(is_document_whitespace)
            .len()
            .max(lead);
    let code = &out.as_bytes()[at + lead..end];
    let padded = code.first() == Some(&b'`') || code.last() == Some(&b'`');
    let fence = if memchr::memchr(b'`', code).is_none() {
        1
    } else {
        // The lengths of the runs of backticks (bit n: a run of n), and the longest.
        let (mut runs, mut longest, mut run) = (0u128, 0, 0);
        for &b in code.iter().chain(std::iter::once(&b'\0')) {
            if b == b'`' {
                run += 1;
            } else if run > 0 {
                if run < 128 {
                    runs |= 1 << run;
                }
                longest = longest.max(run);
                run = 0;
            }
        }
        if padded {
            longest + 1
        } else {
            // The shortest length no run has (bit 0 is never set).
            let lacking = (!(runs | 1)).trailing_zeros() as usize;
            if lacking >= 128 {
                return None;
            }
            lacking
        }
    };
    out.truncate(end);
    let mut open = String::with_capacity(fence + 1);
    open.extend(std::iter::repeat_n('`', fence));
    if padded {
        open.push(' ');
    }
    out.replace_range(at..at + lead, &open);
    if padded {
        out.push(' ');
    }
    out.extend(std::iter::repeat_n('`', fence));
    Some(())
}

/// htmd's (inlined) link handler on the children rendered at `out[at..]`, the `[` before
/// them, written in place: `[text](href)`, the children's leading whitespace dropped and
/// their trailing whitespace kept after the link. (What the parent gets starts with `[`, of
/// which [`append_normalized`] would cut nothing.)
fn close_link(out: &mut String, at: usize, href: &str) {
    let content = &out[at..];
    let lead = content.len() - content.trim_start_matches(is_document_whitespace).len();
    let text_end = at
        + lead
        + content[lead..]
            .trim_end_matches(is_document_whitespace)
            .len();
    let trailing = (text_end < out.len()).then(|| out.split_off(text_end));
    out.push_str("](");
    let bytes = href.as_bytes();
    // One search for the usual `href`, which has none of the three.
    let special = memchr::memchr3(b' ', b'(', b')', bytes).is_some();
    let angled = special && memchr::memchr(b' ', bytes).is_some();
    if angled {
        out.push('<');
    }
    if special && memchr::memchr2(b'(', b')', bytes).is_some() {
        for c in href.chars() {
            match c {
                '(' => out.push_str("\\("),
                ')' => out.push_str("\\)"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(href);
    }
    if angled {
        out.push('>');
    }
    out.push(')');
    if let Some(trailing) = trailing {
        out.push_str(&trailing);
    }
    if lead > 0 {
        out.drain(at..at + lead);
    }
}

fn trailing_newlines(s: &str) -> usize {
    s.bytes().rev().take_while(|&b| b == b'\n').count()
}

/// Cuts what [`append_normalized`] would have left out of `out[at..]` had it been appended to
/// `out[base..at]`.
fn normalize_appended(out: &mut String, base: usize, at: usize) {
    let cut = normalized_cut(&out[base..at], &out[at..]);
    if cut > 0 {
        out.drain(at..at + cut);
    }
}

/// How many leading bytes of `content` [`append_normalized`] leaves out when it appends it to
/// `out`.
fn normalized_cut(out: &str, content: &str) -> usize {
    if out.is_empty() {
        return 0;
    }
    let last_newlines = trailing_newlines(out);
    let content_newlines = leading_newlines(content.as_bytes());
    let total = last_newlines + content_newlines;
    // Newlines are one byte each.
    let cut = if total > 2 {
        (total - 2).min(content_newlines)
    } else {
        0
    };
    if last_newlines == 0
        && content_newlines == 0
        && out.ends_with(' ')
        && content[cut..].starts_with(' ')
    {
        cut + 1
    } else {
        cut
    }
}

/// htmd's `append_normalized_content` on the rendering `out[base..]`: at most two newlines in
/// a row, no doubled space between inline pieces.
fn append_normalized(out: &mut String, base: usize, content: &str) {
    let cut = normalized_cut(&out[base..], content);
    out.push_str(&content[cut..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    fn htmd(html: &str) -> String {
        super::super::converter().convert(html).unwrap()
    }

    /// `kind_of` as it was: a comparison per name.
    fn kind_of_before(name: &[u8]) -> Option<Kind> {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        Some(match name.len() {
            1 if is("p") => Kind::P,
            1 if is("b") => Kind::B,
            1 if is("i") => Kind::I,
            1 if is("a") => Kind::A,
            1 if is("u") => Kind::U,
            2 if is("br") => Kind::Br,
            2 if is("em") => Kind::Em,
            2 if is("at") => Kind::At,
            2 if is("hr") => Kind::Hr,
            2 if is("ul") => Kind::Ul,
            2 if is("ol") => Kind::Ol,
            2 if is("li") => Kind::Li,
            2 if matches!(name[0], b'h' | b'H') && (b'1'..=b'6').contains(&name[1]) => {
                Kind::H(name[1] - b'0')
            }
            3 if is("div") => Kind::Div,
            3 if is("o:p") => Kind::OfficeP,
            3 if is("img") => Kind::Img,
            4 if is("span") => Kind::Span,
            4 if is("font") => Kind::Font,
            4 if is("code") => Kind::Code,
            6 if is("strong") => Kind::Strong,
            10 if is("blockquote") => Kind::Blockquote,
            _ => return None,
        })
    }

    #[test]
    fn kind_of_agrees_with_its_old_form() {
        // Every name of one and two bytes, and the longer names in mixed case and near them.
        for a in 0..=u8::MAX {
            assert_eq!(kind_of(&[a]), kind_of_before(&[a]), "{a}");
            for b in 0..=u8::MAX {
                assert_eq!(kind_of(&[a, b]), kind_of_before(&[a, b]), "{a} {b}");
            }
        }
        for name in [
            "div",
            "DiV",
            "o:p",
            "O:P",
            "img",
            "span",
            "SPAN",
            "font",
            "code",
            "strong",
            "Strong",
            "blockquote",
            "BlockQuote",
            "h7",
            "h0",
            "dir",
            "spam",
            "strongs",
            "",
            "pre",
            "table",
        ] {
            assert_eq!(
                kind_of(name.as_bytes()),
                kind_of_before(name.as_bytes()),
                "{name}"
            );
        }
    }

    #[test]
    fn appended_markdown_is_what_convert_gives() {
        for html in [
            "<p>Body of article 7.</p><p>Second paragraph with <b>bold</b> text.</p>",
            "<p>a</p>\n\n",
            " <b>x</b> ",
            "<ul><li>one</li><li>two</li></ul>",
            "<ol><li>one</li><li>two</li></ol><p>after</p>",
            "<blockquote><p>q</p></blockquote>",
            "<h2>T</h2><hr><p><a href=\"https://x.example/\">l</a> <code>c</code></p>",
            "<html><body><p>x</p></body></html>\n",
            "x<br>y",
            "",
            // Refused by the fast path: `out` stays as it was.
            "<table><tr><td>x</td></tr></table>",
            "<p>open",
            "<b>a</b><b>b</b>",
        ] {
            for before in ["", "Title\n", "\n\n", "x "] {
                let mut out = String::from(before);
                let taken = convert_into(html, &mut out);
                match convert(html) {
                    Some(alone) => {
                        assert!(taken, "{html:?}");
                        assert_eq!(out, format!("{before}{alone}"), "{html:?} after {before:?}");
                    }
                    None => {
                        assert!(!taken, "{html:?}");
                        assert_eq!(out, before, "{html:?}");
                    }
                }
            }
        }
    }

    /// Tokens as a list (texts as they come: the scan never hands over two in a row, as
    /// html5ever's joined text is one token).
    struct Tokens<'a>(Vec<Tok<'a>>);

    impl<'a> Sink<'a> for Tokens<'a> {
        fn text(&mut self, text: &str) -> Option<()> {
            self.0.push(Tok::Text(Cow::Owned(text.to_owned())));
            Some(())
        }
        fn token(&mut self, token: Tok<'a>) -> Option<()> {
            self.0.push(token);
            Some(())
        }
    }

    /// The byte scan's tokens of `html` read as [`convert`] reads it (as the tokenizer's input
    /// stream), `None` where the scan stops.
    fn tokenize_plain(html: &str) -> Option<Vec<Tok<'static>>> {
        let stream = super::super::scan::input_stream(html);
        let mut tokens = Tokens(Vec::new());
        scan_plain(&stream, &mut tokens).ok()?;
        let owned = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Some(
            tokens
                .0
                .into_iter()
                .map(|t| match t {
                    Tok::Start(kind, attr) => Tok::Start(kind, attr.map(owned)),
                    Tok::End(kind) => Tok::End(kind),
                    Tok::Text(text) => Tok::Text(owned(text)),
                    Tok::Comment => Tok::Comment,
                })
                .collect(),
        )
    }

    /// html5ever's tokens of `html` read as [`convert`] reads it.
    fn html5ever_tokens(html: &str) -> Option<Vec<Tok<'static>>> {
        tokenize_html5ever(&super::super::scan::input_stream(html))
    }

    /// The tokens of either tokenizer.
    fn tokenize(html: &str) -> Option<Vec<Tok<'static>>> {
        tokenize_plain(html).or_else(|| html5ever_tokens(html))
    }

    #[test]
    fn takes_the_rest_api_item_shape() {
        let html = "<p>Body of article 7.</p><p>Second paragraph with <b>bold</b> text.</p>";
        assert_eq!(convert(html).as_deref(), Some(htmd(html).as_str()));
        assert_eq!(
            convert(html).as_deref(),
            Some("Body of article 7.\n\nSecond paragraph with **bold** text.")
        );
    }

    #[test]
    fn the_byte_scan_takes_the_plainest_fragments_only() {
        let html = "<p>Body of article 7.</p><p>Second paragraph with <b>bold</b> text.</p>";
        assert!(tokenize_plain(html).is_some());
        assert_eq!(tokenize_plain(html), html5ever_tokens(html));
        let html = "<p class=\"c\">a &amp; <A HREF='https://x.example/?a=1&amp;b=2'>b</a></p>";
        assert!(tokenize_plain(html).is_some());
        assert_eq!(tokenize_plain(html), html5ever_tokens(html));
        for html in [
            "<p>a &amp b</p>",
            "<a>x</a>",
            "<a href=\"u\" title=\"t\">x</a>",
            "<p>x</br></p>",
            "<b/>",
            "a < b",
            // NUL inside a tag: the tokenizer rewrites it (found by the noise test).
            "<i\n\0>",
            "<p",
            "< p>",
        ] {
            assert_eq!(tokenize_plain(html), None, "{html:?}");
        }
        // A `>` in text is text.
        for html in [
            "a > b",
            "<p>a -&gt; b > c</p>",
            "<p>>x</p>",
            "<code>a -> b</code>>",
        ] {
            assert!(tokenize_plain(html).is_some(), "{html:?}");
            assert_eq!(tokenize_plain(html), html5ever_tokens(html), "{html:?}");
        }
        // CR, in text and inside a tag, and a byte order mark: read from the input stream as
        // the tokenizer reads it; the scan itself never sees them.
        for html in ["x\r\ny", "<a\rhref=u>x</a>", "\u{feff}<p>x</p>"] {
            assert!(tokenize_plain(html).is_some(), "{html:?}");
            assert_eq!(tokenize_plain(html), html5ever_tokens(html), "{html:?}");
            // The raw input is not what the tokenizer reads: refused, or other tokens.
            let mut raw = Tokens(Vec::new());
            let scanned = scan_plain(html, &mut raw);
            assert!(
                scanned.is_err() || Some(raw.0) != html5ever_tokens(html),
                "{html:?}"
            );
        }
    }

    #[test]
    fn leaves_everything_else_to_htmd() {
        for html in [
            "<table><tr><td>x</td></tr></table>",
            "<p>a<ul><li>b</li></ul></p>",
            "<p>open",
            "<p><b>mis</p></b>",
            "<p><!-- c -->2. x</p>",
            "<p>2. not a list</p>",
            "<p>under_score</p>",
            "<p><span>a</span><span>b</span></p>",
            "<p><span class=\"math math-inline\">x</span></p>",
            "<p><h1>x</h1></p>",
            "<em></i><hr>",
            "<p><b>x</strong></b></p>",
            "<ul><li>a<li>b</ul>",
            "<ol start=\"2\"><li>a</li></ol>",
            "<ol><li>a</li></ul>",
            "<ol>x<li>a</li></ol>",
            "<p>a<o:p>b</p></o:p>",
            "<o:p>a</o:p><o:p>b</o:p>",
            "<v:shape>a</v:shape>",
            "<o:p/>",
            "<li>a</li>",
            "<b><hr></b>",
            "<img src=\"x\"></img>",
            "<html><head><script>x</script></head><body>y",
            "<html><head><title>open",
            "<html-x><p>y</p>",
            "<p><a>no href</a></p>",
            "<p><a href=\"u\" title=\"t\">x</a></p>",
            "<p><b>a</b><i>b</i></p>",
            "a < b",
            "<p>x &#0; y</p>",
            "<p>x</br></p>",
            "<p>x</p><!-- c",
            "<p>x</p><b",
            "<p>> not a quote</p>",
        ] {
            assert_eq!(convert(html), None, "{html:?}");
        }
    }

    #[test]
    fn takes_mail_and_chat_shapes_as_htmd_renders_them() {
        for html in [
            "<span>x</span>",
            "<p><!-- c -->x</p>",
            "<p>two\nlines</p>",
            "<html><head><meta charset=\"utf-8\"><style>p { margin: 0 }</style></head><body><div><p>Hello <b>team</b>,</p></div></body></html>",
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<title>T &amp; x</title>\n<!--[if gte mso 9]><xml><o:x/></xml><![endif]-->\n</head>\n<body style=\"x\">\n<p>a</p>\n</body>\n</html>\n",
            "<div><p>Status: <at id=\"0\">Jane Smith</at> please review <font color=\"red\">the <u>draft</u></font>.</p></div>",
            "<ul>\n<li>one</li>\n<li>two <b>bold</b><br>next<ul><li>inner</li></ul></li>\n</ul>",
            "<h2>Sub</h2><p>x <img src=\"https://x.example/a (1).png\" alt=\" two\n lines \" title='t \"q\"'> y</p><hr><blockquote><p>quoted</p><p>more<br>lines</p></blockquote>",
            "<p>emoji <img alt=\"\u{1f600}\" src=\"https://x.example/e.png\" itemtype=\"http://schema.skype.com/Emoji\"></p>",
            "<ol>\n<li>one</li>\n<li>two <b>bold</b><br>next<ol><li>inner</li></ol></li>\n</ol>",
            "<ol><li>a</li><li>b</li><li>c</li><li>d</li><li>e</li><li>f</li><li>g</li><li>h</li><li>i</li><li>j</li><li><p>k</p><p>l</p></li></ol>",
            "<ul><li>x<ol type=\"a\"><li>y<ul><li>z</li></ul></li></ol></li></ul><ol></ol><ol> </ol>",
            // CR LF line ends (as most mail has them) and a byte order mark: read as the
            // tokenizer reads them.
            "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>\r\n<p>Hello\r\n<b>team</b>,</p>\r\n<p><a href=\"https://x.example/a\">a\rlink</a></p>\r\n</div>\r\n</body>\r\n</html>\r\n",
            "\u{feff}<p>bom</p>",
            "<div class=WordSection1><p class=MsoNormal>Hello <b>team</b>,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><P class=MsoNormal>Regards<O:P></O:P></P></div>",
        ] {
            let fast = convert(html);
            assert!(fast.is_some(), "{html:?}");
            assert_eq!(fast.as_deref(), Some(htmd(html).as_str()), "{html:?}");
        }
        assert_eq!(
            convert("<ul>\n<li>one</li>\n<li>two<br>next<ul><li>inner</li></ul></li>\n</ul>")
                .as_deref(),
            Some("*   one\n*   two\n    next\n    *   inner")
        );
        // The Outlook bench's bodies, whole (a short head, or Word's with its conditional
        // comments and style sheet) and from `<body>` on as the connector cuts them.
        let items: String = (0..12)
            .map(|i| format!("<p>Item {i} of message 7: the <a href=\"https://contoso.com/7/{i}\">report</a> is ready &amp; reviewed.</p>"))
            .collect();
        let body = format!(
            "<div><p>Hello <b>team</b>,</p>{items}<p>Regards,<br>Ada</p></div></body></html>"
        );
        let fonts: String = ["Cambria Math", "Calibri", "Aptos"]
            .iter()
            .map(|f| format!("@font-face {{font-family:\"{f}\"; panose-1:2 4 5 3 5 4 6 3 2 4;}}\n"))
            .collect();
        let word_head = format!(
            "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\"><!--[if !mso]><style>v\\:* {{behavior:url(#default#VML);}} o\\:* {{behavior:url(#default#VML);}}</style><![endif]--><style><!--\n{fonts}p.MsoStyle1, li.MsoStyle1 {{margin:0cm; font-family:\"Aptos\",sans-serif; mso-ligatures:standardcontextual;}}\n@page WordSection1 {{size:612.0pt 792.0pt;}} div.WordSection1 {{page:WordSection1;}}\n--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]--><!--[if gte mso 9]><xml><o:shapelayout v:ext=\"edit\"><o:idmap v:ext=\"edit\" data=\"1\" /></o:shapelayout></xml><![endif]--></head>"
        );
        for html in [
            format!("<html><head><style>p {{ margin: 0 }}</style></head><body>{body}"),
            format!("<html>{word_head}<body>{body}"),
            body,
        ] {
            let fast = convert(&html);
            assert!(fast.is_some(), "{html:?}");
            assert_eq!(fast.as_deref(), Some(htmd(&html).as_str()), "{html:?}");
        }
    }

    #[test]
    fn takes_inline_code_as_htmd_renders_it() {
        for (html, want) in [
            ("<p>A <code>x</code> b.</p>", "A `x` b."),
            ("<p><code>first</code> then</p>", "`first` then"),
            ("<p>then <code>last</code></p>", "then `last`"),
            ("<code>alone</code>", "`alone`"),
            // Markdown and HTML specials inside: as they are, entities decoded.
            (
                "<p><code>*a_b* [c] \\ # 1.</code></p>",
                "`*a_b* [c] \\ # 1.`",
            ),
            (
                "<p><code>&lt;b&gt; &amp;&amp; &#96;</code></p>",
                "`` <b> && ` ``",
            ),
            ("<p><code>a -&gt; b</code></p>", "`a -> b`"),
            ("<p><code>a -> b</code> > c</p>", "`a -> b` > c"),
            // Backticks inside: the shortest fence no run inside has; at an edge, one longer
            // than the longest run, and a space inside each fence.
            ("<p><code>a`b</code></p>", "``a`b``"),
            ("<p><code>a`b``c</code></p>", "```a`b``c```"),
            ("<p><code>a``b</code></p>", "`a``b`"),
            ("<p><code>`a</code></p>", "`` `a ``"),
            ("<p><code>a``</code></p>", "``` a`` ```"),
            ("<p><code>`</code></p>", "`` ` ``"),
            // Whitespace at the edges trimmed, inside kept; nothing inside: empty fences.
            ("<p>a<code>  x  y\n</code>b</p>", "a`x  y`b"),
            ("<p>a <code>x\n\ty</code> b</p>", "a `x\n\ty` b"),
            ("<p>a<code> </code>b</p>", "a``b"),
            ("<p>a<code></code>b</p>", "a``b"),
            ("<p><code>a<!-- c -->b</code></p>", "`ab`"),
            ("<p><code>x\r\ny</code></p>", "`x\ny`"),
            // In list items, headings, links, emphasis and quotes.
            (
                "<ul><li><code>a</code></li><li>b <code>c</code></li></ul>",
                "*   `a`\n*   b `c`",
            ),
            ("<ol><li><code>a\nb</code></li></ol>", "1.  `a\n    b`"),
            ("<h2><code>Title</code></h2>", "## `Title`"),
            (
                "<p><a href=\"https://x.example/\"><code>api</code></a></p>",
                "[`api`](https://x.example/)",
            ),
            (
                "<p><b><code>x</code></b> <em> <code>y</code> </em></p>",
                "**`x`** *`y`*",
            ),
            ("<blockquote><p><code>q</code></p></blockquote>", "> `q`"),
            (
                "<p><code class=\"language-rust\">let x = 1;</code></p>",
                "`let x = 1;`",
            ),
        ] {
            let fast = convert(html);
            assert_eq!(fast.as_deref(), Some(want), "{html:?}");
            assert_eq!(htmd(html), want, "{html:?}");
        }
        // Left to htmd: elements inside code, two in a row (htmd joins them), code in `pre`.
        for html in [
            "<p><code>a <b>b</b></code></p>",
            "<p><code>a<br>b</code></p>",
            "<p><code><a href=\"u\">x</a></code></p>",
            "<p><code>a</code><code>b</code></p>",
            "<p><code>a</code><!-- c --><code>b</code></p>",
            "<pre><code>x</code></pre>",
            "<p><code>open</p>",
        ] {
            assert_eq!(convert(html), None, "{html:?}");
        }
    }

    /// Text the fast path takes (given its neighbours allow), entities included.
    const TEXTS: &[&str] = &[
        "a",
        "b c",
        " ",
        "x ",
        " y",
        "foo bar",
        "",
        "&amp;",
        "&nbsp;",
        "&mdash;",
        "&#124;",
        "q&quot;r",
        "é",
        "\u{a0}",
        "\n",
        "a\n b",
        "\x0c",
        "a\x0cb",
        "\x0b",
        "x\u{2003}y",
        "\u{3000}",
        "\u{200b}",
        "\u{2028}",
        " \t ",
        "a\r\nb",
        "\r\n",
        "x\ry",
        "<!-- c -->",
        "<!--[if !mso]>x<![endif]-->",
        "<img src=\"https://x.example/i.png\" alt=\"pic\">",
        "<img src=\"a b\" alt=\"x\ny\" title=\"t\">",
        "<img alt=\"only alt\">",
        "<img src=u/>",
    ];
    /// Text it must leave to htmd: escapes, whitespace to compress, parse errors, comments,
    /// declarations and tags the tree builder rewrites.
    const HARD_TEXTS: &[&str] = &[
        "  ",
        "1. item",
        "#h",
        "-",
        "*",
        "_",
        "\n",
        "\t",
        "&lt;",
        "a < b",
        "&bogus",
        "&#0;",
        "\u{0}",
        "<!-- c -->",
        "<!doctype html>",
        "<?x?>",
        "</br>",
        "<b/>",
        "</p foo>",
        "<p",
        "</",
    ];
    const ELEMENTS: &[(&str, &str)] = &[
        ("<o:p>", "</o:p>"),
        ("<O:P>", "</o:p>"),
        ("<b>", "</b>"),
        ("<B>", "</B>"),
        ("<strong>", "</strong>"),
        ("<i>", "</i>"),
        ("<em>", "</em>"),
        ("<a href=\"https://x.example/a\">", "</a>"),
        ("<a href=\"u (1)\">", "</a>"),
        ("<a href=\"/x\" target=\"_blank\">", "</a>"),
        ("<span>", "</span>"),
        ("<span style=\"font-size:10pt\">", "</span>"),
        ("<font color=\"red\">", "</font>"),
        ("<u>", "</u>"),
        ("<at id=\"0\">", "</at>"),
    ];
    const HARD_ELEMENTS: &[(&str, &str)] = &[
        ("<a>", "</a>"),
        ("<a href=\"h\" title=\"t\">", "</a>"),
        ("<span class=\"math math-inline\">", "</span>"),
        ("<p>", "</p>"),
        ("<h3>", "</h3>"),
        ("<blockquote>", "</blockquote>"),
        ("<sup>", "</sup>"),
        ("<o:x>", "</o:x>"),
        ("<o:p>", "</o:P >"),
        ("<ol>", "</ol>"),
    ];

    /// What goes inside an inline `code`: backticks (runs of every length, at the edges and
    /// inside), Markdown and HTML specials, entities, whitespace, comments, and (for htmd)
    /// elements.
    const CODE_TEXTS: &[&str] = &[
        "x",
        "a b",
        "`",
        "``",
        "a`b",
        "a``b",
        "a`b``c",
        "`a",
        "a`",
        "` `",
        "```x```",
        " ",
        "  ",
        "\n",
        "\t",
        " pad ",
        "x  y",
        "a\nb",
        "*_[]\\#",
        "1. x",
        "-",
        "a -> b",
        "=> y",
        "&lt;b&gt;",
        "&amp;&amp;",
        "&#96;",
        "&nbsp;",
        "x\r\ny",
        "<!-- c -->",
        "<b>x</b>",
        "<span>s</span>",
        "<br>",
        "<a href=\"u\">l</a>",
        "<code>n</code>",
    ];

    /// An inline `code` of the pieces above.
    fn code() -> impl Strategy<Value = String> {
        (
            select(&["<code>", "<CODE>", "<code class=\"language-rust\">"][..]),
            prop::collection::vec(select(CODE_TEXTS), 0..4),
            prop::bool::weighted(0.97),
        )
            .prop_map(|(open, texts, closed)| {
                let mut html = open.to_owned() + &texts.concat();
                if closed {
                    html.push_str("</code>");
                }
                html
            })
    }

    fn inline() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            12 => select(TEXTS).prop_map(str::to_owned),
            1 => select(HARD_TEXTS).prop_map(str::to_owned),
            3 => select(&["<br>", "<br/>", "<hr>"][..]).prop_map(str::to_owned),
            3 => code(),
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            (
                prop_oneof![12 => select(ELEMENTS), 1 => select(HARD_ELEMENTS)],
                prop::collection::vec(inner, 0..4),
                prop::bool::weighted(0.98),
            )
                .prop_map(|((open, close), children, closed)| {
                    let mut html = open.to_owned();
                    html.extend(children);
                    if closed {
                        html.push_str(close);
                    }
                    html
                })
        })
    }

    /// Document starts the fast path skips (and a few it must not).
    const STARTS: &[&str] = &[
        "",
        "",
        "",
        "<html><head><style>p { margin: 0 }</style></head><body>",
        "<html><head>\r\n<meta charset=\"utf-8\">\r\n<style>p\r{}</style></head>\r\n<body>\r\n",
        "\u{feff}",
        "\u{feff}<html><body>",
        "<html>\n<head>\n<meta charset=\"utf-8\">\n<title>T</title>\n</head>\n<body dir=\"ltr\">\n",
        "<!DOCTYPE html><html lang=\"en\"><body>",
        "<!-- pre --><HTML><HEAD><!--[if gte mso 9]><xml><o:p/></xml><![endif]--><STYLE><!--\np {}\n--></STYLE></HEAD>",
        "<head><link rel=\"x\" href=\"y\"><base href=\"z\"></head>",
        "<html><body>",
        "<body>",
        "<html>",
        "<head></head>  ",
        "<html><head><title>a</title x></head>",
        "<html><head><script>x</script></head><body>",
        "<html><head><style>p</style",
        "<body><body>",
    ];

    fn fragment() -> impl Strategy<Value = String> {
        (
            select(STARTS),
            prop::collection::vec(block(), 1..5),
            select(
                &[
                    "",
                    "",
                    "</body></html>",
                    "</body>\n</html>\n",
                    "</BODY>",
                    "</html>",
                    " </body> x",
                ][..],
            ),
        )
            .prop_map(|(start, blocks, end)| start.to_owned() + &blocks.concat() + end)
    }

    fn block() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            1 => select(&["", " ", "\n", "\n  "][..]).prop_map(str::to_owned),
            1 => prop::collection::vec(inline(), 0..4).prop_map(|v| v.concat()),
            4 => (
                select(&[("<p>", "</p>"), ("<P>", "</p>"), ("<p class=\"c\">", "</p>"), ("<h1>", "</h1>"), ("<H3 id=x>", "</h3>"), ("<h6>", "</h6>"), ("<h2>", "</h4>")][..]),
                prop::collection::vec(inline(), 0..4),
                prop::bool::weighted(0.98),
            )
                .prop_map(|((open, close), children, closed)| {
                    let mut html = open.to_owned();
                    html.extend(children);
                    if closed {
                        html.push_str(close);
                    }
                    html
                }),
            1 => select(&["<hr>", "<hr/>", "\n<hr class=\"x\">\n", "<!-- between -->"][..]).prop_map(str::to_owned),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            let container = (
                select(
                    &[
                        ("<div>", "</div>"),
                        ("<DIV class=\"x\">", "</div>"),
                        ("<div style='a:b'>", "</div>"),
                        ("<blockquote>", "</blockquote>"),
                        ("<blockquote type=\"cite\">", "</BLOCKQUOTE>"),
                    ][..],
                ),
                prop::collection::vec(prop_oneof![inner.clone(), inline()], 0..4),
                prop::bool::weighted(0.95),
            )
                .prop_map(|((open, close), children, closed)| {
                    let mut html = open.to_owned();
                    html.extend(children);
                    if closed {
                        html.push_str(close);
                    }
                    html
                });
            // A list of items holding blocks (lists too) and inline content, spaced out.
            let item = (
                select(&["", "\n", " ", "x", "<!-- c -->"][..]),
                select(&["<li>", "<LI class=\"x\">"][..]),
                prop::collection::vec(prop_oneof![inner, inline()], 0..3),
                prop::bool::weighted(0.97),
            )
                .prop_map(|(space, open, children, closed)| {
                    let mut html = space.to_owned() + open;
                    html.extend(children);
                    if closed {
                        html.push_str("</li>");
                    }
                    html
                });
            // Bullet and numbered lists, closed as opened or not.
            let list = (
                select(
                    &[
                        ("<ul>", "</ul>"),
                        ("<UL type=\"disc\">", "\n</ul>"),
                        ("<ol>", "</ol>"),
                        ("<ol>", "</ol>"),
                        ("<OL type=\"a\">", "\n</OL>"),
                        ("<ol start=\"2\">", "</ol>"),
                        ("<ul>", "</ol>"),
                        ("<ol>", "</ul>"),
                        ("<ol>", ""),
                        ("<ul>", ""),
                    ][..],
                ),
                prop::collection::vec(item, 0..4),
            )
                .prop_map(|((open, close), items)| open.to_owned() + &items.concat() + close);
            prop_oneof![3 => container, 1 => list]
        })
    }

    /// Pieces of markup in any order: tags opened and closed out of order, blocks in inline
    /// elements, elements the tree builder moves.
    const SOUP: &[&str] = &[
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<b>",
        "</b>",
        "<strong>",
        "</strong>",
        "<i>",
        "</i>",
        "<em>",
        "</em>",
        "<a href=\"u\">",
        "</a>",
        "<span>",
        "</span>",
        "<font>",
        "</font>",
        "<u>",
        "</u>",
        "<at>",
        "</at>",
        "<br>",
        "<hr>",
        "<img src=\"s\" alt=\"a\">",
        "<h1>",
        "</h1>",
        "<h2>",
        "</h2>",
        "<blockquote>",
        "</blockquote>",
        "<li>",
        "</li>",
        "<ol>",
        "</ol>",
        "<o:p>",
        "</o:p>",
        "<table>",
        "<td>",
        "<sup>",
        "<code>",
        "</code>",
        "`",
        "<!-- c -->",
        "<body>",
        "</body>",
        "<html>",
        "<head>",
        "</head>",
        "x",
        " y ",
        "\n",
        "  ",
        "1. ",
        "*",
        "&amp;",
    ];

    fn soup() -> impl Strategy<Value = String> {
        (select(STARTS), prop::collection::vec(select(SOUP), 0..24))
            .prop_map(|(start, pieces)| start.to_owned() + &pieces.concat())
    }

    /// The generated fragments exercise the fast path, not only its refusals: a good share of
    /// them, and of those with a document start, heading, rule, quote, image, comment or Teams
    /// mention, are taken.
    #[test]
    fn generated_fragments_are_often_taken() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = fragment();
        let (mut taken, mut new_shapes, mut lists) = (0, 0, 0);
        let (mut ordered, mut office, mut code) = (0, 0, 0);
        for _ in 0..1000 {
            let html = strategy.new_tree(&mut runner).unwrap().current();
            if convert(&html).is_some() {
                taken += 1;
                if [
                    "<html",
                    "<h",
                    "<blockquote",
                    "<img",
                    "<!--",
                    "<at",
                    "<span",
                    "<body",
                    "<ul",
                ]
                .iter()
                .any(|t| html.contains(t))
                {
                    new_shapes += 1;
                }
                if html.contains("<li") {
                    lists += 1;
                }
                if html.contains("<ol>") && html.contains("<li") {
                    ordered += 1;
                }
                if html.to_ascii_lowercase().contains("<o:p>") {
                    office += 1;
                }
                if html.to_ascii_lowercase().contains("<code") {
                    code += 1;
                }
            }
        }
        assert!(
            taken > 120
                && new_shapes > 80
                && lists > 10
                && ordered >= 3
                && office >= 10
                && code >= 10,
            "{taken} taken, {new_shapes} with new shapes, {lists} with list items, {ordered} ordered, {office} with o:p, {code} with code"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("HTML_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4096)
        ))]

        /// Whenever the fast path answers, it answers what htmd would.
        #[test]
        fn agrees_with_htmd(html in fragment(), before in "[a-z \n]{0,6}") {
            // The tokenizing on its own too, for the inputs the byte scan turns away.
            let _ = tokenize(&html);
            let fast = convert(&html);
            if let Some(fast) = &fast {
                prop_assert_eq!(fast, &htmd(&html), "input {:?}", html);
            }
            // Appended after what a buffer holds: the same Markdown after it, or the buffer
            // as it was.
            let mut out = before.clone();
            let taken = convert_into(&html, &mut out);
            prop_assert_eq!(taken, fast.is_some(), "input {:?}", html);
            prop_assert_eq!(out, format!("{before}{}", fast.unwrap_or_default()), "input {:?} after {:?}", html, before);
        }

        /// The byte scan, where it answers, gives html5ever's tokens.
        #[test]
        fn plain_tokens_are_html5evers(html in fragment()) {
            if let Some(plain) = tokenize_plain(&html) {
                prop_assert_eq!(Some(plain), html5ever_tokens(&html), "input {:?}", html);
            }
        }

        /// The same on markup-heavy noise.
        #[test]
        fn plain_tokens_of_noise_are_html5evers(html in "[<>/pbiaemrstongudhlfq1!?&#;=\"' \n\r\u{0}\u{a0}\x0b\x0c\u{2003}\u{3000}:-]{0,48}") {
            if let Some(plain) = tokenize_plain(&html) {
                prop_assert_eq!(Some(plain), html5ever_tokens(&html), "input {:?}", html);
            }
        }

        /// Tags in any order, after any document start: the fast path answers as htmd or not
        /// at all.
        #[test]
        fn soup_is_safe(html in soup(), before in "[a-z \n]{0,6}") {
            let fast = convert(&html);
            if let Some(fast) = &fast {
                prop_assert_eq!(fast, &htmd(&html), "input {:?}", html);
            }
            let mut out = before.clone();
            let taken = convert_into(&html, &mut out);
            prop_assert_eq!(taken, fast.is_some(), "input {:?}", html);
            prop_assert_eq!(out, format!("{before}{}", fast.unwrap_or_default()), "input {:?} after {:?}", html, before);
            if let Some(plain) = tokenize_plain(&html) {
                prop_assert_eq!(Some(plain), html5ever_tokens(&html), "input {:?}", html);
            }
        }

        /// Markup-heavy noise neither panics nor gets an answer htmd would not give.
        #[test]
        fn noise_is_safe(html in "[<>/pbiaemrstongudhlfq1!?&#;=\"' \n\r\u{0}\u{a0}\u{feff}\x0b\x0c\u{2003}:-]{0,48}") {
            let _ = tokenize(&html);
            if let Some(fast) = convert(&html) {
                prop_assert_eq!(fast, htmd(&html), "input {:?}", html);
            }
        }
    }
}
