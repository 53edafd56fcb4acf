//! The process's pool of I/O runtimes (`connectors-io`) that
//! [`IoRuntime::Auto`](super::IoRuntime::Auto) uses: each started on a thread of its own as
//! walks need it, kept, and picked least-loaded.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};

/// One live walk of a pool's slot, counted until the walk's driver drops it.
#[derive(Debug)]
pub(in crate::pages) struct Walking(&'static AtomicUsize);

impl Walking {
    /// Whether this is the only live walk on its runtime: its driver may then do CPU work
    /// while it would otherwise wait (a page's conversion), stalling no other walk's fetches
    /// on it; what else the thread drives (connections other walks reuse, a rate gate's
    /// database connections) still waits, and a walk picked just after the check waits for
    /// that one conversion.
    pub(in crate::pages) fn alone(&self) -> bool {
        self.0.load(Ordering::Relaxed) <= 1
    }
}

impl Drop for Walking {
    fn drop(&mut self) {
        // Saturating: a count is zeroed in a forked child (no guard of the parent drops there),
        // and a mistake must not wrap it to the most walks.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// `available_parallelism`, read once (1 when unknown). On one core the I/O thread and the
/// runtime's worker take turns, a context switch per page handed over (measured on
/// `taskset -c 0`: 1.02x the wall and 1.05x the task-clock of a task), so
/// [`IoRuntime::Auto`](super::IoRuntime::Auto) drives walks on their caller's runtime there.
pub(super) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The pool's size on `cores` cores: a quarter of them, between 1 and 4. Two cores keep the one
/// thread measured there; a many-core host running many walks is not held to one.
fn pool_size(cores: usize) -> usize {
    (cores / 4).clamp(1, 4)
}

/// The process's pool ([`IoRuntime::Auto`](super::IoRuntime::Auto)).
pub(in crate::pages) fn io_pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(pool_size(cores()), io_runtime))
}

/// The name of an I/O runtime's thread, and of its blocking threads (DNS lookups): Linux
/// keeps 15 characters of a thread's name.
const IO_THREAD: &str = "connectors-io";
const IO_BLOCKING: &str = "connectors-io-b";

/// The most blocking threads (DNS lookups) an I/O runtime keeps.
const MAX_BLOCKING: usize = 16;

/// How long a failed start, or a thread that ended less than this after its start, keeps
/// walks off its slot (on the others, or on their callers' runtimes) before the next try; not
/// in a forked child of a `Handle` host that has not chosen (`Pool::pick`'s `eager`), whose
/// walks have no runtime to fall back on.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(60);

/// An I/O runtime: single-threaded, with one blocking thread started at once and kept (its
/// idle threads live a year), so a DNS lookup when the process is out of threads (at
/// `pids.max`) is queued for it instead of panicking in `spawn_blocking`. At most 16 of them
/// (more lookups at once wait their turn), and those a burst of lookups started stay for the
/// process's life: up to 16 threads per I/O runtime, each counted against `pids.max`. Under
/// `panic = "abort"`, a process at its thread limit when a runtime starts (its thread made,
/// its first blocking thread not) aborts in tokio's `spawn_blocking`, as the first DNS lookup
/// would.
pub(in crate::pages) fn io_runtime() -> std::io::Result<Runtime> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(IO_BLOCKING)
        .max_blocking_threads(MAX_BLOCKING)
        .thread_keep_alive(Duration::from_secs(365 * 24 * 60 * 60))
        .build()?;
    drop(runtime.spawn_blocking(|| ()));
    Ok(runtime)
}

/// Runtimes started as walks need them, each on a thread of its own and kept for the life of
/// the process (one whose thread ended is started again, after a minute's rest if it ended
/// within a minute of its start, except in a forked child of a `Handle` host: see
/// [`pick`](Self::pick)), so what a walk opens on one (an HTTP
/// client's connections and its pool's tasks, a host's pooled database connection opened by a
/// rate gate) outlives the walk and serves the next ones.
#[derive(Debug)]
pub(in crate::pages) struct Pool {
    size: usize,
    build: fn() -> std::io::Result<Runtime>,
    slots: Mutex<Slots>,
    /// Told when a slot's start is done, for the walks that wait for it.
    started: Condvar,
    /// Each slot's live walks in process `Slots::pid`, counted down by their [`Walking`]
    /// guards.
    walks: Box<[AtomicUsize]>,
}

