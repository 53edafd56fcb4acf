//! Sinks: where the batch loop delivers documents.
//!
//! A [`Sink`] upserts documents by id and deletes ids. A write that returns `Ok` is an
//! acknowledgement: only then does the batch loop commit the checkpoint, the window end and the
//! fingerprints of that batch. A sink must therefore make a batch durable (or hand it on)
//! before returning, and must upsert by id, because after a crash the unacknowledged batch is
//! delivered again with the same ids.
//!
//! The file sinks ([`NdjsonSink`], [`DirectorySink`]) acknowledge only what is as durable as
//! their [`Durability`] says (by default `fsync`ed when the output is kept across runs, as a
//! durable state store needs), write each batch whole even when the future writing it is
//! dropped, and repair a last line torn by the end of a process before they append. In group
//! mode ([`NdjsonSink::append_grouped`] with a
//! [group-committing](crate::state::FileStateStore::group_commit) file state) the NDJSON sink
//! acknowledges a batch once the operating system has it, and the state store makes the
//! output durable (through [`DurableOutput`]) before its journal claims the batch.

mod append;
mod channel;
mod directory;
mod line;
mod memory;
mod ndjson;

use std::sync::Arc;

use async_trait::async_trait;

use crate::document::Document;
use crate::error::Result;

pub use append::{Durability, DurableOutput, OutputMark};
pub use channel::{Ack, ChannelSink, SinkEvent};
pub use directory::DirectorySink;
pub use memory::MemorySink;
pub use ndjson::NdjsonSink;

/// Where documents go. Third parties implement it for their index.
///
/// A batch arrives as a borrowed slice: the batch loop hands the sink a window of the source's
/// own page instead of moving every document into a vector of its own (that move was the
/// largest part of the loop's cost). A sink that must keep documents past the call clones
/// them, as [`ChannelSink`] does; most serialise or index them in place.
///
/// A sink for a host's own index:
///
/// ```
/// use connector_core::reexports::async_trait;
/// use connector_core::sink::Sink;
/// use connector_core::{Document, Result};
///
/// /// Upserts each document's text under its id (a stand-in for a search index).
/// struct Index(std::sync::Mutex<std::collections::HashMap<String, String>>);
///
/// #[async_trait]
/// impl Sink for Index {
///     async fn write(&self, documents: &[Document]) -> Result<()> {
///         let mut index = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         for doc in documents {
///             let text = String::from_utf8_lossy(doc.content.as_bytes()).into_owned();
///             index.insert(doc.id.clone(), text);
///         }
///         Ok(()) // stored: the batch loop may now commit this batch
///     }
///
///     async fn delete(&self, ids: &[String]) -> Result<()> {
///         let mut index = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         for id in ids {
///             index.remove(id);
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// # Contract
/// - `write` returns `Ok` only once the batch is stored (or handed on durably); the batch loop
///   commits progress after that and never before.
/// - A batch holds at most the loop's `batch_docs` documents and, unless one document alone
///   is larger, at most `batch_bytes` of content; it is never empty.
/// - Writes upsert by [`Document::id`](crate::Document::id): the same id delivered twice is one
///   document.
/// - `delete` of an id the sink does not hold is not an error.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Stores `documents`, one batch, in the source's order.
    ///
    /// # Errors
    /// Any error: the batch loop stops, commits nothing of this batch and reports
    /// [`ErrorKind::Sink`](crate::ErrorKind::Sink).
    async fn write(&self, documents: &[Document]) -> Result<()>;

    /// Deletes documents by id: what prune found gone, and what the source reported deleted in
    /// its pages ([`Batch::deleted`](crate::Batch::deleted)). Ids the sink never held are
    /// to be ignored, and a deletion may be repeated after a resume.
    ///
    /// # Errors
    /// Any error: the prune or the run stops and the ids stay known to the state store.
    async fn delete(&self, ids: &[String]) -> Result<()>;

    /// Whether this sink reads [`Content::Spooled`](crate::Content::Spooled) bodies from
    /// their file (a body too large for memory; [`Content::as_bytes`](crate::Content::as_bytes)
    /// is empty for one). Default `false`: the batch loop then never hands it one, it reports
    /// each such document as a [`Failure`](crate::Failure) of kind
    /// [`Unsupported`](crate::ErrorKind::Unsupported) naming it, and the sync goes on (the
    /// failure is retried next run, as every failure is). Core's sinks all take them.
    fn takes_spooled(&self) -> bool {
        false
    }
}

#[async_trait]
impl<S: Sink + ?Sized> Sink for Arc<S> {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        (**self).write(documents).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        (**self).delete(ids).await
    }
    fn takes_spooled(&self) -> bool {
        (**self).takes_spooled()
    }
}

#[async_trait]
impl<S: Sink + ?Sized> Sink for Box<S> {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        (**self).write(documents).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        (**self).delete(ids).await
    }
    fn takes_spooled(&self) -> bool {
        (**self).takes_spooled()
    }
}

/// A sink that drops everything, for benchmarks and dry runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink;

#[async_trait]
impl Sink for DiscardSink {
    async fn write(&self, _documents: &[Document]) -> Result<()> {
        Ok(())
    }

    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
    fn takes_spooled(&self) -> bool {
        true
    }
}
