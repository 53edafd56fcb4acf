//! Jira Server/Data Center (REST v2): `startAt` pages, wiki markup, and the ADF and wiki
//! conversions as snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::{Arc, Mutex};

use connector_core::{Batch, LoadConnector, SyncContext};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

async fn load(c: &connector_jira::JiraConnector) -> Batch {
    let mut all = Batch::default();
    let mut stream = c.load(SyncContext::new());
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        all.documents.extend(page.documents);
        all.failures.extend(page.failures);
    }
    all
}

#[tokio::test]
async fn pages_by_start_at_as_far_as_the_server_serves() {
    // The server serves at most 2 per page whatever is asked: paging follows what came, and
    // later pages ask what it serves, each one issue back to find where the last one ended.
    let (server, search) = common::server_mock(common::numbered(5, false), 2).await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    let all = load(&c).await;
    let titles: Vec<&str> = all.documents.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles.len(), 5, "{titles:?}");
    let starts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/rest/api/2/search")
        .map(|r| {
            let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
            let get = |k: &str| {
                q.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert!(get("fields").split(',').any(|f| f == "description"));
            format!("{}+{}", get("startAt"), get("maxResults"))
        })
        .collect();
    assert_eq!(starts, ["0+100", "1+2", "2+2", "3+2"]);
    assert_eq!(
        search.jqls.lock().unwrap()[0],
        "project = \"ENG\" ORDER BY key ASC"
    );
    // Wiki markup became Markdown.
    let text = all.documents[0].content.as_text().unwrap();
    assert!(text.contains("Description of issue **1**."), "{text}");
}

#[tokio::test]
async fn a_personal_access_token_is_a_bearer_token() {
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
            format!("Bearer {}", common::TOKEN).as_str(),
        ))
        .respond_with(search)
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    assert_eq!(load(&c).await.documents.len(), 1);
}

fn rich_wiki_issue() -> serde_json::Value {
    let mut issue = common::issue(42, "2026-01-15T10:00:00.000+0000", false);
    issue["fields"]["description"] = json!(
        "h1. Login fails\r\n\
         Users on *Firefox* see an _intermittent_ error after -the old- the new SSO rollout.\r\n\
         \r\n\
         h3. Steps\r\n\
         # Open the [login page|https://app.example.com/login]\r\n\
         # Enter {{user@example.com}}\r\n\
         ## wait for the redirect\r\n\
         * Expected: dashboard\r\n\
         * Actual: error, see [~jsmith]\r\n\
         \r\n\
         {code:java}\r\n\
         if (token == null) { throw new AuthException(\"*no* token\"); }\r\n\
         {code}\r\n\
         \r\n\
         {noformat}\r\n\
         2026-01-15 ERROR auth: _raw_ line\r\n\
         {noformat}\r\n\
         \r\n\
         ||Browser||Result||\r\n\
         |Firefox 121|fails|\r\n\
         |Chrome 120|[works|https://ci.example.com/run/1]|\r\n\
         \r\n\
         bq. Seen since the 1.2 release.\r\n\
         ----\r\n\
         !screenshot.png|thumbnail!"
    );
    issue["fields"]["priority"] = json!({"name": "High", "id": "2"});
    issue["fields"]["issuetype"] = json!({"name": "Bug", "id": "1"});
    issue["fields"]["labels"] = json!(["sso", "login"]);
    issue["fields"]["components"] = json!([{"name": "Auth"}]);
    issue["fields"]["fixVersions"] = json!([{"name": "1.3"}]);
    issue["fields"]["assignee"] = json!({"name": "jsmith", "displayName": "John Smith", "emailAddress": "john@example.com", "active": true});
    issue["fields"]["comment"] = json!({
        "comments": [{
            "id": "10100",
            "author": {"name": "bob", "displayName": "Bob", "emailAddress": "bob@example.com"},
            "body": "Confirmed. *Workaround*: clear cookies.",
            "created": "2026-01-14T11:30:00.000+0000",
            "updated": "2026-01-14T11:30:00.000+0000"
        }],
        "maxResults": 1, "total": 1, "startAt": 0
    });
    issue["fields"]["issuelinks"] = json!([{
        "id": "10200",
        "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
        "outwardIssue": {"id": "10043", "key": "ENG-43", "fields": {"summary": "Release 1.3", "status": {"name": "Open"}}}
    }]);
    issue["fields"]["attachment"] = json!([{
        "id": 10300, "filename": "screenshot.png", "size": 204800, "mimeType": "image/png",
        "created": "2026-01-14T11:00:00.000+0000",
        "content": "https://jira.example.com/secure/attachment/10300/screenshot.png"
    }]);
    issue
}

