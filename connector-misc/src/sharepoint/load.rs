//! The streams: the libraries through the shared drive walk, then the site pages.

use std::collections::HashMap;
use std::sync::Arc;

use connector_core::pages::{PendingItem, fetch_items};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;

use super::SOURCE;
use super::checkpoint::{PagesCursor, SharepointCheckpoint};
use super::pages::{self, SitePage};
use super::sites::{self, Site, site_segment};
use crate::graph::drive_walk::{self, DriveTarget, DriveWalk, Resolved, failed};
use crate::graph::{Drive, GraphClient};

/// Pages converted at the same time (a page whose canvas Graph would not expand on the
/// listing is one request).
const CONCURRENCY: usize = 4;

/// What a sync reads and how; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Reader {
    pub(super) walk: DriveWalk,
    /// The configured site URLs; empty: every site.
    pub(super) urls: Arc<Vec<String>>,
    /// `include_site_documents`.
    pub(super) documents: bool,
    /// `include_site_pages`.
    pub(super) pages: bool,
}

/// Who may read a site's pages: what the root of its default library grants (pages inherit
/// the site's permissions, as that root does); `None` without `include_permissions`; nobody
/// when unreadable (fail closed).
async fn site_access(walk: &DriveWalk, site: &Site) -> Result<Option<Access>> {
    if !walk.permissions {
        return Ok(None);
    }
    let url = walk.graph.url(
        &format!("sites/{}/drive", site_segment(&site.id)),
        &[("$select", "id,sharePointIds")],
    )?;
    let drive = match walk.graph.get_opt::<Drive>(&url).await {
        Ok(Some(drive)) => drive,
        Ok(None) => return Ok(Some(Access::restricted(Vec::new(), Vec::new()))),
        Err(e) if e.kind().ends_sync() => return Err(e),
        Err(e) => {
            tracing::warn!(
                connector = SOURCE,
                site = site.id.as_str(),
                "the site's permissions are not readable; its pages are readable by nobody: {e}"
            );
            return Ok(Some(Access::restricted(Vec::new(), Vec::new())));
        }
    };
    let target = DriveTarget {
        owner: None,
        site: drive
            .sharepoint_ids
            .and_then(|s| s.site_id)
            .unwrap_or_else(|| site.collection().to_owned()),
        drive: drive.id,
    };
    drive_walk::root_access(walk, &target).await
}

/// A page of a listing as an item to convert: its document, or its failure.
enum PageItem {
    Page(Box<SitePage>),
    /// Listed without its canvas: asked for again with it.
    Bare(String),
    Failed(Failure),
}

/// The items of one listing page, with their versions (for the fingerprint lookup).
fn page_items(
    site: &Site,
    values: Vec<serde_json::Value>,
    bare: bool,
    window: Option<TimeWindow>,
    access: Option<&Access>,
) -> Vec<PendingItem<PageItem>> {
    let mut out = Vec::new();
    for value in values {
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        let page: SitePage = match serde_json::from_value(value) {
            Ok(page) => page,
            Err(e) => {
                let doc = id.map(|i| pages::page_id(&site.id, &i));
                let failure = Failure::new(
                    doc.clone(),
                    ErrorKind::InvalidData,
                    format!("a page of site `{}` cannot be read: {e}", site.shown()),
                );
                out.push(PendingItem::new(
                    doc.unwrap_or_default(),
                    PageItem::Failed(failure),
                ));
                continue;
            }
        };
        if window.is_some_and(|w| !page.last_modified_date_time.is_some_and(|t| w.contains(t))) {
            continue;
        }
        let version = pages::page_version(&page, access);
        let item = if bare {
            PageItem::Bare(page.id.clone())
        } else {
            PageItem::Page(Box::new(page.clone()))
        };
        out.push(PendingItem::new(pages::page_id(&site.id, &page.id), item).with_version(&version));
    }
    out
}

