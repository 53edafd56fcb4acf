//! The batch loop against the in-memory connector: batching, modes, failures, prune,
//! cancellation and timeouts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use connector_core::reexports::futures::stream::BoxStream;
use connector_core::sink::{ChannelSink, DirectorySink, MemorySink, NdjsonSink, SinkEvent};
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::testkit::{MemoryConnector, MemoryItem};
use connector_core::{
    Batch, Connector, ErrorKind, LoadConnector, PollConnector, Result, Roles, SyncContext,
    TimeWindow,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(minutes)
}

#[tokio::test]
async fn rebatches_by_items_independent_of_page_size() {
    let source = MemoryConnector::numbered(23, 5, t0());
    let sink = MemorySink::new();
    let report = Syncer::new(Arc::new(source))
        .sink(sink.clone())
        .options(SyncOptions::default().batch_docs(4))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let sizes: Vec<usize> = sink.deliveries().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 4, 4, 4, 4, 3]);
    assert_eq!((report.new, report.delivered, report.pages), (23, 23, 5));
}

/// Batches lent from inside a page and batches moved together from two pages come out in the
/// source's order, and the store records exactly the delivered documents.
#[tokio::test]
async fn batches_within_and_across_pages_keep_the_source_order() {
    let source = MemoryConnector::numbered(23, 10, t0());
    let mut expected = Vec::new();
    let mut pages = source.load(SyncContext::new());
    while let Some(page) = connector_core::reexports::futures::StreamExt::next(&mut pages).await {
        expected.extend(page.unwrap().documents);
    }
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    Syncer::new(Arc::new(source))
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(4))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let deliveries = sink.deliveries();
    let sizes: Vec<usize> = deliveries.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 4, 4, 4, 4, 3]);
    let ids: Vec<String> = expected.iter().map(|d| d.id.clone()).collect();
    assert_eq!(deliveries.concat(), ids);
    let stored = store
        .documents(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let stored: Vec<String> = stored
        .unwrap()
        .into_iter()
        .map(|s| s.map(|s| s.fingerprint).unwrap_or_default())
        .collect();
    let fingerprints: Vec<String> = expected.iter().map(|d| d.fingerprint.clone()).collect();
    assert_eq!(stored, fingerprints);
    assert_eq!(sink.len(), 23);
}

#[tokio::test]
async fn rebatches_by_bytes_and_sends_an_oversized_document_alone() {
    let mut items: Vec<MemoryItem> = (0..6)
        .map(|i| MemoryItem::new(format!("d{i}"), "x".repeat(100), at(i)))
        .collect();
    items[3].text = "y".repeat(1000);
    let sink = MemorySink::new();
    Syncer::new(Arc::new(MemoryConnector::new(items, 10)))
        .sink(sink.clone())
        .options(SyncOptions::default().batch_bytes(250))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let batches = sink.deliveries();
    assert_eq!(
        batches,
        vec![vec!["d0", "d1"], vec!["d2"], vec!["d3"], vec!["d4", "d5"]]
    );
}

