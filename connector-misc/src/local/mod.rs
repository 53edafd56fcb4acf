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

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Document, Error, ErrorKind,
    FieldError, RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

pub use checkpoint::LocalCheckpoint;
pub use config::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, LocalConfig};
pub use convert::TEXT_EXTENSIONS;

use client::{Filters, Walker};
use model::{Listed, Outcome, Page};

/// The registry key of the local folder connector.
pub const SOURCE: &str = "local";

/// Files read at the same time within a page.
const READ_CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on early, so a page of large files never sits
/// in memory whole (a single larger file goes alone).
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

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
    /// [`ErrorKind::Config`] listing every problem of the config by field path.
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

    /// Documents, failures and unchanged ids of `pages`, each with the id of the last file it
    /// covered (the checkpoint after it).
    fn documents(
        &self,
        pages: BoxStream<'static, Result<Page>>,
        start: Option<String>,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<(Batch, Option<String>)>> {
        let max = self.config.max_file_size.get();
        async_stream::try_stream! {
            let mut pages = pages;
            let mut checkpoint = start;
            let mut handed_on = checkpoint.clone();
            while let Some(page) = pages.next().await {
                if ctx.is_cancelled() {
                    Err(cancelled())?;
                }
                let page = page?;
                let ids = wanted_ids(&page, window, max);
                let known = if ids.is_empty() { HashMap::new() } else { ctx.fingerprints().fingerprints(&ids).await? };
                let mut outcomes = futures::stream::iter(page)
                    .map(|item| outcome(item, window, &known, max))
                    .buffered(READ_CONCURRENCY);
                let mut batch = Batch::default();
                let mut bytes = 0;
                while let Some((id, outcome)) = outcomes.next().await {
                    match outcome {
                        Outcome::Document(doc) => {
                            bytes += doc.content.len() as u64;
                            batch.documents.push(*doc);
                        }
                        Outcome::Failed(failure) => batch.failures.push(failure),
                        Outcome::Unchanged(id) => batch.unchanged.push(id),
                        Outcome::Skipped => {}
                    }
                    if id.is_some() {
                        checkpoint = id;
                    }
                    if bytes >= PAGE_BYTES {
                        bytes = 0;
                        handed_on.clone_from(&checkpoint);
                        yield (std::mem::take(&mut batch), checkpoint.clone());
                    }
                }
                if !batch.is_empty() || checkpoint != handed_on {
                    handed_on.clone_from(&checkpoint);
                    yield (batch, checkpoint.clone());
                }
            }
        }
        .boxed()
    }
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the sync was cancelled").with_connector(SOURCE)
}

/// The ids of the files of `page` whose stored fingerprint could spare reading them.
fn wanted_ids(page: &Page, window: Option<TimeWindow>, max: u64) -> Vec<String> {
    page.iter()
        .filter_map(|item| match item {
            Listed::File(entry) => match &entry.stat {
                Some(Ok(stat))
                    if stat.size <= max && in_window(stat, window) && stat.modified.is_some() =>
                {
                    Some(entry.id.clone())
                }
                _ => None,
            },
            Listed::Problem(_) => None,
        })
        .collect()
}

fn in_window(stat: &model::Stat, window: Option<TimeWindow>) -> bool {
    match window {
        None => true,
        // A file without a modification time cannot be placed in any window.
        Some(w) => stat.updated_at().is_some_and(|t| w.contains(t)),
    }
}

