//! Timestamps as text, without the `fmt` machinery, and read from text with a fast path for
//! the one form most APIs send.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};

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

/// `at` as chrono's `DateTime::to_rfc3339` writes it (RFC 3339 with the offset `+00:00`, a
/// fraction of 3, 6 or 9 digits when there is one), from a stack buffer rather than through
/// `core::fmt`: for a connector whose stored versions or metadata hold that text (it must not
/// change), and that writes it for every item.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
/// assert_eq!(connector_core::time::rfc3339_offset(&at), "2025-03-01T10:00:00+00:00");
/// assert_eq!(connector_core::time::rfc3339_offset(&at), at.to_rfc3339());
/// ```
pub fn rfc3339_offset(at: &DateTime<Utc>) -> String {
    let mut out = String::with_capacity(32);
    push_rfc3339_offset(&mut out, at);
    out
}

/// [`rfc3339_offset`] written at the end of `out` (a buffer a version token is built in).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
/// let mut out = String::from("sent ");
/// connector_core::time::push_rfc3339_offset(&mut out, &at);
/// assert_eq!(out, "sent 2025-03-01T10:00:00+00:00");
/// ```
pub fn push_rfc3339_offset(out: &mut String, at: &DateTime<Utc>) {
    match crate::state::Rfc3339::of(at) {
        Some(text) => {
            // The same text with the offset written out instead of `Z`.
            let text = text.as_str();
            out.push_str(text.strip_suffix('Z').unwrap_or(text));
            out.push_str("+00:00");
        }
        None => out.push_str(&at.to_rfc3339()),
    }
}

