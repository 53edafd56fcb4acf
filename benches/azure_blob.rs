//! The Azure Blob connector end to end, on two servers, each against a raw fetch of the same
//! requests in the same run. Not run in CI: `cargo bench --bench azure_blob`.
//!
//! - **Loopback**: a minimal Blob service in this process (HTTP/1.1 keep-alive on 127.0.0.1)
//!   that serves `AZURE_BENCH_BLOBS` (default 2,000) blobs of 4 KiB in 20 folders: List Blobs
//!   pages of 1,000 (`EnumerationResults`, `NextMarker`) and Get Blob. It checks no signature;
//!   the connector still signs every request with Shared Key, so its time includes the HMACs.
//! - **Azurite** (skipped when `azurite-blob` is not installed: `bash .ci/test-servers.sh`):
//!   the same blobs written through the REST API, read with a container SAS by both sides.
//!
//! For each: a full sync (`Syncer`, `SyncMode::Full`, `DiscardSink`, `MemoryStateStore`) in
//! blobs/s against the raw fetch: the same List Blobs requests one after the other and the
//! same Get Blob requests 8 at a time (the connector's default concurrency) with the same
//! `HttpClient` settings, names taken from the XML by a string scan, bodies counted and
//! dropped. Best of five rounds, interleaved; target: within 1.5x.
//!
//! Then the peak heap of the connector's `load()` stream drained alone (a global counting
//! allocator), at the count and at ten times the count (a second container), to show that it
//! stays flat: the connector holds a page, never the container. On Azurite the 10x size is
//! written with `AZURE_BENCH_10X=1` only (20,000 PUTs take minutes).

#[path = "support/loopback.rs"]
mod loopback;

#[path = "../connector-misc/tests/azurite/mod.rs"]
mod azurite;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::http::HttpClient;
use connector_core::sink::DiscardSink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, SyncContext};
use connector_misc::azure_blob::{AzureBlobConfig, AzureBlobConnector};
use futures::StreamExt;
use peak_alloc::PeakAlloc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const BLOB_BYTES: usize = 4096;
const CONCURRENCY: usize = 8;
const PAGE: usize = 1000;
const ROUNDS: usize = 5;
const ACCOUNT: &str = "bench";

fn blob_count() -> usize {
    loopback::env_size("AZURE_BENCH_BLOBS", 2000)
}

fn name(i: usize) -> String {
    format!("f-{:02}/doc-{i:06}.md", i % 20)
}

fn body() -> Vec<u8> {
    let line = "A line of a plain-text page, repeated to make a 4 KiB blob of a container.\n";
    line.repeat(BLOB_BYTES / line.len() + 1).as_bytes()[..BLOB_BYTES].to_vec()
}

/// The loopback Blob service: `{container}` → `n` blobs, names sorted as Azure lists them.
struct Loopback {
    addr: SocketAddr,
}

impl Loopback {
    async fn start(containers: Vec<(String, usize)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let containers: Arc<Vec<(String, Vec<String>)>> = Arc::new(
            containers
                .into_iter()
                .map(|(c, n)| {
                    let mut names: Vec<String> = (0..n).map(name).collect();
                    names.sort();
                    (c, names)
                })
                .collect(),
        );
        let body: Arc<Vec<u8>> = Arc::new(body());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let containers = Arc::clone(&containers);
                let body = Arc::clone(&body);
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                        loop {
                            let mut header = String::new();
                            if r.read_line(&mut header).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if header == "\r\n" {
                                break;
                            }
                        }
                        let (status, ctype, payload) = answer(&containers, &body, &target);
                        let head = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\netag: \"0x8DC0000000000001\"\r\nlast-modified: Wed, 04 Mar 2026 12:00:00 GMT\r\nx-ms-version: 2021-08-06\r\n\r\n",
                            payload.len()
                        );
                        if w.write_all(head.as_bytes()).await.is_err()
                            || w.write_all(&payload).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr }
    }

    fn endpoint(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/{ACCOUNT}", self.addr)).expect("url")
    }
}

