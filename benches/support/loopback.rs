//! What the loopback benches repeat around their timing loop: the item count from the
//! environment and the multi-thread runtime that the wiremock server and the clients share.
// Each bench includes this file with `#[path]` and uses what it needs.
#![allow(dead_code)]

use std::future::Future;

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