/// One page item's outcome.
async fn convert(
    graph: GraphClient,
    site: Arc<Site>,
    access: Option<Access>,
    item: PageItem,
) -> Result<Option<connector_core::pages::Outcome>> {
    let page = match item {
        PageItem::Failed(f) => return Ok(Some(f.into())),
        PageItem::Page(page) => *page,
        PageItem::Bare(id) => match pages::page(&graph, &site.id, &id).await? {
            Some(page) => page,
            None => return Ok(None),
        },
    };
    Ok(Some(pages::document(&site, &page, access).into()))
}

/// The libraries of the sites, then their pages, from `from` on.
pub(super) fn checkpointed(
    reader: &Reader,
    from: SharepointCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<SharepointCheckpoint>>> {
    let reader = reader.clone();
    let walk = reader.walk.with_context(&ctx);
    async_stream::try_stream! {
        let (found, site_failures) = sites::sites(&walk.graph, &reader.urls, None).await?;
        let mut cp = from;
        if reader.documents {
            let (targets, mut failures) = sites::libraries(&walk.graph, &found).await?;
            let mut all = site_failures;
            all.append(&mut failures);
            let mut inner = drive_walk::checkpointed(&walk, Arc::new(Resolved(targets, all)), cp.drives.clone(), window, ctx.clone());
            while let Some(part) = inner.next().await {
                let part = part?;
                cp.drives = part.checkpoint;
                yield CheckpointedBatch::new(part.batch, cp.clone());
            }
        } else if !site_failures.is_empty() {
            yield CheckpointedBatch::new(failed(site_failures), cp.clone());
        }
        if reader.pages {
            for site in found {
                if cp.pages_done.contains(&site.id) {
                    continue;
                }
                let site = Arc::new(site);
                let access = site_access(&walk, &site).await?;
                let (mut url, mut bare) = match &cp.pages {
                    Some(c) if c.site == site.id => (
                        Url::parse(&c.next).map_err(|e| Error::new(ErrorKind::Checkpoint, format!("a stored page link is not a URL: {e}")).with_connector(SOURCE))?,
                        c.bare,
                    ),
                    _ => (pages::pages_url(&walk.graph, &site.id)?, false),
                };
                loop {
                    ctx.cancellation().check()?;
                    cp.pages = Some(PagesCursor { site: site.id.clone(), next: url.to_string(), bare });
                    let listing = match pages::listing(&walk.graph, &url).await {
                        Ok(listing) => listing,
                        // A site without the pages feature (a classic site): no pages.
                        Err(e) if e.kind() == ErrorKind::NotFound => break,
                        // Graph answers some sites' listings with 400 when asked to expand
                        // canvases: list without them and ask for each page with its own.
                        Err(e) if e.kind() == ErrorKind::InvalidData && !bare => {
                            tracing::warn!(connector = SOURCE, site = site.id.as_str(), "canvases not expanded on the page listing, each page is asked for: {e}");
                            url = pages::bare_pages_url(&walk.graph, &site.id)?;
                            bare = true;
                            continue;
                        }
                        Err(e) if e.kind().ends_sync() => Err(e)?,
                        Err(e) => {
                            let failure = Failure::new(
                                Some(format!("{SOURCE}:pages:{}", site.id)),
                                e.kind(),
                                format!("the pages of site `{}` could not be listed; the next run lists them again: {e}", site.shown()),
                            );
                            yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                            break;
                        }
                    };
                    let pending = page_items(&site, listing.value, bare, window, access.as_ref());
                    let (graph, s, a) = (walk.graph.clone(), Arc::clone(&site), access.clone());
                    let batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                        convert(graph.clone(), Arc::clone(&s), a.clone(), item)
                    })
                    .await?;
                    match listing.next_link {
                        Some(next) => {
                            cp.pages = Some(PagesCursor { site: site.id.clone(), next: next.to_string(), bare });
                            url = next;
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                        None => {
                            cp.pages = None;
                            cp.pages_done.insert(site.id.clone());
                            yield CheckpointedBatch::new(batch, cp.clone());
                            break;
                        }
                    }
                }
                if cp.pages.as_ref().is_some_and(|c| c.site == site.id) {
                    // Left after a failure or a site without pages: the next site starts fresh.
                    cp.pages = None;
                }
            }
        }
    }
    .boxed()
}

