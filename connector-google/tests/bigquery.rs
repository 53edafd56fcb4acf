//! The `bigquery` source against a fake BigQuery (tests/bigquery_common) written from the
//! REST reference: keyset pages over several jobs and result pages, windows with ties,
//! resumes, slow jobs, typed parameters, the bytes-billed cap, errors, prune and refetch.
#![cfg(feature = "bigquery")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bigquery_common;
mod common;

use bigquery_common::*;
use common::{TokenEndpoint, mount_token, service_account_key};
use connector_core::{
    Batch, CheckpointedConnector, Connector, Document, ErrorKind, RefetchConnector, SlimConnector,
    SyncContext, TimeWindow,
};
use connector_google::bigquery::{BigQueryCheckpoint, BigQueryConfig, BigQueryConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::MockServer;

async fn server(fake: &FakeBigQuery) -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_bigquery(&server, fake).await;
    server
}

/// RAGFlow's form of the config, pointed at `uri`, with `extra` on top.
fn config(uri: &str, extra: Value) -> BigQueryConfig {
    let mut cfg = json!({
        "project_id": PROJECT, "dataset_id": DATASET, "table_id": TABLE, "location": "EU",
        "content_columns": "name,body,tags,dims", "metadata_columns": "price",
        "id_column": "id", "timestamp_column": "updated_at", "title_column": "name",
        "credentials": {"service_account_json": service_account_key().to_string()},
        "base_url": uri, "token_uri": format!("{uri}/token"), "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    connector_core::config::from_json(cfg).expect("a valid config")
}

fn connector(uri: &str, extra: Value) -> BigQueryConnector {
    BigQueryConnector::new(config(uri, extra)).expect("a connector")
}

async fn run(
    c: &BigQueryConnector,
    from: BigQueryCheckpoint,
    window: Option<TimeWindow>,
) -> connector_core::Result<Vec<(Batch, BigQueryCheckpoint)>> {
    let mut stream = c.load_from_checkpoint(from, window, SyncContext::new());
    let mut out = Vec::new();
    while let Some(page) = stream.next().await {
        let page = page?;
        out.push((page.batch, page.checkpoint));
    }
    Ok(out)
}

fn docs(pages: &[(Batch, BigQueryCheckpoint)]) -> Vec<Document> {
    pages
        .iter()
        .flat_map(|(b, _)| b.documents.clone())
        .collect()
}

fn ids(docs: &[Document]) -> Vec<String> {
    docs.iter().map(|d| d.id.clone()).collect()
}

fn doc_id(n: i64) -> String {
    format!("bigquery:{PROJECT}.{DATASET}.{TABLE}:{n}")
}

#[tokio::test]
async fn a_full_load_reads_every_row_over_jobs_and_result_pages() {
    let fake = FakeBigQuery::new(rows(7));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 2, "rows_per_query": 3}));
    let pages = run(&c, BigQueryCheckpoint::start(), None).await.unwrap();
    let all = docs(&pages);
    assert_eq!(ids(&all), (1..=7).map(doc_id).collect::<Vec<_>>());
    // The last page says the walk is done; the others do not.
    assert!(pages.last().unwrap().1.done);
    assert!(pages[..pages.len() - 1].iter().all(|(_, cp)| !cp.done));
    let d = &all[0];
    assert_eq!(d.title, "Product 1");
    assert_eq!(d.updated_at, Some(time(1)));
    assert_eq!(d.metadata["price"], json!("1.50"));
    assert_eq!(d.metadata["table"], json!("shop.products"));
    let requests = fake.requests();
    // A dry run, then jobs of 3 rows: 3 + 3 + 1.
    assert_eq!(requests[0]["dryRun"], json!(true));
    let jobs: Vec<&Value> = requests.iter().filter(|r| r["dryRun"].is_null()).collect();
    assert_eq!(jobs.len(), 3, "{requests:#?}");
    for r in &requests {
        assert_eq!(r["useLegacySql"], json!(false));
        assert_eq!(r["parameterMode"], json!("NAMED"));
        assert_eq!(r["maximumBytesBilled"], json!("1073741824"));
        assert_eq!(r["location"], json!("EU"));
        assert_eq!(r["formatOptions"]["useInt64Timestamp"], json!(true));
        assert!(r["requestId"].as_str().is_some_and(|id| id.len() <= 36));
    }
    assert_eq!(jobs[0]["maxResults"], json!(2));
    // The second job continues after the first's last id, bound as a typed parameter.
    assert!(
        jobs[1]["query"]
            .as_str()
            .unwrap()
            .contains("src.`id` > @after_id")
    );
    assert_eq!(
        jobs[1]["queryParameters"],
        json!([{"name": "after_id", "parameterType": {"type": "INT64"}, "parameterValue": {"value": "3"}}])
    );
    assert!(jobs[1]["query"].as_str().unwrap().ends_with("LIMIT 3"));
    // Result pages after the first come from getQueryResults with the job's pageToken.
    let calls = fake.state.lock().unwrap().result_calls.clone();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|q| q.get("pageToken").is_some()
        && q.get("location").map(String::as_str) == Some("EU")
        && q.get("maxResults").map(String::as_str) == Some("2")));
}

