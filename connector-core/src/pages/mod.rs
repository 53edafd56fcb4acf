//! The page pipeline: the one way every connector turns a source page into a [`Batch`].
//!
//! A connector writes two things: "fetch the page at this cursor" and "fetch and convert one
//! item". Everything between is here, once:
//!
//! 1. [`paginate`] walks the pages (page number, offset, cursor, next link) with a
//!    repeated-cursor guard and a page bound; [`read_ahead`] fetches the next page while this
//!    one converts; [`convert_blocking`] moves CPU-heavy page conversion off the runtime thread;
//!    [`ConvertAhead`] does the same for a loop whose fetches need one session in turn (IMAP),
//!    converting one part on the blocking pool while the next is fetched;
//!    [`OffsetWalk`] keeps offset paging from skipping items when the result set shrinks.
//! 2. [`fetch_items`] takes a page's items, each with its id and, where the listing shows it,
//!    its version: it asks the [`FingerprintLookup`](crate::FingerprintLookup) once for the
//!    whole page, reports unchanged items without fetching their bodies, fetches the others a
//!    few at a time in page order, and sorts every result into the batch by the one
//!    [error policy](crate::ErrorKind::ends_sync): an error that concerns the whole connector
//!    ends the sync, any other becomes a [`Failure`] naming the item and the page goes on.
//! 3. The connector yields the batch (with its checkpoint, for a checkpointed connector).
//!
//! ```
//! use connector_core::pages::{PendingItem, fetch_items};
//! use connector_core::{Document, Error, ErrorKind, SyncContext};
//! # async fn demo() -> connector_core::Result<()> {
//! // A listing page told us each item's id and version; bodies cost a request each.
//! let listed = vec![("a", "v1"), ("b", "v7"), ("c", "v2")];
//! let pending = listed
//!     .into_iter()
//!     .map(|(id, version)| PendingItem::new(id, id.to_owned()).with_version(version));
//! let batch = fetch_items(&SyncContext::new(), pending, 4, |id: String| async move {
//!     if id == "b" {
//!         // Not connector-wide: `b` becomes a failure naming it, `a` and `c` still come.
//!         return Err(Error::new(ErrorKind::NotFound, "gone"));
//!     }
//!     Ok(Document::text(format!("notes:{id}"), "notes", &id, "body"))
//! })
//! .await?;
//! assert_eq!(batch.documents.len(), 2);
//! assert_eq!(batch.failures[0].id.as_deref(), Some("b"));
//! # Ok(()) }
//! ```

mod ahead;
mod fetch;
mod io;
mod offset;
mod paginate;
mod slim;
mod thread;

use std::collections::HashMap;
use std::future::Future;

pub use ahead::{ConvertAhead, Spawned};
pub use fetch::ItemFetches;
pub use io::{IoRuntime, replace_io_runtime, set_io_runtime};
pub use offset::{OffsetWalk, Step};
pub use paginate::{
    Page, PageLimit, convert_blocking, convert_spawned, paginate, read_ahead, read_ahead_by,
};
pub use thread::{read_ahead_converting, read_ahead_on_thread};

use crate::context::SyncContext;
use crate::document::{Batch, Document, Failure};
use crate::error::{Error, Result};

/// What became of one item of a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The item as a document.
    Document(Box<Document>),
    /// The item could not be produced; the sync goes on without it.
    Failure(Failure),
    /// The store already holds this version of the item (by id); its body was not fetched.
    Unchanged(String),
}

impl From<Document> for Outcome {
    fn from(document: Document) -> Self {
        Self::Document(Box::new(document))
    }
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Self {
        Self::Failure(failure)
    }
}

/// What an item fetch yields: one [`Document`], one [`Outcome`], several (an item and its
/// attachments), or nothing (an item the fetch found out of scope).
pub trait IntoOutcomes: Send {
    /// Appends the outcomes to `batch`, in order.
    fn push_into(self, batch: &mut Batch);
}

impl IntoOutcomes for Document {
    fn push_into(self, batch: &mut Batch) {
        batch.documents.push(self);
    }
}

impl IntoOutcomes for Outcome {
    fn push_into(self, batch: &mut Batch) {
        batch.push(self);
    }
}

