//! review71's and review72's lows in the sub-responses (rest73): a gone entry the path's own
//! filter leaves out is not news (review71 L1); the gone-entry warning comes once a walk, at
//! most three entries a line (L2); Infura's "more than 10000 results" is a request error, not
//! a throttle (L3); a JSON-RPC throttle under `error_path` waits as its answer's
//! `Retry-After` says (L4); Test Connection's gone-entry error names the setting that holds the
//! requests (review72 L1, L4); a 429 or 503 body's wait is read (review69 L2).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{build, cursor_fields, items_config, msearch, record, run_with};
use connector_core::sink::MemorySink;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::LogCapture;
use connector_core::{Error, ErrorKind};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An `_msearch` answer whose second search names a missing index.
fn msearch_gone() -> Value {
    json!({"responses": [
        {"took": 3, "hits": {"hits": [record(1, true)]}, "status": 200},
        {"error": {"type": "index_not_found_exception",
            "reason": "no such index [logs-2024.1]"}, "status": 404}]})
}

/// A Graph `$batch` answer: `u1` answered with `record(1)`, each of `gone` is a 404 (an
/// unlicensed mailbox), its error carrying a request id that differs on every page.
fn graph(gone: &[&str], page: u64) -> Value {
    let mut responses =
        vec![json!({"id": "u1", "status": 200, "body": {"value": [record(1, true)]}})];
    for id in gone {
        responses.push(json!({"id": id, "status": 404, "headers": {},
            "body": {"error": {"code": "MailboxNotEnabledForRESTAPI",
                "innerError": {"request-id": format!("r-{page}")}}}}));
    }
    json!({ "responses": responses })
}

/// The WARN lines of `logs` about gone entries.
fn warned(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|l| l.contains("WARN") && l.contains("404/410 (gone)"))
        .collect()
}

/// review71 L1: an entry the user's filter leaves out (`[?@.status == 200]`) is neither warned
/// of nor reported by Test Connection when it is gone, with `error_path` set or not; a filter
/// that keeps it leaves it reported; a throttled entry the filter leaves out still fails the
/// page (a filter does not hide a throttle).
#[tokio::test]
async fn a_gone_entry_the_filter_leaves_out_is_no_news() {
    let es_error = json!("$.responses[*].error");
    let graph_error = json!("$.responses[*].body.error");
    let es_path = "$.responses[?@.status == 200].hits.hits[*]";
    let graph_path = "$.responses[?@.status == 200].body.value[*]";
    for (path, error_path, page) in [
        (es_path, None, msearch_gone()),
        (es_path, Some(&es_error), msearch_gone()),
        (graph_path, None, graph(&["u9"], 1)),
        (graph_path, Some(&graph_error), graph(&["u9"], 1)),
    ] {
        let mut fields = json!({ "items_path": path });
        if let Some(error_path) = error_path {
            fields["error_path"] = error_path.clone();
        }
        let (logs, guard) = LogCapture::start();
        let (titles, load, check) = run_with(fields.clone(), std::slice::from_ref(&page)).await;
        drop(guard);
        assert_eq!(titles, ["t1"], "{fields}");
        assert!(
            load.is_none() && check.is_none(),
            "{fields}: {load:?} {check:?}"
        );
        let logs = logs.contents();
        assert!(warned(&logs).is_empty(), "{fields}: {logs}");
    }
    // A filter that keeps the gone entry keeps it reported.
    for error_path in [None, Some(&es_error)] {
        let mut fields = json!({"items_path": "$.responses[?@.status != 500].hits.hits[*]"});
        if let Some(error_path) = error_path {
            fields["error_path"] = error_path.clone();
        }
        let (logs, guard) = LogCapture::start();
        let (titles, load, check) = run_with(fields.clone(), &[msearch_gone()]).await;
        drop(guard);
        assert_eq!(titles, ["t1"], "{fields}");
        assert!(load.is_none(), "{fields}: {load:?}");
        let check = check.expect("Test Connection reports the gone entry");
        assert!(check.to_string().contains("`/responses/1`"), "{check}");
        assert_eq!(warned(&logs.contents()).len(), 1, "{}", logs.contents());
    }
    let (_, load, _) = run_with(json!({ "items_path": es_path }), &[msearch(429)]).await;
    let load = load.expect("a throttled entry fails the page");
    assert_eq!(load.kind(), ErrorKind::RateLimited, "{load}");
}

