//! `pages::set_io_runtime`, the host's choice of where walks' fetch chains run: a process of its
//! own, since the choice is the process's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code.

use std::num::NonZeroUsize;

use connector_core::pages::{
    IoRuntime, Page, PageLimit, paginate, read_ahead_on_thread, set_io_runtime,
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
fn walks_fetch_on_the_runtime_the_host_chose_and_chooses_again() {
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the caller's runtime");
    let first = host("host-first");
    set_io_runtime(IoRuntime::Handle(first.handle().clone())).expect("the first choice");
    let io = host("host-io");
    set_io_runtime(IoRuntime::Handle(io.handle().clone())).expect("a Handle is replaced");
    assert_eq!(
        walk(&caller).expect("pages"),
        vec![Some("host-io".to_owned()); 3]
    );

    // The host restarts its runtime: walks on the old one say why they stop, and the new
    // choice serves the next walks.
    io.shutdown_background();
    let err = walk(&caller).expect_err("the host's runtime is gone");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(err.to_string().contains("set_io_runtime"), "{err}");
    let again = host("host-again");
    set_io_runtime(IoRuntime::Handle(again.handle().clone())).expect("chosen again");
    assert_eq!(
        walk(&caller).expect("pages"),
        vec![Some("host-again".to_owned()); 3]
    );

    // `Caller` (or `Auto`) is made once.
    set_io_runtime(IoRuntime::Caller).expect("a Handle is replaced");
    let late = set_io_runtime(IoRuntime::Auto).expect_err("Caller is made once");
    assert_eq!(late.kind(), ErrorKind::Config);
    first.shutdown_background();
    again.shutdown_background();
}
