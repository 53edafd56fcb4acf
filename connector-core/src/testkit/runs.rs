//! Runs of a connector that connector tests repeat: a whole load or poll as one [`Batch`], a
//! sync at a given time into a fresh [`MemorySink`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::connector::Connector;
use crate::context::SyncContext;
use crate::document::Batch;
use crate::error::Result;
use crate::sink::MemorySink;
use crate::state::MemoryStateStore;
use crate::sync::{SyncMode, SyncReport, Syncer};
use crate::window::TimeWindow;

/// Every page of a full load (`as_load`), appended into one [`Batch`].
///
/// # Errors
/// The first error of the stream.
///
/// # Panics
/// When the connector has no load role.
pub async fn load_batch(connector: &Arc<dyn Connector>) -> Result<Batch> {
    let load = connector
        .as_load()
        .unwrap_or_else(|| panic!("{connector} has no load role"));
    let mut out = Batch::default();
    let mut stream = load.load(SyncContext::new());
    while let Some(page) = stream.next().await {
        out.append(page?);
    }
    Ok(out)
}

/// Every page of a poll of `window` (`as_poll`), appended into one [`Batch`].
///
/// # Errors
/// The first error of the stream.
///
/// # Panics
/// When the connector has no poll role.
pub async fn poll_batch(connector: &Arc<dyn Connector>, window: TimeWindow) -> Result<Batch> {
    let poll = connector
        .as_poll()
        .unwrap_or_else(|| panic!("{connector} has no poll role"));
    let mut out = Batch::default();
    let mut stream = poll.poll(window, SyncContext::new());
    while let Some(page) = stream.next().await {
        out.append(page?);
    }
    Ok(out)
}

/// One [`Syncer`] run of `connector` in `mode` over `store`, as if at `at`, into a fresh
/// [`MemorySink`]: the sink and the report.
///
/// # Panics
/// When the sync fails.
pub async fn sync_at(
    connector: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    at: DateTime<Utc>,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(connector.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(at)
        .run(mode)
        .await
        .unwrap_or_else(|e| panic!("the sync runs: {e}"));
    (sink, report)
}
