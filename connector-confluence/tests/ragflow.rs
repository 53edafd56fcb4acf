//! RAGFlow's Confluence configs behave here as they do in RAGFlow: the same scope for the same
//! config (a page alone unless `index_recursively`, leftovers of another mode ignored, pages
//! with their attachments and images, `cql_query` in place of the mode), and scoped API tokens
//! through the Atlassian gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{EMAIL, Fake, FakeAttachment, FakePage, PASSWORD, SERVER_USER, TOKEN, at};
use connector_core::{Connector, Document, ErrorKind, Registry, SyncContext, TimeWindow};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

const CLOUD_ID: &str = "a436116f-02ce-4520-8fbb-7301462a1674";

fn registry() -> Registry {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry
}

fn build(cfg: Value) -> Arc<dyn Connector> {
    registry().build("confluence", cfg).unwrap()
}

async fn load(c: &dyn Connector) -> connector_core::Result<Vec<Document>> {
    let mut docs = Vec::new();
    let mut s = c.as_load().unwrap().load(SyncContext::new());
    while let Some(b) = s.next().await {
        let b = b?;
        assert!(b.failures.is_empty(), "{:?}", b.failures);
        docs.extend(b.documents);
    }
    Ok(docs)
}

fn titles(docs: &[Document]) -> BTreeSet<String> {
    docs.iter().map(|d| d.title.clone()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The CQL of every page search the fake received.
async fn searched(fake: &Fake) -> Vec<String> {
    fake.page_cql().await
}

fn attachment(id: u64, title: &str, media: &str, data: &[u8]) -> FakeAttachment {
    FakeAttachment {
        id,
        title: title.into(),
        media_type: media.into(),
        data: data.to_vec(),
        reported_size: None,
        ..Default::default()
    }
}

/// ENG: Root > Child (with a PDF and a PNG) > Grandchild, Other, a blog post; OPS: Runbook.
async fn site(cloud: bool) -> Fake {
    let fake = Fake::start(cloud).await;
    let mut root = FakePage::new(100, "ENG", "Root", "<p>root</p>", at(1));
    root.labels = vec!["keep".into()];
    fake.add(root);
    let mut child = FakePage::new(101, "ENG", "Child", "<p>child</p>", at(2));
    child.parent = Some(100);
    child.attachments = vec![
        attachment(1, "spec.pdf", "application/pdf", b"%PDF-1.7"),
        attachment(2, "diagram.png", "image/png", b"\x89PNG"),
        attachment(3, "tool.exe", "application/octet-stream", b"MZ"),
    ];
    fake.add(child);
    let mut grand = FakePage::new(102, "ENG", "Grandchild", "<p>grand</p>", at(3));
    grand.parent = Some(101);
    fake.add(grand);
    fake.add(FakePage::new(103, "ENG", "Other", "<p>other</p>", at(40)));
    let mut blog = FakePage::new(104, "ENG", "Release notes", "<p>blog</p>", at(41));
    blog.kind = "blogpost";
    fake.add(blog);
    fake.add(FakePage::new(200, "OPS", "Runbook", "<p>ops</p>", at(42)));
    fake
}

#[tokio::test]
async fn the_web_forms_page_mode_takes_the_page_alone() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        // As RAGFlow's form stores it: the other mode's field left blank, no
        // `index_recursively` unless the box was ticked.
        let form = fake.config(json!({"index_mode": "page", "page_id": "101", "space": ""}));
        let docs = load(build(form.clone()).as_ref()).await.unwrap();
        assert_eq!(
            titles(&docs),
            set(&["Child", "spec.pdf", "diagram.png"]),
            "cloud={cloud}"
        );
        let mut ticked = form;
        ticked["index_recursively"] = json!(true);
        let docs = load(build(ticked).as_ref()).await.unwrap();
        assert_eq!(
            titles(&docs),
            set(&["Child", "Grandchild", "spec.pdf", "diagram.png"])
        );
        // Pages only, as RAGFlow's `type=page`.
        assert!(
            searched(&fake)
                .await
                .iter()
                .all(|cql| cql.contains("and type = page")),
            "{:?}",
            searched(&fake).await
        );
    }
}

