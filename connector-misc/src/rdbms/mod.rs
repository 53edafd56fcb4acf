//! What the `postgresql` and `mysql` sources share: RAGFlow's `rdbms` config
//! ([`RdbmsConfig`]), the keyset walk, and rows as documents ([`RdbmsConnector`]).
//!
//! - **Scope**: RAGFlow's `query` (run as a subquery, so the keyset conditions apply to
//!   its rows), or `tables` (every table of the database when neither is given, as RAGFlow
//!   reads it; each named table is a [partition](Connector::partitions)).
//! - **Keyset walk**: rows come in pages of `page_size`, ordered by `id_column` (a full
//!   run) or by `(timestamp_column, id_column)` (a window), each page asked for with
//!   `WHERE key > last key … ORDER BY key LIMIT n` and its values bound as parameters, never
//!   spliced into the SQL; identifiers are quoted per dialect. A full run asks each query
//!   for up to 16 pages (at most 16,000 rows) and cuts its rows into pages as the driver
//!   streams them, each handed on with its own checkpoint before the next is read: one query
//!   a page made the server and the reader take turns, since a page's query can only be sent
//!   once the page before is read (the `rdbms` bench, sessions 55-56). Memory holds the
//!   read-ahead's few pages whatever the table's or the query's size. A statement is not kept
//!   open for a slow sink: once a page waits a second for the sink, the query is left and the
//!   rest of the table is read one page a query (PostgreSQL's snapshot, `statement_timeout`
//!   and a replica's recovery conflicts, MySQL's `max_execution_time` and
//!   `net_write_timeout`, which the connector raises to 10 minutes for its session). A window
//!   reads one page a query. On PostgreSQL the window continues with a row comparison, `(c, id) > ($1, $2)`, one range scan of an index on
//!   `(c, id)`; MariaDB does not range-scan row comparisons, so there it is
//!   `c >= ? AND (c > ? OR id > ?)`, which starts the range at the cursor. Rows sharing a
//!   timestamp across a page boundary are neither lost nor read twice.
//! - **Checkpoints** ([`RdbmsCheckpoint`]): the table and the key of the last row handed on.
//! - **Incremental runs**: a window `[start, end)` on `timestamp_column` (a date/time column
//!   that moves on every change), half-open and exact to the microsecond, each starting
//!   `overlap_seconds` (default 300) before the previous one's end
//!   ([`min_overlap`](Connector::min_overlap)): a row committed late with a time inside a
//!   closed window (PostgreSQL's `now()` is the transaction's start; an application clock
//!   behind this host's) is found by the next. Rows with a NULL `timestamp_column` fall in
//!   no window; full runs read them. Without one, every run reads every row; an unchanged
//!   row costs no delivery (same fingerprint).
//! - **Deleted rows**: [`list_ids`](SlimConnector::list_ids) lists every id (the id column
//!   alone, keyset pages), so prune removes the documents of deleted rows;
//!   [`fetch`](RefetchConnector::fetch) reads rows again by id.
//! - **Documents**: one per row. Id `{source}:{database}:{id}` for a query (RAGFlow's),
//!   `{source}:{database}:{table}:{id}` for tables (RAGFlow's collided across tables),
//!   where `id` is `id_column`, else the table's primary key: its column, or for a key of
//!   several columns the JSON array of their values (`[7, "eu"]`, PostgreSQL's
//!   `json_build_array`, MySQL's `JSON_ARRAY`), computed by the server and compared byte by
//!   byte, which walks the same keyset (ties neither lost nor repeated) but sorts each page
//!   without an index; a table without a primary key is refused naming `id_column`;
//!   title from `title_column`, else the table and id; the content columns as Markdown
//!   (`**column:** value` lines, long or multi-line text under a `## column` heading, JSON
//!   in a code block, binary data as a note of its size, NULLs left out); the metadata
//!   columns typed (numbers, booleans, RFC 3339 times, JSON); `updated_at` from
//!   `timestamp_column`; the fingerprint from everything delivered.
//! - **Time zones**: PostgreSQL `timestamptz` and MySQL `TIMESTAMP` (read in a `+00:00`
//!   session) are instants; PostgreSQL `timestamp` and MySQL `DATETIME` carry no zone and
//!   are read in `timezone`, UTC when unset (as RAGFlow does; a run with such a cursor and
//!   no `timezone` warns once a process for each database and column, naming MySQL's server
//!   zones, unless MySQL reports UTC; a window across a fall-back starts an hour earlier on
//!   the clock); a `date` is its midnight there, and a window holds every day it overlaps
//!   and the day before its start (a date names no instant: an application in another zone
//!   than `timezone` dates its edits up to a day apart).
//!   A query mixing a `TIMESTAMP` into a `DATETIME` yields UTC wall-clock times, which
//!   `timezone` shifts (`CONVERT_TZ` them, or leave `timezone` unset).
//! - **Types**: integers, floats, exact numbers (as their text), text, booleans, dates,
//!   times, timestamps, JSON, UUIDs and any other PostgreSQL type (as its text); binary data
//!   is noted by size, and so is MySQL text in a `_bin` collation whose bytes are not UTF-8
//!   (a query's `CONCAT(slug, CHAR(255))`; the row is kept). MySQL's zero date reads as NULL
//!   (as the driver reads it). A date the server holds that names no day (MySQL's
//!   `2025-01-00`, `2025-02-30`) and PostgreSQL's `infinity` / `-infinity` are the server's
//!   text, and no time as the cursor (no `updated_at`; a window page hands on its rows up
//!   to the last whose cursor reads and the next page goes on from there; after a full page
//!   with none, the next page of a table or a query starts after the value its last row
//!   holds, read by the server). PostgreSQL BC dates are astronomical years (`-0043` for 44
//!   BC). Any other value that cannot be read makes its row a failure naming its id; the
//!   walk goes on.
//! - **Errors**: a rejected user or password is `Unauthenticated` (naming `credentials`), a
//!   server that cannot be reached `Unavailable` or `Timeout` (naming `host`,
//!   `connect_timeout`), a missing database or table `NotFound` (naming `database` or
//!   `tables`), a missing column `Config` naming its field.

