//! The Microsoft Graph wire that the fake Graphs of the tests share (`onedrive_common`, which
//! `sharepoint_common` extends, `teams_common` and `outlook_common`): the identity platform's
//! token endpoint (client credentials), the bearer check, `$batch` (each member answered by the
//! fake's own routes), query pairs, the connector's config and a server with a fake mounted.
//! Each fake keeps its own routes, state and constants.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use serde_json::{Value, json};
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The private key of the test certificate (`fixtures/graph/app-cert.pem`).
pub const CERT_KEY: &str = include_str!("../fixtures/graph/app-cert-key.pem");
/// The SHA-1 thumbprint of the test certificate.
pub const CERT_THUMBPRINT: &str = "D1:77:A5:DD:82:42:74:32:68:70:0C:B9:E7:ED:FF:11:C3:38:E5:C1";
/// A line from the middle of [`CERT_KEY`]: it must never be printed, logged or stored (the
/// whole key contains it, so a leak of the key or of a piece of it shows).
pub fn cert_key_line() -> &'static str {
    CERT_KEY.lines().nth(5).unwrap()
}
/// The `client_assertion_type` of a certificate's token request (RFC 7523), form-encoded.
const ASSERTION_TYPE: &str =
    "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

/// The `credentials` of a Graph config with the test certificate instead of a client secret,
/// plus the fields of `more` (SharePoint's `site_url`).
pub fn certificate_credentials(tenant: &str, more: &Value) -> Value {
    let mut credentials = json!({"tenant_id": tenant, "client_id": "app-id",
        "client_certificate_key": CERT_KEY, "client_certificate_thumbprint": CERT_THUMBPRINT});
    if let (Some(map), Some(more)) = (credentials.as_object_mut(), more.as_object()) {
        map.extend(more.clone());
    }
    credentials
}

/// Whether a token request's form carries a client assertion (a JWT: three base64url parts)
/// and not the key it was signed with.
fn has_assertion(body: &str) -> bool {
    let key_sent = CERT_KEY
        .lines()
        .any(|l| l.len() > 20 && body.contains(&l.replace('+', "%2B").replace('/', "%2F")));
    assert!(
        !key_sent,
        "the certificate's key was sent to the token endpoint"
    );
    body.contains(ASSERTION_TYPE)
        && body.split('&').any(|pair| {
            pair.strip_prefix("client_assertion=")
                .is_some_and(|jwt| jwt.split('.').count() == 3 && !jwt.contains(".."))
        })
}

/// The token endpoint's answer when `request` is a token request: a bearer `token` for the
/// client `secret` or a client assertion, `invalid_client` (as Entra ID words it) for another
/// secret; `None` for any other request.
pub fn token_endpoint(request: &Request, secret: &str, token: &str) -> Option<ResponseTemplate> {
    if request.method.as_str() != "POST" || !request.url.path().ends_with("/oauth2/v2.0/token") {
        return None;
    }
    let body = String::from_utf8_lossy(&request.body).into_owned();
    if !body.contains(&format!("client_secret={secret}")) && !has_assertion(&body) {
        return Some(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215]})));
    }
    Some(ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})))
}

/// Whether `request` carries `Authorization: Bearer {token}`.
pub fn bearer(request: &Request, token: &str) -> bool {
    request
        .headers
        .get("authorization")
        .is_some_and(|v| v.to_str().unwrap_or_default() == format!("Bearer {token}"))
}

/// The query pairs of `url`, decoded.
pub fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `s` percent-decoded (lossy).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The answer to a `$batch` POST: each member of the body's `requests` answered by `member`
/// (the member as sent, its URL on `base`, its query pairs), each response with
/// `content_type`.
pub fn batch(
    request: &Request,
    base: &str,
    content_type: &str,
    mut member: impl FnMut(&Value, &Url, &[(String, String)]) -> (u16, Value),
) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let mut responses = Vec::new();
    for r in body["requests"].as_array().unwrap() {
        let url = Url::parse(&format!("{base}/v1.0/{}", r["url"].as_str().unwrap())).unwrap();
        let (status, json) = member(r, &url, &query(&url));
        responses.push(json!({"id": r["id"], "status": status,
            "headers": {"Content-Type": content_type}, "body": json}));
    }
    ResponseTemplate::new(200).set_body_json(json!({"responses": responses}))
}

/// A server answering every request with `fake`; `base` learns the server's URI first (the
/// fake writes its links on it).
pub async fn start(fake: impl Respond + 'static, base: impl FnOnce(String)) -> MockServer {
    let server = MockServer::start().await;
    base(server.uri());
    Mock::given(wiremock::matchers::any())
        .respond_with(fake)
        .mount(&server)
        .await;
    server
}

