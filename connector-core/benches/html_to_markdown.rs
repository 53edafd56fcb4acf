//! Micro bench of `text::html_to_markdown` over realistic inputs: an Outlook (Word) email whole
//! and with its head cut as the Outlook connector cuts it, a short Outlook body whole and cut,
//! Teams messages, an RSS article and summary, a plain-text field. Per input: time per
//! conversion (best of 5 runs) and the conversion's peak heap (over what was in use before).
//!
//! `cargo bench -p connector-core --features html --bench html_to_markdown`; set
//! `HTML_BENCH_ITERS` to change the conversions per run (default 2000), `HTML_BENCH_ONLY` to run
//! the inputs whose name contains it.
//!
//! # Results
//!
//! 2026-12-05, release, the 2-core machine shared with other builds, best of 5 × 2,000:
//! before (htmd over html5ever, the fast path for `p`/`br`/`b`/`i`/`a` without attributes or
//! references) and after (core's scanner feeding html5ever's tree builder; the fast path also
//! reading attributes, references, `div` and a closing `</body></html>`). The Markdown is the
//! same for every input.
//!
//! | input | bytes | before µs | after µs | speed-up | peak heap before / after |
//! | --- | --- | --- | --- | --- | --- |
//! | outlook word, whole | 9,756 | 162.9 | 65.9 | 2.5x | 53.3 / 43.8 KB |
//! | outlook word, body | 4,411 | 128.7 | 52.8 | 2.4x | 37.5 / 33.5 KB |
//! | outlook short | 1,343 | 42.0 | 21.9 | 1.9x | 17.1 / 16.3 KB |
//! | outlook short, body | 1,288 | — | 9.4 | — | — / 11.0 KB |
//! | teams raw | 157 | 5.92 | 4.27 | 1.4x | 3.7 / 3.2 KB |
//! | teams rewritten | 131 | 2.30 | 0.96 | 2.4x | 1.8 / 1.7 KB |
//! | teams div | 22 | 1.91 | 0.25 | 7.6x | 1.6 / 1.1 KB |
//! | rss article | 1,392 | 47.0 | 31.9 | 1.5x | 23.8 / 23.4 KB |
//! | rss summary | 26 | 0.24 | 0.22 | 1x | 1.1 / 1.1 KB |
//! | plain text | 47 | 0.16 | 0.16 | 1x | 0.7 / 0.7 KB |
//!
//! What is left on the DOM path is html5ever's tree builder, its reference-counted DOM and
//! htmd's walk over it (and their allocations), about evenly.
//!
//! Later the same day the fast path took mail and chat shapes too (a document start and head
//! skipped, comments, `span`/`font`/`u`/Teams' `at`, images, headings, rules, quotes, bullet
//! lists). The machine was then too loaded (load average 7-9 on 2 cores) for timings to mean
//! much, so instructions per conversion under callgrind (median of 6, release, the whole
//! `html_to_markdown`): before (the 06:05 build, whose DOM path is this one's) and after (this
//! branch's last build), with times from two alternating runs at load average 4.4:
//!
//! | input | before instr. | after instr. | ratio | µs before / after |
//! | --- | --- | --- | --- | --- |
//! | outlook word, whole | 772,924 | 829,036 | 0.9x (DOM path; the head is scanned first) | — |
//! | outlook word, body | 681,910 | 690,204 | 1.0x (DOM path: `o:p`, a table) | — |
//! | outlook short | 285,372 | 108,249 | 2.6x | 22.3 / 9.2, 31.7 / 9.8 |
//! | outlook short, body | 140,010 | 106,032 | 1.3x | 10.1 / 9.1, 14.2 / 9.0 |
//! | teams raw | 51,610 | 15,102 | 3.4x | 4.75 / 0.92, 4.78 / 0.93 |
//! | teams rewritten | 13,564 | 10,832 | 1.3x | — |
//! | teams div | 3,577 | 3,633 | 1.0x | — |
//! | rss article | 406,076 | 415,006 | 1.0x (DOM path: `code`, `pre`) | — |
//!
//! Of the fast path's instructions on the short body, byte-at-a-time searches (for `<`, NUL
//! and CR) were about a third before they used `memchr`; what is left is the tag scanner, the
//! text checks, `&amp;` decoding and small allocations (a link's text, decoded text).
//!
//! Session 40 (instructions per conversion under callgrind, 1,001 conversions, the bench's
//! setup included, release): the byte scan handing its tokens straight to the renderer,
//! `memchr` for every search, elements' leading markup written when they open (no shifting of
//! their children), links closed in place, a table for the plain-text check, the usual
//! entities unhashed:
//!
//! | input | before instr. | after instr. | ratio |
//! | --- | --- | --- | --- |
//! | outlook short, body | 107,081 | 53,235 | 2.0x |
//! | outlook short + body | 216,552 | 108,204 | 2.0x |
//! | teams raw | 15,974 | 9,242 | 1.7x |
//! | teams rewritten | 11,598 | 6,579 | 1.8x |
//! | rss summary | 4,586 | 2,932 | 1.6x |
//!
//! Peak heap of the short body 5.7 KB -> 1.9 KB. CR LF bodies (most mail) now take the fast
//! path too, read as the tokenizer's input stream. What is left on the short body: the
//! renderer's text (20%, mostly the plain-text check) and other tokens (25%), the tag scanner
//! for `<a href>` (8%), `&amp;` decoding (9%), `memchr` calls (10%).
//!
//! Session 42 (instructions per conversion under callgrind, `html_to_markdown` inclusive over
//! 201 conversions, release; the Markdown of every input byte for byte the same, the
//! `HTML_BENCH_DUMP` of both builds compared): the fast path's fixed costs cut. One search for
//! NUL and CR before the scan (was three: the input stream, the document start, the scan); a
//! fragment that starts with a tag other than `html`, `head` or `body` skips the document-start
//! scan; no `memchr3` between two adjacent tags (`</p><p>`); text references decoded as the
//! scan finds them (no second search); a tag's attribute values tell whether they hold a `&`
//! (no second search for `decoded_value` or the DOM path's `tag`); one `memchr3` for a link's
//! `href` (was two searches); the open-element stack small, `Copy` and reused from a
//! thread-local (no allocation per conversion; the open link's `href` and `ol` items kept
//! beside it); `close_block`, the final trim and the block's trailing spaces by bytes (no
//! `trim_matches` over whole blocks); emphasis closed without `trim_start`/`trim_end` or
//! `insert_str` when its content has no whitespace at either end; htmd's plain-text check
//! eight bytes a test; `&amp;` without the name match. A table-driven pass finding a text's
//! end and checking it for htmd at once (in place of `memchr3` and the check) was tried and
//! cost more (REST item 3,857 -> 4,012, Outlook body 42.9k -> 47.5k): kept out.
//!
//! | input | before instr. | after instr. | ratio |
//! | --- | --- | --- | --- |
//! | rest item (the CLI bench's, issue 17 (a)) | 4,844 | 3,649 | 1.33x |
//! | outlook short, body (the Outlook bench's) | 52,431 | 41,681 | 1.26x |
//! | outlook short, whole | 54,752 | 44,145 | 1.24x |
//! | teams raw | 8,483 | 6,830 | 1.24x |
//! | teams rewritten | 5,820 | 4,612 | 1.26x |
//! | teams div | 2,186 | 1,547 | 1.41x |
//! | rss summary | 2,175 | 1,529 | 1.42x |
//! | plain text | 1,589 | 1,081 | 1.47x |
//! | outlook word, whole (DOM path) | 782,202 | 773,868 | 1.01x |
//! | outlook word, body (DOM path) | 734,050 | 726,252 | 1.01x |
//! | rss article (DOM path) | 429,819 | 427,984 | 1.00x |
//!
//! Session 46: `html_to_markdown_into` (additive) renders the fast path at the end of a
//! caller's buffer, so `rest_api` converts an item's HTML part straight into its content (no
//! `String` per part); `kind_of` by lower-case bytes for names of one and two bytes. The rest
//! item here 3,598 → 3,619 instructions a conversion (this bench's `html_to_markdown` still
//! allocates its `String`; the renderer's relative top level costs ~10 a token); the CLI's
//! 50k sync 0.995x instructions, one allocation an item fewer (`benches/cli.rs`, sixteenth
//! pass). The Markdown of every input here is byte for byte the same (`HTML_BENCH_DUMP`).
//!
//! Tables and `pre`/`code` still go through htmd (the DOM path): see the note in
//! `text/html/simple.rs`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

