use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::prune::{MarkedData, MarkingPass};
use super::{
    CheckpointUpdate, Commit, DocumentState, DocumentStates, FailedItem, Known, PrunePass,
    RunRecord, STATE_VERSION, StateData, StateStore, StoredCheckpoint, SyncState,
};
use crate::connector::CheckpointJson;
use crate::document::Document;
use crate::error::{Error, ErrorKind, Result};
use crate::fs::SyncGauge;
use crate::sink::{DurableOutput, OutputMark};

/// During a run the journal is folded into the snapshot only once it is past this many bytes
/// (so a small state is not rewritten every few commits), and past [`COMPACT_RATIO`] times the
/// snapshot.
const MIN_COMPACT_BYTES: u64 = 1024 * 1024;

/// The journal is folded into the snapshot once it is this many times the snapshot's size.
///
/// A snapshot rewrite costs the whole state, so the state written per change must stay O(1)
/// amortised: with a ratio `k` the snapshots of a growing state are `k + 1` times larger each,
/// `(k + 1) / k` bytes of snapshot per byte of change in all. 1 rewrote the state about twice
/// over during a first run (and once more at its end); 2 writes 1.5 times it, and leaves at
/// most twice the state's size of journal to replay on open.
const COMPACT_RATIO: u64 = 2;

/// Keeps state in a JSON snapshot plus an append-only journal beside it (`{path}.journal`).
///
/// Every change is one JSON line appended to the journal and `fsync`ed before the call
/// returns, so a commit costs what it changes, not the size of the whole state. When the
/// journal grows past twice the snapshot (and past 1 MiB), the snapshot is rewritten
/// atomically (a temporary file of this writer's own, `fsync`, rename) and the journal
/// emptied. The end of a run does the same when the journal is past twice the snapshot, or
/// when there is no snapshot yet; otherwise the journal stays for the next open to replay, so
/// a run that changes little does not rewrite the whole state.
///
/// **Group commit.** A store as opened makes every commit its own journal line, synced before
/// the call returns (per-batch mode). With [`group_commit`](FileStateStore::group_commit) the
/// store instead holds commits' lines and writes them at group points, after making the
/// output they describe durable and recording its length: two `fsync`s per group instead of
/// two per batch, for a store whose only writer of output is one file. The CLI does this by
/// default with `--state FILE` and an NDJSON `--out` file (`--durability group`); its
/// directory output and stdout, the SQL stores and other sinks stay per batch.
///
/// **One store per file.** The store holds an advisory lock on `{path}.lock` (which names the
/// holder's process id) for as long as it lives; opening a file another store holds, in this
/// process or another, is an [`ErrorKind::State`] error naming that process id. The lock goes
/// with the store (or its process, however it ends), so a lock file left behind by a killed
/// run blocks nobody.
///
/// **Crash consistency.** A crash leaves a consistent state at every point: a journal line cut
/// short (no newline) was never acknowledged, so opening the store cuts it off before anything
/// is appended (with a warning); entries already in the snapshot are skipped by their sequence
/// number; a line that an older version appended right after such a torn line is read from
/// where its entry begins; temporary files left by a crashed snapshot write are removed; and
/// anything else that does not parse is reported as an [`ErrorKind::State`] error naming the
/// file and line, never silently dropped.
///
/// **Older binaries.** A file written by this version opens in a release from before stores
/// kept parents (a document's `parent_id` is a field it does not read), but its next snapshot
/// and its journal lines leave the parents out. After upgrading again, a document gets its
/// parent back when its connector (one that asks for children) lists it again; until then
/// [`children`](StateStore::children) misses it.
///
/// **Cancel safety.** A journal line is written and synced with nothing awaited in between,
/// either on the calling task (while the journal's syncs are quick, see `SyncGauge` in
/// `fs.rs`) or on the blocking pool in a task that owns the files' lock, as every snapshot is:
/// a call whose future is dropped still finishes its write (or its snapshot) whole, and the
/// next call waits for it and reads the files again. That task holds the state's advisory
/// lock too: a store dropped while one runs (its group mode's timer writing, say) keeps the
/// state locked until the write is done, so a store opened again meanwhile waits for it.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    journal_path: PathBuf,
    /// The journal and the state's advisory lock, behind the mutex every blocking task on
    /// the files holds (see [`FileStateStore`]'s cancel safety): the lock is released only
    /// when the last of them is done, this store or a write it left running.
    files: Arc<Mutex<Journal>>,
    /// Shared with the group mode's timer (see [`FileStateStore::group_commit`]).
    inner: Arc<Mutex<Option<Loaded>>>,
    /// Whether the journal's syncs are quick enough to append on the calling task.
    syncs: SyncGauge,
    /// The output this store group-commits with, if it does (see
    /// [`group_commit`](FileStateStore::group_commit)).
    group: Option<Group>,
    /// Group mode: the timer task that writes held lines once they are
    /// [`interval`](GroupCommit::interval) old and no commit came to write them; ended when
    /// the store is dropped.
    timer: Option<tokio::task::AbortHandle>,
    /// Group mode: the error of a group point the timer failed at, for the next change to
    /// return (its held lines are lost, as a failed group point's are).
    timer_failed: Arc<std::sync::Mutex<Option<Error>>>,
}

/// The journal's file, with the advisory lock on `{path}.lock` that every write of the files
/// holds: a blocking task writing them (a snapshot, a group of journal lines) holds this
/// behind the files' mutex, so a store dropped while the task runs (its timer's group point,
/// a call whose future was dropped) keeps the state locked until the write is done, and
/// nothing reopens the files halfway through it.
#[derive(Debug)]
struct Journal {
    file: File,
    _lock: StateLock,
}

impl std::ops::Deref for Journal {
    type Target = File;

    fn deref(&self) -> &File {
        &self.file
    }
}

impl std::ops::DerefMut for Journal {
    fn deref_mut(&mut self) -> &mut File {
        &mut self.file
    }
}

impl Drop for FileStateStore {
    fn drop(&mut self) {
        if let Some(timer) = &self.timer {
            timer.abort();
        }
        // A write still running holds the files (and the state's lock): a store opened
        // again in this process waits for it (see `wait_for_dropped`).
        if Arc::strong_count(&self.files) > 1 {
            let mut dropped = DROPPED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            dropped.retain(|(_, files)| files.strong_count() > 0);
            dropped.push((self.path.clone(), Arc::downgrade(&self.files)));
        }
    }
}

/// The files of stores dropped while a write of theirs was still running, by state path.
static DROPPED: std::sync::Mutex<Vec<(PathBuf, std::sync::Weak<Mutex<Journal>>)>> =
    std::sync::Mutex::new(Vec::new());

/// Waits until every write a dropped store of `path` left running is done, so its lock is
/// released: without it, a store opened again in the same process would give up after
/// `lock_state`'s short retry while a long write (a big snapshot, a slow disk) still runs.
async fn wait_for_dropped(path: &Path) {
    let pending: Vec<Arc<Mutex<Journal>>> = {
        let mut dropped = DROPPED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        dropped.retain(|(_, files)| files.strong_count() > 0);
        dropped
            .iter()
            .filter(|(p, _)| p == path)
            .filter_map(|(_, files)| files.upgrade())
            .collect()
    };
    for files in pending {
        // The write holds the files' mutex until it is done; this was the last reference
        // then, so the journal and the lock close as it goes.
        drop(files.lock().await);
    }
}

/// When a group-committing [`FileStateStore`] writes its held journal lines: see
/// [`FileStateStore::group_commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    interval: Duration,
    max_held_bytes: usize,
}

impl GroupCommit {
    /// The default time between group points: 200 ms, the interval at which PostgreSQL's WAL
    /// writer flushes asynchronous commits (`wal_writer_delay`). Two `fdatasync`s per group
    /// (the output's, the journal's) cost at most a few per cent of a run even on a disk whose
    /// syncs take 3 ms, and a run killed or cut by a power loss fetches at most about this
    /// much of its work again (after a kill nothing is duplicated in the output, which is cut
    /// back; see [`FileStateStore::group_commit`] for a power loss and a damaged journal).
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
    /// The default bound on the journal lines held between group points: 8 MiB, about 70,000
    /// documents' states, which a fast source acknowledges in well under the interval.
    pub const DEFAULT_MAX_HELD_BYTES: usize = 8 * 1024 * 1024;

    /// A group point about every `interval`: a commit that comes `interval` or more after the
    /// last group point is one, and lines still held `interval` after the last group point
    /// (no commit came to write them: a slow source) are written then by the store's timer,
    /// a task on the Tokio runtime. Zero: every commit is a group point (and no timer runs).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// A group point once the held journal lines reach `bytes`. (A store with no snapshot yet
    /// holds no lines: its next group point writes the snapshot, see
    /// [`FileStateStore::group_commit`].)
    #[must_use]
    pub fn max_held_bytes(mut self, bytes: usize) -> Self {
        self.max_held_bytes = bytes;
        self
    }
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            interval: Self::DEFAULT_INTERVAL,
            max_held_bytes: Self::DEFAULT_MAX_HELD_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
struct Group {
    output: Arc<dyn DurableOutput>,
    options: GroupCommit,
}

/// An [`OutputMark`] as the journal keeps it: on a commit entry of its own (`"output"`, a
/// field older releases read past), written first in its group, with `upto`, the last
/// sequence number of the group. It holds only while no entry in the journal goes past
/// `upto`: an entry written after it without a mark (per-batch mode, or an older release)
/// claims batches the mark does not cover, and then no output is cut.
///
/// Where the output is cut back to: the `output_len` of the last commit after the mark that
/// the journal holds (the group's last, or the last one a kill or a tear left); `len` when a
/// removal comes after that (its delete lines were written before it); `claimed`, the length
/// the state claimed before the group, when neither is left after the mark (nothing of the
/// group survived, or the group held only the end of a run or a carried checkpoint, as the
/// group point after a failed one does; `None`: `len`, as for a mark of the output as
/// opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct JournalMark {
    len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimed: Option<u64>,
    /// A mark written into the old journal before a snapshot's rename: what the state
    /// claimed before that snapshot, for when the snapshot read is older than `upto` and no
    /// entry follows the mark (the rename never happened); `claimed` is the new snapshot's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimed_before: Option<u64>,
    upto: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dev: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ino: Option<u64>,
    tail: u64,
}

impl JournalMark {
    fn new(mark: OutputMark, upto: u64) -> Self {
        Self {
            len: mark.len,
            claimed: None,
            claimed_before: None,
            upto,
            dev: mark.dev,
            ino: mark.ino,
            tail: mark.tail,
        }
    }

    fn output(&self) -> OutputMark {
        OutputMark {
            len: self.len,
            claimed: None,
            dev: self.dev,
            ino: self.ino,
            tail: self.tail,
        }
    }
}

/// The locked `{state}.lock`, holding this process's pid; emptied before it is released, so a
/// run refused later never reads the pid of a holder that is gone.
#[derive(Debug)]
struct StateLock(File);

impl Drop for StateLock {
    fn drop(&mut self) {
        // Best effort: a lock file left with a pid names a process that has ended.
        let _ = self.0.set_len(0);
    }
}

#[derive(Debug)]
struct Loaded {
    data: StateData,
    journal_bytes: u64,
    snapshot_bytes: u64,
    /// The sequence number of the last entry in the journal file (or the snapshot).
    durable_seq: u64,
    /// The output's last mark, when it still holds (see [`JournalMark`]).
    mark: Option<JournalMark>,
    /// The output length the last entry after the mark recorded, when it is a commit that
    /// recorded one (see [`OutputMark::claimed`]).
    claimed: Option<u64>,
    /// How many copies of the last mark end the journal (0 when its last line is no mark).
    tail_marks: usize,
    /// Group mode: lines applied in memory, not yet in the journal.
    held: Vec<u8>,
    /// Group mode: what the held lines leave the state claiming of the output, when one of
    /// them changes it (a commit: the output length it recorded; a removal: all of it, `None`);
    /// `None` when they leave it as the group's mark says (see [`Marks::read`]).
    held_claimed: Option<Option<u64>>,
    /// Group mode: when the last group point was.
    last_group: Instant,
}

impl Loaded {
    fn new(data: StateData, journal_bytes: u64, snapshot_bytes: u64, marks: Marks) -> Self {
        // A mark holds only if nothing after it claims more (see `JournalMark`).
        let mark = marks.last.filter(|m| m.upto >= data.seq);
        let claimed = match mark {
            // A compaction's mark in the old journal, the snapshot not renamed.
            Some(m) if marks.tail > 0 && data.seq < m.upto && m.claimed_before.is_some() => {
                m.claimed_before
            }
            Some(_) => marks.claimed,
            None => None,
        };
        Self {
            durable_seq: data.seq,
            data,
            journal_bytes,
            snapshot_bytes,
            mark,
            claimed,
            tail_marks: if mark.is_some() { marks.tail } else { 0 },
            held: Vec::new(),
            held_claimed: None,
            last_group: Instant::now(),
        }
    }
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Entry<'a> {
    Commit {
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint: Option<StoredCheckpoint>,
        #[serde(default, skip_serializing_if = "DocumentStates::is_empty")]
        documents: DocumentStates<'a>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failed: Vec<FailedItem>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolved: Vec<String>,
        /// The output's mark at a group point (group mode only): then the rest is empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<JournalMark>,
        /// Group mode: the output's length once this commit's batch was written (see
        /// [`OutputMark::claimed`]); a field older releases read past.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_len: Option<u64>,
    },
    Remove {
        seq: u64,
        ids: Vec<String>,
    },
    Finish {
        seq: u64,
        run: RunRecord,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_end: Option<DateTime<Utc>>,
    },
    Carry {
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint: Option<CheckpointJson>,
    },
}

