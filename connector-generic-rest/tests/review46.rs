//! Review46's findings on fix26's merge, each a page that should fail but read as the empty
//! last page, then prune (silent): a section a one-list path's filter dropped counted as
//! "something was listed" (R1); a list of column names under a path ending in a descendant
//! search counted too (R2); a filter before that search gave the records as what the last
//! filter chose among (R3); a record holding an empty or stub object beside its own error
//! counted as a healthy record without the object (R4). Each walk is served page by page;
//! any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{cursor_walk, record};
use serde_json::json;

/// The first page of the walks whose items are a report's `rows`: one public row.
fn first_page() -> serde_json::Value {
    json!({"results": [{"report": {"rows": [record(1, true)]}}]})
}

/// R1: under a path that ends in a name below its filter, a `summary` section the filter
/// dropped, whose own list is empty, is structure, not a cut row: one failed report beside it
/// fails the page. So is a summary that lists something (issue 17, review49: its entries are
/// not rows the filter cut; `review44.rs`'s `one_list_paths_tell_when_nothing_was_listed`
/// holds that case).
#[tokio::test]
async fn a_dropped_section_with_an_empty_list_is_not_listed() {
    const PATH: &str = "$.results[*].report.sections[?@.name == 'rows'].items";
    let p1 = json!({"results": [{"report": {"sections": [
        {"name": "rows", "items": [record(1, true)]}]}}]});
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "sections": []}},
        {"report": {"sections": [{"name": "summary", "items": []}]}}]});
    let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside an empty summary fails the page");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// R2: under a path that ends in a descendant search, a list of column names (or of headers
/// without the member the filter tests) beside empty rows is not a listing the filter cut.
/// Rows holding `public`, all dropped, still are.
#[tokio::test]
async fn a_list_of_columns_is_not_listed() {
    const PATH: &str = "$.results[*].report..[?@.public == true]";
    for other in [
        json!({"columns": ["id", "title"], "rows": []}),
        json!({"dimensionHeaders": [{"name": "id"}], "rows": []}),
    ] {
        let p2 = json!({"results": [{"report": {"error": "quota exceeded",
            "columns": ["id", "title"], "rows": []}}, {"report": other}]});
        let (titles, err) = cursor_walk(PATH, &[first_page(), p2]).await;
        assert_eq!(titles, ["t1"], "{other}");
        let err = err.expect("a failed report beside empty rows fails the page");
        assert!(err.contains("quota exceeded"), "{err}");
    }
    let p2 = json!({"results": [{"report": {"error": "quota exceeded", "rows": []}},
        {"report": {"columns": ["id", "title"], "rows": [record(2, false)]}}]});
    assert_eq!(
        cursor_walk(PATH, &[first_page(), p2]).await,
        (vec!["t1".to_owned()], None)
    );
}

/// R3: a filter before the final filtered descendant search: what the last filter chose
/// among is not the records, so a failed report beside empty rows fails the page.
#[tokio::test]
async fn a_filter_before_a_final_search_is_not_what_it_chose_among() {
    const PATH: &str = "$.results[?@.kind == 'report'].report..[?@.public == true]";
    let p1 = json!({"results": [{"kind": "report", "report": {"rows": [record(1, true)]}}]});
    let p2 = json!({"results": [
        {"kind": "report", "report": {"error": "quota exceeded", "rows": []}},
        {"kind": "report", "report": {"rows": []}}]});
    let (titles, err) = cursor_walk(PATH, &[p1.clone(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("a failed report beside empty rows fails the page");
    assert!(err.contains("quota exceeded"), "{err}");
    let p2 = json!({"results": [
        {"kind": "report", "report": {"error": "quota exceeded", "rows": []}},
        {"kind": "report", "report": {"rows": [record(2, false)]}}]});
    assert_eq!(
        cursor_walk(PATH, &[p1, p2]).await,
        (vec!["t1".to_owned()], None)
    );
}

/// R4: a record whose object is there but empty, or a stub, beside its own `error`: the
/// record failed, so with the other report failed too the page fails. Without the record's
/// own error it is a record without the object, and the page is an empty one.
#[tokio::test]
async fn a_record_with_an_empty_object_and_its_own_error_counts_as_failed() {
    const ROWS: &str = "$.results[*].report.rows[?@.public == true]";
    for report in [json!({}), json!({"report_id": "r2"})] {
        let p2 = json!({"results": [
            {"report": {"error": "quota exceeded", "rows": [record(2, false)]}},
            {"status": 429, "error": "quota exceeded", "report": report}]});
        let (titles, err) = cursor_walk(ROWS, &[first_page(), p2]).await;
        assert_eq!(titles, ["t1"], "{report}");
        let err = err.expect("every record on the page failed");
        assert!(err.contains("`/results/0/report/error` is set"), "{err}");
        let p2 = json!({"results": [
            {"report": {"error": "quota exceeded", "rows": [record(2, false)]}},
            {"status": "pending", "report": report}]});
        assert_eq!(
            cursor_walk(ROWS, &[first_page(), p2]).await,
            (vec!["t1".to_owned()], None)
        );
    }
}
