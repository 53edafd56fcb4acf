//! [`GithubConfig`]: which repositories (or whole owners), what of them, and the token.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::{IgnoredField, StringList};
use connector_core::glob::PathFilter;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// GitHub's REST API (GitHub Enterprise Server: `https://HOST/api/v3`).
pub const DEFAULT_API_BASE_URL: &str = "https://api.github.com";

/// Code files larger than this are failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Items per listing page unless configured otherwise (GitHub's maximum, `per_page=100`).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Requests per hour unless configured otherwise: GitHub's primary limit for a personal
/// access token.
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 5000;

/// The config field of the token, named in authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.github_access_token";

/// The credentials: RAGFlow's `github_access_token`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GithubCredentials {
    /// A personal access token (classic with `repo`, or fine-grained with read access to
    /// issues, pull requests and contents; `read:org` to list an organisation's private
    /// repositories), or a GitHub App installation token.
    pub github_access_token: Secret,
}

impl fmt::Debug for GithubCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubCredentials")
            .field("github_access_token", &"***")
            .finish()
    }
}

/// One unit of scope: a repository, or every repository of an owner (organisation or user).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Repo { owner: String, name: String },
    Owner(String),
}

impl Scope {
    /// `owner/name`, or `owner` for a whole owner: the partition key.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Repo { owner, name } => format!("{owner}/{name}"),
            Self::Owner(owner) => owner.clone(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_matches('/');
        match text.split_once('/') {
            Some((owner, name)) if valid_name(owner) && valid_name(name) => Some(Self::Repo {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            None if valid_name(text) => Some(Self::Owner(text.to_owned())),
            _ => None,
        }
    }
}

/// GitHub's owner and repository names: letters, digits, `-`, `_` and `.`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The configuration of the GitHub connector (source `"github"`).
///
/// ```
/// use connector_misc::github::GithubConfig;
///
/// // RAGFlow's shape: one owner, a comma list of repositories, the token in `credentials`.
/// let config: GithubConfig = connector_core::config::from_json(serde_json::json!({
///     "repository_owner": "infiniflow",
///     "repository_name": "ragflow, infinity",
///     "include_pull_requests": true,
///     "include_issues": true,
///     "credentials": {"github_access_token": "ghp_example"},
/// }))?;
/// assert_eq!(config.repository_name.as_slice(), ["ragflow", "infinity"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GithubConfig {
    /// The token.
    pub credentials: GithubCredentials,
    /// The organisation or user the repositories of `repository_name` belong to.
    #[serde(default)]
    #[schemars(example = &"infiniflow")]
    pub repository_owner: String,
    /// Repositories of `repository_owner`, as a list or a comma list (`"ragflow, infinity"`);
    /// empty: every repository of the owner (an organisation's, else a user's public ones).
    #[serde(default)]
    #[schemars(example = &"ragflow")]
    pub repository_name: StringList,
    /// More scope beside `repository_owner`: `owner/name` for a repository, `owner` for every
    /// repository of an organisation or user. With more than one scope in all, each is a
    /// partition (a job with its own checkpoint).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    #[schemars(example = "rust-lang/rust, tokio-rs")]
    pub repositories: StringList,
    /// Read pull requests, with their comments and review comments (default on).
    #[serde(default = "default_true")]
    pub include_pull_requests: bool,
    /// Read issues, with their comments (default on).
    #[serde(default = "default_true")]
    pub include_issues: bool,
    /// Keep what bots write (accounts of `type` `Bot`, GitHub Apps such as
    /// `dependabot[bot]`: CI, coverage and dependency reports) in the documents of issues and
    /// pull requests: their comments, reviews and review comments (default on). Either way a
    /// bot's login is marked `(bot)` in the Markdown, and an item a bot opened has
    /// `author_is_bot` in its metadata.
    #[serde(default = "default_true")]
    #[schemars(example = false)]
    pub include_bot_comments: bool,
    /// Read the files of each repository at the head of `branch` (default off), one document
    /// each, fingerprinted by their blob SHA: an unchanged file is never downloaded again.
    #[serde(default)]
    pub include_code_files: bool,
    /// The branch code files are read from; default: each repository's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Globs of code file paths to read (`src/**`, `**/*.md`); empty: every file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_paths: Vec<String>,
    /// Globs of code file paths (or folders) to leave out (`vendor`, `**/*.lock`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_paths: Vec<String>,
    /// Largest code file downloaded, in bytes; a larger one becomes a failure.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Items per listing page (at most 100): the unit of one fingerprint lookup and one
    /// checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 100))]
    pub page_size: NonZeroU32,
    /// Requests per hour (GitHub allows 5000 per token, 15000 for Enterprise Cloud apps).
    #[serde(default = "default_requests_per_hour")]
    #[schemars(range(max = 1_000_000))]
    pub requests_per_hour: NonZeroU32,
    /// The REST API root: `https://api.github.com` (default), or `https://HOST/api/v3` for
    /// GitHub Enterprise Server (RAGFlow reads it from `GITHUB_CONNECTOR_BASE_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://github.example.com/api/v3")]
    pub base_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a GitHub Enterprise Server inside the network, a test server)."]
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

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_requests_per_hour() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_HOUR).unwrap_or(NonZeroU32::MIN)
}

