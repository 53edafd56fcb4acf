//! The batch loop: drives any connector into a [`Sink`], committing progress to a
//! [`StateStore`] only after the sink acknowledged it.
//!
//! ```
//! # async fn demo(connector: std::sync::Arc<dyn connector_core::Connector>) -> connector_core::Result<()> {
//! use connector_core::sink::MemorySink;
//! use connector_core::state::MemoryStateStore;
//! use connector_core::sync::{SyncMode, Syncer};
//!
//! let sink = MemorySink::new();
//! let report = Syncer::new(connector)
//!     .sink(sink.clone())
//!     .state(MemoryStateStore::new())
//!     .run(SyncMode::Auto)
//!     .await?;
//! println!("{} new, {} updated, {} failed", report.new, report.updated, report.failed);
//! # Ok(()) }
//! ```
//!
//! # What is committed when
//! Documents are re-batched to the host's batch size (items *and* bytes, independent of the
//! source's page size). After the sink acknowledged a batch, one [`Commit`](crate::state::Commit) stores the
//! fingerprints of its documents and, once every document of a source page (and of every page
//! before it) is acknowledged, that page's checkpoint and failures. A batch that acknowledges
//! part of a page also stores how much of it ([`PagePrefix`](crate::state::PagePrefix): a count
//! and a hash of those ids); a resumed run skips that part of the page when the page still
//! starts with the same ids, and delivers it whole again otherwise. A crash at any point
//! therefore resumes with no loss, and at most the batch in flight is delivered again, with
//! the same ids.
//!
//! # What is copied
//! Nothing, for a batch that lies within one source page: the sink and then the store borrow
//! it straight from the page's own vector, and the committed documents are dropped from it.
//! Only a batch that spans two pages is moved into a vector of its own first. The loop's cost
//! over draining the connector's stream is a few percent (`cargo bench --bench sync_loop`).
//!
//! # Cancel safety
//! [`Syncer::run`] may be dropped at any `.await`: nothing unacknowledged was committed, so the
//! next run resumes cleanly (with a store that
//! [keeps checkpoints](crate::state::StateStore::keeps_checkpoints); on one that keeps none it starts
//! again from the connector's initial checkpoint). Cancelled through its token or stopped by its timeout, it stops
//! fetching at once but lets a sink write in flight finish and be committed (and starts no
//! other), so a sink is never left with half a batch; dropping the future is the way to stop
//! in the middle of a write.

mod prune;
mod run;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::connector::Connector;
use crate::context::{Cancellation, SyncContext};
use crate::document::Failure;
use crate::error::Result;
use crate::sink::Sink;
use crate::state::{MemoryStateStore, StateStore};
use crate::window::TimeWindow;

pub use prune::PruneReport;

/// Which documents a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Everything, from the start; every document is delivered and fingerprints are not used
    /// to skip downloads.
    Full,
    /// What changed in `[last window end - overlap, now)`; unchanged documents are not
    /// delivered again.
    Incremental,
    /// Continue the interrupted run from its stored checkpoint, with its window.
    Resume,
    /// Everything, from the start, delivering only what changed: the connector lists every
    /// item as in a full run, and documents whose version token or fingerprint the state store
    /// already holds are skipped as in an incremental run. It catches changes that do not
    /// move an item's modification time, so no incremental window selects them (permissions,
    /// moves, labels, a space's access), provided the connector puts them into its version
    /// tokens; a host runs it now and then, with prune, between incremental runs. Never chosen
    /// by [`Auto`](Self::Auto).
    Reconcile,
    /// Resume if a checkpoint is stored, else incremental if an earlier run finished (and the
    /// connector can poll), else full.
    Auto,
}

impl SyncMode {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
            Self::Resume => "resume",
            Self::Reconcile => "reconcile",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tuning of the batch loop.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Most documents in one sink batch (default 64).
    pub batch_docs: usize,
    /// Most content bytes in one sink batch (default 16 MiB); a single larger document goes
    /// alone.
    pub batch_bytes: u64,
    /// How far before the last window end an incremental run starts (default 0), for sources
    /// whose clocks or indexes lag.
    pub overlap: Duration,
    /// Stop the run after this long (default none). The run fails with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) and resumes next time (with a store that
    /// [keeps checkpoints](crate::state::StateStore::keeps_checkpoints)).
    pub timeout: Option<Duration>,
    /// Prune deletions after a successful run (default false).
    pub prune: bool,
    /// Refuse a prune that would delete more than this fraction of the known documents
    /// (default 0.5).
    pub max_prune_fraction: f64,
    /// Prune even past `max_prune_fraction` (default false).
    pub force_prune: bool,
    /// Retry the items that failed last time before anything else (default true).
    pub retry_failed: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            batch_docs: 64,
            batch_bytes: 16 * 1024 * 1024,
            overlap: Duration::ZERO,
            timeout: None,
            prune: false,
            max_prune_fraction: 0.5,
            force_prune: false,
            retry_failed: true,
        }
    }
}

