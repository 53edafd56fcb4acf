//! The RAGFlow config corpus: every connector config RAGFlow's web form, API and docs produce
//! for a source we have must build here, mean the same documents and report what it ignores.
//!
//! Each case is `tests/ragflow-corpus/<source>/<case>.json`:
//! `{ "source", "origin", "config", "expect", "ignored" }`. `config` is what RAGFlow stores as
//! the connector's config; `expect` is a part of the effective config
//! ([`Registry::effective_config`]) that pins scope and defaults (objects compared by the keys
//! given, everything else exactly); `ignored` lists exactly the fields reported as accepted and
//! ignored (none when absent). A source RAGFlow has that is compiled in here without a case
//! fails the test, so the corpus grows with every source added.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use connector_core::Registry;
use serde_json::Value;

/// RAGFlow's source keys (`DataSourceKey` in RAGFlow's
/// `web/src/pages/user-setting/data-source/constant/index.tsx`).
const RAGFLOW_SOURCES: &[&str] = &[
    "confluence",
    "notion",
    "google_drive",
    "gmail",
    "google_cloud_storage",
    "oci_storage",
    "s3",
    "r2",
    "jira",
    "box",
    "dropbox",
    "bitbucket",
    "gitlab",
    "github",
    "moodle",
    "discord",
    "zendesk",
    "webdav",
    "airtable",
    "asana",
    "imap",
    "dingtalk_ai_table",
    "seafile",
    "mysql",
    "postgresql",
    "bigquery",
    "rest_api",
    "rss",
    "onedrive",
    "outlook",
    "salesforce",
    "azure_blob",
    "teams",
    "slack",
    "sharepoint",
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ragflow-corpus")
}

/// Every case file, sorted, with the source directory it sits in.
fn cases() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(corpus_dir()) else {
        return out;
    };
    for dir in dirs.flatten() {
        let source = dir.file_name().to_string_lossy().into_owned();
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push((source.clone(), path));
            }
        }
    }
    out.sort();
    out
}

/// Where `actual` differs from the part of it `expected` pins, as paths.
fn differences(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match got.get(key) {
                    Some(got) => differences(want, got, &path, out),
                    // An absent optional field serialises as absent or null alike.
                    None if want.is_null() => {}
                    None => out.push(format!("{path}: expected {want}, absent")),
                }
            }
        }
        (want, got) if want == got => {}
        (want, got) => out.push(format!("{at}: expected {want}, got {got}")),
    }
}

/// Checks one case; returns what is wrong with it.
fn check(registry: &Registry, source: &str, path: &Path) -> Vec<String> {
    let case: Value = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(case) => case,
        Err(e) => return vec![format!("unreadable: {e}")],
    };
    let mut wrong = Vec::new();
    if case["source"].as_str() != Some(source) {
        wrong.push(format!(
            "`source` is {}, the directory says {source}",
            case["source"]
        ));
    }
    if case["origin"].as_str().is_none_or(str::is_empty) {
        wrong.push("`origin` must say where the config comes from".to_owned());
    }
    let config = case["config"].clone();
    let built = match registry.build_with_notes(source, config.clone()) {
        Ok(built) => built,
        Err(e) => {
            wrong.push(format!("does not build: {e}"));
            return wrong;
        }
    };
    let reported: BTreeSet<&str> = built.ignored.iter().map(|i| i.path.as_str()).collect();
    let listed: BTreeSet<&str> = case["ignored"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if reported != listed {
        wrong.push(format!(
            "ignored fields reported {reported:?}, the case lists {listed:?}"
        ));
    }
    match registry.effective_config(source, config) {
        Ok(effective) => {
            let expect = &case["expect"];
            if !expect.is_object() {
                wrong.push("`expect` must be an object".to_owned());
            }
            differences(expect, &effective, "", &mut wrong);
        }
        Err(e) => wrong.push(format!("no effective config: {e}")),
    }
    wrong
}

#[test]
fn every_ragflow_config_in_the_corpus_builds_and_means_what_it_means_in_ragflow() {
    let registry = connectors::registry();
    let compiled: BTreeSet<&str> = registry.sources().into_iter().collect();
    let cases = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (source, path) in &cases {
        // A case for a family this build leaves out is skipped, not failed.
        if !compiled.contains(source.as_str()) {
            continue;
        }
        checked += 1;
        for problem in check(&registry, source, path) {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    let covered: BTreeSet<&str> = cases.iter().map(|(s, _)| s.as_str()).collect();
    for source in RAGFLOW_SOURCES {
        if compiled.contains(source) && !covered.contains(source) {
            failures.push(format!(
                "source `{source}` is a RAGFlow source but tests/ragflow-corpus/{source}/ has no case"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_registered_config_declares_its_ragflow_fields_soundly() {
    let registry = connectors::registry();
    let mut problems = Vec::new();
    for source in registry.sources() {
        match registry.declaration_problems(source) {
            Ok(found) => problems.extend(found.into_iter().map(|p| format!("{source}: {p}"))),
            Err(e) => problems.push(format!("{source}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_comparison_pins_only_what_a_case_expects() {
    let actual = serde_json::json!({ "a": 1, "b": { "c": true, "d": "x" }, "e": [1, 2] });
    let mut out = Vec::new();
    differences(
        &serde_json::json!({ "b": { "c": true }, "e": [1, 2], "f": null }),
        &actual,
        "",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    differences(
        &serde_json::json!({ "a": 2, "b": { "d": "y" }, "e": [1], "g": 0 }),
        &actual,
        "",
        &mut out,
    );
    assert_eq!(
        out,
        [
            "a: expected 2, got 1",
            "b.d: expected \"y\", got \"x\"",
            "e: expected [1], got [1,2]",
            "g: expected 0, absent"
        ]
    );
}
