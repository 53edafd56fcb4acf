//! [`JiraConfig`]: which Jira, which issues, which credentials. Field names, other names and
//! defaults are RAGFlow's, so a RAGFlow Jira connector config (as its data-source form or its
//! API stores it) is accepted as it is and means the same issues.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::{Ignored, IgnoredField};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret, StringList};

use super::ids::IdScheme;
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
/// [`ConnectorConfig::IGNORED`]), except for values that change nothing (`batch_size: 2` and
/// `sync_deleted_files: false`, which RAGFlow's form always sends, and `allow_images: true`).
/// Fields that the others leave unused, as in RAGFlow, are reported too
/// ([`ConnectorConfig::unused`]): `project_key` next to a `jql_query`, and
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
    pub page_size: Option<NonZeroU32>,
    /// The gateway scoped tokens go through (default `https://api.atlassian.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_url: Option<Url>,
    /// How documents are identified: `ragflow_url` (the default: `{base_url}/browse/{KEY}`,
    /// as RAGFlow names them) or `issue_id` (Jira's numeric ids, which survive a move to
    /// another project). See [`IdScheme`] for the ids and why the default is RAGFlow's.
    #[serde(default)]
    pub id_scheme: IdScheme,
    /// The most one request waits in all for Jira's rate limits (429 with `Retry-After` or
    /// `X-RateLimit-Reset`, each wait as long as Jira asks, up to 5 minutes), in seconds
    /// (default 900, connector-core's). Past it, a search page's error ends the sync, which
    /// resumes from the last acknowledged page, with Jira's wait in the error's
    /// `retry_after`; one item's (further comments, an attachment) becomes its failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// ([`ConnectorConfig::set_network_policy`]); never a config field.
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
            id_scheme: IdScheme::default(),
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
    /// (see [`ConnectorConfig::set_network_policy`]), else public addresses plus
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
        self.id_scheme = scheme;
        self
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

/// What [`JiraConfig`] serialises to: its fields, with the settings decided from others (or
/// defaulted) as they apply.
#[derive(Serialize)]
struct InEffect<'a> {
    base_url: &'a Url,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jql_query: Option<&'a str>,
    include_comments: bool,
    include_attachments: bool,
    include_permissions: bool,
    include_secured_issues: bool,
    attachment_size_limit: u64,
    #[serde(skip_serializing_if = "StringList::is_empty")]
    labels_to_skip: &'a StringList,
    #[serde(skip_serializing_if = "StringList::is_empty")]
    comment_email_blacklist: &'a StringList,
    scoped_token: bool,
    credentials: &'a JiraCredentials,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_cloud: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_size: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_gateway_url: Option<&'a Url>,
    id_scheme: IdScheme,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_budget_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_buffer_seconds: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    allowed_hosts: &'a [String],
}

impl Serialize for JiraConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        InEffect {
            base_url: &self.base_url,
            project_key: self.project_key.as_deref(),
            jql_query: self.jql_query.as_deref(),
            include_comments: self.include_comments,
            include_attachments: self.include_attachments,
            include_permissions: self.include_permissions,
            include_secured_issues: self.include_secured_issues,
            attachment_size_limit: self.attachment_size_limit(),
            labels_to_skip: &self.labels_to_skip,
            comment_email_blacklist: &self.comment_email_blacklist,
            scoped_token: self.scoped_token,
            credentials: &self.credentials,
            is_cloud: self.cloud_declared(),
            page_size: self.page_size,
            api_gateway_url: self.api_gateway_url.as_ref(),
            id_scheme: self.id_scheme,
            rate_limit_budget_secs: self.rate_limit_budget_secs,
            time_buffer_seconds: self.time_buffer_seconds,
            allowed_hosts: &self.allowed_hosts,
        }
        .serialize(s)
    }
}

