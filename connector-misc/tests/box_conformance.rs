//! The conformance kit and core's HTTP checks against the wiremock Box of `box_common`.
#![cfg(feature = "box")]
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

mod box_common;

use std::sync::Arc;

use async_trait::async_trait;
use box_common::{ACCESS, BoxApi, Servers, build, standard, time, tree};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;

struct BoxFixture {
    servers: Servers,
    malformed: Servers,
}

#[async_trait]
impl Fixture for BoxFixture {
    async fn setup() -> Self {
        let (files, folders) = tree();
        // b.txt's listing entry lacks `modified_at`: a failure of its own, the rest delivered.
        let malformed = BoxApi::new(files, folders, 2);
        malformed.state.lock().unwrap().malformed.push("202".into());
        Self {
            servers: Servers::start(standard(2)).await,
            malformed: Servers::start(malformed).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.servers.api.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(ACCESS.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.api.uri(), json!({})),
            Some("box:202".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Files are modified at their id's minute: 201..=205 at minutes 1..=5.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((window, vec!["box:202".into(), "box:203".into()]))
    }
}

connector_core::conformance_tests!(box_conformance, BoxFixture);

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
}

connector_core::http_checks! {
    fake: Servers::start(standard(2)).await,
    server: |s| &s.api,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
    ],
}

// Written out: Box holds three secrets (the access token, and with a refresh token the client
// secret and the refresh token itself), each checked over its own connector.
#[test]
fn secret_never_leaks() {
    run(async {
        let s = Servers::start(standard(2)).await;
        connector_core::testkit::http::secret_never_leaks(
            &s.api,
            |uri| build(uri, json!({})),
            ACCESS,
        )
        .await;
        // Nor the client secret, nor the refresh token.
        let with_refresh = box_common::tokens(Some(ACCESS), Some(box_common::REFRESH));
        connector_core::testkit::http::secret_never_leaks(
            &s.api,
            |uri| box_common::build_with(uri, &with_refresh, json!({})),
            box_common::CLIENT_SECRET,
        )
        .await;
        connector_core::testkit::http::secret_never_leaks(
            &s.api,
            |uri| box_common::build_with(uri, &with_refresh, json!({})),
            box_common::REFRESH,
        )
        .await;
    });
}
