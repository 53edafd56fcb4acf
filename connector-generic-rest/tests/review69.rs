//! review69's findings in the sub-responses: a gone entry a page passes beside is warned of
//! and reported by Test Connection (M1); Infura's wait read where its real answers put it
//! (L1); a JSON-RPC throttle under `error_path: $.error` (L3); a streamed answer's trailing
//! 404 (L4); and what no test pinned (L5). Each walk is served page by page; any other request
//! is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::{Duration, SystemTime};

use common::{build, cursor_fields, items_config, record, run_with};
use connector_core::testkit::LogCapture;
use connector_core::{Error, ErrorKind};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// review69 M1: review69's case 1, an `_msearch` whose second search names a missing index
/// (a typo, or an index rolled off), and the same as a Graph `$batch` with a deleted user:
/// a load passes with the other entry's records and logs a warning naming the gone entry, and
/// Test Connection fails naming it, with `error_path` set (the README's advice) or not.
#[tokio::test]
async fn a_gone_entry_beside_an_answer_is_warned_of_and_fails_test_connection() {
    let answered = json!({"took": 3, "hits": {"hits": [record(1, true)]}, "status": 200});
    let missing = json!({"error": {"type": "index_not_found_exception",
        "reason": "no such index [logs-2024.1]"}, "status": 404});
    let msearch = json!({"responses": [answered.clone(), missing.clone()]});
    // `error_path`'s entries, where the items path does not walk them.
    let beside = json!({"data": [record(1, true)], "responses": [answered, missing]});
    let graph = json!({"responses": [
        {"id": "u1", "status": 200, "body": {"value": [record(1, true)]}},
        {"id": "u9", "status": 404, "headers": {},
            "body": {"error": {"code": "Request_ResourceNotFound"}}}]});
    for (fields, page, says) in [
        (
            json!({"items_path": "$.responses[*].hits.hits[*]",
                "error_path": "$.responses[*].error"}),
            &msearch,
            "index_not_found_exception",
        ),
        (
            json!({"items_path": "$.responses[*].hits.hits[*]"}),
            &msearch,
            "index_not_found_exception",
        ),
        (
            json!({"items_path": "$.data[*]", "error_path": "$.responses[*].error"}),
            &beside,
            "index_not_found_exception",
        ),
        (
            json!({"items_path": "$.responses[*].body.value[*]",
                "error_path": "$.responses[*].body.error"}),
            &graph,
            "entry `id` \"u9\"",
        ),
        (
            json!({"items_path": "$.responses[*].body.value[*]"}),
            &graph,
            "entry `id` \"u9\"",
        ),
    ] {
        let (logs, guard) = LogCapture::start();
        let (titles, load, check) = run_with(fields.clone(), std::slice::from_ref(page)).await;
        drop(guard);
        assert_eq!(titles, ["t1"], "{fields} {page}");
        assert!(load.is_none(), "{fields}: {load:?}");
        let check = check.expect("Test Connection reports the gone entry");
        assert_eq!(check.kind(), ErrorKind::Config, "{fields}: {check}");
        // A field, so a host's API does not guess one from the text (review71 M1: Graph's
        // "Request_ResourceNotFound" read as an unknown `source`); these pages are GETs.
        assert_eq!(check.field(), Some("url"), "{fields}: {check}");
        let text = check.to_string();
        for part in ["`/responses/1`", "status 404", says, "check the request"] {
            assert!(text.contains(part), "{fields}: {part} in {text}");
        }
        let logs = logs.contents();
        let warned: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("404/410 (gone)"))
            .collect();
        // Once for the load's one page (Test Connection reports it instead).
        assert_eq!(warned.len(), 1, "{fields}: {logs}");
        assert!(
            warned[0].contains("`/responses/1`") && warned[0].contains(says),
            "{fields}: {logs}"
        );
    }
    // A page without a gone entry: no warning, and Test Connection passes.
    let (logs, guard) = LogCapture::start();
    let page = json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200}]});
    let fields = json!({"items_path": "$.responses[*].hits.hits[*]",
        "error_path": "$.responses[*].error"});
    let (titles, load, check) = run_with(fields, &[page]).await;
    drop(guard);
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
    assert!(!logs.contents().contains("404/410"), "{}", logs.contents());
}

/// The error of a load of `body`, served at HTTP 200 with `Retry-After: retry_after` where
/// given, under `fields`.
async fn load_error(fields: Value, body: &Value, retry_after: Option<&str>) -> Error {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(200).set_body_json(body);
    if let Some(wait) = retry_after {
        answer = answer.insert_header("Retry-After", wait);
    }
    Mock::given(method("GET"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let fields = cursor_fields(fields);
    let (_, _, err) = common::load(&build(items_config(&server.uri(), &fields))).await;
    err.expect("the page fails")
}

/// Infura's throttle with `data`.
fn infura(data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 3419, "error": {"code": -32005,
        "message": "project ID request rate exceeded", "data": data}})
}

