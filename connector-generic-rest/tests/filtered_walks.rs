//! A numbered walk (`page`, `offset`) whose `items_path` filters: a page is measured by its
//! listing, the entries before the filter, so a page whose entries the filter all leaves out
//! does not end the walk, a page the filter leaves short is not the last, and an offset moves
//! past every entry the server returned. Before, each page was measured by the filter's
//! matches: every page after one the filter emptied was lost, silently.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, doc_id, items_config, list_ids, load};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PUBLISHED: &str = "$.data[?@.status == 'published']";

/// An entry `id`, published or a draft.
fn entry(id: u64, published: bool) -> Value {
    let status = if published { "published" } else { "draft" };
    json!({"id": id, "title": format!("t{id}"), "status": status})
}

/// Serves `pages` (each a `data` list) by the page number `param` (from `first`, stepping by
/// `step`); any other value is a 404. The requests made, once the walk is done.
async fn serve(server: &MockServer, param: &str, first: u64, step: u64, pages: &[Value]) {
    for (i, data) in pages.iter().enumerate() {
        let at = first + step * i as u64;
        Mock::given(method("GET"))
            .and(query_param(param, at.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": data})))
            .mount(server)
            .await;
    }
}

/// The titles a load delivers (no failures, no error) and the values of `param` requested.
async fn walk(server: &MockServer, fields: &Value, param: &str) -> (Vec<String>, Vec<String>) {
    let c = build(items_config(&server.uri(), fields));
    let (docs, fails, err) = load(&c).await;
    assert!(err.is_none() && fails.is_empty(), "{err:?} {fails:?}");
    let sent = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == param)
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    (docs.into_iter().map(|d| d.title).collect(), sent)
}

/// Three pages of three: page 2's entries are all drafts, page 3 (short) holds a match.
fn three_pages() -> Vec<Value> {
    vec![
        json!([entry(1, true), entry(2, false), entry(3, true)]),
        json!([entry(4, false), entry(5, false), entry(6, false)]),
        json!([entry(7, true)]),
    ]
}

#[tokio::test]
async fn a_page_walk_goes_on_past_a_page_the_filter_empties() {
    let server = MockServer::start().await;
    serve(&server, "page", 1, 1, &three_pages()).await;
    let fields = json!({
        "items_path": PUBLISHED,
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 3},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    // Before: ["t1", "t3"], page 2 ended the walk (no match) and t7 was lost.
    assert_eq!(titles, ["t1", "t3", "t7"]);
    // Page 3 is short by its listing: the last.
    assert_eq!(sent, ["1", "2", "3"]);
    // Prune's listing walks the same pages.
    let ids = list_ids(&build(items_config(&server.uri(), &fields)))
        .await
        .unwrap();
    assert_eq!(ids, ["1", "3", "7"].map(doc_id));
}

#[tokio::test]
async fn an_offset_walk_moves_by_the_entries_returned_not_the_matches() {
    let server = MockServer::start().await;
    serve(&server, "offset", 0, 3, &three_pages()).await;
    let fields = json!({
        "items_path": PUBLISHED,
        "pagination_type": "offset",
        "pagination_config": {"offset_param": "offset", "limit_param": "limit", "limit": 3},
    });
    let (titles, sent) = walk(&server, &fields, "offset").await;
    // Before: offset 2 next (two matches on page 1), a page that overlaps the first.
    assert_eq!(titles, ["t1", "t3", "t7"]);
    assert_eq!(sent, ["0", "3", "6"]);
}

/// A full page the filter leaves short is not the last page.
#[tokio::test]
async fn a_page_the_filter_leaves_short_is_not_the_last() {
    let server = MockServer::start().await;
    let pages = [
        json!([entry(1, true), entry(2, true), entry(3, true)]),
        json!([entry(4, true), entry(5, false), entry(6, false)]),
        json!([entry(7, true), entry(8, true), entry(9, false)]),
        json!([entry(10, true)]),
    ];
    serve(&server, "page", 1, 1, &pages).await;
    let fields = json!({
        "items_path": PUBLISHED,
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 3},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    // Before: page 2 (one match of three, after a full page) was taken for the last.
    assert_eq!(titles, ["t1", "t2", "t3", "t4", "t7", "t8", "t10"]);
    assert_eq!(sent, ["1", "2", "3", "4"]);
}

/// Two pages in a row that the filter empties are not a repeat: the repeat guard hashes the
/// listing's ids, not the (equally empty) matches.
#[tokio::test]
async fn two_pages_the_filter_empties_are_no_repeat() {
    let server = MockServer::start().await;
    let pages = [
        json!([entry(1, true), entry(2, false)]),
        json!([entry(3, false), entry(4, false)]),
        json!([entry(5, false), entry(6, false)]),
        json!([entry(7, true)]),
    ];
    serve(&server, "page", 1, 1, &pages).await;
    let fields = json!({
        "items_path": PUBLISHED,
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 2},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles, ["t1", "t7"]);
    assert_eq!(sent, ["1", "2", "3", "4"]);
}

/// An API that ignores the page parameter still ends the walk at its first repeat, filter
/// or not (no `page_size`, no total: only the guard can).
#[tokio::test]
async fn a_repeated_filtered_page_ends_the_walk() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [entry(1, true), entry(2, false)]})),
        )
        .mount(&server)
        .await;
    let fields = json!({"items_path": PUBLISHED, "pagination_type": "page", "max_pages": 50});
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles, ["t1"]);
    assert_eq!(sent, ["1", "2"]);
    // A page whose entries the filter all leaves out, repeated: the same.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [entry(2, false)]})))
        .mount(&server)
        .await;
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert!(titles.is_empty());
    assert_eq!(sent, ["1", "2"]);
}