#[tokio::test]
async fn wiki_markup_issue_snapshot() {
    let (server, _) = common::server_mock(vec![rich_wiki_issue()], 10).await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    let doc = load(&c).await.documents.remove(0);
    let text = doc
        .content
        .as_text()
        .unwrap()
        .replace(&server.uri(), "https://jira.example.com");
    insta::assert_snapshot!("wiki_issue", text);
}

fn rich_adf_issue() -> serde_json::Value {
    let mut issue = common::issue(7, "2026-01-15T10:00:00.000+0000", true);
    issue["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Summary"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "The "},
            {"type": "text", "text": "export", "marks": [{"type": "strong"}]},
            {"type": "text", "text": " job times out for "},
            {"type": "mention", "attrs": {"id": "acc-1", "text": "@Dana", "accessLevel": ""}},
            {"type": "text", "text": "; see "},
            {"type": "text", "text": "the runbook", "marks": [{"type": "link", "attrs": {"href": "https://wiki.example.com/runbook"}}]},
            {"type": "text", "text": " and "},
            {"type": "text", "text": "EXPORT_TIMEOUT", "marks": [{"type": "code"}]},
            {"type": "text", "text": "."}
        ]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "happens nightly"}]}]},
            {"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "only for large tenants", "marks": [{"type": "em"}]}]},
                {"type": "orderedList", "attrs": {"order": 1}, "content": [
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "over 10k rows"}]}]},
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "with attachments"}]}]}
                ]}
            ]}
        ]},
        {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [{"type": "text", "text": "SELECT count(*)\nFROM exports;"}]},
        {"type": "panel", "attrs": {"panelType": "warning"}, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Do not restart the worker by hand."}]}
        ]},
        {"type": "table", "attrs": {"isNumberColumnEnabled": false, "layout": "default"}, "content": [
            {"type": "tableRow", "content": [
                {"type": "tableHeader", "attrs": {}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Tenant"}]}]},
                {"type": "tableHeader", "attrs": {}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Rows"}]}]}
            ]},
            {"type": "tableRow", "content": [
                {"type": "tableCell", "attrs": {}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "acme"}]}]},
                {"type": "tableCell", "attrs": {}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "12 000"}]}]}
            ]}
        ]},
        {"type": "rule"},
        {"type": "paragraph", "content": [
            {"type": "inlineCard", "attrs": {"url": "https://status.example.com/incidents/42"}},
            {"type": "hardBreak"},
            {"type": "emoji", "attrs": {"shortName": ":warning:", "id": "atlassian-warning", "text": "⚠️"}},
            {"type": "text", "text": " due "},
            {"type": "date", "attrs": {"timestamp": "1768521600000"}},
            {"type": "text", "text": " "},
            {"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue"}}
        ]},
        {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
            {"type": "media", "attrs": {"id": "6e7c7f2c", "type": "file", "collection": "", "alt": "trace.png"}}
        ]}
    ]});
    issue["fields"]["comment"] = json!({
        "comments": [{
            "id": "10100",
            "author": common::user("Erin Ops", "erin@example.com"),
            "body": {"type": "doc", "version": 1, "content": [
                {"type": "blockquote", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "job times out"}]}]},
                {"type": "paragraph", "content": [{"type": "text", "text": "Raised the limit to 30 min."}]}
            ]},
            "created": "2026-01-14T11:30:00.000+0000",
            "updated": "2026-01-14T11:30:00.000+0000"
        }],
        "maxResults": 1, "total": 1, "startAt": 0
    });
    issue
}

#[tokio::test]
async fn adf_issue_snapshot() {
    let (server, _) = common::cloud_mock(vec![rich_adf_issue()], 10, "UTC").await;
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let doc = load(&c).await.documents.remove(0);
    let text = doc
        .content
        .as_text()
        .unwrap()
        .replace(&server.uri(), "https://example.atlassian.net");
    insta::assert_snapshot!("adf_issue", text);
    let mut json = serde_json::to_value(&doc).unwrap();
    let shown = serde_json::to_string(&json)
        .unwrap()
        .replace(&server.uri(), "https://example.atlassian.net");
    json = serde_json::from_str(&shown).unwrap();
    insta::assert_json_snapshot!("adf_issue_document", json, {
        ".updated_at" => "[updated_at]",
        ".metadata.updated" => "[updated]",
        ".metadata.created" => "[created]",
        ".content.text" => "[see adf_issue]",
    });
}