#[tokio::test]
async fn a_leftover_field_of_another_mode_is_ignored() {
    let fake = site(true).await;
    let pages = set(&["Root", "Child", "Grandchild", "Other", "Runbook"]);
    let files = ["spec.pdf", "diagram.png"];
    let all: BTreeSet<String> = pages
        .iter()
        .cloned()
        .chain(files.map(String::from))
        .collect();
    // `everything` with a space (even one that is no space key) and a page left over.
    let docs = load(
        build(fake.config(json!({"index_mode": "everything", "space": "OPS", "page_id": "101"})))
            .as_ref(),
    )
    .await
    .unwrap();
    assert_eq!(titles(&docs), all);
    let c = build(fake.config(json!({"index_mode": "everything", "space": "not a key!"})));
    c.check().await.unwrap();
    // `page` with a space left over.
    let docs = load(
        build(fake.config(json!({"index_mode": "page", "page_id": "103", "space": "OPS"})))
            .as_ref(),
    )
    .await
    .unwrap();
    assert_eq!(titles(&docs), set(&["Other"]));
    // `space` with a page id (even a malformed one) left over.
    let docs = load(
        build(fake.config(json!({"index_mode": "space", "space": "OPS", "page_id": "abc"})))
            .as_ref(),
    )
    .await
    .unwrap();
    assert_eq!(titles(&docs), set(&["Runbook"]));
    // No search named the leftover.
    for cql in searched(&fake).await {
        assert!(!cql.contains("abc") && !cql.contains("not a key"), "{cql}");
    }
    assert!(!searched(&fake).await[0].contains("OPS"));
}

#[tokio::test]
async fn attachments_and_images_are_taken_by_default() {
    let fake = site(true).await;
    let space = json!({"index_mode": "space", "space": "ENG"});
    let docs = load(build(fake.config(space.clone())).as_ref())
        .await
        .unwrap();
    let child = docs.iter().find(|d| d.title == "Child").unwrap();
    let files: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.parent_id.as_deref() == Some(child.id.as_str()))
        .map(|d| d.title.clone())
        .collect();
    assert_eq!(files, set(&["spec.pdf", "diagram.png"]));
    assert_eq!(fake.count("/download/").await, 2);

    let mut without = space;
    without["include_attachments"] = json!(false);
    fake.reset_requests().await;
    let docs = load(build(fake.config(without)).as_ref()).await.unwrap();
    assert!(docs.iter().all(|d| d.parent_id.is_none()));
    assert_eq!(fake.count("/download/").await, 0);
}

#[tokio::test]
async fn allow_images_is_not_read_as_in_ragflow_and_include_images_leaves_images_out() {
    let fake = site(true).await;
    let files = |docs: &[Document]| -> BTreeSet<String> {
        docs.iter()
            .filter(|d| d.parent_id.is_some())
            .map(|d| d.title.clone())
            .collect()
    };
    // Neither of RAGFlow's Confluence connectors reads `allow_images`: images are indexed,
    // and the user is told the field did nothing.
    let cfg = fake.config(json!({"index_mode": "space", "space": "ENG", "allow_images": false}));
    let built = registry()
        .build_with_notes("confluence", cfg.clone())
        .unwrap();
    let notes: Vec<String> = built.ignored.iter().map(ToString::to_string).collect();
    assert_eq!(built.ignored.len(), 1, "{notes:?}");
    assert_eq!(built.ignored[0].path, "allow_images");
    assert!(notes[0].contains("include_images"), "{notes:?}");
    let docs = load(build(cfg).as_ref()).await.unwrap();
    assert_eq!(files(&docs), set(&["spec.pdf", "diagram.png"]));
    // `true` asks for what happens anyway: no note.
    let quiet = fake.config(json!({"index_mode": "space", "space": "ENG", "allow_images": "True"}));
    let built = registry().build_with_notes("confluence", quiet).unwrap();
    assert!(built.ignored.is_empty(), "{:?}", built.ignored);
    // The connector's own option leaves them out.
    let own = fake.config(json!({"index_mode": "space", "space": "ENG", "include_images": false}));
    let docs = load(build(own).as_ref()).await.unwrap();
    assert_eq!(files(&docs), set(&["spec.pdf"]));
}

