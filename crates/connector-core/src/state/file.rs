use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{Commit, DocumentState, RunRecord, STATE_VERSION, StateData, StateStore, SyncState};
use crate::error::{Error, ErrorKind, Result};

/// Keeps state in one JSON file, rewritten atomically (temporary file, `fsync`, rename) on
/// every change, so a crash leaves either the old or the new state, never half of one.
///
/// Every commit rewrites the whole file: fine for the CLI and for sources of tens of thousands
/// of documents; `connector-sync`'s SQLite store is the one for large sources.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    data: Mutex<Option<StateData>>,
}

impl FileStateStore {
    /// Opens the store at `path`, reading it if it exists. A missing file is an empty state;
    /// its parent folder is created on the first write.
    ///
    /// # Errors
    /// [`ErrorKind::State`] naming the file when it exists but cannot be read or is corrupt.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let data = read(&path).await?;
        Ok(Self {
            path,
            data: Mutex::new(Some(data)),
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state (again, if a failed write left memory and disk apart), applies `f` and
    /// writes the result. When the write fails the in-memory copy is dropped, so the next call
    /// reads what is really on disk.
    async fn update<T>(&self, f: impl FnOnce(&mut StateData) -> T) -> Result<T> {
        let mut guard = self.data.lock().await;
        let mut data = match guard.take() {
            Some(d) => d,
            None => read(&self.path).await?,
        };
        let out = f(&mut data);
        write(&self.path, &data).await?;
        *guard = Some(data);
        Ok(out)
    }

    async fn read_with<T>(&self, f: impl FnOnce(&StateData) -> T) -> Result<T> {
        let mut guard = self.data.lock().await;
        if guard.is_none() {
            *guard = Some(read(&self.path).await?);
        }
        match guard.as_ref() {
            Some(data) => Ok(f(data)),
            None => Err(Error::internal("state vanished while locked")),
        }
    }
}

fn state_error(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::State,
        format!("{what} state file {}", path.display()),
    )
}

async fn read(path: &Path) -> Result<StateData> {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateData::new()),
        Err(e) => return Err(state_error(path, "cannot read").with_cause(e)),
    };
    let data: StateData = serde_json::from_slice(&bytes).map_err(|e| {
        state_error(path, "corrupt")
            .with_cause(e)
            .with_item(path.display().to_string())
    })?;
    if data.version != STATE_VERSION {
        return Err(state_error(
            path,
            &format!("unsupported version {} in", data.version),
        ));
    }
    Ok(data)
}

async fn write(path: &Path, data: &StateData) -> Result<()> {
    let bytes = serde_json::to_vec(data)
        .map_err(|e| state_error(path, "cannot serialise").with_cause(e))?;
    let fail = |e: std::io::Error| state_error(path, "cannot write").with_cause(e);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent).await.map_err(fail)?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = parent.join(tmp_name);
    let mut file = tokio::fs::File::create(&tmp).await.map_err(fail)?;
    file.write_all(&bytes).await.map_err(fail)?;
    file.sync_all().await.map_err(fail)?;
    drop(file);
    tokio::fs::rename(&tmp, path).await.map_err(fail)?;
    // Make the rename itself durable; some platforms cannot open a folder, which is fine there.
    if let Ok(dir) = tokio::fs::File::open(parent).await {
        let _ = dir.sync_all().await;
    }
    Ok(())
}

#[async_trait]
impl StateStore for FileStateStore {
    async fn load(&self) -> Result<SyncState> {
        self.read_with(StateData::sync_state).await
    }

    async fn documents(&self, ids: &[String]) -> Result<HashMap<String, DocumentState>> {
        self.read_with(|d| d.documents(ids)).await
    }

    async fn document_ids(&self) -> Result<Vec<String>> {
        self.read_with(|d| d.documents.keys().cloned().collect())
            .await
    }

    async fn commit(&self, commit: Commit) -> Result<()> {
        if commit.is_empty() {
            return Ok(());
        }
        self.update(|d| d.apply(commit)).await
    }

    async fn remove_documents(&self, ids: &[String]) -> Result<()> {
        self.update(|d| d.remove(ids)).await
    }

    async fn finish_run(&self, run: RunRecord, window_end: Option<DateTime<Utc>>) -> Result<()> {
        self.update(|d| d.finish(run, window_end)).await
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
                )],
                ..Commit::default()
            })
            .await
            .unwrap();
        let reopened = FileStateStore::open(&path).await.unwrap();
        assert_eq!(reopened.load().await.unwrap().checkpoint, Some(cp));
        assert_eq!(reopened.document_ids().await.unwrap(), vec!["a".to_owned()]);
        assert!(!dir.path().join("nested/state.json.tmp").exists());
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
}
