//! [`HttpClient`] and its builder.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::retry::{RetryContext, RetryPolicy};
use crate::context::{Cancellation, SyncContext, SyncStats};
use crate::error::{Error, ErrorKind, Result, redact_url};
use crate::net::NetworkPolicy;
use crate::rate::RateGate;
use crate::secret::Secret;

/// How requests authenticate. Every credential is sent in a header marked sensitive, so it is
/// left out of reqwest's and hyper's `Debug` output and HTTP/2 header compression tables, and is
/// dropped when a redirect leaves the origin.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic base64(username:password)`; the password may be empty.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// HTTP Digest (RFC 7616; MD5 and SHA-256, `qop=auth`): nothing is sent until the server
    /// answers 401 with a `WWW-Authenticate: Digest` challenge; the request is then sent
    /// once more with its answer, and the challenge is kept, so the client's later requests
    /// carry credentials from the start (a fresh `cnonce` and the next nonce count each;
    /// a stale nonce is answered again). The password never goes over the wire.
    Digest {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A key in a header of its own (`X-API-Key: <key>`).
    Header {
        /// The header's name.
        name: String,
        /// The key.
        value: Secret,
    },
}

impl Auth {
    /// The secret string this auth sends, for scrubbing it from text that came back.
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::Bearer(t) => Some(t.expose()),
            Self::Basic { password, .. } | Self::Digest { password, .. } => Some(password.expose()),
            Self::Header { value, .. } => Some(value.expose()),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(***)"),
            Self::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: *** }}")
            }
            Self::Digest { username, .. } => {
                write!(f, "Digest {{ username: {username:?}, password: *** }}")
            }
            Self::Header { name, .. } => write!(f, "Header {{ name: {name:?}, value: *** }}"),
        }
    }
}

/// What an [error classifier](HttpClientBuilder::error_classifier) makes of an error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorClass {
    /// The kind of the error; a retryable kind ([`ErrorKind::RateLimited`],
    /// [`ErrorKind::Unavailable`]) is retried like a 429 or a 503.
    pub kind: ErrorKind,
    /// What went wrong, in the service's terms (no credential in it).
    pub message: String,
    /// The wait before the retry of a retryable kind when the response's headers ask for
    /// none ([`with_wait`](Self::with_wait)).
    pub(crate) wait: Option<Duration>,
}

impl ErrorClass {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            wait: None,
        }
    }

    /// A retryable error that asks for `wait` before its retry when the response's headers
    /// (`Retry-After`, the rate limit's reset) ask for none: the service documents a wait the
    /// headers do not carry (GitHub's secondary rate limit without `retry-after`: "wait for
    /// at least one minute"). Like a `Retry-After`, a [rate limit](ErrorKind::RateLimited)'s
    /// wait holds every request of the client, not only this one's retry.
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The wait set by [`with_wait`](Self::with_wait).
    pub fn wait(&self) -> Option<Duration> {
        self.wait
    }
}

/// Reads a 4xx response (other than 408 and 429) and its body (up to 64 KiB).
pub(crate) type ErrorClassifier =
    Arc<dyn Fn(reqwest::StatusCode, &[u8]) -> Option<ErrorClass> + Send + Sync>;

