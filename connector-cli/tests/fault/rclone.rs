//! `rclone serve s3` on a free loopback port, serving a folder whose buckets the case filled
//! before the start (rclone caches listings, so files written behind its back later would not
//! show; each case starts its own server). Installed by `.ci/test-servers.sh`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the rclone binary is: `$CONNECTORS_RCLONE`, the venv `.ci/test-servers.sh` makes,
/// or `PATH` (as connector-s3's tests find it).
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_RCLONE") {
        return PathBuf::from(p);
    }
    let root = std::env::var_os("CONNECTORS_TEST_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers"))
        });
    if let Some(venv) = root.map(|r| r.join("rclone/bin/rclone"))
        && venv.is_file()
    {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("rclone");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("rclone is not installed: run `bash .ci/test-servers.sh` (or set CONNECTORS_RCLONE)");
}

/// A running `rclone serve s3`; killed on drop.
pub(crate) struct Rclone {
    pub(crate) addr: SocketAddr,
    child: Child,
    stop: PathBuf,
}

impl Rclone {
    /// Serves `data` (each folder in it a bucket) with the key pair `key`/`secret`.
    pub(crate) fn start(data: &Path, key: &str, secret: &str, log: &Path) -> Self {
        let bin = binary();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // A shell in between kills rclone when this test process is gone, even if it ends
        // without dropping the server, or when `{log}.stop` appears (the drop).
        let script = format!(
            "\"$0\" serve s3 \"$1\" --addr {addr} --auth-key \"$3\" --force-path-style=true \
             --log-file \"$2\" & rc=$!; while kill -0 {pid} 2>/dev/null && kill -0 $rc 2>/dev/null \
             && [ ! -e \"$2.stop\" ]; do sleep 0.1; done; kill $rc 2>/dev/null",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(data)
            .arg(log)
            .arg(format!("{key},{secret}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "rclone serve s3 did not listen on {addr} within 20 s ({})",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut stop = log.as_os_str().to_owned();
        stop.push(".stop");
        Self {
            addr,
            child,
            stop: PathBuf::from(stop),
        }
    }
}

impl Drop for Rclone {
    fn drop(&mut self) {
        // The shell kills rclone and ends; a kill of the shell alone would orphan rclone.
        let _ = std::fs::write(&self.stop, b"");
        let _ = self.child.wait();
    }
}
