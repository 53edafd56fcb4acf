//! The fast path of [`html_to_markdown`](super::html_to_markdown): fragments made only of
//! paragraphs and `div`s, line breaks, bold, italics and links (and a closing `</body></html>`),
//! tokenized by a byte scan (or html5ever's tokenizer) and converted without building a DOM.
//!
//! htmd parses every input as a whole document (`html`, `head`, `body`, reference-counted nodes)
//! and walks it; for a rich-text field of two short paragraphs that costs about 3 µs, most of a
//! REST item's conversion. Tokenizing alone costs a fifth of that.
//!
//! The output must be byte for byte what htmd gives, so that which path ran never shows. This
//! path therefore only accepts input whose tree and rendering it can reproduce exactly and gives
//! up (`None`) on anything else: any other tag, a comment or doctype, a parse error, tags that do
//! not nest cleanly (the tree builder would repair them), text that htmd would escape or whose
//! whitespace it would compress, adjacent emphasis (htmd merges it), a link without `href` or
//! with a `title`. A property test holds it to htmd's output on generated fragments.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// The tags this path handles (`b`/`strong`, `i`/`em` and `p`/`div` render the same).
const TAGS: [&str; 8] = ["p", "div", "br", "b", "strong", "i", "em", "a"];

/// Markdown for `html` when it is a simple fragment, else `None` (convert it with htmd).
pub(super) fn convert(html: &str) -> Option<String> {
    let html = without_document_end(html);
    if !only_known_tags(html) {
        return None;
    }
    let tokens = tokenize(html)?;
    let mut body = render_tokens(tokens, html.len() + 16)?;
    // What htmd's document, `html` and `body` levels and its final trim leave of the body,
    // cut in place.
    let kept = body
        .trim_matches('\n')
        .trim_end_matches(is_document_whitespace)
        .trim_matches('\n');
    let start = kept.as_ptr() as usize - body.as_ptr() as usize;
    let end = start + kept.len();
    body.truncate(end);
    body.drain(..start);
    Some(body)
}

