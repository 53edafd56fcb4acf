//! The GitHub connector (source `"github"`): the issues and pull requests of repositories,
//! with their comments and review comments, and optionally their code files, over GitHub's
//! REST API (github.com or GitHub Enterprise Server through `base_url`).
//!
//! - **Scope**: RAGFlow's `repository_owner` with `repository_name` (a comma list; empty: every
//!   repository of the organisation, else of the user: all of them, private ones included,
//!   when the user is the token's own, through `GET /user/repos`; another user's public ones
//!   only, as `GET /users/{o}/repos` shows no more), plus `repositories` (`owner/name` or a
//!   whole `owner`). With more than one scope, each is a [partition](Connector::partitions).
//! - **Issues and pull requests**: `GET /repos/{o}/{r}/issues?state=all&sort=updated&direction=asc`
//!   lists both (a pull request carries `pull_request`); each becomes one Markdown document:
//!   the title, a line of facts, the body as written, every comment
//!   (`/issues/{n}/comments`) and, for a pull request, every review with its verdict
//!   (`/pulls/{n}/reviews`) and every review comment (`/pulls/{n}/comments`, asked only when
//!   there is a review) under its author. RAGFlow sent the body alone.
//! - **Incremental runs and checkpoints**: pages are read oldest update first and each next
//!   page is asked with `since` = the last `updated_at` read (a key, not an offset: an item
//!   updated meanwhile moves behind the position rather than shifting another past it); the
//!   `Link` header tells whether a page follows and is followed itself only while more than
//!   a page of items share one second. A new (top-level) comment moves the issue's
//!   `updated_at`, so a window's `since` finds it on an old issue. The checkpoint
//!   ([`GithubCheckpoint`]) holds that key and the last repository of the scope done (the
//!   scope's repositories are walked by full name); the access of every repository walked,
//!   which tells the next incremental run what to read whole (a repository new in scope or
//!   whose access changed), is written at scope ends only, so a checkpoint inside an
//!   organisation's walk stays small. A run resumed inside a scope has lost that map: it
//!   reads the rest of its repositories whole, and the next run those walked before.
//! - **What the issues endpoint's `updated_at` misses**: a review or a review comment moves
//!   only the pull request's own `updated_at` (on `GET /pulls`), and an edited comment only its
//!   own. So each repository's walk first lists `GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc`
//!   (down to the window's start; in a full run all of it, one request per 100 pull requests)
//!   and, in an incremental run, `GET /repos/{o}/{r}/pulls/comments` and
//!   `GET /repos/{o}/{r}/issues/comments` with `sort=updated&since={window start}` (each
//!   comment names its item by `pull_request_url` or `issue_url`). An item changed in the
//!   window by those alone is read again after the issues listing (`GET /issues/{n}`, then
//!   its comments and reviews). An incremental run costs up to three more requests per
//!   repository for this.
//! - **Fingerprint**: the latest of those times, the count of comments and the repository's
//!   access, listed: an unchanged item costs no comment request.
//! - **Deleted comments**: deleting a comment moves neither the item's `updated_at` nor any
//!   listing with `since`, and GitHub has no feed of deletions. The listed count of comments
//!   is the only cheap signal: an item listed again (by a reconciling run, which lists
//!   everything, or by an incremental run while it is within the three hours of
//!   [`min_overlap`](Connector::min_overlap) or changed otherwise) whose count dropped is read
//!   again. Otherwise the deleted text stays until the next reconciling or full run. Deleted
//!   review comments and reviews are not counted (the listings carry no count of them): only
//!   a full run, or a change to the pull request, drops them. Code files: the blob SHA, listed in
//!   the tree, so an unchanged file is never downloaded again.
//! - **Lag**: GitHub's listings can show a change late; an incremental run starts
//!   [`min_overlap`](Connector::min_overlap) (three hours) before the last one ended, and the
//!   fingerprints make what it lists again cost a lookup.
//! - **Failures**: an error of one repository of an owner scope (a token without its Issues or
//!   Contents permission, SAML enforcement, a `branch` it lacks, a repository gone since the
//!   listing, a `5xx` after the retries) is a failure with the repository's web URL as id,
//!   naming it and the field to look at; the other repositories are read. The next run reads
//!   that repository again whole. A rejected token or a scope that cannot be listed ends the
//!   sync.
//! - **Code files** (`include_code_files`): the tree of the head commit of `branch` (default:
//!   the repository's default branch), fixed in the checkpoint, by
//!   `GET /git/trees/{sha}?recursive=1`; a truncated tree is read level by level, and a
//!   single folder GitHub still truncates alone (over 100,000 entries or 7 MB) is an
//!   `Unsupported` failure with the folder's web URL as id (its files past the listing cannot
//!   be listed; an id listing for prune fails rather than come back short). Files through
//!   `include_paths`/`exclude_paths`, then downloaded raw (`/git/blobs/{sha}`); a file over
//!   `max_file_size` (its listed size) is a failure without a download; a Git LFS pointer
//!   (the file is stored outside the repository) is a failure naming the file's size.
//!   Submodules (a `commit` entry: another repository's commit) and symbolic links (mode
//!   `120000`: the blob is only the target's path) are left out, counted in a debug log line
//!   per repository. The tree has no
//!   modification times: every run lists it and sends the files whose blob changed.
//! - **Ids** are RAGFlow's, the item's web URL (`…/issues/12`, `…/pull/7`), and
//!   `…/blob/{branch}/{path}` for code files; the link is the same URL. `updated_at` is
//!   GitHub's; `owners` are the author and assignees (logins); metadata holds `repo`,
//!   `number`, `type` (`issue`, `pull_request`, `file`), `state`, `labels`, `assignees`,
//!   `author`, `milestone`, `created_at`, `closed_at`, `merged_at`, `comments`, `locked` with
//!   `active_lock_reason`, `author_is_bot`.
//! - **Bots**: comments, reviews and review comments of accounts of `type` `Bot` (GitHub
//!   Apps: CI, coverage and dependency bots, often the longest comments) are marked `(bot)`
//!   after the login, and left out with `include_bot_comments: false`.
//! - **Access**: a public repository's items are public; a private one's go to its
//!   collaborators (`github-user:{login}` groups) when the token may list them (push access),
//!   else to the repository as a group (`github-repo:{owner}/{name}`), and, in an
//!   organisation, to the teams with access (`GET /repos/{o}/{r}/teams`, as
//!   `github:{org}/team/{slug}` groups; a host resolves team and enterprise-group members).
//!   Listing collaborators needs push access (a classic token's `repo` scope, a fine-grained
//!   token's Metadata); listing teams a classic token's `repo` scope or a fine-grained token's
//!   Administration permission (read). A token refused the teams (`403`) is warned about
//!   once and not asked again in that run; the sync goes on with the collaborators alone.
//!   `internal` repositories add `github-org:{owner}`.
//! - **Repositories without issues** (`has_issues: false`; the issues endpoints answer
//!   `410`): their pull requests are listed by `GET /pulls?state=all&sort=updated&direction=asc`
//!   (pull requests cannot be turned off), whose `updated_at` moves with reviews and
//!   comments, and refetched by `GET /pulls/{n}`. Archived repositories are read as any other
//!   (they are read-only; `archived` is in the metadata); repositories GitHub disabled are
//!   left out with a warning.
//! - **GitHub Enterprise Server**: `base_url` is the API's address, `https://HOST/api/v3`; an
//!   HTML page answering (the web host without the prefix) is a config error naming
//!   `base_url`.
//! - **Limits**: requests are kept to `requests_per_hour` (GitHub's 5000 per token). A spent
//!   primary limit (`403`/`429` "API rate limit exceeded", `x-ratelimit-remaining: 0`) is
//!   waited out until `x-ratelimit-reset`, a secondary one (`403`/`429` "secondary rate
//!   limit") for its `retry-after`, or, without one, for a minute as GitHub asks, with every
//!   request of the sync held meanwhile, by core's client, and counted in the sync report.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{Auth, HttpClient};
use connector_core::pages::read_ahead;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{GithubCheckpoint, RepoCursor, Stage};
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, DEFAULT_REQUESTS_PER_HOUR,
    GithubConfig, GithubCredentials,
};

