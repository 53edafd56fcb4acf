//! Workers: claim jobs with a lease, run them through core's [`Syncer`], renew the lease
//! with a heartbeat that also stores the counters, finish, retry with backoff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use connector_core::sink::Sink;
use connector_core::state::{FailedItem, StateStore};
use connector_core::sync::{Progress, SyncMode, SyncOptions, Syncer};
use connector_core::{Cancellation, Document, Error, ErrorKind, Failure, PartitionSpec, Result};
use tokio::task::JoinSet;

use crate::connectors::ConnectorStore;
use crate::credentials::SqlCredentialStore;
use crate::db::SyncDb;
use crate::jobs::{self, Claim, Claimed, Finish, JobCounters, JobKind, JobMode};
use crate::observe::{JobEvent, JobEventKind, JobObserver, RunStats};
use crate::rate_gate::{self, Held, SqlRateGate};
use crate::sinks::SinkFactory;
use crate::store::{Lease, Scope, SqlStateStore, on_pool, scope_hash, sql_now};

/// Attempts in a row that resumed a stored checkpoint and failed without committing anything
/// before that checkpoint is dropped and the run starts over (Onyx ignores a checkpoint after
/// repeated attempts without progress too), counting only errors that may be the checkpoint's
/// fault (see `stalls_checkpoint`). A cursor that the source answers with a 5xx (or a timeout
/// of its own, not the job's) at every resume, before any page, is never dropped by this
/// rule: every job resuming it fails after `max_attempts`, and a full trigger (or a rebuild)
/// starts over (review47 L4).
const MAX_CHECKPOINT_STALLS: u32 = 3;

/// The longest wait an error may ask for, whatever `max_retry_after` says: a year, which
/// both databases store and `chrono` adds without overflow.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Now plus `wait`, without overflow for any duration (the latest time `chrono` holds past
/// that; callers cut `wait` to [`LONGEST_WAIT`] first).
pub(crate) fn later(wait: Duration) -> chrono::DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

/// The shortest wait for a shared rate limit that holds an attempt back, for a time limit of
/// `limit` (the job's `timeout_secs`, the worker's `stall_timeout`): a tenth of it, at most a
/// minute. A shorter wait is a paced client's slot, not a throttle: an attempt that loops on
/// such slots without progress is hung (review61 M1).
fn long_wait(limit: Duration) -> Duration {
    (limit / 10).min(Duration::from_secs(60))
}

