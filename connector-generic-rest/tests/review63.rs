//! review63's and review66's leftovers in the sub-responses (issue 17): the JSON-RPC codes read
//! as HTTP statuses, pinned (review66 L1); a whole answer's wait (Google's `RetryInfo`,
//! Infura's `backoff_seconds`, the answer's own `Retry-After`); the 424 rule, by id and under
//! `$..` (review63 L2); lists beside the records under `$..` (fix62's sibling case); a gone
//! entry's error at `error_path` (review63's info); and the mutations review63 Q6 found
//! surviving. Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{build, cursor_fields, items_config, record, run, run_with};
use connector_core::{Error, ErrorKind};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// review66 L1: a JSON-RPC error whose code is an HTTP status that says to fix credentials,
/// wait or retry is read as that status, in a batch beside an answered entry and as the whole
/// answer at HTTP 200: 401 the credentials', 403 access refused, 408 and every 5xx an
/// outage, 429 a throttle; each but the credentials' retried.
#[tokio::test]
async fn json_rpc_codes_read_as_http_statuses() {
    let cases = [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (408, ErrorKind::Unavailable),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Unavailable),
        (502, ErrorKind::Unavailable),
        (503, ErrorKind::Unavailable),
        (504, ErrorKind::Unavailable),
        (599, ErrorKind::Unavailable),
    ];
    for (code, kind) in cases {
        let error = json!({"jsonrpc": "2.0", "error": {"code": code, "message": "x"}, "id": 2});
        let batch = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            error.clone()]);
        for (path, page) in [
            ("$[*].result.items[*]", batch),
            ("$.result.items[*]", error),
        ] {
            let (titles, load, _) = run(path, std::slice::from_ref(&page)).await;
            let err = load.unwrap_or_else(|| panic!("{code} {path}: fails, {titles:?}"));
            assert_eq!(err.kind(), kind, "{code} {path}: {err}");
            let retried = !matches!(
                kind,
                ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
            );
            assert_eq!(err.is_retryable(), retried, "{code} {path}: {err}");
            assert!(err.to_string().contains(&format!("status {code}")), "{err}");
        }
    }
}

/// A Google `RetryInfo` detail asking for `delay`.
fn retry_info(delay: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
}

/// Google's throttle, asking for `delay` in its `details`.
fn google_429(delay: &str) -> Value {
    json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE"},
            retry_info(delay)]}})
}

/// The error of a load of `body`, served at HTTP 200 with `Retry-After: retry_after`, under
/// `items_path`.
async fn load_with_retry_after(items_path: &str, body: &Value, retry_after: &str) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Retry-After", retry_after)
                .set_body_json(body),
        )
        .mount(&server)
        .await;
    let fields = cursor_fields(json!({"items_path": items_path}));
    let (_, _, err) = common::load(&build(items_config(&server.uri(), &fields))).await;
    err.expect("the page fails")
}

