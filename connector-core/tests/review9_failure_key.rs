//! review9 F7 (fixed by fix9: the place is now `Failure::place`, out of the message):
//! `Failure::PLACE` (" — at ") was found in the message text, where a message
//! without a place may hold it too (a title, a file or course name, a serde error quoting a
//! value): such a failure is keyed by a cut of its message, so two different failures share
//! a key, and a stored failure's key is not the one it had before `Failure::at` existed.

use connector_core::ids::hash128;
use connector_core::state::failure_key;
use connector_core::{ErrorKind, Failure};

#[test]
fn f7_a_message_holding_the_separator_keeps_its_whole_key() {
    let fail = |m: &str| Failure::new(None, ErrorKind::InvalidData, m);
    let noon = fail("notes: `Lunch \u{2014} at noon.md` is not UTF-8");
    let home = fail("notes: `Lunch \u{2014} at home.md` is not UTF-8");
    assert_ne!(
        failure_key(&noon),
        failure_key(&home),
        "two failures, one key"
    );
    assert_eq!(
        failure_key(&noon),
        format!("~{}", hash128(&noon.message)),
        "the key stored before `Failure::at` changed"
    );
}
