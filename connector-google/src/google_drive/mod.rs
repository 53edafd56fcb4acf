//! The Google Drive connector (source `"google_drive"`).
//!
//! - **Scope**: users from the Admin SDK directory (`users.list`, as
//!   `credentials.google_primary_admin`) or `specific_user_emails`; each user's My Drive
//!   (`'me' in owners`, so a file is listed once, by its owner) and files shared with them;
//!   shared drives (`drives.list` or `shared_drive_urls`); shared folders crawled by parent.
//!   An OAuth user token lists its own user (`me`).
//! - **Listing**: `files.list`, 1000 per page, `fields` trimmed to what the documents show,
//!   `trashed = false`, and for a window `modifiedTime >= start and modifiedTime < end`
//!   (filtered exactly again on the response). Folder crawls list every child, since a
//!   subfolder is needed whatever its time, and filter files by the window.
//! - **Content**: Docs exported as Markdown (or plain text), Sheets as xlsx, Slides as text,
//!   Drawings as PNG with `allow_images`; other files downloaded as bytes (text files as text)
//!   when `size` is within `max_file_size`, checked before the download. Images only with
//!   `allow_images`. Forms, sites, shortcuts and folders are not documents.
//! - **Documents**: id = the `webViewLink` without its query (RAGFlow's id), title = the name,
//!   `updated_at` = `modifiedTime`, fingerprint from `version` and `modifiedTime` (checked
//!   before downloading: unchanged files are not fetched), owners, `file_id`, `mime_type`,
//!   `drive_id` metadata.
//! - **Errors**: 401 and 403 stop the sync naming `credentials.google_tokens`; a 403 whose
//!   reason is `rateLimitExceeded` or `userRateLimitExceeded` is retried as a rate limit; a
//!   file that cannot be downloaded or exported, or is over the size cap, is a [`Failure`].
//! - **Checkpoint**: staged (users → My Drives → shared drives → folders → done) with the
//!   entity and its page token, see [`GoogleDriveCheckpoint`].
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::{Page, PageLimit, paginate};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, CredentialStore, Document, Error,
    ErrorKind, Failure, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

pub use checkpoint::{DriveStage, GoogleDriveCheckpoint};
pub use config::{DEFAULT_DRIVE_BASE_URL, DEFAULT_MAX_FILE_SIZE, DocsFormat, GoogleDriveConfig};

use crate::auth::Authenticator;
use crate::auth::directory::{DEFAULT_DIRECTORY_BASE_URL, users_page};
use client::{DriveClient, Listing};
use convert::Fetch;
use model::File;

/// The registry key of the Google Drive connector.
pub const SOURCE: &str = "google_drive";

/// Files of a page downloaded or exported at the same time.
const FILE_CONCURRENCY: usize = 8;

/// Google Drive. Built from a [`GoogleDriveConfig`].
pub struct GoogleDriveConnector {
    client: DriveClient,
}

impl GoogleDriveConnector {
    /// A connector over `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the config is invalid (every problem by field path);
    /// [`ErrorKind::Internal`] when the HTTP client cannot start.
    pub fn new(config: GoogleDriveConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = crate::http_client(SOURCE, config.max_file_size())?;
        let auth = Authenticator::new(SOURCE, &config.credentials, config.token_uri.as_ref())?;
        Ok(Self {
            client: DriveClient {
                http,
                auth: Arc::new(auth),
                drive_base: crate::url_or(config.drive_base_url.as_ref(), DEFAULT_DRIVE_BASE_URL)?,
                directory_base: crate::url_or(
                    config.directory_base_url.as_ref(),
                    DEFAULT_DIRECTORY_BASE_URL,
                )?,
                config: Arc::new(config),
            },
        })
    }

    /// Hands a refresh token that Google rotates to `store` before it is used (DESIGN §7).
    #[must_use]
    pub fn with_credential_store(self, store: Arc<dyn CredentialStore>) -> Self {
        self.client.auth.set_store(store);
        self
    }

    /// The config.
    pub fn config(&self) -> &GoogleDriveConfig {
        &self.client.config
    }

