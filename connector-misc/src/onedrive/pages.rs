//! The drive walk: delta pages as checkpointed batches, the id listing and the refetch of
//! named files, on core's [`ItemFetches`] (one fingerprint lookup per page, unchanged files
//! not downloaded, the others a few at a time, large pages handed on in parts).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use connector_core::pages::{ItemFetches, Outcome, PendingItem, fetch_items};
use connector_core::{
    Access, Batch, CheckpointedBatch, Document, Error, ErrorKind, Failure, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Deserialize;
use url::Url;

use super::SOURCE;
use super::checkpoint::{DriveCursor, OnedriveCheckpoint, Phase};
use crate::graph::{Delta, Drive, DriveItem, GraphClient, Identity, Page};

/// Downloads at the same time within a page.
const CONCURRENCY: usize = 8;

/// Content bytes after which a page is handed on in parts.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// `410 Gone` answers taken in one drive before the run gives up on it.
const MAX_RESTARTS: u32 = 3;

/// The prefix of every document id.
const ID_PREFIX: &str = "onedrive:";

/// The fields of a drive a sync reads.
const DRIVE_FIELDS: &str = "id,name,driveType,owner,webUrl";

/// The document id of item `item` of drive `drive`: `onedrive:{drive}:{item}` (an item id is
/// unique within its drive and kept through renames and moves).
pub(crate) fn doc_id(drive: &str, item: &str) -> String {
    format!("{ID_PREFIX}{drive}:{item}")
}

/// The drive and item of a document id.
fn parse_id(id: &str) -> Option<(&str, &str)> {
    id.strip_prefix(ID_PREFIX)?
        .split_once(':')
        .filter(|(d, i)| !d.is_empty() && !i.is_empty())
}

/// What a sync reads and how; cheap to clone (one per stream).
#[derive(Clone)]
pub(crate) struct Reader {
    pub(crate) graph: GraphClient,
    /// `user_ids`: each user's OneDrive.
    pub(crate) users: Vec<String>,
    /// `drive_ids`.
    pub(crate) drives: Vec<String>,
    /// `folder_path`, as a path (`/Shared/Handbook`); empty: the whole drive.
    pub(crate) folder: String,
    pub(crate) max: u64,
    pub(crate) allow_images: bool,
    /// Read each file's permissions into `access`.
    pub(crate) permissions: bool,
    /// The tenant, for organisation-wide sharing links (`tenant:{id}`).
    pub(crate) tenant: String,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("graph", &self.graph)
            .field("users", &self.users)
            .field("drives", &self.drives)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

/// A drive to read and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) drive: String,
    /// The owner's e-mail address, where Graph says.
    pub(crate) owner: Option<String>,
}

/// A user as `GET /users` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    #[serde(default)]
    user_principal_name: Option<String>,
}

