//! [`DingtalkAiTableConfig`]: which AI Table base (RAGFlow's `table_id`), read as which user
//! (`operator_id`), with which credentials, and who may see its records.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// DingTalk's API gateway.
pub const DEFAULT_API_BASE_URL: &str = "https://api.dingtalk.com";

/// Requests per second unless configured otherwise: DingTalk limits each API of an app to
/// 20 calls a second (`Forbidden.AccessDenied.QpsLimitForApi` beyond); the connector keeps
/// under it.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 15;

/// The config field of a configured access token.
pub(crate) const TOKEN_FIELD: &str = "credentials.access_token";
/// The config field of the app secret (named when DingTalk refuses the app's credentials).
pub(crate) const SECRET_FIELD: &str = "credentials.app_secret";

/// How the connector authenticates: a fixed access token (RAGFlow's form; it expires after
/// two hours and cannot be renewed), or the app's key and secret, from which an access token
/// is got and renewed before it expires.
#[derive(Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DingtalkAiTableCredentials {
    /// An access token (`x-acs-dingtalk-access-token`), as RAGFlow's form takes it. It lives
    /// two hours and cannot be renewed: give `app_key` and `app_secret` for syncs that run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"a1b2c3d4e5f60718293a4b5c6d7e8f90")]
    pub access_token: Option<Secret>,
    /// The app's AppKey (Client ID) from the DingTalk developer console; with `app_secret`,
    /// access tokens are got from `POST /v1.0/oauth2/accessToken` and renewed before expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"dingxq8a7bz2kd5mw1pn")]
    pub app_key: Option<String>,
    /// The app's AppSecret (Client Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Zq3v9K1x-2fG7hR4mN8pL5tW0yB6cD1eA3sJ9uV7iO2kX4zQ8")]
    pub app_secret: Option<Secret>,
}

