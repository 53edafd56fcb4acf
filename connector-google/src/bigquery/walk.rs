//! The plan (which column is what, from a dry run's schema), the keyset SQL with its typed
//! parameters, and the walks: checkpointed pages, the id listing for prune, and the refetch
//! of rows by id.

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use connector_core::pages::{Outcome, read_ahead};
use connector_core::rows::{Key, Row, RowKey, RowLayout, Value};
use connector_core::window::Zone;
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value as Json, json};

use super::SOURCE;
use super::checkpoint::BigQueryCheckpoint;
use super::client::{BigQueryClient, Query};
use super::model::{Field, QueryResponse};

/// Ids asked per refetch query.
const REFETCH_CHUNK: usize = 500;

/// How the id column's values are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdType {
    Int64,
    String,
    Numeric,
    BigNumeric,
}

impl IdType {
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            "INTEGER" | "INT64" => Self::Int64,
            "STRING" => Self::String,
            "NUMERIC" | "DECIMAL" => Self::Numeric,
            "BIGNUMERIC" | "BIGDECIMAL" => Self::BigNumeric,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Int64 => "INT64",
            Self::String => "STRING",
            Self::Numeric => "NUMERIC",
            Self::BigNumeric => "BIGNUMERIC",
        }
    }

    /// The key written in a document id, parsed back (a refetch).
    fn parse(self, text: &str) -> Option<Key> {
        match self {
            Self::Int64 => text.parse().ok().map(Key::Int),
            _ => Some(Key::Text(text.to_owned())),
        }
    }
}

/// The types of a `timestamp_column` RAGFlow accepts that are no time.
const NUMERIC_CURSORS: &[&str] = &[
    "INTEGER",
    "INT64",
    "NUMERIC",
    "DECIMAL",
    "BIGNUMERIC",
    "BIGDECIMAL",
    "FLOAT",
    "FLOAT64",
];

/// How the cursor column's values are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorType {
    Timestamp,
    DateTime,
    Date,
}

impl CursorType {
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            "TIMESTAMP" => Self::Timestamp,
            "DATETIME" => Self::DateTime,
            "DATE" => Self::Date,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Timestamp => "TIMESTAMP",
            Self::DateTime => "DATETIME",
            Self::Date => "DATE",
        }
    }

    /// `t` as this type's literal: a `DATETIME` or `DATE` as its wall-clock time in `zone`.
    fn literal(self, t: DateTime<Utc>, zone: Zone) -> Option<String> {
        Some(match self {
            Self::Timestamp => self.format(t),
            _ => self.format(zone.wall_clock(t)?.and_utc()),
        })
    }

    /// `t` as a window bound: `None` outside BigQuery's years (the window is open on that
    /// side); a `DATETIME` compares with `t`'s wall-clock time in `zone`, a `DATE` with the
    /// first midnight at or after it.
    fn bound(self, t: DateTime<Utc>, zone: Zone) -> Option<String> {
        if !(1..=9999).contains(&t.year()) {
            return None;
        }
        let t = match self {
            Self::Timestamp => t,
            _ => zone.wall_clock(t)?.and_utc(),
        };
        if !(1..=9999).contains(&t.year()) {
            return None;
        }
        let t = match self {
            Self::Date => {
                let midnight = t.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
                if midnight == t {
                    t
                } else {
                    midnight + TimeDelta::days(1)
                }
            }
            _ => t,
        };
        Some(self.format(t))
    }

    /// `t` (for a `DATETIME` or `DATE`, a wall-clock time carried as UTC) as a literal.
    fn format(self, t: DateTime<Utc>) -> String {
        match self {
            Self::Timestamp => t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(),
            Self::DateTime => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            Self::Date => t.format("%Y-%m-%d").to_string(),
        }
    }
}

/// A named scalar query parameter.
fn param(name: &str, kind: &str, value: String) -> Json {
    json!({"name": name, "parameterType": {"type": kind}, "parameterValue": {"value": value}})
}

/// GoogleSQL's quoting of one identifier (validated: no backtick, backslash or control).
fn quote(name: &str) -> String {
    format!("`{name}`")
}

/// A document id made of a hash of the row's values, as GoogleSQL computes it: `src` is
/// the row as a `STRUCT`, its JSON text hashed (MD5, as RAGFlow's content hash) and written
/// in hex.
const ROW_HASH: &str = "TO_HEX(MD5(TO_JSON_STRING(src)))";

