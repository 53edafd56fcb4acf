//! Jira Cloud (REST v3): token pagination, exact windows, edits, errors, attachments,
//! comments and labels, against wiremock fixtures shaped like Atlassian's docs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{
    Batch, Connector, ErrorKind, LoadConnector, PollConnector, SlimConnector, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn collect(
    mut stream: futures::stream::BoxStream<'static, connector_core::Result<Batch>>,
) -> connector_core::Result<Batch> {
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        let page = page?;
        all.documents.extend(page.documents);
        all.failures.extend(page.failures);
        all.unchanged.extend(page.unchanged);
    }
    Ok(all)
}

fn keys(batch: &Batch) -> Vec<String> {
    batch
        .documents
        .iter()
        .map(|d| d.title.split(':').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn pages_by_token_with_explicit_fields() {
    let (server, search) = common::cloud_mock(common::numbered(5, true), 2, "UTC").await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let all = collect(c.load(SyncContext::new())).await.unwrap();
    assert_eq!(keys(&all), ["ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5"]);
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3, "one request per page: {bodies:?}");
    assert_eq!(bodies[0].get("nextPageToken"), None);
    assert_eq!(bodies[1]["nextPageToken"], "page-1");
    assert_eq!(bodies[2]["nextPageToken"], "page-2");
    for b in &bodies {
        assert_eq!(b["maxResults"], 100, "page size is the API maximum");
        let fields: Vec<&str> = b["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            fields.contains(&"summary") && fields.contains(&"comment"),
            "{fields:?}"
        );
        assert!(!fields.contains(&"*all"), "{fields:?}");
        assert_eq!(
            b["jql"], "project = \"ENG\" ORDER BY key ASC",
            "a full load has no time bound"
        );
    }
    let doc = &all.documents[0];
    assert_eq!(doc.id, format!("{}/browse/ENG-1", server.uri()));
    assert_eq!(doc.title, "ENG-1: Issue number 1");
    assert_eq!(doc.updated_at, Some(utc("2026-01-15T10:00:00Z")));
    assert_eq!(doc.owners, ["alice@example.com"]);
    assert_eq!(doc.metadata["status"], "To Do");
}

#[tokio::test]
async fn window_at_minute_boundaries_is_exact() {
    let issues = vec![
        common::issue(1, "2026-01-15T10:00:30.000+0000", true),
        common::issue(2, "2026-01-15T10:00:45.000+0000", true),
        common::issue(3, "2026-01-15T10:05:00.000+0000", true),
        common::issue(4, "2026-01-15T10:09:59.999+0000", true),
        common::issue(5, "2026-01-15T10:10:00.000+0000", true),
    ];
    // The user is in Berlin: it makes no difference, the bound is an instant.
    let (server, search) = common::cloud_mock(issues, 100, "Europe/Berlin").await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let window = TimeWindow::new(utc("2026-01-15T10:00:45Z"), utc("2026-01-15T10:10:00Z")).unwrap();
    let got = collect(c.poll(window, SyncContext::new())).await.unwrap();
    // 10:00:30 comes back from the widened JQL but is before the window; 10:10:00 is its end.
    assert_eq!(keys(&got), ["ENG-2", "ENG-3", "ENG-4"]);
    let jql = search.bodies.lock().unwrap()[0]["jql"]
        .as_str()
        .unwrap()
        .to_owned();
    // 2026-01-15T09:59:00Z: the minute before the start, in epoch milliseconds (no zone).
    let bound = utc("2026-01-15T09:59:00Z").timestamp_millis();
    assert_eq!(
        jql,
        format!("project = \"ENG\" AND updated >= {bound} ORDER BY key ASC"),
        "the start, one minute earlier, as an instant"
    );
}

/// A token without the scope `/myself` needs (a scoped token with `read:jira-work` only):
/// Atlassian answers 401 "scope does not match". Incremental runs must not ask.
async fn myself_out_of_scope(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 401, "message": "Unauthorized; scope does not match"
        })))
        .with_priority(1)
        .expect(0)
        .mount(server)
        .await;
}

#[tokio::test]
async fn polls_without_myself_whatever_the_offset() {
    for offset in [json!(-5), json!(null)] {
        let (server, search) = common::cloud_mock(common::numbered(1, true), 10, "Not/AZone").await;
        myself_out_of_scope(&server).await;
        let c = common::connector(common::cloud_config(
            &server.uri(),
            json!({"timezone_offset": offset}),
        ));
        let window =
            TimeWindow::new(utc("2026-01-15T10:00:00Z"), utc("2026-01-15T11:00:00Z")).unwrap();
        let got = collect(c.poll(window, SyncContext::new())).await.unwrap();
        assert_eq!(keys(&got), ["ENG-1"], "{offset}");
        let jql = search.bodies.lock().unwrap()[0]["jql"]
            .as_str()
            .unwrap()
            .to_owned();
        let bound = utc("2026-01-15T09:59:00Z").timestamp_millis();
        assert!(jql.contains(&format!("updated >= {bound} ")), "{jql}");
    }
}

