//! The Notion connector against the wiremock Notion of `notion_common`: search paging, scope
//! below a root page, nested blocks as Markdown, database rows with their properties, file
//! blocks, polls, 429 `Retry-After`, 401, and a page changed only in a nested block.
#![cfg(feature = "notion")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod notion_common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use connector_core::sink::MemorySink;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, SyncReport, Syncer};
use connector_core::testkit::{load_batch, poll_batch};
use connector_core::{Batch, Connector, Content, Document, ErrorKind, SyncContext, TimeWindow};
use futures::StreamExt;
use notion_common::*;
use serde_json::{Value, json};

fn doc<'a>(batch: &'a Batch, id: &str) -> &'a Document {
    batch
        .documents
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no document {id} among {:?}", ids(batch)))
}

fn ids(batch: &Batch) -> Vec<String> {
    let mut ids: Vec<String> = batch.documents.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids
}

fn text(d: &Document) -> &str {
    d.content.as_text().unwrap()
}

/// The document as JSON with the fake's address replaced, for snapshots.
fn portable(doc: &Document, uri: &str) -> Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "https://files.notion.test");
    serde_json::from_str(&text).unwrap()
}

fn sorted(mut v: Vec<&str>) -> Vec<String> {
    v.sort();
    v.into_iter().map(str::to_owned).collect()
}

async fn sync(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(mode)
        .await
        .expect("the sync runs");
    (sink, report)
}

#[tokio::test]
async fn every_shared_page_is_a_document_over_cursor_pages() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(
        ids(&batch),
        sorted(vec![ROOT, CHILD, ROW, OTHER, DEEP, PDF_BLOCK, IMAGE_BLOCK])
    );
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    // Five pages, two a search page: three searches, each after the first with the cursor.
    assert_eq!(fake.notion.searches.load(Ordering::SeqCst), 3);
    let searches: Vec<Value> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/search")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        searches[0]["filter"],
        json!({"property": "object", "value": "page"})
    );
    assert_eq!(searches[0]["sort"]["timestamp"], "last_edited_time");
    assert_eq!(searches[0].get("start_cursor"), None);
    assert_eq!(searches[1]["start_cursor"], "s-2");
    assert_eq!(searches[2]["start_cursor"], "s-4");
}

#[tokio::test]
async fn blocks_render_as_markdown() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let batch = load_batch(&c).await.unwrap();
    let root = doc(&batch, ROOT);
    insta::assert_json_snapshot!("notion_handbook", portable(root, &uri));
    let t = text(root);
    assert!(t.starts_with("---\ntitle: \"Handbook\"\n"), "{t}");
    assert!(t.contains("# Handbook\n\n## Welcome"), "{t}");
    // Nested list items, the toggle's content and the table's rows were read (has_children).
    assert!(t.contains("- second\n  - nested | pipe"), "{t}");
    assert!(t.contains("hidden detail"), "{t}");
    assert!(t.contains("| Ada | Eng \\| Ops |"), "{t}");
    assert!(t.contains("- [x] ship it"), "{t}");
    assert!(t.contains("```rust"), "{t}");
    assert!(t.contains("> 💡 Heads up"), "{t}");
    assert!(
        t.contains("[Onboarding](https://www.notion.so/a1d8501e1ac143e9a6bdea9fe6c8822b)"),
        "{t}"
    );
    // The inline database as a link; its rows are documents of their own.
    assert!(
        t.contains("[Tasks](https://www.notion.so/d9824bdc84454327be8b5b47500af6ce)\n\n(A database: its rows are documents of their own.)"),
        "{t}"
    );
    assert_eq!(root.title, "Handbook");
    assert_eq!(root.updated_at, Some(time(10)));
    assert_eq!(
        root.link.as_ref().unwrap().as_str(),
        "https://www.notion.so/Handbook-598337872cf94fdf8782e53db20768a5"
    );
}

