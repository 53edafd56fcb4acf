//! One run of the batch loop.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tracing::Instrument;

use super::{Progress, SyncMode, SyncReport, Syncer};
use crate::connector::CheckpointJson;
use crate::context::{ChildLookup, FingerprintLookup, NoFingerprints, SyncStats};
use crate::document::{Batch, Document, Failure};
use crate::error::{Error, ErrorKind, Result};
use crate::state::{
    CheckpointUpdate, Commit, DocumentState, DocumentStates, FailedItem, Known, PagePrefix,
    PrefixHasher, RunRecord, RunStatus, StateStore, StoredCheckpoint, failure_key,
};
use crate::window::TimeWindow;

type Pages = BoxStream<'static, Result<(Batch, Option<CheckpointJson>)>>;

/// Fingerprints and children from the state store, for connectors that skip unchanged bodies
/// and that delete a deleted item's children.
struct StoreLookup {
    store: Arc<dyn StateStore>,
    /// The store keeps parents for this connector (`Roles::asks_children`): only then does
    /// [`FingerprintLookup::states`] answer.
    parents: bool,
}

impl StoreLookup {
    /// What `keep` takes of the stored state of each of `ids` the store knows.
    async fn known<T>(
        &self,
        ids: &[String],
        keep: fn(DocumentState) -> T,
    ) -> Result<HashMap<String, T>> {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let known = self.store.documents(&refs).await?;
        Ok(ids
            .iter()
            .zip(known)
            .filter_map(|(id, state)| state.map(|s| (id.clone(), keep(s))))
            .collect())
    }
}

#[async_trait]
impl FingerprintLookup for StoreLookup {
    async fn fingerprints(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        self.known(ids, |s| s.fingerprint).await
    }

    async fn states(&self, ids: &[String]) -> Result<Option<HashMap<String, DocumentState>>> {
        if !self.parents {
            return Ok(None);
        }
        Ok(Some(self.known(ids, |s| s).await?))
    }
}

#[async_trait]
impl ChildLookup for StoreLookup {
    async fn children(&self, parents: &[String]) -> Result<Vec<String>> {
        let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
        self.store.children(&refs).await
    }
}

/// What a run knows and has counted; it outlives the run's future so that a cancelled or
/// timed-out run can still be logged.
struct RunState {
    mode: SyncMode,
    window: Option<TimeWindow>,
    window_end: DateTime<Utc>,
    progress: Progress,
    failures: Vec<Failure>,
    /// What a completed run leaves for the next incremental one (`Some(None)`: forget what
    /// was kept); `None` when the run did not complete or the connector has no checkpoints.
    carried: Option<Option<CheckpointJson>>,
}

