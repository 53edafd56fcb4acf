//! The file machinery the NDJSON and directory sinks share: how durable an acknowledged batch
//! is, an append-only file whose writes cannot be torn by a dropped future, and the repair of a
//! last line torn by a crash.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
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
/// With a store that [group-commits](crate::state::FileStateStore::group_commit) (the CLI's
/// default with `--state FILE` and an NDJSON `--out` file), the output is written with
/// [`Flush`](Durability::Flush) and made durable by the store at its group points through
/// [`DurableOutput`], before the store's journal claims the batches: then it is the state, not
/// the sink's acknowledgement, that covers only durable output, and a reopened output is cut
/// back to what the state claims
/// ([`NdjsonSink::append_grouped`](super::NdjsonSink::append_grouped)): after a kill every
/// document is there once, none twice.
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

/// Where a file output stood when it was last made durable: its length then, which file it
/// is, and a hash of its last bytes before that length.
///
/// A group-committing [`FileStateStore`](crate::state::FileStateStore) records one in its
/// journal at each group point, before the journal lines of the batches it covers, so the
/// state never claims a batch past what the output kept. When the output is opened again
/// ([`NdjsonSink::append_grouped`](super::NdjsonSink::append_grouped)), what was written past
/// the mark (batches acknowledged by a run that was killed before its next group point, which
/// the state does not claim and the resumed run delivers again) is cut off, but only when the
/// file is the same one (same device and inode, the same bytes before the mark) and longer: a
/// rotated, replaced or shorter file is never cut.
///
/// The store also records with each commit how long the output was once the batch was
/// written ([`DurableOutput::written_len`]); when the journal's last group was cut short (a
/// kill in the middle of its write, or a tear of its last line), the mark it returns carries
/// the length the commits that survived claim, [`claimed`](OutputMark::claimed), and the
/// output is cut back to that instead, so no batch the state forgot stays in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMark {
    /// The output's length in bytes when it was made durable.
    pub len: u64,
    /// Where a longer output is cut back to when it is not `len`: the length the commits the
    /// state holds since this mark recorded (at most `len`). `None`: `len`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<u64>,
    /// The device the file is on (Unix only; `None` elsewhere: such a file is never cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<u64>,
    /// The file's inode (Unix only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    /// XXH3 of the (up to) [`OutputMark::TAIL`] bytes before `len`.
    pub tail: u64,
}

impl OutputMark {
    /// How many bytes before the mark its `tail` hashes.
    pub const TAIL: u64 = 64;

    /// Whether `other` marks the same place of the same file (`claimed` aside).
    pub fn same_place(&self, other: &OutputMark) -> bool {
        (self.len, self.dev, self.ino, self.tail) == (other.len, other.dev, other.ino, other.tail)
    }

    /// Where a longer file is cut back to: [`claimed`](OutputMark::claimed) when it is within
    /// the mark, else [`len`](OutputMark::len).
    pub fn cut_to(&self) -> u64 {
        self.claimed.filter(|c| *c <= self.len).unwrap_or(self.len)
    }
}

/// An output whose writes a group-committing state store makes durable at its group points
/// (see [`FileStateStore::group_commit`](crate::state::FileStateStore::group_commit)).
///
/// The sink acknowledges a batch once the operating system has it
/// ([`Durability::Flush`]); the store calls [`make_durable`](DurableOutput::make_durable)
/// before it writes the journal lines of the batches acknowledged since its last group point,
/// and records the returned mark with them.
#[async_trait]
pub trait DurableOutput: Send + Sync + std::fmt::Debug {
    /// Makes everything written so far durable (`fdatasync`), waiting for a write in flight,
    /// and returns where the output stands.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the file when it cannot be synced or read.
    async fn make_durable(&self) -> Result<OutputMark>;

    /// How long the output is after the writes that have returned so far (durable or not),
    /// when it is known: the store records it with each commit, so that a group whose journal
    /// write was cut short cuts the output back to the last batch the state still claims
    /// rather than to the group's start. `None` (the default) records nothing.
    fn written_len(&self) -> Option<u64> {
        None
    }
}

