//! Prune: delete what the source no longer has.

use std::collections::HashSet;

use futures::StreamExt;
use serde::Serialize;

use super::Syncer;
use crate::context::SyncContext;
use crate::error::{Error, ErrorKind, Result};

/// Ids deleted per sink call.
const DELETE_CHUNK: usize = 100;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Ids the source listed.
    pub listed: u64,
    /// Ids the state store knew.
    pub known: u64,
    /// Ids deleted from the sink and the store.
    pub deleted: u64,
}

pub(super) async fn prune(syncer: &Syncer) -> Result<PruneReport> {
    let connector = &syncer.connector;
    let source = connector.source();
    let Some(slim) = connector.as_slim() else {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "this connector cannot list its ids, so it cannot prune",
        )
        .with_connector(source));
    };
    let ctx = SyncContext::new().with_cancellation(syncer.cancel.child_token());
    let mut listed = HashSet::new();
    let mut stream = slim.list_ids(ctx);
    while let Some(page) = stream.next().await {
        let page = page.map_err(|e| {
            tracing::warn!(error = %e, "prune refused: the listing failed, nothing is deleted");
            e
        })?;
        listed.extend(page.into_iter().map(|s| s.id));
    }
    drop(stream);

    let known = syncer.state.document_ids().await?;
    let stale: Vec<String> = known
        .iter()
        .filter(|id| !listed.contains(*id))
        .cloned()
        .collect();
    let report = PruneReport {
        listed: listed.len() as u64,
        known: known.len() as u64,
        deleted: 0,
    };
    if stale.is_empty() {
        return Ok(report);
    }
    let fraction = stale.len() as f64 / known.len() as f64;
    if fraction > syncer.options.max_prune_fraction && !syncer.options.force_prune {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "prune refused: it would delete {} of {} known documents ({:.0}%), more than the allowed {:.0}%; \
                 check the source, or force the prune",
                stale.len(),
                known.len(),
                fraction * 100.0,
                syncer.options.max_prune_fraction * 100.0
            ),
        )
        .with_connector(source));
    }
    let mut deleted = 0;
    for chunk in stale.chunks(DELETE_CHUNK) {
        syncer.sink.delete(chunk).await.map_err(|e| {
            if e.kind() == ErrorKind::Sink {
                e
            } else {
                Error::new(ErrorKind::Sink, "the sink refused a delete").with_cause(e)
            }
        })?;
        syncer.state.remove_documents(chunk).await?;
        deleted += chunk.len() as u64;
    }
    tracing::info!(source, deleted, "pruned documents the source no longer has");
    Ok(PruneReport { deleted, ..report })
}