pub(super) async fn run(syncer: &Syncer, mode: SyncMode) -> Result<SyncReport> {
    let clock = Instant::now();
    let started_at = syncer.now.unwrap_or_else(Utc::now);
    let source = syncer.connector.source();
    let cancel = syncer.cancel.child();
    let stats = Arc::new(SyncStats::default());
    let span = tracing::info_span!("sync", source, connector = %syncer.connector, mode = %mode);
    let mut state = RunState {
        mode,
        window: None,
        window_end: started_at,
        progress: Progress::default(),
        failures: Vec::new(),
        carried: None,
    };

    // Held by the loop while a sink batch is written and committed; a cancelled or timed-out
    // run takes it before it stops, so it never stops in the middle of a write.
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let outcome = {
        let body = execute(
            syncer,
            mode,
            started_at,
            cancel.clone(),
            stats.clone(),
            gate.clone(),
            &mut state,
        )
        .instrument(span.clone());
        tokio::pin!(body);
        let deadline = async {
            match syncer.options.timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let stop = async {
            tokio::select! {
                biased;
                () = cancel.cancelled() => Error::new(ErrorKind::Cancelled, "the sync was cancelled").with_connector(source),
                () = deadline => Error::new(ErrorKind::Timeout, format!(
                    "the sync ran past its timeout of {:?}; it resumes from its last acknowledged checkpoint",
                    syncer.options.timeout.unwrap_or_default()
                )).with_connector(source),
            }
        };
        let stopped = tokio::select! {
            biased;
            result = &mut body => Ok(result),
            err = stop => Err(err),
        };
        match stopped {
            Ok(result) => result,
            Err(err) => {
                // The connector stops fetching; a sink write in flight finishes and is
                // committed (the body keeps running until it lets the gate go), and none
                // starts after: the gate is held until the body is dropped.
                cancel.cancel();
                let _held = tokio::select! {
                    biased;
                    held = gate.clone().lock_owned() => Some(held),
                    _ = &mut body => None,
                };
                Err(err)
            }
        }
    };
    // A connector stops its stream early when it sees the token cancelled; that end is not the
    // end of the source, so the run must not be recorded as finished.
    let outcome = match outcome {
        Ok(()) if cancel.is_cancelled() => {
            Err(Error::new(ErrorKind::Cancelled, "the sync was cancelled").with_connector(source))
        }
        other => other,
    };
    // The body future is gone here: every stream it opened has been dropped.
    cancel.cancel();

    let failed = state.progress.failed;
    let mut record = RunRecord {
        mode: state.mode.as_str().to_owned(),
        status: if failed > 0 {
            RunStatus::PartiallySucceeded
        } else {
            RunStatus::Succeeded
        },
        started_at,
        finished_at: started_at + chrono::Duration::from_std(clock.elapsed()).unwrap_or_default(),
        window: state.window,
        new: state.progress.new,
        updated: state.progress.updated,
        unchanged: state.progress.unchanged,
        failed,
        deleted: state.progress.deleted,
        error: None,
    };
    if let Err(err) = outcome {
        record.status = RunStatus::Failed;
        record.error = Some(err.to_string());
        let _enter = span.enter();
        tracing::warn!(error = %err, "sync failed; progress up to the last acknowledged batch is kept");
        if let Err(log_err) = syncer.state.finish_run(record, None).await {
            tracing::warn!(error = %log_err, "could not log the failed run");
        }
        return Err(err);
    }
    // Before the run is recorded as finished: a crash between the two resumes the run, which
    // carries over again.
    if let Some(carried) = state.carried.take() {
        syncer.state.carry(carried).await?;
    }
    syncer
        .state
        .finish_run(record, Some(state.window_end))
        .await?;

    let mut report = SyncReport {
        source,
        mode: state.mode,
        window: state.window,
        new: state.progress.new,
        updated: state.progress.updated,
        unchanged: state.progress.unchanged,
        failed,
        gone: stats.gone(),
        deleted: state.progress.deleted,
        delivered: state.progress.delivered,
        bytes: state.progress.bytes,
        pages: state.progress.pages,
        requests: stats.requests(),
        retries: stats.retries(),
        rate_limit_wait: stats.rate_limit_wait(),
        duration: clock.elapsed(),
        failures: state.failures,
        prune: None,
    };
    if syncer.options.prune {
        let pruned = syncer.prune().instrument(span).await?;
        report.deleted += pruned.deleted;
        report.prune = Some(pruned);
        report.duration = clock.elapsed();
    }
    tracing::info!(
        source,
        new = report.new,
        updated = report.updated,
        unchanged = report.unchanged,
        failed = report.failed,
        deleted = report.deleted,
        "sync finished"
    );
    Ok(report)
}

async fn execute(
    syncer: &Syncer,
    mode: SyncMode,
    started_at: DateTime<Utc>,
    cancel: crate::context::Cancellation,
    stats: Arc<SyncStats>,
    gate: Arc<tokio::sync::Mutex<()>>,
    state: &mut RunState,
) -> Result<()> {
    let connector = &syncer.connector;
    let source = connector.source();
    let stored = syncer.state.load().await?;
    if stored.checkpoint.is_some() && !syncer.state.keeps_checkpoints() {
        // The store breaks its contract: a run resumed from this checkpoint commits none, so a
        // second failure would resume from the same point and deliver its batches again.
        tracing::warn!(
            "the state store says it keeps no checkpoints but returned one; the run resumes from it but will not move it on"
        );
    }
    let roles = connector.roles();
    let checkpointed = roles.as_checkpointed();
    let can_poll = roles.as_poll().is_some();

    let resolved = match mode {
        SyncMode::Auto if stored.checkpoint.is_some() && checkpointed.is_some() => SyncMode::Resume,
        SyncMode::Auto if stored.last_window_end.is_some() && can_poll => SyncMode::Incremental,
        SyncMode::Auto => SyncMode::Full,
        other => other,
    };
    state.mode = resolved;

    let refetch = roles.as_refetch().filter(|_| syncer.options.retry_failed);
    let (window, window_end, resume_from) = match resolved {
        SyncMode::Full | SyncMode::Reconcile => (None, started_at, None),
        SyncMode::Incremental => {
            if !can_poll {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "this connector cannot list changes in a time window; run a full sync",
                )
                .with_connector(source));
            }
            // The longer of the host's overlap and the source's own lag allowance.
            let overlap = syncer.options.overlap.max(connector.min_overlap());
            let overlap = chrono::Duration::from_std(overlap).unwrap_or_default();
            let mut start = stored
                .last_window_end
                .map_or(DateTime::<Utc>::UNIX_EPOCH, |end| end - overlap);
            // Failures the connector cannot fetch again by id hold the window back, so the run
            // covers them again: the window never moves past a recorded loss. An item the
            // connector cannot read at all (`Unsupported`: an encrypted library, a format it
            // has no reader for) is no loss a later window could repair, only a change of the
            // item (which dates it anew) or of the connector (a full run) can: it stays
            // recorded and reported, but pinning every later window to its time would make
            // each incremental run as long as a full one, for good.
            for item in &stored.failed {
                if item.failure.kind == ErrorKind::Unsupported {
                    continue;
                }
                if refetch.is_none() || item.failure.id.is_none() {
                    start = start.min(item.window_start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH));
                }
            }
            let window = TimeWindow {
                start: start.min(started_at),
                end: started_at,
            };
            (Some(window), started_at, None)
        }
        SyncMode::Resume => {
            let Some(cp) = stored.checkpoint.clone() else {
                return Err(Error::checkpoint("there is no interrupted run to resume")
                    .with_connector(source));
            };
            if checkpointed.is_none() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "this connector cannot resume from a checkpoint",
                )
                .with_connector(source));
            }
            let end = cp.window.map_or(cp.started_at, |w| w.end);
            (cp.window, end, Some(cp))
        }
        SyncMode::Auto => unreachable_auto()?,
    };
    state.window = window;
    state.window_end = window_end;
    let reconcile = match &resume_from {
        Some(cp) => cp.reconcile,
        None => resolved == SyncMode::Reconcile,
    };
    // A run that delivers every document, changed or not (a full run, not a reconciliation).
    let full_run = window.is_none() && !reconcile;
    let run_started = resume_from.as_ref().map_or(started_at, |cp| cp.started_at);
    tracing::info!(mode = %resolved, window = ?window, "sync started");

    let keep_parents = roles.asks_children();
    let store_lookup = Arc::new(StoreLookup {
        store: syncer.state.clone(),
        parents: keep_parents,
    });
    let lookup: Arc<dyn FingerprintLookup> = if full_run {
        Arc::new(NoFingerprints)
    } else {
        store_lookup.clone()
    };
    let ctx = syncer
        .context(cancel)
        .with_fingerprints(lookup)
        .with_children(store_lookup)
        .with_stats(stats);

    let known_failures: HashMap<String, FailedItem> =
        stored.failed.iter().map(|f| (f.key(), f.clone())).collect();
    // Where a run that resumes nothing starts: an incremental run from what the last finished
    // run carried over (a change feed's position), else from the initial checkpoint.
    let start = match (&resume_from, checkpointed) {
        (None, Some(dyn_cp)) => {
            let carried = stored
                .carried
                .as_ref()
                .filter(|_| resolved == SyncMode::Incremental);
            match carried {
                Some(c) if dyn_cp.reads(c) => Some(c.clone()),
                Some(c) => {
                    tracing::warn!(
                        written_by = %c.source,
                        version = c.version,
                        "the checkpoint the last run carried over is not this connector's; starting from the initial one"
                    );
                    Some(dyn_cp.initial_checkpoint_json()?)
                }
                None => Some(dyn_cp.initial_checkpoint_json()?),
            }
        }
        _ => None,
    };
    // Where the first page of the run starts, for a checkpoint inside it.
    let base_checkpoint = match (&resume_from, &start) {
        (Some(cp), _) => Some(cp.checkpoint.clone()),
        (None, start) => start.clone(),
    };
    let mut pipeline = Pipeline {
        gate,
        keeps_checkpoints: syncer.state.keeps_checkpoints(),
        base_checkpoint,
        base_stored: None,
        resume_prefix: resume_from.as_ref().and_then(|cp| cp.page_prefix),
        syncer,
        state,
        window,
        run_started,
        full_run,
        keep_parents,
        reconcile,
        buffer: VecDeque::new(),
        buffer_len: 0,
        buffer_bytes: 0,
        staging: Vec::new(),
        pages: VecDeque::new(),
        known_failures,
        reported: HashSet::new(),
        resolved: HashSet::new(),
        refetching: false,
        refetched: HashSet::new(),
        spare: Vec::new(),
    };

    // 1. Items that failed last time, fetched again by id, before anything else (a run without
    // a window lists them anyway).
    if let (Some(refetch), Some(_)) = (refetch, window) {
        let ids: Vec<String> = stored
            .failed
            .iter()
            .filter_map(|f| f.failure.id.clone())
            .collect();
        if !ids.is_empty() {
            tracing::info!(
                count = ids.len(),
                "retrying the items that failed last time"
            );
            let pages: Pages = refetch
                .fetch(ids.clone(), ctx.clone())
                .map_ok(|b| (b, None))
                .boxed();
            pipeline.refetching = true;
            pipeline.drain(pages).await?;
            pipeline.refetching = false;
            // An id that came back neither as a document nor as a failure is gone from the
            // source; prune deals with it.
            let gone: Vec<String> = ids
                .into_iter()
                .filter(|id| !pipeline.reported.contains(id))
                .collect();
            pipeline.resolve(gone).await?;
        }
    }

    // 2. The run itself.
    let pages: Pages = if let Some(dyn_cp) = checkpointed {
        let from = match (&resume_from, start) {
            (Some(cp), _) => cp.checkpoint.clone(),
            (None, Some(start)) => start,
            (None, None) => dyn_cp.initial_checkpoint_json()?,
        };
        dyn_cp
            .load_from_checkpoint_json(from, window, ctx.clone())
            .map_ok(|p| (p.batch, Some(p.checkpoint)))
            .boxed()
    } else if let Some(w) = window {
        match roles.as_poll() {
            Some(poll) => poll.poll(w, ctx.clone()).map_ok(|b| (b, None)).boxed(),
            None => {
                return Err(
                    Error::new(ErrorKind::Unsupported, "this connector cannot poll")
                        .with_connector(source),
                );
            }
        }
    } else {
        match roles.as_load() {
            Some(load) => load.load(ctx.clone()).map_ok(|b| (b, None)).boxed(),
            None => {
                return Err(
                    Error::new(ErrorKind::Unsupported, "this connector cannot load")
                        .with_connector(source),
                );
            }
        }
    };
    pipeline.drain(pages).await?;

    // 3. Old failures this run covered and did not see fail again are resolved.
    let covered: Vec<String> = pipeline
        .known_failures
        .iter()
        .filter(|(key, item)| {
            !pipeline.reported.contains(*key)
                && !pipeline.resolved.contains(*key)
                && match window {
                    None => true,
                    Some(w) => item.window_start.is_some_and(|s| s >= w.start),
                }
        })
        .map(|(key, _)| key.clone())
        .collect();
    pipeline.resolve(covered).await?;

    // 4. What the next incremental run starts from, out of where this one ended.
    if let Some(dyn_cp) = checkpointed {
        pipeline.state.carried = Some(match &pipeline.base_checkpoint {
            Some(last) => dyn_cp
                .carry_over_json(last)?
                .map(checkpoint_without_secrets),
            None => None,
        });
    }
    Ok(())
}

