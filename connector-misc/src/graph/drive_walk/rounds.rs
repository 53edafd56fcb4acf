//! The rounds over drives: the checkpointed listing (with the folder changes that reach
//! files a round does not list), the id listing for prune, and the refetch of named files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use connector_core::pages::{ItemFetches, PendingItem, fetch_items};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::checkpoint::{COMPACT_ABOVE, DriveSet};
use super::{
    CONCURRENCY, DriveCheckpoint, DriveCursor, DriveSource, DriveTarget, DriveWalk, Item,
    MAX_RESTARTS, PAGE_BYTES, Phase, STAMP_MARGIN, failed, fetch, last_states, remember_folders,
};
use crate::graph::{Delta, DriveItem};

/// The listing of the drives `source` names from `from` on, each page with the checkpoint
/// after it.
pub(crate) fn checkpointed(
    walk: &DriveWalk,
    source: Arc<dyn DriveSource>,
    from: DriveCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<DriveCheckpoint>>> {
    let walk = walk.with_context(&ctx);
    let name = walk.source;
    async_stream::try_stream! {
        let (mut targets, failures) = source.targets(&walk.graph).await?;
        let mut cp = from;
        let resume = cp.current.take();
        cp.rekey_for(&walk.graph.tenant(&walk.tenant).await?, &walk.tenant);
        if failures.is_empty() {
            // Drives no longer read (a user gone, a config narrowed) keep no link.
            cp.since.retain(|drive, _| targets.iter().any(|t| &t.drive == drive));
            cp.folders.retain(|drive, _| targets.iter().any(|t| &t.drive == drive));
            cp.rekey.retain(|drive| targets.iter().any(|t| &t.drive == drive));
        }
        // The compact form past COMPACT_ABOVE drives (a run begun in one form ends in it):
        // the position and one time, not a link per drive (see DriveCheckpoint).
        let compact = cp.run.is_some()
            || (cp.done.is_empty() && resume.is_none() && targets.len() > COMPACT_ABOVE);
        if compact {
            targets.sort_by(|a, b| a.drive.cmp(&b.drive));
            if cp.run.is_none() {
                cp.run = Some(chrono::Utc::now() - STAMP_MARGIN);
                cp.finished = Some(DriveSet::with_capacity(targets.len()));
            }
        } else if let (Some(stamp), Some(known)) = (cp.stamp, cp.known.take()) {
            // Back to links: each known drive starts from the stamp, as a link of its own.
            for t in &targets {
                if !cp.since.contains_key(&t.drive) && known.contains(&t.drive) {
                    let link = walk.stamp_link(&t.drive, stamp)?;
                    cp.since.insert(t.drive.clone(), walk.stored_link(&t.drive, &link));
                }
            }
        }
        if !failures.is_empty() {
            yield CheckpointedBatch::new(failed(failures), cp.clone());
        }
        for target in targets {
            if cp.done.contains_key(&target.drive) {
                continue;
            }
            if compact && cp.after.as_deref().is_some_and(|a| target.drive.as_str() <= a) {
                // Finished before a resume (or passed over, or failed: those kept their start).
                // One this run has not finished that was known keeps its start.
                if !cp.finished.as_ref().is_some_and(|f| f.contains(&target.drive)) {
                    keep_start(&walk, &mut cp, &target.drive)?;
                }
                continue;
            }
            let first = walk.graph.drive_delta_url(&target.drive)?;
            let start = match cp.since.get(&target.drive) {
                Some(since) => Some(walk.link_of(&target.drive, since)?),
                None => known_start(&walk, &cp, &target.drive)?,
            };
            let has_starts = !cp.since.is_empty() || cp.stamp.is_some();
            let (mut url, mut phase) = match (&resume, start) {
                (Some(c), _) if c.drive == target.drive && (c.phase != Phase::Changes || !cp.rekey.contains(&c.drive)) => (walk.parse_link(&c.next)?, c.phase),
                // Its files were delivered under another tenant key: listed whole once.
                _ if cp.rekey.contains(&target.drive) => (first.clone(), Phase::Relisting),
                (_, Some(since)) => (since, Phase::Changes),
                // A drive the last runs never finished (new, or unreadable then) while others
                // carry their links: its files before the window were never delivered, so it
                // is listed whole (unchanged files cost no download), not through the window.
                _ if has_starts => (first.clone(), Phase::Relisting),
                _ => (first.clone(), Phase::Listing),
            };
            let mut finished_now = false;
            // A drive Graph will not read to its end (locked, archived, its user deleted,
            // throttled past the retries) is that drive's failure, not the run's: the other
            // drives are read, and the next run starts it again from its last finished round.
            let mut drive_error: Option<Error> = None;
            'drive: {
            let scope = match walk.scope(&target.drive).await {
                Ok(Ok(scope)) => scope,
                Ok(Err(_)) if walk.pass_over_missing_folder => break 'drive,
                Ok(Err(failure)) => {
                    yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                    break 'drive;
                }
                Err(e) => {
                    drive_error = Some(e);
                    break 'drive;
                }
            };
            let target = Arc::new(target.clone());
            let mut parents: HashMap<String, Option<String>> = HashMap::new();
            let mut restarts = 0;
            loop {
                ctx.cancellation().check()?;
                cp.current = Some(DriveCursor { drive: target.drive.clone(), next: url.to_string(), phase });
                let delta = match walk.graph.drive_delta(&url).await {
                    Ok(delta) => delta,
                    Err(e) => {
                        drive_error = Some(e);
                        break 'drive;
                    }
                };
                let page = match delta {
                    Delta::Page(page) => page,
                    Delta::Restart { restart_at, code } => {
                        restarts += 1;
                        if restarts > MAX_RESTARTS {
                            drive_error = Some(Error::new(
                                ErrorKind::Unavailable,
                                format!("Graph asked {restarts} times to start drive `{}` over ({code})", target.drive),
                            ).with_connector(name));
                            break 'drive;
                        }
                        tracing::warn!(connector = name, drive = target.drive.as_str(), code = code.as_str(),
                            "Graph no longer continues the stored delta link; the drive is listed again (unchanged files cost no download)");
                        url = restart_at.unwrap_or_else(|| first.clone());
                        phase = Phase::Relisting;
                        continue;
                    }
                };
                let mut broken = Vec::new();
                let mut items = Vec::with_capacity(page.value.len());
                for value in page.value {
                    match DriveItem::from_value(value) {
                        Ok(item) => items.push(item),
                        Err((id, message)) => {
                            let id = id.map(|i| walk.doc_id(&target.drive, &i));
                            let message = match &id {
                                Some(id) => format!("`{id}`: {message}"),
                                None => format!("an item of drive `{}`: {message}", target.drive),
                            };
                            broken.push(Failure::new(id, ErrorKind::InvalidData, message));
                        }
                    }
                }
                remember_folders(&items, &mut parents);
                // An item listed twice in a page: its last state counts (Graph's rule), before
                // any filter, so an earlier state in scope does not outlive a later one out of it.
                let items = last_states(items);
                // Folders first: a move across the scope's edge or a sharing change reaches
                // files the round does not list.
                let (below, mut deleted) = match folder_changes(&walk, &target.drive, &items, scope.as_deref(), phase, &mut parents, &mut cp).await {
                    Ok(changes) => changes,
                    Err(e) => {
                        drive_error = Some(e);
                        break 'drive;
                    }
                };
                // Only a listing is narrowed to the window: a round from a delta link is
                // exactly what changed, and a listing after a 410 must see everything.
                let window = if phase == Phase::Listing { window } else { None };
                let mut files = Vec::new();
                for item in items {
                    // The source's own tombstones (deleted, or no longer visible to the app)
                    // are deleted from the sink in stream order (an id it never held is
                    // harmless).
                    if item.deleted.is_some() && item.root.is_none() {
                        deleted.push(walk.doc_id(&target.drive, &item.id));
                        continue;
                    }
                    if window.is_some_and(|w| !item.last_modified_date_time.is_some_and(|t| w.contains(t))) {
                        continue;
                    }
                    match walk.admits(&target.drive, &item, scope.as_deref(), &mut parents).await {
                        Ok(true) => files.push(item),
                        // A file of a round of changes that is out of the scope now may have
                        // moved out of it: forget it.
                        Ok(false) if phase == Phase::Changes && scope.is_some() && walk.wants(&item) => {
                            deleted.push(walk.doc_id(&target.drive, &item.id));
                        }
                        Ok(false) => {}
                        Err(e) => {
                            drive_error = Some(e);
                            break 'drive;
                        }
                    }
                }
                let listed: HashSet<String> = files.iter().map(|f| f.id.clone()).collect();
                files.extend(below.into_iter().filter(|f| !listed.contains(&f.id)));
                let wanted: Vec<String> = files.iter().filter(|f| f.size <= walk.max).map(|f| f.id.clone()).collect();
                let mut access = match walk.access_of(&target, &wanted).await {
                    Ok(access) => access,
                    Err(e) => {
                        drive_error = Some(e);
                        break 'drive;
                    }
                };
                let pending = broken
                    .into_iter()
                    .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Item::Failed(f)))
                    .chain(files.into_iter().map(|item| {
                        let access = access.remove(&item.id);
                        walk.pending_item(&target, item, access)
                    }))
                    .collect::<Vec<_>>();
                let fetch_walk = walk.clone();
                let mut fetches = ItemFetches::start(&ctx, pending, CONCURRENCY, move |item| {
                    fetch(fetch_walk.clone(), item)
                })
                .await?;
                let mut rest = Batch::default();
                while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                    if fetches.is_done() {
                        if rest.is_empty() { rest = part } else { rest.append(part) }
                    } else {
                        // A part of the page: the checkpoint stays on this page's link. The
                        // page's deletions go with its first part, before its documents.
                        let part = part.with_deleted(std::mem::take(&mut deleted));
                        yield CheckpointedBatch::new(part, cp.clone());
                    }
                }
                if !deleted.is_empty() {
                    rest = rest.with_deleted(std::mem::take(&mut deleted));
                }
                match (page.next_link, page.delta_link) {
                    (Some(next), _) => {
                        cp.current = Some(DriveCursor { drive: target.drive.clone(), next: next.to_string(), phase });
                        url = next;
                        yield CheckpointedBatch::new(rest, cp.clone());
                    }
                    (None, Some(delta)) => {
                        cp.current = None;
                        if compact {
                            if let Some(f) = cp.finished.as_mut() {
                                f.insert(&target.drive);
                            }
                            cp.since.remove(&target.drive);
                            cp.after = Some(target.drive.clone());
                        } else {
                            cp.done.insert(target.drive.clone(), walk.stored_link(&target.drive, &delta));
                        }
                        finished_now = true;
                        cp.rekey.remove(&target.drive);
                        yield CheckpointedBatch::new(rest, cp.clone());
                        break;
                    }
                    (None, None) => {
                        drive_error = Some(Error::new(
                            ErrorKind::InvalidData,
                            format!("a delta page of drive `{}` has neither @odata.nextLink nor @odata.deltaLink", target.drive),
                        ).with_connector(name));
                        break 'drive;
                    }
                }
            }
            }
            if compact && !finished_now {
                // Not read to its end (a failure, or passed over): it keeps its start for the
                // next run, and a resume does not try it again.
                keep_start(&walk, &mut cp, &target.drive)?;
                cp.after = Some(target.drive.clone());
            }
            if let Some(e) = drive_error {
                if e.kind().ends_sync() {
                    Err(e)?;
                } else {
                    tracing::warn!(connector = name, drive = target.drive.as_str(), "drive not read to its end: {e}");
                    cp.current = None;
                    let failure = Failure::new(
                        Some(format!("{name}:drive:{}", target.drive)),
                        e.kind(),
                        format!("drive `{}` was not read to its end; the next run reads it again: {e}", target.drive),
                    );
                    yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                }
            }
        }
    }
    .boxed()
}

