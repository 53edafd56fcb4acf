//! [`read_ahead_on_thread`] and [`read_ahead_converting`]: the read-ahead of
//! [`read_ahead`](super::read_ahead) with the fetch chain on a thread of its own, so a response
//! is read as soon as it comes instead of when a runtime worker is done converting.

use std::any::Any;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;

use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use super::Spawned;
use crate::error::{Error, ErrorKind, Result};

/// [`read_ahead_by`](super::read_ahead_by) whose fetching runs on a thread of its own, with a
/// single-threaded Tokio runtime, instead of in a task on the caller's runtime.
///
/// On the caller's runtime the fetch chain shares the workers with whatever else runs there:
/// a response that has come waits until a worker is back at the I/O driver, and a worker
/// converting a page does not come back for the conversion's length. Here nothing but the
/// fetches runs on the fetching thread. For a listing whose pages are many and quick to fetch
/// and whose conversions are CPU work on the same runtime (the REST API walk); where a fetch
/// takes far longer than a conversion, [`read_ahead`](super::read_ahead) does as well without
/// a thread.
///
/// The contracts are [`read_ahead_by`](super::read_ahead_by)'s: the items, their order and
/// their errors are those of `pages`, and the fetching stops after the first `Err`; up to
/// `waiting` items wait for the caller besides the one being fetched; without a Tokio runtime
/// at the first poll, `pages` is driven inline. The fetching runs in the caller's tracing span;
/// a panic in it resumes in the caller once the items before it are taken; a fetching thread
/// that ends early (its runtime could not be built) ends the items with an error, never a
/// silent end of the pages.
///
/// What `pages` awaits runs on the fetching thread's runtime: its timers, and the connections
/// an HTTP client opens there (hyper drives each connection in a task of the runtime that
/// opened it). Those connections close with the thread when the stream is done; a connection
/// opened before on the caller's runtime and taken from the pool is still driven there.
///
/// # Cancel safety
/// Dropping the stream stops the fetching thread at its next wake-up: the fetch in flight (and
/// its request) is dropped there, and the thread's runtime with it.
///
/// ```
/// use std::num::NonZeroUsize;
/// use connector_core::pages::{Page, PageLimit, paginate, read_ahead_on_thread};
/// use futures::TryStreamExt;
/// # async fn demo() -> connector_core::Result<()> {
/// let pages = paginate(0u32, PageLimit::unbounded(), |n| async move {
///     Ok(Page::new(vec![n], (n < 2).then_some(n + 1)))
/// });
/// let items: Vec<Vec<u32>> = read_ahead_on_thread(pages, NonZeroUsize::MIN)
///     .map_ok(|p| p.items)
///     .try_collect()
///     .await?;
/// assert_eq!(items.concat(), vec![0, 1, 2]);
/// # Ok(()) }
/// ```
pub fn read_ahead_on_thread<T: Send + 'static>(
    pages: BoxStream<'static, Result<T>>,
    waiting: NonZeroUsize,
) -> BoxStream<'static, Result<T>> {
    on_thread(pages, waiting, |page, _| Slot::Ready(Ok(page)), |page| page)
}

