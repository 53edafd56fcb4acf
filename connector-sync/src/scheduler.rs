//! The scheduler: queues the syncs and prunes that are due by each connector's frequencies,
//! and records why queued jobs wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::{Cancellation, PartitionSpec, Result};

use crate::connectors::ConnectorStore;
use crate::jobs::{self, JobKind, JobMode, NewJob};
use crate::store::on_pool;

/// How the scheduler runs (see [`SyncService::run_scheduler`](crate::SyncService::run_scheduler)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// How often it looks for due connectors (default 5 s).
    pub tick: Duration,
    /// A worker whose heartbeat is older than this counts as dead when a job says why it
    /// waits (default 60 s); its row is deleted after ten times as long.
    pub worker_ttl: Duration,
    /// Finished jobs (done, failed, cancelled) older than this are deleted, a batch per tick
    /// (default 7 days, as long as Onyx keeps index attempts; the run log keeps each
    /// connector's last 1,000 runs apart from it). Zero keeps them for ever.
    pub job_retention: Duration,
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
    let worker_ttl = options.worker_ttl;
    let db = store.db();
    let now = Utc::now();
    let mut done = Tick::default();
    for kind in [JobKind::Sync, JobKind::Prune] {
        let (next_col, freq_col) = match kind {
            JobKind::Sync => ("next_sync_at", "refresh_freq"),
            JobKind::Prune => ("next_prune_at", "prune_freq"),
        };
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
    let ttl = chrono::Duration::from_std(worker_ttl).unwrap_or(chrono::Duration::seconds(60));
    let reasons = jobs::wait_reasons(db, ttl).await?;
    jobs::record_wait_reasons(db, &reasons).await?;
    let keep_jobs = (!options.job_retention.is_zero())
        .then(|| chrono::Duration::from_std(options.job_retention).ok())
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
