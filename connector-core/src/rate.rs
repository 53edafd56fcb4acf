//! [`RateGate`]: a rate limit shared beyond one process, which the HTTP layer asks before every
//! request when a host gives it one.
//!
//! The [`HttpClient`](crate::http::HttpClient)'s own rate limit
//! ([`rate_limit`](crate::http::HttpClientBuilder::rate_limit)) lives in the process: N workers
//! syncing with one credential send N times the rate the service allows, and a `429` seen by
//! one of them does not slow the others. A gate is the hook for a limiter they share (the
//! `connector-sync` crate keeps one in its database): before each attempt the client
//! [`acquire`](RateGate::acquire)s a slot for its credential's key and waits what the gate
//! says; a rate-limited answer's wait (`Retry-After`) is [`defer`](RateGate::defer)red to the
//! gate, so every worker backs off.
//!
//! Without a gate nothing changes: no gate is asked and no key is made.

use std::fmt;
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
/// - `defer` makes the key's next free time at least `wait` from now, and never earlier than
///   it was.
/// - Either may fail (a database that is down); `acquire`'s error fails the request,
///   `defer`'s is logged and the request's own wait still applies.
#[async_trait]
pub trait RateGate: Send + Sync + fmt::Debug {
    /// Reserves the next request slot of `key`, `min_interval` after the one before, and
    /// returns how long to wait for it.
    ///
    /// # Errors
    /// When the shared state cannot be read or written.
    async fn acquire(&self, key: &str, min_interval: Duration) -> Result<Duration>;

    /// No request of `key` goes before `wait` from now (a `429`'s `Retry-After`).
    ///
    /// # Errors
    /// When the shared state cannot be written.
    async fn defer(&self, key: &str, wait: Duration) -> Result<()>;
}

fn _object_safe(_: &dyn RateGate) {}
