//! `pages::set_io_runtime`, the host's choice of where walks' fetch chains run: a process of its
//! own, since the choice is the process's and made once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code.

use std::num::NonZeroUsize;

use connector_core::ErrorKind;
use connector_core::pages::{
    IoRuntime, Page, PageLimit, paginate, read_ahead_on_thread, set_io_runtime,
};
use futures::TryStreamExt as _;

#[test]
fn walks_fetch_on_the_runtime_the_host_chose_once() {
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("host-io")
        .enable_all()
        .build()
        .expect("the host's I/O runtime");
    set_io_runtime(IoRuntime::Handle(host.handle().clone())).expect("the first choice");
    let again = set_io_runtime(IoRuntime::Caller).expect_err("a second choice is refused");
    assert_eq!(again.kind(), ErrorKind::Config);

    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the caller's runtime");
    let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
        let name = std::thread::current().name().map(str::to_owned);
        Ok(Page::new(name, (c < 2).then_some(c + 1)))
    });
    let names: Vec<Option<String>> = caller
        .block_on(
            read_ahead_on_thread(pages, NonZeroUsize::MIN)
                .map_ok(|p| p.items)
                .try_collect(),
        )
        .expect("pages");
    assert_eq!(names, vec![Some("host-io".to_owned()); 3]);
    assert!(
        set_io_runtime(IoRuntime::Auto).is_err(),
        "still the host's after a walk"
    );
}
