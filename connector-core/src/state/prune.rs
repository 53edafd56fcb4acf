//! Prune passes: the source's id listing compared with the store page by page, inside the
//! store, so that prune holds one page at a time however many documents there are.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::StateData;
use super::docs::{IdKey, IdRef};
use crate::error::{Error, ErrorKind, Result};

/// What a [`PrunePass`] counts once the listing is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// Documents the store knows.
    pub known: u64,
    /// Of those, how many the pass marked as listed (or were committed during the pass).
    pub marked: u64,
}

impl PruneCounts {
    /// Known documents the listing did not mark: what a prune would delete.
    pub fn unlisted(&self) -> u64 {
        self.known.saturating_sub(self.marked)
    }
}

/// One prune pass over a [`StateStore`](super::StateStore), begun by
/// [`begin_prune`](super::StateStore::begin_prune).
///
/// Prune marks the ids of each page the source lists, then asks how many known documents
/// were not marked (its guard against deleting too much), then pages through those ids,
/// deleting each page from the sink and then from the store, and finally
/// [`finish`](PrunePass::finish)es the pass. The store keeps the marks its own way, so prune
/// never holds more than a page of ids:
///
/// - A SQL store keeps a pass number per connector and one per document row:
///   `begin_prune` increments the connector's; [`mark`](PrunePass::mark) is one
///   `UPDATE document_state SET pass = $n WHERE id = ANY($ids)`; [`counts`](PrunePass::counts)
///   a `SELECT count(*), count(*) FILTER (WHERE pass = $n)`; [`unlisted`](PrunePass::unlisted)
///   a `SELECT id … WHERE pass IS DISTINCT FROM $n AND id > $after ORDER BY id LIMIT $limit`;
///   a commit during the pass writes `pass = $n`. `finish` has nothing left to do.
/// - The built-in stores keep one bit beside each document, cleared when a pass begins.
///
/// # Contract
/// - [`mark`](PrunePass::mark) marks those of `ids` that the store knows; an unknown id is
///   ignored and an id marked twice counts once.
/// - [`counts`](PrunePass::counts), asked once the listing is over, is how many documents
///   the store knows and how many of them are marked: `known - marked` ids are what
///   [`unlisted`](PrunePass::unlisted) then pages through. (Once the caller removes some,
///   a store may go on counting them.)
/// - [`unlisted`](PrunePass::unlisted) pages through the known ids that are not marked, in the
///   store's own order: up to `limit` ids strictly after `after` (from the first with `None`).
///   Passing the last id of one page as the next `after` visits each such id exactly once,
///   even when the caller removes each page from the store before it asks for the next.
/// - An id the store first learns during the pass (a concurrent sync committed it) is never
///   unlisted: the source has just produced it. The built-in stores count any document
///   committed during the pass as marked.
/// - Marks exist for the pass only and change nothing else the store answers. A pass that
///   ends without [`finish`](PrunePass::finish) (it was dropped, or its process died) leaves
///   nothing a later pass sees: every pass begins with nothing marked.
/// - A store may keep one open pass at a time: beginning another may end the first, whose
///   calls then fail with [`ErrorKind::State`]. Prune opens one pass per store at a time.
#[async_trait]
pub trait PrunePass: Send {
    /// Marks the ids of one listed page.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the store cannot be written or the pass is no longer open.
    async fn mark(&mut self, ids: &[&str]) -> Result<()>;

    /// How many documents the store knows, and how many of them are marked.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the store cannot be read or the pass is no longer open.
    async fn counts(&mut self) -> Result<PruneCounts>;

    /// Up to `limit` known ids the pass has not marked, after `after` in the store's order.
    /// An empty page means there are no more.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the store cannot be read or the pass is no longer open.
    async fn unlisted(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>>;

    /// Ends the pass, whether it deleted anything or not (a failed listing, a refusal). Ending
    /// a pass that is no longer open is no error.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the store cannot be written.
    async fn finish(&mut self) -> Result<()>;
}

/// The pass that [`StateStore::begin_prune`](super::StateStore::begin_prune) provides: it
/// collects every known id when it begins, sorted, with a mark beside each. Its memory grows
/// with the number of documents (about 50 bytes each), which is why a store that can mark in
/// place overrides `begin_prune`.
#[derive(Debug)]
pub(super) struct CollectingPass {
    ids: Vec<String>,
    marked: Vec<bool>,
    marked_count: u64,
}

impl CollectingPass {
    /// A pass over `ids`, the store's known ids when the pass began (so that ids committed
    /// during the pass are never unlisted).
    pub(super) fn new(mut ids: Vec<String>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        Self {
            marked: vec![false; ids.len()],
            ids,
            marked_count: 0,
        }
    }
}

#[async_trait]
impl PrunePass for CollectingPass {
    async fn mark(&mut self, ids: &[&str]) -> Result<()> {
        for id in ids {
            if let Ok(i) = self.ids.binary_search_by(|known| known.as_str().cmp(id))
                && let Some(mark) = self.marked.get_mut(i)
                && !*mark
            {
                *mark = true;
                self.marked_count += 1;
            }
        }
        Ok(())
    }

