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
use crate::store::{on_pool, secs, sql_in_secs, sql_now};

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
    /// Deleted documents: those the source reported deleted, and prune's.
    pub deleted: u64,
    /// Listed items that were gone when read (deleted in the source meanwhile; no failure).
    #[serde(default)]
    pub gone: u64,
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
    /// Attempts in a row that ended without committing anything (a commit resets it): what
    /// the retry limit counts, so a job that advances is never failed for being interrupted.
    #[serde(default)]
    pub attempts_without_progress: u32,
    /// The job's last commit (its last progress), by the database's clock.
    #[serde(default)]
    pub last_progress_at: Option<DateTime<Utc>>,
    /// Attempts that ended rate-limited since the job's last commit (a commit resets it): a
    /// rate limit that states no wait is retried after
    /// [`backoff_after`](crate::WorkerOptions::backoff_after) of this count, so a throttling
    /// service is asked less and less often.
    #[serde(default)]
    pub throttled_attempts: u32,
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
     heartbeat_at, created_at, started_at, finished_at, fruitless, last_progress_at, docs_gone, \
     throttled";

/// A [`JobRecord`] from a row of [`JOB_COLUMNS`] of database `$db` (a macro: the row type
/// differs per backend). Its error and wait reason are cut at the database's location: a row
/// stored before fix68 has it in its text, or a connector copied it into its error (review70
/// L1, L4).
macro_rules! job_from_row {
    ($db:expr, $row:expr) => {{
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
            let fruitless: i64 = row.try_get(24)?;
            let throttled: i64 = row.try_get(27)?;
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
                    gone: count(26)?,
                },
                error: row
                    .try_get::<Option<String>, _>(14)?
                    .map(|e| $db.hide_location(&e)),
                wait_reason: row
                    .try_get::<Option<String>, _>(15)?
                    .map(|w| $db.hide_location(&w)),
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                run_after: row.try_get(17)?,
                lease_owner: row.try_get(18)?,
                lease_expires_at: row.try_get(19)?,
                heartbeat_at: row.try_get(20)?,
                created_at: row.try_get(21)?,
                started_at: row.try_get(22)?,
                finished_at: row.try_get(23)?,
                attempts_without_progress: u32::try_from(fruitless).unwrap_or(u32::MAX),
                last_progress_at: row.try_get(25)?,
                throttled_attempts: u32::try_from(throttled).unwrap_or(u32::MAX),
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
    pub(crate) wait_reason: Option<String>,
}

/// `FOR SHARE` on PostgreSQL: a job is inserted only for a connector row that stays until the
/// insert commits (a delete of the connector waits for it, then deletes the job too, or runs
/// first and the insert finds no connector). SQLite has one writer: nothing to lock.
fn share_lock(db: &SyncDb) -> &'static str {
    if db.is_postgres() { "FOR SHARE" } else { "" }
}

/// Queues `job`, due now by the database's clock, unless one is pending (queued or running)
/// for the same connector, kind and partition (the `job_one_pending` unique index), or its
/// connector is gone (deleted since the caller looked: no orphan job is left behind).
/// `Some(id)` of the new job, `None` when none was queued.
pub(crate) async fn enqueue(db: &SyncDb, job: &NewJob<'_>) -> Result<Option<i64>> {
    let now = Utc::now();
    let sql = format!(
        "INSERT INTO job (connector_id, kind, mode, partition_key, status, refetch_ids, \
         wait_reason, run_after, created_at) \
         SELECT c.id, $2, $3, $4, 'queued', $5, $6, {}, $7 FROM connector c WHERE c.id = $1 {} \
         ON CONFLICT (connector_id, kind, partition_key) WHERE status IN ('queued', 'running') \
         DO NOTHING RETURNING id",
        sql_now(db.is_postgres()),
        share_lock(db)
    );
    let row: Option<(i64,)> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(job.connector_id)
        .bind(job.kind.as_str())
        .bind(job.mode.as_str())
        .bind(job.partition)
        .bind(job.refetch_ids.map(Json))
        .bind(job.wait_reason.as_deref())
        .bind(now)
        .fetch_optional(pool)
        .await
        .map_err(|e| db.error(&format!("cannot queue a {} job of connector `{}` in", job.kind.as_str(), job.connector_id), &e))?
    });
    Ok(row.map(|(id,)| id))
}

