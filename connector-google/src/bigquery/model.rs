//! BigQuery's query responses (`jobs.query`, `jobs.getQueryResults`) and their rows
//! (`{"f": [{"v": ...}]}`) read as typed [`Value`]s by the schema's field types.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use connector_core::jsonref::JsonRef;
use connector_core::rows::{Row, Value};
use serde::Deserialize;
use serde_json::Value as Json;

/// `jobReference` of a query job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobReference {
    #[serde(default)]
    pub(crate) job_id: String,
    #[serde(default)]
    pub(crate) location: Option<String>,
}

/// One field of a `TableSchema`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Field {
    pub(crate) name: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    /// `NULLABLE`, `REQUIRED` or `REPEATED`.
    #[serde(default)]
    pub(crate) mode: Option<String>,
    /// The fields of a `RECORD` (`STRUCT`).
    #[serde(default)]
    pub(crate) fields: Vec<Field>,
}

impl Field {
    fn repeated(&self) -> bool {
        self.mode.as_deref() == Some("REPEATED")
    }
}

/// `TableSchema`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Schema {
    #[serde(default)]
    pub(crate) fields: Vec<Field>,
}

/// A row: `{"f": [{"v": ...}, ...]}`, its text borrowed from the page it was read from.
#[derive(Debug, Deserialize)]
pub(crate) struct TableRow<'a> {
    #[serde(borrow, default)]
    f: Vec<Cell<'a>>,
}

#[derive(Debug, Deserialize)]
struct Cell<'a> {
    /// `None` for NULL.
    #[serde(borrow, default)]
    v: Option<JsonRef<'a>>,
}

/// The rows of a response, read from its text on their own.
#[derive(Debug, Default, Deserialize)]
struct Rows<'a> {
    #[serde(borrow, default)]
    rows: Vec<TableRow<'a>>,
}

/// A `Table` resource (`tables.get`), the part read here: its primary key.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableResource {
    #[serde(default)]
    pub(crate) table_constraints: Option<TableConstraints>,
}

/// `TableConstraints`: the table's (unenforced) primary key.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableConstraints {
    #[serde(default)]
    pub(crate) primary_key: Option<PrimaryKey>,
}

/// `TableConstraints.primaryKey`: its columns, in key order.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PrimaryKey {
    #[serde(default)]
    pub(crate) columns: Vec<String>,
}

/// What `jobs.query` and `jobs.getQueryResults` answer (the fields read here). The rows stay
/// in the response's text ([`body`](Self::body)) until [`rows`](Self::rows) reads them, each
/// string borrowed from it: no JSON tree is built for a page.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryResponse {
    #[serde(default)]
    pub(crate) schema: Option<Schema>,
    #[serde(default)]
    pub(crate) job_reference: Option<JobReference>,
    #[serde(default)]
    pub(crate) page_token: Option<String>,
    /// The response's text, which holds the rows.
    #[serde(skip)]
    pub(crate) body: Bytes,
    #[serde(default)]
    pub(crate) job_complete: Option<bool>,
    /// The bytes the query reads (a dry run's estimate), an int64 as a string.
    #[serde(default)]
    pub(crate) total_bytes_processed: Option<String>,
}

impl QueryResponse {
    /// Whether the job is done (`jobComplete`; absent in a dry run's answer).
    pub(crate) fn complete(&self) -> bool {
        self.job_complete.unwrap_or(true)
    }

    /// The rows of the page, read by `schema`.
    ///
    /// # Errors
    /// A message when the rows are not BigQuery's `{"f": [{"v": ...}]}`.
    pub(crate) fn rows(&self, schema: &[Field]) -> Result<Vec<Row>, String> {
        let rows: Rows<'_> = serde_json::from_slice(&self.body)
            .map_err(|e| format!("the result page's rows do not read: {e}"))?;
        Ok(rows.rows.into_iter().map(|r| row(schema, r)).collect())
    }
}

