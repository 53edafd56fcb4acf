//! The `rest_api` connector against fake APIs: every auth type and pagination kind, RAGFlow's
//! config shapes, and the failure modes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use common::{FakeApi, Style, T0, TOKEN, build, cursor_config, doc_id, load};
use connector_core::sink::MemorySink;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Document, ErrorKind, SyncContext, TimeWindow};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn raw_ids(docs: &[Document]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            d.metadata
                .get("raw")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

fn expect_ids(docs: &[Document], n: usize) {
    let got: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    let want: Vec<String> = (0..n).map(|i| doc_id(&format!("A-{i}"))).collect();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn cursor_pagination_with_bearer_and_document_shape() {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let c = build(cursor_config(&server.uri()));
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none() && fails.is_empty(), "{err:?} {fails:?}");
    expect_ids(&docs, 7);
    let d = &docs[1];
    assert_eq!(d.title, "Article 1");
    let text = d.content.as_text().unwrap();
    assert!(
        text.starts_with("Article 1\n## Part 1\n\nFirst paragraph of 1.\n\nSecond paragraph."),
        "{text:?}"
    );
    // Item 1 carries epoch milliseconds, item 2 epoch seconds.
    assert_eq!(d.updated_at.unwrap().timestamp(), T0 + 60);
    assert_eq!(docs[2].updated_at.unwrap().timestamp(), T0 + 120);
    assert_eq!(d.metadata["author.name"], json!("author1"));
    assert_eq!(d.metadata["tags[*].label"], json!("x, t1"));
    assert_eq!(d.source, "rest_api");
}

#[tokio::test]
async fn api_key_header_and_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(path("/key"))
        .and(header("x-custom-key", TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [{"id": 1, "t": "a"}]})),
        )
        .mount(&server)
        .await;
    // Basic base64("alice:" + TOKEN).
    Mock::given(path("/basic"))
        .and(header(
            "authorization",
            "Basic YWxpY2U6dG9rLTVlY3JldC12YWx1ZQ==",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 2, "t": "b"}])))
        .mount(&server)
        .await;
    Mock::given(path("/open"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 3, "t": "c"}]})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let key = build(
        json!({"url": format!("{uri}/key"), "auth_type": "api_key_header",
        "auth_config": {"header_name": "X-Custom-Key", "api_key_value": TOKEN}, "content_fields": ["t"], "id_field": "id"}),
    );
    let basic = build(json!({"url": format!("{uri}/basic"), "auth_type": "basic",
        "credentials": {"username": "alice", "password": TOKEN}, "content_fields": "t", "id_field": "id"}));
    let open =
        build(json!({"url": format!("{uri}/open"), "content_fields": "t", "id_field": "id"}));
    for (c, raw) in [(key, "1"), (basic, "2"), (open, "3")] {
        c.check().await.unwrap();
        let (docs, _, err) = load(&c).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].id, doc_id(raw));
    }
}

#[tokio::test]
async fn page_offset_link_and_next_url_pagination() {
    let server = MockServer::start().await;
    FakeApi::new(10, Style::Page).mount(&server, "/page").await;
    FakeApi::new(10, Style::Offset)
        .mount(&server, "/offset")
        .await;
    FakeApi::new(8, Style::Link).mount(&server, "/link").await;
    FakeApi::new(8, Style::NextUrl)
        .mount(&server, "/next")
        .await;
    let uri = server.uri();
    let base = |p: &str, kind: &str, pc: Value| {
        json!({"url": format!("{uri}{p}"), "id_field": "id", "content_fields": "title",
               "pagination_type": kind, "pagination_config": pc})
    };
    let cases = [
        (
            base(
                "/page",
                "page",
                json!({"page_size_param": "per_page", "page_size": 4}),
            ),
            10,
        ),
        (
            base(
                "/offset",
                "offset",
                json!({"limit_param": "limit", "limit": 3}),
            ),
            10,
        ),
        (base("/link", "link_header", json!({})), 8),
        (
            base(
                "/next",
                "next_url_path",
                json!({"next_url_path": "links.next"}),
            ),
            8,
        ),
    ];
    for (cfg, n) in cases {
        let (docs, fails, err) = load(&build(cfg.clone())).await;
        assert!(err.is_none() && fails.is_empty(), "{cfg}: {err:?}");
        expect_ids(&docs, n);
    }
}

