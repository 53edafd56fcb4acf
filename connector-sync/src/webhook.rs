//! [`WebhookSink`]: each batch POSTed as JSON to a URL the host configures, for hosts whose
//! index is not written in Rust.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::config::ConnectorConfig;
use connector_core::error::redact_url;
use connector_core::http::{Auth, HttpClient, NetworkPolicy, RetryPolicy, header};
use connector_core::reexports::Url;
use connector_core::reexports::schemars::JsonSchema;
use connector_core::sink::Sink;
use connector_core::{Document, Error, ErrorKind, FieldError, Result, Secret};
use serde::{Deserialize, Serialize};

/// The name the webhook's HTTP client gives in its errors and logs.
const CLIENT_NAME: &str = "webhook";

/// The header that carries each POST's idempotency key (the IETF `Idempotency-Key` draft).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The smallest [`max_body_bytes`](WebhookConfig::max_body_bytes) accepted: the envelope alone
/// takes a few hundred bytes.
const MIN_BODY_BYTES: u64 = 1024;

/// Where a [`WebhookSink`] POSTs and how.
///
/// ```
/// use connector_sync::WebhookConfig;
/// use connector_core::reexports::serde_json::{self, json};
/// let config: WebhookConfig = serde_json::from_value(json!({
///     "url": "https://index.example.com/ingest",
///     "token": "s3cr3t-token",
///     "max_body_bytes": 1048576
/// }))?;
/// assert!(connector_core::ConnectorConfig::validate(&config).is_empty());
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
pub struct WebhookConfig {
    /// The receiver's URL (`http` or `https`). A query string is sent as it is but never shown
    /// in errors or logs; a token belongs in `token` or `header`.
    pub url: Url,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// A header of the receiver's own (`X-Api-Key`), sent with every POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<WebhookHeader>,
    /// The largest body one POST carries (default 8 MiB, at least 1024). A larger batch is
    /// split into several POSTs, each acknowledged before the next is sent; a single document
    /// larger than this goes alone.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Seconds one POST may take, the receiver's answer included (default 30).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of a POST after a 5xx, a 408, a timeout or a connection error (default 5); 429
    /// answers are waited out on their own count, honouring `Retry-After`.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
}

/// A header holding a credential, for [`WebhookConfig::header`].
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
pub struct WebhookHeader {
    /// The header's name (`X-Api-Key`).
    pub name: String,
    /// Its value.
    pub value: Secret,
}

fn default_max_body_bytes() -> u64 {
    8 * 1024 * 1024
}

fn default_timeout_secs() -> u64 {
    30
}

fn default_max_retries() -> u32 {
    5
}

impl WebhookConfig {
    /// A config POSTing to `url` with the defaults and no credentials.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            token: None,
            header: None,
            max_body_bytes: default_max_body_bytes(),
            timeout_secs: default_timeout_secs(),
            max_retries: default_max_retries(),
        }
    }
}

