//! `rest_api` configs as RAGFlow stores them, against fake APIs: they build and select what
//! RAGFlow's connector selects, with RAGFlow's defaults, and an incremental sync without a
//! timestamp field reads everything yet delivers only what changed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use common::{FakeApi, Style, T0, TOKEN, build, cursor_config};
use connector_core::ids::hash128;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, Document, SyncContext, TimeWindow};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The config of a corpus case (`tests/ragflow-corpus/rest_api/<name>.json`), its URL moved to
/// `server` (same path).
fn corpus_config(name: &str, server: &MockServer) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ragflow-corpus/rest_api")
        .join(format!("{name}.json"));
    let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut config = case["config"].clone();
    let url = url::Url::parse(config["url"].as_str().unwrap()).unwrap();
    config["url"] = json!(format!("{}{}", server.uri(), url.path()));
    config
}

async fn load(c: &std::sync::Arc<dyn Connector>) -> Vec<Document> {
    let mut s = c.as_load().expect("load").load(SyncContext::new());
    let mut docs = Vec::new();
    while let Some(page) = s.next().await {
        docs.extend(page.unwrap().documents);
    }
    docs
}

fn doc_id(raw: &str) -> String {
    hash128(&format!("rest_api:{raw}"))
}

#[tokio::test]
async fn the_web_forms_defaults_make_one_plain_get() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/articles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": 1, "title": "One", "body": "First."},
            {"id": 2, "title": "Two", "body": "Second."}
        ]})))
        .mount(&server)
        .await;
    let c = build(corpus_config("form-defaults", &server));
    let docs = load(&c).await;
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].title, "One");
    assert_eq!(docs[0].content.as_text(), Some("One\nFirst."));
    let got = server.received_requests().await.unwrap();
    // No pagination, no auth, no query parameters, no body: what RAGFlow sends.
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].url.query(), None);
    assert!(got[0].headers.get("authorization").is_none());
    assert!(got[0].body.is_empty());
}

#[tokio::test]
async fn the_web_forms_api_key_and_page_config_pages_from_one() {
    let server = MockServer::start().await;
    let mut api = FakeApi::new(5, Style::Page);
    api.auth = Some(("x-api-key", "hd_live_8f3c2a91d7e64b0f9a5c".to_owned()));
    api.mount(&server, "/api/v2/articles").await;
    let c = build(corpus_config("form-api-key-page", &server));
    let docs = load(&c).await;
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let want: Vec<String> = (0..5).map(|i| doc_id(&format!("A-{i}"))).collect();
    assert_eq!(ids, want);
    assert_eq!(docs[0].metadata["author.name"], json!("author0"));
    let got = server.received_requests().await.unwrap();
    let pages: Vec<String> = got
        .iter()
        .map(|r| {
            let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
            let get = |k: &str| q.iter().find(|(qk, _)| qk == k).map(|(_, v)| v.clone());
            assert_eq!(get("per_page").as_deref(), Some("50"));
            assert_eq!(get("status").as_deref(), Some("published"));
            get("page").unwrap_or_default()
        })
        .collect();
    // `start_page` 1 and `page_param` `page` (RAGFlow's defaults); the empty page 2 ends it.
    assert_eq!(pages, ["1", "2"]);
}