fn unreachable_auto() -> Result<(Option<TimeWindow>, DateTime<Utc>, Option<StoredCheckpoint>)> {
    Err(Error::internal("sync mode `auto` was not resolved"))
}

/// How many acknowledged pages' id and place buffers [`Pipeline::spare`] keeps: pages are
/// acknowledged in order, and seldom more than two are in flight.
const SPARE_BUFFERS: usize = 2;

struct PendingPage {
    checkpoint: Option<CheckpointJson>,
    /// Delivered documents not yet acknowledged.
    remaining: usize,
    failures: Vec<Failure>,
    resolved: Vec<String>,
    /// The ids of the connector's page, in its order (checkpointed pages only), and the place
    /// in it of each document handed to the sink: what a checkpoint inside the page records.
    ids: PageIds,
    positions: Vec<u32>,
    /// The hash of the page's settled ids so far (see [`PendingPage::prefix`]).
    settled_ids: Option<Box<PrefixHasher>>,
}

/// The ids of a connector's page, in order, in one buffer: one allocation per page rather
/// than a copy of every id.
#[derive(Debug, Default)]
struct PageIds {
    text: String,
    ends: Vec<usize>,
}

impl PageIds {
    #[cfg(test)]
    fn of(documents: &[Document]) -> Self {
        let mut ids = Self::default();
        for doc in documents {
            ids.push(&doc.id);
        }
        ids
    }

