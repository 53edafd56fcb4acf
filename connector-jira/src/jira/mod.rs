//! The Jira connector (source `"jira"`): issues of Jira Cloud and Server/Data Center as
//! Markdown documents, and optionally their attachments as documents of their own.
//!
//! - **Search**: Cloud `POST /rest/api/3/search/jql` paged by `nextPageToken`; Server/Data
//!   Center `GET /rest/api/2/search` paged by `startAt`, walked by core's
//!   [`OffsetWalk`](connector_core::pages::OffsetWalk): each page is asked a few issues before
//!   where the last one ended and starts after the last page's last issue found in it, so an
//!   issue leaving the result set mid-walk (deleted, moved, secured) makes the walk step back
//!   instead of skipping the next one (which prune would then delete); issues may come twice,
//!   never not at all. Pages of up to 100 issues, whatever
//!   the host's batch size, with the fields the documents show and nothing else.
//! - **JQL**: `jql_query` (or else `project_key`, as RAGFlow builds it) and `labels_to_skip`
//!   combined, ordered by key. A window's start is written as epoch milliseconds
//!   (`updated >= 1768471140000`), which Jira reads as an instant: quoted JQL dates
//!   (`"2026-01-15 10:00"`) are read in the searching user's zone, which only `/myself` tells
//!   and a token scoped to `read:jira-work` may not ask; a number needs no zone, no request and
//!   no `timezone_offset` (ignored, as a RAGFlow config may carry it). The start is moved back
//!   to the minute before it and issues are filtered exactly on `fields.updated` within the
//!   half-open window. The end is left open in the query (see [`JiraCheckpoint`] for why) and
//!   applied by the filter.
//! - **Errors**: a search page that fails ends the sync: a query Jira rejects (400 with
//!   `errorMessages`) with an error that passes Jira's messages on, never as an empty result;
//!   401/403 at once, naming the credential field. On one item (an issue's further comments,
//!   an attachment's download, an issue refetched by id) core's one policy applies
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync)): rejected credentials
//!   end the sync, anything else (403, 404, 429 after retries, a malformed issue) becomes a
//!   [`Failure`](connector_core::Failure) naming the item and the sync goes on.
//! - **Ids** ([`IdScheme`]): by default Jira's numeric ids (`jira:{site}/issue/{id}`), so an
//!   issue moved to another project (a new key) is an update of the same document; with
//!   `id_scheme: ragflow_url` (or a host's `Registry::set_ragflow_ids`), RAGFlow's
//!   (`{base_url}/browse/{KEY}`, `{KEY}::attachment::{id}`), so a host migrating from RAGFlow
//!   keeps its documents. Links are browse URLs under either.
//! - **Documents**: title `KEY: summary`, `updated_at` =
//!   `fields.updated`, Markdown with a front matter of key, url, summary, status, priority,
//!   issue type, project, reporter, assignee, labels, components, fix versions, created and
//!   updated (the same fields are the metadata), the description (ADF or wiki markup as
//!   Markdown), the comments (all of them, paged past the embedded ones, minus
//!   `comment_email_blacklist`), linked issues and the attachment list. Owners are the
//!   reporter and the assignee. ADF media nodes are named by their attachment's file name
//!   (its `mediaApiFileId`; read from the attachment's metadata, one request per attachment,
//!   only for an issue whose media the search did not name: `media.rs`).
//! - **Attachments** (`include_attachments`): `parent_id` = the issue's id, bytes for the host's parser; larger than `attachment_size_limit` is not
//!   downloaded (the size is known before). Their ids are part of `list_ids`, so prune keeps
//!   them.
//! - **Restricted comments and `access`**: a comment restricted to a group or role is never
//!   written into its issue's document; without `include_permissions` it is left out (with
//!   the attachments only it shows) and `access` is unknown; with it, documents carry
//!   `access` from the project's permission scheme, roles and security level, and restricted
//!   comments are documents of their own (see the README and `access.rs`, `restricted.rs`).
//!   Without it, issues under a security level are left out (counted in a log line) unless
//!   `include_secured_issues` is set.
//! - **Search-index lag**: Jira's search has no read-after-write (Cloud's index lags by
//!   seconds to minutes), so an incremental run starts `time_buffer_seconds` (RAGFlow's
//!   field) before the previous window's end, by default 600 s on Cloud and 60 s on
//!   Server/Data Center ([`Connector::min_overlap`]); issues listed again are skipped by
//!   version.
//! - **Fingerprints**: from `fields.updated` (and the attachment id and size); with
//!   `include_permissions` also a hash of the document's access, under `id_scheme: issue_id`
//!   the issue's project, so that `SyncMode::Reconcile` delivers what changed without a new
//!   `updated` (permissions, moves). In incremental and reconciliation runs an unchanged
//!   issue is reported unchanged without fetching its further comments.
//!
//! The page walk (search pages, each page's issues and attachments through core's
//! [`fetch_items`](connector_core::pages::fetch_items), the slim listing, the refetch) is in
//! `pages.rs`; this module wires it to the connector's roles.
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight, and the connector commits nothing itself.

mod access;
mod adf;
mod checkpoint;
mod client;
mod config;
mod convert;
mod ids;
mod media;
mod model;
mod pages;
mod restricted;
mod wiki;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::JiraCheckpoint;
pub use config::{
    CLOUD_INDEX_LAG_SECS, DEFAULT_API_GATEWAY, DEFAULT_ATTACHMENT_SIZE_LIMIT, JiraConfig,
    JiraCredentials, MAX_PAGE_SIZE, SERVER_INDEX_LAG_SECS,
};
/// The type of the config's list fields (an array or a comma-separated string), re-exported so
/// `connector_jira::jira::StringList` keeps naming it.
pub use connector_core::StringList;
pub use ids::IdScheme;