/// Turns one listed item into its outcome, reading the file unless its fingerprint is known
/// and unchanged. Returns the file's id (for the checkpoint) with the outcome.
async fn outcome(
    item: Listed,
    window: Option<TimeWindow>,
    known: &HashMap<String, String>,
    max: u64,
) -> (Option<String>, Outcome) {
    let entry = match item {
        Listed::File(entry) => entry,
        Listed::Problem(problem) => {
            return (None, Outcome::Failed(convert::problem_failure(&problem)));
        }
    };
    let outcome = match &entry.stat {
        Some(Err(err)) => Outcome::Failed(convert::stat_failure(&entry, err)),
        Some(Ok(stat)) if !in_window(stat, window) => Outcome::Skipped,
        Some(Ok(stat)) if stat.size > max => {
            Outcome::Failed(convert::too_large(&entry, stat.size, max))
        }
        Some(Ok(stat))
            if stat.version().is_some_and(|v| {
                known.get(&entry.id) == Some(&Document::version_fingerprint(&v))
            }) =>
        {
            Outcome::Unchanged(entry.id.clone())
        }
        _ => convert::document(&entry, client::read_file(&entry.path, max).await, max),
    };
    (Some(entry.id), outcome)
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

    /// Checks that `path` is a folder this process may list.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when it does not exist or is not a folder,
    /// [`ErrorKind::PermissionDenied`] when it cannot be listed; both name the field `path`.
    async fn check(&self) -> Result<()> {
        let root = &self.walker.root;
        let meta = tokio::fs::metadata(root)
            .await
            .map_err(|e| client::root_error(root, Some(e.kind()), &e))?;
        if !meta.is_dir() {
            return Err(client::not_a_folder(root));
        }
        let mut listing = tokio::fs::read_dir(root)
            .await
            .map_err(|e| client::root_error(root, Some(e.kind()), &e))?;
        listing
            .next_entry()
            .await
            .map_err(|e| client::root_error(root, Some(e.kind()), &e))?;
        Ok(())
    }
}

/// Drops the pages that carry nothing (they only move a checkpoint, which these streams lack).
fn without_checkpoints(
    pages: BoxStream<'static, Result<(Batch, Option<String>)>>,
) -> BoxStream<'static, Result<Batch>> {
    pages
        .map_ok(|(batch, _)| batch)
        .try_filter(|batch| futures::future::ready(!batch.is_empty()))
        .boxed()
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
        let pages = self.walker.pages(from.after.clone(), true);
        self.documents(pages, from.after, window, ctx)
            .map_ok(|(batch, after)| CheckpointedBatch::new(batch, LocalCheckpoint { after }))
            .boxed()
    }
}

impl SlimConnector for LocalConnector {
    /// Every id a load could produce: the files the filters accept, whatever their size or
    /// encoding. Fails, rather than come back short, when a folder cannot be read.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let mut pages = self.walker.pages(None, false);
        async_stream::try_stream! {
            while let Some(page) = pages.next().await {
                if ctx.is_cancelled() {
                    Err(cancelled())?;
                }
                let mut ids = Vec::new();
                for item in page? {
                    match item {
                        Listed::File(entry) => ids.push(SlimDocument::new(entry.id)),
                        Listed::Problem(p) if p.hides_files => Err(Error::new(
                            p.kind,
                            format!("cannot list every file, so nothing may be pruned: {}: {}", p.path, p.message),
                        )
                        .with_connector(SOURCE))?,
                        // Names that cannot be ids and dangling links never were documents.
                        Listed::Problem(_) => {}
                    }
                }
                if !ids.is_empty() {
                    yield ids;
                }
            }
        }
        .boxed()
    }
}

impl RefetchConnector for LocalConnector {
    /// Reads these relative paths again; a path that no longer exists, is no longer a regular
    /// file or that the filters now reject yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let walker = Arc::clone(&self.walker);
        let pages = async_stream::try_stream! {
            for chunk in ids.chunks(walker.page_size.max(1)) {
                let chunk = chunk.to_vec();
                let walker = Arc::clone(&walker);
                let page = tokio::task::spawn_blocking(move || walker.lookup(&chunk))
                    .await
                    .map_err(|e| Error::internal("looking files up stopped unexpectedly").with_connector(SOURCE).with_cause(e))?;
                yield page;
            }
        }
        .boxed();
        without_checkpoints(self.documents(pages, None, None, ctx))
    }
}
