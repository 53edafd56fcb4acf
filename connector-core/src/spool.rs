//! Bodies too large for memory: spooled to a temporary file while they download.
//!
//! A connector that meets an item larger than it may hold in memory (an S3 object over
//! `max_object_size`) writes the body chunk by chunk to a file of the sync's [`Spool`] (the OS
//! temporary folder unless the host chose another, see
//! [`SyncContext::with_spool`](crate::SyncContext::with_spool)) and delivers it as
//! [`Content::Spooled`](crate::Content::Spooled). Peak memory is then one chunk, whatever the
//! size of the body.
//!
//! # Why a spooled file, not a lazily opened stream
//! object_store's `GetResult::into_stream` and opendal's `Reader` hand out a handle that reads
//! the remote object when asked. A [`Document`](crate::Document) instead crosses the batch
//! loop (re-batching, the state store's commit, a retry of the sink batch) and is `Clone`: a
//! lazy handle would download again at every read, its credentials and connection would have
//! to outlive the connector's stream, and a failure of the download would surface in the sink,
//! after the connector's per-item failure policy had run. A spooled body is downloaded once, by
//! the connector, under the HTTP layer's retries and cap; its failure is the item's
//! [`Failure`](crate::Failure) as for any other body. What reaches the sink is a local file:
//! re-readable any number of times (a retried sink batch, several sinks), with its length and
//! content hash known without reading it. The cost is disk space for the bodies in flight
//! (at most the loop's buffered documents), which is what the host's spool folder is for.
//!
//! # Lifetime
//! A [`SpooledBody`] is shared by its clones and its file is deleted when the last clone drops
//! (a sink that keeps a document keeps its file). The file is created with a random name in
//! the spool folder and is readable by its owner only (`tempfile`'s default).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use tempfile::TempPath;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, ErrorKind, Result};

/// The size of the chunks [`SpooledBody::chunks`] yields and the sinks copy with.
pub const CHUNK: usize = 64 * 1024;

/// Where spooled bodies are written: a folder (by default the OS temporary folder,
/// [`std::env::temp_dir`]).
///
/// Choose a folder on a disk with room for the largest bodies in flight: a batch loop holds
/// at most its buffered documents, and each connector says how many downloads it runs at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spool {
    dir: Option<PathBuf>,
}

impl Spool {
    /// Spools to the OS temporary folder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spools to `dir` (created when missing).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// The folder bodies are written to.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// A new, empty spool file.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the folder when the file cannot be created.
    pub async fn writer(&self) -> Result<SpoolWriter> {
        let dir = self.dir();
        let folder = dir.clone();
        let created = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&folder)?;
            tempfile::Builder::new()
                .prefix(".connector-spool-")
                .tempfile_in(&folder)
        })
        .await;
        let file = match created {
            Ok(Ok(file)) => file,
            Ok(Err(e)) => return Err(spool_error(&dir, "create a spool file in", e)),
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!("creating a spool file in {} stopped", dir.display()),
                )
                .with_cause(e));
            }
        };
        let (file, path) = file.into_parts();
        Ok(SpoolWriter {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Xxh3::new(),
            len: 0,
        })
    }
}

fn spool_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("cannot {what} {}", path.display()),
    )
    .with_cause(e)
}

/// A spool file being written: append chunks with [`write`](SpoolWriter::write), then
/// [`finish`](SpoolWriter::finish). Dropped unfinished, its file is deleted.
pub struct SpoolWriter {
    file: tokio::fs::File,
    path: TempPath,
    hasher: Xxh3,
    len: u64,
}

impl SpoolWriter {
    /// Appends `chunk`.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the file when it cannot be written (a full disk).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| spool_error(&self.path, "write the spool file", e))?;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The finished body.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the file when it cannot be flushed.
    pub async fn finish(mut self) -> Result<SpooledBody> {
        self.file
            .flush()
            .await
            .map_err(|e| spool_error(&self.path, "write the spool file", e))?;
        Ok(SpooledBody {
            inner: Arc::new(Inner {
                path: self.path,
                len: self.len,
                hash: self.hasher.digest128(),
            }),
        })
    }
}

impl fmt::Debug for SpoolWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpoolWriter")
            .field("path", &self.path.display())
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// Deleted when dropped.
    path: TempPath,
    len: u64,
    /// XXH3-128 of the bytes, computed while they were written.
    hash: u128,
}

/// A body written to a spool file (see the [module docs](self)): its length and content hash
/// are known without reading it, and it can be read any number of times, as an
/// [`AsyncRead`](tokio::io::AsyncRead) ([`open`](SpooledBody::open)), a stream of chunks
/// ([`chunks`](SpooledBody::chunks)) or, on a blocking thread, a [`std::fs::File`]
/// ([`open_blocking`](SpooledBody::open_blocking)).
///
/// Clones share the file; it is deleted when the last clone drops. Two spooled bodies are
/// equal when their length and content hash are.
#[derive(Clone)]
pub struct SpooledBody {
    inner: Arc<Inner>,
}

impl SpooledBody {
    /// The body's length in bytes (no I/O).
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The file holding the body (valid while this body or a clone lives).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// XXH3-128 of the bytes as 32 hex digits: what
    /// [`hash128_bytes`](crate::ids::hash128_bytes) gives for the whole body (no I/O).
    pub fn content_hash(&self) -> String {
        crate::ids::hex128(self.inner.hash)
    }

    /// The body as an [`AsyncRead`](tokio::io::AsyncRead), from its start.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the file when it cannot be opened.
    pub async fn open(&self) -> Result<tokio::fs::File> {
        tokio::fs::File::open(self.path())
            .await
            .map_err(|e| spool_error(self.path(), "open the spool file", e))
    }

