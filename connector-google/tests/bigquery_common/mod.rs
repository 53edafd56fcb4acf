//! A fake BigQuery written from the REST reference (v2): `jobs.query` (`POST
//! projects/{projectId}/queries`, a `QueryRequest` in, a `QueryResponse` out, dry runs
//! answering the schema) and `jobs.getQueryResults` (`GET
//! projects/{projectId}/queries/{jobId}` with `pageToken`, `maxResults`, `location`), rows as
//! `{"f": [{"v": ...}]}`, and Google's error bodies. It reads the keyset queries the
//! connector sends by their named parameters (`window_start`, `window_end`, `after_cursor`,
//! `after_id`, `ids`) and `LIMIT`, over one table, NULLs sorting first as GoogleSQL sorts
//! them; and `jobs.cancel` (`POST projects/{projectId}/jobs/{jobId}/cancel?location=`,
//! answering a `JobCancelResponse`).
#![allow(dead_code, unreachable_pub)] // Each test file uses part of it.
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const PROJECT: &str = "acme-analytics";
pub const DATASET: &str = "shop";
pub const TABLE: &str = "products";

/// One row of the fake table.
#[derive(Debug, Clone)]
pub struct FakeRow {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub price: Option<String>,
    pub tags: Vec<String>,
    /// `updated_at` in microseconds since the epoch.
    pub at: Option<i64>,
    /// Write this value in place of cell `.0` (a malformed value).
    pub raw_cell: Option<(usize, Value)>,
    /// The id cell is NULL (`id` stays the row's name in the fake).
    pub null_id: bool,
}

/// Minute `m` of 2025-03-01 in microseconds.
pub fn micros(minute: u32) -> i64 {
    time(minute).timestamp_micros()
}

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
        + chrono::Duration::minutes(i64::from(minute))
}

impl FakeRow {
    pub fn new(id: i64, minute: u32) -> Self {
        Self {
            id,
            name: format!("Product {id}"),
            body: format!("Description of product {id}"),
            price: Some(format!("{id}.50")),
            tags: vec!["a".into(), format!("t{id}")],
            at: Some(micros(minute)),
            raw_cell: None,
            null_id: false,
        }
    }

    fn cells(&self, int64_timestamps: bool) -> Value {
        let at = self.at.map_or(Value::Null, |m| {
            if int64_timestamps {
                json!(m.to_string())
            } else {
                // The default output: float seconds in E notation.
                json!(format!("{:E}", m as f64 / 1e6))
            }
        });
        let price = self.price.clone().map_or(Value::Null, Value::String);
        let id = if self.null_id {
            Value::Null
        } else {
            json!(self.id.to_string())
        };
        let mut row = json!({"f": [
            {"v": id},
            {"v": self.name},
            {"v": self.body},
            {"v": price},
            {"v": self.tags.iter().map(|t| json!({"v": t})).collect::<Vec<_>>()},
            {"v": {"f": [{"v": "2.5"}, {"v": "cm"}]}},
            {"v": at},
        ]});
        if let Some((i, v)) = &self.raw_cell {
            row["f"][*i]["v"] = v.clone();
        }
        row
    }
}

