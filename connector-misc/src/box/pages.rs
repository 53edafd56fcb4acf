//! The folder walk: folder-items pages as checkpointed batches, the id listing and the refetch
//! of named files, on core's [`ItemFetches`] (one fingerprint lookup per page, unchanged files
//! not downloaded, the others a few at a time, large pages handed on in parts).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::http::is_body_too_large;
use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items};
use connector_core::{
    Access, Batch, CheckpointedBatch, Document, Error, ErrorKind, Failure, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;
use url::Url;

use super::SOURCE;
use super::checkpoint::{BoxCheckpoint, FolderFrame};
use super::client::{
    Client, Comment, Download, FileMeta, Listed, Me, SharedLink, UserMini, WebLinkMeta,
};

/// Downloads (and collaboration requests) at the same time within a page.
const CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The prefix of every document id: RAGFlow's `box:{id}`.
const ID_PREFIX: &str = "box:";

/// The document id of the file with Box id `id`.
pub(crate) fn doc_id(id: &str) -> String {
    format!("{ID_PREFIX}{id}")
}

/// The prefix of a web link's document id (Box numbers web links apart from files).
const WEB_LINK_PREFIX: &str = "box-web-link:";

/// The document id of the web link with Box id `id`.
pub(crate) fn web_link_id(id: &str) -> String {
    format!("{WEB_LINK_PREFIX}{id}")
}

/// The most comments of one file put in its document.
const MAX_COMMENTS: u64 = 1000;

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    /// The configured folder.
    pub(crate) root: String,
    pub(crate) max: u64,
    pub(crate) permissions: bool,
    /// The token's user, read once (with `include_permissions`).
    pub(crate) me: Arc<OnceCell<Me>>,
    /// With `all_users`: the users whose own walk delivers what they own, and the user this
    /// walk reads as; an item owned by another of them is left to that user's walk.
    pub(crate) users: Option<Arc<EnterpriseScope>>,
}

/// The users of an enterprise-wide walk (`all_users`), and the one being read.
#[derive(Debug)]
pub(crate) struct EnterpriseScope {
    pub(crate) all: Arc<std::collections::HashSet<String>>,
    pub(crate) current: String,
}

/// The group standing for every user of the Box enterprise `id` (a `company` shared link).
pub(crate) fn enterprise_group(id: &str) -> String {
    format!("box-enterprise:{id}")
}

/// A file to fetch: its metadata, folder, path and access.
struct Item {
    meta: Box<FileMeta>,
    folder: String,
    path: String,
    access: Option<Access>,
}

/// A web link to turn into a document.
struct LinkItem {
    meta: Box<WebLinkMeta>,
    folder: String,
    path: String,
    access: Option<Access>,
}

enum Pending {
    File(Item),
    WebLink(LinkItem),
    Failed(Failure),
}

/// `access` with a shared link's: an `open` link without a password makes everything under
/// it public, a `company` link opens it to the enterprise's users (`enterprise`, the token
/// user's, when known); what the enterprise's policy allows (`effective_access`) counts.
fn with_link_access(mut access: Access, link: Option<&SharedLink>, me: &Me) -> Access {
    let Some(link) = link else { return access };
    match link.effective() {
        Some("open") if link.is_password_enabled != Some(true) => access.public = true,
        Some("company") => {
            if let Some(enterprise) = &me.enterprise {
                access.groups.push(enterprise_group(&enterprise.id));
                access.groups.sort();
                access.groups.dedup();
            }
        }
        _ => {}
    }
    access
}

fn merge(into: &mut Access, more: Access) {
    into.emails.extend(more.emails);
    into.groups.extend(more.groups);
    into.public |= more.public;
    into.emails.sort();
    into.emails.dedup();
    into.groups.sort();
    into.groups.dedup();
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}/{name}")
    }
}

impl Walk {
    /// Whether an item owned by `owner` is another enterprise user's, delivered by that
    /// user's walk (`all_users`).
    fn owned_elsewhere(&self, owner: Option<&UserMini>) -> bool {
        let Some(scope) = &self.users else {
            return false;
        };
        owner
            .and_then(|o| o.id.as_deref())
            .is_some_and(|id| id != scope.current && scope.all.contains(id))
    }

