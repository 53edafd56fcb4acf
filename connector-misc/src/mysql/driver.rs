//! MySQL and MariaDB through sqlx: connect options from the config, parameters, rows as
//! values and errors by server error number.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use connector_core::{Error, ErrorKind};
use sqlx::mysql::{
    MySqlArguments, MySqlConnectOptions, MySqlDatabaseError, MySqlRow, MySqlSslMode,
};
use sqlx::query::Query;
use sqlx::{Column as _, MySql, Row as _, TypeInfo as _, ValueRef as _};

use super::SOURCE;
use crate::rdbms::db::{CursorKind, Param};
use crate::rdbms::decode::{self, MyTemporal};
use crate::rdbms::page::Rows;
use crate::rdbms::value::{Key, Value, widen};
use crate::rdbms::{RdbmsConfig, SslMode};

/// MySQL's port.
pub const DEFAULT_PORT: u16 = 3306;

pub(crate) fn options(config: &RdbmsConfig) -> MySqlConnectOptions {
    let mut o = MySqlConnectOptions::new()
        .host(config.host.trim())
        .port(config.port.unwrap_or(DEFAULT_PORT))
        .database(config.database.trim())
        .username(config.credentials.username.trim())
        .charset("utf8mb4")
        // TIMESTAMP columns are read and compared in UTC; a DATETIME has no zone and is read
        // in `timezone` (UTC when unset: `plan::Shared::zone_warning` says so once a run).
        .timezone(Some("+00:00".to_owned()))
        .ssl_mode(match config.sslmode {
            SslMode::Disable => MySqlSslMode::Disabled,
            SslMode::Prefer => MySqlSslMode::Preferred,
            SslMode::Require => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
    if !config.credentials.password.is_empty() {
        o = o.password(config.credentials.password.expose());
    }
    if let Some(ca) = &config.sslrootcert {
        o = o.ssl_ca(ca.as_str());
    }
    o
}

pub(crate) fn bind<'q>(
    q: Query<'q, MySql, MySqlArguments>,
    p: &Param,
) -> Query<'q, MySql, MySqlArguments> {
    match p {
        Param::Key(Key::Int(i)) => q.bind(*i),
        Param::Key(Key::UInt(u)) => q.bind(*u),
        Param::Key(Key::Text(s)) | Param::Text(s) => q.bind(s.clone()),
        Param::Cursor(t, CursorKind::Instant) => q.bind(*t),
        Param::Cursor(t, CursorKind::Naive) => q.bind(t.naive_utc()),
        Param::Cursor(t, CursorKind::Date) => q.bind(t.date_naive()),
    }
}

/// Column `i`'s value `raw` as `T`, which [`kinds`] chose by the column's type name: the
/// driver's check that the types match again is left out (it cost as much as the decoding),
/// and so is a second look-up of the column (`try_get_unchecked` would make its `raw` again).
/// An error reads as `try_get_unchecked`'s.
fn get<'r, T: sqlx::Decode<'r, MySql>>(
    raw: sqlx::mysql::MySqlValueRef<'r>,
    i: usize,
) -> Result<T, String> {
    T::decode(raw).map_err(|source| decode::column_error(i, source))
}

/// Column `i`'s text: its bytes checked as UTF-8 by [`decode::text`] (a third of the
/// instructions of sqlx's `&str` decode, which checks with std's), with sqlx's error when
/// they are not.
fn text(raw: sqlx::mysql::MySqlValueRef<'_>, i: usize) -> Result<&str, String> {
    let bytes = get::<&[u8]>(raw, i)?;
    match decode::text(bytes) {
        Some(s) => Ok(s),
        None => std::str::from_utf8(bytes).map_err(|e| decode::column_error(i, e.into())),
    }
}

/// Column `i`, a date or time selected as its text ([`temporal_as_text`]), pushed into `out`
/// as the binary value would read ([`decode::my_datetime`]: the zero date, which sqlx reads as
/// a NULL, is [`Value::Null`]), with `at` making the value of a date and time; a value the
/// server holds that names no day of the calendar (`2025-01-00`) is pushed as the server's
/// text, which a cursor reads as no time.
fn datetime(
    raw: sqlx::mysql::MySqlValueRef<'_>,
    i: usize,
    out: &mut Rows,
    at: impl FnOnce(NaiveDateTime) -> Value,
) -> Result<(), String> {
    let bytes = get::<&[u8]>(raw, i)?;
    match decode::my_datetime(bytes).map_err(|e| decode::column_error(i, e.into()))? {
        MyTemporal::Zero => out.push(Value::Null),
        MyTemporal::At(t) => out.push(at(t)),
        // Digits and separators: ASCII.
        MyTemporal::NoDay => out.push_text(&String::from_utf8_lossy(bytes)),
    }
    Ok(())
}

