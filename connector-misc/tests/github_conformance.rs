//! The conformance kit and core's HTTP checks against the wiremock GitHub of `github_common`
//! (acme/api: three issues and two pull requests over three pages of two).
#![cfg(feature = "github")]
#![allow(clippy::unwrap_used)]

mod github_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use github_common::{Fake, TOKEN, build, day, item_id, standard};
use serde_json::json;

struct GithubFixture {
    fake: Fake,
    malformed: Fake,
}

#[async_trait]
impl Fixture for GithubFixture {
    async fn setup() -> Self {
        let mut bad = standard();
        bad.repos[0].items[2].broken = true;
        Self {
            fake: Fake::start(standard()).await,
            malformed: Fake::start(bad).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.fake.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let uri = self.malformed.uri();
        (build(&uri, json!({})), Some(item_id(&uri, 3, false)))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let uri = self.fake.uri();
        let window = TimeWindow::new(day(2), day(4)).ok()?;
        Some((
            window,
            vec![item_id(&uri, 2, true), item_id(&uri, 3, false)],
        ))
    }
}

connector_core::conformance_tests!(github_conformance, GithubFixture);

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
}

#[test]
fn retry_after_is_waited_out() {
    run(async {
        let fake = Fake::start(standard()).await;
        connector_core::testkit::http::retry_after_is_waited_out(&fake.server, |uri| {
            build(uri, json!({}))
        })
        .await;
    });
}

#[test]
fn server_error_storm_is_survived() {
    run(async {
        let fake = Fake::start(standard()).await;
        connector_core::testkit::http::server_error_storm_is_survived(
            &fake.server,
            |uri| build(uri, json!({})),
            3,
        )
        .await;
    });
}

#[test]
fn unauthorized_fails_fast() {
    run(async {
        let fake = Fake::start(standard()).await;
        connector_core::testkit::http::unauthorized_fails_fast(&fake.server, |uri| {
            build(uri, json!({}))
        })
        .await;
    });
}

#[test]
fn secret_never_leaks() {
    run(async {
        let fake = Fake::start(standard()).await;
        connector_core::testkit::http::secret_never_leaks(
            &fake.server,
            |uri| build(uri, json!({})),
            TOKEN,
        )
        .await;
    });
}
