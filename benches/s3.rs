//! The S3 connector end to end on a real S3 server, `rclone serve s3` (install it with
//! `bash .ci/test-servers.sh`). Not run in CI: `cargo bench --bench s3`.
//!
//! 10,000 objects of 4 KiB (written into rclone's folder before it starts, in 100 folders):
//! - a full load (`Syncer`, `SyncMode::Full`, into a `DiscardSink`) in docs/s, against a raw
//!   loop of signed GETs over the same keys with the same `HttpClient` settings and the same
//!   concurrency (8), in the same run; target: within 1.5x;
//! - an unchanged re-sync (`SyncMode::Auto` over the full load's state: listing plus one
//!   fingerprint lookup per page, no download) against the listing alone (`list_ids`);
//!   target: at most 1.1x. Both take about a tenth of a second, so they are compared over
//!   `LISTING_ROUNDS` interleaved rounds rather than the five of the full load;
//! - peak RSS (`VmHWM`) at 1,000 and at 100,000 objects, each configuration in a process of its
//!   own (`S3_BENCH_SKIP_100K=1` skips the slow size), so the connector's own footprint is told
//!   apart from the state the host keeps per object:
//!   - `drain`: the `load()` stream drained without the batch loop (the connector alone);
//!   - `compact`: a full sync with a state store that keeps 24 bytes per object (a hash of the
//!     id and the 128-bit fingerprint), as a host with a compact index would;
//!   - `memory`: a full sync with `MemoryStateStore` (every id and fingerprint as strings);
//!   - `file`: a full sync with `FileStateStore` (the same map, plus its JSON snapshot).
//!
//! Best of five rounds for each timing; every client and connector is built outside the timing.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::reexports::chrono::{DateTime, Utc};
use connector_core::sink::DiscardSink;
use connector_core::state::{
    CheckpointUpdate, Commit, DocumentState, FileStateStore, MemoryStateStore, RunRecord,
    StateStore, SyncState,
};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, SyncContext};
use connector_s3::s3::{S3Config, S3Connector};
use futures::StreamExt;
use rusty_s3::actions::GetObject;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

const BUCKET: &str = "bench";
const OBJECT_BYTES: usize = 4096;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 5;
/// Rounds of the listing against the unchanged re-sync: each takes about 0.1 s, where the
/// noise of a shared machine is a few percent, so five rounds cannot tell 1.05x from 1.1x.
const LISTING_ROUNDS: usize = 30;

fn rclone_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_RCLONE") {
        return PathBuf::from(p);
    }
    let root = std::env::var_os("CONNECTORS_TEST_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers"))
        });
    if let Some(venv) = root
        .map(|r| r.join("rclone/bin/rclone"))
        .filter(|p| p.is_file())
    {
        return venv;
    }
    PathBuf::from("rclone")
}

/// `rclone serve s3` over `data`, killed on drop.
struct Rclone {
    addr: SocketAddr,
    child: Child,
}

