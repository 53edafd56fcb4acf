//! A connector that follows a change feed carries the feed's position from one finished run to
//! the next incremental one ([`CheckpointedConnector::carry_over`]), through every built-in
//! state store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::reexports::futures::StreamExt;
use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::sink::MemorySink;
use connector_core::state::{FileStateStore, MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Document, Result, Roles,
    SyncContext, TimeWindow,
};
use serde::{Deserialize, Serialize};

/// Where a run of the feed connector is: the feed's position (taken at the start of a run)
/// and whether the listing is done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct FeedCheckpoint {
    token: Option<u64>,
    listed: bool,
}

/// One listing page, plus one document per feed entry after the run's starting token; the
/// feed's head moves with `head`. Records where each run started.
#[derive(Debug, Default)]
struct Feed {
    head: Mutex<u64>,
    started_from: Mutex<Vec<FeedCheckpoint>>,
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("feed")
    }
}

#[async_trait]
impl Connector for Feed {
    fn source(&self) -> &'static str {
        "feed"
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).checkpointed().into()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl CheckpointedConnector for Feed {
    type Checkpoint = FeedCheckpoint;

    fn initial_checkpoint(&self) -> FeedCheckpoint {
        FeedCheckpoint::default()
    }

    fn carry_over(&self, last: &FeedCheckpoint) -> Option<FeedCheckpoint> {
        Some(FeedCheckpoint {
            token: last.token,
            listed: false,
        })
    }

    fn load_from_checkpoint(
        &self,
        from: FeedCheckpoint,
        _window: Option<TimeWindow>,
        _ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<FeedCheckpoint>>> {
        self.started_from.lock().unwrap().push(from.clone());
        // The feed's position is taken before anything is listed.
        let head = *self.head.lock().unwrap();
        let mut documents = vec![Document::text("listed", "feed", "listed", "x")];
        if let Some(token) = from.token {
            documents.extend(
                (token..head).map(|n| {
                    Document::text(format!("change-{n}"), "feed", "change", n.to_string())
                }),
            );
        }
        let page = CheckpointedBatch::new(
            Batch::new(documents),
            FeedCheckpoint {
                token: Some(head),
                listed: true,
            },
        );
        stream::iter([Ok(page)]).boxed()
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap()
}

async fn run(
    feed: &Arc<Feed>,
    store: &Arc<dyn StateStore>,
    mode: SyncMode,
    hour: u32,
) -> Vec<String> {
    let sink = MemorySink::new();
    Syncer::new(feed.clone())
        .sink(sink.clone())
        .shared_state(store.clone())
        .at(at(hour))
        .run(mode)
        .await
        .unwrap();
    sink.deliveries().concat()
}

/// Where the state lives: one memory store, or a file opened anew for each run (as separate
/// processes would).
enum Kind {
    Memory(Arc<dyn StateStore>),
    File(std::path::PathBuf),
}

impl Kind {
    async fn open(&self) -> Arc<dyn StateStore> {
        match self {
            Self::Memory(store) => store.clone(),
            Self::File(path) => Arc::new(FileStateStore::open(path).await.unwrap()),
        }
    }
}

async fn carries_the_feed_position(kind: Kind) {
    let feed = Arc::new(Feed::default());
    *feed.head.lock().unwrap() = 5;
    // A full run starts from the initial checkpoint and leaves the feed's position.
    let store = kind.open().await;
    assert_eq!(run(&feed, &store, SyncMode::Full, 1).await, ["listed"]);
    let carried = store.load().await.unwrap().carried.expect("carried");
    assert_eq!(carried.state["token"], 5);
    drop(store);
    // Two changes later, the incremental run starts from it and delivers exactly them.
    *feed.head.lock().unwrap() = 7;
    let store = kind.open().await;
    let ids = run(&feed, &store, SyncMode::Incremental, 2).await;
    // (`listed` is unchanged, so an incremental run leaves it out.)
    assert_eq!(ids, ["change-5", "change-6"]);
    drop(store);
    // A full run does not read the feed: it starts from the initial checkpoint.
    let store = kind.open().await;
    run(&feed, &store, SyncMode::Full, 3).await;
    let starts = feed.started_from.lock().unwrap().clone();
    assert_eq!(
        starts,
        [
            FeedCheckpoint::default(),
            FeedCheckpoint {
                token: Some(5),
                listed: false
            },
            FeedCheckpoint::default(),
        ]
    );
    assert_eq!(
        store.load().await.unwrap().carried.unwrap().state["token"],
        7
    );
}

#[tokio::test]
async fn a_memory_store_carries_the_feed_position_to_the_next_incremental_run() {
    carries_the_feed_position(Kind::Memory(Arc::new(MemoryStateStore::new()))).await;
}

#[tokio::test]
async fn a_file_store_carries_the_feed_position_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    carries_the_feed_position(Kind::File(dir.path().join("state.json"))).await;
}

/// A carried checkpoint another connector wrote is dropped, not fed to this one.
#[tokio::test]
async fn a_carried_checkpoint_of_another_source_is_not_read() {
    let store = Arc::new(MemoryStateStore::new());
    store
        .carry(Some(connector_core::CheckpointJson {
            source: "other".into(),
            version: 1,
            state: serde_json::json!({"token": 99, "listed": false}),
        }))
        .await
        .unwrap();
    let feed = Arc::new(Feed::default());
    let dyn_store: Arc<dyn StateStore> = store.clone();
    run(&feed, &dyn_store, SyncMode::Full, 1).await;
    run(&feed, &dyn_store, SyncMode::Incremental, 2).await;
    assert_eq!(feed.started_from.lock().unwrap()[1].token, Some(0));
}

/// A store that keeps no checkpoints still gets what a finished run carries over: the batch loop
/// tracks the last page checkpoint for it although it commits none.
#[tokio::test]
async fn a_store_that_keeps_no_checkpoints_still_gets_the_carried_position() {
    let feed = Arc::new(Feed::default());
    *feed.head.lock().unwrap() = 5;
    let store: Arc<dyn StateStore> =
        Arc::new(connector_core::state::EphemeralStateStore::without_checkpoints());
    assert!(!store.keeps_checkpoints());
    assert_eq!(run(&feed, &store, SyncMode::Full, 1).await, ["listed"]);
    let state = store.load().await.unwrap();
    assert_eq!(state.checkpoint, None);
    assert_eq!(state.carried.expect("carried").state["token"], 5);
    // The next incremental run starts from it.
    *feed.head.lock().unwrap() = 7;
    run(&feed, &store, SyncMode::Incremental, 2).await;
    assert_eq!(
        feed.started_from.lock().unwrap()[1],
        FeedCheckpoint {
            token: Some(5),
            listed: false
        }
    );
    assert_eq!(
        store.load().await.unwrap().carried.unwrap().state["token"],
        7
    );
}