/// A whole answer's wait: Google's `error.details[]` `google.rpc.RetryInfo` (`"30s"`, with a
/// fraction too), as a whole answer, a list's entry, a People entry's `status` and at
/// `error_path`; Infura's JSON-RPC `error.data.rate.backoff_seconds`; else the answer's own
/// `Retry-After` header (a throttle or outage sent at HTTP 200). The body's word wins over the
/// header's; a wait no `Duration` holds, or a negative one, is none, as an unreadable
/// `Retry-After` is.
#[tokio::test]
async fn a_whole_answer_says_how_long_to_wait() {
    let secs = Duration::from_secs;
    // Infura's real shape (INFURA/infura issue 201), its wait under `data.rate` (review69 L1).
    let infura = json!({"jsonrpc": "2.0", "id": 3419, "error": {"code": -32005,
        "message": "project ID request rate exceeded", "data": {"rate": {"allowed_rps": 50,
            "backoff_seconds": 30, "current_rps": 52.3}, "see": "https://infura.io/dashboard"}}});
    let people = json!({"responses": [
        {"requestedResourceName": "people/c1", "person": {"emailAddresses": [record(1, true)]}},
        {"requestedResourceName": "people/c2", "status": {"code": 8, "message": "Quota",
            "details": [retry_info("45s")]}}]});
    let mut listed = json!([{"items": [record(1, true)]}]);
    listed.as_array_mut().unwrap().push(google_429("20s"));
    for (path, page, wait) in [
        ("$.data[*]", google_429("30s"), Some(secs(30))),
        (
            "$.data[*]",
            google_429("1.5s"),
            Some(Duration::from_millis(1500)),
        ),
        ("$.data[*]", google_429("1e30s"), None),
        ("$.data[*]", google_429("-5s"), None),
        ("$.data[*]", google_429("soon"), None),
        ("$[*].items[*]", listed.clone(), Some(secs(20))),
        (
            "$.responses[*].person.emailAddresses[*]",
            people,
            Some(secs(45)),
        ),
        ("$.result.transactions[*]", infura.clone(), Some(secs(30))),
    ] {
        let (_, load, check) = run(path, std::slice::from_ref(&page)).await;
        for err in [load.expect("fails"), check.expect("fails")] {
            assert_eq!(err.kind(), ErrorKind::RateLimited, "{page}: {err}");
            assert_eq!(err.retry_after(), wait, "{page}: {err}");
        }
    }
    // At `error_path` too (its entry's `RetryInfo`).
    let fields = json!({"items_path": "$[*].items[*]", "error_path": "$[*].error"});
    let (_, load, _) = run_with(fields, &[listed]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(secs(20)), "{err}");

    // The answer's own `Retry-After`, where the body names no wait; the body's wins.
    let limited = json!({"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32005, "message": "limit exceeded"}});
    let outage = json!({"error": {"code": 503, "message": "down", "status": "UNAVAILABLE"}});
    for (path, page, header, kind, wait) in [
        (
            "$.result.transactions[*]",
            &limited,
            "20",
            ErrorKind::RateLimited,
            secs(20),
        ),
        (
            "$.result.transactions[*]",
            &limited,
            "2.5",
            ErrorKind::RateLimited,
            Duration::from_millis(2500),
        ),
        ("$.data[*]", &outage, "7", ErrorKind::Unavailable, secs(7)),
        (
            "$.result.transactions[*]",
            &infura,
            "5",
            ErrorKind::RateLimited,
            secs(30),
        ),
        (
            "$.result.transactions[*]",
            &limited,
            "Thu, 01 Jan 1970 00:00:00 GMT",
            ErrorKind::RateLimited,
            Duration::ZERO,
        ),
    ] {
        let err = load_with_retry_after(path, page, header).await;
        assert_eq!(err.kind(), kind, "{page} {header}: {err}");
        assert_eq!(err.retry_after(), Some(wait), "{page} {header}: {err}");
    }
}

/// review63 L2: a 424 beside a gone entry is refused under a descendant path as under the
/// path's levels, and the message names the gone entry by its id, "beside" it (the answer
/// does not say what a 424 depends on). Beside a gone entry, an outage and a throttle are
/// still what they are (review63 Q6: the rule is the 424's alone).
#[tokio::test]
async fn a_424_beside_a_gone_entry_is_refused_by_id_and_under_search() {
    let gone = json!({"id": "1", "status": 404, "headers": {},
        "body": {"error": {"code": "ResourceNotFound"}}});
    let dependent = json!({"id": "2", "status": 424,
        "body": {"error": {"code": "FailedDependency"}}});
    for path in ["$.responses[*].body.value[*]", "$..value[*]"] {
        let page = json!({"responses": [gone.clone(), dependent.clone()]});
        let (_, load, check) = run(path, &[page]).await;
        let load = load.expect("fails");
        assert_eq!(load.kind(), ErrorKind::InvalidData, "{path}: {load}");
        for err in [load, check.expect("fails")] {
            assert!(!err.is_retryable(), "{path}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("beside gone `/responses/0` (entry `id` \"1\", 404/410)"),
                "{path}: {text}"
            );
            assert!(
                text.contains("status 424, entry `id` \"2\""),
                "{path}: {text}"
            );
            assert!(!text.contains("depends on gone"), "{path}: {text}");
        }
        let outage = json!({"id": "3", "status": 503, "headers": {},
            "body": {"error": {"code": "ServiceUnavailable"}}});
        let (_, load, _) = run(path, &[json!({"responses": [gone.clone(), outage]})]).await;
        let err = load.expect("fails");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{path}: {err}");
        assert!(err.is_retryable(), "{path}: {err}");
        let throttled = json!({"id": "3", "status": 429, "headers": {"Retry-After": "30"}});
        let (_, load, _) = run(path, &[json!({"responses": [gone.clone(), throttled]})]).await;
        let err = load.expect("fails");
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{path}: {err}");
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(30)),
            "{path}: {err}"
        );
    }
}

