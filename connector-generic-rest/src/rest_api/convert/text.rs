//! The text of a document: its title, its content's parts (HTML → Markdown), ids' digits.

use connector_core::text::{html_to_markdown, html_to_markdown_into};

/// A title: the text without markup, its whitespace runs collapsed to single spaces, at most
/// 100 characters.
pub(super) fn title_of(text: &str) -> String {
    const MAX_CHARS: usize = 100;
    if is_clean_title(text, MAX_CHARS) {
        // The usual title: nothing to strip, collapse or cut.
        return text.to_owned();
    }
    let stripped = strip_html(text);
    let mut out = String::with_capacity(stripped.len().min(MAX_CHARS * 4));
    let mut chars = 0;
    for word in stripped.split_whitespace() {
        if !out.is_empty() {
            if chars == MAX_CHARS {
                break;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == MAX_CHARS {
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// Whether `title_of` would give `text` back as it is: at most `max` bytes (so at most `max`
/// characters), no `<`, no whitespace but single spaces between words. One pass over the
/// bytes (was: five searches of the text); a whitespace character outside ASCII is looked
/// for only when the text has a byte outside ASCII.
fn is_clean_title(text: &str, max: usize) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() > max || bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let mut ascii = true;
    let mut space = false;
    for &b in bytes {
        match b {
            b'<' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => return false,
            b' ' if space => return false,
            _ => ascii &= b.is_ascii(),
        }
        space = b == b' ';
    }
    ascii || !text.chars().any(|c| c.is_whitespace() && !c.is_ascii())
}

/// Appends `text` as [`strip_html`] gives it to `content`, after a `\n` when `content` holds
/// a part already; a part that comes out empty adds nothing.
///
/// HTML is converted straight into `content` ([`html_to_markdown_into`]) and trimmed there:
/// no `String` per part to allocate, copy and free on the runtime's worker.
pub(super) fn push_part(content: &mut String, text: &str) {
    if !looks_like_html(text) {
        let part = text.trim();
        if part.is_empty() {
            return;
        }
        if !content.is_empty() {
            content.push('\n');
        }
        content.push_str(part);
        return;
    }
    let before = content.len();
    if before > 0 {
        content.push('\n');
    }
    let at = content.len();
    html_to_markdown_into(text, content);
    // `str::trim` of the part, in place.
    let end = at + content[at..].trim_end().len();
    content.truncate(end);
    let lead = end - at - content[at..].trim_start().len();
    if lead > 0 {
        content.drain(at..at + lead);
    }
    if content.len() == at {
        content.truncate(before);
    }
}

/// An integer's text (`Number`'s `Display`, as `to_string` gives it, which is `itoa`'s too) in
/// `buf`, without the formatting machinery: ids are mostly integers, one per item. `None` for
/// a float, whose text `Node::text` gives (`Display`).
pub(super) fn integer_text<'b>(
    n: &serde_json::Number,
    buf: &'b mut itoa::Buffer,
) -> Option<&'b str> {
    match n.as_u64() {
        Some(u) => Some(buf.format(u)),
        None => n.as_i64().map(|i| buf.format(i)),
    }
}

/// Whether `text` looks like HTML: a `>` and a `<` followed by a letter, `/` or `!` (all
/// ASCII, so the byte after the `<` decides).
fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr(b'>', bytes).is_some()
        && memchr::memchr_iter(b'<', bytes).any(|i| {
            bytes
                .get(i + 1)
                .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'/' || c == b'!')
        })
}

