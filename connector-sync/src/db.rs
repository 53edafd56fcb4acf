//! The database: SQLite or PostgreSQL behind one handle, with the schema's migrations.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use connector_core::{Error, ErrorKind, Result};
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The schema's migrations in SQLite's dialect (timestamps and JSON as `TEXT`): version,
/// name, SQL. Add a migration to both lists, in step.
const SQLITE_SCHEMA: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (2, "api", include_str!("../migrations/sqlite/0002_api.sql")),
];
/// The same tables in PostgreSQL's dialect (`TIMESTAMPTZ`, `JSONB`, `BIGSERIAL`).
const POSTGRES_SCHEMA: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "api",
        include_str!("../migrations/postgres/0002_api.sql"),
    ),
];

/// How long a SQLite statement waits for another process's write lock before it fails.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection pool on the sync database: SQLite (a file, the embedded default) or
/// PostgreSQL (many workers on many machines). Cheap to clone.
///
/// Both backends hold the same tables (see the crate docs); every query this crate runs is
/// checked at run time, so no database is needed to build it.
#[derive(Clone)]
pub struct SyncDb {
    pub(crate) pool: Pool,
    location: String,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl std::fmt::Debug for SyncDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The location never holds a password (see `connect`).
        f.debug_struct("SyncDb")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Options of [`SyncDb::connect_with`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections in a PostgreSQL pool. SQLite always uses one: one writer, so a write never
    /// waits on another of this process's connections.
    pub max_connections: u32,
    /// Apply the schema's migrations when connecting (on by default).
    pub migrate: bool,
    /// How long to wait for a PostgreSQL connection (the server may be starting) before
    /// failing; 10 s by default. (SQLite's one connection is waited for as long as sqlx's
    /// default: waiting behind this process's own writes is no failure.)
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            migrate: true,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl SyncDb {
    /// Connects to `url` and brings its schema up to date.
    ///
    /// - `sqlite:PATH` (or `sqlite://PATH`): the file is created if missing and opened in WAL
    ///   mode with `synchronous=FULL` (a commit is durable when it returns) and a 30 s busy
    ///   timeout for writes from other processes. One connection: one writer.
    /// - `postgres://…` or `postgresql://…`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a URL of another kind; [`ErrorKind::State`] when the database
    /// cannot be reached, opened or migrated (naming where it is, never its password).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, DbOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: DbOptions) -> Result<Self> {
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("invalid SQLite URL `{url}`: {e}"),
                    )
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let location = format!("SQLite database {}", opts.get_filename().display());
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(|e| state_error(&location, "cannot open", &e))?;
            Self {
                pool: Pool::Sqlite(pool),
                location,
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid PostgreSQL URL: {}", strip_password(&e.to_string())),
                )
            })?;
            let location = format!(
                "PostgreSQL database {}@{}:{}/{}",
                opts.get_username(),
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or("")
            );
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(opts)
                .await
                .map_err(|e| state_error(&location, "cannot connect to", &e))?;
            Self {
                pool: Pool::Postgres(pool),
                location,
            }
        } else {
            return Err(Error::new(
                ErrorKind::Config,
                "a sync database URL starts with `sqlite:` (a file) or `postgres://`",
            ));
        };
        if options.migrate {
            db.migrate().await?;
        }
        Ok(db)
    }

    /// Applies the schema's migrations that are not applied yet (PostgreSQL: under an
    /// advisory lock, so processes starting together migrate once).
    ///
    /// # Errors
    /// [`ErrorKind::State`] when a migration fails or the database holds a newer schema.
    pub async fn migrate(&self) -> Result<()> {
        let result = match &self.pool {
            Pool::Sqlite(pool) => migrator(SQLITE_SCHEMA).run(pool).await,
            Pool::Postgres(pool) => migrator(POSTGRES_SCHEMA).run(pool).await,
        };
        result.map_err(|e| {
            Error::new(
                ErrorKind::State,
                format!("cannot migrate the {}: {e}", self.location),
            )
        })
    }

    /// Whether the database answers: one `SELECT 1`.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        let fail = |e: sqlx::Error| self.error("cannot reach", &e);
        match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await.map_err(fail)?;
            }
            Pool::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await.map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Where the database is, for messages: the SQLite file, or PostgreSQL's
    /// `user@host:port/database` (never a password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Closes the pool, waiting for its connections to finish.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// An [`ErrorKind::State`] error for a failed query.
    pub(crate) fn error(&self, what: &str, e: &sqlx::Error) -> Error {
        state_error(&self.location, what, e)
    }
}

fn migrator(schema: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        schema
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

fn state_error(location: &str, what: &str, e: &sqlx::Error) -> Error {
    Error::new(
        ErrorKind::State,
        format!("{what} the {location}: {}", strip_password(&e.to_string())),
    )
}

/// `scheme://user:password@host` → `scheme://user:***@host` in a message, in case a driver
/// quotes its URL.
fn strip_password(message: &str) -> Cow<'_, str> {
    let Some(scheme_end) = message.find("://") else {
        return Cow::Borrowed(message);
    };
    let rest = &message[scheme_end + 3..];
    let authority_end = rest
        .find(|c: char| c == '/' || c.is_whitespace())
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            let start = scheme_end + 3 + colon + 1;
            let end = scheme_end + 3 + at;
            Cow::Owned(format!("{}***{}", &message[..start], &message[end..]))
        }
        _ => Cow::Borrowed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stripped_from_messages() {
        assert_eq!(
            strip_password("error connecting to postgres://u:hunter2@db:5432/x failed"),
            "error connecting to postgres://u:***@db:5432/x failed"
        );
        assert_eq!(strip_password("no url here"), "no url here");
        assert_eq!(
            strip_password("postgres://u@db:5432/x"),
            "postgres://u@db:5432/x"
        );
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_a_config_error() {
        let err = SyncDb::connect("mysql://x").await.err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::Config));
    }
}