    fn pages(
        &self,
        from: GoogleDriveCheckpoint,
        mode: Mode,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GoogleDriveCheckpoint>>> {
        let walker = Walker {
            client: self.client.with_context(&ctx),
            mode,
            ctx,
        };
        let mut start = from;
        walker.settle(&mut start);
        if start.stage == DriveStage::Done {
            return futures::stream::empty().boxed();
        }
        let walker = Arc::new(walker);
        paginate(start, PageLimit::unbounded(), move |cp| {
            let walker = Arc::clone(&walker);
            async move { walker.step(cp).await }
        })
        .map_ok(|page| {
            let (batch, checkpoint) = page.items;
            CheckpointedBatch::new(batch, checkpoint)
        })
        .boxed()
    }
}

/// What a walk produces.
#[derive(Clone, Copy)]
enum Mode {
    /// Documents, of a window or of everything.
    Load(Option<TimeWindow>),
    /// Ids only, of everything.
    Slim,
}

/// One Drive walk: a state machine over [`GoogleDriveCheckpoint`], one source page per step.
struct Walker {
    client: DriveClient,
    mode: Mode,
    ctx: SyncContext,
}

/// One page's output: documents (or slim ids as documents' ids) and the state after it.
type Step = Page<(Batch, GoogleDriveCheckpoint), GoogleDriveCheckpoint>;

impl Walker {
    fn config(&self) -> &GoogleDriveConfig {
        &self.client.config
    }

    fn window(&self) -> Option<TimeWindow> {
        match self.mode {
            Mode::Load(w) => w,
            Mode::Slim => None,
        }
    }

    /// Whether a later stage may reach a file an earlier one emitted.
    fn tracks_seen(&self) -> bool {
        let c = self.config();
        c.include_files_shared_with_me || !c.shared_folder_urls.is_empty()
    }

    /// The listings of the My Drives stage.
    fn my_listings(&self, users: &[String]) -> Vec<Listing> {
        let c = self.config();
        let mut out = Vec::new();
        for u in users {
            let mine = c.all_my_drives()
                || u == "me"
                || c.my_drive_emails
                    .as_slice()
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(u));
            if mine && (c.all_my_drives() || !c.my_drive_emails.is_empty()) {
                out.push(Listing::Mine(u.clone()));
            }
            if c.include_files_shared_with_me {
                out.push(Listing::SharedWithMe(u.clone()));
            }
        }
        out
    }

    /// The current listing, if the stage has one at its entity.
    fn listing(&self, cp: &GoogleDriveCheckpoint) -> Option<Listing> {
        match cp.stage {
            DriveStage::MyDrives => self.my_listings(&cp.users).into_iter().nth(cp.entity),
            DriveStage::SharedDrives => cp.drives.get(cp.entity).cloned().map(Listing::Drive),
            DriveStage::Folders => cp.folders.get(cp.entity).cloned().map(Listing::Folder),
            _ => None,
        }
    }

    /// Applies every transition that needs no request, so the checkpoint points at the next
    /// request to make (or is done).
    fn settle(&self, cp: &mut GoogleDriveCheckpoint) {
        let c = self.config();
        loop {
            match cp.stage {
                DriveStage::Users => {
                    let needs_users = c.all_my_drives()
                        || !c.my_drive_emails.is_empty()
                        || c.include_files_shared_with_me;
                    if !needs_users {
                        cp.enter(DriveStage::MyDrives);
                    } else if !self.client.auth.is_service_account() {
                        cp.users = vec!["me".to_owned()];
                        cp.enter(DriveStage::MyDrives);
                    } else if !c.specific_user_emails.is_empty() {
                        cp.users = c.specific_user_emails.as_slice().to_vec();
                        cp.enter(DriveStage::MyDrives);
                    } else if !c.all_my_drives() && !c.include_files_shared_with_me {
                        cp.users = c.my_drive_emails.as_slice().to_vec();
                        cp.enter(DriveStage::MyDrives);
                    } else {
                        return; // a directory page to fetch
                    }
                }
                DriveStage::MyDrives | DriveStage::SharedDrives | DriveStage::Folders => {
                    if self.listing(cp).is_some() {
                        return;
                    }
                    match cp.stage {
                        DriveStage::MyDrives => {
                            cp.enter(DriveStage::DriveIds);
                        }
                        DriveStage::SharedDrives => {
                            cp.enter(DriveStage::Folders);
                            if cp.folders.is_empty() {
                                for url in c.shared_folder_urls.as_slice() {
                                    if let Some(id) = config::id_from_url(url)
                                        && !cp.folders.contains(&id)
                                    {
                                        cp.folders.push(id);
                                    }
                                }
                            }
                        }
                        _ => cp.enter(DriveStage::Done),
                    }
                }
                DriveStage::DriveIds => {
                    if c.all_shared_drives() {
                        return; // a drives.list page to fetch
                    }
                    for url in c.shared_drive_urls.as_slice() {
                        if let Some(id) = config::id_from_url(url)
                            && !cp.drives.contains(&id)
                        {
                            cp.drives.push(id);
                        }
                    }
                    cp.enter(DriveStage::SharedDrives);
                }
                DriveStage::Done => return,
            }
        }
    }