fn jira_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[tokio::test]
async fn an_edited_issue_comes_in_the_next_incremental_run() {
    let long_ago = jira_time(Utc::now() - chrono::Duration::days(3));
    let (server, search) = common::cloud_mock(
        vec![
            common::issue(1, &long_ago, true),
            common::issue(2, &long_ago, true),
        ],
        10,
        "UTC",
    )
    .await;
    let c: Arc<dyn Connector> = Arc::new(common::connector(common::cloud_config(
        &server.uri(),
        json!({}),
    )));
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    let first = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(first.new, 2);

    // Someone comments on ENG-2: Jira bumps `updated`.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let edited_at = jira_time(Utc::now());
    {
        let mut issues = search.issues.lock().unwrap();
        issues[1]["fields"]["updated"] = json!(edited_at);
        issues[1]["fields"]["comment"] = json!({
            "comments": [{
                "id": "20001",
                "author": common::user("Bob Commenter", "bob@example.com"),
                "body": common::adf_text("Reproduced on 1.2 as well."),
                "created": edited_at, "updated": edited_at
            }],
            "maxResults": 1, "total": 1, "startAt": 0
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = Syncer::new(c)
        .sink(sink.clone())
        .state(store)
        .options(SyncOptions::default())
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!((second.new, second.updated), (0, 1), "{second:?}");
    let jql = search.bodies.lock().unwrap().last().unwrap()["jql"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        jql.contains("updated >= "),
        "the second run is incremental: {jql}"
    );
    let delivered = sink.deliveries().concat();
    assert_eq!(
        delivered.last().map(String::as_str),
        Some(format!("{}/browse/ENG-2", server.uri()).as_str())
    );
    let doc = sink.get(&format!("{}/browse/ENG-2", server.uri())).unwrap();
    assert!(
        doc.content
            .as_text()
            .unwrap()
            .contains("Reproduced on 1.2 as well.")
    );
}

async fn bad_jql_server() -> MockServer {
    let server = MockServer::start().await;
    common::mount_myself(&server, "3", "UTC").await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessages": ["Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'Bug'. (line 1, character 13)"],
            "errors": {}
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_jql_error_is_an_error_not_an_empty_result() {
    let server = bad_jql_server().await;
    let cfg = common::cloud_config(
        &server.uri(),
        json!({"jql_query": "type = Task Bug", "project_key": null}),
    );
    let c = common::connector(cfg);
    let err = collect(c.load(SyncContext::new())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert_eq!(err.field(), Some("jql_query"));
    assert!(
        err.to_string().contains("Expecting either 'OR' or 'AND'"),
        "{err}"
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn check_tells_credentials_project_and_query_apart() {
    // Wrong credentials.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
            "errors": {}
        })))
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.jira_api_token"));
    assert!(
        err.to_string().contains("You are not authenticated"),
        "{err}"
    );
    assert!(!format!("{err:?} {err}").contains(common::TOKEN));

    // Unknown project.
    let server = MockServer::start().await;
    common::mount_myself(&server, "3", "UTC").await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/NOPE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errorMessages": ["No project could be found with key 'NOPE'."],
            "errors": {}
        })))
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"project_key": "NOPE"}),
    ));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("project_key"));
    assert!(
        err.to_string()
            .contains("No project could be found with key 'NOPE'."),
        "{err}"
    );

    // Bad JQL (the project exists).
    let server = bad_jql_server().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "10000", "key": "ENG", "name": "Engineering"})),
        )
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"jql_query": "type = Task Bug"}),
    ));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("Error in the JQL Query"), "{err}");
}

#[tokio::test]
async fn unauthorized_fails_fast() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let err = collect(c.load(SyncContext::new())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no retry after a 401"
    );
}

