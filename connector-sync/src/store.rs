//! [`SqlStateStore`]: core's [`StateStore`] over the sync database.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_core::CheckpointJson;
use connector_core::state::{
    CheckpointUpdate, Commit, DocumentState, FailedItem, Known, PruneCounts, PrunePass, RunRecord,
    StateStore, StoredCheckpoint, SyncState,
};
use connector_core::{Document, Error, ErrorKind, Result};
use sqlx::types::Json;

use crate::db::SyncDb;

/// Runs `$body` with `$pool` bound to the concrete pool of `$db` (the same code for both
/// backends, each arm compiled against its own driver).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs in the log of one connector before the oldest are dropped.
const RUN_LOG_LEN: i64 = 1000;

/// Keeps one connector's sync state in the sync database (SQLite or PostgreSQL): core's
/// [`StateStore`], for [`Syncer::shared_state`](connector_core::sync::Syncer::shared_state).
///
/// Every store is scoped to one connector id: its documents, failures and runs are the rows
/// with that id, its checkpoint the row of that id and [partition](Self::partition). Many
/// stores (of many connectors) share one [`SyncDb`].
///
/// - [`commit`](StateStore::commit) is one transaction: the checkpoint, the acknowledged
///   documents (one statement per batch, the page passed as one JSON parameter), the
///   failures and the resolved ones, all or nothing, durable when it returns.
/// - A prune pass marks in place (see [`PrunePass`]): `begin_prune` increments the
///   connector's pass number, `mark` is one `UPDATE … SET pass = n` per page, the unlisted
///   ids are `pass <> n` paged by id, and a document committed while the pass is open is
///   written with `pass = n` (a commit locks the connector's pass row, so a pass never begins
///   between a commit reading the number and committing). A pass outlived by a newer one fails with
///   [`ErrorKind::State`]; a pass that ends without `finish` leaves nothing behind (the next
///   one has a new number).
/// - Checkpoints and failures are stored as core hands them over (already redacted).
///
/// **Cancel safety.** Each call is one transaction (or one statement): a call whose future
/// is dropped is rolled back whole or committed whole, never half.
#[derive(Debug, Clone)]
pub struct SqlStateStore {
    db: SyncDb,
    connector_id: String,
    partition: String,
    lease: Option<Lease>,
}

/// The lease of the job a store writes for: every write that moves the run on (a commit,
/// the end of the run, the carried checkpoint) renews it in the same transaction, and is
/// rolled back when the job is no longer this worker's (its lease expired and another worker
/// took it, or it was cancelled). A worker that lost its job can therefore never write over
/// the checkpoint of the worker that took it over.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) job_id: i64,
    pub(crate) owner: String,
    pub(crate) duration: chrono::Duration,
    /// Set once a commit of this attempt is durable: the attempt made progress.
    pub(crate) progressed: Arc<AtomicBool>,
}

/// The database's clock now, as SQL: leases, heartbeats and due times are computed by the
/// database, never by a worker's clock (workers on many machines need not agree; SQLite
/// writes the text format sqlx writes, `…T…+00:00`, which sorts with it).
pub(crate) fn sql_now(pg: bool) -> &'static str {
    if pg {
        "clock_timestamp()"
    } else {
        "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')"
    }
}

/// The database's clock plus `param` seconds (a bound `f64`), as SQL.
pub(crate) fn sql_in_secs(pg: bool, param: &str) -> String {
    if pg {
        format!("(clock_timestamp() + make_interval(secs => {param}))")
    } else {
        format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', julianday('now') + ({param}) / 86400.0)")
    }
}

/// A duration as the seconds [`sql_in_secs`] binds.
pub(crate) fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// Renews a running job's lease if it is still `owner`'s (`$3`: the lease in seconds); with
/// `progress`, also records a commit: the job's last progress, and no fruitless or
/// rate-limited attempt.
pub(crate) fn renew_lease_sql(pg: bool, progress: bool) -> String {
    let progress = if progress {
        format!(
            ", last_progress_at = {}, fruitless = 0, throttled = 0",
            sql_now(pg)
        )
    } else {
        String::new()
    };
    format!(
        "UPDATE job SET lease_expires_at = {}, heartbeat_at = {}{progress} \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        sql_in_secs(pg, "$3"),
        sql_now(pg)
    )
}

impl SqlStateStore {
    /// The state of `connector_id` in `db`. Nothing is read or written until the store is
    /// used; a connector id the database has never seen starts empty.
    pub fn new(db: SyncDb, connector_id: impl Into<String>) -> Self {
        Self {
            db,
            connector_id: connector_id.into(),
            partition: String::new(),
            lease: None,
        }
    }

