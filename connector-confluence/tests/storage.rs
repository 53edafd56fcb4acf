//! Storage format → Markdown: a corpus with every macro the converter knows, as snapshots of
//! the documents the connector delivers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use common::{Fake, FakePage, at};
use connector_core::{Document, Registry, SyncContext};
use futures::TryStreamExt;
use serde_json::json;

const CORPUS: &[(&str, &str)] = &[
    (
        "structure",
        r#"<h1>Overview</h1><p>Plain text with <strong>bold</strong>, <em>italic</em>, <code>inline code</code>, <s>gone</s> and a <a href="https://example.com/docs">link</a>.</p>
<h2>Lists</h2>
<ul><li>first</li><li>second<ul><li>nested <strong>deep</strong></li></ul></li></ul>
<ol><li><p>step one</p></li><li><p>step two</p></li></ol>
<h3>Table</h3>
<table><colgroup><col/><col/></colgroup><tbody><tr><th>Name</th><th>Value</th></tr><tr><td><p>a | b</p></td><td>1</td></tr><tr><td>c</td><td><p>line one</p><p>line two</p></td></tr></tbody></table>
<blockquote><p>Quoted wisdom.</p></blockquote><hr/><p>Entities: caf&eacute; &amp; &ldquo;quotes&rdquo;&nbsp;&mdash; &#8364;5 &hellip;</p>"#,
    ),
    (
        "code",
        r#"<p>Before the code.</p><ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="a1"><ac:parameter ac:name="language">rust</ac:parameter><ac:parameter ac:name="title">main.rs</ac:parameter><ac:plain-text-body><![CDATA[fn main() {
    println!("<hello> & bye");
}]]></ac:plain-text-body></ac:structured-macro>
<ac:structured-macro ac:name="noformat" ac:schema-version="1"><ac:plain-text-body><![CDATA[raw   text
  kept]]></ac:plain-text-body></ac:structured-macro>
