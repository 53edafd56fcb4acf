//! Two `connectors worker` processes on one PostgreSQL (the real server the tests start) share
//! the jobs of a few local-folder connectors; one is killed with SIGKILL in the middle of a job,
//! and the other finishes that job from its last acknowledged checkpoint: every document is
//! delivered, the only duplicates are the batch that was in flight, no job is left RUNNING.

#[path = "../../connector-sync/tests/support/postgres.rs"]
mod postgres;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

fn start_worker(url: &str, data: &Path, id: &str, log: &Path) -> Child {
    let log = ok("log file", std::fs::File::create(log));
    ok(
        "start a worker",
        Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args(["worker", "--db", url, "--data"])
            .arg(data)
            .args([
                "--jobs",
                "1",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_job_is_finished_by_the_other_from_its_checkpoint() {
    let url = postgres::url();
    let tmp = ok("tempdir", tempfile::tempdir());
    let data = tmp.path().join("data");
    let db = ok("connect", SyncDb::connect(url).await);
    let store = ConnectorStore::new(db, Arc::new(connectors::registry()));
    let sinks = DataDirSinks::new(&data, DataLayout::Ndjson);
    let service = SyncService::new(store, Arc::new(sinks.clone()));

    // Three connectors; each file makes a document, pages of 7, batches of 3.
    let sizes = [1500usize, 1500, 1500];
    let mut connectors: Vec<(String, PathBuf, usize)> = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let dir = tmp.path().join(format!("src{i}"));
        write_files(&dir, *n);
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
        ok(
            "trigger",
            service
                .trigger(&c.id, Trigger::new(TriggerMode::Full))
                .await,
        );
        connectors.push((c.id, dir, *n));
    }

    let mut doomed = start_worker(url, &data, "doomed", &tmp.path().join("doomed.log"));
    let mut heir = start_worker(url, &data, "heir", &tmp.path().join("heir.log"));

    // Wait until the doomed worker is in the middle of a job: running, some documents
    // acknowledged, far from all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim: JobRecord = loop {
        let running = ok("jobs", service.jobs_in(JobStatus::Running, 10).await);
        let mine = running
            .into_iter()
            .find(|j| j.lease_owner.as_deref() == Some("doomed"));
        if let Some(job) = mine {
            let docs = ok(
                "documents",
                service.documents(&job.connector_id, None, 2000).await,
            );
            if docs.len() >= 30 && docs.len() < 1000 {
                break job;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the doomed worker never got into the middle of a job; log:\n{}",
            std::fs::read_to_string(tmp.path().join("doomed.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    ok("SIGKILL", doomed.kill());
    ok("reap", doomed.wait());
    let acknowledged = ok(
        "documents",
        service.documents(&victim.connector_id, None, 2000).await,
    )
    .len();

    // The heir finishes everything, the victim's job included.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = ok("jobs", service.jobs(None, 20).await);
        if jobs.len() == sizes.len() && jobs.iter().all(|j| j.status == JobStatus::Done) {
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
    let finished = ok("job", service.job(victim.id).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(finished.attempt, 2, "taken over once: {finished:#?}");
    let runs = ok("runs", service.runs(&victim.connector_id, 10).await);
    assert_eq!(
        runs.last().map(|r| r.mode.as_str()),
        Some("resume"),
        "{runs:#?}"
    );

    for (id, _dir, n) in &connectors {
        let seen = delivered(&sinks.ndjson_path(id));
        assert_eq!(seen.len(), *n, "every document of {id} delivered");
        let duplicates: u32 = seen.values().map(|c| c - 1).sum();
        if *id == victim.connector_id {
            // Only the batch in flight when the worker died is delivered twice.
            assert!(
                duplicates as usize <= BATCH,
                "{duplicates} duplicates (batch {BATCH}, {acknowledged} acknowledged at the kill)"
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
