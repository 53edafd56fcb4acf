//! A retryable error of any kind that asks for a wait ([`Error::retry_after`]: a 503's
//! `Retry-After` past the HTTP layer's retries, core's "no I/O runtime could start in this
//! forked child") is retried after that wait, not after the shorter backoff, and a resumed
//! attempt that failed so is not a stalled resume of its checkpoint (review33 F4), on SQLite
//! and on PostgreSQL.
//!
//! That wait is cut to `WorkerOptions::max_retry_after` (review36 F1): a day's, or a hostile
//! `u64::MAX` seconds', holds the job an hour by default and never panics; a trigger during
//! the wait is merged into the waiting job. A resume the service throttles at every try, with a
//! wait or without, keeps its checkpoint (review41 R1, review45 E1), and a non-retryable error's `retry_after` is ignored.

#[macro_use]
mod support;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_core::reexports::futures::StreamExt as _;
use connector_core::reexports::{schemars, serde};
use connector_core::testkit::{MemoryCheckpoint, MemoryConnector};
use connector_core::{
    BoxStream, CheckpointedBatch, CheckpointedConnector, Connector, ConnectorConfig, Error,
    ErrorKind, Registry, Result, Roles, SyncContext, TimeWindow,
};
use connector_sync::{
    ConnectorStore, JobRecord, JobStatus, NewConnector, SyncDb, SyncService, Trigger, TriggerMode,
    WorkerOptions,
};
use support::engine::{Backend, Recorder, fast_worker, fresh_url, ok};

on_both!(
    a_retry_after_is_waited_and_not_counted_as_a_stall,
    a_huge_retry_after_is_cut_to_max_retry_after,
    a_hostile_retry_after_is_waited_only_up_to_the_cap,
    a_resume_throttled_at_every_try_keeps_its_checkpoint,
    a_resume_throttled_without_a_wait_keeps_its_checkpoint,
    a_non_retryable_errors_retry_after_is_ignored,
);

/// The wait the source asks for: longer than every backoff of the fast worker (100 ms
/// doubled, at most 1 s).
const WAIT: Duration = Duration::from_millis(1500);

/// The config of the test source `flaky`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(crate = "connector_core::reexports::serde", deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
struct FlakyConfig {
    items: usize,
}

impl ConnectorConfig for FlakyConfig {}

/// What the attempts of one test share (each attempt builds its connector anew).
#[derive(Debug, Default)]
struct Shared {
    /// Failures left: a page after the listing's first fails while some are.
    failures: AtomicUsize,
    /// Each load: when it started, and whether it resumed a checkpoint.
    loads: Mutex<Vec<(Instant, bool)>>,
    /// The error's kind and asked wait, when not `Unavailable` and [`WAIT`].
    error: Mutex<Option<(ErrorKind, Duration)>>,
}

impl Shared {
    fn new(failures: usize, error: Option<(ErrorKind, Duration)>) -> Arc<Self> {
        let shared = Self::default();
        shared.failures.store(failures, Ordering::SeqCst);
        *shared.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
        Arc::new(shared)
    }

    fn error(&self) -> Error {
        let (kind, wait) = self
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or((ErrorKind::Unavailable, WAIT));
        let e = Error::new(kind, "down for maintenance");
        // A zero wait stands for an error that asks for none (a bare 429).
        if wait.is_zero() {
            e
        } else {
            e.with_retry_after(wait)
        }
    }

    /// Whether each load resumed a checkpoint.
    fn resumed(&self) -> Vec<bool> {
        let loads = self.loads.lock().unwrap_or_else(|e| e.into_inner());
        loads.iter().map(|(_, r)| *r).collect()
    }
}

/// A memory source whose pages after the listing's first fail, `Unavailable` asking for
/// [`WAIT`], while failures are left: the first attempt commits a page, the next ones resume
/// from it and fail at once.
#[derive(Debug)]
struct Flaky {
    inner: MemoryConnector,
    shared: Arc<Shared>,
}

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("flaky")
    }
}

