//! Two `connectors worker` processes on one PostgreSQL (the real server the tests start) share
//! the jobs of a few local-folder connectors and a generic REST connector (`rest_api`) reading
//! a slow paged JSON API on loopback. The first worker is killed with SIGKILL in the middle of
//! its jobs (the REST one among them), and the other finishes them from their last
//! acknowledged checkpoints: every document is delivered, the only duplicates are the batch
//! that was in flight, no job is left RUNNING.

#[path = "../../connector-sync/tests/support/postgres.rs"]
mod postgres;
// The loopback REST API of connector-sync's engine tests.
#[path = "../../connector-sync/tests/support/rest.rs"]
#[allow(dead_code)] // This test serves no throttled listing.
mod rest;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_sync::{
    ConnectorStore, DataDirSinks, DataLayout, JobRecord, JobStatus, NewConnector, SyncDb,
    SyncService, Trigger, TriggerMode,
};

const BATCH: usize = 3;

fn ok<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn write_files(dir: &Path, n: usize) {
    ok("mkdir", std::fs::create_dir_all(dir));
    for i in 0..n {
        ok(
            "write",
            std::fs::write(
                dir.join(format!("f{i:05}.md")),
                format!("# {i}\n\nText {i}\n"),
            ),
        );
    }
}

fn start_worker(url: &str, data: &Path, id: &str, jobs: u32, log: &Path) -> Child {
    let log = ok("log file", std::fs::File::create(log));
    ok(
        "start a worker",
        Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args(["worker", "--db", url, "--data"])
            .arg(data)
            .args([
                "--jobs",
                &jobs.to_string(),
                "--lease",
                "2",
                "--heartbeat",
                "0.3",
                "--poll",
                "0.1",
                "--batch-size",
                &BATCH.to_string(),
                "--worker-id",
                id,
            ])
            .env("RUST_LOG", "connector_sync=info,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn(),
    )
}

/// How often each id is in a connector's NDJSON output.
fn delivered(path: &Path) -> HashMap<String, u32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let v: serde_json::Value = ok("an NDJSON line", serde_json::from_str(line));
        if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
            *out.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    out
}

