//! [`RdbmsConfig`]: RAGFlow's `mysql` / `postgresql` config (host, port, database,
//! `credentials.username` / `password`, `query`, `content_columns`, `metadata_columns`,
//! `id_column`, `timestamp_column`), plus `tables`, `title_column`, TLS and page size.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::{IgnoredField, StringList};
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Rows read per keyset page: the unit of one query, one checkpoint and one batch.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Seconds allowed to open a connection (RAGFlow's Go port: `connect_timeout`, 30).
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 30;
/// Seconds each incremental window reaches back before the previous one's end: a row can be
/// committed after a window closed with a `timestamp_column` value inside it (PostgreSQL's
/// `now()` is its transaction's start; an application's clock behind the connector's).
pub const DEFAULT_OVERLAP_SECS: u32 = 300;

/// Who connects (RAGFlow's `credentials`).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RdbmsCredentials {
    /// The database user (RAGFlow's `credentials.username`; `user` is read too).
    #[schemars(extend("x-aliases" = ["user"]), example = &"reader")]
    pub username: String,
    /// The user's password (empty for `trust` or socket authentication). A read-only user is
    /// enough: the connector only runs `SELECT`s.
    #[serde(default = "no_password")]
    #[schemars(example = &"s3cr3t")]
    pub password: Secret,
}

impl fmt::Debug for RdbmsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdbmsCredentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Whether and how the connection is encrypted: libpq's `sslmode` names, for MySQL too
/// (MySQL's `ssl-mode` `VERIFY_IDENTITY` is `verify-full` here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by a trusted authority (`sslrootcert` or the system's).
    VerifyCa,
    /// As `verify-ca`, and the certificate names `host`.
    VerifyFull,
}