#[tokio::test]
async fn a_document_renders_typed_columns() {
    let fake = FakeBigQuery::new(rows(1));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    let mut d = serde_json::to_value(&all[0]).unwrap();
    d["fingerprint"] = json!("[fingerprint]");
    insta::assert_json_snapshot!("bigquery_row", d);
}

#[tokio::test]
async fn a_window_walks_cursor_then_id_and_loses_no_tie() {
    // Rows 3..=6 share minute 3: page boundaries fall inside the tie.
    let mut table = rows(8);
    for r in &mut table[2..6] {
        r.at = Some(micros(3));
    }
    let fake = FakeBigQuery::new(table);
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 1, "rows_per_query": 2}));
    let window = TimeWindow::new(time(2), time(8)).unwrap();
    let pages = run(&c, BigQueryCheckpoint::start(), Some(window))
        .await
        .unwrap();
    assert_eq!(ids(&docs(&pages)), [2, 3, 4, 5, 6, 7].map(doc_id));
    let jobs: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r["dryRun"].is_null())
        .collect();
    let second = &jobs[1];
    let sql = second["query"].as_str().unwrap();
    assert!(
        sql.contains("(src.`updated_at` > @after_cursor OR (src.`updated_at` = @after_cursor AND src.`id` > @after_id))"),
        "{sql}"
    );
    assert!(
        sql.contains("ORDER BY src.`updated_at`, src.`id` LIMIT 2"),
        "{sql}"
    );
    let params = second["queryParameters"].as_array().unwrap();
    let by_name = |n: &str| {
        params
            .iter()
            .find(|p| p["name"] == json!(n))
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("window_start")["parameterType"]["type"],
        json!("TIMESTAMP")
    );
    assert_eq!(
        by_name("window_start")["parameterValue"]["value"],
        json!("2025-03-01 10:02:00.000000+00:00")
    );
    assert_eq!(
        by_name("after_cursor")["parameterType"]["type"],
        json!("TIMESTAMP")
    );
    assert_eq!(by_name("after_id")["parameterValue"]["value"], json!("3"));
    // No value is ever in the SQL text.
    assert!(!sql.contains("2025"), "{sql}");
}

#[tokio::test]
async fn a_resumed_run_continues_after_its_checkpoint() {
    let fake = FakeBigQuery::new(rows(5));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 2}));
    let pages = run(&c, BigQueryCheckpoint::start(), None).await.unwrap();
    let first = pages[0].1.clone();
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(json, json!({"after": {"id": {"int": 2}}}));
    let rest = run(&c, first, None).await.unwrap();
    assert_eq!(ids(&docs(&rest)), [3, 4, 5].map(doc_id));
    let done = pages.last().unwrap().1.clone();
    assert!(run(&c, done, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unfinished_job_is_awaited_with_get_query_results() {
    let fake = FakeBigQuery::new(rows(3));
    fake.state.lock().unwrap().slow_jobs = 2;
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    assert_eq!(all.len(), 3);
    let calls = fake.state.lock().unwrap().result_calls.clone();
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|q| q.get("location").map(String::as_str) == Some("EU"))
    );
}