#[tokio::test]
async fn waits_out_429_with_retry_after() {
    let (server, search) = common::cloud_mock(common::numbered(2, true), 10, "UTC").await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let ctx = SyncContext::new();
    let started = std::time::Instant::now();
    let all = collect(c.load(ctx.clone())).await.unwrap();
    assert_eq!(all.documents.len(), 2);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(ctx.stats().retries(), 1);
    assert_eq!(search.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn attachments_with_a_size_cap_checked_before_download() {
    let mut issue = common::issue(7, "2026-01-15T10:00:00.000+0000", true);
    let server = MockServer::start().await;
    let uri = server.uri();
    issue["fields"]["attachment"] = json!([
        {"self": format!("{uri}/rest/api/3/attachment/30001"), "id": "30001", "filename": "notes.txt",
         "author": common::user("Alice Reporter", "alice@example.com"),
         "created": "2026-01-14T08:00:00.000+0000", "size": 11, "mimeType": "text/plain",
         "content": format!("{uri}/rest/api/3/attachment/content/30001")},
        {"self": format!("{uri}/rest/api/3/attachment/30002"), "id": "30002", "filename": "dump.bin",
         "author": common::user("Alice Reporter", "alice@example.com"),
         "created": "2026-01-14T08:00:00.000+0000", "size": 5000, "mimeType": "application/octet-stream",
         "content": format!("{uri}/rest/api/3/attachment/content/30002")}
    ]);
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![issue])),
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
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"hello notes".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/30002"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 5000]))
        .expect(0)
        .mount(&server)
        .await;
    let cfg = common::cloud_config(
        &uri,
        json!({"include_attachments": true, "attachment_size_limit": 1000}),
    );
    let c = common::connector(cfg);
    let all = collect(c.load(SyncContext::new())).await.unwrap();
    let issue_id = format!("{uri}/browse/ENG-7");
    let ids: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [issue_id.as_str(), "ENG-7::attachment::30001"]);
    let att = &all.documents[1];
    assert_eq!(att.parent_id.as_deref(), Some(issue_id.as_str()));
    assert_eq!(att.content.as_bytes(), b"hello notes");
    assert_eq!(att.title, "ENG-7: notes.txt");
    let text = all.documents[0].content.as_text().unwrap();
    assert!(
        text.contains(
            "- dump.bin (4.9 KiB, application/octet-stream) (not indexed: over the size limit)"
        ),
        "{text}"
    );

    // Prune keeps the attachment: its id is listed with the issue's.
    let mut listed = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(listed, [issue_id, "ENG-7::attachment::30001".to_owned()]);
}

#[tokio::test]
async fn comments_paged_past_the_embedded_ones_and_blacklisted_left_out() {
    let server = MockServer::start().await;
    let mut issue = common::issue(3, "2026-01-15T10:00:00.000+0000", true);
    let comment = |id: u32, who: &str, email: &str, text: &str| {
        json!({"id": id.to_string(), "author": common::user(who, email), "body": common::adf_text(text),
               "created": "2026-01-15T09:00:00.000+0000", "updated": "2026-01-15T09:00:00.000+0000"})
    };
    issue["fields"]["comment"] = json!({
        "comments": [comment(1, "Bob", "bob@example.com", "first"), comment(2, "Build Bot", "BOT@example.com", "build passed")],
        "maxResults": 2, "total": 3, "startAt": 0
    });
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![issue])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/ENG-3/comment"))
        .and(query_param("startAt", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "startAt": 2, "maxResults": 100, "total": 3,
            "comments": [comment(3, "Carol", "carol@example.com", "third")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = common::cloud_config(
        &server.uri(),
        json!({"comment_email_blacklist": "bot@example.com"}),
    );
    let all = collect(common::connector(cfg).load(SyncContext::new()))
        .await
        .unwrap();
    let text = all.documents[0].content.as_text().unwrap();
    assert!(
        text.contains("### Bob (") && text.contains("first"),
        "{text}"
    );
    assert!(
        text.contains("### Carol (") && text.contains("third"),
        "{text}"
    );
    assert!(!text.contains("build passed"), "{text}");
}

#[tokio::test]
async fn labels_to_skip_in_the_query_and_after_it() {
    let mut issues = common::numbered(3, true);
    issues[1]["fields"]["labels"] = json!(["customer", "Secret"]);
    let (server, search) = common::cloud_mock(issues, 10, "UTC").await;
    let cfg = common::cloud_config(&server.uri(), json!({"labels_to_skip": "secret,internal"}));
    let c = common::connector(cfg);
    let all = collect(c.load(SyncContext::new())).await.unwrap();
    assert_eq!(keys(&all), ["ENG-1", "ENG-3"]);
    let jql = search.bodies.lock().unwrap()[0]["jql"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        jql.contains("(labels IS EMPTY OR labels NOT IN (\"secret\", \"internal\"))"),
        "{jql}"
    );
    let mut listed = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(listed.len(), 2, "{listed:?}");
}

#[tokio::test]
async fn scoped_tokens_go_through_the_gateway() {
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"cloudId": "0a1b2c3d-cloud"})),
        )
        .mount(&site)
        .await;
    let gateway = MockServer::start().await;
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(common::numbered(1, true))),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/ex/jira/0a1b2c3d-cloud/rest/api/3/search/jql"))
        .respond_with(search)
        .expect(1)
        .mount(&gateway)
        .await;
    let cfg = common::cloud_config(
        &site.uri(),
        json!({"scoped_token": true, "api_gateway_url": gateway.uri()}),
    );
    let all = collect(common::connector(cfg).load(SyncContext::new()))
        .await
        .unwrap();
    // Ids stay on the site, whatever the API root.
    assert_eq!(all.documents[0].id, format!("{}/browse/ENG-1", site.uri()));
}

