//! Timestamps as the state stores write them, without the `fmt` machinery.
//!
//! chrono serialises a `DateTime<Utc>` through `Display` (`collect_str`), which goes through
//! `core::fmt` for every field; a store writes one per document per commit and per snapshot,
//! and that was about a tenth of a durable run's CPU. [`Rfc3339`] writes the very same bytes
//! (`2026-01-02T03:04:05Z`, a fraction of 3, 6 or 9 digits when there is one) into a stack
//! buffer, so what older versions wrote and what this one writes read back the same either
//! way; years outside `0..=9999` (which chrono writes with a sign) go through chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// The longest text [`Rfc3339::of`] builds: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub(super) const MAX: usize = 30;

/// One timestamp's RFC 3339 text, as chrono's `Serialize` writes it.
pub(crate) struct Rfc3339 {
    buf: [u8; MAX],
    len: usize,
}

impl Rfc3339 {
    /// The text of `at`, or `None` for a year outside `0..=9999` (left to chrono).
    pub(crate) fn of(at: &DateTime<Utc>) -> Option<Self> {
        // The fields of the UTC date and time, worked out once (each accessor of a
        // `DateTime` would add the offset again).
        let at = at.naive_utc();
        let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
        let (mut sec, mut nano) = (at.second(), at.nanosecond());
        // A leap second: chrono keeps it in the fraction, and prints it as second 60.
        if nano >= 1_000_000_000 {
            sec += 1;
            nano -= 1_000_000_000;
        }
        let mut out = Self {
            buf: [0; MAX],
            len: 0,
        };
        out.digits(year, 4);
        out.push(b'-');
        out.digits(at.month(), 2);
        out.push(b'-');
        out.digits(at.day(), 2);
        out.push(b'T');
        out.digits(at.hour(), 2);
        out.push(b':');
        out.digits(at.minute(), 2);
        out.push(b':');
        out.digits(sec, 2);
        if nano != 0 {
            out.push(b'.');
            if nano % 1_000_000 == 0 {
                out.digits(nano / 1_000_000, 3);
            } else if nano % 1_000 == 0 {
                out.digits(nano / 1_000, 6);
            } else {
                out.digits(nano, 9);
            }
        }
        out.push(b'Z');
        Some(out)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation were pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text's bytes (ASCII), with no UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The whole buffer, the text first, and the text's length: a copy of a fixed size,
    /// then the length kept, is cheaper than a copy of the text's own length.
    pub(super) fn padded(&self) -> (&[u8; MAX], usize) {
        (&self.buf, self.len)
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, mut value: u32, width: usize) {
        let end = (self.len + width).min(MAX);
        for slot in self.buf[self.len..end].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len = end;
    }
}

/// Serialises `at` as chrono does, without `fmt` (see the module doc).
pub(super) fn serialize<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match Rfc3339::of(at) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => serde::Serialize::serialize(at, serializer),
    }
}

/// [`serialize`] of an optional timestamp (`None` as `null`, as serde writes it).
#[allow(clippy::ref_option)] // serde's `serialize_with` hands the field by reference.
pub(super) fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn chrono_text(at: &DateTime<Utc>) -> String {
        serde_json::to_string(at).unwrap_or_default()
    }

    fn ours(at: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        let _ = serialize(at, &mut serde_json::Serializer::new(&mut out));
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        let Some(base) = base else {
            panic!("a valid date")
        };
        let cases = [
            base,
            base + chrono::Duration::milliseconds(7),
            base + chrono::Duration::microseconds(7),
            base + chrono::Duration::nanoseconds(7),
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ];
        for at in cases {
            assert_eq!(ours(&at), chrono_text(&at), "{at:?}");
        }
        assert_eq!(ours(&base), "\"2026-01-02T03:04:05Z\"");
    }

    #[test]
    fn a_leap_second_is_second_60_as_chrono_writes_it() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .map(|n| n.and_utc());
        let Some(leap) = leap else {
            panic!("a valid leap second")
        };
        assert_eq!(ours(&leap), chrono_text(&leap));
    }

    proptest! {
        #[test]
        fn any_timestamp_reads_back_and_matches_chrono(
            secs in -62_135_596_800i64..253_402_300_799i64,
            nanos in prop_oneof![
                Just(0u32),
                0u32..1_000_000_000,
                (0u32..1000).prop_map(|m| m * 1_000_000),
            ],
        ) {
            let at = DateTime::<Utc>::from_timestamp(secs, nanos);
            prop_assume!(at.is_some());
            let at = at.unwrap_or_default();
            let text = ours(&at);
            prop_assert_eq!(&text, &chrono_text(&at));
            let back: Option<DateTime<Utc>> = serde_json::from_str(&text).ok();
            prop_assert_eq!(back, Some(at));
        }
    }
}
