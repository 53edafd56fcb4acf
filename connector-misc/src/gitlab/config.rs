//! [`GitlabConfig`]: which GitLab instance, which project (or group), what of it, and how.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// GitLab.com, the instance used when `gitlab_url` is not given.
pub const DEFAULT_GITLAB_URL: &str = "https://gitlab.com";

/// Items per list page unless configured otherwise (GitLab's maximum `per_page`).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Requests per minute unless configured otherwise: GitLab.com's documented limit for
/// authenticated API traffic per user (2,000 a minute).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 2000;

/// Code files larger than this are failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// The config field of the token, named by 401 and 403 errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.gitlab_access_token";

/// The credentials: RAGFlow's `gitlab_access_token`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GitlabCredentials {
    /// A personal, group or project access token with the `read_api` scope (every call the
    /// connector makes needs it, code files included: `read_repository` alone is refused),
    /// sent as the `PRIVATE-TOKEN` header.
    #[schemars(example = "glpat-xxxxxxxxxxxxxxxxxxxx")]
    pub gitlab_access_token: Secret,
}

impl fmt::Debug for GitlabCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabCredentials")
            .field("gitlab_access_token", &"***")
            .finish()
    }
}

/// The configuration of the GitLab connector (source `"gitlab"`), in RAGFlow's field names.
///
/// ```
/// use connector_misc::gitlab::GitlabConfig;
///
/// // What RAGFlow's form stores.
/// let config: GitlabConfig = connector_core::config::from_json(serde_json::json!({
///     "project_owner": "gitlab-org",
///     "project_name": "gitlab-runner",
///     "gitlab_url": "https://gitlab.com",
///     "include_mrs": true,
///     "include_issues": true,
///     "include_code_files": false,
///     "credentials": {"gitlab_access_token": "glpat-abc"},
/// }))?;
/// assert_eq!(config.projects(), ["gitlab-org/gitlab-runner"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GitlabConfig {
    /// The token.
    pub credentials: GitlabCredentials,
    /// The namespace of the project: a user or a group, subgroups joined by `/`
    /// (`gitlab-org/security`). Without `project_name`, every project of this group and its
    /// subgroups is read, one after the other in one job (a host that lists the group's
    /// projects itself can run each as a job of its own through `Connector::partition`).
    #[schemars(example = "gitlab-org")]
    pub project_owner: String,
    /// The project's path within `project_owner` (`gitlab-runner`), or several separated by
    /// commas, each then a partition of its own; empty or absent: the whole group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "gitlab-runner")]
    pub project_name: Option<String>,
    /// The instance: `https://gitlab.com` (the default) or a self-managed one
    /// (`https://gitlab.example.com`, with its relative path if it has one); a trailing
    /// `/api/v4` is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://gitlab.com")]
    pub gitlab_url: Option<Url>,
    /// Read merge requests (with their comments) as documents. Absent: off, as RAGFlow's
    /// Python connector (`build_connector`, `sync_data_source.Gitlab`) reads it; RAGFlow's Go
    /// syncer reads an absent one as on, but its form always stores all three, and a config
    /// with none of them on is refused ("nothing to read"), never read short.
    #[serde(default)]
    pub include_mrs: bool,
    /// Read issues (with their comments) as documents. Absent: off (see `include_mrs`).
    #[serde(default)]
    pub include_issues: bool,
    /// Read the files of the default branch (or `branch`) as documents. Absent: off (see
    /// `include_mrs`).
    #[serde(default)]
    pub include_code_files: bool,
    /// The branch, tag or commit whose files are read; default: the project's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"main")]
    pub branch: Option<String>,
    /// Put each issue's and merge request's comments (GitLab's notes) into its document.
    /// Default on.
    #[serde(default = "default_true")]
    pub include_comments: bool,
    /// Keep GitLab's system notes ("changed the description", "added label ~bug") among the
    /// comments, marked as such. Default off: they are left out.
    #[serde(default)]
    pub include_system_notes: bool,
    /// Read who may see each project (visibility, and the members of a private or internal
    /// project) into `Document.access`: one paged request per such project. Default on.
    #[serde(default = "default_true")]
    pub include_permissions: bool,
    /// Read archived projects (read-only ones, kept for reference), their documents marked
    /// `archived: true` in metadata. Default on, as RAGFlow reads them; off: an archived
    /// project, named or of the group, is left out (and prune removes what was read of it).
    #[serde(default = "default_true")]
    #[schemars(example = false)]
    pub include_archived: bool,
    /// Largest code file downloaded, in bytes (the tree does not list sizes, so a larger one
    /// is stopped while it downloads); it becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Items per list page (at most 100, GitLab's maximum): the unit of one fingerprint
    /// lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 100))]
    pub page_size: NonZeroU32,
    /// Requests per minute to the instance (GitLab.com allows 2,000 per user for
    /// authenticated API calls; at most 1,000,000).
    #[serde(default = "default_requests_per_minute")]
    #[schemars(range(max = 1_000_000))]
    pub requests_per_minute: NonZeroU32,
    #[doc = "Hosts this connector may reach although they are not public (a self-managed instance on a private network, a test server)."]
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

fn default_requests_per_minute() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN)
}

