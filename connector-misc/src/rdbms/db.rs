//! The drivers behind one face: a connection to PostgreSQL or MySQL (sqlx), the SQL
//! dialect (quoting, placeholders, casts), and rows read as [`Value`]s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::rows::ValueRef;
use connector_core::window::Zone;
use connector_core::{Error, ErrorKind, Result};
use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Executor as _, SqlSafeStr as _, Statement as _, TypeInfo as _};

use super::page::Rows;
use super::value::{Key, KeyKind};

/// One column of a result, as the server describes it before any row is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// The driver's type name (`INT8`, `TIMESTAMPTZ`, `BIGINT UNSIGNED`, `DATETIME`).
    pub(crate) type_name: String,
    /// A MySQL `BINARY`/`VARBINARY` (as sqlx names it) that is text in a `_bin` collation:
    /// the protocol flags both binary, and only the result's character set (not `binary`)
    /// tells them apart (sqlx issue 3387).
    pub(crate) bin_text: bool,
}

impl Column {
    /// The type name an id or key part is judged by: `VARCHAR`/`CHAR` for text in a `_bin`
    /// collation, else the driver's name.
    pub(crate) fn key_type(&self) -> &str {
        match (self.bin_text, self.type_name.as_str()) {
            (true, "VARBINARY") => "VARCHAR",
            (true, "BINARY") => "CHAR",
            _ => &self.type_name,
        }
    }
}

/// Whether a MySQL column that sqlx names `BINARY`/`VARBINARY` is text in a `_bin` collation:
/// its type information (`Debug`, the only place sqlx shows it) carries a collation other
/// than `binary` (63).
fn bin_text(type_name: &str, debug: &str) -> bool {
    if !matches!(type_name, "BINARY" | "VARBINARY") {
        return false;
    }
    // An ENUM or SET in a `_bin` collation arrives as `BINARY` too, but the server orders it
    // by its index, not its text: as an id, `>` would end the walk early (review43 F4).
    let flags = debug
        .split_once("flags: ColumnFlags(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(flags, _)| flags);
    if flags.split('|').any(|f| matches!(f.trim(), "ENUM" | "SET")) {
        return false;
    }
    let Some((_, rest)) = debug.split_once("collation: Collation(") else {
        return false;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u16>().is_ok_and(|c| c != 63)
}

/// How a `timestamp_column` is compared, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    /// `timestamptz`, MySQL `TIMESTAMP`: an instant.
    Instant,
    /// `timestamp`, `DATETIME`: a wall-clock time, read in `timezone` (UTC when unset).
    Naive,
    /// `date`: midnight in `timezone`.
    Date,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Key(Key),
    Cursor(DateTime<Utc>, CursorKind),
    Text(String),
}

/// The SQL spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    // Each is built only with its source's feature; the SQL of both stays compiled.
    #[cfg_attr(not(feature = "postgresql"), allow(dead_code))]
    Postgres,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySql,
}