#[tokio::test]
async fn nested_blocks_at_any_depth_are_read() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    let child = doc(&batch, CHILD);
    // column_list > column > paragraph: three levels below the page.
    assert!(text(child).contains("deep text"), "{}", text(child));
    assert!(
        text(child).contains("[Deep page](https://www.notion.so/e0e0e0e011114222833394444444444"),
        "{}",
        text(child)
    );
}

#[tokio::test]
async fn a_database_row_has_its_properties_as_front_matter() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    let row = doc(&batch, ROW);
    insta::assert_json_snapshot!("notion_row", portable(row, &fake.uri()));
    insta::assert_json_snapshot!(
        "notion_pdf_block",
        portable(doc(&batch, PDF_BLOCK), &fake.uri())
    );
    let t = text(row);
    assert!(t.contains("Status: \"Done\"\n"), "{t}");
    assert!(t.contains("Tags: [\"docs\",\"q1\"]\n"), "{t}");
    assert!(t.contains("Points: 3\n"), "{t}");
    assert!(t.contains("Due: \"2025-03-15\"\n"), "{t}");
    assert!(t.contains("row body"), "{t}");
    assert_eq!(row.metadata["database_id"], json!(DATABASE));
    assert_eq!(row.metadata["properties"]["Done"], json!(true));
    assert_eq!(row.parent_id.as_deref(), Some(DATABASE));
}

#[tokio::test]
async fn root_page_reads_what_is_below_it_at_any_depth() {
    let fake = Fake::start(|_| {}).await;
    // The root as in its URL, without dashes.
    let c = build(
        &fake.uri(),
        json!({"root_page_id": "598337872cf94fdf8782e53db20768a5", "include_files": false}),
    );
    let batch = load_batch(&c).await.unwrap();
    // OTHER is outside; DEEP is below a column block of CHILD, ROW below the database.
    assert_eq!(ids(&batch), sorted(vec![ROOT, CHILD, ROW, DEEP]));
}

#[tokio::test]
async fn file_blocks_are_documents_of_their_own() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let batch = load_batch(&c).await.unwrap();
    let pdf = doc(&batch, PDF_BLOCK);
    assert_eq!(pdf.title, "guide.pdf");
    match &pdf.content {
        Content::Bytes { data, mime, .. } => {
            assert_eq!(&data[..], b"%PDF-1.4 guide");
            assert_eq!(mime, "application/pdf");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pdf.parent_id.as_deref(), Some(ROOT));
    assert_eq!(pdf.metadata["caption"], json!("the guide"));
    assert_eq!(pdf.metadata["hosted_by"], json!("notion"));
    // The page links the block, not the URL that expires.
    assert!(!text(doc(&batch, ROOT)).contains("X-Amz-Signature"));
    let image = doc(&batch, IMAGE_BLOCK);
    assert_eq!(image.title, "diagram.png");
    assert_eq!(image.metadata["hosted_by"], json!("external"));
}

#[tokio::test]
async fn a_file_over_max_file_size_is_a_failure() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"max_file_size": 10}));
    let batch = load_batch(&c).await.unwrap();
    let failure = batch
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some(PDF_BLOCK))
        .expect("the PDF fails");
    assert_eq!(failure.kind, ErrorKind::Unsupported);
    assert!(
        failure.message.contains("max_file_size"),
        "{}",
        failure.message
    );
    // The page itself still comes.
    doc(&batch, ROOT);
}

