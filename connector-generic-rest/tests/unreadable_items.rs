//! An item the connector cannot read (a number out of range, `1e400`; a lone surrogate)
//! fails alone, named, and the items after it, on its page and the next, are delivered: the
//! developers' guide's "a failing item is reported and the sync goes on". Prune lists such an
//! item by its id where that can be read, and fails rather than leave it out where not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;

use common::build;
use connector_core::ids::hash128;
use connector_core::{Connector, Document, Error, Failure, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn load(c: &Arc<dyn Connector>) -> (Vec<Document>, Vec<Failure>, Option<Error>) {
    let mut s = c.as_load().expect("load").load(SyncContext::new());
    let (mut docs, mut fails) = (Vec::new(), Vec::new());
    while let Some(page) = s.next().await {
        match page {
            Ok(b) => {
                docs.extend(b.documents);
                fails.extend(b.failures);
            }
            Err(e) => return (docs, fails, Some(e)),
        }
    }
    (docs, fails, None)
}

async fn list_ids(c: &Arc<dyn Connector>) -> Result<Vec<String>, Error> {
    let mut s = c.as_slim().expect("slim").list_ids(SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = s.next().await {
        ids.extend(page?.into_iter().map(|d| d.id));
    }
    Ok(ids)
}

fn doc_id(raw: &str) -> String {
    hash128(&format!("rest_api:{raw}"))
}

fn item(i: usize) -> String {
    format!(r#"{{"id": {i}, "title": "Item {i}", "score": {i}, "tags": [{{"label": "t{i}"}}]}}"#)
}

/// Pages 1 and 2 of five items and one: the third item of page 1 is `third`.
async fn serve(server: &MockServer, third: &str, numbered: bool) {
    let page1 = format!(
        r#"{{"data": [{}, {}, {third}, {}, {}], "meta": {{"next": "c2"}}}}"#,
        item(1),
        item(2),
        item(4),
        item(5)
    );
    let page2 = format!(r#"{{"data": [{}], "meta": {{"next": null}}}}"#, item(6));
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
    let mut cfg = json!({
        "url": format!("{}/items", server.uri()),
        "items_path": "$.data",
        "id_field": "id",
        "content_fields": "title",
        "metadata_fields": ["score"],
    });
    if numbered {
        cfg["pagination_type"] = json!("page");
    } else {
        cfg["pagination_type"] = json!("cursor");
        cfg["pagination_config"] =
            json!({"cursor_param": "after", "next_cursor_path": "$.meta.next"});
    }
    for (k, v) in fields.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
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
    let message = &fails[0].message;
    assert!(
        message.starts_with("rest_api: entry 2 of the page could not be read: ")
            && message.contains(reason),
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
            "number out of range at `$.data[2].score`",
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
            "number out of range at `$.data[2].score`",
        )
        .await;
        // Without `id_field` the id is the whole item's hash: the failure names its index.
        one_fails_alone(
            config(&server, numbered, json!({"id_field": null})),
            None,
            "number out of range at `$.data[2].score`",
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
            "at `$.data[2].x`",
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
                .contains("entry 2 of the page could not be read, nor its id"),
            "{err}"
        );

        let server = MockServer::start().await;
        serve(&server, r#"{"id": 1e400, "score": 3}"#, numbered).await;
        let c = build(config(&server, numbered, json!({})));
        let err = list_ids(&c).await.unwrap_err();
        assert!(
            err.to_string().contains(
                "entry 2 of the page could not be read, nor its id: number out of range at `$.data[2].id`"
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
