//! The Notion connector (source `"notion"`): every page shared with an integration, or those
//! below one root page, one Markdown document each, and the files of their file blocks as
//! documents of their own, over Notion's REST API (`Notion-Version: 2025-09-03`: a database
//! holds data sources, whose rows are its pages).
//!
//! - **Listing**: `POST /v1/search` for pages (database rows are pages too), 100 a page, by
//!   `last_edited_time`, cursor paging; the checkpoint ([`NotionCheckpoint`]) is Notion's own
//!   `next_cursor`. A full run reads oldest edit first, so a page edited meanwhile moves
//!   behind the cursor (and comes again) instead of shifting another page past it, and asks
//!   for the next search page while this one's pages are read. Answers are read straight
//!   into typed results (each list result on its own, so a malformed one fails alone).
//! - **The walk**: Notion's search is neither exhaustive nor immediate ("Search indexing is
//!   not immediate"; pages may be missing from it), so each page read also notes the pages
//!   below it (its `child_page` blocks at any depth, its inline databases' rows). Once the
//!   search is over, those it did not list are read by id (`GET /v1/pages/{id}`), and their
//!   own child pages after them; the stack of pages still to read is in the checkpoint. The
//!   walk starts from what the search listed rather than from the root alone, so that a page
//!   the store already holds costs a search result, not a block tree: a new child page is
//!   found because adding it is an edit of its parent, which is then read.
//! - **Scope**: with `root_page_id`, a page is read when the root is among its ancestors:
//!   its `parent` (a page, a database, a data source or a block such as a column) followed
//!   up with `GET /v1/pages|databases|data_sources|blocks/{id}`, each parent asked once per
//!   run. RAGFlow walked down from the root only, and its incremental run stopped at every
//!   unchanged page, so a changed page below an unchanged one was never reached.
//! - **Incremental runs** (poll): the same search newest edit first; the window's start is
//!   widened to the minute, since Notion rounds `last_edited_time` down to it, and the run
//!   starts [`MIN_OVERLAP`] (10 minutes) before the last one ended, since Notion's search
//!   index lags its writes. With a state store (a lookup that remembers), the search is read
//!   to its end and the pages edited before the window go to the lookup by their version:
//!   a page newly shared with the integration keeps its old `last_edited_time`, and is
//!   found because the store does not know it; the pages it knows cost a search result
//!   each (100 a request). Without one, the search ends at the first page older than the
//!   window. A page whose only change is in a nested block is found because Notion moves
//!   the page's `last_edited_time` on any change to a block in it, at any depth, and its
//!   block tree is read again whole. A changed page below the root is found whatever its
//!   parents did (scope is by ancestry, not by walking down).
//! - **Content**: `GET /v1/blocks/{id}/children` for the page, then, level by level, for every
//!   block with `has_children` (up to 4 lists at a time, each followed by its cursor); child
//!   pages and databases are documents of their own and appear as links. Rendered with core's
//!   Markdown writer: headings, bulleted, numbered and to-do lists, toggles (as list items
//!   with their content nested), code with its language, quotes, callouts (as quotes with
//!   their emoji), tables, equations (```` ```math ````, inline as code), links, mentions
//!   (pages and databases as links, users and dates as text), dividers, bookmarks and embeds.
//!   An inline database (`child_database`) is a link: its rows are documents of their own,
//!   and a table of them in the page would go stale, since adding or editing a row does not
//!   move the page's `last_edited_time`. Its rows are still read (`GET /v1/databases/{id}`,
//!   then `POST /v1/data_sources/{id}/query` for each of its data sources), for the walk.
//!   Front matter holds `title`, `url`, `created_time`, `last_edited_time` and, for a
//!   database row, every property.
//! - **Known limits**: a page showing a synced block whose original (in another page) is
//!   edited keeps its `last_edited_time`, so its document shows the old text until the page
//!   itself is edited or a full run reads it; the same holds for a child page's or a mentioned
//!   page's title shown in it.
//! - **Files**: file, image, PDF, video and audio blocks become documents of their own (id:
//!   the block id, as RAGFlow's), downloaded from their URL when their page is read, because
//!   Notion's file URLs expire after an hour; a file over `max_file_size` is a failure
//!   (checked against the body as it arrives: Notion lists no size).
//! - **Ids** are RAGFlow's: the page id (dashed, as Notion sends it), the block id for a
//!   file. The title is the page title, the link the page's `url`, `updated_at` its
//!   `last_edited_time`; `parent_id` its parent page, database or block; metadata holds
//!   `object`, `parent_type`, `created_time`, `created_by`, `last_edited_by`, and for rows
//!   `database_id`, `data_source_id` and `properties`. `owners` is the creator as Notion
//!   names it (an id unless the integration may read users).
//! - **Permissions**: Notion's API shows no page permissions (who may read a page shared
//!   with an integration is not exposed), so `access` is unset: the host decides who sees
//!   the workspace's documents.
//! - **Fingerprint**: `last_edited_time` and the id, listed by the search, so an unchanged page
//!   costs no block request. A page edited less than two minutes before the run is read and
//!   fingerprinted by its content instead, since a second edit within the same minute would
//!   keep the time.
//! - **Limits**: requests are kept to `requests_per_second` (Notion's average of 3 by default);
//!   a `429` (`rate_limited`) is waited out for its `Retry-After` by core's client; a `401`
//!   names `credentials.notion_integration_token`.
//! - **Deletions**: a page the search or the walk shows in the trash (`in_trash`, or
//!   `archived` in older answers: a search result, a `child_page` block, a data source
//!   row), a page the walk asks for by id that is gone (404), and a page now outside the
//!   root are the page's deleted ids ([`Batch::deleted`](connector_core::Batch::deleted)),
//!   deleted in that run (narrowed to the pages the host holds, when its lookup remembers).
//!   A trashed page's file block documents, and pages deleted for good that the search and
//!   the walk no longer show, are left to prune ([`SlimConnector`]), which lists every page id the
//!   search shows in scope and, with `include_files`, the file block ids in them (a block
//!   tree read per page, and the walk to the pages the search missed). Since the search may
//!   miss a page that is still there, each id prune would delete is asked for first
//!   ([`SlimConnector::confirm_gone`]): only a 404, the trash or a move out of the root
//!   deletes it.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;
mod slim;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, ErrorKind, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::NotionCheckpoint;
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_MAX_FILE_SIZE, DEFAULT_REQUESTS_PER_SECOND, NotionConfig,
    NotionCredentials,
};