impl GithubConfig {
    /// The repository `owner/name` with this token, every other setting at its default.
    pub fn new(
        owner: impl Into<String>,
        name: impl Into<String>,
        token: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: GithubCredentials {
                github_access_token: token.into(),
            },
            repository_owner: owner.into(),
            repository_name: vec![name.into()].into(),
            repositories: StringList::default(),
            include_pull_requests: true,
            include_issues: true,
            include_bot_comments: true,
            include_code_files: false,
            branch: None,
            include_paths: Vec::new(),
            exclude_paths: Vec::new(),
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            requests_per_hour: default_requests_per_hour(),
            base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// Every unit of scope, in config order without repeats: the repositories of
    /// `repository_name` (or the whole `repository_owner`), then `repositories`.
    pub(crate) fn scopes(&self) -> Vec<Scope> {
        let mut out: Vec<Scope> = Vec::new();
        let owner = self.repository_owner.trim();
        if !owner.is_empty() {
            if self.repository_name.is_empty() {
                out.extend(Scope::parse(owner));
            } else {
                for name in &self.repository_name {
                    let full = if name.contains('/') {
                        name.clone()
                    } else {
                        format!("{owner}/{name}")
                    };
                    out.extend(Scope::parse(&full));
                }
            }
        }
        out.extend(self.repositories.iter().filter_map(|r| Scope::parse(r)));
        let mut seen = std::collections::HashSet::new();
        out.retain(|s| seen.insert(s.key().to_lowercase()));
        out
    }

    /// The code path filter.
    pub(crate) fn path_filter(&self) -> Result<PathFilter, Vec<FieldError>> {
        PathFilter::new(&self.include_paths, &self.exclude_paths, &[]).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| {
                    let path = p.path.replacen("include", "include_paths", 1).replacen(
                        "exclude",
                        "exclude_paths",
                        1,
                    );
                    FieldError::new(path, p.message)
                })
                .collect()
        })
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

