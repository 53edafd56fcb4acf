//! The conformance kit and core's HTTP checks against the wiremock Airtable of
//! `airtable_common` (five records over three pages of two, two attachments).
#![cfg(feature = "airtable")]
#![allow(clippy::unwrap_used)]

mod airtable_common;

use airtable_common::records_wire::record_conformance;
use airtable_common::{
    ATT_LOGO, ATT_SPEC, Fake, REC_HIRING, REC_LAUNCH, TOKEN, attachment_doc, build, record_doc,
    time,
};

record_conformance! {
    name: airtable_conformance,
    broken: |st| {
        st.records
            .iter_mut()
            .find(|r| r.id == REC_HIRING)
            .unwrap()
            .broken = true;
    },
    malformed: record_doc(REC_HIRING),
    secret: TOKEN,
    // Last modified at 10:20 (with two attachments) and 10:30; the end is exclusive.
    window: (time(20), time(40)),
    in_window: [
        record_doc(REC_LAUNCH),
        attachment_doc(REC_LAUNCH, ATT_SPEC),
        attachment_doc(REC_LAUNCH, ATT_LOGO),
        record_doc(REC_HIRING),
    ],
}
