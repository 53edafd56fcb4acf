//! Review11's inputs: filtered numbered walks over wrappers (Algolia's `results[*].hits`), a
//! filter that sometimes picks one list, status envelopes carried on every answer, and error
//! bodies that look like empty listings. Each walk is served page by page; any other page
//! is a 404, which ends a walk after its first page.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, items_config, load, walk};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn hit(id: u64, public: bool) -> Value {
    json!({"id": id, "title": format!("t{id}"), "public": public})
}

/// An Algolia multi-query answer for page `n`: the hits in `results[0]`, next to the page's
/// number and parameters (which change every page).
fn algolia(n: u64, hits: Vec<Value>) -> Value {
    json!({"results": [{"hits": hits, "page": n, "nbHits": 7, "params": format!("page={n}")}]})
}

/// review11 F1: the listing `$.results[*]` holds one wrapper on every page, so the page past
/// the end (`hits: []`) was never empty, never short, never a repeat: the walk asked for
/// pages until `max_pages`. Now the entries under the last filter (`$.results[*].hits[*]`)
/// are empty there, which ends it: exactly 4 requests, with or without `page_size`.
#[tokio::test]
async fn an_algolia_walk_ends_at_the_page_whose_hits_are_empty() {
    let bodies = [
        algolia(0, vec![hit(1, true), hit(2, false), hit(3, true)]),
        algolia(1, vec![hit(4, false), hit(5, false), hit(6, false)]),
        algolia(2, vec![hit(7, true)]),
        algolia(3, vec![]),
        algolia(4, vec![]),
        algolia(5, vec![]),
    ];
    for size in [None, Some(3)] {
        let mut fields = json!({"items_path": "$.results[*].hits[?@.public == true]"});
        if let Some(s) = size {
            fields["pagination_config"] = json!({"page_size_param": "hitsPerPage", "page_size": s});
        }
        let w = walk(fields, &bodies).await;
        assert_eq!(w.err, None);
        assert_eq!(w.titles, ["t1", "t3", "t7"], "{size:?}");
        assert_eq!(w.requests, 4, "{size:?}");
    }
    // `listing_path` measures the hits: page 3 is short (1 of 3) once page 1 was full.
    let fields = json!({
        "items_path": "$.results[*].hits[?@.public == true]",
        "listing_path": "$.results[0].hits[*]",
        "pagination_config": {"page_size_param": "hitsPerPage", "page_size": 3},
    });
    let w = walk(fields, &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (3, 3, None));
}

/// review11 F1's backstop: an API that ignores the page parameter behind a wrapper that
/// changes: the same hits, none public, on every page. Three such pages end the walk (with a
/// warning), where it used to run to `max_pages`.
#[tokio::test]
async fn pages_that_stay_itemless_and_unchanged_end_the_walk() {
    let bodies: Vec<Value> = (0..20)
        .map(|n| algolia(n, vec![hit(4, false), hit(5, false)]))
        .collect();
    let fields = json!({"items_path": "$.results[*].hits[?@.public == true]"});
    let w = walk(fields, &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (0, 3, None));
}

/// review11 F7: a past-the-end page full of wrappers whose root says `error`: the wrapper
/// kept the listing non-empty, so the error rule did not run and the page was taken for one
/// whose entries the filter dropped.
#[tokio::test]
async fn an_error_beside_empty_hits_fails_the_page() {
    let mut busy = algolia(1, vec![]);
    busy["error"] = json!("rate limited");
    let bodies = [algolia(0, vec![hit(1, true)]), busy];
    let fields = json!({"items_path": "$.results[*].hits[?@.public == true]"});
    let w = walk(fields, &bodies).await;
    let err = w.err.expect("an error");
    assert!(
        err.contains("`error` is set") && err.contains("rate limited"),
        "{err}"
    );
}

/// Ten groups a page, `page_size` counted in groups.
fn groups(open: &[(usize, &[u64])]) -> Value {
    let list: Vec<Value> = (0..10)
        .map(|g| match open.iter().find(|(at, _)| *at == g) {
            Some((_, ids)) => {
                json!({"open": true, "items": ids.iter().map(|i| hit(*i, true)).collect::<Vec<_>>()})
            }
            None => json!({"open": false, "items": [hit(100 + g as u64, true)]}),
        })
        .collect();
    json!({"groups": list})
}

/// review11 F2: whether a filter picked one list was decided per page. Page 1 (two open
/// groups) was measured in groups (10 of 10: full), page 2 (one open group) in its 3 items:
/// short, the last, and page 3 was never asked for. Now the path decides: it ends in a name
/// after its filter, so each page is measured by its matches' entries (several open groups
/// flattened, review12 F2), never full or short by them; a page with no open group is
/// measured by its groups (review12 F2: not the end), and `{"groups": []}` ends the walk.
#[tokio::test]
async fn a_filter_picks_one_list_or_several_in_the_same_units() {
    let bodies = [
        groups(&[(1, &[1, 2]), (4, &[3])]),
        groups(&[]),
        groups(&[(2, &[4, 5, 6])]),
        groups(&[(0, &[7])]),
        json!({"groups": []}),
    ];
    let fields = json!({
        "items_path": "$.groups[?@.open == true].items",
        "pagination_config": {"page_size_param": "per_page", "page_size": 10},
    });
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.failed), (7, 0));
    assert_eq!(w.requests, 5);
}