/// A filter before the last segment: the listing is the groups, the level the server pages
/// (review10 F1), not every item of every group. Before, page 2 (closed groups, one without
/// `items`) counted no items and ended the walk, and page 3's items were lost.
#[tokio::test]
async fn a_filter_before_the_last_segment_measures_the_entries_the_server_pages() {
    let server = MockServer::start().await;
    let group = |open: bool, ids: &[u64]| json!({"open": open, "items": ids.iter().map(|i| entry(*i, true)).collect::<Vec<_>>()});
    let pages = [
        json!([group(true, &[1]), group(false, &[2])]),
        json!([{"open": false}, group(false, &[])]),
        json!([group(true, &[5, 6, 7])]),
    ];
    serve(&server, "page", 1, 1, &pages).await;
    let fields = json!({
        "items_path": "$.data[?@.open == true].items[*]",
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 2},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles, ["t1", "t5", "t6", "t7"]);
    // Page 3 holds one group of the two asked: short, the last.
    assert_eq!(sent, ["1", "2", "3"]);
}

/// Serves whole bodies by the value of `param` (from `first`, stepping by `step`); any other
/// value is a 404.
async fn serve_bodies(server: &MockServer, param: &str, first: u64, step: u64, bodies: &[Value]) {
    for (i, body) in bodies.iter().enumerate() {
        let at = first + step * i as u64;
        Mock::given(method("GET"))
            .and(query_param(param, at.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
}

/// review10 F1 (a): a filter below the list the server pages (`data[*].versions[?…]`): an
/// offset moves by the entries of `data`, and `total` counts them. Before, the listing was
/// every version: 4 on the first page, so `total` (4) ended the walk there and entries 3
/// and 4 were never fetched; without `total`, the next offset was 4.
#[tokio::test]
async fn an_offset_walk_with_a_deeper_filter_moves_by_the_paged_entries() {
    let doc = |id: u64| {
        json!({"id": id, "versions": [
            {"id": format!("{id}.1"), "title": format!("v{id}.1")},
            {"id": format!("{id}.2"), "title": format!("v{id}.2"), "latest": true},
        ]})
    };
    let fields = json!({
        "items_path": "$.data[*].versions[?@.latest == true]",
        "pagination_type": "offset",
        "pagination_config": {"offset_param": "offset", "limit_param": "limit", "limit": 2},
    });
    for total in [Some(4), None] {
        let server = MockServer::start().await;
        let body = |ids: [u64; 2]| {
            let mut b = json!({"data": ids.map(doc)});
            if let Some(t) = total {
                b["total"] = json!(t);
            }
            b
        };
        serve_bodies(&server, "offset", 0, 2, &[body([1, 2]), body([3, 4])]).await;
        let (titles, sent) = walk(&server, &fields, "offset").await;
        assert_eq!(titles, ["v1.2", "v2.2", "v3.2", "v4.2"], "total {total:?}");
        // With `total`, it ends the walk; without, offset 4's 404 does.
        let want: &[&str] = if total.is_some() {
            &["0", "2"]
        } else {
            &["0", "2", "4"]
        };
        assert_eq!(sent, want, "total {total:?}");
    }
}

/// review10 F1 (b): a filter that picks one list (`result[?@.name == 'docs'].items`): the
/// list's entries are the page, as before walk47. Walk47's listing counted the groups (2), so
/// the offset moved by 2 while 3 items came, and the walk's end page (an empty `docs`) was
/// not empty.
#[tokio::test]
async fn a_filter_that_picks_one_list_measures_its_entries() {
    let server = MockServer::start().await;
    let body = |ids: &[u64]| {
        json!({"result": [
            {"name": "docs", "items": ids.iter().map(|i| entry(*i, true)).collect::<Vec<_>>()},
            {"name": "meta", "items": []},
        ]})
    };
    let bodies = [body(&[1, 2, 3]), body(&[4, 5, 6]), body(&[])];
    serve_bodies(&server, "offset", 0, 3, &bodies).await;
    // An offset walk over such a path says what the server's offset counts (review15 N2):
    // here the list's entries.
    let fields = json!({
        "items_path": "$.result[?@.name == 'docs'].items",
        "listing_path": "$.result[?@.name == 'docs'].items[*]",
        "pagination_type": "offset",
        "pagination_config": {"offset_param": "offset", "limit_param": "limit", "limit": 3},
    });
    let (titles, sent) = walk(&server, &fields, "offset").await;
    assert_eq!(titles, ["t1", "t2", "t3", "t4", "t5", "t6"]);
    assert_eq!(sent, ["0", "3", "6"]);
}

/// review10 F5: blank space before the filter's bracket (valid RFC 9535) gets the same
/// listing. Before, a bracket segment's leading blank hid the filter (after a name the blank
/// ended up in the name's segment, so `$.data [?…]` was read right): no listing, and page 2
/// (all drafts) ended the walk.
#[tokio::test]
async fn a_filter_after_blank_space_is_measured_by_its_listing() {
    let server = MockServer::start().await;
    serve(&server, "page", 1, 1, &three_pages()).await;
    let fields = json!({
        "items_path": "$['data'] [?@.status == 'published']",
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 3},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles, ["t1", "t3", "t7"]);
    assert_eq!(sent, ["1", "2", "3"]);
}

/// A page read leniently (a number no tree holds): an entry the filter takes by the
/// stand-ins is counted with the page's listing. Before, the tree's filter matched nothing
/// (it sees a marker where the number is), so that page ended the walk after its item was
/// delivered.
#[tokio::test]
async fn a_lenient_page_is_measured_by_its_listing() {
    let server = MockServer::start().await;
    let raw =
        |body: &str| ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json");
    Mock::given(method("GET"))
        .and(query_param("page", "1"))
        .respond_with(raw(
            r#"{"data": [{"id": 1, "title": "t1", "score": 1e400}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page", "2"))
        .respond_with(raw(r#"{"data": [{"id": 2, "title": "t2", "score": 9}]}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page", "3"))
        .respond_with(raw(r#"{"data": []}"#))
        .mount(&server)
        .await;
    let fields = json!({
        "items_path": "$.data[?@.score > 5]",
        "metadata_fields": [],
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 1},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles, ["t1", "t2"]);
    assert_eq!(sent, ["1", "2", "3"]);
}

/// A path without a filter is measured as before: by its matches.
#[tokio::test]
async fn a_path_without_a_filter_ends_where_it_did() {
    let server = MockServer::start().await;
    serve(&server, "page", 1, 1, &three_pages()).await;
    let fields = json!({
        "items_path": "$.data[*]",
        "pagination_type": "page",
        "pagination_config": {"page_size_param": "per_page", "page_size": 3},
    });
    let (titles, sent) = walk(&server, &fields, "page").await;
    assert_eq!(titles.len(), 7);
    assert_eq!(sent, ["1", "2", "3"]);
}
