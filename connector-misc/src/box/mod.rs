//! The Box connector (source `"box"`): every file and web link under a folder of a Box account
//! (All Files by default), one document each, over the Box API 2.0 with a user's OAuth 2
//! tokens or the app's own (Client Credentials Grant, JWT); with `all_users`, every user of
//! an enterprise.
//!
//! - **Listing**: `GET /2.0/folders/{id}/items` with `usemarker=true`, `limit` and the `fields`
//!   the documents need (`sha1`, `etag`, `modified_at`, `size`, `owned_by`,
//!   `has_collaborations`, `shared_link`, …), folder by folder. The checkpoint
//!   ([`BoxCheckpoint`]) is the stack of folders still to read and Box's marker within the
//!   current one: a resumed run continues mid-folder, and since a marker (unlike an offset)
//!   names a position in the folder, an item added or removed meanwhile shifts nothing.
//! - **Incremental runs**: Box's folder listing has no modified-since filter, so every run
//!   lists the folder tree (one request per `page_size` items, no download). Box sets a
//!   file's `modified_at` on every change of the file itself (a new version, a rename, a
//!   move), but not when a folder holding it is moved or copied in, renamed or shared anew.
//!   So when the host's fingerprint lookup remembers earlier runs
//!   ([`FingerprintLookup::remembers`](connector_core::FingerprintLookup::remembers)), the
//!   files outside the window go to it too, and their version (content, path and access,
//!   below) tells which changed: those are downloaded, the rest cost nothing. Without such a
//!   lookup the window alone decides. The events API (`/events?stream_type=changes`) was not used:
//!   it reports the whole account of the user, not one folder, keeps events for a limited
//!   time and may repeat them, so it would need the same listing as a fallback anyway.
//! - **Deletions** are left to prune ([`SlimConnector`]), which lists every file id.
//! - **Ids** are RAGFlow's, `box:{id}` with Box's file id, which survives renames and moves.
//!   The title is the file name, the link `https://app.box.com/file/{id}`, `updated_at` its
//!   `modified_at` (RAGFlow used `created_at`, so edits never synced); metadata holds `path`
//!   (below the configured folder), `folder_id`, `size`, `sha1`, `etag`, `created_at`,
//!   `modified_by` and `description`; `parent_id` is `box-folder:{id}`.
//! - **Access**: the file's owner, the token's user (`GET /users/me`, once a run), its
//!   collaborators and those of every folder above it, the configured one's ancestors
//!   included (accepted collaborations whose role may read: not `uploader`; users by login,
//!   groups as `box-group:{id}`). Shared links count as Box applies them
//!   (`effective_access`): `open` without a password makes a file public, `company` adds
//!   `box-enterprise:{id}` (every user of the token user's enterprise). Collaborations are read
//!   only for items whose `has_collaborations` is set (one request each).
//!   `include_permissions: false` leaves access unset.
//! - **Fingerprint**: `sha1` and `etag`, and a hash of the path and the access, all listed, so
//!   an unchanged file is reported unchanged without a download.
//! - **Content**: `GET /2.0/files/{id}/content`, whose `302` to Box's download host is followed
//!   without the token; text extensions as text, the rest as bytes with a guessed MIME type.
//!   A file over `max_file_size` (its listed size) is a failure without a download; one gone
//!   between the listing and the download (404) yields nothing; one Box has not finished
//!   storing (`202` with `Retry-After`, just uploaded) is waited for twice, then a retryable
//!   failure, never an empty document. A text file not in UTF-8 goes as `text/plain` bytes.
//! - **Resume**: a folder deleted while the walk is inside it is skipped; a marker Box no
//!   longer takes restarts that folder from its first page; a marker Box repeats ends it.
//! - **Tokens**: `credentials.box_tokens` as RAGFlow stores it. A 401 renews the access token
//!   once at the token endpoint; Box's refresh tokens are single-use, so the new pair is
//!   handed to the [`CredentialStore`] (as the whole `box_tokens` JSON, other keys kept)
//!   *before* the new access token is used, and a store that cannot save it stops the run.
//!   `check()` renews only when a store was given: without one it would spend the stored
//!   refresh token and lose the new one.
//! - **App tokens**: `box_client_id` + `box_client_secret`
//!   (Client Credentials Grant) or `box_jwt_config` (Box's `config.json`; JWT assertion signed
//!   RS256 with the app's key, `exp` 45 s, a fresh `jti` per token request; the key as the
//!   console hands it out, encrypted PKCS#8 decrypted once with `appAuth.passphrase`
//!   (RustCrypto's `pkcs8`: PBES2, PBKDF2 or scrypt, AES-CBC or 3DES; a passphrase that does
//!   not decrypt it is a configuration error naming the field), or a plain PEM), acting for
//!   `box_subject_type`/`box_subject_id` (the enterprise's service account by default). The
//!   token is kept until a minute before its `expires_in`, or a 401, then got again; nothing
//!   rotates, so no [`CredentialStore`] is needed and `check()` may renew freely.
//! - **Enterprise**: `as_user_id` sends Box's `As-User` header with every API request, so an
//!   admin's token reads one user's files (one connector per user); access is then computed
//!   as that user sees it. `all_users` reads every user of the enterprise: the token's own
//!   and its active managed users (`GET /users`), each with `As-User`. Each user is a
//!   **partition** (`user:{id}`, through [`Connector::discover_partitions`], which the sync
//!   service runs): a job of its own with its own checkpoint, so one user's failure or
//!   resume replays no one else's. A host that runs no partitions (the CLI) reads them one
//!   after the other in one sync, the checkpoint naming the user being read beside their
//!   folder walk (such checkpoints still load there; a partition's job starts with a
//!   checkpoint of its own, its first run listing the user's folders again, where unchanged
//!   files cost no download). An item is read only in its owner's walk when the owner is one
//!   of them (a folder shared by ten colleagues is listed once); items owned outside the
//!   enterprise come in each walk that sees them. Documents, ids and access are the same
//!   either way. A user the app may not act as is a failure naming them, and the run goes
//!   on. A partition's job needs the users too (whose items are left to whom): discovery
//!   hands each partition the listing it made
//!   ([`Connector::discover_partition_specs`], [`Connector::partition_with`]), so a cycle
//!   run by the sync service lists the users once rather than once per partition; the
//!   partitions a connector builds from their keys alone ([`Connector::partition`]) share its
//!   last listing for a few minutes (one listing between them, never process-wide); a
//!   partition built in another process or after a restart lists them itself (the `users`
//!   module's docs say more). DESIGN §4 names `partitions()` alone: the
//!   hand-off is core's additive extension of it.
//! - **Web links** become small Markdown documents (`# name`, the URL, the description), id
//!   `box-web-link:{id}`, link `https://app.box.com/web_link/{id}`, metadata `url`.
//! - **Box Notes** (`.boxnote`, JSON) are converted to Markdown: the ProseMirror document of
//!   current notes (headings, lists, check lists, quotes, code, tables, links, emphasis), the
//!   plain text of older Etherpad notes.
//! - **Comments**: a file's `comment_count` is listed and is part of its version, so a new
//!   (or deleted) comment re-sends the file; its comments (`GET /files/{id}/comments`, at most
//!   1000) are then read with the download: in metadata `comments` (`id`, `author`,
//!   `created_at`, `message`, `is_reply`) for every file, and after the body as a
//!   `## Comments` section for text files and notes. An edit of a comment's text changes no
//!   count and waits for the file's next change.
//! - **Limits**: 429 with `Retry-After` is waited out by core's client; requests are kept to
//!   `requests_per_minute` (Box's 1000 per user by default). Trashed items are skipped.