#[derive(Debug, Default)]
struct Slots {
    /// The process the walk counts are of: a forked child inherits the parent's, whose
    /// guards never drop there, and zeroes them.
    pid: u32,
    /// Where the search for the slot with the fewest walks starts, so ties go round.
    next: usize,
    started: Vec<Option<Started>>,
    /// When a failed start was last warned in process `pid`: once a minute, since in a forked
    /// child of a `Handle` host every walk tries the start (see [`Pool::pick`]).
    warned: Option<Instant>,
}

/// A slot's last start, in the process it was made in.
#[derive(Clone, Debug)]
enum Started {
    /// Started `at`, `alive` until the runtime's thread ends (a panic of tokio's driver).
    Running {
        pid: u32,
        handle: Handle,
        alive: Arc<AtomicBool>,
        at: Instant,
    },
    /// Its start failed `at`, or its thread ended then, less than [`RETRY_AFTER`] after its
    /// start.
    Failed { pid: u32, at: Instant },
    /// A walk is starting it, the pool's lock released meanwhile.
    Starting { pid: u32 },
}

/// What a walk does with a slot.
#[derive(Debug)]
enum Reuse {
    Use(Handle),
    /// Its start failed, or its thread ended soon after its start (see `Rest`), less than
    /// [`RETRY_AFTER`] ago: the caller's runtime.
    Fallback,
    /// Another walk is starting it.
    Wait,
    /// Its thread ended less than [`RETRY_AFTER`] after its start: it rests as a failed
    /// start from now, rather than being started again at every walk.
    Rest,
    Start,
}

/// Whether the slot's last start serves process `pid` at `now`. A runtime started before a
/// `fork` has no thread in the child (a task spawned there would wait forever), so the child
/// starts its own; so does a slot whose thread ended (its runtime shut down with it) at least
/// [`RETRY_AFTER`] after its start; a failure is tried again after [`RETRY_AFTER`].
fn reuse(started: Option<&Started>, pid: u32, now: Instant) -> Reuse {
    match started {
        Some(Started::Running {
            pid: by,
            handle,
            alive,
            at,
        }) if *by == pid => {
            if alive.load(Ordering::Acquire) {
                Reuse::Use(handle.clone())
            } else if now.saturating_duration_since(*at) < RETRY_AFTER {
                Reuse::Rest
            } else {
                Reuse::Start
            }
        }
        Some(failed) if resting(Some(failed), pid, now) => Reuse::Fallback,
        Some(Started::Starting { pid: by }) if *by == pid => Reuse::Wait,
        _ => Reuse::Start,
    }
}

/// Whether the slot's start failed in process `pid` less than [`RETRY_AFTER`] before `now`.
fn resting(started: Option<&Started>, pid: u32, now: Instant) -> bool {
    matches!(started, Some(Started::Failed { pid: by, at })
        if *by == pid && now.saturating_duration_since(*at) < RETRY_AFTER)
}

/// Whether the slot's last start failed at `since` or later (while a walk that began then
/// waited for it).
fn failed_since(started: Option<&Started>, since: Instant) -> bool {
    matches!(started, Some(Started::Failed { at, .. }) if *at >= since)
}

/// Whether a walk would not be driven on the slot now: its start failed a moment ago, or is
/// under way in another walk; or, for an `eager` walk (which starts a resting slot itself
/// rather than marking it failed and choosing again), its thread ended young (review36 F3: a
/// healthy slot is then chosen first, and only a pool with no other slot restarts it).
fn unready(started: Option<&Started>, pid: u32, now: Instant, eager: bool) -> bool {
    resting(started, pid, now)
        || matches!(started, Some(Started::Starting { pid: by }) if *by == pid)
        || (eager && matches!(reuse(started, pid, now), Reuse::Rest))
}