/// A List Blobs page or a blob of the loopback service.
fn answer(
    containers: &[(String, Vec<String>)],
    body: &[u8],
    target: &str,
) -> (&'static str, &'static str, Vec<u8>) {
    let url = url::Url::parse(&format!("http://x{target}")).expect("target");
    let segments = url
        .path_segments()
        .map(|s| s.collect::<Vec<_>>())
        .unwrap_or_default();
    if segments.first() != Some(&ACCOUNT) || segments.len() < 2 {
        return ("404 Not Found", "text/plain", Vec::new());
    }
    let container = segments[1].to_owned();
    let Some((_, names)) = containers.iter().find(|(c, _)| *c == container) else {
        return ("404 Not Found", "text/plain", Vec::new());
    };
    if segments.len() == 2 {
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let max: usize = q
            .get("maxresults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(5000);
        let from: usize = q.get("marker").and_then(|m| m.parse().ok()).unwrap_or(0);
        let to = (from + max).min(names.len());
        let mut xml = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"http://127.0.0.1/{ACCOUNT}/\" ContainerName=\"{container}\"><MaxResults>{max}</MaxResults><Blobs>"
        );
        for n in &names[from..to] {
            xml.push_str(&format!(
                "<Blob><Name>{n}</Name><Properties><Creation-Time>Wed, 04 Mar 2026 12:00:00 GMT</Creation-Time><Last-Modified>Wed, 04 Mar 2026 12:00:00 GMT</Last-Modified><Etag>0x8DC0000000000001</Etag><Content-Length>{BLOB_BYTES}</Content-Length><Content-Type>text/markdown</Content-Type><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><ServerEncrypted>true</ServerEncrypted></Properties><Metadata /><OrMetadata /></Blob>"
            ));
        }
        let next = if to < names.len() {
            to.to_string()
        } else {
            String::new()
        };
        xml.push_str(&format!(
            "</Blobs><NextMarker>{next}</NextMarker></EnumerationResults>"
        ));
        return ("200 OK", "application/xml", xml.into_bytes());
    }
    ("200 OK", "text/markdown", body.to_vec())
}

/// Where a container is and how both sides authorise: Shared Key for the connector and
/// nothing for the raw fetch (loopback), or one SAS for both (Azurite).
#[derive(Clone)]
struct Target {
    endpoint: url::Url,
    container: String,
    sas: Option<String>,
}

impl Target {
    fn config(&self) -> AzureBlobConfig {
        let mut c = match &self.sas {
            Some(sas) => AzureBlobConfig::sas(format!("{}/{}", self.endpoint, self.container), sas),
            None => {
                let mut c = AzureBlobConfig::account_key(
                    &self.container,
                    ACCOUNT,
                    "YmVuY2gta2V5LWJ5dGVzLXRoYXQtbm9ib2R5LWNoZWNrcw==",
                );
                c.blob_endpoint = Some(self.endpoint.clone());
                c
            }
        };
        c.allowed_hosts.push("127.0.0.1".to_owned());
        c.page_size = u32::try_from(PAGE)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .expect("page");
        c.concurrency = u32::try_from(CONCURRENCY)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .expect("nonzero");
        c
    }

    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(AzureBlobConnector::new(self.config()).expect("valid config"))
    }

    fn with_sas(&self, mut url: url::Url) -> url::Url {
        if let Some(sas) = &self.sas {
            let q = match url.query() {
                Some(q) => format!("{q}&{sas}"),
                None => sas.clone(),
            };
            url.set_query(Some(&q));
        }
        url
    }
}

/// The baseline: the List Blobs pages in turn, each page's Get Blobs 8 at a time.
async fn raw(target: &Target, n: usize) -> Duration {
    let http = HttpClient::builder("azure_blob")
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let container_url = format!("{}/{}", target.endpoint, target.container);
    let started = Instant::now();
    let mut marker: Option<String> = None;
    let (mut blobs, mut bytes) = (0, 0);
    loop {
        let mut url = url::Url::parse(&container_url).expect("url");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container")
                .append_pair("comp", "list")
                .append_pair("include", "metadata")
                .append_pair("maxresults", &PAGE.to_string());
            if let Some(m) = &marker {
                q.append_pair("marker", m);
            }
        }
        let resp = http
            .get(target.with_sas(url))
            .header("x-ms-version", "2021-08-06")
            .send()
            .await
            .expect("list");
        let xml = String::from_utf8_lossy(resp.body()).into_owned();
        let names: Vec<String> = xml
            .split("<Name>")
            .skip(1)
            .filter_map(|s| s.split_once("</Name>").map(|(n, _)| n.to_owned()))
            .collect();
        let mut gets = futures::stream::iter(names)
            .map(|n| {
                let url = target
                    .with_sas(url::Url::parse(&format!("{container_url}/{n}")).expect("blob url"));
                let req = http
                    .get(url)
                    .header("x-ms-version", "2021-08-06")
                    .max_body_bytes(20 * 1024 * 1024);
                async move { req.send().await.expect("GET").into_body().len() }
            })
            .buffered(CONCURRENCY);
        while let Some(len) = gets.next().await {
            blobs += 1;
            bytes += len;
        }
        marker = xml
            .split_once("<NextMarker>")
            .and_then(|(_, rest)| rest.split_once("</NextMarker>"))
            .map(|(m, _)| m.to_owned())
            .filter(|m| !m.is_empty());
        if marker.is_none() {
            break;
        }
    }
    assert_eq!((blobs, bytes), (n, n * BLOB_BYTES));
    started.elapsed()
}

