//! [`GmailConfig`]: which mailboxes, which credentials. RAGFlow's Gmail config (its form's
//! credentials, and `batch_size`, which the host's batches replace) is accepted as it is and
//! means the same mailboxes: every user's of the primary admin's domain with a service
//! account, the token's own with an OAuth token.

use std::fmt;

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::GoogleCredentialsConfig;
use crate::auth::config::{AUTHENTICATION_METHOD, check_addresses};

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
    /// Which addresses requests may reach: the host's policy, never the tenant's (see
    /// [`GoogleDriveConfig::network`](crate::GoogleDriveConfig)); set by a
    /// [`Registry`](connector_core::Registry) or
    /// [`with_network_policy`](Self::with_network_policy). Default: every address.
    #[serde(skip)]
    #[schemars(skip)]
    pub network: NetworkPolicy,
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
            network: NetworkPolicy::any(),
        }
    }

    /// Builds the connector's HTTP clients with `policy` (see [`network`](Self::network)); a
    /// [`Registry`](connector_core::Registry) does this itself with its own policy.
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.network = policy;
        self
    }

    /// The overlap incremental runs need (see
    /// [`time_buffer_seconds`](Self::time_buffer_seconds)).
    pub fn overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.time_buffer_seconds
                .unwrap_or(DEFAULT_GMAIL_OVERLAP_SECS),
        )
    }

    /// Sends every request to `base` (token, directory and Gmail), for tests and proxies.
    #[must_use]
    pub fn with_base_url(mut self, base: &Url) -> Self {
        self.token_uri = crate::endpoint(base, "token").ok();
        self.directory_base_url = Some(base.clone());
        self.gmail_base_url = Some(base.clone());
        self
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
}

impl ConnectorConfig for GmailConfig {
    const IGNORED: &'static [IgnoredField] = &[AUTHENTICATION_METHOD];

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.network = policy.clone();
        true
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut out = self.credentials.validate();
        check_addresses("specific_user_emails", &self.specific_user_emails, &mut out);
        if self.thread_concurrency == Some(0) {
            out.push(FieldError::new(
                "thread_concurrency",
                "must be larger than 0",
            ));
        }
        out
    }
}

impl fmt::Debug for GmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailConfig")
            .field("credentials", &self.credentials)
            .field("specific_user_emails", &self.specific_user_emails)
            .field("include_attachments", &self.include_attachments)
            .field("attachment_size_limit", &self.attachment_size_limit())
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
