//! The walk over libraries and folders, its pages as checkpointed batches, the id listing for
//! prune, and the refetch of named files, on core's [`ItemFetches`] (one fingerprint lookup
//! per page, unchanged files not downloaded, the others a few at a time, large pages handed on
//! in parts).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use connector_core::http::is_body_too_large;
use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::SeafileCheckpoint;
use super::client::Client;
use super::config::SyncScope;
use super::convert::{self, doc_id, parse_id};
use super::model::{Dirent, FileItem, Library, Listed, Problem};
use crate::files::{folder_done, walk_order};

/// Files downloaded at the same time within a page.
const CONCURRENCY: usize = 4;

/// Content bytes after which a page is handed on in parts (a single larger file goes alone).
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// How far a library's last commit (the server's clock) may lie before an incremental
/// window's start (the host's) and its library still be walked: covers clocks that disagree.
const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A page of the walk.
type Page = Vec<Listed>;

/// A path without its leading `/`, for the walk-order helpers (which split on `/`).
fn rel(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

/// `folder` joined with `name` (`/` + `a` is `/a`).
fn join(folder: &str, name: &str) -> String {
    if folder == "/" {
        format!("/{name}")
    } else {
        format!("{folder}/{name}")
    }
}

/// One member of a folder's listing, before it is placed in the walk.
enum Child {
    Folder(String),
    File(FileItem),
    Problem(String, Problem),
}

impl Child {
    fn path(&self) -> &str {
        match self {
            Self::Folder(p) | Self::Problem(p, _) => p,
            Self::File(f) => &f.path,
        }
    }
}

/// The members of the folder `path` of `library`, sorted by name.
async fn list(client: &Client, library: &Arc<Library>, path: &str) -> Result<VecDeque<Child>> {
    let entries = client.list_dir(library, path).await?;
    let mut children = Vec::with_capacity(entries.len());
    for value in entries {
        children.push(child(library, path, value));
    }
    children.sort_by(|a, b| walk_order(rel(a.path()), rel(b.path())));
    Ok(children.into())
}

/// One listing entry as a walk member; an entry that cannot be read is a problem.
fn child(library: &Arc<Library>, folder: &str, value: Value) -> Child {
    let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
    let kind = value.get("type").and_then(Value::as_str).map(str::to_owned);
    let problem = |path: String, message: String, hides: bool, id: Option<String>| {
        Child::Problem(
            path.clone(),
            Problem {
                id,
                message: format!("{}:{path}: {message}", library.name),
                hides_files: hides,
                kind: ErrorKind::InvalidData,
            },
        )
    };
    let Some(name) = name.filter(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..")
    else {
        return problem(
            join(folder, "?"),
            "a listing entry without a usable name".to_owned(),
            true,
            None,
        );
    };
    let path = join(folder, &name);
    match kind.as_deref() {
        Some("dir") => Child::Folder(path),
        Some("file") => match serde_json::from_value::<Dirent>(value) {
            Ok(dirent) => Child::File(FileItem {
                library: Arc::clone(library),
                path,
                dirent,
            }),
            Err(e) => {
                let id = doc_id(&library.id, &path);
                problem(
                    path,
                    format!("the listing entry cannot be read: {e}"),
                    false,
                    Some(id),
                )
            }
        },
        other => problem(
            path,
            format!("a listing entry of unknown type {other:?}"),
            true,
            None,
        ),
    }
}

/// The walk from `from` on, in pages of `page_size` items: libraries by id, each depth-first
/// from its root folder, each folder sorted by name, one `dir/` request per folder entered.
/// An encrypted library is a problem item; a folder that fails to list is what
/// [`folder_error`] makes of it (the configured root's failure ends the stream).
///
/// With a `window` (an incremental run), a library whose last commit is more than
/// [`CLOCK_SLACK`] before the window's start is not entered: nothing in it changed.
fn walk(
    client: Client,
    page_size: usize,
    from: SeafileCheckpoint,
    window: Option<TimeWindow>,
) -> BoxStream<'static, Result<Page>> {
    async_stream::try_stream! {
        let libraries = client.libraries().await?;
        let mut page: Page = Vec::new();
        for library in libraries {
            let (resume, after) = match &from.library {
                Some(at) if library.id < *at => continue,
                Some(at) if library.id == *at => (true, from.after.clone()),
                _ => (false, None),
            };
            if let (Some(w), Some(at)) = (window, library.modified())
                && at + CLOCK_SLACK < w.start
            {
                continue;
            }
            let mut library = library;
            client.add_shares(&mut library).await?;
            let library = Arc::new(library);
            if library.encrypted {
                if !resume {
                    page.push(Listed::Problem(convert::encrypted(&library)));
                }
                continue;
            }
            let after = after.as_deref().map(rel);
            let top = match list(&client, &library, &client.root).await {
                Ok(top) => top,
                // A library token cannot tell an encrypted library before its listing fails.
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    page.push(Listed::Problem(convert::encrypted(&library)));
                    continue;
                }
                // In the account scope a library is one of many, found by `/api2/repos/`: one
                // deleted or unshared since is gone, one the account may not list is that
                // library's failure. The configured library or folder fails the sync instead.
                Err(e) if client.scope == SyncScope::Account => match folder_error(&library, &client.root, e)? {
                    Some(problem) => {
                        page.push(Listed::Problem(problem));
                        continue;
                    }
                    None => continue,
                },
                Err(e) => Err(e)?,
            };
            let mut stack = vec![top];
            while let Some(folder) = stack.last_mut() {
                let Some(child) = folder.pop_front() else {
                    stack.pop();
                    continue;
                };
                match child {
                    Child::Folder(path) => {
                        if after.is_some_and(|a| folder_done(rel(&path), a)) {
                            continue;
                        }
                        match list(&client, &library, &path).await {
                            Ok(children) => stack.push(children),
                            Err(e) => {
                                if let Some(problem) = folder_error(&library, &path, e)? {
                                    page.push(Listed::Problem(problem));
                                }
                            }
                        }
                    }
                    Child::File(item) => {
                        if after.is_some_and(|a| walk_order(rel(&item.path), a).is_le()) {
                            continue;
                        }
                        page.push(Listed::File(item));
                    }
                    Child::Problem(path, problem) => {
                        if after.is_some_and(|a| walk_order(rel(&path), a).is_le()) {
                            continue;
                        }
                        page.push(Listed::Problem(problem));
                    }
                }
                if page.len() >= page_size {
                    yield std::mem::take(&mut page);
                }
            }
        }
        if !page.is_empty() {
            yield page;
        }
    }
    .boxed()
}

