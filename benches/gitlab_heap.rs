//! Peak heap growth of the GitLab connector while it reads 1,000 and 10,000 items
//! (`harness = false`, not run in CI): it should stay flat, as pages are streamed, never
//! collected. The server (a private project with 200 members, half the items code files of
//! 1 KiB, a quarter issues and a quarter merge requests with a comment each) runs in a child
//! process (this binary started with `--serve <items>`), so that the counting allocator sees
//! the connector alone. Prints each peak and their ratio; a measurement, not a test.
//! `cargo bench -p connectors --no-default-features --features misc --bench gitlab_heap`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // A measurement.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use connectors::core::{CheckpointedConnector, SyncContext};
use connectors::misc::gitlab::{GitlabConfig, GitlabConnector};
use futures::StreamExt;
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const PAGE: usize = 100;
const BODY: usize = 1024;
const MEMBERS: usize = 200;
const TOKEN: &str = "glpat-heap";

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

/// A listing pre-rendered, entry `i` updated at `t0 + i s`: pages by `updated_after`
/// (inclusive) and `page`, with GitLab's offset `Link`.
struct Listing(Vec<String>, String);

impl Respond for Listing {
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
        let mut t = ResponseTemplate::new(200);
        if to < self.0.len() {
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
            t = t.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        t.set_body_raw(
            format!("[{}]", self.0[from..to].join(",")).into_bytes(),
            "application/json",
        )
    }
}

/// The tree in keyset pages (`page_token=p{n}`).
struct Tree(Vec<String>, String);

impl Respond for Tree {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: usize = query(req, "page_token")
            .and_then(|t| t.strip_prefix('p').and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let mut t = ResponseTemplate::new(200);
        if n + 1 < self.0.len() {
            let next = format!(
                "{}/api/v4/projects/1/repository/tree?page_token=p{}&pagination=keyset&per_page={PAGE}&recursive=true&ref=main",
                self.1,
                n + 1
            );
            t = t.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        let body = self.0.get(n).cloned().unwrap_or_else(|| "[]".into());
        t.set_body_raw(body.into_bytes(), "application/json")
    }
}

fn items(n: usize, kind: &str, base: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let iid = i + 1;
            json!({"id": 100_000 + iid, "iid": iid, "project_id": 1, "title": format!("{kind} {iid}"),
                "description": "Steps to reproduce: open the page, click **Save**.", "state": "opened",
                "created_at": gl_time(t0()), "updated_at": gl_time(t0() + TimeDelta::seconds(i as i64)),
                "labels": ["bug"], "author": {"id": 1, "username": "u1"}, "assignees": [],
                "user_notes_count": 1, "confidential": i % 10 == 0,
                "web_url": format!("{base}/acme/api/-/{kind}/{iid}")})
            .to_string()
        })
        .collect()
}