/// Reads the wait a 429 or 503 body asks for ([`HttpClientBuilder::retry_hint`]).
pub(crate) type RetryHint =
    Arc<dyn Fn(reqwest::StatusCode, &[u8]) -> Option<Duration> + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) client: reqwest::Client,
    pub(crate) connector: &'static str,
    pub(crate) credential_field: Option<String>,
    pub(crate) auth: Auth,
    /// The header `auth` sends, built once (marked sensitive; `None` for no auth, `Digest`, or
    /// a header that is invalid, which `send` then reports as it builds it).
    pub(crate) auth_header: Option<(HeaderName, HeaderValue)>,
    pub(crate) policy: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_redirects: u32,
    pub(crate) classifier: Option<ErrorClassifier>,
    pub(crate) success_classifier: Option<ErrorClassifier>,
    /// The wait before retrying a 429 whose headers ask for none.
    pub(crate) rate_limited_wait: Option<Duration>,
    /// The wait a 429 or 503 body asks for, where its headers ask for none.
    pub(crate) retry_hint: Option<RetryHint>,
    pub(crate) network: NetworkPolicy,
    /// The system's TLS roots, read at the first `https` handshake (see [`super::tls`]).
    pub(crate) tls_roots: Arc<super::tls::PlatformRoots>,
    limiter: Option<Arc<Limiter>>,
    /// The shared limiter's key for this client's credential (see [`gate_key`]); `None`
    /// without credentials, where the key is made per host.
    gate_key: Option<String>,
    /// The spacing asked of a [`RateGate`]: the rate limit's period per request, else zero.
    gate_interval: Duration,
    /// The `Digest` challenge answered so far, shared by the client's requests.
    pub(crate) digest: std::sync::Mutex<super::digest::Session>,
    /// The `Basic` credential as sent (base64 of `user:password`), held so the redactor knows
    /// it while the client lives: a service that echoes the header cannot show it.
    _sent_basic: Option<Secret>,
}

/// The HTTP client every HTTP connector uses: retries with backoff and `Retry-After`, a per-host
/// rate limit, timeouts, capped bodies, redirects that drop credentials when they leave the
/// origin, and errors that name the connector and the credential field but never a secret.
///
/// Cheap to clone; clones share connections and the rate limiter. A stream takes
/// [`with_context`](HttpClient::with_context) so its requests, retries and rate-limit waits are
/// counted in the sync's [`SyncReport`](crate::sync::SyncReport), its waits end when the sync
/// is cancelled, and the sync's [`RateGate`] (if the host set one) is asked before each request.
///
/// ```
/// use std::time::Duration;
/// use connector_core::http::{Auth, HttpClient};
/// use connector_core::Secret;
/// # fn demo() -> connector_core::Result<()> {
/// let client = HttpClient::builder("rest_api")
///     .auth(Auth::Bearer(Secret::new("t0ken")), "credentials.token")
///     .timeout(Duration::from_secs(30))
///     .max_retries(3)
///     .rate_limit(std::num::NonZeroU32::new(10).unwrap(), Duration::from_secs(1))
///     .build()?;
/// assert_eq!(client.connector(), "rest_api");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    pub(crate) inner: Arc<Inner>,
    pub(crate) stats: Option<Arc<SyncStats>>,
    pub(crate) cancel: Option<Cancellation>,
    /// The shared rate limiter: the builder's, else the sync context's.
    pub(crate) gate: Option<Arc<dyn RateGate>>,
}

impl HttpClient {
    /// A builder for a client used by `connector` (its source key, named in errors).
    pub fn builder(connector: &'static str) -> HttpClientBuilder {
        HttpClientBuilder::new(connector)
    }

