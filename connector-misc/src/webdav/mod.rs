//! The WebDAV connector (source `"webdav"`): every file under a folder of a WebDAV server
//! (Nextcloud, ownCloud, a NAS, Apache `mod_dav`, nginx, rclone, wsgidav ...), one document each.
//!
//! - **Walk**: one `PROPFIND` with `Depth: 1` per folder, depth-first, each folder sorted by
//!   name, so pages, checkpoints and `list_ids` always come in the same order. Never
//!   `Depth: infinity`, which servers refuse (403 `propfind-finite-depth`) or time out on.
//!   The answer is read with quick-xml; only the properties of `2xx` propstats count.
//! - **Hrefs** are resolved against the request URL (absolute URLs and absolute paths alike),
//!   split into percent-decoded names and compared name by name, so different encodings of
//!   the same name, a trailing `/` or its absence, and a server mounted under a sub-path or
//!   behind a proxy that rewrites the prefix all give the same paths. Request URLs are built
//!   from the names, each encoded once.
//! - **Ids** are RAGFlow's: `webdav:{base_url}:{path under base_url}`, `base_url` as written
//!   with its trailing `/` trimmed (`base_url.rstrip("/")`), names decoded. The title is the
//!   path under `remote_path` (`Handbook/README.md`), `updated_at` its `getlastmodified`,
//!   `parent_id` its folder's id; metadata holds `path` (relative to `remote_path`), `size`,
//!   `etag`, `content_type`, `extension`.
//!   Nextcloud and ownCloud also list `oc:owner-id` (the document's `owners`, metadata
//!   `owner_id`, `owner_name`), `oc:fileid` (metadata `fileid`, and the link goes to the web
//!   UI's `/index.php/f/{fileid}`) and `oc:permissions`; elsewhere the link is the file's
//!   URL. `access` is none: PROPFIND lists no readers.
//! - **Files read**: RAGFlow's accepted extensions (text formats, `pdf`, `docx`, `pptx`,
//!   `xlsx`, `eml`, `epub`, `html`; images with `allow_images`) or the configured
//!   `extensions`; Office lock files never. Others are neither downloaded nor listed.
//! - **Fingerprint**: from `getetag`, else `getcontentlength` + `getlastmodified` (nginx lists
//!   no ETags). The host's fingerprints are asked once per page and an unchanged file costs no
//!   GET. Files over `max_file_size` by their listed length are failures before any download;
//!   a file listed without a length is downloaded with the cap enforced on the body.
//! - **Window**: the whole tree is listed on every run, and a file with a version token is
//!   handed to the fingerprint lookup whatever its `getlastmodified`, which is the file's own
//!   mtime, kept by desktop clients, `rclone`, `cp -p` and moves (RAGFlow #19955): a new id or
//!   version is read, the rest skipped without a GET. Only files listed without any token
//!   are held to the window, widened to whole seconds; `min_overlap` is 5 minutes.
//! - **Unchanged folders**: Nextcloud and ownCloud change a folder's ETag whenever anything
//!   below it changes (plain `mod_dav`, nginx, rclone and wsgidav do not). There, an
//!   incremental run does not list a sub-folder listed with the ETag the last completed run
//!   recorded for it (`skip_unchanged_folders`: `auto` detects those servers by the `oc:`
//!   properties of the folder, `always` trusts any server, `never` lists every folder). The
//!   ETags travel in the checkpoint ([`WebdavCheckpoint`]) and are carried over to the next
//!   incremental run; a folder under which something could not be listed is not recorded,
//!   and ETags recorded under other `extensions` or `allow_images` are not used. A file that
//!   failed to download in a skipped folder is read again by the failed-items retry.
//! - **Errors**: a failed listing of the configured folder ends the sync with its error,
//!   never an empty page (RAGFlow swallows it, and its prune then deletes everything). A
//!   sub-folder gone since its parent was listed (404, 410) is skipped; one that cannot be
//!   listed (403, 5xx or a timeout after retries) is a failure naming it and the sync goes
//!   on, while `list_ids` fails so nothing under it is pruned. 401 is
//!   [`Unauthenticated`](connector_core::ErrorKind::Unauthenticated) and 403
//!   [`PermissionDenied`](connector_core::ErrorKind::PermissionDenied), both naming
//!   `credentials.password`. The login goes as HTTP Basic, or with `auth_scheme: "digest"` as
//!   HTTP Digest (RFC 7616, core's [`Auth::Digest`]: the server's challenge answered, the
//!   password never sent). A file that cannot be downloaded, is too large or is a text file
//!   that is not UTF-8 is a [`Failure`](connector_core::Failure) naming its path; the sync goes
//!   on. Requests go through core's `HttpClient`: retries,
//!   `Retry-After`, timeouts, the network policy.
//! - **Content**: as the `local` connector: [`TEXT_EXTENSIONS`] (`md`, `txt`, `csv`,
//!   `json`, ...) as UTF-8 text, everything else as bytes with its MIME type.
//! - **Refetch**: the files that failed last time are read again first, by id: a PROPFIND
//!   `Depth: 0` of the path the id carries, then a GET, so a failure no longer holds the
//!   incremental window back.
//! - **`check()`** uses a client of its own (20 s, one retry, `Retry-After` up to 5 s): a
//!   wrong login, a server that asks for Digest/NTLM/Negotiate (`Unsupported`), a missing
//!   folder (`NotFound` naming `remote_path`), a redirect to another host or scheme (naming
//!   the URL to configure) and an unreachable server are told apart in seconds.
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
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use crate::files::TEXT_EXTENSIONS;
pub use checkpoint::{FolderTags, WebdavCheckpoint};
pub use client::{DOCUMENT_EXTENSIONS, IMAGE_EXTENSIONS};
pub use config::{
    AuthScheme, BaseUrl, DEFAULT_LISTING_TIMEOUT_SECS, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE,
    FolderSkip, WebdavConfig, WebdavCredentials,
};

