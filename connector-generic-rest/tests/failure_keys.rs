//! An item that fails without an id is keyed in the state store by its message
//! (`connector_core::state::failure_key`). Its page and position are shown but kept out of
//! that key (`Failure::at`), and a hash of its content tells it from other such items: the
//! same item keeps its key when its page moves (a new cursor, items inserted before it), so
//! history shows it still failing, not resolved and failing anew.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, items_config, load};
use connector_core::state::failure_key;
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The failures' keys of a cursor walk whose first page holds `first` and whose second page,
/// reached by the cursor `cursor`, holds `second` (raw JSON of the items).
async fn keys(items_path: &str, cursor: &str, first: &str, second: &str) -> Vec<String> {
    let server = MockServer::start().await;
    let page = |items: &str, next: Value| {
        ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"data": [{items}], "meta": {{"next": {next}}}}}"#),
            "application/json",
        )
    };
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(page(first, json!(cursor)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", cursor))
        .respond_with(page(second, Value::Null))
        .mount(&server)
        .await;
    let cfg = items_config(
        &server.uri(),
        &json!({
            "items_path": items_path,
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "after", "next_cursor_path": "$.meta.next"},
        }),
    );
    let (_, fails, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    fails.iter().map(failure_key).collect()
}

/// Before, the message began with the page's name ("rest_api: page 2 (cursor c2), entry 1:
/// item has no `id`"), so the key changed with the cursor and the entry's index.
#[tokio::test]
async fn an_item_without_an_id_keeps_its_key_where_its_page_moves() {
    let good = |i: u32| format!(r#"{{"id": {i}, "title": "t{i}"}}"#);
    let no_id = r#"{"title": "no id", "score": 1}"#;
    let other_no_id = r#"{"title": "another without id", "score": 2}"#;
    let not_object = r#""a string""#;
    // An id that cannot be read (`1e400`): told by the item's bytes.
    let bad_id = r#"{"id": 1e400, "title": "bad id"}"#;
    // Plain names (read by the plan, in place), a wildcard (trees), a filter.
    for path in ["$.data", "$.data[*]", "$.data[?@.title]"] {
        let second = format!("{}, {no_id}, {not_object}, {bad_id}", good(2));
        let before = keys(path, "c2-first-run", &good(1), &second).await;
        // Next run: another cursor, items inserted before them, on the first page now.
        let first = format!("{}, {}, {no_id}, {bad_id}, {not_object}", good(7), good(8));
        let after = keys(path, "c9-second-run", &first, &good(2)).await;
        // The filter leaves out the string, which has no `title`.
        let failing = if path.contains('?') { 2 } else { 3 };
        assert_eq!(before.len(), failing, "{path}: {before:?}");
        let mut sorted = (before.clone(), after.clone());
        sorted.0.sort();
        sorted.1.sort();
        assert_eq!(sorted.0, sorted.1, "{path}: {before:?} {after:?}");
        // Two items without an id keep two keys.
        let two = keys(path, "c2", no_id, other_no_id).await;
        assert_eq!(two.len(), 2, "{path}");
        assert_ne!(two[0], two[1], "{path}");
        assert!(before.contains(&two[0]), "{path}: {before:?} {two:?}");
    }
}
