//! Loopback end-to-end bench of the Confluence connector: 5,000 pages with comments served by
//! a local fake of the Server REST API (100 search pages of 50), loaded through the connector
//! (storage format → Markdown, comments inlined) and, as the baseline in the same run, fetched
//! raw with reqwest (the same search pages, bodies parsed as JSON and nothing else).
//!
//! `cargo bench --bench confluence` prints pages/s for both, the ratio, and requests per page.
//! Not run in CI; no assertion on timings.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connectors::{Registry, SyncContext};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAGES: usize = 5_000;
const PAGE_SIZE: usize = 50;
const RUNS: usize = 3;

fn body(i: usize) -> String {
    format!(
        r#"<h1>Service {i}</h1><p>This page describes <strong>service {i}</strong> and how to <em>operate</em> it, see <ac:link><ri:page ri:content-title="Runbook" /></ac:link>.</p>
<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Owned by team {t}.</p></ac:rich-text-body></ac:structured-macro>
<ul><li>deploys daily</li><li>alerts go to <code>#team-{t}</code></li></ul>
<table><tbody><tr><th>Env</th><th>URL</th></tr><tr><td>prod</td><td>https://svc{i}.example.com</td></tr><tr><td>staging</td><td>https://svc{i}.staging.example.com</td></tr></tbody></table>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[curl -s https://svc{i}.example.com/health | jq .status]]></ac:plain-text-body></ac:structured-macro>
<p>Last reviewed by the on-call engineer&nbsp;&mdash; questions in the comments.</p>"#,
        t = i % 17
    )
}

/// The two comments of page `i`, as the connector's comment search (`type = comment`, the
/// pages as containers) returns them.
fn comments_json(i: usize) -> Vec<serde_json::Value> {
    (0..2)
        .map(|c| {
            json!({
                "id": format!("{}", 900_000 + i * 2 + c), "type": "comment", "status": "current", "title": "Re",
                "container": {"id": (10_000 + i).to_string(), "type": "page"},
                "ancestors": [],
                "extensions": {"location": "footer"},
                "version": {"by": {"type": "known", "displayName": "Cat Commenter"}, "when": "2026-03-02T10:00:00.000Z", "number": 1},
                "body": {"storage": {"value": format!("<p>Comment {c} on service {i}: looks good.</p>"), "representation": "storage"}},
            })
        })
        .collect()
}

fn page_json(i: usize) -> serde_json::Value {
    let id = 10_000 + i;
    let comments = comments_json(i);
    json!({
        "id": id.to_string(), "type": "page", "status": "current", "title": format!("Service {i}"),
        "space": {"id": 1, "key": "ENG", "name": "Engineering", "type": "global"},
        "history": {"latest": true, "createdBy": {"type": "known", "displayName": "Ann Author", "email": "ann@example.com"}},
        "version": {"by": {"type": "known", "displayName": "Ed Editor"}, "when": "2026-03-02T09:00:00.000Z", "number": 3},
        "ancestors": [{"id": "1", "type": "page", "title": "Services"}],
        "metadata": {"labels": {"results": [{"prefix": "global", "name": "service"}], "start": 0, "limit": 200, "size": 1}},
        "children": {"comment": {"results": comments, "start": 0, "limit": 25, "size": 2, "_links": {}}},
        "body": {"storage": {"value": body(i), "representation": "storage"}},
        "_links": {"webui": format!("/pages/viewpage.action?pageId={id}")},
    })
}

/// Serves the search pages from the precomputed results: any `start` and `limit`, as
/// Confluence does (the connector's offset walk overlaps its pages, so its starts are not
/// multiples of the page size).
struct Search {
    base: String,
    /// Each page's JSON, serialised once.
    results: Arc<Vec<String>>,
}

