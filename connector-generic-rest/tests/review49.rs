//! Review49's findings on rest57's merge: a failed sub-response failed the page as
//! `InvalidData` (M1), a string `status` that names a throttle read as a record's state (M2),
//! and the status of an object below a sub-response's entry read as the sub-response's (M3).
//! Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::time::Duration;

use common::{cursor_walk, record, run, run_with};
use connector_core::ErrorKind;
use serde_json::json;

/// review49 M3: the status is the sub-response's entry's, never a record's data below it. An
/// Airtable record whose `fields` hold `status: 500` and an `error` beside no `Attachments`
/// (Airtable leaves empty cells out), and a status page's `health` object, are records'
/// data: the page delivers the others' items.
#[tokio::test]
async fn a_status_in_a_records_data_is_not_the_sub_responses() {
    let page = json!({"records": [
        {"id": "rec1", "createdTime": "2026-01-01T00:00:00.000Z",
            "fields": {"Attachments": [record(1, true)]}},
        {"id": "rec2", "createdTime": "2026-01-01T00:00:00.000Z",
            "fields": {"status": 500, "error": "Checkout timeout", "message": "p95 over 2s"}}]});
    assert_eq!(
        cursor_walk("$.records[*].fields.Attachments[*]", &[page]).await,
        (vec!["t1".to_owned()], None)
    );
    let page = json!({"services": [
        {"name": "api", "health": {"checks": [record(1, true)]}},
        {"name": "db", "health": {"status": 503, "error": "db down"}}]});
    assert_eq!(
        cursor_walk("$.services[*].health.checks[*]", &[page]).await,
        (vec!["t1".to_owned()], None)
    );
    // The Graph `$batch` shape: the status is the entry's, one level above its `body`.
    let page = json!({"responses": [
        {"id": "1", "status": 200, "body": {"value": [record(1, true)]}},
        {"id": "2", "status": 200, "body": {"status": 500, "error": "a record's own"}}]});
    assert_eq!(
        cursor_walk("$.responses[*].body.value[*]", &[page]).await,
        (vec!["t1".to_owned()], None)
    );
}

/// review49 M1: a throttled sub-response fails the page as `RateLimited`, with the wait its
/// entry asks for (Graph `$batch`'s `headers.Retry-After`), and a 5xx one as `Unavailable`;
/// "Test Connection" says the same, not that the config does not fit `items_path`.
#[tokio::test]
async fn a_failed_sub_response_is_a_throttle_or_an_outage() {
    let msearch = |status: u64| {
        json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200},
            {"error": {"type": "es_rejected_execution_exception"}, "status": status}]})
    };
    let batch = json!({"responses": [
        {"id": "1", "status": 200, "body": {"value": [record(1, true)]}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "10"},
            "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}}]});
    let google = json!([{"results": [record(1, true)]},
        {"error": {"code": 503, "message": "The service is currently unavailable",
            "status": "UNAVAILABLE"}}]);
    let cases = [
        (
            "$.responses[*].hits.hits[*]",
            msearch(429),
            ErrorKind::RateLimited,
            None,
        ),
        (
            "$.responses[*].hits.hits[?@.public]",
            msearch(503),
            ErrorKind::Unavailable,
            None,
        ),
        (
            "$.responses[*].body.value[*]",
            batch,
            ErrorKind::RateLimited,
            Some(Duration::from_secs(10)),
        ),
        ("$[*].results[*]", google, ErrorKind::Unavailable, None),
    ];
    for (path, page, kind, wait) in cases {
        let (_, load, check) = run(path, &[page]).await;
        for err in [
            load.expect("the load fails"),
            check.expect("the check fails"),
        ] {
            assert_eq!(err.kind(), kind, "{path}: {err}");
            assert_eq!(err.retry_after(), wait, "{path}: {err}");
            assert!(err.field().is_none(), "{path}: {err}");
            let text = err.to_string();
            assert!(text.contains("sub-request"), "{path}: {text}");
            assert!(!text.contains("error_path"), "{path}: {text}");
        }
    }
}

/// review49 M2: a string `status` that is a number or names a throttle or an outage is not a
/// record's state: the report that says it fails the page (it read as one failed record
/// beside one whose rows the filter dropped, so as the empty last page, then prune). `"404"`
/// is the record's own, as `404` is, and a job's `failed`, `error` or `ABORTED` is still its
/// state.
#[tokio::test]
async fn a_throttle_word_is_not_a_records_state() {
    const PATH: &str = "$.results[*].report.rows[?@.public == true]";
    let p1 = json!({"results": [{"report": {"rows": [record(1, true)]}}]});
    let p2 = |status: &str| {
        json!({"results": [{"report": {"rows": [record(2, false)]}},
            {"report": {"status": status, "error": "Too Many Requests"}}]})
    };
    for status in [
        "429",
        "503",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "throttled",
    ] {
        let (titles, err) = cursor_walk(PATH, &[p1.clone(), p2(status)]).await;
        assert_eq!(titles, ["t1"], "{status}");
        let err = err.unwrap_or_else(|| panic!("{status}: the failed report fails the page"));
        assert!(err.contains("/results/1/report"), "{status}: {err}");
    }
    // A job's `error` or `ABORTED` is its own state too (issue 17).
    for status in ["404", "failed", "cancelled", "error", "ABORTED"] {
        assert_eq!(
            cursor_walk(PATH, &[p1.clone(), p2(status)]).await,
            (vec!["t1".to_owned()], None),
            "{status}"
        );
    }
    // A numeric string on the sub-response's entry is its status, beside items too.
    let page = json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200},
        {"error": {"type": "es_rejected_execution_exception"}, "status": "429"}]});
    let (_, load, _) = run("$.responses[*].hits.hits[*]", &[page]).await;
    assert_eq!(load.expect("throttled").kind(), ErrorKind::RateLimited);
}

