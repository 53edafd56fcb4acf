//! The Gmail connector (source `"gmail"`).
//!
//! - **Mailboxes**: a service account impersonates every active user of the primary admin's
//!   domain in the Admin SDK directory (as `credentials.google_primary_admin`, as RAGFlow
//!   does), or `specific_user_emails`; a 404 from the directory means a personal account, whose
//!   one mailbox is the admin's. An OAuth token reads its own mailbox (`me`, its address from
//!   `users.getProfile`).
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
//! - **Errors**: a listing page that fails ends the sync, a 401 (or a refused token) naming
//!   `credentials.google_tokens`; 403 rate-limit reasons retry. A thread or attachment is
//!   sorted by core's one policy
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync)): a malformed message (no
//!   body, bad base64) or a thread that cannot be fetched (denied, still rate limited after
//!   the retries, gone) is a [`Failure`](connector_core::Failure) naming it, and the sync goes
//!   on.
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    CheckpointedBatch, CheckpointedConnector, Connector, CredentialStore, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{GmailCheckpoint, GmailStage};
pub use config::{DEFAULT_ATTACHMENT_SIZE_LIMIT, DEFAULT_GMAIL_BASE_URL, GmailConfig};

use crate::walk::{self, Mode};
use client::GmailClient;
use pages::Walker;

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
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) when the config is invalid
    /// (every problem by field path); [`ErrorKind::Internal`](connector_core::ErrorKind::Internal)
    /// when the HTTP client cannot start.
    pub fn new(config: GmailConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        Ok(Self {
            client: GmailClient::new(config)?,
        })
    }

    /// Hands a refresh token that Google rotates to `store` before it is used (DESIGN §7).
    #[must_use]
    pub fn with_credential_store(self, store: Arc<dyn CredentialStore>) -> Self {
        self.client.api.set_credential_store(store);
        self
    }

    /// The config.
    pub fn config(&self) -> &GmailConfig {
        &self.client.config
    }
}

impl fmt::Debug for GmailConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailConnector")
            .field("config", &self.client.config)
            .field("api", &self.client.api)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GmailConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.client.config.credentials.identity())
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
        Walker::new(&self.client, Mode::Slim, SyncContext::new())
            .check()
            .await
    }

    /// Only an OAuth user token rotates; a service-account key never does.
    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.client.api.set_credential_store(store)
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
        walk::pages(Walker::new(&self.client, Mode::Load(window), ctx), from)
    }
}

impl SlimConnector for GmailConnector {
    /// Every thread of every mailbox, and with `include_attachments` every attachment within
    /// the limit (which needs each thread's MIME tree). A malformed thread is listed (prune
    /// keeps what it was); one that cannot be fetched makes the listing fail rather than come
    /// back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        walk::ids(Walker::new(&self.client, Mode::Slim, ctx))
    }
}