#[tokio::test]
async fn the_bytes_billed_cap_is_sent_and_names_its_field() {
    let fake = FakeBigQuery::new(rows(3));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"maximum_bytes_billed": 1000}));
    let e = run(&c, BigQueryCheckpoint::start(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("maximum_bytes_billed"), "{e}");
    assert!(e.message().contains("10485760 or higher required"), "{e}");
    let raised = connector(&s.uri(), json!({"maximum_bytes_billed": "20000000"}));
    assert_eq!(
        docs(
            &run(&raised, BigQueryCheckpoint::start(), None)
                .await
                .unwrap()
        )
        .len(),
        3
    );
}

#[tokio::test]
async fn rate_limits_and_quota_errors_are_retried() {
    let fake = FakeBigQuery::new(rows(2));
    fake.fail_next(
        429,
        google_error(
            429,
            "rateLimitExceeded",
            "RESOURCE_EXHAUSTED",
            "Exceeded rate limits",
        ),
        Some(1),
    );
    fake.fail_next(
        403,
        google_error(
            403,
            "quotaExceeded",
            "PERMISSION_DENIED",
            "Exceeded rate limits: too many concurrent queries for this project_and_region.",
        ),
        None,
    );
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn errors_name_the_field_they_are_about() {
    let fake = FakeBigQuery::new(rows(2));
    let s = server(&fake).await;
    // A table that is not there.
    let missing = connector(&s.uri(), json!({"table_id": "missing"}));
    let e = missing.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.field(), Some("table_id"));
    // A query that does not parse.
    let bad = connector(
        &s.uri(),
        json!({"table_id": null, "query": "```sql\nSELECT no_such_column FROM `acme-analytics.shop.products`;\n```"}),
    );
    let e = bad.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("query"));
    // A column the config names that the schema lacks.
    let col = connector(&s.uri(), json!({"metadata_columns": "price,colour"}));
    let e = col.check().await.unwrap_err();
    assert_eq!(e.field(), Some("metadata_columns"), "{e}");
    // A refused credential, and a denied dataset.
    fake.fail_next(
        401,
        google_error(
            401,
            "authError",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        None,
    );
    fake.fail_next(
        401,
        google_error(
            401,
            "authError",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        None,
    );
    let c = connector(&s.uri(), json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.service_account_json"));
    fake.fail_next(403, google_error(403, "accessDenied", "PERMISSION_DENIED", "Access Denied: Table acme-analytics:shop.products: User does not have permission to query table."), None);
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.to_string().contains("PRIVATE KEY"));
    // An id column that cannot be a key.
    let e = connector(&s.uri(), json!({"id_column": "tags"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("id_column"), "{e}");
    // The dry run is the check: it passes on a good config.
    connector(&s.uri(), json!({})).check().await.unwrap();
}

#[tokio::test]
async fn a_malformed_value_fails_its_row_and_the_walk_goes_on() {
    let mut table = rows(4);
    // A REPEATED cell that is no array, and a TIMESTAMP that is no time.
    table[1].raw_cell = Some((4, json!("not-an-array")));
    table[2].raw_cell = Some((6, json!("yesterday")));
    table[3].at = None;
    let fake = FakeBigQuery::new(table);
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let pages = run(&c, BigQueryCheckpoint::start(), None).await.unwrap();
    let failures: Vec<_> = pages.iter().flat_map(|(b, _)| b.failures.clone()).collect();
    assert_eq!(ids(&docs(&pages)), [doc_id(1), doc_id(4)]);
    // A NULL cursor is no time, not an error.
    assert_eq!(docs(&pages)[1].updated_at, None);
    let failed: Vec<_> = failures
        .iter()
        .map(|f| f.id.clone().unwrap_or_default())
        .collect();
    assert_eq!(failed, [doc_id(2), doc_id(3)]);
    assert!(
        failures[0].message.contains("`tags`"),
        "{}",
        failures[0].message
    );
    assert!(
        failures[1].message.contains("updated_at"),
        "{}",
        failures[1].message
    );
    // Columns the document does not use do not fail it.
    let narrow = connector(
        &s.uri(),
        json!({"content_columns": "name", "timestamp_column": null}),
    );
    let pages = run(&narrow, BigQueryCheckpoint::start(), None)
        .await
        .unwrap();
    assert_eq!(docs(&pages).len(), 4);
}

#[tokio::test]
async fn list_ids_and_refetch_read_rows_by_id() {
    let fake = FakeBigQuery::new(rows(5));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 2, "rows_per_query": 3}));
    let mut listed = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(listed, (1..=5).map(doc_id).collect::<Vec<_>>());
    let slim = fake
        .requests()
        .into_iter()
        .filter(|r| r["dryRun"].is_null())
        .all(|r| {
            r["query"]
                .as_str()
                .unwrap()
                .starts_with("SELECT src.`id` FROM")
        });
    assert!(slim);
    let wanted = vec![
        doc_id(2),
        doc_id(4),
        doc_id(99),
        "bigquery:other.x.y:1".to_owned(),
    ];
    let mut got = Vec::new();
    let mut stream = c.fetch(wanted, SyncContext::new());
    while let Some(batch) = stream.next().await {
        got.extend(batch.unwrap().documents);
    }
    assert_eq!(ids(&got), [doc_id(2), doc_id(4)]);
    let last = fake.requests().pop().unwrap();
    assert!(last["query"].as_str().unwrap().contains("IN UNNEST(@ids)"));
    assert_eq!(
        last["queryParameters"][0]["parameterType"],
        json!({"type": "ARRAY", "arrayType": {"type": "INT64"}})
    );
}