/// The name a computed id is selected under, after the row's own columns.
const ID_ALIAS: &str = "_connector_id";

/// What names each row.
enum IdSource {
    /// `id_column`, or the table's one-column primary key.
    Column(String),
    /// The table's primary key of several columns.
    Key(Vec<String>),
    /// Nothing: a hash of the row's values (a query without `id_column`).
    RowHash,
}

/// How the rows are read: the columns the config names, found in the schema.
#[derive(Debug)]
pub(crate) struct Plan {
    layout: RowLayout,
    schema: Vec<Field>,
    /// `bigquery:{project}.{dataset}.{table}:` or `bigquery:{project}.query-{hash}:`.
    prefix: String,
    /// `(base) AS src`, the base on lines of its own.
    from: String,
    id_index: usize,
    /// The id column's name, or what stands for it (for messages).
    id_name: String,
    id_type: IdType,
    /// The id as SQL: the quoted column, or the expression computing it (a composite
    /// primary key, a hash of the row's values).
    id_expr: String,
    /// What a page selects: `src.*`, and the computed id after the row's columns.
    select: String,
    /// Documents are named by a hash of their row's values (a query without `id_column`).
    row_hash: bool,
    cursor: Option<(usize, String, CursorType)>,
    /// The zone of zone-less cursor values (`timezone`).
    zone: Zone,
    /// The bytes a read of every row processes, by the dry run (`totalBytesProcessed`).
    estimate: Option<u64>,
}

impl BigQueryClient {
    /// The table's or query's `SELECT` and the document ids' prefix.
    fn base(&self) -> (String, String) {
        let c = &self.config;
        let project = c.project_id.trim();
        match c.clean_query() {
            Some(q) => {
                let hash = connector_core::ids::hash128(&q);
                (q, format!("bigquery:{project}.query-{}:", &hash[..12]))
            }
            None => {
                let dataset = c.dataset().unwrap_or_default();
                let table = c.table_name().unwrap_or_default();
                (
                    format!(
                        "SELECT * FROM {}",
                        quote(&format!("{project}.{dataset}.{table}"))
                    ),
                    format!("bigquery:{project}.{dataset}.{table}:"),
                )
            }
        }
    }

    fn problem(&self, field: &str, message: String) -> Error {
        Error::new(ErrorKind::Config, message)
            .with_connector(SOURCE)
            .with_field(field)
    }