    /// This client counting into `ctx`'s stats, stopping its waits when `ctx` is cancelled, and
    /// asking `ctx`'s [`RateGate`] before each request unless the builder gave it one.
    #[must_use]
    pub fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            stats: Some(Arc::clone(ctx.stats())),
            cancel: Some(ctx.cancellation().clone()),
            gate: self.gate.clone().or_else(|| ctx.rate_gate().cloned()),
        }
    }

    /// This client counting into `stats`.
    #[must_use]
    pub fn with_stats(&self, stats: Arc<SyncStats>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            stats: Some(stats),
            cancel: self.cancel.clone(),
            gate: self.gate.clone(),
        }
    }

    /// This client with another retry `policy` and whole-request `timeout`, sharing its
    /// connections, credentials, rate limit, rate gate, network policy, error classifier and
    /// counters: a `check()` that must answer in seconds, with the client a host customised
    /// (a `resolve` for split DNS, a shared rate gate, a user agent) rather than a fresh one.
    #[must_use]
    pub fn with_retry_policy(&self, policy: RetryPolicy, timeout: Duration) -> Self {
        self.derived(|inner| {
            inner.policy = policy;
            inner.timeout = timeout;
        })
    }

    /// A client sharing this one's connections and settings, counters, cancellation and gate,
    /// with the settings `edit` changes (a fresh `Digest` session).
    fn derived(&self, edit: impl FnOnce(&mut Inner)) -> Self {
        let inner = &self.inner;
        let mut derived = Inner {
            client: inner.client.clone(),
            connector: inner.connector,
            credential_field: inner.credential_field.clone(),
            auth: inner.auth.clone(),
            auth_header: inner.auth_header.clone(),
            policy: inner.policy,
            timeout: inner.timeout,
            max_body_bytes: inner.max_body_bytes,
            max_redirects: inner.max_redirects,
            classifier: inner.classifier.clone(),
            success_classifier: inner.success_classifier.clone(),
            rate_limited_wait: inner.rate_limited_wait,
            retry_hint: inner.retry_hint.clone(),
            network: inner.network.clone(),
            tls_roots: Arc::clone(&inner.tls_roots),
            limiter: inner.limiter.clone(),
            gate_key: inner.gate_key.clone(),
            gate_interval: inner.gate_interval,
            digest: std::sync::Mutex::default(),
            _sent_basic: inner._sent_basic.clone(),
        };
        edit(&mut derived);
        Self {
            inner: Arc::new(derived),
            stats: self.stats.clone(),
            cancel: self.cancel.clone(),
            gate: self.gate.clone(),
        }
    }

    /// This client keeping to another rate limit, `requests` per `period` (GCRA, as
    /// [`rate_limit`](HttpClientBuilder::rate_limit)), under another name at a [`RateGate`]
    /// (as [`rate_gate_key`](HttpClientBuilder::rate_gate_key)), sharing its connections,
    /// TLS setup, credentials, retry policy, network policy, classifiers and counters: a
    /// service that counts each of its methods apart (Slack's tiers) gets one limit per method
    /// without one connection pool and one root store per method.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a zero `period`.
    pub fn with_rate_limit(
        &self,
        requests: NonZeroU32,
        period: Duration,
        gate_key: impl Into<String>,
    ) -> Result<Self> {
        let limiter = new_limiter(requests, period)?;
        let gate_key = format!("{}:{}", self.inner.connector, gate_key.into());
        Ok(self.derived(|inner| {
            inner.limiter = Some(limiter);
            inner.gate_key = Some(gate_key);
            inner.gate_interval = period / requests.get();
        }))
    }

    /// The source key of the connector this client works for.
    pub fn connector(&self) -> &'static str {
        self.inner.connector
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.policy
    }

    /// The key this client's requests to `url` take at a [`RateGate`]: `connector:` and a hash of
    /// the credential (or the builder's [`rate_gate_key`](HttpClientBuilder::rate_gate_key)),
    /// else, without credentials, `connector@host:port`. Never the secret itself.
    ///
    /// A host that reports "rate-limited until T" looks this key up in its gate.
    pub fn rate_gate_key(&self, url: &Url) -> String {
        self.gate_key_for(url).into_owned()
    }

    /// [`rate_gate_key`](Self::rate_gate_key), borrowed when the key is the client's (per
    /// credential or set), so a request with a gate copies no key.
    fn gate_key_for(&self, url: &Url) -> std::borrow::Cow<'_, str> {
        match &self.inner.gate_key {
            Some(key) => std::borrow::Cow::Borrowed(key),
            None => std::borrow::Cow::Owned(format!(
                "{}@{}:{}",
                self.inner.connector,
                url.host_str().unwrap_or(""),
                url.port_or_known_default().unwrap_or(0)
            )),
        }
    }

    /// Waits for the slots the [`RateGate`] gives the next attempt to `url` (`permits` of
    /// them, see [`RequestBuilder::permits`](super::RequestBuilder::permits)), if there is a
    /// gate; the wait is counted as rate-limit wait and ends when the sync is cancelled.
    pub(crate) async fn pass_gate(
        &self,
        retry: &RetryContext,
        url: &Url,
        permits: NonZeroU32,
    ) -> Result<()> {
        let Some(gate) = &self.gate else {
            return Ok(());
        };
        let key = self.gate_key_for(url);
        let asked = if permits.get() == 1 {
            gate.acquire(&key, self.inner.gate_interval).await
        } else {
            gate.acquire_many(&key, self.inner.gate_interval, permits)
                .await
        };
        let wait = asked.map_err(|e| {
            Error::new(e.kind(), "the shared rate limiter failed")
                .with_connector(self.inner.connector)
                .with_url(url)
                .with_cause(e)
        })?;
        if wait.is_zero() {
            return Ok(());
        }
        tracing::debug!(connector = self.inner.connector, url = %redact_url(url), ?wait, "waiting for the shared rate limit");
        retry.count_throttle(wait);
        retry.sleep(wait, url).await
    }

    /// Tells the [`RateGate`], if there is one, that the service asked to wait `wait` before
    /// the next request, so every client sharing the gate backs off. A gate that fails is
    /// logged: this request's own retry still waits.
    pub(crate) async fn defer_gate(&self, url: &Url, wait: Duration) {
        let Some(gate) = &self.gate else {
            return;
        };
        let key = self.gate_key_for(url);
        if let Err(e) = gate.defer(&key, wait).await {
            tracing::warn!(connector = self.inner.connector, url = %redact_url(url), error = %e, "cannot share the rate limit's wait");
        }
    }

    /// Tells the [`RateGate`], if there is one, that a request to `url` taking `permits`
    /// slots is sent again after `wait` ([`RateGate::retrying`]; `throttled`: the service
    /// rate-limited it).
    pub(crate) fn note_retry(
        &self,
        url: &Url,
        permits: NonZeroU32,
        wait: Duration,
        throttled: bool,
    ) {
        if let Some(gate) = &self.gate {
            gate.retrying(&self.gate_key_for(url), permits, wait, throttled);
        }
    }

    /// Sends `req` once, as it is (no retry, no redirect), after waiting for `permits` of the
    /// per-host rate limit; `retry` counts the request and the wait.
    pub(crate) async fn execute(
        &self,
        req: reqwest::Request,
        permits: NonZeroU32,
        retry: &RetryContext,
    ) -> reqwest::Result<reqwest::Response> {
        if let Some(limiter) = &self.inner.limiter {
            let started = tokio::time::Instant::now();
            take_permits(limiter, req.url(), permits).await;
            let waited = started.elapsed();
            // A ready limiter still takes a moment; only a real wait is worth counting.
            if waited >= Duration::from_millis(1) {
                retry.count_throttle(waited);
            }
        }
        retry.count_request();
        self.inner.client.execute(req).await
    }
}

