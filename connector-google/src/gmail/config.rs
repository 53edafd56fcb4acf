//! [`GmailConfig`]: which mailboxes, which credentials. RAGFlow's Gmail config (its form's
//! credentials, and `batch_size`, which the host's batches replace) is accepted as it is and
//! means the same mailboxes: every user's of the primary admin's domain with a service
//! account, the token's own with an OAuth token.

use std::fmt;

use connector_core::net::NetworkPolicy;
use connector_core::{FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::GoogleCredentialsConfig;
use crate::auth::config::check_addresses;

/// Gmail's API host.
pub const DEFAULT_GMAIL_BASE_URL: &str = "https://gmail.googleapis.com";

/// Attachments larger than this are not downloaded unless configured otherwise: 10 MiB.
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// The overlap between incremental windows without `time_buffer_seconds`: one minute.
pub const DEFAULT_GMAIL_OVERLAP_SECS: u64 = 60;

/// The Gmail connector's config.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GmailConfig {
    /// The key or token, and the admin to impersonate for the user list.
    pub credentials: GoogleCredentialsConfig,
    /// Read only these users' mailboxes (service account) instead of every user's.
    #[serde(default)]
    pub specific_user_emails: StringList,
    /// Emit attachments as documents of their own.
    #[serde(default)]
    pub include_attachments: bool,
    /// Attachments larger than this (bytes) are skipped (default 10 MiB). Serialised as the
    /// limit in effect, so a host sees the default.
    #[serde(default, serialize_with = "limit_in_effect")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub attachment_size_limit: Option<u64>,
    /// Threads fetched at the same time (default 8, at most 64). Serialised as the number in
    /// effect.
    #[serde(default, serialize_with = "concurrency_in_effect")]
    #[schemars(range(max = connector_core::config::limits::MAX_CONCURRENCY))]
    pub thread_concurrency: Option<usize>,
    /// The OAuth token endpoint (default: the key's `token_uri`, else Google's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_uri: Option<Url>,
    /// The Admin SDK host (default `https://admin.googleapis.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_base_url: Option<Url>,
    /// The Gmail API host (default `https://gmail.googleapis.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmail_base_url: Option<Url>,
    /// How long before the previous window's end an incremental run starts, in seconds
    /// (RAGFlow's generic `time_buffer_seconds`; `0`: no overlap). Default 60: `threads.list`
    /// with `after:`/`before:` is a Gmail search, served by an index that takes a moment to
    /// see a message delivered just before a run's end. Threads listed again are skipped
    /// by their `historyId` without being fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub time_buffer_seconds: Option<u64>,
    /// Follow each mailbox's history (default true): `users.history.list` from the
    /// `historyId` the last finished run carried over. An incremental run selects threads by
    /// date, which a label change, a thread back from spam or trash or a message imported
    /// with an old date does not bump; the history delivers those threads too (an expired
    /// history id lists that mailbox once without the window). Costs one profile request per
    /// mailbox per run, the history pages and one minimal thread read per thread it names.
    /// A thread it names that is deleted or now only in spam or trash is deleted from the
    /// index in that run; a deleted message's attachments are left to prune.
    #[serde(default = "crate::config::yes")]
    pub follow_changes: bool,
    #[doc = crate::config::allowed_hosts_doc!()]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

/// Writes `attachment_size_limit` as the limit in effect.
fn limit_in_effect<S: serde::Serializer>(limit: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(limit.unwrap_or(DEFAULT_ATTACHMENT_SIZE_LIMIT))
}

/// Writes `thread_concurrency` as the number in effect.
fn concurrency_in_effect<S: serde::Serializer>(
    threads: &Option<usize>,
    s: S,
) -> Result<S::Ok, S::Error> {
    concurrency(*threads).serialize(s)
}

/// Threads fetched at the same time for a configured number.
fn concurrency(threads: Option<usize>) -> usize {
    threads.unwrap_or(8).clamp(1, 64)
}

crate::config::google_config!(
    GmailConfig,
    overlap: DEFAULT_GMAIL_OVERLAP_SECS,
    api_hosts: [gmail_base_url],
);

impl GmailConfig {
    /// A config over `credentials`: every user's mailbox, no attachments.
    pub fn new(credentials: GoogleCredentialsConfig) -> Self {
        Self {
            credentials,
            specific_user_emails: StringList::default(),
            include_attachments: false,
            attachment_size_limit: None,
            thread_concurrency: None,
            token_uri: None,
            directory_base_url: None,
            gmail_base_url: None,
            time_buffer_seconds: None,
            follow_changes: true,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The attachment cap.
    pub fn attachment_size_limit(&self) -> u64 {
        self.attachment_size_limit
            .unwrap_or(DEFAULT_ATTACHMENT_SIZE_LIMIT)
    }

    /// Threads fetched at the same time.
    pub fn thread_concurrency(&self) -> usize {
        concurrency(self.thread_concurrency)
    }

    /// This source's own problems (see
    /// [`ConnectorConfig::validate`](connector_core::ConnectorConfig::validate)).
    fn check_source(&self, out: &mut Vec<FieldError>) {
        check_addresses("specific_user_emails", &self.specific_user_emails, out);
        if self.thread_concurrency == Some(0) {
            out.push(FieldError::new(
                "thread_concurrency",
                "must be larger than 0",
            ));
        }
    }
}

impl fmt::Debug for GmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailConfig")
            .field("credentials", &self.credentials)
            .field("specific_user_emails", &self.specific_user_emails)
            .field("include_attachments", &self.include_attachments)
            .field("attachment_size_limit", &self.attachment_size_limit())
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_method_gets_google_s_reason_and_addresses_stay_apart() {
        let read = |extra: serde_json::Value| {
            let mut config = serde_json::json!({
                "credentials": {
                    "google_tokens": {"refresh_token": "r", "client_id": "c", "client_secret": "s"},
                    "authentication_method": "oauth_interactive",
                },
            });
            if let (Some(config), serde_json::Value::Object(extra)) =
                (config.as_object_mut(), extra)
            {
                config.extend(extra);
            }
            connector_core::config::parse::<GmailConfig>(config)
        };
        let parsed = read(serde_json::json!({})).unwrap();
        assert_eq!(parsed.ignored.len(), 1);
        assert!(
            parsed.ignored[0].reason.contains("client_id"),
            "{}",
            parsed.ignored[0]
        );
        let uploaded = read(serde_json::json!({
            "credentials": {
                "google_tokens": {"refresh_token": "r", "client_id": "c", "client_secret": "s"},
                "authentication_method": "uploaded",
            },
        }))
        .unwrap();
        assert!(uploaded.ignored.is_empty(), "{:?}", uploaded.ignored);
        let err = read(serde_json::json!({"specific_user_emails": "a@acme.com; b@acme.com"}))
            .unwrap_err();
        assert_eq!(err.problems()[0].path, "specific_user_emails[0]", "{err}");
    }
}