#[tokio::test]
async fn a_request_body_stored_as_text_is_sent_as_its_json() {
    let server = MockServer::start().await;
    let hit = |id: &str| json!({"doc": {"id": id, "title": format!("Guide {id}"), "body": "Text.", "updated": "2026-01-02T03:04:05Z"}});
    for (page, hits) in [("1", json!([hit("g1"), hit("g2")])), ("2", json!([]))] {
        Mock::given(method("POST"))
            .and(path("/api/v1/documents/search"))
            .and(query_param("page", page))
            .and(header(
                "authorization",
                "Bearer sk-docs-4b8e0c2f6a1d49e7b3f5c8a2d6e0f4b1",
            ))
            .and(body_json(
                json!({"status": "published", "types": ["guide", "faq"]}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hits": hits})))
            .mount(&server)
            .await;
    }
    let c = build(corpus_config("form-post-request-body", &server));
    let docs = load(&c).await;
    assert_eq!(
        docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        [doc_id("g1"), doc_id("g2")]
    );
    assert_eq!(
        docs[0].updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-01-02T03:04:05+00:00")
    );
}

#[tokio::test]
async fn a_blank_header_name_is_the_default_header() {
    let server = MockServer::start().await;
    Mock::given(header("x-api-key", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "t": "a"}])))
        .mount(&server)
        .await;
    let c = build(json!({
        "url": server.uri(), "auth_type": "api_key_header",
        "auth_config": {"header_name": " "}, "credentials": {"api_key": TOKEN, "token": ""},
        "content_fields": "t", "id_field": "id"
    }));
    assert_eq!(load(&c).await.len(), 1);
}

#[tokio::test]
async fn incremental_without_a_timestamp_reads_everything_and_delivers_only_changes() {
    let server = MockServer::start().await;
    FakeApi::new(5, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let mut cfg = cursor_config(&server.uri());
    // Left blank, as RAGFlow's form sends it with the advanced settings closed.
    cfg["poll_timestamp_field"] = json!("");
    let c = build(cfg);
    assert!(c.capabilities().poll && c.as_poll().is_some());

    // A window selects nothing without a time to compare: a poll reads every item.
    let start = chrono::DateTime::from_timestamp(T0 + 120, 0).unwrap();
    let mut s = c.as_poll().unwrap().poll(
        TimeWindow::new(start, start + chrono::Duration::minutes(2)).unwrap(),
        SyncContext::new(),
    );
    let mut polled = 0;
    while let Some(page) = s.next().await {
        let batch = page.unwrap();
        assert!(batch.documents.iter().all(|d| d.updated_at.is_none()));
        polled += batch.documents.len();
    }
    assert_eq!(polled, 5);

    let state = MemoryStateStore::new();
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 5);

    // The API changes: item 1 edited, item 5 added, the rest as they were.
    server.reset().await;
    let mut api = FakeApi::new(6, Style::Cursor).bearer();
    api.items[1]["body"] = json!("<p>Edited.</p>");
    let hits = api.hits.clone();
    api.mount(&server, "/v1/articles").await;
    let sink = MemorySink::new();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .state(state)
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    // Every page was read, and only the new and the edited item reached the host.
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        (report.new, report.updated, report.unchanged),
        (1, 1, 4),
        "{report:?}"
    );
    let mut want = vec![doc_id("A-1"), doc_id("A-5")];
    want.sort();
    assert_eq!(sink.ids(), want);
    assert_eq!(sink.deliveries().concat().len(), 2);
}

#[tokio::test]
async fn since_sends_the_window_start_without_a_timestamp() {
    let server = MockServer::start().await;
    FakeApi::new(4, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let mut cfg = cursor_config(&server.uri());
    cfg.as_object_mut().unwrap().remove("poll_timestamp_field");
    cfg["since"] = json!({"param": "updated_since", "format": "epoch_seconds"});
    let c = build(cfg);
    let start = chrono::DateTime::from_timestamp(T0, 0).unwrap();
    let mut s = c.as_poll().unwrap().poll(
        TimeWindow::new(start, start + chrono::Duration::hours(1)).unwrap(),
        SyncContext::new(),
    );
    let mut n = 0;
    while let Some(p) = s.next().await {
        n += p.unwrap().documents.len();
    }
    // The server filtered (this fake one does not), so every item it sent is kept.
    assert_eq!(n, 4);
    let got = server.received_requests().await.unwrap();
    assert!(!got.is_empty());
    assert!(got.iter().all(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "updated_since" && v == T0.to_string())
    }));
}
