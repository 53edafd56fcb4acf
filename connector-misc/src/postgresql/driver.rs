//! PostgreSQL through sqlx: connect options from the config, parameters, rows as values and
//! errors by SQLSTATE.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use connector_core::{Error, ErrorKind};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgRow, PgSslMode, PgValueFormat};
use sqlx::query::Query;
use sqlx::{Column as _, Postgres, Row as _, TypeInfo as _, ValueRef as _};

use super::SOURCE;
use crate::rdbms::db::{CursorKind, Param};
use crate::rdbms::decode;
use crate::rdbms::page::Rows;
use crate::rdbms::value::{Key, Value, widen};
use crate::rdbms::{RdbmsConfig, SslMode};

/// PostgreSQL's port.
pub const DEFAULT_PORT: u16 = 5432;

pub(crate) fn options(config: &RdbmsConfig) -> PgConnectOptions {
    let mut o = PgConnectOptions::new_without_pgpass()
        .host(config.host.trim())
        .port(config.port.unwrap_or(DEFAULT_PORT))
        .database(config.database.trim())
        .username(config.credentials.username.trim())
        .application_name("connectors")
        .ssl_mode(match config.sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
    if !config.credentials.password.is_empty() {
        o = o.password(config.credentials.password.expose());
    }
    if let Some(ca) = &config.sslrootcert {
        o = o.ssl_root_cert(ca.as_str());
    }
    o
}

pub(crate) fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    p: &Param,
) -> Query<'q, Postgres, PgArguments> {
    match p {
        Param::Key(Key::Int(i)) => q.bind(*i),
        // PostgreSQL has no unsigned integers; a numeric id past i64 comes as text.
        Param::Key(Key::UInt(u)) => q.bind(u.to_string()),
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
fn get<'r, T: sqlx::Decode<'r, Postgres>>(
    raw: sqlx::postgres::PgValueRef<'r>,
    i: usize,
) -> Result<T, String> {
    T::decode(raw).map_err(|source| decode::column_error(i, source))
}

/// Column `i`'s text: its bytes checked as UTF-8 by [`decode::text`] (a third of the
/// instructions of sqlx's `&str` decode, which checks with std's), with sqlx's error when
/// they are not.
fn text(raw: sqlx::postgres::PgValueRef<'_>, i: usize) -> Result<&str, String> {
    let bytes = raw.as_bytes().map_err(|e| decode::column_error(i, e))?;
    match decode::text(bytes) {
        Some(s) => Ok(s),
        None => std::str::from_utf8(bytes).map_err(|e| decode::column_error(i, e.into())),
    }
}

/// Column `i`'s `timestamp` (or `timestamptz`, as UTC): from its eight binary bytes
/// ([`decode::pg_timestamp`]: sqlx's decode spent ~240 instructions a row on a chrono sum),
/// else (text format, out of chrono's range) as sqlx decodes it; `Err`: PostgreSQL's
/// `infinity` or `-infinity` ([`infinity`]), which chrono cannot hold.
fn timestamp(
    raw: sqlx::postgres::PgValueRef<'_>,
    i: usize,
) -> Result<Result<NaiveDateTime, &'static str>, String> {
    if raw.format() == PgValueFormat::Binary
        && let Some(t) = raw.as_bytes().ok().and_then(decode::pg_timestamp)
    {
        return Ok(Ok(t));
    }
    if let Some(inf) = infinity(&raw) {
        return Ok(Err(inf));
    }
    get::<NaiveDateTime>(raw, i).map(Ok)
}

/// `infinity` or `-infinity` when the `timestamp`, `timestamptz` or `date` in `raw` is one
/// ([`decode::pg_infinity`], or the text format's own word): values chrono cannot hold,
/// kept as PostgreSQL's text, which a cursor reads as no time.
fn infinity(raw: &sqlx::postgres::PgValueRef<'_>) -> Option<&'static str> {
    let bytes = raw.as_bytes().ok()?;
    match raw.format() {
        PgValueFormat::Binary => decode::pg_infinity(bytes),
        PgValueFormat::Text => match bytes {
            b"infinity" => Some("infinity"),
            b"-infinity" => Some("-infinity"),
            _ => None,
        },
    }
}

/// How a column is read into a [`Value`], by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    TimestampTz,
    Timestamp,
    Date,
    Time,
    Json,
    Bytes,
    /// Text, and every other type, which
    /// [`Dialect::select_expr`](crate::rdbms::db::Dialect::select_expr) has made text.
    Text,
}

