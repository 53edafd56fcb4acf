//! Where walks' fetch chains run: [`set_io_runtime`], the host's choice, and the process's
//! pool of I/O runtimes (`connectors-io`) that [`IoRuntime::Auto`] uses.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::runtime::Handle;

use crate::error::{Error, ErrorKind, Result};

mod pool;

#[cfg(test)]
pub(super) use pool::io_runtime;
pub(super) use pool::{Pool, Walking, io_pool};
use pool::{RETRY_AFTER, cores};

/// Where [`read_ahead_on_thread`](super::read_ahead_on_thread) and
/// [`read_ahead_converting`](super::read_ahead_converting) run a walk's fetch chain (the
/// requests, the responses' parse, the timers and connections these open); chosen for the
/// process with [`set_io_runtime`]. A page's conversion runs on the caller's runtime, except
/// below four cores, where the caller may convert a page as it takes it and the fetching
/// thread one the caller is behind on, when that thread is the caller's or a pool's I/O thread
/// driving no other walk, with the caller's runtime entered (in a forked child of a `Handle`
/// host, on the thread that polls the stream: see [`Handle`](Self::Handle)).
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
    /// minute's rest if it ended within a minute of its start; no rest in a forked child of a
    /// `Handle` host: [`read_ahead_on_thread`](super::read_ahead_on_thread), `# Fork`), with
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
    /// [`set_io_runtime`] a runtime it built (warned once), its walks run on its own pool, as
    /// [`Auto`](Self::Auto) (even on one core), whatever runtime polls them, and their
    /// conversions are done by the thread that polls the stream (not on the pool's thread,
    /// whose fetches they would stall): an inherited multi-threaded runtime's `block_on` runs
    /// none of its tasks, so a walk or a conversion spawned there would wait for ever, and no
    /// runtime tells whether it was built before the `fork`. This rescues walks only: nothing
    /// else polled on an inherited runtime runs (its timers, tasks and I/O: a sync's timeout
    /// never fires, a task spawned there never starts), so a child builds a runtime of its
    /// own, runs its syncs on it and chooses it. Choosing the inherited runtime again in the
    /// child (a binding that calls `set_io_runtime` or [`replace_io_runtime`] before every
    /// sync) changes nothing, before or after the child chose: it is never taken there, nor in
    /// the child's own children. A `current_thread` runtime whose core no thread held at the
    /// `fork` (one the host only `block_on`s now and then) is driven by the child's `block_on`
    /// on the epoll instance it shares with the parent, where tokio's I/O driver (mio,
    /// edge-triggered) and its eventfd waker are registered: either process may take the
    /// other's readiness events and wake-ups (lost in the one that waits for them, and
    /// dispatched by the taker to an address that is the other's, corrupting memory in the
    /// parent as well as the child: a child's fd registered there can be dispatched in the
    /// parent), so poll nothing on it in the child (core never does: its walks there go to
    /// the child's own pool). Keep the parent's runtime in the child (`std::mem::forget` it, or leave it in its
    /// `static`): dropping it waits for its worker and blocking threads, which the child does
    /// not have, so the child would hang in the drop.
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
/// inherited choice. Over a parent's `Handle`, the same runtime again is `Ok` and changes
/// nothing (that runtime has no thread in the child, see [`IoRuntime::Handle`]); choose one
/// built in the child. Once the child chose over it, the parent's runtime chosen again (here
/// or with [`replace_io_runtime`], in the child or in its children) is still `Ok` and changes
/// nothing.
///
/// Choosing the same again (a `Handle` of the same runtime, by [`Handle::id`], or the same
/// `Auto` or `Caller`) is `Ok` and leaves the choice as it is (a `Handle` given is stored in
/// place of the one before); only a different choice is refused.
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
    let stored = CHOICE.set(choice, pid)?;
    warn_single_threaded(single && stored, pid);
    Ok(())
}

