//! The defects a review of the engine found (issue 18), each pinned by a test on both
//! backends where the behaviour is in SQL: a config change that kept the old scope's window,
//! a checkpoint that blocked its connector for good, failed items shared between partitions,
//! interruptions counted as failures, a hung job that stayed running, leases timed by the
//! workers' clocks, a lock-order deadlock, triggers dropped while a job was pending, and a
//! database migrated before a migration was edited.

#[macro_use]
mod support;

use std::time::{Duration, SystemTime};

use chrono::Utc;
use connector_core::state::{CheckpointUpdate, Commit, FailedItem, StateStore, StoredCheckpoint};
use connector_core::{CheckpointJson, ErrorKind, Failure};
use connector_sync::{
    ConnectorStore, ConnectorUpdate, JobMode, JobStatus, SqlStateStore, SyncDb, SyncService,
    Trigger, TriggerMode,
};
use support::engine::{
    Backend, Env, Recorder, fast_worker, local, ok, registry, sealer, write_files,
};

on_both!(
    a_config_change_forgets_the_old_scope_and_runs_full,
    an_unreadable_checkpoint_is_dropped_and_the_run_starts_over,
    failed_items_belong_to_their_partition,
    a_job_that_advances_is_not_failed_for_its_interruptions,
    a_stalled_job_is_stopped_and_fails_with_the_reason,
    a_trigger_merges_into_the_queued_job,
    a_database_migrated_before_the_api_migration_was_edited_opens,
    old_finished_jobs_and_dead_workers_are_cleaned_up,
    a_next_run_past_year_9999_is_moved_and_not_queued,
    huge_scheduler_durations_are_cut,
    an_old_frequency_past_a_year_runs_yearly,
);

