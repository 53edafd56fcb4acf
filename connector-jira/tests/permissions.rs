//! Who may read what: comments restricted by `visibility` never in the issue's document, and
//! with `include_permissions`, `access` from the project's permission scheme, project roles,
//! security levels and users, each looked up once per run. Fixtures follow Atlassian's REST v3
//! examples ("Get assigned permission scheme", "Get project role for project", "Get issue
//! security level members", "Get user", comment `visibility`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::Arc;

use connector_core::{Access, Batch, Document, LoadConnector, SlimConnector, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MEDIA_ID: &str = "2b1f7a2e-0c3d-4e5f-8a9b-0c1d2e3f4a5b";

/// The `groupId`s of Cloud groups, which `access` names them by.
const ENG_TEAM: &str = "276f955c-63d7-42c8-9520-92d01dca0625";
const ENG_DEVS: &str = "952d12c3-5b5b-4d04-bb32-44d383afc4b2";

async fn collect(c: &connector_jira::JiraConnector) -> Batch {
    let mut all = Batch::default();
    let mut stream = c.load(SyncContext::new());
    while let Some(page) = stream.next().await {
        all.append(page.unwrap());
    }
    all
}

async fn listed(c: &connector_jira::JiraConnector) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = c.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        out.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    out
}

fn comment(id: &str, who: &str, text: &str, visibility: Option<Value>) -> Value {
    let mut c = json!({
        "self": format!("https://example.atlassian.net/rest/api/3/issue/10001/comment/{id}"),
        "id": id,
        "author": common::user(who, &format!("{}@example.com", who.to_lowercase())),
        "body": common::adf_text(text),
        "created": "2026-01-14T09:00:00.000+0000",
        "updated": "2026-01-14T09:30:00.000+0000",
        "jsdPublic": true
    });
    if let Some(v) = visibility {
        c["visibility"] = v;
    }
    c
}

/// ENG-1: an open comment, one restricted to the role Developers that shows `secret.png`, one
/// restricted to the group eng-team; attachments `notes.txt` (shown in the description) and
/// `secret.png` (shown only in the role comment). ENG-2: under the security level "Staff only".
fn issues(uri: &str) -> Vec<Value> {
    let mut one = common::issue(1, "2026-01-15T10:00:00.000+0000", true);
    one["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "See the notes."}]},
        {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"type": "file", "id": "aaaa-notes", "collection": "", "alt": "notes.txt"}}]}
    ]});
    let mut role_comment = comment(
        "20002",
        "Dana",
        "Root cause is the leaked key.",
        Some(json!({"type": "role", "value": "Developers", "identifier": "10002"})),
    );
    role_comment["body"]["content"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "mediaSingle", "content": [
            {"type": "media", "attrs": {"type": "file", "id": MEDIA_ID, "collection": ""}}
        ]}));
    one["fields"]["comment"] = json!({
        "comments": [
            comment("20001", "Bob", "Reproduced.", None),
            role_comment,
            comment(
                "20003",
                "Erin",
                "Customer is Acme Corp.",
                Some(json!({"type": "group", "value": "eng-team", "identifier": "276f955c-63d7-42c8-9520-92d01dca0625"})),
            )
        ],
        "maxResults": 3, "total": 3, "startAt": 0
    });
    let attachment = |id: &str, name: &str, media: &str| {
        json!({
            "self": format!("{uri}/rest/api/3/attachment/{id}"), "id": id, "filename": name,
            "author": common::user("Alice Reporter", "alice@example.com"),
            "created": "2026-01-14T08:00:00.000+0000", "size": 12, "mimeType": "application/octet-stream",
            "mediaApiFileId": media,
            "content": format!("{uri}/rest/api/3/attachment/content/{id}")
        })
    };
    one["fields"]["attachment"] = json!([
        attachment("30001", "notes.txt", "aaaa-notes"),
        attachment("30002", "secret.png", MEDIA_ID)
    ]);
    let mut two = common::issue(2, "2026-01-15T10:01:00.000+0000", true);
    two["fields"]["security"] = json!({
        "self": format!("{uri}/rest/api/3/securitylevel/10100"), "id": "10100",
        "description": "Staff and the security team", "name": "Staff only"
    });
    vec![one, two]
}

