//! [`ItemFetches`]: the engine of [`fetch_items`](super::fetch_items), for a connector that
//! hands a page of large items on in parts.

use std::collections::VecDeque;
use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use super::{IntoOutcomes, KnownFingerprints, PendingItem, item_failure};
use crate::context::SyncContext;
use crate::document::Batch;
use crate::error::{Error, Result};

/// The fetches of one page's items, in page order, with at most `concurrency` in flight.
///
/// It does what [`fetch_items`](super::fetch_items) does (that function is `start` followed by
/// one [`next_part`](Self::next_part) without a byte bound), and lets a connector whose items
/// can be large (object stores, file shares) hand the page on in parts: a part ends once its
/// documents hold `max_bytes` of content, so a page of a thousand large files never sits in
/// memory whole, while the fetches after the part stay in flight.
///
/// An item the store already holds (its [`fingerprint`](PendingItem::fingerprint) unchanged)
/// costs no fetch, no future and no fetch slot: on an unchanged re-sync a page is one pass over
/// its items, and a fetch further on starts while the unchanged items before it wait their turn.
///
/// ```
/// use connector_core::pages::{ItemFetches, PendingItem};
/// use connector_core::{Document, SyncContext};
/// # async fn demo() -> connector_core::Result<()> {
/// let pending = (0..10).map(|n| PendingItem::new(format!("file-{n}"), n));
/// let mut fetches = ItemFetches::start(&SyncContext::new(), pending, 4, |n: u32| async move {
///     // Each body is 1 MiB: parts of 3 MiB hold three documents.
///     Ok(Document::bytes(format!("file-{n}"), "files", "a file", vec![0u8; 1 << 20], "application/octet-stream", None))
/// })
/// .await?;
/// let mut parts = Vec::new();
/// while let Some(part) = fetches.next_part(3 << 20).await? {
///     parts.push(part.documents.len());
/// }
/// assert_eq!(parts, [3, 3, 3, 1]);
/// # Ok(()) }
/// ```
pub struct ItemFetches<T, F, Fut: Future> {
    known: KnownFingerprints,
    /// Items not yet taken, in page order.
    items: VecDeque<PendingItem<T>>,
    /// Items taken but not yet handed on, in page order. The `Fetching` entries and `running`
    /// correspond one to one, oldest first.
    queued: VecDeque<Queued>,
    running: FuturesOrdered<Fut>,
    fetch: F,
    concurrency: usize,
}

/// An item taken from the page and not yet handed on, with its id.
enum Queued {
    /// The store holds this version: reported as unchanged when its turn comes.
    Unchanged(String),
    /// Its fetch is in `running`; the id names its failure, if it fails.
    Fetching(String),
}