/// Runs `sql` with the one bind `at` on the test's database, outside the engine.
async fn exec_at(backend: Backend, url: &str, sql: &str, at: chrono::DateTime<Utc>) {
    on_connection!(backend, url, |conn| {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(at)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

async fn old_finished_jobs_and_dead_workers_are_cleaned_up(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 2);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    let old = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    ok("cancel", env.service.cancel(old).await);
    let recent = ok(
        "trigger 2",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    ok("cancel 2", env.service.cancel(recent).await);
    let queued = ok(
        "trigger 3",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let long_ago = Utc::now() - chrono::Duration::days(30);
    exec_at(
        backend,
        &env.url,
        &format!("UPDATE job SET finished_at = $1 WHERE id = {old}"),
        long_ago,
    )
    .await;
    // A worker killed a month ago never unregistered.
    exec_at(
        backend,
        &env.url,
        "INSERT INTO worker (id, started_at, heartbeat_at) VALUES ('killed', $1, $1)",
        long_ago,
    )
    .await;
    ok("tick", env.service.schedule_now().await);
    let ids: Vec<i64> = ok("jobs", env.service.jobs(Some(&c.id), 10).await)
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, [queued, recent], "the month-old finished job is gone");
    assert!(ok("workers", env.service.workers().await).is_empty());
}

/// Sets the modification time of every file under `dir` to a day ago.
fn age(dir: &std::path::Path) {
    let old = SystemTime::now() - Duration::from_secs(24 * 3600);
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.set_modified(old)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

async fn a_config_change_forgets_the_old_scope_and_runs_full(backend: Backend) {
    let env = Env::new(backend).await;
    let (a, b) = (env.path("a"), env.path("b"));
    write_files(&a, 3);
    std::fs::create_dir_all(&b).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..2 {
        std::fs::write(b.join(format!("b-{i}.md")), format!("# B {i}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Items of the new scope that are older than the old scope's last window.
    age(&a);
    age(&b);
    let c = ok("create", env.service.create(local("c", &a, 10)).await);
    let worker = env.worker(fast_worker("w1"));
    let first = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    env.wait_job(first, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(env.sink.deliveries().len(), 3);

    // The path moves to another folder: the next auto run must not be incremental from
    // the old folder's window.
    ok(
        "update",
        env.service
            .update(
                &c.id,
                ConnectorUpdate {
                    config: Some(serde_json::json!({ "path": b, "page_size": 10 })),
                    ..ConnectorUpdate::default()
                },
            )
            .await,
    );
    let second = ok(
        "trigger 2",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(second, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    let delivered = env.sink.deliveries();
    assert!(
        delivered.contains_key("b-0.md") && delivered.contains_key("b-1.md"),
        "the new folder's older files were never fetched: {delivered:?}, job {done:#?}"
    );
    assert!(done.window_start.is_none(), "a full run: {done:#?}");
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert_eq!(runs.last().map(|r| r.mode.as_str()), Some("full"));

    // The same config again (a token rotation would be the same): incremental.
    let third = ok(
        "trigger 3",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(third, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert!(done.window_start.is_some(), "incremental again: {done:#?}");
    worker.stop().await;
}

async fn an_unreadable_checkpoint_is_dropped_and_the_run_starts_over(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 4);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    // An interrupted run's checkpoint written by another version of the source (a release
    // that bumped `checkpoint_version`).
    let state = SqlStateStore::new(env.service.db().clone(), c.id.clone());
    ok(
        "commit",
        state
            .commit(Commit {
                checkpoint: CheckpointUpdate::Set(StoredCheckpoint {
                    checkpoint: CheckpointJson {
                        source: "local".to_owned(),
                        version: 999,
                        state: serde_json::json!({ "from": "the future" }),
                    },
                    window: None,
                    started_at: Utc::now(),
                    reconcile: false,
                    page_prefix: None,
                }),
                ..Commit::default()
            })
            .await,
    );
    let mut options = fast_worker("w1");
    options.max_attempts = 2;
    let worker = env.worker(options);
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(job, 30, "over", |j| j.status.is_finished())
        .await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(env.sink.deliveries().len(), 4);
    assert!(ok("load", state.load().await).checkpoint.is_none());
    worker.stop().await;
}

fn failure(id: &str) -> FailedItem {
    FailedItem {
        failure: Failure::new(
            Some(id.to_owned()),
            ErrorKind::Unavailable,
            format!("{id}: 503"),
        ),
        window_start: None,
        attempts: 1,
        first_failed_at: Utc::now(),
    }
}

async fn failed_items_belong_to_their_partition(backend: Backend) {
    let env = Env::new(backend).await;
    let db = env.service.db().clone();
    let a = SqlStateStore::new(db.clone(), "c").partition("a");
    let b = SqlStateStore::new(db, "c").partition("b");
    ok(
        "commit b",
        b.commit(Commit {
            failed: vec![failure("b-item")],
            ..Commit::default()
        })
        .await,
    );
    ok(
        "commit a",
        a.commit(Commit {
            failed: vec![failure("a-item")],
            ..Commit::default()
        })
        .await,
    );
    let ids = |s: &connector_core::state::SyncState| -> Vec<String> {
        s.failed
            .iter()
            .filter_map(|f| f.failure.id.clone())
            .collect()
    };
    assert_eq!(ids(&ok("load a", a.load().await)), ["a-item"]);
    assert_eq!(ids(&ok("load b", b.load().await)), ["b-item"]);
    // A's run resolving what it did not see fail leaves B's failures alone.
    let key = failure("b-item").key();
    ok(
        "resolve in a",
        a.commit(Commit {
            resolved: vec![key],
            ..Commit::default()
        })
        .await,
    );
    assert_eq!(ids(&ok("load b again", b.load().await)), ["b-item"]);
}

async fn a_job_that_advances_is_not_failed_for_its_interruptions(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 30);
    let c = ok("create", env.service.create(local("c", &dir, 2)).await);
    env.sink.set_delay(Duration::from_millis(60));
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let options = |id: &str| {
        let mut o = fast_worker(id);
        o.max_attempts = 2;
        o
    };
    // Two workers die in turn, each after the job advanced: two attempts, both useful.
    for (n, id) in ["first", "second"].into_iter().enumerate() {
        let attempt = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let w = env.worker(options(id));
        env.wait_job(job, 30, "advancing", |j| {
            j.status == JobStatus::Running && j.attempt == attempt && j.counters.new >= 4
        })
        .await;
        w.kill().await;
    }
    env.sink.set_delay(Duration::ZERO);
    let heir = env.worker(options("heir"));
    let done = env
        .wait_job(job, 30, "over", |j| j.status.is_finished())
        .await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(done.attempt, 3);
    assert_eq!(env.sink.deliveries().len(), 30);
    // Its counters are the whole job's, every attempt's counts added up. They are stored at
    // heartbeats, so a killed attempt loses what it counted since its last one: at most a
    // heartbeat's work (200 ms of 2-document batches every 60 ms: 8 documents) per kill.
    let c = done.counters;
    assert!(
        c.new + c.updated + c.unchanged >= 30 - 2 * 8,
        "the last attempt's counts only: {done:#?}"
    );
    heir.stop().await;
}

async fn a_stalled_job_is_stopped_and_fails_with_the_reason(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 4);
    let c = ok("create", env.service.create(local("c", &dir, 2)).await);
    // Every sink write hangs (a dead mount): the heartbeat alone would keep it running.
    env.sink.set_delay(Duration::from_secs(3600));
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let mut options = fast_worker("w1");
    options.max_attempts = 2;
    options.stall_timeout = Duration::from_millis(600);
    let worker = env.worker(options);
    let failed = env
        .wait_job(job, 30, "failed", |j| j.status == JobStatus::Failed)
        .await;
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("stall timeout"), "{error}");
    // The sink hung, not the connector: said so (and not a stall of the checkpoint).
    assert!(error.contains("the sink did not return"), "{error}");
    assert_eq!(failed.attempt, 2, "{failed:#?}");
    worker.stop().await;
}

async fn a_trigger_merges_into_the_queued_job(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 4);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    let auto = ok(
        "auto",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0];
    let full = ok(
        "full",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0];
    assert_eq!(full.job_id, auto.job_id);
    assert!(!full.created);
    let job = ok("job", env.service.job(auto.job_id).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        job.mode,
        JobMode::Full,
        "the full trigger upgraded the queued job"
    );
    // A weaker trigger leaves it full.
    ok(
        "incremental",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Incremental))
            .await,
    );
    let job = ok("job", env.service.job(auto.job_id).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(job.mode, JobMode::Full);

    // Ids to fetch again are merged.
    let d = ok("create d", env.service.create(local("d", &dir, 10)).await);
    let first = ok(
        "refetch 1",
        env.service
            .trigger(&d.id, Trigger::refetch(vec!["doc-000.md".into()]))
            .await,
    )[0];
    let second = ok(
        "refetch 2",
        env.service
            .trigger(
                &d.id,
                Trigger::refetch(vec!["doc-001.md".into(), "doc-000.md".into()]),
            )
            .await,
    )[0];
    assert_eq!(first.job_id, second.job_id);
    let job = ok("job", env.service.job(first.job_id).await).unwrap_or_else(|| panic!("gone"));
    let mut ids = job.refetch_ids.unwrap_or_default();
    ids.sort();
    assert_eq!(ids, ["doc-000.md", "doc-001.md"]);

    // A running job cannot take a full sync any more: the caller is told, not ignored.
    env.sink.set_delay(Duration::from_millis(400));
    let worker = env.worker(fast_worker("w1"));
    env.wait_job(first.job_id, 30, "running", |j| {
        j.status == JobStatus::Running
    })
    .await;
    let refused = env
        .service
        .trigger(&d.id, Trigger::new(TriggerMode::Full))
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(refused, Some(ErrorKind::Unavailable));
    let covered = ok(
        "auto while running",
        env.service
            .trigger(&d.id, Trigger::new(TriggerMode::Incremental))
            .await,
    )[0];
    assert_eq!((covered.job_id, covered.created), (first.job_id, false));
    env.sink.set_delay(Duration::ZERO);
    worker.stop().await;
}

/// What b42f4f5 recorded for migration 2 (`api`) before 0b24196 appended an index to it.
const SHIPPED_API_SQLITE: &str = "004c891fca5625f7c917d8ea16be84d195d40af2f3ebd1d72d91c122138b493346f08fe5b1d0867afd2724285e14d6f7";
const SHIPPED_API_POSTGRES: &str = "bb9957703f481159b465a21235a00a2658dd62c48529f81a408a7ff1d7c8535955ba16d72cad7cebc1196ade9d852dd1";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

async fn a_database_migrated_before_the_api_migration_was_edited_opens(backend: Backend) {
    let env = Env::new(backend).await;
    let db = env.service.db().clone();
    // Back to what a database migrated by b42f4f5 holds: migration 2 without the index.
    let shipped = unhex(match backend {
        Backend::Sqlite => SHIPPED_API_SQLITE,
        Backend::Postgres => SHIPPED_API_POSTGRES,
    });
    let Env {
        dir: _dir,
        url,
        service,
        ..
    } = env;
    drop(service);
    db.close().await;
    on_connection!(backend, &url, |conn| {
        sqlx::query("DROP INDEX connector_name")
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
            .bind(&shipped)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let reopened = ok("reopen", SyncDb::connect(&url).await);
    let service = SyncService::new(
        ConnectorStore::new(reopened, registry()).with_sealer(sealer()),
        Recorder::default().factory(),
    );
    ok("list", service.list().await);
}

/// PostgreSQL only: a database whose clock runs an hour ahead of this machine's (its
/// `clock_timestamp()` shadowed in the search path). Leases, heartbeats and due times are the
/// database's: every worker measures them on one clock, whatever its own says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leases_are_timed_by_the_database_clock() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = support::engine::fresh_url(Backend::Postgres, dir.path()).await;
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    {
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for sql in [
            "CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql \
             AS $$ SELECT pg_catalog.clock_timestamp() + interval '1 hour' $$"
                .to_owned(),
            format!("ALTER DATABASE {name} SET search_path = public, pg_catalog"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let db = ok("connect", SyncDb::connect(&url).await);
    let sink = Recorder::default();
    let service = SyncService::new(
        ConnectorStore::new(db, registry()).with_sealer(sealer()),
        sink.factory(),
    );
    let files = dir.path().join("a");
    write_files(&files, 10);
    let c = ok("create", service.create(local("c", &files, 2)).await);
    sink.set_delay(Duration::from_millis(100));
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
        tokio::spawn(async move { service.run_workers(fast_worker("w1"), stop).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let running = loop {
        let j = ok("job", service.job_stored(job).await).unwrap_or_else(|| panic!("gone"));
        if j.status == JobStatus::Running && j.heartbeat_at.is_some() {
            break j;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ran: {j:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let expires = running
        .lease_expires_at
        .unwrap_or_else(|| panic!("no lease: {running:#?}"));
    assert!(
        expires > Utc::now() + chrono::Duration::minutes(50),
        "the lease ends at {expires}, by this machine's clock, not the database's"
    );
    // And on that clock the job runs to its end (nothing requeued as expired).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let j = ok("job", service.job_stored(job).await).unwrap_or_else(|| panic!("gone"));
        if j.status.is_finished() {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ended: {j:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (done.status, done.attempt),
        (JobStatus::Done, 1),
        "{done:#?}"
    );
    stop.cancel();
    let _ = worker.await;
}

/// PostgreSQL only (SQLite has one writer: nothing can wait on anything): a transaction that
/// locks a job row and then its connector's checkpoint rows, as rebuild and delete do, while
/// the job's worker commits. A commit that locked the checkpoint first and the job row last
/// deadlocked with it; the job row is now always taken first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commits_and_rebuilds_take_locks_in_one_order() {
    use sqlx::Connection as _;
    let env = Env::new(Backend::Postgres).await;
    let dir = env.path("a");
    write_files(&dir, 60);
    let c = ok("create", env.service.create(local("c", &dir, 2)).await);
    env.sink.set_delay(Duration::from_millis(40));
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let worker = env.worker(fast_worker("w1"));
    env.wait_job(job, 30, "advancing", |j| j.counters.new >= 4)
        .await;
    let mut conn = sqlx::PgConnection::connect(&env.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tx = conn.begin().await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE job SET wait_reason = wait_reason WHERE id = $1")
        .bind(job)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("lock the job row: {e}"));
    // A commit starts meanwhile and waits for the job row.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let deleted = sqlx::query("DELETE FROM checkpoint WHERE connector_id = $1")
        .bind(&c.id)
        .execute(&mut *tx)
        .await;
    assert!(
        deleted.is_ok(),
        "the rebuild-like transaction: {:?}",
        deleted.err()
    );
    tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    let done = env
        .wait_job(job, 60, "over", |j| j.status.is_finished())
        .await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert!(
        runs.iter()
            .all(|r| !r.error.as_deref().unwrap_or_default().contains("deadlock")),
        "{runs:#?}"
    );
    worker.stop().await;
}

/// A next sync time past year 9999, as a version that did not bound the frequencies wrote it:
/// on SQLite the text `+10192-…` sorts before every date, so it was due at every tick (or
/// failed the decoding of the due rows). The tick moves it to one period from now and queues
/// nothing; PostgreSQL orders it as a far date, never due (review61 L4).
async fn a_next_run_past_year_9999_is_moved_and_not_queued(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 1);
    let mut new = local("c", &dir, 10);
    new.refresh_freq = 60;
    let c = ok("create", env.service.create(new).await);
    let far = chrono::NaiveDate::from_ymd_opt(10192, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_else(|| panic!("year 10192"));
    exec_at(
        backend,
        &env.url,
        &format!(
            "UPDATE connector SET next_sync_at = $1 WHERE id = '{}'",
            c.id
        ),
        far,
    )
    .await;
    for pass in 0..2 {
        let tick = ok("tick", env.service.schedule_now().await);
        assert_eq!(tick.syncs, 0, "pass {pass}: nothing is due");
    }
    let next = ok("get", env.service.store().get(&c.id).await)
        .and_then(|c| c.next_sync_at)
        .unwrap_or_else(|| panic!("a next sync time"));
    if backend == Backend::Sqlite {
        let hour = (next - Utc::now()).num_seconds();
        assert!((3500..=3600).contains(&hour), "{next}: one period from now");
        // In whole seconds, as sqlx writes the time the due loop binds back in its
        // compare-and-set: `…:15.000+00:00` never matched `…:15+00:00`, and the connector
        // was never queued again (review64 L1). The stored text is compared, as the
        // compare-and-set does (review66 L3: `%S.000` decodes to the same time).
        assert_eq!(next.timestamp_subsec_nanos(), 0, "{next}");
        let stored: String = on_connection!(backend, &env.url, |conn| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT next_sync_at FROM connector WHERE id = '{}'",
                c.id
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("read the text: {e}"))
        });
        assert_eq!(
            stored,
            next.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            "the text the due loop's compare-and-set binds"
        );
    } else {
        assert_eq!(next, far);
    }
}

/// A `worker_ttl` past chrono's range (8.3e12 s to 9.2e15 s) panicked the status of a queued
/// job and every scheduler tick; the service's is cut to a day, and so are the scheduler's
/// options where they are used: a `worker_ttl` past a day and a `job_retention` PostgreSQL
/// cannot subtract (it stopped every clean-up) are cut, not refused, as a deployment's long
/// values kept working (review64 M1); a `tick` of zero is refused naming it (review61 L1, L2,
/// L4).
async fn huge_scheduler_durations_are_cut(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 1);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    let service = env
        .service
        .clone()
        .worker_ttl(Duration::from_secs(9_000_000_000_000_000));
    let job = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let queued = ok("job", service.job(job).await).unwrap_or_else(|| panic!("the job"));
    assert_eq!(queued.status, JobStatus::Queued);
    assert!(queued.wait_reason.is_some(), "{queued:#?}");
    ok("tick", service.schedule_now().await);

    let mut options = connector_sync::SchedulerOptions::default();
    options.worker_ttl = Duration::from_secs(10_000_000_000_000);
    options.job_retention = Duration::from_secs(1_000_000_000_000);
    options.tick = Duration::ZERO;
    let stop = connector_core::Cancellation::new();
    stop.cancel();
    let e = service
        .run_scheduler(options, stop.clone())
        .await
        .expect_err("out of range");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let fields: Vec<&str> = e.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(fields, ["tick"], "{e}");
    for (ttl, keep) in [
        (
            connector_sync::MAX_WORKER_TTL,
            connector_sync::MAX_JOB_RETENTION,
        ),
        (Duration::from_secs(2 * 24 * 3600), Duration::MAX),
        (
            Duration::from_secs(10_000_000_000_000),
            Duration::from_secs(1_000_000_000_000),
        ),
    ] {
        let mut options = connector_sync::SchedulerOptions::default();
        options.worker_ttl = ttl;
        options.job_retention = keep;
        ok("cut, not refused", options.validate());
        ok(
            "the longest",
            service.run_scheduler(options, stop.clone()).await,
        );
    }

    // The cuts are applied where the values are used (review66 L2: `run_scheduler` logs a
    // failed tick and goes on, so its `Ok` said nothing of them): with a `job_retention` of
    // 31,700 years and a `worker_ttl` of 317,000 years, cut to a century and a day, one tick
    // (a cancelled `stop` lets `run_scheduler` run exactly one) deletes a job finished a
    // century and two days ago and a worker not heard of for eleven days. Uncut, PostgreSQL
    // failed the clean-up (out of range) and SQLite's `strftime` gave NULL: nothing went.
    ok("cancel", service.cancel(job).await);
    let century = chrono::Duration::days(36_500 + 2);
    exec_at(
        backend,
        &env.url,
        &format!("UPDATE job SET finished_at = $1 WHERE id = {job}"),
        Utc::now() - century,
    )
    .await;
    exec_at(
        backend,
        &env.url,
        "INSERT INTO worker (id, started_at, heartbeat_at) VALUES ('ancient', $1, $1)",
        Utc::now() - chrono::Duration::days(11),
    )
    .await;
    let mut options = connector_sync::SchedulerOptions::default();
    options.worker_ttl = Duration::from_secs(10_000_000_000_000);
    options.job_retention = Duration::from_secs(1_000_000_000_000);
    ok(
        "one tick",
        service.run_scheduler(options, stop.clone()).await,
    );
    assert!(
        ok("job", service.job_stored(job).await).is_none(),
        "a job finished a century and two days ago is deleted"
    );
    assert!(
        ok("workers", service.workers().await).is_empty(),
        "a worker not heard of for eleven days is deleted"
    );
}

/// A `refresh_freq` past a year, as a version before the store's check wrote it (u32::MAX
/// minutes, about 8 000 years): the tick queues the due sync and moves the next one a year on,
/// not 8 000 years (review61 Q6.8: the scheduler's clamp had no test).
async fn an_old_frequency_past_a_year_runs_yearly(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 1);
    let mut new = local("c", &dir, 10);
    new.refresh_freq = 60;
    let c = ok("create", env.service.create(new).await);
    exec_at(
        backend,
        &env.url,
        &format!(
            "UPDATE connector SET refresh_freq = {}, next_sync_at = $1 WHERE id = '{}'",
            u32::MAX,
            c.id
        ),
        Utc::now() - chrono::Duration::minutes(1),
    )
    .await;
    let tick = ok("tick", env.service.schedule_now().await);
    assert_eq!(tick.syncs, 1, "the due sync is queued");
    let next = ok("get", env.service.store().get(&c.id).await)
        .and_then(|c| c.next_sync_at)
        .unwrap_or_else(|| panic!("a next sync time"));
    let days = (next - Utc::now()).num_days();
    assert!((364..=365).contains(&days), "{next}: a year on");
}
