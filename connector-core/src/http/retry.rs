//! When to retry and how long to wait: the [`RetryPolicy`], the waits a service asks for
//! (`Retry-After`, `RateLimit-Reset`, Atlassian's `X-RateLimit-Reset`), and the
//! [`RetryContext`] of one request, the one place that decides "retry after this wait" or "give
//! up with this error".

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use crate::context::{Cancellation, SyncStats};
use crate::error::{Error, ErrorKind, Result, redact_url};

/// How the [`HttpClient`](super::HttpClient) retries idempotent requests.
///
/// The wait before retry `n` (from 0) is drawn uniformly from `[0, min(max_backoff,
/// initial_backoff * 2^n)]` ("full jitter"), unless the service said how long to wait, which is
/// honoured up to `retry_after_cap`: `Retry-After` on any retryable answer, and on 429 and 503
/// without it, `RateLimit-Reset` (delta seconds) or `X-RateLimit-Reset` (an ISO 8601 time, as
/// Jira and Confluence Cloud send).
///
/// A rate-limited answer (429, or what a service's error classifier calls a rate limit) is not
/// a failure of the request but the service asking for patience, and services such as
/// Atlassian's Cloud ask for minutes: such answers are retried on their own count
/// (`max_rate_limit_retries`) as long as the waits together stay within `rate_limit_budget`,
/// and do not use up `max_retries`, which is for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt for errors (5xx, timeouts, resets); `0` disables them.
    pub max_retries: u32,
    /// The backoff ceiling of the first retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest wait a service's `Retry-After` (or rate-limit reset) is honoured for; a longer
    /// one is cut to this.
    pub retry_after_cap: Duration,
    /// Retries of rate-limited answers; `0` gives up at the first.
    pub max_rate_limit_retries: u32,
    /// The most one request waits for rate limits in all: a retry whose wait would take the
    /// total past this gives up instead, with the wait the service asked for in the error
    /// ([`Error::retry_after`]), so a sync ends resumably rather than stalling for hours.
    pub rate_limit_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(300),
            max_rate_limit_retries: 10,
            rate_limit_budget: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling of retry `n` (from 0) of at most `limit`, no jitter yet; `None` past
    /// the last retry.
    fn ceiling(&self, n: u32, limit: u32) -> Option<Duration> {
        (n < limit).then(|| {
            let max = self.max_backoff.max(self.initial_backoff);
            self.initial_backoff
                .saturating_mul(2u32.saturating_pow(n))
                .min(max)
        })
    }

    /// A full-jitter draw below `ceiling`.
    fn jitter(ceiling: Duration) -> Duration {
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

/// The wait a `Retry-After` header asks for ([`retry_after_wait`] of its value).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    retry_after_wait(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
}

/// The wait a `Retry-After` value asks for at `now`, as the [`HttpClient`](super::HttpClient)
/// reads the header: delta-seconds (with a fraction too, which is not RFC 9110 but some
/// services send), or an HTTP-date in any of RFC 9110's three forms (IMF-fixdate, RFC 850,
/// asctime). A date in the past asks for no wait (`Duration::ZERO`); an unreadable value asks
/// for none (`None`). Not capped: the caller cuts a long wait where it waits.
///
/// For a `Retry-After` the HTTP client never sees: one inside a body (a Microsoft Graph `$batch`
/// entry's `headers`), or on an answer a connector reads itself (a 200 that carries a throttle).
///
/// # Example
/// ```
/// use std::time::{Duration, SystemTime};
/// use connector_core::http::retry_after_wait;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_450);
/// assert_eq!(retry_after_wait("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(retry_after_wait(" 1.5 ", now), Some(Duration::from_millis(1500)));
/// // 30 s after `now`, and 30 s before it.
/// let later = "Wed, 21 Oct 2015 07:28:00 GMT";
/// assert_eq!(retry_after_wait(later, now), Some(Duration::from_secs(30)));
/// let earlier = "Wednesday, 21-Oct-15 07:27:00 GMT";
/// assert_eq!(retry_after_wait(earlier, now), Some(Duration::ZERO));
/// assert_eq!(retry_after_wait("soon", now), None);
/// ```
pub fn retry_after_wait(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
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

/// The wait a retryable answer asks for: `Retry-After`, or on 429 and 503 without it, the
/// rate-limit reset headers ([`rate_limit_reset`]). Not capped yet.
pub(crate) fn asked_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    retry_after(headers, now).or_else(|| {
        matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then(|| rate_limit_reset(headers, now))
        .flatten()
    })
}