mod checkpoint;
mod config;
mod convert;
pub(crate) mod db;
pub(crate) mod decode;
pub(crate) mod page;
pub(crate) mod plan;
pub(crate) mod value;
mod walk;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, ErrorKind,
    RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{RdbmsCheckpoint, RowKey};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_OVERLAP_SECS, DEFAULT_PAGE_SIZE, RdbmsConfig,
    RdbmsCredentials, SslMode,
};
pub use value::Key;

use db::Target;
use plan::Shared;

/// Reads rows of a PostgreSQL or MySQL database as documents. Built by
/// [`postgresql::connector`](crate::postgresql::connector) or
/// [`mysql::connector`](crate::mysql::connector).
pub struct RdbmsConnector {
    shared: Arc<Shared>,
}

impl fmt::Debug for RdbmsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdbmsConnector")
            .field("source", &self.shared.source)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl RdbmsConnector {
    pub(crate) fn build(
        source: &'static str,
        config: RdbmsConfig,
        target: impl FnOnce(&RdbmsConfig) -> Target,
    ) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(source));
        }
        let target = target(&config);
        let shared = Shared {
            source,
            dialect: target.dialect(),
            target,
            query: config.clean_query(),
            timeout: Duration::from_secs(u64::from(config.connect_timeout)),
            config,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &RdbmsConfig {
        &self.shared.config
    }

    fn for_table(&self, table: &str) -> Self {
        let mut shared = (*self.shared).clone();
        shared.config.tables = vec![table.to_owned()].into();
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl fmt::Display for RdbmsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.shared.config;
        write!(f, "{}:{}/{}", self.shared.source, c.host, c.database)
    }
}

#[async_trait]
impl Connector for RdbmsConnector {
    fn source(&self) -> &'static str {
        self.shared.source
    }

    /// `overlap_seconds`: rows committed after a window closed with a time inside it.
    fn min_overlap(&self) -> Duration {
        Duration::from_secs(u64::from(self.shared.config.overlap_seconds))
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .poll_if(self.shared.config.timestamp_column.is_some())
            .slim()
            .refetch()
            .into()
    }

    /// Connects, lists the tables (or takes the query) and asks the server to describe each,
    /// checking every column the config names.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials` for a rejected user or password; `Unavailable`
    /// (connection refused, naming `host`) or `Timeout` (naming `connect_timeout`) for a
    /// server that cannot be reached; `NotFound` naming `database` or `tables` for a missing
    /// database or table; `Config` naming the field of a missing column or a query that does
    /// not run.
    async fn check(&self) -> Result<()> {
        let shared = &self.shared;
        let work = async {
            let mut conn = shared.connect().await?;
            for table in shared.sources(&mut conn).await? {
                shared.plan(&mut conn, table.as_ref()).await?;
            }
            conn.close().await;
            Ok(())
        };
        match tokio::time::timeout(shared.timeout * 2, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                "the database did not answer in time; check `host` and `port`",
            )
            .with_connector(shared.source)
            .with_field("connect_timeout")),
        }
    }

    /// The named tables when there are several.
    fn partitions(&self) -> Vec<String> {
        let c = &self.shared.config;
        if self.shared.query.is_none() && c.tables.len() > 1 {
            c.tables.iter().map(|t| t.trim().to_owned()).collect()
        } else {
            Vec::new()
        }
    }

    /// This connector reading only `partition`, one of [`partitions`](Connector::partitions).
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if !self.partitions().iter().any(|t| t == partition) {
            return None;
        }
        Some(Arc::new(self.for_table(partition)))
    }
}

impl CheckpointedConnector for RdbmsConnector {
    type Checkpoint = RdbmsCheckpoint;

    fn initial_checkpoint(&self) -> RdbmsCheckpoint {
        RdbmsCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: RdbmsCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<RdbmsCheckpoint>>> {
        walk::checkpointed(Arc::clone(&self.shared), from, window, ctx)
    }
}

impl SlimConnector for RdbmsConnector {
    /// Every row's document id (the id column alone, in keyset pages).
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        walk::list_ids(Arc::clone(&self.shared), ctx)
    }
}

impl RefetchConnector for RdbmsConnector {
    /// These rows again; an id naming no row yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        walk::refetch(Arc::clone(&self.shared), ids, ctx)
    }
}
