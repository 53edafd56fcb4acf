//! A numbered walk (`page`) over pages with an item the connector cannot read (`1e400`): the
//! repeated-page guard sees such a page again as it sees any other, and prune skips an entry
//! that cannot be read and is no object, as it skips any entry that is no object.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{build, doc_id, items_config, list_ids, load};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn config(server: &MockServer, fields: &Value) -> Value {
    let mut cfg = json!({"pagination_type": "page", "max_pages": 20});
    for (k, v) in fields.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    items_config(&server.uri(), &cfg)
}

/// A sync against an API that ignores `page` and answers the two items `second(n)` gives
/// for its `n`th response (from 0): item 1, readable, and a second item; the documents,
/// failures and requests it took.
async fn ignores_page(fields: Value, second: fn(usize) -> String) -> (usize, usize, usize) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    Mock::given(method("GET"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let body = format!(
                r#"{{"data": [{{"id": 1, "title": "one"}}, {}]}}"#,
                second(n)
            );
            ResponseTemplate::new(200).set_body_raw(body, "application/json")
        })
        .mount(&server)
        .await;
    let (docs, fails, err) = load(&build(config(&server, &fields))).await;
    assert!(err.is_none(), "{err:?}");
    (docs.len(), fails.len(), hits.load(Ordering::SeqCst))
}

/// The guard hashes an item that cannot be read by its `id_field`, read alone, as it hashes
/// a readable item: the repeat is seen after two requests (1 document, 1 failure), whatever
/// else changes per response. Before, such an item was hashed by its bytes, so a value that
/// changes per response (a signed URL, a fetch time) in it alone made every page look new:
/// 20 copies in 20 requests (`max_pages`), 1000 at the default.
#[tokio::test]
async fn the_repeat_guard_sees_a_page_with_an_unreadable_item_again() {
    // The same bytes every time.
    let stable: fn(usize) -> String =
        |_| r#"{"id": 2, "title": "two", "score": 1e400, "thumb": "https://x/2"}"#.to_owned();
    assert_eq!(ignores_page(json!({}), stable).await, (1, 1, 2));
    // A value that changes per response in the unreadable item.
    let volatile: fn(usize) -> String = |n| {
        format!(r#"{{"id": 2, "title": "two", "score": 1e400, "thumb": "https://x/2?sig={n}"}}"#)
    };
    assert_eq!(ignores_page(json!({}), volatile).await, (1, 1, 2));
    // The item readable in one response and not in the next: the same hash both ways, so
    // the second page is a repeat of the first (bytes would differ every time).
    let flips: fn(usize) -> String = |n| {
        let score = if n % 2 == 0 { "1e400" } else { "2" };
        format!(r#"{{"id": 2, "title": "two", "score": {score}, "thumb": "https://x/2?sig={n}"}}"#)
    };
    assert_eq!(ignores_page(json!({}), flips).await, (1, 1, 2));
    // No id to read (no `id_field`; the id itself unreadable): the bytes stand for the item,
    // and the same bytes are seen as a repeat.
    assert_eq!(
        ignores_page(json!({"id_field": null}), stable).await,
        (1, 1, 2)
    );
    let bad_id: fn(usize) -> String = |_| r#"{"id": 1e400, "title": "two"}"#.to_owned();
    assert_eq!(ignores_page(json!({}), bad_id).await, (1, 1, 2));
}

/// An entry that cannot be read and is no object (a number out of range, a list holding
/// one) is no document, as a readable entry that is no object: prune lists the others and
/// does not fail, with or without `id_field`, and the sync fails that entry alone.
#[tokio::test]
async fn prune_skips_an_unreadable_entry_that_is_no_object() {
    for bad in ["1e400", "[1, -1e999]", r#""\ud800""#] {
        let server = MockServer::start().await;
        let page1 = format!(
            r#"{{"data": [{{"id": 1, "title": "one"}}, {bad}, {{"id": 3, "title": "three"}}]}}"#
        );
        let body =
            |b: &str| ResponseTemplate::new(200).set_body_raw(b.to_owned(), "application/json");
        Mock::given(method("GET"))
            .and(query_param("page", "1"))
            .respond_with(body(&page1))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(query_param("page", "2"))
            .respond_with(body(r#"{"data": []}"#))
            .mount(&server)
            .await;
        let c = build(config(&server, &json!({})));
        let ids = list_ids(&c).await.unwrap_or_else(|e| panic!("{bad}: {e}"));
        assert_eq!(ids, ["1", "3"].map(doc_id), "{bad}");
        let (docs, fails, err) = load(&c).await;
        assert!(err.is_none(), "{bad}: {err:?}");
        assert_eq!((docs.len(), fails.len()), (2, 1), "{bad}");
        assert!(
            fails[0].to_string().ends_with("at page 1, entry 1")
                || fails[0].to_string().contains("at page 1, entry 1 "),
            "{fails:?}"
        );
        // Without `id_field` (an id is a hash of the whole item, which this one has not).
        let c = build(config(&server, &json!({"id_field": null})));
        assert_eq!(list_ids(&c).await.unwrap().len(), 2, "{bad}");
    }
}
