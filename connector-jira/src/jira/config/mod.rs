//! [`JiraConfig`]: which Jira, which issues, which credentials. Field names, other names and
//! defaults are RAGFlow's, so a RAGFlow Jira connector config (as its data-source form or its
//! API stores it) is accepted as it is and means the same issues.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::net::NetworkPolicy;
use connector_core::{Secret, StringList};

use super::ids::IdScheme;

mod effect;
#[cfg(test)]
mod tests;
mod validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Attachments larger than this are not downloaded unless configured otherwise: 10 MiB, as in
/// RAGFlow.
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// Issues per search request: the largest page Jira serves when fields are requested.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The Atlassian API gateway that scoped tokens are sent to.
pub const DEFAULT_API_GATEWAY: &str = "https://api.atlassian.com";

/// Hosts of Jira Cloud sites, as RAGFlow recognises them.
const CLOUD_HOST_SUFFIXES: [&str; 3] = [".atlassian.net", ".jira.com", ".jira-dev.com"];

/// The credentials, as RAGFlow names them (and under the other names RAGFlow reads).
///
/// - Jira Cloud: `jira_user_email` + `jira_api_token` (Basic auth; also for scoped tokens).
/// - Server/Data Center: `jira_user_email` (the user name, also `jira_username` as RAGFlow's
///   Server form sends it) + `jira_password` (Basic auth).
/// - `jira_api_token` alone is sent as a Bearer token: a personal access token on
///   Server/Data Center, an OAuth 2.0 access token on Cloud.
///
/// A token wins over a password when both are given, as in RAGFlow (the password is then
/// reported as unused).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JiraCredentials {
    /// The account's e-mail (Cloud) or user name (Server with a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-aliases" = ["jira_username"]))]
    pub jira_user_email: Option<String>,
    /// An API token (Cloud, with the e-mail) or a personal access token (Server, alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-aliases" = ["token", "api_token"]))]
    pub jira_api_token: Option<Secret>,
    /// The password (Server/Data Center, with the user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-aliases" = ["password"]))]
    pub jira_password: Option<Secret>,
    /// The REST API version RAGFlow talks: `"3"` is Jira Cloud (REST v3, ADF), `"2"` is
    /// Server/Data Center (REST v2, wiki markup), `"latest"` leaves the choice to `is_cloud`
    /// and the host. When given as `"2"` or `"3"` it decides over `is_cloud`, as in RAGFlow,
    /// whose sync reads this and not the form's `is_cloud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_api_version: Option<String>,
}

impl fmt::Debug for JiraCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &Option<Secret>| if s.is_some() { "***" } else { "None" };
        f.debug_struct("JiraCredentials")
            .field("jira_user_email", &self.jira_user_email)
            .field("jira_api_token", &shown(&self.jira_api_token))
            .field("jira_password", &shown(&self.jira_password))
            .field("rest_api_version", &self.rest_api_version)
            .finish()
    }
}

