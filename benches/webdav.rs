//! The WebDAV connector end to end, against a raw fetch of the same PROPFIND and GET pages in
//! the same run: `cargo bench --bench webdav`. Not run in
//! CI; no assertion on timings.
//!
//! - **loopback**: a local fake (wiremock, one responder computing each folder's multistatus
//!   from its path) with `FILES` Markdown files of 2 KiB in folders of 100. The connector's
//!   full sync (`Syncer`, `SyncMode::Full`, into a `DiscardSink`) against a raw loop that
//!   sends the same requests with the same `HttpClient` settings: one PROPFIND `Depth: 1` per
//!   folder, then the folder's GETs, 4 at a time (the connector's download concurrency).
//!   Target: within 1.5x. Peak RSS (`VmHWM`) of a full sync at `FILES` and at 10x, each in a
//!   process of its own that holds only the connector (the fake runs in this one).
//! - **rclone**: the same comparison against `rclone serve webdav` over a temporary folder
//!   (install it with `bash .ci/test-servers.sh`; skipped when it is not installed).
//!
//! Best of `ROUNDS` for each timing; every client and connector is built outside the timing.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)] // A bench binary.

#[path = "../connector-misc/tests/webdav_common/mod.rs"]
mod webdav_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::http::{Auth, HttpClient, Method};
use connector_core::net::NetworkPolicy;
use connector_core::sink::DiscardSink;
use connector_core::sync::{SyncMode, Syncer};
use connector_misc::webdav::{WebdavConfig, WebdavConnector};
use futures::StreamExt;
use url::Url;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FILES: usize = 2_000;
const PER_FOLDER: usize = 100;
const FILE_BYTES: usize = 2048;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;
const ROOT: &str = "/remote.php/dav/files/alice/";

fn body() -> String {
    let line = "A line of a Markdown page on a WebDAV share, repeated to make 2 KiB.\n";
    line.repeat(FILE_BYTES / line.len() + 1)[..FILE_BYTES].to_owned()
}

fn propstat(href: &str, collection: bool, i: usize) -> String {
    let (kind, extra) = if collection {
        (
            "<d:resourcetype><d:collection/></d:resourcetype>".to_owned(),
            String::new(),
        )
    } else {
        (
            "<d:resourcetype/>".to_owned(),
            format!(
                "<d:getcontentlength>{FILE_BYTES}</d:getcontentlength><d:getcontenttype>text/markdown</d:getcontenttype>"
            ),
        )
    };
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop>{kind}<d:getetag>&quot;e{i}&quot;</d:getetag>\
         <d:getlastmodified>Mon, 03 Mar 2025 09:00:00 GMT</d:getlastmodified>{extra}</d:prop>\
         <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
}

/// Answers PROPFIND of the root (the folders) and of each folder (its files), GET of a file.
struct Fake {
    files: usize,
    body: String,
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_string(self.body.clone());
        }
        let path = request.url.path();
        let rest = path.strip_prefix(ROOT).unwrap_or_default();
        let folders = self.files.div_ceil(PER_FOLDER);
        let mut xml = String::from(r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">"#);
        xml.push_str(&propstat(path, true, 0));
        if rest.is_empty() {
            for f in 0..folders {
                xml.push_str(&propstat(&format!("{ROOT}f-{f:04}/"), true, f));
            }
        } else {
            let f: usize = rest
                .trim_start_matches("f-")
                .trim_end_matches('/')
                .parse()
                .unwrap();
            for i in f * PER_FOLDER..((f + 1) * PER_FOLDER).min(self.files) {
                xml.push_str(&propstat(&format!("{path}doc-{i:06}.md"), false, i));
            }
        }
        xml.push_str("</d:multistatus>");
        ResponseTemplate::new(207)
            .insert_header("Content-Type", "application/xml; charset=utf-8")
            .set_body_string(xml)
    }
}

