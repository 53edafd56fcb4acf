//! What the loopback benches repeat around their timing loop: the item count from the
//! environment, the multi-thread runtime that the wiremock server and the clients share, and
//! the server, wrapped so that its drop at the end of the bench cannot hang.
// Each bench includes this file with `#[path]` and uses what it needs.
#![allow(dead_code)]

use std::future::Future;
use std::ops::Deref;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wiremock::MockServer;

/// The count in the environment variable `var`, or `default` when it is unset or not a
/// number (run a bench at two sizes to see how memory grows).
pub(crate) fn env_size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the bench on a multi-thread runtime, the loopback server's and the clients'.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// A wiremock server whose drop cannot hang the bench at its end.
///
/// `MockServer`'s `Drop` checks the mocks' expectations with `futures::executor::block_on`
/// of a tokio `RwLock`. Dropped inside the runtime (at the end of the bench's future), that
/// lock asks tokio's cooperative budget of the task being polled: when the bench's last steps
/// spent the budget to zero, the lock answers `Pending` and wakes itself at once, and
/// `block_on`, which never returns to tokio to refill the budget, polls it again forever
/// (100% CPU, seen in the airtable bench). This drop runs the server's drop with the budget
/// lifted (`tokio::task::coop::unconstrained`), so the lock is taken as it is outside a
/// runtime. Use it as the `MockServer` it derefs to (`.mount(&server)`, `server.uri()`).
pub(crate) struct Server(Option<MockServer>);

impl Server {
    /// A server on a random port, as `MockServer::start`.
    pub(crate) async fn start() -> Self {
        Self::new(MockServer::start().await)
    }

    /// `server` (one from `MockServer::builder()`) with the safe drop.
    pub(crate) fn new(server: MockServer) -> Self {
        Self(Some(server))
    }
}

impl Deref for Server {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        self.0.as_ref().expect("the server lives until dropped")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let server = self.0.take();
        // The drop is synchronous: the first poll finishes it.
        let release = pin!(tokio::task::coop::unconstrained(async move {
            drop(server);
        }));
        let done = release.poll(&mut Context::from_waker(Waker::noop()));
        debug_assert!(matches!(done, Poll::Ready(())));
    }
}

/// A listing's pages, rendered before the clock starts: page `n` is asked with the query
/// parameter `.1` set to `p{n}` (the link the previous page gave), the first page without it.
pub(crate) struct Pages(pub(crate) Vec<String>, pub(crate) &'static str);

impl wiremock::Respond for Pages {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == self.1)
            .and_then(|(_, v)| v.strip_prefix('p').and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let body = self.0.get(page).cloned().unwrap_or_default();
        wiremock::ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}