impl<T: IntoOutcomes> IntoOutcomes for Option<T> {
    fn push_into(self, batch: &mut Batch) {
        if let Some(outcomes) = self {
            outcomes.push_into(batch);
        }
    }
}

impl<T: IntoOutcomes> IntoOutcomes for Vec<T> {
    fn push_into(self, batch: &mut Batch) {
        for outcome in self {
            outcome.push_into(batch);
        }
    }
}

impl Batch {
    /// Adds one item's outcome.
    pub fn push(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Document(d) => self.documents.push(*d),
            Outcome::Failure(f) => self.failures.push(f),
            Outcome::Unchanged(id) => self.unchanged.push(id),
        }
    }

    /// Moves everything of `other` to the end of this batch.
    pub fn append(&mut self, mut other: Batch) {
        self.documents.append(&mut other.documents);
        self.failures.append(&mut other.failures);
        self.unchanged.append(&mut other.unchanged);
        self.deleted.append(&mut other.deleted);
    }
}

/// One item of a page before its body is fetched: its document id, what the listing said of
/// its version, and whatever the fetch needs (`value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingItem<T> {
    /// The id its document will have (and its failure, if it fails).
    pub id: String,
    /// The fingerprint its document will have, when the listing shows it before the body
    /// (from a version token: ETag, version number, `updated` + id).
    pub fingerprint: Option<String>,
    /// What the fetch takes.
    pub value: T,
}

impl<T> PendingItem<T> {
    /// An item whose version is not known before its body.
    pub fn new(id: impl Into<String>, value: T) -> Self {
        Self {
            id: id.into(),
            fingerprint: None,
            value,
        }
    }

    /// The listing shows the item's version `token`; its document must be built with
    /// [`Document::with_version`] from the same token.
    #[must_use]
    pub fn with_version(mut self, token: &str) -> Self {
        self.fingerprint = Some(Document::version_fingerprint(token));
        self
    }

    /// The listing shows the item's fingerprint itself.
    #[must_use]
    pub fn with_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }
}

/// The fingerprints the state store holds for a page's items, asked once for the page, and,
/// from [`lookup_with_parents`](Self::lookup_with_parents), their parents.
#[derive(Debug, Clone, Default)]
pub struct KnownFingerprints {
    fingerprints: HashMap<String, String>,
    /// The stored parent of each known id that has one; `None` when the parents were not
    /// asked for or the lookup keeps none.
    parents: Option<HashMap<String, String>>,
}

impl KnownFingerprints {
    /// Asks the sync's lookup for `ids` in one call (none for an empty page).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn lookup(ctx: &SyncContext, ids: &[String]) -> Result<Self> {
        if ids.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            fingerprints: ctx.fingerprints().fingerprints(ids).await?,
            parents: None,
        })
    }

    /// [`lookup`](Self::lookup) with the stored parents too, in the same one call, for a
    /// connector that asks for children by parent and reports children unchanged by their
    /// version: [`has_version_under`](Self::has_version_under) then also checks the parent.
    /// A lookup that keeps no parents ([`FingerprintLookup::states`](crate::FingerprintLookup::states)
    /// returns `None`) gives what [`lookup`](Self::lookup) gives.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn lookup_with_parents(ctx: &SyncContext, ids: &[String]) -> Result<Self> {
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let Some(states) = ctx.fingerprints().states(ids).await? else {
            return Self::lookup(ctx, ids).await;
        };
        let mut fingerprints = HashMap::with_capacity(states.len());
        let mut parents = HashMap::new();
        for (id, state) in states {
            if let Some(parent) = state.parent_id {
                parents.insert(id.clone(), parent);
            }
            fingerprints.insert(id, state.fingerprint);
        }
        Ok(Self {
            fingerprints,
            parents: Some(parents),
        })
    }

    /// Whether the store holds exactly `fingerprint` for `id`.
    pub fn is_unchanged(&self, id: &str, fingerprint: &str) -> bool {
        self.fingerprints.get(id).is_some_and(|f| f == fingerprint)
    }

    /// Whether the store holds the fingerprint of version `token` for `id`.
    pub fn has_version(&self, id: &str, token: &str) -> bool {
        self.fingerprints
            .get(id)
            .is_some_and(|f| *f == Document::version_fingerprint(token))
    }

    /// [`has_version`](Self::has_version), and, when the parents were looked up
    /// ([`lookup_with_parents`](Self::lookup_with_parents)), the store holds `parent` as the
    /// id's parent. A child whose stored parent is missing (stored before parents were kept)
    /// or another one is then not unchanged: the connector produces it again, and the batch
    /// loop records its parent without delivering it to the sink again (its fingerprint is
    /// unchanged).
    pub fn has_version_under(&self, id: &str, token: &str, parent: Option<&str>) -> bool {
        self.has_version(id, token)
            && self
                .parents
                .as_ref()
                .is_none_or(|parents| parents.get(id).map(String::as_str) == parent)
    }
}

