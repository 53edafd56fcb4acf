//! Entry dates: feed-rs's lenient timestamp parsing, with a strict first try.
//!
//! feed-rs reads every date of a feed (`pubDate`, `updated`, `published`, `dc:date`, ...) with
//! its lenient parser, which copies the text and runs up to eleven regex replacements over it
//! before each of chrono's RFC 3339, RFC 2822 and RFC 1123 parses: a fifth of the whole feed
//! parse on the rss bench's feed. [`timestamp`] first checks that none of those replacements
//! would change the text (or only one removing a leading day name) and hands it to the same
//! chrono parse the lenient parser would reach with it; anything else, and anything chrono
//! refuses there, goes to [`lenient`], a copy of feed-rs's parser. The dates are therefore the
//! ones feed-rs gives (a test holds the two to each other over many forms); they are in every
//! document's `updated_at` and `published_at`, and in the id of an entry without `guid` or link.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;

/// An entry's date as feed-rs's default (lenient) timestamp parser reads `text`.
pub(crate) fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    strict(text).or_else(|| lenient(text))
}

/// `text` parsed where the lenient parser's regex fixes would leave it as it is (the leading
/// day name of RFC 2822 apart): the usual RFC 3339 (`2024-01-02T15:04:05Z`) and RFC 2822
/// (`Tue, 02 Jan 2024 15:04:05 +0000`, `GMT`, `EST`, no seconds, no day name) dates. `None`
/// where that is not certain or chrono refuses the text: [`lenient`] decides.
fn strict(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    // The regexes' `\d` is any Unicode digit: ASCII text only.
    if !text.is_ascii() {
        return None;
    }
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if digits(0..4) && bytes.get(4) == Some(&b'-') {
        // The lenient parser's first try, RFC 3339, after two fixes: a colon put into a
        // `+hhmm` offset (`[+-]\d{4}` anywhere), a midnight time added to a bare date
        // (`-\d{2}` at the end). With neither, it parses the text as it is.
        let offset_without_colon =
            (0..bytes.len()).any(|i| matches!(bytes[i], b'+' | b'-') && digits(i + 1..i + 5));
        let date_only = bytes.len() >= 3 && bytes[bytes.len() - 3] == b'-' && {
            let n = bytes.len();
            digits(n - 2..n)
        };
        if offset_without_colon || date_only {
            return None;
        }
        return DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    // RFC 2822: the RFC 3339 try fails on text that does not start with four digits (its
    // fixes change nothing at the start), and its own fixes change nothing in text of this
    // shape once a leading day name is dropped: an optional `Ddd, ` (the fix that drops it),
    // then `d[d] Mmm yyyy hh:mm[:ss] zone`, the month's short name (the fixes for long names
    // and for a month before its day find nothing to change), a two-digit hour other than
    // `24`, the zone `+hhmm` or `-hhmm` (not `-0000`) or up to three capitals (not `UTC`).
    let rest = match bytes.get(..5) {
        Some([a, b, c, b',', b' '])
            if [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"]
                .contains(&&[*a, *b, *c]) =>
        {
            &text[5..]
        }
        _ => text,
    };
    rfc2822_shape(rest.as_bytes())?;
    DateTime::parse_from_rfc2822(rest)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `Some` where `date` is `d[d] Mmm yyyy hh:mm[:ss] zone` as [`strict`] describes it.
fn rfc2822_shape(date: &[u8]) -> Option<()> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    // `len` digits at `at`, then `then` (if any): the position after them.
    let number = |at: usize, len: usize, then: Option<u8>| -> Option<usize> {
        let digits = date.get(at..at + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        match then {
            Some(then) => (date.get(at + len) == Some(&then)).then_some(at + len + 1),
            None => Some(at + len),
        }
    };
    let at = number(0, usize::from(date.get(1) != Some(&b' ')) + 1, Some(b' '))?;
    let month = date.get(at..at + 3)?;
    if !MONTHS.iter().any(|m| m.as_slice() == month) || date.get(at + 3) != Some(&b' ') {
        return None;
    }
    let hour = number(at + 4, 4, Some(b' '))?;
    if date.get(hour..hour + 2) == Some(b"24") {
        return None;
    }
    let mut at = number(number(hour, 2, Some(b':'))?, 2, None)?;
    if date.get(at) == Some(&b':') {
        at = number(at + 1, 2, None)?;
    }
    if date.get(at) != Some(&b' ') {
        return None;
    }
    let zone = &date[at + 1..];
    let numeric = matches!(zone.first(), Some(b'+' | b'-'))
        && zone.len() == 5
        && zone[1..].iter().all(u8::is_ascii_digit)
        && zone != b"-0000";
    let named =
        (1..=3).contains(&zone.len()) && zone.iter().all(u8::is_ascii_uppercase) && zone != b"UTC";
    (numeric || named).then_some(())
}

/// A regex replacement of feed-rs's fixes.
struct PatSub(Regex, &'static str);

fn fixes(cell: &'static OnceLock<Vec<PatSub>>, pats: &[(&str, &'static str)]) -> &'static [PatSub] {
    cell.get_or_init(|| {
        pats.iter()
            .map(|(pattern, sub)| {
                // The patterns are constants that compile (the tests run them all).
                #[allow(clippy::expect_used)]
                PatSub(Regex::new(pattern).expect("a valid pattern"), sub)
            })
            .collect()
    })
}

/// feed-rs 3.0's `parse_timestamp_lenient` (`parser/util/mod.rs`, MIT), which it does not
/// export: RFC 3339, then RFC 2822, then RFC 1123, each after regex fixes for what feeds get
/// wrong (a missing colon in an offset, `UTC`, long day and month names, a month before its
/// day, hour 24, a one-digit hour, a ` Z` zone, a missing time).
fn lenient(original: &str) -> Option<DateTime<Utc>> {
    static RFC3339: OnceLock<Vec<PatSub>> = OnceLock::new();
    static RFC2822: OnceLock<Vec<PatSub>> = OnceLock::new();
    static RFC1123: OnceLock<Vec<PatSub>> = OnceLock::new();
    let cleaned = |pats: &[PatSub]| {
        let mut cleaned = original.trim().to_string();
        for PatSub(regex, replacement) in pats {
            cleaned = regex.replace(&cleaned, *replacement).to_string();
        }
        cleaned
    };
    let rfc3339 = fixes(
        &RFC3339,
        &[
            (r"(\+|-)(\d{2})(\d{2})", "${1}${2}:${3}"),
            (r"-\d{2}$", "${0}T00:00:00+00:00"),
        ],
    );
    if let Ok(t) = DateTime::parse_from_rfc3339(cleaned(rfc3339).trim()) {
        return Some(t.with_timezone(&Utc));
    }
    let rfc2822 = fixes(
        &RFC2822,
        &[
            ("(UTC|-0000$)", "+0000"),
            ("(Sun|Mon|Tue|Wed|Thu|Fri|Sat)[a-z]*, ", ""),
            (
                "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*",
                "$1",
            ),
            (
                "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\\d{1,2}) (\\d{4})",
                "$2 $1 $3",
            ),
            (" 24:", " 00:"),
            (" ([0-9]):", " 0${1}:"),
        ],
    );
    if let Ok(t) = DateTime::parse_from_rfc2822(&cleaned(rfc2822)) {
        return Some(t.with_timezone(&Utc));
    }
    let rfc1123 = fixes(&RFC1123, &[(" Z$", " +0000"), ("^[[:alpha:]]{3}, ", "")]);
    DateTime::parse_from_str(&cleaned(rfc1123), "%d %b %Y %H:%M:%S %z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates as feeds write them: the usual forms and what the lenient parser fixes.
    const DATES: &[&str] = &[
        "Tue, 02 Jan 2024 15:04:05 +0000",
        "Tue, 02 Jan 2024 15:04:05 GMT",
        "Tue, 02 Jan 2024 15:04:05 UT",
        "Tue, 02 Jan 2024 15:04:05 Z",
        "Tue, 02 Jan 2024 15:04:05 z",
        "Tue, 02 Jan 2024 15:04:05 UTC",
        "Tue, 02 Jan 2024 15:04:05 -0000",
        "Tue, 02 Jan 2024 15:04:05 -0500",
        "Tue, 02 Jan 2024 15:04:05 +0530",
        "Tue, 02 Jan 2024 15:04:05 +05:30",
        "Tue, 02 Jan 2024 15:04:05 EST",
        "Tue, 02 Jan 2024 15:04:05 EDT",
        "Tue, 02 Jan 2024 15:04:05 PDT",
        "Tue, 02 Jan 2024 15:04:05 PST",
        "Tue, 02 Jan 2024 15:04:05 CET",
        "Tue, 02 Jan 2024 15:04:05 A",
        "Tue, 02 Jan 2024 15:04:05 +2400",
        "Tue, 02 Jan 2024 15:04:05 +0099",
        "Tue, 02 Jan 2024 15:04 +0000",
        "Tue, 02 Jan 2024 15:04:05.123 +0000",
        "Tue, 02 Jan 2024 15:04:60 +0000",
        "Tue, 2 Jan 2024 15:04:05 +0000",
        "Tue, 02 Jan 24 15:04:05 +0000",
        "Tue, 02 Jan 2024 5:04:05 +0000",
        "Tue, 02 Jan 2024 24:04:05 +0000",
        "Tue, 02 Jan 2024 25:04:05 +0000",
        "Tue, 31 Feb 2024 15:04:05 +0000",
        "Tue, 29 Feb 2023 15:04:05 +0000",
        "Thu, 29 Feb 2024 15:04:05 +0000",
        "Wed, 02 Jan 2024 15:04:05 +0000",
        "Tuesday, 02 Jan 2024 15:04:05 +0000",
        "Thurs, 02 Jan 2024 15:04:05 +0000",
        "tue, 02 Jan 2024 15:04:05 +0000",
        "TUE, 02 Jan 2024 15:04:05 +0000",
        "Tue 02 Jan 2024 15:04:05 +0000",
        "Tue,02 Jan 2024 15:04:05 +0000",
        "Tue, 02 January 2024 15:04:05 +0000",
        "Tue, 02 jan 2024 15:04:05 +0000",
        "Tue, 02 JAN 2024 15:04:05 +0000",
        "Tue, Jan 02 2024 15:04:05 +0000",
        "Jan 2 2024 15:04:05 +0000",
        "02 Jan 2024 15:04:05 +0000",
        "2 Jan 2024 15:04:05 GMT",
        "02 Jan 2024 15:04:05",
        "  Tue, 02 Jan 2024 15:04:05 +0000\n",
        "Tue,  02 Jan 2024 15:04:05 +0000",
        "Tue, 02  Jan 2024 15:04:05 +0000",
        "Tue, 02 Jan 2024 15:04:05  +0000",
        "Tue, 02 Jan 2024 15:04:05 +0000 (UTC)",
        "Tue, 02 Jan 2024 15:04:05 GMT+1",
        "Tue, 02 Jan 2024 15:04:05 +000",
        "Tue, 02 Jan 2024",
        "Tue, 02 Jan 2024 15:04:05 Z ",
        "Di, 02 Jan 2024 15:04:05 +0000",
        "Tue, 02 Jan 2024 15:04:05 ＋0000",
        "Tue, ０2 Jan 2024 15:04:05 +0000",
        "2024-01-02T15:04:05Z",
        "2024-01-02T15:04:05z",
        "2024-01-02t15:04:05Z",
        "2024-01-02 15:04:05Z",
        "2024-01-02T15:04:05+00:00",
        "2024-01-02T15:04:05-07:00",
        "2024-01-02T15:04:05+0100",
        "2024-01-02T15:04:05-0000",
        "2024-01-02T15:04:05.123456789Z",
        "2024-01-02T15:04:05.5+01:00",
        "2024-01-02T15:04:05,5Z",
        "2024-01-02T15:04Z",
        "2024-01-02T15:04:05",
        "2024-01-02T15:04:60Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02",
        "2024-01-2",
        "2024-1-02T15:04:05Z",
        "2024-01-02T15:04:05+01",
        "2024-01-02T15:04:05 +01:00",
        " 2024-01-02T15:04:05Z ",
        "2024-02-30T15:04:05Z",
        "2024-01-02T15:04:05+24:00",
        "2024-01-02T15:04:05Z2024-01-02",
        "12024-01-02T15:04:05Z",
        "2024-01-02T15:04:05＋01:00",
        "15 Nov 2022 20:15:04 Z",
        "Tue, 15 Nov 2022 20:15:04 Z",
        "Fri, 15 Nov 2022 20:15:04 Z",
        "",
        " ",
        "yesterday",
        "1704207845",
    ];

    type Date = Option<DateTime<Utc>>;

    /// Each date through feed-rs's default parser and through one with [`timestamp`], as
    /// the `pubDate` of an item (XML-escaped) and an Atom entry's `updated`.
    fn both(dates: &[String]) -> (Vec<Date>, Vec<Date>) {
        let escape = |d: &str| d.replace('&', "&amp;").replace('<', "&lt;");
        let mut rss = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        let mut atom =
            String::from("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>f</id>");
        for (i, date) in dates.iter().enumerate() {
            rss.push_str(&format!(
                "<item><guid>{i}</guid><pubDate>{}</pubDate></item>",
                escape(date)
            ));
            atom.push_str(&format!(
                "<entry><id>{i}</id><title>x</title><updated>{}</updated></entry>",
                escape(date)
            ));
        }
        rss.push_str("</channel></rss>");
        atom.push_str("</feed>");
        let read = |parser: feed_rs::parser::Parser, xml: &str| {
            let feed = parser
                .parse(xml.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(feed.entries.len(), dates.len());
            feed.entries
                .into_iter()
                .map(|e| e.published.or(e.updated))
                .collect::<Vec<_>>()
        };
        let mut theirs = read(feed_rs::parser::Builder::new().build(), &rss);
        let mut ours = read(
            feed_rs::parser::Builder::new()
                .timestamp_parser(timestamp)
                .build(),
            &rss,
        );
        theirs.extend(read(feed_rs::parser::Builder::new().build(), &atom));
        ours.extend(read(
            feed_rs::parser::Builder::new()
                .timestamp_parser(timestamp)
                .build(),
            &atom,
        ));
        (theirs, ours)
    }

    #[test]
    fn dates_are_feed_rss_own() {
        let dates: Vec<String> = DATES.iter().map(|d| (*d).to_owned()).collect();
        let (theirs, ours) = both(&dates);
        let n = dates.len();
        for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
            assert_eq!(t, o, "{:?}", dates[i % n]);
        }
        // The copy of the lenient parser on its own, too.
        for date in DATES {
            assert_eq!(lenient(date), {
                let (t, _) = both(&[(*date).to_owned()]);
                t[0]
            });
        }
    }

    /// Dates built from pieces (day names, days, months, years, times, zones), every
    /// combination: the fast path agrees with feed-rs wherever it answers.
    #[test]
    fn generated_dates_are_feed_rss_own() {
        let mut dates = Vec::new();
        for weekday in ["", "Tue, ", "Wed, ", "Tuesday, ", "Mon,"] {
            for day in ["02", "2", "31", "002"] {
                for month in ["Jan", "Feb", "January", "jan", "Sept"] {
                    for year in ["2024", "24", "99999"] {
                        for time in ["15:04:05", "15:04", "5:04:05", "24:00:00", "23:59:60"] {
                            for zone in [
                                "+0000", "GMT", "UTC", "-0000", "EST", "PDT", "Z", "+05:30",
                                "-1130", "",
                            ] {
                                dates.push(format!("{weekday}{day} {month} {year} {time} {zone}"));
                            }
                        }
                    }
                }
            }
        }
        for date in ["2024-01-02", "2024-02-29", "2023-02-29", "0000-01-01"] {
            for time in [
                "",
                "T15:04:05",
                "T15:04:05.25",
                "T23:59:60",
                " 15:04:05",
                "T15:04",
            ] {
                for zone in [
                    "", "Z", "+01:00", "+0100", "-00:00", "-0000", "+1", "-23:59",
                ] {
                    dates.push(format!("{date}{time}{zone}"));
                }
            }
        }
        let (theirs, ours) = both(&dates);
        let n = dates.len();
        for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
            assert_eq!(t, o, "{:?}", dates[i % n]);
        }
        let taken = dates.iter().filter(|d| strict(d).is_some()).count();
        assert!(taken > 300, "{taken} of {n} taken by the strict parse");
    }

    #[test]
    fn the_usual_dates_take_the_strict_parse() {
        for date in [
            "Tue, 02 Jan 2024 15:04:05 +0000",
            "Tue, 02 Jan 2024 15:04:05 GMT",
            "Tue, 02 Jan 2024 15:04:05 -0500",
            "Tue, 02 Jan 2024 15:04:05 EST",
            "Tue, 02 Jan 2024 15:04:05 PDT",
            "Tue, 02 Jan 2024 15:04 +0000",
            "Tue, 2 Jan 2024 15:04:05 Z",
            "02 Jan 2024 15:04:05 +0000",
            "2024-01-02T15:04:05Z",
            "2024-01-02T15:04:05+01:00",
            "2024-01-02T15:04:05.123456Z",
            " 2024-01-02T15:04:05-07:00\n",
        ] {
            assert!(strict(date).is_some(), "{date:?}");
            assert_eq!(strict(date), lenient(date), "{date:?}");
        }
        // What the lenient parser's fixes change (or might): left to it.
        for date in [
            "Tue, 02 Jan 2024 15:04:05 UTC",
            "Tue, 02 Jan 2024 15:04:05 -0000",
            "Tuesday, 02 Jan 2024 15:04:05 +0000",
            "Tue, 02 January 2024 15:04:05 +0000",
            "Tue, 02 Jan 2024 24:00:00 +0000",
            "Tue, 02 Jan 2024 5:04:05 +0000",
            "2024-01-02T15:04:05+0100",
            "2024-01-02",
            "Tue, 02 Jan 2024 15:04:05 ＋0000",
        ] {
            assert_eq!(strict(date), None, "{date:?}");
        }
    }
}