impl Reader {
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            graph: self.graph.with_context(ctx),
            ..self.clone()
        }
    }

    /// The drives this config reads, in a stable order without repeats, and a failure for
    /// each named user or drive that has none (or cannot be read).
    pub(crate) async fn targets(&self) -> Result<(Vec<Target>, Vec<Failure>)> {
        self.targets_of(None).await
    }

    /// As [`targets`](Self::targets), with every user read only from the first page of at
    /// most `sample` users when given (what `check()` needs on a tenant of 100,000).
    pub(crate) async fn targets_of(
        &self,
        sample: Option<usize>,
    ) -> Result<(Vec<Target>, Vec<Failure>)> {
        let mut failures = Vec::new();
        // (request path, what a failure names, the failure's id)
        let mut named: Vec<(String, String, String)> = Vec::new();
        for user in &self.users {
            let user = user.trim();
            named.push((
                format!("users/{}/drive", crate::graph::escape(user)),
                format!("user `{user}`"),
                format!("{ID_PREFIX}user:{user}"),
            ));
        }
        for drive in &self.drives {
            let drive = drive.trim();
            named.push((
                format!("drives/{}", crate::graph::escape(drive)),
                format!("drive `{drive}`"),
                format!("{ID_PREFIX}drive:{drive}"),
            ));
        }
        let all_users = self.all_users();
        if all_users {
            // Every user of the tenant; those without a OneDrive (no licence, never signed
            // in) answer 404 below and are passed over.
            let top = sample.map_or_else(|| "999".to_owned(), |n| n.clamp(1, 999).to_string());
            let url = self.graph.url(
                "users",
                &[("$select", "id,userPrincipalName"), ("$top", &top)],
            )?;
            let listed = match sample {
                Some(_) => self.graph.page::<User>(&url).await.map(|p| p.value),
                None => self.graph.all(&url).await,
            };
            let users: Vec<User> = listed.map_err(|e| {
                if e.kind() == ErrorKind::PermissionDenied {
                    Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "with neither user_ids nor drive_ids every user's OneDrive is read, and listing the users needs the application permission User.Read.All (admin consent); grant it, or name user_ids or drive_ids: {e}"
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("user_ids")
                } else {
                    e
                }
            })?;
            for u in users {
                let label = format!(
                    "user `{}`",
                    u.user_principal_name.as_deref().unwrap_or(&u.id)
                );
                named.push((
                    format!("users/{}/drive", crate::graph::escape(&u.id)),
                    label,
                    format!("{ID_PREFIX}user:{}", u.id),
                ));
            }
        }
        let paths: Vec<String> = named
            .iter()
            .map(|(p, _, _)| format!("{p}?$select={DRIVE_FIELDS}"))
            .collect();
        let answers = self.graph.batch_get::<Drive>(&paths).await?;
        let mut seen = BTreeSet::new();
        let mut targets = Vec::new();
        for ((_, label, id), answer) in named.into_iter().zip(answers) {
            match answer {
                Ok(Some(drive)) => {
                    if seen.insert(drive.id.clone()) {
                        targets.push(Target {
                            owner: drive
                                .owner
                                .as_ref()
                                .and_then(|o| o.user.as_ref())
                                .and_then(|u| u.email.clone())
                                .map(|e| e.to_lowercase()),
                            drive: drive.id,
                        });
                    }
                }
                Ok(None) if all_users => {}
                Ok(None) => failures.push(Failure::new(
                    Some(id),
                    ErrorKind::NotFound,
                    format!(
                        "{label} has no OneDrive (no licence, never signed in, or no such drive)"
                    ),
                )),
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => failures.push(Failure::new(Some(id), e.kind(), format!("{label}: {e}"))),
            }
        }
        Ok((targets, failures))
    }

    /// Whether the config names no user and no drive: every user's OneDrive is read.
    fn all_users(&self) -> bool {
        self.users.is_empty() && self.drives.is_empty()
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

    /// The folder of `folder_path` in `drive`: `Ok(None)` for the whole drive; a failure
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
                Some(format!("{ID_PREFIX}{drive}")),
                ErrorKind::NotFound,
                format!(
                    "drive `{drive}` has no folder `{}` (folder_path); it was not read",
                    self.folder
                ),
            ))),
        }
    }

    /// Whether a file of a delta page is the source's: a file, in scope, an image only with
    /// `allow_images`.
    async fn admits(
        &self,
        drive: &str,
        item: &DriveItem,
        scope: Option<&str>,
        parents: &mut HashMap<String, Option<String>>,
    ) -> Result<bool> {
        if !item.is_file()
            || (!self.allow_images && crate::files::is_image(&item.name))
            || is_onenote_part(&item.name)
        {
            return Ok(false);
        }
        match scope {
            Some(scope) => self.in_scope(drive, scope, item.parent_id(), parents).await,
            None => Ok(true),
        }
    }

    /// Who may read each of `items` (by item id), from their permissions, asked in JSON
    /// batches; an item whose permissions cannot be read is left out (its `access` unset).
    async fn access_of(
        &self,
        target: &Target,
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
                    out.insert(item.clone(), access(&page.value, target, &self.tenant));
                }
                Ok(None) => {}
                Err(e) if e.kind().ends_sync() => return Err(e),
                // Fail closed: a file whose sharing cannot be read is the owner's alone until a
                // later run reads it (its version, which hashes the access, then changes).
                Err(e) => {
                    tracing::warn!(
                        connector = SOURCE,
                        item = item.as_str(),
                        "permissions not readable, access narrowed to the drive's owner: {e}"
                    );
                    out.insert(item.clone(), access(&[], target, &self.tenant));
                }
            }
        }
        Ok(out)
    }
}