/// How a worker runs (see [`SyncService::run_workers`](crate::SyncService::run_workers)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The worker's id in the `worker` table and in job leases; by default the host name,
    /// the process id and a random suffix.
    pub id: Option<String>,
    /// Jobs it runs at once (default 4).
    pub jobs: usize,
    /// Jobs of one source it runs at once (default 2), so one slow service does not take
    /// every slot. A limit of this worker, not of all workers on the database: N workers run
    /// up to N × `per_source` jobs of a source (the shared rate limit per credential is what
    /// holds all of them to a service's rate).
    pub per_source: usize,
    /// How long a claimed job stays this worker's without a heartbeat (default 30 s): after
    /// that another worker may take it over and resume it from its checkpoint.
    pub lease: Duration,
    /// How often the lease is renewed and the counters stored (default 5 s); keep it well
    /// under `lease`.
    pub heartbeat: Duration,
    /// How often an idle worker looks for due jobs (default 1 s).
    pub poll: Duration,
    /// Attempts in a row without progress (no commit) before a job fails for good
    /// (default 5). An attempt that committed anything is not counted, nor one given back
    /// when its worker stops, nor one its service rate-limited: a long job interrupted many
    /// times while it advances is never failed for it.
    pub max_attempts: u32,
    /// How long a sync attempt may go without progress (a source page, a sink batch, a call
    /// into the sink starting or returning, so a page's fetch and its write are timed each on
    /// its own) before it is stopped and counted as failed (default 30 min; a long wait for a shared rate
    /// limit, at least a tenth of this and at most a minute, is not a stall, a paced client's
    /// shorter slots are). Its lease is then no longer renewed, so a hung source stream or a sink
    /// write stuck on a dead mount never holds its connector's pending slot for good. Stopped
    /// while a call into the sink was in flight, the attempt fails `Sink` (the host's sink
    /// hung, not the connector) and is retried, but is not a stalled resume of the checkpoint.
    pub stall_timeout: Duration,
    /// The wait before the first retry (default 10 s), doubled after each failed attempt. A
    /// retryable error that asks for a longer wait ([`Error::retry_after`]: a service's
    /// `Retry-After`, or core's "no I/O runtime in this forked child"; a zero one asks for
    /// none) is retried after that wait instead, up to
    /// [`max_retry_after`](Self::max_retry_after) (a `RateLimited` one up to
    /// [`max_rate_limit_wait`](Self::max_rate_limit_wait)). A `RateLimited` error that states
    /// no wait (a bare 429, a quota error) holds its connector for this backoff doubled with
    /// each rate-limited attempt since the job's last commit (10 s, 20 s, 40 s… up to
    /// `max_backoff`).
    ///
    /// Three attempts in a row that resume the stored checkpoint and fail without a commit
    /// drop the checkpoint, and the run starts over, but only attempts whose error may be the
    /// checkpoint's fault count: not one told to wait or rate-limited (a resume the service
    /// throttles keeps its checkpoint), not a connection, timeout or 5xx failure before the
    /// first source page (a resume during an outage keeps it; the worker's own
    /// `stall_timeout` still counts, unless the sink hung: the resume hung), not a sink,
    /// database, credential, config or `Unsupported` error, and not an attempt that did not
    /// resume the checkpoint (a full or incremental one). Failed attempts count against
    /// `max_attempts`, except `RateLimited` ones, which resume after each wait until
    /// [`max_throttled`](Self::max_throttled).
    ///
    /// An attempt the connector's own `timeout_secs` stops is judged by what held it at the
    /// deadline. If a long wait for a shared rate limit (one of at least a tenth of
    /// `timeout_secs`, at most a minute, still running or ended within the last second) held
    /// it, the service throttled it: it ends `RateLimited`, retried when that wait ends with
    /// its connector held, bounded by `max_throttled` and not `max_attempts`, and it is not a
    /// stall, whether or not it read a page, however many requests it sent before that wait
    /// (a page of many downloads is no loop; review68 M1: counting them dropped the checkpoint
    /// of throttled resumes). Held is judged at the deadline itself, on the monotonic clock,
    /// and a wait begun after the deadline does not count. Otherwise, a resume stopped there
    /// hung and counts as a stall, before a page as after, however many short waits (a paced
    /// client's slots) it took (review61 M1 to M3). A held resume that sent more new requests
    /// since its last source page than twice the most a page of its connector has taken (at
    /// least four; first tries answered by the deadline, counted by the gate: core's retries
    /// are not new requests, slots still waited for were not answered, and a batch counts as
    /// its permits, so Graph's resending a throttled batch member by member is no loop) loops
    /// behind the
    /// waits: it still ends rate-limited, but counts as a stall, so three in a row drop the
    /// checkpoint (review64 M2, review68 M1). That most is kept with the checkpoint across
    /// attempts and jobs; without it (no page seen yet since the connector's config last
    /// changed) no resume is called a loop. The stall watchdog applies the same rule: a long
    /// wait does not keep such a resume alive, also without a `timeout_secs`. A loop whose
    /// every request the service answers with a 429 is throttled, not counted (a retry is no
    /// new request), bounded by `max_throttled`. The first slot further out than
    /// `timeout_secs` (the credential's queue, or a wait its service asked for, longer than
    /// the job's time limit: each attempt stops before its request goes) is logged at `warn`.
    /// A wait inside core's HTTP retries of a rate-limited answer (a bare 429's backoff) holds
    /// an attempt back as a gate's wait does, when long enough; a 5xx's backoff does not (an
    /// outage, see above).
    pub backoff: Duration,
    /// The longest backoff between retries (default 10 min); a wait the error asks for may be
    /// longer, up to [`max_retry_after`](Self::max_retry_after) (a rate limit's up to
    /// [`max_rate_limit_wait`](Self::max_rate_limit_wait)).
    pub max_backoff: Duration,
    /// The longest wait a service or the process may ask for and get (default 1 h, at most a
    /// year), for a retryable error other than `RateLimited` ([`Error::retry_after`]: a 503's
    /// `Retry-After`, core's forked-child wait) and on the shared rate limits
    /// ([`shared_rate_limits`](Self::shared_rate_limits), which core's HTTP layer defers by
    /// at most its own `retry_after_cap`, 5 min by default). A `Retry-After: 86400` from an
    /// endpoint in maintenance retries after an hour, not a day; zero ignores the waits
    /// services ask for. A manual trigger ([`SyncService::trigger`](crate::SyncService::trigger))
    /// of a job waiting to retry is merged into it and makes it due at once, except for a
    /// rate limit's wait, which holds the connector's jobs until it ends; a scheduled run is
    /// not queued while the job waits.
    pub max_retry_after: Duration,
    /// The longest wait a `RateLimited` error may ask for and get (default 24 h, at most a
    /// year): its job and every job of its connector wait that long (review41 R2: a 429's
    /// `Retry-After`, or a daily quota's reset, is usually honest, and a service may penalise
    /// requests sent inside the window it announced; cutting it to `max_retry_after` brought
    /// every job of the connector back hourly to be refused again). The connector's hold this
    /// worker writes is never further out than this from now; a hold another worker wrote
    /// further out (with a longer cap) is kept, and only one no version could have written
    /// (past a year, or unreadable on SQLite) is cut to this cap before this worker claims
    /// (review41 R5, review56 M3).
    pub max_rate_limit_wait: Duration,
    /// How long a job may go without a commit and still be retried after a `RateLimited`
    /// attempt (default 24 h; `None`: as long as the service throttles; zero: a job ends at
    /// its first rate limit, even one right after a commit). Past it the job ends
    /// failed, saying so, with its checkpoint kept: the connector's next **auto** run (the
    /// scheduler's, or a trigger with `TriggerMode::Auto`) resumes it once the rate limit's
    /// wait is over, while a `full` trigger starts over and an `incremental` one runs a window
    /// (review47 L2). With both 24 h defaults a quota whose stated reset is a day away fails
    /// its job about a day after the last commit: a host alerting on failed jobs sees one a
    /// day per such connector. Each throttled attempt is logged
    /// (warn) with its wait, and the job's `wait_reason` says "rate-limited until T".
    pub max_throttled: Option<Duration>,
    /// The batch loop's options (batch size, overlap…); the timeout is each connector's
    /// `timeout_secs`.
    pub sync: SyncOptions,
    /// Share rate limits through the database (default true): each job's HTTP clients ask a
    /// [`SqlRateGate`] before every request, so the workers of one database keep together to
    /// a connector's configured rate per credential and all back off when the service answers
    /// 429 with `Retry-After`. A running job that waits for the gate says so in its
    /// `wait_reason` ("rate-limited until T"). Off: each job limits only its own requests.
    /// [`max_retry_after`](Self::max_retry_after) bounds what a 429 defers and what a client
    /// without a rate limit of its own waits, not a paced client's place in the queue of slots,
    /// which is waited out in full (cutting it would send requests over the rate); an attempt
    /// its `timeout_secs` stops in such a long wait ends rate-limited (see
    /// [`backoff`](Self::backoff)).
    pub shared_rate_limits: bool,
    /// Send each job's started / finished / failed events to its connector's job event
    /// webhook, when it has one ([`EventNotifier`](crate::events::EventNotifier); default
    /// true). A connector without a webhook costs one lookup per event and sends nothing;
    /// delivery never blocks or fails a job.
    pub job_webhooks: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            id: None,
            jobs: 4,
            per_source: 2,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            max_attempts: 5,
            stall_timeout: Duration::from_secs(30 * 60),
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(600),
            max_retry_after: Duration::from_secs(3600),
            max_rate_limit_wait: Duration::from_secs(24 * 3600),
            max_throttled: Some(Duration::from_secs(24 * 3600)),
            sync: SyncOptions::default(),
            shared_rate_limits: true,
            job_webhooks: true,
        }
    }
}

impl WorkerOptions {
    /// The wait before the retry that follows failed attempt `attempt` (1-based): `backoff`
    /// doubled per attempt, at most `max_backoff`, and at most a year whatever the two say
    /// (a host's `Duration::MAX` saturates there instead of overflowing the time arithmetic
    /// or a database's dates, review41 R7).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
            .min(LONGEST_WAIT)
    }

    /// The wait before the retry that follows failed attempt `attempt`, when the error asked
    /// for `asked`: the longer of the two (not capped by `max_backoff`: the service, or the
    /// process, said when trying again may help; `asked` is already cut to
    /// [`longest_asked`](Self::longest_asked)).
    fn retry_wait(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        self.backoff_after(attempt).max(asked.unwrap_or_default())
    }

    /// [`max_retry_after`](Self::max_retry_after), at most [`LONGEST_WAIT`]: the longest wait
    /// an error may ask for and get.
    pub(crate) fn longest_asked(&self) -> Duration {
        self.max_retry_after.min(LONGEST_WAIT)
    }

    /// [`max_rate_limit_wait`](Self::max_rate_limit_wait), at most [`LONGEST_WAIT`].
    fn longest_rate_limit_wait(&self) -> Duration {
        self.max_rate_limit_wait.min(LONGEST_WAIT)
    }

    fn worker_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "worker".to_owned());
            let suffix = xxhash_rust::xxh3::xxh3_64(
                format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
            );
            format!("{host}-{}-{:06x}", std::process::id(), suffix & 0xff_ffff)
        })
    }
}

/// What every job of a worker shares.
#[derive(Debug)]
pub(crate) struct WorkerContext {
    pub(crate) store: ConnectorStore,
    pub(crate) sinks: Arc<dyn SinkFactory>,
    pub(crate) options: WorkerOptions,
    pub(crate) id: String,
    pub(crate) observers: Vec<Arc<dyn JobObserver>>,
}

impl WorkerContext {
    fn db(&self) -> &SyncDb {
        self.store.db()
    }

    fn lease(&self) -> chrono::Duration {
        // A year at most: a longer lease would be past what SQLite's dates hold (review41 R7).
        chrono::Duration::from_std(self.options.lease.min(LONGEST_WAIT))
            .unwrap_or(chrono::Duration::seconds(30))
    }

