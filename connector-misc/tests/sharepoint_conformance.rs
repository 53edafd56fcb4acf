//! The conformance kit and core's HTTP checks against the fake Microsoft Graph of
//! `sharepoint_common` (the site Eng: two libraries and two pages).
#![cfg(feature = "sharepoint")]
#![allow(clippy::unwrap_used)]

mod sharepoint_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use sharepoint_common::{ENG, ENG_URL, SECRET, TENANT, build, graph_wire, standard, time};
use wiremock::MockServer;

struct SharepointFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for SharepointFixture {
    async fn setup() -> Self {
        let malformed = standard(2);
        {
            let mut s = malformed.state.lock().unwrap();
            let d = s.drives.get_mut("b!eng-docs").unwrap();
            d.items.iter_mut().find(|i| i.id == "E2").unwrap().malformed = true;
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
            Some("sharepoint:b!eng-docs:E2".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Files at minutes 1, 3 (and the image, left out) and 4; pages at 2 and 6.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((
            window,
            vec![
                "sharepoint:b!eng-docs:E2".into(),
                format!("sharepoint:page:{ENG}:p-home"),
            ],
        ))
    }
}

connector_core::conformance_tests!(sharepoint_conformance, SharepointFixture);

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
    credentials: json!({"site_url": ENG_URL}),
}
