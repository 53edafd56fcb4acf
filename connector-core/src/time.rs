//! Timestamps as text, without the `fmt` machinery.

use chrono::{DateTime, SecondsFormat, Utc};

/// `at` as chrono's own `Serialize` writes it (RFC 3339 in UTC with `Z`, a fraction of 3, 6
/// or 9 digits when there is one): the text a `json!(at)` holds, written from a stack buffer
/// rather than through `core::fmt` field by field (a connector that puts a record's times in
/// its front matter and metadata does this twice per document).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
/// assert_eq!(connector_core::time::rfc3339(&at), "2025-03-01T10:00:00Z");
/// assert_eq!(serde_json::json!(connector_core::time::rfc3339(&at)), serde_json::json!(at));
/// ```
pub fn rfc3339(at: &DateTime<Utc>) -> String {
    match crate::state::Rfc3339::of(at) {
        Some(text) => text.as_str().to_owned(),
        // A year outside `0..=9999`, which chrono writes with a sign.
        None => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_what_json_of_the_time_holds() {
        let Some(base) = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).single() else {
            panic!("a valid date")
        };
        for at in [
            base,
            base + chrono::Duration::milliseconds(7),
            base + chrono::Duration::microseconds(7),
            base + chrono::Duration::nanoseconds(7),
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ] {
            assert_eq!(
                serde_json::Value::String(rfc3339(&at)),
                serde_json::json!(at)
            );
        }
    }
}