impl ConnectorConfig for WebhookConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !matches!(self.url.scheme(), "http" | "https") {
            problems.push(FieldError::new(
                "url",
                format!("must be an http or https URL, not `{}:`", self.url.scheme()),
            ));
        }
        if self.url.host_str().is_none_or(str::is_empty) {
            problems.push(FieldError::new("url", "has no host"));
        }
        if self.url.password().is_some() {
            problems.push(FieldError::new(
                "url",
                "holds a password; put the credential in `token` or `header`",
            ));
        }
        if self.max_body_bytes < MIN_BODY_BYTES {
            problems.push(FieldError::new(
                "max_body_bytes",
                format!("must be at least {MIN_BODY_BYTES}"),
            ));
        }
        if self.timeout_secs == 0 {
            problems.push(FieldError::new("timeout_secs", "must be at least 1"));
        }
        if let Some(h) = &self.header {
            let name = h.name.to_ascii_lowercase();
            if header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(FieldError::new(
                    "header.name",
                    format!("`{}` is not a valid header name", h.name),
                ));
            } else if matches!(
                name.as_str(),
                "content-type" | "content-length" | "host" | IDEMPOTENCY_KEY_HEADER
            ) {
                problems.push(FieldError::new(
                    "header.name",
                    format!("`{}` is set by the webhook sink itself", h.name),
                ));
            } else if name == "authorization" && self.token.is_some() {
                problems.push(FieldError::new(
                    "header.name",
                    "`Authorization` is already sent for `token`; set one of the two",
                ));
            }
            if header::HeaderValue::from_str(h.value.expose()).is_err() {
                problems.push(FieldError::new(
                    "header.value",
                    "is not a valid header value",
                ));
            }
        }
        if let Some(token) = &self.token
            && (token.is_empty() || header::HeaderValue::from_str(token.expose()).is_err())
        {
            problems.push(FieldError::new(
                "token",
                "must be non-empty text without line breaks",
            ));
        }
        problems
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url(&self.url))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("header", &self.header.as_ref().map(|h| (&h.name, "***")))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// Builds a [`WebhookSink`]; see [`WebhookSink::builder`].
pub struct WebhookSinkBuilder {
    config: WebhookConfig,
    connector_id: String,
    network: NetworkPolicy,
    policy: Option<RetryPolicy>,
}

impl WebhookSinkBuilder {
    /// The host's network policy, which the webhook's own host is added to (default
    /// [`NetworkPolicy::public_only`]: the configured host, whatever its address, and public
    /// addresses).
    #[must_use]
    pub fn network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.network = policy;
        self
    }

    /// The whole retry policy instead of core's default with the config's `max_retries`.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Builds the sink.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming every problem of the config ([`WebhookConfig`]'s
    /// `validate`); [`ErrorKind::Internal`] when the HTTP client cannot start.
    pub fn build(self) -> Result<WebhookSink> {
        let config = self.config;
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        let host = config.url.host_str().unwrap_or_default().to_owned();
        // The URL is the host's own setting, not a tenant's: its host is allowed whatever its
        // address (a receiver on loopback or the intranet), and nothing else private is.
        let network = self
            .network
            .allow([host.as_str()])
            .map_err(|e| Error::config(vec![FieldError::new("url", e.message().to_owned())]))?;
        let policy = self.policy.unwrap_or(RetryPolicy {
            max_retries: config.max_retries,
            ..RetryPolicy::default()
        });
        let mut client = HttpClient::builder(CLIENT_NAME)
            .timeout(Duration::from_secs(config.timeout_secs))
            .retry_policy(policy)
            // A receiver that redirects a POST would have the documents sent on to another
            // origin; a redirect is reported instead.
            .max_redirects(0)
            .network_policy(network);
        if let Some(token) = &config.token {
            client = client.auth(Auth::Bearer(token.clone()), "token");
        } else if let Some(h) = &config.header {
            client = client.auth(
                Auth::Header {
                    name: h.name.clone(),
                    value: h.value.clone(),
                },
                "header.value",
            );
        }
        let extra_header = match (&config.token, &config.header) {
            (Some(_), Some(h)) => Some((h.name.clone(), h.value.clone())),
            _ => None,
        };
        Ok(WebhookSink {
            client: client.build()?,
            max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
            url: config.url,
            extra_header,
            connector_id: self.connector_id,
            run: run_id(),
            sequence: AtomicU64::new(0),
        })
    }
}

impl fmt::Debug for WebhookSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSinkBuilder")
            .field("config", &self.config)
            .field("connector_id", &self.connector_id)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// A [`Sink`] that POSTs every batch as JSON to a URL, for hosts whose index is not Rust.
