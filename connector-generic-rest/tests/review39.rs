//! Review39's findings on fix20's merge: under a path that names an object below its records
//! (`$.results[*].report.rows[?…]`), one record's failed object beside records whose lists
//! were really empty read as the empty last page, then prune (F2, silent). Each walk is
//! served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{cursor_walk, record};
use serde_json::json;

/// review39 F2: "every record's object failed" is the rule only where some record listed
/// rows the filter left out; where no list under the last filter holds an entry, one failed
/// report fails the page. A failed report beside reports whose rows the filter dropped is
/// still its record's own (review35 R2).
#[tokio::test]
async fn one_failed_report_beside_empty_lists_fails_the_page() {
    const PATH: &str = "$.results[*].report.rows[?@.public == true]";
    let p1 = json!({"results": [{"report": {"rows": [record(1, true)]}}]});
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "rows": []}},
        {"report": {"rows": []}}]});
    let (titles, err) = cursor_walk(PATH, &[p1.clone(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside empty lists fails the page");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "rows": []}},
        {"report": {"rows": [record(2, false)]}}]});
    assert_eq!(
        cursor_walk(PATH, &[p1, p2]).await,
        (vec!["t1".to_owned()], None)
    );
}

/// A run whose result failed, its logs all left out by the filter.
fn failed_run(id: u64) -> serde_json::Value {
    json!({"id": id, "result": {"error": "exit code 1",
        "logs": [{"id": id * 10 + 1, "level": "info", "title": "x"}]}})
}

/// review39 F3: "every record's object failed" counted the objects met, so one failed run
/// beside runs with no `result` (queued) failed the page on every run. The records are
/// counted; a page of one record stays loud (it cannot be told from every report failing).
#[tokio::test]
async fn records_without_the_object_are_counted() {
    const PATH: &str = "$.runs[*].result.logs[?@.level == 'error']";
    let p1 = json!({"runs": [{"id": 1, "result": {"logs": [
        {"id": 11, "level": "error", "title": "t11"}]}}]});
    let p2 = json!({"runs": [failed_run(2), {"id": 3, "status": "queued"}]});
    assert_eq!(
        cursor_walk(PATH, &[p1.clone(), p2]).await,
        (vec!["t11".to_owned()], None)
    );
    let p2 = json!({"runs": [failed_run(9)]});
    let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
    assert_eq!(titles, ["t11"]);
    let err = err.expect("a page of one failed record fails");
    assert!(err.contains("`/runs/0/result/error` is set"), "{err}");
}

/// review39 F1 (and review44 F1): a sub-response that is a throttled or failed error object
/// where the path needs a name fails the page, with items beside it or not, under a plain
/// path as under a filtered one: Elasticsearch `_msearch`, Microsoft Graph `$batch`, Google's
/// streamed array. Before, the page read as delivering the other sub-responses' items only,
/// then prune deleted every document of the failed one.
#[tokio::test]
async fn a_failed_sub_response_fails_the_page_beside_items() {
    let msearch_429 = json!({"error": {"type": "es_rejected_execution_exception",
        "reason": "queue full"}, "status": 429});
    let cases = [
        (
            "$.responses[*].hits.hits[*]",
            json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200},
                msearch_429]}),
            "`/responses/1` holds no `hits` and its `error` is set",
        ),
        (
            "$.responses[*].hits.hits[?@.public == true]",
            json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200},
                msearch_429]}),
            "`/responses/1` holds no `hits` and its `error` is set",
        ),
        // A plain path's page with no items at all.
        (
            "$.responses[*].hits.hits[*]",
            json!({"responses": [{"hits": {"hits": []}, "status": 200},
                {"error": {"type": "search_phase_execution_exception"}, "status": 503}]}),
            "`/responses/1` holds no `hits` and its `error` is set",
        ),
        (
            "$.responses[*].body.value[*]",
            json!({"responses": [{"id": "1", "status": 200, "body": {"value": [record(1, true)]}},
                {"id": "2", "status": 429, "body": {"error": {"code": "TooManyRequests",
                    "message": "Too many requests"}}}]}),
            "`/responses/1/body` holds no `value` and its `error` is set",
        ),
        (
            "$[*].results[*]",
            json!([{"results": [record(1, true)]},
                {"error": {"code": 429, "message": "Resource has been exhausted",
                    "status": "RESOURCE_EXHAUSTED"}}]),
            "`/1` holds no `results` and its `error` is set",
        ),
    ];
    for (path, page, want) in cases {
        let (titles, err) = cursor_walk(path, &[page]).await;
        assert!(titles.is_empty(), "{path}: {titles:?}");
        let err = err.expect("the failed sub-response fails the page");
        assert!(err.contains(want), "{path}: {err}");
        assert!(err.contains("status"), "{path}: {err}");
    }
}