/// The rank of a mode when two triggers meet: the one that covers more wins.
fn mode_rank(column: &str) -> String {
    format!(
        "(CASE {column} WHEN 'rebuild' THEN 3 WHEN 'full' THEN 2 WHEN 'incremental' THEN 1 \
         ELSE 0 END)"
    )
}

/// What [`merge_into_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Merged {
    /// Into the queued job `id`: its mode is the stronger of the two, its ids the union.
    Queued(i64),
    /// The pending job `id` is running and already covers the trigger (same or stronger
    /// mode, no new ids).
    Covered(i64),
    /// The pending job `id` is running and cannot take the trigger any more.
    Running(i64),
    /// Nothing is pending (it ended meanwhile).
    None,
}

/// Folds `job` into the job pending for its connector, kind and partition, in one statement
/// when that job is still queued: the stronger mode wins (a full trigger upgrades a queued
/// auto or incremental job) and the ids to fetch again are merged. A trigger is never dropped
/// while its caller believes it was taken.
///
/// A queued job waiting to retry is due now (review41 R3): only a host's trigger merges (the
/// scheduler queues with [`enqueue`], which leaves a pending job alone), and someone asking to
/// sync now (after fixing an endpoint that answered `503 Retry-After: 86400`, say) should not
/// wait out the hour. A wait a service's rate limit asked for still holds: `claim` skips a
/// connector with a live `rate_limit` row whatever the job's `run_after`.
pub(crate) async fn merge_into_pending(db: &SyncDb, job: &NewJob<'_>) -> Result<Merged> {
    let pg = db.is_postgres();
    let union = if pg {
        "(SELECT jsonb_agg(x ORDER BY x) FROM (SELECT jsonb_array_elements_text(\
         COALESCE(refetch_ids, '[]'::jsonb)) AS x UNION SELECT jsonb_array_elements_text($5::jsonb)) u)"
    } else {
        "(SELECT json_group_array(x) FROM (SELECT value AS x FROM json_each(\
         COALESCE(refetch_ids, '[]')) UNION SELECT value FROM json_each($5) ORDER BY 1))"
    };
    let sql = format!(
        "UPDATE job SET mode = CASE WHEN {new} > {old} THEN $4 ELSE mode END, \
         refetch_ids = CASE WHEN $5 IS NULL THEN refetch_ids ELSE {union} END, \
         run_after = CASE WHEN run_after > {now} THEN {now} ELSE run_after END \
         WHERE connector_id = $1 AND kind = $2 AND partition_key = $3 AND status = 'queued' \
         RETURNING id",
        new = mode_rank("$4"),
        old = mode_rank("mode"),
        now = sql_now(pg),
    );
    let fail = |e: sqlx::Error| {
        db.error(
            &format!(
                "cannot merge a trigger into the pending job of connector `{}` in",
                job.connector_id
            ),
            &e,
        )
    };
    let ids = job.refetch_ids.map(Json);
    on_pool!(db, pool => {
        let merged: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(job.connector_id)
            .bind(job.kind.as_str())
            .bind(job.partition)
            .bind(job.mode.as_str())
            .bind(ids)
            .fetch_optional(pool)
            .await
            .map_err(fail)?;
        if let Some((id,)) = merged {
            return Ok(Merged::Queued(id));
        }
        let running: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, mode FROM job WHERE connector_id = $1 AND kind = $2 \
             AND partition_key = $3 AND status = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(job.connector_id)
        .bind(job.kind.as_str())
        .bind(job.partition)
        .fetch_optional(pool)
        .await
        .map_err(fail)?;
        Ok(match running {
            None => Merged::None,
            Some((id, mode)) => {
                let rank = |m: JobMode| match m {
                    JobMode::Rebuild => 3,
                    JobMode::Full => 2,
                    JobMode::Incremental => 1,
                    JobMode::Auto => 0,
                };
                if job.refetch_ids.is_none() && rank(job.mode) <= rank(JobMode::parse(&mode)) {
                    Merged::Covered(id)
                } else {
                    Merged::Running(id)
                }
            }
        })
    })
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
            Some(row) => Ok(Some(job_from_row!(db, &row).map_err(|e| db.error(&format!("cannot read job {id} from"), &e))?)),
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
            .map(|row| job_from_row!(db, row))
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
            .map(|row| job_from_row!(db, row))
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
    let pg = db.is_postgres();
    let lock = if db.is_postgres() {
        "FOR UPDATE OF j SKIP LOCKED"
    } else {
        ""
    };
    let busy = if db.is_postgres() {
        "(SELECT jsonb_array_elements_text($3::jsonb))"
    } else {
        "(SELECT value FROM json_each($3))"
    };
    let sql = format!(
        "UPDATE job SET status = 'running', lease_owner = $1, lease_expires_at = {expires}, \
         heartbeat_at = {now}, started_at = COALESCE(started_at, {now}), attempt = attempt + 1, \
         fruitless = fruitless + 1, wait_reason = NULL \
         WHERE id = (SELECT j.id FROM job j JOIN connector c ON c.id = j.connector_id \
           WHERE j.status = 'queued' AND j.run_after <= {now} AND c.status = 'active' \
           AND c.source NOT IN {busy} \
           AND NOT EXISTS (SELECT 1 FROM rate_limit r WHERE r.key = 'connector:' || j.connector_id \
             AND r.next_at > {now}) \
           ORDER BY j.run_after, j.id LIMIT 1 {lock}) \
         RETURNING {JOB_COLUMNS}",
        now = sql_now(pg),
        expires = sql_in_secs(pg, "$2"),
    );
    let fail = |e: sqlx::Error| db.error("cannot claim a job in", &e);
    let job = on_pool!(db, pool => {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(claim.worker)
            .bind(secs(claim.lease))
            .bind(Json(claim.busy_sources))
            .fetch_optional(pool)
            .await
            .map_err(fail)?;
        match row {
            Some(row) => Some(job_from_row!(db, &row).map_err(fail)?),
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

/// Puts back the running jobs whose lease expired by the database's clock (their worker died
/// or hangs): queued again at once, so that the next worker resumes them from their last
/// acknowledged checkpoint; a job whose last `max_attempts` attempts all ended without a
/// commit fails instead, saying so. Returns how many.
pub(crate) async fn requeue_expired(db: &SyncDb, max_attempts: u32) -> Result<u64> {
    let now = sql_now(db.is_postgres());
    let fail = |e: sqlx::Error| db.error("cannot put back the jobs of lost workers in", &e);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await.map_err(fail)?;
        let failed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE job SET status = 'failed', finished_at = {now}, \
             error = 'its worker ' || COALESCE(lease_owner, '?') || ' stopped renewing its lease ' \
               || 'and its last ' || fruitless || ' attempts made no progress', \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'running' AND lease_expires_at < {now} AND fruitless >= $1",
        )))
        .bind(i64::from(max_attempts))
        .execute(&mut *tx)
        .await
        .map_err(fail)?
        .rows_affected();
        let requeued = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE job SET status = 'queued', run_after = {now}, \
             wait_reason = 'the lease of worker ' || COALESCE(lease_owner, '?') \
               || ' expired; resumes from its last acknowledged checkpoint', \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'running' AND lease_expires_at < {now}",
        )))
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
    limited_for: Option<std::time::Duration>,
) -> Result<bool> {
    let pg = db.is_postgres();
    let c = counters.copied().unwrap_or_default();
    // "rate-limited until T": T on the database's clock, in whole seconds rounded up and the
    // form every other "until T" has (`…T12:00:03Z`), as a queued job's reason says it
    // (review61 L8: it was the worker's clock, with nanoseconds and `+00:00`).
    let until = if pg {
        "to_char(to_timestamp(ceil(EXTRACT(EPOCH FROM clock_timestamp()) + $9)) \
         AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    } else {
        "(SELECT strftime('%Y-%m-%dT%H:%M:%SZ', \
         CAST(t AS INTEGER) + (t > CAST(t AS INTEGER)), 'unixepoch') \
         FROM (SELECT (julianday('now') - 2440587.5) * 86400.0 + $9 AS t))"
    };
    let sql = format!(
        "UPDATE job SET lease_expires_at = {}, heartbeat_at = {}, \
             docs_new = CASE WHEN $4 THEN $5 ELSE docs_new END, \
             docs_updated = CASE WHEN $4 THEN $6 ELSE docs_updated END, \
             docs_unchanged = CASE WHEN $4 THEN $7 ELSE docs_unchanged END, \
             docs_failed = CASE WHEN $4 THEN $8 ELSE docs_failed END, \
             docs_deleted = CASE WHEN $4 THEN $10 ELSE docs_deleted END, \
             docs_gone = CASE WHEN $4 THEN $11 ELSE docs_gone END, \
             wait_reason = CASE WHEN $9 IS NULL THEN NULL ELSE 'rate-limited until ' || {} END \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        sql_in_secs(pg, "$3"),
        sql_now(pg),
        until
    );
    let n = on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .bind(worker)
        .bind(secs(lease))
        .bind(counters.is_some())
        .bind(i64::try_from(c.new).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.updated).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.unchanged).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.failed).unwrap_or(i64::MAX))
        .bind(limited_for.map(|d| d.as_secs_f64()))
        .bind(i64::try_from(c.deleted).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.gone).unwrap_or(i64::MAX))
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
    /// Failed; queued again at `retry_at`, or failed for good when `None`. `rate_limited`
    /// for a failure that says nothing about the job (its service asked it to slow down):
    /// the attempt is not counted against the retry limit, and counts as one more
    /// rate-limited attempt ([`JobRecord::throttled_attempts`]).
    Failed {
        error: String,
        counters: JobCounters,
        retry_at: Option<DateTime<Utc>>,
        rate_limited: bool,
    },
    /// Given back unfinished (the worker stops): queued again at once, the attempt not
    /// counted against the retry limit.
    Released,
    /// Cancelled (its connector is gone).
    Cancelled,
}