/// Replaces the host's runtime chosen with [`set_io_runtime`] ([`IoRuntime::Handle`]) by
/// `choice`, for the next walks built: for a host that shuts its runtime down and builds
/// another (a reload, a restart), or that goes back to [`IoRuntime::Auto`] or
/// [`IoRuntime::Caller`]. Walks built before keep the old runtime, and end with an
/// [`ErrorKind::Cancelled`] error once it is shut down. With no choice made yet (or one made
/// in a parent process, before a `fork`), the same as `set_io_runtime(choice)`. A parent's
/// runtime that the child chose over is not taken back: `Ok`, and the choice stays (see
/// [`set_io_runtime`]).
///
/// Not for tests that each have a runtime of their own: the last call takes the walks of
/// every test running, which then end `Cancelled` (or stall) when that test ends, in another
/// test. A test binary chooses one runtime for all its tests (see [`set_io_runtime`]).
///
/// # Errors
/// [`ErrorKind::Config`] when [`IoRuntime::Auto`] or [`IoRuntime::Caller`] was chosen in this
/// process, by [`set_io_runtime`], by a walk or by this function, and `choice` is different:
/// walks may have taken it, and replacing it would split them between two runtimes. The choice
/// in force is kept: going back from a `Handle` to `Auto` or `Caller` is for the rest of the
/// process.
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
    let stored = CHOICE.replace(choice, pid)?;
    warn_single_threaded(single && stored, pid);
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

static CHOICE: Choice = Choice::new();

/// The process's choice.
struct Choice(Mutex<Chosen>);

/// The choice made, and the runtimes its process must not take.
struct Chosen {
    /// The choice, and the process it was made in.
    made: Option<(u32, IoRuntime)>,
    /// The ids of the `Handle`s chosen in an ancestor process (before a `fork`) that a child
    /// chose over: they have no thread in this process, so chosen again here they are kept out
    /// ([`Take::Keep`]), even after the child chose (a binding that calls
    /// [`replace_io_runtime`] with its `static` runtime before every sync). Inherited in turn
    /// by the child's children. One per generation that chose a `Handle`.
    inherited: Vec<tokio::runtime::Id>,
}

impl Choice {
    const fn new() -> Self {
        Self(Mutex::new(Chosen {
            made: None,
            inherited: Vec::new(),
        }))
    }

    fn chosen(&self) -> MutexGuard<'_, Chosen> {
        // Nothing is left half-written under the lock.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `choice` from now on in process `pid`, unless a different choice is already made in it;
    /// whether it was stored (not over a parent's runtime chosen again, see [`take`]).
    fn set(&self, choice: IoRuntime, pid: u32) -> Result<bool> {
        self.make(choice, pid, false)
    }

    /// `choice` from now on in process `pid`, unless a different `Auto` or `Caller` is chosen
    /// in it; whether it was stored, as [`set`](Self::set).
    fn replace(&self, choice: IoRuntime, pid: u32) -> Result<bool> {
        self.make(choice, pid, true)
    }

    /// [`set`](Self::set), or [`replace`](Self::replace) when `replacing`. The record replaced
    /// (a parent's, or a handle of the same runtime or of the one replaced) is dropped after
    /// the lock; a parent's `Handle` is remembered ([`Chosen::inherited`]).
    fn make(&self, choice: IoRuntime, pid: u32, replacing: bool) -> Result<bool> {
        let mut chosen = self.chosen();
        // Refused, or kept: `choice` is dropped after the lock (parameters drop last).
        match take(
            chosen.made.as_ref(),
            &chosen.inherited,
            &choice,
            pid,
            replacing,
        )? {
            Take::Store => {
                let replaced = chosen.made.replace((pid, choice));
                if let Some((by, IoRuntime::Handle(parents))) = &replaced
                    && *by != pid
                    && !chosen.inherited.contains(&parents.id())
                {
                    chosen.inherited.push(parents.id());
                }
                drop(chosen);
                drop(replaced);
                Ok(true)
            }
            Take::Keep => Ok(false),
        }
    }

    /// The choice for a walk built now in process `pid` (read only when needed, and not under
    /// the lock where it can be: `getpid` is a system call), [`IoRuntime::Auto`] from now on
    /// if none was made. A `Handle` chosen in another process (before a `fork`) has no thread
    /// here (a task spawned on it would wait forever): [`Read::Parents`], until the child
    /// chooses.
    fn get(&self, pid: fn() -> u32) -> Read {
        let (by, handle) = match &mut self.chosen().made {
            // Cloned under the lock, the pid read after it: dropped in a child.
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
                "the I/O runtime chosen with `set_io_runtime` belongs to the parent process, with no thread here: until the child chooses one it built, its walks run on its own I/O runtimes (`connectors-io`), their conversions on the threads polling them"
            );
        }
        Read::Parents
    }
}