/// fix62's sibling case (review60 L3): under `$..orders[*]`, a record, or the root, holding
/// its `orders` beside an `attempts` list of request-log records in a sub-response's shape
/// (two or more, one of them failed: a `$batch` entry's, or an error list's `{"error": {…},
/// "status": 504}`) delivers its orders; those records are its data, not sub-responses. A
/// batch's own sub-responses lie on the way to the matches, and are still read (a throttled
/// `_msearch` search beside one that answered; every entry of a batch that failed).
#[tokio::test]
async fn lists_beside_the_matches_under_search_are_records() {
    let order = json!({"id": "o1", "title": "o1"});
    let logged = json!([{"id": "a1", "status": 500, "headers": {}, "body": ""},
        {"id": "a2", "status": 200, "headers": {}, "body": "ok"}]);
    let errors = json!([{"error": {"type": "timeout"}, "status": 504},
        {"error": {"type": "busy"}, "status": 503}]);
    for attempts in [logged, errors] {
        let root = json!({"orders": [order.clone()], "attempts": attempts.clone()});
        let nested = json!({"data": [{"id": "c1", "orders": [order.clone()],
            "attempts": attempts.clone()}]});
        for page in [root, nested] {
            let (titles, load, check) = run("$..orders[*]", std::slice::from_ref(&page)).await;
            assert_eq!(titles, ["o1"], "{page}");
            assert!(
                load.is_none() && check.is_none(),
                "{page}: {load:?} {check:?}"
            );
        }
    }
    let page = common::msearch(429);
    let (titles, load, _) = run("$..hits.hits[*]", &[page]).await;
    assert!(titles.is_empty(), "{titles:?}");
    assert_eq!(load.expect("fails").kind(), ErrorKind::RateLimited);
}

/// review63's info: with the README's `error_path` advice (`$.responses[*].error` for
/// `_msearch`, `$.responses[*].body.error` for `$batch`), a gone entry's error (a rolled-off
/// index, a deleted user) is read as without `error_path`: the page passes beside an entry
/// that delivered, and a page of only gone entries is retried, not refused on `error_path`.
/// Another entry's error there still fails the page.
#[tokio::test]
async fn a_gone_entry_at_error_path_is_read_as_without_it() {
    let msearch_gone = json!({"error": {"type": "index_not_found_exception",
        "reason": "no such index [logs-2024.01]"}, "status": 404});
    let answered = json!({"took": 3, "hits": {"hits": [record(1, true)]}, "status": 200});
    let msearch = json!({"items_path": "$.responses[*].hits.hits[*]",
        "error_path": "$.responses[*].error"});
    let graph_gone = json!({"id": "u9", "status": 404, "headers": {},
        "body": {"error": {"code": "Request_ResourceNotFound"}}});
    let graph = json!({"items_path": "$.responses[*].body.value[*]",
        "error_path": "$.responses[*].body.error"});
    for (fields, page) in [
        (
            &msearch,
            json!({"responses": [answered.clone(), msearch_gone.clone()]}),
        ),
        (
            &graph,
            json!({"responses": [{"id": "u1", "status": 200,
                "body": {"value": [record(1, true)]}}, graph_gone.clone()]}),
        ),
    ] {
        let (titles, load, check) = run_with(fields.clone(), std::slice::from_ref(&page)).await;
        assert_eq!(titles, ["t1"], "{page}");
        assert!(load.is_none(), "{page}: {load:?}");
        // Test Connection names it (review69 M1).
        let check = check.expect("Test Connection reports the gone entry");
        assert!(check.to_string().contains("`/responses/1`"), "{check}");
    }
    for (fields, page, id) in [
        (
            &msearch,
            json!({"responses": [msearch_gone.clone(), msearch_gone.clone()]}),
            "",
        ),
        (
            &graph,
            json!({"responses": [graph_gone.clone(), graph_gone.clone()]}),
            "entry `id` \"u9\"",
        ),
    ] {
        let (_, load, check) = run_with(fields.clone(), std::slice::from_ref(&page)).await;
        for err in [load.expect("fails"), check.expect("fails")] {
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{page}: {err}");
            assert!(err.is_retryable(), "{err}");
            assert_eq!(err.field(), None, "{err}");
            let text = err.to_string();
            assert!(
                text.contains("`/responses/0`") && text.contains("404/410"),
                "{text}"
            );
            assert!(text.contains(id), "{text}");
        }
    }
    // Where the items path does not walk the entries `error_path` reads, the page still fails
    // (an empty `data` beside searches that all named a gone index is no empty page).
    let fields = json!({"items_path": "$.data[*]", "error_path": "$.responses[*].error"});
    let page = json!({"data": [], "responses": [msearch_gone.clone(), msearch_gone.clone()]});
    let (_, load, _) = run_with(fields, &[page]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("404/410"), "{err}");
    let refused = json!({"error": {"type": "parsing_exception"}, "status": 400});
    let page = json!({"responses": [answered, msearch_gone, refused]});
    let (_, load, _) = run_with(msearch, &[page]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("parsing_exception"), "{err}");
}