/// `at` as chrono's `to_rfc3339_opts(SecondsFormat::Secs, true)` writes it (RFC 3339 in UTC
/// with `Z`, the fraction of a second left out), from a stack buffer rather than through
/// `core::fmt`: the text of a time shown to people or sent to an API to the second (a
/// document's `created_at`, a message's header line, a delta token), written for every item.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(395);
/// assert_eq!(connector_core::time::rfc3339_secs(&at), "2025-03-01T10:00:00Z");
/// assert_eq!(
///     connector_core::time::rfc3339_secs(&at),
///     at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
/// );
/// ```
pub fn rfc3339_secs(at: &DateTime<Utc>) -> String {
    match crate::state::Rfc3339::of(at) {
        Some(text) => {
            // `YYYY-MM-DDTHH:MM:SS` (a year of four digits), then `Z` without the fraction.
            let text = text.as_str();
            let mut out = String::with_capacity(20);
            out.push_str(text.get(..19).unwrap_or(text));
            out.push('Z');
            out
        }
        None => at.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// `text` read as chrono's `Deserialize` of a `DateTime<Utc>` reads it (chrono's relaxed
/// RFC 3339, any offset turned into UTC), with a fast path for `YYYY-MM-DDTHH:MM:SSZ` and
/// `YYYY-MM-DDTHH:MM:SS.FFFZ` (a fraction of 1 to 9 digits): the forms Microsoft Graph and
/// many other APIs send every timestamp in (Graph: no fraction for mail and drive items, 3
/// digits for chat messages, up to 7 elsewhere), read here in a few dozen instructions rather
/// than through chrono's general parser (about 1,700 each). Any other form (an offset, a
/// lowercase `t` or `z`, a space), and any text the fast path does not take (a leap second, a
/// date that does not exist, a fraction of 10 digits or more), goes to chrono, so the result
/// and the error are always chrono's.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = connector_core::time::parse_utc("2026-03-01T10:00:00Z").unwrap();
/// assert_eq!(at, Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap());
/// let fraction = connector_core::time::parse_utc("2026-03-01T10:00:00.395Z").unwrap();
/// assert_eq!(fraction, at + chrono::Duration::milliseconds(395));
/// // Other forms are chrono's.
/// let offset = connector_core::time::parse_utc("2026-03-01T11:00:00.5+01:00").unwrap();
/// assert_eq!(offset, at + chrono::Duration::milliseconds(500));
/// assert!(connector_core::time::parse_utc("2026-02-30T10:00:00Z").is_err());
/// ```
///
/// # Errors
/// chrono's [`ParseError`](chrono::ParseError) for text that is not such a timestamp.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match fast_utc(text.as_bytes()) {
        Some(at) => Ok(at),
        None => text
            .parse::<DateTime<FixedOffset>>()
            .map(|at| at.with_timezone(&Utc)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.F]Z` with a fraction `F` of 1 to 9 digits, every field in range
/// (seconds up to 59); `None` otherwise. chrono reads the fraction's digits as the same
/// nanoseconds (`.5` is 500 ms); it skips digits past the ninth, which are left to it here.
fn fast_utc(b: &[u8]) -> Option<DateTime<Utc>> {
    /// What a fraction of `n` digits is multiplied by to give nanoseconds.
    const SCALE: [u32; 10] = [
        0,
        100_000_000,
        10_000_000,
        1_000_000,
        100_000,
        10_000,
        1_000,
        100,
        10,
        1,
    ];
    let (
        &[
            y0,
            y1,
            y2,
            y3,
            b'-',
            m0,
            m1,
            b'-',
            d0,
            d1,
            b'T',
            h0,
            h1,
            b':',
            i0,
            i1,
            b':',
            s0,
            s1,
        ],
        rest,
    ) = b.split_first_chunk::<19>()?
    else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let nano = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            let mut value = 0;
            for &c in fraction {
                value = value * 10 + digit(c)?;
            }
            value * SCALE.get(fraction.len())?
        }
        _ => return None,
    };
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let (month, day) = (two(m0, m1)?, two(d0, d1)?);
    let (hour, minute, second) = (two(h0, h1)?, two(i0, i1)?, two(s0, s1)?);
    if second > 59 {
        // chrono reads second 60 as a leap second: left to it.
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.and_hms_nano_opt(hour, minute, second, nano)?.and_utc())
}

/// Serde's `deserialize_with` of a `DateTime<Utc>` field through [`parse_utc`]: what chrono's
/// own `Deserialize` reads, with the same errors (its message and what it expects), faster
/// for `YYYY-MM-DDTHH:MM:SS[.F]Z`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Item {
///     #[serde(deserialize_with = "connector_core::time::de_utc")]
///     at: chrono::DateTime<chrono::Utc>,
///     #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
///     seen: Option<chrono::DateTime<chrono::Utc>>,
/// }
/// let item: Item = serde_json::from_str(r#"{"at": "2026-03-01T10:00:00Z", "seen": null}"#).unwrap();
/// assert_eq!(item.at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
/// assert!(item.seen.is_none());
/// ```
///
/// # Errors
/// As chrono's `Deserialize`: not a string, or not a timestamp.
pub fn de_utc<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(UtcVisitor)
}

/// [`de_utc`] of an optional field (`null` is `None`, as serde reads an `Option`); with
/// `#[serde(default)]` a missing field is `None` too.
///
/// # Errors
/// As [`de_utc`].
pub fn de_utc_option<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    deserializer.deserialize_option(OptionVisitor)
}

/// The visitor of [`de_utc`]: chrono's `DateTimeVisitor` with the fast path.
struct UtcVisitor;

impl serde::de::Visitor<'_> for UtcVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        // chrono's words, so that an error reads as it did.
        formatter.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
        parse_utc(value).map_err(E::custom)
    }
}

/// The visitor of [`de_utc_option`].
struct OptionVisitor;