<pre>pre block
  indented</pre>"#,
    ),
    (
        "panels",
        r#"<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:rich-text-body><p>Info body.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="note" ac:schema-version="1"><ac:parameter ac:name="title">Careful</ac:parameter><ac:rich-text-body><p>Note body.</p><ul><li>point</li></ul></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="warning" ac:schema-version="1"><ac:rich-text-body><p>Warning body.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="tip" ac:schema-version="1"><ac:rich-text-body><p>Tip body.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="panel" ac:schema-version="1"><ac:parameter ac:name="title">Panel title</ac:parameter><ac:parameter ac:name="bgColor">#eee</ac:parameter><ac:rich-text-body><p>Panel body.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="expand" ac:schema-version="1"><ac:parameter ac:name="title">More</ac:parameter><ac:rich-text-body><p>Hidden details.</p></ac:rich-text-body></ac:structured-macro>"#,
    ),
    (
        "links_and_mentions",
        r#"<p>Ask <ac:link><ri:user ri:account-id="5b10ac8d82e05b22cc7d4ef5" /></ac:link> or <ac:link><ri:user ri:userkey="ff8080817bd1f0a4" /></ac:link>, not <ac:link><ri:user ri:account-id="unknown-account" /></ac:link>.</p>
<p>See <ac:link><ri:page ri:content-title="Deploy Guide" /></ac:link>, <ac:link><ri:page ri:space-key="OPS" ri:content-title="On call" /><ac:plain-text-link-body><![CDATA[the rota]]></ac:plain-text-link-body></ac:link> and <ac:link><ri:attachment ri:filename="spec.pdf" /></ac:link>.</p>
<p>External: <ac:link><ri:url ri:value="https://example.org/x" /><ac:link-body>site <strong>X</strong></ac:link-body></ac:link>; anchor <ac:link ac:anchor="top"><ac:plain-text-link-body><![CDATA[back to top]]></ac:plain-text-link-body></ac:link>.</p>"#,
    ),
    (
        "includes",
        r#"<p>Shared text follows:</p><ac:structured-macro ac:name="include" ac:schema-version="1"><ac:parameter ac:name=""><ac:link><ri:page ri:content-title="Shared Snippet" /></ac:link></ac:parameter></ac:structured-macro>
<p>Excerpt follows:</p><ac:structured-macro ac:name="excerpt-include" ac:schema-version="1"><ac:parameter ac:name="nopanel">true</ac:parameter><ac:parameter ac:name=""><ac:link><ri:page ri:space-key="OPS" ri:content-title="On call" /></ac:link></ac:parameter></ac:structured-macro>
<ac:structured-macro ac:name="include"><ac:parameter ac:name=""><ac:link><ri:page ri:content-title="Missing Page" /></ac:link></ac:parameter></ac:structured-macro>"#,
    ),
    (
        "images_and_misc",
        r#"<p><ac:image ac:alt="Architecture diagram" ac:height="250"><ri:attachment ri:filename="arch.png" /></ac:image></p>
<p><ac:image><ri:attachment ri:filename="screenshot.jpg" /></ac:image> and <ac:image><ri:url ri:value="https://cdn.example.com/img/logo.svg" /></ac:image></p>
<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>write docs</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>ship it <ac:link><ri:user ri:account-id="5b10ac8d82e05b22cc7d4ef5" /></ac:link></ac:task-body></ac:task></ac:task-list>
<p>Status <ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">Green</ac:parameter><ac:parameter ac:name="title">DONE</ac:parameter></ac:structured-macro>, ticket <ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">ENG-42</ac:parameter></ac:structured-macro>, smile <ac:emoticon ac:name="smile" ac:emoji-fallback="🙂" />, on <time datetime="2026-03-02" />.</p>
<ac:structured-macro ac:name="toc"><ac:parameter ac:name="maxLevel">2</ac:parameter></ac:structured-macro>
<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><p>left cell</p></ac:layout-cell><ac:layout-cell><p>right cell</p></ac:layout-cell></ac:layout-section></ac:layout>
<ac:structured-macro ac:name="unknown-vendor-macro"><ac:rich-text-body><p>vendor body kept</p></ac:rich-text-body></ac:structured-macro>"#,
    ),
];

async fn corpus_documents() -> (Fake, Vec<Document>) {
    let fake = Fake::start(true).await;
    fake.user("5b10ac8d82e05b22cc7d4ef5", "Ada Lovelace");
    fake.user("ff8080817bd1f0a4", "Grace Hopper");
    for (i, (name, body)) in CORPUS.iter().enumerate() {
        let mut page = FakePage::new(300 + i as u64, "ENG", name, body, at(i as i64));
        page.labels = vec!["corpus".into()];
        fake.add(page);
    }
    fake.add(FakePage::new(
        400,
        "ENG",
        "Shared Snippet",
        r#"<p>Included <strong>paragraph</strong> mentioning <ac:link><ri:user ri:account-id="5b10ac8d82e05b22cc7d4ef5" /></ac:link>.</p>"#,
        at(30),
    ));
    fake.add(FakePage::new(
        401,
        "OPS",
        "On call",
        r#"<p>Not in the excerpt.</p><ac:structured-macro ac:name="excerpt"><ac:rich-text-body><p>The rota changes weekly.</p></ac:rich-text-body></ac:structured-macro>"#,
        at(31),
    ));
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    let c = registry
        .build(
            "confluence",
            fake.config(json!({"space": "ENG", "labels_to_skip": []})),
        )
        .unwrap();
    let docs = c
        .as_load()
        .unwrap()
        .load(SyncContext::new())
        .map_ok(|b| b.documents)
        .try_concat()
        .await
        .unwrap();
    (fake, docs)
}

