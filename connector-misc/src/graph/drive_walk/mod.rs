//! The walk of drives that OneDrive and SharePoint document libraries share: a delta round
//! per drive as checkpointed batches ([`DriveCheckpoint`]), the id listing and the refetch of
//! named files, each drive item turned into a document with its permissions as `access`. On
//! core's [`ItemFetches`]: one fingerprint lookup per page, unchanged files not downloaded,
//! the others a few at a time, large pages handed on in parts.
//!
//! A source says only which drives it reads ([`DriveSource`]): OneDrive users' drives, a
//! SharePoint site's document libraries.
//!
//! Beyond the files a round lists, two changes of a **folder** reach its files:
//! - a folder moved into the folder scope (`folder_path`) is listed by the round, its files
//!   are not: they are listed (`GET items/{id}/children`, down the tree) and delivered; one
//!   moved out has its folders taken out of the scope (its files are left to prune);
//! - a folder whose sharing changed (`@microsoft.graph.sharedChanged`, which rounds ask for
//!   with `Prefer: deltashowsharingchanges, hierarchicalsharing`) has its files' permissions
//!   read again: files that inherit it are not listed themselves, yet who may read them
//!   changed. Graph reports every sharing change only to an app holding
//!   `Sites.FullControl.All`; with `Files.Read.All` or `Sites.Read.All` it leaves out changes
//!   it judges irrelevant to the caller, and those reach the documents only when the file
//!   itself changes or the drive is listed again.
//!
//! **Timestamp tokens** (a walk of more than 16 drives, see [`DriveCheckpoint`]'s compact
//! form): a drive a finished run read is resumed from Graph's timestamp token
//! (`delta?token=2026-03-01T00%3A00%3A00Z`), which Graph documents for OneDrive for Business
//! and SharePoint for a client that knows a drive's state up to a time but holds no delta
//! link for it. Graph's docs advise using the delta link it returned whenever possible rather
//! than a token the client makes; this walk keeps real links for 16 drives or fewer, and
//! takes the timestamp only to keep the checkpoint of a many-library job small. Whether a
//! round from a timestamp reports deletions and sharing changes as a round from a delta link
//! does is not documented: deletions are covered by prune (the id listing reads every drive
//! whole), and a sharing change Graph leaves out reaches a document when its file changes or
//! its drive is listed again. A timestamp Graph no longer accepts (reported at about four
//! months) is answered `410 resyncRequired`, and the drive is listed whole.

mod access;
mod checkpoint;
mod rounds;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::pages::{Outcome, PendingItem};
use connector_core::{Access, Batch, Document, Error, ErrorKind, Failure, Result, SyncContext};
use url::Url;

#[cfg(feature = "sharepoint")]
pub(crate) use checkpoint::{COMPACT_ABOVE, hash64};
pub use checkpoint::{DriveCheckpoint, DriveCursor, DriveSet, Phase};
pub(crate) use rounds::{checkpointed, list_ids, refetch};

use crate::graph::{DriveItem, GraphClient, Page, with_authorship};
use access::{Permission, access};

/// Downloads at the same time within a page.
const CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// `410 Gone` answers taken in one drive before the run gives up on it.
const MAX_RESTARTS: u32 = 3;

/// How long before its start a run in the checkpoint's compact form says its drives are
/// delivered up to: covers a clock of this host ahead of Graph's (the timestamp token is read
/// by Graph's clock). Changes in the margin are listed again; unchanged, they cost no download.
pub(crate) const STAMP_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// A drive to read, whose it is and where its SharePoint groups live.
#[derive(Debug, Clone)]
pub(crate) struct DriveTarget {
    pub(crate) drive: String,
    /// The owner's e-mail address, where Graph says (a OneDrive's user).
    pub(crate) owner: Option<String>,
    /// What qualifies the drive's SharePoint groups: its site collection's id (the drive id
    /// where Graph does not say).
    pub(crate) site: String,
}

/// The drives to read, and a failure for each named one that cannot be.
pub(crate) type Targets = (Vec<DriveTarget>, Vec<Failure>);

/// Which drives a source reads.
#[async_trait]
pub(crate) trait DriveSource: Send + Sync + 'static {
    /// The drives, in a stable order without repeats, asked through `graph`.
    async fn targets(&self, graph: &GraphClient) -> Result<Targets>;
}

