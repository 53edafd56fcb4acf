//! Loopback end-to-end benchmark of the GitLab connector (`harness = false`, not run in CI): a
//! wiremock GitLab project holding `GITLAB_BENCH_ITEMS` items (default 10,000): half code files
//! of 1 KiB (a recursive tree in keyset pages of 100), half issues with one comment each
//! (listed 100 a page by `updated_at`), read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the project, the head commit, every
//!    tree page by its `Link`, every blob, every issue page by its `Link`, every issue's threads of
//!    notes (`/discussions`),
//!    8 at a time, each body kept;
//! 2. `GitlabConnector::load`: the same through core's client, each item a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints items/s, requests per item and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`). That figure counts this process's wiremock and the
//! baseline's vectors too, so it says nothing of the connector's own memory: the connector's
//! heap growth at 1,000 and 10,000 items is measured apart, with the server in a child
//! process, by `benches/gitlab_heap.rs`. `cargo bench --bench gitlab`.
//!
//! Session 36 (release, 2 cores shared with other builds, load 4-17; the binaries before and
//! after run alternately): before, `load` 1.31-1.78x (median 1.36x of six runs), full run
//! 1.44-2.17x (median 1.75x); after, `load` 1.11-1.51x (median 1.47x of three), full run
//! 1.18-1.66x (median 1.25x). A profile (`perf`) puts the connector's own work (JSON, Markdown,
//! documents) at a few per cent of the samples; the rest is the kernel's loopback path,
//! scheduling and the allocator, shared with wiremock. What moved the time: the next listing
//! page read while this page's files and notes are fetched, the walk a page ahead of the sync
//! (core's `read_ahead`), listing pages read typed in one pass, no walk or project copy per
//! item. `gitlab_heap` after: 1.86 MiB at 1,000 items, 1.89 MiB at 10,000 (1.02x).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use connectors::misc::gitlab::{GitlabConfig, GitlabConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAGE: usize = 100;
const BODY: usize = 1024;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;
const TOKEN: &str = "glpat-bench";

fn items() -> usize {
    loopback::env_size("GITLAB_BENCH_ITEMS", 10_000)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
}

fn gl_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The tree, pre-rendered: `pages[n]` is the n-th keyset page (`page_token=p{n}`).
struct Tree(Vec<String>, String);

impl Respond for Tree {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: usize = query(req, "page_token")
            .and_then(|t| t.strip_prefix('p').and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let mut t = ResponseTemplate::new(200);
        if n + 1 < self.0.len() {
            let next = format!(
                "{}/api/v4/projects/1/repository/tree?id=1&page_token=p{}&pagination=keyset&per_page={PAGE}&recursive=true&ref=main",
                self.1,
                n + 1
            );
            t = t.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        t.set_body_raw(
            self.0
                .get(n)
                .cloned()
                .unwrap_or_else(|| "[]".into())
                .into_bytes(),
            "application/json",
        )
    }
}

/// The issues, each pre-rendered, in `updated_at` order (issue i at `t0 + i s`); pages by
/// `updated_after` (inclusive) and `page`, with GitLab's offset `Link`.
struct Issues(Vec<String>, String);

impl Respond for Issues {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let start = query(req, "updated_after")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map_or(0, |t| (t.to_utc() - t0()).num_seconds().max(0) as usize);
        let page: usize = query(req, "page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let from = (start + (page - 1) * PAGE).min(self.0.len());
        let to = (from + PAGE).min(self.0.len());
        let body = format!("[{}]", self.0[from..to].join(","));
        let mut t = ResponseTemplate::new(200);
        if to < self.0.len() {
            // wiremock's request URL has no port: the link is written on the server's own.
            let mut next = url::Url::parse(&format!("{}{}", self.1, req.url.path())).unwrap();
            let pairs: Vec<(String, String)> = req
                .url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("page", &(page + 1).to_string());
            t = t
                .insert_header("Link", format!("<{next}>; rel=\"next\"").as_str())
                .insert_header("X-Next-Page", (page + 1).to_string().as_str());
        }
        t.set_body_raw(body.into_bytes(), "application/json")
    }
}

fn tree_pages(files: usize) -> Vec<String> {
    let entries: Vec<Value> = (0..files)
        .map(|i| {
            json!({"id": format!("{i:040x}"), "name": format!("f{i}.md"), "type": "blob",
                "path": format!("docs/d{}/f{i}.md", i / 1000), "mode": "100644"})
        })
        .collect();
    entries
        .chunks(PAGE)
        .map(|c| Value::Array(c.to_vec()).to_string())
        .collect()
}

fn issues(n: usize, base: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let iid = i + 1;
            json!({"id": 10_000 + iid, "iid": iid, "project_id": 1, "title": format!("Issue {iid}"),
                "description": "Steps to reproduce: open the page, click **Save**.", "state": "opened",
                "created_at": gl_time(t0()), "updated_at": gl_time(t0() + TimeDelta::seconds(i as i64)),
                "closed_at": null, "labels": ["bug"], "milestone": null,
                "author": {"id": 1, "username": "alice", "name": "Alice", "state": "active"},
                "assignees": [], "user_notes_count": 1, "confidential": false, "issue_type": "issue",
                "web_url": format!("{base}/acme/api/-/issues/{iid}")})
            .to_string()
        })
        .collect()
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
}

