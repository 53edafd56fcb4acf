//! The BigQuery connector (source `"bigquery"`): the rows of a table or of a GoogleSQL query
//! as documents, with RAGFlow's `bigquery` config.
//!
//! - **Queries**: `jobs.query` (`POST projects/{project}/queries`) with `useLegacySql: false`
//!   and named, typed `queryParameters` (`TIMESTAMP`, `DATETIME`, `DATE`, `INT64`, `STRING`,
//!   `NUMERIC`): no value is ever spliced into the SQL; identifiers are validated and quoted
//!   with backticks. A table is read as ``SELECT * FROM `project.dataset.table` ``, a query
//!   as a subquery. Every job carries `maximumBytesBilled` (default 1 GiB, as RAGFlow): a job
//!   that would bill more fails before it runs, without cost, naming `maximum_bytes_billed`.
//!   `location`, `jobTimeoutMs`, `useQueryCache` and a `requestId` (so a retried POST runs
//!   one job) go with it. While `jobComplete` is false the job is awaited with
//!   `jobs.getQueryResults` (`GET projects/{project}/queries/{jobId}?location=`), which then
//!   pages the results by `pageToken`, `page_size` rows (`maxResults`) a page. The wait is
//!   bounded: `job_timeout_ms` (BigQuery's six hours when unset) plus a tenth of it (2 s to
//!   5 min), then `Timeout` naming `job_timeout_ms`. A job left unfinished, by that timeout,
//!   an error, the sync's cancellation or the stream dropped, is cancelled (`jobs.cancel`,
//!   `POST projects/{project}/jobs/{jobId}/cancel?location=`, with a token of the
//!   `bigquery` scope that call alone uses), so no billed job runs on for nobody.
//! - **Keyset walk**: the same `(cursor, id)` keyset as the PostgreSQL and MySQL sources
//!   ([`connector_core::rows`]): rows ordered by `id_column` (a full run) or by
//!   `(timestamp_column, id_column)` (a window `[start, end)`), `WHERE c > @after_cursor OR
//!   (c = @after_cursor AND id > @after_id)`. One job returns at most `rows_per_query` rows
//!   (its `LIMIT`), read page by page; the next job continues after its last row. Each job
//!   bills its scan once, so the walk bills `rows / rows_per_query` scans (a `LIMIT` per
//!   result page would bill one per page). Each page is a checkpoint ([`BigQueryCheckpoint`],
//!   the key of its last row); a resumed run starts a new job after it. A numeric
//!   `timestamp_column` (RAGFlow's `INT64`/`NUMERIC`/`FLOAT64` cursors) bounds no time
//!   window: a windowed run then reads every row by id.
//! - **Schema**: learnt by a dry run (free: nothing read or billed) of the table or query,
//!   which also checks every column the config names; `check()` is that dry run, and it
//!   refuses (`Config` naming `maximum_bytes_billed`) a table or query whose read of every
//!   row processes more than the cap: each full sync would be refused.
//! - **NULLs**: a row whose `id_column` is NULL (or unreadable) is no document: it is a
//!   failure (`Unsupported`, no id) naming the row by its title, cursor value and a hash of
//!   its values, and the walk goes on. NULLs sort first, so the first job reads them; a
//!   job of nothing else makes one failure counting them, and the walk reads the rest. A
//!   row whose `timestamp_column` is NULL is a document without `updated_at`; windows hold
//!   every such row (no window can tell when it changed; unchanged ones are skipped by
//!   their fingerprints), read first, keyed by id, so they never stall the keyset.
//! - **Types**: rows come as `{"f": [{"v": ...}]}` and are read by the schema: `INT64`,
//!   `FLOAT64`, `BOOL`, `NUMERIC`/`BIGNUMERIC` (as their text), `TIMESTAMP` (asked as
//!   microseconds, `formatOptions.useInt64Timestamp`; float seconds read too), `DATETIME`
//!   (read in `timezone`, UTC by default), `DATE`, `TIME`, `BYTES` (noted by size), `JSON`, `GEOGRAPHY` (its WKT),
//!   `RECORD` (a JSON object) and `REPEATED` (a JSON array). A value that cannot be read
//!   makes its row a failure; the walk goes on.
//! - **Ids**: `id_column`; without it, a table's primary key (`tables.get`,
//!   `tableConstraints.primaryKey`; one of several columns is computed as
//!   `TO_JSON_STRING(STRUCT(...))`), and a table without one is refused naming
//!   `id_column`; a query without it names each row by a hash of its values
//!   (`TO_HEX(MD5(TO_JSON_STRING(src)))`, computed by BigQuery), as RAGFlow does, so an edited
//!   row is a new document and its old one goes at the next prune (each run warns once). A
//!   computed id is selected after the row's columns and walks the same keyset, so rows
//!   sharing a cursor value are neither lost nor repeated.
//! - **Documents**: one per row, rendered as the database sources render theirs: id
//!   `bigquery:{project}.{dataset}.{table}:{id}` or `bigquery:{project}.query-{hash}:{id}`
//!   (the hash of the query: another query is another set of rows), title from
//!   `title_column`, else the table and id; the content columns as Markdown, the metadata
//!   columns typed; `updated_at` from `timestamp_column`. BigQuery exposes no per-row access,
//!   so documents carry none (the host's own rules apply).
//! - **Deleted rows**: [`list_ids`](SlimConnector::list_ids) lists every id (the id column
//!   alone), so prune removes the documents of deleted rows;
//!   [`fetch`](RefetchConnector::fetch) reads rows again by id (`IN UNNEST(@ids)`).
//! - **Errors**: `rateLimitExceeded` and `quotaExceeded` (403) and 429 are retried, honouring
//!   `Retry-After`, then `RateLimited`; `bytesBilledLimitExceeded` is `Config` naming
//!   `maximum_bytes_billed`; `invalidQuery` `Config` naming `query` (or `table_id`);
//!   `notFound` (a dataset, table or wrong location) `NotFound` naming them; `accessDenied`
//!   `PermissionDenied` and a refused key `Unauthenticated`, naming
//!   `credentials.service_account_json`.