/// One permission of a drive item (`GET …/items/{id}/permissions`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Permission {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(rename = "grantedToV2", default)]
    granted_to: Option<Grantee>,
    #[serde(rename = "grantedToIdentitiesV2", default)]
    granted_to_identities: Vec<Grantee>,
    #[serde(default)]
    link: Option<SharingLink>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Grantee {
    #[serde(default)]
    user: Option<Identity>,
    #[serde(default)]
    group: Option<Identity>,
    #[serde(default)]
    site_group: Option<Identity>,
    #[serde(default)]
    site_user: Option<SiteUser>,
}

/// A SharePoint principal by its claims login name (`c:0-.f|rolemanager|spo-grid-all-users/…`
/// is "Everyone except external users").
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SiteUser {
    #[serde(default)]
    login_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SharingLink {
    #[serde(default)]
    scope: Option<String>,
}

/// Who may read a file: its drive's owner, every user and group a permission with a role
/// names (`aad-group:{id}` for Entra groups, `sp-group:{name}` for SharePoint groups), the
/// whole tenant (`tenant:{id}`) for an organisation link, everyone for an anonymous one.
fn access(permissions: &[Permission], target: &Target, tenant: &str) -> Access {
    let mut emails: BTreeSet<String> = target.owner.iter().cloned().collect();
    let mut groups = BTreeSet::new();
    let mut public = false;
    for p in permissions.iter().filter(|p| !p.roles.is_empty()) {
        match p.link.as_ref().and_then(|l| l.scope.as_deref()) {
            Some("anonymous") => public = true,
            Some("organization") => {
                groups.insert(format!("tenant:{tenant}"));
            }
            _ => {}
        }
        for g in p.granted_to.iter().chain(&p.granted_to_identities) {
            if let Some(email) = g.user.as_ref().and_then(|u| u.email.as_deref()) {
                emails.insert(email.to_lowercase());
            }
            if let Some(id) = g.group.as_ref().and_then(|u| u.id.as_deref()) {
                groups.insert(format!("aad-group:{id}"));
            }
            if let Some(name) = g
                .site_group
                .as_ref()
                .and_then(|u| u.display_name.as_deref())
            {
                groups.insert(format!("sp-group:{name}"));
            }
            if let Some(user) = &g.site_user {
                let login = user.login_name.as_deref().unwrap_or_default();
                if login.contains("spo-grid-all-users") {
                    // Everyone except external users: the tenant's members.
                    groups.insert(format!("tenant:{tenant}"));
                } else if let Some(email) = user.email.as_deref().filter(|e| !e.is_empty()) {
                    emails.insert(email.to_lowercase());
                }
            }
        }
    }
    if public {
        return Access::public();
    }
    Access::restricted(emails.into_iter().collect(), groups.into_iter().collect())
}

/// What a page item's fetch gets.
enum Item {
    File {
        target: Arc<Target>,
        item: Box<DriveItem>,
        access: Option<Access>,
    },
    Failed(Failure),
}

/// The listing from `from` on, each page with the checkpoint after it.
pub(super) fn checkpointed(
    reader: &Reader,
    from: OnedriveCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<OnedriveCheckpoint>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (targets, failures) = reader.targets().await?;
        let mut cp = from;
        let resume = cp.current.take();
        if failures.is_empty() {
            // Drives no longer read (a user gone, a config narrowed) keep no link.
            cp.since.retain(|drive, _| targets.iter().any(|t| &t.drive == drive));
        }
        if !failures.is_empty() {
            yield CheckpointedBatch::new(failed(failures), cp.clone());
        }
        for target in targets {
            if cp.done.contains_key(&target.drive) {
                continue;
            }
            let first = reader.graph.drive_delta_url(&target.drive)?;
            let (mut url, mut phase) = match (&resume, cp.since.get(&target.drive)) {
                (Some(c), _) if c.drive == target.drive => (parse_link(&c.next)?, c.phase),
                (_, Some(since)) => (parse_link(since)?, Phase::Changes),
                // A drive the last runs never finished (new, or unreadable then) while others
                // carry their links: its files before the window were never delivered, so it
                // is listed whole (unchanged files cost no download), not through the window.
                _ if !cp.since.is_empty() => (first.clone(), Phase::Relisting),
                _ => (first.clone(), Phase::Listing),
            };
            // A drive Graph will not read to its end (locked, archived, its user deleted,
            // throttled past the retries) is that drive's failure, not the run's: the other
            // drives are read, and the next run starts it again from its last finished round.
            let mut drive_error: Option<Error> = None;
            'drive: {
            let scope = match reader.scope(&target.drive).await {
                Ok(Ok(scope)) => scope,
                // Every user's drive: most have no such folder, which is no failure.
                Ok(Err(_)) if reader.all_users() => break 'drive,
                Ok(Err(failure)) => {
                    yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                    break 'drive;
                }
                Err(e) => {
                    drive_error = Some(e);
                    break 'drive;
                }
            };
            let target = Arc::new(target.clone());
            let mut parents: HashMap<String, Option<String>> = HashMap::new();
            let mut restarts = 0;
            loop {
                ctx.cancellation().check()?;
                cp.current = Some(DriveCursor { drive: target.drive.clone(), next: url.to_string(), phase });
                let delta = match reader.graph.drive_delta(&url).await {
                    Ok(delta) => delta,
                    Err(e) => {
                        drive_error = Some(e);
                        break 'drive;
                    }
                };
                let page = match delta {
                    Delta::Page(page) => page,
                    Delta::Restart { restart_at, code } => {
                        restarts += 1;
                        if restarts > MAX_RESTARTS {
                            drive_error = Some(Error::new(
                                ErrorKind::Unavailable,
                                format!("Graph asked {restarts} times to start drive `{}` over ({code})", target.drive),
                            ).with_connector(SOURCE));
                            break 'drive;
                        }
                        tracing::warn!(connector = SOURCE, drive = target.drive.as_str(), code = code.as_str(),
                            "Graph no longer continues the stored delta link; the drive is listed again (unchanged files cost no download)");
                        url = restart_at.unwrap_or_else(|| first.clone());
                        phase = Phase::Relisting;
                        continue;
                    }
                };
                let mut broken = Vec::new();
                let mut items = Vec::with_capacity(page.value.len());
                for value in page.value {
                    match DriveItem::from_value(value) {
                        Ok(item) => items.push(item),
                        Err((id, message)) => {
                            let id = id.map(|i| doc_id(&target.drive, &i));
                            let message = match &id {
                                Some(id) => format!("`{id}`: {message}"),
                                None => format!("an item of drive `{}`: {message}", target.drive),
                            };
                            broken.push(Failure::new(id, ErrorKind::InvalidData, message));
                        }
                    }
                }
                remember_folders(&items, &mut parents);
                // An item listed twice in a page: its last state counts (Graph's rule), before
                // any filter, so an earlier state in scope does not outlive a later one out of it.
                let items = last_states(items);
                // Only a listing is narrowed to the window: a round from a delta link is
                // exactly what changed, and a listing after a 410 must see everything.
                let window = if phase == Phase::Listing { window } else { None };
                let mut files = Vec::new();
                for item in items {
                    if window.is_some_and(|w| !item.last_modified_date_time.is_some_and(|t| w.contains(t))) {
                        continue;
                    }
                    match reader.admits(&target.drive, &item, scope.as_deref(), &mut parents).await {
                        Ok(true) => files.push(item),
                        Ok(false) => {}
                        Err(e) => {
                            drive_error = Some(e);
                            break 'drive;
                        }
                    }
                }
                let wanted: Vec<String> = files.iter().filter(|f| f.size <= reader.max).map(|f| f.id.clone()).collect();
                let mut access = match reader.access_of(&target, &wanted).await {
                    Ok(access) => access,
                    Err(e) => {
                        drive_error = Some(e);
                        break 'drive;
                    }
                };
                let pending = broken
                    .into_iter()
                    .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Item::Failed(f)))
                    .chain(files.into_iter().map(|item| {
                        let access = access.remove(&item.id);
                        pending_item(&reader, &target, item, access)
                    }))
                    .collect::<Vec<_>>();
                let fetch_reader = reader.clone();
                let mut fetches = ItemFetches::start(&ctx, pending, CONCURRENCY, move |item| {
                    fetch(fetch_reader.clone(), item)
                })
                .await?;
                let mut rest = Batch::default();
                while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                    if fetches.is_done() {
                        if rest.is_empty() { rest = part } else { rest.append(part) }
                    } else {
                        // A part of the page: the checkpoint stays on this page's link.
                        yield CheckpointedBatch::new(part, cp.clone());
                    }
                }
                match (page.next_link, page.delta_link) {
                    (Some(next), _) => {
                        cp.current = Some(DriveCursor { drive: target.drive.clone(), next: next.to_string(), phase });
                        url = next;
                        yield CheckpointedBatch::new(rest, cp.clone());
                    }
                    (None, Some(delta)) => {
                        cp.current = None;
                        cp.done.insert(target.drive.clone(), delta.to_string());
                        yield CheckpointedBatch::new(rest, cp.clone());
                        break;
                    }
                    (None, None) => {
                        drive_error = Some(Error::new(
                            ErrorKind::InvalidData,
                            format!("a delta page of drive `{}` has neither @odata.nextLink nor @odata.deltaLink", target.drive),
                        ).with_connector(SOURCE));
                        break 'drive;
                    }
                }
            }
            }
            if let Some(e) = drive_error {
                if e.kind().ends_sync() {
                    Err(e)?;
                } else {
                    tracing::warn!(connector = SOURCE, drive = target.drive.as_str(), "drive not read to its end: {e}");
                    cp.current = None;
                    let failure = Failure::new(
                        Some(format!("{ID_PREFIX}drive:{}", target.drive)),
                        e.kind(),
                        format!("drive `{}` was not read to its end; the next run reads it again: {e}", target.drive),
                    );
                    yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                }
            }
        }
    }
    .boxed()
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
fn failed(failures: Vec<Failure>) -> Batch {
    let mut batch = Batch::default();
    batch.failures = failures;
    batch
}