/// `html` without a closing `</body>` and `</html>` (and the whitespace after either), as the
/// rest of a mail body cut after its `<body>` ends. They close nothing the tree builder has
/// not closed in a fragment this path takes, and whitespace after them goes to the end of the
/// body, where htmd trims it.
fn without_document_end(html: &str) -> &str {
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

/// A byte scan that rejects most inputs this path cannot take before any tokenizing: every `<`
/// that opens a tag must name one of [`TAGS`], and none may open a comment or declaration. It
/// only ever rejects; what it lets through is still checked token by token.
fn only_known_tags(html: &str) -> bool {
    let mut rest = html.as_bytes();
    while let Some(i) = rest.iter().position(|&b| b == b'<') {
        let after = &rest[i + 1..];
        if matches!(after.first(), Some(b'!' | b'?')) {
            return false;
        }
        let name = after.strip_prefix(b"/").unwrap_or(after);
        let len = name
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name.first().is_some_and(u8::is_ascii_alphabetic)
            && !TAGS
                .iter()
                .any(|t| name[..len].eq_ignore_ascii_case(t.as_bytes()))
        {
            return false;
        }
        rest = after;
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
enum Kind {
    P,
    Div,
    Br,
    Strong,
    Em,
    A,
}

#[cfg_attr(test, derive(Debug, PartialEq))]
enum Tok<'a> {
    /// A start tag; the `href` for a link.
    Start(Kind, Option<String>),
    End(Kind),
    /// Consecutive character tokens, joined as the tree builder joins them into one text node;
    /// borrowed from the input where the byte scan found them.
    Text(Cow<'a, str>),
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
            Token::TagToken(tag) => {
                let kind = match &*tag.name {
                    "p" => Kind::P,
                    "div" => Kind::Div,
                    "br" => Kind::Br,
                    "b" | "strong" => Kind::Strong,
                    "i" | "em" => Kind::Em,
                    "a" => Kind::A,
                    _ => return false,
                };
                // `</br>` is a `<br>` to the tree builder, `<b/>` an open `<b>`: not ours.
                if (tag.self_closing && kind != Kind::Br)
                    || (kind == Kind::Br && tag.kind == TagKind::EndTag)
                {
                    return false;
                }
                if tag.kind == TagKind::EndTag {
                    tokens.push(Tok::End(kind));
                    return true;
                }
                let mut href = None;
                if kind == Kind::A {
                    for attr in &tag.attrs {
                        match &*attr.name.local {
                            "href" => href = Some(String::from(&*attr.value)),
                            "title" => return false,
                            _ => {}
                        }
                    }
                    if href.is_none() {
                        return false;
                    }
                }
                tokens.push(Tok::Start(kind, href));
                true
            }
            // Comments, doctypes, NUL characters and parse errors.
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

fn tokenize(html: &str) -> Option<Vec<Tok<'_>>> {
    if let Some(tokens) = tokenize_plain(html) {
        return Some(tokens);
    }
    tokenize_html5ever(html)
}

/// The tokens of well-formed fragments without html5ever's tokenizer: tags and character
/// references read by [`scan`](super::scan)'s tag and reference scanners, text without NUL or
/// CR (which the tokenizer rewrites). html5ever's tokenizer costs most of a simple fragment's
/// conversion (its buffer queue, tendrils and state machine for two paragraphs); the usual
/// rich-text field of an API is tokenized here in a fraction of that. Anything else is
/// `None`, and html5ever decides as before; the tokens are the ones [`Collect`] would build
/// from html5ever's (a test holds the two to each other).
fn tokenize_plain(html: &str) -> Option<Vec<Tok<'_>>> {
    let bytes = html.as_bytes();
    // The tokenizer rewrites NUL and CR wherever they are, inside tags too (`<i\n\0>` is an
    // `<i>` with a parse error to html5ever, an attribute to the tag scanner): not this path's.
    if bytes.iter().any(|&b| matches!(b, b'\0' | b'\r')) {
        return None;
    }
    let mut tokens = Vec::with_capacity(16);
    let mut at = 0;
    while at < bytes.len() {
        let Some(lt) = bytes[at..].iter().position(|&b| b == b'<') else {
            push_plain_text(&mut tokens, &html[at..])?;
            break;
        };
        if lt > 0 {
            push_plain_text(&mut tokens, &html[at..at + lt])?;
        }
        let tag_start = at + lt + 1;
        let end = bytes.get(tag_start) == Some(&b'/');
        let name_start = tag_start + usize::from(end);
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        // Tags written `<p>`, `</p>` or `<br/>` need no tag scanner.
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
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
            && let Some(kind) = plain_kind(&bytes[name_start..name_end])
        {
            if (self_closing && kind != Kind::Br) || (end && kind == Kind::Br) {
                return None;
            }
            tokens.push(if end {
                Tok::End(kind)
            } else {
                Tok::Start(kind, None)
            });
            at = next;
            continue;
        }
        let tag_kind = if end {
            TagKind::EndTag
        } else {
            TagKind::StartTag
        };
        let (tag, next) = super::scan::tag(html, name_start, tag_kind)?;
        let kind = match &*tag.name {
            "p" => Kind::P,
            "div" => Kind::Div,
            "br" => Kind::Br,
            "b" | "strong" => Kind::Strong,
            "i" | "em" => Kind::Em,
            "a" => Kind::A,
            _ => return None,
        };
        // As [`Collect::accept`]: `</br>` and `<b/>` are not this path's, nor a link without
        // `href` or with a `title`.
        if (tag.self_closing && kind != Kind::Br) || (end && kind == Kind::Br) {
            return None;
        }
        tokens.push(if end {
            Tok::End(kind)
        } else if kind == Kind::A {
            let mut href = None;
            for attr in &tag.attrs {
                match &*attr.name.local {
                    "href" => href = Some(String::from(&*attr.value)),
                    "title" => return None,
                    _ => {}
                }
            }
            Tok::Start(kind, Some(href?))
        } else {
            Tok::Start(kind, None)
        });
        at = next;
    }
    Some(tokens)
}

/// The kind of a tag without attributes by its name; `None` for `a` (without `href`, refused
/// anyway) and the tags this path does not take.
fn plain_kind(name: &[u8]) -> Option<Kind> {
    let kind = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    Some(if kind("p") {
        Kind::P
    } else if kind("div") {
        Kind::Div
    } else if kind("br") {
        Kind::Br
    } else if kind("b") || kind("strong") {
        Kind::Strong
    } else if kind("i") || kind("em") {
        Kind::Em
    } else {
        return None;
    })
}

/// Appends text to the tokens, joined to a text token before it, its character references
/// decoded; `None` for text the tokenizer would not pass through as it is.
fn push_plain_text<'a>(tokens: &mut Vec<Tok<'a>>, text: &'a str) -> Option<()> {
    if text.bytes().any(|b| matches!(b, b'\0' | b'\r' | b'>')) {
        return None;
    }
    let text = if text.contains('&') {
        let mut decoded = String::with_capacity(text.len());
        super::scan::decode(text, &mut decoded)?;
        Cow::Owned(decoded)
    } else {
        Cow::Borrowed(text)
    };
    match tokens.last_mut() {
        Some(Tok::Text(t)) => t.to_mut().push_str(&text),
        _ => tokens.push(Tok::Text(text)),
    }
    Some(())
}

fn tokenize_html5ever(html: &str) -> Option<Vec<Tok<'static>>> {
    let sink = Collect {
        tokens: RefCell::new(Vec::with_capacity(16)),
        ..Collect::default()
    };
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
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

/// An element open while [`render_tokens`] renders its children.
struct Open {
    kind: Kind,
    /// A link's `href`.
    href: Option<String>,
    /// Where its children's rendering starts in the output.
    at: usize,
    /// Whether leading spaces of the next child are trimmed (htmd's `walk_children`: at the
    /// start of a block and after a block).
    trim_leading: bool,
}

/// The Markdown htmd gives for the tree html5ever would build from these tokens, or `None`
/// where the tree builder would repair or restructure anything.
///
/// The tree is not built: each element's children are rendered in place at the end of one
/// buffer as their tokens come (htmd renders each element's children into a string of its
/// own), and when the element ends they are trimmed and wrapped there, and cut as
/// [`append_normalized`] would cut them when appended to what its parent rendered before it.
fn render_tokens(tokens: Vec<Tok<'_>>, capacity: usize) -> Option<String> {
    let mut out = String::with_capacity(capacity);
    let mut open: Vec<Open> = Vec::new();
    // The top level: whether it has a child yet, whether the last was a block, and the
    // leading-space trim of its next child.
    let mut top_children = false;
    let mut top_block = false;
    let mut top_trim = true;
    let mut after_emphasis = false;
    for token in tokens {
        let ends_emphasis = matches!(token, Tok::End(Kind::Strong | Kind::Em));
        match token {
            Tok::Text(text) => {
                // The tree builder drops whitespace before the document's first content.
                let text: &str = if !top_children && open.is_empty() {
                    text.trim_start_matches(|c: char| c.is_ascii_whitespace())
                } else {
                    &text
                };
                let (base, trim_leading) = match open.last_mut() {
                    None if text.is_empty()
                        // Whitespace after a paragraph leaves no trace in htmd's output.
                        || (top_block && text.bytes().all(|b| b.is_ascii_whitespace())) =>
                    {
                        after_emphasis = false;
                        continue;
                    }
                    None if is_plain_text(text) => {
                        top_children = true;
                        top_block = false;
                        (0, &mut top_trim)
                    }
                    Some(parent) if is_plain_text(text) => (parent.at, &mut parent.trim_leading),
                    _ => return None,
                };
                let text = if *trim_leading || (text.starts_with(' ') && out[base..].ends_with(' '))
                {
                    text.trim_start_matches(' ')
                } else {
                    text
                };
                out.push_str(text);
                if !text.is_empty() {
                    *trim_leading = false;
                }
            }
            Tok::Start(Kind::Br, _) => {
                let before = out.len();
                let (base, trim_leading) = match open.last_mut() {
                    Some(parent) => (parent.at, &mut parent.trim_leading),
                    None => {
                        top_children = true;
                        top_block = false;
                        (0, &mut top_trim)
                    }
                };
                append_normalized(&mut out, base, "  \n");
                if out.len() > before {
                    *trim_leading = false;
                }
            }
            Tok::Start(kind, href) => {
                // A paragraph inside anything is closed or moved by the tree builder; a link
                // in a link is closed; htmd merges adjacent emphasis.
                // A block inside anything but a `div`, the same.
                if (matches!(kind, Kind::P | Kind::Div) && open.iter().any(|o| o.kind != Kind::Div))
                    || (kind == Kind::A && open.iter().any(|o| o.kind == Kind::A))
                    || (after_emphasis && matches!(kind, Kind::Strong | Kind::Em))
                {
                    return None;
                }
                let is_block = matches!(kind, Kind::P | Kind::Div);
                if is_block {
                    // Trailing spaces of what the parent rendered so far go before a block.
                    let base = open.last().map_or(0, |o| o.at);
                    let kept = out[base..].trim_end_matches(' ').len();
                    out.truncate(base + kept);
                }
                open.push(Open {
                    kind,
                    href,
                    at: out.len(),
                    trim_leading: is_block,
                });
            }
            Tok::End(kind) => {
                let element = open.pop()?;
                if element.kind != kind {
                    return None;
                }
                let is_block = matches!(kind, Kind::P | Kind::Div);
                let (base, trim_leading) = match open.last_mut() {
                    Some(parent) => (parent.at, &mut parent.trim_leading),
                    None => {
                        top_children = true;
                        top_block = is_block;
                        (0, &mut top_trim)
                    }
                };
                let at = element.at;
                match kind {
                    Kind::P | Kind::Div => close_block(&mut out, base, at),
                    Kind::Strong => close_emphasis(&mut out, base, at, "**"),
                    Kind::Em => close_emphasis(&mut out, base, at, "*"),
                    Kind::A => close_link(&mut out, base, at, &element.href?),
                    Kind::Br => return None,
                }
                if out.len() > at {
                    *trim_leading = is_block;
                }
            }
        }
        after_emphasis = ends_emphasis;
    }
    // An element left open at the end is closed by the tree builder; not ours to guess.
    open.is_empty().then_some(out)
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
    let mut after_space = false;
    for &byte in bytes {
        match byte {
            b'\\' | b'*' | b'_' | b'`' | b'[' | b']' | b'<' => return false,
            b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => return false,
            b' ' if after_space => return false,
            b' ' => after_space = true,
            _ => after_space = false,
        }
    }
    true
}

fn is_document_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ')
}