#[tokio::test]
async fn incremental_delivers_only_what_changed_and_advances_the_window() {
    let source = MemoryConnector::numbered(10, 3, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let sync = |now| {
        Syncer::new(Arc::new(source.clone()))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    let first = sync(at(100)).run(SyncMode::Auto).await.unwrap();
    assert_eq!((first.mode, first.new), (SyncMode::Full, 10));

    source.upsert(MemoryItem::new("doc-00004", "edited", at(150)));
    source.upsert(MemoryItem::new("doc-00099", "new one", at(160)));
    let before = sink.deliveries().len();
    let second = sync(at(200)).run(SyncMode::Auto).await.unwrap();
    assert_eq!(second.mode, SyncMode::Incremental);
    assert_eq!(
        second.window,
        Some(TimeWindow {
            start: at(100),
            end: at(200)
        })
    );
    assert_eq!((second.new, second.updated, second.unchanged), (1, 1, 0));
    let delivered: Vec<String> = sink.deliveries()[before..].concat();
    assert_eq!(delivered, vec!["doc-00004", "doc-00099"]);
    assert_eq!(
        sink.get("doc-00004").unwrap().content.as_text(),
        Some("edited")
    );

    let third = sync(at(300)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(third.window.unwrap().start, at(200));
    assert_eq!(third.new + third.updated, 0);
}

#[tokio::test]
async fn unchanged_documents_are_not_downloaded_again() {
    let source = MemoryConnector::numbered(10, 3, t0());
    let store = MemoryStateStore::new();
    Syncer::new(Arc::new(source.clone()))
        .state(store.clone())
        .at(at(100))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(source.bodies_read(), 10);
    // An incremental run whose window covers everything: the fingerprint lookup skips all bodies.
    let store_again = store.clone();
    let report = Syncer::new(Arc::new(source.clone()))
        .state(store_again)
        .options(SyncOptions::default().overlap(Duration::from_secs(100 * 60)))
        .at(at(101))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.unchanged, 10);
    assert_eq!(source.bodies_read(), 10, "no body may be read again");
}

#[tokio::test]
async fn failures_are_stored_and_retried_first() {
    let source = MemoryConnector::numbered(8, 3, t0());
    source.upsert(MemoryItem::new("doc-00006", "broken", at(6)).malformed());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let first = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .at(at(100))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(first.failed, 1);
    assert_eq!(first.failures[0].id.as_deref(), Some("doc-00006"));
    let stored = store.load().await.unwrap();
    assert_eq!(stored.failed.len(), 1);
    assert_eq!(stored.failed[0].attempts, 1);

    // Still broken: the failure stays, with one more attempt.
    Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .at(at(110))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap().failed[0].attempts, 2);

    // Fixed at the source without a newer timestamp: the retry still picks it up, first.
    source.upsert(MemoryItem::new("doc-00006", "fixed", at(6)));
    let before = sink.deliveries().len();
    let third = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .at(at(120))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(third.failed, 0);
    assert_eq!(sink.deliveries()[before], vec!["doc-00006"]);
    assert!(store.load().await.unwrap().failed.is_empty());
}

/// The memory connector with only load + poll: no refetch, no checkpoint.
#[derive(Debug)]
struct PollOnly(MemoryConnector);

impl std::fmt::Display for PollOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "poll-only {}", self.0)
    }
}

#[connector_core::reexports::async_trait]
impl Connector for PollOnly {
    fn source(&self) -> &'static str {
        "memory"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).poll().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for PollOnly {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.0.load(ctx)
    }
}

impl PollConnector for PollOnly {
    fn poll(&self, window: TimeWindow, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.0.poll(window, ctx)
    }
}