fn parse_link(link: &str) -> Result<Url> {
    Url::parse(link).map_err(|e| {
        Error::new(
            ErrorKind::Checkpoint,
            format!("a stored delta link is not a URL: {e}"),
        )
        .with_connector(SOURCE)
    })
}

/// Every file id of a fresh listing of every drive; fails, rather than come back short,
/// when a page cannot be listed.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (targets, failures) = reader.targets().await?;
        if let Some(f) = failures.first() {
            // A drive that could not be read would look empty: every document of it pruned.
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(SOURCE))?;
        }
        for target in targets {
            // Graph says the folder is not there (404): none of its documents are either.
            let Ok(scope) = reader.scope(&target.drive).await? else {
                continue;
            };
            let mut parents = HashMap::new();
            let first = reader.graph.drive_delta_url(&target.drive)?;
            let mut next = Some(first.clone());
            let mut restarts = 0;
            while let Some(url) = next.take() {
                ctx.cancellation().check()?;
                let page = match reader.graph.drive_delta(&url).await? {
                    Delta::Page(page) => page,
                    Delta::Restart { code, .. } => {
                        restarts += 1;
                        if restarts > MAX_RESTARTS {
                            Err(Error::new(ErrorKind::Unavailable, format!("Graph kept restarting drive `{}` ({code})", target.drive)).with_connector(SOURCE))?;
                        }
                        next = Some(first.clone());
                        continue;
                    }
                };
                let mut ids = Vec::new();
                let mut items = Vec::with_capacity(page.value.len());
                for value in page.value {
                    match DriveItem::from_value(value) {
                        Ok(item) => items.push(item),
                        // An unreadable item is still there: keep its document.
                        Err((Some(id), _)) => ids.push(SlimDocument::new(doc_id(&target.drive, &id))),
                        Err((None, message)) => Err(Error::new(ErrorKind::InvalidData, message).with_connector(SOURCE))?,
                    }
                }
                remember_folders(&items, &mut parents);
                for item in &items {
                    if reader.admits(&target.drive, item, scope.as_deref(), &mut parents).await? {
                        ids.push(SlimDocument::new(doc_id(&target.drive, &item.id)));
                    }
                }
                if !ids.is_empty() {
                    yield ids;
                }
                next = page.next_link;
            }
        }
    }
    .boxed()
}

