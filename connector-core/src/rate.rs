//! [`RateGate`]: a rate limit shared beyond one process, which the HTTP layer asks before every
//! request when a host gives it one.
//!
//! The [`HttpClient`](crate::http::HttpClient)'s own rate limit
//! ([`rate_limit`](crate::http::HttpClientBuilder::rate_limit)) lives in the process: N workers
//! syncing with one credential send N times the rate the service allows, and a `429` seen by
//! one of them does not slow the others. A gate is the hook for a limiter they share (the
//! `connector-sync` crate keeps one in its database): before each attempt the client
//! [`acquire`](RateGate::acquire)s a slot for its credential's key and waits what the gate
//! says (a request the service counts as several, a JSON batch of 20, takes as many slots
//! with [`acquire_many`](RateGate::acquire_many)); a rate-limited answer's wait (`Retry-After`) is [`defer`](RateGate::defer)red to the
//! gate, so every worker backs off.
//!
//! Without a gate nothing changes: no gate is asked and no key is made.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// A rate limiter keyed by credential, shared by every client that holds the same gate (and,
/// for a gate backed by a database, by every process using that database).
///
/// The key is made by the HTTP layer and never holds a secret: `connector:` and a SHA-256 of
/// the client's credential (so two connectors with one token share one limit), an explicit
/// [`rate_gate_key`](crate::http::HttpClientBuilder::rate_gate_key), or, for a client without
/// credentials, `connector@host:port`.
///
/// ```
/// use std::time::Duration;
/// use connector_core::rate::RateGate;
/// use connector_core::reexports::async_trait;
///
/// /// Lets everything through at once (a stand-in: a real gate stores `next_at` per key).
/// #[derive(Debug)]
/// struct Open;
///
/// #[async_trait]
/// impl RateGate for Open {
///     async fn acquire(&self, _key: &str, _min_interval: Duration) -> connector_core::Result<Duration> {
///         Ok(Duration::ZERO)
///     }
///     async fn defer(&self, _key: &str, _wait: Duration) -> connector_core::Result<()> {
///         Ok(())
///     }
/// }
/// ```
///
/// # Contract
/// - `acquire` reserves the next slot of `key` atomically: the slot is the later of the key's
///   next free time and now, and the key's next free time becomes the slot plus
///   `min_interval`. It returns how long the caller waits for its slot (zero: send now). Two
///   callers never get the same slot, so requests of one key are at least `min_interval` apart
///   however many callers there are. `min_interval` may be zero: the caller then only waits
///   out a deferral.
/// - `acquire_many` reserves `permits` consecutive slots of `key` atomically, as `permits`
///   calls of `acquire` made back to back would, and returns the wait for the last of them:
///   the request goes out when its last permit is due, so the service never sees more than
///   the rate allows. The default does this with one `acquire` of `permits` intervals (a
///   slot whose interval is `permits` long holds `permits` consecutive slots), so a gate
///   that keeps `acquire`'s contract needs nothing more.
/// - `defer` makes the key's next free time at least `wait` from now, and never earlier than
///   it was.
/// - Either may fail (a database that is down); `acquire`'s error fails the request,
///   `defer`'s is logged and the request's own wait still applies.
/// - `retrying` is told before each retry of a request (never before its first try), with
///   the wait the HTTP layer then sleeps; that retry's `acquire` follows. It cannot fail and
///   must not block: it only informs.
#[async_trait]
pub trait RateGate: Send + Sync + fmt::Debug {
    /// Reserves the next request slot of `key`, `min_interval` after the one before, and
    /// returns how long to wait for it.
    ///
    /// # Errors
    /// When the shared state cannot be read or written.
    async fn acquire(&self, key: &str, min_interval: Duration) -> Result<Duration>;

