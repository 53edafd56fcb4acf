//! The job queue: jobs as rows of the `job` table, queued by the scheduler or by hand,
//! claimed by workers with a lease, finished, retried or cancelled.
//!
//! Every change of a job is one statement (or one transaction), so a process that dies
//! between two of them leaves the queue consistent: a claimed job whose worker died keeps an
//! expiring lease, and [`requeue_expired`] puts it back.

use std::fmt;

use chrono::{DateTime, Utc};
use connector_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::db::SyncDb;
use crate::store::on_pool;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A sync run ([`Syncer::run`](connector_core::sync::Syncer::run)).
    Sync,
    /// A prune ([`Syncer::prune`](connector_core::sync::Syncer::prune)): deletes what the
    /// source no longer lists.
    Prune,
}

impl JobKind {
    /// The name stored in the `job` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Prune => "prune",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "prune" {
            Self::Prune
        } else {
            Self::Sync
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker; [`JobRecord::wait_reason`] says why it still waits.
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    /// Finished successfully.
    Done,
    /// Failed for good (after its retries); [`JobRecord::error`] says why.
    Failed,
    /// Cancelled by hand (or replaced by a rebuild).
    Cancelled,
}

impl JobStatus {
    /// The name stored in the `job` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => Self::Queued,
        }
    }

    /// Whether the job is over (done, failed or cancelled).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a sync job runs, as a trigger asks for it (the `mode` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobMode {
    /// Everything from the start ([`SyncMode::Full`](connector_core::sync::SyncMode::Full)).
    Full,
    /// What changed since the last run; with refetch ids, those items first.
    Incremental,
    /// Resume, else incremental, else full: what scheduled syncs use.
    Auto,
    /// A full run after the connector's state was forgotten.
    Rebuild,
}

impl JobMode {
    /// The name stored in the `job` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
            Self::Auto => "auto",
            Self::Rebuild => "rebuild",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "full" => Self::Full,
            "incremental" => Self::Incremental,
            "rebuild" => Self::Rebuild,
            _ => Self::Auto,
        }
    }
}

/// Counters of a job so far, stored as the worker goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounters {
    /// New documents.
    pub new: u64,
    /// Updated documents.
    pub updated: u64,
    /// Unchanged documents.
    pub unchanged: u64,
    /// Failed items.
    pub failed: u64,
    /// Deleted documents (prune).
    pub deleted: u64,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: i64,
    /// The connector it runs.
    pub connector_id: String,
    /// Sync or prune.
    pub kind: JobKind,
    /// How a sync runs.
    pub mode: JobMode,
    /// The connector partition it runs (`""`: the whole connector).
    pub partition: String,
    /// Queued, running, done, failed or cancelled.
    pub status: JobStatus,
    /// Ids to fetch again first (a manual incremental trigger with an id list).
    pub refetch_ids: Option<Vec<String>>,
    /// The window of the sync, once known.
    pub window_start: Option<DateTime<Utc>>,
    /// The end of that window.
    pub window_end: Option<DateTime<Utc>>,
    /// Progress so far (the last stored by the worker).
    pub counters: JobCounters,
    /// The error of the last attempt, if it failed.
    pub error: Option<String>,
    /// Why a queued job waits, as last recorded (see [`SyncService::job`] for the live one).
    ///
    /// [`SyncService::job`]: crate::SyncService::job
    pub wait_reason: Option<String>,
    /// Attempts started so far.
    pub attempt: u32,
    /// Not claimed before this time (schedule, backoff).
    pub run_after: DateTime<Utc>,
    /// The worker that holds it.
    pub lease_owner: Option<String>,
    /// When that worker's lease ends unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The last heartbeat of that worker for it.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

pub(crate) const JOB_COLUMNS: &str = "id, connector_id, kind, mode, partition_key, status, \
     refetch_ids, window_start, window_end, docs_new, docs_updated, docs_unchanged, docs_failed, \
     docs_deleted, error, wait_reason, attempt, run_after, lease_owner, lease_expires_at, \
     heartbeat_at, created_at, started_at, finished_at";

