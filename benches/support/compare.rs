//! The timing loop the API sources' loopback benches share (box, github, gitlab, bitbucket):
//! a raw reqwest fetch of the same requests, the connector's `load()` drained, and a full
//! `Syncer` run, each the best of `rounds`, printed with rates, requests per item and the
//! ratio to the raw fetch's time, then the process's peak RSS.
//!
//! `COMPARE_ONLY=load` or `COMPARE_ONLY=full` runs only that side (and the raw fetch, which
//! the ratios need): for counting one side's instructions or allocations on its own
//! (`perf stat -e instructions:u`), where the whole process would mix the two.
//!
//! `COMPARE_THREADS=1` prints, after each side of each round, its wall time and each thread's
//! time on a CPU and waiting for one (`/proc/self/task/*/schedstat`): whether a side's wall
//! time is one thread's work (the main thread busy all along), waits between threads, or a
//! machine short of cores (threads runnable but not running).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use connectors::core::sink::DiscardSink;
use connectors::core::state::MemoryStateStore;
use connectors::core::sync::{SyncMode, Syncer};
use connectors::core::{Connector, LoadConnector, SyncContext};
use futures::StreamExt;

/// What is compared: `n` items named `unit` ("file", "issue"), the connector's `name` in the
/// table, and the column width of the names.
pub(crate) struct Compare<'a> {
    pub(crate) rounds: usize,
    pub(crate) n: usize,
    pub(crate) unit: &'a str,
    pub(crate) name: &'a str,
    pub(crate) width: usize,
}

impl Compare<'_> {
    /// Runs the three sides `rounds` times and prints the table. `raw` returns the items it
    /// got and the requests it sent; `make` builds a fresh connector.
    pub(crate) async fn run<C, R, F>(&self, raw: R, make: impl Fn() -> C)
    where
        C: Connector + LoadConnector + 'static,
        R: Fn() -> F,
        F: Future<Output = (usize, u64)>,
    {
        let (mut raw_s, mut conn, mut sync) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut raw_req, mut conn_req, mut sync_req) = (0, 0, 0);
        let only = std::env::var("COMPARE_ONLY").ok();
        let (do_load, do_full) = match only.as_deref() {
            Some("load") => (true, false),
            Some("full") => (false, true),
            _ => (true, true),
        };
        let threads = std::env::var("COMPARE_THREADS").is_ok_and(|v| v == "1");
        for _ in 0..self.rounds {
            let before = threads.then(thread_times);
            let started = Instant::now();
            let (got, requests) = raw().await;
            assert_eq!(got, self.n);
            raw_s = raw_s.min(started.elapsed().as_secs_f64());
            raw_req = requests;
            report_threads("raw", started, before);

            if do_load {
                let connector = make();
                let ctx = SyncContext::new();
                let before = threads.then(thread_times);
                let started = Instant::now();
                let mut docs = 0usize;
                let mut stream = connector.load(ctx.clone());
                while let Some(page) = stream.next().await {
                    docs += page.unwrap().documents.len();
                }
                assert_eq!(docs, self.n);
                conn = conn.min(started.elapsed().as_secs_f64());
                conn_req = ctx.stats().requests();
                report_threads("load", started, before);
            }
            if !do_full {
                continue;
            }

            // Built before the clock starts, as for `load` above: building a connector's
            // client loads the platform's root certificates (milliseconds), no part of a sync.
            let connector = Arc::new(make());
            let before = threads.then(thread_times);
            let started = Instant::now();
            let report = Syncer::new(connector)
                .sink(DiscardSink)
                .state(MemoryStateStore::new())
                .run(SyncMode::Full)
                .await
                .unwrap();
            assert_eq!(report.delivered as usize, self.n);
            sync = sync.min(started.elapsed().as_secs_f64());
            sync_req = report.requests;
            report_threads("full", started, before);
        }
        self.line("raw reqwest (baseline)", raw_s, raw_req, None);
        // A side `COMPARE_ONLY` left out has no time to print.
        if do_load {
            self.line(&format!("{}::load", self.name), conn, conn_req, Some(raw_s));
        }
        if do_full {
            self.line("Syncer full run", sync, sync_req, Some(raw_s));
        }
        println!("peak RSS {} KiB", peak_rss_kib().unwrap_or(0));
    }

    fn line(&self, name: &str, secs: f64, requests: u64, baseline: Option<f64>) {
        let (n, unit, width) = (self.n, self.unit, self.width);
        let rate = n as f64 / secs;
        let ratio = baseline.map_or_else(String::new, |b| {
            format!("  ({:.2}x the baseline's time)", secs / b)
        });
        println!(
            "{name:<width$} {secs:>7.3} s  {rate:>9.0} {unit}s/s  {:.3} requests/{unit}{ratio}",
            requests as f64 / n as f64
        );
    }
}

/// Each thread's name, time on a CPU and time runnable but waiting for one (ns), by id.
fn thread_times() -> std::collections::BTreeMap<String, (String, u64, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        let mut f = stat
            .split_whitespace()
            .map(|v| v.parse::<u64>().unwrap_or(0));
        let (run, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
        out.insert(
            task.file_name().to_string_lossy().into_owned(),
            (name.trim().to_owned(), run, wait),
        );
    }
    out
}

/// With `COMPARE_THREADS=1`: the side's wall time and, per thread that ran, its CPU and
/// run-queue wait over it (ms).
fn report_threads(
    side: &str,
    started: Instant,
    before: Option<std::collections::BTreeMap<String, (String, u64, u64)>>,
) {
    let Some(before) = before else { return };
    let wall = started.elapsed().as_secs_f64() * 1e3;
    let mut line = format!("  {side:<4} wall {wall:6.1} ms:");
    let (mut cpu, mut queued) = (0.0, 0.0);
    for (tid, (name, run, wait)) in thread_times() {
        let (r0, w0) = before.get(&tid).map_or((0, 0), |(_, r, w)| (*r, *w));
        let (r, w) = ((run - r0) as f64 / 1e6, (wait - w0) as f64 / 1e6);
        if r < 0.05 {
            continue;
        }
        cpu += r;
        queued += w;
        line.push_str(&format!(" {name}/{tid} cpu {r:.1} wait {w:.1};"));
    }
    println!(
        "{line} total cpu {cpu:.1} ms ({:.2} cores), runnable-not-running {queued:.1} ms",
        cpu / wall
    );
}

/// The process's peak resident memory (`VmHWM`), in KiB.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