use client::Dav;

/// The registry key of the WebDAV connector.
pub const SOURCE: &str = "webdav";

/// The credential field 401 and 403 errors name.
const CREDENTIAL_FIELD: &str = "credentials.password";

/// How far an incremental window reaches back before the previous one's end (files listed
/// without a version token only; see the module docs).
const MIN_OVERLAP: Duration = Duration::from_secs(5 * 60);

/// Reads a folder of a WebDAV server. Built from a [`WebdavConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::webdav::{WebdavConfig, WebdavConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let url = "https://cloud.example.org/remote.php/dav/files/alice/".parse().unwrap();
/// let config = WebdavConfig::new(url, "/Handbook", "alice", "app-password");
/// let connector = WebdavConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WebdavConnector {
    config: WebdavConfig,
    dav: Arc<Dav>,
    network: connector_core::net::NetworkPolicy,
}

impl WebdavConnector {
    /// A connector for the folder in `config`. The server is not contacted until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path.
    pub fn new(config: WebdavConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let network = config
            .network_policy()
            .map_err(|e| e.with_connector(SOURCE))?;
        let http = HttpClient::builder(SOURCE)
            .auth(login(&config), CREDENTIAL_FIELD)
            .network_policy(network.clone())
            .timeout(Duration::from_secs(60))
            .build()?;
        let remote: Vec<String> = config.remote_segments();
        let mut root = config.base_url.url().clone();
        if let Ok(mut segments) = root.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(&remote);
            segments.push("");
        }
        let dav = Dav {
            http,
            base_id: config.base_url.id_prefix().to_owned(),
            remote,
            root,
            page_size: usize::try_from(config.page_size.get()).unwrap_or(usize::MAX),
            allow_images: config.allow_images,
            extensions: config
                .extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_lowercase())
                .collect(),
            listing_timeout: Duration::from_secs(config.listing_timeout_secs.get()),
            web_root: web_root(config.base_url.url()),
            folder_skip: config.skip_unchanged_folders,
            filter_key: String::new(),
        };
        let dav = Dav {
            filter_key: dav.walk_filter_key(),
            ..dav
        };
        Ok(Self {
            config,
            dav: Arc::new(dav),
            network,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &WebdavConfig {
        &self.config
    }
}

/// The login, as `auth_scheme` sends it.
fn login(config: &WebdavConfig) -> Auth {
    let username = config.credentials.username.clone();
    let password = config.credentials.password.clone();
    match config.auth_scheme {
        AuthScheme::Digest => Auth::Digest { username, password },
        _ => Auth::Basic { username, password },
    }
}

/// The web UI root (`https://host/index.php/`, under any prefix) of a Nextcloud or ownCloud
/// DAV endpoint (`.../remote.php/dav/files/<user>/` or `.../remote.php/webdav/`).
fn web_root(base: &url::Url) -> Option<url::Url> {
    let path = base.path();
    let at = path.find("/remote.php/")?;
    let rest = &path[at + "/remote.php/".len()..];
    let is_files = rest.starts_with("webdav") || rest.starts_with("dav/files/");
    if !is_files {
        return None;
    }
    let mut root = base.clone();
    root.set_path(&format!("{}/index.php/", &path[..at]));
    Some(root)
}

impl fmt::Display for WebdavConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SOURCE}:{}",
            connector_core::error::redact_url(&self.dav.root)
        )
    }
}

