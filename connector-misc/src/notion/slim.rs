//! The id listing for prune (the search, and with files the walk below it), the
//! confirmation of what prune would delete, and the refetch of named pages and files.

use chrono::Utc;
use connector_core::pages::{Outcome, PendingItem, fetch_items};
use connector_core::{Batch, Error, ErrorKind, Result, SlimDocument, SyncContext};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::client::PAGE_SIZE;
use super::config::compact_id;
use super::model::{Page, Parent};
use super::pages::{
    CONCURRENCY, Item, MAX_ANCESTORS, MAX_LIST_PAGES, SETTLE, Walk, collect_files, pages_of,
    version,
};

impl Walk {
    /// Every page id in scope and, with `include_files`, every file block id in them (the
    /// block tree of each page read, and the pages below them that the search did not list
    /// walked to); fails, rather than come back short, when a page cannot be listed. The
    /// search may still miss a page (it is not exhaustive): prune asks
    /// [`confirm_gone`](Self::confirm_gone) before it deletes one.
    pub(super) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_LIST_PAGES {
                ctx.cancellation().check()?;
                let list = walk.client.search(cursor.as_deref(), true, PAGE_SIZE).await?;
                let next = list.next();
                let mut ids = Vec::new();
                for (page, _) in pages_of(list) {
                    let Some(page) = page else { continue };
                    walk.remember(&page.id, Some(page.parent.clone()));
                    walk.listed(&page.id);
                    if let Some(found) = walk.slim_page(page).await? {
                        ids.extend(found);
                    }
                }
                if !ids.is_empty() {
                    yield ids;
                }
                match next {
                    Some(n) if cursor.as_deref() != Some(n.as_str()) => cursor = Some(n),
                    _ => break,
                }
            }
            // Only block trees show the pages the search missed; without files none is read.
            let mut stack = walk.unlisted();
            while let Some(id) = stack.pop() {
                ctx.cancellation().check()?;
                let Some(page) = walk.client.page(&id).await? else { continue };
                walk.listed(&page.id);
                if let Some(found) = walk.slim_page(page).await? {
                    yield found;
                }
                stack.extend(walk.unlisted());
            }
        }
        .boxed()
    }

    /// The ids `page` stands for in the listing: none when in the trash or outside the root;
    /// else its own, and with files those of its file blocks (its child pages noted).
    async fn slim_page(&self, page: Page) -> Result<Option<Vec<SlimDocument>>> {
        if page.deleted() {
            return Ok(None);
        }
        match self.in_scope(&page).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            // Scope unknown: the page stays listed, so the prune keeps it rather than delete
            // a document that may still be in scope.
            Err(e) if !e.kind().ends_sync() => {
                tracing::warn!(connector = SOURCE, page = %page.id, "kept in the listing, its scope unknown: {e}");
            }
            Err(e) => return Err(e),
        }
        let mut ids = Vec::new();
        if self.files {
            let nodes = self.tree(&page.id, false).await?;
            self.found_below(&nodes);
            let mut files = Vec::new();
            collect_files(&nodes, &mut files);
            ids.extend(files.into_iter().map(|b| SlimDocument::new(b.id)));
        }
        ids.push(SlimDocument::new(page.id));
        Ok(Some(ids))
    }

    /// Of `ids` (known to the store, not listed), those Notion confirms are gone: a page
    /// `GET /v1/pages/{id}` answers 404 for (deleted, or no longer shared), or shows in the
    /// trash or outside the root; a file block likewise by `GET /v1/blocks/{id}`. One Notion
    /// cannot answer for now stays (and is asked again by the next prune).
    ///
    /// # Errors
    /// What ends a sync (a revoked token, a cancellation).
    pub(super) async fn confirm_gone(&self, ids: Vec<String>) -> Result<Vec<String>> {
        let answers: Vec<(String, Result<bool>)> = futures::stream::iter(ids)
            .map(|id| async move {
                let gone = self.is_gone(&id).await;
                (id, gone)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut gone = Vec::new();
        for (id, answer) in answers {
            match answer {
                Ok(true) => gone.push(id),
                Ok(false) => {
                    tracing::debug!(connector = SOURCE, id = %id, "not listed by the search, but still there: kept");
                }
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => {
                    tracing::warn!(connector = SOURCE, id = %id, "whether it is gone cannot be told; kept: {e}");
                }
            }
        }
        Ok(gone)
    }

    async fn is_gone(&self, id: &str) -> Result<bool> {
        if compact_id(id).is_none() {
            return Ok(true);
        }
        match self.client.page(id).await {
            Ok(Some(page)) => return Ok(page.deleted() || !self.in_scope(&page).await?),
            Ok(None) => {}
            // Notion answers a block's id at `/v1/pages` with 400 `validation_error`.
            Err(e) if e.kind() == ErrorKind::InvalidData => {}
            Err(e) => return Err(e),
        }
        Ok(match self.client.block(id).await? {
            Some(block) => !self.files || !block.is_file() || block.archived || block.in_trash,
            None => true,
        })
    }

    /// The pages and file blocks with these ids again; one that is gone, in the trash or
    /// outside the root yields nothing.
    pub(super) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            for chunk in ids.chunks(PAGE_SIZE as usize) {
                let pending = chunk
                    .iter()
                    .filter(|id| compact_id(id).is_some())
                    .map(|id| PendingItem::new(id.clone(), id.clone()));
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |id: String| {
                    let walk = walk.clone();
                    async move { walk.refetch_one(&id).await }
                })
                .await?;
                if !batch.is_empty() {
                    yield batch;
                }
            }
        }
        .boxed()
    }

    async fn refetch_one(&self, id: &str) -> Result<Vec<Outcome>> {
        if let Some(value) = self.client.page_value(id).await? {
            let page: Page = serde_json::from_value(value).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidData,
                    format!("the page {id} cannot be read: {e}"),
                )
                .with_connector(SOURCE)
            })?;
            if page.deleted() || !self.in_scope(&page).await? {
                return Ok(Vec::new());
            }
            let settled = page.last_edited_time + SETTLE <= Utc::now();
            let version = settled.then(|| version(&page));
            let outcomes = self.read(Item { page, version }).await?;
            return Ok(outcomes);
        }
        // A file block: its page first (the block's parents up to it), then the file.
        let Some(block) = self.client.block(id).await? else {
            return Ok(Vec::new());
        };
        if !block.is_file() || block.archived || block.in_trash || !self.files {
            return Ok(Vec::new());
        }
        let mut parent = block.parent.clone();
        for _ in 0..MAX_ANCESTORS {
            match parent.as_ref().and_then(Parent::target) {
                Some(("page", page_id)) => {
                    let Some(page) = self.client.page(page_id).await? else {
                        return Ok(Vec::new());
                    };
                    if page.deleted() || !self.in_scope(&page).await? {
                        return Ok(Vec::new());
                    }
                    return Ok(vec![self.file(&page, &block).await?]);
                }
                Some(("block", block_id)) => {
                    let block_id = block_id.to_owned();
                    parent = self.parent_of("block", &block_id).await?;
                }
                _ => return Ok(Vec::new()),
            }
        }
        Ok(Vec::new())
    }
}