    /// Tells every observer (the hook for metrics and job webhooks).
    fn emit(&self, event: &JobEvent) {
        for observer in &self.observers {
            observer.job_event(event);
        }
    }
}

/// The event of `kind` for `claimed`, without outcome fields.
fn event(
    ctx: &WorkerContext,
    claimed: &Claimed,
    kind: JobEventKind,
    counters: JobCounters,
) -> JobEvent {
    JobEvent {
        kind,
        job_id: claimed.job.id,
        connector_id: claimed.job.connector_id.clone(),
        source: claimed.source.clone(),
        job_kind: claimed.job.kind,
        partition: claimed.job.partition.clone(),
        attempt: claimed.job.attempt,
        counters,
        duration: None,
        stats: None,
        error: None,
        retry_at: None,
        worker: ctx.id.clone(),
        at: Utc::now(),
    }
}

/// Runs one worker until `stop` fires: registers it, claims due jobs up to its limits, runs
/// them, and on stop lets its running jobs stop between two sink writes and gives them back
/// to the queue (another worker resumes them from their checkpoints).
pub(crate) async fn run(
    store: ConnectorStore,
    sinks: Arc<dyn SinkFactory>,
    options: WorkerOptions,
    observers: Vec<Arc<dyn JobObserver>>,
    stop: Cancellation,
) -> Result<()> {
    let id = options.worker_id();
    let ctx = Arc::new(WorkerContext {
        store,
        sinks,
        options,
        id,
        observers,
    });
    register(ctx.db(), &ctx.id).await?;
    tracing::info!(worker = %ctx.id, db = ctx.db().location(), "worker started");
    let mut running: JoinSet<()> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut per_source: HashMap<String, usize> = HashMap::new();
    let mut last_beat: Option<tokio::time::Instant> = None;
    let outcome = loop {
        if stop.is_cancelled() {
            break Ok(());
        }
        // Once per heartbeat period: the worker's own heartbeat, and the jobs of workers
        // whose leases ran out put back in the queue.
        if last_beat.is_none_or(|t| t.elapsed() >= ctx.options.heartbeat) {
            if let Err(e) = register(ctx.db(), &ctx.id).await {
                tracing::warn!(worker = %ctx.id, error = %e, "cannot record the worker's heartbeat");
            }
            if let Err(e) = jobs::requeue_expired(ctx.db(), ctx.options.max_attempts).await {
                tracing::warn!(worker = %ctx.id, error = %e, "cannot put back the jobs of lost workers");
            }
            // A connector's hold no version could have written (past a year, or one SQLite
            // cannot read as a time) is cut to this worker's `max_rate_limit_wait` before
            // claiming, so it neither blocks its connector for years nor is ignored. A nearer
            // hold stays, whoever wrote it: a worker's own cap applies to the holds it writes
            // (review56 M3). Usually a read only.
            let cap = ctx.options.longest_rate_limit_wait();
            if let Err(e) = rate_gate::clamp(ctx.db(), Held::Connectors, cap).await {
                tracing::warn!(worker = %ctx.id, error = %e, "cannot cut the far rate limits");
            }
            last_beat = Some(tokio::time::Instant::now());
        }
        if let Err(e) = claim_more(&ctx, &stop, &mut running, &mut tasks, &mut per_source).await {
            tracing::warn!(worker = %ctx.id, error = %e, "cannot claim jobs; trying again");
        }
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            done = running.join_next_with_id(), if !running.is_empty() => {
                // A job task that panicked gives its slot back too (its lease expires and
                // another worker resumes it).
                let id = match done {
                    Some(Ok((id, ()))) => Some(id),
                    Some(Err(e)) => Some(e.id()),
                    None => None,
                };
                if let Some(source) = id.and_then(|id| tasks.remove(&id))
                    && let Some(n) = per_source.get_mut(&source)
                {
                    *n = n.saturating_sub(1);
                }
            }
            () = tokio::time::sleep(ctx.options.poll) => {}
        }
    };
    // The jobs' cancellations are children of `stop`: they stop at their next boundary and
    // give themselves back.
    while running.join_next().await.is_some() {}
    unregister(ctx.db(), &ctx.id).await?;
    tracing::info!(worker = %ctx.id, "worker stopped");
    outcome
}

async fn claim_more(
    ctx: &Arc<WorkerContext>,
    stop: &Cancellation,
    running: &mut JoinSet<()>,
    tasks: &mut HashMap<tokio::task::Id, String>,
    per_source: &mut HashMap<String, usize>,
) -> Result<()> {
    while running.len() < ctx.options.jobs.max(1) {
        let busy: Vec<String> = per_source
            .iter()
            .filter(|(_, n)| **n >= ctx.options.per_source.max(1))
            .map(|(s, _)| s.clone())
            .collect();
        let claim = Claim {
            worker: &ctx.id,
            lease: ctx.lease(),
            busy_sources: &busy,
        };
        let Some(claimed) = jobs::claim(ctx.db(), &claim).await? else {
            break;
        };
        *per_source.entry(claimed.source.clone()).or_default() += 1;
        let ctx = ctx.clone();
        let cancel = stop.child();
        let source = claimed.source.clone();
        let task = running.spawn(async move { run_job(&ctx, claimed, cancel).await });
        tasks.insert(task.id(), source);
    }
    Ok(())
}

async fn register(db: &SyncDb, id: &str) -> Result<()> {
    let now = sql_now(db.is_postgres());
    on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO worker (id, started_at, heartbeat_at) VALUES ($1, {now}, {now}) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )))
        .bind(id)
        .execute(pool)
        .await
        .map_err(|e| db.error(&format!("cannot register worker `{id}` in"), &e))?;
    });
    Ok(())
}

async fn unregister(db: &SyncDb, id: &str) -> Result<()> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM worker WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map_err(|e| db.error(&format!("cannot unregister worker `{id}` in"), &e))?;
    });
    Ok(())
}

/// Whether trying a job of `kind` again may help after `e`: not for a config, credential,
/// permission or capability problem, nor a cancellation; nor for a prune its guard refused
/// (invalid data: the source listed too little to trust), which would list the whole source
/// again each time to be refused again.
fn worth_retrying(kind: JobKind, e: &Error) -> bool {
    if kind == JobKind::Prune && e.kind() == ErrorKind::InvalidData {
        return false;
    }
    !matches!(
        e.kind(),
        ErrorKind::Config
            | ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::Unsupported
            | ErrorKind::Cancelled
    )
}

fn counters_of(p: &Progress) -> JobCounters {
    JobCounters {
        new: p.new,
        updated: p.updated,
        unchanged: p.unchanged,
        failed: p.failed,
        deleted: p.deleted,
        // Counted by the connector, not the loop: known when the run ends.
        gone: 0,
    }
}

/// `base` (what the job's earlier attempts counted) plus `this` attempt's counts: a job's
/// counters are its whole work, not its last attempt's.
fn plus(base: JobCounters, this: JobCounters) -> JobCounters {
    JobCounters {
        new: base.new.saturating_add(this.new),
        updated: base.updated.saturating_add(this.updated),
        unchanged: base.unchanged.saturating_add(this.unchanged),
        failed: base.failed.saturating_add(this.failed),
        deleted: base.deleted.saturating_add(this.deleted),
        gone: base.gone.saturating_add(this.gone),
    }
}

