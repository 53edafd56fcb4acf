//! The Drive walk: users → My Drives (and files shared with each user) → shared drive ids →
//! shared drives → folders, one `files.list` (or directory, or `drives.list`) page per step,
//! each file page's changed files downloaded or exported through core's
//! [`fetch_items`].

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use connector_core::pages::{self, PendingItem, fetch_items};
use connector_core::{Batch, Document, ErrorKind, Failure, Result, SyncContext, TimeWindow};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::access::Readers;
use super::checkpoint::{DriveStage, GoogleDriveCheckpoint};
use super::client::{DriveClient, Feed, Listing};
use super::config::{self, GoogleDriveConfig};
use super::convert::{self, Fetch};
use super::model::{self, File};
use crate::walk::{Mode, Walk};

mod changes;
mod resolve;

use resolve::add_folder;

/// Files of a page downloaded or exported at the same time.
const FILE_CONCURRENCY: usize = 8;

/// At most this many users are asked whether they can read a folder the admin cannot see.
const FOLDER_READER_PROBES: usize = 100;

/// A file of a page that becomes a document: how to fetch it, its modification time and, with
/// `include_permissions`, its readers.
type Wanted = (File, Fetch, DateTime<Utc>, Option<Readers>);

/// What a stage reads at one of its entities.
enum Entity {
    /// A listing (`files.list`).
    List(Listing),
    /// A changes feed (`changes.list`).
    Feed(Feed),
}

/// One Drive walk: a state machine over [`GoogleDriveCheckpoint`], one source page per step.
pub(super) struct Walker {
    client: DriveClient,
    mode: Mode,
    ctx: SyncContext,
    /// The OAuth user's e-mail, asked once.
    me: OnceCell<Option<String>>,
    /// The users of the Admin SDK directory, asked in turn (after the walk's users) who can
    /// read a folder the admin cannot see; listed once per walk.
    readers: OnceCell<Vec<String>>,
    /// Every file id this walk emitted through a listing that does not own the file (see
    /// [`GoogleDriveCheckpoint::seen`], which holds the first of them for a resumed walk).
    seen: Mutex<HashSet<String>>,
    /// Every document id a changes feed of this walk delivered: a removal another feed
    /// reports later (a file moved between two crawled shared drives) never deletes one.
    fed: Mutex<HashSet<String>>,
}

impl Walker {
    /// A walk with `client`, counting into and stopping with `ctx`.
    pub(super) fn new(client: &DriveClient, mode: Mode, ctx: SyncContext) -> Self {
        Self {
            client: client.with_context(&ctx),
            mode,
            ctx,
            me: OnceCell::new(),
            readers: OnceCell::new(),
            seen: Mutex::default(),
            fed: Mutex::default(),
        }
    }

    /// `about.get` (a disabled Drive API fails here, a bad key and a missing delegation fail
    /// at its token, told apart), then, for a service account that lists users, one directory
    /// page (a disabled Admin SDK fails here).
    pub(super) async fn check(&self) -> Result<()> {
        self.client.about().await?;
        let mut cp = GoogleDriveCheckpoint::default();
        self.settle(&mut cp);
        if cp.stage == DriveStage::Users {
            let admin = self.client.admin().unwrap_or_default();
            self.client
                .api
                .list_users(admin, None, &mut Vec::new())
                .await?;
        }
        Ok(())
    }

    fn config(&self) -> &GoogleDriveConfig {
        &self.client.config
    }

    /// Whether each user's files shared with them are listed.
    fn shared_with_me(&self) -> bool {
        self.config()
            .shared_with_me(self.client.api.is_service_account())
    }