#[async_trait::async_trait]
impl Connector for Flaky {
    fn source(&self) -> &'static str {
        "flaky"
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).checkpointed().into()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl CheckpointedConnector for Flaky {
    type Checkpoint = MemoryCheckpoint;

    fn initial_checkpoint(&self) -> MemoryCheckpoint {
        MemoryCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: MemoryCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<MemoryCheckpoint>>> {
        let resumed = from != MemoryCheckpoint::default();
        self.shared
            .loads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((Instant::now(), resumed));
        let shared = self.shared.clone();
        let mut first = !resumed;
        self.inner
            .load_from_checkpoint(from, window, ctx)
            .map(move |page| {
                let past_first = !std::mem::take(&mut first);
                if past_first
                    && shared
                        .failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                {
                    return Err(shared.error());
                }
                page
            })
            .boxed()
    }
}

fn registry(shared: &Arc<Shared>) -> Arc<Registry> {
    let mut registry = Registry::new();
    let shared = shared.clone();
    registry.register::<FlakyConfig, _>("flaky", "a source that asks for a wait", move |cfg| {
        let start = chrono::DateTime::UNIX_EPOCH;
        Ok(Box::new(Flaky {
            inner: MemoryConnector::numbered(cfg.items, 2, start),
            shared: shared.clone(),
        }))
    });
    Arc::new(registry)
}

/// Four failed attempts in a row asking for a wait (the first after a committed page, the
/// next three resumed from it without progress): each retry comes after the wait, and the
/// fifth still resumes from the checkpoint (three stalled resumes would have dropped it, and
/// that attempt would have started over from the first page).
async fn a_retry_after_is_waited_and_not_counted_as_a_stall(backend: Backend) {
    let shared = Shared::new(4, None);
    let (done, sink) = run_to_the_end(backend, &shared, fast_worker("w")).await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(done.attempt, 5, "{done:#?}");
    assert_eq!(sink.deliveries().len(), 6);
    assert!(sink.deliveries().values().all(|n| *n == 1));

    let loads = shared
        .loads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(
        shared.resumed(),
        [false, true, true, true, true],
        "every retry resumes the checkpoint"
    );
    // 50 ms spared for the rounding of the database's clock, which times the retry.
    for pair in loads.windows(2) {
        let waited = pair[1].0.duration_since(pair[0].0);
        assert!(
            waited >= WAIT - Duration::from_millis(50),
            "retried {waited:?} after an error asking for {WAIT:?}"
        );
    }
}

/// A service (the test's `flaky`), its connector and one full job, on a fresh database.
struct Setup {
    _dir: tempfile::TempDir,
    service: SyncService,
    sink: Recorder,
    connector: String,
    job: i64,
}

async fn setup(backend: Backend, shared: &Arc<Shared>) -> Setup {
    let dir = ok(
        "tempdir",
        tempfile::tempdir().map_err(|e| Error::internal(e.to_string())),
    );
    let url = fresh_url(backend, dir.path()).await;
    let db = ok("connect", SyncDb::connect(&url).await);
    let sink = Recorder::default();
    let service = SyncService::new(ConnectorStore::new(db, registry(shared)), sink.factory());
    let c = ok(
        "create",
        service
            .create(NewConnector::new(
                "flaky",
                "flaky",
                serde_json::json!({ "items": 6 }),
            ))
            .await,
    );
    let job = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    Setup {
        _dir: dir,
        service,
        sink,
        connector: c.id,
        job,
    }
}

/// A worker with `options` running on `service` until `stop`.
fn worker(
    service: &SyncService,
    options: WorkerOptions,
    stop: &connector_core::Cancellation,
) -> tokio::task::JoinHandle<Result<()>> {
    let service = service.clone();
    let stop = stop.clone();
    tokio::spawn(async move { service.run_workers(options, stop).await })
}

async fn stop_worker(
    stop: &connector_core::Cancellation,
    worker: tokio::task::JoinHandle<Result<()>>,
) {
    stop.cancel();
    ok(
        "worker",
        worker
            .await
            .map_err(|e| Error::internal(e.to_string()))
            .and_then(|r| r),
    );
}

/// Job `job` once `until` holds of it, failing the test after a minute.
async fn wait_for(
    service: &SyncService,
    job: i64,
    until: impl Fn(&JobRecord) -> bool,
) -> JobRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let record = ok("job", service.job(job).await);
        if let Some(record) = record.filter(&until) {
            return record;
        }
        assert!(tokio::time::Instant::now() < deadline, "never got there");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs a full job of `flaky` with a worker of `options` until it ends.
async fn run_to_the_end(
    backend: Backend,
    shared: &Arc<Shared>,
    options: WorkerOptions,
) -> (JobRecord, Recorder) {
    let Setup {
        _dir,
        service,
        sink,
        job,
        ..
    } = setup(backend, shared).await;
    let stop = connector_core::Cancellation::new();
    let worker = worker(&service, options, &stop);
    let done = wait_for(&service, job, |j| j.status.is_finished()).await;
    stop_worker(&stop, worker).await;
    (done, sink)
}

/// Waits a service asks for, from a day's to hostile ones that overflowed `chrono` (past about
/// 8.2e12 s: a panic) or `TimeDelta` (past about 9.2e15 s: no wait at all), and that SQLite
/// could not store (past about 2.5e11 s), retry after `max_retry_after` (1 h by default), for
/// `Unavailable` and `RateLimited` alike. A manual trigger during the wait is merged into the
/// waiting job and does not run it.
async fn a_huge_retry_after_is_cut_to_max_retry_after(backend: Backend) {
    let cap = WorkerOptions::default().max_retry_after;
    assert_eq!(cap, Duration::from_secs(3600));
    for kind in [ErrorKind::Unavailable, ErrorKind::RateLimited] {
        for asked in [
            Duration::from_secs(86_400),
            Duration::from_secs(100_000_000_000_000),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            let shared = Shared::new(1, Some((kind, asked)));
            let Setup {
                _dir,
                service,
                connector,
                job,
                ..
            } = setup(backend, &shared).await;
            let stop = connector_core::Cancellation::new();
            let worker = worker(&service, fast_worker("w"), &stop);
            let failed = wait_for(&service, job, |j| {
                j.status == JobStatus::Queued && j.error.is_some()
            })
            .await;
            let now = chrono::Utc::now();
            let cap = chrono::Duration::from_std(cap).expect("an hour");
            let slack = chrono::Duration::seconds(5);
            assert!(
                failed.run_after > now + cap - slack && failed.run_after < now + cap + slack,
                "{kind:?} asking for {asked:?}: retries at {}, not an hour from {now}",
                failed.run_after
            );
            // "Sync now" during the wait: merged into the waiting job, which still waits.
            let again = ok(
                "trigger",
                service
                    .trigger(&connector, Trigger::new(TriggerMode::Full))
                    .await,
            );
            assert_eq!(again.len(), 1);
            assert!(!again[0].created, "{again:?}");
            assert_eq!(again[0].job_id, job);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let still = ok("job", service.job(job).await).expect("the job");
            assert_eq!(still.status, JobStatus::Queued, "{still:#?}");
            assert_eq!(still.run_after, failed.run_after);
            assert_eq!(shared.resumed(), [false], "no attempt ran during the wait");
            stop_worker(&stop, worker).await;
        }
    }
}

/// With `max_retry_after` at [`WAIT`], a hostile `Retry-After` of `Duration::MAX` is waited
/// out that long, and the job ends well.
async fn a_hostile_retry_after_is_waited_only_up_to_the_cap(backend: Backend) {
    let shared = Shared::new(2, Some((ErrorKind::Unavailable, Duration::MAX)));
    let mut options = fast_worker("w");
    options.max_retry_after = WAIT;
    let (done, _sink) = run_to_the_end(backend, &shared, options).await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(shared.resumed(), [false, true, true]);
    let loads = shared
        .loads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for pair in loads.windows(2) {
        let waited = pair[1].0.duration_since(pair[0].0);
        assert!(
            waited >= WAIT - Duration::from_millis(50),
            "retried {waited:?} after an error asking for more than {WAIT:?}"
        );
    }
}

/// A resume throttled at every try (each asking for a wait) is not a stalled resume: the
/// checkpoint is kept through seven throttled attempts, and the eighth load still resumes it
/// (review41 R1: fix21 counted each as half a stall, so the sixth dropped the checkpoint and the
/// run started over, delivering every batch again).
async fn a_resume_throttled_at_every_try_keeps_its_checkpoint(backend: Backend) {
    let shared = Shared::new(
        7,
        Some((ErrorKind::RateLimited, Duration::from_millis(150))),
    );
    let (done, _sink) = run_to_the_end(backend, &shared, fast_worker("w")).await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(
        shared.resumed(),
        [false, true, true, true, true, true, true, true],
        "seven throttled resumes, and the checkpoint is still resumed"
    );
}

/// A `RateLimited` error that asks for no wait (a bare 429, a quota error) is not a stalled
/// resume either (review45 E1: three in a row dropped the checkpoint within minutes).
async fn a_resume_throttled_without_a_wait_keeps_its_checkpoint(backend: Backend) {
    let shared = Shared::new(5, Some((ErrorKind::RateLimited, Duration::ZERO)));
    let (done, _sink) = run_to_the_end(backend, &shared, fast_worker("w")).await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(
        shared.resumed(),
        [false, true, true, true, true, true],
        "five bare rate limits, and the checkpoint is still resumed"
    );
}

/// A `retry_after` on an error that is not retryable (`InvalidData`, retried by the worker all
/// the same) is not honoured: the retry comes after the fast worker's backoff, not a day.
async fn a_non_retryable_errors_retry_after_is_ignored(backend: Backend) {
    let shared = Shared::new(
        1,
        Some((ErrorKind::InvalidData, Duration::from_secs(86_400))),
    );
    let (done, _sink) = run_to_the_end(backend, &shared, fast_worker("w")).await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(shared.resumed(), [false, true]);
}
