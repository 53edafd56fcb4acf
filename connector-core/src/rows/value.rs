//! A column's value ([`Value`], borrowed: [`ValueRef`]), a row of them as
//! [`RowLayout::render`](super::RowLayout::render) reads it ([`RowValues`], [`Row`]) and the
//! key of a keyset walk ([`Key`], [`RowKey`]).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::window::Zone;

/// A column's value, whichever database it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL: left out of the content and the metadata.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (MySQL's `UNSIGNED`).
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// An exact number (`DECIMAL`, `NUMERIC`), as the database writes it.
    Decimal(String),
    /// Text (and any type read as its text).
    Text(String),
    /// A JSON document, or a nested value (BigQuery's `RECORD` and `REPEATED` fields).
    Json(serde_json::Value),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A time without a zone (PostgreSQL `timestamp`, MySQL `DATETIME`, BigQuery
    /// `DATETIME`): read in the configured zone, UTC by default.
    Timestamp(NaiveDateTime),
    /// An instant (PostgreSQL `timestamptz`, MySQL `TIMESTAMP`, BigQuery `TIMESTAMP`).
    TimestampTz(DateTime<Utc>),
    /// Binary data: only its length is kept, written as a note.
    Bytes(usize),
}

impl Value {
    /// The value borrowed, as [`RowLayout::render`](super::RowLayout::render) reads it.
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Self::Null => ValueRef::Null,
            Self::Bool(b) => ValueRef::Bool(*b),
            Self::Int(i) => ValueRef::Int(*i),
            Self::UInt(u) => ValueRef::UInt(*u),
            Self::Float(f) => ValueRef::Float(*f),
            Self::Decimal(s) => ValueRef::Decimal(s),
            Self::Text(s) => ValueRef::Text(s),
            Self::Json(v) => ValueRef::Json(v),
            Self::Date(d) => ValueRef::Date(*d),
            Self::Time(t) => ValueRef::Time(*t),
            Self::Timestamp(t) => ValueRef::Timestamp(*t),
            Self::TimestampTz(t) => ValueRef::TimestampTz(*t),
            Self::Bytes(n) => ValueRef::Bytes(*n),
        }
    }

    /// The value as the text of a document, `None` for NULL.
    pub fn text(&self) -> Option<String> {
        self.as_value_ref().text_ref().map(Cow::into_owned)
    }

    /// As [`text`](Self::text), borrowing text and exact numbers (most columns) instead of
    /// copying them.
    pub fn text_ref(&self) -> Option<Cow<'_, str>> {
        self.as_value_ref().text_ref()
    }

    /// The value as metadata (typed JSON), `None` for NULL.
    pub fn json(&self) -> Option<serde_json::Value> {
        self.as_value_ref().json()
    }

    /// The value as an instant, for a cursor column: `None` for NULL, `Err` for a value that
    /// is no date or time. A zone-less time or a date is read in `zone` (its midnight for a
    /// date).
    ///
    /// # Errors
    /// The value is neither NULL nor a date or time.
    pub fn instant(&self, zone: Zone) -> Result<Option<DateTime<Utc>>, NotATime> {
        self.as_value_ref().instant(zone)
    }

    /// The value as a key of the walk: `None` for NULL or a type that cannot be one.
    pub fn key(&self) -> Option<Key> {
        self.as_value_ref().key()
    }
}

/// A column's value as [`Value`] holds it, with text, exact numbers and JSON borrowed from
/// wherever the row is kept: a [`Value`] ([`Value::as_value_ref`]), or a source's page of rows
/// whose text columns share one buffer (no `String` per column per row). What
/// [`RowLayout::render`](super::RowLayout::render) reads, through [`RowValues`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL: left out of the content and the metadata.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (MySQL's `UNSIGNED`).
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// An exact number (`DECIMAL`, `NUMERIC`), as the database writes it.
    Decimal(&'a str),
    /// Text (and any type read as its text).
    Text(&'a str),
    /// A JSON document, or a nested value.
    Json(&'a serde_json::Value),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A time without a zone, read in the configured zone (UTC by default).
    Timestamp(NaiveDateTime),
    /// An instant.
    TimestampTz(DateTime<Utc>),
    /// Binary data: only its length is kept, written as a note.
    Bytes(usize),
}

impl<'a> ValueRef<'a> {
    /// The value as the text of a document, `None` for NULL: text and exact numbers borrowed,
    /// the others written (as [`Value::text`] writes them).
    pub fn text_ref(self) -> Option<Cow<'a, str>> {
        Some(Cow::Owned(match self {
            Self::Null => return None,
            Self::Decimal(s) | Self::Text(s) => return Some(Cow::Borrowed(s)),
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::UInt(u) => u.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Json(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            Self::Date(d) => d.to_string(),
            Self::Time(t) => t.to_string(),
            Self::Timestamp(t) => t
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Self::TimestampTz(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Self::Bytes(n) => format!("(binary data, {n} bytes)"),
        }))
    }

    /// The value as metadata (typed JSON), `None` for NULL.
    pub fn json(self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Self::Null => return None,
            Self::Bool(b) => J::Bool(b),
            Self::Int(i) => J::from(i),
            Self::UInt(u) => J::from(u),
            Self::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
            Self::Json(v) => v.clone(),
            other => J::String(other.text_ref().map(Cow::into_owned).unwrap_or_default()),
        })
    }

    /// As [`Value::instant`].
    ///
    /// # Errors
    /// The value is neither NULL nor a date or time.
    pub fn instant(self, zone: Zone) -> Result<Option<DateTime<Utc>>, NotATime> {
        match self {
            Self::Null => Ok(None),
            Self::Timestamp(t) if zone == Zone::utc() => Ok(Some(t.and_utc())),
            Self::Timestamp(t) => Ok(zone.instant(t)),
            Self::TimestampTz(t) => Ok(Some(t)),
            Self::Date(d) => Ok(d.and_hms_opt(0, 0, 0).and_then(|t| zone.instant(t))),
            _ => Err(NotATime),
        }
    }

    /// As [`Value::key`].
    pub fn key(self) -> Option<Key> {
        match self {
            Self::Int(i) => Some(Key::Int(i)),
            Self::UInt(u) => Some(Key::UInt(u)),
            Self::Text(s) | Self::Decimal(s) => Some(Key::Text(s.to_owned())),
            _ => None,
        }
    }
}

/// A row whose columns [`RowLayout::render`](super::RowLayout::render) reads by index: a
/// [`Row`] of owned values, or a source's own view of a row kept elsewhere (a page of rows in
/// shared buffers).
pub trait RowValues {
    /// Column `i`: its value, or why it could not be read; `None` past the row's end.
    fn value(&self, i: usize) -> Option<Result<ValueRef<'_>, &str>>;
}

impl RowValues for [Result<Value, String>] {
    fn value(&self, i: usize) -> Option<Result<ValueRef<'_>, &str>> {
        self.get(i).map(|v| match v {
            Ok(v) => Ok(v.as_value_ref()),
            Err(e) => Err(e.as_str()),
        })
    }
}

