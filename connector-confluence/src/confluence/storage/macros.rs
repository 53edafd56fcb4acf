//! Macros (`ac:structured-macro`) and Cloud's own editor nodes (`ac:adf-extension`): code,
//! panels, expands, file macros, includes, the `jira` macro, and what unknown macros show.

use connector_core::text::markdown::{Block, Inline, List, ListItem};

use super::parse::{Element, Node, include_target, raw_text};
use super::render::{Ctx, attachment, blocks, collapse, linked, mention, page_link, text, title};

/// `include` macros inside included pages are followed this many levels deep.
const MAX_INCLUDE_DEPTH: usize = 3;

/// A macro (`ac:structured-macro`, or the older `ac:macro`) shown as a block.
pub(super) fn macro_block(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Block>) {
    let name = e.attr("ac:name").unwrap_or("");
    let body = |ctx: &mut Ctx<'_>| {
        e.child("ac:rich-text-body")
            .map(|b| blocks(&b.children, ctx))
            .unwrap_or_default()
    };
    match name {
        "code" | "noformat" => {
            let text = e
                .child("ac:plain-text-body")
                .map(|b| raw_text(&b.children))
                .unwrap_or_default();
            let lang = e.param("language").filter(|_| name == "code");
            if let Some(t) = e.param("title") {
                out.push(title(t));
            }
            out.push(Block::code(lang.as_deref(), text));
        }
        "info" | "note" | "warning" | "tip" | "panel" | "success" | "error" => {
            let heading = match (panel_label(name), e.param("title")) {
                (Some(l), Some(t)) => Some(format!("{l}: {t}")),
                (Some(l), None) => Some(l.to_owned()),
                (None, Some(t)) => Some(t),
                (None, None) => None,
            };
            let mut inner: Vec<Block> = heading.into_iter().map(title).collect();
            inner.extend(body(ctx));
            out.push(Block::quote(inner));
        }
        "expand" => {
            out.push(title(
                e.param("title").unwrap_or_else(|| "Details".to_owned()),
            ));
            out.extend(body(ctx));
        }
        n if FILE_MACROS.contains(&n) => {
            if let Some(file) = shown_file(e, ctx) {
                let mut line = vec![Inline::text("Attachment: ")];
                line.extend(file);
                out.push(Block::Paragraph(line));
            }
        }
        "include" | "excerpt-include" => {
            let Some(page) = include_target(e, &ctx.space) else {
                return;
            };
            if ctx.including.len() >= MAX_INCLUDE_DEPTH || ctx.including.contains(&page) {
                return;
            }
            if !ctx.resolver.may_inline(&page, &ctx.space) {
                let text = vec![Inline::text(page.title.clone())];
                let mut line = vec![Inline::text("Included page: ")];
                line.extend(linked(text, ctx.resolver.page_url(&page)));
                out.push(Block::Paragraph(line));
                return;
            }
            let Some(nodes) = ctx.resolver.include(&page) else {
                return;
            };
            let nodes: &[Node] = if name == "excerpt-include" {
                match find_macro(&nodes, "excerpt") {
                    Some(excerpt) => excerpt
                        .child("ac:rich-text-body")
                        .map_or(&[][..], |b| b.children.as_slice()),
                    None => &[],
                }
            } else {
                &nodes
            };
            let outer_space = std::mem::replace(&mut ctx.space, page.space.clone());
            // The included page's attachments are its own, and its id is not known here.
            let outer_id = ctx.page_id.take();
            ctx.including.push(page);
            out.extend(blocks(nodes, ctx));
            ctx.including.pop();
            ctx.space = outer_space;
            ctx.page_id = outer_id;
        }
        // Navigation, listing and report macros carry no content of the page itself (and the
        // pages or spaces their parameters name are not what they show).
        "toc"
        | "children"
        | "pagetree"
        | "recently-updated"
        | "contentbylabel"
        | "attachments"
        | "livesearch"
        | "anchor"
        | "contributors"
        | "contributors-summary"
        | "tasks-report-macro"
        | "detailssummary"
        | "content-report-table"
        | "blog-posts"
        | "create-from-template"
        | "listlabels"
        | "related-labels"
        | "popular-labels"
        | "page-index"
        | "change-history"
        | "gallery" => {}
        _ => {
            if e.child("ac:rich-text-body").is_some() {
                out.extend(body(ctx));
            } else if let Some(text) = e.child("ac:plain-text-body") {
                // A verbatim body: its lines kept, nothing in it read as Markdown.
                out.extend(Block::plain_text(&raw_text(&text.children)));
            } else {
                // A macro without a body that shows something it names (a user's profile, an
                // embedded URL, a file): what it names is the readable part.
                let named = named_resources(e, ctx);
                if !named.is_empty() {
                    out.push(Block::Paragraph(named));
                }
            }
        }
    }
}

