//! Values read from the bytes the driver holds, where sqlx's own decode costs more per row
//! than the value: text checked as UTF-8 by a vectorised check, PostgreSQL's binary
//! timestamps, and MySQL's dates and times selected as their text (sqlx-mysql 0.9.1 formats
//! a temporal column's description with `{:?}` for every row it reads, a message built for
//! an error it then drops: ~7k instructions a row a column; a column selected as text is not
//! described that way). Each reads a value as sqlx reads it, except the dates and times the
//! server holds that chrono cannot (MySQL's `2025-01-00`, PostgreSQL's `infinity`), which
//! sqlx fails on and the connector keeps as the server's text (review16 F1, F2).

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Why column `i` could not be decoded, as sqlx's `try_get_unchecked` says it (both drivers'
/// messages).
pub(crate) fn column_error(i: usize, source: sqlx::error::BoxDynError) -> String {
    sqlx::Error::ColumnDecode {
        index: format!("{i:?}"),
        source,
    }
    .to_string()
}

/// `bytes` as text when they are UTF-8: the same answer as `std::str::from_utf8`, checked by
/// `simdutf8` (vector instructions where the CPU has them), a third of std's instructions on
/// a 250-byte body. `None`: let the caller's own decode say why.
pub(crate) fn text(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

/// Microseconds from PostgreSQL's epoch (2000-01-01) to the Unix epoch's.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A PostgreSQL `timestamp` or `timestamptz` in the binary format (eight bytes, big-endian
/// microseconds since 2000-01-01) as the time it names, the value sqlx's decode gives;
/// `None` for anything else (another length, `infinity`, a time past chrono's range), which
/// the caller leaves to sqlx.
#[cfg_attr(not(feature = "postgresql"), allow(dead_code))]
pub(crate) fn pg_timestamp(bytes: &[u8]) -> Option<NaiveDateTime> {
    let micros = i64::from_be_bytes(*bytes.first_chunk::<8>()?);
    if bytes.len() != 8 {
        return None;
    }
    DateTime::from_timestamp_micros(micros.checked_add(PG_EPOCH_MICROS)?).map(|t| t.naive_utc())
}

/// What a MySQL `DATE`, `DATETIME` or `TIMESTAMP` selected as its text holds
/// ([`my_datetime`]).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MyTemporal {
    /// An all-zero value (MySQL's zero date, which the server sends in the binary format as
    /// no bytes): sqlx takes it for a NULL, and so does the connector.
    Zero,
    /// A date and time of the calendar.
    At(NaiveDateTime),
    /// A value the server holds that names no day of the calendar (review16 F1): a day or
    /// month 0 (`2025-01-00`, accepted by MariaDB's default `sql_mode`), a day past its
    /// month's end (`2025-02-30` under `ALLOW_INVALID_DATES`), the zero date with a time
    /// (`0000-00-00 10:00:00`). sqlx's binary read fails on them ("server returned invalid
    /// date"); the connector keeps the server's text instead, and such a value is no time as
    /// a cursor.
    NoDay,
}