/// When a rate limit resets, from `RateLimit-Reset` (delta seconds, the IETF
/// `draft-ietf-httpapi-ratelimit-headers` form), else Discord's `X-RateLimit-Reset-After`
/// (delta seconds with fractions), else Atlassian's `X-RateLimit-Reset` (an ISO 8601 time,
/// `2026-03-26T16:00Z` on Jira and Confluence Cloud, minutes only).
///
/// A reset that is due already is no hint: a minute-precision time is often in the past by the
/// time it arrives, and waiting zero would spend every retry at once, so the backoff applies.
/// `X-RateLimit-Reset` as a number is ambiguous (GitHub sends epoch seconds, others delta
/// seconds) and is read only beside `X-RateLimit-Remaining: 0`, GitHub's spent primary
/// limit, as the epoch second the limit resets at.
pub(crate) fn rate_limit_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let delta = text("ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .filter(|d| !d.is_zero())
        // Discord: delta seconds with fractions (`X-RateLimit-Reset-After: 1.234`).
        .or_else(|| {
            text("x-ratelimit-reset-after")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
        });
    let at = || {
        let value = text("x-ratelimit-reset")?;
        let reset = match value.parse::<i64>() {
            Ok(epoch) if text("x-ratelimit-remaining") == Some("0") => {
                DateTime::<Utc>::from_timestamp(epoch, 0)?
            }
            Ok(_) => return None,
            Err(_) => parse_iso8601(value)?,
        };
        (reset - DateTime::<Utc>::from(now)).to_std().ok()
    };
    delta
        .filter(|d| !d.is_zero())
        .or_else(|| at().filter(|d| !d.is_zero()))
}

/// The wait before the next request when an accepted answer says its rate limit is spent:
/// `X-RateLimit-Remaining: 0` (or `RateLimit-Remaining: 0`) with a reset header
/// ([`rate_limit_reset`]). Discord sends this on every answer of a route whose bucket is
/// empty; the next request of that route would be a `429`.
pub(crate) fn spent_rate_limit(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let spent = ["x-ratelimit-remaining", "ratelimit-remaining"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .any(|v| v.trim() == "0");
    spent.then(|| rate_limit_reset(headers, now)).flatten()
}

/// An ISO 8601 time with a zone: RFC 3339 (`2026-03-26T16:00:30Z`, `+01:00`, fractions) or
/// without seconds (`2026-03-26T16:00Z`, Atlassian's form).
fn parse_iso8601(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.to_utc());
    }
    DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M%#z")
        .ok()
        .map(|t| t.to_utc())
}

/// A failed attempt that another attempt may fix.
#[derive(Debug)]
pub(crate) enum Retryable {
    /// Sending failed before a response arrived (connect error, timeout ...).
    Sending(reqwest::Error),
    /// A response arrived but reading its body failed.
    Reading(reqwest::Error),
    /// The service answered with a status worth retrying.
    Status {
        /// The status.
        status: StatusCode,
        /// The kind of the error if no retry is left.
        kind: ErrorKind,
        /// What the service said, from an [error classifier](super::ErrorClass), scrubbed.
        reason: Option<String>,
        /// The wait the service asked for, not capped.
        asked: Option<Duration>,
        /// Whether the wait counts as rate-limit wait in the sync's stats.
        rate_limited: bool,
    },
}

impl Retryable {
    /// A transport error, without its URL (reqwest's would show the query string).
    pub(crate) fn sending(e: reqwest::Error) -> Self {
        Self::Sending(e.without_url())
    }

    /// A body that could not be read, without its URL.
    pub(crate) fn reading(e: reqwest::Error) -> Self {
        Self::Reading(e.without_url())
    }

    /// Whether another attempt may fix it: a transport error only when transient.
    fn may_retry(&self) -> bool {
        match self {
            Self::Sending(e) => e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
            Self::Reading(_) | Self::Status { .. } => true,
        }
    }