#[tokio::test]
async fn a_query_names_its_documents_by_its_hash() {
    let fake = FakeBigQuery::new(rows(2));
    let s = server(&fake).await;
    let c = connector(
        &s.uri(),
        json!({"dataset_id": "", "table_id": "", "query": "SELECT * FROM `acme-analytics.shop.products` WHERE TRUE"}),
    );
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    assert_eq!(all.len(), 2);
    assert!(
        all[0].id.starts_with("bigquery:acme-analytics.query-"),
        "{}",
        all[0].id
    );
    assert!(all[0].id.ends_with(":1"));
    assert!(!all[0].metadata.contains_key("table"));
    let sql = fake.requests()[1]["query"].as_str().unwrap().to_owned();
    assert!(
        sql.starts_with(
            "SELECT src.* FROM (\nSELECT * FROM `acme-analytics.shop.products` WHERE TRUE\n) AS src"
        ),
        "{sql}"
    );
}

#[test]
fn ragflow_config_loads_and_validation_names_fields() {
    // RAGFlow's stored form: numbers as strings, the key as a JSON string, its cursor fields.
    let parsed = connector_core::config::parse::<BigQueryConfig>(json!({
        "project_id": "acme-analytics", "dataset_id": "shop", "table_id": "products",
        "location": "", "query": "", "content_columns": "name, body", "metadata_columns": "",
        "id_column": "id", "timestamp_column": "updated_at", "page_size": "500",
        "batch_size": 100, "maximum_bytes_billed": null, "job_timeout_ms": 60000,
        "use_query_cache": true, "sync_cursor_value": "2025-01-01T00:00:00", "sync_cursor_id": "9",
        "credentials": {"service_account_json": service_account_key().to_string()},
    }))
    .unwrap();
    assert_eq!(parsed.config.page_size.get(), 500);
    assert_eq!(parsed.config.maximum_bytes_billed(), 1 << 30);
    assert_eq!(parsed.ignored.len(), 3);
    let bad: BigQueryConfig = serde_json::from_value(json!({
        "project_id": "Acme Analytics", "dataset_id": "shop-x", "table_id": "a`b",
        "content_columns": ["ok", "bad\u{0}"], "maximum_bytes_billed": 0, "job_timeout_ms": 5,
        "id_column": "a`b",
        "timezone": "Mars/Olympus", "credentials": {"service_account_json": "{}"},
    }))
    .unwrap();
    let mut paths: Vec<String> = connector_core::ConnectorConfig::validate(&bad)
        .into_iter()
        .map(|p| p.path)
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "content_columns[1]",
            "credentials.service_account_json",
            "dataset_id",
            "id_column",
            "job_timeout_ms",
            "maximum_bytes_billed",
            "project_id",
            "table_id",
            "timezone"
        ]
    );
    // Debug never shows the key.
    let shown = format!("{:?}", parsed.config);
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[tokio::test]
async fn a_query_ending_in_a_line_comment_keeps_its_subquery_closed() {
    let fake = FakeBigQuery::new(rows(2));
    let s = server(&fake).await;
    let c = connector(
        &s.uri(),
        json!({"dataset_id": "", "table_id": "", "query": "SELECT * FROM `acme-analytics.shop.products` -- every product"}),
    );
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    assert_eq!(all.len(), 2);
    for r in fake.requests() {
        let sql = r["query"].as_str().unwrap();
        // The comment ends at its line; `) AS src` is on the next one.
        assert!(sql.contains("-- every product\n) AS src"), "{sql}");
    }
}

