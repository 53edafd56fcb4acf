//! Review44's findings on fix24's merge: a record whose object failed and lacks the list
//! counted as a healthy record without the object, so a page on which every report failed
//! read as the empty last page, then prune (N1, silent); and the "nothing was listed" rule
//! of review39 F2 measured a path ending in a name below its filter by its records, never
//! empty (N2, silent). Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{cursor_walk, record};
use serde_json::json;

const ROWS: &str = "$.results[*].report.rows[?@.public == true]";

/// The first page of the walks under [`ROWS`]: one public row.
fn first_page() -> serde_json::Value {
    json!({"results": [{"report": {"rows": [record(1, true)]}}]})
}

/// review44 N1: a failed report without `rows` but with a member of its own (`report_id`,
/// so not an error object) beside a failed report whose rows the filter dropped: every
/// report failed, and the page fails on the first one's error.
#[tokio::test]
async fn a_failed_object_without_the_list_counts_as_failed() {
    let p2 = json!({"results": [
        {"report": {"error": "quota exceeded", "rows": [record(2, false)]}},
        {"report": {"error": "quota exceeded", "report_id": "r2"}}]});
    let (titles, err) = cursor_walk(ROWS, &[first_page(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("every report failed: not the empty last page");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// review44 N1's variant: the second record has no `report` and its own `error`.
#[tokio::test]
async fn a_record_without_the_object_and_with_its_own_error_counts_as_failed() {
    let p2 = json!({"results": [
        {"report": {"error": "quota exceeded", "rows": [record(2, false)]}},
        {"id": 7, "error": "quota exceeded"}]});
    let (titles, err) = cursor_walk(ROWS, &[first_page(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("the record without a report failed too");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// The `report_id`-less form (an error object where the report should be) still fails;
/// a healthy report without `rows`, or a record with no report and no error, is still a
/// record without the object, and the page is an empty one.
#[tokio::test]
async fn healthy_records_without_the_object_still_pass() {
    let p2 = json!({"results": [
        {"report": {"error": "quota exceeded", "rows": [record(2, false)]}},
        {"report": {"error": "quota exceeded"}}]});
    let (titles, err) = cursor_walk(ROWS, &[first_page(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("an error object where the report should be fails");
    assert!(err.contains("quota exceeded"), "{err}");
    for other in [
        json!({"report": {"report_id": "r2", "status": "pending"}}),
        json!({"id": 7, "status": "queued"}),
        json!({"id": 7, "report": null}),
    ] {
        let p2 = json!({"results": [
            {"report": {"error": "quota exceeded", "rows": [record(2, false)]}}, other]});
        assert_eq!(
            cursor_walk(ROWS, &[first_page(), p2]).await,
            (vec!["t1".to_owned()], None),
            "{other}"
        );
    }
}

/// fix24's queued-run page (review39 F3) still reads as an empty page.
#[tokio::test]
async fn a_queued_run_beside_a_failed_run_still_passes() {
    const PATH: &str = "$.runs[*].result.logs[?@.level == 'error']";
    let p1 = json!({"runs": [{"id": 1, "result": {"logs": [
        {"id": 11, "level": "error", "title": "t11"}]}}]});
    let p2 = json!({"runs": [{"id": 2, "result": {"error": "exit code 1",
        "logs": [{"id": 21, "level": "info", "title": "x"}]}}, {"id": 3, "status": "queued"}]});
    assert_eq!(
        cursor_walk(PATH, &[p1, p2]).await,
        (vec!["t11".to_owned()], None)
    );
}

/// review44 N2: under a path that ends in a name below its filter, one failed report beside
/// reports whose `sections` are empty fails the page; so does one beside a section the
/// filter dropped (`summary`), whether that lists something or not (review46 R1, issue 17:
/// the filter chose a list, not rows, so nothing shows rows were cut).
#[tokio::test]
async fn one_list_paths_tell_when_nothing_was_listed() {
    const PATH: &str = "$.results[*].report.sections[?@.name == 'rows'].items";
    let p1 = json!({"results": [{"report": {"sections": [
        {"name": "rows", "items": [record(1, true)]}]}}]});
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "sections": []}},
        {"report": {"sections": []}}]});
    let (titles, err) = cursor_walk(PATH, &[p1.clone(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside empty sections fails the page");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "sections": []}},
        {"report": {"sections": [{"name": "summary", "items": [{"total": 0}]}]}}]});
    let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside a dropped summary fails the page");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// review44 N2, under a path that ends in a descendant search: where no list below the
/// reports holds an entry, one failed report fails the page; rows the filter dropped in
/// another report show the others were cut.
#[tokio::test]
async fn search_paths_tell_when_nothing_was_listed() {
    const PATH: &str = "$.results[*].report..[?@.public == true]";
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "rows": []}},
        {"report": {"rows": []}}]});
    let (titles, err) = cursor_walk(PATH, &[first_page(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside empty rows fails the page");
    assert!(err.contains("quota exceeded"), "{err}");
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "rows": []}},
        {"report": {"rows": [record(2, false)]}}]});
    assert_eq!(
        cursor_walk(PATH, &[first_page(), p2]).await,
        (vec!["t1".to_owned()], None)
    );
}

/// review44 N4's page: under a deeper wildcard (`steps[*]`), a failed run beside a queued
/// run reads as an empty page. It did before rest57 too: the run's `result` lies in the run,
/// above a deeper entry (a step), so it is the run's own and not read at all (review29 F1),
/// never counted in a group; this keeps it so.
#[tokio::test]
async fn a_queued_run_counts_under_a_deeper_wildcard() {
    const PATH: &str = "$.runs[*].result.steps[*].logs[?@.level == 'error']";
    let p1 = json!({"runs": [{"id": 1, "result": {"steps": [{"logs": [
        {"id": 11, "level": "error", "title": "t11"}]}]}}]});
    let p2 = json!({"runs": [{"id": 2, "result": {"error": "exit code 1",
        "steps": [{"logs": [{"id": 21, "level": "info", "title": "x"}]}]}},
        {"id": 3, "status": "queued"}]});
    assert_eq!(
        cursor_walk(PATH, &[p1, p2]).await,
        (vec!["t11".to_owned()], None)
    );
}

/// review44 N5: a scalar or `null` beside the records (a `total` counter in a record map, a
/// `null` entry) is not a record without the object: the page of one failed job fails as it
/// does without it.
#[tokio::test]
async fn scalar_and_null_entries_are_not_records() {
    const PATH: &str = "$.jobs.*.result.logs[?@.level == 'error']";
    let p1 = json!({"jobs": {"j0": {"result": {"logs": [
        {"id": 11, "level": "error", "title": "t11"}]}}}});
    let failed = json!({"result": {"error": "quota exceeded", "logs": [{"level": "info"}]}});
    for other in [json!(1), json!(null)] {
        let p2 = json!({"jobs": {"j1": failed, "total": other}});
        let (titles, err) = cursor_walk(PATH, &[p1.clone(), p2]).await;
        assert_eq!(titles, ["t11"], "{other}");
        let err = err.expect("the page's one job failed");
        assert!(err.contains("quota exceeded"), "{err}");
    }
}