impl Pool {
    /// `size` runtimes (at least one), each built by `build` on its thread when first needed.
    pub(in crate::pages) fn new(size: usize, build: fn() -> std::io::Result<Runtime>) -> Self {
        let size = size.max(1);
        Self {
            size,
            build,
            slots: Mutex::new(Slots {
                pid: 0,
                next: 0,
                started: vec![None; size],
                warned: None,
            }),
            started: Condvar::new(),
            walks: (0..size).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// The runtime of the slot with the fewest live walks (the first from the last one taken,
    /// so ties go round and periodic arrivals do not all land on one; a slot whose start
    /// failed within [`RETRY_AFTER`], or is under way, only when all are), started if it is
    /// not (once per slot and process, the length of a thread's start, blocking the caller
    /// with the pool's lock released: walks that need that slot wait for it), with the walk
    /// counted in it; `None` when it could not start, or rests.
    ///
    /// `eager` (a forked child of a `Handle` host that has not chosen, whose walks have no
    /// runtime to fall back on): no rest, a slot that failed or whose thread ended young is
    /// started again by this walk, unless a start failed while this walk waited for it (that
    /// failure is this walk's answer too: the walks waiting on one start do not each start it
    /// again in turn). At `pids.max` a thread's start fails in microseconds; a thread that dies
    /// young again fails only a walk that would have failed anyway (a healthy slot is chosen
    /// before one whose thread ended young). A failed start is warned once a minute; but at
    /// the `pids.max` margin, where the runtime's thread starts and its first blocking thread
    /// does not, tokio's `spawn_blocking` panics in the new thread, and that panic reaches the
    /// panic hook (stderr, a host's reporter) at each walk's try, not once a minute; under
    /// `panic = "abort"` it aborts the child (review36 F4, left as documented).
    pub(super) fn pick(&'static self, eager: bool) -> Option<(Handle, Option<Walking>)> {
        let pid = std::process::id();
        // Read only when eager: a parent's walks pay nothing for it.
        let began = eager.then(Instant::now);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.pid != pid {
            // The first pick of this process: a forked child's counts are its parent's.
            slots.pid = pid;
            slots.warned = None;
            for walks in &self.walks {
                walks.store(0, Ordering::Relaxed);
            }
        }
        let (i, handle) = loop {
            let now = Instant::now();
            let i = (0..self.size)
                .map(|k| (slots.next + k) % self.size)
                .min_by_key(|&i| {
                    (
                        unready(slots.started[i].as_ref(), pid, now, began.is_some()),
                        self.walks[i].load(Ordering::Relaxed),
                    )
                })
                .unwrap_or(0);
            let reuse = match reuse(slots.started[i].as_ref(), pid, now) {
                Reuse::Fallback | Reuse::Rest
                    if began.is_some_and(|t| !failed_since(slots.started[i].as_ref(), t)) =>
                {
                    Reuse::Start
                }
                reuse => reuse,
            };
            match reuse {
                Reuse::Use(handle) => {
                    slots.next = (i + 1) % self.size;
                    break (i, handle);
                }
                Reuse::Fallback => {
                    slots.next = (i + 1) % self.size;
                    return None;
                }
                Reuse::Wait => {
                    slots = self
                        .started
                        .wait(slots)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                // Its thread warned; choose again with the slot resting.
                Reuse::Rest => slots.started[i] = Some(Started::Failed { pid, at: now }),
                Reuse::Start => {
                    slots.next = (i + 1) % self.size;
                    slots.started[i] = Some(Started::Starting { pid });
                    drop(slots);
                    // An unwind here would leave the slot `Starting` and its waiters waiting
                    // for ever: a failed start instead (there is no panic in `start` today).
                    let build = self.build;
                    let started =
                        std::panic::catch_unwind(move || start(build)).unwrap_or_else(|panic| {
                            Err(format!("its start panicked: {}", panic_message(&*panic)))
                        });
                    slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                    let at = Instant::now();
                    slots.started[i] = Some(match &started {
                        Ok((handle, alive)) => Started::Running {
                            pid,
                            handle: handle.clone(),
                            alive: Arc::clone(alive),
                            at,
                        },
                        Err(_) => Started::Failed { pid, at },
                    });
                    self.started.notify_all();
                    match started {
                        Ok((handle, _)) => break (i, handle),
                        Err(error) => {
                            let warn = slots
                                .warned
                                .is_none_or(|t| at.saturating_duration_since(t) >= RETRY_AFTER);
                            if warn {
                                slots.warned = Some(at);
                            }
                            drop(slots);
                            // After the lock: a host's layer may do anything.
                            if warn && eager {
                                tracing::warn!(
                                    %error,
                                    "the I/O runtime could not start: in this forked child of a `Handle` host that has not chosen, the walk ends with a retryable error and the next walk tries the start again (warned once a minute)"
                                );
                            } else if warn {
                                tracing::warn!(
                                    %error,
                                    "the I/O runtime could not start: walks run on their callers' runtimes, tried again in a minute"
                                );
                            }
                            return None;
                        }
                    }
                }
            }
        };
        // Counted under the lock, so the next walk sees it; with one slot too, where nothing is
        // balanced but a walk's driver asks whether it is alone ([`Walking::alone`]).
        self.walks[i].fetch_add(1, Ordering::Relaxed);
        let walking = Some(Walking(&self.walks[i]));
        drop(slots);
        Some((handle, walking))
    }

    /// Whether `handle` is one of this pool's runtimes with its thread running: not once the
    /// thread ended (read when a walk on it stopped, so not per walk).
    pub(super) fn serves(&self, handle: &Handle) -> bool {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.started.iter().any(|started| {
            matches!(started, Some(Started::Running { handle: h, alive, .. })
                if h.id() == handle.id() && alive.load(Ordering::Acquire))
        })
    }

    /// Slot `i`'s live walks.
    #[cfg(test)]
    pub(in crate::pages) fn walks(&self, i: usize) -> usize {
        self.walks[i].load(Ordering::Relaxed)
    }
}

/// A runtime built by `build` on a thread of its own ([`IO_THREAD`]) that drives it forever,
/// and a flag that is `false` once that thread ended (a panic of tokio's driver: warned); why
/// not when the thread or the runtime could not be started. Built on its thread: a runtime
/// that failed to start is dropped there, not in the caller's runtime (where dropping one
/// panics).
fn start(
    build: fn() -> std::io::Result<Runtime>,
) -> std::result::Result<(Handle, Arc<AtomicBool>), String> {
    let alive = Arc::new(AtomicBool::new(true));
    let ends = Ends(Arc::clone(&alive));
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(IO_THREAD.to_owned())
        .spawn(move || {
            let ends = ends;
            let runtime = build();
            let _ = tx.send(
                runtime
                    .as_ref()
                    .map(|r| r.handle().clone())
                    .map_err(|e| e.to_string()),
            );
            if let Ok(runtime) = runtime {
                drive(ends, runtime, std::future::pending());
            }
        });
    match spawned {
        // The thread's end without a word is its panic.
        Ok(_) => rx
            .recv()
            .unwrap_or_else(|_| Err("its thread ended".to_owned()))
            .map(|handle| (handle, alive)),
        Err(e) => Err(format!("no thread: {e}")),
    }
}

/// Drives `runtime` on this thread until `until` ends (never, for an I/O thread) or a panic
/// comes out of its `block_on` (tokio's driver failing), which is caught here; then, not
/// unwinding, in this order: the end is marked (`ends`, so the slot is started again or rests),
/// the panic is warned with its payload (a panic in the warn, a host's layer's, is caught too),
/// and the runtime is dropped. The flag comes before the
/// drop because the drop waits for the runtime's blocking threads (a DNS lookup in flight):
/// meanwhile a slot still marked alive with no walk left would take every new walk, only to
/// have it refused. The drop is not made while unwinding because it drops every task (the
/// walks' drivers, in the callers' spans, and what they opened: a host's layers and futures
/// run there): a panic escaping it then would abort the process; here it ends this thread.
fn drive(ends: Ends, runtime: Runtime, until: impl Future<Output = ()>) {
    let ended = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(until)));
    drop(ends);
    if let Err(panic) = &ended {
        // A host's layer that panics here is not let unwind into the runtime's drop either.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
            tracing::warn!(
                panic = panic_message(&**panic),
                "an I/O runtime's thread ended: its walks end Cancelled, and the next walks go to the other I/O runtimes or their callers' runtimes, for a minute if it ran for less (in a forked child of a `Handle` host that has not chosen, the next walk starts it again)"
            );
        }));
    }
    // Its tasks (the walks' drivers) are dropped here, after the mark.
    drop(runtime);
}