/// The heading of a panel macro or Cloud panel of this kind; `None` for a plain or custom
/// panel.
fn panel_label(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "info" => "Info",
        "note" => "Note",
        "warning" => "Warning",
        "tip" => "Tip",
        "success" => "Success",
        "error" => "Error",
        _ => return None,
    })
}

/// Macros that show one attached file (a preview, a player); the file is in the `name`
/// parameter, as an `ri:attachment` (or, in older bodies, as its file name).
const FILE_MACROS: &[&str] = &[
    "view-file",
    "viewfile",
    "view-pdf",
    "viewpdf",
    "viewdoc",
    "viewxls",
    "viewppt",
    "multimedia",
    "office-word",
    "office-excel",
    "office-powerpoint",
];

/// The parameters of a macro (`ac:default-parameter` is the unnamed one of older bodies).
fn params(e: &Element) -> impl Iterator<Item = &Element> {
    e.elements()
        .filter(|p| p.name == "ac:parameter" || p.name == "ac:default-parameter")
}

/// The file a file macro shows, linked where its URL can be formed.
fn shown_file(e: &Element, ctx: &Ctx<'_>) -> Option<Vec<Inline>> {
    if let Some(att) = params(e).find_map(|p| p.child("ri:attachment")) {
        return Some(attachment(att, None, ctx));
    }
    let file = e.param("name")?;
    let url = ctx
        .page_id
        .as_deref()
        .and_then(|id| ctx.resolver.attachment_url(id, &file));
    Some(linked(vec![text(&file)], url))
}

/// The users, pages, URLs and files a macro's parameters name, comma-separated.
fn named_resources(e: &Element, ctx: &mut Ctx<'_>) -> Vec<Inline> {
    fn walk(nodes: &[Node], found: &mut Vec<Vec<Inline>>, ctx: &mut Ctx<'_>) {
        for node in nodes {
            let Node::Element(e) = node else { continue };
            let mut one = Vec::new();
            match e.name.as_str() {
                "ri:user" => mention(e, None, ctx, &mut one),
                "ri:page" => page_link(e, None, ctx, &mut one),
                "ri:attachment" => one = attachment(e, None, ctx),
                "ri:url" => {
                    if let Some(url) = e.attr("ri:value").filter(|u| !u.trim().is_empty()) {
                        one.push(Inline::autolink(url.trim()));
                    }
                }
                _ => walk(&e.children, found, ctx),
            }
            if !one.is_empty() {
                found.push(one);
            }
        }
    }
    let mut found = Vec::new();
    for p in params(e) {
        walk(&p.children, &mut found, ctx);
    }
    let mut out = Vec::new();
    for (i, one) in found.into_iter().enumerate() {
        if i > 0 {
            out.push(Inline::text(", "));
        }
        out.extend(one);
    }
    out
}

/// Cloud's editor writes its own nodes (panels of the new editor, decision lists) as an
/// `ac:adf-extension`: the node, with attributes and content, and a fallback that repeats the
/// content as HTML for readers that do not know the node. The content is written once: the
/// node's, or the fallback where the node has none (an app's extension); attributes are
/// settings, never text.
pub(super) fn adf_extension(e: &Element, ctx: &mut Ctx<'_>, out: &mut Vec<Block>) {
    let node = e.child("ac:adf-node");
    if let Some(rendered) = node.and_then(|n| adf_node(n, ctx)) {
        out.extend(rendered);
        return;
    }
    let fallback = e
        .child("ac:adf-fallback")
        .or_else(|| node.and_then(|n| n.child("ac:adf-fallback")));
    if let Some(fallback) = fallback {
        out.extend(blocks(&fallback.children, ctx));
    }
}

