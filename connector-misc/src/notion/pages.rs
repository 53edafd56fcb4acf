//! The search and the walk: search pages as checkpointed batches (pages in scope, their block
//! trees read a few requests at a time, their file blocks downloaded), then the pages found
//! below them that the search did not list; on core's [`ItemFetches`]. The id listing, its
//! confirmation and the refetch are in `slim.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, Utc};
use connector_core::http::is_body_too_large;
use connector_core::pages::{ItemFetches, Outcome, PendingItem, item_failure, skip_handed_on};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SyncContext, TimeWindow,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde_json::Value;
use tracing::Instrument;

use super::SOURCE;
use super::checkpoint::NotionCheckpoint;
use super::client::{Client, PAGE_SIZE};
use super::config::compact_id;
use super::convert::{Node, file_document, notion_url, page_document};
use super::model::{Block, Lenient, List, Malformed, Page, Parent};

/// Pages read at the same time within a search page.
pub(super) const CONCURRENCY: usize = 3;
/// Children lists asked at the same time within one page's block tree.
const BLOCK_CONCURRENCY: usize = 4;
/// Levels of nested blocks read at most (Notion's editor nests far less).
const MAX_DEPTH: usize = 64;
/// Parents followed at most from a page up to the configured root.
pub(super) const MAX_ANCESTORS: usize = 64;
/// Unlisted pages taken from the walk's stack for one batch.
const WALK_BATCH: usize = 12;
/// Pages of one cursor-paged list read at most, as a guard against a cursor that loops.
pub(super) const MAX_LIST_PAGES: usize = 100_000;
/// Notion rounds `last_edited_time` down to the minute.
const PRECISION: TimeDelta = TimeDelta::minutes(1);
/// How long after its `last_edited_time` a page's version is trusted: an edit within the same
/// minute keeps the time, so a page edited this recently is read whatever the store holds.
pub(super) const SETTLE: TimeDelta = TimeDelta::minutes(2);

/// Content bytes after which a search page's documents are handed on in parts.
const PART_BYTES: u64 = 32 * 1024 * 1024;

/// The read of one page: its outcomes.
type PageFuture = BoxFuture<'static, Result<Vec<Outcome>>>;

/// The page a part's last document belongs to: the page itself, or a file block's page.
fn last_page(part: &Batch) -> Option<String> {
    let doc = part.documents.last()?;
    Some(
        doc.metadata
            .get("page_id")
            .and_then(Value::as_str)
            .map_or_else(|| doc.id.clone(), str::to_owned),
    )
}

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    /// The configured root page, compact.
    pub(crate) root: Option<String>,
    pub(crate) max: u64,
    pub(crate) files: bool,
    /// The parents seen or asked: compact id → its parent (none: not visible to the
    /// integration); new for every run, so a page moved since the last one is placed anew.
    pub(crate) parents: Arc<Mutex<HashMap<String, Option<Parent>>>>,
    /// The pages of this run: listed by the search or taken for the walk, and found below
    /// the pages read (child pages, rows of inline databases).
    pub(crate) pages: Arc<Mutex<RunPages>>,
}

/// The pages one run has met, as 128-bit ids (16 bytes a page, whatever the workspace's
/// size, rather than the listing itself).
#[derive(Debug, Default)]
pub(crate) struct RunPages {
    listed: HashSet<u128>,
    found: HashSet<u128>,
    /// Pages seen in the trash (a search result, a child page block, a row), gone (404 by
    /// id) or moved out of the root, not yet handed to core as deleted.
    gone: HashSet<u128>,
}

/// The document id of the page with 128-bit id `n`: dashed, as Notion sends ids.
fn dashed(n: u128) -> String {
    uuid::Uuid::from_u128(n).hyphenated().to_string()
}

/// A Notion id as a number; none when it is not one.
fn id_number(id: &str) -> Option<u128> {
    compact_id(id).and_then(|c| u128::from_str_radix(&c, 16).ok())
}