#[tokio::test]
async fn the_window_never_moves_past_a_recorded_failure() {
    let source = MemoryConnector::numbered(5, 2, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |now| {
        Syncer::new(Arc::new(PollOnly(source.clone())))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    run(at(100)).run(SyncMode::Full).await.unwrap();

    // Modified in the second window, but it fails there.
    source.upsert(MemoryItem::new("doc-00002", "edit", at(150)).malformed());
    let second = run(at(200)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(second.failed, 1);

    // Fixed without a newer timestamp: only a window reaching back to the failed run finds it.
    source.upsert(MemoryItem::new("doc-00002", "edit fixed", at(150)));
    let third = run(at(300)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(
        third.window.unwrap().start,
        at(100),
        "the window must start where the failed run's did"
    );
    assert_eq!(
        sink.get("doc-00002").unwrap().content.as_text(),
        Some("edit fixed")
    );
    assert!(store.load().await.unwrap().failed.is_empty());

    let fourth = run(at(400)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(
        fourth.window.unwrap().start,
        at(300),
        "once resolved, the window moves on"
    );
}

#[tokio::test]
async fn an_item_the_connector_cannot_read_does_not_hold_the_window_back() {
    let source = MemoryConnector::numbered(3, 2, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |now| {
        Syncer::new(Arc::new(PollOnly(source.clone())))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    run(at(100)).run(SyncMode::Full).await.unwrap();

    // Changed into something the connector has no reader for (an encrypted library).
    source.upsert(MemoryItem::new("doc-00001", "sealed", at(150)).unsupported());
    let second = run(at(200)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(second.failed, 1);
    assert_eq!(
        store.load().await.unwrap().failed.len(),
        1,
        "it stays recorded"
    );

    // No later window could repair it: the next one starts where the last one ended.
    let third = run(at(300)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(
        third.window.unwrap().start,
        at(200),
        "an unreadable item must not pin the window to its run"
    );
}

#[tokio::test]
async fn prune_deletes_what_the_source_dropped_within_the_guard() {
    let source = MemoryConnector::numbered(10, 4, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let syncer = || {
        Syncer::new(Arc::new(source.clone()))
            .sink(sink.clone())
            .state(store.clone())
    };
    syncer().run(SyncMode::Full).await.unwrap();

    source.remove("doc-00003");
    let report = syncer()
        .options(SyncOptions::default().prune(true))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.deleted, 1);
    assert_eq!(sink.deleted(), vec!["doc-00003"]);
    assert_eq!(store.document_count(), 9);

    // A listing that fails halfway deletes nothing.
    source.set_fail_listing(true);
    let err = syncer().prune().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(store.document_count(), 9);
    source.set_fail_listing(false);

    // Deleting 6 of 9 is refused unless forced.
    for i in [0, 1, 2, 4, 5, 6] {
        source.remove(&format!("doc-{i:05}"));
    }
    let err = syncer().prune().await.unwrap_err();
    assert!(err.to_string().contains("prune refused"), "{err}");
    assert_eq!(store.document_count(), 9);
    let forced = syncer()
        .options(SyncOptions::default().force_prune(true))
        .prune()
        .await
        .unwrap();
    assert_eq!(forced.deleted, 6);
    assert_eq!(sink.len(), 3);
}

#[tokio::test]
async fn the_timeout_fires_and_the_next_run_resumes() {
    let source = MemoryConnector::numbered(9, 3, t0());
    source.set_stall(true);
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let err = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .options(
            SyncOptions::default()
                .batch_docs(3)
                .timeout(Duration::from_millis(200)),
        )
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        sink.len(),
        3,
        "the first page was acknowledged before the stall"
    );
    assert!(store.load().await.unwrap().checkpoint.is_some());

    source.set_stall(false);
    let report = Syncer::new(Arc::new(source))
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(report.mode, SyncMode::Resume);
    assert_eq!(report.new, 6);
    assert_eq!(sink.len(), 9);
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timeout"))
    );
}

#[tokio::test]
async fn cancellation_fires_while_the_source_hangs() {
    let source = MemoryConnector::numbered(9, 3, t0());
    source.set_stall(true);
    let token = connector_core::Cancellation::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let err = Syncer::new(Arc::new(source))
        .cancellation(token)
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
}

#[tokio::test]
async fn progress_is_reported_and_modes_are_checked() {
    let source = MemoryConnector::numbered(6, 2, t0());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    Syncer::new(Arc::new(source.clone()))
        .on_progress(move |p| log.lock().unwrap().push(p.pages))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().last(), Some(&3));

    let err = Syncer::new(Arc::new(source.clone()))
        .run(SyncMode::Resume)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checkpoint);
    let load_only = Syncer::new(Arc::new(PollOnly(source)))
        .run(SyncMode::Resume)
        .await
        .unwrap_err();
    assert_eq!(load_only.kind(), ErrorKind::Checkpoint);
}

#[tokio::test]
async fn ndjson_and_directory_sinks_write_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemoryConnector::numbered(4, 3, t0());
    let ndjson = dir.path().join("out/docs.ndjson");
    Syncer::new(Arc::new(source.clone()))
        .sink(NdjsonSink::create(&ndjson).await.unwrap())
        .options(SyncOptions::default().prune(true).force_prune(true))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&ndjson).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], "doc-00000");
    assert_eq!(lines[0]["content"]["text"], "body of document 0");

    let root = dir.path().join("tree");
    let store = MemoryStateStore::new();
    let sync = || async {
        Syncer::new(Arc::new(source.clone()))
            .sink(DirectorySink::open(&root).await.unwrap())
            .state(store.clone())
    };
    sync().await.run(SyncMode::Full).await.unwrap();
    assert_eq!(std::fs::read_dir(root.join("files")).unwrap().count(), 4);
    source.remove("doc-00001");
    sync()
        .await
        .options(SyncOptions::default().prune(true))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(root.join("files")).unwrap().count(), 3);
    let manifest = std::fs::read_to_string(root.join("manifest.ndjson")).unwrap();
    assert!(
        manifest
            .lines()
            .last()
            .unwrap()
            .contains(r#""op":"delete","id":"doc-00001""#),
        "{manifest}"
    );
}

#[tokio::test]
async fn channel_sink_waits_for_the_host_to_acknowledge() {
    let source = MemoryConnector::numbered(5, 2, t0());
    let (sink, mut events) = ChannelSink::new(1);
    let host = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(event) = events.recv().await {
            if let SinkEvent::Write(documents, ack) = event {
                got.extend(documents.into_iter().map(|d| d.id));
                if got.len() >= 4 {
                    ack.fail("disk full");
                } else {
                    ack.ok();
                }
            }
        }
        got
    });
    let err = Syncer::new(Arc::new(source))
        .sink(sink)
        .options(SyncOptions::default().batch_docs(2))
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(host.await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_failing_state_store_stops_the_sync_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the state file should be: every write fails.
    let path = dir.path().join("state.json");
    std::fs::create_dir(&path).unwrap();
    let err = connector_core::state::FileStateStore::open(&path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::State);
    assert!(err.to_string().contains("state.json"), "{err}");
}