#[tokio::test]
async fn offset_advances_by_items_received_when_the_server_caps_the_page() {
    let server = MockServer::start().await;
    let api = FakeApi::new(23, Style::Offset).cap(5);
    let hits = api.hits.clone();
    api.mount(&server, "/offset").await;
    let cfg = json!({"url": format!("{}/offset", server.uri()), "id_field": "id", "content_fields": "title",
        "pagination_type": "offset", "pagination_config": {"limit_param": "limit", "limit": 50}});
    let (docs, _, err) = load(&build(cfg)).await;
    assert!(err.is_none());
    expect_ids(&docs, 23);
    // 4 pages of 5 and the last of 3: the response's `total` (23) tells that it is the last,
    // so no empty page is asked for to confirm it.
    assert_eq!(hits.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn post_body_pagination() {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::BodyOffset)
        .mount(&server, "/search")
        .await;
    let cfg = json!({"url": format!("{}/search", server.uri()), "method": "POST", "id_field": "id",
        "content_fields": "title", "items_path": "$.hits.hits", "request_body": {"query": "all"},
        "pagination_type": "offset",
        "pagination_config": {"limit_param": "limit", "limit": 3, "params_in_body": true}});
    let (docs, _, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    expect_ids(&docs, 7);
}

#[tokio::test]
async fn empty_first_page_is_an_empty_listing() {
    let server = MockServer::start().await;
    FakeApi::new(0, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let c = build(cursor_config(&server.uri()));
    c.check().await.unwrap();
    let (docs, fails, err) = load(&c).await;
    assert!(docs.is_empty() && fails.is_empty() && err.is_none());
}

#[tokio::test]
async fn repeated_cursor_is_an_error() {
    let server = MockServer::start().await;
    FakeApi::new(9, Style::StuckCursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let (docs, _, err) = load(&build(cursor_config(&server.uri()))).await;
    let err = err.expect("a repeated cursor must end the stream with an error");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("again"), "{err}");
    // c0 is the start (no cursor sent), then c0 returned by page 1 is new, page 2 returns it again.
    assert_eq!(docs.len(), 6);
}

#[tokio::test]
async fn non_json_body_is_invalid_data_and_a_config_problem_for_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>login page</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let c = build(json!({"url": server.uri(), "content_fields": "t"}));
    let (_, _, err) = load(&c).await;
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("text/html"), "{err}");
    assert_eq!(c.check().await.unwrap_err().kind(), ErrorKind::Config);
}

#[tokio::test]
async fn server_error_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    FakeApi::new(4, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let report = Syncer::new(build(cursor_config(&server.uri())))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!((report.new, report.retries), (4, 1));
    assert_eq!(report.requests, 3);
}

#[tokio::test]
async fn rate_limited_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    FakeApi::new(4, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let report = Syncer::new(build(cursor_config(&server.uri())))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 4);
    assert_eq!(report.rate_limit_wait, std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn unauthorized_is_one_request_naming_the_field() {
    let server = MockServer::start().await;
    let api = FakeApi::new(4, Style::Cursor).bearer();
    let hits = api.hits.clone();
    api.mount(&server, "/v1/articles").await;
    let mut cfg = cursor_config(&server.uri());
    cfg["credentials"]["token"] = json!("wrong-token");
    let c = build(cfg);
    let err = Syncer::new(c.clone())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        err.to_string().contains("credentials.token") && err.to_string().starts_with("rest_api"),
        "{err}"
    );
    assert_eq!(
        c.check().await.unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
}

#[tokio::test]
async fn ragflow_config_shapes_work_unchanged() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/tenants/acme/articles"))
        .and(header("x-api-key", TOKEN))
        .and(header("accept-language", "en"))
        .respond_with(FakeApi::new(5, Style::Page))
        .mount(&server)
        .await;
    // As RAGFlow's UI stores it: strings for lists and key/value maps, auth in auth_config,
    // and a `{tenant}` placeholder filled from the query parameters.
    let cfg = json!({
        "url": format!("{}/api/v2/tenants/{{tenant}}/articles?per_page=2&status=draft", server.uri()),
        "method": "GET",
        "headers": "{\"Accept-Language\": \"en\"}",
        "query_params": "tenant=acme\n# published only\nstatus=published",
        "auth_type": "api_key_header",
        "auth_config": {"header_name": "X-API-Key", "api_key": TOKEN},
        "credentials": {},
        "items_path": "data",
        "id_field": "id",
        "content_fields": "title,body",
        "metadata_fields": "author.name",
        "pagination_type": "page",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "start_page": 1},
        "poll_timestamp_field": "updated_at",
        "field_type_hints": {"updated_at": "date"},
        "field_default_values": {"author.name": "unknown"},
        "content_template": "{title}\n\n{body}",
        "batch_size": 2,
        "max_pages": 1000,
        "request_delay": 0
    });
    let c = build(cfg);
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none() && fails.is_empty(), "{err:?}");
    expect_ids(&docs, 5);
    assert!(
        docs[0]
            .content
            .as_text()
            .unwrap()
            .starts_with("Article 0\n\n## Part 0"),
        "{:?}",
        docs[0].content
    );
    let got = server.received_requests().await.unwrap();
    let q: BTreeMap<String, String> = got[0].url.query_pairs().into_owned().collect();
    assert_eq!(q.get("status").map(String::as_str), Some("published"));
    assert_eq!(q.get("per_page").map(String::as_str), Some("2"));
    assert!(!q.contains_key("tenant"));
}

