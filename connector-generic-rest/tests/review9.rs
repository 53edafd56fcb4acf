//! review9 (read-only review of rest47): failing tests that prove findings F1..F5 of
//! /work/notes/s47/report-review9.md. Each fails on 86d966d; F2..F5 are fixed by fix9, F1 by walk47.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, items_config, load};
use connector_core::state::failure_key;
use serde_json::json;
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A `page` walk over `pages` (raw bodies, page 1 first; every later page `{"data": []}`):
/// the documents, the failures and the error.
async fn walk(
    items_path: &str,
    pages: &[&str],
) -> (
    Vec<connector_core::Document>,
    Vec<connector_core::Failure>,
    Option<String>,
) {
    let server = MockServer::start().await;
    for (i, body) in pages.iter().enumerate() {
        Mock::given(method("GET"))
            .and(query_param("page", (i + 1).to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_raw(*body, "application/json"))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .with_priority(10)
        .mount(&server)
        .await;
    let cfg = items_config(
        &server.uri(),
        &json!({"items_path": items_path, "pagination_type": "page", "max_pages": 10}),
    );
    let (docs, fails, err) = load(&build(cfg)).await;
    (docs, fails, err.map(|e| e.to_string()))
}

/// F1: a page whose entries the filter all leaves out is not the end of a numbered listing
/// (the API's page 2 is full; only the connector's filter emptied it). rest47 made it an
/// empty page, so the walk ends there silently: page 3's documents are lost, and a prune
/// run after such a listing deletes them. Before rest47 the walk failed ("matches
/// nothing"), which lost nothing.
#[tokio::test]
async fn f1_a_page_the_filter_empties_does_not_end_a_numbered_walk() {
    let (docs, _, err) = walk(
        "$.data[?@.kind == 'doc']",
        &[
            r#"{"data": [{"id": 1, "title": "a", "kind": "doc"}]}"#,
            r#"{"data": [{"id": 2, "title": "b", "kind": "folder"}]}"#,
            r#"{"data": [{"id": 3, "title": "c", "kind": "doc"}]}"#,
        ],
    )
    .await;
    assert!(
        docs.len() == 2 || err.is_some(),
        "the walk ended silently at the filtered page: {} documents, no error",
        docs.len()
    );
}

/// F2: error bodies an API answers with HTTP 200 are taken for an empty page (a silent end
/// of the walk; an empty listing for prune), where the brief's rule ("a missing name the
/// config requires is an error") should fail them.
#[tokio::test]
async fn f2_an_error_body_is_not_an_empty_page() {
    let cases = [
        // GraphQL's error answer: `data` null beside `errors`.
        (
            "$.data.items[*]",
            r#"{"data": null, "errors": [{"message": "rate limited"}]}"#,
        ),
        // An error object where the list was: a filter or wildcard over its values.
        (
            "$.data[?@.id > 0]",
            r#"{"data": {"message": "rate limited"}}"#,
        ),
        // A descendant name: an error body holds no `data` anywhere.
        ("$..data[*]", r#"{"error": "busy"}"#),
        // A quoted name holding an escaped quote is split as "Other", not as a name.
        ("$['it\\'s'][*]", r#"{"error": "busy"}"#),
    ];
    let mut silent = Vec::new();
    for (path, body) in cases {
        let first = r#"{"data": [{"id": 1, "title": "a"}], "it's": [{"id": 1, "title": "a"}], "x": {"data": [{"id": 1, "title": "a"}]}}"#;
        let first = if path.starts_with("$.data.items") {
            r#"{"data": {"items": [{"id": 1, "title": "a"}]}}"#
        } else {
            first
        };
        let (docs, _, err) = walk(path, &[first, body]).await;
        if err.is_none() {
            silent.push(format!("{path} on {body}: {} docs, no error", docs.len()));
        }
    }
    assert!(silent.is_empty(), "taken for empty pages: {silent:#?}");
}

/// F3: a string that does not read (a lone surrogate) is never empty, but its second
/// stand-in is `""`: a filter asking for a non-empty value cannot decide it, so the item
/// fails as "undecided" and is never delivered, where before rest47 the filter took it.
#[tokio::test]
async fn f3_an_unreadable_string_is_not_taken_for_an_empty_one() {
    let body = r#"{"data": [{"id": 1, "title": "ok", "tag": "x\ud800y"}, {"id": 2, "title": "two", "tag": "z"}]}"#;
    let (docs, fails, err) = walk("$.data[?@.tag != '']", &[body]).await;
    assert!(err.is_none(), "{err:?}");
    let undecided: Vec<&str> = fails
        .iter()
        .map(|f| f.message.as_str())
        .filter(|m| m.contains("cannot be told"))
        .collect();
    assert!(
        undecided.is_empty(),
        "{} docs; undecided: {undecided:?}",
        docs.len()
    );
}

/// F4: two id-less entries that are not objects ("a", "b") are two failures with one key:
/// the state store keeps one of them. Their own value is at hand (they are the whole item).
#[tokio::test]
async fn f4_two_different_strings_get_two_keys() {
    for path in ["$.data", "$.data[*]"] {
        let (_, fails, err) = walk(path, &[r#"{"data": ["a", "b"]}"#]).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(fails.len(), 2, "{path}: {fails:?}");
        assert_ne!(
            failure_key(&fails[0]),
            failure_key(&fails[1]),
            "{path}: {:?}",
            fails.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
    }
}

/// F5: RFC 9535 allows blank space between segments. A prefix such as `$ ` (cut before a
/// segment's blank) may not parse, and `why_none` answers "empty" when a prefix does not
/// parse: an error body then ends the walk silently.
#[tokio::test]
async fn f5_a_path_with_blank_space_does_not_take_an_error_body_for_an_empty_page() {
    let path = "$.data [*]";
    let (docs, _, err) = walk(
        path,
        &[
            r#"{"data": [{"id": 1, "title": "a"}]}"#,
            r#"{"error": "busy"}"#,
        ],
    )
    .await;
    assert!(err.is_some(), "{path}: {} docs, no error", docs.len());
}
