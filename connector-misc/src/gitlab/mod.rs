//! The GitLab connector (source `"gitlab"`): the merge requests, issues and code files of a
//! project, of several, or of every project of a group, on GitLab.com or a self-managed
//! instance, over the REST API v4 with a `PRIVATE-TOKEN`.
//!
//! - **Scope**: `project_owner` / `project_name` as RAGFlow names them (`gitlab_url` for a
//!   self-managed instance). Several names separated by commas are partitions, each synced as
//!   its own job ([`Connector::partitions`]); no `project_name` reads every project of the
//!   group `project_owner` and its subgroups (`GET /groups/{path}/projects?include_subgroups=true`,
//!   keyset-paged, or a user's projects), and [`Connector::discover_partitions`] lists them
//!   so a host runs each as a job of its own, built by [`Connector::partition`].
//! - **Merge requests and issues**: listed with `order_by=updated_at&sort=asc&state=all` and
//!   paged by value, not by offset: the next page is asked with `updated_after` set to the
//!   last `updated_at` handed on ([`UpdatedCursor`], the checkpoint), so an item edited during
//!   the sync moves to the end instead of shifting the rest under a page number. GitLab offers
//!   keyset paging for the tree and for project lists, and on recent versions (2025) for a
//!   project's issues (`cursor`, ordered by `updated_at` among others), not for merge requests: not
//!   used, as the value cursor already reads linear pages, works on every version and for both
//!   lists, and is resumable from what it holds (a time and ids) rather than an opaque link of the
//!   instance's own; keyset paging would read the same issues in the same order. Polls ask
//!   `updated_after` / `updated_before` for the window, the end rounded up to the millisecond
//!   (GitLab prints milliseconds and compares microseconds), and keep `[start, end)` with the
//!   start widened to its millisecond; each window starts [`MIN_OVERLAP`] before the last one
//!   ended, for what GitLab writes late (replica lag, notes of background jobs, clock skew).
//!   RAGFlow listed merge requests newest first and returned at the first old one, which
//!   skipped the issues of every incremental run; here each listing ends on its own.
//! - **Comments**: each issue's and merge request's notes, read by thread
//!   (`/discussions`, 100 threads a request), are part of its document, below its
//!   description: a thread's first note, with the file and line of a review comment on the
//!   diff and `resolved thread` / `unresolved thread` for one that can be resolved, then its
//!   replies, each marked `reply`. System notes ("added label ~bug") are left out unless
//!   `include_system_notes`, then marked; internal notes are always left out. GitLab touches
//!   an item's `updated_at` on every new, edited or resolved note, so an incremental run
//!   finds new comments and resolved threads on old issues. The notes are read only for an
//!   item whose version (`updated_at`, comment count, access) the state store does not hold.
//! - **Code files**: the tree of `branch` (default: the project's default branch) by keyset
//!   paging (`recursive=true&pagination=keyset`, the checkpoint holds the next link). A file's
//!   version is its blob id, asked of the fingerprint lookup before the download (`GET
//!   /repository/blobs/{sha}/raw`), so an unchanged file is never downloaded again; RAGFlow
//!   downloaded every file and looked up its last commit on every run. A file's `updated_at`
//!   is the committed date of the ref's head. A poll lists the tree when the head commit is
//!   another one than the last run saw (a commit's date is when it was written, not when it
//!   was pushed or merged, so no date tells), and downloads only the files whose blob id
//!   changed; a poll without a record of the last run goes by the head commit's date.
//!   Files are text when they decode as UTF-8, else bytes by extension; a file over
//!   `max_file_size` is stopped while it downloads and becomes a failure.
//! - **Ids** are RAGFlow's: an issue's or merge request's `web_url`, and a file's blob page
//!   `{project web_url}/-/blob/{ref}/{path}`. The title is the item's title or the file name;
//!   the link its web page; metadata has `type` (`Issue`, `MergeRequest`, `CodeFile`),
//!   `project`, `state`, `labels`, `author`, `assignees`, `milestone`, `iid` and the like;
//!   `owners` are the author and the assignees (GitLab usernames); `parent_id` is
//!   `gitlab-project:{path}`.
//! - **Access**, by GitLab's rules (visibility, each feature's access level, each member's
//!   role from `/members/all`): a feature open to everyone in a public project is public; in
//!   an internal one it is for `gitlab-internal:{host}` (every signed-in user but external
//!   ones; `{host}` is GitLab's own, from `web_url`) and the
//!   members; a feature of a private project, or one kept to members, is for the members
//!   whose role reaches it: issues from Guest (group `gitlab-project:{host}/{path}`), merge
//!   requests and a private project's code from Reporter (`…:reporter`), other code from
//!   Guest. A confidential issue is for members from Planner up (`…:planner`) and its author
//!   and assignees (`gitlab-user:{host}/{username}`). Members are also named by their e-mail
//!   addresses where GitLab shows them (to administrators' tokens, or when public); Minimal
//!   Access and members awaiting a seat get nothing.
//! - **Access changes** move no `updated_at`: each project's readers (visibility, feature
//!   levels, members and roles) are fingerprinted into the checkpoint with its head commit
//!   and carried to the next incremental run, which reads a project whole when they changed,
//!   or when it did not read the project before (a project new to the group), so old
//!   documents get their new access.
//! - **Archived projects** are read like the others, their documents marked
//!   `archived: true` in metadata (archiving moves no `updated_at`: an archived or unarchived
//!   project is read whole by the next incremental run, as for an access change); with
//!   `include_archived` off they are left out: not listed for a group (`archived=false`), a
//!   named one reads nothing, and prune removes what earlier runs read of them.
//! - **Failures**: a disabled feature is not read; a project or a stage the token may not
//!   read (403: a Guest's token on a private repository) is a failure naming the project and
//!   the stage, and the walk goes on with the next.
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

