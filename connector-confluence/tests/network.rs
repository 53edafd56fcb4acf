//! The host's network policy (the guard against server-side request forgery): a tenant who
//! sets `wiki_base` (a Data Center site, a Cloud site's gateway) cannot make the host reach
//! loopback, intranet or metadata addresses unless the host allows them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::sync::Arc;

use common::{Fake, FakePage, at};
use connector_core::net::NetworkPolicy;
use connector_core::{Connector, Error, ErrorKind, Registry, SyncContext};
use futures::StreamExt;
use serde_json::json;

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
