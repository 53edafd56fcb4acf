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
    (
        3,
        "oauth",
        include_str!("../migrations/sqlite/0003_oauth.sql"),
    ),
    (
        4,
        "engine",
        include_str!("../migrations/sqlite/0004_engine.sql"),
    ),
    (
        5,
        "gone",
        include_str!("../migrations/sqlite/0005_gone.sql"),
    ),
    // Its comment says a row written before it gets its parent at "their next commit": that
    // is the next time the row is listed, changed or not, for a connector that asks for
    // children (the Syncer records the parent of an unchanged document without delivering
    // it); a row never listed again keeps none (the README's "Upgrading and rolling back").
    // The file cannot say so itself: its checksum is pinned.
    (
        6,
        "parent",
        include_str!("../migrations/sqlite/0006_parent.sql"),
    ),
    (
        7,
        "throttle",
        include_str!("../migrations/sqlite/0007_throttle.sql"),
    ),
    (
        8,
        "pace",
        include_str!("../migrations/sqlite/0008_pace.sql"),
    ),
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
    (
        3,
        "oauth",
        include_str!("../migrations/postgres/0003_oauth.sql"),
    ),
    (
        4,
        "engine",
        include_str!("../migrations/postgres/0004_engine.sql"),
    ),
    (
        5,
        "gone",
        include_str!("../migrations/postgres/0005_gone.sql"),
    ),
    (
        6,
        "parent",
        include_str!("../migrations/postgres/0006_parent.sql"),
    ),
    (
        7,
        "throttle",
        include_str!("../migrations/postgres/0007_throttle.sql"),
    ),
    (
        8,
        "pace",
        include_str!("../migrations/postgres/0008_pace.sql"),
    ),
];

/// SHA-384 of migrations/*/0002_api.sql as b42f4f5 shipped them (see
/// `SyncDb::repair_shipped_api_migration`).
const SHIPPED_API_SQLITE: &str = "004c891fca5625f7c917d8ea16be84d195d40af2f3ebd1d72d91c122138b493346f08fe5b1d0867afd2724285e14d6f7";
const SHIPPED_API_POSTGRES: &str = "bb9957703f481159b465a21235a00a2658dd62c48529f81a408a7ff1d7c8535955ba16d72cad7cebc1196ade9d852dd1";

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

