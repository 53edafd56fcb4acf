//! Review34's findings on fix19's merge, and the older case it confirmed: a record's envelope
//! that met items only the filter left out taught its error as usual for every record (N2,
//! silent loss then prune); a path naming an object below its records' wildcard
//! (`$.results[*].report.rows[?…]`) never read that object, so a page on which every record
//! failed read as the empty last page (the pre-existing case); a one-key envelope whose
//! location moved when the page's cursor token went (N1, loud). Each walk is served page by
//! page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_walk, items_config, load};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A record whose report carries `error` next to `rows`.
fn failed(rows: Value) -> Value {
    json!({"report": {"error": "quota exceeded", "rows": rows}})
}

/// review34 N2: p1's second record was cut off after a row its filter leaves out; p2 is the
/// whole request throttled. The sign learned at `/results/*/report` from that record hid
/// p2's errors: p2 read as the empty last page, then prune. A record's envelope is learned
/// only where the record delivered items.
#[tokio::test]
async fn a_records_filtered_out_rows_do_not_teach_every_record() {
    let p1 = json!({"results": [
        {"report": {"rows": [{"id": 1, "public": true, "title": "t1"}]}},
        failed(json!([{"id": 7, "public": false}]))], "next": "p2"});
    let p2 = json!({"results": [failed(json!([])), failed(json!([]))]});
    let (titles, err) = cursor_walk("$..rows[?@.public == true]", &[p1, p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("the throttled page fails");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// The case review34 confirmed (older than fix17): `$.results[*].report.rows[?…]` read a
/// record's `report` as its own and never checked it, so a page on which every record failed
/// read as the empty last page, even on a first run. The objects a path names below its
/// records are read as a descendant name reads them: p2 fails, alone or after review33 F1's
/// p1 (a failed record beside one that delivered teaches nothing).
#[tokio::test]
async fn a_named_object_below_the_records_is_checked() {
    const PATH: &str = "$.results[*].report.rows[?@.public == true]";
    let p2 = json!({"results": [failed(json!([])), failed(json!([]))]});
    let (titles, err) = cursor_walk(PATH, std::slice::from_ref(&p2)).await;
    assert!(titles.is_empty());
    let err = err.expect("a page of failed records fails");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
    let p1 = json!({"results": [
        {"report": {"rows": [{"id": 1, "public": true, "title": "t1"}]}}, failed(json!([]))],
        "next": "p2"});
    let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("the throttled page fails");
    assert!(err.contains("`/results/0/report/error` is set"), "{err}");
}

/// What such a report carried next to its items is still learned: an end page with the same
/// status is an empty page.
#[tokio::test]
async fn a_named_objects_status_next_to_its_items_is_learned() {
    let report = |rows| json!({"report": {"error": "none", "rows": rows}});
    let p1 = json!({"results": [report(json!([{"id": 1, "public": true, "title": "t1"}])),
        report(json!([{"id": 2, "public": false}]))], "next": "p2"});
    let p2 = json!({"results": [report(json!([]))]});
    let (titles, err) = cursor_walk("$.results[*].report.rows[?@.public == true]", &[p1, p2]).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));
}

/// review34 N1: a warning in a one-key envelope (`Result`, `searchResults`) learned on pages
/// with items, and a last page without the cursor token beside it, whose filter leaves
/// nothing: the envelope stays where it was met (not `/*`), and the walk ends.
#[tokio::test]
async fn a_one_key_envelope_keeps_its_place_without_its_token() {
    let warning = json!([{"message": "field legacyId is deprecated"}]);
    for (envelope, list, token) in [
        ("Result", "Items", "NextToken"),
        ("searchResults", "items", "nextPageToken"),
    ] {
        let page = |id: u64, active: bool| {
            json!({envelope: {"errors": warning, list: [{"id": id, "active": active,
                "title": format!("t{id}")}]}})
        };
        let mut p1 = page(1, true);
        p1[token] = json!("t2");
        let server = MockServer::start().await;
        for (first, body) in [(true, p1), (false, page(2, false))] {
            let mock = Mock::given(method("GET"));
            let mock = if first {
                mock.and(query_param_is_missing("token"))
            } else {
                mock.and(query_param("token", "t2"))
            };
            mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
                .mount(&server)
                .await;
        }
        let fields = json!({"items_path": format!("$.{envelope}.{list}[?@.active == true]"),
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "token",
                "next_cursor_path": format!("$.{token}")}});
        let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
        let titles: Vec<String> = docs.into_iter().map(|d| d.title).collect();
        assert_eq!(
            (titles, err.map(|e| e.to_string())),
            (vec!["t1".to_owned()], None),
            "{envelope}"
        );
    }
}

/// review33 F5: a sibling envelope's status met before nine records' own distinct errors was
/// pushed out of the 8 signs kept, and the end page carrying it failed. Records' errors are
/// learned before what lies beside them.
#[tokio::test]
async fn records_own_errors_do_not_push_out_a_siblings_status() {
    let archived = json!({"logs": [], "error": "archived is read-only"});
    let runs: Vec<Value> = (0..9)
        .map(|i| {
            json!({"result": {"error": format!("exit code {i}"),
                "logs": [{"id": i, "level": "error", "title": format!("t{i}")}]}})
        })
        .collect();
    let p1 = json!({"data": {"archived": archived, "runs": runs}});
    let p2 = json!({"data": {"archived": archived, "runs": []}});
    let (titles, err) = cursor_walk("$..logs[?@.level == 'error']", &[p1, p2]).await;
    assert_eq!((titles.len(), err), (9, None));
}
