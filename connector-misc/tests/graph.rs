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

// Certificate credentials (SharePoint/OneDrive review #15): a client assertion signed with the
// certificate's key, named by its thumbprint, as MSAL sends it.

const CERT_KEY: &str = include_str!("fixtures/graph/app-cert-key.pem");
const CERT_PUBLIC_KEY: &str = include_str!("fixtures/graph/app-cert-pub.pem");
/// `openssl x509 -in fixtures/graph/app-cert.pem -noout -fingerprint -sha1`.
const CERT_THUMBPRINT: &str = "D1:77:A5:DD:82:42:74:32:68:70:0C:B9:E7:ED:FF:11:C3:38:E5:C1";

const CERT: &str = include_str!("fixtures/graph/app-cert.pem");

/// The SHA-256 thumbprint of the fixture's certificate (its DER's digest).
fn cert_sha256() -> Vec<u8> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let body: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    sha2::Sha256::digest(der).to_vec()
}

/// Entra ID's token endpoint for a certificate: the form of the client credentials grant
/// with `client_assertion`, checked as Entra ID checks it (signature by the certificate the
/// `x5t` header names, `aud` the token endpoint, `iss` and `sub` the client id, unexpired, a
/// `jti`); a client secret is refused.
struct AssertionEndpoint {
    token_url: String,
    assertions: Arc<std::sync::Mutex<Vec<String>>>,
}

impl wiremock::Respond for AssertionEndpoint {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
        let refuse = |why: &str| {
            ResponseTemplate::new(401).set_body_json(json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS700027: Client assertion failed signature validation. {why}"),
                "error_codes": [700027],
            }))
        };
        if form.contains_key("client_secret")
            || form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || form.get("client_id").map(String::as_str) != Some("app-id")
            || form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return refuse("not a client assertion grant");
        }
        let Some(assertion) = form.get("client_assertion") else {
            return refuse("no assertion");
        };
        let header = jsonwebtoken::decode_header(assertion).unwrap();
        let thumbprint: Vec<u8> = CERT_THUMBPRINT
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        use base64::Engine as _;
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint);
        let x5t_s256 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cert_sha256());
        // Microsoft's pairs: RS256 with the SHA-1 `x5t`, PS256 with `x5t#S256`.
        let named = match header.alg {
            jsonwebtoken::Algorithm::RS256 => header.x5t.as_deref() == Some(&x5t),
            jsonwebtoken::Algorithm::PS256 => header.x5t_s256.as_deref() == Some(&x5t_s256),
            _ => false,
        };
        if !named {
            return refuse("unknown certificate");
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(CERT_PUBLIC_KEY.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(&[self.token_url.as_str()]);
        v.set_issuer(&["app-id"]);
        v.sub = Some("app-id".to_owned());
        v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        match jsonwebtoken::decode::<Value>(assertion, &key, &v) {
            Ok(data) if data.claims["jti"].as_str().is_some_and(|j| j.len() == 36) => {
                self.assertions.lock().unwrap().push(assertion.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                    "access_token": "cert-token",
                }))
            }
            Ok(_) => refuse("no jti"),
            Err(e) => refuse(&e.to_string()),
        }
    }
}

