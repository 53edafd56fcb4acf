//! Where page walks end against APIs that do not say "last page" the way the config expects:
//! WordPress's 400 past the last page, an API that ignores `page`, totals in the body or the
//! headers, empty pages with a next cursor, and item lists found in response order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::build;
use connector_core::{Connector, Document, Error, ErrorKind, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn load(c: &Arc<dyn Connector>) -> (Vec<Document>, Option<Error>) {
    let mut s = c.as_load().expect("load").load(SyncContext::new());
    let mut docs = Vec::new();
    while let Some(page) = s.next().await {
        match page {
            Ok(b) => docs.extend(b.documents),
            Err(e) => return (docs, Some(e)),
        }
    }
    (docs, None)
}

async fn list_ids(c: &Arc<dyn Connector>) -> Result<usize, Error> {
    let mut s = c.as_slim().expect("slim").list_ids(SyncContext::new());
    let mut n = 0;
    while let Some(page) = s.next().await {
        n += page?.len();
    }
    Ok(n)
}

fn q(req: &Request, k: &str) -> Option<usize> {
    req.url
        .query_pairs()
        .find(|(qk, _)| qk == k)
        .and_then(|(_, v)| v.parse().ok())
}

fn post(i: usize) -> Value {
    json!({"id": i, "title": {"rendered": format!("Post {i}")}, "content": {"rendered": format!("<p>Body {i}</p>")}})
}

/// A server answering every request with `respond`, counting the requests.
async fn serve(
    respond: impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static,
) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            counter.fetch_add(1, Ordering::SeqCst);
            respond(req)
        })
        .mount(&server)
        .await;
    (server, hits)
}

/// WordPress's `/wp/v2/posts`: `page` and `per_page`, a JSON array, and past the last page a
/// 400 with `rest_post_invalid_page_number` (REST API handbook, "Pagination"). With `headers`,
/// `X-WP-Total` and `X-WP-TotalPages` as WordPress sends them.
async fn wordpress(posts: usize, headers: bool) -> (MockServer, Arc<AtomicUsize>) {
    serve(move |req| {
        let per_page = q(req, "per_page").unwrap_or(10);
        let page = q(req, "page").unwrap_or(1);
        let pages = posts.div_ceil(per_page);
        if page > pages.max(1) {
            return ResponseTemplate::new(400).set_body_json(json!({
                "code": "rest_post_invalid_page_number",
                "message": "The page number requested is larger than the number of pages available.",
                "data": {"status": 400}
            }));
        }
        let items: Vec<Value> = ((page - 1) * per_page..(page * per_page).min(posts))
            .map(post)
            .collect();
        let mut r = ResponseTemplate::new(200).set_body_json(items);
        if headers {
            r = r
                .insert_header("X-WP-Total", posts.to_string().as_str())
                .insert_header("X-WP-TotalPages", pages.to_string().as_str());
        }
        r
    })
    .await
}

fn wp_config(server: &MockServer, per_page: usize) -> Value {
    json!({"url": format!("{}/wp-json/wp/v2/posts", server.uri()), "id_field": "id",
        "content_fields": "title.rendered,content.rendered", "pagination_type": "page",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "page_size": per_page}})
}

#[tokio::test]
async fn wordpress_400_after_a_full_last_page_ends_the_listing() {
    let (server, hits) = wordpress(10, false).await;
    let c = build(wp_config(&server, 5));
    let (docs, err) = load(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 10);
    // Two full pages, then page 3 answers 400.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // Prune's listing is complete too, not an error.
    assert_eq!(list_ids(&c).await.unwrap(), 10);
}