/// review71 L2: a walk whose every page passes beside the same gone entry (a paged batch that
/// re-sends its request; its error's text differs per page) warns of it once; a new one on a
/// later page is warned of; a line names at most three entries and counts the rest, and so
/// does Test Connection's error.
#[tokio::test]
async fn a_gone_entry_is_warned_of_once_a_walk() {
    let fields = json!({"items_path": "$.responses[*].body.value[*]"});
    let pages = [
        graph(&["u9"], 1),
        graph(&["u9"], 2),
        graph(&["u9", "u8"], 3),
        graph(&["u9"], 4),
    ];
    let (logs, guard) = LogCapture::start();
    let (titles, load, _) = run_with(fields.clone(), &pages).await;
    drop(guard);
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert!(load.is_none(), "{load:?}");
    let logs = logs.contents();
    let lines = warned(&logs);
    // The load's first page (u9), its third (u8 alone), and Test Connection's own walk none:
    // it reports instead of warning.
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines[0].contains("\"u9\"") && !lines[0].contains("\"u8\""),
        "{logs}"
    );
    assert!(
        lines[1].contains("\"u8\"") && !lines[1].contains("\"u9\""),
        "{logs}"
    );
    // Five gone entries: three named, two counted, in the warning and in Test Connection.
    let five = graph(&["a1", "a2", "a3", "a4", "a5"], 1);
    let (logs, guard) = LogCapture::start();
    let (_, load, check) = run_with(fields, &[five]).await;
    drop(guard);
    assert!(load.is_none(), "{load:?}");
    let logs = logs.contents();
    let lines = warned(&logs);
    assert_eq!(lines.len(), 1, "{logs}");
    let check = check.expect("Test Connection reports them").to_string();
    for text in [lines[0], check.as_str()] {
        assert!(
            text.contains("\"a3\"") && !text.contains("\"a4\""),
            "{text}"
        );
        assert!(text.contains("and 2 more"), "{text}");
        assert_eq!(text.matches("`/responses/1`").count(), 1, "{text}");
    }
}

/// The error of a load of `body`, served at HTTP 200 with `Retry-After: retry_after` where
/// given, under `fields`.
async fn load_error(fields: Value, body: &Value, retry_after: Option<&str>) -> Error {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(200).set_body_json(body);
    if let Some(wait) = retry_after {
        answer = answer.insert_header("Retry-After", wait);
    }
    Mock::given(any()).respond_with(answer).mount(&server).await;
    let fields = cursor_fields(fields);
    let (_, _, err) = common::load(&build(items_config(&server.uri(), &fields))).await;
    err.expect("the page fails")
}

/// A JSON-RPC `-32005` answer with `message` and `data`.
fn limit(message: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 47, "error": {"code": -32005, "message": message,
        "data": data}})
}