/// ADF `media` nodes name Media Services files (`attrs.id`, a UUID); Jira gives each
/// attachment's file id as `mediaApiFileId` (Atlassian's `AttachmentMetadata`). A node
/// without `alt` is shown by the attachment's file name, never by the UUID.
#[tokio::test]
async fn media_without_alt_is_named_by_its_attachment() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut issue = common::issue(9, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["attachment"] = json!([{
        "self": format!("{uri}/rest/api/3/attachment/10044"), "id": "10044",
        "filename": "trace-2026-01-15.png", "size": 2048, "mimeType": "image/png",
        "created": "2026-01-14T08:00:00.000+0000",
        "mediaApiFileId": "6e7c7f2c-1a9b-4c3d-9e8f-0a1b2c3d4e5f",
        "content": format!("{uri}/rest/api/3/attachment/content/10044"),
        "thumbnail": format!("{uri}/rest/api/3/attachment/thumbnail/10044")
    }]);
    let media = |id: &str| {
        json!({"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
            {"type": "media", "attrs": {"id": id, "type": "file", "collection": "", "width": 640, "height": 480}}
        ]})
    };
    issue["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "The trace:"}]},
        media("6e7c7f2c-1a9b-4c3d-9e8f-0a1b2c3d4e5f"),
        media("99999999-0000-4000-8000-000000000000"),
        {"type": "paragraph", "content": [
            {"type": "text", "text": "inline "},
            {"type": "mediaInline", "attrs": {"id": "6e7c7f2c-1a9b-4c3d-9e8f-0a1b2c3d4e5f", "type": "file", "collection": ""}}
        ]}
    ]});
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![issue])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    let all =
        collect(common::connector(common::cloud_config(&uri, json!({}))).load(SyncContext::new()))
            .await
            .unwrap();
    let text = all.documents[0].content.as_text().unwrap();
    assert!(
        text.contains("The trace:\n\n[attachment: trace-2026-01-15.png]\n\n[attachment]\n\ninline [attachment: trace-2026-01-15.png]"),
        "{text}"
    );
    assert!(!text.contains("6e7c7f2c"), "{text}");
}