    /// Adds the next id of the page.
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// Empties it, keeping its buffers for the next page.
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `n`th id.
    fn get(&self, n: usize) -> Option<&str> {
        let start = match n.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..*self.ends.get(n)?)
    }

    /// The ids, borrowed.
    fn strs(&self) -> Vec<&str> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let id = self.text.get(start..end).unwrap_or_default();
                start = end;
                id
            })
            .collect()
    }
}

impl PendingPage {
    /// How many leading documents of the connector's page need no delivery now: acknowledged,
    /// skipped as unchanged, or delivered by the retry of failures.
    fn settled(&self) -> usize {
        let acked = self.positions.len() - self.remaining;
        self.positions
            .get(acked)
            .map_or(self.ids.len(), |&at| at as usize)
    }

    /// The [`PagePrefix`] of the first `settled` ids, hashing only the ids settled since the
    /// last call (what is settled only grows: the sink acknowledges in order).
    fn prefix(&mut self, settled: usize) -> PagePrefix {
        let hasher = self.settled_ids.get_or_insert_with(Box::default);
        if hasher.len() > settled {
            return PagePrefix::of(&self.ids.strs(), settled);
        }
        while hasher.len() < settled {
            let Some(id) = self.ids.get(hasher.len()) else {
                break;
            };
            hasher.push(id);
        }
        hasher.prefix()
    }
}

/// `stored` without any live secret in its connector state (a next-page URL that carries
/// `?api_key=`, a cursor a service built from a token): checkpoints are written to disk. The
/// connector then resumes from a cursor holding `***` where the secret was, which it must
/// fill in again (its credentials are added to every request anyway); a warning says so.
fn without_secrets(mut stored: StoredCheckpoint) -> StoredCheckpoint {
    stored.checkpoint = checkpoint_without_secrets(stored.checkpoint);
    stored
}

/// [`without_secrets`] for a bare checkpoint (what a run carries over to the next).
fn checkpoint_without_secrets(mut checkpoint: CheckpointJson) -> CheckpointJson {
    let text = checkpoint.state.to_string();
    if let std::borrow::Cow::Owned(redacted) = crate::secret::redact(&text) {
        match serde_json::from_str(&redacted) {
            Ok(state) => {
                static WARNED: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        "a connector's checkpoint held a credential; checkpoints are stored with it removed"
                    );
                }
                checkpoint.state = state;
            }
            // A replacement that broke the JSON (it cannot: `***` replaces text inside a
            // string); storing nothing is safer than storing the secret.
            Err(_) => checkpoint.state = serde_json::Value::Null,
        }
    }
    checkpoint
}

/// Keeps the entries of `items` whose flag is set, and the same entries of `positions`.
/// Turns the spooled documents of `batch` into failures naming them, for a sink that cannot
/// read a spooled body ([`Sink::takes_spooled`](crate::sink::Sink::takes_spooled)): the rest
/// of the page goes on, and the failures are retried next run.
fn refuse_spooled(batch: &mut Batch, positions: &mut Vec<u32>) {
    let keep: Vec<bool> = batch
        .documents
        .iter()
        .map(|d| !d.content.is_spooled())
        .collect();
    for doc in batch.documents.iter().filter(|d| d.content.is_spooled()) {
        let mut failure = Failure::new(
            Some(doc.id.clone()),
            ErrorKind::Unsupported,
            format!(
                "{}: its body ({} bytes) was spooled to a file because it is too large for \
                 memory, and the sink cannot read a spooled body (Sink::takes_spooled); use a \
                 sink that does or lower the source's limit",
                doc.id,
                doc.content.len()
            ),
        );
        if let Some(link) = &doc.link {
            failure = failure.with_link(link.clone());
        }
        batch.failures.push(failure);
    }
    retain_flagged(&mut batch.documents, positions, &keep);
}

fn retain_flagged<T>(items: &mut Vec<T>, positions: &mut Vec<u32>, keep: &[bool]) {
    let mut n = 0;
    items.retain(|_| {
        n += 1;
        keep[n - 1]
    });
    let mut n = 0;
    positions.retain(|_| {
        n += 1;
        keep[n - 1]
    });
}