    /// Fetches the page the (settled) checkpoint points at.
    async fn step(&self, mut cp: GoogleDriveCheckpoint) -> Result<Step> {
        let mut batch = Batch::default();
        match cp.stage {
            DriveStage::Users => {
                let admin = self.client.admin().unwrap_or_default().to_owned();
                let page = users_page(
                    &self.client.auth,
                    &self.client.http,
                    &self.client.directory_base,
                    &admin,
                    cp.page_token.clone(),
                )
                .await?;
                match page {
                    // A personal account: no directory, the admin is the one user.
                    None => {
                        cp.users = vec![admin];
                        cp.enter(DriveStage::MyDrives);
                    }
                    Some(page) => {
                        cp.users.extend(page.items);
                        match page.next.flatten() {
                            Some(t) => cp.page_token = Some(t),
                            None => cp.enter(DriveStage::MyDrives),
                        }
                    }
                }
            }
            DriveStage::DriveIds => {
                let page = self.client.drives(cp.page_token.as_deref()).await?;
                for id in page.items {
                    if !cp.drives.contains(&id) {
                        cp.drives.push(id);
                    }
                }
                match page.next.flatten() {
                    Some(t) => cp.page_token = Some(t),
                    None => {
                        for url in self.config().shared_drive_urls.as_slice() {
                            if let Some(id) = config::id_from_url(url)
                                && !cp.drives.contains(&id)
                            {
                                cp.drives.push(id);
                            }
                        }
                        cp.enter(DriveStage::SharedDrives);
                    }
                }
            }
            DriveStage::MyDrives | DriveStage::SharedDrives | DriveStage::Folders => {
                if let Some(listing) = self.listing(&cp) {
                    batch = self.files_page(&listing, &mut cp).await?;
                }
            }
            DriveStage::Done => {}
        }
        self.settle(&mut cp);
        let next = (cp.stage != DriveStage::Done).then(|| cp.clone());
        Ok(Page::new((batch, cp), next))
    }

    /// One page of `listing`: its files as documents (or ids), failures and unchanged ids;
    /// advances `cp` past it.
    async fn files_page(&self, listing: &Listing, cp: &mut GoogleDriveCheckpoint) -> Result<Batch> {
        let c = self.config();
        let fields = match self.mode {
            Mode::Load(_) => model::FILE_FIELDS,
            Mode::Slim => model::SLIM_FIELDS,
        };
        let page = self
            .client
            .files(listing, cp.page_token.as_deref(), self.window(), fields)
            .await?;
        let mut batch = Batch::default();
        let mut wanted: Vec<(File, Fetch, chrono::DateTime<chrono::Utc>)> = Vec::new();
        for raw in page.items.files {
            let file: File = match serde_json::from_value(raw.clone()) {
                Ok(f) => f,
                Err(e) => {
                    let id = raw.get("id").and_then(|v| v.as_str()).map(|id| {
                        convert::document_id(id, raw.get("webViewLink").and_then(|v| v.as_str()))
                    });
                    let name = id.clone().unwrap_or_else(|| "a file without an id".into());
                    let msg = format!("Drive file `{name}` is malformed: {e}");
                    batch.failures.push(match id {
                        Some(id) => convert::failure(id, ErrorKind::InvalidData, msg),
                        None => Failure::new(None, ErrorKind::InvalidData, msg),
                    });
                    continue;
                }
            };
            if file.mime_type == model::FOLDER {
                if matches!(listing, Listing::Folder(_)) && !cp.folders.contains(&file.id) {
                    cp.folders.push(file.id.clone());
                }
                continue;
            }
            let Some(fetch) = convert::fetch_for(&file.mime_type, c.docs_format, c.allow_images)
            else {
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
                    .push(convert::failure(id, ErrorKind::InvalidData, msg));
                continue;
            };
            if self.window().is_some_and(|w| !w.contains(updated)) {
                continue;
            }
            if self.tracks_seen() && !cp.seen.insert(file.id.clone()) {
                continue;
            }
            if fetch == Fetch::Download
                && let Some(size) = convert::size(&file)
                && size > c.max_file_size()
            {
                if matches!(self.mode, Mode::Load(_)) {
                    let msg = format!(
                        "Drive file `{id}` is {size} bytes, over max_file_size ({} bytes); not downloaded",
                        c.max_file_size()
                    );
                    batch
                        .failures
                        .push(convert::failure(id, ErrorKind::InvalidData, msg));
                }
                continue;
            }
            wanted.push((file, fetch, updated));
        }
        match page.next.flatten() {
            Some(t) => cp.page_token = Some(t),
            None => {
                cp.completed_until
                    .insert(listing.key(), self.window().map(|w| w.end));
                cp.next_entity();
            }
        }
        if matches!(self.mode, Mode::Slim) {
            batch.unchanged = wanted
                .iter()
                .map(|(f, _, _)| convert::document_id(&f.id, f.web_view_link.as_deref()))
                .collect();
            return Ok(batch);
        }
        self.fetch_files(listing, wanted, batch).await
    }

