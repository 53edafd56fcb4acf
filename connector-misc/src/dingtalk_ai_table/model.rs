//! DingTalk's wire types, with the API's own field names (the `notable_1_0` and
//! `oauth2_1_0` models of DingTalk's SDK).

use connector_core::jsonref::{JsonRef, Members};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `GET /v1.0/notable/bases/{baseId}/sheets`: `{"value": [{"id", "name"}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Sheets {
    #[serde(default)]
    pub(crate) value: Vec<Sheet>,
}

/// A sheet (data table) of the base.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct Sheet {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
}

/// One page of `POST /v1.0/notable/bases/{baseId}/sheets/{sheetIdOrName}/records/list`:
/// `{"hasMore": true, "nextToken": "…", "records": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordList {
    #[serde(default)]
    pub(crate) has_more: bool,
    #[serde(default)]
    pub(crate) next_token: Option<String>,
    /// Each record's JSON as listed, read apart later ([`Record::take`]): one record that does
    /// not read fails alone, and no record is parsed into a tree of values here.
    #[serde(default)]
    pub(crate) records: Vec<Box<RawValue>>,
}

/// A user as the API names one: `{"unionId": "…"}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    #[serde(default)]
    pub(crate) union_id: Option<String>,
}

/// A record: `{"id", "fields": {name: value}, "createdTime", "lastModifiedTime" (epoch
/// milliseconds), "createdBy", "lastModifiedBy"}`; also the answer of `GET …/records/{id}`.
/// Its id, times and users are read; its fields stay the JSON as listed, read without copies
/// ([`fields`](Self::fields), [`raw_fields`](Self::raw_fields)) where they are needed.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) created_time: i64,
    pub(crate) last_modified_time: i64,
    pub(crate) created_by: Option<User>,
    pub(crate) last_modified_by: Option<User>,
    raw: Box<RawValue>,
    /// Where the record's `fields` object is in `raw` (empty when it has none): the fields
    /// are read again from their own text, not the whole record's.
    fields: std::ops::Range<usize>,
}

/// A record's members as `take` reads them; `fields` is only checked to be an object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(borrow, default)]
    id: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    created_time: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    last_modified_time: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    created_by: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    last_modified_by: Option<JsonRef<'a>>,
    #[serde(borrow, default)]
    fields: Option<&'a RawValue>,
}

/// A listed record's `id` alone, the rest left unread.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<JsonRef<'a>>,
}

/// The `id` of a listed record's JSON, when it has one that is a string.
pub(crate) fn listed_id(raw: &RawValue) -> Option<String> {
    match serde_json::from_str::<IdOnly<'_>>(raw.get()).ok()?.id? {
        JsonRef::Str(s) => Some(s.into_owned()),
        _ => None,
    }
}

/// A record's fields as listed, values unread (their JSON text).
pub(crate) type RawFields<'a> = Members<'a, &'a RawValue>;

/// A record's fields, read.
pub(crate) type RecordFields<'a> = Members<'a, JsonRef<'a>>;

impl Record {
    /// The record in its listed JSON, its id, times and users read and its fields checked
    /// to be an object.
    ///
    /// # Errors
    /// What does not read: no id, a time that is not epoch milliseconds, fields that are not
    /// an object.
    pub(crate) fn take(raw: Box<RawValue>) -> Result<Self, (Option<String>, String)> {
        let head: Head<'_> = match serde_json::from_str(raw.get()) {
            Ok(h) => h,
            Err(e) if raw.get().trim_start().starts_with('{') => {
                return Err((None, format!("the record does not read: {e}")));
            }
            Err(_) => return Err((None, "the record is not an object".to_owned())),
        };
        let id = match head.id {
            Some(JsonRef::Str(s)) if !s.is_empty() => s.into_owned(),
            Some(JsonRef::Str(s)) => {
                return Err((Some(s.into_owned()), "the record has no id".to_owned()));
            }
            _ => return Err((None, "the record has no id".to_owned())),
        };
        let time = |v: Option<JsonRef<'_>>, key: &str| match v {
            Some(JsonRef::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or_default()),
            Some(v) => Err(format!("{key} is not epoch milliseconds: {v}")),
            None => Err(format!("the record has no {key}")),
        };
        let times = time(head.created_time, "createdTime")
            .and_then(|c| time(head.last_modified_time, "lastModifiedTime").map(|m| (c, m)));
        let (created_time, last_modified_time) = match times {
            Ok(t) => t,
            Err(e) => return Err((Some(id), e)),
        };
        if let Some(fields) = head.fields
            && !fields.get().starts_with('{')
            && fields.get() != "null"
        {
            let e = format!("fields is not an object: {}", fields.get());
            return Err((Some(id), e));
        }
        let fields = head
            .fields
            .and_then(|f| span_in(raw.get(), f.get()))
            .unwrap_or_default();
        let user = |v: Option<JsonRef<'_>>| {
            v.as_ref()
                .and_then(|u| u.get("unionId"))
                .and_then(JsonRef::as_str)
                .map(|s| User {
                    union_id: Some(s.to_owned()),
                })
        };
        Ok(Self {
            created_by: user(head.created_by),
            last_modified_by: user(head.last_modified_by),
            id,
            created_time,
            last_modified_time,
            fields,
            raw,
        })
    }

    /// The length of the record's `fields` object's JSON text.
    pub(crate) fn fields_len(&self) -> usize {
        self.fields.len()
    }

    /// The text of the record's `fields` object as listed (`{}` when it has none).
    fn fields_text(&self) -> &str {
        match self.raw.get().get(self.fields.clone()) {
            Some(text) if !text.is_empty() => text,
            _ => "{}",
        }
    }

    /// The record's fields, values unread; none when they do not read (`take` checked them).
    pub(crate) fn raw_fields(&self) -> RawFields<'_> {
        serde_json::from_str(self.fields_text()).unwrap_or_default()
    }

    /// The record's fields, read (strings borrowed from the record's JSON).
    pub(crate) fn fields(&self) -> RecordFields<'_> {
        serde_json::from_str(self.fields_text()).unwrap_or_default()
    }

    /// The record in a JSON value, as a listing would give it.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    #[cfg(test)]
    pub(crate) fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let raw = RawValue::from_string(value.to_string()).map_err(|e| e.to_string())?;
        Self::take(raw).map_err(|(_, e)| e)
    }
}

/// Where `part`, a slice of `whole` (a member's text as serde borrowed it), is in `whole`.
fn span_in(whole: &str, part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let range = start..start + part.len();
    // Only a true slice of `whole` is taken: the same bytes at the same place.
    (whole.get(range.clone())?.as_ptr() == part.as_ptr()).then_some(range)
}

/// DingTalk's error body: `{"code": "…", "message": "…", "requestid": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) requestid: String,
}

/// `GET /v1.0/notable/bases/{baseId}/sheets/{sheetIdOrName}/fields`: `{"value": [{"id",
/// "name", "type", "property"}]}`, the primary field first.
#[derive(Debug, Deserialize)]
pub(crate) struct Fields {
    #[serde(default)]
    pub(crate) value: Vec<Field>,
}

/// A field's schema.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Field {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    /// The type's settings (the parts read here).
    #[serde(default)]
    pub(crate) property: Option<FieldProperty>,
}

/// A field's `property`: how a date, number, formula or lookup is shown (`formatter`:
/// `YYYY-MM-DD`, `YYYY-MM-DD HH:mm`, `FLOAT_1` ...).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FieldProperty {
    #[serde(default)]
    pub(crate) formatter: Option<String>,
}
