//! [`BitbucketConfig`]: which workspace, which of its repositories, and the account that reads
//! them.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use url::Url;

/// Bitbucket Cloud's API host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.bitbucket.org";

/// Requests per hour unless configured otherwise: Bitbucket Cloud's documented limit for
/// authenticated calls to the repository and pull-request APIs (1,000 per hour per user).
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 1000;

/// Pull requests per page unless configured otherwise (Bitbucket's maximum `pagelen` for pull
/// requests).
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The most comments of one pull request read unless configured otherwise.
pub const DEFAULT_MAX_COMMENTS: u32 = 1000;

/// The config field of the API token, named by authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.bitbucket_api_token";

/// The config field of the access token, named by authentication errors when it is used.
pub(crate) const ACCESS_TOKEN_FIELD: &str = "credentials.bitbucket_access_token";

/// Which repositories of the workspace are read.
///
/// RAGFlow's form sends `workspace`, `repositories` or `projects`; the singular forms are
/// accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexMode {
    /// Every repository of the workspace the account can see.
    Workspace,
    /// The repositories named in `repository_slugs`.
    #[serde(alias = "repositories")]
    Repository,
    /// Every repository of the projects named in `projects` (by project key).
    #[serde(alias = "projects")]
    Project,
}

impl JsonSchema for IndexMode {
    fn schema_name() -> Cow<'static, str> {
        "IndexMode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // RAGFlow's plural values are listed too, so a stored config passes the schema check.
        json_schema!({
            "description": "`workspace`: every repository of the workspace; `repository` (RAGFlow: `repositories`): those of `repository_slugs`; `project` (RAGFlow: `projects`): those of the projects in `projects`.",
            "type": "string",
            "enum": ["workspace", "repository", "project", "repositories", "projects"],
            "examples": ["workspace", "repositories"]
        })
    }
}

/// The credentials, one of two forms:
///
/// - an Atlassian API token and the account it belongs to (RAGFlow's form), sent as HTTP
///   Basic auth; Bitbucket counts its rate limit per user;
/// - a workspace, project or repository access token (`bitbucket_access_token`), sent as
///   `Authorization: Bearer`, with no account; Bitbucket's scaled rate limits (above 1,000
///   requests per hour for workspaces of more than 100 seats) apply to these only, so raise
///   `requests_per_hour` to the workspace's limit.
///
/// Bitbucket app passwords are gone (no new ones since 9 September 2025, none work since
/// 28 July 2026).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BitbucketCredentials {
    /// The user part of Basic auth: the Atlassian account's e-mail address (RAGFlow's
    /// `bitbucket_account_email`). `bitbucket_email` (Onyx) and `bitbucket_username` are
    /// accepted as other names. Not used with `bitbucket_access_token`.
    #[serde(
        default,
        alias = "bitbucket_email",
        alias = "bitbucket_username",
        skip_serializing_if = "String::is_empty"
    )]
    #[schemars(extend("x-aliases" = ["bitbucket_email", "bitbucket_username"]))]
    #[schemars(example = &"jane@example.com")]
    pub bitbucket_account_email: String,
    /// The account's API token, with the `read:repository:bitbucket` and
    /// `read:pullrequest:bitbucket` scopes (and `admin:repository:bitbucket` for
    /// `include_permissions`). Surrounding whitespace is dropped.
    #[serde(default = "no_secret", skip_serializing_if = "Secret::is_empty")]
    pub bitbucket_api_token: Secret,
    /// A workspace, project or repository access token, instead of the account and its API
    /// token: sent as `Authorization: Bearer`. Surrounding whitespace is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket_access_token: Option<Secret>,
}

fn no_secret() -> Secret {
    Secret::new(String::new())
}

impl BitbucketCredentials {
    /// The access token, when one is given (not blank).
    pub fn access_token(&self) -> Option<&Secret> {
        self.bitbucket_access_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
    }
}

