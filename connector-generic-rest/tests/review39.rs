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
