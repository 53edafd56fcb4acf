//! The page walk: `list_folder` pages as checkpointed batches, the id listing and the refetch
//! of named files, on core's [`ItemFetches`] (one fingerprint lookup per page, unchanged files
//! not downloaded, the others a few at a time, large pages handed on in parts).

use connector_core::http::is_body_too_large;
use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items};
use connector_core::{
    Batch, CheckpointedBatch, Document, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;

use super::SOURCE;
use super::checkpoint::{DropboxCheckpoint, Phase};
use super::client::{Client, Download, FileMeta, Listed};

/// Downloads at the same time within a page.
const CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The prefix of every document id: RAGFlow's `dropbox:{id}`.
const ID_PREFIX: &str = "dropbox:";

/// The document id of the file with Dropbox id `id` (`id:a4ayc…`).
pub(crate) fn doc_id(id: &str) -> String {
    format!("{ID_PREFIX}{id}")
}

/// What a page item's fetch gets.
enum Item {
    File(Box<FileMeta>),
    Failed(Failure),
}

/// The listing from `from` on, each page with the checkpoint after it.
pub(super) fn checkpointed(
    client: &Client,
    max: u64,
    from: DropboxCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<DropboxCheckpoint>>> {
    let client = client.with_context(&ctx);
    async_stream::try_stream! {
        let mut cp = from;
        loop {
            ctx.cancellation().check()?;
            let page = match cp.cursor.clone() {
                None => client.list_folder(None).await?,
                Some(cursor) => match client.list_continue(&cursor).await {
                    Ok(page) => page,
                    Err(e) if e.kind() == ErrorKind::Checkpoint => {
                        tracing::warn!(connector = SOURCE, "{e}");
                        let phase = if cp.phase == Phase::Listing { Phase::Listing } else { Phase::Relisting };
                        cp = DropboxCheckpoint { cursor: None, phase, after: None };
                        continue;
                    }
                    Err(e) => Err(e)?,
                },
            };
            // Only a listing is narrowed to the window: the changes since a cursor are exactly
            // what changed, and a listing after a reset must see everything.
            let filter = if cp.phase == Phase::Listing { window } else { None };
            let mut listed: Vec<Listed> = page.entries.into_iter().map(Listed::from_value).collect();
            if let Some(after) = cp.after.take()
                && let Some(pos) = listed
                    .iter()
                    .position(|l| matches!(l, Listed::File(m) if doc_id(&m.id) == after))
            {
                listed.drain(..=pos);
            }
            let pending = listed.into_iter().filter_map(|l| pending(l, filter, max));
            let fetch_client = client.clone();
            let mut fetches = ItemFetches::start(&ctx, pending, CONCURRENCY, move |item| {
                fetch(fetch_client.clone(), item, max)
            })
            .await?;
            let mut rest = Batch::default();
            while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                match part.documents.last().map(|d| d.id.clone()) {
                    Some(after) if !fetches.is_done() => {
                        let at = DropboxCheckpoint { cursor: cp.cursor.clone(), phase: cp.phase, after: Some(after) };
                        yield CheckpointedBatch::new(part, at);
                    }
                    _ if rest.is_empty() => rest = part,
                    _ => rest.append(part),
                }
            }
            cp.cursor = Some(page.cursor);
            yield CheckpointedBatch::new(rest, cp.clone());
            if !page.has_more {
                break;
            }
        }
    }
    .boxed()
}

/// Every file id of a fresh listing; fails, rather than come back short, when a page cannot
/// be listed.
pub(super) fn list_ids(
    client: &Client,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let client = client.with_context(&ctx);
    async_stream::try_stream! {
        // The largest page Dropbox gives: ids only, no downloads follow.
        let mut page = client.list_folder(Some(2000)).await?;
        loop {
            ctx.cancellation().check()?;
            let ids: Vec<SlimDocument> = page
                .entries
                .into_iter()
                .filter_map(|v| match Listed::from_value(v) {
                    Listed::File(meta) => Some(SlimDocument::new(doc_id(&meta.id))),
                    Listed::Malformed { id: Some(id), .. } if id.starts_with("id:") => {
                        Some(SlimDocument::new(doc_id(&id)))
                    }
                    _ => None,
                })
                .collect();
            if !ids.is_empty() {
                yield ids;
            }
            if !page.has_more {
                break;
            }
            page = client.list_continue(&page.cursor).await?;
        }
    }
    .boxed()
}

/// The files with these document ids again, by their current metadata; an id that is not
/// Dropbox's or whose file is gone yields nothing.
pub(super) fn refetch(
    client: &Client,
    max: u64,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let client = client.with_context(&ctx);
    async_stream::try_stream! {
        for chunk in ids.chunks(usize::try_from(client.page_size).unwrap_or(500).max(1)) {
            let pending = chunk.iter().filter_map(|id| {
                let file = id.strip_prefix(ID_PREFIX).filter(|f| f.starts_with("id:"))?;
                Some(PendingItem::new(id.clone(), file.to_owned()))
            });
            let batch = fetch_items(&ctx, pending, CONCURRENCY, |file: String| {
                let client = client.clone();
                async move {
                    match client.metadata(&file).await? {
                        Some(meta) => fetch(client, Item::File(Box::new(meta)), max).await,
                        None => Ok(None),
                    }
                }
            })
            .await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}

/// A listed entry as a page item: a file in the window, with its version when it can be
/// downloaded (so an unchanged one is not), or its failure; folders and deletions are none.
fn pending(listed: Listed, window: Option<TimeWindow>, max: u64) -> Option<PendingItem<Item>> {
    match listed {
        Listed::File(meta) => {
            if window.is_some_and(|w| !w.contains(meta.server_modified)) {
                return None;
            }
            let id = doc_id(&meta.id);
            if meta.size > max {
                return Some(PendingItem::new(
                    id,
                    Item::Failed(too_large(&meta, meta.size, max)),
                ));
            }
            if meta.is_downloadable == Some(false) {
                let failure = failure(
                    &meta,
                    ErrorKind::Unsupported,
                    "Dropbox does not let it be downloaded (a cloud document, which only exports); it is skipped",
                );
                return Some(PendingItem::new(id, Item::Failed(failure)));
            }
            let version = version(&meta);
            Some(PendingItem::new(id, Item::File(meta)).with_version(&version))
        }
        Listed::Malformed { id, message } => {
            let id = id.map(|i| if i.starts_with("id:") { doc_id(&i) } else { i });
            let failure = Failure::new(id.clone(), ErrorKind::InvalidData, message);
            Some(PendingItem::new(
                id.unwrap_or_default(),
                Item::Failed(failure),
            ))
        }
        Listed::Other => None,
    }
}

/// The version token of a file: its `content_hash` (the same bytes, the same token), else its
/// revision.
fn version(meta: &FileMeta) -> String {
    meta.content_hash
        .clone()
        .unwrap_or_else(|| meta.rev.clone())
}

/// One item's outcome: its document, its failure, or nothing when the file is gone since the
/// listing (prune deals with it).
async fn fetch(client: Client, item: Item, max: u64) -> Result<Option<Outcome>> {
    let meta = match item {
        Item::Failed(failure) => return Ok(Some(failure.into())),
        Item::File(meta) => meta,
    };
    if meta.size > max {
        return Ok(Some(too_large(&meta, meta.size, max).into()));
    }
    match client.download(&meta.id, max).await {
        Ok(Download::Gone) => Ok(None),
        Ok(Download::Data(data, current)) => {
            // The version downloaded, which may be newer than the one listed.
            let meta = current.filter(|c| c.id == meta.id).unwrap_or(meta);
            Ok(Some(document(&meta, data)))
        }
        Err(e) if is_body_too_large(&e) => Ok(Some(too_large(&meta, meta.size, max).into())),
        Err(e) => Err(e),
    }
}

/// The web page of a file: its folder in Dropbox's web UI with the file previewed.
fn link(meta: &FileMeta) -> Option<Url> {
    let path = meta.path_display.as_deref()?;
    let mut url = Url::parse("https://www.dropbox.com/home").ok()?;
    let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
    url.path_segments_mut()
        .ok()?
        .extend(folder.split('/').filter(|s| !s.is_empty()));
    url.query_pairs_mut().append_pair("preview", &meta.name);
    Some(url)
}

fn failure(meta: &FileMeta, kind: ErrorKind, message: impl std::fmt::Display) -> Failure {
    let shown = meta.path_display.as_deref().unwrap_or(&meta.name);
    let failure = Failure::new(Some(doc_id(&meta.id)), kind, format!("{shown}: {message}"));
    match link(meta) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
}

fn too_large(meta: &FileMeta, size: u64, max: u64) -> Failure {
    failure(
        meta,
        ErrorKind::Unsupported,
        format!(
            "the file is {size} bytes, larger than max_file_size ({max} bytes); raise max_file_size or move it out of the folder"
        ),
    )
}

/// The document of a downloaded file.
fn document(meta: &FileMeta, data: Vec<u8>) -> Outcome {
    let doc: Document =
        match crate::files::file_document(doc_id(&meta.id), SOURCE, &meta.name, data) {
            Ok(doc) => doc,
            Err(message) => return failure(meta, ErrorKind::InvalidData, message).into(),
        };
    let mut doc = doc
        .with_size(meta.size)
        .with_version(&version(meta))
        .with_updated_at(meta.server_modified)
        .with_metadata("rev", meta.rev.clone())
        .with_metadata("size", meta.size);
    if let Some(path) = &meta.path_display {
        doc = doc.with_metadata("path", path.clone());
    }
    if let Some(sharing) = &meta.sharing_info {
        doc = doc.with_metadata("read_only", sharing.read_only);
        if let Some(folder) = &sharing.parent_shared_folder_id {
            doc = doc.with_metadata("shared_folder_id", folder.clone());
        }
        if let Some(by) = &sharing.modified_by {
            doc = doc.with_metadata("modified_by", by.clone());
        }
    }
    if let Some(url) = link(meta) {
        doc = doc.with_link(url);
    }
    doc.into()
}