/// Waits until `limiter` lets `permits` requests to `url`'s host and port through, and takes
/// them. More permits than the limiter's burst are taken a burst at a time, each as soon as
/// it conforms, so the request goes out when its last permit is due.
async fn take_permits(limiter: &Limiter, url: &Url, permits: NonZeroU32) {
    let mut left = permits.get();
    let mut chunk = left;
    while let Some(take) = NonZeroU32::new(chunk.min(left)) {
        match check_host(limiter, url, take) {
            Ok(Ok(())) => left -= take.get(),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                tokio::time::sleep(wait).await;
            }
            // More than the burst never conforms at once: a burst at a time. (The burst is
            // never zero; were it, `take` would be `None` and the loop would end.)
            Err(governor::InsufficientCapacity(most)) => chunk = most,
        }
    }
}

/// Takes `n` permits of `limiter` for `url`'s host and port, if they conform now.
///
/// The key (`host:port`) is written into a buffer of the thread's: the limiter copies it only
/// for a host it has not seen, so a request takes no allocation here.
fn check_host(
    limiter: &Limiter,
    url: &Url,
    n: NonZeroU32,
) -> std::result::Result<
    std::result::Result<(), governor::NotUntil<Duration>>,
    governor::InsufficientCapacity,
> {
    use std::fmt::Write;
    thread_local! {
        static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    KEY.with_borrow_mut(|key| {
        key.clear();
        let _ = write!(
            key,
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        limiter.check_key_n(key, n)
    })
}

/// The per-host limiter, on tokio's clock.
/// A GCRA limiter of `requests` per `period`: a burst of `requests`, then evenly spaced.
fn new_limiter(requests: NonZeroU32, period: Duration) -> Result<Arc<Limiter>> {
    let quota = Quota::with_period(period / requests.get())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "the rate-limit period must be longer than zero",
            )
        })?
        .allow_burst(requests);
    Ok(Arc::new(RateLimiter::new(
        quota,
        DefaultKeyedStateStore::default(),
        TokioClock::new(),
    )))
}