impl Entry<'_> {
    /// The entry's journal line (without its newline): what `serde_json::to_vec` writes,
    /// with a commit's documents (most of a line, one per acknowledged document) written
    /// straight into the buffer rather than through the derived `Serialize`.
    fn line(&self) -> serde_json::Result<Vec<u8>> {
        let Self::Commit {
            seq,
            checkpoint,
            documents,
            failed,
            resolved,
            output,
            output_len,
        } = self
        else {
            return serde_json::to_vec(self);
        };
        let mut out = Vec::with_capacity(64 + documents.len() * 110);
        out.extend_from_slice(b"{\"op\":\"commit\",\"seq\":");
        crate::jsonw::write_u64(&mut out, *seq);
        if let Some(checkpoint) = checkpoint {
            out.extend_from_slice(b",\"checkpoint\":");
            serde_json::to_writer(&mut out, checkpoint)?;
        }
        if !documents.is_empty() {
            out.extend_from_slice(b",\"documents\":[");
            for (i, state) in documents.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                crate::jsonw::write_str(&mut out, state.id);
                out.extend_from_slice(b",{\"fingerprint\":");
                crate::jsonw::write_str(&mut out, state.fingerprint);
                if let Some(at) = &state.updated_at {
                    out.extend_from_slice(b",\"updated_at\":");
                    match super::Rfc3339::of(at) {
                        Some(text) => crate::jsonw::write_str(&mut out, text.as_str()),
                        None => serde_json::to_writer(&mut out, at)?,
                    }
                }
                if let Some(parent) = state.parent_id {
                    out.extend_from_slice(b",\"parent_id\":");
                    crate::jsonw::write_str(&mut out, parent);
                }
                out.extend_from_slice(b"}]");
            }
            out.push(b']');
        }
        if !failed.is_empty() {
            out.extend_from_slice(b",\"failed\":");
            serde_json::to_writer(&mut out, failed)?;
        }
        if !resolved.is_empty() {
            out.extend_from_slice(b",\"resolved\":");
            serde_json::to_writer(&mut out, resolved)?;
        }
        if let Some(output) = output {
            out.extend_from_slice(b",\"output\":");
            serde_json::to_writer(&mut out, output)?;
        }
        if let Some(len) = output_len {
            out.extend_from_slice(b",\"output_len\":");
            crate::jsonw::write_u64(&mut out, *len);
        }
        out.push(b'}');
        Ok(out)
    }

    fn seq(&self) -> u64 {
        match self {
            Self::Commit { seq, .. }
            | Self::Remove { seq, .. }
            | Self::Finish { seq, .. }
            | Self::Carry { seq, .. } => *seq,
        }
    }

    fn apply(self, data: &mut StateData) {
        data.seq = self.seq();
        match self {
            Self::Commit {
                checkpoint,
                documents,
                failed,
                resolved,
                ..
            } => data.apply(Commit {
                checkpoint: checkpoint.map_or(CheckpointUpdate::Keep, CheckpointUpdate::Set),
                documents,
                failed,
                resolved,
            }),
            Self::Remove { ids, .. } => data.remove(&ids),
            Self::Finish {
                run, window_end, ..
            } => data.finish(run, window_end),
            Self::Carry { checkpoint, .. } => data.carried = checkpoint,
        }
    }
}

