//! The conformance kit and core's HTTP checks against the wiremock DingTalk of
//! `dingtalk_ai_table_common` (five tasks over three pages of two, one memo in a second sheet).
#![cfg(feature = "dingtalk_ai_table")]
#![allow(clippy::unwrap_used)]

mod dingtalk_ai_table_common;

use dingtalk_ai_table_common::records_wire::record_conformance;
use dingtalk_ai_table_common::{
    APP_SECRET, Fake, REC_HIRING, REC_LAUNCH, SHEET_TASKS, TOKEN, app_credentials, build,
    record_doc, time,
};
use serde_json::json;

record_conformance! {
    name: dingtalk_ai_table_conformance,
    broken: |st| {
        st.sheets[0]
            .records
            .iter_mut()
            .find(|r| r.id == REC_HIRING)
            .unwrap()
            .broken = true;
    },
    malformed: record_doc(SHEET_TASKS, REC_HIRING),
    secret: TOKEN,
    // Last modified at 10:20, 10:30 and 10:40; the end is exclusive.
    window: (time(20), time(40)),
    in_window: [
        record_doc(SHEET_TASKS, REC_LAUNCH),
        record_doc(SHEET_TASKS, REC_HIRING),
    ],
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
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