/// What a folder's failed listing means for the walk: a folder gone since its parent was
/// listed (404) is skipped, so prune removes its files; one the token may not list (403:
/// folder permissions, a library shared as preview-only) is a problem naming it that hides
/// files (prune then keeps what it held) and the walk goes on; any other error ends the sync.
///
/// # Errors
/// `error` itself when it is neither.
fn folder_error(library: &Library, path: &str, error: Error) -> Result<Option<Problem>> {
    match error.kind() {
        ErrorKind::NotFound => Ok(None),
        ErrorKind::PermissionDenied => Ok(Some(Problem {
            id: None,
            message: format!(
                "{}:{path}: the folder cannot be listed, its files are not read: {error}",
                library.name
            ),
            hides_files: true,
            kind: ErrorKind::PermissionDenied,
        })),
        _ => Err(error),
    }
}

/// The checkpoint after a file.
fn after(item: &FileItem) -> SeafileCheckpoint {
    SeafileCheckpoint::after(item.library.id.clone(), item.path.clone())
}

/// The walk from `from` on, each page with the checkpoint valid after it.
pub(super) fn checkpointed(
    client: &Client,
    page_size: usize,
    max: u64,
    from: SeafileCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<SeafileCheckpoint>>> {
    let client = client.with_context(&ctx);
    // The next folders are listed while this page's files download: a page's downloads no
    // longer wait for the listings before them, nor the listings for the downloads.
    let pages = read_ahead(walk(client.clone(), page_size, from.clone(), window));
    async_stream::try_stream! {
        let mut pages = pages;
        let mut handed_on = from;
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let page: Page = page?;
            // After the page, the walk resumes after its last file, whatever became of it.
            let last = page.iter().rev().find_map(|item| match item {
                Listed::File(f) => Some(after(f)),
                Listed::Problem(_) => None,
            });
            // The checkpoint of each file, to resume after the last one of a part.
            let mut positions: BTreeMap<String, SeafileCheckpoint> = BTreeMap::new();
            for item in &page {
                if let Listed::File(f) = item {
                    positions.insert(doc_id(&f.library.id, &f.path), after(f));
                }
            }
            let remembers = ctx.fingerprints().remembers();
            let pending = page
                .into_iter()
                .filter_map(|item| pending(item, window, remembers, max));
            let fetch_client = client.clone();
            let stats = Arc::clone(ctx.stats());
            let mut fetches = ItemFetches::start(&ctx, pending, CONCURRENCY, move |item| {
                let read = read(fetch_client.clone(), item, max);
                let stats = Arc::clone(&stats);
                async move {
                    let outcome = read.await;
                    // Nothing: the file is gone since its folder was listed.
                    if matches!(outcome, Ok(None)) {
                        stats.add_gone();
                    }
                    outcome
                }
            })
            .await?;
            let mut rest = Batch::default();
            while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                // A part before the page's last ends with a document: resume after it.
                let at = part.documents.last().and_then(|d| positions.get(&d.id)).cloned();
                match at {
                    Some(at) if !fetches.is_done() => {
                        handed_on = at.clone();
                        yield CheckpointedBatch::new(part, at);
                    }
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            let checkpoint = last.unwrap_or_else(|| handed_on.clone());
            if !rest.is_empty() || checkpoint != handed_on {
                handed_on = checkpoint.clone();
                yield CheckpointedBatch::new(rest, checkpoint);
            }
        }
    }
    .boxed()
}

/// Every id a load could produce: the files of the walk, whatever their size or time. Fails,
/// rather than come back short, when a folder cannot be listed or an entry that cannot be read
/// may hide files.
pub(super) fn list_ids(
    client: &Client,
    page_size: usize,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let client = client.with_context(&ctx);
    let mut pages = walk(client, page_size, SeafileCheckpoint::start(), None);
    async_stream::try_stream! {
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let mut ids = Vec::new();
            for item in page? {
                match item {
                    Listed::File(f) => ids.push(SlimDocument::new(doc_id(&f.library.id, &f.path))),
                    Listed::Problem(p) if p.hides_files => Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("cannot list every file, so nothing may be pruned: {}", p.message),
                    )
                    .with_connector(SOURCE))?,
                    Listed::Problem(Problem { id: Some(id), .. }) => ids.push(SlimDocument::new(id)),
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

/// The files with these document ids again, by a fresh listing of their folders; an id that
/// is not this connector's, lies outside the scope, or whose file is gone yields nothing.
pub(super) fn refetch(
    client: &Client,
    max: u64,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let client = client.with_context(&ctx);
    async_stream::try_stream! {
        // Wanted files by library and folder, so that each folder is listed once.
        let mut wanted: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for id in &ids {
            let Some((repo, path)) = parse_id(id) else { continue };
            let root = client.root.as_str();
            let inside = root == "/" || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'));
            if !inside {
                continue;
            }
            let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
            let folder = if folder.is_empty() { "/" } else { folder };
            wanted
                .entry((repo.to_owned(), folder.to_owned()))
                .or_default()
                .push(name.to_owned());
        }
        if wanted.is_empty() {
            return;
        }
        let mut libraries: Vec<Arc<Library>> = Vec::new();
        for mut library in client.libraries().await? {
            if !library.encrypted && wanted.keys().any(|(repo, _)| *repo == library.id) {
                client.add_shares(&mut library).await?;
                libraries.push(Arc::new(library));
            }
        }
        for ((repo, folder), names) in wanted {
            ctx.cancellation().check()?;
            let Some(library) = libraries.iter().find(|l| l.id == repo) else {
                continue;
            };
            let children = match list(&client, library, &folder).await {
                Ok(children) => children,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => Err(e)?,
            };
            let pending = children.into_iter().filter_map(|child| match child {
                Child::File(item) if names.contains(&item.dirent.name) => {
                    Some(PendingItem::new(doc_id(&item.library.id, &item.path), Listed::File(item)))
                }
                _ => None,
            });
            let fetch_client = client.clone();
            let batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                read(fetch_client.clone(), item, max)
            })
            .await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}

/// A walk item as a page item: a file with its version (object id and access) when it is
/// within the size cap (so an unchanged one costs no request), or anything `read` turns into a
/// failure.
///
/// The window does not decide for a file with an object id when the host's fingerprint lookup
/// [`remembers`](connector_core::FingerprintLookup::remembers) earlier runs: a dirent's `mtime`
/// is the file's own, which SeaFile's desktop and drive clients upload as it was on disk, the
/// upload API takes as `last_modified`, and moves, renames and restores from the trash keep.
/// Such a file, new at its path, would be outside every window. The walk lists every folder
/// anyway; the lookup reads a new path or a new object id and skips the rest without a request.
/// A file without an object id, or any file when nothing is remembered (a bare poll), keeps to
/// the window (one without a readable `mtime` is in every window).
fn pending(
    item: Listed,
    window: Option<TimeWindow>,
    remembers: bool,
    max: u64,
) -> Option<PendingItem<Listed>> {
    let (id, version) = match &item {
        Listed::Problem(p) => (p.id.clone().unwrap_or_else(|| p.message.clone()), None),
        Listed::File(f) => {
            let version = convert::version(&f.library, f.dirent.version());
            if (version.is_none() || !remembers)
                && let (Some(w), Some(at)) = (window, f.dirent.modified())
                && !w.contains(at)
            {
                return None;
            }
            let fits = f.dirent.size.is_none_or(|s| s <= max);
            (doc_id(&f.library.id, &f.path), version.filter(|_| fits))
        }
    };
    let pending = PendingItem::new(id, item);
    Some(match version {
        Some(v) => pending.with_version(&v),
        None => pending,
    })
}

/// One item's outcome: its document, its failure, or nothing when the file is gone since the
/// listing (prune deals with it).
async fn read(client: Client, item: Listed, max: u64) -> Result<Option<Outcome>> {
    let item = match item {
        Listed::File(item) => item,
        Listed::Problem(p) => return Ok(Some(convert::problem_failure(&p).into())),
    };
    if let Some(size) = item.dirent.size.filter(|s| *s > max) {
        return Ok(Some(
            convert::too_large(&client, &item, Some(size), max).into(),
        ));
    }
    match client.download(&item.library, &item.path, max).await {
        Ok(Some(downloaded)) => Ok(Some(convert::document(&client, item, downloaded))),
        Ok(None) => Ok(None),
        Err(e) if is_body_too_large(&e) => {
            Ok(Some(convert::too_large(&client, &item, None, max).into()))
        }
        Err(e) => convert::download_failure(&client, &item, e).map(Some),
    }
}
