//! Reading a response body under a cap, whole or as a snippet for an error.

use bytes::{Bytes, BytesMut};

/// How much of a response body the [classifier](super::classify::Classifier) needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRead {
    /// The whole body, up to this many bytes; a failure to read it matters.
    Whole(u64),
    /// At most this many bytes for an error message or an error classifier; a body that is
    /// larger or cannot be read counts as empty.
    Snippet(u64),
    /// None: the status says it all.
    Skip,
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// It is larger than the cap.
    TooLarge,
    /// The connection failed while reading it.
    Transport(reqwest::Error),
    /// The spool file it was going to could not be written.
    Spool(crate::error::Error),
}

impl BodyRead {
    /// Reads what `self` asks for of `resp`'s body (a skipped body is empty).
    pub(crate) async fn read(self, resp: &mut reqwest::Response) -> Result<Bytes, BodyError> {
        match self {
            Self::Whole(cap) => read_body(resp, cap).await,
            Self::Snippet(cap) => Ok(read_body(resp, cap).await.unwrap_or_default()),
            Self::Skip => Ok(Bytes::new()),
        }
    }
}

/// The smallest one-chunk body [`read_body`] hands on without copying it out of the
/// connection's read buffer.
const SHARED_CHUNK_MIN: usize = 64 * 1024;

/// The largest first allocation [`read_body`] makes for a body in several chunks, whatever
/// length the server declares.
const FIRST_ALLOCATION_MAX: u64 = 16 * 1024 * 1024;

/// Reads `resp`'s body (after decompression) up to `cap` bytes, refusing a larger one before
/// reading it when its length is declared.
///
/// A body of at least [`SHARED_CHUNK_MIN`] bytes that arrives in one chunk (most API pages)
/// is handed on as that chunk, without a copy; a smaller one is copied out, since a chunk is
/// a slice of the connection's read buffer (up to about 400 KiB) and a small body kept as
/// document content would keep all of it alive, unseen by the batch's byte budget. A body
/// in several chunks is gathered into one buffer sized by its declared length (up to the
/// cap, the first allocation at most [`FIRST_ALLOCATION_MAX`]), so it is copied once and
/// regrown only past that size.
async fn read_body(resp: &mut reqwest::Response, cap: u64) -> Result<Bytes, BodyError> {
    let declared = resp.content_length();
    if declared.is_some_and(|len| len > cap) {
        return Err(BodyError::TooLarge);
    }
    let Some(first) = resp.chunk().await.map_err(BodyError::Transport)? else {
        return Ok(Bytes::new());
    };
    if first.len() as u64 > cap {
        return Err(BodyError::TooLarge);
    }
    let Some(second) = resp.chunk().await.map_err(BodyError::Transport)? else {
        if first.len() < SHARED_CHUNK_MIN {
            return Ok(Bytes::copy_from_slice(&first));
        }
        return Ok(first);
    };
    let size = first.len() as u64 + second.len() as u64;
    if size > cap {
        return Err(BodyError::TooLarge);
    }
    // The declared length is at most the cap (checked above); without one, start at twice
    // what has come, bounded, and grow as needed. A declared length is the server's word:
    // the first allocation is bounded, so a large one with little sent costs little.
    let hint = declared
        .unwrap_or(2 * size)
        .max(size)
        .min(cap)
        .min(FIRST_ALLOCATION_MAX.max(size));
    let mut buf = BytesMut::with_capacity(usize::try_from(hint).unwrap_or(0));
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    drop((first, second));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if (buf.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Writes `resp`'s body (after decompression) to a new file of `spool`, up to `cap` bytes,
/// refusing a larger one before reading it when its length is declared. Memory holds one
/// chunk at a time; a body cut short or over the cap leaves no file.
pub(crate) async fn spool_body(
    resp: &mut reqwest::Response,
    cap: u64,
    spool: &crate::spool::Spool,
) -> Result<crate::spool::SpooledBody, BodyError> {
    if resp.content_length().is_some_and(|len| len > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut writer = spool.writer().await.map_err(BodyError::Spool)?;
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if writer.len() + chunk.len() as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        writer.write(&chunk).await.map_err(BodyError::Spool)?;
    }
    writer.finish().await.map_err(BodyError::Spool)
}
