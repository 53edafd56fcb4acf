//! The Dropbox connector (source `"dropbox"`): every file under a folder of a Dropbox account
//! (the whole account by default), one document each, over the HTTP API v2.
//!
//! - **Team spaces**: `users/get_current_account` tells the account's root namespace; when it
//!   is not the member's home (a Dropbox Business team space), every call carries
//!   `Dropbox-API-Path-Root` with the team root, so team folders are listed with the member's
//!   own folder (`team_space: false` keeps the home root). A team token reads the member named
//!   by `team_member_id` (`Dropbox-API-Select-User`); without it, it is refused naming that
//!   field. A team token with `team_members` reads each member's space as a **partition**
//!   ([`Connector::partitions`]): a job of its own with its own cursor (the sync service
//!   runs them; a host that runs no partitions is told to name one `team_member_id`).
//!   With `all_team_members`, every active member of the team (and the team folders each
//!   sees) is read: each member a partition found by [`Connector::discover_partitions`]
//!   (their `team_member_id`, read as a config naming it would), a job of its own with its
//!   own cursor; a host that runs no partitions (the CLI) reads them one after the other in
//!   one sync, the member and every member's cursor in the checkpoint (the `team` module's
//!   docs say how).
//! - **Listing**: `files/list_folder` with `recursive: true` and `limit`, then
//!   `files/list_folder/continue`. The cursor is the checkpoint ([`DropboxCheckpoint`]): a
//!   resumed run continues the listing where it stopped, and the cursor a finished run ends
//!   with is carried to the next incremental run, which continues from it and so gets exactly
//!   the files changed since (an edit, a new file, a move), whatever their times. A cursor
//!   Dropbox no longer honours (the `reset` error), or one made for another folder or root
//!   than the config's, starts the listing over, in the same run.
//! - **Deletions** come from the cursor: the sync's listing asks for `include_deleted`, so
//!   the changes an incremental run reads carry a `deleted` entry for each file deleted or
//!   moved out of `path` since. Such an entry names a path, not the file id the document's id
//!   is made of: `files/list_revisions` (`path` mode) tells the id of the file last at that
//!   path, `files/get_metadata` whether it still lives in the folder (moved or renamed
//!   within it: kept); the others are handed to core as the page's deleted ids
//!   ([`Batch::deleted`]) and leave the sink in that run. A deleted folder's entry names no
//!   file; Dropbox lists the files deleted with it one by one as a rule, and any it does not
//!   are left to prune ([`SlimConnector`], which lists every id). A listing (the first run, a
//!   Full run, a relisting after a reset) reports no deletions: run prune after those if
//!   files may have gone before them. RAGFlow's `sync_deleted_files` says the same when
//!   given.
//! - **Ids** are RAGFlow's, `dropbox:{id}` with Dropbox's file id (`dropbox:id:a4ayc…`), which
//!   survives renames and moves. The title is the file name, the link the file previewed in
//!   its folder on dropbox.com, `updated_at` its `server_modified` (when Dropbox got this
//!   version; RAGFlow used `client_modified`, which a desktop client may set to anything);
//!   `parent_id` the path of its folder as Dropbox shows it (`/Team notes/2025`, `/` at the
//!   top); metadata holds `path`, `size`, `rev`, `extension` and, inside a shared folder,
//!   `shared_folder_id`, `read_only` and `modified_by` (the account id of the last editor).
//! - **Access** (unless `sync_permissions: false`; needs the `sharing.read` scope): a file in
//!   a shared folder may be read by the folder's members (`sharing/list_folder_members`,
//!   asked once per folder and run), a file shared on its own (`has_explicit_shared_members`)
//!   by its members too (`sharing/list_file_members/batch`, per page), any other file by the
//!   account's owner. Users and invitees by e-mail, groups by group id; `owners` are the
//!   folder's owners, else the account's e-mail. Shared links widen it
//!   (`sharing/list_shared_links`, every link of the account, once per run): a link to the
//!   file or to a folder it is in with audience `public` makes it public, `team` adds the
//!   team as group `team:{team id}`; other audiences (members, a password, no one) add
//!   nobody.
//! - **Fingerprint**: from `content_hash` (else `rev`), the path and the shared folder. The
//!   listing shows them, so an unchanged file is reported unchanged without a download, and a
//!   renamed or moved one is delivered again. A change of a folder's members alone changes no
//!   fingerprint: it reaches the index with the next edit or Full run.
//! - **Content**: `files/download` with the `Dropbox-API-Arg` header (non-ASCII escaped as
//!   `\uXXXX`) and a timeout of a minute plus a second per MiB of the listed size; files
//!   downloading at once hold at most 32 MiB of listed size (a larger file downloads alone).
//!   Text extensions as text (UTF-8, or UTF-16 with its byte order mark; any other charset as
//!   `text/plain` bytes for the host's parser), the rest as bytes with a guessed MIME type. A
//!   file over `max_file_size` (its listed size) is a failure without a download. Paper docs
//!   and other cloud documents Dropbox does not let be downloaded are exported as Markdown
//!   (`files/export`) when offered, else skipped (logged, not a failure).
//! - **Filters**: images only with `allow_images`; `include`/`exclude` globs on the path below
//!   `path` and `extensions`, the same in the listing, prune's id listing and refetches.
//! - **Tokens**: the access token as given; with `dropbox_refresh_token` and
//!   `dropbox_app_key`, a 401 (`expired_access_token`) renews it once at the token endpoint
//!   and the renewed token is handed to the [`connector_core::CredentialStore`]
//!   as the new `credentials.dropbox_access_token` (Dropbox's refresh tokens do not rotate).
//!   A 401 `missing_scope` names the scope, renews nothing; `expired_access_token` without a
//!   refresh token says how to add one.
//! - **Limits**: 429 and 503 with `Retry-After` are waited out by core's client; a 403
//!   `invalid_account_type` (a team's monthly data transport limit) stops the sync.

