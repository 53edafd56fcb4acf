//! The drivers behind one face: a connection to PostgreSQL or MySQL (sqlx), the SQL
//! dialect (quoting, placeholders, casts), and rows read as [`Value`]s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::rows::ValueRef;
use connector_core::window::Zone;
use connector_core::{Error, ErrorKind, Result};
use futures::TryStreamExt;
use futures::stream::BoxStream;
use sqlx::{AssertSqlSafe, Executor as _, SqlSafeStr as _, Statement as _, TypeInfo as _};

use super::page::Rows;
use super::value::{Key, KeyKind};

/// One column of a result, as the server describes it before any row is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// The driver's type name (`INT8`, `TIMESTAMPTZ`, `BIGINT UNSIGNED`, `DATETIME`).
    pub(crate) type_name: String,
    /// The type an id or key part is judged by where the driver's name misleads
    /// ([`mysql_key_type`]): text in a `_bin` collation, an ENUM or a SET.
    pub(crate) key_type: Option<&'static str>,
}

impl Column {
    /// The type name an id or key part is judged by: `VARCHAR`/`CHAR`/`TEXT`… for text in a
    /// `_bin` collation, `ENUM`/`SET` for those, else the driver's name.
    pub(crate) fn key_type(&self) -> &str {
        self.key_type.unwrap_or(&self.type_name)
    }
}

/// What a MySQL column that sqlx names `type_name` is as an id, where that name misleads,
/// from its type information (`debug`: `MySqlTypeInfo`'s `Debug`, the only place sqlx shows
/// the flags and the collation; sqlx issue 3387):
/// - an ENUM or a SET (the flags say so) is `ENUM`/`SET`, whatever its name: the server
///   orders it by its index (or bits), not its text, so as an id `>` would end the walk early
///   (review43 F4). sqlx names an ENUM in a `_bin` collation `BINARY` and a SET `CHAR` or
///   `BINARY` (review46 S1, S2);
/// - text in a `_bin` collation, which the protocol flags binary as it does real binary
///   (`BINARY`, `VARBINARY`, `BLOB`…), is text when its collation is not `binary` (63).
///
/// `None`: the name is right (and every PostgreSQL type). If a sqlx update changes the
/// `Debug` text, the override is lost: a `_bin` text id is refused again (loud), and an
/// ENUM/SET is refused by its name or, named `CHAR`/`BINARY`, is taken as text; the
/// real-server test `mysql_enum_and_set_ids_are_refused` catches that (review46 T1).
fn mysql_key_type(type_name: &str, debug: &str) -> Option<&'static str> {
    let flags = debug
        .split_once("flags: ColumnFlags(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(flags, _)| flags);
    for f in flags.split('|') {
        match f.trim() {
            "ENUM" => return Some("ENUM"),
            "SET" => return Some("SET"),
            _ => {}
        }
    }
    mysql_bin_text(type_name, debug)
}

/// The text type of a MySQL column that sqlx names `type_name` (in capitals) a binary one,
/// `BINARY`, `VARBINARY` or a `BLOB`, when its collation (in `debug`, `MySqlTypeInfo`'s
/// `Debug`) is not `binary` (63): text in a `_bin` collation, which the protocol flags
/// binary as it does real binary. The server sends it in the connection's character set, so
/// it is read as text ([`crate::mysql::driver::kinds`]) and walked as text. `None`: any
/// other column.
pub(crate) fn mysql_bin_text(type_name: &str, debug: &str) -> Option<&'static str> {
    let text = match type_name {
        "VARBINARY" => "VARCHAR",
        "BINARY" => "CHAR",
        "TINYBLOB" => "TINYTEXT",
        "BLOB" => "TEXT",
        "MEDIUMBLOB" => "MEDIUMTEXT",
        "LONGBLOB" => "LONGTEXT",
        _ => return None,
    };
    let (_, rest) = debug.split_once("collation: Collation(")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u16>().is_ok_and(|c| c != 63).then_some(text)
}