/// The table's schema, as `tables.get` and query responses write it.
pub fn schema() -> Value {
    json!({"fields": [
        {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
        {"name": "name", "type": "STRING", "mode": "NULLABLE"},
        {"name": "body", "type": "STRING", "mode": "NULLABLE"},
        {"name": "price", "type": "NUMERIC", "mode": "NULLABLE"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "dims", "type": "RECORD", "mode": "NULLABLE", "fields": [
            {"name": "width", "type": "FLOAT", "mode": "NULLABLE"},
            {"name": "unit", "type": "STRING", "mode": "NULLABLE"}]},
        {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    ]})
}

/// Google's error body.
pub fn google_error(code: u16, reason: &str, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": status}})
}

/// A finished job's rows.
struct Job {
    rows: Vec<Value>,
    schema: Value,
    /// getQueryResults calls still to answer `jobComplete: false`.
    pending: u32,
}

/// What the fake holds and saw.
#[derive(Default)]
pub struct State {
    pub rows: Vec<FakeRow>,
    jobs: BTreeMap<String, Job>,
    /// Answers the next `jobs.query` calls with these `(status, body, Retry-After)`.
    pub failures: VecDeque<(u16, Value, Option<u64>)>,
    /// Bytes a query of the table bills (compared with `maximumBytesBilled`).
    pub bytes: u64,
    /// Jobs answer `jobComplete: false` to `jobs.query` and this many getQueryResults calls.
    pub slow_jobs: u32,
    /// Every `QueryRequest` received.
    pub requests: Vec<Value>,
    /// Every getQueryResults query string received.
    pub result_calls: Vec<BTreeMap<String, String>>,
    /// Every `jobs.cancel`: the job id and its `location`.
    pub cancelled: Vec<(String, Option<String>)>,
    /// The table's primary key columns, as `tables.get` answers them (none by default).
    pub primary_key: Vec<String>,
}

/// How the connector names rows in its SQL: `id_column`, a composite primary key
/// (`TO_JSON_STRING(STRUCT(...))`) or a hash of the row (`TO_HEX(MD5(TO_JSON_STRING(src)))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyMode {
    Id,
    NameAndId,
    RowHash,
}

const ROW_HASH: &str = "TO_HEX(MD5(TO_JSON_STRING(src)))";
const NAME_AND_ID: &str = "TO_JSON_STRING(STRUCT(src.`name`, src.`id`))";

impl KeyMode {
    fn of(sql: &str) -> Self {
        if sql.contains(ROW_HASH) {
            Self::RowHash
        } else if sql.contains(NAME_AND_ID) {
            Self::NameAndId
        } else {
            Self::Id
        }
    }

    fn expr(self) -> &'static str {
        match self {
            Self::Id => "src.`id`",
            Self::NameAndId => NAME_AND_ID,
            Self::RowHash => ROW_HASH,
        }
    }

    /// The row's key as BigQuery would compute it: its id, or a text compared as text.
    fn key(self, r: &FakeRow) -> (i64, String) {
        match self {
            Self::Id => (r.id, String::new()),
            Self::NameAndId => (0, json!({"name": r.name, "id": r.id}).to_string()),
            Self::RowHash => (0, row_hash(r)),
        }
    }

    fn parse(self, v: &Value) -> (i64, String) {
        let s = v.as_str().unwrap();
        match self {
            Self::Id => (s.parse().unwrap(), String::new()),
            _ => (0, s.to_owned()),
        }
    }

    fn text(self, r: &FakeRow) -> String {
        match self {
            Self::Id => r.id.to_string(),
            _ => self.key(r).1,
        }
    }
}

/// The fake's MD5 of a row's JSON: any stable hash of its values serves (32 hex digits).
pub fn row_hash(r: &FakeRow) -> String {
    connector_core::ids::hash128(&r.cells(true).to_string())
}

#[derive(Clone, Default)]
pub struct FakeBigQuery {
    pub state: Arc<Mutex<State>>,
}

fn param_values(body: &Value) -> BTreeMap<String, Value> {
    body["queryParameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let v = &p["parameterValue"];
            let value = if v.get("arrayValues").is_some() {
                json!(
                    v["arrayValues"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a["value"].clone())
                        .collect::<Vec<_>>()
                )
            } else {
                v["value"].clone()
            };
            (p["name"].as_str().unwrap().to_owned(), value)
        })
        .collect()
}

fn timestamp_param(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z")
        .map(|t| t.timestamp_micros())
        .or_else(|_| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .map(|t| t.and_utc().timestamp_micros())
        })
        .unwrap_or_else(|_| panic!("not a TIMESTAMP literal: {s}"))
}

