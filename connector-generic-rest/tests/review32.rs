//! Review32's findings on fix17's merge: a learned ("usual") error sign counted wherever it
//! was met again, so a sibling branch's error on a page with items hid the same error on the
//! response's envelope or root later (and prune deleted the rest); and learning from every
//! record pushed the API's own root status out of the 8 signs kept. Each walk is served page
//! by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_walk, drain_from, items_config};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "$..artifacts[?@.public == true]";

/// Review32's layout: items on `current`, `archived` beside them, and `as_of` beside both
/// (so `data` is no record map).
fn layout(as_of: &str, current: Value) -> Value {
    json!({"as_of": as_of,
        "current": {"jobs": [{"artifacts": current}]},
        "archived": {"jobs": [{"artifacts": []}]}})
}

/// review32 F1: p1 carries items on one branch while the other is throttled; p2 is the whole
/// request throttled, its layout kept and its lists empty. The sign learned on
/// `/data/archived` hid p2's `/data/error` (or root `error`): p2 read as the empty last page.
/// It counts only where it was met.
#[tokio::test]
async fn a_sibling_branchs_learned_error_does_not_hide_the_responses() {
    for error in [
        json!("rate limited"),
        json!({"code": 429, "message": "slow down"}),
    ] {
        let mut data = layout(
            "2026-12-01",
            json!([{"id": 1, "public": true, "title": "t1"}]),
        );
        data["archived"]["error"] = error.clone();
        let p1 = json!({"data": data});
        // On the envelope `/data`.
        let mut data = layout("2026-12-02", json!([]));
        data["error"] = error.clone();
        let (titles, err) = cursor_walk(PATH, &[p1.clone(), json!({"data": data})]).await;
        assert_eq!(titles, ["t1"]);
        let err = err.expect("the response's error fails the page");
        assert!(err.contains("`/data/error` is set"), "{err}");
        // At the root.
        let p2 = json!({"data": layout("2026-12-02", json!([])), "error": error});
        let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
        assert_eq!(titles, ["t1"]);
        let err = err.expect("the response's error fails the page");
        assert!(err.contains("its `error` is set"), "{err}");
    }
}

/// review32 F2: ten runs each carrying their own `error` in an object that holds the list
/// pushed the root's `errors` (a warning on every answer) out of the 8 signs kept, and the end
/// page failed on it. The root's members are learned last. (Review32's p2 kept an `info` log:
/// a cursor walk whose listing is not empty skips the root check, so its logs are empty here.)
#[tokio::test]
async fn records_own_errors_do_not_push_out_the_roots_status() {
    let warning = json!([{"message": "field legacy is deprecated"}]);
    let runs: Vec<Value> = (0..10)
        .map(|i| {
            json!({"id": i, "result": {"error": format!("exit code {i}"),
                "logs": [{"id": i, "level": "error", "title": format!("t{i}")}]}})
        })
        .collect();
    let p1 = json!({"errors": warning, "runs": runs});
    let p2 = json!({"errors": warning,
        "runs": [{"id": 99, "result": {"error": null, "logs": []}}]});
    let (titles, err) = cursor_walk("$..logs[?@.level == 'error']", &[p1, p2]).await;
    assert_eq!((titles.len(), err), (10, None));
}

/// A sign an older binary learned holds no place (`usual_sign`'s hash alone): its resumed
/// run still accepts it, at an envelope as at the root, as that binary did (else it failed at
/// its last page every time until a full sync, review15 N5).
#[tokio::test]
async fn an_older_binarys_sign_still_counts() {
    let old = connector_core::ids::hash128("error\u{0}\"busy\"");
    for body in [
        json!({"result": {"data": [], "error": "busy"}}),
        json!({"result": {"data": []}, "error": "busy"}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let fields = json!({"items_path": "$.result.data[?@.public == true]",
            "pagination_type": "page", "max_pages": 20});
        let c = build(items_config(&server.uri(), &fields));
        for (usual, ok) in [(vec![old.clone()], true), (vec!["other".to_owned()], false)] {
            let cp = c.as_checkpointed().unwrap();
            let mut from = cp.initial_checkpoint_json().unwrap();
            from.state =
                json!({"next": {"at": {"kind": "page", "page": 2}, "pages": 1, "usual": usual}});
            let (_, _, err) = drain_from(&c, from).await;
            assert_eq!(err.is_none(), ok, "{body}: {err:?}");
        }
    }
}
