//! The writer's examples, and properties checked against a CommonMark parser (pulldown-cmark,
//! with the GitHub extensions): escaped text reads back as itself, no span gives text a style
//! it did not have, code survives backticks, tables keep their cells.

use super::*;
use proptest::prelude::*;
use proptest::sample::select;
use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

fn t(s: &str) -> Inline {
    Inline::text(s)
}

fn p(content: Vec<Inline>) -> Block {
    Block::paragraph(content)
}

fn para(text: &str) -> String {
    render(&[p(vec![t(text)])])
}

fn item(text: &str) -> ListItem {
    ListItem::new(vec![p(vec![t(text)])])
}

fn parse(md: &str) -> Vec<Event<'_>> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    Parser::new_ext(md, options).collect()
}

// --- Text ---------------------------------------------------------------------------------

#[test]
fn text_is_escaped_only_where_markdown_would_read_it() {
    for (text, want) in [
        ("plain text", "plain text"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2\\*3\\*4"),
        ("a * b and a _ b", "a * b and a \\_ b"),
        (
            "*bold* _it_ ~~gone~~",
            "\\*bold\\* \\_it\\_ \\~\\~gone\\~\\~",
        ),
        ("use `cfg` here", "use \\`cfg\\` here"),
        (
            "[DONE] and [a](b) and [x]: y",
            "[DONE] and [a\\](b) and [x\\]: y",
        ),
        ("C:\\path and \\*", "C:\\path and \\\\\\*"),
        (
            "a <b>c</b> <3 <alice@example.com>",
            "a \\<b>c\\</b> <3 <alice@example.com>",
        ),
        ("AT&T &amp; &#42;", "AT&T \\&amp; \\&#42;"),
        ("wow![x]", "wow\\![x]"),
        ("C# and #tag", "C# and #tag"),
    ] {
        assert_eq!(para(text), want, "{text:?}");
    }
}

#[test]
fn line_starts_lose_their_block_meaning() {
    for (text, want) in [
        ("# not a heading", "\\# not a heading"),
        ("#hashtag", "#hashtag"),
        ("> not a quote", "\\> not a quote"),
        ("- not an item", "\\- not an item"),
        ("-5 degrees", "-5 degrees"),
        ("+ plus", "\\+ plus"),
        ("* star", "\\* star"),
        ("1. first", "1\\. first"),
        ("2) second", "2\\) second"),
        ("1.5 litres", "1.5 litres"),
        ("---", "\\---"),
        ("===", "\\==="),
        ("| a |", "\\| a |"),
        ("[ ] box", "\\[ ] box"),
        ("~~~ fence", "\\~\\~\\~ fence"),
        ("    indented", "indented"),
        ("a\n# b\n--", "a\n\\# b\n\\--"),
    ] {
        assert_eq!(para(text), want, "{text:?}");
    }
}

#[test]
fn whitespace_at_line_edges_goes_and_breaks_are_kept() {
    let md = render(&[p(vec![
        t("  a  "),
        Inline::LineBreak,
        t(" b"),
        Inline::SoftBreak,
        Inline::LineBreak,
        t("c "),
        Inline::LineBreak,
    ])]);
    assert_eq!(md, "a  \nb  \nc");
    assert_eq!(para("x\r\ny\rz"), "x\ny\nz");
    let collapsed = MarkdownWriter::new()
        .collapse_whitespace(true)
        .render(&[p(vec![t(" a \n\t b "), t(" c")])]);
    assert_eq!(collapsed, "a b c");
}

// --- Spans --------------------------------------------------------------------------------

#[test]
fn emphasis_hugs_its_text() {
    let md = render(&[p(vec![
        t("a"),
        Inline::strong(vec![t(" bold ")]),
        t("end "),
        Inline::emphasis(vec![t("it")]),
        Inline::strikethrough(vec![t("gone ")]),
        t("."),
    ])]);
    assert_eq!(md, "a **bold** end *it*~~gone~~ .");
}

#[test]
fn empty_nested_and_adjacent_spans() {
    let md = render(&[p(vec![
        t("a"),
        Inline::strong(vec![t("  ")]),
        Inline::strong(vec![Inline::strong(vec![t("b")])]),
        Inline::strong(vec![t("c")]),
        t(" "),
        Inline::emphasis(vec![Inline::strong(vec![t("d")])]),
    ])]);
    // The spaces of the empty span are text all the same.
    assert_eq!(md, "a  **bc** ***d***");
}

#[test]
fn spans_that_markdown_cannot_hold_become_plain_text() {
    // `**` after a letter and before `(` does not open; `**` after `.` before a letter does
    // not close.
    let md = render(&[p(vec![
        t("a"),
        Inline::strong(vec![t("(b)")]),
        t("c "),
        Inline::emphasis(vec![t("重要。")]),
        t("次"),
    ])]);
    assert_eq!(md, "a(b)c 重要。次");
    let md = render(&[p(vec![t("x "), Inline::strong(vec![t("(b)")]), t(" y")])]);
    assert_eq!(md, "x **(b)** y");
}

#[test]
fn code_spans_survive_backticks() {
    for (code, want) in [
        ("plain", "`plain`"),
        ("a `b` c", "``a `b` c``"),
        ("``", "``` `` ```"),
        ("`x", "`` `x ``"),
        (" padded ", "`  padded  `"),
        (" ", "` `"),
        ("line\nbreak", "`line break`"),
    ] {
        assert_eq!(render(&[p(vec![Inline::code(code)])]), want, "{code:?}");
    }
    let two = render(&[p(vec![Inline::code("a"), Inline::code("`b")])]);
    assert_eq!(two, "``a`b``");
}

/// Code spans in a row are written as one, so `]` then `:` is the `]:` of one span: in a link
/// that starts the paragraph, `[`]:`](u)` would be a link reference definition (its label ends
/// at the first `]`, code or not). Found by `inline_content_reads_back` at 10x cases.
#[test]
fn joined_code_spans_do_not_make_a_definition() {
    for content in [
        vec![Inline::code("]"), Inline::code(":")],
        vec![Inline::strong(vec![Inline::code("]"), Inline::code(":")])],
        vec![Inline::code("a]"), Inline::code(":b")],
    ] {
        let joined = vec![Inline::link(content, "u")];
        let md = render(&[p(joined.clone())]);
        let got = read_back(&md).unwrap_or_else(|e| panic!("{e} in {md:?}"));
        same_reading(&got, &expected(&joined)).unwrap_or_else(|e| panic!("{e} in {md:?}"));
    }
    let one = render(&[p(vec![Inline::link(vec![Inline::code("]:")], "u")])]);
    let two = render(&[p(vec![Inline::link(
        vec![Inline::code("]"), Inline::code(":")],
        "u",
    )])]);
    assert_eq!(two, one);
}

#[test]
fn links_and_images() {
    let link = |label: &str, dest: &str| render(&[p(vec![Inline::link(vec![t(label)], dest)])]);
    assert_eq!(link("Docs", "https://x.io/a"), "[Docs](https://x.io/a)");
    assert_eq!(link("a [b] c", "u"), "[a \\[b\\] c](u)");
    assert_eq!(link(" spaced ", "u"), "[spaced](u)");
    assert_eq!(
        link("w", "https://en.wikipedia.org/wiki/A_(b)"),
        "[w](https://en.wikipedia.org/wiki/A_(b))"
    );
    assert_eq!(link("w", "a b)c"), "[w](<a b)c>)");
    assert_eq!(link("w", "x?a=1&amp;b"), "[w](x?a=1\\&amp;b)");
    assert_eq!(link("", "https://x.io"), "<https://x.io>");
    assert_eq!(link("", "not a url"), "[not a url](<not a url>)");
    let nested = render(&[p(vec![Inline::link(
        vec![t("out "), Inline::link(vec![t("in")], "v")],
        "u",
    )])]);
    assert_eq!(nested, "[out in](u)");
    let bang = render(&[p(vec![t("Wow!"), Inline::link(vec![t("x")], "u")])]);
    assert_eq!(bang, "Wow\\![x](u)");
    let image = render(&[p(vec![
        Inline::image("a [diagram]", "d.png"),
        t(" "),
        Inline::image("no source", ""),
    ])]);
    assert_eq!(image, "![a \\[diagram\\]](d.png) no source");
    let auto = render(&[p(vec![Inline::autolink("https://s.example/i/42")])]);
    assert_eq!(auto, "<https://s.example/i/42>");
}

// --- Blocks -------------------------------------------------------------------------------

#[test]
fn headings() {
    let h = |level, text: &str| render(&[Block::heading(level, vec![t(text)])]);
    assert_eq!(h(2, "Title"), "## Title");
    assert_eq!(h(9, "Deep"), "###### Deep");
    assert_eq!(h(0, "Top"), "# Top");
    assert_eq!(h(1, "Issue #"), "# Issue \\#");
    assert_eq!(h(1, "#"), "# \\#");
    assert_eq!(h(1, "C#"), "# C#");
    assert_eq!(h(1, "# a"), "# # a");
    assert_eq!(h(1, "  "), "");
    let broken = render(&[Block::heading(1, vec![t("a"), Inline::LineBreak, t("b")])]);
    assert_eq!(broken, "# a b");
}

#[test]
fn code_blocks_survive_fences_in_the_code() {
    assert_eq!(
        render(&[Block::code(Some("rust"), "\nfn main() {}\n\n")]),
        "```rust\nfn main() {}\n```"
    );
    assert_eq!(
        render(&[Block::code(None, "a\n```\nb")]),
        "````\na\n```\nb\n````"
    );
    assert_eq!(
        render(&[Block::code(Some("we`ird"), "~~~")]),
        "~~~~we`ird\n~~~\n~~~~"
    );
    assert_eq!(render(&[Block::code(Some(" "), "")]), "```\n```");
}

#[test]
fn lists_nest_and_stay_tight() {
    let nested = ListItem::new(vec![
        p(vec![t("second")]),
        Block::List(List::ordered(9, vec![item("nine"), item("ten")])),
    ]);
    let md = render(&[Block::List(List::bullet(vec![item("first"), nested]))]);
    // A list starting at 9 cannot interrupt a paragraph: a blank line comes first.
    assert_eq!(md, "- first\n- second\n\n  9. nine\n  10. ten");
    let one = ListItem::new(vec![
        p(vec![t("b")]),
        Block::List(List::ordered(1, vec![item("c")])),
    ]);
    let md = render(&[Block::List(List::bullet(vec![one]))]);
    assert_eq!(md, "- b\n  1. c");
    let loose = ListItem::new(vec![p(vec![t("a")]), p(vec![t("b")])]);
    assert_eq!(
        render(&[Block::List(List::bullet(vec![loose]))]),
        "- a\n\n  b"
    );
    let tasks = List::bullet(vec![
        ListItem::task(true, vec![p(vec![t("done")])]),
        ListItem::task(false, vec![]),
        ListItem::new(vec![]),
    ]);
    assert_eq!(render(&[Block::List(tasks)]), "- [x] done\n- [ ]\n-");
}

#[test]
fn lists_in_a_row_stay_apart() {
    let md = render(&[
        Block::List(List::bullet(vec![item("a")])),
        Block::List(List::bullet(vec![item("b")])),
        Block::List(List::bullet(vec![item("c")])),
        Block::List(List::ordered(1, vec![item("d")])),
        Block::List(List::ordered(1, vec![item("e")])),
    ]);
    assert_eq!(md, "- a\n\n* b\n\n- c\n\n1. d\n\n1) e");
}

#[test]
fn an_empty_item_after_a_paragraph_is_not_an_underline() {
    let inner = List::bullet(vec![ListItem::new(vec![])]);
    let outer = List::bullet(vec![ListItem::new(vec![
        p(vec![t("text")]),
        Block::List(inner),
    ])]);
    assert_eq!(render(&[Block::List(outer)]), "- text\n\n  -");
}

#[test]
fn quotes_nest() {
    let md = render(&[Block::quote(vec![
        p(vec![t("outer")]),
        Block::quote(vec![p(vec![t("inner")]), Block::code(None, "x\n\ny")]),
        Block::List(List::bullet(vec![item("point")])),
    ])]);
    assert_eq!(
        md,
        "> outer\n>\n> > inner\n> >\n> > ```\n> > x\n> >\n> > y\n> > ```\n>\n> - point"
    );
}

#[test]
fn tables_escape_pipes_and_join_blocks() {
    let cell = |s: &str| vec![p(vec![t(s)])];
    let table = Table::new(
        vec![cell("Name"), cell("Value")],
        vec![
            vec![cell("a | b"), vec![p(vec![Inline::code("x|y")])]],
            vec![
                cell("c"),
                vec![
                    p(vec![t("line one"), Inline::LineBreak, t("two")]),
                    p(vec![t("three")]),
                ],
            ],
            vec![vec![Block::List(List::bullet(vec![item("i"), item("j")]))]],
        ],
    );
    assert_eq!(
        render(&[Block::Table(table)]),
        "| Name | Value |\n| --- | --- |\n| a \\| b | `x\\|y` |\n\
         | c | line one<br>two<br>three |\n| - i<br>- j |  |"
    );
    let headless = Table::new(vec![], vec![vec![cell("x")]]);
    assert_eq!(render(&[Block::Table(headless)]), "|  |\n| --- |\n| x |");
}

/// In a cell every `|` is written `\\|`, but a backslash inside an autolink is literal
/// (`<aa:\\|>` reads as the URL `aa:\\|`): an autolink in text that holds a `|` is written as
/// text, and an [`Inline::Autolink`] that does as a link whose text is its URL. Found by
/// `table_cells_read_back` (the text `<aa:|>`).
#[test]
fn autolinks_with_pipes_in_cells_read_back() {
    for (content, want, reads) in [
        (t("<aa:|>"), "\\<aa:\\|>", "<aa:|>"),
        (
            t("<a|b@c.de> and <https://x.io/?q=a|b>"),
            "\\<a\\|b@c.de> and \\<https://x.io/?q=a\\|b>",
            "<a|b@c.de> and <https://x.io/?q=a|b>",
        ),
        (
            Inline::autolink("https://x.io/?q=a|b"),
            "[https://x.io/?q=a\\|b](https://x.io/?q=a\\|b)",
            "https://x.io/?q=a|b",
        ),
        // Without a `|`, autolinks stay autolinks.
        (
            t("<https://x.io/a> |"),
            "<https://x.io/a> \\|",
            "<https://x.io/a> |",
        ),
        (
            Inline::autolink("https://x.io/a"),
            "<https://x.io/a>",
            "<https://x.io/a>",
        ),
    ] {
        let table = Table::new(vec![], vec![vec![vec![p(vec![content.clone()])]]]);
        let md = render(&[Block::Table(table)]);
        assert_eq!(md, format!("|  |\n| --- |\n| {want} |"), "{content:?}");
        let (cells, links) = body_cells(&md);
        assert_eq!(cells, [reads], "{md:?}");
        assert!(
            links.iter().all(|l| !l.contains('\\')),
            "{links:?} in {md:?}"
        );
    }
}

/// The text of each cell of a rendered table's body rows, autolinks in `<…>` (as their text
/// was written), and the destinations of its links.
fn body_cells(md: &str) -> (Vec<String>, Vec<String>) {
    let mut cells: Vec<String> = Vec::new();
    let mut links = Vec::new();
    // Whether each open link is an autolink.
    let mut open: Vec<bool> = Vec::new();
    let mut in_body = false;
    let push = |cells: &mut Vec<String>, s: &str| {
        if let Some(last) = cells.last_mut() {
            last.push_str(s);
        }
    };
    for event in parse(md) {
        match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                let auto = matches!(link_type, LinkType::Autolink | LinkType::Email);
                if auto {
                    push(&mut cells, "<");
                }
                open.push(auto);
                links.push(dest_url.into_string());
            }
            Event::End(TagEnd::Link) => {
                let close = if open.pop() == Some(true) { ">" } else { "" };
                push(&mut cells, close);
            }
            Event::End(TagEnd::TableHead) => in_body = true,
            Event::Start(Tag::TableCell) if in_body => cells.push(String::new()),
            Event::Text(s) | Event::Code(s) | Event::Html(s) | Event::InlineHtml(s) if in_body => {
                push(&mut cells, &s);
            }
            _ => {}
        }
    }
    (cells, links)
}

