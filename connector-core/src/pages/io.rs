//! Where walks' fetch chains run: [`set_io_runtime`], the host's choice, and the process's
//! pool of I/O runtimes (`connectors-io`) that [`IoRuntime::Auto`] uses.

use std::any::Any;
use std::panic::AssertUnwindSafe;
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
    /// and kept for the life of the process (one whose thread ended is started again, after a
    /// minute's rest if it ended within a minute of its start), with
    /// `N` a quarter of the cores between 1 and 4 (1 on up to 7 cores, 4 from 16). Each walk
    /// is pinned to the one with the fewest live walks (blind to their weight), and the walks
    /// on one runtime take turns on its thread: past `N` cores' worth of fetching the walks
    /// wait for each other, and a host that needs more chooses [`Handle`](Self::Handle). A
    /// connection is driven by the runtime of the walk that opened it: walks on one HTTP
    /// client that reuse its pooled connections (or share one HTTP/2 connection) have their
    /// transport done by that runtime's thread, whichever runtime their own fetch chain is
    /// pinned to. Below two cores, as [`Caller`](Self::Caller). The default.
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
    /// every walk waiting, with no error. [`set_io_runtime`] warns (once) when given a
    /// single-threaded one, since it cannot tell whether a thread drives it.
    ///
    /// What the walks open there (connections, their pools' tasks) lives as long as that
    /// runtime; once it is shut down, walks on it end with an [`ErrorKind::Cancelled`] error
    /// that says so, until the host chooses its next runtime with [`replace_io_runtime`]
    /// (walks already built keep theirs).
    ///
    /// In a child process `fork`ed after the choice, that runtime has no thread, and its I/O
    /// driver shares its epoll instance with the parent's. Until the child chooses with
    /// [`set_io_runtime`] a runtime it built (warned once), a walk polled on that inherited
    /// runtime (a binding's `static` runtime, its `block_on` called in the child) runs on the
    /// child's own pool, as [`Auto`](Self::Auto) (even on one core): an inherited
    /// multi-threaded runtime's `block_on` runs none of its tasks, so a walk driven there
    /// would wait for ever. A walk polled on another runtime runs there, as
    /// [`Caller`](Self::Caller), which must then be one the child built and drives. Keep the
    /// parent's runtime in the child (`std::mem::forget` it, or leave it in its `static`):
    /// dropping it waits for its worker and blocking threads, which the child does not have,
    /// so the child would hang in the drop.
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

/// Chooses where walks' fetch chains run, for the whole process (see [`IoRuntime`]), once,
/// before the first walk: the first call to
/// [`read_ahead_on_thread`](super::read_ahead_on_thread) or
/// [`read_ahead_converting`](super::read_ahead_converting) fixes the choice, to
/// [`IoRuntime::Auto`] when none was set. A host that set a choice too late, or twice,
/// learns it from the error rather than from walks split between two runtimes. A host that
/// shuts its runtime down and builds another (a reload, a restart) chooses the new one with
/// [`replace_io_runtime`].
///
/// A choice made in another process (the parent, before a `fork`) is the child's until the
/// child chooses: the child may call this once over it, even after its walks ran on the
/// inherited choice.
///
/// Choosing the same again (a `Handle` of the same runtime, by [`Handle::id`], or the same
/// `Auto` or `Caller`) is `Ok` and changes nothing; only a different choice is refused.
///
/// The choice is the process's: in a test binary, where tests share the process, choose a
/// runtime that outlives every test (a `static` `LazyLock<Runtime>`) in one function that
/// every walking test calls before its first walk, or run the test in a binary of its own. A
/// test's own runtime is shut down at its end, and later walks of other tests on it would end
/// `Cancelled`; and a test that walks before any test chose fixes [`IoRuntime::Auto`], so the
/// choosing tests that run after it fail.
///
/// Warns once per process when given a single-threaded `Handle` (see
/// [`IoRuntime::Handle`]).
///
/// # Errors
/// [`ErrorKind::Config`] when a different choice was already made in this process, by an
/// earlier call or by a walk (the error names it); the choice in force is kept.
///
/// ```
/// use connector_core::pages::{IoRuntime, set_io_runtime};
/// # fn demo(host: tokio::runtime::Handle) -> connector_core::Result<()> {
/// set_io_runtime(IoRuntime::Handle(host))?;
/// # Ok(()) }
/// ```
pub fn set_io_runtime(choice: IoRuntime) -> Result<()> {
    let pid = std::process::id();
    let single = single_threaded(&choice);
    CHOICE.set(choice, pid)?;
    warn_single_threaded(single, pid);
    Ok(())
}

