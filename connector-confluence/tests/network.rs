//! The guard against server-side request forgery: a tenant who sets `wiki_base` (a Data Center
//! site, a Cloud site's gateway) cannot make the host reach loopback, intranet or metadata
//! addresses unless the config's `allowed_hosts` names them, on every redirect too; a host's
//! own policy (`Registry::set_network_policy`) replaces the connector's and rules
//! `allowed_hosts` out unless it accepts config hosts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::sync::Arc;

use common::{Fake, FakePage, at};
use connector_core::net::NetworkPolicy;
use connector_core::{Connector, Error, ErrorKind, Registry, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, ResponseTemplate};

/// A registry that leaves each connector its own policy.
fn open_registry() -> Registry {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry
}

fn registry(policy: NetworkPolicy) -> Registry {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.set_network_policy(policy);
    registry
}

async fn load(c: &Arc<dyn Connector>) -> Result<usize, Error> {
    let mut s = c.as_load().unwrap().load(SyncContext::new());
    let mut n = 0;
    while let Some(page) = s.next().await {
        n += page?.documents.len();
    }
    Ok(n)
}

fn assert_denied(err: &Error) {
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1"), "names the host: {text}");
    assert!(
        text.contains("allowed_hosts"),
        "names the config field: {text}"
    );
    assert!(
        text.contains("--allow-host"),
        "says how to allow it: {text}"
    );
}

#[tokio::test]
async fn a_loopback_site_is_denied_under_public_only_and_reached_when_allowed() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        fake.add(FakePage::new(1, "ENG", "Home", "<p>hello</p>", at(1)));
        let config = fake.config(json!({}));

        let guarded = registry(NetworkPolicy::public_only());
        let connector = guarded.build("confluence", config.clone()).unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        assert!(
            fake.requests().await.is_empty(),
            "no request reached the site"
        );

        let allowed = registry(NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap());
        let connector = allowed.build("confluence", config).unwrap();
        connector.check().await.unwrap();
        assert_eq!(load(&connector).await.unwrap(), 1, "cloud={cloud}");
    }
}

/// The fake's config without `allowed_hosts`.
fn unallowed(fake: &common::Fake) -> Value {
    let mut config = fake.config(json!({}));
    config.as_object_mut().unwrap().remove("allowed_hosts");
    config
}

#[tokio::test]
async fn a_loopback_site_is_denied_unless_allowed_hosts_names_it() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        fake.add(FakePage::new(1, "ENG", "Home", "<p>hello</p>", at(1)));

        let connector = open_registry()
            .build("confluence", unallowed(&fake))
            .unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        assert!(
            fake.requests().await.is_empty(),
            "cloud={cloud}: no request reached the site"
        );

        let connector = open_registry()
            .build("confluence", fake.config(json!({})))
            .unwrap();
        connector.check().await.unwrap();
        assert_eq!(load(&connector).await.unwrap(), 1, "cloud={cloud}");
    }
}

#[tokio::test]
async fn a_host_policy_that_accepts_config_hosts_is_widened_by_allowed_hosts() {
    let fake = Fake::start(true).await;
    fake.add(FakePage::new(1, "ENG", "Home", "<p>hello</p>", at(1)));
    let host = registry(NetworkPolicy::public_only().with_config_hosts(true));
    let connector = host.build("confluence", fake.config(json!({}))).unwrap();
    assert_eq!(load(&connector).await.unwrap(), 1);
    let connector = host.build("confluence", unallowed(&fake)).unwrap();
    assert_denied(&connector.check().await.unwrap_err());
}

#[tokio::test]
async fn a_redirect_from_an_allowed_site_to_loopback_is_denied() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        fake.add(FakePage::new(1, "ENG", "Home", "<p>hello</p>", at(1)));
        let port = fake.server.address().port();
        // The allowed name answers everything with a redirect to an address nobody allowed.
        Mock::given(path_regex(".*"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("http://127.0.0.1:{port}/").as_str()),
            )
            .with_priority(1)
            .mount(&fake.server)
            .await;
        let mut config = unallowed(&fake);
        config["wiki_base"] = json!(format!("http://localhost:{port}{}", fake.prefix()));
        config["allowed_hosts"] = json!(["localhost"]);

        let connector = open_registry().build("confluence", config).unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        let requests = fake.requests().await;
        assert!(!requests.is_empty(), "the allowed site was asked");
        assert!(
            requests.iter().all(|r| r
                .headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.starts_with("localhost"))),
            "cloud={cloud}: the redirect was not followed"
        );
    }
}