    /// The error returned once no retry is left, after `attempts` attempts.
    fn into_error(self, attempts: u32) -> Error {
        match self {
            Self::Sending(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                Error::new(
                    ErrorKind::Unavailable,
                    format!("request {what} after {attempts} attempt(s)"),
                )
                .with_cause(e)
            }
            Self::Reading(e) => Error::new(
                ErrorKind::Unavailable,
                format!("reading the response failed after {attempts} attempt(s)"),
            )
            .with_cause(e),
            Self::Status {
                status,
                kind,
                reason,
                asked,
                ..
            } => {
                let status = status.as_u16();
                let message = match reason {
                    Some(reason) => format!("{reason} (HTTP {status} after {attempts} attempt(s))"),
                    None => format!("HTTP {status} after {attempts} attempt(s)"),
                };
                let err = Error::new(kind, message);
                match asked {
                    Some(asked) => err.with_retry_after(asked),
                    None => err,
                }
            }
        }
    }
}

/// The retry state of one request: its attempts, the backoff ceilings and `Retry-After` cap of
/// the policy, and where waits are counted ([`SyncStats`]) and cut short ([`Cancellation`]).
pub(crate) struct RetryContext {
    connector: &'static str,
    policy: RetryPolicy,
    /// `false` leaves no retry: a request that is not idempotent is sent once.
    idempotent: bool,
    attempt: u32,
    retries: u32,
    /// Retries of rate-limited answers, and the time waited for them.
    rate_limit_retries: u32,
    rate_limit_waited: Duration,
    stats: Option<Arc<SyncStats>>,
    cancel: Option<Cancellation>,
}

impl RetryContext {
    /// The retry state of a request of `connector`, counting into `stats`.
    pub(crate) fn new(
        connector: &'static str,
        policy: RetryPolicy,
        idempotent: bool,
        stats: Option<Arc<SyncStats>>,
        cancel: Option<Cancellation>,
    ) -> Self {
        Self {
            connector,
            policy,
            idempotent,
            attempt: 0,
            retries: 0,
            rate_limit_retries: 0,
            rate_limit_waited: Duration::ZERO,
            stats,
            cancel,
        }
    }

    /// Starts the next attempt.
    pub(crate) fn next_attempt(&mut self) {
        self.attempt += 1;
    }

    /// Counts one request sent (each redirect hop is one).
    pub(crate) fn count_request(&self) {
        if let Some(stats) = &self.stats {
            stats.add_request();
        }
    }

    /// The wait a rate-limited `failure` asks every client of the credential for: the
    /// service's, capped as the retry's wait is. `None` for other failures.
    pub(crate) fn shared_wait(&self, failure: &Retryable) -> Option<Duration> {
        match failure {
            Retryable::Status {
                rate_limited: true,
                asked: Some(asked),
                ..
            } => Some((*asked).min(self.policy.retry_after_cap)),
            _ => None,
        }
    }

    /// Counts time spent waiting for the client's own rate limit.
    pub(crate) fn count_throttle(&self, waited: Duration) {
        if let Some(stats) = &self.stats {
            stats.add_rate_limit_wait(waited);
        }
    }

    /// Decides what to do about `failure` of the attempt to `url`: counts a retry and waits
    /// before the next attempt (`Ok`), or gives up with the error to return
    /// ([`next_wait`](Self::next_wait), then [`sleep`](Self::sleep)).
    ///
    /// # Errors
    /// As [`next_wait`](Self::next_wait); [`ErrorKind::Cancelled`] when the sync is cancelled
    /// during the wait.
    #[cfg(test)]
    pub(crate) async fn wait_or_give_up(&mut self, failure: Retryable, url: &Url) -> Result<()> {
        let (wait, _) = self.next_wait(failure, url)?;
        self.sleep(wait, url).await
    }