/// A Graph connector's config on `server` (token endpoint and Graph both there, loopback
/// hosts allowed) with the client credentials `tenant` and `secret`, then the top-level fields
/// of each of `layers` in turn.
pub fn config(server: &str, tenant: &str, secret: &str, layers: &[&Value]) -> Value {
    let mut config = json!({
        "credentials": {"tenant_id": tenant, "client_id": "app-id", "client_secret": secret},
        "authority_host": server,
        "graph_url": server,
        "allowed_hosts": ["127.0.0.1", "localhost"],
    });
    for layer in layers {
        if let (Some(map), Some(layer)) = (config.as_object_mut(), layer.as_object()) {
            for (k, v) in layer {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    config
}

/// `secrets` are in no checkpoint of `connector`'s checkpointed load (one after each page)
/// and in nothing a full sync leaves in its state store (the checkpoint carried to the next
/// run, failed items) or hands its sink.
///
/// # Panics
/// When a secret shows, or the load or the sync fails.
pub async fn secrets_not_in_checkpoints(
    connector: std::sync::Arc<dyn connector_core::Connector>,
    secrets: &[&str],
) {
    use connector_core::sink::MemorySink;
    use connector_core::state::{MemoryStateStore, StateStore as _};
    use connector_core::sync::{SyncMode, Syncer};

    let pages = connector_core::testkit::collect_checkpointed(connector.as_ref(), None).await;
    assert!(!pages.is_empty(), "the checkpointed load read nothing");
    let mut seen: Vec<String> = pages
        .iter()
        .map(|(batch, checkpoint)| format!("{checkpoint:?} {:?}", batch.failures))
        .collect();
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let report = Syncer::new(connector)
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert!(report.delivered > 0, "the sync delivered nothing");
    seen.push(format!("{report:?} {:?}", store.load().await.unwrap()));
    seen.push(format!("{:?}", sink.documents()));
    for text in seen {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret was stored: {text}");
        }
    }
}

/// The credential checks each Graph source's conformance file runs beside core's
/// `http_checks!`: the client secret in no checkpoint, and a `certificate` module where the
/// certificate key (`client_certificate_key`) never shows in an error, `Debug`, log line,
/// checkpoint or stored state. `fake` starts the source's fake, `build(uri, json)` builds its
/// connector, `credentials` is what the source needs in `credentials` beside the certificate.
/// Names resolve where the macro is called (`graph_wire`, `TENANT` from the source's fake).
#[allow(unused_macros)]
macro_rules! credential_checks {
    (fake: $fake:expr, build: $build:path, secret: $secret:expr, credentials: $more:expr $(,)?) => {
        /// The client secret is in no checkpoint, nothing the state store keeps and no document.
        #[test]
        fn secret_is_in_no_checkpoint() {
            connector_core::testkit::block_on(async {
                let server = $fake;
                graph_wire::secrets_not_in_checkpoints(
                    $build(&server.uri(), serde_json::json!({})),
                    &[$secret],
                )
                .await;
            });
        }

        /// Certificate credentials (`client_certificate_key`, a PEM private key, and its
        /// thumbprint): the key never shows in an error, `Debug`, log line, checkpoint or
        /// stored state.
        mod certificate {
            use super::*;

            fn build_certificate(uri: &str) -> std::sync::Arc<dyn connector_core::Connector> {
                let credentials = graph_wire::certificate_credentials(TENANT, &$more);
                $build(uri, serde_json::json!({"credentials": credentials}))
            }

            connector_core::http_checks! {
                fake: $fake,
                build: build_certificate,
                checks: [secret_never_leaks(graph_wire::cert_key_line())],
            }

            #[test]
            fn key_is_in_no_checkpoint() {
                connector_core::testkit::block_on(async {
                    let server = $fake;
                    graph_wire::secrets_not_in_checkpoints(
                        build_certificate(&server.uri()),
                        &[graph_wire::cert_key_line(), graph_wire::CERT_KEY],
                    )
                    .await;
                });
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use credential_checks;

/// A full run of `c` at `at` with prune (forced past its guard: one drive or mailbox is most
/// of the documents), into a fresh sink.
pub async fn run_with_prune(
    c: &std::sync::Arc<dyn connector_core::Connector>,
    store: &connector_core::state::MemoryStateStore,
    at: chrono::DateTime<chrono::Utc>,
) -> (
    connector_core::sink::MemorySink,
    connector_core::Result<connector_core::sync::SyncReport>,
) {
    let sink = connector_core::sink::MemorySink::new();
    let report = connector_core::sync::Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(at)
        .options(
            connector_core::sync::SyncOptions::default()
                .prune(true)
                .force_prune(true),
        )
        .run(connector_core::sync::SyncMode::Full)
        .await;
    (sink, report)
}

/// The run with prune while the drive or mailbox of `address` answers a passing 404 (its user
/// still in the tenant): the prune is refused naming `address`, and nothing is deleted.
pub async fn a_passing_404_refuses_the_prune(
    c: &std::sync::Arc<dyn connector_core::Connector>,
    store: &connector_core::state::MemoryStateStore,
    at: chrono::DateTime<chrono::Utc>,
    address: &str,
) {
    let (sink, report) = run_with_prune(c, store, at).await;
    let e = report.expect_err("the prune is refused");
    assert!(e.to_string().contains(address), "{e}");
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
}
