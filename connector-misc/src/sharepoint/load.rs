//! The streams: the libraries through the shared drive walk, then the site pages.

use std::collections::{HashMap, HashSet};
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
use super::checkpoint::{ListsCursor, PagesCursor, SharepointCheckpoint};
use super::lists;
use super::pages::{self, SitePage};
use super::sites::{self, Site};
use crate::graph::drive_walk::{
    self, COMPACT_ABOVE, DriveTarget, DriveWalk, Resolved, STAMP_MARGIN, failed,
};
use crate::graph::{Delta, DriveItem};

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
    /// `include_lists`.
    pub(super) lists: bool,
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

/// Pages a windowed run takes whatever their `lastModifiedDateTime` (review-sharepoint #9):
/// those whose file in the Site Pages library changed since the window's start, sharing
/// included, which leaves the page's own time alone.
#[derive(Debug, Default)]
enum Touched {
    /// A run without a window, or the library could not be asked: the window alone.
    #[default]
    None,
    /// The files (by name) the library's round since the window's start listed.
    Names(HashSet<String>),
    /// The library's root or a folder changed its sharing: every page's access may have.
    All,
}

impl Touched {
    fn contains(&self, site: &Site, page: &SitePage) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Names(names) => {
                let path = pages::library_path(site, page);
                let name = path.rsplit('/').next().unwrap_or(&path);
                names.contains(&name.to_lowercase())
            }
        }
    }
}