#[test]
fn raw_markdown_and_plain_text() {
    let md = render(&[Block::quote(vec![Block::Markdown(
        "## Kept\n\n*as is*\n".into(),
    )])]);
    assert_eq!(md, "> ## Kept\n>\n> *as is*");
    let plain = Block::plain_text("Hi,\n\n> quoted\n-- \nsig\n\n\n");
    assert_eq!(render(&plain), "Hi,\n\n\\> quoted\n\\--\nsig");
}

#[test]
fn deep_nesting_is_flattened_not_overflowed() {
    let mut block = p(vec![t("bottom")]);
    for _ in 0..2000 {
        block = Block::quote(vec![block]);
    }
    let md = render(&[block]);
    assert!(md.ends_with("bottom"), "{md}");
    let mut inline = t("deep");
    for _ in 0..2000 {
        inline = Inline::strong(vec![Inline::emphasis(vec![inline])]);
    }
    assert!(render(&[p(vec![inline])]).contains("deep"));
}

// --- Properties ---------------------------------------------------------------------------

/// Characters that mean something somewhere in Markdown, and some that do not.
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', '1', '9', '0', ' ', ' ', ' ', '\t', '\n', '*', '_', '~', '`', '\\', '[', ']',
    '(', ')', '!', '<', '>', '&', '#', ';', '-', '+', '=', '.', ':', '|', '/', '"', 'x', 'é', '。',
    '\u{a0}',
];

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(select(ALPHABET), 0..24).prop_map(|v| v.into_iter().collect())
}

/// Style bits of a character.
const STRONG: u8 = 1;
const EMPHASIS: u8 = 2;
const STRIKE: u8 = 4;
const LINK: u8 = 8;
const CODE: u8 = 16;
const IMAGE: u8 = 32;

/// A visible character with its styles, or a line break (`None`).
type Styled = Option<(char, u8)>;

/// What `content` should read as: characters with their styles, lines trimmed of spaces and
/// tabs at their edges, empty lines dropped.
fn expected(content: &[Inline]) -> Vec<Styled> {
    fn walk(content: &[Inline], style: u8, in_link: bool, out: &mut Vec<Styled>) {
        for inline in content {
            match inline {
                Inline::Text(s) => {
                    let s = s.replace("\r\n", "\n").replace('\r', "\n");
                    out.extend(s.chars().map(|c| (c != '\n').then_some((c, style))));
                }
                Inline::Strong(c) => walk(c, style | STRONG, in_link, out),
                Inline::Emphasis(c) => walk(c, style | EMPHASIS, in_link, out),
                Inline::Strikethrough(c) => walk(c, style | STRIKE, in_link, out),
                Inline::Code(s) => out.extend(
                    s.chars()
                        .map(|c| if c == '\n' { ' ' } else { c })
                        .map(|c| Some((c, style | CODE))),
                ),
                Inline::Link {
                    content,
                    destination,
                } => {
                    let before = out.len();
                    walk(content, style | LINK, true, out);
                    let visible = out[before..].iter().any(|c| {
                        c.is_some_and(|(c, s)| s & (CODE | IMAGE) != 0 || !c.is_ascii_whitespace())
                    });
                    if !visible && !in_link {
                        // The link shows its destination (after the content's whitespace).
                        autolink(destination, style, false, out);
                    }
                }
                Inline::Image { alt, source } => {
                    let style = if source.trim().is_empty() {
                        style
                    } else {
                        style | IMAGE
                    };
                    out.extend(
                        alt.chars()
                            .map(|c| Some((if c == '\n' { ' ' } else { c }, style))),
                    );
                }
                Inline::Autolink(url) => autolink(url, style, in_link, out),
                Inline::SoftBreak | Inline::LineBreak => out.push(None),
            }
        }
    }
    fn autolink(url: &str, style: u8, in_link: bool, out: &mut Vec<Styled>) {
        let url = url.trim();
        // The test's URLs are autolinks exactly when they have a scheme.
        let angle = url.contains("://") && !in_link;
        if angle {
            out.push(Some(('<', style)));
        }
        out.extend(url.chars().map(|c| Some((c, style | LINK))));
        if angle {
            out.push(Some(('>', style)));
        }
    }
    let mut all = Vec::new();
    walk(content, 0, false, &mut all);
    normalize(all)
}

fn normalize(all: Vec<Styled>) -> Vec<Styled> {
    let mut out: Vec<Styled> = Vec::new();
    for line in all.split(Option::is_none) {
        let edge = |c: &&Styled| matches!(c, Some((' ' | '\t', s)) if s & (CODE | IMAGE) == 0);
        let start = line.iter().position(|c| !edge(&c)).unwrap_or(line.len());
        let end = line
            .iter()
            .rposition(|c| !edge(&c))
            .map_or(start, |e| e + 1);
        if start < end {
            if !out.is_empty() {
                out.push(None);
            }
            out.extend_from_slice(&line[start..end]);
        }
    }
    out
}

/// What the parser reads from one rendered paragraph, or why it is not one paragraph of
/// inline content.
fn read_back(md: &str) -> Result<Vec<Styled>, String> {
    let mut out = Vec::new();
    let mut style = 0u8;
    let mut stack: Vec<u8> = Vec::new();
    let mut paragraphs = 0;
    for event in parse(md) {
        match event {
            Event::Start(Tag::Paragraph) => paragraphs += 1,
            Event::End(TagEnd::Paragraph) => {}
            Event::Start(tag) => {
                let bit = match tag {
                    Tag::Strong => STRONG,
                    Tag::Emphasis => EMPHASIS,
                    Tag::Strikethrough => STRIKE,
                    Tag::Link {
                        link_type: LinkType::Autolink | LinkType::Email,
                        ..
                    } => {
                        out.push(Some(('<', style)));
                        0
                    }
                    Tag::Link { .. } => LINK,
                    Tag::Image { .. } => IMAGE,
                    other => return Err(format!("unexpected {other:?}")),
                };
                stack.push(style);
                style |= bit;
            }
            Event::End(end) => {
                if matches!(end, TagEnd::Link) && style & LINK == 0 {
                    out.push(Some(('>', style)));
                }
                style = stack.pop().unwrap_or(0);
            }
            Event::Text(text) => out.extend(text.chars().map(|c| Some((c, style)))),
            Event::Code(code) => out.extend(code.chars().map(|c| Some((c, style | CODE)))),
            Event::SoftBreak | Event::HardBreak => out.push(None),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if paragraphs > 1 {
        return Err(format!("{paragraphs} paragraphs"));
    }
    Ok(out)
}

/// Autolinks in text are kept on purpose: they read back as `<` + link + `>` with the link's
/// style, which the expected side does not know; drop the link bit from both.
fn same_reading(got: &[Styled], want: &[Styled]) -> Result<(), String> {
    let text = |v: &[Styled]| -> String { v.iter().map(|c| c.map_or('\n', |(c, _)| c)).collect() };
    if text(got) != text(want) {
        return Err(format!("text {:?} != {:?}", text(got), text(want)));
    }
    for (g, w) in got.iter().zip(want) {
        if let (Some((c, gs)), Some((_, ws))) = (g, w)
            && gs & !ws & !LINK != 0
        {
            return Err(format!("{c:?} styled {gs:#b}, wanted within {ws:#b}"));
        }
    }
    Ok(())
}

fn inline_strategy() -> impl Strategy<Value = Inline> {
    let leaf = prop_oneof![
        8 => text_strategy().prop_map(Inline::Text),
        2 => text_strategy().prop_map(Inline::Code),
        1 => Just(Inline::LineBreak),
        1 => Just(Inline::SoftBreak),
        1 => ("[a-z*_\\[\\] ]{1,4}", select(&["u", "", "a b", "https://x.io/(y)"][..]))
            .prop_map(|(alt, src)| Inline::image(alt, src)),
        1 => select(&["https://x.io/a", "not one", ""][..]).prop_map(Inline::autolink),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let children = prop::collection::vec(inner, 0..4);
        prop_oneof![
            children.clone().prop_map(Inline::Strong),
            children.clone().prop_map(Inline::Emphasis),
            children.clone().prop_map(Inline::Strikethrough),
            (
                children,
                select(&["u", "https://x.io/a_(b)", "a b", ""][..])
            )
                .prop_map(|(c, d)| Inline::link(c, d)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Escaped text reads back as exactly that text, with no emphasis, link, code, HTML or
    /// block structure.
    #[test]
    fn text_reads_back_as_itself(text in text_strategy()) {
        let md = para(&text);
        let want = expected(&[t(&text)]);
        let got = read_back(&md).map_err(|e| TestCaseError::fail(format!("{e} in {md:?}")))?;
        same_reading(&got, &want).map_err(|e| TestCaseError::fail(format!("{e} in {md:?}")))?;
    }

    /// Spans never give a character a style it did not have, and never cost a character.
    #[test]
    fn inline_content_reads_back(content in prop::collection::vec(inline_strategy(), 0..5)) {
        let md = render(&[p(content.clone())]);
        let want = expected(&content);
        let got = read_back(&md).map_err(|e| TestCaseError::fail(format!("{e} in {md:?}")))?;
        same_reading(&got, &want).map_err(|e| TestCaseError::fail(format!("{e} in {md:?}")))?;
    }

    /// A fence is longer than any run of its character in the code: the code reads back whole,
    /// in a quote and in a list item too.
    #[test]
    fn code_blocks_read_back(
        code in prop::collection::vec(select(&['`', '~', 'a', ' ', '\n', '>', '-'][..]), 0..30),
        language in select(&["", "rust", "a`b"][..]),
    ) {
        let code: String = code.into_iter().collect();
        let block = Block::code(Some(language), code.clone());
        let want = code.trim_matches('\n');
        for doc in [
            vec![block.clone()],
            vec![Block::quote(vec![block.clone()])],
            vec![Block::List(List::ordered(10, vec![ListItem::new(vec![p(vec![t("x")]), block])]))],
        ] {
            let md = render(&doc);
            let mut codes = Vec::new();
            let mut current: Option<(String, String)> = None;
            for event in parse(&md) {
                match event {
                    Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                        current = Some((info.to_string(), String::new()));
                    }
                    Event::Text(text) => {
                        if let Some((_, body)) = &mut current {
                            body.push_str(&text);
                        }
                    }
                    Event::End(TagEnd::CodeBlock) => codes.extend(current.take()),
                    _ => {}
                }
            }
            prop_assert_eq!(codes.len(), 1, "{:?}", md);
            let (info, body) = &codes[0];
            prop_assert_eq!(info.as_str(), language, "{:?}", md);
            let body = body.strip_suffix('\n').unwrap_or(body);
            prop_assert_eq!(body, want, "{:?}", md);
        }
    }

    /// Cells keep their text, pipes and backticks included, and the table its width.
    #[test]
    fn table_cells_read_back(cells in prop::collection::vec((text_strategy(), any::<bool>()), 1..4)) {
        let row: Vec<Vec<Block>> = cells
            .iter()
            .map(|(s, code)| vec![p(vec![if *code { Inline::code(s.clone()) } else { t(s) }])])
            .collect();
        let md = render(&[Block::Table(Table::new(vec![], vec![row]))]);
        let (got, _) = body_cells(&md);
        let want: Vec<String> = cells
            .iter()
            .map(|(s, code)| {
                if *code {
                    s.replace('\n', " ")
                } else {
                    let norm = expected(&[t(s)]);
                    norm.iter().map(|c| c.map_or_else(|| " ".to_owned(), |(c, _)| c.to_string())).collect()
                }
            })
            .collect();
        prop_assert_eq!(got.len(), want.len(), "{:?}", md);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g.trim(), w.trim(), "{:?}", md);
        }
    }
}

