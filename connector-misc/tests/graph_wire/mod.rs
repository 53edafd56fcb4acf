//! The Microsoft Graph wire that the fake Graphs of the tests share (`onedrive_common`, which
//! `sharepoint_common` extends, `teams_common` and `outlook_common`): the identity platform's
//! token endpoint (client credentials), the bearer check, `$batch` (each member answered by the
//! fake's own routes), query pairs, the connector's config and a server with a fake mounted.
//! Each fake keeps its own routes, state and constants.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use serde_json::{Value, json};
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token endpoint's answer when `request` is a token request: a bearer `token` for the
/// client `secret`, `invalid_client` (as Entra ID words it) for another secret; `None` for
/// any other request.
pub fn token_endpoint(request: &Request, secret: &str, token: &str) -> Option<ResponseTemplate> {
    if request.method.as_str() != "POST" || !request.url.path().ends_with("/oauth2/v2.0/token") {
        return None;
    }
    let body = String::from_utf8_lossy(&request.body).into_owned();
    if !body.contains(&format!("client_secret={secret}")) {
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
