//! The GitLab connector (source `"gitlab"`): the merge requests, issues and code files of a
//! project, of several, or of every project of a group, on GitLab.com or a self-managed
//! instance, over the REST API v4 with a `PRIVATE-TOKEN`.
//!
//! - **Scope**: `project_owner` / `project_name` as RAGFlow names them (`gitlab_url` for a
//!   self-managed instance). Several names separated by commas are partitions, each synced as
//!   its own job ([`Connector::partitions`]); no `project_name` reads every project of the
//!   group `project_owner` and its subgroups (`GET /groups/{path}/projects?include_subgroups=true`,
//!   or a user's projects), and [`Connector::partition`] builds a connector for any one
//!   project path under it, so a host that lists the group itself can split the jobs.
//! - **Merge requests and issues**: listed with `order_by=updated_at&sort=asc&state=all` and
//!   paged by value, not by offset: the next page is asked with `updated_after` set to the
//!   last `updated_at` handed on ([`UpdatedCursor`], the checkpoint), so an item edited during
//!   the sync moves to the end instead of shifting the rest under a page number. GitLab offers
//!   keyset paging for the tree and for project lists, not for these lists. Polls ask
//!   `updated_after` / `updated_before` for the window and keep exactly `[start, end)`. RAGFlow
//!   listed merge requests newest first and returned at the first old one, which skipped the
//!   issues of every incremental run; here each listing ends on its own.
//! - **Comments**: each issue's and merge request's notes (`/notes?sort=asc`) are part of its
//!   document, below its description; system notes ("added label ~bug") are left out unless
//!   `include_system_notes`, then marked; internal notes are always left out. GitLab touches an
//!   issue's `updated_at` on every new or edited note, so an incremental run finds new comments
//!   on old issues. The notes are read only for an item whose version (`updated_at`, comment
//!   count, access) the state store does not hold.
//! - **Code files**: the tree of `branch` (default: the project's default branch) by keyset
//!   paging (`recursive=true&pagination=keyset`, the checkpoint holds the next link). A file's
//!   version is its blob id, asked of the fingerprint lookup before the download (`GET
//!   /repository/blobs/{sha}/raw`), so an unchanged file is never downloaded again; RAGFlow
//!   downloaded every file and looked up its last commit on every run. A file's `updated_at`
//!   is the committed date of the ref's head; a poll reads the files only when that commit is
//!   in its window (a fast-forward to an older commit is seen by the next full or reconcile
//!   run). Files are text when they decode as UTF-8, else bytes by extension; a file over
//!   `max_file_size` is stopped while it downloads and becomes a failure.
//! - **Ids** are RAGFlow's: an issue's or merge request's `web_url`, and a file's blob page
//!   `{project web_url}/-/blob/{ref}/{path}`. The title is the item's title or the file name;
//!   the link its web page; metadata has `type` (`Issue`, `MergeRequest`, `CodeFile`),
//!   `project`, `state`, `labels`, `author`, `assignees`, `milestone`, `iid` and the like;
//!   `owners` are the author and the assignees (GitLab usernames); `parent_id` is
//!   `gitlab-project:{path}`.
//! - **Access**: a public project's documents are public; a private or internal one's are
//!   for the group `gitlab-project:{host}/{path}` (its members) plus the members' e-mail
//!   addresses where GitLab shows them (`/members/all`; addresses only to administrators'
//!   tokens or when public), and an internal one's also for `gitlab-internal:{host}` (every
//!   signed-in user). A confidential issue is for the project's members alone.
//! - **Limits**: GitLab.com's 2,000 authenticated requests a minute by default
//!   (`requests_per_minute`); `RateLimit-Remaining: 0` waits for `RateLimit-Reset`, and a 429
//!   is waited out by its `Retry-After` in core's client.
//! - **Deletions** are left to prune ([`SlimConnector`]).

mod checkpoint;
mod client;
mod config;
mod convert;
mod pages;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{GitlabCheckpoint, Stage, UpdatedCursor};
pub use config::{
    DEFAULT_GITLAB_URL, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, DEFAULT_REQUESTS_PER_MINUTE,
    GitlabConfig, GitlabCredentials,
};