/// Whether two choices are the same: the same runtime (by [`Handle::id`], unique among running
/// runtimes: tokio's contract; 1.54 never reuses one, and a forked child's new runtimes take
/// ids after every inherited one), or the same `Auto` or `Caller`.
fn same(a: &IoRuntime, b: &IoRuntime) -> bool {
    match (a, b) {
        (IoRuntime::Handle(a), IoRuntime::Handle(b)) => a.id() == b.id(),
        (IoRuntime::Auto, IoRuntime::Auto) | (IoRuntime::Caller, IoRuntime::Caller) => true,
        _ => false,
    }
}

/// What a choice accepted does to the record.
#[derive(Debug)]
enum Take {
    /// The choice from now on. A `Handle` of the runtime already chosen is stored too: tokio
    /// documents a runtime's id as unique among running runtimes only, so a later one might
    /// take the id of one shut down (1.54 never reuses one).
    Store,
    /// A parent's runtime, inherited and chosen again in a child: it has no thread there, so
    /// the record stays as it is: the parent's ([`Read::Parents`], whose walks run on the
    /// child's pool), or, once the child chose over it, the child's choice.
    Keep,
}

/// What a choice made in process `pid` does to the `record` (the choice made, and the process
/// it was made in), by [`set_io_runtime`] or, `replacing`, by [`replace_io_runtime`]: refused
/// over a different choice made in this process (for `replacing`, an `Auto` or `Caller`);
/// kept out when it is a runtime `inherited` from an ancestor that a child chose over.
fn take(
    record: Option<&(u32, IoRuntime)>,
    inherited: &[tokio::runtime::Id],
    choice: &IoRuntime,
    pid: u32,
    replacing: bool,
) -> Result<Take> {
    if let IoRuntime::Handle(handle) = choice
        && inherited.contains(&handle.id())
    {
        return Ok(Take::Keep);
    }
    let Some((by, made)) = record else {
        return Ok(Take::Store);
    };
    let same = same(made, choice);
    let handle = matches!(made, IoRuntime::Handle(_));
    if *by != pid {
        return Ok(if same && handle {
            Take::Keep
        } else {
            Take::Store
        });
    }
    if same || (replacing && handle) {
        Ok(Take::Store)
    } else {
        Err(refused(made, replacing))
    }
}

/// Why a choice over `made` is refused.
fn refused(made: &IoRuntime, replacing: bool) -> Error {
    if replacing {
        return Error::new(
            ErrorKind::Config,
            format!(
                "the I/O runtime chosen is {}, not a Handle: walks may have taken it, choose once",
                made.name()
            ),
        );
    }
    let replace = match made {
        IoRuntime::Handle(_) => {
            "; a host that shut its runtime down and built another replaces it with `replace_io_runtime`"
        }
        IoRuntime::Auto | IoRuntime::Caller => "",
    };
    Error::new(
        ErrorKind::Config,
        format!(
            "a different I/O runtime ({}) is already chosen: choose one, before the first walk (a test binary chooses one runtime for all its tests, the same choice again is Ok){replace}",
            made.name()
        ),
    )
}

/// The choice as read for a walk.
#[derive(Debug)]
enum Read {
    /// Made in this process, or an `Auto` or `Caller` made in the parent (before a `fork`).
    Is(IoRuntime),
    /// A `Handle` chosen in the parent (before a `fork`).
    Parents,
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
    /// In a forked child of a process that chose a `Handle`, until it chooses: one of the
    /// pool's runtimes, whatever the caller's runtime (it may be inherited, its tasks with no
    /// thread here), the conversions done by the thread polling the stream; an error when the
    /// pool has none (each walk tries the start: no rest, see [`Pool::pick`]).
    Inherited(&'static Pool),
}

/// Where a walk runs, for a caller on a runtime: its fetching (`driven`), the conversions
/// [`read_ahead_converting`](super::read_ahead_converting) starts (`converting`; `None`: none
/// is started, the thread polling the stream converts), and the
/// count of the pool slot's walks it is in (the driver keeps the guard until it ends).
pub(super) struct Runs {
    pub(super) driven: Handle,
    pub(super) converting: Option<Handle>,
    pub(super) walking: Option<Walking>,
}

impl On {
    /// The process's choice ([`set_io_runtime`]).
    pub(super) fn chosen() -> Self {
        Self::of(CHOICE.get(std::process::id))
    }

