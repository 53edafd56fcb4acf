//! Review20's open findings on fix14's merge: places written before `place_for` existed, a
//! record map with word keys under a descendant name, and the message when both readings of
//! a page fail. Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{
    build, cursor_fields, drain_from, items_config, mount_cursor_walk, record, serve_cursor_walk,
    start_with,
};
use connector_core::SyncContext;
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::MockServer;

/// review20 F3: a place written by fix11-fix13 (no `place_for`) was dropped where a run
/// started or resumed, so a record map with word keys, which only the place tells from an
/// error object, failed every run after the upgrade (its carried start, and Auto's resume
/// of its mid-run checkpoint). Such a place is read as a carried hint.
#[tokio::test]
async fn a_place_written_before_place_for_is_a_hint() {
    let private = json!({"data": {"intro": record(1, false), "drafts": record(2, false)}});
    let fields = cursor_fields(json!({"items_path": "$.data[?@.public == true]"}));
    // fix13's carried start (`carry_over`), and its mid-run checkpoint before `p2`.
    let fix13 = [
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0, "full": false,
            "place": "{/data"}}),
        json!({"next": {"at": {"kind": "cursor", "cursor": "p2"}, "pages": 1, "place": "{/data"}}),
    ];
    for state in fix13 {
        let server = MockServer::start().await;
        // p1 and p2 both hold no public record.
        mount_cursor_walk(&server, &[private.clone(), private.clone()]).await;
        let c = build(items_config(&server.uri(), &fields));
        let cp = c.as_checkpointed().unwrap();
        let mut from = cp.initial_checkpoint_json().unwrap();
        from.state = state.clone();
        let (n, all, err) = drain_from(&c, from).await;
        let last = all.last().cloned();
        assert_eq!((n, err), (0, None), "{state}");
        // The place is carried on to the run after, tagged with the path.
        let carried = cp.carry_over_json(&last.unwrap()).unwrap().unwrap();
        assert_eq!(
            carried.state["next"]["place_for"],
            json!("$.data[?@.public == true]"),
            "{state}"
        );
        let (n, _, err) = drain_from(&c, carried).await;
        assert_eq!((n, err), (0, None), "{state}");
    }
    // A place learned for another path is still dropped: the same page fails.
    let server = serve_cursor_walk(&[private]).await;
    let c = build(items_config(&server.uri(), &fields));
    let from = start_with(
        &c,
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0,
        "carried": "{/data", "place_for": "$.data[?@.open]"}}),
    );
    let (_, _, err) = drain_from(&c, from).await;
    assert!(err.is_some_and(|e| e.contains("none of which")));
}

/// review20 F4's remainder: under a descendant name at the list level (`$..artifacts[?…]`),
/// a record map with word keys (`build`, `test`) was taken for an envelope, so one entry's
/// own `error` failed the run. The place the run learned (its items sat below `build`)
/// and every entry holding the list tell it for a record map. A response's own `error`, and
/// an envelope beside an object that does not hold the list, still fail.
#[tokio::test]
async fn a_word_keyed_record_map_under_a_descendant_name_is_read_with_the_place() {
    let jobs = |build: Value, test: Value| json!({"jobs": {"build": build, "test": test}});
    let bodies = [
        jobs(
            json!({"artifacts": [record(1, true)]}),
            json!({"artifacts": []}),
        ),
        jobs(
            json!({"artifacts": [record(2, false)]}),
            json!({"artifacts": [], "error": "tests failed"}),
        ),
        jobs(
            json!({"artifacts": [record(3, true)]}),
            json!({"artifacts": []}),
        ),
    ];
    let server = serve_cursor_walk(&bodies).await;
    let fields = cursor_fields(json!({"items_path": "$..artifacts[?@.public == true]"}));
    let (docs, _, err) = common::load(&build(items_config(&server.uri(), &fields))).await;
    assert_eq!(err.map(|e| e.to_string()), None);
    let titles: Vec<String> = docs.into_iter().map(|d| d.title).collect();
    assert_eq!(titles, ["t1", "t3"]);

    // Still loud: an envelope whose sibling does not hold the list, and the response's own
    // top-level `error` (review18 probe E).
    let fields = cursor_fields(json!({"items_path": "$..data[?@.public == true]"}));
    let cases = [
        (
            json!({"result": {"data": [], "error": "busy"}, "stats": {"took": 4}}),
            "/result/error",
        ),
        (
            json!({"result": {"data": []}, "error": {"message": "backend timeout"}}),
            "`error` is set",
        ),
    ];
    for (end, says) in cases {
        let server = MockServer::start().await;
        let first = json!({"result": {"data": [record(1, true)]}, "stats": {"took": 3}});
        mount_cursor_walk(&server, &[first, end.clone()]).await;
        let (_, _, err) = common::load(&build(items_config(&server.uri(), &fields))).await;
        let err = err
            .expect("the response's error fails the page")
            .to_string();
        assert!(err.contains(says), "{end}: {err}");
    }
}