/// The scale a MySQL DECIMAL key is bound with: the fraction digits of its text. The server
/// writes every value of a DECIMAL(M,D) column (or expression) with exactly D of them, so a
/// column's keys share one SQL text; and `DECIMAL(65, D)` holds every such value exactly
/// (M ≤ 65, so at most 65 − D integer digits; MariaDB's D goes to 38). The fixed
/// `DECIMAL(65,30)` this replaces clipped an id past 35 integer digits (review38 N1: the walk
/// read one page for ever) and rounded one past 30 decimals (review43 F2: rows skipped), and
/// the loud refusal of such ids that followed failed the whole load on every run (review43
/// F1, F3).
///
/// `text` must be a plain decimal ([`is_plain_decimal`]): the scale of any other text says
/// nothing of its value (`1.00E-8` would count 2 and bind `0.00`, review48 F2). Every bound
/// key is one: the server's own text, a refetch id written out plain ([`exact_decimal`]), a
/// checkpoint's checked by [`crate::rdbms::plan::Plan::page`]; anything else is bound with
/// the widest scale, 38: exact on MariaDB, a server error (loud) on MySQL, whose scale stops
/// at 30.
fn decimal_scale(text: &str) -> usize {
    if !is_plain_decimal(text) {
        return 38;
    }
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

/// Whether `text` is a decimal number as MySQL writes a DECIMAL: a sign, digits, a `.` and
/// digits (`-12.50`, `0005`), with no exponent, space or other character (`.5` and `5.`
/// pass: they bind exactly too).
pub(crate) fn is_plain_decimal(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, fraction) = t.split_once('.').unwrap_or((t, ""));
    !(int.is_empty() && fraction.is_empty())
        && int
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// The exact numbers an id column of a server can hold, past which a refetch id names no
/// row, and how such a number is bound. MariaDB's DECIMAL stops at 38 decimals and 65
/// digits, MySQL's at 30 decimals (a wider bound CAST is a server error, ER_TOO_BIG_SCALE,
/// which failed the whole refetch: review58 L2); PostgreSQL's `numeric` at 16,383 decimals
/// and 131,072 integer digits (its input refuses more: "value overflows numeric format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecimalRoom {
    /// Fraction digits, trailing zeros left out.
    pub(crate) scale: usize,
    /// Digits in all, leading zeros of the integer part and trailing zeros of the fraction
    /// left out.
    pub(crate) digits: usize,
    /// Whether a number is bound with an exponent where that is shorter than its plain text
    /// (`1e131071`, not 131,072 bytes: review58 L1). PostgreSQL reads either exactly; MySQL
    /// binds a DECIMAL with the scale of its plain text ([`decimal_scale`]), at most 67
    /// bytes within its room.
    pub(crate) exponent: bool,
}

impl DecimalRoom {
    /// MariaDB's `DECIMAL(65, 38)` at most.
    pub(crate) const MARIADB: Self = Self {
        scale: 38,
        digits: 65,
        exponent: false,
    };
    /// MySQL's `DECIMAL(65, 30)` at most (8.0, and 5.7 before it).
    pub(crate) const MYSQL: Self = Self {
        scale: 30,
        digits: 65,
        exponent: false,
    };
    /// PostgreSQL's `numeric`. Old releases refuse an exponent past ±1000 as invalid input,
    /// until the back-patched "Remove bogus dependencies on NUMERIC_MAX_PRECISION" (minors of
    /// about 2016, not pinned): there an id of over 1000 zeros, bound `1e1001`, fails the
    /// refetch where its plain text did not. Such releases are long out of support
    /// (review65 I1).
    #[cfg_attr(not(feature = "postgresql"), allow(dead_code))]
    pub(crate) const POSTGRES: Self = Self {
        scale: 16_383,
        digits: 131_072,
        exponent: true,
    };