#[tokio::test]
async fn config_errors_are_listed_by_field() {
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    let semantic = [
        "content_fields",
        "items_path",
        "credentials.token",
        "pagination_config.next_cursor_field",
        "query_params",
    ];
    let err = registry
        .build(
            "rest_api",
            json!({
                "url": "https://x.example/a", "content_fields": "", "items_path": "$.data[",
                "auth_type": "bearer", "pagination_type": "cursor", "query_params": "novalue"
            }),
        )
        .unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in semantic {
        assert!(paths.contains(&want), "{want} missing: {err}");
    }
    // An unknown field no longer hides the problems `validate` finds.
    let err = registry
        .build("rest_api", json!({
            "url": "https://x.example/a", "content_fields": "", "items_path": "$.data[",
            "auth_type": "bearer", "pagination_type": "cursor", "query_params": "novalue", "surprise": 1
        }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in semantic.iter().chain(&["surprise"]) {
        assert!(paths.contains(want), "{want} missing: {err}");
    }
}

#[test]
fn an_unknown_field_and_a_zero_page_size_are_reported_together() {
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    let mut config = cursor_config("http://127.0.0.1:9");
    config["pagination_config"]["page_size"] = json!(0);
    config["bogus"] = json!(1);
    let err = registry.build("rest_api", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let got: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "bogus: unknown field",
            "pagination_config.page_size: must be at least 1"
        ],
        "{err}"
    );
}

#[tokio::test]
async fn poll_filters_the_half_open_window() {
    let server = MockServer::start().await;
    FakeApi::new(10, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let c = build(cursor_config(&server.uri()));
    let start = chrono::DateTime::from_timestamp(T0 + 120, 0).unwrap();
    let end = chrono::DateTime::from_timestamp(T0 + 360, 0).unwrap();
    let mut s = c
        .as_poll()
        .unwrap()
        .poll(TimeWindow::new(start, end).unwrap(), SyncContext::new());
    let mut docs = Vec::new();
    while let Some(p) = s.next().await {
        docs.extend(p.unwrap().documents);
    }
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    assert_eq!(
        ids,
        (2..6)
            .map(|i| doc_id(&format!("A-{i}")))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn missing_id_is_a_failure_and_missing_title_is_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": "a", "body": "<p>one</p><p>two</p>"}, {"body": "no id"}, "not an object", {"id": "c", "title": "C", "body": "x"}
        ]})))
        .mount(&server)
        .await;
    let c = build(json!({"url": server.uri(), "id_field": "id", "content_fields": "title,body"}));
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none());
    assert_eq!(docs.len(), 2);
    assert_eq!(
        docs[0].title, docs[0].id,
        "a missing title is the id, never \"None\""
    );
    assert_eq!(docs[0].content.as_text(), Some("one\n\ntwo"));
    assert_eq!(fails.len(), 2);
    assert!(
        fails[0].to_string().contains("entry 1") && fails[0].message.contains("`id`"),
        "{fails:?}"
    );
    // Without id_field, ids hash the canonical JSON: key order does not matter.
    let server2 = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"[{"b": 1, "a": 2}, {"a": 2, "b": 1}]"#,
            "application/json",
        ))
        .mount(&server2)
        .await;
    let (docs, _, _) = load(&build(json!({"url": server2.uri(), "content_fields": "a"}))).await;
    assert_eq!(docs[0].id, docs[1].id);
    let _ = raw_ids(&docs);
}

