//! [`DropboxConfig`]: which Dropbox account, with which token, and which of its files.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::IgnoredField;
use connector_core::glob::PathFilter;
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
    #[schemars(example = &"sl.u.AAbc…")]
    pub dropbox_access_token: Option<Secret>,
    /// A refresh token from the app's OAuth flow (`token_access_type=offline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropbox_refresh_token: Option<Secret>,
    /// The app key (OAuth client id) the refresh token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"a1b2c3d4e5f6g7h")]
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
    /// The folder to read, as Dropbox shows paths (`/Team notes`); empty or `/` (the default)
    /// for the whole Dropbox. In a team space paths start at the team root (`/Marketing`),
    /// unless `team_space` is false.
    #[serde(default)]
    #[schemars(example = &"/Team notes")]
    pub path: String,
    /// Read from the team root of a Dropbox Business team space (default true): team folders
    /// are then listed with the member's own folder. False keeps every call at the member's
    /// home folder, as before team spaces.
    #[serde(default = "yes")]
    pub team_space: bool,
    /// With a team token (a Business app with `team_data.member`), the team member whose
    /// Dropbox is read (`dbmid:…`, sent as `Dropbox-API-Select-User`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU")]
    pub team_member_id: Option<String>,
    /// With a team token, the team members whose Dropboxes are read (`dbmid:…`), each a
    /// partition: a job of its own with its own cursor, as the sync service runs them (a
    /// member's space is listed with `Dropbox-API-Select-User`, as with `team_member_id`).
    /// Mutually exclusive with `team_member_id`; a host that does not run partitions reads
    /// one member through `team_member_id` instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU", "dbmid:AAFoi1ZFCQ0NkoYdPdoAbC5eKrNg3ruGvWk"])]
    pub team_members: Vec<String>,
    /// With a team token (a Business app with `team_data.member` and `members.read`), read
    /// every active member of the team: `team/members/list_v2` (and `continue_v2`), then each
    /// member's Dropbox with `Dropbox-API-Select-User`, their team folders with them (the team
    /// root, as `team_space` says). Each member is a partition (their `team_member_id`) the
    /// sync service runs as a job with its own cursor; a host that runs no partitions reads
    /// them one after the other in one sync, whose checkpoint carries the member being read
    /// and each member's cursor. Excludes `team_member_id` and `team_members`. Not RAGFlow's.
    #[serde(default)]
    pub all_team_members: bool,
    /// Set `access` on each document from Dropbox's sharing (default true; needs the
    /// `sharing.read` scope): the members of its shared folder and of the file itself, or the
    /// account's owner for a private file. False leaves `access` unset.
    #[serde(default = "yes")]
    pub sync_permissions: bool,
    /// Read image files too (default false: `png`, `jpg`, … are skipped, as RAGFlow does).
    #[serde(default)]
    pub allow_images: bool,
    /// Globs of the paths to include, relative to `path` (all when empty; a pattern without
    /// `/` matches at any depth, `**` crosses folders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["Handbook/**", "*.md"])]
    pub include: Vec<String>,
    /// Globs of the paths to skip, relative to `path`; they win over `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["Camera Uploads", "*.mov"])]
    pub exclude: Vec<String>,
    /// File extensions to accept (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["md", "pdf", "docx"])]
    pub extensions: Vec<String>,
    /// Largest file downloaded, in bytes; a larger one becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    #[schemars(example = &20_971_520)]
    pub max_file_size: NonZeroU64,
    /// Entries per `list_folder` page (at most 2000): the unit of one fingerprint lookup and
    /// one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 2000))]
    #[schemars(example = &500)]
    pub page_size: NonZeroU32,
    /// The RPC host (default `https://api.dropboxapi.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://api.dropboxapi.com")]
    pub api_base_url: Option<Url>,
    /// The content host that serves downloads (default `https://content.dropboxapi.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://content.dropboxapi.com")]
    pub content_base_url: Option<Url>,
    /// The OAuth token endpoint (default `https://api.dropboxapi.com/oauth2/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://api.dropboxapi.com/oauth2/token")]
    pub token_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a proxy, a test server)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["dropbox-proxy.internal"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn yes() -> bool {
    true
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
            team_space: true,
            team_member_id: None,
            team_members: Vec::new(),
            all_team_members: false,
            sync_permissions: true,
            allow_images: false,
            include: Vec::new(),
            exclude: Vec::new(),
            extensions: Vec::new(),
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

    /// `include`, `exclude` and `extensions` compiled, or every bad entry by field path.
    pub(crate) fn path_filter(&self) -> Result<PathFilter, Vec<FieldError>> {
        PathFilter::new(&self.include, &self.exclude, &self.extensions)
    }

    /// The folder as Dropbox's API takes it: `""` for the whole Dropbox (`/` included).
    pub(crate) fn api_path(&self) -> String {
        if self.path == "/" {
            String::new()
        } else {
            self.path.clone()
        }
    }
}

impl fmt::Debug for DropboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropboxConfig")
            .field("credentials", &self.credentials)
            .field("path", &self.path)
            .field("team_space", &self.team_space)
            .field("team_member_id", &self.team_member_id)
            .field("team_members", &self.team_members)
            .field("all_team_members", &self.all_team_members)
            .field("sync_permissions", &self.sync_permissions)
            .field("allow_images", &self.allow_images)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("extensions", &self.extensions)
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
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "sync_deleted_files",
        "Dropbox's deleted and moved-out files leave the index in the incremental run that \
         reads their deletion from the cursor, always; what went before a Full run (or in a \
         deleted folder Dropbox did not list file by file) is removed by the prune pass \
         (`SyncOptions::prune`, `connectors sync --prune`)",
    )
    .quiet_for(&["false"])];

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
        if let Err(mut found) = self.path_filter() {
            problems.append(&mut found);
        }
        if self
            .team_member_id
            .as_deref()
            .is_some_and(|m| !m.starts_with("dbmid:"))
        {
            problems.push(FieldError::new(
                "team_member_id",
                "must be a team member id as Dropbox gives it (`dbmid:…`)",
            ));
        }
        for (i, m) in self.team_members.iter().enumerate() {
            if !m.starts_with("dbmid:") {
                problems.push(FieldError::new(
                    format!("team_members[{i}]"),
                    "must be a team member id as Dropbox gives it (`dbmid:…`)",
                ));
            }
        }
        if self.all_team_members && (!self.team_members.is_empty() || self.team_member_id.is_some())
        {
            problems.push(FieldError::new(
                "all_team_members",
                "reads every member of the team: leave out `team_member_id` and `team_members`",
            ));
        }
        if !self.team_members.is_empty() && self.team_member_id.is_some() {
            problems.push(FieldError::new(
                "team_members",
                "is given with `team_member_id`: give the one member or the list",
            ));
        }
        let path = self.api_path();
        if !path.is_empty() && (!path.starts_with('/') || path.ends_with('/')) {
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