#[tokio::test]
async fn wordpress_400_after_a_short_first_page_ends_the_listing() {
    let (server, hits) = wordpress(3, false).await;
    let (docs, err) = load(&build(wp_config(&server, 10))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 3);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wordpress_total_pages_header_ends_before_the_400() {
    let (server, hits) = wordpress(10, true).await;
    let (docs, err) = load(&build(wp_config(&server, 5))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 10);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_400_on_the_first_page_is_an_error() {
    let (server, _) = serve(|_| {
        ResponseTemplate::new(400).set_body_json(
            json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page"}),
        )
    })
    .await;
    let (docs, err) = load(&build(wp_config(&server, 500))).await;
    assert!(docs.is_empty());
    let err = err.expect("a first-page 400 fails the sync");
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("rest_invalid_param"), "{err}");
}

#[tokio::test]
async fn a_401_on_a_later_page_still_fails_fast() {
    let (server, _) = serve(|req| match q(req, "page") {
        Some(1) | None => {
            ResponseTemplate::new(200).set_body_json((0..5).map(post).collect::<Vec<_>>())
        }
        _ => ResponseTemplate::new(401).set_body_json(json!({"code": "rest_not_logged_in"})),
    })
    .await;
    let (docs, err) = load(&build(wp_config(&server, 5))).await;
    assert_eq!(docs.len(), 5);
    let err = err.expect("a 401 ends the sync");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}

#[tokio::test]
async fn an_api_that_ignores_page_yields_one_copy_in_two_requests() {
    // The same single item whatever `page` says, with and without `id_field`, with and
    // without a page size asked.
    for (id_field, size) in [
        (true, Some(100)),
        (false, Some(100)),
        (true, None),
        (false, None),
    ] {
        let (server, hits) = serve(|_| {
            ResponseTemplate::new(200).set_body_json(json!({"items": [{"id": 1, "title": "only"}]}))
        })
        .await;
        let mut cfg = json!({"url": format!("{}/things", server.uri()), "content_fields": "title",
            "pagination_type": "page", "pagination_config": {"page_param": "page"}});
        if id_field {
            cfg["id_field"] = json!("id");
        }
        if let Some(n) = size {
            cfg["pagination_config"]["page_size_param"] = json!("per_page");
            cfg["pagination_config"]["page_size"] = json!(n);
        }
        let c = build(cfg);
        let (docs, err) = load(&c).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(docs.len(), 1, "id_field {id_field}, size {size:?}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "id_field {id_field}, size {size:?}"
        );
        if id_field {
            assert_eq!(list_ids(&c).await.unwrap(), 1);
        }
    }
}

#[tokio::test]
async fn has_more_decides_over_the_page_length() {
    // Asked for 5, the server caps at 3 and says whether more remain.
    let (server, hits) = serve(|req| {
        let page = q(req, "page").unwrap_or(1);
        let items: Vec<Value> = ((page - 1) * 3..(page * 3).min(8)).map(post).collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": items, "has_more": page * 3 < 8}))
    })
    .await;
    let (docs, err) = load(&build(wp_config(&server, 5))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 8);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn total_pages_in_the_body_ends_a_page_walk() {
    // No page size asked, so the page length tells nothing; `total_pages` does.
    let (server, hits) = serve(|req| {
        let page = q(req, "page").unwrap_or(1);
        let items: Vec<Value> = ((page - 1) * 4..page * 4).map(post).collect();
        ResponseTemplate::new(200).set_body_json(json!({"results": items, "total_pages": 2}))
    })
    .await;
    let cfg = json!({"url": format!("{}/things", server.uri()), "id_field": "id",
        "content_fields": "title.rendered", "pagination_type": "page"});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 8);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn x_total_count_ends_an_offset_walk() {
    // JSON Server's `_start`/`_limit` with `X-Total-Count`, items as a bare array.
    let (server, hits) = serve(|req| {
        let start = q(req, "_start").unwrap_or(0);
        let items: Vec<Value> = (start..(start + 4).min(10)).map(post).collect();
        ResponseTemplate::new(200)
            .set_body_json(items)
            .insert_header("X-Total-Count", "10")
    })
    .await;
    let cfg = json!({"url": format!("{}/posts", server.uri()), "id_field": "id",
        "content_fields": "title.rendered", "pagination_type": "offset",
        "pagination_config": {"offset_param": "_start"}});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 10);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_empty_page_with_a_next_cursor_does_not_end_the_walk() {
    let (server, hits) = serve(|req| {
        let cursor = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned());
        match cursor.as_deref() {
            None => {
                ResponseTemplate::new(200).set_body_json(json!({"items": [], "next_cursor": "c2"}))
            }
            Some("c2") => ResponseTemplate::new(200)
                .set_body_json(json!({"items": [post(1), post(2)], "next_cursor": null})),
            Some(_) => ResponseTemplate::new(500),
        }
    })
    .await;
    let cfg = json!({"url": format!("{}/feed", server.uri()), "id_field": "id",
        "content_fields": "title.rendered", "pagination_type": "cursor",
        "pagination_config": {"cursor_param": "cursor", "next_cursor_path": "next_cursor"}});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_empty_page_with_a_next_link_does_not_end_the_walk() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            if req.url.query_pairs().any(|(k, v)| k == "page" && v == "2") {
                ResponseTemplate::new(200).set_body_json(json!([post(1)]))
            } else {
                ResponseTemplate::new(200)
                    .set_body_json(json!([]))
                    .insert_header(
                        "Link",
                        format!("<{uri}/events?page=2>; rel=\"next\"").as_str(),
                    )
            }
        })
        .mount(&server)
        .await;
    let cfg = json!({"url": format!("{}/events", server.uri()), "id_field": "id",
        "content_fields": "title.rendered", "pagination_type": "link_header"});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 1);
}