    /// The room of a MySQL-protocol server that answers `SELECT VERSION()` with `version`:
    /// MariaDB's names itself (`10.11.6-MariaDB-0+deb12u1`, or `5.5.5-10.11.6-MariaDB` as
    /// older clients are shown); any other is MySQL's.
    pub(crate) fn of_mysql_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Self::MARIADB
        } else {
            Self::MYSQL
        }
    }

    /// The room of a MySQL-protocol server from its answer to `SELECT VERSION()`
    /// ([`Self::of_mysql_version`] of its first text), MySQL's (the smaller) when there is
    /// none: a server or proxy that refused the question (logged at `warn`: its ids of 31 to
    /// 38 decimals are absent, which on MariaDB may be rows that exist), or answered no text.
    /// MySQL's misreads a MariaDB only by leaving such an id absent; MariaDB's on MySQL 8
    /// would bind a `DECIMAL(65, 31)`, which the server refuses, failing the whole refetch
    /// (review58 L2, review65 L1, review66 L4).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn of_mysql_answer(answer: Result<Vec<String>>) -> Self {
        match answer {
            Ok(version) => Self::of_mysql_version(version.first().map_or("", String::as_str)),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "SELECT VERSION() failed: MySQL's decimal room (30 decimals), so a refetch id of 31 to 38 decimals is absent"
                );
                Self::MYSQL
            }
        }
    }

    /// Whether `key`, a refetch id's key, is a number MariaDB's room holds and MySQL's does
    /// not (31 to 38 decimals): only then does the room of a MySQL-protocol server tell a
    /// refetch's keys apart. Every other key parses the same in either room
    /// ([`exact_decimal`]: MySQL's is MariaDB's with fewer decimals, same digits, no
    /// exponent), or is no number at all.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn only_mariadb_holds(key: &str) -> bool {
        exact_decimal(key, Self::MYSQL).is_none() && exact_decimal(key, Self::MARIADB).is_some()
    }

    /// The room of a MySQL-protocol server for a refetch of `keys`: MySQL's without a word
    /// to the server unless a key is one [`Self::only_mariadb_holds`], and then
    /// [`Self::of_mysql_answer`] of `ask` (its `SELECT VERSION()`), asked once. `ask` is a
    /// parameter so the tests can see whether it was called (review67 L1).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) async fn of_mysql_keys<'k, F>(
        keys: impl IntoIterator<Item = &'k str>,
        ask: impl FnOnce() -> F,
    ) -> Self
    where
        F: std::future::Future<Output = Result<Vec<String>>>,
    {
        if !keys.into_iter().any(Self::only_mariadb_holds) {
            return Self::MYSQL;
        }
        Self::of_mysql_answer(ask().await)
    }
}

