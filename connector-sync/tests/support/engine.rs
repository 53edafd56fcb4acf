//! An engine over a database of its own (a SQLite file, or a fresh database on the test
//! PostgreSQL server), local-folder connectors, and sinks that record, slow down or fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::sink::Sink;
use connector_core::{Cancellation, Document, Error, ErrorKind, Registry, Result};
use connector_sync::{
    ConnectorStore, JobRecord, NewConnector, Sealer, SharedSink, SinkFactory, SyncDb, SyncService,
    WorkerOptions,
};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A URL of a database no other test uses.
pub(crate) async fn fresh_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite:{}", dir.join("sync.db").display()),
        Backend::Postgres => {
            let admin = super::postgres::url();
            let name = super::unique_id("t").replace('-', "_");
            let mut conn = match <sqlx::PgConnection as sqlx::Connection>::connect(admin).await {
                Ok(c) => c,
                Err(e) => panic!("connect to the test PostgreSQL: {e}"),
            };
            if let Err(e) = sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
            )
            .await
            {
                panic!("create database {name}: {e}");
            }
            admin.rsplit_once('/').map_or_else(
                || panic!("a database URL: {admin}"),
                |(base, _)| format!("{base}/{name}"),
            )
        }
    }
}

/// The local folder and the generic REST API (against [`super::rest::PagedApi`]).
pub(crate) fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    connector_generic_rest::register(&mut registry);
    Arc::new(registry)
}

/// The key the tests' connector records are sealed with (a REST token is a credential).
pub(crate) fn sealer() -> Sealer {
    Sealer::from_key([7; 32], "the tests' key")
}

/// Writes `n` small text files `doc-000.md`… under `dir`.
pub(crate) fn write_files(dir: &Path, n: usize) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        panic!("create {}: {e}", dir.display());
    }
    for i in 0..n {
        let path = dir.join(format!("doc-{i:03}.md"));
        if let Err(e) = std::fs::write(&path, format!("# Document {i}\n\nBody of {i}.\n")) {
            panic!("write {}: {e}", path.display());
        }
    }
}

/// A local-folder connector over `dir` with pages of `page_size` files.
pub(crate) fn local(name: &str, dir: &Path, page_size: u32) -> NewConnector {
    NewConnector::new(
        name,
        "local",
        serde_json::json!({ "path": dir, "page_size": page_size }),
    )
}

/// A sink that records every delivery, and can be slowed down or made to fail.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    inner: Arc<Mutex<RecorderState>>,
}

#[derive(Debug, Default)]
struct RecorderState {
    deliveries: HashMap<String, u32>,
    deleted: Vec<String>,
    writes: u64,
    delay: Duration,
    fail: Option<String>,
    /// Writes that go through before the hanging ones start ([`Recorder::hang_after`]).
    pass: u64,
    /// Writes left that never return.
    hangs: u32,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// After `pass` more writes go through, the next `hangs` writes never return (a sink
    /// stuck on a dead mount), until their attempt is stopped.
    pub(crate) fn hang_after(&self, pass: u64, hangs: u32) {
        let mut s = self.lock();
        s.pass = pass;
        s.hangs = hangs;
    }

    /// Hanging writes not met yet.
    pub(crate) fn hangs_left(&self) -> u32 {
        self.lock().hangs
    }

    pub(crate) fn set_fail(&self, message: Option<&str>) {
        self.lock().fail = message.map(str::to_owned);
    }

    /// How often each id was delivered.
    pub(crate) fn deliveries(&self) -> HashMap<String, u32> {
        self.lock().deliveries.clone()
    }

    pub(crate) fn deleted(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }

    pub(crate) fn writes(&self) -> u64 {
        self.lock().writes
    }

    pub(crate) fn factory(&self) -> Arc<dyn SinkFactory> {
        Arc::new(SharedSink(Arc::new(self.clone())))
    }
}

#[async_trait]
impl Sink for Recorder {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let (delay, fail, hang) = {
            let mut s = self.lock();
            let hang = if s.pass > 0 {
                s.pass -= 1;
                false
            } else if s.hangs > 0 {
                s.hangs -= 1;
                true
            } else {
                false
            };
            (s.delay, s.fail.clone(), hang)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(message) = fail {
            return Err(Error::new(ErrorKind::Sink, message));
        }
        let mut s = self.lock();
        s.writes += 1;
        for d in documents {
            *s.deliveries.entry(d.id.clone()).or_default() += 1;
        }
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        self.lock().deleted.extend(ids.iter().cloned());
        Ok(())
    }
}

/// A service over a fresh database, its folder kept alive with it.
pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    pub(crate) service: SyncService,
    pub(crate) sink: Recorder,
}

impl Env {
    pub(crate) async fn new(backend: Backend) -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("a temporary folder: {e}"),
        };
        let url = fresh_url(backend, dir.path()).await;
        let db = ok("connect", SyncDb::connect(&url).await);
        let sink = Recorder::default();
        let store = ConnectorStore::new(db, registry()).with_sealer(sealer());
        let service = SyncService::new(store, sink.factory()).worker_ttl(Duration::from_secs(5));
        Self {
            dir,
            url,
            service,
            sink,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a worker in the background; it stops when the returned handle's token fires.
    pub(crate) fn worker(&self, options: WorkerOptions) -> Worker {
        let stop = Cancellation::new();
        let service = self.service.clone();
        let token = stop.clone();
        let task = tokio::spawn(async move { service.run_workers(options, token).await });
        Worker { stop, task }
    }

    /// Waits (up to `secs`) until job `id` satisfies `f`, returning it.
    pub(crate) async fn wait_job(
        &self,
        id: i64,
        secs: u64,
        what: &str,
        f: impl Fn(&JobRecord) -> bool,
    ) -> JobRecord {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let job = ok("job", self.service.job(id).await);
            if let Some(job) = job {
                if f(&job) {
                    return job;
                }
                if tokio::time::Instant::now() > deadline {
                    panic!("job {id} never got to: {what}; it is {job:#?}");
                }
            } else if tokio::time::Instant::now() > deadline {
                panic!("job {id} is gone");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub(crate) struct Worker {
    pub(crate) stop: Cancellation,
    pub(crate) task: tokio::task::JoinHandle<Result<()>>,
}

impl Worker {
    /// Stops it cleanly and waits for it.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the worker failed: {e}"),
            Err(e) => panic!("the worker panicked: {e}"),
        }
    }

    /// Kills it: its task is aborted where it is, as if the process died.
    pub(crate) async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Fast options for tests.
pub(crate) fn fast_worker(id: &str) -> WorkerOptions {
    let mut o = WorkerOptions::default();
    o.id = Some(id.to_owned());
    o.lease = Duration::from_millis(1500);
    o.heartbeat = Duration::from_millis(200);
    o.poll = Duration::from_millis(50);
    o.backoff = Duration::from_millis(100);
    o.max_backoff = Duration::from_secs(1);
    o.sync = connector_core::sync::SyncOptions::default().batch_docs(2);
    o
}

pub(crate) fn ok<T>(what: &str, r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}