/// `row` read by `schema`: each column's value, or why it cannot be read. Only text kept
/// as text is copied out of the page; numbers and times are read from it in place.
pub(crate) fn row(schema: &[Field], row: TableRow<'_>) -> Row {
    let mut cells = row.f.into_iter();
    schema
        .iter()
        .map(|field| match cells.next().and_then(|c| c.v) {
            Some(v) => value(field, v),
            None => Ok(Value::Null),
        })
        .collect()
}

/// One cell as a [`Value`].
fn value(field: &Field, v: JsonRef<'_>) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if field.repeated() || !field.fields.is_empty() {
        return nested(field, v, field.repeated()).map(Value::Json);
    }
    scalar(&field.kind, v)
}

/// The `v` of a `{"v": ...}` cell inside a record or array (NULL when absent).
fn cell_value(cell: JsonRef<'_>) -> JsonRef<'_> {
    match cell {
        JsonRef::Object(members) => members
            .into_iter()
            .find(|(k, _)| k == "v")
            .map_or(JsonRef::Null, |(_, v)| v),
        _ => JsonRef::Null,
    }
}

/// A `RECORD` or `REPEATED` cell as JSON: a record as an object of its fields, an array of
/// its elements.
fn nested(field: &Field, v: JsonRef<'_>, repeated: bool) -> Result<Json, String> {
    if repeated {
        let JsonRef::Array(items) = v else {
            return Err(format!("a REPEATED `{}` is not an array", field.name));
        };
        return items
            .into_iter()
            .map(|item| nested(field, cell_value(item), false))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array);
    }
    if v.is_null() {
        return Ok(Json::Null);
    }
    if field.fields.is_empty() {
        return scalar_json(&field.kind, v);
    }
    let cells = match v {
        JsonRef::Object(members) => match members.into_iter().find(|(k, _)| k == "f") {
            Some((_, JsonRef::Array(cells))) => cells,
            _ => return Err(format!("a RECORD `{}` has no `f`", field.name)),
        },
        _ => return Err(format!("a RECORD `{}` has no `f`", field.name)),
    };
    let mut object = serde_json::Map::new();
    for (sub, cell) in field.fields.iter().zip(cells) {
        object.insert(
            sub.name.clone(),
            nested(sub, cell_value(cell), sub.repeated())?,
        );
    }
    Ok(Json::Object(object))
}

/// A scalar inside a record or array, as the JSON [`Value::json`] makes of it.
fn scalar_json(kind: &str, v: JsonRef<'_>) -> Result<Json, String> {
    match v {
        JsonRef::Str(text) if is_text(kind) => Ok(Json::String(text.into_owned())),
        v => Ok(scalar(kind, v)?.json().unwrap_or(Json::Null)),
    }
}

/// Types read as their text, as BigQuery writes it: text, exact numbers, `GEOGRAPHY`
/// (WKT), `INTERVAL`, `RANGE`.
fn is_text(kind: &str) -> bool {
    !matches!(
        kind,
        "INTEGER"
            | "INT64"
            | "FLOAT"
            | "FLOAT64"
            | "BOOLEAN"
            | "BOOL"
            | "TIMESTAMP"
            | "DATETIME"
            | "DATE"
            | "TIME"
            | "BYTES"
            | "JSON"
    )
}

/// A scalar cell (always a JSON string in BigQuery's answers) by its type.
fn scalar(kind: &str, v: JsonRef<'_>) -> Result<Value, String> {
    let text: Cow<'_, str> = match v {
        JsonRef::Str(s) => s,
        JsonRef::Bool(b) => return Ok(Value::Bool(b)),
        other => return Ok(Value::Json(other.to_value())),
    };
    let bad = |text: &str| format!("`{text}` is not a valid {kind}");
    Ok(match kind {
        "INTEGER" | "INT64" => Value::Int(text.parse().map_err(|_| bad(&text))?),
        "FLOAT" | "FLOAT64" => Value::Float(match text.as_ref() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            t => t.parse().map_err(|_| bad(t))?,
        }),
        "NUMERIC" | "BIGNUMERIC" | "DECIMAL" | "BIGDECIMAL" => Value::Decimal(text.into_owned()),
        "BOOLEAN" | "BOOL" => Value::Bool(match text.as_ref() {
            "true" => true,
            "false" => false,
            _ => return Err(bad(&text)),
        }),
        "TIMESTAMP" => Value::TimestampTz(timestamp(&text).ok_or_else(|| bad(&text))?),
        "DATETIME" => Value::Timestamp(datetime(&text).ok_or_else(|| bad(&text))?),
        "DATE" => {
            Value::Date(NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| bad(&text))?)
        }
        "TIME" => {
            Value::Time(NaiveTime::parse_from_str(&text, "%H:%M:%S%.f").map_err(|_| bad(&text))?)
        }
        "BYTES" => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| bad(&text))?
                .len(),
        ),
        "JSON" => Value::Json(serde_json::from_str(&text).map_err(|_| bad(&text))?),
        // STRING, GEOGRAPHY (WKT), INTERVAL, RANGE: their text.
        _ => Value::Text(text.into_owned()),
    })
}