/// The configuration of the Jira connector (source `"jira"`).
///
/// ```
/// use connector_jira::JiraConfig;
///
/// let config: JiraConfig = connector_core::config::from_json(serde_json::json!({
///     "base_url": "https://example.atlassian.net",
///     "project_key": "ENG",
///     "jql_query": "",
///     "labels_to_skip": "secret, internal",
///     "credentials": { "jira_username": "me@example.com", "api_token": "t0ken" },
/// }))?;
/// assert!(config.is_cloud());
/// assert_eq!(config.jql_query, None);
/// assert_eq!(config.credentials.jira_user_email.as_deref(), Some("me@example.com"));
/// assert_eq!(config.labels_to_skip.as_slice(), ["secret", "internal"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// RAGFlow's `batch_size`, `timezone_offset` (and the generic
/// `sync_batch_size`, `sync_deleted_files`, `allow_images`, `credentials.authentication_method`)
/// are accepted and reported as ignored, each with the reason (see
/// [`ConnectorConfig::IGNORED`](connector_core::config::ConnectorConfig::IGNORED)), except for values that change nothing (`batch_size: 2` and
/// `sync_deleted_files: false`, which RAGFlow's form always sends, and `allow_images: true`).
/// Fields that the others leave unused, as in RAGFlow, are reported too
/// ([`ConnectorConfig::unused`](connector_core::config::ConnectorConfig::unused)): `project_key` next to a `jql_query`, and
/// `credentials.jira_password` next to a `credentials.jira_api_token`.
///
/// Serialised as the settings in effect: `is_cloud` as decided (see
/// [`JiraConfig::cloud_declared`]; absent when the site is to be asked) and `attachment_size_limit` as the limit that applies, so a host (and
/// [`Registry::effective_config`](connector_core::Registry::effective_config)) sees the
/// defaults; the output reads back as the same config.
#[derive(Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JiraConfig {
    /// The site: `https://example.atlassian.net` or a Server/Data Center URL (with its context
    /// path, if any). Links are `{base_url}/browse/{KEY}`, and so are issue ids by default
    /// (see `id_scheme`).
    pub base_url: Url,
    /// Only issues of this project: its key (`ENG`), or its name or id, as JQL's `project =`
    /// takes them. Not used when `jql_query` is given: as in RAGFlow, the query then says
    /// which issues, and should name the project itself if it means one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    /// A JQL filter; when given it alone decides the issues (with `labels_to_skip` and the
    /// sync's window), as in RAGFlow, and `project_key` is not added to it. Its `ORDER BY`,
    /// if any, is replaced: the connector orders by key to page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jql_query: Option<String>,
    /// Append the comments to each issue (default true).
    #[serde(default = "yes")]
    pub include_comments: bool,
    /// Also yield each attachment as a document of its own (default false).
    #[serde(default)]
    pub include_attachments: bool,
    /// Fill each document's `access` from Jira's permissions, and index comments restricted to
    /// a group or role as documents of their own (default false: `access` is left unknown and
    /// restricted comments are left out). See the crate's README for what `access` holds and
    /// the requests it costs; reading permission schemes and security levels takes a token
    /// of an administrator of Jira or of the projects, else `access` names no one (fails closed).
    #[serde(default)]
    pub include_permissions: bool,
    /// Index issues under an issue security level although `include_permissions` is off
    /// (default false). Such an issue is readable only by the level's members, but without
    /// `include_permissions` its documents carry no `access` (unknown, for the host to
    /// decide), so by default it is left out: counted in the sync's skipped items and logged.
    /// With `include_permissions` secured issues are always indexed, with the level's members
    /// as their access.
    #[serde(default)]
    pub include_secured_issues: bool,
    /// Largest attachment downloaded, in bytes (default 10 MiB, as is `0` or less, as in
    /// RAGFlow); larger ones are listed in the issue but not downloaded.
    #[serde(default)]
    #[schemars(extend("x-default-unless-positive" = true))]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub attachment_size_limit: Option<u64>,
    /// Issues with any of these labels (compared without regard to case) are skipped.
    ///
    /// Issues without labels are kept. RAGFlow's query (`labels NOT IN (...)`) also drops
    /// every issue that has no label at all, since JQL's `NOT IN` never matches an empty
    /// field; that is a bug of RAGFlow's, not followed here (the query is
    /// `labels IS EMPTY OR labels NOT IN (...)`).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub labels_to_skip: StringList,
    /// Comments by these e-mail addresses are left out (compared without regard to case).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub comment_email_blacklist: StringList,
    /// The API token is a scoped token: on Jira Cloud, requests go through the Atlassian API
    /// gateway (`{api_gateway_url}/ex/jira/{cloudId}`). On Server/Data Center it is ignored
    /// with a warning, as RAGFlow ignores it off Cloud (its form keeps the box ticked when
    /// switched to Server).
    #[serde(default)]
    pub scoped_token: bool,
    /// The credentials.
    #[serde(default)]
    pub credentials: JiraCredentials,
    /// Cloud (REST v3, `search/jql`, ADF) or Server/Data Center (REST v2, `search`, wiki
    /// markup), as RAGFlow's form sets it (`true` by default there). `credentials.
    /// rest_api_version` `"2"`/`"3"` decides over it, as in RAGFlow. Without either: Cloud
    /// for `*.atlassian.net`, `*.jira.com` and `*.jira-dev.com` hosts; on another domain the
    /// connector asks the site once (`/rest/api/2/serverInfo`'s `deploymentType`), and a
    /// Server search answered with 410 Gone (removed on Cloud) switches to Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cloud: Option<bool>,
    /// Issues per search request, at most 100 (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: Option<NonZeroU32>,
    /// The gateway scoped tokens go through (default `https://api.atlassian.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_url: Option<Url>,
    /// How documents are identified: `issue_id` (the default: Jira's numeric ids, which
    /// survive a move to another project) or `ragflow_url` (`{base_url}/browse/{KEY}`, as
    /// RAGFlow names them, for a host migrating from RAGFlow; a host can also make it the
    /// default of every config that names no scheme with `Registry::set_ragflow_ids`). See
    /// [`IdScheme`]. Read it with [`id_scheme()`](Self::id_scheme).
    #[serde(default, serialize_with = "scheme_in_effect")]
    pub id_scheme: Option<IdScheme>,
    /// The most one request waits in all for Jira's rate limits (429 with `Retry-After` or
    /// `X-RateLimit-Reset`, each wait as long as Jira asks, up to 5 minutes), in seconds
    /// (default 900, connector-core's). Past it, a search page's error ends the sync, which
    /// resumes from the last acknowledged page, with Jira's wait in the error's
    /// `retry_after`; one item's (further comments, an attachment) becomes its failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub rate_limit_budget_secs: Option<u64>,
    /// How long before the previous window's end an incremental run starts, in seconds
    /// (RAGFlow's `time_buffer_seconds`; `0`: no overlap). Jira's search index lags its
    /// writes (Cloud's search has no read-after-write): an issue edited just before a run's
    /// end can show up in the search only after it, with an `updated` time inside the
    /// window that run already closed. Default: 600 (ten minutes) on Cloud, 60 on
    /// Server/Data Center (RAGFlow's default, `JIRA_SYNC_TIME_BUFFER_SECONDS`). What the
    /// overlap lists again costs a search only: unchanged issues are skipped by version.
    /// The sync's own `SyncOptions::overlap` applies when it is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub time_buffer_seconds: Option<u64>,
    /// Hosts this connector may reach although they are not public addresses: host names
    /// (`jira.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or networks
    /// (`10.20.0.0/16`). Private, loopback and link-local addresses (the cloud metadata
    /// service at 169.254.169.254) are denied otherwise, on every redirect too: `base_url` is
    /// set by whoever writes the config. A Server/Data Center on an intranet is named here. A
    /// host that runs connectors for others can rule this field out
    /// (`Registry::set_network_policy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the one above
    /// ([`ConnectorConfig::set_network_policy`](connector_core::config::ConnectorConfig::set_network_policy)); never a config field.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

