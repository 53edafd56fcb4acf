//! [`CoarseWindow`]: a [`TimeWindow`] queried at a service's coarse precision in its zone.
//!
//! Jira's JQL and Confluence's CQL compare dates as wall-clock text (`yyyy-MM-dd HH:mm`) read
//! in the site's or the user's time zone. A connector asks such a service for a superset of
//! the window (the bounds floored to the precision and widened) and keeps exactly the items in
//! the window with [`CoarseWindow::contains`].

use std::fmt;

#[cfg(feature = "tz")]
use chrono::TimeZone;
use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, Offset, TimeDelta, Timelike, Utc};

use super::TimeWindow;

/// The widest a UTC offset gets either way. Zones in use span −12:00 to +14:00; ±14 h is the
/// symmetric bound an unknown zone is widened by.
const MAX_OFFSET: TimeDelta = TimeDelta::hours(14);

/// The margin before a lower bound, kept from both connectors' first versions: the service's
/// clock and its copy of the zone rules may differ from ours by a little.
const MARGIN: TimeDelta = TimeDelta::minutes(1);

/// Corrections tried around a clock change before falling back to the unknown-zone bound (one
/// or two suffice in every zone the tests walk through).
const MAX_STEPS: usize = 8;

/// The time zone a service reads wall-clock dates in.
///
/// - a named IANA zone (`Europe/Berlin`), with its daylight saving rules (feature `tz`);
/// - a fixed offset from UTC (a configured `timezone_offset`, `UTC`, `GMT+2`, `+05:30`);
/// - unknown: bounds are widened by the maximum offset spread, 14 hours each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Repr);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    #[cfg(feature = "tz")]
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
    Unknown,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Self(Repr::Fixed(Utc.fix()))
    }

    /// A fixed offset from UTC.
    pub fn fixed(offset: FixedOffset) -> Self {
        Self(Repr::Fixed(offset))
    }

    /// A fixed offset given in hours east of UTC (`5.5` for India), rounded to the second;
    /// `None` unless it is finite and within ±14 hours.
    pub fn from_offset_hours(hours: f64) -> Option<Self> {
        if !hours.is_finite() || hours.abs() > 14.0 {
            return None;
        }
        // Within ±50 400 seconds, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let secs = (hours * 3600.0).round() as i32;
        FixedOffset::east_opt(secs).map(Self::fixed)
    }

    /// The zone a service names: a fixed-offset spelling (`UTC`, `GMT`, `Z`, `Etc/UTC`,
    /// `UTC+2`, `GMT-03:30`, `+05:30`, POSIX-style `Etc/GMT+5` = five hours *behind* UTC) or,
    /// with feature `tz`, an IANA zone name (`Europe/Berlin`). `None` when it is neither.
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim();
        if let Some(offset) = fixed_offset(name) {
            return Some(Self::fixed(offset));
        }
        #[cfg(feature = "tz")]
        if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
            return Some(Self(Repr::Named(tz)));
        }
        None
    }

    /// A zone nobody told us: bounds are widened by 14 hours each way.
    pub fn unknown() -> Self {
        Self(Repr::Unknown)
    }

    /// Whether this is [`Zone::unknown`].
    pub fn is_unknown(&self) -> bool {
        self.0 == Repr::Unknown
    }

    /// The offset in effect at `t`; `None` for an unknown zone.
    // Without named zones every offset is the same at any `t`.
    #[cfg_attr(not(feature = "tz"), allow(unused_variables))]
    fn offset_at(&self, t: DateTime<Utc>) -> Option<TimeDelta> {
        let secs = match self.0 {
            #[cfg(feature = "tz")]
            Repr::Named(tz) => tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
            Repr::Fixed(offset) => offset.local_minus_utc(),
            Repr::Unknown => return None,
        };
        Some(TimeDelta::seconds(i64::from(secs)))
    }

    /// The wall-clock time `t` reads as here; `None` for an unknown zone (or out of range).
    pub fn wall_clock(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        t.naive_utc().checked_add_signed(self.offset_at(t)?)
    }

    /// The instant the wall-clock time `local` denotes here: the earlier of two around a
    /// clock change that repeats an hour; in an hour the clock skips, the offset in effect
    /// before it. `None` for an unknown zone (or out of range). The inverse of
    /// [`wall_clock`](Self::wall_clock) outside skipped hours.
    pub fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        if self.is_unknown() {
            return None;
        }
        if let Some((earliest, _)) = self.readings(local) {
            return Some(earliest);
        }
        let before = self.offset_at(local.checked_sub_signed(TimeDelta::days(1))?.and_utc())?;
        Some(local.checked_sub_signed(before)?.and_utc())
    }

    /// The earliest and the latest instant the wall-clock time `local` can denote here
    /// (two around a clock change that repeats an hour); `None` when the clock skips it
    /// (or it is out of range). In an unknown zone: any offset within ±14 hours.
    fn readings(&self, local: NaiveDateTime) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.0 {
            #[cfg(feature = "tz")]
            Repr::Named(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => Some((t.to_utc(), t.to_utc())),
                chrono::LocalResult::Ambiguous(a, b) => {
                    let (a, b) = (a.to_utc(), b.to_utc());
                    Some((a.min(b), a.max(b)))
                }
                chrono::LocalResult::None => None,
            },
            Repr::Fixed(offset) => {
                let t = local.checked_sub_offset(offset)?.and_utc();
                Some((t, t))
            }
            Repr::Unknown => Some((
                local.checked_sub_signed(MAX_OFFSET)?.and_utc(),
                local.checked_add_signed(MAX_OFFSET)?.and_utc(),
            )),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            #[cfg(feature = "tz")]
            Repr::Named(tz) => f.write_str(tz.name()),
            Repr::Fixed(offset) => write!(f, "UTC{offset}"),
            Repr::Unknown => f.write_str("unknown zone"),
        }
    }
}