impl fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubConfig")
            .field("credentials", &self.credentials)
            .field("repository_owner", &self.repository_owner)
            .field("repository_name", &self.repository_name)
            .field("repositories", &self.repositories)
            .field("include_pull_requests", &self.include_pull_requests)
            .field("include_issues", &self.include_issues)
            .field("include_bot_comments", &self.include_bot_comments)
            .field("include_code_files", &self.include_code_files)
            .field("branch", &self.branch)
            .field("include_paths", &self.include_paths)
            .field("exclude_paths", &self.exclude_paths)
            .field("max_file_size", &self.max_file_size)
            .field("page_size", &self.page_size)
            .field("requests_per_hour", &self.requests_per_hour)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for GithubConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow keeps the connection's name beside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self
            .credentials
            .github_access_token
            .expose()
            .trim()
            .is_empty()
        {
            problems.push(FieldError::new(TOKEN_FIELD, "must not be empty"));
        }
        let owner = self.repository_owner.trim();
        if !owner.is_empty() && !valid_name(owner) {
            problems.push(FieldError::new(
                "repository_owner",
                "must be a GitHub organisation or user name (letters, digits, `-`, `_`, `.`)",
            ));
        }
        if owner.is_empty() && !self.repository_name.is_empty() {
            problems.push(FieldError::new(
                "repository_name",
                "needs `repository_owner` (or write each entry as `owner/name`)",
            ));
        }
        for (i, name) in self.repository_name.iter().enumerate() {
            let ok = match name.split_once('/') {
                Some((o, n)) => valid_name(o) && valid_name(n),
                None => valid_name(name),
            };
            if !ok {
                problems.push(FieldError::new(
                    format!("repository_name[{i}]"),
                    format!("{name:?} is not a repository name"),
                ));
            }
        }
        for (i, entry) in self.repositories.iter().enumerate() {
            if Scope::parse(entry).is_none() {
                problems.push(FieldError::new(
                    format!("repositories[{i}]"),
                    format!("{entry:?} is neither `owner/name` nor `owner`"),
                ));
            }
        }
        if owner.is_empty() && self.repositories.is_empty() {
            problems.push(FieldError::new(
                "repository_owner",
                "must name an organisation or user (or list `repositories`)",
            ));
        }
        if !self.include_issues && !self.include_pull_requests && !self.include_code_files {
            problems.push(FieldError::new(
                "include_issues",
                "nothing to read: turn on `include_issues`, `include_pull_requests` or `include_code_files`",
            ));
        }
        if self.page_size.get() > 100 {
            problems.push(FieldError::new("page_size", "must be at most 100"));
        }
        if let Some(branch) = &self.branch
            && branch.trim().is_empty()
        {
            problems.push(FieldError::new("branch", "must not be empty when given"));
        }
        if let Err(p) = self.path_filter() {
            problems.extend(p);
        }
        if let Some(url) = &self.base_url
            && !matches!(url.scheme(), "http" | "https")
        {
            problems.push(FieldError::new("base_url", "must be an http(s) URL"));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(v: serde_json::Value) -> GithubConfig {
        connector_core::config::from_json(v).unwrap()
    }

    #[test]
    fn scopes_from_ragflow_fields_and_repositories() {
        let c = config(serde_json::json!({
            "repository_owner": "acme",
            "repository_name": "api, web,other/tools",
            "repositories": ["rust-lang", "acme/api"],
            "credentials": {"github_access_token": "t"},
        }));
        let keys: Vec<String> = c.scopes().iter().map(Scope::key).collect();
        assert_eq!(keys, ["acme/api", "acme/web", "other/tools", "rust-lang"]);
        let whole = config(serde_json::json!({
            "repository_owner": "acme",
            "repository_name": "",
            "credentials": {"github_access_token": "t"},
        }));
        assert_eq!(whole.scopes(), [Scope::Owner("acme".into())]);
    }

    #[test]
    fn validate_names_every_problem() {
        // Past the schema's own checks (which `from_json` applies first), to reach validate().
        let c: GithubConfig = serde_json::from_value(serde_json::json!({
            "repository_owner": "",
            "repository_name": "a b",
            "include_issues": false,
            "include_pull_requests": false,
            "include_paths": ["["],
            "page_size": 500,
            "credentials": {"github_access_token": " "},
        }))
        .unwrap();
        let mut paths: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                TOKEN_FIELD,
                "include_issues",
                "include_paths[0]",
                "page_size",
                "repository_name",
                "repository_name[0]",
                "repository_owner"
            ]
        );
    }
}
