//! The file machinery the NDJSON and directory sinks share: how durable an acknowledged batch
//! is, an append-only file whose writes cannot be torn by a dropped future, and the repair of a
//! last line torn by a crash.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::fs::SyncGauge;

/// How far a file sink takes a batch before acknowledging it (and so before the batch loop
/// commits it to the state store).
///
/// The choice matters only together with a durable state store: a
/// [`FileStateStore`](crate::state::FileStateStore) `fsync`s every commit, so if the output
/// were not synced too, a power loss could leave a state that claims batches the output never
/// kept, and those documents would not be sent again. Without a durable state nothing claims a
/// batch after a crash, so [`Flush`](Durability::Flush) loses nothing and costs less.
///
/// Defaults: [`NdjsonSink::append`](super::NdjsonSink::append) (kept across runs, which is what
/// a durable state store goes with) and [`DirectorySink::open`](super::DirectorySink::open)
/// use [`Fsync`](Durability::Fsync); [`NdjsonSink::create`](super::NdjsonSink::create) (a fresh
/// file for a run that keeps no state) uses [`Flush`](Durability::Flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// The batch is handed to the operating system before `write` returns: it survives the
    /// process being killed, not a power loss or an operating-system crash.
    Flush,
    /// The batch is on the disk (`fsync`, and the folder too where a file was created or
    /// renamed) before `write` returns: it survives a power loss.
    Fsync,
}

/// The largest batch [`AppendFile::append`] writes without the blocking pool (when it needs no
/// `fsync`): small enough that copying it into the page cache never holds the runtime long.
const DIRECT_WRITE_MAX: usize = 64 * 1024;

/// An append-only file whose writes are whole or repaired.
///
/// Each write is one buffer written with one `write_all` (and synced when asked) on the
/// blocking pool, while holding an owned lock on the file (a small unsynced one is written in
/// place, see [`AppendFile::append`]). The blocking task owns that lock,
/// so when the future that started it is dropped (cancellation, a timeout) the write still
/// completes, and the next write waits for it: writes never interleave, never reorder, and a
/// dropped future never leaves half a batch behind in a process that goes on. Only the end
/// of the process mid-write can tear the last line, and [`AppendFile::open`] repairs that.
#[derive(Debug, Clone)]
pub(super) struct AppendFile {
    file: Arc<Mutex<File>>,
    path: PathBuf,
    durability: Durability,
    /// Whether this file's syncs are quick enough to write small batches on the calling task.
    syncs: Arc<SyncGauge>,
}