/// [`AppendFile`]'s written length when a failed write left it unknown.
const UNKNOWN_LEN: u64 = u64::MAX;

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
    /// The file's length after the last write that returned ([`UNKNOWN_LEN`] after a failed
    /// one, until the next [`make_durable`](AppendFile::make_durable)); set under the file's
    /// lock.
    written: Arc<AtomicU64>,
    /// A group-committed output's length up to which write-back has been started (see
    /// [`crate::fs::start_write_back`]), so that the group point's `fdatasync` finds most of
    /// the bytes on their way to the disk already; `None` for other outputs (a plain one is
    /// never synced, a durable one is synced after each write).
    write_back: Option<Arc<AtomicU64>>,
}

impl AppendFile {
    /// Opens `path` for appending (creating it), or truncates it when `truncate`. An existing
    /// file whose last line has no newline (a write cut short by the end of a process) is cut
    /// back to its last complete line first, and a warning says how many bytes went.
    pub(super) async fn open(path: &Path, truncate: bool, durability: Durability) -> Result<Self> {
        Self::open_at(path, truncate, durability, None).await
    }

    /// [`open`](AppendFile::open) for a group-committing store's output, after cutting the
    /// file back to `mark` when it is the file the mark was taken of and longer (see
    /// [`OutputMark`]); a warning says how many bytes went (or why nothing was cut). The file
    /// (its size after the cut) and its folder entry are synced before anything is appended,
    /// as a durable file's are, since the store's first mark is taken of it.
    pub(super) async fn open_grouped(path: &Path, mark: Option<OutputMark>) -> Result<Self> {
        Self::open_at(path, false, Durability::Flush, Some(mark)).await
    }