/// Drives a source resolved already.
#[cfg(feature = "sharepoint")]
#[derive(Debug, Clone)]
pub(crate) struct Resolved(pub(crate) Vec<DriveTarget>, pub(crate) Vec<Failure>);

#[cfg(feature = "sharepoint")]
#[async_trait]
impl DriveSource for Resolved {
    async fn targets(&self, _graph: &GraphClient) -> Result<Targets> {
        Ok((self.0.clone(), self.1.clone()))
    }
}

/// How drives are read; cheap to clone (one per stream).
#[derive(Clone)]
pub(crate) struct DriveWalk {
    pub(crate) graph: GraphClient,
    /// The source documents are of; ids are `{source}:{drive}:{item}`.
    pub(crate) source: &'static str,
    /// The folder scope, as a path (`/Shared/Handbook`); empty: the whole drive.
    pub(crate) folder: String,
    /// A drive without the folder is passed over rather than a failure (every user's drive:
    /// most have no such folder).
    pub(crate) pass_over_missing_folder: bool,
    pub(crate) max: u64,
    pub(crate) allow_images: bool,
    /// Read each file's permissions into `access`.
    pub(crate) permissions: bool,
    /// An anonymous link makes a file public (`anonymous_links_public`).
    pub(crate) anonymous_public: bool,
    /// The tenant as configured; organisation-wide sharing links give `tenant:{id}` with its
    /// directory id ([`GraphClient::tenant`]).
    pub(crate) tenant: String,
    /// Files larger than this many bytes are downloaded into the sync's spool folder and
    /// delivered as [`Content::Spooled`](connector_core::Content::Spooled); `None`: every body
    /// in memory.
    pub(crate) spool_above: Option<u64>,
    /// The sync's spool (set by [`with_context`](Self::with_context)).
    pub(crate) spool: Option<connector_core::spool::Spool>,
}