    /// Fences the store's writes by a job's lease (see [`Lease`]).
    #[must_use]
    pub(crate) fn with_lease(mut self, lease: Lease) -> Self {
        self.lease = Some(lease);
        self
    }

    /// The partition the store's checkpoint belongs to (`""` for the whole connector).
    pub fn partition_key(&self) -> &str {
        &self.partition
    }

    /// Connects to `url` ([`SyncDb::connect`]) and returns the state of `connector_id` there.
    ///
    /// # Errors
    /// As [`SyncDb::connect`].
    pub async fn open(url: &str, connector_id: impl Into<String>) -> Result<Self> {
        Ok(Self::new(SyncDb::connect(url).await?, connector_id))
    }

    /// The store of one partition of the connector: its own checkpoint, window end and
    /// carried checkpoint, while documents, failures and runs stay the connector's.
    #[must_use]
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }

    /// The connector id the store is scoped to.
    pub fn connector_id(&self) -> &str {
        &self.connector_id
    }

    /// The database it writes to.
    pub fn db(&self) -> &SyncDb {
        &self.db
    }

    fn pg(&self) -> bool {
        self.db.is_postgres()
    }

    fn err(&self, what: &str, e: &sqlx::Error) -> Error {
        self.db.error(
            &format!("{what} of connector `{}` in", self.connector_id),
            e,
        )
    }
}

/// Renews the store's lease inside the transaction `$tx`, or returns (rolling the
/// transaction back) when the job is no longer the store's. It is the transaction's first
/// statement: the job row is always locked before any checkpoint row, in every transaction
/// that takes both (commit, end of run, carry, rebuild, delete), so PostgreSQL never sees two
/// of them wait on each other; and a write for a lost job fails before it writes anything.
macro_rules! renew_lease {
    ($store:expr, $tx:expr, $fail:expr, $progress:expr) => {
        if let Some(lease) = &$store.lease {
            let renewed = sqlx::query(sqlx::AssertSqlSafe(renew_lease_sql($store.pg(), $progress)))
                .bind(lease.job_id)
                .bind(&lease.owner)
                .bind(secs(lease.duration))
                .execute(&mut *$tx)
                .await
                .map_err($fail)?
                .rows_affected();
            if renewed == 0 {
                return Err($store.lease_lost(lease));
            }
        }
    };
}

/// What [`SqlStateStore::enter_scope`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The state was written under this config (or under none recorded: kept).
    Same,
    /// The config changed since: the checkpoint, window end and carried checkpoint were
    /// forgotten, so the run must be full.
    Changed,
}

impl SqlStateStore {
    /// Records that the store's state is now written under the config that hashes to `hash`
    /// ([`scope_hash`]). When its checkpoint row was written under another one, the row's
    /// checkpoint, window end and carried checkpoint belonged to the old scope (another path,
    /// another set of projects…): they are forgotten, in the same transaction, and
    /// [`Scope::Changed`] says the run must be full. A row written before hashes were kept
    /// takes the hash and keeps its state. Fenced by the lease.
    pub(crate) async fn enter_scope(&self, hash: &str) -> Result<Scope> {
        let now = Utc::now();
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.err("cannot check the config scope of the state", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            renew_lease!(self, tx, fail, false);
            let old: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT config_hash FROM checkpoint WHERE connector_id = $1 AND partition_key = $2",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
            let changed = matches!(&old, Some((Some(h),)) if h != hash);
            let sql = if changed {
                "UPDATE checkpoint SET config_hash = $3, checkpoint = NULL, last_window_end = NULL, \
                 carried = NULL, stalls = 0, page_requests = 0, updated_at = $4 \
                 WHERE connector_id = $1 AND partition_key = $2"
            } else {
                "INSERT INTO checkpoint (connector_id, partition_key, config_hash, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id, partition_key) \
                 DO UPDATE SET config_hash = excluded.config_hash"
            };
            if changed || !matches!(&old, Some((Some(_),))) {
                sqlx::query(sql)
                    .bind(&self.connector_id)
                    .bind(&self.partition)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
            Ok(if changed { Scope::Changed } else { Scope::Same })
        })
    }