fn page(job_id: &str, job: &Job, offset: usize, max: usize, location: &str) -> Value {
    let end = (offset + max.max(1)).min(job.rows.len());
    let mut body = json!({
        "kind": "bigquery#getQueryResultsResponse",
        "etag": "\"x\"",
        "schema": job.schema,
        "jobReference": {"projectId": PROJECT, "jobId": job_id, "location": location},
        "totalRows": job.rows.len().to_string(),
        "rows": job.rows[offset.min(end)..end],
        "totalBytesProcessed": "1024",
        "jobComplete": true,
        "cacheHit": false,
    });
    if end < job.rows.len() {
        body["pageToken"] = json!(format!("BQ-page-{end}"));
    }
    body
}

impl FakeBigQuery {
    pub fn new(rows: Vec<FakeRow>) -> Self {
        let fake = Self::default();
        {
            let mut s = fake.state.lock().unwrap();
            s.rows = rows;
            s.bytes = 10 * 1024 * 1024;
        }
        fake
    }

    pub fn fail_next(&self, status: u16, body: Value, retry_after: Option<u64>) {
        self.state
            .lock()
            .unwrap()
            .failures
            .push_back((status, body, retry_after));
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }

    fn query(&self, body: &Value) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        s.requests.push(body.clone());
        if let Some((status, error, retry)) = s.failures.pop_front() {
            let mut r = ResponseTemplate::new(status).set_body_json(error);
            if let Some(secs) = retry {
                r = r.insert_header("retry-after", secs.to_string().as_str());
            }
            return r;
        }
        let sql = body["query"].as_str().unwrap_or_default();
        let location = body["location"].as_str().unwrap_or("US").to_owned();
        let table = format!("`{PROJECT}.{DATASET}.{TABLE}`");
        if !sql.contains(&table) {
            let name = sql.split('`').nth(1).unwrap_or("?");
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("Not found: Table {name} was not found in location {location}"),
            ));
        }
        if body["useLegacySql"] != json!(false) || body["parameterMode"] != json!("NAMED") {
            return ResponseTemplate::new(400).set_body_json(google_error(
                400,
                "invalidQuery",
                "INVALID_ARGUMENT",
                "Query parameters cannot be used in legacy SQL queries.",
            ));
        }
        let cap: u64 = body["maximumBytesBilled"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        if cap < s.bytes && body["dryRun"] != json!(true) {
            return ResponseTemplate::new(400).set_body_json(google_error(
                400,
                "bytesBilledLimitExceeded",
                "INVALID_ARGUMENT",
                &format!(
                    "Query exceeded limit for bytes billed: {cap}. {} or higher required.",
                    s.bytes
                ),
            ));
        }
        if sql.contains("no_such_column") {
            return ResponseTemplate::new(400).set_body_json(google_error(
                400,
                "invalidQuery",
                "INVALID_ARGUMENT",
                "Unrecognized name: no_such_column at [1:8]",
            ));
        }
        if body["dryRun"] == json!(true) {
            return ResponseTemplate::new(200).set_body_json(json!({
                "kind": "bigquery#queryResponse",
                "schema": schema(),
                "jobReference": {"projectId": PROJECT, "location": location},
                "totalBytesProcessed": s.bytes.to_string(),
                "jobComplete": true,
                "cacheHit": false,
            }));
        }
        let params = param_values(body);
        let mode = KeyMode::of(sql);
        let id = mode.expr();
        let ids_only = sql.starts_with(&format!("SELECT {id} FROM"));
        let windowed = sql.contains(&format!("ORDER BY src.`updated_at`, {id}"));
        let no_null_ids = sql.contains(&format!("{id} IS NOT NULL"));
        // A computed key is never NULL.
        let null_id = |r: &FakeRow| mode == KeyMode::Id && r.null_id;
        let undated_in_window = sql.contains("(src.`updated_at` IS NULL OR (");
        let int64 = body["formatOptions"]["useInt64Timestamp"] == json!(true);
        let limit: usize = sql
            .rsplit("LIMIT ")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(usize::MAX);
        let mut rows: Vec<&FakeRow> = s
            .rows
            .iter()
            .filter(|r| {
                let in_window = |r: &FakeRow| {
                    let Some(at) = r.at else {
                        return undated_in_window;
                    };
                    params
                        .get("window_start")
                        .is_none_or(|v| at >= timestamp_param(v))
                        && params
                            .get("window_end")
                            .is_none_or(|v| at < timestamp_param(v))
                };
                let after = match (params.get("after_cursor"), params.get("after_id")) {
                    (Some(c), Some(i)) => {
                        let (c, i) = (timestamp_param(c), mode.parse(i));
                        r.at.is_some_and(|at| at > c || (at == c && !null_id(r) && mode.key(r) > i))
                    }
                    (None, Some(i)) => {
                        let i = mode.parse(i);
                        // In a window, past the rows without a time (which come first).
                        (windowed && r.at.is_some()) || (!null_id(r) && mode.key(r) > i)
                    }
                    _ => true,
                };
                let named = params.get("ids").is_none_or(|ids| {
                    !null_id(r)
                        && ids
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|v| v.as_str() == Some(mode.text(r).as_str()))
                });
                (!windowed || in_window(r)) && after && named && !(no_null_ids && null_id(r))
            })
            .collect();
        // NULLs first, as GoogleSQL sorts them in ascending order.
        if windowed {
            rows.sort_by_key(|r| (r.at, !null_id(r), mode.key(r)));
        } else {
            rows.sort_by_key(|r| (!null_id(r), mode.key(r)));
        }
        rows.truncate(limit);
        let (cells, job_schema): (Vec<Value>, Value) = if ids_only {
            let field = match mode {
                KeyMode::Id => json!({"name": "id", "type": "INTEGER", "mode": "REQUIRED"}),
                _ => json!({"name": "f0_", "type": "STRING", "mode": "NULLABLE"}),
            };
            (
                rows.iter()
                    .map(|r| json!({"f": [{"v": mode.text(r)}]}))
                    .collect(),
                json!({"fields": [field]}),
            )
        } else if mode == KeyMode::Id {
            (rows.iter().map(|r| r.cells(int64)).collect(), schema())
        } else {
            // `src.*, <key> AS _connector_id`: the key after the row's columns.
            let mut with_key = schema();
            with_key["fields"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "_connector_id", "type": "STRING", "mode": "NULLABLE"}));
            (
                rows.iter()
                    .map(|r| {
                        let mut c = r.cells(int64);
                        c["f"]
                            .as_array_mut()
                            .unwrap()
                            .push(json!({"v": mode.text(r)}));
                        c
                    })
                    .collect(),
                with_key,
            )
        };
        let job_id = format!("job_{}", s.jobs.len() + 1);
        let slow = s.slow_jobs;
        let job = Job {
            rows: cells,
            schema: job_schema,
            pending: slow.saturating_sub(1),
        };
        let max = body["maxResults"].as_u64().unwrap_or(u64::MAX) as usize;
        let answer = if slow > 0 {
            json!({
                "kind": "bigquery#queryResponse",
                "jobReference": {"projectId": PROJECT, "jobId": job_id, "location": location},
                "jobComplete": false,
            })
        } else {
            let mut p = page(&job_id, &job, 0, max, &location);
            p["kind"] = json!("bigquery#queryResponse");
            p
        };
        s.jobs.insert(job_id, job);
        ResponseTemplate::new(200).set_body_json(answer)
    }

    fn results(&self, job_id: &str, q: BTreeMap<String, String>) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        s.result_calls.push(q.clone());
        let location = q.get("location").cloned().unwrap_or_else(|| "US".into());
        let Some(job) = s.jobs.get_mut(job_id) else {
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("Not found: Job {PROJECT}:{location}.{job_id}"),
            ));
        };
        if job.pending > 0 {
            job.pending -= 1;
            return ResponseTemplate::new(200).set_body_json(json!({
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": {"projectId": PROJECT, "jobId": job_id, "location": location},
                "jobComplete": false,
            }));
        }
        let offset = q
            .get("pageToken")
            .and_then(|t| t.strip_prefix("BQ-page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let max = q
            .get("maxResults")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        ResponseTemplate::new(200).set_body_json(page(job_id, job, offset, max, &location))
    }
}

