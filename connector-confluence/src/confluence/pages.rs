//! The page walk: one CQL search, one [`Batch`] per result page, through core's page pipeline.
//!
//! A result page is read in two steps:
//! 1. **Listing**: each result is read, kept when it lies in the window, and completed with
//!    the attachments it did not embed and with its comments, replies and inline comments
//!    included, from one comment search for the whole result page ([`comments`]); their ids
//!    and versions are part of the fingerprints, so they must be known before the store is
//!    asked.
//! 2. **Items**: every page, blog post and taken attachment goes to [`fetch_items`]: one
//!    fingerprint lookup for the whole result page, unchanged items reported without being
//!    rendered or downloaded, the others converted a few at a time in page order (pages
//!    first, then attachments), and every error sorted by core's one policy.

use std::collections::HashSet;
use std::sync::Arc;

use connector_core::pages::{Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{
    Access, Batch, CheckpointedBatch, Document, Error, ErrorKind, Failure, NoFingerprints, Result,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::access::{self, Permissions};
use super::checkpoint::{ConfluenceCheckpoint, Resume};
use super::client::Client;
use super::comments;
use super::convert::{self, Lookups};
use super::ids::{DocIds, Named};
use super::model::{Content, Paged, Space};
use super::storage::{self, Refs};
use super::zone;

mod search;
mod touched;

pub(super) use search::Settings;

/// Requests in flight at once for one result page: the attachments beyond the embedded ones,
/// then the pages being rendered (with their lookups) and attachment downloads.
const CONCURRENCY: usize = 4;

/// The search over `window` (everything when `None`) from checkpoint `from`, one batch per
/// result page with the checkpoint after it.
pub(super) fn load(
    client: Client,
    settings: Arc<Settings>,
    from: ConfluenceCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<ConfluenceCheckpoint>>> {
    async_stream::try_stream! {
        if window.is_some_and(|w| w.is_empty()) {
            return;
        }
        // Written once per run: see `zone` for why not CQL's `now()`.
        let since = match window {
            Some(w) => Some(zone::lower_bound(w, &client.cql_zones(settings.timezone_offset).await?)),
            None => None,
        };
        let first = settings.search(&settings.cql(since.as_deref()), &settings.expand());
        let query = connector_core::ids::hash128(&first);
        let resume = from.resume(&query, window, first);
        let run = Run::new(client.clone(), Arc::clone(&settings));
        if let Resume::Pages(start) = &resume {
            let mut pages = client.pages_from(client.cursor(start.path.clone(), start.walk.clone()));
            while let Some(page) = pages.next().await {
                ctx.cancellation().check()?;
                let page = page?;
                let batch = run.batch(page.items, window, &ctx).await?;
                let checkpoint = ConfluenceCheckpoint::after(page.next, &query, window);
                yield CheckpointedBatch::new(batch, checkpoint);
            }
        }
        // An incremental run's second pass: the pages whose comments or attachments changed
        // in the window, which the page search (by the page's own `lastmodified`) misses.
        let (Some(window), Some(since)) = (window, since) else {
            return;
        };
        let start = match resume {
            Resume::Done => return,
            Resume::Touched(Some(cursor)) => client.cursor(cursor.path, cursor.walk),
            Resume::Touched(None) | Resume::Pages(_) => {
                client.cursor(settings.touched_search(&since), None)
            }
        };
        let mut changed = client.pages_from(start);
        // Pages delivered by this pass already (a page with many new comments is named by
        // several of them); lost on resume, which then only repeats a page.
        let mut seen = HashSet::new();
        while let Some(page) = changed.next().await {
            ctx.cancellation().check()?;
            let page = page?;
            let ids = touched::containers(page.items, window, &mut seen);
            let batch = run.pages_by_id(&ids, &ctx).await?;
            let checkpoint = ConfluenceCheckpoint::after_touched(page.next, &query, Some(window));
            yield CheckpointedBatch::new(batch, checkpoint);
        }
    }
    .boxed()
}

/// Every page, blog post and taken attachment id of the selection, a result page at a time.
pub(super) fn list_ids(
    client: Client,
    settings: Arc<Settings>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        // Ids need no bodies: only the attachments, for the ids of those a load takes.
        let expand = if settings.attachments.is_some() { "children.attachment.version" } else { "" };
        let mut pages = client.pages(settings.search(&settings.cql(None), expand));
        let run = Run::new(client, settings);
        while let Some(page) = pages.next().await {
            ctx.cancellation().check()?;
            let ids = run.ids(page?.items).await?;
            if !ids.is_empty() {
                yield ids;
            }
        }
    }
    .boxed()
}

/// The documents `ids` fetched again (core's refetch role): the pages they name (an
/// attachment's page, looked up by the attachment's content id under `content_id`), searched
/// through the selection by id and rendered whatever the store holds; only the documents and
/// failures of `ids` are kept. An id that names no page of the selection (gone, out of scope,
/// or a Server `/display/KEY/Title` URL, which holds no id) yields nothing and is left to the
/// next run and to prune.
pub(super) fn refetch(
    client: Client,
    settings: Arc<Settings>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    // The host asked for these items by name: fetch them whatever the store holds.
    let ctx = ctx.with_fingerprints(Arc::new(NoFingerprints));
    async_stream::try_stream! {
        let mut failures = Vec::new();
        let mut pages = Vec::new();
        let mut seen = HashSet::new();
        for id in &ids {
            ctx.cancellation().check()?;
            let page = match settings.ids.named(id) {
                Some(Named::Page(page)) => Some(page),
                Some(Named::Attachment(attachment)) => match client.container_of(&attachment).await {
                    Ok(page) => page,
                    Err(e) => {
                        failures.push(item_failure(id, e.with_item(id))?);
                        None
                    }
                },
                None => {
                    tracing::warn!(connector = SOURCE, id = %id, "a document id names no page id; it cannot be fetched again by id");
                    None
                }
            };
            if let Some(page) = page && seen.insert(page.clone()) {
                pages.push(page);
            }
        }
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let run = Run::new(client, settings);
        let mut batch = run.pages_by_id(&pages, &ctx).await?;
        batch.documents.retain(|d| wanted.contains(d.id.as_str()));
        batch.failures.retain(|f| f.id.as_deref().is_some_and(|i| wanted.contains(i)));
        batch.unchanged.clear();
        batch.failures.append(&mut failures);
        yield batch;
    }
    .boxed()
}

/// One search result being turned into documents.
struct Item {
    id: String,
    /// Its web URL.
    link: Option<String>,
    content: Content,
    /// Every comment, in creation order (filled by the listing of a load).
    comments: Vec<Content>,
    /// Who may read it, with `include_permissions` (filled by the listing of a load).
    access: Option<Access>,
    attachments: Vec<Content>,
    more_attachments: Option<u64>,
}

impl Item {
    /// A search result as an item; `None` when it lies outside `window`, a failure when it
    /// cannot be read or has no web link (and so no id).
    fn read(
        ids: &DocIds,
        value: Value,
        window: Option<TimeWindow>,
        include_archived: bool,
    ) -> std::result::Result<Option<Self>, Box<Failure>> {
        let raw = ids.of_raw(&value);
        let mut content = serde_json::from_value::<Content>(value).map_err(|e| {
            let what = raw.as_deref().unwrap_or("no link").to_owned();
            Box::new(Failure::new(
                raw,
                ErrorKind::InvalidData,
                format!("a search result cannot be read ({what}): {e}"),
            ))
        })?;
        if let Some(w) = window
            && !content.when().is_some_and(|t| w.contains(t))
        {
            return Ok(None);
        }
        if !include_archived && content.space.as_ref().is_some_and(Space::archived) {
            return Ok(None);
        }
        let Some(id) = ids.of(&content) else {
            return Err(Box::new(Failure::new(
                None,
                ErrorKind::InvalidData,
                format!(
                    "content `{}` (id {}) has no web link or no id",
                    content.title, content.id
                ),
            )));
        };
        let attachments = content.children.take().and_then(|c| c.attachment);
        Ok(Some(Self {
            id,
            link: ids.link(&content),
            more_attachments: attachments.as_ref().and_then(Paged::rest_start),
            comments: Vec::new(),
            access: None,
            attachments: attachments.map(|c| c.results).unwrap_or_default(),
            content,
        }))
    }

    /// Fetches the attachments the result did not embed.
    async fn complete(&mut self, client: &Client) -> Result<()> {
        if self.more_attachments.take().is_some() {
            // Listed from the start (see `Client::children`): keep the embedded ones, add
            // the rest.
            let more = client
                .children(&self.content.id, "attachment", "version")
                .await?;
            let known: HashSet<String> = self.attachments.iter().map(|a| a.id.clone()).collect();
            self.attachments
                .extend(more.into_iter().filter(|a| !known.contains(&a.id)));
        }
        Ok(())
    }
}

/// One item of a result page for [`fetch_items`].
enum Work<'a> {
    /// A page or blog post, rendered with its comments.
    Page(&'a Item),
    /// An attachment `id` of the page `of`, downloaded.
    Attachment {
        id: String,
        attachment: &'a Content,
        of: &'a Item,
    },
}

/// The state of one stream: the client and the lookups cached for the run.
struct Run {
    client: Client,
    settings: Arc<Settings>,
    lookups: Lookups,
    /// With `include_permissions` (shared with `lookups`, which decides what includes
    /// inline).
    permissions: Option<Arc<Permissions>>,
}

impl Run {
    fn new(client: Client, settings: Arc<Settings>) -> Self {
        let permissions = settings
            .permissions
            .then(|| Arc::new(Permissions::new(client.clone(), settings.cloud)));
        Self {
            lookups: Lookups::new(client.clone(), permissions.clone()),
            permissions,
            client,
            settings,
        }
    }

    /// The version token of a page: its version, its comments', where it is and how it is
    /// labelled ([`convert::placement_token`]) and, with permissions, who may read it. What
    /// changes without a new version (a move, a label, a restriction, a space permission)
    /// changes the token, so a reconciliation run delivers the page again.
    fn page_token(&self, item: &Item) -> String {
        let mut token = convert::page_token(&item.content, &item.comments);
        token.push_str(&convert::placement_token(&item.content));
        if self.permissions.is_some() {
            token.push_str(&access::token(item.access.as_ref()));
        }
        token
    }

    /// The version token of an attachment of `item`: its own version and size, and its
    /// page's title and placement (an attachment's metadata names its page and space).
    fn attachment_token(&self, item: &Item, attachment: &Content) -> String {
        let mut token = convert::attachment_token(attachment);
        token.push_str(&format!(
            ";on:{}{}",
            &connector_core::ids::hash128(&item.content.title)[..8],
            convert::placement_token(&item.content)
        ));
        if self.permissions.is_some() {
            token.push_str(&access::token(item.access.as_ref()));
        }
        token
    }

    /// `doc` with the access of `item`, when it is known.
    fn with_access(item: &Item, doc: Document) -> Document {
        match &item.access {
            Some(access) => doc.with_access(access.clone()),
            None => doc,
        }
    }

    /// The listing step: reads the results of a search page, keeps those in `window`,
    /// completes them, and returns them with the failures of those that could not be read.
    ///
    /// # Errors
    /// A completion's error that ends the sync.
    async fn listing(
        &self,
        page: Paged<Value>,
        window: Option<TimeWindow>,
        comments: bool,
    ) -> Result<(Vec<Item>, Vec<Failure>)> {
        let mut failures = Vec::new();
        let mut read = Vec::new();
        for value in page.results {
            match Item::read(
                &self.settings.ids,
                value,
                window,
                self.settings.include_archived,
            ) {
                Ok(Some(item)) => read.push(item),
                Ok(None) => {}
                Err(failure) => failures.push(*failure),
            }
        }
        let attachments = self.settings.attachments.is_some();
        let mut completed = futures::stream::iter(read)
            .map(|mut item| async move {
                let done = if attachments {
                    item.complete(&self.client).await
                } else {
                    Ok(())
                };
                (item, done)
            })
            .buffered(CONCURRENCY);
        let mut items = Vec::new();
        while let Some((item, done)) = completed.next().await {
            match done {
                Ok(()) => items.push(item),
                Err(e) => failures.push(item_failure(&item.id, e.with_item(&item.id))?),
            }
        }
        if comments && !items.is_empty() {
            let ids: Vec<&str> = items.iter().map(|i| i.content.id.as_str()).collect();
            match comments::of_pages(&self.client, &ids, self.settings.archived_param()).await {
                Ok(mut found) => {
                    for item in &mut items {
                        item.comments = found.remove(&item.content.id).unwrap_or_default();
                    }
                }
                // Without its comments a page's version is not known: every page of this
                // result page is a failure (retried by the next run), unless the error ends
                // the sync.
                Err(e) => {
                    for item in items.drain(..) {
                        let e = Error::new(e.kind(), format!("its comments cannot be listed: {e}"))
                            .with_connector(SOURCE)
                            .with_item(&item.id);
                        failures.push(item_failure(&item.id, e)?);
                    }
                }
            }
        }
        if comments && let Some(permissions) = &self.permissions {
            let mut read = futures::stream::iter(items)
                .map(|mut item| async move {
                    let found = permissions.of(&item.content).await;
                    (found.map(|access| item.access = Some(access)), item)
                })
                .buffered(CONCURRENCY);
            let mut kept = Vec::new();
            while let Some((found, item)) = read.next().await {
                match found {
                    Ok(()) => kept.push(item),
                    Err(e) => failures.push(item_failure(&item.id, e.with_item(&item.id))?),
                }
            }
            return Ok((kept, failures));
        }
        Ok((items, failures))
    }

    /// The attachments of `item` that are taken, with their ids.
    fn attachments<'a>(&self, item: &'a Item) -> Vec<(String, &'a Content)> {
        let Some(rules) = self.settings.attachments else {
            return Vec::new();
        };
        item.attachments
            .iter()
            .filter(|a| rules.takes(a))
            .filter_map(|a| self.settings.ids.of(a).map(|id| (id, a)))
            .collect()
    }

    /// One search page as a batch.
    async fn batch(
        &self,
        page: Paged<Value>,
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let (items, failures) = self.listing(page, window, true).await?;
        // Pages first, then attachments: the order of the documents in the batch.
        let mut pending = Vec::new();
        for item in &items {
            let token = self.page_token(item);
            pending.push(PendingItem::new(item.id.clone(), Work::Page(item)).with_version(&token));
        }
        for item in &items {
            for (id, attachment) in self.attachments(item) {
                let token = self.attachment_token(item, attachment);
                let work = Work::Attachment {
                    id: id.clone(),
                    attachment,
                    of: item,
                };
                pending.push(PendingItem::new(id, work).with_version(&token));
            }
        }
        let fetched = fetch_items(ctx, pending, CONCURRENCY, |work| self.fetch(work)).await?;
        let mut batch = Batch::default();
        batch.failures = failures;
        batch.append(fetched);
        Ok(batch)
    }

    /// The pages `ids` of the selection (those of them it still selects), with their
    /// comments and attachments, in one batch; not filtered by the window: they are here
    /// because their comments or attachments changed.
    ///
    /// # Errors
    /// A search error, or an item's error that ends the sync.
    async fn pages_by_id(&self, ids: &[String], ctx: &SyncContext) -> Result<Batch> {
        let mut batch = Batch::default();
        for chunk in ids.chunks(comments::CONTAINERS_PER_SEARCH) {
            let first = self
                .settings
                .search(&self.settings.cql_of_ids(chunk), &self.settings.expand());
            let mut pages = self.client.pages(first);
            while let Some(page) = pages.next().await {
                batch.append(self.batch(page?.items, None, ctx).await?);
            }
        }
        Ok(batch)
    }

    /// One item that changed, as its document or its failure; nothing for an attachment gone
    /// since the listing.
    ///
    /// # Errors
    /// An error that ends the sync.
    async fn fetch(&self, work: Work<'_>) -> Result<Option<Outcome>> {
        match work {
            Work::Page(item) => self.page(item).await.map(Some),
            Work::Attachment { id, attachment, of } => {
                let cap = self.settings.attachments.map_or(0, |r| r.size_limit);
                let link = attachment.links.download.as_deref();
                match self
                    .client
                    .download(&of.content.id, &attachment.id, link, cap)
                    .await
                {
                    Ok(bytes) => {
                        let doc = convert::attachment_document(
                            id,
                            self.settings.ids.link(attachment).as_deref(),
                            attachment,
                            bytes,
                            &self.attachment_token(of, attachment),
                            &of.id,
                            &of.content,
                        );
                        Ok(Some(Self::with_access(of, doc).into()))
                    }
                    // Deleted between the listing and the download (404, or 410 from some
                    // proxies): a failure would be retried forever and hold an incremental
                    // window's start back; its page's next listing no longer names it.
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        tracing::warn!(connector = SOURCE, attachment = %attachment.title, page = %of.id, error = %e, "an attachment is gone since the listing; skipping it");
                        Ok(None)
                    }
                    Err(e) => {
                        let e =
                            e.with_item(format!("attachment `{}` of {}", attachment.title, of.id));
                        failed(&id, self.settings.ids.link(attachment).as_deref(), e).map(Some)
                    }
                }
            }
        }
    }

    /// A page or blog post rendered with its comments, once the users and included pages
    /// it names are looked up.
    async fn page(&self, item: &Item) -> Result<Outcome> {
        let space = item.content.space.as_ref().map_or("", |s| s.key.as_str());
        let storage_text = item.content.storage().unwrap_or("");
        // A body that is not well-formed (or nests too deep) would fail on every run: it is
        // read anyway, leniently or as its text, flagged, and fails only when nothing is left.
        let (body, fallback) = match storage::parse(storage_text) {
            Ok(nodes) => (nodes, None),
            Err(e) => match storage::read_anyway(storage_text) {
                Some((nodes, how)) => {
                    tracing::warn!(connector = SOURCE, page = %item.id, title = %item.content.title, error = %e, fallback = how.name(), "a page's storage format cannot be read as it should; indexing it as read by the fallback");
                    (nodes, Some(how))
                }
                None => {
                    let link = item.link.as_deref();
                    return Ok(convert::unreadable(&item.id, link, &item.content, &e).into());
                }
            },
        };
        let mut refs = Refs::default();
        storage::collect_refs(&body, space, &mut refs);
        let mut comments = Vec::new();
        for placed in comments::threads(&item.comments) {
            let c = placed.comment;
            match storage::parse(c.storage().unwrap_or("")) {
                Ok(nodes) => {
                    storage::collect_refs(&nodes, space, &mut refs);
                    comments.push((placed, nodes));
                }
                Err(e) => {
                    tracing::warn!(connector = SOURCE, page = %item.id, comment = %c.id, error = %e, "leaving out a comment whose body cannot be read")
                }
            }
        }
        if let Err(e) = self.lookups.resolve(refs).await {
            return failed(&item.id, item.link.as_deref(), e);
        }
        let doc = convert::page_document(
            item.id.clone(),
            item.link.as_deref(),
            &item.content,
            &body,
            &comments,
            &self.page_token(item),
            &self.lookups,
        );
        let doc = match fallback {
            Some(how) => doc
                .with_metadata("storage_fallback", true)
                .with_metadata("storage_fallback_mode", how.name()),
            None => doc,
        };
        Ok(Self::with_access(item, doc).into())
    }

    /// The ids of a search page: its results and their taken attachments.
    ///
    /// # Errors
    /// When a result's id cannot be known: prune must not run on an incomplete listing
    /// ([`Batch::into_slim_ids`]).
    async fn ids(&self, page: Paged<Value>) -> Result<Vec<SlimDocument>> {
        let (items, failures) = self.listing(page, None, false).await?;
        // Seen without their bodies, as unchanged items are.
        let mut listed = Batch::default();
        for item in &items {
            listed.unchanged.push(item.id.clone());
            listed
                .unchanged
                .extend(self.attachments(item).into_iter().map(|(id, _)| id));
        }
        listed.failures = failures;
        listed.into_slim_ids().map_err(|e| e.with_connector(SOURCE))
    }
}