#[tokio::test]
async fn a_retried_failure_is_counted_once_per_run() {
    let source = MemoryConnector::numbered(6, 2, t0());
    source.upsert(MemoryItem::new("doc-00001", "broken", at(1)).malformed());
    source.upsert(MemoryItem::new("doc-00004", "broken", at(4)).malformed());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |now| {
        Syncer::new(Arc::new(source.clone()))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    assert_eq!(run(at(100)).run(SyncMode::Full).await.unwrap().failed, 2);
    // The window reaches back over both items: they come from the retry and from the window.
    let again = run(at(200))
        .options(SyncOptions::default().overlap(Duration::from_secs(200 * 60)))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(again.failed, 2, "{:?}", again.failures);
    assert_eq!(again.failures.len(), 2);
    source.upsert(MemoryItem::new("doc-00001", "fixed", at(150)));
    let fixed = run(at(300))
        .options(SyncOptions::default().overlap(Duration::from_secs(300 * 60)))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(
        (fixed.failed, fixed.updated + fixed.new),
        (1, 1),
        "{fixed:?}"
    );
}

#[test]
fn by_default_a_connector_has_no_credentials_that_rotate() {
    let source = MemoryConnector::numbered(1, 1, t0());
    let store = Arc::new(connector_core::MemoryCredentials::new());
    assert!(!source.set_credential_store(store));
}

/// A source's own lag allowance widens the window when the host asks for less overlap.
#[tokio::test]
async fn a_sources_minimum_overlap_starts_the_window_earlier() {
    let source = MemoryConnector::numbered(3, 3, t0());
    source.set_min_overlap(Duration::from_secs(10 * 60));
    let store = MemoryStateStore::new();
    let sync = |now, overlap| {
        Syncer::new(Arc::new(source.clone()))
            .state(store.clone())
            .options(SyncOptions::default().overlap(overlap))
            .at(now)
    };
    sync(at(100), Duration::ZERO)
        .run(SyncMode::Full)
        .await
        .unwrap();
    let second = sync(at(200), Duration::ZERO)
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(second.window.unwrap().start, at(90));
    // The host's overlap wins when it is the longer one.
    let third = sync(at(300), Duration::from_secs(30 * 60))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(third.window.unwrap().start, at(170));
}

/// A reconciliation lists everything and delivers only what changed, including a change whose
/// modification time falls before every window (a permission change that bumps no date).
#[tokio::test]
async fn a_reconciliation_delivers_changes_no_window_selects_and_nothing_else() {
    let source = MemoryConnector::numbered(10, 3, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let sync = |now| {
        Syncer::new(Arc::new(source.clone()))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    sync(at(100)).run(SyncMode::Full).await.unwrap();
    assert_eq!(source.bodies_read(), 10);
    // Changed, but dated as before: no incremental window will select it.
    source.upsert(MemoryItem::new("doc-00002", "access narrowed", at(2)));
    let incremental = sync(at(200)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(incremental.new + incremental.updated, 0);

    let before = sink.deliveries().len();
    let reconcile = sync(at(300)).run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(reconcile.mode, SyncMode::Reconcile);
    assert_eq!(reconcile.window, None);
    assert_eq!(
        (reconcile.new, reconcile.updated, reconcile.unchanged),
        (0, 1, 9)
    );
    assert_eq!(sink.deliveries()[before..].concat(), vec!["doc-00002"]);
    assert_eq!(source.bodies_read(), 11, "only the changed body is read");
    // The next incremental run starts where the reconciliation ended.
    let next = sync(at(400)).run(SyncMode::Auto).await.unwrap();
    assert_eq!(next.window.unwrap().start, at(300));
}

/// An interrupted reconciliation resumes as one: unchanged documents stay skipped.
#[tokio::test]
async fn a_resumed_reconciliation_still_skips_unchanged_documents() {
    let source = MemoryConnector::numbered(9, 3, t0());
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .at(at(100))
        .run(SyncMode::Full)
        .await
        .unwrap();
    source.upsert(MemoryItem::new(
        "doc-00007",
        "changed late in the listing",
        at(7),
    ));
    // The listing stalls after its first page; the run times out with a checkpoint stored.
    source.set_stall(true);
    let err = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .options(
            SyncOptions::default()
                .batch_docs(3)
                .timeout(Duration::from_millis(200)),
        )
        .at(at(200))
        .run(SyncMode::Reconcile)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(store.load().await.unwrap().checkpoint.is_some());
    source.set_stall(false);
    let before = sink.deliveries().len();
    let resumed = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .at(at(210))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(resumed.mode, SyncMode::Resume);
    assert_eq!((resumed.updated, resumed.unchanged), (1, 5));
    assert_eq!(sink.deliveries()[before..].concat(), vec!["doc-00007"]);
}

/// A sink that records each document as it goes, can fail its `fail_at`-th write (from 0) and
/// can take a while in the middle of every write.
#[derive(Clone, Default)]
struct SlowSink {
    held: Arc<std::sync::Mutex<Vec<String>>>,
    writes: Arc<std::sync::atomic::AtomicUsize>,
    fail_at: Option<usize>,
    pause: Duration,
}

#[connector_core::reexports::async_trait]
impl connector_core::sink::Sink for SlowSink {
    async fn write(&self, documents: &[connector_core::Document]) -> Result<()> {
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if Some(n) == self.fail_at {
            return Err(connector_core::Error::new(ErrorKind::Sink, "injected"));
        }
        let (first, rest) = documents.split_at(documents.len() / 2);
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(first.iter().map(|d| d.id.clone()));
        tokio::time::sleep(self.pause).await;
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(rest.iter().map(|d| d.id.clone()));
        Ok(())
    }

    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
}

impl SlowSink {
    fn held(&self) -> Vec<String> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A run stopped inside a page resumes inside it: the acknowledged part of the page is not
/// delivered again.
#[tokio::test]
async fn a_run_stopped_inside_a_page_resumes_inside_it() {
    let source = MemoryConnector::numbered(25, 10, t0());
    let store = MemoryStateStore::new();
    let first = SlowSink {
        fail_at: Some(2),
        ..SlowSink::default()
    };
    let err = Syncer::new(Arc::new(source.clone()))
        .sink(first.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(3))
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert_eq!(first.held().len(), 6, "two batches of the first page");
    let second = SlowSink::default();
    let resumed = Syncer::new(Arc::new(source.clone()))
        .sink(second.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(3))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(resumed.mode, SyncMode::Resume);
    let expected: Vec<String> = (6..25).map(|i| format!("doc-{i:05}")).collect();
    assert_eq!(second.held(), expected, "nothing twice, nothing lost");
}

/// When the interrupted page starts differently on resume, it is delivered whole again rather
/// than anything skipped.
#[tokio::test]
async fn a_page_that_changed_since_the_stop_is_delivered_whole() {
    let source = MemoryConnector::numbered(25, 10, t0());
    let store = MemoryStateStore::new();
    let first = SlowSink {
        fail_at: Some(2),
        ..SlowSink::default()
    };
    Syncer::new(Arc::new(source.clone()))
        .sink(first.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(3))
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    // A new item sorts first: skipping six by count would skip it.
    source.upsert(MemoryItem::new("doc-0000", "new, first", at(1)));
    let second = SlowSink::default();
    Syncer::new(Arc::new(source.clone()))
        .sink(second.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(3))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    let held = second.held();
    assert_eq!(held[0], "doc-0000");
    assert_eq!(held.len(), 26, "{held:?}");
}

/// A timeout that fires while the sink is writing lets that write finish and be committed, so
/// no batch is torn and the next run does not deliver it again.
#[tokio::test]
async fn a_timeout_during_a_sink_write_stops_after_the_write() {
    let source = MemoryConnector::numbered(20, 10, t0());
    let store = MemoryStateStore::new();
    let sink = SlowSink {
        pause: Duration::from_millis(400),
        ..SlowSink::default()
    };
    let err = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .state(store.clone())
        .options(
            SyncOptions::default()
                .batch_docs(4)
                .timeout(Duration::from_millis(100)),
        )
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let held = sink.held();
    assert_eq!(
        held.len(),
        4,
        "the batch in flight was written whole: {held:?}"
    );
    let next = SlowSink::default();
    Syncer::new(Arc::new(source.clone()))
        .sink(next.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(4))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    let again: Vec<String> = next.held();
    assert_eq!(again.len(), 16, "{again:?}");
    assert!(again.iter().all(|id| !held.contains(id)));
}

/// The memory connector whose stream fails after its first `.1` pages.
#[derive(Debug)]
struct BreaksAfter(MemoryConnector, usize);

impl std::fmt::Display for BreaksAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "breaking {}", self.0)
    }
}

#[connector_core::reexports::async_trait]
impl Connector for BreaksAfter {
    fn source(&self) -> &'static str {
        "memory"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for BreaksAfter {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        use connector_core::reexports::futures::{StreamExt, stream};
        let failure = stream::once(async {
            Err(connector_core::Error::new(
                ErrorKind::Unavailable,
                "the listing broke",
            ))
        });
        self.0.load(ctx).take(self.1).chain(failure).boxed()
    }
}

/// Pages that came whole before the source's error are delivered, not held back in a batch
/// that never filled: the next run need not fetch them again.
#[tokio::test]
async fn the_pages_before_a_source_error_are_delivered() {
    let sink = MemorySink::new();
    let err = Syncer::new(Arc::new(BreaksAfter(
        MemoryConnector::numbered(9, 3, t0()),
        2,
    )))
    .sink(sink.clone())
    .options(SyncOptions::default().batch_docs(100))
    .run(SyncMode::Full)
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(sink.len(), 6, "both whole pages reached the sink");
}

/// Documents that name a parent (the third field), from a connector that asks (or not) for
/// children by parent, every one produced in every run.
#[derive(Debug)]
struct Parented(MemoryConnector, bool, &'static str);

impl std::fmt::Display for Parented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parented {}", self.0)
    }
}

#[connector_core::reexports::async_trait]
impl Connector for Parented {
    fn source(&self) -> &'static str {
        "memory"
    }
    fn roles(&self) -> Roles<'_> {
        let roles = Roles::of(self).load();
        if self.1 { roles.children() } else { roles }.into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Parented {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        use connector_core::reexports::futures::StreamExt;
        let parent = self.2;
        // Every document is produced (the memory connector would report the unchanged ones
        // by id), so the sync compares them itself.
        self.0
            .load(ctx.with_fingerprints(Arc::new(connector_core::NoFingerprints)))
            .map(move |page| {
                page.map(|mut batch| {
                    for doc in &mut batch.documents {
                        doc.parent_id = Some(parent.to_owned());
                    }
                    batch
                })
            })
            .boxed()
    }
}

