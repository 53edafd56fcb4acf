//! The conformance kit for the `bigquery` source, against the fake BigQuery of
//! tests/bigquery_common: seven rows over result pages of two and jobs of three rows.
#![cfg(feature = "bigquery")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bigquery_common;
mod common;

use std::sync::Arc;

use async_trait::async_trait;
use bigquery_common::*;
use common::{TEST_KEY, TokenEndpoint, mount_token, service_account_key};
use connector_core::testkit::Fixture;
use connector_core::{Connector, Registry, TimeWindow};
use serde_json::json;
use wiremock::MockServer;

struct BigQueryFixture {
    server: MockServer,
    malformed: MockServer,
}

async fn server(table: Vec<FakeRow>) -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_bigquery(&server, &FakeBigQuery::new(table)).await;
    server
}

fn build(uri: &str) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    registry
        .build(
            "bigquery",
            json!({
                "project_id": PROJECT, "dataset_id": DATASET, "table_id": TABLE,
                "id_column": "id", "timestamp_column": "updated_at", "title_column": "name",
                "page_size": 2, "rows_per_query": 3,
                "credentials": {"service_account_json": service_account_key()},
                "base_url": uri, "token_uri": format!("{uri}/token"),
                "allowed_hosts": ["127.0.0.1"],
            }),
        )
        .expect("a valid config")
}

#[async_trait]
impl Fixture for BigQueryFixture {
    async fn setup() -> Self {
        let mut bad = rows(7);
        bad[3].raw_cell = Some((4, json!("not-an-array")));
        Self {
            server: server(rows(7)).await,
            malformed: server(bad).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri())
    }

    fn secret(&self) -> Option<String> {
        // A line from the middle of the private key: it must never be printed.
        Some(TEST_KEY.lines().nth(5).unwrap_or_default().to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri()),
            Some(format!("bigquery:{PROJECT}.{DATASET}.{TABLE}:4")),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(time(2), time(5)).ok()?;
        Some((
            window,
            (2..5)
                .map(|n| format!("bigquery:{PROJECT}.{DATASET}.{TABLE}:{n}"))
                .collect(),
        ))
    }
}

connector_core::conformance_tests!(bigquery_conformance, BigQueryFixture);

connector_core::http_checks! {
    fake: server(rows(7)).await,
    build: build,
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TEST_KEY.lines().nth(5).unwrap()),
    ],
}
