//! `SyncMode::Reconcile`: every issue listed, only those whose version changed delivered. A
//! project's permission grants change and an issue moves to another project without its
//! `updated` time moving, so no incremental window selects them; their version tokens (a hash
//! of the access, the project under `id_scheme: issue_id`) do. Permission schemes follow
//! Atlassian's "Get assigned permission scheme" (REST v3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::{Arc, Mutex};

use connector_core::Connector;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// Serves the scheme held, which the test changes between runs.
struct Scheme(Arc<Mutex<Value>>);

impl Respond for Scheme {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(self.0.lock().unwrap().clone())
    }
}

fn scheme(groups: &[(&str, &str)]) -> Value {
    let permissions: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(n, (name, id))| {
            json!({
                "id": 10000 + n, "permission": "BROWSE_PROJECTS",
                "holder": {"type": "group", "parameter": name, "value": id, "expand": "group",
                           "group": {"name": name, "groupId": id}}
            })
        })
        .collect();
    json!({"id": 10000, "name": "scheme", "permissions": permissions})
}

fn in_project(mut issue: Value, key: &str, project: &str, id: &str) -> Value {
    issue["key"] = json!(key);
    issue["fields"]["project"] = json!({"id": id, "key": project, "name": project});
    issue
}

#[tokio::test]
async fn a_reconciliation_redelivers_only_issues_whose_access_or_project_changed() {
    let updated = "2026-01-15T10:00:00.000+0000";
    let issues = vec![
        common::issue(1, updated, true),
        in_project(common::issue(2, updated, true), "OPS-2", "OPS", "10001"),
        in_project(common::issue(3, updated, true), "OPS-3", "OPS", "10001"),
    ];
    let (server, search) = common::cloud_mock(issues, 10, "UTC").await;
    let eng = Arc::new(Mutex::new(scheme(&[("eng-team", "g-eng")])));
    let ops = scheme(&[("ops-team", "g-ops")]);
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .respond_with(Scheme(Arc::clone(&eng)))
        .mount(&server)
        .await;
    for project in ["OPS", "WEB"] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/rest/api/3/project/{project}/permissionscheme"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(ops.clone()))
            .mount(&server)
            .await;
    }
    let c: Arc<dyn Connector> = Arc::new(common::connector(common::cloud_config(
        &server.uri(),
        json!({
            "jql_query": "project in (ENG, OPS, WEB)",
            "include_permissions": true,
            "id_scheme": "issue_id",
        }),
    )));
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    let run = |mode| {
        let (c, sink, store) = (Arc::clone(&c), sink.clone(), store.clone());
        async move {
            Syncer::new(c)
                .sink(sink)
                .state(store)
                .run(mode)
                .await
                .unwrap()
        }
    };
    assert_eq!(run(SyncMode::Full).await.new, 3);
    // Nothing changed: a reconciliation lists everything and delivers nothing.
    let quiet = run(SyncMode::Reconcile).await;
    assert_eq!(
        (quiet.new, quiet.updated, quiet.unchanged),
        (0, 0, 3),
        "{quiet:?}"
    );

    // QA may now browse ENG; OPS-3 moves to WEB (same grants as OPS). Neither touches
    // `updated`.
    *eng.lock().unwrap() = scheme(&[("eng-team", "g-eng"), ("qa", "g-qa")]);
    {
        let mut issues = search.issues.lock().unwrap();
        let moved = issues[2].clone();
        issues[2] = in_project(moved, "WEB-1", "WEB", "10002");
    }
    let report = run(SyncMode::Reconcile).await;
    assert_eq!(
        (report.new, report.updated, report.unchanged),
        (0, 2, 1),
        "{report:?}"
    );
    let host = server.uri().trim_start_matches("http://").to_owned();
    let one = sink.get(&format!("jira:{host}/issue/10001")).unwrap();
    assert_eq!(one.access.unwrap().groups, ["g-eng", "g-qa"]);
    let moved = sink.get(&format!("jira:{host}/issue/10003")).unwrap();
    assert_eq!(moved.title, "WEB-1: Issue number 3");
}
