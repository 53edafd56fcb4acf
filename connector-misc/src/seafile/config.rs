//! [`SeafileConfig`]: which SeaFile server, which token, and how much of it to read, with
//! RAGFlow's field names (`seafile_url`, `sync_scope`, `repo_id`, `sync_path`,
//! `include_shared`, `credentials.seafile_token` / `credentials.repo_token`).

use std::fmt;
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

/// How much of the server a sync reads (RAGFlow's `SeafileSyncScope`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncScope {
    /// Every library the account token can see (owned ones, and with `include_shared` the
    /// ones shared with the account, its groups' and public ones).
    #[default]
    Account,
    /// The library `repo_id`, all of it.
    Library,
    /// The folder `sync_path` of the library `repo_id`.
    Directory,
}

/// The tokens of a [`SeafileConfig`] (RAGFlow's `credentials`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SeafileCredentials {
    /// An account token (`POST /api2/auth-token/`, or the web UI's "Settings → Web API Auth
    /// Token"): reads every library the account can, through `api2`. Required for the
    /// `account` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"24fd3c026886e3121b2ca630805ed425c272cb96")]
    pub seafile_token: Option<Secret>,
    /// A library's API token (library menu → Advanced → API Token): reads that one library,
    /// through `api/v2.1/via-repo-token`. Used for the `library` and `directory` scopes, where
    /// it wins over `seafile_token` as in RAGFlow; ignored for the `account` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0")]
    pub repo_token: Option<Secret>,
    /// The account's login (its e-mail), with `password`, in place of `seafile_token`: an
    /// account token is asked for once per connector (`POST /api2/auth-token/`), as RAGFlow
    /// does with these two. An account with two-factor authentication needs `seafile_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"alice@example.com")]
    pub username: Option<String>,
    /// The password of `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

impl SeafileCredentials {
    /// The login and password, when both are given and no account token is.
    pub(crate) fn password_login(&self) -> Option<(&str, &Secret)> {
        if self.seafile_token.is_some() {
            return None;
        }
        match (self.username.as_deref().map(str::trim), &self.password) {
            (Some(u), Some(p)) if !u.is_empty() => Some((u, p)),
            _ => None,
        }
    }

    /// Whether an account token is at hand: `seafile_token`, or `username` and `password`.
    fn has_account(&self) -> bool {
        self.seafile_token.is_some() || self.password_login().is_some()
    }
}

impl fmt::Debug for SeafileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: bool| if s { "***" } else { "-" };
        f.debug_struct("SeafileCredentials")
            .field("seafile_token", &set(self.seafile_token.is_some()))
            .field("repo_token", &set(self.repo_token.is_some()))
            .field("username", &self.username)
            .field("password", &set(self.password.is_some()))
            .finish()
    }
}

/// The configuration of the SeaFile connector (source `"seafile"`), as RAGFlow stores it.
///
/// ```
/// use connector_misc::seafile::{SeafileConfig, SyncScope};
///
/// // RAGFlow's form, "Specific directory" with a library token.
/// let config: SeafileConfig = connector_core::config::from_json(serde_json::json!({
///     "seafile_url": "https://seafile.example.com",
///     "sync_scope": "directory",
///     "repo_id": "7a9e1b3c-4d5f-6a7b-8c9d-0e1f2a3b4c5d",
///     "sync_path": "/Documents/Reports",
///     "include_shared": true,
///     "batch_size": 100,
///     "credentials": {"seafile_token": "", "repo_token": "a1b2c3"},
/// }))?;
/// assert_eq!(config.sync_scope, SyncScope::Directory);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SeafileConfig {
    /// The server's address, as its users open it (`https://seafile.example.com`; a server
    /// under a sub-path is fine). Every API call and every web link is made from it.
    #[schemars(example = &"https://seafile.example.com")]
    pub seafile_url: Url,
    /// The account token or the library token.
    pub credentials: SeafileCredentials,
    /// `account` (default), `library` or `directory`.
    #[serde(default)]
    pub sync_scope: SyncScope,
    /// The library (its id) for the `library` and `directory` scopes; with a library token it
    /// may be left out (the token names its library), and must match it when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"7a9e1b3c-4d5f-6a7b-8c9d-0e1f2a3b4c5d")]
    pub repo_id: Option<String>,
    /// The folder for the `directory` scope (`/Documents/Reports`); not `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/Documents/Reports")]
    pub sync_path: Option<String>,
    /// In the `account` scope, read the libraries others share with the account (personally,
    /// through a group, or public) too (default true); false: only the account's own.
    #[serde(default = "yes")]
    pub include_shared: bool,
    /// Largest file downloaded, in bytes; a larger one (by its listed size, before any
    /// download) becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Files per source page: the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
    #[doc = "Hosts this connector may reach although they are not public addresses (a server \
     on the company network: `seafile.corp.example`, `10.1.2.3`, `10.20.0.0/16`). The file \
     server's download links count too: a SeaFile whose `FILE_SERVER_ROOT` is another host \
     needs that host here when it is not public."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never from the JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn yes() -> bool {
    true
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