///
/// # The requests
/// A batch is one `POST` (or several, see below) with `Content-Type: application/json` and an
/// `Idempotency-Key` header, whose body is an envelope around the documents, each serialised
/// exactly as [`NdjsonSink`](connector_core::sink::NdjsonSink) writes a line:
///
/// ```json
/// {"connector_id": "wiki", "sequence": 7, "part": 0, "parts": 1, "op": "upsert",
///  "idempotency_key": "5f0c9a7e21d4b3a8-7-0", "documents": [{"id": "…", "source": "…", …}]}
/// ```
///
/// A delete (prune) is a POST of its own with `"op": "delete"` and `"ids": ["…"]` in place of
/// `documents`. `sequence` counts the batches and deletes of this sink from 0; the
/// idempotency key (also in the body) is the same on every retry of one POST and differs
/// between POSTs, so a receiver that has stored a key can drop a repeated POST.
///
/// # Acknowledgement and retries
/// Any 2xx acknowledges a POST; the batch is acknowledged to the batch loop once all its POSTs
/// are. The HTTP layer is core's [`HttpClient`]: 500, 502, 503, 504, 408, timeouts and
/// connection errors are retried with backoff and full jitter up to `max_retries`, 429 (and
/// a 503 that says when) is waited out honouring `Retry-After`; every retry resends the same
/// body with the same key. Any other answer fails the write at once as
/// [`ErrorKind::Sink`], naming the URL (without its query) and the status: 401 and 403 name the
/// credential field, another 4xx quotes the start of the receiver's answer, a 3xx is not
/// followed. No response body is needed.
///
/// # Large batches
/// A batch whose envelope would exceed [`max_body_bytes`](WebhookConfig::max_body_bytes) is
/// split into POSTs numbered by `part` of `parts` (same `sequence`), sent in order, each
/// acknowledged before the next: a receiver sees a batch whole only once it has every part, and
/// a failed part stops the batch (which the batch loop then delivers again in full).
///
/// # Durability
/// The sink keeps nothing: a 2xx means the receiver has the documents, and what it does to keep
/// them is its own ([`Durability`](connector_core::sink::Durability) is a file sinks' setting).
/// A receiver should store before it answers, and upsert by document id: after a crash the
/// unacknowledged batch comes again, with a new sequence and key but the same ids.
///
/// # Network
/// The configured host is allowed explicitly ([`NetworkPolicy::allow`]) on top of the host's
/// policy (by default public addresses only), so a receiver on loopback or an intranet address
/// works, while the sink cannot be pointed elsewhere by a redirect (redirects are not followed).
///
/// # Secrets
/// The token and header value are [`Secret`]s: sent in headers marked sensitive, never in
/// `Debug`, errors or logs, and scrubbed from any receiver answer quoted in an error.
///
/// # Cancel safety
/// A write whose future is dropped may have sent some of its POSTs; it was not acknowledged,
/// so the batch is delivered again.
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_core::testkit::MemoryConnector;
/// use connector_sync::{WebhookConfig, WebhookSink};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = WebhookConfig::new("http://127.0.0.1:8080/ingest".parse()?);
/// config.token = Some(connector_core::Secret::new("s3cr3t-token"));
/// let sink = WebhookSink::builder(config, "wiki").build()?;
/// let connector = Arc::new(MemoryConnector::numbered(10, 4, chrono::DateTime::UNIX_EPOCH));
/// Syncer::new(connector).sink(sink).run(SyncMode::Full).await?;
/// # Ok(()) }
/// ```
pub struct WebhookSink {
    client: HttpClient,
    url: Url,
    connector_id: String,
    /// A custom header sent besides the bearer token (when both are set).
    extra_header: Option<(String, Secret)>,
    max_body_bytes: usize,
    /// This sink's own id in its idempotency keys, so two sinks (two processes, or one
    /// restarted) never send the same key for different bodies.
    run: String,
    sequence: AtomicU64,
}