/// A `TIMESTAMP` cell: microseconds since the epoch (`formatOptions.useInt64Timestamp`), or
/// the older float seconds (`1.7409024E9`), or an RFC 3339 text.
pub(crate) fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(micros) = text.parse::<i64>() {
        return DateTime::from_timestamp_micros(micros);
    }
    if let Ok(seconds) = text.parse::<f64>() {
        // Whole microseconds: the float's last digits are noise.
        let micros = (seconds * 1e6).round();
        if micros.is_finite() && micros.abs() < 9.2e18 {
            #[allow(clippy::cast_possible_truncation)]
            return DateTime::from_timestamp_micros(micros as i64);
        }
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A `DATETIME` cell: `2025-03-01T10:00:00[.ffffff]` (a space instead of the `T` too).
fn datetime(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(v: Json) -> Field {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn scalars_records_and_arrays() {
        let schema: Vec<Field> = serde_json::from_value(json!([
            {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
            {"name": "at", "type": "TIMESTAMP"},
            {"name": "old", "type": "TIMESTAMP"},
            {"name": "price", "type": "NUMERIC"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
            {"name": "dims", "type": "RECORD", "fields": [
                {"name": "w", "type": "FLOAT"}, {"name": "unit", "type": "STRING"}]},
            {"name": "blob", "type": "BYTES"},
            {"name": "day", "type": "DATE"},
            {"name": "local", "type": "DATETIME"},
            {"name": "ok", "type": "BOOLEAN"},
            {"name": "gone", "type": "STRING"},
        ]))
        .unwrap_or_default();
        let text = json!({"f": [
            {"v": "42"}, {"v": "1740823200123456"}, {"v": "1.7408232E9"}, {"v": "12.50"},
            {"v": [{"v": "a"}, {"v": "b"}]},
            {"v": {"f": [{"v": "2.5"}, {"v": "cm"}]}},
            {"v": "AAEC"}, {"v": "2025-03-01"}, {"v": "2025-03-01T10:00:00.5"}, {"v": "true"},
            {"v": null},
        ]})
        .to_string();
        let r: TableRow<'_> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let row = row(&schema, r);
        let get = |i: usize| row[i].clone().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(get(0), Value::Int(42));
        assert_eq!(
            get(1).text().as_deref(),
            Some("2025-03-01T10:00:00.123456Z")
        );
        assert_eq!(get(2).text().as_deref(), Some("2025-03-01T10:00:00Z"));
        assert_eq!(get(3), Value::Decimal("12.50".into()));
        assert_eq!(get(4), Value::Json(json!(["a", "b"])));
        assert_eq!(get(5), Value::Json(json!({"w": 2.5, "unit": "cm"})));
        assert_eq!(get(6), Value::Bytes(3));
        assert_eq!(get(7).text().as_deref(), Some("2025-03-01"));
        assert_eq!(get(8).text().as_deref(), Some("2025-03-01T10:00:00.500Z"));
        assert_eq!(get(9), Value::Bool(true));
        assert_eq!(get(10), Value::Null);
        let bad = value(
            &field(json!({"name": "n", "type": "INTEGER"})),
            JsonRef::Str("x".into()),
        );
        assert!(bad.is_err());
    }
}