impl std::fmt::Debug for DriveWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveWalk")
            .field("graph", &self.graph)
            .field("source", &self.source)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl DriveWalk {
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            graph: self.graph.with_context(ctx),
            spool: Some(ctx.spool().clone()),
            ..self.clone()
        }
    }

    /// The document id of item `item` of drive `drive`: `{source}:{drive}:{item}` (an item
    /// id is unique within its drive and kept through renames and moves).
    pub(crate) fn doc_id(&self, drive: &str, item: &str) -> String {
        format!("{}:{drive}:{item}", self.source)
    }

    /// The drive and item of a document id of this source.
    fn parse_id<'a>(&self, id: &'a str) -> Option<(&'a str, &'a str)> {
        id.strip_prefix(self.source)?
            .strip_prefix(':')?
            .split_once(':')
            .filter(|(d, i)| !d.is_empty() && !i.is_empty())
    }

    /// Whether the folder with id `parent` is `scope` or below it, walking up through
    /// `parents` (folders seen in this round) and asking Graph for the ones not seen.
    async fn in_scope(
        &self,
        drive: &str,
        scope: &str,
        parent: Option<&str>,
        parents: &mut HashMap<String, Option<String>>,
    ) -> Result<bool> {
        let mut current = parent.map(str::to_owned);
        // Folders nest at most a few hundred deep (SharePoint limits paths to 400 characters).
        for _ in 0..512 {
            let Some(id) = current else {
                return Ok(false);
            };
            if id == scope {
                return Ok(true);
            }
            let up = match parents.get(&id) {
                Some(up) => up.clone(),
                None => {
                    let up = self
                        .graph
                        .drive_item(drive, &id)
                        .await?
                        .filter(|i| i.root.is_none())
                        .and_then(|i| i.parent_id().map(str::to_owned));
                    parents.insert(id, up.clone());
                    up
                }
            };
            current = up;
        }
        Ok(false)
    }

    /// The folder of the folder scope in `drive`: `Ok(None)` for the whole drive; a failure
    /// when the drive has no such folder.
    pub(crate) async fn scope(
        &self,
        drive: &str,
    ) -> Result<std::result::Result<Option<String>, Failure>> {
        if self.folder.is_empty() {
            return Ok(Ok(None));
        }
        match self.graph.drive_item_at(drive, &self.folder).await? {
            Some(item) if item.is_folder() => Ok(Ok(Some(item.id))),
            _ => Ok(Err(Failure::new(
                Some(format!("{}:{drive}", self.source)),
                ErrorKind::NotFound,
                format!(
                    "drive `{drive}` has no folder `{}` (folder_path); it was not read",
                    self.folder
                ),
            ))),
        }
    }

    /// Whether a file is one the source reads, leaving the scope aside: a file, an image
    /// only with `allow_images`, no OneNote part.
    fn wants(&self, item: &DriveItem) -> bool {
        item.is_file()
            && (self.allow_images || !crate::files::is_image(&item.name))
            && !is_onenote_part(&item.name)
    }

    /// Whether a file of a delta page is the source's: [`wants`](Self::wants) and in scope.
    async fn admits(
        &self,
        drive: &str,
        item: &DriveItem,
        scope: Option<&str>,
        parents: &mut HashMap<String, Option<String>>,
    ) -> Result<bool> {
        if !self.wants(item) {
            return Ok(false);
        }
        match scope {
            Some(scope) => self.in_scope(drive, scope, item.parent_id(), parents).await,
            None => Ok(true),
        }
    }

    /// The files and folders below folder `folder` (`GET items/{id}/children`, down the
    /// tree): what a round of changes does not list when a folder moves or its sharing
    /// changes.
    async fn below(&self, drive: &str, folder: &str) -> Result<(Vec<DriveItem>, Vec<String>)> {
        let mut files = Vec::new();
        let mut folders = Vec::new();
        let mut stack = vec![folder.to_owned()];
        while let Some(id) = stack.pop() {
            let children = match self.graph.drive_children(drive, &id).await {
                Ok(children) => children,
                // Gone since the round listed it: a later round says where it went.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for value in children {
                let Ok(child) = DriveItem::from_value(value) else {
                    continue;
                };
                if child.is_folder() {
                    folders.push(child.id.clone());
                    stack.push(child.id);
                } else if child.is_file() {
                    files.push(child);
                }
            }
        }
        Ok((files, folders))
    }

    /// Who may read each of `items` (by item id), from their permissions, asked in JSON
    /// batches; an item whose permissions cannot be read is narrowed to the drive's owner.
    async fn access_of(
        &self,
        target: &DriveTarget,
        items: &[String],
    ) -> Result<HashMap<String, Access>> {
        let mut out = HashMap::new();
        if !self.permissions || items.is_empty() {
            return Ok(out);
        }
        let paths: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "drives/{}/items/{}/permissions",
                    crate::graph::escape(&target.drive),
                    crate::graph::escape(i)
                )
            })
            .collect();
        for (item, answer) in items
            .iter()
            .zip(self.graph.batch_get::<Page<Permission>>(&paths).await?)
        {
            match answer {
                Ok(Some(page)) => {
                    let tenant = self.graph.tenant(&self.tenant).await?;
                    out.insert(
                        item.clone(),
                        access(&page.value, target, &tenant, self.anonymous_public),
                    );
                }
                Ok(None) => {}
                Err(e) if e.kind().ends_sync() => return Err(e),
                // Fail closed: a file whose sharing cannot be read is the owner's alone until a
                // later run reads it (its version, which hashes the access, then changes).
                Err(e) => {
                    tracing::warn!(
                        connector = self.source,
                        item = item.as_str(),
                        "permissions not readable, access narrowed to the drive's owner: {e}"
                    );
                    let tenant = self.graph.tenant(&self.tenant).await?;
                    out.insert(
                        item.clone(),
                        access(&[], target, &tenant, self.anonymous_public),
                    );
                }
            }
        }
        Ok(out)
    }

    /// A file as a page item with its version, or its failure when it is over the size cap.
    fn pending_item(
        &self,
        target: &Arc<DriveTarget>,
        item: DriveItem,
        access: Option<Access>,
    ) -> PendingItem<Item> {
        let id = self.doc_id(&target.drive, &item.id);
        if item.size > self.max {
            let failure = Failure::new(
                Some(id.clone()),
                ErrorKind::Unsupported,
                format!(
                    "{}: the file is {} bytes, larger than max_file_size ({} bytes); raise max_file_size or move it out of the drive",
                    item.name, item.size, self.max
                ),
            );
            let failure = match item.web_url {
                Some(link) => failure.with_link(link),
                None => failure,
            };
            return PendingItem::new(id, Item::Failed(failure));
        }
        let version = version(&item, access.as_ref());
        PendingItem::new(
            id,
            Item::File {
                target: Arc::clone(target),
                item: Box::new(item),
                access,
            },
        )
        .with_version(&version)
    }

    /// The document of a downloaded file.
    fn document(
        &self,
        target: &DriveTarget,
        item: &DriveItem,
        access: Option<Access>,
        data: Vec<u8>,
    ) -> Document {
        let doc = crate::files::file_document_lenient(
            self.doc_id(&target.drive, &item.id),
            self.source,
            &item.name,
            data,
        );
        self.described(doc, target, item, access)
    }

    /// The document of a file downloaded into a spool file: its bytes with the MIME type
    /// its extension says (a text file too: its text is not read into memory to decode it).
    fn spooled_document(
        &self,
        target: &DriveTarget,
        item: &DriveItem,
        access: Option<Access>,
        body: connector_core::spool::SpooledBody,
    ) -> Document {
        let extension = crate::files::extension_of(&item.name);
        let mime = match extension.as_deref() {
            Some(ext) if crate::files::TEXT_EXTENSIONS.contains(&ext) => "text/plain".to_owned(),
            Some(ext) => mime_guess::from_ext(ext)
                .first_or_octet_stream()
                .essence_str()
                .to_owned(),
            None => "application/octet-stream".to_owned(),
        };
        let metadata = extension
            .as_deref()
            .map_or(serde_json::Value::Null, serde_json::Value::from);
        let doc = Document::spooled(
            self.doc_id(&target.drive, &item.id),
            self.source,
            item.name.clone(),
            body,
            mime,
            extension,
        )
        .with_metadata("extension", metadata);
        self.described(doc, target, item, access)
    }

    /// `doc` with what Graph says of the file: size, version, times, people, access, link.
    fn described(
        &self,
        doc: Document,
        target: &DriveTarget,
        item: &DriveItem,
        access: Option<Access>,
    ) -> Document {
        let mut doc = doc
            .with_size(item.size)
            .with_version(&version(item, access.as_ref()))
            .with_metadata("drive_id", target.drive.clone())
            .with_metadata("item_id", item.id.clone());
        if let Some(t) = item.last_modified_date_time {
            doc = doc.with_updated_at(t);
        }
        if let Some(parent) = item.parent_id() {
            doc = doc.with_parent_id(self.doc_id(&target.drive, parent));
        }
        doc = with_authorship(
            doc,
            item.created_date_time,
            item.created_by.as_ref(),
            item.last_modified_by.as_ref(),
        );
        if let Some(mime) = item.file.as_ref().and_then(|f| f.mime_type.clone()) {
            doc = doc.with_metadata("mime_type", mime);
        }
        if let Some(owner) = &target.owner {
            doc = doc.with_owners(vec![owner.clone()]);
        }
        if let Some(access) = access {
            doc = doc.with_access(access);
        }
        if let Some(link) = item.web_url.clone() {
            doc = doc.with_link(link);
        }
        doc
    }

    /// What the checkpoint keeps of the delta link a drive's round ended on: the token alone
    /// when the link is Graph's usual `{api root}drives/{drive}/root/delta?token={token}` (the
    /// rest is known: the drive id is the entry's key), else the whole link. About half the
    /// bytes of a SharePoint link, so a checkpoint of many libraries stays smaller
    /// (review-sharepoint #7).
    pub(super) fn stored_link(&self, drive: &str, link: &Url) -> String {
        let prefix = self.delta_prefix(drive);
        match link.as_str().strip_prefix(&prefix) {
            Some(token)
                if !token.is_empty()
                    && token.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%')
                    }) =>
            {
                token.to_owned()
            }
            _ => link.to_string(),
        }
    }

    /// The delta link a checkpoint entry of `drive` keeps ([`stored_link`](Self::stored_link)):
    /// a whole link (as every earlier release stored them), or a token.
    pub(super) fn link_of(&self, drive: &str, stored: &str) -> Result<Url> {
        if stored.contains("://") {
            self.parse_link(stored)
        } else {
            self.parse_link(&format!("{}{stored}", self.delta_prefix(drive)))
        }
    }

    /// The round of `drive`'s changes since `time`: Graph's timestamp token
    /// (`delta?token=2026-03-01T00%3A00%3A00Z`, OneDrive for Business and SharePoint), what the
    /// checkpoint's compact form starts a known drive from.
    pub(crate) fn stamp_link(
        &self,
        drive: &str,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Result<Url> {
        let mut url = self.graph.drive_delta_url(drive)?;
        url.query_pairs_mut()
            .append_pair("token", &connector_core::time::rfc3339_secs(&time));
        Ok(url)
    }

    /// `{api root}drives/{drive}/root/delta?token=`, the drive id as Graph writes it in links.
    fn delta_prefix(&self, drive: &str) -> String {
        format!("{}drives/{drive}/root/delta?token=", self.graph.root())
    }

    fn parse_link(&self, link: &str) -> Result<Url> {
        Url::parse(link).map_err(|e| {
            Error::new(
                ErrorKind::Checkpoint,
                format!("a stored delta link is not a URL: {e}"),
            )
            .with_connector(self.source)
        })
    }
}

