//! The Bitbucket connector (source `"bitbucket"`): the pull requests of a Bitbucket Cloud
//! workspace, one Markdown document each with its comments, over the REST API 2.0.
//!
//! - **Scope** (`index_mode`): every repository of the `workspace`, the ones named in
//!   `repository_slugs`, or those of the `projects` (by key, `q=project.key="KEY"`). The
//!   repository list is taken when a run starts and kept in the checkpoint
//!   ([`BitbucketCheckpoint`]); repositories are the [partitions](Connector::partitions) when
//!   several are named. Bitbucket Cloud does not archive repositories (archiving is a Data
//!   Center feature, with its `archived` flag), so there is no `archived` metadata and no
//!   `include_archived` switch as GitLab's connector has.
//! - **Listing**: `GET /2.0/repositories/{workspace}/{slug}/pullrequests` with every state
//!   (`state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED`; the API shows only open ones
//!   otherwise), `sort=-updated_on`, the `fields` the documents need and, for incremental runs,
//!   `q=updated_on >= "{start}"`. Pages are followed by the `next` link in the body, as given
//!   (checked to stay on the API host), and that link is the checkpoint within a repository.
//!   The window's end is filtered here rather than in `q`: newest first and no upper bound,
//!   a pull request updated during the run moves to the front of the listing (a page may then
//!   repeat one) instead of dropping out of it and shifting an unread one past the next page.
//! - **Incremental runs** find a pull request changed since the last window by its
//!   `updated_on`. That Bitbucket moves `updated_on` when a comment is added or an approval
//!   given is assumed, not documented: a full or reconciling run re-sends such a pull request
//!   anyway, since the version token holds `comment_count` and a hash of every listed field
//!   (participants' approvals included). An edited comment changes none of them; only a full
//!   run (or Bitbucket moving `updated_on`) picks it up. Bitbucket's repository-wide
//!   `pullrequests/activity` feed is not read.
//! - **Activity** (`include_activity`): approvals, requests for changes and updates (state,
//!   title, description, reviewers, new commits) from each pull request's own
//!   `pullrequests/{id}/activity` feed, listed in its document under "Activity". An approval
//!   or a request for changes changes the listed `participants` (their `approved`, `state`
//!   and `participated_on`), an update `updated_on`; both are in the version token, so the
//!   pull request is read again. The feed is asked only for a pull request being read (its
//!   version changed, or a full run without a record), not for one never touched since it
//!   was opened (no participant's verdict, `updated_on` at `created_on`).
//! - **Repositories new to the scope, or whose access changed** (made private, a user's
//!   grant removed): each run carries the repositories it read, with a hash of their access,
//!   to the next incremental run ([`CheckpointedConnector::carry_over`]), which reads such a
//!   repository without its window, so its old pull requests are indexed, or re-sent with
//!   the new access.
//! - **Failures**: a pull request that cannot be read, or whose comments cannot be, is a
//!   [`Failure`](connector_core::Failure) in its page and the walk goes on with the next page
//!   (RAGFlow's loop re-ran the same repository forever on one).
//! - **Ids** are RAGFlow's, `bitbucket:{workspace}:{slug}:pr:{id}`; the title is
//!   `{slug}#{id}: {title}`, the link `links.html.href`, `updated_at` its `updated_on`; the
//!   parent is `bitbucket:{workspace}:{slug}`. Metadata holds `state`, `draft`,
//!   `source_branch`, `destination_branch`, `author`, `reviewers`, `approved_by`,
//!   `comment_count`, `task_count`, `project`, `created_on`, `closed_by`, `merge_commit`.
//! - **Text**: a heading, the state, people, branches and dates, the description (Markdown as
//!   Bitbucket keeps it), then every comment that is not deleted, with its author, time, file
//!   and line for inline ones and the comment it answers.
//! - **Access**: a public repository's pull requests are public; a private one's go to the
//!   repository as a group (`bitbucket-repo:{workspace}/{slug}`, which only a host that
//!   resolves it fills) and, when the account may read them, to every user with an effective
//!   permission on it (`bitbucket-user:{account_id}`, from
//!   `workspaces/{workspace}/permissions/repositories/{slug}`: direct, group, project and
//!   workspace-default grants alike; Bitbucket shows no e-mail, so the host maps account ids).
//!   Reading them needs admin rights on the repository and the `admin:repository:bitbucket`
//!   scope; without them a run warns once and asks no further repository.
//!   **Owners**: the author and the reviewers (display names).
//! - **Fingerprint**: `updated_on`, `comment_count`, `task_count`, a hash of every listed
//!   field and the access, all listed, so an unchanged pull request costs no comment request.
//! - **Prune** lists ids by `sort=id` (an id never moves, unlike `-updated_on` under edits)
//!   and the repositories twice, united (a deletion during one pass shifts the next
//!   repository onto a page already read).
//! - **Auth and limits**: HTTP Basic with `credentials.bitbucket_account_email` and the
//!   account's API token `credentials.bitbucket_api_token`, or `Authorization: Bearer` with a
//!   workspace, project or repository access token (`credentials.bitbucket_access_token`,
//!   which Bitbucket's scaled rate limits apply to); tokens are sent trimmed. 429 with
//!   `Retry-After` is waited out by core's client, and requests are kept to
//!   `requests_per_hour` (Bitbucket's documented 1,000 per hour by default), shared across
//!   processes through the host's rate gate.

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
use connector_core::Secret;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{BitbucketCheckpoint, RepoFrame};
pub use config::{
    BitbucketConfig, BitbucketCredentials, DEFAULT_API_BASE_URL, DEFAULT_MAX_COMMENTS,
    DEFAULT_PAGE_SIZE, DEFAULT_REQUESTS_PER_HOUR, IndexMode,
};