impl Rclone {
    fn start(data: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(rclone_binary())
            .args(["serve", "s3"])
            .arg(data)
            .args([
                "--addr",
                &addr.to_string(),
                "--auth-key",
                "benchkey,benchsecret",
                "--force-path-style=true",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone is not installed: run `bash .ci/test-servers.sh`");
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "rclone did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { addr, child }
    }

    fn endpoint(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).expect("url")
    }
}

impl Drop for Rclone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `n` objects of 4 KiB into `data/bench`, 100 per folder; returns their keys.
fn seed(data: &Path, n: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(n);
    let line = "A line of a plain-text page, repeated to make a 4 KiB object of a bucket.\n";
    let body: String = line.repeat(OBJECT_BYTES / line.len() + 1)[..OBJECT_BYTES].to_owned();
    for i in 0..n {
        let key = format!("f-{:04}/obj-{:03}.txt", i / 100, i % 100);
        let path = data.join(BUCKET).join(&key);
        if i % 100 == 0 {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        }
        std::fs::write(&path, &body).expect("write object");
        keys.push(key);
    }
    keys.sort();
    keys
}

fn config(endpoint: url::Url) -> S3Config {
    let mut c = S3Config::s3_compatible(BUCKET, endpoint, "benchkey", "benchsecret");
    // rclone listens on loopback, which the connector reaches only when allowed.
    c.allowed_hosts.push("127.0.0.1".to_owned());
    c.concurrency = u32::try_from(CONCURRENCY)
        .ok()
        .and_then(std::num::NonZeroU32::new)
        .expect("nonzero");
    c
}

fn connector(endpoint: url::Url) -> Arc<dyn Connector> {
    Arc::new(S3Connector::new(config(endpoint)).expect("valid config"))
}

/// The baseline: signed GETs of every key with the client settings the connector uses.
async fn raw_gets(endpoint: url::Url, keys: &[String]) -> Duration {
    let http = HttpClient::builder("s3_compatible")
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let bucket = Bucket::new(endpoint, UrlStyle::Path, BUCKET, "us-east-1").expect("bucket");
    let creds = Credentials::new("benchkey", "benchsecret");
    let started = Instant::now();
    let mut bodies = futures::stream::iter(keys)
        .map(|key| {
            let url = GetObject::new(&bucket, Some(&creds), key).sign(Duration::from_secs(3600));
            let req = http.get(url).max_body_bytes(20 * 1024 * 1024);
            async move { req.send().await.expect("GET").into_body().len() }
        })
        .buffered(CONCURRENCY);
    let mut total = 0;
    while let Some(n) = bodies.next().await {
        total += n;
    }
    assert_eq!(total, keys.len() * OBJECT_BYTES);
    started.elapsed()
}

async fn full_sync(endpoint: url::Url, state: Arc<dyn StateStore>) -> Duration {
    // Built outside the timing, as the baseline's client is.
    let syncer = Syncer::new(connector(endpoint))
        .sink(DiscardSink)
        .shared_state(state);
    let started = Instant::now();
    let report = syncer.run(SyncMode::Full).await.expect("full sync");
    assert_eq!(report.failed, 0);
    started.elapsed()
}

async fn list_only(endpoint: url::Url) -> (Duration, usize) {
    let c = connector(endpoint);
    let started = Instant::now();
    let mut stream = c.as_slim().expect("slim").list_ids(SyncContext::new());
    let mut n = 0;
    while let Some(page) = stream.next().await {
        n += page.expect("list").len();
    }
    (started.elapsed(), n)
}

/// CPU time of this process (user + system) so far, in clock ticks (10 ms): the server runs in
/// a process of its own, so this is the client's share alone.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is the 3rd field overall, utime the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum()
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A state store that keeps 24 bytes per document: a 64-bit hash of the id and the 128-bit
/// fingerprint. It stands for a host with a compact index, so that the RSS of a sync with it
/// is the connector's and the loop's, not a map of strings. (It cannot list ids, so no prune.)
#[derive(Default)]
struct CompactStateStore {
    hasher: RandomState,
    documents: Mutex<HashMap<u64, u128>>,
    state: Mutex<SyncState>,
}

impl CompactStateStore {
    fn key(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }
}

#[async_trait]
impl StateStore for CompactStateStore {
    async fn load(&self) -> connector_core::Result<SyncState> {
        Ok(self.state.lock().expect("lock").clone())
    }

    async fn documents(&self, ids: &[&str]) -> connector_core::Result<Vec<Option<DocumentState>>> {
        let docs = self.documents.lock().expect("lock");
        Ok(ids
            .iter()
            .map(|id| {
                docs.get(&self.key(id))
                    .map(|f| DocumentState::new(format!("{f:032x}"), None))
            })
            .collect())
    }

    async fn document_ids(&self) -> connector_core::Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn commit(&self, commit: Commit<'_>) -> connector_core::Result<()> {
        let mut docs = self.documents.lock().expect("lock");
        for state in commit.documents.iter() {
            let fingerprint =
                u128::from_str_radix(state.fingerprint, 16).expect("a hex fingerprint");
            docs.insert(self.key(state.id), fingerprint);
        }
        if let CheckpointUpdate::Set(cp) = commit.checkpoint {
            self.state.lock().expect("lock").checkpoint = Some(cp);
        }
        Ok(())
    }

    async fn remove_documents(&self, ids: &[String]) -> connector_core::Result<()> {
        let mut docs = self.documents.lock().expect("lock");
        for id in ids {
            docs.remove(&self.key(id));
        }
        Ok(())
    }

    async fn finish_run(
        &self,
        _run: RunRecord,
        window_end: Option<DateTime<Utc>>,
    ) -> connector_core::Result<()> {
        if let Some(end) = window_end {
            let mut state = self.state.lock().expect("lock");
            state.checkpoint = None;
            state.last_window_end = Some(end);
        }
        Ok(())
    }

    async fn runs(&self, _limit: usize) -> connector_core::Result<Vec<RunRecord>> {
        Ok(Vec::new())
    }
}

/// What an RSS process measures (see the crate docs).
const RSS_MODES: [&str; 4] = ["drain", "compact", "memory", "file"];

/// The `load()` stream drained without the batch loop; returns the documents seen.
async fn drain(endpoint: url::Url) -> usize {
    let c = connector(endpoint);
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut n = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.expect("load");
        assert!(batch.failures.is_empty());
        n += batch.documents.len();
    }
    n
}