use std::hint::black_box;
use std::time::Instant;

use connector_core::text::html_to_markdown;
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Word's head: meta tags, conditional comments, a 3 KiB style sheet.
fn word_head() -> String {
    let fonts: String = [
        "Cambria Math",
        "Calibri",
        "Aptos",
        "Segoe UI",
        "Times New Roman",
    ]
    .iter()
    .map(|f| format!("@font-face {{font-family:\"{f}\"; panose-1:2 4 5 3 5 4 6 3 2 4;}}\n"))
    .collect();
    let rules: String = (0..40)
        .map(|i| format!("p.MsoStyle{i}, li.MsoStyle{i}, div.MsoStyle{i} {{margin:0cm; font-size:11.0pt; font-family:\"Aptos\",sans-serif;}}\n"))
        .collect();
    format!(
        "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\
         <meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\">\
         <!--[if !mso]><style>v\\:* {{behavior:url(#default#VML);}} o\\:* {{behavior:url(#default#VML);}}</style><![endif]-->\
         <style><!--\n{fonts}{rules}@page WordSection1 {{size:612.0pt 792.0pt;}} div.WordSection1 {{page:WordSection1;}}\n--></style>\
         <!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]-->\
         <!--[if gte mso 9]><xml><o:shapelayout v:ext=\"edit\"><o:idmap v:ext=\"edit\" data=\"1\" /></o:shapelayout></xml><![endif]--></head>"
    )
}

