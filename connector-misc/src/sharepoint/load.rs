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
use super::sites::{self, Site};
use crate::graph::drive_walk::{self, DriveTarget, DriveWalk, Resolved, failed};

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
    /// `include_subsites`.
    pub(super) subsites: bool,
}

/// The sites to read: the configured ones (or every site collection) and, with
/// `include_subsites`, every subsite below them; a failure for each that cannot be read.
async fn resolve(walk: &DriveWalk, reader: &Reader) -> Result<(Vec<Site>, Vec<Failure>)> {
    let (found, mut failures) = sites::sites(&walk.graph, &reader.urls, None).await?;
    if !reader.subsites {
        return Ok((found, failures));
    }
    let (all, mut more) = sites::with_subsites(&walk.graph, found).await?;
    failures.append(&mut more);
    Ok((all, failures))
}

/// Where a site's pages get who may read them.
#[derive(Debug, Clone)]
pub(super) enum PagesAccess {
    /// `include_permissions: false`: no access set.
    Off,
    /// Each page from its own file in the Site Pages library: a page with permissions of its
    /// own (a draft shared with two people) gets those, never the site's wider ones.
    Library(DriveTarget),
    /// The Site Pages library cannot be read or found: readable by nobody (fail closed).
    Nobody,
}

/// Where the pages of `site` get their access from.
async fn pages_access(walk: &DriveWalk, site: &Site) -> Result<PagesAccess> {
    if !walk.permissions {
        return Ok(PagesAccess::Off);
    }
    match sites::pages_library(&walk.graph, site).await {
        Ok(Some(target)) => Ok(PagesAccess::Library(target)),
        Ok(None) => {
            tracing::warn!(
                connector = SOURCE,
                site = site.id.as_str(),
                "the site has no Site Pages library; its pages are readable by nobody"
            );
            Ok(PagesAccess::Nobody)
        }
        Err(e) if e.kind().ends_sync() => Err(e),
        Err(e) => {
            tracing::warn!(
                connector = SOURCE,
                site = site.id.as_str(),
                "the Site Pages library is not readable; the site's pages are readable by nobody: {e}"
            );
            Ok(PagesAccess::Nobody)
        }
    }
}

/// Who may read each of `pages` of `site`, in order.
async fn access_of_pages(
    walk: &DriveWalk,
    site: &Site,
    how: &PagesAccess,
    pages: &[&SitePage],
) -> Result<Vec<Option<Access>>> {
    match how {
        PagesAccess::Off => Ok(vec![None; pages.len()]),
        PagesAccess::Nobody => Ok(vec![
            Some(Access::restricted(Vec::new(), Vec::new()));
            pages.len()
        ]),
        PagesAccess::Library(target) => {
            let paths: Vec<String> = pages.iter().map(|p| pages::library_path(site, p)).collect();
            Ok(drive_walk::path_access(walk, target, &paths)
                .await?
                .into_iter()
                .map(Some)
                .collect())
        }
    }
}

/// A page of a listing as an item to convert: its document, or its failure.
enum PageItem {
    Page(Box<SitePage>, Option<Access>),
    /// Listed without its canvas: asked for again with it.
    Bare(String, Option<Access>),
    /// Named by a refetch: asked for, then its access read.
    Lookup(String),
    Failed(Failure),
}

/// The items of one listing page, with their versions (for the fingerprint lookup).
async fn page_items(
    walk: &DriveWalk,
    site: &Site,
    values: Vec<serde_json::Value>,
    bare: bool,
    window: Option<TimeWindow>,
    how: &PagesAccess,
) -> Result<Vec<PendingItem<PageItem>>> {
    let mut out = Vec::new();
    let mut listed = Vec::new();
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
        listed.push(page);
    }
    let refs: Vec<&SitePage> = listed.iter().collect();
    let access = access_of_pages(walk, site, how, &refs).await?;
    for (page, access) in listed.into_iter().zip(access) {
        let version = pages::page_version(&page, access.as_ref());
        let id = pages::page_id(&site.id, &page.id);
        let item = if bare {
            PageItem::Bare(page.id, access)
        } else {
            PageItem::Page(Box::new(page), access)
        };
        out.push(PendingItem::new(id, item).with_version(&version));
    }
    Ok(out)
}