/// What an attempt did, as its progress reports it.
#[derive(Debug)]
struct Activity {
    /// Its last source page or sink batch, for the stall watchdog.
    last: Mutex<tokio::time::Instant>,
    /// Whether it read a source page: it reached its source.
    paged: AtomicBool,
    /// Whether it resumed the stored checkpoint (a `Resume`, or an `Auto` run with one
    /// stored): only such an attempt can stall it (review47 L5).
    resumed: AtomicBool,
    /// Calls into the sink in flight ([`WatchedSink`]).
    in_sink: AtomicUsize,
    /// Whether the stall watchdog fired while a sink call was in flight: the sink (the host's
    /// code) hung, not the connector.
    sink_hung: AtomicBool,
    /// When core's run started (after the attempt's setup), for the job's `timeout_secs`:
    /// how long it ran, and its deadline, on the monotonic clock, as the gate's waits are
    /// timed (review68 L2).
    run_started: Mutex<Option<std::time::Instant>>,
}

impl Activity {
    fn new() -> Self {
        Self {
            last: Mutex::new(tokio::time::Instant::now()),
            paged: AtomicBool::new(false),
            resumed: AtomicBool::new(false),
            in_sink: AtomicUsize::new(0),
            sink_hung: AtomicBool::new(false),
            run_started: Mutex::new(None),
        }
    }

    /// Core's run starts (again, when a checkpoint it could not read restarts it): its time
    /// limit runs from now, and the gate ignores waits begun after its deadline.
    fn start_run(&self, gate: Option<&SqlRateGate>) {
        let now = std::time::Instant::now();
        if let Ok(mut at) = self.run_started.lock() {
            *at = Some(now);
        }
        if let Some(gate) = gate {
            gate.run_started(now);
        }
    }

    /// Something happened now, for the stall watchdog.
    fn touch(&self) {
        if let Ok(mut at) = self.last.lock() {
            *at = tokio::time::Instant::now();
        }
    }
}

/// The job's sink, counting its calls in flight in [`Activity::in_sink`]: a stall while the
/// sink holds the attempt is the sink's, not the checkpoint's.
struct WatchedSink {
    inner: Arc<dyn Sink>,
    activity: Arc<Activity>,
}

/// One call into the sink, counted until it returns or its future is dropped. Entering and
/// leaving it are activity for the stall watchdog: the fetch of a page and the write of its
/// documents are timed each on its own, so a slow page followed by a slow write (each under
/// `stall_timeout`, together over it) is not stopped, nor blamed on the sink (review61 L7:
/// core reports a page only after its write, so the two were timed as one).
struct InSink<'a>(&'a Activity);

impl<'a> InSink<'a> {
    fn enter(activity: &'a Activity) -> Self {
        activity.in_sink.fetch_add(1, Ordering::SeqCst);
        activity.touch();
        Self(activity)
    }
}

impl Drop for InSink<'_> {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_sink.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Sink for WatchedSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let _call = InSink::enter(&self.activity);
        self.inner.write(documents).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        let _call = InSink::enter(&self.activity);
        self.inner.delete(ids).await
    }

    fn takes_spooled(&self) -> bool {
        self.inner.takes_spooled()
    }
}

/// Whether a failed sync attempt that resumed the stored checkpoint and committed nothing
/// counts as a stalled resume of it (three in a row drop it, [`MAX_CHECKPOINT_STALLS`]): only
/// when its error may be the checkpoint's fault, that is when the source was reached and
/// answered other than with a wait, or when the worker's own `stall_timeout` stopped it
/// while no call into the sink was in flight, or the job's own `timeout_secs` ran out while
/// no long wait for a shared rate limit held it back (`hung`: the resume hung; three in a row
/// take at least 1.5 h, or three job timeouts, by default, so no short outage gives them). A
/// resume its deadline stopped inside such a wait comes here as `RateLimited` (see
/// [`WorkerOptions::backoff`]). A stop while the sink hung is a `Sink` error, not counted: the
/// host's sink is not the checkpoint's fault.
///
/// Not counted (review45 E2, review41 R1, review47 M1 and L5): an error that asked for a wait
/// (`asked`, already without a zero one) and any `RateLimited` one, the service throttles the
/// credential; `Unavailable` or `Timeout` before the attempt read a source page (a refused
/// connection, DNS, TLS, a 5xx or a timeout after the HTTP layer's retries; the rdbms and IMAP
/// connectors say `Timeout` for a server that does not answer: the source may just be down,
/// and a 2-minute outage after a resume dropped the checkpoint); `Sink` and `State` (the
/// destination or the sync database failed, not the source); `Unauthenticated`,
/// `PermissionDenied`, `Config` and `Unsupported` (a credential or config to fix, or a mode
/// the connector lacks: such a job fails at once, so three scheduled runs with a revoked token
/// dropped the checkpoint the fixed token would have resumed); `Cancelled`. Counted: the
/// source's answer could not be used (`InvalidData`, `NotFound`: an expired cursor's 400 or
/// 410), `Internal`, `Checkpoint`, and `Unavailable` or `Timeout` after a page (the source
/// answered, then failed the resume). The caller counts only attempts that resumed the
/// checkpoint.
///
/// A cursor that the source answers with a 5xx at every resume, before any page, is therefore
/// never dropped by this rule: each job fails after `max_attempts`, saying why, and a full
/// trigger (or a rebuild) starts over.
fn stalls_checkpoint(e: &Error, asked: Option<Duration>, paged: bool, hung: bool) -> bool {
    if hung {
        return true;
    }
    if asked.is_some() {
        return false;
    }
    match e.kind() {
        ErrorKind::RateLimited
        | ErrorKind::Sink
        | ErrorKind::State
        | ErrorKind::Unauthenticated
        | ErrorKind::PermissionDenied
        | ErrorKind::Config
        | ErrorKind::Unsupported
        | ErrorKind::Cancelled => false,
        ErrorKind::Unavailable | ErrorKind::Timeout => paged,
        _ => true,
    }
}

/// How long job `job` has gone without a commit (since its first attempt when it never
/// committed), by the database's clock (this machine's when the database cannot say).
async fn since_progress(db: &SyncDb, job: &jobs::JobRecord) -> Duration {
    let Some(since) = job.last_progress_at.or(job.started_at) else {
        return Duration::ZERO;
    };
    let now = jobs::db_now(db).await.unwrap_or_else(|_| Utc::now());
    (now - since).to_std().unwrap_or_default()
}

