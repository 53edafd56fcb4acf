//! Loopback benchmark of the Dropbox connector (`harness = false`, not run in CI):
//! `cargo bench --bench dropbox`.
//!
//! A wiremock Dropbox in a child process (this binary with `--serve <files>`, so the counting
//! allocator sees the client alone) serves `files/list_folder` pages of 500 entries, their
//! `/continue` pages and `files/download` bodies of 4 KiB (with `Dropbox-API-Result`), all
//! pre-rendered. Read by
//!
//! 1. the baseline: raw `reqwest` over the same pages, then the same downloads, 8 at a time
//!    (the connector's concurrency), each listing page parsed as JSON;
//! 2. `DropboxConnector::load_from_checkpoint` drained (the connector alone);
//! 3. a full `Syncer` run into a `DiscardSink` with a `MemoryStateStore`.
//!
//! Prints files/s (best of three rounds) and the ratio to the baseline at `FILES`, then the
//! peak heap growth of each at `FILES` and at ten times as many: the listing is streamed page
//! by page, so the connector's peak should not grow with the file count (the state store's
//! does, by design).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use connector_core::sink::DiscardSink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{CheckpointedConnector, SyncContext};
use connector_misc::dropbox::{DropboxCheckpoint, DropboxConfig, DropboxConnector};
use futures::StreamExt;
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const FILES: usize = 2_000;
const PAGE: usize = 500;
const BODY: usize = 4096;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;

fn meta(n: usize) -> Value {
    json!({
        ".tag": "file", "name": format!("note-{n:06}.md"), "id": format!("id:f{n}"),
        "client_modified": "2025-03-01T10:00:00Z", "server_modified": "2025-03-01T10:00:00Z",
        "rev": format!("a1c10ce0{n:08x}"), "size": BODY,
        "path_lower": format!("/notes/{}/note-{n:06}.md", n / 100),
        "path_display": format!("/Notes/{}/note-{n:06}.md", n / 100),
        "is_downloadable": true, "content_hash": format!("{n:064x}"),
    })
}

/// The listing pages, pre-rendered; page `p`'s cursor is `c{p+1}`.
fn pages(files: usize) -> Vec<Vec<u8>> {
    let count = files.div_ceil(PAGE);
    (0..count)
        .map(|p| {
            let entries: Vec<Value> = (p * PAGE..((p + 1) * PAGE).min(files)).map(meta).collect();
            json!({"entries": entries, "cursor": format!("c{}", p + 1), "has_more": p + 1 < count})
                .to_string()
                .into_bytes()
        })
        .collect()
}

struct Listing(Arc<Vec<Vec<u8>>>);
impl Respond for Listing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let page = body["cursor"]
            .as_str()
            .and_then(|c| c.strip_prefix('c'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        match self.0.get(page) {
            Some(body) => ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"),
            None => ResponseTemplate::new(409).set_body_json(json!({"error_summary": "reset/.."})),
        }
    }
}

struct Download(Arc<Vec<u8>>);
impl Respond for Download {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = req
            .headers
            .get("dropbox-api-arg")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| serde_json::from_str::<Value>(h).ok())
            .and_then(|arg| {
                arg["path"]
                    .as_str()
                    .and_then(|p| p.strip_prefix("id:f"))
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .unwrap_or(0);
        ResponseTemplate::new(200)
            .insert_header("Dropbox-API-Result", meta(n).to_string().as_str())
            .set_body_raw(self.0.as_ref().clone(), "application/octet-stream")
    }
}

async fn start_server(files: usize) -> MockServer {
    let server = MockServer::start().await;
    let listing = Arc::new(pages(files));
    Mock::given(method("POST"))
        .and(path("/2/users/get_current_account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "account_id": "dbid:AAH4f99T0taONIb", "email": "franz@example.com",
            "root_info": {".tag": "user", "root_namespace_id": "1", "home_namespace_id": "1"}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_shared_links"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"links": [], "has_more": false})),
        )
        .mount(&server)
        .await;
    for p in ["/2/files/list_folder", "/2/files/list_folder/continue"] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(Listing(listing.clone()))
            .mount(&server)
            .await;
    }
    let body: Vec<u8> = b"# A note\n\n".iter().copied().cycle().take(BODY).collect();
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .respond_with(Download(Arc::new(body)))
        .mount(&server)
        .await;
    server
}

/// A server process holding `files` files, and its base URI. It stops when its stdin closes.
#[allow(clippy::expect_used)] // A benchmark.
fn spawn_server(files: usize) -> (Child, String) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", &files.to_string()])
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

