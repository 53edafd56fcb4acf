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
use connector_core::testkit::corpus;

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

/// Every case, with the source directory it sits in.
fn cases() -> Vec<(String, corpus::Case)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| {
            let source = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            corpus::cases(&dir)
                .into_iter()
                .map(move |case| (source.clone(), case))
        })
        .collect()
}

/// Checks one case through the full registry; returns what is wrong with it.
fn check(registry: &Registry, source: &str, case: &corpus::Case) -> Vec<String> {
    let mut wrong = Vec::new();
    if case.source != source {
        wrong.push(format!(
            "`source` is {:?}, the directory says {source}",
            case.source
        ));
    }
    if case.origin.is_empty() {
        wrong.push("`origin` must say where the config comes from".to_owned());
    }
    let built = match registry.build_with_notes(source, case.config.clone()) {
        Ok(built) => built,
        Err(e) => {
            wrong.push(format!("does not build: {e}"));
            return wrong;
        }
    };
    let mut reported: Vec<&str> = built.ignored.iter().map(|i| i.path.as_str()).collect();
    reported.sort_unstable();
    if reported != case.ignored {
        wrong.push(format!(
            "ignored fields reported {reported:?}, the case lists {:?}",
            case.ignored
        ));
    }
    match registry.effective_config(source, case.config.clone()) {
        Ok(effective) => {
            if !case.expect.is_object() {
                wrong.push("`expect` must be an object".to_owned());
            }
            wrong.extend(corpus::differences(&case.expect, &effective));
        }
        Err(e) => wrong.push(format!("no effective config: {e}")),
    }
    wrong
}

#[test]
fn every_ragflow_config_in_the_corpus_builds_and_means_what_it_means_in_ragflow() {
    // A host migrating from RAGFlow keeps RAGFlow's document ids.
    let mut registry = connectors::registry();
    registry.set_ragflow_ids(true);
    let compiled: BTreeSet<&str> = registry.sources().into_iter().collect();
    let cases = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (source, case) in &cases {
        // A case for a family this build leaves out is skipped, not failed.
        if !compiled.contains(source.as_str()) {
            continue;
        }
        checked += 1;
        for problem in check(&registry, source, case) {
            failures.push(format!("{}: {problem}", case.path.display()));
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