/// The store keeps documents' parents only for a connector that asks for children by parent:
/// for every other one they would cost an entry per document and serve nobody.
#[tokio::test]
async fn parents_are_kept_only_for_a_connector_that_asks_for_children() {
    for asks in [false, true] {
        let state = MemoryStateStore::new();
        let sink = MemorySink::new();
        Syncer::new(Arc::new(Parented(
            MemoryConnector::numbered(5, 2, t0()),
            asks,
            "message-1",
        )))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
        assert_eq!(sink.len(), 5);
        assert!(
            sink.documents()
                .iter()
                .all(|d| d.parent_id.as_deref() == Some("message-1")),
            "the sink gets every parent either way"
        );
        let children = state.children(&["message-1"]).await.unwrap();
        assert_eq!(children.len(), if asks { 5 } else { 0 }, "asks: {asks}");
    }
}

/// A document stored without its parent (before stores kept parents, or while its connector
/// did not ask for children) gets it recorded when it is listed again unchanged, without being
/// delivered again; and one whose parent changed under the same fingerprint is found under its
/// new parent only.
#[tokio::test]
async fn unchanged_documents_get_their_parent_recorded_without_delivery() {
    let state = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |asks: bool, parent: &'static str, mode: SyncMode| {
        let syncer = Syncer::new(Arc::new(Parented(
            MemoryConnector::numbered(5, 2, t0()),
            asks,
            parent,
        )))
        .sink(sink.clone())
        .state(state.clone());
        async move { syncer.run(mode).await }
    };
    run(false, "message-1", SyncMode::Full).await.unwrap();
    assert!(state.children(&["message-1"]).await.unwrap().is_empty());

    let report = run(true, "message-1", SyncMode::Reconcile).await.unwrap();
    assert_eq!((report.unchanged, report.delivered), (5, 0));
    assert_eq!(state.children(&["message-1"]).await.unwrap().len(), 5);

    let report = run(true, "message-2", SyncMode::Reconcile).await.unwrap();
    assert_eq!((report.unchanged, report.delivered), (5, 0));
    assert!(state.children(&["message-1"]).await.unwrap().is_empty());
    assert_eq!(state.children(&["message-2"]).await.unwrap().len(), 5);
    assert_eq!(sink.deliveries().iter().map(Vec::len).sum::<usize>(), 5);
}

