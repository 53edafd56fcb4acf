//! The conformance kit and core's HTTP checks against the wiremock Moodle of
//! `moodle_common`.
#![cfg(feature = "moodle")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod moodle_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use moodle_common::{Kind, TOKEN, build, standard, start, time};
use serde_json::json;
use wiremock::MockServer;

struct MoodleFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for MoodleFixture {
    async fn setup() -> Self {
        let broken = standard();
        {
            let mut state = broken.state.lock().unwrap();
            let Kind::Forum { discussions } = &mut state.courses[0].sections[0].modules[0].kind
            else {
                panic!("the first module of the standard Moodle is its forum")
            };
            discussions[0].malformed = true;
        }
        Self {
            server: start(standard()).await,
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
            Some("moodle_forum_40_90".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // The group discussion at minute 5, the book at 6, the slides at 7; the URL at 8 is
        // the window's end, outside it.
        let window = TimeWindow::new(time(5), time(8)).ok()?;
        Some((
            window,
            vec![
                "moodle_forum_40_91".into(),
                "moodle_book_43".into(),
                "moodle_resource_44".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(moodle_conformance, MoodleFixture);

connector_core::http_checks! {
    fake: start(standard()).await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