fn next_link(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link.find('>')?;
    Some(link[start..end].to_owned())
}

/// The raw fetch: the same listings by their `Link`, the same blob and note requests.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let api = format!("{base}/api/v4/projects/1");
    let mut requests = 2u64;
    get(client, &format!("{base}/api/v4/projects/acme%2Fapi"))
        .await
        .bytes()
        .await
        .unwrap();
    get(client, &format!("{api}/repository/commits/main"))
        .await
        .bytes()
        .await
        .unwrap();
    let mut shas = Vec::new();
    let mut at = Some(format!(
        "{api}/repository/tree?ref=main&recursive=true&pagination=keyset&per_page={PAGE}"
    ));
    while let Some(url) = at.take() {
        let resp = get(client, &url).await;
        at = next_link(&resp);
        let page: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        requests += 1;
        shas.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
    }
    let mut iids = Vec::new();
    let mut at = Some(format!(
        "{api}/issues?state=all&scope=all&order_by=updated_at&sort=asc&per_page={PAGE}&page=1"
    ));
    while let Some(url) = at.take() {
        let resp = get(client, &url).await;
        at = next_link(&resp);
        let page: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        requests += 1;
        iids.extend(page.iter().map(|e| e["iid"].as_u64().unwrap()));
    }
    let blobs: Vec<usize> = futures::stream::iter(shas)
        .map(|sha| {
            let url = format!("{api}/repository/blobs/{sha}/raw");
            async move { get(client, &url).await.bytes().await.unwrap().len() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert!(blobs.iter().all(|b| *b == BODY));
    let notes: Vec<usize> = futures::stream::iter(iids)
        .map(|iid| {
            let url = format!("{api}/issues/{iid}/discussions?per_page=100");
            async move { get(client, &url).await.bytes().await.unwrap().len() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let n = blobs.len() + notes.len();
    (n, requests + n as u64)
}

fn main() {
    let n = items();
    let files = n / 2;
    loopback::block_on(async {
        // Recording every request would make the server's memory grow with the items.
        let server = loopback::Server::new(
            MockServer::builder()
                .disable_request_recording()
                .start()
                .await,
        );
        let base = server.uri();
        let project = json!({"id": 1, "path_with_namespace": "acme/api", "web_url": format!("{base}/acme/api"),
            "visibility": "public", "default_branch": "main", "name": "api", "path": "api"});
        Mock::given(method("GET"))
            .and(path_regex("^/api/v4/projects/acme%2Fapi$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(project))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v4/projects/1/repository/commits/main$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "6104942438c14ec7bd21c6cd5bd995272b3faff6",
                "committed_date": "2025-03-01T09:00:00.000Z"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v4/projects/1/repository/tree$"))
            .respond_with(Tree(tree_pages(files), base.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                "^/api/v4/projects/1/repository/blobs/[0-9a-f]+/raw$",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; BODY]))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v4/projects/1/issues$"))
            .respond_with(Issues(issues(n - files, &base), base.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v4/projects/1/issues/[0-9]+/discussions$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
                "id": "6a9c1750b37d513a43987b574953fceb50b03ce7", "individual_note": true,
                "notes": [{
                "id": 1, "type": null, "body": "Confirmed on **17.2**.", "author": {"id": 2, "username": "bob"},
                "created_at": "2025-03-01T11:00:00.000Z", "updated_at": "2025-03-01T11:00:00.000Z",
                "system": false, "internal": false, "noteable_type": "Issue", "resolvable": false}]}])))
            .mount(&server)
            .await;
        println!(
            "gitlab loopback: {files} code files of {BODY} B and {} issues with a comment each, {PAGE} per page",
            n - files
        );

        let config: GitlabConfig = connectors::core::config::from_json(json!({
            "project_owner": "acme", "project_name": "api", "gitlab_url": base,
            "include_mrs": false, "include_issues": true, "include_code_files": true,
            "credentials": {"gitlab_access_token": TOKEN},
            "allowed_hosts": ["127.0.0.1"],
            // GitLab.com's 2,000 a minute would make this a test of the limiter.
            "requests_per_minute": 1_000_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "item",
            name: "GitlabConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || GitlabConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