/// The value of the ADF attribute `key` of an `ac:adf-node`.
fn adf_attr(node: &Element, key: &str) -> Option<String> {
    node.elements()
        .find(|a| a.name == "ac:adf-attribute" && a.attr("key") == Some(key))
        .map(|a| raw_text(&a.children).trim().to_owned())
}

/// The content of an `ac:adf-node` or `ac:adf-fallback` unless it shows nothing.
pub(super) fn adf_content<'a>(node: &'a Element, name: &str) -> Option<&'a [Node]> {
    node.child(name)
        .map(|c| c.children.as_slice())
        .filter(|c| !is_blank(c))
}

/// An ADF node as blocks; `None` when the node has no content of its own to show.
fn adf_node(node: &Element, ctx: &mut Ctx<'_>) -> Option<Vec<Block>> {
    match node.attr("type") {
        Some("panel") => {
            let content = adf_content(node, "ac:adf-content")?;
            let kind = adf_attr(node, "panel-type").unwrap_or_default();
            let mut inner: Vec<Block> = panel_label(&kind)
                .map(|l| title(l.to_owned()))
                .into_iter()
                .collect();
            inner.extend(blocks(content, ctx));
            Some(vec![Block::quote(inner)])
        }
        Some("decision-list") => {
            let items: Vec<ListItem> = node
                .elements()
                .filter(|i| i.name == "ac:adf-node" && i.attr("type") == Some("decision-item"))
                .filter_map(|i| decision(i, ctx))
                .collect();
            (!items.is_empty()).then(|| vec![Block::List(List::bullet(items))])
        }
        _ => Some(blocks(adf_content(node, "ac:adf-content")?, ctx)),
    }
}

/// One decision, led by its state (a decision list records what was decided and what is
/// still open); an empty one (a placeholder the author left) is left out.
fn decision(item: &Element, ctx: &mut Ctx<'_>) -> Option<ListItem> {
    let content = adf_content(item, "ac:adf-content")?;
    let state = adf_attr(item, "state").unwrap_or_default();
    let label = if state.eq_ignore_ascii_case("DECIDED") {
        "Decided:"
    } else if state.eq_ignore_ascii_case("UNDECIDED") {
        "Undecided:"
    } else {
        "Decision:"
    };
    let label = Inline::strong(vec![Inline::text(label)]);
    let mut body = blocks(content, ctx);
    match body.first_mut() {
        Some(Block::Paragraph(first)) => {
            first.splice(0..0, [label, Inline::text(" ")]);
        }
        _ => body.insert(0, Block::paragraph(vec![label])),
    }
    Some(ListItem::new(body))
}

/// Whether `nodes` show nothing: blank text and no element but line breaks.
fn is_blank(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        Node::Element(e) => e.name == "br",
    })
}

fn find_macro<'a>(nodes: &'a [Node], name: &str) -> Option<&'a Element> {
    nodes.iter().find_map(|n| match n {
        Node::Element(e) if e.name == "ac:structured-macro" && e.attr("ac:name") == Some(name) => {
            Some(e)
        }
        Node::Element(e) => find_macro(&e.children, name),
        Node::Text(_) => None,
    })
}

/// The `jira` macro: one issue (`key`), or the issues (or their count) a JQL query finds.
/// Cloud's own Jira is the server "System Jira" (or none named), on the site itself; another
/// server is an application link whose URL the body does not give, so it gets no link.
pub(super) fn jira(e: &Element, ctx: &Ctx<'_>, out: &mut Vec<Inline>) {
    let own = e
        .param("server")
        .is_none_or(|s| s.eq_ignore_ascii_case("system jira"));
    let site = own
        .then(|| ctx.resolver.jira_site())
        .flatten()
        .map(|s| s.trim_end_matches('/').to_owned());
    if let Some(key) = e.param("key") {
        let url = site
            .filter(|_| is_issue_key(&key))
            .map(|s| format!("{s}/browse/{key}"));
        out.extend(linked(vec![Inline::Text(key)], url));
        return;
    }
    if let Some(jql) = e.param("jqlQuery").map(|q| collapse(&q)) {
        let count = e
            .param("count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"));
        out.push(Inline::text(if count {
            "Jira issue count: "
        } else {
            "Jira issues: "
        }));
        let url = site.and_then(|s| {
            let mut url = url::Url::parse(&format!("{s}/issues/")).ok()?;
            url.query_pairs_mut().append_pair("jql", &jql);
            Some(url.to_string())
        });
        out.extend(linked(vec![Inline::Code(jql)], url));
        return;
    }
    // The old `jiraissues` macro names a search by its URL, which may carry a login
    // (`os_username`, `os_password`): those are dropped.
    if let Some(mut url) = e.param("url").and_then(|u| url::Url::parse(&u).ok()) {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.starts_with("os_"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        out.push(Inline::text("Jira issues: "));
        out.push(Inline::autolink(url.to_string()));
    }
}

