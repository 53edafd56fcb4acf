//! Wiremock fixtures shaped like Atlassian's REST API documentation: search pages for Cloud
//! (`POST /rest/api/3/search/jql`, `nextPageToken`, `isLast`) and Server
//! (`GET /rest/api/2/search`, `startAt`, `maxResults`, `total`), issues with their `fields`,
//! `/myself`, `/issue/{key}`, and Jira's error bodies.
#![allow(dead_code, unreachable_pub)] // Each test file uses part of it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test fixtures: a failed unwrap is a failed test.

use std::sync::{Arc, Mutex};

use connector_jira::{JiraConfig, JiraConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "jira-test-token-9c1f4e";

/// An ADF document with one paragraph.
pub fn adf_text(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

pub fn user(name: &str, email: &str) -> Value {
    json!({
        "self": "https://example.atlassian.net/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5",
        "accountId": format!("acc-{}", name.to_lowercase().replace(' ', "-")),
        "displayName": name,
        "emailAddress": email,
        "active": true,
        "timeZone": "UTC",
        "accountType": "atlassian"
    })
}

/// An issue as a search returns it; `cloud` chooses ADF or wiki-markup bodies.
pub fn issue(n: u32, updated: &str, cloud: bool) -> Value {
    let key = format!("ENG-{n}");
    let description = if cloud {
        adf_text(&format!("Description of issue {n}."))
    } else {
        json!(format!("Description of issue *{n}*."))
    };
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": format!("{}", 10000 + n),
        "self": format!("https://example.atlassian.net/rest/api/3/issue/{}", 10000 + n),
        "key": key,
        "fields": {
            "summary": format!("Issue number {n}"),
            "description": description,
            "status": {"name": "To Do", "id": "10000", "statusCategory": {"key": "new", "name": "To Do"}},
            "priority": {"name": "Medium", "id": "3"},
            "issuetype": {"name": "Task", "id": "10001", "subtask": false},
            "project": {"id": "10000", "key": "ENG", "name": "Engineering", "projectTypeKey": "software"},
            "reporter": user("Alice Reporter", "alice@example.com"),
            "assignee": null,
            "labels": [],
            "components": [],
            "fixVersions": [],
            "created": "2026-01-10T09:00:00.000+0000",
            "updated": updated,
            "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
            "attachment": [],
            "issuelinks": []
        }
    })
}

/// Numbered issues updated one minute apart from 2026-01-15T10:00.
pub fn numbered(count: u32, cloud: bool) -> Vec<Value> {
    (0..count)
        .map(|i| issue(i + 1, &format!("2026-01-15T10:{i:02}:00.000+0000"), cloud))
        .collect()
}

/// Serves Server-style `search` pages by `startAt`/`maxResults`, at most `cap` per page, and
/// records every JQL it was asked.
#[derive(Clone)]
pub struct ServerSearch {
    pub issues: Arc<Mutex<Vec<Value>>>,
    pub cap: usize,
    pub jqls: Arc<Mutex<Vec<String>>>,
}

impl Respond for ServerSearch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(jql) = q("jql") {
            self.jqls.lock().unwrap().push(jql);
        }
        let start: usize = q("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
        let max: usize = q("maxResults").and_then(|s| s.parse().ok()).unwrap_or(50);
        let issues = self.issues.lock().unwrap();
        let page: Vec<Value> = issues
            .iter()
            .skip(start)
            .take(max.min(self.cap))
            .cloned()
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "expand": "schema,names",
            "startAt": start,
            "maxResults": max.min(self.cap),
            "total": issues.len(),
            "issues": page
        }))
    }
}

