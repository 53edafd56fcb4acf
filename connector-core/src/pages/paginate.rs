//! [`paginate`]: a connector writes only "fetch the page at this cursor"; the helper drives the
//! loop, stops at the last page, refuses a cursor it has already seen and bounds the page count.

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;

use futures::StreamExt;
use futures::stream::BoxStream;
use tracing::Instrument;

use crate::error::{Error, ErrorKind, Result};

/// One fetched page: what it holds and the cursor of the page after it (`None` on the last).
///
/// The cursor is whatever addresses a page: a page number, an offset, an opaque cursor string,
/// a next-page URL. A connector that checkpoints stores `next`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The page's content (items, a batch, anything).
    pub items: T,
    /// The cursor of the next page, `None` when this was the last.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page followed by the page at `next`.
    pub fn new(items: T, next: Option<C>) -> Self {
        Self { items, next }
    }

    /// The last page.
    pub fn last(items: T) -> Self {
        Self { items, next: None }
    }
}

/// How many pages [`paginate`] fetches, and what happens when more remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageLimit {
    max_pages: Option<u64>,
    fail: bool,
}

impl PageLimit {
    /// No bound: only the last page or a repeated cursor ends the stream.
    pub const fn unbounded() -> Self {
        Self {
            max_pages: None,
            fail: false,
        }
    }

    /// Stops quietly after `n` pages, even if more remain (a user's "first N pages").
    pub const fn stop_after(n: u64) -> Self {
        Self {
            max_pages: Some(n),
            fail: false,
        }
    }

    /// Ends with an [`ErrorKind::InvalidData`] error when more than `n` pages remain, for
    /// listings that must be complete (ids for prune) and as a guard against runaway loops.
    pub const fn fail_after(n: u64) -> Self {
        Self {
            max_pages: Some(n),
            fail: true,
        }
    }

    /// The bound, if any.
    pub const fn max_pages(&self) -> Option<u64> {
        self.max_pages
    }
}

/// Drives `fetch` from `start` until a page has no next cursor.
///
/// Yields each page in order. Ends with an [`ErrorKind::InvalidData`] error when the service
/// hands back a cursor already used in this run (which would loop forever) and, with
/// [`PageLimit::fail_after`], when the page bound is reached with pages left. An `Err` from
/// `fetch` is yielded and ends the stream.
///
/// Only a 64-bit hash of each cursor is kept for the repeat guard, so a listing of millions of
/// pages stays small.
///
/// # Cancel safety
/// The stream owns its state; dropping it at any point loses nothing but the page in flight.
///
/// ```
/// use connector_core::pages::{Page, PageLimit, paginate};
/// use futures::TryStreamExt;
/// # async fn demo() -> connector_core::Result<()> {
/// // Pages of 10 items from 0..35, addressed by offset.
/// let pages: Vec<Vec<u32>> = paginate(0u32, PageLimit::unbounded(), |offset| async move {
///     let items: Vec<u32> = (offset..35).take(10).collect();
///     let next = (items.len() == 10).then(|| offset + 10);
///     Ok(Page::new(items, next))
/// })
/// .map_ok(|page| page.items)
/// .try_collect()
/// .await?;
/// assert_eq!(pages.concat(), (0..35).collect::<Vec<_>>());
/// # Ok(()) }
/// ```
pub fn paginate<T, C, F, Fut>(
    start: C,
    limit: PageLimit,
    fetch: F,
) -> BoxStream<'static, Result<Page<T, C>>>
where
    T: Send + 'static,
    C: Clone + Hash + Debug + Send + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T, C>>> + Send + 'static,
{
    let stream = async_stream::stream! {
        let mut fetch = fetch;
        let mut seen = HashSet::new();
        seen.insert(cursor_hash(&start));
        let mut next = Some(start);
        let mut pages: u64 = 0;
        while let Some(cursor) = next.take() {
            if let Some(max) = limit.max_pages
                && pages >= max
            {
                if limit.fail {
                    yield Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("stopped after {max} pages with more remaining (max_pages); the listing is incomplete"),
                    ));
                } else {
                    tracing::warn!(max_pages = max, "stopping after max_pages pages; more remain");
                }
                break;
            }
            let page = match fetch(cursor).await {
                Ok(page) => page,
                Err(e) => {
                    yield Err(e);
                    break;
                }
            };
            pages += 1;
            let repeated = page.next.as_ref().filter(|n| !seen.insert(cursor_hash(*n))).map(|n| format!("{n:?}"));
            next.clone_from(&page.next);
            // The page itself is new data; the loop after it is what is wrong.
            yield Ok(page);
            if let Some(repeated) = repeated {
                yield Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "the service returned the cursor {} again after page {pages}; stopping to avoid a loop",
                        crate::text::clip(&repeated, 80)
                    ),
                ));
                break;
            }
        }
    };
    stream.boxed()
}

