//! Peak memory (RSS, `VmHWM`) of syncing one large S3 object into a `DirectorySink`, with the
//! object spooled to a file (`spool_large_objects`) or held in memory (`max_object_size` above
//! its size), on a real S3 server (`rclone serve s3`; install it with
//! `bash .ci/test-servers.sh`).
//!
//! `cargo run -p connector-s3 --example spool_rss` writes objects of 32 and 256 MiB, starts
//! rclone, and measures each (size, mode) in a process of its own (a peak is per process);
//! it prints each peak and the ratio of the 256 MiB peak to the 32 MiB one: flat when
//! spooled, growing with the object in memory. Linux only (`/proc/self/status`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::sink::{DirectorySink, Durability};
use connector_core::spool::Spool;
use connector_core::sync::{SyncMode, Syncer};
use connector_s3::s3::{S3Config, S3Connector};

const BUCKET: &str = "spool";
const KEY: &str = "rsskey";
const SECRET: &str = "rsssecret";
const SIZES_MIB: [u64; 2] = [32, 256];

fn rclone_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_RCLONE") {
        return PathBuf::from(p);
    }
    let cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers/rclone/bin/rclone"));
    cached
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("rclone"))
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Writes an object of `mib` MiB into rclone's folder, 1 MiB at a time.
fn write_object(data: &Path, mib: u64) -> std::io::Result<()> {
    use std::io::Write;
    let dir = data.join(BUCKET);
    std::fs::create_dir_all(&dir)?;
    let mut file = std::fs::File::create(dir.join(format!("big-{mib}.bin")))?;
    let chunk: Vec<u8> = (0..1024 * 1024).map(|n: usize| (n % 251) as u8).collect();
    for _ in 0..mib {
        file.write_all(&chunk)?;
    }
    Ok(())
}

/// One measurement, in this process: syncs `big-{mib}.bin` and prints the peak.
async fn measure(endpoint: &str, mib: u64, mode: &str) -> Result<(), Box<dyn std::error::Error>> {
    let size = mib * 1024 * 1024;
    let mut config = S3Config::s3_compatible(BUCKET, endpoint.parse()?, KEY, SECRET);
    config.allowed_hosts.push("127.0.0.1".to_owned());
    config.include = vec![format!("big-{mib}.bin")];
    config.concurrency = 1.try_into()?;
    if mode == "spool" {
        config.spool_large_objects = true;
    } else {
        config.max_object_size = (size + 1).try_into()?;
    }
    let out = tempfile::tempdir()?;
    let sink = Arc::new(
        DirectorySink::open(out.path().join("out"))
            .await?
            .durability(Durability::Flush),
    );
    let report = Syncer::new(Arc::new(S3Connector::new(config)?))
        .sink(Arc::clone(&sink))
        .spool(Spool::in_dir(out.path().join("spool")))
        .run(SyncMode::Full)
        .await?;
    let written: u64 = std::fs::read_dir(out.path().join("out/files"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    if report.delivered != 1 || written != size {
        return Err(format!("delivered {} documents, {written} bytes", report.delivered).into());
    }
    println!(
        "{mib:>4} MiB  {mode:<6}  peak RSS {:>8} KiB",
        peak_rss_kib()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, endpoint, mib, mode] = args.as_slice() {
        let runtime = tokio::runtime::Runtime::new()?;
        return runtime.block_on(measure(endpoint, mib.parse()?, mode));
    }
    let data = tempfile::tempdir()?;
    for mib in SIZES_MIB {
        write_object(data.path(), mib)?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut rclone = Command::new(rclone_binary())
        .args(["serve", "s3"])
        .arg(data.path())
        .args(["--addr", &addr, "--auth-key", &format!("{KEY},{SECRET}")])
        .arg("--force-path-style=true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = rclone.kill();
            return Err("rclone did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let endpoint = format!("http://{addr}");
    let exe = std::env::current_exe()?;
    let mut failed = false;
    for mode in ["spool", "memory"] {
        for mib in SIZES_MIB {
            let status = Command::new(&exe)
                .args([&endpoint, &mib.to_string(), mode])
                .status()?;
            failed |= !status.success();
        }
    }
    let _ = rclone.kill();
    let _ = rclone.wait();
    if failed {
        return Err("a measuring process failed".into());
    }
    Ok(())
}