/// The files with these document ids again, by their current state; an id that is not
/// OneDrive's, whose file is gone or no longer the source's, yields nothing.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (targets, _) = reader.targets().await?;
        let owners: HashMap<String, Arc<Target>> =
            targets.into_iter().map(|t| (t.drive.clone(), Arc::new(t))).collect();
        let mut scopes: HashMap<String, Option<Option<String>>> = HashMap::new();
        let mut parents = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut pending = Vec::new();
            for id in chunk {
                let Some((drive, item_id)) = parse_id(id) else { continue };
                let Some(target) = owners.get(drive) else { continue };
                if !scopes.contains_key(drive) {
                    let scope = reader.scope(drive).await?.ok();
                    scopes.insert(drive.to_owned(), scope);
                }
                // `None`: the drive has no `folder_path` folder any more, so nothing of it is
                // the source's (never the whole drive).
                let Some(scope) = scopes.get(drive).cloned().flatten() else { continue };
                let Some(item) = reader.graph.drive_item(drive, item_id).await? else { continue };
                if !reader.admits(drive, &item, scope.as_deref(), &mut parents).await? {
                    continue;
                }
                let access = reader.access_of(target, std::slice::from_ref(&item.id)).await?.remove(&item.id);
                pending.push(pending_item(&reader, target, item, access));
            }
            let batch = fetch_items(&ctx, pending, CONCURRENCY, |item| fetch(reader.clone(), item)).await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}

