//! [`ConfluenceConfig`]: which site, which content, which credentials.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Attachments larger than this are skipped unless configured otherwise: 10 MiB (RAGFlow's
/// limit).
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// The smallest number of results asked for per search request, whatever `batch_size` says
/// (RAGFlow used its batch size of 2 as the page size: one round trip per two pages).
pub const MIN_PAGE_SIZE: u32 = 50;

/// The largest number of results asked for per search request.
pub const MAX_PAGE_SIZE: u32 = 250;

/// What to index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndexMode {
    /// Every space the credentials can read.
    Everything,
    /// The space named by `space`.
    Space,
    /// The page `page_id`, and its descendants with `index_recursively`.
    Page,
}

/// The configuration of the Confluence connector (source `"confluence"`).
///
/// It accepts RAGFlow's Confluence config as it is (`wiki_base`, `is_cloud`, `index_mode`,
/// `space`, `page_id`, `index_recursively`, `credentials`, `batch_size`) plus the options
/// below.
///
/// ```
/// use connector_confluence::confluence::ConfluenceConfig;
///
/// let config: ConfluenceConfig = connector_core::config::from_json(serde_json::json!({
///     "wiki_base": "https://example.atlassian.net/wiki",
///     "is_cloud": true,
///     "index_mode": "space",
///     "space": "ENG",
///     "credentials": {
///         "confluence_username": "me@example.com",
///         "confluence_access_token": "api-token",
///     },
/// }))?;
/// assert_eq!(config.space.as_deref(), Some("ENG"));
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// # Authentication
/// - Cloud: `confluence_username` (the account e-mail) and `confluence_access_token` (an API
///   token), sent as HTTP Basic.
/// - Cloud with `cloud_id`: requests go through `https://api.atlassian.com/ex/confluence/{cloud_id}`
///   (scoped API tokens with the e-mail, or an OAuth access token alone as Bearer).
/// - Server/Data Center: a personal access token alone (Bearer), or `confluence_username`
///   with the password in `confluence_access_token` (Basic).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfluenceConfig {
    /// The site's base URL: `https://example.atlassian.net/wiki` on Cloud (`/wiki` is added
    /// when missing), `https://confluence.example.com` (with its context path, if any) on
    /// Server/Data Center. Document ids and links are built from it.
    pub wiki_base: Url,
    /// Confluence Cloud (true, the default) or Server/Data Center (false).
    #[serde(default = "yes")]
    pub is_cloud: bool,
    /// What to index; by default `page` when `page_id` is set, `space` when `space` is set,
    /// else `everything`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mode: Option<IndexMode>,
    /// The space key for `index_mode: space` (an empty string counts as unset, as in RAGFlow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// The page id for `index_mode: page`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// With `index_mode: page`, also index every descendant of the page (default true).
    #[serde(default = "yes")]
    pub index_recursively: bool,
    /// The credentials.
    pub credentials: ConfluenceCredentials,
    /// RAGFlow's batch size. Here it only raises the number of results per search request
    /// above its floor of 50 (at most 250); the host's batch size is a sync option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<NonZeroU32>,
    /// Pages and blog posts with any of these labels are skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_to_skip: Vec<String>,
    /// Also index content of archived spaces (default false).
    #[serde(default)]
    pub include_archived: bool,
    /// Index attachments as documents of their own (default false).
    #[serde(default)]
    pub include_attachments: bool,
    /// Largest attachment downloaded, in bytes (default 10 MiB); larger ones are skipped
    /// before any download.
    #[serde(default = "default_attachment_size_limit")]
    pub attachment_size_limit: NonZeroU64,
    /// Also index image attachments (default false).
    #[serde(default)]
    pub allow_images: bool,
    /// The Cloud site's id, for scoped tokens and OAuth through the Atlassian API gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    /// The Atlassian API gateway (default `https://api.atlassian.com`); used with `cloud_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway: Option<Url>,
    /// The offset of the time zone CQL dates are read in, in hours (RAGFlow's
    /// `CONFLUENCE_TIMEZONE_OFFSET`). When unset, Cloud's `systemInfo` is asked (a named zone
    /// such as `Europe/Berlin` is read with its daylight saving rules); if the zone is still
    /// unknown, incremental queries are widened by 14 hours each way (and still filtered
    /// exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_offset: Option<f64>,
}

fn yes() -> bool {
    true
}

fn default_attachment_size_limit() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_ATTACHMENT_SIZE_LIMIT).unwrap_or(NonZeroU64::MIN)
}

/// The credentials, with RAGFlow's field names.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfluenceCredentials {
    /// The account e-mail (Cloud) or user name (Server/DC with a password); leave it out for a
    /// personal access token or an OAuth access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confluence_username: Option<String>,
    /// The API token (Cloud), personal access token or password (Server/DC).
    pub confluence_access_token: Secret,
}

impl ConfluenceCredentials {
    /// Credentials from a user name (or e-mail) and a token or password.
    pub fn basic(username: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            confluence_username: Some(username.into()),
            confluence_access_token: Secret::new(token.into()),
        }
    }

    /// A personal access token (Server/DC) or OAuth access token, sent as Bearer.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            confluence_username: None,
            confluence_access_token: Secret::new(token.into()),
        }
    }

    pub(crate) fn username(&self) -> Option<&str> {
        self.confluence_username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

impl fmt::Debug for ConfluenceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceCredentials")
            .field("confluence_username", &self.confluence_username)
            .field("confluence_access_token", &"***")
            .finish()
    }
}

