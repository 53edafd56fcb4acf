//! The engine on both backends (a SQLite file, and a database of its own on the real
//! PostgreSQL server the tests start): scheduling, the one-pending-job rule, pause, cancel,
//! rebuild, refetch by id, lease expiry and resume from the checkpoint, the job timeout, and
//! retries with backoff that end FAILED with the sink's error, and the per-source limit of a
//! worker.

#[macro_use]
mod support;

use std::time::Duration;

use chrono::Utc;
use connector_sync::{ConnectorUpdate, JobMode, JobStatus, Trigger, TriggerMode};
use support::engine::{Backend, Env, fast_worker, local, ok, write_files};
use support::rest::PagedApi;

on_both!(
    scheduling_queues_due_syncs_once_and_moves_the_next_time,
    one_pending_job_per_connector_and_kind,
    a_worker_runs_a_sync_and_stores_its_counters,
    pause_holds_jobs_and_resume_runs_them,
    cancel_stops_queued_and_running_jobs,
    rebuild_forgets_the_state_and_runs_full,
    incremental_with_ids_fetches_them_again,
    prune_deletes_what_the_folder_no_longer_has,
    an_expired_lease_is_taken_over_and_resumes_from_the_checkpoint,
    the_job_timeout_fires,
    a_failing_sink_is_retried_with_backoff_then_failed_with_its_error,
    a_queued_job_says_why_it_waits,
    per_source_limits_the_jobs_of_one_source_on_a_worker,
);

async fn scheduling_queues_due_syncs_once_and_moves_the_next_time(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 3);
    let mut new = local("scheduled", &env.path("a"), 10);
    new.refresh_freq = 30;
    new.prune_freq = 60;
    let c = ok("create", env.service.create(new).await);
    let manual = ok(
        "create manual",
        env.service
            .create(local("manual", &env.path("a"), 10))
            .await,
    );
    assert!(manual.next_sync_at.is_none());

    let before = Utc::now();
    let tick = ok("tick", env.service.schedule_now().await);
    assert_eq!((tick.syncs, tick.prunes), (1, 0), "only the due sync");
    let jobs = ok("jobs", env.service.jobs(Some(&c.id), 10).await);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].mode, JobMode::Auto);
    assert!(ok("manual jobs", env.service.jobs(Some(&manual.id), 10).await).is_empty());

    // The next sync is stored, one period on.
    let c = ok("get", env.service.get(&c.id).await).unwrap_or_else(|| panic!("gone"));
    let next = c
        .next_sync_at
        .unwrap_or_else(|| panic!("no next sync time"));
    assert!(next >= before + chrono::Duration::minutes(29), "{next}");
    // Not due again: nothing more is queued.
    let tick = ok("tick 2", env.service.schedule_now().await);
    assert_eq!((tick.syncs, tick.prunes), (0, 0));

    // A frequency set to 0 makes it manual.
    let c = ok(
        "update",
        env.service
            .update(
                &c.id,
                ConnectorUpdate {
                    refresh_freq: Some(0),
                    ..ConnectorUpdate::default()
                },
            )
            .await,
    );
    assert!(c.next_sync_at.is_none());
}

async fn one_pending_job_per_connector_and_kind(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 2);
    let c = ok(
        "create",
        env.service.create(local("c", &env.path("a"), 10)).await,
    );
    let first = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    assert_eq!(first.len(), 1);
    assert!(first[0].created);
    let again = ok(
        "trigger again",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Incremental))
            .await,
    );
    assert_eq!(again[0].job_id, first[0].job_id);
    assert!(!again[0].created, "the pending job is reused");
    // A prune is another kind: it may be pending next to the sync.
    let prune = ok("prune", env.service.trigger_prune(&c.id).await);
    assert!(prune.created);
    assert_ne!(prune.job_id, first[0].job_id);
    let prune_again = ok("prune again", env.service.trigger_prune(&c.id).await);
    assert!(!prune_again.created);
    assert_eq!(ok("jobs", env.service.jobs(Some(&c.id), 10).await).len(), 2);
}

