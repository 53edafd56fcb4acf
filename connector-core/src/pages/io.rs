//! Where walks' fetch chains run: [`set_io_runtime`], the host's choice, and the process's
//! pool of I/O runtimes (`connectors-io`) that [`IoRuntime::Auto`] uses.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind, Result};

/// Where [`read_ahead_on_thread`](super::read_ahead_on_thread) and
/// [`read_ahead_converting`](super::read_ahead_converting) run a walk's fetch chain (the
/// requests, the responses' parse, the timers and connections these open); chosen for the
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
    /// 4 from 16). Each walk is pinned to the one with the fewest live walks (blind to their
    /// weight), and the walks on one runtime take turns on its thread: past `N` cores' worth
    /// of fetching the walks wait for each other, and a host that needs more chooses
    /// [`Handle`](Self::Handle). A connection is driven by the runtime of the walk that
    /// opened it: walks on one HTTP client that reuse its pooled connections (or share one
    /// HTTP/2 connection) have their transport done by that runtime's thread, whichever
    /// runtime their own fetch chain is pinned to. Below two cores, as
    /// [`Caller`](Self::Caller). The default.
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
    /// runtime sized as the host wishes, or a single-threaded one that a thread drives for as
    /// long as walks may use it. A `current_thread` runtime runs its tasks only while some
    /// thread is inside its `block_on`: give one that a thread drives for the life of the
    /// process (`std::thread::spawn(move || rt.block_on(std::future::pending::<()>()))`), or
    /// the caller's own (then as [`Caller`](Self::Caller)); one that nothing drives leaves
    /// every walk waiting, with no error ([`set_io_runtime`] warns when given one).
    ///
    /// What the walks open there (connections, their pools' tasks) lives as long as that
    /// runtime; once it is shut down, walks on it end with an [`ErrorKind::Cancelled`] error
    /// that says so, until the host chooses again ([`set_io_runtime`] replaces a `Handle`;
    /// walks already built keep theirs). In a child process `fork`ed after the choice, the
    /// handle has no thread: walks there run as [`Auto`](Self::Auto) (warned once) until the
    /// child chooses again, with a runtime it built.
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

/// Chooses where walks' fetch chains run, for the whole process (see [`IoRuntime`]), from the
/// next walk built on; a walk keeps the runtime it was built with. Call it before the first
/// walk: the first call to [`read_ahead_on_thread`](super::read_ahead_on_thread) or
/// [`read_ahead_converting`](super::read_ahead_converting) fixes the choice, to
/// [`IoRuntime::Auto`] when none was set.
///
/// [`IoRuntime::Auto`] and [`IoRuntime::Caller`] are made once per process: a walk may
/// already have taken them, and a host that sets a choice too late learns it from the error
/// rather than from walks split between two runtimes. An [`IoRuntime::Handle`] can be replaced
/// (by any choice), so a host that shuts its runtime down and builds another (a reload, a
/// restart) chooses again; walks built before keep the old one and end with an
/// [`ErrorKind::Cancelled`] error once it is shut down. A choice made in another process (the
/// parent, before a `fork`) can be replaced in the child.
///
/// The choice is the process's: in a test binary, where tests share the process, choose a
/// runtime that outlives every test (a `static` `LazyLock<Runtime>`) or run the test in a
/// binary of its own; a test's own runtime is shut down at its end, and later walks of other
/// tests on it would end `Cancelled`.
///
/// # Errors
/// [`ErrorKind::Config`] when [`IoRuntime::Auto`] or [`IoRuntime::Caller`] was already chosen
/// in this process, by an earlier call or by a walk; the choice in force is kept.
///
/// ```
/// use connector_core::pages::{IoRuntime, set_io_runtime};
/// # fn demo(host: tokio::runtime::Handle) -> connector_core::Result<()> {
/// set_io_runtime(IoRuntime::Handle(host))?;
/// # Ok(()) }
/// ```
pub fn set_io_runtime(choice: IoRuntime) -> Result<()> {
    if let IoRuntime::Handle(handle) = &choice
        && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
    {
        tracing::warn!(
            "the I/O runtime chosen is single-threaded: it runs walks only while a thread is inside its `block_on`, keep one there for the life of the process"
        );
    }
    CHOICE.set(choice, std::process::id())
}