use client::Client;
use config::{ACCESS_TOKEN_FIELD, TOKEN_FIELD};
use pages::Walk;

/// The registry key of the Bitbucket connector.
pub const SOURCE: &str = "bitbucket";

/// How far back an incremental run lists before the previous window's end (clock skew).
const MIN_OVERLAP: Duration = Duration::from_secs(120);

/// Reads the pull requests of a Bitbucket Cloud workspace. Built from a [`BitbucketConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::bitbucket::{BitbucketConfig, BitbucketConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = BitbucketConfig::new("acme", "jane@example.com", "ATATT3x…");
/// let connector = BitbucketConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BitbucketConnector {
    config: BitbucketConfig,
    walk: Walk,
}

impl BitbucketConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: BitbucketConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        // Tokens are sent trimmed: one pasted with a trailing newline works (as in RAGFlow).
        let builder = match config.credentials.access_token() {
            Some(token) => HttpClient::builder(SOURCE).auth(
                Auth::Bearer(Secret::new(token.expose().trim())),
                ACCESS_TOKEN_FIELD,
            ),
            None => {
                let account = config.credentials.bitbucket_account_email.trim();
                let auth = Auth::Basic {
                    username: account.to_owned(),
                    password: Secret::new(config.credentials.bitbucket_api_token.expose().trim()),
                };
                // Bitbucket counts an account's requests across all its tokens, so the host's
                // rate gate is keyed on the account (hashed), not on this token.
                let key = connector_core::ids::hash128(&account.to_lowercase());
                HttpClient::builder(SOURCE)
                    .auth(auth, TOKEN_FIELD)
                    .rate_gate_key(format!("account-{key}"))
            }
        };
        let http = builder
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_hour, Duration::from_secs(3600))
            .build()?;
        let api = match &config.api_base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let client = Client::new(
            http,
            api,
            config.workspace.trim().to_owned(),
            config.page_size.get().min(50),
        );
        let walk = Walk {
            client,
            mode: config.mode(),
            slugs: config.repository_slugs.as_slice().to_vec(),
            projects: config.projects.as_slice().to_vec(),
            comments: config.include_comments,
            max_comments: config.max_comments,
            activity: config.include_activity,
            permissions: config.include_permissions,
            permissions_refused: Arc::default(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &BitbucketConfig {
        &self.config
    }
}

impl fmt::Display for BitbucketConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.walk.client.workspace)?;
        match self.walk.mode {
            IndexMode::Workspace => Ok(()),
            IndexMode::Repository => write!(f, "/{}", self.walk.slugs.join(",")),
            IndexMode::Project => write!(f, " projects {}", self.walk.projects.join(",")),
        }
    }
}

#[async_trait]
impl Connector for BitbucketConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// Two minutes: the window's end is this host's clock and `updated_on` is Bitbucket's, so
    /// a pull request updated during a run (moved onto a page already read) with a clock
    /// behind ours would fall between two windows. Unchanged ones in the overlap cost no
    /// comment request (fingerprints).
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

    /// Reads the workspace's repository listing, each configured repository (or the first
    /// repository of each configured project, by the listing the sync makes), then one pull
    /// request of the first repository of the scope.
    ///
    /// # Errors
    /// `Unauthenticated` naming the token field in use (401), `PermissionDenied` (403: a token
    /// without the repository or pull-request read scope, an account outside the workspace),
    /// `NotFound` naming `workspace`, `repository_slugs` or `projects` (404, or a project with
    /// no repository), `Unavailable` when Bitbucket cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.check().await
    }

    /// The repositories of `repository_slugs` when several are named, each a job of its own
    /// with its own checkpoint; none otherwise (a workspace's or project's repositories are
    /// known only from a listing).
    fn partitions(&self) -> Vec<String> {
        if self.walk.mode == IndexMode::Repository && self.walk.slugs.len() > 1 {
            self.walk.slugs.clone()
        } else {
            Vec::new()
        }
    }

    /// This connector reading only the repository `partition`.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if !self.partitions().iter().any(|s| s == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.index_mode = Some(IndexMode::Repository);
        config.repository_slugs = connector_core::config::StringList(vec![partition.to_owned()]);
        Some(Arc::new(Self::new(config).ok()?))
    }
}

impl CheckpointedConnector for BitbucketConnector {
    type Checkpoint = BitbucketCheckpoint;

    fn initial_checkpoint(&self) -> BitbucketCheckpoint {
        BitbucketCheckpoint::start()
    }

    /// The repositories the run read and a hash of each one's access: the next incremental
    /// run reads a repository new to the scope, or whose access changed, without its window.
    fn carry_over(&self, last: &BitbucketCheckpoint) -> Option<BitbucketCheckpoint> {
        Some(last.carried())
    }

    fn load_from_checkpoint(
        &self,
        from: BitbucketCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BitbucketCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for BitbucketConnector {
    /// Every pull-request id of the scope, in every state.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl connector_core::RefetchConnector for BitbucketConnector {
    /// These pull requests again, by `GET …/pullrequests/{id}` and their comments; one that is
    /// gone or outside the scope yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