#[tokio::test]
async fn a_numeric_cursor_as_ragflow_allows_reads_every_row_in_a_window() {
    // RAGFlow takes INT64, NUMERIC and FLOAT cursors; a number bounds no time window, so a
    // windowed run reads every row by id (unchanged rows are skipped by their fingerprints).
    let fake = FakeBigQuery::new(rows(5));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"timestamp_column": "price"}));
    c.check().await.unwrap();
    let window = TimeWindow::new(time(2), time(3)).unwrap();
    let all = docs(
        &run(&c, BigQueryCheckpoint::start(), Some(window))
            .await
            .unwrap(),
    );
    assert_eq!(all.len(), 5);
    let sql = fake.requests().last().unwrap()["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sql.ends_with("ORDER BY src.`id` LIMIT 100000"), "{sql}");
    assert!(!sql.contains("@window_start"), "{sql}");
    // Not a time, not a number: refused, naming the field.
    let bad = connector(&s.uri(), json!({"timestamp_column": "tags"}));
    let e = bad.check().await.unwrap_err();
    assert_eq!(e.field(), Some("timestamp_column"), "{e}");
}

fn failures(pages: &[(Batch, BigQueryCheckpoint)]) -> Vec<connector_core::Failure> {
    pages.iter().flat_map(|(b, _)| b.failures.clone()).collect()
}

#[tokio::test]
async fn a_row_with_a_null_id_is_a_failure_naming_it_and_the_walk_goes_on() {
    let mut table = rows(6);
    table[1].null_id = true;
    table[3].null_id = true;
    let fake = FakeBigQuery::new(table);
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 2, "rows_per_query": 3}));
    let pages = run(&c, BigQueryCheckpoint::start(), None).await.unwrap();
    assert_eq!(ids(&docs(&pages)), [1, 3, 5, 6].map(doc_id));
    let failed = failures(&pages);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    for (f, name) in failed.iter().zip(["Product 2", "Product 4"]) {
        // No id to fetch it again by; named by its title, its cursor and its values.
        assert_eq!(f.id, None);
        assert_eq!(f.kind, ErrorKind::Unsupported);
        assert!(f.message.contains(name), "{}", f.message);
        assert!(f.message.contains("shop.products"), "{}", f.message);
        assert!(f.message.contains("id_column"), "{}", f.message);
        assert!(
            f.message.contains("`updated_at` = \"2025-03-01T10:0"),
            "{}",
            f.message
        );
        assert!(f.message.contains("values #"), "{}", f.message);
    }
    // Two rows, two messages: each names its own row.
    assert_ne!(failed[0].message, failed[1].message);
    // The first job admits NULL ids (they sort first); later ones start after an id.
    let jobs: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r["dryRun"].is_null())
        .collect();
    assert!(
        !jobs[0]["query"].as_str().unwrap().contains("IS NOT NULL"),
        "{}",
        jobs[0]["query"]
    );
    assert!(
        jobs[1]["query"]
            .as_str()
            .unwrap()
            .contains("src.`id` > @after_id")
    );
    // Prune's listing holds ids only.
    let mut listed = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(listed, [1, 3, 5, 6].map(doc_id));
}