    /// Decides what to do about `failure` of the attempt to `url`: counts a retry and returns
    /// the wait before the next attempt, with whether the service rate-limited it (`Ok`), or
    /// gives up with the error to return.
    ///
    /// The wait is the service's (capped), else a full-jitter draw below the next backoff
    /// ceiling. Rate-limited answers count against their own limits (see [`RetryPolicy`]).
    ///
    /// # Errors
    /// `failure` as an error naming the attempts made when no retry is left, the rate-limit
    /// budget would be exceeded, or it is not worth a retry.
    pub(crate) fn next_wait(&mut self, failure: Retryable, url: &Url) -> Result<(Duration, bool)> {
        let is_rate_limit = matches!(
            failure,
            Retryable::Status {
                rate_limited: true,
                ..
            }
        );
        let ceiling = if !(self.idempotent && failure.may_retry()) {
            None
        } else if is_rate_limit {
            self.policy
                .ceiling(self.rate_limit_retries, self.policy.max_rate_limit_retries)
        } else {
            self.policy.ceiling(self.retries, self.policy.max_retries)
        };
        let Some(ceiling) = ceiling else {
            return Err(self.give_up(failure, url));
        };
        let (wait, rate_limited) = match &failure {
            Retryable::Status {
                asked,
                rate_limited,
                ..
            } => (
                asked.map_or_else(
                    || RetryPolicy::jitter(ceiling),
                    |asked| asked.min(self.policy.retry_after_cap),
                ),
                *rate_limited,
            ),
            Retryable::Sending(_) | Retryable::Reading(_) => (RetryPolicy::jitter(ceiling), false),
        };
        if is_rate_limit {
            let total = self.rate_limit_waited.saturating_add(wait);
            if total > self.policy.rate_limit_budget {
                return Err(self.give_up(failure, url));
            }
            self.rate_limit_retries += 1;
            self.rate_limit_waited = total;
        } else {
            self.retries += 1;
        }
        self.log(&failure, url, wait);
        if let Some(stats) = &self.stats {
            stats.add_retry();
            if rate_limited {
                stats.add_rate_limit_wait(wait);
            }
        }
        Ok((wait, rate_limited))
    }

    /// `failure` as the request's error, naming the attempts made.
    fn give_up(&self, failure: Retryable, url: &Url) -> Error {
        failure
            .into_error(self.attempt)
            .with_connector(self.connector)
            .with_url(url)
    }

    fn log(&self, failure: &Retryable, url: &Url, wait: Duration) {
        let (connector, attempt) = (self.connector, self.attempt);
        match failure {
            Retryable::Sending(e) => {
                tracing::warn!(connector, url = %redact_url(url), attempt, error = %e, ?wait, "request failed; retrying");
            }
            Retryable::Reading(e) => {
                tracing::warn!(connector, url = %redact_url(url), attempt, error = %e, ?wait, "reading the body failed; retrying");
            }
            Retryable::Status {
                status,
                reason: Some(reason),
                ..
            } => {
                tracing::warn!(connector, url = %redact_url(url), attempt, %status, %reason, ?wait, "retrying");
            }
            Retryable::Status {
                status,
                reason: None,
                ..
            } => {
                tracing::warn!(connector, url = %redact_url(url), attempt, %status, ?wait, "retrying");
            }
        }
    }

