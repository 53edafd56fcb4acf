//! The page walk: `ListObjectsV2` pages as checkpointed batches, the id listing and the
//! refetch of named objects.
//!
//! Listing pages come through core's [`paginate`] (which refuses a continuation token the
//! store hands back twice) and [`read_ahead`] (the next page is listed while this one
//! downloads). Each accepted object of a page becomes a [`PendingItem`] with its ETag, and
//! core's [`ItemFetches`] does the rest: one fingerprint lookup per page, unchanged objects
//! reported without a download, the others downloaded `concurrency` at a time in listing
//! order, every error sorted by the one policy ([`ErrorKind::ends_sync`]), and the page handed
//! on in parts once its documents pass [`PAGE_BYTES`].
//!
//! A poll lists the whole prefix, as a load does, and relies on the fingerprint lookup to
//! skip what did not change (RAGFlow's way): `LastModified` is no reliable "changed since",
//! since a multipart upload's is the time it was initiated. Only with
//! `incremental_by_last_modified` are the objects outside the window left out, before the
//! lookup.

use std::sync::Arc;

use connector_core::glob::PathFilter;
use connector_core::http::HttpClient;
use connector_core::pages::{
    ItemFetches, Outcome, Page, PageLimit, PendingItem, fetch_items, paginate, read_ahead,
};
use connector_core::spool::Spool;
use connector_core::{
    Batch, CheckpointedBatch, Document, ErrorKind, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::checkpoint::S3Checkpoint;
use super::client::{S3Client, is_too_large};
use super::convert::{self, IMAGE_EXTENSIONS};
use super::model::Listed;
use super::titles::Titles;

/// Content bytes after which a listing page is handed on in parts, so a page of large objects
/// never sits in memory whole.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// Ids refetched per batch.
const REFETCH_CHUNK: usize = 256;

/// What every stream of a connector shares: the client, which keys become documents, and the
/// limits of a download.
pub(super) struct Walk {
    pub(super) client: S3Client,
    pub(super) filters: Filters,
    /// `max_object_size`: a larger object is spooled to a file when spooling is on, else a
    /// failure, never downloaded.
    pub(super) max_object_size: u64,
    /// `max_spooled_object_size` when `spool_large_objects` is on: a larger object is a
    /// failure.
    pub(super) max_spooled_object_size: Option<u64>,
    /// Downloads in flight within a page.
    pub(super) concurrency: usize,
    /// `incremental_by_last_modified`: a window leaves out the objects modified outside it.
    pub(super) window_filter: bool,
}

/// Which listed keys become documents.
pub(super) struct Filters {
    pub(super) prefix: String,
    pub(super) paths: PathFilter,
    pub(super) allow_images: bool,
}

impl Filters {
    /// Whether `key` becomes a document.
    pub(super) fn accepts(&self, key: &str) -> bool {
        if key.ends_with('/') {
            return false;
        }
        let relative = key.strip_prefix(self.prefix.as_str()).unwrap_or(key);
        // A glob that matches a folder matches everything under it, as in `.gitignore`.
        if !self.paths.matches(relative) {
            return false;
        }
        // Compared without lower-casing into a new string: this runs for every listed key.
        let ext = convert::raw_extension(key);
        self.allow_images
            || !ext.is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }
}

/// Where the next listing page starts: at its continuation token, or after the last key listed
/// when the store no longer accepts the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(super) struct Cursor {
    token: Option<String>,
    after: Option<String>,
}

/// One listing page's objects, and the last key listed up to and including it.
pub(super) struct Listing {
    pub(super) objects: Vec<Listed>,
    after: Option<String>,
}

