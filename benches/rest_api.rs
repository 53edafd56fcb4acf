//! Loopback end-to-end benchmark of the `rest_api` connector (`harness = false`, not run in CI).
//!
//! A wiremock server holds 50,000 items served 100 per page behind an opaque cursor. Read by
//!
//! 1. the baseline: a raw `reqwest` loop fetching the same pages, each body parsed as JSON;
//! 2. `RestApiConnector::load` (items → documents, through the shared HTTP client);
//! 3. a full `Syncer` run into a discarding sink (re-batching, fingerprints, state).
//!
//! Prints items/s and the ratio to the baseline, then the peak heap growth while syncing 5,000
//! and 50,000 items (it should stay flat: pages are streamed, never collected).
//! Run with `cargo bench --bench rest_api` (`REST_BENCH_ITEMS=5000` for a shorter main run).

use std::sync::Arc;
use std::time::Instant;

use connectors::core::sink::DiscardSink;
use connectors::core::state::MemoryStateStore;
use connectors::core::sync::{SyncMode, Syncer};
use connectors::core::{Connector, SyncContext};
use futures::StreamExt;
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const PAGE: usize = 100;

/// Pre-rendered pages by cursor (`c{n}`), so every reader costs the server the same.
struct Pages(Vec<Vec<u8>>);

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

fn pages(items: usize) -> Vec<Vec<u8>> {
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

async fn start_server(items: usize) -> MockServer {
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

fn connector(uri: &str) -> Arc<dyn Connector> {
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
    });
    match registry.build("rest_api", config) {
        Ok(c) => c.into(),
        Err(e) => panic!("bench config: {e}"),
    }
}

/// The baseline reader: a raw `reqwest` loop over the same pages, each body parsed as JSON.
/// Returns the item count.
#[allow(clippy::unwrap_used)] // A benchmark.
async fn raw_loop(uri: &str) -> usize {
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

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        // `REST_BENCH_ITEMS` shrinks the main run, e.g. under a profiler.
        let items = std::env::var("REST_BENCH_ITEMS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000usize);
        let server = start_server(items).await;
        println!("rest_api loopback: {items} items, {} cursor pages of {PAGE}", items.div_ceil(PAGE));

        // 1. Baseline: raw reqwest over the same pages.
        let started = Instant::now();
        assert_eq!(raw_loop(&server.uri()).await, items);
        let base = started.elapsed().as_secs_f64();
        let base_rate = items as f64 / base;
        println!("{:<30} {base:>7.3} s  {base_rate:>10.0} items/s", "raw reqwest loop");

        // 2. The connector's load stream alone.
        let c = connector(&server.uri());
        let started = Instant::now();
        let mut docs = 0usize;
        let mut stream = c.as_load().expect("rest_api loads").load(SyncContext::new());
        while let Some(page) = stream.next().await {
            docs += page.unwrap().documents.len();
        }
        drop(stream);
        assert_eq!(docs, items);
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<30} {secs:>7.3} s  {:>10.0} items/s  ({:.2}x the baseline's time)",
            "RestApiConnector::load",
            items as f64 / secs,
            secs / base
        );

        // 3. A full sync through the batch loop.
        let started = Instant::now();
        let report = Syncer::new(c.clone()).sink(DiscardSink).state(MemoryStateStore::new()).run(SyncMode::Full).await.unwrap();
        assert_eq!(report.new as usize, items);
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<30} {secs:>7.3} s  {:>10.0} items/s  ({:.2}x the baseline's time, {} requests)",
            "Syncer full run",
            items as f64 / secs,
            secs / base,
            report.requests
        );
        drop(server);

        // 4. Peak heap growth while syncing: 5k vs 50k items (the state store of fingerprints
        //    grows with the item count; the loop itself must not).
        for n in [5_000usize, 50_000] {
            let server = start_server(n).await;
            let c = connector(&server.uri());
            // The same measure of the raw loop: what the server and the HTTP stack cost alone.
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(raw_loop(&server.uri()).await, n);
            let raw_peak = ALLOC.peak_usage().saturating_sub(before);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let mut stream = c.as_load().expect("rest_api loads").load(SyncContext::new());
            let mut docs = 0usize;
            while let Some(page) = stream.next().await {
                docs += page.unwrap().documents.len();
            }
            drop(stream);
            let load_peak = ALLOC.peak_usage().saturating_sub(before);
            ALLOC.reset_peak_usage();
            let report = Syncer::new(c).sink(DiscardSink).state(MemoryStateStore::new()).run(SyncMode::Full).await.unwrap();
            let sync_peak = ALLOC.peak_usage().saturating_sub(before);
            assert_eq!((docs, report.new as usize), (n, n));
            println!(
                "peak heap growth, {n:>6} items: raw loop {:>6.2} MiB, load stream {:>6.2} MiB, full sync {:>6.2} MiB (incl. the in-memory state store)",
                mib(raw_peak),
                mib(load_peak),
                mib(sync_peak)
            );
        }
    });
}