/// A sub-response that failed for its own request (404: an index rolled off, a user deleted)
/// is not read on a page with items: what it named is gone. Nor is an entry that holds the
/// name beside its own `status` and `error`.
#[tokio::test]
async fn a_missing_sub_response_is_its_own() {
    let page = json!({"responses": [
        {"hits": {"hits": [record(1, true)]}, "status": 200},
        {"error": {"type": "index_not_found_exception"}, "status": 404},
        {"hits": {"hits": [record(2, true)]}, "status": 500, "error": "partial"}]});
    assert_eq!(
        cursor_walk("$.responses[*].hits.hits[*]", &[page]).await,
        (vec!["t1".to_owned(), "t2".to_owned()], None)
    );
}

/// review39 F4: an error object in place of a record's object that says its state in a
/// `status` word (`{"status": "failed", "error": "exit code 1"}`, a job's result) is the
/// record's data: beside a run whose logs the filter left out the page is an empty one; on a
/// page where every run failed it still fails. A sub-response whose request named nothing
/// (404) is its own, and what it named is gone; a throttled one still fails.
#[tokio::test]
async fn error_objects_that_are_data_or_gone_are_the_records_own() {
    const RUNS: &str = "$.runs[*].result.logs[?@.level == 'error']";
    let p1 = json!({"runs": [{"id": 1, "result": {"logs": [
        {"id": 11, "level": "error", "title": "t11"}]}}]});
    let p2 = json!({"runs": [{"id": 2, "result": {"status": "failed", "error": "exit code 1"}},
        {"id": 3, "result": {"status": "ok", "logs": [{"id": 31, "level": "info"}]}}]});
    assert_eq!(
        cursor_walk(RUNS, &[p1.clone(), p2]).await,
        (vec!["t11".to_owned()], None)
    );
    let p2 = json!({"runs": [{"id": 2, "result": {"status": "failed", "error": "exit code 1"}},
        {"id": 3, "result": {"status": "failed", "error": "exit code 2",
            "logs": [{"id": 31, "level": "info"}]}}]});
    let (titles, err) = cursor_walk(RUNS, &[p1, p2]).await;
    assert_eq!(titles, ["t11"]);
    assert!(err.expect("every run failed").contains("exit code"));

    const BATCH: &str = "$.responses[*].body.value[?@.public == true]";
    let p1 = json!({"responses": [{"id": "1", "status": 200,
        "body": {"value": [record(1, true)]}}]});
    let gone = json!({"id": "2", "status": 404, "body": {"error": {"code": "ResourceNotFound",
        "message": "Resource 'u2' does not exist"}}});
    let p2 = json!({"responses": [{"id": "1", "status": 200,
        "body": {"value": [record(2, false)]}}, gone]});
    assert_eq!(
        cursor_walk(BATCH, &[p1.clone(), p2]).await,
        (vec!["t1".to_owned()], None)
    );
    const MSEARCH: &str = "$.responses[*].hits.hits[?@.public == true]";
    let p1 = json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200}]});
    let p2 = json!({"responses": [{"hits": {"hits": [record(2, false)]}, "status": 200},
        {"error": {"type": "index_not_found_exception"}, "status": 404}]});
    assert_eq!(
        cursor_walk(MSEARCH, &[p1, p2]).await,
        (vec!["t1".to_owned()], None)
    );
}