mod checkpoint;
mod client;
mod config;
mod pages;
mod team;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::{HttpClient, OAuthToken};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, CredentialStore, DynConnector,
    Error, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{DropboxCheckpoint, MemberCursor, Phase};
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_CONTENT_BASE_URL, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE,
    DEFAULT_TOKEN_URL, DropboxConfig, DropboxCredentials,
};

use client::{Client, Scope, TOKEN_FIELD};
use pages::Reader;

/// The registry key of the Dropbox connector.
pub const SOURCE: &str = "dropbox";

/// Reads a Dropbox account. Built from a [`DropboxConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::dropbox::{DropboxConfig, DropboxConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = DropboxConnector::new(DropboxConfig::new("sl.example-token"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DropboxConnector {
    config: DropboxConfig,
    reader: Reader,
    /// A member's partition found by [`Connector::discover_partitions`] (`all_team_members`):
    /// a Dropbox that cannot be read is that member's failure, not the job's error.
    discovered: bool,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("client", &self.client)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

fn url_or(configured: Option<&Url>, default: &str) -> Result<Url> {
    match configured {
        Some(u) => Ok(u.clone()),
        None => Url::parse(default).map_err(|e| {
            Error::internal(format!("bad default URL {default}"))
                .with_connector(SOURCE)
                .with_cause(e)
        }),
    }
}

/// `url` with a trailing `/`, so joining a relative path keeps its own path.
fn as_base(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

impl DropboxConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: DropboxConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .build()?;
        let c = &config.credentials;
        let mut token = OAuthToken::new(SOURCE, TOKEN_FIELD, c.dropbox_access_token.clone());
        if let (Some(refresh), Some(app_key)) = (&c.dropbox_refresh_token, &c.dropbox_app_key) {
            token = token
                .refreshable(
                    url_or(config.token_url.as_ref(), DEFAULT_TOKEN_URL)?,
                    app_key.clone(),
                    c.dropbox_app_secret.clone(),
                    refresh.clone(),
                    "credentials.dropbox_refresh_token",
                )
                .persist_with(|access, _refresh| access.clone());
        }
        let client = Client::new(
            http,
            Arc::new(token),
            as_base(url_or(config.api_base_url.as_ref(), DEFAULT_API_BASE_URL)?),
            as_base(url_or(
                config.content_base_url.as_ref(),
                DEFAULT_CONTENT_BASE_URL,
            )?),
            Scope {
                path: config.api_path(),
                page_size: config.page_size.get().min(2000),
                team_space: config.team_space,
                select_user: config.team_member_id.clone(),
            },
        );
        let filter = config
            .path_filter()
            .map_err(|problems| Error::config(problems).with_connector(SOURCE))?;
        let reader = Reader {
            client,
            max: config.max_file_size.get(),
            filter: Arc::new(filter),
            allow_images: config.allow_images,
            permissions: config.sync_permissions,
        };
        Ok(Self {
            config,
            reader,
            discovered: false,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DropboxConfig {
        &self.config
    }

    /// An error when the config names several team members: each is a partition, read as a
    /// job of its own ([`Connector::partition`]), never all by one stream.
    fn one_member(&self) -> Result<()> {
        if self.config.team_members.is_empty() {
            return Ok(());
        }
        Err(Error::new(
            connector_core::ErrorKind::Config,
            format!(
                "`team_members` names {} members, each a partition read as a job of its own \
                 (the sync service runs them); to read one member here, set `team_member_id` \
                 instead",
                self.config.team_members.len()
            ),
        )
        .with_field("team_members")
        .with_connector(SOURCE))
    }
}

impl fmt::Display for DropboxConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.config.path.is_empty() {
            "/"
        } else {
            &self.config.path
        };
        write!(f, "{SOURCE}:{path}")
    }
}