#[tokio::test]
async fn a_job_of_null_ids_alone_does_not_stall_the_walk() {
    let mut table = rows(5);
    for r in &mut table[..3] {
        r.null_id = true;
    }
    let fake = FakeBigQuery::new(table);
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 2, "rows_per_query": 2}));
    let pages = run(&c, BigQueryCheckpoint::start(), None).await.unwrap();
    assert_eq!(ids(&docs(&pages)), [4, 5].map(doc_id));
    let failed = failures(&pages);
    // The two rows the first job read, then one failure for those passed over.
    assert_eq!(failed.len(), 3, "{failed:#?}");
    assert!(
        failed[2].message.contains("rows_per_query"),
        "{}",
        failed[2].message
    );
    assert!(pages.last().unwrap().1.done);
    let jobs: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r["dryRun"].is_null())
        .collect();
    assert!(
        jobs[1]["query"]
            .as_str()
            .unwrap()
            .contains("src.`id` IS NOT NULL"),
        "{}",
        jobs[1]["query"]
    );
}

#[tokio::test]
async fn a_window_reads_rows_without_a_time_first_and_resumes_among_them() {
    // Rows 3 and 5 have no `updated_at`; row 4 has no id.
    let mut table = rows(7);
    table[2].at = None;
    table[4].at = None;
    table[3].null_id = true;
    let fake = FakeBigQuery::new(table);
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"page_size": 1, "rows_per_query": 2}));
    let window = TimeWindow::new(time(2), time(7)).unwrap();
    let pages = run(&c, BigQueryCheckpoint::start(), Some(window))
        .await
        .unwrap();
    // Undated first (by id), then the dated rows of the window by (time, id).
    assert_eq!(ids(&docs(&pages)), [3, 5, 2, 6].map(doc_id));
    assert!(docs(&pages)[0].updated_at.is_none());
    let failed = failures(&pages);
    assert!(
        !failed.is_empty() && failed.iter().all(|f| f.id.is_none()),
        "{failed:#?}"
    );
    assert!(
        failed[0].message.contains("Product 4"),
        "{}",
        failed[0].message
    );
    // The checkpoint among the undated rows holds no cursor, and a resume goes on from it.
    let first = pages[0].1.clone();
    assert_eq!(
        serde_json::to_value(&first).unwrap(),
        json!({"after": {"id": {"int": 3}}})
    );
    let rest = run(&c, first, Some(window)).await.unwrap();
    assert_eq!(ids(&docs(&rest)), [5, 2, 6].map(doc_id));
    let sql = fake.requests().last().unwrap()["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sql.contains("(src.`updated_at` IS NULL OR (src.`updated_at` >= @window_start AND src.`updated_at` < @window_end))"),
        "{sql}"
    );
    let resumed: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r["query"]
                .as_str()
                .unwrap()
                .contains("((src.`updated_at` IS NULL AND src.`id` > @after_id) OR src.`updated_at` IS NOT NULL)")
        })
        .collect();
    assert!(!resumed.is_empty());
}