/// An outlook-like source: each item has a version and a parent, and is reported unchanged by
/// its version and stored parent ([`KnownFingerprints::lookup_with_parents`]), else produced
/// (counted).
#[derive(Debug, Default)]
struct Mailbox {
    /// Id, version token and parent of each item.
    items: std::sync::Mutex<Vec<(String, String, Option<String>)>>,
    asks: std::sync::atomic::AtomicBool,
    produced: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mailbox")
    }
}

#[connector_core::reexports::async_trait]
impl Connector for Mailbox {
    fn source(&self) -> &'static str {
        "memory"
    }
    fn roles(&self) -> Roles<'_> {
        let roles = Roles::of(self).load();
        if self.asks.load(std::sync::atomic::Ordering::Relaxed) {
            roles.children().into()
        } else {
            roles.into()
        }
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Mailbox {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        use connector_core::Document;
        use connector_core::pages::{KnownFingerprints, Outcome};
        use connector_core::reexports::futures::{StreamExt, stream};
        let items = self.items.lock().map(|i| i.clone()).unwrap_or_default();
        let produced = Arc::clone(&self.produced);
        stream::once(async move {
            let ids: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
            let known = KnownFingerprints::lookup_with_parents(&ctx, &ids).await?;
            let mut batch = Batch::default();
            for (id, version, parent) in items {
                if known.has_version_under(&id, &version, parent.as_deref()) {
                    batch.push(Outcome::Unchanged(id));
                    continue;
                }
                produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut doc = Document::text(id.clone(), "memory", &id, format!("body of {id}"))
                    .with_version(&version);
                if let Some(parent) = parent {
                    doc = doc.with_parent_id(parent);
                }
                batch.documents.push(doc);
            }
            Ok(batch)
        })
        .boxed()
    }
}

