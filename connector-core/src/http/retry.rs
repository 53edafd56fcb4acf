//! When to retry, how long to wait: exponential backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How the [`HttpClient`](super::HttpClient) retries idempotent requests.
///
/// The wait before retry `n` (from 0) is drawn uniformly from `[0, min(max_backoff,
/// initial_backoff * 2^n)]` ("full jitter"), unless the service said how long to wait with
/// `Retry-After`, which is honoured up to `retry_after_cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; `0` disables retries.
    pub max_retries: u32,
    /// The backoff ceiling of the first retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceilings of every retry, in order (no jitter yet).
    pub(crate) fn ceilings(&self) -> impl Iterator<Item = Duration> + use<> {
        let (initial, max) = (
            self.initial_backoff,
            self.max_backoff.max(self.initial_backoff),
        );
        (0..self.max_retries).map(move |n| initial.saturating_mul(2u32.saturating_pow(n)).min(max))
    }

    /// A full-jitter draw below `ceiling`.
    pub(crate) fn jitter(ceiling: Duration) -> Duration {
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::random_range(0..=ms))
    }
}

/// Whether a response status is worth retrying for an idempotent request.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait a `Retry-After` header asks for: delta-seconds or an HTTP-date. A date in the past
/// means "now"; an unparsable value is ignored.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Not RFC 9110, but some services send fractions.
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("0.5"), now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&earlier), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn ceilings_grow_and_stop() {
        let p = RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let c: Vec<_> = p.ceilings().collect();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], Duration::from_millis(100));
        assert_eq!(c[1], Duration::from_millis(200));
        assert_eq!(c[3], Duration::from_millis(300));
        for ceiling in c {
            assert!(RetryPolicy::jitter(ceiling) <= ceiling);
        }
    }

    #[test]
    fn statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
        for s in [200, 400, 401, 403, 404, 501] {
            assert!(!is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
    }
}