/// `UTC`, `GMT+2`, `+05:30`, `Etc/GMT-3` ...: the offset of a zone spelled as one.
fn fixed_offset(zone: &str) -> Option<FixedOffset> {
    if matches!(
        zone,
        "UTC"
            | "GMT"
            | "Z"
            | "Etc/UTC"
            | "Etc/GMT"
            | "Etc/Universal"
            | "Universal"
            | "Zulu"
            | "Etc/Zulu"
    ) {
        return FixedOffset::east_opt(0);
    }
    // POSIX-style Etc/GMT+5 is five hours *behind* UTC.
    let (rest, sign) = if let Some(r) = zone.strip_prefix("Etc/GMT") {
        (r, -1)
    } else {
        let r = zone
            .strip_prefix("UTC")
            .or_else(|| zone.strip_prefix("GMT"))
            .unwrap_or(zone);
        (r, 1)
    };
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'+') => (false, &rest[1..]),
        Some(b'-') => (true, &rest[1..]),
        _ => return None,
    };
    let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
    let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
    if !(0..60).contains(&m) {
        return None;
    }
    let minutes = h.checked_mul(60)?.checked_add(m)?;
    if minutes > 14 * 60 {
        return None;
    }
    let minutes = if negative { -minutes } else { minutes } * sign;
    FixedOffset::east_opt(minutes * 60)
}

/// The step a service compares dates at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Precision {
    /// Minutes, written `yyyy-MM-dd HH:mm` (JQL, CQL).
    Minute,
    /// Days, written `yyyy-MM-dd`.
    Day,
}

impl Precision {
    fn step(self) -> TimeDelta {
        match self {
            Self::Minute => TimeDelta::minutes(1),
            Self::Day => TimeDelta::days(1),
        }
    }

    fn floor(self, t: NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Minute => {
                let time = NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).unwrap_or(t.time());
                t.date().and_time(time)
            }
            Self::Day => t.date().and_time(NaiveTime::MIN),
        }
    }

    /// The `strftime` pattern of a date at this precision.
    pub fn pattern(self) -> &'static str {
        match self {
            Self::Minute => "%Y-%m-%d %H:%M",
            Self::Day => "%Y-%m-%d",
        }
    }
}

