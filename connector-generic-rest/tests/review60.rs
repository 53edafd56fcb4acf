//! review60 (of rest59 + fix33's sub-responses, issue 17): a job listing's failed runs beside
//! an empty list are its data, not a failed page (M1); a whole answer that is a JSON-RPC or
//! Google error at HTTP 200 is read as a sub-response's (M2); an error names the failed
//! entry by its `id` (M3); a 424 that depends on a gone entry is refused (L1); `error_path`
//! does not hide a throttle (L2); a list that holds a match is records (L3); JSON-RPC HTTP
//! codes and -32002 (L4); a page of only gone entries is retried, not blamed on
//! `items_path` (L5); and the mutations review60 found surviving (L6). Each walk is served
//! page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{build, cursor_fields, items_config, record, run, run_with, serve_cursor_walk};
use connector_core::ErrorKind;
use serde_json::json;

/// M1: a CI listing's last page whose every run failed (`result.error` beside an empty
/// `steps`) is the runs' data: the walk ends with the earlier pages' logs, filtered path or
/// not, on every run alike. A run whose error says the source throttled or failed (a 429 or
/// 5xx number, a throttle word) still fails the page.
#[tokio::test]
async fn failed_runs_on_the_last_page_are_data() {
    let first = json!({"runs": [{"id": 1, "result": {"steps": [{"logs": [record(1, true)]}]}}]});
    let failed = json!({"runs": [{"id": 41, "result": {"error": "exit code 1", "steps": []}}]});
    for path in [
        "$.runs[*].result.steps[*].logs[*]",
        "$.runs[*].result.steps[*].logs[?@.public == true]",
    ] {
        let (titles, load, check) = run(path, &[first.clone(), failed.clone()]).await;
        assert_eq!(titles, ["t1"], "{path}");
        assert!(
            load.is_none() && check.is_none(),
            "{path}: {load:?} {check:?}"
        );
    }
    for error in [
        json!({"code": 503, "message": "backend down"}),
        json!({"status": "RESOURCE_EXHAUSTED", "message": "quota"}),
    ] {
        let page = json!({"runs": [{"id": 41, "result": {"error": error, "steps": []}}]});
        let path = "$.runs[*].result.steps[*].logs[*]";
        let (titles, load, _) = run(path, &[first.clone(), page]).await;
        assert_eq!(titles, ["t1"], "{error}");
        let err = load.unwrap_or_else(|| panic!("{error}: an outage fails the page"));
        assert!(err.to_string().contains("every entry"), "{err}");
    }
}

/// M2: a whole answer that is a JSON-RPC or Google error at HTTP 200 (as geth answers) is
/// read as a sub-response's: a throttle is `RateLimited`, a server error `Unavailable`,
/// refused credentials the credentials', not a config error on `items_path` never retried;
/// a whole answer in a batch entry's shape that answered is not an empty page.
#[tokio::test]
async fn a_whole_answer_at_200_is_read_as_a_sub_response() {
    for (path, body, kind) in [
        (
            "$.result.transactions[*]",
            json!({"jsonrpc": "2.0", "id": 1,
                "error": {"code": -32005, "message": "limit exceeded"}}),
            ErrorKind::RateLimited,
        ),
        (
            "$.result.transactions[*]",
            json!({"jsonrpc": "2.0", "id": 1,
                "error": {"code": -32603, "message": "Internal error"}}),
            ErrorKind::Unavailable,
        ),
        (
            "$.data[*]",
            json!({"error": {"code": 429, "message": "Quota exceeded",
                "status": "RESOURCE_EXHAUSTED"}}),
            ErrorKind::RateLimited,
        ),
        (
            "$.data[*]",
            json!({"error": {"code": 503, "message": "The service is currently unavailable.",
                "status": "UNAVAILABLE"}}),
            ErrorKind::Unavailable,
        ),
        (
            "$.data[*]",
            json!({"error": {"code": 401, "message": "Request had invalid authentication \
                credentials.", "status": "UNAUTHENTICATED"}}),
            ErrorKind::Unauthenticated,
        ),
    ] {
        let (titles, load, check) = run(path, std::slice::from_ref(&body)).await;
        assert!(titles.is_empty(), "{body}");
        for err in [load.expect("fails"), check.expect("fails")] {
            assert_eq!(err.kind(), kind, "{body}: {err}");
            assert_ne!(err.field(), Some("items_path"), "{err}");
            assert!(err.to_string().contains("rest_api"), "{err}");
        }
    }
    // A relay's whole answer in a batch entry's shape, that answered: not an empty page.
    let relay = json!({"id": "evt_1", "status": 200, "headers": {"x-upstream": "a"}});
    let (titles, load, _) = run("$.body.data[*]", &[relay]).await;
    assert!(titles.is_empty());
    assert!(load.is_some(), "the page fails rather than end the walk");
}

