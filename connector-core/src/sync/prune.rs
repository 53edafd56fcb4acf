//! Prune: delete what the source no longer has.
//!
//! The listing is compared with the state store page by page through a
//! [`PrunePass`](crate::state::PrunePass): each listed page is marked in the store, the store
//! counts what is left unmarked (for the guard), and the unmarked ids come back a chunk at a
//! time to be deleted. Prune itself holds one page of ids at a time, so its memory stays flat
//! at any number of documents.

use futures::StreamExt;
use serde::Serialize;

use super::Syncer;
use crate::connector::SlimConnector;
use crate::error::{Error, ErrorKind, Result};
use crate::state::PrunePass;

/// Ids deleted per sink call.
const DELETE_CHUNK: usize = 100;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Ids the source listed (as many as its pages held).
    pub listed: u64,
    /// Ids the state store knew.
    pub known: u64,
    /// Ids deleted from the sink and the store.
    pub deleted: u64,
}

pub(super) async fn prune(syncer: &Syncer) -> Result<PruneReport> {
    let source = syncer.connector.source();
    let Some(slim) = syncer.connector.as_slim() else {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "this connector cannot list its ids, so it cannot prune",
        )
        .with_connector(source));
    };
    let mut pass = syncer.state.begin_prune().await?;
    let outcome = prune_in(syncer, slim, &mut *pass).await;
    // Ended on every path; were it not (a dropped future, a failed `finish`), the marks would
    // still mean nothing to the next pass, which begins with none.
    let finished = pass.finish().await;
    let report = outcome?;
    if let Err(e) = finished {
        // The deletions are done and committed; only the end of the pass failed.
        tracing::warn!(error = %e, "the prune pass did not end cleanly");
    }
    if report.deleted > 0 {
        tracing::info!(
            source,
            deleted = report.deleted,
            "pruned documents the source no longer has"
        );
    }
    Ok(report)
}

/// Lists, checks the guard and deletes, within the open `pass`.
async fn prune_in(
    syncer: &Syncer,
    slim: &dyn SlimConnector,
    pass: &mut dyn PrunePass,
) -> Result<PruneReport> {
    let source = syncer.connector.source();
    let ctx = syncer.context(syncer.cancel.child());
    let mut listed = 0u64;
    let mut stream = slim.list_ids(ctx);
    while let Some(page) = stream.next().await {
        let page = page.map_err(|e| {
            tracing::warn!(error = %e, "prune refused: the listing failed, nothing is deleted");
            e
        })?;
        let ids: Vec<&str> = page.iter().map(|s| s.id.as_str()).collect();
        pass.mark(&ids).await?;
        listed += ids.len() as u64;
    }
    drop(stream);

    let counts = pass.counts().await?;
    let stale = counts.unlisted();
    let report = PruneReport {
        listed,
        known: counts.known,
        deleted: 0,
    };
    if stale == 0 {
        return Ok(report);
    }
    let fraction = stale as f64 / counts.known as f64;
    if fraction > syncer.options.max_prune_fraction && !syncer.options.force_prune {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "prune refused: it would delete {stale} of {} known documents ({:.0}%), more than the allowed {:.0}%; \
                 check the source, or force the prune",
                counts.known,
                fraction * 100.0,
                syncer.options.max_prune_fraction * 100.0
            ),
        )
        .with_connector(source));
    }
    let mut deleted = 0;
    let mut visited = 0u64;
    let mut after: Option<String> = None;
    // Never more than were counted, which is what the guard allowed.
    while visited < stale {
        let limit = DELETE_CHUNK.min(usize::try_from(stale - visited).unwrap_or(DELETE_CHUNK));
        let unlisted = pass.unlisted(after.as_deref(), limit).await?;
        let Some(last) = unlisted.last() else {
            break;
        };
        after = Some(last.clone());
        visited += unlisted.len() as u64;
        let chunk = slim
            .confirm_gone(unlisted, syncer.context(syncer.cancel.child()))
            .await?;
        if chunk.is_empty() {
            continue;
        }
        syncer.sink.delete(&chunk).await.map_err(|e| {
            if e.kind() == ErrorKind::Sink {
                e
            } else {
                Error::new(ErrorKind::Sink, "the sink refused a delete").with_cause(e)
            }
        })?;
        syncer.state.remove_documents(&chunk).await?;
        deleted += chunk.len() as u64;
    }
    Ok(PruneReport { deleted, ..report })
}
