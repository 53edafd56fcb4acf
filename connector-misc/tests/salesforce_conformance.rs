//! The conformance kit and core's HTTP checks against the wiremock Salesforce of
//! `salesforce_common` (seven records of three objects, SOQL keyset queries of three records
//! answered in batches of two).
#![cfg(feature = "salesforce")]
#![allow(clippy::unwrap_used)]

mod salesforce_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use salesforce_common::{ANA, BO, CASE1, CASE3, CLIENT_SECRET, Fake, GLOBEX, build, doc_id, time};
use serde_json::json;

struct SalesforceFixture {
    fake: Fake,
    malformed: Fake,
}

#[async_trait]
impl Fixture for SalesforceFixture {
    async fn setup() -> Self {
        Self {
            fake: Fake::start(|_| {}).await,
            malformed: Fake::start(|st| {
                st.records
                    .iter_mut()
                    .find(|r| r.id == CASE1)
                    .unwrap()
                    .broken = true;
            })
            .await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.fake.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(CLIENT_SECRET.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (build(&self.malformed.uri(), json!({})), Some(doc_id(CASE1)))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Stamped at 10:20 (an account and a contact) and 10:30 (a contact, two cases); the
        // case at 10:50 is outside, and the end is exclusive.
        let window = TimeWindow::new(time(20), time(40)).ok()?;
        Some((
            window,
            vec![
                doc_id(GLOBEX),
                doc_id(ANA),
                doc_id(BO),
                doc_id(CASE1),
                doc_id(CASE3),
            ],
        ))
    }
}

connector_core::conformance_tests!(salesforce_conformance, SalesforceFixture);

connector_core::http_checks! {
    fake: Fake::start(|_| {}).await,
    server: |fake| &fake.server,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(CLIENT_SECRET),
    ],
}
