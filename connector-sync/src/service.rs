//! [`SyncService`]: the library API a host embeds: connectors, triggers, jobs, logs,
//! documents, and the worker and scheduler loops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::state::{RunRecord, StateStore};
use connector_core::{Cancellation, Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

use crate::connectors::{
    ConnectorRecord, ConnectorStatus, ConnectorStore, ConnectorUpdate, NewConnector,
};
use crate::db::SyncDb;
use crate::events::EventNotifier;
use crate::jobs::{self, JobKind, JobMode, JobRecord, JobStatus, Merged, NewJob};
use crate::observe::JobObserver;
use crate::scheduler::{self, SchedulerOptions, Tick};
use crate::sinks::SinkFactory;
use crate::store::on_pool;
use crate::worker::{self, WorkerOptions};

/// What a manual sync covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerMode {
    /// Everything from the start.
    Full,
    /// What changed since the last run (with ids: those items fetched again first).
    Incremental,
    /// Resume an interrupted run, else incremental, else full.
    Auto,
}

/// A manual sync request ([`SyncService::trigger`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// What the run covers.
    pub mode: TriggerMode,
    /// Items to fetch again by id before the incremental run (only with
    /// [`TriggerMode::Incremental`], and only for a source that can fetch by id, a
    /// [`RefetchConnector`](connector_core::RefetchConnector)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
}

impl Trigger {
    /// A run in `mode`, without ids.
    pub fn new(mode: TriggerMode) -> Self {
        Self { mode, ids: None }
    }

    /// An incremental run that fetches `ids` again first.
    pub fn refetch(ids: Vec<String>) -> Self {
        Self {
            mode: TriggerMode::Incremental,
            ids: Some(ids),
        }
    }
}

/// A job a trigger asked for: queued now, or already pending (one pending job per
/// connector, kind and partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggered {
    /// The job's id.
    pub job_id: i64,
    /// `false` when a job was already queued or running and nothing new was queued.
    pub created: bool,
}

/// One acknowledged document of a connector, as the state store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentEntry {
    /// The document id.
    pub id: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// When the source last changed it.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A worker as registered in the `worker` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Its id.
    pub id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
}

/// The sync engine a host embeds: connector records, manual triggers, job status with
/// progress and why a job waits, run logs, document listings, and the two loops that do the
/// work, [`run_scheduler`](Self::run_scheduler) and [`run_workers`](Self::run_workers).
///
/// Any number of processes may run the loops on one database (PostgreSQL to spread over
/// machines): the database is the queue, and nothing else is shared between them.
///
/// ```
/// use std::sync::Arc;
/// use connector_core::{Cancellation, Registry};
/// use connector_sync::{
///     ConnectorStore, DataDirSinks, DataLayout, JobStatus, NewConnector, SchedulerOptions,
///     SyncDb, SyncService, Trigger, TriggerMode, WorkerOptions,
/// };
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> connector_core::Result<()> {
/// # let tmp = tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string()))?;
/// # let docs = tmp.path().join("docs");
/// # std::fs::create_dir_all(&docs).map_err(|e| connector_core::Error::internal(e.to_string()))?;
/// # std::fs::write(docs.join("a.md"), "# A").map_err(|e| connector_core::Error::internal(e.to_string()))?;
/// # let db_url = format!("sqlite:{}", tmp.path().join("sync.db").display());
/// # let data = tmp.path().join("data");
///     // The host registers the sources it ships, opens the database and picks a sink.
///     let mut registry = Registry::new();
///     connector_misc::register(&mut registry);
///     let db = SyncDb::connect(&db_url).await?; // or "postgres://…"
///     let store = ConnectorStore::from_env(db, Arc::new(registry))?;
///     let service = SyncService::new(store, Arc::new(DataDirSinks::new(&data, DataLayout::Ndjson)));
///
///     let mut handbook = NewConnector::new(
///         "handbook",
///         "local",
///         serde_json::json!({ "path": docs }),
///     );
///     handbook.refresh_freq = 60; // a sync every hour, the first one now
///     let handbook = service.create(handbook).await?;
///
///     // The loops run until `stop` fires (on a signal, say); both stop cleanly.
///     let stop = Cancellation::new();
///     let workers = service.run_workers(WorkerOptions::default(), stop.clone());
///     let scheduler = service.run_scheduler(SchedulerOptions::default(), stop.clone());
///     let watch = async {
///         let job = service.trigger(&handbook.id, Trigger::new(TriggerMode::Full)).await?;
///         loop {
///             let status = service.job(job[0].job_id).await?;
///             if status.is_some_and(|j| j.status.is_finished()) {
///                 break;
///             }
///             tokio::time::sleep(std::time::Duration::from_millis(50)).await;
///         }
///         stop.cancel();
///         Ok::<(), connector_core::Error>(())
///     };
///     let (w, s, watched) = tokio::join!(workers, scheduler, watch);
///     (w?, s?, watched?);
///
///     let jobs = service.jobs(Some(&handbook.id), 10).await?;
///     assert!(jobs.iter().any(|j| j.status == JobStatus::Done));
///     assert_eq!(service.documents(&handbook.id, None, 100).await?.len(), 1);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct SyncService {
    store: ConnectorStore,
    sinks: Arc<dyn SinkFactory>,
    worker_ttl: Duration,
    observers: Vec<Arc<dyn JobObserver>>,
}