impl Respond for Search {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let cql = query("cql").unwrap_or_default();
        // The connector's comment search for one result page: `container = N` per page.
        if cql.starts_with("type = comment") {
            let results: Vec<serde_json::Value> = cql
                .split("container = ")
                .skip(1)
                .filter_map(|rest| {
                    rest.split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse::<usize>()
                        .ok()
                })
                .flat_map(|id| comments_json(id - 10_000))
                .collect();
            let size = results.len();
            return ResponseTemplate::new(200).set_body_json(
                json!({"results": results, "start": 0, "limit": 100, "size": size, "_links": {}}),
            );
        }
        let start: usize = query("start").and_then(|v| v.parse().ok()).unwrap_or(0);
        let limit: usize = query("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(PAGE_SIZE)
            .min(PAGE_SIZE);
        let end = (start + limit).min(self.results.len());
        let slice = self.results.get(start.min(end)..end).unwrap_or(&[]);
        let next = if end < self.results.len() {
            format!(r#","next":"/rest/api/content/search?cql=x&limit={limit}&start={end}""#)
        } else {
            String::new()
        };
        let body = format!(
            r#"{{"results":[{}],"start":{start},"limit":{limit},"size":{},"_links":{{"base":"{}","context":""{next}}}}}"#,
            slice.join(","),
            slice.len(),
            self.base
        );
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn search_results() -> Vec<String> {
    (0..PAGES)
        .map(|i| serde_json::to_string(&page_json(i)).unwrap())
        .collect()
}

async fn connector_run(registry: &Registry, base: &str) -> (Duration, usize, u64) {
    let connector = registry
        .build(
            "confluence",
            json!({
                "wiki_base": base, "is_cloud": false, "space": "ENG",
                "credentials": {"confluence_access_token": "bench-token"},
                // The mock listens on loopback, which the connector denies unless allowed.
                "allowed_hosts": ["127.0.0.1"],
            }),
        )
        .unwrap();
    let ctx = SyncContext::new();
    let started = Instant::now();
    let mut stream = connector.as_load().unwrap().load(ctx.clone());
    let mut docs = 0;
    while let Some(batch) = stream.next().await {
        docs += batch.unwrap().documents.len();
    }
    (started.elapsed(), docs, ctx.stats().requests())
}

async fn raw_run(client: &reqwest::Client, base: &str) -> (Duration, usize, u64) {
    let started = Instant::now();
    let mut pages = 0;
    let mut requests = 0;
    for start in (0..PAGES).step_by(PAGE_SIZE) {
        let url = format!(
            "{base}/rest/api/content/search?cql=space+%3D+%22ENG%22&limit={PAGE_SIZE}&start={start}"
        );
        let bytes = client
            .get(url)
            .bearer_auth("bench-token")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        pages += value["results"].as_array().map_or(0, Vec::len);
    }
    (started.elapsed(), pages, requests)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::start().await;
        let base = server.uri();
        let results = Arc::new(search_results());
        let bytes: usize = results.iter().map(String::len).sum();
        Mock::given(method("GET"))
            .and(path("/rest/api/content/search"))
            .respond_with(Search {
                base: base.clone(),
                results,
            })
            .mount(&server)
            .await;
        let registry = connectors::registry();
        let client = reqwest::Client::new();
        println!("confluence loopback: {PAGES} pages with 2 comments each, {} search pages, {:.1} MiB of JSON", PAGES / PAGE_SIZE, bytes as f64 / 1048576.0);
        let mut best_conn = Duration::MAX;
        let mut best_raw = Duration::MAX;
        let mut conn_requests = 0;
        for run in 0..RUNS {
            let (raw, raw_pages, raw_requests) = raw_run(&client, &base).await;
            let (conn, docs, requests) = connector_run(&registry, &base).await;
            assert_eq!(docs, PAGES);
            assert_eq!(raw_pages, PAGES);
            println!(
                "run {run}: connector {:.0} pages/s ({} requests), raw reqwest {:.0} pages/s ({raw_requests} requests)",
                PAGES as f64 / conn.as_secs_f64(),
                requests,
                PAGES as f64 / raw.as_secs_f64()
            );
            best_conn = best_conn.min(conn);
            best_raw = best_raw.min(raw);
            conn_requests = requests;
        }
        let conn_rate = PAGES as f64 / best_conn.as_secs_f64();
        let raw_rate = PAGES as f64 / best_raw.as_secs_f64();
        println!("best: connector {conn_rate:.0} pages/s, raw fetch {raw_rate:.0} pages/s, ratio {:.2} of the raw fetch", conn_rate / raw_rate);
        println!(
            "requests per page: connector {:.3} ({conn_requests} for {PAGES}), raw fetch {:.3}; RAGFlow's pattern (limit=2 plus two CQL queries per page) would be {:.1}",
            conn_requests as f64 / PAGES as f64,
            (PAGES / PAGE_SIZE) as f64 / PAGES as f64,
            0.5 + 2.0
        );
    });
}
