//! `connectors worker --webhook URL`: each connector's documents POSTed to a receiver (a
//! wiremock server on loopback) in envelopes naming the connector, with the bearer token read
//! from an environment variable; a 503 is retried and only a 2xx acknowledges a batch.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_sync::{
    ConnectorStore, JobStatus, NewConnector, SharedSink, SyncDb, SyncService, Trigger, TriggerMode,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "hook-token-9d2e";

fn ok<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn write_files(dir: &Path, prefix: &str, n: usize) {
    ok("mkdir", std::fs::create_dir_all(dir));
    for i in 0..n {
        ok(
            "write",
            std::fs::write(
                dir.join(format!("{prefix}-{i:02}.md")),
                format!("# {prefix} {i}\n\nText {i}\n"),
            ),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_go_to_the_webhook_with_their_connector_id() {
    let tmp = ok("tempdir", tempfile::tempdir());
    let url = format!("sqlite:{}", tmp.path().join("sync.db").display());
    let db = ok("connect", SyncDb::connect(&url).await);
    // The test only stores connectors and reads jobs: its own sinks are never used.
    let service = SyncService::new(
        ConnectorStore::new(db, Arc::new(connectors::registry())),
        Arc::new(SharedSink(Arc::new(connector_core::sink::DiscardSink))),
    );
    let receiver = MockServer::start().await;
    // The first POST fails with a 503 (retried, not acknowledged); every other one is taken.
    Mock::given(method("POST"))
        .and(path("/ingest"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/ingest"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;

    let mut expected: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut jobs = Vec::new();
    for (prefix, n) in [("alpha", 5usize), ("beta", 7)] {
        let dir = tmp.path().join(prefix);
        write_files(&dir, prefix, n);
        let c = ok(
            "create",
            service
                .create(NewConnector::new(
                    prefix,
                    "local",
                    serde_json::json!({ "path": dir }),
                ))
                .await,
        );
        jobs.push(
            ok(
                "trigger",
                service
                    .trigger(&c.id, Trigger::new(TriggerMode::Full))
                    .await,
            )[0]
            .job_id,
        );
        let files = (0..n).map(|i| format!("{prefix}-{i:02}.md")).collect();
        expected.insert(c.id, files);
    }

    let log = tmp.path().join("worker.log");
    let mut worker = ok(
        "start the worker",
        Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args(["worker", "--db", &url, "--webhook"])
            .arg(format!("{}/ingest", receiver.uri()))
            .args(["--webhook-token-env", "HOOK_TOKEN"])
            .args(["--poll", "0.1", "--heartbeat", "0.3", "--batch-size", "3"])
            .env("HOOK_TOKEN", TOKEN)
            .env("RUST_LOG", "connector_sync=debug,connector_core=debug,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(ok("log", std::fs::File::create(&log)))
            .spawn(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = ok("jobs", service.jobs(None, 10).await);
        if listed.iter().all(|j| j.status.is_finished()) {
            for j in &listed {
                assert_eq!(j.status, JobStatus::Done, "{j:#?}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs did not finish: {listed:#?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ok(
        "SIGTERM",
        Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status(),
    );
    let status = ok("wait", worker.wait());
    assert!(status.success(), "{status}");

    // What the receiver got: envelopes naming their connector, with its documents.
    let requests = receiver.received_requests().await.unwrap_or_default();
    let mut got: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut taken = 0;
    for (i, request) in requests.iter().enumerate() {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {TOKEN}").as_str()));
        if i == 0 {
            continue; // the 503
        }
        taken += 1;
        let envelope: serde_json::Value = ok("an envelope", request.body_json());
        assert_eq!(envelope["op"], "upsert", "{envelope}");
        let connector = envelope["connector_id"].as_str().unwrap_or_default();
        let docs = envelope["documents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!docs.is_empty() && docs.len() <= 3, "{envelope}");
        let entry = got.entry(connector.to_owned()).or_default();
        for d in docs {
            entry.insert(d["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    // The 503'd batch came again: every document of each connector, under its id.
    assert_eq!(got, expected);
    assert_eq!(taken, 2 + 3, "batches of 3: 2 for 5 documents, 3 for 7");
    // Acknowledged batches are in the state: every document is listed.
    for (id, files) in &expected {
        let listed = ok("documents", service.documents(id, None, 100).await);
        assert_eq!(listed.len(), files.len());
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains(TOKEN), "the token is in the worker's log");
}

fn worker_fails(args: &[&str], envs: &[(&str, &str)]) -> String {
    let tmp = ok("tempdir", tempfile::tempdir());
    let url = format!("sqlite:{}", tmp.path().join("sync.db").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors"));
    command
        .args(["worker", "--db", &url])
        .args(args)
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = ok("run", command.output());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        !tmp.path().join("sync.db").exists(),
        "the database was touched before the arguments were checked"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_webhook_token_is_an_error_naming_where_it_was_looked_for() {
    let hook = "http://127.0.0.1:9/ingest";
    let err = worker_fails(
        &[
            "--webhook",
            hook,
            "--webhook-token-env",
            "NO_SUCH_TOKEN_VAR",
        ],
        &[],
    );
    assert!(
        err.contains("--webhook-token-env") && err.contains("NO_SUCH_TOKEN_VAR"),
        "{err}"
    );
    let err = worker_fails(
        &[
            "--webhook",
            hook,
            "--webhook-token-file",
            "/nonexistent/token",
        ],
        &[],
    );
    assert!(
        err.contains("--webhook-token-file") && err.contains("/nonexistent/token"),
        "{err}"
    );
    let err = worker_fails(
        &["--webhook", hook, "--webhook-token-env", "EMPTY_TOKEN"],
        &[("EMPTY_TOKEN", " \n")],
    );
    assert!(err.contains("empty"), "{err}");
    let err = worker_fails(&["--webhook", "not a url"], &[]);
    assert!(err.contains("--webhook"), "{err}");
    // A webhook replaces the data folder; both at once is a usage error.
    let err = worker_fails(&["--webhook", hook, "--data", "d"], &[]);
    assert!(err.contains("--data"), "{err}");
}