#[tokio::test]
async fn corpus_snapshots() {
    let (fake, docs) = corpus_documents().await;
    for (name, _) in CORPUS {
        let doc = docs.iter().find(|d| d.title == *name).unwrap();
        // The site's root (its own Jira's links) and, under it, the wiki.
        let text = doc
            .content
            .as_text()
            .unwrap()
            .replace(&fake.server.uri(), "https://confluence.test");
        insta::assert_snapshot!(*name, text);
    }
    // Each user and each included page was asked for once, however often they appear.
    assert_eq!(fake.count("/rest/api/user").await, 3);
    let includes = fake
        .requests()
        .await
        .iter()
        .filter(|r| {
            r.url.path().ends_with("/rest/api/content")
                && r.url.query().is_some_and(|q| q.contains("title="))
        })
        .count();
    assert_eq!(includes, 3);
}

#[tokio::test]
async fn document_snapshot() {
    let (fake, docs) = corpus_documents().await;
    let doc = docs.iter().find(|d| d.title == "panels").unwrap();
    let mut value = serde_json::to_value(doc).unwrap();
    let text = serde_json::to_string(&value)
        .unwrap()
        .replace(&fake.base(), "https://confluence.test/wiki");
    value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!("panels_document", value, {
        ".updated_at" => "[updated_at]",
    });
}

/// The rendered text of the page that a site of its own serves with `body` (content id 7, in
/// space ENG).
async fn synced_page(cloud: bool, body: &str) -> (Fake, String) {
    let fake = Fake::start(cloud).await;
    fake.add(FakePage::new(7, "ENG", "Files", body, at(1)));
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    let c = registry
        .build(
            "confluence",
            fake.config(json!({"space": "ENG", "include_attachments": false})),
        )
        .unwrap();
    let docs: Vec<Document> = c
        .as_load()
        .unwrap()
        .load(SyncContext::new())
        .map_ok(|b| b.documents)
        .try_concat()
        .await
        .unwrap();
    let text = docs[0].content.as_text().unwrap().to_owned();
    (fake, text)
}

#[tokio::test]
async fn a_synced_pages_file_and_jira_macros_are_links() {
    let body = concat!(
        include_str!("fixtures/storage/server_view_file.xml"),
        include_str!("fixtures/storage/cloud_jira_macros.xml")
    );
    // Cloud: the page's own attachments under the wiki, its own Jira ("System Jira") on the
    // site's root.
    let (fake, text) = synced_page(true, body).await;
    let wiki = fake.base();
    let root = fake.server.uri();
    for link in [
        format!("[research template.docx]({wiki}/download/attachments/7/research%20template.docx)"),
        format!(
            "[Engineering Handbook.pdf]({wiki}/download/attachments/7/Engineering%20Handbook.pdf)"
        ),
        format!("[spec v2.pdf]({wiki}/download/attachments/7/spec%20v2.pdf)"),
        format!("[ENG-42]({root}/browse/ENG-42)"),
        format!(
            "Jira issues: [`project = ENG AND status = \"In Progress\" ORDER BY priority DESC`]\
             ({root}/issues/?jql=project+%3D+ENG+AND+status+%3D+%22In+Progress%22+ORDER+BY+priority+DESC)"
        ),
    ] {
        assert!(text.contains(&link), "{link} missing from:\n{text}");
    }
    // An attachment of a page named by title has no known id; another Jira server is an
    // application link whose URL the body does not give.
    assert!(text.contains("Attachment: budget.xlsx\n"), "{text}");
    assert!(text.contains("Partner: OPS-7"), "{text}");

    // Server/Data Center: attachments linked the same way; its Jira is another application.
    let (fake, text) = synced_page(false, body).await;
    let wiki = fake.base();
    assert!(
        text.contains(&format!(
            "[research template.docx]({wiki}/download/attachments/7/research%20template.docx)"
        )),
        "{text}"
    );
    assert!(text.contains("Tracked in ENG-42."), "{text}");
    assert!(
        text.contains(
            "Jira issues: `project = ENG AND status = \"In Progress\" ORDER BY priority DESC`\n"
        ),
        "{text}"
    );
}
