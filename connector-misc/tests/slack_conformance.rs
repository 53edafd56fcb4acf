//! The conformance kit and core's HTTP checks against the wiremock Slack of `slack_common`
//! (#general: a thread of three, a join notice, a lone message, a bot's message; #eng,
//! private: a lone message and a thread; two messages per history page).
#![cfg(feature = "slack")]
#![allow(clippy::unwrap_used)]

mod slack_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use slack_common::{Fake, TOKEN, at, build, id, standard, ts};

struct SlackFixture {
    fake: Fake,
    malformed: Fake,
}

#[async_trait]
impl Fixture for SlackFixture {
    async fn setup() -> Self {
        let mut bad = standard();
        bad.channels[0].messages[4].broken = true;
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
        (
            build(&self.malformed.uri(), json!({})),
            Some(id("C01GENERAL", &ts(at(4, 0), 5))),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(at(3, 0), at(5, 0)).ok()?;
        Some((
            window,
            vec![
                id("C01GENERAL", &ts(at(1, 0), 1)),
                id("C01GENERAL", &ts(at(4, 0), 5)),
            ],
        ))
    }
}

connector_core::conformance_tests!(slack_conformance, SlackFixture);

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