type Limiter = RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    TokioClock,
    governor::middleware::NoOpMiddleware<Duration>,
>;

/// governor's clock read from tokio's, and its waits slept on tokio's timer: a test that
/// pauses tokio's clock (`#[tokio::test(start_paused = true)]`) sees the limiter's waits
/// pass at once, counted as they would be in real time.
#[derive(Debug, Clone, Copy)]
struct TokioClock(tokio::time::Instant);

impl TokioClock {
    fn new() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl governor::clock::Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("connector", &self.inner.connector)
            .field("auth", &self.inner.auth)
            .field("policy", &self.inner.policy)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds an [`HttpClient`]. Defaults: 60 s timeout, 10 s connect timeout, 5 retries from
/// 250 ms backoff up to 30 s, rate limits waited out up to 10 retries within 15 min,
/// `Retry-After` honoured up to 5 min, no rate limit, 64 MiB body cap, 5 redirects, gzip on,
/// every address reachable ([`NetworkPolicy::any`]).
pub struct HttpClientBuilder {
    connector: &'static str,
    timeout: Duration,
    connect_timeout: Duration,
    policy: RetryPolicy,
    rate_limit: Option<(NonZeroU32, Duration)>,
    max_body_bytes: u64,
    max_redirects: u32,
    user_agent: String,
    auth: Auth,
    credential_field: Option<String>,
    resolve: Vec<(String, std::net::SocketAddr)>,
    classifier: Option<ErrorClassifier>,
    success_classifier: Option<ErrorClassifier>,
    rate_limited_wait: Option<Duration>,
    retry_hint: Option<RetryHint>,
    network: NetworkPolicy,
    gate: Option<Arc<dyn RateGate>>,
    gate_key: Option<String>,
}

impl HttpClientBuilder {
    fn new(connector: &'static str) -> Self {
        Self {
            connector,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            rate_limit: None,
            max_body_bytes: 64 * 1024 * 1024,
            max_redirects: 5,
            user_agent: format!("connectors/{} ({connector})", env!("CARGO_PKG_VERSION")),
            auth: Auth::None,
            credential_field: None,
            resolve: Vec::new(),
            classifier: None,
            success_classifier: None,
            rate_limited_wait: None,
            retry_hint: None,
            network: NetworkPolicy::any(),
            gate: None,
            gate_key: None,
        }
    }

    /// The whole-request timeout, body included.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The whole retry policy.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Retries after the first attempt for errors (`0` disables them; rate-limited answers
    /// have their own limits: [`rate_limit_retries`](Self::rate_limit_retries)).
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.policy.max_retries = n;
        self
    }

    /// Retries of rate-limited answers (default 10) and the most one request waits for rate
    /// limits in all (default 15 min); see [`RetryPolicy`].
    #[must_use]
    pub fn rate_limit_retries(mut self, n: u32, budget: Duration) -> Self {
        self.policy.max_rate_limit_retries = n;
        self.policy.rate_limit_budget = budget;
        self
    }

