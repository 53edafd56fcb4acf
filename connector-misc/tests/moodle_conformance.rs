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

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
}

#[test]
fn retry_after_is_waited_out() {
    run(async {
        let s = start(standard()).await;
        connector_core::testkit::http::retry_after_is_waited_out(&s, |uri| build(uri, json!({})))
            .await;
    });
}

#[test]
fn server_error_storm_is_survived() {
    run(async {
        let s = start(standard()).await;
        connector_core::testkit::http::server_error_storm_is_survived(
            &s,
            |uri| build(uri, json!({})),
            3,
        )
        .await;
    });
}

#[test]
fn unauthorized_fails_fast() {
    run(async {
        let s = start(standard()).await;
        connector_core::testkit::http::unauthorized_fails_fast(&s, |uri| build(uri, json!({})))
            .await;
    });
}

#[test]
fn secret_never_leaks() {
    run(async {
        let s = start(standard()).await;
        connector_core::testkit::http::secret_never_leaks(&s, |uri| build(uri, json!({})), TOKEN)
            .await;
    });
}