    /// Learns the columns from a dry run (free: nothing is read or billed) and checks each
    /// column the config names.
    ///
    /// # Errors
    /// BigQuery's (see [`query`](BigQueryClient::query)); `Config` naming the field of a
    /// column that is not there or cannot serve.
    pub(crate) async fn plan(&self) -> Result<Plan> {
        let (base, prefix) = self.base();
        // The query on lines of its own: a trailing `-- note` or `# note` would otherwise
        // comment out the `) AS src` after it.
        let from = format!("(\n{base}\n) AS src");
        let probe = Query {
            sql: format!("SELECT * FROM {from}"),
            params: Vec::new(),
        };
        let dry = self.query(&probe, 0, true).await?;
        let estimate = dry
            .total_bytes_processed
            .as_deref()
            .and_then(|b| b.parse().ok());
        let schema = dry.schema.map(|s| s.fields).unwrap_or_default();
        let what = if self.config.clean_query().is_some() {
            "the query"
        } else {
            "the table"
        };
        let index = |field: &str, name: &str| -> Result<usize> {
            let name = name.trim();
            schema
                .iter()
                .position(|f| f.name == name)
                .or_else(|| {
                    schema
                        .iter()
                        .position(|f| f.name.eq_ignore_ascii_case(name))
                })
                .ok_or_else(|| self.problem(field, format!("{what} has no column `{name}`")))
        };
        let id = match self.config.id_column.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => IdSource::Column(c.to_owned()),
            _ => match (
                self.config.clean_query(),
                self.config.dataset(),
                self.config.table_name(),
            ) {
                (None, Some(d), Some(t)) => {
                    let mut key = self.primary_key(d, t).await?;
                    match key.len() {
                        0 => {
                            return Err(self.problem(
                                "id_column",
                                format!(
                                    "table `{d}.{t}` has no primary key: name a unique column of its rows in `id_column`"
                                ),
                            ));
                        }
                        1 => IdSource::Column(key.remove(0)),
                        _ => IdSource::Key(key),
                    }
                }
                _ => IdSource::RowHash,
            },
        };
        // The columns that make the id (left out of the default content).
        let mut key_columns = Vec::new();
        let (id_index, id_name, id_type, id_expr) = match &id {
            IdSource::Column(c) => {
                let i = index("id_column", c)?;
                let f = &schema[i];
                let t = match IdType::of(&f.kind) {
                    Some(t) if f.mode.as_deref() != Some("REPEATED") => t,
                    _ => {
                        return Err(self.problem(
                            "id_column",
                            format!(
                                "`{}` is {}: an id must be INT64, STRING, NUMERIC or BIGNUMERIC",
                                f.name, f.kind
                            ),
                        ));
                    }
                };
                key_columns.push(i);
                (i, f.name.clone(), t, format!("src.{}", quote(&f.name)))
            }
            IdSource::Key(columns) => {
                let mut parts = Vec::new();
                for c in columns {
                    let i = index("id_column", c)?;
                    key_columns.push(i);
                    parts.push(format!("src.{}", quote(&schema[i].name)));
                }
                (
                    schema.len(),
                    format!("primary key ({})", columns.join(", ")),
                    IdType::String,
                    // `{"region":"eu","id":7}`: the key's values by name, one string.
                    format!("TO_JSON_STRING(STRUCT({}))", parts.join(", ")),
                )
            }
            IdSource::RowHash => (
                schema.len(),
                "row hash".to_owned(),
                IdType::String,
                ROW_HASH.to_owned(),
            ),
        };
        // A number (RAGFlow's INT64, NUMERIC and FLOAT cursors: a version, an epoch of an
        // unknown unit) cannot be compared with a time window: such a column is left out of
        // the content and every run, windowed or not, reads every row by id.
        let mut numeric_cursor = None;
        let cursor = match &self.config.timestamp_column {
            Some(c) => {
                let i = index("timestamp_column", c)?;
                let f = &schema[i];
                let repeated = f.mode.as_deref() == Some("REPEATED");
                match CursorType::of(&f.kind) {
                    Some(t) if !repeated => Some((i, f.name.clone(), t)),
                    None if !repeated && NUMERIC_CURSORS.contains(&f.kind.as_str()) => {
                        numeric_cursor = Some(i);
                        None
                    }
                    _ => {
                        return Err(self.problem(
                            "timestamp_column",
                            format!(
                                "`{}` is {}, not a TIMESTAMP, DATETIME, DATE or a number",
                                f.name, f.kind
                            ),
                        ));
                    }
                }
            }
            None => None,
        };
        let mut layout = RowLayout::new(SOURCE, schema.iter().map(|f| f.name.clone()).collect());
        layout.content = if self.config.content_columns.is_empty() {
            let mut except = key_columns;
            except.extend(cursor.as_ref().map(|c| c.0));
            except.extend(numeric_cursor);
            layout.all_but(&except)
        } else {
            self.config
                .content_columns
                .iter()
                .map(|c| index("content_columns", c))
                .collect::<Result<Vec<_>>>()?
        };
        layout.metadata = self
            .config
            .metadata_columns
            .iter()
            .map(|c| index("metadata_columns", c))
            .collect::<Result<Vec<_>>>()?;
        // Each row's metadata then fills by appends (a user may list many columns).
        layout.sort_metadata();
        layout.title = match &self.config.title_column {
            Some(c) => Some(index("title_column", c)?),
            None => None,
        };
        layout.cursor = cursor.as_ref().map(|c| c.0);
        layout.table = match (self.config.dataset(), self.config.table_name()) {
            (Some(d), Some(t)) if self.config.clean_query().is_none() => Some(format!("{d}.{t}")),
            _ => None,
        };
        let computed = id_index == schema.len();
        let mut schema = schema;
        let select = if computed {
            // The computed id comes after the row's columns, read as text.
            schema.push(Field {
                name: ID_ALIAS.to_owned(),
                kind: "STRING".to_owned(),
                mode: None,
                fields: Vec::new(),
            });
            format!("src.*, {id_expr} AS `{ID_ALIAS}`")
        } else {
            "src.*".to_owned()
        };
        Ok(Plan {
            id_name,
            layout,
            schema,
            prefix,
            from,
            id_index,
            id_type,
            id_expr,
            select,
            row_hash: matches!(id, IdSource::RowHash),
            cursor,
            zone: self.config.zone(),
            estimate,
        })
    }

    /// The plan, refused when reading every row would process more than
    /// `maximum_bytes_billed` (by the dry run's estimate): every full run would then fail
    /// with `bytesBilledLimitExceeded`. A windowed query of a partitioned table may read
    /// less, but each sync starts with a full run.
    ///
    /// # Errors
    /// As [`plan`](Self::plan); `Config` naming `maximum_bytes_billed` over the cap.
    pub(crate) async fn checked_plan(&self) -> Result<Plan> {
        let plan = self.plan().await?;
        let cap = self.config.maximum_bytes_billed();
        if let Some(bytes) = plan.estimate
            && bytes > cap
        {
            let what = if self.config.clean_query().is_some() {
                "the query"
            } else {
                "the table"
            };
            return Err(self.problem(
                "maximum_bytes_billed",
                format!(
                    "reading every row of {what} processes {bytes} bytes (the dry run's estimate), more than maximum_bytes_billed ({cap}): each full sync would be refused with bytesBilledLimitExceeded; raise maximum_bytes_billed or read fewer columns"
                ),
            ));
        }
        Ok(plan)
    }
}