/// Replaces the host's runtime chosen with [`set_io_runtime`] ([`IoRuntime::Handle`]) by
/// `choice`, for the next walks built: for a host that shuts its runtime down and builds
/// another (a reload, a restart), or that goes back to [`IoRuntime::Auto`] or
/// [`IoRuntime::Caller`]. Walks built before keep the old runtime, and end with an
/// [`ErrorKind::Cancelled`] error once it is shut down. With no choice made yet (or one made
/// in a parent process, before a `fork`), the same as `set_io_runtime(choice)`.
///
/// Not for tests that each have a runtime of their own: the last call takes the walks of
/// every test running, which then end `Cancelled` (or stall) when that test ends, in another
/// test. A test binary chooses one runtime for all its tests (see [`set_io_runtime`]).
///
/// # Errors
/// [`ErrorKind::Config`] when [`IoRuntime::Auto`] or [`IoRuntime::Caller`] was chosen in this
/// process, by [`set_io_runtime`] or by a walk, and `choice` is different: walks may have taken
/// it, and replacing it would split them between two runtimes. The choice in force is kept.
///
/// ```
/// use connector_core::pages::{IoRuntime, replace_io_runtime, set_io_runtime};
/// # use tokio::runtime::Runtime;
/// # fn demo(old: Runtime, new: Runtime) -> connector_core::Result<()> {
/// set_io_runtime(IoRuntime::Handle(old.handle().clone()))?;
/// // ... the host restarts its runtime:
/// old.shutdown_background();
/// replace_io_runtime(IoRuntime::Handle(new.handle().clone()))?;
/// # std::mem::forget(new);
/// # Ok(()) }
/// ```
pub fn replace_io_runtime(choice: IoRuntime) -> Result<()> {
    let pid = std::process::id();
    let single = single_threaded(&choice);
    CHOICE.replace(choice, pid)?;
    warn_single_threaded(single, pid);
    Ok(())
}

/// Whether `choice` is a `current_thread` runtime, which runs walks only inside `block_on`.
fn single_threaded(choice: &IoRuntime) -> bool {
    matches!(choice, IoRuntime::Handle(handle)
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// Warns, once in process `pid`, that a single-threaded runtime was chosen (after the choice
/// was taken, and after the lock: a host's layer may do anything).
fn warn_single_threaded(single: bool, pid: u32) {
    static WARNED_SINGLE_IN: AtomicU32 = AtomicU32::new(0);
    if single && WARNED_SINGLE_IN.swap(pid, Ordering::Relaxed) != pid {
        tracing::warn!(
            "the I/O runtime chosen is single-threaded: it runs walks only while a thread is inside its `block_on`, keep one there for the life of the process"
        );
    }
}

static CHOICE: Choice = Choice(Mutex::new(None));

/// The process's choice, and the process it was made in.
struct Choice(Mutex<Option<(u32, IoRuntime)>>);

impl Choice {
    fn chosen(&self) -> MutexGuard<'_, Option<(u32, IoRuntime)>> {
        // Nothing is left half-written under the lock.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `choice` from now on in process `pid`, unless a different choice is already made in it
    /// (the same again is `Ok`, and changes nothing).
    fn set(&self, choice: IoRuntime, pid: u32) -> Result<()> {
        let mut chosen = self.chosen();
        if let Some((by, made)) = &*chosen
            && *by == pid
        {
            if same(made, &choice) {
                return Ok(());
            }
            let replace = match made {
                IoRuntime::Handle(_) => {
                    "; a host that shut its runtime down and built another replaces it with `replace_io_runtime`"
                }
                IoRuntime::Auto | IoRuntime::Caller => "",
            };
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the I/O runtime is already chosen ({}), differently: choose one, before the first walk (a test binary chooses one runtime for all its tests, the same choice again is Ok){replace}",
                    made.name()
                ),
            ));
        }
        // The parent's record, dropped after the lock.
        let _parents = chosen.replace((pid, choice));
        drop(chosen);
        Ok(())
    }

    /// `choice` from now on in process `pid`, unless a different `Auto` or `Caller` is chosen
    /// in it. The replaced handle is dropped after the lock.
    fn replace(&self, choice: IoRuntime, pid: u32) -> Result<()> {
        let mut chosen = self.chosen();
        if let Some((by, made @ (IoRuntime::Auto | IoRuntime::Caller))) = &*chosen
            && *by == pid
            && !same(made, &choice)
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the I/O runtime chosen is {}, not a Handle: walks may have taken it, choose once",
                    made.name()
                ),
            ));
        }
        let _replaced = chosen.replace((pid, choice));
        drop(chosen);
        Ok(())
    }

    /// The choice for a walk built now in process `pid` (read only when needed, and not under
    /// the lock where it can be: `getpid` is a system call), [`IoRuntime::Auto`] from now on
    /// if none was made. A `Handle` chosen in another process (before a `fork`) has no thread
    /// here (a task spawned on it would wait forever): [`Read::Parents`], until the child
    /// chooses.
    fn get(&self, pid: fn() -> u32) -> Read {
        let (by, handle) = match &mut *self.chosen() {
            Some((by, IoRuntime::Handle(handle))) => (*by, handle.clone()),
            Some((_, choice)) => return Read::Is(choice.clone()),
            chosen @ None => {
                // Once per process: the first walk.
                *chosen = Some((pid(), IoRuntime::Auto));
                return Read::Is(IoRuntime::Auto);
            }
        };
        let pid = pid();
        if by == pid {
            return Read::Is(IoRuntime::Handle(handle));
        }
        // A load first: no read-modify-write per walk once warned.
        if WARNED_IN.load(Ordering::Relaxed) != pid && WARNED_IN.swap(pid, Ordering::Relaxed) != pid
        {
            tracing::warn!(
                "the I/O runtime chosen with `set_io_runtime` belongs to the parent process: until the child chooses, walks polled on that runtime run on the child's own I/O runtimes (`connectors-io`), others on their callers' runtimes"
            );
        }
        Read::Parents(handle.id())
    }
}