/// Word's body: styled paragraphs and spans, `<o:p>`, a table, a list in conditional comments,
/// a signature.
fn word_body() -> String {
    let rows: String = (0..6)
        .map(|i| {
            format!(
                "<tr><td width=\"200\" valign=\"top\" style=\"border:solid windowtext 1.0pt;padding:0cm 5.4pt 0cm 5.4pt\">\
                 <p class=\"MsoNormal\"><span style=\"font-size:10.0pt\">Item {i}<o:p></o:p></span></p></td>\
                 <td width=\"200\" valign=\"top\" style=\"border:solid windowtext 1.0pt;padding:0cm 5.4pt 0cm 5.4pt\">\
                 <p class=\"MsoNormal\"><span style=\"font-size:10.0pt\">{} EUR<o:p></o:p></span></p></td></tr>",
                100 + i * 7
            )
        })
        .collect();
    let items: String = (0..4)
        .map(|i| {
            format!(
                "<p class=\"MsoListParagraph\" style=\"text-indent:-18.0pt;mso-list:l0 level1 lfo1\">\
                 <!--[if !supportLists]--><span style=\"font-family:Symbol\"><span style=\"mso-list:Ignore\">·\
                 <span style=\"font:7.0pt &quot;Times New Roman&quot;\">&nbsp;&nbsp;&nbsp;&nbsp;</span></span></span>\
                 <!--[endif]-->Point {i} of the plan, see <a href=\"https://contoso.com/plan#{i}\">section {i}</a><o:p></o:p></p>"
            )
        })
        .collect();
    format!(
        "<body lang=\"EN-US\" link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\">\
         <div class=\"WordSection1\"><p class=\"MsoNormal\">Hello <b>team</b>,<o:p></o:p></p>\
         <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>\
         <p class=\"MsoNormal\">The quarterly figures are below; the <i>draft</i> is in the \
         <a href=\"https://contoso.sharepoint.com/sites/finance/Q3.xlsx\">workbook</a>.<o:p></o:p></p>\
         <table class=\"MsoTableGrid\" border=\"1\" cellspacing=\"0\" cellpadding=\"0\" style=\"border-collapse:collapse;border:none\">\
         <tbody>{rows}</tbody></table>\
         <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>{items}\
         <p class=\"MsoNormal\">Regards,<br>Ada<o:p></o:p></p>\
         <p class=\"MsoNormal\"><span style=\"font-size:9.0pt;color:#7F7F7F\">Ada Lovelace | Finance | \
         <a href=\"mailto:ada@contoso.com\">ada@contoso.com</a><o:p></o:p></span></p>\
         </div></body>"
    )
}