/// Ends the current attempt of job `id`, if it is still `worker`'s. `false` when it was not
/// (cancelled meanwhile, or lost to another worker): nothing is changed then. Times are the
/// database's (a retry is due after the same wait from its clock).
pub(crate) async fn finish(db: &SyncDb, id: i64, worker: &str, how: Finish) -> Result<bool> {
    let pg = db.is_postgres();
    let (status, error, counters, window, run_after, reason, uncount) = match &how {
        Finish::Done { counters, window } => {
            ("done", None, Some(*counters), *window, None, None, false)
        }
        Finish::Failed {
            error,
            counters,
            retry_at: Some(at),
            rate_limited,
        } => (
            "queued",
            Some(error.as_str()),
            Some(*counters),
            None,
            Some((*at - Utc::now()).max(chrono::Duration::zero())),
            Some(format!(
                "retrying at {} after a failed attempt: {error}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            *rate_limited,
        ),
        Finish::Failed {
            error,
            counters,
            retry_at: None,
            ..
        } => (
            "failed",
            Some(error.as_str()),
            Some(*counters),
            None,
            None,
            None,
            false,
        ),
        Finish::Released => (
            "queued",
            None,
            None,
            None,
            Some(chrono::Duration::zero()),
            Some("its worker stopped; resumes from its last acknowledged checkpoint".to_owned()),
            true,
        ),
        Finish::Cancelled => ("cancelled", None, None, None, None, None, false),
    };
    let throttle = matches!(
        &how,
        Finish::Failed {
            rate_limited: true,
            ..
        }
    );
    let c = counters.unwrap_or_default();
    // A job that ends well keeps no error of an earlier attempt.
    let sql = format!(
        "UPDATE job SET status = $3, \
         error = CASE WHEN $3 = 'done' THEN NULL ELSE COALESCE($4, error) END, \
         finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE {now} END, \
         run_after = CASE WHEN $5 THEN {retry} ELSE run_after END, wait_reason = $7, \
         lease_owner = NULL, lease_expires_at = NULL, \
         fruitless = CASE WHEN $16 AND fruitless > 0 THEN fruitless - 1 ELSE fruitless END, \
         throttled = CASE WHEN $18 THEN throttled + 1 ELSE throttled END, \
         window_start = COALESCE($8, window_start), window_end = COALESCE($9, window_end), \
         docs_new = CASE WHEN $10 THEN $11 ELSE docs_new END, \
         docs_updated = CASE WHEN $10 THEN $12 ELSE docs_updated END, \
         docs_unchanged = CASE WHEN $10 THEN $13 ELSE docs_unchanged END, \
         docs_failed = CASE WHEN $10 THEN $14 ELSE docs_failed END, \
         docs_deleted = CASE WHEN $10 THEN $15 ELSE docs_deleted END, \
         docs_gone = CASE WHEN $10 THEN $17 ELSE docs_gone END \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        now = sql_now(pg),
        retry = sql_in_secs(pg, "$6"),
    );
    let n = on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(worker)
        .bind(status)
        .bind(error)
        .bind(run_after.is_some())
        .bind(run_after.map_or(0.0, secs))
        .bind(reason)
        .bind(window.map(|w| w.0))
        .bind(window.map(|w| w.1))
        .bind(counters.is_some())
        .bind(i64::try_from(c.new).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.updated).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.unchanged).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.failed).unwrap_or(i64::MAX))
        .bind(i64::try_from(c.deleted).unwrap_or(i64::MAX))
        .bind(uncount)
        .bind(i64::try_from(c.gone).unwrap_or(i64::MAX))
        .bind(throttle)
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