/// Items of the REST listing, and its page size; each page answers after 40 ms, so the job
/// takes a few seconds.
const REST_ITEMS: usize = 600;
const REST_PAGE: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_jobs_are_finished_by_the_other_from_their_checkpoints() {
    let url = postgres::url();
    let tmp = ok("tempdir", tempfile::tempdir());
    let data = tmp.path().join("data");
    let db = ok("connect", SyncDb::connect(url).await);
    let store = ConnectorStore::new(db, Arc::new(connectors::registry()));
    let sinks = DataDirSinks::new(&data, DataLayout::Ndjson);
    let service = SyncService::new(store, Arc::new(sinks.clone()));
    let api = rest::PagedApi::start().await;
    api.serve("articles", REST_ITEMS, REST_PAGE, Duration::from_millis(40))
        .await;

    // The REST connector first (its job is claimed first), then three folders; each file or
    // item makes a document; folder pages of 7, REST pages of 10, batches of 3.
    let mut connectors: Vec<(String, usize)> = Vec::new();
    let rest = ok(
        "create",
        service
            .create(NewConnector::new(
                "articles",
                "rest_api",
                api.config("articles", REST_PAGE, None),
            ))
            .await,
    );
    connectors.push((rest.id.clone(), REST_ITEMS));
    for i in 0..3 {
        let n = 1500;
        let dir = tmp.path().join(format!("src{i}"));
        write_files(&dir, n);
        let c = ok(
            "create",
            service
                .create(NewConnector::new(
                    format!("folder {i}"),
                    "local",
                    serde_json::json!({ "path": dir, "page_size": 7 }),
                ))
                .await,
        );
        connectors.push((c.id, n));
    }
    for (id, _) in &connectors {
        ok(
            "trigger",
            service.trigger(id, Trigger::new(TriggerMode::Full)).await,
        );
    }
    let size_of = |id: &str| {
        connectors
            .iter()
            .find(|(c, _)| c == id)
            .map_or(0, |(_, n)| *n)
    };

    // The doomed worker, two slots, starts alone and takes the REST job and a folder's; then
    // the heir, one slot, joins.
    let mut doomed = start_worker(url, &data, "doomed", 2, &tmp.path().join("doomed.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = ok("jobs", service.jobs_in(JobStatus::Running, 10).await);
        if running.len() == 2 {
            assert!(running.iter().any(|j| j.connector_id == rest.id));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the doomed worker never took its jobs; log:\n{}",
            std::fs::read_to_string(tmp.path().join("doomed.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut heir = start_worker(url, &data, "heir", 1, &tmp.path().join("heir.log"));

    // Wait until each of the doomed worker's jobs, the REST one among them, is in the middle:
    // some documents acknowledged, far from all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victims: Vec<JobRecord> = loop {
        let mine: Vec<JobRecord> = ok("jobs", service.jobs_in(JobStatus::Running, 10).await)
            .into_iter()
            .filter(|j| j.lease_owner.as_deref() == Some("doomed"))
            .collect();
        let mut midway = mine.iter().any(|j| j.connector_id == rest.id);
        for job in &mine {
            let n = size_of(&job.connector_id);
            let acknowledged = ok(
                "documents",
                service.documents(&job.connector_id, None, 2000).await,
            )
            .len();
            midway &= acknowledged >= 30 && acknowledged < n * 2 / 3;
        }
        if midway {
            break mine;
        }
        assert!(
            Instant::now() < deadline,
            "the doomed worker never got into the middle of the REST job; log:\n{}",
            std::fs::read_to_string(tmp.path().join("doomed.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    ok("SIGKILL", doomed.kill());
    ok("reap", doomed.wait());
    let mut acknowledged = HashMap::new();
    for job in &victims {
        let n = ok(
            "documents",
            service.documents(&job.connector_id, None, 2000).await,
        )
        .len();
        acknowledged.insert(job.connector_id.clone(), n);
    }

    // The heir finishes everything, the victims' jobs included.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = ok("jobs", service.jobs(None, 20).await);
        if jobs.len() == connectors.len() && jobs.iter().all(|j| j.status == JobStatus::Done) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all jobs finished: {jobs:#?}\nheir log:\n{}",
            std::fs::read_to_string(tmp.path().join("heir.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok("running", service.jobs_in(JobStatus::Running, 10).await).is_empty());
    for victim in &victims {
        let finished = ok("job", service.job(victim.id).await).unwrap_or_else(|| panic!("gone"));
        assert_eq!(finished.attempt, 2, "taken over once: {finished:#?}");
        assert_eq!(finished.lease_owner, None);
        let runs = ok("runs", service.runs(&victim.connector_id, 10).await);
        assert_eq!(
            runs.last().map(|r| r.mode.as_str()),
            Some("resume"),
            "{runs:#?}"
        );
    }
    // The REST job resumed from the page it had reached, not from the start: the first page
    // was asked once, and no page more than twice (the one in flight at the kill).
    let hits = api.hits();
    let mut asked: HashMap<u64, usize> = HashMap::new();
    for hit in &hits {
        *asked.entry(hit.page).or_default() += 1;
    }
    assert_eq!(asked.get(&1), Some(&1), "{asked:?}");
    assert_eq!(asked.len(), REST_ITEMS.div_ceil(REST_PAGE), "{asked:?}");
    assert!(asked.values().all(|n| *n <= 2), "{asked:?}");

    for (id, n) in &connectors {
        let seen = delivered(&sinks.ndjson_path(id));
        assert_eq!(seen.len(), *n, "every document of {id} delivered");
        let duplicates: u32 = seen.values().map(|c| c - 1).sum();
        if let Some(at_kill) = acknowledged.get(id) {
            // Only the batch in flight when the worker died is delivered twice.
            assert!(
                duplicates as usize <= BATCH,
                "{id}: {duplicates} duplicates (batch {BATCH}, {at_kill} acknowledged at the kill)"
            );
        } else {
            assert_eq!(duplicates, 0, "connector {id} was not interrupted");
        }
    }

    // A clean stop: SIGTERM, exit 0, unregistered; the dead worker stays with its last
    // heartbeat.
    ok(
        "SIGTERM",
        Command::new("kill")
            .args(["-TERM", &heir.id().to_string()])
            .status(),
    );
    let status = ok("wait", heir.wait());
    assert!(status.success(), "{status}");
    let workers: Vec<String> = ok("workers", service.workers().await)
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(workers, vec!["doomed".to_owned()]);
}