/// What a page item's fetch gets.
enum Item {
    File {
        target: Arc<DriveTarget>,
        item: Box<DriveItem>,
        access: Option<Access>,
    },
    Failed(Failure),
}

/// The items of a page with each id's last state only, in the order of those last states.
fn last_states(items: Vec<DriveItem>) -> Vec<DriveItem> {
    let mut last = HashMap::new();
    for (n, item) in items.iter().enumerate() {
        last.insert(item.id.clone(), n);
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(n, item)| last.get(&item.id) == Some(n))
        .map(|(_, item)| item)
        .collect()
}

/// Records the folders of a page (and the root, which has no parent) for scope checks.
fn remember_folders(items: &[DriveItem], parents: &mut HashMap<String, Option<String>>) {
    for item in items.iter().filter(|i| i.is_folder()) {
        let up = item
            .root
            .is_none()
            .then(|| item.parent_id().map(str::to_owned))
            .flatten();
        parents.insert(item.id.clone(), up);
    }
}

/// Whether `name` is a part of a OneNote notebook (a section, its table of contents, a
/// package): files inside the notebook's package item, in a binary format no host parses.
fn is_onenote_part(name: &str) -> bool {
    crate::files::extension_of(name)
        .is_some_and(|e| matches!(e.as_str(), "one" | "onetoc2" | "onepkg"))
}

