//! A connector deleted while one of its jobs runs, on both backends: the job stops at its next
//! heartbeat or state commit, nothing of the connector is written back after the delete, no
//! job is left RUNNING, the worker's slot comes free for the next job, and nothing panics (a
//! panic in a job's task would be swallowed by the worker's task set, so this binary counts
//! them with a panic hook).

#[macro_use]
mod support;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connector_sync::{JobStatus, Trigger, TriggerMode};
use support::engine::{Backend, Env, fast_worker, local, ok, write_files};

on_both!(deleting_a_connector_stops_its_running_job_cleanly);

/// Panics anywhere in this test binary since [`count_panics`] was first called.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

async fn deleting_a_connector_stops_its_running_job_cleanly(backend: Backend) {
    count_panics();
    let env = Env::new(backend).await;
    write_files(&env.path("doomed"), 60);
    write_files(&env.path("kept"), 5);
    // Batches of 2, each taking 40 ms at the sink: the job runs for over a second.
    env.sink.set_delay(Duration::from_millis(40));
    let doomed = ok(
        "create",
        env.service
            .create(local("doomed", &env.path("doomed"), 4))
            .await,
    );
    let kept = ok(
        "create",
        env.service
            .create(local("kept", &env.path("kept"), 4))
            .await,
    );
    let job = ok(
        "trigger",
        env.service
            .trigger(&doomed.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    // One slot: the kept connector's job can only run once the deleted one's has let go.
    let mut options = fast_worker("w1");
    options.jobs = 1;
    let worker = env.worker(options);

    // In the middle of the job: some documents acknowledged, far from all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let acknowledged = ok(
            "documents",
            env.service.documents(&doomed.id, None, 100).await,
        )
        .len();
        if acknowledged >= 4 {
            assert!(acknowledged < 60, "the job ended before the delete");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never got going: {:#?}",
            env.service.job(job).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let running = ok("job", env.service.job(job).await).map(|j| j.status);
    assert_eq!(running, Some(JobStatus::Running));
    assert!(ok("delete", env.service.delete(&doomed.id).await));

    // The job is gone with its connector, and stops: the sink sees no more of it once its
    // next heartbeat or commit found the job gone.
    assert!(ok("job", env.service.job(job).await).is_none());
    let mut writes = env.sink.writes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = env.sink.writes();
        if now == writes {
            break;
        }
        writes = now;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deleted connector's job keeps writing"
        );
    }
    let delivered = env.sink.deliveries().len();
    assert!(
        delivered < 60,
        "the job ran to its end: {delivered} documents"
    );

    // The slot came free: the other connector's job runs to its end on the same worker.
    let next = ok(
        "trigger kept",
        env.service
            .trigger(&kept.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let done = env
        .wait_job(next, 30, "done", |j| j.status.is_finished())
        .await;
    assert_eq!(done.status, JobStatus::Done, "{done:#?}");
    assert_eq!(done.counters.new, 5);

    // Nothing of the deleted connector came back, and no job is left running.
    assert!(
        ok("running", env.service.jobs_in(JobStatus::Running, 10).await).is_empty(),
        "a job is left RUNNING"
    );
    assert!(ok("jobs", env.service.jobs(Some(&doomed.id), 10).await).is_empty());
    assert!(
        ok(
            "documents",
            env.service.documents(&doomed.id, None, 100).await
        )
        .is_empty(),
        "the deleted connector's state was written back"
    );
    assert!(ok("runs", env.service.runs(&doomed.id, 10).await).is_empty());
    assert!(ok("get", env.service.get(&doomed.id).await).is_none());

    worker.stop().await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
}
