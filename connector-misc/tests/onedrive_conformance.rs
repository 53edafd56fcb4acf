//! The conformance kit and core's HTTP checks against the fake Microsoft Graph of
//! `onedrive_common`.
#![cfg(feature = "onedrive")]
#![allow(clippy::unwrap_used)]

mod onedrive_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use onedrive_common::{SECRET, TENANT, build, graph_wire, standard, time};
use serde_json::json;
use wiremock::MockServer;

struct OnedriveFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for OnedriveFixture {
    async fn setup() -> Self {
        let malformed = standard(2);
        {
            let mut s = malformed.state.lock().unwrap();
            let d = s.drives.get_mut("b!ada").unwrap();
            d.items.iter_mut().find(|i| i.id == "A3").unwrap().malformed = true;
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
            Some("onedrive:b!ada:A3".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Files are modified at minutes 1..=5 (the image, left out, at 4).
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((
            window,
            vec!["onedrive:b!ada:A2".into(), "onedrive:b!ada:A3".into()],
        ))
    }
}

connector_core::conformance_tests!(onedrive_conformance, OnedriveFixture);

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