/// What of the Site Pages library changed since the window's start: one delta round from
/// Graph's timestamp token, asking for sharing changes (`Prefer: deltashowsharingchanges,
/// hierarchicalsharing`), so a page shared or unshared reaches a windowed run though its
/// time did not move. No state is kept: the window says since when. Graph reports every
/// sharing change only to an app with `Sites.FullControl.All` (with `Sites.Read.All` some
/// are left out, and those pages wait for a full run or an edit). A round that fails leaves
/// the window alone deciding.
async fn touched_pages(
    walk: &DriveWalk,
    how: &PagesAccess,
    window: Option<TimeWindow>,
) -> Result<Touched> {
    let (Some(window), PagesAccess::Library(target)) = (window, how) else {
        return Ok(Touched::None);
    };
    let mut names = HashSet::new();
    let mut url = walk.stamp_link(&target.drive, window.start - STAMP_MARGIN)?;
    loop {
        let page = match walk.graph.drive_delta(&url).await {
            Ok(Delta::Page(page)) => page,
            Ok(Delta::Restart { .. }) => return Ok(Touched::None),
            Err(e) if e.kind().ends_sync() => return Err(e),
            Err(e) => {
                tracing::warn!(
                    connector = SOURCE,
                    drive = target.drive.as_str(),
                    "the Site Pages library's changes could not be read; pages are taken by their time alone: {e}"
                );
                return Ok(Touched::None);
            }
        };
        for value in page.value {
            let Ok(item) = DriveItem::from_value(value) else {
                continue;
            };
            if item.is_file() {
                names.insert(item.name.to_lowercase());
            } else if item.sharing_changed() && (item.root.is_some() || item.is_folder()) {
                return Ok(Touched::All);
            }
        }
        match page.next_link {
            Some(next) => url = next,
            None => return Ok(Touched::Names(names)),
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
    touched: &Touched,
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
        if window.is_some_and(|w| !page.last_modified_date_time.is_some_and(|t| w.contains(t)))
            && !touched.contains(site, &page)
        {
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
            cp.retain_sites(found.iter().map(|s| s.id.as_str()));
            // The compact form past COMPACT_ABOVE sites (a run begun in one form ends in it):
            // sites in the order of their ids, the position as the last one, the known pages
            // packed (see SharepointCheckpoint).
            let compact = cp.pages_after.is_some()
                || (cp.pages_done.is_empty() && found.len() > COMPACT_ABOVE);
            let mut in_order = found.clone();
            if compact {
                in_order.sort_by(|a, b| a.id.cmp(&b.id));
            }
            for site in in_order {
                if cp.pages_done.contains(&site.id)
                    || (compact && cp.pages_after.as_deref().is_some_and(|a| site.id.as_str() <= a))
                {
                    continue;
                }
                let site = Arc::new(site);
                let how = Arc::new(pages_access(&walk, &site).await?);
                let touched = touched_pages(&walk, &how, window).await?;
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
                    let pending = page_items(&walk, &site, listing.value, bare, window, &how, &touched).await?;
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
                            let gone: Vec<String> = cp.end_listing(&site.id, compact).iter().map(|p| pages::page_id(&site.id, p)).collect();
                            cp.pages = None;
                            if compact {
                                cp.pages_after = Some(site.id.clone());
                            } else {
                                cp.pages_done.insert(site.id.clone());
                            }
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
                if compact {
                    // Read to its end, or passed over after a failure: a resume goes on past it.
                    cp.pages_after = Some(site.id.clone());
                }
            }
        }
        if reader.lists {
            let mut sites: Vec<Site> = found;
            sites.sort_by(|a, b| a.id.cmp(&b.id));
            for site in sites {
                if cp.lists.as_ref().is_some_and(|c| site.id < c.site) {
                    continue;
                }
                let site = Arc::new(site);
                let found_lists = match lists::lists(&walk.graph, &site).await {
                    Ok(found) => found,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) if e.kind().ends_sync() => Err(e)?,
                    Err(e) => {
                        let failure = Failure::new(
                            Some(format!("{SOURCE}:lists:{}", site.id)),
                            e.kind(),
                            format!("the lists of site `{}` could not be listed; the next run lists them again: {e}", site.shown()),
                        );
                        yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                        continue;
                    }
                };
                for list in found_lists {
                    let resume = cp.lists.as_ref().filter(|c| c.site == site.id);
                    let mut url = match resume {
                        // Read before the resume.
                        Some(c) if list.id < c.list || (list.id == c.list && c.next.is_none()) => continue,
                        Some(c) if list.id == c.list => {
                            let next = c.next.as_deref().unwrap_or_default();
                            Url::parse(next).map_err(|e| Error::new(ErrorKind::Checkpoint, format!("a stored list link is not a URL: {e}")).with_connector(SOURCE))?
                        }
                        _ => lists::items_url(&walk.graph, &site, &list.id, false)?,
                    };
                    let list = Arc::new(list);
                    loop {
                        ctx.cancellation().check()?;
                        let page = match walk.graph.page::<serde_json::Value>(&url).await {
                            Ok(page) => page,
                            Err(e) if e.kind() == ErrorKind::NotFound => break,
                            Err(e) if e.kind().ends_sync() => Err(e)?,
                            Err(e) => {
                                let failure = Failure::new(
                                    Some(format!("{SOURCE}:list:{}:{}", site.id, list.id)),
                                    e.kind(),
                                    format!("the items of list `{}` of site `{}` could not be read; the next run reads them again: {e}", list.id, site.shown()),
                                );
                                yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                                break;
                            }
                        };
                        let pending = list_items(&walk, &site, &list, page.value, window).await?;
                        let batch = fetch_items(&ctx, pending, CONCURRENCY, |item: ListEntry| async move {
                            Ok::<_, Error>(Some::<connector_core::pages::Outcome>(match item {
                                ListEntry::Item(doc) => (*doc).into(),
                                ListEntry::Failed(f) => f.into(),
                            }))
                        })
                        .await?;
                        let next = page.next_link;
                        cp.lists = Some(ListsCursor { site: site.id.clone(), list: list.id.clone(), next: next.as_ref().map(ToString::to_string) });
                        yield CheckpointedBatch::new(batch, cp.clone());
                        match next {
                            Some(next) => url = next,
                            None => break,
                        }
                    }
                }
            }
        }
    }
    .boxed()
}

/// A list item as a page item: its document, or its failure.
enum ListEntry {
    Item(Box<connector_core::Document>),
    Failed(Failure),
}

