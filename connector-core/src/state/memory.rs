use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::prune::{MarkedData, MarkingPass};
use super::{Commit, DocumentState, Known, PrunePass, RunRecord, StateData, StateStore, SyncState};
use crate::connector::CheckpointJson;
use crate::document::Document;
use crate::error::Result;

/// Keeps state in memory. Clones share it, so a test can "restart" a sync with a new
/// [`Syncer`](crate::sync::Syncer) over the same store.
#[derive(Debug, Clone)]
pub struct MemoryStateStore {
    data: Arc<Mutex<StateData>>,
}

impl Default for MemoryStateStore {
    fn default() -> Self {
        Self {
            data: Arc::new(Mutex::new(StateData::new())),
        }
    }
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, StateData> {
        // Every mutation below is a single in-memory update that cannot panic halfway.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many documents the store knows.
    pub fn document_count(&self) -> usize {
        self.lock().documents.len()
    }
}

impl MarkedData for MemoryStateStore {
    fn with_data<'s, R: Send + 's>(
        &'s self,
        f: impl FnOnce(&mut StateData) -> Result<R> + Send + 's,
    ) -> BoxFuture<'s, Result<R>> {
        let result = f(&mut self.lock());
        Box::pin(std::future::ready(result))
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self) -> Result<SyncState> {
        Ok(self.lock().sync_state())
    }

    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
        Ok(self.lock().documents(ids))
    }

    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        Ok(self.lock().compare(documents))
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        Ok(self.lock().document_ids())
    }

    async fn children(&self, parents: &[&str]) -> Result<Vec<String>> {
        Ok(self.lock().children(parents))
    }

    async fn begin_prune(&self) -> Result<Box<dyn PrunePass + '_>> {
        Ok(Box::new(MarkingPass::begin(self).await?))
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        self.lock().apply(commit);
        Ok(())
    }

    async fn remove_documents(&self, ids: &[String]) -> Result<()> {
        self.lock().remove(ids);
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
