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
//! - **Ids** are RAGFlow's: `webdav:{base_url}:{path under base_url}` (names decoded). The
//!   title is the file name, the link the file's URL, `updated_at` its `getlastmodified`;
//!   metadata holds `path` (relative to `remote_path`), `size`, `etag` and `content_type`.
//!   `access` is none: WebDAV lists no permissions.
//! - **Fingerprint**: from `getetag`, else `getcontentlength` + `getlastmodified` (nginx lists
//!   no ETags). The host's fingerprints are asked once per page and an unchanged file costs no
//!   GET. Files over `max_file_size` by their listed length are failures before any download;
//!   a file listed without a length is downloaded with the cap enforced on the body.
//! - **Window**: an incremental run takes the files whose `getlastmodified` is in the window
//!   (a file without a readable one is in every window; its fingerprint still skips it).
//! - **Errors**: a failed listing (any folder) ends the sync with its error, never an empty
//!   page (RAGFlow swallows it, and its prune then deletes everything); 401 is
//!   [`Unauthenticated`](connector_core::ErrorKind::Unauthenticated) and 403
//!   [`PermissionDenied`](connector_core::ErrorKind::PermissionDenied), both naming
//!   `credentials.password`. A file that cannot be downloaded, is too large or is a text file
//!   that is not UTF-8 is a [`Failure`](connector_core::Failure) naming its path; the sync goes
//!   on. Requests go through core's `HttpClient`: retries,
//!   `Retry-After`, timeouts, the network policy.
//! - **Content**: as the `local` connector: [`TEXT_EXTENSIONS`] (`md`, `txt`, `csv`,
//!   `json`, ...) as UTF-8 text, everything else as bytes with its MIME type; images only with
//!   `allow_images`.
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
    CheckpointedBatch, CheckpointedConnector, Connector, Error, Result, Roles, SlimConnector,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use crate::files::TEXT_EXTENSIONS;
pub use checkpoint::WebdavCheckpoint;
pub use client::IMAGE_EXTENSIONS;
pub use config::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE, WebdavConfig, WebdavCredentials};

use client::Dav;

/// The registry key of the WebDAV connector.
pub const SOURCE: &str = "webdav";

/// The credential field 401 and 403 errors name.
const CREDENTIAL_FIELD: &str = "credentials.password";

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
        let auth = Auth::Basic {
            username: config.credentials.username.clone(),
            password: config.credentials.password.clone(),
        };
        let http = HttpClient::builder(SOURCE)
            .auth(auth, CREDENTIAL_FIELD)
            .network_policy(network)
            .timeout(Duration::from_secs(60))
            .build()?;
        let remote: Vec<String> = config
            .remote_segments()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut root = config.base_url.clone();
        if let Ok(mut segments) = root.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(&remote);
            segments.push("");
        }
        let dav = Dav {
            http,
            base_id: config.base_url.as_str().to_owned(),
            remote,
            root,
            page_size: usize::try_from(config.page_size.get()).unwrap_or(usize::MAX),
            allow_images: config.allow_images,
        };
        Ok(Self {
            config,
            dav: Arc::new(dav),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &WebdavConfig {
        &self.config
    }
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
        self.dav.check().await
    }
}

impl CheckpointedConnector for WebdavConnector {
    type Checkpoint = WebdavCheckpoint;

    fn initial_checkpoint(&self) -> WebdavCheckpoint {
        WebdavCheckpoint::start()
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
