//! The Confluence connector (source `"confluence"`): pages and blog posts of Confluence Cloud
//! and Server/Data Center as Markdown documents, their comments inlined, attachments as
//! documents of their own.
//!
//! - **Selection**: one CQL search (`/rest/api/content/search`) for the index mode: every
//!   space, one space, or one page and (with `index_recursively`) its descendants; or the
//!   configured `cql_query` in their place. Pages (blog posts too with `include_blog_posts`,
//!   or when `cql_query` matches them), `label not in (...)` for `labels_to_skip`, archived
//!   spaces on request (Server/Data Center only); the attachments of each page unless
//!   `include_attachments` is false.
//! - **Requests**: one search request per 50 or more results (never RAGFlow's batch size of
//!   2); a result page that keeps failing with a 5xx or a timeout is asked for again with
//!   half the `limit`. Scoped API tokens and OAuth access tokens go through the Atlassian
//!   gateway (`/ex/confluence/{cloudId}`); a scoped token's cloud id is read once from the
//!   site's `/_edge/tenant_info` unless `cloud_id` is configured. Each result embeds its
//!   body, version, space, labels, ancestors, history and attachments through `expand`
//!   (attachments past the embedded ones are asked for separately). The comments of a
//!   result page come from one CQL search (`type = comment`, the pages as containers),
//!   replies and inline comments included. User mentions and `include` macros are looked up
//!   once per run. Attachments are downloaded a few at a time.
//! - **Ids** ([`IdScheme`]): by default Confluence's content ids
//!   (`confluence:{site}/page/{id}`), so a page renamed or moved to another space is an
//!   update of the same document; with `id_scheme: ragflow_url` (or a host's
//!   `Registry::set_ragflow_ids`), the absolute web URL of the page, blog post or attachment
//!   (`{wiki_base}{_links.webui}`, as in RAGFlow), so a host migrating from RAGFlow keeps its
//!   documents. Links are web URLs under either. The title is the page
//!   title, `updated_at` is `version.when`; metadata holds `space`, `space_name`, `labels`,
//!   `ancestors`, `author`, `version`, `type` and `content_id`; owners are the creator and
//!   the last editor. Attachments carry `parent_id` = the page's id.
//! - **Permissions** (`include_permissions`): `access` from the page's and its ancestors'
//!   read restrictions (all of them must be satisfied), else the space's view permission;
//!   see the crate's README for what it means and costs.
//! - **Incremental polls**: CQL's `lastmodified` has minute precision and is read in the API
//!   user's time zone (`timezone_offset`, else `/rest/api/user/current`) or, on Cloud, in the
//!   site's (`/rest/api/settings/systemInfo`; the sources disagree), so the query starts a
//!   minute early in the more western of them (14 hours early when one is unknown; see
//!   `zone.rs`), has no upper bound (so that offset paging never skips a page edited
//!   meanwhile), and results are filtered exactly on `version.when` within the half-open
//!   window. A second pass searches the comments and
//!   attachments changed in the window and delivers their pages again.
//! - **Fingerprints** come from the page version and the ids and versions of its comments, its
//!   space, ancestors and labels (which change without a new version), and who may read it
//!   with `include_permissions` (an attachment's from its version and size, its page's title
//!   and place, and its page's access): unchanged pages are not rendered and unchanged
//!   attachments are not downloaded; both are reported as unchanged. A full load asks the
//!   fingerprint lookup as a poll does, so core's `SyncMode::Reconcile` delivers exactly the
//!   pages moved, relabelled or whose access changed.
//! - **Failures** follow core's one policy ([`ErrorKind::ends_sync`]): a result that cannot be
//!   read, comments, permissions, a user or an included page that cannot be looked up, an
//!   attachment that cannot be downloaded each become a [`Failure`] naming the item; the sync
//!   goes on. A page whose storage format is not well-formed (or nests too deep) is read
//!   anyway, leniently (as a browser reads broken HTML: structure and macros kept) or else as
//!   its text with the tags stripped, with a warning and the metadata `storage_fallback: true`
//!   (`storage_fallback_mode`: `lenient` or `text`); it is a failure only when nothing is left
//!   (`storage/fallback.rs`). Wrong credentials (401) stop the sync at
//!   once, as does any error on the search itself (a 403: no permission on the space).
//!   Attachments over `attachment_size_limit`, with an extension that is not accepted, or
//!   images without `include_images` are skipped before download and are not listed by
//!   `list_ids` either.
//! - **Layout**: `pages.rs` walks the search and turns each result page into a batch through
//!   [`connector_core::pages`] (`pages/search.rs`: the CQL and the requests of the search;
//!   `pages/touched.rs`: the second pass of an incremental run);
//!   `comments.rs` lists and orders comments; `access.rs` reads permissions; `ids.rs` names
//!   documents; `client.rs` makes the requests (and the probes of `check`), its listings
//!   page by page through `client/paging.rs` (Cloud's cursors, offset walks elsewhere);
//!   `zone.rs` writes an incremental search's start; `convert.rs`
//!   renders documents, their text through `storage/` (storage format to Markdown: `parse.rs`,
//!   `render.rs`, `macros.rs`); this module wires them to the connector traits.
//!
//! # Cancel safety
//! Streams own their state (a cloned client, the run's lookup caches). Dropping one at any
//! `.await` loses nothing: checkpoints are committed by the batch loop only after the sink
//! acknowledged a page.
//!
//! [`ErrorKind::ends_sync`]: connector_core::ErrorKind::ends_sync
//! [`Failure`]: connector_core::Failure