    /// `grouped`: `Some(mark)` for [`open_grouped`](AppendFile::open_grouped).
    async fn open_at(
        path: &Path,
        truncate: bool,
        durability: Durability,
        grouped: Option<Option<OutputMark>>,
    ) -> Result<Self> {
        let owned = path.to_path_buf();
        let (file, removed, cut, len) = blocking(path, "open", move || {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&owned)?;
            if truncate {
                file.set_len(0)?;
            }
            let cut = match grouped {
                Some(Some(mark)) => cut_to_mark(&mut file, &mark)?,
                _ => Cut::Nothing,
            };
            let removed = repair_tail(&mut file)?;
            if durability == Durability::Fsync || grouped.is_some() {
                // The file may be new (or just cut back): its size and its folder's entry are
                // part of what must survive.
                file.sync_all()?;
                sync_folder(&owned);
            }
            let len = file.metadata()?.len();
            Ok((file, removed, cut, len))
        })
        .await?;
        match cut {
            Cut::Nothing => {}
            Cut::Removed(bytes) => tracing::warn!(
                file = %path.display(),
                bytes,
                "cut the output back to where the state's last group commit left it: these \
                 bytes were written by a run that ended before its next group point, the state \
                 does not claim them, and this run delivers them again"
            ),
            Cut::Refused(why) => tracing::warn!(
                file = %path.display(),
                "not cutting the output back to the state's last group commit: {why}; \
                 batches written after it by an interrupted run may appear twice"
            ),
        }
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
            written: Arc::new(AtomicU64::new(len)),
            write_back: grouped.map(|_| Arc::new(AtomicU64::new(len))),
        })
    }

    /// Records the outcome of a write of `bytes` (under the file's lock).
    fn wrote(&self, bytes: usize, ok: bool) {
        record_write(&self.written, bytes, ok);
    }

    /// After a write (under the file's lock): starts the write-back of what a group-committed
    /// output holds past where it was last started, once that is a step's worth.
    fn write_back(file: &File, written: &AtomicU64, started: Option<&AtomicU64>) {
        let Some(started) = started else {
            return;
        };
        let (now, from) = (
            written.load(Ordering::Acquire),
            started.load(Ordering::Acquire),
        );
        if now != UNKNOWN_LEN && now >= from.saturating_add(crate::fs::WRITE_BACK_STEP) {
            crate::fs::start_write_back(file, from, now - from);
            started.store(now, Ordering::Release);
        }
    }

    /// Whether a write of `bytes` brings a group-committed output a write-back step past where
    /// its write-back was last started (see [`write_back`](Self::write_back)).
    fn write_back_due(&self, bytes: usize) -> bool {
        self.write_back.as_deref().is_some_and(|started| {
            let now = self.written.load(Ordering::Acquire);
            now != UNKNOWN_LEN
                && now.saturating_add(bytes as u64)
                    >= started
                        .load(Ordering::Acquire)
                        .saturating_add(crate::fs::WRITE_BACK_STEP)
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
        let written = Arc::clone(&self.written);
        let write_back = self.write_back.clone();
        join(tokio::task::spawn_blocking(move || {
            let mut file: OwnedMutexGuard<File> = guard;
            before(durability)?;
            if buf.is_empty() {
                return Ok(());
            }
            let started = Instant::now();
            let write = |file: &mut File| -> std::io::Result<()> {
                let wrote = file.write_all(&buf);
                record_write(&written, buf.len(), wrote.is_ok());
                wrote?;
                if durability == Durability::Fsync {
                    file.sync_data()?;
                }
                Ok(())
            };
            write(&mut file).map_err(|e| io_error(&path, "write to", e))?;
            if durability == Durability::Fsync {
                syncs.record(started.elapsed());
            }
            Self::write_back(&file, &written, write_back.as_deref());
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
        let len = Arc::clone(&self.written);
        let write_back = self.write_back.clone();
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
            // The length now: after the batch, or back at its start when it failed and was cut.
            let now = match &written {
                Ok(()) => file.metadata().map(|m| m.len()),
                Err(_) => file.set_len(start).map(|()| start),
            };
            len.store(now.as_ref().map_or(UNKNOWN_LEN, |l| *l), Ordering::Release);
            if written.is_ok() {
                Self::write_back(&file, &len, write_back.as_deref());
            }
            match written {
                Ok(()) if durability == Durability::Fsync => {
                    file.sync_data().map_err(|e| io_error(&path, "write to", e))
                }
                Ok(()) => Ok(()),
                Err(e) => {
                    if let Err(cut) = now {
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
    /// of the write, so a dropped future cannot leave the batch half written either. Except
    /// the batch of a group-committed output that brings it a write-back step past where its
    /// write-back was last started: that one goes to the blocking pool, which starts the
    /// write-back there ([`crate::fs::start_write_back`] can sleep while a congested device
    /// takes the requests, which must not stall a runtime worker); once a MiB or so.
    ///
    /// So is a small batch to be synced while the file's syncs are quick (tmpfs, a write cache
    /// that survives power loss; see `SyncGauge` in `fs.rs`); otherwise the write and its sync
    /// run on the blocking pool, where they are timed.
    ///
    /// Returns `buf` when it was written in place, for the caller's next batch (a batch of the
    /// NDJSON sink is tens of KiB, allocated once per run instead of once per batch).
    pub(super) async fn append(&self, buf: Vec<u8>) -> Result<Option<Vec<u8>>> {
        if self.durability == Durability::Flush
            && buf.len() <= DIRECT_WRITE_MAX
            && !self.write_back_due(buf.len())
        {
            let mut file = self.file.lock().await;
            let wrote = file.write_all(&buf);
            self.wrote(buf.len(), wrote.is_ok());
            wrote.map_err(|e| io_error(&self.path, "write to", e))?;
            return Ok(Some(buf));
        }
        if self.durability == Durability::Fsync && self.syncs.inline(buf.len()) {
            let mut file = self.file.lock().await;
            let started = Instant::now();
            let wrote = file.write_all(&buf);
            self.wrote(buf.len(), wrote.is_ok());
            wrote
                .and_then(|()| file.sync_data())
                .map_err(|e| io_error(&self.path, "write to", e))?;
            self.syncs.record(started.elapsed());
            return Ok(Some(buf));
        }
        self.append_after(buf, |_| Ok(())).await.map(|()| None)
    }
}

impl AppendFile {
    /// `fdatasync`s the file (after any write in flight, under its lock, on the blocking pool)
    /// and returns where it stands.
    pub(super) async fn make_durable(&self) -> Result<OutputMark> {
        let guard = self.file.clone().lock_owned().await;
        let path = self.path.clone();
        let written = Arc::clone(&self.written);
        let write_back = self.write_back.clone();
        join(tokio::task::spawn_blocking(move || {
            let mut file: OwnedMutexGuard<File> = guard;
            let mark = file
                .sync_data()
                .and_then(|()| mark_of(&mut file))
                .map_err(|e| io_error(&path, "sync", e))?;
            written.store(mark.len, Ordering::Release);
            if let Some(started) = write_back {
                // All of it is on the disk now.
                started.store(mark.len, Ordering::Release);
            }
            Ok(mark)
        }))
        .await
    }
}

/// Adds a write of `bytes` to the written length, or makes it unknown when the write failed
/// (part of it may be in the file). Under the file's lock.
fn record_write(written: &AtomicU64, bytes: usize, ok: bool) {
    let now = written.load(Ordering::Acquire);
    let next = if ok && now != UNKNOWN_LEN {
        now.saturating_add(bytes as u64)
    } else {
        UNKNOWN_LEN
    };
    written.store(next, Ordering::Release);
}

#[async_trait]
impl DurableOutput for AppendFile {
    async fn make_durable(&self) -> Result<OutputMark> {
        AppendFile::make_durable(self).await
    }

    fn written_len(&self) -> Option<u64> {
        Some(self.written.load(Ordering::Acquire)).filter(|l| *l != UNKNOWN_LEN)
    }
}

/// The mark of `file` as it is now. Blocking.
fn mark_of(file: &mut File) -> std::io::Result<OutputMark> {
    let meta = file.metadata()?;
    let (dev, ino) = file_key(&meta);
    let len = meta.len();
    Ok(OutputMark {
        len,
        claimed: None,
        dev,
        ino,
        tail: tail_hash(file, len)?,
    })
}

#[cfg(unix)]
fn file_key(meta: &std::fs::Metadata) -> (Option<u64>, Option<u64>) {
    use std::os::unix::fs::MetadataExt;
    (Some(meta.dev()), Some(meta.ino()))
}

#[cfg(not(unix))]
fn file_key(_meta: &std::fs::Metadata) -> (Option<u64>, Option<u64>) {
    (None, None)
}

/// XXH3 of the (up to) [`OutputMark::TAIL`] bytes of `file` before `len`. Blocking.
fn tail_hash(file: &mut File, len: u64) -> std::io::Result<u64> {
    let start = len.saturating_sub(OutputMark::TAIL);
    let mut tail = vec![0u8; (len - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut tail)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&tail))
}

/// What [`cut_to_mark`] did.
#[derive(Debug, PartialEq, Eq)]
enum Cut {
    /// The file ends at the mark.
    Nothing,
    /// This many bytes past the mark went.
    Removed(u64),
    /// Nothing was cut, for this reason.
    Refused(String),
}

/// Cuts `file` back to `mark` ([`OutputMark::cut_to`]) when it is the marked file (device,
/// inode and the bytes before the mark's length) and longer; never cuts another file or one
/// shorter than the mark. Blocking.
fn cut_to_mark(file: &mut File, mark: &OutputMark) -> std::io::Result<Cut> {
    let meta = file.metadata()?;
    let len = meta.len();
    let to = mark.cut_to();
    if len == to && file_key(&meta) == (mark.dev, mark.ino) {
        return Ok(Cut::Nothing);
    }
    if mark.dev.is_none() || file_key(&meta) != (mark.dev, mark.ino) {
        return Ok(Cut::Refused(
            "it is not the file the state recorded (rotated or replaced)".to_owned(),
        ));
    }
    if len < mark.len {
        return Ok(Cut::Refused(format!(
            "it is shorter ({len} bytes) than the state recorded ({} bytes)",
            mark.len
        )));
    }
    if len > to && tail_hash(file, mark.len)? != mark.tail {
        return Ok(Cut::Refused(
            "its bytes before the recorded length are not the ones the state recorded".to_owned(),
        ));
    }
    if len > to {
        file.set_len(to)?;
        return Ok(Cut::Removed(len - to));
    }
    Ok(Cut::Nothing)
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

    /// A mark taken of the file, then the file reopened at it: cut back only when it is the
    /// same file, longer, with the same bytes before the mark.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_reopened_output_is_cut_back_to_its_mark_only_when_it_is_the_same_longer_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.ndjson");
        let read = || std::fs::read(&path).unwrap_or_default();
        let file = AppendFile::open(&path, false, Durability::Flush)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        file.append(b"one\ntwo\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mark = file.make_durable().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mark.len, 8);
        file.append(b"three\nfour\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(file);

        // Longer, the same file: what came after the mark goes.
        let file = AppendFile::open_grouped(&path, Some(mark))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(), b"one\ntwo\n");
        // Appends go on at the mark, and a reopen at the same length cuts nothing.
        file.append(b"five\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let five = file.make_durable().await.unwrap_or_else(|e| panic!("{e}"));
        drop(file);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cut_to_mark(&mut f, &five).unwrap_or_else(|e| panic!("{e}")),
            Cut::Nothing
        );

        // Shorter than the mark (the user cut it): never cut, never grown.
        std::fs::write(&path, b"one\n").unwrap_or_else(|e| panic!("{e}"));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cut_to_mark(&mut f, &mark), Ok(Cut::Refused(_))));
        assert_eq!(read(), b"one\n");

        // Longer, but other bytes before the mark: not the output the mark was taken of.
        std::fs::write(&path, b"uno\ndos\ntres\n").unwrap_or_else(|e| panic!("{e}"));
        AppendFile::open_grouped(&path, Some(mark))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(), b"uno\ndos\ntres\n");

        // Replaced (rotated: a new file under the name), with the same bytes: another inode.
        std::fs::rename(&path, dir.path().join("old.ndjson")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, b"one\ntwo\nthree\n").unwrap_or_else(|e| panic!("{e}"));
        AppendFile::open_grouped(&path, Some(mark))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(), b"one\ntwo\nthree\n");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cut_to_mark(&mut f, &mark), Ok(Cut::Refused(_))));
    }

    #[test]
    fn temporary_names_are_unique() {
        let path = Path::new("/x/files/abc.md");
        let a = unique_temporary(path);
        let b = unique_temporary(path);
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
    }
    /// Swaps the file an [`AppendFile`] writes to (`/dev/full`, whose writes fail with
    /// `ENOSPC`, for a real failing write), returning the one it had.
    #[cfg(target_os = "linux")]
    async fn swap_file(file: &AppendFile, with: File) -> File {
        std::mem::replace(&mut *file.file.lock().await, with)
    }

    #[cfg(target_os = "linux")]
    fn dev_full() -> File {
        std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A group-committed output's write-back hints (`posix_fadvise`, which can sleep on a
    /// congested device) start on the blocking pool, never on the task that writes a small
    /// batch itself: the batch that crosses a step goes to the pool.
    #[tokio::test]
    async fn small_batches_start_no_write_back_on_the_calling_task() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.ndjson");
        let file = AppendFile::open_grouped(&path, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let here = || crate::fs::WRITE_BACKS_STARTED.with(std::cell::Cell::get);
        let before = here();
        let mut line = vec![b'x'; 4095];
        line.push(b'\n');
        let steps = 3;
        for _ in 0..steps * crate::fs::WRITE_BACK_STEP / 4096 {
            file.append(line.clone())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // A current-thread runtime: the calling task ran on this thread, the pool elsewhere.
        assert_eq!(
            here(),
            before,
            "a write-back was started on the calling task"
        );
        let started = file
            .write_back
            .as_ref()
            .map_or(0, |s| s.load(Ordering::Acquire));
        assert!(
            started >= (steps - 1) * crate::fs::WRITE_BACK_STEP,
            "write-back started up to {started} only"
        );
        assert_eq!(file.written_len(), Some(steps * crate::fs::WRITE_BACK_STEP));
    }

    /// The written length a group-committing store records with each commit: the file's
    /// length after every kind of write that returned (both inline paths of `append`,
    /// `append_after` on the blocking pool, `append_streamed` succeeding, and failing, when it
    /// cuts its batch off again), and unknown after a write that failed partway (part of it
    /// may be in the file) until `make_durable` reads the real length.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_written_length_follows_every_write_and_is_unknown_after_a_failed_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, b"earlier\n").unwrap_or_else(|e| panic!("{e}"));
        let on_disk = || std::fs::metadata(&path).map_or(0, |m| m.len());
        let mut file = AppendFile::open(&path, false, Durability::Flush)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(8), "the length as opened");

        // A small unsynced batch, written on the calling task.
        file.append(b"one\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(on_disk()));
        // A batch larger than the calling task writes: on the blocking pool (`append_after`).
        let big = vec![b'x'; DIRECT_WRITE_MAX + 1];
        file.append([big.as_slice(), b"\n"].concat())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(on_disk()));
        assert_eq!(on_disk(), 8 + 4 + DIRECT_WRITE_MAX as u64 + 2);
        // `append_after` with a step before the write (the directory sink's bodies).
        file.append_after(b"two\n".to_vec(), |_| Ok(()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(on_disk()));
        // A small synced batch while syncs are quick: on the calling task too.
        file.set_durability(Durability::Fsync);
        file.syncs.assume_quick();
        file.append(b"three\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(on_disk()));
        // A streamed batch.
        file.append_streamed(|out| {
            out.write_all(b"four\nfive\n")
                .map_err(|e| io_error(Path::new("out"), "write to", e))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.written_len(), Some(on_disk()));
        let before = on_disk();
        // A streamed batch that fails after writing part of itself: cut off again, and the
        // length is the real one.
        let failed = file
            .append_streamed(|out| {
                out.write_all(&vec![b'y'; crate::spool::CHUNK * 2])
                    .map_err(|e| io_error(Path::new("out"), "write to", e))?;
                Err(Error::new(ErrorKind::Sink, "the body's file went away"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(on_disk(), before, "the failed batch was not cut off");
        assert_eq!(file.written_len(), Some(before));

        // Writes that fail (a full disk), on each path: the length is unknown, and stays so
        // after a write that succeeds, until `make_durable`.
        for (durability, len) in [
            (Durability::Flush, 4),
            (Durability::Flush, DIRECT_WRITE_MAX + 1),
            (Durability::Fsync, 4),
        ] {
            file.set_durability(durability);
            file.syncs.assume_quick();
            let real = swap_file(&file, dev_full()).await;
            assert!(file.append(vec![b'z'; len]).await.is_err());
            assert_eq!(file.written_len(), None, "{durability:?}, {len} bytes");
            swap_file(&file, real).await;
            file.append(b"six\n".to_vec())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(file.written_len(), None, "known again before a sync");
            let mark = file.make_durable().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(mark.len, on_disk());
            assert_eq!(file.written_len(), Some(on_disk()));
        }
    }

    /// A mark whose `claimed` is below its length (a group cut short after some of its
    /// commits): a longer file, and one that ends at the mark, are cut back to `claimed`,
    /// once their bytes before the mark's length match; another file is not cut.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_reopened_output_is_cut_back_to_what_the_mark_claims() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.ndjson");
        let read = || std::fs::read(&path).unwrap_or_default();
        let file = AppendFile::open(&path, false, Durability::Flush)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        file.append(b"one\ntwo\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let claimed = file.written_len();
        assert_eq!(claimed, Some(8));
        file.append(b"three\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mark = OutputMark {
            claimed,
            ..file.make_durable().await.unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!((mark.len, mark.cut_to()), (14, 8));
        drop(file);

        // Ends at the mark: cut back to what the state claims.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cut_to_mark(&mut f, &mark).unwrap_or_else(|e| panic!("{e}")),
            Cut::Removed(6)
        );
        assert_eq!(read(), b"one\ntwo\n");

        // Longer than the mark: the same.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"three\nfour\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let file = AppendFile::open_grouped(&path, Some(mark))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(), b"one\ntwo\n");
        assert_eq!(file.written_len(), Some(8));
        drop(file);

        // Other bytes before the mark's length (the bytes `claimed` keeps are the same): not
        // the output the mark was taken of, so nothing is cut.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"THREE\nfour\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        AppendFile::open_grouped(&path, Some(mark))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(), b"one\ntwo\nTHREE\nfour\n");
    }
}