/// htmd's `p` handler (its block handler renders a `div` the same) on the children rendered
/// at `out[at..]`, appended to `out[base..at]`.
fn close_block(out: &mut String, base: usize, at: usize) {
    let content = &out[at..];
    let inner = content.trim_matches('\n');
    if inner.is_empty() {
        out.truncate(at);
        append_normalized(out, base, "\n\n\n\n");
        return;
    }
    // `"\n\n" + inner + "\n\n"`, of which only the leading newlines take part in the
    // normalisation (`inner` starts with none).
    let start = at + (content.len() - content.trim_start_matches('\n').len());
    let end = start + inner.len();
    out.truncate(end);
    let newlines = if at == base {
        2
    } else {
        2 - trailing_newlines(&out[base..at]).min(2)
    };
    out.replace_range(at..start, &"\n\n"[..newlines]);
    out.push_str("\n\n");
}

/// htmd's emphasis on the children rendered at `out[at..]`: markers around the content, its
/// surrounding whitespace kept outside; nothing when empty.
fn close_emphasis(out: &mut String, base: usize, at: usize, marker: &str) {
    let content = &out[at..];
    let start = content.trim_start();
    let inner = start.trim_end();
    if inner.is_empty() {
        out.truncate(at);
        return;
    }
    let inner_start = at + (content.len() - start.len());
    let inner_end = inner_start + inner.len();
    out.insert_str(inner_end, marker);
    out.insert_str(inner_start, marker);
    normalize_appended(out, base, at);
}

