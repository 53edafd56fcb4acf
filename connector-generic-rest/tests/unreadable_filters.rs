//! An `items_path` filter that reads a value no tree can hold (`1e400`, a string with a raw
//! tab or a lone surrogate): whether it takes an entry is told by the values that stand in
//! for the one that cannot be read. An entry it takes whatever stands in is an item; one it
//! takes for some and not for others fails alone and is never delivered; one it never takes
//! is left out. Wherever the filter lies in the path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, doc_id, items_config, list_ids, load};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One page with `body` (raw JSON text) read by `items_path`, only `id` and `title` mapped:
/// the titles delivered, the failures' messages, and the ids prune lists (or its error).
async fn run(
    items_path: &str,
    body: &str,
) -> (Vec<String>, Vec<String>, Result<Vec<String>, String>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json"))
        .mount(&server)
        .await;
    let cfg = items_config(
        &server.uri(),
        &json!({"items_path": items_path, "metadata_fields": []}),
    );
    let c = build(cfg);
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none(), "{items_path}: {err:?}");
    let ids = list_ids(&c).await.map_err(|e| e.to_string());
    (
        docs.into_iter().map(|d| d.title).collect(),
        fails.iter().map(ToString::to_string).collect(),
        ids,
    )
}

/// (a) A filter before the path's last segment. Before, a group whose filtered value could
/// not be read was left out silently (the filter saw a marker string), with its items, in
/// the sync and in prune's listing (prune would delete them).
#[tokio::test]
async fn a_filter_before_the_last_segment_reads_a_number_out_of_range_as_it_compares() {
    let body = r#"{"groups": [
        {"min": 9, "items": [{"id": 1, "title": "one"}]},
        {"min": 1e400, "items": [{"id": 2, "title": "two"}, {"id": 3, "title": "three"}]},
        {"min": -1e400, "items": [{"id": 4, "title": "four"}]},
        {"min": 1, "items": [{"id": 5, "title": "five"}]}
    ]}"#;
    let (titles, fails, ids) = run("$.groups[?@.min > 5].items[*]", body).await;
    assert_eq!(titles, ["one", "two", "three"]);
    assert!(fails.is_empty(), "{fails:?}");
    assert_eq!(ids.unwrap(), ["1", "2", "3"].map(doc_id));
    // The other way round: `-1e400` is below every number.
    let (titles, fails, _) = run("$.groups[?@.min < 5].items[*]", body).await;
    assert_eq!(titles, ["four", "five"]);
    assert!(fails.is_empty(), "{fails:?}");
    // The list itself as the items (one match, a list).
    let (titles, _, _) = run("$.groups[?@.min > 1e300].items", body).await;
    assert_eq!(titles, ["two", "three"]);
}

/// (a) and (b): where the stand-ins disagree (a string with a raw tab compared as text),
/// each item the filter may take fails alone, named, and is never delivered; prune lists
/// it where its id reads, as it cannot tell it is gone.
#[tokio::test]
async fn an_entry_the_filter_may_or_may_not_take_fails_alone() {
    let body = "{\"groups\": [\
        {\"tag\": \"a\tb\", \"items\": [{\"id\": 1, \"title\": \"one\"}]},\
        {\"tag\": \"x\", \"items\": [{\"id\": 2, \"title\": \"two\"}]}\
    ]}";
    let (titles, fails, ids) = run("$.groups[?length(@.tag) == 3].items[*]", body).await;
    assert!(titles.is_empty(), "{titles:?}");
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(
        fails[0]
            .starts_with("rest_api: whether `items_path`'s filter takes the item cannot be told: ")
            && fails[0].ends_with(" \u{2014} at page 1, entry 0 (`$.groups[0].items[0]`)"),
        "{}",
        fails[0]
    );
    assert_eq!(ids.unwrap(), [doc_id("1")]);
    // (b) The entry itself holds the value, in a field the mapping does not read (so its
    // plan could read and deliver it): it fails alone all the same.
    let body = "{\"data\": [\
        {\"id\": 1, \"title\": \"one\", \"note\": \"a\tbcd\"},\
        {\"id\": 2, \"title\": \"two\", \"note\": \"abcd\"},\
        {\"id\": 3, \"title\": \"three\", \"note\": \"a\"}\
    ]}";
    let (titles, fails, ids) = run("$.data[?length(@.note) > 3]", body).await;
    assert_eq!(titles, ["two"]);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].contains("(`$.data[0]`)"), "{}", fails[0]);
    // Its id cannot be read alone either (a raw tab stops the read past it): prune fails,
    // naming it, as for any item that cannot be read.
    let err = ids.unwrap_err();
    assert!(
        err.contains("entry 0 could not be read, nor its id"),
        "{err}"
    );
}

/// (b) An entry whose unreadable value the filter leaves out, whatever it is read as, is
/// not delivered, even where the plan could read it (before, it was: the filter's verdict
/// was unknown, so the entry was added back and the plan read it); one it takes is.
#[tokio::test]
async fn an_entry_the_filter_leaves_out_is_never_delivered() {
    let body = r#"{"data": [
        {"id": 1, "title": "one", "score": -1e400},
        {"id": 2, "title": "two", "score": 1e400},
        {"id": 3, "title": "three", "score": 9},
        {"id": 4, "title": "four", "score": 1}
    ]}"#;
    let (titles, fails, ids) = run("$.data[?@.score > 5]", body).await;
    assert_eq!(titles, ["two", "three"]);
    assert!(fails.is_empty(), "{fails:?}");
    assert_eq!(ids.unwrap(), ["2", "3"].map(doc_id));
    // A filter that does not read the value: the entry is taken as any other.
    let (titles, _, _) = run("$.data[?@.id < 3]", body).await;
    assert_eq!(titles, ["one", "two"]);
}

/// A filter that ends the path and selects array rows (`$.values[?…]`), where the one row it
/// takes holds the value that cannot be read: the row is one item, as on a page read whole
/// (review11 F2's rule). Before, the stand-ins' rounds agreeing on that one row made it "the
/// list the path leads to", and its three cells were delivered as three items.
#[tokio::test]
async fn a_filter_over_array_rows_takes_an_unreadable_row_whole() {
    let body = r#"{"values": [["1", "t1", 1], ["2", "t2", 1e400], ["3", "t3", 2]]}"#;
    let (titles, fails, _) = run("$.values[?@[2] > 5]", body).await;
    assert_eq!(titles.len() + fails.len(), 1, "{titles:?} {fails:?}");
}