static CHOICE: Choice = Choice(Mutex::new(None));

/// The process's choice, and the process it was made in.
struct Choice(Mutex<Option<(u32, IoRuntime)>>);

impl Choice {
    fn chosen(&self) -> MutexGuard<'_, Option<(u32, IoRuntime)>> {
        // Nothing is left half-written under the lock.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `choice` from now on in process `pid`, unless `Auto` or `Caller` is already chosen in it.
    fn set(&self, choice: IoRuntime, pid: u32) -> Result<()> {
        let mut chosen = self.chosen();
        match &*chosen {
            Some((by, made @ (IoRuntime::Auto | IoRuntime::Caller))) if *by == pid => {
                Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the I/O runtime is already chosen ({}): choose it once, before the first walk (only a Handle can be replaced)",
                        made.name()
                    ),
                ))
            }
            _ => {
                *chosen = Some((pid, choice));
                Ok(())
            }
        }
    }

    /// The choice for a walk built now in process `pid` (read only when needed: `getpid` is
    /// a system call), [`IoRuntime::Auto`] from now on if none was made. A `Handle` chosen in
    /// another process (before a `fork`) has no thread here (a task spawned on it would wait
    /// forever): `Auto`, whose pool starts runtimes of the child's, until the child chooses.
    fn get(&self, pid: fn() -> u32) -> IoRuntime {
        let choice = match &mut *self.chosen() {
            Some((by, IoRuntime::Handle(handle))) => {
                let pid = pid();
                if *by == pid {
                    return IoRuntime::Handle(handle.clone());
                }
                pid
            }
            Some((_, choice)) => return choice.clone(),
            chosen @ None => {
                *chosen = Some((pid(), IoRuntime::Auto));
                return IoRuntime::Auto;
            }
        };
        // After the lock: a host's layer may do anything.
        if WARNED_IN.swap(choice, Ordering::Relaxed) != choice {
            tracing::warn!(
                "the I/O runtime chosen with `set_io_runtime` belongs to the parent process: walks run on the default (Auto) until the child chooses again"
            );
        }
        IoRuntime::Auto
    }
}

/// The process last warned that it is a child of the process that chose a `Handle`.
static WARNED_IN: AtomicU32 = AtomicU32::new(0);

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
        match CHOICE.get(std::process::id) {
            IoRuntime::Auto if cores() >= 2 => Self::Pool(io_pool()),
            IoRuntime::Auto | IoRuntime::Caller => Self::Caller,
            IoRuntime::Handle(handle) => Self::Runtime(handle),
        }
    }

    /// The runtime a walk polled first on `caller` is driven on, and the count of the pool
    /// slot's walks it is in: the driver keeps the guard until it ends.
    pub(super) fn runtime(&self, caller: &Handle) -> (Handle, Option<Walking>) {
        match self {
            Self::Pool(pool) => pool.pick().unwrap_or_else(|| (caller.clone(), None)),
            Self::Caller => (caller.clone(), None),
            Self::Runtime(handle) => (handle.clone(), None),
        }
    }

    /// Why a walk's driver ended without a word: its runtime shut down under it.
    pub(super) fn stopped(&self) -> &'static str {
        match self {
            Self::Runtime(_) => {
                "the I/O runtime chosen with `set_io_runtime` is shut down: the read-ahead stopped before the pages ended (choose a running one)"
            }
            Self::Pool(_) | Self::Caller => "the read-ahead stopped before the pages ended",
        }
    }
}

