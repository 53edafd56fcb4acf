//! The scheduler: queues the syncs and prunes that are due by each connector's frequencies,
//! and records why queued jobs wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::{Cancellation, Error, FieldError, PartitionSpec, Result};

use crate::connectors::ConnectorStore;
use crate::db::SyncDb;
use crate::jobs::{self, JobKind, JobMode, NewJob};
use crate::store::on_pool;

/// How the scheduler runs (see [`SyncService::run_scheduler`](crate::SyncService::run_scheduler)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// How often it looks for due connectors (default 5 s).
    pub tick: Duration,
    /// A worker whose heartbeat is older than this counts as dead when a job says why it
    /// waits (default 60 s; a longer one than a day is cut to a day); its row is deleted after ten times as long.
    pub worker_ttl: Duration,
    /// Finished jobs (done, failed, cancelled) older than this are deleted, a batch per tick
    /// (default 7 days, as long as Onyx keeps index attempts; the run log keeps each
    /// connector's last 1,000 runs apart from it; a longer one than a century is cut to a
    /// century). Zero keeps them for ever.
    pub job_retention: Duration,
}

/// The longest [`SchedulerOptions::worker_ttl`] (and
/// [`SyncService::worker_ttl`](crate::SyncService::worker_ttl)): a day. Past about 8.3e12 s
/// the time `now - worker_ttl` overflowed `chrono` (a panic at every tick and in
/// `SyncService::job`), and ten times 2.1e10 s was out of PostgreSQL's range (review61 L1).
pub const MAX_WORKER_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest [`SchedulerOptions::job_retention`]: a century (36 500 days). Past about 6 700
/// years PostgreSQL's `now - job_retention` was out of range, and every tick's clean-up
/// failed, workers and rate-limit rows included (review61 L2).
pub const MAX_JOB_RETENTION: Duration = Duration::from_secs(36_500 * 24 * 60 * 60);

impl SchedulerOptions {
    /// Checks the options, reporting every problem with its field: `tick` above zero (zero
    /// ran the scheduler in a hot loop against the database). A `worker_ttl` over
    /// [`MAX_WORKER_TTL`] or a `job_retention` over [`MAX_JOB_RETENTION`] is not refused but
    /// cut to it where it is used, as it was read before these bounds existed (review64 M1: a
    /// deployment's two-day `worker_ttl` or `job_retention = Duration::MAX` kept working; a
    /// refusal stopped its scheduler); a zero `worker_ttl` means 60 s.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming each field out of range.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.tick.is_zero() {
            problems.push(FieldError::new("tick", "must be above 0"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::config(problems))
        }
    }
}

/// `ttl` as a worker's time to live: at most [`MAX_WORKER_TTL`] (never a panic), 60 s when
/// zero. The one place the bound is applied, for the scheduler's option and for
/// [`SyncService::worker_ttl`](crate::SyncService::worker_ttl), which store what they are
/// given.
pub(crate) fn worker_ttl(ttl: Duration) -> chrono::Duration {
    let ttl = if ttl.is_zero() {
        Duration::from_secs(60)
    } else {
        ttl.min(MAX_WORKER_TTL)
    };
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60))
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(5),
            worker_ttl: Duration::from_secs(60),
            job_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What one tick queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Sync jobs queued.
    pub syncs: usize,
    /// Prune jobs queued.
    pub prunes: usize,
}