/// Drives `pages` one item ahead in a task of its own, so the next page is fetched (and parsed)
/// while the caller converts the current one: a listing then costs about the slower of fetching
/// and converting instead of their sum.
///
/// Order, items and errors are those of `pages`; the task stops after the first `Err`. At most
/// one item waits for the caller besides the one being fetched, so memory stays that of two
/// pages. Without a Tokio runtime at the first poll, `pages` is driven inline (no read-ahead).
/// The task runs in the caller's tracing span; a panic in it resumes in the caller once the
/// items before it are taken (as inline), and a task cancelled from outside (the runtime it was
/// spawned on shut down) ends the items with an [`ErrorKind::Cancelled`] error: never a silent
/// end of the pages.
///
/// The request for the next page goes out before the caller asks for it: do not read ahead where
/// a fetch depends on what the caller did with the previous page.
///
/// # Cancel safety
/// Dropping the stream aborts the task, and with it the request in flight.
///
/// ```
/// use connector_core::pages::{Page, PageLimit, paginate, read_ahead};
/// use futures::TryStreamExt;
/// # async fn demo() -> connector_core::Result<()> {
/// let pages = paginate(0u32, PageLimit::unbounded(), |n| async move {
///     Ok(Page::new(vec![n], (n < 2).then_some(n + 1)))
/// });
/// let items: Vec<Vec<u32>> = read_ahead(pages).map_ok(|p| p.items).try_collect().await?;
/// assert_eq!(items.concat(), vec![0, 1, 2]);
/// # Ok(()) }
/// ```
pub fn read_ahead<T: Send + 'static>(
    pages: BoxStream<'static, Result<T>>,
) -> BoxStream<'static, Result<T>> {
    read_ahead_by(pages, NonZeroUsize::MIN)
}

/// [`read_ahead`] with up to `waiting` items ready for the caller instead of one, besides the
/// one being fetched: memory is that of `waiting + 2` items (the caller's among them).
///
/// For a source whose pages are small and many, where the fetching task blocked on a full
/// channel every page: the `rdbms` bench's PostgreSQL load (300k rows in pages of 1,000) took
/// 0.30-0.32 s of client CPU with four waiting against 0.37-0.41 s with one, the consumer's
/// thread no longer faulting in freshly returned heap pages every page.
///
/// # Cancel safety
/// As [`read_ahead`]'s: dropping the stream aborts the task and drops the items waiting.
pub fn read_ahead_by<T: Send + 'static>(
    pages: BoxStream<'static, Result<T>>,
    waiting: NonZeroUsize,
) -> BoxStream<'static, Result<T>> {
    async_stream::stream! {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let mut pages = pages;
            while let Some(page) = pages.next().await {
                yield page;
            }
            return;
        };
        // `waiting` pages in the channel plus one in flight: the read-ahead the caller can
        // overlap.
        let (tx, mut rx) = tokio::sync::mpsc::channel(waiting.get());
        let task = runtime.spawn(
            async move {
                let mut pages = pages;
                while let Some(page) = pages.next().await {
                    let failed = page.is_err();
                    if tx.send(page).await.is_err() || failed {
                        break;
                    }
                }
            }
            .instrument(tracing::Span::current()),
        );
        let mut task = JoinOnDrop(task);
        while let Some(page) = rx.recv().await {
            yield page;
        }
        // The channel closed: the task is done. A panic in it resumes here, as it would have
        // inline, and a task cancelled from outside (its runtime shut down) is an error: either
        // must not read as the end of the pages (a listing cut short).
        if let Err(e) = (&mut task.0).await {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            yield Err(Error::new(
                ErrorKind::Cancelled,
                "the task reading pages ahead was cancelled (its runtime shut down) before the pages ended",
            ));
        }
    }
    .boxed()
}