use client::Client;
use config::TOKEN_FIELD;
use pages::Walk;

/// The registry key of the GitLab connector.
pub const SOURCE: &str = "gitlab";

/// Reads GitLab projects. Built from a [`GitlabConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::gitlab::{GitlabConfig, GitlabConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = GitlabConnector::new(GitlabConfig::new("gitlab-org", "gitlab-runner", "glpat-…"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GitlabConnector {
    config: GitlabConfig,
    walk: Walk,
}

impl GitlabConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: GitlabConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let api = config.api_base().map_err(|e| e.with_connector(SOURCE))?;
        let http = HttpClient::builder(SOURCE)
            .auth(
                Auth::Header {
                    name: "PRIVATE-TOKEN".to_owned(),
                    value: config.credentials.gitlab_access_token.clone(),
                },
                TOKEN_FIELD,
            )
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_minute, Duration::from_secs(60))
            .build()?;
        let host = api.host_str().unwrap_or_default().to_owned();
        let web = api.as_str().trim_end_matches("api/v4/").to_owned();
        let walk = Walk {
            client: Client::new(http, api),
            owner: config.owner().to_owned(),
            projects: config.projects(),
            mrs: config.include_mrs,
            issues: config.include_issues,
            code: config.include_code_files,
            comments: config.include_comments,
            system_notes: config.include_system_notes,
            permissions: config.include_permissions,
            branch: config.branch.clone(),
            max: config.max_file_size.get(),
            per_page: config.page_size.get().min(100),
            host,
            web,
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &GitlabConfig {
        &self.config
    }
}

impl fmt::Display for GitlabConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let projects = self.config.projects();
        if projects.is_empty() {
            write!(f, "{SOURCE}:group/{}", self.config.owner())
        } else {
            write!(f, "{SOURCE}:{}", projects.join(","))
        }
    }
}

#[async_trait]
impl Connector for GitlabConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// The projects of `project_name` when it names more than one, each a job of its own;
    /// none for one project or a whole group (whose projects are known only from GitLab).
    fn partitions(&self) -> Vec<String> {
        let projects = self.config.projects();
        if projects.len() > 1 {
            projects
        } else {
            Vec::new()
        }
    }

    /// This connector reading only the project `partition`: one of
    /// [`partitions`](Connector::partitions), or, for a whole group, any project path under
    /// `project_owner`.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        let owner = self.config.owner();
        let projects = self.config.projects();
        if !projects.is_empty() && !projects.iter().any(|p| p == partition) {
            return None;
        }
        let name = partition.strip_prefix(owner)?.strip_prefix('/')?;
        if name.is_empty() {
            return None;
        }
        let mut config = self.config.clone();
        config.project_name = Some(name.to_owned());
        Some(Arc::new(Self::new(config).ok()?))
    }

    /// Reads the first project (or the group's list of projects): the token is accepted, it
    /// may see the project, the project exists.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.gitlab_access_token` (401), `PermissionDenied`
    /// for a token without the scope (403), `NotFound` naming `project_name` or
    /// `project_owner` (GitLab answers 404 also for a private project the token may not
    /// see), `Unavailable` when the instance cannot be reached.
    async fn check(&self) -> Result<()> {
        match self.config.projects().first() {
            Some(path) => self
                .walk
                .client
                .project(path)
                .await
                .map(|_| ())
                .map_err(|e| self.walk.named_project_error(e, path)),
            None => self.walk.list_projects().await.map(|_| ()),
        }
    }
}

impl CheckpointedConnector for GitlabConnector {
    type Checkpoint = GitlabCheckpoint;

    fn initial_checkpoint(&self) -> GitlabCheckpoint {
        GitlabCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: GitlabCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GitlabCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for GitlabConnector {
    /// Every file, merge request and issue id of the projects; fails rather than come back
    /// short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl connector_core::RefetchConnector for GitlabConnector {
    /// These issues, merge requests and files again, by id: `GET /issues/{iid}` (and its
    /// notes), `GET /merge_requests/{iid}`, `GET /repository/files/{path}/raw?ref=` (its blob
    /// id from `X-Gitlab-Blob-Id`); one that is gone, of another project or another ref yields
    /// nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
