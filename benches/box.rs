//! Loopback end-to-end benchmark of the Box connector (`harness = false`, not run in CI): a
//! wiremock Box holding `BOX_BENCH_FILES` files (default 10,000) of 1 KiB in 10 folders,
//! listed 1000 per folder-items page, each download a `302` to the download path as Box does,
//! read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: every folder page by marker, then
//!    every file's content (following the redirect), 8 at a time, each body kept;
//! 2. `BoxConnector::load`: the same requests through core's client, each file a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints files/s, requests per file and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow with the
//! files listed (`BOX_BENCH_FILES=1000` and `=10000`). `cargo bench --bench box`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::r#box::{BoxConfig, BoxConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const FOLDERS: usize = 10;
const PAGE: usize = 1000;
const BODY: usize = 1024;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;

fn files() -> usize {
    loopback::env_size("BOX_BENCH_FILES", 10_000)
}

fn file(id: usize, folder: usize) -> Value {
    json!({
        "type": "file", "id": id.to_string(), "sequence_id": "1", "etag": "1",
        "sha1": format!("{id:040x}"), "name": format!("note-{id}.md"), "size": BODY,
        "description": "", "created_at": "2025-03-01T02:00:00-08:00",
        "modified_at": "2025-03-01T02:01:00-08:00",
        "content_modified_at": "2025-03-01T02:01:00-08:00",
        "owned_by": {"type": "user", "id": "1", "name": "Owner", "login": "owner@example.com"},
        "modified_by": {"type": "user", "id": "1", "name": "Owner", "login": "owner@example.com"},
        "has_collaborations": false, "shared_link": null, "item_status": "active",
        "path_collection": {"total_count": 2, "entries": [
            {"type": "folder", "id": "0", "name": "All Files"},
            {"type": "folder", "id": (1000 + folder).to_string(), "name": format!("team-{folder}")}]},
    })
}

/// The folder-items pages, pre-rendered: `pages[folder][n]` is the n-th page of the folder
/// (`folder` = `FOLDERS` stands for the root).
struct Listing(Vec<Vec<String>>);

impl Respond for Listing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id: usize = req
            .url
            .path()
            .split('/')
            .nth(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let folder = if id == 0 { FOLDERS } else { id - 1000 };
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "marker")
            .and_then(|(_, v)| v.strip_prefix('m').and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let body = self
            .0
            .get(folder)
            .and_then(|p| p.get(page))
            .cloned()
            .unwrap_or_else(|| r#"{"entries":[],"limit":1000,"next_marker":null}"#.to_owned());
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<Vec<String>> {
    let per = n / FOLDERS;
    let mut out: Vec<Vec<String>> = (0..FOLDERS)
        .map(|f| {
            let entries: Vec<Value> = (0..per).map(|i| file(f * per + i + 1, f)).collect();
            let chunks: Vec<&[Value]> = entries.chunks(PAGE).collect();
            chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let next = if i + 1 < chunks.len() {
                        json!(format!("m{}", i + 1))
                    } else {
                        Value::Null
                    };
                    json!({"entries": c, "limit": PAGE, "next_marker": next}).to_string()
                })
                .collect()
        })
        .collect();
    let root: Vec<Value> = (0..FOLDERS)
        .map(|f| {
            json!({"type": "folder", "id": (1000 + f).to_string(), "sequence_id": "1", "etag": "1",
            "name": format!("team-{f}"), "has_collaborations": false, "shared_link": null})
        })
        .collect();
    out.push(vec![
        json!({"entries": root, "limit": PAGE, "next_marker": null}).to_string(),
    ]);
    out
}

/// The raw fetch: the same pages by marker, then the same downloads, 8 at a time.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let mut folders = vec!["0".to_owned()];
    let mut ids = Vec::new();
    let mut requests = 0u64;
    while let Some(folder) = folders.pop() {
        let mut marker: Option<String> = None;
        loop {
            let mut url = format!(
                "{base}/2.0/folders/{folder}/items?usemarker=true&limit={PAGE}&fields=type,id,name,size,sha1,etag,modified_at"
            );
            if let Some(m) = &marker {
                url.push_str(&format!("&marker={m}"));
            }
            let body = client
                .get(&url)
                .bearer_auth("bench")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            requests += 1;
            let page: Value = serde_json::from_slice(&body).unwrap();
            for e in page["entries"].as_array().unwrap() {
                let id = e["id"].as_str().unwrap().to_owned();
                if e["type"] == "folder" {
                    folders.push(id)
                } else {
                    ids.push(id)
                }
            }
            match page["next_marker"].as_str() {
                Some(m) => marker = Some(m.to_owned()),
                None => break,
            }
        }
    }
    let bodies: Vec<usize> = futures::stream::iter(ids)
        .map(|id| {
            let url = format!("{base}/2.0/files/{id}/content");
            async move {
                client
                    .get(&url)
                    .bearer_auth("bench")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert!(bodies.iter().all(|b| *b == BODY));
    (bodies.len(), requests + 2 * bodies.len() as u64)
}

fn main() {
    let n = files();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/2\\.0/folders/[0-9]+/items$"))
            .respond_with(Listing(pages(n)))
            .mount(&server)
            .await;
        let location = server.uri();
        Mock::given(method("GET"))
            .and(path_regex("^/2\\.0/files/[0-9]+/content$"))
            .respond_with(move |req: &Request| {
                let id = req.url.path().split('/').nth(3).unwrap_or("0").to_owned();
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("{location}/dl/{id}").as_str())
            })
            .mount(&server)
            .await;
        let body = vec![b'x'; BODY];
        Mock::given(method("GET"))
            .and(path_regex("^/dl/"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
            .mount(&server)
            .await;
        println!(
            "box loopback: {n} files of {BODY} B in {FOLDERS} folders, {PAGE} per page, downloads by 302"
        );

        let tokens = r#"{"client_id": "c", "client_secret": "s", "access_token": "bench"}"#;
        let config: BoxConfig = connectors::core::config::from_json(json!({
            "credentials": {"box_tokens": tokens},
            "api_base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // Box's 1000 per minute would make this a test of the limiter.
            "requests_per_minute": 1_000_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "file",
            name: "BoxConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || BoxConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