/// review11 F2, rows written as arrays: a page where one row matches took the row's cells
/// for the items (and, since fix10, measured the page by them). The path ends in its filter,
/// so each match is an item: one row, one item (failed alone: a list is no document).
#[tokio::test]
async fn a_filter_over_array_rows_takes_one_matching_row_whole() {
    let rows = |rows: &[(u64, &str)]| json!({"values": rows.iter().map(|(id, s)| json!([id.to_string(), format!("t{id}"), s])).collect::<Vec<_>>()});
    let bodies = [
        rows(&[(1, "published"), (2, "draft"), (3, "published")]),
        rows(&[(4, "draft"), (5, "published"), (6, "draft")]),
        rows(&[]),
    ];
    let fields = json!({
        "items_path": "$.values[?@[2] == 'published']",
        "id_field": null,
        "content_template": "row",
        "content_fields": null,
    });
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    // Before: 2 + 3 (page 2's cells).
    assert_eq!((w.titles.len() + w.failed, w.requests), (3, 3));
}

/// Three pages with items, then an empty one, each carrying `extra`.
fn enveloped(extra: &Value, last: Option<Value>) -> Vec<Value> {
    let mut pages: Vec<Value> = (0..3u64)
        .map(|p| json!({"data": [hit(2 * p + 1, true), hit(2 * p + 2, true)]}))
        .chain([json!({"data": []})])
        .collect();
    for page in &mut pages {
        for (k, v) in extra.as_object().unwrap() {
            page[k] = v.clone();
        }
    }
    if let Some(last) = last {
        pages[3] = last;
    }
    pages
}

/// review11 F3: an API that carries a status envelope on every answer. The last, empty page
/// failed every run (its `error` was a non-empty object), so no run completed. Now an object
/// whose `code` is 0 is not set, and a member the run's pages with items carried (the same
/// value, or the same keys) is this API's normal: 3 pages delivered, the run complete.
#[tokio::test]
async fn an_envelope_carried_on_every_page_does_not_fail_the_last() {
    for extra in [
        json!({"error": {"code": 0, "message": "OK"}}),
        json!({"error": "none"}),
        json!({"error": "0"}),
        json!({"errors": [{"message": "field x is deprecated", "extensions": {"level": "warning"}}]}),
    ] {
        let w = walk(json!({"items_path": "$.data"}), &enveloped(&extra, None)).await;
        assert_eq!(
            (w.titles.len(), w.requests, &w.err),
            (6, 4, &None),
            "{extra}"
        );
    }
    // GraphQL's shape, the warning under `errors` on every answer.
    let page = |ids: &[u64]| {
        json!({"data": {"posts": {"nodes": ids.iter().map(|i| hit(*i, true)).collect::<Vec<_>>()}},
               "errors": [{"message": "field x is deprecated", "extensions": {"level": "warning"}}]})
    };
    let bodies = [page(&[1, 2]), page(&[3]), page(&[])];
    let w = walk(json!({"items_path": "$.data.posts.nodes"}), &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (3, 3, None));
}

/// What the run learned does not pass an error it never saw on a page with items: a
/// different value, or an object with other keys.
#[tokio::test]
async fn an_error_unlike_the_usual_one_still_fails() {
    for (extra, last) in [
        (
            json!({"error": "none"}),
            json!({"data": [], "error": "rate limited"}),
        ),
        (
            json!({"error": {"code": 0, "message": "OK"}}),
            json!({"data": [], "error": {"code": 429, "message": "slow down"}}),
        ),
        (
            json!({"errors": [{"message": "deprecated", "extensions": {"level": "warning"}}]}),
            json!({"data": [], "errors": [{"message": "timeout", "path": ["data"]}]}),
        ),
        // A partial error on the pages with items, another one on the itemless page.
        (
            json!({"errors": [{"message": "timeout", "path": ["data", 1]}]}),
            json!({"data": [], "errors": [{"message": "timeout", "path": ["data", 0]}]}),
        ),
        (
            json!({"error": {"code": 7, "message": "partial"}}),
            json!({"data": [], "error": {"code": 429, "message": "partial"}}),
        ),
    ] {
        let w = walk(
            json!({"items_path": "$.data"}),
            &enveloped(&extra, Some(last)),
        )
        .await;
        let err = w.err.expect("an error");
        assert!(err.contains("is set"), "{err}");
    }
}

