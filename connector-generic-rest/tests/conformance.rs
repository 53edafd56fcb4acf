//! The conformance kit and its HTTP checks on `rest_api` over a wiremock article API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{FakeApi, Style, T0, TOKEN, build, cursor_config};
use connector_core::ids::hash128;
use connector_core::testkit::{Fixture, http};
use connector_core::{Connector, TimeWindow};
use wiremock::MockServer;

struct RestFixture {
    server: MockServer,
}

#[async_trait]
impl Fixture for RestFixture {
    async fn setup() -> Self {
        let server = MockServer::start().await;
        FakeApi::new(10, Style::Cursor)
            .bearer()
            .mount(&server, "/v1/articles")
            .await;
        let mut bad = FakeApi::new(10, Style::Cursor).bearer();
        if let Some(obj) = bad.items[4].as_object_mut() {
            obj.remove("id");
        }
        bad.mount(&server, "/bad/v1/articles").await;
        Self { server }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(cursor_config(&self.server.uri()))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(cursor_config(&format!("{}/bad", self.server.uri()))),
            None,
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let at = |min: i64| chrono::DateTime::from_timestamp(T0 + 60 * min, 0).unwrap_or_default();
        let ids = (3..9)
            .map(|i| hash128(&format!("rest_api:A-{i}")))
            .collect();
        Some((
            TimeWindow {
                start: at(3),
                end: at(9),
            },
            ids,
        ))
    }
}

connector_core::conformance_tests!(rest_api_conformance, RestFixture);

async fn server() -> MockServer {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    server
}

fn connector(uri: &str) -> Arc<dyn Connector> {
    build(cursor_config(uri))
}

#[tokio::test]
async fn http_retry_after_is_waited_out() {
    http::retry_after_is_waited_out(&server().await, connector).await;
}

#[tokio::test]
async fn http_server_error_storm_is_survived() {
    http::server_error_storm_is_survived(&server().await, connector, 3).await;
}

#[tokio::test]
async fn http_unauthorized_fails_fast() {
    http::unauthorized_fails_fast(&server().await, connector).await;
}

#[tokio::test]
async fn http_secret_never_leaks() {
    http::secret_never_leaks(&server().await, connector, TOKEN).await;
}