impl Dialect {
    /// `name` as a quoted identifier: `"a""b"` (PostgreSQL), `` `a``b` `` (MySQL).
    pub(crate) fn quote(self, name: &str) -> String {
        match self {
            Self::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Self::MySql => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// The placeholder of the `n`th parameter (from 1), cast to the id column's type where
    /// the bound text must become a UUID or an exact number.
    pub(crate) fn placeholder(self, n: usize, kind: Option<KeyKind>) -> String {
        let p = match self {
            Self::Postgres => format!("${n}"),
            Self::MySql => "?".to_owned(),
        };
        match (self, kind) {
            (Self::Postgres, Some(KeyKind::Uuid)) => format!("CAST({p} AS uuid)"),
            (Self::Postgres, Some(KeyKind::Numeric)) => format!("CAST({p} AS numeric)"),
            (Self::MySql, Some(KeyKind::Numeric)) => format!("CAST({p} AS DECIMAL(65,30))"),
            _ => p,
        }
    }

    /// The id column's key kind, `None` for a type that cannot order a walk.
    pub(crate) fn key_kind(self, type_name: &str) -> Option<KeyKind> {
        let t = type_name.to_ascii_uppercase();
        match self {
            Self::Postgres => match t.as_str() {
                "INT2" | "INT4" | "INT8" => Some(KeyKind::Int),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Some(KeyKind::Text),
                "UUID" => Some(KeyKind::Uuid),
                "NUMERIC" => Some(KeyKind::Numeric),
                _ => None,
            },
            Self::MySql => match t.as_str() {
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                    Some(KeyKind::Int)
                }
                _ if t.ends_with(" UNSIGNED") => Some(KeyKind::UInt),
                "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" => {
                    Some(KeyKind::Text)
                }
                "DECIMAL" => Some(KeyKind::Numeric),
                _ => None,
            },
        }
    }

    /// The `timestamp_column`'s kind, `None` for a type that is no date or time.
    pub(crate) fn cursor_kind(self, type_name: &str) -> Option<CursorKind> {
        match (self, type_name.to_ascii_uppercase().as_str()) {
            (Self::Postgres, "TIMESTAMPTZ") | (Self::MySql, "TIMESTAMP") => {
                Some(CursorKind::Instant)
            }
            (Self::Postgres, "TIMESTAMP") | (Self::MySql, "DATETIME") => Some(CursorKind::Naive),
            (_, "DATE") => Some(CursorKind::Date),
            _ => None,
        }
    }

    /// How column `name` of type `type_name` is selected from `src`: as it is, or as its
    /// text: PostgreSQL types the driver does not decode (numeric, uuid, interval, inet,
    /// arrays, enums ...), MySQL dates and times the driver reads slowly (read back as dates
    /// and times: `mysql::driver::temporal_as_text`).
    pub(crate) fn select_expr(self, name: &str, type_name: &str) -> String {
        let q = self.quote(name);
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql if crate::mysql::driver::temporal_as_text(type_name) => {
                format!("CAST(src.{q} AS CHAR) AS {q}")
            }
            Self::MySql => format!("src.{q}"),
            Self::Postgres => {
                const NATIVE: &[&str] = &[
                    "BOOL",
                    "INT2",
                    "INT4",
                    "INT8",
                    "FLOAT4",
                    "FLOAT8",
                    "TEXT",
                    "VARCHAR",
                    "BPCHAR",
                    "NAME",
                    "TIMESTAMPTZ",
                    "TIMESTAMP",
                    "DATE",
                    "TIME",
                    "JSON",
                    "JSONB",
                    "BYTEA",
                ];
                if NATIVE.contains(&type_name.to_ascii_uppercase().as_str()) {
                    format!("src.{q}")
                } else {
                    format!("CAST(src.{q} AS TEXT) AS {q}")
                }
            }
        }
    }
}

/// Where to connect.
#[derive(Clone)]
pub(crate) enum Target {
    #[cfg(feature = "postgresql")]
    Postgres(sqlx::postgres::PgConnectOptions),
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlConnectOptions),
}

impl Target {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => Dialect::MySql,
        }
    }
}

/// One open connection; a stream holds its own and drops it when done or dropped.
pub(crate) enum Connection {
    #[cfg(feature = "postgresql")]
    Postgres(sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlConnection),
}

