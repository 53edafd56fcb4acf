//! [`RequestBuilder`], its [`send`](RequestBuilder::send) loop, and the buffered [`Response`].
//!
//! `send` makes attempts until one is accepted or fails for good: an attempt follows the
//! redirects ([`redirect`]), the answer is classified ([`Classifier`]), and the
//! [`RetryContext`] decides whether a failed attempt is worth another after which wait.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::body::{BodyRead, spool_body};
use super::classify::{Classifier, Verdict};
use super::client::{Auth, HttpClient};
use super::redirect::{self, Hop, Sent};
use super::retry::{RetryContext, Retryable};
use crate::error::{Error, ErrorKind, Result, redact_url};
use crate::spool::{Spool, SpooledBody};

/// One request being built. Send it with [`send`](RequestBuilder::send).
///
/// Invalid header names or values are reported by `send`, as [`ErrorKind::Config`] naming the
/// header but not its value.
pub struct RequestBuilder {
    client: HttpClient,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<(Bytes, &'static str)>,
    idempotent: Option<bool>,
    auth: Option<Auth>,
    credential_field: Option<String>,
    timeout: Option<Duration>,
    max_body_bytes: Option<u64>,
    client_errors: bool,
    spool: Option<Spool>,
    permits: NonZeroU32,
    invalid: Option<Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: HttpClient, method: Method, url: Url) -> Self {
        Self {
            client,
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotent: None,
            auth: None,
            credential_field: None,
            timeout: None,
            max_body_bytes: None,
            client_errors: false,
            spool: None,
            permits: NonZeroU32::MIN,
            invalid: None,
        }
    }

