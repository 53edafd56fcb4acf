//! [`WebdavConfig`]: which server, which folder on it, and how to log in, with RAGFlow's field
//! names.

use std::borrow::Cow;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::ops::Deref;

use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use percent_encoding::percent_decode_str;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Files larger than this are failures unless configured otherwise: 20 MiB, RAGFlow's
/// `BLOB_STORAGE_SIZE_THRESHOLD`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Files per source page unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 256;

/// Seconds one folder's PROPFIND may take unless configured otherwise: 10 minutes, since
/// Nextcloud computes properties file by file and folders of thousands of files take minutes.
pub const DEFAULT_LISTING_TIMEOUT_SECS: u64 = 600;

/// `base_url` as parsed, and as written: the written text (trailing `/` trimmed) is the first
/// part of every document id, as RAGFlow builds it (`base_url.rstrip("/")`), while the parsed
/// URL (host lower-cased, default port dropped, path re-encoded by the `url` crate) is what
/// requests go to. Dereferences to the [`Url`].
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
    text: String,
}

impl BaseUrl {
    /// The URL requests are built from.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The text as configured, without its trailing `/`s: RAGFlow's `self.base_url`.
    pub fn id_prefix(&self) -> &str {
        self.text.trim_end_matches('/')
    }
}

impl From<Url> for BaseUrl {
    fn from(url: Url) -> Self {
        let text = url.as_str().to_owned();
        Self { url, text }
    }
}

impl Deref for BaseUrl {
    type Target = Url;
    fn deref(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&connector_core::error::redact_url(&self.url), f)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&connector_core::error::redact_url(&self.url))
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let url = Url::parse(text.trim()).map_err(serde::de::Error::custom)?;
        Ok(Self {
            url,
            text: text.trim().to_owned(),
        })
    }
}

impl JsonSchema for BaseUrl {
    fn schema_name() -> Cow<'static, str> {
        "BaseUrl".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Url as JsonSchema>::json_schema(generator)
    }
}

/// The configuration of the WebDAV connector (source `"webdav"`), as RAGFlow stores it.
///
/// ```
/// use connector_misc::webdav::WebdavConfig;
///
/// let config: WebdavConfig = connector_core::config::from_json(serde_json::json!({
///     "base_url": "https://cloud.example.org/remote.php/dav/files/alice/",
///     "remote_path": "/Handbook",
///     "credentials": { "username": "alice", "password": "app-password" },
/// }))?;
/// assert_eq!(config.max_file_size.get(), 20 * 1024 * 1024);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebdavConfig {
    /// The server's WebDAV root: `https://cloud.example.org/remote.php/dav/files/alice/`,
    /// `http://nas.local:8080/dav`. A server mounted under a sub-path is fine; `remote_path` is
    /// relative to this URL. Document ids start with it as written (trailing `/` trimmed), as
    /// RAGFlow's do, so ids carried over from RAGFlow stay the same.
    #[schemars(example = &"https://cloud.example.org/remote.php/dav/files/alice/")]
    pub base_url: BaseUrl,
    /// The folder to read, relative to `base_url` (`/` or empty: all of it). Everything under
    /// it is read, folder by folder (PROPFIND `Depth: 1`, never `infinity`). Plain or
    /// percent-encoded (`/Shared Docs` and `/Shared%20Docs` are the same folder).
    #[serde(default = "default_remote_path")]
    #[schemars(example = &"/Handbook")]
    pub remote_path: String,
    /// The login, sent as `auth_scheme` says.
    pub credentials: WebdavCredentials,
    /// How the login is sent: `basic` (the default, as RAGFlow does: on every request, so
    /// use HTTPS) or `digest` (HTTP Digest, RFC 7616: the server's challenge is answered and
    /// the password never sent), for servers that offer only Digest (Apache
    /// `AuthType Digest`, lighttpd `mod_auth` with `auth.backend.htdigest`, wsgidav's default).
    #[serde(default)]
    pub auth_scheme: AuthScheme,
    /// Read image files too (default false: `png`, `jpg`, ... are skipped, as RAGFlow does).
    #[serde(default)]
    pub allow_images: bool,
    /// The file extensions read (without the dot, any case). Empty (the default): RAGFlow's
    /// accepted set, the text formats plus `pdf`, `docx`, `pptx`, `xlsx`, `eml`, `epub`,
    /// `html`, and images with `allow_images`; videos, archives and other files are neither
    /// downloaded nor listed for prune. Office lock files (`~$x.docx`, `.~lock.x.odt#`) are
    /// always skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["md", "pdf", "odt"])]
    pub extensions: Vec<String>,
    /// Seconds one folder listing (PROPFIND) may take, body included (default 600): Nextcloud
    /// takes minutes for folders of thousands of files. A folder that times out is a failure
    /// naming it; the sync goes on.
    #[serde(default = "default_listing_timeout")]
    #[schemars(range(max = 86_400))]
    pub listing_timeout_secs: NonZeroU64,
    /// Largest file read, in bytes; a larger file becomes a failure (checked against the
    /// listed `getcontentlength` before any download) and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Files per source page: the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
    /// Whether an incremental run skips a sub-folder whose ETag is the one the last run saw,
    /// without listing it: `auto` (the default) on servers whose folder ETags change whenever
    /// anything below them changes, Nextcloud and ownCloud, recognised by the `oc:fileid` or
    /// `oc:permissions` they list for a folder; `always` for another server known to do so;
    /// `never` to list every folder on every run. Plain servers (Apache `mod_dav`, nginx,
    /// rclone, wsgidav) give a folder an ETag of its own entries at most, or none, so `auto`
    /// never skips there. Full runs, and runs after a change of `remote_path`,
    /// `extensions` or `allow_images`, list every folder.
    #[serde(default)]
    pub skip_unchanged_folders: FolderSkip,
    #[doc = "Hosts this connector may reach although they are not public addresses: host names \
     (`nas.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or networks \
     (`10.20.0.0/16`). Private, loopback and link-local addresses (the cloud metadata service \
     at 169.254.169.254) are denied otherwise, on every redirect too; a server on `localhost` \
     needs `[\"127.0.0.1\"]` here. A host that runs connectors for others can rule this field \
     out (`Registry::set_network_policy`)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never from the JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

/// When a [`WebdavConfig`] trusts a folder's ETag to tell that nothing below it changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FolderSkip {
    /// On folders listed with Nextcloud's and ownCloud's `oc:` properties, whose ETags
    /// propagate from every change below.
    #[default]
    Auto,
    /// On every folder with an ETag: for a server known to propagate them.
    Always,
    /// Never: every folder is listed on every run.
    Never,
}

/// How a [`WebdavConfig`]'s login is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthScheme {
    /// HTTP Basic, on every request.
    #[default]
    Basic,
    /// HTTP Digest (RFC 7616, MD5 or SHA-256): the server's `WWW-Authenticate: Digest`
    /// challenge is answered.
    Digest,
}

