//! The page walk: `list_folder` pages as checkpointed batches, the id listing and the refetch
//! of named files, on core's [`ItemFetches`] (one fingerprint lookup per page, unchanged files
//! not downloaded, the others a few at a time, large pages handed on in parts).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use connector_core::glob::PathFilter;
use connector_core::http::is_body_too_large;
use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items};
use connector_core::{
    Access, Batch, CheckpointedBatch, Document, ErrorKind, Failure, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{OnceCell, Semaphore};
use url::Url;

use super::SOURCE;
use super::checkpoint::{DropboxCheckpoint, Phase};
use super::client::{Audience, Client, Download, FileMeta, Listed, Members};

/// Downloads at the same time within a page.
const CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts, and the most listed bytes
/// downloading at once (a larger file downloads alone).
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The unit of the in-flight byte budget: one permit per KiB.
const PERMIT_BYTES: u64 = 1024;

/// The prefix of every document id: RAGFlow's `dropbox:{id}`.
const ID_PREFIX: &str = "dropbox:";

/// The document id of the file with Dropbox id `id` (`id:a4ayc…`).
pub(crate) fn doc_id(id: &str) -> String {
    format!("{ID_PREFIX}{id}")
}

/// What a sync reads and how; cheap to clone (one per stream).
#[derive(Clone)]
pub(crate) struct Reader {
    pub(crate) client: Client,
    /// `max_file_size`.
    pub(crate) max: u64,
    pub(crate) filter: Arc<PathFilter>,
    pub(crate) allow_images: bool,
    /// Set `access` (and `owners`) from Dropbox's sharing.
    pub(crate) permissions: bool,
}

/// A stream's state shared by its fetches: the members of each shared folder (asked once per
/// run), the members of files shared on their own (per page), and the in-flight byte budget.
#[derive(Clone)]
struct RunShared {
    folders: Arc<Mutex<HashMap<String, Arc<OnceCell<Members>>>>>,
    files: Arc<Mutex<HashMap<String, Members>>>,
    /// The audiences of the account's shared links by path, asked once per run.
    links: Arc<OnceCell<HashMap<String, Audience>>>,
    budget: Arc<Semaphore>,
}

impl RunShared {
    fn new() -> Self {
        Self {
            folders: Arc::default(),
            files: Arc::default(),
            links: Arc::default(),
            budget: Arc::new(Semaphore::new(permits(PAGE_BYTES) as usize)),
        }
    }
}

/// The widest audience a shared link opens the file at `path_lower` to: a link to the file
/// itself or to a folder it is in.
fn link_audience(links: &HashMap<String, Audience>, path_lower: &str) -> Option<Audience> {
    let mut best = links.get(path_lower).copied();
    let mut rest = path_lower;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        if parent.is_empty() {
            break;
        }
        best = best.max(links.get(parent).copied());
        rest = parent;
    }
    best
}