/// Whether two choices are the same: the same runtime (by [`Handle::id`], unique in the
/// process), or the same `Auto` or `Caller`.
fn same(a: &IoRuntime, b: &IoRuntime) -> bool {
    match (a, b) {
        (IoRuntime::Handle(a), IoRuntime::Handle(b)) => a.id() == b.id(),
        (IoRuntime::Auto, IoRuntime::Auto) | (IoRuntime::Caller, IoRuntime::Caller) => true,
        _ => false,
    }
}

/// The choice as read for a walk.
#[derive(Debug)]
enum Read {
    /// Made in this process, or an `Auto` or `Caller` made in the parent (before a `fork`).
    Is(IoRuntime),
    /// A `Handle` chosen in the parent (before a `fork`): that runtime's id.
    Parents(tokio::runtime::Id),
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
    /// In a forked child of a process that chose a `Handle`: a walk polled on that runtime
    /// (`parent`, inherited: its tasks have no thread here) on one of `pool`'s runtimes (or the
    /// caller's when it has none), any other on the caller's.
    Inherited {
        parent: tokio::runtime::Id,
        pool: &'static Pool,
    },
}

impl On {
    /// The process's choice ([`set_io_runtime`]).
    pub(super) fn chosen() -> Self {
        match CHOICE.get(std::process::id) {
            Read::Is(IoRuntime::Auto) if cores() >= 2 => Self::Pool(io_pool()),
            Read::Is(IoRuntime::Auto | IoRuntime::Caller) => Self::Caller,
            Read::Is(IoRuntime::Handle(handle)) => Self::Runtime(handle),
            Read::Parents(parent) => Self::Inherited {
                parent,
                pool: io_pool(),
            },
        }
    }

    /// The runtime a walk polled first on `caller` is driven on, and the count of the pool
    /// slot's walks it is in: the driver keeps the guard until it ends.
    pub(super) fn runtime(&self, caller: &Handle) -> (Handle, Option<Walking>) {
        match self {
            Self::Pool(pool) => pool.pick().unwrap_or_else(|| (caller.clone(), None)),
            Self::Inherited { parent, pool } if caller.id() == *parent => {
                pool.pick().unwrap_or_else(|| (caller.clone(), None))
            }
            Self::Inherited { .. } | Self::Caller => (caller.clone(), None),
            Self::Runtime(handle) => (handle.clone(), None),
        }
    }