#[tokio::test]
async fn rate_limited_search_waits_for_retry_after() {
    let fake = Fake::start(|st| st.rate_limited = 1).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let started = Instant::now();
    let batch = load_batch(&c).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(batch.documents.len(), 5);
    assert_eq!(fake.notion.searches.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn unauthorized_names_the_token_field() {
    let fake = Fake::start(|_| {}).await;
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let c = registry
        .build(
            "notion",
            json!({
                "credentials": {"notion_integration_token": "ntn_wrong_wrong_wrong"},
                "api_base_url": fake.uri(), "allowed_hosts": ["127.0.0.1"],
            }),
        )
        .unwrap();
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(
        err.to_string()
            .contains("credentials.notion_integration_token"),
        "{err}"
    );
    let mut stream = c.roles().as_load().unwrap().load(SyncContext::new());
    let first = stream.next().await.unwrap();
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Unauthenticated);
    // Once each (the check's and the load's): a 401 is not retried.
    let searches = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/search")
        .count();
    assert_eq!(searches, 2);
}

#[tokio::test]
async fn check_names_a_root_that_is_not_shared() {
    let fake = Fake::start(|_| {}).await;
    let c = build(
        &fake.uri(),
        json!({"root_page_id": "00000000-0000-4000-8000-000000000000"}),
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("root_page_id"), "{err}");
    build(&fake.uri(), json!({"root_page_id": ROOT}))
        .check()
        .await
        .unwrap();
    build(&fake.uri(), json!({})).check().await.unwrap();
}

#[tokio::test]
async fn poll_reads_the_window_newest_first_and_stops_past_it() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    // Edited at 10:20 (CHILD) and 10:30 (ROW); the start inside a minute is widened to it.
    let window = TimeWindow::new(time(20) + chrono::TimeDelta::seconds(30), time(31)).unwrap();
    let batch = poll_batch(&c, window).await.unwrap();
    assert_eq!(ids(&batch), sorted(vec![CHILD, ROW]));
    let bodies: Vec<Value> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/search")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["sort"]["direction"], "descending");
    // DEEP (40), ROW (30) | CHILD (20), ROOT (10): the second page holds an older page, so
    // the third is never asked.
    assert_eq!(bodies.len(), 2);
}

#[tokio::test]
async fn a_change_in_a_nested_block_is_found_by_the_next_poll() {
    let fake = Fake::start(|_| {}).await;
    let c = build(
        &fake.uri(),
        json!({"include_files": false, "root_page_id": ROOT}),
    );
    let store = MemoryStateStore::new();
    let (sink, _) = sync(&c, &store, SyncMode::Full).await;
    assert!(
        sink.documents()
            .iter()
            .any(|d| d.id == CHILD && d.content.as_text().unwrap().contains("deep text"))
    );
    // The paragraph three levels down in CHILD changes; Notion moves the page's
    // last_edited_time with it (and not ROOT's, its parent).
    {
        let mut st = fake.notion.state.lock().unwrap();
        let column = st.children.get_mut(COLUMN).unwrap();
        column[0] = paragraph(DEEP_TEXT_BLOCK, vec![notion_common::text("deeper text")]);
        st.pages.iter_mut().find(|p| p.id == CHILD).unwrap().minute = 50;
    }
    let window = TimeWindow::new(time(45), time(55)).unwrap();
    let batch = poll_batch(&c, window).await.unwrap();
    assert_eq!(ids(&batch), vec![CHILD.to_owned()]);
    assert!(text(doc(&batch, CHILD)).contains("deeper text"));
}

#[tokio::test]
async fn an_unchanged_page_costs_no_block_request() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let store = MemoryStateStore::new();
    let (_, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(first.delivered, 5);
    let before = fake.notion.children_requests.load(Ordering::SeqCst);
    fake.notion
        .state
        .lock()
        .unwrap()
        .pages
        .iter_mut()
        .find(|p| p.id == OTHER)
        .unwrap()
        .minute = 45;
    // A reconciling run lists every page and reads only what moved.
    let (sink, second) = sync(&c, &store, SyncMode::Reconcile).await;
    assert_eq!(second.delivered, 1, "{second:?}");
    assert_eq!(second.unchanged, 4, "{second:?}");
    assert_eq!(sink.ids(), vec![OTHER.to_owned()]);
    // One children list: OTHER's.
    assert_eq!(
        fake.notion.children_requests.load(Ordering::SeqCst) - before,
        1
    );
}

