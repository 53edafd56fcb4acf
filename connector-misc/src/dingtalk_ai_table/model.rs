//! DingTalk's wire types, with the API's own field names (the `notable_1_0` and
//! `oauth2_1_0` models of DingTalk's SDK).

use serde::Deserialize;
use serde_json::{Map, Value};

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
    /// Kept as values: one record that does not read fails alone.
    #[serde(default)]
    pub(crate) records: Vec<Value>,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) fields: Map<String, Value>,
    pub(crate) created_time: i64,
    pub(crate) last_modified_time: i64,
    #[serde(default)]
    pub(crate) created_by: Option<User>,
    #[serde(default)]
    pub(crate) last_modified_by: Option<User>,
}

impl Record {
    /// The record in a listed value, taken apart without copying its fields (a listing's
    /// records are values so that one that does not read fails alone).
    ///
    /// # Errors
    /// What does not read: no id, a time that is not epoch milliseconds, fields that are not
    /// an object.
    pub(crate) fn take(value: Value) -> Result<Self, String> {
        let Value::Object(mut o) = value else {
            return Err("the record is not an object".to_owned());
        };
        let id = match o.remove("id") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err("the record has no id".to_owned()),
        };
        let time = |o: &Map<String, Value>, key: &str| match o.get(key) {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| format!("{key} is not epoch milliseconds: {v}")),
            None => Err(format!("the record has no {key}")),
        };
        let created_time = time(&o, "createdTime")?;
        let last_modified_time = time(&o, "lastModifiedTime")?;
        let fields = match o.remove("fields") {
            Some(Value::Object(m)) => m,
            None | Some(Value::Null) => Map::new(),
            Some(other) => return Err(format!("fields is not an object: {other}")),
        };
        let user = |v: Option<&Value>| {
            v.and_then(|u| u.get("unionId"))
                .and_then(Value::as_str)
                .map(|s| User {
                    union_id: Some(s.to_owned()),
                })
        };
        Ok(Self {
            created_by: user(o.get("createdBy")),
            last_modified_by: user(o.get("lastModifiedBy")),
            id,
            fields,
            created_time,
            last_modified_time,
        })
    }
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