/// The configuration of the `postgresql` and `mysql` sources (RAGFlow's field names).
///
/// ```
/// use connector_misc::rdbms::RdbmsConfig;
///
/// // RAGFlow's form: a query, comma lists of columns, the credentials nested.
/// let config: RdbmsConfig = connector_core::config::from_json(serde_json::json!({
///     "host": "db.internal", "port": 5432, "database": "shop",
///     "query": "SELECT * FROM products WHERE status = 'active'",
///     "content_columns": "name,description", "metadata_columns": "category,price",
///     "id_column": "id", "timestamp_column": "updated_at",
///     "credentials": {"username": "reader", "password": "s3cr3t"},
/// }))?;
/// assert_eq!(config.content_columns.as_slice(), ["name", "description"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RdbmsConfig {
    /// The server's host name or address.
    #[serde(default = "default_host")]
    #[schemars(example = &"db.internal.example.com")]
    pub host: String,
    /// The server's port (default 5432 for PostgreSQL, 3306 for MySQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), example = 5432)]
    pub port: Option<u16>,
    /// The database to read.
    #[schemars(example = &"shop")]
    pub database: String,
    /// The user and password.
    pub credentials: RdbmsCredentials,
    /// A `SELECT` whose rows become documents (a Markdown ```` ```sql ```` fence and a
    /// trailing `;` are dropped). It is run as a subquery (`SELECT … FROM (query) AS src
    /// WHERE … ORDER BY … LIMIT n`), so it must name each column once. Without
    /// `id_column`, its rows are named by a hash of their values (see `id_column`). Empty:
    /// the rows of `tables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"SELECT id, name, description, updated_at FROM products WHERE status = 'active'")]
    pub query: Option<String>,
    /// Tables to read when there is no `query` (`name`, or `schema.name` on PostgreSQL),
    /// as a list or a comma list. Empty with no `query`: every table of the database
    /// (PostgreSQL: of the current schema, `public` by default), as RAGFlow reads them. Each
    /// table is a partition.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    #[schemars(example = &"products, public.articles")]
    pub tables: StringList,
    /// Columns whose values make up the document's text, in this order (a list or a comma
    /// list). Empty: every column but `id_column` and `timestamp_column` (RAGFlow's rule).
    #[serde(default)]
    #[schemars(example = &"title,description,content")]
    pub content_columns: StringList,
    /// Columns copied into the document's metadata, typed (numbers stay numbers, times are
    /// RFC 3339), NULLs left out.
    #[serde(default)]
    #[schemars(example = &"category,status")]
    pub metadata_columns: StringList,
    /// A unique, non-NULL column (integer, text, UUID or numeric) naming each row: the
    /// document id and the keyset order. A one-column MySQL ENUM or SET is refused (the
    /// server orders it by its index, not its text): a SET in a normal collation was taken
    /// before issue 24, so such a table now fails (select it `CAST(… AS CHAR)` in a
    /// `query`). For tables, the table's primary key: a key of one column is that column; a
    /// key of several is the JSON array of their values in the key's order (`[7, "eu"]`,
    /// computed by the server, which also orders the walk: each page sorts the table's rows
    /// by it, so name a unique indexed column for a large table); a table without one is
    /// refused naming this field. A `query` without it is read as RAGFlow reads it: each
    /// row's id is an MD5 of its values, computed by the server (PostgreSQL: the row's text;
    /// MySQL: a JSON array of its values, or of their bytes in hex after `"hex"` when a text
    /// is not valid in its character set), which also orders the walk, so rows sharing a
    /// `timestamp_column` value are neither lost nor repeated. An edited row is then a new
    /// document and its old one goes at the next prune (each run logs a warning saying so),
    /// and each page sorts the query's rows by that hash: name a unique column to keep ids
    /// stable and pages cheap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"id")]
    pub id_column: Option<String>,
    /// A date/time column the application moves on every change (`updated_at`): the
    /// document's `updated_at` and what incremental runs filter on. Without it, every run
    /// reads every row (unchanged ones cost no delivery: their fingerprints match). Rows
    /// whose value is NULL fall in no window: only full runs read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"updated_at")]
    pub timestamp_column: Option<String>,
    /// The time zone the application writes zone-less times in (PostgreSQL `timestamp`,
    /// MySQL `DATETIME`, and `date`): an IANA name (`America/New_York`, with its daylight
    /// saving rules) or an offset (`+02:00`, `UTC`). Default UTC. Set it when `NOW()` fills
    /// a `DATETIME` on a server whose time zone is not UTC: read as UTC, such a row west of
    /// Greenwich would carry a time before the window it was written in, and no incremental
    /// run would find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Europe/Berlin")]
    pub timezone: Option<String>,
    /// A column whose value is the document's title. Default: the table and the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"name")]
    pub title_column: Option<String>,
    /// TLS: `disable`, `prefer` (default, as psycopg2 and mysql-connector), `require`,
    /// `verify-ca`, `verify-full`.
    #[serde(default)]
    pub sslmode: SslMode,
    /// A PEM file of the authorities that sign the server's certificate (for `verify-ca` /
    /// `verify-full`; default: the system's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/etc/ssl/certs/db-ca.pem")]
    pub sslrootcert: Option<String>,
    /// Seconds allowed to open a connection (also `check()`'s bound).
    #[serde(default = "default_connect_timeout")]
    #[schemars(range(min = 1, max = 600))]
    pub connect_timeout: u32,
    /// Seconds each incremental window starts before the previous window's end (default
    /// 300, at most a day). A row committed after a window closed, carrying a
    /// `timestamp_column` value inside that window, is found by the next one: a transaction
    /// that set `updated_at = now()` (PostgreSQL's `now()` is the transaction's start) and
    /// committed later, or an application whose clock is behind this host's. Rows read
    /// again are unchanged and cost no delivery.
    #[serde(default = "default_overlap")]
    #[schemars(range(min = 0, max = 86400), example = 300)]
    pub overlap_seconds: u32,
    /// Rows per keyset page (at most 100000): one batch, one checkpoint, and the most rows
    /// a page holds in memory. A window's page is one query; a full run asks one query for up
    /// to 16 pages (at most 16,000 rows, or one page when it is larger) and hands them on one
    /// by one as they arrive. Once the sink keeps a page waiting a second, the rest of the
    /// table is read one page a query, so that a statement is not held open for a slow sink
    /// (`statement_timeout`, `max_execution_time`, a read replica's recovery conflicts).
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 100_000))]
    pub page_size: NonZeroU32,
}

