//! What a [`JiraConfig`] accepts and reports: RAGFlow's fields it ignores (with the
//! reason), fields its other settings leave unused, the host's network policy, and every
//! problem by its field path.

use connector_core::config::{Ignored, IgnoredField};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError};
use url::Url;

use super::{IdScheme, JiraConfig, MAX_PAGE_SIZE};

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

    fn use_ragflow_ids(&mut self) {
        self.id_scheme.get_or_insert(IdScheme::RagflowUrl);
    }

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