    /// Sleeps `wait`, unless the sync is cancelled first.
    pub(crate) async fn sleep(&self, wait: Duration, url: &Url) -> Result<()> {
        let Some(cancel) = &self.cancel else {
            tokio::time::sleep(wait).await;
            return Ok(());
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = cancel.cancelled() => Err(Error::new(ErrorKind::Cancelled, "cancelled while waiting to retry")
                .with_connector(self.connector)
                .with_url(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let ra = |v: &str| retry_after(&headers(&[("retry-after", v)]), now());
        assert_eq!(ra("7"), Some(Duration::from_secs(7)));
        assert_eq!(ra("0.5"), Some(Duration::from_millis(500)));
        let later = httpdate::fmt_http_date(now() + Duration::from_secs(30));
        assert_eq!(ra(&later), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now() - Duration::from_secs(30));
        assert_eq!(ra(&earlier), Some(Duration::ZERO));
        assert_eq!(ra("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
        // RFC 9110's obsolete forms (RFC 850, asctime) are read too; both are long past here.
        assert_eq!(ra("Sunday, 06-Nov-94 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(ra("Sun Nov  6 08:49:37 1994"), Some(Duration::ZERO));
    }

    /// `now()` plus `secs`, written with `format`.
    fn iso(secs: i64, format: &str) -> String {
        let t = DateTime::<Utc>::from(now()) + chrono::TimeDelta::seconds(secs);
        t.format(format).to_string()
    }

    #[test]
    fn rate_limit_reset_forms() {
        let reset = |pairs: &[(&'static str, &str)]| rate_limit_reset(&headers(pairs), now());
        // 1_700_000_000 is 22:13:20 UTC; 70 s later is 22:14:30, written `22:14Z`: 40 s.
        assert_eq!(
            reset(&[("x-ratelimit-reset", &iso(70, "%Y-%m-%dT%H:%MZ"))]),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            reset(&[("x-ratelimit-reset", &iso(30, "%Y-%m-%dT%H:%M:%SZ"))]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            reset(&[("x-ratelimit-reset", "2023-11-14T23:13:50+01:00")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            reset(&[("x-ratelimit-reset", "2023-11-14T23:14+01:00")]),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            reset(&[("ratelimit-reset", "12")]),
            Some(Duration::from_secs(12))
        );
        // The delta wins over the time; a reset that is due is no hint.
        assert_eq!(
            reset(&[
                ("ratelimit-reset", "5"),
                ("x-ratelimit-reset", &iso(30, "%Y-%m-%dT%H:%M:%SZ"))
            ]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            reset(&[
                ("ratelimit-reset", "0"),
                ("x-ratelimit-reset", &iso(30, "%Y-%m-%dT%H:%M:%SZ"))
            ]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            reset(&[("x-ratelimit-reset", &iso(-30, "%Y-%m-%dT%H:%MZ"))]),
            None
        );
        // Epoch seconds (GitHub) only with the limit spent; junk is ignored.
        assert_eq!(reset(&[("x-ratelimit-reset", "1700000030")]), None);
        assert_eq!(
            reset(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000030")
            ]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            reset(&[
                ("x-ratelimit-remaining", "12"),
                ("x-ratelimit-reset", "1700000030")
            ]),
            None
        );
        // Discord: fractional delta seconds, before the reset time it also sends.
        assert_eq!(
            reset(&[
                ("x-ratelimit-reset-after", "1.5"),
                ("x-ratelimit-reset", "1700000030.5")
            ]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(reset(&[("x-ratelimit-reset-after", "0.000")]), None);
        assert_eq!(reset(&[("x-ratelimit-reset-after", "-1")]), None);
        assert_eq!(reset(&[("x-ratelimit-reset", "soon")]), None);
        assert_eq!(reset(&[("ratelimit-reset", "-3")]), None);
    }

    #[test]
    fn spent_limit_only_when_remaining_is_zero() {
        let spent = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "0.25"),
        ]);
        assert_eq!(
            spent_rate_limit(&spent, now()),
            Some(Duration::from_millis(250))
        );
        let left = headers(&[
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset-after", "0.25"),
        ]);
        assert_eq!(spent_rate_limit(&left, now()), None);
        let ietf = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "3")]);
        assert_eq!(spent_rate_limit(&ietf, now()), Some(Duration::from_secs(3)));
        assert_eq!(
            spent_rate_limit(&headers(&[("x-ratelimit-remaining", "0")]), now()),
            None
        );
    }

    #[test]
    fn reset_headers_only_without_retry_after_and_on_429_and_503() {
        let h = headers(&[("ratelimit-reset", "12")]);
        for status in [429, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(asked_wait(status, &h, now()), Some(Duration::from_secs(12)));
        }
        for status in [408, 500, 502, 504, 403] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(asked_wait(status, &h, now()), None);
        }
        let both = headers(&[("ratelimit-reset", "12"), ("retry-after", "3")]);
        assert_eq!(
            asked_wait(StatusCode::TOO_MANY_REQUESTS, &both, now()),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn ceilings_grow_and_stop() {
        let p = RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let c: Vec<_> = (0..).map_while(|n| p.ceiling(n, p.max_retries)).collect();
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

    #[test]
    fn give_up_names_the_attempts_and_the_wait_asked() {
        let failure = Retryable::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: ErrorKind::RateLimited,
            reason: None,
            asked: Some(Duration::from_secs(3600)),
            rate_limited: true,
        };
        let err = failure.into_error(3);
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.message(), "HTTP 429 after 3 attempt(s)");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        let failure = Retryable::Status {
            status: StatusCode::FORBIDDEN,
            kind: ErrorKind::RateLimited,
            reason: Some("rate limit".into()),
            asked: None,
            rate_limited: true,
        };
        assert_eq!(
            failure.into_error(2).message(),
            "rate limit (HTTP 403 after 2 attempt(s))"
        );
    }

    #[tokio::test]
    async fn no_retry_when_not_idempotent_and_the_cap_bounds_the_wait() {
        let url = Url::parse("http://h.test/a?key=SECRET").unwrap();
        let policy = RetryPolicy {
            max_retries: 0,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            retry_after_cap: Duration::from_millis(5),
            max_rate_limit_retries: 2,
            rate_limit_budget: Duration::from_secs(1),
        };
        let status = |asked| Retryable::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: ErrorKind::Unavailable,
            reason: None,
            asked,
            rate_limited: true,
        };
        let mut once = RetryContext::new("t", policy, false, None, None);
        once.next_attempt();
        let err = once.wait_or_give_up(status(None), &url).await.unwrap_err();
        assert_eq!(err.message(), "HTTP 503 after 1 attempt(s)");
        assert_eq!(err.url(), Some("http://h.test/a"));

        let stats = Arc::new(SyncStats::default());
        let mut ctx = RetryContext::new("t", policy, true, Some(stats.clone()), None);
        for _ in 0..2 {
            ctx.next_attempt();
            let asked = Some(Duration::from_secs(3600));
            ctx.wait_or_give_up(status(asked), &url).await.unwrap();
        }
        ctx.next_attempt();
        let err = ctx.wait_or_give_up(status(None), &url).await.unwrap_err();
        assert_eq!(err.message(), "HTTP 503 after 3 attempt(s)");
        assert_eq!(stats.retries(), 2);
        assert_eq!(stats.rate_limit_wait(), Duration::from_millis(10));
    }

    fn rate_limited(asked: Option<Duration>) -> Retryable {
        Retryable::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: ErrorKind::RateLimited,
            reason: None,
            asked,
            rate_limited: true,
        }
    }

    #[tokio::test]
    async fn rate_limits_do_not_use_up_the_error_retries() {
        let url = Url::parse("http://h.test/a").unwrap();
        let policy = RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            retry_after_cap: Duration::from_millis(2),
            max_rate_limit_retries: 6,
            rate_limit_budget: Duration::from_secs(1),
        };
        let mut ctx = RetryContext::new("t", policy, true, None, None);
        // Six rate-limited answers and one error: all retried.
        for _ in 0..6 {
            ctx.next_attempt();
            ctx.wait_or_give_up(rate_limited(Some(Duration::ZERO)), &url)
                .await
                .unwrap();
        }
        let error = |_| Retryable::Status {
            status: StatusCode::BAD_GATEWAY,
            kind: ErrorKind::Unavailable,
            reason: None,
            asked: None,
            rate_limited: false,
        };
        ctx.next_attempt();
        ctx.wait_or_give_up(error(()), &url).await.unwrap();
        // The seventh rate limit and the second error are one too many.
        ctx.next_attempt();
        let err = ctx
            .wait_or_give_up(rate_limited(None), &url)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.message(), "HTTP 429 after 8 attempt(s)");
        let err = ctx.wait_or_give_up(error(()), &url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn the_rate_limit_budget_bounds_the_total_wait() {
        let url = Url::parse("http://h.test/a").unwrap();
        let policy = RetryPolicy {
            retry_after_cap: Duration::from_secs(3600),
            max_rate_limit_retries: 100,
            rate_limit_budget: Duration::from_millis(25),
            ..RetryPolicy::default()
        };
        let stats = Arc::new(SyncStats::default());
        let mut ctx = RetryContext::new("t", policy, true, Some(stats.clone()), None);
        for _ in 0..2 {
            ctx.next_attempt();
            ctx.wait_or_give_up(rate_limited(Some(Duration::from_millis(10))), &url)
                .await
                .unwrap();
        }
        // 20 ms waited; another 10 would pass the 25 ms budget: give up, saying how long the
        // service wants, so the sync can end resumably and the host retry later.
        ctx.next_attempt();
        let err = ctx
            .wait_or_give_up(rate_limited(Some(Duration::from_millis(10))), &url)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after(), Some(Duration::from_millis(10)));
        assert_eq!(stats.rate_limit_wait(), Duration::from_millis(20));
        // A wait longer than the whole budget is not started at all.
        let mut ctx = RetryContext::new("t", policy, true, None, None);
        ctx.next_attempt();
        let err = ctx
            .wait_or_give_up(rate_limited(Some(Duration::from_secs(60))), &url)
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn cancellation_ends_the_wait() {
        let url = Url::parse("http://h.test/a").unwrap();
        let cancel = Cancellation::new();
        cancel.cancel();
        let mut ctx = RetryContext::new("t", RetryPolicy::default(), true, None, Some(cancel));
        ctx.next_attempt();
        let failure = Retryable::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: ErrorKind::RateLimited,
            reason: None,
            asked: Some(Duration::from_secs(30)),
            rate_limited: true,
        };
        let err = ctx.wait_or_give_up(failure, &url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
    }
}
