//! The host's network policy (the guard against server-side request forgery): a tenant who
//! sets `url` cannot make the host fetch loopback, intranet or metadata addresses, not even
//! through a redirect, unless the host allows them (issue 16).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{FakeApi, Style, cursor_config};
use connector_core::http::NetworkPolicy;
use connector_core::{Connector, Error, ErrorKind, Registry, SyncContext};
use connector_generic_rest::rest_api::{RestApiConfig, RestApiConnector};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn registry(policy: NetworkPolicy) -> Registry {
    let mut registry = Registry::new();
    connector_generic_rest::register(&mut registry);
    registry.set_network_policy(policy);
    registry
}

/// Every document of a full load, or the error that ended it.
async fn load(c: &Arc<dyn Connector>) -> Result<usize, Error> {
    let mut s = c.as_load().expect("load").load(SyncContext::new());
    let mut n = 0;
    while let Some(page) = s.next().await {
        n += page?.documents.len();
    }
    Ok(n)
}

fn assert_denied(err: &Error, address: &str) {
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(text.contains(address), "names the address: {text}");
    assert!(
        text.contains("--allow-host"),
        "says how to allow it: {text}"
    );
}

#[tokio::test]
async fn a_loopback_url_is_denied_under_public_only() {
    let server = MockServer::start().await;
    let api = FakeApi::new(5, Style::Cursor).bearer();
    let hits = api.hits.clone();
    api.mount(&server, "/v1/articles").await;

    let registry = registry(NetworkPolicy::public_only());
    let connector = registry
        .build("rest_api", cursor_config(&server.uri()))
        .unwrap();
    assert_denied(&connector.check().await.unwrap_err(), "127.0.0.1");
    assert_denied(&load(&connector).await.unwrap_err(), "127.0.0.1");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the server"
    );
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_loopback_is_denied() {
    let server = MockServer::start().await;
    let port = server.address().port();
    // The allowed name answers with a redirect to an address the policy denies.
    Mock::given(path("/v1/start"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("http://127.0.0.1:{port}/v1/articles?limit=3").as_str(),
        ))
        .mount(&server)
        .await;
    let api = FakeApi::new(5, Style::Cursor).bearer();
    let hits = api.hits.clone();
    api.mount(&server, "/v1/articles").await;

    let registry = registry(NetworkPolicy::public_only().allow(["localhost"]).unwrap());
    let mut config = cursor_config(&format!("http://localhost:{port}"));
    config["url"] = json!(format!("http://localhost:{port}/v1/start"));
    let connector = registry.build("rest_api", config).unwrap();
    assert_denied(&load(&connector).await.unwrap_err(), "127.0.0.1");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );

    // The same host reached by its allowed name is fine.
    let direct = registry
        .build(
            "rest_api",
            cursor_config(&format!("http://localhost:{port}")),
        )
        .unwrap();
    assert_eq!(load(&direct).await.unwrap(), 5);
}

#[tokio::test]
async fn an_allowed_address_is_reached() {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;

    let registry = registry(NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap());
    let connector = registry
        .build("rest_api", cursor_config(&server.uri()))
        .unwrap();
    connector.check().await.unwrap();
    assert_eq!(load(&connector).await.unwrap(), 7);
}

#[tokio::test]
async fn a_config_built_in_code_takes_the_policy_from_with_network_policy() {
    let server = MockServer::start().await;
    FakeApi::new(3, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let config: RestApiConfig =
        connector_core::config::from_json(cursor_config(&server.uri())).unwrap();

    let guarded = RestApiConnector::new(
        config
            .clone()
            .with_network_policy(NetworkPolicy::public_only()),
    )
    .unwrap();
    assert_denied(&guarded.check().await.unwrap_err(), "127.0.0.1");

    // The default reaches everything, as before.
    let open: Arc<dyn Connector> = Arc::new(RestApiConnector::new(config).unwrap());
    assert_eq!(load(&open).await.unwrap(), 3);
}

#[test]
fn the_policy_is_no_config_field() {
    let registry = registry(NetworkPolicy::any());
    let schema = registry.schema("rest_api").unwrap().to_string();
    assert!(!schema.contains("\"network\""), "{schema}");
    // A tenant cannot widen (or set) it from the config.
    let mut config = cursor_config("https://api.example.com");
    config["network"] = json!("any");
    let err = registry.build("rest_api", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