/// [`read_ahead_on_thread`] that also turns each page with `convert`, in a task of its own on
/// the caller's runtime started as soon as the page comes: the caller only awaits finished
/// pages, in page order.
///
/// [`convert_spawned`](super::convert_spawned) starts a page's conversion when the caller
/// polls for a result, so the next page's conversion waits for the caller to be done with the
/// page before it. Here the fetching thread starts it. At most `waiting + 1` pages are
/// converting or converted at once (`waiting` ready for the caller and the one it awaits), and
/// a fetched page waits for room before its conversion starts, so memory stays that of
/// `waiting + 3` pages. A conversion is CPU work on a worker thread between two awaits: keep a
/// page's conversion short (a page of items, not a file).
///
/// The contracts are [`read_ahead_on_thread`]'s; `convert` also runs in the caller's tracing
/// span, and a panic in it resumes in the caller. A conversion stopped from outside (the
/// caller's runtime shut down) is a [`ErrorKind::Cancelled`] error. Without a Tokio runtime at
/// the first poll, pages are fetched and converted inline.
///
/// # Cancel safety
/// As [`read_ahead_on_thread`]'s; dropping the stream also aborts the conversions not yet
/// yielded.
///
/// ```
/// use std::num::NonZeroUsize;
/// use connector_core::pages::{Page, PageLimit, paginate, read_ahead_converting};
/// use futures::TryStreamExt;
/// # async fn demo() -> connector_core::Result<()> {
/// let pages = paginate(0u32, PageLimit::unbounded(), |n| async move {
///     Ok(Page::new(vec![n; 3], (n < 4).then_some(n + 1)))
/// });
/// let sums: Vec<u32> = read_ahead_converting(pages, NonZeroUsize::MIN, |p: Page<Vec<u32>, u32>| {
///     p.items.iter().sum::<u32>()
/// })
/// .try_collect()
/// .await?;
/// assert_eq!(sums, vec![0, 3, 6, 9, 12]);
/// # Ok(()) }
/// ```
pub fn read_ahead_converting<T, U, F>(
    pages: BoxStream<'static, Result<T>>,
    waiting: NonZeroUsize,
    convert: F,
) -> BoxStream<'static, Result<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let convert = std::sync::Arc::new(convert);
    let inline = std::sync::Arc::clone(&convert);
    on_thread(
        pages,
        waiting,
        move |page, runtime| {
            let convert = std::sync::Arc::clone(&convert);
            // In the span the fetching runs in: the caller's.
            Slot::Converting(Spawned::spawn_on(runtime, async move { convert(page) }))
        },
        move |page| (*inline)(page),
    )
}

/// What the fetching thread hands the caller, in page order.
enum Slot<U> {
    /// A page, or the error that ends the pages.
    Ready(Result<U>),
    /// A page being converted on the caller's runtime.
    Converting(Spawned<U>),
    /// The fetching panicked: resumed in the caller.
    Panicked(Box<dyn Any + Send>),
    /// The pages ended.
    End,
}

/// The fetching thread: each page of `pages` handed on through `start` (a conversion started,
/// or the page itself), and `inline` for a caller without a runtime.
fn on_thread<T, U, S, I>(
    pages: BoxStream<'static, Result<T>>,
    waiting: NonZeroUsize,
    start: S,
    inline: I,
) -> BoxStream<'static, Result<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    S: Fn(T, &tokio::runtime::Handle) -> Slot<U> + Send + 'static,
    I: Fn(T) -> U + Send + 'static,
{
    async_stream::stream! {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let mut pages = pages;
            while let Some(page) = pages.next().await {
                yield page.map(&inline);
            }
            return;
        };
        let (tx, mut rx) = mpsc::channel(waiting.get());
        // The caller's span and subscriber: a thread has neither of its own (a subscriber set
        // for the caller's thread alone would miss the fetches' events).
        let span = tracing::Span::current();
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        let thread = std::thread::Builder::new()
            .name("read-ahead".to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    fetch(pages, &tx, &start, &runtime, span);
                });
            });
        if let Err(e) = thread {
            yield Err(Error::new(ErrorKind::Internal, "could not start the read-ahead thread").with_cause(e));
            return;
        }
        loop {
            match rx.recv().await {
                Some(Slot::Ready(page)) => {
                    let stopped = page.is_err();
                    yield page;
                    if stopped {
                        return;
                    }
                }
                Some(Slot::Converting(task)) => {
                    let page = task.join().await;
                    let stopped = page.is_err();
                    yield page;
                    // The first error ends the pages, as a fetch's does.
                    if stopped {
                        return;
                    }
                }
                Some(Slot::Panicked(panic)) => std::panic::resume_unwind(panic),
                Some(Slot::End) => return,
                // Every end of the thread but the caller leaving sends a slot first; this is
                // a guard against reading a cut listing as whole.
                None => {
                    yield Err(Error::new(
                        ErrorKind::Cancelled,
                        "the read-ahead thread stopped before the pages ended",
                    ));
                    return;
                }
            }
        }
    }
    .boxed()
}

