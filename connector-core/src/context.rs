//! [`SyncContext`]: what the batch loop hands every stream it opens.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::rate::RateGate;

/// Asks a sync, and every stream and request it started, to stop.
///
/// Cheap to clone; every clone cancels the same sync. A [`child`](Cancellation::child) is
/// cancelled with its parent but can be cancelled alone. Hosts make one, keep a clone and hand
/// one to [`Syncer::cancellation`](crate::sync::Syncer::cancellation); connectors see it in
/// [`SyncContext::cancellation`].
#[derive(Clone, Default)]
pub struct Cancellation(CancellationToken);

impl Cancellation {
    /// A cancellation that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires it: the sync stops at its next page or batch boundary.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether it has fired.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes when it fires (cancel safe).
    pub async fn cancelled(&self) {
        self.0.cancelled().await;
    }

    /// A cancellation that fires with this one, and can also fire alone.
    pub fn child(&self) -> Self {
        Self(self.0.child_token())
    }

    /// `Err(`[`ErrorKind::Cancelled`]`)` once it has fired: `ctx.cancellation().check()?`
    /// between pages.
    ///
    /// # Errors
    /// [`ErrorKind::Cancelled`] when the sync was cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::new(ErrorKind::Cancelled, "the sync was cancelled"))
        } else {
            Ok(())
        }
    }
}

impl From<CancellationToken> for Cancellation {
    fn from(token: CancellationToken) -> Self {
        Self(token)
    }
}

impl fmt::Debug for Cancellation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancellation")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Looks up the fingerprints the host already holds, so a connector can skip downloading the
/// body of an item whose version it can see beforehand (ETag, version number, size + mtime).
///
/// The lookup is batched, one call per source page, so a store backed by a database never has
/// to hold every fingerprint in memory.
#[async_trait]
pub trait FingerprintLookup: Send + Sync + 'static {
    /// The stored fingerprint of each id that has one; ids unknown to the store are absent.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn fingerprints(&self, ids: &[String]) -> Result<HashMap<String, String>>;

    /// Whether the lookup remembers what earlier runs delivered (a state store's does;
    /// [`NoFingerprints`] does not). A connector whose time filter cannot see every change (a
    /// WebDAV `getlastmodified` is the file's own mtime, which uploads and moves keep) may
    /// then hand items outside the window to the lookup, which tells new and changed ones from
    /// the rest by their version; without it, it keeps to the window.
    fn remembers(&self) -> bool {
        true
    }

    /// What the store holds of each id it knows (fingerprint and
    /// [`parent_id`](crate::state::DocumentState::parent_id); ids unknown to the store are
    /// absent), or `None` when the lookup keeps no parents. A connector whose children are
    /// reported unchanged by their version alone reads it through
    /// [`KnownFingerprints::lookup_with_parents`](crate::pages::KnownFingerprints::lookup_with_parents),
    /// so that a child stored without its parent (before parents were kept) or under another
    /// one is produced again and its parent recorded rather than skipped for good.
    ///
    /// The provided implementation returns `None`. The batch loop's lookup returns the
    /// states for a connector whose roles claim [`children`](crate::RolesOf::children) (the
    /// only ones whose store keeps parents), and `None` for any other.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn states(
        &self,
        ids: &[String],
    ) -> Result<Option<HashMap<String, crate::state::DocumentState>>> {
        let _ = ids;
        Ok(None)
    }
}

/// A lookup that knows no fingerprint: every item is downloaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFingerprints;

#[async_trait]
impl FingerprintLookup for NoFingerprints {
    async fn fingerprints(&self, _ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(HashMap::new())
    }

    fn remembers(&self) -> bool {
        false
    }
}

/// Looks up the stored documents that are children of others (their
/// [`parent_id`](crate::Document::parent_id) names them), so a connector can delete a deleted
/// item's children that the source does not report deleted itself: a mail service's delta
/// reports a message removed, not its attachments, which are documents of their own.
///
/// Batched, one call per page that deletes, as [`FingerprintLookup`] is; the batch loop hands
/// connectors its state store's [`children`](crate::state::StateStore::children) in every kind
/// of run.
#[async_trait]
pub trait ChildLookup: Send + Sync + 'static {
    /// The ids of the stored documents whose parent is one of `parents`, each once, in the
    /// ids' byte order.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn children(&self, parents: &[String]) -> Result<Vec<String>>;
}

/// A lookup that knows no document, so no child: a context without a state store (a
/// connector's stream drained on its own) has delivered nothing that could be left behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoChildren;