impl FileStateStore {
    /// Opens the store at `path` (and its journal `{path}.journal`), reading them if they
    /// exist, and locks it for as long as the store lives. A missing file is an empty state;
    /// its parent folder is created.
    ///
    /// # Errors
    /// [`ErrorKind::State`] naming the file when another store holds it (with that process's
    /// id), or when it exists but cannot be read or is corrupt.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let journal_path = crate::fs::with_suffix(&path, ".journal");
        tokio::fs::create_dir_all(parent_of(&path))
            .await
            .map_err(|e| state_error(&path, "cannot create the folder of").with_cause(e))?;
        wait_for_dropped(&path).await;
        let (lock, journal) = blocking(&path, {
            let (path, journal_path) = (path.clone(), journal_path.clone());
            move || {
                // The lock first: nothing is read, repaired or removed while another run
                // writes.
                let lock = lock_state(&path)?;
                remove_stale_temporaries(&path);
                let journal = std::fs::OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(&journal_path)
                    .map_err(|e| state_error(&journal_path, "cannot open").with_cause(e))?;
                Ok((lock, journal))
            }
        })
        .await?;
        let store = Self {
            path,
            journal_path,
            files: Arc::new(Mutex::new(Journal {
                file: journal,
                _lock: StateLock(lock),
            })),
            inner: Arc::new(Mutex::new(None)),
            syncs: SyncGauge::new(),
            group: None,
            timer: None,
            timer_failed: Arc::new(std::sync::Mutex::new(None)),
        };
        let loaded = store.load_files().await?;
        *store.inner.lock().await = Some(loaded);
        Ok(store)
    }

    /// Where the snapshot lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Group commit: from now on a [`commit`](StateStore::commit) is applied in memory at once
    /// and its journal line held, and the held lines are written at group points, each of
    /// which first makes `output` durable and records how long it then was (an
    /// [`OutputMark`]), then appends the mark and the held lines to the journal with one
    /// `fdatasync`. So two syncs are paid per group instead of per batch, and the state never
    /// claims a batch the output did not keep, after a kill or a power loss too.
    ///
    /// Group points: this call (the output as opened, so that a run killed before its next
    /// group point has its output cut back to here), a commit that comes
    /// [`interval`](GroupCommit::interval) or more after the last group point or brings the
    /// held lines to [`max_held_bytes`](GroupCommit::max_held_bytes), the store's timer when
    /// lines are still held `interval` after the last group point (a source slow to send its
    /// next batch), and every other change:
    /// [`finish_run`](StateStore::finish_run) (the end of every run, finished, failed or
    /// cancelled: its held lines are made durable then), [`carry`](StateStore::carry),
    /// [`remove_documents`](StateStore::remove_documents) (prune's and the source's
    /// deletions). A compaction writes only what a group point made durable.
    ///
    /// A group point after which the journal would be folded into the snapshot at once (see
    /// [`FileStateStore`]), and every group point of a store with no snapshot yet (a first
    /// run), writes the snapshot instead of the held lines, leaving the journal holding the
    /// output's mark twice: the held lines are not written and synced into a journal about to
    /// be emptied, and a store with no snapshot makes no journal lines at all.
    ///
    /// What is held when the process ends (`kill -9`, a second Ctrl-C, a power loss) is not
    /// in the journal: the next run resumes from the last group point and delivers those
    /// batches again, and the output, opened with
    /// [`NdjsonSink::append_grouped`](crate::sink::NdjsonSink::append_grouped) and this
    /// store's [`output_mark`](FileStateStore::output_mark), is cut back to that point first,
    /// so the file holds no duplicate.
    ///
    /// What it promises (the CLI's default): after a kill, every document is in the output
    /// once the run is resumed, none twice, and the run fetches again at most what it
    /// acknowledged since its last group point (about [`interval`](GroupCommit::interval) of
    /// work, a slow source's too). Each held commit records the output's length after its batch
    /// ([`DurableOutput::written_len`]) and each mark what the state claimed before its
    /// group, so a group whose journal write is cut short (a kill inside the one `write`, a
    /// power loss keeping part of it) or whose last line is torn afterwards cuts the output
    /// back to the last commit the journal still holds: no batch twice then either. A power
    /// loss can lose the held batches and the output written since the last group point (they
    /// come again; nothing the state claims is lost); a journal damaged beyond its last line
    /// (more than one line torn) can leave a batch twice, never one missing. The start of a
    /// run writes its mark twice when the journal does not already end in a line a tear can
    /// take without taking the mark (see `attach`). `commit` returning `Ok` therefore means "applied", not
    /// "durable", which is a deviation from [`StateStore`]'s contract that only `output`'s
    /// writer may rely on (it stays true that what the store *claims* after a crash is durable
    /// in both files). Use it only when every batch the store commits was written to `output`
    /// before the commit, as the batch loop does with one sink; other sinks, and the SQL
    /// stores, stay per batch.
    ///
    /// A file written in group mode opens in per-batch mode and in older releases (the mark
    /// is an extra field of a commit entry, which they read past); a state written since the
    /// last mark by either makes the mark stale, and then no output is cut: a per-batch entry
    /// is numbered past the last mark's group (even one whose last lines were lost), and a
    /// commit after a mark that records no output length ends the mark's hold. (One case
    /// stays open: an older release that removes documents, or ends a run, right after a
    /// group whose very last line was lost numbers its entry as that line was; a prune's
    /// delete lines written then can be cut by the next group run, so the documents stay in
    /// the output though the state has dropped them. Nothing the state holds is lost.)
    ///
    /// A per-batch run's output opened with
    /// [`NdjsonSink::append_at_mark`](crate::sink::NdjsonSink::append_at_mark) (the CLI's
    /// `--durability batch`) is cut back to the mark as well; one opened with
    /// [`NdjsonSink::append`](crate::sink::NdjsonSink::append) (or by an older release) keeps
    /// the batches a killed group run wrote since its last group point, and they come twice.
    ///
    /// A group point that fails (the output cannot be synced, the journal written: `EIO`, a
    /// full disk) loses the held lines: the change that reached it returns the error (the
    /// timer's, the store's next change), and the one after it reads the files again. Their
    /// batches stay in the output, but the next group point's mark records what the state
    /// claimed before them and the end of a run claims nothing more, so the next open cuts
    /// them off (see `JournalMark`).
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] when `output` cannot be synced, [`ErrorKind::State`] when the
    /// journal cannot be written.
    pub async fn group_commit(
        mut self,
        output: Arc<dyn DurableOutput>,
        options: GroupCommit,
    ) -> Result<Self> {
        self.group = Some(Group { output, options });
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        {
            let mut guard = self.inner.lock().await;
            let mut loaded = match guard.take() {
                Some(l) => l,
                None => self.load_files().await?,
            };
            if let Some(group) = &self.group {
                self.attach(group, &mut loaded).await?;
            }
            *guard = Some(loaded);
        }
        self.timer = self
            .group
            .as_ref()
            .and_then(|group| self.start_timer(group));
        Ok(self)
    }

    /// Starts the group mode's timer (none when every commit is a group point): a task that
    /// wakes [`interval`](GroupCommit::interval) after each group point and, when lines are
    /// still held then (no commit came to write them: a slow source), writes them at a group
    /// point of its own (with no snapshot yet, the snapshot that holds them). It holds the store only while it writes (a weak reference
    /// otherwise), and a failure is kept for the store's next change to return.
    fn start_timer(&self, group: &Group) -> Option<tokio::task::AbortHandle> {
        let interval = group.options.interval;
        if interval.is_zero() {
            return None;
        }
        let inner = Arc::downgrade(&self.inner);
        let failed = Arc::clone(&self.timer_failed);
        // Weak, as `inner`: an idle timer of a dropped store keeps nothing locked.
        let files = Arc::downgrade(&self.files);
        let path = self.path.clone();
        let journal_path = self.journal_path.clone();
        let group = group.clone();
        let task = tokio::spawn(async move {
            let mut wake = Instant::now() + interval;
            loop {
                tokio::time::sleep_until(wake.into()).await;
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let mut guard = inner.lock().await;
                let due = match guard.as_ref() {
                    // Held lines are due `interval` after the group point before them, and so
                    // are entries applied with no line made (no snapshot yet: the group point
                    // writes one).
                    Some(loaded)
                        if !loaded.held.is_empty()
                            || (loaded.snapshot_bytes == 0
                                && loaded.durable_seq < loaded.data.seq) =>
                    {
                        let at = loaded.last_group + interval;
                        wake = at;
                        Instant::now() >= at
                    }
                    // Nothing held (a commit held from now on is due within an interval of
                    // now), or the files to be read again by the next change.
                    _ => {
                        wake = Instant::now() + interval;
                        false
                    }
                };
                if !due {
                    continue;
                }
                let Some(files) = files.upgrade() else {
                    return;
                };
                let Some(mut loaded) = guard.take() else {
                    continue;
                };
                let written = if loaded.snapshot_bytes == 0 {
                    Self::compact_group(&files, &path, &journal_path, &group, &mut loaded).await
                } else {
                    Self::write_group(&files, &journal_path, &group, &mut loaded).await
                };
                match written {
                    Ok(()) => *guard = Some(loaded),
                    // `guard` stays empty: the next change reads what is on disk (the held
                    // entries are gone, and the run delivers their batches again) after
                    // returning this error.
                    Err(e) => {
                        if let Ok(mut failed) = failed.lock() {
                            *failed = Some(e);
                        }
                    }
                }
                wake = Instant::now() + interval;
            }
        });
        Some(task.abort_handle())
    }

    /// The group point of [`group_commit`](FileStateStore::group_commit): makes the output
    /// as opened durable and leaves the journal ending in a mark of it that a tear of the
    /// journal's last line cannot take away, so that a run killed before its next group point
    /// has its output cut back to here.
    ///
    /// When the state's last mark holds and marks the output as it is (the output was cut
    /// back to it, or the last run ended at it), it stays: nothing is written if a line comes
    /// after it in the journal (a tear takes that line, and the mark still covers what is
    /// left), one more copy if it is the journal's last line alone. Otherwise the new mark is
    /// written twice. (A kill tears only the write in flight, and none is after this one
    /// until the run writes output; the copies keep the promise against any tear of the last
    /// line, such as the fault suite's or a file system that loses a file's last block.)
    async fn attach(&self, group: &Group, loaded: &mut Loaded) -> Result<()> {
        let output = group.output.make_durable().await?;
        let (mark, copies) = match loaded.mark {
            Some(mark)
                if mark.output().same_place(&output)
                    && loaded.claimed.is_none_or(|c| c == mark.len) =>
            {
                let copies = match loaded.tail_marks {
                    0 => 0,
                    n => 2usize.saturating_sub(n),
                };
                (mark, copies)
            }
            _ => (JournalMark::new(output, loaded.data.seq), 2),
        };
        if copies > 0 {
            let line = Self::mark_line(&self.journal_path, loaded.durable_seq, mark)?;
            let mut lines = Vec::with_capacity(line.len() * copies);
            for _ in 0..copies {
                lines.extend_from_slice(&line);
            }
            let bytes = lines.len() as u64;
            let mut journal = self.files.clone().lock_owned().await;
            let journal_path = self.journal_path.clone();
            blocking(&self.journal_path, move || {
                append_line(&mut journal, &lines, &journal_path)
            })
            .await?;
            loaded.journal_bytes += bytes;
            loaded.tail_marks = if loaded.mark == Some(mark) {
                loaded.tail_marks + copies
            } else {
                copies
            };
            loaded.claimed = mark.claimed;
        }
        loaded.mark = Some(mark);
        loaded.last_group = Instant::now();
        Ok(())
    }

    /// Where the output stood at this state's last group point, when the state claims nothing
    /// past it (see [`group_commit`](FileStateStore::group_commit)): what
    /// [`NdjsonSink::append_grouped`](crate::sink::NdjsonSink::append_grouped) cuts a longer
    /// output back to. `None` when the state has no mark, or when entries written after it
    /// without one (per-batch mode, an older release) claim more.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the store cannot be read.
    pub async fn output_mark(&self) -> Result<Option<OutputMark>> {
        let mut guard = self.inner.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_files().await?);
        }
        Ok(guard.as_ref().and_then(|l| {
            let mark = l.mark?;
            match l.claimed {
                // A commit claiming past the mark it follows: nothing is cut, to be safe.
                Some(claimed) if claimed > mark.len => None,
                claimed => Some(OutputMark {
                    claimed,
                    ..mark.output()
                }),
            }
        }))
    }

    /// Reads the snapshot and replays the journal, cutting a torn journal tail off; under the
    /// files' lock, so no write of a dropped call is halfway through meanwhile.
    async fn load_files(&self) -> Result<Loaded> {
        let journal = self.files.clone().lock_owned().await;
        let path = self.path.clone();
        let journal_path = self.journal_path.clone();
        let (loaded, torn) = blocking(&self.path, move || {
            let mut journal = journal;
            let (mut data, snapshot_bytes) = read_snapshot(&path)?;
            let (journal_bytes, torn, marks) =
                replay_journal(&journal_path, &mut journal, &mut data)?;
            Ok((
                Loaded::new(data, journal_bytes, snapshot_bytes, marks),
                torn,
            ))
        })
        .await?;
        if torn.cut > 0 {
            tracing::warn!(
                journal = %self.journal_path.display(),
                bytes = torn.cut,
                "removed a torn last line from the state journal (a write cut short by the end \
                 of an earlier run); it was never acknowledged"
            );
        }
        for line in torn.salvaged {
            tracing::warn!(
                journal = %self.journal_path.display(),
                line,
                "a journal line began with the remains of an interrupted write; read the entry \
                 after them"
            );
        }
        Ok(loaded)
    }

    /// Appends one entry (built from the next sequence number) and applies it, then folds the
    /// journal into the snapshot if it has outgrown it (`at_end`: the end of a run, which has
    /// no size floor). When the write fails the in-memory copy is dropped, so the next call
    /// reads what is really on disk.
    ///
    /// In group mode the entry is applied at once and its line held; the held lines are
    /// written at the next group point (see [`group_commit`](FileStateStore::group_commit)),
    /// which every entry but a commit is.
    async fn append<'a>(&self, make: impl FnOnce(u64) -> Entry<'a>, at_end: bool) -> Result<()> {
        let mut guard = self.inner.lock().await;
        // A group point the timer failed at lost the lines it held: this change fails as the
        // commit that reached that group point would have.
        if let Some(e) = self.timer_failed.lock().ok().and_then(|mut f| f.take()) {
            return Err(e);
        }
        let mut loaded = match guard.take() {
            Some(l) => l,
            None => self.load_files().await?,
        };
        // A per-batch entry is numbered past the last mark's group even where that group was
        // cut short (its last entries lost to a kill or a torn line): a number the mark still
        // covers would leave the mark holding over output this entry claims, and the next
        // group run would cut that output away (see `JournalMark`). Numbers may skip; replay
        // applies whatever is past the state's.
        let next = match (&self.group, loaded.mark) {
            (None, Some(mark)) => loaded.data.seq.max(mark.upto) + 1,
            _ => loaded.data.seq + 1,
        };
        let mut entry = make(next);
        if let (
            Some(group),
            Entry::Commit {
                output_len: len @ None,
                ..
            },
        ) = (&self.group, &mut entry)
        {
            // The batch was written before its commit: the output is at least this long.
            *len = group.output.written_len();
        }
        let line = |entry: &Entry<'_>| {
            let mut line = entry.line().map_err(|e| {
                state_error(&self.journal_path, "cannot serialise an entry for").with_cause(e)
            })?;
            line.push(b'\n');
            Ok::<_, Error>(line)
        };
        if let Some(group) = &self.group {
            // With no snapshot yet, the next group point writes one (below), which holds the
            // held entries: their journal lines would never be written, so none is made (a
            // first run's whole state, about a third of what the store costs it).
            let to_snapshot = loaded.snapshot_bytes == 0;
            if !to_snapshot {
                loaded.held.extend_from_slice(&line(&entry)?);
            }
            let is_commit = matches!(entry, Entry::Commit { .. });
            // What replay makes of this line (see `Marks::read`): a commit claims the output
            // up to the length it recorded, a removal all of it (its delete lines were
            // written before it); the end of a run and a carried checkpoint write no output
            // and leave the claim as it was.
            match &entry {
                Entry::Commit { output_len, .. } => loaded.held_claimed = Some(*output_len),
                Entry::Remove { .. } => loaded.held_claimed = Some(None),
                Entry::Finish { .. } | Entry::Carry { .. } => {}
            }
            entry.apply(&mut loaded.data);
            let due = !is_commit
                || loaded.held.len() >= group.options.max_held_bytes
                || loaded.last_group.elapsed() >= group.options.interval;
            if !due {
                *guard = Some(loaded);
                return Ok(());
            }
            // On failure `guard` stays empty: the next call reloads what is on disk (the held
            // entries are gone, and the run delivers their batches again).
            let after = loaded.journal_bytes + loaded.held.len() as u64;
            if to_snapshot || outgrown(after, loaded.snapshot_bytes, at_end) {
                // The journal would be folded into the snapshot right after the group's lines
                // were written and synced (every first run's end did this), or there is no
                // snapshot yet (a state as small as a first group's, or one a journal alone
                // held): the snapshot takes the held entries instead.
                Self::compact_group(
                    &self.files,
                    &self.path,
                    &self.journal_path,
                    group,
                    &mut loaded,
                )
                .await?;
                *guard = Some(loaded);
                return Ok(());
            }
            Self::write_group(&self.files, &self.journal_path, group, &mut loaded).await?;
        } else {
            let line = line(&entry)?;
            let line_bytes = line.len() as u64;
            let mut journal = self.files.clone().lock_owned().await;
            // One buffer, one `write_all`, either here with nothing awaited until it is
            // synced, or on a task that finishes even if this future is dropped: the line is
            // whole or, if the process ends mid-write, a torn tail the next open cuts.
            if self.syncs.inline(line.len()) {
                let started = Instant::now();
                let written = append_line(&mut journal, &line, &self.journal_path);
                // A compaction below takes the files' lock again.
                drop(journal);
                written?;
                self.syncs.record(started.elapsed());
            } else {
                let journal_path = self.journal_path.clone();
                let took = blocking(&self.journal_path, move || {
                    let started = Instant::now();
                    append_line(&mut journal, &line, &journal_path)?;
                    Ok(started.elapsed())
                })
                .await?;
                self.syncs.record(took);
            }
            loaded.journal_bytes += line_bytes;
            entry.apply(&mut loaded.data);
            loaded.durable_seq = loaded.data.seq;
            // This entry claims past any mark (see `JournalMark`).
            loaded.mark = None;
            loaded.claimed = None;
            loaded.tail_marks = 0;
        }
        if outgrown(loaded.journal_bytes, loaded.snapshot_bytes, at_end) {
            // Group mode: the emptied journal starts with the mark again (at the snapshot's
            // sequence number, so it covers exactly what the snapshot holds), or the next open
            // would have none to cut the output back to.
            let mark = loaded
                .mark
                .filter(|_| self.group.is_some())
                .map(|m| JournalMark {
                    upto: loaded.data.seq,
                    claimed: loaded.claimed,
                    ..m
                });
            // Twice, as an attach writes it: a tear of the last line leaves one.
            let first = match mark {
                Some(mark) => {
                    Some(Self::mark_line(&self.journal_path, loaded.data.seq, mark)?.repeat(2))
                }
                None => None,
            };
            let first_bytes = first.as_ref().map_or(0, |l| l.len() as u64);
            let (data, written) = self.compact(std::mem::take(&mut loaded.data), first).await;
            loaded.data = data;
            // On failure `guard` stays empty, so the next call reloads what is on disk.
            loaded.snapshot_bytes = written?;
            loaded.journal_bytes = first_bytes;
            loaded.durable_seq = loaded.data.seq;
            loaded.mark = mark;
            loaded.claimed = mark.and_then(|m| m.claimed);
            loaded.tail_marks = if mark.is_some() { 2 } else { 0 };
        }
        *guard = Some(loaded);
        Ok(())
    }

    /// A group point: makes the output durable, then appends its mark and the held lines to
    /// the journal and syncs it once (on the blocking pool, in a task that finishes even if
    /// this future is dropped). The mark comes first, so whatever part of the group a
    /// power loss keeps is preceded by the mark that covers it; each held commit carries the
    /// output's length after its batch, so if the group is cut short after the mark the output
    /// is cut back to the last commit that survived, not to the mark. Mark and lines go in
    /// one `write` call (vectored: the held lines are not copied), so a kill does not fall
    /// between them.
    async fn write_group(
        files: &Arc<Mutex<Journal>>,
        journal_path: &Path,
        group: &Group,
        loaded: &mut Loaded,
    ) -> Result<()> {
        let output = group.output.make_durable().await?;
        // What the state claims until the group's lines are in: where the output is cut back
        // to if none of them is.
        let before = loaded
            .mark
            .map(|m| loaded.claimed.unwrap_or(m.len))
            .filter(|c| *c != output.len);
        let mark = JournalMark {
            claimed: before,
            ..JournalMark::new(output, loaded.data.seq)
        };
        // The mark's own sequence number is the last one already in the journal: it is never
        // applied (replay applies only entries past the state's), and it leaves the held
        // entries' numbers as they were given.
        let first = Self::mark_line(journal_path, loaded.durable_seq, mark)?;
        let held = std::mem::take(&mut loaded.held);
        let bytes = (first.len() + held.len()) as u64;
        let mut journal = files.clone().lock_owned().await;
        let path = journal_path.to_path_buf();
        let mut held = blocking(journal_path, move || {
            #[cfg(test)]
            tests::pause_in_group_write(&path);
            write_all_vectored(&mut journal, &[&first, &held])
                .and_then(|()| journal.sync_data())
                .map_err(|e| state_error(&path, "cannot write").with_cause(e))?;
            Ok(held)
        })
        .await?;
        held.clear();
        loaded.held = held;
        loaded.journal_bytes += bytes;
        loaded.durable_seq = loaded.data.seq;
        loaded.mark = Some(mark);
        loaded.claimed = match loaded.held_claimed.take() {
            Some(claimed) => claimed,
            // No held line changed the claim: what the state claimed before the group (after
            // a failed group point, less than the output holds).
            None => mark.claimed,
        };
        loaded.tail_marks = 0;
        loaded.last_group = Instant::now();
        Ok(())
    }

    /// A group point that a compaction follows at once (see [`outgrown`]): makes the output
    /// durable, then writes the state, held entries and all (they are applied already), as
    /// the snapshot, and leaves the emptied journal holding the output's mark twice, as
    /// [`write_group`](Self::write_group) and a compaction after it would, without writing
    /// and syncing the held lines into a journal that is emptied a moment later (a first
    /// run's whole state, at its end).
    ///
    /// A crash before the snapshot's rename leaves the files of the last group point (their
    /// mark cuts the output back to it); one after it, before the journal is emptied, leaves
    /// the new snapshot with a journal of older entries, which replay skips, and whose marks
    /// no longer hold: nothing is cut. That is right when the output, synced first, holds
    /// just what the snapshot claims (a batch the loop wrote since, the timer's case, comes
    /// again: at most one). When it holds more (batches of commits a failed group point lost,
    /// or a batch written and never committed), the mark goes into the old journal first,
    /// synced, covering the new snapshot's sequence number so that it holds over either
    /// snapshot. It claims what the new snapshot claims and, as `claimed_before`, what the
    /// old state claimed: read over the old state (a crash, or a failed write, before the
    /// rename), it cuts the output back to the old state's claim, so the held batches, which
    /// the old state does not hold, come again as the unacknowledged work they are and are
    /// not repeated; read over the new snapshot (a crash after the rename) it cuts the output
    /// to just what the snapshot claims.
    async fn compact_group(
        files: &Arc<Mutex<Journal>>,
        path: &Path,
        journal_path: &Path,
        group: &Group,
        loaded: &mut Loaded,
    ) -> Result<()> {
        let output = group.output.make_durable().await?;
        // What the state claims once the held entries are in the snapshot: what they changed
        // it to (see `Marks::read`), else what it claimed before them.
        let before = loaded.mark.map(|m| loaded.claimed.unwrap_or(m.len));
        let claimed = match loaded.held_claimed.take() {
            Some(claimed) => claimed,
            None => before,
        }
        .filter(|c| *c != output.len);
        let mark = JournalMark {
            claimed,
            ..JournalMark::new(output, loaded.data.seq)
        };
        if claimed.is_some() {
            // The output holds more than the snapshot will claim: a crash between its rename
            // and the journal's new mark must still cut it back (see above).
            let early = JournalMark {
                claimed_before: Some(before.unwrap_or(output.len)),
                ..mark
            };
            let line = Self::mark_line(journal_path, loaded.durable_seq, early)?;
            let mut journal = files.clone().lock_owned().await;
            let path = journal_path.to_path_buf();
            blocking(journal_path, move || {
                write_all_vectored(&mut journal, &[&line])
                    .and_then(|()| journal.sync_data())
                    .map_err(|e| state_error(&path, "cannot write").with_cause(e))
            })
            .await?;
        }
        // Twice, as an attach writes it: a tear of the last line leaves one.
        let first = Self::mark_line(journal_path, loaded.data.seq, mark)?.repeat(2);
        let first_bytes = first.len() as u64;
        loaded.held.clear();
        let (data, written) = Self::compact_at(
            files,
            path,
            journal_path,
            std::mem::take(&mut loaded.data),
            Some(first),
        )
        .await;
        loaded.data = data;
        loaded.snapshot_bytes = written?;
        loaded.journal_bytes = first_bytes;
        loaded.durable_seq = loaded.data.seq;
        loaded.mark = Some(mark);
        loaded.claimed = claimed;
        loaded.tail_marks = 2;
        loaded.last_group = Instant::now();
        Ok(())
    }

    /// The journal line of `mark`, an otherwise empty commit numbered `seq`.
    fn mark_line(journal_path: &Path, seq: u64, mark: JournalMark) -> Result<Vec<u8>> {
        let entry = Entry::Commit {
            seq,
            checkpoint: None,
            documents: DocumentStates::default(),
            failed: Vec::new(),
            resolved: Vec::new(),
            output: Some(mark),
            output_len: None,
        };
        let mut line = entry.line().map_err(|e| {
            state_error(journal_path, "cannot serialise an entry for").with_cause(e)
        })?;
        line.push(b'\n');
        Ok(line)
    }

    /// Writes the snapshot atomically and empties the journal (leaving `first` in it, when
    /// given), on the blocking pool under the files' lock (so a reload never reads the new
    /// snapshot with the old journal's tail cut, or the old snapshot with the journal
    /// emptied), streaming the snapshot to its file rather than building it in memory first;
    /// hands the data back with the snapshot's size.
    async fn compact(&self, data: StateData, first: Option<Vec<u8>>) -> (StateData, Result<u64>) {
        Self::compact_at(&self.files, &self.path, &self.journal_path, data, first).await
    }

    /// [`compact`](Self::compact) of the files at `path` and `journal_path`, for a caller
    /// without the store (the group mode's timer).
    async fn compact_at(
        files: &Arc<Mutex<Journal>>,
        path: &Path,
        journal_path: &Path,
        data: StateData,
        first: Option<Vec<u8>>,
    ) -> (StateData, Result<u64>) {
        let journal = files.clone().lock_owned().await;
        let snapshot_path = path.to_path_buf();
        let path = path.to_path_buf();
        let journal_path = journal_path.to_path_buf();
        let joined = tokio::task::spawn_blocking(move || {
            let mut journal = journal;
            let written = write_snapshot(&path, &data)
                .map_err(|e| state_error(&path, "cannot write").with_cause(e))
                .and_then(|size| {
                    #[cfg(test)]
                    tests::crash_after_rename(&path)?;
                    journal
                        .set_len(0)
                        .and_then(|()| match &first {
                            Some(line) => journal.write_all(line),
                            None => Ok(()),
                        })
                        .and_then(|()| journal.sync_all())
                        .map_err(|e| state_error(&journal_path, "cannot write").with_cause(e))?;
                    Ok(size)
                });
            (data, written)
        })
        .await;
        match joined {
            Ok(done) => done,
            // The task panicked (a bug) and took the data with it: the caller reloads from disk.
            Err(e) => (
                StateData::new(),
                Err(state_error(&snapshot_path, "cannot write").with_cause(e)),
            ),
        }
    }

    /// Runs `f` on the data in memory, changing nothing on disk (the marks of a prune pass).
    async fn modify_in_memory<T>(&self, f: impl FnOnce(&mut StateData) -> Result<T>) -> Result<T> {
        let mut guard = self.inner.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_files().await?);
        }
        match guard.as_mut() {
            Some(loaded) => f(&mut loaded.data),
            None => Err(Error::internal("state vanished while locked")),
        }
    }

    async fn read_with<T>(&self, f: impl FnOnce(&StateData) -> T) -> Result<T> {
        let mut guard = self.inner.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_files().await?);
        }
        match guard.as_ref() {
            Some(loaded) => Ok(f(&loaded.data)),
            None => Err(Error::internal("state vanished while locked")),
        }
    }
}

