//! RAGFlow's meaning of a Jira config, against wiremock fixtures: which issues a config
//! selects (the JQL alone when given, a project by name), which API it talks (`is_cloud`,
//! `rest_api_version`), how it authenticates (a token alone, scoped tokens only on Cloud) and
//! its defaults (`attachment_size_limit` 0 is 10 MiB).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::{Arc, Mutex};

use connector_core::{Batch, Connector, LoadConnector, SyncContext};
use connector_jira::JiraConfig;
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn load(c: &connector_jira::JiraConnector) -> Batch {
    let mut stream = c.load(SyncContext::new());
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        all.documents.extend(page.documents);
        all.failures.extend(page.failures);
    }
    all
}

/// A RAGFlow config as it is, plus the loopback address the mock serves on (which the
/// connector denies unless allowed).
fn config(mut json: Value) -> JiraConfig {
    json["allowed_hosts"] = json!([common::LOOPBACK]);
    connector_core::config::from_json(json).expect("a valid config")
}

/// Fails the test if the connector asks for a project by key.
async fn no_project_lookup(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/rest/api/[23]/project/"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_query_alone_decides_when_given_with_a_project() {
    // RAGFlow: `(jql)` if given, else `project = "K"`; the form may well send both.
    let (server, search) = common::cloud_mock(common::numbered(2, true), 10, "UTC").await;
    no_project_lookup(&server).await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"project_key": "ENG", "jql_query": "project in (ENG, OPS) AND type = Bug"}),
    ));
    assert_eq!(load(&c).await.documents.len(), 2);
    c.check().await.unwrap();
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies[0]["jql"],
        "(project in (ENG, OPS) AND type = Bug) ORDER BY key ASC"
    );
    assert!(
        bodies
            .iter()
            .all(|b| !b["jql"].as_str().unwrap().contains("project = ")),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn a_project_name_is_quoted_and_checked_by_the_search() {
    let (server, search) = common::server_mock(common::numbered(1, false), 50).await;
    no_project_lookup(&server).await;
    let c = common::connector(common::server_config(
        &server.uri(),
        json!({"project_key": "Web Team"}),
    ));
    assert_eq!(load(&c).await.documents.len(), 1);
    c.check().await.unwrap();
    let jqls = search.jqls.lock().unwrap().clone();
    assert_eq!(jqls[0], "project = \"Web Team\" ORDER BY key ASC");
}

#[tokio::test]
async fn scoped_token_is_ignored_off_cloud() {
    // RAGFlow's form keeps `scoped_token` ticked when switched to Server; RAGFlow ignores it
    // there, and so does this: no gateway, the site's own REST v2 with the password.
    let (server, search) = common::server_mock(common::numbered(1, false), 50).await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(ResponseTemplate::new(404))
        .expect(0)
        .mount(&server)
        .await;
    let c = common::connector(config(json!({
        "base_url": server.uri(),
        "project_key": "ENG",
        "is_cloud": false,
        "scoped_token": true,
        "credentials": { "jira_user_email": "jdoe", "jira_password": common::TOKEN },
    })));
    assert!(!c.config().uses_gateway());
    assert_eq!(load(&c).await.documents.len(), 1);
    assert_eq!(search.jqls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn rest_api_version_picks_the_api_as_in_ragflow() {
    // "3" is Cloud on any host (RAGFlow's switch; its own tests run it on loopback).
    let (server, search) = common::cloud_mock(common::numbered(1, true), 10, "UTC").await;
    let c = common::connector(config(json!({
        "base_url": server.uri(),
        "project_key": "ENG",
        "credentials": {
            "jira_user_email": "me@example.com",
            "jira_api_token": common::TOKEN,
            "rest_api_version": 3,
        },
    })));
    assert_eq!(load(&c).await.documents.len(), 1);
    assert_eq!(search.bodies.lock().unwrap().len(), 1);

    // "2" is Server/Data Center even where the form said Cloud: RAGFlow reads only this.
    let (server, search) = common::server_mock(common::numbered(1, false), 50).await;
    let c = common::connector(config(json!({
        "base_url": server.uri(),
        "project_key": "ENG",
        "is_cloud": true,
        "credentials": { "jira_api_token": common::TOKEN, "rest_api_version": "2" },
    })));
    assert_eq!(load(&c).await.documents.len(), 1);
    assert_eq!(search.jqls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_token_alone_on_cloud_is_a_bearer_token() {
    // RAGFlow sends a token without an e-mail as a Bearer token (an OAuth 2.0 access token on
    // Cloud), and so does this, rather than refuse the config.
    let server = MockServer::start().await;
    let search = common::CloudSearch {
        issues: Arc::new(Mutex::new(common::numbered(1, true))),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header(
            "authorization",
            format!("Bearer {}", common::TOKEN).as_str(),
        ))
        .respond_with(search)
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(config(json!({
        "base_url": server.uri(),
        "project_key": "ENG",
        "is_cloud": true,
        "credentials": { "jira_api_token": common::TOKEN },
    })));
    assert_eq!(load(&c).await.documents.len(), 1);
}

#[tokio::test]
async fn attachment_size_limit_zero_is_the_ten_mebibyte_default() {
    // RAGFlow: `limit if limit and limit > 0 else 10 MiB`.
    const SIZE: usize = 2 * 1024 * 1024;
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut issue = common::issue(7, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["attachment"] = json!([
        {"self": format!("{uri}/rest/api/3/attachment/30001"), "id": "30001", "filename": "big.pdf",
         "author": common::user("Alice Reporter", "alice@example.com"),
         "created": "2026-01-14T08:00:00.000+0000", "size": SIZE, "mimeType": "application/pdf",
         "content": format!("{uri}/rest/api/3/attachment/content/30001")}
    ]);
    let search = common::CloudSearch {
        issues: Arc::new(Mutex::new(vec![issue])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/30001"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'%'; SIZE]))
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &uri,
        json!({"include_attachments": true, "attachment_size_limit": 0}),
    ));
    let all = load(&c).await;
    let ids: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids[1], "ENG-7::attachment::30001", "{ids:?}");
    assert_eq!(all.documents[1].content.as_bytes().len(), SIZE);
}

/// A corpus case's config (`tests/ragflow-corpus/jira/{name}.json`) pointed at `uri`.
fn corpus_config(name: &str, uri: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ragflow-corpus/jira")
        .join(format!("{name}.json"));
    let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut config = case["config"].clone();
    config["base_url"] = json!(uri);
    config["allowed_hosts"] = json!([common::LOOPBACK]);
    config
}

#[tokio::test]
async fn the_server_form_syncs_with_the_user_name_and_password_it_was_given() {
    // The form in Server mode sends `jira_username` + `jira_password`, with the Cloud fields
    // (`jira_user_email`, `jira_api_token`) and `jql_query` blank, and `batch_size: 2`.
    let server = MockServer::start().await;
    let search = common::ServerSearch {
        issues: Arc::new(Mutex::new(common::numbered(3, false))),
        cap: 50,
        jqls: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .and(header(
            "authorization",
            "Basic ZGtvd2Fsc2tpOnMzcnZlci1QYXNzdzByZA==", // dkowalski:s3rver-Passw0rd
        ))
        .respond_with(search.clone())
        .expect(1)
        .mount(&server)
        .await;
    let parsed =
        connector_core::config::parse::<JiraConfig>(corpus_config("form-server", &server.uri()))
            .unwrap();
    // `sync_deleted_files: false` and `batch_size: 2`, which the form always sends, are not
    // worth a note.
    assert!(parsed.ignored.is_empty(), "{:?}", parsed.ignored);
    let c = common::connector(parsed.config);
    assert_eq!(load(&c).await.documents.len(), 3);
    assert_eq!(
        search.jqls.lock().unwrap()[0],
        "project = \"OPS\" ORDER BY key ASC"
    );
}

#[tokio::test]
async fn the_cloud_form_syncs_with_the_email_and_token_it_was_given() {
    let server = MockServer::start().await;
    let search = common::CloudSearch {
        issues: Arc::new(Mutex::new(common::numbered(3, true))),
        per_page: 2,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header(
            "authorization",
            // dana@acme.com:ATATT3xFfGF0-acme-cloud-token
            "Basic ZGFuYUBhY21lLmNvbTpBVEFUVDN4RmZHRjAtYWNtZS1jbG91ZC10b2tlbg==",
        ))
        .respond_with(search.clone())
        .expect(2)
        .mount(&server)
        .await;
    let config = corpus_config("form-cloud", &server.uri());
    let c = common::connector(connector_core::config::from_json(config).unwrap());
    let all = load(&c).await;
    assert_eq!(all.documents.len(), 3);
    // Comments in, attachments out: the form's defaults, RAGFlow's too.
    assert!(
        all.documents
            .iter()
            .all(|d| !d.id.contains("::attachment::"))
    );
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(bodies[0]["jql"], "project = \"ENG\" ORDER BY key ASC");
}

#[tokio::test]
async fn a_token_kept_from_cloud_mode_wins_over_the_server_password_and_is_said() {
    // The form switched from Cloud to Server keeps the hidden e-mail and token; RAGFlow then
    // signs in with them (`jira_user_email or jira_username`, a token before the password),
    // and so does this. The password and the user name that lost are reported as unused.
    let server = MockServer::start().await;
    let search = common::ServerSearch {
        issues: Arc::new(Mutex::new(common::numbered(1, false))),
        cap: 50,
        jqls: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .and(header(
            "authorization",
            // dana@acme.com:ATATT3xFfGF0-acme-cloud-token
            "Basic ZGFuYUBhY21lLmNvbTpBVEFUVDN4RmZHRjAtYWNtZS1jbG91ZC10b2tlbg==",
        ))
        .respond_with(search.clone())
        .expect(1)
        .mount(&server)
        .await;
    let parsed = connector_core::config::parse::<JiraConfig>(corpus_config(
        "form-switched-to-server-token-kept",
        &server.uri(),
    ))
    .unwrap();
    let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        ignored,
        ["credentials.jira_username", "credentials.jira_password"]
    );
    let c = common::connector(parsed.config);
    assert_eq!(load(&c).await.documents.len(), 1);
}

/// Ids survive moves by default; a host migrating from RAGFlow keeps RAGFlow's browse-URL ids
/// for every config that names no scheme with one switch, and a config's own choice stays.
#[tokio::test]
async fn ids_are_issue_ids_unless_the_host_or_the_config_asks_for_ragflows() {
    let server = MockServer::start().await;
    let search = common::ServerSearch {
        issues: Arc::new(Mutex::new(common::numbered(1, false))),
        cap: 50,
        jqls: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(search)
        .mount(&server)
        .await;
    let uri = server.uri();
    let host = uri.trim_start_matches("http://").to_owned();
    let plain = json!({"base_url": uri, "project_key": "ENG", "allowed_hosts": [common::LOOPBACK],
        "credentials": {"jira_api_token": "t"}});
    let mut chosen = plain.clone();
    chosen["id_scheme"] = json!("issue_id");
    let ids = |registry: &connector_core::Registry, config: &Value| {
        let c = registry.build("jira", config.clone()).unwrap();
        async move {
            let mut stream = c.as_load().unwrap().load(SyncContext::new());
            let mut ids = Vec::new();
            while let Some(page) = stream.next().await {
                ids.extend(page.unwrap().documents.into_iter().map(|d| d.id));
            }
            ids
        }
    };
    let mut registry = connector_core::Registry::new();
    connector_jira::register(&mut registry);
    let issue_id = format!("jira:{host}/issue/10001");
    assert_eq!(
        ids(&registry, &plain).await,
        std::slice::from_ref(&issue_id)
    );
    registry.set_ragflow_ids(true);
    assert_eq!(
        ids(&registry, &plain).await,
        [format!("{uri}/browse/ENG-1")]
    );
    assert_eq!(
        registry.effective_config("jira", plain.clone()).unwrap()["id_scheme"],
        "ragflow_url"
    );
    assert_eq!(ids(&registry, &chosen).await, [issue_id]);
}