/// Records that connector `connector_id` may send nothing for `wait` (its service asked to
/// slow down), from now by the database's clock: its queued jobs wait, saying so. A later time
/// only: a shorter wait written after a longer one (another partition's bare 429, a job that
/// just committed) never cuts a stated quota reset short, the held connector's jobs and
/// triggers stay held (review47 L1). The wait is cut to `cap`
/// ([`WorkerOptions::max_rate_limit_wait`](crate::WorkerOptions::max_rate_limit_wait), at
/// most a year). A row already there stays, even past this `cap` (another worker with a longer
/// cap wrote it: review56 M3), unless no version could have written it (past a year, or one
/// SQLite cannot read as a time): that one counts as now + `cap`, so no hold lasts for years.
pub(crate) async fn rate_limit(
    db: &SyncDb,
    connector_id: &str,
    wait: std::time::Duration,
    cap: std::time::Duration,
) -> Result<()> {
    let cap = cap.min(LONGEST_HOLD);
    let wait = wait.min(cap);
    // SQLite compares the instants through `julianday`: the shared gate writes its rows in
    // another text form than a bound `DateTime`; one it cannot read (past year 9999) is cut.
    let sql = if db.is_postgres() {
        "INSERT INTO rate_limit AS r (key, next_at) \
         VALUES ($1, clock_timestamp() + make_interval(secs => $2)) \
         ON CONFLICT (key) DO UPDATE SET next_at = GREATEST( \
             CASE WHEN r.next_at > clock_timestamp() + make_interval(secs => $4) \
                 THEN clock_timestamp() + make_interval(secs => $3) ELSE r.next_at END, \
             excluded.next_at)"
    } else {
        "INSERT INTO rate_limit (key, next_at) \
         VALUES ($1, strftime('%Y-%m-%dT%H:%M:%f+00:00', julianday('now') + $2 / 86400.0)) \
         ON CONFLICT (key) DO UPDATE SET next_at = CASE \
             WHEN julianday(rate_limit.next_at) IS NULL \
                 OR julianday(rate_limit.next_at) > julianday('now') + $4 / 86400.0 \
             THEN strftime('%Y-%m-%dT%H:%M:%f+00:00', julianday('now') + $3 / 86400.0) \
             WHEN julianday(excluded.next_at) > julianday(rate_limit.next_at) \
             THEN excluded.next_at ELSE rate_limit.next_at END"
    };
    on_pool!(db, pool => {
        sqlx::query(sql)
        .bind(format!("connector:{connector_id}"))
        .bind(wait.as_secs_f64())
        .bind(cap.as_secs_f64())
        .bind(LONGEST_HOLD.as_secs_f64())
        .execute(pool)
        .await
        .map_err(|e| db.error("cannot record a rate limit in", &e))?;
    });
    Ok(())
}

