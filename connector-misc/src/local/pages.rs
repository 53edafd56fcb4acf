//! The page walk: the folder walk's pages as checkpointed batches, the id listing and the
//! refetch of named files.
//!
//! Each file of a walk page becomes a [`PendingItem`] with the version its `stat` shows (size
//! and modification time), and core's [`ItemFetches`] does the rest: one fingerprint lookup per
//! page, unchanged files reported without being read, the others read a few at a time in walk
//! order, and the page handed on in parts once its documents pass [`PAGE_BYTES`].

use std::sync::Arc;

use connector_core::pages::{ItemFetches, Outcome, PendingItem};
use connector_core::{
    Batch, CheckpointedBatch, Error, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::SOURCE;
use super::checkpoint::LocalCheckpoint;
use super::client::{self, Walker};
use super::convert;
use super::model::{Listed, Page, Stat};

/// Files read at the same time within a page.
const READ_CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts, so a page of large files never sits
/// in memory whole (a single larger file goes alone).
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The walk from `from` on, each page with the checkpoint valid after it.
pub(super) fn checkpointed(
    walker: &Arc<Walker>,
    max: u64,
    from: LocalCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<LocalCheckpoint>>> {
    let pages = walker.pages(from.after.clone(), true);
    documents(pages, from.after, max, window, ctx)
        .map_ok(|(batch, after)| CheckpointedBatch::new(batch, LocalCheckpoint { after }))
        .boxed()
}

/// Every id a load could produce: the files the filters accept, whatever their size or
/// encoding. Fails, rather than come back short, when a folder cannot be read.
pub(super) fn list_ids(
    walker: &Arc<Walker>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let mut pages = walker.pages(None, false);
    async_stream::try_stream! {
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
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

/// Reads these relative paths again; a path that no longer exists, is no longer a regular file
/// or that the filters now reject yields nothing.
pub(super) fn refetch(
    walker: &Arc<Walker>,
    max: u64,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let walker = Arc::clone(walker);
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
    // Pages that carry nothing only move a checkpoint, which this stream lacks.
    documents(pages, None, max, None, ctx)
        .map_ok(|(batch, _)| batch)
        .try_filter(|batch| futures::future::ready(!batch.is_empty()))
        .boxed()
}

/// Documents, failures and unchanged ids of `pages`, each with the id of the last file it
/// covered (the checkpoint after it); a page that neither carries anything nor moves the
/// checkpoint is not handed on.
fn documents(
    pages: BoxStream<'static, Result<Page>>,
    start: Option<String>,
    max: u64,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<(Batch, Option<String>)>> {
    async_stream::try_stream! {
        let mut pages = pages;
        let mut handed_on = start;
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let page = page?;
            // After the page, the walk resumes after its last file, whatever became of it.
            let last = page.iter().rev().find_map(|item| match item {
                Listed::File(entry) => Some(entry.id.clone()),
                Listed::Problem(_) => None,
            });
            let pending = page.into_iter().filter_map(|item| pending(item, window, max));
            let mut fetches =
                ItemFetches::start(&ctx, pending, READ_CONCURRENCY, |item| read(item, max)).await?;
            let mut rest = Batch::default();
            while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                // A part before the page's last ends with a document: resume after it.
                let after = part.documents.last().map(|d| d.id.clone());
                match after {
                    Some(after) if !fetches.is_done() => {
                        handed_on = Some(after);
                        yield (part, handed_on.clone());
                    }
                    // Usually the page's only part: taken whole, not copied.
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            let checkpoint = last.or_else(|| handed_on.clone());
            if !rest.is_empty() || checkpoint != handed_on {
                handed_on.clone_from(&checkpoint);
                yield (rest, checkpoint);
            }
        }
    }
    .boxed()
}

/// A walk item as a page item: a file in the window, with the version its `stat` shows when
/// it is within the size cap (so an unchanged one is not read), or anything `read` turns into
/// a failure (a walk problem, a failed `stat`, a file over the cap). A file outside the window
/// is skipped: none.
fn pending(item: Listed, window: Option<TimeWindow>, max: u64) -> Option<PendingItem<Listed>> {
    let (id, version) = match &item {
        // Named by its path: it has no id, and its failure says so.
        Listed::Problem(problem) => (problem.path.clone(), None),
        Listed::File(entry) => match &entry.stat {
            Some(Ok(stat)) if !in_window(stat, window) => return None,
            Some(Ok(stat)) if stat.size <= max => (entry.id.clone(), stat.version()),
            _ => (entry.id.clone(), None),
        },
    };
    let pending = PendingItem::new(id, item);
    Some(match version {
        Some(version) => pending.with_version(&version),
        None => pending,
    })
}

/// One walk item's outcome: its document, its failure, or nothing when the file is gone since
/// the walk (prune deals with it).
async fn read(item: Listed, max: u64) -> Result<Option<Outcome>> {
    let entry = match item {
        Listed::File(entry) => entry,
        Listed::Problem(problem) => return Ok(Some(convert::problem_failure(&problem).into())),
    };
    Ok(match &entry.stat {
        Some(Err(err)) => Some(convert::stat_failure(&entry, err).into()),
        Some(Ok(stat)) if stat.size > max => {
            Some(convert::too_large(&entry, stat.size, max).into())
        }
        _ => convert::document(&entry, client::read_file(&entry.path, max).await, max),
    })
}

fn in_window(stat: &Stat, window: Option<TimeWindow>) -> bool {
    match window {
        None => true,
        // A file without a modification time cannot be placed in any window.
        Some(w) => stat.updated_at().is_some_and(|t| w.contains(t)),
    }
}
