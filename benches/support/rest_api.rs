//! The loopback REST server, connector config and raw baseline loop shared by the `rest_api`
//! (timing) and `rest_api_heap` (memory) benchmarks.

use std::sync::Arc;

use connectors::core::Connector;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Items per cursor page.
pub(crate) const PAGE: usize = 100;

/// Pre-rendered pages by cursor (`c{n}`), so every reader costs the server the same.
pub(crate) struct Pages(Vec<Vec<u8>>);

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .and_then(|(_, v)| v.strip_prefix('c').and_then(|n| n.parse::<usize>().ok()))
            .unwrap_or(0);
        match self.0.get(page) {
            Some(body) => ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"),
            None => ResponseTemplate::new(404),
        }
    }
}

/// The bodies of the pages for `items` items.
pub(crate) fn pages(items: usize) -> Vec<Vec<u8>> {
    let count = items.div_ceil(PAGE);
    (0..count)
        .map(|p| {
            let data: Vec<Value> = (p * PAGE..((p + 1) * PAGE).min(items))
                .map(|n| {
                    json!({
                        "id": n,
                        "title": format!("Article {n}"),
                        "body": format!("<p>Body of article {n}.</p><p>Second paragraph with <b>bold</b> text.</p>"),
                        "author": {"name": "Alice"},
                        "tags": ["a", "b"],
                        "updated_at": 1_767_225_600 + n as i64,
                    })
                })
                .collect();
            let next = if p + 1 < count { json!(format!("c{}", p + 1)) } else { Value::Null };
            serde_json::to_vec(&json!({"data": data, "meta": {"next": next}})).unwrap_or_default()
        })
        .collect()
}

/// A loopback server holding `items` items.
pub(crate) async fn start_server(items: usize) -> MockServer {
    // Recording every request would grow the server's heap with the page count and show up as
    // the reader's peak.
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/articles"))
        .respond_with(Pages(pages(items)))
        .mount(&server)
        .await;
    server
}

/// The `rest_api` connector, built from RAGFlow-style JSON config through the registry.
pub(crate) fn connector(uri: &str) -> Arc<dyn Connector> {
    let mut registry = connectors::Registry::new();
    connectors::generic_rest::register(&mut registry);
    let config = json!({
        "url": format!("{uri}/v1/articles"),
        "items_path": "$.data",
        "id_field": "id",
        "content_fields": "title, body",
        "metadata_fields": ["author.name", "tags[*]"],
        "poll_timestamp_field": "updated_at",
        "pagination_type": "cursor",
        "pagination_config": {"cursor_param": "cursor", "next_cursor_path": "$.meta.next", "page_size": PAGE},
        // The fake API listens on loopback, which the connector reaches only when allowed.
        "allowed_hosts": ["127.0.0.1"],
    });
    match registry.build("rest_api", config) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

/// The baseline reader: a raw `reqwest` loop over the same pages, each body parsed as JSON.
/// Returns the item count.
#[allow(clippy::unwrap_used)] // A benchmark.
pub(crate) async fn raw_loop(uri: &str) -> usize {
    let raw = reqwest::Client::new();
    let mut seen = 0usize;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{uri}/v1/articles");
        if let Some(c) = &cursor {
            url.push_str(&format!("?cursor={c}"));
        }
        let body = raw.get(&url).send().await.unwrap().bytes().await.unwrap();
        let page: Value = serde_json::from_slice(&body).unwrap();
        seen += page["data"].as_array().map_or(0, Vec::len);
        match page["meta"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen
}