/// Fetches a page's items and sorts the results into a [`Batch`], in page order.
///
/// - Items with a [`fingerprint`](PendingItem::fingerprint) are looked up in one call; one
///   the store already holds is [`Outcome::Unchanged`] and `fetch` is not called for it.
/// - The others are fetched with up to `concurrency` fetches in flight (at least 1), their
///   results kept in page order; an unchanged item holds no fetch slot ([`ItemFetches`], which
///   also hands a page of large items on in parts).
/// - A fetch's `Err` that [ends the sync](crate::ErrorKind::ends_sync) is returned (the rest of
///   the page is dropped); any other becomes a [`Failure`] of that item, named by its id
///   ([`Failure::of_item`]).
///
/// # Errors
/// The first error that ends the sync, or the lookup's.
///
/// # Cancel safety
/// Dropping the future drops the fetches in flight; nothing is committed by it.
pub async fn fetch_items<T, O, F, Fut>(
    ctx: &SyncContext,
    items: impl IntoIterator<Item = PendingItem<T>>,
    concurrency: usize,
    fetch: F,
) -> Result<Batch>
where
    O: IntoOutcomes,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<O>>,
{
    let mut fetches = ItemFetches::start(ctx, items, concurrency, fetch).await?;
    Ok(fetches.next_part(u64::MAX).await?.unwrap_or_default())
}

/// Resuming inside a page: drops from `items` (the page listed again) every item up to and
/// including the one whose id is `handed_on`, the last item a checkpoint says was handed on.
///
/// Items are matched by identity, never by comparing ids: a listing need not come in byte
/// order (Azure's hierarchical-namespace accounts list depth-first, many stores count in
/// UTF-16 units), and an `id > handed_on` filter would silently skip whatever sorts before
/// it. When no item has that id (it went since the first listing), the page is kept whole:
/// its items are handed on again, and their fingerprints make that cost a lookup, not a
/// download. Returns whether `handed_on` was found.
///
/// This is the connector's side of an in-page resume, for a connector that hands one listing
/// page on in parts (each with a checkpoint naming its last item, as a page of large blobs is)
/// and whose store cannot list "from after a key". It differs from the engine's
/// [`PagePrefix`](crate::state::PagePrefix), which resumes a page the *sink* acknowledged in
/// part: that one holds a count and a hash, because the engine knows nothing of an item's
/// identity beyond its place in the page, and it delivers the page whole when the prefix
/// changed. Both stay: the two resumes happen at different layers and can both apply to one
/// page.
///
/// ```
/// let mut page = vec!["A", "A/dat1", "A-B", "A-B/dat2"];
/// assert!(connector_core::pages::skip_handed_on(&mut page, "A/dat1", |s: &&str| *s));
/// assert_eq!(page, ["A-B", "A-B/dat2"]);
/// let mut page = vec!["x", "y"];
/// assert!(!connector_core::pages::skip_handed_on(&mut page, "gone", |s: &&str| *s));
/// assert_eq!(page, ["x", "y"]);
/// ```
pub fn skip_handed_on<T>(items: &mut Vec<T>, handed_on: &str, id: impl Fn(&T) -> &str) -> bool {
    match items.iter().position(|item| id(item) == handed_on) {
        Some(at) => {
            items.drain(..=at);
            true
        }
        None => false,
    }
}