    async fn counts(&mut self) -> Result<PruneCounts> {
        Ok(PruneCounts {
            known: self.ids.len() as u64,
            marked: self.marked_count,
        })
    }

    async fn unlisted(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let start = after.map_or(0, |a| self.ids.partition_point(|id| id.as_str() <= a));
        Ok(self
            .ids
            .iter()
            .zip(&self.marked)
            .skip(start)
            .filter(|(_, marked)| !**marked)
            .take(limit)
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn finish(&mut self) -> Result<()> {
        self.ids = Vec::new();
        self.marked = Vec::new();
        Ok(())
    }
}

/// Serial numbers of the built-in stores' passes, unique in the process, so that a pass
/// outlived by a newer one (or by a reload of the file store) can tell.
static NEXT_PASS: AtomicU64 = AtomicU64::new(1);

/// Where a built-in store's pass reaches the [`StateData`] it marks.
pub(super) trait MarkedData: Send + Sync {
    /// Runs `f` on the store's data, under its lock.
    fn with_data<'s, R: Send + 's>(
        &'s self,
        f: impl FnOnce(&mut StateData) -> Result<R> + Send + 's,
    ) -> BoxFuture<'s, Result<R>>;
}

/// The pass of the built-in stores: a mark bit beside each document, in the store's own map.
#[derive(Debug)]
pub(super) struct MarkingPass<'a, S> {
    store: &'a S,
    serial: u64,
}

impl<'a, S: MarkedData> MarkingPass<'a, S> {
    /// Begins a pass on `store`, ending any earlier one.
    pub(super) async fn begin(store: &'a S) -> Result<Self> {
        let serial = NEXT_PASS.fetch_add(1, Ordering::Relaxed);
        store
            .with_data(move |data| {
                data.begin_prune(serial);
                Ok(())
            })
            .await?;
        Ok(Self { store, serial })
    }
}

#[async_trait]
impl<S: MarkedData> PrunePass for MarkingPass<'_, S> {
    async fn mark(&mut self, ids: &[&str]) -> Result<()> {
        let serial = self.serial;
        self.store
            .with_data(move |data| data.prune_mark(serial, ids))
            .await
    }

    async fn counts(&mut self) -> Result<PruneCounts> {
        let serial = self.serial;
        self.store
            .with_data(move |data| data.prune_counts(serial))
            .await
    }

    async fn unlisted(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let serial = self.serial;
        self.store
            .with_data(move |data| data.prune_unlisted(serial, after, limit))
            .await
    }

    async fn finish(&mut self) -> Result<()> {
        let serial = self.serial;
        self.store
            .with_data(move |data| {
                data.end_prune(serial);
                Ok(())
            })
            .await
    }
}

impl StateData {
    /// Opens pass `serial`: clears every mark, so nothing an earlier pass left counts.
    fn begin_prune(&mut self, serial: u64) {
        for kept in self.documents.values_mut() {
            kept.set_listed(false);
        }
        self.prune_pass = Some(serial);
        self.prune_order = None;
    }