/// A [`JobRecord`] from a row of [`JOB_COLUMNS`] (a macro: the row type differs per backend).
macro_rules! job_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        (|| -> std::result::Result<JobRecord, sqlx::Error> {
            let count = |i: usize| -> std::result::Result<u64, sqlx::Error> {
                Ok(u64::try_from(row.try_get::<i64, _>(i)?).unwrap_or(0))
            };
            let refetch: Option<Json<Vec<String>>> = row.try_get(6)?;
            let kind: String = row.try_get(2)?;
            let mode: String = row.try_get(3)?;
            let status: String = row.try_get(5)?;
            let attempt: i64 = row.try_get(16)?;
            Ok(JobRecord {
                id: row.try_get(0)?,
                connector_id: row.try_get(1)?,
                kind: JobKind::parse(&kind),
                mode: JobMode::parse(&mode),
                partition: row.try_get(4)?,
                status: JobStatus::parse(&status),
                refetch_ids: refetch.map(|j| j.0),
                window_start: row.try_get(7)?,
                window_end: row.try_get(8)?,
                counters: JobCounters {
                    new: count(9)?,
                    updated: count(10)?,
                    unchanged: count(11)?,
                    failed: count(12)?,
                    deleted: count(13)?,
                },
                error: row.try_get(14)?,
                wait_reason: row.try_get(15)?,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                run_after: row.try_get(17)?,
                lease_owner: row.try_get(18)?,
                lease_expires_at: row.try_get(19)?,
                heartbeat_at: row.try_get(20)?,
                created_at: row.try_get(21)?,
                started_at: row.try_get(22)?,
                finished_at: row.try_get(23)?,
            })
        })()
    }};
}

/// A job to queue.
#[derive(Debug, Clone)]
pub(crate) struct NewJob<'a> {
    pub(crate) connector_id: &'a str,
    pub(crate) kind: JobKind,
    pub(crate) mode: JobMode,
    pub(crate) partition: &'a str,
    pub(crate) refetch_ids: Option<&'a [String]>,
    pub(crate) run_after: DateTime<Utc>,
    pub(crate) wait_reason: Option<String>,
}

/// Queues `job` unless one is pending (queued or running) for the same connector, kind and
/// partition (the `job_one_pending` unique index): `Some(id)` of the new job, `None` when one
/// was pending already.
pub(crate) async fn enqueue(db: &SyncDb, job: &NewJob<'_>) -> Result<Option<i64>> {
    let now = Utc::now();
    let row: Option<(i64,)> = on_pool!(db, pool => {
        sqlx::query_as(
            "INSERT INTO job (connector_id, kind, mode, partition_key, status, refetch_ids, \
             wait_reason, run_after, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8) \
             ON CONFLICT (connector_id, kind, partition_key) WHERE status IN ('queued', 'running') \
             DO NOTHING RETURNING id",
        )
        .bind(job.connector_id)
        .bind(job.kind.as_str())
        .bind(job.mode.as_str())
        .bind(job.partition)
        .bind(job.refetch_ids.map(Json))
        .bind(job.wait_reason.as_deref())
        .bind(job.run_after)
        .bind(now)
        .fetch_optional(pool)
        .await
        .map_err(|e| db.error(&format!("cannot queue a {} job of connector `{}` in", job.kind.as_str(), job.connector_id), &e))?
    });
    Ok(row.map(|(id,)| id))
}

/// The job `id`.
pub(crate) async fn get(db: &SyncDb, id: i64) -> Result<Option<JobRecord>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM job WHERE id = $1");
    on_pool!(db, pool => {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error(&format!("cannot read job {id} from"), &e))?;
        match row {
            Some(row) => Ok(Some(job_from_row!(&row).map_err(|e| db.error(&format!("cannot read job {id} from"), &e))?)),
            None => Ok(None),
        }
    })
}