    /// The listings of the My Drives stage: a user's My Drive when every My Drive is indexed
    /// or the user is listed in `my_drive_emails` (an OAuth token's own user, `me`, whenever
    /// the list is given), and the files shared with each user.
    fn my_listings(&self, users: &[String]) -> Vec<Listing> {
        let c = self.config();
        let listed = |u: &str| {
            !c.my_drive_emails.is_empty()
                && (u == "me"
                    || c.my_drive_emails
                        .as_slice()
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(u)))
        };
        let shared = self.shared_with_me();
        let mut out = Vec::new();
        for u in users {
            if c.all_my_drives() || listed(u) {
                out.push(Listing::Mine(u.clone()));
            }
            if shared {
                out.push(Listing::SharedWithMe(u.clone()));
            }
        }
        out
    }

    /// The current entity of the stage, if any. With the changes feeds (the checkpoint's
    /// `changes`, loads only) each user's and shared drive's feed comes right before its
    /// listings, so a start token is taken before they list; the folders' feed comes after
    /// the crawl, which it needs whole to place a file.
    fn entity(&self, cp: &GoogleDriveCheckpoint) -> Option<Entity> {
        let feeds = cp.changes.is_some() && !self.mode.is_slim();
        let i = cp.entity;
        match cp.stage {
            DriveStage::MyDrives if feeds => {
                let mut n = 0;
                for u in &cp.users {
                    let listings = self.my_listings(std::slice::from_ref(u));
                    if listings.is_empty() {
                        continue;
                    }
                    if i == n {
                        return Some(Entity::Feed(Feed::User(u.clone())));
                    }
                    if let Some(l) = i.checked_sub(n + 1).and_then(|k| listings.get(k)) {
                        return Some(Entity::List(l.clone()));
                    }
                    n += 1 + listings.len();
                }
                None
            }
            DriveStage::MyDrives => self
                .my_listings(&cp.users)
                .into_iter()
                .nth(i)
                .map(Entity::List),
            DriveStage::SharedDrives if feeds => cp.drives.get(i / 2).map(|d| {
                if i.is_multiple_of(2) {
                    Entity::Feed(Feed::Drive(d.clone()))
                } else {
                    Entity::List(Listing::Drive(d.clone()))
                }
            }),
            DriveStage::SharedDrives => cp
                .drives
                .get(i)
                .cloned()
                .map(|d| Entity::List(Listing::Drive(d))),
            DriveStage::Folders => match cp.folders.get(i) {
                Some(f) => Some(Entity::List(Listing::Folder(f.clone()))),
                None if feeds && i == cp.folders.len() && !cp.folders.is_empty() => {
                    Some(Entity::Feed(Feed::Folders))
                }
                None => None,
            },
            _ => None,
        }
    }

    /// The window `listing` lists: none when its feed's token was refused in this run.
    fn window_of(&self, listing: &Listing, cp: &GoogleDriveCheckpoint) -> Option<TimeWindow> {
        let relisted = Feed::of(listing).is_some_and(|f| cp.relist.contains(&f.key()));
        if relisted { None } else { self.mode.window() }
    }

    /// One page of `listing`: its files as documents (or ids), failures and unchanged ids;
    /// advances `cp` past it.
    async fn files_page(&self, listing: &Listing, cp: &mut GoogleDriveCheckpoint) -> Result<Batch> {
        let c = self.config();
        let window = self.window_of(listing, cp);
        let permissions = c.include_permissions && !self.mode.is_slim();
        let fields = if self.mode.is_slim() {
            model::SLIM_FIELDS
        } else if permissions {
            model::FILE_FIELDS_WITH_PERMISSIONS
        } else {
            model::FILE_FIELDS
        };
        let listed = self.list(listing, cp, fields).await;
        let mut batch = Batch::default();
        let (subject, page) = match listed {
            Ok(page) => page,
            Err(e) => {
                // One user, drive or folder that cannot be listed is its own failure: the walk
                // goes on to the next one, and the next run (its window held back by the
                // failure) lists it again.
                let as_user = self.client.api.is_service_account()
                    && matches!(listing, Listing::Mine(_) | Listing::SharedWithMe(_));
                let hint = if as_user && e.kind() == ErrorKind::Unauthenticated {
                    " (Drive answers 401 to a user who has no Drive: no licence, or Drive turned off for the user in the Admin console)"
                } else {
                    ""
                };
                batch.failures.push(crate::walk::partition_failure(
                    listing.key(),
                    &listing.to_string(),
                    hint,
                    e,
                    as_user,
                    true,
                )?);
                cp.next_entity();
                return Ok(batch);
            }
        };
        // Drive lists a folder the caller cannot see as empty, without an error: a configured
        // folder that comes back empty is looked up, and one the admin cannot see is read as
        // a user who can, or is a failure that says so, not an empty success.
        let (subject, page) = match self
            .hidden_folder(listing, cp, fields, subject, page)
            .await?
        {
            Ok(listed) => listed,
            Err(failure) => {
                batch.failures.push(failure);
                cp.next_entity();
                return Ok(batch);
            }
        };
        let me = self.me().await?;
        // Who a file read through this listing is sure to be readable by.
        let user = subject.clone().or_else(|| me.clone());
        let mut candidates: Vec<(String, Wanted)> = Vec::new();
        for raw in page.items.files {
            let mut file: File = match serde_json::from_value(raw.clone()) {
                Ok(f) => f,
                Err(e) => {
                    batch.failures.push(malformed(&raw, &e));
                    continue;
                }
            };
            // A shortcut stands for its target: a folder's is crawled with the folder it sits
            // in, a file's target is indexed (once) in its place.
            let mut via_shortcut = None;
            if file.mime_type == model::SHORTCUT {
                let target_mime = file
                    .shortcut_details
                    .as_ref()
                    .and_then(|d| d.target_mime_type.as_deref());
                if target_mime == Some(model::FOLDER) {
                    if let (Listing::Folder(_), Some(t)) = (
                        listing,
                        file.shortcut_details
                            .as_ref()
                            .and_then(|d| d.target_id.clone()),
                    ) {
                        add_folder(cp, listing, t);
                    }
                    continue;
                }
                let raw = match self
                    .shortcut_target(subject.as_deref(), &file, fields)
                    .await
                {
                    Ok(Some(raw)) => raw,
                    Ok(None) => continue,
                    Err(e) => {
                        let id = convert::document_id(&file.id, file.web_view_link.as_deref());
                        batch.failures.push(pages::item_failure(id, e)?);
                        continue;
                    }
                };
                let target: File = match serde_json::from_value(raw.clone()) {
                    Ok(f) => f,
                    Err(e) => {
                        batch.failures.push(malformed(&raw, &e));
                        continue;
                    }
                };
                if self.owned_in_walk(&target, cp, me.as_deref()) {
                    continue;
                }
                via_shortcut = convert::modified(&file);
                file = target;
            }
            if file.mime_type == model::FOLDER {
                if matches!(listing, Listing::Folder(_)) {
                    add_folder(cp, listing, file.id.clone());
                }
                continue;
            }
            let Some(fetch) = convert::fetch_for(
                &file.mime_type,
                c.docs_format,
                c.sheets_format,
                c.allow_images,
            ) else {
                continue;
            };
            let id = convert::document_id(&file.id, file.web_view_link.as_deref());
            let Some(updated) = convert::modified(&file) else {
                let msg = format!(
                    "Drive file `{id}` has no readable modifiedTime {:?}",
                    file.modified_time
                );
                batch
                    .failures
                    .push(Failure::new(Some(id), ErrorKind::InvalidData, msg));
                continue;
            };
            // A new shortcut to an old file brings the file into a window.
            if let Some(w) = window
                && !w.contains(updated)
                && !via_shortcut.is_some_and(|t| w.contains(t))
            {
                continue;
            }
            let owned_here = via_shortcut.is_none()
                && match listing {
                    Listing::Mine(_) => true,
                    Listing::Drive(d) => file.drive_id.as_deref() == Some(d.as_str()),
                    _ => false,
                };
            if !owned_here && self.emitted_elsewhere(&file, cp, me.as_deref()) {
                continue;
            }
            if self.seen(cp, &file.id) {
                continue;
            }
            if !owned_here {
                self.mark_seen(cp, &file.id);
            }
            if self.over_cap(&id, &file, &fetch, &mut batch) {
                continue;
            }
            candidates.push((id, (file, fetch, updated, None)));
        }
        match page.next {
            Some(t) => cp.page_token = Some(t),
            None => {
                cp.completed_until
                    .insert(listing.key(), window.map(|w| w.end));
                cp.next_entity();
            }
        }
        if self.mode.is_slim() {
            batch.unchanged = candidates.into_iter().map(|(id, _)| id).collect();
            convert::link_failures(&mut batch.failures);
            return Ok(batch);
        }
        self.deliver(subject.as_deref(), user.as_deref(), candidates, batch)
            .await
    }

    /// Turns a page's `candidates` into documents in `batch`: their readers (with
    /// `include_permissions`), the fingerprint check, then the downloads and exports, as
    /// `subject`; `user` is who a file read this way is sure to be readable by.
    async fn deliver(
        &self,
        subject: Option<&str>,
        user: Option<&str>,
        mut candidates: Vec<(String, Wanted)>,
        mut batch: Batch,
    ) -> Result<Batch> {
        if self.config().include_permissions {
            // Who reads each file, before the fingerprint check: a sharing change is a new
            // version. Asked a few at a time, in page order.
            // Owned items: a stream over borrowed ones is not `Send` enough for the walk.
            let files: Vec<File> = candidates.iter().map(|(_, w)| w.0.clone()).collect();
            let read: Vec<Result<Readers>> = futures::stream::iter(files)
                .map(|file| async move { self.readers(subject, user, &file).await })
                .buffered(FILE_CONCURRENCY)
                .collect()
                .await;
            let mut kept = Vec::with_capacity(candidates.len());
            for ((id, mut wanted), readers) in candidates.into_iter().zip(read) {
                match readers {
                    Ok(r) => {
                        wanted.3 = Some(r);
                        kept.push((id, wanted));
                    }
                    Err(e) => batch.failures.push(pages::item_failure(id, e)?),
                }
            }
            candidates = kept;
        }
        let wanted = candidates.into_iter().map(|(id, wanted)| {
            let version = convert::version(&wanted.0, &wanted.1, wanted.3.as_ref());
            PendingItem::new(id, wanted).with_version(&version)
        });
        let fetched = fetch_items(&self.ctx, wanted, FILE_CONCURRENCY, |wanted| {
            self.fetch_file(subject, wanted)
        })
        .await?;
        batch.append(fetched);
        convert::link_failures(&mut batch.failures);
        Ok(batch)
    }

    /// Whether `file` is a download over `max_file_size`, which is then a failure in `batch`
    /// (when documents are wanted): it is not downloaded.
    fn over_cap(&self, id: &str, file: &File, fetch: &Fetch, batch: &mut Batch) -> bool {
        let cap = self.config().max_file_size();
        let Some(size) = convert::size(file).filter(|s| *fetch == Fetch::Download && *s > cap)
        else {
            return false;
        };
        if !self.mode.is_slim() {
            let msg = format!(
                "Drive file `{id}` is {size} bytes, over max_file_size ({cap} bytes); not downloaded"
            );
            batch.failures.push(Failure::new(
                Some(id.to_owned()),
                ErrorKind::InvalidData,
                msg,
            ));
        }
        true
    }

    /// Downloads or exports one file as `subject` and makes its document.
    async fn fetch_file(
        &self,
        subject: Option<&str>,
        (file, fetch, updated, readers): Wanted,
    ) -> Result<Document> {
        let cap = self.config().max_file_size();
        let (fetch, data) = match fetch {
            Fetch::Sheet => match self.client.sheet_tabs(subject, &file.id, cap).await? {
                Some(tabs) => {
                    let text = convert::sheet_markdown(&file.name, &tabs);
                    (Fetch::Sheet, bytes::Bytes::from(text))
                }
                // The Sheets API is not enabled: the xlsx export, as before.
                None => {
                    let xlsx = convert::xlsx();
                    let data = self
                        .client
                        .export(subject, &file.id, model::XLSX, cap)
                        .await?;
                    (xlsx, data)
                }
            },
            Fetch::Export { mime, .. } => {
                let data = self.client.export(subject, &file.id, mime, cap).await?;
                (fetch, data)
            }
            Fetch::Download => {
                let data = self.client.download(subject, &file.id, cap).await?;
                (fetch, data)
            }
        };
        Ok(convert::document(
            &file,
            &fetch,
            data,
            updated,
            readers.as_ref(),
        ))
    }
}

