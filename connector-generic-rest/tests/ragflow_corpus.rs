//! The `rest_api` cases of the RAGFlow corpus (`tests/ragflow-corpus/rest_api/` at the
//! workspace root), read by this crate alone: each config parses and builds, its effective
//! settings include the case's `expect`, exactly the case's `ignored` fields are reported as
//! accepted and ignored, and no credential of the case shows in the effective config or in
//! `Debug`. The facade's `tests/ragflow_corpus.rs` runs the same files through the full
//! registry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

use std::path::PathBuf;

use connector_generic_rest::rest_api::RestApiConfig;
use serde_json::{Value, json};

fn corpus() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/ragflow-corpus/rest_api");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let case =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

/// Where `expect` is not contained in `actual` (objects by key, everything else equal).
fn mismatch(expect: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expect, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| match a.get(k) {
            Some(got) => mismatch(v, got, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k}: missing, expected {v}")),
        }),
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        _ if expect == actual => None,
        _ => Some(format!("{at}: expected {expect}, got {actual}")),
    }
}

/// The credentials a case gives: `credentials.*`, the secrets of `auth_config`, and the
/// values of headers, query parameters and URL parameters (which may carry keys); values
/// shorter than 8 characters (`en`, `acme`) are left out, as they may well appear elsewhere.
fn secrets(config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str)
            && s.trim().len() >= 8
        {
            out.push(s.trim().to_owned());
        }
    };
    for key in ["api_key", "token", "password"] {
        add(config["credentials"].get(key));
    }
    for key in ["api_key", "api_key_value", "token", "password"] {
        add(config["auth_config"].get(key));
    }
    for field in ["headers", "query_params"] {
        match &config[field] {
            Value::Object(map) => map.values().for_each(|v| add(Some(v))),
            Value::String(text) => {
                let pairs: Vec<Value> = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => map.into_values().collect(),
                    _ => text
                        .lines()
                        .filter(|l| !l.trim_start().starts_with('#'))
                        .filter_map(|l| l.split_once('=').map(|(_, v)| json!(v)))
                        .collect(),
                };
                pairs.iter().for_each(|v| add(Some(v)));
            }
            _ => {}
        }
    }
    if let Some(url) = config["url"].as_str().and_then(|u| url::Url::parse(u).ok()) {
        for (_, v) in url.query_pairs() {
            add(Some(&json!(v)));
        }
    }
    out
}

#[test]
fn every_rest_api_case_parses_with_ragflow_meaning() {
    let cases = corpus();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    for (name, case) in cases {
        assert_eq!(case["source"], "rest_api", "{name}");
        let config = case["config"].clone();
        let parsed = connector_core::config::parse::<RestApiConfig>(config.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let effective = serde_json::to_value(&parsed.config).unwrap();
        if let Some(problem) = mismatch(&case["expect"], &effective, "") {
            panic!("{name}: {problem}\neffective: {effective:#}");
        }
        assert_eq!(
            registry
                .effective_config("rest_api", config.clone())
                .unwrap(),
            effective,
            "{name}"
        );
        let mut ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        ignored.sort_unstable();
        let mut want: Vec<&str> = case["ignored"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        want.sort_unstable();
        assert_eq!(ignored, want, "{name}: ignored fields");
        let built = registry
            .build_with_notes("rest_api", config.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(built.ignored.len(), want.len(), "{name}");
        // Every config polls: with no time to filter by, a poll reads every item.
        assert!(built.connector.capabilities().poll, "{name}");
        let shown = [
            format!("{:?}", parsed.config),
            format!("{:?}", built.connector),
            built.connector.to_string(),
            effective.to_string(),
        ];
        for secret in secrets(&config) {
            for text in &shown {
                assert!(
                    !text.contains(&secret),
                    "{name}: `{secret}` shows in {text}"
                );
            }
        }
    }
}

#[test]
fn unknown_fields_are_still_refused_with_a_hint() {
    let case = corpus()
        .into_iter()
        .find(|(name, _)| name == "form-defaults.json")
        .map(|(_, case)| case)
        .unwrap();
    let mut config = case["config"].clone();
    config["show_advance"] = json!(true);
    config["pagination_config"]["page_parm"] = json!("p");
    let err = connector_core::config::from_json::<RestApiConfig>(config).unwrap_err();
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{err}");
    assert!(
        problems[0].starts_with("pagination_config.page_parm: unknown field")
            && problems[0].contains("page_param"),
        "{err}"
    );
    assert!(
        problems[1].starts_with("show_advance: unknown field")
            && problems[1].contains("show_advanced"),
        "{err}"
    );
}
