//! `SqlStateStore` on SQLite against core's `FileStateStore`, on a sync of 100,000 documents
//! from core's memory connector into a `DiscardSink`: a full run (every document new), then a
//! second full run (every document unchanged), time and peak RSS of each store measured in a
//! process of its own (peak RSS only grows within a process), ratios printed in the same run.
//!
//! `cargo bench -p connector-sync --bench state_stores` (`DOCS=N` to change the size).
//! Not a criterion bench: one run of this size says what it needs to.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use connector_core::sink::DiscardSink;
use connector_core::state::{FileStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::MemoryConnector;
use connector_sync::SqlStateStore;

const STORES: [&str; 2] = ["file", "sqlite"];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// One store's runs, in this (child) process: prints `full_secs unchanged_secs peak_kib`.
async fn child(store: &str, docs: usize, dir: &std::path::Path) -> Result<(), String> {
    let start = Utc
        .timestamp_opt(1_767_225_600, 0)
        .single()
        .unwrap_or_default();
    let connector = Arc::new(MemoryConnector::numbered(docs, 500, start));
    let state: Arc<dyn StateStore> = match store {
        "file" => Arc::new(
            FileStateStore::open(dir.join("state.json"))
                .await
                .map_err(|e| e.to_string())?,
        ),
        _ => Arc::new(
            SqlStateStore::open(
                &format!("sqlite:{}", dir.join("state.db").display()),
                "bench",
            )
            .await
            .map_err(|e| e.to_string())?,
        ),
    };
    let mut secs = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        let report = Syncer::new(connector.clone())
            .sink(DiscardSink)
            .shared_state(state.clone())
            .run(SyncMode::Full)
            .await
            .map_err(|e| e.to_string())?;
        secs.push(t.elapsed().as_secs_f64());
        if report.new + report.unchanged != docs as u64 {
            return Err(format!("{store}: {report:?}"));
        }
    }
    println!("{} {} {}", secs[0], secs[1], peak_rss_kib());
    Ok(())
}

fn main() {
    let docs: usize = std::env::var("DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let store = args.get(i + 1).cloned().unwrap_or_default();
        let dir = args.get(i + 2).cloned().unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        let result = match runtime {
            Ok(rt) => rt.block_on(child(&store, docs, std::path::Path::new(&dir))),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }

    let Ok(exe) = std::env::current_exe() else {
        eprintln!("cannot find this benchmark's executable");
        std::process::exit(1);
    };
    println!(
        "state stores, {docs} documents (memory connector → DiscardSink), each store in its own process:"
    );
    let mut results = Vec::new();
    for store in STORES {
        let Ok(dir) = tempfile::tempdir() else {
            eprintln!("cannot make a temporary folder");
            std::process::exit(1);
        };
        let out = Command::new(&exe)
            .args(["--child", store])
            .arg(dir.path())
            .output();
        let out = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                eprintln!("{store}: {}", String::from_utf8_lossy(&o.stderr));
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("{store}: {e}");
                std::process::exit(1);
            }
        };
        let nums: Vec<f64> = out
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [full, unchanged, peak] = nums[..] else {
            eprintln!("{store}: unexpected output {out}");
            std::process::exit(1);
        };
        let size: u64 = std::fs::read_dir(dir.path())
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        println!(
            "  {store:<7} full {full:>7.2} s ({:>8.0} docs/s)  unchanged {unchanged:>7.2} s ({:>8.0} docs/s)  peak RSS {:>6.1} MiB  on disk {:>6.1} MiB",
            docs as f64 / full,
            docs as f64 / unchanged,
            peak / 1024.0,
            size as f64 / 1_048_576.0
        );
        results.push((full, unchanged, peak));
    }
    if let [(ff, fu, fp), (sf, su, sp)] = results[..] {
        println!(
            "  sqlite / file: full run {:.2}x the time, unchanged run {:.2}x, peak RSS {:.2}x",
            sf / ff,
            su / fu,
            sp / fp
        );
    }
}