#[tokio::test]
async fn resume_from_the_search_cursor_reads_the_rest() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let roles = c.roles();
    let resumable = roles.as_checkpointed().unwrap();
    let mut from = resumable.initial_checkpoint_json().unwrap();
    from.state = json!({"cursor": "s-2", "started": true});
    let mut got = Vec::new();
    let mut stream = resumable.load_from_checkpoint_json(from, None, SyncContext::new());
    while let Some(page) = stream.next().await {
        got.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    got.sort();
    // Oldest first: OTHER (5), ROOT (10) were the first page.
    assert_eq!(got, sorted(vec![CHILD, ROW, DEEP]));
}

#[tokio::test]
async fn resume_inside_a_search_page_handed_on_in_parts_skips_what_was_handed_on() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let roles = c.roles();
    let resumable = roles.as_checkpointed().unwrap();
    let mut from = resumable.initial_checkpoint_json().unwrap();
    // The first search page (OTHER, ROOT: oldest first) was cut after OTHER.
    from.state = json!({"after": OTHER});
    let mut got = Vec::new();
    let mut stream = resumable.load_from_checkpoint_json(from, None, SyncContext::new());
    while let Some(page) = stream.next().await {
        got.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    got.sort();
    assert_eq!(got, sorted(vec![ROOT, CHILD, ROW, DEEP]));
}

#[tokio::test]
async fn refetch_reads_pages_and_file_blocks_by_id() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"root_page_id": ROOT}));
    let mut stream = c.roles().as_refetch().unwrap().fetch(
        vec![
            CHILD.to_owned(),
            PDF_BLOCK.to_owned(),
            OTHER.to_owned(),
            "nope".to_owned(),
        ],
        SyncContext::new(),
    );
    let mut batch = Batch::default();
    while let Some(b) = stream.next().await {
        batch.append(b.unwrap());
    }
    // OTHER is outside the root: nothing.
    assert_eq!(ids(&batch), sorted(vec![CHILD, PDF_BLOCK]));
    assert_eq!(doc(&batch, PDF_BLOCK).parent_id.as_deref(), Some(ROOT));
}

async fn slim_ids(c: &Arc<dyn Connector>) -> connector_core::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stream = c.roles().as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        out.extend(page?.into_iter().map(|s| s.id));
    }
    out.sort();
    Ok(out)
}

/// A duplicate synced block whose original sits in a page not shared with the integration:
/// Notion answers its children list 404 `object_not_found`.
const SYNCED: &str = "5e5e5e5e-0000-4000-8000-000000000001";

async fn with_unshared_synced_block() -> Fake {
    let fake = Fake::start(|st| {
        st.children.get_mut(ROOT).unwrap().push(block(
            SYNCED,
            "synced_block",
            json!({"synced_from": {"type": "block_id", "block_id": "5e5e5e5e-0000-4000-8000-0000000000ff"}}),
            true,
        ));
    })
    .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(format!("/v1/blocks/{SYNCED}/children")))
        .respond_with(error(
            404,
            "object_not_found",
            "Could not find block with ID: 5e5e5e5e-0000-4000-8000-0000000000ff. Make sure the relevant pages and databases are shared with your integration.",
        ))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    fake
}

#[tokio::test]
async fn an_unreadable_synced_block_is_left_out_and_the_page_still_comes() {
    let fake = with_unshared_synced_block().await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let root = text(doc(&batch, ROOT));
    assert!(
        root.contains("(Synced content not shared with the integration.)"),
        "{root}"
    );
    // The rest of the page is there.
    assert!(root.contains("hidden detail"), "{root}");
    // The prune's listing, which reads every tree for its file ids, goes through.
    assert_eq!(
        slim_ids(&c).await.unwrap(),
        sorted(vec![ROOT, CHILD, ROW, OTHER, DEEP, PDF_BLOCK, IMAGE_BLOCK])
    );
}

/// Answers `verb path` with `answer` ahead of the fixture.
async fn override_route(
    fake: &Fake,
    verb: &str,
    route: String,
    answer: wiremock::ResponseTemplate,
) {
    wiremock::Mock::given(wiremock::matchers::method(verb))
        .and(wiremock::matchers::path(route))
        .respond_with(answer)
        .with_priority(1)
        .mount(&fake.server)
        .await;
}

