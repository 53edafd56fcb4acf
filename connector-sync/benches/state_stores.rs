//! `SqlStateStore` on SQLite and on PostgreSQL against core's `FileStateStore`, on a sync of
//! 100,000 documents from core's memory connector into a `DiscardSink`: a full run (every
//! document new), then a second full run (every document unchanged), time and peak RSS of each
//! store measured in a process of its own (peak RSS only grows within a process), ratios
//! printed in the same run. PostgreSQL is the tests' server (started here: `initdb` and
//! `pg_ctl` on loopback, `fsync=off`), a fresh database; its own processes' memory is not in
//! the peak RSS, which is the sync process's.
//!
//! `cargo bench -p connector-sync --bench state_stores` (`DOCS=N` to change the size; release,
//! as `cargo bench` builds). Not a criterion bench: one run of this size says what it needs to.
//!
//! Measured here, 100,000 documents, release, two runs on 2 shared cores under a load of ~6
//! (so the times are noisy; the ratios are each run's own), SQLite `synchronous=FULL` on disk,
//! PostgreSQL `fsync=off` on loopback:
//!
//! | store / `FileStateStore` | full run (time) | unchanged run (time) | peak RSS |
//! | --- | --- | --- | --- |
//! | SQLite | 0.40x, 0.65x | 0.92x, 1.15x | 0.83x, 0.84x |
//! | PostgreSQL | 1.40x, 1.46x | 2.48x, 3.64x | 0.76x, 0.75x |
//!
//! The file store took 6.6 s / 5.3 s for the full run (15-19k docs/s) and 4.5 s / 3.8 s for the
//! unchanged one, at 49.5 MiB peak; SQLite 41 MiB, PostgreSQL 37 MiB (its server's memory
//! aside). On disk: file 9.4 MiB, SQLite 14.2 MiB, PostgreSQL 29.9 MiB (the whole database,
//! catalogs included). PostgreSQL pays a loopback round trip per statement: the unchanged run
//! is a full run too, so it still delivers every document and writes its row again, one
//! transaction per batch, after a fingerprint lookup per page.

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use connector_core::sink::DiscardSink;
use connector_core::state::{FileStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::MemoryConnector;
use connector_sync::SqlStateStore;

const STORES: [&str; 3] = ["file", "sqlite", "postgres"];

/// The PostgreSQL server's URL, for the `postgres` child.
const PG_URL_ENV: &str = "STATE_STORES_BENCH_PG";

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

/// A fresh database on the PostgreSQL server at `admin`, as a URL.
async fn fresh_pg_database(admin: &str) -> Result<String, String> {
    let name = format!("state_bench_{}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::Executor::execute(
        &mut conn,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
    )
    .await
    .map_err(|e| e.to_string())?;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .ok_or("a database URL")?;
    Ok(format!("{base}/{name}"))
}

/// Bytes the store takes: its files, or its PostgreSQL database.
async fn size_on_disk(dir: &std::path::Path, pg: Option<&str>) -> Result<u64, String> {
    if let Some(url) = pg {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        let (bytes,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(u64::try_from(bytes).unwrap_or(0));
    }
    Ok(std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0))
}

/// One store's runs, in this (child) process: prints `full_secs unchanged_secs peak_kib
/// bytes_on_disk`.
async fn child(store: &str, docs: usize, dir: &std::path::Path) -> Result<(), String> {
    let start = Utc
        .timestamp_opt(1_767_225_600, 0)
        .single()
        .unwrap_or_default();
    let connector = Arc::new(MemoryConnector::numbered(docs, 500, start));
    let mut pg = None;
    let state: Arc<dyn StateStore> = match store {
        "file" => Arc::new(
            FileStateStore::open(dir.join("state.json"))
                .await
                .map_err(|e| e.to_string())?,
        ),
        "postgres" => {
            let admin =
                std::env::var(PG_URL_ENV).map_err(|_| format!("{PG_URL_ENV} is not set"))?;
            let url = fresh_pg_database(&admin).await?;
            let store = SqlStateStore::open(&url, "bench")
                .await
                .map_err(|e| e.to_string())?;
            pg = Some(url);
            Arc::new(store)
        }
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
    let peak = peak_rss_kib();
    let size = size_on_disk(dir, pg.as_deref()).await?;
    println!("{} {} {peak} {size}", secs[0], secs[1]);
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
    let pg_url = postgres::url();
    let mut results = Vec::new();
    for store in STORES {
        let Ok(dir) = tempfile::tempdir() else {
            eprintln!("cannot make a temporary folder");
            std::process::exit(1);
        };
        let out = Command::new(&exe)
            .args(["--child", store])
            .arg(dir.path())
            .env(PG_URL_ENV, pg_url)
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
        let [full, unchanged, peak, size] = nums[..] else {
            eprintln!("{store}: unexpected output {out}");
            std::process::exit(1);
        };
        println!(
            "  {store:<8} full {full:>7.2} s ({:>8.0} docs/s)  unchanged {unchanged:>7.2} s ({:>8.0} docs/s)  peak RSS {:>6.1} MiB  on disk {:>6.1} MiB",
            docs as f64 / full,
            docs as f64 / unchanged,
            peak / 1024.0,
            size / 1_048_576.0
        );
        results.push((full, unchanged, peak));
    }
    if let [(ff, fu, fp), ref sql @ ..] = results[..] {
        for (name, (sf, su, sp)) in ["sqlite", "postgres"].iter().zip(sql) {
            println!(
                "  {name} / file: full run {:.2}x the time, unchanged run {:.2}x, peak RSS {:.2}x",
                sf / ff,
                su / fu,
                sp / fp
            );
        }
    }
}