/// Lifts connector `connector_id`'s rate-limit hold (what [`rate_limit`] wrote) and makes its
/// queued jobs that a rate limit put back (`throttled`) due now, in one transaction: `true`
/// when it was held (a row in the future) or a job waited so.
pub(crate) async fn clear_rate_limit(db: &SyncDb, connector_id: &str) -> Result<bool> {
    let now = sql_now(db.is_postgres());
    let fail = |e: sqlx::Error| {
        db.error(
            &format!("cannot lift the rate limit of connector `{connector_id}` in"),
            &e,
        )
    };
    on_pool!(db, pool => {
        let mut tx = pool.begin().await.map_err(fail)?;
        let held: Option<(bool,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "DELETE FROM rate_limit WHERE key = $1 RETURNING next_at > {now}"
        )))
        .bind(format!("connector:{connector_id}"))
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let due = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE job SET run_after = {now} WHERE connector_id = $1 AND status = 'queued' \
             AND throttled > 0 AND run_after > {now}"
        )))
        .bind(connector_id)
        .execute(&mut *tx)
        .await
        .map_err(fail)?
        .rows_affected();
        tx.commit().await.map_err(fail)?;
        Ok(held.is_some_and(|(held,)| held) || due > 0)
    })
}

/// The longest hold [`rate_limit`] writes: a year, which both databases store.
const LONGEST_HOLD: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);