    /// Reserves `permits` consecutive slots of `key`, `min_interval` apart, for one request
    /// the service counts as `permits` (a JSON batch), and returns how long to wait for the
    /// last of them. `permits` of 1 is [`acquire`](Self::acquire).
    ///
    /// # Errors
    /// When the shared state cannot be read or written.
    async fn acquire_many(
        &self,
        key: &str,
        min_interval: Duration,
        permits: NonZeroU32,
    ) -> Result<Duration> {
        let n = permits.get();
        // The first slot with an interval `n` long: the slots after it up to the next
        // caller's are this caller's too, so it waits for the last, `n - 1` intervals on.
        let first = self.acquire(key, min_interval.saturating_mul(n)).await?;
        Ok(first.saturating_add(min_interval.saturating_mul(n - 1)))
    }

    /// A request of `key` that takes `permits` slots (see
    /// [`acquire_many`](Self::acquire_many); 1 for most) failed and is sent again after
    /// `wait` (a 5xx, a timeout or a reset: the HTTP layer's backoff; a `429`, or what a
    /// connector's classifier calls a rate limit, with `throttled`: the wait the service
    /// asked for, capped, else the backoff). The next [`acquire`](Self::acquire) (or
    /// `acquire_many`) for that request is its retry, not a new request. Only a first try is a request the source had not been sent; a host that
    /// judges whether a job still sends new requests (`connector-sync`: a resume looping
    /// behind long waits) counts first tries as `acquire`s less `retrying`s, and a
    /// throttled retry's wait as one the service imposed. The default ignores it.
    fn retrying(&self, key: &str, permits: NonZeroU32, wait: Duration, throttled: bool) {
        let _ = (key, permits, wait, throttled);
    }

    /// No request of `key` goes before `wait` from now (a `429`'s `Retry-After`).
    ///
    /// # Errors
    /// When the shared state cannot be written.
    async fn defer(&self, key: &str, wait: Duration) -> Result<()>;
}

fn _object_safe(_: &dyn RateGate) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// `acquire` as the contract says, on a clock the test moves.
    #[derive(Debug, Default)]
    struct Memory {
        now: Mutex<Duration>,
        next_free: Mutex<HashMap<String, Duration>>,
    }

    impl Memory {
        fn advance(&self, by: Duration) {
            *self.now.lock().unwrap() += by;
        }
    }

    #[async_trait]
    impl RateGate for Memory {
        async fn acquire(&self, key: &str, min_interval: Duration) -> Result<Duration> {
            let now = *self.now.lock().unwrap();
            let mut next = self.next_free.lock().unwrap();
            let slot = next.get(key).copied().unwrap_or_default().max(now);
            next.insert(key.to_owned(), slot + min_interval);
            Ok(slot - now)
        }

        async fn defer(&self, _key: &str, _wait: Duration) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn n_permits_wait_n_intervals() {
        let gate = Memory::default();
        let ms = Duration::from_millis;
        let i = ms(100);
        let n = |n: u32| NonZeroU32::new(n).unwrap();
        // A free key: the first of 5 slots is now, the last 4 intervals on.
        assert_eq!(gate.acquire_many("k", i, n(5)).await.unwrap(), ms(400));
        // The next caller's slot is the 6th: 5 intervals after the batch's first.
        assert_eq!(gate.acquire("k", i).await.unwrap(), ms(500));
        // One permit is `acquire`.
        assert_eq!(gate.acquire_many("k", i, n(1)).await.unwrap(), ms(600));
        // 20 permits after the clock moved past every slot: 19 intervals from now, and the
        // caller after them waits 20.
        gate.advance(ms(10_000));
        assert_eq!(gate.acquire_many("k", i, n(20)).await.unwrap(), ms(1_900));
        assert_eq!(gate.acquire("k", i).await.unwrap(), ms(2_000));
        // Other keys are not held up.
        assert_eq!(gate.acquire_many("other", i, n(3)).await.unwrap(), ms(200));
        // No spacing asked: nothing to wait for.
        assert_eq!(
            gate.acquire_many("free", Duration::ZERO, n(20))
                .await
                .unwrap(),
            Duration::ZERO
        );
    }
}