impl<'de> serde::de::Visitor<'de> for OptionVisitor {
    type Value = Option<DateTime<Utc>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("option")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        de_utc(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// chrono's own reading, what [`parse_utc`] must give.
    fn chrono_utc(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        text.parse::<DateTime<FixedOffset>>()
            .map(|at| at.with_timezone(&Utc))
    }

    #[test]
    fn the_fast_path_reads_what_chrono_reads_at_the_edges() {
        for text in [
            "2026-03-01T10:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:30:45Z",
            "1970-01-01T00:00:00Z",
            "2026-03-01T10:00:00.5Z",
            "2026-03-01T10:00:00.000Z",
            "2021-03-28T21:11:12.395Z",
            "2026-03-01T10:00:00.1234567Z",
            "2026-03-01T10:00:00.123456789Z",
            "2026-03-01T23:59:59.999999999Z",
        ] {
            assert!(fast_utc(text.as_bytes()).is_some(), "{text}");
            assert_eq!(parse_utc(text), chrono_utc(text), "{text}");
        }
        // Left to chrono: a leap second, dates and times that do not exist, other forms.
        for text in [
            "2016-12-31T23:59:60Z",
            "2023-02-29T12:30:45Z",
            "2026-13-01T10:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T10:60:00Z",
            "2026-03-01t10:00:00Z",
            "2026-03-01 10:00:00Z",
            "2026-03-01T10:00:00z",
            "2026-03-01T10:00:00.1234567890Z",
            "2026-03-01T10:00:00.Z",
            "2026-03-01T10:00:00.12a4Z",
            "2026-03-01T10:00:00.5z",
            "2016-12-31T23:59:60.5Z",
            "2026-03-01T10:00:00.1234567+02:00",
            "2026-03-01T10:00:00+02:00",
            "2026-03-01T10:00:00 UTC",
            "+2026-03-01T10:00:00Z",
            "2026-03-01T10:00:00Z ",
            "2026-3-01T10:00:00Z",
            "",
        ] {
            assert!(fast_utc(text.as_bytes()).is_none(), "{text}");
            assert_eq!(
                parse_utc(text).map_err(|e| e.to_string()),
                chrono_utc(text).map_err(|e| e.to_string()),
                "{text}"
            );
        }
    }

    /// Every form Microsoft Graph sends a time in: no fraction (mail, drive items), 1 to 7
    /// digits (chat messages: 3; list items and events: up to 7), `Z` or an offset (some
    /// `$batch` and beta answers); each read as chrono reads it, by `parse_utc` and by the
    /// serde helpers.
    #[test]
    fn every_form_graph_sends_reads_as_chrono_reads_it() {
        #[derive(serde::Deserialize)]
        struct Wire {
            #[serde(deserialize_with = "de_utc")]
            at: DateTime<Utc>,
            #[serde(default, deserialize_with = "de_utc_option")]
            seen: Option<DateTime<Utc>>,
        }
        let mut forms = Vec::new();
        for fraction in [
            "", ".4", ".39", ".395", ".3950", ".39500", ".395000", ".3950000", ".0000000",
            ".1234567",
        ] {
            for zone in ["Z", "+00:00", "-08:00", "+05:30"] {
                forms.push(format!("2021-03-28T21:11:12{fraction}{zone}"));
            }
        }
        for text in &forms {
            let Ok(expected) = chrono_utc(text) else {
                panic!("chrono reads {text}")
            };
            assert_eq!(parse_utc(text), Ok(expected), "{text}");
            let json = format!(r#"{{"at": "{text}", "seen": "{text}"}}"#);
            let Ok(wire) = serde_json::from_str::<Wire>(&json) else {
                panic!("the helpers read {json}")
            };
            assert_eq!((wire.at, wire.seen), (expected, Some(expected)), "{json}");
        }
        // The fraction's digits are the same nanoseconds however many there are.
        let Ok(millis) = parse_utc("2021-03-28T21:11:12.395Z") else {
            panic!("a time")
        };
        assert_eq!(millis.timestamp_subsec_nanos(), 395_000_000);
        assert_eq!(parse_utc("2021-03-28T21:11:12.3950000Z"), Ok(millis));
        assert_eq!(
            parse_utc("2021-03-28T22:11:12.395+01:00"),
            Ok(millis),
            "an offset is turned into UTC"
        );
    }

    #[test]
    fn the_serde_helpers_read_and_fail_as_chronos_deserialize() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Ours {
            #[serde(deserialize_with = "de_utc")]
            at: DateTime<Utc>,
            #[serde(default, deserialize_with = "de_utc_option")]
            seen: Option<DateTime<Utc>>,
        }
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Chronos {
            at: DateTime<Utc>,
            #[serde(default)]
            seen: Option<DateTime<Utc>>,
        }
        for json in [
            r#"{"at": "2026-03-01T10:00:00Z", "seen": "2026-03-01T10:00:01Z"}"#,
            r#"{"at": "2026-03-01T10:00:00.25+01:00", "seen": null}"#,
            r#"{"at": "2026-03-01T10:00:00Z"}"#,
            r#"{"at": "2026-03-01T10:00:00Z"}"#,
            r#"{"at": "2026-02-30T10:00:00Z"}"#,
            r#"{"at": "yesterday"}"#,
            r#"{"at": 1700000000}"#,
            r#"{"at": null}"#,
            r#"{"at": "2026-03-01T10:00:00Z", "seen": 7}"#,
            r#"{"at": "2026-03-01T10:00:00Z", "seen": "soon"}"#,
        ] {
            let ours = serde_json::from_str::<Ours>(json).map_err(|e| e.to_string());
            let chronos = serde_json::from_str::<Chronos>(json).map_err(|e| e.to_string());
            match (ours, chronos) {
                (Ok(o), Ok(c)) => assert_eq!((o.at, o.seen), (c.at, c.seen), "{json}"),
                (Err(o), Err(c)) => assert_eq!(o, c, "{json}"),
                (o, c) => panic!("{json}: ours {o:?}, chrono's {c:?}"),
            }
        }
    }

    #[test]
    fn rfc3339_offset_writes_what_to_rfc3339_writes() {
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
            assert_eq!(rfc3339_offset(&at), at.to_rfc3339());
        }
    }