/// A page to read: the page and the version token its document carries, if settled.
pub(crate) struct Item {
    pub(super) page: Page,
    pub(super) version: Option<String>,
}

pub(super) enum Pending {
    Page(Box<Item>),
    Failed(Failure),
}

/// The version token of a page: its `last_edited_time`, which Notion moves when the page's
/// properties or any block in it, at any depth, change.
pub(super) fn version(page: &Page) -> String {
    format!(
        "{}|{}",
        page.last_edited_time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        page.id
    )
}

impl Walk {
    /// The walk of one run: its requests counted into `ctx`, its own parent cache and page
    /// sets.
    pub(super) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            parents: Arc::default(),
            pages: Arc::default(),
            ..self.clone()
        }
    }

    /// Notes that the search listed (or the walk took) page `id`.
    pub(super) fn listed(&self, id: &str) {
        if let (Some(n), Ok(mut pages)) = (id_number(id), self.pages.lock()) {
            pages.listed.insert(n);
        }
    }

    /// Notes the pages below a page read: its child pages and its inline databases' rows,
    /// and those of them in the trash as gone.
    pub(super) fn found_below(&self, nodes: &[Node]) {
        fn collect(nodes: &[Node], out: &mut Vec<u128>, gone: &mut Vec<u128>) {
            for node in nodes {
                let b = &node.block;
                if b.archived || b.in_trash {
                    if b.kind == "child_page" {
                        gone.extend(id_number(&b.id));
                    }
                    continue;
                }
                if b.kind == "child_page" {
                    out.extend(id_number(&b.id));
                }
                for row in &node.rows {
                    let target = if row.deleted() { &mut *gone } else { &mut *out };
                    target.extend(id_number(&row.id));
                }
                collect(&node.children, out, gone);
            }
        }
        let (mut ids, mut gone) = (Vec::new(), Vec::new());
        collect(nodes, &mut ids, &mut gone);
        if let Ok(mut pages) = self.pages.lock() {
            pages.found.extend(ids);
            pages.gone.extend(gone);
        }
    }

    /// Notes that page `id` is deleted for this source: in the trash, gone, out of the root.
    pub(super) fn gone(&self, id: &str) {
        if let (Some(n), Ok(mut pages)) = (id_number(id), self.pages.lock()) {
            pages.gone.insert(n);
        }
    }

    /// The document ids of the pages noted gone since the last call, narrowed to those the
    /// host holds when its lookup remembers (so the deletion count is the documents deleted
    /// and a trashed page Notion keeps listing costs nothing after the first time). A trashed
    /// page's file block documents are not among them (its blocks are not read): prune's.
    pub(super) async fn take_gone(&self, ctx: &SyncContext) -> Result<Vec<String>> {
        let gone: Vec<String> = match self.pages.lock() {
            Ok(mut pages) => {
                let mut ids: Vec<u128> = pages.gone.drain().collect();
                ids.sort_unstable();
                ids.into_iter().map(dashed).collect()
            }
            Err(_) => Vec::new(),
        };
        let lookup = ctx.fingerprints();
        if gone.is_empty() || !lookup.remembers() {
            return Ok(gone);
        }
        let held = lookup.fingerprints(&gone).await?;
        Ok(gone
            .into_iter()
            .filter(|id| held.contains_key(id))
            .collect())
    }

    /// The pages found below pages read that were neither listed nor taken yet (compact
    /// ids), now taken: what the search missed.
    pub(super) fn unlisted(&self) -> Vec<String> {
        let Ok(mut pages) = self.pages.lock() else {
            return Vec::new();
        };
        let RunPages { listed, found, .. } = &mut *pages;
        let mut out: Vec<u128> = found.drain().filter(|n| !listed.contains(n)).collect();
        out.sort_unstable();
        listed.extend(out.iter().copied());
        out.into_iter().map(|n| format!("{n:032x}")).collect()
    }

    pub(super) fn remember(&self, id: &str, parent: Option<Parent>) {
        if let (Some(id), Ok(mut map)) = (compact_id(id), self.parents.lock()) {
            map.insert(id, parent);
        }
    }

    fn known(&self, id: &str) -> Option<Option<Parent>> {
        let id = compact_id(id)?;
        self.parents.lock().ok()?.get(&id).cloned()
    }

    /// The parent of the `kind` (`page`, `database`, `block`) `id`, asked once; none when
    /// the integration cannot see it.
    pub(super) async fn parent_of(&self, kind: &str, id: &str) -> Result<Option<Parent>> {
        if let Some(known) = self.known(id) {
            return Ok(known);
        }
        let parent = match kind {
            "page" => self.client.page(id).await?.map(|p| p.parent),
            "database" => self.client.database(id).await?.map(|p| p.parent),
            "data_source" => self.client.data_source(id).await?.map(|p| p.parent),
            _ => self.client.block(id).await?.and_then(|b| b.parent),
        };
        self.remember(id, parent.clone());
        Ok(parent)
    }

    /// Whether `page` is the configured root or below it, at any depth (through pages,
    /// databases and blocks such as columns); always without a root.
    pub(super) async fn in_scope(&self, page: &Page) -> Result<bool> {
        let Some(root) = &self.root else {
            return Ok(true);
        };
        if compact_id(&page.id).as_deref() == Some(root.as_str()) {
            return Ok(true);
        }
        let mut parent = Some(page.parent.clone());
        for _ in 0..MAX_ANCESTORS {
            let Some((kind, id)) = parent.as_ref().and_then(Parent::target) else {
                return Ok(false);
            };
            if compact_id(id).as_deref() == Some(root.as_str()) {
                return Ok(true);
            }
            let (kind, id) = (kind.to_owned(), id.to_owned());
            parent = self.parent_of(&kind, &id).await.map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "the page {} cannot be placed under root_page_id: its ancestor {kind} {id} cannot be read: {e}",
                        page.id
                    ),
                )
                .with_connector(SOURCE)
            })?;
        }
        tracing::warn!(connector = SOURCE, page = %page.id, "more than {MAX_ANCESTORS} parents above the page; taken as outside the root");
        Ok(false)
    }

    /// The search from `from` on, each page with the checkpoint after it, then the walk to
    /// the pages found below those read that the search did not list.
    ///
    /// A full run reads the search oldest edit first (a page edited meanwhile moves behind
    /// the cursor and comes again, never shifts another past it). A window reads it newest
    /// first: with a lookup that remembers earlier runs, to its end, pages edited before the
    /// window handed to the lookup by their version (a page newly shared with the
    /// integration keeps its old `last_edited_time`, and is new to the store); without one,
    /// it ends at the first page older than the window.
    pub(super) fn checkpointed(
        &self,
        from: NotionCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<NotionCheckpoint>>> {
        let walk = self.with_context(&ctx);
        // Whether the search is read to its end, so that what it did not list is known.
        let complete = window.is_none() || ctx.fingerprints().remembers();
        async_stream::try_stream! {
            let mut cp = from;
            let started = Utc::now();
            let ascending = window.is_none();
            // A full run reads every search page: the next one is asked while this one's
            // pages are read (dropped, and its request with it, when the stream is).
            let mut ahead: Option<(String, SearchAhead)> = None;
            while !cp.searched() {
                ctx.cancellation().check()?;
                let list = match ahead.take() {
                    Some((cursor, page)) if cp.cursor.as_deref() == Some(cursor.as_str()) => page.await?,
                    _ => walk.client.search(cp.cursor.as_deref(), ascending, PAGE_SIZE).await?,
                };
                let next = list.next();
                if window.is_none() && cp.after.is_none()
                    && let Some(n) = next.as_deref().filter(|n| cp.cursor.as_deref() != Some(*n))
                {
                    ahead = search_ahead(&walk.client, n);
                }
                let mut past = false;
                let mut pending = Vec::new();
                for (page, failure) in pages_of(list) {
                    let page = match (page, failure) {
                        (Some(page), _) => page,
                        (None, Some(failure)) => {
                            pending.push(PendingItem::new(failure.id.clone().unwrap_or_default(), Pending::Failed(failure)));
                            continue;
                        }
                        (None, None) => continue,
                    };
                    walk.remember(&page.id, Some(page.parent.clone()));
                    walk.listed(&page.id);
                    if let Some(item) = walk.admit(page, window.as_ref(), complete, started, &mut past).await? {
                        pending.push(item);
                    }
                }
                // Resumed inside this search page: what was handed on before is skipped.
                if let Some(after) = cp.after.take() {
                    skip_handed_on(&mut pending, &after, |p| p.id.as_str());
                }
                // A search page of pages full of files is handed on in parts, each naming
                // the last page it holds.
                let mut fetches = walk.fetches(&ctx, pending).await?;
                let mut batch = Batch::default();
                while let Some(part) = fetches.next_part(PART_BYTES).await? {
                    match last_page(&part) {
                        Some(after) if !fetches.is_done() => {
                            let mut at = cp.clone();
                            at.after = Some(after);
                            yield CheckpointedBatch::new(part, at);
                        }
                        _ => batch.append(part),
                    }
                }
                cp = NotionCheckpoint {
                    cursor: if past { None } else { next.filter(|n| cp.cursor.as_deref() != Some(n.as_str())) },
                    started: true,
                    after: None,
                    pending: Vec::new(),
                };
                if cp.searched() && complete {
                    cp.pending = walk.unlisted();
                }
                let batch = batch.with_deleted(walk.take_gone(&ctx).await?);
                yield CheckpointedBatch::new(batch, cp.clone());
            }
            // The walk: pages below those read that the search did not list (it is neither
            // exhaustive nor immediate), each asked by id, their own child pages after them.
            while !cp.pending.is_empty() {
                ctx.cancellation().check()?;
                let take = cp.pending.len().min(WALK_BATCH);
                let taken = cp.pending.split_off(cp.pending.len() - take);
                let asked: Vec<(String, Result<Option<Page>>)> = futures::stream::iter(taken.clone())
                    .map(|id| {
                        let walk = walk.clone();
                        async move {
                            let page = walk.client.page(&id).await;
                            (id, page)
                        }
                    })
                    .buffered(CONCURRENCY)
                    .collect()
                    .await;
                let mut pending = Vec::new();
                let mut past = false;
                for (id, page) in asked {
                    match page {
                        Ok(Some(page)) => {
                            walk.remember(&page.id, Some(page.parent.clone()));
                            walk.listed(&page.id);
                            if let Some(item) = walk.admit(page, window.as_ref(), true, started, &mut past).await? {
                                pending.push(item);
                            }
                        }
                        // Gone since its parent was read (or no longer shared).
                        Ok(None) => walk.gone(&id),
                        Err(e) => {
                            let failure = item_failure(id.clone(), e)?;
                            pending.push(PendingItem::new(id, Pending::Failed(failure)));
                        }
                    }
                }
                // In parts too; a part's checkpoint still holds the pages of this batch, which
                // a resume reads again.
                let mut fetches = walk.fetches(&ctx, pending).await?;
                let mut batch = Batch::default();
                while let Some(part) = fetches.next_part(PART_BYTES).await? {
                    if fetches.is_done() {
                        batch.append(part);
                    } else {
                        let mut at = cp.clone();
                        at.pending.extend(taken.iter().cloned());
                        yield CheckpointedBatch::new(part, at);
                    }
                }
                cp.pending.extend(walk.unlisted());
                let batch = batch.with_deleted(walk.take_gone(&ctx).await?);
                yield CheckpointedBatch::new(batch, cp.clone());
            }
        }
        .boxed()
    }

    /// A listed page as an item to read, or none: in the trash, outside the root, outside
    /// the window (sets `past` once older than it, unless `complete`, when such a page goes
    /// to the lookup by its version instead).
    async fn admit(
        &self,
        page: Page,
        window: Option<&TimeWindow>,
        complete: bool,
        started: chrono::DateTime<Utc>,
        past: &mut bool,
    ) -> Result<Option<PendingItem<Pending>>> {
        if page.deleted() {
            self.gone(&page.id);
            return Ok(None);
        }
        let settled = page.last_edited_time + SETTLE <= started;
        if let Some(w) = window
            && !w.contains_truncated(page.last_edited_time, PRECISION)
        {
            let before = page.last_edited_time < w.start;
            // Newest first: once older than the window, every later one is.
            *past |= before && !complete;
            // After the window: the next one reads it. Before it, the lookup decides by the
            // version, which only a settled page has.
            if !before || !complete || !settled {
                return Ok(None);
            }
        }
        match self.in_scope(&page).await {
            Ok(true) => {}
            // Outside the root (moved out of it since, if the host holds it).
            Ok(false) => {
                self.gone(&page.id);
                return Ok(None);
            }
            // An ancestor Notion refuses (403, a 5xx past the retries) fails this page only.
            Err(e) => {
                let failure = item_failure(page.id.clone(), e)?;
                return Ok(Some(PendingItem::new(
                    page.id.clone(),
                    Pending::Failed(failure),
                )));
            }
        }
        let version = settled.then(|| version(&page));
        let id = page.id.clone();
        let item = PendingItem::new(
            id,
            Pending::Page(Box::new(Item {
                page,
                version: version.clone(),
            })),
        );
        Ok(Some(match &version {
            Some(v) => item.with_version(v),
            None => item,
        }))
    }

    /// The fetches of `pending`, [`CONCURRENCY`] pages at a time.
    async fn fetches(
        &self,
        ctx: &SyncContext,
        pending: Vec<PendingItem<Pending>>,
    ) -> Result<ItemFetches<Pending, impl FnMut(Pending) -> PageFuture + use<>, PageFuture>> {
        let walk = self.clone();
        ItemFetches::start(ctx, pending, CONCURRENCY, move |item| {
            let walk = walk.clone();
            let read: PageFuture = Box::pin(async move {
                match item {
                    Pending::Failed(f) => Ok(vec![Outcome::from(f)]),
                    Pending::Page(item) => walk.read(*item).await,
                }
            });
            read
        })
        .await
    }

    /// A page's document, then its file blocks' documents (or failures).
    pub(super) async fn read(&self, item: Item) -> Result<Vec<Outcome>> {
        let Item { page, version } = item;
        let nodes = self.tree(&page.id, true).await?;
        self.found_below(&nodes);
        let mut out = vec![Outcome::from(page_document(
            &page,
            &nodes,
            version.as_deref(),
        ))];
        if self.files {
            let mut files = Vec::new();
            collect_files(&nodes, &mut files);
            for block in files {
                out.push(self.file(&page, &block).await?);
            }
        }
        Ok(out)
    }

    /// A file block's document: its file downloaded now, while its URL is fresh.
    pub(super) async fn file(&self, page: &Page, block: &Block) -> Result<Outcome> {
        let Some((url, _)) = block.file_url() else {
            return Ok(Failure::new(
                Some(block.id.clone()),
                ErrorKind::InvalidData,
                format!(
                    "the {} block {} of the page {} holds no URL",
                    block.kind, block.id, page.id
                ),
            )
            .into());
        };
        match self.client.download(&url, self.max).await {
            Ok(data) => Ok(file_document(page, block, data.to_vec()).into()),
            Err(e) if is_body_too_large(&e) => Ok(Failure::new(
                Some(block.id.clone()),
                ErrorKind::Unsupported,
                format!(
                    "{} in the page {}: the file is larger than max_file_size ({} bytes)",
                    block.file_name(),
                    page.id,
                    self.max
                ),
            )
            .into()),
            Err(e) => Ok(item_failure(block.id.clone(), e)?.into()),
        }
    }

    /// Every child of block (or page) `id`, following the cursor.
    async fn all_children(&self, id: &str) -> Result<Vec<Block>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let list = self.client.children(id, cursor.as_deref()).await?;
            let next = list.next();
            out.reserve(list.results.len());
            for Lenient(block) in list.results {
                match block {
                    Ok(block) => out.push(block),
                    Err(e) => {
                        tracing::warn!(connector = SOURCE, parent = %id, "a block cannot be read and is left out: {}", e.error);
                    }
                }
            }
            match next {
                Some(n) if cursor.as_deref() != Some(n.as_str()) => cursor = Some(n),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every row of database `id`, from each of its data sources; none when the integration
    /// can read neither the database nor any of its data sources (a linked database whose
    /// source is not shared).
    async fn rows(&self, id: &str) -> Result<Option<Vec<Page>>> {
        let database = match self.client.database(id).await {
            Ok(Some(db)) => db,
            Ok(None) => return Ok(None),
            Err(e) if skippable(e.kind()) => {
                tracing::warn!(connector = SOURCE, database = %id, "the database cannot be read; its page says so in place of its rows: {e}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        let mut read_any = database.data_sources.is_empty();
        for source in &database.data_sources {
            match self.source_rows(&source.id, &mut out).await {
                Ok(()) => read_any = true,
                Err(e) if skippable(e.kind()) => {
                    tracing::warn!(connector = SOURCE, database = %id, data_source = %source.id, "the data source cannot be queried; its rows are left out: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(read_any.then_some(out))
    }

    /// Every row of data source `id`, appended to `out`.
    async fn source_rows(&self, id: &str, out: &mut Vec<Page>) -> Result<()> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let list = self.client.query_data_source(id, cursor.as_deref()).await?;
            let next = list.next();
            out.extend(list.results.into_iter().filter_map(|r| r.0.ok()));
            match next {
                Some(n) if cursor.as_deref() != Some(n.as_str()) => cursor = Some(n),
                _ => break,
            }
        }
        Ok(())
    }

    /// The block tree of page `id`: level by level, up to [`BLOCK_CONCURRENCY`] children
    /// lists at a time, every block with `has_children` opened (child pages and databases
    /// are documents of their own and are not); with `rows`, each inline database queried.
    pub(super) async fn tree(&self, id: &str, rows: bool) -> Result<Vec<Node>> {
        let mut lists: HashMap<String, Vec<Block>> = HashMap::new();
        let mut unreadable: HashSet<String> = HashSet::new();
        let mut databases = Vec::new();
        let mut frontier = vec![id.to_owned()];
        let mut opened: HashSet<String> = HashSet::from([id.to_owned()]);
        for _ in 0..MAX_DEPTH {
            if frontier.is_empty() {
                break;
            }
            let read: Vec<(String, Option<Vec<Block>>)> =
                futures::stream::iter(std::mem::take(&mut frontier))
                    .map(|parent| async move {
                        match self.all_children(&parent).await {
                            Ok(children) => Ok((parent, Some(children))),
                            // Below the page, a list Notion refuses (a synced block whose
                            // original is not shared, a restricted block kind) is left out
                            // with a marker; the page's own list failing fails the page.
                            Err(e) if parent != id && skippable(e.kind()) => {
                                tracing::warn!(connector = SOURCE, page = %id, block = %parent, "the block's children cannot be read and are left out: {e}");
                                Ok((parent, None))
                            }
                            Err(e) => Err(e),
                        }
                    })
                    .buffered(BLOCK_CONCURRENCY)
                    .try_collect()
                    .await?;
            for (parent, children) in read {
                let Some(children) = children else {
                    unreadable.insert(parent);
                    continue;
                };
                for b in &children {
                    // A block already opened is not opened again: synced blocks can refer
                    // back into the tree that holds them.
                    if b.has_children && !b.is_child_object() && opened.insert(b.id.clone()) {
                        frontier.push(b.id.clone());
                    }
                    if rows && b.kind == "child_database" {
                        databases.push(b.id.clone());
                    }
                }
                lists.insert(parent, children);
            }
        }
        let mut table: HashMap<String, Vec<Page>> = HashMap::new();
        for db in databases {
            match self.rows(&db).await? {
                Some(found) => {
                    table.insert(db, found);
                }
                None => {
                    unreadable.insert(db);
                }
            }
        }
        Ok(assemble(id, &mut lists, &mut table, &unreadable))
    }
}

/// The search page being read ahead.
type SearchAhead = futures::future::RemoteHandle<Result<List<Page>>>;

/// The full run's search page at `cursor`, asked now on its own task; none without a Tokio
/// runtime (then it is asked when its turn comes).
fn search_ahead(client: &Client, cursor: &str) -> Option<(String, SearchAhead)> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (client, at) = (client.clone(), cursor.to_owned());
    let (task, handle) = async move { client.search(Some(&at), true, PAGE_SIZE).await }
        .in_current_span()
        .remote_handle();
    runtime.spawn(task);
    Some((cursor.to_owned(), handle))
}

/// The results of a search page: each a page, or the failure of one that cannot be read
/// (named by its id when it has one).
pub(super) fn pages_of(list: List<Page>) -> Vec<(Option<Page>, Option<Failure>)> {
    list.results
        .into_iter()
        .map(|Lenient(result)| match result {
            Ok(page) => (Some(page), None),
            Err(Malformed { id: None, error }) => {
                tracing::warn!(
                    connector = SOURCE,
                    "a search result without an id is left out: {error}"
                );
                (None, None)
            }
            Err(Malformed {
                id: Some(id),
                error,
            }) => {
                let failure = Failure::new(
                    Some(id.clone()),
                    ErrorKind::InvalidData,
                    format!("the page {id} cannot be read from the search result: {error}"),
                );
                let failure = match url::Url::parse(&notion_url(&id)) {
                    Ok(link) => failure.with_link(link),
                    Err(_) => failure,
                };
                (None, Some(failure))
            }
        })
        .collect()
}

/// The tree under `id` from the children lists read.
fn assemble(
    id: &str,
    lists: &mut HashMap<String, Vec<Block>>,
    rows: &mut HashMap<String, Vec<Page>>,
    unreadable: &HashSet<String>,
) -> Vec<Node> {
    let Some(blocks) = lists.remove(id) else {
        return Vec::new();
    };
    blocks
        .into_iter()
        .map(|block| {
            let children = if block.is_child_object() {
                Vec::new()
            } else {
                assemble(&block.id, lists, rows, unreadable)
            };
            let found = rows.remove(&block.id).unwrap_or_default();
            Node {
                unreadable: unreadable.contains(&block.id),
                block,
                children,
                rows: found,
            }
        })
        .collect()
}

/// Whether a children list below the page that fails with `kind` is left out (with a marker)
/// rather than fail the page: Notion's answer for content the integration may not see (404
/// `object_not_found`, 403 `restricted_resource`, 400 `validation_error`), not a transient one.
pub(super) fn skippable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidData
    )
}

/// The file blocks of a tree, in page order.
pub(super) fn collect_files(nodes: &[Node], out: &mut Vec<Block>) {
    for node in nodes {
        if node.block.is_file() && !node.block.archived && !node.block.in_trash {
            out.push(node.block.clone());
        }
        collect_files(&node.children, out);
    }
}