/// Jobs, newest first: of one connector when `connector_id` is given, at most `limit`.
pub(crate) async fn list(
    db: &SyncDb,
    connector_id: Option<&str>,
    status: Option<JobStatus>,
    limit: usize,
) -> Result<Vec<JobRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM job WHERE ($1 IS NULL OR connector_id = $1) \
         AND ($2 IS NULL OR status = $2) ORDER BY id DESC LIMIT $3"
    );
    on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(connector_id)
            .bind(status.map(JobStatus::as_str))
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(|e| db.error("cannot list the jobs in", &e))?;
        rows.iter()
            .map(|row| job_from_row!(row))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| db.error("cannot list the jobs in", &e))
    })
}

/// A page of connector `connector_id`'s jobs, newest first.
pub(crate) async fn list_page(
    db: &SyncDb,
    connector_id: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM job WHERE connector_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(connector_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await
            .map_err(|e| db.error("cannot list the jobs in", &e))?;
        rows.iter()
            .map(|row| job_from_row!(row))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| db.error("cannot list the jobs in", &e))
    })
}

/// How many jobs are in each status.
pub(crate) async fn counts(db: &SyncDb) -> Result<Vec<(JobStatus, u64)>> {
    let rows: Vec<(String, i64)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT status, COUNT(*) FROM job GROUP BY status")
            .fetch_all(pool)
            .await
            .map_err(|e| db.error("cannot count the jobs in", &e))?
    });
    Ok(rows
        .into_iter()
        .map(|(s, n)| (JobStatus::parse(&s), u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// What a worker may claim: no more jobs of the `busy_sources`, whose limit it reached.
pub(crate) struct Claim<'a> {
    pub(crate) worker: &'a str,
    pub(crate) lease: chrono::Duration,
    pub(crate) busy_sources: &'a [String],
}

/// A claimed job with what the worker needs to run it.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) job: JobRecord,
    pub(crate) source: String,
    pub(crate) timeout_secs: u64,
}

/// Claims the oldest due queued job of an active connector that is not rate-limited, for
/// `claim.worker`, with a lease: one statement (`UPDATE … WHERE id = (SELECT … FOR UPDATE
/// SKIP LOCKED)` on PostgreSQL, so concurrent workers skip each other's rows instead of
/// waiting; SQLite has one writer at a time, so the statement is atomic there).
pub(crate) async fn claim(db: &SyncDb, claim: &Claim<'_>) -> Result<Option<Claimed>> {
    let now = Utc::now();
    let lock = if db.is_postgres() {
        "FOR UPDATE OF j SKIP LOCKED"
    } else {
        ""
    };
    let busy = if db.is_postgres() {
        "(SELECT jsonb_array_elements_text($4::jsonb))"
    } else {
        "(SELECT value FROM json_each($4))"
    };
    let sql = format!(
        "UPDATE job SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
         heartbeat_at = $3, started_at = COALESCE(started_at, $3), attempt = attempt + 1, \
         wait_reason = NULL \
         WHERE id = (SELECT j.id FROM job j JOIN connector c ON c.id = j.connector_id \
           WHERE j.status = 'queued' AND j.run_after <= $3 AND c.status = 'active' \
           AND c.source NOT IN {busy} \
           AND NOT EXISTS (SELECT 1 FROM rate_limit r WHERE r.key = 'connector:' || j.connector_id \
             AND r.next_at > $3) \
           ORDER BY j.run_after, j.id LIMIT 1 {lock}) \
         RETURNING {JOB_COLUMNS}"
    );
    let fail = |e: sqlx::Error| db.error("cannot claim a job in", &e);
    let job = on_pool!(db, pool => {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(claim.worker)
            .bind(now + claim.lease)
            .bind(now)
            .bind(Json(claim.busy_sources))
            .fetch_optional(pool)
            .await
            .map_err(fail)?;
        match row {
            Some(row) => Some(job_from_row!(&row).map_err(fail)?),
            None => None,
        }
    });
    let Some(job) = job else { return Ok(None) };
    let connector: Option<(String, i64)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT source, timeout_secs FROM connector WHERE id = $1")
            .bind(&job.connector_id)
            .fetch_optional(pool)
            .await
            .map_err(fail)?
    });
    let Some((source, timeout)) = connector else {
        // Deleted between the claim and now: the job goes with it.
        finish(db, job.id, claim.worker, Finish::Cancelled).await?;
        return Ok(None);
    };
    Ok(Some(Claimed {
        job,
        source,
        timeout_secs: u64::try_from(timeout).unwrap_or(0),
    }))
}

