//! The state store checks on the built-in stores.
#![cfg(feature = "testkit")]
#![allow(clippy::expect_used)] // Test setup: a broken one should fail loudly.

use std::sync::Arc;

use connector_core::reexports::async_trait;
use connector_core::state::{FileStateStore, MemoryStateStore, StateStore};
use connector_core::testkit::StoreFixture;

/// One shared in-memory store: "opening" it again is cloning it.
struct Memory(MemoryStateStore);

#[async_trait]
impl StoreFixture for Memory {
    async fn setup() -> Self {
        Self(MemoryStateStore::new())
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        Arc::new(self.0.clone())
    }
}

/// A state file in a temporary folder, opened afresh each time.
struct File(tempfile::TempDir);

#[async_trait]
impl StoreFixture for File {
    async fn setup() -> Self {
        Self(tempfile::tempdir().expect("a temporary folder"))
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        let store = FileStateStore::open(self.0.path().join("state.json"))
            .await
            .expect("the state file opens");
        Arc::new(store)
    }
}

connector_core::state_store_tests!(memory_store, Memory);
connector_core::state_store_tests!(file_store, File);

#[test]
fn memory_store_finds_children_by_parent() {
    connector_core::testkit::run_check(Memory::setup(), |f| async move {
        connector_core::testkit::store_finds_children_by_parent(&f).await;
    });
}

#[test]
fn file_store_finds_children_by_parent() {
    connector_core::testkit::run_check(File::setup(), |f| async move {
        connector_core::testkit::store_finds_children_by_parent(&f).await;
    });
}

/// A store that implements only the required methods (a memory store underneath), so the
/// provided `compare` and `begin_prune` (the collecting pass) are what run.
struct Minimal(MemoryStateStore);

mod minimal {
    use connector_core::Result;
    use connector_core::reexports::async_trait;
    use connector_core::reexports::chrono::{DateTime, Utc};
    use connector_core::state::{
        Commit, DocumentState, MemoryStateStore, RunRecord, StateStore, SyncState,
    };

    pub(crate) struct Forwarding(pub(crate) MemoryStateStore);

    #[async_trait]
    impl StateStore for Forwarding {
        async fn load(&self) -> Result<SyncState> {
            self.0.load().await
        }
        async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
            self.0.documents(ids).await
        }
        async fn document_ids(&self) -> Result<Vec<String>> {
            self.0.document_ids().await
        }
        async fn commit(&self, commit: Commit<'_>) -> Result<()> {
            self.0.commit(commit).await
        }
        async fn remove_documents(&self, ids: &[String]) -> Result<()> {
            self.0.remove_documents(ids).await
        }
        async fn finish_run(&self, run: RunRecord, end: Option<DateTime<Utc>>) -> Result<()> {
            self.0.finish_run(run, end).await
        }
        async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
            self.0.runs(limit).await
        }
    }
}

#[async_trait]
impl StoreFixture for Minimal {
    async fn setup() -> Self {
        Self(MemoryStateStore::new())
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        Arc::new(minimal::Forwarding(self.0.clone()))
    }
}

connector_core::state_store_tests!(provided_methods, Minimal);

/// A memory store that keeps no checkpoints (`keeps_checkpoints` is `false`, and `commit`
/// drops the checkpoint it is given) but keeps everything else, so it runs every check of the
/// kit: the kit must accept it and check that its `load` returns no checkpoint.
struct NoCheckpoints(MemoryStateStore);

mod no_checkpoints {
    use connector_core::Result;
    use connector_core::reexports::async_trait;
    use connector_core::reexports::chrono::{DateTime, Utc};
    use connector_core::state::{
        CheckpointUpdate, Commit, DocumentState, MemoryStateStore, PrunePass, RunRecord,
        StateStore, SyncState,
    };

    /// `lies` makes it return the checkpoints it is given although it says it keeps none: a
    /// store that breaks the contract, which the kit must catch.
    pub(crate) struct Dropping {
        pub(crate) inner: MemoryStateStore,
        pub(crate) lies: bool,
    }

    #[async_trait]
    impl StateStore for Dropping {
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
            let checkpoint = if self.lies {
                commit.checkpoint
            } else {
                CheckpointUpdate::Keep
            };
            self.inner
                .commit(Commit {
                    checkpoint,
                    ..commit
                })
                .await
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
        fn keeps_checkpoints(&self) -> bool {
            false
        }
        async fn begin_prune(&self) -> Result<Box<dyn PrunePass + '_>> {
            self.inner.begin_prune().await
        }
    }
}

#[async_trait]
impl StoreFixture for NoCheckpoints {
    async fn setup() -> Self {
        Self(MemoryStateStore::new())
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        Arc::new(no_checkpoints::Dropping {
            inner: self.0.clone(),
            lies: false,
        })
    }
}

connector_core::state_store_tests!(keeps_no_checkpoints, NoCheckpoints);

#[test]
fn ephemeral_store_without_checkpoints_returns_none() {
    let store = connector_core::state::EphemeralStateStore::without_checkpoints();
    connector_core::testkit::run_check(async {}, |()| async move {
        connector_core::testkit::store_that_keeps_no_checkpoint_returns_none(&store).await;
    });
}

#[test]
#[should_panic(expected = "a store that keeps no checkpoints returned one")]
fn a_store_that_says_it_keeps_none_but_returns_one_fails_the_kit() {
    let store = no_checkpoints::Dropping {
        inner: MemoryStateStore::new(),
        lies: true,
    };
    connector_core::testkit::run_check(async {}, |()| async move {
        connector_core::testkit::store_that_keeps_no_checkpoint_returns_none(&store).await;
    });
}