/// Attachments reported unchanged by their version, stored before their connector's store
/// kept parents, are produced once more so that their parent is recorded (the connector's
/// lookup sees the stored parent is missing), not delivered again, and found by
/// `children()`; then they are reported unchanged again. An attachment moved to another
/// message under the same version is found under that message only.
#[tokio::test]
async fn children_reported_unchanged_by_version_get_their_parent_recorded() {
    let item = |id: &str, parent: Option<&str>| {
        (id.to_owned(), "v1".to_owned(), parent.map(str::to_owned))
    };
    let mailbox = Arc::new(Mailbox::default());
    if let Ok(mut items) = mailbox.items.lock() {
        *items = vec![
            item("m1", None),
            item("m1/a1", Some("m1")),
            item("m1/a2", Some("m1")),
            item("m2", None),
            item("m2/a1", Some("m2")),
        ];
    }
    let produced = || mailbox.produced.load(std::sync::atomic::Ordering::Relaxed);
    let state = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |mode: SyncMode| {
        let syncer = Syncer::new(Arc::clone(&mailbox) as Arc<dyn Connector>)
            .sink(sink.clone())
            .state(state.clone());
        async move { syncer.run(mode).await }
    };
    // Stored without parents, as by a binary from before they were kept.
    run(SyncMode::Full).await.unwrap();
    assert_eq!(produced(), 5);
    assert!(state.children(&["m1", "m2"]).await.unwrap().is_empty());

    mailbox
        .asks
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let report = run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(produced(), 8, "the three attachments were produced again");
    assert_eq!((report.unchanged, report.delivered), (5, 0));
    assert_eq!(state.children(&["m1"]).await.unwrap(), ["m1/a1", "m1/a2"]);
    assert_eq!(state.children(&["m2"]).await.unwrap(), ["m2/a1"]);

    let report = run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(
        produced(),
        8,
        "nothing is produced again once the parents are recorded"
    );
    assert_eq!((report.unchanged, report.delivered), (5, 0));

    if let Ok(mut items) = mailbox.items.lock() {
        items[4] = item("m2/a1", Some("m1"));
    }
    let report = run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(produced(), 9);
    assert_eq!((report.unchanged, report.delivered), (5, 0));
    assert_eq!(
        state.children(&["m1"]).await.unwrap(),
        ["m1/a1", "m1/a2", "m2/a1"]
    );
    assert!(state.children(&["m2"]).await.unwrap().is_empty());
    assert_eq!(sink.deliveries().iter().map(Vec::len).sum::<usize>(), 5);
}

/// A store that counts the checkpoints it is committed, over a memory store, and says
/// whether it keeps them.
mod counting {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use connector_core::Result;
    use connector_core::reexports::async_trait;
    use connector_core::reexports::chrono::{DateTime, Utc};
    use connector_core::state::{
        CheckpointUpdate, Commit, DocumentState, MemoryStateStore, RunRecord, StateStore, SyncState,
    };

