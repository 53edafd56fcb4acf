//! The conformance kit and core's HTTP checks against the wiremock Bitbucket of
//! `bitbucket_common`.
#![cfg(feature = "bitbucket")]
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

mod bitbucket_common;

use std::sync::Arc;

use async_trait::async_trait;
use bitbucket_common::{TOKEN, build, standard, start, time};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use wiremock::MockServer;

struct BitbucketFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for BitbucketFixture {
    async fn setup() -> Self {
        let api = standard(2);
        let broken = standard(2);
        broken
            .state
            .lock()
            .unwrap()
            .prs
            .iter_mut()
            .filter(|p| p.repo == "api" && p.id == 2)
            .for_each(|p| p.malformed = true);
        Self {
            server: start(api).await,
            malformed: start(broken).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some("bitbucket:acme:api:pr:2".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Pull requests are updated at minutes 1..=6 in the order of `standard`.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((
            window,
            vec![
                "bitbucket:acme:api:pr:2".into(),
                "bitbucket:acme:api:pr:3".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(bitbucket_conformance, BitbucketFixture);

connector_core::http_checks! {
    fake: start(standard(2)).await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
