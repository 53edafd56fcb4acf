//! [`ConvertAhead`]: one conversion on the blocking pool while the caller fetches the next input.

use std::fmt;

use tracing::Span;

use crate::error::{Error, ErrorKind, Result};

/// Converts one unit of work ahead of the caller, always on Tokio's blocking pool, and hands
/// the results back in the order the work came, each with the tag it was given (its
/// checkpoint, say).
///
/// This is the pipeline of a connector whose fetches cannot be a stream: a session-bound
/// protocol (IMAP, a database cursor) where each fetch needs `&mut` of the one connection, in a
/// loop that fetches part *n + 1* while part *n* is parsed and written as Markdown. The loop
/// [`push`](Self::push)es each fetched part with its conversion and gets back the part before,
/// converted; [`finish`](Self::finish) gives the last one. At most one conversion runs at a
/// time, so memory stays that of two parts.
///
/// Unlike [`convert_blocking`](super::convert_blocking), which converts inline on a machine of
/// fewer than four cores, the conversion here always goes to the blocking pool: the caller's
/// next step is a request that waits on the network (the server reads mail from disk, a
/// database plans a query), so even a single spare core turns that wait into conversion time,
/// and the two thread hand-offs a part costs are small beside a round trip (inline, the
/// whole conversion would add to each part's round trip: on the `imap` bench, about 20 µs of
/// MIME parsing and Markdown per 4 KiB message against about 30 µs of fetching it). Use it
/// where a part is a round trip; for many small pages that arrive by
/// [`read_ahead`](super::read_ahead), [`convert_blocking`](super::convert_blocking) is the one.
///
/// Without a Tokio runtime the conversion runs inline, in [`push`](Self::push). It runs in the
/// tracing span that was current at `push`; a panic in it resumes in the caller (at the `push`
/// or `finish` that hands its result back).
///
/// # Cancel safety
/// Dropping the helper, or a `push`/`finish` future, drops the result of the conversion in
/// flight (its tag with it); a conversion already running finishes on its blocking thread
/// first. Nothing is committed by a conversion, so a caller that hands on a part only with the
/// checkpoint after it (its tag) loses nothing.
///
/// ```
/// use connector_core::pages::ConvertAhead;
/// # async fn demo() -> connector_core::Result<()> {
/// let mut ahead = ConvertAhead::new();
/// let mut out = Vec::new();
/// for part in 1..=3u32 {
///     // The fetch of `part` happened while the part before it was converted.
///     let raw = vec![part; 3];
///     if let Some((sum, checkpoint)) = ahead.push(part, move || raw.iter().sum::<u32>()).await? {
///         out.push((sum, checkpoint));
///     }
/// }
/// out.extend(ahead.finish().await?);
/// assert_eq!(out, [(3, 1), (6, 2), (9, 3)]);
/// # Ok(()) }
/// ```
pub struct ConvertAhead<U, T> {
    inflight: Option<(Converting<U>, T)>,
}

enum Converting<U> {
    Task(tokio::task::JoinHandle<U>),
    /// Converted inline (no runtime).
    Done(U),
}

impl<U, T> fmt::Debug for ConvertAhead<U, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvertAhead")
            .field("converting", &self.inflight.is_some())
            .finish()
    }
}

impl<U, T> Default for ConvertAhead<U, T> {
    fn default() -> Self {
        Self { inflight: None }
    }
}

impl<U: Send + 'static, T> ConvertAhead<U, T> {
    /// A helper with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a conversion is in flight (its result not yet handed back).
    pub fn is_converting(&self) -> bool {
        self.inflight.is_some()
    }

    /// Starts `convert` on the blocking pool, tagged `tag`, and returns the conversion started
    /// before it, finished, with its tag (`None` on the first push).
    ///
    /// # Errors
    /// `Cancelled` when the runtime shut down before the previous conversion finished.
    pub async fn push<F>(&mut self, tag: T, convert: F) -> Result<Option<(U, T)>>
    where
        F: FnOnce() -> U + Send + 'static,
    {
        let converting = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let span = Span::current();
                Converting::Task(runtime.spawn_blocking(move || span.in_scope(convert)))
            }
            Err(_) => Converting::Done(convert()),
        };
        match self.inflight.replace((converting, tag)) {
            Some((previous, tag)) => Ok(Some((joined(previous).await?, tag))),
            None => Ok(None),
        }
    }

    /// The conversion in flight, finished, with its tag; `None` when there is none.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub async fn finish(&mut self) -> Result<Option<(U, T)>> {
        match self.inflight.take() {
            Some((converting, tag)) => Ok(Some((joined(converting).await?, tag))),
            None => Ok(None),
        }
    }
}

async fn joined<U>(converting: Converting<U>) -> Result<U> {
    match converting {
        Converting::Done(u) => Ok(u),
        Converting::Task(task) => join_blocking(task).await,
    }
}

