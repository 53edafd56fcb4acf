//! The batch loop alone: an in-memory source of small documents driven by `Syncer` into a
//! `DiscardSink`, against draining the same source stream without the loop, in the same run.
//!
//! Part 1 times 1,000,000 documents directly (criterion's repeated sampling would take
//! minutes at that size) and prints docs/s for both and the loop's overhead, with a state store
//! that keeps nothing (the loop's own cost) and with `MemoryStateStore` (the loop plus a map of
//! a million fingerprints). Part 2 runs criterion on 10,000 documents for statistically sound
//! figures on a smaller case.
//!
//! `cargo bench --bench sync_loop` (optionally `-- <criterion filter>`; `-- million` for part 1
//! only). The 1M-document part also runs the loop with batches of 16, 256 and 1000 (sink
//! batches are lent from the source's pages of 1000; only a batch that spans two pages is
//! moved): what the loop costs per batch.

use std::fmt;
use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::reexports::chrono::{DateTime, Utc};
use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::reexports::futures::{StreamExt, TryStreamExt};
use connector_core::sink::DiscardSink;
use connector_core::state::{
    Commit, DocumentState, Known, MemoryStateStore, RunRecord, StateStore, SyncState,
};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{Batch, Connector, Document, LoadConnector, Result, Roles, SyncContext};
use criterion::{BenchmarkId, Criterion, Throughput};

const SOURCE: &str = "bench";
const PAGE: u64 = 1_000;
const BIG: u64 = 1_000_000;
const SMALL: u64 = 10_000;
/// Timed repetitions of each side at 1M documents; the best of them is reported.
const ROUNDS: usize = 15;

/// Generates `docs` small text documents in pages of `PAGE`, on the fly, so a million of them
/// never sit in memory at once (as a real connector's listing would not).
#[derive(Debug, Clone, Copy)]
struct GeneratedSource {
    docs: u64,
}

impl fmt::Display for GeneratedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}: {} generated documents", self.docs)
    }
}

#[connector_core::reexports::async_trait]
impl Connector for GeneratedSource {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for GeneratedSource {
    fn load(&self, _ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let docs = self.docs;
        stream::iter((0..docs).step_by(PAGE as usize))
            .map(move |first| Ok(page(first, (first + PAGE).min(docs))))
            .boxed()
    }
}

fn page(first: u64, end: u64) -> Batch {
    let documents = (first..end)
        .map(|i| {
            Document::text(
                format!("bench:{i}"),
                SOURCE,
                format!("Document {i}"),
                "a small body of text",
            )
        })
        .collect();
    Batch::new(documents)
}

/// A store that remembers nothing: the loop's own cost without the state store's, for telling the
/// two apart.
#[derive(Debug)]
struct ForgetfulStore;

#[connector_core::reexports::async_trait]
impl StateStore for ForgetfulStore {
    async fn load(&self) -> Result<SyncState> {
        Ok(SyncState::default())
    }

    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
        Ok(vec![None; ids.len()])
    }

    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        Ok(vec![Known::New; documents.len()])
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn commit(&self, _commit: Commit<'_>) -> Result<()> {
        Ok(())
    }

    async fn remove_documents(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }

    async fn finish_run(&self, _run: RunRecord, _end: Option<DateTime<Utc>>) -> Result<()> {
        Ok(())
    }

    async fn runs(&self, _limit: usize) -> Result<Vec<RunRecord>> {
        Ok(Vec::new())
    }
}

/// Drains the source stream without the loop: the baseline.
async fn drain(source: GeneratedSource) -> u64 {
    let stream = source.load(SyncContext::new());
    stream
        .try_fold(0u64, |n, batch| async move {
            Ok(n + black_box(batch).documents.len() as u64)
        })
        .await
        .unwrap_or(0)
}

/// A full sync through the batch loop into a discarding sink and `store`.
async fn sync(source: GeneratedSource, batch_docs: usize, store: impl StateStore + 'static) -> u64 {
    let report = Syncer::new(Arc::new(source))
        .sink(DiscardSink)
        .state(store)
        .options(SyncOptions::default().batch_docs(batch_docs))
        .run(SyncMode::Full)
        .await;
    match report {
        Ok(r) => r.delivered,
        Err(e) => {
            eprintln!("sync failed: {e}");
            0
        }
    }
}