/// Whether a column of type `type_name` is selected as its text
/// ([`Dialect::select_expr`](crate::rdbms::db::Dialect::select_expr)) and read back by
/// [`decode::my_datetime`]: sqlx-mysql 0.9.1 formats the description of every `DATE`,
/// `DATETIME`, `TIMESTAMP` and `TIME` column with `{:?}` for each row it reads (an error
/// message made eagerly, `ok_or` for `ok_or_else`, then dropped): ~7.4k instructions a row,
/// more than the rest of a row's reading and converting. A `TIME` (a duration of up to 838
/// hours, or negative) stays as it is.
pub(crate) fn temporal_as_text(type_name: &str) -> bool {
    ["DATE", "DATETIME", "TIMESTAMP"]
        .iter()
        .any(|t| type_name.eq_ignore_ascii_case(t))
}

/// How a column is read into a [`Value`], by the type the server names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    UInt,
    Float,
    Double,
    Decimal,
    Timestamp,
    DateTime,
    Date,
    /// A `TIMESTAMP`, `DATETIME` or `DATE` selected as its text ([`temporal_as_text`]).
    TimestampText,
    DateTimeText,
    DateText,
    Time,
    Json,
    Text,
    /// Text in a `_bin` collation, which sqlx names a binary type ([`kinds`]): its text, or,
    /// when its bytes are not UTF-8 (a query's `CONCAT(slug, CHAR(255))`: the server does
    /// not check an expression's bytes), the note of its size a [`Kind::Bytes`] value
    /// gets, as before such text was read as text (fix28). The row is kept with the note;
    /// as an id, such a value stops the walk loudly ("not a key"), as before.
    BinText,
    /// BLOB, BINARY ... (text in a `_bin` collation, which sqlx names the same, is
    /// [`Kind::BinText`]: [`kinds`]): text when it reads as text, else a note of its size.
    Bytes,
}

/// Each column's [`Kind`], by the name the driver gives its type: the same for every row of a
/// result, so chosen once per result rather than by comparing names per row and column. A
/// column that `described` (the plan's type names, by position) names a date or time and the
/// result gives as text was selected as its text ([`temporal_as_text`]) and is read back as
/// that date or time.
pub(crate) fn kinds(row: &MySqlRow, described: &[String]) -> Vec<Kind> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // The driver names its types in capitals.
            let name = c.type_info().name().to_ascii_uppercase();
            let mut got = kind(&name);
            // Text in a `_bin` collation, which sqlx names a binary type: read as text, so a
            // control character in it (`\u{1}`, or the C1 of latin1 mojibake) is kept, not
            // made "binary data", which as an id stopped the whole load on every run
            // (review48 F1).
            if got == Kind::Bytes
                && crate::rdbms::db::mysql_bin_text(&name, &format!("{:?}", c.type_info()))
                    .is_some()
            {
                got = Kind::BinText;
            }
            match (got, described.get(i).map(|t| t.to_ascii_uppercase())) {
                (Kind::Text | Kind::BinText | Kind::Bytes, Some(t)) if temporal_as_text(&t) => {
                    match kind(&t) {
                        Kind::Timestamp => Kind::TimestampText,
                        Kind::DateTime => Kind::DateTimeText,
                        _ => Kind::DateText,
                    }
                }
                _ => got,
            }
        })
        .collect()
}

/// The [`Kind`] of a type the driver names `t` (in capitals).
fn kind(t: &str) -> Kind {
    match t {
        "BOOLEAN" => Kind::Bool,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Kind::Int,
        t if t.ends_with(" UNSIGNED") => Kind::UInt,
        "FLOAT" => Kind::Float,
        "DOUBLE" => Kind::Double,
        "DECIMAL" => Kind::Decimal,
        "TIMESTAMP" => Kind::Timestamp,
        "DATETIME" => Kind::DateTime,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "JSON" => Kind::Json,
        "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            Kind::Text
        }
        _ => Kind::Bytes,
    }
}

/// Each column as its [`Kind`] says (`kinds` of this result; a column past them is read as
/// bytes, text when it is text), pushed as the next row of `out`; a column that cannot be
/// read is pushed as why.
pub(crate) fn decode(row: &MySqlRow, kinds: &[Kind], out: &mut Rows) {
    out.push_row(row.len(), |out, i| {
        decode_column(row, i, kinds.get(i).copied().unwrap_or(Kind::Bytes), out)
    });
}

