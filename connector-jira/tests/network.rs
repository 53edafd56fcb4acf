//! The network guard: `base_url` is set by whoever writes the config, so the connector reaches
//! no private, loopback or link-local address (the cloud metadata service) unless the
//! config's `allowed_hosts` or the host's policy (`Registry::set_network_policy`) allows it.
//! The mock Jira listens on loopback, which stands for any such address.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use connector_core::net::NetworkPolicy;
use connector_core::{ErrorKind, Registry};
use serde_json::{Value, json};

/// A config of the mock (a Server, by `jql_query`, so `check` makes no project lookup).
fn config(uri: &str, allowed: &[&str]) -> Value {
    json!({
        "base_url": uri,
        "jql_query": "project = ENG",
        "is_cloud": false,
        "allowed_hosts": allowed,
        "credentials": { "jira_api_token": common::TOKEN },
    })
}

fn registry(policy: Option<NetworkPolicy>) -> Registry {
    let mut registry = Registry::new();
    connector_jira::register(&mut registry);
    if let Some(policy) = policy {
        registry.set_network_policy(policy);
    }
    registry
}

async fn check(registry: &Registry, config: Value) -> connector_core::Result<()> {
    registry.build("jira", config)?.check().await
}

fn assert_denied(result: connector_core::Result<()>) {
    let err = result.expect_err("a loopback address is denied");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn a_loopback_site_is_denied_unless_the_config_allows_it() {
    let (server, _) = common::server_mock(common::numbered(1, false), 10).await;
    let uri = server.uri();
    let own = registry(None);
    let err = check(&own, config(&uri, &[])).await;
    assert_denied(err);
    // Nothing reached the mock.
    assert!(server.received_requests().await.unwrap().is_empty());
    check(&own, config(&uri, &[common::LOOPBACK]))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_hosts_public_only_policy_overrules_the_config() {
    let (server, _) = common::server_mock(common::numbered(1, false), 10).await;
    let uri = server.uri();
    // A multi-tenant host: a tenant's `allowed_hosts` does not widen its policy.
    let guarded = registry(Some(NetworkPolicy::public_only()));
    assert_denied(check(&guarded, config(&uri, &[common::LOOPBACK])).await);
    // The host allows the address itself.
    let allowing = registry(Some(
        NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap(),
    ));
    check(&allowing, config(&uri, &[])).await.unwrap();
    // A command line run by the config's author lets the config widen it.
    let own_cli = registry(Some(NetworkPolicy::public_only().with_config_hosts(true)));
    check(&own_cli, config(&uri, &[common::LOOPBACK]))
        .await
        .unwrap();
}

#[test]
fn an_allowed_host_that_is_none_is_refused_by_path() {
    let err = registry(None)
        .build("jira", config("https://jira.example.com", &["10.0.0.0/99"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["allowed_hosts[0]"]);
}
