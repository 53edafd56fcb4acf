//! The conformance kit and core's HTTP checks against the wiremock Airtable of
//! `airtable_common` (five records over three pages of two, two attachments).
#![cfg(feature = "airtable")]
#![allow(clippy::unwrap_used)]

mod airtable_common;

use std::sync::Arc;

use airtable_common::{
    ATT_LOGO, ATT_SPEC, Fake, REC_HIRING, REC_LAUNCH, TOKEN, attachment_doc, build, record_doc,
    time,
};
use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;

struct AirtableFixture {
    fake: Fake,
    malformed: Fake,
}

#[async_trait]
impl Fixture for AirtableFixture {
    async fn setup() -> Self {
        Self {
            fake: Fake::start(|_| {}).await,
            malformed: Fake::start(|st| {
                st.records
                    .iter_mut()
                    .find(|r| r.id == REC_HIRING)
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
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some(record_doc(REC_HIRING)),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Last modified at 10:20 (with two attachments) and 10:30; the end is exclusive.
        let window = TimeWindow::new(time(20), time(40)).ok()?;
        Some((
            window,
            vec![
                record_doc(REC_LAUNCH),
                attachment_doc(REC_LAUNCH, ATT_SPEC),
                attachment_doc(REC_LAUNCH, ATT_LOGO),
                record_doc(REC_HIRING),
            ],
        ))
    }
}

connector_core::conformance_tests!(airtable_conformance, AirtableFixture);

connector_core::http_checks! {
    fake: Fake::start(|_| {}).await,
    server: |fake| &fake.server,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