async fn jira() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(issues(&uri))),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    for id in ["30001", "30002"] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/api/3/attachment/content/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(format!("bytes of {id}")))
            .mount(&server)
            .await;
    }
    server
}

fn text(doc: &Document) -> &str {
    doc.content.as_text().unwrap()
}

#[tokio::test]
async fn restricted_comments_stay_out_of_the_issue_by_default() {
    let server = jira().await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"include_attachments": true}),
    ));
    let all = collect(&c).await;
    let issue = &all.documents[0];
    assert_eq!(issue.title, "ENG-1: Issue number 1");
    let body = text(issue);
    assert!(body.contains("Reproduced."), "{body}");
    assert!(!body.contains("leaked key"), "a role's comment: {body}");
    assert!(!body.contains("Acme Corp"), "a group's comment: {body}");
    assert!(!body.contains("secret.png"), "{body}");
    assert_eq!(issue.metadata["restricted_comments"], 2);
    assert_eq!(issue.access, None);
    // The attachment only the role's comment shows is not indexed, nor downloaded, nor listed.
    let ids: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
    assert!(ids.contains(&"ENG-1::attachment::30001"), "{ids:?}");
    assert!(!ids.iter().any(|i| i.contains("30002")), "{ids:?}");
    let downloads: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.contains("/attachment/content/"))
        .collect();
    assert_eq!(downloads, ["/rest/api/3/attachment/content/30001"]);
    let mut expected: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    let mut slim = listed(&c).await;
    slim.sort();
    assert_eq!(slim, expected, "prune sees the same documents");
}

#[tokio::test]
async fn secured_issues_are_left_out_unless_asked_for() {
    let server = jira().await;
    // By default ENG-2 (under "Staff only") would carry no access: it is left out, listed
    // nowhere, so prune retires a copy an older run indexed.
    let c = common::connector(common::cloud_config(&server.uri(), json!({})));
    let all = collect(&c).await;
    let titles: Vec<&str> = all.documents.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles, ["ENG-1: Issue number 1"]);
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let slim = listed(&c).await;
    assert!(!slim.iter().any(|id| id.contains("ENG-2")), "{slim:?}");
    // Asked for, it is indexed and says which level it is under.
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"include_secured_issues": true}),
    ));
    let all = collect(&c).await;
    let two = all
        .documents
        .iter()
        .find(|d| d.title.starts_with("ENG-2"))
        .expect("ENG-2 indexed");
    assert_eq!(two.metadata["security_level"], "Staff only");
    assert_eq!(two.access, None);
    assert!(listed(&c).await.iter().any(|id| id.contains("ENG-2")));
}

fn holder(kind: &str, parameter: Option<&str>, extra: Value) -> Value {
    let mut h = json!({"type": kind});
    if let Some(p) = parameter {
        h["parameter"] = json!(p);
        h["value"] = json!(p);
    }
    if let (Some(h), Value::Object(extra)) = (h.as_object_mut(), extra) {
        h.extend(extra);
    }
    h
}

fn grant(id: u32, permission: &str, holder: Value) -> Value {
    json!({
        "id": id,
        "self": format!("https://example.atlassian.net/rest/api/3/permissionscheme/10000/permission/{id}"),
        "holder": holder,
        "permission": permission
    })
}

