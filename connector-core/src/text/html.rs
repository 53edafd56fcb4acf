//! HTML → Markdown (feature `html`), over htmd.

use std::sync::OnceLock;

mod scan;
mod simple;

use htmd::HtmlToMarkdown;

/// The converter, built once: building one registers every element handler in a fresh map,
/// which costs more than converting a typical field or mail body (it dominated a Gmail
/// profile when it was built per call). `HtmlToMarkdown` is `Sync`, so one serves all threads.
fn converter() -> &'static HtmlToMarkdown {
    static CONVERTER: OnceLock<HtmlToMarkdown> = OnceLock::new();
    CONVERTER.get_or_init(|| {
        HtmlToMarkdown::builder()
            .skip_tags(vec!["script", "style", "head"])
            .build()
    })
}

/// HTML → Markdown, with `<script>`, `<style>` and `<head>` left out, content and all.
///
/// The usual rich-text field, mail or chat body (paragraphs, `div`s, line breaks, emphasis,
/// links, spans, images, headings, rules, quotes, lists, comments, after a document's
/// `<html>`, `<head>` and `<body>`) takes a fast path that gives htmd's output without
/// building a DOM; everything else goes through htmd, over a DOM that html5ever's tree builder
/// builds from core's own byte-search tokenizer where that can read the input exactly (else
/// from html5ever's tokenizer). The Markdown is htmd's in every case.
///
/// The output is not trimmed. Input that is not HTML comes back as text (`a < b` stays
/// `a < b`); should the converter fail, the input is returned unchanged rather than lost, so
/// this never fails.
///
/// ```
/// let md = connector_core::text::html_to_markdown(
///     "<h1>Title</h1><p>Some <b>bold</b> text.</p><script>track()</script>",
/// );
/// assert_eq!(md, "# Title\n\nSome **bold** text.");
/// ```
pub fn html_to_markdown(html: &str) -> String {
    let mut markdown = String::with_capacity(html.len() + 16);
    if simple::convert_into(html, &mut markdown) {
        return markdown;
    }
    with_htmd(html)
}

/// [`html_to_markdown`] of `html` appended to `out`, for a caller that gathers several parts
/// into one buffer (a REST item's content fields): the usual fragment is rendered in place,
/// with no `String` of its own to allocate, copy and free. What `out` held before stays as
/// it is, and what is appended is byte for byte what [`html_to_markdown`] returns.
///
/// ```
/// let mut text = String::from("Title\n");
/// connector_core::text::html_to_markdown_into("<p>Some <b>bold</b> text.</p>", &mut text);
/// assert_eq!(text, "Title\nSome **bold** text.");
/// ```
pub fn html_to_markdown_into(html: &str, out: &mut String) {
    if !simple::convert_into(html, out) {
        out.push_str(&with_htmd(html));
    }
}

/// htmd's Markdown of `html`, over core's tokenizer where it reads the input exactly.
fn with_htmd(html: &str) -> String {
    if let Some(tree) = scan::parse(html) {
        return converter().tree_to_markdown(&tree);
    }
    converter()
        .convert(html)
        .unwrap_or_else(|_| html.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_structure_and_drops_script_style_and_head() {
        let md = html_to_markdown(
            "<html><head><title>T</title><style>p{}</style></head><body>\
             <h2>Sub</h2><ul><li>one</li><li>two</li></ul>\
             <p>A <a href=\"https://x.example/\">link</a><br>next line</p>\
             <script>x()</script></body></html>",
        );
        assert!(md.contains("## Sub"), "{md}");
        assert!(md.contains("one") && md.contains("two"), "{md}");
        assert!(md.contains("[link](https://x.example/)"), "{md}");
        for gone in ["x()", "p{}", "T\n"] {
            assert!(!md.contains(gone), "{gone:?} in {md}");
        }
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(html_to_markdown("just text"), "just text");
        assert_eq!(html_to_markdown(""), "");
    }

    #[test]
    fn same_output_from_many_threads() {
        let html = "<p>Hello <i>world</i></p>";
        let want = html_to_markdown(html);
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(move || html_to_markdown(html)))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), want);
        }
    }
}
