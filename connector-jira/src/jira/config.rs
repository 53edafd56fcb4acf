//! [`JiraConfig`]: which Jira, which issues, which credentials. Field names are RAGFlow's, so
//! a RAGFlow Jira connector config is accepted as it is.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::{ConnectorConfig, FieldError, Secret, StringList};
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

/// The credentials, as RAGFlow names them.
///
/// - Jira Cloud: `jira_user_email` + `jira_api_token` (Basic auth; also for scoped tokens).
/// - Server/Data Center: `jira_api_token` alone is a personal access token (Bearer), or
///   `jira_user_email` (the user name) + `jira_password` (Basic auth).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JiraCredentials {
    /// The account's e-mail (Cloud) or user name (Server with a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jira_user_email: Option<String>,
    /// An API token (Cloud, with the e-mail) or a personal access token (Server, alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jira_api_token: Option<Secret>,
    /// The password (Server/Data Center, with the user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jira_password: Option<Secret>,
}

impl fmt::Debug for JiraCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &Option<Secret>| if s.is_some() { "***" } else { "None" };
        f.debug_struct("JiraCredentials")
            .field("jira_user_email", &self.jira_user_email)
            .field("jira_api_token", &shown(&self.jira_api_token))
            .field("jira_password", &shown(&self.jira_password))
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
///     "labels_to_skip": "secret, internal",
///     "credentials": { "jira_user_email": "me@example.com", "jira_api_token": "t0ken" },
/// }))?;
/// assert!(config.is_cloud());
/// assert_eq!(config.labels_to_skip.as_slice(), ["secret", "internal"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// `batch_size` and `time_buffer_seconds` are accepted for RAGFlow compatibility: the host's
/// batch size is the batch loop's option (remote pages are always `page_size` issues), and the
/// window overlap is the batch loop's `overlap`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JiraConfig {
    /// The site: `https://example.atlassian.net` or a Server/Data Center URL (with its context
    /// path, if any). Document ids and links are `{base_url}/browse/{KEY}`.
    pub base_url: Url,
    /// Only issues of this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    /// A JQL filter (its `ORDER BY`, if any, is replaced); combined with `project_key` when
    /// both are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jql_query: Option<String>,
    /// Append the comments to each issue (default true).
    #[serde(default = "yes")]
    pub include_comments: bool,
    /// Also yield each attachment as a document of its own (default false).
    #[serde(default)]
    pub include_attachments: bool,
    /// Largest attachment downloaded, in bytes (default 10 MiB); larger ones are listed in the
    /// issue but not downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_size_limit: Option<u64>,
    /// Issues with any of these labels are skipped.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub labels_to_skip: StringList,
    /// Comments by these e-mail addresses are left out (compared without regard to case).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub comment_email_blacklist: StringList,
    /// The API token is a scoped token: requests go through the Atlassian API gateway
    /// (`{api_gateway_url}/ex/jira/{cloudId}`).
    #[serde(default)]
    pub scoped_token: bool,
    /// The UTC offset in hours JQL dates are read in, used only when `/myself` names no time
    /// zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_offset: Option<f64>,
    /// RAGFlow's host batch size; accepted, not used by the connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<NonZeroU32>,
    /// RAGFlow's window overlap; accepted, not used (the batch loop has `overlap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_buffer_seconds: Option<u64>,
    /// The credentials.
    #[serde(default)]
    pub credentials: JiraCredentials,
    /// Cloud (REST v3, `search/jql`, ADF) or Server/Data Center (REST v2, `search`, wiki
    /// markup). Default: Cloud for `*.atlassian.net` and `*.jira.com` hosts and scoped tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cloud: Option<bool>,
    /// Issues per search request, at most 100 (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<NonZeroU32>,
    /// The gateway scoped tokens go through (default `https://api.atlassian.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_url: Option<Url>,
}