/// Every file id of a fresh listing of every library, then every page id; fails, rather than
/// come back short, when a site, library or page listing cannot be read.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = reader.clone();
    let walk = reader.walk.with_context(&ctx);
    async_stream::try_stream! {
        let (found, site_failures) = sites::sites(&walk.graph, &reader.urls, None).await?;
        if let Some(f) = site_failures.first() {
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(SOURCE))?;
        }
        if reader.documents {
            let (targets, failures) = sites::libraries(&walk.graph, &found).await?;
            let mut inner = drive_walk::list_ids(&walk, Arc::new(Resolved(targets, failures)), ctx.clone());
            while let Some(ids) = inner.next().await {
                yield ids?;
            }
        }
        if reader.pages {
            for site in &found {
                let mut next = Some(pages::bare_pages_url(&walk.graph, &site.id)?);
                while let Some(url) = next.take() {
                    ctx.cancellation().check()?;
                    let listing = match pages::listing(&walk.graph, &url).await {
                        Ok(listing) => listing,
                        Err(e) if e.kind() == ErrorKind::NotFound => break,
                        Err(e) => Err(e)?,
                    };
                    let ids: Vec<SlimDocument> = listing
                        .value
                        .iter()
                        .filter_map(|v| v.get("id").and_then(|i| i.as_str()))
                        .map(|i| SlimDocument::new(pages::page_id(&site.id, i)))
                        .collect();
                    if !ids.is_empty() {
                        yield ids;
                    }
                    next = listing.next_link;
                }
            }
        }
    }
    .boxed()
}

/// These files and pages again, by their current state; an id that is not SharePoint's, or
/// whose item is gone, yields nothing.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = reader.clone();
    let walk = reader.walk.with_context(&ctx);
    async_stream::try_stream! {
        let (found, _) = sites::sites(&walk.graph, &reader.urls, None).await?;
        let (page_ids, file_ids): (Vec<String>, Vec<String>) =
            ids.into_iter().partition(|id| pages::parse_page_id(id).is_some());
        if reader.documents && !file_ids.is_empty() {
            let (targets, failures) = sites::libraries(&walk.graph, &found).await?;
            let mut inner = drive_walk::refetch(&walk, Arc::new(Resolved(targets, failures)), file_ids, ctx.clone());
            while let Some(batch) = inner.next().await {
                yield batch?;
            }
        }
        if reader.pages && !page_ids.is_empty() {
            let by_id: HashMap<String, Arc<Site>> =
                found.into_iter().map(|s| (s.id.clone(), Arc::new(s))).collect();
            let mut access: HashMap<String, Option<Access>> = HashMap::new();
            let mut pending = Vec::new();
            for id in &page_ids {
                let Some((site_id, page_id)) = pages::parse_page_id(id) else { continue };
                let Some(site) = by_id.get(site_id) else { continue };
                if !access.contains_key(site_id) {
                    access.insert(site_id.to_owned(), site_access(&walk, site).await?);
                }
                pending.push((Arc::clone(site), page_id.to_owned()));
            }
            let graph = walk.graph.clone();
            let items = pending.into_iter().map(|(site, page)| {
                PendingItem::new(pages::page_id(&site.id, &page), (site, page))
            });
            let batch = fetch_items(&ctx, items, CONCURRENCY, |(site, page): (Arc<Site>, String)| {
                let a = access.get(&site.id).cloned().flatten();
                convert(graph.clone(), site, a, PageItem::Bare(page))
            })
            .await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}