/// A queued job as [`wait_reasons`] reads it: id, `run_after`, error, its connector's
/// status, its rate limit, its recorded reason.
type QueuedRow = (
    i64,
    DateTime<Utc>,
    Option<String>,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
);

const QUEUED_ROWS: &str = "SELECT j.id, j.run_after, j.error, c.status, r.next_at, j.wait_reason \
     FROM job j JOIN connector c ON c.id = j.connector_id \
     LEFT JOIN rate_limit r ON r.key = 'connector:' || j.connector_id \
     WHERE j.status = 'queued'";

/// What the database says about the workers: how many are alive, and the last heartbeat.
async fn workers_alive(
    db: &SyncDb,
    now: DateTime<Utc>,
    worker_ttl: chrono::Duration,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN heartbeat_at > $1 THEN 1 ELSE 0 END), 0), \
             MAX(heartbeat_at) FROM worker",
        )
        .bind(
            now.checked_sub_signed(worker_ttl)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
        .fetch_one(pool)
        .await
        .map_err(|e| db.error("cannot read the workers of", &e))
    })
}

/// Why the queued job of `row` waits, unless it only waits for the jobs ahead of it (`None`).
fn reason_before_queue(
    row: &QueuedRow,
    now: DateTime<Utc>,
    alive: i64,
    last_seen: Option<DateTime<Utc>>,
) -> Option<String> {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, run_after, error, status, limited, _) = row;
    if status == "paused" {
        Some("its connector is paused".to_owned())
    } else if let Some(until) = limited.filter(|t| *t > now) {
        Some(format!("rate-limited until {}", stamp(until)))
    } else if *run_after > now {
        Some(match error {
            Some(e) => format!(
                "retrying at {} after a failed attempt: {e}",
                stamp(*run_after)
            ),
            None => format!("scheduled for {}", stamp(*run_after)),
        })
    } else if alive == 0 {
        Some(match last_seen {
            Some(t) => format!("no worker alive (the last heartbeat was at {})", stamp(t)),
            None => "no worker alive (none has ever run on this database)".to_owned(),
        })
    } else {
        None
    }
}

/// "queued behind N jobs", with why it was put back when its worker's lease expired.
fn queued_behind(ahead: u64, recorded: Option<&String>) -> String {
    match recorded.filter(|r| r.starts_with("the lease of worker")) {
        Some(r) => format!("queued behind {ahead} jobs; {r}"),
        None => format!("queued behind {ahead} jobs"),
    }
}

/// Why each queued job waits, computed from what the database holds now: its connector is
/// paused, it is scheduled or backing off until T, its service rate-limited it until T, no
/// worker is alive, or it is queued behind N jobs that are due before it.
pub(crate) async fn wait_reasons(
    db: &SyncDb,
    worker_ttl: chrono::Duration,
) -> Result<Vec<(i64, String)>> {
    let now = db_now(db).await?;
    let sql = format!("{QUEUED_ROWS} ORDER BY j.run_after, j.id");
    let rows: Vec<QueuedRow> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .map_err(|e| db.error("cannot read the queue of", &e))?
    });
    let (alive, last_seen) = workers_alive(db, now, worker_ttl).await?;
    let mut ahead = 0u64;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let reason = match reason_before_queue(&row, now, alive, last_seen) {
            Some(r) => r,
            None => {
                let r = queued_behind(ahead, row.5.as_ref());
                ahead += 1;
                r
            }
        };
        out.push((row.0, reason));
    }
    Ok(out)
}

