//! [`NotionConfig`]: which Notion workspace (its integration token), which part of it, and
//! how fast to read it.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Requests per second unless configured otherwise: Notion's documented average of three per
/// integration.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 3;

/// Notion's API host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.notion.com";

/// The config field of the token (named in 401/403 errors).
pub(crate) const TOKEN_FIELD: &str = "credentials.notion_integration_token";

/// The credentials: RAGFlow's `notion_integration_token`.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NotionCredentials {
    /// The integration's secret (`ntn_…` or `secret_…`, Settings > Connections > Develop
    /// integrations), or an OAuth access token of a public integration. The pages it reads
    /// are those shared with the integration.
    #[schemars(example = &"ntn_123456789012345678901234567890")]
    pub notion_integration_token: Secret,
}

impl fmt::Debug for NotionCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotionCredentials")
            .field("notion_integration_token", &"***")
            .finish()
    }
}

/// The configuration of the Notion connector (source `"notion"`).
///
/// ```
/// use connector_misc::notion::NotionConfig;
///
/// // RAGFlow's form: an empty root page means every page shared with the integration.
/// let config: NotionConfig = connector_core::config::from_json(serde_json::json!({
///     "root_page_id": "",
///     "credentials": {"notion_integration_token": "ntn_123456789012345678901234567890"},
/// }))?;
/// assert_eq!(config.root_page_id, None);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NotionConfig {
    /// The integration token.
    pub credentials: NotionCredentials,
    /// Read only this page and the pages and databases below it, at any depth (the 32 hex
    /// digits at the end of its URL, with or without dashes). Empty or absent: every page
    /// shared with the integration.
    #[serde(
        default,
        deserialize_with = "empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(example = "59833787-2cf9-4fdf-8782-e53db20768a5")]
    pub root_page_id: Option<String>,
    /// Largest file of a file, image, PDF, video or audio block downloaded, in bytes; a larger
    /// one becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Turn the files of file, image, PDF, video and audio blocks into documents of their own
    /// (downloaded from their expiring URLs when their page is read). Default on.
    #[serde(default = "default_true")]
    pub include_files: bool,
    /// Requests per second to Notion's API (Notion allows an average of 3 per integration and
    /// answers 429 with `Retry-After` beyond; at most 10,000).
    #[serde(default = "default_requests_per_second")]
    #[schemars(range(max = 10_000))]
    pub requests_per_second: NonZeroU32,
    /// The API host (default `https://api.notion.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a proxy, a test server)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

fn default_true() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_requests_per_second() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

/// A Notion id in its compact form (32 lower-case hex digits, no dashes), or none when `id`
/// is not one.
pub(crate) fn compact_id(id: &str) -> Option<String> {
    let compact: String = id
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (compact.len() == 32 && compact.bytes().all(|b| b.is_ascii_hexdigit())).then_some(compact)
}

impl NotionConfig {
    /// Every page shared with the integration of `token`, every other setting at its
    /// default.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            credentials: NotionCredentials {
                notion_integration_token: Secret::new(token),
            },
            root_page_id: None,
            max_file_size: default_max_file_size(),
            include_files: true,
            requests_per_second: default_requests_per_second(),
            api_base_url: None,
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

impl fmt::Debug for NotionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotionConfig")
            .field("credentials", &self.credentials)
            .field("root_page_id", &self.root_page_id)
            .field("max_file_size", &self.max_file_size)
            .field("include_files", &self.include_files)
            .field("requests_per_second", &self.requests_per_second)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for NotionConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow's forms may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self
            .credentials
            .notion_integration_token
            .expose()
            .trim()
            .is_empty()
        {
            problems.push(FieldError::new(
                TOKEN_FIELD,
                "is empty: paste the integration's secret (Settings > Connections > Develop integrations)",
            ));
        }
        if let Some(root) = &self.root_page_id
            && compact_id(root).is_none()
        {
            problems.push(FieldError::new(
                "root_page_id",
                "must be a Notion page id: the 32 hex digits at the end of the page's URL, with or without dashes",
            ));
        }
        if self.requests_per_second.get() > 10_000 {
            problems.push(FieldError::new(
                "requests_per_second",
                "must be at most 10000",
            ));
        }
        if self.max_file_size.get() > connector_core::config::limits::MAX_BYTES {
            problems.push(FieldError::new(
                "max_file_size",
                format!(
                    "must be at most {}",
                    connector_core::config::limits::MAX_BYTES
                ),
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
