//! Airtable's wire types, with the API's own field names.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One page of `GET /v0/{baseId}/{tableIdOrName}`: `{"records": [...], "offset": "itr…/rec…"}`;
/// no `offset` on the last page.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordList {
    /// Kept as values: one record that does not read fails alone.
    #[serde(default)]
    pub(crate) records: Vec<Value>,
    #[serde(default)]
    pub(crate) offset: Option<String>,
}

/// A record: `{"id": "rec…", "createdTime": "…", "fields": {name: value}}`. Empty fields are
/// left out of `fields` by Airtable.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) created_time: DateTime<Utc>,
    #[serde(default)]
    pub(crate) fields: Map<String, Value>,
}

impl Record {
    /// The record in a listed value, taken apart without copying its fields (a listing's
    /// records are values so that one that does not read fails alone); what serde would
    /// read, without rebuilding every field's value.
    ///
    /// # Errors
    /// What does not read (with the record's id once it is read): no id, a `createdTime`
    /// that is not an RFC 3339 instant, fields that are not an object.
    pub(crate) fn take(value: Value) -> Result<Self, (Option<String>, String)> {
        let Value::Object(mut o) = value else {
            return Err((None, "the record is not an object".to_owned()));
        };
        let id = match o.remove("id") {
            Some(Value::String(s)) => s,
            Some(other) => return Err((None, format!("id is not a string: {other}"))),
            None => return Err((None, "the record has no id".to_owned())),
        };
        let created_time = match o.get("createdTime") {
            Some(Value::String(s)) => match s.parse::<DateTime<FixedOffset>>() {
                Ok(t) => t.with_timezone(&Utc),
                Err(e) => {
                    return Err((
                        Some(id),
                        format!("createdTime {s:?} is not an instant: {e}"),
                    ));
                }
            },
            Some(other) => {
                return Err((Some(id), format!("createdTime is not a string: {other}")));
            }
            None => return Err((Some(id), "the record has no createdTime".to_owned())),
        };
        let fields = match o.remove("fields") {
            Some(Value::Object(m)) => m,
            None => Map::new(),
            Some(other) => return Err((Some(id), format!("fields is not an object: {other}"))),
        };
        Ok(Self {
            id,
            created_time,
            fields,
        })
    }
}

/// An element of a `multipleAttachments` field.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attachment {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) filename: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default, rename = "type")]
    pub(crate) mime: Option<String>,
}

/// `GET /v0/meta/bases/{baseId}/tables`: `{"tables": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Tables {
    #[serde(default)]
    pub(crate) tables: Vec<Table>,
}

/// A table's schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Table {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) primary_field_id: String,
    #[serde(default)]
    pub(crate) fields: Vec<Field>,
}

/// A field's schema: `{"id": "fld…", "name", "type", "options"?}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Field {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) options: Option<Value>,
}

impl Field {
    /// A `lastModifiedTime` field that watches every field of the table: its options name no
    /// fields (`referencedFieldIds` absent or empty).
    pub(crate) fn watches_everything(&self) -> bool {
        self.kind == "lastModifiedTime"
            && self
                .options
                .as_ref()
                .and_then(|o| o.get("referencedFieldIds"))
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
    }
}

/// Airtable's error body: `{"error": {"type": "…", "message": "…"}}`; some errors (404 on an
/// unknown path) send `{"error": "NOT_FOUND"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) error: ErrorBody,
}

/// The `error` member, either form.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrorBody {
    Full {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        message: String,
    },
    Bare(String),
    #[default]
    None,
}

impl ErrorBody {
    /// The error's type and message.
    pub(crate) fn parts(&self) -> (&str, &str) {
        match self {
            Self::Full { kind, message } => (kind, message),
            Self::Bare(kind) => (kind, ""),
            Self::None => ("", ""),
        }
    }
}