/// The permits of `size` bytes in the in-flight budget: at least one, at most all of them.
fn permits(size: u64) -> u32 {
    let n = size
        .div_ceil(PERMIT_BYTES)
        .clamp(1, PAGE_BYTES / PERMIT_BYTES);
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What a page item's fetch gets.
enum Item {
    File(Box<FileMeta>),
    /// A Paper doc (or other cloud document): exported in this format.
    Export(Box<FileMeta>, String),
    Failed(Failure),
}

impl Reader {
    /// Whether a file belongs to the source: under the configured folder (a refetched file
    /// may have moved out), not excluded by the globs or extensions, not an image unless
    /// `allow_images`.
    fn admits(&self, meta: &FileMeta) -> bool {
        let root = self.client.path.to_lowercase();
        if let Some(lower) = &meta.path_lower
            && !root.is_empty()
            && !(lower.starts_with(&root) && lower[root.len()..].starts_with('/'))
        {
            return false;
        }
        if !self.allow_images && crate::files::is_image(&meta.name) {
            return false;
        }
        let depth = self
            .client
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .count();
        let relative = meta.path_display.as_deref().map_or_else(
            || meta.name.clone(),
            |p| {
                p.split('/')
                    .filter(|s| !s.is_empty())
                    .skip(depth)
                    .collect::<Vec<_>>()
                    .join("/")
            },
        );
        self.filter.matches(&relative)
    }

    /// A file as a page item (without its version): its failure when too large, its export
    /// when Dropbox only exports it; none when it is not the source's or cannot be had in any
    /// text form (a cloud document without a Markdown export: skipped, not a failure).
    fn item(&self, meta: Box<FileMeta>) -> Option<Item> {
        if !self.admits(&meta) {
            return None;
        }
        if meta.is_downloadable == Some(false) {
            let markdown = meta.export_info.as_ref().and_then(|e| {
                let offered = e.export_options.iter().chain(e.export_as.iter());
                offered
                    .into_iter()
                    .find(|f| f.as_str() == "markdown" || f.as_str() == "md")
                    .cloned()
            });
            return match markdown {
                Some(format) => Some(Item::Export(meta, format)),
                None => {
                    tracing::info!(
                        connector = SOURCE,
                        file = meta.path_display.as_deref().unwrap_or(&meta.name),
                        "skipped: Dropbox neither downloads it nor exports it as Markdown"
                    );
                    None
                }
            };
        }
        if meta.size > self.max {
            return Some(Item::Failed(too_large(&meta, meta.size, self.max)));
        }
        Some(Item::File(meta))
    }
}

/// The listing from `from` on, each page with the checkpoint after it.
pub(super) fn checkpointed(
    reader: &Reader,
    from: DropboxCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<DropboxCheckpoint>>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    let shared = RunShared::new();
    async_stream::try_stream! {
        let client = reader.client.clone();
        let scope = client.scope_key().await?;
        let mut cp = from;
        if cp.cursor.is_some() && cp.scope.as_deref() != Some(scope.as_str()) {
            // A cursor of another folder or root: listing it would sync the old scope.
            tracing::warn!(
                connector = SOURCE,
                "the stored cursor lists another folder or root than the config's; the folder is listed from the start"
            );
            let phase = if cp.phase == Phase::Listing { Phase::Listing } else { Phase::Relisting };
            cp = DropboxCheckpoint { cursor: None, phase, scope: None, ..DropboxCheckpoint::start() };
        }
        cp.scope = Some(scope);
        loop {
            ctx.cancellation().check()?;
            let page = match cp.cursor.clone() {
                None => client.list_changes().await?,
                Some(cursor) => match client.list_continue(&cursor).await {
                    Ok(page) => page,
                    Err(e) if e.kind() == ErrorKind::Checkpoint => {
                        tracing::warn!(connector = SOURCE, "{e}");
                        let phase = if cp.phase == Phase::Listing { Phase::Listing } else { Phase::Relisting };
                        cp = DropboxCheckpoint { cursor: None, phase, scope: cp.scope.take(), ..DropboxCheckpoint::start() };
                        continue;
                    }
                    Err(e) => Err(e)?,
                },
            };
            // Only a listing is narrowed to the window: the changes since a cursor are exactly
            // what changed, and a listing after a reset must see everything. Dropbox's times
            // are whole seconds: the window's start is widened to its second.
            let filter = if cp.phase == Phase::Listing { window } else { None };
            let mut pending = Vec::new();
            let mut shared_files = Vec::new();
            let mut gone = Vec::new();
            for listed in page.entries.into_iter().map(Listed::from_value) {
                let item = match listed {
                    Listed::File(meta) => {
                        if filter.is_some_and(|w| !w.contains_truncated(meta.server_modified, TimeDelta::seconds(1))) {
                            continue;
                        }
                        if reader.permissions && meta.has_explicit_shared_members == Some(true) {
                            shared_files.push(meta.id.clone());
                        }
                        reader.item(meta)
                    }
                    Listed::Malformed { id, message } => Some(malformed(id, message)),
                    // A listing's deleted entries are history (the listing asks for them only
                    // so that its cursor reports later ones); the changes' are news.
                    Listed::Deleted(path) if cp.phase == Phase::Changes => {
                        gone.push(path);
                        None
                    }
                    Listed::Deleted(_) | Listed::Other => None,
                };
                if let Some(item) = item {
                    pending.push(pending_item(item));
                }
            }
            if !shared_files.is_empty() {
                let members = client.file_members(&shared_files).await?;
                if let Ok(mut files) = shared.files.lock() {
                    *files = members;
                }
            }
            // Before the page's documents, as core applies them: a file deleted at one path and
            // listed at another in the same page is kept (it moved, see `deleted_ids`).
            let mut deleted = deleted_ids(&reader, gone).await?;
            let fetch_reader = reader.clone();
            let fetch_shared = shared.clone();
            let mut fetches = ItemFetches::start(&ctx, pending.into_iter(), CONCURRENCY, move |item| {
                fetch(fetch_reader.clone(), fetch_shared.clone(), item)
            })
            .await?;
            let mut rest = Batch::default();
            while let Some(mut part) = fetches.next_part(PAGE_BYTES).await? {
                if !deleted.is_empty() {
                    part = part.with_deleted(std::mem::take(&mut deleted));
                }
                if fetches.is_done() {
                    if rest.is_empty() { rest = part } else { rest.append(part) }
                } else {
                    // A part of the page: the checkpoint stays before the page, so a resume
                    // lists it again (see `DropboxCheckpoint`).
                    yield CheckpointedBatch::new(part, cp.clone());
                }
            }
            if !deleted.is_empty() {
                rest = rest.with_deleted(deleted);
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

/// The document ids of the files deleted or moved away from these paths (the `deleted`
/// entries of a cursor's changes, which name a path and no id): the file id of the newest
/// revision at each path, unless that file is still the source's (moved or renamed within the
/// folder, or a new file put at the path). A path that was a folder yields nothing: Dropbox
/// lists the files deleted with it one by one as a rule, and prune catches any it did not.
async fn deleted_ids(reader: &Reader, paths: Vec<String>) -> Result<Vec<String>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<Option<String>> = futures::stream::iter(paths)
        .map(|path| {
            let reader = reader.clone();
            async move {
                let resolved = async {
                    let Some(id) = reader.client.file_id_at(&path).await? else {
                        return Ok(None);
                    };
                    let live = reader.client.metadata(&id).await?;
                    if live.is_some_and(|meta| reader.admits(&meta)) {
                        return Ok(None);
                    }
                    Ok::<_, connector_core::Error>(Some(doc_id(&id)))
                };
                match resolved.await {
                    // Refused for good (a scope, a folder's policy): retrying the page would
                    // be refused again, so this one is prune's. Other errors fail the page,
                    // whose cursor a retry reads again.
                    Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                        tracing::warn!(connector = SOURCE, path = %path, "a deleted entry's file id cannot be asked for; prune deletes it: {e}");
                        Ok(None)
                    }
                    other => other,
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<Result<Option<String>>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    Ok(found.into_iter().flatten().collect())
}

/// Every file id of a fresh listing that the source admits; fails, rather than come back
/// short, when a page cannot be listed.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    async_stream::try_stream! {
        let client = reader.client.clone();
        // The largest page Dropbox gives: ids only, no downloads follow.
        let mut page = client.list_folder(Some(2000)).await?;
        loop {
            ctx.cancellation().check()?;
            let ids: Vec<SlimDocument> = page
                .entries
                .into_iter()
                .filter_map(|v| match Listed::from_value(v) {
                    Listed::File(meta) => reader
                        .item(meta)
                        .and_then(|item| match item {
                            Item::File(m) | Item::Export(m, _) => Some(doc_id(&m.id)),
                            Item::Failed(f) => f.id,
                        })
                        .map(SlimDocument::new),
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
/// Dropbox's, whose file is gone or no longer the source's (moved out of the folder,
/// filtered out) yields nothing.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    let shared = RunShared::new();
    async_stream::try_stream! {
        let page_size = usize::try_from(reader.client.page_size).unwrap_or(500).max(1);
        for chunk in ids.chunks(page_size) {
            let pending = chunk.iter().filter_map(|id| {
                let file = id.strip_prefix(ID_PREFIX).filter(|f| f.starts_with("id:"))?;
                Some(PendingItem::new(id.clone(), file.to_owned()))
            });
            let batch = fetch_items(&ctx, pending, CONCURRENCY, |file: String| {
                let reader = reader.clone();
                let shared = shared.clone();
                async move {
                    let Some(meta) = reader.client.metadata(&file).await? else {
                        return Ok(None);
                    };
                    if reader.permissions && meta.has_explicit_shared_members == Some(true) {
                        let members = reader.client.file_members(std::slice::from_ref(&meta.id)).await?;
                        if let Ok(mut files) = shared.files.lock() {
                            files.extend(members);
                        }
                    }
                    match reader.item(Box::new(meta)) {
                        Some(item) => fetch(reader, shared, item).await,
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

/// A listing entry that could not be read, as a failure item.
fn malformed(id: Option<String>, message: String) -> Item {
    let id = id.map(|i| if i.starts_with("id:") { doc_id(&i) } else { i });
    let message = match &id {
        Some(id) => format!("{message} (document `{id}`)"),
        None => message,
    };
    Item::Failed(Failure::new(id, ErrorKind::InvalidData, message))
}

/// An item with its id and, for a file, its version (so an unchanged one is not fetched).
fn pending_item(item: Item) -> PendingItem<Item> {
    match &item {
        Item::File(meta) | Item::Export(meta, _) => {
            let version = version(meta);
            PendingItem::new(doc_id(&meta.id), item).with_version(&version)
        }
        Item::Failed(failure) => PendingItem::new(failure.id.clone().unwrap_or_default(), item),
    }
}

/// The version token of a file: its `content_hash` (else its revision), its path and its
/// shared folder, so a rename, a move or a move into or out of a shared folder delivers the
/// document again with its new title, link and access.
fn version(meta: &FileMeta) -> String {
    let content = meta.content_hash.as_deref().unwrap_or(&meta.rev);
    let path = meta.path_lower.as_deref().unwrap_or_default();
    let folder = meta
        .sharing_info
        .as_ref()
        .and_then(|s| s.parent_shared_folder_id.as_deref())
        .unwrap_or_default();
    format!("{content}|{path}|{folder}")
}

/// One item's outcome: its document, its failure, or nothing when the file is gone since the
/// listing (prune deals with it).
async fn fetch(reader: Reader, shared: RunShared, item: Item) -> Result<Option<Outcome>> {
    let (meta, export) = match item {
        Item::Failed(failure) => return Ok(Some(failure.into())),
        Item::File(meta) => (meta, None),
        Item::Export(meta, format) => (meta, Some(format)),
    };
    let max = reader.max;
    if meta.size > max {
        return Ok(Some(too_large(&meta, meta.size, max).into()));
    }
    let access = match reader.permissions {
        true => Some(access_of(&reader, &shared, &meta).await?),
        false => None,
    };
    // The listed size counts against the in-flight budget until the body is here.
    let permit = shared
        .budget
        .acquire_many(permits(meta.size))
        .await
        .map_err(|e| connector_core::Error::internal("the download budget closed").with_cause(e))?;
    let got = match &export {
        Some(format) => reader.client.export(&meta.id, format, max).await,
        None => reader.client.download(&meta.id, meta.size, max).await,
    };
    drop(permit);
    match got {
        Ok(Download::Gone) => Ok(None),
        Ok(Download::Data(data, current)) => {
            // The version downloaded, which may be newer than the one listed.
            let meta = current.filter(|c| c.id == meta.id).unwrap_or(meta);
            let doc = match export {
                Some(format) => exported(&meta, &format, data),
                None => {
                    crate::files::file_document_lenient(doc_id(&meta.id), SOURCE, &meta.name, data)
                }
            };
            Ok(Some(document(&meta, doc, access).into()))
        }
        Err(e) if is_body_too_large(&e) => Ok(Some(too_large(&meta, meta.size, max).into())),
        Err(e) => Err(e),
    }
}

/// Who may read a file, and who owns it: the members of its shared folder (asked once per
/// folder and run) and of the file itself when it is shared on its own, or the account's
/// owner alone for a private file. Users and invitees go in by e-mail, groups by group id.
async fn access_of(
    reader: &Reader,
    shared: &RunShared,
    meta: &FileMeta,
) -> Result<(Access, Vec<String>)> {
    let account = reader.client.account().await?;
    let mut emails = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let mut owners = BTreeSet::new();
    if let Some(email) = &account.email {
        emails.insert(email.to_lowercase());
    }
    let mut add = |members: &Members| {
        for user in &members.users {
            if let Some(email) = &user.user.email {
                emails.insert(email.to_lowercase());
                if user.access_type.tag == "owner" {
                    owners.insert(email.to_lowercase());
                }
            }
        }
        for invitee in &members.invitees {
            if let Some(email) = &invitee.invitee.email {
                emails.insert(email.to_lowercase());
            }
        }
        for group in &members.groups {
            groups.insert(group.group.group_id.clone());
        }
    };
    let folder = meta
        .sharing_info
        .as_ref()
        .and_then(|s| s.parent_shared_folder_id.clone());
    if let Some(folder) = folder {
        let cell = match shared.folders.lock() {
            Ok(mut folders) => Arc::clone(folders.entry(folder.clone()).or_default()),
            Err(_) => Arc::new(OnceCell::new()),
        };
        let members = cell
            .get_or_try_init(|| reader.client.folder_members(&folder))
            .await?;
        add(members);
    }
    if meta.has_explicit_shared_members == Some(true) {
        let file = shared
            .files
            .lock()
            .ok()
            .and_then(|files| files.get(&meta.id).cloned());
        if let Some(members) = file {
            add(&members);
        }
    }
    if owners.is_empty() {
        owners.extend(account.email.as_ref().map(|e| e.to_lowercase()));
    }
    // A shared link widens who reads it: `public` to everyone, `team` to the team (its group
    // `team:{team id}`); other audiences (members, a password, no one) add nobody.
    let links = shared
        .links
        .get_or_try_init(|| reader.client.link_audiences())
        .await?;
    let audience = meta
        .path_lower
        .as_deref()
        .and_then(|p| link_audience(links, p));
    let access = match audience {
        Some(Audience::Public) => Access::public(),
        Some(Audience::Team) => {
            if let Some(team) = &account.team {
                groups.insert(format!("team:{}", team.id));
            }
            Access::restricted(emails.into_iter().collect(), groups.into_iter().collect())
        }
        None => Access::restricted(emails.into_iter().collect(), groups.into_iter().collect()),
    };
    Ok((access, owners.into_iter().collect()))
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

/// The document of an exported cloud document (a Paper doc as Markdown).
fn exported(meta: &FileMeta, format: &str, data: Vec<u8>) -> Document {
    let id = doc_id(&meta.id);
    let doc = match crate::files::decode_text(data) {
        Ok(text) => Document::text(id, SOURCE, &meta.name, text),
        Err(bytes) => Document::bytes(id, SOURCE, &meta.name, bytes, "text/markdown", None),
    };
    doc.with_metadata("extension", crate::files::extension_of(&meta.name))
        .with_metadata("exported_as", format.to_owned())
}

/// A downloaded file's document with the file's metadata, link, access and owners.
fn document(meta: &FileMeta, doc: Document, access: Option<(Access, Vec<String>)>) -> Document {
    let mut doc = doc
        .with_size(meta.size)
        .with_version(&version(meta))
        .with_updated_at(meta.server_modified)
        .with_metadata("rev", meta.rev.clone())
        .with_metadata("size", meta.size);
    if let Some((access, owners)) = access {
        doc = doc.with_access(access).with_owners(owners);
    }
    if let Some(path) = &meta.path_display {
        doc = doc.with_metadata("path", path.clone());
        // The folder the file is in, by its path as Dropbox shows it (`/` at the top).
        let parent = path.rsplit_once('/').map_or("", |(folder, _)| folder);
        doc = doc.with_parent_id(if parent.is_empty() { "/" } else { parent });
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
    doc
}

#[cfg(test)]
mod tests {
    use super::{Audience, link_audience};

    #[test]
    fn links_to_folders_open_what_is_in_them() {
        let links = std::collections::HashMap::from([
            ("/team".to_owned(), Audience::Team),
            ("/team/press/kit.pdf".to_owned(), Audience::Public),
        ]);
        assert_eq!(
            link_audience(&links, "/team/press/kit.pdf"),
            Some(Audience::Public)
        );
        assert_eq!(
            link_audience(&links, "/team/press/other.pdf"),
            Some(Audience::Team)
        );
        assert_eq!(link_audience(&links, "/teammates/a.md"), None);
        assert_eq!(link_audience(&links, "/private/a.md"), None);
    }
}
