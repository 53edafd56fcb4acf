//! Two `connectors serve` processes on one PostgreSQL (the real server the tests start): the
//! API key made by `connectors api-key create` works on both, connectors created through one
//! are synced when triggered through the other, and both processes' workers take jobs (their
//! own `/metrics` say so); every document reaches the data folder. Then SIGTERM stops both.

#[path = "../../connector-sync/tests/support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn ok<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn free_port() -> u16 {
    let listener = ok("bind", std::net::TcpListener::bind("127.0.0.1:0"));
    ok("address", listener.local_addr()).port()
}

const KEY: &str = "bG9vcGJhY2stdGVzdC1rZXktMzItYnl0ZXMtbG9uZyE=";

fn serve(url: &str, data: &Path, port: u16, id: &str, log: &Path) -> Child {
    let log = ok("log file", std::fs::File::create(log));
    ok(
        "start serve",
        Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args([
                "serve",
                "--db",
                url,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--data")
            .arg(data)
            .args([
                "--jobs",
                "1",
                "--poll",
                "0.05",
                "--heartbeat",
                "0.3",
                "--lease",
                "3",
                "--batch-size",
                "5",
                "--worker-id",
                id,
            ])
            .env("CONNECTORS_SECRET_KEY", KEY)
            .env("RUST_LOG", "connector_sync=info,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn(),
    )
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = ok("request", req.send().await);
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn text(&self, path: &str) -> String {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await;
        ok("request", r).text().await.unwrap_or_default()
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "{} never answered", self.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The value of a counter line `name{labels} N` in Prometheus text, 0 when absent.
fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

#[tokio::test]
async fn two_serve_processes_on_one_postgres_share_the_work() {
    let url = postgres::url();
    let tmp = ok("tempdir", tempfile::tempdir());
    let data = tmp.path().join("data");
    let created = ok(
        "api-key create",
        Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args(["api-key", "create", "--db", url, "--name", "tests"])
            .output(),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(token.starts_with("cks_"), "{token}");

    let (pa, pb) = (free_port(), free_port());
    let mut a = serve(url, &data, pa, "serve-a", &tmp.path().join("a.log"));
    let mut b = serve(url, &data, pb, "serve-b", &tmp.path().join("b.log"));
    let client = ok("client", reqwest::Client::builder().no_proxy().build());
    let api_a = Api {
        client: client.clone(),
        base: format!("http://127.0.0.1:{pa}"),
        token: token.clone(),
    };
    let api_b = Api {
        client,
        base: format!("http://127.0.0.1:{pb}"),
        token,
    };
    api_a.wait_healthy().await;
    api_b.wait_healthy().await;

    // Connectors created through A, syncs triggered through B.
    const CONNECTORS: usize = 6;
    const FILES: usize = 120;
    let mut jobs = Vec::new();
    for i in 0..CONNECTORS {
        let dir = tmp.path().join(format!("docs{i}"));
        ok("mkdir", std::fs::create_dir_all(&dir));
        for f in 0..FILES {
            ok(
                "write",
                std::fs::write(dir.join(format!("f{f:04}.md")), format!("# {i}/{f}\n")),
            );
        }
        let (status, body) = api_a
            .call(
                reqwest::Method::POST,
                "/api/v1/connectors",
                Some(json!({"name": format!("docs {i}"), "source": "local", "config": {"path": dir, "page_size": 10}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["data"]["id"].as_str().unwrap_or_default().to_owned();
        let (status, body) = api_b
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/connectors/{id}/sync"),
                None,
            )
            .await;
        assert_eq!(status, 202, "{body}");
        jobs.push((id, body["data"]["jobId"].as_i64().unwrap_or_default()));
    }

    // Every job finishes, as either process sees it.
    let deadline = Instant::now() + Duration::from_secs(120);
    for (i, (id, job)) in jobs.iter().enumerate() {
        let api = if i % 2 == 0 { &api_a } else { &api_b };
        loop {
            let (status, body) = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/connectors/{id}/sync/{job}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            match body["data"]["status"].as_str() {
                Some("done") => {
                    assert_eq!(body["data"]["progress"]["indexed"], FILES as u64);
                    break;
                }
                Some("failed" | "cancelled") => panic!("job {job}: {body}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "job {job} did not finish: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lines =
            std::fs::read_to_string(data.join(id).join("documents.ndjson")).unwrap_or_default();
        assert_eq!(lines.lines().count(), FILES, "connector {id}");
    }

    // Both processes' workers ran jobs, and together exactly one attempt per job finished.
    let (ma, mb) = (api_a.text("/metrics").await, api_b.text("/metrics").await);
    let finished = "connectors_job_events_total{event=\"finished\",kind=\"sync\"}";
    let (fa, fb) = (counter(&ma, finished), counter(&mb, finished));
    assert_eq!(fa + fb, CONNECTORS as u64, "A:\n{ma}\nB:\n{mb}");
    assert!(
        fa > 0 && fb > 0,
        "one process did all the work: A {fa}, B {fb}"
    );
    // The job gauge is read from the shared database: both see all of them done.
    for m in [&ma, &mb] {
        assert!(
            m.contains(&format!("connectors_jobs{{status=\"done\"}} {CONNECTORS}")),
            "{m}"
        );
    }

    // SIGTERM stops both cleanly.
    for child in [&mut a, &mut b] {
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(ok("kill", killed).success());
    }
    for child in [&mut a, &mut b] {
        let status = ok("wait", child.wait());
        assert!(status.success(), "serve exited with {status}");
    }
}
