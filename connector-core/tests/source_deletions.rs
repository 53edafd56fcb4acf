//! Deletions a source reports in its pages (`Batch::deleted`): applied to the sink and the state
//! store in stream order, counted, and never applied to a document the same page delivers.

#![allow(clippy::unwrap_used)] // Test code: a broken setup should fail loudly.

use std::sync::{Arc, Mutex};

use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::sink::Sink;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{
    Batch, Connector, Document, ErrorKind, Failure, LoadConnector, Result, Roles, SyncContext,
};

/// A connector that hands out the same scripted pages on every load.
#[derive(Debug, Clone)]
struct Scripted(Vec<Batch>);

impl std::fmt::Display for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted")
    }
}

#[connector_core::reexports::async_trait]
impl Connector for Scripted {
    fn source(&self) -> &'static str {
        "scripted"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Scripted {
    fn load(&self, _ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        Box::pin(stream::iter(self.0.clone().into_iter().map(Ok)))
    }
}

fn doc(id: &str, body: &str) -> Document {
    Document::text(id, "scripted", id, body)
}

/// Every sink call in order: `+id` for a write, `-id` for a deletion.
#[derive(Debug, Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[connector_core::reexports::async_trait]
impl Sink for Journal {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let mut calls = self.0.lock().unwrap();
        calls.extend(documents.iter().map(|d| format!("+{}", d.id)));
        Ok(())
    }
    async fn delete(&self, ids: &[String]) -> Result<()> {
        let mut calls = self.0.lock().unwrap();
        calls.extend(ids.iter().map(|id| format!("-{id}")));
        Ok(())
    }
}

#[tokio::test]
async fn deletions_reach_the_sink_in_stream_order() {
    // Batches of 10 documents: without the flush before a deletion, `a` (page 1) would still
    // be buffered when page 2 deletes it, and its write would land after the deletion.
    let pages = vec![
        Batch::new(vec![doc("a", "1"), doc("b", "1")]),
        Batch::new(vec![doc("c", "1")]).with_deleted(vec!["a".into()]),
        Batch::new(vec![doc("d", "1")]).with_deleted(vec!["c".into(), "gone-long-ago".into()]),
    ];
    let journal = Journal::default();
    let store = MemoryStateStore::new();
    let report = Syncer::new(Arc::new(Scripted(pages)))
        .sink(journal.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(10))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(
        journal.calls(),
        ["+a", "+b", "-a", "+c", "-c", "-gone-long-ago", "+d"]
    );
    assert_eq!(report.deleted, 3);
    assert_eq!(report.new, 4);
    assert_eq!(report.delivered, 4);
    // The store forgot them too: b and d are left.
    let mut ids = store.document_ids().await.unwrap();
    ids.sort();
    assert_eq!(ids, ["b", "d"]);
    let runs = store.runs(1).await.unwrap();
    assert_eq!(runs[0].deleted, 3);
}

#[tokio::test]
async fn a_page_that_deletes_and_delivers_one_id_keeps_the_document() {
    let pages = vec![
        Batch::new(vec![doc("a", "1")]),
        Batch::new(vec![doc("a", "2")]).with_deleted(vec!["a".into(), "a".into(), "b".into()]),
    ];
    let journal = Journal::default();
    let store = MemoryStateStore::new();
    let report = Syncer::new(Arc::new(Scripted(pages)))
        .sink(journal.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(journal.calls(), ["+a", "-b", "+a"]);
    assert_eq!(report.deleted, 1);
    assert_eq!(store.document_ids().await.unwrap(), ["a"]);
}

#[tokio::test]
async fn a_deleted_item_settles_its_old_failure() {
    let store = MemoryStateStore::new();
    let failing = vec![Batch::with_parts(
        vec![doc("a", "1")],
        vec![Failure::new(
            Some("b".into()),
            ErrorKind::Unavailable,
            "b: 503",
        )],
        Vec::new(),
    )];
    Syncer::new(Arc::new(Scripted(failing)))
        .sink(Journal::default())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap().failed.len(), 1);

    let deleting = vec![Batch::new(vec![doc("a", "1")]).with_deleted(vec!["b".into()])];
    let report = Syncer::new(Arc::new(Scripted(deleting)))
        .sink(Journal::default())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.deleted, 1);
    assert_eq!(report.failed, 0);
    assert!(store.load().await.unwrap().failed.is_empty());
}

#[tokio::test]
async fn a_sink_that_refuses_a_deletion_stops_the_run_with_a_sink_error() {
    #[derive(Debug, Clone)]
    struct NoDeletes;
    #[connector_core::reexports::async_trait]
    impl Sink for NoDeletes {
        async fn write(&self, _documents: &[Document]) -> Result<()> {
            Ok(())
        }
        async fn delete(&self, _ids: &[String]) -> Result<()> {
            Err(connector_core::Error::new(
                ErrorKind::Unavailable,
                "index offline",
            ))
        }
    }
    let pages = vec![Batch::new(Vec::new()).with_deleted(vec!["a".into()])];
    let err = Syncer::new(Arc::new(Scripted(pages)))
        .sink(NoDeletes)
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert!(err.to_string().contains("deletion"), "{err}");
}

#[test]
fn a_batch_with_deletions_round_trips_through_json() {
    let page = Batch::new(Vec::new()).with_deleted(vec!["x".into()]);
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["deleted"], serde_json::json!(["x"]));
    let back: Batch = serde_json::from_value(json).unwrap();
    assert_eq!(back, page);
    let without = serde_json::to_value(Batch::new(Vec::new())).unwrap();
    assert!(without.get("deleted").is_none());
}
