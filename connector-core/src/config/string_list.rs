//! [`StringList`]: the list RAGFlow's web form sends as a JSON array or as one string.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

/// A list of strings written as a JSON array or as one string of entries separated by commas
/// or line breaks, as RAGFlow's web form sends list fields from its text boxes: `"a, b"`,
/// `"a\nb"` and `["a", "b"]` are the same list.
///
/// Every entry is trimmed and blank entries are dropped, in both shapes (`" a,, b "` and
/// `["a", " ", null, "b"]` are `["a", "b"]`), and `null` is the empty list (RAGFlow's HTTP
/// API stores an unset field so). It serialises as a JSON array of the cleaned entries, and
/// its JSON Schema accepts each shape.
///
/// ```
/// use connector_core::config::StringList;
///
/// let from_text: StringList = serde_json::from_value(serde_json::json!("a, b,,"))?;
/// let from_lines: StringList = serde_json::from_value(serde_json::json!("a\r\nb\n"))?;
/// assert_eq!(from_text, from_lines);
/// let from_array: StringList = serde_json::from_value(serde_json::json!([" a", "b", ""]))?;
/// assert_eq!(from_text, from_array);
/// assert_eq!(from_text.as_slice(), ["a", "b"]);
/// assert_eq!(serde_json::to_value(&from_text)?, serde_json::json!(["a", "b"]));
/// let from_null: StringList = serde_json::from_value(serde_json::Value::Null)?;
/// assert!(from_null.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

impl StringList {
    /// The entries.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The entries, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for StringList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Into<String>> FromIterator<S> for StringList {
    /// The entries as given: built in code, they are not trimmed or filtered.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl From<Vec<String>> for StringList {
    /// The entries as given: built in code, they are not trimmed or filtered.
    fn from(entries: Vec<String>) -> Self {
        Self(entries)
    }
}

impl<'a> IntoIterator for &'a StringList {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<Option<String>>),
        }
        let cleaned = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Self(match Option::<Raw>::deserialize(deserializer)? {
            // RAGFlow's list fields are text boxes: entries come comma-separated or one per
            // line.
            Some(Raw::One(s)) => s.split([',', '\n', '\r']).filter_map(cleaned).collect(),
            // RAGFlow's `_normalize_list` drops `None` entries.
            Some(Raw::Many(v)) => v.iter().flatten().filter_map(|s| cleaned(s)).collect(),
            // `null`, as RAGFlow's HTTP API stores an unset field (its `config.get` reads it
            // as nothing).
            None => Vec::new(),
        }))
    }
}

impl JsonSchema for StringList {
    fn schema_name() -> Cow<'static, str> {
        "StringList".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A JSON array of strings, or one string of entries separated by commas or line breaks; `null` is no entry.",
            "anyOf": [
                { "type": "array", "items": { "type": ["string", "null"] } },
                { "type": "string" },
                { "type": "null" }
            ]
        })
    }

    fn inline_schema() -> bool {
        true
    }
}