/// The paths `config` is reported to leave unused, and the notes about them.
fn unused(config: Value) -> (Vec<String>, Vec<String>) {
    let mut config = config;
    config["wiki_base"] = json!("https://acme.atlassian.net/wiki");
    config["credentials"] = json!({"confluence_username": EMAIL, "confluence_access_token": TOKEN});
    let parsed =
        connector_core::config::parse::<connector_confluence::ConfluenceConfig>(config).unwrap();
    (
        parsed.ignored.iter().map(|i| i.path.clone()).collect(),
        parsed.ignored.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn fields_the_mode_leaves_unused_are_reported() {
    // The form's `everything` with the other modes' fields left over, as RAGFlow ignores them.
    let (paths, notes) = unused(json!({
        "index_mode": "everything", "space": "ENG", "page_id": "98345", "index_recursively": true,
    }));
    assert_eq!(
        paths,
        ["space", "page_id", "index_recursively"],
        "{notes:?}"
    );
    assert!(
        notes[0].contains("only index_mode `space` reads it"),
        "{notes:?}"
    );
    assert!(notes[0].contains("the mode is `everything`"), "{notes:?}");
    // `space` with a page left over; `page` with a space left over.
    let (paths, _) = unused(
        json!({"index_mode": "space", "space": "ENG", "page_id": "1", "index_recursively": "true"}),
    );
    assert_eq!(paths, ["page_id", "index_recursively"]);
    let (paths, _) = unused(
        json!({"index_mode": "page", "space": "ENG", "page_id": "1", "index_recursively": true}),
    );
    assert_eq!(paths, ["space"]);
    // What the form sends blank, or a box left unticked, is no leftover.
    let (paths, notes) = unused(
        json!({"index_mode": "everything", "space": "", "page_id": " ", "index_recursively": false}),
    );
    assert!(paths.is_empty(), "{notes:?}");
    // A `cql_query` replaces the mode's selection: its fields are all unused.
    let (paths, notes) = unused(json!({
        "index_mode": "page", "page_id": "1", "index_recursively": true,
        "cql_query": "space = ENG",
    }));
    assert_eq!(paths, ["page_id", "index_recursively"], "{notes:?}");
    assert!(notes[0].contains("`cql_query` replaces"), "{notes:?}");
}

#[tokio::test]
async fn a_config_saved_before_index_mode_keeps_its_scope_and_is_told_ragflow_differs() {
    let fake = site(true).await;
    // Saved before RAGFlow had `index_mode`: the space chose the scope, and still does here,
    // while RAGFlow now reads the config as `everything`. The user is told.
    let cfg = fake.config(json!({"space": "OPS", "page_id": "", "index_recursively": false}));
    let built = registry()
        .build_with_notes("confluence", cfg.clone())
        .unwrap();
    let notes: Vec<String> = built.ignored.iter().map(ToString::to_string).collect();
    assert_eq!(built.ignored.len(), 1, "{notes:?}");
    assert_eq!(built.ignored[0].path, "space");
    assert!(
        notes[0].contains("without `index_mode` as `everything`")
            && notes[0].contains("still selects the space"),
        "{notes:?}"
    );
    let docs = load(build(cfg).as_ref()).await.unwrap();
    assert_eq!(titles(&docs), set(&["Runbook"]));
    // A page id chose the page (a space beside it is a leftover).
    let (paths, notes) = unused(json!({"page_id": "101", "space": "ENG"}));
    assert_eq!(paths, ["page_id", "space"], "{notes:?}");
    assert!(notes[0].contains("still selects the page"), "{notes:?}");
    // Nothing set: everything, as in RAGFlow; nothing to tell.
    assert!(unused(json!({})).0.is_empty());
}

#[tokio::test]
async fn a_batch_size_of_zero_or_less_is_the_default_as_in_ragflow() {
    let fake = site(true).await;
    for given in [json!(0), json!("0"), json!(-1), json!(" -5 ")] {
        let cfg = fake.config(json!({"index_mode": "space", "space": "OPS", "batch_size": given}));
        let parsed =
            connector_core::config::parse::<connector_confluence::ConfluenceConfig>(cfg.clone())
                .unwrap_or_else(|e| panic!("{given}: {e}"));
        assert_eq!(parsed.config.batch_size, None, "{given}");
        assert!(parsed.ignored.is_empty(), "{given}: {:?}", parsed.ignored);
        fake.reset_requests().await;
        let docs = load(build(cfg).as_ref()).await.unwrap();
        assert_eq!(titles(&docs), set(&["Runbook"]));
        let searches = fake.page_searches().await;
        assert_eq!(searches[0]["limit"], "50", "{given}: the default page size");
    }
    // A number that is no number is still refused.
    let err = registry()
        .build("confluence", fake.config(json!({"batch_size": "lots"})))
        .err()
        .unwrap();
    assert_eq!(err.problems()[0].path, "batch_size", "{err}");
}

#[tokio::test]
async fn labels_to_skip_may_be_one_text_of_labels() {
    let fake = site(true).await;
    for given in [
        json!("secret, internal"),
        json!("secret\ninternal\n"),
        json!(["secret", " internal ", ""]),
    ] {
        let cfg =
            fake.config(json!({"index_mode": "space", "space": "ENG", "labels_to_skip": given}));
        fake.reset_requests().await;
        load(build(cfg).as_ref()).await.unwrap();
        let cql = searched(&fake).await.pop().unwrap();
        assert!(
            cql.contains("and label not in (\"secret\", \"internal\")"),
            "{given}: {cql}"
        );
    }
    // An entry that cannot be a label is named by its place in the list.
    let err = registry()
        .build(
            "confluence",
            fake.config(json!({"labels_to_skip": "ok, a\"b"})),
        )
        .err()
        .unwrap();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["labels_to_skip[1]"], "{err}");
}

#[tokio::test]
async fn cql_query_replaces_the_mode_and_keeps_our_clauses() {
    let fake = site(true).await;
    // As in RAGFlow the query replaces the mode's selection: the page id is not read.
    let cfg = fake.config(json!({
        "index_mode": "page", "page_id": "101",
        "cql_query": "space = \"ENG\" and label = \"keep\"",
        "labels_to_skip": ["secret"],
    }));
    let c = build(cfg);
    c.check().await.unwrap();
    let docs = load(c.as_ref()).await.unwrap();
    assert_eq!(titles(&docs), set(&["Root"]));
    assert_eq!(
        c.to_string(),
        format!("confluence:{} cql_query", fake.base())
    );
    let cql = searched(&fake).await.pop().unwrap();
    assert_eq!(
        cql,
        "(space = \"ENG\" and label = \"keep\") and type in (page, blogpost) \
         and label not in (\"secret\") order by created asc"
    );

    // The query decides which content types: here blog posts too.
    let docs = load(build(fake.config(json!({"cql_query": "space = \"ENG\""}))).as_ref())
        .await
        .unwrap();
    assert!(titles(&docs).contains("Release notes"));
}

#[tokio::test]
async fn cql_query_keeps_the_half_open_window() {
    let fake = site(true).await;
    // An `or` in the query must not swallow the window.
    let c = build(fake.config(json!({"cql_query": "space = \"ENG\" or title ~ \"Runbook\""})));
    let window = TimeWindow::new(at(3), at(41)).unwrap();
    let docs: Vec<Document> = c
        .as_poll()
        .unwrap()
        .poll(window, SyncContext::new())
        .map_ok(|b| b.documents)
        .try_concat()
        .await
        .unwrap();
    // Grandchild at 3 is in, Other at 40 is in, the blog post at 41 is out (half-open), and so
    // is the runbook at 42.
    assert_eq!(titles(&docs), set(&["Grandchild", "Other"]));
    let cql = searched(&fake).await.pop().unwrap();
    assert!(
        cql.starts_with(
            "(space = \"ENG\" or title ~ \"Runbook\") and type in (page, blogpost) and lastmodified >= "
        ) && cql.ends_with(" order by created asc"),
        "{cql}"
    );
}

#[tokio::test]
async fn a_cql_query_confluence_refuses_is_named_by_check() {
    let fake = site(true).await;
    let c = build(fake.config(json!({"cql_query": "nosuchfield = 1"})));
    let err = c.check().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Config, Some("cql_query")),
        "{err}"
    );
    assert!(err.to_string().contains("Could not parse cql"), "{err}");
}