/// Wiki markup as Jira Server stores it (Atlassian's "Text Formatting Notation Help"): a
/// one-line `{quote}`, the `{info}`/`{note}`/`{warning}`/`{tip}` panels with and without a
/// title, and backslash escapes (`\*` is a literal star, `\\` a line break).
#[tokio::test]
async fn wiki_quotes_panels_and_escapes() {
    let mut issue = common::issue(5, "2026-01-15T10:00:00.000+0000", false);
    issue["fields"]["description"] = json!(
        "{quote}Short one-liner.{quote}\r\n\
         After the quote.\r\n\
         \r\n\
         {info:title=Heads up}Maintenance on *Sunday*.{info}\r\n\
         {note}\r\n\
         Back up first.\r\n\
         {note}\r\n\
         {warning}Do not restart.{warning}\r\n\
         {tip:title=Shortcut|icon=false}\r\n\
         Press \\*g\\* then \\*i\\*.\r\n\
         {tip}\r\n\
         {panel:title=Release|borderStyle=dashed}Ships on Friday.{panel}\r\n\
         Literal \\*stars\\* and \\_under\\_ and a break\\\\here."
    );
    let (server, _) = common::server_mock(vec![issue], 10).await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    let doc = load(&c).await.documents.remove(0);
    let text = doc.content.as_text().unwrap();
    let description = text
        .split("## Description\n\n")
        .nth(1)
        .unwrap()
        .trim_end()
        .to_owned();
    assert_eq!(
        description,
        "> Short one-liner.\n\n\
         After the quote.\n\n\
         > **Info: Heads up**\n>\n> Maintenance on **Sunday**.\n\n\
         > **Note:** Back up first.\n\n\
         > **Warning:** Do not restart.\n\n\
         > **Tip: Shortcut**\n>\n> Press \\*g\\* then \\*i\\*.\n\n\
         > **Release**\n>\n> Ships on Friday.\n\n\
         Literal \\*stars\\* and \\_under\\_ and a break  \nhere."
    );
}

/// Pages of large issues can time out (504 from Jira's proxy) however often they are retried:
/// the page is asked again with half as many issues, as Onyx does.
#[tokio::test]
async fn a_page_that_keeps_timing_out_is_asked_in_halves() {
    let (server, search) = common::server_mock(common::numbered(5, false), 100).await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .and(wiremock::matchers::query_param("maxResults", "100"))
        .respond_with(
            wiremock::ResponseTemplate::new(504).set_body_string("<html>Gateway Timeout</html>"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    let all = load(&c).await;
    assert_eq!(all.documents.len(), 5);
    assert!(!search.jqls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_attachment_reported_on_another_host_is_downloaded_from_base_url() {
    // Jira's own base URL setting names another host (a proxy, an internal name): the
    // credentials go to `base_url` only, where the same path serves the file.
    let other = MockServer::start().await;
    let mut issue = common::issue(1, "2026-01-15T10:00:00.000+0000", false);
    issue["fields"]["attachment"] = json!([{
        "id": "10042", "filename": "notes.txt", "size": 5, "mimeType": "text/plain",
        "content": format!("{}/secure/attachment/10042/notes.txt", other.uri())
    }]);
    let (server, _) = common::server_mock(vec![issue], 50).await;
    Mock::given(method("GET"))
        .and(path("/secure/attachment/10042/notes.txt"))
        .and(header(
            "authorization",
            format!("Bearer {}", common::TOKEN).as_str(),
        ))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("hello"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("stolen"))
        .mount(&other)
        .await;
    let cfg = common::server_config(&server.uri(), json!({"include_attachments": true}));
    let all = load(&common::connector(cfg)).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(all.documents.len(), 2);
    let received = other.received_requests().await.unwrap();
    assert!(received.is_empty(), "credentials sent to {received:?}");
}

#[tokio::test]
async fn a_search_page_over_the_body_cap_is_asked_again_with_fewer_issues() {
    // A hundred issues with long descriptions and comments exceed core's 64 MiB body cap;
    // fifty fit. Halving the page, as for a 5xx, gets past it instead of failing every run.
    let (server, search) = common::server_mock(common::numbered(3, false), 50).await;
    let huge = format!(
        "{{\"startAt\":0,\"maxResults\":100,\"total\":3,\"issues\":[],\"pad\":\"{}\"}}",
        "x".repeat(65 * 1024 * 1024)
    );
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .and(wiremock::matchers::query_param("maxResults", "100"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(huge.into_bytes(), "application/json"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = common::connector(common::server_config(&server.uri(), json!({})));
    let all = load(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(all.documents.len(), 3);
    assert!(!search.jqls.lock().unwrap().is_empty());
}
