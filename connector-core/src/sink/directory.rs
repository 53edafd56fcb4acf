use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Sink;
use super::append::{AppendFile, Durability, io_error, sync_dir, unique_temporary};
use crate::document::{Content, Document};
use crate::error::Result;
use crate::ids::hash128;
use crate::spool::SpooledBody;

/// Writes each document's body to its own file and appends a line per change to
/// `manifest.ndjson`.
///
/// Layout: `{root}/files/{hash128(id)}.{ext}` holds the body (text as `.md`/`.txt`, bytes with
/// their extension; a [spooled](crate::Content::Spooled) body is copied from its file in
/// chunks, never read whole) and `{root}/manifest.ndjson` one JSON object per line: `{"op":"upsert",
/// "id", "file", "title", "source", "link", "updated_at", "fingerprint", "metadata"}` or
/// `{"op":"delete","id"}`. The last line for an id wins. Bodies are written to a temporary
/// file of their writer's own and renamed into place, so a reader never sees half a file.
///
/// A batch's bodies are written before its manifest lines, and with [`Durability::Fsync`] (the
/// default: the folder is kept across runs, as a durable state store needs) every body, the
/// `files` folder and the manifest are `fsync`ed before the write is acknowledged.
///
/// # Cancel safety
/// A batch is written on the blocking pool by a task that owns the manifest's lock: when the
/// future of [`write`](Sink::write) is dropped the batch is still written whole, and the next
/// write waits for it. The end of the process in the middle of a write can tear the manifest's
/// last line; [`open`](DirectorySink::open) cuts it off before appending (with a warning).
#[derive(Debug)]
pub struct DirectorySink {
    root: PathBuf,
    manifest: AppendFile,
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
    metadata: Option<&'a crate::Metadata>,
}

impl DirectorySink {
    /// Opens (creating) the folder `root`. A manifest whose last line was torn by the end of an
    /// earlier run is cut back to its last complete line first, with a warning.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`](crate::ErrorKind::Sink) naming the folder when it cannot be created,
    /// or the manifest when it cannot be opened or repaired.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let files = root.join("files");
        tokio::fs::create_dir_all(&files)
            .await
            .map_err(|e| io_error(&files, "create", e))?;
        let manifest =
            AppendFile::open(&root.join("manifest.ndjson"), false, Durability::Fsync).await?;
        Ok(Self { root, manifest })
    }

    /// How far each batch is taken before the write is acknowledged (see [`Durability`]; the
    /// default is [`Durability::Fsync`]).
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.manifest.set_durability(durability);
        self
    }

    /// The folder written to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file_name(doc: &Document) -> String {
        let ext = match &doc.content {
            Content::Text { .. } => "md".to_owned(),
            Content::Bytes { extension, .. } | Content::Spooled { extension, .. } => extension
                .as_deref()
                .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
                .unwrap_or("bin")
                .to_owned(),
        };
        format!("{}.{ext}", hash128(&doc.id))
    }
}

/// A body to write: in memory, or a spool file copied in chunks.
enum Body {
    Memory(Bytes),
    Spooled(SpooledBody),
}

/// Writes each body to a temporary file of this writer's own and renames it into place; with
/// `Fsync`, every body and then the folder are synced. Blocking. A spooled body is copied
/// from its file by `std::io::copy` (a fixed buffer, or the kernel's own copy): memory does
/// not grow with its size.
fn write_bodies(files: &Path, bodies: Vec<(String, Body)>, durability: Durability) -> Result<()> {
    let fsync = durability == Durability::Fsync;
    for (name, body) in &bodies {
        let path = files.join(name);
        let tmp = unique_temporary(&path);
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            match body {
                Body::Memory(data) => file.write_all(data)?,
                Body::Spooled(spooled) => {
                    let mut from = std::fs::File::open(spooled.path())?;
                    std::io::copy(&mut from, &mut file)?;
                }
            }
            if fsync {
                file.sync_data()?;
            }
            drop(file);
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error(&path, "write", e));
        }
    }
    if fsync && !bodies.is_empty() {
        sync_dir(files);
    }
    Ok(())
}

/// Removes the body files of these id hashes (any extension: a body's extension may have
/// changed between writes); with `Fsync`, the folder is synced. Blocking.
fn remove_bodies(files: &Path, hashes: &HashSet<String>, durability: Durability) -> Result<()> {
    let entries = std::fs::read_dir(files).map_err(|e| io_error(files, "list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(files, "list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name
            .split('.')
            .next()
            .is_some_and(|stem| hashes.contains(stem))
        {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io_error(&path, "remove", e))?;
        }
    }
    if durability == Durability::Fsync {
        sync_dir(files);
    }
    Ok(())
}

#[async_trait]
impl Sink for DirectorySink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        let mut bodies = Vec::with_capacity(documents.len());
        for doc in documents {
            let name = Self::file_name(doc);
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
            // The blocking task that writes the bodies outlives this borrow when the future is
            // dropped, so it owns them (bytes are shared, text is copied once).
            let body = match &doc.content {
                Content::Text { text } => Body::Memory(Bytes::copy_from_slice(text.as_bytes())),
                Content::Bytes { data, .. } => Body::Memory(data.clone()),
                Content::Spooled { body, .. } => Body::Spooled(body.clone()),
            };
            bodies.push((name, body));
        }
        let files = self.root.join("files");
        self.manifest
            .append_after(lines, move |durability| {
                write_bodies(&files, bodies, durability)
            })
            .await
    }

    fn takes_spooled(&self) -> bool {
        true
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let hashes: HashSet<String> = ids.iter().map(|id| hash128(id)).collect();
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
        let files = self.root.join("files");
        self.manifest
            .append_after(lines, move |durability| {
                remove_bodies(&files, &hashes, durability)
            })
            .await
    }
}