#[tokio::test]
async fn check_refuses_a_dry_run_over_the_bytes_cap() {
    let fake = FakeBigQuery::new(rows(2));
    let s = server(&fake).await;
    // The fake's table reads 10 MiB.
    let c = connector(&s.uri(), json!({"maximum_bytes_billed": 1_000_000}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("maximum_bytes_billed"), "{e}");
    assert!(e.message().contains("10485760"), "{e}");
    assert!(e.message().contains("1000000"), "{e}");
    // Only the dry run was sent: nothing billed.
    assert!(fake.requests().iter().all(|r| r["dryRun"] == json!(true)));
    connector(&s.uri(), json!({"maximum_bytes_billed": 20_000_000}))
        .check()
        .await
        .unwrap();
}

/// Waits (up to 5 s) for the fake to see a `jobs.cancel`.
async fn cancelled(fake: &FakeBigQuery) -> Vec<(String, Option<String>)> {
    for _ in 0..100 {
        let seen = fake.state.lock().unwrap().cancelled.clone();
        if !seen.is_empty() {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn a_job_past_its_deadline_is_cancelled_and_times_out() {
    let fake = FakeBigQuery::new(rows(3));
    fake.state.lock().unwrap().slow_jobs = 1_000_000;
    let tokens = TokenEndpoint::default();
    let s = MockServer::start().await;
    mount_token(&s, tokens.clone()).await;
    mount_bigquery(&s, &fake).await;
    let c = connector(&s.uri(), json!({"job_timeout_ms": 1000}));
    let started = std::time::Instant::now();
    let e = run(&c, BigQueryCheckpoint::start(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.field(), Some("job_timeout_ms"), "{e}");
    // job_timeout_ms and its margin (2 s at least), not BigQuery's six hours.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let calls = fake.state.lock().unwrap().result_calls.clone();
    // Each poll asks BigQuery to wait no longer than the deadline leaves.
    assert!(calls.iter().all(|q| {
        q["timeoutMs"]
            .parse::<u64>()
            .is_ok_and(|ms| (1..=3000).contains(&ms))
    }));
    assert_eq!(
        cancelled(&fake).await,
        [("job_1".to_owned(), Some("EU".to_owned()))]
    );
    // jobs.cancel takes no read-only scope: its token asks `bigquery`, the queries' did not.
    let scopes: Vec<String> = tokens
        .claims
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.scope.clone())
        .collect();
    assert!(
        scopes.contains(&"https://www.googleapis.com/auth/bigquery".to_owned()),
        "{scopes:?}"
    );
    assert!(
        scopes.contains(&"https://www.googleapis.com/auth/cloud-platform.read-only".to_owned())
    );
}

#[tokio::test]
async fn dropping_the_stream_while_a_job_runs_cancels_the_job() {
    let fake = FakeBigQuery::new(rows(3));
    fake.state.lock().unwrap().slow_jobs = 1_000_000;
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let mut stream = c.load_from_checkpoint(BigQueryCheckpoint::start(), None, SyncContext::new());
    let waited = tokio::time::timeout(std::time::Duration::from_millis(800), stream.next()).await;
    assert!(waited.is_err(), "the job is still running");
    assert!(fake.state.lock().unwrap().cancelled.is_empty());
    drop(stream);
    assert_eq!(
        cancelled(&fake).await,
        [("job_1".to_owned(), Some("EU".to_owned()))]
    );
}

#[tokio::test]
async fn cancelling_the_sync_while_a_job_runs_cancels_the_job() {
    let fake = FakeBigQuery::new(rows(3));
    fake.state.lock().unwrap().slow_jobs = 1_000_000;
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({}));
    let ctx = SyncContext::new();
    let cancel = ctx.cancellation().clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let mut stream = c.load_from_checkpoint(BigQueryCheckpoint::start(), None, ctx);
    let e = match stream.next().await {
        Some(Err(e)) => e,
        other => panic!("expected the cancellation, got {other:?}"),
    };
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(
        cancelled(&fake).await,
        [("job_1".to_owned(), Some("EU".to_owned()))]
    );
}

async fn listed_ids(c: &BigQueryConnector) -> Vec<String> {
    let mut listed = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    listed
}

async fn fetched(c: &BigQueryConnector, wanted: Vec<String>) -> Vec<Document> {
    let mut got = Vec::new();
    let mut stream = c.fetch(wanted, SyncContext::new());
    while let Some(batch) = stream.next().await {
        got.extend(batch.unwrap().documents);
    }
    got
}

#[tokio::test]
async fn a_table_without_id_column_is_keyed_by_its_primary_key() {
    // RAGFlow's table form with `id_column` left empty: the table's primary key names rows.
    let fake = FakeBigQuery::new(rows(5));
    fake.state.lock().unwrap().primary_key = vec!["id".into()];
    let s = server(&fake).await;
    let c = connector(
        &s.uri(),
        json!({"id_column": "", "page_size": 2, "rows_per_query": 3}),
    );
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    assert_eq!(ids(&all), (1..=5).map(doc_id).collect::<Vec<_>>());
    let sql = fake.requests()[1]["query"].as_str().unwrap().to_owned();
    assert!(sql.contains("ORDER BY src.`id` LIMIT 3"), "{sql}");
    let tables_get = s
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.url.path() == format!("/projects/{PROJECT}/datasets/{DATASET}/tables/{TABLE}")
        })
        .count();
    assert!(tables_get >= 1);
    // The same ids for prune and refetch.
    assert_eq!(
        listed_ids(&c).await,
        (1..=5).map(doc_id).collect::<Vec<_>>()
    );
    assert_eq!(ids(&fetched(&c, vec![doc_id(4)]).await), [doc_id(4)]);
}

#[tokio::test]
async fn a_table_without_primary_key_or_id_column_is_refused_naming_id_column() {
    let fake = FakeBigQuery::new(rows(2));
    let s = server(&fake).await;
    let c = connector(&s.uri(), json!({"id_column": ""}));
    let e = run(&c, BigQueryCheckpoint::start(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.field(), Some("id_column"));
    assert!(e.message().contains("no primary key"), "{e}");
    let e = c.check().await.unwrap_err();
    assert_eq!(e.field(), Some("id_column"));
}

#[tokio::test]
async fn a_composite_primary_key_names_rows_by_its_values() {
    let fake = FakeBigQuery::new(rows(4));
    fake.state.lock().unwrap().primary_key = vec!["name".into(), "id".into()];
    let s = server(&fake).await;
    let c = connector(
        &s.uri(),
        json!({"id_column": "", "page_size": 1, "rows_per_query": 2, "content_columns": ""}),
    );
    let all = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
    let key = |n: i64| {
        format!(
            "bigquery:{PROJECT}.{DATASET}.{TABLE}:{}",
            json!({"name": format!("Product {n}"), "id": n})
        )
    };
    assert_eq!(ids(&all), (1..=4).map(key).collect::<Vec<_>>());
    // The key's columns are no content, the computed key no column.
    let text = all[0].content.as_text().unwrap();
    assert!(
        !text.contains("Product 1\n") && !text.contains("_connector_id"),
        "{text}"
    );
    assert!(text.contains("Description of product 1"), "{text}");
    let sql = fake.requests()[2]["query"].as_str().unwrap().to_owned();
    assert!(
        sql.contains("TO_JSON_STRING(STRUCT(src.`name`, src.`id`)) > @after_id"),
        "{sql}"
    );
    assert_eq!(ids(&fetched(&c, vec![key(3)]).await), [key(3)]);
}

#[tokio::test]
async fn a_query_without_id_column_names_rows_by_a_hash_of_their_values() {
    // Rows 3..=6 share minute 3, so windowed job boundaries fall inside the tie.
    let mut table = rows(8);
    for r in &mut table[2..6] {
        r.at = Some(micros(3));
    }
    let fake = FakeBigQuery::new(table.clone());
    let s = server(&fake).await;
    let c = connector(
        &s.uri(),
        json!({"dataset_id": "", "table_id": "", "id_column": "",
               "query": "SELECT * FROM `acme-analytics.shop.products`",
               "page_size": 1, "rows_per_query": 2}),
    );
    let prefix = {
        let full = docs(&run(&c, BigQueryCheckpoint::start(), None).await.unwrap());
        assert_eq!(full.len(), 8);
        let id = &full[0].id;
        id[..id.rfind(':').unwrap() + 1].to_owned()
    };
    let hash_id = |r: &FakeRow| format!("{prefix}{}", row_hash(r));
    let mut expected: Vec<String> = table[1..7].iter().map(hash_id).collect();
    expected.sort();
    // A window walks (cursor, hash): every row once, ties across jobs included.
    let window = TimeWindow::new(time(2), time(8)).unwrap();
    let mut got = ids(&docs(
        &run(&c, BigQueryCheckpoint::start(), Some(window))
            .await
            .unwrap(),
    ));
    got.sort();
    assert_eq!(got, expected);
    // An edited row is another document; prune lists the hashes of the rows there now.
    fake.state.lock().unwrap().rows[0].body = "Edited".into();
    let edited = fake.state.lock().unwrap().rows[0].clone();
    let listed = listed_ids(&c).await;
    assert_eq!(listed.len(), 8);
    assert!(listed.contains(&hash_id(&edited)));
    assert!(!listed.contains(&hash_id(&table[0])));
    let again = fetched(&c, vec![hash_id(&edited), hash_id(&table[0])]).await;
    assert_eq!(ids(&again), [hash_id(&edited)]);
    let sql = fake.requests().last().unwrap()["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sql.contains("TO_HEX(MD5(TO_JSON_STRING(src))) IN UNNEST(@ids)"),
        "{sql}"
    );
}
