//! A fake JSON API with real-looking pagination styles, for wiremock.
#![allow(dead_code, unreachable_pub)] // Each test binary uses part of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_core::ids::hash128;
use connector_core::{Batch, CheckpointJson, Connector, Document, Error, Failure, SyncContext};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "tok-5ecret-value";
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Page,
    Offset,
    Cursor,
    Link,
    NextUrl,
    /// POST with `offset`/`limit` in the JSON body.
    BodyOffset,
    /// Cursor that comes back the same forever.
    StuckCursor,
}

pub fn item(i: usize) -> Value {
    json!({
        "id": format!("A-{i}"),
        "title": format!("Article {i}"),
        "body": format!("<h2>Part {i}</h2><p>First paragraph of {i}.</p><p>Second paragraph.</p>"),
        "author": {"name": format!("author{}", i % 3)},
        "tags": [{"label": "x"}, {"label": format!("t{i}")}],
        // One minute apart; odd items in epoch milliseconds, even in seconds.
        "updated_at": if i.is_multiple_of(2) { json!(T0 + 60 * i as i64) } else { json!((T0 + 60 * i as i64) * 1000) },
    })
}

pub struct FakeApi {
    pub items: Vec<Value>,
    pub style: Style,
    /// The server returns at most this many items whatever was asked.
    pub cap: usize,
    /// `(header, value)` every request must carry.
    pub auth: Option<(&'static str, String)>,
    pub hits: Arc<AtomicUsize>,
}

impl FakeApi {
    pub fn new(n: usize, style: Style) -> Self {
        Self {
            items: (0..n).map(item).collect(),
            style,
            cap: usize::MAX,
            auth: None,
            hits: Arc::default(),
        }
    }

    pub fn bearer(mut self) -> Self {
        self.auth = Some(("authorization", format!("Bearer {TOKEN}")));
        self
    }

    pub fn cap(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }

    pub async fn mount(self, server: &MockServer, path: &str) {
        Mock::given(wiremock::matchers::path(path))
            .respond_with(self)
            .mount(server)
            .await;
    }

    fn slice(&self, start: usize, asked: usize) -> Vec<Value> {
        let n = asked.min(self.cap);
        self.items.iter().skip(start).take(n).cloned().collect()
    }
}

fn q(req: &Request, k: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(qk, _)| qk == k)
        .map(|(_, v)| v.into_owned())
}

fn qn(req: &Request, k: &str, default: usize) -> usize {
    q(req, k).and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Respond for FakeApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.hits.fetch_add(1, Ordering::SeqCst);
        if let Some((h, v)) = &self.auth
            && req.headers.get(*h).and_then(|x| x.to_str().ok()) != Some(v.as_str())
        {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_token"}));
        }
        // wiremock's request URL names `localhost`, not the address the client used.
        let base = req.url.path().to_owned();
        match self.style {
            Style::Page => {
                let size = qn(req, "per_page", 10).min(self.cap);
                let page = qn(req, "page", 1).max(1);
                let items = self.slice((page - 1) * size, size);
                ResponseTemplate::new(200).set_body_json(json!({"data": items, "page": page}))
            }
            Style::Offset => {
                let items = self.slice(qn(req, "offset", 0), qn(req, "limit", 10));
                ResponseTemplate::new(200)
                    .set_body_json(json!({"results": items, "total": self.items.len()}))
            }
            Style::Cursor | Style::StuckCursor => {
                let start = q(req, "after")
                    .and_then(|c| c.strip_prefix("c").and_then(|n| n.parse().ok()))
                    .unwrap_or(0);
                let items = self.slice(start, qn(req, "limit", 3));
                let end = start + items.len();
                let next = if self.style == Style::StuckCursor {
                    json!("c0")
                } else if end < self.items.len() {
                    json!(format!("c{end}"))
                } else {
                    Value::Null
                };
                ResponseTemplate::new(200)
                    .set_body_json(json!({"items": items, "meta": {"next_cursor": next}}))
            }
            Style::Link => {
                let page = qn(req, "page", 1).max(1);
                let items = self.slice((page - 1) * 3, 3);
                let mut t = ResponseTemplate::new(200).set_body_json(Value::Array(items));
                if page * 3 < self.items.len() {
                    let link = format!(
                        "<{base}?page={}>; rel=\"next\", <{base}?page=999>; rel=\"last\"",
                        page + 1
                    );
                    t = t.insert_header("Link", link.as_str());
                }
                t
            }
            Style::NextUrl => {
                let page = qn(req, "page", 1).max(1);
                let items = self.slice((page - 1) * 3, 3);
                let next = if page * 3 < self.items.len() {
                    json!(format!("{}?page={}", req.url.path(), page + 1))
                } else {
                    Value::Null
                };
                ResponseTemplate::new(200)
                    .set_body_json(json!({"records": items, "links": {"next": next}}))
            }
            Style::BodyOffset => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let offset = body["offset"].as_u64().unwrap_or(0) as usize;
                let limit = body["limit"].as_u64().unwrap_or(10) as usize;
                if body["query"] != json!("all") {
                    return ResponseTemplate::new(400).set_body_string("missing query");
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({"hits": {"hits": self.slice(offset, limit)}}))
            }
        }
    }
}

