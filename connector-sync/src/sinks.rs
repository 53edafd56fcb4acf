//! Where a job's documents go: the host's [`SinkFactory`], and the built-in one that writes
//! each connector's documents under a data folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::NetworkPolicy;
use connector_core::sink::{DirectorySink, Durability, NdjsonSink, Sink};
use connector_core::{ConnectorConfig, Error, Result};

use crate::connectors::ConnectorRecord;
use crate::webhook::{WebhookConfig, WebhookSink};

/// Gives each job the sink its connector's documents go to. The host implements it (an
/// index, a queue, a webhook); [`DataDirSinks`] is the built-in one for hosts that are not
/// Rust.
///
/// # Contract
/// - Called once per job attempt, on the worker that runs it, with the connector's record
///   (its config's secrets masked). Several jobs of one connector (its partitions, a sync
///   and a prune) may hold sinks for it at once, in one process or several.
/// - The sink must keep [`Sink`]'s contract: `write` returns `Ok` only once the batch is
///   stored, and writes upsert by id, since a batch that was in flight when a worker died is
///   delivered again by the worker that resumes the job.
#[async_trait]
pub trait SinkFactory: Send + Sync + std::fmt::Debug + 'static {
    /// The sink for a job of `connector`.
    ///
    /// # Errors
    /// Any error: the attempt fails with it (and is retried like any failed attempt).
    async fn sink(&self, connector: &ConnectorRecord) -> Result<Arc<dyn Sink>>;
}

/// How [`DataDirSinks`] lays out a connector's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLayout {
    /// `{data}/{connector id}/documents.ndjson`, one line per document or deletion
    /// ([`NdjsonSink::append`]).
    Ndjson,
    /// `{data}/{connector id}/` as a [`DirectorySink`]: one file per document and a
    /// `manifest.ndjson`.
    Directory,
}

/// The built-in [`SinkFactory`]: each connector's documents under `{data}/{connector id}/`,
/// as NDJSON or as a folder of files ([`DataLayout`]), `fsync`ed before a batch is
/// acknowledged (the state in the database claims it after that).
#[derive(Debug, Clone)]
pub struct DataDirSinks {
    root: PathBuf,
    layout: DataLayout,
    durability: Durability,
}

impl DataDirSinks {
    /// Documents under `root`, in `layout`.
    pub fn new(root: impl Into<PathBuf>, layout: DataLayout) -> Self {
        Self {
            root: root.into(),
            layout,
            durability: Durability::Fsync,
        }
    }

    /// How far each batch is taken before it is acknowledged ([`Durability::Fsync`] by
    /// default; [`Durability::Flush`] survives the process being killed, not a power loss).
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The folder of connector `id`'s documents.
    pub fn folder(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The NDJSON file of connector `id` (with [`DataLayout::Ndjson`]).
    pub fn ndjson_path(&self, id: &str) -> PathBuf {
        self.folder(id).join("documents.ndjson")
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl SinkFactory for DataDirSinks {
    async fn sink(&self, connector: &ConnectorRecord) -> Result<Arc<dyn Sink>> {
        Ok(match self.layout {
            DataLayout::Ndjson => Arc::new(
                NdjsonSink::append(self.ndjson_path(&connector.id))
                    .await?
                    .durability(self.durability),
            ),
            DataLayout::Directory => Arc::new(
                DirectorySink::open(self.folder(&connector.id))
                    .await?
                    .durability(self.durability),
            ),
        })
    }
}

/// The built-in [`SinkFactory`] that sends every connector's documents to one webhook: each
/// job gets a [`WebhookSink`] of its own with the connector's id in every envelope
/// (`connector_id`), so one receiver tells the connectors apart.
///
/// ```
/// use connector_sync::{WebhookConfig, WebhookSinks};
/// let config = WebhookConfig::new("http://127.0.0.1:8080/ingest".parse()?);
/// let sinks = WebhookSinks::new(config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WebhookSinks {
    config: WebhookConfig,
    network: Option<NetworkPolicy>,
}

impl WebhookSinks {
    /// Every connector's documents POSTed as [`config`](WebhookConfig) says.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming every problem of the
    /// config, found here rather than at each job.
    pub fn new(config: WebhookConfig) -> Result<Self> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        Ok(Self {
            config,
            network: None,
        })
    }

    /// The host's network policy for the sinks (see
    /// [`WebhookSinkBuilder::network_policy`](crate::WebhookSinkBuilder::network_policy)).
    #[must_use]
    pub fn network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.network = Some(policy);
        self
    }

    /// The config the sinks are built from.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }
}

#[async_trait]
impl SinkFactory for WebhookSinks {
    async fn sink(&self, connector: &ConnectorRecord) -> Result<Arc<dyn Sink>> {
        let mut builder = WebhookSink::builder(self.config.clone(), connector.id.clone());
        if let Some(policy) = &self.network {
            builder = builder.network_policy(policy.clone());
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// A [`SinkFactory`] that hands every job the same sink, for tests and hosts with one
/// destination.
#[derive(Clone)]
pub struct SharedSink(pub Arc<dyn Sink>);

impl std::fmt::Debug for SharedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSink")
    }
}

#[async_trait]
impl SinkFactory for SharedSink {
    async fn sink(&self, _connector: &ConnectorRecord) -> Result<Arc<dyn Sink>> {
        Ok(self.0.clone())
    }
}
