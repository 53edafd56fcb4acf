//! Timestamps read from items: RFC 3339 and its relatives, dates, epoch numbers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::super::direct::{Field, Item};
use super::super::node::Node;

/// [`Mapping::updated_at`] read at `path` (the mapping's `poll_timestamp_field`, or the same
/// path with the slot of [`Mapping::time_alone`]'s plan).
///
/// [`Mapping::updated_at`]: super::Mapping::updated_at
/// [`Mapping::time_alone`]: super::Mapping::time_alone
pub(super) fn time_at<I: Item>(path: &Field, item: &I) -> Option<DateTime<Utc>> {
    match item.single(path) {
        Some(one) => one.and_then(parse_datetime),
        None => item.values(path).into_iter().find_map(parse_datetime),
    }
}

/// Parses a timestamp: RFC 3339 / ISO 8601 (with or without zone, `T` or space), a date, or an
/// epoch number (or numeric string) in seconds, or milliseconds when it is past 10^11 (which
/// as seconds would be the year 5138), or microseconds past 10^14.
pub(crate) fn parse_datetime<N: Node>(v: &N) -> Option<DateTime<Utc>> {
    if let Some(s) = v.str() {
        let s = s.trim();
        if let Ok(d) = DateTime::parse_from_rfc3339(s) {
            return Some(d.with_timezone(&Utc));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
        ] {
            if let Ok(d) = DateTime::parse_from_str(s, fmt) {
                return Some(d.with_timezone(&Utc));
            }
        }
        let naive = s.strip_suffix('Z').unwrap_or(s);
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
                return Some(Utc.from_utc_datetime(&d));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return d.and_hms_opt(0, 0, 0).map(|d| Utc.from_utc_datetime(&d));
        }
        return s.parse::<f64>().ok().and_then(from_epoch);
    }
    v.f64().and_then(from_epoch)
}

fn from_epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() {
        return None;
    }
    let micros = if n.abs() >= 1e14 {
        n
    } else if n.abs() >= 1e11 {
        n * 1e3
    } else {
        n * 1e6
    };
    #[allow(clippy::cast_possible_truncation)] // bounded by the range check
    let micros = (micros.abs() < 9.0e18).then_some(micros.round() as i64)?;
    DateTime::from_timestamp_micros(micros)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn epoch_seconds_millis_and_strings() {
        let want = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let secs = want.timestamp();
        assert_eq!(parse_datetime(&json!(secs)), Some(want));
        assert_eq!(parse_datetime(&json!(secs * 1000)), Some(want));
        assert_eq!(parse_datetime(&json!(secs.to_string())), Some(want));
        assert_eq!(
            parse_datetime(&json!((secs * 1000).to_string())),
            Some(want)
        );
        for s in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.000Z",
            "2026-01-02 03:04:05",
            "2026-01-02T05:04:05+02:00",
            "2026-01-02T03:04:05",
        ] {
            assert_eq!(parse_datetime(&json!(s)), Some(want), "{s}");
        }
        assert_eq!(
            parse_datetime(&json!("2026-01-02")),
            Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).single()
        );
        assert_eq!(parse_datetime(&json!("yesterday")), None);
        assert_eq!(parse_datetime(&json!(null)), None);
    }
}