/// A panic's message, when it has one (`panic!`'s payload is a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a message)")
}

/// Marks an I/O thread's end when dropped: at the end of [`drive`], or when the thread ends
/// before (its runtime failed to build, or `build` panicked), so its slot is started again (or
/// rests).
struct Ends(Arc<AtomicBool>);

impl Drop for Ends {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::pages::io::On;

    #[test]
    fn the_pool_is_a_quarter_of_the_cores_between_one_and_four() {
        let sizes: Vec<usize> = [1, 2, 4, 7, 8, 12, 16, 64].map(pool_size).into();
        assert_eq!(sizes, [1, 1, 1, 1, 2, 3, 4, 4]);
    }

    /// A runtime started in another process (before a `fork`) is not used: the child would
    /// hand its walks to a thread it does not have.
    #[tokio::test]
    async fn a_runtime_of_another_process_is_started_again() {
        let handle = Handle::current();
        let now = Instant::now();
        let alive = Arc::new(AtomicBool::new(true));
        let running = |at| Started::Running {
            pid: 7,
            handle: handle.clone(),
            alive: Arc::clone(&alive),
            at,
        };
        let young = running(now);
        assert!(matches!(reuse(Some(&young), 7, now), Reuse::Use(_)));
        assert!(matches!(reuse(Some(&young), 8, now), Reuse::Start));
        assert!(matches!(reuse(None, 7, now), Reuse::Start));
        // Its thread ended (its runtime shut down with it): started again, unless it ended
        // within a minute of its start, when it rests first.
        alive.store(false, Ordering::Relaxed);
        assert!(matches!(reuse(Some(&young), 7, now), Reuse::Rest));
        let old = running(now.checked_sub(RETRY_AFTER).expect("up for a minute"));
        assert!(matches!(reuse(Some(&old), 7, now), Reuse::Start));
        assert!(matches!(reuse(Some(&young), 8, now), Reuse::Start));

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

    /// A started runtime's flag stands while its thread drives it, and falls when the thread
    /// ends (a panic out of its `block_on`, caught), so its slot is started again: before the
    /// runtime's drop, which waits for its blocking threads (a DNS lookup in flight), so that
    /// meanwhile the slot, alive with no walk left, does not take every new walk. The runtime
    /// is dropped after the catch, not while unwinding: a panic in a task's drop there, or in a
    /// layer's warn, cannot abort the process; the warn carries the panic's message.
    #[test]
    fn an_io_thread_that_ended_is_marked_before_its_runtime_drops() {
        let (_, running) = start(io_runtime).expect("started");
        assert!(running.load(Ordering::Relaxed));

        let runtime = io_runtime().expect("a runtime");
        let (looking_up, looks_up) = std::sync::mpsc::channel();
        let (answer, answered) = std::sync::mpsc::channel::<()>();
        drop(runtime.spawn_blocking(move || {
            let _ = looking_up.send(());
            // Bounded, so a regression fails rather than hangs.
            let _ = answered.recv_timeout(Duration::from_secs(30));
        }));
        looks_up
            .recv_timeout(Duration::from_secs(10))
            .expect("the lookup runs");
        // A task whose drop panics in the teardown, and a layer that panics on the warn.
        drop(runtime.spawn(async {
            let _panics = PanicsOnDrop;
            std::future::pending::<()>().await;
        }));
        let alive = Arc::new(AtomicBool::new(true));
        let ends = Ends(Arc::clone(&alive));
        let warned = Arc::new(Mutex::new(String::new()));
        let layer = Panicking(Arc::clone(&warned));
        let ended = std::thread::spawn(move || {
            use tracing_subscriber::layer::SubscriberExt as _;
            let _subscriber =
                tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
            drive(ends, runtime, async {
                panic!("as if tokio's driver failed")
            });
        });
        // With the runtime dropped first, the flag would stand until the lookup ends.
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            !alive.load(Ordering::Acquire),
            "marked while the lookup runs"
        );
        answer.send(()).expect("the lookup waits");
        // The driver's panic, the layer's and the task's drop's are caught: the thread ends as
        // itself, and the process lives on.
        ended.join().expect("no panic escapes the teardown");
        let warned = warned.lock().expect("not poisoned").clone();
        assert!(warned.contains("as if tokio's driver failed"), "{warned}");
    }