impl SyncOptions {
    /// Sets the batch size in documents (at least 1).
    #[must_use]
    pub fn batch_docs(mut self, n: usize) -> Self {
        self.batch_docs = n.max(1);
        self
    }

    /// Sets the batch size in bytes (at least 1).
    #[must_use]
    pub fn batch_bytes(mut self, n: u64) -> Self {
        self.batch_bytes = n.max(1);
        self
    }

    /// Sets the overlap of incremental windows.
    #[must_use]
    pub fn overlap(mut self, d: Duration) -> Self {
        self.overlap = d;
        self
    }

    /// Sets the run timeout.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Prunes after the run.
    #[must_use]
    pub fn prune(mut self, on: bool) -> Self {
        self.prune = on;
        self
    }

    /// Sets the prune guard's fraction.
    #[must_use]
    pub fn max_prune_fraction(mut self, f: f64) -> Self {
        self.max_prune_fraction = f;
        self
    }

    /// Prunes past the guard.
    #[must_use]
    pub fn force_prune(mut self, on: bool) -> Self {
        self.force_prune = on;
        self
    }

    /// Turns the retry of last run's failures on or off.
    #[must_use]
    pub fn retry_failed(mut self, on: bool) -> Self {
        self.retry_failed = on;
        self
    }
}

/// Counters of a run so far, handed to the progress callback after every source page and
/// sink batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Progress {
    /// Source pages processed.
    pub pages: u64,
    /// Documents acknowledged by the sink.
    pub delivered: u64,
    /// New documents seen.
    pub new: u64,
    /// Updated documents seen.
    pub updated: u64,
    /// Unchanged documents seen.
    pub unchanged: u64,
    /// Failed items.
    pub failed: u64,
    /// Ids deleted from the sink because the source reported them deleted
    /// ([`Batch::deleted`](crate::Batch::deleted)).
    pub deleted: u64,
    /// Content bytes seen.
    pub bytes: u64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// The source key.
    pub source: &'static str,
    /// The mode the run actually used (never `Auto`).
    pub mode: SyncMode,
    /// The window it covered (`None` for a full run).
    pub window: Option<TimeWindow>,
    /// Documents the store did not know.
    pub new: u64,
    /// Documents whose fingerprint changed.
    pub updated: u64,
    /// Documents whose fingerprint did not change (delivered only in full runs).
    pub unchanged: u64,
    /// Items that failed.
    pub failed: u64,
    /// Items the source listed that were gone when read (deleted between the listing and the
    /// download): no document and no failure; prune removes what the store still holds of
    /// them. Counted by the connector ([`SyncStats::add_gone`](crate::SyncStats::add_gone)).
    pub gone: u64,
    /// Documents deleted from the sink: those the source reported deleted in its pages
    /// ([`Batch::deleted`](crate::Batch::deleted)) plus those prune removed
    /// ([`SyncReport::prune`] has prune's share).
    pub deleted: u64,
    /// Documents acknowledged by the sink.
    pub delivered: u64,
    /// Content bytes of the documents seen.
    pub bytes: u64,
    /// Source pages processed.
    pub pages: u64,
    /// Requests sent to the service (as counted by the HTTP layer).
    pub requests: u64,
    /// Requests retried.
    pub retries: u64,
    /// Time spent waiting because the service asked us to slow down.
    pub rate_limit_wait: Duration,
    /// Wall-clock duration of the run.
    pub duration: Duration,
    /// The items that failed.
    pub failures: Vec<Failure>,
    /// What prune did, when it ran.
    pub prune: Option<PruneReport>,
}