/// What a POST carries.
#[derive(Clone, Copy)]
enum Op {
    Upsert,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }

    fn items_key(self) -> &'static str {
        match self {
            Self::Upsert => "documents",
            Self::Delete => "ids",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Upsert => "batch",
            Self::Delete => "delete",
        }
    }
}

/// Items serialised once into one buffer, each a JSON value ending at its offset.
#[derive(Default)]
struct Items {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Items {
    fn push<T: Serialize + ?Sized>(&mut self, item: &T) -> serde_json::Result<()> {
        serde_json::to_writer(&mut self.buf, item)?;
        self.ends.push(self.buf.len());
        Ok(())
    }

    fn get(&self, n: usize) -> &[u8] {
        let start = if n == 0 { 0 } else { self.ends[n - 1] };
        &self.buf[start..self.ends[n]]
    }

    /// The items in runs whose JSON array, joined by commas, fits `budget` bytes; an item
    /// larger than that alone makes a run.
    fn parts(&self, budget: usize) -> Vec<Range<usize>> {
        let mut parts = Vec::new();
        let (mut start, mut size) = (0, 0);
        for n in 0..self.ends.len() {
            let len = self.get(n).len() + usize::from(n > start);
            if n > start && size + len > budget {
                parts.push(start..n);
                (start, size) = (n, self.get(n).len());
            } else {
                size += len;
            }
        }
        if start < self.ends.len() {
            parts.push(start..self.ends.len());
        }
        parts
    }
}

/// The envelope's fields before the items, in the order they are written.
#[derive(Serialize)]
struct Envelope<'a> {
    connector_id: &'a str,
    sequence: u64,
    part: usize,
    parts: usize,
    op: &'static str,
    idempotency_key: &'a str,
}

impl Envelope<'_> {
    /// `{"connector_id":…,"idempotency_key":…,"documents":[`: the object without its closing
    /// brace, then the items' key.
    fn prefix(&self, items_key: &str) -> serde_json::Result<Vec<u8>> {
        let mut out = serde_json::to_vec(self)?;
        out.pop(); // the closing brace
        out.extend_from_slice(format!(",\"{items_key}\":[").as_bytes());
        Ok(out)
    }
}

impl WebhookSink {
    /// A builder for a sink POSTing `connector_id`'s documents as `config` says.
    pub fn builder(config: WebhookConfig, connector_id: impl Into<String>) -> WebhookSinkBuilder {
        WebhookSinkBuilder {
            config,
            connector_id: connector_id.into(),
            network: NetworkPolicy::public_only(),
            policy: None,
        }
    }