#[test]
fn a_cql_query_with_its_own_order_is_refused() {
    let err = registry()
        .build(
            "confluence",
            json!({
                "wiki_base": "https://example.atlassian.net/wiki",
                "cql_query": "space = ENG ORDER BY title",
                "credentials": {"confluence_username": EMAIL, "confluence_access_token": TOKEN},
            }),
        )
        .err()
        .unwrap();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["cql_query"], "{err}");
    assert!(err.to_string().contains("order by"), "{err}");
}

/// The fake is both the site and the gateway (`/ex/confluence/{cloudId}/wiki/...`).
fn scoped(fake: &Fake, extra: Value) -> Value {
    let mut cfg = fake.config(json!({
        "scoped_token": true,
        "api_gateway": fake.server.uri(),
        "index_mode": "space",
        "space": "ENG",
    }));
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
}

#[tokio::test]
async fn a_scoped_token_reads_the_cloud_id_once_and_goes_through_the_gateway() {
    let fake = site(true).await;
    fake.state.lock().unwrap().cloud_id = Some(CLOUD_ID.into());
    let c = build(scoped(&fake, json!({})));
    c.check().await.unwrap();
    let docs = load(c.as_ref()).await.unwrap();
    assert_eq!(
        titles(&docs),
        set(&[
            "Root",
            "Child",
            "Grandchild",
            "Other",
            "spec.pdf",
            "diagram.png"
        ])
    );
    // Ids stay the site's web URLs.
    assert!(docs.iter().all(|d| d.id.starts_with(&fake.base())));

    let requests = fake.requests().await;
    let tenant: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/_edge/tenant_info")
        .collect();
    assert_eq!(tenant.len(), 1, "asked once for the connector's life");
    assert!(
        !tenant[0].headers.contains_key("authorization"),
        "the tenant info is public: no credentials sent"
    );
    let gateway = format!("/ex/confluence/{CLOUD_ID}/wiki/rest/api/");
    for r in requests
        .iter()
        .filter(|r| r.url.path() != "/_edge/tenant_info")
    {
        assert!(r.url.path().starts_with(&gateway), "{}", r.url);
    }
    // Attachments come through the gateway's download endpoint (the fake answered only
    // with the e-mail and token as Basic, so the credentials went along).
    assert_eq!(
        fake.count(&format!("{gateway}content/101/child/attachment/"))
            .await,
        2
    );
}