use client::Client;
use config::compact_id;
use pages::Walk;

/// The registry key of the Notion connector.
pub const SOURCE: &str = "notion";

/// How long before the last window's end an incremental run starts
/// ([`Connector::min_overlap`]): an allowance for the lag of Notion's search index.
pub const MIN_OVERLAP: Duration = Duration::from_secs(600);

/// Reads a Notion workspace. Built from a [`NotionConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::notion::{NotionConfig, NotionConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = NotionConnector::new(NotionConfig::new("ntn_123456789012345678901234567890"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NotionConnector {
    config: NotionConfig,
    walk: Walk,
}

impl NotionConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the config by field path; `Internal`
    /// when the HTTP client cannot start.
    pub fn new(config: NotionConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_second, Duration::from_secs(1))
            .build()?;
        let api = match &config.api_base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default API URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let client = Client::new(
            http,
            config.credentials.notion_integration_token.clone(),
            api,
        );
        let walk = Walk {
            client,
            root: config.root_page_id.as_deref().and_then(compact_id),
            max: config.max_file_size.get(),
            files: config.include_files,
            parents: Arc::new(Mutex::new(HashMap::new())),
            pages: Arc::default(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &NotionConfig {
        &self.config
    }
}

impl fmt::Display for NotionConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.config.root_page_id {
            Some(root) => write!(f, "{SOURCE}:page/{root}"),
            None => write!(f, "{SOURCE}:workspace"),
        }
    }
}

#[async_trait]
impl Connector for NotionConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// [`MIN_OVERLAP`]: Notion's search index lags its writes ("Search indexing is not
    /// immediate"), so a page edited shortly before the last window's end may have been
    /// missing from the search, or still sorted by its old time, when that window was read.
    /// The poll's early stop is at this widened start, so it reads that page the next time.
    /// What the overlap lists again costs a search result: its version is unchanged.
    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Reads the root page (or database), else asks the search for one page: the token is
    /// accepted, the root exists and is shared with the integration.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.notion_integration_token`, `PermissionDenied`
    /// when the integration may not read content, `NotFound` naming `root_page_id` when the
    /// root is missing or not shared with the integration, `Unavailable` when Notion cannot
    /// be reached.
    async fn check(&self) -> Result<()> {
        let client = &self.walk.client;
        let Some(root) = &self.config.root_page_id else {
            return client.search(None, false, 1).await.map(|_| ());
        };
        let page = match client.page(root).await {
            Ok(page) => page.is_some(),
            // Notion answers a database id at `/v1/pages` with 400 `validation_error`.
            Err(e) if e.kind() == ErrorKind::InvalidData => false,
            Err(e) => return Err(e),
        };
        if page || client.database(root).await?.is_some() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "the root page {root} does not exist or is not shared with the integration: open the page in Notion, then ••• > Connections > add the integration"
            ),
        )
        .with_connector(SOURCE)
        .with_field("root_page_id"))
    }
}

impl CheckpointedConnector for NotionConnector {
    type Checkpoint = NotionCheckpoint;

    fn initial_checkpoint(&self) -> NotionCheckpoint {
        NotionCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: NotionCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<NotionCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for NotionConnector {
    /// Every page id in scope and, with `include_files`, the ids of the file blocks in them;
    /// fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }

    /// Notion's search is not exhaustive and lags its writes, so an id the listing missed is
    /// asked for by id (`GET /v1/pages/{id}`, or `/v1/blocks/{id}` for a file block) and
    /// reported gone only when Notion answers 404, or shows it in the trash or outside the
    /// root.
    fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        let walk = self.walk.with_context(&ctx);
        Box::pin(async move { walk.confirm_gone(ids).await })
    }
}

impl connector_core::RefetchConnector for NotionConnector {
    /// These pages (by `GET /v1/pages/{id}`) and file blocks (by `GET /v1/blocks/{id}`, a
    /// fresh URL) again; one that is gone, in the trash or outside the root yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