/// A batch of failures only.
pub(crate) fn failed(failures: Vec<Failure>) -> Batch {
    let mut batch = Batch::default();
    batch.failures = failures;
    batch
}

/// The version token: the entity tag (new content, a rename or move) and who may read it, so
/// a change of any of these delivers the document again.
fn version(item: &DriveItem, access: Option<&Access>) -> String {
    format!("{}|{}", item.version(), access_hash(access))
}

/// A hash of who may read a document; empty without access.
pub(crate) fn access_hash(access: Option<&Access>) -> String {
    access.map_or_else(String::new, |a| {
        connector_core::ids::hash128(&format!(
            "{}|{}|{}",
            a.emails.join(","),
            a.groups.join(","),
            a.public
        ))
    })
}

/// One item's outcome: its document, its failure, or nothing when the file is gone since the
/// listing (prune deals with it).
async fn fetch(walk: DriveWalk, item: Item) -> Result<Option<Outcome>> {
    let (target, item, access) = match item {
        Item::Failed(failure) => return Ok(Some(failure.into())),
        Item::File {
            target,
            item,
            access,
        } => (target, item, access),
    };
    // A file over `spool_above` goes to a spool file, never whole in memory.
    let spool = walk
        .spool
        .as_ref()
        .filter(|_| walk.spool_above.is_some_and(|above| item.size > above));
    let resp = match walk
        .graph
        .drive_content(&target.drive, &item.id, walk.max, spool)
        .await
    {
        Ok(resp) => resp,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let doc = if spool.is_some() {
        let Some(body) = resp.into_spooled() else {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("the download of `{}` was not spooled", item.name),
            )
            .with_connector(walk.source));
        };
        walk.spooled_document(&target, &item, access, body)
    } else {
        walk.document(&target, &item, access, Vec::from(resp.into_body()))
    };
    Ok(Some(doc.into()))
}