/// M3: Graph and JSON-RPC answer in any order, so the error names the failed entry by its
/// `id` (People by its `requestedResourceName`), beside its position; an `id` holding a
/// secret is redacted.
#[tokio::test]
async fn the_failed_entry_is_named_by_its_id() {
    let ok = json!({"id": "mbx-1", "status": 200, "body": {"value": [record(1, true)]}});
    let denied = json!({"responses": [ok, {"id": "mbx-7", "status": 403, "headers": {},
        "body": {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}}]});
    let (_, load, check) = run("$.responses[*].body.value[*]", &[denied]).await;
    for err in [load.expect("fails"), check.expect("fails")] {
        let text = err.to_string();
        assert!(text.contains("`/responses/1/body`"), "{text}");
        assert!(text.contains("`id` \"mbx-7\""), "{text}");
    }
    let rpc = json!([{"jsonrpc": "2.0", "error": {"code": -32603, "message": "x"}, "id": 7},
        {"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 3}]);
    let (_, load, _) = run("$[*].result.items[*]", &[rpc]).await;
    let text = load.expect("fails").to_string();
    assert!(text.contains("`/0`") && text.contains("`id` 7"), "{text}");
    let people = json!({"responses": [
        {"requestedResourceName": "people/c1", "person": {"emailAddresses": [record(1, true)]}},
        {"requestedResourceName": "people/c2", "status": {"code": 8, "message": "Quota"}}]});
    let (_, load, _) = run("$.responses[*].person.emailAddresses[*]", &[people]).await;
    let text = load.expect("fails").to_string();
    assert!(
        text.contains("`requestedResourceName` \"people/c2\""),
        "{text}"
    );
    // Under a descendant path too, and an `id` that holds the token is not echoed.
    let secret = json!({"responses": [{"id": "s3cr3t-t0ken", "status": 503, "headers": {},
        "body": {"error": {"code": "ServiceUnavailable"}}}]});
    let server = serve_cursor_walk(&[secret]).await;
    let mut cfg = items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": "$..value[*]"})),
    );
    cfg["auth_type"] = json!("bearer");
    cfg["credentials"] = json!({"token": "s3cr3t-t0ken"});
    let (_, _, err) = common::load(&build(cfg)).await;
    let err = err.expect("fails");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(text.contains("`/responses/0`"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

/// L1: a Graph 424 exists only when the request it depends on failed; beside a gone (404)
/// entry, it never heals: refused, not retried, naming the gone entry.
#[tokio::test]
async fn a_dependent_of_a_gone_entry_is_refused() {
    let page = json!({"responses": [
        {"id": "1", "status": 404, "headers": {},
            "body": {"error": {"code": "ResourceNotFound"}}},
        {"id": "2", "status": 424, "body": {"error": {"code": "FailedDependency"}}}]});
    let (_, load, check) = run("$.responses[*].body.value[*]", &[page]).await;
    let load = load.expect("fails");
    assert_eq!(load.kind(), ErrorKind::InvalidData, "{load}");
    for err in [load, check.expect("fails")] {
        assert!(!err.is_retryable(), "{err}");
        let text = err.to_string();
        assert!(text.contains("status 424"), "{text}");
        assert!(text.contains("gone `/responses/0`"), "{text}");
    }
}

/// L2: with `error_path` set (the README's advice), a 503 found there does not hide a
/// headers-only 429 of the same page and its wait.
#[tokio::test]
async fn error_path_does_not_hide_a_throttle() {
    let fields = json!({"items_path": "$.responses[*].body.value[*]",
        "error_path": "$.responses[*].body.error"});
    let page = json!({"responses": [
        {"id": "1", "status": 503, "headers": {},
            "body": {"error": {"code": "ServiceUnavailable"}}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "30"}}]});
    let (_, load, check) = run_with(fields, &[page]).await;
    for err in [load.expect("fails"), check.expect("fails")] {
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err}");
    }
}

/// L3 (input B): under `$..`, the list that holds a match is records: the entries the filter
/// left out (a 503 request-log record) are not sub-responses.
#[tokio::test]
async fn a_list_that_holds_a_match_is_records() {
    let page = json!({"data": [
        {"id": "r1", "status": 200, "headers": {}, "body": "ok"},
        {"id": "r2", "status": 503, "headers": {}, "body": ""}]});
    let fields = json!({"items_path": "$..data[?@.status == 200]", "content_fields": "body"});
    let (titles, load, check) = run_with(fields, &[page]).await;
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
}

/// L4: a JSON-RPC entry's `error.code` that is an HTTP status (QuickNode's and Alchemy's
/// 429) is read as one, and EIP-1474's -32002 ("resource unavailable") is an outage.
#[tokio::test]
async fn json_rpc_http_codes() {
    for (code, kind) in [
        (429, ErrorKind::RateLimited),
        (503, ErrorKind::Unavailable),
        (-32002, ErrorKind::Unavailable),
    ] {
        let page = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            {"jsonrpc": "2.0", "error": {"code": code, "message": "x"}, "id": 2}]);
        let (_, load, _) = run("$[*].result.items[*]", &[page]).await;
        let err = load.expect("fails");
        assert_eq!(err.kind(), kind, "{code}: {err}");
        assert!(err.is_retryable(), "{code}: {err}");
    }
    // review63 M1: an error whose code reads as an answer or a gone entry (Odoo's 100
    // "Session Expired") is a refused request that fails the page, not records dropped.
    // An error object is one whatever its code (review66 M1: Odoo's 200).
    for code in [-32000, 0, 100, 200, 302, 404, 410] {
        let page = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            {"jsonrpc": "2.0", "error": {"code": code, "message": "x"}, "id": 2}]);
        let (titles, load, _) = run("$[*].result.items[*]", &[page]).await;
        let err = load.unwrap_or_else(|| panic!("{code} fails: {titles:?}"));
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{code}: {err}");
        assert!(!err.is_retryable(), "{code}: {err}");
    }
}

