//! Files replaced so that a crash leaves the old content or the new one, never half of either.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Replaces the file at `path` with what `write` writes, atomically: into a temporary file
/// beside it of this writer's own (`{name}.{pid}-{n}.tmp`: two writers of one file never share
/// a temporary file, so neither renames the other's half-written one), flushed and fsynced,
/// given the permissions of the file it replaces (a file of secrets stays closed), renamed over
/// `path`, and the folder fsynced so the rename itself is durable. On an error the temporary
/// file is removed and `path` is untouched. Returns the size written. Blocking: call it from
/// `spawn_blocking` in async code.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("state.json");
/// let size = connector_core::fs::write_atomically(&path, |out| out.write_all(b"{}"))?;
/// assert_eq!((size, std::fs::read_to_string(&path)?), (2, "{}".to_owned()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// Whatever creating, writing, syncing or renaming the temporary file returns, or `write`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = with_suffix(path, &format!(".{}-{n}.tmp", std::process::id()));
    let written = (|| {
        let file = std::fs::File::create(&tmp)?;
        if let Ok(old) = std::fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        // A large file's write-back starts as it is written (a snapshot of a large state is
        // megabytes), so the `fsync` below has little left to wait for.
        let mut out = BufWriter::new(WritingBack {
            file,
            written: 0,
            started: 0,
        });
        write(&mut out)?;
        out.flush()?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .file;
        file.sync_all()?;
        let size = file.metadata()?.len();
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Some platforms cannot open a folder; the rename is done there all the same.
        if let Ok(dir) = std::fs::File::open(folder) {
            let _ = dir.sync_all();
        }
        Ok(size)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Where a small write that ends in an `fsync` runs: on the calling task while the file's
/// recent syncs were quick, else on the blocking pool.
///
/// The hop to the blocking pool and back wakes a thread each way, tens of microseconds; a sync
/// the storage answers at once (tmpfs, a write cache that survives power loss) takes a few.
/// Paying the hop for every batch was a large part of what a durable run spent beyond a plain
/// one where syncs are free. The first write, and every write for a while after a slow sync,
/// goes to the pool and is timed there, so on a real disk the runtime is blocked by one slow
/// sync now and then ([`SyncGauge::BACKOFF`] writes apart), never by each.
#[derive(Debug)]
pub(crate) struct SyncGauge {
    /// Writes still to send to the blocking pool before trying the calling task again.
    pool_for: AtomicU32,
}

impl SyncGauge {
    /// A write and its sync at most this long count as quick: about what the runtime may be
    /// held up by any step of work between two awaits.
    const QUICK: Duration = Duration::from_micros(200);
    /// Writes sent to the blocking pool after a slow one.
    const BACKOFF: u32 = 64;
    /// The largest write run on the calling task: copying it into the page cache is quick.
    pub(crate) const INLINE_MAX: usize = 64 * 1024;

    /// A gauge that sends the first write to the blocking pool, to time it there.
    pub(crate) fn new() -> Self {
        Self {
            pool_for: AtomicU32::new(1),
        }
    }

    /// Whether the next write of `len` bytes runs on the calling task (and counts one write
    /// towards the end of a backoff when not).
    pub(crate) fn inline(&self, len: usize) -> bool {
        len <= Self::INLINE_MAX
            && self
                .pool_for
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
    }

    /// Sends the next writes to the calling task, as after a quick sync (tests of that path
    /// on a disk whose syncs are slow).
    #[cfg(test)]
    pub(crate) fn assume_quick(&self) {
        self.pool_for.store(0, Ordering::Relaxed);
    }

    /// Records how long a write and its sync took, wherever they ran.
    pub(crate) fn record(&self, took: Duration) {
        if took > Self::QUICK {
            self.pool_for.store(Self::BACKOFF, Ordering::Relaxed);
        }
    }
}

/// Starts the write-back of `len` bytes of `file` from `offset`, just written, without
/// waiting for it, so that the `fsync` that makes them durable later has little left to
/// write: Linux's `posix_fadvise(POSIX_FADV_DONTNEED)`, which submits the range's dirty pages
/// for writing (and drops from the page cache only pages that are clean already, which
/// pages just written are not). A hint, not a durability guarantee (the `fsync`s stay), and
/// one that costs nothing where the file system keeps no dirty pages (tmpfs). `sync_file_range`
/// would say it more directly, but no safe binding of it is in the dependency tree and the
/// workspace forbids `unsafe`. Elsewhere, and on any error, it does nothing.
pub(crate) fn start_write_back(file: &std::fs::File, offset: u64, len: u64) {
    #[cfg(test)]
    WRITE_BACKS_STARTED.with(|n| n.set(n.get() + 1));
    #[cfg(target_os = "linux")]
    if let Some(len) = std::num::NonZeroU64::new(len) {
        let _ = rustix::fs::fadvise(file, offset, Some(len), rustix::fs::Advice::DontNeed);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

#[cfg(test)]
thread_local! {
    /// How many write-backs ([`start_write_back`]) this thread started: tests of where they run.
    pub(crate) static WRITE_BACKS_STARTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many bytes a writer lets pile up before it starts their write-back
/// ([`start_write_back`]): enough that the hint costs nothing per write, little enough that
/// the disk works beside the writer rather than after it.
pub(crate) const WRITE_BACK_STEP: u64 = 1024 * 1024;

/// A writer of a file that starts the write-back of every [`WRITE_BACK_STEP`] it writes.
struct WritingBack {
    file: std::fs::File,
    written: u64,
    started: u64,
}

impl Write for WritingBack {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BACK_STEP {
            start_write_back(&self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// `path` with `suffix` appended to its file name (`state.json` -> `state.json.tmp`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_syncs_run_inline_and_a_slow_one_sends_writes_back_to_the_pool_for_a_while() {
        let gauge = SyncGauge::new();
        // The first write is timed on the pool.
        assert!(!gauge.inline(100));
        gauge.record(Duration::from_micros(5));
        assert!(gauge.inline(100));
        assert!(!gauge.inline(SyncGauge::INLINE_MAX + 1), "a large write");
        gauge.record(Duration::from_millis(2));
        for _ in 0..SyncGauge::BACKOFF {
            assert!(!gauge.inline(100));
        }
        assert!(gauge.inline(100), "tried again after the backoff");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f.json");
        std::fs::write(&path, "old").unwrap_or_default();
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("injected"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("old"));
        assert_eq!(std::fs::read_dir(dir.path()).map_or(0, Iterator::count), 1);
    }
}