/// Whether a journal of `journal` bytes is folded into a snapshot of `snapshot` bytes: once it
/// is past [`COMPACT_RATIO`] times the snapshot and, during a run, past [`MIN_COMPACT_BYTES`]
/// (`at_end`, the end of a run, has no floor).
fn outgrown(journal: u64, snapshot: u64, at_end: bool) -> bool {
    let floor = if at_end { 0 } else { MIN_COMPACT_BYTES };
    journal > snapshot.saturating_mul(COMPACT_RATIO) && journal > floor
}

/// Writes `parts` one after another, in as few `write` calls as the system takes (one, for
/// a journal's group on a local file system). Blocking.
fn write_all_vectored(file: &mut File, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice<'_>> =
        parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
    let mut bufs = &mut slices[..];
    std::io::IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes one journal line and syncs it. Blocking.
fn append_line(journal: &mut File, line: &[u8], journal_path: &Path) -> Result<()> {
    journal
        .write_all(line)
        .and_then(|()| journal.sync_data())
        .map_err(|e| state_error(journal_path, "cannot write").with_cause(e))
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn state_error(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::State,
        format!("{what} state file {}", path.display()),
    )
}

/// Runs `f` on the blocking pool (file I/O and parsing must not stall the runtime).
async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(state_error(path, "cannot use").with_cause(e)),
    }
}

/// Takes the advisory lock on `{state}.lock` and writes this process's id into it; when another
/// store holds it, an error naming the holder's process id (as it wrote it). Blocking.
fn lock_state(state: &Path) -> Result<File> {
    let lock_path = crate::fs::with_suffix(state, ".lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| state_error(&lock_path, "cannot open the lock of").with_cause(e))?;
    // A lock its holder just released can stay held for a moment by a copy of its descriptor
    // in a process being spawned (between fork and exec): retry briefly before naming a holder.
    let mut attempt = file.try_lock();
    for _ in 0..50 {
        if !matches!(attempt, Err(std::fs::TryLockError::WouldBlock)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        attempt = file.try_lock();
    }
    match attempt {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // The holder empties the file and then writes its pid: read again for a moment
            // rather than name nobody.
            let mut holder = String::new();
            for _ in 0..50 {
                holder.clear();
                let _ = file.seek(std::io::SeekFrom::Start(0));
                let _ = file.read_to_string(&mut holder);
                if holder.trim().parse::<u32>().is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) if pid == std::process::id() => {
                    format!("another store in this process (pid {pid})")
                }
                Ok(pid) => format!("another run (pid {pid})"),
                // The holder locked the file but has not written its id yet.
                Err(_) => "another run".to_owned(),
            };
            return Err(Error::new(
                ErrorKind::State,
                format!(
                    "state file {} is in use by {who}; two runs on one state would corrupt it, \
                     so wait for that run to end (its lock is {})",
                    state.display(),
                    lock_path.display()
                ),
            ));
        }
        // A file system without locks (some network mounts): running unlocked beats not
        // running, and the user is told.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(
                lock = %lock_path.display(),
                "this file system cannot lock files; do not run two syncs on this state at once"
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(state_error(&lock_path, "cannot take the lock of").with_cause(e));
        }
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(pid.as_bytes()))
        .map_err(|e| state_error(&lock_path, "cannot write the lock of").with_cause(e))?;
    Ok(file)
}

/// Removes the temporary files a snapshot write that crashed left beside the state file
/// (`{name}.*.tmp`). Only the lock holder writes snapshots, so none of them is in use.
/// Best effort: a leftover temporary file harms nothing but space.
fn remove_stale_temporaries(state: &Path) {
    let Some(name) = state.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!("{name}.");
    let Ok(entries) = std::fs::read_dir(parent_of(state)) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The snapshot and its size; an empty state when there is none. Parsed from a buffered
/// reader: the snapshot of a large source is tens of MiB, which should not sit in memory
/// twice. Blocking.
fn read_snapshot(path: &Path) -> Result<(StateData, u64)> {
    let read = (|| -> std::io::Result<Option<(StateData, u64)>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = file.metadata()?.len();
        let data = serde_json::from_reader(std::io::BufReader::new(file))?;
        Ok(Some((data, size)))
    })();
    let (data, size) = match read {
        Ok(Some(found)) => found,
        Ok(None) => return Ok((StateData::new(), 0)),
        Err(e)
            if e.kind() == std::io::ErrorKind::InvalidData
                || e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            return Err(state_error(path, "corrupt").with_cause(e));
        }
        Err(e) => return Err(state_error(path, "cannot read").with_cause(e)),
    };
    if data.version != STATE_VERSION {
        return Err(state_error(
            path,
            &format!("unsupported version {} in", data.version),
        ));
    }
    Ok((data, size))
}

/// What replaying the journal had to mend.
#[derive(Debug, Default)]
struct Mended {
    /// Bytes of a torn last line cut off the journal.
    cut: u64,
    /// Lines (1-based) that began with the remains of a torn write and were read from the
    /// entry after them.
    salvaged: Vec<usize>,
}

/// The output marks a journal holds, by position (a mark is numbered like the entry before
/// it).
#[derive(Debug, Default)]
struct Marks {
    /// The last mark.
    last: Option<JournalMark>,
    /// What the entries since the last mark claim of the output when it is less than the
    /// mark's length: the output length the last commit after the mark recorded, else the
    /// mark's `claimed` (`None` after a removal: all of it).
    claimed: Option<u64>,
    /// How many copies of the last mark end the journal.
    tail: usize,
}