/// The policy for an item's error, keeping the failure's link to the item.
///
/// # Errors
/// `e` when it ends the sync.
fn failed(id: &str, link: Option<&str>, e: Error) -> Result<Outcome> {
    Ok(convert::linked(item_failure(id, e)?, link).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confluence::ids::IdScheme;
    use connector_core::window::Zone;

    #[test]
    fn window_starts_at_its_bound_and_stays_open() {
        let s = Settings {
            selection: "type in (page, blogpost)".into(),
            page_size: 50,
            include_archived: false,
            cloud: true,
            attachments: None,
            timezone_offset: None,
            ids: DocIds::new(IdScheme::RagflowUrl, "https://x.atlassian.net/wiki"),
            permissions: false,
            space: None,
        };
        let start = "2026-03-01T10:15:30Z".parse();
        let end = "2026-03-01T11:00:00Z".parse();
        let (Ok(start), Ok(end), Some(plus1)) = (start, end, Zone::from_offset_hours(1.0)) else {
            panic!("dates")
        };
        let w = TimeWindow { start, end };
        let cql = s.cql(Some(&zone::lower_bound(w, &[plus1])));
        assert!(
            cql.contains(r#"lastmodified >= "2026-03-01 11:14""#),
            "{cql}"
        );
        assert!(!cql.contains("lastmodified <="), "the end is open: {cql}");
        // The selection has no space clause in `everything` mode: personal spaces the
        // credentials can view are searched too, as RAGFlow's `type=page` does.
        assert!(!s.cql(None).contains("space"), "{}", s.cql(None));
    }
}
