//! Any item count, requested page size and server cap yields every item exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{FakeApi, Style, build};
use connector_core::SyncContext;
use futures::StreamExt;
use proptest::prelude::*;
use serde_json::json;
use wiremock::MockServer;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn every_item_exactly_once(n in 0usize..40, asked in 1usize..15, cap in 1usize..15, page in any::<bool>()) {
        let style = if page { Style::Page } else { Style::Offset };
        let titles = run(n, asked, cap, style);
        let want: Vec<String> = (0..n).map(|i| format!("Article {i}")).collect();
        prop_assert_eq!(titles, want);
    }
}