/// Text of words and the fragments around which the writer escapes, holds back or breaks.
fn fragments_strategy() -> impl Strategy<Value = Inline> {
    const FRAGMENTS: &[&str] = &[
        "word",
        "Wörter",
        " ",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "*",
        "_",
        "~",
        "`",
        "\\",
        "1.",
        "12)",
        "# ",
        "- ",
        "+",
        "=",
        ":",
        ">",
        "|",
        "[",
        "]",
        "(",
        "!",
        "&amp;",
        "&",
        "<",
        "<a@b.example>",
        "<https://x.io/a>",
        "<b>",
        "a_b",
        "a*b",
        ".",
        ",",
        "\0",
        "\u{a0}",
    ];
    prop::collection::vec(select(FRAGMENTS), 0..40).prop_map(|v| Inline::Text(v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Plain text copied in bulk is written exactly as character by character would write it,
    /// in every context, collapsing whitespace or not.
    #[test]
    fn bulk_text_is_written_as_per_character(
        content in prop::collection::vec(
            prop_oneof![inline_strategy(), fragments_strategy()],
            0..5,
        ),
        context in select(&[
            inline::Context::Paragraph,
            inline::Context::Heading,
            inline::Context::Cell,
        ][..]),
        collapse in any::<bool>(),
    ) {
        prop_assert_eq!(
            inline::render(&content, context, collapse),
            inline::render_per_char(&content, context, collapse)
        );
    }
}

// --- The direct writer ---------------------------------------------------------------------

/// Text for [`MarkdownOut`]: characters and fragments that mean something in Markdown.
fn out_text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        text_strategy(),
        fragments_strategy().prop_map(|i| match i {
            Inline::Text(s) => s,
            _ => String::new(),
        }),
        select(
            &[
                "",
                " ",
                "\n",
                "# a #",
                "1. one",
                "- dash",
                "|a|b|",
                "`x`",
                "a\r\n\r\nb"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

/// One call of [`MarkdownOut`].
#[derive(Debug, Clone)]
enum Op {
    Heading(u8, String),
    Paragraph(String),
    PlainText(String),
    Autolink(String),
    Labelled(Vec<(String, String)>),
    Code(Option<String>, String),
    Markdown(String),
    Bullet(String),
    LinkBullet(String, String),
    EndList,
    Block(Block),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let url = select(
        &[
            "https://example.com/a_(b)",
            "a b",
            "",
            "mailto:x@y.example",
            "<x>",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![
        (0u8..9, out_text_strategy()).prop_map(|(l, t)| Op::Heading(l, t)),
        out_text_strategy().prop_map(Op::Paragraph),
        out_text_strategy().prop_map(Op::PlainText),
        url.clone().prop_map(Op::Autolink),
        prop::collection::vec((out_text_strategy(), out_text_strategy()), 0..3)
            .prop_map(Op::Labelled),
        (
            prop::option::of(select(&["json", " ", "a`b", "x\ny", ""][..]).prop_map(str::to_owned)),
            prop_oneof![
                out_text_strategy(),
                select(&["{\n  \"a\": \"```\"\n}", "\n\nx\n", "~~~~", "a\rb"][..])
                    .prop_map(str::to_owned),
            ],
        )
            .prop_map(|(l, c)| Op::Code(l, c)),
        out_text_strategy().prop_map(Op::Markdown),
        out_text_strategy().prop_map(Op::Bullet),
        out_text_strategy().prop_map(Op::Bullet),
        (out_text_strategy(), url).prop_map(|(t, u)| Op::LinkBullet(t, u)),
        Just(Op::EndList),
        prop::collection::vec(out_text_strategy(), 0..3).prop_map(|items| {
            Op::Block(Block::List(List::bullet(
                items.iter().map(|t| item(t)).collect::<Vec<_>>(),
            )))
        }),
        out_text_strategy().prop_map(|t| Op::Block(Block::quote(vec![p(vec![Inline::text(t)])]))),
    ]
}

/// The blocks the calls stand for.
fn op_blocks(ops: &[Op]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut items: Vec<ListItem> = Vec::new();
    for op in ops {
        let list_item = match op {
            Op::Bullet(t) => Some(item(t)),
            Op::LinkBullet(t, u) => Some(ListItem::new(vec![p(vec![Inline::link(
                vec![Inline::text(t.as_str())],
                u.as_str(),
            )])])),
            _ => None,
        };
        if let Some(list_item) = list_item {
            items.push(list_item);
            continue;
        }
        if !items.is_empty() {
            blocks.push(Block::List(List::bullet(std::mem::take(&mut items))));
        }
        match op {
            Op::Heading(l, t) => blocks.push(Block::heading(*l, vec![Inline::text(t.as_str())])),
            Op::Paragraph(t) => blocks.push(p(vec![Inline::text(t.as_str())])),
            Op::PlainText(t) => blocks.extend(Block::plain_text(t)),
            Op::Autolink(u) => blocks.push(p(vec![Inline::autolink(u.as_str())])),
            Op::Labelled(fields) => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(l, v)| (l.as_str(), v.as_str()))
                    .collect();
                blocks.push(Block::labelled_lines(&pairs));
            }
            Op::Code(l, c) => blocks.push(Block::code(l.as_deref(), c.as_str())),
            Op::Markdown(m) => blocks.push(Block::Markdown(m.clone())),
            Op::Block(b) => blocks.push(b.clone()),
            Op::Bullet(_) | Op::LinkBullet(..) | Op::EndList => {}
        }
    }
    if !items.is_empty() {
        blocks.push(Block::List(List::bullet(items)));
    }
    blocks
}

fn write_ops(writer: MarkdownWriter, out: &mut String, ops: &[Op]) {
    let mut md = writer.out(out);
    for op in ops {
        match op {
            Op::Heading(l, t) => md.heading(*l, t),
            Op::Paragraph(t) => md.paragraph(t),
            Op::PlainText(t) => md.plain_text(t),
            Op::Autolink(u) => md.autolink(u),
            Op::Labelled(fields) => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(l, v)| (l.as_str(), v.as_str()))
                    .collect();
                md.labelled_lines(&pairs);
            }
            Op::Code(l, c) => md.code(l.as_deref(), c),
            Op::Markdown(m) => md.markdown(m),
            Op::Bullet(t) => md.bullet(t),
            Op::LinkBullet(t, u) => md.link_bullet(t, u),
            Op::EndList => md.end_list(),
            Op::Block(b) => md.block(b),
        }
    }
}

#[test]
fn the_direct_writer_writes_what_the_tree_writes() {
    let ops = [
        Op::Heading(1, "Title #".to_owned()),
        Op::Heading(2, " ".to_owned()),
        Op::Bullet("a\nb".to_owned()),
        Op::Bullet(String::new()),
        Op::LinkBullet(
            "rec1".to_owned(),
            "https://airtable.com/app/tbl/rec1".to_owned(),
        ),
        Op::EndList,
        Op::Bullet("- second list".to_owned()),
        Op::PlainText("one\r\ntwo\n\n  \nthree".to_owned()),
        Op::Labelled(vec![("From:".to_owned(), "a@b.example".to_owned())]),
        Op::Markdown("\n**raw**\r\n".to_owned()),
    ];
    let mut direct = "---\nid: 1\n---\n\n".to_owned();
    write_ops(MarkdownWriter::new(), &mut direct, &ops);
    assert_eq!(
        direct,
        "---\nid: 1\n---\n\n# Title \\#\n\n- a\n  b\n-\n- [rec1](https://airtable.com/app/tbl/rec1)\n\n\
         * \\- second list\n\none\ntwo\n\nthree\n\n**From:** a@b.example\n\n**raw**"
    );
    let mut tree = "---\nid: 1\n---\n\n".to_owned();
    render_into(&mut tree, &op_blocks(&ops));
    assert_eq!(direct, tree);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// [`MarkdownOut`] writes byte for byte what the tree renderer writes for the blocks its
    /// calls stand for, after whatever the buffer held, collapsing whitespace or not.
    #[test]
    fn the_direct_writer_matches_the_tree(
        ops in prop::collection::vec(op_strategy(), 0..8),
        before in select(&["", "---\nid: 1\n---\n\n", "x"][..]),
        collapse in any::<bool>(),
    ) {
        let writer = MarkdownWriter::new().collapse_whitespace(collapse);
        let mut direct = before.to_owned();
        write_ops(writer, &mut direct, &ops);
        let mut tree = before.to_owned();
        writer.render_into(&mut tree, &op_blocks(&ops));
        prop_assert_eq!(direct, tree);
    }
}

proptest! {
    /// A destination of bytes the fast path copies is what the escaping path writes.
    #[test]
    fn safe_destinations_are_copied_as_escaping_would_write_them(
        url in "[A-Za-z0-9._~:/?#@!$'*+,;=%-]{1,40}",
    ) {
        prop_assert_eq!(&escape::destination(&url), &url);
        prop_assert_eq!(&escape::escaped_destination(&url), &url);
    }
}

/// Characters of header lines: what the plain path copies (letters, digits, the punctuation
/// that matters only at a line start, Unicode, NBSP and other Unicode whitespace and
/// punctuation at a label's edge) and single spaces, mixed with everything else the escaper
/// treats specially.
const HEADER_CHARS: &[char] = &[
    'a', 'Z', '0', '7', ' ', ' ', ':', '.', '@', '-', '+', '#', '(', ')', ',', '/', '|', '>', '=',
    ')', 'é', '。', '\u{a0}', '\u{2003}', '«', '»', '"', '\'', '%', '$', '?', '_', '_',
];

fn header_text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(select(HEADER_CHARS), 0..16).prop_map(|v| v.into_iter().collect()),
        text_strategy(),
        select(
            &[
                "", " ", "From:", "1.", "# x", "- a", "a  b", " a", "a ", "x\ty"
            ][..]
        )
        .prop_map(str::to_owned),
        (
            prop::collection::vec(select(HEADER_CHARS), 0..8),
            select(
                &[
                    "<ada@example.com>",
                    " <ada@example.com>",
                    "  <a@b.c>",
                    " <https://x.example/a_b?c=1&d=*e*>",
                    "<a@b",
                    " <not a link>",
                    "<>"
                ][..]
            ),
            prop::collection::vec(select(HEADER_CHARS), 0..4),
        )
            .prop_map(|(a, link, b)| a.into_iter().chain(link.chars()).chain(b).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// [`MarkdownOut::labelled_lines`] (which copies plain labels and values without the
    /// inline writer) writes exactly what the inline writer, character by character, writes
    /// for [`Block::labelled_lines`]' paragraph, collapsing whitespace or not.
    #[test]
    fn plain_labelled_lines_are_written_as_per_character(
        fields in prop::collection::vec((header_text_strategy(), header_text_strategy()), 0..6),
        collapse in any::<bool>(),
    ) {
        let pairs: Vec<(&str, &str)> =
            fields.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        let mut direct = String::new();
        MarkdownWriter::new()
            .collapse_whitespace(collapse)
            .out(&mut direct)
            .labelled_lines(&pairs);
        let Block::Paragraph(content) = Block::labelled_lines(&pairs) else {
            unreachable!("labelled lines are a paragraph");
        };
        let per_char = inline::render_per_char(&content, inline::Context::Paragraph, collapse);
        prop_assert_eq!(direct, per_char);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// [`MarkdownOut::plain_text`] and [`MarkdownOut::heading`] copy a plain line (an ASCII
    /// letter, then what the writer copies in bulk) as it is: what the inline writer writes
    /// for it character by character, and, as a whole, what the tree renderer writes.
    #[test]
    fn plain_lines_are_written_as_per_character(
        first in select(&['a', 'Z', '0', '#', '-', ' ', '_', '\u{e9}', '>'][..]),
        rest in header_text_strategy(),
        tail in select(&["", " #", "#", " ", "_", "\n", "\r", " x"][..]),
        level in 1u8..7,
        collapse in any::<bool>(),
    ) {
        let text = format!("{first}{rest}{tail}");
        let writer = MarkdownWriter::new().collapse_whitespace(collapse);
        for context in [inline::Context::Paragraph, inline::Context::Heading] {
            let mut direct = String::new();
            let mut md = writer.out(&mut direct);
            let block = if context == inline::Context::Paragraph {
                md.plain_text(&text);
                Block::plain_text(&text)
            } else {
                md.heading(level, &text);
                vec![Block::heading(level, vec![Inline::text(&text)])]
            };
            let mut tree = String::new();
            writer.render_into(&mut tree, &block);
            prop_assert_eq!(&direct, &tree);
            if inline::is_plain_line(&text, context) {
                let per_char = inline::render_per_char(&[Inline::text(&text)], context, collapse);
                let prefix = if context == inline::Context::Heading {
                    &"###### "[6 - usize::from(level)..]
                } else {
                    ""
                };
                prop_assert_eq!(direct, format!("{prefix}{per_char}"));
            }
        }
    }
}

// --- The scan of plain runs -----------------------------------------------------------------

/// `plain_run`'s rule spelled without its table: the reference it must match (and any faster
/// scan of it, such as the word-at-a-time one that was tried).
fn plain_run_bytewise(text: &[u8]) -> usize {
    // What Markdown may give a meaning to within a line, controls, and the space.
    const SPECIAL: &[u8] = b"!&*<[\\]_`~\x7f";
    let plain = |b: u8| b >= 0x80 || (b > b' ' && !SPECIAL.contains(&b));
    let mut n = 0;
    while let Some(&b) = text.get(n) {
        if plain(b) {
            n += 1;
        } else if (b == b' ' && text.get(n + 1).is_some_and(|&b| plain(b)))
            || (b == b'_'
                && n > 0
                && text.get(n - 1).is_some_and(u8::is_ascii_alphanumeric)
                && text.get(n + 1).is_some_and(u8::is_ascii_alphanumeric))
        {
            n += 2;
        } else {
            break;
        }
    }
    n
}

/// Long texts of plain words and single spaces (spaces at every phase of an eight-byte word),
/// for the scans below.
fn plain_bases() -> Vec<Vec<u8>> {
    let mut bases = vec![
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".to_vec(),
        "Größe und Länge — 東京 «x» a,b.c:d;e=f+g-h/i?j@k^l{m|n}o\"p#q$r%s'(t)>u".into(),
    ];
    for gap in 1..=9 {
        for phase in 0..gap {
            let base: Vec<u8> = (0..64)
                .map(|i| {
                    if i >= phase && (i - phase) % (gap + 1) == gap {
                        b' '
                    } else {
                        b"body text row"[i % 13]
                    }
                })
                .collect();
            bases.push(base);
        }
    }
    bases
}

/// [`inline::plain_run`] ends where the reference ends, with every byte value (and pairs of
/// the bytes that depend on their neighbours) at every offset of texts whose spaces fall at
/// every offset of an eight-byte word, from several starts and cut after the byte.
#[test]
fn plain_run_is_the_byte_loop() {
    let mut checked = 0usize;
    for base in plain_bases() {
        for at in 0..base.len() {
            for b in 0..=255u8 {
                let mut text = base.clone();
                text[at] = b;
                for from in [0, 1, 3, 7, 8, 9].into_iter().filter(|&f| f <= at) {
                    assert_eq!(
                        inline::plain_run(&text[from..]),
                        plain_run_bytewise(&text[from..]),
                        "byte {b:#04x} at {at} from {from} of {:?}",
                        String::from_utf8_lossy(&text)
                    );
                    checked += 1;
                }
                // Cut right after the byte: a space or `_` last, with nothing after it.
                assert_eq!(
                    inline::plain_run(&text[..=at]),
                    plain_run_bytewise(&text[..=at])
                );
            }
            for (x, y) in [
                (b' ', b' '),
                (b' ', b'_'),
                (b'_', b'_'),
                (b'_', b' '),
                (b' ', b'!'),
                (b'_', b'a'),
                (b'a', b'_'),
                (b' ', 0xc3),
                (b'_', 0xc3),
            ] {
                let mut text = base.clone();
                text[at] = x;
                if let Some(next) = text.get_mut(at + 1) {
                    *next = y;
                }
                assert_eq!(
                    inline::plain_run(&text),
                    plain_run_bytewise(&text),
                    "{x:#04x} {y:#04x} at {at} of {:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

/// Every character that is not plain, and the plain ones next to which the writer decides
/// something, at every offset (so every offset in an eight-byte word) of long plain lines:
/// [`MarkdownOut::plain_text`] and the bulk inline writer write what the per-character writer
/// writes.
#[test]
fn long_plain_lines_are_written_as_per_character() {
    let specials: Vec<String> = (0u8..0x80)
        .map(char::from)
        .filter(|c| !c.is_ascii_alphanumeric())
        .map(String::from)
        .chain(
            [
                "é",
                "\u{a0}",
                "東",
                "a_b",
                "  ",
                " _",
                "_ ",
                "<a@b.example>",
                "\r\n",
            ]
            .map(String::from),
        )
        .collect();
    let bases = [
        "Body text of a row body text of a row body text of a row 12".to_owned(),
        "Words,words.words-words:(words) 'words' words/words words".to_owned(),
        "Größe der Länge größer als die Länge der Größe".to_owned(),
    ];
    for base in &bases {
        for at in 1..base.len() {
            if !base.is_char_boundary(at) {
                continue;
            }
            for special in &specials {
                let text = format!("{}{special}{}", &base[..at], &base[at..]);
                for collapse in [false, true] {
                    let writer = MarkdownWriter::new().collapse_whitespace(collapse);
                    let mut direct = String::new();
                    writer.out(&mut direct).plain_text(&text);
                    let mut tree = String::new();
                    writer.render_into(&mut tree, &Block::plain_text(&text));
                    assert_eq!(direct, tree, "{text:?}");
                    let content = [Inline::text(&text)];
                    let per_char =
                        inline::render_per_char(&content, inline::Context::Paragraph, collapse);
                    assert_eq!(
                        inline::render(&content, inline::Context::Paragraph, collapse),
                        per_char,
                        "{text:?}"
                    );
                    if inline::is_plain_line(&text, inline::Context::Paragraph) {
                        assert_eq!(direct, per_char, "{text:?}");
                    }
                }
            }
        }
    }
}

/// Link texts and destinations around what the direct writer copies as they are.
const LINK_URLS: &[&str] = &[
    "https://airtable.com/app/tbl/rec1",
    "mailto:x@y.example",
    "a",
    "",
    " https://x.example",
    "https://x.example/a_(b)",
    "https://x.example/a b",
    "https://x.example/[x]",
    "https://x.example/?a=1&amp;b",
    "https://x.example/a\\b",
    "<x>",
    "https://x.example/\u{e9}",
    "https://x.example/a\nb",
];

/// What a bullet, a link bullet and a paragraph of `text` write (after whatever came
/// before), against the tree renderer; and, when the direct writer copies the text as it
/// is, against the inline writer character by character.
fn check_items(text: &str, url: &str, collapse: bool) -> Result<(), String> {
    let writer = MarkdownWriter::new().collapse_whitespace(collapse);
    let link = || ListItem::new(vec![p(vec![Inline::link(vec![Inline::text(text)], url)])]);
    let cases: [(&str, Vec<Op>, Vec<Block>); 4] = [
        (
            "link bullets",
            vec![
                Op::LinkBullet(text.to_owned(), url.to_owned()),
                Op::LinkBullet(text.to_owned(), url.to_owned()),
            ],
            vec![Block::List(List::bullet(vec![link(), link()]))],
        ),
        (
            "bullets",
            vec![Op::Bullet(text.to_owned()), Op::Bullet("x".to_owned())],
            vec![Block::List(List::bullet(vec![item(text), item("x")]))],
        ),
        (
            "paragraph",
            vec![
                Op::Heading(2, "h".to_owned()),
                Op::Paragraph(text.to_owned()),
            ],
            vec![
                Block::heading(2, vec![Inline::text("h")]),
                p(vec![Inline::text(text)]),
            ],
        ),
        (
            "paragraph after a list",
            vec![Op::Bullet("x".to_owned()), Op::Paragraph(text.to_owned())],
            vec![
                Block::List(List::bullet(vec![item("x")])),
                p(vec![Inline::text(text)]),
            ],
        ),
    ];
    for (what, ops, blocks) in cases {
        let mut direct = String::new();
        write_ops(writer, &mut direct, &ops);
        let mut tree = String::new();
        writer.render_into(&mut tree, &blocks);
        if direct != tree {
            return Err(format!(
                "{what} of {text:?} {url:?}: {direct:?} != {tree:?}"
            ));
        }
    }
    let per_char =
        |content: &[Inline]| inline::render_per_char(content, inline::Context::Paragraph, collapse);
    if inline::is_plain_link_text(text) && escape::is_plain_destination(url) {
        let mut direct = String::new();
        writer.out(&mut direct).link_bullet(text, url);
        let want = format!(
            "- {}",
            per_char(&[Inline::link(vec![Inline::text(text)], url)])
        );
        if direct != want {
            return Err(format!(
                "link bullet {text:?} {url:?}: {direct:?} != {want:?}"
            ));
        }
    }
    if inline::is_plain_line(text, inline::Context::Paragraph) {
        let mut direct = String::new();
        writer.out(&mut direct).bullet(text);
        let want = format!("- {}", per_char(&[Inline::text(text)]));
        if direct != want {
            return Err(format!("bullet {text:?}: {direct:?} != {want:?}"));
        }
        let mut direct = String::new();
        writer.out(&mut direct).paragraph(text);
        let want = per_char(&[Inline::text(text)]);
        if direct != want {
            return Err(format!("paragraph {text:?}: {direct:?} != {want:?}"));
        }
    }
    Ok(())
}

/// Every ASCII character, and a few others, first, last and at every offset of a record's
/// id and name: [`MarkdownOut::link_bullet`], [`MarkdownOut::bullet`] and
/// [`MarkdownOut::paragraph`] (which copy plain text as it is) write what the tree renderer
/// writes, and, where they copy, what the inline writer writes character by character.
#[test]
fn plain_link_bullets_are_written_as_per_character() {
    let specials: Vec<String> = (0u8..0x80)
        .map(char::from)
        .filter(|c| !c.is_ascii_alphanumeric())
        .map(String::from)
        .chain(
            [
                "é",
                "\u{a0}",
                "東",
                "a_b",
                "_a",
                "  ",
                "<a@b.example>",
                "1.",
            ]
            .map(String::from),
        )
        .collect();
    let mut checked = 0;
    for base in ["rec00000000000042", "Task 7 (q3)", "9 lives"] {
        for at in 0..=base.len() {
            for special in &specials {
                let text = format!("{}{special}{}", &base[..at], &base[at..]);
                for url in LINK_URLS {
                    for collapse in [false, true] {
                        check_items(&text, url, collapse).unwrap_or_else(|e| panic!("{e}"));
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 50_000, "{checked}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// As `plain_link_bullets_are_written_as_per_character`, on header-like text and
    /// destinations of the bytes a destination may hold as they are.
    #[test]
    fn link_bullets_and_plain_items_match_the_tree(
        first in select(&['a', 'Z', '0', '#', '-', ' ', '_', '\u{e9}', '>', '[', '!', '*'][..]),
        rest in header_text_strategy(),
        url in prop_oneof![
            select(LINK_URLS).prop_map(str::to_owned),
            "[A-Za-z0-9._~:/?#@!$'*+,;=%()<>&\\\\ -]{0,24}",
        ],
        collapse in any::<bool>(),
    ) {
        let text = format!("{first}{rest}");
        prop_assert_eq!(check_items(&text, &url, collapse), Ok(()));
    }
}

/// `is_plain_key` (a byte table for ASCII keys, the word list only for short ones) decides as
/// the rule spelled by characters does, for every ASCII character and a few others at every
/// place of keys around the words YAML reads otherwise: its table or its length cut-off
/// wrong, this fails.
#[test]
fn front_matter_keys_are_plain_by_the_rule() {
    fn by_rule(key: &str) -> bool {
        key.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && !key.ends_with(' ')
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == ' ' || c == '-')
            && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"]
                .iter()
                .any(|w| w.eq_ignore_ascii_case(key))
    }
    let inserts: Vec<String> = (0u8..0x80)
        .map(|b| char::from(b).to_string())
        .chain(["é", "\u{a0}", "東", "Ⅻ", "٣", "  "].map(String::from))
        .collect();
    let bases = [
        "",
        "n",
        "N",
        "y",
        "no",
        "On",
        "off",
        "TRUE",
        "False",
        "null",
        "yes",
        "fals",
        "nulls",
        "Due",
        "record_id",
        "last modified",
        "a-b",
        "_x",
        "Status",
    ];
    let mut plain = 0;
    for base in bases {
        for at in 0..=base.len() {
            for insert in &inserts {
                for key in [
                    format!("{}{insert}{}", &base[..at], &base[at..]),
                    base.to_owned(),
                ] {
                    let want = by_rule(&key);
                    assert_eq!(is_plain_key(&key), want, "{key:?}");
                    plain += usize::from(want);
                    let value = serde_json::json!(1);
                    let fm = front_matter([(key.as_str(), &value)]);
                    let written = if want {
                        key.clone()
                    } else {
                        serde_json::to_string(&key).unwrap_or_default()
                    };
                    assert_eq!(fm, format!("---\n{written}: 1\n---\n\n"), "{key:?}");
                }
            }
        }
    }
    assert!(plain > 1000, "{plain}");
}