/// Puts back the running jobs whose lease expired (their worker died or hangs): queued again
/// at once, so that the next worker resumes them from their last acknowledged checkpoint; a
/// job that already used `max_attempts` fails instead, saying so. Returns how many.
pub(crate) async fn requeue_expired(db: &SyncDb, max_attempts: u32) -> Result<u64> {
    let now = Utc::now();
    let fail = |e: sqlx::Error| db.error("cannot put back the jobs of lost workers in", &e);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await.map_err(fail)?;
        let failed = sqlx::query(
            "UPDATE job SET status = 'failed', finished_at = $1, \
             error = 'its worker ' || COALESCE(lease_owner, '?') || ' stopped renewing its lease ' \
               || 'and it had used all of its ' || attempt || ' attempts', \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'running' AND lease_expires_at < $1 AND attempt >= $2",
        )
        .bind(now)
        .bind(i64::from(max_attempts))
        .execute(&mut *tx)
        .await
        .map_err(fail)?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE job SET status = 'queued', run_after = $1, \
             wait_reason = 'the lease of worker ' || COALESCE(lease_owner, '?') \
               || ' expired; resumes from its last acknowledged checkpoint', \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(fail)?
        .rows_affected();
        tx.commit().await.map_err(fail)?;
        Ok(failed + requeued)
    })
}

/// Renews the lease of job `id` and stores its counters, if it is still `worker`'s; `false`
/// when it is not (cancelled, or lost to another worker), so the worker stops it.
pub(crate) async fn heartbeat(
    db: &SyncDb,
    id: i64,
    worker: &str,
    lease: chrono::Duration,
    counters: Option<&JobCounters>,
    wait_reason: Option<&str>,
) -> Result<bool> {
    let now = Utc::now();
    let c = counters.copied().unwrap_or_default();
    let n = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE job SET lease_expires_at = $3, heartbeat_at = $4, \
             docs_new = CASE WHEN $5 THEN $6 ELSE docs_new END, \
             docs_updated = CASE WHEN $5 THEN $7 ELSE docs_updated END, \
             docs_unchanged = CASE WHEN $5 THEN $8 ELSE docs_unchanged END, \
             docs_failed = CASE WHEN $5 THEN $9 ELSE docs_failed END, \
             wait_reason = $10 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(now + lease)
        .bind(now)
        .bind(counters.is_some())
        .bind(i64::try_from(c.new).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.updated).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.unchanged).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.failed).unwrap_or(i64::MAX))
        .bind(wait_reason)
        .execute(pool)
        .await
        .map_err(|e| db.error(&format!("cannot renew the lease of job {id} in"), &e))?
        .rows_affected()
    });
    Ok(n > 0)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub(crate) enum Finish {
    /// Done, with its counters and window.
    Done {
        counters: JobCounters,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    },
    /// Failed; queued again at `retry_at`, or failed for good when `None`.
    Failed {
        error: String,
        counters: JobCounters,
        retry_at: Option<DateTime<Utc>>,
    },
    /// Given back unfinished (the worker stops): queued again at once.
    Released,
    /// Cancelled (its connector is gone).
    Cancelled,
}