/// The least overlap of incremental windows on Jira Cloud: its search index's lag.
pub const CLOUD_INDEX_LAG_SECS: u64 = 600;

/// The least overlap of incremental windows on Server/Data Center, as RAGFlow's default.
pub const SERVER_INDEX_LAG_SECS: u64 = 60;

/// The API a `rest_api_version` names.
enum ApiVersion {
    Cloud,
    Server,
}

fn yes() -> bool {
    true
}

fn effective_limit(limit: Option<u64>) -> u64 {
    match limit {
        Some(0) | None => DEFAULT_ATTACHMENT_SIZE_LIMIT,
        Some(n) => n,
    }
}

impl JiraConfig {
    /// A config for `base_url` with every other setting at its default and no credentials.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            project_key: None,
            jql_query: None,
            include_comments: true,
            include_attachments: false,
            include_permissions: false,
            include_secured_issues: false,
            attachment_size_limit: None,
            labels_to_skip: StringList::default(),
            comment_email_blacklist: StringList::default(),
            scoped_token: false,
            credentials: JiraCredentials::default(),
            is_cloud: None,
            page_size: None,
            api_gateway_url: None,
            id_scheme: None,
            rate_limit_budget_secs: None,
            time_buffer_seconds: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// May also reach `hosts` although they are not public addresses (see
    /// [`allowed_hosts`](Self::allowed_hosts)): a Server/Data Center on an intranet.
    #[must_use]
    pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// The policy every request of this connector goes through: the host's when it set one
    /// (see [`ConnectorConfig::set_network_policy`](connector_core::config::ConnectorConfig::set_network_policy)), else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is not a host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// Documents identified by `scheme` (see [`IdScheme`]).
    #[must_use]
    pub fn with_id_scheme(mut self, scheme: IdScheme) -> Self {
        self.id_scheme = Some(scheme);
        self
    }

    /// The id scheme in effect: the config's, else [`IdScheme::IssueId`].
    pub fn id_scheme(&self) -> IdScheme {
        self.id_scheme.unwrap_or_default()
    }

    /// Only issues of `key`.
    #[must_use]
    pub fn with_project(mut self, key: impl Into<String>) -> Self {
        self.project_key = Some(key.into());
        self
    }

