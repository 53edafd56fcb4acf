//! The SeaFile connector (source `"seafile"`): every file of the libraries a SeaFile server
//! lets a token read (the account's, one library, or one folder of it), one document each,
//! over SeaFile's Web API.
//!
//! - **Tokens**: an account token (`credentials.seafile_token`) speaks `api2`; a library token
//!   (`credentials.repo_token`, for the `library` and `directory` scopes, where it wins as in
//!   RAGFlow) speaks `api/v2.1/via-repo-token`. Both are sent as `Authorization: Token …`,
//!   which every SeaFile version accepts.
//! - **Scope** (`sync_scope`): `account` reads every library of `GET /api2/repos/` (with
//!   `include_shared: false` only the account's own); `library` reads `repo_id`; `directory`
//!   reads `sync_path` of `repo_id`. A library listed twice (shared with the account and with
//!   one of its groups) is read once.
//! - **Walk**: libraries by id; in each, one `dir/` request per folder, depth-first, each
//!   folder sorted by name, so pages, checkpoints and `list_ids` always come in the same
//!   order. SeaFile does not page directory listings; the checkpoint ([`SeafileCheckpoint`])
//!   is the library and the path of the last file done, which is the folder stack and the
//!   position in one: a resumed walk re-lists only the folders on the way and skips the names
//!   before the position.
//! - **Ids** are `seafile:{repo_id}:{path}` (RAGFlow's `seafile:{repo_id}:{object id}` changes
//!   with every edit and collides for equal files). The title is the file name, the link the
//!   file in SeaFile's web UI (`{seafile_url}/lib/{repo_id}/file/{path}`), `updated_at` its
//!   `mtime`, `parent_id` its folder's id (`seafile:{repo_id}:/Docs`, `…:/` at the root);
//!   metadata holds `library`, `repo_id`, `path`, `size`, `object_id`, and where
//!   listed `modifier_email`, `modifier_name`, `permission`.
//! - **Access** (what the token's answers tell): with an account token, an own library is its
//!   owner's, a library shared with the account is its owner's and the account's (who else
//!   it is shared with only the owner may ask), a group library is the group's (`groupid`),
//!   all facts of every `/api2/repos/` entry of it, in every scope (`/api2/repos/{id}/` says
//!   `type: repo`, `owner: self|share` whatever the library is, so it is asked only for a
//!   library the listing does not hold); `owners` is the owner's e-mail. A public library
//!   (a `grepo` owned by `Organization`) is public. A library read with a library token
//!   (`repo-info/` names only the library) carries no access.
//! - **Fingerprint**: the file's object id (a content id) from the listing and a hash of its
//!   access, asked of the host's fingerprints once per page before any request: an unchanged
//!   file costs nothing beyond its folder's listing, and a share added or removed (which
//!   changes no object id and no `mtime`) re-sends the library's files. A file over `max_file_size` by its listed `size` is a failure
//!   without a download.
//! - **Content**: the API answers a download link, fetched without the token (its
//!   file-server token is kept out of messages). The file server's `ETag` is the object id of
//!   what it sent: a file changed between the listing and the download is stored with the
//!   version it holds (metadata `changed_since_listing`), so no later run skips a newer one.
//!   Text extensions as UTF-8 text, the rest as bytes with their MIME type.
//! - **Window**: a dirent's `mtime` is the file's own: desktop clients upload it as it was on
//!   disk, moves, renames and restores keep it. So when the host's fingerprints remember
//!   earlier runs, every listed file with an object id goes to the lookup whatever its
//!   `mtime`: a new path or a new object id is read, the rest skipped without a request (the
//!   walk lists every folder anyway). A file without an object id, or any file in a bare poll,
//!   keeps to the window (one without a readable `mtime` is in every window). A moved file's
//!   old id goes at the next prune. A library whose last commit (its `mtime` in
//!   `/api2/repos/`; every change is a commit) is more than an hour before the window's start
//!   is not walked at all; a share changed on such a library is seen by the next reconcile.
//! - **Errors**: an encrypted library is a failure naming the library, and the sync goes on;
//!   a sub-folder gone since its parent was listed (404), or in the `account` scope a library
//!   gone since `/api2/repos/`, is skipped; one the token may not list (403) is a failure
//!   naming it that keeps prune from trusting the listing, and the walk goes on; any other
//!   failed listing, and any of the configured library or folder, ends the sync (never an
//!   empty page). A download link refused with 400 (a one-time repo-token link spent by a
//!   failed first try) is asked for again once. 401 is `Unauthenticated`, 403
//!   `PermissionDenied`, both naming the token's field, 404 `NotFound` (naming `repo_id` for
//!   the configured library), each with SeaFile's `error_msg`; 429 and 5xx are retried by
//!   core's client, honouring `Retry-After`.
//!
//! # Cancel safety
//! Streams hold no lock; dropping one drops its requests in flight. Nothing is committed by
//! the connector itself.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::SeafileCheckpoint;
pub use config::{
    DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, SeafileConfig, SeafileCredentials, SyncScope,
};