/// Where a known drive's round starts in the compact form: the changes since the stamp.
fn known_start(walk: &DriveWalk, cp: &DriveCheckpoint, drive: &str) -> Result<Option<url::Url>> {
    match (cp.stamp, &cp.known) {
        (Some(stamp), Some(known)) if known.contains(drive) => {
            Ok(Some(walk.stamp_link(drive, stamp)?))
        }
        _ => Ok(None),
    }
}

/// Keeps the start of `drive`, which this run does not finish, as an exception in `since`
/// (compact form): a known drive's stamp would otherwise move on with the run's.
fn keep_start(walk: &DriveWalk, cp: &mut DriveCheckpoint, drive: &str) -> Result<()> {
    if !cp.since.contains_key(drive)
        && let Some(link) = known_start(walk, cp, drive)?
    {
        cp.since
            .insert(drive.to_owned(), walk.stored_link(drive, &link));
    }
    Ok(())
}

/// What the folders of a page change beyond themselves, and the folder scope kept in `cp`.
///
/// In a round of changes, a folder now inside the scope that was not (moved in), or whose
/// sharing changed, has the files below it returned to be delivered (unchanged ones by
/// fingerprint cost no download); one that left the scope has its folders taken out of it and
/// the ids of the files below it returned to be deleted. Every round records which folders are
/// in the scope.
async fn folder_changes(
    walk: &DriveWalk,
    drive: &str,
    items: &[DriveItem],
    scope: Option<&str>,
    phase: Phase,
    parents: &mut HashMap<String, Option<String>>,
    cp: &mut DriveCheckpoint,
) -> Result<(Vec<DriveItem>, Vec<String>)> {
    let mut below = Vec::new();
    let mut gone = Vec::new();
    for item in items {
        if item.root.is_some() {
            continue;
        }
        if item.deleted.is_some() {
            if let Some(set) = cp.folders.get_mut(drive) {
                set.remove(&item.id);
            }
            continue;
        }
        if !item.is_folder() {
            continue;
        }
        let now_in = match scope {
            Some(s) => walk.in_scope(drive, s, Some(&item.id), parents).await?,
            None => true,
        };
        let was_in = scope.is_none()
            || cp
                .folders
                .get(drive)
                .is_some_and(|set| set.contains(&item.id));
        if phase == Phase::Changes {
            let moved_in = now_in && !was_in;
            let shared = now_in && item.sharing_changed();
            if moved_in || shared || (was_in && !now_in) {
                let (files, folders) = walk.below(drive, &item.id).await?;
                let files = files.into_iter().filter(|f| walk.wants(f));
                if now_in {
                    below.extend(files);
                } else {
                    gone.extend(files.map(|f| walk.doc_id(drive, &f.id)));
                }
                if scope.is_some() {
                    let set = cp.folders.entry(drive.to_owned()).or_default();
                    for f in folders {
                        if now_in {
                            set.insert(f);
                        } else {
                            set.remove(&f);
                        }
                    }
                }
            }
        }
        if scope.is_some() {
            let set = cp.folders.entry(drive.to_owned()).or_default();
            if now_in {
                set.insert(item.id.clone());
            } else {
                set.remove(&item.id);
            }
        }
    }
    Ok((below, gone))
}

