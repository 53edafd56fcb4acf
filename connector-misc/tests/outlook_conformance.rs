//! The conformance kit and core's HTTP checks against the fake Microsoft Graph of
//! `outlook_common`.
#![cfg(feature = "outlook")]
#![allow(clippy::unwrap_used)]

mod outlook_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use outlook_common::{SECRET, TENANT, build, graph_wire, standard, time};
use serde_json::json;
use wiremock::MockServer;

struct OutlookFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for OutlookFixture {
    async fn setup() -> Self {
        let malformed = standard(2);
        {
            let mut s = malformed.state.lock().unwrap();
            let m = s.mailboxes.get_mut("u-ada").unwrap();
            m.messages
                .iter_mut()
                .find(|m| m.id == "M3")
                .unwrap()
                .malformed = true;
        }
        Self {
            server: standard(2).start().await,
            malformed: malformed.start().await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(SECRET.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some("outlook:u-ada:M3".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Messages are modified at minutes 1..=7 (junk and deleted items, left out, at 5
        // and 6); attachments take their message's time.
        let window = TimeWindow::new(time(2), time(5)).ok()?;
        Some((
            window,
            vec![
                "outlook:u-ada:M2".into(),
                "outlook:u-ada:M3".into(),
                "outlook:u-ada:M4".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(outlook_conformance, OutlookFixture);

connector_core::http_checks! {
    fake: standard(2).start().await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(SECRET),
    ],
}

graph_wire::credential_checks! {
    fake: standard(2).start().await,
    build: build,
    secret: SECRET,
    credentials: json!({}),
}