impl SyncService {
    /// The engine over `store`'s database, writing documents through `sinks`.
    pub fn new(store: ConnectorStore, sinks: Arc<dyn SinkFactory>) -> Self {
        Self {
            store,
            sinks,
            worker_ttl: SchedulerOptions::default().worker_ttl,
            observers: Vec::new(),
        }
    }

    /// Adds an observer of the job events (started, finished, failed) of this service's
    /// workers ([`run_workers`](Self::run_workers)): the hook for metrics and job webhooks.
    #[must_use]
    pub fn observe(mut self, observer: Arc<dyn JobObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The sink factory documents go through.
    pub fn sinks(&self) -> &Arc<dyn SinkFactory> {
        &self.sinks
    }

    /// How old a worker's heartbeat may be before a job says "no worker alive" (60 s by
    /// default; keep it above the workers' heartbeat interval). At most
    /// [`MAX_WORKER_TTL`](crate::MAX_WORKER_TTL), a day: a longer one is cut to it where it
    /// is used, as the scheduler's is (review61 L1: a huge one panicked the status of a
    /// queued job).
    #[must_use]
    pub fn worker_ttl(mut self, ttl: Duration) -> Self {
        self.worker_ttl = ttl;
        self
    }

    /// The connector records.
    pub fn store(&self) -> &ConnectorStore {
        &self.store
    }

    /// The database.
    pub fn db(&self) -> &SyncDb {
        self.store.db()
    }

    /// Creates a connector ([`ConnectorStore::create`]).
    ///
    /// # Errors
    /// As [`ConnectorStore::create`].
    pub async fn create(&self, new: NewConnector) -> Result<ConnectorRecord> {
        self.store.create(new).await
    }

    /// Changes a connector ([`ConnectorStore::update`]).
    ///
    /// # Errors
    /// As [`ConnectorStore::update`].
    pub async fn update(&self, id: &str, update: ConnectorUpdate) -> Result<ConnectorRecord> {
        self.store.update(id, update).await
    }

    /// Deletes a connector with its state, jobs and logs ([`ConnectorStore::delete`]); a
    /// job of it that is running stops at its next heartbeat or commit.
    ///
    /// # Errors
    /// As [`ConnectorStore::delete`].
    pub async fn delete(&self, id: &str) -> Result<bool> {
        self.store.delete(id).await
    }

    /// The connector `id`.
    ///
    /// # Errors
    /// As [`ConnectorStore::get`].
    pub async fn get(&self, id: &str) -> Result<Option<ConnectorRecord>> {
        self.store.get(id).await
    }

    /// Every connector.
    ///
    /// # Errors
    /// As [`ConnectorStore::list`].
    pub async fn list(&self) -> Result<Vec<ConnectorRecord>> {
        self.store.list().await
    }

    async fn existing(&self, id: &str) -> Result<ConnectorRecord> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no connector `{id}`")))
    }