/// review63 Q6: what no test pinned.
/// - Under `error_path: false`, a whole answer that is a throttle at HTTP 200 is the config's
///   error on `items_path`, as every error check is off.
/// - A relay's whole answer in a batch entry's shape that answered is no failed
///   sub-response: the page fails on `items_path`, not as a refused sub-request.
/// - A run result whose own `status` is a throttle or outage word, or whose `code` is 429,
///   beside an empty list, fails the page (says the source failed, not the run).
/// - The `id` of the entry is named on the `error_path` route, on a page of only gone
///   entries, and for a whole answer.
/// - A resumed run's carried place does not turn a page of only gone entries into the
///   config's error.
#[tokio::test]
async fn what_review63_found_unpinned() {
    let throttle = json!({"jsonrpc": "2.0", "id": "req-42",
        "error": {"code": -32005, "message": "limit exceeded"}});
    let fields = json!({"items_path": "$.result.transactions[*]", "error_path": false});
    let (_, load, _) = run_with(fields, std::slice::from_ref(&throttle)).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert_eq!(err.field(), Some("items_path"), "{err}");
    let (_, load, _) = run("$.result.transactions[*]", &[throttle]).await;
    let text = load.expect("fails").to_string();
    assert!(text.contains("entry `id` \"req-42\""), "{text}");

    let relay = json!({"id": "evt_1", "status": 200, "headers": {"x-upstream": "a"}});
    let (_, load, _) = run("$.body.data[*]", &[relay]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert_eq!(err.field(), Some("items_path"), "{err}");
    assert!(!err.to_string().contains("sub-request"), "{err}");

    let first = json!({"runs": [{"id": 1, "result": {"steps": [{"logs": [record(1, true)]}]}}]});
    for result in [
        json!({"status": "UNAVAILABLE", "error": "backend", "steps": []}),
        json!({"code": 429, "error": "slow down", "steps": []}),
    ] {
        let page = json!({"runs": [{"id": 41, "result": result}]});
        let (titles, load, _) =
            run("$.runs[*].result.steps[*].logs[*]", &[first.clone(), page]).await;
        assert_eq!(titles, ["t1"], "{result}");
        let err = load.unwrap_or_else(|| panic!("{result}: fails"));
        assert!(err.to_string().contains("every entry"), "{result}: {err}");
    }

    let fields = json!({"items_path": "$.responses[*].body.value[*]",
        "error_path": "$.responses[*].body.error"});
    let page = json!({"responses": [{"id": "mbx-7", "status": 503, "headers": {},
        "body": {"error": {"code": "ServiceUnavailable"}}}]});
    let (_, load, _) = run_with(fields, &[page]).await;
    let text = load.expect("fails").to_string();
    assert!(
        text.contains("`error_path`") && text.contains("entry `id` \"mbx-7\""),
        "{text}"
    );
    let gone = json!({"id": "u9", "status": 404, "headers": {},
        "body": {"error": {"code": "Request_ResourceNotFound"}}});
    let page = json!({"responses": [gone.clone(), gone]});
    let (_, load, _) = run("$.responses[*].body.value[*]", &[page]).await;
    let err = load.expect("fails");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("entry `id` \"u9\""), "{err}");

    let path = "$.responses[*].hits.hits[?@.public == true]";
    let gone = json!({"error": {"type": "index_not_found_exception"}, "status": 404});
    let server = common::serve_cursor_walk(&[json!({"responses": [gone.clone(), gone]})]).await;
    let c = build(items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": path})),
    ));
    let from = common::start_with(
        &c,
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0,
            "carried": "[/responses/*/hits/hits", "place_for": path}}),
    );
    let (_, _, err) = common::drain_from(&c, from).await;
    let err = err.expect("fails");
    assert!(
        err.contains("every sub-response the page holds is gone"),
        "{err}"
    );
    assert!(err.contains("kept from before"), "{err}");
}
