//! What an answer means: (status, headers, body) → accept the body, retry (after the wait the
//! service asked for, if any), or fail with an [`Error`] of the right kind. A connector's
//! [error classifier](super::HttpClientBuilder::error_classifier) is consulted here.

use std::time::SystemTime;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::body::{BodyError, BodyRead};
use super::client::{ErrorClass, ErrorClassifier, RetryHint};
use super::retry::{Retryable, asked_wait, is_retryable_status, retry_after};
use crate::error::{Error, ErrorKind};

/// How the error for a body over the client's cap begins (see [`is_body_too_large`]).
const TOO_LARGE: &str = "response body exceeds";

/// Whether `e` is the client refusing a response body over its cap
/// ([`max_body_bytes`](super::HttpClientBuilder::max_body_bytes)), as opposed to other invalid
/// data: a connector that can ask for less (a smaller page) tries again instead of failing.
pub fn is_body_too_large(e: &Error) -> bool {
    e.kind() == ErrorKind::InvalidData && e.message().starts_with(TOO_LARGE)
}

/// The body an error classifier or [`client_errors_as_responses`] sees at most.
///
/// [`client_errors_as_responses`]: super::RequestBuilder::client_errors_as_responses
const CLIENT_ERROR_BODY: u64 = 64 * 1024;
/// The body read for the snippet of an error message.
const SNIPPET_BODY: u64 = 4096;

/// What to do with an answer.
#[derive(Debug)]
pub(crate) enum Verdict<T> {
    /// Hand it to the caller.
    Accept(T),
    /// Try again, if retries are left.
    Retry(Retryable),
    /// Fail with this error (without the connector and URL, which the caller adds).
    Fail(Error),
}

impl<T> Verdict<T> {
    /// The same verdict with `f` applied to what is accepted.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Self::Accept(t) => Verdict::Accept(f(t)),
            Self::Retry(failure) => Verdict::Retry(failure),
            Self::Fail(e) => Verdict::Fail(e),
        }
    }
}

/// Classifies the answers to one request.
pub(crate) struct Classifier<'a> {
    /// The config field named in 401/403 errors.
    pub(crate) credential_field: Option<&'a str>,
    /// The credentials sent, scrubbed from any text that comes back.
    pub(crate) secrets: &'a [&'a str],
    /// The connector's error classifier.
    pub(crate) custom: Option<&'a ErrorClassifier>,
    /// The connector's classifier of 2xx bodies.
    pub(crate) success: Option<&'a ErrorClassifier>,
    /// Whether 4xx answers (but 408 and 429) are handed back as responses.
    pub(crate) client_errors: bool,
    /// The body cap.
    pub(crate) max_body_bytes: u64,
    /// The redirect limit, named when a redirect is the answer.
    pub(crate) max_redirects: u32,
    /// The wait before retrying a 429 whose headers ask for none.
    pub(crate) rate_limited_wait: Option<std::time::Duration>,
    /// The connector's reader of a 429 or 503 body's wait.
    pub(crate) retry_hint: Option<&'a RetryHint>,
}

