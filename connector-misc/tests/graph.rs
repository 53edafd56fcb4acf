//! The shared Microsoft Graph client against Graph's wire format: the client credentials
//! token (cached, renewed on 401), `@odata.nextLink` paging, delta rounds and their `410 Gone`,
//! `$batch` with a throttled member, 429 `Retry-After`, Graph's error bodies.
#![cfg(feature = "graph")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use connector_core::ErrorKind;
use connector_core::http::RateGate;
use connector_core::net::NetworkPolicy;
use connector_misc::graph::{Delta, GraphApp, GraphClient};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";

async fn server_with_token(token: &str, expect: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=app-id"))
        .and(body_string_contains("scope=http%3A%2F%2F127.0.0.1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": token,
        })))
        .expect(expect)
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> GraphClient {
    let mut app = GraphApp::new(TENANT, "app-id", "the-client-secret");
    app.authority_host = Some(Url::parse(&server.uri()).unwrap());
    app.graph_url = Some(Url::parse(&server.uri()).unwrap());
    GraphClient::new(
        "onedrive",
        &app,
        NetworkPolicy::any(),
        "Files.Read.All",
        |b| {
            b.backoff(
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(5),
            )
        },
    )
    .unwrap()
}

#[tokio::test]
async fn the_token_is_fetched_once_and_collections_follow_next_links() {
    let server = server_with_token("tok-1", 1).await;
    let next = format!(
        "{}/v1.0/users/u1/mailFolders?%24skiptoken=abc",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1/mailFolders"))
        .and(query_param("$skiptoken", "abc"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('u1')/mailFolders",
            "value": [{"id": "f3", "displayName": "Archive"}],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1/mailFolders"))
        .and(query_param("$top", "2"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "f1", "displayName": "Inbox"}, {"id": "f2", "displayName": "Sent Items"}],
            "@odata.nextLink": next,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let graph = client(&server);
    let url = graph.url("users/u1/mailFolders", &[("$top", "2")]).unwrap();
    let all: Vec<Value> = graph.all(&url).await.unwrap();
    let ids: Vec<&str> = all.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ["f1", "f2", "f3"]);
}

#[tokio::test]
async fn a_delta_round_ends_in_a_delta_link_and_410_restarts_it() {
    let server = server_with_token("tok-1", 1).await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/d1/root/delta"))
        .and(query_param("token", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "i2", "name": "b.txt", "deleted": {"state": "deleted"}}],
            "@odata.deltaLink": format!("{uri}/v1.0/drives/d1/root/delta?token=latest1"),
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/d1/root/delta"))
        .and(query_param("token", "expired"))
        .respond_with(
            ResponseTemplate::new(410)
                .insert_header("location", format!("{uri}/v1.0/drives/d1/root/delta?token=fresh"))
                .set_body_json(json!({"error": {
                    "code": "resyncRequired",
                    "message": "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
                }})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/d1/root/delta"))
        .and(query_param("token", "gone"))
        .respond_with(ResponseTemplate::new(410).set_body_json(json!({"error": {
            "code": "resyncChangesApplyDifferences", "message": "Resync required."}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/d1/root/delta"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "i1", "name": "a.txt", "file": {}}],
            "@odata.nextLink": format!("{uri}/v1.0/drives/d1/root/delta?token=page2"),
        })))
        .mount(&server)
        .await;
    let graph = client(&server);
    let first = graph.url("drives/d1/root/delta", &[]).unwrap();
    let Delta::Page(p1) = graph.delta::<Value>(&first).await.unwrap() else {
        panic!("a page")
    };
    assert_eq!(p1.value[0]["id"], "i1");
    let Delta::Page(p2) = graph
        .delta::<Value>(p1.next_link.as_ref().unwrap())
        .await
        .unwrap()
    else {
        panic!("a page")
    };
    assert!(p2.next_link.is_none());
    assert!(p2.delta_link.unwrap().as_str().ends_with("token=latest1"));

    let expired = Url::parse(&format!("{uri}/v1.0/drives/d1/root/delta?token=expired")).unwrap();
    match graph.delta::<Value>(&expired).await.unwrap() {
        Delta::Restart { restart_at, code } => {
            assert_eq!(code, "resyncRequired");
            assert!(restart_at.unwrap().as_str().ends_with("token=fresh"));
        }
        Delta::Page(_) => panic!("410 is a restart"),
    }
    let gone = Url::parse(&format!("{uri}/v1.0/drives/d1/root/delta?token=gone")).unwrap();
    assert!(matches!(
        graph.delta::<Value>(&gone).await.unwrap(),
        Delta::Restart {
            restart_at: None,
            ..
        }
    ));
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_401_renews_the_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "tok-old"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "tok-new"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/root"))
        .and(header("authorization", "Bearer tok-old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/root"))
        .and(header("authorization", "Bearer tok-new"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"error": {"code": "TooManyRequests", "message": "Please retry after"}}),
                ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/root"))
        .and(header("authorization", "Bearer tok-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "site-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let graph = client(&server);
    let started = std::time::Instant::now();
    let site: Value = graph
        .get(&graph.url("sites/root", &[]).unwrap())
        .await
        .unwrap();
    assert_eq!(site["id"], "site-1");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After: 1 was not waited for"
    );
}

#[tokio::test]
async fn errors_carry_graphs_code_and_the_permission_to_grant_never_the_secret() {
    let server = server_with_token("tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "accessDenied", "message": "Either scp or roles claim need to be present in the token.",
            "innerError": {"request-id": "req-9", "date": "2026-12-01T10:00:00"}}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "itemNotFound", "message": "The resource could not be found."}})))
        .mount(&server)
        .await;
    let graph = client(&server);
    let e = graph
        .get::<Value>(&graph.url("drives", &[]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    let text = e.to_string();
    assert!(
        text.contains("accessDenied") && text.contains("req-9"),
        "{text}"
    );
    assert!(text.contains("Files.Read.All"), "{text}");
    assert!(!text.contains("the-client-secret"));
    let missing = graph
        .get_opt::<Value>(&graph.url("drives/missing", &[]).unwrap())
        .await
        .unwrap();
    assert!(missing.is_none());
}

#[tokio::test]
async fn a_refused_secret_is_unauthenticated_naming_the_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'app-id'.",
            "error_codes": [7000215],
        })))
        .mount(&server)
        .await;
    let graph = client(&server);
    let e = graph
        .get::<Value>(&graph.url("sites/root", &[]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(format!("{e}").contains("credentials.client_secret"), "{e}");
    assert!(!format!("{e:?}").contains("the-client-secret"));
}

#[tokio::test]
async fn a_batch_answers_in_order_and_sends_a_throttled_member_again_alone() {
    let server = server_with_token("tok-1", 1).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .and(body_string_contains(r#""url":"users/a/drive""#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"responses": [
            {"id": "2", "status": 429, "headers": {"Retry-After": "1", "Content-Type": "application/json"},
             "body": {"error": {"code": "TooManyRequests", "message": "throttled"}}},
            {"id": "0", "status": 200, "headers": {"Content-Type": "application/json"},
             "body": {"id": "drive-a"}},
            {"id": "1", "status": 404, "headers": {"Content-Type": "application/json"},
             "body": {"error": {"code": "itemNotFound", "message": "no drive"}}},
            {"id": "3", "status": 403, "headers": {},
             "body": {"error": {"code": "accessDenied", "message": "no"}}},
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/c/drive"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "drive-c"})))
        .expect(1)
        .mount(&server)
        .await;
    let graph = client(&server);
    let paths: Vec<String> = [
        "users/a/drive",
        "users/b/drive",
        "users/c/drive",
        "users/d/drive",
    ]
    .map(String::from)
    .to_vec();
    let started = std::time::Instant::now();
    let answers = graph.batch_get::<Value>(&paths).await.unwrap();
    // The member's own Retry-After was waited for before it was sent again.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "the throttled member's Retry-After: 1 was not waited for"
    );
    assert_eq!(answers.len(), 4);
    assert_eq!(
        answers[0].as_ref().unwrap().as_ref().unwrap()["id"],
        "drive-a"
    );
    assert!(answers[1].as_ref().unwrap().is_none());
    assert_eq!(
        answers[2].as_ref().unwrap().as_ref().unwrap()["id"],
        "drive-c"
    );
    let denied = answers[3].as_ref().unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
    assert!(denied.to_string().contains("users/d/drive"), "{denied}");
}

/// Records the permits every request of the shared gate takes.
#[derive(Debug, Default)]
struct Permits(std::sync::Mutex<Vec<u32>>);

#[async_trait::async_trait]
impl RateGate for Permits {
    async fn acquire(&self, _key: &str, _interval: Duration) -> connector_core::Result<Duration> {
        self.0.lock().unwrap().push(1);
        Ok(Duration::ZERO)
    }

    async fn acquire_many(
        &self,
        _key: &str,
        _interval: Duration,
        permits: NonZeroU32,
    ) -> connector_core::Result<Duration> {
        self.0.lock().unwrap().push(permits.get());
        Ok(Duration::ZERO)
    }

    async fn defer(&self, _key: &str, _wait: Duration) -> connector_core::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_member_of_a_batch_takes_a_permit_of_the_rate_limit() {
    let server = server_with_token("tok-1", 1).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(|req: &wiremock::Request| {
            let asked: Value = serde_json::from_slice(&req.body).unwrap();
            let responses: Vec<Value> = asked["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| json!({"id": r["id"], "status": 200, "headers": {}, "body": {"id": r["url"]}}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({ "responses": responses }))
        })
        .expect(2)
        .mount(&server)
        .await;
    let gate = Arc::new(Permits::default());
    let mut app = GraphApp::new(TENANT, "app-id", "the-client-secret");
    app.authority_host = Some(Url::parse(&server.uri()).unwrap());
    app.graph_url = Some(Url::parse(&server.uri()).unwrap());
    // One request every 10 ms, none ahead of time.
    let graph = GraphClient::new(
        "teams",
        &app,
        NetworkPolicy::any(),
        "ChannelMessage.Read.All",
        |b| {
            b.rate_limit(NonZeroU32::MIN, Duration::from_millis(10))
                .rate_gate(gate.clone())
        },
    )
    .unwrap();
    let paths: Vec<String> = (0..25).map(|i| format!("users/u{i}/drive")).collect();
    let started = std::time::Instant::now();
    let answers = graph.batch_get::<Value>(&paths).await.unwrap();
    assert_eq!(answers.len(), 25);
    assert_eq!(
        answers[24].as_ref().unwrap().as_ref().unwrap()["id"],
        "users/u24/drive"
    );
    // The token's request, then the batches: 20 members take 20 permits, 5 take 5.
    assert_eq!(*gate.0.lock().unwrap(), [1, 20, 5]);
    // And the client's own limit spaces them as 26 single requests: the last member of the
    // second batch is due 25 intervals after the token's request.
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_link_outside_graph_is_not_followed_with_the_token() {
    let server = server_with_token("tok-1", 0).await;
    let graph = client(&server);
    let elsewhere = Url::parse("https://attacker.example/v1.0/drives?$skiptoken=x").unwrap();
    let e = graph.page::<Value>(&elsewhere).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("attacker.example"));
}

#[test]
fn settings_are_checked_by_field() {
    let mut app = GraphApp::new(" ", "", "");
    app.graph_url = Some(Url::parse("ftp://graph.example").unwrap());
    let fields: Vec<String> = app.problems().into_iter().map(|p| p.path).collect();
    assert_eq!(
        fields,
        [
            "credentials.tenant_id",
            "credentials.client_id",
            "credentials.client_secret",
            "graph_url"
        ]
    );
    let mut gov = GraphApp::new("t", "c", "s");
    gov.graph_url = Some(Url::parse("https://graph.microsoft.us").unwrap());
    gov.authority_host = Some(Url::parse("https://login.microsoftonline.us/").unwrap());
    assert_eq!(gov.scope().unwrap(), "https://graph.microsoft.us/.default");
    assert_eq!(
        gov.api_root().unwrap().as_str(),
        "https://graph.microsoft.us/v1.0/"
    );
    assert_eq!(
        gov.token_url().unwrap().as_str(),
        "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    );
}