/// The fetching thread's body: its own runtime driving `pages` into `tx` until the pages end,
/// the first error, or the caller leaves.
fn fetch<T, U, S>(
    pages: BoxStream<'static, Result<T>>,
    tx: &mpsc::Sender<Slot<U>>,
    start: &S,
    caller: &tokio::runtime::Handle,
    span: tracing::Span,
) where
    S: Fn(T, &tokio::runtime::Handle) -> Slot<U>,
{
    let own = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(own) => own,
        Err(e) => {
            let e = Error::new(
                ErrorKind::Internal,
                "could not build the read-ahead thread's runtime",
            )
            .with_cause(e);
            // Outside any runtime: this thread has none.
            let _ = tx.blocking_send(Slot::Ready(Err(e)));
            return;
        }
    };
    own.block_on(
        async move {
            let driven = AssertUnwindSafe(drive(pages, tx, start, caller))
                .catch_unwind()
                .await;
            if let Err(panic) = driven {
                let _ = tx.send(Slot::Panicked(panic)).await;
            }
        }
        .instrument(span),
    );
}

async fn drive<T, U, S>(
    mut pages: BoxStream<'static, Result<T>>,
    tx: &mpsc::Sender<Slot<U>>,
    start: &S,
    caller: &tokio::runtime::Handle,
) where
    S: Fn(T, &tokio::runtime::Handle) -> Slot<U>,
{
    loop {
        // The caller leaving wakes this thread and drops the fetch in flight.
        let page = tokio::select! {
            biased;
            () = tx.closed() => return,
            page = pages.next() => page,
        };
        let Some(page) = page else {
            let _ = tx.send(Slot::End).await;
            return;
        };
        // Room first, then the conversion: at most the channel's pages convert ahead.
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        match page {
            Ok(page) => permit.send(start(page, caller)),
            Err(e) => {
                permit.send(Slot::Ready(Err(e)));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Duration;

    use futures::TryStreamExt as _;

    use super::*;
    use crate::pages::{Page, PageLimit, paginate};

    type Pages = BoxStream<'static, Result<Page<Vec<u32>, u32>>>;

    /// Pages 0.. until `fail_at` (an error) or forever, counting the fetches begun.
    fn counted(fail_at: Option<u32>) -> (Pages, Arc<AtomicU32>) {
        let fetched = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&fetched);
        let pages = paginate(0u32, PageLimit::unbounded(), move |c| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if Some(c) == fail_at {
                    Err(Error::new(ErrorKind::Unavailable, "down"))
                } else {
                    Ok(Page::new(vec![c], Some(c + 1)))
                }
            }
        });
        (pages, fetched)
    }

    async fn items<U>(s: BoxStream<'static, Result<U>>) -> (Vec<U>, Option<Error>) {
        let mut s = s;
        let mut out = Vec::new();
        loop {
            match s.try_next().await {
                Ok(Some(u)) => out.push(u),
                Ok(None) => return (out, None),
                Err(e) => {
                    // The first error ends the items.
                    assert!(s.next().await.is_none(), "an item after {e}");
                    return (out, Some(e));
                }
            }
        }
    }

    fn first(p: Page<Vec<u32>, u32>) -> u32 {
        p.items[0]
    }

    #[tokio::test]
    async fn keeps_order_and_stops_at_the_first_error() {
        let (pages, fetched) = counted(Some(5));
        let (out, err) = items(read_ahead_on_thread(pages, NonZeroUsize::MIN)).await;
        assert_eq!(
            out.into_iter().map(first).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Unavailable));
        assert_eq!(fetched.load(Ordering::SeqCst), 6);

        let (pages, fetched) = counted(Some(20));
        let s = read_ahead_converting(pages, NonZeroUsize::MIN, |p: Page<Vec<u32>, u32>| {
            // Later pages finish first, if anything.
            std::thread::sleep(Duration::from_millis(u64::from(20 - p.items[0]) / 4));
            p.items[0] * 10
        });
        let (out, err) = items(s).await;
        assert_eq!(out, (0..20).map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Unavailable));
        assert_eq!(fetched.load(Ordering::SeqCst), 21);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fetches_on_another_thread_and_converts_on_the_callers_runtime() {
        let caller = std::thread::current().id();
        let pages = paginate(0u32, PageLimit::unbounded(), move |c| async move {
            let here = std::thread::current();
            Ok(Page::new(
                (here.id() != caller && here.name() == Some("read-ahead"), c),
                (c < 3).then_some(c + 1),
            ))
        });
        let s = read_ahead_converting(pages, NonZeroUsize::MIN, |p| {
            let here = std::thread::current();
            (p.items.0, here.name() != Some("read-ahead"), p.items.1)
        });
        let (out, err) = items(s).await;
        assert!(err.is_none());
        assert_eq!(
            out,
            (0..4).map(|c| (true, true, c)).collect::<Vec<_>>(),
            "(fetched on the read-ahead thread, converted off it, page)"
        );
    }

    #[tokio::test]
    async fn resumes_a_panic_of_the_fetching_after_the_pages_before_it() {
        for convert in [false, true] {
            let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
                assert!(c < 2, "page {c} broke");
                Ok(Page::new(vec![c], Some(c + 1)))
            });
            let s = if convert {
                read_ahead_converting(pages, NonZeroUsize::MIN, first)
            } else {
                read_ahead_on_thread(pages, NonZeroUsize::MIN)
                    .map_ok(first)
                    .boxed()
            };
            let got = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = Arc::clone(&got);
            let reader = tokio::spawn(async move {
                let mut s = s;
                while let Some(page) = s.next().await {
                    seen.lock().expect("not poisoned").push(page.ok());
                }
            });
            // Without the resume, the stream ended after pages 0 and 1 as if the listing
            // were whole.
            let err = reader
                .await
                .expect_err("the panic must resume in the caller");
            let text = err
                .into_panic()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(text.contains("page 2 broke"), "{text}");
            assert_eq!(*got.lock().expect("not poisoned"), [Some(0), Some(1)]);
        }
    }

    #[tokio::test]
    #[should_panic(expected = "page 2")]
    async fn resumes_a_panic_of_a_conversion() {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            Ok(Page::new(vec![c], (c < 3).then_some(c + 1)))
        });
        let s = read_ahead_converting(pages, NonZeroUsize::MIN, |p: Page<Vec<u32>, u32>| {
            assert!(p.items[0] != 2, "page 2");
            p.items[0]
        });
        let _: Vec<u32> = s.try_collect().await.unwrap_or_default();
    }

    /// Sets its flag when dropped: a request in flight that was aborted.
    struct Aborted(Arc<AtomicBool>);

    impl Drop for Aborted {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_thread_and_the_fetch_in_flight() {
        for convert in [false, true] {
            let aborted = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&aborted);
            let fetched = Arc::new(AtomicU32::new(0));
            let counter = Arc::clone(&fetched);
            // Page 0 comes at once; page 1 never does.
            let pages = paginate(0u32, PageLimit::unbounded(), move |c| {
                counter.fetch_add(1, Ordering::SeqCst);
                let guard = Aborted(Arc::clone(&flag));
                async move {
                    if c > 0 {
                        std::future::pending::<()>().await;
                    }
                    drop(guard);
                    Ok(Page::new(vec![c], Some(c + 1)))
                }
            });
            let mut s = if convert {
                read_ahead_converting(pages, NonZeroUsize::MIN, first)
            } else {
                read_ahead_on_thread(pages, NonZeroUsize::MIN)
                    .map_ok(first)
                    .boxed()
            };
            assert_eq!(s.try_next().await.ok().flatten(), Some(0));
            aborted.store(false, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(
                !aborted.load(Ordering::SeqCst),
                "page 1 is still being fetched"
            );
            drop(s);
            let stopped = async {
                while !aborted.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(5), stopped)
                .await
                .expect("the fetch in flight is dropped when the stream is");
            assert_eq!(fetched.load(Ordering::SeqCst), 2, "convert {convert}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conversions_stay_bounded_and_stop_with_the_stream() {
        let started = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&started);
        let (pages, _) = counted(None);
        let mut s = read_ahead_converting(pages, NonZeroUsize::MIN, move |p| {
            counter.fetch_add(1, Ordering::SeqCst);
            first(p)
        });
        assert_eq!(s.try_next().await.ok().flatten(), Some(0));
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Page 0 taken and page 1 converted for the channel; page 2 waits for room unconverted.
        assert_eq!(started.load(Ordering::SeqCst), 2);
        drop(s);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    /// `waiting` pages ready (converted) and one more fetched, waiting for room, as
    /// `read_ahead_by` does.
    #[tokio::test]
    async fn keeps_that_many_pages_waiting() {
        for (waiting, most) in [(1, 3), (3, 5)] {
            for convert in [false, true] {
                let (pages, fetched) = counted(None);
                let waiting = NonZeroUsize::new(waiting).expect("not zero");
                let mut s = if convert {
                    read_ahead_converting(pages, waiting, first)
                } else {
                    read_ahead_on_thread(pages, waiting).map_ok(first).boxed()
                };
                assert_eq!(s.try_next().await.ok().flatten(), Some(0));
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(fetched.load(Ordering::SeqCst), most, "convert {convert}");
                for want in 1..8 {
                    assert_eq!(s.try_next().await.ok().flatten(), Some(want));
                }
            }
        }
    }

    #[test]
    fn without_a_runtime_runs_inline() {
        let pages = || {
            paginate(0u32, PageLimit::unbounded(), |c| async move {
                Ok(Page::new(vec![c], (c < 3).then_some(c + 1)))
            })
        };
        let s = read_ahead_converting(pages(), NonZeroUsize::MIN, first);
        let out: Vec<u32> = futures::executor::block_on(s.try_collect()).expect("pages");
        assert_eq!(out, [0, 1, 2, 3]);
        let s = read_ahead_on_thread(pages(), NonZeroUsize::MIN).map_ok(first);
        let out: Vec<u32> = futures::executor::block_on(s.try_collect()).expect("pages");
        assert_eq!(out, [0, 1, 2, 3]);
    }

    #[test]
    fn a_conversion_stopped_by_the_callers_runtime_is_cancelled() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        let (pages, _) = counted(None);
        let mut s = read_ahead_converting(pages, NonZeroUsize::MIN, first);
        let got = {
            let _in = runtime.enter();
            futures::executor::block_on(s.next())
        };
        assert_eq!(got.and_then(Result::ok), Some(0));
        runtime.shutdown_background();
        // A page converted before the shutdown may still come; then the conversions started
        // on the stopped runtime end the pages with an error, never a silent end.
        let mut after = Vec::new();
        while let Some(page) = futures::executor::block_on(s.next()) {
            after.push(page.map_err(|e| e.kind()));
            assert!(after.len() < 4, "{after:?}");
        }
        assert_eq!(after.last(), Some(&Err(ErrorKind::Cancelled)), "{after:?}");
    }

    #[tokio::test]
    async fn the_fetching_and_its_events_run_in_the_callers_span_and_subscriber() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let events = Arc::new(AtomicU32::new(0));
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(Counted(Arc::clone(&events))),
        );
        let span = tracing::info_span!("walk");
        let id = span.id().map(|i| i.into_u64());
        assert!(id.is_some());
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            tracing::info!(page = c, "fetched");
            Ok(Page::new(
                vec![tracing::Span::current().id().map(|i| i.into_u64())],
                (c < 1).then_some(c + 1),
            ))
        });
        let (out, _) = items(read_ahead_on_thread(pages, NonZeroUsize::MIN))
            .instrument(span)
            .await;
        let ids: Vec<_> = out.into_iter().map(|p| p.items[0]).collect();
        assert_eq!(ids, vec![id; 2]);
        assert_eq!(events.load(Ordering::SeqCst), 2);
    }

    /// Counts the events it is given.
    struct Counted(Arc<AtomicU32>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counted {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
