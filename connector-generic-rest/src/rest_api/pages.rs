//! The page walk, through core's page pipeline: one [`Batch`] per response page.
//!
//! An item's body is the listing itself (there is no per-item request), so a page goes
//! straight from [`paginate`] (repeated-cursor guard, `max_pages`) through [`read_ahead`] (the
//! next page is fetched while this one converts) to [`convert_blocking`] (conversion, HTML to
//! Markdown above all, off the runtime thread where there are cores to spare). The slim
//! listing walks the same pages and reads only the ids.
//!
//! # Incremental syncs
//! A window is applied where the config can apply it: to each item's `poll_timestamp_field`
//! (exactly, half-open), and as the server-side `since` parameter. With neither, a window
//! cannot select anything, so an incremental sync reads every item, as RAGFlow's `poll_source`
//! says it does ("falling back to full fetch"; in fact RAGFlow stamps such items `now()`, past
//! the window's end, and ingests nothing: a bug not copied). The host is still told only what
//! changed: the sync loop compares each document's fingerprint, which covers what the document
//! delivers (text, title, link, metadata), with the state store, and leaves unchanged ones out
//! of the batches, counting them unchanged.
//!
//! What that costs: every incremental run makes a full run's requests (every page, up to
//! `max_pages`, with `request_delay` between them) and converts every item, so only the
//! sink's work is saved. An edit to a field the config does not map is no change. Deleted
//! items are found by prune alone. Without `id_field` an item's id comes from its content, so
//! an edited item arrives as a new document and the old one stays until prune.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::pages::{Page, PageLimit, convert_blocking, paginate, read_ahead};
use connector_core::{Batch, CheckpointedBatch, Result, SlimDocument, SyncContext, TimeWindow};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::{Position, RestApiCheckpoint};
use super::client::RestClient;
use super::convert::Mapping;

/// Pages converted at once.
const CONVERT_CONCURRENCY: usize = 2;

fn max_pages(client: &RestClient) -> u64 {
    client.endpoint.cfg.max_pages
}

/// The pages from `from` (after `pos.pages` of this run, with `limit` counting from there).
///
/// # Errors
/// A page that cannot be fetched or read ends the stream, as does a cancelled sync (checked
/// before each request).
fn walk(
    client: RestClient,
    from: Position,
    limit: PageLimit,
    since: Option<DateTime<Utc>>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<Page<Vec<Value>, Position>>> {
    let cancellation = ctx.cancellation().clone();
    // Each fetch depends only on the position the previous one returned, so reading ahead is
    // safe.
    read_ahead(paginate(from, limit, move |pos| {
        let client = client.clone();
        let cancelled = cancellation.check();
        async move {
            cancelled?;
            client.fetch_page(pos, since).await
        }
    }))
}

/// Pages from `from.next`, converted: documents in the window (all without one, or when the
/// config can tell no item's time), failures for malformed entries, and the checkpoint after
/// each page.
pub(super) fn load(
    client: &RestClient,
    mapping: &Arc<Mapping>,
    from: RestApiCheckpoint,
    window: Option<TimeWindow>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<RestApiCheckpoint>>> {
    let Some(from) = from.next else {
        return futures::stream::empty().boxed();
    };
    let since = window
        .filter(|_| client.endpoint.cfg.since.is_some())
        .map(|w| w.start);
    // The window filters here only when items carry their time; else the server filtered, or,
    // with neither, every item is read (the fallback the module docs describe).
    let keep_within = window.filter(|_| mapping.has_timestamp());
    let limit = PageLimit::stop_after(max_pages(client).saturating_sub(from.pages));
    let pages = walk(client.with_context(ctx), from, limit, since, ctx);
    let mapping = Arc::clone(mapping);
    convert_blocking(pages, CONVERT_CONCURRENCY, move |page| {
        CheckpointedBatch::new(
            convert_page(&mapping, &page.items, keep_within),
            RestApiCheckpoint { next: page.next },
        )
    })
    .boxed()
}

/// One page's items as a batch, in page order; with `window`, only documents whose time lies
/// in it.
fn convert_page(mapping: &Mapping, items: &[Value], window: Option<TimeWindow>) -> Batch {
    let mut documents = Vec::with_capacity(items.len());
    let mut failures = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match mapping.convert(item, i) {
            Ok(doc) => {
                if window.is_none_or(|w| doc.updated_at.is_some_and(|t| w.contains(t))) {
                    documents.push(doc);
                }
            }
            Err(f) => failures.push(*f),
        }
    }
    Batch::with_parts(documents, failures, Vec::new())
}

/// Every id, page by page; fails rather than list a partial set (an item without `id_field`,
/// or more pages than `max_pages`), since prune deletes whatever is not listed. Entries that
/// are not objects are no documents, so they are not listed.
pub(super) fn list_ids(
    client: &RestClient,
    mapping: &Arc<Mapping>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let mapping = Arc::clone(mapping);
    let pages = walk(
        client.with_context(ctx),
        client.endpoint.start(),
        PageLimit::fail_after(max_pages(client)),
        None,
        ctx,
    );
    pages
        .and_then(move |page| {
            let ids: Result<Vec<SlimDocument>> = page
                .items
                .iter()
                .filter(|v| v.is_object())
                .map(|item| {
                    mapping
                        .id(item)
                        .map(SlimDocument::new)
                        .map_err(|e| e.with_connector(SOURCE))
                })
                .collect();
            futures::future::ready(ids)
        })
        .boxed()
}