/// Every file id of a fresh listing of every drive `source` names; fails, rather than come
/// back short, when a page cannot be listed. A drive Graph says is gone, locked or archived
/// (404, 410, 423) holds none of the source's documents.
pub(crate) fn list_ids(
    walk: &DriveWalk,
    source: Arc<dyn DriveSource>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let walk = walk.with_context(&ctx);
    let name = walk.source;
    async_stream::try_stream! {
        let (targets, failures) = source.targets(&walk.graph).await?;
        if let Some(f) = failures.first() {
            // A drive that could not be read would look empty: every document of it pruned.
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(name))?;
        }
        for target in targets {
            // Graph says the folder is not there (404): none of its documents are either.
            let Ok(scope) = walk.scope(&target.drive).await? else {
                continue;
            };
            let mut parents = HashMap::new();
            let first = walk.graph.drive_delta_url(&target.drive)?;
            let mut next = Some(first.clone());
            let mut restarts = 0;
            while let Some(url) = next.take() {
                ctx.cancellation().check()?;
                let delta = match walk.graph.drive_delta(&url).await {
                    Ok(delta) => delta,
                    // Gone, locked or archived (404, 410, 423): none of it is readable, so
                    // none of its documents are the source's. A drive that answers anything
                    // else still refuses the listing.
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        tracing::warn!(connector = name, drive = target.drive.as_str(), "drive not there or locked; its documents are not listed: {e}");
                        break;
                    }
                    Err(e) => Err(e)?,
                };
                let page = match delta {
                    Delta::Page(page) => page,
                    Delta::Restart { code, .. } => {
                        restarts += 1;
                        if restarts > MAX_RESTARTS {
                            Err(Error::new(ErrorKind::Unavailable, format!("Graph kept restarting drive `{}` ({code})", target.drive)).with_connector(name))?;
                        }
                        next = Some(first.clone());
                        continue;
                    }
                };
                let mut ids = Vec::new();
                let mut items = Vec::with_capacity(page.value.len());
                for value in page.value {
                    match DriveItem::from_value(value) {
                        Ok(item) => items.push(item),
                        // An unreadable item is still there: keep its document.
                        Err((Some(id), _)) => ids.push(SlimDocument::new(walk.doc_id(&target.drive, &id))),
                        Err((None, message)) => Err(Error::new(ErrorKind::InvalidData, message).with_connector(name))?,
                    }
                }
                remember_folders(&items, &mut parents);
                for item in &items {
                    if walk.admits(&target.drive, item, scope.as_deref(), &mut parents).await? {
                        ids.push(SlimDocument::new(walk.doc_id(&target.drive, &item.id)));
                    }
                }
                if !ids.is_empty() {
                    yield ids;
                }
                next = page.next_link;
            }
        }
    }
    .boxed()
}