/// Who may read each file of `target` at `paths` (relative to the drive's root, unescaped), in
/// the order given, from its own permissions (`GET drives/{id}/root:/{path}:/permissions`,
/// in JSON batches): what SharePoint's site pages, which Graph lists without permissions, are
/// given from their file in the Site Pages library. A file whose permissions cannot be read,
/// or that is not there, is readable by nobody (fail closed) until a later run reads them.
#[cfg(feature = "sharepoint")]
pub(crate) async fn path_access(
    walk: &DriveWalk,
    target: &DriveTarget,
    paths: &[String],
) -> Result<Vec<Access>> {
    let requests: Vec<String> = paths
        .iter()
        .map(|p| {
            let segments: Vec<String> = p
                .split('/')
                .filter(|s| !s.is_empty())
                .map(crate::graph::escape)
                .collect();
            format!(
                "drives/{}/root:/{}:/permissions",
                crate::graph::escape(&target.drive),
                segments.join("/")
            )
        })
        .collect();
    request_access(walk, target, &requests).await
}

/// Who may read each item whose permissions `requests` ask for (Graph paths of permission
/// collections, such as `sites/{id}/lists/{list}/items/{item}/permissions`), in the order
/// given, in JSON batches; one that cannot be read, or is not there, is readable by nobody
/// (fail closed) until a later run reads it. `target` qualifies SharePoint groups.
#[cfg(feature = "sharepoint")]
pub(crate) async fn request_access(
    walk: &DriveWalk,
    target: &DriveTarget,
    requests: &[String],
) -> Result<Vec<Access>> {
    let mut out = Vec::with_capacity(requests.len());
    for (request, answer) in requests
        .iter()
        .zip(walk.graph.batch_get::<Page<Permission>>(requests).await?)
    {
        match answer {
            Ok(Some(page)) => out.push(access(
                &page.value,
                target,
                &walk.graph.tenant(&walk.tenant).await?,
                walk.anonymous_public,
            )),
            Err(e) if e.kind().ends_sync() => return Err(e),
            other => {
                let why = other
                    .err()
                    .map_or_else(|| "not found".to_owned(), |e| e.to_string());
                tracing::warn!(
                    connector = walk.source,
                    request = request.as_str(),
                    "permissions not readable; readable by nobody: {why}"
                );
                out.push(Access::restricted(Vec::new(), Vec::new()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_item_listed_twice_keeps_its_last_state_in_its_last_place() {
        let item = |id: &str, name: &str| DriveItem {
            id: id.into(),
            name: name.into(),
            ..DriveItem::default()
        };
        let kept = last_states(vec![item("a", "1"), item("b", "x"), item("a", "2")]);
        let shown: Vec<(&str, &str)> = kept
            .iter()
            .map(|i| (i.id.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(shown, [("b", "x"), ("a", "2")]);
    }

    #[test]
    fn onenote_parts_are_not_files_to_read() {
        assert!(is_onenote_part("Notes/Meetings.one"));
        assert!(is_onenote_part("Open Notebook.onetoc2"));
        assert!(!is_onenote_part("minutes.docx"));
    }

    #[test]
    fn ids_round_trip() {
        let app = crate::graph::GraphApp::new("t", "c", "s");
        let graph = GraphClient::new(
            "onedrive",
            &app,
            connector_core::net::NetworkPolicy::public_only(),
            "Files.Read.All",
            |b| b,
        )
        .unwrap();
        let walk = DriveWalk {
            graph,
            source: "onedrive",
            folder: String::new(),
            pass_over_missing_folder: false,
            max: 1,
            allow_images: false,
            permissions: true,
            anonymous_public: false,
            tenant: "t".into(),
            spool_above: None,
            spool: None,
        };
        let id = walk.doc_id("b!x-y", "01ABC");
        assert_eq!(id, "onedrive:b!x-y:01ABC");
        assert_eq!(walk.parse_id(&id), Some(("b!x-y", "01ABC")));
        assert_eq!(walk.parse_id("onedrive:nothing"), None);
        assert_eq!(walk.parse_id("onedrivex:a:b"), None);
        assert_eq!(walk.parse_id("box:1"), None);
    }
}
