//! The value types of [`RestApiConfig`](super::RestApiConfig)'s fields that are more than a
//! scalar: type hints, the `since` filter, key/value pairs, and `error_path`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A field's type conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TypeHint {
    /// Any value as text.
    String,
    /// An integer if integral, else a float; unparsable values drop out.
    Number,
    /// A timestamp, normalised to RFC 3339.
    Date,
}

/// The server-side `since` filter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinceConfig {
    /// The parameter carrying the window start (`updated_since`).
    pub param: String,
    /// How the instant is written (default `rfc3339`).
    #[serde(default)]
    pub format: SinceFormat,
    /// For `POST`: put it in the JSON body instead of the query string.
    #[serde(default)]
    pub in_body: bool,
}

/// How the `since` instant is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinceFormat {
    /// `2026-01-02T03:04:05Z`.
    #[default]
    Rfc3339,
    /// Seconds since 1970.
    EpochSeconds,
    /// Milliseconds since 1970.
    EpochMillis,
    /// `2026-01-02` (widened: the day of the window start).
    Date,
}

/// Key/value pairs as RAGFlow takes them: an object, a JSON object string, or `key=value`
/// lines with `#` comments.
///
/// It serialises (for [`Registry::effective_config`](connector_core::Registry::effective_config))
/// as an object of its keys with every value shown as `***`: headers and query parameters
/// often carry credentials.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyValues {
    /// `{"key": "value"}`.
    Map(BTreeMap<String, Value>),
    /// A JSON object string or `key=value` lines.
    Text(String),
}

impl Serialize for KeyValues {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let pairs = self.pairs().unwrap_or_default();
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (key, _) in &pairs {
            map.serialize_entry(key, "***")?;
        }
        map.end()
    }
}

impl Default for KeyValues {
    fn default() -> Self {
        Self::Map(BTreeMap::new())
    }
}

impl KeyValues {
    /// The pairs in order, or what is wrong with the text.
    ///
    /// # Errors
    /// A message for a JSON string that is not an object, or a line without `=`.
    pub fn pairs(&self) -> Result<Vec<(String, String)>, String> {
        match self {
            Self::Map(map) => Ok(map_pairs(map)),
            Self::Text(text) => {
                let trimmed = text.trim();
                if trimmed.starts_with('{') {
                    let map: BTreeMap<String, Value> = serde_json::from_str(trimmed)
                        .map_err(|e| format!("is not a JSON object: {e}"))?;
                    return Ok(map_pairs(&map));
                }
                let mut out = Vec::new();
                for (n, line) in trimmed.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    // `key=value`, and `Header: value` for headers pasted from documentation.
                    let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
                        return Err(format!("line {} is not `key=value`", n + 1));
                    };
                    out.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                Ok(out)
            }
        }
    }
}

fn map_pairs(map: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k.clone(), s.clone())),
            other => Some((k.clone(), other.to_string())),
        })
        .collect()
}

/// Header names whose values are credentials, marked sensitive and never printed.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "apikey"
            | "api-key"
            | "x-api-key"
            | "x-auth-token"
    ) || n.contains("token")
        || n.contains("secret")
        || n.contains("key")
        || n.contains("auth")
}

/// `error_path`: where a response says it failed, or `false` for nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ErrorPath {
    /// `false`: no member of a response is read as an error (`true` is refused, and the
    /// schema takes only `false`).
    Off(#[schemars(schema_with = "false_only")] bool),
    /// A JSONPath (RFC 9535); without a leading `$`, relative to the root.
    Path(String),
}

impl ErrorPath {
    /// The switch this value spells, if it spells one: `false`, or a string `"false"`,
    /// `"off"`, `"no"`, `"none"`, `"disabled"` or `"null"` (a web form sends strings, and
    /// core's reader keeps a string where the schema takes one) for no check; `true`,
    /// `"true"`, `"on"`, `"yes"` or `"enabled"` (refused: the check is on without it). `None`
    /// for a path (review12 F8, review15 N11: `"false"` or `"none"` read as the path `$.false`,
    /// `$.none` silently turned the `error`/`errors` guess off).
    pub fn switch(&self) -> Option<bool> {
        match self {
            Self::Off(on) => Some(*on),
            Self::Path(p) => match p.trim().to_ascii_lowercase().as_str() {
                "false" | "off" | "no" | "none" | "disabled" | "null" => Some(false),
                "true" | "on" | "yes" | "enabled" => Some(true),
                _ => None,
            },
        }
    }
}

/// `error_path`'s switch in the JSON Schema: only `false` is a setting (review15 N11).
fn false_only(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"const": false})
}
