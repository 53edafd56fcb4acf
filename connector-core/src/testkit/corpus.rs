//! The RAGFlow config corpus, read and checked the same way by every connector crate.
//!
//! A case is a JSON file `{ "source", "origin", "config", "expect", "ignored" }` under
//! `tests/ragflow-corpus/<source>/` at the workspace root: `config` is what RAGFlow stores as
//! the connector's config, `expect` a part of the config as read (objects compared by the keys
//! given, `null` matching an absent field, everything else exactly), `ignored` exactly the
//! fields reported as accepted and ignored (none when absent). The facade's test runs every
//! case through the full registry; a connector crate runs its own sources' cases through
//! [`check_case`] without the facade:
//!
//! ```no_run
//! # #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Debug)]
//! # struct MyConfig {}
//! # impl connector_core::ConnectorConfig for MyConfig {}
//! use connector_core::testkit::corpus;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ragflow-corpus/my_source");
//! let cases = corpus::cases(dir.as_ref());
//! assert!(!cases.is_empty());
//! let problems: Vec<String> = cases.iter().flat_map(corpus::check_case::<MyConfig>).collect();
//! assert!(problems.is_empty(), "{}", problems.join("\n"));
//! ```

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::{ConnectorConfig, parse, schema_of};

/// One corpus case.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Case {
    /// The file it was read from.
    pub path: PathBuf,
    /// The source it is for (`"source"`).
    pub source: String,
    /// Where the config comes from (`"origin"`).
    pub origin: String,
    /// The config as RAGFlow stores it.
    pub config: Value,
    /// What the config must mean: a part of the config as read.
    pub expect: Value,
    /// The fields that must be reported as accepted and ignored, sorted.
    pub ignored: Vec<String>,
}

/// Every case (`*.json`) in `dir`, sorted by file name.
///
/// # Panics
/// When `dir` cannot be read or a file is not a case: a test's setup failing loudly.
#[allow(clippy::panic)] // The testkit's setup: a broken corpus should fail the test at once.
pub fn cases(dir: &Path) -> Vec<Case> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let case: Value = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
                .unwrap_or_else(|e| panic!("corpus case {}: {e}", path.display()));
            let text = |key: &str| case[key].as_str().unwrap_or_default().to_owned();
            let mut ignored: Vec<String> = case["ignored"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            ignored.sort();
            Case {
                source: text("source"),
                origin: text("origin"),
                config: case["config"].clone(),
                expect: case["expect"].clone(),
                ignored,
                path,
            }
        })
        .collect()
}

/// What is wrong with `case` read as a `C` config by a host migrating from RAGFlow (with
/// RAGFlow's ids: [`ConnectorConfig::use_ragflow_ids`]), one message each (empty when it holds):
/// the config does not parse, its config as read does not contain `expect`, the ignored
/// fields differ from `ignored`, or a secret of the config (a value of a field the schema marks
/// `writeOnly`) shows in the config's `Debug` or in the config as read.
pub fn check_case<C: ConnectorConfig + Serialize + Debug>(case: &Case) -> Vec<String> {
    let name = case.path.display();
    let mut wrong = Vec::new();
    if case.origin.is_empty() {
        wrong.push(format!(
            "{name}: `origin` must say where the config comes from"
        ));
    }
    let mut parsed = match parse::<C>(case.config.clone()) {
        Ok(parsed) => parsed,
        Err(e) => {
            wrong.push(format!("{name}: does not parse: {e}"));
            return wrong;
        }
    };
    // Read as a host migrating from RAGFlow reads it: with RAGFlow's document ids.
    parsed.config.use_ragflow_ids();
    let effective = match serde_json::to_value(&parsed.config) {
        Ok(value) => value,
        Err(e) => {
            wrong.push(format!("{name}: the config does not serialise: {e}"));
            return wrong;
        }
    };
    if !case.expect.is_object() {
        wrong.push(format!("{name}: `expect` must be an object"));
    }
    wrong.extend(
        differences(&case.expect, &effective)
            .into_iter()
            .map(|d| format!("{name}: {d}")),
    );
    let mut reported: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
    reported.sort_unstable();
    if reported != case.ignored {
        wrong.push(format!(
            "{name}: ignored fields reported {reported:?}, the case lists {:?}",
            case.ignored
        ));
    }
    let shown = [format!("{:?}", parsed.config), effective.to_string()];
    for secret in secrets(&schema_of::<C>(), &case.config) {
        if shown.iter().any(|s| s.contains(&secret)) {
            wrong.push(format!("{name}: a secret of the config shows"));
        }
    }
    wrong
}

/// Where `actual` differs from the part of it `expected` pins, as `path: ...` messages:
/// objects are compared by the keys `expected` gives (a `null` matches an absent field),
/// numbers by value, everything else exactly.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, actual, "", &mut out);
    out
}

fn walk(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match got.get(key) {
                    Some(got) => walk(want, got, &path, out),
                    None if want.is_null() => {}
                    None => out.push(format!("{path}: expected {want}, absent")),
                }
            }
        }
        (Value::Number(want), Value::Number(got)) if want.as_f64() == got.as_f64() => {}
        (want, got) if want == got => {}
        (want, got) => out.push(format!("{at}: expected {want}, got {got}")),
    }
}

/// The non-blank string values in `config` under a field name the schema marks `writeOnly`
/// anywhere (the secrets a case gives).
fn secrets(schema: &Value, config: &Value) -> Vec<String> {
    let mut names = Vec::new();
    secret_names(schema, &mut names, 0);
    let mut out = Vec::new();
    secret_values(config, &names, &mut out, 0);
    out
}

fn secret_names(schema: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    match schema {
        Value::Object(map) => {
            if let Some(properties) = map.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if property.get("writeOnly") == Some(&Value::Bool(true)) {
                        out.push(name.clone());
                    }
                }
            }
            for value in map.values() {
                secret_names(value, out, depth + 1);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secret_names(v, out, depth + 1)),
        _ => {}
    }
}

fn secret_values(config: &Value, names: &[String], out: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    match config {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(s) if names.contains(key) && s.trim().len() >= 4 => {
                        out.push(s.trim().to_owned());
                    }
                    _ => secret_values(value, names, out, depth + 1),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| secret_values(v, names, out, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_pin_only_what_is_expected() {
        let actual = serde_json::json!({ "a": 1, "b": { "c": true, "d": "x" }, "e": [1, 2] });
        let none = differences(
            &serde_json::json!({ "a": 1.0, "b": { "c": true }, "e": [1, 2], "f": null }),
            &actual,
        );
        assert!(none.is_empty(), "{none:?}");
        assert_eq!(
            differences(
                &serde_json::json!({ "a": 2, "b": { "d": "y" }, "e": [1], "g": 0 }),
                &actual
            ),
            [
                "a: expected 2, got 1",
                "b.d: expected \"y\", got \"x\"",
                "e: expected [1], got [1,2]",
                "g: expected 0, absent"
            ]
        );
    }

    #[test]
    fn secrets_are_the_write_only_fields_values() {
        let schema = serde_json::json!({
            "properties": { "token": { "writeOnly": true }, "user": {} },
            "$defs": { "C": { "properties": { "password": { "writeOnly": true } } } }
        });
        let config = serde_json::json!({
            "token": "t0ken-1", "user": "me",
            "credentials": { "password": "pw-12345", "user": "you" },
            "blank": { "token": " " },
        });
        assert_eq!(secrets(&schema, &config), ["pw-12345", "t0ken-1"]);
    }
}