/// How long before the last window's end an incremental run starts
/// ([`Connector::min_overlap`]).
pub const MIN_OVERLAP: Duration = Duration::from_secs(300);

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
            archived: config.include_archived,
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

    /// Five minutes: `updated_at` is written by GitLab's clock before its transaction commits,
    /// GitLab.com reads from replicas that may lag, and some notes (approvals) are written by
    /// background jobs after the event, so an item may show up in a listing a while after
    /// the time it carries. What the overlap lists again costs a list row: its version is
    /// unchanged, so its notes are not read.
    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
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

    /// The configured projects when there are several; for a whole group (no
    /// `project_name`), every project of the group and its subgroups as GitLab lists them
    /// now (`GET /groups/{path}/projects?include_subgroups=true`, keyset-paged; a user's
    /// projects when `project_owner` is a user), each a job of its own that
    /// [`partition`](Connector::partition) builds. One configured project: none.
    ///
    /// # Errors
    /// As [`check`](Connector::check): `NotFound` naming `project_owner` for a group or user
    /// the token may not see, `Unauthenticated` or `PermissionDenied` naming the token.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        if !self.config.projects().is_empty() {
            return Ok(self.partitions());
        }
        self.walk.list_projects().await
    }

    /// This connector reading only the project `partition`: one of
    /// [`partitions`](Connector::partitions), or, for a whole group, any project path under
    /// `project_owner` (what [`discover_partitions`](Connector::discover_partitions) lists).
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

    /// Reads each configured project, and the configured `branch` in it when code files are
    /// read; for a whole group, the group's first project alone (bounded, however large the
    /// group): the token is accepted, it may see them, they exist.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.gitlab_access_token` (401), `PermissionDenied`
    /// for a token without the scope (403), `NotFound` naming `project_name` or
    /// `project_owner` (GitLab answers 404 also for a private project the token may not
    /// see) or `branch`, `Unavailable` when the instance cannot be reached.
    async fn check(&self) -> Result<()> {
        let projects = self.config.projects();
        if projects.is_empty() {
            return self.walk.check_namespace().await;
        }
        for path in &projects {
            let project = self
                .walk
                .client
                .project(path)
                .await
                .map_err(|e| self.walk.named_project_error(e, path))?;
            let Some(branch) = self.config.branch.as_deref() else {
                continue;
            };
            if !self.config.include_code_files
                || project.default_branch.is_none()
                || project.disables(client::Feature::Repository)
            {
                continue;
            }
            if self.walk.client.commit(project.id, branch).await?.is_none() {
                return Err(Error::new(
                    connector_core::ErrorKind::NotFound,
                    format!("project {path} has no branch, tag or commit `{branch}`"),
                )
                .with_connector(SOURCE)
                .with_field("branch"));
            }
        }
        Ok(())
    }
}

impl CheckpointedConnector for GitlabConnector {
    type Checkpoint = GitlabCheckpoint;

    fn initial_checkpoint(&self) -> GitlabCheckpoint {
        GitlabCheckpoint::start()
    }

    /// The start, with what this run saw of each project: a project whose readers changed
    /// since (made private, a member removed) is read whole by the next incremental run, and
    /// its tree is listed when its ref's head commit changed.
    fn carry_over(&self, last: &GitlabCheckpoint) -> Option<GitlabCheckpoint> {
        Some(last.carried())
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