    /// The backoff ceiling of the first retry and the largest one.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.policy.initial_backoff = initial;
        self.policy.max_backoff = max;
        self
    }

    /// The longest wait a service asks for that is honoured (default 5 min): `Retry-After`, and
    /// on 429 and 503 without it, `RateLimit-Reset`, Atlassian's `X-RateLimit-Reset` or
    /// GitHub's (epoch seconds beside `X-RateLimit-Remaining: 0`).
    #[must_use]
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.policy.retry_after_cap = cap;
        self
    }

    /// The wait before retrying a `429` whose headers say nothing of when to come back (no
    /// `Retry-After`, no reset header), for a service that documents one: Airtable's "you will
    /// need to wait 30 seconds before subsequent requests will succeed". Like a `Retry-After`,
    /// it holds every request of the client and counts against the rate-limit budget. Without
    /// it such a 429 is retried after the jittered backoff.
    #[must_use]
    pub fn rate_limited_wait(mut self, wait: Duration) -> Self {
        self.rate_limited_wait = Some(wait);
        self
    }

    /// Reads the wait a `429` or `503` answer asks for in its body, where its headers ask
    /// for none (no `Retry-After`, no reset header): Google's unary `{"error": {"code": 429,
    /// "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay":
    /// "30s"}]}}`, Infura's `{"error": {"code": -32005, "data": {"rate": {"backoff_seconds":
    /// 30}}}}`. `hint` sees the status and the body's first 64 KiB (read only where a hint is
    /// set); `None` leaves the wait to [`rate_limited_wait`](Self::rate_limited_wait) or the
    /// backoff. A wait it gives is honoured as a `Retry-After` is: cut at
    /// [`retry_after_cap`](Self::retry_after_cap), holding every request of the client, and a
    /// `503` with one is a rate limit. Without it such a body is never read.
    #[must_use]
    pub fn retry_hint(
        mut self,
        hint: impl Fn(reqwest::StatusCode, &[u8]) -> Option<Duration> + Send + Sync + 'static,
    ) -> Self {
        self.retry_hint = Some(Arc::new(hint));
        self
    }

    /// At most `requests` per `period` to each host (GCRA: a burst of `requests`, then evenly
    /// spaced).
    #[must_use]
    pub fn rate_limit(mut self, requests: NonZeroU32, period: Duration) -> Self {
        self.rate_limit = Some((requests, period));
        self
    }

    /// Asks `gate` before every attempt, so that clients in many processes sharing the gate keep
    /// together to one rate per credential (see [`RateGate`]); a rate-limited answer's wait is
    /// passed to the gate, so they all back off. The spacing asked is the
    /// [`rate_limit`](Self::rate_limit)'s period per request (zero without one: then only the
    /// services' waits are shared); the in-process limit still applies too. Without a gate
    /// here, a client taken [`with_context`](HttpClient::with_context) uses the context's.
    #[must_use]
    pub fn rate_gate(mut self, gate: Arc<dyn RateGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The name of this client's limit at a [`RateGate`] instead of the hash of its credential:
    /// for a credential sent per request ([`RequestBuilder::auth`](super::RequestBuilder::auth))
    /// or one that rotates (an OAuth access token), name what the service counts against (the
    /// account). Prefixed with the connector's source key.
    #[must_use]
    pub fn rate_gate_key(mut self, key: impl Into<String>) -> Self {
        self.gate_key = Some(key.into());
        self
    }

    /// The largest response body read, after decompression (default 64 MiB).
    #[must_use]
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Redirects followed per request (default 5; `0` returns the redirect as an error).
    #[must_use]
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// The `User-Agent` header.
    #[must_use]
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Authenticates every request with `auth`; `credential_field` is the config field a 401 or
    /// 403 error tells the user to fix (`credentials.token`).
    #[must_use]
    pub fn auth(mut self, auth: Auth, credential_field: impl Into<String>) -> Self {
        self.auth = auth;
        self.credential_field = Some(credential_field.into());
        self
    }

    /// Which addresses requests may reach, on every hop (see [`NetworkPolicy`]): a connector
    /// whose URL a tenant can set passes [`NetworkPolicy::public_only`] with the hosts its
    /// config allows, so the host cannot be made to fetch its own metadata service or
    /// intranet.
    #[must_use]
    pub fn network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.network = policy;
        self
    }

    /// Sends requests for `host` to the IP of `addr` instead of asking DNS (the port still
    /// comes from the URL), for tests of virtual-host URLs (`bucket.s3.test`) on a local server.
    #[must_use]
    pub fn resolve(mut self, host: impl Into<String>, addr: std::net::SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// Classifies error responses by their body, for services that say in the body what a
    /// status means: Google answers 403 both for a missing permission and for a rate limit
    /// (`"reason": "rateLimitExceeded"`), which must be retried.
    ///
    /// `classify` sees every 4xx response other than 408 and 429 with the first 64 KiB of its
    /// body. `Some(class)` replaces the default mapping: a retryable kind is retried with
    /// backoff (honouring `Retry-After`, and for [`ErrorKind::RateLimited`] the reset headers
    /// a 429 would be read for, GitHub's `X-RateLimit-Reset` among them) while retries remain, then returned with the attempts
    /// made; any other kind is returned at once (naming the credential field for
    /// [`ErrorKind::Unauthenticated`] and [`ErrorKind::PermissionDenied`]). `None` keeps the
    /// default mapping.
    #[must_use]
    pub fn error_classifier(
        mut self,
        classify: impl Fn(reqwest::StatusCode, &[u8]) -> Option<ErrorClass> + Send + Sync + 'static,
    ) -> Self {
        self.classifier = Some(Arc::new(classify));
        self
    }

    /// Classifies successful (2xx) answers by their body, for services that answer errors with
    /// HTTP 200: Slack's Web API says `{"ok": false, "error": "invalid_auth"}` (or
    /// `ratelimited`, `not_in_channel`, `internal_error`) with status 200.
    ///
    /// `classify` sees every 2xx body the caller would get (whole, up to the body cap), so it
    /// should be cheap on the common answer. `Some(class)` turns the answer into an error
    /// exactly as [`error_classifier`](Self::error_classifier)'s classes do: a retryable kind is
    /// retried (a [`ErrorKind::RateLimited`] one after the `Retry-After` the answer carries),
    /// [`ErrorKind::Unauthenticated`] and [`ErrorKind::PermissionDenied`] name the credential
    /// field, and the message ends with `(HTTP 200)`. `None` hands the answer on.
    #[must_use]
    pub fn success_classifier(
        mut self,
        classify: impl Fn(reqwest::StatusCode, &[u8]) -> Option<ErrorClass> + Send + Sync + 'static,
    ) -> Self {
        self.success_classifier = Some(Arc::new(classify));
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a zero rate-limit period or a user agent that is not a valid
    /// header; [`ErrorKind::Internal`] when the TLS backend cannot start.
    pub fn build(self) -> Result<HttpClient> {
        let gate_interval = self
            .rate_limit
            .map_or(Duration::ZERO, |(requests, period)| period / requests.get());
        let gate_key = match &self.gate_key {
            Some(key) => Some(format!("{}:{key}", self.connector)),
            None => gate_key(self.connector, &self.auth),
        };
        let limiter = match self.rate_limit {
            None => None,
            Some((requests, period)) => Some(new_limiter(requests, period)?),
        };
        // reqwest's rustls setup, but the system's roots are read at the first `https`
        // handshake instead of here (see `tls`): a client of `http://` URLs never reads them.
        let (tls, tls_roots) = super::tls::client_config().map_err(|e| {
            Error::internal("cannot set up TLS for the HTTP client")
                .with_connector(self.connector)
                .with_cause(e)
        })?;
        let mut client = reqwest::Client::builder().tls_backend_preconfigured(tls);
        if self.network.is_guarded() {
            // Host names resolve through the guard, which drops denied addresses before
            // connecting: the address checked is the address connected to.
            client = client.dns_resolver(self.network.resolver());
        }
        for (host, addr) in &self.resolve {
            client = client.resolve(host, *addr);
        }
        let client = client
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .gzip(true)
            // Redirects are followed by the request loop, which drops credentials on a hop to
            // another origin, custom API-key headers included.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::internal("cannot build the HTTP client")
                    .with_connector(self.connector)
                    .with_cause(e)
            })?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                _sent_basic: match &self.auth {
                    Auth::Basic { username, password } => {
                        use base64::Engine;
                        let raw = format!("{username}:{}", password.expose());
                        Some(Secret::new(
                            base64::engine::general_purpose::STANDARD.encode(raw),
                        ))
                    }
                    _ => None,
                },
                digest: std::sync::Mutex::default(),
                client,
                connector: self.connector,
                credential_field: self.credential_field,
                auth_header: super::request::auth_header(&self.auth).ok().flatten(),
                auth: self.auth,
                policy: self.policy,
                timeout: self.timeout,
                max_body_bytes: self.max_body_bytes,
                max_redirects: self.max_redirects,
                classifier: self.classifier,
                success_classifier: self.success_classifier,
                rate_limited_wait: self.rate_limited_wait,
                retry_hint: self.retry_hint,
                network: self.network,
                tls_roots,
                limiter,
                gate_key,
                gate_interval,
            }),
            stats: None,
            cancel: None,
            gate: self.gate,
        })
    }
}

