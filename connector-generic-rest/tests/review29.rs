//! Review29's findings on fix16's merge: under a descendant name, a record's own object that
//! holds an inner list and an `error` was read as the response's envelope; learning read only
//! the first match's branch while a no-match page is checked on every branch; and a page
//! failing both readings alike said its reason twice. Each walk is served page by page; any
//! other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_fields, cursor_walk, items_config, serve_cursor_walk};
use connector_core::SyncContext;
use futures::StreamExt;
use serde_json::{Value, json};

/// A run whose result holds `error` and one step's logs.
fn run(id: u64, error: Value, logs: Value) -> Value {
    json!({"id": id, "result": {"error": error, "steps": [{"logs": logs}]}})
}

/// review29 F1: under `$..logs[?…]`, `/runs/0/result` (an object inside the run, above the
/// step entry) was read as the response's envelope, so a failed run's own `error` on a page
/// whose filter took nothing failed the whole walk, on every run. It is the run's, as it is
/// under the wildcard spelling of the same path; what holds the runs is still read.
#[tokio::test]
async fn a_records_own_object_above_an_inner_list_is_its_own() {
    let log = |id: u64, level: &str| json!({"id": id, "level": level, "title": format!("t{id}")});
    let pages = [
        json!({"runs": [run(1, Value::Null, json!([log(11, "error")]))]}),
        json!({"runs": [run(2, json!("exit code 1"), json!([log(21, "info")]))]}),
        json!({"runs": [run(3, Value::Null, json!([log(31, "error")]))]}),
    ];
    for path in [
        "$..logs[?@.level == 'error']",
        "$.runs[*].result.steps[*].logs[?@.level == 'error']",
    ] {
        let (titles, err) = cursor_walk(path, &pages).await;
        assert_eq!(
            (titles, err),
            (vec!["t11".into(), "t31".into()], None),
            "{path}"
        );
    }
    // What holds the runs speaks for the response, under both spellings.
    let wrapped: Vec<Value> = pages
        .iter()
        .map(|p| json!({"data": {"runs": p["runs"].clone()}}))
        .collect();
    let mut failed = wrapped[..2].to_vec();
    failed[1]["data"]["error"] = json!("busy");
    for path in [
        "$..logs[?@.level == 'error']",
        "$.data.runs[*].result.steps[*].logs[?@.level == 'error']",
    ] {
        let (titles, err) = cursor_walk(path, &wrapped).await;
        assert_eq!(
            (titles, err),
            (vec!["t11".into(), "t31".into()], None),
            "{path}"
        );
        let (titles, err) = cursor_walk(path, &failed).await;
        assert_eq!(titles, ["t11"], "{path}");
        let err = err.expect("the wrapper's error fails the page");
        assert!(err.contains("`/data/error` is set"), "{path}: {err}");
    }
}

/// review29 F2: a page with items taught the run only the envelopes above its first match,
/// while a no-match page is checked on every branch the path's opening reaches: a status
/// member every page carried on a sibling branch failed the end page, with a hint saying no
/// page with items carried it.
#[tokio::test]
async fn a_sibling_branchs_usual_member_is_learned() {
    let path = "$..artifacts[?@.public == true]";
    let page = |as_of: &str, current: Value, archived_error: &str| {
        json!({"data": {"as_of": as_of,
            "current": {"jobs": [{"artifacts": current}]},
            "archived": {"jobs": [{"artifacts": []}], "error": archived_error}}})
    };
    let first = json!([{"id": 1, "public": true, "title": "t1"}]);
    let p1 = page("2026-12-01", first.clone(), "retention expired");
    let p2 = page("2026-12-02", json!([]), "retention expired");
    let (titles, err) = cursor_walk(path, &[p1.clone(), p2]).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));
    // Another value there is still an error.
    let p2 = page("2026-12-02", json!([]), "db timeout");
    let (titles, err) = cursor_walk(path, &[p1, p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("an unlearned error fails the page");
    assert!(err.contains("`/data/archived/error` is set"), "{err}");
}

/// review29 F3: when the page failed the same way under the carried place and as a first
/// run's page, the message said the reason, hint included, twice.
#[tokio::test]
async fn a_page_failing_both_readings_alike_says_it_once() {
    let server = serve_cursor_walk(&[json!({"error": "rate limited"})]).await;
    let path = "$.data[?@.public == true]";
    let c = build(items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": path})),
    ));
    let cp = c.as_checkpointed().unwrap();
    let mut from = cp.initial_checkpoint_json().unwrap();
    from.state = json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0,
        "carried": "{/data", "place_for": path}});
    let mut s = cp.load_from_checkpoint_json(from, None, SyncContext::new());
    let mut err = None;
    while let Some(p) = s.next().await {
        if let Err(e) = p {
            err = Some(e.to_string());
        }
    }
    let err = err.expect("an error object is no empty page");
    assert!(
        err.contains(
            "`$` has no `data` (the same under the place `{/data` kept from before, which a \
             full sync does not use)"
        ),
        "{err}"
    );
    assert_eq!(err.matches("has no `data`").count(), 1, "{err}");
}