/// Aborts its task when dropped: a job's heartbeat ends with the job, also when the job's
/// own task is aborted (its worker stopped without waiting).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one claimed job to its end and records how it ended. Never returns an error: every
/// outcome is written to the job's row (or, when the job is no longer this worker's, left to
/// whoever has it).
async fn run_job(ctx: &WorkerContext, claimed: Claimed, cancel: Cancellation) {
    let job_id = claimed.job.id;
    let attempt = claimed.job.attempt;
    let started = std::time::Instant::now();
    ctx.emit(&event(
        ctx,
        &claimed,
        JobEventKind::Started,
        JobCounters::default(),
    ));
    let progress: Arc<Mutex<Option<JobCounters>>> = Arc::new(Mutex::new(None));
    let progressed = Arc::new(AtomicBool::new(false));
    let activity = Arc::new(Activity::new());
    let lost = Cancellation::new();
    let stalled = Cancellation::new();
    let gate = ctx.options.shared_rate_limits.then(|| {
        Arc::new(
            SqlRateGate::new(ctx.db().clone())
                .max_wait(ctx.options.longest_asked())
                .for_job(job_id, Duration::from_secs(claimed.timeout_secs)),
        )
    });

    // The heartbeat: renews the lease and stores the counters; stops the run when the job is
    // no longer ours (cancelled, or taken over after our lease expired).
    let heartbeat = AbortOnDrop({
        let db = ctx.db().clone();
        let worker = ctx.id.clone();
        let lease = ctx.lease();
        let every = ctx.options.heartbeat;
        let progress = progress.clone();
        let cancel = cancel.clone();
        let lost = lost.clone();
        let gate = gate.clone();
        let stalled = stalled.clone();
        let lease_std = ctx.options.lease;
        tokio::spawn(async move {
            let mut renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(every).await;
                if stalled.is_cancelled() {
                    // A stalled attempt is not kept alive: its lease runs out unless its end
                    // is recorded first.
                    break;
                }
                let counters = progress.lock().map(|p| *p).unwrap_or(None);
                // Its wait reason "rate-limited until T", T rendered by the database.
                let limited = gate.as_ref().and_then(|g| g.limited_for());
                match jobs::heartbeat(&db, job_id, &worker, lease, counters.as_ref(), limited).await
                {
                    Ok(true) => renewed = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::warn!(
                            job = job_id,
                            "the job is no longer this worker's (cancelled or taken over); stopping it"
                        );
                        lost.cancel();
                        cancel.cancel();
                        break;
                    }
                    Err(e) if renewed.elapsed() >= lease_std => {
                        // The lease has run out by now: another worker may have taken the job
                        // over. Stop at once rather than run it twice (our commits would be
                        // refused anyway).
                        tracing::warn!(job = job_id, error = %e, "the job's lease ran out without a renewal; stopping it");
                        lost.cancel();
                        cancel.cancel();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(job = job_id, error = %e, "cannot renew the job's lease");
                    }
                }
            }
        })
    });

    // The stall watchdog (sync jobs): no source page or sink batch for `stall_timeout`, and
    // no wait for a shared rate limit, stops the attempt; a moment later it is abandoned
    // even if a call in flight never returns.
    let watchdog = {
        let activity = activity.clone();
        let gate = gate.clone();
        let stalled = stalled.clone();
        let cancel = cancel.clone();
        let limit = ctx.options.stall_timeout;
        // The heartbeat stops renewing at the stall: the end must be recorded while the last
        // renewal still holds (at least `lease - heartbeat` of it was left).
        let grace = ctx.options.lease.saturating_sub(ctx.options.heartbeat) / 2;
        let sync = claimed.job.kind == JobKind::Sync && !limit.is_zero();
        async move {
            if !sync {
                return std::future::pending().await;
            }
            loop {
                tokio::time::sleep(
                    (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(30)),
                )
                .await;
                // A long wait excuses the attempt, unless it is a resume that sent more new
                // requests since its last page than a page takes: it loops behind the waits
                // (review68 L1: with `timeout_secs` 0 nothing else stops it).
                if gate.as_ref().is_some_and(|g| {
                    g.holds_back(long_wait(limit))
                        && !(activity.resumed.load(Ordering::Relaxed)
                            && g.loops_at(std::time::Instant::now()).is_some())
                }) {
                    if let Ok(mut at) = activity.last.lock() {
                        *at = tokio::time::Instant::now();
                    }
                    continue;
                }
                let idle = activity
                    .last
                    .lock()
                    .map(|at| at.elapsed())
                    .unwrap_or_default();
                if idle >= limit {
                    break;
                }
            }
            activity.sink_hung.store(
                activity.in_sink.load(Ordering::SeqCst) > 0,
                Ordering::SeqCst,
            );
            stalled.cancel();
            cancel.cancel();
            tokio::time::sleep(grace).await;
        }
    };
    let outcome = tokio::select! {
        r = attempt_job(ctx, &claimed, cancel.clone(), progress.clone(), gate.clone(), &progressed, activity.clone()) => r,
        () = watchdog => Err(Error::new(ErrorKind::Cancelled, "the stalled attempt did not stop")),
    };
    // The stall watchdog stopped it: the connector hung (the resume hung, a stall of the
    // checkpoint), or the sink did, which says nothing of the checkpoint: a `Sink` error,
    // retried like any other but not counted against it.
    let stopped = stalled.is_cancelled();
    let sink_hung = stopped && activity.sink_hung.load(Ordering::SeqCst);
    let hung = stopped && !sink_hung;
    let outcome = if sink_hung {
        Err(Error::new(
            ErrorKind::Sink,
            format!(
                "the sink did not return for {}s, the stall timeout; stopped, it resumes \
                 from its last acknowledged checkpoint",
                ctx.options.stall_timeout.as_secs()
            ),
        ))
    } else if hung {
        Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "no progress (no source page, no sink batch) for {}s, the stall timeout; \
                 stopped, it resumes from its last acknowledged checkpoint",
                ctx.options.stall_timeout.as_secs()
            ),
        ))
    } else {
        outcome
    };
    drop(heartbeat);
    // What a page of the connector took, for the next attempts' loop rule: stored when this
    // attempt saw more (rarely a write).
    if claimed.job.kind == JobKind::Sync
        && let Some(most) = gate.as_ref().and_then(|g| g.pace_to_store())
    {
        let state = SqlStateStore::new(ctx.db().clone(), claimed.job.connector_id.clone())
            .partition(claimed.job.partition.clone());
        if let Err(e) = state.note_page_requests(most).await {
            tracing::warn!(job = job_id, error = %e, "cannot record the requests a page takes");
        }
    }
    let progressed = progressed.load(Ordering::Relaxed);
    // The progress slot holds the job's totals (its earlier attempts' counts included).
    let counters = progress
        .lock()
        .map(|p| p.unwrap_or(claimed.job.counters))
        .unwrap_or(claimed.job.counters);
    let db = ctx.db();
    let mut stats = None;
    let finish = match outcome {
        Ok((done, run)) => {
            stats = run;
            done
        }
        Err(_) if lost.is_cancelled() => return,
        Err(e) if e.kind() == ErrorKind::Cancelled && cancel.is_cancelled() => Finish::Released,
        Err(e) => {
            // A write fenced by the lease fails when the job is someone else's now (or was
            // cancelled): then its row is not ours to write.
            if matches!(
                jobs::heartbeat(db, job_id, &ctx.id, ctx.lease(), None, None).await,
                Ok(false)
            ) {
                tracing::warn!(job = job_id, error = %e, "the job is no longer this worker's");
                return;
            }
            // The job's own `timeout_secs` ran out (core stopped the run at its deadline, so
            // the run, timed from core's start, lasted at least that long).
            let run_started = activity.run_started.lock().ok().and_then(|at| *at);
            let ran = run_started.map(|at| at.elapsed()).unwrap_or_default();
            let timeout = Duration::from_secs(claimed.timeout_secs);
            let deadline = claimed.timeout_secs > 0
                && !hung
                && e.kind() == ErrorKind::Timeout
                && ran >= timeout;
            // Stopped there while a shared rate limit held it back (a long wait, see
            // `long_wait`, judged at the deadline itself on the monotonic clock, not after the
            // teardown, review64 L4, review68 L2): the service throttled it, so it ends as
            // rate-limited, whether or not it read a page and however many requests it sent
            // before: retried when that wait ends, holding its connector, bounded by
            // `max_throttled`, not `max_attempts`, and not a stall (review61 M2, M3; review68
            // M1: counting requests since the last page called a throttled page of many
            // downloads a loop and dropped its checkpoint).
            let at = run_started
                .and_then(|at| at.checked_add(timeout))
                .unwrap_or_else(std::time::Instant::now);
            let held = deadline
                && gate
                    .as_ref()
                    .is_some_and(|g| g.holds_back_at(long_wait(timeout), at));
            // A resume held there that sent more new requests (first tries, answered by the
            // deadline) since its last page than twice the most a page of this connector took
            // loops behind the waits: it still ends rate-limited, but counts as a stall, so
            // three in a row drop the checkpoint (review64 M2; review68 M1: relative to the
            // connector's own pages, so Graph's 8-way downloads or a batch resent member by
            // member are no loop, and core's retries are not counted).
            let looped = (held && activity.resumed.load(Ordering::Relaxed))
                .then(|| gate.as_ref().and_then(|g| g.loops_at(at)))
                .flatten();
            let e = if held {
                let until = gate.as_ref().and_then(|g| g.limited_until());
                let left = until
                    .and_then(|t| (t - Utc::now()).to_std().ok())
                    .unwrap_or_default();
                let until = until.map_or_else(
                    || "now".to_owned(),
                    |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                let looping = looped.map_or_else(String::new, |(sent, most)| {
                    format!(
                        "; it sent {sent} new requests since its last source page, more than \
                         twice the {most} a page has taken: a loop, counted as a stalled resume"
                    )
                });
                let throttled = Error::new(
                    ErrorKind::RateLimited,
                    format!(
                        "a shared rate limit held the run back at its deadline (until {until}), \
                         so it is retried as rate-limited{looping}"
                    ),
                )
                .with_cause(e);
                if left.is_zero() {
                    throttled
                } else {
                    throttled.with_retry_after(left)
                }
            } else {
                e
            };
            let rate_limited = e.kind() == ErrorKind::RateLimited;
            // The wait a retryable error asks for, whatever its kind (review33 F4): a 503's
            // `Retry-After`, or core's "no I/O runtime could start in this forked child".
            // Cut to `max_retry_after` (review36 F1): a `Retry-After` of a day, or of 3 000
            // years, holds the job (and every trigger merged into it) an hour at most; a
            // rate limit's to `max_rate_limit_wait` (review41 R2: a 429's wait is usually
            // honest, a daily quota's runs to midnight). A zero wait (`Retry-After: 0`, a
            // past HTTP-date, a cap of zero) asks for none (review45 E6).
            let cap = if rate_limited {
                ctx.options.longest_rate_limit_wait()
            } else {
                ctx.options.longest_asked()
            };
            let asked = e
                .retry_after()
                .filter(|_| e.is_retryable())
                .map(|d| d.min(cap))
                .filter(|d| !d.is_zero());
            // Attempts in a row without progress, this one included: what the limit counts.
            let fruitless = if progressed {
                0
            } else {
                claimed.job.attempts_without_progress.max(1)
            };
            // Rate-limited attempts since the last commit, this one included: a rate limit
            // that states no wait (a bare 429, a quota error) is waited out for the backoff
            // doubled with each (review45 E1), not 10 s forever.
            let throttled = if progressed {
                1
            } else {
                claimed.job.throttled_attempts.saturating_add(1)
            };
            let throttle_wait = rate_limited.then(|| {
                asked
                    .unwrap_or_else(|| ctx.options.backoff_after(throttled))
                    .min(ctx.options.longest_rate_limit_wait())
            });
            let mut until = None;
            if let Some(wait) = throttle_wait {
                let cap = ctx.options.longest_rate_limit_wait();
                until = Some(later(wait));
                if let Err(e) = jobs::rate_limit(db, &claimed.job.connector_id, wait, cap).await {
                    tracing::warn!(job = job_id, error = %e, "cannot record the rate limit");
                }
            }
            // An attempt told to wait, or throttled, or that never reached its source, says
            // nothing about the checkpoint it resumed, and one that did not resume it nothing
            // at all: it is not a stall (see `stalls_checkpoint`). Such a loop is bounded by
            // `max_attempts`, a `RateLimited` one by `max_throttled`.
            let paged = activity.paged.load(Ordering::Relaxed);
            // A resume its own `timeout_secs` stopped while no long rate-limit wait held it
            // back hung, as surely as when the worker's `stall_timeout` stops it, and counts
            // the same, before a page as after (a connector's own `Timeout` before a page, an
            // outage, still does not; short waits for a paced client's slots do not excuse it,
            // review61 M1).
            let timed_out = deadline && (!held || looped.is_some());
            if !progressed
                && claimed.job.kind == JobKind::Sync
                && activity.resumed.load(Ordering::Relaxed)
                && stalls_checkpoint(&e, asked, paged, hung || timed_out)
            {
                let state = SqlStateStore::new(db.clone(), claimed.job.connector_id.clone())
                    .partition(claimed.job.partition.clone());
                if let Err(e) = state.count_stall().await {
                    tracing::warn!(job = job_id, error = %e, "cannot count the stalled resume");
                }
            }
            // A job throttled without a commit for `max_throttled` ends failed, its
            // checkpoint kept: the next auto job resumes it (review45 E5, review47 L2).
            let throttled_for = if rate_limited && !progressed {
                since_progress(db, &claimed.job).await
            } else {
                Duration::ZERO
            };
            let too_long = ctx
                .options
                .max_throttled
                .is_some_and(|limit| throttled_for >= limit);
            let retry = worth_retrying(claimed.job.kind, &e)
                && if rate_limited {
                    !too_long
                } else {
                    fruitless < ctx.options.max_attempts
                };
            let wait = ctx
                .options
                .retry_wait(fruitless.max(1), asked)
                .max(throttle_wait.unwrap_or_default());
            let retry_at = retry.then(|| later(wait));
            // The job's stored error is read through the API and sent in its failed event
            // (an outside URL): a sync-database failure's location and driver text are left
            // out of it, also where a connector copied its text into its own error (review68
            // L5, review70 L1); the warning below logs them.
            let shown = db.shown(&e);
            let error = if rate_limited && too_long {
                format!(
                    "{shown}; rate-limited without a commit for {}s (max_throttled): the job \
                     stops, its checkpoint is kept and the next auto run resumes it (a full \
                     trigger starts over)",
                    throttled_for.as_secs()
                )
            } else {
                shown
            };
            if rate_limited {
                tracing::warn!(
                    job = job_id,
                    connector = %claimed.job.connector_id,
                    partition = %claimed.job.partition,
                    attempt,
                    throttled,
                    wait_secs = throttle_wait.unwrap_or_default().as_secs_f64(),
                    until = ?until,
                    stated = asked.is_some(),
                    throttled_for_secs = throttled_for.as_secs(),
                    retry = retry_at.is_some(),
                    error = %e,
                    "job rate-limited: its connector's jobs wait until then, the checkpoint is kept"
                );
            } else {
                tracing::warn!(job = job_id, attempt, fruitless, error = %e, retry = retry_at.is_some(), wait_secs = wait.as_secs_f64(), "job attempt failed");
            }
            Finish::Failed {
                error,
                counters,
                retry_at,
                rate_limited,
            }
        }
    };
    // The event the observers get once the end is recorded (none for a job given back or
    // cancelled: it did not finish here).
    let mut ended = match &finish {
        Finish::Done { counters, .. } => {
            let mut e = event(ctx, &claimed, JobEventKind::Finished, *counters);
            e.stats = stats;
            Some(e)
        }
        Finish::Failed {
            error,
            counters,
            retry_at,
            ..
        } => {
            let mut e = event(ctx, &claimed, JobEventKind::Failed, *counters);
            e.error = Some(error.clone());
            e.retry_at = *retry_at;
            Some(e)
        }
        Finish::Released | Finish::Cancelled => None,
    };
    if let Some(e) = ended.as_mut() {
        e.duration = Some(started.elapsed());
    }
    match jobs::finish(db, job_id, &ctx.id, finish).await {
        Ok(true) => {
            if let Some(e) = ended {
                ctx.emit(&e);
            }
        }
        Ok(false) => tracing::info!(
            job = job_id,
            "the job was cancelled or taken over before it finished here"
        ),
        Err(e) => {
            tracing::warn!(job = job_id, error = %e, "cannot record the end of the job; its lease expires and another worker resumes it")
        }
    }
}

