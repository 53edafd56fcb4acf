//! Real WebDAV servers for the integration tests, each on a free loopback port under the
//! sub-path `/dav` with Basic auth `davuser` / `davpass`: `rclone serve webdav` and wsgidav.
//! Install them with `bash .ci/test-servers.sh`.

// Each test binary uses a different part of this module; a setup step that fails should fail
// the test loudly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use connector_misc::webdav::{WebdavConfig, WebdavConnector};
use url::Url;

pub const USER: &str = "davuser";
pub const PASS: &str = "davpass-s3cr3t-value";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rclone,
    Wsgidav,
}

/// Where a test server's binary is: `$CONNECTORS_<NAME>`, the venv `.ci/test-servers.sh`
/// makes under `$CONNECTORS_TEST_SERVERS` (default `~/.cache/connectors-test-servers`), or
/// `PATH`.
pub fn binary(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("CONNECTORS_{}", name.to_uppercase())) {
        return PathBuf::from(p);
    }
    let root = std::env::var_os("CONNECTORS_TEST_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers"))
        });
    if let Some(root) = root {
        let venv = root.join(name).join("bin").join(name);
        if venv.is_file() {
            return venv;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{name} is not installed: run `bash .ci/test-servers.sh` (or set CONNECTORS_{} to its binary)",
        name.to_uppercase()
    );
}

/// A running server over a folder of its own; killed on drop.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` over a new empty folder on a free port and waits until it answers.
    pub fn start(kind: Kind) -> Self {
        Self::start_with(kind, false)
    }

    /// wsgidav taking HTTP Digest only (`accept_basic: false`), as an Apache
    /// `AuthType Digest` share does.
    pub fn start_digest() -> Self {
        Self::start_with(Kind::Wsgidav, true)
    }

    fn start_with(kind: Kind, digest: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let (bin, args): (PathBuf, Vec<String>) = match kind {
            Kind::Rclone => (
                binary("rclone"),
                vec![
                    "serve".into(),
                    "webdav".into(),
                    data.display().to_string(),
                    "--addr".into(),
                    addr.to_string(),
                    "--user".into(),
                    USER.into(),
                    "--pass".into(),
                    PASS.into(),
                    "--baseurl".into(),
                    "/dav".into(),
                    // Files written behind the server's back show at once.
                    "--dir-cache-time".into(),
                    "0s".into(),
                ],
            ),
            Kind::Wsgidav => {
                let config = dir.path().join("wsgidav.yaml");
                std::fs::write(
                    &config,
                    format!(
                        "host: 127.0.0.1\nport: {port}\nprovider_mapping:\n  \"/dav\": \"{}\"\n\
                         http_authenticator:\n  domain_controller: null\n  accept_basic: {basic}\n  \
                         accept_digest: {digest}\n  default_to_digest: {digest}\nsimple_dc:\n  \
                         user_mapping:\n    \"*\":\n      \"{USER}\":\n        password: \"{PASS}\"\n\
                         verbose: 0\n",
                        data.display(),
                        basic = !digest,
                    ),
                )
                .expect("wsgidav config");
                (
                    binary("wsgidav"),
                    vec!["--config".into(), config.display().to_string()],
                )
            }
        };
        // A shell in between kills the server when this test process is gone, even if the
        // process ends without dropping it.
        let script = format!(
            "\"$0\" \"$@\" >/dev/null 2>&1 & rc=$!; trap 'kill $rc 2>/dev/null; exit 0' TERM; while kill -0 {pid} 2>/dev/null && kill -0 $rc 2>/dev/null; \
             do sleep 0.3; done; kill $rc 2>/dev/null",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{kind:?} did not listen on {addr} within 20 s (binary {})",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        Self {
            kind,
            addr,
            child,
            dir,
        }
    }

    /// The folder the server serves.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `http://127.0.0.1:PORT/dav/`: the WebDAV root, under a sub-path.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}/dav/", self.addr)).expect("url")
    }

    /// A config for `remote_path` with loopback allowed.
    pub fn config(&self, remote_path: &str) -> WebdavConfig {
        let mut config = WebdavConfig::new(self.base_url(), remote_path, USER, PASS);
        config.allowed_hosts = vec!["127.0.0.1".into()];
        config
    }

    pub fn connector(&self, config: WebdavConfig) -> Arc<dyn Connector> {
        Arc::new(WebdavConnector::new(config).expect("valid config"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // TERM lets the shell stop the server too (a KILL would leave it to the watchdog).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Noon on 2025-03-`day`.
pub fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, 12, 0, 0).unwrap()
}

/// Writes `rel` under `root` with `data`, modified on `day`.
pub fn write(root: &Path, rel: &str, data: &[u8], on: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, data).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(day(on).into()).unwrap();
}