impl fmt::Debug for BitbucketCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BitbucketCredentials")
            .field("bitbucket_account_email", &self.bitbucket_account_email)
            .field("bitbucket_api_token", &"***")
            .field(
                "bitbucket_access_token",
                &self.bitbucket_access_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// The configuration of the Bitbucket connector (source `"bitbucket"`).
///
/// ```
/// use connector_misc::bitbucket::{BitbucketConfig, IndexMode};
///
/// // RAGFlow's shape: lists as comma-separated text, the mode its form chose.
/// let config: BitbucketConfig = connector_core::config::from_json(serde_json::json!({
///     "workspace": "acme",
///     "index_mode": "repositories",
///     "repository_slugs": "api, web",
///     "projects": "",
///     "credentials": {"bitbucket_account_email": "jane@example.com", "bitbucket_api_token": "ATATT3x"},
/// }))?;
/// assert_eq!(config.mode(), IndexMode::Repository);
/// assert_eq!(config.repository_slugs.as_slice(), ["api", "web"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BitbucketConfig {
    /// The account and its token.
    pub credentials: BitbucketCredentials,
    /// The workspace id, as in `https://bitbucket.org/{workspace}/`, or its UUID in braces
    /// (`{…}`).
    #[schemars(example = &"acme")]
    pub workspace: String,
    /// `workspace` (every repository), `repository` (`repository_slugs`) or `project`
    /// (`projects`); only the list of the mode in effect is read (and checked), a stale one
    /// the form kept hidden is not. When absent: `repository` if `repository_slugs` names any,
    /// else `project` if `projects` does, else `workspace`.
    ///
    /// RAGFlow's connector ignores `index_mode` and always takes that order, so a stored
    /// `{"index_mode": "workspace", "repository_slugs": "api"}` reads one repository there
    /// and the whole workspace here: this connector does what the form showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mode: Option<IndexMode>,
    /// Repository slugs (as in `https://bitbucket.org/{workspace}/{slug}`), a list or
    /// comma-separated text; read in `repository` mode.
    #[serde(default)]
    #[schemars(example = &"api, web")]
    pub repository_slugs: StringList,
    /// Project keys, a list or comma-separated text; read in `project` mode.
    #[serde(default)]
    #[schemars(example = &"PLAT, WEB")]
    pub projects: StringList,
    /// Put each pull request's comments (inline ones with their file and line) in its
    /// document: one request per changed pull request. Default on.
    #[serde(default = "default_true")]
    pub include_comments: bool,
    /// The most comments a pull request's document takes (default 1,000, at most 1,000,000;
    /// 0 for no limit): one
    /// with more, by its listed `comment_count`, is a failure before any comment is requested
    /// (a bot-spammed pull request would otherwise cost a request per 100 comments of the
    /// hourly budget and make one huge document).
    #[serde(default = "default_max_comments")]
    #[schemars(range(max = 1_000_000))]
    pub max_comments: u32,
    /// Put each pull request's activity in its document: approvals, requests for changes
    /// and updates (state, title, description, reviewers, new commits), from
    /// `pullrequests/{id}/activity`. Like the comments, it is read only for a pull request
    /// whose listing changed since the last run (an approval or a request for changes
    /// changes its listed participants), or, in an incremental run, changed in the window:
    /// one request (per 50 entries) per such pull request. Default on.
    #[serde(default = "default_true")]
    pub include_activity: bool,
    /// Read who may see a private repository (each user's effective permission, from
    /// `workspaces/{workspace}/permissions/repositories/{slug}`) into `Document.access` as
    /// `bitbucket-user:{account_id}`. It needs admin rights on the repository and the token
    /// scope `admin:repository:bitbucket`; without them the repository itself
    /// (`bitbucket-repo:{workspace}/{slug}`) is the only principal, a run warns once and asks
    /// no further repository. Default on.
    #[serde(default = "default_true")]
    pub include_permissions: bool,
    /// Pull requests per page (at most 50): one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 50))]
    pub page_size: NonZeroU32,
    /// Requests per hour (Bitbucket Cloud allows 1,000 per user; at most 1,000,000,000),
    /// shared with other processes through the host's rate gate.
    #[serde(default = "default_requests_per_hour")]
    #[schemars(range(max = 1_000_000_000))]
    pub requests_per_hour: NonZeroU32,
    /// The API host (default `https://api.bitbucket.org`); `next` links must stay on it.
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

fn default_true() -> bool {
    true
}

fn default_max_comments() -> u32 {
    DEFAULT_MAX_COMMENTS
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_requests_per_hour() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_HOUR).unwrap_or(NonZeroU32::MIN)
}