/// One pass: every active connector whose next sync (prune) time has come gets a sync
/// (prune) job unless one is pending, and its next time moves one period on. Several
/// schedulers (processes) may run at once: the move is a compare-and-set on the stored time,
/// so only one of them queues.
pub(crate) async fn tick(store: &ConnectorStore, options: &SchedulerOptions) -> Result<Tick> {
    let db = store.db();
    let now = Utc::now();
    let mut done = Tick::default();
    for kind in [JobKind::Sync, JobKind::Prune] {
        let (next_col, freq_col) = match kind {
            JobKind::Sync => ("next_sync_at", "refresh_freq"),
            JobKind::Prune => ("next_prune_at", "prune_freq"),
        };
        if !db.is_postgres() {
            far_times_to_next_period(db, next_col, freq_col).await?;
        }
        let due: Vec<(String, String, i64, DateTime<Utc>)> = on_pool!(db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, source, {freq_col}, {next_col} FROM connector \
                 WHERE status = 'active' AND {freq_col} > 0 AND {next_col} IS NOT NULL \
                 AND {next_col} <= $1 ORDER BY {next_col}"
            )))
            .bind(now)
            .fetch_all(pool)
            .await
            .map_err(|e| db.error("cannot read the due connectors of", &e))?
        });
        for (id, source, freq, due_at) in due {
            // At most a year (a row written before `MAX_FREQ_MINUTES` was checked), and
            // checked: a date past chrono's last one panicked and stopped the scheduler.
            let period = chrono::Duration::minutes(
                freq.clamp(1, i64::from(crate::connectors::MAX_FREQ_MINUTES)),
            );
            // One period after the time it was due; if that is past too (the scheduler was
            // down), or cannot be told, one period from now: missed runs are not made up one
            // by one.
            let Some(next) = due_at
                .checked_add_signed(period)
                .filter(|next| *next > now)
                .or_else(|| now.checked_add_signed(period))
            else {
                continue;
            };
            let moved = on_pool!(db, pool => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE connector SET {next_col} = $3 WHERE id = $1 AND {next_col} = $2"
                )))
                .bind(&id)
                .bind(due_at)
                .bind(next)
                .execute(pool)
                .await
                .map_err(|e| db.error("cannot move the next run time of a connector in", &e))?
                .rows_affected()
            });
            if moved == 0 {
                continue; // another scheduler took it
            }
            let partitions = match kind {
                JobKind::Sync => partitions(store, &id, &source).await,
                JobKind::Prune => vec![String::new()],
            };
            for partition in &partitions {
                let job = NewJob {
                    connector_id: &id,
                    kind,
                    mode: JobMode::Auto,
                    partition,
                    refetch_ids: None,
                    wait_reason: None,
                };
                if jobs::enqueue(db, &job).await?.is_some() {
                    match kind {
                        JobKind::Sync => done.syncs += 1,
                        JobKind::Prune => done.prunes += 1,
                    }
                }
            }
        }
    }
    let ttl = worker_ttl(options.worker_ttl);
    let reasons = jobs::wait_reasons(db, ttl).await?;
    jobs::record_wait_reasons(db, &reasons).await?;
    // At most a century: a longer one is cut here, not refused (PostgreSQL cannot subtract
    // much more than 6,700 years; review61 L2, review64 M1).
    let keep_jobs = (!options.job_retention.is_zero())
        .then(|| chrono::Duration::from_std(options.job_retention.min(MAX_JOB_RETENTION)).ok())
        .flatten();
    let cleaned = jobs::clean_up(db, keep_jobs, ttl * 10).await?;
    if cleaned != jobs::CleanedUp::default() {
        tracing::debug!(
            jobs = cleaned.jobs,
            workers = cleaned.workers,
            rate_limits = cleaned.rate_limits,
            "cleaned up old rows"
        );
    }
    Ok(done)
}

/// On SQLite, moves every next run time past year 9999 (`+10192-…`, as an older version that
/// did not bound the frequencies wrote them) to one period from now, without queueing: that
/// text sorts before every date, so the row was due at every tick, queued, and moved a year
/// on to another such date (or failed the decoding of every due row). PostgreSQL stores and
/// orders such times as they are: far off, never due (review61 L4).
///
/// # Errors
/// [`ErrorKind::State`](connector_core::ErrorKind::State) when the table cannot be written.
async fn far_times_to_next_period(db: &SyncDb, next_col: &str, freq_col: &str) -> Result<u64> {
    // A year before 0 or after 9999 is written with its sign (`-…`, `+…`); every other
    // time starts with its four digits.
    let far = format!("{freq_col} > 0 AND ({next_col} LIKE '+%' OR {next_col} LIKE '-%')");
    // Read first: an UPDATE that matches nothing still takes SQLite's write lock, and the
    // tick then queued behind the workers' commits, or failed past `busy_timeout`
    // (review64 L2, as review56 L9 for the sweep).
    let any: bool = on_pool!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS(SELECT 1 FROM connector WHERE {far})"
        )))
        .fetch_one(pool)
        .await
        .map_err(|e| db.error("cannot read the far next run times of", &e))?
    });
    if !any {
        return Ok(0);
    }
    // Whole seconds, written as sqlx writes a time with no fraction (`…:15+00:00`): the due
    // loop binds the time it read back in its compare-and-set, and `…:15.000+00:00` never
    // matched that, so the connector was never queued again (review64 L1).
    let sql = format!(
        "UPDATE connector SET {next_col} = strftime('%Y-%m-%dT%H:%M:%S+00:00', \
         julianday('now') + max(1, min({freq_col}, $1)) / 1440.0) \
         WHERE {far}"
    );
    let moved = on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(crate::connectors::MAX_FREQ_MINUTES))
            .execute(pool)
            .await
            .map_err(|e| db.error("cannot move the far next run times of", &e))?
            .rows_affected()
    });
    if moved > 0 {
        tracing::warn!(
            connectors = moved,
            column = next_col,
            "moved next run times past year 9999 to one period from now"
        );
    }
    Ok(moved)
}

