//! The shared HTTP layer (feature `http`): one [`HttpClient`] for every HTTP connector, and
//! [`paginate`] so a connector writes only "fetch this page".
//!
//! What the client does for every request:
//! - retries idempotent requests (`GET`, `HEAD`, `OPTIONS`, or one marked
//!   [`idempotent`](RequestBuilder::idempotent)) on 408, 429, 500, 502, 503, 504, connection
//!   errors and timeouts, with exponential backoff and full jitter ([`RetryPolicy`]);
//! - honours `Retry-After` in seconds or HTTP-date form, capped (60 s by default), and counts
//!   the wait in the sync's [`SyncReport`](crate::sync::SyncReport) with the requests and
//!   retries (take the client [`with_context`](HttpClient::with_context) in each stream);
//! - keeps to a per-host rate limit and, when a host shares one, to a [`RateGate`] per
//!   credential across processes (a 429's wait is shared through it too); a request timeout,
//!   and a body cap (after gzip
//!   decompression), so an oversize item is an error the connector turns into a
//!   [`Failure`](crate::Failure) rather than an out-of-memory;
//! - fails at once on 401 ([`ErrorKind::Unauthenticated`](crate::ErrorKind::Unauthenticated))
//!   and 403 ([`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)), naming the
//!   connector and the credential field;
//! - sends credentials in headers marked sensitive, drops them when a redirect leaves the
//!   origin, and never puts a header value or a query string in an error or a log line.
//!
//! # Types from the `http` crate
//! [`Method`], [`StatusCode`] and the [`header`] types are the `http` 1.x crate's, re-exported
//! through reqwest; no other reqwest type is part of this API.

mod body;
mod classify;
mod client;
mod digest;
mod guard;
mod link;
mod oauth;
mod redirect;

mod request;
mod retry;
mod tls;

pub use crate::net::{ALLOW_HINT, NetworkPolicy, is_public};
pub use classify::is_body_too_large;
pub use client::{Auth, ErrorClass, HttpClient, HttpClientBuilder};
pub use link::{Link, next_link, parse_link_header};
pub use oauth::{LONGEST_TOKEN_LIFETIME, OAuthToken, TokenFields, token_expiry};
// The page walk moved to `crate::pages` (it needs no HTTP); these names stay for connectors
// that reach them here.
pub use crate::pages::{Page, PageLimit, convert_blocking, paginate, read_ahead};
pub use crate::rate::RateGate;
pub use request::{RequestBuilder, Response};
pub use reqwest::{Method, StatusCode, header};
pub use retry::{RetryPolicy, retry_after_wait};