impl Classifier<'_> {
    /// How much of the body of a `status` answer [`classify`](Self::classify) needs.
    pub(crate) fn body_read(&self, status: StatusCode) -> BodyRead {
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            BodyRead::Skip
        } else if status.as_u16() < 400 {
            BodyRead::Whole(self.max_body_bytes)
        } else if self.reads_client_error(status) || self.reads_hint(status) {
            BodyRead::Snippet(self.max_body_bytes.min(CLIENT_ERROR_BODY))
        } else if matches!(status.as_u16(), 401 | 403 | 404 | 410) || is_retryable_status(status) {
            BodyRead::Skip
        } else {
            BodyRead::Snippet(SNIPPET_BODY)
        }
    }

    /// Whether a `status` answer goes to the caller or the error classifier with its body.
    fn reads_client_error(&self, status: StatusCode) -> bool {
        (self.client_errors || self.custom.is_some())
            && status.is_client_error()
            && !is_retryable_status(status)
    }

    /// Whether a `status` answer's body goes to the connector's retry hint.
    fn reads_hint(&self, status: StatusCode) -> bool {
        self.retry_hint.is_some()
            && matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            )
    }

    /// What a `status` answer with `headers` and the `body` read as [`body_read`](Self::body_read)
    /// said means.
    pub(crate) fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Result<Bytes, BodyError>,
    ) -> Verdict<Bytes> {
        let code = status.as_u16();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return Verdict::Fail(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "HTTP {code}: redirect without a usable Location, or more than {} redirects",
                    self.max_redirects
                ),
            ));
        }
        if code < 400 {
            return match body {
                Ok(body) => match self
                    .success
                    .filter(|_| status.is_success())
                    .and_then(|classify| classify(status, &body))
                {
                    Some(class) => self.custom_class(status, headers, class),
                    None => Verdict::Accept(body),
                },
                Err(BodyError::TooLarge) => Verdict::Fail(
                    Error::new(
                        ErrorKind::InvalidData,
                        format!("{TOO_LARGE} the {}-byte limit", self.max_body_bytes),
                    )
                    .with_retryable(false),
                ),
                Err(BodyError::Transport(e)) => Verdict::Retry(Retryable::reading(e)),
                Err(BodyError::Spool(e)) => Verdict::Fail(e),
            };
        }
        // Error bodies are read as snippets, which never fail.
        let body = body.unwrap_or_default();
        if self.reads_client_error(status) {
            if self.client_errors {
                return Verdict::Accept(body);
            }
            if let Some(class) = self.custom.and_then(|classify| classify(status, &body)) {
                return self.custom_class(status, headers, class);
            }
        }
        match code {
            401 | 403 => {
                let (kind, what) = if status == StatusCode::UNAUTHORIZED {
                    (ErrorKind::Unauthenticated, "rejected the credentials")
                } else {
                    (
                        ErrorKind::PermissionDenied,
                        "refused access with these credentials",
                    )
                };
                Verdict::Fail(
                    self.credential_error(kind, format!("the service {what} (HTTP {code})")),
                )
            }
            _ if is_retryable_status(status) => {
                let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
                let asked = asked_wait(status, headers, SystemTime::now())
                    .or_else(|| {
                        self.retry_hint
                            .filter(|_| self.reads_hint(status))
                            .and_then(|hint| hint(status, &body))
                    })
                    .or(self.rate_limited_wait.filter(|_| rate_limited));
                Verdict::Retry(Retryable::Status {
                    status,
                    kind: if rate_limited {
                        ErrorKind::RateLimited
                    } else {
                        ErrorKind::Unavailable
                    },
                    reason: None,
                    asked,
                    // A 503 that says when to come back is a rate limit too.
                    rate_limited: rate_limited || asked.is_some(),
                })
            }
            404 | 410 => Verdict::Fail(Error::new(
                ErrorKind::NotFound,
                format!("HTTP {code}: not found"),
            )),
            _ => {
                let snippet = scrub(&String::from_utf8_lossy(&body), self.secrets);
                let detail = if snippet.is_empty() {
                    String::new()
                } else {
                    format!(": {snippet}")
                };
                Verdict::Fail(
                    Error::new(ErrorKind::InvalidData, format!("HTTP {code}{detail}"))
                        .with_retryable(false),
                )
            }
        }
    }

    /// What the connector's error classifier made of a `status` answer.
    fn custom_class(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        class: ErrorClass,
    ) -> Verdict<Bytes> {
        let message = scrub(&class.message, self.secrets);
        if class.kind.is_retryable() {
            return Verdict::Retry(Retryable::Status {
                status,
                kind: class.kind,
                reason: Some(message),
                // A rate limit told by the body (GitHub's 403 "API rate limit exceeded")
                // says when it resets in the headers: `Retry-After`, else the reset headers.
                asked: if class.kind == ErrorKind::RateLimited {
                    asked_wait(StatusCode::TOO_MANY_REQUESTS, headers, SystemTime::now())
                } else {
                    retry_after(headers, SystemTime::now())
                }
                .or(class.wait),
                rate_limited: class.kind == ErrorKind::RateLimited,
            });
        }
        let message = format!("{message} (HTTP {})", status.as_u16());
        if matches!(
            class.kind,
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
        ) {
            Verdict::Fail(self.credential_error(class.kind, message))
        } else {
            Verdict::Fail(Error::new(class.kind, message))
        }
    }

    /// An error about the credentials, naming the config field to check.
    fn credential_error(&self, kind: ErrorKind, message: String) -> Error {
        match self.credential_field {
            Some(field) => {
                Error::new(kind, format!("{message}; check `{field}`")).with_field(field)
            }
            None => Error::new(kind, message),
        }
    }
}