    /// Downloads or exports the changed files of a page, a few at a time.
    async fn fetch_files(
        &self,
        listing: &Listing,
        files: Vec<(File, Fetch, chrono::DateTime<chrono::Utc>)>,
        mut batch: Batch,
    ) -> Result<Batch> {
        let ids: Vec<String> = files
            .iter()
            .map(|(f, _, _)| convert::document_id(&f.id, f.web_view_link.as_deref()))
            .collect();
        let known: HashMap<String, String> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.ctx.fingerprints().fingerprints(&ids).await?
        };
        let subject = self.client.subject(listing).map(str::to_owned);
        let cap = self.config().max_file_size();
        let results: Vec<Result<Item>> = futures::stream::iter(files.into_iter().zip(ids))
            .map(|((file, fetch, updated), id)| {
                let unchanged = known.get(&id)
                    == Some(&Document::version_fingerprint(&convert::version(&file)));
                let subject = subject.clone();
                async move {
                    if unchanged {
                        return Ok(Item::Unchanged(id));
                    }
                    let data = match &fetch {
                        Fetch::Export { mime, .. } => {
                            self.client
                                .export(subject.as_deref(), &file.id, mime, cap)
                                .await
                        }
                        Fetch::Download => {
                            self.client
                                .download(subject.as_deref(), &file.id, cap)
                                .await
                        }
                    };
                    match data {
                        Ok(data) => Ok(Item::Doc(Box::new(convert::document(
                            &file, &fetch, data, updated,
                        )))),
                        Err(e) if is_fatal(&e) => Err(e),
                        Err(e) => {
                            let msg = format!("Drive file `{id}`: {e}");
                            let mut f = convert::failure(id, e.kind(), msg);
                            f.retryable = e.is_retryable();
                            Ok(Item::Fail(f))
                        }
                    }
                }
            })
            .buffered(FILE_CONCURRENCY)
            .collect()
            .await;
        for item in results {
            match item? {
                Item::Doc(d) => batch.documents.push(*d),
                Item::Fail(f) => batch.failures.push(f),
                Item::Unchanged(id) => batch.unchanged.push(id),
            }
        }
        Ok(batch)
    }
}

/// One file of a page.
enum Item {
    Doc(Box<Document>),
    Fail(Failure),
    Unchanged(String),
}

/// Whether an error ends the sync rather than failing one file.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unauthenticated
            | ErrorKind::RateLimited
            | ErrorKind::Cancelled
            | ErrorKind::Config
    )
}

impl fmt::Debug for GoogleDriveConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleDriveConnector")
            .field("config", &self.client.config)
            .field("auth", &self.client.auth)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GoogleDriveConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.client.config.credentials.google_primary_admin {
            Some(admin) => write!(f, "google_drive:{admin}"),
            None => f.write_str("google_drive:me"),
        }
    }
}

#[async_trait]
impl Connector for GoogleDriveConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .into()
    }

    /// Gets a token for the admin (a bad key and a missing delegation fail here, told apart),
    /// then `about.get` (a disabled Drive API fails here), then, for a service account that
    /// lists users, one directory page (a disabled Admin SDK fails here).
    async fn check(&self) -> Result<()> {
        self.client.about().await?;
        let walker = Walker {
            client: self.client.clone(),
            mode: Mode::Slim,
            ctx: SyncContext::new(),
        };
        let mut cp = GoogleDriveCheckpoint::default();
        walker.settle(&mut cp);
        if cp.stage == DriveStage::Users {
            let admin = self.client.admin().unwrap_or_default();
            users_page(
                &self.client.auth,
                &self.client.http,
                &self.client.directory_base,
                admin,
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Only an OAuth user token rotates; a service-account key never does.
    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.client.auth.set_store(store);
        !self.client.auth.is_service_account()
    }
}

impl CheckpointedConnector for GoogleDriveConnector {
    type Checkpoint = GoogleDriveCheckpoint;

    fn initial_checkpoint(&self) -> GoogleDriveCheckpoint {
        GoogleDriveCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: GoogleDriveCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GoogleDriveCheckpoint>>> {
        self.pages(from, Mode::Load(window), ctx)
    }
}

impl SlimConnector for GoogleDriveConnector {
    /// Every file a full load turns into a document (the size cap and the type rules
    /// applied), listed without downloading anything.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.pages(GoogleDriveCheckpoint::default(), Mode::Slim, ctx)
            .map_ok(|p| {
                p.batch
                    .unchanged
                    .into_iter()
                    .map(SlimDocument::new)
                    .collect()
            })
            .boxed()
    }
}