/// Turns each page with `convert` on Tokio's blocking pool, up to `concurrency` pages at once,
/// and yields the results in page order.
///
/// Converting a page (HTML to Markdown, hashing, field extraction) is CPU work: done inline it
/// stalls the runtime thread and adds to the fetch time; here it runs beside the fetches
/// ([`read_ahead`]) and, with `concurrency` above 1, on several cores. An `Err` from `pages`
/// is passed through. Without a Tokio runtime, `convert` runs inline. `convert` runs in the
/// caller's tracing span; a panic in it resumes in the caller.
///
/// At most `concurrency` pages are converted at once, so memory stays that of a few pages.
///
/// On a machine of fewer than four cores the pages are converted inline, in the caller's task:
/// there the blocking pool has no core to itself, and handing each page to another thread and
/// back (two wake-ups, two context switches) cost more than it gained (measured with the
/// `rest_api` bench on two cores: the load took 1.1-1.2x as long through the pool). The fetch
/// of the next page still overlaps the conversion when the pages come through [`read_ahead`].
///
/// # Cancel safety
/// Dropping the stream drops every result not yet yielded; a conversion already running
/// finishes on its blocking thread first.
pub fn convert_blocking<T, U, F>(
    pages: BoxStream<'static, Result<T>>,
    concurrency: usize,
    convert: F,
) -> BoxStream<'static, Result<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    convert_pages(pages, concurrency, offload_conversions(), convert)
}

/// Turns each page with `convert` in a Tokio task of its own, up to `concurrency` pages at
/// once, and yields the results in page order: [`convert_blocking`] for a caller whose own
/// task has other work between pages (a sync loop writing the batch before), on any number of
/// cores.
///
/// [`convert_blocking`] converts inline below four cores, so there a page's conversion and the
/// caller's handling of the page before (the sink's write) take turns on one thread. Here the
/// conversion of the next pages runs on the runtime's workers while the caller handles the one
/// before, and two conversions can run at once. A conversion is CPU work on a worker thread
/// between two awaits: keep a page's conversion short (a page of items, not a file). An `Err`
/// from `pages` is passed through. Without a Tokio runtime at a page, `convert` runs inline.
/// `convert` runs in the caller's tracing span; a panic in it resumes in the caller.
///
/// A page's task starts as soon as the page comes (the stream is polled for it while the
/// results before it are awaited), so up to `concurrency` pages besides the one the caller
/// holds are in memory.
///
/// # Cancel safety
/// Dropping the stream aborts the conversions not yet yielded.
///
/// ```
/// use connector_core::pages::{Page, PageLimit, convert_spawned, paginate, read_ahead};
/// use futures::TryStreamExt;
/// # async fn demo() -> connector_core::Result<()> {
/// let pages = paginate(0u32, PageLimit::unbounded(), |n| async move {
///     Ok(Page::new(vec![n; 3], (n < 4).then_some(n + 1)))
/// });
/// let sums: Vec<u32> = convert_spawned(read_ahead(pages), 2, |p: Page<Vec<u32>, u32>| {
///     p.items.iter().sum::<u32>()
/// })
/// .try_collect()
/// .await?;
/// assert_eq!(sums, vec![0, 3, 6, 9, 12]);
/// # Ok(()) }
/// ```
pub fn convert_spawned<T, U, F>(
    pages: BoxStream<'static, Result<T>>,
    concurrency: usize,
    convert: F,
) -> BoxStream<'static, Result<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let convert = std::sync::Arc::new(convert);
    pages
        .map(move |page| {
            let convert = std::sync::Arc::clone(&convert);
            // Spawned here, when the page comes, not when the caller gets to its result.
            let task = match (page, tokio::runtime::Handle::try_current()) {
                (Ok(page), Ok(_)) => Ok(super::Spawned::spawn(async move { convert(page) })),
                (Ok(page), Err(_)) => Err(Ok(convert(page))),
                (Err(e), _) => Err(Err(e)),
            };
            async move {
                match task {
                    Ok(task) => task.join().await,
                    Err(done) => done,
                }
            }
        })
        .buffered(concurrency.max(1))
        .boxed()
}