/// A token that may read the permissions: the scheme, the Developers role, one user by account
/// id, the "Staff only" level; each must be asked once, whatever the number of issues.
async fn mount_permissions(server: &MockServer) {
    let group = |name: &str, id: &str| {
        holder(
            "group",
            Some(name),
            json!({"expand": "group", "value": id, "group": {"name": name, "groupId": id}}),
        )
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .and(query_param("expand", "permissions,user,group,projectRole"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "expand": "permissions,user,group,projectRole,field,all",
            "id": 10000,
            "self": "https://example.atlassian.net/rest/api/3/permissionscheme/10000",
            "name": "Engineering permission scheme",
            "permissions": [
                grant(10001, "BROWSE_PROJECTS", group("eng-team", "276f955c-63d7-42c8-9520-92d01dca0625")),
                grant(10002, "BROWSE_PROJECTS", holder("projectRole", Some("10002"), json!({"expand": "projectRole"}))),
                grant(10003, "BROWSE_PROJECTS", holder("user", Some("acc-lead"), json!({"expand": "user", "user": common::user("Lee Lead", "lead@example.com")}))),
                grant(10004, "BROWSE_PROJECTS", holder("reporter", None, json!({}))),
                grant(10005, "BROWSE_PROJECTS", holder("groupCustomField", Some("customfield_10100"), json!({}))),
                grant(10006, "EDIT_ISSUES", holder("anyone", None, json!({}))),
                grant(10007, "ADMINISTER_PROJECTS", group("jira-admins", "9d1e-admins"))
            ]
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/role/10002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "self": "https://example.atlassian.net/rest/api/3/project/ENG/role/10002",
            "name": "Developers", "id": 10002, "description": "A project role that represents developers in a project",
            "actors": [
                {"id": 10240, "displayName": "eng-devs", "type": "atlassian-group-role-actor", "name": "eng-devs",
                 "actorGroup": {"name": "eng-devs", "displayName": "eng-devs", "groupId": "952d12c3-5b5b-4d04-bb32-44d383afc4b2"}},
                {"id": 10241, "displayName": "Dana", "type": "atlassian-user-role-actor",
                 "actorUser": {"accountId": "acc-dana"}}
            ]
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user"))
        .and(query_param("accountId", "acc-dana"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(common::user("Dana", "Dana@Example.com")),
        )
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issuesecurityschemes/level/member"))
        .and(query_param("levelId", "10100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "isLast": true, "maxResults": 50, "startAt": 0, "total": 3,
            "values": [
                {"id": "10000", "issueSecurityLevelId": "10100", "issueSecuritySchemeId": "10010",
                 "holder": group("eng-team", "276f955c-63d7-42c8-9520-92d01dca0625"), "managed": false},
                {"id": "10001", "issueSecurityLevelId": "10100", "issueSecuritySchemeId": "10010",
                 "holder": holder("user", Some("acc-lead"), json!({"expand": "user", "user": common::user("Lee Lead", "lead@example.com")})), "managed": false},
                {"id": "10002", "issueSecurityLevelId": "10100", "issueSecuritySchemeId": "10010",
                 "holder": group("hr", "77aa-hr"), "managed": false}
            ]
        })))
        .expect(1)
        .mount(server)
        .await;
}

fn access(emails: &[&str], groups: &[&str]) -> Option<Access> {
    Some(Access::restricted(
        emails.iter().map(|s| (*s).to_owned()).collect(),
        groups.iter().map(|s| (*s).to_owned()).collect(),
    ))
}

#[tokio::test]
async fn access_from_the_scheme_roles_levels_and_comment_visibility() {
    let server = jira().await;
    mount_permissions(&server).await;
    let uri = server.uri();
    let c = common::connector(common::cloud_config(
        &uri,
        json!({"include_attachments": true, "include_permissions": true, "id_scheme": "issue_id"}),
    ));
    let all = collect(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let host = uri.trim_start_matches("http://");
    let doc = |id: String| {
        all.documents
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    // Browse Projects: eng-team, the Developers role (eng-devs, Dana), Lee, the reporter;
    // Cloud groups by their id, which a rename keeps.
    let project_readers = access(
        &["alice@example.com", "dana@example.com", "lead@example.com"],
        &[ENG_TEAM, ENG_DEVS],
    );
    let one = doc(format!("jira:{host}/issue/10001"));
    assert_eq!(one.access, project_readers);
    assert!(!text(one).contains("leaked key"));
    // The role's comment: those of the issue's readers in Developers.
    let role = doc(format!("jira:{host}/issue/10001/comment/20002"));
    assert_eq!(role.access, access(&["dana@example.com"], &[ENG_DEVS]));
    assert!(text(role).contains("Root cause is the leaked key."));
    assert!(text(role).contains("restricted to role Developers"));
    assert_eq!(role.parent_id, Some(one.id.clone()));
    let group = doc(format!("jira:{host}/issue/10001/comment/20003"));
    assert_eq!(group.access, access(&[], &[ENG_TEAM]));
    // The attachment only the role's comment shows takes that comment's access.
    let secret = doc(format!("jira:{host}/issue/10001/attachment/30002"));
    assert_eq!(secret.access, role.access);
    let notes = doc(format!("jira:{host}/issue/10001/attachment/30001"));
    assert_eq!(notes.access, project_readers);
    // The "Staff only" level narrows the project's readers to eng-team and Lee (hr cannot
    // browse the project; the reporter is not a member of the level).
    let two = doc(format!("jira:{host}/issue/10002"));
    assert_eq!(two.access, access(&["lead@example.com"], &[ENG_TEAM]));
    // Prune lists the comment documents too.
    let mut slim = listed(&c).await;
    slim.sort();
    let mut ids: Vec<String> = all.documents.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    assert_eq!(slim, ids);
}

/// Fails closed: a project whose scheme the token may not read names no one (`access: None`
/// would be "unknown", which a host may show to everyone); the warning, once per project, is
/// checked in `permission_warnings.rs`.
#[tokio::test]
async fn without_admin_rights_access_names_no_one() {
    let server = jira().await;
    // A user's token: Jira refuses the scheme and the level members (403), as documented.
    let refusal = ResponseTemplate::new(403).set_body_json(json!({
        "errorMessages": ["You don't have permission to access this resource."], "errors": {}
    }));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .respond_with(refusal.clone())
        .expect(1)
        .mount(&server)
        .await;
    // Not asked: a level narrows the project's readers, who are no one already.
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issuesecurityschemes/level/member"))
        .respond_with(refusal)
        .expect(0)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"include_attachments": true, "include_permissions": true}),
    ));
    let all = collect(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let uri = server.uri();
    let doc = |id: &str| all.documents.iter().find(|d| d.id == id).unwrap();
    // An issue, a secured issue, a restricted comment: readable by no one the connector can
    // name.
    let nobody = access(&[], &[]);
    assert_eq!(doc(&format!("{uri}/browse/ENG-1")).access, nobody);
    assert_eq!(doc("ENG-1::attachment::30001").access, nobody);
    assert_eq!(doc(&format!("{uri}/browse/ENG-2")).access, nobody);
    assert_eq!(
        doc(&format!("{uri}/browse/ENG-1?focusedCommentId=20002")).access,
        nobody
    );
    assert_eq!(doc("ENG-1::attachment::30002").access, nobody);
}

/// Server/Data Center: grants name groups and roles by `parameter`, a comment's role by name
/// only (its id comes from the project's role list), role actors by user name.
#[tokio::test]
async fn server_roles_by_name_and_users_by_user_name() {
    let mut issue = common::issue(3, "2026-01-15T10:00:00.000+0000", false);
    issue["fields"]["comment"] = json!({
        "comments": [{
            "id": "30010", "author": {"name": "dana", "displayName": "Dana", "emailAddress": "dana@example.com"},
            "body": "Only for developers: the *staging* password rotates Friday.",
            "created": "2026-01-14T09:00:00.000+0000", "updated": "2026-01-14T09:00:00.000+0000",
            "visibility": {"type": "role", "value": "Developers"}
        }],
        "maxResults": 1, "total": 1, "startAt": 0
    });
    let (server, _) = common::server_mock(vec![issue], 10).await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/project/ENG/permissionscheme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 10000, "name": "Default Permission Scheme",
            "permissions": [
                {"id": 10004, "holder": {"type": "group", "parameter": "jira-users"}, "permission": "BROWSE_PROJECTS"},
                {"id": 10005, "holder": {"type": "projectRole", "parameter": "10002"}, "permission": "BROWSE_PROJECTS"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/rest/api/2/project/ENG/role"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Administrators": format!("{uri}/rest/api/2/project/ENG/role/10002x"),
            "Developers": format!("{uri}/rest/api/2/project/ENG/role/10002")
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/project/ENG/role/10002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "self": format!("{uri}/rest/api/2/project/ENG/role/10002"), "name": "Developers", "id": 10002,
            "actors": [
                {"id": 10100, "displayName": "eng-devs", "type": "atlassian-group-role-actor", "name": "eng-devs"},
                {"id": 10101, "displayName": "Dana", "type": "atlassian-user-role-actor", "name": "dana"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/user"))
        .and(query_param("username", "dana"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "dana", "displayName": "Dana", "emailAddress": "dana@example.com", "active": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(common::server_config(
        &uri,
        json!({"include_permissions": true}),
    ));
    let all = collect(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let issue = &all.documents[0];
    assert_eq!(
        issue.access,
        access(&["dana@example.com"], &["eng-devs", "jira-users"])
    );
    assert!(!text(issue).contains("staging"));
    let comment = &all.documents[1];
    assert_eq!(
        comment.id,
        format!("{uri}/browse/ENG-3?focusedCommentId=30010")
    );
    assert_eq!(comment.access, access(&["dana@example.com"], &["eng-devs"]));
    assert!(
        text(comment).contains("**staging** password"),
        "{}",
        text(comment)
    );
}

/// A scoped token without the permission scopes gets the gateway's 401 "scope does not match"
/// for the scheme: access names no one, and the sync goes on (the credentials are good).
#[tokio::test]
async fn a_scope_refusal_is_unknown_access_not_rejected_credentials() {
    let server = jira().await;
    let scope = ResponseTemplate::new(401).set_body_json(json!({
        "code": 401, "message": "Unauthorized; scope does not match"
    }));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .respond_with(scope)
        .expect(1)
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &server.uri(),
        json!({"include_permissions": true}),
    ));
    let all = collect(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(all.documents[0].access, access(&[], &[]));
}

/// ENG-1 of a Jira Service Management project: a public reply, an internal note
/// (`jsdPublic: false`, Cloud) that shows `secret.png`, and an internal note as Data Center
/// marks it (the `sd.public.comment` property).
async fn service_desk() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut one = common::issue(1, "2026-01-15T10:00:00.000+0000", true);
    let mut internal = comment("20002", "Dana", "Customer is on the old plan.", None);
    internal["jsdPublic"] = json!(false);
    internal["body"]["content"].as_array_mut().unwrap().push(
        json!({"type": "mediaSingle", "content": [
            {"type": "media", "attrs": {"type": "file", "id": MEDIA_ID, "collection": ""}}
        ]}),
    );
    let mut dc_internal = comment("20003", "Erin", "Refund approved by finance.", None);
    dc_internal.as_object_mut().unwrap().remove("jsdPublic");
    dc_internal["properties"] = json!([{"key": "sd.public.comment", "value": {"internal": true}}]);
    one["fields"]["comment"] = json!({
        "comments": [comment("20001", "Bob", "We are looking into it.", None), internal, dc_internal],
        "maxResults": 3, "total": 3, "startAt": 0
    });
    one["fields"]["attachment"] = json!([{
        "id": "30002", "filename": "secret.png", "size": 12, "mimeType": "image/png",
        "mediaApiFileId": MEDIA_ID,
        "content": format!("{uri}/rest/api/3/attachment/content/30002")
    }]);
    let search = common::CloudSearch {
        issues: Arc::new(std::sync::Mutex::new(vec![one])),
        per_page: 10,
        bodies: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/30002"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes("png"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn service_management_internal_comments_are_restricted() {
    let server = service_desk().await;
    for extra in [
        json!({"include_attachments": true}),
        json!({"include_attachments": true, "include_permissions": true}),
    ] {
        let c = common::connector(common::cloud_config(&server.uri(), extra.clone()));
        let all = collect(&c).await;
        let ids: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids.len(), 1, "{extra}: only the issue: {ids:?}");
        let body = text(&all.documents[0]);
        assert!(body.contains("looking into it"), "{body}");
        assert!(
            !body.contains("old plan"),
            "{extra}: Cloud internal note: {body}"
        );
        assert!(
            !body.contains("Refund"),
            "{extra}: DC internal note: {body}"
        );
        assert!(!body.contains("secret.png"), "{body}");
        assert_eq!(all.documents[0].metadata["restricted_comments"], 2);
        let slim = listed(&c).await;
        assert_eq!(slim, ids, "{extra}: prune sees the same documents");
    }
}

/// An issue put under a security level changes its `updated` time, not its attachments':
/// with `include_permissions` an attachment's version holds a hash of its access, so the
/// incremental run that re-delivers the issue re-delivers the attachment, narrowed, too.
#[tokio::test]
async fn narrowing_an_issue_redelivers_its_attachments() {
    use connector_core::sink::MemorySink;
    use connector_core::state::MemoryStateStore;
    use connector_core::sync::{SyncMode, Syncer};
    let server = MockServer::start().await;
    let uri = server.uri();
    let now = || {
        chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
            .to_string()
    };
    let mut one = common::issue(1, &now(), true);
    one["fields"]["attachment"] = json!([{
        "id": "30001", "filename": "notes.txt", "size": 12, "mimeType": "text/plain",
        "content": format!("{uri}/rest/api/3/attachment/content/30001")
    }]);
    let issues = Arc::new(std::sync::Mutex::new(vec![one]));
    let search = common::CloudSearch {
        issues: Arc::clone(&issues),
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
        .respond_with(ResponseTemplate::new(200).set_body_bytes("notes"))
        .mount(&server)
        .await;
    // The token may read the scheme (eng-team may browse) but not the level members (403):
    // an issue under a level names no one.
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 10000, "name": "Engineering permission scheme",
            "permissions": [grant(10001, "BROWSE_PROJECTS", holder(
                "group", Some("eng-team"),
                json!({"value": ENG_TEAM, "group": {"name": "eng-team", "groupId": ENG_TEAM}})
            ))]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issuesecurityschemes/level/member"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorMessages": ["You don't have permission to access this resource."], "errors": {}
        })))
        .mount(&server)
        .await;
    let c: Arc<dyn connector_core::Connector> = Arc::new(common::connector(common::cloud_config(
        &uri,
        json!({"include_attachments": true, "include_permissions": true}),
    )));
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    let run = || async {
        Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(store.clone())
            .run(SyncMode::Auto)
            .await
    };
    let first = run().await.unwrap();
    assert_eq!(first.new, 2, "{first:?}");
    let attachment = "ENG-1::attachment::30001";
    assert_eq!(
        sink.get(attachment).unwrap().access,
        access(&[], &[ENG_TEAM])
    );

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    {
        let mut issues = issues.lock().unwrap();
        issues[0]["fields"]["updated"] = json!(now());
        issues[0]["fields"]["security"] =
            json!({"id": "10100", "name": "Staff only", "description": "Staff"});
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = run().await.unwrap();
    assert_eq!(
        second.updated, 2,
        "the issue and its attachment: {second:?}"
    );
    let narrowed = sink.get(attachment).unwrap().access;
    assert_eq!(narrowed, Some(Access::restricted(Vec::new(), Vec::new())));
}

/// `applicationRole` ("Application access: Any logged in user", or one application's users)
/// is every licensed user of the site, not the public (anonymous `anyone`): the group
/// `jira:{site}/users`, which a security level narrows to the level's own members.
#[tokio::test]
async fn application_access_is_every_licensed_user_of_the_site_not_public() {
    let server = jira().await;
    let uri = server.uri();
    let host = uri.trim_start_matches("http://").to_owned();
    Mock::given(method("GET"))
        .and(path("/rest/api/3/project/ENG/permissionscheme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 10000, "name": "Default software scheme",
            "permissions": [
                grant(10001, "BROWSE_PROJECTS", json!({"type": "applicationRole"})),
                grant(10002, "BROWSE_PROJECTS", json!({"type": "applicationRole", "parameter": "jira-servicedesk", "value": "jira-servicedesk"}))
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issuesecurityschemes/level/member"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "isLast": true, "maxResults": 50, "startAt": 0, "total": 1,
            "values": [{"id": "10000", "issueSecurityLevelId": "10100", "issueSecuritySchemeId": "10010",
                "holder": {"type": "group", "parameter": "eng-team", "value": ENG_TEAM, "expand": "group"}}]
        })))
        .mount(&server)
        .await;
    let c = common::connector(common::cloud_config(
        &uri,
        json!({"include_permissions": true}),
    ));
    let all = collect(&c).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let one = all
        .documents
        .iter()
        .find(|d| d.title.starts_with("ENG-1"))
        .unwrap();
    let users = format!("jira:{host}/users");
    let desk = format!("jira:{host}/users/jira-servicedesk");
    assert_eq!(one.access, access(&[], &[&users, &desk]));
    assert!(!one.access.as_ref().unwrap().public);
    // Under "Staff only": eng-team, whose members are licensed users of the site.
    let two = all
        .documents
        .iter()
        .find(|d| d.title.starts_with("ENG-2"))
        .unwrap();
    assert_eq!(two.access, access(&[], &[ENG_TEAM]));
    // The group-restricted comment: eng-team too.
    let group = all
        .documents
        .iter()
        .find(|d| d.id.ends_with("focusedCommentId=20003"))
        .unwrap();
    assert_eq!(group.access, access(&[], &[ENG_TEAM]));
}