/// A [`TimeWindow`] as a service with coarse dates sees it: query with the widened bounds,
/// then keep exactly what [`contains`](CoarseWindow::contains) accepts.
///
/// The bounds are wall-clock text in the service's [`Zone`] at its [`Precision`], widened so
/// the service's reading of them never cuts off an instant of the window:
///
/// - [`lower_bound`](CoarseWindow::lower_bound): the start a minute earlier, floored to the
///   precision (`10:00:45` → `09:59` at minute precision);
/// - [`upper_bound`](CoarseWindow::upper_bound) (for an inclusive `<=`): the end floored and
///   one step later (`11:00:00` → `11:01`).
///
/// Around a daylight saving change a wall-clock time can mean two instants (the repeated hour)
/// or none (the skipped one). A bound is checked against every reading and moved further out
/// by the offset difference until all of them lie outside the window, so an item is never
/// missed whichever way the service resolves it. In an unknown zone the bounds are widened by
/// the maximum offset spread, 14 hours each way, which is right for every zone on Earth.
///
/// ```
/// use chrono::{DateTime, Utc};
/// use connector_core::window::{CoarseWindow, Precision, TimeWindow, Zone};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let start: DateTime<Utc> = "2026-01-15T10:00:45Z".parse()?;
/// let end: DateTime<Utc> = "2026-01-15T11:00:00Z".parse()?;
/// let window = TimeWindow::new(start, end)?;
///
/// // A site one hour east of UTC (with feature `tz`: `Zone::named("Europe/Berlin")`).
/// let zone = Zone::named("GMT+1").ok_or("not a zone")?;
/// let coarse = CoarseWindow::new(window, zone, Precision::Minute);
/// let jql = format!("updated >= \"{}\"", coarse.lower_bound());
/// assert_eq!(jql, "updated >= \"2026-01-15 10:59\"");
/// assert_eq!(coarse.upper_bound(), "2026-01-15 12:01");
///
/// // The query returns a little more; the exact filter keeps the window.
/// assert!(!coarse.contains("2026-01-15T10:00:30Z".parse()?));
/// assert!(coarse.contains(start));
///
/// // Zone unknown: 14 hours wider on each side.
/// let blind = CoarseWindow::new(window, Zone::unknown(), Precision::Minute);
/// assert_eq!(blind.lower_bound(), "2026-01-14 19:59");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoarseWindow {
    window: TimeWindow,
    zone: Zone,
    precision: Precision,
}

impl CoarseWindow {
    /// `window` as a service reading dates in `zone` at `precision` sees it.
    pub fn new(window: TimeWindow, zone: Zone, precision: Precision) -> Self {
        Self {
            window,
            zone,
            precision,
        }
    }

    /// The exact window.
    pub fn window(&self) -> TimeWindow {
        self.window
    }

    /// The zone the bounds are written in.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The precision the bounds are written at.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The widened start as wall-clock text in the zone (`2026-01-15 09:59`): every reading
    /// of it is at or before the window's start, so `date >= bound` misses nothing.
    pub fn lower_bound(&self) -> String {
        self.render(self.lower_local())
    }

    /// The widened end as wall-clock text in the zone (`2026-01-15 11:01`): every reading of
    /// it is at or after the window's end, so `date <= bound` misses nothing.
    pub fn upper_bound(&self) -> String {
        self.render(self.upper_local())
    }