impl Plan {
    /// A document id from a key.
    pub(crate) fn doc_id(&self, key: &Key) -> String {
        format!("{}{key}", self.prefix)
    }

    fn id_param(&self, name: &str, key: &Key) -> Json {
        param(name, self.id_type.name(), key.to_string())
    }

    /// The query of the rows after `after` in key order (`id`, or `(cursor, id)` in a
    /// window), at most `limit`; `ids_only` selects the id column alone; `keyless` admits
    /// rows whose id is NULL (each becomes a failure naming it).
    ///
    /// GoogleSQL sorts NULLs first in an ascending order, so rows with a NULL id come
    /// before every other (in a window: before the others of their cursor value) and rows
    /// with a NULL cursor before every dated one: the keyset reads each once. A window
    /// holds its dated rows and every row without a time (no window could tell when such
    /// a row changed; unchanged ones are skipped by their fingerprints).
    fn page(
        &self,
        window: Option<&TimeWindow>,
        after: Option<&RowKey>,
        limit: u32,
        ids_only: bool,
        keyless: bool,
    ) -> Query {
        let id = self.id_expr.clone();
        let mut params = Vec::new();
        let mut conditions = Vec::new();
        if ids_only || !keyless {
            conditions.push(format!("{id} IS NOT NULL"));
        }
        let order = match (window, &self.cursor) {
            (Some(w), Some((_, name, kind))) => {
                let col = format!("src.{}", quote(name));
                let mut bounds = Vec::new();
                if let Some(v) = kind.bound(w.start, self.zone) {
                    bounds.push(format!("{col} >= @window_start"));
                    params.push(param("window_start", kind.name(), v));
                }
                if let Some(v) = kind.bound(w.end, self.zone) {
                    bounds.push(format!("{col} < @window_end"));
                    params.push(param("window_end", kind.name(), v));
                }
                if !bounds.is_empty() {
                    conditions.push(format!("({col} IS NULL OR ({}))", bounds.join(" AND ")));
                }
                if let Some(a) = after {
                    match a.cursor {
                        Some(c) => {
                            if let Some(literal) = kind.literal(c, self.zone) {
                                conditions.push(format!(
                                    "({col} > @after_cursor OR ({col} = @after_cursor AND {id} > @after_id))"
                                ));
                                params.push(param("after_cursor", kind.name(), literal));
                                params.push(self.id_param("after_id", &a.id));
                            }
                        }
                        // Among the rows without a time, which come first.
                        None => {
                            conditions.push(format!(
                                "(({col} IS NULL AND {id} > @after_id) OR {col} IS NOT NULL)"
                            ));
                            params.push(self.id_param("after_id", &a.id));
                        }
                    }
                }
                format!("{col}, {id}")
            }
            _ => {
                if let Some(a) = after {
                    conditions.push(format!("{id} > @after_id"));
                    params.push(self.id_param("after_id", &a.id));
                }
                id.clone()
            }
        };
        let select = if ids_only {
            id.as_str()
        } else {
            self.select.as_str()
        };
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        Query {
            sql: format!(
                "SELECT {select} FROM {}{filter} ORDER BY {order} LIMIT {limit}",
                self.from
            ),
            params,
        }
    }