/// [`convert_blocking`] with the choice of pool or inline made by the caller (tests take both
/// paths on any machine).
fn convert_pages<T, U, F>(
    pages: BoxStream<'static, Result<T>>,
    concurrency: usize,
    offload: bool,
    convert: F,
) -> BoxStream<'static, Result<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    if !offload {
        return pages.map(move |page| page.map(&convert)).boxed();
    }
    let convert = std::sync::Arc::new(convert);
    pages
        .map(move |page| {
            let convert = std::sync::Arc::clone(&convert);
            async move {
                let page = page?;
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return Ok(convert(page));
                };
                let span = tracing::Span::current();
                super::ahead::join_blocking(
                    runtime.spawn_blocking(move || span.in_scope(|| convert(page))),
                )
                .await
            }
        })
        .buffered(concurrency.max(1))
        .boxed()
}

/// Whether [`convert_blocking`] hands pages to the blocking pool: with four cores or more.
pub(super) fn offload_conversions() -> bool {
    static OFFLOAD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFFLOAD.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 4))
}

/// A read-ahead task, aborted when the stream that started it is dropped.
struct JoinOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for JoinOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn cursor_hash<C: Hash>(c: &C) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn collect<C>(
        s: BoxStream<'static, Result<Page<Vec<u32>, C>>>,
    ) -> (Vec<u32>, Option<Error>) {
        let mut items = Vec::new();
        let mut s = s;
        loop {
            match s.try_next().await {
                Ok(Some(p)) => items.extend(p.items),
                Ok(None) => return (items, None),
                Err(e) => return (items, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn cursor_pages_until_none() {
        let s = paginate(
            "a".to_owned(),
            PageLimit::unbounded(),
            |c: String| async move {
                Ok(match c.as_str() {
                    "a" => Page::new(vec![1, 2], Some("b".to_owned())),
                    "b" => Page::new(vec![3], Some("c".to_owned())),
                    _ => Page::last(vec![4]),
                })
            },
        );
        let (items, err) = collect(s).await;
        assert_eq!(items, vec![1, 2, 3, 4]);
        assert!(err.is_none());
    }

    #[tokio::test]
    async fn repeated_cursor_is_an_error_after_the_page() {
        let s = paginate(0u32, PageLimit::unbounded(), |c| async move {
            Ok(Page::new(vec![c], Some((c + 1) % 3)))
        });
        let (items, err) = collect(s).await;
        assert_eq!(items, vec![0, 1, 2]);
        let err = err.unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("cursor 0 again"), "{err}");
    }

    #[tokio::test]
    async fn max_pages_stops_or_fails() {
        let fetch = |c: u32| async move { Ok(Page::new(vec![c], Some(c + 1))) };
        let (items, err) = collect(paginate(0u32, PageLimit::stop_after(3), fetch)).await;
        assert_eq!((items, err.is_none()), (vec![0, 1, 2], true));
        let (items, err) = collect(paginate(0u32, PageLimit::fail_after(2), fetch)).await;
        assert_eq!(items, vec![0, 1]);
        assert!(err.unwrap().to_string().contains("incomplete"));
        // Exactly at the bound with nothing left is fine.
        let (items, err) = collect(paginate(
            0u32,
            PageLimit::fail_after(2),
            |c: u32| async move { Ok(Page::new(vec![c], (c == 0).then_some(1))) },
        ))
        .await;
        assert_eq!((items, err.is_none()), (vec![0, 1], true));
    }

    #[tokio::test]
    async fn read_ahead_keeps_order_and_stops_at_the_first_error() {
        let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = fetched.clone();
        let s = read_ahead(paginate(0u32, PageLimit::unbounded(), move |c| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if c == 5 {
                    Err(Error::new(ErrorKind::Unavailable, "down"))
                } else {
                    Ok(Page::new(vec![c], Some(c + 1)))
                }
            }
        }));
        let (items, err) = collect(s).await;
        assert_eq!(items, vec![0, 1, 2, 3, 4]);
        assert_eq!(err.unwrap().kind(), ErrorKind::Unavailable);
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn read_ahead_resumes_a_panic_of_its_task_after_the_pages_before_it() {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            assert!(c < 2, "page {c} broke");
            Ok(Page::new(vec![c], Some(c + 1)))
        });
        let reader = tokio::spawn(async move {
            let mut s = read_ahead(pages);
            let mut got = Vec::new();
            while let Some(page) = s.next().await {
                got.push(page.map(|p| p.items[0]).ok());
            }
            got
        });
        // Without the resume, the stream ended after pages 0 and 1 as if the listing were whole.
        let err = reader
            .await
            .expect_err("the panic of the read-ahead task must resume");
        assert!(err.is_panic());
        let message = err.into_panic();
        let text = message
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(text.contains("page 2 broke"), "{text}");
    }

    #[test]
    fn read_ahead_ends_with_an_error_when_its_task_is_cancelled() {
        // Page 0 comes at once; page 1 never does, so the task is still running when its
        // runtime shuts down.
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            if c > 0 {
                std::future::pending::<()>().await;
            }
            Ok(Page::new(vec![c], Some(c + 1)))
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        let mut s = read_ahead(pages);
        let first = {
            let _in = runtime.enter();
            futures::executor::block_on(s.next())
        };
        assert_eq!(first.and_then(|p| p.ok()).map(|p| p.items), Some(vec![0]));
        runtime.shutdown_background();
        // Without the error, the stream ended here as if the listing were whole.
        let next = futures::executor::block_on(s.next());
        let kind = match next {
            Some(Err(e)) => Some(e.kind()),
            _ => None,
        };
        assert_eq!(kind, Some(ErrorKind::Cancelled));
        assert!(futures::executor::block_on(s.next()).is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn convert_blocking_keeps_order_and_passes_errors() {
        for offload in [true, false] {
            converts_in_order_and_passes_errors(offload).await;
        }
    }

    async fn converts_in_order_and_passes_errors(offload: bool) {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            if c == 20 {
                Err(Error::new(ErrorKind::Unavailable, "down"))
            } else {
                Ok(Page::new(vec![c], Some(c + 1)))
            }
        });
        let mut s = convert_pages(read_ahead(pages), 3, offload, |p: Page<Vec<u32>, u32>| {
            // Later pages finish first, if anything.
            std::thread::sleep(std::time::Duration::from_millis(
                u64::from(20 - p.items[0]) / 4,
            ));
            p.items[0] * 10
        });
        let mut out = Vec::new();
        let mut err = None;
        while let Some(r) = s.next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => err = Some(e),
            }
        }
        assert_eq!(
            out,
            (0..20).map(|n| n * 10).collect::<Vec<_>>(),
            "offload {offload}"
        );
        assert_eq!(err.unwrap().kind(), ErrorKind::Unavailable);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn convert_spawned_keeps_order_and_passes_errors() {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            if c == 20 {
                Err(Error::new(ErrorKind::Unavailable, "down"))
            } else {
                Ok(Page::new(vec![c], Some(c + 1)))
            }
        });
        let s = convert_spawned(read_ahead(pages), 3, |p: Page<Vec<u32>, u32>| {
            // Later pages finish first, if anything.
            std::thread::sleep(std::time::Duration::from_millis(
                u64::from(20 - p.items[0]) / 4,
            ));
            p.items[0] * 10
        });
        let (out, err): (Vec<_>, Vec<_>) = s
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .partition(Result::is_ok);
        let out: Vec<u32> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, (0..20).map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(err.len(), 1);
        assert_eq!(
            err.into_iter().next().unwrap().unwrap_err().kind(),
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn convert_spawned_without_a_runtime_runs_inline() {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            Ok(Page::new(vec![c], (c < 3).then_some(c + 1)))
        });
        let s = convert_spawned(pages, 2, |p: Page<Vec<u32>, u32>| p.items[0] + 1);
        let out: Vec<u32> = futures::executor::block_on(s.try_collect()).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4]);
    }

    #[tokio::test]
    #[should_panic(expected = "page 2")]
    async fn convert_spawned_resumes_a_panic() {
        let pages = paginate(0u32, PageLimit::unbounded(), |c| async move {
            Ok(Page::new(vec![c], (c < 3).then_some(c + 1)))
        });
        let s = convert_spawned(pages, 2, |p: Page<Vec<u32>, u32>| {
            assert!(p.items[0] != 2, "page 2");
            p.items[0]
        });
        let _: Vec<u32> = s.try_collect().await.unwrap_or_default();
    }

    #[test]
    fn read_ahead_without_a_runtime_runs_inline() {
        let s = read_ahead(paginate(0u32, PageLimit::unbounded(), |c| async move {
            Ok(Page::new(vec![c], (c < 3).then_some(c + 1)))
        }));
        let (items, err) = futures::executor::block_on(collect(s));
        assert_eq!((items, err.is_none()), (vec![0, 1, 2, 3], true));
    }

    #[tokio::test]
    async fn dropping_read_ahead_stops_fetching() {
        let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = fetched.clone();
        let mut s = read_ahead(paginate(0u32, PageLimit::unbounded(), move |c| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok(Page::new(vec![c], Some(c + 1))) }
        }));
        let first = s.try_next().await.unwrap().unwrap();
        assert_eq!(first.items, vec![0]);
        drop(s);
        tokio::task::yield_now().await;
        let after_drop = fetched.load(std::sync::atomic::Ordering::SeqCst);
        // One page in the channel and one being fetched at most, then nothing more.
        assert!(after_drop <= 3, "{after_drop}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            fetched.load(std::sync::atomic::Ordering::SeqCst),
            after_drop
        );
    }

    /// `read_ahead_by` keeps `waiting` pages ready (and one more fetched, waiting for room)
    /// where `read_ahead` keeps one, and hands them on in order.
    #[tokio::test]
    async fn read_ahead_by_keeps_that_many_pages_waiting() {
        for (waiting, most) in [(1, 3), (3, 5)] {
            let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let counter = fetched.clone();
            let pages = paginate(0u32, PageLimit::unbounded(), move |c| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { Ok(Page::new(vec![c], Some(c + 1))) }
            });
            let waiting = NonZeroUsize::new(waiting).unwrap();
            let mut s = read_ahead_by(pages, waiting);
            assert_eq!(s.try_next().await.unwrap().unwrap().items, vec![0]);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            // The page taken, `waiting` in the channel and one fetched, waiting for room.
            assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), most);
            for want in 1..8 {
                assert_eq!(s.try_next().await.unwrap().unwrap().items, vec![want]);
            }
        }
    }

    #[tokio::test]
    async fn fetch_error_ends_the_stream() {
        let s = paginate(0u32, PageLimit::unbounded(), |c| async move {
            if c == 1 {
                Err(Error::new(ErrorKind::Unavailable, "down"))
            } else {
                Ok(Page::new(vec![c], Some(c + 1)))
            }
        });
        let (items, err) = collect(s).await;
        assert_eq!(items, vec![0]);
        assert_eq!(err.unwrap().kind(), ErrorKind::Unavailable);
    }
}
