//! The Asana connector (source `"asana"`): the tasks of an Asana workspace, one Markdown
//! document each with its comments, and their attachments as files.
//!
//! - **Scope**: the projects of `asana_project_ids`, or else every unarchived project of the
//!   workspace (`GET /projects?workspace=…&archived=false`). `asana_team_id` means what it
//!   means to RAGFlow: the *private* projects (`privacy_setting` `private`) of other teams
//!   are left out, every other project stays. Unlike RAGFlow, a project without a team (a
//!   workspace that is not an organization has no teams) is read. The project list is taken
//!   when a run starts and kept in the checkpoint ([`AsanaCheckpoint`]).
//! - **Listing**: `GET /tasks?project={gid}&opt_fields=…&limit=100`, paged by Asana's
//!   `next_page.offset`, which is the checkpoint within a project. Asana lets offsets expire:
//!   a refused one (400) makes the project's listing start again, once per run, and the
//!   fingerprints skip what was already sent.
//! - **One document per task**: a task in several projects of the run is read under the
//!   first of them in the run's list (the others skip it), so it is one document, and its
//!   access is the union of those projects'.
//! - **Subtasks**: the project listing leaves them out, so a task whose `num_subtasks` is not
//!   zero has them listed (`GET /tasks/{gid}/subtasks`, five levels deep), each read like a
//!   task with its parent's access (one in a project of the run is left to that project).
//!   Asana does not move a parent's `modified_at` for a subtask's edit, so an incremental
//!   run, once a project's window is listed, lists the project again whole with the fields
//!   `gid,modified_at,num_subtasks,projects` (the *sweep*: one request per 100 tasks) and
//!   reads the subtasks of each task that has some and that the window did not show,
//!   keeping those modified in the window (one request per such parent and level).
//! - **Incremental runs** list with `modified_since` = the window's start and filter
//!   `modified_at` to the half-open window exactly. Asana documents that a story created on
//!   a task (a new comment), an assignment, a custom-field change, a completion or an edited
//!   name or description moves `modified_at`, so an old task with a new comment is read
//!   again. An edited (or deleted) comment is not in that list: each run starts a project
//!   with its events, `GET /events?resource={project}&sync={token}` (events bubble up from
//!   the project's tasks, subtasks and their stories; the token is carried from run to run
//!   in the checkpoint's `events`, a first ask or an expired token answering 412 with a
//!   fresh one); a story `changed`, `removed` or `deleted` names its task, which is read
//!   again (`GET /tasks/{gid}`) with the edit's time in its version (`edited`, carried too,
//!   while later than its `modified_at`), so it is sent once and then stays unchanged;
//!   an entry goes once its task is listed modified since, and at most 10,000 are kept
//!   (the latest). A token Asana forgot (412 on a token it gave: runs more than 24 hours
//!   apart) loses the edits since the last run: that run lists the project whole, and
//!   every task of it not modified since takes the time of the 412 as a comment edit in
//!   its version (`reread`, per project), so each is read again and sent once: the cost of
//!   a full read of that project, paid only after such a gap. Who may read
//!   a project's tasks (its privacy, its members) moves no task's `modified_at`: each project
//!   starts with one unfiltered request of 20 tasks, and when one of them not modified in the
//!   window is stored at another access, the project is listed whole this run (fingerprints
//!   skip the rest), so a project made private stops being granted to the workspace.
//! - **Ids**: `asana:{task gid}`; attachments `asana:{task gid}:{attachment gid}` (RAGFlow's).
//!   Title the task's name, link `permalink_url`, `updated_at` its `modified_at`, parent the
//!   parent task (`asana:{gid}`) for a subtask, else the project (`asana:project:{gid}`);
//!   owners the assignee (e-mail when shown, else name).
//! - **Text**: YAML front matter (projects, assignee, completed, completed_at, due, start_on,
//!   tags, each custom field's `display_value`), the description (`html_notes` through core's
//!   HTML → Markdown, else `notes`), then the `comment_added` stories under "Comments".
//! - **Attachments** (`include_attachments`): `GET /attachments?parent={task}`, each
//!   `download_url` (a short-lived signed URL, fetched without the token) as a file document
//!   whose parent is the task. A listed `size` over `max_file_size` is a failure before any
//!   download, a body over it a failure while downloading; attachments kept elsewhere (no
//!   `download_url`) are left out. They are read with the task, when the task changed.
//! - **Access**: a project `public_to_workspace` is readable by the workspace as a group
//!   (`asana-workspace:{gid}`); a `private_to_team` one by the team (`asana-team:{gid}`), a
//!   `private` one by the project as a group (`asana-project:{gid}`), and both by their
//!   members from `GET /memberships?parent={gid}` (`asana-user:{gid}` and the
//!   member's e-mail where Asana shows it, member teams as `asana-team:{gid}`); when the
//!   members cannot be read the run warns and keeps the group. A task (and its attachments)
//!   also goes to its collaborators, `followers.email` and the assignee's e-mail, whom
//!   Asana lets see it wherever it is (a private project they are no member of included);
//!   a follower removed moves no `modified_at`, and the version (which hashes the access)
//!   lets the per-project probe of incremental runs find it.
//! - **Fingerprint**: `modified_at` and a hash of the access, both listed and asked of the
//!   store once per page, so an unchanged task costs no story request and no download; with
//!   `include_attachments` its attachments are listed (one request) and reported unchanged,
//!   so a reconciling run does not take them for deleted (Asana moves `modified_at` when an
//!   attachment is added or trashed).
//! - **Prune** ([`SlimConnector`]): each project's tasks with `opt_fields` kept to
//!   `gid,num_subtasks,projects.name`, the subtasks below them and, with
//!   `include_attachments`, each task's attachments; a deleted or trashed task, or one moved
//!   out of the run's projects, is then deleted by the host's prune.
//! - **Auth and limits**: `Authorization: Bearer` with the personal access token
//!   `credentials.asana_api_token_secret`; 429 with `Retry-After` is waited out by core's
//!   client, and requests are kept to `requests_per_minute` (Asana's 150 per minute for free
//!   workspaces by default; 1,500 for paid ones). Asana counts them per user (token), so
//!   the host's rate gate is keyed on a hash of the token (core's default for a bearer
//!   credential), never on the host: connectors of one token share the budget, whatever
//!   their workspace or projects, and connectors of other tokens do not take from it.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;
mod slim;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::Secret;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    CheckpointedBatch, CheckpointedConnector, Connector, Error, Result, Roles, SlimConnector,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{AsanaCheckpoint, MAX_EDITED, ProjectFrame};
pub use config::{
    AsanaConfig, AsanaCredentials, DEFAULT_API_BASE_URL, DEFAULT_MAX_FILE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE,
};

