//! The page walk: List Blobs pages as checkpointed batches, the id listing and the refetch of
//! named blobs.
//!
//! Listing pages come through core's [`paginate`] (which refuses a marker the service hands
//! back twice) and [`read_ahead`] (the next page is listed while this one downloads). Each
//! accepted blob of a page becomes a [`PendingItem`] with its ETag, and core's
//! [`ItemFetches`] does the rest: one fingerprint lookup per page, unchanged blobs reported
//! without a download, the others downloaded `concurrency` at a time in listing order, every
//! error sorted by the one policy, and the page handed on in parts once its documents pass
//! [`PAGE_BYTES`].
//!
//! A poll lists the whole prefix, as a load does, and lets the ETag fingerprint decide: the
//! listing costs the same requests either way, and `Last-Modified` is no "changed since" for
//! a name. On an account with a hierarchical namespace a renamed or moved file keeps its
//! `Last-Modified`, as does a blob restored by Undelete Blob, and a host clock ahead of
//! Azure's shifts the window; a `Last-Modified` filter would never see those under their
//! new names (and prune would drop the old ones). An unchanged blob costs one row of the
//! page's fingerprint lookup, never a download; S3 does the same. Only with
//! `incremental_by_last_modified` are the blobs outside the window left out, before the
//! lookup (`Last-Modified` has whole seconds: the window's start is widened down to its
//! second, and the lookup drops what the widening takes twice).
//!
//! A page handed on in parts is resumed by identity ([`skip_handed_on`]): the listing of a
//! hierarchical-namespace account is depth-first (`A/dat1` before `A-B`), not in byte order,
//! so "names after the last one handed on" would skip blobs.

use std::sync::Arc;

use chrono::TimeDelta;
use connector_core::glob::PathFilter;
use connector_core::http::HttpClient;
use connector_core::pages::{
    ItemFetches, Outcome, Page, PageLimit, PendingItem, fetch_items, paginate, read_ahead,
    skip_handed_on,
};
use connector_core::{
    Batch, CheckpointedBatch, Document, Result, SlimDocument, SyncContext, SyncStats, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::checkpoint::AzureBlobCheckpoint;
use super::client::AzureClient;
use super::convert::{self, IMAGE_EXTENSIONS};
use super::model::Listed;

/// Content bytes after which a listing page is handed on in parts.
pub(super) const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// Ids refetched per batch.
const REFETCH_CHUNK: usize = 256;

/// What every stream of a connector shares.
pub(super) struct Walk {
    pub(super) client: AzureClient,
    pub(super) filters: Filters,
    /// `max_object_size`: a larger blob is a failure, never downloaded.
    pub(super) max_object_size: u64,
    /// Downloads in flight within a page.
    pub(super) concurrency: usize,
    /// Content bytes after which a page is handed on in parts ([`PAGE_BYTES`]).
    pub(super) page_bytes: u64,
    /// `incremental_by_last_modified`: a window leaves out the blobs modified outside it.
    pub(super) window_filter: bool,
}

/// Which listed blobs become documents.
pub(super) struct Filters {
    pub(super) prefix: String,
    pub(super) paths: PathFilter,
    pub(super) allow_images: bool,
}

impl Filters {
    /// Whether `name` becomes a document: under the prefix (a refetched id from before the
    /// prefix was narrowed is not), not a folder name, through the filters.
    pub(super) fn accepts(&self, name: &str) -> bool {
        if name.is_empty() || name.ends_with('/') {
            return false;
        }
        let Some(relative) = name.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        if !self.paths.matches(relative) {
            return false;
        }
        self.allow_images
            || !convert::raw_extension(name)
                .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }

    fn accepts_listed(&self, listed: &Listed) -> bool {
        !listed.is_directory && self.accepts(&listed.name)
    }
}

/// The pages of a listing from `from` on, each with the checkpoint valid after it. Without
/// `incremental_by_last_modified` the window is not used: every listed blob is asked of the
/// fingerprints (see the module).
pub(super) fn checkpointed(
    walk: Arc<Walk>,
    from: AzureBlobCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<AzureBlobCheckpoint>>> {
    async_stream::try_stream! {
        if from.done {
            return;
        }
        let http = walk.client.http.with_context(&ctx);
        let mut skip_until = from.after;
        let mut pages = listing(&walk, &http, from.marker, None);
        let window = window.filter(|_| walk.window_filter);
        let in_window = |o: &Listed| window.is_none_or(|w| {
            o.last_modified.is_some_and(|t| w.contains_truncated(t, TimeDelta::seconds(1)))
        });
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let Page { items: (marker, mut blobs), next } = page?;
            // Only the first page of a resume can hold blobs already handed on.
            if let Some(after) = skip_until.take()
                && !skip_handed_on(&mut blobs, &after, |b| b.name.as_str())
            {
                tracing::debug!(
                    connector = walk.client.source,
                    blob = %after,
                    "the last blob handed on is gone from its page; the page is handed on again"
                );
            }
            let pending = blobs
                .into_iter()
                .filter(|b| walk.filters.accepts_listed(b))
                .filter(|b| in_window(b))
                .map(|b| walk.pending(b));
            let mut fetches = ItemFetches::start(&ctx, pending, walk.concurrency, |listed| {
                walk.blob(&http, listed, ctx.stats())
            })
            .await?;
            let mut rest = Batch::default();
            while let Some(part) = fetches.next_part(walk.page_bytes).await? {
                // A part before the page's last ends with a document: resume after it.
                let last = part.documents.last().map(|d| d.id.clone());
                match last {
                    Some(last) if !fetches.is_done() => {
                        let checkpoint = AzureBlobCheckpoint {
                            marker: marker.clone(),
                            after: Some(last),
                            done: false,
                        };
                        yield CheckpointedBatch::new(part, checkpoint);
                    }
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            let checkpoint = AzureBlobCheckpoint {
                done: next.is_none(),
                marker: next.flatten(),
                after: None,
            };
            yield CheckpointedBatch::new(rest, checkpoint);
        }
    }
    .boxed()
}

/// Every blob name under the prefix that passes the filters, whatever its size, one listing
/// page at a time: a listing failure ends the stream with an error, never a partial set.
pub(super) fn list_ids(
    walk: Arc<Walk>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        let http = walk.client.http.with_context(&ctx);
        let mut pages = listing(&walk, &http, None, None);
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let ids: Vec<SlimDocument> = page?
                .items
                .1
                .iter()
                .filter(|b| walk.filters.accepts_listed(b))
                .map(|b| SlimDocument::new(b.name.clone()))
                .collect();
            yield ids;
        }
    }
    .boxed()
}

/// Downloads each named blob again; a blob that is gone or now filtered out yields nothing
/// (prune deals with it).
pub(super) fn refetch(
    walk: Arc<Walk>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    async_stream::try_stream! {
        let http = walk.client.http.with_context(&ctx);
        for chunk in ids.chunks(REFETCH_CHUNK) {
            ctx.cancellation().check()?;
            let pending = chunk.iter().filter(|id| walk.filters.accepts(id)).map(|id| {
                // Without a version: never looked up, always downloaded.
                PendingItem::new(id.as_str(), Listed::named(id))
            });
            yield fetch_items(&ctx, pending, walk.concurrency, |listed| {
                walk.blob(&http, listed, ctx.stats())
            })
            .await?;
        }
    }
    .boxed()
}

/// A listing page: the marker it was listed at, and its blobs.
type Listing = (Option<String>, Vec<Listed>);

/// The listing pages from `marker` on, read ahead, of `max_results` blobs each (else the page
/// size). The cursor is the page's marker; `None` inside `Some` is the first page.
pub(super) fn listing(
    walk: &Arc<Walk>,
    http: &HttpClient,
    marker: Option<String>,
    max_results: Option<usize>,
) -> BoxStream<'static, Result<Page<Listing, Option<String>>>> {
    let walk = Arc::clone(walk);
    let http = http.clone();
    read_ahead(paginate(
        marker,
        PageLimit::unbounded(),
        move |marker: Option<String>| {
            let walk = Arc::clone(&walk);
            let http = http.clone();
            async move {
                let page = walk
                    .client
                    .list_page(&http, marker.as_deref(), max_results)
                    .await?;
                let next = page.next_marker.map(Some);
                Ok(Page::new((marker, page.blobs), next))
            }
        },
    ))
}