/// Serves Cloud `search/jql` pages of `per_page` issues with tokens `page-1`, `page-2` ...
#[derive(Clone)]
pub struct CloudSearch {
    pub issues: Arc<Mutex<Vec<Value>>>,
    pub per_page: usize,
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

impl Respond for CloudSearch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.bodies.lock().unwrap().push(body.clone());
        let page: usize = body
            .get("nextPageToken")
            .and_then(Value::as_str)
            .and_then(|t| t.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let issues = self.issues.lock().unwrap();
        let slice: Vec<Value> = issues
            .iter()
            .skip(page * self.per_page)
            .take(self.per_page)
            .cloned()
            .collect();
        let last = (page + 1) * self.per_page >= issues.len();
        let mut out = json!({ "issues": slice, "isLast": last });
        if !last {
            out["nextPageToken"] = json!(format!("page-{}", page + 1));
        }
        ResponseTemplate::new(200).set_body_json(out)
    }
}

/// Serves `/issue/{idOrKey}` from the same issue list; 404 with Jira's body when unknown.
#[derive(Clone)]
pub struct IssueById {
    pub issues: Arc<Mutex<Vec<Value>>>,
}

impl Respond for IssueById {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = req.url.path().rsplit('/').next().unwrap_or("").to_owned();
        let issues = self.issues.lock().unwrap();
        match issues
            .iter()
            .find(|i| i["key"] == key.as_str() || i["id"] == key.as_str())
        {
            Some(i) => ResponseTemplate::new(200).set_body_json(i),
            None => ResponseTemplate::new(404).set_body_json(json!({
                "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                "errors": {}
            })),
        }
    }
}

pub async fn mount_myself(server: &MockServer, version: &str, zone: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/rest/api/{version}/myself")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accountId": "acc-me", "displayName": "Me", "emailAddress": "me@example.com",
            "active": true, "timeZone": zone, "locale": "en_US"
        })))
        .mount(server)
        .await;
}

/// A Server-style mock holding `issues`, served `cap` per page.
pub async fn server_mock(issues: Vec<Value>, cap: usize) -> (MockServer, ServerSearch) {
    let server = MockServer::start().await;
    let search = ServerSearch {
        issues: Arc::new(Mutex::new(issues)),
        cap,
        jqls: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(search.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/rest/api/2/issue/([A-Z0-9]+-)?[0-9]+$"))
        .respond_with(IssueById {
            issues: Arc::clone(&search.issues),
        })
        .mount(&server)
        .await;
    mount_myself(&server, "2", "UTC").await;
    (server, search)
}

/// A Cloud-style mock holding `issues`, `per_page` per page.
pub async fn cloud_mock(
    issues: Vec<Value>,
    per_page: usize,
    zone: &str,
) -> (MockServer, CloudSearch) {
    let server = MockServer::start().await;
    let search = CloudSearch {
        issues: Arc::new(Mutex::new(issues)),
        per_page,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search.clone())
        .mount(&server)
        .await;
    mount_myself(&server, "3", zone).await;
    (server, search)
}

/// The loopback address wiremock serves on, which connectors deny unless allowed.
pub const LOOPBACK: &str = "127.0.0.1";

/// The fixtures name documents by RAGFlow's ids (browse URLs), which read best in
/// assertions; `tests/conformance.rs` and `tests/ragflow.rs` cover the default, `issue_id`.
const IDS: &str = "ragflow_url";

pub fn server_config(uri: &str, extra: Value) -> JiraConfig {
    let mut cfg = json!({
        "base_url": uri,
        "project_key": "ENG",
        "allowed_hosts": [LOOPBACK],
        "id_scheme": IDS,
        "credentials": { "jira_api_token": TOKEN },
    });
    merge(&mut cfg, extra);
    connector_core::config::from_json(cfg).expect("a valid config")
}

pub fn cloud_config(uri: &str, extra: Value) -> JiraConfig {
    let mut cfg = json!({
        "base_url": uri,
        "project_key": "ENG",
        "allowed_hosts": [LOOPBACK],
        "is_cloud": true,
        "id_scheme": IDS,
        "credentials": { "jira_user_email": "me@example.com", "jira_api_token": TOKEN },
    });
    merge(&mut cfg, extra);
    connector_core::config::from_json(cfg).expect("a valid config")
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        for (k, v) in extra {
            into.insert(k, v);
        }
    }
}

pub fn connector(cfg: JiraConfig) -> JiraConnector {
    JiraConnector::new(cfg).expect("a connector")
}