    /// Whether `t` is in the exact window: the filter over what the widened query returned.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.window.contains(t)
    }

    fn render(&self, local: NaiveDateTime) -> String {
        local.format(self.precision.pattern()).to_string()
    }

    fn lower_local(&self) -> NaiveDateTime {
        let start = self.window.start;
        let unknown = || {
            start
                .naive_utc()
                .checked_sub_signed(MAX_OFFSET + MARGIN)
                .map_or(NaiveDateTime::MIN, |t| self.precision.floor(t))
        };
        let mut t = start;
        for _ in 0..MAX_STEPS {
            let Some(offset) = self.zone.offset_at(t) else {
                break;
            };
            let Some(local) = t.naive_utc().checked_add_signed(offset - MARGIN) else {
                break;
            };
            let candidate = self.precision.floor(local);
            t = match self.zone.readings(candidate) {
                Some((_, latest)) if latest <= start => return candidate,
                // The repeated hour: read the later way it is past the start. Move back by
                // the excess (the offset difference, give or take the floor).
                Some((_, latest)) => match t.checked_sub_signed(latest - start) {
                    Some(earlier) => earlier,
                    None => break,
                },
                // The skipped hour: read with the offset of `t` (after the change) it is
                // just before the change, whose wall clock is on the near side of the gap.
                None => match candidate.checked_sub_signed(offset) {
                    Some(before) => before.and_utc(),
                    None => break,
                },
            };
        }
        unknown()
    }

    fn upper_local(&self) -> NaiveDateTime {
        let end = self.window.end;
        let step = self.precision.step();
        let unknown = || {
            end.naive_utc()
                .checked_add_signed(MAX_OFFSET)
                .and_then(|t| self.precision.floor(t).checked_add_signed(step))
                .unwrap_or(NaiveDateTime::MAX)
        };
        let mut t = end;
        for _ in 0..MAX_STEPS {
            let Some(offset) = self.zone.offset_at(t) else {
                break;
            };
            let Some(candidate) = t
                .naive_utc()
                .checked_add_signed(offset)
                .and_then(|local| self.precision.floor(local).checked_add_signed(step))
            else {
                break;
            };
            t = match self.zone.readings(candidate) {
                Some((earliest, _)) if earliest >= end => return candidate,
                Some((earliest, _)) => match t.checked_add_signed(end - earliest) {
                    Some(later) => later,
                    None => break,
                },
                // Read with the offset of `t` (before the change) it is just after the change.
                None => match candidate.checked_sub_signed(offset) {
                    Some(after) => after.and_utc(),
                    None => break,
                },
            };
        }
        unknown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn window(start: &str, end: &str) -> TimeWindow {
        TimeWindow::new(utc(start), utc(end)).unwrap()
    }

    fn lower(zone: Zone, start: &str) -> String {
        let w = TimeWindow::new(utc(start), utc(start)).unwrap();
        CoarseWindow::new(w, zone, Precision::Minute).lower_bound()
    }

    fn upper(zone: Zone, end: &str) -> String {
        let w = TimeWindow::new(utc(end), utc(end)).unwrap();
        CoarseWindow::new(w, zone, Precision::Minute).upper_bound()
    }

    #[test]
    #[cfg(feature = "tz")]
    fn wall_clock_and_instant_are_inverse_outside_skipped_hours() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let t = utc("2025-03-01T09:00:00Z");
        let local = berlin.wall_clock(t).unwrap();
        assert_eq!(local.to_string(), "2025-03-01 10:00:00");
        assert_eq!(berlin.instant(local), Some(t));
        // 02:30 on 2025-03-30 does not exist in Berlin: read at the winter offset.
        let gap = NaiveDateTime::parse_from_str("2025-03-30 02:30", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(berlin.instant(gap), Some(utc("2025-03-30T01:30:00Z")));
        // 02:30 on 2025-10-26 happens twice: the earlier.
        let twice = NaiveDateTime::parse_from_str("2025-10-26 02:30", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(berlin.instant(twice), Some(utc("2025-10-26T00:30:00Z")));
        assert_eq!(Zone::unknown().instant(gap), None);
        assert_eq!(Zone::unknown().wall_clock(t), None);
    }

    /// A bound as the service reads it back.
    fn parse(text: &str, precision: Precision) -> NaiveDateTime {
        match precision {
            Precision::Minute => NaiveDateTime::parse_from_str(text, precision.pattern()),
            Precision::Day => chrono::NaiveDate::parse_from_str(text, precision.pattern())
                .map(|d| d.and_time(NaiveTime::MIN)),
        }
        .unwrap()
    }

    /// Every reading of `text` in `zone` is at or before `start`.
    fn read_back_before(zone: Zone, precision: Precision, text: &str, start: DateTime<Utc>) {
        let local = parse(text, precision);
        let (_, latest) = zone.readings(local).expect("a wall-clock time that exists");
        assert!(
            latest <= start,
            "{text} in {zone} reads as {latest} > {start}"
        );
    }

    #[test]
    fn minute_before_in_a_fixed_zone() {
        assert_eq!(
            lower(Zone::utc(), "2026-01-15T10:00:45Z"),
            "2026-01-15 09:59"
        );
        assert_eq!(
            lower(Zone::utc(), "2026-01-15T10:00:00Z"),
            "2026-01-15 09:59"
        );
        let minus5 = Zone::from_offset_hours(-5.0).unwrap();
        assert_eq!(lower(minus5, "2026-01-15T10:00:00Z"), "2026-01-15 04:59");
        let plus1 = Zone::from_offset_hours(1.0).unwrap();
        assert_eq!(lower(plus1, "2026-03-01T10:15:30Z"), "2026-03-01 11:14");
        assert_eq!(upper(plus1, "2026-03-01T11:00:00Z"), "2026-03-01 12:01");
        assert_eq!(
            upper(Zone::utc(), "2026-03-02T10:00:30Z"),
            "2026-03-02 10:01"
        );
    }

    #[test]
    fn unknown_zone_is_widened_by_fourteen_hours() {
        let w = window("2026-03-01T10:15:30Z", "2026-03-01T11:00:00Z");
        let c = CoarseWindow::new(w, Zone::unknown(), Precision::Minute);
        assert_eq!(c.lower_bound(), "2026-02-28 20:14");
        assert_eq!(c.upper_bound(), "2026-03-02 01:01");
        assert!(Zone::unknown().is_unknown());
        // Right for the zones furthest east and west.
        for zone in ["+14:00", "-12:00", "UTC"] {
            let zone = Zone::named(zone).unwrap();
            read_back_before(zone, Precision::Minute, &c.lower_bound(), w.start);
        }
    }

    #[test]
    fn half_hour_zone() {
        let kolkata = Zone::from_offset_hours(5.5).unwrap();
        assert_eq!(lower(kolkata, "2026-01-15T10:00:45Z"), "2026-01-15 15:29");
        assert_eq!(upper(kolkata, "2026-01-15T10:00:45Z"), "2026-01-15 15:31");
        assert_eq!(Zone::named("+05:30"), Some(kolkata));
    }

    #[cfg(feature = "tz")]
    #[test]
    fn named_half_hour_zone() {
        let kolkata = Zone::named("Asia/Kolkata").unwrap();
        assert_eq!(lower(kolkata, "2026-01-15T10:00:45Z"), "2026-01-15 15:29");
        assert_eq!(upper(kolkata, "2026-01-15T10:00:45Z"), "2026-01-15 15:31");
        assert_eq!(kolkata.to_string(), "Asia/Kolkata");
    }

    #[test]
    fn day_precision() {
        let plus1 = Zone::from_offset_hours(1.0).unwrap();
        let w = window("2026-01-15T10:00:45Z", "2026-01-16T10:00:00Z");
        let c = CoarseWindow::new(w, plus1, Precision::Day);
        assert_eq!(c.lower_bound(), "2026-01-15");
        assert_eq!(c.upper_bound(), "2026-01-17");
        // Midnight in the zone: the margin reaches into the day before.
        let w = window("2026-01-14T23:00:00Z", "2026-01-14T23:00:00Z");
        let c = CoarseWindow::new(w, plus1, Precision::Day);
        assert_eq!(c.lower_bound(), "2026-01-14");
        assert_eq!(c.upper_bound(), "2026-01-16");
    }

    #[test]
    fn zone_spellings() {
        let minutes = |z: &str| Zone::named(z).map(|z| z.offset_at(utc("2026-01-01T00:00:00Z")));
        let m = |n: i64| Some(Some(TimeDelta::minutes(n)));
        assert_eq!(minutes("UTC"), m(0));
        assert_eq!(minutes(" Etc/UTC "), m(0));
        assert_eq!(minutes("GMT+2"), m(120));
        assert_eq!(minutes("UTC-03:30"), m(-210));
        assert_eq!(minutes("+05:30"), m(330));
        assert_eq!(minutes("Etc/GMT+5"), m(-300));
        assert_eq!(minutes("Etc/GMT-14"), m(840));
        assert_eq!(minutes("GMT+15"), None);
        assert_eq!(minutes("+05:75"), None);
        assert_eq!(minutes("Not/AZone"), None);
        assert_eq!(minutes(""), None);
        assert_eq!(Zone::from_offset_hours(14.5), None);
        assert_eq!(Zone::from_offset_hours(f64::NAN), None);
        assert_eq!(Zone::utc().to_string(), "UTC+00:00");
        #[cfg(feature = "tz")]
        assert_eq!(
            Zone::named("Europe/Berlin").map(|z| z.is_unknown()),
            Some(false)
        );
        #[cfg(not(feature = "tz"))]
        assert_eq!(Zone::named("Europe/Berlin"), None);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for zone in [Zone::utc(), Zone::unknown(), Zone::named("-12:00").unwrap()] {
            for precision in [Precision::Minute, Precision::Day] {
                let w = TimeWindow {
                    start: DateTime::<Utc>::MIN_UTC,
                    end: DateTime::<Utc>::MAX_UTC,
                };
                let c = CoarseWindow::new(w, zone, precision);
                assert!(!c.lower_bound().is_empty());
                assert!(!c.upper_bound().is_empty());
            }
        }
    }

    #[cfg(feature = "tz")]
    mod dst {
        use super::*;

        fn berlin() -> Zone {
            Zone::named("Europe/Berlin").unwrap()
        }

        fn new_york() -> Zone {
            Zone::named("America/New_York").unwrap()
        }

        #[test]
        fn berlin_in_winter_and_summer() {
            assert_eq!(lower(berlin(), "2026-01-15T10:00:45Z"), "2026-01-15 10:59");
            assert_eq!(lower(berlin(), "2026-07-15T10:00:45Z"), "2026-07-15 11:59");
        }

        #[test]
        fn berlin_clocks_go_back() {
            // 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice.
            // 00:30Z is 02:30 CEST. "02:29" read as CET is 01:29Z, past the start: the bound
            // moves back by the hour.
            let start = "2026-10-25T00:30:00Z";
            let bound = lower(berlin(), start);
            assert_eq!(bound, "2026-10-25 01:30");
            read_back_before(berlin(), Precision::Minute, &bound, utc(start));
            // In the second 02:30 (CET) the earlier reading is the safe one already.
            assert_eq!(lower(berlin(), "2026-10-25T01:30:00Z"), "2026-10-25 02:29");
            // An end in the first 02:30 (CEST): read as CEST, 02:31 is past it.
            assert_eq!(upper(berlin(), "2026-10-25T00:30:00Z"), "2026-10-25 02:31");
            // An end in the second 02:30 (CET): 02:31 read as CEST is 00:31Z, before it; the
            // bound moves on by the hour.
            assert_eq!(upper(berlin(), "2026-10-25T01:30:00Z"), "2026-10-25 03:30");
        }

        #[test]
        fn berlin_clocks_go_forward() {
            // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST; 02:00-02:59 never happens.
            let start = "2026-03-29T01:00:30Z";
            let bound = lower(berlin(), start);
            assert_eq!(bound, "2026-03-29 01:58");
            read_back_before(berlin(), Precision::Minute, &bound, utc(start));
            // Before the change: an end at 01:59:30 CET is bounded after the gap.
            assert_eq!(upper(berlin(), "2026-03-29T00:59:30Z"), "2026-03-29 03:01");
        }

        #[test]
        fn new_york_clocks_go_back_and_forward() {
            // 2026-11-01 06:00Z: 02:00 EDT becomes 01:00 EST.
            let start = "2026-11-01T05:30:00Z";
            let bound = lower(new_york(), start);
            assert_eq!(bound, "2026-11-01 00:30");
            read_back_before(new_york(), Precision::Minute, &bound, utc(start));
            // 2026-03-08 07:00Z: 02:00 EST becomes 03:00 EDT.
            let start = "2026-03-08T07:00:00Z";
            let bound = lower(new_york(), start);
            assert_eq!(bound, "2026-03-08 01:58");
            read_back_before(new_york(), Precision::Minute, &bound, utc(start));
        }

        #[test]
        fn day_precision_over_a_skipped_midnight() {
            // 2018-11-04 in São Paulo: the clock went from 23:59:59 to 01:00, so the day had
            // no midnight.
            let sao_paulo = Zone::named("America/Sao_Paulo").unwrap();
            let start = utc("2018-11-04T04:30:00Z");
            let w = TimeWindow::new(start, start).unwrap();
            let c = CoarseWindow::new(w, sao_paulo, Precision::Day);
            let bound = c.lower_bound();
            assert_eq!(bound, "2018-11-03");
            read_back_before(sao_paulo, Precision::Day, &bound, start);
        }
    }

    #[cfg(feature = "tz")]
    mod around_clock_changes {
        use super::*;

        /// The instants where `zone`'s offset changes between `from` and `to` (found hourly,
        /// then to the second).
        fn changes(zone: Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
            let mut out = Vec::new();
            let mut t = from;
            while t < to {
                let next = t + TimeDelta::hours(1);
                if zone.offset_at(t) != zone.offset_at(next) {
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > TimeDelta::seconds(1) {
                        let mid = lo + (hi - lo) / 2;
                        if zone.offset_at(mid) == zone.offset_at(lo) {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    out.push(hi);
                }
                t = next;
            }
            out
        }

        #[test]
        fn every_minute_around_clock_changes() {
            let zones = [
                "Europe/Berlin",
                "America/New_York",
                "America/Sao_Paulo",   // clock changes at midnight
                "Australia/Lord_Howe", // half-hour daylight saving
                "Pacific/Chatham",     // +12:45 / +13:45
                "Pacific/Apia",        // skipped 2011-12-30 entirely
                "Asia/Kolkata",
            ];
            for name in zones {
                let zone = Zone::named(name).unwrap();
                let found = changes(
                    zone,
                    utc("2010-01-01T00:00:00Z"),
                    utc("2013-01-01T00:00:00Z"),
                );
                assert_eq!(
                    found.is_empty(),
                    name == "Asia/Kolkata",
                    "{name}: {found:?}"
                );
                for change in found {
                    let mut t = change - TimeDelta::hours(3) + TimeDelta::seconds(17);
                    while t < change + TimeDelta::hours(3) {
                        for precision in [Precision::Minute, Precision::Day] {
                            let c =
                                CoarseWindow::new(TimeWindow::new(t, t).unwrap(), zone, precision);
                            let lower = parse(&c.lower_bound(), precision);
                            let (_, latest) = zone.readings(lower).expect("exists");
                            assert!(
                                latest <= t,
                                "{name}: {} reads as {latest} > {t}",
                                c.lower_bound()
                            );
                            let upper = parse(&c.upper_bound(), precision);
                            let (earliest, _) = zone.readings(upper).expect("exists");
                            assert!(
                                earliest >= t,
                                "{name}: {} reads as {earliest} < {t}",
                                c.upper_bound()
                            );
                        }
                        t += TimeDelta::minutes(1);
                    }
                }
            }
        }
    }

    #[cfg(feature = "tz")]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_zone() -> impl Strategy<Value = Zone> {
            prop_oneof![
                (0..chrono_tz::TZ_VARIANTS.len())
                    .prop_map(|i| Zone(Repr::Named(chrono_tz::TZ_VARIANTS[i]))),
                (-14 * 4..=14 * 4)
                    .prop_map(|q| Zone::from_offset_hours(f64::from(q) / 4.0).unwrap()),
                Just(Zone::unknown()),
            ]
        }

        fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
            // 1900 to 2100, on any second.
            (-2_208_988_800_i64..4_102_444_800)
                .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
        }

        fn any_precision() -> impl Strategy<Value = Precision> {
            prop_oneof![Just(Precision::Minute), Just(Precision::Day)]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn bounds_read_back_outside_the_window(
                zone in any_zone(),
                t in any_instant(),
                precision in any_precision(),
            ) {
                let w = TimeWindow::new(t, t).unwrap();
                let c = CoarseWindow::new(w, zone, precision);
                let lower = parse(&c.lower_bound(), precision);
                let (_, latest) = zone.readings(lower).expect("the lower bound exists");
                prop_assert!(latest <= t, "{} in {zone} reads as {latest} > {t}", c.lower_bound());
                let upper = parse(&c.upper_bound(), precision);
                let (earliest, _) = zone.readings(upper).expect("the upper bound exists");
                prop_assert!(earliest >= t, "{} in {zone} reads as {earliest} < {t}", c.upper_bound());
                // And not much wider than the zone's worst case.
                let slack = MAX_OFFSET * 2 + precision.step() * 2;
                prop_assert!(t - latest <= slack, "{} is too wide for {t}", c.lower_bound());
                prop_assert!(earliest - t <= slack, "{} is too wide for {t}", c.upper_bound());
            }
        }
    }
}