    /// The frame the walk starts from: the configured folder, whose collaborations are read
    /// when it is entered (All Files, `0`, has none).
    fn root_frame(&self) -> FolderFrame {
        FolderFrame {
            id: self.root.clone(),
            path: String::new(),
            access: Access::default(),
            collaborated: self.permissions && self.root != "0",
        }
    }

    /// A listing error of the configured folder, naming `folder_id` when it is missing or the
    /// user may not read it.
    pub(crate) fn named_root_error(&self, e: Error) -> Error {
        match e.kind() {
            ErrorKind::NotFound => Error::new(
                ErrorKind::NotFound,
                format!(
                    "the folder {} does not exist in this Box account, or the user cannot see it",
                    self.root
                ),
            )
            .with_connector(SOURCE)
            .with_field("folder_id")
            .with_cause(e),
            // The folder is not shared with the user (a token without the scope says
            // `insufficient_scope`: that one is the token's).
            ErrorKind::PermissionDenied if !e.message().contains("insufficient_scope") => {
                Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "the user of these tokens may not read the folder {}; share it with them or pick another `folder_id`: {}",
                        self.root,
                        // Without core's "check the token" advice: the token is fine.
                        e.message().split("; check `").next().unwrap_or_default()
                    ),
                )
                .with_connector(SOURCE)
                .with_field("folder_id")
                .with_cause(e)
            }
            _ => e,
        }
    }

    /// The token's user (its login and enterprise), read once; nothing without
    /// `include_permissions`, or when Box will not say (a warning).
    async fn me(&self) -> Result<Me> {
        if !self.permissions {
            return Ok(Me::default());
        }
        self.me
            .get_or_try_init(|| async {
                match self.client.me().await {
                    Ok(me) => Ok(me),
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidData
                        ) =>
                    {
                        tracing::warn!(connector = SOURCE, "the token's user cannot be read; documents do not name it nor company-wide links: {e}");
                        Ok(Me::default())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
            .cloned()
    }

    /// The access of `frame` with its own collaborations added, read when it is entered.
    /// A folder whose collaborations the user may not list keeps what it inherited. The
    /// configured folder also takes its shared link and what each folder above it shares
    /// (collaborations and links), since Box gives those to everything below.
    async fn enter(&self, frame: &mut FolderFrame) -> Result<()> {
        if !frame.collaborated {
            return Ok(());
        }
        let mut own = true;
        if frame.id == self.root && frame.path.is_empty() {
            let me = self.me().await?;
            let meta = self.client.folder(&frame.id).await?;
            frame.access = with_link_access(frame.access.clone(), meta.shared_link.as_ref(), &me);
            own = meta.has_collaborations != Some(false);
            let above = meta.path_collection.map(|p| p.entries).unwrap_or_default();
            let root = frame.id.clone();
            for folder in above.iter().filter(|f| f.id != "0" && f.id != root) {
                match self.shared_by(&folder.id, &me).await {
                    Ok(access) => merge(&mut frame.access, access),
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::PermissionDenied | ErrorKind::NotFound
                        ) =>
                    {
                        tracing::warn!(connector = SOURCE, folder = %folder.id, "a folder above the configured one cannot be read; what it shares is not in the documents' access: {e}");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if own {
            match self.client.collaborations("folders", &frame.id).await {
                Ok(own) => merge(&mut frame.access, own),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    tracing::warn!(connector = SOURCE, folder = %frame.id, "the folder's collaborations cannot be listed; its files carry what its parents share: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        frame.collaborated = false;
        Ok(())
    }

    /// What the folder `id` shares: its collaborators and its shared link's audience.
    async fn shared_by(&self, id: &str, me: &Me) -> Result<Access> {
        let meta = self.client.folder(id).await?;
        let mut access = with_link_access(Access::default(), meta.shared_link.as_ref(), me);
        if meta.has_collaborations == Some(true) {
            merge(
                &mut access,
                self.client.collaborations("folders", id).await?,
            );
        }
        Ok(access)
    }

    /// The access of a listed file: its folder's, its own collaborations when it has some,
    /// its shared link's, its owner and the token's user (who reads it, whatever Box lets it
    /// see of the collaborations).
    async fn file_access(&self, meta: &FileMeta, folder: &Access) -> Result<Option<Access>> {
        if !self.permissions {
            return Ok(None);
        }
        let me = self.me().await?;
        let mut access = with_link_access(folder.clone(), meta.shared_link.as_ref(), &me);
        let logins = [
            meta.owned_by.as_ref().and_then(|o| o.login.as_deref()),
            me.login.as_deref(),
        ];
        for login in logins.into_iter().flatten() {
            merge(
                &mut access,
                Access::restricted(vec![login.to_lowercase()], Vec::new()),
            );
        }
        if meta.has_collaborations == Some(true) {
            match self.client.collaborations("files", &meta.id).await {
                Ok(own) => merge(&mut access, own),
                // The user may see the file but not who else does: what its folders share.
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(access))
    }

    /// The walk from `from` on, each page with the checkpoint after it.
    pub(super) fn checkpointed(
        &self,
        from: BoxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let mut cp = from;
            // A lookup that remembers earlier runs is handed the files outside the window
            // too: a file keeps its `modified_at` when a folder holding it is moved in, renamed
            // or shared anew, and only its version (path and access in it) tells.
            let remembers = ctx.fingerprints().remembers();
            let me = walk.me().await?;
            // The folder read again from its first page after Box refused a stored marker.
            let mut restarted: Option<String> = None;
            if !cp.started {
                cp = BoxCheckpoint { folders: vec![walk.root_frame()], started: true, ..BoxCheckpoint::start() };
            }
            loop {
                ctx.cancellation().check()?;
                let Some(mut frame) = cp.folders.last().cloned() else { break };
                let is_root = cp.folders.len() == 1 && frame.id == walk.root;
                if let Err(e) = walk.enter(&mut frame).await {
                    if e.kind() == ErrorKind::NotFound && !is_root {
                        tracing::warn!(connector = SOURCE, folder = %frame.id, "the folder is gone since its parent was listed");
                        cp.folders.pop();
                        cp.marker = None;
                        cp.after = None;
                        continue;
                    }
                    Err(if is_root { walk.named_root_error(e) } else { e })?;
                }
                if let Some(last) = cp.folders.last_mut() {
                    *last = frame.clone();
                }
                let page = match walk.client.folder_items(&frame.id, cp.marker.as_deref(), walk.client.page_size, false).await {
                    Ok(page) => page,
                    // Gone since its parent was listed, or between two of its pages: what is
                    // left of it is gone too.
                    Err(e) if e.kind() == ErrorKind::NotFound && !is_root => {
                        tracing::warn!(connector = SOURCE, folder = %frame.id, "the folder is gone since its parent was listed");
                        cp.folders.pop();
                        cp.marker = None;
                        cp.after = None;
                        continue;
                    }
                    // A marker Box no longer takes (a checkpoint kept long): the folder again
                    // from its first page, once; what was delivered comes again, unchanged.
                    Err(e) if e.kind() == ErrorKind::InvalidData
                        && cp.marker.is_some()
                        && !is_body_too_large(&e)
                        && restarted.as_deref() != Some(frame.id.as_str()) =>
                    {
                        tracing::warn!(connector = SOURCE, folder = %frame.id, "Box refused the stored marker; the folder is read again from its first page: {e}");
                        restarted = Some(frame.id.clone());
                        cp.marker = None;
                        cp.after = None;
                        continue;
                    }
                    Err(e) => Err(if is_root { walk.named_root_error(e) } else { e })?,
                };
                let before = cp.clone();
                let mut children = Vec::new();
                let mut files = Vec::new();
                let mut failures = Vec::new();
                let mut links = Vec::new();
                for listed in page.entries.into_iter().map(Listed::from_value) {
                    match listed {
                        Listed::Folder(f) if walk.owned_elsewhere(f.owned_by.as_ref()) => {}
                        Listed::File(meta) if walk.owned_elsewhere(meta.owned_by.as_ref()) => {}
                        Listed::WebLink(meta) if walk.owned_elsewhere(meta.owned_by.as_ref()) => {}
                        Listed::WebLink(meta) => {
                            if remembers || window.is_none_or(|w| w.contains(meta.modified_at)) {
                                links.push(*meta);
                            }
                        }
                        Listed::Folder(f) => children.push(FolderFrame {
                            path: join(&frame.path, &f.name),
                            access: with_link_access(frame.access.clone(), f.shared_link.as_ref(), &me),
                            collaborated: walk.permissions && f.has_collaborations == Some(true),
                            id: f.id,
                        }),
                        Listed::File(meta) => {
                            if remembers || window.is_none_or(|w| w.contains(meta.modified_at)) {
                                files.push(*meta);
                            }
                        }
                        Listed::Malformed { id, name, message } => {
                            // Named by its path and id, linked to its page when it has an id.
                            let shown = join(&frame.path, name.as_deref().unwrap_or("?"));
                            let link = id.as_deref().and_then(|i| Url::parse(&format!("https://app.box.com/file/{i}")).ok());
                            let id = id.map(|i| doc_id(&i));
                            let mut failure = Failure::new(id.clone(), ErrorKind::InvalidData, format!("{shown} ({}) in the folder {}: {message}", id.as_deref().unwrap_or("no id"), frame.id));
                            if let Some(link) = link {
                                failure = failure.with_link(link);
                            }
                            failures.push(failure);
                        }
                        Listed::Other => {}
                    }
                }
                if let Some(after) = cp.after.as_deref()
                    && let Some(pos) = files.iter().position(|m| doc_id(&m.id) == after)
                {
                    files.drain(..=pos);
                    // The failures of the entries before it were handed on with it.
                    failures.clear();
                    cp.after = None;
                }
                let mut pending = walk.pending(files, &frame).await?;
                if let Some(after) = cp.after.take()
                    && let Some(pos) = links.iter().position(|m| web_link_id(&m.id) == after)
                {
                    // Web links come after the page's files: those were handed on before.
                    links.drain(..=pos);
                    pending.clear();
                    failures.clear();
                }
                let me_links = walk.me().await?;
                pending.extend(links.into_iter().map(|meta| walk.pending_link(meta, &frame, &me_links)));
                let pending = failures
                    .into_iter()
                    .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Pending::Failed(f)))
                    .chain(pending);
                let fetch_walk = walk.clone();
                let mut fetches = ItemFetches::start(&ctx, pending, CONCURRENCY, move |item| {
                    fetch_walk.clone().fetch(item)
                })
                .await?;
                let mut rest = Batch::default();
                while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                    match part.documents.last().map(|d| d.id.clone()) {
                        Some(after) if !fetches.is_done() => {
                            let mut at = before.clone();
                            at.after = Some(after);
                            yield CheckpointedBatch::new(part, at);
                        }
                        _ if rest.is_empty() => rest = part,
                        _ => rest.append(part),
                    }
                }
                let mut next = before;
                next.after = None;
                let next_marker = match page.next_marker.filter(|m| !m.is_empty()) {
                    Some(m) if next.marker.as_deref() == Some(m.as_str()) => {
                        tracing::warn!(connector = SOURCE, folder = %frame.id, "Box answered the marker it was given as the next one; the folder ends here");
                        None
                    }
                    other => other,
                };
                match next_marker {
                    Some(marker) => {
                        next.marker = Some(marker);
                        // Below the current folder, which stays on top until its last page.
                        let at = next.folders.len().saturating_sub(1);
                        for child in children.into_iter().rev() {
                            next.folders.insert(at, child);
                        }
                    }
                    None => {
                        next.marker = None;
                        next.folders.pop();
                        next.folders.extend(children.into_iter().rev());
                    }
                }
                cp = next;
                yield CheckpointedBatch::new(rest, cp.clone());
            }
        }
        .boxed()
    }

    /// The listed files of a page as page items, their access read first (it is part of
    /// their version, so a new collaborator re-sends the document).
    async fn pending(
        &self,
        files: Vec<FileMeta>,
        frame: &FolderFrame,
    ) -> Result<Vec<PendingItem<Pending>>> {
        let folder_access = frame.access.clone();
        futures::stream::iter(files)
            .map(|meta| {
                let access = folder_access.clone();
                async move {
                    let id = doc_id(&meta.id);
                    let path = join(&frame.path, &meta.name);
                    if meta.size > self.max {
                        let failure = too_large(&meta, &path, self.max);
                        return Ok(PendingItem::new(id, Pending::Failed(failure)));
                    }
                    let access = match self.file_access(&meta, &access).await {
                        Ok(a) => a,
                        Err(e) if e.kind().ends_sync() => return Err(e),
                        Err(e) => {
                            let failure = failure(
                                &meta,
                                &path,
                                e.kind(),
                                format!("its collaborations cannot be read: {e}"),
                            );
                            return Ok(PendingItem::new(id, Pending::Failed(failure)));
                        }
                    };
                    let version = version(&meta, &path, access.as_ref());
                    let item = Item {
                        meta: Box::new(meta),
                        folder: frame.id.clone(),
                        path,
                        access,
                    };
                    Ok(PendingItem::new(id, Pending::File(item)).with_version(&version))
                }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    /// A listed web link as a page item: its access is its folder's, its shared link's, its
    /// owner and the token's user (web links have no collaborations of their own).
    fn pending_link(
        &self,
        meta: WebLinkMeta,
        frame: &FolderFrame,
        me: &Me,
    ) -> PendingItem<Pending> {
        let id = web_link_id(&meta.id);
        let path = join(&frame.path, &meta.name);
        let access = self.permissions.then(|| {
            let mut access = with_link_access(frame.access.clone(), meta.shared_link.as_ref(), me);
            let logins = [
                meta.owned_by.as_ref().and_then(|o| o.login.as_deref()),
                me.login.as_deref(),
            ];
            for login in logins.into_iter().flatten() {
                merge(
                    &mut access,
                    Access::restricted(vec![login.to_lowercase()], Vec::new()),
                );
            }
            access
        });
        let version = link_version(&meta, &path, access.as_ref());
        let item = LinkItem {
            meta: Box::new(meta),
            folder: frame.id.clone(),
            path,
            access,
        };
        PendingItem::new(id, Pending::WebLink(item)).with_version(&version)
    }

    /// One item's outcome: its document, its failure, or nothing when the file is gone since
    /// the listing (prune deals with it).
    async fn fetch(self, item: Pending) -> Result<Option<Outcome>> {
        let item = match item {
            Pending::Failed(failure) => return Ok(Some(failure.into())),
            Pending::WebLink(link) => return Ok(Some(link_document(&link))),
            Pending::File(item) => item,
        };
        // A new comment changes `comment_count`, and so the version: the comments are read
        // with the file's body.
        let comments = if item.meta.comment_count.unwrap_or(0) > 0 {
            match self.client.comments(&item.meta.id, MAX_COMMENTS).await {
                Ok(comments) => comments,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        } else {
            Vec::new()
        };
        match self.client.download(&item.meta.id, self.max).await {
            Ok(Download::Gone) => Ok(None),
            Ok(Download::Data(data)) => Ok(Some(document(&item, data, &comments))),
            Err(e) if is_body_too_large(&e) => {
                Ok(Some(too_large(&item.meta, &item.path, self.max).into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Every file id under the configured folder; fails, rather than come back short, when a
    /// page cannot be listed.
    pub(super) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let mut folders = vec![walk.root.clone()];
            while let Some(folder) = folders.pop() {
                let mut marker: Option<String> = None;
                loop {
                    ctx.cancellation().check()?;
                    let page = walk
                        .client
                        .folder_items(&folder, marker.as_deref(), 1000, true)
                        .await
                        .map_err(|e| if folder == walk.root { walk.named_root_error(e) } else { e })?;
                    let mut ids = Vec::new();
                    for entry in &page.entries {
                        let id = entry.get("id").and_then(serde_json::Value::as_str);
                        match (entry.get("type").and_then(serde_json::Value::as_str), id) {
                            _ if walk.owned_elsewhere(entry.get("owned_by").and_then(|o| serde_json::from_value::<UserMini>(o.clone()).ok()).as_ref()) => {}
                            (Some("file"), Some(id)) => ids.push(SlimDocument::new(doc_id(id))),
                            (Some("web_link"), Some(id)) => ids.push(SlimDocument::new(web_link_id(id))),
                            (Some("folder"), Some(id)) => folders.push(id.to_owned()),
                            _ => {}
                        }
                    }
                    if !ids.is_empty() {
                        yield ids;
                    }
                    match page.next() {
                        Some(next) if marker.as_deref() != Some(next.as_str()) => marker = Some(next),
                        _ => break,
                    }
                }
            }
        }
        .boxed()
    }

    /// The files with these document ids again, by their current metadata; an id that is not
    /// Box's, a file that is gone or one outside the configured folder yields nothing.
    pub(super) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            for chunk in ids.chunks(100) {
                let pending = chunk.iter().filter_map(|id| {
                    let digits = |f: &&str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
                    if let Some(link) = id.strip_prefix(WEB_LINK_PREFIX).filter(digits) {
                        return Some(PendingItem::new(id.clone(), (true, link.to_owned())));
                    }
                    let file = id.strip_prefix(ID_PREFIX).filter(digits)?;
                    Some(PendingItem::new(id.clone(), (false, file.to_owned())))
                });
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |(is_link, item): (bool, String)| {
                    let walk = walk.clone();
                    async move {
                        let located = if is_link { walk.located_link(&item).await? } else { walk.located(&item).await? };
                        match located {
                            Some(item) => walk.fetch(item).await,
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

    /// The file `id` as the walk would find it: its path below the configured folder and the
    /// access its folders there give; none when it is gone or outside.
    async fn located(&self, id: &str) -> Result<Option<Pending>> {
        let Some(meta) = self.client.file(id).await? else {
            return Ok(None);
        };
        let ancestors = meta
            .path_collection
            .as_ref()
            .map(|p| p.entries.clone())
            .unwrap_or_default();
        let Some(frame) = self.frame_of(ancestors).await? else {
            return Ok(None);
        };
        let items = self.pending(vec![meta], &frame).await?;
        Ok(items.into_iter().next().map(|p| p.value))
    }

    /// The web link `id` as the walk would find it; none when it is gone or outside.
    async fn located_link(&self, id: &str) -> Result<Option<Pending>> {
        let Some(meta) = self.client.web_link(id).await? else {
            return Ok(None);
        };
        let ancestors = meta
            .path_collection
            .as_ref()
            .map(|p| p.entries.clone())
            .unwrap_or_default();
        let Some(frame) = self.frame_of(ancestors).await? else {
            return Ok(None);
        };
        let me = self.me().await?;
        Ok(Some(self.pending_link(meta, &frame, &me).value))
    }

    /// The frame of the folder whose ancestors (All Files first, itself last) are these, as
    /// the walk would have entered it; none when it is outside the configured folder.
    async fn frame_of(
        &self,
        ancestors: Vec<super::client::FolderMini>,
    ) -> Result<Option<FolderFrame>> {
        let inside: Vec<_> = if self.root == "0" {
            ancestors.into_iter().skip_while(|f| f.id == "0").collect()
        } else {
            match ancestors.iter().position(|f| f.id == self.root) {
                Some(at) => ancestors.into_iter().skip(at + 1).collect(),
                None => return Ok(None),
            }
        };
        let me = self.me().await?;
        let mut frame = self.root_frame();
        self.enter(&mut frame).await?;
        for folder in &inside {
            let meta = self.client.folder(&folder.id).await?;
            let mut next = FolderFrame {
                id: folder.id.clone(),
                path: join(&frame.path, &folder.name),
                access: with_link_access(frame.access.clone(), meta.shared_link.as_ref(), &me),
                collaborated: self.permissions && meta.has_collaborations == Some(true),
            };
            self.enter(&mut next).await?;
            frame = next;
        }
        Ok(Some(frame))
    }
}

/// The version token of a file: its `sha1` (the content) and `etag` (a change of the file:
/// a rename, a move), its path below the configured folder and who may read it (which a
/// folder above it changes without touching the file), so any of these re-sends it and
/// nothing else does.
fn version(meta: &FileMeta, path: &str, access: Option<&Access>) -> String {
    let access = access.map_or_else(String::new, |a| {
        format!("{}|{}|{}", a.emails.join(","), a.groups.join(","), a.public)
    });
    let context = connector_core::ids::hash128(&format!("{path}\n{access}"));
    format!(
        "{}:{}:{context}:{}",
        meta.sha1.as_deref().unwrap_or_default(),
        meta.etag.as_deref().unwrap_or_default(),
        meta.comment_count.unwrap_or(0)
    )
}

/// The version token of a web link: its `etag` (Box bumps it on an edit of the URL, name or
/// description), what it says, its path and who may read it.
fn link_version(meta: &WebLinkMeta, path: &str, access: Option<&Access>) -> String {
    let access = access.map_or_else(String::new, |a| {
        format!("{}|{}|{}", a.emails.join(","), a.groups.join(","), a.public)
    });
    connector_core::ids::hash128(&format!(
        "{}\n{}\n{}\n{}\n{path}\n{access}",
        meta.etag.as_deref().unwrap_or_default(),
        meta.url,
        meta.name,
        meta.description.as_deref().unwrap_or_default()
    ))
}

/// The web page of a file in Box's web app.
fn link(meta: &FileMeta) -> Option<Url> {
    Url::parse(&format!("https://app.box.com/file/{}", meta.id)).ok()
}

fn failure(
    meta: &FileMeta,
    path: &str,
    kind: ErrorKind,
    message: impl std::fmt::Display,
) -> Failure {
    let failure = Failure::new(Some(doc_id(&meta.id)), kind, format!("{path}: {message}"));
    match link(meta) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
}

fn too_large(meta: &FileMeta, path: &str, max: u64) -> Failure {
    failure(
        meta,
        path,
        ErrorKind::Unsupported,
        format!(
            "the file is {} bytes, larger than max_file_size ({max} bytes); raise max_file_size or move it out of the folder",
            meta.size
        ),
    )
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The document of a web link: its name, URL and description as a small Markdown text.
fn link_document(item: &LinkItem) -> Outcome {
    use connector_core::text::markdown::{self, Block, Inline};
    let meta = &item.meta;
    let mut blocks = vec![
        Block::heading(1, vec![Inline::text(meta.name.clone())]),
        Block::paragraph(vec![Inline::link(
            vec![Inline::text(meta.url.clone())],
            meta.url.clone(),
        )]),
    ];
    if let Some(description) = meta.description.as_ref().filter(|d| !d.trim().is_empty()) {
        blocks.extend(Block::plain_text(description));
    }
    let mut doc = Document::text_with_version(
        web_link_id(&meta.id),
        SOURCE,
        meta.name.clone(),
        markdown::render(&blocks),
        &link_version(meta, &item.path, item.access.as_ref()),
    )
    .with_updated_at(meta.modified_at)
    .with_parent_id(format!("box-folder:{}", item.folder))
    .with_metadata("type", "web_link")
    .with_metadata("url", meta.url.clone())
    .with_metadata("path", item.path.clone())
    .with_metadata("folder_id", item.folder.clone());
    if let Some(created) = meta.created_at {
        doc = doc.with_metadata("created_at", rfc3339(created));
    }
    if let Some(by) = meta.modified_by.as_ref().and_then(|u| u.login.clone()) {
        doc = doc.with_metadata("modified_by", by.to_lowercase());
    }
    if let Some(owner) = meta.owned_by.as_ref().and_then(|u| u.login.clone()) {
        doc = doc.with_owners(vec![owner.to_lowercase()]);
    }
    if let Some(access) = &item.access {
        doc = doc.with_access(access.clone());
    }
    if let Ok(url) = Url::parse(&format!("https://app.box.com/web_link/{}", meta.id)) {
        doc = doc.with_link(url);
    }
    doc.into()
}

/// The comments as a Markdown section: `**author** (date): message`, replies marked.
fn comments_markdown(comments: &[Comment]) -> String {
    use connector_core::text::markdown::{self, Block, Inline, List, ListItem};
    let items: Vec<ListItem> = comments
        .iter()
        .map(|c| {
            let author = c
                .created_by
                .as_ref()
                .and_then(|u| u.login.clone())
                .unwrap_or_else(|| "someone".to_owned());
            let mut head = vec![Inline::strong(vec![Inline::text(author.to_lowercase())])];
            if let Some(at) = c.created_at {
                head.push(Inline::text(format!(" ({})", rfc3339(at))));
            }
            if c.is_reply_comment {
                head.push(Inline::text(" in reply"));
            }
            head.push(Inline::text(": "));
            head.push(Inline::text(c.message.trim().to_owned()));
            let blocks = vec![Block::paragraph(head)];
            ListItem::new(blocks)
        })
        .collect();
    markdown::render(&[
        Block::heading(2, vec![Inline::text("Comments")]),
        Block::List(List::bullet(items)),
    ])
}

/// The comments as metadata: `[{"id", "author", "created_at", "message", "is_reply"}]`.
fn comments_metadata(comments: &[Comment]) -> serde_json::Value {
    comments
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "author": c.created_by.as_ref().and_then(|u| u.login.as_deref()).map(str::to_lowercase),
                "created_at": c.created_at.map(rfc3339),
                "message": c.message,
                "is_reply": c.is_reply_comment,
            })
        })
        .collect()
}

/// Whether the file is a Box Note.
fn is_box_note(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("boxnote"))
}

/// The document of a downloaded file, with its comments: in its text after the body for a
/// text file (a Box Note is converted to Markdown first), in its metadata for all.
fn document(item: &Item, data: Vec<u8>, comments: &[Comment]) -> Outcome {
    let meta = &item.meta;
    let note = if is_box_note(&meta.name) {
        super::notes::to_markdown(&data)
    } else {
        None
    };
    let mut doc: Document = match note {
        Some(text) => Document::text(doc_id(&meta.id), SOURCE, meta.name.clone(), text)
            .with_metadata("type", "box_note"),
        // A text file in another charset goes as bytes for the host's parser (a
        // Windows-1252 `.txt` is common on Box), rather than fail.
        None => crate::files::file_document_lenient(doc_id(&meta.id), SOURCE, &meta.name, data),
    };
    if !comments.is_empty() {
        if let connector_core::Content::Text { text } = &mut doc.content {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&comments_markdown(comments));
        }
        doc = doc.with_metadata("comments", comments_metadata(comments));
    }
    let mut doc = doc
        .with_size(meta.size)
        .with_version(&version(meta, &item.path, item.access.as_ref()))
        .with_updated_at(meta.modified_at)
        .with_parent_id(format!("box-folder:{}", item.folder))
        .with_metadata("path", item.path.clone())
        .with_metadata("folder_id", item.folder.clone())
        .with_metadata("size", meta.size);
    if let Some(sha1) = &meta.sha1 {
        doc = doc.with_metadata("sha1", sha1.clone());
    }
    if let Some(etag) = &meta.etag {
        doc = doc.with_metadata("etag", etag.clone());
    }
    if let Some(created) = meta.created_at {
        doc = doc.with_metadata("created_at", rfc3339(created));
    }
    if let Some(by) = meta.modified_by.as_ref().and_then(|u| u.login.clone()) {
        doc = doc.with_metadata("modified_by", by.to_lowercase());
    }
    if let Some(description) = meta.description.as_ref().filter(|d| !d.is_empty()) {
        doc = doc.with_metadata("description", description.clone());
    }
    if let Some(owner) = meta.owned_by.as_ref().and_then(|u| u.login.clone()) {
        doc = doc.with_owners(vec![owner.to_lowercase()]);
    }
    if let Some(access) = &item.access {
        doc = doc.with_access(access.clone());
    }
    if let Some(url) = link(meta) {
        doc = doc.with_link(url);
    }
    doc.into()
}
