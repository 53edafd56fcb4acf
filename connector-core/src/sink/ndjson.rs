use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::Sink;
use super::append::{AppendFile, Durability, DurableOutput, OutputMark};
use crate::document::Document;
use crate::error::{Error, ErrorKind, Result};

/// The largest buffer [`NdjsonSink`] keeps for its next batch: batches are usually tens of
/// KiB; one batch of a few large bodies should not pin its buffer for the rest of the run.
const SPARE_MAX: usize = 1 << 20;

enum Target {
    File(AppendFile),
    Stream(Mutex<Box<dyn AsyncWrite + Send + Unpin>>),
}

/// Writes one JSON document per line to a file or to stdout.
///
/// Each line is a serialised [`Document`](crate::Document); a prune writes
/// `{"op":"delete","id":"..."}` lines, which have no `id`-less document shape, so readers tell the
/// two apart by the `op` key. A batch is serialised into one buffer and written with one
/// `write_all`, then flushed (and, with [`Durability::Fsync`], `fsync`ed) before the write is
/// acknowledged; see [`Durability`] for which is the default and why.
///
/// A batch with a [spooled](crate::Content::Spooled) body is not built in memory: it is
/// serialised on the blocking pool straight into the file, each spooled body's base64 read
/// from its file in chunks (a file cut back to where it was if the batch fails).
///
/// # Cancel safety
/// A file is written on the blocking pool by a task that owns the file's lock: when the future
/// of [`write`](Sink::write) is dropped, the batch is still written whole, and the next write
/// waits for it. Only the end of the process in the middle of a write can tear the last line;
/// [`append`](NdjsonSink::append) cuts such a line off before appending (and logs a warning
/// with the byte count), so no document is ever recorded after half a line. A writer given to
/// [`writer`](NdjsonSink::writer) (stdout) is written in place and can be torn by a drop.
pub struct NdjsonSink {
    target: Target,
    name: String,
    /// Bytes per line past the body in the last batch: the next batch's buffer is sized by it.
    line_overhead: AtomicUsize,
    /// The last batch's buffer, emptied, when it came back from a write in place: the next
    /// batch is serialised into it (the batches of a run are written one after another).
    spare: std::sync::Mutex<Vec<u8>>,
}

#[derive(Serialize)]
struct DeleteLine<'a> {
    op: &'static str,
    id: &'a str,
}