async fn a_worker_runs_a_sync_and_stores_its_counters(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 7);
    let c = ok(
        "create",
        env.service.create(local("c", &env.path("a"), 3)).await,
    );
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    let worker = env.worker(fast_worker("w1"));
    let done = env
        .wait_job(job, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.counters.new, 7);
    assert_eq!(done.attempt, 1);
    assert!(done.lease_owner.is_none());
    assert!(done.finished_at.is_some());
    assert_eq!(env.sink.deliveries().len(), 7);
    assert_eq!(
        ok("documents", env.service.documents(&c.id, None, 100).await).len(),
        7
    );
    let page = ok(
        "documents page",
        env.service.documents(&c.id, Some("doc-004.md"), 100).await,
    );
    assert_eq!(page.len(), 2);
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].new, 7);
    let workers = ok("workers", env.service.workers().await);
    assert!(workers.iter().any(|w| w.id == "w1"));

    // The next auto run is incremental and delivers nothing new.
    let job = ok(
        "trigger 2",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(job, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.counters.new, 0);
    assert!(
        done.window_start.is_some(),
        "an incremental run has a window"
    );
    worker.stop().await;
    assert!(
        ok("workers", env.service.workers().await).is_empty(),
        "a worker that stops unregisters"
    );
}

async fn pause_holds_jobs_and_resume_runs_them(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 2);
    let mut new = local("c", &env.path("a"), 10);
    new.refresh_freq = 5;
    let c = ok("create", env.service.create(new).await);
    ok("pause", env.service.pause(&c.id).await);
    let tick = ok("tick", env.service.schedule_now().await);
    assert_eq!(tick.syncs, 0, "a paused connector is not scheduled");
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let worker = env.worker(fast_worker("w1"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let waiting = ok("job", env.service.job(job).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(waiting.status, JobStatus::Queued);
    assert_eq!(
        waiting.wait_reason.as_deref(),
        Some("its connector is paused")
    );
    ok("resume", env.service.resume(&c.id).await);
    env.wait_job(job, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    worker.stop().await;
}

async fn cancel_stops_queued_and_running_jobs(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 40);
    let c = ok(
        "create",
        env.service.create(local("c", &env.path("a"), 2)).await,
    );
    let queued = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    assert!(ok("cancel queued", env.service.cancel(queued).await));
    assert!(!ok("cancel again", env.service.cancel(queued).await));

    env.sink.set_delay(Duration::from_millis(100));
    let running = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    assert_ne!(running, queued);
    let worker = env.worker(fast_worker("w1"));
    env.wait_job(running, 30, "running with progress", |j| {
        j.status == JobStatus::Running && j.counters.new > 0
    })
    .await;
    assert!(ok("cancel running", env.service.cancel(running).await));
    // The worker notices at its next heartbeat or commit and stops writing.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let writes = env.sink.writes();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.sink.writes(), writes, "the cancelled job stopped");
    let job = ok("job", env.service.job(running).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(job.status, JobStatus::Cancelled, "{job:#?}");
    assert!(env.sink.deliveries().len() < 40);
    worker.stop().await;
}

async fn rebuild_forgets_the_state_and_runs_full(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 5);
    let c = ok(
        "create",
        env.service.create(local("c", &env.path("a"), 10)).await,
    );
    let worker = env.worker(fast_worker("w1"));
    let first = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    env.wait_job(first, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    worker.stop().await;

    let rebuild = ok("rebuild", env.service.rebuild(&c.id).await);
    assert_eq!(rebuild.len(), 1);
    let rebuild = rebuild[0];
    assert!(
        ok("documents", env.service.documents(&c.id, None, 100).await).is_empty(),
        "the state is forgotten at once"
    );
    let worker = env.worker(fast_worker("w2"));
    let done = env
        .wait_job(rebuild.job_id, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.mode, JobMode::Rebuild);
    assert_eq!(done.counters.new, 5, "every document is new again");
    assert!(env.sink.deliveries().values().all(|n| *n == 2));
    worker.stop().await;
}

async fn incremental_with_ids_fetches_them_again(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 4);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    let worker = env.worker(fast_worker("w1"));
    let first = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    env.wait_job(first, 30, "done", |j| j.status == JobStatus::Done)
        .await;

    // A change that keeps the old modification time: no window selects it, a refetch does.
    let path = dir.join("doc-001.md");
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime: {e}"));
    std::fs::write(&path, "# Document 1\n\nChanged, and longer than before.\n")
        .unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .unwrap_or_else(|e| panic!("set mtime: {e}"));

    let job = ok(
        "refetch",
        env.service
            .trigger(&c.id, Trigger::refetch(vec!["doc-001.md".to_owned()]))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(job, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.counters.updated, 1, "{done:#?}");
    assert_eq!(env.sink.deliveries().get("doc-001.md"), Some(&2));
    assert_eq!(env.sink.deliveries().get("doc-002.md"), Some(&1));
    // Ids go with an incremental run only.
    let err = env
        .service
        .trigger(
            &c.id,
            Trigger {
                mode: TriggerMode::Full,
                ids: Some(vec!["x".to_owned()]),
            },
        )
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(err, Some(connector_core::ErrorKind::Config));
    worker.stop().await;
}

async fn prune_deletes_what_the_folder_no_longer_has(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 4);
    let c = ok("create", env.service.create(local("c", &dir, 10)).await);
    let worker = env.worker(fast_worker("w1"));
    let first = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    env.wait_job(first, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    std::fs::remove_file(dir.join("doc-002.md")).unwrap_or_else(|e| panic!("remove: {e}"));
    let prune = ok("prune", env.service.trigger_prune(&c.id).await).job_id;
    let done = env
        .wait_job(prune, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.counters.deleted, 1);
    assert_eq!(env.sink.deleted(), vec!["doc-002.md".to_owned()]);
    assert_eq!(
        ok("documents", env.service.documents(&c.id, None, 100).await).len(),
        3
    );
    worker.stop().await;
}

async fn an_expired_lease_is_taken_over_and_resumes_from_the_checkpoint(backend: Backend) {
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
    let doomed = env.worker(fast_worker("doomed"));
    env.wait_job(job, 30, "some progress", |j| j.counters.new >= 6)
        .await;
    // The worker dies: no clean stop, no release; its lease runs out.
    doomed.kill().await;
    let before: u32 = env.sink.deliveries().values().sum();
    let stuck = ok("job", env.service.job(job).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(stuck.status, JobStatus::Running);
    assert_eq!(stuck.lease_owner.as_deref(), Some("doomed"));

    env.sink.set_delay(Duration::ZERO);
    let heir = env.worker(fast_worker("heir"));
    let done = env
        .wait_job(job, 30, "done by the heir", |j| j.status == JobStatus::Done)
        .await;
    assert_eq!(done.attempt, 2, "{done:#?}");
    let deliveries = env.sink.deliveries();
    assert_eq!(deliveries.len(), 30, "every document delivered");
    let total: u32 = deliveries.values().sum();
    // It resumed: what was acknowledged before the death is not delivered again, apart from
    // the batch in flight (2 documents) and the part of a page past the checkpoint.
    assert!(
        total - 30 <= 2,
        "{total} deliveries for 30 documents ({before} before the death)"
    );
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert_eq!(runs.last().map(|r| r.mode.as_str()), Some("resume"));
    assert!(ok("running", env.service.jobs_in(JobStatus::Running, 10).await).is_empty());
    heir.stop().await;
}

async fn the_job_timeout_fires(backend: Backend) {
    let env = Env::new(backend).await;
    let dir = env.path("a");
    write_files(&dir, 40);
    let mut new = local("c", &dir, 2);
    new.timeout_secs = 1;
    let c = ok("create", env.service.create(new).await);
    env.sink.set_delay(Duration::from_millis(150));
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let mut options = fast_worker("w1");
    options.max_attempts = 1;
    let started = std::time::Instant::now();
    let worker = env.worker(options);
    // The first attempt is stopped at its timeout, its progress kept; it advanced, so it is
    // not counted against the retry limit (1 here) and the next attempt resumes.
    let stopped = env
        .wait_job(job, 30, "stopped by its timeout", |j| j.error.is_some())
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let error = stopped.error.clone().unwrap_or_default();
    assert!(error.contains("timeout"), "{error}");
    assert!(env.sink.deliveries().len() < 40);
    assert!(stopped.counters.new > 0, "its progress is kept");
    assert_eq!(stopped.attempts_without_progress, 0, "{stopped:#?}");
    env.sink.set_delay(Duration::ZERO);
    let done = env
        .wait_job(job, 30, "done", |j| j.status == JobStatus::Done)
        .await;
    assert!(done.attempt >= 2, "{done:#?}");
    assert!(
        done.error.is_none(),
        "a job that ends well keeps no old error"
    );
    assert_eq!(env.sink.deliveries().len(), 40);
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert_eq!(runs.last().map(|r| r.mode.as_str()), Some("resume"));
    worker.stop().await;
}

async fn a_failing_sink_is_retried_with_backoff_then_failed_with_its_error(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 3);
    let c = ok(
        "create",
        env.service.create(local("c", &env.path("a"), 10)).await,
    );
    env.sink
        .set_fail(Some("the index refused the batch: disk full"));
    let job = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let mut options = fast_worker("w1");
    options.max_attempts = 3;
    options.backoff = Duration::from_millis(300);
    let worker = env.worker(options);
    // Between attempts it waits, queued, saying why.
    let waiting = env
        .wait_job(job, 30, "queued for a retry", |j| {
            j.status == JobStatus::Queued && j.attempt == 1
        })
        .await;
    let reason = waiting.wait_reason.unwrap_or_default();
    assert!(reason.starts_with("retrying at"), "{reason}");
    assert!(reason.contains("disk full"), "{reason}");
    let failed = env
        .wait_job(job, 30, "failed", |j| j.status == JobStatus::Failed)
        .await;
    assert_eq!(failed.attempt, 3);
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("disk full"), "{error}");
    // The backoff doubles: 300 ms, then 600 ms.
    let took = failed.finished_at.unwrap_or_default() - failed.started_at.unwrap_or_default();
    assert!(took >= chrono::Duration::milliseconds(900), "{took}");
    let runs = ok("runs", env.service.runs(&c.id, 10).await);
    assert_eq!(runs.len(), 3, "each attempt is in the run log");
    // Failed for good: not retried again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(ok("runs", env.service.runs(&c.id, 10).await).len(), 3);
    worker.stop().await;
}

async fn a_queued_job_says_why_it_waits(backend: Backend) {
    let env = Env::new(backend).await;
    write_files(&env.path("a"), 10);
    let mut jobs = Vec::new();
    for name in ["a", "b", "c"] {
        let c = ok(
            "create",
            env.service.create(local(name, &env.path("a"), 2)).await,
        );
        jobs.push(
            ok(
                "trigger",
                env.service
                    .trigger(&c.id, Trigger::new(TriggerMode::Full))
                    .await,
            )[0]
            .job_id,
        );
    }
    let reason =
        |j: Option<connector_sync::JobRecord>| j.and_then(|j| j.wait_reason).unwrap_or_default();
    for job in &jobs {
        let r = reason(ok("job", env.service.job(*job).await));
        assert!(r.starts_with("no worker alive"), "{r}");
    }
    // One worker with one slot: the first job runs, the others queue in order.
    env.sink.set_delay(Duration::from_millis(200));
    let mut options = fast_worker("w1");
    options.jobs = 1;
    let worker = env.worker(options);
    env.wait_job(jobs[0], 30, "running", |j| j.status == JobStatus::Running)
        .await;
    let r1 = reason(ok("job", env.service.job(jobs[1]).await));
    let r2 = reason(ok("job", env.service.job(jobs[2]).await));
    assert_eq!(
        (r1.as_str(), r2.as_str()),
        ("queued behind 0 jobs", "queued behind 1 jobs")
    );
    // The scheduler records the reasons on the rows.
    ok("tick", env.service.schedule_now().await);
    let listed = ok("jobs", env.service.jobs(None, 10).await);
    let stored = listed
        .iter()
        .find(|j| j.id == jobs[2])
        .and_then(|j| j.wait_reason.clone());
    assert_eq!(stored.as_deref(), Some("queued behind 1 jobs"));
    worker.stop().await;
}

/// Job `id`'s run, `started_at..finished_at`.
fn ran(
    env_jobs: &[connector_sync::JobRecord],
    id: i64,
) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let job = env_jobs
        .iter()
        .find(|j| j.id == id)
        .unwrap_or_else(|| panic!("job {id} is gone"));
    match (job.started_at, job.finished_at) {
        (Some(s), Some(f)) => (s, f),
        _ => panic!("job {id} did not run to its end: {job:#?}"),
    }
}

/// `WorkerOptions::per_source` (per worker): with 1, the two jobs of the local source run one
/// after the other on a worker with three slots, while the REST source's job runs beside them;
/// with 2, the same two jobs run at once.
async fn per_source_limits_the_jobs_of_one_source_on_a_worker(backend: Backend) {
    let env = Env::new(backend).await;
    let api = PagedApi::start().await;
    // The REST job outlasts the two local ones together: 8 pages of 5, 150 ms each.
    api.serve("slow", 40, 5, Duration::from_millis(150)).await;
    write_files(&env.path("a"), 12);
    write_files(&env.path("b"), 12);
    // Batches of 2, 30 ms each at the sink: a local job takes about 200 ms.
    env.sink.set_delay(Duration::from_millis(30));
    let a = ok(
        "create",
        env.service.create(local("a", &env.path("a"), 4)).await,
    );
    let b = ok(
        "create",
        env.service.create(local("b", &env.path("b"), 4)).await,
    );
    let rest = ok(
        "create",
        env.service
            .create(connector_sync::NewConnector::new(
                "slow",
                "rest_api",
                api.config("slow", 5, None),
            ))
            .await,
    );
    let trigger = |id: String| {
        let service = env.service.clone();
        async move {
            ok(
                "trigger",
                service.trigger(&id, Trigger::new(TriggerMode::Full)).await,
            )[0]
            .job_id
        }
    };

    for per_source in [1, 2] {
        let jobs = [
            trigger(rest.id.clone()).await,
            trigger(a.id.clone()).await,
            trigger(b.id.clone()).await,
        ];
        let mut options = fast_worker("w1");
        options.jobs = 3;
        options.per_source = per_source;
        let worker = env.worker(options);
        // What runs at once, sampled as it goes.
        let (mut most_local, mut local_beside_rest) = (0, false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let running = ok("running", env.service.jobs_in(JobStatus::Running, 10).await);
            let local_now = running.iter().filter(|j| j.id != jobs[0]).count();
            most_local = most_local.max(local_now);
            local_beside_rest |= local_now > 0 && running.iter().any(|j| j.id == jobs[0]);
            let listed = ok("jobs", env.service.jobs(None, 20).await);
            if jobs
                .iter()
                .all(|id| listed.iter().any(|j| j.id == *id && j.status.is_finished()))
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{listed:#?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        worker.stop().await;
        let listed = ok("jobs", env.service.jobs(None, 20).await);
        assert!(
            jobs.iter().all(|id| listed
                .iter()
                .any(|j| j.id == *id && j.status == JobStatus::Done)),
            "{listed:#?}"
        );
        let (rest_run, a_run, b_run) = (
            ran(&listed, jobs[0]),
            ran(&listed, jobs[1]),
            ran(&listed, jobs[2]),
        );
        let overlap = |x: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
                       y: (chrono::DateTime<Utc>, chrono::DateTime<Utc>)| {
            x.0 < y.1 && y.0 < x.1
        };
        assert!(
            overlap(rest_run, a_run) && overlap(rest_run, b_run),
            "per_source {per_source}: the other source's job runs beside both: {listed:#?}"
        );
        assert!(
            local_beside_rest,
            "per_source {per_source}: never seen beside the REST job"
        );
        if per_source == 1 {
            assert!(
                !overlap(a_run, b_run),
                "two jobs of one source ran at once: {listed:#?}"
            );
            assert_eq!(most_local, 1);
        } else {
            assert!(
                overlap(a_run, b_run),
                "per_source 2 ran them one by one: {listed:#?}"
            );
            assert_eq!(most_local, 2);
        }
    }
}