/// A MySQL `DATE`, `DATETIME` or `TIMESTAMP` selected as its text (`YYYY-MM-DD`, then
/// ` hh:mm:ss` and up to six digits of a second's fraction after a `.`), as sqlx reads the
/// same value in the binary format where sqlx reads it at all ([`MyTemporal`]). `Err`: text of
/// another shape (none the server writes).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn my_datetime(text: &[u8]) -> Result<MyTemporal, String> {
    let shape = || {
        format!(
            "expected a date and time as `YYYY-MM-DD hh:mm:ss.ffffff`, got `{}`",
            String::from_utf8_lossy(text)
        )
    };
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        text.get(range)?.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let field = |range, sep: Option<(usize, u8)>| {
        if let Some((at, b)) = sep
            && text.get(at) != Some(&b)
        {
            return None;
        }
        digits(range)
    };
    let (Some(year), Some(month), Some(day)) = (
        field(0..4, None),
        field(5..7, Some((4, b'-'))),
        field(8..10, Some((7, b'-'))),
    ) else {
        return Err(shape());
    };
    let (hour, minute, second, micros) = if text.len() == 10 {
        (0, 0, 0, 0)
    } else {
        let (Some(h), Some(m), Some(s)) = (
            field(11..13, Some((10, b' '))),
            field(14..16, Some((13, b':'))),
            field(17..19, Some((16, b':'))),
        ) else {
            return Err(shape());
        };
        let micros = match text.len() {
            19 => 0,
            21..=26 if text.get(19) == Some(&b'.') => {
                let f = digits(20..text.len()).ok_or_else(shape)?;
                // `.5` is 500000 microseconds.
                f * 10u32.pow(26 - text.len() as u32)
            }
            _ => return Err(shape()),
        };
        (h, m, s, micros)
    };
    if (year, month, day, hour, minute, second, micros) == (0, 0, 0, 0, 0, 0, 0) {
        return Ok(MyTemporal::Zero);
    }
    Ok(NaiveDate::from_ymd_opt(year as i32, month, day)
        .and_then(|d| d.and_hms_micro_opt(hour, minute, second, micros))
        .map_or(MyTemporal::NoDay, MyTemporal::At))
}