use client::Client;

/// The registry key of the SeaFile connector.
pub const SOURCE: &str = "seafile";

/// Reads libraries of a SeaFile server. Built from a [`SeafileConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::seafile::{SeafileConfig, SeafileConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let url = "https://seafile.example.com".parse().unwrap();
/// let connector = SeafileConnector::new(SeafileConfig::account(url, "24fd3c02…"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SeafileConnector {
    config: SeafileConfig,
    client: Client,
}

impl SeafileConnector {
    /// A connector for `config`; the server is not contacted until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: SeafileConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(
                config
                    .network_policy()
                    .map_err(|e| e.with_connector(SOURCE))?,
            )
            .timeout(Duration::from_secs(60))
            .build()?;
        let client = Client::new(&config, http);
        Ok(Self { config, client })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &SeafileConfig {
        &self.config
    }

    fn page_size(&self) -> usize {
        usize::try_from(self.config.page_size.get()).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for SeafileConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = connector_core::error::redact_url(&self.config.seafile_url);
        match (&self.config.repo_id, self.config.sync_scope) {
            (_, SyncScope::Account) | (None, _) => write!(f, "{SOURCE}:{url}"),
            (Some(repo), _) => write!(f, "{SOURCE}:{url}:{repo}:{}", self.client.root),
        }
    }
}

#[async_trait]
impl Connector for SeafileConnector {
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

    /// The token works and the scope exists: the libraries in scope (`GET /api2/repos/`,
    /// `/api2/repos/{id}/` or `repo-info/`), then for the `library` and `directory` scopes the
    /// listing of the first folder read.
    ///
    /// # Errors
    /// `Unauthenticated` (401) or `PermissionDenied` (403) naming the token's field,
    /// `NotFound` naming `repo_id` for a library that does not exist (or a folder for
    /// `sync_path`), `Config` naming `repo_id` when a library token is another library's,
    /// `Unsupported` for an encrypted library, `Unavailable` when the server does not answer.
    async fn check(&self) -> Result<()> {
        let libraries = self.client.libraries().await?;
        if self.config.sync_scope == SyncScope::Account {
            return Ok(());
        }
        let Some(library) = libraries.first() else {
            return Ok(());
        };
        if library.encrypted {
            return Err(Error::new(
                connector_core::ErrorKind::Unsupported,
                convert::encrypted(library).message,
            )
            .with_connector(SOURCE)
            .with_field("repo_id"));
        }
        self.client
            .list_dir(library, &self.client.root)
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.kind() == connector_core::ErrorKind::NotFound {
                    Error::new(
                        connector_core::ErrorKind::NotFound,
                        format!(
                            "the folder {} does not exist in library `{}`",
                            self.client.root, library.name
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("sync_path")
                    .with_cause(e)
                } else {
                    e
                }
            })
    }
}

impl CheckpointedConnector for SeafileConnector {
    type Checkpoint = SeafileCheckpoint;

    fn initial_checkpoint(&self) -> SeafileCheckpoint {
        SeafileCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: SeafileCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SeafileCheckpoint>>> {
        pages::checkpointed(
            &self.client,
            self.page_size(),
            self.config.max_file_size.get(),
            from,
            window,
            ctx,
        )
    }
}

impl SlimConnector for SeafileConnector {
    /// Every id a load could produce, whatever the file's size or time; fails rather than come
    /// back short when a folder cannot be listed.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.client, self.page_size(), ctx)
    }
}

impl connector_core::RefetchConnector for SeafileConnector {
    /// These files again, by path: each folder holding one of them is listed again (for the
    /// current object id, size and time), then the file downloaded; a file that is gone, or
    /// an id outside the scope, yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(&self.client, self.config.max_file_size.get(), ids, ctx)
    }
}
