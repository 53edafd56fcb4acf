//! [`ConnectorStore`]: the connector records (create, read, update, delete), configs validated
//! by the registry and their secrets sealed before they are written.

use std::sync::Arc;

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use chrono::{DateTime, Duration, Utc};
use connector_core::{Error, ErrorKind, Registry, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;

use crate::db::SyncDb;
use crate::handoff::PartitionContexts;
use crate::seal::{Sealer, keep_masked, mask_config, open_config, seal_config, secret_fields};
use crate::store::{SqlStateStore, on_pool};

/// Whether the scheduler runs a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    /// Scheduled by its frequencies, and runnable by hand.
    Active,
    /// Not scheduled; jobs already queued wait.
    Paused,
}

impl ConnectorStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "paused" {
            Self::Paused
        } else {
            Self::Active
        }
    }
}

/// A connector to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewConnector {
    /// A name for people.
    pub name: String,
    /// The registry's source key (`confluence`, `local`, …).
    pub source: String,
    /// The connector's JSON config, as [`Registry::build`] reads it.
    pub config: Value,
    /// Minutes between scheduled syncs; 0 = manual only (as RAGFlow stores it); at most
    /// [`MAX_FREQ_MINUTES`] (a year).
    #[serde(default)]
    pub refresh_freq: u32,
    /// Minutes between scheduled prunes; 0 = manual only; at most [`MAX_FREQ_MINUTES`].
    #[serde(default)]
    pub prune_freq: u32,
    /// Seconds a job attempt may run before it is stopped (a sync resumes from its
    /// checkpoint in the next attempt); 0 = no limit. By default
    /// [`DEFAULT_TIMEOUT_SECS`]: a job never holds its connector's slot for ever.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// The job timeout of a connector created without one: 3 hours (RAGFlow defaults to 1 h,
/// Onyx watches for 3 h without activity). A sync stopped by it resumes from its checkpoint
/// in its next attempt, and an attempt that advanced is not counted against the retry limit,
/// so a sync longer than this still finishes.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3 * 60 * 60;

fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}

impl NewConnector {
    /// A manual connector (no schedule), with the default job timeout
    /// ([`DEFAULT_TIMEOUT_SECS`]).
    pub fn new(name: impl Into<String>, source: impl Into<String>, config: Value) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            config,
            refresh_freq: 0,
            prune_freq: 0,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }
}

/// Changes to a connector; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectorUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new config, replacing the old one whole. A secret given as `"***"` (what
    /// [`ConnectorStore::get`] shows) keeps the stored secret.
    pub config: Option<Value>,
    /// New minutes between syncs (0 = manual, at most [`MAX_FREQ_MINUTES`]); the next sync
    /// time moves with it.
    pub refresh_freq: Option<u32>,
    /// New minutes between prunes (0 = manual, at most [`MAX_FREQ_MINUTES`]); the next prune
    /// time moves with it.
    pub prune_freq: Option<u32>,
    /// New job timeout in seconds (0 = none).
    pub timeout_secs: Option<u64>,
    /// Pause or resume.
    pub status: Option<ConnectorStatus>,
}

/// A stored connector, as [`ConnectorStore::get`] and [`list`](ConnectorStore::list) show it:
/// its config's secrets are shown as `"***"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorRecord {
    /// Its id (32 hex digits, given at creation).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its source key.
    pub source: String,
    /// Its config, secrets shown as `"***"`.
    pub config: Value,
    /// Minutes between syncs; 0 = manual.
    pub refresh_freq: u32,
    /// Minutes between prunes; 0 = manual.
    pub prune_freq: u32,
    /// Job timeout in seconds; 0 = none.
    pub timeout_secs: u64,
    /// Active or paused.
    pub status: ConnectorStatus,
    /// When the scheduler next queues a sync (`None`: manual only).
    pub next_sync_at: Option<DateTime<Utc>>,
    /// When the scheduler next queues a prune (`None`: manual only).
    pub next_prune_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