    /// Why a walk's driver ended without a word, the walk driven on `driven` for a caller on
    /// runtime `caller`: its runtime shut down under it (a pool's runtime only when its
    /// thread ended), or a panic escaped the fetching's catch.
    pub(super) fn stopped(&self, driven: &Handle, caller: tokio::runtime::Id) -> &'static str {
        match self {
            Self::Runtime(_) => {
                "the I/O runtime chosen with `set_io_runtime` is shut down (or the fetching's task was lost): the read-ahead stopped before the pages ended (choose a running one with `replace_io_runtime`)"
            }
            Self::Pool(pool) | Self::Inherited { pool, .. }
                if driven.id() != caller && !pool.serves(driven) =>
            {
                "an I/O runtime's thread (`connectors-io`) ended: the read-ahead stopped before the pages ended"
            }
            Self::Pool(_) | Self::Inherited { .. } | Self::Caller => {
                "the read-ahead stopped before the pages ended"
            }
        }
    }
}

/// One live walk of a pool's slot, counted until the walk's driver drops it.
#[derive(Debug)]
pub(super) struct Walking(&'static AtomicUsize);

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

/// How long a failed start, or a thread that ended less than this after its start, keeps
/// walks off its slot (on the others, or on their callers' runtimes) before the next try.
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

/// Runtimes started as walks need them, each on a thread of its own and kept for the life of
/// the process (one whose thread ended is started again), so what a walk opens on one (an HTTP
/// client's connections and its pool's tasks, a host's pooled database connection opened by a
/// rate gate) outlives the walk and serves the next ones.
#[derive(Debug)]
pub(super) struct Pool {
    size: usize,
    build: fn() -> std::io::Result<Runtime>,
    slots: Mutex<Slots>,
    /// Told when a slot's start is done, for the walks that wait for it.
    started: Condvar,
    /// Each slot's live walks in process `Slots::pid`, counted down by their [`Walking`]
    /// guards (not with one slot).
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
                pid: 0,
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
    /// counted in it; `None` when it could not start, or rests.
    fn pick(&'static self) -> Option<(Handle, Option<Walking>)> {
        let pid = std::process::id();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.pid != pid {
            // The first pick of this process: a forked child's counts are its parent's.
            slots.pid = pid;
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

    /// Whether `handle` is one of this pool's runtimes with its thread running: not once the
    /// thread ended (read when a walk on it stopped, so not per walk).
    fn serves(&self, handle: &Handle) -> bool {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.started.iter().any(|started| {
            matches!(started, Some(Started::Running { handle: h, alive, .. })
                if h.id() == handle.id() && alive.load(Ordering::Acquire))
        })
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
                "an I/O runtime's thread ended: its walks end Cancelled, and the next walks go to the other I/O runtimes or their callers' runtimes, for a minute if it ran for less"
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

    /// Once: a different choice is refused by name (the hint for a test binary, no word of
    /// `replace_io_runtime`, which does not replace these), the same again is `Ok`.
    #[test]
    fn a_choice_is_made_once_in_a_process() {
        let choice = Choice(Mutex::new(None));
        choice.set(IoRuntime::Caller, 7).expect("the first choice");
        choice.set(IoRuntime::Caller, 7).expect("the same again");
        let err = choice
            .set(IoRuntime::Auto, 7)
            .expect_err("a different choice is refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("(Caller), differently"), "{err}");
        assert!(
            err.to_string()
                .contains("a test binary chooses one runtime for all its tests"),
            "{err}"
        );
        assert!(!err.to_string().contains("replace_io_runtime"), "{err}");
        let err = choice
            .replace(IoRuntime::Auto, 7)
            .expect_err("only a Handle is replaced");
        assert!(err.to_string().contains("Caller, not a Handle"), "{err}");
        choice
            .replace(IoRuntime::Caller, 7)
            .expect("the same again");
        assert!(matches!(choice.get(seven), Read::Is(IoRuntime::Caller)));

        // A walk's first use fixes the default.
        let walked = Choice(Mutex::new(None));
        assert!(matches!(walked.get(seven), Read::Is(IoRuntime::Auto)));
        assert!(walked.set(IoRuntime::Caller, 7).is_err());
        assert!(walked.replace(IoRuntime::Caller, 7).is_err());
        walked.set(IoRuntime::Auto, 7).expect("the same again");
        // A child of that process chooses again, once.
        walked
            .set(IoRuntime::Caller, 8)
            .expect("the child's choice");
        assert!(matches!(walked.get(eight), Read::Is(IoRuntime::Caller)));
        assert!(walked.set(IoRuntime::Auto, 8).is_err());
    }

    /// A host's runtime is chosen once (a second `set_io_runtime` of another runtime, say of
    /// a parallel test, fails by name rather than taking the first one's walks; of the same
    /// runtime, say each test choosing a shared one, is `Ok`) and replaced on purpose after a
    /// restart, by a runtime or by `Auto` or `Caller`; in a child process (after a `fork`) the
    /// parent's is not used (it has no thread there) until the child chooses.
    #[tokio::test]
    async fn a_hosts_runtime_is_chosen_once_and_replaced_after_a_restart_or_a_fork() {
        let choice = Choice(Mutex::new(None));
        choice
            .set(IoRuntime::Handle(Handle::current()), 7)
            .expect("the first choice");
        choice
            .set(IoRuntime::Handle(Handle::current()), 7)
            .expect("the same runtime again");
        let restarted = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let id = restarted.handle().id();
        let err = choice
            .set(IoRuntime::Handle(restarted.handle().clone()), 7)
            .expect_err("a second choice is refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("(Handle), differently"), "{err}");
        // The tests' way first; `replace_io_runtime` for a host that restarted only.
        let message = err.to_string();
        let tests = message
            .find("a test binary chooses one runtime for all its tests")
            .expect("the tests' way");
        let restarted_host = message
            .find("a host that shut its runtime down and built another replaces it with `replace_io_runtime`")
            .expect("the restart's way");
        assert!(tests < restarted_host, "{err}");
        let current = Handle::current().id();
        assert!(matches!(choice.get(seven), Read::Is(IoRuntime::Handle(h)) if h.id() == current));
        choice
            .replace(IoRuntime::Handle(restarted.handle().clone()), 7)
            .expect("a Handle is replaced");
        assert!(matches!(choice.get(seven), Read::Is(IoRuntime::Handle(h)) if h.id() == id));

        // The child: the parent's runtime named (no thread started here), the choice still open
        // to it.
        assert!(matches!(choice.get(eight), Read::Parents(parent) if parent == id));
        assert!(matches!(choice.get(eight), Read::Parents(parent) if parent == id));
        choice
            .set(IoRuntime::Handle(Handle::current()), 8)
            .expect("the child chooses");
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == current));
        assert!(choice.set(IoRuntime::Caller, 8).is_err());
        choice
            .replace(IoRuntime::Handle(restarted.handle().clone()), 8)
            .expect("the child's Handle is replaced");
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == id));

        // A way back from a Handle, and then no Handle over it.
        choice
            .replace(IoRuntime::Caller, 8)
            .expect("back to the callers' runtimes");
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Caller)));
        assert!(
            choice
                .replace(IoRuntime::Handle(Handle::current()), 8)
                .is_err()
        );
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

    /// In a forked child of a process that chose a `Handle`, a walk polled on that inherited
    /// runtime (whose tasks have no thread there: a multi-threaded one's `block_on` runs none)
    /// is driven on the child's own pool; a walk polled on any other runtime on that one.
    #[tokio::test]
    async fn a_forked_childs_walk_polled_on_the_inherited_runtime_runs_on_its_pool() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        let inherited = Handle::current();
        let on = On::Inherited {
            parent: inherited.id(),
            pool,
        };
        let (driven, _) = on.runtime(&inherited);
        assert_ne!(driven.id(), inherited.id());
        assert!(pool.serves(&driven), "the pool's runtime");

        let built = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("the child's runtime");
        let (driven, walking) = on.runtime(built.handle());
        assert_eq!(driven.id(), built.handle().id(), "the caller's");
        assert!(walking.is_none());
        assert_eq!(
            on.stopped(&driven, built.handle().id()),
            "the read-ahead stopped before the pages ended"
        );
        // Not in the caller's runtime: dropping a runtime there panics.
        std::thread::spawn(move || drop(built))
            .join()
            .expect("dropped");
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
        let (_, _walking) = pool.pick().expect("the other slot");
        let slots = pool.slots.lock().expect("not poisoned");
        assert!(matches!(slots.started[0], Some(Started::Failed { .. })));
        assert!(matches!(slots.started[1], Some(Started::Running { .. })));
        drop(slots);
        assert_eq!((pool.walks(0), pool.walks(1)), (0, 1));

        let alone: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        alone.slots.lock().expect("not poisoned").started[0] = Some(dead(Instant::now()));
        assert!(alone.pick().is_none(), "the caller's runtime");
        assert!(alone.pick().is_none(), "still resting");
        let long_ago = Instant::now()
            .checked_sub(RETRY_AFTER)
            .expect("up for a minute");
        alone.slots.lock().expect("not poisoned").started[0] = Some(dead(long_ago));
        assert!(alone.pick().is_some(), "started again");
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
        let (_, walking) = pool.pick().expect("started");
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
        let (serving, _) = pool.pick().expect("started");
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