async fn fake(files: usize) -> MockServer {
    // Recording would keep every request in this process, and count in its peak RSS.
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    Mock::given(method("PROPFIND"))
        .respond_with(Fake {
            files,
            body: body(),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(Fake {
            files,
            body: body(),
        })
        .mount(&server)
        .await;
    server
}

fn connector(config: WebdavConfig) -> Arc<dyn connector_core::Connector> {
    Arc::new(WebdavConnector::new(config).expect("valid config"))
}

fn loopback_config(base: &Url) -> WebdavConfig {
    let mut config = WebdavConfig::new(base.clone(), "/", "alice", "app-password");
    config.allowed_hosts = vec!["127.0.0.1".into()];
    config
}

async fn full_sync(config: WebdavConfig, files: usize) -> Duration {
    let syncer = Syncer::new(connector(config)).sink(DiscardSink);
    let started = Instant::now();
    let report = syncer.run(SyncMode::Full).await.expect("full sync");
    assert_eq!(
        (report.delivered, report.failed),
        (files as u64, 0),
        "{report:?}"
    );
    started.elapsed()
}

/// The baseline: the walk's requests without the connector (the same client settings).
async fn raw_walk(
    base: &Url,
    user: &str,
    pass: &str,
    folders: &[Url],
    files: &[Vec<Url>],
) -> Duration {
    let http = HttpClient::builder("webdav")
        .auth(
            Auth::Basic {
                username: user.to_owned(),
                password: pass.into(),
            },
            "credentials.password",
        )
        .network_policy(NetworkPolicy::for_tenant(None, &["127.0.0.1".to_owned()]).unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    let body = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/><D:getlastmodified/><D:getcontentlength/><D:getcontenttype/></D:prop></D:propfind>"#;
    let started = Instant::now();
    let mut total = 0;
    for (i, folder) in std::iter::once(base).chain(folders).enumerate() {
        let listing = http
            .request(propfind.clone(), folder.clone())
            .header("Depth", "1")
            .body(body, "application/xml; charset=utf-8")
            .idempotent(true)
            .send()
            .await
            .expect("PROPFIND");
        assert_eq!(listing.status().as_u16(), 207);
        if i == 0 {
            continue;
        }
        let mut bodies = futures::stream::iter(&files[i - 1])
            .map(|url| {
                let req = http.get(url.clone());
                async move { req.send().await.expect("GET").into_body().len() }
            })
            .buffered(CONCURRENCY);
        while let Some(n) = bodies.next().await {
            total += n;
        }
    }
    assert_eq!(
        total,
        files.iter().map(Vec::len).sum::<usize>() * FILE_BYTES
    );
    started.elapsed()
}

fn layout(base: &Url, files: usize, name: impl Fn(usize) -> String) -> (Vec<Url>, Vec<Vec<Url>>) {
    let folders: Vec<Url> = (0..files.div_ceil(PER_FOLDER))
        .map(|f| base.join(&format!("f-{f:04}/")).unwrap())
        .collect();
    let urls = folders
        .iter()
        .enumerate()
        .map(|(f, folder)| {
            (f * PER_FOLDER..((f + 1) * PER_FOLDER).min(files))
                .map(|i| folder.join(&name(i)).unwrap())
                .collect()
        })
        .collect();
    (folders, urls)
}

async fn compare(label: &str, config: WebdavConfig, user: &str, pass: &str, files: usize) {
    let base = config.base_url.url().clone();
    let (folders, urls) = layout(&base, files, |i| format!("doc-{i:06}.md"));
    let (mut best_raw, mut best_sync) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        best_raw = best_raw.min(raw_walk(&base, user, pass, &folders, &urls).await);
        best_sync = best_sync.min(full_sync(config.clone(), files).await);
    }
    let rate = |d: Duration| files as f64 / d.as_secs_f64();
    println!(
        "{label}: {files} files in {} folders: raw PROPFIND+GET {:.0} files/s, connector {:.0} files/s, time ratio {:.2}x",
        folders.len(),
        rate(best_raw),
        rate(best_sync),
        best_sync.as_secs_f64() / best_raw.as_secs_f64()
    );
}

/// Peak RSS of this process, in KiB.
fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Run as a child: one full sync of `n` files from the fake at `uri` (served by the parent),
/// then its peak RSS. The fake lives in the parent because wiremock keeps a clone of every
/// request a mock matched (`MountedMock::matched_requests`, whatever
/// `disable_request_recording` says), each holding on to its connection's 8 KiB read
/// buffer: in the same process that was 175 of the 185 MiB measured at 10x the files, and the
/// connector's own memory was lost in it.
async fn memory_child(n: usize, uri: &str) {
    let base = Url::parse(&format!("{uri}{ROOT}")).unwrap();
    full_sync(loopback_config(&base), n).await;
    println!("VmHWM {}", vm_hwm());
}

/// Peak RSS in KiB of a child process that syncs `n` files from a fake served here.
fn memory(runtime: &tokio::runtime::Runtime, n: usize) -> u64 {
    let server = runtime.block_on(fake(n));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("WEBDAV_BENCH_MEMORY", n.to_string())
        .env("WEBDAV_BENCH_URI", server.uri())
        .output()
        .expect("child");
    drop(server);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("child: {}", String::from_utf8_lossy(&out.stderr)))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(n) = std::env::var("WEBDAV_BENCH_MEMORY")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let uri = std::env::var("WEBDAV_BENCH_URI").expect("the parent's fake");
        runtime.block_on(memory_child(n, &uri));
        return;
    }
    // `cargo bench` passes `--bench`; anything else (a name filter) is ignored.
    runtime.block_on(async {
        let server = fake(FILES).await;
        let base = Url::parse(&format!("{}{ROOT}", server.uri())).unwrap();
        compare(
            "loopback",
            loopback_config(&base),
            "alice",
            "app-password",
            FILES,
        )
        .await;
    });
    let (small, large) = (memory(&runtime, FILES), memory(&runtime, 10 * FILES));
    println!(
        "loopback peak RSS of a full sync: {FILES} files {} MiB, {} files {} MiB ({:.2}x for 10x the files)",
        small / 1024,
        10 * FILES,
        large / 1024,
        large as f64 / small as f64
    );
    if std::process::Command::new(webdav_common::binary("rclone"))
        .arg("version")
        .output()
        .is_err()
    {
        println!("rclone: not installed (bash .ci/test-servers.sh), skipped");
        return;
    }
    let server = webdav_common::Server::start(webdav_common::Kind::Rclone);
    let data = body();
    for i in 0..FILES {
        let rel = format!("bench/f-{:04}/doc-{i:06}.md", i / PER_FOLDER);
        let path = server.root().join(rel);
        if i % PER_FOLDER == 0 {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        std::fs::write(path, &data).unwrap();
    }
    let config = server.config("/bench");
    runtime.block_on(async {
        let mut base = server.base_url();
        base.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .push("bench")
            .push("");
        let mut config = config;
        // `layout` builds folder URLs from base_url: point it at the walked folder.
        let walked = WebdavConfig::new(base, "/", webdav_common::USER, webdav_common::PASS);
        let mut walked = walked;
        walked.allowed_hosts = config.allowed_hosts.clone();
        config = walked;
        compare(
            "rclone serve webdav",
            config,
            webdav_common::USER,
            webdav_common::PASS,
            FILES,
        )
        .await;
    });
}
