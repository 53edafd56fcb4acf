//! Loopback end-to-end benchmark of the Notion connector (`harness = false`, not run in CI): a
//! wiremock Notion holding `NOTION_BENCH_PAGES` pages (default 10,000), listed 100 per
//! `POST /v1/search` page, each page's blocks one `GET /v1/blocks/{id}/children` answer of six
//! blocks (a heading, paragraphs with styled and linked text, list items, code), read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: every search page by cursor, then
//!    every page's children, 3 pages at a time (the connector's page concurrency), each body
//!    parsed as JSON;
//! 2. `NotionConnector::load`: the same requests through core's client, each page rendered as
//!    Markdown into a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints pages/s, requests per page and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow with the
//! pages listed (`NOTION_BENCH_PAGES=1000` and `=10000`). `cargo bench --bench notion`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::notion::{NotionConfig, NotionConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 100;
const CONCURRENCY: usize = 3;
const ROUNDS: usize = 3;

fn pages() -> usize {
    loopback::env_size("NOTION_BENCH_PAGES", 10_000)
}

fn page_id(n: usize) -> String {
    format!("{n:08x}-0000-4000-8000-000000000000")
}

fn page(n: usize) -> Value {
    let id = page_id(n);
    json!({
        "object": "page", "id": id,
        "created_time": "2025-03-01T10:00:00.000Z", "last_edited_time": "2025-03-01T10:05:00.000Z",
        "created_by": {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"},
        "last_edited_by": {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"},
        "cover": null, "icon": null, "parent": {"type": "workspace", "workspace": true},
        "archived": false, "in_trash": false,
        "properties": {"title": {"id": "title", "type": "title", "title": [run(&format!("Page {n}"), false, None)]}},
        "url": format!("https://www.notion.so/Page-{}", id.replace('-', "")), "public_url": null,
    })
}

fn run(text: &str, bold: bool, link: Option<&str>) -> Value {
    json!({
        "type": "text", "text": {"content": text, "link": link.map(|u| json!({"url": u}))},
        "annotations": {"bold": bold, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
        "plain_text": text, "href": link,
    })
}

fn block(n: usize, kind: &str, body: Value) -> Value {
    let mut b = json!({
        "object": "block", "id": format!("{n:08x}-1111-4000-8000-000000000000"),
        "created_time": "2025-03-01T10:00:00.000Z", "last_edited_time": "2025-03-01T10:05:00.000Z",
        "has_children": false, "archived": false, "in_trash": false, "type": kind,
    });
    b[kind] = body;
    b
}

/// The same children list for every page: six blocks, about 2 KiB.
fn children() -> String {
    let results = vec![
        block(
            1,
            "heading_2",
            json!({"rich_text": [run("Overview", false, None)], "is_toggleable": false, "color": "default"}),
        ),
        block(
            2,
            "paragraph",
            json!({"rich_text": [run("This page explains the ", false, None), run("release process", true, None), run(" and links the ", false, None), run("runbook", false, Some("https://example.com/runbook"))], "color": "default"}),
        ),
        block(
            3,
            "bulleted_list_item",
            json!({"rich_text": [run("Tag the release_candidate branch", false, None)], "color": "default"}),
        ),
        block(
            4,
            "bulleted_list_item",
            json!({"rich_text": [run("Run the *full* test suite", false, None)], "color": "default"}),
        ),
        block(
            5,
            "code",
            json!({"rich_text": [run("cargo test --workspace\ncargo bench", false, None)], "language": "shell", "caption": []}),
        ),
        block(
            6,
            "paragraph",
            json!({"rich_text": [run("Ask in #releases when in doubt; 2 reviewers sign off.", false, None)], "color": "default"}),
        ),
    ];
    json!({"object": "list", "results": results, "next_cursor": null, "has_more": false, "type": "block", "block": {}}).to_string()
}

/// The search pages, pre-rendered; `s-{n}` is the cursor of the n-th.
struct Search(Vec<String>);

impl Respond for Search {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let n: usize = body["start_cursor"]
            .as_str()
            .and_then(|c| c.strip_prefix("s-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let page = self.0.get(n).cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_raw(page.into_bytes(), "application/json")
    }
}

fn search_pages(n: usize) -> Vec<String> {
    let all: Vec<Value> = (0..n).map(page).collect();
    let chunks: Vec<&[Value]> = all.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let more = i + 1 < chunks.len();
            json!({
                "object": "list", "results": c,
                "next_cursor": if more { json!(format!("s-{}", i + 1)) } else { Value::Null },
                "has_more": more, "type": "page_or_database", "page_or_database": {},
            })
            .to_string()
        })
        .collect()
}

/// The raw fetch: the same search pages by cursor, then each page's children, 3 at a time.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut requests = 0u64;
    loop {
        let mut body = json!({"filter": {"property": "object", "value": "page"}, "page_size": PAGE,
            "sort": {"timestamp": "last_edited_time", "direction": "ascending"}});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let bytes = client
            .post(format!("{base}/v1/search"))
            .bearer_auth("bench")
            .header("notion-version", "2025-09-03")
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let list: Value = serde_json::from_slice(&bytes).unwrap();
        for r in list["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        match list["next_cursor"].as_str() {
            Some(c) if list["has_more"] == true => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    let blocks: Vec<usize> = futures::stream::iter(ids)
        .map(|id| {
            let url = format!("{base}/v1/blocks/{id}/children?page_size=100");
            async move {
                let bytes = client
                    .get(&url)
                    .bearer_auth("bench")
                    .header("notion-version", "2025-09-03")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let list: Value = serde_json::from_slice(&bytes).unwrap();
                list["results"].as_array().unwrap().len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert!(blocks.iter().all(|b| *b == 6));
    (blocks.len(), requests + blocks.len() as u64)
}

fn main() {
    let n = pages();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/search"))
            .respond_with(Search(search_pages(n)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/blocks/[0-9a-f-]+/children$"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(children().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        println!("notion loopback: {n} pages, {PAGE} per search page, 6 blocks each");

        let config: NotionConfig = connectors::core::config::from_json(json!({
            "credentials": {"notion_integration_token": "bench"},
            "api_base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // Notion's 3 per second would make this a test of the limiter.
            "requests_per_second": 10_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "page",
            name: "NotionConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || NotionConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