mod auth;
mod checkpoint;
mod client;
mod config;
mod notes;
mod pages;
mod users;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{HttpClient, OAuthToken};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, CredentialStore, DynConnector,
    Error, ErrorKind, PartitionContext, PartitionSpec, Result, Roles, Secret, SlimConnector,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{BoxCheckpoint, FolderFrame};
pub use config::{
    BoxConfig, BoxCredentials, BoxJwtConfig, BoxJwtConfigSchema, BoxSubjectType, BoxTokens,
    BoxTokensSchema, DEFAULT_API_BASE_URL, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TOKEN_URL,
};

use client::Client;
use config::TOKENS_FIELD;
use pages::Walk;

/// The registry key of the Box connector.
pub const SOURCE: &str = "box";

/// Reads a Box account. Built from a [`BoxConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::r#box::{BoxConfig, BoxConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let tokens = r#"{"client_id": "c", "client_secret": "s", "access_token": "a", "refresh_token": "r"}"#;
/// let connector = BoxConnector::new(BoxConfig::new(tokens))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BoxConnector {
    config: BoxConfig,
    walk: Walk,
    /// Whether `box_tokens` holds an access token (else the first request renews one).
    configured_access: bool,
    /// Whether the token is renewed with a user's single-use refresh token (`box_tokens`),
    /// rather than got by the app on its own (nothing to spend, nothing to save).
    single_use: bool,
    /// Whether the host gave a [`CredentialStore`]: without one, `check()` does not renew.
    store_set: AtomicBool,
    /// With `all_users`, the partition of one user (`user:{id}`): only their walk is read.
    user: Option<String>,
    /// The enterprise's users as the discovery that found this partition listed them
    /// ([`Connector::partition_with`]), and this connector's recent listing, which the
    /// partitions it builds share (one listing for many partitions built by key alone).
    known: users::KnownUsers,
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