#[tokio::test]
async fn a_scoped_token_with_cloud_id_asks_nothing_first() {
    let fake = site(true).await;
    let c = build(scoped(&fake, json!({"cloud_id": CLOUD_ID})));
    assert_eq!(load(c.as_ref()).await.unwrap().len(), 6);
    assert_eq!(fake.count("/_edge/tenant_info").await, 0);
}

#[tokio::test]
async fn a_scoped_token_on_a_site_without_tenant_info_names_wiki_base() {
    let fake = site(true).await;
    let c = build(scoped(&fake, json!({})));
    let err = c.check().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::NotFound, Some("wiki_base")),
        "{err}"
    );
    assert!(err.to_string().contains("tenant_info"), "{err}");
    let err = load(c.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(!format!("{err:?} {err}").contains(TOKEN));
}

#[test]
fn a_scoped_token_needs_cloud_and_the_e_mail() {
    let err = registry()
        .build(
            "confluence",
            json!({
                "wiki_base": "https://confluence.example.com",
                "is_cloud": false,
                "scoped_token": true,
                "credentials": {"confluence_access_token": TOKEN},
            }),
        )
        .err()
        .unwrap();
    let paths: BTreeSet<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        BTreeSet::from(["scoped_token", "credentials.confluence_username"]),
        "{err}"
    );
}