    /// The job that wrote the stored checkpoint, when a job did.
    pub(crate) async fn checkpoint_job(&self) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = on_pool!(self.db, pool => {
            sqlx::query_as(
                "SELECT job_id FROM checkpoint WHERE connector_id = $1 AND partition_key = $2 \
                 AND checkpoint IS NOT NULL",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_optional(pool)
            .await
            .map_err(|e| self.err("cannot read the checkpoint", &e))?
        });
        Ok(row.and_then(|(id,)| id))
    }

    /// Attempts in a row that resumed the stored checkpoint and failed without a commit in a
    /// way that may be the checkpoint's fault ([`count_stall`](Self::count_stall)).
    pub(crate) async fn checkpoint_stalls(&self) -> Result<u32> {
        let row: Option<(i64,)> = on_pool!(self.db, pool => {
            sqlx::query_as(
                "SELECT stalls FROM checkpoint WHERE connector_id = $1 AND partition_key = $2 \
                 AND checkpoint IS NOT NULL",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_optional(pool)
            .await
            .map_err(|e| self.err("cannot read the checkpoint", &e))?
        });
        Ok(row.map_or(0, |(n,)| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// Counts one more attempt that resumed the stored checkpoint and got nowhere (the worker
    /// decides which count: none that was told to wait or never reached its source).
    pub(crate) async fn count_stall(&self) -> Result<()> {
        on_pool!(self.db, pool => {
            sqlx::query(
                "UPDATE checkpoint SET stalls = stalls + 1 \
                 WHERE connector_id = $1 AND partition_key = $2 AND checkpoint IS NOT NULL",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .execute(pool)
            .await
            .map_err(|e| self.err("cannot count a stalled resume", &e))?;
        });
        Ok(())
    }

    /// The most first tries of HTTP requests this connector's jobs sent between two source
    /// pages since its config last changed (0: none seen yet), the baseline by which a resume
    /// held at its deadline is judged a loop ([`SqlRateGate::loops_at`](crate::SqlRateGate)).
    pub(crate) async fn page_requests(&self) -> Result<u64> {
        let row: Option<(i64,)> = on_pool!(self.db, pool => {
            sqlx::query_as(
                "SELECT page_requests FROM checkpoint WHERE connector_id = $1 AND partition_key = $2",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_optional(pool)
            .await
            .map_err(|e| self.err("cannot read the checkpoint", &e))?
        });
        Ok(row.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0)))
    }

    /// Raises [`page_requests`](Self::page_requests) to `most` (never lowers it). The caller
    /// writes only when an attempt saw more than was stored, so this is rarely a write.
    pub(crate) async fn note_page_requests(&self, most: u64) -> Result<()> {
        let most = i64::try_from(most).unwrap_or(i64::MAX);
        on_pool!(self.db, pool => {
            sqlx::query(
                "UPDATE checkpoint SET page_requests = $3 \
                 WHERE connector_id = $1 AND partition_key = $2 AND page_requests < $3",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .bind(most)
            .execute(pool)
            .await
            .map_err(|e| self.err("cannot record the requests a page takes", &e))?;
        });
        Ok(())
    }

    /// Forgets the stored checkpoint (the interrupted run), keeping the window end and the
    /// carried checkpoint: the next run starts over instead of resuming. Fenced by the lease.
    pub(crate) async fn drop_checkpoint(&self) -> Result<()> {
        let now = Utc::now();
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.err("cannot drop the checkpoint", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            renew_lease!(self, tx, fail, false);
            sqlx::query(
                "UPDATE checkpoint SET checkpoint = NULL, stalls = 0, updated_at = $3 \
                 WHERE connector_id = $1 AND partition_key = $2",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        });
        Ok(())
    }

    fn lease_lost(&self, lease: &Lease) -> Error {
        Error::new(
            ErrorKind::State,
            format!(
                "job {} of connector `{}` is no longer this worker's (`{}`): its lease expired and \
                 another worker took it, or it was cancelled; nothing of this write was kept",
                lease.job_id, self.connector_id, lease.owner
            ),
        )
    }
}

/// A row of [`unique_states`]: id, fingerprint, `updated_at`, parent.
type StateRow<'a> = (&'a str, &'a str, Option<DateTime<Utc>>, Option<&'a str>);

/// `(id, fingerprint, updated_at, parent)` of each acknowledged document, borrowed, the last
/// of an id winning (one `INSERT … ON CONFLICT` may not touch a row twice).
fn unique_states<'a>(commit: &'a Commit<'_>) -> Vec<StateRow<'a>> {
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(commit.documents.len());
    let mut rows: Vec<StateRow<'a>> = Vec::with_capacity(commit.documents.len());
    for s in commit.documents.iter() {
        let row = (s.id, s.fingerprint, s.updated_at, s.parent_id);
        match at.get(s.id) {
            Some(&i) => {
                if let Some(slot) = rows.get_mut(i) {
                    *slot = row;
                }
            }
            None => {
                at.insert(s.id, rows.len());
                rows.push(row);
            }
        }
    }
    rows
}

const UPSERT_DOCUMENTS_SQLITE: &str = "INSERT INTO document_state \
     (connector_id, doc_id, fingerprint, updated_at, parent_id, pass) \
     SELECT $1, e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, $3 \
     FROM json_each($2) AS e WHERE true \
     ON CONFLICT (connector_id, doc_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
       updated_at = excluded.updated_at, parent_id = excluded.parent_id, pass = excluded.pass";
const UPSERT_DOCUMENTS_PG: &str = "INSERT INTO document_state \
     (connector_id, doc_id, fingerprint, updated_at, parent_id, pass) \
     SELECT $1, e ->> 0, e ->> 1, (e ->> 2)::timestamptz, e ->> 3, $3 \
     FROM jsonb_array_elements($2) AS e WHERE true \
     ON CONFLICT (connector_id, doc_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
       updated_at = excluded.updated_at, parent_id = excluded.parent_id, pass = excluded.pass";

const SELECT_DOCUMENTS_SQLITE: &str = "SELECT doc_id, fingerprint, updated_at, parent_id \
     FROM document_state \
     WHERE connector_id = $1 AND doc_id IN (SELECT value FROM json_each($2))";
const SELECT_DOCUMENTS_PG: &str = "SELECT doc_id, fingerprint, updated_at, parent_id \
     FROM document_state \
     WHERE connector_id = $1 AND doc_id IN (SELECT jsonb_array_elements_text($2))";

const SELECT_CHILDREN_SQLITE: &str = "SELECT doc_id FROM document_state \
     WHERE connector_id = $1 AND parent_id IN (SELECT value FROM json_each($2)) ORDER BY doc_id";
// `COLLATE "C"`: the ids' byte order, which `StateStore::children` promises and the other
// stores give, whatever the database's collation (`doc_id` has the database's default).
const SELECT_CHILDREN_PG: &str = "SELECT doc_id FROM document_state \
     WHERE connector_id = $1 AND parent_id IN (SELECT jsonb_array_elements_text($2)) \
     ORDER BY doc_id COLLATE \"C\"";

const DELETE_DOCUMENTS_SQLITE: &str = "DELETE FROM document_state \
     WHERE connector_id = $1 AND doc_id IN (SELECT value FROM json_each($2))";
const DELETE_DOCUMENTS_PG: &str = "DELETE FROM document_state \
     WHERE connector_id = $1 AND doc_id IN (SELECT jsonb_array_elements_text($2))";

const MARK_SQLITE: &str = "UPDATE document_state SET pass = $2 \
     WHERE connector_id = $1 AND doc_id IN (SELECT value FROM json_each($3))";
const MARK_PG: &str = "UPDATE document_state SET pass = $2 \
     WHERE connector_id = $1 AND doc_id IN (SELECT jsonb_array_elements_text($3))";

const DELETE_RESOLVED_SQLITE: &str = "DELETE FROM failed_item \
     WHERE connector_id = $1 AND partition_key = $3 \
     AND item_key IN (SELECT value FROM json_each($2))";
const DELETE_RESOLVED_PG: &str = "DELETE FROM failed_item \
     WHERE connector_id = $1 AND partition_key = $3 \
     AND item_key IN (SELECT jsonb_array_elements_text($2))";

const SET_CHECKPOINT: &str = "INSERT INTO checkpoint \
     (connector_id, partition_key, checkpoint, updated_at, job_id) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id, partition_key) \
     DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at, \
       job_id = excluded.job_id, stalls = 0";
const FINISH_WINDOW: &str = "INSERT INTO checkpoint \
     (connector_id, partition_key, checkpoint, last_window_end, updated_at) \
     VALUES ($1, $2, NULL, $3, $4) ON CONFLICT (connector_id, partition_key) \
     DO UPDATE SET checkpoint = NULL, last_window_end = excluded.last_window_end, \
       updated_at = excluded.updated_at";
const SET_CARRIED: &str = "INSERT INTO checkpoint (connector_id, partition_key, carried, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id, partition_key) \
     DO UPDATE SET carried = excluded.carried, updated_at = excluded.updated_at";
const UPSERT_FAILED: &str = "INSERT INTO failed_item \
     (connector_id, partition_key, item_key, doc_id, attempts, first_failed_at, item) \
     VALUES ($1, $7, $2, $3, $4, $5, $6) ON CONFLICT (connector_id, partition_key, item_key) \
     DO UPDATE SET doc_id = excluded.doc_id, attempts = excluded.attempts, \
       first_failed_at = excluded.first_failed_at, item = excluded.item";
const INSERT_RUN: &str = "INSERT INTO run_log \
     (connector_id, job_id, mode, status, started_at, finished_at, record) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const TRIM_RUNS: &str = "DELETE FROM run_log WHERE connector_id = $1 AND id <= \
     (SELECT id FROM run_log WHERE connector_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)";
const BEGIN_PASS: &str = "INSERT INTO checkpoint (connector_id, partition_key, prune_pass, updated_at) \
     VALUES ($1, '', 1, $2) ON CONFLICT (connector_id, partition_key) \
     DO UPDATE SET prune_pass = checkpoint.prune_pass + 1, updated_at = excluded.updated_at \
     RETURNING prune_pass";
/// Locks the connector's pass row for the commit's transaction (creating it if need be) and
/// returns its pass number: a prune pass cannot begin between the moment a commit reads the
/// number and the moment it commits, so a document committed during a pass always carries
/// that pass's number.
const LOCK_PASS: &str = "INSERT INTO checkpoint (connector_id, partition_key, updated_at) \
     VALUES ($1, '', $2) ON CONFLICT (connector_id, partition_key) \
     DO UPDATE SET updated_at = checkpoint.updated_at RETURNING prune_pass";
const CURRENT_PASS: &str =
    "SELECT prune_pass FROM checkpoint WHERE connector_id = $1 AND partition_key = ''";

type CheckpointRow = (
    Option<Json<StoredCheckpoint>>,
    Option<DateTime<Utc>>,
    Option<Json<CheckpointJson>>,
);

#[async_trait]
impl StateStore for SqlStateStore {
    async fn load(&self) -> Result<SyncState> {
        let (row, failed) = on_pool!(self.db, pool => {
            let row: Option<CheckpointRow> = sqlx::query_as(
                "SELECT checkpoint, last_window_end, carried FROM checkpoint \
                 WHERE connector_id = $1 AND partition_key = $2",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_optional(pool)
            .await
            .map_err(|e| self.err("cannot read the checkpoint", &e))?;
            let failed: Vec<(Json<FailedItem>,)> = sqlx::query_as(
                "SELECT item FROM failed_item WHERE connector_id = $1 AND partition_key = $2 \
                 ORDER BY item_key",
            )
            .bind(&self.connector_id)
            .bind(&self.partition)
            .fetch_all(pool)
            .await
            .map_err(|e| self.err("cannot read the failed items", &e))?;
            (row, failed)
        });
        let (checkpoint, last_window_end, carried) = row.unwrap_or((None, None, None));
        Ok(SyncState {
            checkpoint: checkpoint.map(|j| j.0),
            last_window_end,
            failed: failed.into_iter().map(|(j,)| j.0).collect(),
            carried: carried.map(|j| j.0),
        })
    }

    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = if self.pg() {
            SELECT_DOCUMENTS_PG
        } else {
            SELECT_DOCUMENTS_SQLITE
        };
        let rows: Vec<(String, String, Option<DateTime<Utc>>, Option<String>)> = on_pool!(self.db, pool => {
            sqlx::query_as(sql)
                .bind(&self.connector_id)
                .bind(Json(ids))
                .fetch_all(pool)
                .await
                .map_err(|e| self.err("cannot read the documents", &e))?
        });
        let known: HashMap<String, DocumentState> = rows
            .into_iter()
            .map(|(id, fingerprint, updated_at, parent_id)| {
                (id, {
                    let mut state = DocumentState::new(fingerprint, updated_at);
                    state.parent_id = parent_id;
                    state
                })
            })
            .collect();
        Ok(ids.iter().map(|id| known.get(*id).cloned()).collect())
    }

    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        let ids: Vec<&str> = documents.iter().map(|d| d.id.as_str()).collect();
        let known = self.documents(&ids).await?;
        Ok(documents
            .iter()
            .zip(known)
            .map(|(doc, state)| Known::of(doc, state.as_ref().map(|s| s.fingerprint.as_str())))
            .collect())
    }

    async fn children(&self, parents: &[&str]) -> Result<Vec<String>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = if self.pg() {
            SELECT_CHILDREN_PG
        } else {
            SELECT_CHILDREN_SQLITE
        };
        let rows: Vec<(String,)> = on_pool!(self.db, pool => {
            sqlx::query_as(sql)
                .bind(&self.connector_id)
                .bind(Json(parents))
                .fetch_all(pool)
                .await
                .map_err(|e| self.err("cannot look documents up by parent", &e))?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = on_pool!(self.db, pool => {
            sqlx::query_as(
                "SELECT doc_id FROM document_state WHERE connector_id = $1 ORDER BY doc_id",
            )
            .bind(&self.connector_id)
            .fetch_all(pool)
            .await
            .map_err(|e| self.err("cannot list the documents", &e))?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        if commit.is_empty() {
            return Ok(());
        }
        let documents = unique_states(&commit);
        // What moves the run on: a checkpoint or documents (failures alone do not).
        let progress =
            !documents.is_empty() || matches!(commit.checkpoint, CheckpointUpdate::Set(_));
        let (upsert, resolve) = if self.pg() {
            (UPSERT_DOCUMENTS_PG, DELETE_RESOLVED_PG)
        } else {
            (UPSERT_DOCUMENTS_SQLITE, DELETE_RESOLVED_SQLITE)
        };
        let now = Utc::now();
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.err("cannot commit the state", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            renew_lease!(self, tx, fail, progress);
            if let CheckpointUpdate::Set(cp) = &commit.checkpoint {
                sqlx::query(SET_CHECKPOINT)
                    .bind(&self.connector_id)
                    .bind(&self.partition)
                    .bind(Json(cp))
                    .bind(now)
                    .bind(self.lease.as_ref().map(|l| l.job_id))
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            if !documents.is_empty() {
                let (pass,): (i64,) = sqlx::query_as(LOCK_PASS)
                    .bind(&self.connector_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail)?;
                sqlx::query(upsert)
                    .bind(&self.connector_id)
                    .bind(Json(&documents))
                    .bind(pass)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            if !commit.resolved.is_empty() {
                sqlx::query(resolve)
                    .bind(&self.connector_id)
                    .bind(Json(&commit.resolved))
                    .bind(&self.partition)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            for item in &commit.failed {
                sqlx::query(UPSERT_FAILED)
                    .bind(&self.connector_id)
                    .bind(item.key())
                    .bind(item.failure.id.as_deref())
                    .bind(i64::from(item.attempts))
                    .bind(item.first_failed_at)
                    .bind(Json(item))
                    .bind(&self.partition)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
        });
        if let (Some(lease), true) = (&self.lease, progress) {
            lease.progressed.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn begin_prune(&self) -> Result<Box<dyn PrunePass + '_>> {
        let (pass,): (i64,) = on_pool!(self.db, pool => {
            sqlx::query_as(BEGIN_PASS)
                .bind(&self.connector_id)
                .bind(Utc::now())
                .fetch_one(pool)
                .await
                .map_err(|e| self.err("cannot begin a prune pass", &e))?
        });
        Ok(Box::new(SqlPrunePass { store: self, pass }))
    }

    async fn remove_documents(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = if self.pg() {
            DELETE_DOCUMENTS_PG
        } else {
            DELETE_DOCUMENTS_SQLITE
        };
        on_pool!(self.db, pool => {
            sqlx::query(sql)
                .bind(&self.connector_id)
                .bind(Json(ids))
                .execute(pool)
                .await
                .map_err(|e| self.err("cannot remove documents", &e))?;
        });
        Ok(())
    }

    async fn finish_run(
        &self,
        mut run: RunRecord,
        window_end: Option<DateTime<Utc>>,
    ) -> Result<()> {
        // The run log is read through the API: a database failure's location is left out.
        run.error = run.error.map(|e| self.db.hide_location(&e));
        let status = serde_json::to_value(run.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let now = Utc::now();
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.err("cannot record the run", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            renew_lease!(self, tx, fail, false);
            if let Some(end) = window_end {
                sqlx::query(FINISH_WINDOW)
                    .bind(&self.connector_id)
                    .bind(&self.partition)
                    .bind(end)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            sqlx::query(INSERT_RUN)
                .bind(&self.connector_id)
                .bind(self.lease.as_ref().map(|l| l.job_id))
                .bind(&run.mode)
                .bind(&status)
                .bind(run.started_at)
                .bind(run.finished_at)
                .bind(Json(&run))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            sqlx::query(TRIM_RUNS)
                .bind(&self.connector_id)
                .bind(RUN_LOG_LEN)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        });
        Ok(())
    }

    async fn carry(&self, checkpoint: Option<CheckpointJson>) -> Result<()> {
        on_pool!(self.db, pool => {
            let fail = |e: sqlx::Error| self.err("cannot keep the carried checkpoint", &e);
            let mut tx = pool.begin().await.map_err(fail)?;
            renew_lease!(self, tx, fail, false);
            sqlx::query(SET_CARRIED)
                .bind(&self.connector_id)
                .bind(&self.partition)
                .bind(checkpoint.as_ref().map(Json))
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        });
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(Json<RunRecord>,)> = on_pool!(self.db, pool => {
            sqlx::query_as(
                "SELECT record FROM run_log WHERE connector_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(&self.connector_id)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(|e| self.err("cannot read the run log", &e))?
        });
        // Cut again on read: a run stored before fix68 has the location in its text
        // (review70 L4).
        Ok(rows
            .into_iter()
            .rev()
            .map(|(j,)| {
                let mut run = j.0;
                run.error = run.error.map(|e| self.db.hide_location(&e));
                run
            })
            .collect())
    }
}

/// A prune pass of a [`SqlStateStore`]: the connector's pass number `pass`.
struct SqlPrunePass<'a> {
    store: &'a SqlStateStore,
    pass: i64,
}

impl SqlPrunePass<'_> {
    /// Fails unless this is still the connector's latest pass.
    async fn check_open(&self) -> Result<()> {
        let store = self.store;
        let current: Option<(i64,)> = on_pool!(store.db, pool => {
            sqlx::query_as(CURRENT_PASS)
                .bind(&store.connector_id)
                .fetch_optional(pool)
                .await
                .map_err(|e| store.err("cannot read the prune pass", &e))?
        });
        if current.map(|(n,)| n) == Some(self.pass) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::State,
                format!(
                    "the prune pass of connector `{}` is no longer open: another pass began",
                    store.connector_id
                ),
            ))
        }
    }
}

#[async_trait]
impl PrunePass for SqlPrunePass<'_> {
    async fn mark(&mut self, ids: &[&str]) -> Result<()> {
        self.check_open().await?;
        if ids.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let sql = if store.pg() { MARK_PG } else { MARK_SQLITE };
        on_pool!(store.db, pool => {
            sqlx::query(sql)
                .bind(&store.connector_id)
                .bind(self.pass)
                .bind(Json(ids))
                .execute(pool)
                .await
                .map_err(|e| store.err("cannot mark listed documents", &e))?;
        });
        Ok(())
    }

    async fn counts(&mut self) -> Result<PruneCounts> {
        self.check_open().await?;
        let store = self.store;
        let (known, marked): (i64, i64) = on_pool!(store.db, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN pass = $2 THEN 1 ELSE 0 END), 0) \
                 FROM document_state WHERE connector_id = $1",
            )
            .bind(&store.connector_id)
            .bind(self.pass)
            .fetch_one(pool)
            .await
            .map_err(|e| store.err("cannot count documents", &e))?
        });
        Ok(PruneCounts {
            known: u64::try_from(known).unwrap_or(0),
            marked: u64::try_from(marked).unwrap_or(0),
        })
    }

    async fn unlisted(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.check_open().await?;
        let store = self.store;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String,)> = on_pool!(store.db, pool => {
            let query = match after {
                Some(after) => sqlx::query_as(
                    "SELECT doc_id FROM document_state WHERE connector_id = $1 AND pass <> $2 \
                     AND doc_id > $3 ORDER BY doc_id LIMIT $4",
                )
                .bind(&store.connector_id)
                .bind(self.pass)
                .bind(after)
                .bind(limit),
                None => sqlx::query_as(
                    "SELECT doc_id FROM document_state WHERE connector_id = $1 AND pass <> $2 \
                     ORDER BY doc_id LIMIT $3",
                )
                .bind(&store.connector_id)
                .bind(self.pass)
                .bind(limit),
            };
            query
                .fetch_all(pool)
                .await
                .map_err(|e| store.err("cannot list unlisted documents", &e))?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn finish(&mut self) -> Result<()> {
        // The marks mean nothing once the pass ends: the next pass has a new number.
        Ok(())
    }
}

/// A stable connector id for `config` of `source`, for a host (the CLI's `--state
/// sqlite:…`) that keeps state in the database without a connector record: `SOURCE-HASH`,
/// HASH 16 hex digits of the config's canonical JSON with its credential fields (those
/// `schema` marks `writeOnly`) left out, so that rotating a token keeps the state, and no
/// secret, not even a hash of one, is in the id.
pub fn config_connector_id(
    source: &str,
    config: &serde_json::Value,
    schema: &serde_json::Value,
) -> String {
    format!("{source}-{}", scope_hash(config, schema))
}

/// 16 hex digits of `config`'s canonical JSON without its credential fields (those `schema`
/// marks `writeOnly`): what a connector's sync state is valid for. Rotating a token keeps it;
/// changing what is synced (a path, a project list, a base URL) changes it.
pub(crate) fn scope_hash(config: &serde_json::Value, schema: &serde_json::Value) -> String {
    let fields = crate::seal::secret_fields(schema);
    let mut config = config.clone();
    strip_fields(&mut config, &fields, 0);
    let text = canonical(config).to_string();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// `value` with every object's keys inserted in sorted order, so its text is the same
/// whichever order they came in (and whether or not serde_json keeps insertion order).
pub(crate) fn canonical(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(canonical).collect())
        }
        other => other,
    }
}

fn strip_fields(value: &mut serde_json::Value, fields: &[String], depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !fields.contains(k));
            map.values_mut()
                .for_each(|v| strip_fields(v, fields, depth + 1));
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|v| strip_fields(v, fields, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What others read of a failed run or job has no location of the sync database: a run
    /// whose error names it is cut when stored (review70 L5.1: no test wrote one), and rows
    /// stored before fix68, in the old wording, are cut when read (review70 L4), as is a
    /// job's error and wait reason.
    #[tokio::test]
    async fn stored_texts_are_read_without_the_location() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        let db =
            SyncDb::connect(&format!("sqlite:{}", dir.path().join("sync.db").display())).await?;
        let at = db.location().to_owned();
        let store = SqlStateStore::new(db.clone(), "c");
        let failed = crate::db::db_error(&at, "cannot commit the state in", "database is locked");
        let record = |error: String| RunRecord {
            mode: "full".to_owned(),
            status: connector_core::state::RunStatus::Failed,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            window: None,
            new: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            deleted: 0,
            error: Some(error),
        };
        store
            .finish_run(record(format!("the run stopped: {failed}")), None)
            .await?;
        // A row written before fix68: the old wording, stored whole.
        let old = format!("cannot commit the state in the {at}: database is locked");
        let fail = |e: sqlx::Error| Error::internal(e.to_string());
        let crate::db::Pool::Sqlite(pool) = &db.pool else {
            return Err(Error::internal("a SQLite database"));
        };
        sqlx::query(
            "INSERT INTO run_log (connector_id, mode, status, started_at, finished_at, record) \
             VALUES ('c', 'full', 'failed', '2020-01-01', '2020-01-01', $1)",
        )
        .bind(Json(record(old.clone())))
        .execute(pool)
        .await
        .map_err(fail)?;
        let runs = store.runs(10).await?;
        let errors: Vec<&str> = runs.iter().filter_map(|r| r.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                "the run stopped: cannot commit the state in the sync database; the server's \
                 log has the details",
                "cannot commit the state in the sync database; the server's log has the details",
            ]
        );
        // A job row written before fix68 (its error, and the wait reason made from it).
        sqlx::query(
            "INSERT INTO job (connector_id, kind, mode, partition_key, status, error, \
             wait_reason, run_after, created_at) VALUES ('c', 'sync', 'auto', '', 'failed', $1, \
             $2, '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00')",
        )
        .bind(&old)
        .bind(format!(
            "retrying at 2020-01-01T00:00:00Z after a failed attempt: {old}"
        ))
        .execute(pool)
        .await
        .map_err(fail)?;
        let jobs = crate::jobs::list(&db, Some("c"), None, 10).await?;
        let job = jobs.first().ok_or_else(|| Error::internal("no job"))?;
        for text in [&job.error, &job.wait_reason] {
            let text = text.as_deref().unwrap_or_default();
            assert!(!text.contains(&at), "{text}");
            assert!(text.ends_with("the sync database; the server's log has the details"));
        }
        Ok(())
    }

    #[test]
    fn the_config_id_is_stable_and_ignores_secrets() {
        let schema = json!({ "properties": { "token": { "writeOnly": true } } });
        let a = config_connector_id("notes", &json!({ "url": "u", "token": "t1" }), &schema);
        let b = config_connector_id("notes", &json!({ "token": "t2", "url": "u" }), &schema);
        let c = config_connector_id("notes", &json!({ "url": "v", "token": "t1" }), &schema);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.starts_with("notes-") && a.len() == "notes-".len() + 16,
            "{a}"
        );
    }
}