/// The partitions a sync of connector `id` runs as (one job each, from
/// [`Connector::discover_partition_specs`](connector_core::Connector::discover_partition_specs)),
/// or the whole connector (`""`) when it does not split, its partitions cannot be listed, or
/// it cannot be built here (its job then fails with the reason, where people look).
///
/// What discovery learned about each partition is kept for the jobs in this process
/// ([`PartitionContexts`](crate::handoff::PartitionContexts)): a worker here builds the
/// partition with it, one elsewhere (or after a restart) from the key alone.
pub(crate) async fn partitions(store: &ConnectorStore, id: &str, source: &str) -> Vec<String> {
    let built = match store.config(id).await {
        Ok(config) => store
            .registry()
            .build(source, config.clone())
            .map(|connector| (connector, config)),
        Err(e) => Err(e),
    };
    match built {
        Ok((connector, config)) => match connector.discover_partition_specs().await {
            Ok(specs) if !specs.is_empty() => {
                store.contexts().record(id, &config, &specs);
                PartitionSpec::keys(specs)
            }
            Ok(_) => vec![String::new()],
            Err(e) => {
                // The whole connector as one job: it reads every partition itself, or fails
                // with the reason where people look.
                tracing::warn!(connector = id, error = %e, "cannot list the connector's partitions; syncing it as one job");
                vec![String::new()]
            }
        },
        Err(e) => {
            tracing::warn!(connector = id, error = %e, "cannot build the connector to list its partitions");
            vec![String::new()]
        }
    }
}

/// Runs [`tick`] every `options.tick` until `stop` fires.
pub(crate) async fn run(
    store: ConnectorStore,
    options: SchedulerOptions,
    stop: Cancellation,
) -> Result<()> {
    tracing::info!(db = store.db().location(), "scheduler started");
    loop {
        match tick(&store, &options).await {
            Ok(t) if t.syncs + t.prunes > 0 => {
                tracing::info!(syncs = t.syncs, prunes = t.prunes, "queued due jobs");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; trying again"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(options.tick) => {}
        }
    }
    tracing::info!("scheduler stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    use super::*;

    /// With no far next run time, the SQLite move only reads (review64 L2, review66 L3: the
    /// read-first had no test): while another connection holds the write lock, it returns at
    /// once. An UPDATE that matches nothing still waited for that lock, up to the 30 s busy
    /// timeout, and then failed the tick.
    #[tokio::test]
    async fn the_far_date_move_takes_no_write_lock_when_nothing_is_far() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        let url = format!("sqlite:{}", dir.path().join("sync.db").display());
        let db = SyncDb::connect(&url).await?;
        let fail = |e: sqlx::Error| Error::internal(e.to_string());
        let mut writer = sqlx::SqliteConnection::connect(&url).await.map_err(fail)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut writer)
            .await
            .map_err(fail)?;
        for (next_col, freq_col) in [
            ("next_sync_at", "refresh_freq"),
            ("next_prune_at", "prune_freq"),
        ] {
            let moved = tokio::time::timeout(
                Duration::from_secs(5),
                far_times_to_next_period(&db, next_col, freq_col),
            )
            .await;
            assert!(
                matches!(moved, Ok(Ok(0))),
                "{next_col}: {moved:?}, expected Ok(Ok(0)) without waiting for the writer"
            );
        }
        sqlx::query("ROLLBACK")
            .execute(&mut writer)
            .await
            .map_err(fail)?;
        Ok(())
    }
}