/// A future run in a task of its own on the current runtime (in the caller's span), aborted
/// when dropped: for a connector that keeps a page or two fetching while it hands on the one
/// before, without a task that outlives the stream that started it.
///
/// ```
/// use connector_core::pages::Spawned;
/// # async fn demo() -> connector_core::Result<()> {
/// let next = Spawned::spawn(async { 2 + 2 });
/// // ... hand on the page before ...
/// assert_eq!(next.join().await?, 4);
/// # Ok(()) }
/// ```
pub struct Spawned<T>(tokio::task::JoinHandle<T>);

impl<T> fmt::Debug for Spawned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned")
            .field("finished", &self.0.is_finished())
            .finish()
    }
}

impl<T: Send + 'static> Spawned<T> {
    /// Starts `future` in a task of its own.
    ///
    /// # Panics
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(future: impl std::future::Future<Output = T> + Send + 'static) -> Self {
        use tracing::Instrument as _;
        Self(tokio::spawn(future.in_current_span()))
    }

    /// [`spawn`](Self::spawn) on `runtime`, from any thread (the I/O thread starting
    /// conversions on its caller's runtime).
    pub(crate) fn spawn_on(
        runtime: &tokio::runtime::Handle,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Self {
        use tracing::Instrument as _;
        Self(runtime.spawn(future.in_current_span()))
    }
}

impl<T> Spawned<T> {
    /// Its output, once it is done; a panic in it resumes here.
    ///
    /// # Errors
    /// `Cancelled` when the task was stopped (the runtime shutting down).
    pub async fn join(mut self) -> Result<T> {
        match (&mut self.0).await {
            Ok(t) => Ok(t),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                Err(Error::new(ErrorKind::Cancelled, "a spawned fetch was stopped").with_cause(e))
            }
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A blocking-pool task's result: its panic resumed here, a task the shutting-down runtime
/// dropped as `Cancelled`.
pub(crate) async fn join_blocking<U>(task: tokio::task::JoinHandle<U>) -> Result<U> {
    match task.await {
        Ok(u) => Ok(u),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::new(
            ErrorKind::Cancelled,
            format!("a conversion on the blocking pool stopped: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_come_in_order_with_their_tags() {
        let mut ahead = ConvertAhead::new();
        let mut out = Vec::new();
        for n in 0..10u64 {
            let pushed = ahead
                .push(format!("cp{n}"), move || {
                    // Later parts are quicker: order still holds.
                    std::thread::sleep(Duration::from_millis(10 - n));
                    n * 10
                })
                .await
                .unwrap();
            out.extend(pushed);
            assert!(ahead.is_converting());
        }
        out.extend(ahead.finish().await.unwrap());
        assert!(!ahead.is_converting());
        assert!(ahead.finish().await.unwrap().is_none());
        let expected: Vec<(u64, String)> = (0..10).map(|n| (n * 10, format!("cp{n}"))).collect();
        assert_eq!(out, expected);
    }

    /// The conversion runs while the caller goes on: it waits for a message the caller sends
    /// only after `push` returned, which would never come if it ran inline.
    #[tokio::test(flavor = "current_thread")]
    async fn the_conversion_runs_beside_the_caller_even_on_one_thread() {
        let (tx, rx) = mpsc::channel::<u32>();
        let mut ahead = ConvertAhead::new();
        let first = ahead
            .push("a", move || {
                rx.recv_timeout(Duration::from_secs(10)).unwrap() + 1
            })
            .await
            .unwrap();
        assert!(first.is_none());
        // The caller's "fetch of the next part" happens now, while the first converts.
        tx.send(41).unwrap();
        let second = ahead.push("b", || 0).await.unwrap();
        assert_eq!(second, Some((42, "a")));
        assert_eq!(ahead.finish().await.unwrap(), Some((0, "b")));
    }

    #[tokio::test]
    async fn a_panic_resumes_in_the_caller() {
        let mut ahead: ConvertAhead<u32, ()> = ConvertAhead::new();
        ahead
            .push((), || panic!("broken conversion"))
            .await
            .unwrap();
        let caught = tokio::spawn(async move { ahead.finish().await }).await;
        let panic = caught.unwrap_err().into_panic();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"broken conversion"));
    }

    #[test]
    fn without_a_runtime_it_converts_inline() {
        let mut ahead = ConvertAhead::new();
        let out = futures::executor::block_on(async {
            let first = ahead.push(1, || "one").await.unwrap();
            let second = ahead.push(2, || "two").await.unwrap();
            (first, second, ahead.finish().await.unwrap())
        });
        assert_eq!(out, (None, Some(("one", 1)), Some(("two", 2))));
    }

    #[tokio::test]
    async fn a_spawned_fetch_is_stopped_when_dropped_and_its_panic_resumes_in_the_joiner() {
        // Dropped before it finishes: the task is aborted, so the sender is dropped unsent.
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let task = Spawned::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            let _ = tx.send(1);
        });
        drop(task);
        assert!(rx.await.is_err());

        assert_eq!(Spawned::spawn(async { 7 }).join().await.unwrap(), 7);
        let broken = Spawned::spawn(async { panic!("broken fetch") });
        let caught = tokio::spawn(async move { broken.join().await }).await;
        let panic = caught.unwrap_err().into_panic();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"broken fetch"));
    }
}