    /// Appends query parameters.
    #[must_use]
    pub fn query<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        {
            let mut q = self.url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k.as_ref(), v.as_ref());
            }
        }
        if self.url.query() == Some("") {
            self.url.set_query(None);
        }
        self
    }

    /// Sets a header (replacing one of the same name).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.set_header(name, value, false);
        self
    }

    /// Sets a header holding a credential, marked sensitive.
    #[must_use]
    pub fn secret_header(mut self, name: &str, value: &crate::Secret) -> Self {
        self.set_header(name, value.expose(), true);
        self
    }

    fn set_header(&mut self, name: &str, value: &str, sensitive: bool) {
        match header_pair(name, value, sensitive) {
            Ok((n, v)) => {
                self.headers.insert(n, v);
            }
            Err(e) => {
                self.invalid
                    .get_or_insert(e.with_connector(self.client.connector()));
            }
        }
    }

    /// A JSON body (and `Content-Type: application/json`).
    #[must_use]
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some((Bytes::from(bytes), "application/json")),
            Err(e) => {
                self.invalid.get_or_insert(
                    Error::internal("cannot serialise the request body").with_cause(e),
                );
            }
        }
        self
    }

    /// A raw body with its content type.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &'static str) -> Self {
        self.body = Some((body.into(), content_type));
        self
    }

    /// Marks the request safe to retry (a search sent as `POST`), or not.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Authenticates this request with `auth` instead of the client's; `credential_field` is
    /// named in 401/403 errors.
    #[must_use]
    pub fn auth(mut self, auth: Auth, credential_field: impl Into<String>) -> Self {
        self.auth = Some(auth);
        self.credential_field = Some(credential_field.into());
        self
    }

    /// This request's timeout instead of the client's.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// This request's body cap instead of the client's.
    #[must_use]
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = Some(n);
        self
    }

    /// Hands responses with a 4xx status other than 408 and 429 back as a [`Response`] (body
    /// read up to the cap) instead of turning them into errors, for services whose error bodies
    /// say more than the status: S3 answers 403 both for a wrong secret
    /// (`SignatureDoesNotMatch`) and for a missing permission (`AccessDenied`). Retries, 5xx
    /// statuses and transport errors are handled as usual; the caller maps the status.
    #[must_use]
    pub fn client_errors_as_responses(mut self) -> Self {
        self.client_errors = true;
        self
    }

    /// Writes a success body to a new file of `spool` as it arrives instead of holding it in
    /// memory (still capped by [`max_body_bytes`](Self::max_body_bytes)): for bodies too large
    /// for memory. Read it from [`Response::into_spooled`]; [`Response::body`] is then empty.
    /// Error bodies are read as usual. A body cut short is retried as any read is, and leaves
    /// no file.
    #[must_use]
    pub fn spool_to(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Counts this request as `permits` requests against the client's rate limit and its
    /// [`RateGate`](crate::rate::RateGate) (default 1): for one request the service counts as
    /// several, such as a JSON batch whose every member counts against the service's limit.
    /// Each attempt (and each redirect hop) takes them; the request goes out when the last is
    /// due, so the batch keeps the average rate that as many single requests would.
    #[must_use]
    pub fn permits(mut self, permits: NonZeroU32) -> Self {
        self.permits = permits;
        self
    }

    /// Sends the request, retrying idempotent ones on 408/429/500/502/503/504 and connection
    /// errors, following redirects, and reads the whole body up to the cap.
    ///
    /// A status below 400 (after redirects) is a success, `304 Not Modified` included.
    ///
    /// # Errors
    /// - [`ErrorKind::Unauthenticated`] (401) and [`ErrorKind::PermissionDenied`] (403), at once,
    ///   naming the connector and the credential field;
    /// - [`ErrorKind::NotFound`] (404, 410);
    /// - [`ErrorKind::RateLimited`] (429) or [`ErrorKind::Unavailable`] (5xx, connection errors,
    ///   timeouts) once the retries are spent, with the attempts made;
    /// - [`ErrorKind::InvalidData`] for other 4xx statuses and for a body over the cap (not
    ///   retried; a connector reports it as a per-item [`Failure`](crate::Failure));
    /// - [`ErrorKind::Cancelled`] when the sync was cancelled during a wait;
    /// - [`ErrorKind::Config`] for an invalid header.
    ///
    /// Errors carry the URL without its query string and never a header value.
    pub async fn send(self) -> Result<Response> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        let client = &self.client;
        let inner = &client.inner;
        let connector = inner.connector;
        if self.url.scheme() == "https" {
            inner.tls_roots.ready().map_err(|e| {
                Error::internal("cannot read the system's TLS roots for an https request")
                    .with_connector(connector)
                    .with_cause(e)
            })?;
        }
        let auth = self.auth.as_ref().unwrap_or(&inner.auth);
        let mut headers = self.headers;
        match (&self.auth, &inner.auth_header) {
            // The client's own credential, its header built once by the builder.
            (None, Some((name, value))) => {
                headers.insert(name.clone(), value.clone());
            }
            _ => apply_auth(auth, &mut headers).map_err(|e| e.with_connector(connector))?,
        }
        if let Some((_, content_type)) = &self.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let spool = self.spool;
        let permits = self.permits;
        let idempotent = self.idempotent.unwrap_or(matches!(
            self.method,
            Method::GET | Method::HEAD | Method::OPTIONS
        ));
        let first = Hop {
            method: self.method,
            url: self.url,
            headers,
            body: self.body.map(|(body, _)| body),
            timeout: self.timeout.unwrap_or(inner.timeout),
        };
        let secrets = sent_secrets(auth, &first.headers);
        let classifier = Classifier {
            credential_field: self
                .credential_field
                .as_deref()
                .or(inner.credential_field.as_deref()),
            secrets: &secrets,
            custom: inner.classifier.as_ref(),
            success: inner.success_classifier.as_ref(),
            client_errors: self.client_errors,
            max_body_bytes: self.max_body_bytes.unwrap_or(inner.max_body_bytes),
            max_redirects: inner.max_redirects,
            rate_limited_wait: inner.rate_limited_wait,
            retry_hint: inner.retry_hint.as_ref(),
        };
        let mut retry = RetryContext::new(
            connector,
            inner.policy,
            idempotent,
            client.stats.clone(),
            client.cancel.clone(),
        );
        let digest = match auth {
            Auth::Digest { username, password } => Some((username.as_str(), password.expose())),
            _ => None,
        };
        // One 401 per send is answered with the challenge it carries.
        let mut challenged = false;
        loop {
            retry.next_attempt();
            client
                .pass_gate(&retry, &first.url, permits)
                .await
                .map_err(|e| e.with_connector(connector))?;
            // A digest answer is made per attempt, on a copy; otherwise `first` goes as it is.
            let answered;
            let mut hop = &first;
            if let Some((username, password)) = digest {
                let answer = inner
                    .digest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .authorization(username, password, &first.method, &first.url);
                if let Some(answer) = answer {
                    let (name, value) = header_pair("authorization", &answer, true)
                        .map_err(|e| e.with_connector(connector))?;
                    let mut copy = first.clone();
                    copy.headers.insert(name, value);
                    answered = copy;
                    hop = &answered;
                }
            }
            let (landed, sent) = redirect::follow(client, &retry, hop, permits).await;
            let url = landed.as_ref().unwrap_or(&first.url);
            if let (Some(_), false, Sent::Response(resp)) = (digest, challenged, &sent)
                && resp.status() == StatusCode::UNAUTHORIZED
                && let Some(challenge) = super::digest::challenge(resp.headers())
            {
                challenged = true;
                inner
                    .digest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .set(challenge);
                continue;
            }
            let verdict = match sent {
                Sent::Response(resp) => judge(&classifier, resp, spool.as_ref()).await,
                Sent::Transport(e) => Verdict::Retry(Retryable::sending(e)),
                Sent::Denied(e) => Verdict::Fail(e),
            };
            match verdict {
                Verdict::Accept(answer) => {
                    // The answer is the last use of the request: its URL moves, no copy.
                    return Ok(answer.into_response(landed.unwrap_or(first.url)));
                }
                Verdict::Fail(e) => return Err(e.with_connector(connector).with_url(url)),
                Verdict::Retry(failure) => {
                    if let Some(wait) = retry.shared_wait(&failure) {
                        client.defer_gate(&first.url, wait).await;
                    }
                    let (wait, throttled) = retry.next_wait(failure, url)?;
                    // The gate learns that the next slot this request takes is a retry's.
                    client.note_retry(&first.url, permits, wait, throttled);
                    retry.sleep(wait, url).await?;
                }
            }
        }
    }
}