/// review11 F4: an error body holding an empty list (`errors: []`, `details: []`) under a
/// nameless descendant filter read as an empty page, ending the walk silently. A list under an
/// error's members is no listing, and once a page had items, only a list where they sat is.
#[tokio::test]
async fn an_error_body_with_an_empty_list_is_no_empty_page() {
    for last in [
        json!({"message": "API rate limit exceeded", "errors": []}),
        json!({"message": "slow down", "retry_after": 30, "details": []}),
        json!({"message": "slow down", "hint": {"links": []}}),
    ] {
        let bodies = [json!({"data": [hit(1, true), hit(2, true)]}), last.clone()];
        let w = walk(json!({"items_path": "$..[?@.title]"}), &bodies).await;
        let err = w.err.expect("an error");
        assert!(err.contains("matches nothing"), "{last} {err}");
    }
    // The listing where the items sat, empty: the end.
    let bodies = [
        json!({"data": [hit(1, true)], "links": []}),
        json!({"data": [], "links": []}),
    ];
    let w = walk(json!({"items_path": "$..[?@.title]"}), &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (1, 2, None));
}

/// review11 F5: an error object one level down (`{"data": {"error": {..}}}`) read as an empty
/// record map. Objects under `error`, `errors`, `meta` or `status`, or under words where no
/// page had items, are no record map; records keyed by id still are.
#[tokio::test]
async fn an_error_object_under_the_list_is_no_record_map() {
    for last in [
        json!({"data": {"error": {"code": 429, "message": "slow down"}}}),
        json!({"data": {"meta": {"status": "throttled"}}}),
        json!({"data": {"throttle": {"retry": "later"}}}),
    ] {
        let bodies = [json!({"data": [hit(1, true)]}), last.clone()];
        let w = walk(json!({"items_path": "$.data[?@.public == true]"}), &bodies).await;
        let err = w.err.expect("an error");
        assert!(err.contains("matches nothing"), "{last} {err}");
    }
    let records = json!({"data": {"a1": hit(3, false), "b2": hit(4, false)}});
    let bodies = [json!({"data": [hit(1, true)]}), records];
    let w = walk(json!({"items_path": "$.data[?@.public == true]"}), &bodies).await;
    // Page 2's records are listed (2 entries), none public; page 3 is a 404.
    assert_eq!((w.titles.len(), w.requests, w.err), (1, 3, None));
}

/// The object the path reached says `error` while the root does not.
#[tokio::test]
async fn an_error_beside_the_list_the_path_reached_fails() {
    let bodies = [
        json!({"result": {"data": [hit(1, true)]}}),
        json!({"result": {"data": {}, "error": "busy"}}),
    ];
    let w = walk(json!({"items_path": "$.result.data[?@.public]"}), &bodies).await;
    let err = w.err.expect("an error");
    assert!(err.contains("`/result/error` is set: \"busy\""), "{err}");
}

/// `error_path` names where this API reports errors: a set value there fails any page, items
/// or not, naming it; `false` turns the `error`/`errors` rule off.
#[tokio::test]
async fn error_path_says_where_errors_are() {
    let bodies = [
        json!({"data": [hit(1, true)], "status": {"error": null}}),
        json!({"data": [hit(2, true)], "status": {"error": "quota exceeded"}}),
    ];
    let w = walk(json!({"error_path": "$.status.error"}), &bodies).await;
    let err = w.err.expect("an error");
    assert!(
        err.contains("`$.status.error` is set: \"quota exceeded\""),
        "{err}"
    );
    assert_eq!(w.titles, ["t1"]);
    let bodies = [
        json!({"data": [hit(1, true)]}),
        json!({"data": [], "error": "busy"}),
    ];
    let w = walk(json!({"error_path": false}), &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (1, 2, None));
    // Nor is the object the path went through read for an error.
    let bodies = [
        json!({"result": {"data": [hit(1, true)]}}),
        json!({"result": {"data": {}, "error": "busy"}}),
    ];
    let fields = json!({"items_path": "$.result.data[?@.public]", "error_path": false});
    let w = walk(fields, &bodies).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (1, 2, None));
}

/// Config validation names the field.
#[tokio::test]
async fn bad_listing_and_error_paths_are_refused() {
    for (fields, field) in [
        (json!({"listing_path": "$.data["}), "listing_path"),
        (json!({"error_path": "$[?"}), "error_path"),
        (json!({"error_path": true}), "error_path"),
    ] {
        let mut cfg = items_config("http://127.0.0.1:1", &fields);
        cfg["allowed_hosts"] = json!(["127.0.0.1"]);
        let mut registry = connector_core::Registry::new();
        connector_generic_rest::register(&mut registry);
        let err = registry.build("rest_api", cfg).expect_err("refused");
        assert!(err.to_string().contains(field), "{err}");
    }
}

/// review11 F8: an `error` member no `Value` holds (a number out of range), read leniently:
/// it counts as set, and the itemless page fails.
#[tokio::test]
async fn an_unreadable_error_member_fails_an_itemless_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"data": [], "error": 1e400}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let fields = json!({"pagination_type": "page", "items_path": "$.data[?@.public == true]"});
    let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
    let err = err.expect("an error").to_string();
    assert!(docs.is_empty() && err.contains("`error` is set"), "{err}");
}