/// review53 M1: with `error_path` set where the README tells `_msearch` and `$batch` users
/// to, a throttled or 5xx sub-response is still `RateLimited` (with its entry's
/// `Retry-After`) or `Unavailable`, in a load and in "Test Connection", not `InvalidData` on
/// `error_path`; an error at it with no such status still is.
#[tokio::test]
async fn a_failed_sub_response_at_error_path_is_a_throttle_or_an_outage() {
    let msearch = |status: u64| {
        json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200},
            {"error": {"type": "es_rejected_execution_exception"}, "status": status}]})
    };
    let batch = json!({"responses": [
        {"id": "1", "status": 200, "body": {"value": [record(1, true)]}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "10"},
            "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}}]});
    let google = json!([{"results": [record(1, true)]},
        {"error": {"code": 503, "message": "The service is currently unavailable",
            "status": "UNAVAILABLE"}}]);
    let es = ("$.responses[*].hits.hits[*]", "$.responses[*].error");
    let cases = [
        (es, msearch(429), Some(ErrorKind::RateLimited), None),
        (es, msearch(503), Some(ErrorKind::Unavailable), None),
        (es, msearch(400), None, None),
        (
            ("$.responses[*].body.value[*]", "$.responses[*].body.error"),
            batch,
            Some(ErrorKind::RateLimited),
            Some(Duration::from_secs(10)),
        ),
        (
            ("$[*].results[*]", "$[*].error"),
            google,
            Some(ErrorKind::Unavailable),
            None,
        ),
    ];
    for ((items_path, error_path), page, kind, wait) in cases {
        let fields = json!({"items_path": items_path, "error_path": error_path});
        let (_, load, check) = run_with(fields, &[page]).await;
        for err in [
            load.expect("the load fails"),
            check.expect("the check fails"),
        ] {
            let text = err.to_string();
            match kind {
                Some(kind) => {
                    assert_eq!(err.kind(), kind, "{error_path}: {err}");
                    assert_eq!(err.retry_after(), wait, "{error_path}: {err}");
                    assert!(err.field().is_none(), "{error_path}: {err}");
                    assert!(text.contains("sub-request"), "{error_path}: {text}");
                }
                // A 400 is the request's own: refused, not retried (with `error_path` set,
                // the entry's status is read as it is without, review55 L4).
                None => {
                    // "Test Connection" reports invalid data as a config that does not fit.
                    assert!(
                        matches!(err.kind(), ErrorKind::InvalidData | ErrorKind::Config),
                        "{text}"
                    );
                    assert!(!err.is_retryable(), "{text}");
                    assert!(text.contains("status 400"), "{text}");
                }
            }
        }
    }
}
