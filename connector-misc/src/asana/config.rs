//! [`AsanaConfig`]: which workspace, which of its projects, and the token that reads them.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Asana's API root.
pub const DEFAULT_API_BASE_URL: &str = "https://app.asana.com/api/1.0";

/// Requests per minute unless configured otherwise: Asana's documented limit for free
/// workspaces (150 per minute; paid ones allow 1,500).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 150;

/// The largest attachment downloaded unless configured otherwise (RAGFlow's 10 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// The config field of the token, named by authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.asana_api_token_secret";

/// The credentials: a personal access token, sent as `Authorization: Bearer`. An OAuth
/// access token is sent the same way but expires after an hour and is not refreshed here.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AsanaCredentials {
    /// An Asana personal access token (RAGFlow's `asana_api_token_secret`), sent as
    /// `Authorization: Bearer`. Surrounding whitespace is dropped.
    pub asana_api_token_secret: Secret,
}

impl fmt::Debug for AsanaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaCredentials")
            .field("asana_api_token_secret", &"***")
            .finish()
    }
}

/// The configuration of the Asana connector (source `"asana"`).
///
/// ```
/// use connector_misc::asana::AsanaConfig;
///
/// // RAGFlow's shape: project ids as comma-separated text, the team optional.
/// let config: AsanaConfig = connector_core::config::from_json(serde_json::json!({
///     "asana_workspace_id": "1200000000000001",
///     "asana_project_ids": "1200000000000010, 1200000000000011",
///     "asana_team_id": "",
///     "credentials": {"asana_api_token_secret": "2/1200/1201:abc"},
/// }))?;
/// assert_eq!(config.asana_project_ids.as_slice(), ["1200000000000010", "1200000000000011"]);
/// assert_eq!(config.team(), None);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AsanaConfig {
    /// The token.
    pub credentials: AsanaCredentials,
    /// The workspace (or organization) gid, as in `https://app.asana.com/0/home/{gid}`.
    #[schemars(example = &"1200000000000001")]
    pub asana_workspace_id: String,
    /// Project gids to read, a list or comma-separated text; empty: every unarchived project
    /// of the workspace (less the private projects of other teams than `asana_team_id`).
    #[serde(default)]
    #[schemars(example = &"1200000000000010, 1200000000000011")]
    pub asana_project_ids: StringList,
    /// A team gid, as RAGFlow uses it: the private projects (`privacy_setting` `private`)
    /// of other teams are left out; public projects and those of this team are read. Blank:
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"1200000000000005")]
    pub asana_team_id: Option<String>,
    /// Put each task's comments (its `comment_added` stories) in its document: one request
    /// per changed task. Default on.
    #[serde(default = "default_true")]
    pub include_comments: bool,
    /// Read each changed task's attachments (`GET /attachments?parent={task}`) as documents
    /// of their own, the task as their parent. Default on.
    #[serde(default = "default_true")]
    pub include_attachments: bool,
    /// The largest attachment downloaded, in bytes (default 10 MiB, at most 4 GiB): a larger
    /// one, by its listed `size` or while downloading, is a failure naming it.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(min = 1, max = 4_294_967_296_u64), example = &10_485_760)]
    pub max_file_size: NonZeroU64,
    /// Requests per minute (Asana allows 150 for free workspaces and 1,500 for paid ones; at
    /// most 100,000), shared with other processes through the host's rate gate.
    #[serde(default = "default_requests_per_minute")]
    #[schemars(range(min = 1, max = 100_000), example = &150)]
    pub requests_per_minute: NonZeroU32,
    /// The API root (default `https://app.asana.com/api/1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://app.asana.com/api/1.0")]
    pub api_base_url: Option<Url>,
    /// Hosts this connector may reach although they are not public (a proxy, a test server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["localhost"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_true() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_requests_per_minute() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN)
}

impl AsanaConfig {
    /// Every project of `workspace`, read with `token`; every other setting at its default.
    pub fn new(workspace: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            credentials: AsanaCredentials {
                asana_api_token_secret: Secret::new(token),
            },
            asana_workspace_id: workspace.into(),
            asana_project_ids: StringList::default(),
            asana_team_id: None,
            include_comments: true,
            include_attachments: true,
            max_file_size: default_max_file_size(),
            requests_per_minute: default_requests_per_minute(),
            api_base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The team gid, when one is given (not blank).
    pub fn team(&self) -> Option<&str> {
        self.asana_team_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
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

impl fmt::Debug for AsanaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaConfig")
            .field("credentials", &self.credentials)
            .field("asana_workspace_id", &self.asana_workspace_id)
            .field("asana_project_ids", &self.asana_project_ids.as_slice())
            .field("asana_team_id", &self.team())
            .field("include_comments", &self.include_comments)
            .field("include_attachments", &self.include_attachments)
            .field("max_file_size", &self.max_file_size)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// Whether `s` looks like an Asana gid (digits).
fn is_gid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

impl ConnectorConfig for AsanaConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !is_gid(self.asana_workspace_id.trim()) {
            problems.push(FieldError::new(
                "asana_workspace_id",
                "must be the workspace gid (digits), as in https://app.asana.com/0/home/{gid}",
            ));
        }
        for id in self.asana_project_ids.iter().filter(|p| !is_gid(p)) {
            problems.push(FieldError::new(
                "asana_project_ids",
                format!("`{id}` is not a project gid (digits)"),
            ));
        }
        if let Some(team) = self.team().filter(|t| !is_gid(t)) {
            problems.push(FieldError::new(
                "asana_team_id",
                format!("`{team}` is not a team gid (digits)"),
            ));
        }
        if self
            .credentials
            .asana_api_token_secret
            .expose()
            .trim()
            .is_empty()
        {
            problems.push(FieldError::new(TOKEN_FIELD, "is required"));
        }
        if self.max_file_size.get() > connector_core::config::limits::MAX_BYTES {
            problems.push(FieldError::new(
                "max_file_size",
                format!(
                    "must be at most {} bytes",
                    connector_core::config::limits::MAX_BYTES
                ),
            ));
        }
        if self.requests_per_minute.get() > 100_000 {
            problems.push(FieldError::new(
                "requests_per_minute",
                "must be at most 100000",
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
