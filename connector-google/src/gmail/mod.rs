//! The Gmail connector (source `"gmail"`).
//!
//! - **Mailboxes**: a service account impersonates every active user of the Admin SDK
//!   directory (as `credentials.google_primary_admin`), or `specific_user_emails`; a 404 from
//!   the directory means a personal account, whose one mailbox is the admin's. An OAuth token
//!   reads its own mailbox (`me`, its address from `users.getProfile`).
//! - **Listing**: `threads.list`, 500 per page; a window becomes `q=after:S before:E` in epoch
//!   seconds, widened by a second each way, and is applied exactly to each thread's last
//!   message (`internalDate`). Threads are then fetched with `threads.get?format=full`, a few
//!   at a time (`thread_concurrency`), unless the thread's `historyId` shows it unchanged.
//! - **Documents**: one per thread: id `gmail:{user}:{threadId}` (scoped by mailbox), title
//!   the subject, Markdown with the participants, the dates and every message (From, To, Cc,
//!   Date, body). Bodies come from the MIME tree: nested multiparts walked, base64url decoded,
//!   charsets decoded by mail-parser (ISO-8859-x, Shift_JIS, ...), `text/plain` preferred and
//!   HTML converted to Markdown otherwise; a message in `raw` form is parsed by mail-parser.
//!   `updated_at` is the last message's time.
//! - **Attachments** (`include_attachments`): documents of their own, id
//!   `gmail:{user}:{threadId}:{messageId}:{partId}`, `parent_id` the thread; larger than
//!   `attachment_size_limit` are skipped before download.
//! - **Errors**: a malformed message (no body, bad base64) is a [`Failure`] naming the thread;
//!   401/403 stop the sync naming `credentials.google_tokens`; 403 rate-limit reasons retry.
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

pub use checkpoint::{GmailCheckpoint, GmailStage};
pub use config::{DEFAULT_ATTACHMENT_SIZE_LIMIT, DEFAULT_GMAIL_BASE_URL, GmailConfig};

use crate::auth::Authenticator;
use crate::auth::directory::{DEFAULT_DIRECTORY_BASE_URL, users_page};
use client::GmailClient;
use model::{Thread, ThreadRef};

/// The registry key of the Gmail connector.
pub const SOURCE: &str = "gmail";

/// Gmail. Built from a [`GmailConfig`].
pub struct GmailConnector {
    client: GmailClient,
}