/// `text`, a number as a refetch id may write it (plain, `-12.50`, or with an exponent, as
/// Python's `str(Decimal)` writes small ones: `1.00E-8`, `1e-40`), written exactly with no
/// zero that says nothing (`0.00000001`, `-12.5`, `0`), to be bound as the id column's exact
/// number: the value is the same, and its scale (which a MySQL DECIMAL is bound with,
/// [`decimal_scale`]) is the fewest digits that hold it. Written plain, or where `room`
/// allows and that is shorter, as its digits and an exponent (`1e131071`, `-15e-20`): so the
/// bound text is never much longer than `text` (its digits, a sign and an exponent). `None`
/// for any other text, and for a number that needs more digits than `room` (`1e-40`: 40
/// decimals, more than any DECIMAL holds): no row has that id. Binding either went to the
/// server, whose error failed the whole refetch (rdbms59; review48 F2 bound `1.00E-8` as
/// `0.00`).
pub(crate) fn exact_decimal(text: &str, room: DecimalRoom) -> Option<String> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (text, 0),
    };
    if !is_plain_decimal(mantissa) {
        return None;
    }
    let (negative, m) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, fraction) = m.split_once('.').unwrap_or((m, ""));
    let all = format!("{int}{fraction}");
    let digits = all.trim_start_matches('0');
    // Where the point goes among `digits`, counted from their left.
    let point = i64::try_from(int.len())
        .ok()?
        .checked_add(exponent)?
        .checked_sub(i64::try_from(all.len() - digits.len()).ok()?)?;
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return Some("0".to_owned());
    }
    let len = i64::try_from(digits.len()).ok()?;
    // `point` may be near `i64::MIN` (`1e-9223372036854775808`): checked, not wrapped into a
    // scale of 0 and a `repeat` of `usize::MAX` (review58 M1).
    let scale = usize::try_from(len.checked_sub(point)?.max(0)).ok()?;
    let integer = usize::try_from(point.max(0)).ok()?;
    if scale > room.scale || integer.checked_add(scale)? > room.digits {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    // The plain text's length, counted before it is written: its digits, the zeros a side of
    // them, a point and a sign.
    let plain_len = sign.len()
        + if point <= 0 {
            2 + scale
        } else {
            integer.max(digits.len()) + usize::from(integer < digits.len())
        };
    if room.exponent {
        // `point - len` is within `room`'s digits, so no overflow.
        let short = match point - len {
            0 => format!("{sign}{digits}"),
            e => format!("{sign}{digits}e{e}"),
        };
        if short.len() < plain_len {
            return Some(short);
        }
    }
    // Within `room`, so the zeros written out are bounded too.
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(scale.checked_sub(digits.len())?))
    } else if integer >= digits.len() {
        format!("{digits}{}", "0".repeat(integer - digits.len()))
    } else {
        let (a, b) = digits.split_at(integer);
        format!("{a}.{b}")
    };
    Some(format!("{sign}{plain}"))
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

    /// The placeholder of the `n`th parameter (from 1), `bound`, cast to the id column's type
    /// where the bound text must become a UUID or an exact number. MySQL's exact number is
    /// `DECIMAL(65, d)` with `d` the fraction digits of the key's text ([`decimal_scale`]).
    pub(crate) fn placeholder(self, n: usize, kind: Option<KeyKind>, bound: &Param) -> String {
        let p = match self {
            Self::Postgres => format!("${n}"),
            Self::MySql => "?".to_owned(),
        };
        match (self, kind) {
            (Self::Postgres, Some(KeyKind::Uuid)) => format!("CAST({p} AS uuid)"),
            (Self::Postgres, Some(KeyKind::Numeric)) => format!("CAST({p} AS numeric)"),
            (Self::MySql, Some(KeyKind::Numeric)) => {
                let d = match bound {
                    Param::Key(Key::Text(t)) => decimal_scale(t),
                    _ => 0,
                };
                format!("CAST({p} AS DECIMAL(65,{d}))")
            }
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
            Self::MySql(c) => {
                c.execute("SET SESSION TRANSACTION READ ONLY")
                    .await
                    .map_err(crate::mysql::driver::error)?;
                // A load's query of several pages is read as fast as the sink takes its pages
                // (walk's LOAD_PAGES_A_QUERY): the server gives up a write blocked for
                // `net_write_timeout` (60 s by default), so a sink that stalls a minute on
                // one page would cut the connection. 10 minutes at least, as MySQL's own
                // Java driver sets for streamed results; a server or proxy that refuses
                // keeps its own (a cut connection fails the sync, which resumes from its
                // last checkpoint).
                if let Err(e) = c
                    .execute("SET SESSION net_write_timeout = GREATEST(@@SESSION.net_write_timeout, 600)")
                    .await
                {
                    tracing::debug!("net_write_timeout left as the server has it: {e}");
                }
                Ok(())
            }
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
        self.rows(sql, params, described)
            .read(out, usize::MAX)
            .await
            .map(drop)
    }

    /// Runs `sql` with `params`: its rows as the driver streams them, read by the caller a
    /// few at a time ([`RowStream::read`]), so that one query's rows can be handed on in
    /// pages while the rest are still coming. `described` as [`Self::fetch_rows`]'s.
    ///
    /// The connection is busy with the result until it is read to its end or dropped (the
    /// driver then reads the rest away before the connection's next query).
    pub(crate) fn rows<'c>(
        &'c mut self,
        sql: String,
        params: &[Param],
        described: &'c [String],
    ) -> RowStream<'c> {
        let sql = AssertSqlSafe(sql);
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(c) => {
                use crate::postgresql::driver;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = driver::bind(q, p);
                }
                // Nothing of PostgreSQL's is selected as text to be read back otherwise.
                let _ = described;
                RowStream::Postgres {
                    rows: q.fetch(&mut *c),
                    kinds: None,
                }
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                use crate::mysql::driver;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = driver::bind(q, p);
                }
                RowStream::MySql {
                    rows: q.fetch(&mut *c),
                    kinds: None,
                    described,
                }
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

    /// The exact numbers this server's id columns hold ([`DecimalRoom`]) for a refetch of
    /// `keys` (its ids' keys, of any table): PostgreSQL's; on the MySQL protocol MySQL's,
    /// unless a key is a number only MariaDB's holds ([`DecimalRoom::only_mariadb_holds`]),
    /// and then MariaDB's or MySQL's by the server's `VERSION()`
    /// ([`DecimalRoom::of_mysql_answer`]; one query, the refetch's only). The rooms differ only
    /// for such keys, so the question is asked only for them (review65 L1: it was a round
    /// trip on every refetch, where the engine's retries pass ids the server wrote, which on
    /// MySQL 8 never need it). A server or proxy that refuses it gets MySQL's, the smaller:
    /// those keys are absent, the refetch goes on.
    #[cfg_attr(not(feature = "mysql"), allow(unused_variables))]
    pub(crate) async fn decimal_room<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> DecimalRoom {
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres(_) => DecimalRoom::POSTGRES,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => {
                DecimalRoom::of_mysql_keys(keys, || self.texts("SELECT VERSION()".to_owned(), &[]))
                    .await
            }
        }
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