/// The pages of a listing from `from` on, each with the checkpoint valid after it (and, where
/// a page's documents pass [`PAGE_BYTES`], the parts of the page with theirs).
pub(super) fn checkpointed(
    walk: Arc<Walk>,
    from: S3Checkpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<S3Checkpoint>>> {
    async_stream::try_stream! {
        if from.done {
            return;
        }
        let http = walk.client.http.with_context(&ctx);
        let id_prefix = convert::document_id(&walk.client, "");
        let cursor = Cursor { token: from.continuation_token, after: from.start_after };
        let mut pages = listing(&walk, &http, cursor, None);
        // Without the opt-in, the window is not used: every object is looked up by its ETag.
        let window = window.filter(|_| walk.window_filter);
        let in_window = |o: &Listed| {
            window.is_none_or(|w| o.last_modified.is_some_and(|t| w.contains(t)))
        };
        let titles = Titles::new(Arc::clone(&walk), http.clone());
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let Page { items: Listing { objects, after }, next } = page?;
            let pending = objects
                .into_iter()
                .filter(|o| walk.filters.accepts(&o.key))
                .filter(|o| in_window(o))
                .map(|o| walk.pending(o));
            let mut fetches = ItemFetches::start(&ctx, pending, walk.concurrency, |listed| {
                walk.object(&http, ctx.spool(), listed, &titles)
            })
            .await?;
            let mut rest = Batch::default();
            while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                // A part before the page's last ends with a document: resume after its key.
                let key = part.documents.last().and_then(|d| d.id.strip_prefix(id_prefix.as_str()));
                match key {
                    Some(key) if !fetches.is_done() => {
                        let checkpoint = S3Checkpoint::after(key);
                        yield CheckpointedBatch::new(part, checkpoint);
                    }
                    // Usually the page's only part: taken whole, not copied.
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            let checkpoint = S3Checkpoint {
                done: next.is_none(),
                continuation_token: next.and_then(|c| c.token),
                start_after: after,
            };
            yield CheckpointedBatch::new(rest, checkpoint);
        }
    }
    .boxed()
}

/// Every key under the prefix that passes the filters, whatever its size, one listing page at
/// a time: a listing failure ends the stream with an error, never with a partial set.
pub(super) fn list_ids(
    walk: Arc<Walk>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        let http = walk.client.http.with_context(&ctx);
        let mut pages = listing(&walk, &http, Cursor::default(), None);
        loop {
            ctx.cancellation().check()?;
            let Some(page) = pages.next().await else {
                break;
            };
            let ids: Vec<SlimDocument> = page?
                .items
                .objects
                .iter()
                .filter(|o| walk.filters.accepts(&o.key))
                .map(|o| SlimDocument::new(convert::document_id(&walk.client, &o.key)))
                .collect();
            yield ids;
        }
    }
    .boxed()
}

/// Downloads each id's object again, whatever the store holds; an id of another bucket, or of
/// an object that is gone or now filtered out, yields nothing (prune deals with it).
pub(super) fn refetch(
    walk: Arc<Walk>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    async_stream::try_stream! {
        let http = walk.client.http.with_context(&ctx);
        let prefix = convert::document_id(&walk.client, "");
        let titles = Titles::new(Arc::clone(&walk), http.clone());
        for chunk in ids.chunks(REFETCH_CHUNK) {
            ctx.cancellation().check()?;
            let pending = chunk.iter().filter_map(|id| {
                let key = id.strip_prefix(prefix.as_str())?;
                // Without a version: never looked up, always downloaded.
                walk.filters
                    .accepts(key)
                    .then(|| PendingItem::new(id.as_str(), Listed::named(key)))
            });
            yield fetch_items(&ctx, pending, walk.concurrency, |listed| {
                walk.object(&http, ctx.spool(), listed, &titles)
            })
            .await?;
        }
    }
    .boxed()
}

/// The listing pages from `from` on, read ahead, of `max_keys` keys each (else
/// `page_size`).
pub(super) fn listing(
    walk: &Arc<Walk>,
    http: &HttpClient,
    from: Cursor,
    max_keys: Option<usize>,
) -> BoxStream<'static, Result<Page<Listing, Cursor>>> {
    let walk = Arc::clone(walk);
    let http = http.clone();
    read_ahead(paginate(from, PageLimit::unbounded(), move |cursor| {
        let walk = Arc::clone(&walk);
        let http = http.clone();
        async move { list(&walk.client, &http, cursor, max_keys).await }
    }))
}