struct Pipeline<'a> {
    /// Held while a batch is written and committed (see [`run`]).
    gate: Arc<tokio::sync::Mutex<()>>,
    /// The store keeps checkpoints ([`StateStore::keeps_checkpoints`](crate::state::StateStore::keeps_checkpoints)):
    /// when it does not, none is made for it (no secret-free copy of a page's checkpoint, no
    /// checkpoint inside a page), which is most of what the loop does per page and per batch
    /// beyond delivering.
    keeps_checkpoints: bool,
    /// The checkpoint the oldest page not yet committed starts from.
    base_checkpoint: Option<CheckpointJson>,
    /// It without secrets, as a checkpoint inside that page stores it: made once per page,
    /// not once per sink batch.
    base_stored: Option<CheckpointJson>,
    /// The acknowledged start of the first page of a resumed run, to skip.
    resume_prefix: Option<PagePrefix>,
    syncer: &'a Syncer,
    state: &'a mut RunState,
    window: Option<TimeWindow>,
    run_started: DateTime<Utc>,
    /// Unchanged documents are delivered too.
    full_run: bool,
    /// The connector asks for stored documents by parent (`Roles::asks_children`): the
    /// store keeps each document's `parent_id`. Otherwise it is left out of the commit.
    keep_parents: bool,
    /// The run is a [`SyncMode::Reconcile`] (stored with its checkpoints).
    reconcile: bool,
    /// Documents waiting for the sink, oldest first, one queue per source page (the page's own
    /// vector). A sink batch that lies within one page is lent to the sink and the store
    /// straight from it; the committed documents are then dropped from its front.
    buffer: VecDeque<VecDeque<Document>>,
    buffer_len: usize,
    buffer_bytes: u64,
    /// A batch that spans pages, moved out of them (the only documents the loop moves).
    staging: Vec<Document>,
    /// Source pages not yet committed, oldest first.
    pages: VecDeque<PendingPage>,
    known_failures: HashMap<String, FailedItem>,
    reported: HashSet<String>,
    resolved: HashSet<String>,
    /// Whether the pages come from the retry of last run's failures.
    refetching: bool,
    /// Ids produced (or failed again) by that retry: the run's own pages skip them, so an item
    /// is counted and delivered once per run.
    refetched: HashSet<String>,
    /// The emptied id and place buffers of acknowledged pages, for the next pages: a page of
    /// 2,000 documents fills tens of kilobytes of each, which were allocated and freed again
    /// for every page (large requests make the allocator consolidate the freed small chunks
    /// of the page's documents first).
    spare: Vec<(PageIds, Vec<u32>)>,
}