#[async_trait]
impl Connector for DropboxConnector {
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

    /// The team members of `team_members`, each a partition (its own job and cursor).
    fn partitions(&self) -> Vec<String> {
        self.config.team_members.clone()
    }

    /// With `all_team_members`, the team's active members (`team/members/list_v2`), each a
    /// partition by their `team_member_id`; else the members of `team_members`.
    ///
    /// # Errors
    /// The errors of the members' listing (a token that is not a team's, a missing
    /// `members.read` scope, ...).
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        if !self.config.all_team_members {
            return Ok(self.partitions());
        }
        team::members(&self.reader).await
    }

    /// This connector reading only the member `partition` (as `team_member_id`): one of
    /// `team_members`, or with `all_team_members` a member discovery found.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        let member = partition.trim();
        let discovered = self.config.all_team_members && !member.is_empty();
        if !discovered && !self.config.team_members.iter().any(|m| m == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.team_members = Vec::new();
        config.all_team_members = false;
        config.team_member_id = Some(member.to_owned());
        let mut connector = Self::new(config).ok()?;
        connector.discovered = discovered;
        Some(Arc::new(connector))
    }

    /// Asks for the account (a team token without `team_member_id` is refused naming it),
    /// lists one entry of `path` (not recursively) and downloads a file that does not exist:
    /// the token is accepted, the app may read metadata and contents, the folder exists.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.dropbox_access_token` (or the refresh token when
    /// it cannot be renewed), `PermissionDenied` naming a missing scope
    /// (`files.content.read`, …), `Config` naming `team_member_id` or `path` (a file),
    /// `NotFound` naming `path`, `Unavailable` when Dropbox cannot be reached.
    async fn check(&self) -> Result<()> {
        self.one_member()?;
        if self.config.all_team_members {
            // The team token may list members, and the first of them can be read.
            let members = self.reader.client.team_members().await?;
            let Some(first) = members.first() else {
                return Err(Error::new(
                    connector_core::ErrorKind::NotFound,
                    "the team has no active member to read",
                )
                .with_connector(SOURCE)
                .with_field("all_team_members"));
            };
            let client = self.reader.client.for_member(first);
            client.account().await?;
            client.list(Some(1), false).await?;
            return client.probe_content().await;
        }
        let client = &self.reader.client;
        client.account().await?;
        client.list(Some(1), false).await?;
        client.probe_content().await
    }

    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.reader.client.token().set_store(store);
        self.reader.client.token().can_refresh()
    }
}

impl CheckpointedConnector for DropboxConnector {
    type Checkpoint = DropboxCheckpoint;

    fn initial_checkpoint(&self) -> DropboxCheckpoint {
        DropboxCheckpoint::start()
    }

    /// The cursor the finished run ended with: the next incremental run reads the changes
    /// since.
    fn carry_over(&self, last: &DropboxCheckpoint) -> Option<DropboxCheckpoint> {
        if self.config.all_team_members {
            // Every member's last cursor; the next run starts with the first member again.
            return (!last.member_cursors.is_empty()).then(|| DropboxCheckpoint {
                member_cursors: last.member_cursors.clone(),
                ..DropboxCheckpoint::start()
            });
        }
        last.cursor.as_ref().map(|cursor| DropboxCheckpoint {
            cursor: Some(cursor.clone()),
            phase: Phase::Changes,
            scope: last.scope.clone(),
            ..DropboxCheckpoint::start()
        })
    }

    fn load_from_checkpoint(
        &self,
        from: DropboxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<DropboxCheckpoint>>> {
        if let Err(e) = self.one_member() {
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
        if self.config.all_team_members {
            return team::checkpointed(&self.reader, from, window, ctx);
        }
        if self.discovered {
            let member = self.config.team_member_id.clone().unwrap_or_default();
            return team::one_member(&self.reader, member, from, window, ctx);
        }
        pages::checkpointed(&self.reader, from, window, ctx)
    }
}

impl SlimConnector for DropboxConnector {
    /// Every file id of a fresh listing that the filters admit, whatever the file's size;
    /// fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        if let Err(e) = self.one_member() {
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
        if self.config.all_team_members {
            return team::list_ids(&self.reader, ctx);
        }
        pages::list_ids(&self.reader, ctx)
    }
}

impl connector_core::RefetchConnector for DropboxConnector {
    /// These files again, by `files/get_metadata` then a download; a file that is gone yields
    /// nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        if let Err(e) = self.one_member() {
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
        if self.config.all_team_members {
            return team::refetch(&self.reader, ids, ctx);
        }
        pages::refetch(&self.reader, ids, ctx)
    }
}