#[tokio::test]
async fn an_ancestor_notion_refuses_fails_that_page_and_the_run_goes_on() {
    let fake = Fake::start(|_| {}).await;
    // DEEP sits in COLUMN: placing it under the root asks for the column block.
    override_route(
        &fake,
        "GET",
        format!("/v1/blocks/{COLUMN}"),
        error(
            403,
            "restricted_resource",
            "API token does not have access to this resource.",
        ),
    )
    .await;
    let c = build(
        &fake.uri(),
        json!({"root_page_id": ROOT, "include_files": false}),
    );
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(ids(&batch), sorted(vec![ROOT, CHILD, ROW]));
    assert_eq!(batch.failures.len(), 1, "{:?}", batch.failures);
    let failure = &batch.failures[0];
    assert_eq!(failure.id.as_deref(), Some(DEEP));
    assert_eq!(failure.kind, ErrorKind::PermissionDenied);
    assert!(failure.message.contains(DEEP), "{}", failure.message);
    assert!(failure.message.contains(COLUMN), "{}", failure.message);
    // The prune keeps the page whose scope is unknown rather than delete it.
    assert_eq!(
        slim_ids(&c).await.unwrap(),
        sorted(vec![ROOT, CHILD, ROW, DEEP])
    );
}

#[tokio::test]
async fn a_linked_database_whose_source_is_not_shared_says_so_in_its_page() {
    let fake = Fake::start(|_| {}).await;
    // A linked database whose data source sits in a page not shared with the integration.
    let refused = || {
        error(
            404,
            "object_not_found",
            &format!(
                "Could not find data_source with ID: {DATA_SOURCE}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    };
    override_route(
        &fake,
        "POST",
        format!("/v1/data_sources/{DATA_SOURCE}/query"),
        refused(),
    )
    .await;
    let c = build(
        &fake.uri(),
        json!({"root_page_id": ROOT, "include_files": false}),
    );
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(ids(&batch), sorted(vec![ROOT, CHILD, ROW, DEEP]));
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let root = text(doc(&batch, ROOT));
    assert!(
        root.contains("The rows of this database cannot be read"),
        "{root}"
    );
}

#[tokio::test]
async fn rows_are_read_through_the_data_source_and_name_it() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let batch = load_batch(&c).await.unwrap();
    let row = doc(&batch, ROW);
    assert_eq!(row.metadata["database_id"], json!(DATABASE));
    assert_eq!(row.metadata["data_source_id"], json!(DATA_SOURCE));
    assert_eq!(row.parent_id.as_deref(), Some(DATABASE));
    // The page holding the inline database shows no table of its rows, which would go stale:
    // editing a row does not move the page's `last_edited_time`.
    assert!(!text(doc(&batch, ROOT)).contains("Write docs"));
}

#[tokio::test]
async fn a_page_the_search_does_not_list_is_found_by_the_walk() {
    let fake = Fake::start(|st| {
        st.pages
            .iter_mut()
            .find(|p| p.id == DEEP)
            .unwrap()
            .unsearchable = true;
    })
    .await;
    for config in [
        json!({"include_files": false}),
        json!({"include_files": false, "root_page_id": ROOT}),
    ] {
        let c = build(&fake.uri(), config);
        let batch = load_batch(&c).await.unwrap();
        assert!(batch.failures.is_empty(), "{:?}", batch.failures);
        assert!(ids(&batch).contains(&DEEP.to_owned()), "{:?}", ids(&batch));
        assert!(text(doc(&batch, DEEP)).contains("at the bottom"));
        // Read once.
        assert_eq!(batch.documents.iter().filter(|d| d.id == DEEP).count(), 1);
    }
    // The prune's listing walks to it too when it reads the block trees.
    let c = build(&fake.uri(), json!({}));
    assert!(slim_ids(&c).await.unwrap().contains(&DEEP.to_owned()));
}

#[tokio::test]
async fn the_walk_resumes_from_its_stack() {
    let fake = Fake::start(|st| {
        st.pages
            .iter_mut()
            .find(|p| p.id == DEEP)
            .unwrap()
            .unsearchable = true;
    })
    .await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let roles = c.roles();
    let resumable = roles.as_checkpointed().unwrap();
    let mut from = resumable.initial_checkpoint_json().unwrap();
    from.state = json!({"started": true, "pending": [DEEP.replace('-', "")]});
    let mut got = Vec::new();
    let mut stream = resumable.load_from_checkpoint_json(from, None, SyncContext::new());
    let mut last = None;
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        got.extend(page.batch.documents.into_iter().map(|d| d.id));
        last = Some(page.checkpoint);
    }
    assert_eq!(got, vec![DEEP.to_owned()]);
    assert_eq!(last.unwrap().state, json!({"started": true}));
}

#[tokio::test]
async fn a_prune_candidate_notion_still_has_is_kept_and_a_gone_one_deleted() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let store = MemoryStateStore::new();
    let (_, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(first.delivered, 5);
    // The search stops listing DEEP (it lags, or is not exhaustive): DEEP is still there.
    fake.notion
        .state
        .lock()
        .unwrap()
        .pages
        .iter_mut()
        .find(|p| p.id == DEEP)
        .unwrap()
        .unsearchable = true;
    let sink = MemorySink::new();
    let syncer = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().force_prune(true));
    let report = syncer.prune().await.unwrap();
    assert_eq!(report.deleted, 0, "{report:?}");
    // OTHER is deleted (Notion answers 404) and DEEP moved to the trash.
    {
        let mut st = fake.notion.state.lock().unwrap();
        st.pages.retain(|p| p.id != OTHER);
        let deep = st.pages.iter_mut().find(|p| p.id == DEEP).unwrap();
        deep.archived = true;
    }
    let report = syncer.prune().await.unwrap();
    assert_eq!(report.deleted, 2, "{report:?}");
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, sorted(vec![OTHER, DEEP]));
}

