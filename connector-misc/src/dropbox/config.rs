//! [`DropboxConfig`]: which Dropbox account, with which token, and which of its files.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Entries per `list_folder` page unless configured otherwise (Dropbox allows up to 2000).
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// Dropbox's RPC host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.dropboxapi.com";
/// Dropbox's content host (downloads).
pub const DEFAULT_CONTENT_BASE_URL: &str = "https://content.dropboxapi.com";
/// Dropbox's OAuth 2 token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.dropboxapi.com/oauth2/token";

/// The credentials: RAGFlow's `dropbox_access_token`, and for long-lived access a refresh
/// token with the app key (and the app secret, unless the app uses PKCE).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DropboxCredentials {
    /// An access token (`sl.…`), as RAGFlow takes it. Short-lived tokens expire after four
    /// hours: give a refresh token and the app key too, and the connector renews it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropbox_access_token: Option<Secret>,
    /// A refresh token from the app's OAuth flow (`token_access_type=offline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropbox_refresh_token: Option<Secret>,
    /// The app key (OAuth client id) the refresh token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropbox_app_key: Option<String>,
    /// The app secret; leave it out for a PKCE app, which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropbox_app_secret: Option<Secret>,
}

impl fmt::Debug for DropboxCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: bool| if s { "***" } else { "-" };
        f.debug_struct("DropboxCredentials")
            .field(
                "dropbox_access_token",
                &set(self.dropbox_access_token.is_some()),
            )
            .field(
                "dropbox_refresh_token",
                &set(self.dropbox_refresh_token.is_some()),
            )
            .field("dropbox_app_key", &self.dropbox_app_key)
            .field(
                "dropbox_app_secret",
                &set(self.dropbox_app_secret.is_some()),
            )
            .finish()
    }
}

/// The configuration of the Dropbox connector (source `"dropbox"`).
///
/// ```
/// use connector_misc::dropbox::DropboxConfig;
///
/// // RAGFlow's shape: just the token.
/// let config: DropboxConfig = connector_core::config::from_json(serde_json::json!({
///     "credentials": {"dropbox_access_token": "sl.example"},
///     "batch_size": 2,
/// }))?;
/// assert_eq!(config.path, "");
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DropboxConfig {
    /// The access token, or a refresh token with the app key.
    pub credentials: DropboxCredentials,
    /// The folder to read, as Dropbox shows paths (`/Team notes`); empty (the default) for
    /// the whole Dropbox.
    #[serde(default)]
    pub path: String,
    /// Largest file downloaded, in bytes; a larger one becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Entries per `list_folder` page (at most 2000): the unit of one fingerprint lookup and
    /// one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 2000))]
    pub page_size: NonZeroU32,
    /// The RPC host (default `https://api.dropboxapi.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<Url>,
    /// The content host that serves downloads (default `https://content.dropboxapi.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base_url: Option<Url>,
    /// The OAuth token endpoint (default `https://api.dropboxapi.com/oauth2/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a proxy, a test server)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

impl DropboxConfig {
    /// The whole Dropbox of `access_token`'s account, every other setting at its default.
    pub fn new(access_token: impl Into<String>) -> Self {
        Self {
            credentials: DropboxCredentials {
                dropbox_access_token: Some(Secret::new(access_token)),
                ..DropboxCredentials::default()
            },
            path: String::new(),
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            api_base_url: None,
            content_base_url: None,
            token_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The policy every request of the connector follows: the host's if it set one, else
    /// public addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

impl fmt::Debug for DropboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropboxConfig")
            .field("credentials", &self.credentials)
            .field("path", &self.path)
            .field("max_file_size", &self.max_file_size)
            .field("page_size", &self.page_size)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field(
                "content_base_url",
                &self.content_base_url.as_ref().map(Url::as_str),
            )
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for DropboxConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let c = &self.credentials;
        let refresh = c.dropbox_refresh_token.is_some();
        if c.dropbox_access_token.is_none() && !refresh {
            problems.push(FieldError::new(
                "credentials.dropbox_access_token",
                "is required (or `dropbox_refresh_token` with `dropbox_app_key`)",
            ));
        }
        if refresh && c.dropbox_app_key.is_none() {
            problems.push(FieldError::new(
                "credentials.dropbox_app_key",
                "is required with `dropbox_refresh_token`: the token is renewed for this app",
            ));
        }
        if c.dropbox_app_secret.is_some() && !refresh {
            problems.push(FieldError::new(
                "credentials.dropbox_app_secret",
                "is only used with `dropbox_refresh_token`",
            ));
        }
        if !self.path.is_empty() && (!self.path.starts_with('/') || self.path.ends_with('/')) {
            problems.push(FieldError::new(
                "path",
                "must start with `/` and not end with one (`/Team notes`), or be empty for the whole Dropbox",
            ));
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }
}
