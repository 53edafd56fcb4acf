//! Where walks' fetch chains run: [`set_io_runtime`], the host's choice, and the process's
//! pool of I/O runtimes (`connectors-io`) that [`IoRuntime::Auto`] uses.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind, Result};

/// Where [`read_ahead_on_thread`](super::read_ahead_on_thread) and
/// [`read_ahead_converting`](super::read_ahead_converting) run a walk's fetch chain (the
/// requests, the responses' parse, the timers and connections these open); chosen once for the
/// process with [`set_io_runtime`]. A page's conversion always runs on the caller's runtime.
///
/// Whatever the choice, a runtime runs every walk it is given on its threads: a fetch chain
/// must not block (no `std::sync::Mutex` held across a wait, no synchronous file or network
/// I/O, no long synchronous call), since on a runtime of one thread that stalls every other
/// walk on it, their timers and the connections it drives.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum IoRuntime {
    /// With two cores or more (`available_parallelism`), a pool of `N` single-threaded
    /// runtimes, each on a thread of its own named `connectors-io`, started as walks need them
    /// and never dropped, with `N` a quarter of the cores between 1 and 4 (1 on up to 7 cores,
    /// 4 from 16). Each walk is pinned to one of them in turn, and the walks on one runtime
    /// take turns on its thread: past `N` cores' worth of fetching the walks wait for each
    /// other, and a host that needs more chooses [`Handle`](Self::Handle). Below two cores,
    /// as [`Caller`](Self::Caller). The default.
    ///
    /// On Linux `available_parallelism` counts the calling thread's affinity mask (the thread
    /// that builds the first walk) and the cgroup's CPU quota, rounded down (a quota of 1.5
    /// CPUs is one core), read once. It does not see CPU requests or weights without a quota
    /// (a Kubernetes pod with requests and no limit sees the node's every core), a loaded
    /// host, or a quota changed later: [`set_io_runtime`] is the answer where this guess is
    /// wrong.
    #[default]
    Auto,
    /// Each walk's fetch chain is a task on the runtime that first polls its stream, as
    /// [`read_ahead_by`](super::read_ahead_by)'s: it scales with the host's runtime, and a
    /// response that comes waits for one of its workers.
    Caller,
    /// Every walk's fetch chain is a task on this runtime, the host's: a multi-threaded
    /// runtime sized as the host wishes, or its own single thread. What the walks open there
    /// (connections, their pools' tasks) lives as long as that runtime; once it is shut down,
    /// walks end with an [`ErrorKind::Cancelled`] error.
    Handle(Handle),
}

impl IoRuntime {
    /// The variant's name, for messages (a `Handle`'s `Debug` is long).
    fn name(&self) -> &'static str {
        match self {
            Self::Auto => "Auto",
            Self::Caller => "Caller",
            Self::Handle(_) => "Handle",
        }
    }
}

/// Chooses where walks' fetch chains run, for the whole process (see [`IoRuntime`]). Call it
/// once, before the first walk (the first call to
/// [`read_ahead_on_thread`](super::read_ahead_on_thread) or
/// [`read_ahead_converting`](super::read_ahead_converting) fixes the choice, to
/// [`IoRuntime::Auto`] when none was set).
///
/// # Errors
/// [`ErrorKind::Config`] when the choice was already made, by an earlier call or by a walk;
/// the choice in force is kept.
///
/// ```
/// use connector_core::pages::{IoRuntime, set_io_runtime};
/// # fn demo(host: tokio::runtime::Handle) -> connector_core::Result<()> {
/// set_io_runtime(IoRuntime::Handle(host))?;
/// # Ok(()) }
/// ```
pub fn set_io_runtime(choice: IoRuntime) -> Result<()> {
    CHOICE.set(choice)
}

static CHOICE: Choice = Choice(OnceLock::new());

/// The process's choice, made once.
struct Choice(OnceLock<IoRuntime>);

impl Choice {
    fn set(&self, choice: IoRuntime) -> Result<()> {
        self.0.set(choice).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the I/O runtime is already chosen ({}): choose it once, before the first walk",
                    self.get().name()
                ),
            )
        })
    }

    /// The choice, [`IoRuntime::Auto`] from now on if none was made.
    fn get(&self) -> &IoRuntime {
        self.0.get_or_init(IoRuntime::default)
    }
}

/// Where a walk's fetching goes, the choice made.
#[derive(Clone, Debug)]
pub(super) enum On {
    /// One of a pool's runtimes, or the caller's when it has none.
    Pool(&'static Pool),
    /// The caller's runtime.
    Caller,
    /// This runtime.
    Runtime(Handle),
}

impl On {
    /// The process's choice ([`set_io_runtime`]).
    pub(super) fn chosen() -> Self {
        match CHOICE.get() {
            IoRuntime::Auto if cores() >= 2 => Self::Pool(io_pool()),
            IoRuntime::Auto | IoRuntime::Caller => Self::Caller,
            IoRuntime::Handle(handle) => Self::Runtime(handle.clone()),
        }
    }

