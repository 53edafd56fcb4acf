//! Loopback end-to-end benchmark of the SeaFile connector (`harness = false`, not run in CI):
//! a wiremock SeaFile (api2, account token) holding one library of `FILES` files of 2 KiB in
//! `FOLDERS` folders, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests (the library list, one `dir/` per
//!    folder, then for each file its download link and the link itself, `CONCURRENCY` files at
//!    a time, as the connector does);
//! 2. a full `Syncer` run of `SeafileConnector` into a memory sink;
//! 3. an unchanged re-sync (`SyncMode::Reconcile`: every folder listed, every object id known,
//!    no link asked for) against the listings alone.
//!
//! Prints files/s and the ratio to the baseline (best of `ROUNDS`). Run with
//! `cargo bench --bench seafile` (add `--profile dev` to
//! reuse the test build; the ratios are then those of unoptimised code on both sides).

#[path = "support/loopback.rs"]
mod loopback;

use std::sync::Arc;
use std::time::Instant;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_misc::seafile::{SeafileConfig, SeafileConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const FILES: usize = 2_000;
const FOLDERS: usize = 20;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 5;
const REPO: &str = "1f6a3ed4-a53c-4f02-a688-eac373347127";
const TOKEN: &str = "24fd3c026886e3121b2ca630805ed425c272cb96";

struct Seafile {
    base: String,
    folders: Vec<String>,
    root: String,
    body: Vec<u8>,
}

fn folder_listing(f: usize) -> String {
    let entries: Vec<Value> = (0..FILES / FOLDERS)
        .map(|n| {
            json!({"type": "file", "id": format!("{:040x}", f * 100_000 + n), "name": format!("note-{n:05}.md"),
                   "mtime": 1_741_770_000 + n, "permission": "rw", "parent_dir": format!("/folder-{f:03}"),
                   "size": 2048, "modifier_email": "me@example.com", "modifier_name": "me",
                   "is_locked": false, "starred": false})
        })
        .collect();
    Value::Array(entries).to_string()
}

impl Respond for Seafile {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path();
        let q = |k: &str| {
            req.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(rest) = path.strip_prefix("/seafhttp/files/") {
            let id = rest.split('/').next().unwrap_or("");
            return ResponseTemplate::new(200)
                .insert_header("ETag", id)
                .set_body_raw(self.body.clone(), "application/octet-stream");
        }
        match path {
            "/api2/account/info/" => {
                ResponseTemplate::new(200).set_body_json(json!({"email": "me@example.com"}))
            }
            "/api2/repos/" => ResponseTemplate::new(200).set_body_json(json!([{
                "type": "repo", "id": REPO, "name": "Bench", "owner": "me@example.com",
                "encrypted": false, "permission": "rw", "mtime": 1_741_770_000, "size": 1}])),
            p if p.ends_with("/dir/") => {
                let dir = q("p").unwrap_or_default();
                let body = if dir == "/" {
                    self.root.clone()
                } else {
                    let f: usize = dir.trim_start_matches("/folder-").parse().unwrap_or(0);
                    self.folders[f].clone()
                };
                ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
            }
            p if p.ends_with("/file/") => {
                // The file server's token: here the object id, so that the ETag follows it.
                let p = q("p").unwrap_or_default();
                let (folder, name) = p
                    .trim_start_matches("/folder-")
                    .split_once('/')
                    .unwrap_or(("0", ""));
                let f: usize = folder.parse().unwrap_or(0);
                let n: usize = name
                    .trim_start_matches("note-")
                    .trim_end_matches(".md")
                    .parse()
                    .unwrap_or(0);
                let link = format!(
                    "{}/seafhttp/files/{:040x}/{name}",
                    self.base,
                    f * 100_000 + n
                );
                ResponseTemplate::new(200).set_body_json(json!(link))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"error_msg": "Not found."})),
        }
    }
}

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let root: Vec<Value> = (0..FOLDERS)
            .map(|f| json!({"type": "dir", "id": "04f3fb2b992c7aa1eb897a4e2c46b3212def1028",
                            "name": format!("folder-{f:03}"), "mtime": 1_741_770_000, "permission": "rw"}))
            .collect();
        Mock::given(wiremock::matchers::any())
            .respond_with(Seafile {
                base: server.uri(),
                folders: (0..FOLDERS).map(folder_listing).collect(),
                root: Value::Array(root).to_string(),
                body: b"# A note\n"
                    .repeat(2048 / 9)
                    .into_iter()
                    .chain(std::iter::repeat_n(b'x', 2048 % 9))
                    .collect(),
            })
            .mount(&server)
            .await;
        let uri = server.uri();
        println!(
            "seafile loopback: {FILES} files of 2 KiB in {FOLDERS} folders, {CONCURRENCY} downloads at a time, best of {ROUNDS}"
        );

        let raw = reqwest::Client::new();
        let auth = format!("Token {TOKEN}");
        let get_json = |url: String| {
            let raw = raw.clone();
            let auth = auth.clone();
            async move {
                let body = raw
                    .get(url)
                    .header("Authorization", auth)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                serde_json::from_slice::<Value>(&body).unwrap()
            }
        };
        // 1. Baseline.
        let mut base = f64::MAX;
        let mut list_base = f64::MAX;
        for _ in 0..ROUNDS {
            let started = Instant::now();
            get_json(format!("{uri}/api2/account/info/")).await;
            get_json(format!("{uri}/api2/repos/")).await;
            let mut files = Vec::new();
            let top = get_json(format!("{uri}/api2/repos/{REPO}/dir/?p=%2F")).await;
            for d in top.as_array().unwrap() {
                let name = d["name"].as_str().unwrap();
                let listing = get_json(format!("{uri}/api2/repos/{REPO}/dir/?p=%2F{name}")).await;
                for f in listing.as_array().unwrap() {
                    files.push(format!("/{name}/{}", f["name"].as_str().unwrap()));
                }
            }
            let listed = started.elapsed().as_secs_f64();
            let links: Vec<String> = files
                .iter()
                .map(|p| {
                    format!(
                        "{uri}/api2/repos/{REPO}/file/?p={}&reuse=1",
                        p.replace('/', "%2F")
                    )
                })
                .collect();
            let n = futures::stream::iter(links)
                .map(|url| {
                    let raw = raw.clone();
                    let link = get_json(url);
                    async move {
                        let link = link.await;
                        let link = link.as_str().unwrap().to_owned();
                        raw.get(link)
                            .send()
                            .await
                            .unwrap()
                            .bytes()
                            .await
                            .unwrap()
                            .len()
                    }
                })
                .buffered(CONCURRENCY)
                .count()
                .await;
            assert_eq!(n, FILES);
            base = base.min(started.elapsed().as_secs_f64());
            list_base = list_base.min(listed);
        }
        println!(
            "{:<34} {base:>7.3} s  {:>8.0} files/s",
            "raw reqwest (baseline)",
            FILES as f64 / base
        );

        let config: SeafileConfig = connector_core::config::from_json(json!({
            "seafile_url": uri,
            "credentials": {"seafile_token": TOKEN},
            "allowed_hosts": ["127.0.0.1"],
        }))
        .unwrap();
        // 2. Full runs.
        let mut full = f64::MAX;
        let mut store = MemoryStateStore::new();
        for _ in 0..ROUNDS {
            let connector = Arc::new(SeafileConnector::new(config.clone()).unwrap());
            let sink = MemorySink::new();
            store = MemoryStateStore::new();
            let started = Instant::now();
            Syncer::new(connector)
                .sink(sink.clone())
                .state(store.clone())
                .run(SyncMode::Full)
                .await
                .unwrap();
            full = full.min(started.elapsed().as_secs_f64());
            assert_eq!(sink.len(), FILES);
        }
        println!(
            "{:<34} {full:>7.3} s  {:>8.0} files/s  ({:.2}x the baseline's time)",
            "Syncer full run",
            FILES as f64 / full,
            full / base
        );

        // 3. Unchanged re-sync against the listings alone.
        let mut again = f64::MAX;
        for _ in 0..ROUNDS {
            let connector = Arc::new(SeafileConnector::new(config.clone()).unwrap());
            let started = Instant::now();
            let report = Syncer::new(connector)
                .sink(MemorySink::new())
                .state(store.clone())
                .run(SyncMode::Reconcile)
                .await
                .unwrap();
            again = again.min(started.elapsed().as_secs_f64());
            assert_eq!(report.unchanged, FILES as u64, "{report:?}");
        }
        println!("{:<34} {list_base:>7.3} s", "raw listings only (baseline)");
        println!(
            "{:<34} {again:>7.3} s  ({:.2}x the listings' time)",
            "Syncer unchanged re-sync",
            again / list_base
        );
    });
}