impl Pipeline<'_> {
    async fn drain(&mut self, mut pages: Pages) -> Result<()> {
        while let Some(item) = pages.next().await {
            let (batch, checkpoint) = match item {
                Ok(page) => page,
                Err(err) => return Err(self.settle_before(err).await),
            };
            let n = self.state.progress.pages + 1;
            self.page(batch, checkpoint)
                .instrument(tracing::debug_span!("page", n))
                .await?;
        }
        while self.buffer_len > 0 {
            self.flush_one().await?;
        }
        self.commit_pages().await
    }

    /// The source failed after the pages before it came whole: those are delivered and
    /// committed, so the next run resumes after them rather than fetching them again (the
    /// pages a smaller batch would have flushed already). Not when the run is being stopped
    /// (cancelled or out of time: no further sink write starts then). A failure to deliver
    /// them is logged; the source's error is what the run reports.
    async fn settle_before(&mut self, err: Error) -> Error {
        if matches!(err.kind(), ErrorKind::Cancelled | ErrorKind::Timeout) {
            return err;
        }
        while self.buffer_len > 0 {
            if let Err(e) = self.flush_one().await {
                tracing::warn!(error = %e, "could not deliver the pages before the source's error");
                return err;
            }
        }
        if let Err(e) = self.commit_pages().await {
            tracing::warn!(error = %e, "could not commit the pages before the source's error");
        }
        err
    }

    async fn page(&mut self, mut batch: Batch, checkpoint: Option<CheckpointJson>) -> Result<()> {
        // One pass over the page's documents before the store's compare: their ids (for a
        // checkpoint inside the page), their places, their bytes, and whether any body is
        // spooled. A source page can be thousands of documents, more than the caches hold, so
        // each pass over it is a pass over memory. The id and place buffers are the ones the
        // last acknowledged page left ([`Pipeline::spare`]).
        let (mut ids, mut positions) = self.spare.pop().unwrap_or_default();
        // The ids are for a checkpoint inside the page, which a store that keeps none is not
        // given, and for the resumed page's prefix.
        let keep_ids = checkpoint.is_some()
            && !self.refetching
            && (self.keeps_checkpoints || self.resume_prefix.is_some());
        positions.reserve(batch.documents.len());
        let mut page_bytes = 0u64;
        let mut spooled = false;
        for (n, doc) in batch.documents.iter().enumerate() {
            if keep_ids {
                ids.push(&doc.id);
            }
            positions.push(u32::try_from(n).unwrap_or(u32::MAX));
            page_bytes += doc.content.len() as u64;
            spooled |= doc.content.is_spooled();
        }
        let listed = batch.documents.len();
        if !self.refetching
            && let Some(prefix) = self.resume_prefix.take()
        {
            let settled = prefix.skip_in(&ids.strs());
            if settled > 0 {
                tracing::info!(
                    documents = settled,
                    "resuming inside a page: its first documents were acknowledged before the stop"
                );
                batch.documents.drain(..settled);
                positions.drain(..settled);
            } else if prefix.documents > 0 {
                tracing::info!("the interrupted page changed since; it is delivered again whole");
            }
        }
        if spooled && !self.syncer.sink.takes_spooled() {
            refuse_spooled(&mut batch, &mut positions);
        }
        if self.refetching {
            let ids = batch.documents.iter().map(|d| d.id.clone());
            let failed = batch.failures.iter().filter_map(|f| f.id.clone());
            self.refetched.extend(ids.chain(failed));
        } else if !self.refetched.is_empty() {
            let seen = &self.refetched;
            let keep: Vec<bool> = batch
                .documents
                .iter()
                .map(|d| !seen.contains(&d.id))
                .collect();
            retain_flagged(&mut batch.documents, &mut positions, &keep);
            batch
                .failures
                .retain(|f| f.id.as_ref().is_none_or(|id| !seen.contains(id)));
            batch.unchanged.retain(|id| !seen.contains(id));
        }
        if !batch.deleted.is_empty() {
            let deleted = std::mem::take(&mut batch.deleted);
            self.delete(deleted, &batch.documents).await?;
        }
        let progress = &mut self.state.progress;
        progress.pages += 1;
        let known = if batch.documents.is_empty() {
            Vec::new()
        } else if self.keep_parents && !self.full_run {
            self.compare_with_parents(&batch.documents).await?
        } else {
            self.syncer.state.compare(&batch.documents).await?
        };
        let mut page = PendingPage {
            checkpoint,
            remaining: 0,
            failures: batch.failures,
            resolved: Vec::new(),
            ids,
            positions: Vec::new(),
            settled_ids: None,
        };
        let progress = &mut self.state.progress;
        let watch_failures = !self.known_failures.is_empty();
        let mut documents = batch.documents;
        if documents.len() != listed {
            // Some were left out above (a resumed prefix, spooled bodies, retried items): the
            // bytes are those of the rest.
            page_bytes = documents.iter().map(|d| d.content.len() as u64).sum();
        }
        let mut skip = Vec::new();
        let mut skipped_bytes = 0u64;
        // The documents themselves are read again only for what needs them: a failure to
        // resolve, or an unchanged document to leave out.
        for (n, known) in known.into_iter().take(documents.len()).enumerate() {
            match known {
                Known::New => progress.new += 1,
                Known::Changed => progress.updated += 1,
                Known::Unchanged => progress.unchanged += 1,
            }
            if watch_failures
                && let Some(doc) = documents.get(n)
                && self.known_failures.contains_key(&doc.id)
            {
                page.resolved.push(doc.id.clone());
            }
            if known == Known::Unchanged && !self.full_run {
                skipped_bytes += documents.get(n).map_or(0, |d| d.content.len() as u64);
                skip.push(n);
            }
        }
        progress.bytes += page_bytes;
        if !skip.is_empty() {
            // Unchanged documents are not delivered again outside full runs.
            let mut keep = vec![true; documents.len()];
            for n in skip {
                keep[n] = false;
            }
            retain_flagged(&mut documents, &mut positions, &keep);
        }
        page.remaining = documents.len();
        page.positions = positions;
        self.buffer_len += documents.len();
        self.buffer_bytes += page_bytes - skipped_bytes;
        if !documents.is_empty() {
            self.buffer.push_back(VecDeque::from(documents));
        }
        progress.unchanged += batch.unchanged.len() as u64;
        for id in batch.unchanged {
            if self.known_failures.contains_key(&id) {
                page.resolved.push(id);
            }
        }
        progress.failed += page.failures.len() as u64;
        for failure in &mut page.failures {
            // No live secret in what is logged, keyed, kept and stored, however the connector
            // built it (the key taken after, so that it is the stored failure's).
            redact_failure(failure);
            // Its `Display`: the message and, where there is one, the place ("— at page 3 …").
            tracing::warn!(item = failure.id.as_deref().unwrap_or("-"), kind = %failure.kind, "{failure}");
            self.reported.insert(failure_key(failure));
            self.state.failures.push(failure.clone());
        }
        self.pages.push_back(page);

        let opts = &self.syncer.options;
        while self.buffer_len >= opts.batch_docs
            || (self.buffer_bytes >= opts.batch_bytes && self.buffer_len > 0)
        {
            self.flush_one().await?;
        }
        if self.buffer_len == 0 {
            // Nothing of this page (or an earlier one) waits for the sink: commit it now, so a
            // long run of unchanged pages still moves the checkpoint.
            self.commit_pages().await?;
        }
        self.report_progress();
        Ok(())
    }

    /// [`StateStore::compare`] for a connector whose store keeps parents, in a run that skips
    /// unchanged documents: a document whose fingerprint is unchanged but whose parent is not
    /// the stored one (a row stored before parents were kept has none; a child moved under
    /// an unchanged version token) is still unchanged, and is not delivered again (the sink
    /// holds this version), but its parent is committed at once, with the stored fingerprint
    /// and `updated_at`: otherwise [`StateStore::children`] would miss it, or find it under
    /// the parent it left, until its fingerprint changed. It reads the stored states
    /// ([`StateStore::documents`]) instead of comparing in place, which only such a
    /// connector pays for.
    async fn compare_with_parents(&mut self, documents: &[Document]) -> Result<Vec<Known>> {
        let ids: Vec<&str> = documents.iter().map(|d| d.id.as_str()).collect();
        let stored = self.syncer.state.documents(&ids).await?;
        let mut known = Vec::with_capacity(documents.len());
        let mut moved = Vec::new();
        for (doc, state) in documents.iter().zip(stored) {
            let k = Known::of(doc, state.as_ref().map(|s| s.fingerprint.as_str()));
            if let Some(state) = state
                && k == Known::Unchanged
                && state.parent_id != doc.parent_id
            {
                moved.push((
                    doc.id.clone(),
                    DocumentState {
                        parent_id: doc.parent_id.clone(),
                        ..state
                    },
                ));
            }
            known.push(k);
        }
        if !moved.is_empty() {
            tracing::debug!(
                count = moved.len(),
                "recording the parents of unchanged documents"
            );
            let gate = Arc::clone(&self.gate);
            let _writing = gate.lock().await;
            self.syncer
                .state
                .commit(Commit {
                    documents: DocumentStates::from(moved),
                    ..Commit::default()
                })
                .await?;
        }
        Ok(known)
    }

    /// Deletes what the source reported deleted ([`Batch::deleted`]) from the sink and the
    /// store, in stream order: every document buffered before is written first, so a document
    /// an earlier page delivered and this page deletes ends deleted. The ids among the page's
    /// own `documents` are kept (the page's documents are its last word). A repeat after a
    /// resume deletes again, which is harmless.
    async fn delete(&mut self, mut ids: Vec<String>, documents: &[Document]) -> Result<()> {
        if !documents.is_empty() {
            let present: HashSet<&str> = documents.iter().map(|d| d.id.as_str()).collect();
            ids.retain(|id| !present.contains(id.as_str()));
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        while self.buffer_len > 0 {
            self.flush_one().await?;
        }
        let syncer = self.syncer;
        let source = syncer.connector.source();
        let gate = Arc::clone(&self.gate);
        let writing = gate.lock().await;
        syncer.sink.delete(&ids).await.map_err(|e| {
            if e.kind() == ErrorKind::Sink {
                e.with_connector(source)
            } else {
                Error::new(ErrorKind::Sink, "the sink refused a deletion")
                    .with_connector(source)
                    .with_cause(e)
            }
        })?;
        syncer.state.remove_documents(&ids).await?;
        tracing::debug!(
            count = ids.len(),
            "deleted what the source reported deleted"
        );
        self.state.progress.deleted += ids.len() as u64;
        // A deleted item's old failure is settled: there is nothing left to retry.
        let settled: Vec<String> = ids
            .into_iter()
            .filter(|id| self.known_failures.contains_key(id))
            .collect();
        drop(writing);
        if !settled.is_empty() {
            self.resolve(settled).await?;
        }
        Ok(())
    }

    /// Sends the oldest buffered documents, up to the batch limits, and commits what the sink
    /// acknowledged.
    async fn flush_one(&mut self) -> Result<()> {
        let syncer = self.syncer;
        let opts = &syncer.options;
        let mut count = 0;
        let mut bytes = 0u64;
        // `None`: the batch's bytes are summed once it is known, from documents then in cache.
        let mut known_bytes = None;
        if self.buffer_bytes <= opts.batch_bytes {
            // Everything buffered fits the byte limit: the batch is the oldest `batch_docs`
            // documents.
            count = self.buffer_len.min(opts.batch_docs);
            if count == self.buffer_len {
                known_bytes = Some(self.buffer_bytes);
            }
        } else {
            'measure: for part in &self.buffer {
                for doc in part {
                    let size = doc.content.len() as u64;
                    if count >= opts.batch_docs || (count > 0 && bytes + size > opts.batch_bytes) {
                        break 'measure;
                    }
                    bytes += size;
                    count += 1;
                }
            }
            known_bytes = Some(bytes);
        }
        if count == 0 {
            return Ok(());
        }
        self.buffer_len -= count;
        // A batch within the oldest page is lent from it as it is; one that spans pages is
        // moved into `staging` first.
        let in_page = self.buffer.front().is_some_and(|page| page.len() >= count);
        if !in_page {
            self.stage(count);
        }
        let gate = Arc::clone(&self.gate);
        let _writing = gate.lock().await;
        let batch = self.batch_mut(in_page, count);
        let bytes =
            known_bytes.unwrap_or_else(|| batch.iter().map(|d| d.content.len() as u64).sum());
        let source = syncer.connector.source();
        syncer.sink.write(batch).await.map_err(|e| {
            if e.kind() == ErrorKind::Sink {
                e.with_connector(source)
            } else {
                Error::new(ErrorKind::Sink, "the sink refused a batch")
                    .with_connector(source)
                    .with_cause(e)
            }
        })?;
        self.buffer_bytes -= bytes;
        self.state.progress.delivered += count as u64;

        // The buffer is first in, first out, so the acknowledged documents are the oldest
        // outstanding ones of the oldest pages.
        let mut acked = count;
        for page in &mut self.pages {
            if acked == 0 {
                break;
            }
            let take = page.remaining.min(acked);
            page.remaining -= take;
            acked -= take;
        }
        let mut commit = self.acknowledged_pages();
        if let Some(inside) = self.checkpoint_inside_page() {
            commit.checkpoint = CheckpointUpdate::Set(inside);
        }
        // The store takes what it keeps of each document straight from the acknowledged batch,
        // and no parent unless it is asked for children: what it is not asked for, it does
        // not keep.
        let keep_parents = self.keep_parents;
        let batch = self.batch_mut(in_page, count);
        commit.documents = DocumentStates::lent(batch, keep_parents);
        syncer.state.commit(commit).await?;
        if in_page {
            if let Some(page) = self.buffer.front_mut() {
                page.drain(..count.min(page.len()));
                if page.is_empty() {
                    self.buffer.pop_front();
                }
            }
        } else {
            self.staging.clear();
        }
        self.report_progress();
        Ok(())
    }

    /// Moves the oldest `count` buffered documents into `staging`.
    fn stage(&mut self, count: usize) {
        self.staging.clear();
        self.staging.reserve(count);
        while self.staging.len() < count {
            let Some(page) = self.buffer.front_mut() else {
                break;
            };
            let want = count - self.staging.len();
            if page.len() <= want {
                // The whole rest of a page, each document moved once (a `Vec` made of the
                // page first moved its rest to the front of its buffer when the page's head
                // had gone with earlier batches, and then again into `staging`).
                if let Some(page) = self.buffer.pop_front() {
                    self.staging.extend(page);
                }
            } else {
                self.staging.extend(page.drain(..want));
            }
        }
    }

    /// The batch of `count` documents that [`flush_one`](Self::flush_one) is sending.
    fn batch_mut(&mut self, in_page: bool, count: usize) -> &mut [Document] {
        if !in_page {
            return &mut self.staging;
        }
        match self.buffer.front_mut() {
            // A page's queue is never pushed to, so it is contiguous already and this moves
            // nothing.
            Some(page) => page.make_contiguous().get_mut(..count).unwrap_or_default(),
            None => &mut [],
        }
    }

    /// Commits every leading page all of whose documents are acknowledged, if there is one.
    async fn commit_pages(&mut self) -> Result<()> {
        let commit = self.acknowledged_pages();
        if commit.is_empty() {
            return Ok(());
        }
        let gate = Arc::clone(&self.gate);
        let _writing = gate.lock().await;
        self.syncer.state.commit(commit).await
    }

    /// The checkpoint inside the oldest uncommitted page, when the sink acknowledged some of
    /// its documents: where the page starts and how much of it is settled.
    fn checkpoint_inside_page(&mut self) -> Option<StoredCheckpoint> {
        if !self.keeps_checkpoints {
            return None;
        }
        let page = self.pages.front_mut()?;
        let settled = page.settled();
        if page.ids.is_empty() || settled == 0 || page.remaining == 0 {
            return None;
        }
        let page_prefix = Some(page.prefix(settled));
        let checkpoint = match &self.base_stored {
            Some(stored) => stored.clone(),
            None => {
                let stored = checkpoint_without_secrets(self.base_checkpoint.clone()?);
                self.base_stored = Some(stored.clone());
                stored
            }
        };
        Some(StoredCheckpoint {
            checkpoint,
            window: self.window,
            started_at: self.run_started,
            reconcile: self.reconcile,
            page_prefix,
        })
    }

    /// Takes every leading page all of whose documents are acknowledged: its checkpoint (the
    /// latest one) and its failures.
    fn acknowledged_pages(&mut self) -> Commit<'static> {
        let mut commit = Commit::default();
        let mut checkpoint = None;
        while self.pages.front().is_some_and(|p| p.remaining == 0) {
            let Some(mut page) = self.pages.pop_front() else {
                break;
            };
            if self.spare.len() < SPARE_BUFFERS {
                page.ids.clear();
                page.positions.clear();
                self.spare.push((page.ids, page.positions));
            }
            if page.checkpoint.is_some() {
                checkpoint = page.checkpoint;
            }
            for mut failure in page.failures {
                // Stored on disk: redacted again (a secret made live since it was taken in).
                redact_failure(&mut failure);
                let key = failure_key(&failure);
                let previous = self.known_failures.get(&key);
                commit.failed.push(FailedItem {
                    attempts: previous.map_or(1, |p| p.attempts + 1),
                    first_failed_at: previous.map_or(self.run_started, |p| p.first_failed_at),
                    window_start: self.window.map(|w| w.start),
                    failure,
                });
            }
            for key in page.resolved {
                if self.resolved.insert(key.clone()) {
                    commit.resolved.push(key);
                }
            }
        }
        match checkpoint {
            // A store that keeps no checkpoint is given none; the last one is still the base
            // of what the run carries over at its end.
            Some(cp) if !self.keeps_checkpoints => self.base_checkpoint = Some(cp),
            Some(cp) => {
                self.base_checkpoint = Some(cp.clone());
                let stored = without_secrets(StoredCheckpoint {
                    checkpoint: cp,
                    window: self.window,
                    started_at: self.run_started,
                    reconcile: self.reconcile,
                    page_prefix: None,
                });
                self.base_stored = Some(stored.checkpoint.clone());
                commit.checkpoint = CheckpointUpdate::Set(stored);
            }
            None => {}
        }
        commit
    }

    /// Marks stored failures as resolved.
    async fn resolve(&mut self, keys: Vec<String>) -> Result<()> {
        let fresh: Vec<String> = keys
            .into_iter()
            .filter(|k| self.resolved.insert(k.clone()))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        self.syncer
            .state
            .commit(Commit {
                resolved: fresh,
                ..Commit::default()
            })
            .await
    }

    fn report_progress(&self) {
        if let Some(f) = &self.syncer.progress {
            f(&self.state.progress);
        }
    }
}

