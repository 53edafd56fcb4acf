//! Loopback end-to-end benchmark of the `rest_api` connector (`harness = false`, not run in CI).
//!
//! A wiremock server holds 50,000 items served 100 per page behind an opaque cursor. Read by
//!
//! 1. the baseline: a raw `reqwest` loop fetching the same pages, each body parsed as JSON;
//! 2. `RestApiConnector::load` (items → documents, through the shared HTTP client);
//! 3. a full `Syncer` run into a discarding sink (re-batching, fingerprints, state).
//!
//! The three take turns, `ROUNDS` (10) times, and the best time of each is compared, so that a slow
//! moment of the machine does not land on one side only. The system allocator is used as is;
//! heap growth is measured by the `rest_api_heap` bench, whose counting allocator would tax
//! every allocation here. Run with `cargo bench --bench rest_api` (`REST_BENCH_ITEMS=5000` for a
//! shorter run).

#[path = "support/loopback.rs"]
mod loopback;

#[path = "support/rest_api.rs"]
mod support;

use std::time::{Duration, Instant};

use connectors::core::SyncContext;
use connectors::core::sink::DiscardSink;
use connectors::core::state::MemoryStateStore;
use connectors::core::sync::{SyncMode, Syncer};
use futures::StreamExt;
use support::{PAGE, connector, raw_loop, start_server};

const ROUNDS: usize = 10;

/// User + system CPU of this process (client and server), in clock ticks of 10 ms.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: utime is the 14th field overall, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    loopback::block_on(async {
        let items = std::env::var("REST_BENCH_ITEMS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50_000usize);
        let server = loopback::Server::new(start_server(items).await);
        let c = connector(&server.uri());
        println!(
            "rest_api loopback: {items} items, {} cursor pages of {PAGE}, best of {ROUNDS}",
            items.div_ceil(PAGE)
        );
        let (mut raw, mut load, mut sync) = (Duration::MAX, Duration::MAX, Duration::MAX);
        let mut cpu = [0u64; 3];
        let mut requests = 0;
        // `REST_BENCH_ONLY=load` (or `sync`) times that side alone, for a profiler.
        let only = std::env::var("REST_BENCH_ONLY").ok();
        let run = |side: &str| only.as_deref().is_none_or(|o| o == side);
        for _ in 0..ROUNDS {
            // 1. Baseline: raw reqwest over the same pages.
            let ticks = cpu_ticks();
            let started = Instant::now();
            if run("raw") {
                assert_eq!(raw_loop(&server.uri()).await, items);
            }
            raw = raw.min(started.elapsed());
            cpu[0] += cpu_ticks() - ticks;

            // 2. The connector's load stream alone.
            let ticks = cpu_ticks();
            let started = Instant::now();
            let mut docs = 0usize;
            let mut stream = c
                .as_load()
                .expect("rest_api loads")
                .load(SyncContext::new());
            while let Some(page) = stream.next().await.filter(|_| run("load")) {
                docs += page.unwrap().documents.len();
            }
            drop(stream);
            assert!(docs == items || !run("load"));
            load = load.min(started.elapsed());
            cpu[1] += cpu_ticks() - ticks;

            // 3. A full sync through the batch loop.
            let ticks = cpu_ticks();
            let started = Instant::now();
            let report = Syncer::new(c.clone())
                .sink(DiscardSink)
                .state(MemoryStateStore::new())
                .run(SyncMode::Full)
                .await
                .unwrap();
            sync = sync.min(started.elapsed());
            cpu[2] += cpu_ticks() - ticks;
            assert_eq!(report.new as usize, items);
            requests = report.requests;
        }
        let rate = |d: Duration| items as f64 / d.as_secs_f64();
        // Clock ticks of 10 ms summed over the rounds, as CPU µs per item (server included).
        let cpu_us = |ticks: u64| ticks as f64 * 10_000.0 / (ROUNDS * items) as f64;
        let ratio = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
        println!(
            "{:<30} {:>7.3} s  {:>10.0} items/s  (CPU {:.2} µs/item)",
            "raw reqwest loop",
            raw.as_secs_f64(),
            rate(raw),
            cpu_us(cpu[0])
        );
        println!(
            "{:<30} {:>7.3} s  {:>10.0} items/s  (CPU {:.2} µs/item; {:.2}x the baseline's time)",
            "RestApiConnector::load",
            load.as_secs_f64(),
            rate(load),
            cpu_us(cpu[1]),
            ratio(load)
        );
        println!(
            "{:<30} {:>7.3} s  {:>10.0} items/s  (CPU {:.2} µs/item; {:.2}x the baseline's time, {requests} requests)",
            "Syncer full run",
            sync.as_secs_f64(),
            rate(sync),
            cpu_us(cpu[2]),
            ratio(sync)
        );
    });
}