/// An RSS `content:encoded` article: headings, paragraphs, a list, code, a quote, an image.
fn rss_article() -> String {
    let mut html = String::from("<h2>Release notes</h2>");
    for i in 0..6 {
        html.push_str(&format!(
            "<p>The <strong>change {i}</strong> makes the <a href=\"https://blog.example.com/posts/{i}\">sync</a> \
             faster, with <em>fewer</em> requests and a new <code>page_size</code> option.</p>\n"
        ));
    }
    html.push_str(
        "<ul>\n<li>one point</li>\n<li>another <b>point</b></li>\n<li>a third, with <a href=\"/x\">a link</a></li>\n</ul>\n\
         <h3>Upgrading</h3>\n<pre><code>cargo update -p connectors\n</code></pre>\n\
         <blockquote><p>Quoted text from the issue.</p></blockquote>\n\
         <p><img src=\"https://blog.example.com/img/chart.png\" alt=\"chart\"></p>\n",
    );
    html
}

fn inputs() -> Vec<(&'static str, String)> {
    let body = word_body();
    vec![
        (
            "outlook word, whole",
            format!("<html xmlns:o=\"urn:schemas-microsoft-com:office:office\">{}{body}</html>", word_head()),
        ),
        ("outlook word, body", body.trim_start_matches("<body lang=\"EN-US\" link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\">").to_owned()),
        (
            "outlook short",
            format!(
                "<html><head><style>p {{ margin: 0 }}</style></head><body><div><p>Hello <b>team</b>,</p>{}<p>Regards,<br>Ada</p></div></body></html>",
                (0..12)
                    .map(|i| format!("<p>Item {i} of message 7: the <a href=\"https://contoso.com/7/{i}\">report</a> is ready &amp; reviewed.</p>"))
                    .collect::<String>()
            ),
        ),
        (
            "outlook short, body",
            format!(
                "<div><p>Hello <b>team</b>,</p>{}<p>Regards,<br>Ada</p></div></body></html>",
                (0..12)
                    .map(|i| format!("<p>Item {i} of message 7: the <a href=\"https://contoso.com/7/{i}\">report</a> is ready &amp; reviewed.</p>"))
                    .collect::<String>()
            ),
        ),
        (
            "teams raw",
            "<div><p>Status of item 3: <at id=\"0\">Jane Smith</at> please review the <b>draft</b> and the <a href=\"https://contoso.sharepoint.com/doc3\">spec</a>.</p></div>".to_owned(),
        ),
        (
            "teams rewritten",
            "<p>Status of item 3: @Jane Smith please review the <b>draft</b> and the <a href=\"https://contoso.sharepoint.com/doc3\">spec</a>.</p>".to_owned(),
        ),
        ("teams div", "<div>Looking now</div>".to_owned()),
        ("rss article", rss_article()),
        // The CLI bench's REST items (benches/cli.rs, issue 17 (a)): 50k of these a run.
        (
            "rest item",
            "<p>Body of article 7.</p><p>Second paragraph with <b>bold</b> text.</p>".to_owned(),
        ),
        ("rss summary", "<p>Summary of entry 7.</p>".to_owned()),
        ("plain text", "Just a plain text field, with no markup at all.".to_owned()),
    ]
}

fn main() {
    let iters: usize = std::env::var("HTML_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // `HTML_BENCH_DUMP=file`: the outputs too, to compare two builds' Markdown.
    if let Ok(path) = std::env::var("HTML_BENCH_DUMP") {
        let dump: String = inputs()
            .iter()
            .map(|(name, html)| format!("=== {name}\n{}\n", html_to_markdown(html)))
            .collect();
        std::fs::write(path, dump).unwrap();
    }
    println!("| input | bytes | µs / conversion | peak heap bytes |");
    println!("| --- | --- | --- | --- |");
    // `HTML_BENCH_ONLY=word`: the inputs whose name has that in it (to profile one).
    let only = std::env::var("HTML_BENCH_ONLY").unwrap_or_default();
    for (name, html) in inputs()
        .into_iter()
        .filter(|(name, _)| name.contains(&*only))
    {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(html_to_markdown(black_box(&html)));
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        let before = ALLOC.current_usage();
        ALLOC.reset_peak_usage();
        black_box(html_to_markdown(black_box(&html)));
        let peak = ALLOC.peak_usage().saturating_sub(before);
        println!(
            "| {name} | {} | {:.2} | {peak} |",
            html.len(),
            best / iters as f64 * 1e6
        );
    }
}