/// `PROJ-123`: a project key (a letter, then letters, digits or `_`) and a number.
fn is_issue_key(key: &str) -> bool {
    let Some((project, number)) = key.rsplit_once('-') else {
        return false;
    };
    project
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests.

    use std::sync::Arc;

    use super::super::test_site::{SITE, md};
    use super::super::{Node, Owner, PageRef, Resolver, UserRef, parse, render_for};

    #[test]
    fn adf_panels_render_their_content_once_without_attributes() {
        assert_eq!(
            md(fixture!("cloud_adf_panel.xml"), true),
            "Before the panels.\n\n\
             > **Note**\n>\n> Hello\n\n\
             > Launch checklist:\n>\n> - tag the **release**\n\n\
             > **Error**\n>\n> Never run this on production.\n\n\
             Rendered by an app.\n\n\
             After the panels."
        );
    }

    #[test]
    fn adf_decision_lists_are_lists_with_their_state() {
        assert_eq!(
            md(fixture!("cloud_adf_decisions.xml"), true),
            "## Decisions\n\n\
             - **Decided:** We ship on 2026-04-01 with **Postgres 17**\n\
             - **Undecided:** Who owns the migration\n\n\
             Next steps follow."
        );
    }

    #[test]
    fn adf_without_content_of_its_own_shows_the_fallback_inline_too() {
        let panel = r#"<h3>Status <ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note</ac:adf-attribute><ac:adf-content><p>green</p></ac:adf-content></ac:adf-node><ac:adf-fallback><p>green</p></ac:adf-fallback></ac:adf-extension></h3>"#;
        assert_eq!(md(panel, true), "### Status green");
        // Only the fallback, inside the node (some writers put it there).
        let inside = r#"<ac:adf-extension><ac:adf-node type="decision-list"><ac:adf-attribute key="local-id">x</ac:adf-attribute><ac:adf-fallback><ul class="decision-list"><li>Use Rust</li></ul></ac:adf-fallback></ac:adf-node></ac:adf-extension>"#;
        assert_eq!(md(inside, true), "- Use Rust");
    }

    #[test]
    fn jira_macros_show_the_issue_or_the_query_linked_on_cloud() {
        assert_eq!(
            md(fixture!("cloud_jira_macros.xml"), true),
            "Tracked in [ENG-42](https://acme.atlassian.net/browse/ENG-42).\n\n\
             Jira issues: [`project = ENG AND status = \"In Progress\" ORDER BY priority DESC`]\
             (https://acme.atlassian.net/issues/?jql=project+%3D+ENG+AND+status+%3D+%22In+Progress%22+ORDER+BY+priority+DESC)\n\n\
             Open bugs: Jira issue count: [`project = ENG AND type = Bug AND resolution = Unresolved`]\
             (https://acme.atlassian.net/issues/?jql=project+%3D+ENG+AND+type+%3D+Bug+AND+resolution+%3D+Unresolved)\n\n\
             Partner: OPS-7"
        );
    }

    #[test]
    fn jira_macros_without_a_known_site_show_the_issue_or_the_query() {
        assert_eq!(
            md(fixture!("cloud_jira_macros.xml"), false),
            "Tracked in ENG-42.\n\n\
             Jira issues: `project = ENG AND status = \"In Progress\" ORDER BY priority DESC`\n\n\
             Open bugs: Jira issue count: `project = ENG AND type = Bug AND resolution = Unresolved`\n\n\
             Partner: OPS-7"
        );
        // Server's old `jiraissues` macro names a search URL, which may carry a login.
        let old = r#"<ac:structured-macro ac:name="jiraissues"><ac:parameter ac:name="url">https://jira.example.com/sr/jira.issueviews:searchrequest-xml/temp/SearchRequest.xml?jqlQuery=project+%3D+OPS&amp;os_username=bot&amp;os_password=hunter2&amp;tempMax=100</ac:parameter></ac:structured-macro>"#;
        let text = md(old, true);
        assert_eq!(
            text,
            "Jira issues: <https://jira.example.com/sr/jira.issueviews:searchrequest-xml/temp/SearchRequest.xml?jqlQuery=project+%3D+OPS&tempMax=100>"
        );
    }

    #[test]
    fn file_macros_name_their_attachment_linked_where_possible() {
        assert_eq!(
            md(fixture!("server_view_file.xml"), true),
            "Templates for each audience:\n\n\
             | For researchers | For engineers |\n\
             | --- | --- |\n\
             | Attachment: [research template.docx](https://acme.atlassian.net/wiki/download/attachments/1234/research%20template.docx) \
             | Attachment: [Engineering Handbook.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/Engineering%20Handbook.pdf) |\n\n\
             Attachment: [demo.mp4](https://acme.atlassian.net/wiki/download/attachments/1234/demo.mp4)\n\n\
             Attachment: budget.xlsx\n\n\
             The spec is [spec v2.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/spec%20v2.pdf)."
        );
        assert_eq!(
            md(fixture!("server_view_file.xml"), false),
            "Templates for each audience:\n\n\
             | For researchers | For engineers |\n\
             | --- | --- |\n\
             | Attachment: research template.docx | Attachment: Engineering Handbook.pdf |\n\n\
             Attachment: demo.mp4\n\n\
             Attachment: budget.xlsx\n\n\
             The spec is spec v2.pdf."
        );
    }

    #[test]
    fn an_included_pages_attachments_are_not_linked_to_this_page() {
        struct Including;
        impl Resolver for Including {
            fn user(&self, _: &UserRef) -> Option<String> {
                None
            }
            fn include(&self, _: &PageRef) -> Option<Arc<Vec<Node>>> {
                let body = r#"<ac:structured-macro ac:name="view-file"><ac:parameter ac:name="name"><ri:attachment ri:filename="shared.pdf" /></ac:parameter></ac:structured-macro>"#;
                Some(Arc::new(parse(body).unwrap()))
            }
            fn page_url(&self, _: &PageRef) -> Option<String> {
                None
            }
            fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
                Some(format!(
                    "{SITE}/wiki/download/attachments/{page_id}/{filename}"
                ))
            }
        }
        let body = r#"<ac:structured-macro ac:name="include"><ac:parameter ac:name=""><ac:link><ri:page ri:content-title="Shared" /></ac:link></ac:parameter></ac:structured-macro><p><ac:link><ri:attachment ri:filename="own.pdf" /></ac:link> and <ac:link><ri:attachment ri:filename="cloud.pdf"><ri:content-entity ri:content-id="777" /></ri:attachment></ac:link></p>"#;
        let owner = Owner {
            space: "ENG",
            page_id: Some("1234"),
        };
        assert_eq!(
            render_for(&parse(body).unwrap(), owner, &Including),
            "Attachment: shared.pdf\n\n\
             [own.pdf](https://acme.atlassian.net/wiki/download/attachments/1234/own.pdf) and \
             [cloud.pdf](https://acme.atlassian.net/wiki/download/attachments/777/cloud.pdf)"
        );
    }

    #[test]
    fn common_macros_render_readably() {
        assert_eq!(
            md(fixture!("common_macros.xml"), true),
            "## Owners\n\n\
             Owner: @Ada Lovelace [On track] :check_mark:\n\n\
             @Ada Lovelace\n\n\
             - [x] Write the runbook\n\
             - [ ] Review with @Ada Lovelace by 2026-05-04\n\n\
             **Rollback**\n\n\
             Redeploy the previous tag.\n\n\
             <https://www.youtube.com/watch?v=abc123>"
        );
    }
}