impl FakeBigQuery {
    /// `tables.get` of the fake's one table: its schema and `tableConstraints.primaryKey`
    /// when it has one.
    fn table(&self, dataset: &str, table: &str) -> ResponseTemplate {
        let s = self.state.lock().unwrap();
        if dataset != DATASET || table != TABLE {
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("Not found: Table {PROJECT}:{dataset}.{table}"),
            ));
        }
        let mut body = json!({
            "kind": "bigquery#table",
            "id": format!("{PROJECT}:{DATASET}.{TABLE}"),
            "tableReference": {"projectId": PROJECT, "datasetId": DATASET, "tableId": TABLE},
            "schema": schema(),
            "numRows": s.rows.len().to_string(),
            "type": "TABLE",
            "location": "EU",
        });
        if !s.primary_key.is_empty() {
            body["tableConstraints"] = json!({"primaryKey": {"columns": s.primary_key}});
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// `jobs.cancel`: recorded; a job still pending is ended.
    fn cancel(&self, job_id: &str, location: Option<String>) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        s.cancelled.push((job_id.to_owned(), location.clone()));
        let Some(job) = s.jobs.get_mut(job_id) else {
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("Not found: Job {PROJECT}:{job_id}"),
            ));
        };
        job.pending = 0;
        ResponseTemplate::new(200).set_body_json(json!({
            "kind": "bigquery#jobCancelResponse",
            "job": {
                "kind": "bigquery#job",
                "id": format!("{PROJECT}:{}.{job_id}", location.as_deref().unwrap_or("US")),
                "jobReference": {"projectId": PROJECT, "jobId": job_id, "location": location},
                "status": {"state": "RUNNING"},
            },
        }))
    }
}