/// Column `i` of `row` pushed into `out`, read as `kind`: text borrowed from the driver's row
/// and copied into the page's buffer, with no `String` of its own. Nothing is pushed on an
/// error.
fn decode_column(row: &MySqlRow, i: usize, kind: Kind, out: &mut Rows) -> Result<(), String> {
    let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if raw.is_null() {
        out.push(Value::Null);
        return Ok(());
    }
    let value = match kind {
        Kind::Text => {
            out.push_text(text(raw, i)?);
            return Ok(());
        }
        Kind::BinText => {
            let bytes = get::<&[u8]>(raw, i)?;
            match decode::text(bytes) {
                Some(s) => {
                    out.push_text(s);
                    return Ok(());
                }
                None => Value::Bytes(bytes.len()),
            }
        }
        Kind::Decimal => {
            out.push_decimal(text(raw, i)?);
            return Ok(());
        }
        Kind::Bool => Value::Bool(get::<i64>(raw, i)? != 0),
        Kind::Int => Value::Int(get(raw, i)?),
        Kind::UInt => Value::UInt(get(raw, i)?),
        Kind::Float => Value::Float(widen(get::<f32>(raw, i)?)),
        Kind::Double => Value::Float(get(raw, i)?),
        Kind::Timestamp => Value::TimestampTz(get::<DateTime<Utc>>(raw, i)?),
        Kind::DateTime => Value::Timestamp(get::<NaiveDateTime>(raw, i)?),
        Kind::Date => Value::Date(get::<NaiveDate>(raw, i)?),
        Kind::TimestampText => {
            return datetime(raw, i, out, |t| Value::TimestampTz(t.and_utc()));
        }
        Kind::DateTimeText => return datetime(raw, i, out, Value::Timestamp),
        Kind::DateText => return datetime(raw, i, out, |t| Value::Date(t.date())),
        Kind::Time => match get::<NaiveTime>(raw.clone(), i) {
            Ok(t) => Value::Time(t),
            // A TIME past a day or below zero (a duration): its text.
            Err(_) => Value::Text(get::<sqlx::mysql::types::MySqlTime>(raw, i)?.to_string()),
        },
        Kind::Json => {
            let s: &str = get(raw, i)?;
            match serde_json::from_str(s) {
                Ok(j) => Value::Json(j),
                // Not JSON after all: its text.
                Err(_) => {
                    out.push_text(s);
                    return Ok(());
                }
            }
        }
        Kind::Bytes => {
            let bytes = get::<&[u8]>(raw, i)?;
            match std::str::from_utf8(bytes) {
                Ok(s)
                    if !s
                        .chars()
                        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
                {
                    out.push_text(s);
                    return Ok(());
                }
                _ => Value::Bytes(bytes.len()),
            }
        }
    };
    out.push(value);
    Ok(())
}

/// An error of the driver as the connector's, by MySQL's error number.
pub(crate) fn error(e: sqlx::Error) -> Error {
    let (kind, field) = match &e {
        sqlx::Error::Database(db) => {
            let number = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map_or(0, MySqlDatabaseError::number);
            match number {
                1045 | 1698 => (ErrorKind::Unauthenticated, Some("credentials")),
                1044 | 1142 | 1143 | 1227 => {
                    (ErrorKind::PermissionDenied, Some("credentials.username"))
                }
                // A write in a read-only session (a function the query calls).
                1792 => (ErrorKind::PermissionDenied, Some("query")),
                1049 => (ErrorKind::NotFound, Some("database")),
                1146 => (ErrorKind::NotFound, Some("tables")),
                1054 => (ErrorKind::Config, Some("content_columns")),
                1064 | 1060 | 1248 => (ErrorKind::Config, Some("query")),
                1040 | 1053 | 1205 | 1213 | 2002 | 2003 | 2006 | 2013 => {
                    (ErrorKind::Unavailable, None)
                }
                _ => (ErrorKind::InvalidData, None),
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
            (ErrorKind::Unavailable, Some("host"))
        }
        sqlx::Error::Configuration(_) => (ErrorKind::Config, None),
        _ => (ErrorKind::InvalidData, None),
    };
    let mut out = Error::new(kind, format!("MySQL: {e}")).with_connector(SOURCE);
    if let Some(f) = field {
        out = out.with_field(f);
    }
    out
}
