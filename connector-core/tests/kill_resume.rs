//! The crash promise, in process: whatever sequence of interruptions a sync meets (a sink that
//! fails at a chosen batch, a timeout in the middle of a write, the source changing between
//! runs), every document ends up delivered, and each interruption costs at most one sink batch
//! of documents delivered twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use connector_core::sink::Sink;
use connector_core::state::FileStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::testkit::MemoryConnector;
use connector_core::{Document, Error, ErrorKind, Result};
use proptest::prelude::*;

/// One interruption: the sink fails its `at`-th write of the run (a crash before the write), or
/// the run times out while that write is in progress.
#[derive(Debug, Clone, Copy)]
enum Stop {
    FailAt(usize),
    TimeoutDuring(usize),
}

/// A sink shared across runs that counts every delivery of every id.
#[derive(Clone, Default)]
struct Counting {
    delivered: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    writes: Arc<AtomicUsize>,
    stop: Option<Stop>,
}

#[connector_core::reexports::async_trait]
impl Sink for Counting {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        match self.stop {
            Some(Stop::FailAt(at)) if at == n => {
                return Err(Error::new(ErrorKind::Sink, "injected crash"));
            }
            Some(Stop::TimeoutDuring(at)) if at == n => {
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            _ => {}
        }
        let mut delivered = self
            .delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in documents {
            *delivered.entry(d.id.clone()).or_default() += 1;
        }
        Ok(())
    }

    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
}

#[allow(clippy::unwrap_used)] // a test helper: a failure is the test failing
fn run_case(items: usize, page: usize, batch: usize, stops: &[Stop]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let source = MemoryConnector::numbered(
            items,
            page,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        );
        let delivered = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let mut interruptions = 0;
        for stop in stops.iter().copied().map(Some).chain([None]) {
            let sink = Counting {
                delivered: Arc::clone(&delivered),
                writes: Arc::new(AtomicUsize::new(0)),
                stop,
            };
            let mut options = SyncOptions::default().batch_docs(batch);
            if matches!(stop, Some(Stop::TimeoutDuring(_))) {
                options = options.timeout(Duration::from_millis(20));
            }
            // Every run reopens the state file, as a restarted process does.
            let store = FileStateStore::open(&path).await.unwrap();
            let outcome = Syncer::new(Arc::new(source.clone()))
                .sink(sink)
                .state(store)
                .options(options)
                .run(SyncMode::Auto)
                .await;
            match outcome {
                Ok(_) => {
                    if stop.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::Sink | ErrorKind::Timeout),
                        "{e}"
                    );
                    interruptions += 1;
                }
            }
        }
        let delivered = delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let all: BTreeSet<String> = (0..items).map(|i| format!("doc-{i:05}")).collect();
        let held: BTreeSet<String> = delivered.keys().cloned().collect();
        assert_eq!(held, all, "documents lost");
        let twice: usize = delivered.values().map(|n| n - 1).sum();
        assert!(
            twice <= interruptions * batch,
            "{twice} duplicates after {interruptions} interruptions with batches of {batch}"
        );
    });
}

fn stop() -> impl Strategy<Value = Stop> {
    prop_oneof![
        (0usize..12).prop_map(Stop::FailAt),
        (0usize..12).prop_map(Stop::TimeoutDuring),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_sequence_of_interruptions_loses_a_document_or_repeats_more_than_a_batch_each(
        items in 0usize..40,
        page in 1usize..9,
        batch in 1usize..6,
        stops in proptest::collection::vec(stop(), 0..5),
    ) {
        run_case(items, page, batch, &stops);
    }
}

#[test]
fn a_timeout_in_the_middle_of_a_write_then_a_crash() {
    run_case(
        30,
        7,
        4,
        &[Stop::TimeoutDuring(2), Stop::FailAt(1), Stop::FailAt(0)],
    );
}