/// One page item's outcome.
async fn convert(
    walk: DriveWalk,
    site: Arc<Site>,
    how: Arc<PagesAccess>,
    item: PageItem,
) -> Result<Option<connector_core::pages::Outcome>> {
    let (page, access) = match item {
        PageItem::Failed(f) => return Ok(Some(f.into())),
        PageItem::Page(page, access) => (*page, access),
        PageItem::Bare(id, access) => match pages::page(&walk.graph, &site.id, &id).await? {
            Some(page) => (page, access),
            None => return Ok(None),
        },
        PageItem::Lookup(id) => match pages::page(&walk.graph, &site.id, &id).await? {
            Some(page) => {
                let access = access_of_pages(&walk, &site, &how, &[&page])
                    .await?
                    .pop()
                    .flatten();
                (page, access)
            }
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
        let (found, site_failures) = resolve(&walk, &reader).await?;
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
            // A site no longer read (gone, or out of the config) leaves its pages to prune.
            let read: std::collections::HashSet<String> = found.iter().map(|s| s.id.clone()).collect();
            cp.pages_known.retain(|site, _| read.contains(site));
            for site in found {
                if cp.pages_done.contains(&site.id) {
                    continue;
                }
                let site = Arc::new(site);
                let how = Arc::new(pages_access(&walk, &site).await?);
                let (mut url, mut bare) = match &cp.pages {
                    Some(c) if c.site == site.id => (
                        Url::parse(&c.next).map_err(|e| Error::new(ErrorKind::Checkpoint, format!("a stored page link is not a URL: {e}")).with_connector(SOURCE))?,
                        c.bare,
                    ),
                    _ => {
                        cp.pages_listed.clear();
                        (pages::pages_url(&walk.graph, &site.id)?, false)
                    }
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
                    // Every page listed, whatever the window: the ids tell the deleted ones.
                    cp.pages_listed.extend(
                        listing.value.iter().filter_map(|v| v.get("id").and_then(|i| i.as_str())).map(str::to_owned),
                    );
                    let pending = page_items(&walk, &site, listing.value, bare, window, &how).await?;
                    let (w, s, h) = (walk.clone(), Arc::clone(&site), Arc::clone(&how));
                    let batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                        convert(w.clone(), Arc::clone(&s), Arc::clone(&h), item)
                    })
                    .await?;
                    match listing.next_link {
                        Some(next) => {
                            cp.pages = Some(PagesCursor { site: site.id.clone(), next: next.to_string(), bare });
                            url = next;
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                        None => {
                            // The whole listing is read: a page the last one returned and
                            // this one did not was deleted.
                            let gone: Vec<String> = cp.end_listing(&site.id).iter().map(|p| pages::page_id(&site.id, p)).collect();
                            cp.pages = None;
                            cp.pages_done.insert(site.id.clone());
                            yield CheckpointedBatch::new(batch.with_deleted(gone), cp.clone());
                            break;
                        }
                    }
                }
                if cp.pages.as_ref().is_some_and(|c| c.site == site.id) {
                    // Left after a failure or a site without pages: the next site starts fresh,
                    // and this one's known pages stay for a listing that ends.
                    cp.pages = None;
                    cp.pages_listed.clear();
                }
            }
        }
    }
    .boxed()
}

/// Every file id of a fresh listing of every library, then every page id; fails, rather than
/// come back short, when a site, library or page listing cannot be read. A site or library
/// gone, locked or archived (404, 410, 423) holds none of the source's documents: one archived
/// site of a tenant does not keep prune from every other.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = reader.clone();
    let walk = reader.walk.with_context(&ctx);
    async_stream::try_stream! {
        let (found, site_failures) = resolve(&walk, &reader).await?;
        if let Some(f) = site_failures.first() {
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(SOURCE))?;
        }
        if reader.documents {
            let (targets, mut failures) = sites::libraries(&walk.graph, &found).await?;
            // A site gone, locked or archived since it was listed holds none of the source's
            // documents; any other failure leaves the listing incomplete.
            failures.retain(|f| f.kind != ErrorKind::NotFound);
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
        let (found, _) = resolve(&walk, &reader).await?;
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
            let mut how: HashMap<String, Arc<PagesAccess>> = HashMap::new();
            let mut pending = Vec::new();
            for id in &page_ids {
                let Some((site_id, page_id)) = pages::parse_page_id(id) else { continue };
                let Some(site) = by_id.get(site_id) else { continue };
                if !how.contains_key(site_id) {
                    how.insert(site_id.to_owned(), Arc::new(pages_access(&walk, site).await?));
                }
                pending.push((Arc::clone(site), page_id.to_owned()));
            }
            let items = pending.into_iter().map(|(site, page)| {
                PendingItem::new(pages::page_id(&site.id, &page), (site, page))
            });
            let batch = fetch_items(&ctx, items, CONCURRENCY, |(site, page): (Arc<Site>, String)| {
                let h = how.get(&site.id).cloned().unwrap_or_else(|| Arc::new(PagesAccess::Nobody));
                convert(walk.clone(), site, h, PageItem::Lookup(page))
            })
            .await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}