    pub(crate) struct Counting {
        pub(crate) inner: MemoryStateStore,
        pub(crate) keeps: bool,
        pub(crate) checkpoints: Arc<AtomicUsize>,
        pub(crate) inside_pages: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl StateStore for Counting {
        async fn load(&self) -> Result<SyncState> {
            self.inner.load().await
        }
        async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
            self.inner.documents(ids).await
        }
        async fn document_ids(&self) -> Result<Vec<String>> {
            self.inner.document_ids().await
        }
        async fn commit(&self, commit: Commit<'_>) -> Result<()> {
            if let CheckpointUpdate::Set(stored) = &commit.checkpoint {
                self.checkpoints.fetch_add(1, Ordering::Relaxed);
                if stored.page_prefix.is_some() {
                    self.inside_pages.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.inner.commit(commit).await
        }
        fn keeps_checkpoints(&self) -> bool {
            self.keeps
        }
        async fn remove_documents(&self, ids: &[String]) -> Result<()> {
            self.inner.remove_documents(ids).await
        }
        async fn finish_run(&self, run: RunRecord, end: Option<DateTime<Utc>>) -> Result<()> {
            self.inner.finish_run(run, end).await
        }
        async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
            self.inner.runs(limit).await
        }
    }
}

/// A store that keeps no checkpoint is committed none, neither a page's nor one inside a page
/// (batches of 4 in pages of 10), and gets every document and the same report; one that keeps
/// them gets both kinds.
#[tokio::test]
async fn a_store_that_keeps_no_checkpoint_is_given_none() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let run = |keeps: bool| async move {
        let checkpoints = Arc::new(AtomicUsize::new(0));
        let inside_pages = Arc::new(AtomicUsize::new(0));
        let store = counting::Counting {
            inner: MemoryStateStore::new(),
            keeps,
            checkpoints: Arc::clone(&checkpoints),
            inside_pages: Arc::clone(&inside_pages),
        };
        let sink = MemorySink::new();
        let report = Syncer::new(Arc::new(MemoryConnector::numbered(23, 10, t0())))
            .sink(sink.clone())
            .shared_state(Arc::new(store))
            .options(SyncOptions::default().batch_docs(4))
            .run(SyncMode::Full)
            .await
            .unwrap();
        let delivered: Vec<String> = sink.deliveries().into_iter().flatten().collect();
        (
            checkpoints.load(Ordering::Relaxed),
            inside_pages.load(Ordering::Relaxed),
            (report.new, report.delivered, report.pages),
            delivered,
        )
    };
    let (kept, kept_inside, kept_report, kept_ids) = run(true).await;
    assert!(
        kept > kept_inside && kept_inside > 0,
        "{kept}, {kept_inside}"
    );
    let (none, none_inside, report, ids) = run(false).await;
    assert_eq!((none, none_inside), (0, 0));
    assert_eq!((report, ids.len()), (kept_report, 23));
    assert_eq!(ids, kept_ids);
}

/// A store that keeps no checkpoint still gets the failures: a page whose items all fail
/// (so its commit holds failures and no document) stores them, and the next run resolves them
/// once they are fixed; no checkpoint is committed in either run.
#[tokio::test]
async fn a_store_that_keeps_no_checkpoint_keeps_failures_and_resolves_them() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let source = MemoryConnector::numbered(8, 3, t0());
    // The last page (doc-00006, doc-00007) fails whole.
    source.upsert(MemoryItem::new("doc-00006", "broken", at(6)).malformed());
    source.upsert(MemoryItem::new("doc-00007", "broken", at(7)).malformed());
    let inner = MemoryStateStore::new();
    let checkpoints = Arc::new(AtomicUsize::new(0));
    let store = || {
        Arc::new(counting::Counting {
            inner: inner.clone(),
            keeps: false,
            checkpoints: Arc::clone(&checkpoints),
            inside_pages: Arc::new(AtomicUsize::new(0)),
        })
    };
    let sink = MemorySink::new();
    let first = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .shared_state(store())
        .options(SyncOptions::default().batch_docs(2))
        .at(at(100))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(first.failed, 2);
    let mut failed: Vec<String> = inner
        .load()
        .await
        .unwrap()
        .failed
        .iter()
        .map(|f| f.key())
        .collect();
    failed.sort();
    assert_eq!(failed, ["doc-00006", "doc-00007"]);

    source.upsert(MemoryItem::new("doc-00006", "fixed", at(6)));
    source.upsert(MemoryItem::new("doc-00007", "fixed", at(7)));
    let second = Syncer::new(Arc::new(source.clone()))
        .sink(sink.clone())
        .shared_state(store())
        .options(SyncOptions::default().batch_docs(2))
        .at(at(110))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(second.failed, 0);
    let stored = inner.load().await.unwrap();
    assert!(stored.failed.is_empty(), "{:?}", stored.failed);
    assert_eq!(stored.checkpoint, None);
    assert_eq!(checkpoints.load(Ordering::Relaxed), 0);
}
