//! The warnings of `include_permissions`: a permission scheme the token may not read (once
//! per project and run, naming the project), and `ragflow_url` ids, under which a moved
//! issue's old document keeps the old project's access until a prune. Alone in its test binary: `tracing`'s per-thread capture is reliable
//! only when no other test thread logs at the same time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use connector_core::{Access, LoadConnector, SyncContext};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn an_unreadable_scheme_is_warned_of_once_per_project() {
    let (logs, _guard) = connector_core::testkit::LogCapture::start();
    let mut issues = common::numbered(3, true);
    issues[2]["key"] = json!("OPS-3");
    issues[2]["fields"]["project"] =
        json!({"id": "10001", "key": "OPS", "name": "Operations", "projectTypeKey": "software"});
    let (server, _) = common::cloud_mock(issues, 10, "UTC").await;
    // Atlassian's answer to a user without Administer Projects.
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/rest/api/3/project/(ENG|OPS)/permissionscheme$",
        ))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorMessages": ["You don't have permission to access this resource."], "errors": {}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"jql_query": "project in (ENG, OPS)", "include_permissions": true, "id_scheme": "issue_id"}),
    ));
    let mut stream = c.load(SyncContext::new());
    let mut documents = Vec::new();
    while let Some(page) = stream.try_next().await.unwrap() {
        documents.extend(page.documents);
    }
    assert_eq!(documents.len(), 3);
    let nobody = Some(Access::restricted(Vec::new(), Vec::new()));
    assert!(
        documents.iter().all(|d| d.access == nobody),
        "{documents:?}"
    );
    let logged = logs.contents();
    let warnings: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("refused this project's permission scheme"))
        .collect();
    assert_eq!(warnings.len(), 2, "{logged}");
    assert!(
        warnings[0].contains("project=\"ENG\"") || warnings[0].contains("project=ENG"),
        "{logged}"
    );
    assert!(warnings.iter().any(|w| w.contains("OPS")), "{logged}");
    // `issue_id` ids: no warning about moves.
    assert!(!logged.contains("id_scheme: issue_id"), "{logged}");

    // With the default `ragflow_url` ids, a moved issue's old document keeps the old
    // project's access until a prune: building the connector and `check` say so.
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"jql_query": "project in (ENG, OPS)", "include_permissions": true}),
    ));
    let moves = |logs: &str| logs.matches("set `id_scheme: issue_id`").count();
    assert_eq!(moves(&logs.contents()), 1, "{}", logs.contents());
    connector_core::Connector::check(&c).await.unwrap();
    assert_eq!(moves(&logs.contents()), 2, "{}", logs.contents());
}
