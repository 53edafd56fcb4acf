use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::prune::{MarkedData, MarkingPass};
use super::{
    CheckpointUpdate, Commit, DocumentState, DocumentStates, FailedItem, Known, PrunePass,
    RunRecord, STATE_VERSION, StateData, StateStore, StoredCheckpoint, SyncState,
};
use crate::document::Document;
use crate::error::{Error, ErrorKind, Result};

/// The journal is folded into the snapshot once it grows past this many bytes and past the
/// snapshot's own size, so compaction costs O(1) amortised per change.
const MIN_COMPACT_BYTES: u64 = 1024 * 1024;

/// Keeps state in a JSON snapshot plus an append-only journal beside it (`{path}.journal`).
///
/// Every change is one JSON line appended to the journal and `fsync`ed before the call
/// returns, so a commit costs what it changes, not the size of the whole state. When the
/// journal outgrows the snapshot, the snapshot is rewritten atomically (temporary file,
/// `fsync`, rename) and the journal emptied; so is it at the end of every run. A crash leaves a consistent state at every point:
/// a torn last journal line (no newline) is ignored, entries already in the snapshot are
/// skipped by their sequence number, and anything else that does not parse is reported as an
/// [`ErrorKind::State`] error naming the file and line, never silently dropped.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    journal_path: PathBuf,
    inner: Mutex<Option<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    data: StateData,
    journal: tokio::fs::File,
    journal_bytes: u64,
    snapshot_bytes: u64,
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
}

impl Entry<'_> {
    fn seq(&self) -> u64 {
        match self {
            Self::Commit { seq, .. } | Self::Remove { seq, .. } | Self::Finish { seq, .. } => *seq,
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
        }
    }
}

impl FileStateStore {
    /// Opens the store at `path` (and its journal `{path}.journal`), reading them if they
    /// exist. A missing file is an empty state; its parent folder is created on the first
    /// write.
    ///
    /// # Errors
    /// [`ErrorKind::State`] naming the file when it exists but cannot be read or is corrupt.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let journal_path = crate::fs::with_suffix(&path, ".journal");
        let store = Self {
            path,
            journal_path,
            inner: Mutex::new(None),
        };
        let loaded = store.load_files().await?;
        *store.inner.lock().await = Some(loaded);
        Ok(store)
    }

    /// Where the snapshot lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn load_files(&self) -> Result<Loaded> {
        let (mut data, snapshot_bytes) = read_snapshot(&self.path).await?;
        let journal_bytes = replay_journal(&self.journal_path, &mut data).await?;
        let parent = parent_of(&self.path);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| state_error(&self.path, "cannot create the folder of").with_cause(e))?;
        let journal = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal_path)
            .await
            .map_err(|e| state_error(&self.journal_path, "cannot open").with_cause(e))?;
        Ok(Loaded {
            data,
            journal,
            journal_bytes,
            snapshot_bytes,
        })
    }

    /// Appends one entry (built from the next sequence number) and applies it. When the write
    /// fails the in-memory copy is dropped, so the next call reads what is really on disk.
    async fn append<'a>(&self, make: impl FnOnce(u64) -> Entry<'a>, compact: bool) -> Result<()> {
        let mut guard = self.inner.lock().await;
        let mut loaded = match guard.take() {
            Some(l) => l,
            None => self.load_files().await?,
        };
        let entry = make(loaded.data.seq + 1);
        let mut line = serde_json::to_vec(&entry).map_err(|e| {
            state_error(&self.journal_path, "cannot serialise an entry for").with_cause(e)
        })?;
        line.push(b'\n');
        let fail =
            |e: std::io::Error| state_error(&self.journal_path, "cannot write").with_cause(e);
        loaded.journal.write_all(&line).await.map_err(fail)?;
        loaded.journal.sync_data().await.map_err(fail)?;
        loaded.journal_bytes += line.len() as u64;
        entry.apply(&mut loaded.data);
        if compact || loaded.journal_bytes > MIN_COMPACT_BYTES.max(loaded.snapshot_bytes) {
            let (data, written) =
                write_snapshot(&self.path, std::mem::take(&mut loaded.data)).await;
            loaded.data = data;
            // On failure `guard` stays empty, so the next call reloads what is on disk.
            loaded.snapshot_bytes = written?;
            loaded.journal.set_len(0).await.map_err(fail)?;
            loaded.journal.sync_all().await.map_err(fail)?;
            loaded.journal_bytes = 0;
        }
        *guard = Some(loaded);
        Ok(())
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

async fn read_snapshot(path: &Path) -> Result<(StateData, u64)> {
    let owned = path.to_path_buf();
    // Parsed from a buffered reader on the blocking pool: the snapshot of a large source is
    // tens of MiB, which should neither sit in memory twice nor stall the runtime.
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Option<(StateData, u64)>> {
        let file = match std::fs::File::open(&owned) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = file.metadata()?.len();
        let data = serde_json::from_reader(std::io::BufReader::new(file))?;
        Ok(Some((data, size)))
    })
    .await
    .map_err(|e| state_error(path, "cannot read").with_cause(e))?;
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

/// Applies the journal's entries newer than the snapshot; returns the journal's size.
async fn replay_journal(path: &Path, data: &mut StateData) -> Result<u64> {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(state_error(path, "cannot read").with_cause(e)),
    };
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let last = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) if entry.seq() <= data.seq => {}
            Ok(entry) => entry.apply(data),
            // A crash in the middle of an append leaves a last line without its newline: that
            // entry was never acknowledged, so dropping it loses nothing.
            Err(_) if i + 1 == last && !complete => {}
            Err(e) => {
                return Err(state_error(
                    path,
                    &format!("corrupt line {} of the journal of", i + 1),
                )
                .with_cause(e));
            }
        }
    }
    Ok(bytes.len() as u64)
}

/// Writes the snapshot atomically on the blocking pool, streaming it to the file rather than
/// building it in memory first; hands the data back with the snapshot's size.
async fn write_snapshot(path: &Path, data: StateData) -> (StateData, Result<u64>) {
    let owned = path.to_path_buf();
    let joined = tokio::task::spawn_blocking(move || {
        let written = write_snapshot_blocking(&owned, &data);
        (data, written)
    })
    .await;
    match joined {
        Ok((data, written)) => (
            data,
            written.map_err(|e| state_error(path, "cannot write").with_cause(e)),
        ),
        // The task panicked (a bug) and took the data with it: the caller reloads from disk.
        Err(e) => (
            StateData::new(),
            Err(state_error(path, "cannot write").with_cause(e)),
        ),
    }
}

fn write_snapshot_blocking(path: &Path, data: &StateData) -> std::io::Result<u64> {
    crate::fs::write_atomically(path, |out| Ok(serde_json::to_writer(out, data)?))
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
        // The end of a run folds the journal into the snapshot, so between runs the state is
        // one plain JSON file.
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
                    },
                )]
                .into(),
                ..Commit::default()
            })
            .await
            .unwrap();
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

    #[tokio::test]
    async fn compaction_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = FileStateStore::open(&path).await.unwrap();
        // About 3 MiB of journal: compacted at least once.
        for batch in 0..300 {
            let documents = (0..100)
                .map(|i| {
                    (
                        format!("doc-{batch}-{i}"),
                        DocumentState {
                            fingerprint: "0".repeat(32),
                            updated_at: None,
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
}