mod access;
mod checkpoint;
mod client;
mod comments;
mod config;
mod convert;
mod ids;
mod model;
mod pages;
mod storage;
mod zone;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::ConfluenceCheckpoint;
pub use config::{
    ConfluenceConfig, ConfluenceCredentials, DEFAULT_API_GATEWAY, DEFAULT_ATTACHMENT_SIZE_LIMIT,
    DEFAULT_CLOUD_OVERLAP_SECS, DEFAULT_SERVER_OVERLAP_SECS, IndexMode, MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
};
pub use convert::{ACCEPTED_EXTENSIONS, IMAGE_EXTENSIONS};
pub use ids::IdScheme;

use client::Client;
use pages::Settings;

/// The registry key of the Confluence connector.
pub const SOURCE: &str = "confluence";

/// Reads Confluence. Built from a [`ConfluenceConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_confluence::confluence::{ConfluenceConfig, ConfluenceConnector, ConfluenceCredentials};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let base = "https://example.atlassian.net/wiki".parse().expect("a URL");
/// let credentials = ConfluenceCredentials::basic("me@example.com", "api-token");
/// let connector = ConfluenceConnector::new(ConfluenceConfig::new(base, credentials))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConfluenceConnector {
    config: ConfluenceConfig,
    client: Client,
    settings: Arc<Settings>,
}

impl ConfluenceConnector {
    /// A connector for the site in `config`. Nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the config by field path.
    ///
    /// [`ErrorKind::Config`]: connector_core::ErrorKind::Config
    pub fn new(config: ConfluenceConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        warn_of_renames(&config);
        Ok(Self {
            client: Client::new(&config)?,
            settings: Arc::new(Settings::new(&config)),
            config,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ConfluenceConfig {
        &self.config
    }
}

/// Warns of `include_permissions` with `ragflow_url` ids: a page renamed or moved to another
/// space gets a new web URL, hence a new document, and the old document keeps its old
/// `access` (the old space's readers) until a prune retires it; with `content_id` the rename
/// updates the same document.
fn warn_of_renames(config: &ConfluenceConfig) {
    if config.include_permissions && config.id_scheme() == IdScheme::RagflowUrl {
        tracing::warn!(
            site = %config.web_base(),
            "`include_permissions` with `id_scheme: ragflow_url`: a page renamed or moved to another space becomes a new document, and the old one keeps its old access until a prune; set `id_scheme: content_id` so that a rename updates the same document"
        );
    }
}

impl fmt::Display for ConfluenceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.client.web_base())?;
        if self.config.cql_query().is_some() {
            return write!(f, " cql_query");
        }
        match self.config.mode() {
            IndexMode::Everything => Ok(()),
            IndexMode::Space => write!(f, " space {}", self.config.space().unwrap_or("")),
            IndexMode::Page => write!(f, " page {}", self.config.page_id().unwrap_or("")),
        }
    }
}

#[async_trait]
impl Connector for ConfluenceConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// The search index's lag: `time_buffer_seconds`, else 600 s on Cloud and 60 s on
    /// Server/Data Center ([`ConfluenceConfig::overlap`]).
    fn min_overlap(&self) -> std::time::Duration {
        self.config.overlap()
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Checks that `wiki_base` is a Confluence site (for a scoped token: that its cloud id can
    /// be read), that the credentials are accepted, and that the configured space or page can
    /// be read, or that Confluence accepts `cql_query`.
    ///
    /// # Errors
    /// [`NotFound`] or [`Unavailable`] naming `wiki_base` when the site is not a Confluence
    /// REST API or cannot be reached; [`Unauthenticated`] naming
    /// `credentials.confluence_access_token`; [`PermissionDenied`] or [`NotFound`] naming
    /// `space` or `page_id`; [`Config`] naming `cql_query` when Confluence refuses it.
    ///
    /// [`NotFound`]: connector_core::ErrorKind::NotFound
    /// [`Unavailable`]: connector_core::ErrorKind::Unavailable
    /// [`Unauthenticated`]: connector_core::ErrorKind::Unauthenticated
    /// [`PermissionDenied`]: connector_core::ErrorKind::PermissionDenied
    /// [`Config`]: connector_core::ErrorKind::Config
    async fn check(&self) -> Result<()> {
        warn_of_renames(&self.config);
        self.client.check(&self.config).await?;
        if self.config.cql_query().is_some() {
            self.client.check_query(&self.settings.probe()).await?;
        }
        Ok(())
    }
}

impl CheckpointedConnector for ConfluenceConnector {
    type Checkpoint = ConfluenceCheckpoint;

    fn initial_checkpoint(&self) -> ConfluenceCheckpoint {
        ConfluenceCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: ConfluenceCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ConfluenceCheckpoint>>> {
        let client = self.client.with_context(&ctx);
        pages::load(client, Arc::clone(&self.settings), from, window, ctx)
    }
}

impl SlimConnector for ConfluenceConnector {
    /// Every page, blog post and taken attachment id; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = self.client.with_context(&ctx);
        pages::list_ids(client, Arc::clone(&self.settings), ctx)
    }
}

impl RefetchConnector for ConfluenceConnector {
    /// Fetches the pages the ids name (a page's id, or its attachment's) through the
    /// selection by content id, and yields the documents and failures of these ids; an id
    /// that names no page of the selection yields nothing (left to prune).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let client = self.client.with_context(&ctx);
        pages::refetch(client, Arc::clone(&self.settings), ids, ctx)
    }
}