/// htmd's (inlined) link handler on the children rendered at `out[at..]`.
fn close_link(out: &mut String, base: usize, at: usize, href: &str) {
    let content = out[at..].trim_start_matches(is_document_whitespace);
    let text = content.trim_end_matches(is_document_whitespace);
    let trailing = &content[text.len()..];
    let href: Cow<'_, str> = if href.contains(['(', ')']) {
        Cow::Owned(href.replace('(', "\\(").replace(')', "\\)"))
    } else {
        Cow::Borrowed(href)
    };
    let (open, close) = if href.contains(' ') {
        ("<", ">")
    } else {
        ("", "")
    };
    let link = ["[", text, "](", open, &href, close, ")", trailing].concat();
    out.truncate(at);
    append_normalized(out, base, &link);
}

fn trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// Cuts what [`append_normalized`] would have left out of `out[at..]` had it been appended to
/// `out[base..at]`.
fn normalize_appended(out: &mut String, base: usize, at: usize) {
    let cut = normalized_cut(&out[base..at], &out[at..]);
    out.replace_range(at..at + cut, "");
}

/// How many leading bytes of `content` [`append_normalized`] leaves out when it appends it to
/// `out`.
fn normalized_cut(out: &str, content: &str) -> usize {
    if out.is_empty() {
        return 0;
    }
    let last_newlines = trailing_newlines(out);
    let content_newlines = content.len() - content.trim_start_matches('\n').len();
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
        assert_eq!(tokenize_plain(html), tokenize_html5ever(html));
        let html = "<p class=\"c\">a &amp; <A HREF='https://x.example/?a=1&amp;b=2'>b</a></p>";
        assert!(tokenize_plain(html).is_some());
        assert_eq!(tokenize_plain(html), tokenize_html5ever(html));
        for html in [
            "<p>a &amp b</p>",
            "<a>x</a>",
            "<a href=\"u\" title=\"t\">x</a>",
            "<p>x</br></p>",
            "<b/>",
            "a < b",
            "a > b",
            "x\r\ny",
            // NUL and CR inside a tag: the tokenizer rewrites them (found by the noise test).
            "<i\n\0>",
            "<a\rhref=u>x</a>",
            "<p",
            "< p>",
        ] {
            assert_eq!(tokenize_plain(html), None, "{html:?}");
        }
    }

    #[test]
    fn leaves_everything_else_to_htmd() {
        for html in [
            "<span>x</span>",
            "<p>a<ul><li>b</li></ul></p>",
            "<p>open",
            "<p><b>mis</p></b>",
            "<p><!-- c -->x</p>",
            "<p>2. not a list</p>",
            "<p>under_score</p>",
            "<p>two\nlines</p>",
            "<p><a>no href</a></p>",
            "<p><a href=\"u\" title=\"t\">x</a></p>",
            "<p><b>a</b><i>b</i></p>",
            "a < b",
            "<p>x &#0; y</p>",
            "<p>x</br></p>",
            "<p>x</p><!-- c",
            "<p>x</p><b",
        ] {
            assert_eq!(convert(html), None, "{html:?}");
        }
    }

    /// Text the fast path takes (given its neighbours allow), entities included.
    const TEXTS: &[&str] = &[
        "a", "b c", " ", "x ", " y", "foo bar", "", "&amp;", "&nbsp;", "&mdash;", "&#124;",
        "q&quot;r", "é", "\u{a0}",
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
        ("<b>", "</b>"),
        ("<B>", "</B>"),
        ("<strong>", "</strong>"),
        ("<i>", "</i>"),
        ("<em>", "</em>"),
        ("<a href=\"https://x.example/a\">", "</a>"),
        ("<a href=\"u (1)\">", "</a>"),
        ("<a href=\"/x\" target=\"_blank\">", "</a>"),
    ];
    const HARD_ELEMENTS: &[(&str, &str)] = &[
        ("<a>", "</a>"),
        ("<a href=\"h\" title=\"t\">", "</a>"),
        ("<span>", "</span>"),
        ("<p>", "</p>"),
    ];

    fn inline() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            12 => select(TEXTS).prop_map(str::to_owned),
            1 => select(HARD_TEXTS).prop_map(str::to_owned),
            3 => select(&["<br>", "<br/>"][..]).prop_map(str::to_owned),
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

    fn fragment() -> impl Strategy<Value = String> {
        (
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
            .prop_map(|(blocks, end)| blocks.concat() + end)
    }

    fn block() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            1 => select(&["", " ", "\n", "\n  "][..]).prop_map(str::to_owned),
            1 => prop::collection::vec(inline(), 0..4).prop_map(|v| v.concat()),
            4 => (
                select(&["<p>", "<P>", "<p class=\"c\">"][..]),
                prop::collection::vec(inline(), 0..4),
                prop::bool::weighted(0.98),
            )
                .prop_map(|(open, children, closed)| {
                    let mut html = open.to_owned();
                    html.extend(children);
                    if closed {
                        html.push_str("</p>");
                    }
                    html
                }),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            (
                select(&["<div>", "<DIV class=\"x\">", "<div style='a:b'>"][..]),
                prop::collection::vec(prop_oneof![inner, inline()], 0..4),
                prop::bool::weighted(0.95),
            )
                .prop_map(|(open, children, closed)| {
                    let mut html = open.to_owned();
                    html.extend(children);
                    if closed {
                        html.push_str("</div>");
                    }
                    html
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whenever the fast path answers, it answers what htmd would.
        #[test]
        fn agrees_with_htmd(html in fragment()) {
            // The tokenizing on its own too, for the inputs the byte scan turns away.
            let _ = tokenize(&html);
            if let Some(fast) = convert(&html) {
                prop_assert_eq!(fast, htmd(&html), "input {:?}", html);
            }
        }

        /// The byte scan, where it answers, gives html5ever's tokens.
        #[test]
        fn plain_tokens_are_html5evers(html in fragment()) {
            if let Some(plain) = tokenize_plain(&html) {
                prop_assert_eq!(Some(plain), tokenize_html5ever(&html), "input {:?}", html);
            }
        }

        /// The same on markup-heavy noise.
        #[test]
        fn plain_tokens_of_noise_are_html5evers(html in "[<>/pbiaemrstong!?&#;=\"' \n\r\u{0}\u{a0}-]{0,48}") {
            if let Some(plain) = tokenize_plain(&html) {
                prop_assert_eq!(Some(plain), tokenize_html5ever(&html), "input {:?}", html);
            }
        }

        /// Markup-heavy noise neither panics nor gets an answer htmd would not give.
        #[test]
        fn noise_is_safe(html in "[<>/pbiaemrstong!?&#;=\"' \n\u{0}\u{a0}-]{0,48}") {
            let _ = tokenize(&html);
            if let Some(fast) = convert(&html) {
                prop_assert_eq!(fast, htmd(&html), "input {:?}", html);
            }
        }
    }
}
