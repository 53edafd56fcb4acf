//! Where requests may go (the guard against server-side request forgery, issue 16): `url` is
//! the tenant's, so loopback, intranet and metadata addresses are denied unless the config's
//! `allowed_hosts` names them, on every redirect too; a host's own policy
//! (`Registry::set_network_policy`) replaces the connector's and rules `allowed_hosts` out
//! unless it accepts config hosts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{FakeApi, Style, cursor_config};
use connector_core::net::NetworkPolicy;
use connector_core::{Connector, Error, ErrorKind, Registry, SyncContext};
use connector_generic_rest::rest_api::{RestApiConfig, RestApiConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn registry(policy: Option<NetworkPolicy>) -> Registry {
    let mut registry = Registry::new();
    connector_generic_rest::register(&mut registry);
    if let Some(policy) = policy {
        registry.set_network_policy(policy);
    }
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
        text.contains("allowed_hosts"),
        "says how to allow it: {text}"
    );
    assert!(
        text.contains("--allow-host"),
        "says how to allow it: {text}"
    );
}

async fn api(server: &MockServer, n: usize) -> Arc<std::sync::atomic::AtomicUsize> {
    let api = FakeApi::new(n, Style::Cursor).bearer();
    let hits = api.hits.clone();
    api.mount(server, "/v1/articles").await;
    hits
}

fn allowing(mut config: Value, hosts: &[&str]) -> Value {
    config["allowed_hosts"] = json!(hosts);
    config
}

#[tokio::test]
async fn a_loopback_url_is_denied_by_default() {
    let server = MockServer::start().await;
    let hits = api(&server, 5).await;
    let connector = registry(None)
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
async fn the_configs_allowed_hosts_reach_it() {
    let server = MockServer::start().await;
    api(&server, 7).await;
    let config = allowing(cursor_config(&server.uri()), &["127.0.0.0/8"]);
    let connector = registry(None).build("rest_api", config).unwrap();
    connector.check().await.unwrap();
    assert_eq!(load(&connector).await.unwrap(), 7);
}

#[tokio::test]
async fn a_hosts_public_only_policy_rules_the_configs_allowed_hosts_out() {
    let server = MockServer::start().await;
    let hits = api(&server, 3).await;
    let config = allowing(cursor_config(&server.uri()), &["127.0.0.1"]);

    let strict = registry(Some(NetworkPolicy::public_only()));
    let connector = strict.build("rest_api", config.clone()).unwrap();
    assert_denied(&connector.check().await.unwrap_err(), "127.0.0.1");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // The host's own allow list reaches it, whatever the config says.
    let host_allows = registry(Some(
        NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap(),
    ));
    let connector = host_allows
        .build("rest_api", cursor_config(&server.uri()))
        .unwrap();
    assert_eq!(load(&connector).await.unwrap(), 3);

    // A host that accepts config hosts (a command line run by the config's author).
    let accepting = registry(Some(NetworkPolicy::public_only().with_config_hosts(true)));
    let connector = accepting.build("rest_api", config).unwrap();
    assert_eq!(load(&connector).await.unwrap(), 3);
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_loopback_is_denied() {
    let server = MockServer::start().await;
    let port = server.address().port();
    // The allowed name answers with a redirect to an address nobody allowed.
    Mock::given(path("/v1/start"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("http://127.0.0.1:{port}/v1/articles?limit=3").as_str(),
        ))
        .mount(&server)
        .await;
    let hits = api(&server, 5).await;

    for policy in [
        None,
        Some(NetworkPolicy::public_only().allow(["localhost"]).unwrap()),
    ] {
        let registry = registry(policy.clone());
        let base = format!("http://localhost:{port}");
        let mut config = allowing(cursor_config(&base), &["localhost"]);
        config["url"] = json!(format!("{base}/v1/start"));
        let connector = registry.build("rest_api", config).unwrap();
        assert_denied(&load(&connector).await.unwrap_err(), "127.0.0.1");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "{policy:?}: the redirect was not followed"
        );

        // The same server reached by its allowed name is fine.
        let direct = registry
            .build("rest_api", allowing(cursor_config(&base), &["localhost"]))
            .unwrap();
        assert_eq!(load(&direct).await.unwrap(), 5);
        hits.store(0, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_config_built_in_code_takes_the_policy_from_with_network_policy() {
    let server = MockServer::start().await;
    api(&server, 3).await;
    let config: RestApiConfig =
        connector_core::config::from_json(allowing(cursor_config(&server.uri()), &["127.0.0.1"]))
            .unwrap();
    let open: Arc<dyn Connector> = Arc::new(RestApiConnector::new(config.clone()).unwrap());
    assert_eq!(load(&open).await.unwrap(), 3);

    let guarded =
        RestApiConnector::new(config.with_network_policy(NetworkPolicy::public_only())).unwrap();
    assert_denied(&guarded.check().await.unwrap_err(), "127.0.0.1");
}

#[test]
fn allowed_hosts_are_checked_and_the_hosts_policy_is_no_config_field() {
    let registry = registry(None);
    let config = allowing(
        cursor_config("https://api.example.com"),
        &["wiki.corp.example", "http://10.0.0.1/", "10.0.0.0/99"],
    );
    let err = registry.build("rest_api", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("allowed_hosts[1]") && text.contains("allowed_hosts[2]"),
        "{text}"
    );
    assert!(!text.contains("allowed_hosts[0]"), "{text}");

    let schema = registry.schema("rest_api").unwrap();
    let properties = &schema["properties"];
    assert!(properties.get("allowed_hosts").is_some(), "{schema}");
    assert!(properties.get("host_network").is_none(), "{schema}");
    let mut config = cursor_config("https://api.example.com");
    config["host_network"] = json!("any");
    let err = registry.build("rest_api", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