#[async_trait]
impl ChildLookup for NoChildren {
    async fn children(&self, _parents: &[String]) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Counters the HTTP layer and connectors add to while a sync runs; the batch loop copies them
/// into the [`SyncReport`](crate::sync::SyncReport).
#[derive(Debug, Default)]
pub struct SyncStats {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
    gone: AtomicU64,
}

impl SyncStats {
    /// Counts one request sent to the service.
    pub fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one retried request.
    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds time spent waiting because the service asked us to slow down.
    pub fn add_rate_limit_wait(&self, wait: Duration) {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.rate_limit_wait_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Counts one item the source listed that was gone when read (deleted between its
    /// listing and its download): neither a document nor a failure, and not silent either.
    pub fn add_gone(&self) {
        self.gone.fetch_add(1, Ordering::Relaxed);
    }

    /// Items found gone so far ([`add_gone`](Self::add_gone)).
    pub fn gone(&self) -> u64 {
        self.gone.load(Ordering::Relaxed)
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Retries so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Time spent waiting on rate limits so far.
    pub fn rate_limit_wait(&self) -> Duration {
        Duration::from_millis(self.rate_limit_wait_ms.load(Ordering::Relaxed))
    }
}

/// Cancellation, the fingerprint and child lookups and the run's counters, handed to every
/// stream.
///
/// Cheap to clone. Streams should stop at the next page boundary once
/// [`is_cancelled`](SyncContext::is_cancelled) is true; the batch loop also drops them.
#[derive(Clone)]
pub struct SyncContext {
    cancel: Cancellation,
    fingerprints: Arc<dyn FingerprintLookup>,
    children: Arc<dyn ChildLookup>,
    stats: Arc<SyncStats>,
    rate_gate: Option<Arc<dyn RateGate>>,
    spool: crate::spool::Spool,
}

impl SyncContext {
    /// A context with a fresh token, no known fingerprints and fresh counters.
    pub fn new() -> Self {
        Self {
            cancel: Cancellation::new(),
            fingerprints: Arc::new(NoFingerprints),
            children: Arc::new(NoChildren),
            stats: Arc::new(SyncStats::default()),
            rate_gate: None,
            spool: crate::spool::Spool::new(),
        }
    }

    /// Uses `cancel` for cancellation.
    #[must_use]
    pub fn with_cancellation(mut self, cancel: impl Into<Cancellation>) -> Self {
        self.cancel = cancel.into();
        self
    }

    /// Uses `lookup` for fingerprints.
    #[must_use]
    pub fn with_fingerprints(mut self, lookup: Arc<dyn FingerprintLookup>) -> Self {
        self.fingerprints = lookup;
        self
    }

    /// Uses `lookup` for the children of stored documents.
    #[must_use]
    pub fn with_children(mut self, lookup: Arc<dyn ChildLookup>) -> Self {
        self.children = lookup;
        self
    }

    /// Uses `stats` for counters.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<SyncStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Shares `gate` with every HTTP client of the sync: a client that takes this context
    /// ([`HttpClient::with_context`](crate::http::HttpClient::with_context)) and has no gate of
    /// its own asks it before each request (see [`RateGate`]). How a host that runs many
    /// workers keeps them, together, within a credential's rate limit.
    #[must_use]
    pub fn with_rate_gate(mut self, gate: Arc<dyn RateGate>) -> Self {
        self.rate_gate = Some(gate);
        self
    }

    /// Spools bodies too large for memory to `spool` (default: the OS temporary folder), for
    /// connectors that spool them ([`crate::spool`]).
    #[must_use]
    pub fn with_spool(mut self, spool: crate::spool::Spool) -> Self {
        self.spool = spool;
        self
    }

    /// Where bodies too large for memory are spooled.
    pub fn spool(&self) -> &crate::spool::Spool {
        &self.spool
    }

    /// The rate gate shared with the sync's HTTP clients, if any.
    pub fn rate_gate(&self) -> Option<&Arc<dyn RateGate>> {
        self.rate_gate.as_ref()
    }

    /// The sync's cancellation.
    pub fn cancellation(&self) -> &Cancellation {
        &self.cancel
    }

    /// Whether the sync was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The fingerprint lookup.
    pub fn fingerprints(&self) -> &Arc<dyn FingerprintLookup> {
        &self.fingerprints
    }

    /// The lookup of stored documents by parent.
    pub fn children(&self) -> &Arc<dyn ChildLookup> {
        &self.children
    }

    /// The run's counters.
    pub fn stats(&self) -> &Arc<SyncStats> {
        &self.stats
    }
}

impl Default for SyncContext {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SyncContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("stats", &self.stats)
            .field("rate_gate", &self.rate_gate)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}