/// Times `rounds` of `baseline` and `looped` taken in turns (so that the allocator's state and
/// the machine's moods fall on both alike) and returns the best time of each.
fn best_of_interleaved<A: Future<Output = u64>, B: Future<Output = u64>>(
    rt: &tokio::runtime::Runtime,
    baseline: impl Fn() -> A,
    looped: impl Fn() -> B,
) -> ((Duration, u64), (Duration, u64)) {
    let (mut base, mut run) = ((Duration::MAX, 0), (Duration::MAX, 0));
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let docs = rt.block_on(baseline());
        base = (base.0.min(start.elapsed()), docs);
        let start = Instant::now();
        let docs = rt.block_on(looped());
        run = (run.0.min(start.elapsed()), docs);
    }
    (base, run)
}

fn rate(docs: u64, d: Duration) -> f64 {
    docs as f64 / d.as_secs_f64()
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The 1M-document cases: label, sink batch size, whether the state store is the no-op one.
const CASES: [(&str, usize, bool); 6] = [
    ("MemoryStateStore, batches of 64  ", 64, false),
    ("MemoryStateStore, batches of 1000", 1000, false),
    ("no-op store,      batches of 64  ", 64, true),
    ("no-op store,      batches of 1000", 1000, true),
    ("no-op store,      batches of 256 ", 256, true),
    ("no-op store,      batches of 16  ", 16, true),
];

fn million() {
    println!(
        "sync_loop: {BIG} documents in pages of {PAGE}; each case in a process of its own, against \
         draining the same stream (the baseline) in turns, best of {ROUNDS} each"
    );
    let exe = std::env::current_exe().ok();
    for (i, (label, ..)) in CASES.iter().enumerate() {
        // `SYNC_LOOP_ONLY=<part of a label>` runs only the matching cases (for profiling).
        if std::env::var("SYNC_LOOP_ONLY").is_ok_and(|o| !label.contains(&o)) {
            continue;
        }
        // A process per case: what one case leaves in the allocator (a million-entry map freed,
        // a fragmented heap) must not weigh on the next one's timings.
        let output = exe
            .as_ref()
            .map(|exe| Command::new(exe).args(["--case", &i.to_string()]).output());
        match output {
            Some(Ok(out)) if out.status.success() => {
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
            _ => println!("  Syncer, {label}: the measuring process failed"),
        }
    }
}

/// One case of [`CASES`], in this process.
fn run_case(rt: &tokio::runtime::Runtime, case: usize) {
    let Some(&(label, batch_docs, forgetful)) = CASES.get(case) else {
        eprintln!("no case {case}");
        std::process::exit(2);
    };
    let source = GeneratedSource { docs: BIG };
    let ((base, base_docs), (looped, docs)) = if forgetful {
        best_of_interleaved(
            rt,
            || drain(source),
            || sync(source, batch_docs, ForgetfulStore),
        )
    } else {
        best_of_interleaved(
            rt,
            || drain(source),
            || sync(source, batch_docs, MemoryStateStore::new()),
        )
    };
    let ratio = looped.as_secs_f64() / base.as_secs_f64();
    println!(
        "  Syncer, {label} {:>8.3} s  {:>12.0} docs/s  (drain {:>8.0} docs/s; {docs} delivered; {ratio:.2}x the baseline's time, loop overhead {:+.1}%; peak RSS {:.0} MiB)",
        looped.as_secs_f64(),
        rate(docs, looped),
        rate(base_docs, base),
        (ratio - 1.0) * 100.0,
        peak_rss_mib().unwrap_or(0.0),
    );
}

fn main() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let args: Vec<String> = std::env::args().collect();
    if let Some(case) = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        run_case(&rt, case);
        return;
    }
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    // Plain `cargo bench` runs the 1M-document timing and criterion; `-- million` only the
    // former (criterion then matches nothing), any other filter only criterion.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "million") {
        million();
    }

    let source = GeneratedSource { docs: SMALL };
    let mut group = criterion.benchmark_group("sync_loop");
    group.throughput(Throughput::Elements(SMALL));
    group.bench_function(BenchmarkId::new("drain", SMALL), |b| {
        b.to_async(&rt).iter(|| drain(source))
    });
    group.bench_function(BenchmarkId::new("syncer_batch_64", SMALL), |b| {
        b.to_async(&rt)
            .iter(|| sync(source, 64, MemoryStateStore::new()))
    });
    group.finish();
    criterion.final_summary();
}
