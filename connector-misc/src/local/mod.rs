//! The local folder connector (source `"local"`): every regular file under a folder on this
//! machine, one document each.
//!
//! - **Ids** are paths relative to the folder with `/` between folders (`notes/2024/a.md`):
//!   stable across runs and wherever the folder is mounted. The title is the file name, the
//!   link its `file://` URL, `updated_at` its modification time; metadata holds `path` (the
//!   absolute path), `size` and `extension`.
//! - **Order**: a depth-first walk that sorts each folder by name, so that pages, checkpoints
//!   and `list_ids` always come in the same order (see [`LocalCheckpoint`]).
//! - **Content**: files with an extension in [`TEXT_EXTENSIONS`] are text and must be UTF-8;
//!   every other file is bytes with the MIME type guessed from its extension.
//! - **Fingerprint**: from `{size}:{mtime in ns}`. In incremental runs the connector asks the
//!   host's fingerprints once per page and does not read a file whose size and modification
//!   time are unchanged; it reports its id as unchanged instead.
//! - **Failures**: a file over `max_file_size`, a text file that is not UTF-8, a file that
//!   cannot be read, a folder that cannot be entered, a name that is not UTF-8 and a dangling
//!   link (with `follow_symlinks`) each become a [`Failure`](connector_core::Failure) naming
//!   the path; the sync goes on.
//!   Only a `path` that is missing, not a folder or unreadable ends the sync.
//! - **Skipped silently**: files the filters reject, symbolic links unless `follow_symlinks`,
//!   and anything that is not a regular file (FIFOs, sockets, devices).
//! - **Code**: the walk is in `client.rs`; turning its pages into batches is in `pages.rs`, on
//!   core's [`pages`](connector_core::pages).
//!
//! # Cancel safety
//! The walk runs on a blocking thread and feeds a channel of at most two pages; dropping a
//! stream closes the channel and the walk stops at its next entry. Nothing is committed by the
//! connector itself.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, FieldError,
    RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::LocalCheckpoint;
pub use config::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, LocalConfig};
pub use convert::TEXT_EXTENSIONS;

use client::{Filters, Walker};

/// The registry key of the local folder connector.
pub const SOURCE: &str = "local";

/// Reads a folder on this machine. Built from a [`LocalConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::local::{LocalConfig, LocalConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = LocalConnector::new(LocalConfig::new("/srv/handbook"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LocalConnector {
    config: LocalConfig,
    walker: Arc<Walker>,
}

impl LocalConnector {
    /// A connector for the folder in `config`. The folder is not touched until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path.
    pub fn new(config: LocalConfig) -> Result<Self> {
        let mut problems = connector_core::ConnectorConfig::validate(&config);
        // Its problems are in `problems` already, from `validate`.
        let paths = config.path_filter();
        let root = std::path::absolute(&config.path);
        if let Err(e) = &root {
            problems.push(FieldError::new(
                "path",
                format!("cannot make the path absolute: {e}"),
            ));
        }
        let (Ok(paths), Ok(root), true) = (paths, root, problems.is_empty()) else {
            return Err(Error::config(problems).with_connector(SOURCE));
        };
        let filters = Filters {
            paths,
            include_hidden: config.include_hidden,
        };
        let page_size = usize::try_from(config.page_size.get()).unwrap_or(usize::MAX);
        let walker = Walker {
            root,
            filters,
            follow_symlinks: config.follow_symlinks,
            page_size,
        };
        Ok(Self {
            config,
            walker: Arc::new(walker),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }
}

impl fmt::Display for LocalConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.walker.root.display())
    }
}

#[async_trait]
impl Connector for LocalConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Two seconds: a file's modification time is the file system's clock, which is coarser
    /// than the sync's (a kernel tick on ext4, two seconds on FAT, the server's clock on a
    /// network share). A file written a moment after a run ended can carry a time just before
    /// that run's window end, and a window starting exactly there would miss it. What the
    /// overlap lists again is unchanged by its fingerprint and costs no read.
    fn min_overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }

    /// Checks that `path` is a folder this process may list.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](connector_core::ErrorKind::NotFound) when it does not exist or
    /// is not a folder, [`ErrorKind::PermissionDenied`](connector_core::ErrorKind::PermissionDenied)
    /// when it cannot be listed; both name the field `path`.
    async fn check(&self) -> Result<()> {
        self.walker.check().await
    }
}

impl CheckpointedConnector for LocalConnector {
    type Checkpoint = LocalCheckpoint;

    fn initial_checkpoint(&self) -> LocalCheckpoint {
        LocalCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: LocalCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<LocalCheckpoint>>> {
        let max = self.config.max_file_size.get();
        pages::checkpointed(&self.walker, max, from, window, ctx)
    }
}

impl SlimConnector for LocalConnector {
    /// Every id a load could produce: the files the filters accept, whatever their size or
    /// encoding. Fails, rather than come back short, when a folder cannot be read.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.walker, ctx)
    }
}

impl RefetchConnector for LocalConnector {
    /// Reads these relative paths again; a path that no longer exists, is no longer a regular
    /// file or that the filters now reject yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let max = self.config.max_file_size.get();
        pages::refetch(&self.walker, max, ids, ctx)
    }
}
