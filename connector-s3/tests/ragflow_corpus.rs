//! The object-store cases of the RAGFlow corpus (`tests/ragflow-corpus/{s3,r2,
//! google_cloud_storage,oci_storage,s3_compatible}/` at the workspace root), read by this crate
//! alone: each config parses, its effective settings include the case's `expect`, exactly the
//! case's `ignored` fields are reported, the connector builds for the case's source (with an
//! empty environment: nothing is read or sent at build time), what it built matches the
//! case's `built` (this crate's key: `allow_images`, whose default depends on the source and so
//! is absent from the effective config), and no secret of the case shows in `Debug`. The
//! facade's `tests/ragflow_corpus.rs` runs the same files through the full registry.

use std::path::PathBuf;
use std::sync::Arc;

use connector_s3::s3::{BucketType, S3Config, S3Connector, StaticEnvironment};
use serde_json::Value;

const SOURCES: &[&str] = &[
    "s3",
    "r2",
    "google_cloud_storage",
    "oci_storage",
    "s3_compatible",
];

/// Credential fields whose values must never show.
const SECRETS: &[&str] = &[
    "aws_secret_access_key",
    "aws_session_token",
    "session_token",
    "r2_secret_access_key",
    "secret_access_key",
];

fn corpus(source: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ragflow-corpus")
        .join(source);
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let case =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (format!("{source}/{}", p.display()), case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

/// Where `expect` is not contained in `actual` (objects by key, `null` for absent).
fn mismatch(expect: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expect, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| match a.get(k) {
            Some(got) => mismatch(v, got, &format!("{at}.{k}")),
            None if v.is_null() => None,
            None => Some(format!("{at}.{k}: missing, expected {v}")),
        }),
        _ if expect == actual => None,
        _ => Some(format!("{at}: expected {expect}, got {actual}")),
    }
}

#[test]
fn every_object_store_case_parses_and_builds_with_ragflow_meaning() {
    let mut seen = 0;
    for source in SOURCES {
        let cases = corpus(source);
        assert!(cases.len() >= 3, "{source}: {} cases", cases.len());
        for (name, case) in cases {
            seen += 1;
            assert_eq!(case["source"].as_str(), Some(*source), "{name}");
            let parsed = connector_core::config::parse::<S3Config>(case["config"].clone())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let effective = serde_json::to_value(&parsed.config).expect("serialises");
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

            let bucket_type = parsed.config.bucket_type;
            let connector = S3Connector::with_environment(
                source,
                parsed.config,
                Arc::new(StaticEnvironment::new()),
                |b| b,
            )
            .unwrap_or_else(|e| panic!("{name}: does not build: {e}"));
            // The bucket type is the one the config names, else the source's.
            let expected_type = bucket_type
                .or_else(|| BucketType::from_source(source))
                .expect("a bucket type");
            assert_eq!(connector.bucket_type(), expected_type, "{name}");
            let allow = case["built"]["allow_images"]
                .as_bool()
                .unwrap_or_else(|| panic!("{name}: `built.allow_images` must pin the default"));
            assert_eq!(connector.allow_images(), allow, "{name}: allow_images");

            let shown = format!("{connector:?} {connector}");
            for field in SECRETS {
                if let Some(value) = case["config"]["credentials"][field].as_str()
                    && !value.is_empty()
                {
                    assert!(!shown.contains(value), "{name}: {field} shows in {shown}");
                }
            }
        }
    }
    assert!(seen >= 25, "{seen} cases");
}
