//! A sync that must go without failure, shared by the tests of several connectors.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::Connector;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::SyncMode;
use connector_core::testkit::sync_at;

/// One run of `connector` in `mode` over `store`, as if at `at` ([`sync_at`]), which must
/// report no failure: its sink.
///
/// # Panics
/// When the sync fails or reports a failed item (the failures are shown).
pub async fn clean_sync_at(
    connector: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    at: DateTime<Utc>,
) -> MemorySink {
    let (sink, report) = sync_at(connector, store, mode, at).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.failed, 0, "{report:?}");
    sink
}
