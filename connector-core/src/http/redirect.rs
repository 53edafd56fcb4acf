//! Redirects, followed by the client itself (reqwest's own policy is off) so that credentials
//! never leave the origin they were configured for.
//!
//! The rules:
//! - at most [`max_redirects`](super::HttpClientBuilder::max_redirects) hops per attempt; the
//!   redirect past that, or one without a usable `Location`, is the answer (an error for the
//!   caller);
//! - a hop to another origin (scheme, host, port) drops every header marked sensitive and
//!   `Authorization`, for the rest of the attempt, even if a later hop comes back;
//! - `303`, and `301`/`302` after a `POST`, go on as a `GET` without body (what browsers do);
//!   `307` and `308` repeat the request as it is.

use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

use super::client::HttpClient;
use super::guard;
use super::retry::RetryContext;
use crate::error::{Error, redact_url};

/// The request one hop sends; a redirect rewrites it for the next hop.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) timeout: Duration,
}

impl Hop {
    fn to_request(&self) -> reqwest::Request {
        let mut req = reqwest::Request::new(self.method.clone(), self.url.clone());
        *req.headers_mut() = self.headers.clone();
        *req.timeout_mut() = Some(self.timeout);
        if let Some(body) = &self.body {
            *req.body_mut() = Some(reqwest::Body::from(body.clone()));
        }
        req
    }

    /// Turns this hop into the one a `status` response with `headers` redirects to, and
    /// returns the URL it left; `None` (and no change) when the response is not a redirect
    /// with a usable `Location`.
    fn redirect(&mut self, status: StatusCode, headers: &HeaderMap) -> Option<Url> {
        if !status.is_redirection() {
            return None;
        }
        let location = headers.get(LOCATION)?.to_str().ok()?;
        let next = self.url.join(location).ok()?;
        if next.origin() != self.url.origin() {
            // Credentials belong to the origin they were configured for.
            drop_credentials(&mut self.headers);
        }
        if status == StatusCode::SEE_OTHER
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && self.method == Method::POST)
        {
            self.method = Method::GET;
            self.body = None;
            self.headers.remove(CONTENT_TYPE);
        }
        Some(std::mem::replace(&mut self.url, next))
    }
}

/// What one attempt's hops came to.
pub(crate) enum Sent {
    /// The last hop's response.
    Response(reqwest::Response),
    /// A transport error (retried when transient).
    Transport(reqwest::Error),
    /// A hop the client's [`NetworkPolicy`](super::NetworkPolicy) denies (not retried).
    Denied(Error),
}

/// Sends `first` through `client` and follows the redirects of the answer, up to the client's
/// limit, checking every hop against the client's network policy. Returns the URL of the last
/// hop when a redirect was followed (`None`: `first`'s URL) with what it came to. Each hop
/// takes `permits` of the rate limit. `first` is copied only when a redirect rewrites it.
pub(crate) async fn follow(
    client: &HttpClient,
    retry: &RetryContext,
    first: &Hop,
    permits: NonZeroU32,
) -> (Option<Url>, Sent) {
    let (connector, max) = (client.connector(), client.inner.max_redirects);
    let mut hops = 0;
    let mut redirected: Option<Hop> = None;
    loop {
        let hop = redirected.as_ref().unwrap_or(first);
        if let Err(denied) = client.inner.network.check_url(&hop.url) {
            return (redirected.map(|hop| hop.url), Sent::Denied(denied));
        }
        let resp = match client.execute(hop.to_request(), permits, retry).await {
            Ok(resp) => resp,
            Err(e) => match guard::blocked_in(&e) {
                Some(denied) => return (redirected.map(|hop| hop.url), Sent::Denied(denied)),
                None => return (redirected.map(|hop| hop.url), Sent::Transport(e)),
            },
        };
        let status = resp.status();
        if hops < max && status.is_redirection() {
            let mut next = redirected.take().unwrap_or_else(|| first.clone());
            if let Some(from) = next.redirect(status, resp.headers()) {
                hops += 1;
                tracing::debug!(connector, from = %redact_url(&from), to = %redact_url(&next.url), %status, "following redirect");
                redirected = Some(next);
                continue;
            }
            // Not a usable redirect: `next` is unchanged, the answer is this hop's.
            let url = (hops > 0).then_some(next.url);
            return (url, Sent::Response(resp));
        }
        let url = redirected.map(|hop| hop.url);
        return (url, Sent::Response(resp));
    }
}

/// Removes `Authorization` and every header marked sensitive (API keys sent by
/// [`Auth::Header`](super::Auth::Header) or [`secret_header`](super::RequestBuilder::secret_header)).
fn drop_credentials(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .iter()
        .filter(|(n, v)| v.is_sensitive() || *n == AUTHORIZATION)
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        headers.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn hop(method: Method, url: &str) -> Hop {
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_static("k3y");
        key.set_sensitive(true);
        headers.insert("x-api-key", key);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        Hop {
            method,
            url: Url::parse(url).unwrap(),
            headers,
            body: Some(Bytes::from_static(b"{}")),
            timeout: Duration::from_secs(1),
        }
    }

    fn location(to: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, HeaderValue::from_str(to).unwrap());
        h
    }

    #[test]
    fn same_origin_keeps_credentials_and_307_keeps_the_request() {
        let mut h = hop(Method::POST, "https://a.test/x");
        let from = h.redirect(StatusCode::TEMPORARY_REDIRECT, &location("/y?q=1"));
        assert_eq!(from.unwrap().as_str(), "https://a.test/x");
        assert_eq!(h.url.as_str(), "https://a.test/y?q=1");
        assert_eq!(h.method, Method::POST);
        assert!(h.body.is_some());
        assert!(h.headers.contains_key("x-api-key") && h.headers.contains_key(AUTHORIZATION));
    }

    #[test]
    fn cross_origin_drops_credentials_only() {
        for to in [
            "https://b.test/y",
            "http://a.test/y",
            "https://a.test:8443/y",
        ] {
            let mut h = hop(Method::GET, "https://a.test/x");
            assert!(h.redirect(StatusCode::FOUND, &location(to)).is_some());
            assert!(!h.headers.contains_key("x-api-key"), "{to}");
            assert!(!h.headers.contains_key(AUTHORIZATION), "{to}");
            assert!(h.headers.contains_key("accept"), "{to}");
        }
    }

    #[test]
    fn see_other_and_post_after_301_302_become_get() {
        for (method, status) in [
            (Method::PUT, StatusCode::SEE_OTHER),
            (Method::POST, StatusCode::MOVED_PERMANENTLY),
            (Method::POST, StatusCode::FOUND),
        ] {
            let mut h = hop(method, "https://a.test/x");
            assert!(h.redirect(status, &location("/y")).is_some());
            assert_eq!(h.method, Method::GET);
            assert!(h.body.is_none() && !h.headers.contains_key(CONTENT_TYPE));
        }
        let mut h = hop(Method::PUT, "https://a.test/x");
        assert!(h.redirect(StatusCode::FOUND, &location("/y")).is_some());
        assert_eq!(h.method, Method::PUT);
    }

    #[test]
    fn not_a_redirect_changes_nothing() {
        let mut h = hop(Method::GET, "https://a.test/x");
        assert!(h.redirect(StatusCode::OK, &location("/y")).is_none());
        assert!(h.redirect(StatusCode::FOUND, &HeaderMap::new()).is_none());
        assert!(
            h.redirect(StatusCode::FOUND, &location("http://[::1"))
                .is_none()
        );
        assert_eq!(h.url.as_str(), "https://a.test/x");
        assert!(h.headers.contains_key(AUTHORIZATION));
    }
}
