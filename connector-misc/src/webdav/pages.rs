//! The walk's pages as checkpointed batches, and the id listing for prune.
//!
//! Each file of a walk page becomes a [`PendingItem`] with the version its listing shows
//! (`getetag`, else `getcontentlength` and `getlastmodified`), and core's [`ItemFetches`]
//! does the rest: one fingerprint lookup per page, unchanged files reported without a GET,
//! the others downloaded a few at a time in walk order, and the page handed on in parts once
//! its documents pass [`PAGE_BYTES`].

use std::collections::BTreeMap;
use std::sync::Arc;

use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items, item_failure};
use connector_core::reexports::chrono::TimeDelta;
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::{FolderTags, WebdavCheckpoint};
use super::client::{Dav, FolderWalk};
use super::convert;
use super::model::{Listed, Member, Page};

/// Files downloaded at the same time within a page.
const READ_CONCURRENCY: usize = 4;

/// Content bytes after which a page is handed on in parts (a single larger file goes alone).
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The walk from `from` on, each page with the checkpoint valid after it.
pub(super) fn checkpointed(
    dav: &Arc<Dav>,
    max: u64,
    from: WebdavCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<WebdavCheckpoint>>> {
    let http = dav.http.with_context(&ctx);
    let remembers = ctx.fingerprints().remembers();
    // The folder ETags of the last completed run are skipped by only when the lookup
    // remembers what that run delivered (an incremental run), and only if they were taken
    // under the same filter; this run's own carry on through a resume.
    let filter = dav.filter_key.clone();
    let tags_of = |tags: &FolderTags| {
        if tags.filter == filter {
            tags.tags.clone()
        } else {
            BTreeMap::new()
        }
    };
    let folders = FolderWalk {
        known: if remembers {
            tags_of(&from.previous_folders)
        } else {
            BTreeMap::new()
        },
        seen: tags_of(&from.folders),
    };
    let pages = dav.pages(http.clone(), from.after.clone(), Some(folders));
    let dav = Arc::clone(dav);
    async_stream::try_stream! {
        let mut pages = pages;
        let checkpoint = |after: Option<String>, seen: &BTreeMap<String, String>| WebdavCheckpoint {
            after,
            previous_folders: from.previous_folders.clone(),
            folders: FolderTags {
                filter: filter.clone(),
                tags: seen.clone(),
            },
        };
        let mut handed_on = from.clone();
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let (page, seen): (Page, BTreeMap<String, String>) = page?;
            // After the page, the walk resumes after its last file, whatever became of it.
            let last = page.iter().rev().find_map(|item| match item {
                Listed::File(member) => Some(member.rel.clone()),
                Listed::Problem(_) => None,
            });
            let remembers = ctx.fingerprints().remembers();
            let pending = page
                .into_iter()
                .filter_map(|item| pending(&dav, item, window, remembers, max));
            let fetch_dav = Arc::clone(&dav);
            let fetch_http = http.clone();
            let stats = Arc::clone(ctx.stats());
            let mut fetches = ItemFetches::start(&ctx, pending, READ_CONCURRENCY, move |item| {
                let read = read(Arc::clone(&fetch_dav), fetch_http.clone(), item, max);
                let stats = Arc::clone(&stats);
                async move {
                    let outcome = read.await;
                    // Nothing: the file is gone since its folder was listed (404).
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
                let after = part
                    .documents
                    .last()
                    .and_then(|d| d.metadata.get("path"))
                    .and_then(|p| p.as_str().map(str::to_owned));
                match after {
                    Some(after) if !fetches.is_done() => {
                        handed_on = checkpoint(Some(after), &seen);
                        yield CheckpointedBatch::new(part, handed_on.clone());
                    }
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            let next = checkpoint(last.or_else(|| handed_on.after.clone()), &seen);
            if !rest.is_empty() || next != handed_on {
                handed_on = next.clone();
                yield CheckpointedBatch::new(rest, next);
            }
        }
    }
    .boxed()
}

/// Every id a load could produce: the files of the walk, whatever their size or time. Fails,
/// rather than come back short, when a folder cannot be listed or a member the server could
/// not describe may hide files.
pub(super) fn list_ids(
    dav: &Arc<Dav>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let http = dav.http.with_context(&ctx);
    let mut pages = dav.pages(http, None, None);
    let dav = Arc::clone(dav);
    async_stream::try_stream! {
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let mut ids = Vec::new();
            for item in page?.0 {
                match item {
                    Listed::File(member) => ids.push(SlimDocument::new(dav.document_id(&member.rel))),
                    Listed::Problem(p) if p.hides_files => Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("cannot list every file, so nothing may be pruned: {}: {}", p.path, p.message),
                    )
                    .with_connector(SOURCE))?,
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

/// Ids refetched per batch.
const REFETCH_CHUNK: usize = 64;

/// The files with these ids, read again (the host retries what failed last time first):
/// each one's PROPFIND `Depth: 0` for its version and length (so the size cap holds before any
/// download), then its GET. An id that is not this connector's, lies outside `remote_path` or
/// is no longer a file the walk reads yields nothing, as does a file that is gone (404) or is
/// now a folder; prune deals with those.
pub(super) fn refetch(
    dav: &Arc<Dav>,
    max: u64,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let dav = Arc::clone(dav);
    async_stream::try_stream! {
        let http = dav.http.with_context(&ctx);
        for chunk in ids.chunks(REFETCH_CHUNK) {
            ctx.cancellation().check()?;
            let pending = chunk
                .iter()
                .filter_map(|id| dav.rel_of_id(id).map(|rel| PendingItem::new(id.as_str(), rel)));
            yield fetch_items(&ctx, pending, READ_CONCURRENCY, |rel| {
                refetch_one(Arc::clone(&dav), http.clone(), rel, max)
            })
            .await?;
        }
    }
    .boxed()
}

/// One refetched file: its listing (`Depth: 0`), then [`read`].
async fn refetch_one(
    dav: Arc<Dav>,
    http: connector_core::http::HttpClient,
    rel: String,
    max: u64,
) -> Result<Option<Outcome>> {
    let id = dav.document_id(&rel);
    let Some(url) = dav.file_url(&rel) else {
        return Ok(None);
    };
    let resource = match dav.propfind(&http, &url, "0").await {
        Ok(resources) => resources.into_iter().next(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Ok(Some(item_failure(id, e)?.with_link(url).into())),
    };
    let Some(resource) = resource else {
        let e = Error::invalid_data(format!("{rel}: the PROPFIND answer lists nothing"))
            .with_connector(SOURCE);
        return Ok(Some(item_failure(id, e)?.with_link(url).into()));
    };
    if resource.collection {
        return Ok(None);
    }
    if let Some(status) = &resource.error {
        let e = Error::invalid_data(format!("{rel}: the server could not describe it: {status}"))
            .with_connector(SOURCE);
        return Ok(Some(item_failure(id, e)?.with_link(url).into()));
    }
    let member = Member { rel, url, resource };
    read(dav, http, Listed::File(Box::new(member)), max).await
}

/// A walk item as a page item: a file with its listed version when it is within the size cap
/// (so an unchanged one costs no GET), or anything `read` turns into a failure.
///
/// The window does not decide for a file with a version token (ETag, or length and time)
/// when the host's fingerprint lookup [`remembers`](connector_core::FingerprintLookup::remembers)
/// earlier runs: `getlastmodified` is the file's own mtime, which desktop clients
/// (`X-OC-MTIME`), `rclone`, `cp -p` and `MOVE` keep, so a file uploaded or moved now can
/// carry an mtime long before the window (RAGFlow #19955). The tree is walked anyway; the
/// lookup finds a new id or a new version and skips the rest without a GET. A file listed
/// without any token, or any file when nothing is remembered (a bare `poll`), is held to the
/// window, widened to whole seconds since HTTP dates are.
fn pending(
    dav: &Dav,
    item: Listed,
    window: Option<TimeWindow>,
    remembers: bool,
    max: u64,
) -> Option<PendingItem<Listed>> {
    let (id, version) = match &item {
        Listed::Problem(problem) => (problem.path.clone(), None),
        Listed::File(member) => {
            let r = &member.resource;
            let token = r.version();
            if (token.is_none() || !remembers)
                && let (Some(w), Some(at)) = (window, r.modified())
                && !w.contains_truncated(at, TimeDelta::seconds(1))
            {
                return None;
            }
            let fits = r.length.is_none_or(|len| len <= max);
            let version = if fits { token } else { None };
            (dav.document_id(&member.rel), version)
        }
    };
    let pending = PendingItem::new(id, item);
    Some(match version {
        Some(version) => pending.with_version(&version),
        None => pending,
    })
}

/// One walk item's outcome: its document or its failure.
async fn read(
    dav: Arc<Dav>,
    http: connector_core::http::HttpClient,
    item: Listed,
    max: u64,
) -> Result<Option<Outcome>> {
    let member = match item {
        Listed::File(member) => *member,
        Listed::Problem(problem) => return Ok(Some(convert::problem_failure(&problem).into())),
    };
    if let Some(len) = member.resource.length.filter(|len| *len > max) {
        return Ok(Some(
            convert::too_large(&dav, &member, Some(len), max).into(),
        ));
    }
    Ok(Some(match dav.get(&http, &member.url, max).await {
        Ok(body) => convert::document(&dav, member, body),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => convert::download_failure(&dav, &member, max, e)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webdav::model::Resource;
    use connector_core::http::HttpClient;

    fn dav() -> Dav {
        let root = url::Url::parse("https://h/dav/").unwrap_or_else(|e| panic!("{e}"));
        Dav {
            http: HttpClient::builder(SOURCE)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            base_id: "https://h/dav".to_owned(),
            remote: Vec::new(),
            root,
            page_size: 10,
            allow_images: false,
            extensions: Vec::new(),
            listing_timeout: std::time::Duration::from_secs(1),
            web_root: None,
            folder_skip: crate::webdav::FolderSkip::Auto,
            filter_key: String::new(),
        }
    }

    fn listed(etag: Option<&str>, length: Option<u64>) -> Listed {
        Listed::File(Box::new(Member {
            rel: "a.md".to_owned(),
            url: url::Url::parse("https://h/dav/a.md").unwrap_or_else(|e| panic!("{e}")),
            resource: Resource {
                href: "/dav/a.md".to_owned(),
                etag: etag.map(str::to_owned),
                length,
                last_modified: Some("Thu, 15 Jan 2026 10:00:00 GMT".to_owned()),
                ..Resource::default()
            },
        }))
    }

    fn window(start: &str, end: &str) -> TimeWindow {
        let parse = |t: &str| t.parse().unwrap_or_else(|e| panic!("{e}"));
        TimeWindow::new(parse(start), parse(end)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn whole_second_times_are_kept_by_a_window_starting_within_their_second() {
        // Written at 10:00:00.700, listed as 10:00:00; the window starts at .500.
        let w = window("2026-01-15T10:00:00.500Z", "2026-01-15T11:00:00Z");
        assert!(pending(&dav(), listed(None, None), Some(w), true, 100).is_some());
        let later = window("2026-01-15T10:00:01Z", "2026-01-15T11:00:00Z");
        assert!(pending(&dav(), listed(None, None), Some(later), true, 100).is_none());
    }

    #[test]
    fn a_versioned_file_before_the_window_goes_to_the_lookup_when_it_remembers() {
        let w = window("2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z");
        let item = pending(&dav(), listed(Some("\"e1\""), Some(3)), Some(w), true, 100);
        assert!(item.is_some(), "the fingerprint decides, not the mtime");
        // A bare poll (nothing remembered) and a file without any version keep to the window.
        assert!(pending(&dav(), listed(Some("\"e1\""), Some(3)), Some(w), false, 100).is_none());
        assert!(pending(&dav(), listed(None, None), Some(w), true, 100).is_none());
    }
}