/// HTML → Markdown when the text looks like HTML, keeping paragraph and line breaks (RAGFlow
/// replaced every tag with a space and collapsed all whitespace, newlines included).
pub(crate) fn strip_html(text: &str) -> String {
    if !looks_like_html(text) {
        return text.trim().to_owned();
    }
    // On a converter failure this is the input, trimmed like any other text.
    let markdown = html_to_markdown(text);
    if markdown.trim().len() == markdown.len() {
        markdown
    } else {
        markdown.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn titles_are_collapsed_stripped_and_cut() {
        assert_eq!(title_of("Plain title"), "Plain title");
        assert_eq!(title_of("  Two\n lines\there "), "Two lines here");
        assert_eq!(title_of("<b>Bold</b> <i>move</i>"), "**Bold** *move*");
        let long = "word ".repeat(40);
        let cut = title_of(&long);
        assert_eq!(cut.chars().count(), 100);
        assert!(cut.starts_with("word word"), "{cut:?}");
        assert_eq!(title_of(&"é".repeat(150)).chars().count(), 100);
        assert_eq!(title_of(""), "");
    }

    #[test]
    fn integer_text_is_display() {
        let mut buf = itoa::Buffer::new();
        for n in [
            json!(0),
            json!(7),
            json!(-1),
            json!(1_767_225_600),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
        ] {
            let Value::Number(n) = n else { unreachable!() };
            let text = n.to_string();
            let expected = (n.is_u64() || n.is_i64()).then_some(text.as_str());
            assert_eq!(integer_text(&n, &mut buf), expected);
        }
    }

    /// `title_of`'s check as it was: five searches of the text.
    fn clean_before(t: &str) -> bool {
        !t.contains('<')
            && t.len() <= 100
            && !t.starts_with(' ')
            && !t.ends_with(' ')
            && !t.contains("  ")
            && !t.contains(|c: char| c.is_whitespace() && c != ' ')
    }

    /// `looks_like_html` as it was, over chars.
    fn html_before(text: &str) -> bool {
        text.contains('>')
            && text.match_indices('<').any(|(i, _)| {
                text[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
            })
    }

    #[test]
    fn title_and_html_checks_agree_with_their_old_forms() {
        for t in [
            "",
            " ",
            "Plain title",
            "two  spaces",
            " lead",
            "trail ",
            "tab\there",
            "nbsp\u{a0}here",
            "ideo\u{3000}space",
            "größe straße",
            "a < b and c > d",
            "<p>x</p>",
            "x</",
            "<!-- c -->",
            "<é>",
            "1 <2> 3",
            "\u{1c}unit sep",
            &"x".repeat(100),
            &"x".repeat(101),
            &"é".repeat(50),
            &"é".repeat(51),
        ] {
            assert_eq!(is_clean_title(t, 100), clean_before(t), "{t:?}");
            assert_eq!(looks_like_html(t), html_before(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn title_and_html_checks_agree_on_any_text(
            t in "[ a<>/!\\t\\n\\r\u{a0}\u{3000}é]{0,12}|\\PC{0,110}",
        ) {
            proptest::prop_assert_eq!(is_clean_title(&t, 100), clean_before(&t));
            proptest::prop_assert_eq!(looks_like_html(&t), html_before(&t));
        }
    }

    /// `push_part` as it was: the part converted into a `String` of its own, trimmed, copied.
    fn push_part_before(content: &mut String, text: &str) {
        let markdown;
        let part = if looks_like_html(text) {
            markdown = html_to_markdown(text);
            markdown.trim()
        } else {
            text.trim()
        };
        if part.is_empty() {
            return;
        }
        if !content.is_empty() {
            content.push('\n');
        }
        content.push_str(part);
    }

    #[test]
    fn parts_are_appended_as_before() {
        let parts = [
            "Article 7",
            "<p>Body of article 7.</p><p>Second paragraph with <b>bold</b> text.</p>",
            "  padded  ",
            "",
            "<p> </p>",
            "<p>&nbsp;x&nbsp;</p>",
            "<b>a</b>\u{3000}",
            "<table><tr><td>cell</td></tr></table>",
            "<p>open <i>x",
            "a < b and c > d",
            "<!-- only a comment -->",
            "<br>",
        ];
        for first in parts {
            for second in parts {
                let (mut new, mut old) = (String::new(), String::new());
                for part in [first, second] {
                    push_part(&mut new, part);
                    push_part_before(&mut old, part);
                }
                assert_eq!(new, old, "{first:?} then {second:?}");
            }
        }
    }

    #[test]
    fn html_keeps_paragraphs() {
        let md = strip_html(
            "<h1>Title</h1><p>First para with <b>bold</b>.</p><p>Second<br>line</p><script>x()</script>",
        );
        assert!(md.contains("Title"), "{md}");
        assert!(md.contains("First para with **bold**.\n\nSecond"), "{md}");
        assert!(!md.contains("x()"), "{md}");
        assert_eq!(strip_html("  a < b and c > d  "), "a < b and c > d");
    }
}