/// The policy in one place: `Err(e)` back when `e` ends the sync, else the item's failure.
///
/// # Errors
/// `e` itself when it [ends the sync](crate::ErrorKind::ends_sync).
pub fn item_failure(id: impl Into<String>, e: Error) -> Result<Failure> {
    if e.kind().ends_sync() {
        Err(e)
    } else {
        Ok(Failure::of_item(id, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Store(HashMap<String, String>);

    #[async_trait]
    impl crate::FingerprintLookup for Store {
        async fn fingerprints(&self, ids: &[String]) -> Result<HashMap<String, String>> {
            Ok(ids
                .iter()
                .filter_map(|id| self.0.get(id).map(|f| (id.clone(), f.clone())))
                .collect())
        }
    }

    fn doc(id: &str) -> Document {
        Document::text(id, crate::testkit::MEMORY_SOURCE, id, "body").with_version("v2")
    }

    #[test]
    fn append_moves_every_part_including_the_deleted_ids() {
        let mut first = Batch::new(vec![doc("a")]).with_deleted(vec!["x".to_owned()]);
        first.unchanged.push("u".to_owned());
        let mut second = Batch::new(vec![doc("b")]).with_deleted(vec!["y".to_owned()]);
        second.failures.push(Failure::new(
            Some("f".to_owned()),
            ErrorKind::InvalidData,
            "broken",
        ));
        first.append(second);
        let ids: Vec<&str> = first.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(first.deleted, ["x", "y"]);
        assert_eq!(first.unchanged, ["u"]);
        assert_eq!(first.failures.len(), 1);
    }

    #[tokio::test]
    async fn unchanged_items_are_not_fetched_and_order_is_kept() {
        let known = HashMap::from([
            ("b".to_owned(), Document::version_fingerprint("v2")),
            ("c".to_owned(), Document::version_fingerprint("old")),
        ]);
        let ctx = SyncContext::new().with_fingerprints(Arc::new(Store(known)));
        let calls = AtomicUsize::new(0);
        let items = ["a", "b", "c", "d"]
            .into_iter()
            .map(|id| PendingItem::new(id, id).with_version("v2"));
        let batch = fetch_items(&ctx, items, 3, |id| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                // Later items finish first: the batch still keeps page order.
                let delay = if id == "a" { 20 } else { 1 };
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                Ok(doc(id))
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let ids: Vec<&str> = batch.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "d"]);
        assert_eq!(batch.unchanged, ["b"]);
    }

    #[tokio::test]
    async fn item_errors_become_failures_naming_the_item_and_connector_errors_end() {
        let items = ["a", "b", "c"]
            .into_iter()
            .map(|id| PendingItem::new(id, id));
        let batch = fetch_items(&SyncContext::new(), items, 2, |id| async move {
            match id {
                "b" => Err(Error::new(ErrorKind::RateLimited, "slow down")),
                _ => Ok(Some(doc(id))),
            }
        })
        .await
        .unwrap();
        assert_eq!(batch.documents.len(), 2);
        assert_eq!(batch.failures.len(), 1);
        assert_eq!(batch.failures[0].id.as_deref(), Some("b"));
        assert!(batch.failures[0].message.contains('b'));
        assert!(batch.failures[0].retryable);

        let items = ["a", "b", "c"]
            .into_iter()
            .map(|id| PendingItem::new(id, id));
        let err = fetch_items(&SyncContext::new(), items, 2, |id| async move {
            match id {
                "b" => Err(Error::new(ErrorKind::Unauthenticated, "token revoked")),
                _ => Ok(doc(id)),
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    }

    #[test]
    fn policy_ends_only_on_connector_wide_kinds() {
        for kind in [
            ErrorKind::Unauthenticated,
            ErrorKind::Cancelled,
            ErrorKind::Config,
            ErrorKind::Checkpoint,
            ErrorKind::State,
            ErrorKind::Sink,
            ErrorKind::Internal,
        ] {
            assert!(kind.ends_sync(), "{kind:?}");
        }
        for kind in [
            ErrorKind::PermissionDenied,
            ErrorKind::NotFound,
            ErrorKind::RateLimited,
            ErrorKind::Unavailable,
            ErrorKind::InvalidData,
            ErrorKind::Unsupported,
            ErrorKind::Timeout,
        ] {
            assert!(!kind.ends_sync(), "{kind:?}");
        }
    }
}