/// review20 F6 (review18 R3's note): a page that fails under the carried place and as a
/// first run's page did not say a carried place was read, nor that a full sync starts
/// without it.
#[tokio::test]
async fn a_page_failing_both_readings_names_the_carried_place() {
    let server = serve_cursor_walk(&[json!({"data": {"message": "rate limited"}})]).await;
    let path = "$.data[?@.public == true]";
    let c = build(items_config(
        &server.uri(),
        &cursor_fields(json!({"items_path": path})),
    ));
    let from = start_with(
        &c,
        json!({"next": {"at": {"kind": "cursor", "cursor": null}, "pages": 0,
        "carried": "{/data", "place_for": path}}),
    );
    let (_, _, err) = drain_from(&c, from).await;
    let err = err.expect("an error object is no empty page");
    assert!(err.contains("`{/data` kept from before"), "{err}");
    assert!(err.contains("full sync"), "{err}");
}

/// A plain path (no filter) holds no place: its mid-run, last and carried checkpoints are
/// as before review20's changes, byte for byte (these literals pass on main before them).
#[tokio::test]
async fn a_plain_paths_checkpoints_are_unchanged() {
    use common::{FakeApi, Style};
    let page = json!({"items_path": "$.data", "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 3}});
    let mut cursor = cursor_fields(json!({"items_path": "$.items"}));
    cursor["pagination_config"]["next_cursor_path"] = json!("$.meta.next_cursor");
    let mut seen = Vec::new();
    for (style, mut fields) in [(Style::Page, page), (Style::Cursor, cursor)] {
        let server = MockServer::start().await;
        FakeApi::new(7, style).mount(&server, "/items").await;
        fields["url"] = json!(format!("{}/items?limit=3", server.uri()));
        fields["metadata_fields"] = json!([]);
        let c = build(items_config(&server.uri(), &fields));
        let cp = c.as_checkpointed().unwrap();
        let from = cp.initial_checkpoint_json().unwrap();
        let mut s = cp.load_from_checkpoint_json(from, None, SyncContext::new());
        let mut last = None;
        while let Some(p) = s.next().await {
            let p = p.unwrap();
            seen.push(serde_json::to_string(&p.checkpoint.state).unwrap());
            last = Some(p.checkpoint);
        }
        let carried = cp.carry_over_json(&last.unwrap()).unwrap();
        seen.push(format!("{:?}", carried.map(|c| c.state.to_string())));
    }
    assert_eq!(
        seen,
        [
            r#"{"next":{"at":{"kind":"page","page":2},"full":true,"items":3,"pages":1,"prev":"2a241907735dab43895fe0d93e978b95"}}"#,
            r#"{"next":{"at":{"kind":"page","page":3},"full":true,"items":6,"pages":2,"prev":"f6fdc03d3173290866e05216d58ba920"}}"#,
            r#"{"next":null}"#,
            "None",
            r#"{"next":{"at":{"cursor":"c3","kind":"cursor"},"full":false,"items":3,"pages":1}}"#,
            r#"{"next":{"at":{"cursor":"c6","kind":"cursor"},"full":false,"items":6,"pages":2}}"#,
            r#"{"next":null}"#,
            "None",
        ]
    );
}