/// The login of a [`WebdavConfig`] (RAGFlow's `credentials`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebdavCredentials {
    /// The user name.
    #[schemars(example = &"alice")]
    pub username: String,
    /// The password (or an app password, as Nextcloud and ownCloud issue them).
    #[schemars(example = &"app-password")]
    pub password: Secret,
}

fn default_remote_path() -> String {
    "/".to_owned()
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_listing_timeout() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_LISTING_TIMEOUT_SECS).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

impl WebdavConfig {
    /// The folder `remote_path` under `base_url`, read as `username` with `password`, every
    /// other setting at its default.
    pub fn new(
        base_url: Url,
        remote_path: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            remote_path: remote_path.into(),
            credentials: WebdavCredentials {
                username: username.into(),
                password: password.into(),
            },
            auth_scheme: AuthScheme::Basic,
            allow_images: false,
            extensions: Vec::new(),
            listing_timeout_secs: default_listing_timeout(),
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            skip_unchanged_folders: FolderSkip::Auto,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The same, held to the host's network policy (see
    /// [`ConnectorConfig::set_network_policy`]).
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.host_network = Some(policy);
        self
    }

    /// The policy `base_url` is held to: the host's, if it set one, else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is no host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The names of `remote_path`, percent-decoded once, without empty ones (`/a//b%20c/` is
    /// `a`, `b c`).
    pub(crate) fn remote_segments(&self) -> Vec<String> {
        self.remote_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect()
    }
}

impl ConnectorConfig for WebdavConfig {
    /// Honoured: the connector's one HTTP client is built with it.
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    /// Checks the syntax only; whether the folder exists and the login works is for
    /// [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !matches!(self.base_url.scheme(), "http" | "https") {
            problems.push(FieldError::new("base_url", "must be an http or https URL"));
        }
        if self.base_url.query().is_some() || self.base_url.fragment().is_some() {
            problems.push(FieldError::new(
                "base_url",
                "must have no query string or fragment",
            ));
        }
        if !self.base_url.username().is_empty() || self.base_url.password().is_some() {
            problems.push(FieldError::new(
                "base_url",
                "must not carry a login; use credentials.username and credentials.password",
            ));
        }
        let remote = self.remote_segments();
        if remote
            .iter()
            .any(|s| s == "." || s == ".." || s.contains('/'))
        {
            problems.push(FieldError::new(
                "remote_path",
                "must not contain `.` or `..` segments",
            ));
        }
        // Nextcloud's and ownCloud's DAV root holds the trash bin, old versions, calendars
        // and uploads next to the files: walking it indexes deleted files and old versions.
        if self
            .base_url
            .path()
            .trim_end_matches('/')
            .ends_with("/remote.php/dav")
            && remote.first().is_none_or(|s| s != "files")
        {
            problems.push(FieldError::new(
                "base_url",
                "is Nextcloud's or ownCloud's DAV root, which also holds the trash bin, file versions and calendars; use .../remote.php/dav/files/<user id>/",
            ));
        }
        if self.credentials.username.trim().is_empty() {
            problems.push(FieldError::new("credentials.username", "must not be empty"));
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }
}