/// Replaces every secret in `text` (these and every live [`Secret`](crate::Secret)), then
/// shortens it for an error message: replacing first, so no secret is cut in two and half of
/// it kept.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = crate::secret::redact(text).into_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(*s, "***");
    }
    crate::text::clip(&out, 300)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use reqwest::header::HeaderValue;

    fn classifier<'a>(secrets: &'a [&'a str]) -> Classifier<'a> {
        Classifier {
            credential_field: Some("credentials.token"),
            secrets,
            custom: None,
            success: None,
            client_errors: false,
            max_body_bytes: 1024,
            max_redirects: 5,
            rate_limited_wait: None,
            retry_hint: None,
        }
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn fail(v: Verdict<Bytes>) -> Error {
        match v {
            Verdict::Fail(e) => e,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn retry(v: Verdict<Bytes>) -> Retryable {
        match v {
            Verdict::Retry(r) => r,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn scrub_removes_secrets() {
        let s = vec!["sekrit-token"];
        assert_eq!(
            scrub("bad token sekrit-token\n here", &s),
            "bad token *** here"
        );
        // A secret across the 300-character cut: replaced before the cut, so no part stays.
        let long = format!("{}sekrit-token", "x".repeat(295));
        assert_eq!(scrub(&long, &s), format!("{}***", "x".repeat(295)));
    }

    #[test]
    fn body_needed_by_status() {
        let c = classifier(&[]);
        assert_eq!(c.body_read(status(200)), BodyRead::Whole(1024));
        assert_eq!(c.body_read(status(304)), BodyRead::Whole(1024));
        assert_eq!(c.body_read(status(302)), BodyRead::Skip);
        for code in [401, 403, 404, 410, 408, 429, 500, 503] {
            assert_eq!(c.body_read(status(code)), BodyRead::Skip, "{code}");
        }
        assert_eq!(c.body_read(status(400)), BodyRead::Snippet(4096));
        assert_eq!(c.body_read(status(501)), BodyRead::Snippet(4096));
        let c = Classifier {
            client_errors: true,
            ..classifier(&[])
        };
        assert_eq!(c.body_read(status(403)), BodyRead::Snippet(1024));
        assert_eq!(c.body_read(status(429)), BodyRead::Skip);
    }

    #[test]
    fn a_bare_429_waits_what_the_service_documents() {
        let h = HeaderMap::new();
        let wait =
            |c: &Classifier<'_>, code: u16| match c.classify(status(code), &h, Ok(Bytes::new())) {
                Verdict::Retry(Retryable::Status { asked, .. }) => asked,
                _ => panic!("a status retry"),
            };
        let plain = classifier(&[]);
        assert_eq!(wait(&plain, 429), None);
        let documented = Classifier {
            rate_limited_wait: Some(Duration::from_secs(30)),
            ..classifier(&[])
        };
        assert_eq!(wait(&documented, 429), Some(Duration::from_secs(30)));
        // Only 429s: a bare 503 keeps the backoff.
        assert_eq!(wait(&documented, 503), None);
        let mut asked = HeaderMap::new();
        asked.insert("retry-after", HeaderValue::from_static("2"));
        let Verdict::Retry(Retryable::Status { asked, .. }) =
            documented.classify(status(429), &asked, Ok(Bytes::new()))
        else {
            panic!("a status retry")
        };
        assert_eq!(asked, Some(Duration::from_secs(2)), "the header wins");
    }

    /// review69 L2: a connector's retry hint reads a 429 or 503 body (Google's `RetryInfo`,
    /// Infura's `backoff_seconds`) where the headers ask for no wait; the headers still win,
    /// no other status's body is read for it, and a 503 with a wait is a rate limit.
    #[test]
    fn a_retry_hint_reads_a_429_or_503_body() {
        let hint: RetryHint =
            Arc::new(|_, body: &[u8]| (body == b"wait 40").then_some(Duration::from_secs(40)));
        let c = Classifier {
            retry_hint: Some(&hint),
            rate_limited_wait: Some(Duration::from_secs(30)),
            ..classifier(&[])
        };
        for code in [429, 503] {
            assert_eq!(c.body_read(status(code)), BodyRead::Snippet(1024), "{code}");
        }
        for code in [408, 500, 502, 504] {
            assert_eq!(c.body_read(status(code)), BodyRead::Skip, "{code}");
        }
        let retry_of = |code: u16, headers: &HeaderMap, body: &'static str| match c.classify(
            status(code),
            headers,
            Ok(Bytes::from(body)),
        ) {
            Verdict::Retry(Retryable::Status {
                asked,
                rate_limited,
                ..
            }) => (asked, rate_limited),
            other => panic!("a status retry, got {other:?}"),
        };
        let none = HeaderMap::new();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(retry_of(429, &none, "wait 40"), (secs(40), true));
        assert_eq!(retry_of(503, &none, "wait 40"), (secs(40), true));
        // No hint in the body: the documented wait, else the backoff.
        assert_eq!(retry_of(429, &none, "busy"), (secs(30), true));
        assert_eq!(retry_of(503, &none, "busy"), (None, false));
        // A hint is read only on 429 and 503.
        assert_eq!(retry_of(500, &none, "wait 40"), (None, false));
        let mut told = HeaderMap::new();
        told.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_of(429, &told, "wait 40"), (secs(2), true));
    }

    #[test]
    fn statuses_map_to_kinds() {
        let secrets = vec!["tok-SECRET"];
        let c = classifier(&secrets);
        let h = HeaderMap::new();
        let none = || Ok(Bytes::new());
        let e = fail(c.classify(status(401), &h, none()));
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert_eq!(e.field(), Some("credentials.token"));
        assert_eq!(
            e.message(),
            "the service rejected the credentials (HTTP 401); check `credentials.token`"
        );
        let e = fail(c.classify(status(403), &h, none()));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            fail(c.classify(status(410), &h, none())).kind(),
            ErrorKind::NotFound
        );
        let e = fail(c.classify(status(400), &h, Ok(Bytes::from("bad tok-SECRET"))));
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert_eq!(e.message(), "HTTP 400: bad ***");
        assert!(!e.is_retryable());
        let e = fail(c.classify(status(200), &h, Err(BodyError::TooLarge)));
        assert_eq!(e.message(), "response body exceeds the 1024-byte limit");
        assert!(!e.is_retryable());
        let e = fail(c.classify(status(302), &h, none()));
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(matches!(
            c.classify(status(204), &h, none()),
            Verdict::Accept(_)
        ));
    }

    #[test]
    fn retryable_statuses_carry_the_wait_asked() {
        let c = classifier(&[]);
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("7"));
        let Retryable::Status {
            kind,
            asked,
            rate_limited,
            ..
        } = retry(c.classify(status(503), &h, Ok(Bytes::new())))
        else {
            panic!("a status retry")
        };
        assert_eq!(kind, ErrorKind::Unavailable);
        assert_eq!(asked, Some(Duration::from_secs(7)));
        assert!(rate_limited);
        let Retryable::Status {
            asked,
            rate_limited,
            ..
        } = retry(c.classify(status(502), &h, Ok(Bytes::new())))
        else {
            panic!("a status retry")
        };
        assert_eq!(asked, None, "reset headers only count on 429 and 503");
        assert!(!rate_limited);
    }

    #[test]
    fn custom_classes_and_client_errors_as_responses() {
        let custom: ErrorClassifier = Arc::new(|status, body| {
            let text = String::from_utf8_lossy(body);
            if text.contains("slow down") {
                Some(ErrorClass::new(ErrorKind::RateLimited, "rate limit"))
            } else if status.as_u16() == 400 {
                Some(ErrorClass::new(ErrorKind::PermissionDenied, "no scope"))
            } else {
                None
            }
        });
        let c = Classifier {
            custom: Some(&custom),
            ..classifier(&[])
        };
        let h = HeaderMap::new();
        let Retryable::Status {
            kind,
            reason,
            rate_limited,
            ..
        } = retry(c.classify(status(403), &h, Ok(Bytes::from("slow down"))))
        else {
            panic!("a status retry")
        };
        assert_eq!(
            (kind, reason.as_deref()),
            (ErrorKind::RateLimited, Some("rate limit"))
        );
        assert!(rate_limited);
        // A wait of the class counts when the headers ask for none, never over theirs.
        let waiting: ErrorClassifier = Arc::new(|_, _| {
            Some(
                ErrorClass::new(ErrorKind::RateLimited, "secondary")
                    .with_wait(Duration::from_secs(60)),
            )
        });
        let w = Classifier {
            custom: Some(&waiting),
            ..classifier(&[])
        };
        let asked_of =
            |headers: &HeaderMap| match retry(w.classify(status(403), headers, Ok(Bytes::new()))) {
                Retryable::Status { asked, .. } => asked,
                other => panic!("a status retry, got {other:?}"),
            };
        assert_eq!(asked_of(&h), Some(Duration::from_secs(60)));
        let mut told = HeaderMap::new();
        told.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(asked_of(&told), Some(Duration::from_secs(5)));
        let e = fail(c.classify(status(400), &h, Ok(Bytes::new())));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            e.message(),
            "no scope (HTTP 400); check `credentials.token`"
        );
        let e = fail(c.classify(status(404), &h, Ok(Bytes::new())));
        assert_eq!(e.kind(), ErrorKind::NotFound, "None keeps the default");

        let c = Classifier {
            client_errors: true,
            ..c
        };
        assert!(matches!(
            c.classify(status(403), &h, Ok(Bytes::from("slow down"))),
            Verdict::Accept(b) if b == "slow down"
        ));
    }

    #[test]
    fn success_classifier_turns_a_200_body_into_an_error() {
        let success: ErrorClassifier = Arc::new(|_, body: &[u8]| {
            let text = String::from_utf8_lossy(body);
            if text.contains("\"ratelimited\"") {
                Some(ErrorClass::new(ErrorKind::RateLimited, "ratelimited"))
            } else if text.contains("\"invalid_auth\"") {
                Some(ErrorClass::new(ErrorKind::Unauthenticated, "invalid_auth"))
            } else {
                None
            }
        });
        let c = Classifier {
            success: Some(&success),
            ..classifier(&[])
        };
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        let Retryable::Status { kind, asked, .. } = retry(c.classify(
            status(200),
            &h,
            Ok(Bytes::from(r#"{"ok":false,"error":"ratelimited"}"#)),
        )) else {
            panic!("a status retry")
        };
        assert_eq!(kind, ErrorKind::RateLimited);
        assert_eq!(asked, Some(Duration::from_secs(7)));
        let e = fail(c.classify(
            status(200),
            &HeaderMap::new(),
            Ok(Bytes::from(r#"{"ok":false,"error":"invalid_auth"}"#)),
        ));
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert_eq!(
            e.message(),
            "invalid_auth (HTTP 200); check `credentials.token`"
        );
        assert!(matches!(
            c.classify(status(200), &h, Ok(Bytes::from(r#"{"ok":true}"#))),
            Verdict::Accept(b) if b == r#"{"ok":true}"#
        ));
        // A 304 is not a success body.
        assert!(matches!(
            c.classify(
                status(304),
                &h,
                Ok(Bytes::from(r#"{"error":"invalid_auth"}"#))
            ),
            Verdict::Accept(_)
        ));
    }
}
