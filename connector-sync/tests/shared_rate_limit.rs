//! One rate limit per credential, shared by the workers through the database, seen from the
//! engine, on both backends: two generic REST connectors with the same bearer token against one
//! loopback API, run by two workers. The first request of the first job is answered `429` with
//! `Retry-After: 2`; from then on no request of that credential reaches the API for 2 s, from
//! that job or from the other one (started on the other worker after the 429); while they wait,
//! the running jobs say "rate-limited until T"; both finish with every document.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use connector_sync::{JobRecord, JobStatus, NewConnector, Trigger, TriggerMode};
use support::engine::{Backend, Env, fast_worker, ok};
use support::rest::PagedApi;

on_both!(a_429_holds_back_every_job_of_the_credential);

const TOKEN: &str = "shared-token-4f1c";
const RETRY_AFTER: u64 = 2;
/// Items of each listing, and a page's size.
const ITEMS: usize = 30;
const PER_PAGE: usize = 10;

/// The time in a wait reason `rate-limited until T`.
fn limited_until(job: &JobRecord) -> Option<DateTime<Utc>> {
    let reason = job.wait_reason.as_deref()?;
    let at = reason.strip_prefix("rate-limited until ")?;
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn waits_for_the_rate_limit(job: &JobRecord) -> bool {
    job.status == JobStatus::Running && limited_until(job).is_some()
}

async fn a_429_holds_back_every_job_of_the_credential(backend: Backend) {
    let env = Env::new(backend).await;
    let api = PagedApi::start().await;
    let delay = Duration::from_millis(20);
    api.serve_throttled("first", ITEMS, PER_PAGE, delay, RETRY_AFTER)
        .await;
    api.serve("second", ITEMS, PER_PAGE, delay).await;
    let first = ok(
        "create",
        env.service
            .create(NewConnector::new(
                "first",
                "rest_api",
                api.config("first", PER_PAGE, Some(TOKEN)),
            ))
            .await,
    );
    let second = ok(
        "create",
        env.service
            .create(NewConnector::new(
                "second",
                "rest_api",
                api.config("second", PER_PAGE, Some(TOKEN)),
            ))
            .await,
    );
    // Two workers of one slot each: the jobs run in two places that share only the database.
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|id| {
            let mut options = fast_worker(id);
            options.jobs = 1;
            env.worker(options)
        })
        .collect();

    let job_a = ok(
        "trigger",
        env.service
            .trigger(&first.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    // The 429.
    let deadline = Instant::now() + Duration::from_secs(30);
    let throttled = loop {
        if let Some(hit) = api.hits().into_iter().find(|h| h.status == 429) {
            break hit;
        }
        assert!(Instant::now() < deadline, "the first job never asked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(throttled.listing, "first");

    // The job that was told says it waits, until about 2 s after the 429.
    let waiting = env
        .wait_job(job_a, 5, "rate-limited until T", waits_for_the_rate_limit)
        .await;
    let until = limited_until(&waiting).unwrap_or_else(|| panic!("{waiting:#?}"));
    // In the form of every other "until T": whole seconds, `Z` (review61 L8).
    let reason = waiting.wait_reason.as_deref().unwrap_or_default();
    assert!(
        reason.ends_with('Z') && !reason.contains('.') && !reason.contains("+00:00"),
        "{reason}"
    );
    let after = until - throttled.when;
    // T is the database's time in whole seconds, rounded up: up to a second after the end.
    assert!(
        after >= chrono::Duration::milliseconds(1900)
            && after <= chrono::Duration::milliseconds(3200),
        "rate-limited until {until}, {after} after the 429"
    );

    // The other connector, with the same token, starts on the other worker inside the wait:
    // it waits too, and says so.
    let job_b = ok(
        "trigger",
        env.service
            .trigger(&second.id, Trigger::new(TriggerMode::Full))
            .await,
    )[0]
    .job_id;
    let waiting_b = env
        .wait_job(job_b, 5, "rate-limited until T", waits_for_the_rate_limit)
        .await;
    assert_ne!(
        waiting_b.lease_owner, waiting.lease_owner,
        "the two jobs run on two workers"
    );

    for job in [job_a, job_b] {
        let done = env
            .wait_job(job, 60, "finished", |j| j.status.is_finished())
            .await;
        assert_eq!(done.status, JobStatus::Done, "{done:#?}");
        assert_eq!(done.counters.new, ITEMS as u64, "{done:#?}");
        assert!(done.wait_reason.is_none(), "{done:#?}");
    }
    let deliveries = env.sink.deliveries();
    assert_eq!(deliveries.len(), 2 * ITEMS);
    assert!(deliveries.values().all(|n| *n == 1), "{deliveries:?}");

    // Nothing of that credential arrived in the 2 s after the 429 (10 ms spared for the
    // millisecond rounding of the clocks that time the wait), from either job.
    let hits = api.hits();
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        hits.iter()
            .all(|h| h.auth.as_deref() == Some(bearer.as_str()))
    );
    let quiet_until = throttled.at + Duration::from_secs(RETRY_AFTER) - Duration::from_millis(10);
    let early: Vec<_> = hits
        .iter()
        .filter(|h| h.at > throttled.at && h.at < quiet_until)
        .map(|h| (h.listing.clone(), h.page, h.at - throttled.at))
        .collect();
    assert!(early.is_empty(), "requests inside the wait: {early:?}");
    // Both listings were read after it: the first job's retry and all of the second's.
    for listing in ["first", "second"] {
        assert!(
            hits.iter()
                .any(|h| h.listing == listing && h.status == 200 && h.at >= quiet_until),
            "{listing} was never read after the wait: {hits:#?}"
        );
    }
    assert_eq!(hits.iter().filter(|h| h.status == 429).count(), 1);

    for worker in workers {
        worker.stop().await;
    }
}