impl RowValues for Vec<Result<Value, String>> {
    fn value(&self, i: usize) -> Option<Result<ValueRef<'_>, &str>> {
        self.as_slice().value(i)
    }
}

/// A value that is neither NULL nor a date or time, where a time was asked for
/// ([`Value::instant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotATime;

impl std::fmt::Display for NotATime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a date or time")
    }
}

impl std::error::Error for NotATime {}

/// One row as a driver read it: each column's value, or why it could not be read.
pub type Row = Vec<Result<Value, String>>;

/// The zone-less times of `row` as the instants they are in `zone` (nothing to do in UTC).
pub fn localize(row: &mut [Result<Value, String>], zone: Zone) {
    if zone == Zone::utc() {
        return;
    }
    for v in row.iter_mut() {
        if let Ok(Value::Timestamp(t)) = v {
            *v = Ok(zone.instant(*t).map_or(Value::Null, Value::TimestampTz));
        }
    }
}

/// A single-precision float as the double its shortest text names: `0.1` stays `0.1`, where
/// a plain widening writes `0.10000000149011612`.
pub fn widen(f: f32) -> f64 {
    if f.is_finite() {
        f.to_string().parse().unwrap_or_else(|_| f64::from(f))
    } else {
        f64::from(f)
    }
}

/// A row's id as a keyset walk keeps it. Text stands for text, UUID and exact-number ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// A signed integer id.
    Int(i64),
    /// An unsigned integer id (MySQL `BIGINT UNSIGNED`).
    #[serde(rename = "uint")]
    UInt(u64),
    /// A text, UUID or exact-number id, as the database writes it.
    Text(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::UInt(u) => write!(f, "{u}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// The last row handed on: its id and, in a window, its cursor column's value.
///
/// JSON: `{"id": {"int": 1200}, "cursor": "2025-03-01T10:00:00Z"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RowKey {
    /// The row's id column value.
    pub id: Key,
    /// The row's cursor column value (windowed runs, which walk `(cursor, id)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<DateTime<Utc>>,
}

impl RowKey {
    /// The key of a row with `id` and `cursor`.
    pub fn new(id: Key, cursor: Option<DateTime<Utc>>) -> Self {
        Self { id, cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_json_and_instants() {
        let t = NaiveDate::from_ymd_opt(2025, 3, 1)
            .and_then(|d| d.and_hms_micro_opt(10, 0, 0, 250))
            .unwrap_or_default();
        assert_eq!(
            Value::Timestamp(t).text().as_deref(),
            Some("2025-03-01T10:00:00.000250Z")
        );
        assert_eq!(Value::Null.text(), None);
        assert_eq!(Value::Int(7).json(), Some(serde_json::json!(7)));
        assert_eq!(
            Value::Decimal("1.50".into()).json(),
            Some(serde_json::json!("1.50"))
        );
        assert_eq!(
            Value::Bytes(3).text().as_deref(),
            Some("(binary data, 3 bytes)")
        );
        assert_eq!(
            Value::Timestamp(t).instant(Zone::utc()),
            Ok(Some(t.and_utc()))
        );
        assert!(Value::Int(1).instant(Zone::utc()).is_err());
        let plus2 = Zone::named("+02:00").unwrap_or_else(Zone::utc);
        let mut row = vec![Ok(Value::Timestamp(t)), Ok(Value::Int(1))];
        localize(&mut row, plus2);
        assert_eq!(
            row[0].as_ref().ok().and_then(Value::text).as_deref(),
            Some("2025-03-01T08:00:00.000250Z")
        );
        assert_eq!(widen(0.1), 0.1);
        assert_eq!(Value::Float(widen(12.3)).text().as_deref(), Some("12.3"));
        assert!(widen(f32::NAN).is_nan());
        let k: Key = serde_json::from_value(serde_json::json!({"uint": 5})).unwrap_or(Key::Int(0));
        assert_eq!(k, Key::UInt(5));
        let rk = RowKey::new(Key::Int(3), None);
        assert_eq!(
            serde_json::to_value(&rk).unwrap_or_default(),
            serde_json::json!({"id": {"int": 3}})
        );
    }
}