    proptest! {
        /// Any text of the fast path's shape (digits anywhere in range or out of it) reads as
        /// chrono reads it, value or error.
        #[test]
        fn parse_utc_is_chronos_reading(
            y in 0u32..=9999, mo in 0u32..=19, d in 0u32..=39,
            h in 0u32..=29, mi in 0u32..=69, s in 0u32..=69,
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            prop_assert_eq!(
                parse_utc(&text).map_err(|e| e.to_string()),
                chrono_utc(&text).map_err(|e| e.to_string())
            );
        }

        /// Any text of the fast path's shape with a fraction of 0 to 11 digits (past 9,
        /// chrono's) reads as chrono reads it.
        #[test]
        fn parse_utc_with_a_fraction_is_chronos_reading(
            y in 0u32..=9999, mo in 1u32..=12, d in 1u32..=31,
            h in 0u32..=23, mi in 0u32..=59, s in 0u32..=60,
            fraction in "[0-9]{0,11}",
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{fraction}Z");
            prop_assert_eq!(
                parse_utc(&text).map_err(|e| e.to_string()),
                chrono_utc(&text).map_err(|e| e.to_string())
            );
        }

        /// Any time (leap seconds included) is written as `to_rfc3339_opts(Secs, true)`
        /// writes it.
        #[test]
        fn rfc3339_secs_of_any_time(secs in -62_000_000_000i64..253_000_000_000i64, nanos in 0u32..2_000_000_000) {
            if let Some(at) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                prop_assert_eq!(rfc3339_secs(&at), at.to_rfc3339_opts(SecondsFormat::Secs, true));
            }
        }

        /// Any text at all reads as chrono reads it.
        #[test]
        fn parse_utc_of_any_text_is_chronos(text in "[0-9TZtz:. +-]{0,24}") {
            prop_assert_eq!(
                parse_utc(&text).map_err(|e| e.to_string()),
                chrono_utc(&text).map_err(|e| e.to_string())
            );
        }

        /// Any time (leap seconds included) is written as `to_rfc3339` writes it.
        #[test]
        fn rfc3339_offset_of_any_time(secs in -62_000_000_000i64..253_000_000_000i64, nanos in 0u32..2_000_000_000) {
            if let Some(at) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                prop_assert_eq!(rfc3339_offset(&at), at.to_rfc3339());
            }
        }
    }

    #[test]
    fn rfc3339_secs_writes_what_chrono_writes_to_the_second() {
        let Some(base) = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).single() else {
            panic!("a valid date")
        };
        for at in [
            base,
            base + chrono::Duration::milliseconds(395),
            base + chrono::Duration::nanoseconds(999_999_999),
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ] {
            assert_eq!(
                rfc3339_secs(&at),
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
        }
    }

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