struct CancelResponder(FakeBigQuery);

impl Respond for CancelResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut segments = req.url.path().rsplit('/');
        let job = segments.nth(1).unwrap_or_default().to_owned();
        let location = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.into_owned());
        self.0.cancel(&job, location)
    }
}

struct TableResponder(FakeBigQuery);

impl Respond for TableResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut segments = req.url.path().rsplit('/');
        let table = segments.next().unwrap_or_default().to_owned();
        let dataset = segments.nth(1).unwrap_or_default().to_owned();
        self.0.table(&dataset, &table)
    }
}

struct QueryResponder(FakeBigQuery);

impl Respond for QueryResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.0.query(&body)
    }
}

struct ResultsResponder(FakeBigQuery);

impl Respond for ResultsResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let job = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        self.0.results(&job, q)
    }
}

/// Mounts the fake on `server` (under `/projects/...`, the base URL being the server's).
pub async fn mount_bigquery(server: &MockServer, fake: &FakeBigQuery) {
    Mock::given(method("POST"))
        .and(path_regex(format!("^/projects/{PROJECT}/queries$")))
        .respond_with(QueryResponder(fake.clone()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^/projects/{PROJECT}/queries/[^/]+$")))
        .respond_with(ResultsResponder(fake.clone()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "^/projects/{PROJECT}/datasets/[^/]+/tables/[^/]+$"
        )))
        .respond_with(TableResponder(fake.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!(
            "^/projects/{PROJECT}/jobs/[^/]+/cancel$"
        )))
        .respond_with(CancelResponder(fake.clone()))
        .mount(server)
        .await;
}

/// `n` rows, ids 1..=n, row `i` updated at minute `i`.
pub fn rows(n: i64) -> Vec<FakeRow> {
    (1..=n).map(|i| FakeRow::new(i, i as u32)).collect()
}
