//! One column value of a row, whichever driver read it, and the keys of the keyset walk.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use connector_core::window::Zone;
use serde::{Deserialize, Serialize};

/// A column's value as the walk sees it, whichever database it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    // Read by MySQL alone (PostgreSQL has no unsigned integers, and reads NUMERIC as text).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    UInt(u64),
    Float(f64),
    /// An exact number (MySQL's DECIMAL), as the database writes it.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    Decimal(String),
    Text(String),
    Json(serde_json::Value),
    Date(NaiveDate),
    Time(NaiveTime),
    /// A time without a zone (PostgreSQL `timestamp`, MySQL `DATETIME`): read as UTC.
    Timestamp(NaiveDateTime),
    /// An instant (PostgreSQL `timestamptz`, MySQL `TIMESTAMP` read in a UTC session).
    TimestampTz(DateTime<Utc>),
    /// Binary data (`bytea`, `BLOB`): only its length is kept, written as a note.
    Bytes(usize),
}

impl Value {
    /// The value as the text of a document, `None` for NULL.
    pub(crate) fn text(&self) -> Option<String> {
        Some(match self {
            Self::Null => return None,
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::UInt(u) => u.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Decimal(s) | Self::Text(s) => s.clone(),
            Self::Json(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            Self::Date(d) => d.to_string(),
            Self::Time(t) => t.to_string(),
            Self::Timestamp(t) => t
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Self::TimestampTz(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Self::Bytes(n) => format!("(binary data, {n} bytes)"),
        })
    }

    /// As [`text`](Self::text), borrowing text and exact numbers (most columns) instead of
    /// copying them.
    pub(crate) fn text_ref(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Decimal(s) | Self::Text(s) => Some(std::borrow::Cow::Borrowed(s)),
            other => other.text().map(std::borrow::Cow::Owned),
        }
    }

    /// The value as metadata (typed JSON), `None` for NULL.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Self::Null => return None,
            Self::Bool(b) => J::Bool(*b),
            Self::Int(i) => J::from(*i),
            Self::UInt(u) => J::from(*u),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Self::Json(v) => v.clone(),
            other => J::String(other.text().unwrap_or_default()),
        })
    }

    /// The value as an instant, for a `timestamp_column`: `None` for NULL, `Err` for a
    /// value that is no date or time.
    /// A zone-less time or a date is read in `zone` (its midnight for a date).
    pub(crate) fn instant(&self, zone: Zone) -> Result<Option<DateTime<Utc>>, ()> {
        match self {
            Self::Null => Ok(None),
            Self::Timestamp(t) if zone == Zone::utc() => Ok(Some(t.and_utc())),
            Self::Timestamp(t) => Ok(zone.instant(*t)),
            Self::TimestampTz(t) => Ok(Some(*t)),
            Self::Date(d) => Ok(d.and_hms_opt(0, 0, 0).and_then(|t| zone.instant(t))),
            _ => Err(()),
        }
    }

    /// The value as a key of the walk: `None` for NULL or a type that cannot be one.
    pub(crate) fn key(&self) -> Option<Key> {
        match self {
            Self::Int(i) => Some(Key::Int(*i)),
            Self::UInt(u) => Some(Key::UInt(*u)),
            Self::Text(s) | Self::Decimal(s) => Some(Key::Text(s.clone())),
            _ => None,
        }
    }
}

/// The zone-less times of `row` as the instants they are in `zone` (nothing to do in UTC).
pub(crate) fn localize(row: &mut [Result<Value, String>], zone: Zone) {
    if zone == Zone::utc() {
        return;
    }
    for v in row.iter_mut() {
        if let Ok(Value::Timestamp(t)) = v {
            *v = Ok(zone.instant(*t).map_or(Value::Null, Value::TimestampTz));
        }
    }
}

/// A single-precision float (PostgreSQL `real`, MySQL `FLOAT`) as the double its shortest
/// text names: `0.1` stays `0.1`, where a plain widening writes `0.10000000149011612`.
pub(crate) fn widen(f: f32) -> f64 {
    if f.is_finite() {
        f.to_string().parse().unwrap_or_else(|_| f64::from(f))
    } else {
        f64::from(f)
    }
}

/// A row's id as the keyset walk keeps it. Text stands for text, UUID and exact-number
/// ids; the query casts it back to the column's type.
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

/// The SQL type family of the id column, which says how a [`Key`] is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Int,
    UInt,
    Text,
    Uuid,
    Numeric,
}

impl KeyKind {
    /// The key written as a document id would have it, parsed back (a refetch).
    pub(crate) fn parse(self, text: &str) -> Option<Key> {
        match self {
            Self::Int => text.parse().ok().map(Key::Int),
            Self::UInt => text.parse().ok().map(Key::UInt),
            Self::Text | Self::Uuid | Self::Numeric => Some(Key::Text(text.to_owned())),
        }
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
        let ny = Zone::named("America/New_York").unwrap_or_else(Zone::utc);
        let mut row = vec![Ok(Value::Timestamp(t)), Ok(Value::Int(1))];
        localize(&mut row, ny);
        assert_eq!(
            row[0].as_ref().ok().and_then(Value::text).as_deref(),
            Some("2025-03-01T15:00:00.000250Z")
        );
        let d = Value::Date(t.date());
        assert_eq!(
            d.instant(ny)
                .ok()
                .flatten()
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2025-03-01T05:00:00+00:00")
        );
        assert_eq!(widen(0.1), 0.1);
        assert_eq!(Value::Float(widen(12.3)).text().as_deref(), Some("12.3"));
        assert_eq!(
            Value::Float(widen(12.3)).json(),
            Some(serde_json::json!(12.3))
        );
        assert!(widen(f32::NAN).is_nan());
        assert_eq!(KeyKind::Int.parse("12"), Some(Key::Int(12)));
        assert_eq!(KeyKind::Int.parse("x"), None);
        let k: Key = serde_json::from_value(serde_json::json!({"uint": 5})).unwrap_or(Key::Int(0));
        assert_eq!(k, Key::UInt(5));
    }
}
