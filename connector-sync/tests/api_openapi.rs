//! Requests generated from the served OpenAPI document: for every documented operation, path
//! parameters from a pool (a real connector id, unknown ids, numbers, a source key), query
//! parameters of the right and the wrong types, and bodies either built from the operation's
//! request schema (right shape, random values, sometimes an extra field) or arbitrary JSON or
//! bytes. The server must never answer 500, every answer must be JSON, its status must be
//! documented for the operation (or covered by its `default`), and its body must match the
//! documented schema (errors: the one error shape). The OAuth flows are installed, so their
//! routes are generated too (their callbacks may answer a documented HTML page).

mod support;

use std::sync::{Arc, Mutex};

use connector_sync::api::ApiOptions;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use support::api::Server;
use support::engine::{Backend, write_files};

/// One documented operation.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    params: Vec<(String, String, Value)>,
    body: Option<Value>,
    responses: Map<String, Value>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p["name"].as_str().unwrap_or_default().to_owned(),
                                p["in"].as_str().unwrap_or_default().to_owned(),
                                p["schema"].clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                params,
                body: (!body.is_null()).then_some(body),
                responses: op["responses"].as_object().cloned().unwrap_or_default(),
            });
        }
    }
    out.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    out
}

/// `$ref` resolved against the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Whether `value` matches `schema` (the parts of JSON Schema the document uses).
fn matches(doc: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if schema.as_object().is_none_or(Map::is_empty) {
        return Ok(());
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            return if options.iter().any(|s| matches(doc, s, value, path).is_ok()) {
                Ok(())
            } else {
                Err(format!("{path}: {value} matches none of {key}"))
            };
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            matches(doc, s, value, path)?;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{path}: {value} is not one of {options:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => true,
        });
        if !ok {
            return Err(format!("{path}: {value} is not of type {types:?}"));
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                return Err(format!("{path}: missing required `{name}`"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => matches(doc, s, v, &format!("{path}.{k}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{path}: undocumented field `{k}`"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            matches(doc, items, v, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

/// A value of the shape `schema` asks for, with random leaves drawn from `pick`.
fn shaped(doc: &Value, schema: &Value, pick: &mut impl FnMut(usize) -> usize, depth: u32) -> Value {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && !options.is_empty()
    {
        let choice = &options[pick(options.len())];
        return shaped(doc, choice, pick, depth);
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.is_empty()
    {
        return options[pick(options.len())].clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) if !ts.is_empty() => {
            ts[pick(ts.len())].as_str().unwrap_or("null").to_owned()
        }
        _ => "any".to_owned(),
    };
    let strings = ["", "local", "a", "x/y", "ü", "0", "***"];
    match ty.as_str() {
        "object" if depth < 3 => {
            let mut map = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, s) in props {
                    if pick(4) > 0 {
                        map.insert(k.clone(), shaped(doc, s, pick, depth + 1));
                    }
                }
            }
            if pick(6) == 0 {
                map.insert("unexpected".to_owned(), json!(1));
            }
            Value::Object(map)
        }
        "array" if depth < 3 => {
            let n = pick(3);
            Value::Array(
                (0..n)
                    .map(|_| shaped(doc, &schema["items"], pick, depth + 1))
                    .collect(),
            )
        }
        "string" => json!(strings[pick(strings.len())]),
        "integer" => json!([0, 1, -1, 7, i64::MAX][pick(5)]),
        "number" => json!(1.5),
        "boolean" => json!(pick(2) == 0),
        "null" => Value::Null,
        _ => [json!(null), json!({}), json!("s"), json!(3)][pick(4)].clone(),
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z]{0,4}|local".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// How a case builds its request body.
#[derive(Debug, Clone)]
enum Body {
    None,
    Shaped(u64),
    Json(Value),
    Bytes(Vec<u8>),
}

#[test]
fn generated_requests_never_get_a_500_and_always_the_documented_shape() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let server = rt.block_on(Server::start(Backend::Sqlite, false, ApiOptions::default()));
    let docs = server.dir.path().join("docs");
    write_files(&docs, 3);
    let (status, created) = rt.block_on(server.post(
        "/api/v1/connectors",
        json!({"name": "a", "source": "local", "config": {"path": docs}}),
    ));
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, doc) = rt.block_on(server.get("/openapi.json"));
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "{} operations documented", ops.len());
    let server = Arc::new(server);
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));

    let pool: Vec<String> = vec![
        id.clone(),
        id,
        "0123456789abcdef0123456789abcdef".into(),
        "local".into(),
        "1".into(),
        "-5".into(),
        "%2Fetc%2Fpasswd".into(),
        "doc-000.md".into(),
        "99999999999999999999".into(),
    ];
    let query_values = ["1", "0", "2", "1000", "1001", "abc", "-1", "", "doc-001.md"];
    let body = prop_oneof![
        2 => Just(Body::None),
        4 => any::<u64>().prop_map(Body::Shaped),
        2 => arbitrary_json().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Body::Bytes),
    ];
    let strategy = (
        0..ops.len(),
        prop::collection::vec(0..pool.len(), 3),
        prop::collection::vec((any::<bool>(), 0..query_values.len()), 3),
        body,
    );
    let mut runner = TestRunner::new(Config {
        cases: 768,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(op_index, path_picks, query_picks, body)| {
        let op = &ops[op_index];
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut path_i = 0;
        let mut query_i = 0;
        for (name, place, _) in &op.params {
            match place.as_str() {
                "path" => {
                    let v = &pool[path_picks[path_i % path_picks.len()]];
                    path_i += 1;
                    path = path.replace(&format!("{{{name}}}"), v);
                }
                "query" => {
                    let (on, v) = query_picks[query_i % query_picks.len()];
                    query_i += 1;
                    if on {
                        query.push((name.clone(), query_values[v].to_owned()));
                    }
                }
                _ => {}
            }
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut req = server.req(method, &path).query(&query);
        match &body {
            Body::None => {}
            Body::Shaped(seed) => {
                if let Some(schema) = &op.body {
                    let mut state = *seed | 1;
                    let mut pick = |n: usize| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        usize::try_from(state % (n.max(1) as u64)).unwrap_or(0)
                    };
                    req = req.json(&shaped(&doc, schema, &mut pick, 0));
                }
            }
            Body::Json(v) => req = req.json(v),
            Body::Bytes(b) => {
                req = req
                    .header("content-type", "application/json")
                    .body(b.clone());
            }
        }
        let (status, text, content_type) = rt.block_on(async {
            let r = req
                .send()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = r.text().await.unwrap_or_default();
            Ok::<_, TestCaseError>((status, text, ct))
        })?;
        let what = format!(
            "{} {path}?{query:?} body {body:?} -> {status}: {text}",
            op.method
        );
        prop_assert!(status != 500, "{what}");
        if let Ok(mut seen) = seen.lock() {
            seen.insert((op.method.clone(), op.path.clone(), status));
        }
        let documented = op
            .responses
            .get(&status.to_string())
            .or_else(|| op.responses.get("default"));
        prop_assert!(documented.is_some(), "undocumented status: {what}");
        if content_type.starts_with("application/openmetrics-text") {
            prop_assert!(op.path == "/metrics" && status == 200, "{what}");
            return Ok(());
        }
        // The OAuth callbacks answer the browser a page unless it asks for JSON: the page must
        // be documented for that status.
        if content_type.starts_with("text/html") {
            let page = documented
                .map(|r| resolve(&doc, r))
                .is_some_and(|r| r["content"]["text/html"].is_object());
            prop_assert!(page, "an undocumented page: {what}");
            return Ok(());
        }
        prop_assert!(
            content_type.starts_with("application/json"),
            "{content_type}: {what}"
        );
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {what}")))?;
        let schema = documented
            .map(|r| resolve(&doc, r))
            .map(|r| r["content"]["application/json"]["schema"].clone())
            .unwrap_or(Value::Null);
        if let Err(why) = matches(&doc, &schema, &value, "$") {
            return Err(TestCaseError::fail(format!("{why}: {what}")));
        }
        if status >= 400 {
            let error = json!({"$ref": "#/components/schemas/ErrorBody"});
            if let Err(why) = matches(&doc, &error, &value, "$") {
                return Err(TestCaseError::fail(format!("{why}: {what}")));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The run reached every operation, and got past validation on some.
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let ops_seen: std::collections::BTreeSet<_> = seen
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    assert_eq!(ops_seen.len(), ops.len(), "operations never generated");
    assert!(seen.iter().any(|(_, _, s)| (200..300).contains(s)));
    if let Ok(server) = Arc::try_unwrap(server) {
        rt.block_on(server.stop());
    }
}

#[tokio::test]
async fn the_shape_check_rejects_what_the_document_does_not_describe() {
    let server = Server::start(Backend::Sqlite, false, ApiOptions::default()).await;
    let (_, doc) = server.get("/openapi.json").await;
    let error = json!({"$ref": "#/components/schemas/ErrorBody"});
    let good =
        json!({"error": {"status": 404, "code": "not_found", "message": "m", "problems": []}});
    assert!(matches(&doc, &error, &good, "$").is_ok());
    let no_problems = json!({"error": {"status": 404, "code": "not_found", "message": "m"}});
    assert!(matches(&doc, &error, &no_problems, "$").is_err());
    let wrong_type =
        json!({"error": {"status": "404", "code": "x", "message": "m", "problems": []}});
    assert!(matches(&doc, &error, &wrong_type, "$").is_err());
    let view = json!({"$ref": "#/components/schemas/JobView"});
    assert!(matches(&doc, &view, &json!({"jobId": "1"}), "$").is_err());
    server.stop().await;
}
