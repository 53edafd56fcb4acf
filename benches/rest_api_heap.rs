//! Peak heap growth of the `rest_api` connector while it reads 5,000 and 50,000 items from a
//! loopback server (`harness = false`, not run in CI): it should stay flat, as pages are
//! streamed, never collected. The raw `reqwest` loop over the same pages is measured the same
//! way, for what the server and the HTTP stack cost alone.
//!
//! A counting allocator wraps every allocation of this process, which is why these figures
//! live apart from the timings of the `rest_api` bench. `cargo bench --bench rest_api_heap`.

#[path = "support/rest_api.rs"]
mod support;

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

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        // The state store of fingerprints grows with the item count; the loop itself must not.
        for n in [5_000usize, 50_000] {
            let server = start_server(n).await;
            let c = connector(&server.uri());
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            assert_eq!(raw_loop(&server.uri()).await, n);
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
                "peak heap growth, {n:>6} items ({PAGE} per page): raw loop {:>6.2} MiB, load stream {:>6.2} MiB, full sync {:>6.2} MiB (incl. the in-memory state store)",
                mib(raw_peak),
                mib(load_peak),
                mib(sync_peak)
            );
        }
    });
}