#[tokio::test]
async fn a_page_newly_shared_with_an_old_edit_time_is_found_by_the_next_poll() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let store = MemoryStateStore::new();
    let (_, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(first.delivered, 5);
    // Shared with the integration after that run; last edited long before it.
    let shared = "5a5a5a5a-0000-4000-8000-000000000001";
    {
        let mut st = fake.notion.state.lock().unwrap();
        st.pages
            .push(PageFx::new(shared, "Shared later", ("workspace", ""), 1));
        st.children.insert(
            shared.to_owned(),
            vec![paragraph(
                "5a5a5a5a-0000-4000-8000-000000000002",
                vec![notion_common::text("newly shared")],
            )],
        );
    }
    let before = fake.notion.children_requests.load(Ordering::SeqCst);
    let (sink, report) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().into_iter().map(|d| d.id).collect();
    assert_eq!(got, vec![shared.to_owned()], "{report:?}");
    // The pages it already had cost no block request.
    assert_eq!(
        fake.notion.children_requests.load(Ordering::SeqCst) - before,
        1
    );
}

#[tokio::test]
async fn an_edit_the_search_index_showed_late_is_read_by_the_next_incremental_run() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    assert_eq!(c.min_overlap(), connector_misc::notion::MIN_OVERLAP);
    let store = MemoryStateStore::new();
    let (_, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(first.failed, 0);
    // Edited five minutes before that run ended, but missing from the search index then.
    let late = "1a7e1a7e-0000-4000-8000-000000000001";
    {
        let mut st = fake.notion.state.lock().unwrap();
        let mut page = PageFx::new(late, "Indexed late", ("workspace", ""), 59);
        page.at = Some(chrono::Utc::now() - chrono::TimeDelta::minutes(5));
        st.pages.push(page);
        st.children.insert(
            late.to_owned(),
            vec![paragraph(
                "1a7e1a7e-0000-4000-8000-000000000002",
                vec![notion_common::text("late text")],
            )],
        );
    }
    let (sink, _) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().into_iter().map(|d| d.id).collect();
    assert_eq!(got, vec![late.to_owned()]);
}