impl fmt::Debug for ConfluenceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceConfig")
            .field("wiki_base", &self.wiki_base.as_str())
            .field("is_cloud", &self.is_cloud)
            .field("index_mode", &self.mode())
            .field("space", &self.space)
            .field("page_id", &self.page_id)
            .field("index_recursively", &self.index_recursively)
            .field("credentials", &self.credentials)
            .field("labels_to_skip", &self.labels_to_skip)
            .field("include_archived", &self.include_archived)
            .field("include_attachments", &self.include_attachments)
            .field("attachment_size_limit", &self.attachment_size_limit)
            .field("allow_images", &self.allow_images)
            .field("cloud_id", &self.cloud_id)
            .finish_non_exhaustive()
    }
}

impl ConfluenceConfig {
    /// A config for the site at `wiki_base` with every other setting at its default
    /// (Cloud, everything, no attachments).
    pub fn new(wiki_base: Url, credentials: ConfluenceCredentials) -> Self {
        Self {
            wiki_base,
            is_cloud: true,
            index_mode: None,
            space: None,
            page_id: None,
            index_recursively: true,
            credentials,
            batch_size: None,
            labels_to_skip: Vec::new(),
            include_archived: false,
            include_attachments: false,
            attachment_size_limit: default_attachment_size_limit(),
            allow_images: false,
            cloud_id: None,
            api_gateway: None,
            timezone_offset: None,
        }
    }

    /// The index mode in effect (explicit, else from `page_id` / `space`).
    pub fn mode(&self) -> IndexMode {
        self.index_mode.unwrap_or(if self.page_id().is_some() {
            IndexMode::Page
        } else if self.space().is_some() {
            IndexMode::Space
        } else {
            IndexMode::Everything
        })
    }

    pub(crate) fn space(&self) -> Option<&str> {
        self.space
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn page_id(&self) -> Option<&str> {
        self.page_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn cloud_id(&self) -> Option<&str> {
        self.cloud_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Results asked for per search request.
    pub(crate) fn page_size(&self) -> u32 {
        self.batch_size
            .map_or(MIN_PAGE_SIZE, NonZeroU32::get)
            .clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE)
    }

    /// The site's base for web links: no trailing `/`, with `/wiki` on Cloud.
    pub(crate) fn web_base(&self) -> String {
        let mut base = self.wiki_base.as_str().trim_end_matches('/').to_owned();
        if self.is_cloud && !base.ends_with("/wiki") {
            base.push_str("/wiki");
        }
        base
    }

    /// The base the REST API hangs off (`{base}/rest/api/...`): the site itself, or the
    /// Atlassian gateway with `cloud_id`.
    pub(crate) fn api_base(&self) -> String {
        match self.cloud_id() {
            Some(id) => {
                let gateway = self
                    .api_gateway
                    .as_ref()
                    .map_or("https://api.atlassian.com", |g| g.as_str())
                    .trim_end_matches('/')
                    .to_owned();
                format!("{gateway}/ex/confluence/{id}/wiki")
            }
            None => self.web_base(),
        }
    }
}

impl ConnectorConfig for ConfluenceConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !matches!(self.wiki_base.scheme(), "http" | "https") {
            problems.push(FieldError::new("wiki_base", "must be an http or https URL"));
        }
        if self.wiki_base.query().is_some() {
            problems.push(FieldError::new("wiki_base", "must not have a query string"));
        }
        match self.mode() {
            IndexMode::Space if self.space().is_none() => problems.push(FieldError::new(
                "space",
                "is required with index_mode `space` (the space key, such as `ENG`)",
            )),
            IndexMode::Page if self.page_id().is_none() => problems.push(FieldError::new(
                "page_id",
                "is required with index_mode `page`",
            )),
            _ => {}
        }
        if let Some(key) = self.space()
            && !key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '~' || c == '_' || c == '-')
        {
            problems.push(FieldError::new(
                "space",
                "must be a space key (letters and digits, `~` for personal spaces)",
            ));
        }
        if let Some(id) = self.page_id()
            && !id.chars().all(|c| c.is_ascii_digit())
        {
            problems.push(FieldError::new("page_id", "must be a numeric page id"));
        }
        for (i, label) in self.labels_to_skip.iter().enumerate() {
            if label.trim().is_empty() || label.contains('"') {
                problems.push(FieldError::new(
                    format!("labels_to_skip[{i}]"),
                    "must be a non-empty label without `\"`",
                ));
            }
        }
        if self.credentials.confluence_access_token.is_empty() {
            problems.push(FieldError::new(
                "credentials.confluence_access_token",
                "must not be empty",
            ));
        }
        if self.is_cloud && self.cloud_id().is_none() && self.credentials.username().is_none() {
            problems.push(FieldError::new(
                "credentials.confluence_username",
                "is required on Cloud (the account e-mail that owns the API token), unless \
                 `cloud_id` is set for an OAuth access token",
            ));
        }
        if self.cloud_id().is_some() && !self.is_cloud {
            problems.push(FieldError::new("cloud_id", "is for Confluence Cloud only"));
        }
        if let Some(id) = self.cloud_id()
            && !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        {
            problems.push(FieldError::new("cloud_id", "must be a site id (a UUID)"));
        }
        if let Some(offset) = self.timezone_offset
            && !(-14.0..=14.0).contains(&offset)
        {
            problems.push(FieldError::new(
                "timezone_offset",
                format!("must be between -14 and 14 hours, found {offset}"),
            ));
        }
        problems
    }
}