fn no_password() -> Secret {
    Secret::new("")
}

fn default_host() -> String {
    "localhost".to_owned()
}

fn default_connect_timeout() -> u32 {
    DEFAULT_CONNECT_TIMEOUT_SECS
}

fn default_overlap() -> u32 {
    DEFAULT_OVERLAP_SECS
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

impl RdbmsConfig {
    /// Every table of `database` on `host`, read as `username`; every other setting at its
    /// default.
    pub fn new(
        host: impl Into<String>,
        database: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self {
            host: host.into(),
            port: None,
            database: database.into(),
            credentials: RdbmsCredentials {
                username: username.into(),
                password: password.into(),
            },
            query: None,
            tables: StringList::default(),
            content_columns: StringList::default(),
            metadata_columns: StringList::default(),
            id_column: None,
            timestamp_column: None,
            title_column: None,
            timezone: None,
            sslmode: SslMode::default(),
            sslrootcert: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT_SECS,
            overlap_seconds: DEFAULT_OVERLAP_SECS,
            page_size: default_page_size(),
        }
    }

    /// The zone of zone-less times (`timezone`, UTC by default).
    pub fn zone(&self) -> connector_core::window::Zone {
        self.timezone
            .as_deref()
            .and_then(connector_core::window::Zone::named)
            .unwrap_or_else(connector_core::window::Zone::utc)
    }

    /// The query without a Markdown fence, a fence's language line or a trailing `;`
    /// (`None` when empty).
    pub fn clean_query(&self) -> Option<String> {
        let mut q = self.query.as_deref()?.trim();
        if let Some(rest) = q.strip_prefix("```") {
            q = rest.strip_suffix("```").unwrap_or(rest).trim();
            if let Some((head, tail)) = q.split_once('\n')
                && matches!(
                    head.trim().to_ascii_lowercase().as_str(),
                    "" | "sql" | "mysql" | "postgresql" | "postgres" | "psql" | "pgsql"
                )
            {
                q = tail.trim();
            }
        }
        let q = q.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
        (!q.is_empty()).then(|| q.to_owned())
    }
}

impl fmt::Debug for RdbmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdbmsConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("credentials", &self.credentials)
            .field("query", &self.query)
            .field("tables", &self.tables)
            .field("content_columns", &self.content_columns)
            .field("metadata_columns", &self.metadata_columns)
            .field("id_column", &self.id_column)
            .field("timestamp_column", &self.timestamp_column)
            .field("title_column", &self.title_column)
            .field("timezone", &self.timezone)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("connect_timeout", &self.connect_timeout)
            .field("overlap_seconds", &self.overlap_seconds)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// An identifier we will quote: not empty, at most 64 bytes (MySQL's limit; PostgreSQL's is
/// 63), no NUL or other control character.
pub(crate) fn identifier_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.len() > 64 {
        Some("is longer than 64 bytes")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else {
        None
    }
}

impl ConnectorConfig for RdbmsConfig {
    const IGNORED: &'static [IgnoredField] = &[
        IgnoredField::new(
            "sync_cursor_value",
            "RAGFlow writes its cursor into the config; here the cursor is the sync's \
             checkpoint and window, kept by the state store",
        ),
        IgnoredField::new(
            "sync_cursor_id",
            "RAGFlow writes its cursor into the config; here the cursor is the sync's \
             checkpoint and window, kept by the state store",
        ),
    ];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.host.trim().is_empty() {
            problems.push(FieldError::new("host", "must not be empty"));
        }
        if self.database.trim().is_empty() {
            problems.push(FieldError::new("database", "must not be empty"));
        }
        if self.credentials.username.trim().is_empty() {
            problems.push(FieldError::new("credentials.username", "must not be empty"));
        }
        if self.port == Some(0) {
            problems.push(FieldError::new("port", "must be 1 to 65535"));
        }
        let query = self.clean_query();
        if query.is_some() && !self.tables.is_empty() {
            problems.push(FieldError::new(
                "tables",
                "give `query` or `tables`, not both",
            ));
        }
        for (i, t) in self.tables.iter().enumerate() {
            let parts: Vec<&str> = t.split('.').collect();
            if parts.len() > 2 {
                problems.push(FieldError::new(
                    format!("tables[{i}]"),
                    "is `name` or `schema.name`",
                ));
            }
            for p in parts {
                if let Some(why) = identifier_problem(p) {
                    problems.push(FieldError::new(format!("tables[{i}]"), why));
                }
            }
        }
        for (field, value) in [
            ("id_column", &self.id_column),
            ("timestamp_column", &self.timestamp_column),
            ("title_column", &self.title_column),
        ] {
            if let Some(v) = value
                && let Some(why) = identifier_problem(v)
            {
                problems.push(FieldError::new(field, why));
            }
        }
        for (field, list) in [
            ("content_columns", &self.content_columns),
            ("metadata_columns", &self.metadata_columns),
        ] {
            for (i, c) in list.iter().enumerate() {
                if let Some(why) = identifier_problem(c) {
                    problems.push(FieldError::new(format!("{field}[{i}]"), why));
                }
            }
        }
        if let Some(tz) = &self.timezone
            && connector_core::window::Zone::named(tz).is_none()
        {
            problems.push(FieldError::new(
                "timezone",
                format!(
                    "`{tz}` is neither an IANA time zone (`Europe/Berlin`) nor an offset (`+02:00`)"
                ),
            ));
        }
        if !(1..=600).contains(&self.connect_timeout) {
            problems.push(FieldError::new("connect_timeout", "must be 1 to 600"));
        }
        if self.overlap_seconds > 86_400 {
            problems.push(FieldError::new("overlap_seconds", "must be at most 86400"));
        }
        if self.page_size.get() > 100_000 {
            problems.push(FieldError::new("page_size", "must be at most 100000"));
        }
        if self.sslrootcert.is_some()
            && !matches!(self.sslmode, SslMode::VerifyCa | SslMode::VerifyFull)
        {
            problems.push(FieldError::new(
                "sslrootcert",
                "is read only with sslmode `verify-ca` or `verify-full`",
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ragflow_form_with_user_alias_and_fenced_query() {
        let c: RdbmsConfig = connector_core::config::from_json(serde_json::json!({
            "host": "db", "port": "5432", "database": "shop",
            "query": "```sql\nSELECT * FROM t;\n```",
            "content_columns": "a, b", "metadata_columns": "",
            "id_column": "id", "timestamp_column": "",
            "sslmode": "VERIFY-FULL",
            "credentials": {"user": "u", "password": "p"},
        }))
        .unwrap();
        assert_eq!(c.clean_query().as_deref(), Some("SELECT * FROM t"));
        assert_eq!(c.credentials.username, "u");
        assert_eq!(c.content_columns.as_slice(), ["a", "b"]);
        assert!(c.metadata_columns.is_empty());
        assert_eq!(c.timestamp_column, None);
        assert_eq!(c.port, Some(5432));
        assert_eq!(c.sslmode, SslMode::VerifyFull);
    }

    #[test]
    fn validate_names_every_problem() {
        let c: RdbmsConfig = serde_json::from_value(serde_json::json!({
            "host": " ", "database": "", "query": "SELECT 1", "tables": ["a.b.c"],
            "content_columns": ["ok", "bad\u{0}"], "page_size": 200000, "overlap_seconds": 90000,
            "connect_timeout": 0, "sslrootcert": "/ca.pem", "timezone": "Mars/Olympus",
            "credentials": {"username": ""}, "id_column": " ",
        }))
        .unwrap();
        let mut paths: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(
            paths,
            [
                "connect_timeout",
                "content_columns[1]",
                "credentials.username",
                "database",
                "host",
                "id_column",
                "overlap_seconds",
                "page_size",
                "sslrootcert",
                "tables",
                "tables[0]",
                "timezone"
            ]
        );
    }
}
