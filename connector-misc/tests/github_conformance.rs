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

connector_core::http_checks! {
    fake: Fake::start(standard()).await,
    server: |fake| &fake.server,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
