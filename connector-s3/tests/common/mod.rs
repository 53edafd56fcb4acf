//! A real S3 server for the integration tests: `rclone serve s3` on a free loopback port, a
//! seeding client that writes through the S3 API (rclone caches listings, so files written
//! into its folder behind its back would not show), and a counting proxy that records every
//! request the connector sends.

// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use connector_s3::s3::S3Config;
use rusty_s3::actions::{CreateBucket, DeleteObject, PutObject};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

pub const KEY: &str = "testkey";
pub const SECRET: &str = "testsecret";

/// Where the rclone binary is: `$CONNECTORS_RCLONE`, the venv `.ci/test-servers.sh` makes,
/// or `PATH`.
pub fn rclone_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_RCLONE") {
        return PathBuf::from(p);
    }
    let root = std::env::var_os("CONNECTORS_TEST_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers"))
        });
    if let Some(root) = root {
        let venv = root.join("rclone/bin/rclone");
        if venv.is_file() {
            return venv;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("rclone");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "rclone is not installed: run `bash .ci/test-servers.sh` (or set CONNECTORS_RCLONE to an rclone binary)"
    );
}

/// A running `rclone serve s3`; killed on drop.
pub struct Rclone {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Rclone {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> Self {
        let bin = rclone_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // A shell in between kills rclone when this test process is gone, even if the
        // process ends without dropping the server (a shared server in a `static`).
        let script = format!(
            "\"$0\" serve s3 \"$1\" --addr {addr} --auth-key {KEY},{SECRET} --force-path-style=true \
             --log-file \"$2\" & rc=$!; while kill -0 {pid} 2>/dev/null && kill -0 $rc 2>/dev/null; \
             do sleep 0.3; done; kill $rc 2>/dev/null",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(&data)
            .arg(dir.path().join("rclone.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "rclone serve s3 did not listen on {addr} within 20 s (binary {})",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        Self {
            addr,
            child,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("url")
    }
}

impl Drop for Rclone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server shared by the tests of a binary (each test uses buckets of its own).
pub fn shared() -> &'static Rclone {
    static SHARED: OnceLock<Rclone> = OnceLock::new();
    SHARED.get_or_init(Rclone::start)
}

/// A unique bucket name.
pub fn bucket_name(tag: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{tag}-{}-{n}", std::process::id())
}

/// Writes buckets and objects through the S3 API.
#[derive(Clone)]
pub struct Seeder {
    http: reqwest::Client,
    endpoint: Url,
    credentials: Credentials,
}

impl Seeder {
    pub fn new(endpoint: Url) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint,
            credentials: Credentials::new(KEY, SECRET),
        }
    }

    fn bucket(&self, name: &str) -> Bucket {
        Bucket::new(
            self.endpoint.clone(),
            UrlStyle::Path,
            name.to_owned(),
            "us-east-1",
        )
        .expect("bucket")
    }

    pub async fn create_bucket(&self, name: &str) {
        let bucket = self.bucket(name);
        let url = CreateBucket::new(&bucket, &self.credentials).sign(Duration::from_secs(600));
        let resp = self.http.put(url).send().await.expect("create bucket");
        assert!(
            resp.status().is_success(),
            "create bucket {name}: {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// Puts an object; `mtime` (seconds) sets its `LastModified` through rclone's
    /// `X-Amz-Meta-Mtime` metadata.
    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>, mtime: Option<i64>) {
        let b = self.bucket(bucket);
        let mut action = PutObject::new(&b, Some(&self.credentials), key);
        let mtime = mtime.map(|t| t.to_string());
        if let Some(t) = &mtime {
            action.headers_mut().insert("x-amz-meta-mtime", t.clone());
        }
        let url = action.sign(Duration::from_secs(600));
        let mut req = self.http.put(url).body(body.into());
        if let Some(t) = &mtime {
            req = req.header("x-amz-meta-mtime", t);
        }
        let resp = req.send().await.expect("put object");
        assert!(
            resp.status().is_success(),
            "put {bucket}/{key}: {}",
            resp.text().await.unwrap_or_default()
        );
    }

    pub async fn delete(&self, bucket: &str, key: &str) {
        let b = self.bucket(bucket);
        let url =
            DeleteObject::new(&b, Some(&self.credentials), key).sign(Duration::from_secs(600));
        let resp = self.http.delete(url).send().await.expect("delete object");
        assert!(resp.status().is_success(), "delete {bucket}/{key}");
    }
}

/// A config for `bucket` on the server at `endpoint`, which listens on loopback: allowed.
pub fn config(endpoint: Url, bucket: &str) -> S3Config {
    let mut config = S3Config::s3_compatible(bucket, endpoint, KEY, SECRET);
    config.allowed_hosts = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    config
}

/// A TCP proxy in front of a server that records the request line of every request (the
/// connector sends only body-less GETs, so requests are split at their blank line).
#[derive(Clone)]
pub struct CountingProxy {
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&lines);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    });
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        let n = match cr.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            let text = String::from_utf8_lossy(&head);
                            if let Some(line) = text.lines().next() {
                                seen.lock().expect("lock").push(line.to_owned());
                            }
                            if sw.write_all(&head).await.is_err() {
                                return;
                            }
                        }
                    }
                    let _ = sw.shutdown().await;
                    let _ = down.await;
                });
            }
        });
        Self { addr, lines }
    }

    pub fn endpoint(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("url")
    }

    /// Every request line so far, then forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().expect("lock"))
    }

    /// Of `lines`, the object downloads (GETs that are not listings).
    pub fn object_gets(lines: &[String]) -> usize {
        lines
            .iter()
            .filter(|l| l.starts_with("GET ") && !l.contains("list-type=2"))
            .count()
    }

    /// Of `lines`, the listing requests.
    pub fn lists(lines: &[String]) -> usize {
        lines.iter().filter(|l| l.contains("list-type=2")).count()
    }
}
