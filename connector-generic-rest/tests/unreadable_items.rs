//! An item the connector cannot read (a number out of range, `1e400`; a lone surrogate)
//! fails alone, named, and the items after it, on its page and the next, are delivered: the
//! developers' guide's "a failing item is reported and the sync goes on". Prune lists such an
//! item by its id where that can be read, and fails rather than leave it out where not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, doc_id, drain, items_config, list_ids, load};
use connector_core::{SyncContext, TimeWindow};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn item(i: usize) -> String {
    format!(r#"{{"id": {i}, "title": "Item {i}", "score": {i}, "tags": [{{"label": "t{i}"}}]}}"#)
}

/// Pages 1 and 2 of five items and one: the third item of page 1 is `third`.
async fn serve(server: &MockServer, third: &str, numbered: bool) {
    let page1 = format!(
        r#"{{"data": [{}, {}, {third}, {}, {}], "meta": {{"next": "c2"}}, "total_pages": 2}}"#,
        item(1),
        item(2),
        item(4),
        item(5)
    );
    // `total_pages` ends a numbered walk here (an `items_path` with a wildcard matches
    // nothing in an empty page, which fails it).
    let page2 = format!(
        r#"{{"data": [{}], "meta": {{"next": null}}, "total_pages": 2}}"#,
        item(6)
    );
    let (first, second) = if numbered {
        (query_param("page", "1"), query_param("page", "2"))
    } else {
        (query_param("after", "c2"), query_param("after", "c2"))
    };
    let body = |b: String| ResponseTemplate::new(200).set_body_raw(b, "application/json");
    if numbered {
        Mock::given(method("GET"))
            .and(first)
            .respond_with(body(page1))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(second)
            .respond_with(body(page2))
            .mount(server)
            .await;
        // Past the last page: an empty one ends the walk.
        Mock::given(method("GET"))
            .and(query_param("page", "3"))
            .respond_with(body(r#"{"data": []}"#.to_owned()))
            .mount(server)
            .await;
    } else {
        Mock::given(method("GET"))
            .and(query_param_is_missing("after"))
            .respond_with(body(page1))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(second)
            .respond_with(body(page2))
            .mount(server)
            .await;
    }
}

/// A config for `server`: numbered (`page`) or by cursor; `fields` adds to or overrides the
/// mapping.
fn config(server: &MockServer, numbered: bool, fields: Value) -> Value {
    let mut paging = if numbered {
        json!({"pagination_type": "page"})
    } else {
        json!({
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "after", "next_cursor_path": "$.meta.next"},
        })
    };
    for (k, v) in fields.as_object().unwrap() {
        paging[k] = v.clone();
    }
    items_config(&server.uri(), &paging)
}

/// The sync of a page whose third item cannot be read: items 1, 2, 4, 5 and the next
/// page's 6 delivered, in order, and one failure for the third, named by `id` (or none) and
/// with `reason` in its message.
async fn one_fails_alone(cfg: Value, id: Option<&str>, reason: &str) {
    let c = build(cfg.clone());
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none(), "{cfg}: {err:?}");
    let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Item 1", "Item 2", "Item 4", "Item 5", "Item 6"],
        "{cfg}"
    );
    assert_eq!(fails.len(), 1, "{cfg}: {fails:?}");
    assert_eq!(fails[0].id, id.map(doc_id), "{cfg}: {fails:?}");
    let message = &fails[0].to_string();
    // What failed, told by a hash of its bytes without an id; then where.
    assert!(
        message.starts_with("rest_api: item could not be read: ")
            && message.contains(reason)
            && message.contains(" (content hash ") == id.is_none()
            && message.ends_with(" \u{2014} at page 1, entry 2 (`$.data[2]`)"),
        "{cfg}: {message}"
    );
}

#[tokio::test]
async fn a_mapped_value_the_plan_cannot_read_fails_its_item_alone() {
    let third = r#"{"id": 3, "title": "Item 3", "score": 1e400}"#;
    for numbered in [false, true] {
        let server = MockServer::start().await;
        serve(&server, third, numbered).await;
        // With a plan (every path a chain of names).
        one_fails_alone(
            config(&server, numbered, json!({})),
            Some("3"),
            "number out of range at `item.score`",
        )
        .await;
        // Without one (a path below `[*]`): trees, which hold no `1e400` either.
        one_fails_alone(
            config(
                &server,
                numbered,
                json!({"metadata_fields": ["score", "tags[*].label"]}),
            ),
            Some("3"),
            "number out of range at `item.score`",
        )
        .await;
        // Without `id_field` the id is the whole item's hash: the failure names its index.
        one_fails_alone(
            config(&server, numbered, json!({"id_field": null})),
            None,
            "number out of range at `item.score`",
        )
        .await;
    }
}

