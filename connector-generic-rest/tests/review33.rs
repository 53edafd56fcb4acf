//! Review33's findings on fix18's merge: a sign learned in one record's sub-object that
//! carried an error instead of its items counted for every record later (F1, silent loss then
//! prune); a record map's location hung on how many records the page held (F2, loud); and an
//! older binary's plain sign, which counts anywhere, stayed once its member was relearned with
//! its place (F3). Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_walk, drain_from, items_config};
use serde_json::json;
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// review33 F1: p1's second record's report carried an error instead of its rows; p2 is the
/// whole request throttled, its layout kept. The sign learned at `/results/*/report` hid p2's
/// errors: p2 read as the empty last page. A record's envelope is learned only where its list
/// has entries.
#[tokio::test]
async fn a_records_failed_sub_object_does_not_teach_every_record() {
    for error in [
        json!("quota exceeded"),
        json!({"code": 429, "message": "slow down"}),
    ] {
        let failed = json!({"report": {"error": error, "rows": []}});
        let p1 = json!({"results": [
            {"report": {"rows": [{"id": 1, "public": true, "title": "t1"}]}}, failed],
            "next": "p2"});
        let p2 = json!({"results": [failed, failed]});
        // (`$.results[*].report.rows[?…]` reads a record's report as its own, never checked:
        // review29 F1; a descendant name reads it as an envelope.)
        let (titles, err) = cursor_walk("$..rows[?@.public == true]", &[p1, p2]).await;
        assert_eq!(titles, ["t1"]);
        let err = err.expect("the throttled page fails");
        assert!(err.contains("`/results/0/report/error` is set"), "{err}");
    }
}

/// review33 F1's rule keeps what a record carried next to its data: each run's `error` beside
/// its non-empty logs is still learned, so an end page with the same is an empty page.
#[tokio::test]
async fn a_records_status_next_to_its_data_is_still_learned() {
    let p1 = json!({"runs": [
        {"result": {"error": "none", "logs": [{"id": 1, "level": "error", "title": "t1"}]}},
        {"result": {"error": "none", "logs": [{"id": 2, "level": "info"}]}}],
        "next": "p2"});
    let p2 = json!({"runs": [{"result": {"error": "none", "logs": []}}]});
    let (titles, err) = cursor_walk("$..logs[?@.level == 'error']", &[p1, p2]).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));
}

/// review33 F2: a sign learned in a map of two jobs is at `/jobs/*/result`; a page of one job
/// read it at `/jobs/j3/result` and failed (and the reverse). A map of ids is records
/// whatever its size, for where a sign lies.
#[tokio::test]
async fn a_record_maps_size_does_not_move_a_sign() {
    let result = |logs| json!({"result": {"error": {"code": 1, "message": "ok"}, "logs": logs}});
    let error_log = |id| json!([{"id": id, "level": "error", "title": format!("t{id}")}]);
    let two = json!({"jobs": {"j1": result(error_log(1)), "j2": result(json!([]))},
        "next": "p2"});
    let one = json!({"jobs": {"j3": result(json!([{"id": 3, "level": "info"}]))}});
    let (titles, err) = cursor_walk("$..logs[?@.level == 'error']", &[two, one]).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));
    // The reverse: one job first, two on the end page.
    let mut one = json!({"jobs": {"j1": result(error_log(1))}});
    one["next"] = json!("p2");
    let two = json!({"jobs": {"j2": result(json!([])), "j3": result(json!([]))}});
    let (titles, err) = cursor_walk("$..logs[?@.level == 'error']", &[one, two]).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));
}

/// review33 F3: a checkpoint a fix17 binary wrote holds the plain "rate limited" sign, which
/// counts anywhere. Once a page with items relearns the member with its place, the plain one
/// goes: review32's p2 (the envelope `/data` throttled) fails instead of reading as the end.
#[tokio::test]
async fn a_relearned_member_drops_its_plain_sign() {
    let plain = connector_core::ids::hash128("error\u{0}\"rate limited\"");
    let p1 = json!({"data": {"as_of": "2026-12-01",
        "current": {"jobs": [{"artifacts": [{"id": 1, "public": true, "title": "t1"}]}]},
        "archived": {"jobs": [{"artifacts": []}], "error": "rate limited"}}});
    let p2 = json!({"data": {"as_of": "2026-12-02", "error": "rate limited",
        "current": {"jobs": [{"artifacts": []}]},
        "archived": {"jobs": [{"artifacts": []}]}}});
    let server = MockServer::start().await;
    for (page, body) in [("2", p1), ("3", p2)] {
        Mock::given(method("GET"))
            .and(query_param("page", page))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let fields = json!({"items_path": "$..artifacts[?@.public == true]",
        "pagination_type": "page", "max_pages": 20});
    let c = build(items_config(&server.uri(), &fields));
    let cp = c.as_checkpointed().unwrap();
    let mut from = cp.initial_checkpoint_json().unwrap();
    from.state = json!({"next": {"at": {"kind": "page", "page": 2}, "pages": 1, "usual": [plain]}});
    let (_, _, err) = drain_from(&c, from).await;
    let err = err.expect("the throttled page fails");
    assert!(err.contains("`/data/error` is set"), "{err}");
}