/// The rows of one query as the driver streams them ([`Connection::rows`]): the server sends
/// them ahead into the socket while the caller reads them a page at a time.
pub(crate) enum RowStream<'c> {
    #[cfg(feature = "postgresql")]
    Postgres {
        rows: BoxStream<'c, std::result::Result<sqlx::postgres::PgRow, sqlx::Error>>,
        /// How each column is decoded, chosen from the first row: every row of the result
        /// has its columns.
        kinds: Option<Vec<crate::postgresql::driver::Kind>>,
    },
    #[cfg(feature = "mysql")]
    MySql {
        rows: BoxStream<'c, std::result::Result<sqlx::mysql::MySqlRow, sqlx::Error>>,
        /// As PostgreSQL's.
        kinds: Option<Vec<crate::mysql::driver::Kind>>,
        described: &'c [String],
    },
}

impl RowStream<'_> {
    /// Appends up to `most` more rows to `out`, each decoded into its buffers as it comes,
    /// and returns how many: fewer than `most` when the result has ended. Reads nothing past
    /// the `most`th row, so the caller can hand `out` on before the next rows are read.
    ///
    /// # Errors
    /// The server's or the connection's, when it comes: the rows read before it stay in
    /// `out`.
    pub(crate) async fn read(&mut self, out: &mut Rows, most: usize) -> Result<usize> {
        let mut n = 0;
        match self {
            #[cfg(feature = "postgresql")]
            Self::Postgres { rows, kinds } => {
                use crate::postgresql::driver;
                while n < most {
                    let Some(row) = rows.try_next().await.map_err(driver::error)? else {
                        break;
                    };
                    let kinds = kinds.get_or_insert_with(|| driver::kinds(&row));
                    driver::decode(&row, kinds, out);
                    n += 1;
                }
            }
            #[cfg(feature = "mysql")]
            Self::MySql {
                rows,
                kinds,
                described,
            } => {
                use crate::mysql::driver;
                while n < most {
                    let Some(row) = rows.try_next().await.map_err(driver::error)? else {
                        break;
                    };
                    let kinds = kinds.get_or_insert_with(|| driver::kinds(&row, described));
                    driver::decode(&row, kinds, out);
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Reads the result to its end, where the caller's `LIMIT` says no row is left, so that
    /// the server's statement ends now (and a server error there is not left for the next
    /// query), not at the connection's next query.
    ///
    /// # Errors
    /// The server's or the connection's; a row past the end the caller expected (the server
    /// did not honour the `LIMIT`) is an error, not read on silently.
    pub(crate) async fn end(&mut self) -> Result<()> {
        let mut past = Rows::new(Zone::utc());
        match self.read(&mut past, 1).await? {
            0 => Ok(()),
            _ => Err(Error::new(
                ErrorKind::InvalidData,
                "the server sent more rows than the query's LIMIT",
            )),
        }
    }
}

fn columns<C: sqlx::Column>(cols: &[C]) -> Vec<Column> {
    cols.iter()
        .map(|c| {
            let type_name = c.type_info().name().to_owned();
            Column {
                name: c.name().to_owned(),
                key_type: mysql_key_type(&type_name, &format!("{:?}", c.type_info())),
                type_name,
            }
        })
        .collect()
}

#[cfg(test)]
mod key_type_tests {
    use super::{decimal_scale, mysql_bin_text, mysql_key_type};

    /// sqlx 0.9.1's `Debug` of a `MySqlTypeInfo`.
    fn debug(ty: &str, flags: &str, collation: u16) -> String {
        format!(
            "MySqlTypeInfo {{ type: {ty}, flags: ColumnFlags({flags}), collation: Collation({collation}), max_size: Some(160) }}"
        )
    }

    #[test]
    fn bin_collated_text_is_told_from_binary_by_its_collation() {
        let bin = |c| debug("VarString", "BINARY", c);
        assert_eq!(mysql_key_type("VARBINARY", &bin(46)), Some("VARCHAR"));
        assert_eq!(mysql_key_type("BINARY", &bin(65)), Some("CHAR"));
        assert_eq!(mysql_key_type("VARBINARY", &bin(63)), None);
        assert_eq!(mysql_key_type("VARCHAR", &bin(46)), None);
        assert_eq!(mysql_key_type("VARBINARY", "PgTypeInfo(Text)"), None);
        // review43 F5: TEXT in a `_bin` collation is named BLOB.
        let blob = |c| debug("Blob", "BINARY | NO_DEFAULT_VALUE", c);
        assert_eq!(mysql_key_type("BLOB", &blob(46)), Some("TEXT"));
        assert_eq!(mysql_key_type("LONGBLOB", &blob(46)), Some("LONGTEXT"));
        assert_eq!(mysql_key_type("BLOB", &blob(63)), None);
    }

    /// review43 F4, review46 S1/S2: an ENUM or SET sorts by its index, whatever sqlx names it.
    #[test]
    fn enum_and_set_are_named_by_their_flags() {
        let cases = [
            ("BINARY", "BINARY | ENUM", 46, "ENUM"),
            ("BINARY", "SET | BINARY", 46, "SET"),
            ("ENUM", "ENUM", 45, "ENUM"),
            // A SET in a normal collation: sqlx names it CHAR.
            ("CHAR", "SET", 255, "SET"),
            (
                "CHAR",
                "NOT_NULL | PRIMARY_KEY | SET | NO_DEFAULT_VALUE",
                255,
                "SET",
            ),
        ];
        for (name, flags, collation, want) in cases {
            let d = debug("String", flags, collation);
            assert_eq!(mysql_key_type(name, &d), Some(want), "{d}");
        }
        let plain = debug("String", "NOT_NULL | PRIMARY_KEY", 255);
        assert_eq!(mysql_key_type("CHAR", &plain), None);
    }

    /// review48 F4: the `Debug` text the detection parses, as sqlx itself writes it (not a
    /// copy of it, as `debug` above is), without a server: an ENUM's flags, and a binary
    /// type's collation, 63.
    #[cfg(feature = "mysql")]
    #[test]
    fn sqlx_debug_text_is_parsed() {
        use sqlx::{MySql, TypeInfo as _};
        let e = sqlx::mysql::MySqlTypeInfo::__enum();
        let d = format!("{e:?}");
        assert_eq!(mysql_key_type(e.name(), &d), Some("ENUM"), "{d}");
        let bytes = <[u8] as sqlx::Type<MySql>>::type_info();
        let d = format!("{bytes:?}");
        assert!(d.contains("collation: Collation(63)"), "{d}");
        assert_eq!(mysql_key_type(bytes.name(), &d), None, "{d}");
        // The same type in a text collation is its text type: 63 read as the collation.
        let text = d.replace("Collation(63)", "Collation(46)");
        assert_eq!(mysql_bin_text(bytes.name(), &text), Some("TEXT"), "{text}");
        assert_eq!(mysql_bin_text(bytes.name(), &d), None);
    }

    /// review48 F2: only a plain decimal's scale is counted; any other text gets the widest.
    #[test]
    fn decimal_scale_counts_only_plain_decimals() {
        assert_eq!(decimal_scale("12"), 0);
        assert_eq!(decimal_scale("-12.50"), 2);
        assert_eq!(decimal_scale("0005.000"), 3);
        assert_eq!(decimal_scale("1.00E-8"), 38);
        assert_eq!(decimal_scale("abc"), 38);
    }
}
