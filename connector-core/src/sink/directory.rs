use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::Sink;
use crate::document::{Content, Document};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::hash128;

/// Writes each document's body to its own file and appends a line per change to
/// `manifest.ndjson`.
///
/// Layout: `{root}/files/{hash128(id)}.{ext}` holds the body (text as `.md`/`.txt`, bytes with
/// their extension) and `{root}/manifest.ndjson` one JSON object per line: `{"op":"upsert",
/// "id", "file", "title", "source", "link", "updated_at", "fingerprint", "metadata"}` or
/// `{"op":"delete","id"}`. The last line for an id wins. Bodies are written to a temporary
/// file and renamed into place, so a reader never sees half a file.
#[derive(Debug)]
pub struct DirectorySink {
    root: PathBuf,
    manifest: Mutex<tokio::fs::File>,
}

#[derive(Serialize)]
struct ManifestLine<'a> {
    op: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a std::collections::BTreeMap<String, serde_json::Value>>,
}

impl DirectorySink {
    /// Opens (creating) the folder `root`.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the folder when it cannot be created.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let files = root.join("files");
        tokio::fs::create_dir_all(&files)
            .await
            .map_err(|e| io_error(&files, "create", e))?;
        let manifest_path = root.join("manifest.ndjson");
        let manifest = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&manifest_path)
            .await
            .map_err(|e| io_error(&manifest_path, "open", e))?;
        Ok(Self {
            root,
            manifest: Mutex::new(manifest),
        })
    }

    /// The folder written to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file_name(doc: &Document) -> String {
        let ext = match &doc.content {
            Content::Text { .. } => "md".to_owned(),
            Content::Bytes { extension, .. } => extension
                .as_deref()
                .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
                .unwrap_or("bin")
                .to_owned(),
        };
        format!("{}.{ext}", hash128(&doc.id))
    }

    async fn append_manifest(&self, buf: &[u8]) -> Result<()> {
        let path = self.root.join("manifest.ndjson");
        let mut manifest = self.manifest.lock().await;
        manifest
            .write_all(buf)
            .await
            .map_err(|e| io_error(&path, "write", e))?;
        manifest
            .sync_data()
            .await
            .map_err(|e| io_error(&path, "sync", e))
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Sink, format!("cannot {what} {}", path.display())).with_cause(e)
}

#[async_trait]
impl Sink for DirectorySink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let mut lines = Vec::new();
        for doc in documents {
            let name = Self::file_name(doc);
            let path = self.root.join("files").join(&name);
            let tmp = self.root.join("files").join(format!(".{name}.tmp"));
            tokio::fs::write(&tmp, doc.content.as_bytes())
                .await
                .map_err(|e| io_error(&tmp, "write", e))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| io_error(&path, "rename into", e))?;
            let line = ManifestLine {
                op: "upsert",
                id: &doc.id,
                file: Some(format!("files/{name}")),
                title: Some(&doc.title),
                source: Some(&doc.source),
                link: doc.link.as_ref().map(url::Url::as_str),
                updated_at: doc.updated_at,
                fingerprint: Some(&doc.fingerprint),
                metadata: Some(&doc.metadata).filter(|m| !m.is_empty()),
            };
            serde_json::to_writer(&mut lines, &line)?;
            lines.push(b'\n');
        }
        if lines.is_empty() {
            return Ok(());
        }
        self.append_manifest(&lines).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // A body's extension may have changed between writes, so match files by the id's hash.
        let hashes: std::collections::HashSet<String> = ids.iter().map(|id| hash128(id)).collect();
        let files = self.root.join("files");
        let mut entries = tokio::fs::read_dir(&files)
            .await
            .map_err(|e| io_error(&files, "list", e))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_error(&files, "list", e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name
                .split('.')
                .next()
                .is_some_and(|stem| hashes.contains(stem))
            {
                let path = entry.path();
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(|e| io_error(&path, "remove", e))?;
            }
        }
        let mut lines = Vec::new();
        for id in ids {
            let line = ManifestLine {
                op: "delete",
                id,
                file: None,
                title: None,
                source: None,
                link: None,
                updated_at: None,
                fingerprint: None,
                metadata: None,
            };
            serde_json::to_writer(&mut lines, &line)?;
            lines.push(b'\n');
        }
        self.append_manifest(&lines).await
    }
}
