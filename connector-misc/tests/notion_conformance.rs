//! The conformance kit and core's HTTP checks against the wiremock Notion of `notion_common`
//! (five pages over three search pages of two, files off).
#![cfg(feature = "notion")]
#![allow(clippy::unwrap_used)]

mod notion_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use notion_common::{CHILD, Fake, OTHER, ROW, TOKEN, build, time};
use serde_json::json;

struct NotionFixture {
    fake: Fake,
    malformed: Fake,
}

fn config() -> serde_json::Value {
    json!({"include_files": false})
}

#[async_trait]
impl Fixture for NotionFixture {
    async fn setup() -> Self {
        Self {
            fake: Fake::start(|_| {}).await,
            malformed: Fake::start(|st| {
                st.pages.iter_mut().find(|p| p.id == OTHER).unwrap().broken = true;
            })
            .await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.fake.uri(), config())
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), config()),
            Some(OTHER.to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Edited at 10:20 and 10:30; the end is exclusive.
        let window = TimeWindow::new(time(20), time(40)).ok()?;
        Some((window, vec![CHILD.to_owned(), ROW.to_owned()]))
    }
}

connector_core::conformance_tests!(notion_conformance, NotionFixture);

connector_core::http_checks! {
    fake: Fake::start(|_| {}).await,
    server: |fake| &fake.server,
    build: |uri| build(uri, config()),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