#[tokio::test]
async fn check_accepts_a_database_root() {
    let fake = Fake::start(|_| {}).await;
    // What Notion answers when a database id is asked as a page.
    override_route(
        &fake,
        "GET",
        format!("/v1/pages/{DATABASE}"),
        error(
            400,
            "validation_error",
            &format!("Provided ID {DATABASE} is a database, not a page. Use the retrieve database API instead"),
        ),
    )
    .await;
    build(&fake.uri(), json!({"root_page_id": DATABASE}))
        .check()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_block_that_refers_back_into_its_tree_is_opened_once() {
    let toggle = "0b0b0b0b-0000-4000-8000-000000000009";
    let plain = Fake::start(|_| {}).await;
    let cyclic = Fake::start(|st| {
        // The toggle's children list holds the toggle itself (as a synced copy can).
        st.children.get_mut(toggle).unwrap().push(block(
            toggle,
            "toggle",
            json!({"rich_text": [notion_common::text("Details")], "color": "default"}),
            true,
        ));
    })
    .await;
    let config = json!({"include_files": false});
    let plain_batch = load_batch(&build(&plain.uri(), config.clone()))
        .await
        .unwrap();
    let cyclic_batch = load_batch(&build(&cyclic.uri(), config)).await.unwrap();
    assert_eq!(ids(&plain_batch), ids(&cyclic_batch));
    assert_eq!(
        plain.notion.children_requests.load(Ordering::SeqCst),
        cyclic.notion.children_requests.load(Ordering::SeqCst)
    );
    assert!(text(doc(&cyclic_batch, ROOT)).contains("hidden detail"));
}

/// A run into a sink kept across runs.
async fn sync_into(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    sink: &MemorySink,
    mode: SyncMode,
) -> connector_core::Result<SyncReport> {
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(mode)
        .await
}

/// Tombstones: a page moved to the trash (the search lists it `in_trash`), a child page
/// trashed (its `child_page` block in the trash, the page itself no longer searchable) and a
/// database row trashed (its data source query shows it `in_trash`) between two runs leave the
/// sink and the store in the incremental run, under their page ids as Notion writes them.
#[tokio::test]
async fn pages_and_rows_trashed_between_runs_leave_the_sink_in_the_incremental_run() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"include_files": false}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |mode| sync_into(&c, &store, &sink, mode);
    let first = run(SyncMode::Full).await.unwrap();
    assert_eq!(first.delivered, 5);
    let edited = Some(chrono::Utc::now() - chrono::TimeDelta::minutes(5));
    {
        let mut st = fake.notion.state.lock().unwrap();
        for page in &mut st.pages {
            if page.id == OTHER {
                page.archived = true;
            }
            if page.id == DEEP || page.id == ROW {
                // Trashed, and gone from the search (as Notion's search leaves the trash out).
                page.archived = true;
                page.unsearchable = true;
            }
            // Trashing a child page or a row is an edit of the page holding it.
            if page.id == CHILD || page.id == ROOT {
                page.at = edited;
            }
        }
        for block in st.children.get_mut(COLUMN).unwrap() {
            if block["id"] == DEEP {
                block["archived"] = json!(true);
                block["in_trash"] = json!(true);
            }
        }
    }
    let report = run(SyncMode::Incremental).await.unwrap();
    assert_eq!(report.deleted, 3, "{report:?}");
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, sorted(vec![DEEP, OTHER, ROW]));
    let mut held = sink.ids();
    held.sort();
    assert_eq!(held, sorted(vec![CHILD, ROOT]));
    let mut known = store.document_ids().await.unwrap();
    known.sort();
    assert_eq!(known, sorted(vec![CHILD, ROOT]));
    // A second incremental run deletes nothing again: the trashed page the search still
    // lists is no longer held.
    let again = run(SyncMode::Incremental).await.unwrap();
    assert_eq!(again.deleted, 0, "{again:?}");
}
