//! The local folder connector end to end: 10,000 small files in a temporary folder, synced by
//! `Syncer` into a `DiscardSink`.
//!
//! For each state store (`MemoryStateStore`, `FileStateStore`): a first full sync (docs/s),
//! then an unchanged re-sync with `SyncMode::Incremental` over the same store, reported as a
//! ratio of the first sync's time; best of a few rounds, each with a fresh store. Then
//! criterion samples the first full sync into memory.
//!
//! `cargo bench --bench local_folder` (`-- timing` for the timing table only).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::sink::DiscardSink;
use connector_core::state::{FileStateStore, MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, Result};
use criterion::{BenchmarkId, Criterion, Throughput};

const FILES: usize = 10_000;
const FOLDERS: usize = 100;
const ROUNDS: usize = 3;

/// Writes `FILES` small Markdown files, `FILES / FOLDERS` per folder.
fn make_files(root: &Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for f in 0..FOLDERS {
        let folder = root.join(format!("team-{f:03}"));
        std::fs::create_dir_all(&folder)?;
        for i in 0..FILES / FOLDERS {
            let body = format!(
                "# Note {f}-{i}\n\nA short page of the team handbook, number {i} in folder {f}.\n\
                 It is small, as most pages of a knowledge base are.\n"
            );
            bytes += body.len() as u64;
            std::fs::write(folder.join(format!("note-{i:03}.md")), body)?;
        }
    }
    Ok(bytes)
}

fn connector(root: &Path) -> Result<Arc<dyn Connector>> {
    let config = serde_json::json!({ "path": root.to_string_lossy() });
    connectors::registry().build("local", config)
}

async fn sync(
    connector: Arc<dyn Connector>,
    store: Arc<dyn StateStore>,
    mode: SyncMode,
) -> Result<SyncReport> {
    Syncer::new(connector)
        .sink(DiscardSink)
        .shared_state(store)
        .run(mode)
        .await
}

/// A first full sync and an unchanged incremental re-sync over one fresh store.
async fn round(root: &Path, store: Arc<dyn StateStore>) -> Result<(Duration, Duration)> {
    let start = Instant::now();
    let first = sync(connector(root)?, store.clone(), SyncMode::Full).await?;
    let first_time = start.elapsed();
    if first.new != FILES as u64 || first.failed != 0 {
        eprintln!(
            "unexpected first sync: {} new, {} failed",
            first.new, first.failed
        );
    }
    let start = Instant::now();
    let again = sync(connector(root)?, store, SyncMode::Incremental).await?;
    let again_time = start.elapsed();
    if again.new + again.updated + again.failed != 0 {
        eprintln!(
            "unexpected re-sync: {} new, {} updated, {} failed",
            again.new, again.updated, again.failed
        );
    }
    Ok((first_time, again_time))
}

async fn timing(root: &Path, state_dir: &Path) -> Result<()> {
    println!(
        "local_folder: {FILES} files in {FOLDERS} folders, best of {ROUNDS} rounds, each with a fresh store"
    );
    for kind in ["MemoryStateStore", "FileStateStore"] {
        let mut best = (Duration::MAX, Duration::MAX);
        for r in 0..ROUNDS {
            let store: Arc<dyn StateStore> = if kind == "FileStateStore" {
                Arc::new(FileStateStore::open(state_dir.join(format!("state-{r}.json"))).await?)
            } else {
                Arc::new(MemoryStateStore::new())
            };
            let (first, again) = round(root, store).await?;
            best = (best.0.min(first), best.1.min(again));
        }
        let (first, again) = best;
        println!(
            "  {kind:<16}  first full sync {:>7.3} s ({:>7.0} docs/s); unchanged incremental re-sync {:>7.3} s = {:.3}x the first",
            first.as_secs_f64(),
            FILES as f64 / first.as_secs_f64(),
            again.as_secs_f64(),
            again.as_secs_f64() / first.as_secs_f64(),
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("local_folder bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let io = |e: std::io::Error| {
        connector_core::Error::internal("cannot prepare the bench folder").with_cause(e)
    };
    // Two workers: the connector walks and reads on blocking threads while the loop runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io)?;
    let dir = tempfile::tempdir().map_err(io)?;
    let root = dir.path().join("files");
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir).map_err(io)?;
    let bytes = make_files(&root).map_err(io)?;
    println!(
        "prepared {FILES} files, {bytes} bytes, in {}",
        root.display()
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "timing") {
        rt.block_on(timing(&root, &state_dir))?;
    }

    let mut group = criterion.benchmark_group("local_folder");
    group.throughput(Throughput::Elements(FILES as u64));
    group.bench_function(BenchmarkId::new("full_sync_memory_state", FILES), |b| {
        b.to_async(&rt).iter(|| async {
            let Ok(connector) = connector(&root) else {
                return 0;
            };
            let store = Arc::new(MemoryStateStore::new());
            sync(connector, store, SyncMode::Full)
                .await
                .map_or(0, |r| r.delivered)
        });
    });
    group.finish();
    criterion.final_summary();
    Ok(())
}