fn yes() -> bool {
    true
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
            attachment_size_limit: None,
            labels_to_skip: StringList::default(),
            comment_email_blacklist: StringList::default(),
            scoped_token: false,
            timezone_offset: None,
            batch_size: None,
            time_buffer_seconds: None,
            credentials: JiraCredentials::default(),
            is_cloud: None,
            page_size: None,
            api_gateway_url: None,
        }
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

    /// Whether the site is Jira Cloud.
    pub fn is_cloud(&self) -> bool {
        self.is_cloud.unwrap_or_else(|| {
            self.scoped_token
                || self.base_url.host_str().is_some_and(|h| {
                    let h = h.to_ascii_lowercase();
                    h.ends_with(".atlassian.net") || h.ends_with(".jira.com")
                })
        })
    }

    /// Issues per search request.
    pub fn page_size(&self) -> u32 {
        self.page_size
            .map_or(MAX_PAGE_SIZE, |n| n.get().min(MAX_PAGE_SIZE))
    }

    /// Largest attachment downloaded.
    pub fn attachment_size_limit(&self) -> u64 {
        self.attachment_size_limit
            .unwrap_or(DEFAULT_ATTACHMENT_SIZE_LIMIT)
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

impl fmt::Debug for JiraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraConfig")
            .field("base_url", &self.base_url.as_str())
            .field("project_key", &self.project_key)
            .field("jql_query", &self.jql_query)
            .field("include_comments", &self.include_comments)
            .field("include_attachments", &self.include_attachments)
            .field("attachment_size_limit", &self.attachment_size_limit)
            .field("labels_to_skip", &self.labels_to_skip)
            .field("comment_email_blacklist", &self.comment_email_blacklist)
            .field("scoped_token", &self.scoped_token)
            .field("timezone_offset", &self.timezone_offset)
            .field("credentials", &self.credentials)
            .field("is_cloud", &self.is_cloud())
            .field("page_size", &self.page_size())
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
    fn validate(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        check_url("base_url", &self.base_url, &mut out);
        if let Some(url) = &self.api_gateway_url {
            check_url("api_gateway_url", url, &mut out);
        }
        let project = self.project_key.as_deref().map(str::trim);
        let jql = self.jql_query.as_deref().map(str::trim);
        match project {
            Some("") => out.push(FieldError::new("project_key", "must not be empty")),
            Some(p) if !p.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                out.push(FieldError::new(
                    "project_key",
                    format!("{p:?} is not a project key (letters, digits and `_`)"),
                ));
            }
            _ => {}
        }
        if jql == Some("") {
            out.push(FieldError::new("jql_query", "must not be empty"));
        }
        if project.is_none() && jql.is_none() {
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
        if self.attachment_size_limit == Some(0) {
            out.push(FieldError::new(
                "attachment_size_limit",
                "must be greater than zero",
            ));
        }
        if let Some(offset) = self.timezone_offset
            && !(-14.0..=14.0).contains(&offset)
        {
            out.push(FieldError::new(
                "timezone_offset",
                format!("{offset} hours is not a UTC offset (-14 to 14)"),
            ));
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
        let email = c.jira_user_email.as_deref().map(str::trim);
        if email == Some("") {
            out.push(FieldError::new(
                "credentials.jira_user_email",
                "must not be empty",
            ));
        }
        if c.jira_api_token.as_ref().is_some_and(Secret::is_empty) {
            out.push(FieldError::new(
                "credentials.jira_api_token",
                "must not be empty",
            ));
        }
        if c.jira_password.as_ref().is_some_and(Secret::is_empty) {
            out.push(FieldError::new(
                "credentials.jira_password",
                "must not be empty",
            ));
        }
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
        if self.is_cloud() && c.jira_api_token.is_some() && email.is_none() {
            out.push(FieldError::new(
                "credentials.jira_user_email",
                "is required with an API token on Jira Cloud",
            ));
        }
        if self.scoped_token && c.jira_api_token.is_none() {
            out.push(FieldError::new(
                "credentials.jira_api_token",
                "is required with `scoped_token`",
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
            "project_key": "A B",
            "labels_to_skip": ["ok", "bad\""],
            "attachment_size_limit": 0,
            "timezone_offset": 20,
            "page_size": 500,
            "credentials": { "jira_password": "pw" },
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "base_url",
            "project_key",
            "labels_to_skip[1]",
            "attachment_size_limit",
            "timezone_offset",
            "page_size",
            "credentials.jira_user_email",
        ] {
            assert!(paths.contains(&expected), "{expected} not in {paths:?}");
        }
    }

    #[test]
    fn unknown_fields_refused() {
        let err = from_json::<JiraConfig>(json!({
            "base_url": "https://jira.local",
            "project": "X",
            "credentials": { "jira_api_token": "t", "token": "x" },
        }))
        .unwrap_err();
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"project"), "{paths:?}");
        assert!(paths.contains(&"credentials.token"), "{paths:?}");
    }
}