impl BoxConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: BoxConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_minute, Duration::from_secs(60))
            .build()?;
        let token_url = url_or(config.token_url.as_ref(), DEFAULT_TOKEN_URL)?;
        let app = auth::AppAuth::from_credentials(&config.credentials)
            .map_err(|problems| Error::config(problems).with_connector(SOURCE))?;
        let (token, single_use, configured_access) = match (app, &config.credentials.box_tokens) {
            (Some(app), _) => (app.token(token_url), false, false),
            (None, Some(tokens)) => {
                let parts = config::token_parts(tokens).map_err(|messages| {
                    Error::config(
                        messages
                            .into_iter()
                            .map(|m| connector_core::FieldError::new(TOKENS_FIELD, m))
                            .collect(),
                    )
                    .with_connector(SOURCE)
                })?;
                let configured = parts.access_token.is_some();
                (user_token(parts, token_url), true, configured)
            }
            (None, None) => {
                return Err(
                    Error::internal("no credentials passed validation").with_connector(SOURCE)
                );
            }
        };
        let api = url_or(config.api_base_url.as_ref(), DEFAULT_API_BASE_URL)?;
        let client = Client::new(
            http,
            Arc::new(token),
            api,
            config.page_size.get().min(1000),
            config.as_user_id.clone(),
        );
        let walk = Walk {
            client,
            root: config.folder_id.clone(),
            max: config.max_file_size.get(),
            permissions: config.include_permissions,
            me: Arc::default(),
            users: None,
        };
        Ok(Self {
            config,
            walk,
            configured_access,
            single_use,
            store_set: AtomicBool::new(false),
            user: None,
            known: users::KnownUsers::default(),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &BoxConfig {
        &self.config
    }
}

impl fmt::Display for BoxConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => write!(f, "{SOURCE}:user/{user}/folder/{}", self.config.folder_id),
            None => write!(f, "{SOURCE}:folder/{}", self.config.folder_id),
        }
    }
}

#[async_trait]
impl Connector for BoxConnector {
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

