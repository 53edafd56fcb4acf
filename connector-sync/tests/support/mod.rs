//! Test support: a real PostgreSQL server, started once per test binary, and an engine over a
//! database of its own.

#![allow(dead_code)] // Each test binary uses a part of it.

#[cfg(feature = "api")]
pub(crate) mod api;
pub(crate) mod engine;
pub(crate) mod postgres;
pub(crate) mod rest;

/// Runs each named `async fn(Backend)` of the test file as a test on SQLite and one on
/// PostgreSQL (modules `sqlite` and `postgres`).
#[allow(unused_macros)] // Only the engine's test binaries use it.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Evaluates `$body` with `$conn` a new connection to the test's database at `$url`, a
/// `sqlx::SqliteConnection` or a `sqlx::PgConnection` as `$backend` says: a raw query outside
/// the engine, written once for both databases (sqlx's two connection types share no trait
/// object, so the body is compiled once for each).
#[allow(unused_macros)] // Only the test binaries that query the database by hand use it.
macro_rules! on_connection {
    ($backend:expr, $url:expr, |$conn:ident| $body:expr) => {{
        use sqlx::Connection as _;
        match $backend {
            $crate::support::engine::Backend::Sqlite => {
                let mut $conn = sqlx::SqliteConnection::connect($url)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                $body
            }
            $crate::support::engine::Backend::Postgres => {
                let mut $conn = sqlx::PgConnection::connect($url)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                $body
            }
        }
    }};
}

use std::sync::atomic::{AtomicU64, Ordering};

/// A connector id no other test of this run uses.
pub(crate) fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}