use client::Client;
use config::TOKEN_FIELD;
use pages::Walk;

/// The registry key of the Asana connector.
pub const SOURCE: &str = "asana";

/// How far back an incremental run lists before the previous window's end (clock skew
/// between this host and Asana's `modified_at`).
const MIN_OVERLAP: Duration = Duration::from_secs(120);

/// Reads the tasks of an Asana workspace. Built from an [`AsanaConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::asana::{AsanaConfig, AsanaConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = AsanaConfig::new("1200000000000001", "2/1200/1201:abc…");
/// let connector = AsanaConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsanaConnector {
    config: AsanaConfig,
    walk: Walk,
}

impl AsanaConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: AsanaConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let token = config.credentials.asana_api_token_secret.expose().trim();
        let http = HttpClient::builder(SOURCE)
            .auth(Auth::Bearer(Secret::new(token)), TOKEN_FIELD)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_minute, Duration::from_secs(60))
            .build()?;
        let api = match &config.api_base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let client = Client::new(http, api, config.asana_workspace_id.trim().to_owned());
        let walk = Walk {
            client,
            project_ids: config.asana_project_ids.as_slice().to_vec(),
            team: config.team().map(str::to_owned),
            comments: config.include_comments,
            attachments: config.include_attachments,
            max_file_size: config.max_file_size.get(),
            edited: std::sync::Arc::default(),
            reread: std::sync::Arc::default(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &AsanaConfig {
        &self.config
    }
}

impl fmt::Display for AsanaConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.walk.client.workspace)?;
        if !self.walk.project_ids.is_empty() {
            write!(f, " projects {}", self.walk.project_ids.join(","))
        } else if let Some(team) = &self.walk.team {
            write!(f, " team {team}")
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Connector for AsanaConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// Two minutes: the window's end is this host's clock and `modified_at` is Asana's.
    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .into()
    }

    /// Reads the workspace, the team (when it scopes the run), the projects of the run and
    /// one task page of the first.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.asana_api_token_secret` (401),
    /// `PermissionDenied` (403), `NotFound` naming `asana_workspace_id`, `asana_team_id` or
    /// `asana_project_ids` (404), `Unavailable` when Asana cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.check().await
    }
}

impl CheckpointedConnector for AsanaConnector {
    type Checkpoint = AsanaCheckpoint;

    fn initial_checkpoint(&self) -> AsanaCheckpoint {
        AsanaCheckpoint::start()
    }

    fn carry_over(&self, last: &AsanaCheckpoint) -> Option<AsanaCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: AsanaCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<AsanaCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for AsanaConnector {
    /// Every id a full run delivers: each project's tasks listed with `opt_fields` kept to
    /// `gid,num_subtasks,projects.name`, the subtasks below them, and with
    /// `include_attachments` each task's attachments (one request per task: Asana shows no
    /// attachment count on a task). Nothing is downloaded and no story read.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_gate_is_the_tokens_whatever_the_workspace() {
        let key = |workspace: &str, token: &str| {
            let c = AsanaConnector::new(AsanaConfig::new(workspace, token))
                .unwrap_or_else(|e| panic!("{e}"));
            let url =
                Url::parse("https://app.asana.com/api/1.0/tasks").unwrap_or_else(|e| panic!("{e}"));
            c.walk.client.http().rate_gate_key(&url)
        };
        let mine = key("1200000000000001", "2/1200/1201:abc");
        assert_eq!(mine, key("1200000000000002", "2/1200/1201:abc"));
        assert_ne!(mine, key("1200000000000001", "2/1300/1301:xyz"));
        assert!(mine.starts_with("asana"), "{mine}");
        assert!(!mine.contains("abc"), "{mine}");
        assert!(!mine.contains("app.asana.com"), "{mine}");
    }
}