    /// Cloud e-mail + API token (or Server user name + personal access token as Bearer when
    /// `email` is `None`).
    #[must_use]
    pub fn with_token(mut self, email: Option<&str>, token: impl Into<Secret>) -> Self {
        self.credentials.jira_user_email = email.map(str::to_owned);
        self.credentials.jira_api_token = Some(token.into());
        self
    }

    /// Whether the config says the site is Jira Cloud: see [`JiraConfig::cloud_declared`];
    /// `false` when it says nothing (the connector then asks the site, see there).
    pub fn is_cloud(&self) -> bool {
        self.cloud_declared().unwrap_or(false)
    }

    /// Cloud (`Some(true)`) or Server/Data Center (`Some(false)`) as the config says it:
    /// `credentials.rest_api_version` `"3"` or `"2"` first (RAGFlow's switch), then
    /// `is_cloud`, then a Cloud host (`*.atlassian.net`, `*.jira.com`, `*.jira-dev.com`), then
    /// a password without a token (Server, as RAGFlow decides it).
    ///
    /// `None` when nothing says (a site on its own domain, `is_cloud` absent, as configs made
    /// through RAGFlow's API may be): the connector then asks the site once
    /// (`GET /rest/api/2/serverInfo`, Cloud when its `deploymentType` is `"Cloud"`, Server
    /// otherwise or when it cannot tell), and a Server search that Jira answers with 410 Gone
    /// (Cloud removed `/rest/api/2/search`) moves it to Cloud. RAGFlow decides such a config
    /// by its credentials (a token: Cloud); asking the site gives the same answer for a Cloud
    /// site and the right one for a Data Center personal access token.
    pub fn cloud_declared(&self) -> Option<bool> {
        match self.rest_api_version() {
            Some(ApiVersion::Cloud) => return Some(true),
            Some(ApiVersion::Server) => return Some(false),
            None => {}
        }
        if self.is_cloud.is_some() {
            return self.is_cloud;
        }
        let cloud_host = self.base_url.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            CLOUD_HOST_SUFFIXES.iter().any(|s| h.ends_with(s))
        });
        if cloud_host {
            return Some(true);
        }
        // A password without a token is Server/Data Center, as RAGFlow decides it (no token:
        // REST v2): Jira Cloud has not taken passwords on its API since 2019.
        let password_only =
            self.credentials.jira_api_token.is_none() && self.credentials.jira_password.is_some();
        password_only.then_some(false)
    }

    /// Whether requests go through the Atlassian API gateway: a scoped token on Jira Cloud.
    /// RAGFlow ignores `scoped_token` off Cloud, and so does this.
    pub fn uses_gateway(&self) -> bool {
        self.scoped_token && self.is_cloud()
    }

    /// The project that bounds the search: `project_key`, unless `jql_query` is given (then
    /// the query alone says which issues, as in RAGFlow).
    pub fn project_in_scope(&self) -> Option<&str> {
        if self.jql().is_some() {
            return None;
        }
        self.project_key
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    /// `jql_query` without its `ORDER BY` (the connector orders), trimmed, when it says which
    /// issues.
    pub(crate) fn jql(&self) -> Option<&str> {
        self.jql_query
            .as_deref()
            .map(|q| super::client::strip_order_by(q).trim())
            .filter(|q| !q.is_empty())
    }

    /// `credentials.rest_api_version` when it names Cloud or Server (not `latest`).
    fn rest_api_version(&self) -> Option<ApiVersion> {
        match self.credentials.rest_api_version.as_deref().map(str::trim) {
            Some("3") => Some(ApiVersion::Cloud),
            Some("2") => Some(ApiVersion::Server),
            _ => None,
        }
    }

    /// Issues per search request.
    pub fn page_size(&self) -> u32 {
        self.page_size
            .map_or(MAX_PAGE_SIZE, |n| n.get().min(MAX_PAGE_SIZE))
    }

    /// Largest attachment downloaded.
    pub fn attachment_size_limit(&self) -> u64 {
        effective_limit(self.attachment_size_limit)
    }

    /// The site URL without a trailing `/`, as used in ids.
    pub fn site(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The config field a 401 names.
    pub(crate) fn credential_field(&self) -> &'static str {
        if self.credentials.jira_api_token.is_some() {
            "credentials.jira_api_token"
        } else {
            "credentials.jira_password"
        }
    }
}

/// Serialises the id scheme in effect, so the effective config shows it.
fn scheme_in_effect<S: serde::Serializer>(
    scheme: &Option<IdScheme>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&scheme.unwrap_or_default(), serializer)
}