/// `connector:` and 32 hex digits of SHA-256 over the credential, for a [`RateGate`]: the same
/// credential names the same limit in every process, and the key shows nothing of it.
/// `None` without credentials.
fn gate_key(connector: &str, auth: &Auth) -> Option<String> {
    use sha2::{Digest, Sha256};
    let (kind, name, secret) = match auth {
        Auth::None => return None,
        Auth::Bearer(token) => ("bearer", "", token),
        Auth::Basic { username, password } => ("basic", username.as_str(), password),
        Auth::Digest { username, password } => ("digest", username.as_str(), password),
        Auth::Header { name, value } => ("header", name.as_str(), value),
    };
    let mut hash = Sha256::new();
    // Domain-separated and length-prefixed, so no two credentials hash the same input.
    for part in [
        "connectors rate gate v1",
        connector,
        kind,
        name,
        secret.expose(),
    ] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{connector}:{hex}"))
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("connector", &self.connector)
            .field("auth", &self.auth)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(20);

    /// One request every 20 ms, two at once.
    fn two_at_once() -> Limiter {
        let quota = Quota::with_period(INTERVAL)
            .unwrap()
            .allow_burst(NonZeroU32::new(2).unwrap());
        RateLimiter::new(quota, DefaultKeyedStateStore::default(), TokioClock::new())
    }

    /// The wait before `url` takes one more permit of `limiter` (zero: now), without taking it.
    fn next_due(limiter: &Limiter, url: &Url) -> Duration {
        let key = format!("{}:443", url.host_str().unwrap());
        match limiter.check_key(&key) {
            Ok(()) => Duration::ZERO,
            Err(not_until) => {
                not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()))
            }
        }
    }

    #[tokio::test]
    async fn n_permits_wait_n_intervals() {
        let url = Url::parse("https://graph.example/v1.0/$batch").unwrap();
        let n = |n: u32| NonZeroU32::new(n).unwrap();
        let limiter = two_at_once();
        // The burst of 2 goes at once; 6 more, past it, are due 6 intervals on (taken a
        // burst at a time) and leave none: the next is an interval away, as after 8 single
        // requests.
        let started = tokio::time::Instant::now();
        take_permits(&limiter, &url, n(2)).await;
        take_permits(&limiter, &url, n(6)).await;
        assert!(started.elapsed() >= INTERVAL * 6, "{:?}", started.elapsed());
        assert!(next_due(&limiter, &url) > INTERVAL / 2);
        // Another host has a limit of its own.
        let other = Url::parse("https://other.example/").unwrap();
        let started = tokio::time::Instant::now();
        take_permits(&limiter, &other, n(1)).await;
        assert!(started.elapsed() < INTERVAL);

        // The same 8 permits one request each: as long.
        let singles = two_at_once();
        let started = tokio::time::Instant::now();
        for _ in 0..8 {
            take_permits(&singles, &url, n(1)).await;
        }
        assert!(started.elapsed() >= INTERVAL * 6);
        assert!(next_due(&singles, &url) > INTERVAL / 2);
    }
}
