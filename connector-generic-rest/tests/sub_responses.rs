//! Issue 17 (rest59): the sub-responses of batch and multi-search answers, each in its
//! vendor's wire format: Elasticsearch `_msearch` read through a descendant name, Microsoft
//! Graph `$batch` entries without a `body`, the statuses other than 429 and 5xx, JSON-RPC 2.0
//! batches and Google People API `people:batchGet`; a record's business state that is no
//! sub-response; a page on which every entry failed under a deeper wildcard (a one-list
//! path's dropped section that lists something: review44.rs's
//! `one_list_paths_tell_when_nothing_was_listed`). Each walk is served page by page; any
//! other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{
    build, cursor_fields, cursor_walk, items_config, load, msearch, record, run, run_with,
    serve_cursor_walk,
};
use connector_core::ErrorKind;
use serde_json::{Value, json};

/// Issue 17.2: a descendant items path (`$..hits.hits[*]`) keeps the sub-response check:
/// a throttled `_msearch` search is `RateLimited`, a 5xx one `Unavailable`, beside hits or
/// on a page where every search failed; a 404 (an index rolled off) is its own.
#[tokio::test]
async fn a_descendant_path_reads_its_sub_responses() {
    const PATH: &str = "$..hits.hits[*]";
    for (page, kind) in [
        (msearch(429), ErrorKind::RateLimited),
        (msearch(503), ErrorKind::Unavailable),
        (
            json!({"responses": [
                {"error": {"type": "es_rejected_execution_exception"}, "status": 429},
                {"error": {"type": "es_rejected_execution_exception"}, "status": 429}]}),
            ErrorKind::RateLimited,
        ),
    ] {
        let (titles, load, check) = run(PATH, &[page]).await;
        assert!(titles.is_empty(), "{titles:?}");
        for err in [
            load.expect("the load fails"),
            check.expect("the check fails"),
        ] {
            assert_eq!(err.kind(), kind, "{err}");
            let text = err.to_string();
            assert!(text.contains("sub-request"), "{text}");
            assert!(text.contains("`/responses/"), "{text}");
        }
    }
    let (titles, load, _) = run(PATH, &[msearch(404)]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");
}

/// Issue 17.3: a job listing's records whose own state is `error` or `ABORTED` beside a run
/// whose logs the filter left out make an empty page, not a failed one: a record's business
/// state is no transport failure. A throttle word is still a failed sub-response's.
#[tokio::test]
async fn a_records_business_state_is_not_a_failure() {
    const PATH: &str = "$.jobs[*].result.logs[?@.public == true]";
    let p1 = json!({"jobs": [{"id": 1, "result": {"logs": [record(1, true)]}}]});
    let p2 = |status: &str| {
        json!({"jobs": [{"id": 2, "result": {"logs": [record(2, false)]}},
            {"id": 3, "result": {"status": status, "error": "exit code 1"}}]})
    };
    for status in ["error", "ERROR", "ABORTED", "internal"] {
        assert_eq!(
            cursor_walk(PATH, &[p1.clone(), p2(status)]).await,
            (vec!["t1".to_owned()], None),
            "{status}"
        );
    }
    let p2 = json!({"jobs": [{"id": 2, "result": {"logs": [record(2, false)]}},
        {"id": 3, "state": "ABORTED", "error": "cancelled by user", "result": {"logs": []}}]});
    assert_eq!(
        cursor_walk(PATH, &[p1.clone(), p2]).await,
        (vec!["t1".to_owned()], None)
    );
    let (titles, err) = cursor_walk(PATH, &[p1, p2_throttled()]).await;
    assert_eq!(titles, ["t1"]);
    assert!(err.expect("a throttle fails").contains("/jobs/1/result"));
}

fn p2_throttled() -> Value {
    json!({"jobs": [{"id": 2, "result": {"logs": [record(2, false)]}},
        {"id": 3, "result": {"status": "RESOURCE_EXHAUSTED", "error": "Too Many Requests"}}]})
}

/// Issue 17.4: Microsoft Graph `$batch` entries without a `body`. A 429 with only `headers`
/// throttles with its `Retry-After` (with and without `error_path`); a 204 delivers nothing,
/// beside items or alone.
#[tokio::test]
async fn graph_batch_entries_without_a_body() {
    const PATH: &str = "$.responses[*].body.value[*]";
    let ok = json!({"id": "1", "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
            "value": [record(1, true)]}});
    let throttled = json!({"responses": [ok.clone(),
        {"id": "2", "status": 429, "headers": {"Retry-After": "7"}}]});
    for fields in [
        json!({"items_path": PATH}),
        json!({"items_path": PATH, "error_path": "$.responses[*].body.error"}),
    ] {
        let (titles, load, check) =
            run_with(fields.clone(), std::slice::from_ref(&throttled)).await;
        assert!(titles.is_empty(), "{fields}: {titles:?}");
        for err in [
            load.expect("the load fails"),
            check.expect("the check fails"),
        ] {
            assert_eq!(err.kind(), ErrorKind::RateLimited, "{fields}: {err}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err}");
            assert!(
                err.to_string().contains("`/responses/1` holds no `body`"),
                "{err}"
            );
        }
    }
    let no_content = json!({"id": "2", "status": 204, "headers": {}});
    let (titles, load, check) = run(PATH, &[json!({"responses": [ok, no_content.clone()]})]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
    let (titles, load, check) = run(PATH, &[json!({"responses": [no_content]})]).await;
    assert!(titles.is_empty());
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
}

/// Issue 17.5: under a deeper wildcard (`$.runs[*].result.steps[*]…`), a page on which every
/// run's result says the source failed (`result.error` with a 5xx beside empty `steps`)
/// fails naming the path, filtered or not; one failed run beside a healthy one is that run's
/// data (and so is a run's own failure, `"error": "exit 1"`, on every run: review60 M1).
#[tokio::test]
async fn a_page_of_failed_entries_is_not_empty() {
    let failed = |id: u64| {
        json!({"id": id, "result": {"error": {"code": 503,
            "message": format!("runner {id} unavailable")}, "steps": []}})
    };
    let healthy = json!({"id": 9, "result": {"error": null, "steps": [{"logs": []}]}});
    let first = json!({"runs": [{"id": 1, "result": {"steps": [{"logs": [record(1, true)]}]}}]});
    for path in [
        "$.runs[*].result.steps[*].logs[?@.public == true]",
        "$.runs[*].result.steps[*].logs[*]",
    ] {
        let page = json!({"runs": [failed(2), failed(3)]});
        let (titles, err) = cursor_walk(path, &[first.clone(), page]).await;
        assert_eq!(titles, ["t1"], "{path}");
        let err = err.unwrap_or_else(|| panic!("{path}: every run failed"));
        assert!(err.contains(path), "{path}: {err}");
        assert!(err.contains("every entry"), "{path}: {err}");
        assert!(
            err.contains("`/runs/0/result/error` is set"),
            "{path}: {err}"
        );
        let page = json!({"runs": [failed(2), healthy.clone()]});
        assert_eq!(
            cursor_walk(path, &[first.clone(), page]).await,
            (vec!["t1".to_owned()], None),
            "{path}"
        );
    }
}

/// Issue 17.6 (review49 L): what each other status of a sub-response means. 401 and 403 are
/// the credentials' (naming the field), 400 a refused sub-request (not retried), 404 and 410
/// gone (the page passes with the others' items).
#[tokio::test]
async fn other_statuses_of_a_sub_response() {
    const PATH: &str = "$.responses[*].hits.hits[*]";
    for (status, kind) in [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (400, ErrorKind::InvalidData),
    ] {
        let (titles, load, _) = run(PATH, &[msearch(status)]).await;
        assert!(titles.is_empty(), "{status}: {titles:?}");
        let err = load.expect("the load fails");
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert!(!err.is_retryable(), "{status}: {err}");
        assert!(
            err.to_string().contains(&format!("status {status}")),
            "{err}"
        );
    }
    // With credentials, a 401 names their field.
    let server = serve_cursor_walk(&[msearch(401)]).await;
    let mut cfg = items_config(&server.uri(), &cursor_fields(json!({"items_path": PATH})));
    cfg["auth_type"] = json!("bearer");
    cfg["credentials"] = json!({"token": "s3cr3t-t0ken"});
    let (_, _, err) = load(&build(cfg)).await;
    let err = err.expect("the load fails");
    assert_eq!(err.field(), Some("credentials.token"), "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    for status in [404, 410] {
        let (titles, load, _) = run(PATH, &[msearch(status)]).await;
        assert_eq!(titles, ["t1"], "{status}");
        assert!(load.is_none(), "{status}: {load:?}");
    }
}

/// Issue 17.6 (review49 L): JSON-RPC 2.0 batch answers (an array of `{"jsonrpc": "2.0",
/// "result" | "error", "id"}`): an internal error fails the page as an outage, invalid
/// params or a server-defined error (-32000: EIP-1474's invalid input) as a refused
/// sub-request (review55 L1).
#[tokio::test]
async fn json_rpc_batch_entries() {
    const PATH: &str = "$[*].result.items[*]";
    let page = |code: i64, message: &str| {
        json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": 2}])
    };
    for (code, message, kind) in [
        (-32603, "Internal error", ErrorKind::Unavailable),
        (-32000, "Invalid input", ErrorKind::InvalidData),
        (-32602, "Invalid params", ErrorKind::InvalidData),
    ] {
        let (titles, load, _) = run(PATH, &[page(code, message)]).await;
        assert!(titles.is_empty(), "{code}: {titles:?}");
        let err = load.expect("the load fails");
        assert_eq!(err.kind(), kind, "{code}: {err}");
        assert!(err.to_string().contains("`/1` holds no `result`"), "{err}");
    }
    let ok = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
        {"jsonrpc": "2.0", "result": {"items": []}, "id": 2}]);
    let (titles, load, _) = run(PATH, &[ok]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");
}