impl DbOptions {
    /// Options for a process that runs `jobs` jobs at once: a PostgreSQL pool of 3
    /// connections per job (at any moment a job may hold its heartbeat's, its commit's or
    /// lookup's, and its rate-gate's) plus 4 for the worker loop, the scheduler and the API,
    /// so that no heartbeat waits out the acquire timeout behind the others and loses its
    /// lease.
    pub fn for_jobs(jobs: usize) -> Self {
        let per_jobs = u32::try_from(jobs.max(1)).unwrap_or(u32::MAX / 4);
        Self {
            max_connections: per_jobs.saturating_mul(3).saturating_add(4),
            ..Self::default()
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
        self.repair_shipped_api_migration().await?;
        let result = match &self.pool {
            Pool::Sqlite(pool) => migrator(SQLITE_SCHEMA).run(pool).await,
            Pool::Postgres(pool) => migrator(POSTGRES_SCHEMA).run(pool).await,
        };
        result.map_err(|e| db_error(&self.location, "cannot migrate", &e.to_string()))
    }

    /// A database migrated by b42f4f5 recorded migration 2 (`api`) before 0b24196 appended
    /// the `connector_name` index to it, so sqlx would refuse it (`VersionMismatch(2)`). Such a
    /// database gets the index and the current checksum: the one edit there ever was is undone
    /// in place (never again: `committed_migrations_are_never_edited` pins them).
    async fn repair_shipped_api_migration(&self) -> Result<()> {
        let (shipped, schema) = match &self.pool {
            Pool::Sqlite(_) => (SHIPPED_API_SQLITE, SQLITE_SCHEMA),
            Pool::Postgres(_) => (SHIPPED_API_POSTGRES, POSTGRES_SCHEMA),
        };
        let Some(current) = migrator(schema)
            .iter()
            .find(|m| m.version == 2)
            .map(|m| m.checksum.to_vec())
        else {
            return Ok(());
        };
        let fail = |e: sqlx::Error| self.error("cannot repair migration 2 of", &e);
        on_db!(self, pool => {
            // No table yet (a new database): nothing to repair.
            let recorded: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT checksum FROM _sqlx_migrations WHERE version = 2")
                    .fetch_optional(pool)
                    .await
                    .unwrap_or(None);
            if recorded.is_some_and(|(c,)| hex(&c) == shipped) {
                sqlx::query("CREATE INDEX IF NOT EXISTS connector_name ON connector (name, id)")
                    .execute(pool)
                    .await
                    .map_err(fail)?;
                sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
                    .bind(current)
                    .execute(pool)
                    .await
                    .map_err(fail)?;
                tracing::info!(db = %self.location, "migration 2 as b42f4f5 shipped it: added its index and recorded its checksum");
            }
        });
        Ok(())
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

    /// An error's text, already made (core's run log keeps only `to_string()`, a connector
    /// may have copied a database error's text into its own, a row stored before fix68
    /// carries the old wording), without this database's location and what follows it (see
    /// [`hide_location`]): what others read (review68 L5, review70 L1, L4).
    pub(crate) fn hide_location(&self, text: &str) -> String {
        hide_location(&self.location, text)
    }

    /// `e`'s text for those who may not know where the sync database is: a job's stored
    /// error, its failed event, the OAuth callback page. The database failure `e` wraps is
    /// cut at its location ([`without_db_detail`]), and so is any copy of this database's
    /// location a connector made in its own message, where the mark was lost (review70 L1).
    pub(crate) fn shown(&self, e: &Error) -> String {
        self.hide_location(&without_db_detail(e))
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
    db_error(location, what, &e.to_string())
}

/// An [`ErrorKind::State`] error saying `what` failed on the sync database, whose cause (a
/// [`DbDetail`]) says where the database is and what its driver said (`detail`, without a
/// password): the whole text is for the log, [`without_db_detail`] for a job's stored error,
/// its failed event and the API (review61 L9, review68 L5).
pub(crate) fn db_error(location: &str, what: &str, detail: &str) -> Error {
    Error::new(ErrorKind::State, format!("{what} the sync database")).with_cause(DbDetail {
        location: location.to_owned(),
        detail: strip_password(detail).into_owned(),
    })
}

/// Where the sync database is and what its driver said about a failure: the cause of the
/// errors [`SyncDb`] makes, and the mark of a database failure among `State` errors. It is
/// shown as `{location}: {detail}`, and it has no cause of its own, so in an error's text it
/// is last: cutting the text at `: {location}` ([`hide_location`]) leaves everything else
/// (one rule for an error and for a text made from one, review70 L6).
#[derive(Debug)]
pub(crate) struct DbDetail {
    location: String,
    detail: String,
}

impl std::fmt::Display for DbDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.detail)
    }
}

impl std::error::Error for DbDetail {}

/// Whether `e` (or an error it wraps) is a failure of the sync database.
pub(crate) fn is_db_failure(e: &Error) -> bool {
    db_detail(e).is_some()
}

fn db_detail(e: &Error) -> Option<&DbDetail> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(detail) = cause.downcast_ref::<DbDetail>() {
            return Some(detail);
        }
        next = cause.source();
    }
    None
}

/// `text` without the sync database's `location` and what follows it, which says where the
/// database is and what its driver said: cut at `: {location}` (how [`DbDetail`] is shown),
/// or at ` the {location}` (how versions before fix68 wrote it: "cannot commit the state in
/// the SQLite database /srv/sync.db: database is locked"), whichever comes first, and
/// [`HIDDEN`] put in its place. Anything a connector wrote after a copy of the location is cut
/// too (a trailing hint is lost, never the location kept). A text without the location is
/// returned as it is.
fn hide_location(location: &str, text: &str) -> String {
    let now = text.find(&format!(": {location}"));
    let old = text.find(&format!(" the {location}"));
    match (now, old) {
        (Some(at), old) if old.is_none_or(|old| at <= old) => {
            format!("{}{HIDDEN}", &text[..at])
        }
        (_, Some(at)) => format!("{} the sync database{HIDDEN}", &text[..at]),
        _ => text.to_owned(),
    }
}

/// What stands for a database failure's detail in a text others read.
const HIDDEN: &str = "; the server's log has the details";