type Row = (
    String,
    String,
    String,
    Json<Value>,
    i64,
    i64,
    i64,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, name, source, config, refresh_freq, prune_freq, timeout_secs, \
     status, next_sync_at, next_prune_at, created_at, updated_at";

/// The connector records of a sync database.
///
/// Every config is validated by the [`Registry`] (the same checks as
/// [`Registry::build`], without building the connector) before it is saved, and the fields
/// its schema marks `writeOnly` (the credentials) are sealed with the [`Sealer`]: a dump of
/// the database shows no secret. Without a sealer a config that holds a secret is refused
/// with an error saying how to set a key.
///
/// ```
/// use std::sync::Arc;
/// use connector_core::Registry;
/// use connector_sync::{ConnectorStore, NewConnector, Sealer, SyncDb};
///
/// # connector_core::testkit::block_on(async {
/// let mut registry = Registry::new();
/// connector_example_notes::register(&mut registry); // your host registers its families
/// let db = SyncDb::connect("sqlite::memory:").await?;
/// let sealer = Sealer::from_base64(&Sealer::generate_key(), "an example key")?;
/// let store = ConnectorStore::new(db, Arc::new(registry)).with_sealer(sealer);
///
/// let config = serde_json::json!({
///     "base_url": "https://notes.example.com/api/",
///     "credentials": { "token": "s3cr3t-t0ken" },
/// });
/// let mut new = NewConnector::new("team notes", "notes", config);
/// new.refresh_freq = 60; // a sync every hour, the first one due now
/// let created = store.create(new).await?;
/// assert!(created.next_sync_at.is_some());
/// assert_eq!(created.config["credentials"]["token"], "***"); // shown masked
/// assert_eq!(store.config(&created.id).await?["credentials"]["token"], "s3cr3t-t0ken");
/// assert_eq!(store.list().await?.len(), 1);
/// let state = store.state_store(&created.id); // core's StateStore for its syncs
/// # drop(state);
/// assert!(store.delete(&created.id).await?);
/// # Ok::<(), connector_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ConnectorStore {
    db: SyncDb,
    registry: Arc<Registry>,
    sealer: Option<Arc<Sealer>>,
    /// What discoveries in this process handed their partitions' jobs (shared by clones: the
    /// scheduler's and the workers' store are one).
    contexts: Arc<PartitionContexts>,
}