/// Issue 17.6 (review49 L): Google People API `people:batchGet` (`PersonResponse` entries):
/// the deprecated `httpStatusCode`, else the `status` (a `google.rpc.Status`) read as its
/// HTTP status: `RESOURCE_EXHAUSTED` (8) throttles, `NOT_FOUND` (5) is gone.
#[tokio::test]
async fn google_people_batch_entries() {
    const PATH: &str = "$.responses[*].person.emailAddresses[*]";
    let ok = json!({"httpStatusCode": 200, "requestedResourceName": "people/c1",
        "person": {"resourceName": "people/c1", "etag": "%EgUBAi43PRoEAQIFByIMR0xGNHZ",
            "emailAddresses": [record(1, true)]}});
    let failed = |entry: Value| json!({"responses": [ok.clone(), entry]});
    for entry in [
        json!({"httpStatusCode": 429, "requestedResourceName": "people/c2",
            "status": {"code": 8, "message": "Quota exceeded for quota metric 'Read requests'"}}),
        json!({"requestedResourceName": "people/c2",
            "status": {"code": 8, "message": "Quota exceeded"}}),
    ] {
        let (titles, load, _) = run(PATH, &[failed(entry.clone())]).await;
        assert!(titles.is_empty(), "{entry}: {titles:?}");
        let err = load.expect("the load fails");
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{entry}: {err}");
        assert!(
            err.to_string().contains("`/responses/1` holds no `person`"),
            "{err}"
        );
    }
    let gone = json!({"requestedResourceName": "people/c3",
        "status": {"code": 5, "message": "Requested entity was not found."}});
    let (titles, load, _) = run(PATH, &[failed(gone)]).await;
    assert_eq!(titles, ["t1"]);
    assert!(load.is_none(), "{load:?}");
}

/// Issue 17.1: a throttled sub-response ends the attempt (the page is not fetched again in
/// the walk, unlike a whole answer's 429, which the HTTP client retries): the README says
/// so, and the error carries the entry's wait for the sync's retry.
#[tokio::test]
async fn a_throttled_sub_response_ends_the_attempt() {
    let page = json!({"responses": [
        {"id": "1", "status": 200, "body": {"value": [record(1, true)]}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "3"},
            "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}}]});
    let server = serve_cursor_walk(&[page]).await;
    let fields = cursor_fields(json!({"items_path": "$.responses[*].body.value[*]"}));
    let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
    assert!(docs.is_empty());
    let err = err.expect("throttled");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
