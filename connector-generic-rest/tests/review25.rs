//! Review25's findings on fix15's merge: an envelope above a record (a list's or a record
//! map's entry) went unchecked, the message when both readings of a page fail, an untagged
//! place under a plain path, and `carry_over` of fix13's bytes. Each walk is served page by
//! page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{
    build, cursor_fields, cursor_walk, drain_from, items_config, mount_cursor_walk, record,
    serve_cursor_walk, start_with,
};
use serde_json::{Value, json};
use wiremock::MockServer;

/// review25 F1: the walk up from what a filtered path reached stopped at the first record
/// (a list's entry, a record map's), so an envelope above it, which holds the records and an
/// `error`, was never checked: a partial failure that keeps the layout and empties the lists
/// read as the last, empty page (fix14 failed it on `/pipeline/error` for a word-keyed map).
/// Only the record is left out now; the walk goes on above it.
#[tokio::test]
async fn an_envelope_above_a_record_is_checked() {
    let path = "$..artifacts[?@.public == true]";
    let jobs = |build: Value, test: Value| json!({"build": build, "test": test});
    // review25's pages: a word-keyed record map under a wrapper.
    let p1 = json!({"pipeline": {"jobs": jobs(
        json!({"artifacts": [record(1, true)]}),
        json!({"artifacts": []}),
    )}});
    let mut p2 = json!({"pipeline": {"jobs": jobs(
        json!({"artifacts": []}),
        json!({"artifacts": []}),
    )}});
    p2["pipeline"]["error"] = json!("artifact store unavailable");
    let (titles, err) = cursor_walk(path, &[p1.clone(), p2.clone()]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("the wrapper's error fails the page");
    assert!(err.contains("`/pipeline/error` is set"), "{err}");
    assert!(err.contains("artifact store unavailable"), "{err}");

    // An entry's own `error` is still its own, and a status envelope above the map that the
    // pages with items carried is this API's normal.
    let mut p3 = p2.clone();
    p3["pipeline"]["jobs"]["test"]["error"] = json!("tests failed");
    let mut with_status = [p1, p2, p3];
    for page in &mut with_status {
        page["pipeline"]["error"] = json!("none");
    }
    let (titles, err) = cursor_walk(path, &with_status).await;
    assert_eq!((titles, err), (vec!["t1".to_owned()], None));

    // The same above a list's entries and above a record map keyed by ids, under a
    // descendant name and under names and wildcards.
    let jobs_as = [
        (
            json!([{"artifacts": [record(1, true)]}, {"artifacts": []}]),
            json!([{"artifacts": []}, {"artifacts": []}]),
        ),
        (
            json!({"j1": {"artifacts": [record(1, true)]}, "j2": {"artifacts": []}}),
            json!({"j1": {"artifacts": []}, "j2": {"artifacts": []}}),
        ),
    ];
    for (first, end) in jobs_as {
        for path in [path, "$.result.jobs.*.artifacts[?@.public == true]"] {
            let p1 = json!({"result": {"jobs": first.clone()}});
            let p2 = json!({"result": {"jobs": end.clone(), "error": "busy"}});
            let (titles, err) = cursor_walk(path, &[p1, p2]).await;
            assert_eq!(titles, ["t1"], "{path} {first}");
            let err = err.expect("the wrapper's error fails the page");
            assert!(
                err.contains("`/result/error` is set"),
                "{path} {first}: {err}"
            );
        }
    }
}

/// review25 F4: when a page failed under the carried place and as a first run's page, the
/// message gave the carried reading's reason as if it were the page's, then said the place
/// was the other reading. The fresh reading's reason (what a full sync meets) comes first,
/// the carried place's after it.
#[tokio::test]
async fn a_page_failing_both_readings_gives_the_fresh_reason_first() {
    // Under the carried place `jobs` is a record map, so `audit`'s `error` is its own and the
    // wrapper's fails the page; read afresh, `audit` is an envelope and fails it first.
    let jobs = json!({"audit": {"artifacts": [], "error": "tests failed"},
        "build": {"artifacts": []}});
    let page = json!({"pipeline": {"jobs": jobs, "error": "artifact store unavailable"}});
    let server = serve_cursor_walk(&[page]).await;
    let path = "$..artifacts[?@.public == true]";
    let c = build(items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": path})),
    ));
    let from = start_with(
        &c,
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0,
        "carried": "[/pipeline/jobs/build/artifacts", "place_for": path}}),
    );
    let (_, _, err) = drain_from(&c, from).await;
    let err = err.expect("an error object is no empty page");
    let (fresh, carried) = err
        .split_once(
            " (and under the place `[/pipeline/jobs/build/artifacts` kept from before, which a \
             full sync does not use: ",
        )
        .unwrap_or_else(|| panic!("{err}"));
    let fresh = fresh
        .split_once("matches nothing in the response: ")
        .unwrap()
        .1;
    assert!(
        fresh.starts_with("the response's `/pipeline/jobs/audit/error` is set"),
        "{err}"
    );
    assert!(
        carried.starts_with("the response's `/pipeline/error` is set"),
        "{err}"
    );
}