/// review71 L3: Infura's `-32005` for a query too wide ("query returned more than 10000
/// results", with `data` `{"from", "limit", "to"}`) is refused, not retried, with
/// `error_path: $.error` or without it; "query timeout exceeded" may pass on a less busy node
/// and is retried as an outage, not a throttle (review75 L2); its rate limit and a bare
/// "limit exceeded" stay throttles.
#[tokio::test]
async fn infuras_too_wide_query_is_no_throttle() {
    let wide = limit(
        "query returned more than 10000 results. Try with this block range [0xBDE5F8, \
         0x102DBCC].",
        json!({"from": "0xBDE5F8", "limit": 10000, "to": "0x102DBCC"}),
    );
    let timeout = json!({"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32005, "message": "query timeout exceeded"}});
    let rate = limit(
        "project ID request rate exceeded",
        json!({"rate": {"allowed_rps": 50, "backoff_seconds": 30, "current_rps": 52.3}}),
    );
    let bare = json!({"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32005, "message": "limit exceeded"}});
    let plain = json!({"items_path": "$.result[*]"});
    let at_error = json!({"items_path": "$.result[*]", "error_path": "$.error"});
    for fields in [&plain, &at_error] {
        let err = load_error(fields.clone(), &wide, None).await;
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{fields}: {err}");
        assert!(!err.is_retryable(), "{fields}: {err}");
        let err = load_error(fields.clone(), &timeout, None).await;
        assert_ne!(err.kind(), ErrorKind::RateLimited, "{fields}: {err}");
        assert!(err.is_retryable(), "{fields}: {err}");
        for page in [&rate, &bare] {
            let err = load_error(fields.clone(), page, None).await;
            assert_eq!(err.kind(), ErrorKind::RateLimited, "{fields} {page}: {err}");
        }
    }
}

/// review71 L4: under `error_path: $.error`, a whole-answer JSON-RPC throttle whose body names
/// no wait (`backoff_seconds: 0`) waits as the answer's `Retry-After` says, as without
/// `error_path`; an HTTP-date there is read as the HTTP client reads one (rest73, I2).
#[tokio::test]
async fn a_throttle_at_error_path_reads_the_answers_retry_after() {
    let zero = limit(
        "project ID request rate exceeded",
        json!({"rate": {"backoff_seconds": 0}}),
    );
    for fields in [
        json!({"items_path": "$.result[*]", "error_path": "$.error"}),
        json!({"items_path": "$.result[*]"}),
    ] {
        let err = load_error(fields.clone(), &zero, Some("5")).await;
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{fields}: {err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(5)), "{fields}");
        // RFC 850, which the HTTP client reads and chrono's RFC 2822 did not.
        let past = "Sunday, 06-Nov-94 08:49:37 GMT";
        let err = load_error(fields.clone(), &zero, Some(past)).await;
        assert_eq!(err.retry_after(), Some(Duration::ZERO), "{fields}: {err}");
    }
}

/// Test Connection's error on a Graph `$batch` with a gone entry, under `fields` (over
/// [`items_config`]).
async fn gone_check(fields: Value) -> Error {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(graph(&["u9"], 1)))
        .mount(&server)
        .await;
    let mut fields = fields;
    fields["items_path"] = json!("$.responses[*].body.value[*]");
    let c = build(items_config(&server.uri(), &fields));
    c.check()
        .await
        .expect_err("Test Connection reports the gone entry")
}

/// review72 L1 and L4: the gone-entry error names the setting that holds the requests: a
/// POST's `request_body`, else its `pagination_config.request_body`; a GET's `query_params`
/// where `url` has no query, else `url` (a GET never sends a `request_body` left over).
#[tokio::test]
async fn the_gone_entry_error_names_where_the_requests_are() {
    let requests = json!({"requests": [{"id": "u1", "method": "GET", "url": "/users/u1/events"},
        {"id": "u9", "method": "GET", "url": "/users/u9/events"}]});
    for (fields, field) in [
        (
            json!({"method": "POST", "request_body": requests.clone()}),
            "request_body",
        ),
        (
            json!({"method": "POST", "pagination_config": {"request_body": requests.clone()}}),
            "pagination_config.request_body",
        ),
        (
            json!({"query_params": {"resourceNames": "people/c9"}}),
            "query_params",
        ),
        (json!({"request_body": requests}), "url"),
        (json!({}), "url"),
    ] {
        let err = gone_check(fields.clone()).await;
        assert_eq!(err.kind(), ErrorKind::Config, "{fields}: {err}");
        assert_eq!(err.field(), Some(field), "{fields}: {err}");
    }
}

/// review69 L2: a throttle sent at HTTP 429 (or 503) with no `Retry-After` waits as its body
/// says where the whole answer is a sub-response that names a wait (Google's unary
/// `RetryInfo`, Infura's `data.rate.backoff_seconds`), through core's retry hint (core's
/// `a_retry_hint_reads_a_429_or_503_body` pins that headers win and other statuses are not
/// read).
#[tokio::test]
async fn a_429_body_says_how_long_to_wait() {
    let google = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
        "message": "Quota exceeded", "details": [{
            "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.4s"}]}});
    let infura = limit(
        "project ID request rate exceeded",
        json!({"rate": {"allowed_rps": 50, "backoff_seconds": 0.3, "current_rps": 52.3}}),
    );
    for (status, body, wait) in [
        (429, google.clone(), Duration::from_millis(400)),
        (503, google, Duration::from_millis(400)),
        (429, infura, Duration::from_millis(300)),
    ] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_json(&body))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"data": [record(1, true)]})),
            )
            .mount(&server)
            .await;
        let fields = json!({"items_path": "$.data[*]"});
        let report = Syncer::new(build(items_config(&server.uri(), &fields)))
            .sink(MemorySink::new())
            .run(SyncMode::Full)
            .await
            .unwrap();
        assert_eq!(report.new, 1, "{status} {body}");
        assert_eq!(report.rate_limit_wait, wait, "{status} {body}");
    }
}
