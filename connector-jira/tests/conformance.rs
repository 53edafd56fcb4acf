//! The conformance kit against a Server-style wiremock Jira: 7 issues, 3 per page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use wiremock::MockServer;

struct JiraFixture {
    server: MockServer,
    malformed: MockServer,
}

fn at(minute: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&format!("2026-01-15T10:{minute:02}:00Z"))
        .expect("a time")
        .with_timezone(&chrono::Utc)
}

#[async_trait]
impl Fixture for JiraFixture {
    async fn setup() -> Self {
        let (server, _) = common::server_mock(common::numbered(7, false), 3).await;
        let mut bad = common::numbered(7, false);
        bad[3]["fields"]["updated"] = json!("not a time");
        let (malformed, _) = common::server_mock(bad, 3).await;
        Self { server, malformed }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        let cfg = common::server_config(&self.server.uri(), json!({ "page_size": 3 }));
        Arc::new(common::connector(cfg))
    }

    fn secret(&self) -> Option<String> {
        Some(common::TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let uri = self.malformed.uri();
        let cfg = common::server_config(&uri, json!({ "page_size": 3 }));
        (
            Arc::new(common::connector(cfg)),
            Some(format!("{uri}/browse/ENG-4")),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Issue n is updated at 10:(n-1): minutes 2..5 hold ENG-3, ENG-4, ENG-5.
        let uri = self.server.uri();
        let window = TimeWindow::new(at(2), at(5)).ok()?;
        Some((
            window,
            (3..=5).map(|n| format!("{uri}/browse/ENG-{n}")).collect(),
        ))
    }
}

connector_core::conformance_tests!(jira_conformance, JiraFixture);

/// The same Jira with `id_scheme: issue_id`: ids `jira:{host}/issue/{id}`, refetched by id.
struct IssueIdFixture(JiraFixture);

impl IssueIdFixture {
    fn config(uri: &str) -> connector_jira::JiraConfig {
        common::server_config(uri, json!({ "page_size": 3, "id_scheme": "issue_id" }))
    }

    fn id(uri: &str, n: u32) -> String {
        format!(
            "jira:{}/issue/{}",
            uri.trim_start_matches("http://"),
            10000 + n
        )
    }
}

#[async_trait]
impl Fixture for IssueIdFixture {
    async fn setup() -> Self {
        Self(JiraFixture::setup().await)
    }

    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(common::connector(Self::config(&self.0.server.uri())))
    }

    fn secret(&self) -> Option<String> {
        self.0.secret()
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let uri = self.0.malformed.uri();
        let c = common::connector(Self::config(&uri));
        (Arc::new(c), Some(Self::id(&uri, 4)))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let uri = self.0.server.uri();
        let window = TimeWindow::new(at(2), at(5)).ok()?;
        Some((window, (3..=5).map(|n| Self::id(&uri, n)).collect()))
    }
}

connector_core::conformance_tests!(jira_issue_id_conformance, IssueIdFixture);

/// A Server-style Jira of 7 issues, 3 per page, for core's HTTP checks.
async fn server_fake() -> MockServer {
    common::server_mock(common::numbered(7, false), 3).await.0
}

fn server_connector(uri: &str) -> Arc<dyn Connector> {
    Arc::new(common::connector(common::server_config(
        uri,
        json!({ "page_size": 3 }),
    )))
}

connector_core::http_checks! {
    fake: server_fake().await,
    build: server_connector,
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(common::TOKEN),
    ],
}

/// The same checks on a Cloud-style Jira (`POST /rest/api/3/search/jql`, e-mail and token).
mod cloud {
    use super::*;

    async fn fake() -> MockServer {
        common::cloud_mock(common::numbered(7, true), 3, "UTC")
            .await
            .0
    }

    fn connector(uri: &str) -> Arc<dyn Connector> {
        Arc::new(common::connector(common::cloud_config(uri, json!({}))))
    }

    connector_core::http_checks! {
        fake: fake().await,
        build: connector,
        checks: [
            retry_after_is_waited_out,
            server_error_storm_is_survived(3),
            unauthorized_fails_fast,
            secret_never_leaks(common::TOKEN),
        ],
    }
}