    /// The runtime a walk polled first on `caller` is driven on.
    pub(super) fn runtime(&self, caller: &Handle) -> Handle {
        match self {
            Self::Pool(pool) => pool.pick().unwrap_or_else(|| caller.clone()),
            Self::Caller => caller.clone(),
            Self::Runtime(handle) => handle.clone(),
        }
    }
}

/// `available_parallelism`, read once (1 when unknown). On one core the I/O thread and the
/// runtime's worker take turns, a context switch per page handed over (measured on
/// `taskset -c 0`: 1.02x the wall and 1.05x the task-clock of a task), so
/// [`IoRuntime::Auto`] drives walks on their caller's runtime there.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The pool's size on `cores` cores: a quarter of them, between 1 and 4. Two cores keep the one
/// thread measured there; a many-core host running many walks is not held to one.
pub(super) fn pool_size(cores: usize) -> usize {
    (cores / 4).clamp(1, 4)
}

/// The process's pool ([`IoRuntime::Auto`]).
pub(super) fn io_pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(pool_size(cores()), io_runtime))
}

/// The name of an I/O runtime's thread, and of its blocking threads (DNS lookups): Linux
/// keeps 15 characters of a thread's name.
pub(super) const IO_THREAD: &str = "connectors-io";
const IO_BLOCKING: &str = "connectors-io-b";

/// How long a failed start keeps walks on their callers' runtimes before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// An I/O runtime: single-threaded, with one blocking thread started at once and kept (its
/// idle threads live a year), so a DNS lookup when the process is out of threads (at
/// `pids.max`) is queued for it instead of panicking in `spawn_blocking`; at most 64 of them.
pub(super) fn io_runtime() -> std::io::Result<Runtime> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(IO_BLOCKING)
        .max_blocking_threads(64)
        .thread_keep_alive(Duration::from_secs(365 * 24 * 60 * 60))
        .build()?;
    drop(runtime.spawn_blocking(|| ()));
    Ok(runtime)
}

/// Runtimes started as walks need them, each on a thread of its own and never dropped, so what
/// a walk opens on one (an HTTP client's connections and its pool's tasks, a host's pooled
/// database connection opened by a rate gate) outlives the walk and serves the next ones.
#[derive(Debug)]
pub(super) struct Pool {
    size: usize,
    build: fn() -> std::io::Result<Runtime>,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// The slot the next walk takes, modulo the size.
    next: usize,
    started: Vec<Option<Started>>,
}

/// A slot's last start, in the process it was made in.
#[derive(Clone, Debug)]
enum Started {
    Running { pid: u32, handle: Handle },
    Failed { pid: u32, at: Instant },
}

/// What a walk does with a slot.
#[derive(Debug)]
enum Reuse {
    Use(Handle),
    /// Its start failed less than [`RETRY_AFTER`] ago: the caller's runtime.
    Fallback,
    Start,
}

/// Whether the slot's last start serves process `pid` at `now`. A runtime started before a
/// `fork` has no thread in the child (a task spawned there would wait forever), so the child
/// starts its own; a failure is tried again after [`RETRY_AFTER`].
fn reuse(started: Option<&Started>, pid: u32, now: Instant) -> Reuse {
    match started {
        Some(Started::Running { pid: by, handle }) if *by == pid => Reuse::Use(handle.clone()),
        Some(Started::Failed { pid: by, at })
            if *by == pid && now.saturating_duration_since(*at) < RETRY_AFTER =>
        {
            Reuse::Fallback
        }
        _ => Reuse::Start,
    }
}

impl Pool {
    /// `size` runtimes (at least one), each built by `build` on its thread when first needed.
    pub(super) fn new(size: usize, build: fn() -> std::io::Result<Runtime>) -> Self {
        let size = size.max(1);
        Self {
            size,
            build,
            slots: Mutex::new(Slots {
                next: 0,
                started: vec![None; size],
            }),
        }
    }

    /// The next slot's runtime, started if it is not (once per slot and process, the length
    /// of a thread's start, blocking the caller: other walks wait on the lock meanwhile);
    /// `None` when it could not start.
    fn pick(&self) -> Option<Handle> {
        let pid = std::process::id();
        // A panic while the lock was held left nothing half-written.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let i = slots.next % self.size;
        slots.next = slots.next.wrapping_add(1);
        match reuse(slots.started[i].as_ref(), pid, Instant::now()) {
            Reuse::Use(handle) => Some(handle),
            Reuse::Fallback => None,
            Reuse::Start => {
                let handle = start(self.build);
                slots.started[i] = Some(match &handle {
                    Some(handle) => Started::Running {
                        pid,
                        handle: handle.clone(),
                    },
                    None => Started::Failed {
                        pid,
                        at: Instant::now(),
                    },
                });
                handle
            }
        }
    }
}