impl Marks {
    fn read(&mut self, entry: &Entry<'_>) {
        match entry {
            Entry::Commit {
                output: Some(mark), ..
            } => {
                self.tail = if self.last == Some(*mark) {
                    self.tail + 1
                } else {
                    1
                };
                self.last = Some(*mark);
                self.claimed = mark.claimed;
            }
            Entry::Commit {
                output_len: None, ..
            } => {
                // A commit after the mark that records no output length is not a group's (a
                // per-batch run, an older release, or a group run whose output write failed):
                // it may claim output past the mark, which then no longer says where the
                // output may be cut. Nothing is cut: at worst batches come twice.
                *self = Self::default();
            }
            Entry::Commit { output_len, .. } => {
                self.tail = 0;
                self.claimed = *output_len;
            }
            // Its delete lines were written to the output before it: the state claims all of
            // the output the mark covers.
            Entry::Remove { .. } => {
                self.tail = 0;
                self.claimed = None;
            }
            // The end of a run and a carried checkpoint write no output: the claim stays what
            // the commits (or the mark) before them left. So a group point written after a
            // failed one, whose held commits were lost while their batches stayed in the
            // output, cuts those batches off next time: its mark records what the state
            // claimed before it (`claimed`), and nothing after it claims more.
            Entry::Finish { .. } | Entry::Carry { .. } => self.tail = 0,
        }
    }
}

/// Applies the journal's entries newer than the snapshot, after cutting a torn last line (no
/// newline) off the file, so that the next append starts a line of its own; returns the
/// journal's size, what was mended and the output marks in it. Blocking.
fn replay_journal(
    path: &Path,
    journal: &mut File,
    data: &mut StateData,
) -> Result<(u64, Mended, Marks)> {
    let mut bytes = Vec::new();
    journal
        .seek(SeekFrom::Start(0))
        .and_then(|_| journal.read_to_end(&mut bytes))
        .map_err(|e| state_error(path, "cannot read").with_cause(e))?;
    let mut mended = Mended::default();
    let mut marks = Marks::default();
    // A crash in the middle of an append leaves a last line without its newline: that entry
    // was never acknowledged, so cutting it loses nothing, and appending after it would glue
    // the next entry to it.
    let complete = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    if complete < bytes.len() {
        journal
            .set_len(complete as u64)
            .and_then(|()| journal.sync_all())
            .map_err(|e| state_error(path, "cannot repair").with_cause(e))?;
        mended.cut = (bytes.len() - complete) as u64;
        bytes.truncate(complete);
    }
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => entry,
            Err(e) => match salvage(line) {
                Some(entry) => {
                    mended.salvaged.push(i + 1);
                    entry
                }
                None => {
                    return Err(state_error(
                        path,
                        &format!("corrupt line {} of the journal of", i + 1),
                    )
                    .with_cause(e));
                }
            },
        };
        marks.read(&entry);
        if entry.seq() > data.seq {
            entry.apply(data);
        }
    }
    Ok((bytes.len() as u64, mended, marks))
}

/// The entry in a line that an older version appended right after a torn line (it did not
/// cut torn lines off): the remains, then a whole entry. An entry is serialised with its tag
/// first, `{"op":"`, which a JSON string inside the remains cannot hold unescaped, so the
/// entry is the first such start whose rest parses.
fn salvage(line: &[u8]) -> Option<Entry<'_>> {
    const START: &[u8] = b"{\"op\":\"";
    (1..line.len())
        .filter(|&at| line[at..].starts_with(START))
        .find_map(|at| serde_json::from_slice::<Entry>(&line[at..]).ok())
}

fn write_snapshot(path: &Path, data: &StateData) -> std::io::Result<u64> {
    crate::fs::write_atomically(path, |out| data.write_json(out))
}

/// Marks live in memory only: a prune pass writes nothing to the journal until it removes
/// documents, and a store read again from its files has no pass open.
impl MarkedData for FileStateStore {
    fn with_data<'s, R: Send + 's>(
        &'s self,
        f: impl FnOnce(&mut StateData) -> Result<R> + Send + 's,
    ) -> BoxFuture<'s, Result<R>> {
        Box::pin(self.modify_in_memory(f))
    }
}

