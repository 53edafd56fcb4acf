//! The conformance kit and core's HTTP checks against the wiremock Asana of `asana_common`.
#![cfg(feature = "asana")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod asana_common;

use std::sync::Arc;

use asana_common::{AsanaApi, TOKEN, build, standard, start, time};
use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use wiremock::MockServer;

struct AsanaFixture {
    server: MockServer,
    malformed: MockServer,
}

/// The standard Asana without its oversized attachment (a failure the kit would not expect
/// of a clean source).
fn clean() -> AsanaApi {
    let api = standard(2);
    for t in &mut api.state.lock().unwrap().tasks {
        t.attachments
            .retain(|a| a.size.is_none_or(|s| s < 1_000_000));
    }
    api
}

#[async_trait]
impl Fixture for AsanaFixture {
    async fn setup() -> Self {
        let broken = clean();
        broken
            .state
            .lock()
            .unwrap()
            .tasks
            .iter_mut()
            .filter(|t| t.gid == "1200000000000102")
            .for_each(|t| t.malformed = true);
        Self {
            server: start(clean()).await,
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
            Some("asana:1200000000000102".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Tasks are modified at minutes 1..=6 in the order of `standard`.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((
            window,
            vec![
                "asana:1200000000000102".into(),
                "asana:1200000000000103".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(asana_conformance, AsanaFixture);

connector_core::http_checks! {
    fake: start(clean()).await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
