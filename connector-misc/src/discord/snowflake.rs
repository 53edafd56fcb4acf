//! Snowflakes and buckets: a Discord id holds its creation time (milliseconds since
//! 2015-01-01 in its top 42 bits), so a time window is an exact id range and a message's
//! bucket is known from its id alone.

use chrono::{DateTime, Utc};

/// Discord's epoch: 2015-01-01T00:00:00Z in Unix milliseconds.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The time an id was made.
pub(crate) fn time_of(id: u64) -> DateTime<Utc> {
    let ms = i64::try_from(id >> 22).unwrap_or(i64::MAX / 2) + DISCORD_EPOCH_MS;
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The smallest id made at `t` or later (times before Discord's epoch: 0).
pub(crate) fn first_at(t: DateTime<Utc>) -> u64 {
    let ms = t.timestamp_millis() - DISCORD_EPOCH_MS;
    if ms <= 0 {
        return 0;
    }
    u64::try_from(ms).map_or(u64::MAX, |ms| ms.checked_shl(22).unwrap_or(u64::MAX))
}

/// Fixed buckets of `hours`, aligned to multiples of it from the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buckets {
    ms: i64,
}

impl Buckets {
    pub(crate) fn hours(hours: u32) -> Self {
        Self {
            ms: i64::from(hours.max(1)) * 3_600_000,
        }
    }

    /// One bucket holding every id (a thread is read whole).
    pub(crate) fn whole() -> Self {
        Self { ms: i64::MAX / 4 }
    }

    pub(crate) fn span_hours(&self) -> i64 {
        self.ms / 3_600_000
    }

    /// The start of the bucket holding `t`.
    pub(crate) fn start_of(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let ms = t.timestamp_millis().div_euclid(self.ms) * self.ms;
        DateTime::from_timestamp_millis(ms).unwrap_or(t)
    }

    /// The end (exclusive) of the bucket starting at `start`.
    pub(crate) fn end_of(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(start.timestamp_millis() + self.ms).unwrap_or(start)
    }

    /// The start of the bucket of the message `id`.
    pub(crate) fn of_id(&self, id: u64) -> DateTime<Utc> {
        self.start_of(time_of(id))
    }

    /// Whether `start` is a bucket start.
    pub(crate) fn is_start(&self, start: DateTime<Utc>) -> bool {
        start.timestamp_millis().rem_euclid(self.ms) == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_and_times_agree() {
        // Discord's documented example: 175928847299117063 was made at 2016-04-30 11:18:25.796.
        let t = time_of(175_928_847_299_117_063);
        assert_eq!(
            t,
            Utc.with_ymd_and_hms(2016, 4, 30, 11, 18, 25).unwrap()
                + chrono::TimeDelta::milliseconds(796)
        );
        assert!(first_at(t) <= 175_928_847_299_117_063);
        assert_eq!(time_of(first_at(t)), t);
        assert_eq!(
            first_at(Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap()),
            0
        );
    }

    #[test]
    fn buckets_are_fixed_on_the_clock() {
        let b = Buckets::hours(24);
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 17, 3, 0).unwrap();
        let start = b.start_of(t);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
        assert_eq!(
            b.end_of(start),
            Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap()
        );
        assert!(b.is_start(start) && !b.is_start(t));
        assert_eq!(b.of_id(first_at(t)), start);
        let six = Buckets::hours(6);
        assert_eq!(
            six.start_of(t),
            Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap()
        );
    }
}
