//! [`RequestBuilder`], the retry loop, and the buffered [`Response`].

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::{Auth, HttpClient};
use super::retry::{RetryPolicy, is_retryable_status, retry_after};
use crate::error::{Error, ErrorKind, Result, redact_url};

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
        let client = self.client;
        let inner = &client.inner;
        let connector = inner.connector;
        let auth = self.auth.as_ref().unwrap_or(&inner.auth);
        let field = self
            .credential_field
            .as_deref()
            .or(inner.credential_field.as_deref());
        let mut headers = self.headers;
        apply_auth(auth, &mut headers).map_err(|e| e.with_connector(connector))?;
        if let Some((_, content_type)) = &self.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let idempotent = self.idempotent.unwrap_or(matches!(
            self.method,
            Method::GET | Method::HEAD | Method::OPTIONS
        ));
        let cap = self.max_body_bytes.unwrap_or(inner.max_body_bytes);
        let client_errors = self.client_errors;
        let timeout = self.timeout.unwrap_or(inner.timeout);
        let mut secrets: Vec<String> = auth.secrets().into_iter().map(str::to_owned).collect();
        secrets.extend(
            headers
                .iter()
                .filter(|(_, v)| v.is_sensitive())
                .filter_map(|(_, v)| v.to_str().ok().map(str::to_owned)),
        );
        let mut ceilings = if idempotent {
            inner.policy.ceilings().collect::<Vec<_>>()
        } else {
            Vec::new()
        }
        .into_iter();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut method = self.method.clone();
            let mut url = self.url.clone();
            let mut headers = headers.clone();
            let mut body = self.body.as_ref().map(|(b, _)| b.clone());
            let mut hops = 0;
            // One attempt: the request and its redirects, then the body.
            let outcome = loop {
                client.wait_for_rate_limit(&url).await;
                if let Some(stats) = &client.stats {
                    stats.add_request();
                }
                let mut req = reqwest::Request::new(method.clone(), url.clone());
                *req.headers_mut() = headers.clone();
                *req.timeout_mut() = Some(timeout);
                if let Some(b) = &body {
                    *req.body_mut() = Some(reqwest::Body::from(b.clone()));
                }
                let resp = match inner.client.execute(req).await {
                    Ok(r) => r,
                    Err(e) => break Err(e),
                };
                let status = resp.status();
                if status.is_redirection()
                    && let Some(location) =
                        resp.headers().get(LOCATION).and_then(|l| l.to_str().ok())
                    && hops < inner.max_redirects
                    && let Ok(next) = url.join(location)
                {
                    hops += 1;
                    if next.origin() != url.origin() {
                        // Credentials belong to the origin they were configured for.
                        headers.retain_sensitive_free();
                    }
                    if status == StatusCode::SEE_OTHER
                        || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                            && method == Method::POST)
                    {
                        method = Method::GET;
                        body = None;
                        headers.remove(CONTENT_TYPE);
                    }
                    tracing::debug!(connector, from = %redact_url(&url), to = %redact_url(&next), %status, "following redirect");
                    url = next;
                    continue;
                }
                break Ok(resp);
            };
            let mut resp = match outcome {
                Ok(resp) => resp,
                Err(e) => {
                    let e = e.without_url();
                    let transient =
                        e.is_connect() || e.is_timeout() || e.is_request() || e.is_body();
                    if transient && let Some(ceiling) = ceilings.next() {
                        let wait = RetryPolicy::jitter(ceiling);
                        tracing::warn!(connector, url = %redact_url(&url), attempt, error = %e, ?wait, "request failed; retrying");
                        client.note_retry(wait, false, &url).await?;
                        continue;
                    }
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "failed"
                    };
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("request {what} after {attempt} attempt(s)"),
                    )
                    .with_connector(connector)
                    .with_url(&url)
                    .with_cause(e));
                }
            };
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "HTTP {}: redirect without a usable Location, or more than {} redirects",
                        status.as_u16(),
                        inner.max_redirects
                    ),
                )
                .with_connector(connector)
                .with_url(&url));
            }
            if status.as_u16() < 400 {
                match read_body(&mut resp, cap).await {
                    Ok(body) => {
                        return Ok(Response {
                            status,
                            headers: std::mem::take(resp.headers_mut()),
                            url,
                            body,
                        });
                    }
                    Err(BodyError::TooLarge) => {
                        return Err(Error::new(
                            ErrorKind::InvalidData,
                            format!("response body exceeds the {cap}-byte limit"),
                        )
                        .with_connector(connector)
                        .with_url(&url)
                        .with_retryable(false));
                    }
                    Err(BodyError::Transport(e)) => {
                        let e = e.without_url();
                        if let Some(ceiling) = ceilings.next() {
                            let wait = RetryPolicy::jitter(ceiling);
                            tracing::warn!(connector, url = %redact_url(&url), attempt, error = %e, "reading the body failed; retrying");
                            client.note_retry(wait, false, &url).await?;
                            continue;
                        }
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            format!("reading the response failed after {attempt} attempt(s)"),
                        )
                        .with_connector(connector)
                        .with_url(&url)
                        .with_cause(e));
                    }
                }
            }
            let asked = retry_after(resp.headers(), SystemTime::now());
            if client_errors && status.is_client_error() && !is_retryable_status(status) {
                // The error body is small; a body over the cap is not worth an error of its own.
                let body = read_body(&mut resp, cap.min(64 * 1024))
                    .await
                    .unwrap_or_default();
                return Ok(Response {
                    status,
                    headers: std::mem::take(resp.headers_mut()),
                    url,
                    body,
                });
            }
            let mut error_body = None;
            if let Some(classify) = &inner.classifier
                && status.is_client_error()
                && !is_retryable_status(status)
            {
                let body = read_body(&mut resp, cap.min(64 * 1024))
                    .await
                    .unwrap_or_default();
                if let Some(class) = classify(status, &body) {
                    let message = scrub(&class.message, &secrets);
                    if class.kind.is_retryable() {
                        if let Some(ceiling) = ceilings.next() {
                            let wait = match asked {
                                Some(asked) => asked.min(inner.policy.retry_after_cap),
                                None => RetryPolicy::jitter(ceiling),
                            };
                            tracing::warn!(connector, url = %redact_url(&url), attempt, %status, reason = %message, ?wait, "retrying");
                            client
                                .note_retry(wait, class.kind == ErrorKind::RateLimited, &url)
                                .await?;
                            continue;
                        }
                        let mut err = Error::new(
                            class.kind,
                            format!(
                                "{message} (HTTP {} after {attempt} attempt(s))",
                                status.as_u16()
                            ),
                        )
                        .with_connector(connector)
                        .with_url(&url);
                        if let Some(asked) = asked {
                            err = err.with_retry_after(asked);
                        }
                        return Err(err);
                    }
                    let credential = matches!(
                        class.kind,
                        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
                    );
                    let hint = field
                        .filter(|_| credential)
                        .map(|f| format!("; check `{f}`"))
                        .unwrap_or_default();
                    let mut err = Error::new(
                        class.kind,
                        format!("{message} (HTTP {}){hint}", status.as_u16()),
                    )
                    .with_connector(connector)
                    .with_url(&url);
                    if credential && let Some(f) = field {
                        err = err.with_field(f);
                    }
                    return Err(err);
                }
                error_body = Some(body);
            }
            match status.as_u16() {
                401 | 403 => {
                    let (kind, what) = if status == StatusCode::UNAUTHORIZED {
                        (ErrorKind::Unauthenticated, "rejected the credentials")
                    } else {
                        (
                            ErrorKind::PermissionDenied,
                            "refused access with these credentials",
                        )
                    };
                    let hint = field.map(|f| format!("; check `{f}`")).unwrap_or_default();
                    let mut err = Error::new(
                        kind,
                        format!("the service {what} (HTTP {}){hint}", status.as_u16()),
                    )
                    .with_connector(connector)
                    .with_url(&url);
                    if let Some(f) = field {
                        err = err.with_field(f);
                    }
                    return Err(err);
                }
                _ if is_retryable_status(status) => {
                    if let Some(ceiling) = ceilings.next() {
                        let rate_limited =
                            status == StatusCode::TOO_MANY_REQUESTS || asked.is_some();
                        let wait = match asked {
                            Some(asked) => asked.min(inner.policy.retry_after_cap),
                            None => RetryPolicy::jitter(ceiling),
                        };
                        tracing::warn!(connector, url = %redact_url(&url), attempt, %status, ?wait, "retrying");
                        client.note_retry(wait, rate_limited, &url).await?;
                        continue;
                    }
                    let kind = if status == StatusCode::TOO_MANY_REQUESTS {
                        ErrorKind::RateLimited
                    } else {
                        ErrorKind::Unavailable
                    };
                    let mut err = Error::new(
                        kind,
                        format!("HTTP {} after {attempt} attempt(s)", status.as_u16()),
                    )
                    .with_connector(connector)
                    .with_url(&url);
                    if let Some(asked) = asked {
                        err = err.with_retry_after(asked);
                    }
                    return Err(err);
                }
                404 | 410 => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("HTTP {}: not found", status.as_u16()),
                    )
                    .with_connector(connector)
                    .with_url(&url));
                }
                _ => {
                    let body = match error_body {
                        Some(b) => Ok(b),
                        None => read_body(&mut resp, 4096).await,
                    };
                    let snippet = match body {
                        Ok(b) => scrub(&String::from_utf8_lossy(&b), &secrets),
                        Err(_) => String::new(),
                    };
                    let detail = if snippet.is_empty() {
                        String::new()
                    } else {
                        format!(": {snippet}")
                    };
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("HTTP {}{detail}", status.as_u16()),
                    )
                    .with_connector(connector)
                    .with_url(&url)
                    .with_retryable(false));
                }
            }
        }
    }
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
    /// Counts a retry and sleeps `wait`, unless the sync is cancelled first.
    async fn note_retry(&self, wait: Duration, rate_limited: bool, url: &Url) -> Result<()> {
        if let Some(stats) = &self.stats {
            stats.add_retry();
            if rate_limited {
                stats.add_rate_limit_wait(wait);
            }
        }
        match &self.cancel {
            Some(token) => tokio::select! {
                () = tokio::time::sleep(wait) => Ok(()),
                () = token.cancelled() => Err(Error::new(ErrorKind::Cancelled, "cancelled while waiting to retry")
                    .with_connector(self.inner.connector)
                    .with_url(url)),
            },
            None => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
        }
    }
}