/// The baseline: the listing pages, then every download, 8 at a time.
#[allow(clippy::unwrap_used)] // A benchmark.
async fn raw(uri: &str) -> usize {
    let client = reqwest::Client::new();
    let auth = "Bearer sl.bench";
    let mut ids = Vec::new();
    let mut body = json!({"path": "", "recursive": true, "limit": PAGE});
    let mut endpoint = "list_folder";
    loop {
        let resp = client
            .post(format!("{uri}/2/files/{endpoint}"))
            .header("Authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&resp).unwrap();
        for e in page["entries"].as_array().unwrap() {
            ids.push(e["id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        body = json!({"cursor": page["cursor"]});
        endpoint = "list_folder/continue";
    }
    let url = format!("{uri}/2/files/download");
    futures::stream::iter(ids)
        .map(|id| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let resp = client
                    .post(url)
                    .header("Authorization", auth)
                    .header("Dropbox-API-Arg", json!({"path": id}).to_string())
                    .send()
                    .await
                    .unwrap();
                let _meta = resp.headers().get("dropbox-api-result").cloned();
                resp.bytes().await.unwrap().len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|len| futures::future::ready(*len == BODY))
        .count()
        .await
}

#[allow(clippy::unwrap_used)] // A benchmark.
fn connector(uri: &str) -> DropboxConnector {
    let config: DropboxConfig = connector_core::config::from_json(json!({
        "credentials": {"dropbox_access_token": "sl.bench"},
        "api_base_url": uri, "content_base_url": uri,
        "allowed_hosts": ["127.0.0.1"], "page_size": PAGE,
    }))
    .unwrap();
    DropboxConnector::new(config).unwrap()
}

#[allow(clippy::unwrap_used)] // A benchmark.
async fn drain(c: &DropboxConnector) -> usize {
    let mut stream = c.load_from_checkpoint(DropboxCheckpoint::start(), None, SyncContext::new());
    let mut docs = 0;
    while let Some(page) = stream.next().await {
        docs += page.unwrap().batch.documents.len();
    }
    docs
}

#[allow(clippy::unwrap_used)] // A benchmark.
async fn full_sync(c: DropboxConnector) -> usize {
    let report = Syncer::new(Arc::new(c))
        .sink(DiscardSink)
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    report.new as usize
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(files) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        rt.block_on(async {
            let server = start_server(files).await;
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
    rt.block_on(async {
        // Timings at FILES: best of ROUNDS, interleaved.
        let (mut server, uri) = spawn_server(FILES);
        let (mut best_raw, mut best_drain, mut best_sync) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            assert_eq!(raw(&uri).await, FILES);
            best_raw = best_raw.min(t.elapsed().as_secs_f64());
            let c = connector(&uri);
            let t = Instant::now();
            assert_eq!(drain(&c).await, FILES);
            best_drain = best_drain.min(t.elapsed().as_secs_f64());
            let c = connector(&uri);
            let t = Instant::now();
            assert_eq!(full_sync(c).await, FILES);
            best_sync = best_sync.min(t.elapsed().as_secs_f64());
        }
        let rate = |secs: f64| FILES as f64 / secs;
        println!("dropbox loopback: {FILES} files of {BODY} bytes, {PAGE} per listing page, {CONCURRENCY} downloads at once");
        println!("raw reqwest (baseline)     {:>8.0} files/s", rate(best_raw));
        println!(
            "connector stream (drain)   {:>8.0} files/s  ({:.2}x the baseline's rate)",
            rate(best_drain),
            best_raw / best_drain
        );
        println!(
            "Syncer full run            {:>8.0} files/s  ({:.2}x the baseline's rate)",
            rate(best_sync),
            best_raw / best_sync
        );
        drop(server.stdin.take());
        let _ = server.wait();

        for n in [FILES, FILES * 10] {
            let (mut server, uri) = spawn_server(n);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(raw(&uri).await, n);
            let raw_peak = ALLOC.peak_usage().saturating_sub(before);
            let c = connector(&uri);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(drain(&c).await, n);
            let drain_peak = ALLOC.peak_usage().saturating_sub(before);
            let c = connector(&uri);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(full_sync(c).await, n);
            let sync_peak = ALLOC.peak_usage().saturating_sub(before);
            println!(
                "peak heap growth, {n:>6} files: raw loop {:>6.2} MiB (holds the id list), connector stream {:>6.2} MiB, full sync {:>6.2} MiB (incl. the in-memory state store)",
                mib(raw_peak),
                mib(drain_peak),
                mib(sync_peak)
            );
            drop(server.stdin.take());
            let _ = server.wait();
        }
    });
}