impl SyncReport {
    /// Documents per second over the run.
    pub fn docs_per_second(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        let docs = (self.new + self.updated + self.unchanged + self.failed) as f64;
        if secs > 0.0 { docs / secs } else { docs }
    }
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Runs one connector into one sink with one state store. See the [module docs](self).
pub struct Syncer {
    connector: Arc<dyn Connector>,
    sink: Arc<dyn Sink>,
    state: Arc<dyn StateStore>,
    options: SyncOptions,
    cancel: Cancellation,
    progress: Option<ProgressFn>,
    now: Option<DateTime<Utc>>,
    rate_gate: Option<Arc<dyn crate::rate::RateGate>>,
    spool: crate::spool::Spool,
}

impl Syncer {
    /// A syncer for `connector` into a [`DiscardSink`](crate::sink::DiscardSink) with a fresh
    /// [`MemoryStateStore`]; set both with [`sink`](Self::sink) and [`state`](Self::state).
    ///
    /// `connector` is a [`DynConnector`](crate::DynConnector), as
    /// [`Registry::build`](crate::Registry::build) returns it; a connector built in code goes
    /// in as `Arc::new(connector)`.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Self {
            connector,
            sink: Arc::new(crate::sink::DiscardSink),
            state: Arc::new(MemoryStateStore::new()),
            options: SyncOptions::default(),
            cancel: Cancellation::new(),
            progress: None,
            now: None,
            rate_gate: None,
            spool: crate::spool::Spool::new(),
        }
    }

    /// Where documents go.
    #[must_use]
    pub fn sink(mut self, sink: impl Sink + 'static) -> Self {
        self.sink = Arc::new(sink);
        self
    }

    /// Where documents go, shared.
    #[must_use]
    pub fn shared_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sink = sink;
        self
    }

    /// Where state lives.
    #[must_use]
    pub fn state(mut self, state: impl StateStore + 'static) -> Self {
        self.state = Arc::new(state);
        self
    }

    /// Where state lives, shared.
    #[must_use]
    pub fn shared_state(mut self, state: Arc<dyn StateStore>) -> Self {
        self.state = state;
        self
    }

    /// Tuning.
    #[must_use]
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Cancels the run when `cancel` fires (keep a clone to fire it).
    #[must_use]
    pub fn cancellation(mut self, cancel: impl Into<Cancellation>) -> Self {
        self.cancel = cancel.into();
        self
    }

    /// Shares `gate` with the connector's HTTP clients through the streams' [`SyncContext`]
    /// ([`SyncContext::with_rate_gate`](crate::SyncContext::with_rate_gate)): how workers in
    /// many processes keep, together, within one credential's rate limit.
    #[must_use]
    pub fn rate_gate(mut self, gate: Arc<dyn crate::rate::RateGate>) -> Self {
        self.rate_gate = Some(gate);
        self
    }

    /// Spools bodies too large for memory to `spool` (default: the OS temporary folder),
    /// through the streams' [`SyncContext`]
    /// ([`SyncContext::with_spool`](crate::SyncContext::with_spool)).
    #[must_use]
    pub fn spool(mut self, spool: crate::spool::Spool) -> Self {
        self.spool = spool;
        self
    }

    /// The context the streams of this run get: `cancel`, the spool, and the rate gate if one
    /// was set.
    pub(crate) fn context(&self, cancel: Cancellation) -> SyncContext {
        let ctx = SyncContext::new()
            .with_cancellation(cancel)
            .with_spool(self.spool.clone());
        match &self.rate_gate {
            Some(gate) => ctx.with_rate_gate(Arc::clone(gate)),
            None => ctx,
        }
    }

    /// Calls `f` with the counters after every source page and sink batch.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Fixes the instant the run starts at (the end of its window), for tests and replays.
    #[must_use]
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Runs a sync, then a prune if [`SyncOptions::prune`] is set.
    ///
    /// # Errors
    /// The first error that stops the run: the connector's (credentials, a missing resource,
    /// exhausted retries), [`ErrorKind::Sink`](crate::ErrorKind::Sink),
    /// [`ErrorKind::State`](crate::ErrorKind::State), [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled),
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), or a refused prune. Everything
    /// acknowledged before it stays committed.
    pub async fn run(&self, mode: SyncMode) -> Result<SyncReport> {
        run::run(self, mode).await
    }

    /// Deletes from the sink (and the store) every known document the source no longer lists.
    ///
    /// # Errors
    /// The listing's error (nothing is deleted), a refusal by the guard, or the sink's error.
    pub async fn prune(&self) -> Result<PruneReport> {
        prune::prune(self).await
    }
}

impl fmt::Debug for Syncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Syncer")
            .field("connector", &self.connector.to_string())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
