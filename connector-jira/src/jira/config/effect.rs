//! How a [`JiraConfig`] is shown: serialised as the settings in effect, and `Debug` without
//! its secrets.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::StringList;
use serde::{Serialize, Serializer};
use url::Url;

use super::{JiraConfig, JiraCredentials};
use crate::jira::ids::IdScheme;

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
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
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
            id_scheme: self.id_scheme(),
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