/// The listing page at `cursor`.
async fn list(
    client: &S3Client,
    http: &HttpClient,
    cursor: Cursor,
    max_keys: Option<usize>,
) -> Result<Page<Listing, Cursor>> {
    let listed = client
        .list_page(
            http,
            cursor.token.as_deref(),
            cursor.after.as_deref(),
            max_keys,
        )
        .await;
    let page = match listed {
        // Continuation tokens may expire or belong to another server process; the last key
        // listed says the same thing in a form that lasts.
        Err(e) if cursor.token.is_some() && e.kind() == ErrorKind::InvalidData => {
            tracing::warn!(error = %e, "the continuation token was refused; resuming after the last key instead");
            client
                .list_page(http, None, cursor.after.as_deref(), max_keys)
                .await?
        }
        other => other?,
    };
    let after = page.objects.last().map(|o| o.key.clone()).or(cursor.after);
    let next = page.next_token.map(|token| Cursor {
        token: Some(token),
        after: after.clone(),
    });
    Ok(Page::new(
        Listing {
            objects: page.objects,
            after,
        },
        next,
    ))
}

impl Walk {
    /// The largest object delivered: spooled up to `max_spooled_object_size` when spooling is
    /// on, else in memory up to `max_object_size`.
    fn deliverable(&self) -> u64 {
        self.max_spooled_object_size
            .map_or(self.max_object_size, |s| s.max(self.max_object_size))
    }

    /// A listed object as a page item, with the fingerprint of its ETag when it has one and is
    /// within the size cap (a larger object fails whatever the store holds).
    fn pending(&self, listed: Listed) -> PendingItem<Listed> {
        let id = convert::document_id(&self.client, &listed.key);
        let fingerprint = listed
            .etag
            .as_deref()
            .filter(|_| listed.size <= self.deliverable())
            .map(Document::version_fingerprint);
        let item = PendingItem::new(id, listed);
        match fingerprint {
            Some(fingerprint) => item.with_fingerprint(fingerprint),
            None => item,
        }
    }

    /// One object's outcome: nothing when it is gone since the listing, a failure when it is
    /// over the size cap, cannot be addressed or cannot be read, else its document, titled
    /// by `titles`.
    ///
    /// # Errors
    /// A download error that [ends the sync](ErrorKind::ends_sync).
    async fn object(
        &self,
        http: &HttpClient,
        spool: &Spool,
        listed: Listed,
        titles: &Titles,
    ) -> Result<Option<Outcome>> {
        let client = &self.client;
        let max = self.max_object_size;
        if listed.size > self.deliverable() {
            let field = match self.max_spooled_object_size {
                Some(_) => ("max_spooled_object_size", self.deliverable()),
                None => ("max_object_size", max),
            };
            return Ok(Some(convert::too_large(client, &listed, field).into()));
        }
        if let Some(failure) = convert::unaddressable(client, &listed.key) {
            return Ok(Some(failure.into()));
        }
        // Over the in-memory cap: to a spool file, in chunks.
        let spooled = listed.size > max;
        let read = if spooled {
            client
                .get_object(http, &listed.key, self.deliverable(), Some(spool))
                .await
        } else {
            client.get_object(http, &listed.key, max, None).await
        };
        let read = match (read, self.max_spooled_object_size) {
            // Larger than its listed size (it grew, or a refetch knows no size): spooled when
            // spooling is on.
            (Err(e), Some(limit)) if !spooled && is_too_large(&e) => {
                client
                    .get_object(http, &listed.key, limit.max(max), Some(spool))
                    .await
            }
            (read, _) => read,
        };
        Ok(match read {
            Ok(Some(fetched)) => {
                let title = titles.of(&listed.key).await;
                Some(convert::document(client, listed, fetched, title).into())
            }
            Ok(None) => None,
            Err(e) => Some(convert::download_failure(client, &listed.key, e)?.into()),
        })
    }
}