use checkpoint::Cursor;
use client::JiraClient;
use convert::Options;
use ids::DocIds;

/// The registry key of the Jira connector.
pub const SOURCE: &str = "jira";

/// Jira Cloud or Server/Data Center. Built from a [`JiraConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_jira::{JiraConfig, JiraConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let url = url::Url::parse("https://example.atlassian.net").expect("a URL");
/// let config = JiraConfig::new(url)
///     .with_project("ENG")
///     .with_token(Some("me@example.com"), "api-token");
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(JiraConnector::new(config)?)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
pub struct JiraConnector {
    client: JiraClient,
    options: Arc<Options>,
}

impl JiraConnector {
    /// A connector over `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) when the config is invalid (see
    /// [`ConnectorConfig::validate`](connector_core::ConnectorConfig::validate));
    /// [`ErrorKind::Internal`](connector_core::ErrorKind::Internal) when the HTTP client cannot start.
    pub fn new(config: JiraConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        if config.scoped_token && config.cloud_declared() == Some(false) {
            // RAGFlow's form keeps the box ticked when switched to Server; RAGFlow warns too.
            tracing::warn!(
                site = %config.site(),
                "`scoped_token` is ignored: scoped tokens go through the Atlassian gateway, which serves Jira Cloud only"
            );
        }
        warn_of_moves(&config);
        let options = Options {
            ids: DocIds::new(config.id_scheme(), config.site()),
            include_comments: config.include_comments,
            blacklist: config
                .comment_email_blacklist
                .as_slice()
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
            attachment_limit: config.attachment_size_limit(),
            include_attachments: config.include_attachments,
            include_permissions: config.include_permissions,
            skip_secured: !config.include_permissions && !config.include_secured_issues,
        };
        Ok(Self {
            client: JiraClient::new(Arc::new(config))?,
            options: Arc::new(options),
        })
    }

    /// The config.
    pub fn config(&self) -> &JiraConfig {
        self.client.config()
    }
}

impl fmt::Debug for JiraConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraConnector")
            .field("config", self.client.config())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for JiraConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "jira:{}", self.options.ids.site())?;
        if let Some(key) = self.client.config().project_in_scope() {
            write!(f, " project {key}")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for JiraConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// The search index's lag: `time_buffer_seconds`, else 600 s on Cloud and 60 s on
    /// Server/Data Center; 600 s while a site that the config does not declare has not said
    /// which it is (the longer is the safe one).
    fn min_overlap(&self) -> Duration {
        let secs = self.config().time_buffer_seconds.unwrap_or_else(|| {
            if self.client.cloud_known().unwrap_or(true) {
                CLOUD_INDEX_LAG_SECS
            } else {
                SERVER_INDEX_LAG_SECS
            }
        });
        Duration::from_secs(secs)
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Checks, in order: the credentials (`/myself`), the project (`/project/{key}`, when the
    /// project bounds the search and is given by key or id; a name is checked by the search),
    /// and the query (a one-issue search). Each failure says which, with Jira's own messages.
    ///
    /// The query is the one an incremental run sends (with its `updated >=` clause, a day
    /// back), so a site that rejects the epoch-millisecond clause says so here rather than
    /// at the first incremental run.
    async fn check(&self) -> Result<()> {
        warn_of_moves(self.client.config());
        self.client.myself().await?;
        if let Some(key) = self.client.config().project_in_scope()
            && key.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            self.client.project(key).await?;
        }
        let now = chrono::Utc::now();
        let window = TimeWindow::new(now - chrono::TimeDelta::days(1), now)?;
        let jql = self.client.jql(Some(window));
        self.client.search(&jql, Cursor::Start, &["id"], 1).await?;
        Ok(())
    }
}

/// Warns of `include_permissions` with `ragflow_url` ids: an issue moved to another project
/// gets a new key, hence a new document, and the old document keeps the old project's
/// `access` until a prune retires it (with `issue_id` a move updates the same document).
fn warn_of_moves(config: &JiraConfig) {
    if config.include_permissions && config.id_scheme() == IdScheme::RagflowUrl {
        tracing::warn!(
            site = %config.site(),
            "`include_permissions` with `id_scheme: ragflow_url`: an issue moved to another project becomes a new document, and the old one keeps the old project's access until a prune; set `id_scheme: issue_id` so that a move updates the same document"
        );
    }
}

impl CheckpointedConnector for JiraConnector {
    type Checkpoint = JiraCheckpoint;

    fn initial_checkpoint(&self) -> JiraCheckpoint {
        JiraCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: JiraCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<JiraCheckpoint>>> {
        let client = self.client.with_context(&ctx);
        pages::load(client, Arc::clone(&self.options), from, window, ctx)
    }
}

impl SlimConnector for JiraConnector {
    /// Every issue the query finds (labels to skip left out) and, with `include_attachments`,
    /// every attachment within the size limit: the ids a full load yields.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = self.client.with_context(&ctx);
        pages::list_ids(client, Arc::clone(&self.options), ctx)
    }
}

impl RefetchConnector for JiraConnector {
    /// Fetches each issue named by an id of either [`IdScheme`] with `/issue/{idOrKey}`; an
    /// issue that no longer exists yields nothing, one that cannot be read fails the ids that
    /// named it (unless the error ends the sync). An id of the other scheme (a host that
    /// switched) yields nothing under it, so prune retires it.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let client = self.client.with_context(&ctx);
        pages::refetch(client, Arc::clone(&self.options), ids, ctx)
    }
}
