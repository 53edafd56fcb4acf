//! Cloud or Server when the config does not say (a Cloud site on its own domain, `is_cloud`
//! absent, as RAGFlow's API may store it): the site's `GET /rest/api/2/serverInfo`
//! (`deploymentType`: `"Cloud"` or `"Server"`, as Atlassian's "Get Jira instance info"
//! documents it), and a Server search answered 410 Gone (Atlassian's CHANGE-2046 removed
//! `/rest/api/2/search` from Cloud) read as Cloud.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use connector_core::{Batch, LoadConnector, SyncContext};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn load(c: &connector_jira::JiraConnector) -> Batch {
    let mut all = Batch::default();
    let mut stream = c.load(SyncContext::new());
    while let Some(page) = stream.try_next().await.unwrap() {
        all.append(page);
    }
    all
}

/// A config as RAGFlow's API may store it: e-mail and token, no `is_cloud`, no
/// `rest_api_version`, a site on its own domain (the mock's address).
fn undeclared(uri: &str) -> connector_jira::JiraConfig {
    connector_core::config::from_json(json!({
        "base_url": uri,
        "project_key": "ENG",
        "allowed_hosts": [common::LOOPBACK],
        "credentials": { "jira_user_email": "me@example.com", "jira_api_token": common::TOKEN },
    }))
    .unwrap()
}

fn server_info(deployment: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "baseUrl": "https://jira.example.com",
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": deployment,
        "buildNumber": 100_291,
        "buildDate": "2026-06-05T00:00:00.000+0000",
        "serverTime": "2026-06-06T10:00:00.000+0000",
        "scmInfo": "e2b9ca25fcf8535e74d29547edc867f25501bbde",
        "serverTitle": "Jira"
    }))
}

/// Cloud's answer to the removed search.
fn gone() -> ResponseTemplate {
    ResponseTemplate::new(410).set_body_json(json!({
        "errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],
        "errors": {}
    }))
}

#[tokio::test]
async fn a_cloud_site_on_its_own_domain_is_found_by_server_info() {
    let (server, _) = common::cloud_mock(common::numbered(3, true), 2, "UTC").await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(server_info("Cloud"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(gone())
        .expect(0)
        .mount(&server)
        .await;
    let c = common::connector(undeclared(&server.uri()));
    let all = load(&c).await;
    assert_eq!(all.documents.len(), 3, "{:?}", all.failures);
    // Asked once for the connector's life.
    assert_eq!(load(&c).await.documents.len(), 3);
}

#[tokio::test]
async fn a_server_search_answered_410_gone_is_cloud() {
    // A site that will not say (serverInfo behind a proxy that refuses it).
    let (server, _) = common::cloud_mock(common::numbered(3, true), 2, "UTC").await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(gone())
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(undeclared(&server.uri()));
    let all = load(&c).await;
    let titles: Vec<&str> = all.documents.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "ENG-1: Issue number 1",
            "ENG-2: Issue number 2",
            "ENG-3: Issue number 3"
        ]
    );
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    // The next run goes to Cloud's search at once.
    assert_eq!(load(&c).await.documents.len(), 3);
}

#[tokio::test]
async fn a_data_center_site_says_server() {
    let (server, search) = common::server_mock(common::numbered(3, false), 10).await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(server_info("Server"))
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(undeclared(&server.uri()));
    assert_eq!(load(&c).await.documents.len(), 3);
    assert_eq!(search.jqls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_declared_deployment_is_not_asked() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(server_info("Cloud"))
        .expect(0)
        .mount(&server)
        .await;
    let search = common::ServerSearch {
        issues: std::sync::Arc::new(std::sync::Mutex::new(common::numbered(2, false))),
        cap: 10,
        jqls: std::sync::Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(search)
        .mount(&server)
        .await;
    let c = common::connector(common::server_config(
        &server.uri(),
        json!({"is_cloud": false}),
    ));
    assert_eq!(load(&c).await.documents.len(), 2);
}
