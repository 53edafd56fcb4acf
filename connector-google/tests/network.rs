//! The guard against server-side request forgery and the overlap between incremental windows,
//! for both Google sources.
//!
//! Every URL a Google config holds is the tenant's to write: the base URLs and the token
//! endpoint, which a service-account key even carries inside itself (`token_uri`). None of
//! them reaches loopback, intranet or metadata addresses unless the config's `allowed_hosts`
//! names them, on every redirect too; a host's own policy (`Registry::set_network_policy`)
//! replaces the connector's and rules `allowed_hosts` out unless it accepts config hosts.
#![allow(clippy::unwrap_used)] // Tests.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use connector_core::net::NetworkPolicy;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::collect_load;
use connector_core::{Connector, Error, ErrorKind, Registry, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn registry(policy: Option<NetworkPolicy>) -> Registry {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    if let Some(policy) = policy {
        registry.set_network_policy(policy);
    }
    registry
}

/// A Drive or Gmail config of `source` whose every URL, the key's own `token_uri` included,
/// is the wiremock server.
fn config(source: &str, uri: &str, extra: Value) -> Value {
    let mut key = service_account_key();
    key["token_uri"] = json!(format!("{uri}/token"));
    let mut cfg = json!({
        "credentials": {"google_tokens": key.to_string(), "google_primary_admin": ADMIN},
        "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"],
        "specific_user_emails": "alice@example.com",
    });
    let base = if source == "gmail" {
        "gmail_base_url"
    } else {
        cfg["my_drive_emails"] = json!("alice@example.com");
        cfg["sheets_base_url"] = json!(uri);
        "drive_base_url"
    };
    cfg[base] = json!(uri);
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
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
}

/// `config` without `allowed_hosts`.
fn unallowed(source: &str, uri: &str) -> Value {
    let mut cfg = config(source, uri, json!({}));
    cfg.as_object_mut().unwrap().remove("allowed_hosts");
    cfg
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_drive(
        &server,
        vec![DriveFile::new("a1", "alice@example.com", 1)],
        &[],
        10,
    )
    .await;
    mount_gmail(
        &server,
        vec![(
            "alice@example.com",
            vec![thread(
                "t1",
                vec![plain_message(
                    "m1",
                    "t1",
                    1,
                    "bob@example.com",
                    "Hi",
                    "hello",
                )],
            )],
        )],
        vec![],
        10,
    )
    .await;
    server
}

#[tokio::test]
async fn a_loopback_google_endpoint_is_denied_under_public_only_and_reached_when_allowed() {
    for source in ["google_drive", "gmail"] {
        let server = server().await;
        let cfg = config(source, &server.uri(), json!({}));

        let guarded = registry(Some(NetworkPolicy::public_only()));
        let connector = guarded.build(source, cfg.clone()).unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        assert!(
            server.received_requests().await.unwrap().is_empty(),
            "{source}: no request reached the server, the key's token endpoint neither"
        );

        let allowed = registry(Some(
            NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap(),
        ));
        let connector = allowed.build(source, cfg).unwrap();
        connector.check().await.unwrap();
        assert_eq!(load(&connector).await.unwrap(), 1, "{source}");
    }
}

#[tokio::test]
async fn a_loopback_google_endpoint_is_denied_unless_allowed_hosts_names_it() {
    for source in ["google_drive", "gmail"] {
        let server = server().await;
        let connector = registry(None)
            .build(source, unallowed(source, &server.uri()))
            .unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        assert!(
            server.received_requests().await.unwrap().is_empty(),
            "{source}: no request reached the server, the key's token endpoint neither"
        );

        let connector = registry(None)
            .build(source, config(source, &server.uri(), json!({})))
            .unwrap();
        connector.check().await.unwrap();
        assert_eq!(load(&connector).await.unwrap(), 1, "{source}");

        // A host's policy that accepts config hosts is widened by them.
        let host = registry(Some(NetworkPolicy::public_only().with_config_hosts(true)));
        let connector = host
            .build(source, config(source, &server.uri(), json!({})))
            .unwrap();
        assert_eq!(load(&connector).await.unwrap(), 1, "{source}");
        let connector = host
            .build(source, unallowed(source, &server.uri()))
            .unwrap();
        assert_denied(&connector.check().await.unwrap_err());
    }
}

#[tokio::test]
async fn a_redirect_from_an_allowed_endpoint_to_loopback_is_denied() {
    for source in ["google_drive", "gmail"] {
        let server = server().await;
        let port = server.address().port();
        // The allowed name answers everything, the token endpoint included, with a redirect
        // to an address nobody allowed.
        Mock::given(path_regex(".*"))
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("Location", format!("http://127.0.0.1:{port}/").as_str()),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        let mut cfg = unallowed(source, &format!("http://localhost:{port}"));
        cfg["allowed_hosts"] = json!(["localhost"]);

        let connector = registry(None).build(source, cfg).unwrap();
        assert_denied(&connector.check().await.unwrap_err());
        assert_denied(&load(&connector).await.unwrap_err());
        let requests = server.received_requests().await.unwrap();
        assert!(
            !requests.is_empty(),
            "{source}: the allowed endpoint was asked"
        );
        assert!(
            requests.iter().all(|r| r
                .headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.starts_with("localhost"))),
            "{source}: the redirect was not followed"
        );
    }
}

/// Drive's and Gmail's incremental listings are searches whose index lags writes: each
/// source asks for an overlap (`time_buffer_seconds`, RAGFlow's knob, now read rather than
/// reported as ignored), and an incremental run starts that long before the last end.
#[tokio::test]
async fn incremental_runs_start_the_sources_overlap_before_the_last_end() {
    let server = server().await;
    for (source, default) in [("google_drive", 300), ("gmail", 60)] {
        let c = registry(None)
            .build(source, config(source, &server.uri(), json!({})))
            .unwrap();
        assert_eq!(c.min_overlap(), Duration::from_secs(default), "{source}");
        let day = json!({"time_buffer_seconds": "86400"});
        let c = registry(None)
            .build(source, config(source, &server.uri(), day.clone()))
            .unwrap();
        assert_eq!(c.min_overlap(), Duration::from_secs(86_400), "{source}");
        let parsed = match source {
            "gmail" => {
                connector_core::config::parse::<connector_google::GmailConfig>(config(
                    source,
                    &server.uri(),
                    day,
                ))
                .unwrap()
                .ignored
            }
            _ => {
                connector_core::config::parse::<connector_google::GoogleDriveConfig>(config(
                    source,
                    &server.uri(),
                    day,
                ))
                .unwrap()
                .ignored
            }
        };
        assert!(
            parsed.iter().all(|i| i.path != "time_buffer_seconds"),
            "{parsed:?}"
        );
    }
    let c = registry(None)
        .build(
            "google_drive",
            config("google_drive", &server.uri(), json!({})),
        )
        .unwrap();
    let (docs, _) = collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 1);
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let t = |m: u32| time(m) + chrono::Duration::hours(1);
    let sync = |now| {
        Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(store.clone())
            .at(now)
    };
    sync(t(0)).run(SyncMode::Full).await.unwrap();
    let next = sync(t(30)).run(SyncMode::Incremental).await.unwrap();
    assert_eq!(
        next.window.unwrap().start,
        t(0) - chrono::Duration::seconds(300)
    );
}
