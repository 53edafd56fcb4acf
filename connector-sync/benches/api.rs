//! The management API under load, on SQLite over loopback (issue 19).
//!
//! `cargo bench -p connector-sync --features api --bench api` (`CONNECTORS=N`, `CLIENTS=N`,
//! `REQUESTS=N` per client and operation). Part 1: 10,000 connectors stored, 100 concurrent
//! reqwest clients each sending `REQUESTS` of `GET /api/v1/connectors?page_size=100` (list),
//! `GET /api/v1/connectors/{id}` (get) and `POST /api/v1/connectors/{id}/sync` (trigger; no
//! workers, so later triggers find the pending job), one operation at a time; p50/p99 per
//! operation. Part 2: an idle worker (poll 100 ms) and `POST …/sync` on a 1-file local
//! connector; the time until the sink's first write, median of 20.
//!
//! Measured here (debug build via `cargo test --bench api`, 2 cores shared with other builds,
//! one run; SQLite's one connection serialises every query):
//!
//! | operation (100 clients, 10,000 connectors) | p50 | p99 | req/s |
//! | --- | --- | --- | --- |
//! | list (page of 100) | 512 ms | 736 ms | 182 |
//! | get | 41 ms | 80 ms | 2,252 |
//! | trigger | 185 ms | 262 ms | 522 |
//!
//! Before the `connector (name, id)` index and the trigger's plain job read (it computed every
//! queued job's wait reason): list p50 1,191 ms (2.3x), trigger p50 1,091 ms (5.9x); get the
//! same. `POST /sync` to the first document on an idle worker polling every 100 ms: median
//! 15.5 ms (min 11.6, max 303 ms when the trigger just missed a poll).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_core::sink::Sink;
use connector_core::{Cancellation, Document, Registry, Result};
use connector_sync::api::{Api, ApiKeys};
use connector_sync::{
    ConnectorRecord, ConnectorStore, NewConnector, SinkFactory, SyncDb, SyncService, WorkerOptions,
};
use tokio::sync::Notify;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Tells when a batch was written.
#[derive(Debug, Default)]
struct FirstWrite(Notify);