/// A runtime built by `build` on a thread of its own ([`IO_THREAD`]) that drives it forever;
/// `None`, with a warning, when the thread or the runtime could not be started. Built on its
/// thread: a runtime that failed to start is dropped there, not in the caller's runtime (where
/// dropping one panics).
fn start(build: fn() -> std::io::Result<Runtime>) -> Option<Handle> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(IO_THREAD.to_owned())
        .spawn(move || {
            let runtime = build();
            let _ = tx.send(
                runtime
                    .as_ref()
                    .map(|r| r.handle().clone())
                    .map_err(|e| e.to_string()),
            );
            if let Ok(runtime) = runtime {
                runtime.block_on(std::future::pending::<()>());
            }
        });
    let started = match spawned {
        // The thread's end without a word is its panic.
        Ok(_) => rx
            .recv()
            .unwrap_or_else(|_| Err("its thread ended".to_owned())),
        Err(e) => Err(format!("no thread: {e}")),
    };
    match started {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(
                %error,
                "the I/O runtime could not start: walks run on their callers' runtimes, tried again in a minute"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn the_pool_is_a_quarter_of_the_cores_between_one_and_four() {
        let sizes: Vec<usize> = [1, 2, 4, 7, 8, 12, 16, 64].map(pool_size).into();
        assert_eq!(sizes, [1, 1, 1, 1, 2, 3, 4, 4]);
    }

    #[test]
    fn a_choice_is_made_once() {
        let choice = Choice(OnceLock::new());
        choice.set(IoRuntime::Caller).expect("the first choice");
        let err = choice
            .set(IoRuntime::Auto)
            .expect_err("a second choice is refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("Caller"), "{err}");
        assert!(matches!(choice.get(), IoRuntime::Caller));

        // A walk's first use fixes the default.
        let walked = Choice(OnceLock::new());
        assert!(matches!(walked.get(), IoRuntime::Auto));
        assert!(walked.set(IoRuntime::Caller).is_err());
    }

    /// A runtime started in another process (before a `fork`) is not used: the child would
    /// hand its walks to a thread it does not have.
    #[tokio::test]
    async fn a_runtime_of_another_process_is_started_again() {
        let handle = Handle::current();
        let now = Instant::now();
        let running = Started::Running { pid: 7, handle };
        assert!(matches!(reuse(Some(&running), 7, now), Reuse::Use(_)));
        assert!(matches!(reuse(Some(&running), 8, now), Reuse::Start));
        assert!(matches!(reuse(None, 7, now), Reuse::Start));

        let failed = Started::Failed { pid: 7, at: now };
        assert!(matches!(reuse(Some(&failed), 7, now), Reuse::Fallback));
        assert!(matches!(
            reuse(Some(&failed), 7, now + Duration::from_secs(59)),
            Reuse::Fallback
        ));
        assert!(matches!(
            reuse(Some(&failed), 7, now + RETRY_AFTER),
            Reuse::Start
        ));
        assert!(matches!(reuse(Some(&failed), 8, now), Reuse::Start));
    }

    /// The I/O runtime's blocking threads (DNS lookups) carry a name Linux shows whole.
    #[test]
    fn its_blocking_threads_are_named_within_fifteen_characters() {
        let runtime = io_runtime().expect("a runtime");
        let named = runtime.spawn_blocking(|| std::thread::current().name().map(str::to_owned));
        let name = runtime.block_on(named).expect("a blocking task");
        assert_eq!(name.as_deref(), Some(IO_BLOCKING));
        assert!(IO_BLOCKING.len() <= 15 && IO_THREAD.len() <= 15);
    }

    static BUILDS: AtomicU32 = AtomicU32::new(0);

    fn failing() -> std::io::Result<Runtime> {
        BUILDS.fetch_add(1, Ordering::SeqCst);
        Err(std::io::Error::other("no epoll"))
    }

    /// A failed start is warned about and falls back to the caller, and is not tried again for
    /// a minute (not for the process's life).
    #[test]
    fn a_failed_start_is_warned_and_tried_again_later() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let warned = std::sync::Arc::new(AtomicU32::new(0));
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(Warned(std::sync::Arc::clone(&warned))),
        );
        assert!(start(failing).is_none());
        assert_eq!(warned.load(Ordering::SeqCst), 1);
        assert!(start(io_runtime).is_some());
        assert_eq!(warned.load(Ordering::SeqCst), 1);

        let pool = Pool::new(1, failing);
        let before = BUILDS.load(Ordering::SeqCst);
        assert!(pool.pick().is_none());
        assert!(pool.pick().is_none());
        assert_eq!(
            BUILDS.load(Ordering::SeqCst) - before,
            1,
            "one try a minute"
        );
        assert_eq!(warned.load(Ordering::SeqCst), 2);
        // A minute later.
        let mut slots = pool.slots.lock().expect("not poisoned");
        if let Some(Some(Started::Failed { at, .. })) = slots.started.first_mut() {
            *at = at.checked_sub(RETRY_AFTER).expect("up for a minute");
        }
        drop(slots);
        assert!(pool.pick().is_none());
        assert_eq!(BUILDS.load(Ordering::SeqCst) - before, 2);
    }

    /// Counts the warnings it is given.
    struct Warned(std::sync::Arc<AtomicU32>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warned {
        fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            if *e.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
