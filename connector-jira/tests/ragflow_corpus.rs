//! The Jira cases of the RAGFlow corpus (`tests/ragflow-corpus/jira/` at the workspace
//! root), read by this crate alone, without the facade, through `connector_core::testkit::corpus`:
//! each config parses, its config as read contains the case's `expect`, exactly the case's
//! `ignored` fields are reported, and no secret shows. The facade's `tests/ragflow_corpus.rs`
//! runs the same files through the full registry.

use std::path::PathBuf;

use connector_core::testkit::corpus;
use connector_jira::JiraConfig;

/// Checks every case of `source` as a `C` config.
fn check<C>(source: &str, at_least: usize)
where
    C: connector_core::ConnectorConfig + serde::Serialize + std::fmt::Debug,
{
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ragflow-corpus")
        .join(source);
    let cases = corpus::cases(&dir);
    assert!(
        cases.len() >= at_least,
        "{source}: only {} cases",
        cases.len()
    );
    let mut wrong: Vec<String> = cases.iter().flat_map(corpus::check_case::<C>).collect();
    wrong.extend(
        cases
            .iter()
            .filter(|c| c.source != source)
            .map(|c| format!("{}: `source` is not {source}", c.path.display())),
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_jira_case_parses_with_ragflow_meaning() {
    check::<JiraConfig>("jira", 10);
}