/// One live walk of a pool's slot, counted until the walk's driver drops it.
#[derive(Debug)]
pub(super) struct Walking(&'static AtomicUsize);

impl Drop for Walking {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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

/// The most blocking threads (DNS lookups) an I/O runtime keeps.
const MAX_BLOCKING: usize = 16;

/// How long a failed start keeps walks on their callers' runtimes before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// An I/O runtime: single-threaded, with one blocking thread started at once and kept (its
/// idle threads live a year), so a DNS lookup when the process is out of threads (at
/// `pids.max`) is queued for it instead of panicking in `spawn_blocking`. At most 16 of them
/// (more lookups at once wait their turn), and those a burst of lookups started stay for the
/// process's life: up to 16 threads per I/O runtime, each counted against `pids.max`. Under
/// `panic = "abort"`, a process at its thread limit when a runtime starts (its thread made,
/// its first blocking thread not) aborts in tokio's `spawn_blocking`, as the first DNS lookup
/// would.
pub(super) fn io_runtime() -> std::io::Result<Runtime> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(IO_BLOCKING)
        .max_blocking_threads(MAX_BLOCKING)
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
    /// Told when a slot's start is done, for the walks that wait for it.
    started: Condvar,
    /// Each slot's live walks, counted down by their [`Walking`] guards (not with one slot).
    walks: Box<[AtomicUsize]>,
}

#[derive(Debug, Default)]
struct Slots {
    /// Where the search for the slot with the fewest walks starts, so ties go round.
    next: usize,
    started: Vec<Option<Started>>,
}

/// A slot's last start, in the process it was made in.
#[derive(Clone, Debug)]
enum Started {
    /// `alive` until the runtime's thread ends (a panic of tokio's driver).
    Running {
        pid: u32,
        handle: Handle,
        alive: Arc<AtomicBool>,
    },
    Failed {
        pid: u32,
        at: Instant,
    },
    /// A walk is starting it, the pool's lock released meanwhile.
    Starting {
        pid: u32,
    },
}

/// What a walk does with a slot.
#[derive(Debug)]
enum Reuse {
    Use(Handle),
    /// Its start failed less than [`RETRY_AFTER`] ago: the caller's runtime.
    Fallback,
    /// Another walk is starting it.
    Wait,
    Start,
}

/// Whether the slot's last start serves process `pid` at `now`. A runtime started before a
/// `fork` has no thread in the child (a task spawned there would wait forever), so the child
/// starts its own; so does a slot whose thread ended (its runtime shut down with it); a
/// failure is tried again after [`RETRY_AFTER`].
fn reuse(started: Option<&Started>, pid: u32, now: Instant) -> Reuse {
    match started {
        Some(Started::Running {
            pid: by,
            handle,
            alive,
        }) if *by == pid && alive.load(Ordering::Relaxed) => Reuse::Use(handle.clone()),
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

/// Whether a walk would not be driven on the slot now: its start failed a moment ago, or is
/// under way in another walk.
fn unready(started: Option<&Started>, pid: u32, now: Instant) -> bool {
    resting(started, pid, now)
        || matches!(started, Some(Started::Starting { pid: by }) if *by == pid)
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
            started: Condvar::new(),
            walks: (0..size).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// The runtime of the slot with the fewest live walks (the first from the last one taken,
    /// so ties go round and periodic arrivals do not all land on one; a slot whose start
    /// failed within [`RETRY_AFTER`], or is under way, only when all are), started if it is
    /// not (once per slot and process, the length of a thread's start, blocking the caller
    /// with the pool's lock released: walks that need that slot wait for it), with the walk
    /// counted in it; `None` when it could not start.
    fn pick(&'static self) -> Option<(Handle, Option<Walking>)> {
        let pid = std::process::id();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (i, handle) = loop {
            let now = Instant::now();
            let i = (0..self.size)
                .map(|k| (slots.next + k) % self.size)
                .min_by_key(|&i| {
                    (
                        unready(slots.started[i].as_ref(), pid, now),
                        self.walks[i].load(Ordering::Relaxed),
                    )
                })
                .unwrap_or(0);
            match reuse(slots.started[i].as_ref(), pid, now) {
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
                Reuse::Start => {
                    slots.next = (i + 1) % self.size;
                    slots.started[i] = Some(Started::Starting { pid });
                    drop(slots);
                    let started = start(self.build);
                    slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                    slots.started[i] = Some(match &started {
                        Ok((handle, alive)) => Started::Running {
                            pid,
                            handle: handle.clone(),
                            alive: Arc::clone(alive),
                        },
                        Err(_) => Started::Failed {
                            pid,
                            at: Instant::now(),
                        },
                    });
                    self.started.notify_all();
                    match started {
                        Ok((handle, _)) => break (i, handle),
                        Err(error) => {
                            drop(slots);
                            // After the lock: a host's layer may do anything.
                            tracing::warn!(
                                %error,
                                "the I/O runtime could not start: walks run on their callers' runtimes, tried again in a minute"
                            );
                            return None;
                        }
                    }
                }
            }
        };
        // Counted under the lock, so the next walk sees it. One slot: nothing to balance, the
        // walk's work as before.
        let walking = (self.size > 1).then(|| {
            self.walks[i].fetch_add(1, Ordering::Relaxed);
            Walking(&self.walks[i])
        });
        drop(slots);
        Some((handle, walking))
    }

    /// Slot `i`'s live walks.
    #[cfg(test)]
    pub(super) fn walks(&self, i: usize) -> usize {
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
    let ends = Ends {
        alive: Arc::clone(&alive),
        running: false,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(IO_THREAD.to_owned())
        .spawn(move || {
            let mut ends = ends;
            let runtime = build();
            let _ = tx.send(
                runtime
                    .as_ref()
                    .map(|r| r.handle().clone())
                    .map_err(|e| e.to_string()),
            );
            if let Ok(runtime) = runtime {
                ends.running = true;
                runtime.block_on(std::future::pending::<()>());
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

/// Marks an I/O thread's end, so its slot is started again at the next walk.
struct Ends {
    alive: Arc<AtomicBool>,
    /// Its runtime was built and driven (a failed start is warned by the caller).
    running: bool,
}

impl Drop for Ends {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Relaxed);
        if self.running && std::thread::panicking() {
            tracing::warn!(
                "an I/O runtime's thread ended: its walks end Cancelled, and the next walk starts it again"
            );
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

    fn seven() -> u32 {
        7
    }

    fn eight() -> u32 {
        8
    }

    #[test]
    fn auto_and_caller_are_chosen_once() {
        let choice = Choice(Mutex::new(None));
        choice.set(IoRuntime::Caller, 7).expect("the first choice");
        let err = choice
            .set(IoRuntime::Auto, 7)
            .expect_err("a second choice is refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("Caller"), "{err}");
        assert!(matches!(choice.get(seven), IoRuntime::Caller));

        // A walk's first use fixes the default.
        let walked = Choice(Mutex::new(None));
        assert!(matches!(walked.get(seven), IoRuntime::Auto));
        assert!(walked.set(IoRuntime::Caller, 7).is_err());
        // A child of that process chooses again.
        walked
            .set(IoRuntime::Caller, 8)
            .expect("the child's choice");
        assert!(matches!(walked.get(eight), IoRuntime::Caller));
    }

    /// A host's runtime is replaced after a restart; in a child process (after a `fork`) the
    /// parent's is not used (it has no thread there) until the child chooses again.
    #[tokio::test]
    async fn a_hosts_runtime_is_chosen_again_after_a_restart_or_a_fork() {
        let choice = Choice(Mutex::new(None));
        choice
            .set(IoRuntime::Handle(Handle::current()), 7)
            .expect("the first choice");
        let restarted = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let id = restarted.handle().id();
        choice
            .set(IoRuntime::Handle(restarted.handle().clone()), 7)
            .expect("a Handle is replaced");
        assert!(matches!(choice.get(seven), IoRuntime::Handle(h) if h.id() == id));

        // The child: the default, the choice still open to it.
        assert!(matches!(choice.get(eight), IoRuntime::Auto));
        assert!(matches!(choice.get(eight), IoRuntime::Auto));
        choice
            .set(IoRuntime::Handle(Handle::current()), 8)
            .expect("the child chooses again");
        let current = Handle::current().id();
        assert!(matches!(choice.get(eight), IoRuntime::Handle(h) if h.id() == current));
        choice
            .set(IoRuntime::Caller, 8)
            .expect("a Handle is replaced");
        assert!(choice.set(IoRuntime::Auto, 8).is_err());
        drop(choice);
        // Not in the caller's runtime: dropping a runtime there panics.
        std::thread::spawn(move || drop(restarted))
            .join()
            .expect("dropped");
    }

    /// A runtime started in another process (before a `fork`) is not used: the child would
    /// hand its walks to a thread it does not have.
    #[tokio::test]
    async fn a_runtime_of_another_process_is_started_again() {
        let handle = Handle::current();
        let now = Instant::now();
        let alive = Arc::new(AtomicBool::new(true));
        let running = Started::Running {
            pid: 7,
            handle,
            alive: Arc::clone(&alive),
        };
        assert!(matches!(reuse(Some(&running), 7, now), Reuse::Use(_)));
        assert!(matches!(reuse(Some(&running), 8, now), Reuse::Start));
        assert!(matches!(reuse(None, 7, now), Reuse::Start));
        // Its thread ended (its runtime shut down with it): started again.
        alive.store(false, Ordering::Relaxed);
        assert!(matches!(reuse(Some(&running), 7, now), Reuse::Start));

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
    /// ends (an unwind out of its `block_on`), so its slot is started again.
    #[test]
    fn an_io_thread_that_ended_is_marked() {
        let (_, running) = start(io_runtime).expect("started");
        assert!(running.load(Ordering::Relaxed));

        let alive = Arc::new(AtomicBool::new(true));
        let ends = Ends {
            alive: Arc::clone(&alive),
            running: true,
        };
        let ended = std::thread::spawn(move || {
            let _ends = ends;
            panic!("as if tokio's driver failed");
        })
        .join();
        assert!(ended.is_err());
        assert!(!alive.load(Ordering::Relaxed));
    }

    /// A slot whose start failed a moment ago is passed over while another slot serves, even
    /// a busier one: its walks would run on their callers' runtimes.
    #[test]
    fn walks_pass_a_slot_that_failed_to_start() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(2, io_runtime)));
        let (first, walking) = pool.pick().expect("the first slot started");
        assert_eq!((pool.walks(0), pool.walks(1)), (1, 0));
        pool.slots.lock().expect("not poisoned").started[1] = Some(Started::Failed {
            pid: std::process::id(),
            at: Instant::now(),
        });
        let (second, _also) = pool.pick().expect("the running slot, busier");
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
            let a = s.spawn(|| pool.pick().map(|(h, _)| h.id()));
            let b = s.spawn(|| pool.pick().map(|(h, _)| h.id()));
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
        assert!(pool.pick().is_none());
        assert!(pool.pick().is_none());
        assert_eq!(
            BUILDS.load(Ordering::SeqCst) - before,
            1,
            "one try a minute"
        );
        assert_eq!(warned.load(Ordering::SeqCst), 1);
        // Warned with the pool's lock released.
        assert!(pool.slots.try_lock().is_ok());
        // A minute later.
        let mut slots = pool.slots.lock().expect("not poisoned");
        if let Some(Some(Started::Failed { at, .. })) = slots.started.first_mut() {
            *at = at.checked_sub(RETRY_AFTER).expect("up for a minute");
        }
        drop(slots);
        assert!(pool.pick().is_none());
        assert_eq!(BUILDS.load(Ordering::SeqCst) - before, 2);
        assert_eq!(warned.load(Ordering::SeqCst), 2);
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
