//! The Confluence cases of the RAGFlow corpus (`tests/ragflow-corpus/confluence/` at the
//! workspace root), read by this crate alone, without the facade: each config parses, its
//! effective settings include the case's `expect`, exactly the case's `ignored` fields are
//! reported, and the token never shows. The facade's `tests/ragflow_corpus.rs` runs the same
//! files through the full registry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests.

use std::path::PathBuf;

use connector_confluence::ConfluenceConfig;
use serde_json::Value;

fn cases() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/ragflow-corpus/confluence");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let case: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                case,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The first place where `want` is not part of `got`: objects by the keys `want` gives (a
/// `null` there is an absent field, as an optional field left out serialises), numbers by
/// value, everything else equal.
fn not_within(want: &Value, got: &Value, at: &str) -> Option<String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w.iter().find_map(|(key, value)| {
            let at = format!("{at}.{key}");
            match g.get(key) {
                Some(found) => not_within(value, found, &at),
                None if value.is_null() => None,
                None => Some(format!("{at}: absent, expected {value}")),
            }
        }),
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => None,
        _ if want == got => None,
        _ => Some(format!("{at}: expected {want}, found {got}")),
    }
}

#[test]
fn every_confluence_case_means_what_it_means_in_ragflow() {
    let cases = cases();
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    for (name, case) in cases {
        assert_eq!(case["source"], "confluence", "{name}");
        assert!(
            case["origin"].as_str().is_some_and(|o| !o.is_empty()),
            "{name}: origin"
        );
        let parsed = connector_core::config::parse::<ConfluenceConfig>(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let effective = serde_json::to_value(&parsed.config).unwrap();
        if let Some(problem) = not_within(&case["expect"], &effective, "") {
            panic!("{name}: {problem}\neffective config: {effective:#}");
        }
        let mut ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        ignored.sort_unstable();
        let mut want: Vec<&str> = case["ignored"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        want.sort_unstable();
        assert_eq!(ignored, want, "{name}: the fields reported as ignored");
        let token = case["config"]["credentials"]["confluence_access_token"]
            .as_str()
            .unwrap_or_default();
        let shown = format!("{:?} {effective}", parsed.config);
        assert!(
            token.is_empty() || !shown.contains(token),
            "{name}: {shown}"
        );
    }
}

#[test]
fn the_ragflow_declarations_are_sound() {
    assert_eq!(
        connector_core::config::declaration_problems::<ConfluenceConfig>(),
        Vec::<String>::new()
    );
}