/// A member no tree can hold, outside the mapped paths: the plan reads the item (and
/// delivers it); trees fail it alone.
#[tokio::test]
async fn an_unmapped_value_no_tree_holds_fails_only_where_trees_read() {
    let third = r#"{"id": 3, "title": "Item 3", "x": "\ud800"}"#;
    for numbered in [false, true] {
        let server = MockServer::start().await;
        serve(&server, third, numbered).await;
        let c = build(config(&server, numbered, json!({})));
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none() && fails.is_empty(), "{err:?} {fails:?}");
        assert_eq!(docs.len(), 6);
        assert_eq!(docs[2].title, "Item 3");
        one_fails_alone(
            config(
                &server,
                numbered,
                json!({"metadata_fields": ["tags[*].label"]}),
            ),
            Some("3"),
            "at `item.x`",
        )
        .await;
    }
}

/// Prune lists an item that cannot be read whole by its id, read alone; where the id cannot
/// be read either, the listing fails (prune deletes what is not listed).
#[tokio::test]
async fn prune_lists_an_unreadable_item_by_its_id_or_fails() {
    let all: Vec<String> = (1..=6).map(|i| doc_id(&i.to_string())).collect();
    for numbered in [false, true] {
        let server = MockServer::start().await;
        serve(&server, r#"{"id": 3, "score": 1e400}"#, numbered).await;
        for fields in [
            json!({}),
            json!({"metadata_fields": ["score", "tags[*].label"]}),
        ] {
            let c = build(config(&server, numbered, fields));
            assert_eq!(list_ids(&c).await.unwrap(), all, "numbered: {numbered}");
        }
        // Without `id_field` an id is the item's hash, which an item no tree holds has not.
        let c = build(config(&server, numbered, json!({"id_field": null})));
        let err = list_ids(&c).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("page 1, entry 2 could not be read, nor its id"),
            "{err}"
        );

        let server = MockServer::start().await;
        serve(&server, r#"{"id": 1e400, "score": 3}"#, numbered).await;
        let c = build(config(&server, numbered, json!({})));
        let err = list_ids(&c).await.unwrap_err();
        assert!(
            err.to_string().contains(
                "page 1, entry 2 could not be read, nor its id: number out of range at `$.data[2].id`"
            ),
            "{err}"
        );
        // The sync delivers the others and fails that one, with no id to name it by.
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(docs.len(), 5);
        assert_eq!(fails.len(), 1);
        assert_eq!(fails[0].id, None);
    }
}

/// The items' list found on the `Value` path (an `items_path` with a wildcard or a filter,
/// or none: the list found by its name): an item that holds a value no tree can hold fails
/// alone, named, and the others are delivered, where the whole page failed on every run.
#[tokio::test]
async fn on_the_value_path_an_item_that_cannot_be_read_fails_alone() {
    for (third, reason) in [
        (
            r#"{"id": 3, "title": "Item 3", "score": 1e400}"#,
            "number out of range at `item.score`",
        ),
        (
            r#"{"id": 3, "title": "Item 3", "score": ["\ud800"]}"#,
            "at `item.score[0]`",
        ),
    ] {
        for numbered in [false, true] {
            let server = MockServer::start().await;
            serve(&server, third, numbered).await;
            for path in [json!("$.data[*]"), json!("$.data[?@.id > 0]"), Value::Null] {
                one_fails_alone(
                    config(&server, numbered, json!({"items_path": path})),
                    Some("3"),
                    reason,
                )
                .await;
                // Without a plan nor an `id_field`.
                one_fails_alone(
                    config(
                        &server,
                        numbered,
                        json!({"items_path": path, "id_field": null, "metadata_fields": ["tags[*].label"]}),
                    ),
                    None,
                    reason,
                )
                .await;
            }
            // A filter that leaves item 1 out: the failure is the second match's, at its
            // place in the body.
            let c = build(config(
                &server,
                numbered,
                json!({"items_path": "$.data[?@.id != 1]"}),
            ));
            let (docs, fails, err) = load(&c).await;
            assert!(err.is_none(), "{err:?}");
            assert_eq!(docs.len(), 4);
            assert_eq!(fails.len(), 1, "{fails:?}");
            assert!(
                fails[0]
                    .message
                    .starts_with("rest_api: item could not be read: ")
                    && fails[0].message.contains(reason)
                    && fails[0]
                        .to_string()
                        .ends_with(" \u{2014} at page 1, entry 1 (`$.data[2]`)"),
                "{}",
                fails[0].message
            );
            // Prune lists it by its id.
            let all: Vec<String> = (1..=6).map(|i| doc_id(&i.to_string())).collect();
            let c = build(config(
                &server,
                numbered,
                json!({"items_path": "$.data[*]"}),
            ));
            assert_eq!(list_ids(&c).await.unwrap(), all);
        }
    }
    // An id that cannot be read: the sync fails the item with no id, prune fails naming it.
    for numbered in [false, true] {
        let server = MockServer::start().await;
        serve(&server, r#"{"id": 1e400, "title": "Item 3"}"#, numbered).await;
        let c = build(config(
            &server,
            numbered,
            json!({"items_path": "$.data[*]"}),
        ));
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!((docs.len(), fails.len()), (5, 1));
        assert_eq!(fails[0].id, None);
        let err = list_ids(&c).await.unwrap_err();
        assert!(
            err.to_string().contains(
                "page 1, entry 2 could not be read, nor its id: number out of range at `$.data[2].id`"
            ),
            "{err}"
        );
    }
}

/// Outside the items, a value no tree can hold fails the page only where the page reads it
/// (the next cursor, a total): what comes next cannot be told. Elsewhere it changes nothing.
#[tokio::test]
async fn outside_the_items_a_value_that_cannot_be_read_fails_the_page_where_read() {
    let body = |b: String| ResponseTemplate::new(200).set_body_raw(b, "application/json");
    let page = |meta: &str| format!(r#"{{"data": [{}, {}], "meta": {meta}}}"#, item(1), item(2));
    for path in ["$.data", "$.data[*]"] {
        // The cursor itself.
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(body(page(r#"{"next": 1e400}"#)))
            .mount(&server)
            .await;
        let c = build(config(&server, false, json!({"items_path": path})));
        let (docs, _, err) = load(&c).await;
        let err = err.expect("the page fails");
        assert!(docs.is_empty());
        assert!(
            err.to_string()
                .contains("the next cursor could not be read: number out of range"),
            "{err}"
        );
        // A total.
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(body(format!(
                r#"{{"data": [{}], "total": 1e400}}"#,
                item(1)
            )))
            .mount(&server)
            .await;
        let c = build(config(&server, true, json!({"items_path": path})));
        let (_, _, err) = load(&c).await;
        let err = err.expect("the page fails");
        assert!(
            err.to_string()
                .contains("the `total` could not be read: number out of range"),
            "{err}"
        );
        // A member no one reads.
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(query_param_is_missing("after"))
            .respond_with(body(page(r#"{"next": "c2", "debug": [1e400, "\ud800"]}"#)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(query_param("after", "c2"))
            .respond_with(body(format!(r#"{{"data": [{}], "meta": {{}}}}"#, item(3))))
            .mount(&server)
            .await;
        let c = build(config(&server, false, json!({"items_path": path})));
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none() && fails.is_empty(), "{err:?} {fails:?}");
        assert_eq!(docs.len(), 3);
    }
    // A body that is not JSON fails as before.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(body(r#"{"data": [1e400, tru]}"#.to_owned()))
        .mount(&server)
        .await;
    let c = build(config(&server, false, json!({"items_path": "$.data[*]"})));
    let (_, _, err) = load(&c).await;
    assert!(err.is_some());
}

/// A failure names its page: the page number sent, else its place in the run and the
/// cursor or URL (a credential in the URL redacted).
#[tokio::test]
async fn item_failures_name_their_page() {
    let body = |b: String| ResponseTemplate::new(200).set_body_raw(b, "application/json");
    let page2 = format!(
        r#"{{"data": [{{"id": 7, "score": 1e400}}, {{"title": "no id"}}, "x", {}], "meta": {{"next": null}}, "links": {{"next": null}}}}"#,
        item(8)
    );
    for style in ["cursor", "page", "next_url"] {
        let server = MockServer::start().await;
        let mut cfg = config(&server, style == "page", json!({}));
        let named = match style {
            "cursor" => {
                Mock::given(method("GET"))
                    .and(query_param_is_missing("after"))
                    .respond_with(body(format!(
                        r#"{{"data": [{}], "meta": {{"next": "c2"}}}}"#,
                        item(1)
                    )))
                    .mount(&server)
                    .await;
                "page 2 (cursor c2)".to_owned()
            }
            "page" => {
                Mock::given(method("GET"))
                    .and(query_param("page", "1"))
                    .respond_with(body(format!(r#"{{"data": [{}]}}"#, item(1))))
                    .mount(&server)
                    .await;
                Mock::given(method("GET"))
                    .and(query_param("page", "3"))
                    .respond_with(body(r#"{"data": []}"#.to_owned()))
                    .mount(&server)
                    .await;
                "page 2".to_owned()
            }
            _ => {
                cfg["url"] = json!(format!("{}/items?api_key=k-5ecret-77", server.uri()));
                cfg["pagination_type"] = json!("next_url_path");
                cfg["pagination_config"] =
                    json!({"next_url_path": "links.next", "page_param": "p"});
                Mock::given(method("GET"))
                    .and(query_param_is_missing("p"))
                    .respond_with(body(format!(
                        r#"{{"data": [{}], "links": {{"next": "/items?api_key=k-5ecret-77&p=2"}}}}"#,
                        item(1)
                    )))
                    .mount(&server)
                    .await;
                // Core's redaction (no query), then only the paging parameters' values.
                format!("page 2 ({}/items, p=2)", server.uri())
            }
        };
        let second = match style {
            "cursor" => query_param("after", "c2"),
            "page" => query_param("page", "2"),
            _ => query_param("p", "2"),
        };
        Mock::given(method("GET"))
            .and(second)
            .respond_with(body(page2.clone()))
            .mount(&server)
            .await;
        let c = build(cfg.clone());
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none(), "{style}: {err:?}");
        assert_eq!(docs.len(), 2, "{style}");
        let shown: Vec<String> = fails.iter().map(ToString::to_string).collect();
        let messages: Vec<&str> = shown.iter().map(String::as_str).collect();
        // What failed (told by a hash of its content where it has no id), then where.
        assert_eq!(messages.len(), 3, "{style}: {messages:?}");
        assert_eq!(
            messages[0],
            format!(
                "rest_api: item could not be read: number out of range at `item.score` \u{2014} at {named}, entry 0 (`$.data[0]`)"
            ),
            "{style}"
        );
        for (message, what, entry) in [
            (messages[1], "item has no `id`", 1),
            (messages[2], "item is a string, not an object", 2),
        ] {
            let (told, place) = message.split_once(" (content hash ").unwrap();
            assert_eq!(told, format!("rest_api: {what}"), "{style}");
            assert!(
                place.ends_with(&format!(") \u{2014} at {named}, entry {entry}")),
                "{style}: {message}"
            );
        }
        // Prune names the entry whose id it cannot read alike.
        let err = list_ids(&c).await.unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{named}, entry 1: item has no `id`")),
            "{style}: {err}"
        );
    }
}

/// In an incremental run, an item that cannot be read is skipped, like any other, when its
/// time, read alone, lies outside the window, and fails when it lies in it (or cannot be
/// read).
#[tokio::test]
async fn an_unreadable_item_outside_the_window_is_skipped() {
    const T0: i64 = 1_767_225_600;
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap();
    let window = TimeWindow::new(at(T0), at(T0 + 100)).unwrap();
    let item = |id: u32, t: &str| {
        format!(r#"{{"id": {id}, "title": "Item {id}", "x": 1e400, "updated_at": {t}}}"#)
    };
    let page = format!(
        r#"{{"data": [{}, {}, {}, {}, {}, {{"id": 6, "title": "Item 6", "updated_at": {}}}]}}"#,
        item(1, &(T0 - 10).to_string()),
        item(2, &(T0 + 10).to_string()),
        item(3, "1e400"),
        item(4, "\"2026-01-01T00:00:50Z\""),
        item(5, "null"),
        T0 + 20,
    );
    for path in ["$.data", "$.data[*]"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(page.clone(), "application/json"))
            .mount(&server)
            .await;
        let c = build(json!({
            "url": format!("{}/items", server.uri()),
            "items_path": path,
            "id_field": "id",
            "content_fields": "title",
            // Trees: each item with `x` fails alone.
            "metadata_fields": ["x"],
            "poll_timestamp_field": "updated_at",
        }));
        let (docs, fails, err) =
            drain(c.as_poll().expect("poll").poll(window, SyncContext::new())).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].title, "Item 6");
        // Items 2 and 4 are in the window; item 3's time cannot be read. Item 1 lies before
        // it and item 5 has no time: skipped, as items that read are.
        let ids: Vec<Option<String>> = fails.iter().map(|f| f.id.clone()).collect();
        assert_eq!(
            ids,
            [Some(doc_id("2")), Some(doc_id("3")), Some(doc_id("4"))],
            "{path}: {fails:?}"
        );
        // A full run fails all five.
        let (_, fails, _) = load(&c).await;
        assert_eq!(fails.len(), 5, "{path}");
    }
}
