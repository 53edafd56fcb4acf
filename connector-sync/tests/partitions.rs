//! A connector that lists partitions runs one job per partition, each with its own checkpoint
//! in the database, on SQLite and on PostgreSQL.

mod support;

use std::fmt;
use std::sync::Arc;

use connector_core::reexports::{schemars, serde};
use connector_core::testkit::{MemoryConnector, MemoryItem};
use connector_core::{Connector, ConnectorConfig, DynConnector, Registry, Result, Roles};
use connector_sync::{
    ConnectorStore, JobStatus, NewConnector, SyncDb, SyncService, Trigger, TriggerMode,
};
use support::engine::{Backend, Recorder, fast_worker, fresh_url, ok};

/// The config of the test source `parts`: its partitions and the items in each.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(crate = "connector_core::reexports::serde", deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
struct PartsConfig {
    parts: Vec<String>,
    per_part: usize,
}

impl ConnectorConfig for PartsConfig {}

/// Splits into `parts`, each a memory source of its own with ids `{part}-{n}`.
#[derive(Debug)]
struct Parts {
    parts: Vec<(String, Arc<MemoryConnector>)>,
}

impl fmt::Display for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parts:{}", self.parts.len())
    }
}

#[async_trait::async_trait]
impl Connector for Parts {
    fn source(&self) -> &'static str {
        "parts"
    }

    fn roles(&self) -> Roles<'_> {
        Roles::none()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    // Listed by discovery alone (`partitions()` keeps its empty default), as a source whose
    // partitions only the service knows: the scheduler must ask this.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(self.parts.iter().map(|(k, _)| k.clone()).collect())
    }

    fn partition(&self, partition: &str) -> Option<DynConnector> {
        self.parts
            .iter()
            .find(|(k, _)| k == partition)
            .map(|(_, c)| c.clone() as DynConnector)
    }
}

fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    registry.register::<PartsConfig, _>("parts", "partitioned test source", |cfg| {
        let start = chrono::DateTime::UNIX_EPOCH;
        let parts = cfg
            .parts
            .iter()
            .map(|k| {
                let items = (0..cfg.per_part)
                    .map(|i| MemoryItem::new(format!("{k}-{i:03}"), format!("{k} {i}"), start))
                    .collect();
                (k.clone(), Arc::new(MemoryConnector::new(items, 3)))
            })
            .collect();
        Ok(Box::new(Parts { parts }))
    });
    Arc::new(registry)
}

async fn one_job_per_partition(backend: Backend) {
    let dir = ok(
        "tempdir",
        tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string())),
    );
    let url = fresh_url(backend, dir.path()).await;
    let db = ok("connect", SyncDb::connect(&url).await);
    let sink = Recorder::default();
    let service = SyncService::new(ConnectorStore::new(db, registry()), sink.factory());
    let c = ok(
        "create",
        service
            .create(NewConnector::new(
                "split",
                "parts",
                serde_json::json!({ "parts": ["east", "north", "west"], "per_part": 7 }),
            ))
            .await,
    );
    let jobs = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    assert_eq!(jobs.len(), 3, "one job per partition");
    let listed = ok("jobs", service.jobs(Some(&c.id), 10).await);
    let mut partitions: Vec<String> = listed.iter().map(|j| j.partition.clone()).collect();
    partitions.sort();
    assert_eq!(partitions, ["east", "north", "west"]);

    let stop = connector_core::Cancellation::new();
    let worker = {
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move { service.run_workers(fast_worker("w"), stop).await })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listed = ok("jobs", service.jobs(Some(&c.id), 10).await);
        if listed.iter().all(|j| j.status == JobStatus::Done) {
            for j in &listed {
                assert_eq!(j.counters.new, 7, "{j:#?}");
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    stop.cancel();
    ok(
        "worker",
        worker
            .await
            .map_err(|e| connector_core::Error::internal(e.to_string()))
            .and_then(|r| r),
    );
    assert_eq!(sink.deliveries().len(), 21);
    assert!(sink.deliveries().values().all(|n| *n == 1));
    assert_eq!(
        ok("documents", service.documents(&c.id, None, 100).await).len(),
        21
    );

    // A second trigger queues one job per partition again.
    let again = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Auto))
            .await,
    );
    assert_eq!(again.len(), 3);
    let rebuild = ok("rebuild", service.rebuild(&c.id).await);
    assert_eq!(rebuild.len(), 3, "a rebuild runs every partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_job_per_partition() {
    one_job_per_partition(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_job_per_partition() {
    one_job_per_partition(Backend::Postgres).await;
}