impl std::fmt::Debug for ConnectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorStore")
            .field("db", &self.db)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl ConnectorStore {
    /// The connectors in `db`, with configs validated by `registry`; no sealer (see
    /// [`with_sealer`](Self::with_sealer) and [`from_env`](Self::from_env)).
    pub fn new(db: SyncDb, registry: Arc<Registry>) -> Self {
        Self {
            db,
            registry,
            sealer: None,
            contexts: Arc::default(),
        }
    }

    /// [`new`](Self::new) with the sealer of the environment ([`Sealer::from_env`]), if a
    /// key is set.
    ///
    /// # Errors
    /// As [`Sealer::from_env`].
    pub fn from_env(db: SyncDb, registry: Arc<Registry>) -> Result<Self> {
        let sealer = Sealer::from_env()?.map(Arc::new);
        Ok(Self {
            db,
            registry,
            sealer,
            contexts: Arc::default(),
        })
    }

    /// Seals secrets with `sealer`.
    #[must_use]
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = Some(Arc::new(sealer));
        self
    }

    /// The partition contexts discoveries in this process handed their jobs.
    pub(crate) fn contexts(&self) -> &PartitionContexts {
        &self.contexts
    }

    /// The database.
    pub fn db(&self) -> &SyncDb {
        &self.db
    }

    /// The sealer of secrets, if a key is set.
    pub(crate) fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// The registry configs are validated (and connectors built) with.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The state store of connector `id` (its checkpoint, documents, failures and runs).
    pub fn state_store(&self, id: &str) -> SqlStateStore {
        SqlStateStore::new(self.db.clone(), id)
    }

    /// Validates `config` for `source` and seals its secrets.
    fn prepare(&self, source: &str, mut config: Value, old: Option<&Value>) -> Result<Value> {
        let fields = secret_fields(&self.registry.schema(source)?);
        if let Some(old) = old {
            keep_masked(&mut config, old, &fields, 0);
        }
        // Validate the config as the connector will read it: secrets opened.
        let mut plain = config.clone();
        open_config(&mut plain, self.sealer.as_deref())?;
        self.registry.effective_config(source, plain)?;
        seal_config(&mut config, &fields, self.sealer.as_deref())?;
        Ok(config)
    }

    /// Creates a connector. A scheduled one is due for its first sync at once, and for its
    /// first prune one `prune_freq` later.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source or an invalid config (every problem by
    /// field path), or a secret with no key to seal it; [`ErrorKind::State`] when the
    /// database cannot be written.
    pub async fn create(&self, new: NewConnector) -> Result<ConnectorRecord> {
        if new.name.trim().is_empty() {
            return Err(
                Error::new(ErrorKind::Config, "a connector needs a name").with_field("name")
            );
        }
        check_freqs(Some(new.refresh_freq), Some(new.prune_freq))?;
        let config = self.prepare(&new.source, new.config, None)?;
        let now = Utc::now();
        let mut id_bytes = [0u8; 16];
        OsRng.fill_bytes(&mut id_bytes);
        let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
        let next_sync = (new.refresh_freq > 0).then_some(now);
        let next_prune = next_after(now, new.prune_freq);
        on_pool!(self.db, pool => {
            sqlx::query(
                "INSERT INTO connector (id, name, source, config, refresh_freq, prune_freq, \
                 timeout_secs, status, next_sync_at, next_prune_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)",
            )
            .bind(&id)
            .bind(&new.name)
            .bind(&new.source)
            .bind(Json(&config))
            .bind(i64::from(new.refresh_freq))
            .bind(i64::from(new.prune_freq))
            .bind(i64::try_from(new.timeout_secs).unwrap_or(i64::MAX))
            .bind(next_sync)
            .bind(next_prune)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| self.db.error("cannot create a connector in", &e))?;
        });
        self.get(&id).await?.ok_or_else(|| not_found(&id))
    }

    async fn row(&self, id: &str) -> Result<Option<Row>> {
        on_pool!(self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM connector WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| self.db.error("cannot read a connector from", &e))
        })
    }

    /// The connector `id`, secrets shown as `"***"`.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database cannot be read.
    pub async fn get(&self, id: &str) -> Result<Option<ConnectorRecord>> {
        Ok(self.row(id).await?.map(record))
    }

    /// Every connector, by name, secrets shown as `"***"`.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database cannot be read.
    pub async fn list(&self) -> Result<Vec<ConnectorRecord>> {
        let rows: Vec<Row> = on_pool!(self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM connector ORDER BY name, id"
            )))
            .fetch_all(pool)
            .await
            .map_err(|e| self.db.error("cannot list the connectors in", &e))?
        });
        Ok(rows.into_iter().map(record).collect())
    }

    /// A page of the connectors, by name: at most `limit` after the first `offset`, and how
    /// many there are in all. Secrets shown as `"***"`.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database cannot be read.
    pub async fn list_page(&self, offset: u64, limit: u64) -> Result<(Vec<ConnectorRecord>, u64)> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (rows, total): (Vec<Row>, i64) = on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.db.error("cannot list the connectors in", &e);
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM connector ORDER BY name, id LIMIT $1 OFFSET $2"
            )))
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await
            .map_err(fail)?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM connector")
                .fetch_one(pool)
                .await
                .map_err(fail)?;
            (rows, total)
        });
        Ok((
            rows.into_iter().map(record).collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// The config of connector `id` with its secrets opened: what
    /// [`Registry::build`] takes to build it for a run. Never show it to people.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::Config`] when its secrets do
    /// not open (no key, or another key: the message names the key's source).
    pub async fn config(&self, id: &str) -> Result<Value> {
        let row = self.row(id).await?.ok_or_else(|| not_found(id))?;
        let mut config = row.3.0;
        open_config(&mut config, self.sealer.as_deref())?;
        Ok(config)
    }

    /// Writes `value` as the new content of the config field at the dotted `path`
    /// (`credentials.google_tokens`) of connector `id`, sealed: how a credential that rotated
    /// while the connector ran (an OAuth refresh token), or one an OAuth web flow obtained, is
    /// persisted. Missing objects on the path are created. The row is locked for the
    /// read-modify-write (a write of its own first), so two jobs of one connector that rotate
    /// at once do not lose either write.
    ///
    /// The value is always sealed, whatever the source's schema says of the field: a
    /// credential never lands in the database in clear.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::Config`] for an empty path or
    /// no sealer; [`ErrorKind::State`] when the database cannot be written.
    pub async fn set_secret_field(
        &self,
        id: &str,
        path: &str,
        value: &connector_core::Secret,
    ) -> Result<()> {
        let segments: Vec<&str> = path.split('.').collect();
        let Some((leaf, parents)) = segments.split_last().filter(|(l, _)| !l.is_empty()) else {
            return Err(
                Error::new(ErrorKind::Config, "an empty config field path").with_field(path)
            );
        };
        let sealer = self.sealer.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "a credential of connector `{id}` cannot be stored: no key to encrypt it \
                     with is set (set {} or {})",
                    crate::seal::SECRET_KEY_ENV,
                    crate::seal::SECRET_KEY_FILE_ENV
                ),
            )
            .with_field(path)
        })?;
        let sealed = crate::seal::sealed_value(
            sealer,
            &serde_json::Value::String(value.expose().to_owned()),
        );
        let now = Utc::now();
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| {
                self.db.error(&format!("cannot store `{path}` of connector `{id}` in"), &e)
            };
            let mut tx = pool.begin().await.map_err(fail)?;
            // A write first: SQLite takes its write lock now (not at the UPDATE below, where
            // another writer could have come between), PostgreSQL locks the row.
            let found = sqlx::query("UPDATE connector SET updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            if found == 0 {
                return Err(not_found(id));
            }
            let (Json(mut config),): (Json<Value>,) =
                sqlx::query_as("SELECT config FROM connector WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail)?;
            let mut at = &mut config;
            for segment in parents {
                if !at.get(*segment).is_some_and(Value::is_object) {
                    if let Value::Object(map) = at {
                        map.insert((*segment).to_owned(), Value::Object(serde_json::Map::new()));
                    } else {
                        *at = serde_json::json!({ *segment: {} });
                    }
                }
                let Some(next) = at.get_mut(*segment) else {
                    return Err(Error::internal("a config path vanished while it was written"));
                };
                at = next;
            }
            if let Value::Object(map) = at {
                map.insert((*leaf).to_owned(), sealed);
            }
            sqlx::query("UPDATE connector SET config = $2 WHERE id = $1")
                .bind(id)
                .bind(Json(&config))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        });
        Ok(())
    }

    /// Changes connector `id`. A new frequency moves the next run time to one new period
    /// from now (a sync due now stays due).
    ///
    /// One statement that sets only the fields given, each next run time computed from the
    /// row as it is then: a change racing another (a pause, the scheduler moving the next
    /// sync time) never writes back what the other changed.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown id; as [`create`](Self::create) for a config.
    pub async fn update(&self, id: &str, update: ConnectorUpdate) -> Result<ConnectorRecord> {
        check_freqs(update.refresh_freq, update.prune_freq)?;
        let row = self.row(id).await?.ok_or_else(|| not_found(id))?;
        let config = match update.config {
            Some(config) => Some(self.prepare(&row.2, config, Some(&row.3.0))?),
            None => None,
        };
        let now = Utc::now();
        let freq = |f: Option<u32>| f.map(i64::from);
        let after = |f: Option<u32>| f.and_then(|f| next_after(now, f));
        on_pool!(self.db, pool => {
            let n = sqlx::query(
                "UPDATE connector SET name = COALESCE($2, name), config = COALESCE($3, config), \
                 next_sync_at = CASE WHEN $4 IS NULL OR $4 = refresh_freq THEN next_sync_at \
                   WHEN $4 > 0 AND next_sync_at IS NOT NULL AND next_sync_at <= $10 THEN next_sync_at \
                   ELSE $5 END, \
                 next_prune_at = CASE WHEN $6 IS NULL OR $6 = prune_freq THEN next_prune_at \
                   ELSE $7 END, \
                 refresh_freq = COALESCE($4, refresh_freq), prune_freq = COALESCE($6, prune_freq), \
                 timeout_secs = COALESCE($8, timeout_secs), status = COALESCE($9, status), \
                 updated_at = $10 WHERE id = $1",
            )
            .bind(id)
            .bind(update.name.as_deref())
            .bind(config.as_ref().map(Json))
            .bind(freq(update.refresh_freq))
            .bind(after(update.refresh_freq))
            .bind(freq(update.prune_freq))
            .bind(after(update.prune_freq))
            .bind(update.timeout_secs.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
            .bind(update.status.map(ConnectorStatus::as_str))
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| self.db.error("cannot update a connector in", &e))?
            .rows_affected();
            if n == 0 {
                return Err(not_found(id));
            }
        });
        self.get(id).await?.ok_or_else(|| not_found(id))
    }

    /// Deletes connector `id` with everything kept for it: its state, jobs, failures and
    /// run log, in one transaction. `false` when there was no such connector.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database cannot be written.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        self.contexts.forget(id);
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.db.error("cannot delete a connector from", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            // The connector row first: a job queued at the same moment (its insert reads the
            // connector row `FOR SHARE`) either commits before, and is deleted below, or
            // finds no connector and is not queued. And then the jobs, then the state: the
            // order every transaction that takes both a job and a checkpoint row follows.
            let deleted = sqlx::query("DELETE FROM connector WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            for table in [
                "job",
                "checkpoint",
                "document_state",
                "failed_item",
                "run_log",
                "connector_webhook",
                "oauth_flow",
            ] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE connector_id = $1"
                )))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
            Ok(deleted > 0)
        })
    }
}

