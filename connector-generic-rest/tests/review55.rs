//! review55 (of rest59's sub-responses, issue 17): a descendant path's own records are no
//! sub-responses (M1); the worst failed entry of a page is the one reported, a 424 never
//! when another failed (M2); 404/410 excuses an entry only beside one that answered (M3);
//! transient statuses are retried and JSON-RPC's implementation-defined range is not an
//! outage (M4, L1); `error_path` keeps the entry's status and wait (L3, L4); a `$batch` 204
//! with `"body": null` delivers nothing (L5); and the mutations review55 found surviving
//! (L8). Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{msearch, record, run, run_with};
use connector_core::ErrorKind;
use serde_json::json;

/// M1: under `$..data`, the matched list's own records (an API request log's
/// `{id, status, headers, body}`, one of them a 503) are items, not sub-responses.
#[tokio::test]
async fn a_descendant_paths_own_records_are_not_sub_responses() {
    let page = json!({"data": [
        {"id": "req_1", "status": 200, "headers": {"content-type": "text/html"}, "body": "ok"},
        {"id": "req_2", "status": 503, "headers": {}, "body": ""}]});
    let fields = json!({"items_path": "$..data", "content_fields": "body"});
    let (titles, load, check) = run_with(fields, &[page]).await;
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
}

/// M2: Graph answers in any order; a 424 (a request that depended on the throttled one)
/// never hides the 429 and its wait, before or after it; a 503 before a 429 neither; a 424
/// alone is retried as an outage.
#[tokio::test]
async fn the_worst_failed_entry_is_reported() {
    const PATH: &str = "$.responses[*].body.value[*]";
    let dependent = json!({"id": "2", "status": 424, "body": {"error": {
        "code": "FailedDependency", "message": "Failed dependency"}}});
    let throttled = json!({"id": "1", "status": 429, "headers": {"Retry-After": "10"},
        "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}});
    let outage = json!({"id": "3", "status": 503, "headers": {"Retry-After": "2"},
        "body": {"error": {"code": "ServiceUnavailable"}}});
    for entries in [
        [dependent.clone(), throttled.clone()],
        [throttled.clone(), dependent.clone()],
        [outage.clone(), throttled.clone()],
    ] {
        let page = json!({"responses": entries});
        let (titles, load, check) = run(PATH, std::slice::from_ref(&page)).await;
        assert!(titles.is_empty(), "{page}");
        for err in [load.expect("fails"), check.expect("fails")] {
            assert_eq!(err.kind(), ErrorKind::RateLimited, "{page}: {err}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(10)), "{err}");
        }
    }
    let (_, load, _) = run(PATH, &[json!({"responses": [dependent]})]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable(), "{err}");
    // `_msearch`: a 400 listed before a 429.
    let page = json!({"responses": [
        {"error": {"type": "parsing_exception"}, "status": 400},
        {"error": {"type": "es_rejected_execution_exception"}, "status": 429}]});
    let (_, load, _) = run("$.responses[*].hits.hits[*]", &[page]).await;
    assert_eq!(load.expect("fails").kind(), ErrorKind::RateLimited);
}

/// M3: a page whose entries are all 404/410 fails, for `_msearch` with and without
/// `error_path`, Graph and People alike, rather than read as the empty last page (then
/// prune); beside an entry that answered, a gone one passes.
#[tokio::test]
async fn a_page_of_only_gone_entries_fails() {
    let msearch_gone = json!({"took": 2, "responses": [
        {"error": {"root_cause": [{"type": "index_not_found_exception"}],
            "type": "index_not_found_exception", "reason": "no such index [logs-old]"},
            "status": 404}]});
    let graph_gone = json!({"responses": [{"id": "1", "status": 404, "headers": {},
        "body": {"error": {"code": "ResourceNotFound", "message": "no such user"}}}]});
    let people_gone = json!({"responses": [{"requestedResourceName": "people/c3",
        "status": {"code": 5, "message": "Requested entity was not found."}}]});
    for (fields, page) in [
        (
            json!({"items_path": "$.responses[*].hits.hits[*]"}),
            msearch_gone.clone(),
        ),
        (
            json!({"items_path": "$.responses[*].hits.hits[*]",
                "error_path": "$.responses[*]._shards.failures"}),
            msearch_gone,
        ),
        (
            json!({"items_path": "$.responses[*].body.value[*]"}),
            graph_gone,
        ),
        (
            json!({"items_path": "$.responses[*].person.emailAddresses[*]"}),
            people_gone,
        ),
    ] {
        let (_, load, _) = run_with(fields.clone(), &[page]).await;
        let err = load.unwrap_or_else(|| panic!("{fields}: every entry is gone"));
        assert!(err.to_string().contains("404/410"), "{fields}: {err}");
    }
    // Beside a 204 that answered, a gone entry passes.
    let page = json!({"responses": [{"id": "1", "status": 404, "headers": {}},
        {"id": "2", "status": 204, "headers": {}}]});
    let (titles, load, _) = run("$.responses[*].body.value[*]", &[page]).await;
    assert!(titles.is_empty());
    assert!(load.is_none(), "{load:?}");
}

/// M4, L1: transient 4xx statuses are retried outages, and so are gRPC's CANCELLED,
/// ABORTED and DEADLINE_EXCEEDED; a 422 is refused (not retried). JSON-RPC: -32005 (EIP-1474
/// "limit exceeded") throttles, -32001 (not found) is refused, not an outage retried forever.
#[tokio::test]
async fn transient_statuses_are_retried() {
    const PATH: &str = "$.responses[*].hits.hits[*]";
    for (status, kind) in [
        (408, ErrorKind::Unavailable),
        (409, ErrorKind::Unavailable),
        (423, ErrorKind::Unavailable),
        (425, ErrorKind::Unavailable),
        (499, ErrorKind::Unavailable),
        (422, ErrorKind::InvalidData),
    ] {
        let (_, load, _) = run(PATH, &[msearch(status)]).await;
        let err = load.expect("fails");
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.is_retryable(), kind != ErrorKind::InvalidData, "{err}");
    }
    const PEOPLE: &str = "$.responses[*].person.emailAddresses[*]";
    for code in [1, 4, 10] {
        let page = json!({"responses": [
            {"requestedResourceName": "people/c1", "person": {"emailAddresses": [record(1, true)]}},
            {"requestedResourceName": "people/c2", "status": {"code": code, "message": "x"}}]});
        let (_, load, _) = run(PEOPLE, &[page]).await;
        let err = load.expect("fails");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{code}: {err}");
    }
    const RPC: &str = "$[*].result.items[*]";
    for (code, kind) in [
        (-32005, ErrorKind::RateLimited),
        (-32001, ErrorKind::InvalidData),
        (-32000, ErrorKind::InvalidData),
        (-32603, ErrorKind::Unavailable),
    ] {
        let page = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            {"jsonrpc": "2.0", "error": {"code": code, "message": "x"}, "id": 2}]);
        let (_, load, _) = run(RPC, &[page]).await;
        assert_eq!(load.expect("fails").kind(), kind, "{code}");
    }
}

