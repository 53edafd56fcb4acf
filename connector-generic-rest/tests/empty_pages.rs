//! A page whose `items_path` matches nothing: an empty page where the path leads to an empty
//! list (or `null`), so that a numbered walk ends there and a cursor walk goes on; an error
//! naming the path where the body's shape is not the path's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, items_config, load};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A numbered walk (`page`) with `items_path`: page 1 holds items 1 and 2 under `data` (or
/// `result.data`, `it's` or `data.items` for a path through them), page
/// 2 is `last`; the documents, the error's text and the requests made.
async fn walk(items_path: &str, last: Value) -> (usize, Option<String>, usize) {
    let data = json!([{"id": 1, "title": "one"}, {"id": 2, "title": "two"}]);
    let first = if items_path.contains("result") {
        json!({"result": {"data": data}})
    } else if items_path.contains("it\\'s") {
        json!({"it's": data})
    } else if items_path.contains("data.items") {
        json!({"data": {"items": data}})
    } else if items_path.contains("data.posts") {
        json!({"data": {"posts": data}})
    } else {
        json!({"data": data})
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(last))
        .mount(&server)
        .await;
    let cfg = items_config(
        &server.uri(),
        &json!({"items_path": items_path, "pagination_type": "page", "max_pages": 5}),
    );
    let (docs, fails, err) = load(&build(cfg)).await;
    assert!(fails.is_empty(), "{fails:?}");
    let requests = server.received_requests().await.unwrap().len();
    (docs.len(), err.map(|e| e.to_string()), requests)
}

/// Before, every form but `$.data` failed the walk at its last page with "`items_path`
/// matches nothing in the response": a numbered walk over `$.data[*]` could not end without
/// a total.
#[tokio::test]
async fn an_empty_or_null_list_is_an_empty_page_that_ends_a_numbered_walk() {
    let empty = [
        ("$.data[*]", json!({"data": []})),
        ("$.data[*]", json!({"data": null})),
        ("$.data.*", json!({"data": {}})),
        ("$.data[?@.id > 0]", json!({"data": []})),
        ("$.data[0:10]", json!({"data": []})),
        ("$['data'][*]", json!({"data": []})),
        ("$..data[*]", json!({"data": []})),
        ("$..[?@.title]", json!({})),
        ("$.result.data[*]", json!({"result": {"data": []}})),
        ("$.result.data", json!({"result": {"data": []}})),
        ("$ .data [*]", json!({"data": []})),
        ("$['it\\'s'][*]", json!({"it's": null})),
        // review10 F2: a nameless descendant filter over a body that holds a list.
        ("$..[?@.title]", json!({"data": []})),
        // No error said: `error`/`errors` unset as APIs write it.
        ("$.data[*]", json!({"data": [], "errors": []})),
        ("$.data[*]", json!({"data": [], "error": null})),
        ("$.data[*]", json!({"data": [], "error": false})),
        ("$.data", json!({"data": [], "error": ""})),
    ];
    for (path, last) in empty {
        assert_eq!(
            walk(path, last.clone()).await,
            (2, None, 2),
            "{path} on {last}"
        );
    }
    // Every entry left out by the filter: no match, and no error, but not an empty page
    // either: its listing holds an entry (`tests/filtered_walks.rs`), so the walk asks for
    // page 3, whose 404 ends it.
    let last = json!({"data": [{"id": -1}]});
    assert_eq!(walk("$.data[?@.id > 0]", last).await, (2, None, 3));
}

/// A body whose shape is not the path's fails, naming the path and where: a name the path
/// requires that the object does not hold, a scalar where a list or object is needed.
#[tokio::test]
async fn a_body_of_another_shape_fails_naming_the_path() {
    let wrong = [
        ("$.data[*]", json!({}), "`$` has no `data`"),
        ("$.data[*]", json!({"error": "busy"}), "`$` has no `data`"),
        ("$.data", json!({"items": []}), "`$` has no `data`"),
        ("$.data[*]", json!({"data": "none"}), "`$.data` is a string"),
        (
            "$.data[?@.id > 0]",
            json!({"data": 0}),
            "`$.data` is a number",
        ),
        (
            "$.result.data[*]",
            json!({"result": {}}),
            "`$.result` has no `data`",
        ),
        (
            "$.result.data[*]",
            json!({"result": []}),
            "`$.result` is a list",
        ),
        ("$['data'][*]", json!({}), "`$` has no `data`"),
        // An error body answered with 200 (review9 F2, F5): never an empty page.
        (
            "$.result.data[*]",
            json!({"result": null}),
            "`$.result` is null",
        ),
        (
            "$.data.items[*]",
            json!({"data": null, "errors": [{"message": "busy"}]}),
            "`$.data` is null",
        ),
        (
            "$.data[?@.id > 0]",
            json!({"data": {"message": "rate limited"}}),
            "`$.data` is an object with members, none of which `[?@.id > 0]` takes",
        ),
        (
            "$..[?@.title]",
            json!({"data": {"message": "rate limited"}}),
            "`$` is an object with members, none of which `..[?@.title]` takes",
        ),
        // A filter over an object whose members are not all objects: an error object.
        (
            "$.data[?@.id > 0]",
            json!({"data": {"a1": {"id": -1}, "code": 429}}),
            "`$.data` is an object with members",
        ),
        (
            "$..data[*]",
            json!({"error": "busy"}),
            "`$` holds no `data` at any depth",
        ),
        (
            "$['it\\'s'][*]",
            json!({"error": "busy"}),
            "`$` has no `it's`",
        ),
        ("$ .data [*]", json!({"error": "busy"}), "`$` has no `data`"),
    ];
    for (path, last, why) in wrong {
        let (docs, err, _) = walk(path, last.clone()).await;
        let err = err.unwrap_or_else(|| panic!("{path} on {last}: no error"));
        assert_eq!(docs, 2, "{path} on {last}");
        assert!(
            err.contains(&format!("`items_path` `{path}` matches nothing")) && err.contains(why),
            "{path} on {last}: {err}"
        );
    }
}

