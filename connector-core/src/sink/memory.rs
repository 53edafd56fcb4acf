use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::Sink;
use crate::document::{Content, Document};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Default)]
struct Inner {
    documents: BTreeMap<String, Document>,
    deliveries: Vec<Vec<String>>,
    deleted: Vec<String>,
}

/// Keeps documents in memory, keyed by id, and remembers every delivery. For tests and small
/// embedded uses. Clones share the same storage. A spooled body
/// ([`Content::Spooled`](crate::Content::Spooled)) is read into memory and kept as
/// [`Content::Bytes`](crate::Content::Bytes).
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<Inner>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps half-updated in a way that
        // matters more than losing the test that panicked, so recover the data.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The documents held now, sorted by id.
    pub fn documents(&self) -> Vec<Document> {
        self.lock().documents.values().cloned().collect()
    }

    /// The document with this id.
    pub fn get(&self, id: &str) -> Option<Document> {
        self.lock().documents.get(id).cloned()
    }

    /// The ids held now, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.lock().documents.keys().cloned().collect()
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        self.lock().documents.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of every acknowledged write, one list per batch, in order.
    pub fn deliveries(&self) -> Vec<Vec<String>> {
        self.lock().deliveries.clone()
    }

    /// Every id deleted, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        // A spooled body is read into memory (this sink is memory): what it holds is
        // `Content::Bytes`, and the spool file goes once the loop drops its document.
        let mut read = Vec::new();
        for (n, doc) in documents.iter().enumerate() {
            if let Content::Spooled {
                body,
                mime,
                extension,
            } = &doc.content
            {
                let data = body.read_all().await.map_err(|e| {
                    Error::new(ErrorKind::Sink, "cannot read a spooled body")
                        .with_item(doc.id.clone())
                        .with_cause(e)
                })?;
                let mut doc = doc.clone();
                doc.content = Content::Bytes {
                    data,
                    mime: mime.clone(),
                    extension: extension.clone(),
                };
                read.push((n, doc));
            }
        }
        let mut read = read.into_iter().peekable();
        let mut inner = self.lock();
        inner
            .deliveries
            .push(documents.iter().map(|d| d.id.clone()).collect());
        for (n, doc) in documents.iter().enumerate() {
            let doc = match read.next_if(|(at, _)| *at == n) {
                Some((_, doc)) => doc,
                None => doc.clone(),
            };
            inner.documents.insert(doc.id.clone(), doc);
        }
        Ok(())
    }

    fn takes_spooled(&self) -> bool {
        true
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        let mut inner = self.lock();
        for id in ids {
            inner.documents.remove(id);
            inner.deleted.push(id.clone());
        }
        Ok(())
    }
}