/// Each column's [`Kind`], by the name the driver gives its type: the same for every row of a
/// result, so chosen once per result rather than by comparing names per row and column.
pub(crate) fn kinds(row: &PgRow) -> Vec<Kind> {
    row.columns()
        .iter()
        .map(|c| {
            // The driver names its types in capitals.
            match c.type_info().name().to_ascii_uppercase().as_str() {
                "BOOL" => Kind::Bool,
                "INT2" => Kind::Int2,
                "INT4" => Kind::Int4,
                "INT8" => Kind::Int8,
                "FLOAT4" => Kind::Float4,
                "FLOAT8" => Kind::Float8,
                "TIMESTAMPTZ" => Kind::TimestampTz,
                "TIMESTAMP" => Kind::Timestamp,
                "DATE" => Kind::Date,
                "TIME" => Kind::Time,
                "JSON" | "JSONB" => Kind::Json,
                "BYTEA" => Kind::Bytes,
                _ => Kind::Text,
            }
        })
        .collect()
}

/// Each column as its [`Kind`] says (`kinds` of this result; a column past them is read as
/// text), pushed as the next row of `out`; a column that cannot be read is pushed as why.
pub(crate) fn decode(row: &PgRow, kinds: &[Kind], out: &mut Rows) {
    out.push_row(row.len(), |out, i| {
        decode_column(row, i, kinds.get(i).copied().unwrap_or(Kind::Text), out)
    });
}

/// Column `i` of `row` pushed into `out`, read as `kind`: text borrowed from the driver's row
/// and copied into the page's buffer, with no `String` of its own. Nothing is pushed on an
/// error.
fn decode_column(row: &PgRow, i: usize, kind: Kind, out: &mut Rows) -> Result<(), String> {
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
        Kind::Bool => Value::Bool(get(raw, i)?),
        Kind::Int2 => Value::Int(get::<i16>(raw, i)?.into()),
        Kind::Int4 => Value::Int(get::<i32>(raw, i)?.into()),
        Kind::Int8 => Value::Int(get(raw, i)?),
        Kind::Float4 => Value::Float(widen(get::<f32>(raw, i)?)),
        Kind::Float8 => Value::Float(get(raw, i)?),
        Kind::TimestampTz | Kind::Timestamp | Kind::Date => {
            let t = match (kind, raw.format()) {
                // The same microseconds, read as UTC (sqlx reads them as `+00:00`, then UTC).
                (Kind::TimestampTz, PgValueFormat::Binary) => {
                    timestamp(raw, i)?.map(|t| Value::TimestampTz(t.and_utc()))
                }
                (Kind::Timestamp, _) => timestamp(raw, i)?.map(Value::Timestamp),
                (Kind::Date, _) => match infinity(&raw) {
                    Some(inf) => Err(inf),
                    None => Ok(Value::Date(get::<NaiveDate>(raw, i)?)),
                },
                _ => match infinity(&raw) {
                    Some(inf) => Err(inf),
                    None => Ok(Value::TimestampTz(get::<DateTime<Utc>>(raw, i)?)),
                },
            };
            match t {
                Ok(v) => v,
                Err(inf) => {
                    out.push_text(inf);
                    return Ok(());
                }
            }
        }
        Kind::Time => Value::Time(get::<NaiveTime>(raw, i)?),
        Kind::Json => Value::Json(get::<serde_json::Value>(raw, i)?),
        Kind::Bytes => Value::Bytes(get::<&[u8]>(raw, i)?.len()),
    };
    out.push(value);
    Ok(())
}

/// An error of the driver as the connector's, by SQLSTATE.
pub(crate) fn error(e: sqlx::Error) -> Error {
    let (kind, field) = match &e {
        sqlx::Error::Database(db) => match db.code().as_deref().unwrap_or("") {
            "28P01" | "28000" => (ErrorKind::Unauthenticated, Some("credentials")),
            "3D000" => (ErrorKind::NotFound, Some("database")),
            "42P01" | "3F000" => (ErrorKind::NotFound, Some("tables")),
            "42703" => (ErrorKind::Config, Some("content_columns")),
            "42501" => (ErrorKind::PermissionDenied, Some("credentials.username")),
            // A write in a read-only session (a function the query calls).
            "25006" => (ErrorKind::PermissionDenied, Some("query")),
            c if c.starts_with("42") => (ErrorKind::Config, Some("query")),
            c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
                (ErrorKind::Unavailable, None)
            }
            _ => (ErrorKind::InvalidData, None),
        },
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
            (ErrorKind::Unavailable, Some("host"))
        }
        sqlx::Error::Configuration(_) => (ErrorKind::Config, None),
        _ => (ErrorKind::InvalidData, None),
    };
    let mut out = Error::new(kind, format!("PostgreSQL: {e}")).with_connector(SOURCE);
    if let Some(f) = field {
        out = out.with_field(f);
    }
    out
}