/// review69 L1: Infura's wait is read at `error.data.rate.backoff_seconds` (its real
/// answers), and at `error.data.backoff_seconds` (its docs); a `0` there is no wait, so the
/// answer's own `Retry-After` is read.
#[tokio::test]
async fn infuras_wait_is_read_where_it_sends_it() {
    let path = json!({"items_path": "$.result.transactions[*]"});
    let rate = |secs: f64| {
        infura(json!({"rate": {"allowed_rps": 50, "backoff_seconds": secs,
            "current_rps": 52.3}, "see": "https://infura.io/dashboard"}))
    };
    for (body, header, wait) in [
        (rate(30.0), None, Some(30)),
        (infura(json!({"backoff_seconds": 12.0})), None, Some(12)),
        (rate(0.0), Some("5"), Some(5)),
        (rate(0.0), None, None),
    ] {
        let err = load_error(path.clone(), &body, header).await;
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{body}: {err}");
        assert_eq!(
            err.retry_after(),
            wait.map(Duration::from_secs),
            "{body}: {err}"
        );
    }
}

/// review69 L3: with `error_path: $.error` (the obvious one for a JSON-RPC source), or
/// `$[*].error` over a batch, a JSON-RPC throttle at HTTP 200 (`-32005`, `-32002`, `-32603`,
/// whose codes are no HTTP statuses) fails as it does without `error_path`: rate limited
/// with its wait, or unavailable; not a config error on `error_path`, never retried.
#[tokio::test]
async fn a_json_rpc_throttle_at_error_path_is_one() {
    let limited = infura(json!({"rate": {"backoff_seconds": 30}}));
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "result": {"items": [record(1, true)]}},
        limited.clone()]);
    let whole = json!({"items_path": "$.result.transactions[*]", "error_path": "$.error"});
    let each = json!({"items_path": "$[*].result.items[*]", "error_path": "$[*].error"});
    for (fields, page) in [(&whole, &limited), (&each, &batch)] {
        let err = load_error(fields.clone(), page, None).await;
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{fields}: {err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err}");
        assert_ne!(err.field(), Some("error_path"), "{err}");
    }
    for code in [-32002, -32603] {
        let page = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": "x"}});
        let err = load_error(whole.clone(), &page, None).await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{code}: {err}");
        assert!(err.is_retryable(), "{code}: {err}");
    }
    // Any other JSON-RPC error there is still the config's (the user's own `error_path`).
    let page = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}});
    let err = load_error(whole, &page, None).await;
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert_eq!(err.field(), Some("error_path"), "{err}");
}

/// review69 L4: Google's server-streaming answer cut short by a trailing `{"error": {"code":
/// 404}}` under the README's `$[*].error` is no batch's gone entry (its status is its
/// error's, not its own): the page fails, as before rest67, not passes with the stream cut.
#[tokio::test]
async fn a_streams_trailing_404_is_no_gone_batch_entry() {
    let page = json!([
        {"document": {"id": 1, "title": "t1"}, "readTime": "2026-01-01T00:00:00Z"},
        {"document": {"id": 2, "title": "t2"}},
        {"error": {"code": 404, "status": "NOT_FOUND", "message": "gone mid-stream"}}]);
    let fields = json!({"items_path": "$[*].document", "error_path": "$[*].error"});
    let (_, load, check) = run_with(fields, &[page]).await;
    let load = load.expect("the page fails");
    assert_eq!(load.field(), Some("error_path"), "{load}");
    assert!(load.to_string().contains("gone mid-stream"), "{load}");
    assert!(check.is_some());
}

/// review69 L5: the whole answer's `Retry-After` as an HTTP-date ahead is the time until it;
/// an error object's own `details` (a `RetryInfo` beside its `error`, not in it) is read.
#[tokio::test]
async fn what_review69_found_unpinned() {
    let limited = json!({"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32005, "message": "limit exceeded"}});
    let ahead = chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(60))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let fields = json!({"items_path": "$.result.transactions[*]"});
    let err = load_error(fields, &limited, Some(&ahead)).await;
    let wait = err.retry_after().expect("a wait");
    assert!(
        (Duration::from_secs(50)..=Duration::from_secs(60)).contains(&wait),
        "{ahead}: {wait:?}"
    );
    let listed = json!([{"items": [record(1, true)]},
        {"error": {"message": "quota"}, "status": 429,
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": "40s"}]}]);
    let err = load_error(json!({"items_path": "$[*].items[*]"}), &listed, None).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(40)), "{err}");
}