impl NdjsonSink {
    /// Creates (or truncates) `path`, creating its parent folders. Batches are flushed, not
    /// `fsync`ed ([`Durability::Flush`]): a fresh file goes with a run that keeps no state.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be created.
    pub async fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path.as_ref(), false, Durability::Flush).await
    }

    /// Opens `path` for appending, creating it and its parent folders when missing. Use it with
    /// a persistent state store, so that incremental runs add to what earlier runs wrote.
    ///
    /// A last line without its newline (a write cut short when an earlier run ended) is cut
    /// off first, with a warning that says how many bytes went: its batch was never
    /// acknowledged, so it is delivered again. Batches are `fsync`ed before they are
    /// acknowledged ([`Durability::Fsync`]), as a durable state store needs.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be opened or repaired.
    pub async fn append(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path.as_ref(), true, Durability::Fsync).await
    }

    /// Opens `path` for appending in group-commit mode, the output of a
    /// [`FileStateStore`](crate::state::FileStateStore) that
    /// [group-commits](crate::state::FileStateStore::group_commit): batches are acknowledged
    /// once the operating system has them ([`Durability::Flush`]), and the store makes them
    /// durable at its group points through [`durable_output`](NdjsonSink::durable_output).
    ///
    /// `mark` is the store's [`output_mark`](crate::state::FileStateStore::output_mark): when
    /// the file is the one it was taken of and is longer, it is cut back to it first (with a
    /// warning saying how many bytes went), since the state does not claim those batches and
    /// the run delivers them again; a file that was rotated, replaced or is shorter is not cut
    /// (a warning says why). A torn last line is repaired as by [`append`](NdjsonSink::append).
    ///
    /// This is a deviation from the sinks' contract that a file sink acknowledges only durable
    /// output: in group mode it is the *state* that claims only durable output, which is what
    /// crash consistency needs (after a kill or a power loss nothing the state claims is gone).
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be opened, cut or repaired.
    pub async fn append_grouped(path: impl AsRef<Path>, mark: Option<OutputMark>) -> Result<Self> {
        let path = path.as_ref();
        Self::create_parent(path).await?;
        let file = AppendFile::open_grouped(path, mark).await?;
        Ok(Self {
            target: Target::File(file),
            name: path.display().to_string(),
            line_overhead: AtomicUsize::new(0),
            spare: std::sync::Mutex::default(),
        })
    }

    /// [`append`](NdjsonSink::append) (each batch `fsync`ed before it is acknowledged, the
    /// per-batch mode) for the output of a
    /// [`FileStateStore`](crate::state::FileStateStore) that does not group-commit this run
    /// but may have in an earlier one: the file is first cut back to `mark`, the store's
    /// [`output_mark`](crate::state::FileStateStore::output_mark), as by
    /// [`append_grouped`](NdjsonSink::append_grouped). So the batches a killed
    /// group-committing run wrote after its last group point, which the state does not claim
    /// and this run delivers again, are not kept twice. The store's first commit then makes
    /// the mark stale (it claims output past it), and a later open cuts nothing it claims.
    ///
    /// # Errors
    /// [`ErrorKind::Sink`] naming the path when it cannot be opened, cut or repaired.
    pub async fn append_at_mark(path: impl AsRef<Path>, mark: Option<OutputMark>) -> Result<Self> {
        Ok(Self::append_grouped(path, mark)
            .await?
            .durability(Durability::Fsync))
    }

    /// The handle a group-committing state store makes this file durable through (see
    /// [`append_grouped`](NdjsonSink::append_grouped)); `None` for a writer such as stdout.
    pub fn durable_output(&self) -> Option<Arc<dyn DurableOutput>> {
        match &self.target {
            Target::File(file) => Some(Arc::new(file.clone())),
            Target::Stream(_) => None,
        }
    }

    async fn create_parent(path: &Path) -> Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                Error::new(
                    ErrorKind::Sink,
                    format!("cannot create the folder of {}", path.display()),
                )
                .with_cause(e)
            })?;
        }
        Ok(())
    }

    async fn open(path: &Path, append: bool, durability: Durability) -> Result<Self> {
        Self::create_parent(path).await?;
        let file = AppendFile::open(path, !append, durability).await?;
        Ok(Self {
            target: Target::File(file),
            name: path.display().to_string(),
            line_overhead: AtomicUsize::new(0),
            spare: std::sync::Mutex::default(),
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
            target: Target::Stream(Mutex::new(Box::new(writer))),
            name: name.into(),
            line_overhead: AtomicUsize::new(0),
            spare: std::sync::Mutex::default(),
        }
    }

    /// How far a file takes each batch before the write is acknowledged (see [`Durability`]
    /// for the defaults). A writer given to [`writer`](NdjsonSink::writer) is always flushed,
    /// never `fsync`ed.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        if let Target::File(file) = &mut self.target {
            file.set_durability(durability);
        }
        self
    }

    /// The same as [`durability`](NdjsonSink::durability): [`Durability::Fsync`] when `on`,
    /// [`Durability::Flush`] when not.
    #[must_use]
    pub fn durable(self, on: bool) -> Self {
        self.durability(if on {
            Durability::Fsync
        } else {
            Durability::Flush
        })
    }

    async fn write_bytes(&self, bytes: Vec<u8>) -> Result<()> {
        match &self.target {
            Target::File(file) => {
                if let Some(mut back) = file.append(bytes).await?
                    && back.capacity() <= SPARE_MAX
                {
                    back.clear();
                    *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = back;
                }
                Ok(())
            }
            Target::Stream(w) => {
                let fail = |e: std::io::Error| {
                    Error::new(ErrorKind::Sink, format!("cannot write to {}", self.name))
                        .with_cause(e)
                };
                let mut w = w.lock().await;
                w.write_all(&bytes).await.map_err(fail)?;
                w.flush().await.map_err(fail)
            }
        }
    }
}