    /// The body as a blocking [`std::fs::File`], for code on a blocking thread (never on the
    /// async runtime).
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the file when it cannot be opened.
    pub fn open_blocking(&self) -> Result<std::fs::File> {
        std::fs::File::open(self.path())
            .map_err(|e| spool_error(self.path(), "open the spool file", e))
    }

    /// The body as a stream of chunks of at most [`CHUNK`] bytes (the stream holds its own
    /// clone, so the file lives while it is read).
    pub fn chunks(&self) -> BoxStream<'static, Result<Bytes>> {
        let body = self.clone();
        Box::pin(async_stream::try_stream! {
            let mut file = body.open().await?;
            loop {
                let mut buf = BytesMut::with_capacity(CHUNK);
                let n = file
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| spool_error(body.path(), "read the spool file", e))?;
                if n == 0 {
                    break;
                }
                yield buf.freeze();
            }
        })
    }

    /// The whole body in memory, for a sink that keeps documents in memory.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] naming the file when it cannot be read.
    pub async fn read_all(&self) -> Result<Bytes> {
        tokio::fs::read(self.path())
            .await
            .map(Bytes::from)
            .map_err(|e| spool_error(self.path(), "read the spool file", e))
    }

    /// Writes the body as base64 to `out` in chunks, blocking (a serialiser's way to stream
    /// it: see [`Content::Spooled`](crate::Content::Spooled)). A read error stops the writing
    /// and is left in `read_error` (the output is then short, so the caller fails), with `Ok`:
    /// a serialiser's `collect_str` expects `Err` only from its own writer.
    pub(crate) fn write_base64(
        &self,
        out: &mut impl fmt::Write,
        read_error: &mut Option<std::io::Error>,
    ) -> fmt::Result {
        use base64::Engine;
        // A multiple of 3, so chunks encode without padding between them.
        const RAW: usize = 3 * 16 * 1024;
        let mut file = match std::fs::File::open(self.path()) {
            Ok(file) => file,
            Err(e) => {
                *read_error = Some(e);
                return Ok(());
            }
        };
        let mut raw = vec![0u8; RAW];
        let mut text = String::with_capacity(RAW / 3 * 4 + 4);
        loop {
            let mut filled = 0;
            while filled < RAW {
                match file.read(&mut raw[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        *read_error = Some(e);
                        return Ok(());
                    }
                }
            }
            if filled == 0 {
                return Ok(());
            }
            text.clear();
            base64::engine::general_purpose::STANDARD.encode_string(&raw[..filled], &mut text);
            out.write_str(&text)?;
            if filled < RAW {
                return Ok(());
            }
        }
    }
}

impl PartialEq for SpooledBody {
    fn eq(&self, other: &Self) -> bool {
        self.inner.len == other.inner.len && self.inner.hash == other.inner.hash
    }
}

impl fmt::Debug for SpooledBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpooledBody")
            .field("path", &self.path().display())
            .field("len", &self.inner.len)
            .finish()
    }
}

/// Writes a stream of chunks to a new spool file, refusing more than `max` bytes.
///
/// # Errors
/// The stream's own error; [`ErrorKind::InvalidData`] when the body passes `max` (the file is
/// deleted); [`ErrorKind::Internal`] when the spool file cannot be written.
pub async fn spool_stream<S>(spool: &Spool, mut stream: S, max: u64) -> Result<SpooledBody>
where
    S: futures::Stream<Item = Result<Bytes>> + Unpin,
{
    use futures::StreamExt;
    let mut writer = spool.writer().await?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if writer.len() + chunk.len() as u64 > max {
            return Err(Error::invalid_data(format!(
                "the body is larger than the {max}-byte limit"
            )));
        }
        writer.write(&chunk).await?;
    }
    writer.finish().await
}

#[cfg(test)]
mod tests {
    use futures::{StreamExt, TryStreamExt};

    use super::*;

    #[tokio::test]
    async fn a_spooled_body_reads_back_and_its_file_goes_with_the_last_clone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Spool::in_dir(dir.path().join("spool"));
        let data: Vec<u8> = (0..200_003u32).map(|n| (n % 251) as u8).collect();
        let chunks: Vec<Result<Bytes>> = data
            .chunks(7_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = spool_stream(&spool, futures::stream::iter(chunks), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body.len(), data.len() as u64);
        assert_eq!(body.content_hash(), crate::ids::hash128_bytes(&data));
        let read: Vec<Bytes> = body.chunks().try_collect().await.unwrap_or_default();
        assert!(read.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(read.concat(), data);
        assert_eq!(body.read_all().await.ok().as_deref(), Some(&data[..]));
        let mut text = String::new();
        let mut read_error = None;
        body.write_base64(&mut text, &mut read_error)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(read_error.is_none());
        use base64::Engine;
        assert_eq!(
            text,
            base64::engine::general_purpose::STANDARD.encode(&data)
        );
        let path = body.path().to_path_buf();
        let clone = body.clone();
        drop(body);
        assert!(path.exists(), "a clone still holds the file");
        drop(clone);
        assert!(!path.exists(), "the last clone deletes the file");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Spool::in_dir(dir.path());
        let chunks = futures::stream::iter((0..4).map(|_| Ok(Bytes::from(vec![1u8; 100]))));
        let e = spool_stream(&spool, chunks.boxed(), 250)
            .await
            .err()
            .unwrap_or_else(|| panic!("over the limit"));
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        let left = std::fs::read_dir(dir.path()).map_or(0, Iterator::count);
        assert_eq!(left, 0, "the partial spool file is deleted");
    }
}