async fn serve(n: usize) -> MockServer {
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let base = server.uri();
    let files = n / 2;
    let issues = (n - files) / 2;
    let mrs = n - files - issues;
    let mount = |path: &str, respond: ResponseTemplate| {
        Mock::given(method("GET"))
            .and(path_regex(path))
            .respond_with(respond)
    };
    mount(
        "^/api/v4/projects/acme%2Fapi$",
        ResponseTemplate::new(200).set_body_json(json!({"id": 1, "path_with_namespace": "acme/api",
            "web_url": format!("{base}/acme/api"), "visibility": "private", "default_branch": "main",
            "issues_access_level": "enabled", "merge_requests_access_level": "enabled",
            "repository_access_level": "enabled"})),
    )
    .mount(&server)
    .await;
    mount(
        "^/api/v4/projects/1/repository/commits/main$",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "6104942438c14ec7bd21c6cd5bd995272b3faff6",
            "committed_date": "2025-03-01T09:00:00.000Z"})),
    )
    .mount(&server)
    .await;
    mount(
        "^/api/v4/projects/1/repository/blobs/[0-9a-f]+/raw$",
        ResponseTemplate::new(200).set_body_bytes(vec![b'x'; BODY]),
    )
    .mount(&server)
    .await;
    mount(
        "^/api/v4/projects/1/(issues|merge_requests)/[0-9]+/notes$",
        ResponseTemplate::new(200).set_body_json(json!([{
            "id": 1, "body": "Confirmed on **17.2**.", "author": {"id": 2, "username": "u2"},
            "created_at": "2025-03-01T11:00:00.000Z", "system": false, "internal": false}])),
    )
    .mount(&server)
    .await;
    let members: Vec<String> = (0..MEMBERS)
        .map(|i| {
            let level = [10, 20, 30, 40][i % 4];
            json!({"id": i, "username": format!("u{i}"), "state": "active",
                "access_level": level, "membership_state": "active",
                "email": format!("u{i}@example.com")})
            .to_string()
        })
        .collect();
    Mock::given(method("GET"))
        .and(path_regex("^/api/v4/projects/1/members/all$"))
        .respond_with(Listing(members, base.clone()))
        .mount(&server)
        .await;
    let entries: Vec<Value> = (0..files)
        .map(|i| {
            json!({"id": format!("{i:040x}"), "name": format!("f{i}.md"), "type": "blob",
                "path": format!("docs/d{}/f{i}.md", i / 1000), "mode": "100644"})
        })
        .collect();
    let pages = entries
        .chunks(PAGE)
        .map(|c| Value::Array(c.to_vec()).to_string())
        .collect();
    Mock::given(method("GET"))
        .and(path_regex("^/api/v4/projects/1/repository/tree$"))
        .respond_with(Tree(pages, base.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v4/projects/1/issues$"))
        .respond_with(Listing(items(issues, "issues", &base), base.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v4/projects/1/merge_requests$"))
        .respond_with(Listing(items(mrs, "merge_requests", &base), base.clone()))
        .mount(&server)
        .await;
    server
}

/// A server process holding `items` items, and its base URI. It stops when its stdin closes.
fn spawn_server(items: usize) -> (Child, String) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", &items.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("a server process");
    let mut uri = String::new();
    BufReader::new(child.stdout.as_mut().expect("its stdout"))
        .read_line(&mut uri)
        .expect("its URI");
    (child, uri.trim().to_owned())
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let args: Vec<String> = std::env::args().collect();
    if let Some(items) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        // The server side: print the URI, serve until the parent closes stdin.
        rt.block_on(async {
            let server = serve(items).await;
            println!("{}", server.uri());
            tokio::task::spawn_blocking(|| {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
            })
            .await
            .ok();
            drop(server);
        });
        return;
    }
    let mut peaks = Vec::new();
    for n in [1_000usize, 10_000] {
        let (mut server, uri) = spawn_server(n);
        let peak = rt.block_on(async {
            let config: GitlabConfig = connectors::core::config::from_json(json!({
                "project_owner": "acme", "project_name": "api", "gitlab_url": uri,
                "include_mrs": true, "include_issues": true, "include_code_files": true,
                "credentials": {"gitlab_access_token": TOKEN},
                "allowed_hosts": ["127.0.0.1"], "requests_per_minute": 1_000_000}))
            .expect("a valid config");
            let c = GitlabConnector::new(config).expect("a connector");
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let mut docs = 0usize;
            let mut failures = 0usize;
            let mut stream =
                c.load_from_checkpoint(c.initial_checkpoint(), None, SyncContext::new());
            while let Some(page) = stream.next().await {
                let page = page.expect("a page");
                docs += page.batch.documents.len();
                failures += page.batch.failures.len();
            }
            drop(stream);
            let peak = ALLOC.peak_usage().saturating_sub(before);
            if (docs, failures) != (n, 0) {
                println!("gitlab, {n} items: read {docs} documents and {failures} failures");
            }
            peak
        });
        println!(
            "gitlab, {n:>6} items (a private project of {MEMBERS} members; files, issues, merge requests with a comment each): peak heap growth of the load {:>6.2} MiB",
            mib(peak)
        );
        peaks.push(peak);
        drop(server.stdin.take());
        let _ = server.wait();
    }
    let ratio = peaks[1] as f64 / peaks[0].max(1) as f64;
    println!("peak heap growth, 10,000 / 1,000 items: {ratio:.2}x (flat is near 1x)");
}