/// review25 F5: a place written before `place_for` existed, under an `items_path` edited at
/// the upgrade to one without a filter, was kept as a hint that no page replaces, and so was
/// written into every checkpoint of that plain walk and carried on forever. A plain path
/// holds no place.
#[tokio::test]
async fn a_plain_path_drops_an_untagged_place() {
    let server = MockServer::start().await;
    let bodies = [
        json!({"items": [record(1, true)]}),
        json!({"items": [record(2, false)]}),
    ];
    mount_cursor_walk(&server, &bodies).await;
    let c = build(items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": "$.items"})),
    ));
    let cp = c.as_checkpointed().unwrap();
    for state in [
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0, "full": false,
            "place": "{/data"}}),
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0, "full": false,
            "carried": "{/data"}}),
    ] {
        let mut from = cp.initial_checkpoint_json().unwrap();
        from.state = state.clone();
        let (n, all, err) = drain_from(&c, from).await;
        assert_eq!((n, err), (2, None), "{state}");
        for checkpoint in &all {
            let text = checkpoint.state.to_string();
            assert!(!text.contains("/data"), "{state}: {text}");
        }
        let carried = cp.carry_over_json(all.last().unwrap()).unwrap();
        assert_eq!(carried.map(|c| c.state), None, "{state}");
        // Core hands back the untouched start when a run acknowledged no batch.
        let mut start = cp.initial_checkpoint_json().unwrap();
        start.state = state.clone();
        let carried = cp.carry_over_json(&start).unwrap();
        assert_eq!(carried.map(|c| c.state), None, "{state}");
    }
}

/// review25 F6: `carry_over` of fix13's own bytes (its carried start and a mid-run
/// checkpoint, no `place_for`), as core hands back a start no batch moved: the place is
/// carried as the current path's hint, tagged with it, and the start is the current config's.
#[tokio::test]
async fn fix13s_checkpoints_carry_over_as_a_tagged_hint() {
    let path = "$.data[?@.public == true]";
    let c = build(items_config(
        "http://127.0.0.1:9",
        &cursor_fields(json!({"items_path": path})),
    ));
    let cp = c.as_checkpointed().unwrap();
    for state in [
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0, "full": false,
            "place": "{/data"}}),
        json!({"next": {"at": {"kind": "cursor", "cursor": "p2"}, "pages": 1, "place": "{/data",
            "usual": ["5f0c4a1e9d2b7c3a8e6f1d0b4c9a2e7f"]}}),
    ] {
        let mut last = cp.initial_checkpoint_json().unwrap();
        last.state = state.clone();
        let carried = cp
            .carry_over_json(&last)
            .unwrap()
            .expect("a place is carried");
        let next = &carried.state["next"];
        assert_eq!(next["carried"], json!("{/data"), "{state}");
        assert_eq!(next["place_for"], json!(path), "{state}");
        assert_eq!(next.get("place"), None, "{state}");
        assert_eq!(
            next["at"],
            json!({"kind": "cursor", "cursor": null}),
            "{state}"
        );
        assert_eq!(next["pages"], json!(0), "{state}");
        assert_eq!(next["usual"], state["next"]["usual"], "{state}");
    }
}