    /// The rows whose ids are `keys`.
    fn by_ids(&self, keys: &[Key]) -> Query {
        let values: Vec<Json> = keys
            .iter()
            .map(|k| json!({"value": k.to_string()}))
            .collect();
        Query {
            sql: format!(
                "SELECT {} FROM {} WHERE {} IN UNNEST(@ids)",
                self.select, self.from, self.id_expr
            ),
            params: vec![json!({
                "name": "ids",
                "parameterType": {"type": "ARRAY", "arrayType": {"type": self.id_type.name()}},
                "parameterValue": {"arrayValues": values},
            })],
        }
    }

    /// The key of `row` (the id column at `index`).
    fn key(&self, row: &Row, index: usize) -> std::result::Result<Key, String> {
        match row.get(index) {
            Some(Ok(v)) => v
                .key()
                .ok_or_else(|| format!("`{}` is NULL or not a key: {v:?}", self.id_name)),
            Some(Err(e)) => Err(format!("`{}` cannot be read: {e}", self.id_name)),
            None => Err(format!("`{}` is not in the row", self.id_name)),
        }
    }

    /// The row's cursor value: `Err` for one that is no time.
    fn cursor_of(&self, row: &Row) -> std::result::Result<Option<DateTime<Utc>>, String> {
        match &self.cursor {
            Some((i, name, _)) => match row.get(*i) {
                Some(Ok(v)) => v
                    .instant(self.zone)
                    .map_err(|_| format!("`timestamp_column` `{name}` holds {v:?}, not a time")),
                _ => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Where the walk stands after `row`: its key (and, in a window, its cursor value:
    /// `None` for NULL); `None` when the row cannot place the walk (an id that is NULL or
    /// unreadable, a cursor that is unreadable).
    fn position(&self, row: &Row, id_index: usize, windowed: bool) -> Option<RowKey> {
        let id = self.key(row, id_index).ok()?;
        let cursor = match (&self.cursor, windowed) {
            (Some((i, _, _)), true) => match row.get(*i) {
                Some(Ok(Value::Null)) => None,
                Some(Ok(v)) => Some(v.instant(self.zone).ok()??),
                _ => return None,
            },
            _ => None,
        };
        Some(RowKey::new(id, cursor))
    }

    /// One row as a document, or a failure naming it. A row without a readable id cannot
    /// be a document: its failure names it by its title, cursor and a hash of its values,
    /// and has no id to fetch it again by. It is `Unsupported` (no later window can read it
    /// either, only an edit of the row can), so it does not hold incremental windows back.
    fn convert(&self, row: &Row) -> Outcome {
        let key = match self.key(row, self.id_index) {
            Ok(k) => k,
            Err(why) => {
                return Outcome::from(Failure::new(
                    None,
                    ErrorKind::Unsupported,
                    format!(
                        "a row of {} has no id, so it is no document until it has one ({why}; id_column): {}",
                        self.what(),
                        self.describe(row)
                    ),
                ));
            }
        };
        let id = self.doc_id(&key);
        let rendered = self
            .cursor_of(row)
            .and_then(|cursor| self.layout.render(row, &id, &key, cursor));
        match rendered {
            Ok(d) => Outcome::from(d),
            Err(message) => Outcome::from(Failure::new(
                Some(id.clone()),
                ErrorKind::InvalidData,
                format!("row {id}: {message}"),
            )),
        }
    }

    /// What the rows come from: `shop.products`, or `the query` (for messages).
    fn what(&self) -> &str {
        self.layout.table.as_deref().unwrap_or("the query")
    }

    /// A row without an id, as a person finds it: its title (or first content value), its
    /// cursor value and a hash of every value.
    fn describe(&self, row: &Row) -> String {
        let text = |i: usize| -> Option<String> {
            let v = row.get(i)?.as_ref().ok()?.text()?;
            let line: String = v
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect();
            (!line.trim().is_empty()).then(|| format!("`{}` = {line:?}", self.layout.names()[i]))
        };
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = self
            .layout
            .title
            .into_iter()
            .chain(self.layout.content.iter().copied())
            .find_map(text)
        {
            parts.push(t);
        }
        if let Some(c) = self.cursor.as_ref().and_then(|(i, _, _)| text(*i)) {
            parts.push(c);
        }
        let hash = connector_core::ids::hash128(&format!("{row:?}"));
        parts.push(format!("values #{}", &hash[..12]));
        parts.join(", ")
    }

    /// The rows of a response, taken out of it and read by its schema (the plan's when it
    /// has none).
    fn rows(&self, page: &QueryResponse) -> Result<Vec<Row>> {
        let schema = page
            .schema
            .as_ref()
            .map_or(self.schema.as_slice(), |s| s.fields.as_slice());
        page.rows(schema)
            .map_err(|m| Error::new(ErrorKind::InvalidData, m).with_connector(SOURCE))
    }
}

fn listing_error(message: String) -> Error {
    Error::new(ErrorKind::InvalidData, message)
        .with_connector(SOURCE)
        .with_field("id_column")
}

/// One result page before conversion: its rows, the key after it and whether it ends the
/// walk.
struct RawPage {
    rows: Vec<Row>,
    after: Option<RowKey>,
    done: bool,
    /// A failure of the walk's own (rows it had to pass over unread).
    note: Option<Failure>,
}

/// The pages of `plan`'s rows after `after`: one query job per `rows_per_query` rows (its
/// `LIMIT`), each read page by page (`pageToken`), the next job continuing after the last
/// row read. `ids_only` reads the id column alone (its index is then 0).
fn pages(
    client: BigQueryClient,
    plan: Arc<Plan>,
    window: Option<TimeWindow>,
    mut after: Option<RowKey>,
    ids_only: bool,
    ctx: SyncContext,
) -> BoxStream<'static, Result<RawPage>> {
    async_stream::try_stream! {
        let limit = client.config.rows_per_query.get();
        let page_size = client.config.page_size.get().min(limit);
        let id_index = if ids_only { 0 } else { plan.id_index };
        let windowed = window.is_some() && !ids_only;
        // Rows with a NULL id are read (and reported) unless a whole job held nothing else.
        let mut keyless = !ids_only;
        loop {
            ctx.cancellation().check()?;
            let query = plan.page(window.as_ref(), after.as_ref(), limit, ids_only, keyless);
            let mut page = client.query(&query, page_size, false).await?;
            let job = page.job_reference.clone().unwrap_or_default();
            let before = after.clone();
            let mut read: u64 = 0;
            loop {
                let rows = plan.rows(&page)?;
                read += rows.len() as u64;
                if ids_only && let Some(last) = rows.last() {
                    // Prune's listing holds ids only: one that does not read ends it.
                    after = Some(RowKey::new(plan.key(last, id_index).map_err(listing_error)?, None));
                } else if let Some(key) = rows.iter().rev().find_map(|r| plan.position(r, id_index, windowed)) {
                    after = Some(key);
                }
                let token = page.page_token.clone().filter(|t| !t.is_empty());
                let done = token.is_none() && read < u64::from(limit);
                yield RawPage { rows, after: after.clone(), done, note: None };
                match token {
                    Some(t) => {
                        ctx.cancellation().check()?;
                        page = client.results(&job, Some(&t), page_size).await?;
                    }
                    None => break,
                }
            }
            if read < u64::from(limit) {
                break;
            }
            if after == before {
                // A whole job of rows that cannot place the walk: the next job would read
                // them again, for ever.
                if keyless {
                    keyless = false;
                    let note = Failure::new(
                        None,
                        ErrorKind::Unsupported,
                        format!(
                            "{} has more rows with a NULL or unreadable id (id_column) than one query job reads (rows_per_query, {limit}): those reported are the first; the others are passed over",
                            plan.what()
                        ),
                    );
                    yield RawPage { rows: Vec::new(), after: after.clone(), done: false, note: Some(note) };
                    continue;
                }
                Err(listing_error(format!(
                    "a whole query job of {limit} rows of {} held no row whose id (and cursor) can be read; the walk cannot go past them (raise rows_per_query)",
                    plan.what()
                )))?;
            }
        }
    }
    .boxed()
}

/// Every row after `from`, page by page, each with the checkpoint after it. Pages are
/// fetched one ahead ([`read_ahead`]) while the current one is converted.
pub(crate) fn checkpointed(
    client: BigQueryClient,
    from: BigQueryCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<BigQueryCheckpoint>>> {
    let raw = async_stream::try_stream! {
        if window.is_some_and(|w| w.is_empty()) || from.done {
            return;
        }
        if window.is_some() && client.config.timestamp_column.is_none() {
            Err(Error::new(ErrorKind::Unsupported, "a time window needs `timestamp_column`")
                .with_connector(SOURCE)
                .with_field("timestamp_column"))?;
        }
        let plan = Arc::new(client.plan().await?);
        if plan.row_hash {
            tracing::warn!(
                connector = SOURCE,
                "the query has no `id_column`: each row's document id is a hash of its values, so an edited row is a new document and its old one goes at the next prune; name a unique column in `id_column` to keep ids stable"
            );
        }
        // A numeric `timestamp_column` bounds no window: the window reads every row.
        let window = window.filter(|_| plan.cursor.is_some());
        let mut inner = pages(client, Arc::clone(&plan), window, from.after, false, ctx);
        while let Some(page) = inner.next().await {
            yield (Arc::clone(&plan), page?);
        }
    };
    read_ahead(raw.boxed())
        .map(|item| {
            let (plan, page) = item?;
            let mut batch = Batch::default();
            for row in &page.rows {
                batch.push(plan.convert(row));
            }
            batch.failures.extend(page.note);
            Ok(CheckpointedBatch::new(
                batch,
                BigQueryCheckpoint {
                    after: page.after,
                    done: page.done,
                },
            ))
        })
        .boxed()
}

/// Every document id; fails rather than come back short.
pub(crate) fn list_ids(
    client: BigQueryClient,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        let plan = Arc::new(client.plan().await?);
        let mut inner = pages(client, Arc::clone(&plan), None, None, true, ctx);
        while let Some(page) = inner.next().await {
            let page = page?;
            let ids = page
                .rows
                .iter()
                .map(|row| plan.key(row, 0).map(|k| SlimDocument { id: plan.doc_id(&k) }))
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(listing_error)?;
            if !ids.is_empty() {
                yield ids;
            }
        }
    }
    .boxed()
}

/// The rows named by `ids`; an id that names no row (or another connector's) yields nothing.
pub(crate) fn refetch(
    client: BigQueryClient,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    async_stream::try_stream! {
        let (_, prefix) = client.base();
        let wanted: Vec<String> = ids
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let plan = client.plan().await?;
        let keys: Vec<Key> = wanted.iter().filter_map(|k| plan.id_type.parse(k)).collect();
        let page_size = client.config.page_size.get();
        for chunk in keys.chunks(REFETCH_CHUNK) {
            ctx.cancellation().check()?;
            let mut page = client.query(&plan.by_ids(chunk), page_size, false).await?;
            let job = page.job_reference.clone().unwrap_or_default();
            loop {
                let mut batch = Batch::default();
                for row in plan.rows(&page)? {
                    batch.push(plan.convert(&row));
                }
                yield batch;
                match page.page_token.clone().filter(|t| !t.is_empty()) {
                    Some(t) => page = client.results(&job, Some(&t), page_size).await?,
                    None => break,
                }
            }
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_literals() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T10:00:00.5Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let utc = Zone::utc();
        assert_eq!(
            CursorType::Timestamp.literal(t, utc).as_deref(),
            Some("2025-03-01 10:00:00.500000+00:00")
        );
        assert_eq!(
            CursorType::DateTime.literal(t, utc).as_deref(),
            Some("2025-03-01 10:00:00.500000")
        );
        assert_eq!(
            CursorType::Date.bound(t, utc).as_deref(),
            Some("2025-03-02")
        );
        assert_eq!(
            CursorType::Timestamp.bound(DateTime::<Utc>::MAX_UTC, utc),
            None
        );
        // A zone-less cursor compares with the wall-clock time where it was written; an
        // instant stays an instant.
        let ny = Zone::named("America/New_York").unwrap_or_else(Zone::utc);
        assert_eq!(
            CursorType::DateTime.literal(t, ny).as_deref(),
            Some("2025-03-01 05:00:00.500000")
        );
        assert_eq!(
            CursorType::DateTime.bound(t, ny).as_deref(),
            Some("2025-03-01 05:00:00.500000")
        );
        assert_eq!(CursorType::Date.bound(t, ny).as_deref(), Some("2025-03-02"));
        assert_eq!(
            CursorType::Timestamp.literal(t, ny).as_deref(),
            Some("2025-03-01 10:00:00.500000+00:00")
        );
        assert_eq!(IdType::Int64.parse("12"), Some(Key::Int(12)));
        assert_eq!(IdType::Int64.parse("x"), None);
        assert_eq!(IdType::String.parse("x"), Some(Key::Text("x".into())));
    }
}
