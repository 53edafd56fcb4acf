//! [`AirtableConfig`]: which table of which base (and the token that reads it), how its records
//! become documents, and how fast to read them.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// Attachments larger than this (by the size Airtable lists) are failures unless configured
/// otherwise: RAGFlow's `AIRTABLE_CONNECTOR_SIZE_THRESHOLD`, 10 MiB.
pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 10 * 1024 * 1024;

/// Requests per second unless configured otherwise: Airtable's documented limit of 5 per base.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 5;

/// Airtable's API host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.airtable.com";

/// The config field of the token (named in 401/403 errors).
pub(crate) const TOKEN_FIELD: &str = "credentials.airtable_access_token";

/// The access token.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AirtableCredentials {
    /// A personal access token (`pat…`) or OAuth access token with the `data.records:read`
    /// scope (and `schema.bases:read`, to read field types), given access to the base.
    #[schemars(example = &"patQ3YzJ7mVbW9xHk.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub airtable_access_token: Secret,
}

impl fmt::Debug for AirtableCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirtableCredentials")
            .field("airtable_access_token", &"***")
            .finish()
    }
}

/// The configuration of the Airtable connector (source `"airtable"`).
///
/// ```
/// use connector_misc::airtable::AirtableConfig;
///
/// // RAGFlow's form, with its generic batch size beside it.
/// let config: AirtableConfig = connector_core::config::from_json(serde_json::json!({
///     "base_id": "appx3BqYz7Kd1LmNo",
///     "table_name_or_id": "Tasks",
///     "batch_size": 2,
///     "credentials": {"airtable_access_token": "patQ3YzJ7mVbW9xHk.0123456789abcdef"},
/// }))?;
/// assert_eq!(config.table_name_or_id, "Tasks");
/// assert!(config.include_attachments);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AirtableConfig {
    /// The access token.
    pub credentials: AirtableCredentials,
    /// The base's id: `app` and 14 letters or digits, as in the base's URL
    /// (`https://airtable.com/appXXXXXXXXXXXXXX/…`).
    #[schemars(example = &"appx3BqYz7Kd1LmNo")]
    pub base_id: String,
    /// The table, by id (`tbl…`, stable when the table is renamed) or by name.
    #[schemars(example = &"Tasks")]
    pub table_name_or_id: String,
    /// Read only the records of this view (its id `viw…` or name), in its order; none: every
    /// record of the table (Onyx's `view_id`).
    #[serde(
        default,
        deserialize_with = "empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(example = &"Grid view")]
    pub view: Option<String>,
    /// Every field but attachments goes to the front matter and metadata (Onyx's switch); off:
    /// only fields of short, filterable types (selects, dates, numbers, checkboxes,
    /// collaborators, e-mail, URL, phone, formulas, lookups) do, and text fields are the body.
    #[serde(default)]
    #[schemars(example = false)]
    pub treat_all_non_attachment_fields_as_metadata: bool,
    /// A last-modified-time field (its name or id) that polls filter on and `updated_at` comes
    /// from; none: a `lastModifiedTime` field of the table that watches every field, if there is
    /// one, else the formula `LAST_MODIFIED_TIME()` (polls work, `updated_at` stays unset:
    /// the API cannot return a formula's value without a field).
    #[serde(
        default,
        deserialize_with = "empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(example = &"Last modified")]
    pub modified_time_field: Option<String>,
    /// Turn the files of attachment fields into documents of their own (downloaded in the same
    /// run, since Airtable's attachment URLs expire after two hours). Default on.
    #[serde(default = "default_true")]
    #[schemars(example = true)]
    pub include_attachments: bool,
    /// Largest attachment downloaded, in bytes, checked on the size Airtable lists (and on the
    /// body as it arrives); a larger one becomes a failure and the sync goes on. Default 10 MiB.
    #[serde(default = "default_max_attachment_size")]
    #[schemars(range(min = 1, max = connector_core::config::limits::MAX_BYTES), example = 10_485_760)]
    pub max_attachment_size: NonZeroU64,
    /// Requests per second to Airtable's API (5 per base by default, Airtable's limit; a 429
    /// makes every request wait 30 seconds, as Airtable documents).
    #[serde(default = "default_requests_per_second")]
    #[schemars(range(min = 1, max = 10_000), example = 5)]
    pub requests_per_second: NonZeroU32,
    /// The API host (default `https://api.airtable.com`): a proxy, a test server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://api.airtable.com")]
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

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