fn next_after(now: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
    (minutes > 0)
        .then(|| now.checked_add_signed(Duration::minutes(i64::from(minutes))))
        .flatten()
}

/// The most minutes a `refresh_freq` or `prune_freq` may be: a year. More put the next run
/// past year 9999, which SQLite stores as text that sorts before every date (the connector
/// was due at every tick, and the scheduler soon panicked past chrono's last date).
pub const MAX_FREQ_MINUTES: u32 = 365 * 24 * 60;

/// Refuses a frequency past [`MAX_FREQ_MINUTES`], naming its field.
fn check_freqs(refresh: Option<u32>, prune: Option<u32>) -> Result<()> {
    for (field, freq) in [("refresh_freq", refresh), ("prune_freq", prune)] {
        if freq.is_some_and(|f| f > MAX_FREQ_MINUTES) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("`{field}` must be at most {MAX_FREQ_MINUTES} minutes (a year)"),
            )
            .with_field(field));
        }
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no connector `{id}`"))
}

fn record(row: Row) -> ConnectorRecord {
    let (
        id,
        name,
        source,
        Json(mut config),
        refresh_freq,
        prune_freq,
        timeout_secs,
        status,
        next_sync_at,
        next_prune_at,
        created_at,
        updated_at,
    ) = row;
    mask_config(&mut config);
    ConnectorRecord {
        id,
        name,
        source,
        config,
        refresh_freq: u32::try_from(refresh_freq).unwrap_or(0),
        prune_freq: u32::try_from(prune_freq).unwrap_or(0),
        timeout_secs: u64::try_from(timeout_secs).unwrap_or(0),
        status: ConnectorStatus::parse(&status),
        next_sync_at,
        next_prune_at,
        created_at,
        updated_at,
    }
}