#[async_trait]
impl Connector for WebdavConnector {
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

    /// One PROPFIND `Depth: 0` of the configured folder.
    ///
    /// # Errors
    /// [`Unauthenticated`](connector_core::ErrorKind::Unauthenticated) for a wrong login (401),
    /// [`PermissionDenied`](connector_core::ErrorKind::PermissionDenied) when the login may not
    /// read the folder (403), [`NotFound`](connector_core::ErrorKind::NotFound) for a missing
    /// folder or a file, [`Unavailable`](connector_core::ErrorKind::Unavailable) for a server
    /// that does not answer, [`InvalidData`](connector_core::ErrorKind::InvalidData) for one
    /// that is no WebDAV server.
    async fn check(&self) -> Result<()> {
        let http = HttpClient::builder(SOURCE)
            .auth(login(&self.config), CREDENTIAL_FIELD)
            .network_policy(self.network.clone())
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .max_retries(1)
            .rate_limit_retries(1, Duration::from_secs(5))
            .retry_after_cap(Duration::from_secs(5))
            .backoff(Duration::from_millis(200), Duration::from_millis(500))
            .build()?;
        self.dav.check(&http, self.config.auth_scheme).await
    }

    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }
}

impl CheckpointedConnector for WebdavConnector {
    type Checkpoint = WebdavCheckpoint;

    fn initial_checkpoint(&self) -> WebdavCheckpoint {
        WebdavCheckpoint::start()
    }

    /// The folder ETags this run recorded, for the next incremental run to skip by.
    fn carry_over(&self, last: &WebdavCheckpoint) -> Option<WebdavCheckpoint> {
        Some(last.carried_over())
    }

    fn load_from_checkpoint(
        &self,
        from: WebdavCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<WebdavCheckpoint>>> {
        pages::checkpointed(
            &self.dav,
            self.config.max_file_size.get(),
            from,
            window,
            ctx,
        )
    }
}

impl SlimConnector for WebdavConnector {
    /// Every id a load could produce. Fails, rather than come back short, when a folder
    /// cannot be listed.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.dav, ctx)
    }
}

impl RefetchConnector for WebdavConnector {
    /// Reads the files with these ids again: a PROPFIND `Depth: 0` for each one's version and
    /// length, then its GET. Ids of files gone, now folders, outside `remote_path` or no
    /// longer read by the walk yield nothing (prune deals with them).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(&self.dav, self.config.max_file_size.get(), ids, ctx)
    }
}