impl fmt::Debug for JiraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraConfig")
            .field("base_url", &self.base_url.as_str())
            .field("project_key", &self.project_key)
            .field("jql_query", &self.jql_query)
            .field("include_comments", &self.include_comments)
            .field("include_attachments", &self.include_attachments)
            .field("include_permissions", &self.include_permissions)
            .field("include_secured_issues", &self.include_secured_issues)
            .field("attachment_size_limit", &self.attachment_size_limit())
            .field("labels_to_skip", &self.labels_to_skip)
            .field("comment_email_blacklist", &self.comment_email_blacklist)
            .field("scoped_token", &self.scoped_token)
            .field("credentials", &self.credentials)
            .field("is_cloud", &self.cloud_declared())
            .field("page_size", &self.page_size())
            .field("id_scheme", &self.id_scheme)
            .field("rate_limit_budget_secs", &self.rate_limit_budget_secs)
            .field("time_buffer_seconds", &self.time_buffer_seconds)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish_non_exhaustive()
    }
}

fn check_url(field: &str, url: &Url, out: &mut Vec<FieldError>) {
    if !matches!(url.scheme(), "http" | "https") {
        out.push(FieldError::new(field, "must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        out.push(FieldError::new(field, "must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        out.push(FieldError::new(
            field,
            "must not hold credentials; use `credentials`",
        ));
    }
}

impl ConnectorConfig for JiraConfig {
    const IGNORED: &'static [IgnoredField] = &[
        IgnoredField::new(
            "batch_size",
            "RAGFlow's Jira connector uses it as its search page size (at most 50) and the host \
             batch; here a search page is `page_size` issues (default 100, Jira's maximum) and \
             documents reach the host in the batches the sync is run with \
             (`SyncOptions::batch_docs`, `connectors sync --batch-size`)",
        )
        // RAGFlow's form default (`INDEX_BATCH_SIZE`), which changes nothing here.
        .quiet_for(&["2"]),
        IgnoredField::new(
            "allow_images",
            "neither RAGFlow's Jira connector nor this one reads it: with \
             `include_attachments`, image attachments are indexed like any other attachment \
             (up to `attachment_size_limit`); without it, no attachment is",
        )
        // Images are indexed (with the attachments), which is what `true` asks for.
        .quiet_for(&["true"]),
        IgnoredField::new(
            "credentials.authentication_method",
            "neither RAGFlow's Jira connector nor this one reads it: the credentials given \
             choose one of Jira's ways to authenticate (`jira_user_email` + `jira_api_token`: \
             Basic; `jira_api_token` alone: Bearer, a personal or OAuth access token; \
             `jira_user_email` + `jira_password`: Basic; `scoped_token` on Cloud: the token \
             through the Atlassian API gateway)",
        ),
        IgnoredField::new(
            "timezone_offset",
            "RAGFlow writes the window's start as a date in this zone; here it is written as \
             epoch milliseconds, which Jira reads as an instant in no zone at all, so no \
             offset (and no `/myself` call) is needed",
        ),
    ];

    fn unused(&self) -> Vec<Ignored> {
        let mut out = Vec::new();
        // RAGFlow's `_build_jql`: `if jql_query: (jql) elif project_key: project = ...`.
        if self.jql().is_some()
            && self
                .project_key
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty())
        {
            out.push(Ignored::new(
                "project_key",
                "`jql_query` is given and alone says which issues, as in RAGFlow (no \
                 `project = ...` is added to it); name the project in the query if it means one",
            ));
        }
        // RAGFlow's `load_credentials`: a token (with the e-mail or alone) before user name +
        // password, whichever else is given.
        if self.credentials.jira_api_token.is_some() && self.credentials.jira_password.is_some() {
            out.push(Ignored::new(
                "credentials.jira_password",
                "`credentials.jira_api_token` is given and wins over the password, as in RAGFlow",
            ));
        }
        out
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        check_url("base_url", &self.base_url, &mut out);
        out.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        if let Some(url) = &self.api_gateway_url {
            check_url("api_gateway_url", url, &mut out);
        }
        // Blank fields never get here (core's config layer reads them as absent).
        if self.project_in_scope().is_none() && self.jql().is_none() {
            out.push(FieldError::new(
                "project_key",
                "set `project_key` or `jql_query` (Jira refuses unbounded searches)",
            ));
        }
        for (i, label) in self.labels_to_skip.as_slice().iter().enumerate() {
            if label.contains('"') || label.contains('\\') {
                out.push(FieldError::new(
                    format!("labels_to_skip[{i}]"),
                    "a Jira label holds no `\"` or `\\`",
                ));
            }
        }
        if let Some(n) = self.page_size
            && n.get() > MAX_PAGE_SIZE
        {
            out.push(FieldError::new(
                "page_size",
                format!("must be at most {MAX_PAGE_SIZE}"),
            ));
        }
        let c = &self.credentials;
        let email = c
            .jira_user_email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        match (&c.jira_api_token, &c.jira_password) {
            (None, None) => out.push(FieldError::new(
                "credentials.jira_api_token",
                "is required (or `credentials.jira_password` with `credentials.jira_user_email`)",
            )),
            (None, Some(_)) if email.is_none() => out.push(FieldError::new(
                "credentials.jira_user_email",
                "is required with `credentials.jira_password`",
            )),
            _ => {}
        }
        if let Some(version) = c.rest_api_version.as_deref()
            && !matches!(version.trim(), "2" | "3" | "latest")
        {
            out.push(FieldError::new(
                "credentials.rest_api_version",
                format!(
                    "{version:?} is not a Jira REST API version: \"3\" (Cloud), \"2\" (Server/Data Center) or \"latest\""
                ),
            ));
        }
        if self.uses_gateway() && c.jira_api_token.is_none() {
            out.push(FieldError::new(
                "credentials.jira_api_token",
                "is required with `scoped_token` on Jira Cloud",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::ErrorKind;
    use connector_core::config::from_json;
    use serde_json::json;

    #[test]
    fn ragflow_config_as_it_is() {
        let cfg: JiraConfig = from_json(json!({
            "base_url": "https://acme.atlassian.net",
            "project_key": "ENG",
            "jql_query": "type = Bug",
            "include_comments": true,
            "include_attachments": true,
            "attachment_size_limit": 1048576,
            "labels_to_skip": ["secret", " internal "],
            "comment_email_blacklist": "bot@acme.com, ci@acme.com,",
            "scoped_token": false,
            "timezone_offset": 2,
            "batch_size": 2,
            "time_buffer_seconds": 60,
            "credentials": {
                "jira_user_email": "me@acme.com",
                "jira_api_token": "tok-123456",
            },
        }))
        .unwrap();
        assert!(cfg.is_cloud());
        assert_eq!(cfg.labels_to_skip.as_slice(), ["secret", "internal"]);
        assert_eq!(
            cfg.comment_email_blacklist.as_slice(),
            ["bot@acme.com", "ci@acme.com"]
        );
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("tok-123456"), "{shown}");
    }

    #[test]
    fn every_problem_by_path() {
        let err = from_json::<JiraConfig>(json!({
            "base_url": "ftp://jira.local/?x=1",
            "labels_to_skip": ["ok", "bad\""],
            "page_size": 500,
            "credentials": { "jira_password": "pw", "rest_api_version": "4" },
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "base_url",
            "project_key",
            "labels_to_skip[1]",
            "page_size",
            "credentials.jira_user_email",
            "credentials.rest_api_version",
        ] {
            assert!(paths.contains(&expected), "{expected} not in {paths:?}");
        }
    }

    fn config(extra: serde_json::Value) -> JiraConfig {
        let mut cfg = json!({
            "base_url": "https://jira.acme.org",
            "project_key": "ENG",
            "credentials": { "jira_api_token": "tok" },
        });
        if let (Some(cfg), serde_json::Value::Object(extra)) = (cfg.as_object_mut(), extra) {
            cfg.extend(extra);
        }
        from_json(cfg).unwrap()
    }

    #[test]
    fn which_api_as_ragflow_decides() {
        // The host decides when nothing else does.
        assert!(!config(json!({})).is_cloud());
        let cloud = json!({"base_url": "https://acme.jira-dev.com"});
        assert!(config(cloud).is_cloud());
        // The form's `is_cloud`.
        assert!(config(json!({"is_cloud": true})).is_cloud());
        // RAGFlow's `rest_api_version` decides over `is_cloud`; `latest` leaves it to the rest.
        let v = |version: serde_json::Value, is_cloud: bool| {
            config(json!({
                "is_cloud": is_cloud,
                "credentials": { "jira_api_token": "tok", "rest_api_version": version },
            }))
            .is_cloud()
        };
        assert!(v(json!("3"), false));
        assert!(!v(json!("2"), true));
        assert!(v(json!("latest"), true));
    }

    #[test]
    fn scoped_tokens_only_on_cloud() {
        // RAGFlow ignores `scoped_token` off Cloud; its Server form may leave it ticked.
        let server = config(json!({
            "scoped_token": true,
            "is_cloud": false,
            "credentials": { "jira_user_email": "jdoe", "jira_password": "pw" },
        }));
        assert!(!server.uses_gateway());
        let cloud = config(json!({"scoped_token": true, "is_cloud": true}));
        assert!(cloud.uses_gateway());
        let err = from_json::<JiraConfig>(json!({
            "base_url": "https://acme.atlassian.net",
            "project_key": "ENG",
            "scoped_token": true,
            "credentials": { "jira_user_email": "me@acme.com", "jira_password": "pw" },
        }))
        .unwrap_err();
        assert_eq!(err.problems()[0].path, "credentials.jira_api_token");
    }

    #[test]
    fn a_token_alone_is_accepted_on_cloud_too() {
        // RAGFlow sends it as a Bearer token (an OAuth 2.0 access token on Cloud).
        let cfg = config(json!({"base_url": "https://acme.atlassian.net"}));
        assert!(cfg.is_cloud());
        assert!(cfg.credentials.jira_user_email.is_none());
    }

    #[test]
    fn attachment_limit_zero_is_the_default_and_shown_in_effect() {
        for limit in [json!(0), json!(null)] {
            let cfg = config(json!({"attachment_size_limit": limit}));
            assert_eq!(cfg.attachment_size_limit(), DEFAULT_ATTACHMENT_SIZE_LIMIT);
            let shown = serde_json::to_value(&cfg).unwrap();
            assert_eq!(
                shown["attachment_size_limit"],
                DEFAULT_ATTACHMENT_SIZE_LIMIT
            );
        }
        let cfg = config(json!({"attachment_size_limit": 1024}));
        assert_eq!(cfg.attachment_size_limit(), 1024);
        assert_eq!(
            serde_json::to_value(&cfg).unwrap()["attachment_size_limit"],
            1024
        );
    }

    #[test]
    fn serialised_as_in_effect_and_reads_back_the_same() {
        for extra in [
            json!({}),
            json!({"base_url": "https://acme.atlassian.net", "scoped_token": true}),
            json!({"is_cloud": true, "attachment_size_limit": 0, "labels_to_skip": "a, b"}),
            json!({"credentials": {"jira_api_token": "tok", "rest_api_version": 3}}),
        ] {
            let cfg = config(extra.clone());
            let shown = serde_json::to_value(&cfg).unwrap();
            // Absent when nothing says: the site is asked, again after reading it back.
            assert_eq!(
                shown.get("is_cloud").and_then(serde_json::Value::as_bool),
                cfg.cloud_declared(),
                "{extra}"
            );
            let again: JiraConfig = from_json(shown.clone()).unwrap();
            assert_eq!(serde_json::to_value(&again).unwrap(), shown, "{extra}");
        }
    }

    #[test]
    fn a_project_name_is_a_project() {
        // RAGFlow quotes it into `project = "..."`, which takes names as well as keys.
        let cfg = config(json!({"project_key": "Web Team"}));
        assert_eq!(cfg.project_in_scope(), Some("Web Team"));
        let cfg = config(json!({"jql_query": "labels = x"}));
        assert_eq!(cfg.project_in_scope(), None);
    }

    #[test]
    fn still_strict_about_typos() {
        let err = from_json::<JiraConfig>(json!({
            "base_url": "https://jira.local",
            "project_kee": "X",
            "credentials": { "jira_api_tokn": "t" },
        }))
        .unwrap_err();
        let problems: Vec<String> = err
            .problems()
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        let of = |path: &str| problems.iter().find(|p| p.starts_with(path)).cloned();
        assert!(
            of("project_kee").is_some_and(|p| p.contains("project_key")),
            "{problems:?}"
        );
        assert!(
            of("credentials.jira_api_tokn").is_some_and(|p| p.contains("jira_api_token")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_alias_and_its_field_with_two_values_take_the_field() {
        // RAGFlow reads `get("jira_api_token") or get("token")`: the field wins, and the
        // alias that lost is reported as ignored (core's config layer, f5ea8cc).
        let parsed = connector_core::config::parse::<JiraConfig>(json!({
            "base_url": "https://jira.local",
            "project_key": "X",
            "credentials": { "jira_api_token": "t-field", "token": "x-alias" },
        }))
        .unwrap();
        let token = parsed.config.credentials.jira_api_token.as_ref().unwrap();
        assert_eq!(token.expose(), "t-field");
        let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(ignored, ["credentials.token"]);
        let shown = format!("{:?} {}", parsed.config, parsed.ignored[0]);
        assert!(
            !shown.contains("x-alias") && !shown.contains("t-field"),
            "{shown}"
        );
    }

    #[test]
    fn the_form_as_ragflow_sends_it() {
        // Issue 14: blanks, both credential name sets, numbers as strings.
        let parsed = connector_core::config::parse::<JiraConfig>(json!({
            "is_cloud": false,
            "base_url": "https://jira.acme.internal",
            "project_key": "",
            "jql_query": "project = OPS",
            "batch_size": "2",
            "include_comments": true,
            "include_attachments": false,
            "attachment_size_limit": "1048576",
            "labels_to_skip": [],
            "comment_email_blacklist": [],
            "scoped_token": false,
            "time_buffer_seconds": "120",
            "sync_deleted_files": false,
            "credentials": {
                "jira_user_email": "",
                "jira_username": "jdoe",
                "jira_api_token": "",
                "jira_password": "pw-123456",
            },
        }))
        .unwrap();
        let cfg = parsed.config;
        assert_eq!(cfg.credentials.jira_user_email.as_deref(), Some("jdoe"));
        assert!(cfg.credentials.jira_api_token.is_none());
        assert!(cfg.credentials.jira_password.is_some());
        assert_eq!(cfg.project_key, None);
        assert_eq!(cfg.attachment_size_limit(), 1_048_576);
        assert!(!cfg.is_cloud());
        // RAGFlow's overlap, read (issue 15: the search index's lag).
        assert_eq!(cfg.time_buffer_seconds, Some(120));
        let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        // `sync_deleted_files: false` and `batch_size: 2`, which the form always sends,
        // change nothing: no note.
        assert!(ignored.is_empty(), "{ignored:?}");
        // RAGFlow's other names, each for its field.
        for (name, value) in [("token", "t1"), ("api_token", "t2")] {
            let cfg: JiraConfig = from_json(json!({
                "base_url": "https://jira.local",
                "project_key": "X",
                "credentials": { name: value, "password": "p" },
            }))
            .unwrap();
            assert!(cfg.credentials.jira_api_token.is_some(), "{name}");
            assert!(cfg.credentials.jira_password.is_some(), "{name}");
        }
    }

    /// `extra` over a minimal config, parsed with its notes.
    fn read(extra: serde_json::Value) -> connector_core::config::Parsed<JiraConfig> {
        let mut cfg = json!({
            "base_url": "https://jira.acme.org",
            "project_key": "ENG",
            "credentials": { "jira_api_token": "tok" },
        });
        if let (Some(cfg), serde_json::Value::Object(extra)) = (cfg.as_object_mut(), extra) {
            cfg.extend(extra);
        }
        connector_core::config::parse(cfg).unwrap()
    }

    fn ignored_paths(parsed: &connector_core::config::Parsed<JiraConfig>) -> Vec<&str> {
        parsed.ignored.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn attachment_limit_zero_or_less_is_the_default_as_in_ragflow() {
        // RAGFlow: `attachment_size_limit if attachment_size_limit and attachment_size_limit
        // > 0 else 10 MiB`.
        for limit in [json!(-1), json!("-1"), json!("0"), json!(-1048576)] {
            let cfg = config(json!({"attachment_size_limit": limit}));
            assert_eq!(
                cfg.attachment_size_limit(),
                DEFAULT_ATTACHMENT_SIZE_LIMIT,
                "{limit}"
            );
        }
        // Not a number at all is still refused.
        let err = from_json::<JiraConfig>(json!({
            "base_url": "https://jira.local",
            "project_key": "X",
            "attachment_size_limit": "ten megs",
            "credentials": { "jira_api_token": "t" },
        }))
        .unwrap_err();
        assert_eq!(err.problems()[0].path, "attachment_size_limit");
    }

    #[test]
    fn generic_knobs_get_reasons_that_fit_jira() {
        let parsed = read(json!({
            "allow_images": false,
            "batch_size": 2,
            "credentials": { "jira_api_token": "tok", "authentication_method": "api_token" },
        }));
        // `batch_size: 2` is what RAGFlow's form always sends: no note.
        assert_eq!(
            ignored_paths(&parsed),
            ["allow_images", "credentials.authentication_method"]
        );
        // Image attachments are indexed: the user is not told there are no images.
        let images = &parsed.ignored[0].reason;
        assert!(images.contains("include_attachments"), "{images}");
        assert!(!images.contains("no images"), "{images}");
        // Jira has four ways to authenticate, chosen by the credentials given.
        let how = &parsed.ignored[1].reason;
        assert!(
            how.contains("jira_password") && how.contains("scoped_token"),
            "{how}"
        );
        // Asking for images is what happens (with include_attachments): no note.
        let images = read(json!({"allow_images": "True", "include_attachments": true}));
        assert!(ignored_paths(&images).is_empty());
        // Another batch size is a note.
        assert_eq!(
            ignored_paths(&read(json!({"batch_size": "10"}))),
            ["batch_size"]
        );
    }

    #[test]
    fn fields_left_unused_by_the_others_are_reported_as_ragflow_reads_them() {
        // RAGFlow: `if jql_query: (jql) elif project_key: project = ...`.
        let both = read(json!({"jql_query": "type = Bug"}));
        assert_eq!(ignored_paths(&both), ["project_key"]);
        assert!(
            both.ignored[0].reason.contains("jql_query"),
            "{}",
            both.ignored[0]
        );
        // A query that is only an ORDER BY selects nothing: the project does.
        assert!(ignored_paths(&read(json!({"jql_query": "ORDER BY created"}))).is_empty());
        // RAGFlow: a token (with or without the e-mail) wins over user name + password.
        for credentials in [
            json!({"jira_api_token": "tok", "jira_password": "pw"}),
            json!({"jira_user_email": "me@acme.org", "token": "tok", "password": "pw"}),
        ] {
            let token_wins = read(json!({ "credentials": credentials }));
            assert_eq!(ignored_paths(&token_wins), ["credentials.jira_password"]);
            let shown = token_wins.ignored[0].to_string();
            assert!(
                shown.contains("jira_api_token") && !shown.contains("pw"),
                "{shown}"
            );
        }
        // What is used is not reported.
        let server = read(json!({
            "credentials": { "jira_user_email": "jdoe", "jira_password": "pw" },
        }));
        assert!(ignored_paths(&server).is_empty());
    }

    #[test]
    fn ragflow_declarations_are_sound() {
        assert_eq!(
            connector_core::config::declaration_problems::<JiraConfig>(),
            Vec::<String>::new()
        );
    }
}