impl GitlabConfig {
    /// The project `owner/name` on GitLab.com read whole (merge requests, issues, code files),
    /// every other setting at its default.
    pub fn new(
        project_owner: impl Into<String>,
        project_name: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            credentials: GitlabCredentials {
                gitlab_access_token: Secret::new(token.into()),
            },
            project_owner: project_owner.into(),
            project_name: Some(project_name.into()),
            gitlab_url: None,
            include_mrs: true,
            include_issues: true,
            include_code_files: true,
            branch: None,
            include_comments: true,
            include_system_notes: false,
            include_permissions: true,
            include_archived: true,
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            requests_per_minute: default_requests_per_minute(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The owner without the slashes a form may leave around it.
    pub(crate) fn owner(&self) -> &str {
        self.project_owner.trim().trim_matches('/')
    }

    /// The projects named, as `owner/name` paths; empty for the whole group.
    pub fn projects(&self) -> Vec<String> {
        let owner = self.owner();
        self.project_name
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|n| n.trim().trim_matches('/'))
            .filter(|n| !n.is_empty())
            .map(|n| format!("{owner}/{n}"))
            .collect()
    }

    /// The instance's REST base, `{gitlab_url}/api/v4/`.
    ///
    /// # Errors
    /// A `gitlab_url` that cannot take a path.
    pub fn api_base(&self) -> connector_core::Result<Url> {
        let mut base = match &self.gitlab_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_GITLAB_URL).map_err(|e| {
                connector_core::Error::internal("bad default GitLab URL").with_cause(e)
            })?,
        };
        let path = base.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v4").unwrap_or(path).to_owned();
        base.set_path(&format!("{path}/api/v4/"));
        base.set_query(None);
        base.set_fragment(None);
        Ok(base)
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

impl fmt::Debug for GitlabConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabConfig")
            .field("credentials", &self.credentials)
            .field("project_owner", &self.project_owner)
            .field("project_name", &self.project_name)
            .field("gitlab_url", &self.gitlab_url.as_ref().map(Url::as_str))
            .field("include_mrs", &self.include_mrs)
            .field("include_issues", &self.include_issues)
            .field("include_code_files", &self.include_code_files)
            .field("branch", &self.branch)
            .field("include_comments", &self.include_comments)
            .field("include_system_notes", &self.include_system_notes)
            .field("include_permissions", &self.include_permissions)
            .field("include_archived", &self.include_archived)
            .field("max_file_size", &self.max_file_size)
            .field("page_size", &self.page_size)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for GitlabConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "state_filter",
        "RAGFlow reads every state (`all`); so does this connector, and a document's state is in its metadata",
    )
    .quiet_for(&["all"])];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self
            .credentials
            .gitlab_access_token
            .expose()
            .trim()
            .is_empty()
        {
            problems.push(FieldError::new(TOKEN_FIELD, "must not be empty"));
        }
        let owner = self.owner();
        if owner.is_empty() {
            problems.push(FieldError::new(
                "project_owner",
                "must name the user or group that owns the project (`gitlab-org`)",
            ));
        } else if owner.split('/').any(str::is_empty) {
            problems.push(FieldError::new(
                "project_owner",
                "must be a namespace path such as `group/subgroup`, without empty parts",
            ));
        }
        if !(self.include_mrs || self.include_issues || self.include_code_files) {
            problems.push(FieldError::new(
                "include_mrs",
                "nothing to read: turn on at least one of include_mrs, include_issues and include_code_files",
            ));
        }
        if let Some(url) = &self.gitlab_url
            && !matches!(url.scheme(), "http" | "https")
        {
            problems.push(FieldError::new(
                "gitlab_url",
                "must be an http or https URL (`https://gitlab.example.com`)",
            ));
        }
        if self.branch.as_deref().is_some_and(|b| b.trim().is_empty()) {
            problems.push(FieldError::new("branch", "must not be blank"));
        }
        if self.page_size.get() > 100 {
            problems.push(FieldError::new("page_size", "must be at most 100"));
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
    use super::*;

    fn with_url(url: Option<&str>) -> GitlabConfig {
        let mut c = GitlabConfig::new("acme", "api", "glpat-x");
        c.gitlab_url = url.and_then(|u| Url::parse(u).ok());
        c
    }

    #[test]
    fn the_api_base_takes_self_managed_paths_and_a_given_api_v4() {
        let base = |u| {
            with_url(u)
                .api_base()
                .map(|b| b.to_string())
                .unwrap_or_default()
        };
        assert_eq!(base(None), "https://gitlab.com/api/v4/");
        assert_eq!(
            base(Some("https://git.example.com/gitlab/")),
            "https://git.example.com/gitlab/api/v4/"
        );
        assert_eq!(
            base(Some("https://gitlab.com/api/v4")),
            "https://gitlab.com/api/v4/"
        );
        assert_eq!(
            base(Some("http://10.0.0.5:8080?x=1")),
            "http://10.0.0.5:8080/api/v4/"
        );
    }

    #[test]
    fn projects_are_split_on_commas_under_the_owner() {
        let mut c = GitlabConfig::new("/acme/platform/", " api , www ,", "glpat-x");
        assert_eq!(c.projects(), ["acme/platform/api", "acme/platform/www"]);
        c.project_name = None;
        assert!(c.projects().is_empty());
    }

    #[test]
    fn a_config_that_reads_nothing_or_has_no_owner_is_refused_naming_the_fields() {
        let mut c = GitlabConfig::new("", "api", "");
        c.include_mrs = false;
        c.include_issues = false;
        c.include_code_files = false;
        let fields: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(fields, [TOKEN_FIELD, "project_owner", "include_mrs"]);
    }
}