/// Search results may lack `mediaApiFileId`, a field Atlassian documents on
/// `AttachmentMetadata` (`GET /rest/api/3/attachment/{id}`). When an issue shows media no
/// attachment's id names and some attachments came without one, their metadata is read
/// (through the gateway, for a scoped token), once per such attachment; a lookup that fails
/// leaves the node as it was, and the issue does not fail. Issues whose media all match, or
/// that show none, cost nothing.
#[tokio::test]
async fn media_named_from_attachment_metadata_when_the_search_omits_it() {
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"cloudId": "0a1b2c3d-cloud"})),
        )
        .mount(&site)
        .await;
    let gateway = MockServer::start().await;
    let api = "/ex/jira/0a1b2c3d-cloud/rest/api/3";
    let uri = site.uri();
    let attachment = |id: u32, name: &str, media: Option<&str>| {
        let mut a = json!({
            "self": format!("{uri}/rest/api/3/attachment/{id}"), "id": id.to_string(),
            "filename": name, "size": 2048, "mimeType": "image/png",
            "created": "2026-01-14T08:00:00.000+0000",
            "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof", "active": true},
            "content": format!("{uri}/rest/api/3/attachment/content/{id}"),
            "thumbnail": format!("{uri}/rest/api/3/attachment/thumbnail/{id}")
        });
        if let Some(m) = media {
            a["mediaApiFileId"] = json!(m);
        }
        a
    };
    let media = |id: &str| {
        json!({"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
            {"type": "media", "attrs": {"id": id, "type": "file", "collection": "", "width": 640, "height": 480}}
        ]})
    };
    let trace = "6e7c7f2c-1a9b-4c3d-9e8f-0a1b2c3d4e5f";
    let log = "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a";
    // ENG-9: no attachment has its id; the description shows the trace, a comment the log.
    let mut nine = common::issue(9, "2026-01-15T10:00:00.000+0000", true);
    nine["fields"]["attachment"] = json!([
        attachment(10044, "trace-2026-01-15.png", None),
        attachment(10045, "server.log", None),
        attachment(10049, "gone.png", None),
    ]);
    nine["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "The trace:"}]},
        media(trace),
    ]});
    nine["fields"]["comment"] = json!({"comments": [{
        "self": format!("{uri}/rest/api/3/issue/10009/comment/20001"), "id": "20001",
        "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof", "active": true},
        "body": {"type": "doc", "version": 1, "content": [media(log)]},
        "created": "2026-01-15T09:00:00.000+0000", "updated": "2026-01-15T09:00:00.000+0000",
        "jsdPublic": true
    }], "maxResults": 1, "total": 1, "startAt": 0});
    // ENG-10: its media matches the attachment that has an id; the other needs no lookup.
    let mut ten = common::issue(10, "2026-01-15T10:01:00.000+0000", true);
    ten["fields"]["attachment"] = json!([
        attachment(
            10046,
            "diagram.png",
            Some("11111111-2222-4333-8444-555555555555")
        ),
        attachment(10047, "unshown.png", None),
    ]);
    ten["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
        media("11111111-2222-4333-8444-555555555555")
    ]});
    // ENG-11: no media node at all.
    let mut eleven = common::issue(11, "2026-01-15T10:02:00.000+0000", true);
    eleven["fields"]["attachment"] = json!([attachment(10048, "photo.png", None)]);
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![nine, ten, eleven])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path(format!("{api}/search/jql")))
        .respond_with(search)
        .mount(&gateway)
        .await;
    for (id, name, file) in [
        (10044, "trace-2026-01-15.png", trace),
        (10045, "server.log", log),
    ] {
        let mut metadata = attachment(id, name, Some(file));
        metadata["id"] = json!(id);
        metadata["properties"] = json!({});
        Mock::given(method("GET"))
            .and(path(format!("{api}/attachment/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
            .expect(1)
            .mount(&gateway)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{api}/attachment/10049")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errorMessages": ["The attachment with id '10049' does not exist"], "errors": {}
        })))
        .expect(1)
        .mount(&gateway)
        .await;
    for id in [10046, 10047, 10048] {
        Mock::given(method("GET"))
            .and(path(format!("{api}/attachment/{id}")))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&gateway)
            .await;
    }
    let cfg = common::cloud_config(
        &uri,
        json!({"scoped_token": true, "api_gateway_url": gateway.uri()}),
    );
    let all = collect(common::connector(cfg).load(SyncContext::new()))
        .await
        .unwrap();
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let text = |key: &str| {
        all.documents
            .iter()
            .find(|d| d.title.starts_with(&format!("{key}:")))
            .and_then(|d| d.content.as_text())
            .unwrap()
            .to_owned()
    };
    let nine = text("ENG-9");
    assert!(
        nine.contains("The trace:\n\n[attachment: trace-2026-01-15.png]"),
        "{nine}"
    );
    assert!(nine.contains("[attachment: server.log]"), "{nine}");
    assert!(!nine.contains(trace) && !nine.contains(log), "{nine}");
    assert!(text("ENG-10").contains("[attachment: diagram.png]"));
    // No request to the site itself but the tenant info.
    let to_site = site.received_requests().await.unwrap();
    assert!(
        to_site.iter().all(|r| r.url.path() == "/_edge/tenant_info"),
        "{:?}",
        to_site
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect::<Vec<_>>()
    );
}

/// Cloud reports an attachment's `content` URL on the site host even when the API is reached
/// through the gateway; a scoped token is refused there (401). The bytes come through the
/// gateway's `/rest/api/3/attachment/content/{id}`, which answers 303 to the media store.
#[tokio::test]
async fn scoped_tokens_download_attachments_through_the_gateway() {
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"cloudId": "0a1b2c3d-cloud"})),
        )
        .mount(&site)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/30001"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 401, "message": "Unauthorized; scope does not match"
        })))
        .expect(0)
        .mount(&site)
        .await;
    let media = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/file/5b1f7a2e-0c3d-4e5f-8a9b-0c1d2e3f4a5b/binary"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"scoped bytes".to_vec()))
        .expect(1)
        .mount(&media)
        .await;
    let gateway = MockServer::start().await;
    let mut issue = common::issue(4, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["attachment"] = json!([{
        "self": format!("{}/rest/api/3/attachment/30001", site.uri()), "id": "30001",
        "filename": "notes.txt", "size": 12, "mimeType": "text/plain",
        "created": "2026-01-14T08:00:00.000+0000",
        "content": format!("{}/rest/api/3/attachment/content/30001", site.uri())
    }]);
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![issue])),
        per_page: 10,
        bodies: Arc::default(),
    };
    let api = "/ex/jira/0a1b2c3d-cloud/rest/api/3";
    Mock::given(method("POST"))
        .and(path(format!("{api}/search/jql")))
        .respond_with(search)
        .mount(&gateway)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{api}/attachment/content/30001")))
        .respond_with(ResponseTemplate::new(303).insert_header(
            "Location",
            format!(
                "{}/file/5b1f7a2e-0c3d-4e5f-8a9b-0c1d2e3f4a5b/binary?token=media-jwt&client=c1&name=notes.txt",
                media.uri()
            ),
        ))
        .expect(1)
        .mount(&gateway)
        .await;
    let cfg = common::cloud_config(
        &site.uri(),
        json!({"scoped_token": true, "api_gateway_url": gateway.uri(), "include_attachments": true}),
    );
    let all = collect(common::connector(cfg).load(SyncContext::new()))
        .await
        .unwrap();
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let attachment = all
        .documents
        .iter()
        .find(|d| d.title == "ENG-4: notes.txt")
        .unwrap();
    assert_eq!(attachment.content.as_bytes(), b"scoped bytes");
    // The media store gets the redirect's token, never the API token.
    let to_media = media.received_requests().await.unwrap();
    assert!(
        to_media
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
}