    /// The receiver's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// POSTs `items` as one batch (`op`), in parts that fit the body limit, each acknowledged
    /// before the next.
    async fn post(&self, op: Op, items: &Items) -> Result<()> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        // The envelope with the widest numbers it can hold, so every part's real one fits.
        let widest = Envelope {
            connector_id: &self.connector_id,
            sequence: u64::MAX,
            part: usize::MAX,
            parts: usize::MAX,
            op: op.name(),
            idempotency_key: &format!("{}-{}-{}", self.run, u64::MAX, usize::MAX),
        };
        let overhead = widest.prefix(op.items_key())?.len() + 2;
        let parts = items.parts(self.max_body_bytes.saturating_sub(overhead));
        let count = parts.len();
        for (part, range) in parts.into_iter().enumerate() {
            let key = format!("{}-{sequence}-{part}", self.run);
            let envelope = Envelope {
                connector_id: &self.connector_id,
                sequence,
                part,
                parts: count,
                op: op.name(),
                idempotency_key: &key,
            };
            let mut body = envelope.prefix(op.items_key())?;
            let first = range.start;
            for n in range {
                if n > first {
                    body.push(b',');
                }
                body.extend_from_slice(items.get(n));
            }
            body.extend_from_slice(b"]}");
            if body.len() > self.max_body_bytes {
                tracing::warn!(
                    connector_id = %self.connector_id, url = %redact_url(&self.url), sequence, part,
                    bytes = body.len(), max = self.max_body_bytes,
                    "one item is larger than the webhook's body limit; sending it alone"
                );
            }
            let mut request = self
                .client
                .post(self.url.clone())
                .idempotent(true)
                .header(IDEMPOTENCY_KEY_HEADER, &key)
                .body(body, "application/json");
            if let Some((name, value)) = &self.extra_header {
                request = request.secret_header(name, value);
            }
            let what = format!("{} {sequence} (part {} of {count})", op.what(), part + 1);
            let response = request.send().await.map_err(|e| self.refused(&what, e))?;
            if !response.status().is_success() {
                let status = response.status().as_u16();
                return Err(self.refused(
                    &what,
                    Error::new(ErrorKind::InvalidData, format!("HTTP {status}"))
                        .with_connector(CLIENT_NAME)
                        .with_url(&self.url)
                        .with_retryable(false),
                ));
            }
            tracing::debug!(connector_id = %self.connector_id, sequence, part, parts = count, "webhook acknowledged");
        }
        Ok(())
    }

    /// The sink's error for a POST that was not acknowledged, keeping whether (and when) it is
    /// worth trying again.
    fn refused(&self, what: &str, cause: Error) -> Error {
        let retryable = cause.is_retryable();
        let retry_after = cause.retry_after();
        // The cause names the URL (without its query) and the status.
        let err = Error::new(
            ErrorKind::Sink,
            format!("the webhook did not acknowledge {what}"),
        )
        .with_retryable(retryable)
        .with_cause(cause);
        match retry_after {
            Some(wait) => err.with_retry_after(wait),
            None => err,
        }
    }
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &redact_url(&self.url))
            .field("connector_id", &self.connector_id)
            .field("client", &self.client)
            .field(
                "extra_header",
                &self.extra_header.as_ref().map(|(name, _)| (name, "***")),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("sequence", &self.sequence.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Sink for WebhookSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut items = Items::default();
        for doc in documents {
            items.push(doc).map_err(|e| {
                Error::new(ErrorKind::Sink, "cannot serialise document")
                    .with_item(doc.id.clone())
                    .with_cause(e)
            })?;
        }
        self.post(Op::Upsert, &items).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut items = Items::default();
        for id in ids {
            items.push(id)?;
        }
        self.post(Op::Delete, &items).await
    }
}

/// A sink id that no other sink (in this process or another) is likely to share: the time,
/// the process and a counter, hashed.
fn run_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(lens: &[usize]) -> Items {
        let mut items = Items::default();
        for len in lens {
            items.push(&"x".repeat(len - 2)).unwrap();
        }
        items
    }

    #[test]
    fn parts_fit_the_budget_and_keep_the_order() {
        // Items of 10 bytes: 3 fit in 32 (10 + 1 + 10 + 1 + 10).
        let parts = items(&[10; 7]).parts(32);
        assert_eq!(parts, [0..3, 3..6, 6..7]);
        // An item over the budget goes alone.
        assert_eq!(items(&[10, 50, 10]).parts(32), [0..1, 1..2, 2..3]);
        assert_eq!(
            items(&[10, 10]).parts(1000),
            vec![Range { start: 0, end: 2 }]
        );
        assert_eq!(Items::default().parts(10), Vec::<Range<usize>>::new());
    }

    #[test]
    fn the_envelope_is_json_around_the_items() {
        let envelope = Envelope {
            connector_id: "w\"iki",
            sequence: 3,
            part: 1,
            parts: 2,
            op: "delete",
            idempotency_key: "k-3-1",
        };
        let mut body = envelope.prefix("ids").unwrap();
        body.extend_from_slice(br#""a","b"]}"#);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"connector_id": "w\"iki", "sequence": 3, "part": 1, "parts": 2,
                "op": "delete", "idempotency_key": "k-3-1", "ids": ["a", "b"]})
        );
    }
}