/// L5: a page of only gone entries (an alias swap, which the README calls transient) is
/// retried as an outage and not blamed on `items_path`, by the load and by Test Connection.
#[tokio::test]
async fn a_page_of_only_gone_entries_is_retried() {
    let page = json!({"took": 2, "responses": [
        {"error": {"type": "index_not_found_exception", "reason": "no such index [logs]"},
            "status": 404}]});
    let (_, load, check) = run("$.responses[*].hits.hits[*]", &[page]).await;
    for err in [load.expect("fails"), check.expect("fails")] {
        assert!(err.to_string().contains("404/410"), "{err}");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.field(), None, "{err}");
    }
}

/// L6: what review60 found no test pinned.
/// - Under `$..`, a top-level list beside the matches with one record in a batch entry's
///   shape is records; a one-entry page of a throttled `_msearch` is still read.
/// - Two 404s with `error_path` set: a gone entry does not excuse another gone one.
/// - A 424 listed before a 403: the 403 is reported.
/// - Two 429s: the longest wait.
/// - People `UNAVAILABLE` (14), `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7),
///   `UNIMPLEMENTED` (12).
/// - An all-failed JSON-RPC batch under `$..`: the root list is read.
/// - A Graph 200 whose body lacks `value` is not an empty page.
#[tokio::test]
async fn what_review60_found_unpinned() {
    let page = json!({"orders": [{"id": "o1", "title": "o1"}],
        "attempts": [{"id": "a1", "status": 500, "headers": {}, "body": ""}]});
    let (titles, load, _) = run("$..orders[*]", &[page]).await;
    assert_eq!(titles, ["o1"]);
    assert!(load.is_none(), "{load:?}");
    let page = json!({"responses": [
        {"error": {"type": "es_rejected_execution_exception"}, "status": 429}]});
    let (_, load, _) = run("$..hits.hits[*]", &[page]).await;
    assert_eq!(load.expect("fails").kind(), ErrorKind::RateLimited);

    let gone = json!({"error": {"type": "index_not_found_exception"}, "status": 404});
    let fields = json!({"items_path": "$.responses[*].hits.hits[*]",
        "error_path": "$.responses[*]._shards.failures"});
    let (_, load, _) = run_with(fields, &[json!({"responses": [gone.clone(), gone]})]).await;
    let err = load.expect("two gone entries fail");
    assert!(err.to_string().contains("404/410"), "{err}");

    const GRAPH: &str = "$.responses[*].body.value[*]";
    let page = json!({"responses": [
        {"id": "1", "status": 424, "body": {"error": {"code": "FailedDependency"}}},
        {"id": "2", "status": 403, "headers": {}, "body": {"error": {"code": "AccessDenied"}}}]});
    let (_, load, _) = run(GRAPH, &[page]).await;
    assert_eq!(load.expect("fails").kind(), ErrorKind::PermissionDenied);

    let page = json!({"responses": [
        {"id": "1", "status": 429, "headers": {"Retry-After": "5"}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "30"}}]});
    let (_, load, _) = run(GRAPH, &[page]).await;
    let err = load.expect("fails");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err}");

    for (code, kind) in [
        (14, ErrorKind::Unavailable),
        (16, ErrorKind::Unauthenticated),
        (7, ErrorKind::PermissionDenied),
        (12, ErrorKind::Unavailable),
    ] {
        let page = json!({"responses": [
            {"requestedResourceName": "people/c1",
                "person": {"emailAddresses": [record(1, true)]}},
            {"requestedResourceName": "people/c2", "status": {"code": code, "message": "x"}}]});
        let (_, load, _) = run("$.responses[*].person.emailAddresses[*]", &[page]).await;
        assert_eq!(load.expect("fails").kind(), kind, "{code}");
    }

    let page = json!([{"jsonrpc": "2.0", "error": {"code": -32603, "message": "x"}, "id": 1},
        {"jsonrpc": "2.0", "error": {"code": -32603, "message": "x"}, "id": 2}]);
    let (_, load, _) = run("$..result.items[*]", &[page]).await;
    assert_eq!(load.expect("fails").kind(), ErrorKind::Unavailable);

    let page = json!({"responses": [{"id": "1", "status": 200, "headers": {},
        "body": {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users"}}]});
    let (_, load, _) = run(GRAPH, &[page]).await;
    let err = load.expect("a body without `value` fails");
    assert!(err.to_string().contains("has no `value`"), "{err}");
}

/// review63 L1: a whole answer that is an error object with 404/410 at HTTP 200 (an API that
/// always answers 200, a wrong endpoint or id in the config) is the config's error on
/// `items_path`, not "every sub-response gone" retried as an outage.
#[tokio::test]
async fn a_whole_answer_of_404_is_no_gone_batch() {
    for page in [
        json!({"error": "Not Found", "status": 404}),
        json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "no such thing"}}),
    ] {
        let (_, load, check) = run("$.data[*]", std::slice::from_ref(&page)).await;
        for err in [load.expect("fails"), check.expect("fails")] {
            assert_ne!(err.kind(), ErrorKind::Unavailable, "{page}: {err}");
            assert!(!err.is_retryable(), "{page}: {err}");
            assert!(err.to_string().contains("whole answer"), "{page}: {err}");
        }
    }
}