/// A connector from a JSON config. The fake APIs listen on loopback, which the connector
/// denies unless `allowed_hosts` names it: added here when the config does not say.
pub fn build(mut config: Value) -> Arc<dyn Connector> {
    if let Some(object) = config.as_object_mut() {
        object
            .entry("allowed_hosts")
            .or_insert_with(|| json!(["127.0.0.1", "localhost"]));
    }
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    registry
        .build("rest_api", config)
        .unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// The standard cursor config against `uri`.
pub fn cursor_config(uri: &str) -> Value {
    json!({
        "url": format!("{uri}/v1/articles?limit=3"),
        "auth_type": "bearer",
        "credentials": {"token": TOKEN},
        "id_field": "id",
        "content_fields": "title, body",
        "metadata_fields": ["author.name", "tags[*].label"],
        "poll_timestamp_field": "updated_at",
        "pagination_type": "cursor",
        "pagination_config": {"cursor_param": "after", "next_cursor_path": "$.meta.next_cursor"},
        "max_retries": 4
    })
}

/// A config for `{uri}/items`, whose pages hold their items under `data`: each item's `id`,
/// `title` and `score` mapped; `fields` adds to or overrides it.
pub fn items_config(uri: &str, fields: &Value) -> Value {
    let mut cfg = json!({
        "url": format!("{uri}/items"),
        "items_path": "$.data",
        "id_field": "id",
        "content_fields": "title",
        "metadata_fields": ["score"],
    });
    for (k, v) in fields.as_object().expect("fields: an object") {
        cfg[k] = v.clone();
    }
    cfg
}

/// The documents, failures and error of a full load.
pub async fn load(c: &Arc<dyn Connector>) -> (Vec<Document>, Vec<Failure>, Option<Error>) {
    drain(c.as_load().expect("load").load(SyncContext::new())).await
}

/// The documents, failures and error of a sync's batches.
pub async fn drain(
    mut s: BoxStream<'static, connector_core::Result<Batch>>,
) -> (Vec<Document>, Vec<Failure>, Option<Error>) {
    let (mut docs, mut fails) = (Vec::new(), Vec::new());
    while let Some(page) = s.next().await {
        match page {
            Ok(b) => {
                docs.extend(b.documents);
                fails.extend(b.failures);
            }
            Err(e) => return (docs, fails, Some(e)),
        }
    }
    (docs, fails, None)
}

/// The ids prune lists, or its error.
pub async fn list_ids(c: &Arc<dyn Connector>) -> Result<Vec<String>, Error> {
    let mut s = c.as_slim().expect("slim").list_ids(SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = s.next().await {
        ids.extend(page?.into_iter().map(|d| d.id));
    }
    Ok(ids)
}

/// The document id of the item whose id field is `raw`.
pub fn doc_id(raw: &str) -> String {
    hash128(&format!("rest_api:{raw}"))
}

/// What a load did: the titles delivered, the items failed alone, the error's text, and the
/// requests made.
pub struct Walked {
    pub titles: Vec<String>,
    pub failed: usize,
    pub err: Option<String>,
    pub requests: usize,
}

/// Serves `bodies` as pages 1, 2, … of a walk (`page` unless `fields` says otherwise) configured by `fields` (over
/// [`items_config`]), and loads it.
pub async fn walk(fields: Value, bodies: &[Value]) -> Walked {
    let server = MockServer::start().await;
    for (i, body) in bodies.iter().enumerate() {
        Mock::given(method("GET"))
            .and(query_param("page", (i + 1).to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let mut fields = fields;
    if fields.get("pagination_type").is_none() {
        fields["pagination_type"] = json!("page");
    }
    if fields.get("max_pages").is_none() {
        fields["max_pages"] = json!(20);
    }
    walked(&server, &fields).await
}

/// Loads `fields` over [`items_config`] against `server`, and says what the load did.
pub async fn walked(server: &MockServer, fields: &Value) -> Walked {
    let (docs, fails, err) = load(&build(items_config(&server.uri(), fields))).await;
    Walked {
        titles: docs.into_iter().map(|d| d.title).collect(),
        failed: fails.len(),
        err: err.map(|e| e.to_string()),
        requests: server.received_requests().await.unwrap().len(),
    }
}

/// A new server that serves `bodies` as a cursor walk ([`mount_cursor_walk`]): "serve these
/// pages", where a test reads the server (its requests) or builds its own config against it.
pub async fn serve_cursor_walk(bodies: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    mount_cursor_walk(&server, bodies).await;
    server
}

/// Mounts `bodies` as a cursor walk (`after`, `$.next`) on `server`: body `i` says
/// `next: p{i+2}` unless it is the last.
pub async fn mount_cursor_walk(server: &MockServer, bodies: &[Value]) {
    for (i, body) in bodies.iter().enumerate() {
        let mut body = body.clone();
        if i + 1 < bodies.len() {
            body["next"] = json!(format!("p{}", i + 2));
        }
        let mock = Mock::given(method("GET"));
        let mock = match i {
            0 => mock.and(query_param_is_missing("after")),
            _ => mock.and(query_param("after", format!("p{}", i + 1))),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
}

/// What a load of `bodies` served as a cursor walk ([`mount_cursor_walk`]) under
/// `items_path` delivered (the titles), its error, and "Test Connection"'s error on them.
pub async fn run(
    items_path: &str,
    bodies: &[Value],
) -> (Vec<String>, Option<Error>, Option<Error>) {
    run_with(json!({"items_path": items_path}), bodies).await
}

/// [`run`] with `fields` (over [`cursor_fields`] and [`items_config`]) instead of an items
/// path alone.
pub async fn run_with(
    fields: Value,
    bodies: &[Value],
) -> (Vec<String>, Option<Error>, Option<Error>) {
    let server = serve_cursor_walk(bodies).await;
    let c = build(items_config(&server.uri(), &cursor_fields(fields)));
    let (docs, _, err) = load(&c).await;
    let titles = docs.into_iter().map(|d| d.title).collect();
    (titles, err, c.check().await.err())
}

/// An Elasticsearch `_msearch` answer: one search that found `record(1)`, one whose entry says
/// `status` (with the error body a rejected search carries).
pub fn msearch(status: u64) -> Value {
    json!({"took": 12, "responses": [
        {"took": 3, "timed_out": false, "hits": {"total": {"value": 1, "relation": "eq"},
            "hits": [record(1, true)]}, "status": 200},
        {"error": {"root_cause": [{"type": "es_rejected_execution_exception",
            "reason": "rejected execution"}], "type": "es_rejected_execution_exception",
            "reason": "rejected execution"}, "status": status}]})
}

/// `fields` as a cursor walk's (`after`, `$.next`), as [`mount_cursor_walk`] serves it.
pub fn cursor_fields(fields: Value) -> Value {
    let mut fields = fields;
    fields["pagination_type"] = json!("cursor");
    fields["pagination_config"] = json!({"cursor_param": "after", "next_cursor_path": "$.next"});
    fields
}

/// A record with its id, title and whether it is public (a filtered path's item).
pub fn record(id: u64, public: bool) -> Value {
    json!({"id": id, "public": public, "title": format!("t{id}")})
}

/// The documents a load from `from` delivered, its checkpoints, and its error's text.
pub async fn drain_from(
    c: &Arc<dyn Connector>,
    from: CheckpointJson,
) -> (usize, Vec<CheckpointJson>, Option<String>) {
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(from, None, SyncContext::new());
    let (mut n, mut all, mut err) = (0, Vec::new(), None);
    while let Some(p) = s.next().await {
        match p {
            Ok(b) => {
                n += b.batch.documents.len();
                all.push(b.checkpoint);
            }
            Err(e) => err = Some(e.to_string()),
        }
    }
    (n, all, err)
}

/// The titles a cursor walk over `bodies` ([`mount_cursor_walk`]) under `items_path`
/// delivered, and its error's text.
pub async fn cursor_walk(items_path: &str, bodies: &[Value]) -> (Vec<String>, Option<String>) {
    let server = serve_cursor_walk(bodies).await;
    let fields = cursor_fields(json!({"items_path": items_path}));
    let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
    let titles = docs.into_iter().map(|d| d.title).collect();
    (titles, err.map(|e| e.to_string()))
}

/// `c`'s first checkpoint with `state` as its state (a checkpoint an earlier binary or run wrote).
pub fn start_with(c: &Arc<dyn Connector>, state: Value) -> CheckpointJson {
    let mut from = c
        .as_checkpointed()
        .unwrap()
        .initial_checkpoint_json()
        .unwrap();
    from.state = state;
    from
}