    /// Where walks go for the choice as `read`.
    fn of(read: Read) -> Self {
        match read {
            Read::Is(IoRuntime::Auto) if cores() >= 2 => Self::Pool(io_pool()),
            Read::Is(IoRuntime::Auto | IoRuntime::Caller) => Self::Caller,
            Read::Is(IoRuntime::Handle(handle)) => Self::Runtime(handle),
            Read::Parents => Self::Inherited(io_pool()),
        }
    }

    /// Where a walk polled first on `caller` runs.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] (retry after a minute) in a forked child of a `Handle` host
    /// when no runtime of the pool can take the walk (this walk's start of one failed, or one
    /// it waited for): the caller's runtime may be the parent's, where the walk would wait for
    /// ever.
    pub(super) fn runtime(&self, caller: Handle) -> Result<Runs> {
        let (driven, walking) = match self {
            Self::Pool(pool) => pool.pick(false).unwrap_or_else(|| (caller.clone(), None)),
            Self::Caller => (caller.clone(), None),
            Self::Runtime(handle) => (handle.clone(), None),
            Self::Inherited(pool) => {
                // No rest: with no runtime to fall back on, each walk tries the start afresh.
                let (driven, walking) = pool.pick(true).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unavailable,
                        "no I/O runtime (`connectors-io`) could start in this forked child, and the runtime chosen with `set_io_runtime` is the parent's, with no thread here: the walk did not start (the next walk tries the start again; or choose a runtime built in the child with `set_io_runtime`)",
                    )
                    // A hint for the host's retry (connector-sync waits it out): the limit that
                    // failed the start (threads, file descriptors) rarely lifts at once. A walk
                    // built sooner tries all the same.
                    .with_retry_after(RETRY_AFTER)
                })?;
                // Converted by the thread polling the stream, live here by construction: not
                // on the walk's I/O thread, whose fetches and timers it would stall.
                return Ok(Runs {
                    driven,
                    converting: None,
                    walking,
                });
            }
        };
        Ok(Runs {
            driven,
            converting: Some(caller),
            walking,
        })
    }

    /// Why a walk's driver ended without a word, the walk driven on `driven` for a caller on
    /// runtime `caller`: its runtime shut down under it (a pool's runtime only when its
    /// thread ended), or a panic escaped the fetching's catch.
    pub(super) fn stopped(&self, driven: &Handle, caller: tokio::runtime::Id) -> &'static str {
        match self {
            Self::Runtime(_) => {
                "the I/O runtime chosen with `set_io_runtime` is shut down (or the fetching's task was lost): the read-ahead stopped before the pages ended (choose a running one with `replace_io_runtime`)"
            }
            Self::Pool(pool) | Self::Inherited(pool)
                if driven.id() != caller && !pool.serves(driven) =>
            {
                "an I/O runtime's thread (`connectors-io`) ended: the read-ahead stopped before the pages ended"
            }
            Self::Pool(_) | Self::Inherited(_) | Self::Caller => {
                "the read-ahead stopped before the pages ended"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seven() -> u32 {
        7
    }

    fn eight() -> u32 {
        8
    }

    fn nine() -> u32 {
        9
    }

    /// Once: a different choice is refused by name (the hint for a test binary, no word of
    /// `replace_io_runtime`, which does not replace these), the same again is `Ok`.
    #[test]
    fn a_choice_is_made_once_in_a_process() {
        let choice = Choice::new();
        choice.set(IoRuntime::Caller, 7).expect("the first choice");
        choice.set(IoRuntime::Caller, 7).expect("the same again");
        let err = choice
            .set(IoRuntime::Auto, 7)
            .expect_err("a different choice is refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.to_string()
                .contains("a different I/O runtime (Caller) is already chosen"),
            "{err}"
        );
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
        let walked = Choice::new();
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
        let choice = Choice::new();
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
        assert!(
            err.to_string()
                .contains("a different I/O runtime (Handle) is already chosen"),
            "{err}"
        );
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

        // The child: the parent's runtime not taken (no thread started here), the choice still
        // open to it.
        assert!(matches!(choice.get(eight), Read::Parents));
        assert!(matches!(choice.get(eight), Read::Parents));
        choice
            .set(IoRuntime::Handle(Handle::current()), 8)
            .expect("the child chooses");
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == current));
        assert!(choice.set(IoRuntime::Caller, 8).is_err());
        // Replaced by a runtime the child built (not by the parent's, see
        // `a_forked_child_that_chose_keeps_the_parents_runtime_out`).
        let childs = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let childs_id = childs.handle().id();
        choice
            .replace(IoRuntime::Handle(childs.handle().clone()), 8)
            .expect("the child's Handle is replaced");
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == childs_id));

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
        std::thread::spawn(move || drop((restarted, childs)))
            .join()
            .expect("dropped");
    }

    /// In a forked child, the parent's `Handle` chosen again (a binding that chooses its
    /// `static` runtime before every sync) stays the parent's: walks still go to the child's
    /// pool, rather than to a runtime with no thread in the child. The child's choice is still
    /// open, and its own runtime is taken.
    #[tokio::test]
    async fn a_forked_child_choosing_the_inherited_runtime_again_keeps_the_parents_record() {
        let inherited = || IoRuntime::Handle(Handle::current());
        let choice = Choice::new();
        assert!(choice.set(inherited(), 7).expect("the parent's choice"));
        assert!(!choice.set(inherited(), 8).expect("the same again"));
        assert!(matches!(choice.get(eight), Read::Parents));
        assert!(!choice.replace(inherited(), 8).expect("the same again"));
        assert!(matches!(choice.get(eight), Read::Parents));
        assert!(matches!(On::of(choice.get(eight)), On::Inherited(_)));

        let (built, id) = child_chooses_its_own(&choice);
        assert!(matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == id));
        assert!(
            choice.set(IoRuntime::Caller, 8).is_err(),
            "chosen once in the child"
        );
        drop(choice);
        // Not in the caller's runtime: dropping a runtime there panics.
        std::thread::spawn(move || drop(built))
            .join()
            .expect("dropped");
    }

    /// In forked child 8, a current-thread runtime of its own, chosen (the first choice there),
    /// and its id.
    fn child_chooses_its_own(choice: &Choice) -> (tokio::runtime::Runtime, tokio::runtime::Id) {
        let built = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("the child's runtime");
        let id = built.handle().id();
        assert!(
            choice
                .set(IoRuntime::Handle(built.handle().clone()), 8)
                .expect("the child's choice")
        );
        (built, id)
    }

    /// A forked child that chose a runtime it built keeps the parent's out (review30 F5): a
    /// binding that chooses its `static` runtime, the parent's, before every sync, with
    /// `replace_io_runtime` (or `set_io_runtime`), leaves the child's choice in place rather
    /// than send its walks to a runtime with no thread. Its own restart still replaces, and in
    /// its child neither its runtime nor the grandparent's is taken.
    #[tokio::test]
    async fn a_forked_child_that_chose_keeps_the_parents_runtime_out() {
        let inherited = || IoRuntime::Handle(Handle::current());
        let choice = Choice::new();
        assert!(choice.set(inherited(), 7).expect("the parent's choice"));
        let (built, id) = child_chooses_its_own(&choice);
        let childs = |choice: &Choice, id| matches!(choice.get(eight), Read::Is(IoRuntime::Handle(h)) if h.id() == id);
        assert!(!choice.replace(inherited(), 8).expect("kept out"));
        assert!(childs(&choice, id), "the child's runtime still");
        assert!(!choice.set(inherited(), 8).expect("kept out"));
        assert!(childs(&choice, id), "the child's runtime still");

        let restarted = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("the child's next runtime");
        let next = restarted.handle().id();
        assert!(
            choice
                .replace(IoRuntime::Handle(restarted.handle().clone()), 8)
                .expect("the child's restart")
        );
        assert!(childs(&choice, next));

        // The child's child.
        assert!(!choice.set(inherited(), 9).expect("the grandparent's"));
        assert!(matches!(choice.get(nine), Read::Parents));
        assert!(
            !choice
                .replace(IoRuntime::Handle(restarted.handle().clone()), 9)
                .expect("the parent's")
        );
        assert!(matches!(choice.get(nine), Read::Parents));
        drop(choice);
        // Not in the caller's runtime: dropping a runtime there panics.
        std::thread::spawn(move || drop((built, restarted)))
            .join()
            .expect("dropped");
    }

    /// The same runtime chosen again in its process stores the new handle (tokio's ids are
    /// unique among running runtimes only: a runtime built after one shut down might take its
    /// id), and so does a same `Auto` or `Caller`; over the parent's `Handle` the record stays.
    #[tokio::test]
    async fn the_same_runtime_chosen_again_stores_its_new_handle() {
        let record = |pid| Some((pid, IoRuntime::Handle(Handle::current())));
        let again = IoRuntime::Handle(Handle::current());
        for replacing in [false, true] {
            let took = |record: Option<(u32, IoRuntime)>, choice: &IoRuntime| {
                take(record.as_ref(), &[], choice, 7, replacing).map_err(|e| e.kind())
            };
            assert!(matches!(took(record(7), &again), Ok(Take::Store)));
            assert!(matches!(took(record(8), &again), Ok(Take::Keep)));
            assert!(matches!(
                took(record(8), &IoRuntime::Caller),
                Ok(Take::Store)
            ));
            assert!(matches!(took(None, &again), Ok(Take::Store)));
            for same in [IoRuntime::Auto, IoRuntime::Caller] {
                assert!(matches!(
                    took(Some((7, same.clone())), &same),
                    Ok(Take::Store)
                ));
                assert!(matches!(
                    took(Some((8, same.clone())), &same),
                    Ok(Take::Store)
                ));
                assert!(matches!(
                    took(Some((7, same.clone())), &again),
                    Err(ErrorKind::Config)
                ));
            }
        }
        assert!(matches!(
            take(record(7).as_ref(), &[], &IoRuntime::Caller, 7, false),
            Err(e) if e.kind() == ErrorKind::Config
        ));
        assert!(matches!(
            take(record(7).as_ref(), &[], &IoRuntime::Caller, 7, true),
            Ok(Take::Store)
        ));
    }

    /// In a forked child of a process that chose a `Handle`, every walk (whatever runtime polls
    /// it: the inherited one's tasks have no thread there, and a runtime does not say whether
    /// it is inherited) is driven on the child's own pool, its conversions started nowhere
    /// (the thread polling the stream turns the pages); with no runtime in the pool, the walk
    /// is refused, retryable, rather than sent to its caller's runtime.
    #[tokio::test]
    async fn a_forked_childs_walks_run_on_its_pool_whatever_their_caller() {
        static BUILDS: AtomicU32 = AtomicU32::new(0);
        fn failing() -> std::io::Result<tokio::runtime::Runtime> {
            BUILDS.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::other("no thread"))
        }
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1, io_runtime)));
        let on = On::Inherited(pool);
        let built = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("the child's runtime");
        for caller in [Handle::current(), built.handle().clone()] {
            let id = caller.id();
            let runs = on.runtime(caller).expect("the pool's runtime");
            assert_ne!(runs.driven.id(), id);
            assert!(pool.serves(&runs.driven), "the pool's runtime");
            assert!(runs.converting.is_none(), "converted by the polling thread");
        }
        assert!(matches!(On::of(Read::Parents), On::Inherited(p) if std::ptr::eq(p, io_pool())));

        let none: &'static Pool = Box::leak(Box::new(Pool::new(1, failing)));
        let Err(err) = On::Inherited(none).runtime(Handle::current()) else {
            panic!("no runtime for the walk");
        };
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_retryable(), "a temporary unavailability");
        assert_eq!(err.retry_after(), Some(RETRY_AFTER));
        assert!(err.to_string().contains("forked child"), "{err}");
        // No minute's rest here: the next walk tries the start again (review30 F2(b)).
        assert!(On::Inherited(none).runtime(Handle::current()).is_err());
        assert_eq!(
            BUILDS.load(Ordering::SeqCst),
            2,
            "each walk tries the start"
        );
        // Not in the caller's runtime: dropping a runtime there panics.
        std::thread::spawn(move || drop(built))
            .join()
            .expect("dropped");
    }
}
