//! [`TimeWindow`]: the half-open interval an incremental sync covers, and [`CoarseWindow`]:
//! the same window as a service with coarse dates in a time zone (JQL, CQL) is queried for.

use std::fmt;

use chrono::{DateTime, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

mod coarse;

pub use coarse::{CoarseWindow, Precision, Zone};

/// A half-open time interval `[start, end)`.
///
/// The batch loop fixes the window once when a sync starts and reuses it when the sync is
/// resumed, so a document modified while the sync runs is picked up by the next run, never
/// lost between two. Connectors whose service has coarser precision (minutes, the site's time
/// zone) widen their query with a [`CoarseWindow`] and filter exactly with
/// [`TimeWindow::contains`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// The window `[start, end)`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `end` is before `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if end < start {
            return Err(Error::new(
                ErrorKind::Config,
                format!("time window ends ({end}) before it starts ({start})"),
            ));
        }
        Ok(Self { start, end })
    }

    /// Everything up to (not including) `end`.
    pub fn until(end: DateTime<Utc>) -> Self {
        Self {
            start: DateTime::<Utc>::UNIX_EPOCH,
            end,
        }
    }

    /// Whether `t` is in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether `t`, a time the source truncated to whole `step`s (HTTP dates and most blob
    /// stores: whole seconds), may lie in the window: the start is widened down to its step,
    /// so an item written at `10:00:00.700`, listed as `10:00:00`, is not lost to a window
    /// that starts at `10:00:00.500`. An item near a boundary may so fall in two consecutive
    /// windows; the second time its version token finds it unchanged.
    ///
    /// ```
    /// use chrono::{DateTime, TimeDelta, Utc};
    /// use connector_core::TimeWindow;
    /// let start: DateTime<Utc> = "2026-01-15T10:00:00.500Z".parse().unwrap();
    /// let end: DateTime<Utc> = "2026-01-15T10:05:00Z".parse().unwrap();
    /// let w = TimeWindow::new(start, end).unwrap();
    /// let listed: DateTime<Utc> = "2026-01-15T10:00:00Z".parse().unwrap();
    /// assert!(!w.contains(listed));
    /// assert!(w.contains_truncated(listed, TimeDelta::seconds(1)));
    /// assert!(!w.contains_truncated(end, TimeDelta::seconds(1)));
    /// ```
    pub fn contains_truncated(&self, t: DateTime<Utc>, step: chrono::TimeDelta) -> bool {
        let start = self.start.duration_trunc(step).unwrap_or(self.start);
        start <= t && t < self.end
    }

    /// Whether the window holds no instant at all.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.to_rfc3339(),
            self.end.to_rfc3339()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn half_open() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        let w = TimeWindow::new(a, b).unwrap();
        assert!(w.contains(a));
        assert!(!w.contains(b));
        assert!(TimeWindow::new(b, a).is_err());
    }
}
