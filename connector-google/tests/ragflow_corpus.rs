//! The RAGFlow corpus cases of this crate's sources (`tests/ragflow-corpus/{google_drive,gmail}`
//! at the workspace root), read through `connector_core::config::parse` as the registry reads
//! them: each builds, its `expect` is a subset of the config serialised back (the effective
//! config), and its `ignored` are exactly the fields reported as ignored. The facade's harness
//! runs the same files with the full registry; this one runs without the facade.
#![allow(clippy::unwrap_used, clippy::panic)] // A test: a bad case should fail it loudly.
#![cfg(all(feature = "google_drive", feature = "gmail"))]

use std::path::{Path, PathBuf};

use connector_core::ConnectorConfig;
use serde::Serialize;
use serde_json::Value;

fn corpus(source: &str) -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ragflow-corpus")
        .join(source);
    let mut cases: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let case = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

/// Where `expect` is not found in `actual`, as a path, or `None` when it is a subset.
fn not_within(expect: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expect, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| match a.get(k) {
            Some(av) => not_within(v, av, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k} is missing")),
        }),
        _ if expect == actual => None,
        _ => Some(format!("{at}: expected {expect}, got {actual}")),
    }
}

fn check<C: ConnectorConfig + Serialize>(source: &str) {
    for (path, case) in corpus(source) {
        let name = path.display();
        assert_eq!(case["source"], source, "{name}");
        assert!(
            case["origin"].as_str().is_some_and(|o| !o.is_empty()),
            "{name}"
        );
        let parsed = connector_core::config::parse::<C>(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name} is refused: {e}"));
        let effective = serde_json::to_value(&parsed.config).unwrap();
        if let Some(diff) = not_within(&case["expect"], &effective, "") {
            panic!("{name}: {diff}\neffective config: {effective:#}");
        }
        let mut ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        ignored.sort_unstable();
        let mut expected: Vec<&str> = case
            .get("ignored")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        expected.sort_unstable();
        assert_eq!(ignored, expected, "{name}: ignored fields");
        let text = effective.to_string();
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("GOCSPX"),
            "{name}: a secret in the effective config"
        );
    }
}

#[cfg(feature = "google_drive")]
#[test]
fn google_drive_cases() {
    check::<connector_google::GoogleDriveConfig>("google_drive");
}

#[cfg(feature = "gmail")]
#[test]
fn gmail_cases() {
    check::<connector_google::GmailConfig>("gmail");
}