    /// Lists one entry of the folder: the token is accepted (or renewed), the user may read
    /// the folder, it exists.
    ///
    /// Box refresh tokens are single-use, so the token is renewed here only when the host gave
    /// a [`CredentialStore`] to keep the new pair: a check of a stored config without one (a
    /// "test connection") would otherwise spend the stored refresh token and leave the next
    /// sync with a dead one. Without a store an expired access token is reported instead.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.box_tokens`, `PermissionDenied` for a folder the
    /// user may not read, `NotFound` naming `folder_id`, `Unavailable` when Box cannot be
    /// reached.
    async fn check(&self) -> Result<()> {
        let client = &self.walk.client;
        let renews = !self.single_use
            || self.store_set.load(Ordering::Acquire)
            || !client.token().can_refresh();
        let listed = if renews {
            client
                .folder_items(&self.config.folder_id, None, 1, true)
                .await
        } else if !self.configured_access {
            return Err(unrenewed(
                "`box_tokens` holds no access token, and getting one here would spend Box's single-use refresh token with nowhere to keep the new one; run a sync, which renews and saves it",
            ));
        } else {
            match client
                .folder_items_unrenewed(&self.config.folder_id, None, 1, true)
                .await
            {
                Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                    return Err(unrenewed(
                        "Box refused the access token (they last an hour); it was not renewed because Box's refresh tokens are single-use and this check has no CredentialStore to keep the new one: a sync renews and saves it, and if syncs fail too, authorise again",
                    )
                    .with_cause(e));
                }
                other => other,
            }
        };
        listed
            .map(|_| ())
            .map_err(|e| self.walk.named_root_error(e))?;
        if self.config.all_users {
            // The token may list the enterprise's users (an app needs "Manage users").
            client.users(None).await.map_err(|e| {
                if e.kind() == ErrorKind::PermissionDenied {
                    Error::new(
                        ErrorKind::PermissionDenied,
                        "`all_users` needs a token that may list the enterprise's users: an app acting for the enterprise with the \"Manage users\" scope (and \"Make API calls using the as-user header\"), or an admin's tokens",
                    )
                    .with_connector(SOURCE)
                    .with_field("all_users")
                    .with_cause(e)
                } else {
                    e
                }
            })?;
        }
        Ok(())
    }

    /// With `all_users`, `user:{id}` for the token's own user and each active managed user
    /// of the enterprise (`GET /users`, marker paged): one job and one checkpoint per user.
    /// Empty otherwise, and for a connector that is already one user's partition.
    ///
    /// # Errors
    /// As [`discover_partition_specs`](Connector::discover_partition_specs).
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(PartitionSpec::keys(self.discover_partition_specs().await?))
    }

    /// [`discover_partitions`](Connector::discover_partitions), each partition handed the
    /// listing of the users, always made afresh here, so their jobs do not list them again
    /// ([`partition_with`](Connector::partition_with)).
    ///
    /// # Errors
    /// The errors of the users' listing (`PermissionDenied` for a token that may not list
    /// the enterprise's users, ...).
    async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
        if !self.config.all_users || self.user.is_some() {
            return Ok(self
                .partitions()
                .into_iter()
                .map(PartitionSpec::new)
                .collect());
        }
        self.walk.user_partitions(&self.known.recent).await
    }

    /// With `all_users`, the user of `user:{id}` alone, read as the enterprise-wide sync
    /// reads them (same documents, ids and access), with a checkpoint of their own. Its run
    /// needs the enterprise's users first (whose items are left to whom): this connector's
    /// recent listing (by its discovery, or by another partition it built) when there is one
    /// a few minutes old at most, else listed by the run and kept for the others.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        self.user_partition(partition, None)
    }

    /// [`partition`](Connector::partition), with the users as discovery listed them: its
    /// run lists them again only when its user is not among them (added since).
    fn partition_with(&self, partition: &str, context: &PartitionContext) -> Option<DynConnector> {
        self.user_partition(partition, context.get_arc::<users::Users>())
    }

    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.walk.client.token().set_store(store);
        self.store_set.store(true, Ordering::Release);
        self.single_use && self.walk.client.token().can_refresh()
    }
}