/// A file as a page item with its version, or its failure when it is over the size cap.
fn pending_item(
    reader: &Reader,
    target: &Arc<Target>,
    item: DriveItem,
    access: Option<Access>,
) -> PendingItem<Item> {
    let id = doc_id(&target.drive, &item.id);
    if item.size > reader.max {
        let failure = Failure::new(
            Some(id.clone()),
            ErrorKind::Unsupported,
            format!(
                "{}: the file is {} bytes, larger than max_file_size ({} bytes); raise max_file_size or move it out of the drive",
                item.name, item.size, reader.max
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

/// The version token: the content and entity tags (new content, a rename or move) and who
/// may read it, so a change of any of these delivers the document again.
fn version(item: &DriveItem, access: Option<&Access>) -> String {
    let access = access.map_or_else(String::new, |a| {
        connector_core::ids::hash128(&format!(
            "{}|{}|{}",
            a.emails.join(","),
            a.groups.join(","),
            a.public
        ))
    });
    format!("{}|{access}", item.version())
}

/// One item's outcome: its document, its failure, or nothing when the file is gone since the
/// listing (prune deals with it).
async fn fetch(reader: Reader, item: Item) -> Result<Option<Outcome>> {
    let (target, item, access) = match item {
        Item::Failed(failure) => return Ok(Some(failure.into())),
        Item::File {
            target,
            item,
            access,
        } => (target, item, access),
    };
    let body = match reader
        .graph
        .drive_content(&target.drive, &item.id, reader.max)
        .await
    {
        Ok(resp) => resp.into_body(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(
        document(&target, &item, access, Vec::from(body)).into(),
    ))
}

/// The document of a downloaded file.
fn document(target: &Target, item: &DriveItem, access: Option<Access>, data: Vec<u8>) -> Document {
    let mut doc = crate::files::file_document_lenient(
        doc_id(&target.drive, &item.id),
        SOURCE,
        &item.name,
        data,
    )
    .with_size(item.size)
    .with_version(&version(item, access.as_ref()))
    .with_metadata("drive_id", target.drive.clone())
    .with_metadata("item_id", item.id.clone());
    if let Some(t) = item.last_modified_date_time {
        doc = doc.with_updated_at(t);
    }
    if let Some(parent) = item.parent_id() {
        doc = doc.with_parent_id(doc_id(&target.drive, parent));
    }
    if let Some(t) = item.created_date_time {
        doc = doc.with_metadata(
            "created_at",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    if let Some(by) = item.created_by.as_ref().and_then(|b| b.shown()) {
        doc = doc.with_metadata("created_by", by.to_owned());
    }
    if let Some(by) = item.last_modified_by.as_ref().and_then(|b| b.shown()) {
        doc = doc.with_metadata("modified_by", by.to_owned());
    }
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
        let id = doc_id("b!x-y", "01ABC");
        assert_eq!(id, "onedrive:b!x-y:01ABC");
        assert_eq!(parse_id(&id), Some(("b!x-y", "01ABC")));
        assert_eq!(parse_id("onedrive:nothing"), None);
        assert_eq!(parse_id("box:1"), None);
    }

    #[test]
    fn access_follows_graphs_permissions() {
        let perms: Vec<Permission> = serde_json::from_value(serde_json::json!([
            {"id": "1", "roles": ["owner"], "grantedToV2": {"user": {"email": "Ada@Contoso.com", "id": "u1"}}},
            {"id": "2", "roles": ["read"], "grantedToIdentitiesV2": [{"user": {"email": "bob@contoso.com"}}],
             "link": {"scope": "users", "type": "view"}},
            {"id": "3", "roles": ["write"], "grantedToV2": {"group": {"id": "g1", "displayName": "Eng"}}},
            {"id": "4", "roles": ["read"], "grantedToV2": {"siteGroup": {"displayName": "Visitors", "id": "5"}}},
            {"id": "5", "roles": ["read"], "link": {"scope": "organization", "type": "view"}},
            {"id": "7", "roles": ["read"], "grantedToV2": {"siteUser": {"displayName": "Everyone except external users",
                "loginName": "c:0-.f|rolemanager|spo-grid-all-users/72f988bf-86f1-41af-91ab-2d7cd011db47"}}},
            {"id": "8", "roles": ["read"], "grantedToV2": {"siteUser": {"email": "Dora@contoso.com", "loginName": "i:0#.f|membership|dora@contoso.com"}}},
            {"id": "6", "roles": [], "grantedToV2": {"user": {"email": "nobody@contoso.com"}}},
        ]))
        .unwrap();
        let target = Target {
            drive: "b!1".into(),
            owner: Some("owner@contoso.com".into()),
        };
        let a = access(&perms, &target, "t1");
        assert_eq!(
            a.emails,
            [
                "ada@contoso.com",
                "bob@contoso.com",
                "dora@contoso.com",
                "owner@contoso.com"
            ]
        );
        assert_eq!(a.groups, ["aad-group:g1", "sp-group:Visitors", "tenant:t1"]);
        assert!(!a.public);
        let anyone: Vec<Permission> = serde_json::from_value(
            serde_json::json!([{"roles": ["read"], "link": {"scope": "anonymous"}}]),
        )
        .unwrap();
        assert!(access(&anyone, &target, "t1").public);
    }
}