/// `e`'s text for those who may not know where the sync database is (any API key holder, a
/// job's event webhook): a database failure's location and driver text are left out (the
/// log has them); any other error's text is whole.
pub(crate) fn without_db_detail(e: &Error) -> String {
    let text = e.to_string();
    let Some(detail) = db_detail(e) else {
        return text;
    };
    let cut = hide_location(&detail.location, &text);
    if cut != text {
        return cut;
    }
    // A live secret in the location was redacted out of the text: cut at what it became.
    let redacted = connector_core::secret::redact(&detail.location);
    let cut = hide_location(&redacted, &text);
    if cut != text {
        cut
    } else {
        format!("{}{HIDDEN}", e.message())
    }
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

    /// A database failure's text for others leaves out where the database is and what its
    /// driver said; the log's text has both (review68 L5).
    #[test]
    fn a_database_failure_shown_to_others_has_no_location() {
        let e = db_error(
            "PostgreSQL database app@db.internal:5432/sync",
            "cannot commit the state in",
            "error communicating with database: connection refused",
        );
        assert!(is_db_failure(&e));
        let whole = e.to_string();
        assert!(whole.contains("app@db.internal:5432/sync"), "{whole}");
        assert!(whole.contains("connection refused"), "{whole}");
        let shown = without_db_detail(&e);
        assert_eq!(
            shown,
            "cannot commit the state in the sync database; the server's log has the details"
        );
        // Wrapped by another error (core's run, a rate limit's note), still left out.
        let wrapped = Error::new(ErrorKind::Timeout, "the run stopped").with_cause(e);
        assert!(is_db_failure(&wrapped));
        let shown = without_db_detail(&wrapped);
        assert!(!shown.contains("db.internal"), "{shown}");
        assert!(shown.contains("the run stopped"), "{shown}");
        // A run log's text, made from the error: cut at the location.
        assert_eq!(
            hide_location(
                "PostgreSQL database app@db.internal:5432/sync",
                &wrapped.to_string()
            ),
            "the run stopped: cannot commit the state in the sync database; the server's log \
             has the details"
        );
        // Another State error keeps its words.
        let other = Error::new(ErrorKind::State, "the flow binds to no connector");
        assert!(!is_db_failure(&other));
        assert_eq!(without_db_detail(&other), other.to_string());
    }

    /// The texts that carry the location without the mark (review70 L1, L4): a connector's
    /// copy of a database error's text in its own message, and a row stored before fix68 in
    /// the old wording. Both are cut at the location, the connector's words before it kept.
    #[test]
    fn a_copied_or_old_text_is_cut_at_the_location() {
        let at = "PostgreSQL database app@db.internal:5432/sync";
        let e = db_error(at, "cannot take a rate-limit slot in", "pool timed out");
        let copied = Error::new(
            ErrorKind::State,
            format!("its comments cannot be listed: {e}"),
        );
        assert!(!is_db_failure(&copied), "the mark is lost in a copy");
        assert_eq!(
            hide_location(at, &without_db_detail(&copied)),
            "its comments cannot be listed: cannot take a rate-limit slot in the sync \
             database; the server's log has the details"
        );
        assert_eq!(
            hide_location(
                at,
                "cannot commit the state in the PostgreSQL database app@db.internal:5432/sync: \
                 database is locked"
            ),
            "cannot commit the state in the sync database; the server's log has the details"
        );
        assert_eq!(hide_location(at, "no location here"), "no location here");
    }

    /// A live secret in the driver's text (or in the location) is redacted from the error's
    /// text, so the detail no longer matches; the text is still cut at the location, and the
    /// messages wrapped around the failure are kept (review70 L5.5, L6: the fallback kept only
    /// the outermost message).
    #[test]
    fn a_redacted_detail_is_still_cut_at_the_location() {
        let secret = connector_core::Secret::new("tok-abcdef123456");
        let e = db_error("SQLite database /x", "cannot y", "near tok-abcdef123456: z");
        let wrapped = Error::new(ErrorKind::Timeout, "the run stopped").with_cause(e);
        assert_eq!(
            without_db_detail(&wrapped),
            "the run stopped: cannot y the sync database; the server's log has the details"
        );
        let e = db_error("SQLite database /srv/tok-abcdef123456", "cannot y", "z");
        let wrapped = Error::new(ErrorKind::Timeout, "the run stopped").with_cause(e);
        let shown = without_db_detail(&wrapped);
        assert_eq!(
            shown,
            "the run stopped: cannot y the sync database; the server's log has the details"
        );
        drop(secret);
    }

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

    /// The SHA-384 (what sqlx records in `_sqlx_migrations.checksum`) of every committed
    /// migration, per dialect. A database migrated once refuses to open when one of them
    /// changes (sqlx's `VersionMismatch`), so a committed migration is never edited: a change
    /// goes in a new migration. A new migration gets its line here when it is committed.
    const PINNED: &[(&str, i64, &str)] = &[
        (
            "sqlite",
            1,
            "2803b18ceb937da07df94047f0c7e45342c0ccd1aec74b3f23828edc86161a9157452f8f09e8b321d02fb8a3865fb4ed",
        ),
        (
            "sqlite",
            2,
            "1b292e3cbf3dbf057c6bb919d7b5283a65a0a71124d816e1883c2dbbda4e96ab88a53f83a60d4ff9c786c89ebdc577d6",
        ),
        (
            "sqlite",
            3,
            "fde8e5f4b9d634ed88e9aeaf85d7ef76a56ba3caf01f1bde6612984d64e974a9979c526aed49b6a5cdd1defa21e4e544",
        ),
        (
            "sqlite",
            4,
            "4a792f557320b65e69697d47b5e39ad6af50a62c94b32dec22fc57b7ad5d760771cf5f6fa9c2aca42881478627ddcf75",
        ),
        (
            "postgres",
            1,
            "20bd0b6807ce59725196b8f401e1e87debf98e86bcb1bd21a860dcfe152e2fa2ea46f372a9641f340fd7afdc253e0570",
        ),
        (
            "postgres",
            2,
            "0c14ab6e7ac3c03f852052fd05fb46e0f0c795f048142b7700ec588a5c112104e5ee63fe71e4b92ddabee7de705c06ce",
        ),
        (
            "postgres",
            3,
            "8c90d26da2330761680dff070e9ae0221994f9335dcc6940c97d0e913719abaf8663f3ce41e348fd74a635ab67aa30e0",
        ),
        (
            "postgres",
            4,
            "fb4b8689181e3e63725350d4da85a18b1da0579f1d7c6767b32f1488cf2939087b4c62940786b354d5f42f065d2b2ccd",
        ),
        (
            "sqlite",
            5,
            "7239680448355a78f96aea4dfdd1ecbf3d07d105a5f58ea6919ef69819223ae28c9f41e376dedf16b4a7d7afeea48d08",
        ),
        (
            "postgres",
            5,
            "e1a6b9445c181cf23ca6a98d7d230412b4dae2d8fdf422ff6dec84be42733698b5d15ef03eb99013161f9fb760f7aecc",
        ),
        (
            "sqlite",
            6,
            "571717a143414f60621f811ad71e4bb7c4999cdc2c6303c2267fc1f8ce8b985f4914bddea37d340ad229c706bf228f90",
        ),
        (
            "postgres",
            6,
            "1a8fa8ac89c512fabbb5934ded2a448709dfae64a6188fd8651593e6412ba5358e6cb10475d523c43d6bf5268aa10949",
        ),
        (
            "sqlite",
            7,
            "8c861331b1522034d32def1d628a6932414a9080a13522b7cce2e7b67d60902b769d030f788340cfac9ed9628221efdc",
        ),
        (
            "postgres",
            7,
            "808cdca4d1409d7bc0c8e5aef19d7271f66eb0d14af2cec0c067bad4ae01555203192febd35c7eb59a94064d14b112e9",
        ),
        (
            "sqlite",
            8,
            "7642c0cd90c376287757b9af06990551c9084a8ad227f91a2635a830ea6ce44d6051b8250164d154ee1f18b2bed2d03d",
        ),
        (
            "postgres",
            8,
            "561167f34d5f99587f707462053837de2de3bcd266245aa730091998624e60e0672a472c505deb3a0ee1c03d6837a77e",
        ),
    ];

    #[test]
    fn committed_migrations_are_never_edited() {
        for (dialect, schema) in [("sqlite", SQLITE_SCHEMA), ("postgres", POSTGRES_SCHEMA)] {
            let migrator = migrator(schema);
            for migration in migrator.iter() {
                let got = hex(&migration.checksum);
                match PINNED
                    .iter()
                    .find(|(d, v, _)| *d == dialect && *v == migration.version)
                {
                    Some((_, _, pinned)) => assert_eq!(
                        &got, pinned,
                        "{dialect} migration {} ({}) was edited after it was committed: \
                         restore it and put the change in a new migration",
                        migration.version, migration.description
                    ),
                    None => panic!(
                        "{dialect} migration {} ({}) has no pinned checksum: once it is \
                         committed, add (\"{dialect}\", {}, \"{got}\") to PINNED",
                        migration.version, migration.description, migration.version
                    ),
                }
            }
        }
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_a_config_error() {
        let err = SyncDb::connect("mysql://x").await.err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::Config));
    }
}
