//! The conformance kit for both sources, against wiremock fixtures: a Workspace with two
//! users (one per directory page), My Drive files and a shared drive over pages of three; two
//! mailboxes with threads over pages of two.
#![cfg(any(feature = "google_drive", feature = "gmail"))]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use connector_core::testkit::Fixture;
use connector_core::{Connector, Registry, TimeWindow};
use serde_json::{Value, json};
use wiremock::MockServer;

fn build(source: &str, uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut cfg = json!({
        "credentials": {"google_tokens": service_account_key(), "google_primary_admin": ADMIN},
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"],
    });
    let base = if source == "gmail" {
        "gmail_base_url"
    } else {
        "drive_base_url"
    };
    cfg[base] = json!(uri);
    if source != "gmail" {
        cfg["sheets_base_url"] = json!(uri);
    }
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    registry.build(source, cfg).expect("a valid config")
}

fn secret() -> String {
    // A line from the middle of the private key: it must never be printed.
    TEST_KEY.lines().nth(5).unwrap_or_default().to_owned()
}

#[cfg(feature = "google_drive")]
struct DriveFixture {
    server: MockServer,
    malformed: MockServer,
}

#[cfg(feature = "google_drive")]
fn drive_files() -> Vec<DriveFile> {
    vec![
        DriveFile::new("a1", "alice@example.com", 1),
        DriveFile::new("a2", "alice@example.com", 2).mime("application/vnd.google-apps.document"),
        DriveFile::new("a3", "alice@example.com", 3),
        DriveFile::new("a4", "alice@example.com", 4),
        DriveFile::new("b1", "bob@example.com", 5),
        DriveFile::new("d1", ADMIN, 6).in_drive("0AD1"),
        DriveFile::new("d2", ADMIN, 7).in_drive("0AD1"),
    ]
}

/// Every My Drive (with each user's files shared with them) and every shared drive.
#[cfg(feature = "google_drive")]
fn drive_scope() -> Value {
    json!({"include_my_drives": true, "include_shared_drives": true})
}

#[cfg(feature = "google_drive")]
async fn drive_server(files: Vec<DriveFile>) -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com", "bob@example.com"], 1).await;
    mount_drive(&server, files, &["0AD1"], 3).await;
    server
}

#[cfg(feature = "google_drive")]
#[async_trait]
impl Fixture for DriveFixture {
    async fn setup() -> Self {
        let mut bad = drive_files();
        bad[2].size = Some(1 << 40);
        Self {
            server: drive_server(drive_files()).await,
            malformed: drive_server(bad).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build("google_drive", &self.server.uri(), drive_scope())
    }

    fn secret(&self) -> Option<String> {
        Some(secret())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build("google_drive", &self.malformed.uri(), drive_scope()),
            Some("https://drive.google.com/file/d/a3/view".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(time(2), time(6)).ok()?;
        Some((
            window,
            vec![
                "https://docs.google.com/document/d/a2/edit".to_owned(),
                "https://drive.google.com/file/d/a3/view".to_owned(),
                "https://drive.google.com/file/d/a4/view".to_owned(),
                "https://drive.google.com/file/d/b1/view".to_owned(),
            ],
        ))
    }
}

#[cfg(feature = "google_drive")]
connector_core::conformance_tests!(google_drive_conformance, DriveFixture);

#[cfg(feature = "gmail")]
struct GmailFixture {
    server: MockServer,
    malformed: MockServer,
}

#[cfg(feature = "gmail")]
fn mailboxes(bad: bool) -> Vec<(&'static str, Vec<Value>)> {
    let t = |n: u32, minute: u32| {
        let id = format!("t{n}");
        let mut m = plain_message(
            &format!("m{n}"),
            &id,
            minute,
            "x@example.com",
            &format!("Subject {n}"),
            &format!("Body {n}"),
        );
        if bad && n == 3 {
            m["payload"]["body"]["data"] = json!("@@@");
        }
        thread(&id, vec![m])
    };
    vec![
        (
            "alice@example.com",
            vec![t(1, 1), t(2, 2), t(3, 3), t(4, 4)],
        ),
        ("bob@example.com", vec![t(5, 5), t(6, 6)]),
    ]
}

#[cfg(feature = "gmail")]
async fn gmail_server(bad: bool) -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com", "bob@example.com"], 1).await;
    mount_gmail(&server, mailboxes(bad), vec![], 2).await;
    server
}

#[cfg(feature = "gmail")]
#[async_trait]
impl Fixture for GmailFixture {
    async fn setup() -> Self {
        Self {
            server: gmail_server(false).await,
            malformed: gmail_server(true).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build("gmail", &self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(secret())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build("gmail", &self.malformed.uri(), json!({})),
            Some("gmail:alice@example.com:t3".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(time(2), time(5)).ok()?;
        Some((
            window,
            (2..5)
                .map(|n| format!("gmail:alice@example.com:t{n}"))
                .collect(),
        ))
    }
}

#[cfg(feature = "gmail")]
connector_core::conformance_tests!(gmail_conformance, GmailFixture);

/// Core's HTTP checks on Google Drive (token endpoint, directory and Drive on one fake).
#[cfg(feature = "google_drive")]
mod drive_http {
    use super::*;

    fn connector(uri: &str) -> Arc<dyn Connector> {
        build("google_drive", uri, drive_scope())
    }

    connector_core::http_checks! {
        fake: drive_server(drive_files()).await,
        build: connector,
        checks: [
            retry_after_is_waited_out,
            server_error_storm_is_survived(3),
            unauthorized_fails_fast,
            secret_never_leaks(&secret()),
        ],
    }
}

/// Core's HTTP checks on Gmail.
#[cfg(feature = "gmail")]
mod gmail_http {
    use super::*;

    fn connector(uri: &str) -> Arc<dyn Connector> {
        build("gmail", uri, json!({}))
    }

    connector_core::http_checks! {
        fake: gmail_server(false).await,
        build: connector,
        checks: [
            retry_after_is_waited_out,
            server_error_storm_is_survived(3),
            unauthorized_fails_fast,
            secret_never_leaks(&secret()),
        ],
    }
}

/// Core's HTTP checks on Google Drive with an OAuth user token (RAGFlow's `google_tokens` as
/// google-auth writes it): the client secret and the refresh token never show.
#[cfg(feature = "google_drive")]
mod drive_oauth_http {
    use super::*;

    async fn fake() -> MockServer {
        let server = MockServer::start().await;
        mount_token(&server, TokenEndpoint::default()).await;
        let files = vec![
            DriveFile::new("o1", "oauth@example.com", 1),
            DriveFile::new("o2", "oauth@example.com", 2),
        ];
        mount_drive(&server, files, &[], 1).await;
        server
    }

    fn connector(uri: &str) -> Arc<dyn Connector> {
        let credentials =
            json!({"google_tokens": user_token().to_string(), "google_primary_admin": ADMIN});
        build(
            "google_drive",
            uri,
            json!({"include_my_drives": true, "credentials": credentials}),
        )
    }

    connector_core::http_checks! {
        fake: fake().await,
        build: connector,
        checks: [
            retry_after_is_waited_out,
            server_error_storm_is_survived(3),
            unauthorized_fails_fast,
            secret_never_leaks(CLIENT_SECRET),
        ],
    }

    mod refresh_token {
        use super::*;

        connector_core::http_checks! {
            fake: fake().await,
            build: connector,
            checks: [secret_never_leaks(REFRESH_TOKEN)],
        }
    }
}
