//! What discovery learned about each partition reaches the jobs it queued in this process
//! (`Connector::partition_with`), and a job claimed by another process, or built under
//! another config, still runs from its key alone (`Connector::partition`).

mod support;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_core::reexports::{schemars, serde};
use connector_core::testkit::{MemoryConnector, MemoryItem};
use connector_core::{
    Cancellation, Connector, ConnectorConfig, DynConnector, PartitionContext, PartitionSpec,
    Registry, Result, Roles,
};
use connector_sync::{
    ConnectorStore, ConnectorUpdate, JobStatus, NewConnector, SyncDb, SyncService, Trigger,
    TriggerMode,
};
use support::engine::{Backend, Recorder, fast_worker, fresh_url, ok};

/// The config of the test source `handed`: its partitions and the items in each.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(crate = "connector_core::reexports::serde", deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
struct HandedConfig {
    parts: Vec<String>,
    per_part: usize,
}

impl ConnectorConfig for HandedConfig {}

/// What the source was asked, across every connector the registry built.
#[derive(Debug, Default)]
struct Counts {
    /// Discoveries (each lists every partition once).
    listings: AtomicUsize,
    /// Partitions built with discovery's listing.
    handed: AtomicUsize,
    /// Partitions built from their key alone (which would list again).
    key_only: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize, usize) {
        (
            self.listings.load(Ordering::SeqCst),
            self.handed.load(Ordering::SeqCst),
            self.key_only.load(Ordering::SeqCst),
        )
    }
}

/// Splits into `parts`, each a memory source with ids `{part}-{n}`; discovery hands every
/// partition the one listing it made.
#[derive(Debug)]
struct Handed {
    parts: Vec<(String, Arc<MemoryConnector>)>,
    counts: Arc<Counts>,
}

impl fmt::Display for Handed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handed:{}", self.parts.len())
    }
}

impl Handed {
    fn part(&self, key: &str) -> Option<DynConnector> {
        self.parts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| c.clone() as DynConnector)
    }
}

#[async_trait::async_trait]
impl Connector for Handed {
    fn source(&self) -> &'static str {
        "handed"
    }

    fn roles(&self) -> Roles<'_> {
        Roles::none()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(PartitionSpec::keys(self.discover_partition_specs().await?))
    }

    async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
        self.counts.listings.fetch_add(1, Ordering::SeqCst);
        let listing: Arc<Vec<String>> =
            Arc::new(self.parts.iter().map(|(k, _)| k.clone()).collect());
        Ok(listing
            .iter()
            .map(|k| {
                PartitionSpec::new(k.clone())
                    .with_context(PartitionContext::from_arc(Arc::clone(&listing)))
            })
            .collect())
    }

    fn partition(&self, partition: &str) -> Option<DynConnector> {
        self.counts.key_only.fetch_add(1, Ordering::SeqCst);
        self.part(partition)
    }

    fn partition_with(&self, partition: &str, context: &PartitionContext) -> Option<DynConnector> {
        match context.get::<Vec<String>>() {
            Some(listing) if listing.iter().any(|k| k == partition) => {
                self.counts.handed.fetch_add(1, Ordering::SeqCst);
                self.part(partition)
            }
            _ => self.partition(partition),
        }
    }
}

fn registry(counts: &Arc<Counts>) -> Arc<Registry> {
    let mut registry = Registry::new();
    let counts = Arc::clone(counts);
    registry.register::<HandedConfig, _>("handed", "partitioned test source", move |cfg| {
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
        Ok(Box::new(Handed {
            parts,
            counts: Arc::clone(&counts),
        }))
    });
    Arc::new(registry)
}

/// Runs `service`'s workers until every job of connector `id` is done, each having
/// delivered `per_part` new documents when `new` is given.
async fn run_until_done(service: &SyncService, id: &str, new: Option<u64>) {
    let stop = Cancellation::new();
    let worker = {
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move { service.run_workers(fast_worker("w"), stop).await })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listed = ok("jobs", service.jobs(Some(id), 50).await);
        if listed.iter().all(|j| j.status == JobStatus::Done) {
            if let Some(new) = new {
                let latest: Vec<_> = listed.iter().take(3).collect();
                assert!(latest.iter().all(|j| j.counters.new == new), "{latest:#?}");
            }
            break;
        }
        assert!(
            listed.iter().all(|j| j.status != JobStatus::Failed),
            "{listed:#?}"
        );
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_hands_its_listing_to_the_jobs_here_and_the_key_does_elsewhere() {
    let dir = ok(
        "tempdir",
        tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string())),
    );
    let url = fresh_url(Backend::Sqlite, dir.path()).await;
    let counts = Arc::new(Counts::default());
    let sink = Recorder::default();
    let db = ok("connect", SyncDb::connect(&url).await);
    let service = SyncService::new(ConnectorStore::new(db, registry(&counts)), sink.factory());
    let mut new = NewConnector::new(
        "split",
        "handed",
        serde_json::json!({ "parts": ["east", "north", "west"], "per_part": 4 }),
    );
    new.refresh_freq = 60;
    let c = ok("create", service.create(new).await);

    // The scheduler's pass discovers once, and this process's workers build each of the
    // three partitions with that listing: none lists again.
    let tick = ok("tick", service.schedule_now().await);
    assert_eq!(tick.syncs, 3, "one job per partition");
    assert_eq!(counts.get(), (1, 0, 0));
    run_until_done(&service, &c.id, Some(4)).await;
    assert_eq!(counts.get(), (1, 3, 0), "every job got discovery's listing");
    assert_eq!(sink.deliveries().len(), 12);

    // Another process (or this one after a restart) claims the next jobs: it kept nothing,
    // so each partition is built from its key alone, and the sync runs as well.
    let elsewhere_db = ok("connect", SyncDb::connect(&url).await);
    let elsewhere = SyncService::new(
        ConnectorStore::new(elsewhere_db, registry(&counts)),
        sink.factory(),
    );
    let jobs = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    assert_eq!(jobs.len(), 3);
    assert_eq!(counts.get(), (2, 3, 0));
    run_until_done(&elsewhere, &c.id, None).await;
    assert_eq!(counts.get(), (2, 3, 3), "the key alone, three times");
    assert!(
        sink.deliveries().values().all(|n| *n == 2),
        "{:?}",
        sink.deliveries()
    );

    // A config changed after discovery: what was learned under the old one is not used.
    let jobs = ok(
        "trigger",
        service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    assert_eq!(jobs.len(), 3);
    assert_eq!(counts.get(), (3, 3, 3));
    ok(
        "update",
        service
            .update(
                &c.id,
                ConnectorUpdate {
                    config: Some(serde_json::json!({
                        "parts": ["east", "north", "west"], "per_part": 5
                    })),
                    ..ConnectorUpdate::default()
                },
            )
            .await,
    );
    run_until_done(&service, &c.id, None).await;
    assert_eq!(
        counts.get(),
        (3, 3, 6),
        "built from the key under the new config"
    );
    assert_eq!(sink.deliveries().len(), 15);
}
