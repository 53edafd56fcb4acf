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

/// `text` read as chrono's `Deserialize` of a `DateTime<Utc>` reads it (chrono's relaxed
/// RFC 3339, any offset turned into UTC), with a fast path for `YYYY-MM-DDTHH:MM:SSZ`: the
/// form Microsoft Graph and many other APIs send every timestamp in, read here in a few dozen
/// instructions rather than through chrono's general parser (about 1,700 each). Any other
/// form, and any text the fast path does not take (a leap second, a date that does not exist),
/// goes to chrono, so the result and the error are always chrono's.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = connector_core::time::parse_utc("2026-03-01T10:00:00Z").unwrap();
/// assert_eq!(at, Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap());
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

/// `YYYY-MM-DDTHH:MM:SSZ`, every field in range (seconds up to 59); `None` otherwise.
fn fast_utc(b: &[u8]) -> Option<DateTime<Utc>> {
    let &[
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
        b'Z',
    ] = b
    else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let (month, day) = (two(m0, m1)?, two(d0, d1)?);
    let (hour, minute, second) = (two(h0, h1)?, two(i0, i1)?, two(s0, s1)?);
    if second > 59 {
        // chrono reads second 60 as a leap second: left to it.
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.and_hms_opt(hour, minute, second)?.and_utc())
}

/// Serde's `deserialize_with` of a `DateTime<Utc>` field through [`parse_utc`]: what chrono's
/// own `Deserialize` reads, with the same errors (its message and what it expects), faster
/// for `YYYY-MM-DDTHH:MM:SSZ`.
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
            "2026-03-01T10:00:00.1234567Z",
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