    fn check_pass(&self, serial: u64) -> Result<()> {
        if self.prune_pass == Some(serial) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::State,
                "the prune pass is no longer open: another pass began, or the state was read \
                 again from its files after a failed write",
            ))
        }
    }

    fn prune_mark(&mut self, serial: u64, ids: &[&str]) -> Result<()> {
        self.check_pass(serial)?;
        for id in ids {
            if let Some(kept) = self.documents.get_mut(id) {
                kept.set_listed(true);
            }
        }
        Ok(())
    }

    fn prune_counts(&self, serial: u64) -> Result<PruneCounts> {
        self.check_pass(serial)?;
        Ok(PruneCounts {
            known: self.documents.len() as u64,
            marked: self.documents.values().filter(|k| k.listed()).count() as u64,
        })
    }

    /// Up to `limit` unlisted ids after `after`, in the ids' order. The order of the ids
    /// unlisted when it is first asked is sorted once per pass (the store's map has none);
    /// each page then skips those marked, committed or removed since.
    fn prune_unlisted(
        &mut self,
        serial: u64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.check_pass(serial)?;
        let documents = &self.documents;
        let order = self.prune_order.get_or_insert_with(|| {
            let mut ids: Vec<IdRef<'_>> = documents
                .iter()
                .filter(|(_, kept)| !kept.listed())
                .map(|(id, _)| id)
                .collect();
            ids.sort_unstable();
            ids.into_iter().map(IdRef::to_owned_key).collect()
        });
        let start = after.map_or(0, |a| {
            order.partition_point(|id| id.as_ref().with_str(|id| id <= a))
        });
        Ok(order[start..]
            .iter()
            .map(IdKey::as_ref)
            .filter(|id| documents.get_key(*id).is_some_and(|kept| !kept.listed()))
            .take(limit)
            .map(IdRef::to_owned_id)
            .collect())
    }

    /// Closes pass `serial` if it is the open one. The marks stay as they are: they mean
    /// nothing outside a pass, and the next pass clears them when it begins.
    fn end_prune(&mut self, serial: u64) {
        if self.prune_pass == Some(serial) {
            self.prune_pass = None;
            self.prune_order = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Commit, DocumentState, FileStateStore, MemoryStateStore, StateStore};

    async fn with_ids(store: &dyn StateStore, ids: &[&str]) {
        let documents = ids
            .iter()
            .map(|id| {
                (
                    (*id).to_owned(),
                    DocumentState {
                        fingerprint: format!("f-{id}"),
                        updated_at: None,
                        parent_id: None,
                    },
                )
            })
            .collect();
        let commit = Commit {
            documents,
            ..Commit::default()
        };
        assert!(store.commit(commit).await.is_ok());
    }

    /// Two passes on one store (a misuse): the later one wins, the earlier one fails loudly
    /// rather than deleting by the later one's marks, and ending it ends nothing else.
    async fn a_new_pass_ends_the_old_one(store: &dyn StateStore) {
        with_ids(store, &["a", "b", "c"]).await;
        let Ok(mut old) = store.begin_prune().await else {
            panic!("begin_prune failed");
        };
        assert!(old.mark(&["a"]).await.is_ok());
        let Ok(mut new) = store.begin_prune().await else {
            panic!("begin_prune failed");
        };
        let err = old.mark(&["b"]).await.err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::State));
        let err = old.unlisted(None, 10).await.err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::State));
        assert!(old.finish().await.is_ok());
        assert!(new.mark(&["c"]).await.is_ok());
        assert_eq!(
            new.counts().await.ok(),
            Some(PruneCounts {
                known: 3,
                marked: 1
            })
        );
        assert_eq!(
            new.unlisted(Some("a"), 10).await.ok(),
            Some(vec!["b".to_owned()])
        );
        assert!(new.finish().await.is_ok());
    }

    #[tokio::test]
    async fn memory_store_a_new_pass_ends_the_old_one() {
        a_new_pass_ends_the_old_one(&MemoryStateStore::new()).await;
    }

    #[tokio::test]
    async fn file_store_a_new_pass_ends_the_old_one() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("a temporary folder");
        };
        let Ok(store) = FileStateStore::open(dir.path().join("state.json")).await else {
            panic!("the state file opens");
        };
        a_new_pass_ends_the_old_one(&store).await;
    }

    #[tokio::test]
    async fn the_collecting_pass_pages_after_any_id() {
        let mut pass = CollectingPass::new(vec!["c".into(), "a".into(), "e".into(), "a".into()]);
        assert!(pass.mark(&["c", "zz"]).await.is_ok());
        assert_eq!(
            pass.counts().await.ok(),
            Some(PruneCounts {
                known: 3,
                marked: 1
            })
        );
        // `after` need not be a known id.
        assert_eq!(
            pass.unlisted(Some("b"), 5).await.ok(),
            Some(vec!["e".into()])
        );
        assert_eq!(
            pass.unlisted(None, 1).await.ok(),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(pass.unlisted(Some("e"), 5).await.ok(), Some(Vec::new()));
    }
}