impl BitbucketConfig {
    /// Every repository of `workspace`, read as `account` (e-mail or username) with `token`;
    /// every other setting at its default.
    pub fn new(
        workspace: impl Into<String>,
        account: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            credentials: BitbucketCredentials {
                bitbucket_account_email: account.into(),
                bitbucket_api_token: Secret::new(token),
                bitbucket_access_token: None,
            },
            workspace: workspace.into(),
            index_mode: None,
            repository_slugs: StringList::default(),
            projects: StringList::default(),
            include_comments: true,
            max_comments: DEFAULT_MAX_COMMENTS,
            include_activity: true,
            include_permissions: true,
            page_size: default_page_size(),
            requests_per_hour: default_requests_per_hour(),
            api_base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The mode in effect: `index_mode`, or the one its lists imply.
    pub fn mode(&self) -> IndexMode {
        match self.index_mode {
            Some(mode) => mode,
            None if !self.repository_slugs.is_empty() => IndexMode::Repository,
            None if !self.projects.is_empty() => IndexMode::Project,
            None => IndexMode::Workspace,
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

impl fmt::Debug for BitbucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BitbucketConfig")
            .field("credentials", &self.credentials)
            .field("workspace", &self.workspace)
            .field("index_mode", &self.mode())
            .field("repository_slugs", &self.repository_slugs.as_slice())
            .field("projects", &self.projects.as_slice())
            .field("include_comments", &self.include_comments)
            .field("max_comments", &self.max_comments)
            .field("include_activity", &self.include_activity)
            .field("include_permissions", &self.include_permissions)
            .field("page_size", &self.page_size)
            .field("requests_per_hour", &self.requests_per_hour)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// Whether `s` can be a path segment Bitbucket gave (a workspace id, a slug, a project key).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `s` is a UUID in braces, as Bitbucket takes in place of a workspace id or slug
/// (`{e2f4…}`).
fn is_braced_uuid(s: &str) -> bool {
    s.strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|u| u.len() == 36 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

impl ConnectorConfig for BitbucketConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let workspace = self.workspace.trim();
        if !is_name(workspace) && !is_braced_uuid(workspace) {
            problems.push(FieldError::new(
                "workspace",
                "must be the workspace id as in https://bitbucket.org/{workspace}/ (letters, digits, `-`, `_`, `.`) or its UUID in braces",
            ));
        }
        // An access token stands alone; otherwise the account and its API token.
        if self.credentials.access_token().is_none() {
            if self.credentials.bitbucket_account_email.trim().is_empty() {
                problems.push(FieldError::new(
                    "credentials.bitbucket_account_email",
                    "is required with an API token: the Atlassian account's e-mail (or give `credentials.bitbucket_access_token` instead)",
                ));
            }
            if self
                .credentials
                .bitbucket_api_token
                .expose()
                .trim()
                .is_empty()
            {
                problems.push(FieldError::new(
                    TOKEN_FIELD,
                    "is required (or give `credentials.bitbucket_access_token` instead)",
                ));
            }
        }
        // Only the list the mode reads is checked: RAGFlow's form keeps a hidden field's
        // value, so the other one may be stale.
        match self.mode() {
            IndexMode::Repository if self.repository_slugs.is_empty() => {
                problems.push(FieldError::new(
                    "repository_slugs",
                    "names no repository, which `index_mode: repository` reads",
                ))
            }
            IndexMode::Repository => {
                for slug in self
                    .repository_slugs
                    .iter()
                    .filter(|s| !is_name(s) && !is_braced_uuid(s))
                {
                    problems.push(FieldError::new(
                        "repository_slugs",
                        format!(
                            "`{slug}` is not a repository slug (letters, digits, `-`, `_`, `.`)"
                        ),
                    ));
                }
            }
            IndexMode::Project if self.projects.is_empty() => problems.push(FieldError::new(
                "projects",
                "names no project key, which `index_mode: project` reads",
            )),
            IndexMode::Project => {
                for key in self.projects.iter().filter(|s| !is_name(s)) {
                    problems.push(FieldError::new(
                        "projects",
                        format!("`{key}` is not a project key (letters, digits, `-`, `_`, `.`)"),
                    ));
                }
            }
            IndexMode::Workspace => {}
        }
        if self.page_size.get() > 50 {
            problems.push(FieldError::new("page_size", "must be at most 50"));
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