/// PostgreSQL's `infinity` or `-infinity` (its own spelling) when `bytes` are a binary
/// `timestamp`, `timestamptz` (eight bytes, `i64::MAX` / `i64::MIN`) or `date` (four bytes,
/// `i32::MAX` / `i32::MIN`) holding one: values chrono cannot hold, which sqlx's decode
/// fails on (review16 F2); the connector keeps them as that text.
#[cfg_attr(not(feature = "postgresql"), allow(dead_code))]
pub(crate) fn pg_infinity(bytes: &[u8]) -> Option<&'static str> {
    const INFINITY: &[(&[u8], &str)] = &[
        (&i64::MAX.to_be_bytes(), "infinity"),
        (&i64::MIN.to_be_bytes(), "-infinity"),
        (&i32::MAX.to_be_bytes(), "infinity"),
        (&i32::MIN.to_be_bytes(), "-infinity"),
    ];
    INFINITY
        .iter()
        .find(|(b, _)| *b == bytes)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    /// Valid and invalid UTF-8 alike: the answer std gives.
    #[test]
    fn text_is_std_s_answer() {
        let long = "long \u{e9}".repeat(50);
        let cases: [&[u8]; 8] = [
            b"",
            b"plain ascii",
            "h\u{e9}llo w\u{f6}rld \u{1f600}".as_bytes(),
            b"\xff",
            b"ab\xc3",
            b"\xed\xa0\x80 surrogate",
            &[b'a'; 300],
            long.as_bytes(),
        ];
        for bytes in cases {
            assert_eq!(text(bytes), std::str::from_utf8(bytes).ok(), "{bytes:?}");
        }
        let mut cut = "x".repeat(200).into_bytes();
        cut.push(0x80);
        assert_eq!(text(&cut), None);
    }

    /// What sqlx-postgres computes: 2000-01-01 plus the microseconds, checked; the edges
    /// (infinity, past chrono's years) come back `None` and go to sqlx.
    #[test]
    fn pg_timestamps_are_sqlx_s() {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        let mut x: i64 = 0x9e37_79b9_7f4a_7c15_u64 as i64;
        let mut micros = vec![
            0,
            1,
            -1,
            789_000_000_000,
            -946_684_800_000_000,
            -946_684_800_000_001,
            i64::MAX,
            i64::MIN,
        ];
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Years within a few thousand of 2000, and any i64 at all.
            micros.push(x % 200_000_000_000_000_000);
            micros.push(x);
        }
        for us in micros {
            let want = epoch.checked_add_signed(TimeDelta::microseconds(us));
            let got = pg_timestamp(&us.to_be_bytes());
            if got.is_some() {
                assert_eq!(got, want, "{us}");
            }
            if us.unsigned_abs() < 200_000_000_000_000_000 {
                assert_eq!(got, want, "{us} is in range");
            }
        }
        assert_eq!(pg_timestamp(&[0; 7]), None);
        assert_eq!(pg_timestamp(&[0; 9]), None);
    }

    /// The text of every shape the server writes, read as the binary value would be (a value
    /// sqlx could not read: [`MyTemporal::NoDay`]).
    #[test]
    fn my_datetimes_read_as_the_binary_values() {
        let at = |y, mo, d, h, mi, s, us| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|d| d.and_hms_micro_opt(h, mi, s, us))
                .unwrap_or_default()
        };
        let ok = [
            ("2025-01-02", at(2025, 1, 2, 0, 0, 0, 0)),
            ("2025-01-02 03:04:05", at(2025, 1, 2, 3, 4, 5, 0)),
            ("2025-01-02 03:04:05.120", at(2025, 1, 2, 3, 4, 5, 120_000)),
            ("2025-01-02 03:04:05.5", at(2025, 1, 2, 3, 4, 5, 500_000)),
            ("2025-01-02 03:04:05.000001", at(2025, 1, 2, 3, 4, 5, 1)),
            (
                "2025-01-02 23:59:59.999999",
                at(2025, 1, 2, 23, 59, 59, 999_999),
            ),
            ("9999-12-31 23:59:59", at(9999, 12, 31, 23, 59, 59, 0)),
            ("0000-01-01", at(0, 1, 1, 0, 0, 0, 0)),
            ("1000-01-01 00:00:00.000000", at(1000, 1, 1, 0, 0, 0, 0)),
        ];
        for (text, want) in ok {
            assert_eq!(
                my_datetime(text.as_bytes()),
                Ok(MyTemporal::At(want)),
                "{text}"
            );
        }
        for zero in [
            "0000-00-00",
            "0000-00-00 00:00:00",
            "0000-00-00 00:00:00.000",
        ] {
            assert_eq!(my_datetime(zero.as_bytes()), Ok(MyTemporal::Zero), "{zero}");
        }
        // Where sqlx's binary read said "server returned invalid date": no day.
        for no_day in [
            "0000-00-00 10:00:00.000000",
            "2025-00-00",
            "2025-01-00",
            "2025-01-00 10:00:00",
            "2025-02-30 01:00:00",
            "2024-13-01",
        ] {
            assert_eq!(
                my_datetime(no_day.as_bytes()),
                Ok(MyTemporal::NoDay),
                "{no_day}"
            );
        }
        for bad in [
            "",
            "2025-01",
            "2025/01/02",
            "2025-01-02T03:04:05",
            "2025-01-02 03:04",
            "2025-01-02 03:04:05.",
            "2025-01-02 03:04:05.1234567",
            "2025-01-02 03:04:05,1",
            "2025-01-0x",
            "+025-01-02",
        ] {
            let e = my_datetime(bad.as_bytes());
            assert!(
                e.as_ref().is_err_and(|m| m.starts_with("expected a date")),
                "{bad}: {e:?}"
            );
        }
    }

    /// PostgreSQL's infinities in both widths, and nothing else.
    #[test]
    fn pg_infinities() {
        assert_eq!(pg_infinity(&i64::MAX.to_be_bytes()), Some("infinity"));
        assert_eq!(pg_infinity(&i64::MIN.to_be_bytes()), Some("-infinity"));
        assert_eq!(pg_infinity(&i32::MAX.to_be_bytes()), Some("infinity"));
        assert_eq!(pg_infinity(&i32::MIN.to_be_bytes()), Some("-infinity"));
        for other in [
            &(i64::MAX - 1).to_be_bytes()[..],
            &0i64.to_be_bytes(),
            &0i32.to_be_bytes(),
            &i32::MAX.to_be_bytes()[..3],
            &[],
        ] {
            assert_eq!(pg_infinity(other), None, "{other:?}");
        }
    }
}