impl AppendFile {
    /// Opens `path` for appending (creating it), or truncates it when `truncate`. An existing
    /// file whose last line has no newline (a write cut short by the end of a process) is cut
    /// back to its last complete line first, and a warning says how many bytes went.
    pub(super) async fn open(path: &Path, truncate: bool, durability: Durability) -> Result<Self> {
        let owned = path.to_path_buf();
        let (file, removed) = blocking(path, "open", move || {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&owned)?;
            if truncate {
                file.set_len(0)?;
            }
            let removed = repair_tail(&mut file)?;
            if durability == Durability::Fsync {
                // The file may be new (or just cut back): its size and its folder's entry are
                // part of what must survive.
                file.sync_all()?;
                sync_folder(&owned);
            }
            Ok((file, removed))
        })
        .await?;
        if removed > 0 {
            tracing::warn!(
                file = %path.display(),
                bytes = removed,
                "removed a torn last line (a write cut short by the end of an earlier run) before \
                 appending; the batch it belonged to was never acknowledged and is delivered again"
            );
        }
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
            path: path.to_path_buf(),
            durability,
            syncs: Arc::new(SyncGauge::new()),
        })
    }

    pub(super) fn durability(&self) -> Durability {
        self.durability
    }

    pub(super) fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Appends `buf` in one write (synced when the file is durable), after running `before`
    /// on the blocking pool under the file's lock (the directory sink writes the bodies there,
    /// so a manifest line never precedes its body).
    pub(super) async fn append_after(
        &self,
        buf: Vec<u8>,
        before: impl FnOnce(Durability) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let guard = self.file.clone().lock_owned().await;
        let durability = self.durability;
        let path = self.path.clone();
        let syncs = Arc::clone(&self.syncs);
        join(tokio::task::spawn_blocking(move || {
            let mut file: OwnedMutexGuard<File> = guard;
            before(durability)?;
            if buf.is_empty() {
                return Ok(());
            }
            let started = Instant::now();
            let write = |file: &mut File| -> std::io::Result<()> {
                file.write_all(&buf)?;
                if durability == Durability::Fsync {
                    file.sync_data()?;
                }
                Ok(())
            };
            write(&mut file).map_err(|e| io_error(&path, "write to", e))?;
            if durability == Durability::Fsync {
                syncs.record(started.elapsed());
            }
            Ok(())
        }))
        .await
    }

    /// Appends what `write` writes (through a buffer, on the blocking pool, under the file's
    /// lock), synced when the file is durable. When `write` fails the file is cut back to where
    /// it was, so a failed batch leaves no partial line. For batches too large to build in
    /// memory first (spooled bodies, streamed from their files).
    pub(super) async fn append_streamed(
        &self,
        write: impl FnOnce(&mut dyn Write) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let guard = self.file.clone().lock_owned().await;
        let durability = self.durability;
        let path = self.path.clone();
        join(tokio::task::spawn_blocking(move || {
            let mut file: OwnedMutexGuard<File> = guard;
            let start = file
                .metadata()
                .map_err(|e| io_error(&path, "write to", e))?
                .len();
            let written = (|| {
                let mut out = std::io::BufWriter::with_capacity(crate::spool::CHUNK, &mut *file);
                write(&mut out)?;
                out.flush().map_err(|e| io_error(&path, "write to", e))
            })();
            match written {
                Ok(()) if durability == Durability::Fsync => {
                    file.sync_data().map_err(|e| io_error(&path, "write to", e))
                }
                Ok(()) => Ok(()),
                Err(e) => {
                    if let Err(cut) = file.set_len(start) {
                        tracing::warn!(file = %path.display(), error = %cut, "cannot cut back a failed batch; the next open repairs the torn line");
                    }
                    Err(e)
                }
            }
        }))
        .await
    }

    /// Appends `buf` in one write, synced when the file is durable.
    ///
    /// A small batch that needs no `fsync` is written by the calling task itself, under the
    /// file's lock: a buffered write of a few KiB into the page cache takes microseconds, less
    /// than the hop to the blocking pool and back (two thread wake-ups), which was most of the
    /// time of a run with tiny batches. Nothing is awaited between taking the lock and the end
    /// of the write, so a dropped future cannot leave the batch half written either.
    ///
    /// So is a small batch to be synced while the file's syncs are quick (tmpfs, a write cache
    /// that survives power loss; see `SyncGauge` in `fs.rs`); otherwise the write and its sync
    /// run on the blocking pool, where they are timed.
    pub(super) async fn append(&self, buf: Vec<u8>) -> Result<()> {
        if self.durability == Durability::Flush && buf.len() <= DIRECT_WRITE_MAX {
            let mut file = self.file.lock().await;
            return file
                .write_all(&buf)
                .map_err(|e| io_error(&self.path, "write to", e));
        }
        if self.durability == Durability::Fsync && self.syncs.inline(buf.len()) {
            let mut file = self.file.lock().await;
            let started = Instant::now();
            file.write_all(&buf)
                .and_then(|()| file.sync_data())
                .map_err(|e| io_error(&self.path, "write to", e))?;
            self.syncs.record(started.elapsed());
            return Ok(());
        }
        self.append_after(buf, |_| Ok(())).await
    }
}

/// Cuts `file` back to its last newline; returns how many bytes went. Reads backwards from the
/// end in blocks, so a large file is not read whole.
fn repair_tail(file: &mut File) -> std::io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut block = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let chunk = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(at) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + at as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(len - keep);
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(len)
}

/// `fsync`s the folder holding `path`, so a file created or renamed there stays. Some
/// platforms cannot open a folder; there the entry is as durable as the platform makes it.
pub(super) fn sync_folder(path: &Path) {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(folder);
}

/// `fsync`s the folder `dir` (see [`sync_folder`]).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// A temporary name beside `path` that no other writer uses (this process's id and a counter),
/// so two writers of the same file never write into one temporary file.
pub(super) fn unique_temporary(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

pub(super) fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Sink, format!("cannot {what} {}", path.display())).with_cause(e)
}

/// Runs `f` on the blocking pool; its I/O errors name `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    what: &'static str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let owned = path.to_path_buf();
    join(tokio::task::spawn_blocking(move || {
        f().map_err(|e| io_error(&owned, what, e))
    }))
    .await
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    match task.await {
        Ok(result) => result,
        Err(e) => {
            Err(Error::new(ErrorKind::Sink, "a sink write stopped unexpectedly").with_cause(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(content: &[u8]) -> (u64, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        let removed = repair_tail(&mut file).unwrap_or_else(|e| panic!("{e}"));
        (removed, std::fs::read(&path).unwrap_or_default())
    }

    #[test]
    fn a_torn_tail_is_cut_back_to_the_last_newline() {
        assert_eq!(repaired(b""), (0, b"".to_vec()));
        assert_eq!(repaired(b"a\nb\n"), (0, b"a\nb\n".to_vec()));
        assert_eq!(repaired(b"a\nb\n{\"id"), (4, b"a\nb\n".to_vec()));
        assert_eq!(repaired(b"{\"id"), (4, b"".to_vec()));
        // A torn line longer than the block read at a time.
        let mut long = b"first\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200_000));
        assert_eq!(repaired(&long), (200_000, b"first\n".to_vec()));
        let no_newline = vec![b'y'; 150_000];
        assert_eq!(repaired(&no_newline), (150_000, Vec::new()));
    }

    #[test]
    fn temporary_names_are_unique() {
        let path = Path::new("/x/files/abc.md");
        let a = unique_temporary(path);
        let b = unique_temporary(path);
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
    }
}