/// Ends the current attempt of job `id`, if it is still `worker`'s. `false` when it was not
/// (cancelled meanwhile, or lost to another worker): nothing is changed then.
pub(crate) async fn finish(db: &SyncDb, id: i64, worker: &str, how: Finish) -> Result<bool> {
    let now = Utc::now();
    let (status, error, counters, window, run_after, reason) = match &how {
        Finish::Done { counters, window } => ("done", None, Some(*counters), *window, None, None),
        Finish::Failed {
            error,
            counters,
            retry_at: Some(at),
        } => (
            "queued",
            Some(error.as_str()),
            Some(*counters),
            None,
            Some(*at),
            Some(format!(
                "retrying at {} after a failed attempt: {error}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
        ),
        Finish::Failed {
            error,
            counters,
            retry_at: None,
        } => (
            "failed",
            Some(error.as_str()),
            Some(*counters),
            None,
            None,
            None,
        ),
        Finish::Released => (
            "queued",
            None,
            None,
            None,
            Some(now),
            Some("its worker stopped; resumes from its last acknowledged checkpoint".to_owned()),
        ),
        Finish::Cancelled => ("cancelled", None, None, None, None, None),
    };
    let finished = (status != "queued").then_some(now);
    let c = counters.unwrap_or_default();
    let n = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE job SET status = $3, error = COALESCE($4, error), \
             finished_at = $5, run_after = COALESCE($6, run_after), wait_reason = $7, \
             lease_owner = NULL, lease_expires_at = NULL, \
             window_start = COALESCE($8, window_start), window_end = COALESCE($9, window_end), \
             docs_new = CASE WHEN $10 THEN $11 ELSE docs_new END, \
             docs_updated = CASE WHEN $10 THEN $12 ELSE docs_updated END, \
             docs_unchanged = CASE WHEN $10 THEN $13 ELSE docs_unchanged END, \
             docs_failed = CASE WHEN $10 THEN $14 ELSE docs_failed END, \
             docs_deleted = CASE WHEN $10 THEN $15 ELSE docs_deleted END \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(status)
        .bind(error)
        .bind(finished)
        .bind(run_after)
        .bind(reason)
        .bind(window.map(|w| w.0))
        .bind(window.map(|w| w.1))
        .bind(counters.is_some())
        .bind(i64::try_from(c.new).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.updated).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.unchanged).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.failed).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.deleted).unwrap_or(i64::MAX))
        .execute(pool)
        .await
        .map_err(|e| db.error(&format!("cannot finish job {id} in"), &e))?
        .rows_affected()
    });
    Ok(n > 0)
}

/// Cancels job `id` if it is queued or running: `false` when it was already over. A running
/// job's worker sees it at its next heartbeat or commit (its lease is no longer valid) and
/// stops between two sink writes.
pub(crate) async fn cancel(db: &SyncDb, id: i64) -> Result<bool> {
    let now = Utc::now();
    let n = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE job SET status = 'cancelled', finished_at = $2, wait_reason = NULL, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map_err(|e| db.error(&format!("cannot cancel job {id} in"), &e))?
        .rows_affected()
    });
    Ok(n > 0)
}

/// Records that connector `connector_id` may send nothing before `until` (its service asked
/// to slow down): its queued jobs wait, saying so.
pub(crate) async fn rate_limit(
    db: &SyncDb,
    connector_id: &str,
    until: DateTime<Utc>,
) -> Result<()> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO rate_limit (key, next_at) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET next_at = excluded.next_at",
        )
        .bind(format!("connector:{connector_id}"))
        .bind(until)
        .execute(pool)
        .await
        .map_err(|e| db.error("cannot record a rate limit in", &e))?;
    });
    Ok(())
}

