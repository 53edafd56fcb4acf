//! The Jira cases of the RAGFlow corpus (`tests/ragflow-corpus/jira/` at the workspace root),
//! read by this crate alone: each config parses, its effective settings include the case's
//! `expect`, and exactly the case's `ignored` fields are reported as accepted and ignored.
//! The facade's `tests/ragflow_corpus.rs` runs the same files through the full registry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

use std::path::PathBuf;

use connector_jira::JiraConfig;
use serde_json::Value;

fn corpus() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/ragflow-corpus/jira");
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

#[test]
fn every_jira_case_parses_with_ragflow_meaning() {
    let cases = corpus();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for (name, case) in cases {
        assert_eq!(case["source"], "jira", "{name}");
        let parsed = connector_core::config::parse::<JiraConfig>(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let effective = serde_json::to_value(&parsed.config).unwrap();
        if let Some(problem) = mismatch(&case["expect"], &effective, "") {
            panic!("{name}: {problem}\neffective: {effective:#}");
        }
        let mut ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        ignored.sort_unstable();
        let mut want: Vec<&str> = case["ignored"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        want.sort_unstable();
        assert_eq!(ignored, want, "{name}: ignored fields");
        // The secrets in the case never show.
        let shown = format!("{:?}", parsed.config);
        for secret in [
            "token",
            "api_token",
            "jira_api_token",
            "password",
            "jira_password",
        ] {
            if let Some(value) = case["config"]["credentials"][secret].as_str()
                && !value.is_empty()
            {
                assert!(!shown.contains(value), "{name}: {secret} in {shown}");
            }
        }
    }
}
