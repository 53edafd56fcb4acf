//! review6: the numbered walk's repeat guard with an item that cannot be read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::build;
use connector_core::{Connector, Document, Error, Failure, SyncContext};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn load(c: &Arc<dyn Connector>) -> (Vec<Document>, Vec<Failure>, Option<Error>) {
    let mut s = c.as_load().expect("load").load(SyncContext::new());
    let (mut docs, mut fails) = (Vec::new(), Vec::new());
    while let Some(page) = s.next().await {
        match page {
            Ok(b) => {
                docs.extend(b.documents);
                fails.extend(b.failures);
            }
            Err(e) => return (docs, fails, Some(e)),
        }
    }
    (docs, fails, None)
}

/// An API that ignores `page` answers the same two items every time; the second cannot be
/// read (`1e400`) and, with `volatile`, carries a value that changes per response (a signed
/// URL, a fetch time), as a readable item may without its id changing.
async fn ignores_page(volatile: bool) -> (usize, usize, usize) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    Mock::given(method("GET"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let sig = if volatile { n } else { 0 };
            let body = format!(
                r#"{{"data": [{{"id": 1, "title": "one", "thumb": "https://x/1?sig={sig}"}}, {{"id": 2, "title": "two", "score": 1e400, "thumb": "https://x/2?sig={sig}"}}]}}"#
            );
            ResponseTemplate::new(200).set_body_raw(body, "application/json")
        })
        .mount(&server)
        .await;
    let cfg = json!({
        "url": format!("{}/items", server.uri()),
        "items_path": "$.data",
        "id_field": "id",
        "content_fields": "title",
        "metadata_fields": ["score"],
        "pagination_type": "page",
        "max_pages": 20,
    });
    let (docs, fails, err) = load(&build(cfg)).await;
    assert!(err.is_none(), "{err:?}");
    (docs.len(), fails.len(), hits.load(Ordering::SeqCst))
}

#[tokio::test]
async fn review6_repeat_guard_with_an_unreadable_item() {
    // The same bytes every time: the repeat is seen after two requests.
    assert_eq!(ignores_page(false).await, (1, 1, 2));
    // A value that changes per response in the unreadable item only: the readable item's
    // id hash ignores it, the unreadable item's byte hash does not.
    assert_eq!(ignores_page(true).await, (1, 1, 2));
}