/// Why queued job `id` waits ([`wait_reasons`] for one job): a few indexed reads and one
/// count of the due jobs ahead of it, however long the queue. `None` when it is not queued.
pub(crate) async fn wait_reason_of(
    db: &SyncDb,
    id: i64,
    worker_ttl: chrono::Duration,
) -> Result<Option<String>> {
    let now = db_now(db).await?;
    let fail = |e: sqlx::Error| db.error("cannot read the queue of", &e);
    let sql = format!("{QUEUED_ROWS} AND j.id = $1");
    let row: Option<QueuedRow> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(fail)?
    });
    let Some(row) = row else { return Ok(None) };
    let (alive, last_seen) = workers_alive(db, now, worker_ttl).await?;
    if let Some(reason) = reason_before_queue(&row, now, alive, last_seen) {
        return Ok(Some(reason));
    }
    // The jobs before it in claim order that wait only for their turn too.
    let (ahead,): (i64,) = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT COUNT(*) FROM job j JOIN connector c ON c.id = j.connector_id \
             LEFT JOIN rate_limit r ON r.key = 'connector:' || j.connector_id \
             WHERE j.status = 'queued' AND c.status <> 'paused' \
             AND (r.next_at IS NULL OR r.next_at <= $1) AND j.run_after <= $1 \
             AND (j.run_after < $2 OR (j.run_after = $2 AND j.id < $3))",
        )
        .bind(now)
        .bind(row.1)
        .bind(id)
        .fetch_one(pool)
        .await
        .map_err(fail)?
    });
    Ok(Some(queued_behind(
        u64::try_from(ahead).unwrap_or(0),
        row.5.as_ref(),
    )))
}

/// The database's clock now (see [`sql_now`]).
pub(crate) async fn db_now(db: &SyncDb) -> Result<DateTime<Utc>> {
    let sql = format!("SELECT {}", sql_now(db.is_postgres()));
    on_pool!(db, pool => {
        let (now,): (DateTime<Utc>,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .map_err(|e| db.error("cannot read the clock of", &e))?;
        Ok(now)
    })
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
            // Nothing when the connector was deleted meanwhile: no orphan job.
            let id: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO job (connector_id, kind, mode, partition_key, status, run_after, \
                 created_at) SELECT c.id, 'sync', 'rebuild', $2, 'queued', {}, $3 \
                 FROM connector c WHERE c.id = $1 {} RETURNING id",
                sql_now(db.is_postgres()),
                share_lock(db)
            )))
            .bind(connector_id)
            .bind(partition)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
            ids.extend(id.map(|(id,)| id));
        }
        tx.commit().await.map_err(fail)?;
        Ok(ids)
    })
}

/// Rows deleted by one [`clean_up`] statement at most, so a first clean-up of a big table
/// never holds the database for long (the next tick goes on).
const CLEAN_UP_BATCH: i64 = 1000;

/// What [`clean_up`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CleanedUp {
    pub(crate) jobs: u64,
    pub(crate) workers: u64,
    pub(crate) rate_limits: u64,
}