/// Reads as much of `resp`'s body as `classifier` needs and classifies the answer.
/// A success body goes to `spool` when one is given.
async fn judge(
    classifier: &Classifier<'_>,
    mut resp: reqwest::Response,
    spool: Option<&Spool>,
) -> Verdict<Answer> {
    let status = resp.status();
    let read = classifier.body_read(status);
    let (body, spooled) = match (read, spool) {
        (BodyRead::Whole(cap), Some(spool)) if status.is_success() => {
            match spool_body(&mut resp, cap, spool).await {
                Ok(spooled) => (Ok(Bytes::new()), Some(spooled)),
                Err(e) => (Err(e), None),
            }
        }
        _ => (read.read(&mut resp).await, None),
    };
    classifier
        .classify(status, resp.headers(), body)
        .map(|body| Answer {
            status,
            headers: std::mem::take(resp.headers_mut()),
            body,
            spooled,
        })
}

/// An accepted answer, a [`Response`] but for the URL that answered.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    spooled: Option<SpooledBody>,
}

impl Answer {
    fn into_response(self, url: Url) -> Response {
        Response {
            status: self.status,
            headers: self.headers,
            url,
            body: self.body,
            spooled: self.spooled,
        }
    }
}

/// The credentials a request sends (its auth and every header marked sensitive), to scrub from
/// text that comes back; borrowed, so a request copies no secret.
fn sent_secrets<'a>(auth: &'a Auth, headers: &'a HeaderMap) -> Vec<&'a str> {
    let mut secrets = Vec::with_capacity(1 + headers.len());
    secrets.extend(auth.secret());
    secrets.extend(
        headers
            .values()
            .filter(|v| v.is_sensitive())
            .filter_map(|v| v.to_str().ok()),
    );
    secrets
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A request. `GET`, `HEAD` and `OPTIONS` are retried; anything else only when marked
    /// [`idempotent`](RequestBuilder::idempotent).
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A `GET` request.
    pub fn get(&self, url: Url) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` request (not retried unless marked idempotent, as a search usually is).
    pub fn post(&self, url: Url) -> RequestBuilder {
        self.request(Method::POST, url)
    }
}

fn header_pair(name: &str, value: &str, sensitive: bool) -> Result<(HeaderName, HeaderValue)> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::new(
            ErrorKind::Config,
            format!("`{name}` is not a valid header name"),
        )
    })?;
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::new(
            ErrorKind::Config,
            format!("the value of header `{name}` is not a valid header value"),
        )
    })?;
    v.set_sensitive(sensitive);
    Ok((n, v))
}

fn apply_auth(auth: &Auth, headers: &mut HeaderMap) -> Result<()> {
    if let Some((n, v)) = auth_header(auth)? {
        headers.insert(n, v);
    }
    Ok(())
}

/// The header `auth` sends with every request, marked sensitive; `None` for no auth and for
/// `Digest`, which is answered per attempt once the server has sent its challenge (`send`).
pub(crate) fn auth_header(auth: &Auth) -> Result<Option<(HeaderName, HeaderValue)>> {
    let pair = match auth {
        Auth::None | Auth::Digest { .. } => return Ok(None),
        Auth::Bearer(token) => {
            header_pair("authorization", &format!("Bearer {}", token.expose()), true)
        }
        Auth::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose());
            header_pair(
                "authorization",
                &format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ),
                true,
            )
        }
        Auth::Header { name, value } => header_pair(name, value.expose(), true),
    };
    pair.map(Some)
}

/// A response whose body has been read (up to the cap).
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: Bytes,
    spooled: Option<SpooledBody>,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The body written to a spool file, for a request sent with
    /// [`spool_to`](RequestBuilder::spool_to) that succeeded (`None` otherwise).
    pub fn spooled(&self) -> Option<&SpooledBody> {
        self.spooled.as_ref()
    }

    /// The spooled body, owned (see [`spooled`](Self::spooled)).
    pub fn into_spooled(self) -> Option<SpooledBody> {
        self.spooled
    }

    /// The body as text; invalid UTF-8 is replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidData`] naming the URL (without query) when the body is not JSON of
    /// that shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| self.json_error(e))
    }

    /// The body, owned as text (moved, not copied, when it is one buffer of its own), read by
    /// `read`: for a connector that keeps the text and reads it its own way (spans of it, a
    /// seed). Invalid UTF-8 or `read`'s error is the error [`json`](Self::json) gives.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidData`] naming the URL (without query), as [`json`](Self::json).
    pub fn into_json_with<T, E>(
        self,
        read: impl FnOnce(String) -> std::result::Result<T, E>,
    ) -> Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let len = self.body.len();
        match String::from_utf8(Vec::from(self.body)) {
            Ok(text) => read(text).map_err(|e| not_json(&self.headers, &self.url, len, e)),
            Err(e) => Err(not_json(&self.headers, &self.url, len, e)),
        }
    }

    /// The error [`json`](Self::json) gives for this body, with `cause`: for a connector that
    /// reads the body its own way.
    pub fn json_error(&self, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
        not_json(&self.headers, &self.url, self.body.len(), cause)
    }

    /// The `rel="next"` target of the RFC 8288 `Link` headers, resolved against the URL.
    pub fn next_link(&self) -> Option<Url> {
        super::link::next_link(&self.headers, &self.url)
    }

    /// How long to wait before the next request of this route when the answer says its rate
    /// limit is spent (`X-RateLimit-Remaining: 0` or `RateLimit-Remaining: 0`, with
    /// `X-RateLimit-Reset-After`, `RateLimit-Reset` or a reset time); `None` while requests
    /// are left. Services with per-route buckets (Discord) answer the next request with a
    /// `429` otherwise; the client retries that too, but waiting first costs no request.
    pub fn spent_rate_limit(&self) -> Option<std::time::Duration> {
        super::retry::spent_rate_limit(&self.headers, std::time::SystemTime::now())
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &redact_url(&self.url))
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A body of `len` bytes that is not the JSON expected, naming the URL (without query).
fn not_json(
    headers: &HeaderMap,
    url: &Url,
    len: usize,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    Error::invalid_data(format!(
        "the response is not the expected JSON ({ct}, {len} bytes)"
    ))
    .with_url(url)
    .with_cause(cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_is_send() {
        // Connectors send from `BoxStream<'static, _>`s, which need `Send` futures.
        fn is_send<T: Send>(_: T) {}
        let _ = |request: RequestBuilder| is_send(request.send());
    }
}