impl BoxConnector {
    /// The partition `user:{id}` with `all_users`, with the users `handed` by discovery.
    fn user_partition(
        &self,
        partition: &str,
        handed: Option<Arc<users::Users>>,
    ) -> Option<DynConnector> {
        let user = partition
            .strip_prefix(users::PARTITION_PREFIX)?
            .trim()
            .to_owned();
        if !self.config.all_users || self.user.is_some() || user.is_empty() {
            return None;
        }
        let mut connector = Self::new(self.config.clone()).ok()?;
        // The same token: a refresh one partition spends is the others' too.
        connector.walk.client = self.walk.client.clone();
        connector.configured_access = self.configured_access;
        connector
            .store_set
            .store(self.store_set.load(Ordering::Acquire), Ordering::Release);
        connector.user = Some(user);
        connector.known = users::KnownUsers {
            handed,
            recent: Arc::clone(&self.known.recent),
        };
        Some(Arc::new(connector))
    }
}

/// The token of `box_tokens`: renewed with its refresh token when it has one, each rotation
/// handed to the [`CredentialStore`] as the whole `box_tokens` JSON with the new pair.
fn user_token(parts: config::TokenParts, token_url: Url) -> OAuthToken {
    let token = OAuthToken::new(SOURCE, TOKENS_FIELD, parts.access_token.clone());
    let Some(refresh) = &parts.refresh_token else {
        return token;
    };
    let rest = parts.rest.clone();
    token
        .refreshable(
            token_url,
            parts.client_id.clone(),
            parts.client_secret.clone(),
            refresh.clone(),
            TOKENS_FIELD,
        )
        .persist_with(move |access, refresh| {
            // The JSON as it was given, with the new pair: what the next run reads.
            let mut saved = rest.clone();
            saved.insert("access_token".into(), access.expose().into());
            saved.insert("refresh_token".into(), refresh.expose().into());
            Secret::new(serde_json::Value::Object(saved).to_string())
        })
        .restore_with(|saved| {
            // What another job of this connector saved after spending the token we hold (a
            // sync and a prune renewing side by side).
            let saved: serde_json::Value = serde_json::from_str(saved.expose()).ok()?;
            let field = |k: &str| saved[k].as_str().filter(|v| !v.is_empty()).map(Secret::new);
            Some((field("access_token"), field("refresh_token")?))
        })
}

/// A check's refusal to renew the token, naming `credentials.box_tokens`.
fn unrenewed(message: &str) -> Error {
    Error::new(ErrorKind::Unauthenticated, message)
        .with_connector(SOURCE)
        .with_field(TOKENS_FIELD)
}

impl CheckpointedConnector for BoxConnector {
    type Checkpoint = BoxCheckpoint;

    fn initial_checkpoint(&self) -> BoxCheckpoint {
        BoxCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: BoxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
        if let Some(user) = &self.user {
            self.walk
                .one_user_checkpointed(user.clone(), self.known.clone(), from, window, ctx)
        } else if self.config.all_users {
            self.walk.all_users_checkpointed(from, window, ctx)
        } else {
            self.walk.checkpointed(from, window, ctx)
        }
    }
}

impl SlimConnector for BoxConnector {
    /// Every file id under the folder, whatever the file's size; fails rather than come back
    /// short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        if let Some(user) = &self.user {
            self.walk
                .one_user_ids(user.clone(), self.known.clone(), ctx)
        } else if self.config.all_users {
            self.walk.all_users_ids(ctx)
        } else {
            self.walk.list_ids(ctx)
        }
    }
}

impl connector_core::RefetchConnector for BoxConnector {
    /// These files again, by `GET /2.0/files/{id}` then a download; a file that is gone or
    /// no longer under the folder yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        match &self.user {
            Some(user) => self
                .walk
                .one_user_refetch(user.clone(), self.known.clone(), ids, ctx),
            None => self.walk.refetch(ids, ctx),
        }
    }
}
