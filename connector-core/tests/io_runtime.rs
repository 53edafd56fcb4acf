//! `pages::set_io_runtime`, the host's choice of where walks' fetch chains run: a process of its
//! own, since the choice is the process's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code.

use std::num::NonZeroUsize;

use connector_core::pages::{
    IoRuntime, Page, PageLimit, paginate, read_ahead_on_thread, replace_io_runtime, set_io_runtime,
};
use connector_core::{ErrorKind, Result};
use futures::TryStreamExt as _;

fn host(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("the host's I/O runtime")
}

/// The names of the threads a walk's three pages were fetched on.
fn walk(caller: &tokio::runtime::Runtime) -> Result<Vec<Option<String>>> {
    let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
        let name = std::thread::current().name().map(str::to_owned);
        Ok(Page::new(name, (c < 2).then_some(c + 1)))
    });
    caller.block_on(
        read_ahead_on_thread(pages, NonZeroUsize::MIN)
            .map_ok(|p| p.items)
            .try_collect(),
    )
}

#[test]
fn walks_fetch_on_the_runtime_the_host_chose_once_and_replaced() {
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the caller's runtime");
    let io = host("host-io");
    set_io_runtime(IoRuntime::Handle(io.handle().clone())).expect("the first choice");
    // A second choice (a parallel test's, say) fails by name instead of taking the walks.
    let other = host("host-other");
    let twice = set_io_runtime(IoRuntime::Handle(other.handle().clone())).expect_err("chosen once");
    assert_eq!(twice.kind(), ErrorKind::Config);
    assert!(twice.to_string().contains("replace_io_runtime"), "{twice}");
    // Each test choosing the one runtime they share: the same again is no error.
    set_io_runtime(IoRuntime::Handle(io.handle().clone())).expect("the same runtime again");
    assert_eq!(
        walk(&caller).expect("pages"),
        vec![Some("host-io".to_owned()); 3]
    );

    // The host restarts its runtime: walks on the old one say why they stop, and the one
    // replacing it serves the next walks.
    io.shutdown_background();
    let err = walk(&caller).expect_err("the host's runtime is gone");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(err.to_string().contains("replace_io_runtime"), "{err}");
    let again = host("host-again");
    replace_io_runtime(IoRuntime::Handle(again.handle().clone())).expect("replaced");
    assert_eq!(
        walk(&caller).expect("pages"),
        vec![Some("host-again".to_owned()); 3]
    );

    // Chosen once: no other variant over it either.
    assert!(set_io_runtime(IoRuntime::Caller).is_err());
    other.shutdown_background();
    again.shutdown_background();
}