/// A process of its own: sync the `n` objects seeded in `data` as `mode` says, print the peak
/// RSS.
fn rss(n: usize, mode: &str, data: &Path) {
    let server = Rclone::start(data);
    let rt = runtime();
    let state_dir = tempfile::tempdir().expect("tempdir");
    let before = vm_hwm_kib().unwrap_or(0);
    let took = rt.block_on(async {
        let state: Arc<dyn StateStore> = match mode {
            "drain" => {
                let started = Instant::now();
                assert_eq!(drain(server.endpoint()).await, n);
                return started.elapsed();
            }
            "compact" => Arc::new(CompactStateStore::default()),
            "memory" => Arc::new(MemoryStateStore::new()),
            "file" => Arc::new(
                FileStateStore::open(state_dir.path().join("state.json"))
                    .await
                    .expect("state file"),
            ),
            other => panic!("unknown RSS mode {other}"),
        };
        full_sync(server.endpoint(), state).await
    });
    let after = vm_hwm_kib().unwrap_or(0);
    println!(
        "rss: {n:>6} objects, {mode:<7}: peak RSS {:>5.1} MiB ({:>5.1} MiB over the {:.1} MiB before); {:.1} s ({:.0} docs/s)",
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0,
        before as f64 / 1024.0,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss") {
        let n = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .expect("--rss N MODE DATA");
        let mode = args.get(i + 2).expect("--rss N MODE DATA");
        let data = args.get(i + 3).expect("--rss N MODE DATA");
        rss(n, mode, Path::new(data));
        return;
    }
    let n = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = seed(dir.path(), n);
    let server = Rclone::start(dir.path());
    let endpoint = server.endpoint();
    let rt = runtime();
    rt.block_on(async {
        // Warm rclone's directory cache and hash cache once, for every contender alike.
        let (_, listed) = list_only(endpoint.clone()).await;
        assert_eq!(listed, n);
        let _ = raw_gets(endpoint.clone(), &keys).await;

        let mut raw = Duration::MAX;
        let mut full = Duration::MAX;
        let mut state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
        for _ in 0..ROUNDS {
            raw = raw.min(raw_gets(endpoint.clone(), &keys).await);
            state = Arc::new(MemoryStateStore::new());
            full = full.min(full_sync(endpoint.clone(), Arc::clone(&state)).await);
        }
        let mut list = Duration::MAX;
        let mut unchanged = Duration::MAX;
        let (mut list_cpu, mut unchanged_cpu) = (0, 0);
        for _ in 0..LISTING_ROUNDS {
            let cpu = cpu_ticks();
            list = list.min(list_only(endpoint.clone()).await.0);
            list_cpu += cpu_ticks() - cpu;
            let syncer = Syncer::new(connector(endpoint.clone()))
                .sink(DiscardSink)
                .shared_state(Arc::clone(&state));
            let cpu = cpu_ticks();
            let started = Instant::now();
            let report = syncer
                .run(SyncMode::Auto)
                .await
                .expect("unchanged re-sync");
            unchanged = unchanged.min(started.elapsed());
            unchanged_cpu += cpu_ticks() - cpu;
            assert_eq!(report.unchanged as usize, n);
            assert_eq!(report.requests, (n as u64).div_ceil(1000), "listing requests only");
        }
        // Clock ticks of 10 ms, summed over the rounds, as ms per run.
        let per_run = |ticks: u64| ticks as f64 * 10.0 / LISTING_ROUNDS as f64;
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!("s3 bench on rclone serve s3: {n} objects of {OBJECT_BYTES} B, concurrency {CONCURRENCY}, best of {ROUNDS} (listing and re-sync: best of {LISTING_ROUNDS})");
        println!("  raw signed GETs (baseline)   {:>8.0} docs/s  {:>7.3} s", rate(raw), raw.as_secs_f64());
        println!(
            "  full load (Syncer, Full)     {:>8.0} docs/s  {:>7.3} s  = {:.2}x the baseline time (target <= 1.5x)",
            rate(full),
            full.as_secs_f64(),
            full.as_secs_f64() / raw.as_secs_f64()
        );
        println!("  listing alone (list_ids)               {:>7.3} s", list.as_secs_f64());
        println!(
            "  unchanged re-sync (Auto)               {:>7.3} s  = {:.2}x the listing (target <= 1.1x)",
            unchanged.as_secs_f64(),
            unchanged.as_secs_f64() / list.as_secs_f64()
        );
        println!(
            "  client CPU per run: listing {:.1} ms, unchanged re-sync {:.1} ms (mean of {LISTING_ROUNDS})",
            per_run(list_cpu),
            per_run(unchanged_cpu)
        );
    });
    drop(server);

    let exe = std::env::current_exe().expect("own path");
    let mut sizes = vec![1_000usize];
    if std::env::var_os("S3_BENCH_SKIP_100K").is_none() {
        sizes.push(100_000);
    }
    for size in sizes {
        // Seeded once per size, outside the measuring processes.
        let data = tempfile::tempdir().expect("tempdir");
        let seeding = Instant::now();
        seed(data.path(), size);
        println!(
            "rss: {size} objects seeded in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        for mode in RSS_MODES {
            let status = Command::new(&exe)
                .args(["--rss", &size.to_string(), mode])
                .arg(data.path())
                .status();
            if !status.is_ok_and(|s| s.success()) {
                println!("rss: {size} objects, {mode}: the measuring process failed");
            }
        }
    }
}