mod checkpoint;
mod client;
mod config;
mod model;
mod walk;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, CredentialStore, Error,
    RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::BigQueryCheckpoint;
pub use config::{
    BigQueryConfig, BigQueryCredentials, DEFAULT_BIGQUERY_BASE_URL, DEFAULT_MAXIMUM_BYTES_BILLED,
    DEFAULT_OVERLAP_SECS, DEFAULT_PAGE_SIZE, DEFAULT_ROWS_PER_QUERY,
};

use client::BigQueryClient;

/// The registry key of the BigQuery connector.
pub const SOURCE: &str = "bigquery";

/// Reads the rows of a BigQuery table or query as documents.
pub struct BigQueryConnector {
    client: BigQueryClient,
}

impl BigQueryConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// `Config` naming each invalid field.
    pub fn new(config: BigQueryConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        Ok(Self {
            client: BigQueryClient::new(config)?,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &BigQueryConfig {
        &self.client.config
    }
}

impl fmt::Debug for BigQueryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQueryConnector")
            .field("config", &self.client.config)
            .finish()
    }
}

impl fmt::Display for BigQueryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.client.config;
        match (c.clean_query(), c.dataset(), c.table_name()) {
            (None, Some(d), Some(t)) => write!(f, "{SOURCE}:{}.{d}.{t}", c.project_id.trim()),
            _ => write!(f, "{SOURCE}:{} (query)", c.project_id.trim()),
        }
    }
}

#[async_trait]
impl Connector for BigQueryConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// `overlap_seconds`: rows written after a window closed with a time inside it.
    fn min_overlap(&self) -> Duration {
        Duration::from_secs(u64::from(self.client.config.overlap_seconds))
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .poll_if(self.client.config.timestamp_column.is_some())
            .slim()
            .refetch()
            .into()
    }

    /// A dry run of the table or query (free): the key, the project, the query, every
    /// column the config names, and the bytes a read of every row would process against
    /// `maximum_bytes_billed`.
    ///
    /// # Errors
    /// `Unauthenticated` / `PermissionDenied` naming `credentials.service_account_json`;
    /// `NotFound` naming `table_id` or `query`; `Config` naming the field of a missing
    /// column or a query that does not parse, or naming `maximum_bytes_billed` when the dry
    /// run reads more (each full sync would be refused).
    async fn check(&self) -> Result<()> {
        self.client.checked_plan().await.map(|_| ())
    }

    /// Only an OAuth user token rotates; a service-account key never does.
    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.client.api.set_credential_store(store)
    }
}

impl CheckpointedConnector for BigQueryConnector {
    type Checkpoint = BigQueryCheckpoint;

    fn initial_checkpoint(&self) -> BigQueryCheckpoint {
        BigQueryCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: BigQueryCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BigQueryCheckpoint>>> {
        walk::checkpointed(self.client.with_context(&ctx), from, window, ctx)
    }
}

impl SlimConnector for BigQueryConnector {
    /// Every row's document id (the id column alone).
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        walk::list_ids(self.client.with_context(&ctx), ctx)
    }
}

impl RefetchConnector for BigQueryConnector {
    /// These rows again; an id naming no row yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        walk::refetch(self.client.with_context(&ctx), ids, ctx)
    }
}