/// Removes every live secret from a failure's `message` and `place` (both public fields: a
/// connector may set them directly, bypassing `Failure::at`'s redaction).
fn redact_failure(failure: &mut crate::Failure) {
    if let std::borrow::Cow::Owned(m) = crate::secret::redact(&failure.message) {
        failure.message = m;
    }
    if let Some(std::borrow::Cow::Owned(p)) = failure.place.as_deref().map(crate::secret::redact) {
        failure.place = Some(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The prefix hashed an id at a time as batches settle is the one hashed whole, which
        /// a resumed run compares with (`PagePrefix::skip_in`).
        #[test]
        fn a_growing_prefix_is_the_prefix_hashed_whole(
            ids in proptest::collection::vec("\\PC{0,12}", 1..40),
            steps in proptest::collection::vec(0usize..8, 1..12),
        ) {
            let docs: Vec<Document> =
                ids.iter().map(|id| Document::text(id.clone(), "t", "t", "b")).collect();
            let mut page = PendingPage {
                checkpoint: None,
                remaining: 0,
                failures: Vec::new(),
                resolved: Vec::new(),
                ids: PageIds::of(&docs),
                positions: Vec::new(),
                settled_ids: None,
            };
            prop_assert_eq!(page.ids.strs(), ids.iter().map(String::as_str).collect::<Vec<_>>());
            let mut settled = 0;
            for step in steps {
                settled = (settled + step).min(ids.len());
                prop_assert_eq!(page.prefix(settled), PagePrefix::of(&ids, settled));
                prop_assert_eq!(PagePrefix::of(&ids, settled).skip_in(&ids), settled);
            }
        }
    }

    #[test]
    fn a_checkpoint_is_stored_without_live_secrets() {
        let key = crate::Secret::new("canary-7d1e4f0b");
        let stored = without_secrets(StoredCheckpoint {
            checkpoint: CheckpointJson {
                source: "rest_api".into(),
                version: 1,
                state: serde_json::json!({ "next": "https://api.example/items?page=3&api_key=canary-7d1e4f0b" }),
            },
            window: None,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            reconcile: false,
            page_prefix: None,
        });
        assert_eq!(
            stored.checkpoint.state,
            serde_json::json!({ "next": "https://api.example/items?page=3&api_key=***" })
        );
        drop(key);
    }
}