/// L3, L4 (review54 L2): with `error_path` set, the entry's numeric `status` wins over an
/// application `code` on the way up, with the entry's `Retry-After`; a 403 entry is the
/// credentials', as without `error_path`.
#[tokio::test]
async fn error_path_keeps_the_entrys_status() {
    let fields = json!({"items_path": "$.responses[*].body.value[*]",
        "error_path": "$.responses[*].body.error"});
    let ok = json!({"id": "1", "status": 200, "body": {"value": [record(1, true)]}});
    let quota = json!({"responses": [ok.clone(), {"id": "2", "status": 429,
        "headers": {"Retry-After": "30"},
        "body": {"error": {"code": 1003, "message": "quota"}}}]});
    let (_, load, check) = run_with(fields.clone(), &[quota]).await;
    for err in [load.expect("fails"), check.expect("fails")] {
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err}");
    }
    let denied = json!({"responses": [ok, {"id": "3", "status": 403, "headers": {},
        "body": {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}}]});
    let (_, load, _) = run_with(fields, &[denied]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("/responses/1"), "{err}");
}

/// L5: a `$batch` 204 sent with `"body": null`, alone on a page, delivers nothing.
#[tokio::test]
async fn a_no_content_entry_with_a_null_body_delivers_nothing() {
    let page = json!({"responses": [{"id": "4", "status": 204, "body": null}]});
    let (titles, load, check) = run("$.responses[*].body.value[*]", &[page]).await;
    assert!(titles.is_empty());
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
}

/// L8: what review55 found no test pinned. An uptime check's `{"id": 7, "status": 503}`
/// (no `headers`, no `body`) is a record, not a `$batch` entry; `error_path: false` turns
/// the sub-response check off; a run's own `error` beside its (empty) list, at the entry
/// itself, is its data; a job's `{"id", "error": {"code": -32603}}` without `jsonrpc` is
/// no JSON-RPC answer.
#[tokio::test]
async fn what_review55_found_unpinned() {
    let page = json!({"monitors": [{"id": 7, "status": 503},
        {"id": 8, "status": 200, "incidents": [record(1, true)]}]});
    let (titles, load, _) = run("$.monitors[*].incidents[*]", &[page]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");

    let fields = json!({"items_path": "$.responses[*].hits.hits[*]", "error_path": false});
    let (titles, load, _) = run_with(fields, &[msearch(429)]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");

    let first = json!({"runs": [{"id": 1, "artifacts": [record(1, true)]}]});
    let page = json!({"runs": [{"id": 2, "error": "flaky", "artifacts": []}]});
    let (titles, load, _) = run("$.runs[*].artifacts[*]", &[first, page]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");

    let page = json!({"jobs": [{"id": 1, "result": {"items": [record(1, true)]}},
        {"id": 2, "error": {"code": -32603, "message": "worker lost"}}]});
    let (titles, load, _) = run("$.jobs[*].result.items[*]", &[page]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");
}
