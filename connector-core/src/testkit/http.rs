//! HTTP checks of the conformance kit (feature `testkit-http`), run against a connector's
//! wiremock fixture: the fixture's server already answers like the real service; each check
//! mounts a scoped failure in front of it, builds the connector against the server's URI with
//! `build`, and runs a full [`Syncer`] sync.
//!
//! ```text
//! let server = my_fixture_server().await;
//! connector_core::testkit::http::retry_after_is_waited_out(&server, |uri| my_connector(uri)).await;
//! ```
//!
//! The connector must allow at least 3 retries (the default of the
//! [`HttpClient`](crate::http::HttpClient)).
//!
//! A test file writes the four checks as `#[test]`s with [`http_checks!`](crate::http_checks).

use std::sync::Arc;
use std::time::Duration;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::LogCapture;
use crate::connector::Connector;
use crate::error::{ErrorKind, Result};
use crate::sink::MemorySink;
use crate::sync::{SyncMode, SyncReport, Syncer};

async fn full_sync(connector: Arc<dyn Connector>) -> Result<SyncReport> {
    Syncer::new(connector)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

async fn baseline<B: Fn(&str) -> Arc<dyn Connector>>(server: &MockServer, build: &B) -> SyncReport {
    let report = full_sync(build(&server.uri()))
        .await
        .unwrap_or_else(|e| panic!("the fixture's plain sync failed: {e}"));
    assert!(
        report.delivered > 0,
        "the fixture's plain sync delivered nothing"
    );
    report
}

/// A `429` with `Retry-After: 1` on the first request is waited out: the sync completes with
/// the same documents as without it, one retry and one second of rate-limit wait reported.
///
/// # Panics
/// When the sync fails, delivers something else, or the report misses the retry or the wait.
pub async fn retry_after_is_waited_out<B: Fn(&str) -> Arc<dyn Connector>>(
    server: &MockServer,
    build: B,
) {
    let plain = baseline(server, &build).await;
    let _guard = Mock::given(any())
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(server)
        .await;
    let report = full_sync(build(&server.uri()))
        .await
        .unwrap_or_else(|e| panic!("429 + Retry-After: 1 was not waited out: {e}"));
    assert_eq!(
        report.delivered, plain.delivered,
        "a different number of documents after a 429"
    );
    assert!(
        report.retries >= 1,
        "the retry is not in the report: {report:?}"
    );
    assert!(
        report.rate_limit_wait >= Duration::from_secs(1),
        "the Retry-After wait is not in the report: {report:?}"
    );
}

/// A storm of `n` `503` responses is survived (`n` must not exceed the connector's retries).
///
/// # Panics
/// When the sync fails or delivers something else.
pub async fn server_error_storm_is_survived<B: Fn(&str) -> Arc<dyn Connector>>(
    server: &MockServer,
    build: B,
    n: u64,
) {
    let plain = baseline(server, &build).await;
    let _guard = Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(n)
        .with_priority(1)
        .mount_as_scoped(server)
        .await;
    let report = full_sync(build(&server.uri()))
        .await
        .unwrap_or_else(|e| panic!("{n} 503s in a row ended the sync: {e}"));
    assert_eq!(
        report.delivered, plain.delivered,
        "a different number of documents after a 503 storm"
    );
    assert!(
        report.retries >= n,
        "{n} retries expected in the report: {report:?}"
    );
}

/// A `401` fails the sync at once: one request, no retry, an
/// [`ErrorKind::Unauthenticated`] error naming the connector and the credential field.
///
/// # Panics
/// When the sync succeeds, fails otherwise, or the server saw more than one request.
pub async fn unauthorized_fails_fast<B: Fn(&str) -> Arc<dyn Connector>>(
    server: &MockServer,
    build: B,
) {
    let _guard = Mock::given(any())
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount_as_scoped(server)
        .await;
    let connector = build(&server.uri());
    let source = connector.source();
    let before = received(server).await;
    let err = match full_sync(connector).await {
        Ok(report) => panic!("a 401 did not fail the sync: {report:?}"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(
        received(server).await - before,
        1,
        "a 401 must not be retried"
    );
    assert_eq!(
        err.connector(),
        Some(source),
        "the error must name the connector: {err}"
    );
    assert!(
        err.field().is_some(),
        "the error must name the credential field: {err}"
    );
}

/// `secret` appears in no error, log line, `Debug` or `Display` of a sync that meets a 401
/// and of one that meets a `400` whose body echoes the secret.
///
/// # Panics
/// When the secret shows up anywhere.
pub async fn secret_never_leaks<B: Fn(&str) -> Arc<dyn Connector>>(
    server: &MockServer,
    build: B,
    secret: &str,
) {
    let (logs, _log_guard) = LogCapture::start();
    let mut seen = Vec::new();
    for response in [
        ResponseTemplate::new(401),
        ResponseTemplate::new(400).set_body_string(format!("invalid key {secret}")),
    ] {
        let _guard = Mock::given(any())
            .respond_with(response)
            .with_priority(1)
            .mount_as_scoped(server)
            .await;
        let connector = build(&server.uri());
        seen.push(format!("{connector} {connector:?}"));
        if let Err(e) = full_sync(connector.clone()).await {
            seen.push(format!("{e} {e:?}"));
        }
        if let Err(e) = connector.check().await {
            seen.push(format!("{e} {e:?}"));
        }
    }
    seen.push(logs.contents());
    for text in seen {
        assert!(!text.contains(secret), "the secret leaked: {text}");
    }
}

/// Writes core's HTTP checks as `#[test]`s, each starting its own fake: one test per check
/// named, named as the check (`cargo test` lists `retry_after_is_waited_out`, ...).
///
/// - `fake`: an expression (it may `.await`) starting the connector's fixture server, run
///   once in each test and kept alive until the check ends.
/// - `server` (optional): where the fixture keeps its [`MockServer`], written as a
///   closure over the fake (`|fake| &fake.server`, expanded in place); without it, `fake`
///   is the `MockServer` itself.
/// - `build`: a `Fn(&str) -> Arc<dyn Connector>` building the connector from the server's
///   URI: a closure or a function's name.
/// - `checks`: which checks to write, each with its arguments after the name:
///   `retry_after_is_waited_out`, `server_error_storm_is_survived(n)` (`n` 503s in a row),
///   `unauthorized_fails_fast`, `secret_never_leaks(secret)`. A file leaves a check out,
///   or writes it by hand, where its source differs on purpose, with a comment saying why.
///
/// The tests run on a fresh current-thread runtime ([`block_on`](super::block_on)), so the
/// test crate needs no tokio macros.
///
/// ```
/// use std::sync::Arc;
///
/// use connector_core::Connector;
/// use connector_core::testkit::MemoryConnector;
///
/// /// The connector's fixture: a wiremock server answering like the source, and what it
/// /// serves.
/// struct Fake {
///     server: wiremock::MockServer,
/// }
///
/// impl Fake {
///     async fn start() -> Self {
///         Self { server: wiremock::MockServer::start().await }
///     }
/// }
///
/// /// The connector under test, against `uri` (a real one reads the source over HTTP).
/// fn build(uri: &str) -> Arc<dyn Connector> {
///     let _ = uri;
///     Arc::new(MemoryConnector::new(Vec::new(), 2))
/// }
///
/// connector_core::http_checks! {
///     fake: Fake::start().await,
///     server: |fake| &fake.server,
///     build: |uri| build(uri),
///     checks: [
///         retry_after_is_waited_out,
///         server_error_storm_is_survived(3),
///         unauthorized_fails_fast,
///         secret_never_leaks("s3cr3t-t0ken"),
///     ],
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! http_checks {
    (
        fake: $fake:expr,
        server: |$f:ident| $server:expr,
        build: $build:expr,
        checks: [$($check:ident $(($($arg:expr),* $(,)?))?),* $(,)?] $(,)?
    ) => {
        $(
            $crate::__http_check!(
                $check [$($($arg),*)?] ($fake) ($f) ($server) ($build)
            );
        )*
    };
    (
        fake: $fake:expr,
        build: $build:expr,
        checks: [$($check:ident $(($($arg:expr),* $(,)?))?),* $(,)?] $(,)?
    ) => {
        $(
            $crate::__http_check!(
                $check [$($($arg),*)?] ($fake) (server) (&server) ($build)
            );
        )*
    };
}

/// One test of [`http_checks!`](crate::http_checks).
#[doc(hidden)]
#[macro_export]
macro_rules! __http_check {
    (retry_after_is_waited_out [] ($fake:expr) ($f:ident) ($server:expr) ($build:expr)) => {
        #[test]
        fn retry_after_is_waited_out() {
            $crate::testkit::block_on(async {
                let $f = $fake;
                $crate::testkit::http::retry_after_is_waited_out($server, $build).await;
            });
        }
    };
    (server_error_storm_is_survived [$n:expr] ($fake:expr) ($f:ident) ($server:expr) ($build:expr)) => {
        #[test]
        fn server_error_storm_is_survived() {
            $crate::testkit::block_on(async {
                let $f = $fake;
                $crate::testkit::http::server_error_storm_is_survived($server, $build, $n).await;
            });
        }
    };
    (unauthorized_fails_fast [] ($fake:expr) ($f:ident) ($server:expr) ($build:expr)) => {
        #[test]
        fn unauthorized_fails_fast() {
            $crate::testkit::block_on(async {
                let $f = $fake;
                $crate::testkit::http::unauthorized_fails_fast($server, $build).await;
            });
        }
    };
    (secret_never_leaks [$secret:expr] ($fake:expr) ($f:ident) ($server:expr) ($build:expr)) => {
        #[test]
        fn secret_never_leaks() {
            $crate::testkit::block_on(async {
                let $f = $fake;
                $crate::testkit::http::secret_never_leaks($server, $build, $secret).await;
            });
        }
    };
    ($other:ident [$($arg:expr),*] $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "http_checks!: no check `",
            ::core::stringify!($other),
            "` with these arguments; the checks: retry_after_is_waited_out, ",
            "server_error_storm_is_survived(n), unauthorized_fails_fast, secret_never_leaks(secret)"
        ));
    };
}
