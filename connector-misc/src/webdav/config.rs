//! [`WebdavConfig`]: which server, which folder on it, and how to log in, with RAGFlow's field
//! names.

use std::num::{NonZeroU32, NonZeroU64};

use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Files larger than this are failures unless configured otherwise: 20 MiB, RAGFlow's
/// `BLOB_STORAGE_SIZE_THRESHOLD`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Files per source page unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 256;

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
    /// relative to this URL.
    #[schemars(example = &"https://cloud.example.org/remote.php/dav/files/alice/")]
    pub base_url: Url,
    /// The folder to read, relative to `base_url` (`/` or empty: all of it). Everything under
    /// it is read, folder by folder (PROPFIND `Depth: 1`, never `infinity`).
    #[serde(default = "default_remote_path")]
    #[schemars(example = &"/Handbook")]
    pub remote_path: String,
    /// The login, sent with HTTP Basic authentication.
    pub credentials: WebdavCredentials,
    /// Read image files too (default false: `png`, `jpg`, ... are skipped, as RAGFlow does).
    #[serde(default)]
    pub allow_images: bool,
    /// Largest file read, in bytes; a larger file becomes a failure (checked against the
    /// listed `getcontentlength` before any download) and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Files per source page: the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
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
            base_url,
            remote_path: remote_path.into(),
            credentials: WebdavCredentials {
                username: username.into(),
                password: password.into(),
            },
            allow_images: false,
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
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

    /// The segments of `remote_path`, without empty ones (`/a//b/` is `a`, `b`).
    pub(crate) fn remote_segments(&self) -> Vec<&str> {
        self.remote_path
            .split('/')
            .filter(|s| !s.is_empty())
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
        if self
            .remote_segments()
            .iter()
            .any(|s| *s == "." || *s == "..")
        {
            problems.push(FieldError::new(
                "remote_path",
                "must not contain `.` or `..` segments",
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