/// The items of one page of `list`, in the window if there is one, as documents with their
/// versions (for the fingerprint lookup) and their own permissions as access.
async fn list_items(
    walk: &DriveWalk,
    site: &Site,
    list: &lists::SpList,
    values: Vec<serde_json::Value>,
    window: Option<TimeWindow>,
) -> Result<Vec<PendingItem<ListEntry>>> {
    let mut out = Vec::new();
    let mut items = Vec::new();
    for value in values {
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        match serde_json::from_value::<lists::ListItem>(value) {
            Ok(item) => {
                if window
                    .is_some_and(|w| !item.last_modified_date_time.is_some_and(|t| w.contains(t)))
                {
                    continue;
                }
                items.push(item);
            }
            Err(e) => {
                let doc = id.map(|i| lists::item_id(&site.id, &list.id, &i));
                let failure = Failure::new(
                    doc.clone(),
                    ErrorKind::InvalidData,
                    format!(
                        "an item of list `{}` of site `{}` cannot be read: {e}",
                        list.id,
                        site.shown()
                    ),
                );
                out.push(PendingItem::new(
                    doc.unwrap_or_default(),
                    ListEntry::Failed(failure),
                ));
            }
        }
    }
    let access = list_access(walk, site, &list.id, &items).await?;
    for (item, access) in items.into_iter().zip(access) {
        let version = lists::item_version(&item, access.as_ref());
        let doc = lists::document(site, list, &item, access);
        out.push(
            PendingItem::new(doc.id.clone(), ListEntry::Item(Box::new(doc))).with_version(&version),
        );
    }
    Ok(out)
}

/// Who may read each of `items` of list `list`: its own permissions (JSON batches), none
/// without `include_permissions`.
async fn list_access(
    walk: &DriveWalk,
    site: &Site,
    list: &str,
    items: &[lists::ListItem],
) -> Result<Vec<Option<Access>>> {
    if !walk.permissions {
        return Ok(vec![None; items.len()]);
    }
    let target = DriveTarget {
        drive: list.to_owned(),
        owner: None,
        site: site.collection().to_owned(),
    };
    let requests: Vec<String> = items
        .iter()
        .map(|i| lists::permissions_request(&site.id, list, &i.id))
        .collect();
    Ok(drive_walk::request_access(walk, &target, &requests)
        .await?
        .into_iter()
        .map(Some)
        .collect())
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
        if reader.lists {
            for site in &found {
                let found_lists = match lists::lists(&walk.graph, site).await {
                    Ok(found) => found,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => Err(e)?,
                };
                for list in found_lists {
                    let mut next = Some(lists::items_url(&walk.graph, site, &list.id, true)?);
                    while let Some(url) = next.take() {
                        ctx.cancellation().check()?;
                        let page = match walk.graph.page::<serde_json::Value>(&url).await {
                            Ok(page) => page,
                            Err(e) if e.kind() == ErrorKind::NotFound => break,
                            Err(e) => Err(e)?,
                        };
                        let ids: Vec<SlimDocument> = page
                            .value
                            .iter()
                            .filter_map(|v| v.get("id").and_then(|i| i.as_str()))
                            .map(|i| SlimDocument::new(lists::item_id(&site.id, &list.id, i)))
                            .collect();
                        if !ids.is_empty() {
                            yield ids;
                        }
                        next = page.next_link;
                    }
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
        let (item_ids, ids): (Vec<String>, Vec<String>) =
            ids.into_iter().partition(|id| lists::parse_item_id(id).is_some());
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
                found.iter().map(|s| (s.id.clone(), Arc::new(s.clone()))).collect();
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
        if reader.lists && !item_ids.is_empty() {
            let by_id: HashMap<&str, &Site> = found.iter().map(|s| (s.id.as_str(), s)).collect();
            let mut known: HashMap<String, Vec<lists::SpList>> = HashMap::new();
            let mut docs = Vec::new();
            for id in &item_ids {
                ctx.cancellation().check()?;
                let Some((site_id, list_id, item_id)) = lists::parse_item_id(id) else { continue };
                let Some(site) = by_id.get(site_id) else { continue };
                if !known.contains_key(site_id) {
                    let found_lists = match lists::lists(&walk.graph, site).await {
                        Ok(found) => found,
                        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                        Err(e) => Err(e)?,
                    };
                    known.insert(site_id.to_owned(), found_lists);
                }
                let Some(list) = known.get(site_id).and_then(|ls| ls.iter().find(|l| l.id == list_id)) else { continue };
                let url = lists::item_url(&walk.graph, site_id, list_id, item_id)?;
                let Some(item) = walk.graph.get_opt::<lists::ListItem>(&url).await? else { continue };
                let access = list_access(&walk, site, list_id, std::slice::from_ref(&item)).await?.pop().flatten();
                docs.push(lists::document(site, list, &item, access));
            }
            if !docs.is_empty() {
                yield Batch::new(docs);
            }
        }
    }
    .boxed()
}