/// One attempt of a job: build the connector and the sink, pick the mode, run.
async fn attempt_job(
    ctx: &WorkerContext,
    claimed: &Claimed,
    cancel: Cancellation,
    progress: Arc<Mutex<Option<JobCounters>>>,
    gate: Option<Arc<SqlRateGate>>,
    progressed: &Arc<AtomicBool>,
    activity: Arc<Activity>,
) -> Result<(Finish, Option<RunStats>)> {
    let job = &claimed.job;
    let store = &ctx.store;
    let Some(record) = store.get(&job.connector_id).await? else {
        return Ok((Finish::Cancelled, None));
    };
    let config = store.config(&job.connector_id).await?;
    let scope = scope_hash(&config, &store.registry().schema(&claimed.source)?);
    // What the discovery that queued this job learned about its partition, when it ran in
    // this process under this config; else the partition is built from its key alone.
    let handed = (!job.partition.is_empty())
        .then(|| {
            store
                .contexts()
                .get(&job.connector_id, &config, &job.partition)
        })
        .flatten();
    let mut connector = store.registry().build(&claimed.source, config)?;
    if !job.partition.is_empty() {
        let mut spec = PartitionSpec::new(job.partition.clone());
        spec.context = handed;
        connector = connector.partition_of(&spec).ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "connector `{}` ({}) no longer has partition `{}`",
                    job.connector_id, claimed.source, job.partition
                ),
            )
        })?;
    }
    // A credential that rotates during the run (an OAuth refresh token) is written back to
    // the connector's config, sealed, before the connector uses it.
    connector.set_credential_store(Arc::new(SqlCredentialStore::new(
        store.clone(),
        job.connector_id.clone(),
    )));
    let sink: Arc<dyn Sink> = Arc::new(WatchedSink {
        inner: ctx.sinks.sink(&record).await?,
        activity: activity.clone(),
    });
    let state = SqlStateStore::new(ctx.db().clone(), job.connector_id.clone())
        .partition(job.partition.clone())
        .with_lease(Lease {
            job_id: job.id,
            owner: ctx.id.clone(),
            duration: ctx.lease(),
            progressed: progressed.clone(),
        });
    let mut options = ctx.options.sync.clone();
    if claimed.timeout_secs > 0 {
        options = options.timeout(Duration::from_secs(claimed.timeout_secs));
    }
    let counters = progress.clone();
    let base = job.counters;
    let reports = activity.clone();
    let run_gate = gate.clone();
    let pages_gate = gate.clone();
    let pages_seen = std::sync::atomic::AtomicU64::new(0);
    let mut syncer = Syncer::new(connector.clone());
    if let Some(gate) = gate {
        syncer = syncer.rate_gate(gate);
    }
    let syncer = syncer
        .shared_sink(sink)
        .shared_state(Arc::new(state.clone()))
        .options(options)
        .cancellation(cancel.clone())
        .on_progress(move |p| {
            if let Ok(mut slot) = counters.lock() {
                *slot = Some(plus(base, counters_of(p)));
            }
            if let Ok(mut at) = reports.last.lock() {
                *at = tokio::time::Instant::now();
            }
            if p.pages > 0 {
                reports.paged.store(true, Ordering::Relaxed);
            }
            // A new source page (progress is also reported at a commit).
            if p.pages > 0
                && p.pages != pages_seen.swap(p.pages, Ordering::Relaxed)
                && let Some(gate) = &pages_gate
            {
                gate.page_read();
            }
        });

    if job.kind == JobKind::Prune {
        let limit = (claimed.timeout_secs > 0).then(|| Duration::from_secs(claimed.timeout_secs));
        let deadline = async {
            match limit {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let report = tokio::select! {
            r = syncer.prune() => r?,
            () = cancel.cancelled() => return Err(Error::new(ErrorKind::Cancelled, "the prune was cancelled")),
            () = deadline => return Err(Error::new(ErrorKind::Timeout, format!("the prune ran past its timeout of {}s", claimed.timeout_secs))),
        };
        return Ok((
            Finish::Done {
                counters: plus(
                    base,
                    JobCounters {
                        deleted: report.deleted,
                        ..JobCounters::default()
                    },
                ),
                window: None,
            },
            None,
        ));
    }

    // State written under another config belongs to another scope (another path, other
    // projects): forgotten, and the run is full, else the new scope's older items would
    // never be fetched.
    let rescoped = state.enter_scope(&scope).await? == Scope::Changed;
    if rescoped {
        tracing::warn!(
            job = job.id,
            connector = %job.connector_id,
            partition = %job.partition,
            "the connector's config changed since its state was written: its checkpoint and window are forgotten and this run is full"
        );
    }
    // A checkpoint that attempt after attempt could not be resumed from is dropped.
    let stalls = state.checkpoint_stalls().await?;
    if stalls >= MAX_CHECKPOINT_STALLS {
        tracing::warn!(
            job = job.id,
            connector = %job.connector_id,
            stalls,
            "the last {stalls} attempts that resumed the stored checkpoint made no progress: it is dropped and the run starts over"
        );
        state.drop_checkpoint().await?;
    }
    // What a page of this connector has taken, the baseline of the loop rule.
    if let Some(gate) = &run_gate {
        gate.seed_pace(state.page_requests().await?);
    }
    // A job started before (a retry, or taken over from a lost worker) resumes its run from
    // the last acknowledged checkpoint when there is one and it wrote it (not another job's,
    // cancelled long ago: a full job would resume an old incremental run and call it done).
    let stored = state.load().await?;
    let own = state.checkpoint_job().await? == Some(job.id);
    let resumes = !rescoped && job.attempt > 1 && own && stored.checkpoint.is_some();
    let fresh = match job.mode {
        _ if rescoped => SyncMode::Full,
        JobMode::Full | JobMode::Rebuild => SyncMode::Full,
        JobMode::Incremental => SyncMode::Incremental,
        JobMode::Auto => SyncMode::Auto,
    };
    let mode = if resumes { SyncMode::Resume } else { fresh };
    // Core's `Auto` resumes a stored checkpoint too (its own run's, after L2's failed job);
    // `Full` and `Incremental` never read it, so their failures say nothing of it.
    activity.resumed.store(
        resumes || (matches!(mode, SyncMode::Auto) && stored.checkpoint.is_some()),
        Ordering::Relaxed,
    );
    if let (Some(ids), false) = (&job.refetch_ids, resumes) {
        request_refetch(&state, ids, &connector).await?;
    }
    activity.start_run(run_gate.as_deref());
    let report = match syncer.run(mode).await {
        // The stored checkpoint cannot be read (another version of the source wrote it, or
        // it is corrupt): dropped, and the run starts over from the last window end (a full
        // job: from the start) instead of failing on it for good.
        Err(e) if e.kind() == ErrorKind::Checkpoint && stored.checkpoint.is_some() => {
            tracing::warn!(
                job = job.id,
                connector = %job.connector_id,
                error = %e,
                "the stored checkpoint cannot be resumed from: it is dropped and the run starts over"
            );
            state.drop_checkpoint().await?;
            activity.resumed.store(false, Ordering::Relaxed);
            // The run starts again, and so does its time limit.
            activity.start_run(run_gate.as_deref());
            let mode = match fresh {
                SyncMode::Full => SyncMode::Full,
                _ => SyncMode::Auto,
            };
            syncer.run(mode).await
        }
        other => other,
    };
    let report = report?;
    let stats = RunStats {
        requests: report.requests,
        retries: report.retries,
        rate_limit_wait: report.rate_limit_wait,
        delivered: report.delivered,
    };
    Ok((
        Finish::Done {
            counters: plus(
                base,
                JobCounters {
                    new: report.new,
                    updated: report.updated,
                    unchanged: report.unchanged,
                    failed: report.failed,
                    deleted: report.deleted,
                    gone: report.gone,
                },
            ),
            window: report.window.map(|w| (w.start, w.end)),
        },
        Some(stats),
    ))
}

/// Asks the incremental run to fetch `ids` again before anything else: they are recorded as
/// items to retry, which core's batch loop fetches by id first
/// ([`RefetchConnector`](connector_core::RefetchConnector)) and forgets once produced.
async fn request_refetch(
    state: &SqlStateStore,
    ids: &[String],
    connector: &connector_core::DynConnector,
) -> Result<()> {
    if connector.as_refetch().is_none() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "source `{}` cannot fetch items by id; trigger an incremental or full sync without ids",
                connector.source()
            ),
        ));
    }
    let now = Utc::now();
    let failed = ids
        .iter()
        .map(|id| FailedItem {
            failure: Failure::new(
                Some(id.clone()),
                ErrorKind::Unavailable,
                format!("{id}: asked to be fetched again"),
            ),
            window_start: None,
            attempts: 0,
            first_failed_at: now,
        })
        .collect();
    state
        .commit(connector_core::state::Commit {
            failed,
            ..Default::default()
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which failed resumes count against the checkpoint (review45 E2): the integration tests
    /// in `tests/retry_after.rs` run an outage, a refusing source and the throttles; this is
    /// the whole table.
    #[test]
    fn only_errors_that_may_be_the_checkpoints_fault_are_stalls() {
        let wait = Some(Duration::from_secs(1));
        for (kind, before_a_page, after_a_page) in [
            (ErrorKind::Unavailable, false, true),
            (ErrorKind::RateLimited, false, false),
            (ErrorKind::Sink, false, false),
            (ErrorKind::State, false, false),
            (ErrorKind::Unauthenticated, false, false),
            (ErrorKind::PermissionDenied, false, false),
            (ErrorKind::Config, false, false),
            (ErrorKind::Cancelled, false, false),
            (ErrorKind::InvalidData, true, true),
            (ErrorKind::NotFound, true, true),
            (ErrorKind::Timeout, false, true),
            (ErrorKind::Internal, true, true),
            (ErrorKind::Unsupported, false, false),
            (ErrorKind::Checkpoint, true, true),
        ] {
            let e = Error::new(kind, "no");
            assert_eq!(
                stalls_checkpoint(&e, None, false, false),
                before_a_page,
                "{kind:?}"
            );
            assert_eq!(
                stalls_checkpoint(&e, None, true, false),
                after_a_page,
                "{kind:?}"
            );
            // An error that asked for a wait never is.
            assert!(!stalls_checkpoint(&e, wait, true, false), "{kind:?}");
        }
        // The worker's own stall timeout (review47 M1): the resume hung, counted before a
        // page as after.
        let hung = Error::new(ErrorKind::Timeout, "no progress for 1800s");
        assert!(stalls_checkpoint(&hung, None, false, true));
        assert!(stalls_checkpoint(&hung, None, true, true));
    }

    /// A call into the sink is activity when it enters and when it returns or is dropped,
    /// and is counted in flight until then (review68 L6.7, review61 Q6.7: core reports a
    /// page right after its write, which hid the touch on return from every run-level test).
    #[test]
    fn a_sink_call_touches_on_entry_and_on_return() {
        let activity = Activity::new();
        let long_ago = |a: &Activity| {
            if let Ok(mut at) = a.last.lock() {
                *at = tokio::time::Instant::now()
                    .checked_sub(Duration::from_secs(10))
                    .unwrap_or(*at);
            }
        };
        let idle = |a: &Activity| a.last.lock().map(|at| at.elapsed()).unwrap_or_default();
        long_ago(&activity);
        let call = InSink::enter(&activity);
        assert!(idle(&activity) < Duration::from_secs(5), "touched on entry");
        assert_eq!(activity.in_sink.load(Ordering::SeqCst), 1);
        long_ago(&activity);
        drop(call);
        assert!(
            idle(&activity) < Duration::from_secs(5),
            "touched on return"
        );
        assert_eq!(activity.in_sink.load(Ordering::SeqCst), 0);
    }

    /// A bare rate limit's wait grows with the rate-limited attempts in a row, up to
    /// `max_backoff`; the caps are a year at most.
    #[test]
    fn waits_grow_and_caps_hold() {
        let o = WorkerOptions::default();
        let waits: Vec<u64> = (1..=8).map(|n| o.backoff_after(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 600, 600]);
        let o = WorkerOptions {
            max_rate_limit_wait: Duration::MAX,
            max_retry_after: Duration::MAX,
            ..WorkerOptions::default()
        };
        assert_eq!(o.longest_rate_limit_wait(), LONGEST_WAIT);
        assert_eq!(o.longest_asked(), LONGEST_WAIT);
        assert_eq!(
            WorkerOptions::default().longest_rate_limit_wait(),
            Duration::from_secs(86_400)
        );
        // A host's huge backoff saturates at a year (review41 R7): no overflow, and a retry
        // time both databases store.
        let o = WorkerOptions {
            backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            ..WorkerOptions::default()
        };
        for attempt in [0, 1, 2, 21, u32::MAX] {
            assert_eq!(o.backoff_after(attempt), LONGEST_WAIT, "{attempt}");
        }
        assert_eq!(o.retry_wait(u32::MAX, None), LONGEST_WAIT);
        let year = chrono::Duration::from_std(LONGEST_WAIT).unwrap_or(chrono::Duration::MAX);
        assert!(later(o.backoff_after(9)) <= Utc::now() + year);
    }
}