    /// Queues a sync of connector `id` now: one job per partition of the connector (one for
    /// a connector that does not split), unless one is pending already (then its id comes
    /// back with `created: false`, and a queued one waiting to retry after a failed attempt
    /// is due at once, for a backoff as for a stated wait; a rate limit's wait still holds
    /// it). A paused connector's job waits until it is resumed. So a host calling it on every
    /// source event (a push webhook) makes one attempt per event against a source that is
    /// down (review47 L3): call it for a user's request, or let the scheduler run.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::Config`] for ids with
    /// another mode than incremental; [`ErrorKind::Unsupported`] for ids when the source
    /// cannot fetch by id; [`ErrorKind::State`] when the database fails.
    pub async fn trigger(&self, id: &str, trigger: Trigger) -> Result<Vec<Triggered>> {
        let record = self.existing(id).await?;
        let mode = match trigger.mode {
            TriggerMode::Full => JobMode::Full,
            TriggerMode::Incremental => JobMode::Incremental,
            TriggerMode::Auto => JobMode::Auto,
        };
        let ids = trigger.ids.filter(|ids| !ids.is_empty());
        if ids.is_some() {
            if mode != JobMode::Incremental {
                return Err(Error::new(
                    ErrorKind::Config,
                    "ids to fetch again go with an incremental sync",
                )
                .with_field("ids"));
            }
            let config = self.store.config(id).await?;
            let connector = self.store.registry().build(&record.source, config)?;
            if connector.as_refetch().is_none() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "source `{}` cannot fetch items by id; trigger a sync without ids",
                        record.source
                    ),
                )
                .with_field("ids"));
            }
        }
        let partitions = scheduler::partitions(&self.store, id, &record.source).await;
        let mut out = Vec::with_capacity(partitions.len());
        for partition in &partitions {
            let job = NewJob {
                connector_id: id,
                kind: JobKind::Sync,
                mode,
                partition,
                refetch_ids: ids.as_deref(),
                wait_reason: None,
            };
            out.push(self.queue(&job).await?);
        }
        Ok(out)
    }

    /// Queues a prune of connector `id` now (deletes what its source no longer lists),
    /// unless one is pending.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::State`] when the
    /// database fails.
    pub async fn trigger_prune(&self, id: &str) -> Result<Triggered> {
        self.existing(id).await?;
        let job = NewJob {
            connector_id: id,
            kind: JobKind::Prune,
            mode: JobMode::Auto,
            partition: "",
            refetch_ids: None,
            wait_reason: None,
        };
        self.queue(&job).await
    }

    async fn queue(&self, job: &NewJob<'_>) -> Result<Triggered> {
        if let Some(job_id) = jobs::enqueue(self.db(), job).await? {
            return Ok(Triggered {
                job_id,
                created: true,
            });
        }
        match jobs::merge_into_pending(self.db(), job).await? {
            Merged::Queued(job_id) | Merged::Covered(job_id) => Ok(Triggered {
                job_id,
                created: false,
            }),
            Merged::Running(job_id) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "job {job_id} of connector `{}` is running and cannot take this {} sync{}; \
                     trigger it again once that job ends",
                    job.connector_id,
                    job.mode.as_str(),
                    if job.refetch_ids.is_some() {
                        " with ids"
                    } else {
                        ""
                    }
                ),
            )),
            Merged::None => {
                // Nothing pending: it ended between the two statements, or the connector is
                // gone (then no job is queued for it).
                self.existing(job.connector_id).await?;
                Box::pin(self.queue(job)).await
            }
        }
    }

    /// Cancels job `id` if it is queued or running (a running one stops between two sink
    /// writes, at its worker's next heartbeat or commit). `false` when it was already over.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown job; [`ErrorKind::State`] when the database
    /// fails.
    pub async fn cancel(&self, job_id: i64) -> Result<bool> {
        if jobs::get(self.db(), job_id).await?.is_none() {
            return Err(jobs::job_not_found(job_id));
        }
        jobs::cancel(self.db(), job_id).await
    }

    /// Pauses connector `id`: the scheduler queues nothing for it and its queued jobs wait
    /// (a running job finishes).
    ///
    /// # Errors
    /// As [`ConnectorStore::update`].
    pub async fn pause(&self, id: &str) -> Result<ConnectorRecord> {
        self.set_status(id, ConnectorStatus::Paused).await
    }

    /// Resumes connector `id`: its schedule and queued jobs go on (a sync that fell due
    /// while paused is queued at the next tick).
    ///
    /// # Errors
    /// As [`ConnectorStore::update`].
    pub async fn resume(&self, id: &str) -> Result<ConnectorRecord> {
        self.set_status(id, ConnectorStatus::Active).await
    }

    async fn set_status(&self, id: &str, status: ConnectorStatus) -> Result<ConnectorRecord> {
        self.store
            .update(
                id,
                ConnectorUpdate {
                    status: Some(status),
                    ..ConnectorUpdate::default()
                },
            )
            .await
    }

    /// Forgets what connector `id` has synced (checkpoints, document states, failures; its
    /// run log stays), cancels its pending jobs and queues a full run (one per partition), in
    /// one transaction.
    /// The sink is not cleared: the full run delivers every document again (sinks upsert).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::State`] when the
    /// database fails.
    pub async fn rebuild(&self, id: &str) -> Result<Vec<Triggered>> {
        let record = self.existing(id).await?;
        let partitions = scheduler::partitions(&self.store, id, &record.source).await;
        let ids = jobs::rebuild(self.db(), id, &partitions).await?;
        Ok(ids
            .into_iter()
            .map(|job_id| Triggered {
                job_id,
                created: true,
            })
            .collect())
    }

    /// Job `id` with its progress; a queued job's `wait_reason` is computed now (paused,
    /// scheduled or backing off until T, rate-limited until T, no worker alive, queued behind
    /// N jobs).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn job(&self, id: i64) -> Result<Option<JobRecord>> {
        let Some(mut job) = jobs::get(self.db(), id).await? else {
            return Ok(None);
        };
        if job.status == JobStatus::Queued {
            let ttl = scheduler::worker_ttl(self.worker_ttl);
            if let Some(reason) = jobs::wait_reason_of(self.db(), id, ttl).await? {
                job.wait_reason = Some(reason);
            }
        }
        Ok(Some(job))
    }

    /// Job `id` as stored, its `wait_reason` as last recorded (no live computation: one
    /// read, however long the queue).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn job_stored(&self, id: i64) -> Result<Option<JobRecord>> {
        jobs::get(self.db(), id).await
    }

    /// The newest jobs (of one connector when `connector_id` is given), at most `limit`.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn jobs(&self, connector_id: Option<&str>, limit: usize) -> Result<Vec<JobRecord>> {
        jobs::list(self.db(), connector_id, None, limit).await
    }

    /// The jobs in `status`, newest first, at most `limit` (all connectors).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn jobs_in(&self, status: JobStatus, limit: usize) -> Result<Vec<JobRecord>> {
        jobs::list(self.db(), None, Some(status), limit).await
    }

    /// The last `limit` finished runs of connector `id`, oldest first (the run log).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn runs(&self, id: &str, limit: usize) -> Result<Vec<RunRecord>> {
        self.store.state_store(id).runs(limit).await
    }

    /// A page of connector `id`'s acknowledged documents, by id: at most `limit` after
    /// `after` (the last id of the previous page).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn documents(
        &self,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocumentEntry>> {
        let db = self.db();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, Option<DateTime<Utc>>)> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT doc_id, fingerprint, updated_at FROM document_state \
                 WHERE connector_id = $1 AND ($2 IS NULL OR doc_id > $2) ORDER BY doc_id LIMIT $3",
            )
            .bind(id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(|e| db.error(&format!("cannot list the documents of connector `{id}` in"), &e))?
        });
        Ok(rows
            .into_iter()
            .map(|(id, fingerprint, updated_at)| DocumentEntry {
                id,
                fingerprint,
                updated_at,
            })
            .collect())
    }

    /// Document `doc_id` of connector `id`, as its state store keeps it (`None`: the
    /// connector has no such acknowledged document).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn document(&self, id: &str, doc_id: &str) -> Result<Option<DocumentEntry>> {
        let db = self.db();
        let row: Option<(String, String, Option<DateTime<Utc>>)> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT doc_id, fingerprint, updated_at FROM document_state \
                 WHERE connector_id = $1 AND doc_id = $2",
            )
            .bind(id)
            .bind(doc_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error(&format!("cannot read a document of connector `{id}` in"), &e))?
        });
        Ok(row.map(|(id, fingerprint, updated_at)| DocumentEntry {
            id,
            fingerprint,
            updated_at,
        }))
    }

    /// How many acknowledged documents connector `id` has.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn document_count(&self, id: &str) -> Result<u64> {
        let db = self.db();
        let (n,): (i64,) = on_pool!(db, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM document_state WHERE connector_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .map_err(|e| db.error(&format!("cannot count the documents of connector `{id}` in"), &e))?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes document `doc_id` of connector `id`: first through the connector's sink
    /// ([`Sink::delete`](connector_core::sink::Sink::delete), so the host drops it), then from
    /// the state (its fingerprint and any failure kept for it), so the next sync delivers it
    /// again as new if the source still has it. `false` when the connector has no such
    /// document (nothing is sent to the sink then).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; the sink's error (the state is kept
    /// then); [`ErrorKind::State`] when the database fails.
    pub async fn delete_document(&self, id: &str, doc_id: &str) -> Result<bool> {
        let record = self.existing(id).await?;
        if self.document(id, doc_id).await?.is_none() {
            return Ok(false);
        }
        let sink = self.sinks.sink(&record).await?;
        sink.delete(&[doc_id.to_owned()]).await?;
        let db = self.db();
        on_pool!(db, pool => {
            let fail = |e: sqlx::Error| db.error(&format!("cannot forget a document of connector `{id}` in"), &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            sqlx::query("DELETE FROM document_state WHERE connector_id = $1 AND doc_id = $2")
                .bind(id)
                .bind(doc_id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            sqlx::query("DELETE FROM failed_item WHERE connector_id = $1 AND doc_id = $2")
                .bind(id)
                .bind(doc_id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        });
        Ok(true)
    }

    /// A page of connector `id`'s jobs (its sync log), newest first: at most `limit` after
    /// the first `offset`, and how many there are in all.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn jobs_page(
        &self,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<JobRecord>, u64)> {
        let db = self.db();
        let (n,): (i64,) = on_pool!(db, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM job WHERE connector_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .map_err(|e| db.error("cannot count the jobs in", &e))?
        });
        let jobs = jobs::list_page(db, id, offset, limit).await?;
        Ok((jobs, u64::try_from(n).unwrap_or(0)))
    }

    /// Cancels every queued or running job of connector `id` (RAGFlow's `cancel_tasks`);
    /// returns how many.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::State`] when the
    /// database fails.
    pub async fn cancel_pending(&self, id: &str) -> Result<u64> {
        self.existing(id).await?;
        let mut n = 0;
        for status in [JobStatus::Queued, JobStatus::Running] {
            for job in jobs::list(self.db(), Some(id), Some(status), usize::MAX).await? {
                if jobs::cancel(self.db(), job.id).await? {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Lifts connector `id`'s rate-limit hold before its time, when the limit is known to be
    /// gone (a quota raised, a proxy rule fixed): its queued jobs, those a rate limit put back
    /// to retry included, are claimed at a worker's next poll instead of waiting out the
    /// `rate-limited until T` their service asked for (up to
    /// [`WorkerOptions::max_rate_limit_wait`](crate::WorkerOptions::max_rate_limit_wait), a
    /// day by default). `true` when it was held. The shared rate limits of its credentials
    /// ([`SqlRateGate`](crate::SqlRateGate)) are not touched: a `Retry-After` told to the
    /// HTTP layer is waited out (at most `max_retry_after`).
    ///
    /// A job is freed if it was rate-limited at any attempt since its last commit, even when
    /// its latest attempt failed otherwise (a 503's `Retry-After`, a backoff): that wait is
    /// lifted too, as a trigger would (review56 L5). A job that is running at the call and is
    /// rate-limited again holds its connector again (a fresh hold, written after this). One
    /// whose hold was written just before the call, and that is put back after it, still
    /// waits out its own retry (review56 L6, review61 L6). Over HTTP:
    /// `DELETE /api/v1/connectors/{id}/rate-limit`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::State`] when the
    /// database fails.
    pub async fn clear_rate_limit(&self, id: &str) -> Result<bool> {
        self.existing(id).await?;
        jobs::clear_rate_limit(self.db(), id).await
    }

    /// Counts the jobs by status (all connectors), for metrics.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn job_counts(&self) -> Result<Vec<(JobStatus, u64)>> {
        jobs::counts(self.db()).await
    }

    /// Validates `config` for `source` (every problem by field path), builds the connector
    /// and runs its [`check`](connector_core::Connector::check) (credentials and
    /// reachability), giving up after `timeout`. Nothing is stored.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source or an invalid config; the check's error
    /// (`Unauthenticated`, `Unavailable`, …); [`ErrorKind::Timeout`] past `timeout`.
    pub async fn test_config(
        &self,
        source: &str,
        config: serde_json::Value,
        timeout: Duration,
    ) -> Result<()> {
        let registry = self.store.registry();
        registry.effective_config(source, config.clone())?;
        let connector = registry.build(source, config)?;
        match tokio::time::timeout(timeout, connector.check()).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the check of source `{source}` did not answer within {}s",
                    timeout.as_secs()
                ),
            )),
        }
    }

    /// [`test_config`](Self::test_config) with the stored config of connector `id`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; as
    /// [`test_config`](Self::test_config).
    pub async fn test_connector(&self, id: &str, timeout: Duration) -> Result<()> {
        let record = self.existing(id).await?;
        let config = self.store.config(id).await?;
        self.test_config(&record.source, config, timeout).await
    }

    /// The workers registered in the database (those that stopped cleanly are gone; a dead
    /// one stays with its last heartbeat).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn workers(&self) -> Result<Vec<WorkerRecord>> {
        let db = self.db();
        let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = on_pool!(db, pool => {
            sqlx::query_as("SELECT id, started_at, heartbeat_at FROM worker ORDER BY id")
                .fetch_all(pool)
                .await
                .map_err(|e| db.error("cannot list the workers of", &e))?
        });
        Ok(rows
            .into_iter()
            .map(|(id, started_at, heartbeat_at)| WorkerRecord {
                id,
                started_at,
                heartbeat_at,
            })
            .collect())
    }

    /// One scheduler pass now ([`run_scheduler`](Self::run_scheduler) runs it on a timer):
    /// queues what is due and records why queued jobs wait.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn schedule_now(&self) -> Result<Tick> {
        let options = SchedulerOptions {
            worker_ttl: self.worker_ttl,
            ..SchedulerOptions::default()
        };
        scheduler::tick(&self.store, &options).await
    }

    /// The scheduler loop: a pass every `options.tick` until `stop` fires. Run it in one
    /// or more processes (they agree through the database).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the options are out of range
    /// ([`SchedulerOptions::validate`]), before any pass; a failed pass is logged and tried
    /// again at the next tick.
    pub async fn run_scheduler(&self, options: SchedulerOptions, stop: Cancellation) -> Result<()> {
        if let Err(e) = options.validate() {
            // Said where it happens: a host that joins the scheduler with its workers may not
            // look at this result until the process stops (review64 M1).
            tracing::error!(error = %e, "the scheduler does not start");
            return Err(e);
        }
        scheduler::run(self.store.clone(), options, stop).await
    }

    /// One worker: claims due jobs (up to `options.jobs` at once, `options.per_source` of one
    /// source) with a lease, runs them through core's `Syncer` with their connector built by
    /// the registry, renews the lease with a heartbeat that stores the counters, finishes
    /// each DONE or FAILED with its error after its retries. When `stop` fires it claims
    /// nothing more, lets running jobs stop between two sink writes, gives them back to the
    /// queue and returns.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the worker cannot register or unregister itself; failures
    /// of jobs are recorded on the jobs, not returned.
    pub async fn run_workers(&self, options: WorkerOptions, stop: Cancellation) -> Result<()> {
        let mut observers = self.observers.clone();
        if options.job_webhooks {
            observers.push(Arc::new(EventNotifier::new(self.store.clone())));
        }
        worker::run(
            self.store.clone(),
            self.sinks.clone(),
            options,
            observers,
            stop,
        )
        .await
    }
}