impl Connection {
    /// Connects within `timeout`.
    ///
    /// # Errors
    /// `Unauthenticated` naming the credentials, `NotFound` naming `database`, `Unavailable`
    /// for a server that cannot be reached, `Timeout` after `timeout`.
    pub(crate) async fn open(target: &Target, timeout: Duration) -> Result<Self> {
        let connect = async {
            match target {
                #[cfg(feature = "postgresql")]
                Target::Postgres(o) => {
                    use sqlx::ConnectOptions as _;
                    o.connect()
                        .await
                        .map(Self::Postgres)
                        .map_err(crate::postgresql::driver::error)
                }
                #[cfg(feature = "mysql")]
                Target::MySql(o) => {
                    use sqlx::ConnectOptions as _;
                    o.connect()
                        .await
                        .map(Self::MySql)
                        .map_err(crate::mysql::driver::error)
                }
            }
        };
        let connect = async {
            let mut conn = connect.await?;
            conn.read_only().await?;
            Ok(conn)
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the database server did not answer within {} s; check `host` and `port`",
                    timeout.as_secs()
                ),
            )
            .with_field("connect_timeout")),
        }
    }

    /// Makes every transaction of this session read-only: the connector only reads, and a
    /// `query` calling a function that writes fails instead of writing (defence in depth
    /// behind a read-only user).
    async fn read_only(&mut self) -> Result<()> {
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(c) => c
                .execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .await
                .map(drop)
                .map_err(crate::postgresql::driver::error),
            #[cfg(feature = "mysql")]
            Self::MySql(c) => c
                .execute("SET SESSION TRANSACTION READ ONLY")
                .await
                .map(drop)
                .map_err(crate::mysql::driver::error),
        }
    }

    /// The columns `sql` would return, without running it.
    pub(crate) async fn describe(&mut self, sql: String) -> Result<Vec<Column>> {
        let sql = AssertSqlSafe(sql).into_sql_str();
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(c) => {
                let st = c
                    .prepare(sql)
                    .await
                    .map_err(crate::postgresql::driver::error)?;
                Ok(columns(st.columns()))
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                let st = c.prepare(sql).await.map_err(crate::mysql::driver::error)?;
                Ok(columns(st.columns()))
            }
        }
    }

    /// Runs `sql` with `params` and appends its rows to `out` as they arrive (the driver
    /// streams them; each is decoded into `out`'s buffers and let go). `described`: the type
    /// names of the selected columns as the plan described them (before
    /// [`Dialect::select_expr`] made some text), by position; empty when the columns are
    /// read as they come.
    pub(crate) async fn fetch_rows(
        &mut self,
        sql: String,
        params: &[Param],
        described: &[String],
        out: &mut Rows,
    ) -> Result<()> {
        let sql = AssertSqlSafe(sql);
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(c) => {
                use crate::postgresql::driver;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = driver::bind(q, p);
                }
                let mut rows = q.fetch(&mut *c);
                // Every row of the result has the columns of the first.
                let mut kinds = None;
                while let Some(row) = rows.try_next().await.map_err(driver::error)? {
                    let kinds = kinds.get_or_insert_with(|| driver::kinds(&row));
                    driver::decode(&row, kinds, out);
                }
                // Nothing of PostgreSQL's is selected as text to be read back otherwise.
                let _ = described;
                Ok(())
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                use crate::mysql::driver;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = driver::bind(q, p);
                }
                let mut rows = q.fetch(&mut *c);
                // Every row of the result has the columns of the first.
                let mut kinds = None;
                while let Some(row) = rows.try_next().await.map_err(driver::error)? {
                    let kinds = kinds.get_or_insert_with(|| driver::kinds(&row, described));
                    driver::decode(&row, kinds, out);
                }
                Ok(())
            }
        }
    }

    /// The first column of every row of `sql`, as text (catalog lookups).
    pub(crate) async fn texts(&mut self, sql: String, params: &[Param]) -> Result<Vec<String>> {
        let mut rows = Rows::new(Zone::utc());
        self.fetch_rows(sql, params, &[], &mut rows).await?;
        Ok(rows
            .iter()
            .filter_map(|row| match row.get(0) {
                Some(Ok(ValueRef::Text(s))) => Some(s.to_owned()),
                _ => None,
            })
            .collect())
    }

    /// Closes the connection politely (a dropped one is closed too, abruptly).
    pub(crate) async fn close(self) {
        use sqlx::Connection as _;
        let _ = match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(c) => c.close().await,
            #[cfg(feature = "mysql")]
            Self::MySql(c) => c.close().await,
        };
    }
}

fn columns<C: sqlx::Column>(cols: &[C]) -> Vec<Column> {
    cols.iter()
        .map(|c| {
            let type_name = c.type_info().name().to_owned();
            Column {
                name: c.name().to_owned(),
                bin_text: bin_text(&type_name, &format!("{:?}", c.type_info())),
                type_name,
            }
        })
        .collect()
}

#[cfg(test)]
mod bin_text_tests {
    use super::bin_text;

    #[test]
    fn bin_collated_text_is_told_from_binary_by_its_collation() {
        let debug = |c: u16| {
            format!(
                "MySqlTypeInfo {{ type: VarString, flags: ColumnFlags(BINARY), collation: Collation({c}), max_size: Some(160) }}"
            )
        };
        assert!(bin_text("VARBINARY", &debug(46)));
        assert!(bin_text("BINARY", &debug(65)));
        assert!(!bin_text("VARBINARY", &debug(63)));
        assert!(!bin_text("VARCHAR", &debug(46)));
        assert!(!bin_text("VARBINARY", "PgTypeInfo(Text)"));
        // review43 F4: an ENUM or SET in a `_bin` collation sorts by its index.
        for flags in ["BINARY | ENUM", "SET | BINARY"] {
            let enumerated = format!(
                "MySqlTypeInfo {{ type: String, flags: ColumnFlags({flags}), collation: Collation(46), max_size: Some(20) }}"
            );
            assert!(!bin_text("BINARY", &enumerated), "{enumerated}");
        }
    }
}
