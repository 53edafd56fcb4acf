use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::Sink;
use crate::document::Document;
use crate::error::{Error, ErrorKind, Result};

enum Target {
    File {
        file: tokio::fs::File,
        durable: bool,
    },
    Stream(Box<dyn AsyncWrite + Send + Unpin>),
}

/// Writes one JSON document per line to a file or to stdout.
///
/// Each line is a serialised [`Document`](crate::Document); a prune writes
/// `{"op":"delete","id":"..."}` lines, which have no `id`-less document shape, so readers tell the
/// two apart by the `op` key. A batch is written with one `write_all` and flushed (and, for
/// [`durable`](NdjsonSink::durable) files, `fsync`ed) before the write is acknowledged.
pub struct NdjsonSink {
    target: Mutex<Target>,
    name: String,
}

#[derive(Serialize)]
struct DeleteLine<'a> {
    op: &'static str,
    id: &'a str,
}

impl NdjsonSink {
    /// Creates (or truncates) `path`, creating its parent folders.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be created.
    pub async fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path.as_ref(), false).await
    }

    /// Opens `path` for appending, creating it and its parent folders when missing. Use it with
    /// a persistent state store, so that incremental runs add to what earlier runs wrote.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be opened.
    pub async fn append(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path.as_ref(), true).await
    }

    async fn open(path: &Path, append: bool) -> Result<Self> {
        let fail = |e: std::io::Error, what: &str| {
            Error::new(ErrorKind::Sink, format!("cannot {what} {}", path.display())).with_cause(e)
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| fail(e, "create the folder of"))?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .await
            .map_err(|e| fail(e, "open"))?;
        Ok(Self {
            target: Mutex::new(Target::File {
                file,
                durable: false,
            }),
            name: path.display().to_string(),
        })
    }

    /// Writes to standard output.
    pub fn stdout() -> Self {
        Self::writer(tokio::io::stdout(), "stdout")
    }

    /// Writes to any async writer.
    pub fn writer(
        writer: impl AsyncWrite + Send + Unpin + 'static,
        name: impl Into<String>,
    ) -> Self {
        Self {
            target: Mutex::new(Target::Stream(Box::new(writer))),
            name: name.into(),
        }
    }

    /// `fsync`s the file after every batch, so an acknowledged batch survives a power loss.
    #[must_use]
    pub fn durable(self, on: bool) -> Self {
        let mut target = self.target.into_inner();
        if let Target::File { durable, .. } = &mut target {
            *durable = on;
        }
        Self {
            target: Mutex::new(target),
            name: self.name,
        }
    }

    async fn write_bytes(&self, bytes: &[u8]) -> Result<()> {
        let fail = |e: std::io::Error| {
            Error::new(ErrorKind::Sink, format!("cannot write to {}", self.name)).with_cause(e)
        };
        let mut target = self.target.lock().await;
        match &mut *target {
            Target::File { file, durable } => {
                file.write_all(bytes).await.map_err(fail)?;
                file.flush().await.map_err(fail)?;
                if *durable {
                    file.sync_data().await.map_err(fail)?;
                }
            }
            Target::Stream(w) => {
                w.write_all(bytes).await.map_err(fail)?;
                w.flush().await.map_err(fail)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for NdjsonSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NdjsonSink")
            .field("target", &self.name)
            .finish()
    }
}

#[async_trait]
impl Sink for NdjsonSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let content: usize = documents.iter().map(|d| d.content.len()).sum();
        let mut buf = Vec::with_capacity(content + 256 * documents.len());
        for doc in documents {
            serde_json::to_writer(&mut buf, doc).map_err(|e| {
                Error::new(ErrorKind::Sink, "cannot serialise document")
                    .with_item(doc.id.clone())
                    .with_cause(e)
            })?;
            buf.push(b'\n');
        }
        self.write_bytes(&buf).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for id in ids {
            serde_json::to_writer(&mut buf, &DeleteLine { op: "delete", id })?;
            buf.push(b'\n');
        }
        self.write_bytes(&buf).await
    }
}