/// Atlassian Cloud's 429 (its rate-limiting docs): `Retry-After` in seconds, or only
/// `X-RateLimit-Reset` (an ISO 8601 time) with `RateLimit-Reason`.
fn rate_limited(retry_after: Option<&str>) -> ResponseTemplate {
    let mut r = ResponseTemplate::new(429)
        .insert_header("RateLimit-Reason", "jira-burst-based")
        .insert_header("X-RateLimit-Limit", "350")
        .insert_header("X-RateLimit-Remaining", "0")
        .set_body_json(json!({"errorMessages": ["Rate limit exceeded."], "errors": {}}));
    if let Some(secs) = retry_after {
        r = r.insert_header("Retry-After", secs);
    }
    r
}

#[tokio::test]
async fn waits_as_long_as_x_rate_limit_reset_asks() {
    // More 429s than the old 5 retries, and no Retry-After: the reset time is honoured.
    let (server, search) = common::cloud_mock(common::numbered(1, true), 10, "UTC").await;
    let reset = (Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(rate_limited(None).insert_header("X-RateLimit-Reset", reset.as_str()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(rate_limited(Some("0")))
        .up_to_n_times(6)
        .with_priority(2)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let ctx = SyncContext::new();
    let started = std::time::Instant::now();
    let all = collect(c.load(ctx.clone())).await.unwrap();
    assert_eq!(keys(&all), ["ENG-1"]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(ctx.stats().retries(), 7);
    assert_eq!(search.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rate_limited_item_past_the_budget_is_a_failure() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut issue = common::issue(6, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["attachment"] = json!([{
        "id": "30009", "filename": "big.log", "size": 10, "mimeType": "text/plain",
        "content": format!("{uri}/rest/api/3/attachment/content/30009")
    }]);
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![issue])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/30009"))
        .respond_with(rate_limited(Some("1")))
        .mount(&server)
        .await;
    let cfg = common::cloud_config(
        &uri,
        json!({"include_attachments": true, "rate_limit_budget_secs": 2}),
    );
    let all = collect(common::connector(cfg).load(SyncContext::new()))
        .await
        .unwrap();
    assert_eq!(keys(&all), ["ENG-6"], "the issue itself is delivered");
    assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
    let failure = &all.failures[0];
    assert_eq!(failure.id.as_deref(), Some("ENG-6::attachment::30009"));
    assert_eq!(failure.kind, ErrorKind::RateLimited);
    assert!(failure.retryable, "{failure:?}");
    let tries = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/30009"))
        .count();
    assert_eq!(
        tries, 3,
        "1 s, 1 s, and the third wait would pass the 2 s budget"
    );
}

#[tokio::test]
async fn a_rate_limited_page_past_the_budget_ends_the_run_resumably() {
    let (server, search) = common::cloud_mock(common::numbered(4, true), 2, "UTC").await;
    // The second page is rate limited for longer than the budget allows: one answer, given
    // up on at once (30 s > 10 s), then Jira serves again.
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(wiremock::matchers::body_partial_json(
            json!({"nextPageToken": "page-1"}),
        ))
        .respond_with(rate_limited(Some("30")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let c: Arc<dyn Connector> = Arc::new(common::connector(common::cloud_config(
        &server.uri(),
        json!({"rate_limit_budget_secs": 10}),
    )));
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    // Batches of one page, so the first page is acknowledged before the second fails (core's
    // loop does not flush what it buffered when a page fails).
    let options = SyncOptions::default().batch_docs(2);
    let err = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(store.clone())
        .options(options.clone())
        .run(SyncMode::Auto)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(
        err.retry_after(),
        Some(std::time::Duration::from_secs(30)),
        "the host learns how long Jira asked to wait"
    );
    assert_eq!(
        sink.deliveries().concat().len(),
        2,
        "the first page is delivered"
    );

    // Later: the run resumes at the second page; the first is not searched again.
    search.bodies.lock().unwrap().clear();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .state(store)
        .options(options)
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(report.new, 2, "{report:?}");
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(bodies[0]["nextPageToken"], "page-1", "{bodies:?}");
}

/// An issue moved to another project keeps its numeric `id` and gets a new key (Jira's
/// "Move issue"): under `id_scheme: issue_id` that is an update of the same document.
#[tokio::test]
async fn a_moved_issue_is_an_update_of_the_same_document() {
    let long_ago = jira_time(Utc::now() - chrono::Duration::days(3));
    for (scheme, same_id) in [("issue_id", true), ("ragflow_url", false)] {
        let (server, search) = common::cloud_mock(
            vec![
                common::issue(1, &long_ago, true),
                common::issue(2, &long_ago, true),
            ],
            10,
            "UTC",
        )
        .await;
        let cfg = common::cloud_config(
            &server.uri(),
            json!({"jql_query": "project in (ENG, OPS)", "id_scheme": scheme}),
        );
        let c: Arc<dyn Connector> = Arc::new(common::connector(cfg));
        let sink = MemorySink::new();
        let store = MemoryStateStore::new();
        let first = Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(store.clone())
            .run(SyncMode::Auto)
            .await
            .unwrap();
        assert_eq!(first.new, 2);
        let before = sink.deliveries().concat();

        // ENG-2 (id 10002) moves to OPS and becomes OPS-7: same id, new key, `updated` bumped.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let moved_at = jira_time(Utc::now());
        {
            let mut issues = search.issues.lock().unwrap();
            issues[1]["key"] = json!("OPS-7");
            issues[1]["fields"]["project"] =
                json!({"id": "10001", "key": "OPS", "name": "Operations"});
            issues[1]["fields"]["updated"] = json!(moved_at);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second = Syncer::new(c)
            .sink(sink.clone())
            .state(store)
            .run(SyncMode::Auto)
            .await
            .unwrap();
        let after = sink.deliveries().concat();
        let moved = after.last().unwrap().clone();
        let doc = sink.get(&moved).unwrap();
        assert_eq!(doc.title, "OPS-7: Issue number 2", "{scheme}");
        assert_eq!(
            doc.link.as_ref().map(url::Url::as_str),
            Some(format!("{}/browse/OPS-7", server.uri()).as_str()),
            "links follow the key under either scheme"
        );
        if same_id {
            assert_eq!((second.new, second.updated), (0, 1), "{second:?}");
            let host = server.uri().replace("http://", "");
            assert_eq!(moved, format!("jira:{host}/issue/10002"));
            assert!(before.contains(&moved), "{before:?}");
        } else {
            // RAGFlow's ids: a new document; the old one waits for a prune.
            assert_eq!((second.new, second.updated), (1, 0), "{second:?}");
            assert!(!before.contains(&moved));
        }
    }
}

/// A checkpoint's `nextPageToken` does not live for ever (Atlassian: tokens expire); resuming
/// with a stale one gets a 400. The search starts again from its first page instead of failing
/// every resume after.
#[tokio::test]
async fn a_stale_page_token_restarts_the_search() {
    use connector_core::CheckpointedConnector;
    let (server, search) = common::cloud_mock(common::numbered(3, true), 2, "UTC").await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(wiremock::matchers::body_partial_json(
            json!({"nextPageToken": "stale-token"}),
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessages": ["The provided next page token is invalid or expired."],
            "errors": {}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let query = connector_core::ids::hash128("project = \"ENG\" ORDER BY key ASC");
    let from: connector_jira::JiraCheckpoint =
        serde_json::from_value(json!({"next_page_token": "stale-token", "query": query})).unwrap();
    let mut stream = c.load_from_checkpoint(from, None, SyncContext::new());
    let mut titles = Vec::new();
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        titles.extend(page.batch.documents.into_iter().map(|d| d.title));
    }
    assert_eq!(titles.len(), 3, "{titles:?}");
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(bodies[0].get("nextPageToken"), None, "{bodies:?}");
}

/// The fields RAGFlow and Onyx show that a reader asks about: the parent (epic or the issue of
/// a sub-task), the resolution, the due date and the project's name.
#[tokio::test]
async fn parent_resolution_and_due_date_are_shown() {
    let mut issue = common::issue(8, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["parent"] = json!({
        "id": "10050", "key": "ENG-50",
        "fields": {"summary": "Q1 login epic", "status": {"name": "In Progress"},
                   "issuetype": {"name": "Epic", "hierarchyLevel": 1}}
    });
    issue["fields"]["resolution"] = json!({"id": "10000", "name": "Done", "description": "Work has been completed on this issue."});
    issue["fields"]["duedate"] = json!("2026-02-01");
    let (server, search) = common::cloud_mock(vec![issue], 10, "UTC").await;
    let all = collect(
        common::connector(common::cloud_config(&server.uri(), json!({}))).load(SyncContext::new()),
    )
    .await
    .unwrap();
    let doc = &all.documents[0];
    assert_eq!(doc.metadata["parent"], "ENG-50");
    assert_eq!(doc.metadata["resolution"], "Done");
    assert_eq!(doc.metadata["due_date"], "2026-02-01");
    assert_eq!(doc.metadata["project_name"], "Engineering");
    let text = doc.content.as_text().unwrap();
    assert!(text.contains("parent: \"ENG-50\""), "{text}");
    let fields = search.bodies.lock().unwrap()[0]["fields"].clone();
    for f in ["parent", "resolution", "duedate"] {
        assert!(fields.as_array().unwrap().contains(&json!(f)), "{fields}");
    }
}

/// A scoped token without `read:jira-user` gets 401 "scope does not match" from `/myself`
/// although it is valid: `check` goes on to the project and the search, which it may read.
#[tokio::test]
async fn check_passes_a_scoped_token_without_the_user_scope() {
    let (server, search) = common::cloud_mock(common::numbered(1, true), 10, "UTC").await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 401, "message": "Unauthorized; scope does not match"
        })))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "10000", "key": "ENG", "name": "Engineering"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    c.check().await.unwrap();
    assert_eq!(
        search.bodies.lock().unwrap().len(),
        1,
        "the search was checked"
    );
}

/// A service that refuses every page token (not only a stored one) restarts the search once,
/// then fails the sync instead of walking the first page for ever; a 400 that is not about
/// the token (a rejected query) is an error at once.
#[tokio::test]
async fn a_refused_page_token_restarts_the_search_once_and_only_on_expiry() {
    use connector_core::CheckpointedConnector;
    for (message, searches) in [
        ("The provided next page token is invalid or expired.", 3),
        ("Error in the JQL Query: the field 'updated' is unknown.", 1),
    ] {
        let (server, search) = common::cloud_mock(common::numbered(3, true), 2, "UTC").await;
        Mock::given(method("POST"))
            .and(path("/rest/api/3/search/jql"))
            .and(wiremock::matchers::body_string_contains("nextPageToken"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "errorMessages": [message], "errors": {}
            })))
            .with_priority(1)
            .mount(&server)
            .await;
        let c = common::connector(common::cloud_config(&server.uri(), json!({})));
        let query = connector_core::ids::hash128("project = \"ENG\" ORDER BY key ASC");
        let from: connector_jira::JiraCheckpoint =
            serde_json::from_value(json!({"next_page_token": "stale-token", "query": query}))
                .unwrap();
        let run = async {
            let mut stream = c.load_from_checkpoint(from, None, SyncContext::new());
            while let Some(page) = stream.next().await {
                page?;
            }
            Ok::<(), connector_core::Error>(())
        };
        let err = tokio::time::timeout(std::time::Duration::from_secs(20), run)
            .await
            .expect("the stream ends")
            .unwrap_err();
        assert_eq!(err.kind(), connector_core::ErrorKind::Config, "{err}");
        assert!(err.to_string().contains(message), "{err}");
        // Stale token, first page, refused token; or the stale token alone.
        let tokens = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/rest/api/3/search/jql")
            .count();
        assert_eq!(tokens, searches, "{message}");
        drop(search);
    }
}

/// `check` sends the query an incremental run sends, `updated >=` clause included, so a site
/// that rejects the epoch-millisecond clause fails the check, not the first incremental run.
#[tokio::test]
async fn check_runs_the_windowed_query() {
    let (server, search) = common::cloud_mock(common::numbered(1, true), 10, "UTC").await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "10000", "key": "ENG"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(wiremock::matchers::body_string_contains("updated >= "))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessages": ["Date value '1768471140000' for field 'updated' is invalid."],
            "errors": {}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("for field 'updated'"), "{err}");
    drop(search);
}

/// A window that starts at the epoch (a host's "everything since") bounds nothing: no
/// `updated >=` clause, rather than a negative number JQL does not read as an instant.
#[tokio::test]
async fn a_window_from_the_epoch_has_no_updated_clause() {
    use connector_core::CheckpointedConnector;
    let (server, search) = common::cloud_mock(common::numbered(2, true), 10, "UTC").await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let window = TimeWindow::new(DateTime::UNIX_EPOCH, utc("2026-02-01T00:00:00Z")).unwrap();
    let mut stream =
        c.load_from_checkpoint(c.initial_checkpoint(), Some(window), SyncContext::new());
    let mut docs = 0;
    while let Some(page) = stream.next().await {
        docs += page.unwrap().batch.documents.len();
    }
    assert_eq!(docs, 2);
    let bodies = search.bodies.lock().unwrap().clone();
    assert_eq!(bodies[0]["jql"], "project = \"ENG\" ORDER BY key ASC");
}