#[async_trait]
impl StateStore for FileStateStore {
    async fn load(&self) -> Result<SyncState> {
        self.read_with(StateData::sync_state).await
    }

    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>> {
        self.read_with(|d| d.documents(ids)).await
    }

    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        self.read_with(|d| d.compare(documents)).await
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        self.read_with(StateData::document_ids).await
    }

    async fn children(&self, parents: &[&str]) -> Result<Vec<String>> {
        self.read_with(|d| d.children(parents)).await
    }

    async fn begin_prune(&self) -> Result<Box<dyn PrunePass + '_>> {
        Ok(Box::new(MarkingPass::begin(self).await?))
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        if commit.is_empty() {
            return Ok(());
        }
        let checkpoint = match commit.checkpoint {
            CheckpointUpdate::Keep => None,
            CheckpointUpdate::Set(cp) => Some(cp),
        };
        self.append(
            |seq| Entry::Commit {
                seq,
                checkpoint,
                documents: commit.documents,
                failed: commit.failed,
                resolved: commit.resolved,
                output: None,
                output_len: None,
            },
            false,
        )
        .await
    }

    async fn remove_documents(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.append(
            |seq| Entry::Remove {
                seq,
                ids: ids.to_vec(),
            },
            false,
        )
        .await
    }

    async fn finish_run(&self, run: RunRecord, window_end: Option<DateTime<Utc>>) -> Result<()> {
        // The end of a run folds a journal that outgrew the snapshot (or a first run's) into
        // it; a small one stays for the next open to replay.
        self.append(
            |seq| Entry::Finish {
                seq,
                run,
                window_end,
            },
            true,
        )
        .await
    }

    async fn carry(&self, checkpoint: Option<CheckpointJson>) -> Result<()> {
        if checkpoint.is_none() && self.read_with(|d| d.carried.is_none()).await? {
            return Ok(());
        }
        self.append(|seq| Entry::Carry { seq, checkpoint }, false)
            .await
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        self.read_with(|d| d.runs(limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CheckpointJson;
    use crate::state::{CheckpointUpdate, StoredCheckpoint};

    #[tokio::test]
    async fn round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.json");
        let store = FileStateStore::open(&path).await.unwrap();
        let cp = StoredCheckpoint {
            checkpoint: CheckpointJson {
                source: "local".into(),
                version: 1,
                state: serde_json::json!({"after": "a"}),
            },
            window: None,
            started_at: Utc::now(),
            reconcile: false,
            page_prefix: None,
        };
        store
            .commit(Commit {
                checkpoint: CheckpointUpdate::Set(cp.clone()),
                documents: vec![(
                    "a".into(),
                    DocumentState {
                        fingerprint: "f".into(),
                        updated_at: None,
                        parent_id: None,
                    },
                )]
                .into(),
                ..Commit::default()
            })
            .await
            .unwrap();
        // One store per file: the first one goes (as its process would) before the reopen.
        drop(store);
        let reopened = FileStateStore::open(&path).await.unwrap();
        assert_eq!(reopened.load().await.unwrap().checkpoint, Some(cp));
        assert_eq!(reopened.document_ids().await.unwrap(), vec!["a".to_owned()]);
    }

    #[tokio::test]
    async fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        tokio::fs::write(&path, b"{ not json").await.unwrap();
        let err = FileStateStore::open(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    #[tokio::test]
    async fn journal_replays_skips_a_torn_tail_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = FileStateStore::open(&path).await.unwrap();
        for i in 0..3 {
            store
                .commit(Commit {
                    documents: vec![(
                        format!("d{i}"),
                        DocumentState {
                            fingerprint: format!("f{i}"),
                            updated_at: None,
                            parent_id: None,
                        },
                    )]
                    .into(),
                    ..Commit::default()
                })
                .await
                .unwrap();
        }
        drop(store);
        // A crash mid-append: half a line without its newline.
        let journal = dir.path().join("state.json.journal");
        let mut text = std::fs::read(&journal).unwrap();
        text.extend_from_slice(br#"{"op":"commit","seq":4,"documents":[["d9""#);
        std::fs::write(&journal, &text).unwrap();
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap(), vec!["d0", "d1", "d2"]);

        // A corrupt line in the middle is an error naming the journal and the line.
        let mut bad = b"{\"op\":\"commit\",\"seq\":1}\nnot json\n".to_vec();
        bad.extend_from_slice(&std::fs::read(&journal).unwrap());
        std::fs::write(dir.path().join("other.json.journal"), bad).unwrap();
        let err = FileStateStore::open(dir.path().join("other.json"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("line 2") && err.to_string().contains("other.json.journal"),
            "{err}"
        );
    }

    /// A journal line written by hand is the line the derive writes.
    #[test]
    fn a_commit_line_is_the_derived_line() {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 5_000).unwrap_or_default();
        let mut docs = [
            Document::text("a\"1", "t", "A", "x").with_updated_at(at),
            Document::text("b\n2", "t", "B", "y").with_version("etag"),
            Document::text("c", "t", "C", "z").with_updated_at(DateTime::<Utc>::MIN_UTC),
        ];
        let failure = crate::Failure::new(Some("f".into()), ErrorKind::InvalidData, "bad \"f\"");
        let checkpoint = StoredCheckpoint {
            checkpoint: CheckpointJson {
                source: "local".into(),
                version: 1,
                state: serde_json::json!({"after": "a", "n": [1, 2.5]}),
            },
            window: None,
            started_at: at,
            reconcile: true,
            page_prefix: None,
        };
        let entries = [
            Entry::Commit {
                seq: 7,
                checkpoint: Some(checkpoint.clone()),
                documents: DocumentStates::from(&mut docs[..]),
                failed: vec![FailedItem {
                    failure,
                    window_start: Some(at),
                    attempts: 2,
                    first_failed_at: at,
                }],
                resolved: vec!["r\u{1}".into()],
                output: None,
                output_len: Some(4_000_000_000_123),
            },
            Entry::Commit {
                seq: 0,
                checkpoint: None,
                documents: DocumentStates::default(),
                failed: Vec::new(),
                resolved: Vec::new(),
                output: Some(JournalMark {
                    len: 123,
                    claimed: Some(100),
                    claimed_before: None,
                    upto: 9,
                    dev: Some(2049),
                    ino: Some(u64::MAX),
                    tail: 77,
                }),
                output_len: None,
            },
            Entry::Commit {
                seq: u64::MAX,
                checkpoint: Some(checkpoint),
                documents: vec![(
                    "x".to_owned(),
                    DocumentState {
                        fingerprint: "f".into(),
                        updated_at: None,
                        parent_id: None,
                    },
                )]
                .into(),
                failed: Vec::new(),
                resolved: Vec::new(),
                output: Some(JournalMark {
                    len: 0,
                    claimed: None,
                    claimed_before: None,
                    upto: 0,
                    dev: None,
                    ino: None,
                    tail: 0,
                }),
                output_len: Some(0),
            },
            Entry::Remove {
                seq: 3,
                ids: vec!["a".into()],
            },
        ];
        for entry in &entries {
            let ours = entry.line().unwrap_or_default();
            let derived = serde_json::to_vec(entry).unwrap_or_default();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&derived)
            );
        }
    }

    /// The snapshot written by hand is the JSON the derive writes.
    #[test]
    fn a_snapshot_is_the_derived_json() {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 7_000_000).unwrap_or_default();
        let mut data = StateData::new();
        let check = |data: &StateData| {
            let mut ours = Vec::new();
            data.write_json(&mut ours).unwrap_or_default();
            let derived = serde_json::to_vec(data).unwrap_or_default();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&derived)
            );
        };
        check(&data);
        let mut docs: Vec<Document> = (0..3000)
            .map(|i| {
                let doc = Document::text(format!("d\"{i}"), "t", "T", format!("{i}"));
                match i % 3 {
                    0 => doc.with_updated_at(at),
                    1 => doc.with_version(&format!("etag-{i}")),
                    _ => doc,
                }
            })
            .collect();
        docs.push(Document::text("old", "t", "T", "x").with_updated_at(DateTime::<Utc>::MIN_UTC));
        // Hash ids (the snapshot's entries put together on the stack), with whole seconds,
        // fractions of each length, no date, a fingerprint that is no hash, a parent.
        let whole = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        for i in 0..3000u32 {
            let doc = Document::text(
                crate::ids::hash128(&i.to_string()),
                "t",
                "T",
                format!("{i}"),
            );
            docs.push(match i % 7 {
                0 => doc.with_updated_at(at),
                1 => doc.with_updated_at(whole + chrono::Duration::seconds(i64::from(i))),
                2 => doc.with_updated_at(whole + chrono::Duration::nanoseconds(i64::from(i) + 1)),
                3 => doc.with_version(&format!("etag-{i}")),
                4 => doc.with_updated_at(DateTime::<Utc>::MAX_UTC),
                5 => doc.with_parent_id(format!("p{}", i % 3)),
                _ => doc,
            });
        }
        data.apply(Commit {
            checkpoint: CheckpointUpdate::Set(StoredCheckpoint {
                checkpoint: CheckpointJson {
                    source: "local".into(),
                    version: 2,
                    state: serde_json::json!({"after": "a\u{1}"}),
                },
                window: None,
                started_at: at,
                reconcile: false,
                page_prefix: None,
            }),
            documents: DocumentStates::from(&mut docs[..]),
            failed: vec![FailedItem {
                failure: crate::Failure::new(Some("f".into()), ErrorKind::InvalidData, "bad"),
                window_start: None,
                attempts: 1,
                first_failed_at: at,
            }],
            resolved: Vec::new(),
        });
        check(&data);
        data.finish(run_record(), Some(at));
        data.carried = Some(CheckpointJson {
            source: "local".into(),
            version: 1,
            state: serde_json::json!(["x"]),
        });
        data.seq = 42;
        check(&data);
    }

    fn run_record() -> RunRecord {
        RunRecord {
            mode: "full".to_owned(),
            status: super::super::RunStatus::Succeeded,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: DateTime::<Utc>::UNIX_EPOCH,
            window: None,
            new: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            deleted: 0,
            error: None,
        }
    }

    fn batch(prefix: &str, n: usize) -> Commit<'static> {
        Commit {
            documents: (0..n)
                .map(|i| {
                    (
                        format!("{prefix}-{i}"),
                        DocumentState {
                            fingerprint: "0".repeat(32),
                            updated_at: Some(DateTime::<Utc>::UNIX_EPOCH),
                            parent_id: None,
                        },
                    )
                })
                .collect(),
            ..Commit::default()
        }
    }

    /// The end of a first run writes the snapshot; the end of a run that changed little next
    /// to it leaves the journal for the next open, which reads it all the same; once the
    /// journal is past twice the snapshot, the end of a run folds it in.
    #[tokio::test]
    async fn the_end_of_a_run_rewrites_the_snapshot_only_when_the_journal_outgrew_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let store = FileStateStore::open(&path).await.unwrap();
        store.commit(batch("first", 100)).await.unwrap();
        store.finish_run(run_record(), None).await.unwrap();
        let snapshot = std::fs::read(&path).unwrap();
        assert!(!snapshot.is_empty());
        assert_eq!(size(&journal), 0);

        store.commit(batch("second", 1)).await.unwrap();
        store.finish_run(run_record(), None).await.unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            snapshot,
            "the snapshot was rewritten"
        );
        assert!(size(&journal) > 0);
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 101);
        assert_eq!(store.runs(10).await.unwrap().len(), 2);

        store.commit(batch("third", 250)).await.unwrap();
        store.finish_run(run_record(), None).await.unwrap();
        assert_eq!(size(&journal), 0);
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 351);
        assert_eq!(store.runs(10).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn compaction_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = FileStateStore::open(&path).await.unwrap();
        // About 3 MiB of journal: compacted at least once.
        for batch in 0..300 {
            // Each line written on the calling task, as where syncs are quick (a compaction
            // right after one must not wait for the lock it held); the other tests, on a disk,
            // mostly take the blocking pool.
            store.syncs.assume_quick();
            let documents = (0..100)
                .map(|i| {
                    (
                        format!("doc-{batch}-{i}"),
                        DocumentState {
                            fingerprint: "0".repeat(32),
                            updated_at: None,
                            parent_id: None,
                        },
                    )
                })
                .collect();
            store
                .commit(Commit {
                    documents,
                    ..Commit::default()
                })
                .await
                .unwrap();
        }
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "a snapshot was written"
        );
        assert!(
            std::fs::metadata(dir.path().join("state.json.journal"))
                .unwrap()
                .len()
                < 2 * 1024 * 1024
        );
        drop(store);
        let reopened = FileStateStore::open(&path).await.unwrap();
        assert_eq!(reopened.document_ids().await.unwrap().len(), 30_000);
    }

    /// An output held in memory: what was written, what was synced, and, at each sync, how
    /// long the journal was then (to model a power loss at every point).
    #[derive(Debug, Default)]
    struct ModelOutput {
        journal: PathBuf,
        inner: std::sync::Mutex<ModelInner>,
        /// Whether it reports its written length (as the NDJSON file does).
        lengths: bool,
    }

    #[derive(Debug, Default)]
    struct ModelInner {
        written: Vec<u8>,
        /// (output synced, journal length at that moment), one per group point.
        syncs: Vec<(u64, u64)>,
        /// How many of the next syncs fail (an `EIO` of the output's disk).
        failing: usize,
    }

    impl ModelOutput {
        fn new(journal: PathBuf) -> Arc<Self> {
            Arc::new(Self {
                journal,
                inner: std::sync::Mutex::default(),
                lengths: false,
            })
        }

        fn with_lengths(journal: PathBuf) -> Arc<Self> {
            Arc::new(Self {
                journal,
                inner: std::sync::Mutex::default(),
                lengths: true,
            })
        }

        fn write(&self, ids: &[String]) {
            let mut inner = self.inner.lock().unwrap();
            for id in ids {
                inner.written.extend_from_slice(id.as_bytes());
                inner.written.push(b'\n');
            }
        }

        /// Makes the next `n` syncs fail.
        fn fail_syncs(&self, n: usize) {
            self.inner.lock().unwrap().failing = n;
        }

        fn syncs(&self) -> Vec<(u64, u64)> {
            self.inner.lock().unwrap().syncs.clone()
        }

        fn written(&self) -> Vec<u8> {
            self.inner.lock().unwrap().written.clone()
        }
    }

    #[async_trait]
    impl DurableOutput for ModelOutput {
        async fn make_durable(&self) -> Result<OutputMark> {
            let journal = std::fs::metadata(&self.journal).map_or(0, |m| m.len());
            let mut inner = self.inner.lock().unwrap();
            if inner.failing > 0 {
                inner.failing -= 1;
                return Err(Error::new(ErrorKind::Sink, "cannot sync the model output"));
            }
            let len = inner.written.len() as u64;
            inner.syncs.push((len, journal));
            Ok(OutputMark {
                len,
                claimed: None,
                dev: Some(1),
                ino: Some(1),
                tail: 0,
            })
        }

        fn written_len(&self) -> Option<u64> {
            self.lengths
                .then(|| self.inner.lock().unwrap().written.len() as u64)
        }
    }

    fn batch_of(ids: &[String]) -> Commit<'static> {
        Commit {
            documents: ids
                .iter()
                .map(|id| (id.clone(), DocumentState::new("0".repeat(32), None)))
                .collect(),
            ..Commit::default()
        }
    }

    /// A store at `path` with a snapshot (a finished run's, of no documents), so that its group
    /// points write the journal: a store with no snapshot yet writes one at each group point
    /// instead (see `a_group_point_with_no_snapshot_yet_writes_one`).
    async fn with_snapshot(path: &Path) -> FileStateStore {
        let store = FileStateStore::open(path).await.unwrap();
        store.finish_run(run_record(), None).await.unwrap();
        drop(store);
        assert!(path.exists(), "no snapshot to start from");
        FileStateStore::open(path).await.unwrap()
    }

    fn journal_len(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    /// Group points: the attach (a mark of the output as opened), a commit past the interval
    /// or the held bytes' bound, and every change that is not a commit; commits in between
    /// are applied at once but not in the journal.
    #[tokio::test]
    async fn group_points_write_held_lines_after_the_output_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let output = ModelOutput::new(journal.clone());
        let options = GroupCommit::default()
            .interval(Duration::from_secs(3600))
            .max_held_bytes(1000);
        let store = with_snapshot(&path)
            .await
            .group_commit(output.clone(), options)
            .await
            .unwrap();
        // The attach is a group point: a mark, nothing else.
        assert_eq!(output.syncs(), vec![(0, 0)]);
        let after_attach = journal_len(&journal);
        assert!(after_attach > 0);
        assert_eq!(store.output_mark().await.unwrap().map(|m| m.len), Some(0));

        let ids = |b: usize| -> Vec<String> { (0..3).map(|i| format!("b{b}-{i}")).collect() };
        output.write(&ids(0));
        store.commit(batch_of(&ids(0))).await.unwrap();
        // Held: applied (visible) but not in the journal, and the output not synced.
        assert_eq!(journal_len(&journal), after_attach);
        assert_eq!(store.document_ids().await.unwrap().len(), 3);
        assert_eq!(output.syncs().len(), 1);
        // More commits until the held lines pass 1,000 bytes: one group point, whose sync
        // came before its lines.
        let mut b = 1;
        while output.syncs().len() == 1 {
            output.write(&ids(b));
            store.commit(batch_of(&ids(b))).await.unwrap();
            b += 1;
            assert!(b < 20, "no group point at the held bytes' bound");
        }
        let (synced, journal_then) = output.syncs()[1];
        assert_eq!(synced, output.written().len() as u64);
        assert_eq!(
            journal_then, after_attach,
            "the journal was written before the output sync"
        );
        assert!(journal_len(&journal) > after_attach);

        // carry, remove_documents and finish_run are group points, even with nothing held.
        for (what, n) in [("carry", 3), ("remove", 4), ("finish", 5)] {
            output.write(&ids(100 + n));
            store.commit(batch_of(&ids(100 + n))).await.unwrap();
            let before = journal_len(&journal);
            match what {
                "carry" => store
                    .carry(Some(CheckpointJson {
                        source: "local".into(),
                        version: 1,
                        state: serde_json::json!({"feed": n}),
                    }))
                    .await
                    .unwrap(),
                "remove" => store.remove_documents(&ids(0)).await.unwrap(),
                _ => store.finish_run(run_record(), None).await.unwrap(),
            }
            assert_eq!(output.syncs().len(), n, "{what} is no group point");
            assert!(journal_len(&journal) > before || what == "finish", "{what}");
        }
        drop(store);
        // Reopened: everything the groups wrote is there, and so is the mark.
        let store = FileStateStore::open(&path).await.unwrap();
        let count = store.document_ids().await.unwrap().len();
        assert_eq!(count, 3 * (b + 3) - 3);
        assert_eq!(
            store.output_mark().await.unwrap().map(|m| m.len),
            Some(output.written().len() as u64)
        );
        // A commit in per-batch mode claims past the mark: the mark no longer holds.
        store.commit(batch_of(&ids(50))).await.unwrap();
        assert_eq!(store.output_mark().await.unwrap(), None);
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.output_mark().await.unwrap(), None);
    }

    /// A commit that comes `interval` after the last group point is one (at once, not when
    /// the timer wakes); one right after it is held.
    #[tokio::test]
    async fn a_commit_past_the_interval_is_a_group_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let output = ModelOutput::new(dir.path().join("state.json.journal"));
        let store = with_snapshot(&path)
            .await
            .group_commit(
                output.clone(),
                GroupCommit::default().interval(Duration::from_millis(50)),
            )
            .await
            .unwrap();
        // Nothing held meanwhile: the timer writes nothing.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(output.syncs().len(), 1, "a group point with nothing held");
        store.commit(batch_of(&["a".to_owned()])).await.unwrap();
        assert_eq!(output.syncs().len(), 2, "a group point past the interval");
        store.commit(batch_of(&["b".to_owned()])).await.unwrap();
        assert_eq!(output.syncs().len(), 2, "held within the interval");
    }

    /// A slow source: a commit held just after a group point, then no commit for a long
    /// while. The timer writes it once it is `interval` old; it is not held until the next
    /// commit (which may be minutes away) or the end of the run. With a snapshot there, as
    /// journal lines.
    #[tokio::test]
    async fn a_held_commit_is_written_an_interval_later_without_another_commit() {
        held_commit_is_written_by_the_timer(true).await;
    }

    /// The same in a first run (no snapshot yet, so no journal lines are made): the timer's
    /// group point writes the snapshot.
    #[tokio::test]
    async fn a_first_runs_held_commit_is_written_an_interval_later_as_a_snapshot() {
        held_commit_is_written_by_the_timer(false).await;
    }

    async fn held_commit_is_written_by_the_timer(from_snapshot: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let output = ModelOutput::with_lengths(journal.clone());
        let interval = Duration::from_millis(300);
        let store = if from_snapshot {
            with_snapshot(&path).await
        } else {
            FileStateStore::open(&path).await.unwrap()
        };
        let store = store
            .group_commit(output.clone(), GroupCommit::default().interval(interval))
            .await
            .unwrap();
        let ids = vec!["slow-a".to_owned(), "slow-b".to_owned()];
        output.write(&ids);
        let len = journal_len(&journal);
        store.commit(batch_of(&ids)).await.unwrap();
        let held = journal_len(&journal) == len && (from_snapshot || !path.exists());
        tokio::time::sleep(interval * 4).await;
        let written = if from_snapshot {
            std::fs::read_to_string(&journal)
                .unwrap()
                .contains("slow-b")
        } else {
            path.exists()
        };
        assert!(
            written,
            "the commit is still held {:?} after it came (held at first: {held})",
            interval * 4
        );
        assert!(held, "the commit was not held at first");
        assert_eq!(output.syncs().len(), 2, "the output made durable first");
        // What the timer wrote is what the next open reads, and the mark claims the batch.
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 2);
        let mark = store.output_mark().await.unwrap().unwrap();
        assert_eq!(mark.cut_to(), output.written().len() as u64);
    }

    /// Journals whose next group write (in `write_group`'s blocking task) says it has begun
    /// and then waits until the test lets it go.
    #[allow(clippy::type_complexity)]
    static PAUSE_GROUP_WRITE: std::sync::Mutex<
        Vec<(
            PathBuf,
            std::sync::mpsc::Sender<()>,
            std::sync::mpsc::Receiver<()>,
        )>,
    > = std::sync::Mutex::new(Vec::new());

    pub(super) fn pause_in_group_write(journal: &Path) {
        let pause = {
            let mut pauses = PAUSE_GROUP_WRITE
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pauses
                .iter()
                .position(|p| p.0 == journal)
                .map(|i| pauses.swap_remove(i))
        };
        if let Some((_, begun, go)) = pause {
            let _ = begun.send(());
            let _ = go.recv();
        }
    }

    /// A store with a snapshot, group-committing with a 20 ms timer whose next group write
    /// says it has begun (`begun`) and then waits until `go`.
    async fn with_a_paused_timer_write(
        path: &Path,
    ) -> (
        FileStateStore,
        Arc<ModelOutput>,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        let journal = crate::fs::with_suffix(path, ".journal");
        let output = ModelOutput::with_lengths(journal.clone());
        let store = with_snapshot(path)
            .await
            .group_commit(
                output.clone(),
                GroupCommit::default().interval(Duration::from_millis(20)),
            )
            .await
            .unwrap();
        let (begun_tx, begun) = std::sync::mpsc::channel();
        let (go, go_rx) = std::sync::mpsc::channel();
        PAUSE_GROUP_WRITE
            .lock()
            .unwrap()
            .push((journal, begun_tx, go_rx));
        (store, output, begun, go)
    }

    /// Review F4: a store dropped while its timer's group point writes on the blocking pool
    /// keeps the state locked until that write is done, so a store opened again meanwhile
    /// waits for it rather than reading or writing the files halfway through it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_dropped_during_its_timers_write_keeps_the_lock_until_it_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let (store, output, begun, go) = with_a_paused_timer_write(&path).await;
        let ids = vec!["late-a".to_owned(), "late-b".to_owned()];
        output.write(&ids);
        store.commit(batch_of(&ids)).await.unwrap();
        // The timer's group point reaches its write and waits there.
        tokio::task::spawn_blocking(move || begun.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("the timer's group point began its write");
        drop(store);
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.path().join("state.json.lock"))
            .unwrap();
        assert!(
            matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            "the state was unlocked while the dropped store's write was still in flight"
        );
        go.send(()).unwrap();
        // Once the write is done the lock is free, and the files hold the group.
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock)) {
            assert!(Instant::now() < deadline, "the lock was never released");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lock.unlock().unwrap();
        drop(lock);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap(), ids);
    }

    /// Review 44 F2: the store's doc says a store opened again while a dropped store's
    /// blocking write runs waits for it; `lock_state` retries for 500 ms and then refuses
    /// ("in use by another store in this process").
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_opened_again_during_a_dropped_stores_write_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let (store, output, begun, go) = with_a_paused_timer_write(&path).await;
        let ids = vec!["late-a".to_owned()];
        output.write(&ids);
        store.commit(batch_of(&ids)).await.unwrap();
        tokio::task::spawn_blocking(move || begun.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("the timer's group point began its write");
        drop(store);
        // The write takes a second (a large snapshot, a slow disk).
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            go.send(()).unwrap();
        });
        let reopened = FileStateStore::open(&path).await;
        release.await.unwrap();
        let store = reopened.expect("the reopen waited for the dropped store's write");
        assert_eq!(store.document_ids().await.unwrap(), ids);
    }

    /// Snapshot paths whose next compaction stops right after the snapshot's rename, before
    /// the journal is emptied, as a crash there would leave the files.
    static CRASH_AFTER_RENAME: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

    pub(super) fn crash_after_rename(path: &Path) -> Result<()> {
        let mut paths = CRASH_AFTER_RENAME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = paths.iter().position(|p| p == path) {
            paths.swap_remove(i);
            return Err(state_error(
                path,
                "stopped (a test's crash) after the rename of",
            ));
        }
        Ok(())
    }

    /// A first run's group point fails (its held commit is lost, its batch stays in the
    /// output), then the run's end writes the first snapshot, and a crash comes right after
    /// the snapshot's rename, before the journal is emptied: the next open still cuts the
    /// output back to what the snapshot claims (nothing), so the lost commit's batch comes
    /// again once, not twice. (The journal's older marks do not hold over the new snapshot.)
    #[tokio::test]
    async fn a_crash_after_the_first_snapshots_rename_still_cuts_a_failed_groups_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let (store, output) = first_run_store(&path, Duration::from_secs(3600)).await;
        let ids = vec!["lost-a".to_owned(), "lost-b".to_owned()];
        output.write(&ids);
        store.commit(batch_of(&ids)).await.unwrap();
        output.fail_syncs(1);
        assert!(store.finish_run(run_record(), None).await.is_err());
        output.fail_syncs(0);
        CRASH_AFTER_RENAME.lock().unwrap().push(path.clone());
        assert!(
            store.finish_run(run_record(), None).await.is_err(),
            "the compaction did not stop"
        );
        assert!(path.exists(), "no snapshot was renamed");
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert!(store.document_ids().await.unwrap().is_empty());
        let mark = store
            .output_mark()
            .await
            .unwrap()
            .expect("no mark holds: the lost commit's batch stays and comes twice");
        assert_eq!(mark.cut_to(), 0);
    }

    /// A first run's store (no snapshot yet) group-committing to a model output of its
    /// journal's lengths, with the timer's `interval`.
    async fn first_run_store(
        path: &Path,
        interval: Duration,
    ) -> (FileStateStore, Arc<ModelOutput>) {
        let output = ModelOutput::with_lengths(crate::fs::with_suffix(path, ".journal"));
        let store = FileStateStore::open(path)
            .await
            .unwrap()
            .group_commit(output.clone(), GroupCommit::default().interval(interval))
            .await
            .unwrap();
        (store, output)
    }

    /// A first run's store (no snapshot yet) group-committing to an output that holds three
    /// committed batches and, after them, one written whose commit has not come (the batch
    /// loop waits for the store), with the timer's `interval`.
    async fn first_run_with_an_unclaimed_batch(path: &Path, interval: Duration) -> FileStateStore {
        let (store, output) = first_run_store(path, interval).await;
        for b in 0..3 {
            let ids = vec![format!("held-{b}")];
            output.write(&ids);
            store.commit(batch_of(&ids)).await.unwrap();
        }
        output.write(&["unclaimed".to_owned()]);
        store
    }

    /// Review 44 F1: the end of a first run whose output holds a batch past its last held
    /// commit (the timer's race, a batch written and not committed) writes the mark into the
    /// old journal first, claiming what the new snapshot will claim. When the snapshot is then
    /// not renamed (a kill while it is written, a full disk), that mark holds over the old
    /// (empty) state and keeps the held commits' batches in the output, which the state does
    /// not claim: every one of them comes again.
    #[tokio::test]
    async fn a_snapshot_not_renamed_after_the_old_journals_mark_repeats_no_held_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = first_run_with_an_unclaimed_batch(&path, Duration::from_secs(3600)).await;
        // The snapshot's rename fails (a directory in its place): as a kill during the
        // snapshot's write would, it leaves the old files with whatever the journal got.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        assert!(store.finish_run(run_record(), None).await.is_err());
        drop(store);
        std::fs::remove_dir_all(&path).unwrap();
        let store = FileStateStore::open(&path).await.unwrap();
        assert!(store.document_ids().await.unwrap().is_empty());
        let mark = store.output_mark().await.unwrap().expect("a mark holds");
        assert_eq!(
            mark.cut_to(),
            0,
            "the output keeps the held batches the state does not claim: they come twice"
        );
    }

    /// The same end of a first run stopped right after the snapshot's rename: the new
    /// snapshot claims the held batches and the output keeps them (only the unclaimed one goes).
    #[tokio::test]
    async fn a_snapshot_renamed_before_the_journals_new_mark_keeps_the_held_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = first_run_with_an_unclaimed_batch(&path, Duration::from_secs(3600)).await;
        CRASH_AFTER_RENAME.lock().unwrap().push(path.clone());
        assert!(store.finish_run(run_record(), None).await.is_err());
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 3);
        let mark = store.output_mark().await.unwrap().expect("a mark holds");
        assert_eq!(mark.cut_to(), 21);
    }

    /// Review 44 F1, the timer's route: a first run's group point made by the timer while the
    /// batch loop has written a batch and waits to commit it.
    #[tokio::test]
    async fn a_timers_first_snapshot_not_renamed_repeats_no_held_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = first_run_with_an_unclaimed_batch(&path, Duration::from_millis(200)).await;
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        // The timer's group point (its snapshot's rename fails, as a kill would stop it).
        tokio::time::sleep(Duration::from_millis(600)).await;
        drop(store);
        std::fs::remove_dir_all(&path).unwrap();
        let store = FileStateStore::open(&path).await.unwrap();
        assert!(store.document_ids().await.unwrap().is_empty());
        let mark = store.output_mark().await.unwrap().expect("a mark holds");
        assert_eq!(mark.cut_to(), 0, "the held batches stay and come twice");
    }

    /// A group point the timer fails at (the output cannot be synced): the store's next
    /// change returns the error (the run fails as it would at a commit's group point), and
    /// the change after it reads the state again, without the lost commit.
    #[tokio::test]
    async fn a_group_point_the_timer_fails_at_fails_the_next_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let output = ModelOutput::with_lengths(journal.clone());
        let interval = Duration::from_millis(100);
        let store = FileStateStore::open(&path)
            .await
            .unwrap()
            .group_commit(output.clone(), GroupCommit::default().interval(interval))
            .await
            .unwrap();
        let ids = vec!["lost".to_owned()];
        output.write(&ids);
        store.commit(batch_of(&ids)).await.unwrap();
        output.fail_syncs(1);
        tokio::time::sleep(interval * 5).await;
        // The next group point's sync would succeed: only the timer's failed.
        output.fail_syncs(0);
        let next = vec!["next".to_owned()];
        output.write(&next);
        assert!(
            store.commit(batch_of(&next)).await.is_err(),
            "a change after the timer's failed group point succeeded"
        );
        store.finish_run(run_record(), None).await.unwrap();
        assert!(store.document_ids().await.unwrap().is_empty());
    }

    /// A group point of a store with no snapshot yet (a first run) writes the snapshot, with
    /// the held entries in it, rather than their journal lines, and leaves the journal holding
    /// the output's mark; the group points after it write the journal.
    #[tokio::test]
    async fn a_group_point_with_no_snapshot_yet_writes_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let (store, output) = first_run_store(&path, Duration::ZERO).await;
        let ids = |b: usize| -> Vec<String> { (0..3).map(|i| format!("b{b}-{i}")).collect() };
        output.write(&ids(0));
        store.commit(batch_of(&ids(0))).await.unwrap();
        assert_eq!(output.syncs().len(), 2, "no group point");
        assert!(path.exists(), "the group point wrote no snapshot");
        let lines = std::fs::read_to_string(&journal).unwrap();
        assert!(
            lines.lines().all(|l| l.contains("\"output\":{")) && lines.lines().count() == 2,
            "the journal holds more than the mark: {lines}"
        );
        // The next group point, with a snapshot there, writes the journal.
        output.write(&ids(1));
        store.commit(batch_of(&ids(1))).await.unwrap();
        assert!(
            std::fs::read_to_string(&journal)
                .unwrap()
                .contains("\"b1-0\"")
        );
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 6);
        assert_eq!(
            store.output_mark().await.unwrap().map(|m| m.cut_to()),
            Some(output.written().len() as u64)
        );
    }

    /// A compaction keeps the mark: the emptied journal starts with it again.
    #[tokio::test]
    async fn a_compaction_keeps_the_output_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let output = ModelOutput::new(dir.path().join("state.json.journal"));
        let store = FileStateStore::open(&path)
            .await
            .unwrap()
            .group_commit(output.clone(), GroupCommit::default().max_held_bytes(0))
            .await
            .unwrap();
        let ids: Vec<String> = (0..10).map(|i| format!("doc-{i}")).collect();
        output.write(&ids);
        store.commit(batch_of(&ids)).await.unwrap();
        // The end of a first run writes the snapshot.
        store.finish_run(run_record(), None).await.unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0, "no snapshot");
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(
            store.output_mark().await.unwrap().map(|m| m.len),
            Some(output.written().len() as u64)
        );
        assert_eq!(store.document_ids().await.unwrap().len(), 10);
    }

    /// A power loss at every point of a sequence of group commits: the output keeps only what
    /// was synced (or more), the journal what was synced plus any prefix of the write in
    /// flight. Reopened, the state never claims a document the output lost (so every document
    /// is in the output or delivered again by the resumed run), and once the output is cut
    /// back to the mark it holds exactly what the state claims when the journal ends at a
    /// group's end (always so after a kill: a group is one write), or at most the documents
    /// of the one group a power loss tore more.
    #[tokio::test]
    async fn a_power_loss_at_any_point_leaves_state_and_output_agreeing() {
        power_loss_at_any_point(false).await;
    }

    /// The same with the output's length recorded per commit (as the NDJSON file does): then
    /// the cut output holds exactly what the state claims after any crash, a torn group too.
    #[tokio::test]
    async fn with_lengths_per_commit_a_power_loss_repeats_no_batch() {
        power_loss_at_any_point(true).await;
    }

    async fn power_loss_at_any_point(lengths: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let output = if lengths {
            ModelOutput::with_lengths(journal.clone())
        } else {
            ModelOutput::new(journal.clone())
        };
        let store = with_snapshot(&path)
            .await
            .group_commit(
                output.clone(),
                GroupCommit::default()
                    .interval(Duration::from_secs(3600))
                    .max_held_bytes(700),
            )
            .await
            .unwrap();
        for b in 0..30 {
            let ids: Vec<String> = (0..3).map(|i| format!("b{b:02}-{i}")).collect();
            output.write(&ids);
            store.commit(batch_of(&ids)).await.unwrap();
        }
        // The held tail: in memory only, lost with the process.
        let final_journal = std::fs::read(&journal).unwrap();
        let written = output.written();
        drop(store);
        let syncs = output.syncs();
        assert!(syncs.len() >= 8, "only {} group points", syncs.len());

        // Each crash: (journal bytes kept, output bytes kept, how many documents the cut
        // output may hold that the state does not claim: those of a group whose journal
        // write the power loss tore).
        let mut crashes: Vec<(u64, u64, usize)> = vec![(0, 0, 0), (0, written.len() as u64, 0)];
        let line = "b00-0\n".len() as u64;
        for (g, &(synced, journal_before)) in syncs.iter().enumerate() {
            let journal_after = syncs
                .get(g + 1)
                .map_or(final_journal.len() as u64, |&(_, j)| j);
            let output_next = syncs.get(g + 1).map_or(written.len() as u64, |&(o, _)| o);
            let group_docs = g
                .checked_sub(1)
                .map_or(0, |p| ((synced - syncs[p].0) / line) as usize);
            // Inside the group's journal write: every line end, and a byte either side.
            let mut cuts: Vec<u64> = vec![journal_before, journal_after];
            for at in journal_before..journal_after {
                if final_journal[at as usize] == b'\n' {
                    cuts.extend([at, at + 1, (at + 2).min(journal_after)]);
                }
            }
            for cut in cuts {
                let torn = cut != journal_before && cut != journal_after;
                crashes.push((cut, synced, if torn && !lengths { group_docs } else { 0 }));
            }
            // After it, with the next batches' unsynced output lost, kept whole, or torn.
            for kept in [synced, output_next, (synced + output_next) / 2] {
                crashes.push((journal_after, kept, 0));
            }
        }

        let case = tempfile::tempdir().unwrap();
        let case_state = case.path().join("state.json");
        for (journal_kept, output_kept, allowed) in crashes {
            std::fs::write(
                case.path().join("state.json.journal"),
                &final_journal[..journal_kept as usize],
            )
            .unwrap();
            let store = FileStateStore::open(&case_state).await.unwrap();
            let claimed = store.document_ids().await.unwrap();
            let mark = store.output_mark().await.unwrap();
            drop(store);
            let mut out = written[..output_kept as usize].to_vec();
            if let Some(mark) = mark {
                assert!(
                    mark.len <= out.len() as u64,
                    "journal {journal_kept}: the state's mark ({}) is past the output kept ({})",
                    mark.len,
                    out.len()
                );
                out.truncate(mark.cut_to() as usize);
            }
            // A torn last line is repaired on open.
            let whole = out.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
            out.truncate(whole);
            let text = String::from_utf8(out).unwrap();
            let mut in_output: Vec<String> = text.lines().map(str::to_owned).collect();
            in_output.sort();
            let mut claimed_sorted = claimed.clone();
            claimed_sorted.sort();
            for id in &claimed_sorted {
                assert!(
                    in_output.binary_search(id).is_ok(),
                    "journal {journal_kept}, output {output_kept}: the state claims {id}, which \
                     the output lost"
                );
            }
            if mark.is_some() {
                let extra = in_output.len() - claimed_sorted.len();
                assert!(
                    extra <= allowed,
                    "journal {journal_kept}, output {output_kept}: {extra} documents in the cut \
                     output that the state does not claim"
                );
            }
        }
    }
    /// A group cut short (its last line torn), then a per-batch run on the same state (the
    /// CLI's `--durability batch`, or an older release) that writes and commits a batch: the
    /// next group run must not cut that batch away. The per-batch entry is numbered past the
    /// torn group's mark, and a commit without an output length after a mark makes it stale.
    #[tokio::test]
    async fn a_per_batch_commit_after_a_torn_group_keeps_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let ids = |b: usize| -> Vec<String> { (0..3).map(|i| format!("b{b}-{i}")).collect() };
        // Every commit its own group: [mark, commit] each.
        let each = GroupCommit::default().interval(Duration::ZERO);
        let output = ModelOutput::with_lengths(journal.clone());
        let store = with_snapshot(&path)
            .await
            .group_commit(output.clone(), each)
            .await
            .unwrap();
        for b in 0..2 {
            output.write(&ids(b));
            store.commit(batch_of(&ids(b))).await.unwrap();
        }
        drop(store);
        // The last group's commit torn: its mark is left, covering a number no entry has.
        let len = journal_len(&journal);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&journal)
            .unwrap()
            .set_len(len - 5)
            .unwrap();

        // A per-batch run writes and commits a batch past the mark.
        let store = FileStateStore::open(&path).await.unwrap();
        output.write(&ids(2));
        store.commit(batch_of(&ids(2))).await.unwrap();
        drop(store);

        let store = FileStateStore::open(&path).await.unwrap();
        let claimed = store.document_ids().await.unwrap();
        assert!(ids(2).iter().all(|id| claimed.contains(id)));
        let written = output.written().len() as u64;
        if let Some(mark) = store.output_mark().await.unwrap() {
            assert!(
                mark.cut_to() >= written,
                "the output would be cut to {} of {written} bytes: the per-batch run's batch, \
                 which the state claims, would be lost",
                mark.cut_to()
            );
        }
    }

    /// A tear of the journal's last line (the fault suite's torn journals; a kill tears only
    /// the write in flight) still leaves a mark that cuts the output back to what the state
    /// claims: the start of a run writes its mark twice (or tops a lone copy up, or writes
    /// nothing when a line already follows the mark), and a group's mark records what the state
    /// claimed before it.
    #[tokio::test]
    async fn a_torn_last_journal_line_leaves_a_mark_to_cut_the_output_back_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let held = GroupCommit::default()
            .interval(Duration::from_secs(3600))
            .max_held_bytes(1 << 20);
        let tear = |bytes: u64| {
            let len = journal_len(&journal);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&journal)
                .unwrap();
            file.set_len(len - bytes).unwrap();
        };
        let lines = || {
            std::fs::read(&journal)
                .unwrap()
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        };
        let ids = |b: usize| -> Vec<String> { (0..3).map(|i| format!("b{b}-{i}")).collect() };

        // A first run killed before its first group point (its held commit is lost), and
        // the journal's last line torn.
        let output = ModelOutput::with_lengths(journal.clone());
        let store = with_snapshot(&path)
            .await
            .group_commit(output.clone(), held)
            .await
            .unwrap();
        output.write(&ids(0));
        store.commit(batch_of(&ids(0))).await.unwrap();
        drop(store);
        tear(5);
        let store = FileStateStore::open(&path).await.unwrap();
        let mark = store.output_mark().await.unwrap();
        assert_eq!(
            mark.map(|m| m.cut_to()),
            Some(0),
            "no mark survived the tear"
        );
        assert!(store.document_ids().await.unwrap().is_empty());

        // The next run (its output cut back to 0) tops the lone copy up; one at the same
        // place after it writes nothing.
        let output = ModelOutput::with_lengths(journal.clone());
        let before = lines();
        let store = store.group_commit(output.clone(), held).await.unwrap();
        assert_eq!(lines(), before + 1);
        drop(store);
        let len = journal_len(&journal);
        let store = FileStateStore::open(&path)
            .await
            .unwrap()
            .group_commit(output.clone(), held)
            .await
            .unwrap();
        assert_eq!(
            journal_len(&journal),
            len,
            "a start at the same place wrote"
        );

        // A run to its end (a first run's end folds the journal into the snapshot, which
        // leaves the mark twice); a run killed after it, its last line torn: the mark is
        // still there, at the end of the finished run.
        output.write(&ids(1));
        store.commit(batch_of(&ids(1))).await.unwrap();
        store.finish_run(run_record(), None).await.unwrap();
        let end = output.written().len() as u64;
        drop(store);
        let store = FileStateStore::open(&path)
            .await
            .unwrap()
            .group_commit(output.clone(), held)
            .await
            .unwrap();
        output.write(&ids(2));
        store.commit(batch_of(&ids(2))).await.unwrap();
        drop(store);
        tear(5);
        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(
            store.output_mark().await.unwrap().map(|m| m.cut_to()),
            Some(end)
        );
        assert_eq!(store.document_ids().await.unwrap().len(), 3);

        // A group point at every commit; the last group's commit torn: the output is cut back
        // to what the state claimed before that group, not to the group's mark.
        let output = ModelOutput::with_lengths(journal.clone());
        output.write(&ids(1));
        let store = store
            .group_commit(output.clone(), held.max_held_bytes(0))
            .await
            .unwrap();
        output.write(&ids(3));
        store.commit(batch_of(&ids(3))).await.unwrap();
        let claimed = output.written().len() as u64;
        output.write(&ids(4));
        store.commit(batch_of(&ids(4))).await.unwrap();
        drop(store);
        tear(5);
        let store = FileStateStore::open(&path).await.unwrap();
        let mark = store.output_mark().await.unwrap().unwrap();
        assert_eq!(mark.len, output.written().len() as u64);
        assert_eq!(mark.cut_to(), claimed);
        assert_eq!(store.document_ids().await.unwrap().len(), 6);
    }
    /// A group point that fails (the output's sync or the journal's write: an `EIO`, a full
    /// disk) loses its held commits, while their batches stay in the output. The run ends
    /// (its end is a group point of its own, after the store read the state again): the next
    /// open must cut the output back to what the state claims, not keep the lost commits'
    /// batches under the end's mark, where the next run would deliver them a second time.
    #[tokio::test]
    async fn a_failed_group_point_leaves_no_unclaimed_batch_under_a_later_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let journal = dir.path().join("state.json.journal");
        let ids = |b: usize| -> Vec<String> { (0..3).map(|i| format!("b{b}-{i}")).collect() };
        let carried = || {
            Some(CheckpointJson {
                source: "test".to_owned(),
                version: 1,
                state: serde_json::json!({"page": 1}),
            })
        };
        let held = GroupCommit::default()
            .interval(Duration::from_secs(3600))
            .max_held_bytes(1 << 20);
        let output = ModelOutput::with_lengths(journal.clone());
        let store = FileStateStore::open(&path)
            .await
            .unwrap()
            .group_commit(output.clone(), held)
            .await
            .unwrap();
        // A batch made durable at a group point (a carried checkpoint's).
        output.write(&ids(0));
        store.commit(batch_of(&ids(0))).await.unwrap();
        store.carry(carried()).await.unwrap();
        let claimed = output.written().len() as u64;
        // Two batches held, and the group point that would write them fails.
        for b in 1..3 {
            output.write(&ids(b));
            store.commit(batch_of(&ids(b))).await.unwrap();
        }
        output.fail_syncs(1);
        assert!(store.carry(carried()).await.is_err());
        // The run ends: the state is read again (without the lost commits) and its end
        // written at a group point of its own.
        store.finish_run(run_record(), None).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 3);
        drop(store);

        let store = FileStateStore::open(&path).await.unwrap();
        assert_eq!(store.document_ids().await.unwrap().len(), 3);
        let mark = store.output_mark().await.unwrap().unwrap();
        assert_eq!(mark.len, output.written().len() as u64);
        assert_eq!(
            mark.cut_to(),
            claimed,
            "the lost commits' batches would stay in the output, which the state does not claim"
        );
        // A removal claims all of the output, the delete lines written before it too (a
        // batch and its commit, then the delete lines and the removal, in one group).
        let store = store.group_commit(output.clone(), held).await.unwrap();
        output.write(&ids(3));
        store.commit(batch_of(&ids(3))).await.unwrap();
        output.write(&["delete b0-0".to_owned()]);
        store.remove_documents(&ids(0)[..1]).await.unwrap();
        drop(store);
        let store = FileStateStore::open(&path).await.unwrap();
        let mark = store.output_mark().await.unwrap().unwrap();
        assert_eq!(mark.cut_to(), output.written().len() as u64);
    }
}