use client::Client;
use config::{Scope, TOKEN_FIELD};
use pages::Walk;

/// The registry key of the GitHub connector.
pub const SOURCE: &str = "github";

/// The longest wait for a rate limit honoured: GitHub's primary limit resets within the hour.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(3660);

/// How late GitHub's listings may show a change: Onyx's connector goes back three hours
/// "since some Issues/PRs are getting dropped"; the same here.
const LISTING_LAG: Duration = Duration::from_secs(3 * 3600);

/// Reads GitHub repositories. Built from a [`GithubConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::github::{GithubConfig, GithubConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = GithubConnector::new(GithubConfig::new("infiniflow", "ragflow", "ghp_…"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GithubConnector {
    config: GithubConfig,
    walk: Walk,
}

impl GithubConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: GithubConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let filter = config
            .path_filter()
            .map_err(|p| Error::config(p).with_connector(SOURCE))?;
        let http = HttpClient::builder(SOURCE)
            .auth(
                Auth::Bearer(config.credentials.github_access_token.clone()),
                TOKEN_FIELD,
            )
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_hour, Duration::from_secs(3600))
            .retry_after_cap(RATE_LIMIT_WAIT)
            .rate_limit_retries(10, RATE_LIMIT_WAIT * 2)
            .build()?;
        let api = match &config.base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let walk = Walk {
            client: Client::new(http, api, config.page_size.get().min(100)),
            scopes: config.scopes(),
            issues: config.include_issues,
            pulls: config.include_pull_requests,
            bots: config.include_bot_comments,
            code: config.include_code_files,
            branch: config.branch.clone(),
            filter: Arc::new(filter),
            max: config.max_file_size.get(),
            teams_refused: Arc::default(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &GithubConfig {
        &self.config
    }
}

impl fmt::Display for GithubConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.walk.scopes.iter().map(Scope::key).collect();
        write!(f, "{SOURCE}:{}", keys.join(","))
    }
}

