//! Loopback end-to-end benchmark of the BigQuery connector (`harness = false`, not run in CI):
//! a wiremock BigQuery holding `BIGQUERY_BENCH_ROWS` rows (default 20,000) of a table with
//! seven typed columns (INT64 id, STRING name and description, NUMERIC price, a REPEATED
//! STRING, a RECORD, a TIMESTAMP), answered by `jobs.query` (the first 1,000 rows) and
//! `jobs.getQueryResults` pages of 1,000 by `pageToken`, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the query, then every page by
//!    `pageToken`, each body parsed as JSON;
//! 2. `BigQueryConnector::load`: a dry run for the schema, then the same requests through
//!    core's client, each row read by the schema and rendered as a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints rows/s, requests per row and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS. `cargo bench --bench bigquery`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::google::bigquery::{BigQueryConfig, BigQueryConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 1000;
const ROUNDS: usize = 3;
const PROJECT: &str = "bench-project";

fn rows() -> usize {
    loopback::env_size("BIGQUERY_BENCH_ROWS", 20_000)
}

fn schema() -> Value {
    json!({"fields": [
        {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
        {"name": "name", "type": "STRING", "mode": "NULLABLE"},
        {"name": "description", "type": "STRING", "mode": "NULLABLE"},
        {"name": "price", "type": "NUMERIC", "mode": "NULLABLE"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "dims", "type": "RECORD", "mode": "NULLABLE", "fields": [
            {"name": "width", "type": "FLOAT", "mode": "NULLABLE"},
            {"name": "unit", "type": "STRING", "mode": "NULLABLE"}]},
        {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    ]})
}

fn row(n: usize) -> Value {
    json!({"f": [
        {"v": n.to_string()},
        {"v": format!("Product {n}")},
        {"v": "A sturdy widget for the workshop: steel body, rubber grip, two-year warranty.\nShips in three days."},
        {"v": format!("{n}.50")},
        {"v": [{"v": "tools"}, {"v": "steel"}]},
        {"v": {"f": [{"v": "2.5"}, {"v": "cm"}]}},
        {"v": (1_740_823_200_000_000_i64 + n as i64 * 1_000_000).to_string()},
    ]})
}

/// Page `i` of the job's results, pre-rendered; its token is `BQ-page-{i}`.
fn pages(n: usize) -> Vec<String> {
    let all: Vec<Value> = (1..=n).map(row).collect();
    let chunks: Vec<&[Value]> = all.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({
                "kind": "bigquery#getQueryResultsResponse",
                "schema": schema(),
                "jobReference": {"projectId": PROJECT, "jobId": "job_bench", "location": "US"},
                "totalRows": n.to_string(),
                "rows": c,
                "jobComplete": true,
            });
            if i + 1 < chunks.len() {
                page["pageToken"] = json!(format!("BQ-page-{}", i + 1));
            }
            page.to_string()
        })
        .collect()
}

struct Query(String);

impl Respond for Query {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body["dryRun"] == json!(true) {
            return ResponseTemplate::new(200).set_body_json(json!({
                "kind": "bigquery#queryResponse", "schema": schema(),
                "jobReference": {"projectId": PROJECT, "location": "US"},
                "totalBytesProcessed": "1048576", "jobComplete": true,
            }));
        }
        ResponseTemplate::new(200).set_body_raw(self.0.clone().into_bytes(), "application/json")
    }
}

struct Results(Vec<String>);

impl Respond for Results {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let i: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .and_then(|(_, v)| v.strip_prefix("BQ-page-").and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let page = self.0.get(i).cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_raw(page.into_bytes(), "application/json")
    }
}

/// The raw fetch: the query, then the same pages by `pageToken`, each parsed.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let first: Value = client
        .post(format!("{base}/projects/{PROJECT}/queries"))
        .bearer_auth("bench")
        .json(&json!({"query": "SELECT src.* FROM (SELECT * FROM `bench-project.shop.products`) AS src ORDER BY src.`id`", "useLegacySql": false, "maxResults": PAGE}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut got = first["rows"].as_array().unwrap().len();
    let mut requests = 1u64;
    let mut token = first["pageToken"].as_str().map(str::to_owned);
    while let Some(t) = token {
        let bytes = client
            .get(format!("{base}/projects/{PROJECT}/queries/job_bench"))
            .query(&[("pageToken", t.as_str()), ("maxResults", "1000")])
            .bearer_auth("bench")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        requests += 1;
        got += page["rows"].as_array().unwrap().len();
        token = page["pageToken"].as_str().map(str::to_owned);
    }
    (got, requests)
}

fn main() {
    let n = rows();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let pages = pages(n);
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": "bench", "expires_in": 3600, "token_type": "Bearer"}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("/projects/{PROJECT}/queries")))
            .respond_with(Query(pages[0].clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(format!("^/projects/{PROJECT}/queries/[^/]+$")))
            .respond_with(Results(pages))
            .mount(&server)
            .await;
        println!("bigquery loopback: {n} rows, {PAGE} per page, 7 typed columns each");
        let uri = server.uri();
        let config: BigQueryConfig = connectors::core::config::from_json(json!({
            "project_id": PROJECT, "dataset_id": "shop", "table_id": "products",
            "id_column": "id", "timestamp_column": "updated_at", "title_column": "name",
            "page_size": PAGE, "rows_per_query": 10_000_000,
            "credentials": {"service_account_json":
                {"refresh_token": "1//bench", "client_id": "bench", "client_secret": "bench"}},
            "base_url": uri, "token_uri": format!("{uri}/token"),
            "allowed_hosts": ["127.0.0.1"],
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "row",
            name: "BigQueryConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || BigQueryConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
