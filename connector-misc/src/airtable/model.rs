//! Airtable's wire types, with the API's own field names.

use chrono::{DateTime, FixedOffset, Utc};
use connector_core::jsonref::{JsonRef, Members, record_fields};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// One page of `GET /v0/{baseId}/{tableIdOrName}`: `{"records": [...], "offset": "itr…/rec…"}`;
/// no `offset` on the last page.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordList {
    /// Each record's JSON as listed, read apart later ([`Record::take`]): one record that does
    /// not read fails alone, and no record is parsed into a tree of values here.
    #[serde(default)]
    pub(crate) records: Vec<Box<RawValue>>,
    #[serde(default)]
    pub(crate) offset: Option<String>,
}

/// A record: `{"id": "rec…", "createdTime": "…", "fields": {name: value}}`. Empty fields are
/// left out of `fields` by Airtable. Its id and creation are read; its fields stay the JSON
/// as listed, read without copies ([`fields`](Self::fields), [`raw_fields`](Self::raw_fields))
/// where they are needed.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) created_time: DateTime<Utc>,
    raw: Box<RawValue>,
}

/// A record's members as `take` reads them; `fields` is only checked to be an object.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    id: Option<JsonRef<'a>>,
    #[serde(borrow, default, rename = "createdTime")]
    created_time: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    fields: Option<&'a RawValue>,
}

/// A record's members with its fields as listed, values unread.
#[derive(Deserialize)]
struct HeadFields<'a> {
    #[serde(borrow, default)]
    id: Option<JsonRef<'a>>,
    #[serde(borrow, default, rename = "createdTime")]
    created_time: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    fields: Option<RawFields<'a>>,
}

/// A record's id and creation, read from its `id` and `createdTime`.
fn identity(
    id: Option<JsonRef<'_>>,
    created_time: Option<JsonRef<'_>>,
) -> Result<(String, DateTime<Utc>), (Option<String>, String)> {
    let id = match id {
        Some(JsonRef::Str(s)) => s.into_owned(),
        Some(other) => return Err((None, format!("id is not a string: {other}"))),
        None => return Err((None, "the record has no id".to_owned())),
    };
    let created_time = match created_time {
        // RFC 3339 (what Airtable sends) read by its own parser first: the general one
        // reads it to the same instant, at several times the cost.
        Some(JsonRef::Str(s)) => {
            match DateTime::parse_from_rfc3339(&s).or_else(|_| s.parse::<DateTime<FixedOffset>>()) {
                Ok(t) => t.with_timezone(&Utc),
                Err(e) => {
                    return Err((
                        Some(id),
                        format!("createdTime {s:?} is not an instant: {e}"),
                    ));
                }
            }
        }
        Some(other) => {
            return Err((Some(id), format!("createdTime is not a string: {other}")));
        }
        None => return Err((Some(id), "the record has no createdTime".to_owned())),
    };
    Ok((id, created_time))
}

/// A record's fields as listed, values unread (their JSON text).
pub(crate) type RawFields<'a> = Members<'a, &'a RawValue>;

/// A record's fields, read.
pub(crate) type Fields<'a> = Members<'a, JsonRef<'a>>;

impl Record {
    /// The record in its listed JSON, its id and creation read and its fields checked to be
    /// an object.
    ///
    /// # Errors
    /// What does not read (with the record's id once it is read): no id, a `createdTime`
    /// that is not an RFC 3339 instant, fields that are not an object.
    pub(crate) fn take(raw: Box<RawValue>) -> Result<Self, (Option<String>, String)> {
        let head: Head<'_> = match serde_json::from_str(raw.get()) {
            Ok(h) => h,
            Err(e) if raw.get().trim_start().starts_with('{') => {
                return Err((None, format!("the record does not read: {e}")));
            }
            Err(_) => return Err((None, "the record is not an object".to_owned())),
        };
        let (id, created_time) = identity(head.id, head.created_time)?;
        if let Some(fields) = head.fields
            && !fields.get().starts_with('{')
        {
            return Err((
                Some(id),
                format!("fields is not an object: {}", fields.get()),
            ));
        }
        Ok(Self {
            id,
            created_time,
            raw,
        })
    }

    /// [`take`](Self::take), with `f` called on the record's id, creation and fields as
    /// listed, read in the same pass over its JSON.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    pub(crate) fn take_with<R>(
        raw: Box<RawValue>,
        f: impl FnOnce(&str, DateTime<Utc>, &RawFields<'_>) -> R,
    ) -> Result<(Self, R), (Option<String>, String)> {
        let mut f = Some(f);
        let read = match serde_json::from_str::<HeadFields<'_>>(raw.get()) {
            Ok(head) => {
                let (id, created_time) = identity(head.id, head.created_time)?;
                let fields = head.fields.unwrap_or_default();
                f.take()
                    .map(|f| (f(&id, created_time, &fields), id, created_time))
            }
            Err(_) => None,
        };
        match (read, f) {
            (Some((out, id, created_time)), _) => Ok((
                Self {
                    id,
                    created_time,
                    raw,
                },
                out,
            )),
            // What does not read in one pass (fields that are not an object, say): as `take`
            // tells it.
            (None, Some(f)) => {
                let record = Self::take(raw)?;
                let out = f(&record.id, record.created_time, &record.raw_fields());
                Ok((record, out))
            }
            (None, None) => Err((None, "the record does not read".to_owned())),
        }
    }

    /// The record's fields, values unread; none when they do not read (`take` checked them).
    pub(crate) fn raw_fields(&self) -> RawFields<'_> {
        record_fields(self.raw.get())
    }

    /// The record's fields, read (strings borrowed from the record's JSON).
    pub(crate) fn fields(&self) -> Fields<'_> {
        record_fields(self.raw.get())
    }

    /// The record in a JSON value, as a listing would give it.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    #[cfg(test)]
    pub(crate) fn from_json(value: Value) -> Result<Self, String> {
        let raw = RawValue::from_string(value.to_string()).map_err(|e| e.to_string())?;
        Self::take(raw).map_err(|(_, e)| e)
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
