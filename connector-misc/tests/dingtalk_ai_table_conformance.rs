//! The conformance kit and core's HTTP checks against the wiremock DingTalk of
//! `dingtalk_ai_table_common` (five tasks over three pages of two, one memo in a second sheet).
#![cfg(feature = "dingtalk_ai_table")]
#![allow(clippy::unwrap_used)]

mod dingtalk_ai_table_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use dingtalk_ai_table_common::{
    APP_SECRET, Fake, REC_HIRING, REC_LAUNCH, SHEET_TASKS, TOKEN, app_credentials, build,
    record_doc, time,
};
use serde_json::json;

struct DingtalkFixture {
    fake: Fake,
    malformed: Fake,
}

#[async_trait]
impl Fixture for DingtalkFixture {
    async fn setup() -> Self {
        Self {
            fake: Fake::start(|_| {}).await,
            malformed: Fake::start(|st| {
                st.sheets[0]
                    .records
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
            Some(record_doc(SHEET_TASKS, REC_HIRING)),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Last modified at 10:20, 10:30 and 10:40; the end is exclusive.
        let window = TimeWindow::new(time(20), time(40)).ok()?;
        Some((
            window,
            vec![
                record_doc(SHEET_TASKS, REC_LAUNCH),
                record_doc(SHEET_TASKS, REC_HIRING),
            ],
        ))
    }
}

connector_core::conformance_tests!(dingtalk_ai_table_conformance, DingtalkFixture);

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
}

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

#[test]
fn the_app_secret_never_leaks() {
    run(async {
        let fake = Fake::start(|_| {}).await;
        connector_core::testkit::http::secret_never_leaks(
            &fake.server,
            |uri| build(uri, json!({"credentials": app_credentials()})),
            APP_SECRET,
        )
        .await;
    });
}