#[async_trait]
impl Connector for GithubConnector {
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

    /// Three hours: GitHub's issue and comment listings can show a change after a run has
    /// read past it.
    fn min_overlap(&self) -> Duration {
        LISTING_LAG
    }

    /// Reads each configured repository (`GET /repos/{o}/{r}`) or owner (`GET /users/{o}`).
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.github_access_token` for a token GitHub rejects
    /// (401 `Bad credentials`); `NotFound` naming `repository_name` (or `repository_owner`)
    /// for a repository that does not exist or the token may not see (GitHub answers 404 for
    /// both); `PermissionDenied` for a token without the scope; `Unavailable` when GitHub
    /// cannot be reached.
    ///
    /// Within seconds: a spent rate limit is `RateLimited` at once (the sync waits it out).
    /// For a repository whose issues or pull requests are read, one issue is listed too, so
    /// a token without that permission (a fine-grained one without Issues: `403`) is
    /// `PermissionDenied` naming `credentials.github_access_token`.
    async fn check(&self) -> Result<()> {
        let client = self.walk.client.bounded();
        for scope in &self.walk.scopes {
            let result = match scope {
                Scope::Repo { owner, name } => match client.repo(owner, name).await {
                    // Without issues (`410` on their endpoints) the pull requests are listed.
                    Ok(repo) if !repo.has_issues && self.walk.pulls => {
                        client.probe_pulls(owner, name).await
                    }
                    Ok(repo) if repo.has_issues && (self.walk.issues || self.walk.pulls) => {
                        client.probe_issues(owner, name).await
                    }
                    other => other.map(|_| ()),
                },
                Scope::Owner(owner) => client.owner(owner).await,
            };
            result.map_err(|e| Walk::named_scope_error(scope, e))?;
        }
        Ok(())
    }

    /// The scopes (`owner/name` or `owner`) when there is more than one.
    fn partitions(&self) -> Vec<String> {
        let keys: Vec<String> = self.walk.scopes.iter().map(Scope::key).collect();
        if keys.len() > 1 { keys } else { Vec::new() }
    }

    /// This connector reading only `partition`, one of [`partitions`](Connector::partitions).
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if !self.partitions().iter().any(|k| k == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.repository_owner = String::new();
        config.repository_name = Vec::<String>::new().into();
        config.repositories = vec![partition.to_owned()].into();
        let connector = Self::new(config).ok()?;
        Some(Arc::new(connector))
    }
}

impl CheckpointedConnector for GithubConnector {
    type Checkpoint = GithubCheckpoint;

    fn initial_checkpoint(&self) -> GithubCheckpoint {
        GithubCheckpoint::start()
    }

    /// The access of every repository walked ([`GithubCheckpoint::known`]), so the next
    /// incremental run reads a repository new in scope, or whose access changed, whole.
    fn carry_over(&self, last: &GithubCheckpoint) -> Option<GithubCheckpoint> {
        (!last.known.is_empty() || last.known_left_out).then(|| GithubCheckpoint {
            known: last.known.clone(),
            known_left_out: last.known_left_out,
            ..GithubCheckpoint::start()
        })
    }

    /// The walk runs a page ahead in a task of its own ([`read_ahead`]): the next page's
    /// listing, comment requests and Markdown while the host writes this one.
    fn load_from_checkpoint(
        &self,
        from: GithubCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GithubCheckpoint>>> {
        read_ahead(self.walk.checkpointed(from, window, ctx))
    }
}

impl SlimConnector for GithubConnector {
    /// Every issue, pull request and code file id in scope; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl connector_core::RefetchConnector for GithubConnector {
    /// These items again: an issue or pull request by its number, a code file at the head of
    /// its branch; one that is gone or out of scope yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
