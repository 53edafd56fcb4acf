//! Loopback end-to-end benchmark of the DingTalk AI Table connector (`harness = false`, not
//! run in CI): a wiremock DingTalk holding `DINGTALK_BENCH_RECORDS` records (default 20,000)
//! in one sheet with ten typed fields (text, multi-line text, selects, a user, a date, a
//! number, a checkbox, a URL, a link), listed 100 per `POST …/records/list` page by
//! `nextToken`, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: an app token, the sheets, the
//!    sheet's fields, then every page by `nextToken`, each body parsed as JSON;
//! 2. `DingtalkAiTableConnector::load`: the same requests through core's client, each record
//!    rendered as Markdown with front matter into a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints records/s, requests per record and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`); run it at two sizes to see memory stay
//! flat (`DINGTALK_BENCH_RECORDS=2000` and `=20000`). `cargo bench --bench dingtalk_ai_table`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::dingtalk_ai_table::{DingtalkAiTableConfig, DingtalkAiTableConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 100;
const ROUNDS: usize = 3;
const BASE: &str = "BenchBase0000000000000000000001";
const SHEET: &str = "sBench1";
const OPERATOR: &str = "uBenchOperator01";

fn records() -> usize {
    loopback::env_size("DINGTALK_BENCH_RECORDS", 20_000)
}

fn fields() -> String {
    json!({"value": [
        {"id": "f01", "name": "Title", "type": "text"},
        {"id": "f02", "name": "Notes", "type": "text"},
        {"id": "f03", "name": "Status", "type": "singleSelect"},
        {"id": "f04", "name": "Tags", "type": "multipleSelect"},
        {"id": "f05", "name": "Owner", "type": "user"},
        {"id": "f06", "name": "Due", "type": "date"},
        {"id": "f07", "name": "Estimate", "type": "number"},
        {"id": "f08", "name": "Done", "type": "checkbox"},
        {"id": "f09", "name": "Website", "type": "url"},
        {"id": "f10", "name": "Blocked by", "type": "unidirectionalLink"}
    ]})
    .to_string()
}

fn record(n: usize) -> Value {
    json!({"id": format!("r{n:09}"), "createdTime": 1_740_823_200_000_i64, "lastModifiedTime": 1_740_823_500_000_i64,
    "createdBy": {"unionId": "uAnaSilva01"}, "lastModifiedBy": {"unionId": "uBoChen0002"},
    "fields": {
        "Title": format!("Task {n}"),
        "Notes": "Tag the release_candidate branch, run the *full* test suite.\nAsk in #releases when in doubt; 2 reviewers sign off.",
        "Status": {"id": "oProg", "name": "In progress"},
        "Tags": [{"id": "oRel", "name": "release"}, {"id": "oQ3", "name": "q3"}],
        "Owner": [{"unionId": "uAnaSilva01"}],
        "Due": 1_751_328_000_000_i64,
        "Estimate": 3.5,
        "Done": true,
        "Website": {"text": "Tasks", "link": "https://example.com/tasks"},
        "Blocked by": {"linkedRecordIds": [format!("r{:09}", n / 2)]}
    }})
}

/// The record pages, pre-rendered; page `n`'s token is `bench-{n}`.
struct Pages(Vec<String>);

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let n: usize = body["nextToken"]
            .as_str()
            .and_then(|t| t.strip_prefix("bench-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let page = self.0.get(n).cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_raw(page.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<String> {
    let all: Vec<Value> = (0..n).map(record).collect();
    let chunks: Vec<&[Value]> = all.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let more = i + 1 < chunks.len();
            let mut page = json!({"hasMore": more, "records": c});
            if more {
                page["nextToken"] = json!(format!("bench-{}", i + 1));
            }
            page.to_string()
        })
        .collect()
}

/// The raw fetch: a token, the sheets, the fields, then the same pages by nextToken.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let token: Value = client
        .post(format!("{base}/v1.0/oauth2/accessToken"))
        .json(&json!({"appKey": "bench", "appSecret": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["accessToken"].as_str().unwrap().to_owned();
    let get = |url: String| {
        let token = token.clone();
        async move {
            let bytes = client
                .get(url)
                .query(&[("operatorId", OPERATOR)])
                .header("x-acs-dingtalk-access-token", token)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let sheets = get(format!("{base}/v1.0/notable/bases/{BASE}/sheets")).await;
    assert_eq!(sheets["value"][0]["id"], SHEET);
    let fields = get(format!(
        "{base}/v1.0/notable/bases/{BASE}/sheets/{SHEET}/fields"
    ))
    .await;
    assert!(fields["value"].is_array());
    let mut requests = 3u64;
    let mut got = 0;
    let mut next: Option<String> = None;
    loop {
        let mut body = json!({"maxResults": PAGE});
        if let Some(t) = &next {
            body["nextToken"] = json!(t);
        }
        let bytes = client
            .post(format!(
                "{base}/v1.0/notable/bases/{BASE}/sheets/{SHEET}/records/list"
            ))
            .query(&[("operatorId", OPERATOR)])
            .header("x-acs-dingtalk-access-token", token.clone())
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        requests += 1;
        got += page["records"].as_array().unwrap().len();
        match page["nextToken"].as_str() {
            Some(t) if page["hasMore"] == true => next = Some(t.to_owned()),
            _ => break,
        }
    }
    (got, requests)
}

fn main() {
    let n = records();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("POST"))
            .and(path("/v1.0/oauth2/accessToken"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"accessToken": "benchtoken", "expireIn": 7200})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/notable/bases/{BASE}/sheets")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"value": [{"id": SHEET, "name": "Tasks"}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1.0/notable/bases/{BASE}/sheets/{SHEET}/fields"
            )))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(fields().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!(
                "/v1.0/notable/bases/{BASE}/sheets/{SHEET}/records/list"
            )))
            .respond_with(Pages(pages(n)))
            .mount(&server)
            .await;
        println!("dingtalk_ai_table loopback: {n} records, {PAGE} per page, 10 typed fields each");

        let config: DingtalkAiTableConfig = connectors::core::config::from_json(json!({
            "table_id": BASE,
            "operator_id": OPERATOR,
            "credentials": {"app_key": "bench", "app_secret": "bench"},
            "api_base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // DingTalk's 20 per second would make this a test of the limiter.
            "requests_per_second": 10_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "record",
            name: "DingtalkAiTableConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || DingtalkAiTableConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