impl fmt::Debug for DingtalkAiTableCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingtalkAiTableCredentials")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The configuration of the DingTalk AI Table connector (source `"dingtalk_ai_table"`).
///
/// ```
/// use connector_misc::dingtalk_ai_table::DingtalkAiTableConfig;
///
/// // RAGFlow's form, as it stores it.
/// let config: DingtalkAiTableConfig = connector_core::config::from_json(serde_json::json!({
///     "table_id": "r1R7q3QmWew5lo02fxB7nxxxxx",
///     "operator_id": "iPkgYyb0iSz6xxxx",
///     "credentials": {"access_token": "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
/// }))?;
/// assert_eq!(config.table_id, "r1R7q3QmWew5lo02fxB7nxxxxx");
/// assert!(config.access_groups.is_empty());
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DingtalkAiTableConfig {
    /// An access token, or the app's key and secret.
    pub credentials: DingtalkAiTableCredentials,
    /// The AI Table's base id (its node id: the last part of
    /// `https://alidocs.dingtalk.com/i/nodes/{id}`). RAGFlow calls it `table_id`.
    #[schemars(example = &"r1R7q3QmWew5lo02fxB7nxxxxx")]
    pub table_id: String,
    /// The `unionId` of the user the API reads as (`operatorId`); that user must be able to
    /// read the base.
    #[schemars(example = &"iPkgYyb0iSz6xxxx")]
    pub operator_id: String,
    /// Read only these sheets (by id or name); empty: every sheet of the base.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = ["Tasks"])]
    pub sheets: Vec<String>,
    /// Groups (as the host names them) whose members may read every record. The API shows no
    /// per-record permissions, so without a group a record is readable by nobody.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = ["dingtalk-ai-table-readers"])]
    pub access_groups: Vec<String>,
    /// The time zone date fields are shown in: an IANA name (`Asia/Shanghai`, with its
    /// rules) or an offset (`+08:00`). DingTalk stores a date as an instant (epoch
    /// milliseconds) and names no zone: a date entered as 1 July in Beijing is the instant
    /// 30 June 16:00 UTC. With a zone, dates are written at their offset
    /// (`2025-07-01T09:30:00+08:00`) and a field whose `formatter` shows no time
    /// (`YYYY-MM-DD`) as the day itself (`2025-07-01`). Default: UTC instants
    /// (`2025-06-30T16:00:00+00:00`). The record's own times (`created_time`,
    /// `last_modified_time`, `updated_at`) stay UTC instants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Asia/Shanghai")]
    pub time_zone: Option<String>,
    /// Requests per second to DingTalk's API (15 by default, under DingTalk's 20 per API and
    /// app; a throttled request waits as the answer says).
    #[serde(default = "default_requests_per_second")]
    #[schemars(range(min = 1, max = 10_000), example = 15)]
    pub requests_per_second: NonZeroU32,
    /// The API gateway (default `https://api.dingtalk.com`): a proxy, a test server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://api.dingtalk.com")]
    pub api_base_url: Option<Url>,
    /// Hosts this connector may reach although they are not public (a proxy, a test server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = ["127.0.0.1"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_requests_per_second() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

impl DingtalkAiTableConfig {
    /// Base `table_id` read as `operator_id` with a fixed access token, every other setting
    /// at its default.
    pub fn new(
        access_token: impl Into<String>,
        table_id: impl Into<String>,
        operator_id: impl Into<String>,
    ) -> Self {
        Self {
            credentials: DingtalkAiTableCredentials {
                access_token: Some(Secret::new(access_token)),
                app_key: None,
                app_secret: None,
            },
            table_id: table_id.into(),
            operator_id: operator_id.into(),
            sheets: Vec::new(),
            access_groups: Vec::new(),
            time_zone: None,
            requests_per_second: default_requests_per_second(),
            api_base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The same config authenticating with the app's key and secret instead of a token.
    #[must_use]
    pub fn with_app(mut self, app_key: impl Into<String>, app_secret: impl Into<String>) -> Self {
        self.credentials = DingtalkAiTableCredentials {
            access_token: None,
            app_key: Some(app_key.into()),
            app_secret: Some(Secret::new(app_secret)),
        };
        self
    }

    /// The policy every request of the connector follows: the host's if it set one, else
    /// public addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The app's key and secret, when both are given.
    pub(crate) fn app(&self) -> Option<(&str, &Secret)> {
        let key = self.credentials.app_key.as_deref().map(str::trim)?;
        let secret = self.credentials.app_secret.as_ref()?;
        (!key.is_empty() && !secret.expose().trim().is_empty()).then_some((key, secret))
    }

    /// The zone date fields are shown in (`time_zone`); `None`: UTC instants.
    pub(crate) fn zone(&self) -> Option<connector_core::window::Zone> {
        let name = self.time_zone.as_deref()?.trim();
        connector_core::window::Zone::named(name)
    }

    /// The configured access token, when one is given.
    pub(crate) fn token(&self) -> Option<&Secret> {
        self.credentials
            .access_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
    }
}

impl fmt::Debug for DingtalkAiTableConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingtalkAiTableConfig")
            .field("credentials", &self.credentials)
            .field("table_id", &self.table_id)
            .field("operator_id", &self.operator_id)
            .field("sheets", &self.sheets)
            .field("access_groups", &self.access_groups)
            .field("time_zone", &self.time_zone)
            .field("requests_per_second", &self.requests_per_second)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for DingtalkAiTableConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow's forms may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let key = self
            .credentials
            .app_key
            .as_deref()
            .is_some_and(|k| !k.trim().is_empty());
        let secret = self
            .credentials
            .app_secret
            .as_ref()
            .is_some_and(|s| !s.expose().trim().is_empty());
        if key && !secret {
            problems.push(FieldError::new(
                SECRET_FIELD,
                "is empty: give the app's AppSecret with its app_key",
            ));
        } else if secret && !key {
            problems.push(FieldError::new(
                "credentials.app_key",
                "is empty: give the app's AppKey with its app_secret",
            ));
        } else if !key && self.token().is_none() {
            problems.push(FieldError::new(
                TOKEN_FIELD,
                "is empty: give an access token, or the app's app_key and app_secret (which are renewed as they expire)",
            ));
        }
        let id_like = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !id_like(self.table_id.trim()) {
            problems.push(FieldError::new(
                "table_id",
                "must be the AI Table's base id (letters and digits, as in https://alidocs.dingtalk.com/i/nodes/{id})",
            ));
        }
        if !id_like(self.operator_id.trim()) {
            problems.push(FieldError::new(
                "operator_id",
                "must be the unionId of a user who can read the base",
            ));
        }
        for (i, sheet) in self.sheets.iter().enumerate() {
            if sheet.trim().is_empty() {
                problems.push(FieldError::new(format!("sheets[{i}]"), "is empty"));
            }
        }
        for (i, group) in self.access_groups.iter().enumerate() {
            if group.trim().is_empty() {
                problems.push(FieldError::new(format!("access_groups[{i}]"), "is empty"));
            }
        }
        if let Some(tz) = &self.time_zone
            && self.zone().is_none()
        {
            problems.push(FieldError::new(
                "time_zone",
                format!(
                    "`{tz}` is neither an IANA time zone (`Asia/Shanghai`) nor an offset (`+08:00`)"
                ),
            ));
        }
        if self.requests_per_second.get() > 10_000 {
            problems.push(FieldError::new(
                "requests_per_second",
                "must be at most 10000",
            ));
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

    #[test]
    fn every_problem_is_named_by_its_field() {
        let config: DingtalkAiTableConfig = serde_json::from_value(serde_json::json!({
            "table_id": "a/b",
            "operator_id": " ",
            "sheets": [""],
            "credentials": {"access_token": ""},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [TOKEN_FIELD, "table_id", "operator_id", "sheets[0]"]
        );
        let config: DingtalkAiTableConfig = serde_json::from_value(serde_json::json!({
            "table_id": "base1",
            "operator_id": "op1",
            "credentials": {"app_key": "dingabc"},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(fields, [SECRET_FIELD]);
    }

    #[test]
    fn secrets_stay_out_of_debug_and_unknown_fields_are_refused() {
        let config =
            DingtalkAiTableConfig::new("tok-123", "base1", "op1").with_app("key", "sec-456");
        let text = format!("{config:?}");
        assert!(!text.contains("sec-456") && text.contains("key"), "{text}");
        assert!(
            serde_json::from_value::<DingtalkAiTableConfig>(serde_json::json!({
                "table_id": "b", "operator_id": "o", "tabel": 1,
                "credentials": {"access_token": "t"},
            }))
            .is_err()
        );
    }
}