    /// Keeps the fields of the events it is given, then panics (a host's layer gone wrong).
    struct Panicking(Arc<Mutex<String>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Panicking {
        fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            struct Fields<'a>(&'a mut String);
            impl tracing::field::Visit for Fields<'_> {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={v:?} ", f.name()));
                }
            }
            e.record(&mut Fields(&mut self.0.lock().expect("not poisoned")));
            panic!("a host's layer panicked");
        }
    }

    /// Panics when dropped.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a task's drop panicked");
        }
    }

    /// A slot whose thread ended within a minute of its start rests as a failed start, from
    /// when a walk saw it: walks go to another slot, or to their callers with one slot, instead
    /// of starting a thread that may die again at every walk; past its first minute it is
    /// started again at once.
    #[test]
    fn a_slot_whose_thread_ended_soon_after_its_start_rests() {
        let dead = |at| Started::Running {
            pid: std::process::id(),
            handle: io_runtime().expect("a runtime").handle().clone(),
            alive: Arc::new(AtomicBool::new(false)),
            at,
        };
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(2, io_runtime)));
        pool.slots.lock().expect("not poisoned").started[0] = Some(dead(Instant::now()));
        let (_, _walking) = pool.pick(false).expect("the other slot");
        let slots = pool.slots.lock().expect("not poisoned");
        assert!(matches!(slots.started[0], Some(Started::Failed { .. })));
        assert!(matches!(slots.started[1], Some(Started::Running { .. })));
        drop(slots);
        assert_eq!((pool.walks(0), pool.walks(1)), (0, 1));

        let alone: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        alone.slots.lock().expect("not poisoned").started[0] = Some(dead(Instant::now()));
        assert!(alone.pick(false).is_none(), "the caller's runtime");
        assert!(alone.pick(false).is_none(), "still resting");
        let long_ago = Instant::now()
            .checked_sub(RETRY_AFTER)
            .expect("up for a minute");
        alone.slots.lock().expect("not poisoned").started[0] = Some(dead(long_ago));
        assert!(alone.pick(false).is_some(), "started again");
    }

    /// A forked child's pool holds the parent's walk counts, whose guards never drop there:
    /// its first pick zeroes them (a pid that is not this process's stands for the parent).
    /// A guard never takes a count below zero.
    #[test]
    fn a_forked_child_does_not_count_its_parents_walks() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(2, io_runtime)));
        pool.slots.lock().expect("not poisoned").pid = std::process::id().wrapping_add(1);
        pool.walks[0].store(5, Ordering::Relaxed);
        pool.walks[1].store(3, Ordering::Relaxed);
        let (_, walking) = pool.pick(false).expect("started");
        assert_eq!((pool.walks(0), pool.walks(1)), (1, 0));
        pool.walks[0].store(0, Ordering::Relaxed);
        drop(walking);
        assert_eq!(pool.walks(0), 0);
    }

    /// A walk that stopped without a word on a pool's runtime says an I/O thread ended when
    /// it did: not for a runtime that still serves, nor for a walk on its caller's runtime.
    #[tokio::test]
    async fn a_walk_stopped_by_an_ended_io_thread_says_so() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        let (serving, _) = pool.pick(false).expect("started");
        let caller = Handle::current();
        let on = On::Pool(pool);
        let generic = "the read-ahead stopped before the pages ended";
        assert_eq!(on.stopped(&serving, caller.id()), generic);
        assert_eq!(on.stopped(&caller, caller.id()), generic);
        if let Some(Some(Started::Running { alive, .. })) =
            pool.slots.lock().expect("not poisoned").started.first()
        {
            alive.store(false, Ordering::Release);
        }
        assert!(
            on.stopped(&serving, caller.id())
                .contains("I/O runtime's thread (`connectors-io`) ended"),
        );
    }

    /// A slot whose start failed a moment ago is passed over while another slot serves, even
    /// a busier one: its walks would run on their callers' runtimes.
    #[test]
    fn walks_pass_a_slot_that_failed_to_start() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(2, io_runtime)));
        let (first, walking) = pool.pick(false).expect("the first slot started");
        assert_eq!((pool.walks(0), pool.walks(1)), (1, 0));
        pool.slots.lock().expect("not poisoned").started[1] = Some(Started::Failed {
            pid: std::process::id(),
            at: Instant::now(),
        });
        let (second, _also) = pool.pick(false).expect("the running slot, busier");
        assert_eq!(second.id(), first.id());
        assert_eq!(pool.walks(0), 2);
        drop(walking);
        assert_eq!(pool.walks(0), 1);
    }

    static UNDER_TEST: OnceLock<&'static Pool> = OnceLock::new();
    static FREE_WHILE_STARTING: AtomicBool = AtomicBool::new(false);

    fn checking() -> std::io::Result<Runtime> {
        // The second picker takes the lock for a moment too (review21 N5): free if any try
        // within a second finds it so; only a lock held across the whole start fails.
        let deadline = Instant::now() + Duration::from_secs(1);
        let free = UNDER_TEST.get().is_some_and(|p| {
            loop {
                if p.slots.try_lock().is_ok() {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        FREE_WHILE_STARTING.store(free, Ordering::SeqCst);
        io_runtime()
    }

    /// A slot starts with the pool's lock released (other walks are not held behind it, and a
    /// `fork` meanwhile does not leave the child a lock held), and a second walk meanwhile
    /// waits for it rather than starting it twice.
    #[test]
    fn a_slot_starts_with_the_lock_released() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, checking)));
        UNDER_TEST.set(pool).expect("one pool");
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| pool.pick(false).map(|(h, _)| h.id()));
            let b = s.spawn(|| pool.pick(false).map(|(h, _)| h.id()));
            (a.join().expect("a"), b.join().expect("b"))
        });
        assert!(a.is_some() && a == b, "{a:?} {b:?}");
        assert!(FREE_WHILE_STARTING.load(Ordering::SeqCst));
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
        assert!(start(failing).is_err());
        assert!(start(io_runtime).is_ok());

        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, failing)));
        let before = BUILDS.load(Ordering::SeqCst);
        assert!(pool.pick(false).is_none());
        assert!(pool.pick(false).is_none());
        assert_eq!(
            BUILDS.load(Ordering::SeqCst) - before,
            1,
            "one try a minute"
        );
        assert_eq!(warned.load(Ordering::SeqCst), 1);
        // Warned with the pool's lock released.
        assert!(pool.slots.try_lock().is_ok());
        // A minute later.
        a_minute_ago(pool);
        assert!(pool.pick(false).is_none());
        assert_eq!(BUILDS.load(Ordering::SeqCst) - before, 2);
        assert_eq!(warned.load(Ordering::SeqCst), 2);
    }

    /// Moves `pool`'s failed starts and its last warn a minute back.
    fn a_minute_ago(pool: &Pool) {
        let mut slots = pool.slots.lock().expect("not poisoned");
        let back = |t: Instant| t.checked_sub(RETRY_AFTER).expect("up for a minute");
        if let Some(Some(Started::Failed { at, .. })) = slots.started.first_mut() {
            *at = back(*at);
        }
        slots.warned = slots.warned.map(back);
    }

    static FLAKY_BUILDS: AtomicU32 = AtomicU32::new(0);

    /// Fails its first two builds (a process at its thread or file limit), then builds.
    fn flaky() -> std::io::Result<Runtime> {
        if FLAKY_BUILDS.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(std::io::Error::other("no thread"));
        }
        io_runtime()
    }

    /// In a forked child of a `Handle` host that has not chosen (`eager`: its walks have no
    /// runtime to fall back on), a failed start does not rest a minute: each walk tries the
    /// start again, so the limit lifting serves the next walk, and the failure is warned once
    /// a minute, not at every walk. A walk that is not eager still finds the slot resting; a
    /// slot whose thread ended young is started again at once too.
    #[test]
    fn a_forked_childs_walks_try_a_failed_start_again_at_once() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let warned = std::sync::Arc::new(AtomicU32::new(0));
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(Warned(std::sync::Arc::clone(&warned))),
        );
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, flaky)));
        assert!(pool.pick(true).is_none(), "the first start fails");
        assert!(
            pool.pick(false).is_none(),
            "resting for a walk with a fallback"
        );
        assert_eq!(FLAKY_BUILDS.load(Ordering::SeqCst), 1);
        assert!(pool.pick(true).is_none(), "tried again at once, and fails");
        assert_eq!(FLAKY_BUILDS.load(Ordering::SeqCst), 2);
        assert_eq!(warned.load(Ordering::SeqCst), 1, "warned once a minute");
        let (handle, _) = pool.pick(true).expect("the limit lifted: started");
        assert_eq!(FLAKY_BUILDS.load(Ordering::SeqCst), 3);
        assert!(pool.serves(&handle));

        let dead = Started::Running {
            pid: std::process::id(),
            handle: io_runtime().expect("a runtime").handle().clone(),
            alive: Arc::new(AtomicBool::new(false)),
            at: Instant::now(),
        };
        let alone: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        alone.slots.lock().expect("not poisoned").started[0] = Some(dead);
        assert!(alone.pick(true).is_some(), "started again at once");
    }

    static COUNTED_BUILDS: AtomicU32 = AtomicU32::new(0);

    /// Builds, counting.
    fn counted() -> std::io::Result<Runtime> {
        COUNTED_BUILDS.fetch_add(1, Ordering::SeqCst);
        io_runtime()
    }

    /// Fails every build.
    fn never() -> std::io::Result<Runtime> {
        Err(std::io::Error::other("no thread"))
    }

    /// The waiter rule of an eager walk (review36 F5): a start that failed after this walk
    /// began (here recorded a second ahead, as a start another walk made while this one
    /// waited) is this walk's answer too, with no start of its own; a failure older than a
    /// minute is started again.
    #[test]
    fn an_eager_walk_takes_a_start_that_failed_while_it_waited_as_its_answer() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, counted)));
        let pid = std::process::id();
        pool.slots.lock().expect("not poisoned").started[0] = Some(Started::Failed {
            pid,
            at: Instant::now() + Duration::from_secs(1),
        });
        assert!(
            pool.pick(true).is_none(),
            "the start that failed is its answer"
        );
        assert_eq!(
            COUNTED_BUILDS.load(Ordering::SeqCst),
            0,
            "no start of its own"
        );
        pool.slots.lock().expect("not poisoned").started[0] = Some(Started::Failed {
            pid,
            at: Instant::now(),
        });
        a_minute_ago(pool);
        let (handle, _) = pool.pick(true).expect("a minute later: started");
        assert_eq!(COUNTED_BUILDS.load(Ordering::SeqCst), 1);
        assert!(pool.serves(&handle));
    }

    /// An eager walk does not restart a slot whose thread ended young while another slot is
    /// healthy (review36 F3), though the dead one has fewer walks: it goes to the healthy one
    /// and builds nothing (`never` would fail the walk).
    #[test]
    fn an_eager_walk_prefers_a_healthy_slot_to_one_that_died_young() {
        let live = io_runtime().expect("a runtime");
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(2, never)));
        let pid = std::process::id();
        {
            let mut slots = pool.slots.lock().expect("not poisoned");
            slots.pid = pid;
            slots.started[0] = Some(Started::Running {
                pid,
                handle: live.handle().clone(),
                alive: Arc::new(AtomicBool::new(true)),
                at: Instant::now(),
            });
            slots.started[1] = Some(Started::Running {
                pid,
                handle: io_runtime().expect("a runtime").handle().clone(),
                alive: Arc::new(AtomicBool::new(false)),
                at: Instant::now(),
            });
        }
        pool.walks[0].store(3, Ordering::Relaxed);
        let (handle, _walking) = pool.pick(true).expect("the healthy slot");
        assert_eq!(handle.id(), live.handle().id());
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
