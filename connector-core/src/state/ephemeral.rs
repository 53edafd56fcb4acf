use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    CheckpointUpdate, Commit, DocumentState, DocumentStates, Known, RunRecord, StateData,
    StateStore, SyncState,
};
use crate::connector::CheckpointJson;
use crate::document::Document;
use crate::error::Result;

/// Keeps in memory only what one run needs: the latest checkpoint (unless made
/// [`without_checkpoints`](Self::without_checkpoints)), the window end, the open
/// failures, what a finished run carries over and the run log; no document ids and no
/// fingerprints.
///
/// For a run whose state is thrown away at its end (the CLI without `--state`): such a run
/// delivers every document anyway, so remembering each one's fingerprint buys nothing and costs
/// memory that grows with the source. This store's memory stays flat at any number of
/// documents.
///
/// What it gives up, by design:
/// - Every document compares as [`Known::New`] (it knows none), so a run's report counts
///   everything as new, and an id a source yields twice in one run is delivered twice (a
///   [`MemoryStateStore`](super::MemoryStateStore) would count the second as unchanged; a
///   full run delivers it again in both cases).
/// - A prune finds nothing to delete: the store knows no id the listing could miss.
///
/// Clones share the state, as with [`MemoryStateStore`](super::MemoryStateStore), so a test can
/// resume a run from the checkpoint another one left (when the store keeps checkpoints).
#[derive(Debug, Clone)]
pub struct EphemeralStateStore {
    data: Arc<Mutex<StateData>>,
    /// Whether it keeps the run's checkpoints ([`StateStore::keeps_checkpoints`]).
    checkpoints: bool,
}

impl Default for EphemeralStateStore {
    fn default() -> Self {
        Self {
            data: Arc::new(Mutex::new(StateData::new())),
            checkpoints: true,
        }
    }
}

impl EphemeralStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps no checkpoint either
    /// ([`keeps_checkpoints`](StateStore::keeps_checkpoints) is `false`), for a run whose state
    /// nobody reads after it (the CLI without `--state`): the batch loop then spends nothing
    /// on checkpoints, per page or per sink batch. A run on it, or on a clone of it, cannot be
    /// resumed: each starts from the connector's initial checkpoint.
    pub fn without_checkpoints() -> Self {
        Self {
            checkpoints: false,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, StateData> {
        // Every mutation below is a single in-memory update that cannot panic halfway.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl StateStore for EphemeralStateStore {
    async fn load(&self) -> Result<SyncState> {
        Ok(self.lock().sync_state())
    }

    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
        Ok(vec![None; ids.len()])
    }

    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        Ok(vec![Known::New; documents.len()])
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        // The documents are what this store does not keep; the checkpoint (unless it keeps
        // none) and failures are.
        let checkpoint = if self.checkpoints {
            commit.checkpoint
        } else {
            CheckpointUpdate::Keep
        };
        self.lock().apply(Commit {
            documents: DocumentStates::default(),
            checkpoint,
            ..commit
        });
        Ok(())
    }

    fn keeps_checkpoints(&self) -> bool {
        self.checkpoints
    }

    async fn remove_documents(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }

    async fn finish_run(&self, run: RunRecord, window_end: Option<DateTime<Utc>>) -> Result<()> {
        self.lock().finish(run, window_end);
        Ok(())
    }

    async fn carry(&self, checkpoint: Option<CheckpointJson>) -> Result<()> {
        self.lock().carried = checkpoint;
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        Ok(self.lock().runs(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StoredCheckpoint;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    /// The checkpoint both tests commit: page 2 of source `test`.
    fn page_two() -> StoredCheckpoint {
        StoredCheckpoint {
            checkpoint: CheckpointJson {
                source: "test".to_owned(),
                version: 1,
                state: serde_json::json!({"page": 2}),
            },
            window: None,
            started_at: Utc::now(),
            reconcile: false,
            page_prefix: None,
        }
    }

    #[test]
    fn keeps_the_checkpoint_and_no_document() {
        let store = EphemeralStateStore::new();
        let mut docs = vec![Document::text("a", "test", "a", "hello")];
        let checkpoint = page_two();
        let commit = Commit {
            checkpoint: CheckpointUpdate::Set(checkpoint.clone()),
            documents: DocumentStates::from(&mut docs[..]),
            ..Commit::default()
        };
        block_on(store.commit(commit)).unwrap_or_else(|e| panic!("{e}"));
        let loaded = block_on(store.load()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.checkpoint, Some(checkpoint));
        assert_eq!(
            block_on(store.compare(&docs)).unwrap_or_default(),
            vec![Known::New]
        );
        assert!(
            block_on(store.document_ids())
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(
            block_on(store.documents(&["a"])).unwrap_or_default(),
            vec![None]
        );
    }

    #[test]
    fn without_checkpoints_keeps_none_given() {
        let store = EphemeralStateStore::without_checkpoints();
        assert!(!store.keeps_checkpoints());
        assert!(EphemeralStateStore::new().keeps_checkpoints());
        let checkpoint = page_two();
        let commit = Commit {
            checkpoint: CheckpointUpdate::Set(checkpoint),
            ..Commit::default()
        };
        block_on(store.commit(commit)).unwrap_or_else(|e| panic!("{e}"));
        let loaded = block_on(store.load()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.checkpoint, None);
    }
}