/// Serialises `documents` as lines into `out`; a spooled body's base64 is streamed from its
/// file in chunks. Blocking.
fn write_lines(out: &mut dyn Write, documents: &[Document]) -> Result<()> {
    for doc in documents {
        let fail = |e: serde_json::Error| {
            Error::new(ErrorKind::Sink, "cannot serialise document")
                .with_item(doc.id.clone())
                .with_cause(e)
        };
        serde_json::to_writer(&mut *out, doc).map_err(fail)?;
        out.write_all(b"\n")
            .map_err(|e| fail(serde_json::Error::io(e)))?;
    }
    Ok(())
}

/// A blocking writer that hands its chunks to an async task over a bounded channel.
struct ChannelWriter(tokio::sync::mpsc::Sender<Vec<u8>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(buf.to_vec())
            .map_err(|_| std::io::Error::other("the output stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl NdjsonSink {
    /// Writes a batch that holds spooled bodies without building it in memory: serialised on
    /// the blocking pool straight into the file (cut back if it fails), or into a bounded
    /// channel that this task drains into the writer. Memory stays at a few chunks.
    async fn write_streamed(&self, documents: Vec<Document>) -> Result<()> {
        match &self.target {
            Target::File(file) => {
                file.append_streamed(move |out| write_lines(out, &documents))
                    .await
            }
            Target::Stream(w) => {
                let fail = |e: std::io::Error| {
                    Error::new(ErrorKind::Sink, format!("cannot write to {}", self.name))
                        .with_cause(e)
                };
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
                let task = tokio::task::spawn_blocking(move || {
                    let mut out =
                        std::io::BufWriter::with_capacity(crate::spool::CHUNK, ChannelWriter(tx));
                    write_lines(&mut out, &documents)?;
                    out.flush().map_err(|e| {
                        Error::new(ErrorKind::Sink, "cannot serialise a batch").with_cause(e)
                    })
                });
                let mut w = w.lock().await;
                let mut written = Ok(());
                while let Some(chunk) = rx.recv().await {
                    if let Err(e) = w.write_all(&chunk).await {
                        written = Err(fail(e));
                        break;
                    }
                }
                // Dropping the receiver stops the serialiser at its next chunk.
                drop(rx);
                let serialised = match task.await {
                    Ok(result) => result,
                    Err(e) => Err(
                        Error::new(ErrorKind::Sink, "a sink write stopped unexpectedly")
                            .with_cause(e),
                    ),
                };
                written?;
                serialised?;
                w.flush().await.map_err(fail)
            }
        }
    }
}

impl fmt::Debug for NdjsonSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("NdjsonSink");
        f.field("target", &self.name);
        if let Target::File(file) = &self.target {
            f.field("durability", &file.durability());
        }
        f.finish()
    }
}

#[async_trait]
impl Sink for NdjsonSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        if documents.iter().any(|d| d.content.is_spooled()) {
            return self.write_streamed(documents.to_vec()).await;
        }
        // Sized from the batch before (its bytes past the bodies, per document), so the buffer
        // is not grown (and copied) while the lines are written.
        let content: usize = documents.iter().map(|d| d.content.len()).sum();
        let overhead = self.line_overhead.load(Ordering::Relaxed).max(256);
        let want = content + (overhead + overhead / 8) * documents.len();
        let mut buf = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|e| e.into_inner()));
        buf.clear();
        buf.reserve(want);
        for doc in documents {
            super::line::write_document(&mut buf, doc).map_err(|e| {
                Error::new(ErrorKind::Sink, "cannot serialise document")
                    .with_item(doc.id.clone())
                    .with_cause(e)
            })?;
            buf.push(b'\n');
        }
        let per_doc = buf.len().saturating_sub(content) / documents.len();
        self.line_overhead.store(per_doc, Ordering::Relaxed);
        self.write_bytes(buf).await
    }

    fn takes_spooled(&self) -> bool {
        true
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
        self.write_bytes(buf).await
    }
}