/// The `Authorization` header of every request but the tenant info, in order.
async fn auth_headers(fake: &Fake) -> Vec<String> {
    fake.requests()
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn server_with_the_forms_user_name_sends_the_token_as_ragflow_does() {
    let fake = site(false).await;
    // RAGFlow's form asks for the user name on Server too, and RAGFlow sends the token alone.
    let mut cfg = fake.config(json!({"index_mode": "space", "space": "OPS"}));
    cfg["credentials"]["confluence_username"] = json!(SERVER_USER);
    let c = build(cfg);
    c.check().await.unwrap();
    assert_eq!(titles(&load(c.as_ref()).await.unwrap()), set(&["Runbook"]));
    let sent = auth_headers(&fake).await;
    assert!(
        sent.iter().all(|a| *a == format!("Bearer {TOKEN}")),
        "{sent:?}"
    );
    assert_eq!(
        fake.count("/rest/api/space").await,
        3,
        "one probe, check's two"
    );
}

#[tokio::test]
async fn server_with_a_user_name_and_password_falls_back_once() {
    let fake = site(false).await;
    let mut cfg = fake.config(json!({"index_mode": "space", "space": "OPS"}));
    cfg["credentials"] = json!({
        "confluence_username": SERVER_USER,
        "confluence_access_token": PASSWORD,
    });
    let c = build(cfg);
    assert_eq!(titles(&load(c.as_ref()).await.unwrap()), set(&["Runbook"]));
    c.check().await.unwrap();
    let sent = auth_headers(&fake).await;
    assert_eq!(
        sent[0],
        format!("Bearer {PASSWORD}"),
        "tried as a token once"
    );
    assert!(
        sent[1..].iter().all(|a| a.starts_with("Basic ")),
        "then as the password, and only so: {sent:?}"
    );
    // A wrong password still fails fast, naming the token field.
    let mut cfg = fake.config(json!({}));
    cfg["credentials"] = json!({
        "confluence_username": SERVER_USER,
        "confluence_access_token": "wrong-password",
    });
    let err = load(build(cfg).as_ref()).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (
            ErrorKind::Unauthenticated,
            Some("credentials.confluence_access_token")
        ),
        "{err}"
    );
}

/// Confluence's search index lags its writes, so an incremental run starts a while before the
/// previous window's end (core's `Connector::min_overlap`): ten minutes on Cloud, one on
/// Server/Data Center, or RAGFlow's `time_buffer_seconds` (declared here, so no longer
/// reported as ignored; `0` is no overlap).
#[test]
fn time_buffer_seconds_sets_the_overlap_of_incremental_runs() {
    use std::time::Duration;
    let config = |cloud: bool, extra: Value| {
        let mut cfg = json!({
            "wiki_base": "https://acme.atlassian.net/wiki",
            "is_cloud": cloud,
            "credentials": {"confluence_username": EMAIL, "confluence_access_token": TOKEN},
        });
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        cfg
    };
    let overlap = |cfg: Value| registry().build("confluence", cfg).unwrap().min_overlap();
    assert_eq!(overlap(config(true, json!({}))), Duration::from_secs(600));
    assert_eq!(overlap(config(false, json!({}))), Duration::from_secs(60));
    assert_eq!(
        overlap(config(true, json!({"time_buffer_seconds": 86_400}))),
        Duration::from_secs(86_400)
    );
    assert_eq!(
        overlap(config(false, json!({"time_buffer_seconds": 0}))),
        Duration::ZERO
    );
    let built = registry()
        .build_with_notes(
            "confluence",
            config(true, json!({"time_buffer_seconds": 30})),
        )
        .unwrap();
    assert!(built.ignored.is_empty(), "{:?}", built.ignored);
    let schema = registry().schema("confluence").unwrap();
    let said = schema["properties"]["time_buffer_seconds"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("600"), "{said}");
    assert!(
        schema["properties"]["time_buffer_seconds"]
            .get("x-ignored")
            .is_none()
    );
}

#[test]
fn a_typo_is_still_an_unknown_field() {
    let err = registry()
        .build(
            "confluence",
            json!({
                "wiki_base": "https://example.atlassian.net/wiki",
                "index_mode": "page",
                "page_id": "98345",
                "index_recursivly": true,
                "sync_batch_size": 32,
                "credentials": {"confluence_username": EMAIL, "confluence_access_token": TOKEN},
            }),
        )
        .err()
        .unwrap();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["index_recursivly"], "{err}");
    assert!(err.to_string().contains("index_recursively"), "{err}");
}