#[tokio::test]
async fn items_are_the_first_list_in_response_order() {
    // `errors` sorts before `users`; the response lists `users` first, as RAGFlow reads it.
    let (server, _) = serve(|_| {
        ResponseTemplate::new(200).set_body_raw(
            r#"{"users": [{"id": "u1", "name": "Ann"}, {"id": "u2", "name": "Bo"}], "errors": [], "count": 2}"#,
            "application/json",
        )
    })
    .await;
    let cfg = json!({"url": format!("{}/users", server.uri()), "id_field": "id", "content_fields": "name"});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles, ["Ann", "Bo"]);
}

#[tokio::test]
async fn ragflows_known_names_come_before_response_order() {
    let (server, _) = serve(|_| {
        ResponseTemplate::new(200).set_body_raw(
            r#"{"warnings": [{"id": "w"}], "records": [{"id": "r1", "name": "Rec"}]}"#,
            "application/json",
        )
    })
    .await;
    let cfg =
        json!({"url": format!("{}/r", server.uri()), "id_field": "id", "content_fields": "name"});
    let (docs, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].title, "Rec");
}

#[tokio::test]
async fn a_total_in_the_body_alone_ends_a_page_walk() {
    // No page size asked, no `total_pages`, no header: `total` items, counted across pages.
    let (server, hits) = serve(|req| {
        let page = q(req, "page").unwrap_or(1);
        let items: Vec<Value> = ((page - 1) * 4..(page * 4).min(7)).map(post).collect();
        ResponseTemplate::new(200).set_body_json(json!({"items": items, "total": 7}))
    })
    .await;
    let cfg = json!({"url": format!("{}/things", server.uri()), "id_field": "id",
        "content_fields": "title.rendered", "pagination_type": "page"});
    let c = build(cfg);
    let (docs, err) = load(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 7);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(list_ids(&c).await.unwrap(), 7);
}

#[tokio::test]
async fn a_404_after_a_short_first_page_ends_the_listing() {
    // An API that answers a page past the last with 404 (as many Rails and Django APIs do),
    // capped below the size asked: the short first page is confirmed by one more request.
    let (server, hits) = serve(|req| match q(req, "page").unwrap_or(1) {
        1 => ResponseTemplate::new(200).set_body_json((0..3).map(post).collect::<Vec<_>>()),
        _ => ResponseTemplate::new(404).set_body_json(json!({"detail": "Invalid page."})),
    })
    .await;
    let c = build(wp_config(&server, 10));
    let (docs, err) = load(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(docs.len(), 3);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(list_ids(&c).await.unwrap(), 3);
}
