//! The webhook sink against a wiremock receiver: acknowledgement, retries with the same
//! idempotency key, `Retry-After`, refusals named, deletes, split batches, secrets kept out.

#![allow(clippy::unwrap_used)] // Tests: a bad fixture should fail loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::http::RetryPolicy;
use connector_core::sink::Sink;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::MemoryConnector;
use connector_core::{Document, ErrorKind, Secret};
use connector_sync::{IDEMPOTENCY_KEY_HEADER, WebhookConfig, WebhookHeader, WebhookSink};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "whk-token-5f2a9c81e7";

/// Fast retries, so the tests do not wait for core's default backoff.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn config(server: &MockServer) -> WebhookConfig {
    let url = format!("{}/hook?sig=QUERYSECRET", server.uri());
    let mut config = WebhookConfig::new(url.parse().unwrap());
    config.token = Some(Secret::new(TOKEN));
    config
}

fn sink(config: WebhookConfig) -> WebhookSink {
    WebhookSink::builder(config, "wiki")
        .retry_policy(quick())
        .build()
        .unwrap()
}

fn docs(n: usize, text_len: usize) -> Vec<Document> {
    (0..n)
        .map(|i| {
            Document::text(
                format!("doc-{i}"),
                "test",
                format!("Doc {i}"),
                "x".repeat(text_len),
            )
        })
        .collect()
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn key(request: &Request) -> String {
    request.headers[IDEMPOTENCY_KEY_HEADER]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn accept(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

/// Answers `status` (with `extra` applied) to the first `times` POSTs.
async fn first_answer(server: &MockServer, times: u64, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(answer)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_2xx_acknowledges_the_batch_as_ndjson_documents_in_an_envelope() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let sink = sink(config(&server));
    let batch = docs(3, 20);
    sink.write(&batch).await.unwrap();

    let got = requests(&server).await;
    let request = &got[0];
    assert_eq!(request.url.query(), Some("sig=QUERYSECRET"));
    let body = body(request);
    assert_eq!(body["connector_id"], "wiki");
    assert_eq!(body["sequence"], 0);
    assert_eq!(
        (body["part"].clone(), body["parts"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(body["op"], "upsert");
    assert_eq!(body["idempotency_key"], key(request));
    // Each document as the NDJSON sink writes its line.
    let expected: Vec<Value> = batch
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    assert_eq!(body["documents"], Value::Array(expected));
    let back: Vec<Document> = serde_json::from_value(body["documents"].clone()).unwrap();
    assert_eq!(back, batch);

    // The next batch has the next sequence number and another key.
    sink.write(&docs(1, 5)).await.unwrap();
    let got = requests(&server).await;
    assert_eq!(body_of(&got, 1)["sequence"], 1);
    assert_ne!(key(&got[0]), key(&got[1]));
}

fn body_of(requests: &[Request], n: usize) -> Value {
    body(&requests[n])
}

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_body_and_idempotency_key() {
    let server = MockServer::start().await;
    first_answer(&server, 2, ResponseTemplate::new(503)).await;
    accept(&server).await;
    let sink = sink(config(&server));
    sink.write(&docs(2, 10)).await.unwrap();

    let got = requests(&server).await;
    assert_eq!(got.len(), 3, "two 503s and the accepted retry");
    assert!(got.iter().all(|r| key(r) == key(&got[0])));
    assert!(got.iter().all(|r| r.body == got[0].body));
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let server = MockServer::start().await;
    first_answer(
        &server,
        1,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
    )
    .await;
    accept(&server).await;
    let mut config = config(&server);
    config.timeout_secs = 1;
    let sink = sink(config);
    let started = Instant::now();
    sink.write(&docs(1, 10)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let got = requests(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(key(&got[0]), key(&got[1]));
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    first_answer(
        &server,
        1,
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
    )
    .await;
    accept(&server).await;
    let sink = sink(config(&server));
    let started = Instant::now();
    sink.write(&docs(1, 10)).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    let got = requests(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(key(&got[0]), key(&got[1]));
}

#[tokio::test]
async fn a_400_fails_at_once_naming_the_url_and_status_without_secrets() {
    let server = MockServer::start().await;
    // A receiver that quotes the request's credential back.
    first_answer(
        &server,
        1,
        ResponseTemplate::new(400).set_body_string(format!(
            "{{\"error\": \"document too old\", \"auth\": \"Bearer {TOKEN}\"}}"
        )),
    )
    .await;
    let sink = sink(config(&server));
    let err = sink.write(&docs(2, 10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert!(!err.is_retryable());
    let shown = err.to_string();
    assert!(shown.contains(&format!("{}/hook", server.uri())), "{shown}");
    assert!(shown.contains("HTTP 400"), "{shown}");
    assert!(shown.contains("document too old"), "{shown}");
    assert!(shown.contains("batch 0 (part 1 of 1)"), "{shown}");
    for secret in [TOKEN, "QUERYSECRET"] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!format!("{err:?}").contains(secret));
    }
    assert_eq!(requests(&server).await.len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_delete_is_a_post_of_its_own() {
    let server = MockServer::start().await;
    accept(&server).await;
    let sink = sink(config(&server));
    sink.write(&docs(1, 10)).await.unwrap();
    sink.delete(&["doc-0".to_owned(), "doc-\"7\"".to_owned()])
        .await
        .unwrap();
    let got = requests(&server).await;
    assert_eq!(got.len(), 2);
    let delete = body(&got[1]);
    assert_eq!(delete["op"], "delete");
    assert_eq!(delete["sequence"], 1);
    assert_eq!(delete["ids"], json!(["doc-0", "doc-\"7\""]));
    assert!(delete.get("documents").is_none());
    assert_eq!(delete["idempotency_key"], key(&got[1]));
}

#[tokio::test]
async fn secrets_never_show_in_debug() {
    let server = MockServer::start().await;
    let mut config = config(&server);
    config.header = Some(WebhookHeader {
        name: "X-Api-Key".into(),
        value: Secret::new("hdr-value-93ac1e"),
    });
    let shown = format!("{config:?} {:?}", sink(config.clone()));
    for secret in [TOKEN, "hdr-value-93ac1e", "QUERYSECRET"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("X-Api-Key"));

    // Both credentials are sent.
    Mock::given(method("POST"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("x-api-key", "hdr-value-93ac1e"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    sink(config).write(&docs(1, 1)).await.unwrap();
}

#[tokio::test]
async fn a_large_batch_is_split_and_each_part_acknowledged_before_the_next() {
    let server = MockServer::start().await;
    accept(&server).await;
    let mut config = config(&server);
    config.max_body_bytes = 2048;
    let sink = sink(config);
    let batch = docs(12, 400);
    sink.write(&batch).await.unwrap();

    let got = requests(&server).await;
    assert!(got.len() >= 3, "{} POSTs", got.len());
    let mut ids = Vec::new();
    for (n, request) in got.iter().enumerate() {
        assert!(request.body.len() <= 2048, "{} bytes", request.body.len());
        let body = body(request);
        assert_eq!(body["sequence"], 0);
        assert_eq!(body["part"], n);
        assert_eq!(body["parts"], got.len());
        for doc in body["documents"].as_array().unwrap() {
            ids.push(doc["id"].as_str().unwrap().to_owned());
        }
    }
    let expected: Vec<String> = batch.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids, expected, "every document once, in order");
    let mut keys: Vec<String> = got.iter().map(key).collect();
    keys.dedup();
    assert_eq!(keys.len(), got.len(), "one key per part");

    // A part that is refused stops the batch: the parts after it are not sent.
    let server = MockServer::start().await;
    first_answer(&server, 1, ResponseTemplate::new(200)).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422))
        .mount(&server)
        .await;
    let mut config = self::config(&server);
    config.max_body_bytes = 2048;
    let err = self::sink(config).write(&batch).await.unwrap_err();
    assert!(err.to_string().contains("part 2 of"), "{err}");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_sync_delivers_through_the_webhook() {
    let server = MockServer::start().await;
    accept(&server).await;
    let connector = Arc::new(MemoryConnector::numbered(
        10,
        4,
        chrono::DateTime::UNIX_EPOCH,
    ));
    let report = Syncer::new(connector)
        .sink(sink(config(&server)))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 10);
    let mut delivered = 0;
    for request in requests(&server).await {
        delivered += body(&request)["documents"].as_array().unwrap().len();
    }
    assert_eq!(delivered, 10);
}

#[test]
fn configs_are_checked_field_by_field() {
    let bad: WebhookConfig = serde_json::from_value(json!({
        "url": "ftp://user:pw@host/x",
        "max_body_bytes": 10,
        "timeout_secs": 0,
        "token": "t",
        "header": {"name": "Authorization", "value": "v"}
    }))
    .unwrap();
    let err = WebhookSink::builder(bad, "wiki").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let fields: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        fields,
        [
            "url",
            "url",
            "max_body_bytes",
            "timeout_secs",
            "header.name"
        ]
    );
    let unknown = serde_json::from_value::<WebhookConfig>(json!({"url": "http://h/", "tokn": "x"}));
    assert!(unknown.is_err());
}
