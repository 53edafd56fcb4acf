//! Peak heap growth of the `rest_api` connector while it reads 5,000 and 50,000 items from a
//! loopback server (`harness = false`, not run in CI): it should stay flat, as pages are
//! streamed, never collected. The raw `reqwest` loop over the same pages is measured the same
//! way.
//!
//! The server runs in a child process (this binary started with `--serve <items>`), so that the
//! counting allocator sees the client alone; and it counts every allocation, which is why these
//! figures live apart from the timings of the `rest_api` bench.
//! `cargo bench --bench rest_api_heap`.

#[path = "support/rest_api.rs"]
mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use connectors::core::SyncContext;
use connectors::core::sink::DiscardSink;
use connectors::core::state::MemoryStateStore;
use connectors::core::sync::{SyncMode, Syncer};
use futures::StreamExt;
use peak_alloc::PeakAlloc;
use support::{PAGE, connector, raw_loop, start_server};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A server process holding `items` items, and its base URI. It stops when its stdin closes.
#[allow(clippy::expect_used)] // A benchmark.
fn spawn_server(items: usize) -> (Child, String) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", &items.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("a server process");
    let mut uri = String::new();
    BufReader::new(child.stdout.as_mut().expect("its stdout"))
        .read_line(&mut uri)
        .expect("its URI");
    (child, uri.trim().to_owned())
}

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let args: Vec<String> = std::env::args().collect();
    if let Some(items) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        // The server side: print the URI, serve until the parent closes stdin.
        rt.block_on(async {
            let server = start_server(items).await;
            println!("{}", server.uri());
            tokio::task::spawn_blocking(|| {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
            })
            .await
            .ok();
            drop(server);
        });
        return;
    }
    rt.block_on(async {
        // The state store of fingerprints grows with the item count; the loop itself must not.
        for n in [5_000usize, 50_000] {
            let (mut server, uri) = spawn_server(n);
            let c = connector(&uri);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(raw_loop(&uri).await, n);
            let raw_peak = ALLOC.peak_usage().saturating_sub(before);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let mut stream = c.as_load().expect("rest_api loads").load(SyncContext::new());
            let mut docs = 0usize;
            while let Some(page) = stream.next().await {
                docs += page.unwrap().documents.len();
            }
            drop(stream);
            let load_peak = ALLOC.peak_usage().saturating_sub(before);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let report = Syncer::new(c)
                .sink(DiscardSink)
                .state(MemoryStateStore::new())
                .run(SyncMode::Full)
                .await
                .unwrap();
            let sync_peak = ALLOC.peak_usage().saturating_sub(before);
            assert_eq!((docs, report.new as usize), (n, n));
            println!(
                "peak heap growth, {n:>6} items ({PAGE} per page), client only: raw loop {:>6.2} MiB, load stream {:>6.2} MiB, full sync {:>6.2} MiB (incl. the in-memory state store)",
                mib(raw_peak),
                mib(load_peak),
                mib(sync_peak)
            );
            drop(server.stdin.take());
            let _ = server.wait();
        }
    });
}