/// Why each queued job waits, computed from what the database holds now: its connector is
/// paused, it is scheduled or backing off until T, its service rate-limited it until T, no
/// worker is alive, or it is queued behind N jobs that are due before it.
pub(crate) async fn wait_reasons(
    db: &SyncDb,
    worker_ttl: chrono::Duration,
) -> Result<Vec<(i64, String)>> {
    let now = Utc::now();
    let fail = |e: sqlx::Error| db.error("cannot read the queue of", &e);
    type Row = (
        i64,
        DateTime<Utc>,
        Option<String>,
        String,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let (rows, alive, last_seen): (Vec<Row>, i64, Option<DateTime<Utc>>) = on_pool!(db, pool => {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT j.id, j.run_after, j.error, c.status, r.next_at, j.wait_reason \
             FROM job j JOIN connector c ON c.id = j.connector_id \
             LEFT JOIN rate_limit r ON r.key = 'connector:' || j.connector_id \
             WHERE j.status = 'queued' ORDER BY j.run_after, j.id",
        )
        .fetch_all(pool)
        .await
        .map_err(fail)?;
        let (alive, last): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN heartbeat_at > $1 THEN 1 ELSE 0 END), 0), \
             MAX(heartbeat_at) FROM worker",
        )
        .bind(now - worker_ttl)
        .fetch_one(pool)
        .await
        .map_err(fail)?;
        (rows, alive, last)
    });
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut ahead = 0u64;
    let mut out = Vec::with_capacity(rows.len());
    for (id, run_after, error, status, limited, recorded) in rows {
        let reason = if status == "paused" {
            "its connector is paused".to_owned()
        } else if let Some(until) = limited.filter(|t| *t > now) {
            format!("rate-limited until {}", stamp(until))
        } else if run_after > now {
            match error {
                Some(e) => format!(
                    "retrying at {} after a failed attempt: {e}",
                    stamp(run_after)
                ),
                None => format!("scheduled for {}", stamp(run_after)),
            }
        } else if alive == 0 {
            match last_seen {
                Some(t) => format!("no worker alive (the last heartbeat was at {})", stamp(t)),
                None => "no worker alive (none has ever run on this database)".to_owned(),
            }
        } else {
            let reason = match recorded.filter(|r| r.starts_with("the lease of worker")) {
                Some(r) => format!("queued behind {ahead} jobs; {r}"),
                None => format!("queued behind {ahead} jobs"),
            };
            ahead += 1;
            reason
        };
        out.push((id, reason));
    }
    Ok(out)
}

/// Stores `reasons` ([`wait_reasons`]) on their queued jobs, in one transaction.
pub(crate) async fn record_wait_reasons(db: &SyncDb, reasons: &[(i64, String)]) -> Result<()> {
    if reasons.is_empty() {
        return Ok(());
    }
    let fail = |e: sqlx::Error| db.error("cannot record why jobs wait in", &e);
    let sql = if db.is_postgres() {
        "UPDATE job SET wait_reason = e ->> 1 FROM jsonb_array_elements($1::jsonb) AS e \
         WHERE job.id = (e ->> 0)::bigint AND job.status = 'queued' \
         AND job.wait_reason IS DISTINCT FROM e ->> 1"
    } else {
        "UPDATE job SET wait_reason = e.value ->> 1 FROM json_each($1) AS e \
         WHERE job.id = e.value ->> 0 AND job.status = 'queued' \
         AND job.wait_reason IS NOT e.value ->> 1"
    };
    on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(Json(reasons))
            .execute(pool)
            .await
            .map_err(fail)?;
    });
    Ok(())
}

/// Forgets the sync state of connector `id` (checkpoints, documents, failures; the run log
/// stays), cancels its pending jobs and queues a full run of each of its `partitions`, in one
/// transaction. Returns the new jobs' ids.
pub(crate) async fn rebuild(
    db: &SyncDb,
    connector_id: &str,
    partitions: &[String],
) -> Result<Vec<i64>> {
    let now = Utc::now();
    let fail =
        |e: sqlx::Error| db.error(&format!("cannot rebuild connector `{connector_id}` in"), &e);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await.map_err(fail)?;
        sqlx::query(
            "UPDATE job SET status = 'cancelled', finished_at = $2, \
             error = 'replaced by a rebuild', lease_owner = NULL, lease_expires_at = NULL \
             WHERE connector_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(connector_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        for table in ["checkpoint", "document_state", "failed_item"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE connector_id = $1"
            )))
            .bind(connector_id)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        }
        let mut ids = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO job (connector_id, kind, mode, partition_key, status, run_after, \
                 created_at) VALUES ($1, 'sync', 'rebuild', $2, 'queued', $3, $3) RETURNING id",
            )
            .bind(connector_id)
            .bind(partition)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
            ids.push(id);
        }
        tx.commit().await.map_err(fail)?;
        Ok(ids)
    })
}

/// An error for an unknown job id.
pub(crate) fn job_not_found(id: i64) -> Error {
    Error::new(ErrorKind::NotFound, format!("no job {id}"))
}