/// `path` as SeaFile writes paths: a leading `/`, no trailing one, no empty segments.
pub(crate) fn normalise_path(path: &str) -> String {
    let names: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", names.join("/"))
}

impl SeafileConfig {
    /// Every library the account token `seafile_token` can see on `seafile_url`, every other
    /// setting at its default.
    pub fn account(seafile_url: Url, seafile_token: impl Into<Secret>) -> Self {
        Self {
            seafile_url,
            credentials: SeafileCredentials {
                seafile_token: Some(seafile_token.into()),
                repo_token: None,
                username: None,
                password: None,
            },
            sync_scope: SyncScope::Account,
            repo_id: None,
            sync_path: None,
            include_shared: true,
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The policy every request follows: the host's if it set one, else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The library token, when the scope uses it (`library` and `directory`).
    pub(crate) fn repo_token_in_use(&self) -> Option<&Secret> {
        match self.sync_scope {
            SyncScope::Account => None,
            SyncScope::Library | SyncScope::Directory => self.credentials.repo_token.as_ref(),
        }
    }

    /// The folder the sync starts at inside each library: `sync_path` for the `directory`
    /// scope, else `/`.
    pub(crate) fn root_path(&self) -> String {
        match (self.sync_scope, &self.sync_path) {
            (SyncScope::Directory, Some(p)) => normalise_path(p),
            _ => "/".to_owned(),
        }
    }
}

impl fmt::Debug for SeafileConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeafileConfig")
            .field(
                "seafile_url",
                &connector_core::error::redact_url(&self.seafile_url),
            )
            .field("credentials", &self.credentials)
            .field("sync_scope", &self.sync_scope)
            .field("repo_id", &self.repo_id)
            .field("sync_path", &self.sync_path)
            .field("include_shared", &self.include_shared)
            .field("max_file_size", &self.max_file_size)
            .field("page_size", &self.page_size)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for SeafileConfig {
    /// Honoured: the connector's one HTTP client is built with it.
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    /// Checks the shape only; whether the token works and the library exists is for
    /// [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let url = &self.seafile_url;
        if !matches!(url.scheme(), "http" | "https") {
            problems.push(FieldError::new(
                "seafile_url",
                "must be an http or https URL",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            problems.push(FieldError::new(
                "seafile_url",
                "must have no query string or fragment",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            problems.push(FieldError::new(
                "seafile_url",
                "must not carry a login; use credentials.seafile_token or credentials.repo_token",
            ));
        }
        let c = &self.credentials;
        match (c.username.as_deref().map(str::trim), &c.password) {
            (Some(u), None) if !u.is_empty() => problems.push(FieldError::new(
                "credentials.password",
                "is required with credentials.username",
            )),
            (None | Some(""), Some(_)) => problems.push(FieldError::new(
                "credentials.username",
                "is required with credentials.password",
            )),
            _ => {}
        }
        match self.sync_scope {
            SyncScope::Account => {
                if !c.has_account() {
                    problems.push(FieldError::new(
                        "credentials.seafile_token",
                        "is required for sync_scope `account` (or credentials.username and password; a library token reads one library only)",
                    ));
                }
            }
            SyncScope::Library | SyncScope::Directory => {
                if !c.has_account() && c.repo_token.is_none() {
                    problems.push(FieldError::new(
                        "credentials.repo_token",
                        "is required for this sync_scope (or credentials.seafile_token)",
                    ));
                }
                if self.repo_id.is_none() && c.repo_token.is_none() {
                    problems.push(FieldError::new(
                        "repo_id",
                        "is required for this sync_scope with an account token",
                    ));
                }
            }
        }
        if let Some(id) = &self.repo_id
            && (id.contains(['/', ':', '?', '#']) || id.trim() != id)
        {
            problems.push(FieldError::new(
                "repo_id",
                "must be a library id (`7a9e1b3c-4d5f-6a7b-8c9d-0e1f2a3b4c5d`)",
            ));
        }
        if self.sync_scope == SyncScope::Directory {
            match &self.sync_path {
                None => problems.push(FieldError::new(
                    "sync_path",
                    "is required for sync_scope `directory`",
                )),
                Some(p) if normalise_path(p) == "/" => problems.push(FieldError::new(
                    "sync_path",
                    "must name a folder below `/`; use sync_scope `library` for a whole library",
                )),
                Some(p) if p.split('/').any(|s| s == "." || s == "..") => problems.push(
                    FieldError::new("sync_path", "must not contain `.` or `..` segments"),
                ),
                Some(_) => {}
            }
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise_path(""), "/");
        assert_eq!(normalise_path("Docs//Reports/"), "/Docs/Reports");
        assert_eq!(normalise_path("/"), "/");
    }
}