#[async_trait]
impl Sink for FirstWrite {
    async fn write(&self, _documents: &[Document]) -> Result<()> {
        self.0.notify_one();
        Ok(())
    }

    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct Sinks(Arc<FirstWrite>);

#[async_trait]
impl SinkFactory for Sinks {
    async fn sink(&self, _connector: &ConnectorRecord) -> Result<Arc<dyn Sink>> {
        Ok(self.0.clone())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn start(service: SyncService, keys: ApiKeys) -> (String, Cancellation) {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let base = match listener.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => panic!("address: {e}"),
    };
    let stop = Cancellation::new();
    let api = Api::new(service).keys(keys);
    let token = stop.clone();
    tokio::spawn(async move { api.serve(listener, token).await });
    (base, stop)
}

#[tokio::main]
async fn main() -> Result<()> {
    let connectors = env("CONNECTORS", 10_000);
    let clients = env("CLIENTS", 100);
    let requests = env("REQUESTS", 20);
    let tmp = tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string()))?;
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).map_err(|e| connector_core::Error::internal(e.to_string()))?;
    std::fs::write(docs.join("a.md"), "# A\n")
        .map_err(|e| connector_core::Error::internal(e.to_string()))?;
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let registry = Arc::new(registry);

    // Part 1: latency under 100 concurrent clients.
    let db = SyncDb::connect(&format!("sqlite:{}", tmp.path().join("api.db").display())).await?;
    let store = ConnectorStore::new(db.clone(), registry.clone());
    let sink = Arc::new(FirstWrite::default());
    let service = SyncService::new(store.clone(), Arc::new(Sinks(sink.clone())));
    let filled = Instant::now();
    let mut ids = Vec::with_capacity(connectors);
    for i in 0..connectors {
        let c = store
            .create(NewConnector::new(
                format!("c{i:05}"),
                "local",
                serde_json::json!({ "path": docs }),
            ))
            .await?;
        ids.push(c.id);
    }
    eprintln!("stored {connectors} connectors in {:?}", filled.elapsed());
    let keys = ApiKeys::new(db.clone());
    let token = keys.create("bench").await?.token;
    let (base, stop) = start(service.clone(), keys).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(clients)
        .build()
        .map_err(|e| connector_core::Error::internal(e.to_string()))?;
    let ids = Arc::new(ids);
    for op in ["list", "get", "trigger"] {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(clients);
        for c in 0..clients {
            let client = client.clone();
            let base = base.clone();
            let token = token.clone();
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::with_capacity(requests);
                for r in 0..requests {
                    let id = &ids[(c * 7919 + r * 104_729) % ids.len()];
                    let req = match op {
                        "list" => client.get(format!(
                            "{base}/api/v1/connectors?page_size=100&page={}",
                            r % 100 + 1
                        )),
                        "get" => client.get(format!("{base}/api/v1/connectors/{id}")),
                        _ => client.post(format!("{base}/api/v1/connectors/{id}/sync")),
                    };
                    let t = Instant::now();
                    let ok = req
                        .bearer_auth(&token)
                        .send()
                        .await
                        .map(|r| r.status().is_success());
                    times.push(t.elapsed());
                    if !matches!(ok, Ok(true)) {
                        eprintln!("{op} failed: {ok:?}");
                    }
                }
                times
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        let wall = started.elapsed();
        all.sort();
        println!(
            "{op:>8}: {} requests, {clients} clients: p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s",
            all.len(),
            percentile(&all, 0.50).as_secs_f64() * 1000.0,
            percentile(&all, 0.99).as_secs_f64() * 1000.0,
            all.len() as f64 / wall.as_secs_f64()
        );
    }
    stop.cancel();

    // Part 2: POST /sync to the first document on an idle worker.
    let db2 = SyncDb::connect(&format!("sqlite:{}", tmp.path().join("idle.db").display())).await?;
    let store2 = ConnectorStore::new(db2.clone(), registry);
    let service2 = SyncService::new(store2.clone(), Arc::new(Sinks(sink.clone())));
    let keys2 = ApiKeys::new(db2);
    let token2 = keys2.create("bench").await?.token;
    let (base2, stop2) = start(service2.clone(), keys2).await;
    let mut options = WorkerOptions::default();
    options.poll = Duration::from_millis(100);
    let worker_stop = Cancellation::new();
    let w = service2.clone();
    let ws = worker_stop.clone();
    let worker = tokio::spawn(async move { w.run_workers(options, ws).await });
    let c = store2
        .create(NewConnector::new(
            "one",
            "local",
            serde_json::json!({ "path": docs }),
        ))
        .await?;
    // Let the worker go idle first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut firsts = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = client
            .post(format!("{base2}/api/v1/connectors/{}/sync", c.id))
            .bearer_auth(&token2)
            .header("content-type", "application/json")
            .body(r#"{"sync_mode": "full"}"#)
            .send()
            .await;
        if !r.is_ok_and(|r| r.status().is_success()) {
            eprintln!("trigger failed");
        }
        tokio::time::timeout(Duration::from_secs(10), sink.0.notified())
            .await
            .map_err(|_| connector_core::Error::internal("no document within 10 s"))?;
        firsts.push(t.elapsed());
        // Wait for the job to end before the next trigger.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    firsts.sort();
    println!(
        "POST /sync -> first document on an idle worker (poll 100 ms): median {:.1} ms, min {:.1} ms, max {:.1} ms",
        percentile(&firsts, 0.5).as_secs_f64() * 1000.0,
        firsts.first().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        firsts.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    worker_stop.cancel();
    let _ = worker.await;
    stop2.cancel();
    Ok(())
}