impl GmailConnector {
    /// A connector over `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the config is invalid (every problem by field path);
    /// [`ErrorKind::Internal`] when the HTTP client cannot start.
    pub fn new(config: GmailConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        // Thread bodies are small; attachments are capped by their own limit.
        let cap = config.attachment_size_limit().max(64 * 1024 * 1024);
        let http = crate::http_client(SOURCE, cap.saturating_mul(2))?;
        let auth = Authenticator::new(SOURCE, &config.credentials, config.token_uri.as_ref())?;
        Ok(Self {
            client: GmailClient {
                http,
                auth: Arc::new(auth),
                gmail_base: crate::url_or(config.gmail_base_url.as_ref(), DEFAULT_GMAIL_BASE_URL)?,
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
    pub fn config(&self) -> &GmailConfig {
        &self.client.config
    }

    fn pages(
        &self,
        from: GmailCheckpoint,
        mode: Mode,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GmailCheckpoint>>> {
        let walker = Walker {
            client: self.client.with_context(&ctx),
            mode,
            ctx,
        };
        let mut start = from;
        walker.settle(&mut start);
        if start.stage == GmailStage::Done {
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

#[derive(Clone, Copy)]
enum Mode {
    Load(Option<TimeWindow>),
    Slim,
}

struct Walker {
    client: GmailClient,
    mode: Mode,
    ctx: SyncContext,
}

type Step = Page<(Batch, GmailCheckpoint), GmailCheckpoint>;

enum Item {
    Doc(Box<Document>),
    Fail(Failure),
    Unchanged(String),
}

fn is_fatal(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::RateLimited
            | ErrorKind::Cancelled
            | ErrorKind::Config
    )
}

fn failure(id: String, kind: ErrorKind, message: String) -> Failure {
    Failure::new(Some(id), kind, message)
}

impl Walker {
    fn window(&self) -> Option<TimeWindow> {
        match self.mode {
            Mode::Load(w) => w,
            Mode::Slim => None,
        }
    }

    fn settle(&self, cp: &mut GmailCheckpoint) {
        let c = &self.client.config;
        if cp.stage == GmailStage::Users
            && self.client.auth.is_service_account()
            && !c.specific_user_emails.is_empty()
        {
            cp.users = c.specific_user_emails.as_slice().to_vec();
            cp.stage = GmailStage::Threads;
            cp.user = 0;
            cp.page_token = None;
        }
        if cp.stage == GmailStage::Threads && cp.user >= cp.users.len() {
            cp.stage = GmailStage::Done;
        }
    }

    async fn step(&self, mut cp: GmailCheckpoint) -> Result<Step> {
        let mut batch = Batch::default();
        match cp.stage {
            GmailStage::Users => {
                let threads = |cp: &mut GmailCheckpoint| {
                    cp.stage = GmailStage::Threads;
                    cp.user = 0;
                    cp.page_token = None;
                };
                if !self.client.auth.is_service_account() {
                    cp.users = vec![self.client.profile("me").await?];
                    threads(&mut cp);
                } else {
                    let admin = self
                        .client
                        .config
                        .credentials
                        .google_primary_admin
                        .clone()
                        .unwrap_or_default();
                    let page = users_page(
                        &self.client.auth,
                        &self.client.http,
                        &self.client.directory_base,
                        &admin,
                        cp.page_token.clone(),
                    )
                    .await?;
                    match page {
                        None => {
                            cp.users = vec![admin];
                            threads(&mut cp);
                        }
                        Some(page) => {
                            cp.users.extend(page.items);
                            match page.next.flatten() {
                                Some(t) => cp.page_token = Some(t),
                                None => threads(&mut cp),
                            }
                        }
                    }
                }
            }
            GmailStage::Threads => {
                if let Some(user) = cp.users.get(cp.user).cloned() {
                    let page = self
                        .client
                        .threads(&user, cp.page_token.as_deref(), self.window())
                        .await?;
                    match page.next.flatten() {
                        Some(t) => cp.page_token = Some(t),
                        None => {
                            cp.user += 1;
                            cp.page_token = None;
                        }
                    }
                    batch = self.threads_page(&user, page.items).await?;
                }
            }
            GmailStage::Done => {}
        }
        self.settle(&mut cp);
        let next = (cp.stage != GmailStage::Done).then(|| cp.clone());
        Ok(Page::new((batch, cp), next))
    }

    async fn threads_page(&self, user: &str, threads: Vec<ThreadRef>) -> Result<Batch> {
        let c = &self.client.config;
        let mut batch = Batch::default();
        if matches!(self.mode, Mode::Slim) && !c.include_attachments {
            batch.unchanged = threads
                .iter()
                .map(|t| convert::thread_id(user, &t.id))
                .collect();
            return Ok(batch);
        }
        let known: HashMap<String, String> = match self.mode {
            Mode::Load(_) if !threads.is_empty() => {
                let ids: Vec<String> = threads
                    .iter()
                    .map(|t| convert::thread_id(user, &t.id))
                    .collect();
                self.ctx.fingerprints().fingerprints(&ids).await?
            }
            _ => HashMap::new(),
        };
        let results: Vec<Result<Vec<Item>>> = futures::stream::iter(threads)
            .map(|t| {
                let id = convert::thread_id(user, &t.id);
                let unchanged = matches!(self.mode, Mode::Load(_))
                    && known.get(&id)
                        == Some(&Document::version_fingerprint(&convert::version(
                            &t.id,
                            t.history_id.as_deref(),
                        )));
                async move {
                    if unchanged {
                        return Ok(vec![Item::Unchanged(id)]);
                    }
                    match self.client.thread(user, &t.id).await {
                        Ok(thread) => self.convert_thread(user, thread).await,
                        Err(e) if is_fatal(&e) => Err(e),
                        Err(e) => {
                            let msg = format!("Gmail thread `{id}`: {e}");
                            let mut f = failure(id, e.kind(), msg);
                            f.retryable = e.is_retryable();
                            Ok(vec![Item::Fail(f)])
                        }
                    }
                }
            })
            .buffered(c.thread_concurrency())
            .collect()
            .await;
        for items in results {
            for item in items? {
                match item {
                    Item::Doc(d) => batch.documents.push(*d),
                    Item::Fail(f) => batch.failures.push(f),
                    Item::Unchanged(id) => batch.unchanged.push(id),
                }
            }
        }
        Ok(batch)
    }

    async fn convert_thread(&self, user: &str, thread: Thread) -> Result<Vec<Item>> {
        let c = &self.client.config;
        let id = convert::thread_id(user, &thread.id);
        let mut read = Vec::with_capacity(thread.messages.len());
        for m in &thread.messages {
            match convert::read_message(m) {
                Ok(r) => read.push(r),
                Err(why) => {
                    let msg = format!("Gmail thread `{id}`: message {} is malformed: {why}", m.id);
                    return Ok(vec![Item::Fail(failure(id, ErrorKind::InvalidData, msg))]);
                }
            }
        }
        let updated = read.iter().filter_map(|r| r.date).max();
        if let Some(w) = self.window()
            && !updated.is_some_and(|u| w.contains(u))
        {
            return Ok(Vec::new());
        }
        let slim = matches!(self.mode, Mode::Slim);
        let mut items = Vec::new();
        if slim {
            items.push(Item::Unchanged(id.clone()));
        } else {
            items.push(Item::Doc(Box::new(convert::thread_document(
                user, &thread, &read,
            ))));
        }
        if !c.include_attachments {
            return Ok(items);
        }
        for (m, r) in thread.messages.iter().zip(&read) {
            for part in &r.attachments {
                let Some(body) = &part.body else { continue };
                if body.size > c.attachment_size_limit() {
                    continue;
                }
                let aid = convert::attachment_id(
                    user,
                    &thread.id,
                    &m.id,
                    part.part_id.as_deref().unwrap_or("0"),
                );
                if slim {
                    items.push(Item::Unchanged(aid));
                    continue;
                }
                let data = match (&body.data, &body.attachment_id) {
                    (Some(d), _) => Ok(d.clone()),
                    (None, Some(att)) => self.client.attachment(user, &m.id, att).await,
                    (None, None) => continue,
                };
                let bytes = data.and_then(|d| {
                    convert::decode_b64(&d).map_err(|why| Error::new(ErrorKind::InvalidData, why))
                });
                match bytes {
                    Ok(bytes) => items.push(Item::Doc(Box::new(convert::attachment_document(
                        user, &thread, m, part, bytes, r.date,
                    )))),
                    Err(e) if is_fatal(&e) => return Err(e),
                    Err(e) => {
                        let msg = format!("Gmail attachment `{aid}`: {e}");
                        items.push(Item::Fail(failure(aid, e.kind(), msg)));
                    }
                }
            }
        }
        Ok(items)
    }
}

impl fmt::Debug for GmailConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailConnector")
            .field("config", &self.client.config)
            .field("auth", &self.client.auth)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GmailConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.client.config.credentials.google_primary_admin {
            Some(admin) => write!(f, "gmail:{admin}"),
            None => f.write_str("gmail:me"),
        }
    }
}

#[async_trait]
impl Connector for GmailConnector {
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

    /// Lists the first users (a bad key, a missing delegation and a disabled Admin SDK fail
    /// here, told apart), then reads the first mailbox's profile (a disabled Gmail API or a
    /// missing Gmail scope fails here).
    async fn check(&self) -> Result<()> {
        let walker = Walker {
            client: self.client.clone(),
            mode: Mode::Slim,
            ctx: SyncContext::new(),
        };
        let mut cp = GmailCheckpoint::default();
        walker.settle(&mut cp);
        if cp.stage == GmailStage::Users {
            let step = walker.step(cp).await?;
            cp = step.items.1;
        }
        let user = cp.users.first().cloned().unwrap_or_else(|| "me".to_owned());
        self.client.profile(&user).await?;
        Ok(())
    }

    /// Only an OAuth user token rotates; a service-account key never does.
    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.client.auth.set_store(store);
        !self.client.auth.is_service_account()
    }
}

impl CheckpointedConnector for GmailConnector {
    type Checkpoint = GmailCheckpoint;

    fn initial_checkpoint(&self) -> GmailCheckpoint {
        GmailCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: GmailCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GmailCheckpoint>>> {
        self.pages(from, Mode::Load(window), ctx)
    }
}

impl SlimConnector for GmailConnector {
    /// Every thread of every mailbox, and with `include_attachments` every attachment within
    /// the limit (which needs each thread's MIME tree).
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.pages(GmailCheckpoint::default(), Mode::Slim, ctx)
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
