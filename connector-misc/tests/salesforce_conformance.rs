//! The conformance kit and core's HTTP checks against the wiremock Salesforce of
//! `salesforce_common` (seven records of three objects, SOQL keyset queries of three records
//! answered in batches of two).
#![cfg(feature = "salesforce")]
#![allow(clippy::unwrap_used)]

mod salesforce_common;

use salesforce_common::records_wire::record_conformance;
use salesforce_common::{ANA, BO, CASE1, CASE3, CLIENT_SECRET, Fake, GLOBEX, build, doc_id, time};

record_conformance! {
    name: salesforce_conformance,
    broken: |st| {
        st.records
            .iter_mut()
            .find(|r| r.id == CASE1)
            .unwrap()
            .broken = true;
    },
    malformed: doc_id(CASE1),
    secret: CLIENT_SECRET,
    // Stamped at 10:20 (an account and a contact) and 10:30 (a contact, two cases); the case
    // at 10:50 is outside, and the end is exclusive.
    window: (time(20), time(40)),
    in_window: [
        doc_id(GLOBEX),
        doc_id(ANA),
        doc_id(BO),
        doc_id(CASE1),
        doc_id(CASE3),
    ],
}