#[tokio::test]
async fn certificate_credentials_sign_a_client_assertion_instead_of_sending_a_secret() {
    let server = MockServer::start().await;
    let assertions = Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(AssertionEndpoint {
            token_url: format!("{}/{TENANT}/oauth2/v2.0/token", server.uri()),
            assertions: Arc::clone(&assertions),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/root"))
        .and(header("authorization", "Bearer cert-token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "contoso.sharepoint.com,1,2"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut app = GraphApp::new(TENANT, "app-id", "").with_certificate(CERT_KEY, CERT_THUMBPRINT);
    app.authority_host = Some(Url::parse(&server.uri()).unwrap());
    app.graph_url = Some(Url::parse(&server.uri()).unwrap());
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    assert!(!format!("{app:?}").contains("PRIVATE KEY"));
    let graph = GraphClient::new(
        "sharepoint",
        &app,
        NetworkPolicy::any(),
        "Sites.Read.All",
        |b| b,
    )
    .unwrap();
    let site: Value = graph
        .get(&graph.url("sites/root", &[]).unwrap())
        .await
        .unwrap();
    assert_eq!(site["id"], "contoso.sharepoint.com,1,2");
    assert_eq!(assertions.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_certificate_is_unauthenticated_naming_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.",
            "error_codes": [700027],
        })))
        .mount(&server)
        .await;
    let mut app = GraphApp::new(TENANT, "app-id", "").with_certificate(CERT_KEY, CERT_THUMBPRINT);
    app.authority_host = Some(Url::parse(&server.uri()).unwrap());
    app.graph_url = Some(Url::parse(&server.uri()).unwrap());
    let graph = GraphClient::new(
        "onedrive",
        &app,
        NetworkPolicy::any(),
        "Files.Read.All",
        |b| b,
    )
    .unwrap();
    let e = graph
        .get::<Value>(&graph.url("sites/root", &[]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(
        format!("{e}").contains("credentials.client_certificate_key"),
        "{e}"
    );
    assert!(!format!("{e:?}").contains("PRIVATE KEY"));
}

#[test]
fn certificate_settings_are_checked_by_field() {
    let fields =
        |app: GraphApp| -> Vec<String> { app.problems().into_iter().map(|p| p.path).collect() };
    // Both a secret and a certificate; a key that is no key; a thumbprint too short.
    assert_eq!(
        fields(GraphApp::new("t", "c", "s").with_certificate(CERT_KEY, CERT_THUMBPRINT)),
        ["credentials.client_secret"]
    );
    assert_eq!(
        fields(GraphApp::new("t", "c", "").with_certificate(
            "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
            "D177A5DD"
        )),
        [
            "credentials.client_certificate_key",
            "credentials.client_certificate_thumbprint"
        ]
    );
    let mut half = GraphApp::new("t", "c", "");
    half.certificate_thumbprint = Some(CERT_THUMBPRINT.to_owned());
    assert_eq!(fields(half), ["credentials.client_certificate_key"]);
    // A SHA-256 thumbprint is taken too (sent as `x5t#S256`).
    assert!(
        GraphApp::new("t", "c", "")
            .with_certificate(CERT_KEY, "ab".repeat(32))
            .problems()
            .is_empty()
    );
}

#[cfg(feature = "sharepoint")]
#[test]
fn a_sources_config_takes_certificate_credentials_without_a_secret() {
    let config: connector_misc::sharepoint::SharepointConfig =
        connector_core::config::from_json(json!({
            "credentials": {
                "tenant_id": TENANT,
                "client_id": "app-id",
                "client_certificate_key": CERT_KEY,
                "client_certificate_thumbprint": CERT_THUMBPRINT,
                "site_url": "https://contoso.sharepoint.com/sites/Eng",
            },
        }))
        .unwrap();
    let app = config.app();
    assert!(app.client_secret.is_empty());
    assert!(app.certificate_key.is_some());
    assert!(!format!("{config:?}").contains("PRIVATE KEY"));
    let schema =
        connector_core::config::schema_of::<connector_misc::sharepoint::SharepointConfig>()
            .to_string();
    assert!(schema.contains("client_certificate_thumbprint"));
    // SharePoint's default rate (review: the default rate limit), and its bound.
    assert_eq!(config.requests_per_second, 6);
    let mut json = serde_json::to_value(&config).unwrap();
    json["credentials"]["client_certificate_key"] = json!(CERT_KEY);
    json["requests_per_second"] = json!(1001);
    let e = connector_core::config::from_json::<connector_misc::sharepoint::SharepointConfig>(json)
        .unwrap_err();
    assert!(e.to_string().contains("requests_per_second"), "{e}");
}

/// An Entra ID access token's shape: header, claims (with `tid`), signature, base64url each.
fn access_token_with_tenant(tid: &str) -> String {
    use base64::Engine as _;
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(json!({"typ": "JWT", "alg": "RS256", "x5t": "abc", "kid": "abc"})),
        part(
            json!({"aud": "https://graph.microsoft.com", "iss": format!("https://sts.windows.net/{tid}/"),
            "tid": tid, "appid": "app-id", "roles": ["Sites.Read.All"]})
        ),
    )
}

#[tokio::test]
async fn the_tenant_key_is_the_directory_id_whichever_name_the_config_gives() {
    const TID: &str = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
    let token = access_token_with_tenant(TID);
    let server = server_with_token(&token, 1).await;
    let graph = client(&server);
    // A verified domain: the GUID of the token's `tid`, asked once.
    assert_eq!(
        graph.tenant(TENANT).await.unwrap(),
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
    );
    assert_eq!(
        graph.tenant(TENANT).await.unwrap(),
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
    );
    // A GUID is its own key, no token needed; a token without a readable `tid` leaves the
    // configured name.
    let other = MockServer::start().await;
    assert_eq!(
        client(&other).tenant(TID).await.unwrap(),
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
    );
    let opaque = server_with_token("tok-1", 1).await;
    assert_eq!(
        client(&opaque)
            .tenant(" Contoso.onmicrosoft.com ")
            .await
            .unwrap(),
        "contoso.onmicrosoft.com"
    );
}

// Review of the merged graphfix work (notes/review-graphfix.md, findings 2 and 3).

/// A token for `app` from an endpoint that checks the assertion as Entra ID does.
async fn certificate_token(app: GraphApp) -> Result<usize, connector_core::Error> {
    let server = MockServer::start().await;
    let assertions = Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(AssertionEndpoint {
            token_url: format!("{}/{TENANT}/oauth2/v2.0/token", server.uri()),
            assertions: Arc::clone(&assertions),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/root"))
        .and(header("authorization", "Bearer cert-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "root"})))
        .mount(&server)
        .await;
    let mut app = app;
    app.authority_host = Some(Url::parse(&server.uri()).unwrap());
    app.graph_url = Some(Url::parse(&server.uri()).unwrap());
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    let graph = GraphClient::new(
        "sharepoint",
        &app,
        NetworkPolicy::any(),
        "Sites.Read.All",
        |b| b,
    )?;
    graph
        .get::<Value>(&graph.url("sites/root", &[]).unwrap())
        .await?;
    let n = assertions.lock().unwrap().len();
    Ok(n)
}

#[tokio::test]
async fn a_pem_with_the_certificate_before_the_key_signs_with_the_key() {
    // As `openssl pkcs12 -in app.pfx -nodes` writes it: bag attributes, the certificate, then
    // the key.
    let both =
        format!("Bag Attributes\n    localKeyID: 01 00 00 00\n{CERT}Bag Attributes\n{CERT_KEY}");
    let sent = certificate_token(
        GraphApp::new(TENANT, "app-id", "").with_certificate(both.clone(), CERT_THUMBPRINT),
    )
    .await
    .unwrap();
    assert_eq!(sent, 1);
    // Without a thumbprint, the certificate in the file names itself (`x5t#S256`, PS256).
    let mut app = GraphApp::new(TENANT, "app-id", "");
    app.certificate_key = Some(both.into());
    assert_eq!(certificate_token(app).await.unwrap(), 1);
    // A file holding only the certificate is refused by field, not signed with.
    let mut app = GraphApp::new("t", "c", "");
    app.certificate_key = Some(CERT.into());
    assert_eq!(
        app.problems()
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>(),
        ["credentials.client_certificate_key"]
    );
}

#[tokio::test]
async fn a_sha256_thumbprint_is_sent_as_x5t_s256_with_ps256() {
    let hex: String = cert_sha256().iter().map(|b| format!("{b:02X}")).collect();
    let sent =
        certificate_token(GraphApp::new(TENANT, "app-id", "").with_certificate(CERT_KEY, hex))
            .await
            .unwrap();
    assert_eq!(sent, 1);
}

// Review of graphfix, finding 4: a PFX and its password, as Onyx's customers hold them
// (`sp_private_key` a base64 PFX, `sp_certificate_password`). The fixtures are the test
// certificate exported by OpenSSL 3: `openssl pkcs12 -export -inkey app-cert-key.pem -in
// app-cert.pem -passout 'pass:p@ss w0rd'` (AES-256-CBC, PBKDF2, HMAC-SHA256: the current
// default) and the same with `-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1`
// (what Windows' and older exports write), each `base64`.

const PFX: &str = include_str!("fixtures/graph/app-cert.pfx.b64");
const PFX_LEGACY: &str = include_str!("fixtures/graph/app-cert-legacy.pfx.b64");
const PFX_PASSWORD: &str = "p@ss w0rd";

#[tokio::test]
async fn a_pfx_and_its_password_sign_with_the_key_inside_named_by_its_certificate() {
    for pfx in [PFX, PFX_LEGACY] {
        // The certificate inside names itself (`x5t#S256`, PS256): the endpoint checks the
        // signature against the fixture's public key and the thumbprint against its DER.
        let app = GraphApp::new(TENANT, "app-id", "").with_pfx(pfx, PFX_PASSWORD);
        assert!(!format!("{app:?}").contains(PFX_PASSWORD));
        assert_eq!(certificate_token(app).await.unwrap(), 1);
        // With the SHA-1 thumbprint the portal shows: RS256 and `x5t`.
        let mut app = GraphApp::new(TENANT, "app-id", "").with_pfx(pfx, PFX_PASSWORD);
        app.certificate_thumbprint = Some(CERT_THUMBPRINT.to_owned());
        assert_eq!(certificate_token(app).await.unwrap(), 1);
    }
}

#[test]
fn a_pfx_with_a_wrong_or_missing_password_is_refused_by_field_never_shown() {
    let fields =
        |app: &GraphApp| -> Vec<String> { app.problems().into_iter().map(|p| p.path).collect() };
    let wrong = GraphApp::new(TENANT, "app-id", "").with_pfx(PFX, "not it");
    assert_eq!(fields(&wrong), ["credentials.client_certificate_password"]);
    let mut missing = GraphApp::new(TENANT, "app-id", "");
    missing.certificate_key = Some(PFX_LEGACY.into());
    assert_eq!(
        fields(&missing),
        ["credentials.client_certificate_password"]
    );
    // The client is not built either, and its error shows neither the PFX nor the password.
    let e = GraphClient::new(
        "sharepoint",
        &wrong,
        NetworkPolicy::any(),
        "Sites.Read.All",
        |b| b,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("credentials.client_certificate_password"),
        "{text}"
    );
    assert!(
        !text.contains("not it") && !text.contains(&PFX[..40]),
        "{text}"
    );
    // Neither PEM nor base64; a password without a key.
    assert_eq!(
        fields(&GraphApp::new(TENANT, "app-id", "").with_pfx("not a key at all!", "x")),
        ["credentials.client_certificate_key"]
    );
    let mut lone = GraphApp::new(TENANT, "app-id", "");
    lone.certificate_password = Some("x".into());
    assert_eq!(fields(&lone), ["credentials.client_certificate_key"]);
}

#[cfg(feature = "onedrive")]
#[test]
fn a_sources_config_takes_a_pfx_and_its_password() {
    let config: connector_misc::onedrive::OnedriveConfig =
        connector_core::config::from_json(json!({
            "credentials": {
                "tenant_id": TENANT,
                "client_id": "app-id",
                "client_certificate_key": PFX,
                "client_certificate_password": PFX_PASSWORD,
            },
        }))
        .unwrap();
    assert!(connector_core::ConnectorConfig::validate(&config).is_empty());
    let app = config.app();
    assert!(app.certificate_password.is_some());
    assert!(!format!("{config:?}").contains(PFX_PASSWORD));
    let schema =
        connector_core::config::schema_of::<connector_misc::onedrive::OnedriveConfig>().to_string();
    assert!(schema.contains("client_certificate_password"));
}

// SharePoint's RateLimit headers (learn.microsoft.com, "Avoid getting throttled or blocked in
// SharePoint Online"): once an app has used 80% of its minute's resource units, answers carry
// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds). Nearly spent, the
// client waits for the reset instead of meeting a 429.

#[tokio::test]
async fn a_nearly_spent_sharepoint_budget_is_waited_out_before_the_next_request() {
    let server = server_with_token("tok-1", 1).await;
    let answer = |remaining: &str| {
        ResponseTemplate::new(200)
            .insert_header("RateLimit-Limit", "1200")
            .insert_header("RateLimit-Remaining", remaining)
            .insert_header("RateLimit-Reset", "2")
            .set_body_json(json!({"id": "root"}))
    };
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/low"))
        .respond_with(answer("12"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/sites/plenty"))
        .respond_with(answer("900"))
        .mount(&server)
        .await;
    let graph = client(&server);
    let started = std::time::Instant::now();
    graph
        .get::<Value>(&graph.url("sites/plenty", &[]).unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "900 units left: no wait"
    );
    let started = std::time::Instant::now();
    graph
        .get::<Value>(&graph.url("sites/low", &[]).unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "12 of 1,200 units left: the reset is waited for"
    );
    // A batch's own answer carries them too.
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Limit", "1200")
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", "1")
                .set_body_json(json!({"responses": [
                    {"id": "0", "status": 200, "headers": {}, "body": {"id": "a"}},
                ]})),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let answers = graph
        .batch_get::<Value>(&["sites/a".to_owned()])
        .await
        .unwrap();
    assert_eq!(answers[0].as_ref().unwrap().as_ref().unwrap()["id"], "a");
    assert!(started.elapsed() >= Duration::from_secs(1));
}