#[tokio::test]
async fn checkpoint_resumes_mid_run_and_list_ids_is_complete() {
    let server = MockServer::start().await;
    FakeApi::new(8, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let c = build(cursor_config(&server.uri()));
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(
        cp.initial_checkpoint_json().unwrap(),
        None,
        SyncContext::new(),
    );
    let first = s.next().await.unwrap().unwrap();
    drop(s);
    assert_eq!(first.batch.documents.len(), 3);
    assert_eq!(
        first.checkpoint.state["next"]["at"],
        json!({"kind": "cursor", "cursor": "c3"})
    );
    let mut rest = Vec::new();
    let mut s = cp.load_from_checkpoint_json(first.checkpoint, None, SyncContext::new());
    while let Some(p) = s.next().await {
        rest.extend(p.unwrap().batch.documents);
    }
    assert_eq!(rest.len(), 5);
    assert_eq!(rest[0].id, doc_id("A-3"));
    let mut ids = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn a_cancelled_sync_requests_no_page() {
    let server = MockServer::start().await;
    let api = FakeApi::new(8, Style::Cursor).bearer();
    let hits = api.hits.clone();
    api.mount(&server, "/v1/articles").await;
    let c = build(cursor_config(&server.uri()));
    let cancelled = || {
        let ctx = SyncContext::new();
        ctx.cancellation().cancel();
        ctx
    };
    let mut s = c.as_load().unwrap().load(cancelled());
    let err = s.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(s.next().await.is_none());
    let mut s = c.as_slim().unwrap().list_ids(cancelled());
    let err = s.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn max_pages_bounds_load_and_fails_list_ids() {
    let server = MockServer::start().await;
    FakeApi::new(20, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let mut cfg = cursor_config(&server.uri());
    cfg["max_pages"] = json!(2);
    let c = build(cfg);
    let (docs, _, err) = load(&c).await;
    assert!(err.is_none());
    assert_eq!(docs.len(), 6);
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    let mut last = None;
    while let Some(p) = s.next().await {
        last = Some(p);
    }
    assert!(last.unwrap().is_err(), "a partial id listing must fail");
}

#[test]
fn secrets_stay_out_of_debug_and_display() {
    let c = build(
        json!({"url": "https://x.example/a?api_key=QS", "headers": {"Authorization": "Token hdr-secret"},
        "auth_type": "bearer", "credentials": {"token": TOKEN}, "content_fields": "t"}),
    );
    let shown = format!("{c} {c:?}");
    for s in [TOKEN, "hdr-secret", "QS"] {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
}