/// Retention, by the database's clock: finished jobs older than `job_age` (a batch at a
/// time), workers not heard of for `worker_age` (killed ones never unregister), and
/// rate-limit rows whose time passed a day ago.
///
/// Each table is read first, and written only when it has a row to delete, so the usual tick
/// (nothing to delete) takes no write lock on SQLite: an empty `DELETE` still waited behind
/// the workers' commits, up to the busy timeout, and then failed the tick (as review64 L2
/// found for the scheduler's far-date move, done the same way).
pub(crate) async fn clean_up(
    db: &SyncDb,
    job_age: Option<chrono::Duration>,
    worker_age: chrono::Duration,
) -> Result<CleanedUp> {
    let pg = db.is_postgres();
    let fail = |e: sqlx::Error| db.error("cannot clean up old rows of", &e);
    let old_jobs = format!(
        "FROM job WHERE finished_at IS NOT NULL \
         AND status IN ('done', 'failed', 'cancelled') AND finished_at < {}",
        sql_in_secs(pg, "$1")
    );
    let old_workers = format!("FROM worker WHERE heartbeat_at < {}", sql_in_secs(pg, "$1"));
    let old_limits = format!("FROM rate_limit WHERE next_at < {}", sql_in_secs(pg, "$1"));
    let any = |rows: &str| format!("SELECT EXISTS (SELECT 1 {rows})");
    let jobs_sql =
        format!("DELETE FROM job WHERE id IN (SELECT id {old_jobs} ORDER BY finished_at LIMIT $2)");
    let workers_sql = format!("DELETE {old_workers}");
    let limits_sql = format!("DELETE {old_limits}");
    on_pool!(db, pool => {
        let found = |sql: String, age: f64| async move {
            let (found,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(age)
                .fetch_one(pool)
                .await
                .map_err(fail)?;
            Ok::<_, Error>(found)
        };
        let jobs = match job_age {
            Some(age) if found(any(&old_jobs), -secs(age)).await? => {
                sqlx::query(sqlx::AssertSqlSafe(jobs_sql))
                    .bind(-secs(age))
                    .bind(CLEAN_UP_BATCH)
                    .execute(pool)
                    .await
                    .map_err(fail)?
                    .rows_affected()
            }
            _ => 0,
        };
        let workers = if found(any(&old_workers), -secs(worker_age)).await? {
            sqlx::query(sqlx::AssertSqlSafe(workers_sql))
                .bind(-secs(worker_age))
                .execute(pool)
                .await
                .map_err(fail)?
                .rows_affected()
        } else {
            0
        };
        let day = -secs(chrono::Duration::days(1));
        let rate_limits = if found(any(&old_limits), day).await? {
            sqlx::query(sqlx::AssertSqlSafe(limits_sql))
                .bind(day)
                .execute(pool)
                .await
                .map_err(fail)?
                .rows_affected()
        } else {
            0
        };
        Ok(CleanedUp { jobs, workers, rate_limits })
    })
}

/// An error for an unknown job id.
pub(crate) fn job_not_found(id: i64) -> Error {
    Error::new(ErrorKind::NotFound, format!("no job {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trigger or a scheduler tick that raced a delete of the connector queues nothing: the
    /// insert reads the connector row (on PostgreSQL `FOR SHARE`, so a delete either waits for
    /// it and deletes the job too, or goes first; see `tests/engine_fixes.rs` for both
    /// backends' triggers).
    #[tokio::test]
    async fn no_job_is_queued_for_a_connector_that_is_gone() -> Result<()> {
        let db = SyncDb::connect("sqlite::memory:").await?;
        let job = NewJob {
            connector_id: "gone",
            kind: JobKind::Sync,
            mode: JobMode::Auto,
            partition: "",
            refetch_ids: None,
            wait_reason: None,
        };
        assert_eq!(enqueue(&db, &job).await?, None);
        assert!(list(&db, None, None, 10).await?.is_empty());
        Ok(())
    }

    /// With nothing to delete, the clean-up only reads: while another connection holds
    /// SQLite's write lock it returns at once (three empty DELETEs waited for that lock every
    /// scheduler tick, up to the busy timeout). With old rows, it deletes them.
    #[tokio::test]
    async fn the_clean_up_takes_no_write_lock_when_nothing_is_old() -> Result<()> {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        let url = format!("sqlite:{}", dir.path().join("sync.db").display());
        let db = SyncDb::connect(&url).await?;
        let fail = |e: sqlx::Error| Error::internal(e.to_string());
        let mut writer = sqlx::SqliteConnection::connect(&url).await.map_err(fail)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut writer)
            .await
            .map_err(fail)?;
        let day = chrono::Duration::days(1);
        let cleaned = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            clean_up(&db, Some(day), day),
        )
        .await;
        assert!(
            matches!(cleaned, Ok(Ok(c)) if c == CleanedUp::default()),
            "{cleaned:?}, expected nothing deleted without waiting for the writer"
        );
        // Old rows, written while the lock is held, then deleted once it is let go.
        for sql in [
            "INSERT INTO worker (id, started_at, heartbeat_at) \
             VALUES ('gone', '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00')",
            "INSERT INTO rate_limit (key, next_at) VALUES ('k', '2020-01-01T00:00:00.000Z')",
        ] {
            sqlx::query(sql).execute(&mut writer).await.map_err(fail)?;
        }
        sqlx::query("COMMIT")
            .execute(&mut writer)
            .await
            .map_err(fail)?;
        let cleaned = clean_up(&db, Some(day), day).await?;
        assert_eq!(
            (cleaned.workers, cleaned.rate_limits),
            (1, 1),
            "{cleaned:?}"
        );
        Ok(())
    }
}
