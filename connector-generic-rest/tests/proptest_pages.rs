//! Any item count, requested page size and server cap yields every item exactly once, also
//! against a WordPress-style server that answers 400 past the last page, and through a
//! filtering `items_path` every item it keeps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{FakeApi, Style, build};
use connector_core::SyncContext;
use futures::StreamExt;
use proptest::prelude::*;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn run(n: usize, asked: usize, cap: usize, style: Style) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::start().await;
        FakeApi::new(n, style).cap(cap).mount(&server, "/items").await;
        let (kind, pc) = match style {
            Style::Page => ("page", json!({"page_size_param": "per_page", "page_size": asked})),
            _ => ("offset", json!({"limit_param": "limit", "limit": asked})),
        };
        let c = build(json!({"url": format!("{}/items", server.uri()), "id_field": "id", "content_fields": "title",
            "pagination_type": kind, "pagination_config": pc}));
        let mut s = c.as_load().unwrap().load(SyncContext::new());
        let mut titles = Vec::new();
        while let Some(p) = s.next().await {
            titles.extend(p.unwrap().documents.into_iter().map(|d| d.title));
        }
        titles
    })
}

/// As [`run`], over items that are `kept` or not, read through a filter that takes the kept
/// ones (`items_path` `$.data[?@.kept == true]`, `$.results[...]` for offsets).
fn run_filtered(kept: &[bool], asked: usize, cap: usize, style: Style) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::start().await;
        let mut api = FakeApi::new(kept.len(), style).cap(cap);
        for (item, kept) in api.items.iter_mut().zip(kept) {
            item["kept"] = json!(kept);
        }
        api.mount(&server, "/items").await;
        let (kind, list, pc) = match style {
            Style::Page => ("page", "data", json!({"page_size_param": "per_page", "page_size": asked})),
            _ => ("offset", "results", json!({"limit_param": "limit", "limit": asked})),
        };
        let c = build(json!({"url": format!("{}/items", server.uri()), "id_field": "id", "content_fields": "title",
            "items_path": format!("$.{list}[?@.kept == true]"), "pagination_type": kind, "pagination_config": pc}));
        let mut s = c.as_load().unwrap().load(SyncContext::new());
        let mut titles = Vec::new();
        while let Some(p) = s.next().await {
            titles.extend(p.unwrap().documents.into_iter().map(|d| d.title));
        }
        titles
    })
}

fn q(req: &Request, k: &str) -> Option<usize> {
    req.url
        .query_pairs()
        .find(|(qk, _)| qk == k)
        .and_then(|(_, v)| v.parse().ok())
}

/// WordPress's answers: pages of `min(per_page, cap)`, `X-WP-Total`/`X-WP-TotalPages` when
/// `headers`, and `400 rest_post_invalid_page_number` past the last page.
fn run_wordpress(n: usize, asked: usize, cap: usize, headers: bool) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(move |req: &Request| {
                let size = q(req, "per_page").unwrap_or(10).min(cap);
                let page = q(req, "page").unwrap_or(1);
                let pages = n.div_ceil(size);
                if page > pages && n > 0 {
                    return ResponseTemplate::new(400).set_body_json(
                        json!({"code": "rest_post_invalid_page_number", "data": {"status": 400}}),
                    );
                }
                let items: Vec<_> = ((page - 1) * size..(page * size).min(n))
                    .map(|i| json!({"id": i, "title": format!("Article {i}")}))
                    .collect();
                let mut r = ResponseTemplate::new(200).set_body_json(items);
                if headers {
                    r = r
                        .insert_header("X-WP-Total", n.to_string().as_str())
                        .insert_header("X-WP-TotalPages", pages.to_string().as_str());
                }
                r
            })
            .mount(&server)
            .await;
        let c = build(
            json!({"url": format!("{}/wp-json/wp/v2/posts", server.uri()), "id_field": "id",
            "content_fields": "title", "pagination_type": "page",
            "pagination_config": {"page_size_param": "per_page", "page_size": asked}}),
        );
        let mut s = c.as_load().unwrap().load(SyncContext::new());
        let mut titles = Vec::new();
        while let Some(p) = s.next().await {
            titles.extend(
                p.map_err(|e| e.to_string())?
                    .documents
                    .into_iter()
                    .map(|d| d.title),
            );
        }
        Ok(titles)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn every_item_exactly_once(n in 0usize..40, asked in 1usize..15, cap in 1usize..15, page in any::<bool>()) {
        let style = if page { Style::Page } else { Style::Offset };
        let titles = run(n, asked, cap, style);
        let want: Vec<String> = (0..n).map(|i| format!("Article {i}")).collect();
        prop_assert_eq!(titles, want);
    }

    /// A filter never ends a walk early: every kept item arrives, whichever pages the filter
    /// empties or leaves short.
    #[test]
    fn filtered_walks_deliver_every_kept_item(kept in prop::collection::vec(any::<bool>(), 0..40), asked in 1usize..15, cap in 1usize..15, page in any::<bool>()) {
        let style = if page { Style::Page } else { Style::Offset };
        let titles = run_filtered(&kept, asked, cap, style);
        let want: Vec<String> = kept.iter().enumerate().filter(|(_, k)| **k).map(|(i, _)| format!("Article {i}")).collect();
        prop_assert_eq!(titles, want);
    }

    #[test]
    fn wordpress_listings_end_without_an_error(n in 0usize..40, asked in 1usize..15, cap in 1usize..15, headers in any::<bool>()) {
        let titles = run_wordpress(n, asked, cap, headers);
        let want: Vec<String> = (0..n).map(|i| format!("Article {i}")).collect();
        prop_assert_eq!(titles, Ok(want));
    }
}