async fn full_sync(target: &Target, n: usize) -> Duration {
    let syncer = Syncer::new(target.connector())
        .sink(DiscardSink)
        .shared_state(Arc::new(MemoryStateStore::new()));
    let started = Instant::now();
    let report = syncer.run(SyncMode::Full).await.expect("full sync");
    assert_eq!((report.new, report.failed), (n as u64, 0), "{report:?}");
    started.elapsed()
}

/// The peak heap of the `load()` stream drained alone, above the heap before it.
async fn drained_peak(target: &Target, n: usize) -> usize {
    let c = target.connector();
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut seen = 0;
    while let Some(batch) = stream.next().await {
        seen += batch.expect("load").documents.len();
    }
    assert_eq!(seen, n);
    drop(stream);
    ALLOC.peak_usage().saturating_sub(before)
}

async fn compare(label: &str, target: &Target, n: usize) {
    let (mut best_raw, mut best_sync) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        best_raw = best_raw.min(raw(target, n).await);
        best_sync = best_sync.min(full_sync(target, n).await);
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{label}: {n} blobs: raw fetch {:.0} blobs/s ({best_raw:.2?}), full sync {:.0} blobs/s ({best_sync:.2?}): {:.2}x the raw time",
        rate(best_raw),
        rate(best_sync),
        best_sync.as_secs_f64() / best_raw.as_secs_f64()
    );
}

async fn memory(label: &str, small: &Target, large: Option<&Target>, n: usize) {
    let at_n = drained_peak(small, n).await;
    match large {
        Some(large) => {
            let at_10n = drained_peak(large, 10 * n).await;
            println!(
                "{label}: peak heap of load(): {:.1} MiB at {n} blobs, {:.1} MiB at {} blobs ({:.2}x for 10x the blobs)",
                at_n as f64 / 1048576.0,
                at_10n as f64 / 1048576.0,
                10 * n,
                at_10n as f64 / at_n.max(1) as f64
            );
        }
        None => println!(
            "{label}: peak heap of load(): {:.1} MiB at {n} blobs (10x: set AZURE_BENCH_10X=1)",
            at_n as f64 / 1048576.0
        ),
    }
}

async fn loopback(n: usize) {
    let server = Loopback::start(vec![("bench".into(), n), ("bench10x".into(), 10 * n)]).await;
    let target = |c: &str| Target {
        endpoint: server.endpoint(),
        container: c.to_owned(),
        sas: None,
    };
    compare("loopback", &target("bench"), n).await;
    memory("loopback", &target("bench"), Some(&target("bench10x")), n).await;
}

async fn on_azurite(n: usize) {
    let installed = std::panic::catch_unwind(azurite::azurite_binary).is_ok();
    if !installed {
        println!("azurite: not installed (bash .ci/test-servers.sh); skipped");
        return;
    }
    let server = tokio::task::spawn_blocking(azurite::Azurite::start)
        .await
        .expect("azurite");
    let seeder = azurite::Seeder::new(server.endpoint());
    let body = body();
    let seed = |container: &'static str, count: usize| {
        let seeder = &seeder;
        let body = body.clone();
        async move {
            seeder.create_container(container).await;
            futures::stream::iter(0..count)
                .for_each_concurrent(16, |i| {
                    let body = body.clone();
                    async move { seeder.put(container, &name(i), body, "text/markdown").await }
                })
                .await;
        }
    };
    seed("bench", n).await;
    let sas_for = |container: &str| {
        seeder.container_sas(
            container,
            "rl",
            "2020-01-01T00:00:00Z",
            "2099-01-01T00:00:00Z",
        )
    };
    let target = |c: &str| Target {
        endpoint: server.endpoint(),
        container: c.to_owned(),
        sas: Some(sas_for(c)),
    };
    compare("azurite", &target("bench"), n).await;
    let ten = std::env::var_os("AZURE_BENCH_10X").is_some();
    if ten {
        seed("bench10x", 10 * n).await;
    }
    let large = target("bench10x");
    memory("azurite", &target("bench"), ten.then_some(&large), n).await;
}

fn main() {
    let n = blob_count();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        loopback(n).await;
        on_azurite(n).await;
    });
}