impl<T, O, F, Fut> ItemFetches<T, F, Fut>
where
    O: IntoOutcomes,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<O>>,
{
    /// Asks the sync's fingerprint lookup once for the items that carry a fingerprint (none for
    /// a page without any); fetching starts with the first [`next_part`](Self::next_part).
    /// `concurrency` is raised to 1 if 0.
    ///
    /// # Errors
    /// The lookup's.
    pub async fn start(
        ctx: &SyncContext,
        items: impl IntoIterator<Item = PendingItem<T>>,
        concurrency: usize,
        fetch: F,
    ) -> Result<Self> {
        let mut items: Vec<PendingItem<T>> = items.into_iter().collect();
        // The ids are lent to the lookup and put back rather than copied: the page's ids cost
        // one vector, not a string per item.
        let asked = items.iter().filter(|i| i.fingerprint.is_some()).count();
        let mut ids = Vec::with_capacity(asked);
        for item in items.iter_mut().filter(|i| i.fingerprint.is_some()) {
            ids.push(std::mem::take(&mut item.id));
        }
        let known = KnownFingerprints::lookup(ctx, &ids).await;
        for (item, id) in items
            .iter_mut()
            .filter(|i| i.fingerprint.is_some())
            .zip(ids)
        {
            item.id = id;
        }
        Ok(Self {
            known: known?,
            items: items.into(),
            queued: VecDeque::new(),
            running: FuturesOrdered::new(),
            fetch,
            concurrency: concurrency.max(1),
        })
    }

    /// The outcomes of the next items, in page order, until the documents among them hold at
    /// least `max_bytes` of content (the part then ends with the item that brought a
    /// document) or every item was handed on; `None` once every item was.
    ///
    /// An item's `Err` that [ends the sync](crate::ErrorKind::ends_sync) is returned; any other
    /// becomes a [`Failure`](crate::Failure) of that item, named by its id.
    ///
    /// # Errors
    /// The first error that ends the sync.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future loses the part gathered so far. Drop the whole
    /// `ItemFetches` with it (as a stream being dropped does); that drops the fetches in flight.
    pub async fn next_part(&mut self, max_bytes: u64) -> Result<Option<Batch>> {
        if self.is_done() {
            return Ok(None);
        }
        let mut batch = Batch::default();
        let mut bytes = 0u64;
        loop {
            self.take_items(&mut batch);
            let Some(queued) = self.queued.pop_front() else {
                // Nothing queued means nothing runs, so `take_items` took every item left.
                return Ok(Some(batch));
            };
            let id = match queued {
                Queued::Unchanged(id) => {
                    batch.unchanged.push(id);
                    continue;
                }
                Queued::Fetching(id) => id,
            };
            let Some(result) = self.running.next().await else {
                return Err(Error::internal(
                    "a page's fetches ended before their items were handed on",
                ));
            };
            match result {
                Ok(outcomes) => {
                    let before = batch.documents.len();
                    outcomes.push_into(&mut batch);
                    let added: usize = batch.documents[before..]
                        .iter()
                        .map(|d| d.content.len())
                        .sum();
                    bytes = bytes.saturating_add(added as u64);
                    if added > 0 && bytes >= max_bytes {
                        return Ok(Some(batch));
                    }
                }
                Err(e) => batch.failures.push(item_failure(id, e)?),
            }
        }
    }

    /// Whether every item was handed on: [`next_part`](Self::next_part) returns `None`.
    pub fn is_done(&self) -> bool {
        self.items.is_empty() && self.queued.is_empty()
    }

    /// Takes items while a fetch slot is free or the item needs none (unchanged). An unchanged
    /// item with nothing before it still waiting goes straight into `batch`.
    fn take_items(&mut self, batch: &mut Batch) {
        while let Some(item) = self.items.front() {
            let unchanged = item
                .fingerprint
                .as_deref()
                .is_some_and(|f| self.known.is_unchanged(&item.id, f));
            if !unchanged && self.running.len() >= self.concurrency {
                break;
            }
            let Some(item) = self.items.pop_front() else {
                break;
            };
            if !unchanged {
                self.running.push_back((self.fetch)(item.value));
                self.queued.push_back(Queued::Fetching(item.id));
            } else if self.queued.is_empty() {
                batch.unchanged.push(item.id);
            } else {
                self.queued.push_back(Queued::Unchanged(item.id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::document::Document;
    use crate::error::ErrorKind;

    /// Holds version `v` of every item but every third (`k00`, `k03`, ...).
    struct EveryThirdChanged;

    #[async_trait]
    impl crate::FingerprintLookup for EveryThirdChanged {
        async fn fingerprints(&self, ids: &[String]) -> Result<HashMap<String, String>> {
            let held = |id: &&String| id[1..].parse::<usize>().is_ok_and(|n| n % 3 != 0);
            let fingerprint = Document::version_fingerprint("v");
            Ok(ids
                .iter()
                .filter(held)
                .map(|id| (id.clone(), fingerprint.clone()))
                .collect())
        }
    }

    fn id(n: usize) -> String {
        format!("k{n:02}")
    }

    /// Unchanged items and fetches come back in page order, the unchanged ones hold no fetch
    /// slot, and never more than `concurrency` fetches are in flight.
    #[tokio::test]
    async fn unchanged_items_hold_no_slot_and_order_is_kept() {
        let ctx = SyncContext::new().with_fingerprints(Arc::new(EveryThirdChanged));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let items = (0..40).map(|n| PendingItem::new(id(n), n).with_version("v"));
        let mut fetches = ItemFetches::start(&ctx, items, 2, |n: usize| {
            let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later fetches finish first, so the order is the queue's doing.
                tokio::time::sleep(Duration::from_millis(40 - n as u64)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(Document::text(
                    id(n),
                    crate::testkit::MEMORY_SOURCE,
                    "t",
                    "x",
                ))
            }
        })
        .await
        .unwrap();
        let batch = fetches.next_part(u64::MAX).await.unwrap().unwrap();
        assert!(fetches.is_done());
        assert!(fetches.next_part(u64::MAX).await.unwrap().is_none());
        let docs: Vec<String> = batch.documents.iter().map(|d| d.id.clone()).collect();
        assert_eq!(docs, (0..40).step_by(3).map(id).collect::<Vec<_>>());
        let unchanged: Vec<String> = (0..40).filter(|n| n % 3 != 0).map(id).collect();
        assert_eq!(batch.unchanged, unchanged);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn parts_end_after_the_document_that_reaches_the_bound() {
        let items = (0..7).map(|n| PendingItem::new(id(n), n));
        let mut fetches =
            ItemFetches::start(&SyncContext::new(), items, 3, |n: usize| async move {
                match n {
                    // A failure and an out-of-scope item bring no bytes and end no part.
                    2 => Err(Error::new(ErrorKind::NotFound, "gone")),
                    3 => Ok(None),
                    _ => Ok(Some(Document::text(
                        id(n),
                        crate::testkit::MEMORY_SOURCE,
                        "t",
                        "0123456789",
                    ))),
                }
            })
            .await
            .unwrap();
        let mut parts = Vec::new();
        while let Some(part) = fetches.next_part(20).await.unwrap() {
            let docs: Vec<String> = part.documents.iter().map(|d| d.id.clone()).collect();
            let failed: Vec<Option<String>> = part.failures.iter().map(|f| f.id.clone()).collect();
            parts.push((docs, failed, fetches.is_done()));
        }
        assert_eq!(
            parts,
            [
                (vec![id(0), id(1)], vec![], false),
                (vec![id(4), id(5)], vec![Some(id(2))], false),
                (vec![id(6)], vec![], true),
            ]
        );
    }
}