impl Walk for Walker {
    type Checkpoint = GoogleDriveCheckpoint;

    fn context(&self) -> &SyncContext {
        &self.ctx
    }

    fn settle(&self, cp: &mut GoogleDriveCheckpoint) -> bool {
        let c = self.config();
        loop {
            match cp.stage {
                DriveStage::Users => {
                    let shared = self.shared_with_me();
                    let needs_users = c.all_my_drives() || !c.my_drive_emails.is_empty() || shared;
                    if !needs_users {
                        cp.enter(DriveStage::MyDrives);
                    } else if !self.client.api.is_service_account() {
                        cp.users = vec!["me".to_owned()];
                        cp.enter(DriveStage::MyDrives);
                    } else if !c.specific_user_emails.is_empty() {
                        cp.users = c.specific_user_emails.as_slice().to_vec();
                        cp.enter(DriveStage::MyDrives);
                    } else if !c.all_my_drives() && !shared {
                        cp.users = c.my_drive_emails.as_slice().to_vec();
                        cp.enter(DriveStage::MyDrives);
                    } else {
                        return true; // a directory page to fetch
                    }
                }
                DriveStage::MyDrives | DriveStage::SharedDrives | DriveStage::Folders => {
                    if self.entity(cp).is_some() {
                        return true;
                    }
                    match cp.stage {
                        DriveStage::MyDrives => cp.enter(DriveStage::DriveIds),
                        DriveStage::SharedDrives => {
                            cp.enter(DriveStage::Folders);
                            if cp.folders.is_empty() {
                                add_ids(&mut cp.folders, c.shared_folder_urls.as_slice());
                            }
                        }
                        _ => cp.enter(DriveStage::Done),
                    }
                }
                DriveStage::DriveIds => {
                    if c.all_shared_drives() {
                        return true; // a drives.list page to fetch
                    }
                    add_ids(&mut cp.drives, c.shared_drive_urls.as_slice());
                    cp.enter(DriveStage::SharedDrives);
                }
                DriveStage::Done => return false,
            }
        }
    }