fn default_true() -> bool {
    true
}

fn default_max_attachment_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_ATTACHMENT_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_requests_per_second() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

impl AirtableConfig {
    /// Table `table_name_or_id` of base `base_id`, read with `token`, every other setting at
    /// its default.
    pub fn new(
        token: impl Into<String>,
        base_id: impl Into<String>,
        table_name_or_id: impl Into<String>,
    ) -> Self {
        Self {
            credentials: AirtableCredentials {
                airtable_access_token: Secret::new(token),
            },
            base_id: base_id.into(),
            table_name_or_id: table_name_or_id.into(),
            view: None,
            treat_all_non_attachment_fields_as_metadata: false,
            modified_time_field: None,
            include_attachments: true,
            max_attachment_size: default_max_attachment_size(),
            requests_per_second: default_requests_per_second(),
            api_base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
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

impl fmt::Debug for AirtableConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirtableConfig")
            .field("credentials", &self.credentials)
            .field("base_id", &self.base_id)
            .field("table_name_or_id", &self.table_name_or_id)
            .field("view", &self.view)
            .field(
                "treat_all_non_attachment_fields_as_metadata",
                &self.treat_all_non_attachment_fields_as_metadata,
            )
            .field("modified_time_field", &self.modified_time_field)
            .field("include_attachments", &self.include_attachments)
            .field("max_attachment_size", &self.max_attachment_size)
            .field("requests_per_second", &self.requests_per_second)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// Whether `id` looks like an Airtable id with `prefix` (`app`, `tbl`): the prefix and 14
/// letters or digits.
pub(crate) fn is_id(id: &str, prefix: &str) -> bool {
    id.len() == 17 && id.starts_with(prefix) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl ConnectorConfig for AirtableConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow's forms may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self
            .credentials
            .airtable_access_token
            .expose()
            .trim()
            .is_empty()
        {
            problems.push(FieldError::new(
                TOKEN_FIELD,
                "is empty: create a personal access token at https://airtable.com/create/tokens with data.records:read and schema.bases:read, and give it access to the base",
            ));
        }
        if !is_id(self.base_id.trim(), "app") {
            problems.push(FieldError::new(
                "base_id",
                "must be a base id: `app` and 14 letters or digits, as in the base's URL",
            ));
        }
        if self.table_name_or_id.trim().is_empty() {
            problems.push(FieldError::new(
                "table_name_or_id",
                "is empty: name the table, or give its id (`tbl…`)",
            ));
        }
        if self.requests_per_second.get() > 10_000 {
            problems.push(FieldError::new(
                "requests_per_second",
                "must be at most 10000",
            ));
        }
        if self.max_attachment_size.get() > connector_core::config::limits::MAX_BYTES {
            problems.push(FieldError::new(
                "max_attachment_size",
                format!(
                    "must be at most {}",
                    connector_core::config::limits::MAX_BYTES
                ),
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
        let config: AirtableConfig = serde_json::from_value(serde_json::json!({
            "base_id": "Tasks",
            "table_name_or_id": " ",
            "credentials": {"airtable_access_token": ""},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(fields, [TOKEN_FIELD, "base_id", "table_name_or_id"]);
        assert!(!format!("{config:?}").contains("pat"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<AirtableConfig>(serde_json::json!({
            "base_id": "appx3BqYz7Kd1LmNo",
            "table_name_or_id": "Tasks",
            "tabel": "x",
            "credentials": {"airtable_access_token": "pat1"},
        }));
        assert!(err.is_err());
    }
}