/// The files with these document ids again, by their current state; an id that is not this
/// source's, whose file is gone or no longer the source's, yields nothing.
pub(crate) fn refetch(
    walk: &DriveWalk,
    source: Arc<dyn DriveSource>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let walk = walk.with_context(&ctx);
    async_stream::try_stream! {
        let (targets, _) = source.targets(&walk.graph).await?;
        let owners: HashMap<String, Arc<DriveTarget>> =
            targets.into_iter().map(|t| (t.drive.clone(), Arc::new(t))).collect();
        let mut scopes: HashMap<String, Option<Option<String>>> = HashMap::new();
        let mut parents = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut pending = Vec::new();
            for id in chunk {
                let Some((drive, item_id)) = walk.parse_id(id) else { continue };
                let Some(target) = owners.get(drive) else { continue };
                if !scopes.contains_key(drive) {
                    let scope = walk.scope(drive).await?.ok();
                    scopes.insert(drive.to_owned(), scope);
                }
                // `None`: the drive has no scope folder any more, so nothing of it is the
                // source's (never the whole drive).
                let Some(scope) = scopes.get(drive).cloned().flatten() else { continue };
                let Some(item) = walk.graph.drive_item(drive, item_id).await? else { continue };
                if !walk.admits(drive, &item, scope.as_deref(), &mut parents).await? {
                    continue;
                }
                let access = walk.access_of(target, std::slice::from_ref(&item.id)).await?.remove(&item.id);
                pending.push(walk.pending_item(target, item, access));
            }
            let batch = fetch_items(&ctx, pending, CONCURRENCY, |item| fetch(walk.clone(), item)).await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}