/// A cursor walk goes on past an empty page that names a next cursor.
#[tokio::test]
async fn a_cursor_walk_goes_on_past_an_empty_list() {
    let server = MockServer::start().await;
    let page = |data: Value, next: Value| {
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "next": next}))
    };
    Mock::given(method("GET"))
        .and(query_param("cursor", "c2"))
        .respond_with(page(Value::Null, json!("c3")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("cursor", "c3"))
        .respond_with(page(json!([{"id": 3, "title": "three"}]), Value::Null))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(page(json!([{"id": 1, "title": "one"}]), json!("c2")))
        .with_priority(10)
        .mount(&server)
        .await;
    let cfg = items_config(
        &server.uri(),
        &json!({
            "items_path": "$.data[*]",
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "cursor", "next_cursor_path": "$.next"},
        }),
    );
    let (docs, fails, err) = load(&build(cfg)).await;
    assert!(err.is_none() && fails.is_empty(), "{err:?} {fails:?}");
    assert_eq!(docs.len(), 2);
}

/// review10 F4: a body with no items whose root says it is an error (GraphQL's partial error on
/// a list field, `{"data": {"posts": null}, "errors": [..]}`; an `error` member) is never an
/// empty page: before, each of these ended the walk silently, and prune deleted the tail.
#[tokio::test]
async fn a_body_that_says_error_is_never_an_empty_page() {
    let errors = json!([{"message": "timeout", "path": ["posts"]}]);
    let wrong = [
        (
            "$.data.posts[*]",
            json!({"data": {"posts": null}, "errors": errors}),
            "errors",
        ),
        (
            "$.data.posts[*]",
            json!({"data": {"posts": []}, "errors": errors}),
            "errors",
        ),
        (
            "$.data.posts",
            json!({"data": {"posts": []}, "errors": errors}),
            "errors",
        ),
        ("$.data[*]", json!({"data": [], "error": "busy"}), "error"),
        (
            "$..[?@.title]",
            json!({"data": [], "error": {"code": 503}}),
            "error",
        ),
    ];
    for (path, last, member) in wrong {
        let (docs, err, _) = walk(path, last.clone()).await;
        let err = err.unwrap_or_else(|| panic!("{path} on {last}: no error"));
        assert_eq!(docs, 2, "{path} on {last}");
        assert!(
            err.contains(&format!("holds no items and its `{member}` is set")),
            "{path} on {last}: {err}"
        );
    }
}

/// A cursor walk over `pages` (the first without a cursor, then `c2`, `c3`...; each names the
/// next or `null`): the documents' titles, or the error.
async fn cursor_walk(items_path: &str, pages: &[Value]) -> Result<Vec<String>, String> {
    let server = MockServer::start().await;
    for (i, page) in pages.iter().enumerate() {
        let mock = Mock::given(method("GET"));
        let mock = if i == 0 {
            mock.respond_with(ResponseTemplate::new(200).set_body_json(page))
                .with_priority(10)
        } else {
            mock.and(query_param("cursor", format!("c{}", i + 1)))
                .respond_with(ResponseTemplate::new(200).set_body_json(page))
        };
        mock.mount(&server).await;
    }
    let cfg = items_config(
        &server.uri(),
        &json!({
            "items_path": items_path,
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "cursor", "next_cursor_path": "$.next"},
        }),
    );
    let (docs, fails, err) = load(&build(cfg)).await;
    assert!(fails.is_empty(), "{fails:?}");
    match err {
        Some(e) => Err(e.to_string()),
        None => Ok(docs.into_iter().map(|d| d.title).collect()),
    }
}

/// review10 F2: a nameless descendant filter (`$..[?@.title]`) on a page it empties, mid-walk:
/// an empty page, and the walk follows `next`. Before, the page failed the run.
#[tokio::test]
async fn a_descendant_filter_goes_on_past_a_page_it_empties() {
    let pages = [
        json!({"data": [{"id": 1, "title": "one"}], "next": "c2"}),
        json!({"data": [{"id": 2}], "next": "c3"}),
        json!({"data": [{"id": 3, "title": "three"}], "next": null}),
    ];
    assert_eq!(
        cursor_walk("$..[?@.title]", &pages).await.unwrap(),
        ["one", "three"]
    );
}

/// review10 F3: a filter over records keyed by id (Firebase's REST answer) that leaves every
/// record out: an empty page, and the walk follows `next`. Before, the page failed the run.
#[tokio::test]
async fn a_filter_over_a_record_map_goes_on_past_a_page_it_empties() {
    let record = |id: &str, status: &str| json!({"id": id, "title": id, "status": status});
    let pages = [
        json!({"data": {"a1": record("a1", "published")}, "next": "c2"}),
        json!({"data": {"a2": record("a2", "draft"), "b2": record("b2", "draft")}, "next": "c3"}),
        json!({"data": {"a3": record("a3", "published")}, "next": null}),
    ];
    assert_eq!(
        cursor_walk("$.data[?@.status == 'published']", &pages)
            .await
            .unwrap(),
        ["a1", "a3"]
    );
}
