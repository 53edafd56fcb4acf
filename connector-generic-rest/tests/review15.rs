//! Review15's inputs on fix12's merge: a `OneList` path's learned place, its offsets, lenient
//! pages with several lists, what a run carries to the next, envelopes below a record map,
//! pages past a fixed set of sections, and `error_path`'s spellings. Each walk is served page
//! by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{Walked, build, items_config, load};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An item with its id and title.
fn doc(id: u64) -> Value {
    json!({"id": id, "title": format!("t{id}")})
}

/// Serves `bodies` as a cursor walk (`after`, `$.next`): body `i` says `next: p{i+2}` unless
/// it is the last, and loads it with `fields` over [`items_config`].
async fn cursor_walk(fields: Value, bodies: &[Value]) -> Walked {
    let server = MockServer::start().await;
    for (i, body) in bodies.iter().enumerate() {
        let mut body = body.clone();
        if i + 1 < bodies.len() {
            body["next"] = json!(format!("p{}", i + 2));
        }
        let mock = Mock::given(method("GET"));
        let mock = match i {
            0 => mock.and(query_param_is_missing("after")),
            _ => mock.and(query_param("after", format!("p{}", i + 1))),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let mut fields = fields;
    fields["pagination_type"] = json!("cursor");
    fields["pagination_config"] = json!({"cursor_param": "after", "next_cursor_path": "$.next"});
    let (docs, fails, err) = load(&build(items_config(&server.uri(), &fields))).await;
    Walked {
        titles: docs.into_iter().map(|d| d.title).collect(),
        failed: fails.len(),
        err: err.map(|e| e.to_string()),
        requests: server.received_requests().await.unwrap().len(),
    }
}

/// review15 N3: a `OneList` path learned the place of its match (`/data/*/attributes`,
/// `/sections/*/items`), so a later page whose chosen entries are absent, and whose entries
/// are not lists there or lack the name, failed every run. The place is now that of what the
/// filter chose among (`/data`, `/sections`).
#[tokio::test]
async fn a_one_list_place_is_where_its_filter_chose() {
    let article = |id: u64| json!({"type": "articles", "attributes": doc(id)});
    let docs = |ids: &[u64]| {
        json!({"name": "docs", "items": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()})
    };
    let cases = [
        // a) The match is not a list.
        (
            "$..[?@.type == 'articles'].attributes",
            [
                json!({"data": [article(1)]}),
                json!({"data": [{"type": "comments", "attributes": {"x": 1}}]}),
                json!({"data": [article(3)]}),
            ],
        ),
        // b) Sibling sections without `items`.
        (
            "$..[?@.name == 'docs'].items",
            [
                json!({"sections": [docs(&[1])]}),
                json!({"sections": [{"name": "stats", "took": 3}]}),
                json!({"sections": [docs(&[3])]}),
            ],
        ),
    ];
    for (path, bodies) in cases {
        let w = cursor_walk(json!({ "items_path": path }), &bodies).await;
        assert_eq!(w.err, None, "{path}");
        assert_eq!((w.titles.len(), w.failed, w.requests), (2, 0, 3), "{path}");
    }
}