impl Walk {
    /// A listed blob as a page item, with the fingerprint of its ETag when it has one and is
    /// within the size cap and readable (others fail whatever the host holds).
    fn pending(&self, listed: Listed) -> PendingItem<Listed> {
        let fingerprint = listed
            .etag
            .as_deref()
            .filter(|_| listed.size <= self.max_object_size && !is_archived(&listed))
            .map(Document::version_fingerprint);
        let item = PendingItem::new(listed.name.clone(), listed);
        match fingerprint {
            Some(fingerprint) => item.with_fingerprint(fingerprint),
            None => item,
        }
    }

    /// One blob's outcome: nothing when it is gone since the listing (a `404` other than
    /// `ContainerNotFound`: deleted between the listing and the download), counted in the
    /// run's [`gone`](connector_core::sync::SyncReport::gone), neither a document nor a failure
    /// (prune removes what the store holds of it); a failure when it is over the size cap,
    /// archived or cannot be read; else its document.
    ///
    /// # Errors
    /// A download error that [ends the sync](connector_core::ErrorKind::ends_sync).
    async fn blob(
        &self,
        http: &HttpClient,
        listed: Listed,
        stats: &SyncStats,
    ) -> Result<Option<Outcome>> {
        let client = &self.client;
        let max = self.max_object_size;
        if listed.size > max {
            return Ok(Some(convert::too_large(client, &listed, max).into()));
        }
        if is_archived(&listed) {
            return Ok(Some(convert::archived(client, &listed).into()));
        }
        if convert::has_dot_segment(&listed.name) {
            return Ok(Some(convert::dot_segment(client, &listed).into()));
        }
        Ok(match client.get_blob(http, &listed.name, max).await {
            Ok(Some(fetched)) => Some(convert::document(client, listed, fetched).into()),
            Ok(None) => {
                stats.add_gone();
                None
            }
            Err(e) => Some(convert::download_failure(client, &listed.name, e)?.into()),
        })
    }
}

fn is_archived(listed: &Listed) -> bool {
    listed
        .access_tier
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("archive"))
}