trait RetainSensitiveFree {
    fn retain_sensitive_free(&mut self);
}

impl RetainSensitiveFree for HeaderMap {
    fn retain_sensitive_free(&mut self) {
        let names: Vec<HeaderName> = self
            .iter()
            .filter(|(n, v)| v.is_sensitive() || *n == AUTHORIZATION)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.remove(&name);
        }
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
    let (name, value) = match auth {
        Auth::None => return Ok(()),
        Auth::Bearer(token) => (
            "authorization".to_owned(),
            format!("Bearer {}", token.expose()),
        ),
        Auth::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose());
            (
                "authorization".to_owned(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ),
            )
        }
        Auth::Header { name, value } => (name.clone(), value.expose().to_owned()),
    };
    let (n, v) = header_pair(&name, &value, true)?;
    headers.insert(n, v);
    Ok(())
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_body(
    resp: &mut reqwest::Response,
    cap: u64,
) -> std::result::Result<Bytes, BodyError> {
    if resp.content_length().is_some_and(|len| len > cap) {
        return Err(BodyError::TooLarge);
    }
    let hint = resp
        .content_length()
        .unwrap_or(8 * 1024)
        .min(cap)
        .min(1024 * 1024);
    let mut buf = BytesMut::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if (buf.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Replaces every secret in `text` and shortens it for an error message.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out: String = text.chars().take(300).collect();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "***");
    }
    // A secret cut in half by the truncation would survive the replace; check the full text.
    if secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .any(|s| text.contains(s.as_str()) && !out.contains("***"))
    {
        return "(body withheld: it echoes a credential)".to_owned();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A response whose body has been read (up to the cap).
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: Bytes,
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
        serde_json::from_slice(&self.body).map_err(|e| {
            let ct = self.header("content-type").unwrap_or("no content type");
            Error::invalid_data(format!(
                "the response is not the expected JSON ({ct}, {} bytes)",
                self.body.len()
            ))
            .with_url(&self.url)
            .with_cause(e)
        })
    }

    /// The `rel="next"` target of the RFC 8288 `Link` headers, resolved against the URL.
    pub fn next_link(&self) -> Option<Url> {
        super::link::next_link(&self.headers, &self.url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_secrets() {
        let s = vec!["sekrit-token".to_owned()];
        assert_eq!(
            scrub("bad token sekrit-token\n here", &s),
            "bad token *** here"
        );
        let long = format!("{}sekrit-token", "x".repeat(295));
        assert_eq!(scrub(&long, &s), "(body withheld: it echoes a credential)");
    }
}
