//! A retryable error of any kind that asks for a wait ([`Error::retry_after`]: a 503's
//! `Retry-After` past the HTTP layer's retries, core's "no I/O runtime could start in this
//! forked child") is retried after that wait, not after the shorter backoff, and a resumed
//! attempt that failed so is not a stalled resume of its checkpoint (review33 F4), on SQLite
//! and on PostgreSQL.

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
    ConnectorStore, JobStatus, NewConnector, SyncDb, SyncService, Trigger, TriggerMode,
};
use support::engine::{Backend, Recorder, fast_worker, fresh_url, ok};

on_both!(a_retry_after_is_waited_and_not_counted_as_a_stall);

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
                    return Err(Error::new(ErrorKind::Unavailable, "down for maintenance")
                        .with_retry_after(WAIT));
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
    let dir = ok(
        "tempdir",
        tempfile::tempdir().map_err(|e| Error::internal(e.to_string())),
    );
    let shared = Arc::new(Shared::default());
    shared.failures.store(4, Ordering::SeqCst);
    let url = fresh_url(backend, dir.path()).await;
    let db = ok("connect", SyncDb::connect(&url).await);
    let sink = Recorder::default();
    let service = SyncService::new(ConnectorStore::new(db, registry(&shared)), sink.factory());
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
    let stop = connector_core::Cancellation::new();
    let worker = {
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move { service.run_workers(fast_worker("w"), stop).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let record = ok("job", service.job(job).await);
        if let Some(record) = record.filter(|j| j.status.is_finished()) {
            break record;
        }
        assert!(tokio::time::Instant::now() < deadline, "never finished");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    stop.cancel();
    ok(
        "worker",
        worker
            .await
            .map_err(|e| Error::internal(e.to_string()))
            .and_then(|r| r),
    );
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(done.attempt, 5, "{done:#?}");
    assert_eq!(sink.deliveries().len(), 6);
    assert!(sink.deliveries().values().all(|n| *n == 1));

    let loads = shared
        .loads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let resumed: Vec<bool> = loads.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        resumed,
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