    async fn step(&self, mut cp: GoogleDriveCheckpoint) -> Result<(Batch, GoogleDriveCheckpoint)> {
        let mut batch = Batch::default();
        match cp.stage {
            DriveStage::Users => {
                let admin = self.client.admin().unwrap_or_default();
                let token = cp.page_token.take();
                match self
                    .client
                    .api
                    .list_users(admin, token.as_deref(), &mut cp.users)
                    .await?
                {
                    Some(t) => cp.page_token = Some(t),
                    None => cp.enter(DriveStage::MyDrives),
                }
            }
            DriveStage::DriveIds => {
                let page = self.client.drives(cp.page_token.as_deref()).await?;
                for id in page.items {
                    if !cp.drives.contains(&id) {
                        cp.drives.push(id);
                    }
                }
                match page.next {
                    Some(t) => cp.page_token = Some(t),
                    None => {
                        add_ids(&mut cp.drives, self.config().shared_drive_urls.as_slice());
                        cp.enter(DriveStage::SharedDrives);
                    }
                }
            }
            DriveStage::MyDrives | DriveStage::SharedDrives | DriveStage::Folders => {
                match self.entity(&cp) {
                    Some(Entity::List(listing)) => {
                        batch = self.files_page(&listing, &mut cp).await?;
                    }
                    Some(Entity::Feed(feed)) => batch = self.feed_page(&feed, &mut cp).await?,
                    None => {}
                }
            }
            DriveStage::Done => {}
        }
        Ok((batch, cp))
    }
}

/// Adds the ids of `urls` (shared drive or folder links) that `ids` does not hold yet.
fn add_ids(ids: &mut Vec<String>, urls: &[String]) {
    for url in urls {
        if let Some(id) = config::id_from_url(url)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
}

/// The failure of a listed file Drive sent malformed.
fn malformed(raw: &Value, e: &serde_json::Error) -> Failure {
    let id = raw
        .get("id")
        .and_then(Value::as_str)
        .map(|id| convert::document_id(id, raw.get("webViewLink").and_then(Value::as_str)));
    let name = id.as_deref().unwrap_or("a file without an id");
    let msg = format!("Drive file `{name}` is malformed: {e}");
    Failure::new(id, ErrorKind::InvalidData, msg)
}
